//! Evaluation: score host windows, label them from episodes, and measure honestly.
//!
//! The numbers follow the defaults Arp et al. (USENIX Security 2022) ask for: the base
//! rate beside every score, per-attack breakdowns, time-ordered data only, and a
//! threshold chosen for a false-positive budget (1%) rather than accuracy.

pub mod labelling;
pub mod metrics;
pub mod scorer;
mod summary;

use std::net::IpAddr;

pub use labelling::{Labeler, Role};
pub use scorer::{scorer_for, Score, Scorer, ThreatType};
pub use summary::{evaluate, EpisodeOutcome, EvalResult, PerAttack};

use crate::engine::{Entity, RowRef, RowSink};

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

/// A [`RowSink`] that scores and labels host rows as they come, keeping only what the
/// metrics need (no feature values), so evaluation memory is a few dozen bytes a row.
pub struct EvalSink<'a> {
    scorer: &'a dyn Scorer,
    labeler: &'a Labeler,
    width_s: f64,
    /// Scored windows in emission order.
    pub windows: Vec<ScoredWindow>,
    /// Episodes that overlapped at least one window of a host they make positive.
    pub matched: Vec<bool>,
}

impl<'a> EvalSink<'a> {
    /// A sink for rows whose primary window is `width_s` seconds.
    pub fn new(scorer: &'a dyn Scorer, labeler: &'a Labeler, width_s: f64) -> Self {
        EvalSink {
            scorer,
            labeler,
            width_s,
            windows: Vec::new(),
            matched: vec![false; labeler.episodes().len()],
        }
    }
}

impl RowSink for EvalSink<'_> {
    fn accept(&mut self, row: RowRef<'_>) {
        let Entity::Host(host) = row.entity else {
            return;
        };
        let end_s = row.window_end_ns as f64 / 1e9;
        let start_s = end_s - self.width_s;
        let score = self.scorer.score(row.values);
        let label = self.labeler.label(host, start_s, end_s);
        for i in self.labeler.all_labels(host, start_s, end_s) {
            self.matched[i] = true;
        }
        self.windows.push(ScoredWindow {
            end_ns: row.window_end_ns,
            host,
            score: if score.value.is_finite() {
                score.value
            } else {
                0.0
            },
            threat: score.threat,
            label: label.map(|(i, r)| (i as u32, r)),
        });
    }
}
