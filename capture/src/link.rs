//! Link-layer types the decoder understands, from their pcap/pcapng numbers.

use std::fmt;

/// A link type from a pcap header or a pcapng interface description.
///
/// Only the types listed here decode; any other number is kept in [`LinkType::Other`]
/// so the reader can name it in a clear error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// BSD loopback/null (DLT_NULL = 0): 4-byte address family in host byte order.
    Null,
    /// Ethernet II (DLT_EN10MB = 1), with 802.1Q/802.1ad tags walked.
    Ethernet,
    /// Raw IP, version from the first nibble (DLT_RAW = 101, also 12 and 14 on some BSDs).
    Raw,
    /// OpenBSD loopback (DLT_LOOP = 108): address family in network byte order.
    Loop,
    /// Linux cooked capture v1 (DLT_LINUX_SLL = 113).
    LinuxSll,
    /// Raw IPv4 (DLT_IPV4 = 228).
    Ipv4,
    /// Raw IPv6 (DLT_IPV6 = 229).
    Ipv6,
    /// Linux cooked capture v2 (DLT_LINUX_SLL2 = 276).
    LinuxSll2,
    /// Any other link type number: not decodable.
    Other(u32),
}

impl LinkType {
    /// Maps a pcap/pcapng link type number.
    pub fn from_number(n: u32) -> Self {
        match n {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            12 | 14 | 101 => LinkType::Raw,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            276 => LinkType::LinuxSll2,
            other => LinkType::Other(other),
        }
    }

    /// The pcap link type number (`Raw` maps to 101).
    pub fn number(self) -> u32 {
        match self {
            LinkType::Null => 0,
            LinkType::Ethernet => 1,
            LinkType::Raw => 101,
            LinkType::Loop => 108,
            LinkType::LinuxSll => 113,
            LinkType::Ipv4 => 228,
            LinkType::Ipv6 => 229,
            LinkType::LinuxSll2 => 276,
            LinkType::Other(n) => n,
        }
    }

    /// True when [`crate::decode::decode_frame`] can decode this link type.
    pub fn is_supported(self) -> bool {
        !matches!(self, LinkType::Other(_))
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkType::Null => write!(f, "NULL (0)"),
            LinkType::Ethernet => write!(f, "EN10MB (1)"),
            LinkType::Raw => write!(f, "RAW (101)"),
            LinkType::Loop => write!(f, "LOOP (108)"),
            LinkType::LinuxSll => write!(f, "LINUX_SLL (113)"),
            LinkType::Ipv4 => write!(f, "IPV4 (228)"),
            LinkType::Ipv6 => write!(f, "IPV6 (229)"),
            LinkType::LinuxSll2 => write!(f, "LINUX_SLL2 (276)"),
            LinkType::Other(n) => write!(f, "unsupported link type {n}"),
        }
    }
}
