//! Benign background traffic: every LAN client starts activities as a bursty Poisson
//! process (on/off modulated rate) — HTTPS/HTTP browsing with DNS lookups, intranet and
//! file-share sessions, database queries, NTP, pings and the occasional refused or
//! unanswered connection — plus long-lived flows planned up front: interactive SSH,
//! video streaming and a cloud backup upload (a benign look-alike of exfiltration).

use rand::Rng;

use super::dialog::{Framing, Interactive, Rpc, Then, Upload, Web};
use super::frame::{Ep, Pkt};
use super::net::{HostId, Net};
use super::proto::{self, ssh_open};
use super::sim::{
    between, exp, lognormal, pick, secs, uniform, weighted, Actor, Cx, Queue, SimRng, MS, SEC,
};
use super::tcp::{spawn_session, Close, Outcome, SessionSpec, TcpSession};

fn web_close(rng: &mut SimRng) -> Close {
    [
        Close::ClientFin,
        Close::ServerFin,
        Close::ClientRst,
        Close::ServerRst,
        Close::Abandon,
    ][weighted(rng, &[45.0, 30.0, 15.0, 5.0, 5.0])]
}

/// A popular-first choice among external web servers.
fn external_site(net: &Net, rng: &mut SimRng) -> HostId {
    let n = net.external_web.len();
    let u: f64 = rng.random();
    net.external_web
        .get(((u * u) * n as f64) as usize)
        .copied()
        .unwrap_or(net.web)
}

/// One LAN client's activity as an on/off modulated Poisson process.
pub(crate) struct BenignClient {
    host: HostId,
    rate_on: f64,
    rate_off: f64,
    mean_on: f64,
    mean_off: f64,
    on: bool,
    switch_at: u64,
    end: u64,
}

impl Actor for BenignClient {
    fn step(&mut self, cx: &mut Cx<'_>) -> Option<u64> {
        let now = cx.now;
        if now >= self.switch_at {
            self.on = !self.on;
            let mean = if self.on { self.mean_on } else { self.mean_off };
            self.switch_at = now + secs(exp(cx.rng, mean)).max(MS);
        } else {
            activity(cx, self.host, self.end);
        }
        let rate = if self.on { self.rate_on } else { self.rate_off };
        let next = now + secs(exp(cx.rng, 1.0 / rate)).max(1000);
        Some(next.min(self.switch_at))
    }
}

fn activity(cx: &mut Cx<'_>, host: HostId, end: u64) {
    let now = cx.now;
    let kind = weighted(
        cx.rng,
        &[50.0, 7.0, 8.0, 5.0, 5.0, 12.0, 2.0, 2.0, 3.5, 2.0, 6.0],
    );
    match kind {
        0 | 1 => {
            // A page load opens several parallel connections to a few sites.
            let conns = if cx.rng.random_bool(0.3) {
                between(cx.rng, 3, 14)
            } else {
                1
            };
            let mut server = external_site(cx.net, cx.rng);
            let mut t = now;
            for _ in 0..conns {
                if cx.rng.random_bool(0.5) {
                    server = external_site(cx.net, cx.rng);
                    t = proto::dns_lookup(cx, host, t) + between(cx.rng, 50_000, 2 * MS);
                }
                web_session(cx, host, server, kind == 0, t, end);
                t += between(cx.rng, 0, 40 * MS);
            }
        }
        2 => {
            let tls = cx.rng.random_bool(0.6);
            let reqs = between(cx.rng, 1, 5) as u32;
            let dialog = Web::new(cx.rng, tls, reqs, 4000.0, 1.0);
            let close = web_close(cx.rng);
            let web = cx.net.web;
            spawn_session(
                cx,
                now,
                host,
                web,
                if tls { 443 } else { 80 },
                Box::new(dialog),
                close,
                300e6,
                end,
            );
        }
        3 => {
            let mut rpc = Rpc::new(between(cx.rng, 6, 40) as u32, (100, 400), 2500.0, 0.3);
            rpc.resp_sigma = 2.2;
            let close = if cx.rng.random_bool(0.5) {
                Close::ClientFin
            } else {
                Close::Abandon
            };
            let files = cx.net.files;
            spawn_session(cx, now, host, files, 445, Box::new(rpc), close, 400e6, end);
        }
        4 => {
            let db = cx.net.db;
            let port = cx.net.hosts[db]
                .open_tcp
                .iter()
                .copied()
                .find(|p| *p != 22)
                .unwrap_or(3306);
            let mut rpc = Rpc::new(between(cx.rng, 3, 60) as u32, (40, 400), 300.0, 0.2);
            rpc.greeting = Some(between(cx.rng, 78, 110) as u32);
            rpc.proc = (200_000, 20 * MS);
            spawn_session(
                cx,
                now,
                host,
                db,
                port,
                Box::new(rpc),
                Close::ClientFin,
                400e6,
                end,
            );
        }
        5 => {
            proto::dns_lookup(cx, host, now);
        }
        6 => {
            let server = pick(cx.rng, &cx.net.ntp.clone())
                .copied()
                .unwrap_or(cx.net.resolver);
            proto::ntp_sync(cx, host, server, now);
        }
        7 => {
            let target = if cx.rng.random_bool(0.6) {
                pick(cx.rng, &cx.net.servers())
                    .copied()
                    .unwrap_or(cx.net.web)
            } else {
                external_site(cx.net, cx.rng)
            };
            let count = between(cx.rng, 1, 4) as u16;
            proto::ping(cx, host, target, now, count);
        }
        8 => failed_connection(cx, host, end),
        10 => proto::lan_chatter(cx, host, now),
        _ => {
            let ssh = cx.net.ssh;
            let banner = pick(cx.rng, &proto::SSH_USER_CLIENTS)
                .copied()
                .unwrap_or("SSH-2.0-OpenSSH_9.7\r\n");
            let sb = pick(cx.rng, &proto::SSH_SERVER_BANNERS)
                .copied()
                .unwrap_or("SSH-2.0-OpenSSH_7.4\r\n");
            let pre = ssh_open(cx.rng, sb, banner).into();
            let mut rpc = Rpc::new(between(cx.rng, 2, 10) as u32, (60, 300), 2000.0, 0.05);
            rpc.proc = (MS, 80 * MS);
            spawn_session(
                cx,
                now,
                host,
                ssh,
                22,
                Box::new(Then(pre, Box::new(rpc))),
                Close::ClientFin,
                200e6,
                end,
            );
        }
    }
}

/// One browsing connection (TLS on 443 or plain HTTP on 80) starting at `t`.
fn web_session(cx: &mut Cx<'_>, host: HostId, server: HostId, tls: bool, t: u64, end: u64) {
    let reqs = between(cx.rng, 1, 8) as u32;
    let dialog = Web::new(cx.rng, tls, reqs, 9000.0, 1.5);
    let rate = lognormal(cx.rng, 40e6, 0.8).clamp(2e6, 500e6);
    let close = web_close(cx.rng);
    let port = if tls { 443 } else { 80 };
    spawn_session(
        cx,
        t,
        host,
        server,
        port,
        Box::new(dialog),
        close,
        rate,
        end,
    );
}

/// A benign failure: a refused port on an internal server or an unanswered external one.
fn failed_connection(cx: &mut Cx<'_>, host: HostId, end: u64) {
    let (server, port, outcome) = if cx.rng.random_bool(0.5) {
        let server = pick(cx.rng, &cx.net.servers())
            .copied()
            .unwrap_or(cx.net.web);
        let port = *pick(cx.rng, &[8080u16, 8443, 3389, 5900, 9000, 8000, 1433]).unwrap_or(&8080);
        let h = &cx.net.hosts[server];
        if h.tcp_open(port) {
            return;
        }
        (
            server,
            port,
            if h.firewall {
                Outcome::Timeout
            } else {
                Outcome::Refused
            },
        )
    } else {
        (
            external_site(cx.net, cx.rng),
            *pick(cx.rng, &[443u16, 8443, 4443, 8080]).unwrap_or(&443),
            Outcome::Timeout,
        )
    };
    let mut spec = SessionSpec::new(
        host,
        server,
        port,
        Box::new(Rpc::new(1, (100, 200), 500.0, 0.1)),
        end,
    );
    spec.outcome = outcome;
    let s = TcpSession::new(spec, cx.net, cx.rng);
    cx.spawn(cx.now, Box::new(s));
}

/// Installs background traffic for `[start, end)`; `scale` multiplies activity rates.
pub(crate) fn install(
    queue: &mut Queue,
    net: &mut Net,
    rng: &mut SimRng,
    start: u64,
    end: u64,
    scale: f64,
) {
    let dur = end.saturating_sub(start);
    // Benign heavy hitters, so no single rate or fan-out threshold separates attacks:
    // sometimes one "client" is a NAT gateway or proxy (tens of activities per second
    // towards many sites), a CDN/update burst client, and a resolver fanning out to
    // many authoritative servers.
    let nat = rng
        .random_bool(0.5)
        .then(|| rng.random_range(0..net.clients.len().max(1)));
    for (k, &host) in net.clients.clone().iter().enumerate() {
        let mut rate_on = lognormal(rng, 0.6, 0.6).clamp(0.05, 5.0) * scale;
        let mut rate_off = rate_on / uniform(rng, 5.0, 20.0);
        let (mut mean_on, mut mean_off) = (uniform(rng, 5.0, 20.0), uniform(rng, 10.0, 60.0));
        if nat == Some(k) {
            rate_on *= uniform(rng, 10.0, 40.0);
            rate_off = rate_on / uniform(rng, 1.5, 4.0);
            (mean_on, mean_off) = (uniform(rng, 20.0, 60.0), uniform(rng, 2.0, 10.0));
        }
        let client = BenignClient {
            host,
            rate_on,
            rate_off,
            mean_on,
            mean_off,
            on: rng.random_bool(0.4),
            switch_at: start + secs(exp(rng, 10.0)),
            end,
        };
        let first = start + secs(exp(rng, 1.0 / rate_on));
        queue.spawn(first, Box::new(client));
    }
    let mut long = Vec::new();
    let early = |rng: &mut SimRng| start + between(rng, 0, (dur / 4).min(5 * SEC));
    let clients = net.clients.clone();
    for _ in 0..between(rng, 1, 3) {
        let client = pick(rng, &clients).copied().unwrap_or(net.web);
        let server = if rng.random_bool(0.7) {
            net.ssh
        } else {
            net.external_ssh
        };
        let cb = pick(rng, &proto::SSH_USER_CLIENTS)
            .copied()
            .unwrap_or("SSH-2.0-OpenSSH_9.7\r\n");
        let sb = pick(rng, &proto::SSH_SERVER_BANNERS)
            .copied()
            .unwrap_or("SSH-2.0-OpenSSH_7.4\r\n");
        let pre = ssh_open(rng, sb, cb).into();
        let inter = Interactive::default();
        let mut spec = SessionSpec::new(
            client,
            server,
            22,
            Box::new(Then(pre, Box::new(inter))),
            end,
        );
        spec.close = Close::Abandon;
        spec.tos = 0x48;
        spec.rate_bps = 50e6;
        long.push((early(rng), spec));
    }
    for _ in 0..between(rng, 0, 2) {
        let client = pick(rng, &clients).copied().unwrap_or(net.web);
        let server = external_site(net, rng);
        let mut spec = SessionSpec::new(client, server, 443, Box::new(Web::streaming(rng)), end);
        spec.close = Close::Abandon;
        spec.rate_bps = uniform(rng, 8e6, 25e6);
        long.push((early(rng), spec));
    }
    if rng.random_bool(0.4) {
        let client = pick(rng, &clients).copied().unwrap_or(net.web);
        let server = external_site(net, rng);
        let pre = Web::tls_handshake(rng);
        let mut up = Upload::new(pre, u64::MAX, (2_000_000, 8_000_000), (500 * MS, 10 * SEC));
        up.framing = Framing::Tls;
        let mut spec = SessionSpec::new(client, server, 443, Box::new(up), end);
        spec.close = Close::Abandon;
        spec.rate_bps = uniform(rng, 4e6, 40e6);
        long.push((early(rng), spec));
    }
    for (t, spec) in long {
        let s = TcpSession::new(spec, net, rng);
        queue.spawn(t, Box::new(s));
    }
    if rng.random_bool(0.6) && !clients.is_empty() {
        let mean_gap_s = uniform(rng, 15.0, 90.0) / scale.max(0.1);
        let first = start + secs(exp(rng, mean_gap_s));
        queue.spawn(
            first,
            Box::new(CdnBursts {
                clients: clients.clone(),
                mean_gap_s,
                end,
            }),
        );
    }
    if rng.random_bool(0.5) {
        let fan = ResolverFanout {
            resolver: net.resolver,
            rate_on: uniform(rng, 20.0, 300.0) * scale,
            mean_on: uniform(rng, 3.0, 20.0),
            mean_off: uniform(rng, 5.0, 40.0),
            on: false,
            switch_at: start + secs(exp(rng, 10.0)),
            end,
        };
        queue.spawn(start, Box::new(fan));
    }
}

/// Every so often one client downloads from many CDN edges at once (a software update,
/// a video start, a game patch): 8-40 parallel TLS connections with large responses.
struct CdnBursts {
    clients: Vec<HostId>,
    mean_gap_s: f64,
    end: u64,
}

impl Actor for CdnBursts {
    fn step(&mut self, cx: &mut Cx<'_>) -> Option<u64> {
        let now = cx.now;
        let host = pick(cx.rng, &self.clients).copied()?;
        for _ in 0..between(cx.rng, 8, 40) {
            let server = external_site(cx.net, cx.rng);
            let t = now + between(cx.rng, 0, 800 * MS);
            let reqs = between(cx.rng, 1, 4) as u32;
            let median = uniform(cx.rng, 1e5, 2e6);
            let dialog = Web::new(cx.rng, true, reqs, median, 0.3);
            let rate = lognormal(cx.rng, 30e6, 0.7).clamp(2e6, 300e6);
            spawn_session(
                cx,
                t,
                host,
                server,
                443,
                Box::new(dialog),
                Close::ClientFin,
                rate,
                self.end,
            );
        }
        let next = now + secs(exp(cx.rng, self.mean_gap_s)).max(SEC);
        (next < self.end).then_some(next)
    }
}

/// A recursive resolver under load: queries from the LAN resolver to many authoritative
/// servers (distinct addresses, port 53) in on/off periods; most are answered.
struct ResolverFanout {
    resolver: HostId,
    rate_on: f64,
    mean_on: f64,
    mean_off: f64,
    on: bool,
    switch_at: u64,
    end: u64,
}

impl Actor for ResolverFanout {
    fn step(&mut self, cx: &mut Cx<'_>) -> Option<u64> {
        let now = cx.now;
        if now >= self.switch_at {
            self.on = !self.on;
            let mean = if self.on { self.mean_on } else { self.mean_off };
            self.switch_at = now + secs(exp(cx.rng, mean)).max(MS);
        } else if self.on {
            let ip = cx.net.random_public(cx.rng);
            let ttl =
                [64u8, 128, 255][weighted(cx.rng, &[6.0, 1.0, 3.0])] - between(cx.rng, 6, 20) as u8;
            let server = Ep::Spoof(ip, ttl);
            let me = Ep::Host(self.resolver);
            let sport: u16 = cx.rng.random_range(1024..=65535);
            let id: u16 = cx.rng.random();
            let name = pick(cx.rng, &proto::DOMAINS)
                .copied()
                .unwrap_or("example.com");
            let qtype = if cx.rng.random_bool(0.7) { 1 } else { 28 };
            let q = proto::dns_query(id, name, qtype, true);
            cx.send(Pkt::udp(me, server, sport, 53, proto::bytes(q)).with_df(true));
            if cx.rng.random_bool(0.95) {
                let n = cx.rng.random_range(1..=4);
                let nx = cx.rng.random_bool(0.05);
                let ans = proto::dns_answer(cx.rng, id, name, qtype, n, nx);
                let t = now + between(cx.rng, 5 * MS, 150 * MS);
                cx.send_at(t, Pkt::udp(server, me, 53, sport, proto::bytes(ans)));
            }
        }
        if !self.on {
            return (self.switch_at < self.end).then_some(self.switch_at);
        }
        let next = now + secs(exp(cx.rng, 1.0 / self.rate_on)).max(1000);
        let next = next.min(self.switch_at);
        (next < self.end).then_some(next)
    }
}
