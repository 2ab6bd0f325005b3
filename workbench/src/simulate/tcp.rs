//! Scripted TCP conversations: a real three-way handshake (or a refusal / timeout),
//! messages cut into MSS segments with slow start and pacing, delayed ACKs every second
//! segment, consistent sequence/ack numbers, timestamps when both stacks use them, and
//! a FIN or RST close.
//!
//! A [`TcpSession`] plans one burst at a time into the global queue, so its memory is a
//! few counters plus the segments of one congestion window.

use rand::Rng;

use super::dialog::{Dialog, Msg, Side};
use super::frame::{Ep, Payload, Pkt, Tcp, TcpOpt, ACK, FIN, PSH, RST, SYN};
use super::net::{HostId, Net};
use super::sim::{between, uniform, Actor, Cx, SimRng, MS, SEC};

/// How the connection attempt goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Open,
    /// Closed port: the server answers RST/ACK.
    Refused,
    /// No answer: the client retransmits its SYN.
    Timeout,
}

/// How an open connection ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Close {
    ClientFin,
    ServerFin,
    ClientRst,
    ServerRst,
    /// Nothing more is sent (still open when the capture ends).
    Abandon,
}

/// Everything a session needs.
pub(crate) struct SessionSpec {
    pub client: HostId,
    pub server: HostId,
    pub dport: u16,
    pub outcome: Outcome,
    pub close: Close,
    pub dialog: Box<dyn Dialog>,
    /// Nothing is sent after this time.
    pub deadline: u64,
    /// Throughput cap for data, bits/s (0: only slow start and the link limit).
    pub rate_bps: f64,
    pub tos: u8,
}

impl SessionSpec {
    pub(crate) fn new(
        client: HostId,
        server: HostId,
        dport: u16,
        dialog: Box<dyn Dialog>,
        deadline: u64,
    ) -> Self {
        SessionSpec {
            client,
            server,
            dport,
            outcome: Outcome::Open,
            close: Close::ClientFin,
            dialog,
            deadline,
            rate_bps: 0.0,
            tos: 0,
        }
    }
}

/// Starts a TCP session at `t`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn spawn_session(
    cx: &mut Cx<'_>,
    t: u64,
    client: HostId,
    server: HostId,
    dport: u16,
    dialog: Box<dyn Dialog>,
    close: Close,
    rate_bps: f64,
    deadline: u64,
) {
    let mut spec = SessionSpec::new(client, server, dport, dialog, deadline);
    spec.close = close;
    spec.rate_bps = rate_bps;
    let s = TcpSession::new(spec, cx.net, cx.rng);
    cx.spawn(t, Box::new(s));
}

struct End {
    host: HostId,
    port: u16,
    nxt: u32,
    win: u16,
    win_max: u16,
    last_tx: u64,
}

struct Cur {
    msg: Msg,
    sent: u32,
    unacked: u32,
}

enum Phase {
    Start,
    Send(Cur),
    Close,
    Done,
}

/// One TCP connection as an [`Actor`].
pub(crate) struct TcpSession {
    ends: [End; 2],
    outcome: Outcome,
    close: Close,
    dialog: Box<dyn Dialog>,
    pending: Option<Msg>,
    deadline: u64,
    rate_bps: f64,
    tos: u8,
    mss: u32,
    ts_on: bool,
    cwnd: u32,
    cwnd_max: u32,
    phase: Phase,
    cut: bool,
}

const LINK_BPS: f64 = 1e9;

impl TcpSession {
    pub(crate) fn new(spec: SessionSpec, net: &mut Net, rng: &mut SimRng) -> TcpSession {
        let sport = net.ephemeral_port(spec.client, rng);
        let (c, s) = (&net.hosts[spec.client], &net.hosts[spec.server]);
        let ts_on = c.os.timestamps() && s.os.timestamps();
        let mss = u32::from(c.mss.min(s.mss)) - if ts_on { 12 } else { 0 };
        let end = |host: HostId, port: u16, os: super::net::Os, rng: &mut SimRng| {
            let (w0, wmax) = os.data_window();
            End {
                host,
                port,
                nxt: 0,
                win: w0 + between(rng, 0, 8) as u16,
                win_max: wmax,
                last_tx: 0,
            }
        };
        let (cos, sos) = (c.os, s.os);
        let rtt = (c.half_rtt + s.half_rtt) as f64 * 2e-9;
        let cwnd_max = if spec.rate_bps > 0.0 {
            (spec.rate_bps / 8.0 * rtt / f64::from(mss)).clamp(4.0, 256.0) as u32
        } else {
            between(rng, 40, 160) as u32
        };
        TcpSession {
            ends: [
                end(spec.client, sport, cos, rng),
                end(spec.server, spec.dport, sos, rng),
            ],
            outcome: spec.outcome,
            close: spec.close,
            dialog: spec.dialog,
            pending: None,
            deadline: spec.deadline,
            rate_bps: spec.rate_bps,
            tos: spec.tos,
            mss: mss.max(536),
            ts_on,
            cwnd: 10,
            cwnd_max,
            phase: Phase::Start,
            cut: false,
        }
    }

    fn end(&self, side: Side) -> &End {
        &self.ends[side.idx()]
    }

    fn resp(&self, cx: &mut Cx<'_>, side: Side) -> u64 {
        cx.net.resp(self.end(side).host, cx.rng)
    }

    #[allow(clippy::too_many_arguments)]
    fn put(
        &mut self,
        cx: &mut Cx<'_>,
        ts: u64,
        from: Side,
        flags: u8,
        seq: u32,
        ack: u32,
        win: u16,
        opt: TcpOpt,
        payload: Payload,
    ) {
        if ts > self.deadline {
            self.cut = true;
            return;
        }
        let (a, b) = (self.end(from), self.end(from.other()));
        let tcp = Tcp {
            sport: a.port,
            dport: b.port,
            seq,
            ack,
            flags,
            win,
            opt,
        };
        let pkt = Pkt::tcp(Ep::Host(a.host), Ep::Host(b.host), tcp, payload).with_tos(self.tos);
        cx.send_at(ts, pkt);
        self.ends[from.idx()].last_tx = ts;
    }

    fn ts_opt(&self, cx: &Cx<'_>, from: Side, at: u64) -> TcpOpt {
        if !self.ts_on {
            return TcpOpt::None;
        }
        let peer = self.end(from.other());
        TcpOpt::Ts {
            ecr: cx.net.hosts[peer.host].tsval(peer.last_tx.min(at)),
        }
    }

    /// A pure ACK from `from` acknowledging `ack`, with a slowly opening window.
    fn pure_ack(&mut self, cx: &mut Cx<'_>, ts: u64, from: Side, ack: u32) {
        // Never before this side's previous packet: ACK numbers only grow on the wire.
        let ts = ts.max(self.end(from).last_tx);
        let e = &mut self.ends[from.idx()];
        e.win = e.win.saturating_add(e.win / 24 + 1).min(e.win_max);
        let (seq, win) = (e.nxt, e.win);
        let opt = self.ts_opt(cx, from, ts);
        self.put(cx, ts, from, ACK, seq, ack, win, opt, Payload::Empty);
    }

    fn start(&mut self, cx: &mut Cx<'_>) -> Option<u64> {
        let t0 = cx.now;
        let (c, s) = (Side::Client, Side::Server);
        let isn_c: u32 = cx.rng.random();
        let syn_win = cx.net.hosts[self.end(c).host].os.syn_window();
        self.put(
            cx,
            t0,
            c,
            SYN,
            isn_c,
            0,
            syn_win,
            TcpOpt::Syn,
            Payload::Empty,
        );
        match self.outcome {
            Outcome::Refused => {
                let t = t0 + self.resp(cx, s);
                self.put(
                    cx,
                    t,
                    s,
                    RST | ACK,
                    0,
                    isn_c.wrapping_add(1),
                    0,
                    TcpOpt::None,
                    Payload::Empty,
                );
                None
            }
            Outcome::Timeout => {
                for k in 0..between(cx.rng, 1, 3) {
                    let t = t0 + ((1u64 << (k + 1)) - 1) * SEC;
                    self.put(
                        cx,
                        t,
                        c,
                        SYN,
                        isn_c,
                        0,
                        syn_win,
                        TcpOpt::Syn,
                        Payload::Empty,
                    );
                }
                None
            }
            Outcome::Open => {
                let isn_s: u32 = cx.rng.random();
                let t1 = t0 + self.resp(cx, s);
                let ecr = self.ts_on.then(|| cx.net.hosts[self.end(c).host].tsval(t0));
                let sos = cx.net.hosts[self.end(s).host].os;
                let win = sos.synack_window(self.ts_on);
                self.put(
                    cx,
                    t1,
                    s,
                    SYN | ACK,
                    isn_s,
                    isn_c.wrapping_add(1),
                    win,
                    TcpOpt::SynAck { ecr },
                    Payload::Empty,
                );
                self.ends[0].nxt = isn_c.wrapping_add(1);
                self.ends[1].nxt = isn_s.wrapping_add(1);
                let t2 = t1 + self.resp(cx, c);
                self.pure_ack(cx, t2, c, isn_s.wrapping_add(1));
                self.next_msg(cx, t2, c)
            }
        }
    }

    /// Schedules the next message (or the close) after the last packet, sent by `last`
    /// at `t`.
    fn next_msg(&mut self, cx: &mut Cx<'_>, t: u64, last: Side) -> Option<u64> {
        let next = self.pending.take().or_else(|| self.dialog.next(cx.rng));
        match next {
            Some(msg) => {
                let turn = if msg.from != last {
                    self.resp(cx, msg.from)
                } else {
                    0
                };
                // After anything this side already has scheduled (a delayed ACK).
                let at = (t + turn + msg.think).max(self.end(msg.from).last_tx + 1_000);
                self.phase = Phase::Send(Cur {
                    msg,
                    sent: 0,
                    unacked: 0,
                });
                Some(at)
            }
            None => {
                let closer = match self.close {
                    Close::ClientFin | Close::ClientRst => Side::Client,
                    Close::ServerFin | Close::ServerRst => Side::Server,
                    Close::Abandon => return None,
                };
                let turn = if closer != last {
                    self.resp(cx, closer)
                } else {
                    0
                };
                self.phase = Phase::Close;
                let at = t + turn + between(cx.rng, 20_000, 30 * MS);
                Some(at.max(self.end(closer).last_tx + 1_000))
            }
        }
    }

    /// Sends one congestion window of the current message.
    fn burst(&mut self, cx: &mut Cx<'_>, mut cur: Cur) -> Option<u64> {
        let (from, to) = (cur.msg.from, cur.msg.from.other());
        let first = cx.now;
        let mut t = first;
        let pace = if self.rate_bps > 0.0 {
            f64::from(self.mss) * 8.0 / self.rate_bps * 1e9
        } else {
            0.0
        };
        let ser = f64::from(self.mss) * 8.0 / LINK_BPS * 1e9;
        let mut gap = 0;
        for _ in 0..self.cwnd {
            let len = self.mss.min(cur.msg.bytes - cur.sent);
            let done = cur.sent + len == cur.msg.bytes;
            let payload = cur.msg.segment(cur.sent, len, cx.rng);
            let seq = self.end(from).nxt;
            let ack = self.end(to).nxt;
            let win = self.end(from).win;
            let opt = self.ts_opt(cx, from, t);
            let flags = if done { ACK | PSH } else { ACK };
            self.put(cx, t, from, flags, seq, ack, win, opt, payload);
            self.ends[from.idx()].nxt = seq.wrapping_add(len);
            cur.sent += len;
            cur.unacked += 1;
            if cur.unacked >= 2 {
                let at = t + self.resp(cx, to);
                let acked = self.end(from).nxt;
                self.pure_ack(cx, at, to, acked);
                cur.unacked = 0;
            }
            if done {
                break;
            }
            gap = (ser.max(pace) * uniform(cx.rng, 0.75, 1.25)) as u64;
            t += gap.max(1);
        }
        self.cwnd = (self.cwnd * 2).min(self.cwnd_max);
        if cur.sent < cur.msg.bytes {
            let rtt = self.resp(cx, to) + self.resp(cx, from);
            let next = (first + rtt).max(t + gap);
            self.phase = Phase::Send(cur);
            return Some(next);
        }
        // Message complete: the receiver acknowledges a trailing odd segment unless it
        // answers with data at once, or the connection closes now (the ACK then rides
        // on that data or on its FIN).
        let next = self.dialog.next(cx.rng);
        let closing = next.is_none() && self.close != Close::Abandon;
        if cur.unacked > 0 && !closing {
            let piggyback = next
                .as_ref()
                .is_some_and(|m| m.from == to && m.think < 30 * MS);
            if !piggyback {
                // Delayed ACK, but never after the receiver's own next data.
                let limit = match &next {
                    Some(m) if m.from == to => m.think.min(40 * MS),
                    _ => 40 * MS,
                };
                let at = t + self.resp(cx, to) + between(cx.rng, 50_000.min(limit), limit);
                let acked = self.end(from).nxt;
                self.pure_ack(cx, at, to, acked);
            }
        }
        self.pending = next;
        self.next_msg(cx, t, from)
    }

    fn finish(&mut self, cx: &mut Cx<'_>) {
        let t = cx.now;
        let (a, rst) = match self.close {
            Close::ClientFin => (Side::Client, false),
            Close::ServerFin => (Side::Server, false),
            Close::ClientRst => (Side::Client, true),
            Close::ServerRst => (Side::Server, true),
            Close::Abandon => return,
        };
        let b = a.other();
        let (sa, sb) = (self.end(a).nxt, self.end(b).nxt);
        if rst {
            self.put(cx, t, a, RST | ACK, sa, sb, 0, TcpOpt::None, Payload::Empty);
            return;
        }
        let (wa, wb) = (self.end(a).win, self.end(b).win);
        let opt = self.ts_opt(cx, a, t);
        self.put(cx, t, a, FIN | ACK, sa, sb, wa, opt, Payload::Empty);
        let t1 = (t + self.resp(cx, b)).max(self.end(b).last_tx + 1_000);
        let opt = self.ts_opt(cx, b, t1);
        self.put(
            cx,
            t1,
            b,
            FIN | ACK,
            sb,
            sa.wrapping_add(1),
            wb,
            opt,
            Payload::Empty,
        );
        let t2 = t1 + self.resp(cx, a);
        let opt = self.ts_opt(cx, a, t2);
        self.put(
            cx,
            t2,
            a,
            ACK,
            sa.wrapping_add(1),
            sb.wrapping_add(1),
            wa,
            opt,
            Payload::Empty,
        );
    }
}

impl Actor for TcpSession {
    fn step(&mut self, cx: &mut Cx<'_>) -> Option<u64> {
        let next = match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Start => self.start(cx),
            Phase::Send(cur) => self.burst(cx, cur),
            Phase::Close => {
                self.finish(cx);
                None
            }
            Phase::Done => None,
        };
        if self.cut {
            return None;
        }
        next.filter(|t| *t <= self.deadline)
    }
}
