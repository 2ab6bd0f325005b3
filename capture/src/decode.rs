//! Link layer → [`PacketRecord`], built on etherparse's lax slicer.
//!
//! The lax slicer is used on purpose: captures are routinely cut by a snap length and
//! real traffic carries odd headers, and we want every packet whose IP header is
//! readable, not only the perfect ones. Anything that does not yield an IP header is a
//! [`SkipReason`], counted by the caller, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};

use crate::link::LinkType;
use crate::record::{ip_proto, PacketRecord};

/// Why a frame produced no [`PacketRecord`]. Each reason has its own counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// The frame is shorter than its link-layer header.
    TruncatedLink,
    /// A valid frame that carries no IP (ARP, LLDP, STP, IPX, ...).
    NotIp,
    /// The IP header is cut or malformed (bad version, header length, total length).
    MalformedIp,
    /// The link type cannot be decoded.
    UnsupportedLink,
}

impl SkipReason {
    /// Every reason, in a stable order for reports.
    pub const ALL: [SkipReason; 4] = [
        SkipReason::TruncatedLink,
        SkipReason::NotIp,
        SkipReason::MalformedIp,
        SkipReason::UnsupportedLink,
    ];

    /// Stable snake_case name for counters and JSON.
    pub fn name(self) -> &'static str {
        match self {
            SkipReason::TruncatedLink => "truncated_link_header",
            SkipReason::NotIp => "not_ip",
            SkipReason::MalformedIp => "malformed_ip",
            SkipReason::UnsupportedLink => "unsupported_link_type",
        }
    }
}

/// What the decoder noticed about a packet it did decode (for counters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeNotes {
    /// The transport header was expected but cut or malformed; ports/flags are 0.
    pub transport_truncated: bool,
}

/// Decodes one captured frame.
///
/// `wire_len` is the original length from the capture record; `data` the captured
/// bytes. Never panics, whatever the bytes.
///
/// Plain IPv4 TCP/UDP frames (the bulk of any capture, and every packet of a flood)
/// take a hand-written fast path; everything else — VLAN tags, IPv6, fragments, other
/// protocols, broken IP headers — goes through etherparse's lax slicer. Both give the
/// same result for every input (see [`decode_frame_etherparse`] and the differential
/// tests).
#[inline]
pub fn decode_frame(
    link: LinkType,
    ts_ns: u64,
    wire_len: u32,
    data: &[u8],
) -> Result<(PacketRecord, DecodeNotes), SkipReason> {
    if let Some(done) = fast_path(link, ts_ns, wire_len, data) {
        return Ok(done);
    }
    decode_frame_etherparse(link, ts_ns, wire_len, data)
}

/// IPv4 EtherType / SLL protocol type.
const ETHERTYPE_IPV4: u16 = 0x0800;

/// The fast path of [`decode_frame`]: `Some` only for a frame whose IP header is a
/// readable IPv4 header of an unfragmented TCP or UDP packet, directly after the link
/// header (Ethernet II without VLAN tags, Linux SLL/SLL2, or raw IP); `None` means
/// "not handled here", never "invalid".
///
/// It mirrors, step by step, what etherparse's lax slicer does with such a frame:
/// - Ethernet II needs 14 bytes; EtherType 0x0800 goes to the IP slicer, which looks at
///   the version nibble (not the EtherType), so anything but version 4 is left to it.
/// - IPv4: IHL ≥ 5 and the whole header captured, else etherparse reports an error.
///   The payload ends at `total_length` when `header_len ≤ total_length ≤ captured`,
///   otherwise at the end of the captured bytes (lax: snap-length cuts, TSO's 0).
/// - Fragments (MF set or offset ≠ 0) and protocol 51 (AH, an extension header the
///   slicer walks) are left to etherparse: only protocols 6 and 17 are handled.
/// - TCP needs 20 bytes, a data offset ≥ 5 and the whole header; UDP (lax) 8 bytes.
///   A transport header that fails this leaves ports and flags 0 and is noted as
///   truncated, exactly as when the slicer stops at the transport layer.
#[inline]
fn fast_path(
    link: LinkType,
    ts_ns: u64,
    wire_len: u32,
    data: &[u8],
) -> Option<(PacketRecord, DecodeNotes)> {
    let ip = match link {
        LinkType::Ethernet => {
            if be16(data, 12)? != ETHERTYPE_IPV4 {
                return None;
            }
            data.get(14..)?
        }
        LinkType::LinuxSll => {
            if be16(data, 14)? != ETHERTYPE_IPV4 {
                return None;
            }
            data.get(16..)?
        }
        LinkType::LinuxSll2 => {
            if be16(data, 0)? != ETHERTYPE_IPV4 {
                return None;
            }
            data.get(20..)?
        }
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => data,
        _ => return None,
    };
    let cap_len = data.len() as u32;
    let h: &[u8; 20] = ip.get(..20)?.try_into().ok()?;
    if h[0] >> 4 != 4 {
        return None;
    }
    let header_len = usize::from(h[0] & 0x0f) * 4;
    if header_len < 20 || ip.len() < header_len {
        return None;
    }
    // MF flag (0x2000) or a fragment offset (0x1fff): leave fragments to etherparse.
    if u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0 {
        return None;
    }
    let proto = h[9];
    if proto != ip_proto::TCP && proto != ip_proto::UDP {
        return None;
    }
    let total_len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let payload = if total_len < header_len || total_len > ip.len() {
        &ip[header_len..]
    } else {
        &ip[header_len..total_len]
    };
    let mut rec = PacketRecord {
        ts_ns,
        src: IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15])),
        dst: IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19])),
        src_port: 0,
        dst_port: 0,
        proto,
        tcp_flags: 0,
        icmp_type: 0,
        icmp_code: 0,
        wire_len: wire_len.max(cap_len),
        cap_len,
        fragment: false,
    };
    let mut notes = DecodeNotes::default();
    let ports = |t: &[u8]| {
        (
            u16::from_be_bytes([t[0], t[1]]),
            u16::from_be_bytes([t[2], t[3]]),
        )
    };
    if proto == ip_proto::TCP {
        match payload.get(..20) {
            Some(t) if t[12] >> 4 >= 5 && payload.len() >= usize::from(t[12] >> 4) * 4 => {
                (rec.src_port, rec.dst_port) = ports(t);
                rec.tcp_flags = t[13];
            }
            _ => notes.transport_truncated = true,
        }
    } else {
        match payload.get(..8) {
            Some(u) => (rec.src_port, rec.dst_port) = ports(u),
            None => notes.transport_truncated = true,
        }
    }
    Some((rec, notes))
}

/// [`decode_frame`] without the fast path: every frame through etherparse's lax
/// slicer. Public for the differential tests and the `decode_frame` fuzz target, which
/// check that both paths agree on every input.
#[doc(hidden)]
pub fn decode_frame_etherparse(
    link: LinkType,
    ts_ns: u64,
    wire_len: u32,
    data: &[u8],
) -> Result<(PacketRecord, DecodeNotes), SkipReason> {
    let sliced = match link {
        LinkType::Ethernet => {
            LaxSlicedPacket::from_ethernet(data).map_err(|_| SkipReason::TruncatedLink)?
        }
        LinkType::LinuxSll => {
            // 16-byte header; protocol type (an EtherType for IP) in the last 2 bytes.
            let proto = be16(data, 14).ok_or(SkipReason::TruncatedLink)?;
            LaxSlicedPacket::from_ether_type(EtherType(proto), &data[16..])
        }
        LinkType::LinuxSll2 => {
            // 20-byte header; protocol type first.
            let proto = be16(data, 0).ok_or(SkipReason::TruncatedLink)?;
            if data.len() < 20 {
                return Err(SkipReason::TruncatedLink);
            }
            LaxSlicedPacket::from_ether_type(EtherType(proto), &data[20..])
        }
        LinkType::Null | LinkType::Loop => {
            if data.len() < 4 {
                return Err(SkipReason::TruncatedLink);
            }
            // The family is in the writer's byte order for NULL and network order for
            // LOOP; values are small, so whichever half is non-zero tells.
            let raw = [data[0], data[1], data[2], data[3]];
            let family = if link == LinkType::Loop {
                u32::from_be_bytes(raw)
            } else {
                let le = u32::from_le_bytes(raw);
                if le <= 0xffff {
                    le
                } else {
                    u32::from_be_bytes(raw)
                }
            };
            match family {
                2 | 24 | 28 | 30 => ip_slice(&data[4..])?,
                _ => return Err(SkipReason::NotIp),
            }
        }
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => ip_slice(data)?,
        LinkType::Other(_) => return Err(SkipReason::UnsupportedLink),
    };
    record_from_slices(&sliced, ts_ns, wire_len, data.len() as u32)
}

fn ip_slice(data: &[u8]) -> Result<LaxSlicedPacket<'_>, SkipReason> {
    LaxSlicedPacket::from_ip(data).map_err(|_| SkipReason::MalformedIp)
}

#[inline]
fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

fn record_from_slices(
    sliced: &LaxSlicedPacket<'_>,
    ts_ns: u64,
    wire_len: u32,
    cap_len: u32,
) -> Result<(PacketRecord, DecodeNotes), SkipReason> {
    let (src, dst, proto, fragment) = match &sliced.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            (
                IpAddr::V4(Ipv4Addr::from(h.source())),
                IpAddr::V4(Ipv4Addr::from(h.destination())),
                v4.payload().ip_number.0,
                v4.is_payload_fragmented(),
            )
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            (
                IpAddr::V6(Ipv6Addr::from(h.source())),
                IpAddr::V6(Ipv6Addr::from(h.destination())),
                v6.payload().ip_number.0,
                v6.is_payload_fragmented(),
            )
        }
        Some(LaxNetSlice::Arp(_)) => return Err(SkipReason::NotIp),
        None => {
            // The slicer stopped before an IP header: either the frame carries another
            // protocol, or the IP header itself is broken.
            return Err(match &sliced.stop_err {
                Some((_, etherparse::err::Layer::Ipv4Header))
                | Some((_, etherparse::err::Layer::Ipv6Header))
                | Some((_, etherparse::err::Layer::IpHeader)) => SkipReason::MalformedIp,
                Some(_) if is_ip_ethertype(sliced) => SkipReason::MalformedIp,
                Some(_) => SkipReason::TruncatedLink,
                None => SkipReason::NotIp,
            });
        }
    };

    let mut rec = PacketRecord {
        ts_ns,
        src,
        dst,
        src_port: 0,
        dst_port: 0,
        proto,
        tcp_flags: 0,
        icmp_type: 0,
        icmp_code: 0,
        wire_len: wire_len.max(cap_len),
        cap_len,
        fragment,
    };
    let mut notes = DecodeNotes::default();
    match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => {
            rec.src_port = tcp.source_port();
            rec.dst_port = tcp.destination_port();
            // Byte 13 of the header holds CWR..FIN in one byte.
            rec.tcp_flags = tcp.header_slice().get(13).copied().unwrap_or(0);
        }
        Some(TransportSlice::Udp(udp)) => {
            rec.src_port = udp.source_port();
            rec.dst_port = udp.destination_port();
        }
        Some(TransportSlice::Icmpv4(icmp)) => {
            rec.icmp_type = icmp.type_u8();
            rec.icmp_code = icmp.code_u8();
        }
        Some(TransportSlice::Icmpv6(icmp)) => {
            rec.icmp_type = icmp.type_u8();
            rec.icmp_code = icmp.code_u8();
        }
        _ => {
            let has_transport_header = matches!(
                proto,
                ip_proto::TCP | ip_proto::UDP | ip_proto::ICMP | ip_proto::ICMPV6
            );
            // A later fragment legitimately has no transport header.
            if has_transport_header && !fragment {
                notes.transport_truncated = true;
            }
        }
    }
    Ok((rec, notes))
}

fn is_ip_ethertype(sliced: &LaxSlicedPacket<'_>) -> bool {
    use etherparse::LinkSlice;
    let inner = sliced
        .link_exts
        .last()
        .and_then(|ext| match ext {
            etherparse::LaxLinkExtSlice::Vlan(v) => Some(v.ether_type()),
            _ => None,
        })
        .or_else(|| match &sliced.link {
            Some(LinkSlice::Ethernet2(e)) => Some(e.ether_type()),
            _ => None,
        });
    matches!(inner, Some(EtherType::IPV4) | Some(EtherType::IPV6))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tcp_flag;

    fn eth_ipv4_tcp(flags: u8) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20];
        f[12] = 0x08; // IPv4
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&40u16.to_be_bytes());
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let tcp = &mut f[34..54];
        tcp[0..2].copy_from_slice(&1234u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = flags;
        f
    }

    #[test]
    fn decodes_ethernet_ipv4_tcp_syn() {
        let f = eth_ipv4_tcp(tcp_flag::SYN);
        let (r, notes) = decode_frame(LinkType::Ethernet, 5, 60, &f).expect("decodes");
        assert_eq!(r.src, "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(r.dst, "10.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!((r.src_port, r.dst_port, r.proto), (1234, 80, 6));
        assert!(r.is_syn_only());
        assert_eq!((r.wire_len, r.cap_len), (60, 54));
        assert!(!notes.transport_truncated);
    }

    #[test]
    fn qinq_tags_are_walked_to_ip() {
        let plain = eth_ipv4_tcp(tcp_flag::RST);
        let mut f = plain[..12].to_vec();
        f.extend_from_slice(&[0x88, 0xa8, 0x00, 0xc8]); // 802.1ad, S-VLAN 200
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]); // 802.1Q, C-VLAN 100
        f.extend_from_slice(&plain[12..]);
        let (r, _) = decode_frame(LinkType::Ethernet, 0, f.len() as u32, &f).expect("decodes");
        assert!(r.is_rst());
        assert_eq!(r.dst_port, 80);
    }

    #[test]
    fn cut_transport_is_noted_not_skipped() {
        let f = eth_ipv4_tcp(tcp_flag::SYN);
        let (r, notes) = decode_frame(LinkType::Ethernet, 0, 54, &f[..40]).expect("ip ok");
        assert_eq!(r.proto, 6);
        assert_eq!(r.dst_port, 0);
        assert!(notes.transport_truncated);
    }

    #[test]
    fn arp_and_short_frames_are_counted_reasons() {
        let mut arp = vec![0u8; 42];
        arp[12] = 0x08;
        arp[13] = 0x06;
        assert_eq!(
            decode_frame(LinkType::Ethernet, 0, 42, &arp).unwrap_err(),
            SkipReason::NotIp
        );
        assert_eq!(
            decode_frame(LinkType::Ethernet, 0, 5, &[1, 2, 3, 4, 5]).unwrap_err(),
            SkipReason::TruncatedLink
        );
        assert_eq!(
            decode_frame(LinkType::Other(147), 0, 5, &[0; 5]).unwrap_err(),
            SkipReason::UnsupportedLink
        );
    }

    #[test]
    fn broken_ip_header_is_malformed() {
        let mut f = eth_ipv4_tcp(0);
        f[14] = 0x42; // IHL 2 words: impossible
        assert_eq!(
            decode_frame(LinkType::Ethernet, 0, 54, &f).unwrap_err(),
            SkipReason::MalformedIp
        );
    }

    #[test]
    fn null_and_sll2_and_raw_decode() {
        let eth = eth_ipv4_tcp(tcp_flag::SYN | tcp_flag::ACK);
        let ip = &eth[14..];
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(ip);
        assert!(decode_frame(LinkType::Null, 0, 0, &null)
            .unwrap()
            .0
            .is_syn_ack());
        let mut sll2 = vec![0u8; 20];
        sll2[0..2].copy_from_slice(&0x0800u16.to_be_bytes());
        sll2.extend_from_slice(ip);
        assert!(decode_frame(LinkType::LinuxSll2, 0, 0, &sll2)
            .unwrap()
            .0
            .is_syn_ack());
        assert_eq!(
            decode_frame(LinkType::Raw, 0, 0, ip).unwrap().0.dst_port,
            80
        );
    }

    #[test]
    fn never_panics_on_prefixes_and_noise() {
        let f = eth_ipv4_tcp(tcp_flag::SYN);
        for link in [
            LinkType::Ethernet,
            LinkType::LinuxSll,
            LinkType::LinuxSll2,
            LinkType::Null,
            LinkType::Loop,
            LinkType::Raw,
        ] {
            for n in 0..f.len() {
                let _ = decode_frame(link, 0, n as u32, &f[..n]);
            }
        }
    }

    /// Every link type `decode_frame` knows, plus one it does not.
    const LINKS: [LinkType; 9] = [
        LinkType::Ethernet,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::Null,
        LinkType::Loop,
        LinkType::Raw,
        LinkType::Ipv4,
        LinkType::Ipv6,
        LinkType::Other(147),
    ];

    /// The fast path and etherparse agree on `data` as every link type, and on every
    /// prefix of it (snap-length cuts).
    fn assert_paths_agree(data: &[u8], wire_len: u32) {
        for link in LINKS {
            for n in 0..=data.len() {
                let d = &data[..n];
                assert_eq!(
                    decode_frame(link, 7, wire_len, d),
                    decode_frame_etherparse(link, 7, wire_len, d),
                    "{link:?}, {n} of {} bytes: {:02x?}",
                    data.len(),
                    d
                );
            }
        }
    }

    #[test]
    fn fast_path_takes_plain_tcp_and_udp() {
        let f = eth_ipv4_tcp(tcp_flag::SYN);
        assert!(fast_path(LinkType::Ethernet, 0, 60, &f).is_some());
        let mut udp = f.clone();
        udp[14 + 9] = ip_proto::UDP;
        assert!(fast_path(LinkType::Ethernet, 0, 60, &udp).is_some());
        // Left to etherparse: fragments, ICMP, AH, IPv6 behind an IPv4 EtherType, VLAN.
        let mut frag = f.clone();
        frag[14 + 6] = 0x20;
        assert!(fast_path(LinkType::Ethernet, 0, 60, &frag).is_none());
        let mut icmp = f.clone();
        icmp[14 + 9] = ip_proto::ICMP;
        assert!(fast_path(LinkType::Ethernet, 0, 60, &icmp).is_none());
        let mut ah = f.clone();
        ah[14 + 9] = 51;
        assert!(fast_path(LinkType::Ethernet, 0, 60, &ah).is_none());
        let mut v6 = f.clone();
        v6[14] = 0x65;
        assert!(fast_path(LinkType::Ethernet, 0, 60, &v6).is_none());
        let mut vlan = f[..12].to_vec();
        vlan.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]);
        vlan.extend_from_slice(&f[12..]);
        assert!(fast_path(LinkType::Ethernet, 0, 64, &vlan).is_none());
    }

    #[test]
    fn fast_path_equals_etherparse_on_edge_cases() {
        let base = eth_ipv4_tcp(tcp_flag::SYN | tcp_flag::ECE);
        let mut cases = vec![base.clone()];
        // IP total length: 0 (TSO), below the header, inside the TCP header, exact,
        // past the captured bytes; IHL 0..15; TCP data offsets 0..15; every protocol
        // the slicer treats specially; fragment bits; other versions; padding.
        for total in [0u16, 10, 19, 20, 21, 30, 39, 40, 41, 54, 1500, 65535] {
            let mut f = base.clone();
            f[16..18].copy_from_slice(&total.to_be_bytes());
            cases.push(f);
        }
        for ihl in 0..16u8 {
            let mut f = base.clone();
            f.extend_from_slice(&[0u8; 60]);
            f[14] = 0x40 | ihl;
            cases.push(f);
        }
        for off in 0..16u8 {
            let mut f = base.clone();
            f.extend_from_slice(&[0u8; 40]);
            f[14 + 20 + 12] = off << 4;
            cases.push(f);
        }
        for proto in [0u8, 1, 2, 4, 6, 17, 41, 50, 51, 58, 132, 255] {
            let mut f = base.clone();
            f[14 + 9] = proto;
            cases.push(f);
        }
        for frag in [
            0x0000u16, 0x4000, 0x8000, 0x2000, 0x0001, 0x1fff, 0x3fff, 0xffff,
        ] {
            let mut f = base.clone();
            f[20..22].copy_from_slice(&frag.to_be_bytes());
            cases.push(f);
        }
        for version in 0..16u8 {
            let mut f = base.clone();
            f[14] = (version << 4) | 5;
            cases.push(f);
        }
        let mut padded = base.clone();
        padded.extend_from_slice(&[0xaa; 6]); // Ethernet minimum-size padding
        cases.push(padded);
        for f in &cases {
            for wire in [0, f.len() as u32, 1514] {
                assert_paths_agree(f, wire);
            }
        }
    }

    /// A frame that is usually almost valid: Ethernet (sometimes VLAN-tagged) + IPv4
    /// or IPv6 + TCP/UDP/ICMP/other, with each header field drawn near its edges.
    fn plausible_frame() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        (
            prop_oneof![
                Just(0x0800u16),
                Just(0x0800),
                Just(0x86dd),
                Just(0x8100),
                Just(0x0806),
                any::<u16>()
            ],
            prop_oneof![
                Just(0x45u8),
                Just(0x45),
                Just(0x46),
                Just(0x4f),
                Just(0x60),
                any::<u8>()
            ],
            prop_oneof![
                Just(None),
                Just(Some(0u16)),
                Just(Some(20)),
                any::<u16>().prop_map(Some)
            ],
            prop_oneof![Just(0u16), Just(0x4000), any::<u16>()],
            prop_oneof![
                Just(6u8),
                Just(17),
                Just(1),
                Just(51),
                Just(58),
                any::<u8>()
            ],
            prop_oneof![Just(0x50u8), Just(0x80), any::<u8>()],
            proptest::collection::vec(any::<u8>(), 0..80),
            any::<usize>(),
        )
            .prop_map(|(ether, vihl, total, frag, proto, tcp_off, tail, cut)| {
                let mut f = vec![0u8; 12];
                f.extend_from_slice(&ether.to_be_bytes());
                if ether == 0x8100 {
                    f.extend_from_slice(&[0x00, 0x64, 0x08, 0x00]);
                }
                let ip_start = f.len();
                let mut ip = [0u8; 20];
                ip[0] = vihl;
                ip[6..8].copy_from_slice(&frag.to_be_bytes());
                ip[9] = proto;
                ip[12..16].copy_from_slice(&[192, 0, 2, 1]);
                ip[16..20].copy_from_slice(&[198, 51, 100, 7]);
                f.extend_from_slice(&ip);
                let mut l4 = [0u8; 20];
                l4[0..4].copy_from_slice(&[0x04, 0xd2, 0x00, 0x50]);
                l4[4..6].copy_from_slice(&[0x00, 0x1c]); // UDP length 28
                l4[12] = tcp_off;
                l4[13] = 0x12;
                f.extend_from_slice(&l4);
                f.extend_from_slice(&tail);
                let total = total.unwrap_or((f.len() - ip_start) as u16);
                f[ip_start + 2..ip_start + 4].copy_from_slice(&total.to_be_bytes());
                f.truncate(cut % (f.len() + 1));
                f
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        #[test]
        fn fast_path_equals_etherparse_on_plausible_frames(f in plausible_frame(), wire in 0u32..2000) {
            for link in LINKS {
                proptest::prop_assert_eq!(
                    decode_frame(link, 1, wire, &f),
                    decode_frame_etherparse(link, 1, wire, &f)
                );
            }
        }

        #[test]
        fn fast_path_equals_etherparse_on_noise(f in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120), wire in 0u32..2000) {
            for link in LINKS {
                proptest::prop_assert_eq!(
                    decode_frame(link, 1, wire, &f),
                    decode_frame_etherparse(link, 1, wire, &f)
                );
            }
        }
    }
}
