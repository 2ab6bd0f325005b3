//! Building a simulation from its configuration: the network, the benign background,
//! and the attack slots (one for a single-attack scenario; a random sequence separated
//! by benign-only gaps for `mixed`), all drawn from the seed.

use rand::{Rng, SeedableRng};

use super::attacks::{self, Planner};
use super::benign;
use super::net::Net;
use super::sim::{secs, uniform, Engine, Queue, SimRng, SEC};
use super::{Scenario, SimConfig};
use crate::labels::Episode;

/// The attack scenarios `mixed` draws from: every scenario but `benign` and `mixed`,
/// in `Scenario::all()` order (the order matters: draws index into it).
fn attacks() -> &'static [Scenario] {
    let all = Scenario::all();
    &all[1..all.len() - 1]
}

/// Latest start accepted (about year 2096); later starts are clamped so no time
/// arithmetic can overflow and pcap's 32-bit seconds still fit.
pub(crate) const MAX_START_NS: u64 = 4_000_000_000 * 1_000_000_000;

/// Sanitised duration (seconds) and intensity: non-finite or non-positive durations give
/// an empty capture, bad intensities fall back to 1.
pub(crate) fn sanitize(cfg: &SimConfig) -> (f64, f64) {
    let seconds = if cfg.seconds.is_finite() && cfg.seconds > 0.0 {
        cfg.seconds.min(1e7)
    } else {
        0.0
    };
    let intensity = if cfg.intensity.is_finite() && cfg.intensity > 0.0 {
        cfg.intensity.clamp(1e-3, 1e4)
    } else {
        1.0
    };
    (seconds, intensity)
}

/// Plans everything: returns the engine ready to run and the episodes it will produce.
pub(crate) fn build(cfg: &SimConfig) -> (Engine, Vec<Episode>) {
    let (seconds, intensity) = sanitize(cfg);
    let mut rng = SimRng::seed_from_u64(cfg.seed);
    let start = cfg.start_ts_ns.min(MAX_START_NS);
    let end = start.saturating_add(secs(seconds));
    let mut net = Net::build(&mut rng);
    let mut queue = Queue::new(end);
    let scale = match cfg.scenario {
        Scenario::Benign | Scenario::Mixed => 1.0,
        _ => 0.5,
    };
    benign::install(&mut queue, &mut net, &mut rng, start, end, scale);
    // Attack choices (addresses, timing, tools) come from the seed *and* the scenario,
    // so captures made with one seed do not share attacker identities.
    let salt = cfg
        .scenario
        .name()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    let mut attack_rng = SimRng::seed_from_u64(cfg.seed ^ salt);
    let slots = match cfg.scenario {
        Scenario::Benign => Vec::new(),
        Scenario::Mixed => mixed_slots(&mut attack_rng, start, end),
        kind => vec![single_slot(&mut attack_rng, kind, start, end)],
    };
    let mut planner = Planner {
        queue: &mut queue,
        net: &mut net,
        rng: &mut attack_rng,
        intensity,
        sim_end: end,
        episodes: Vec::new(),
    };
    for (kind, a, b) in slots {
        attacks::install(&mut planner, kind, a, b);
    }
    let mut episodes = planner.episodes;
    episodes.sort_by(|a, b| a.start_ts.total_cmp(&b.start_ts));
    let run_rng = SimRng::seed_from_u64(rng.random());
    (Engine::new(queue, net, run_rng), episodes)
}

fn frac(rng: &mut SimRng, dur: u64, lo: f64, hi: f64) -> u64 {
    (dur as f64 * uniform(rng, lo, hi)) as u64
}

/// One attack over most of the capture (nearly all of it for a slow scan).
fn single_slot(rng: &mut SimRng, kind: Scenario, start: u64, end: u64) -> (Scenario, u64, u64) {
    let dur = end.saturating_sub(start);
    let (lead, tail) = match kind {
        Scenario::SlowScan => (frac(rng, dur, 0.01, 0.04), frac(rng, dur, 0.01, 0.04)),
        // Floods fill most of the capture (the benchmark's packet count depends on it).
        Scenario::Synflood
        | Scenario::SynfloodSpoofed
        | Scenario::Udpflood
        | Scenario::Ddos
        | Scenario::Reflection => (frac(rng, dur, 0.03, 0.08), frac(rng, dur, 0.02, 0.05)),
        _ => (frac(rng, dur, 0.08, 0.2), frac(rng, dur, 0.05, 0.12)),
    };
    let a = start + lead;
    (kind, a, end.saturating_sub(tail).max(a))
}

/// A random sequence of different attacks with benign-only gaps between them.
fn mixed_slots(rng: &mut SimRng, start: u64, end: u64) -> Vec<(Scenario, u64, u64)> {
    let dur = end.saturating_sub(start);
    let clamp = |x: u64, lo: u64, hi: u64| x.clamp(lo.min(hi), hi);
    let mut t = start + clamp(frac(rng, dur, 0.05, 0.12), SEC, 30 * SEC).min(dur / 10);
    let stop = end.saturating_sub(frac(rng, dur, 0.02, 0.04));
    let mut slots = Vec::new();
    let mut last: Option<Scenario> = None;
    loop {
        let mut len = clamp(frac(rng, dur, 0.08, 0.2), 2 * SEC, 90 * SEC);
        if t + len > stop {
            if !slots.is_empty() || stop <= t {
                break;
            }
            len = stop - t;
        }
        let attacks = attacks();
        let mut kind = attacks[rng.random_range(0..attacks.len())];
        while Some(kind) == last {
            kind = attacks[rng.random_range(0..attacks.len())];
        }
        slots.push((kind, t, t + len));
        last = Some(kind);
        t += len + clamp(frac(rng, dur, 0.05, 0.15), 2 * SEC, 120 * SEC);
    }
    slots
}
