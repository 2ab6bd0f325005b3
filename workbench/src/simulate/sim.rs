//! The event machinery: a queue of jobs ordered by (time, sequence), the [`Actor`]
//! trait every traffic source implements, and small sampling helpers.
//!
//! Invariant: a job runs at its time `t` and may only emit frames stamped `t` and
//! schedule jobs at `>= t`; popping the queue in (time, sequence) order therefore gives
//! frames in non-decreasing time order, and memory holds only scheduled work (active
//! flows and packets in flight), never the capture.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::frame::Pkt;
use super::net::Net;
use super::SimFrame;

/// The one random number generator type: deterministic from the seed.
pub(crate) type SimRng = ChaCha8Rng;

/// Nanoseconds per millisecond / second.
pub(crate) const MS: u64 = 1_000_000;
pub(crate) const SEC: u64 = 1_000_000_000;

/// A traffic source that wakes up at times it chooses.
pub(crate) trait Actor: Send {
    /// Runs at `cx.now`: emits or schedules packets at `>= cx.now`, spawns actors, and
    /// returns the next wake-up time (`>= cx.now`), or `None` when finished.
    fn step(&mut self, cx: &mut Cx<'_>) -> Option<u64>;
}

/// Something scheduled: a fully described packet or an actor to wake.
pub(crate) enum Job {
    Packet(Pkt),
    Actor(Box<dyn Actor>),
}

struct Entry {
    ts: u64,
    seq: u64,
    job: Job,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.ts, self.seq) == (other.ts, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // Reversed: BinaryHeap is a max-heap and we want the earliest (ts, seq) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.ts, other.seq).cmp(&(self.ts, self.seq))
    }
}

/// Jobs ordered by (time, insertion sequence); anything at or after `end` is dropped.
pub(crate) struct Queue {
    heap: BinaryHeap<Entry>,
    seq: u64,
    end: u64,
}

impl Queue {
    pub(crate) fn new(end: u64) -> Queue {
        Queue {
            heap: BinaryHeap::new(),
            seq: 0,
            end,
        }
    }

    /// Schedules `job` at `ts` (ignored when `ts` is at or past the end of the capture).
    pub(crate) fn push(&mut self, ts: u64, job: Job) {
        if ts >= self.end {
            return;
        }
        self.seq += 1;
        self.heap.push(Entry {
            ts,
            seq: self.seq,
            job,
        });
    }

    /// Schedules an actor's first wake-up.
    pub(crate) fn spawn(&mut self, ts: u64, actor: Box<dyn Actor>) {
        self.push(ts, Job::Actor(actor));
    }

    fn pop(&mut self) -> Option<(u64, Job)> {
        self.heap.pop().map(|e| (e.ts, e.job))
    }

    /// Number of scheduled jobs (for memory-bound tests).
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

/// What an actor sees while it runs.
pub(crate) struct Cx<'a> {
    /// The current time (ns since the epoch).
    pub now: u64,
    pub net: &'a mut Net,
    pub rng: &'a mut SimRng,
    queue: &'a mut Queue,
    out: &'a mut VecDeque<SimFrame>,
}

impl Cx<'_> {
    /// Emits `pkt` now.
    pub(crate) fn send(&mut self, pkt: Pkt) {
        let frame = pkt.render(self.now, self.net, self.rng);
        self.out.push_back(SimFrame {
            ts_ns: self.now,
            frame,
        });
    }

    /// Emits `pkt` now and returns its IP datagram, at most `max` bytes of it (what an
    /// ICMP error quotes).
    pub(crate) fn send_quoted(&mut self, pkt: Pkt, max: usize) -> Vec<u8> {
        let frame = pkt.render(self.now, self.net, self.rng);
        let ip_len = frame
            .get(16..18)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            .unwrap_or(0);
        let quoted = frame.get(14..14 + ip_len.min(max)).unwrap_or(&[]).to_vec();
        self.out.push_back(SimFrame {
            ts_ns: self.now,
            frame,
        });
        quoted
    }

    /// Emits `pkt` at `ts` (now if `ts <= now`).
    pub(crate) fn send_at(&mut self, ts: u64, pkt: Pkt) {
        if ts <= self.now {
            self.send(pkt);
        } else {
            self.queue.push(ts, Job::Packet(pkt));
        }
    }

    /// Starts another actor at `ts` (not before now).
    pub(crate) fn spawn(&mut self, ts: u64, actor: Box<dyn Actor>) {
        self.queue.spawn(ts.max(self.now), actor);
    }
}

/// Runs the queue and yields frames in time order.
pub(crate) struct Engine {
    pub(crate) queue: Queue,
    pub(crate) net: Net,
    pub(crate) rng: SimRng,
    out: VecDeque<SimFrame>,
}

impl Engine {
    pub(crate) fn new(queue: Queue, net: Net, rng: SimRng) -> Engine {
        Engine {
            queue,
            net,
            rng,
            out: VecDeque::new(),
        }
    }

    /// The next frame, or `None` once nothing is scheduled before the end.
    pub(crate) fn next_frame(&mut self) -> Option<SimFrame> {
        loop {
            if let Some(f) = self.out.pop_front() {
                return Some(f);
            }
            let (ts, job) = self.queue.pop()?;
            match job {
                Job::Packet(pkt) => {
                    let frame = pkt.render(ts, &mut self.net, &mut self.rng);
                    return Some(SimFrame { ts_ns: ts, frame });
                }
                Job::Actor(mut actor) => {
                    let mut cx = Cx {
                        now: ts,
                        net: &mut self.net,
                        rng: &mut self.rng,
                        queue: &mut self.queue,
                        out: &mut self.out,
                    };
                    if let Some(next) = actor.step(&mut cx) {
                        self.queue.push(next.max(ts), Job::Actor(actor));
                    }
                }
            }
        }
    }
}

/// Uniform float in `[lo, hi)`; `lo` when the range is empty.
pub(crate) fn uniform(rng: &mut SimRng, lo: f64, hi: f64) -> f64 {
    if hi > lo {
        lo + (hi - lo) * rng.random::<f64>()
    } else {
        lo
    }
}

/// Uniform integer in `[lo, hi]`; `lo` when the range is empty.
pub(crate) fn between(rng: &mut SimRng, lo: u64, hi: u64) -> u64 {
    if hi > lo {
        rng.random_range(lo..=hi)
    } else {
        lo
    }
}

/// Exponential sample with the given mean.
pub(crate) fn exp(rng: &mut SimRng, mean: f64) -> f64 {
    let u: f64 = rng.random::<f64>();
    -(1.0 - u).ln() * mean
}

/// Standard normal sample (Box–Muller).
pub(crate) fn normal(rng: &mut SimRng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Log-normal sample with the given median and log-space sigma.
pub(crate) fn lognormal(rng: &mut SimRng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// Fisher–Yates shuffle.
pub(crate) fn shuffle<T>(rng: &mut SimRng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

/// A uniformly chosen element (`None` for an empty slice).
pub(crate) fn pick<'a, T>(rng: &mut SimRng, items: &'a [T]) -> Option<&'a T> {
    if items.is_empty() {
        None
    } else {
        items.get(rng.random_range(0..items.len()))
    }
}

/// Index chosen with the given weights (0 if all weights are zero).
pub(crate) fn weighted(rng: &mut SimRng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = uniform(rng, 0.0, total);
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    0
}

/// Seconds to nanoseconds, saturating.
pub(crate) fn secs(s: f64) -> u64 {
    if s.is_finite() && s > 0.0 {
        (s * 1e9).min(u64::MAX as f64 / 2.0) as u64
    } else {
        0
    }
}

/// How the gaps of a [`Pacer`] vary around their mean.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Gaps {
    /// Exponential (Poisson arrivals).
    Exp,
    /// Uniform within ±fraction of the mean.
    Jitter(f64),
    /// Uniform between two bounds in ns (the mean is ignored).
    Range(u64, u64),
}

/// Inter-packet gaps from its own generator, so a plan can replay them up front to find
/// exactly when the last of N packets will be sent.
#[derive(Clone)]
pub(crate) struct Pacer {
    rng: SimRng,
    mean_ns: f64,
    gaps: Gaps,
}

impl Pacer {
    /// A pacer for `rate` events per second, seeded from `seed_from`.
    pub(crate) fn rate(seed_from: &mut SimRng, rate: f64, gaps: Gaps) -> Pacer {
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            1.0
        };
        Pacer {
            rng: SimRng::seed_from_u64(seed_from.random()),
            mean_ns: 1e9 / rate,
            gaps,
        }
    }

    /// The next gap in ns (at least 1).
    pub(crate) fn gap(&mut self) -> u64 {
        let g = match self.gaps {
            Gaps::Exp => exp(&mut self.rng, self.mean_ns),
            Gaps::Jitter(f) => self.mean_ns * uniform(&mut self.rng, 1.0 - f, 1.0 + f),
            Gaps::Range(lo, hi) => between(&mut self.rng, lo, hi) as f64,
        };
        (g as u64).max(1)
    }

    /// Replays a copy: how many of at most `max` events starting at `start` fit by `end`,
    /// and the time of the last one.
    pub(crate) fn fit(&self, start: u64, end: u64, max: usize) -> (usize, u64) {
        let mut p = self.clone();
        let (mut n, mut t) = (1usize, start);
        while n < max {
            let next = t.saturating_add(p.gap());
            if next > end {
                break;
            }
            t = next;
            n += 1;
        }
        (n.min(max), t)
    }
}

/// A token bucket (ICMP error rate limiting): `cap` tokens, refilled at `per_sec`.
#[derive(Clone, Debug)]
pub(crate) struct TokenBucket {
    cap: f64,
    per_ns: f64,
    tokens: f64,
    last: u64,
}

impl TokenBucket {
    pub(crate) fn new(cap: f64, per_sec: f64) -> TokenBucket {
        TokenBucket {
            cap,
            per_ns: per_sec / 1e9,
            tokens: cap,
            last: 0,
        }
    }

    /// Takes a token at `now` if one is available.
    pub(crate) fn take(&mut self, now: u64) -> bool {
        let dt = now.saturating_sub(self.last) as f64;
        self.tokens = (self.tokens + dt * self.per_ns).min(self.cap);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
