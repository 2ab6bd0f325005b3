//! Evaluation: the [`Scorer`] trait every model scores through and the seeds'
//! baselines ([`baselines`]); scoring host windows, labelling them from episodes
//! ([`crate::labels::Labeler`]) and measuring honestly ([`metrics`], [`evaluate`]).
//!
//! The numbers follow the defaults Arp et al. (USENIX Security 2022) ask for: the base
//! rate beside every score, per-attack breakdowns, time-ordered data only, and a
//! threshold chosen for a false-positive budget (1%) rather than accuracy.

pub mod baselines;
pub mod metrics;
pub mod scorer;
mod summary;

use std::net::IpAddr;

pub use baselines::{FormulaScorer, RulesScorer};
pub use scorer::{Score, Scorer, ThreatType};
pub use summary::{evaluate, EpisodeOutcome, EvalResult, PerAttack};

use crate::engine::{Entity, RowRef, RowSink};
use crate::labels::{Labeler, Role};

/// One scored and labelled host window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoredWindow {
    /// Window end, ns since the epoch.
    pub end_ns: u64,
    /// The host.
    pub host: IpAddr,
    /// The score in [0, 1].
    pub score: f64,
    /// The scorer's threat type.
    pub threat: Option<ThreatType>,
    /// Episode index and role when the window is positive.
    pub label: Option<(u32, Role)>,
}

/// Host rows buffered before one [`Scorer::score_batch`] call: large enough that an
/// ONNX runtime's per-call overhead vanishes, small enough (4096 × 30 × 8 bytes ≈ 1
/// MB) to stay bounded.
pub const EVAL_BATCH_ROWS: usize = 4096;

/// A [`RowSink`] that scores and labels host rows as they come, keeping only what the
/// metrics need (no feature values), so evaluation memory is a few dozen bytes a row.
///
/// Rows are buffered (at most [`EVAL_BATCH_ROWS`]) and scored in batches by every
/// scorer; call [`EvalSink::flush`] after the last row (before reading `windows`).
/// Several scorers score the same rows in one pass (`workbench compare`).
pub struct EvalSink<'a> {
    scorers: Vec<&'a dyn Scorer>,
    labeler: &'a Labeler,
    width_s: f64,
    /// Scored windows of the first scorer, in emission order.
    pub windows: Vec<ScoredWindow>,
    /// Scored windows of the other scorers (same rows, same order).
    pub others: Vec<Vec<ScoredWindow>>,
    /// Episodes that overlapped at least one window of a host they make positive.
    pub matched: Vec<bool>,
    /// Buffered feature values, row-major.
    buf: Vec<f64>,
    /// Values per buffered row (the first row's width).
    width: usize,
    /// Window end, host and label of each buffered row.
    pending: Vec<(u64, IpAddr, Option<(u32, Role)>)>,
    scores: Vec<Score>,
}

impl<'a> EvalSink<'a> {
    /// A sink for rows whose primary window is `width_s` seconds.
    pub fn new(scorer: &'a dyn Scorer, labeler: &'a Labeler, width_s: f64) -> Self {
        Self::with_scorers(vec![scorer], labeler, width_s)
    }

    /// A sink scoring every row with each of `scorers` (at least one).
    pub fn with_scorers(scorers: Vec<&'a dyn Scorer>, labeler: &'a Labeler, width_s: f64) -> Self {
        let others = vec![Vec::new(); scorers.len().saturating_sub(1)];
        EvalSink {
            scorers,
            labeler,
            width_s,
            windows: Vec::new(),
            others,
            matched: vec![false; labeler.episodes().len()],
            buf: Vec::new(),
            width: 0,
            pending: Vec::new(),
            scores: Vec::with_capacity(EVAL_BATCH_ROWS),
        }
    }

    /// Scores the buffered rows. Call after the last row.
    pub fn flush(&mut self) {
        let n = self.pending.len();
        if n == 0 {
            return;
        }
        for (si, scorer) in self.scorers.iter().enumerate() {
            self.scores.clear();
            scorer.score_batch(&self.buf, n, &mut self.scores);
            let out = if si == 0 {
                &mut self.windows
            } else {
                &mut self.others[si - 1]
            };
            for (i, &(end_ns, host, label)) in self.pending.iter().enumerate() {
                // A scorer that returned too few scores is a bug; score such rows 0
                // rather than lose them (the row count stays right).
                let score = self.scores.get(i).copied().unwrap_or(Score {
                    value: 0.0,
                    threat: None,
                });
                out.push(ScoredWindow {
                    end_ns,
                    host,
                    score: if score.value.is_finite() {
                        score.value
                    } else {
                        0.0
                    },
                    threat: score.threat,
                    label,
                });
            }
        }
        self.buf.clear();
        self.pending.clear();
    }

    /// All scorers' windows (first scorer first), after flushing.
    pub fn into_runs(mut self) -> (Vec<Vec<ScoredWindow>>, Vec<bool>) {
        self.flush();
        let mut runs = vec![std::mem::take(&mut self.windows)];
        runs.append(&mut self.others);
        (runs, self.matched)
    }
}

impl RowSink for EvalSink<'_> {
    fn accept(&mut self, row: RowRef<'_>) {
        let Entity::Host(host) = row.entity else {
            return;
        };
        let end_s = row.window_end_ns as f64 / 1e9;
        let start_s = end_s - self.width_s;
        let label = self.labeler.label(host, start_s, end_s);
        for i in self.labeler.all_labels(host, start_s, end_s) {
            self.matched[i] = true;
        }
        if self.pending.is_empty() {
            self.width = row.values.len();
        }
        // Rows of one schema all have one width; pad or cut defensively so a row
        // never shifts the ones after it.
        let w = self.width;
        self.buf
            .extend((0..w).map(|i| row.values.get(i).copied().unwrap_or(f64::NAN)));
        self.pending
            .push((row.window_end_ns, host, label.map(|(i, r)| (i as u32, r))));
        if self.pending.len() >= EVAL_BATCH_ROWS {
            self.flush();
        }
    }
}
