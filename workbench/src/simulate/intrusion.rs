//! Session-level attacks: password brute force against SSH or FTP (hydra-like: many
//! short connections, banner, a few authentication attempts each answered by a delayed
//! failure, then close) and data exfiltration (one internal host uploading tens of MB
//! to an external host).

use std::collections::VecDeque;

use rand::Rng;

use super::attacks::Planner;
use super::dialog::{Dialog, Msg, Side};
use super::dialog::{Framing, Upload, Web};
use super::net::{HostId, Os};
use super::proto::{self, ssh_open};
use super::sim::{between, pick, uniform, Actor, Cx, Gaps, Pacer, SimRng, MS};
use super::tcp::{spawn_session, Close};
use super::tcp::{SessionSpec, TcpSession};
use crate::labels::AttackType;

const USERS: [&str; 10] = [
    "root", "admin", "test", "user", "ubuntu", "oracle", "ftp", "guest", "postgres", "pi",
];
const PASSWORDS: [&str; 12] = [
    "123456", "password", "admin", "12345678", "qwerty", "root", "toor", "letmein", "welcome",
    "P@ssw0rd", "changeme", "1q2w3e4r",
];

/// The service being brute-forced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Service {
    Ssh,
    Ftp,
}

impl Service {
    pub(crate) fn port(self) -> u16 {
        match self {
            Service::Ssh => 22,
            Service::Ftp => 21,
        }
    }
}

/// Tool and server behaviour shared by all connections of one brute-force episode.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BruteProfile {
    pub service: Service,
    pub server_banner: &'static str,
    pub client_banner: &'static str,
    /// Attempts per connection (inclusive range).
    pub attempts: (u64, u64),
    /// Server delay before a failure reply, ns (PAM's ~2 s, vsftpd's 1 s, or none).
    pub fail_delay: (u64, u64),
}

impl BruteProfile {
    /// How many attempts a connection opened now can make and still close within
    /// `remaining` ns (handshake, key exchange and close margins included).
    pub(crate) fn attempts_fitting(&self, remaining: u64, rtt_max: u64) -> u64 {
        let per_attempt = self.fail_delay.1 + 3 * rtt_max + 30 * MS;
        let overhead = 2 * per_attempt + 12 * rtt_max + 200 * MS;
        remaining.saturating_sub(overhead) / per_attempt
    }
}

/// One brute-force connection's messages.
struct BruteDialog {
    pre: VecDeque<Msg>,
    profile: BruteProfile,
    left: u32,
    stage: u8,
    user: &'static str,
}

impl Dialog for BruteDialog {
    fn next(&mut self, rng: &mut SimRng) -> Option<Msg> {
        if let Some(m) = self.pre.pop_front() {
            return Some(m);
        }
        let fail = between(rng, self.profile.fail_delay.0, self.profile.fail_delay.1);
        match self.profile.service {
            Service::Ssh => {
                // Client USERAUTH_REQUEST (password), server USERAUTH_FAILURE after the delay.
                if self.stage == 0 {
                    if self.left == 0 {
                        return None;
                    }
                    self.left -= 1;
                    self.stage = 1;
                    Some(Msg::data(
                        Side::Client,
                        between(rng, 84, 148) as u32,
                        between(rng, 200_000, 15 * MS),
                    ))
                } else {
                    self.stage = 0;
                    Some(Msg::data(Side::Server, between(rng, 36, 68) as u32, fail))
                }
            }
            Service::Ftp => {
                let quick = between(rng, 150_000, 2 * MS);
                let msg = match self.stage {
                    0 if self.left == 0 => Msg::text(Side::Client, "QUIT\r\n", quick),
                    0 => {
                        self.left -= 1;
                        Msg::text(Side::Client, format!("USER {}\r\n", self.user), quick)
                    }
                    1 => Msg::text(Side::Server, "331 Please specify the password.\r\n", quick),
                    2 => {
                        let pw = pick(rng, &PASSWORDS).copied().unwrap_or("123456");
                        Msg::text(Side::Client, format!("PASS {pw}\r\n"), quick)
                    }
                    3 => Msg::text(Side::Server, "530 Login incorrect.\r\n", fail),
                    4 => Msg::text(Side::Server, "221 Goodbye.\r\n", quick),
                    _ => return None,
                };
                self.stage = match self.stage {
                    0 if self.left == 0 && msg.text.as_deref() == Some(b"QUIT\r\n".as_slice()) => 4,
                    3 => 0,
                    s => s + 1,
                };
                Some(msg)
            }
        }
    }
}

/// Opens brute-force connections at the pacer's rate until `stop`; each ends by
/// `deadline`.
pub(crate) struct Brute {
    pub attacker: HostId,
    pub victim: HostId,
    pub profile: BruteProfile,
    pub pacer: Pacer,
    /// The episode end: every connection closes by then.
    pub deadline: u64,
    /// Upper bound of a reply delay between the two hosts.
    pub rtt_max: u64,
    pub user: &'static str,
    pub started: bool,
}

impl Brute {
    pub(crate) fn pick_user(rng: &mut SimRng) -> &'static str {
        pick(rng, &USERS).copied().unwrap_or("root")
    }
}

impl Actor for Brute {
    fn step(&mut self, cx: &mut Cx<'_>) -> Option<u64> {
        let p = self.profile;
        // Connections are only opened with the attempts that fit before the end, so
        // each still closes normally (the first one always goes).
        let fit = p.attempts_fitting(self.deadline.saturating_sub(cx.now), self.rtt_max);
        if fit == 0 && std::mem::replace(&mut self.started, true) {
            return None;
        }
        let left = between(cx.rng, p.attempts.0, p.attempts.1).min(fit.max(1)) as u32;
        let pre: VecDeque<Msg> = match p.service {
            Service::Ssh => {
                let mut v: VecDeque<Msg> =
                    ssh_open(cx.rng, p.server_banner, p.client_banner).into();
                // The "none" method probe and its immediate failure list.
                v.push_back(Msg::data(
                    Side::Client,
                    between(cx.rng, 68, 84) as u32,
                    between(cx.rng, 200_000, 3 * MS),
                ));
                v.push_back(Msg::data(
                    Side::Server,
                    between(cx.rng, 52, 68) as u32,
                    between(cx.rng, 100_000, MS),
                ));
                v
            }
            Service::Ftp => VecDeque::from([Msg::text(
                Side::Server,
                p.server_banner,
                between(cx.rng, 200_000, 3 * MS),
            )]),
        };
        let close = match p.service {
            Service::Ftp => Close::ServerFin,
            Service::Ssh if cx.rng.random_bool(0.8) => Close::ClientFin,
            Service::Ssh => Close::ServerFin,
        };
        let user = if cx.rng.random_bool(0.8) {
            self.user
        } else {
            Brute::pick_user(cx.rng)
        };
        let dialog = BruteDialog {
            pre,
            profile: p,
            left,
            stage: 0,
            user,
        };
        let now = cx.now;
        spawn_session(
            cx,
            now,
            self.attacker,
            self.victim,
            p.service.port(),
            Box::new(dialog),
            close,
            50e6,
            self.deadline,
        );
        let next = now + self.pacer.gap();
        (next < self.deadline).then_some(next)
    }
}

/// Installs a brute-force episode over `[start, end]`.
pub(crate) fn bruteforce(p: &mut Planner<'_>, start: u64, end: u64) {
    let attacker = p.attacker(0.3);
    let service = if p.rng.random_bool(0.65) {
        Service::Ssh
    } else {
        Service::Ftp
    };
    let victim = match service {
        Service::Ssh => *pick(p.rng, &[p.net.ssh, p.net.web, p.net.ftp]).unwrap_or(&p.net.ssh),
        Service::Ftp => p.net.ftp,
    };
    let a0 = between(p.rng, 1, 3);
    let attempts = (a0, a0 + between(p.rng, 0, 3));
    let profile = match service {
        Service::Ssh => BruteProfile {
            service,
            server_banner: pick(p.rng, &proto::SSH_SERVER_BANNERS)
                .copied()
                .unwrap_or("SSH-2.0-OpenSSH_7.4\r\n"),
            client_banner: pick(p.rng, &proto::SSH_TOOL_CLIENTS)
                .copied()
                .unwrap_or("SSH-2.0-Go\r\n"),
            attempts,
            fail_delay: if p.rng.random_bool(0.7) {
                (1_800 * MS, 3_200 * MS)
            } else {
                (5 * MS, 60 * MS)
            },
        },
        Service::Ftp => BruteProfile {
            service,
            server_banner: pick(p.rng, &proto::FTP_BANNERS)
                .copied()
                .unwrap_or("220 (vsFTPd 3.0.5)\r\n"),
            client_banner: "",
            attempts,
            fail_delay: if p.rng.random_bool(0.6) {
                (900 * MS, 1_200 * MS)
            } else {
                (2 * MS, 40 * MS)
            },
        },
    };
    let per_sec = uniform(p.rng, 2.0, 20.0) * p.intensity;
    let conn_rate = per_sec / ((attempts.0 + attempts.1) as f64 / 2.0);
    let pacer = Pacer::rate(p.rng, conn_rate, Gaps::Exp);
    let rtt_max = p.net.resp_max(attacker).max(p.net.resp_max(victim));
    let user = Brute::pick_user(p.rng);
    let detail = format!(
        "bruteforce service={:?} port={} attempts_per_s={per_sec:.1} attempts_per_conn={}-{} client={}",
        service,
        service.port(),
        attempts.0,
        attempts.1,
        profile.client_banner.trim_end()
    )
    .to_lowercase();
    let brute = Brute {
        attacker,
        victim,
        profile,
        pacer,
        deadline: end,
        rtt_max,
        user,
        started: false,
    };
    p.queue.spawn(start, Box::new(brute));
    p.label(
        AttackType::BruteForce,
        Some(attacker),
        Some(victim),
        start,
        end,
        detail,
    );
}

/// Installs an exfiltration episode over `[start, end]`.
pub(crate) fn exfil(p: &mut Planner<'_>, start: u64, end: u64) {
    let clients = p.net.clients.clone();
    let attacker = pick(p.rng, &clients).copied().unwrap_or(p.net.web);
    let port = *pick(p.rng, &[443u16, 443, 443, 8443, 22, 8080, 4444, 993]).unwrap_or(&443);
    let victim = p.net.add_external(p.rng, Os::Linux, &[port], &[]);
    let secs_avail = end.saturating_sub(start) as f64 / 1e9;
    let mut total = uniform(p.rng, 20e6, 80e6) * p.intensity;
    let mut rate = total * 8.0 / (secs_avail * 0.85).max(0.05);
    if rate > 800e6 {
        total *= 800e6 / rate;
        rate = 800e6;
    }
    let pre = match port {
        443 | 8443 | 993 => Web::tls_handshake(p.rng),
        22 => {
            let sb = pick(p.rng, &proto::SSH_SERVER_BANNERS)
                .copied()
                .unwrap_or("SSH-2.0-OpenSSH_7.4\r\n");
            let cb = pick(p.rng, &proto::SSH_USER_CLIENTS)
                .copied()
                .unwrap_or("SSH-2.0-OpenSSH_9.7\r\n");
            ssh_open(p.rng, sb, cb).into()
        }
        _ => Default::default(),
    };
    let total_b = total as u64;
    let chunks = if p.rng.random_bool(0.5) {
        (total_b, total_b)
    } else {
        (total_b / 6, total_b / 2)
    };
    let mut up = Upload::new(
        pre,
        total_b,
        (chunks.0.max(1), chunks.1.max(1)),
        (MS, 50 * MS),
    );
    up.framing = match port {
        443 | 8443 | 993 => Framing::Tls,
        8080 => Framing::HttpPut,
        _ => Framing::Raw,
    };
    let mut spec = SessionSpec::new(attacker, victim, port, Box::new(up), end);
    spec.close = Close::ClientFin;
    spec.rate_bps = rate;
    let session = TcpSession::new(spec, p.net, p.rng);
    p.queue.spawn(start, Box::new(session));
    let detail = format!(
        "exfil port={port} bytes={total_b} rate={:.1}Mbps",
        rate / 1e6
    );
    p.label(
        AttackType::DataExfiltration,
        Some(attacker),
        Some(victim),
        start,
        end,
        detail,
    );
}
