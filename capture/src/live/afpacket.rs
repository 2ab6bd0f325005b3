//! AF_PACKET raw-socket backend: the fallback when XDP cannot be attached.
//!
//! One `SOCK_RAW` packet socket bound to the interface, non-blocking, with kernel receive
//! timestamps (`SO_TIMESTAMPNS`, CLOCK_REALTIME) and `PACKET_IGNORE_OUTGOING` (ingress only,
//! like XDP; on `lo` this also removes the duplicate outgoing copy of every packet).
//! Drops come from `PACKET_STATISTICS`, which the kernel resets on every read: we add them
//! up. One `recvmsg` per frame with `MSG_TRUNC`, so only `snaplen` bytes are copied but the
//! wire length is still reported.

use std::cell::Cell;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use super::error::{is_permission_errno, LiveError};
use super::{LiveCounters, LiveFrame, LiveOptions};
use crate::LinkType;

/// Frames handled per `poll` call at most, so a flood cannot keep one call running.
const MAX_DRAIN: usize = 65_536;

/// Socket receive buffer asked for: room for ~100 ms of a 300 kpps flood of small frames
/// (each queued skb costs its truesize, ~1 KiB, not its length).
const RCVBUF_BYTES: libc::c_int = 32 << 20;

/// `PACKET_IGNORE_OUTGOING` (Linux ≥ 4.20).
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

pub(crate) struct AfPacketCapture {
    fd: OwnedFd,
    iface: String,
    link: LinkType,
    buf: Vec<u8>,
    /// True when the kernel did not accept PACKET_IGNORE_OUTGOING: skip outgoing ourselves.
    filter_outgoing: bool,
    bytes: u64,
    kernel_packets: Cell<u64>,
    kernel_drops: Cell<u64>,
}

/// Interface index of `iface`.
pub(crate) fn ifindex(iface: &str) -> Result<u32, LiveError> {
    let c = std::ffi::CString::new(iface)
        .map_err(|_| LiveError::BadOptions(format!("interface name {iface:?} contains NUL")))?;
    // SAFETY: c is a valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        return Err(LiveError::NoInterface {
            iface: iface.to_string(),
        });
    }
    Ok(idx)
}

/// Link type of frames on `iface`, from its ARPHRD type in sysfs.
pub(crate) fn link_type(iface: &str) -> LinkType {
    let t = std::fs::read_to_string(format!("/sys/class/net/{iface}/type"))
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    match t {
        // ARPHRD_NONE (tun, wireguard), ARPHRD_RAWIP: frames start at the IP header.
        Some(0xfffe) | Some(519) => LinkType::Raw,
        // ARPHRD_ETHER, ARPHRD_LOOPBACK (lo carries a zeroed Ethernet header), unknown.
        _ => LinkType::Ethernet,
    }
}

fn io_err(what: &'static str, iface: &str, e: io::Error, privilege: &'static str) -> LiveError {
    if is_permission_errno(&e) {
        LiveError::Privilege {
            what,
            iface: iface.to_string(),
            privilege,
            source: e,
        }
    } else {
        LiveError::Io {
            what,
            iface: iface.to_string(),
            source: e,
        }
    }
}

fn setsockopt_int(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    val: libc::c_int,
) -> io::Result<()> {
    // SAFETY: passes a pointer to a live c_int and its size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&val as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Holds an interface in promiscuous mode: a packet socket (protocol 0, so it receives
/// nothing) with a `PACKET_MR_PROMISC` membership, which the kernel reference-counts and
/// drops when the socket closes, also if the process dies.
pub(crate) struct PromiscuousGuard {
    _fd: OwnedFd,
}

impl PromiscuousGuard {
    pub(crate) fn set(ifindex: u32) -> io::Result<Self> {
        // SAFETY: plain socket(2) call.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: raw is a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: packet_mreq is plain data; zero is a valid start.
        let mut mreq: libc::packet_mreq = unsafe { zeroed() };
        mreq.mr_ifindex = ifindex as i32;
        mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
        // SAFETY: mreq is a valid packet_mreq of the size given.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                (&mreq as *const libc::packet_mreq).cast(),
                size_of::<libc::packet_mreq>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(PromiscuousGuard { _fd: fd })
    }
}

impl AfPacketCapture {
    pub(crate) fn open(opts: &LiveOptions, ifindex: u32) -> Result<Self, LiveError> {
        let iface = opts.iface.as_str();
        // Protocol 0 at creation: the socket receives nothing until bind() sets ETH_P_ALL
        // on this one interface, so no frame of another interface can slip in before.
        // SAFETY: plain socket(2) call.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if raw < 0 {
            return Err(io_err(
                "opening an AF_PACKET socket",
                iface,
                io::Error::last_os_error(),
                "CAP_NET_RAW",
            ));
        }
        // SAFETY: raw is a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        // Best effort: a bigger queue means fewer drops; FORCE needs CAP_NET_ADMIN.
        if setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, RCVBUF_BYTES).is_err() {
            let _ignored = setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, RCVBUF_BYTES);
        }
        setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1)
            .map_err(|e| io_err("enabling SO_TIMESTAMPNS", iface, e, "CAP_NET_RAW"))?;
        let filter_outgoing =
            setsockopt_int(&fd, libc::SOL_PACKET, PACKET_IGNORE_OUTGOING, 1).is_err();

        // SAFETY: sockaddr_ll is plain data; zero is a valid start.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: sll is a valid sockaddr_ll of the size given.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io_err(
                "binding the AF_PACKET socket",
                iface,
                io::Error::last_os_error(),
                "CAP_NET_RAW",
            ));
        }
        let cap = AfPacketCapture {
            fd,
            iface: iface.to_string(),
            link: link_type(iface),
            buf: vec![0u8; opts.snaplen as usize],
            filter_outgoing,
            bytes: 0,
            kernel_packets: Cell::new(0),
            kernel_drops: Cell::new(0),
        };
        // Reset the kernel's statistics: counting starts now.
        cap.read_stats();
        cap.kernel_packets.set(0);
        cap.kernel_drops.set(0);
        Ok(cap)
    }

    /// Adds the kernel's counts since the last read (the read resets them).
    fn read_stats(&self) {
        // SAFETY: tpacket_stats is plain data.
        let mut st: libc::tpacket_stats = unsafe { zeroed() };
        let mut len = size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: st/len describe a writable tpacket_stats.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut libc::tpacket_stats).cast(),
                &mut len,
            )
        };
        if rc == 0 {
            // tp_packets already includes tp_drops.
            self.kernel_packets
                .set(self.kernel_packets.get() + u64::from(st.tp_packets));
            self.kernel_drops
                .set(self.kernel_drops.get() + u64::from(st.tp_drops));
        }
    }

    pub(crate) fn counters(&self) -> LiveCounters {
        self.read_stats();
        LiveCounters {
            packets: self.kernel_packets.get(),
            // The kernel does not report dropped frames' sizes: bytes of received frames.
            bytes: self.bytes,
            lost_events: self.kernel_drops.get(),
            delivered: 0,
        }
    }

    /// Receives one frame without blocking. Ok(None) when the queue is empty.
    fn recv_one(&mut self) -> Result<Option<(u64, u32, usize, bool)>, LiveError> {
        let mut iov = libc::iovec {
            iov_base: self.buf.as_mut_ptr().cast(),
            iov_len: self.buf.len(),
        };
        // u64 array: cmsg buffers must be aligned for cmsghdr.
        let mut control = [0u64; 16];
        // SAFETY: plain data.
        let mut from: libc::sockaddr_ll = unsafe { zeroed() };
        // SAFETY: plain data.
        let mut msg: libc::msghdr = unsafe { zeroed() };
        msg.msg_name = (&mut from as *mut libc::sockaddr_ll).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of::<[u64; 16]>();
        // SAFETY: msg points at live buffers of the stated sizes.
        let n = unsafe {
            libc::recvmsg(
                self.fd.as_raw_fd(),
                &mut msg,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(None),
                _ => Err(io_err(
                    "receiving from the AF_PACKET socket",
                    &self.iface,
                    e,
                    "CAP_NET_RAW",
                )),
            };
        }
        let wire_len = u32::try_from(n).unwrap_or(u32::MAX);
        let caplen = (n as usize).min(self.buf.len());
        let outgoing = from.sll_pkttype == libc::PACKET_OUTGOING;
        let mut ts_ns = 0u64;
        // SAFETY: msg was filled in by recvmsg; the CMSG_* macros stay within msg_controllen.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                    ts_ns = (ts.tv_sec as u64)
                        .saturating_mul(1_000_000_000)
                        .saturating_add(ts.tv_nsec as u64);
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        if ts_ns == 0 {
            // No kernel stamp (should not happen with SO_TIMESTAMPNS): receive time.
            ts_ns = super::clock::now_ns(libc::CLOCK_REALTIME);
        }
        Ok(Some((ts_ns, wire_len, caplen, outgoing)))
    }

    pub(crate) fn poll(
        &mut self,
        timeout: Duration,
        f: &mut dyn FnMut(&LiveFrame<'_>),
    ) -> Result<usize, LiveError> {
        let deadline = Instant::now() + timeout;
        let mut delivered = 0usize;
        loop {
            while delivered < MAX_DRAIN {
                let Some((ts_ns, wire_len, caplen, outgoing)) = self.recv_one()? else {
                    break;
                };
                if outgoing && self.filter_outgoing {
                    continue;
                }
                self.bytes += u64::from(wire_len);
                let frame = LiveFrame {
                    ts_ns,
                    wire_len,
                    data: &self.buf[..caplen],
                    link: self.link,
                };
                f(&frame);
                delivered += 1;
            }
            if delivered > 0 {
                return Ok(delivered);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(0);
            }
            let left = deadline - now;
            let ts = libc::timespec {
                tv_sec: left.as_secs() as libc::time_t,
                tv_nsec: libc::c_long::from(left.subsec_nanos() as i32),
            };
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, a valid timespec, no signal mask.
            let rc = unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EINTR) {
                    return Err(io_err(
                        "waiting on the AF_PACKET socket",
                        &self.iface,
                        e,
                        "CAP_NET_RAW",
                    ));
                }
            }
        }
    }
}
