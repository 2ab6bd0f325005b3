//! Bucket sums → feature values. The only place a feature's formula lives.

use super::entity_state::{Bucket, Tracker};
use workbench::engine::{F, N_BASE};

/// Fills `out` (one width's block, `N_BASE` values) from the summed bucket of a window
/// of `width_s` seconds.
pub(crate) fn compute(b: &Bucket, width_s: f64, out: &mut [f64]) {
    debug_assert_eq!(out.len(), N_BASE);
    let pkts = (b.pkts_out + b.pkts_in) as f64;
    let bytes = (b.bytes_out + b.bytes_in) as f64;
    let attempts = (b.syn_out + b.echo_out + b.udp_new_out) as f64;
    let d = |t: Tracker| b.distinct_last[t as usize] as f64;
    let ratio = |num: f64, den: f64| if den > 0.0 { num / den } else { 0.0 };

    let mean = ratio(b.size_sum as f64, pkts);
    let var = if pkts > 0.0 {
        (b.size_sq_sum as f64 / pkts - mean * mean).max(0.0)
    } else {
        0.0
    };

    let mut set = |f: F, v: f64| out[f as usize] = v;
    set(F::PacketsPerSecond, pkts / width_s);
    set(F::BytesPerSecond, bytes / width_s);
    set(F::PktsOut, b.pkts_out as f64);
    set(F::PktsIn, b.pkts_in as f64);
    set(F::BytesOutPerSecond, b.bytes_out as f64 / width_s);
    set(F::BytesInPerSecond, b.bytes_in as f64 / width_s);
    set(F::OutByteShare, ratio(b.bytes_out as f64, bytes));
    set(F::ConnRate, attempts / width_s);
    set(F::UniqDports, d(Tracker::Dports));
    set(F::NewDportRate, b.new_dports as f64 / width_s);
    set(F::UniqDstHosts, d(Tracker::DstHosts));
    set(F::UniqSrcHosts, d(Tracker::SrcHosts));
    set(F::UniqueIps, d(Tracker::Peers));
    set(F::UniquePorts, d(Tracker::Dports) + d(Tracker::LocalPorts));
    set(F::UniqLocalPorts, d(Tracker::LocalPorts));
    set(F::TcpRatio, ratio(b.tcp as f64, pkts));
    set(F::UdpRatio, ratio(b.udp as f64, pkts));
    set(F::IcmpRatio, ratio(b.icmp as f64, pkts));
    set(F::SynPackets, (b.syn_out + b.syn_in) as f64);
    set(F::SynOut, b.syn_out as f64);
    set(F::SynIn, b.syn_in as f64);
    set(F::SynAckOut, b.synack_out as f64);
    set(F::SynAckIn, b.synack_in as f64);
    set(F::RstOut, b.rst_out as f64);
    set(F::RstIn, b.rst_in as f64);
    set(F::IcmpUnreachIn, b.unreach_in as f64);
    set(
        F::FailedConnRatio,
        ((b.rst_in + b.unreach_in) as f64 / attempts.max(1.0)).min(1.0),
    );
    set(F::PktSizeMean, mean);
    set(F::PktSizeStd, var.sqrt());
    set(F::Fragments, b.fragments as f64);
    let (po, pi) = (b.pkts_out as f64, b.pkts_in as f64);
    set(F::ProbeOut, b.probe_out as f64);
    set(F::SynOutShare, ratio(b.syn_out as f64, po));
    set(F::ProbeOutShare, ratio(b.probe_out as f64, po));
    set(F::DportSpread, ratio(d(Tracker::Dports), po));
    set(F::NewDportShare, ratio(b.new_dports as f64, po));
    set(F::DstHostSpread, ratio(d(Tracker::DstHosts), po));
    set(F::SrcHostSpread, ratio(d(Tracker::SrcHosts), pi));
    set(F::OutPktShare, ratio(po, pkts));
    set(
        F::AnsweredShare,
        ratio(b.synack_in as f64, b.syn_out as f64).min(1.0),
    );
    set(F::RstInShare, ratio(b.rst_in as f64, pi));
    set(F::UnreachInShare, ratio(b.unreach_in as f64, pi));
    set(F::PktSizeOut, ratio(b.bytes_out as f64, po));
    set(F::PktSizeIn, ratio(b.bytes_in as f64, pi));
}
