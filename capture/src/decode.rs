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
pub fn decode_frame(
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
}
