//! Floods with the victim's real behaviour: hping3-like SYN floods from one real host or
//! from random spoofed sources, UDP floods, and DDoS from a botnet (raw SYNs, UDP, or
//! HTTP GET connections). The victim answers SYN/ACK while its backlog has room (and
//! retransmits them like Linux), or to everything with SYN cookies; closed UDP ports
//! answer ICMP port unreachable under the kernel's rate limit; a real attacker's kernel
//! resets the SYN/ACKs it never asked for.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use rand::Rng;

use super::dialog::{Msg, Script, Side};
use super::frame::{Ep, IpId, Payload, Pkt, Tcp, TcpOpt, ACK, RST, SYN};
use super::net::{HostId, Os};
use super::proto::{bytes, http_request, http_response};
use super::sim::{between, Actor, Cx, Pacer, SimRng, TokenBucket, MS, SEC};
use super::tcp::{spawn_session, Close};

/// The attacked host's TCP backlog and ICMP rate limit.
pub(crate) struct Victim {
    pub host: HostId,
    backlog: BinaryHeap<Reverse<u64>>,
    cap: usize,
    cookies: bool,
    retries: u32,
    icmp: TokenBucket,
}

impl Victim {
    pub(crate) fn new(rng: &mut SimRng, host: HostId, os: Os) -> Victim {
        let icmp = match os {
            Os::Linux => TokenBucket::new(6.0, 1.0),
            Os::Mac => TokenBucket::new(8.0, 1.5),
            Os::Windows => TokenBucket::new(10.0, 2.0),
        };
        Victim {
            host,
            backlog: BinaryHeap::new(),
            cap: [128, 256, 512, 1024][rng.random_range(0..4)],
            cookies: rng.random_bool(0.15),
            retries: between(rng, 2, 5) as u32,
            icmp,
        }
    }

    /// Key parameters for an episode's detail.
    pub(crate) fn describe(&self) -> String {
        if self.cookies {
            "victim=syncookies".to_string()
        } else {
            format!(
                "victim_backlog={} synack_retries={}",
                self.cap, self.retries
            )
        }
    }

    fn admit(&mut self, now: u64, hold: u64) -> bool {
        while self.backlog.peek().is_some_and(|Reverse(t)| *t <= now) {
            self.backlog.pop();
        }
        if self.cookies {
            return true;
        }
        if self.backlog.len() < self.cap {
            self.backlog.push(Reverse(now + hold));
            true
        } else {
            false
        }
    }

    /// The answer to a SYN from `src`. `resets`: `src` is a real host whose kernel
    /// answers the SYN/ACK with RST.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn syn(
        &mut self,
        cx: &mut Cx<'_>,
        src: Ep,
        sport: u16,
        dport: u16,
        seq: u32,
        resets: bool,
    ) {
        let v = Ep::Host(self.host);
        let vh = &cx.net.hosts[self.host];
        let (open, fw, os, mss) = (vh.tcp_open(dport), vh.firewall, vh.os, vh.mss);
        let t1 = cx.now + cx.net.resp(self.host, cx.rng);
        if !open {
            if !fw {
                let rst = Tcp {
                    sport: dport,
                    dport: sport,
                    seq: 0,
                    ack: seq.wrapping_add(1),
                    flags: RST | ACK,
                    win: 0,
                    opt: TcpOpt::None,
                };
                cx.send_at(t1, Pkt::tcp(v, src, rst, Payload::Empty));
            }
            return;
        }
        let src_host = match src {
            Ep::Host(h) if resets => Some(h),
            _ => None,
        };
        let hold = match src_host {
            Some(h) => t1 - cx.now + cx.net.resp_max(h),
            None => ((1u64 << (self.retries + 1)) - 1) * SEC,
        };
        if !self.admit(cx.now, hold) {
            return;
        }
        let isn: u32 = cx.rng.random();
        let sa = Tcp {
            sport: dport,
            dport: sport,
            seq: isn,
            ack: seq.wrapping_add(1),
            flags: SYN | ACK,
            win: os.synack_window(false),
            opt: TcpOpt::Mss(mss),
        };
        cx.send_at(t1, Pkt::tcp(v, src, sa, Payload::Empty));
        if let Some(h) = src_host {
            let t2 = t1 + cx.net.resp(h, cx.rng);
            cx.send_at(t2, Pkt::kernel_rst(src, v, sport, dport, seq));
        } else if !self.cookies {
            for k in 1..=self.retries {
                let t = t1 + ((1u64 << k) - 1) * SEC;
                cx.send_at(t, Pkt::tcp(v, src, sa, Payload::Empty));
            }
        }
    }

    /// Emits a UDP datagram to the victim and, for a closed port, the rate-limited
    /// ICMP port unreachable that quotes it.
    pub(crate) fn udp(&mut self, cx: &mut Cx<'_>, pkt: Pkt, dport: u16) {
        let vh = &cx.net.hosts[self.host];
        let (open, fw, os) = (vh.udp_open(dport), vh.firewall, vh.os);
        if open || fw || !self.icmp.take(cx.now) {
            cx.send(pkt);
            return;
        }
        let dst = pkt.src;
        let quote = cx.send_quoted(pkt, if os == Os::Windows { 28 } else { 548 });
        let t1 = cx.now + cx.net.resp(self.host, cx.rng);
        let tos = if os == Os::Windows { 0 } else { 0xc0 };
        cx.send_at(
            t1,
            Pkt::icmp(Ep::Host(self.host), dst, 3, 3, [0; 4], bytes(quote)).with_tos(tos),
        );
    }
}

/// Where flood packets come from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Source {
    Host(HostId),
    /// Random public sources; `ttl`: fixed arrival TTL, or random per packet when `None`.
    Spoofed {
        ttl: Option<u8>,
    },
}

/// A SYN flood (hping3 `-S --flood` style): incrementing source port, random sequence
/// numbers, a fixed small window, no options.
pub(crate) struct SynFlood {
    pub src: Source,
    pub victim: Victim,
    pub dport: u16,
    pub pacer: Pacer,
    pub end: u64,
    pub sport: u16,
    pub win: u16,
    pub resets: bool,
}

impl Actor for SynFlood {
    fn step(&mut self, cx: &mut Cx<'_>) -> Option<u64> {
        let src = match self.src {
            Source::Host(h) => Ep::Host(h),
            Source::Spoofed { ttl } => {
                let ip = cx.net.random_public(cx.rng);
                Ep::Spoof(ip, ttl.unwrap_or_else(|| cx.rng.random_range(30..=250)))
            }
        };
        self.sport = self.sport.wrapping_add(1).max(1024);
        let seq: u32 = cx.rng.random();
        let v = Ep::Host(self.victim.host);
        let syn = Tcp {
            sport: self.sport,
            dport: self.dport,
            seq,
            ack: 0,
            flags: SYN,
            win: self.win,
            opt: TcpOpt::None,
        };
        cx.send(
            Pkt::tcp(src, v, syn, Payload::Empty)
                .with_df(false)
                .with_id(IpId::Random),
        );
        self.victim
            .syn(cx, src, self.sport, self.dport, seq, self.resets);
        let next = cx.now + self.pacer.gap();
        (next <= self.end).then_some(next)
    }
}

/// A UDP flood from one host: fixed or random destination ports, fixed or varying sizes.
pub(crate) struct UdpFlood {
    pub src: HostId,
    pub victim: Victim,
    /// Fixed destination port, or random per packet when `None`.
    pub dport: Option<u16>,
    pub sport: u16,
    pub size: (u64, u64),
    pub fill: Option<u8>,
    pub pacer: Pacer,
    pub end: u64,
}

impl Actor for UdpFlood {
    fn step(&mut self, cx: &mut Cx<'_>) -> Option<u64> {
        let dport = self.dport.unwrap_or_else(|| cx.rng.random_range(1..=65535));
        let n = between(cx.rng, self.size.0, self.size.1) as u32;
        let payload = match self.fill {
            Some(b) => Payload::Fill(b, n),
            None => Payload::Random(n),
        };
        let pkt = Pkt::udp(
            Ep::Host(self.src),
            Ep::Host(self.victim.host),
            self.sport,
            dport,
            payload,
        )
        .with_id(IpId::Random);
        self.victim.udp(cx, pkt, dport);
        let next = cx.now + self.pacer.gap();
        (next <= self.end).then_some(next)
    }
}

/// What a botnet sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DdosMode {
    Syn,
    Udp,
    Http,
}

/// One bot: its host, active interval and packet (or connection) pacing.
pub(crate) struct Bot {
    pub host: HostId,
    pub start: u64,
    pub end: u64,
    pub pacer: Pacer,
    pub resets: bool,
}

/// A botnet attacking one victim; bots are interleaved through a small heap.
pub(crate) struct Ddos {
    mode: DdosMode,
    bots: Vec<Bot>,
    heap: BinaryHeap<Reverse<(u64, usize)>>,
    victim: Victim,
    dport: u16,
    udp_size: (u64, u64),
}

impl Ddos {
    pub(crate) fn new(
        mode: DdosMode,
        bots: Vec<Bot>,
        victim: Victim,
        dport: u16,
        udp_size: (u64, u64),
    ) -> Ddos {
        let heap = bots
            .iter()
            .enumerate()
            .map(|(i, b)| Reverse((b.start, i)))
            .collect();
        Ddos {
            mode,
            bots,
            heap,
            victim,
            dport,
            udp_size,
        }
    }

    /// When the first bot starts.
    pub(crate) fn first(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    fn fire(&mut self, cx: &mut Cx<'_>, i: usize) {
        let (host, resets, end) = (self.bots[i].host, self.bots[i].resets, self.bots[i].end);
        let (b, v) = (Ep::Host(host), Ep::Host(self.victim.host));
        match self.mode {
            DdosMode::Syn => {
                let sport = cx.rng.random_range(1024..=65535);
                let seq: u32 = cx.rng.random();
                let win = cx.rng.random_range(1024..=65535);
                let syn = Tcp {
                    sport,
                    dport: self.dport,
                    seq,
                    ack: 0,
                    flags: SYN,
                    win,
                    opt: TcpOpt::Syn,
                };
                cx.send(Pkt::tcp(b, v, syn, Payload::Empty).with_id(IpId::Random));
                self.victim.syn(cx, b, sport, self.dport, seq, resets);
            }
            DdosMode::Udp => {
                let dport = if self.dport == 0 {
                    cx.rng.random_range(1..=65535)
                } else {
                    self.dport
                };
                let sport = cx.rng.random_range(1024..=65535);
                let n = between(cx.rng, self.udp_size.0, self.udp_size.1) as u32;
                let pkt = Pkt::udp(b, v, sport, dport, Payload::Random(n));
                self.victim.udp(cx, pkt, dport);
            }
            DdosMode::Http => {
                // Only connections that can finish before the bot stops (its first
                // always goes).
                let bound = 12 * cx.net.resp_max(host) + 600 * MS;
                if cx.now + bound > end && cx.now > self.bots[i].start {
                    return;
                }
                let req = http_request(cx.rng, "www.example.com");
                let size = between(cx.rng, 300, 30_000) as u32;
                let (status, size) = if cx.rng.random_bool(0.3) {
                    ("503 Service Unavailable", 200)
                } else {
                    ("200 OK", size)
                };
                let (head, whole) = http_response(size, status);
                let msgs = VecDeque::from([
                    Msg::text(Side::Client, req, between(cx.rng, 20_000, MS)),
                    Msg::prefixed(Side::Server, head, whole, between(cx.rng, 5 * MS, 400 * MS)),
                ]);
                let close = if cx.rng.random_bool(0.5) {
                    Close::ClientFin
                } else {
                    Close::ServerFin
                };
                let now = cx.now;
                spawn_session(
                    cx,
                    now,
                    host,
                    self.victim.host,
                    self.dport,
                    Box::new(Script(msgs)),
                    close,
                    100e6,
                    end,
                );
            }
        }
    }
}

impl Actor for Ddos {
    fn step(&mut self, cx: &mut Cx<'_>) -> Option<u64> {
        while let Some(&Reverse((t, i))) = self.heap.peek() {
            if t > cx.now {
                break;
            }
            self.heap.pop();
            self.fire(cx, i);
            let next = cx.now + self.bots[i].pacer.gap();
            if next <= self.bots[i].end {
                self.heap.push(Reverse((next, i)));
            }
        }
        self.first()
    }
}

/// What the reflectors of an amplification attack send to the victim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reflected {
    /// UDP responses from a service port (DNS ANY/RRSIG, NTP monlist, SNMP GetBulk,
    /// SSDP, memcached, CLDAP, BACnet, chargen, WS-Discovery), payload sizes in bytes.
    Udp { sport: u16, size: (u64, u64) },
    /// TCP SYN-ACKs from servers that received SYNs spoofed with the victim's address;
    /// the victim's kernel resets them unless a firewall drops them.
    SynAck { sport: u16, resets: bool },
}

/// Reflection/amplification DDoS as seen at the victim: responses it never asked for,
/// from many reflectors (a few carry most of the load), to fixed or random ports of its
/// own. The attacker itself never appears (it spoofs the victim's address).
pub(crate) struct Reflection {
    pub victim: Victim,
    /// Reflector addresses with the TTL their packets arrive with.
    pub reflectors: Vec<(std::net::Ipv4Addr, u8)>,
    pub what: Reflected,
    /// The victim port the attacker spoofed, or random per packet when `None`.
    pub dport: Option<u16>,
    pub pacer: Pacer,
    pub end: u64,
}

impl Actor for Reflection {
    fn step(&mut self, cx: &mut Cx<'_>) -> Option<u64> {
        // Skewed choice: open reflectors differ wildly in bandwidth.
        let u: f64 = cx.rng.random();
        let i = ((u * u * u) * self.reflectors.len() as f64) as usize;
        let Some(&(ip, ttl)) = self
            .reflectors
            .get(i.min(self.reflectors.len().saturating_sub(1)))
        else {
            return None;
        };
        let src = Ep::Spoof(ip, ttl);
        let v = Ep::Host(self.victim.host);
        let dport = self
            .dport
            .unwrap_or_else(|| cx.rng.random_range(1024..=65535));
        match self.what {
            Reflected::Udp { sport, size } => {
                let n = between(cx.rng, size.0, size.1) as u32;
                let pkt = Pkt::udp(src, v, sport, dport, Payload::Random(n)).with_id(IpId::Random);
                self.victim.udp(cx, pkt, dport);
            }
            Reflected::SynAck { sport, resets } => {
                let ack: u32 = cx.rng.random();
                let sa = Tcp {
                    sport,
                    dport,
                    seq: cx.rng.random(),
                    ack,
                    flags: SYN | ACK,
                    win: *[14600u16, 29200, 64240, 65535, 8192]
                        .get(cx.rng.random_range(0..5))
                        .unwrap_or(&29200),
                    opt: TcpOpt::Mss(1460),
                };
                cx.send(Pkt::tcp(src, v, sa, Payload::Empty).with_id(IpId::Random));
                if resets {
                    let t = cx.now + cx.net.resp(self.victim.host, cx.rng) / 4;
                    cx.send_at(
                        t,
                        Pkt::kernel_rst(v, src, dport, sport, ack.wrapping_sub(1)),
                    );
                }
            }
        }
        let next = cx.now + self.pacer.gap();
        (next <= self.end).then_some(next)
    }
}
