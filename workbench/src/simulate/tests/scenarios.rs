//! Each scenario's attack signature, checked on the packets of its episodes.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use super::*;

fn ep_hosts(e: &Episode) -> (Option<Ipv4Addr>, Option<Ipv4Addr>) {
    (addr(&e.attacker), addr(&e.victim))
}

#[test]
fn portscan_syns_many_ports_and_victim_resets() {
    let (mut answered, mut syn_scans) = (0, 0);
    for seed in 1..=8 {
        let planned = Simulator::new(&cfg(Scenario::Portscan, 20.0, seed))
            .episodes()
            .to_vec();
        // Raw scans without SYN and echo sweeps have their own test.
        if !planned[0].detail.contains("-sS") {
            continue;
        }
        syn_scans += 1;
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
    assert!(syn_scans >= 4, "only {syn_scans} SYN scans in 8 seeds");
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
        assert_eq!(eps.len(), 1, "one episode, attacker `*`: {eps:?}");
        assert_eq!(eps[0].attacker, HostSpec::Any);
        let v = addr(&eps[0].victim).unwrap();
        // 50-500 bots (plus the usual outside clients), each a distinct source of
        // traffic to the victim; nearly all of it inside the one episode.
        let to_victim: Vec<&P> = pkts.iter().filter(|p| p.dst == v).collect();
        let sources: HashSet<Ipv4Addr> = to_victim.iter().map(|p| p.src).collect();
        assert!(
            sources.len() >= 50,
            "{} sources sent to the victim",
            sources.len()
        );
        let inside = to_victim.iter().filter(|p| in_ep(&eps[0], p.ts)).count();
        assert!(
            inside * 100 >= to_victim.len() * 95,
            "{inside} of {} packets to the victim inside {:?}",
            to_victim.len(),
            eps[0]
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

#[test]
fn reflection_hits_the_victim_from_many_reflectors_of_one_service() {
    for seed in 1..=4 {
        let (pkts, eps, _) = run(&cfg(Scenario::Reflection, 8.0, seed));
        assert_eq!(eps.len(), 1, "one episode for the whole attack");
        assert!(matches!(eps[0].attacker, HostSpec::Any), "{eps:?}");
        assert_eq!(eps[0].attack_type, crate::labels::AttackType::Ddos);
        let v = addr(&eps[0].victim).unwrap();
        // Reflected packets: from outside the LAN to the victim, from the service port.
        let sport = if eps[0].detail.contains("service=tcp-synack/") {
            None
        } else {
            Some(())
        };
        let refl: Vec<&P> = pkts
            .iter()
            .filter(|p| p.dst == v && in_ep(&eps[0], p.ts))
            .filter(|p| match sport {
                Some(()) => p.proto == 17 && eps[0].detail.contains(&format!("/{} ", p.sport)),
                None => p.proto == 6 && p.flags & (SYN | ACK) == SYN | ACK,
            })
            .collect();
        let sources: HashSet<Ipv4Addr> = refl.iter().map(|p| p.src).collect();
        assert!(
            refl.len() >= 1000 && sources.len() >= 15,
            "seed {seed}: {} packets from {} reflectors ({})",
            refl.len(),
            sources.len(),
            eps[0].detail
        );
        // The victim never asked: it sends nothing to the reflectors but RSTs and ICMP.
        assert!(pkts
            .iter()
            .filter(|p| p.src == v && sources.contains(&p.dst))
            .all(|p| p.proto == 1 || (p.proto == 6 && p.flags & RST != 0)));
    }
}

#[test]
fn portscans_include_raw_scans_without_syn_and_echo_sweeps() {
    let (mut stealth, mut sweep) = (0, 0);
    for seed in 1..=40 {
        let eps = Simulator::new(&cfg(Scenario::Portscan, 20.0, seed))
            .episodes()
            .to_vec();
        let d = &eps[0].detail;
        if ["-sF", "-sX", "-sN", "-sA"].iter().any(|f| d.contains(f)) && stealth == 0 {
            stealth += 1;
            let (pkts, eps, _) = run(&cfg(Scenario::Portscan, 20.0, seed));
            let (Some(a), Some(v)) = ep_hosts(&eps[0]) else {
                panic!("{eps:?}")
            };
            let probes: Vec<&P> = pkts
                .iter()
                .filter(|p| p.src == a && p.dst == v && p.proto == 6)
                .collect();
            assert!(probes.len() >= 100, "{d}: {} probes", probes.len());
            assert!(probes.iter().all(|p| p.flags & SYN == 0), "{d}: a SYN");
            let rsts = pkts
                .iter()
                .filter(|p| p.src == v && p.dst == a && p.flags & RST != 0)
                .count();
            assert!(
                rsts >= 50 || d.contains("victim_firewall=true"),
                "{d}: {rsts} RSTs"
            );
        }
        if d.contains("-sn") && sweep == 0 {
            sweep += 1;
            assert!(matches!(eps[0].victim, HostSpec::Any));
            let (pkts, eps, _) = run(&cfg(Scenario::Portscan, 20.0, seed));
            let a = addr(&eps[0].attacker).unwrap();
            let pinged: HashSet<Ipv4Addr> = pkts
                .iter()
                .filter(|p| p.src == a && p.proto == 1 && p.icmp == (8, 0))
                .map(|p| p.dst)
                .collect();
            assert!(pinged.len() >= 20, "{d}: {} hosts pinged", pinged.len());
            assert_covered(&pkts, &eps);
        }
    }
    assert_eq!(
        (stealth, sweep),
        (1, 1),
        "40 seeds drew no raw scan or no sweep"
    );
}
