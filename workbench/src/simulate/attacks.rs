//! Turning one attack slot `[start, end]` into actors and labelled episodes. Every
//! parameter (attacker placement, victim, tool, ports, rates, sizes) is drawn from the
//! seed; the episode's detail records the ones that matter.

use rand::Rng;

use super::flood::{
    Bot, Ddos, DdosMode, Reflected, Reflection, Source, SynFlood, UdpFlood, Victim,
};
use super::frame::{ACK, FIN, PSH};
use super::intrusion;
use super::net::{HostId, Net, Os};
use super::scan::{port_list, scan_pacer, slow_pacer, vertical, Scan, ScanKind, Tool, URG};
use super::sim::{
    between, lognormal, pick, shuffle, uniform, weighted, Gaps, Pacer, Queue, SimRng, MS, SEC,
};
use super::Scenario;
use crate::labels::{AttackType, Episode, HostSpec};

/// Planning state shared by the installers.
pub(crate) struct Planner<'a> {
    pub queue: &'a mut Queue,
    pub net: &'a mut Net,
    pub rng: &'a mut SimRng,
    pub intensity: f64,
    pub sim_end: u64,
    pub episodes: Vec<Episode>,
}

impl Planner<'_> {
    /// A dedicated attacking host: on the LAN with probability `p_internal`, else outside.
    pub(crate) fn attacker(&mut self, p_internal: f64) -> HostId {
        let os = if self.rng.random_bool(0.85) {
            Os::Linux
        } else {
            Os::Windows
        };
        if self.rng.random_bool(p_internal) {
            self.net.add_internal(self.rng, os, &[], &[])
        } else {
            self.net.add_external(self.rng, os, &[], &[])
        }
    }

    /// A scan victim: usually a server, sometimes a client; `avoid_fw` prefers hosts
    /// that answer.
    pub(crate) fn victim(&mut self, avoid_fw: bool) -> HostId {
        let pool = if self.rng.random_bool(0.7) {
            self.net.servers().to_vec()
        } else {
            self.net.clients.clone()
        };
        let mut v = pick(self.rng, &pool).copied().unwrap_or(self.net.web);
        for _ in 0..8 {
            if !(avoid_fw && self.net.hosts[v].firewall) {
                break;
            }
            v = pick(self.rng, &pool).copied().unwrap_or(self.net.web);
        }
        v
    }

    pub(crate) fn label(
        &mut self,
        ty: AttackType,
        attacker: Option<HostId>,
        victim: Option<HostId>,
        start: u64,
        end: u64,
        detail: String,
    ) {
        let spec = |h: Option<HostId>| {
            h.map_or(HostSpec::Any, |h| {
                HostSpec::Addr(self.net.hosts[h].ip.into())
            })
        };
        let end = end.min(self.sim_end.saturating_sub(1)).max(start);
        self.episodes.push(Episode {
            attack_type: ty,
            attacker: spec(attacker),
            victim: spec(victim),
            start_ts: start as f64 / 1e9,
            end_ts: end as f64 / 1e9,
            detail,
        });
    }

    pub(crate) fn slack(&self, a: HostId, b: HostId) -> u64 {
        self.net.resp_max(a) + self.net.resp_max(b) + 400_000
    }
}

/// Installs the attack of `kind` over `[start, end]` (nothing for benign/mixed).
pub(crate) fn install(p: &mut Planner<'_>, kind: Scenario, start: u64, end: u64) {
    match kind {
        Scenario::Portscan | Scenario::ConnectScan | Scenario::UdpScan => scan(p, kind, start, end),
        Scenario::SlowScan => slow_scan(p, start, end),
        Scenario::Synflood | Scenario::SynfloodSpoofed => {
            synflood(p, kind == Scenario::SynfloodSpoofed, start, end)
        }
        Scenario::Udpflood => udpflood(p, start, end),
        Scenario::Ddos => ddos(p, start, end),
        Scenario::Reflection => reflection(p, start, end),
        Scenario::Bruteforce => intrusion::bruteforce(p, start, end),
        Scenario::Exfil => intrusion::exfil(p, start, end),
        Scenario::Benign | Scenario::Mixed => {}
    }
}

fn scan(p: &mut Planner<'_>, kind: Scenario, start: u64, end: u64) {
    if kind == Scenario::Portscan && p.rng.random_bool(0.1) {
        return ping_sweep(p, start, end);
    }
    let attacker = p.attacker(0.4);
    let (sk, n) = match kind {
        // nmap's common choices: every port (-p-), the default top 1000, or another count;
        // mostly SYN scans, sometimes the raw scans without SYN.
        Scenario::Portscan => {
            let n = match weighted(p.rng, &[35.0, 40.0, 25.0]) {
                0 => 65535,
                1 => 1000,
                _ => between(p.rng, 200, 2000),
            };
            let sk = match weighted(p.rng, &[70.0, 7.0, 6.0, 6.0, 6.0, 5.0]) {
                0 => ScanKind::Syn,
                1 => ScanKind::Stealth(FIN),
                2 => ScanKind::Stealth(FIN | PSH | URG),
                3 => ScanKind::Stealth(0),
                _ => ScanKind::Stealth(ACK),
            };
            (sk, n as usize)
        }
        Scenario::ConnectScan => (ScanKind::Connect, between(p.rng, 100, 1000) as usize),
        _ => (ScanKind::Udp, between(p.rng, 100, 1000) as usize),
    };
    if sk == ScanKind::Connect {
        p.net.hosts[attacker].os = if p.rng.random_bool(0.8) {
            Os::Linux
        } else {
            Os::Windows
        };
    }
    let victim = p.victim(sk == ScanKind::Udp);
    let ports = port_list(p.rng, n, sk == ScanKind::Udp);
    let fw = p.net.hosts[victim].firewall;
    let retry = match sk {
        ScanKind::Udp => 0.3,
        _ if fw => 1.0,
        _ => 0.0,
    };
    let mut targets = vertical(p.rng, p.net, victim, &ports, retry);
    if sk == ScanKind::Connect {
        // The kernel retransmits unanswered connects itself; no second pass.
        targets.truncate(ports.len());
    }
    let masscan = sk == ScanKind::Syn && p.rng.random_bool(0.3);
    let tool = if masscan {
        Tool::masscan(p.rng)
    } else {
        Tool::nmap(p.rng)
    };
    let (pacer, rate) = scan_pacer(p.rng, sk, p.intensity, masscan);
    let (scan, last) = Scan::plan(sk, attacker, targets, pacer, tool, start, end);
    let probes = scan.probes();
    let open = ports
        .iter()
        .filter(|&&q| {
            if sk == ScanKind::Udp {
                p.net.hosts[victim].udp_open(q)
            } else {
                p.net.hosts[victim].tcp_open(q)
            }
        })
        .count();
    let flag = match sk {
        ScanKind::Syn => "-sS",
        ScanKind::Connect => "-sT",
        ScanKind::Udp => "-sU",
        ScanKind::Stealth(f) if f == FIN => "-sF",
        ScanKind::Stealth(0) => "-sN",
        ScanKind::Stealth(f) if f == ACK => "-sA",
        ScanKind::Stealth(_) => "-sX",
        ScanKind::Ping => "-sn",
    };
    let name = if sk == ScanKind::Connect {
        "nmap"
    } else {
        tool.name
    };
    let detail = format!(
        "{} tool={name}{flag} ports={n} probes={probes} rate={rate:.0}pps open={open} victim_firewall={fw}",
        kind.name()
    );
    p.queue.spawn(start, Box::new(scan));
    let slack = if sk == ScanKind::Udp {
        0
    } else {
        p.slack(attacker, victim)
    };
    p.label(
        AttackType::PortScan,
        Some(attacker),
        Some(victim),
        start,
        last + slack,
        detail,
    );
}

/// An ICMP echo sweep of the LAN (`nmap -sn`): the victim is every host (`*`).
fn ping_sweep(p: &mut Planner<'_>, start: u64, end: u64) {
    let attacker = p.attacker(0.6);
    let mut hosts: Vec<HostId> = p
        .net
        .clients
        .iter()
        .copied()
        .chain(p.net.servers())
        .filter(|&h| h != attacker)
        .collect();
    shuffle(p.rng, &mut hosts);
    let rounds = between(p.rng, 1, 3) as usize;
    let targets: Vec<(HostId, u16)> = (0..rounds)
        .flat_map(|_| hosts.iter().map(|&h| (h, 0u16)))
        .collect();
    let tool = Tool::nmap(p.rng);
    let (pacer, rate) = scan_pacer(p.rng, ScanKind::Ping, p.intensity, false);
    let (scan, last) = Scan::plan(ScanKind::Ping, attacker, targets, pacer, tool, start, end);
    let detail = format!(
        "portscan tool=nmap-sn hosts={} rounds={rounds} rate={rate:.0}pps",
        hosts.len()
    );
    p.queue.spawn(start, Box::new(scan));
    let slack = p.net.resp_max(attacker) + 2 * MS;
    p.label(
        AttackType::PortScan,
        Some(attacker),
        None,
        start,
        last + slack,
        detail,
    );
}

fn slow_scan(p: &mut Planner<'_>, start: u64, end: u64) {
    let attacker = p.attacker(0.5);
    let pacer = slow_pacer(p.rng, p.intensity);
    let tool = Tool::nmap(p.rng);
    let (targets, victim, mode) = if p.rng.random_bool(0.6) {
        let victim = p.victim(false);
        let ports = port_list(p.rng, 1000, false);
        (
            ports.iter().map(|&q| (victim, q)).collect::<Vec<_>>(),
            Some(victim),
            "vertical".to_string(),
        )
    } else {
        let mut hosts: Vec<HostId> = p
            .net
            .clients
            .iter()
            .copied()
            .chain(p.net.servers())
            .collect();
        let mut ports = vec![22u16, 23, 445, 3389, 80, 5900, 3306, 8080];
        shuffle(p.rng, &mut ports);
        let mut t = Vec::new();
        for &port in &ports {
            shuffle(p.rng, &mut hosts);
            t.extend(hosts.iter().map(|&h| (h, port)));
        }
        (t, None, format!("sweep port={}", ports[0]))
    };
    let (scan, last) = Scan::plan(ScanKind::Syn, attacker, targets, pacer, tool, start, end);
    let detail = format!(
        "slow-scan mode={mode} gap=1-10s/{:.2} tool=nmap-sS",
        p.intensity
    );
    p.queue.spawn(start, Box::new(scan));
    let slack = p.net.resp_max(attacker) + 2 * MS + victim.map_or(0, |v| p.net.resp_max(v));
    p.label(
        AttackType::PortScan,
        Some(attacker),
        victim,
        start,
        last + slack,
        detail,
    );
}

fn synflood(p: &mut Planner<'_>, spoofed: bool, start: u64, end: u64) {
    let victim_host = p.net.web;
    let victim = Victim::new(p.rng, victim_host, p.net.hosts[victim_host].os);
    let dport = if p.rng.random_bool(0.6) { 80 } else { 443 };
    let base = if spoofed {
        20_000.0 * uniform(p.rng, 0.95, 1.15)
    } else {
        uniform(p.rng, 5_000.0, 20_000.0)
    };
    let rate = base * p.intensity;
    let pacer = Pacer::rate(p.rng, rate, Gaps::Exp);
    let win = *pick(p.rng, &[64u16, 512, 1024, 8192, 65535]).unwrap_or(&512);
    let (src, attacker, resets) = if spoofed {
        let ttl = p
            .rng
            .random_bool(0.7)
            .then(|| 64 - between(p.rng, 6, 20) as u8);
        (Source::Spoofed { ttl }, None, false)
    } else {
        let a = p.attacker(0.3);
        (Source::Host(a), Some(a), p.rng.random_bool(0.75))
    };
    let detail = format!(
        "{} tool=hping3 rate={rate:.0}pps dport={dport} win={win} attacker_rst={resets} {}",
        if spoofed {
            "synflood-spoofed"
        } else {
            "synflood"
        },
        victim.describe()
    );
    let flood = SynFlood {
        src,
        victim,
        dport,
        pacer,
        end,
        sport: p.rng.random_range(1024..=60000),
        win,
        resets,
    };
    p.queue.spawn(start, Box::new(flood));
    let slack = attacker
        .filter(|_| resets)
        .map_or(0, |a| p.slack(a, victim_host));
    p.label(
        AttackType::SynFlood,
        attacker,
        Some(victim_host),
        start,
        end + slack,
        detail,
    );
}

fn udpflood(p: &mut Planner<'_>, start: u64, end: u64) {
    let attacker = p.attacker(0.3);
    let victim_host = p.victim(false);
    let victim = Victim::new(p.rng, victim_host, p.net.hosts[victim_host].os);
    let dport = p
        .rng
        .random_bool(0.6)
        .then(|| *pick(p.rng, &[53u16, 123, 80, 443, 1900, 27015, 7777]).unwrap_or(&53));
    let size = if p.rng.random_bool(0.6) {
        let s = between(p.rng, 64, 1400);
        (s, s)
    } else {
        (64, 1400)
    };
    let fill = [Some(0u8), Some(b'X'), None][weighted(p.rng, &[4.0, 2.0, 4.0])];
    let rate = uniform(p.rng, 2_000.0, 10_000.0) * p.intensity;
    let pacer = Pacer::rate(p.rng, rate, Gaps::Exp);
    let dport_s = dport.map_or("random".to_string(), |d| d.to_string());
    let detail = format!(
        "udpflood rate={rate:.0}pps dport={dport_s} size={}-{}",
        size.0, size.1
    );
    let flood = UdpFlood {
        src: attacker,
        victim,
        dport,
        sport: p.rng.random_range(1024..=65535),
        size,
        fill,
        pacer,
        end,
    };
    p.queue.spawn(start, Box::new(flood));
    p.label(
        AttackType::UdpFlood,
        Some(attacker),
        Some(victim_host),
        start,
        end,
        detail,
    );
}

fn ddos(p: &mut Planner<'_>, start: u64, end: u64) {
    let victim_host = p.net.web;
    let victim = Victim::new(p.rng, victim_host, p.net.hosts[victim_host].os);
    let mode = [DdosMode::Syn, DdosMode::Udp, DdosMode::Http][weighted(p.rng, &[4.0, 3.0, 3.0])];
    let dport = match mode {
        DdosMode::Syn => *pick(p.rng, &[80u16, 443]).unwrap_or(&80),
        DdosMode::Http => 80,
        DdosMode::Udp => *pick(p.rng, &[0u16, 0, 53, 80, 123]).unwrap_or(&0),
    };
    let n = between(p.rng, 50, 500) as usize;
    let dur = end.saturating_sub(start);
    let total = uniform(p.rng, 5_000.0, 30_000.0) * p.intensity;
    let weights: Vec<f64> = (0..n).map(|_| lognormal(p.rng, 1.0, 1.0)).collect();
    let wsum: f64 = weights.iter().sum();
    let mut bots = Vec::with_capacity(n);
    for (i, w) in weights.iter().enumerate() {
        let os = if p.rng.random_bool(0.7) {
            Os::Linux
        } else {
            Os::Windows
        };
        let host = p.net.add_external(p.rng, os, &[], &[]);
        let b_start = if i == 0 {
            start
        } else {
            start + between(p.rng, 0, (dur / 4).min(3 * SEC))
        };
        let b_end = end
            .saturating_sub(between(p.rng, 0, (dur / 5).min(2 * SEC)))
            .max(b_start);
        let rate = match mode {
            DdosMode::Http => uniform(p.rng, 0.5, 8.0) * p.intensity,
            _ => total * w / wsum,
        };
        let pacer = Pacer::rate(p.rng, rate, Gaps::Exp);
        bots.push(Bot {
            host,
            start: b_start,
            end: b_end,
            pacer,
            resets: p.rng.random_bool(0.85),
        });
    }
    let detail = match mode {
        DdosMode::Syn => format!(
            "ddos mode=syn bots={n} total_rate={total:.0}pps dport={dport} {}",
            victim.describe()
        ),
        DdosMode::Udp => format!(
            "ddos mode=udp bots={n} total_rate={total:.0}pps dport={}",
            if dport == 0 {
                "random".to_string()
            } else {
                dport.to_string()
            }
        ),
        DdosMode::Http => format!(
            "ddos mode=http bots={n} conn_rate_per_bot=0.5-8/s x{:.2} dport={dport}",
            p.intensity
        ),
    };
    // One episode with attacker `*`, like the public captures' DDoS labels: a bot's own
    // windows (a few packets a second to one port) look like any client retrying a busy
    // server, so labelling each bot would teach a model to flag ordinary retries. The
    // victim's windows are positive (see labels::Labeler) and carry the attack.
    let last_end = bots.iter().map(|b| b.end).max().unwrap_or(end);
    let slack = bots
        .iter()
        .filter(|b| mode == DdosMode::Syn && b.resets)
        .map(|b| p.slack(b.host, victim_host))
        .max()
        .unwrap_or(0);
    p.label(
        AttackType::Ddos,
        None,
        Some(victim_host),
        start,
        last_end + slack,
        detail,
    );
    let d = Ddos::new(mode, bots, victim, dport, (64, 1400));
    if let Some(first) = d.first() {
        p.queue.spawn(first, Box::new(d));
    }
}

/// Reflection/amplification services: name, source port, response payload sizes, weight.
const AMPLIFIERS: [(&str, u16, (u64, u64), f64); 9] = [
    ("dns", 53, (480, 1472), 5.0),
    ("ntp", 123, (440, 482), 3.0),
    ("snmp", 161, (300, 1400), 2.0),
    ("ssdp", 1900, (250, 380), 2.0),
    ("memcached", 11211, (1000, 1400), 1.0),
    ("cldap", 389, (1200, 1472), 1.5),
    ("bacnet", 47808, (100, 500), 0.7),
    ("chargen", 19, (50, 1024), 0.7),
    ("wsd", 3702, (500, 1200), 0.7),
];

/// Reflection DDoS: one episode (attacker `*`, the victim positive), traffic from
/// 20-5000 reflectors to a web server, a client or another server.
fn reflection(p: &mut Planner<'_>, start: u64, end: u64) {
    let victim_host = if p.rng.random_bool(0.5) {
        p.net.web
    } else {
        p.victim(false)
    };
    let victim = Victim::new(p.rng, victim_host, p.net.hosts[victim_host].os);
    // Log-uniform reflector count and rate: from a handful of big amplifiers to a swarm.
    let n = (20.0 * 250f64.powf(p.rng.random::<f64>())) as usize;
    let rate = 1_000.0 * 40f64.powf(p.rng.random::<f64>()) * p.intensity;
    let syn_ack = p.rng.random_bool(0.25);
    let (what, service) = if syn_ack {
        let sport = *pick(p.rng, &[80u16, 443, 22, 25, 21, 3389]).unwrap_or(&80);
        let resets = !p.net.hosts[victim_host].firewall && p.rng.random_bool(0.7);
        (
            Reflected::SynAck { sport, resets },
            format!("tcp-synack/{sport}"),
        )
    } else {
        let w: Vec<f64> = AMPLIFIERS.iter().map(|a| a.3).collect();
        let (name, sport, size, _) = AMPLIFIERS[weighted(p.rng, &w)];
        (Reflected::Udp { sport, size }, format!("{name}/{sport}"))
    };
    let dport = if p.rng.random_bool(0.4) {
        Some(*pick(p.rng, &[80u16, 443, 53, 27015, 3074, 25565]).unwrap_or(&80))
    } else {
        None
    };
    let mut reflectors = Vec::with_capacity(n);
    for _ in 0..n {
        let ip = p.net.random_public(p.rng);
        let ttl = [64u8, 128, 255][weighted(p.rng, &[6.0, 2.0, 2.0])] - between(p.rng, 8, 25) as u8;
        reflectors.push((ip, ttl));
    }
    let pacer = Pacer::rate(p.rng, rate, Gaps::Exp);
    let detail = format!(
        "reflection service={service} reflectors={n} rate={rate:.0}pps victim_port={}",
        dport.map_or("random".to_string(), |d| d.to_string())
    );
    p.queue.spawn(
        start,
        Box::new(Reflection {
            victim,
            reflectors,
            what,
            dport,
            pacer,
            end,
        }),
    );
    p.label(
        AttackType::Ddos,
        None,
        Some(victim_host),
        start,
        end,
        detail,
    );
}
