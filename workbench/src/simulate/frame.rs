//! Wire frames built by hand: Ethernet II + IPv4 + TCP/UDP/ICMP, checksums included.
//!
//! A [`Pkt`] describes a packet by its endpoints and transport fields; it becomes bytes
//! only when emitted ([`Pkt::render`]), so per-host state that follows wire order (IP id
//! counters, TCP timestamp clocks) is read at the moment the packet appears. Frames
//! shorter than 60 bytes are zero-padded as on a real Ethernet.

use std::net::Ipv4Addr;

use rand::{Rng, RngCore};

use super::net::{HostId, Net, Os};
use super::sim::SimRng;

pub(crate) const FIN: u8 = 0x01;
pub(crate) const SYN: u8 = 0x02;
pub(crate) const RST: u8 = 0x04;
pub(crate) const PSH: u8 = 0x08;
pub(crate) const ACK: u8 = 0x10;

pub(crate) const PROTO_ICMP: u8 = 1;
pub(crate) const PROTO_TCP: u8 = 6;
pub(crate) const PROTO_UDP: u8 = 17;

const ETH_HDR: usize = 14;
const IP_HDR: usize = 20;
const MIN_FRAME: usize = 60;

/// A packet endpoint: a known host, or a spoofed address with the TTL it arrives with.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ep {
    Host(HostId),
    Spoof(Ipv4Addr, u8),
}

/// How the IPv4 identification field is chosen.
#[derive(Clone, Copy, Debug)]
pub(crate) enum IpId {
    /// The sending host's incrementing counter (random for spoofed sources).
    Counter,
    /// Random per packet (nmap, masscan).
    Random,
    Fixed(u16),
}

/// Transport payload bytes.
#[derive(Clone, Debug)]
pub(crate) enum Payload {
    Empty,
    /// Random bytes (encrypted or compressed content).
    Random(u32),
    /// One repeated byte (flood tools' padding).
    Fill(u8, u32),
    Bytes(Box<[u8]>),
}

impl Payload {
    pub(crate) fn len(&self) -> usize {
        match self {
            Payload::Empty => 0,
            Payload::Random(n) | Payload::Fill(_, n) => *n as usize,
            Payload::Bytes(b) => b.len(),
        }
    }

    fn write(&self, dst: &mut [u8], rng: &mut SimRng) {
        match self {
            Payload::Empty => {}
            Payload::Random(_) => rng.fill_bytes(dst),
            Payload::Fill(b, _) => dst.fill(*b),
            Payload::Bytes(b) => dst.copy_from_slice(b),
        }
    }
}

/// TCP options, rendered for the sender's stack.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TcpOpt {
    None,
    /// The sender's OS SYN options (MSS, SACK, timestamps, window scale).
    Syn,
    /// SYN-ACK options; `ecr` is the client's TSval when it offered timestamps.
    SynAck {
        ecr: Option<u32>,
    },
    /// NOP, NOP, timestamps (sender's clock, echoing `ecr`).
    Ts {
        ecr: u32,
    },
    /// A lone MSS option (nmap's SYN probes).
    Mss(u16),
}

/// TCP header fields.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tcp {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub win: u16,
    pub opt: TcpOpt,
}

/// The transport header.
#[derive(Clone, Copy, Debug)]
pub(crate) enum L4 {
    Tcp(Tcp),
    Udp { sport: u16, dport: u16 },
    Icmp { typ: u8, code: u8, rest: [u8; 4] },
}

/// A packet waiting to be rendered.
#[derive(Clone, Debug)]
pub(crate) struct Pkt {
    pub src: Ep,
    pub dst: Ep,
    pub l4: L4,
    pub payload: Payload,
    pub df: bool,
    pub tos: u8,
    pub id: IpId,
    /// Initial TTL override (else the sender's OS default); hops are still subtracted.
    pub ttl0: Option<u8>,
}

impl Pkt {
    /// A TCP segment with DF set, as OS stacks send them.
    pub(crate) fn tcp(src: Ep, dst: Ep, tcp: Tcp, payload: Payload) -> Pkt {
        Pkt {
            src,
            dst,
            l4: L4::Tcp(tcp),
            payload,
            df: true,
            tos: 0,
            id: IpId::Counter,
            ttl0: None,
        }
    }

    /// A UDP datagram without DF.
    pub(crate) fn udp(src: Ep, dst: Ep, sport: u16, dport: u16, payload: Payload) -> Pkt {
        Pkt {
            src,
            dst,
            l4: L4::Udp { sport, dport },
            payload,
            df: false,
            tos: 0,
            id: IpId::Counter,
            ttl0: None,
        }
    }

    /// An ICMP message without DF.
    pub(crate) fn icmp(
        src: Ep,
        dst: Ep,
        typ: u8,
        code: u8,
        rest: [u8; 4],
        payload: Payload,
    ) -> Pkt {
        Pkt {
            src,
            dst,
            l4: L4::Icmp { typ, code, rest },
            payload,
            df: false,
            tos: 0,
            id: IpId::Counter,
            ttl0: None,
        }
    }

    pub(crate) fn with_df(mut self, df: bool) -> Pkt {
        self.df = df;
        self
    }

    pub(crate) fn with_tos(mut self, tos: u8) -> Pkt {
        self.tos = tos;
        self
    }

    /// The RST a host's kernel sends when a SYN-ACK answers a SYN it never sent (a raw
    /// scanner's probe, or a spoofed source's address): `sport`/`dport` and `seq` are
    /// those of the original SYN.
    pub(crate) fn kernel_rst(src: Ep, dst: Ep, sport: u16, dport: u16, seq: u32) -> Pkt {
        let rst = Tcp {
            sport,
            dport,
            seq: seq.wrapping_add(1),
            ack: 0,
            flags: RST,
            win: 0,
            opt: TcpOpt::None,
        };
        Pkt::tcp(src, dst, rst, Payload::Empty).with_id(IpId::Fixed(0))
    }

    pub(crate) fn with_id(mut self, id: IpId) -> Pkt {
        self.id = id;
        self
    }

    pub(crate) fn with_ttl(mut self, ttl0: u8) -> Pkt {
        self.ttl0 = Some(ttl0);
        self
    }

    /// The Ethernet frame for this packet seen at `ts`.
    pub(crate) fn render(&self, ts: u64, net: &mut Net, rng: &mut SimRng) -> Vec<u8> {
        let gateway = net.gateway_mac;
        let (src_ip, src_mac, ttl, id, os, mss, tsval) = match self.src {
            Ep::Host(h) => {
                let host = &mut net.hosts[h];
                let id = match self.id {
                    IpId::Counter => host.next_ip_id(),
                    IpId::Random => rng.random(),
                    IpId::Fixed(v) => v,
                };
                let ttl = host.ttl_from(self.ttl0.unwrap_or(host.os.initial_ttl()));
                let mac = if host.internal { host.mac } else { gateway };
                (host.ip, mac, ttl, id, host.os, host.mss, host.tsval(ts))
            }
            Ep::Spoof(ip, ttl) => {
                let id = match self.id {
                    IpId::Fixed(v) => v,
                    IpId::Counter | IpId::Random => rng.random(),
                };
                (
                    ip,
                    gateway,
                    self.ttl0.unwrap_or(ttl),
                    id,
                    Os::Linux,
                    1460,
                    rng.random(),
                )
            }
        };
        let (dst_ip, dst_mac) = net.addr_mac(self.dst);
        let mut opts = [0u8; 40];
        let (proto, l4_hdr) = match &self.l4 {
            L4::Tcp(t) => (
                PROTO_TCP,
                20 + tcp_options(t.opt, os, mss, tsval, &mut opts),
            ),
            L4::Udp { .. } => (PROTO_UDP, 8),
            L4::Icmp { .. } => (PROTO_ICMP, 8),
        };
        let plen = self.payload.len();
        let ip_len = IP_HDR + l4_hdr + plen;
        let mut f = vec![0u8; (ETH_HDR + ip_len).max(MIN_FRAME)];
        f[0..6].copy_from_slice(&dst_mac);
        f[6..12].copy_from_slice(&src_mac);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        {
            let ip = &mut f[ETH_HDR..ETH_HDR + IP_HDR];
            ip[0] = 0x45;
            ip[1] = self.tos;
            ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
            ip[4..6].copy_from_slice(&id.to_be_bytes());
            ip[6] = if self.df { 0x40 } else { 0 };
            ip[8] = ttl;
            ip[9] = proto;
            ip[12..16].copy_from_slice(&src_ip.octets());
            ip[16..20].copy_from_slice(&dst_ip.octets());
            let c = checksum(ip);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
        }
        let l4_start = ETH_HDR + IP_HDR;
        let l4 = &mut f[l4_start..l4_start + l4_hdr + plen];
        self.payload.write(&mut l4[l4_hdr..], rng);
        let csum_at = match &self.l4 {
            L4::Tcp(t) => {
                l4[0..2].copy_from_slice(&t.sport.to_be_bytes());
                l4[2..4].copy_from_slice(&t.dport.to_be_bytes());
                l4[4..8].copy_from_slice(&t.seq.to_be_bytes());
                l4[8..12].copy_from_slice(&t.ack.to_be_bytes());
                l4[12] = ((l4_hdr / 4) as u8) << 4;
                l4[13] = t.flags;
                l4[14..16].copy_from_slice(&t.win.to_be_bytes());
                l4[20..l4_hdr].copy_from_slice(&opts[..l4_hdr - 20]);
                16
            }
            L4::Udp { sport, dport } => {
                l4[0..2].copy_from_slice(&sport.to_be_bytes());
                l4[2..4].copy_from_slice(&dport.to_be_bytes());
                l4[4..6].copy_from_slice(&((8 + plen) as u16).to_be_bytes());
                6
            }
            L4::Icmp { typ, code, rest } => {
                l4[0] = *typ;
                l4[1] = *code;
                l4[4..8].copy_from_slice(rest);
                2
            }
        };
        let c = match proto {
            PROTO_ICMP => checksum(l4),
            _ => {
                let c = transport_checksum(src_ip, dst_ip, proto, l4);
                if proto == PROTO_UDP && c == 0 {
                    0xffff
                } else {
                    c
                }
            }
        };
        l4[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
        f
    }
}

/// Writes the options for `opt` as `os` sends them; returns their length (multiple of 4).
fn tcp_options(opt: TcpOpt, os: Os, mss: u16, tsval: u32, out: &mut [u8; 40]) -> usize {
    let m = mss.to_be_bytes();
    let ts = |ecr: u32| {
        let mut b = [8u8, 10, 0, 0, 0, 0, 0, 0, 0, 0];
        b[2..6].copy_from_slice(&tsval.to_be_bytes());
        b[6..10].copy_from_slice(&ecr.to_be_bytes());
        b
    };
    let mss_opt = [2u8, 4, m[0], m[1]];
    let (t0, te);
    let mut parts: Vec<&[u8]> = Vec::with_capacity(8);
    match (opt, os) {
        (TcpOpt::None, _) => return 0,
        (TcpOpt::Mss(v), _) => {
            let b = v.to_be_bytes();
            out[..4].copy_from_slice(&[2, 4, b[0], b[1]]);
            return 4;
        }
        (TcpOpt::Ts { ecr }, _) => {
            te = ts(ecr);
            parts.extend([&[1u8, 1][..], &te[..]]);
        }
        (TcpOpt::Syn, Os::Linux) | (TcpOpt::SynAck { ecr: Some(_) }, Os::Linux) => {
            let ecr = match opt {
                TcpOpt::SynAck { ecr: Some(e) } => e,
                _ => 0,
            };
            t0 = ts(ecr);
            parts.extend([&mss_opt[..], &[4, 2], &t0[..], &[1, 3, 3, 7]]);
        }
        (TcpOpt::SynAck { ecr: None }, Os::Linux) => {
            parts.extend([&mss_opt[..], &[1, 1, 4, 2], &[1, 3, 3, 7]])
        }
        (TcpOpt::Syn | TcpOpt::SynAck { .. }, Os::Windows) => {
            parts.extend([&mss_opt[..], &[1, 3, 3, 8], &[1, 1, 4, 2]])
        }
        (TcpOpt::Syn, Os::Mac) | (TcpOpt::SynAck { ecr: Some(_) }, Os::Mac) => {
            let ecr = match opt {
                TcpOpt::SynAck { ecr: Some(e) } => e,
                _ => 0,
            };
            t0 = ts(ecr);
            parts.extend([&mss_opt[..], &[1, 3, 3, 6], &[1, 1], &t0[..], &[4, 2, 0, 0]]);
        }
        (TcpOpt::SynAck { ecr: None }, Os::Mac) => {
            parts.extend([&mss_opt[..], &[1, 3, 3, 6], &[1, 1, 4, 2]])
        }
    }
    let mut n = 0;
    for p in parts {
        out[n..n + p.len()].copy_from_slice(p);
        n += p.len();
    }
    n
}

fn sum_words(data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(2);
    let mut s: u64 = chunks
        .by_ref()
        .map(|c| u64::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    if let [b] = chunks.remainder() {
        s += u64::from(*b) << 8;
    }
    s
}

fn fold(mut s: u64) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// The Internet checksum of `data` (RFC 1071). Over data that contains its own correct
/// checksum it gives 0.
pub(crate) fn checksum(data: &[u8]) -> u16 {
    fold(sum_words(data))
}

/// TCP/UDP checksum with the IPv4 pseudo-header.
pub(crate) fn transport_checksum(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, l4: &[u8]) -> u16 {
    let pseudo =
        sum_words(&src.octets()) + sum_words(&dst.octets()) + u64::from(proto) + l4.len() as u64;
    fold(pseudo + sum_words(l4))
}
