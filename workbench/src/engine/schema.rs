//! The feature schema: ordered names and units that rows, models and ONNX files carry.
//!
//! A model trained on one schema must never score rows of another; the schema's
//! `fingerprint` is what a model file stores and what loading checks.

use serde::{Deserialize, Serialize};

/// Bumped whenever a feature's meaning, order or unit changes.
pub const SCHEMA_VERSION: u32 = 2;

/// One base feature, computed for every window width.
#[derive(Clone, Copy, Debug)]
pub struct FeatureDef {
    /// Column name (suffixed with the width when several widths are configured).
    pub name: &'static str,
    /// Unit, for humans and docs.
    pub unit: &'static str,
    /// What it measures, from the entity's point of view.
    pub doc: &'static str,
}

macro_rules! features {
    ($( $ident:ident = $name:literal, $unit:literal, $doc:literal; )*) => {
        /// Index of each base feature in a width's block of values.
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(usize)]
        pub enum F { $( $ident, )* }
        /// Every base feature, in schema order.
        pub const BASE_FEATURES: &[FeatureDef] = &[
            $( FeatureDef { name: $name, unit: $unit, doc: $doc }, )*
        ];
    };
}

features! {
    PacketsPerSecond = "packets_per_second", "pkt/s", "packets sent plus received (seed 003)";
    BytesPerSecond = "bytes_per_second", "B/s", "wire bytes sent plus received (seed 003)";
    PktsOut = "pkts_out", "pkt", "packets sent";
    PktsIn = "pkts_in", "pkt", "packets received";
    BytesOutPerSecond = "bytes_out_per_second", "B/s", "wire bytes sent";
    BytesInPerSecond = "bytes_in_per_second", "B/s", "wire bytes received";
    OutByteShare = "out_byte_share", "ratio", "bytes sent / (sent + received); 1 = upload only";
    ConnRate = "conn_rate", "1/s", "connection attempts sent: TCP SYN without ACK, ICMP echo requests, UDP to a (proto, port) not used within the longest window (seed 000)";
    UniqDports = "uniq_dports", "count", "distinct (protocol, destination port) pairs sent to (seed 000)";
    NewDportRate = "new_dport_rate", "1/s", "destination ports first used in this window (not in the preceding longest window)";
    UniqDstHosts = "uniq_dst_hosts", "count", "distinct hosts sent to";
    UniqSrcHosts = "uniq_src_hosts", "count", "distinct hosts that sent to this entity";
    UniqueIps = "unique_ips", "count", "distinct peers in either direction (seed 003)";
    UniquePorts = "unique_ports", "count", "uniq_dports + uniq_local_ports (seed 003)";
    UniqLocalPorts = "uniq_local_ports", "count", "distinct own (protocol, port) pairs that received packets";
    TcpRatio = "tcp_ratio", "ratio", "share of packets that are TCP (seed 003)";
    UdpRatio = "udp_ratio", "ratio", "share of packets that are UDP";
    IcmpRatio = "icmp_ratio", "ratio", "share of packets that are ICMP or ICMPv6";
    SynPackets = "syn_packets", "pkt", "TCP SYN without ACK, sent plus received (seed 003)";
    SynOut = "syn_out", "pkt", "TCP SYN without ACK sent";
    SynIn = "syn_in", "pkt", "TCP SYN without ACK received";
    SynAckOut = "synack_out", "pkt", "TCP SYN-ACK sent";
    SynAckIn = "synack_in", "pkt", "TCP SYN-ACK received";
    RstOut = "rst_out", "pkt", "TCP RST sent";
    RstIn = "rst_in", "pkt", "TCP RST received";
    IcmpUnreachIn = "icmp_unreach_in", "pkt", "ICMP destination-unreachable received";
    FailedConnRatio = "failed_conn_ratio", "ratio", "(RST + ICMP unreachable received) / connection attempts, capped at 1";
    PktSizeMean = "pkt_size_mean", "B", "mean wire length of packets sent and received";
    PktSizeStd = "pkt_size_std", "B", "population standard deviation of wire length";
    Fragments = "fragments", "pkt", "IP fragments sent plus received";
    // Version 2: shape features. Ratios do not grow with the attack's rate or the
    // link's speed, so a model trained on one network's volumes carries to another's.
    ProbeOut = "probe_out", "pkt", "TCP packets sent with none of SYN, ACK, RST: FIN, NULL and Xmas scan probes (a normal stack sets ACK after the handshake)";
    SynOutShare = "syn_out_share", "ratio", "syn_out / pkts_out";
    ProbeOutShare = "probe_out_share", "ratio", "probe_out / pkts_out";
    DportSpread = "dport_spread", "ratio", "uniq_dports / pkts_out: 1 when every packet sent goes to another port";
    NewDportShare = "new_dport_share", "ratio", "destination ports first used in this window / pkts_out";
    DstHostSpread = "dst_host_spread", "ratio", "uniq_dst_hosts / pkts_out: 1 when every packet sent goes to another host";
    SrcHostSpread = "src_host_spread", "ratio", "uniq_src_hosts / pkts_in: 1 when every packet received comes from another host";
    OutPktShare = "out_pkt_share", "ratio", "pkts_out / (pkts_out + pkts_in); 1 = send only";
    AnsweredShare = "answered_share", "ratio", "synack_in / syn_out, capped at 1 (0 without SYNs sent)";
    RstInShare = "rst_in_share", "ratio", "rst_in / pkts_in";
    UnreachInShare = "unreach_in_share", "ratio", "icmp_unreach_in / pkts_in";
    PktSizeOut = "pkt_size_out", "B", "mean wire length of packets sent";
    PktSizeIn = "pkt_size_in", "B", "mean wire length of packets received";
}

/// Number of base features per width.
pub const N_BASE: usize = BASE_FEATURES.len();

/// The ordered feature columns for one window configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureSchema {
    /// [`SCHEMA_VERSION`] when the schema was made.
    pub version: u32,
    /// Window widths in seconds, in column-block order.
    pub widths_s: Vec<f64>,
    /// Column names, `widths_s.len() * N_BASE` of them.
    pub names: Vec<String>,
    /// Units, parallel to `names`.
    pub units: Vec<String>,
}

impl FeatureSchema {
    /// The schema for these widths. With one width the names are the base names; with
    /// several, each name gets a width suffix (`conn_rate_2s`, `conn_rate_500ms`).
    pub fn for_widths(widths_s: &[f64]) -> Self {
        let mut names = Vec::with_capacity(widths_s.len() * N_BASE);
        let mut units = Vec::with_capacity(widths_s.len() * N_BASE);
        for &w in widths_s {
            for f in BASE_FEATURES {
                if widths_s.len() == 1 {
                    names.push(f.name.to_string());
                } else {
                    names.push(format!("{}_{}", f.name, width_suffix(w)));
                }
                units.push(f.unit.to_string());
            }
        }
        FeatureSchema {
            version: SCHEMA_VERSION,
            widths_s: widths_s.to_vec(),
            names,
            units,
        }
    }

    /// Number of feature columns.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when there are no columns (never for a valid configuration).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Column index of a feature name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// A short stable string that identifies the schema: version plus names.
    pub fn fingerprint(&self) -> String {
        // FNV-1a over the names: stable across platforms and Rust versions.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for n in &self.names {
            for b in n.bytes().chain(std::iter::once(0)) {
                h ^= b as u64;
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("v{}-{:016x}", self.version, h)
    }
}

/// `2` → "2s", `0.5` → "500ms".
pub fn width_suffix(w: f64) -> String {
    if (w.fract()).abs() < 1e-9 {
        format!("{}s", w as u64)
    } else {
        format!("{}ms", (w * 1000.0).round() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_widths() {
        let one = FeatureSchema::for_widths(&[2.0]);
        assert_eq!(one.names[0], "packets_per_second");
        assert_eq!(one.len(), N_BASE);
        let two = FeatureSchema::for_widths(&[0.5, 10.0]);
        assert_eq!(two.names[0], "packets_per_second_500ms");
        assert_eq!(two.names[N_BASE], "packets_per_second_10s");
        assert_ne!(one.fingerprint(), two.fingerprint());
        assert_eq!(one.index_of("conn_rate"), Some(F::ConnRate as usize));
    }

    #[test]
    fn seed_feature_names_are_present() {
        let s = FeatureSchema::for_widths(&[2.0]);
        for n in [
            "conn_rate",
            "uniq_dports",
            "packets_per_second",
            "bytes_per_second",
            "unique_ips",
            "unique_ports",
            "tcp_ratio",
            "syn_packets",
        ] {
            assert!(s.index_of(n).is_some(), "{n}");
        }
    }
}
