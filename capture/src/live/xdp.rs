//! XDP backend: loads bpf/xdp_sensor.c (compiled by build.rs) with aya, attaches it in
//! driver or generic (SKB) mode and drains its ring buffer.
//!
//! Event layout (see the C file): `ts_ns: u64, wire_len: u32, caplen: u16, _pad: u16,
//! data: [u8; 128]`, native (little-endian) byte order.
//!
//! Reading: the program wakes the reader only when ≥ 256 KiB are waiting; otherwise the
//! reader finds events when its poll times out, at most [`READER_TICK`] later. That keeps
//! the per-packet cost on the sender low (see docs/BENCHMARKS.md, "XDP sensor").

#[cfg(has_xdp)]
pub(crate) use imp::XdpCapture;
#[cfg(not(has_xdp))]
pub(crate) use stub::XdpCapture;

/// How often the reader looks at the ring buffer when the kernel did not wake it.
#[cfg_attr(not(has_xdp), allow(dead_code))]
pub const READER_TICK: std::time::Duration = std::time::Duration::from_millis(10);

/// Ring-buffer size: 16 MiB holds ~110k events of 152 bytes, ~0.35 s of a 300 kpps flood,
/// far more than the reader's 10 ms tick.
#[cfg_attr(not(has_xdp), allow(dead_code))]
pub const RING_BYTES: u32 = 16 << 20;

/// Size of one event as the kernel writes it.
#[cfg_attr(not(has_xdp), allow(dead_code))]
pub(crate) const EVENT_HEADER: usize = 16;

/// Parses one ring-buffer record into (ts_ns monotonic, wire_len, frame bytes).
/// None when the record is shorter than its header says (never trusted blindly).
#[cfg_attr(not(has_xdp), allow(dead_code))]
pub(crate) fn parse_event(rec: &[u8]) -> Option<(u64, u32, &[u8])> {
    let ts = u64::from_ne_bytes(rec.get(0..8)?.try_into().ok()?);
    let wire_len = u32::from_ne_bytes(rec.get(8..12)?.try_into().ok()?);
    let caplen = u16::from_ne_bytes(rec.get(12..14)?.try_into().ok()?) as usize;
    let data = rec.get(EVENT_HEADER..EVENT_HEADER + caplen)?;
    Some((ts, wire_len, data))
}

#[cfg(not(has_xdp))]
mod stub {
    use std::time::Duration;

    use super::super::error::LiveError;
    use super::super::{LiveCounters, LiveFrame, LiveOptions};

    pub(crate) enum XdpCapture {}

    impl XdpCapture {
        pub(crate) fn open(_: &LiveOptions, _: u32, _: bool) -> Result<Self, LiveError> {
            Err(LiveError::XdpUnavailable(
                env!("CAPTURE_XDP_BUILD_NOTE").to_string(),
            ))
        }
        pub(crate) fn poll(
            &mut self,
            _: Duration,
            _: &mut dyn FnMut(&LiveFrame<'_>),
        ) -> Result<usize, LiveError> {
            match *self {}
        }
        pub(crate) fn counters(&self) -> LiveCounters {
            match *self {}
        }
    }
}

#[cfg(has_xdp)]
mod imp {
    use std::io;
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};

    use aya::maps::{MapData, PerCpuArray, RingBuf};
    use aya::programs::{Xdp, XdpMode};
    use aya::{Ebpf, EbpfLoader};

    use super::super::error::LiveError;
    use super::super::{afpacket, clock, LiveCounters, LiveFrame, LiveOptions};
    use super::{parse_event, READER_TICK, RING_BYTES};
    use crate::LinkType;

    /// The BPF object, 8-byte aligned as the ELF parser requires.
    static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/xdp_sensor.o"));

    /// Events handled per `poll` call at most (one ring buffer's worth), so a flood cannot
    /// keep one call running.
    const MAX_DRAIN: usize = 131_072;

    /// Per-CPU counters, same layout as `struct stats` in the C program.
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Stats {
        packets: u64,
        bytes: u64,
        lost: u64,
        load_errors: u64,
    }
    // SAFETY: repr(C), only u64 fields, no padding; any bit pattern is valid.
    unsafe impl aya::Pod for Stats {}

    pub(crate) struct XdpCapture {
        ring: RingBuf<MapData>,
        stats: PerCpuArray<MapData, Stats>,
        /// Owns the program and its bpf_link: dropping it detaches from the interface
        /// (and a killed process detaches too, the link dies with its fd).
        _ebpf: Ebpf,
        iface: String,
        link: LinkType,
        /// CLOCK_REALTIME − CLOCK_MONOTONIC at open (see `clock`).
        offset_ns: u64,
    }

    /// The first OS error in an error's source chain.
    fn os_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a io::Error> {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = cur {
            if let Some(io) = err.downcast_ref::<io::Error>() {
                return Some(io);
            }
            cur = err.source();
        }
        None
    }

    /// Full message of an error and its sources.
    fn chain(e: &(dyn std::error::Error + 'static)) -> String {
        let mut s = e.to_string();
        let mut cur = e.source();
        while let Some(err) = cur {
            let m = err.to_string();
            if !s.contains(&m) {
                s.push_str(": ");
                s.push_str(&m);
            }
            cur = err.source();
        }
        s
    }

    fn fail(
        step: &str,
        iface: &str,
        what: &'static str,
        e: &(dyn std::error::Error + 'static),
    ) -> LiveError {
        // Only EPERM means "not allowed" here: the verifier rejects a program with EACCES.
        if let Some(io) = os_error(e).filter(|io| io.raw_os_error() == Some(libc::EPERM)) {
            return LiveError::Privilege {
                what,
                iface: iface.to_string(),
                privilege: "CAP_BPF and CAP_NET_ADMIN",
                source: io::Error::from_raw_os_error(io.raw_os_error().unwrap_or(libc::EPERM)),
            };
        }
        let mut detail = chain(e);
        // Verifier logs can be long: the reason is at the end.
        if detail.len() > 600 {
            let cut = detail.len() - 600;
            let cut = (cut..detail.len())
                .find(|&i| detail.is_char_boundary(i))
                .unwrap_or(cut);
            detail = format!("…{}", &detail[cut..]);
        }
        LiveError::Xdp {
            step: step.to_string(),
            iface: iface.to_string(),
            detail,
        }
    }

    /// Raises RLIMIT_MEMLOCK for kernels that still charge BPF maps against it (< 5.11).
    /// Newer kernels account BPF memory to the cgroup; failure is not an error.
    fn raise_memlock() {
        let lim = libc::rlimit {
            rlim_cur: libc::RLIM_INFINITY,
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: valid rlimit struct.
        let _ignored = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) };
    }

    impl XdpCapture {
        pub(crate) fn open(
            opts: &LiveOptions,
            ifindex: u32,
            driver: bool,
        ) -> Result<Self, LiveError> {
            let iface = opts.iface.as_str();
            raise_memlock();
            let snaplen: u32 = opts.snaplen;
            let mut ebpf = EbpfLoader::new()
                .override_global("snaplen", &snaplen, true)
                .map_max_entries("EVENTS", RING_BYTES)
                .load(OBJECT)
                .map_err(|e| fail("load", iface, "loading the XDP program", &e))?;
            let prog: &mut Xdp = ebpf
                .program_mut("xdp_sensor")
                .ok_or_else(|| LiveError::Xdp {
                    step: "load".into(),
                    iface: iface.to_string(),
                    detail: "program xdp_sensor missing from the BPF object".into(),
                })?
                .try_into()
                .map_err(|e| fail("load", iface, "loading the XDP program", &e))?;
            prog.load()
                .map_err(|e| fail("verify/load", iface, "loading the XDP program", &e))?;
            let (mode, step) = if driver {
                (XdpMode::Driver, "attach in driver mode")
            } else {
                (XdpMode::Skb, "attach in generic (SKB) mode")
            };
            prog.attach_to_if_index(ifindex, mode)
                .map_err(|e| fail(step, iface, "attaching the XDP program", &e))?;
            let missing = |name: &str| LiveError::Xdp {
                step: "map setup".into(),
                iface: iface.to_string(),
                detail: format!("map {name} missing from the BPF object"),
            };
            let ring_map = ebpf.take_map("EVENTS").ok_or_else(|| missing("EVENTS"))?;
            let ring = RingBuf::try_from(ring_map)
                .map_err(|e| fail("map setup", iface, "mapping the ring buffer", &e))?;
            let stats_map = ebpf.take_map("STATS").ok_or_else(|| missing("STATS"))?;
            let stats = PerCpuArray::try_from(stats_map)
                .map_err(|e| fail("map setup", iface, "reading the XDP counters", &e))?;
            Ok(XdpCapture {
                ring,
                stats,
                _ebpf: ebpf,
                iface: iface.to_string(),
                link: afpacket::link_type(iface),
                offset_ns: clock::realtime_offset_ns(),
            })
        }

        fn drain(&mut self, f: &mut dyn FnMut(&LiveFrame<'_>), delivered: &mut usize) {
            while *delivered < MAX_DRAIN {
                let Some(item) = self.ring.next() else {
                    break;
                };
                // A malformed record cannot come from our program; skip it rather than
                // trust its lengths.
                if let Some((ts, wire_len, data)) = parse_event(&item) {
                    let frame = LiveFrame {
                        ts_ns: ts.saturating_add(self.offset_ns),
                        wire_len,
                        data,
                        link: self.link,
                    };
                    f(&frame);
                    *delivered += 1;
                }
            }
        }

        pub(crate) fn poll(
            &mut self,
            timeout: Duration,
            f: &mut dyn FnMut(&LiveFrame<'_>),
        ) -> Result<usize, LiveError> {
            let deadline = Instant::now() + timeout;
            let mut delivered = 0usize;
            loop {
                self.drain(f, &mut delivered);
                if delivered > 0 {
                    return Ok(delivered);
                }
                let now = Instant::now();
                if now >= deadline {
                    return Ok(0);
                }
                // Sleep until woken (≥ 256 KiB waiting) or the reader tick, whichever
                // first: batched wake-ups leave small amounts for the tick to pick up.
                let wait = (deadline - now).min(READER_TICK);
                let ts = libc::timespec {
                    tv_sec: wait.as_secs() as libc::time_t,
                    tv_nsec: libc::c_long::from(wait.subsec_nanos() as i32),
                };
                let mut pfd = libc::pollfd {
                    fd: self.ring.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd, a valid timespec, no signal mask.
                let rc = unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
                if rc < 0 {
                    let e = io::Error::last_os_error();
                    if e.raw_os_error() != Some(libc::EINTR) {
                        return Err(LiveError::Io {
                            what: "waiting on the XDP ring buffer",
                            iface: self.iface.clone(),
                            source: e,
                        });
                    }
                }
            }
        }

        pub(crate) fn counters(&self) -> LiveCounters {
            let mut c = LiveCounters::default();
            if let Ok(values) = self.stats.get(&0, 0) {
                for v in values.iter() {
                    c.packets += v.packets;
                    c.bytes += v.bytes;
                    c.lost_events += v.lost;
                }
            }
            c
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_event_checks_lengths() {
        let mut rec = vec![0u8; EVENT_HEADER + 128];
        rec[0..8].copy_from_slice(&5u64.to_ne_bytes());
        rec[8..12].copy_from_slice(&60u32.to_ne_bytes());
        rec[12..14].copy_from_slice(&60u16.to_ne_bytes());
        let (ts, wl, d) = parse_event(&rec).unwrap();
        assert_eq!((ts, wl, d.len()), (5, 60, 60));
        // caplen beyond the record: rejected, not sliced out of bounds.
        rec[12..14].copy_from_slice(&200u16.to_ne_bytes());
        assert!(parse_event(&rec).is_none());
        assert!(parse_event(&rec[..10]).is_none());
    }
}
