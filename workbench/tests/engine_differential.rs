//! The optimised engine against the frozen baseline copy (`engine_baseline/`, the
//! engine before the December 2026 speed work): the same packets give the same rows,
//! bit for bit, and the same counters.

mod engine_baseline;

use std::net::{IpAddr, Ipv4Addr};

use capture::{ip_proto, tcp_flag, PacketRecord};
use proptest::prelude::*;
use workbench::engine::{FeatureRow, RowRef, WindowConfig, WindowEngine};

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

/// Runs `cfg` over `pkts` on the current engine and on the baseline copy
/// (`engine_baseline/`), with `advance_to` ticks before the packets in `ticks`, and
/// requires the same rows, bit for bit, and the same counters.
fn assert_same_as_baseline(cfg: &WindowConfig, pkts: &[PacketRecord], ticks: &[usize]) {
    use engine_baseline::window::WindowEngine as Baseline;
    let mut new = WindowEngine::new(cfg.clone()).unwrap();
    let mut old = Baseline::new(cfg.clone()).unwrap();
    let (mut new_rows, mut old_rows): (Vec<FeatureRow>, Vec<FeatureRow>) = (Vec::new(), Vec::new());
    for (i, p) in pkts.iter().enumerate() {
        if ticks.contains(&i) {
            new.advance_to(p.ts_ns, &mut new_rows);
            old.advance_to(p.ts_ns, &mut old_rows);
        }
        new.push(p, &mut new_rows);
        old.push(p, &mut old_rows);
        if i % 1024 == 0 {
            assert_eq!(new.hosts_tracked(), old.hosts_tracked());
        }
    }
    new.finish(&mut new_rows);
    old.finish(&mut old_rows);
    assert_eq!(new_rows.len(), old_rows.len(), "row count");
    for (i, (a, b)) in new_rows.iter().zip(&old_rows).enumerate() {
        let bits = |r: &FeatureRow| r.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert!(
            a.window_end_ns == b.window_end_ns
                && a.entity == b.entity
                && a.width_s.to_bits() == b.width_s.to_bits()
                && bits(a) == bits(b),
            "row {i} differs:\n new {a:?}\n old {b:?}"
        );
    }
    assert_eq!(
        serde_json::to_value(new.stats()).unwrap(),
        serde_json::to_value(old.stats()).unwrap(),
        "engine counters"
    );
}

/// Packets with everything the engine distinguishes: v4 and v6 hosts from a pool
/// (sometimes a host talking to itself), TCP/UDP/ICMP/ICMPv6/GRE, every flag byte,
/// ICMP types the features look at, fragments with and without ports, odd lengths,
/// time steps from 0 to several windows, and now and then a packet from the past.
fn arb_rich_packets(
    hosts: u16,
    ports: u16,
    max: usize,
) -> impl Strategy<Value = Vec<PacketRecord>> {
    prop::collection::vec(
        (
            (0u8..10, 0u64..400_000_000),
            (0..hosts, 0..hosts, any::<bool>()),
            (0usize..6, 0..ports, any::<u8>(), 0usize..6),
            (any::<bool>(), 0u32..3000),
        ),
        1..max,
    )
    .prop_map(move |raw| {
        let mut ts = 1_700_000_000 * S;
        raw.into_iter()
            .map(
                |((gap, dt), (s, d, v6), (p, port, flags, icmp), (frag, len))| {
                    match gap {
                        0 => ts = ts.saturating_sub(dt), // late packet
                        1 => ts += 3 * S + dt * 10,      // idle gap of several windows
                        _ => ts += dt / 8,
                    }
                    let addr = |h: u16| -> IpAddr {
                        if v6 && h % 3 == 0 {
                            IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, h))
                        } else {
                            IpAddr::V4(Ipv4Addr::new(10, 0, (h >> 8) as u8, h as u8))
                        }
                    };
                    let proto = [
                        ip_proto::TCP,
                        ip_proto::UDP,
                        ip_proto::ICMP,
                        ip_proto::ICMPV6,
                        47,
                        ip_proto::TCP,
                    ][p];
                    let has_ports = proto == ip_proto::TCP || proto == ip_proto::UDP;
                    let ports_cut = frag && port % 2 == 0;
                    PacketRecord {
                        ts_ns: ts,
                        src: addr(s),
                        dst: addr(d),
                        src_port: if has_ports && !ports_cut {
                            40000 + s
                        } else {
                            0
                        },
                        dst_port: if has_ports && !ports_cut { port } else { 0 },
                        proto,
                        tcp_flags: if proto == ip_proto::TCP { flags } else { 0 },
                        icmp_type: [0u8, 1, 3, 8, 128, 11][icmp],
                        icmp_code: 0,
                        wire_len: 40 + len,
                        cap_len: 40 + len.min(100),
                        fragment: frag,
                    }
                },
            )
            .collect()
    })
}

fn arb_config() -> impl Strategy<Value = WindowConfig> {
    prop_oneof![
        Just(WindowConfig::default()),
        (1usize..12, 1usize..8).prop_map(|(h, k)| WindowConfig {
            max_hosts: h,
            max_keys_per_host: k,
            ..WindowConfig::default()
        }),
        Just(WindowConfig {
            widths_s: vec![0.5, 2.0, 10.0],
            ..WindowConfig::default()
        }),
        (1usize..6).prop_map(|k| WindowConfig {
            widths_s: vec![1.0, 0.25],
            hop_s: 0.25,
            max_keys_per_host: k,
            ..WindowConfig::default()
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn rows_equal_the_baseline_engine(
        cfg in arb_config(),
        pkts in arb_rich_packets(12, 10, 300),
        ticks in prop::collection::vec(0usize..300, 0..6),
    ) {
        assert_same_as_baseline(&cfg, &pkts, &ticks);
    }

    #[test]
    fn rows_equal_the_baseline_engine_with_many_keys(
        cfg in arb_config(),
        pkts in arb_rich_packets(400, 300, 2000),
    ) {
        assert_same_as_baseline(&cfg, &pkts, &[]);
    }
}

/// A spoofed-source flood large enough to fill the global key maps (2^18 keys each)
/// and the host table, with a busy victim and a few real hosts: the saturation,
/// eviction and key-sweep paths, against the baseline.
#[test]
fn a_spoofed_flood_equals_the_baseline_engine() {
    let mut pkts = Vec::new();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut ts = 1_700_000_000 * S;
    for i in 0..640_000u64 {
        // 100k packets/s for 3 s (the global maps fill and saturate), 10k/s for 2 s
        // (few live keys: the sweep empties them), 100k/s for 3.2 s again.
        ts += if (300_000..320_000).contains(&i) {
            100_000
        } else {
            10_000
        };
        let r = rand();
        let src = if i % 50 == 0 {
            IpAddr::V4(Ipv4Addr::new(192, 168, 1, (r % 5) as u8))
        } else {
            IpAddr::V4(Ipv4Addr::from((r >> 16) as u32))
        };
        let mut p = pkt(ts, 1, 2, ip_proto::TCP, 80 + (r % 3) as u16, tcp_flag::SYN);
        p.src = src;
        p.src_port = (r >> 48) as u16;
        pkts.push(p);
        if i % 7 == 0 {
            // The victim answers some of them.
            let mut a = pkt(
                ts + 1,
                2,
                1,
                ip_proto::TCP,
                p.src_port,
                tcp_flag::SYN | tcp_flag::ACK,
            );
            a.dst = src;
            pkts.push(a);
        }
    }
    let cfg = WindowConfig {
        max_hosts: 4096,
        max_keys_per_host: 2048,
        ..WindowConfig::default()
    };
    assert_same_as_baseline(&cfg, &pkts, &[]);
    let mut e = WindowEngine::new(cfg).unwrap();
    let mut rows = 0u64;
    for p in &pkts {
        e.push(p, &mut |_: RowRef<'_>| rows += 1);
    }
    let st = e.stats();
    assert!(
        st.distinct_saturated > 100_000 && st.hosts_evicted > 10_000,
        "{st:?}"
    );
    assert_same_as_baseline(&WindowConfig::default(), &pkts[..200_000], &[1000, 150_000]);
}
