//! The readers and decoder against the real public captures, checked against the
//! Wireshark tools that every analyst trusts.

mod common;

use capture::{CaptureFile, PacketRecord, PacketSource};
use common::*;

fn read_all(path: &std::path::Path) -> (Vec<PacketRecord>, capture::SourceStats) {
    let mut src = CaptureFile::open(path).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    while let Some(p) = src.next_packet().unwrap_or_else(|e| panic!("{e}")) {
        out.push(p);
    }
    (out, src.stats().clone())
}

#[test]
fn every_public_capture_reads_to_the_end_with_capinfos_frame_count() {
    let Some(dir) = public_dir() else { return };
    if !have_tool("capinfos") && require_missing::<()>("capinfos (wireshark-common)").is_none() {
        return;
    }
    let files = capture_files(&dir);
    assert!(
        files.len() >= 40,
        "expected the public captures, found {}",
        files.len()
    );
    for f in files {
        let (_, stats) = read_all(&f);
        assert_eq!(stats.frames, capinfos_count(&f), "{}", f.display());
        assert_eq!(
            stats.frames,
            stats.decoded + stats.skipped_total(),
            "{}",
            f.display()
        );
    }
}

/// Per-protocol and per-flag counts equal tshark's display-filter counts.
#[test]
fn protocol_and_flag_counts_equal_tshark() {
    let Some(dir) = public_dir() else { return };
    if !have_tool("tshark") && require_missing::<()>("tshark").is_none() {
        return;
    }
    let files = [
        "evilfingers-nmap/TCP_SYN_SCAN.pcap",
        "evilfingers-nmap/UDP_SCAN.pcap",
        "ppa/ftp-crack.pcap",
        "stopddos/pkt.TCP.synflood.spoofed.pcap",
        "slips/test7-malicious.pcap",
        "chrissanders/synscan.pcapng",
        "esnet-scanners/tcp_0_1000_20190821.pcap",
        "tcpdump-formats/resp_3_malicious.pcap",
    ];
    type Pred = fn(&PacketRecord) -> bool;
    let checks: [(&str, Pred); 9] = [
        // tshark counts every IP packet, fragments included; so do we.
        ("ip || ipv6", |_| true),
        ("tcp && !icmp && !icmpv6", |p| {
            p.proto == 6 && (p.src_port, p.dst_port) != (0, 0)
        }),
        ("udp && !icmp && !icmpv6", |p| {
            p.proto == 17 && !(p.fragment && p.src_port == 0 && p.dst_port == 0)
        }),
        ("icmp || icmpv6", |p| p.is_icmp()),
        (
            "tcp.flags.syn == 1 && tcp.flags.ack == 0 && !icmp && !icmpv6",
            |p| p.is_syn_only(),
        ),
        (
            "tcp.flags.syn == 1 && tcp.flags.ack == 1 && !icmp && !icmpv6",
            |p| p.is_syn_ack(),
        ),
        ("tcp.flags.reset == 1 && !icmp && !icmpv6", |p| p.is_rst()),
        ("icmp.type == 3 || icmpv6.type == 1", |p| {
            p.is_icmp_unreachable()
        }),
        ("ipv6", |p| p.src.is_ipv6()),
    ];
    // tshark also matches the TCP/UDP header quoted inside ICMP errors; the record
    // describes the outer packet, so those are excluded on its side.
    for name in files {
        let path = dir.join(name);
        let (pkts, _) = read_all(&path);
        for (filter, pred) in checks {
            let ours = pkts.iter().filter(|p| pred(p)).count() as u64;
            let theirs = tshark_count(&path, filter);
            assert_eq!(ours, theirs, "{name}: `{filter}`");
        }
    }
}

#[test]
fn special_formats_decode() {
    let Some(dir) = public_dir() else { return };
    // (file, expected decoded packets, what it proves)
    let cases = [
        (
            "tcpdump-formats/resp_3_malicious.pcap",
            "Linux cooked SLL v1",
        ),
        (
            "tcpdump-formats/tcp-handshake-nano.pcap",
            "nanosecond pcap + SLL",
        ),
        ("esnet-scanners/udp_0_1000_20190821.pcap", "802.1Q VLAN"),
        ("chrissanders/http_ip4and6.pcapng", "pcapng, IPv4 and IPv6"),
        ("chrissanders/ipv6_fragments.pcapng", "IPv6 fragments"),
        (
            "stopddos/amp.UDP.snmp.src161.pcapng",
            "classic pcap named .pcapng",
        ),
    ];
    for (name, what) in cases {
        let (pkts, stats) = read_all(&dir.join(name));
        assert!(
            !pkts.is_empty(),
            "{name} ({what}) decoded nothing: {stats:?}"
        );
    }
    // The QinQ sample carries ARP behind an 802.1ad and an 802.1Q tag: both tags must be
    // walked to see that it is ARP (not IP) rather than a broken frame.
    let (_, stats) = read_all(&dir.join("tcpdump-formats/802.1ad_QinQ.pcap"));
    assert_eq!(
        (stats.frames, stats.skipped(capture::SkipReason::NotIp)),
        (2, 2)
    );
    let (pkts, _) = read_all(&dir.join("tcpdump-formats/tcp-handshake-nano.pcap"));
    assert!(
        pkts.iter().any(|p| p.ts_ns % 1_000 != 0),
        "nanosecond digits kept"
    );
    assert!(pkts[0].is_syn_only() && pkts[1].is_syn_ack());
    let (pkts, stats) = read_all(&dir.join("chrissanders/ipv6_fragments.pcapng"));
    assert!(stats.fragments > 0 && pkts.iter().any(|p| p.fragment && p.src.is_ipv6()));
}
