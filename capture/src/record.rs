//! The one packet record every source produces.
//!
//! A pcap file, a pcapng file, the XDP ring buffer, AF_PACKET and the simulator all end
//! in [`PacketRecord`]; the window/feature engine sees nothing else. Keeping it small,
//! `Copy` and free of link-layer detail is what lets live and offline features be equal.

use std::net::IpAddr;

/// IANA protocol numbers the engine gives meaning to. Other values are kept as-is.
pub mod ip_proto {
    /// Internet Control Message Protocol (v4).
    pub const ICMP: u8 = 1;
    /// Transmission Control Protocol.
    pub const TCP: u8 = 6;
    /// User Datagram Protocol.
    pub const UDP: u8 = 17;
    /// ICMP for IPv6.
    pub const ICMPV6: u8 = 58;
}

/// TCP flag bits as they appear in byte 13 of the TCP header.
pub mod tcp_flag {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

/// One decoded IP packet: the seed's `NetworkEvent` widened.
///
/// Direction-free: `src`/`dst` are as on the wire; the engine decides what "sent" and
/// "received" mean per host. Ports are 0 when the protocol has none or the transport
/// header was not available (non-first fragment, truncated capture).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PacketRecord {
    /// Capture timestamp in nanoseconds since the Unix epoch (kernel time when live).
    pub ts_ns: u64,
    /// Source address as on the wire.
    pub src: IpAddr,
    /// Destination address as on the wire.
    pub dst: IpAddr,
    /// Transport source port (TCP/UDP), else 0.
    pub src_port: u16,
    /// Transport destination port (TCP/UDP), else 0.
    pub dst_port: u16,
    /// IP protocol number of the transport (see [`ip_proto`]); the last next-header
    /// value for IPv6 after walking extension headers.
    pub proto: u8,
    /// TCP flag byte (see [`tcp_flag`]); 0 for other protocols.
    pub tcp_flags: u8,
    /// ICMP/ICMPv6 type; 0 for other protocols.
    pub icmp_type: u8,
    /// ICMP/ICMPv6 code; 0 for other protocols.
    pub icmp_code: u8,
    /// Length of the packet on the wire (link layer included), in bytes.
    pub wire_len: u32,
    /// Bytes actually captured (≤ `wire_len` when a snap length cut it).
    pub cap_len: u32,
    /// True when the IP packet is a fragment (first or later); later fragments carry
    /// no ports.
    pub fragment: bool,
}

impl PacketRecord {
    /// True for a TCP segment with SYN set and ACK clear: a connection attempt.
    #[inline]
    pub fn is_syn_only(&self) -> bool {
        self.proto == ip_proto::TCP
            && self.tcp_flags & (tcp_flag::SYN | tcp_flag::ACK) == tcp_flag::SYN
    }

    /// True for a TCP SYN-ACK (the answer of an open port).
    #[inline]
    pub fn is_syn_ack(&self) -> bool {
        self.proto == ip_proto::TCP
            && self.tcp_flags & (tcp_flag::SYN | tcp_flag::ACK) == tcp_flag::SYN | tcp_flag::ACK
    }

    /// True for a TCP segment with none of SYN, ACK, RST: the FIN, NULL and Xmas probes
    /// of stealth scans (a normal stack sets ACK on everything after the SYN). Segments
    /// without a parsed header (later fragments, truncated captures: ports 0) are not
    /// counted, since their flags are unknown.
    #[inline]
    pub fn is_tcp_probe(&self) -> bool {
        self.proto == ip_proto::TCP
            && (self.src_port != 0 || self.dst_port != 0)
            && self.tcp_flags & (tcp_flag::SYN | tcp_flag::ACK | tcp_flag::RST) == 0
    }

    /// True for a TCP segment with RST set (closed port, refused or aborted connection).
    #[inline]
    pub fn is_rst(&self) -> bool {
        self.proto == ip_proto::TCP && self.tcp_flags & tcp_flag::RST != 0
    }

    /// True for ICMP destination-unreachable (v4 type 3, v6 type 1): the answer a
    /// UDP scan gets from a closed port.
    #[inline]
    pub fn is_icmp_unreachable(&self) -> bool {
        (self.proto == ip_proto::ICMP && self.icmp_type == 3)
            || (self.proto == ip_proto::ICMPV6 && self.icmp_type == 1)
    }

    /// True for an ICMP echo request (v4 type 8, v6 type 128).
    #[inline]
    pub fn is_icmp_echo_request(&self) -> bool {
        (self.proto == ip_proto::ICMP && self.icmp_type == 8)
            || (self.proto == ip_proto::ICMPV6 && self.icmp_type == 128)
    }

    /// True for ICMP or ICMPv6.
    #[inline]
    pub fn is_icmp(&self) -> bool {
        self.proto == ip_proto::ICMP || self.proto == ip_proto::ICMPV6
    }
}
