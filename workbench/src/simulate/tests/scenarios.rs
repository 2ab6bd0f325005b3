//! Each scenario's attack signature, checked on the packets of its episodes.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use super::*;

fn ep_hosts(e: &Episode) -> (Option<Ipv4Addr>, Option<Ipv4Addr>) {
    (addr(&e.attacker), addr(&e.victim))
}

#[test]
fn portscan_syns_many_ports_and_victim_resets() {
    let mut answered = 0;
    for seed in 1..=4 {
        let (pkts, eps, _) = run(&cfg(Scenario::Portscan, 20.0, seed));
        assert_eq!(eps.len(), 1);
        let (Some(a), Some(v)) = ep_hosts(&eps[0]) else {
            panic!("{eps:?}")
        };
        let ports: HashSet<u16> = pkts
            .iter()
            .filter(|p| p.src == a && p.dst == v && syn_only(p))
            .map(|p| p.dport)
            .collect();
        assert!(ports.len() >= 100, "seed {seed}: {} ports", ports.len());
        let rsts = pkts
            .iter()
            .filter(|p| p.src == v && p.dst == a && p.flags & RST != 0)
            .count();
        if eps[0].detail.contains("victim_firewall=false") {
            assert!(rsts >= 100, "seed {seed}: {rsts} RSTs");
            answered += 1;
        }
    }
    assert!(answered > 0);
}

#[test]
fn connect_scan_completes_handshakes_then_resets() {
    let (pkts, eps, _) = run(&cfg(Scenario::ConnectScan, 20.0, 2));
    let (Some(a), Some(v)) = ep_hosts(&eps[0]) else {
        panic!()
    };
    let sports: HashSet<u16> = pkts
        .iter()
        .filter(|p| p.src == a && p.dst == v && syn_only(p))
        .map(|p| p.sport)
        .collect();
    assert!(
        sports.len() >= 50,
        "connect scans use a new source port per probe"
    );
    let synacks = pkts
        .iter()
        .filter(|p| p.src == v && p.dst == a && p.flags == SYN | ACK)
        .count();
    let resets = pkts
        .iter()
        .filter(|p| p.src == a && p.dst == v && p.flags == RST | ACK)
        .count();
    assert!(
        synacks > 0 && resets >= synacks,
        "{synacks} open ports, {resets} resets"
    );
}

#[test]
fn udp_scan_gets_rate_limited_icmp_unreachables() {
    let (pkts, eps, _) = run(&cfg(Scenario::UdpScan, 30.0, 4));
    let (Some(a), Some(v)) = ep_hosts(&eps[0]) else {
        panic!()
    };
    let probes = pkts
        .iter()
        .filter(|p| p.src == a && p.dst == v && p.proto == 17)
        .count();
    let unreach: Vec<&P> = pkts
        .iter()
        .filter(|p| p.src == v && p.icmp == (3, 3) && p.proto == 1)
        .collect();
    assert!(
        !unreach.is_empty() && unreach.len() < probes / 2,
        "{} unreachables for {probes} probes",
        unreach.len()
    );
    assert!(unreach
        .iter()
        .all(|p| p.dst == a && p.quoted == Some((a, v, 17))));
}

#[test]
fn slow_scan_probes_every_one_to_ten_seconds() {
    let (pkts, eps, _) = run(&cfg(Scenario::SlowScan, 60.0, 3));
    let a = addr(&eps[0].attacker).unwrap();
    let t: Vec<u64> = pkts
        .iter()
        .filter(|p| p.src == a && syn_only(p))
        .map(|p| p.ts)
        .collect();
    assert!(t.len() >= 5, "{} probes", t.len());
    assert!(t
        .windows(2)
        .all(|w| (1_000_000_000..=10_000_000_000).contains(&(w[1] - w[0]))));
}

#[test]
fn synflood_is_fast_and_answered_until_the_backlog_fills() {
    let (pkts, eps, _) = run(&cfg(Scenario::Synflood, 10.0, 6));
    let (Some(a), Some(v)) = ep_hosts(&eps[0]) else {
        panic!()
    };
    let syns = pkts
        .iter()
        .filter(|p| p.src == a && p.dst == v && syn_only(p))
        .count();
    let secs = eps[0].end_ts - eps[0].start_ts;
    assert!(syns as f64 / secs > 3000.0, "{syns} SYNs in {secs} s");
    let synacks = pkts
        .iter()
        .filter(|p| p.src == v && p.dst == a && p.flags == SYN | ACK)
        .count();
    assert!(synacks > 0);
}

#[test]
fn spoofed_synflood_sources_are_mostly_distinct_and_memory_stays_bounded() {
    let mut c = cfg(Scenario::SynfloodSpoofed, 6.0, 8);
    c.intensity = 5.0;
    let mut sim = Simulator::new(&c);
    let victim = addr(&sim.episodes()[0].victim).unwrap();
    assert_eq!(sim.episodes()[0].attacker, HostSpec::Any);
    let (mut srcs, mut syns, mut peak) = (HashSet::new(), 0usize, 0usize);
    while let Some(f) = sim.next() {
        peak = peak.max(sim.pending());
        let p = decode(&f);
        if p.dst == victim && syn_only(&p) && p.src.octets()[..3] != sim.engine.net.prefix {
            syns += 1;
            srcs.insert(p.src);
        }
    }
    assert!(syns > 100_000, "{syns} SYNs");
    assert!(
        srcs.len() as f64 >= 0.9 * syns as f64,
        "{} distinct of {syns}",
        srcs.len()
    );
    assert!(peak < 20_000, "{peak} events pending");
}

#[test]
fn udpflood_and_ddos_signatures() {
    let (pkts, eps, _) = run(&cfg(Scenario::Udpflood, 10.0, 2));
    let (Some(a), Some(v)) = ep_hosts(&eps[0]) else {
        panic!()
    };
    let flood: Vec<&P> = pkts
        .iter()
        .filter(|p| p.src == a && p.dst == v && p.proto == 17)
        .collect();
    assert!(flood.len() > 5000 && flood.iter().all(|p| (64..=1400).contains(&p.plen)));
    for seed in 1..=3 {
        let (pkts, eps, _) = run(&cfg(Scenario::Ddos, 10.0, seed));
        assert!((50..=500).contains(&eps.len()), "one episode per bot");
        let bots: HashSet<Ipv4Addr> = eps.iter().filter_map(|e| addr(&e.attacker)).collect();
        let v = addr(&eps[0].victim).unwrap();
        let active: HashSet<Ipv4Addr> = pkts
            .iter()
            .filter(|p| p.dst == v && bots.contains(&p.src))
            .map(|p| p.src)
            .collect();
        assert!(
            active.len() >= 50 && active.len() * 10 >= bots.len() * 9,
            "{} of {} bots seen",
            active.len(),
            bots.len()
        );
    }
}

#[test]
fn bruteforce_opens_many_short_sessions_that_all_close() {
    for seed in 1..=4 {
        let (pkts, eps, _) = run(&cfg(Scenario::Bruteforce, 30.0, seed));
        let (Some(a), Some(v)) = ep_hosts(&eps[0]) else {
            panic!()
        };
        let to_victim = |p: &&P| p.src == a && p.dst == v;
        let conns: HashSet<u16> = pkts
            .iter()
            .filter(to_victim)
            .filter(|p| syn_only(p))
            .map(|p| p.sport)
            .collect();
        let port = pkts.iter().find(to_victim).map(|p| p.dport).unwrap();
        assert!(port == 22 || port == 21);
        assert!(
            conns.len() >= 10,
            "seed {seed}: {} connections",
            conns.len()
        );
        // Each connection ends with the client's or the server's FIN, inside the episode.
        let closed: HashSet<u16> = pkts
            .iter()
            .filter(|p| p.proto == 6 && p.flags & FIN != 0)
            .filter(|p| (p.src, p.dst) == (a, v) || (p.src, p.dst) == (v, a))
            .map(|p| if p.src == a { p.sport } else { p.dport })
            .collect();
        assert_eq!(closed, conns, "seed {seed}: every session closes");
        assert_covered(&pkts, &eps);
    }
}

#[test]
fn exfil_uploads_tens_of_megabytes_with_small_acks() {
    let (pkts, eps, prefix) = run(&cfg(Scenario::Exfil, 30.0, 4));
    let (Some(a), Some(v)) = ep_hosts(&eps[0]) else {
        panic!()
    };
    assert_eq!(a.octets()[..3], prefix, "an internal host");
    let up: usize = pkts
        .iter()
        .filter(|p| p.src == a && p.dst == v)
        .map(|p| p.plen)
        .sum();
    let down: usize = pkts
        .iter()
        .filter(|p| p.src == v && p.dst == a)
        .map(|p| p.plen)
        .sum();
    assert!(up > 10_000_000 && down * 100 < up, "up {up} down {down}");
}

#[test]
fn mixed_has_several_distinct_attacks_separated_by_gaps() {
    let (_, eps, _) = run(&cfg(Scenario::Mixed, 60.0, 7));
    let kinds: Vec<&str> = eps
        .iter()
        .map(|e| e.detail.split(' ').next().unwrap_or(""))
        .collect();
    let distinct: HashSet<&str> = kinds.iter().copied().collect();
    assert!(distinct.len() >= 2, "{kinds:?}");
}
