//! What TCP sessions say: the [`Dialog`] trait (a lazy sequence of application
//! messages) and the conversations the simulator uses — web browsing (TLS or plain
//! HTTP), request/response protocols, interactive shells, chunked uploads.
//!
//! Dialogs produce messages on demand, so a session that lasts the whole capture holds
//! only its current message.

use std::collections::VecDeque;

use super::proto::{self, http_request, http_response};
use rand::Rng;

use super::frame::Payload;
use super::sim::{between, exp, lognormal, pick, secs, uniform, SimRng, MS};
use super::tls;

/// Which end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Client,
    Server,
}

impl Side {
    pub(crate) fn idx(self) -> usize {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }

    pub(crate) fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

/// One application message: `bytes` from `from`, sent `think` ns after the previous
/// message was received (or, from the same side, after it was sent). `text` (if any)
/// gives the first bytes; the rest is random.
pub(crate) struct Msg {
    pub from: Side,
    pub bytes: u32,
    pub think: u64,
    pub text: Option<Box<[u8]>>,
    /// The bytes after `text` are TLS application-data records.
    pub tls: bool,
}

impl Msg {
    pub(crate) fn data(from: Side, bytes: u32, think: u64) -> Msg {
        Msg {
            from,
            bytes: bytes.max(1),
            think,
            text: None,
            tls: false,
        }
    }

    pub(crate) fn text(from: Side, text: impl Into<Vec<u8>>, think: u64) -> Msg {
        let text: Vec<u8> = text.into();
        Msg {
            from,
            bytes: (text.len() as u32).max(1),
            think,
            text: Some(text.into()),
            tls: false,
        }
    }

    /// `prefix` followed by random bytes up to `total`.
    pub(crate) fn prefixed(from: Side, prefix: impl Into<Vec<u8>>, total: u32, think: u64) -> Msg {
        let text: Vec<u8> = prefix.into();
        Msg {
            from,
            bytes: total.max(text.len() as u32).max(1),
            think,
            text: Some(text.into()),
            tls: false,
        }
    }

    /// TLS: `prefix` (handshake records, possibly empty) then application-data records
    /// up to `total` bytes.
    pub(crate) fn tls(from: Side, prefix: Vec<u8>, total: u32, think: u64) -> Msg {
        let mut m = Msg::prefixed(from, prefix, total, think);
        if m.text.as_ref().is_some_and(|t| t.is_empty()) {
            m.text = None;
        }
        m.tls = true;
        m
    }
}

impl Msg {
    /// The bytes of segment `[off, off + len)` of this message.
    pub(crate) fn segment(&self, off: u32, len: u32, rng: &mut SimRng) -> Payload {
        let text: &[u8] = self.text.as_deref().unwrap_or(&[]);
        let (off, len) = (off as usize, len as usize);
        if off >= text.len() && !self.tls {
            return Payload::Random(len as u32);
        }
        let mut b = vec![0u8; len];
        rng.fill(&mut b[..]);
        if off < text.len() {
            let from = &text[off..text.len().min(off + len)];
            b[..from.len()].copy_from_slice(from);
        }
        if self.tls {
            tls::frame_records(&mut b, off, text.len(), self.bytes as usize);
        }
        Payload::Bytes(b.into())
    }
}

/// Produces the messages of a conversation; `None` ends it (then the close happens).
pub(crate) trait Dialog: Send {
    fn next(&mut self, rng: &mut SimRng) -> Option<Msg>;
}

/// A fixed list of messages.
pub(crate) struct Script(pub VecDeque<Msg>);

impl Dialog for Script {
    fn next(&mut self, _rng: &mut SimRng) -> Option<Msg> {
        self.0.pop_front()
    }
}

/// Web browsing: optional TLS handshake, then request/response pairs.
pub(crate) struct Web {
    tls: bool,
    stage: u8,
    reqs: u32,
    host: &'static str,
    resp_median: f64,
    resp_sigma: f64,
    think_mean: f64,
    want_req: bool,
    first: bool,
}

impl Web {
    /// `reqs` requests with heavy-tailed response sizes (median `resp_median` bytes) and
    /// exponential think times (mean `think_mean` s) between them.
    pub(crate) fn new(
        rng: &mut SimRng,
        tls: bool,
        reqs: u32,
        resp_median: f64,
        think_mean: f64,
    ) -> Web {
        let host = pick(rng, &proto::DOMAINS).copied().unwrap_or("example.com");
        Web {
            tls,
            stage: 0,
            reqs,
            host,
            resp_median,
            resp_sigma: 1.7,
            think_mean,
            want_req: true,
            first: true,
        }
    }

    /// Segment fetches of a video stream: ~1 MB every few seconds.
    pub(crate) fn streaming(rng: &mut SimRng) -> Web {
        let (median, think) = (lognormal(rng, 1.2e6, 0.4), uniform(rng, 2.0, 6.0));
        let mut w = Web::new(rng, true, 100_000, median, think);
        w.resp_sigma = 0.35;
        w
    }

    /// Just the TLS handshake messages (for uploads over HTTPS).
    pub(crate) fn tls_handshake(rng: &mut SimRng) -> VecDeque<Msg> {
        let mut w = Web::new(rng, true, 0, 1.0, 1.0);
        (0..3).filter_map(|_| w.next(rng)).collect()
    }
}

impl Dialog for Web {
    fn next(&mut self, rng: &mut SimRng) -> Option<Msg> {
        if self.tls && self.stage < 3 {
            self.stage += 1;
            return Some(match self.stage {
                1 => {
                    let size = if rng.random_bool(0.5) {
                        517
                    } else {
                        between(rng, 517, 1850)
                    };
                    let hello = tls::client_hello(rng, self.host, size as usize);
                    Msg::text(Side::Client, hello, between(rng, 50_000, MS))
                }
                2 => {
                    let total = between(rng, 2400, 6500) as u32;
                    let hello = tls::server_hello(rng);
                    Msg::tls(Side::Server, hello, total, between(rng, 500_000, 25 * MS))
                }
                _ => {
                    let total = between(rng, 64, 160) as u32;
                    Msg::tls(
                        Side::Client,
                        tls::CCS.to_vec(),
                        total,
                        between(rng, 100_000, 3 * MS),
                    )
                }
            });
        }
        if self.want_req {
            if self.reqs == 0 {
                return None;
            }
            self.reqs -= 1;
            self.want_req = false;
            let think = if std::mem::take(&mut self.first) {
                between(rng, 20_000, 2 * MS)
            } else {
                secs(exp(rng, self.think_mean).min(30.0))
            };
            Some(if self.tls {
                Msg::tls(
                    Side::Client,
                    Vec::new(),
                    between(rng, 280, 1400) as u32,
                    think,
                )
            } else {
                Msg::text(Side::Client, http_request(rng, self.host), think)
            })
        } else {
            self.want_req = true;
            let size = lognormal(rng, self.resp_median, self.resp_sigma).clamp(150.0, 30e6) as u32;
            let ttfb = between(rng, 2 * MS, 150 * MS);
            Some(if self.tls {
                Msg::tls(Side::Server, Vec::new(), size, ttfb)
            } else {
                let (head, whole) = http_response(size, "200 OK");
                Msg::prefixed(Side::Server, head, whole, ttfb)
            })
        }
    }
}

/// Request/response protocols (SMB, SQL, commands over SSH): optional server greeting,
/// then `left` small requests with log-normal replies.
pub(crate) struct Rpc {
    pub greeting: Option<u32>,
    pub left: u32,
    pub req: (u64, u64),
    pub resp_median: f64,
    pub resp_sigma: f64,
    pub think_mean: f64,
    pub proc: (u64, u64),
    want_req: bool,
}

impl Rpc {
    pub(crate) fn new(left: u32, req: (u64, u64), resp_median: f64, think_mean: f64) -> Rpc {
        Rpc {
            greeting: None,
            left,
            req,
            resp_median,
            resp_sigma: 1.5,
            think_mean,
            proc: (100_000, 10 * MS),
            want_req: true,
        }
    }
}

impl Dialog for Rpc {
    fn next(&mut self, rng: &mut SimRng) -> Option<Msg> {
        if let Some(g) = self.greeting.take() {
            return Some(Msg::data(Side::Server, g, between(rng, 200_000, 2 * MS)));
        }
        if self.want_req {
            if self.left == 0 {
                return None;
            }
            self.left -= 1;
            self.want_req = false;
            let think = secs(exp(rng, self.think_mean).min(30.0));
            Some(Msg::data(
                Side::Client,
                between(rng, self.req.0, self.req.1) as u32,
                think,
            ))
        } else {
            self.want_req = true;
            let size = lognormal(rng, self.resp_median, self.resp_sigma).clamp(20.0, 50e6) as u32;
            Some(Msg::data(
                Side::Server,
                size,
                between(rng, self.proc.0, self.proc.1),
            ))
        }
    }
}

/// An interactive shell: keystrokes (36-byte SSH packets) echoed by the server, command
/// output after each line, pauses between commands.
#[derive(Default)]
pub(crate) struct Interactive {
    keys_left: u32,
    echo_next: bool,
    output_next: bool,
}

impl Dialog for Interactive {
    fn next(&mut self, rng: &mut SimRng) -> Option<Msg> {
        if std::mem::take(&mut self.echo_next) {
            return Some(Msg::data(Side::Server, 36, between(rng, 100_000, 2 * MS)));
        }
        if std::mem::take(&mut self.output_next) {
            let n = lognormal(rng, 600.0, 1.6).clamp(36.0, 400_000.0) as u32;
            return Some(Msg::data(Side::Server, n, between(rng, 3 * MS, 300 * MS)));
        }
        let think = if self.keys_left == 0 {
            self.keys_left = between(rng, 3, 30) as u32;
            secs(exp(rng, 6.0).min(120.0))
        } else {
            between(rng, 60 * MS, 350 * MS)
        };
        self.keys_left -= 1;
        self.output_next = self.keys_left == 0;
        self.echo_next = true;
        Some(Msg::data(Side::Client, 36, think))
    }
}

/// A client→server upload in chunks (`left` bytes in all), each acknowledged by a small
/// application reply; `pre` messages (a TLS or SSH handshake) go first.
pub(crate) struct Upload {
    pub pre: VecDeque<Msg>,
    pub left: u64,
    pub chunk: (u64, u64),
    pub reply: (u64, u64),
    pub pause: (u64, u64),
    /// How chunks are framed on the wire.
    pub framing: Framing,
    expect_reply: bool,
}

/// How an upload's chunks look on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Opaque bytes (a custom or already-encrypted channel).
    Raw,
    /// TLS application-data records.
    Tls,
    /// One HTTP PUT per chunk, answered `201 Created`.
    HttpPut,
}

impl Upload {
    pub(crate) fn new(
        pre: VecDeque<Msg>,
        left: u64,
        chunk: (u64, u64),
        pause: (u64, u64),
    ) -> Upload {
        Upload {
            pre,
            left,
            chunk,
            reply: (200, 600),
            pause,
            framing: Framing::Raw,
            expect_reply: false,
        }
    }
}

impl Dialog for Upload {
    fn next(&mut self, rng: &mut SimRng) -> Option<Msg> {
        if let Some(m) = self.pre.pop_front() {
            return Some(m);
        }
        if std::mem::take(&mut self.expect_reply) {
            let n = between(rng, self.reply.0, self.reply.1) as u32;
            let think = between(rng, MS, 20 * MS);
            return Some(match self.framing {
                Framing::Raw => Msg::data(Side::Server, n, think),
                Framing::Tls => Msg::tls(Side::Server, Vec::new(), n, think),
                Framing::HttpPut => Msg::text(
                    Side::Server,
                    "HTTP/1.1 201 Created\r\nServer: nginx\r\nContent-Length: 0\r\n\r\n",
                    think,
                ),
            });
        }
        if self.left == 0 {
            return None;
        }
        let n = between(rng, self.chunk.0, self.chunk.1)
            .min(self.left)
            .min(u64::from(u32::MAX));
        self.left -= n;
        self.expect_reply = true;
        let think = between(rng, self.pause.0, self.pause.1);
        Some(match self.framing {
            Framing::Raw => Msg::data(Side::Client, n as u32, think),
            Framing::Tls => Msg::tls(Side::Client, Vec::new(), n as u32, think),
            Framing::HttpPut => {
                let head = |body: u64| {
                    format!("PUT /upload/{:08x} HTTP/1.1\r\nHost: storage\r\nContent-Type: application/octet-stream\r\nContent-Length: {body}\r\n\r\n", n)
                };
                let body = n.saturating_sub(head(n).len() as u64);
                let h = head(body);
                let total = (h.len() as u64 + body) as u32;
                Msg::prefixed(Side::Client, h, total, think)
            }
        })
    }
}

/// `pre` messages, then another dialog.
pub(crate) struct Then(pub VecDeque<Msg>, pub Box<dyn Dialog>);

impl Dialog for Then {
    fn next(&mut self, rng: &mut SimRng) -> Option<Msg> {
        self.0.pop_front().or_else(|| self.1.next(rng))
    }
}
