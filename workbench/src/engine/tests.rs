//! Engine tests: hand-checked windows, a brute-force reference, and properties.

use std::net::{IpAddr, Ipv4Addr};

use capture::{ip_proto, tcp_flag, PacketRecord};
use proptest::prelude::*;

use super::*;

const S: u64 = 1_000_000_000;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

fn pkt(ts_ns: u64, src: u8, dst: u8, proto: u8, dport: u16, flags: u8) -> PacketRecord {
    PacketRecord {
        ts_ns,
        src: ip(src),
        dst: ip(dst),
        src_port: if proto == ip_proto::ICMP { 0 } else { 40000 },
        dst_port: if proto == ip_proto::ICMP { 0 } else { dport },
        proto,
        tcp_flags: if proto == ip_proto::TCP { flags } else { 0 },
        icmp_type: if proto == ip_proto::ICMP { 3 } else { 0 },
        icmp_code: 0,
        wire_len: 60 + dport as u32 % 100,
        cap_len: 60,
        fragment: false,
    }
}

fn run(cfg: WindowConfig, pkts: &[PacketRecord]) -> Vec<FeatureRow> {
    let mut e = WindowEngine::new(cfg).unwrap();
    let mut rows: Vec<FeatureRow> = Vec::new();
    for p in pkts {
        e.push(p, &mut rows);
    }
    e.finish(&mut rows);
    rows
}

fn val(schema: &FeatureSchema, row: &FeatureRow, name: &str) -> f64 {
    row.values[schema.index_of(name).unwrap()]
}

#[test]
fn a_syn_scan_shows_at_scanner_and_victim() {
    let base = 1_000 * S;
    let pkts: Vec<_> = (1..=10u16)
        .map(|p| {
            pkt(
                base + p as u64 * 1_000_000,
                1,
                2,
                ip_proto::TCP,
                p,
                tcp_flag::SYN,
            )
        })
        .collect();
    let rows = run(WindowConfig::default(), &pkts);
    let schema = FeatureSchema::for_widths(&[2.0]);
    // Windows ending at base+0.5, 1.0, 1.5, 2.0 contain the packets; 2.5 does not.
    let scanner: Vec<_> = rows
        .iter()
        .filter(|r| r.entity == Entity::Host(ip(1)))
        .collect();
    assert_eq!(scanner.len(), 4);
    assert_eq!(scanner[0].window_end_ns, base + S / 2);
    assert_eq!(scanner[3].window_end_ns, base + 2 * S);
    for r in &scanner {
        assert_eq!(val(&schema, r, "uniq_dports"), 10.0);
        assert_eq!(val(&schema, r, "syn_out"), 10.0);
        assert_eq!(val(&schema, r, "conn_rate"), 5.0);
        assert_eq!(val(&schema, r, "uniq_dst_hosts"), 1.0);
    }
    assert_eq!(val(&schema, scanner[0], "new_dport_rate"), 5.0);
    let victim: Vec<_> = rows
        .iter()
        .filter(|r| r.entity == Entity::Host(ip(2)))
        .collect();
    assert_eq!(victim.len(), 4);
    assert_eq!(val(&schema, victim[0], "syn_in"), 10.0);
    assert_eq!(val(&schema, victim[0], "uniq_local_ports"), 10.0);
    assert_eq!(val(&schema, victim[0], "uniq_src_hosts"), 1.0);
    // Global row first in each window, then hosts in address order.
    assert_eq!(rows[0].entity, Entity::Global);
    assert_eq!(rows[1].entity, Entity::Host(ip(1)));
}

/// Schema v2: a FIN/NULL/Xmas scan counts as probes, and the ratios are the hand
/// computed shares of one window (4 FIN probes and 2 SYNs to 6 ports, 1 SYN-ACK and 2
/// RSTs back).
#[test]
fn stealth_probes_and_shape_ratios() {
    let base = 1_000 * S;
    let t = |i: u64| base + i * 10_000_000;
    let fin_probe = |i: u64, port: u16, flags: u8| pkt(t(i), 1, 2, ip_proto::TCP, port, flags);
    let mut pkts = vec![
        fin_probe(0, 1, tcp_flag::FIN),
        fin_probe(1, 2, 0),
        fin_probe(2, 3, tcp_flag::FIN | tcp_flag::PSH | tcp_flag::URG),
        fin_probe(3, 4, tcp_flag::FIN),
        fin_probe(4, 5, tcp_flag::SYN),
        fin_probe(5, 6, tcp_flag::SYN),
    ];
    let mut answer = |i: u64, flags: u8| {
        let mut p = pkt(t(i), 2, 1, ip_proto::TCP, 40000, flags);
        p.src_port = 80;
        pkts.push(p);
    };
    answer(6, tcp_flag::SYN | tcp_flag::ACK);
    answer(7, tcp_flag::RST | tcp_flag::ACK);
    answer(8, tcp_flag::RST);
    // A later fragment (no TCP header, ports 0) is not a probe.
    let mut frag = pkt(t(9), 1, 2, ip_proto::TCP, 0, 0);
    (frag.src_port, frag.fragment) = (0, true);
    pkts.push(frag);
    let rows = run(WindowConfig::default(), &pkts);
    let schema = FeatureSchema::for_widths(&[2.0]);
    let scanner = rows
        .iter()
        .find(|r| r.entity == Entity::Host(ip(1)) && r.window_end_ns == base + S / 2)
        .unwrap();
    let v = |n: &str| val(&schema, scanner, n);
    assert_eq!(v("pkts_out"), 7.0);
    assert_eq!(v("probe_out"), 4.0);
    assert_eq!(v("probe_out_share"), 4.0 / 7.0);
    assert_eq!(v("syn_out_share"), 2.0 / 7.0);
    assert_eq!(v("uniq_dports"), 6.0);
    assert_eq!(v("dport_spread"), 6.0 / 7.0);
    assert_eq!(v("new_dport_share"), 6.0 / 7.0);
    assert_eq!(v("dst_host_spread"), 1.0 / 7.0);
    assert_eq!(v("out_pkt_share"), 0.7);
    assert_eq!(v("answered_share"), 0.5);
    assert_eq!(v("rst_in_share"), 2.0 / 3.0);
    assert_eq!(v("unreach_in_share"), 0.0);
    let out_bytes: f64 = pkts
        .iter()
        .filter(|p| p.src == ip(1))
        .map(|p| p.wire_len as f64)
        .sum();
    assert_eq!(v("pkt_size_out"), out_bytes / 7.0);
    let victim = rows
        .iter()
        .find(|r| r.entity == Entity::Host(ip(2)) && r.window_end_ns == base + S / 2)
        .unwrap();
    assert_eq!(val(&schema, victim, "src_host_spread"), 1.0 / 7.0);
    assert_eq!(val(&schema, victim, "probe_out"), 0.0);
    // A ratio of an absent count is 0, and nothing is NaN.
    assert_eq!(val(&schema, victim, "syn_out_share"), 0.0);
    assert!(scanner
        .values
        .iter()
        .chain(&victim.values)
        .all(|x| x.is_finite()));
}

#[test]
fn repeated_keys_in_different_hops_count_once() {
    let pkts = [
        pkt(10 * S, 1, 2, ip_proto::UDP, 53, 0),
        pkt(10 * S + S / 2 + 1, 1, 2, ip_proto::UDP, 53, 0),
        pkt(11 * S + 1, 1, 3, ip_proto::UDP, 123, 0),
    ];
    let rows = run(WindowConfig::default(), &pkts);
    let schema = FeatureSchema::for_widths(&[2.0]);
    let at_11_5 = rows
        .iter()
        .find(|r| r.entity == Entity::Host(ip(1)) && r.window_end_ns == 11 * S + S / 2)
        .unwrap();
    assert_eq!(val(&schema, at_11_5, "uniq_dports"), 2.0);
    assert_eq!(val(&schema, at_11_5, "uniq_dst_hosts"), 2.0);
    assert_eq!(val(&schema, at_11_5, "pkts_out"), 3.0);
    // UDP "attempts" are new (proto, port) pairs: 53 once, 123 once.
    assert_eq!(val(&schema, at_11_5, "conn_rate"), 1.0);
}

#[test]
fn a_gap_emits_nothing_in_between_and_late_packets_are_counted() {
    let pkts = [
        pkt(5 * S, 1, 2, ip_proto::TCP, 80, tcp_flag::SYN),
        pkt(5_000 * S, 1, 2, ip_proto::TCP, 80, tcp_flag::SYN),
        pkt(4_999 * S, 1, 2, ip_proto::TCP, 80, tcp_flag::SYN),
    ];
    let mut e = WindowEngine::new(WindowConfig::default()).unwrap();
    let mut rows: Vec<FeatureRow> = Vec::new();
    for p in &pkts {
        e.push(p, &mut rows);
    }
    e.finish(&mut rows);
    assert_eq!(e.stats().late_packets, 1);
    assert!(rows
        .iter()
        .all(|r| r.window_end_ns <= 7 * S || r.window_end_ns > 5_000 * S));
    // 3 entities (global + 2 hosts) × 4 windows, twice.
    assert_eq!(rows.len(), 24);
}

#[test]
fn the_host_cap_bounds_state_and_counts_what_it_leaves_out() {
    let cfg = WindowConfig {
        max_hosts: 3,
        ..WindowConfig::default()
    };
    let pkts: Vec<_> = (1..=50u8)
        .map(|i| {
            pkt(
                S + i as u64 * 1000,
                i,
                200,
                ip_proto::TCP,
                80,
                tcp_flag::SYN,
            )
        })
        .collect();
    let mut e = WindowEngine::new(cfg).unwrap();
    let mut rows: Vec<FeatureRow> = Vec::new();
    for p in &pkts {
        e.push(p, &mut rows);
    }
    assert_eq!(e.hosts_tracked(), 3);
    // Host 1 and 200 admitted first, then host 2; the other 48 senders are untracked.
    assert_eq!(e.stats().untracked_host_sides, 48);
    e.finish(&mut rows);
    let schema = e.schema().clone();
    let global = rows.iter().find(|r| r.entity == Entity::Global).unwrap();
    assert_eq!(val(&schema, global, "pkts_out"), 50.0);
    assert_eq!(val(&schema, global, "uniq_src_hosts"), 50.0);
    let victim = rows
        .iter()
        .find(|r| r.entity == Entity::Host(ip(200)))
        .unwrap();
    assert_eq!(val(&schema, victim, "syn_in"), 50.0);
}

#[test]
fn multi_scale_rows_carry_every_width() {
    let cfg = WindowConfig {
        widths_s: vec![1.0, 10.0],
        ..WindowConfig::default()
    };
    let pkts: Vec<_> = (0..40u64)
        .map(|i| pkt(100 * S + i * S / 4, 1, 2, ip_proto::TCP, 80, tcp_flag::SYN))
        .collect();
    let rows = run(cfg, &pkts);
    let schema = FeatureSchema::for_widths(&[1.0, 10.0]);
    let r = rows
        .iter()
        .find(|r| r.entity == Entity::Host(ip(1)) && r.window_end_ns == 110 * S)
        .unwrap();
    assert_eq!(val(&schema, r, "syn_out_1s"), 4.0);
    assert_eq!(val(&schema, r, "syn_out_10s"), 40.0);
    assert_eq!(r.width_s, 1.0);
}

// ---- properties -------------------------------------------------------------------

fn arb_packets() -> impl Strategy<Value = Vec<PacketRecord>> {
    prop::collection::vec(
        (
            0u64..900_000_000,
            1u8..7,
            1u8..7,
            0usize..3,
            1u16..12,
            0u8..32,
        ),
        1..120,
    )
    .prop_map(|raw| {
        let mut ts = 1_700_000_000 * S;
        raw.into_iter()
            .map(|(dt, s, d, p, port, flags)| {
                ts += dt;
                let proto = [ip_proto::TCP, ip_proto::UDP, ip_proto::ICMP][p];
                pkt(ts, s, d, proto, port, flags)
            })
            .collect()
    })
}

/// Brute force over the packet list for one row.
fn reference(pkts: &[PacketRecord], row: &FeatureRow, width_ns: u64) -> [f64; 6] {
    use std::collections::BTreeSet;
    let lo = row.window_end_ns.saturating_sub(width_ns);
    let inside = pkts
        .iter()
        .filter(|p| p.ts_ns >= lo && p.ts_ns < row.window_end_ns);
    let Entity::Host(me) = row.entity else {
        return [0.0; 6];
    };
    let (mut out, mut inn) = (0.0, 0.0);
    let (mut dports, mut dsts, mut srcs, mut peers) = (
        BTreeSet::new(),
        BTreeSet::new(),
        BTreeSet::new(),
        BTreeSet::new(),
    );
    for p in inside {
        if p.src == me {
            out += 1.0;
            if p.proto != ip_proto::ICMP {
                dports.insert((p.proto, p.dst_port));
            }
            dsts.insert(p.dst);
            peers.insert(p.dst);
        }
        if p.dst == me {
            inn += 1.0;
            srcs.insert(p.src);
            peers.insert(p.src);
        }
    }
    [
        out,
        inn,
        dports.len() as f64,
        dsts.len() as f64,
        srcs.len() as f64,
        peers.len() as f64,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn rows_equal_a_brute_force_reference(pkts in arb_packets()) {
        let rows = run(WindowConfig::default(), &pkts);
        let schema = FeatureSchema::for_widths(&[2.0]);
        let names = ["pkts_out", "pkts_in", "uniq_dports", "uniq_dst_hosts", "uniq_src_hosts", "unique_ips"];
        for row in rows.iter().filter(|r| r.entity != Entity::Global) {
            let want = reference(&pkts, row, 2 * S);
            for (i, n) in names.iter().enumerate() {
                prop_assert_eq!(val(&schema, row, n), want[i], "{} at {} for {}", n, row.window_end_ns, row.entity);
            }
        }
    }

    #[test]
    fn rows_do_not_depend_on_chunking_or_clock_ticks(pkts in arb_packets(), cuts in prop::collection::vec(0usize..120, 0..10)) {
        let whole = run(WindowConfig::default(), &pkts);
        let mut e = WindowEngine::new(WindowConfig::default()).unwrap();
        let mut rows: Vec<FeatureRow> = Vec::new();
        for (i, p) in pkts.iter().enumerate() {
            if cuts.contains(&i) {
                // A live timer firing between packets, at a time before the next one.
                e.advance_to(p.ts_ns, &mut rows);
            }
            e.push(p, &mut rows);
        }
        e.finish(&mut rows);
        prop_assert_eq!(whole, rows);
    }

    #[test]
    fn tumbling_window_counts_sum_to_the_input(pkts in arb_packets()) {
        let cfg = WindowConfig { widths_s: vec![0.5], hop_s: 0.5, ..WindowConfig::default() };
        let rows = run(cfg, &pkts);
        let schema = FeatureSchema::for_widths(&[0.5]);
        let global: f64 = rows.iter().filter(|r| r.entity == Entity::Global).map(|r| val(&schema, r, "pkts_out")).sum();
        let sent: f64 = rows.iter().filter(|r| r.entity != Entity::Global).map(|r| val(&schema, r, "pkts_out")).sum();
        let received: f64 = rows.iter().filter(|r| r.entity != Entity::Global).map(|r| val(&schema, r, "pkts_in")).sum();
        prop_assert_eq!(global, pkts.len() as f64);
        prop_assert_eq!(sent, pkts.len() as f64);
        prop_assert_eq!(received, pkts.len() as f64);
    }
}

proptest! {
    /// The radix sort of host keys orders like `sort_unstable`, for IPv4-mapped keys,
    /// IPv6 keys, a mix, and lists below and above the radix threshold.
    #[test]
    fn sort_keys_orders_like_sort_unstable(
        v4 in prop::collection::vec(any::<u32>(), 0..900),
        v6 in prop::collection::vec(any::<u128>(), 0..400),
        low in prop::collection::vec(0u128..1024, 0..400),
    ) {
        let mapped = v4.iter().map(|a| (0xffffu128 << 32) | *a as u128);
        for keys in [
            mapped.clone().collect::<Vec<_>>(),
            v6.clone(),
            low.clone(),
            mapped.chain(v6.iter().copied()).chain(low.iter().copied()).collect(),
        ] {
            let mut want = keys.clone();
            want.sort_unstable();
            let (mut got, mut scratch) = (keys, Vec::new());
            super::window::sort_keys(&mut got, &mut scratch);
            prop_assert_eq!(got, want);
        }
    }
}
