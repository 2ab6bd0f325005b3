//! Scans as real tools send them, with the victims' real answers: nmap `-sS`/masscan SYN
//! scans (closed ports RST/ACK, open ports SYN/ACK then the scanner's kernel RST), nmap
//! `-sT` connect scans (full handshake then RST), `-sU` UDP scans (ICMP port
//! unreachable rate-limited like the victim's kernel), nmap's FIN/Xmas/NULL/ACK/Window
//! scans (RST from closed or unfiltered ports), ICMP echo sweeps, and slow scans (one
//! probe every 1–10 s, vertical or sweeping one port across the LAN).
//!
//! The probe list and its timing are fixed when the scan is planned, so the episode's
//! first and last probe times are exact.

use rand::Rng;

use super::frame::{Ep, IpId, Payload, Pkt, Tcp, TcpOpt, ACK, RST, SYN};
use super::net::{HostId, Net, Os};
use super::proto::{bytes, dns_answer, dns_query, ntp_packet};
use super::sim::{between, shuffle, uniform, Actor, Cx, Gaps, Pacer, SimRng, TokenBucket, SEC};

/// nmap's most frequently open TCP ports, most popular first.
const TOP_TCP: [u16; 76] = [
    80, 23, 443, 21, 22, 25, 3389, 110, 445, 139, 143, 53, 135, 3306, 8080, 1723, 111, 995, 993,
    5900, 1025, 587, 8888, 199, 1720, 465, 548, 113, 81, 6001, 10000, 514, 5060, 179, 1026, 2000,
    8443, 8000, 32768, 554, 26, 1433, 49152, 2001, 515, 8008, 49154, 1027, 5666, 646, 5000, 5631,
    631, 49153, 8081, 2049, 88, 79, 5800, 106, 2121, 1110, 49155, 6000, 513, 990, 5357, 427, 49156,
    543, 544, 5101, 144, 7, 389, 5432,
];

/// nmap's most frequently open UDP ports.
const TOP_UDP: [u16; 40] = [
    631, 161, 137, 123, 138, 1434, 445, 135, 67, 53, 139, 500, 68, 520, 1900, 4500, 514, 49152,
    162, 69, 5353, 111, 49154, 1701, 998, 996, 997, 999, 3283, 49153, 1812, 136, 2222, 2049, 5060,
    1025, 1433, 80, 1026, 7,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScanKind {
    Syn,
    Connect,
    Udp,
    /// nmap's raw scans without SYN, by their TCP flags: `-sF` (FIN), `-sX` (FIN, PSH,
    /// URG), `-sN` (none), `-sA`/`-sW` (ACK).
    Stealth(u8),
    /// ICMP echo sweep across hosts (`nmap -sn`, `fping`): the port is ignored.
    Ping,
}

/// TCP URG flag (only Xmas scans set it).
pub(crate) const URG: u8 = 0x20;

/// What the scanning tool puts in its raw probes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tool {
    pub name: &'static str,
    /// nmap picks a random initial TTL in 37..=59 per probe; others use a fixed one.
    pub random_ttl: bool,
    pub ttl0: u8,
    pub win: u16,
    pub mss_opt: bool,
    pub sport: u16,
}

impl Tool {
    pub(crate) fn nmap(rng: &mut SimRng) -> Tool {
        let win = [1024, 2048, 3072, 4096][rng.random_range(0..4)];
        Tool {
            name: "nmap",
            random_ttl: true,
            ttl0: 64,
            win,
            mss_opt: true,
            sport: rng.random_range(33000..=65000),
        }
    }

    pub(crate) fn masscan(rng: &mut SimRng) -> Tool {
        Tool {
            name: "masscan",
            random_ttl: false,
            ttl0: 255,
            win: 1024,
            mss_opt: false,
            sport: rng.random_range(40000..=60000),
        }
    }

    fn ttl(&self, rng: &mut SimRng) -> u8 {
        if self.random_ttl {
            rng.random_range(37..=59)
        } else {
            self.ttl0
        }
    }
}

/// A planned scan: probes `targets` in order, one per pacer gap.
pub(crate) struct Scan {
    kind: ScanKind,
    attacker: HostId,
    targets: Vec<(HostId, u16)>,
    idx: usize,
    pacer: Pacer,
    tool: Tool,
    last: u64,
    buckets: Vec<(HostId, TokenBucket)>,
}

impl Scan {
    /// Plans a scan starting at `start`: keeps the probes that fit by `end` and returns
    /// the scan with the time of its last probe.
    pub(crate) fn plan(
        kind: ScanKind,
        attacker: HostId,
        mut targets: Vec<(HostId, u16)>,
        pacer: Pacer,
        tool: Tool,
        start: u64,
        end: u64,
    ) -> (Scan, u64) {
        let (n, last) = pacer.fit(start, end, targets.len().max(1));
        targets.truncate(n);
        let scan = Scan {
            kind,
            attacker,
            targets,
            idx: 0,
            pacer,
            tool,
            last,
            buckets: Vec::new(),
        };
        (scan, last)
    }

    /// Number of probes planned.
    pub(crate) fn probes(&self) -> usize {
        self.targets.len()
    }

    fn bucket(&mut self, net: &Net, victim: HostId) -> &mut TokenBucket {
        let pos = match self.buckets.iter().position(|(h, _)| *h == victim) {
            Some(p) => p,
            None => {
                let b = match net.hosts[victim].os {
                    Os::Linux => TokenBucket::new(6.0, 1.0),
                    Os::Mac => TokenBucket::new(8.0, 1.5),
                    Os::Windows => TokenBucket::new(10.0, 2.0),
                };
                self.buckets.push((victim, b));
                self.buckets.len() - 1
            }
        };
        &mut self.buckets[pos].1
    }

    fn syn_probe(&mut self, cx: &mut Cx<'_>, victim: HostId, dport: u16) {
        let (a, v) = (Ep::Host(self.attacker), Ep::Host(victim));
        let seq: u32 = cx.rng.random();
        let sport = self.tool.sport;
        let opt = if self.tool.mss_opt {
            TcpOpt::Mss(1460)
        } else {
            TcpOpt::None
        };
        let ttl = self.tool.ttl(cx.rng);
        let syn = Tcp {
            sport,
            dport,
            seq,
            ack: 0,
            flags: SYN,
            win: self.tool.win,
            opt,
        };
        cx.send(
            Pkt::tcp(a, v, syn, Payload::Empty)
                .with_df(false)
                .with_id(IpId::Random)
                .with_ttl(ttl),
        );
        answer_syn(cx, self.attacker, victim, sport, dport, seq, true);
    }

    fn connect_probe(&mut self, cx: &mut Cx<'_>, victim: HostId, dport: u16) {
        let (a, v) = (Ep::Host(self.attacker), Ep::Host(victim));
        let sport = cx.net.ephemeral_port(self.attacker, cx.rng);
        let seq: u32 = cx.rng.random();
        let aos = cx.net.hosts[self.attacker].os;
        let syn = Tcp {
            sport,
            dport,
            seq,
            ack: 0,
            flags: SYN,
            win: aos.syn_window(),
            opt: TcpOpt::Syn,
        };
        cx.send(Pkt::tcp(a, v, syn, Payload::Empty));
        let vh = &cx.net.hosts[victim];
        let (open, fw, vos) = (vh.tcp_open(dport), vh.firewall, vh.os);
        if open {
            let ts_on = aos.timestamps() && vos.timestamps();
            let t1 = cx.now + cx.net.resp(victim, cx.rng);
            let isn: u32 = cx.rng.random();
            let ecr = ts_on.then(|| cx.net.hosts[self.attacker].tsval(cx.now));
            let sa = Tcp {
                sport: dport,
                dport: sport,
                seq: isn,
                ack: seq.wrapping_add(1),
                flags: SYN | ACK,
                win: vos.synack_window(ts_on),
                opt: TcpOpt::SynAck { ecr },
            };
            cx.send_at(t1, Pkt::tcp(v, a, sa, Payload::Empty));
            let t2 = t1 + cx.net.resp(self.attacker, cx.rng);
            let opt = if ts_on {
                TcpOpt::Ts {
                    ecr: cx.net.hosts[victim].tsval(t1),
                }
            } else {
                TcpOpt::None
            };
            let ack = Tcp {
                sport,
                dport,
                seq: seq.wrapping_add(1),
                ack: isn.wrapping_add(1),
                flags: ACK,
                win: aos.data_window().0,
                opt,
            };
            cx.send_at(t2, Pkt::tcp(a, v, ack, Payload::Empty));
            let rst = Tcp {
                flags: RST | ACK,
                win: 0,
                opt: TcpOpt::None,
                ..ack
            };
            let t3 = t2 + between(cx.rng, 30_000, 300_000);
            cx.send_at(t3, Pkt::tcp(a, v, rst, Payload::Empty));
        } else if !fw {
            answer_syn(cx, self.attacker, victim, sport, dport, seq, false);
        } else if cx.now + SEC <= self.last {
            cx.send_at(cx.now + SEC, Pkt::tcp(a, v, syn, Payload::Empty));
        }
    }

    fn udp_probe(&mut self, cx: &mut Cx<'_>, victim: HostId, dport: u16) {
        let (a, v) = (Ep::Host(self.attacker), Ep::Host(victim));
        let ttl = self.tool.ttl(cx.rng);
        let dns_id: u16 = cx.rng.random();
        let payload = udp_probe_payload(cx.rng, dport, dns_id);
        let pkt = Pkt::udp(a, v, self.tool.sport, dport, payload)
            .with_id(IpId::Random)
            .with_ttl(ttl);
        let vh = &cx.net.hosts[victim];
        let (open, fw, vos) = (vh.udp_open(dport), vh.firewall, vh.os);
        let t1 = cx.now + cx.net.resp(victim, cx.rng);
        if open {
            cx.send(pkt);
            // Services answer probes in their own protocol; others ignore them.
            let reply = match dport {
                53 => Some(dns_answer(cx.rng, dns_id, "version.bind", 16, 0, true)),
                123 => Some(ntp_packet(false, t1, [0; 8], cx.rng)),
                _ => None,
            };
            if let Some(r) = reply {
                let pkt = Pkt::udp(v, a, dport, self.tool.sport, bytes(r));
                cx.send_at(t1, pkt.with_df(vos != Os::Windows));
            }
        } else if !fw && self.bucket(cx.net, victim).take(cx.now) {
            let quote = cx.send_quoted(pkt, if vos == Os::Windows { 28 } else { 548 });
            let tos = if vos == Os::Windows { 0 } else { 0xc0 };
            cx.send_at(
                t1,
                Pkt::icmp(v, a, 3, 3, [0; 4], bytes(quote)).with_tos(tos),
            );
        } else {
            cx.send(pkt);
        }
    }
}

/// The victim's (and, for a raw probe, the scanner kernel's) answer to a SYN.
fn answer_syn(
    cx: &mut Cx<'_>,
    attacker: HostId,
    victim: HostId,
    sport: u16,
    dport: u16,
    seq: u32,
    raw: bool,
) {
    let (a, v) = (Ep::Host(attacker), Ep::Host(victim));
    let vh = &cx.net.hosts[victim];
    let (open, fw, vos, vmss) = (vh.tcp_open(dport), vh.firewall, vh.os, vh.mss);
    let t1 = cx.now + cx.net.resp(victim, cx.rng);
    let id = if vos == Os::Windows {
        IpId::Counter
    } else {
        IpId::Fixed(0)
    };
    if open {
        let isn: u32 = cx.rng.random();
        let sa = Tcp {
            sport: dport,
            dport: sport,
            seq: isn,
            ack: seq.wrapping_add(1),
            flags: SYN | ACK,
            win: vos.synack_window(false),
            opt: TcpOpt::Mss(vmss),
        };
        cx.send_at(t1, Pkt::tcp(v, a, sa, Payload::Empty).with_id(id));
        if raw {
            // The scanner's kernel never sent that SYN: it resets the connection.
            let t2 = t1 + cx.net.resp(attacker, cx.rng);
            cx.send_at(t2, Pkt::kernel_rst(a, v, sport, dport, seq));
        }
    } else if !fw {
        let rst = Tcp {
            sport: dport,
            dport: sport,
            seq: 0,
            ack: seq.wrapping_add(1),
            flags: RST | ACK,
            win: 0,
            opt: TcpOpt::None,
        };
        cx.send_at(t1, Pkt::tcp(v, a, rst, Payload::Empty).with_id(id));
    }
}

/// nmap's protocol-specific UDP payloads for well-known ports; empty elsewhere.
fn udp_probe_payload(rng: &mut SimRng, port: u16, dns_id: u16) -> Payload {
    match port {
        53 => bytes(dns_query(dns_id, "version.bind", 16, false)),
        123 => {
            let mut b = vec![0u8; 48];
            b[0] = 0xe3;
            b[3] = 0xfa;
            bytes(b)
        }
        137 => {
            let mut b = vec![0x80, 0xf0, 0, 0x10, 0, 1, 0, 0, 0, 0, 0, 0, 0x20, b'C', b'K'];
            b.extend(std::iter::repeat_n(b'A', 30));
            b.extend_from_slice(&[0, 0, 0x21, 0, 1]);
            bytes(b)
        }
        161 => bytes(vec![0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xa1, 0x19, 0x02, 0x04, 0x71, 0xb4, 0xb5, 0x68, 0x02, 0x01, 0, 0x02, 0x01, 0, 0x30, 0x0b, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x05, 0x00]),
        1900 => bytes(b"M-SEARCH * HTTP/1.1\r\nHost: 239.255.255.250:1900\r\nMan: \"ssdp:discover\"\r\nMX: 5\r\nST: ssdp:all\r\n\r\n".to_vec()),
        500 => {
            // An ISAKMP header (main mode, no payloads) with a random initiator cookie.
            let mut b = vec![0u8; 28];
            rng.fill(&mut b[..8]);
            b[17] = 0x10;
            b[18] = 2;
            b[27] = 28;
            bytes(b)
        }
        _ => Payload::Empty,
    }
}

impl Scan {
    /// A raw probe without SYN. Per RFC 793 a closed port answers FIN/NULL/Xmas with
    /// RST/ACK and an open one stays silent (Windows resets both); any unfiltered port
    /// answers a bare ACK with RST (seq = the probe's ack). Firewalled hosts drop all.
    fn stealth_probe(&mut self, cx: &mut Cx<'_>, victim: HostId, dport: u16, flags: u8) {
        let (a, v) = (Ep::Host(self.attacker), Ep::Host(victim));
        let seq: u32 = cx.rng.random();
        let ack: u32 = if flags & ACK != 0 { cx.rng.random() } else { 0 };
        let ttl = self.tool.ttl(cx.rng);
        let sport = self.tool.sport;
        let probe = Tcp {
            sport,
            dport,
            seq,
            ack,
            flags,
            win: self.tool.win,
            opt: TcpOpt::None,
        };
        cx.send(
            Pkt::tcp(a, v, probe, Payload::Empty)
                .with_df(false)
                .with_id(IpId::Random)
                .with_ttl(ttl),
        );
        let vh = &cx.net.hosts[victim];
        let (open, fw, vos) = (vh.tcp_open(dport), vh.firewall, vh.os);
        if fw {
            return;
        }
        let answer = if flags & ACK != 0 {
            Some(Tcp {
                sport: dport,
                dport: sport,
                seq: ack,
                ack: 0,
                flags: RST,
                win: 0,
                opt: TcpOpt::None,
            })
        } else if !open || vos == Os::Windows {
            let fin = u32::from(flags & super::frame::FIN != 0);
            Some(Tcp {
                sport: dport,
                dport: sport,
                seq: 0,
                ack: seq.wrapping_add(fin),
                flags: RST | ACK,
                win: 0,
                opt: TcpOpt::None,
            })
        } else {
            None
        };
        if let Some(r) = answer {
            let t1 = cx.now + cx.net.resp(victim, cx.rng);
            cx.send_at(
                t1,
                Pkt::tcp(v, a, r, Payload::Empty).with_id(IpId::Fixed(0)),
            );
        }
    }

    /// One ICMP echo request (no payload, as nmap sends it) and the reply of an
    /// unfiltered host.
    fn ping_probe(&mut self, cx: &mut Cx<'_>, victim: HostId) {
        let (a, v) = (Ep::Host(self.attacker), Ep::Host(victim));
        let id: u16 = cx.rng.random();
        let seq = u16::try_from(self.idx % 65536).unwrap_or(0);
        let rest = [(id >> 8) as u8, id as u8, (seq >> 8) as u8, seq as u8];
        let ttl = self.tool.ttl(cx.rng);
        cx.send(
            Pkt::icmp(a, v, 8, 0, rest, Payload::Empty)
                .with_id(IpId::Random)
                .with_ttl(ttl),
        );
        if !cx.net.hosts[victim].firewall {
            let t1 = cx.now + cx.net.resp(victim, cx.rng);
            cx.send_at(t1, Pkt::icmp(v, a, 0, 0, rest, Payload::Empty));
        }
    }
}

impl Actor for Scan {
    fn step(&mut self, cx: &mut Cx<'_>) -> Option<u64> {
        let (victim, port) = *self.targets.get(self.idx)?;
        match self.kind {
            ScanKind::Syn => self.syn_probe(cx, victim, port),
            ScanKind::Connect => self.connect_probe(cx, victim, port),
            ScanKind::Udp => self.udp_probe(cx, victim, port),
            ScanKind::Stealth(flags) => self.stealth_probe(cx, victim, port, flags),
            ScanKind::Ping => self.ping_probe(cx, victim),
        }
        self.idx += 1;
        if self.idx >= self.targets.len() {
            return None;
        }
        Some(cx.now + self.pacer.gap())
    }
}

/// `n` distinct ports: the top list first (as many as fit), then random ones, shuffled.
pub(crate) fn port_list(rng: &mut SimRng, n: usize, udp: bool) -> Vec<u16> {
    if n >= 65535 {
        let mut all: Vec<u16> = (1..=65535).collect();
        shuffle(rng, &mut all);
        return all;
    }
    let top: &[u16] = if udp { &TOP_UDP } else { &TOP_TCP };
    let mut ports: Vec<u16> = top.iter().copied().take(n).collect();
    let mut seen = vec![false; 65536];
    for &p in &ports {
        seen[usize::from(p)] = true;
    }
    while ports.len() < n.min(65535) {
        let p: u16 = if rng.random_bool(0.6) {
            rng.random_range(1..=10000)
        } else {
            rng.random_range(1..=65535)
        };
        if !std::mem::replace(&mut seen[usize::from(p)], true) {
            ports.push(p);
        }
    }
    shuffle(rng, &mut ports);
    ports
}

/// A vertical scan's targets; unanswered ports are probed a second time (nmap's
/// retransmission) when `retry_unanswered` is set.
pub(crate) fn vertical(
    rng: &mut SimRng,
    net: &Net,
    victim: HostId,
    ports: &[u16],
    retry_fraction: f64,
) -> Vec<(HostId, u16)> {
    let mut targets: Vec<(HostId, u16)> = ports.iter().map(|&p| (victim, p)).collect();
    let mut again: Vec<(HostId, u16)> = ports
        .iter()
        .filter(|&&p| !net.hosts[victim].tcp_open(p) && uniform(rng, 0.0, 1.0) < retry_fraction)
        .map(|&p| (victim, p))
        .collect();
    shuffle(rng, &mut again);
    targets.extend(again);
    targets
}

/// Rate and gap shape of a scan at `intensity`.
/// masscan paces evenly (`even`); nmap sends in bursts.
pub(crate) fn scan_pacer(
    rng: &mut SimRng,
    kind: ScanKind,
    intensity: f64,
    even: bool,
) -> (Pacer, f64) {
    let base = match kind {
        ScanKind::Syn | ScanKind::Stealth(_) => uniform(rng, 200.0, 2000.0),
        ScanKind::Connect => uniform(rng, 100.0, 1000.0),
        ScanKind::Udp | ScanKind::Ping => uniform(rng, 20.0, 300.0),
    };
    let rate = base * intensity;
    let gaps = if even { Gaps::Jitter(0.15) } else { Gaps::Exp };
    (Pacer::rate(rng, rate, gaps), rate)
}

/// The slow-scan pacer: one probe every 1–10 s (divided by `intensity`).
pub(crate) fn slow_pacer(rng: &mut SimRng, intensity: f64) -> Pacer {
    let lo = (1e9 / intensity) as u64;
    let hi = (10e9 / intensity) as u64;
    Pacer::rate(rng, 1.0, Gaps::Range(lo.max(1), hi.max(2)))
}
