//! Simulator tests: every frame is well-formed, output is deterministic, timestamps are
//! ordered, TCP sequence numbers are consistent, and each scenario shows its attack
//! signature inside its labelled episodes.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

use super::frame::{checksum, transport_checksum, ACK, FIN, RST, SYN};
use super::*;
use crate::labels::HostSpec;

mod scenarios;

const START: u64 = 1_704_067_200_000_000_000;

/// A decoded, validated frame.
#[derive(Clone, Debug)]
struct P {
    ts: u64,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    sport: u16,
    dport: u16,
    flags: u8,
    seq: u32,
    ack: u32,
    plen: usize,
    icmp: (u8, u8),
    /// For ICMP errors: (src, dst, proto) of the quoted datagram.
    quoted: Option<(Ipv4Addr, Ipv4Addr, u8)>,
}

fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Decodes one frame, asserting Ethernet/IPv4 well-formedness, consistent lengths and
/// correct IPv4, TCP, UDP and ICMP checksums.
fn decode(f: &SimFrame) -> P {
    let b = &f.frame;
    assert!(b.len() >= 60, "short frame {}", b.len());
    assert_eq!(be16(b, 12), 0x0800, "not IPv4");
    let ip = &b[14..];
    assert_eq!(ip[0], 0x45, "version/IHL");
    let total = usize::from(be16(ip, 2));
    assert!(
        total >= 20 && 14 + total <= b.len(),
        "IP total length {total} vs frame {}",
        b.len()
    );
    if b.len() > 60 {
        assert_eq!(
            14 + total,
            b.len(),
            "frame longer than the datagram without being padding"
        );
    }
    assert_eq!(checksum(&ip[..20]), 0, "IPv4 header checksum");
    assert!(ip[8] > 0, "TTL 0");
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let proto = ip[9];
    let l4 = &ip[20..total];
    let mut p = P {
        ts: f.ts_ns,
        src,
        dst,
        proto,
        sport: 0,
        dport: 0,
        flags: 0,
        seq: 0,
        ack: 0,
        plen: 0,
        icmp: (0, 0),
        quoted: None,
    };
    match proto {
        6 => {
            let off = usize::from(l4[12] >> 4) * 4;
            assert!(off >= 20 && off <= l4.len(), "TCP data offset");
            assert_eq!(transport_checksum(src, dst, 6, l4), 0, "TCP checksum");
            p.sport = be16(l4, 0);
            p.dport = be16(l4, 2);
            p.seq = be32(l4, 4);
            p.ack = be32(l4, 8);
            p.flags = l4[13];
            p.plen = l4.len() - off;
        }
        17 => {
            assert_eq!(usize::from(be16(l4, 4)), l4.len(), "UDP length");
            assert_eq!(transport_checksum(src, dst, 17, l4), 0, "UDP checksum");
            p.sport = be16(l4, 0);
            p.dport = be16(l4, 2);
            p.plen = l4.len() - 8;
        }
        1 => {
            assert_eq!(checksum(l4), 0, "ICMP checksum");
            p.icmp = (l4[0], l4[1]);
            p.plen = l4.len() - 8;
            if l4[0] == 3 {
                let q = &l4[8..];
                assert!(
                    q.len() >= 28 && q[0] == 0x45,
                    "ICMP error quotes an IP header + 8 bytes"
                );
                assert_eq!(checksum(&q[..20]), 0, "quoted header checksum");
                p.quoted = Some((
                    Ipv4Addr::new(q[12], q[13], q[14], q[15]),
                    Ipv4Addr::new(q[16], q[17], q[18], q[19]),
                    q[9],
                ));
            }
        }
        other => panic!("unexpected protocol {other}"),
    }
    p
}

/// The capture crate's decoder (the path replayed captures take) reads the same fields.
fn cross_check(f: &SimFrame, p: &P) {
    let len = f.frame.len() as u32;
    let (rec, notes) = capture::decode_frame(capture::LinkType::Ethernet, f.ts_ns, len, &f.frame)
        .unwrap_or_else(|e| panic!("capture decoder skipped {p:?}: {e:?}"));
    assert!(!notes.transport_truncated && !rec.fragment, "{p:?}");
    assert_eq!(
        (rec.src, rec.dst, rec.proto),
        (IpAddr::V4(p.src), IpAddr::V4(p.dst), p.proto)
    );
    assert_eq!(
        (rec.src_port, rec.dst_port, rec.tcp_flags),
        (p.sport, p.dport, p.flags)
    );
    assert_eq!((rec.icmp_type, rec.icmp_code), p.icmp);
    assert_eq!((rec.ts_ns, rec.wire_len), (f.ts_ns, len));
}

fn cfg(scenario: Scenario, seconds: f64, seed: u64) -> SimConfig {
    SimConfig {
        scenario,
        seconds,
        seed,
        start_ts_ns: START,
        intensity: 1.0,
    }
}

/// Runs a config, validating every frame and the ordering; returns the packets, the
/// episodes and the LAN prefix.
fn run(c: &SimConfig) -> (Vec<P>, Vec<Episode>, [u8; 3]) {
    let mut sim = Simulator::new(c);
    let episodes = sim.episodes().to_vec();
    let prefix = sim.engine.net.prefix;
    let end = c.start_ts_ns + (c.seconds * 1e9) as u64;
    let mut out = Vec::new();
    let mut last = 0;
    for f in &mut sim {
        assert!(f.ts_ns >= last, "timestamps go back");
        assert!(
            f.ts_ns >= c.start_ts_ns && f.ts_ns < end,
            "frame outside the capture"
        );
        last = f.ts_ns;
        let p = decode(&f);
        cross_check(&f, &p);
        out.push(p);
    }
    (out, episodes, prefix)
}

fn addr(h: &HostSpec) -> Option<Ipv4Addr> {
    match h {
        HostSpec::Addr(IpAddr::V4(a)) => Some(*a),
        _ => None,
    }
}

fn in_ep(e: &Episode, ts: u64) -> bool {
    let t = ts as f64 / 1e9;
    t >= e.start_ts - 1e-6 && t <= e.end_ts + 1e-6
}

fn syn_only(p: &P) -> bool {
    p.proto == 6 && p.flags & (SYN | ACK) == SYN
}

/// Every packet from an episode's attacker to its victim lies within the episode.
fn assert_covered(pkts: &[P], eps: &[Episode]) {
    for p in pkts {
        let mine: Vec<&Episode> = eps
            .iter()
            .filter(|e| addr(&e.attacker) == Some(p.src) && e.victim.matches(IpAddr::V4(p.dst)))
            .collect();
        if !mine.is_empty() {
            assert!(
                mine.iter().any(|e| in_ep(e, p.ts)),
                "attack packet {p:?} outside its episode {mine:?}"
            );
        }
    }
}

#[test]
fn simulator_can_move_to_another_thread() {
    fn is_send<T: Send>() {}
    is_send::<Simulator>();
}

#[test]
fn scenario_names_round_trip_and_errors_list_them() {
    assert_eq!(Scenario::all().len(), 13);
    for s in Scenario::all() {
        assert_eq!(s.name().parse::<Scenario>(), Ok(*s));
        assert_eq!(
            s.name()
                .to_uppercase()
                .replace('-', "_")
                .parse::<Scenario>(),
            Ok(*s)
        );
        assert!(!s.describe().is_empty());
        assert_eq!(
            s.attack_type().is_none(),
            matches!(s, Scenario::Benign | Scenario::Mixed)
        );
    }
    let err = "nmap".parse::<Scenario>().unwrap_err().to_string();
    assert!(
        err.contains("nmap") && err.contains("synflood-spoofed") && err.contains("connect-scan"),
        "{err}"
    );
    let d = SimConfig::default();
    assert_eq!(
        (d.scenario, d.seconds, d.seed, d.intensity),
        (Scenario::Mixed, 60.0, 7, 1.0)
    );
}

#[test]
fn same_seed_same_frames_different_seed_different() {
    let hash = |seed: u64| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut n = 0;
        for f in Simulator::new(&cfg(Scenario::Mixed, 20.0, seed)) {
            for b in f.ts_ns.to_le_bytes().iter().chain(&f.frame) {
                h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
            }
            n += 1;
        }
        (h, n)
    };
    let a = hash(11);
    assert!(a.1 > 1000, "too few frames: {}", a.1);
    assert_eq!(a, hash(11));
    assert_ne!(a.0, hash(12).0);
}

#[test]
fn write_scenario_is_byte_identical_and_labels_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(Scenario::Mixed, 15.0, 3);
    let mut calls = 0;
    let a = write_scenario(&c, &dir.path().join("a"), &mut |_| calls += 1).unwrap();
    let b = write_scenario(&c, &dir.path().join("b"), &mut |_| {}).unwrap();
    assert!(calls >= 1 && a.frames > 0 && a.frames == b.frames && a.bytes == b.bytes);
    let read = |p: &Path| std::fs::read(p).unwrap();
    assert_eq!(read(&a.pcap), read(&b.pcap));
    assert_eq!(read(&a.labels), read(&b.labels));
    let pcap = read(&a.pcap);
    assert_eq!(&pcap[..4], &0xa1b2_3c4du32.to_le_bytes());
    assert_eq!(
        u32::from_le_bytes([pcap[20], pcap[21], pcap[22], pcap[23]]),
        1
    );
    let eps = crate::labels::read_episodes(&a.labels).unwrap();
    assert_eq!(eps, Simulator::new(&c).episodes());
    assert_eq!(eps.len(), a.episodes);
    assert!(write_scenario(&cfg(Scenario::Mixed, 0.0, 1), dir.path(), &mut |_| {}).is_err());
    let mut bad = cfg(Scenario::Mixed, 1.0, 1);
    bad.intensity = f64::NAN;
    assert!(write_scenario(&bad, dir.path(), &mut |_| {}).is_err());
}

#[test]
fn invalid_configs_do_not_panic() {
    for (seconds, intensity) in [
        (0.0, 1.0),
        (-5.0, 1.0),
        (f64::NAN, 1.0),
        (0.5, 0.0),
        (0.5, f64::INFINITY),
        (0.01, 1.0),
    ] {
        let c = SimConfig {
            scenario: Scenario::Ddos,
            seconds,
            seed: 1,
            start_ts_ns: START,
            intensity,
        };
        let _ = Simulator::new(&c).count();
    }
}

#[test]
fn every_scenario_is_well_formed_ordered_and_covered() {
    for (i, &s) in Scenario::all().iter().enumerate() {
        let (pkts, eps, _) = run(&cfg(s, 12.0, 100 + i as u64));
        assert!(pkts.len() > 100, "{s}: {} frames", pkts.len());
        assert_eq!(eps.is_empty(), s == Scenario::Benign, "{s}");
        if let Some(t) = s.attack_type() {
            assert!(
                eps.iter()
                    .all(|e| e.attack_type == t && e.detail.starts_with(s.name())),
                "{s}: {eps:?}"
            );
        }
        assert_covered(&pkts, &eps);
    }
}

#[test]
fn tcp_sequence_and_ack_numbers_are_consistent() {
    let (pkts, _, _) = run(&cfg(Scenario::Benign, 30.0, 5));
    let mut next: HashMap<(Ipv4Addr, u16, Ipv4Addr, u16), u32> = HashMap::new();
    let mut acks: HashMap<(Ipv4Addr, u16, Ipv4Addr, u16), u32> = HashMap::new();
    let (mut checked, mut handshakes) = (0, 0);
    for p in pkts.iter().filter(|p| p.proto == 6 && p.flags & RST == 0) {
        let key = (p.src, p.sport, p.dst, p.dport);
        if p.flags & SYN != 0 {
            next.insert(key, p.seq.wrapping_add(1));
            if p.flags & ACK != 0 {
                let peer = (p.dst, p.dport, p.src, p.sport);
                assert_eq!(
                    next.get(&peer),
                    Some(&p.ack),
                    "SYN/ACK acknowledges the SYN"
                );
                handshakes += 1;
            }
            continue;
        }
        if let Some(n) = next.get_mut(&key) {
            if p.seq != *n {
                for q in pkts.iter().filter(|q| {
                    (q.src, q.sport) == (p.src, p.sport) || (q.dst, q.dport) == (p.src, p.sport)
                }) {
                    eprintln!(
                        "{} {}:{} -> {}:{} f={:02x} seq={} ack={} len={}",
                        q.ts, q.src, q.sport, q.dst, q.dport, q.flags, q.seq, q.ack, q.plen
                    );
                }
            }
            assert_eq!(p.seq, *n, "sequence gap in {p:?}");
            *n = n.wrapping_add(p.plen as u32 + u32::from(p.flags & FIN != 0));
            checked += 1;
        }
        if p.flags & ACK != 0 {
            if let Some(prev) = acks.insert(key, p.ack) {
                assert!(
                    p.ack.wrapping_sub(prev) < 1 << 31,
                    "ACK number went back in {p:?}"
                );
            }
        }
    }
    assert!(
        handshakes > 20 && checked > 1000,
        "{handshakes} handshakes, {checked} segments"
    );
}

#[test]
fn benign_has_realistic_mix_and_no_episodes() {
    let (pkts, eps, prefix) = run(&cfg(Scenario::Benign, 30.0, 9));
    assert!(eps.is_empty());
    let dns = pkts
        .iter()
        .filter(|p| p.proto == 17 && (p.dport == 53 || p.sport == 53))
        .count();
    let syns = pkts.iter().filter(|p| syn_only(p)).count();
    let external = pkts
        .iter()
        .filter(|p| p.dst.octets()[..3] != prefix)
        .count();
    let full = pkts.iter().filter(|p| p.plen >= 1400).count();
    assert!(
        dns > 10 && syns > 20 && external > 100 && full > 100,
        "dns {dns} syn {syns} ext {external} full {full}"
    );
    let ttls_vary = pkts.iter().map(|p| p.src).collect::<HashSet<_>>().len();
    assert!(ttls_vary > 20);
}
