//! Live capture from a network interface: XDP (driver or generic mode) or AF_PACKET.
//!
//! [`LiveCapture::open`] tries the backends in order (for [`BackendChoice::Auto`]: XDP in
//! driver mode → XDP in generic/SKB mode → an AF_PACKET raw socket), remembers why each
//! step failed ([`LiveCapture::fallbacks`]) and hands every captured frame to a callback
//! as a [`LiveFrame`]: the first `snaplen` bytes from the link header, the wire length and
//! a kernel timestamp in ns since the Unix epoch. Callers decode frames with
//! [`crate::decode_frame`], the same decoder the file readers use, so live and offline
//! records are identical by construction.
//!
//! What each backend sees: **ingress only**. XDP runs on the receive path, so it never
//! sees packets the host sends out of the interface; the AF_PACKET backend sets
//! `PACKET_IGNORE_OUTGOING` so that falling back does not change what is counted. On `lo`
//! this is also what makes the counts match tcpdump: the kernel shows every loopback
//! packet to packet sockets twice (once outgoing, once incoming) and libpcap hides the
//! outgoing copy.
//!
//! Timestamps: XDP events carry `bpf_ktime_get_ns()` (CLOCK_MONOTONIC). They are turned
//! into Unix time by adding `CLOCK_REALTIME − CLOCK_MONOTONIC` measured once at
//! [`LiveCapture::open`] (see [`clock`]); a later step of the wall clock (NTP, `date -s`)
//! is therefore not reflected, which keeps event time monotonic for the window engine.
//! AF_PACKET frames carry the kernel's receive timestamp (`SO_TIMESTAMPNS`), already
//! CLOCK_REALTIME.
//!
//! Lost events are never silent: XDP counts ring-buffer reserve failures per CPU in the
//! kernel, AF_PACKET reports socket-queue drops (`PACKET_STATISTICS`); both end in
//! [`LiveCounters::lost_events`].

mod afpacket;
pub mod clock;
mod error;
mod xdp;

use std::time::Duration;

pub use error::LiveError;

use crate::LinkType;

/// The capture mechanism in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// XDP program attached in native (driver) mode.
    XdpDriver,
    /// XDP program attached in generic (SKB) mode: works on every interface, `lo` included.
    XdpSkb,
    /// AF_PACKET raw socket bound to the interface.
    AfPacket,
}

impl Backend {
    /// Stable name for `/ready`, metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            Backend::XdpDriver => "xdp-driver",
            Backend::XdpSkb => "xdp-skb",
            Backend::AfPacket => "afpacket",
        }
    }
}

/// Which backend(s) [`LiveCapture::open`] may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// XDP driver → XDP SKB → AF_PACKET.
    #[default]
    Auto,
    /// XDP driver → XDP SKB (no AF_PACKET fallback).
    Xdp,
    /// XDP in driver mode only.
    XdpDriver,
    /// XDP in generic (SKB) mode only.
    XdpSkb,
    /// AF_PACKET only.
    AfPacket,
}

impl BackendChoice {
    /// The backends to try, in order.
    fn order(self) -> &'static [Backend] {
        match self {
            BackendChoice::Auto => &[Backend::XdpDriver, Backend::XdpSkb, Backend::AfPacket],
            BackendChoice::Xdp => &[Backend::XdpDriver, Backend::XdpSkb],
            BackendChoice::XdpDriver => &[Backend::XdpDriver],
            BackendChoice::XdpSkb => &[Backend::XdpSkb],
            BackendChoice::AfPacket => &[Backend::AfPacket],
        }
    }
}

/// Largest snap length the XDP program supports (its event has a fixed-size buffer).
pub const MAX_SNAPLEN: u32 = 128;

/// Default snap length: enough for Ethernet + VLAN tags + IPv6 + extension headers + TCP
/// with options; features only need headers.
pub const DEFAULT_SNAPLEN: u32 = 128;

/// What to capture and how.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Interface name (`lo`, `eth0`, `veth0`, ...).
    pub iface: String,
    /// Backend choice; [`BackendChoice::Auto`] falls back as described in the module docs.
    pub backend: BackendChoice,
    /// Bytes of each frame copied to user space (headers only; default 128, at most
    /// [`MAX_SNAPLEN`]).
    pub snaplen: u32,
    /// Put the interface in promiscuous mode while capturing (default), so a sensor on a
    /// SPAN/mirror port or a bridge sees frames addressed to other hosts, as tcpdump,
    /// Zeek and Suricata do. The kernel counts promiscuous users and drops ours when the
    /// capture closes; failing to set it is a note ([`LiveCapture::notes`]), not an
    /// error.
    pub promiscuous: bool,
}

impl LiveOptions {
    /// Options for `iface` with the automatic backend choice and the default snap length.
    pub fn new(iface: impl Into<String>) -> Self {
        LiveOptions {
            iface: iface.into(),
            backend: BackendChoice::Auto,
            snaplen: DEFAULT_SNAPLEN,
            promiscuous: true,
        }
    }
}

/// One captured frame, borrowed for the duration of the callback.
#[derive(Clone, Copy, Debug)]
pub struct LiveFrame<'a> {
    /// Kernel timestamp converted to ns since the Unix epoch (CLOCK_REALTIME base).
    pub ts_ns: u64,
    /// Length of the frame on the wire.
    pub wire_len: u32,
    /// The first min(snaplen, wire_len) bytes of the frame, starting at the link header.
    pub data: &'a [u8],
    /// Link type of `data` (Ethernet for XDP/AF_PACKET on ethernet/veth/lo).
    pub link: LinkType,
}

/// Running totals since [`LiveCapture::open`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveCounters {
    /// Packets seen by the kernel program / socket (lost ones included).
    pub packets: u64,
    /// Wire bytes of those packets.
    pub bytes: u64,
    /// Packets seen but not delivered: ring-buffer reserve failures (XDP) or socket-queue
    /// drops (AF_PACKET). Never silent.
    pub lost_events: u64,
    /// Frames handed to the [`LiveCapture::poll`] callback.
    pub delivered: u64,
}

// Boxed: the XDP state is ~10x the socket's, and one LiveCapture exists per interface.
enum Inner {
    Xdp(Box<xdp::XdpCapture>),
    AfPacket(afpacket::AfPacketCapture),
}

/// An open live capture. Dropping it detaches the XDP program / closes the socket (and
/// with it our promiscuous-mode membership).
pub struct LiveCapture {
    inner: Inner,
    backend: Backend,
    fallbacks: Vec<String>,
    notes: Vec<String>,
    delivered: u64,
    // Held for its side effect: the interface stays promiscuous while it is open.
    _promiscuous: Option<afpacket::PromiscuousGuard>,
}

impl LiveCapture {
    /// Tries the backends in order (Auto: XDP driver → XDP SKB → AF_PACKET), remembering why
    /// each failed; errors name the missing privilege (CAP_BPF/CAP_NET_ADMIN/CAP_NET_RAW).
    pub fn open(opts: &LiveOptions) -> Result<LiveCapture, LiveError> {
        if opts.iface.is_empty() || opts.iface.len() >= libc::IFNAMSIZ || opts.iface.contains('\0')
        {
            return Err(LiveError::BadOptions(format!(
                "interface name {:?} is not a valid Linux interface name",
                opts.iface
            )));
        }
        if opts.snaplen == 0 || opts.snaplen > MAX_SNAPLEN {
            return Err(LiveError::BadOptions(format!(
                "snaplen {} is out of range 1..={MAX_SNAPLEN}",
                opts.snaplen
            )));
        }
        let ifindex = afpacket::ifindex(&opts.iface)?;
        let mut notes = Vec::new();
        let promiscuous = if opts.promiscuous {
            match afpacket::PromiscuousGuard::set(ifindex) {
                Ok(g) => Some(g),
                Err(e) => {
                    notes.push(format!(
                        "promiscuous mode not set on {} ({e}): only frames addressed to this host are seen",
                        opts.iface
                    ));
                    None
                }
            }
        } else {
            None
        };
        let mut fallbacks = Vec::new();
        let mut errors = Vec::new();
        for &backend in opts.backend.order() {
            let opened = match backend {
                Backend::XdpDriver => {
                    xdp::XdpCapture::open(opts, ifindex, true).map(|x| Inner::Xdp(Box::new(x)))
                }
                Backend::XdpSkb => {
                    xdp::XdpCapture::open(opts, ifindex, false).map(|x| Inner::Xdp(Box::new(x)))
                }
                Backend::AfPacket => {
                    afpacket::AfPacketCapture::open(opts, ifindex).map(Inner::AfPacket)
                }
            };
            match opened {
                Ok(inner) => {
                    return Ok(LiveCapture {
                        inner,
                        backend,
                        fallbacks,
                        notes,
                        delivered: 0,
                        _promiscuous: promiscuous,
                    })
                }
                Err(e) => {
                    fallbacks.push(format!("{}: {e}", backend.name()));
                    errors.push(e);
                }
            }
        }
        // One backend tried: its own error. Several: all of them, privileges named.
        if errors.len() == 1 {
            if let Some(e) = errors.pop() {
                return Err(e);
            }
        }
        Err(LiveError::AllFailed {
            iface: opts.iface.clone(),
            reasons: fallbacks,
        })
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Human-readable reasons for each fallback taken (empty when the first choice worked).
    pub fn fallbacks(&self) -> &[String] {
        &self.fallbacks
    }

    /// Other things the caller should report (promiscuous mode that could not be set).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// True when this capture holds the interface in promiscuous mode.
    pub fn is_promiscuous(&self) -> bool {
        self._promiscuous.is_some()
    }

    /// Waits up to `timeout` for frames and calls `f` once per frame (in arrival order).
    /// Returns the number of frames delivered. Never blocks longer than `timeout`.
    ///
    /// Returns as soon as at least one frame was delivered (after draining what is
    /// already queued, bounded so a flood cannot keep one call going forever).
    pub fn poll(
        &mut self,
        timeout: Duration,
        f: &mut dyn FnMut(&LiveFrame<'_>),
    ) -> Result<usize, LiveError> {
        let n = match &mut self.inner {
            Inner::Xdp(x) => x.poll(timeout, f)?,
            Inner::AfPacket(a) => a.poll(timeout, f)?,
        };
        self.delivered += n as u64;
        Ok(n)
    }

    /// Current totals (kernel per-CPU counters summed for XDP; PACKET_STATISTICS for AF_PACKET).
    pub fn counters(&self) -> LiveCounters {
        let mut c = match &self.inner {
            Inner::Xdp(x) => x.counters(),
            Inner::AfPacket(a) => a.counters(),
        };
        c.delivered = self.delivered;
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}

    #[test]
    fn live_capture_is_send() {
        // The workbench runs the capture on its own thread.
        assert_send::<LiveCapture>();
    }

    #[test]
    fn backend_names_are_stable() {
        assert_eq!(Backend::XdpDriver.name(), "xdp-driver");
        assert_eq!(Backend::XdpSkb.name(), "xdp-skb");
        assert_eq!(Backend::AfPacket.name(), "afpacket");
    }

    #[test]
    fn bad_options_are_rejected_before_touching_the_kernel() {
        let mut o = LiveOptions::new("lo");
        o.snaplen = 0;
        assert!(matches!(
            LiveCapture::open(&o),
            Err(LiveError::BadOptions(_))
        ));
        o.snaplen = MAX_SNAPLEN + 1;
        assert!(matches!(
            LiveCapture::open(&o),
            Err(LiveError::BadOptions(_))
        ));
        let o = LiveOptions::new("x".repeat(40));
        assert!(matches!(
            LiveCapture::open(&o),
            Err(LiveError::BadOptions(_))
        ));
        let o = LiveOptions::new("wbnosuchif0");
        let e = LiveCapture::open(&o)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("wbnosuchif0"), "{e}");
    }
}
