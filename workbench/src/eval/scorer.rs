//! Scorers: anything that turns a feature row into a score in [0, 1] and a threat type.
//!
//! The evaluation, live mode and the seeds' HTTP APIs all score through [`Scorer`], so
//! the baselines (`rules`, `formula`), trained models and ONNX models are
//! interchangeable. `model::registry` builds one from a `--model` value.

use std::fmt;

use serde::Serialize;

/// What kind of threat a score points at (the `threat_type` alert label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreatType {
    PortScan,
    SynFlood,
    Ddos,
    BruteForce,
    DataExfiltration,
    MlLowRisk,
    MlMediumRisk,
    MlHighRisk,
}

impl ThreatType {
    /// The snake_case name used in alerts and metrics.
    pub fn name(self) -> &'static str {
        match self {
            ThreatType::PortScan => "port_scan",
            ThreatType::SynFlood => "syn_flood",
            ThreatType::Ddos => "ddos",
            ThreatType::BruteForce => "brute_force",
            ThreatType::DataExfiltration => "data_exfiltration",
            ThreatType::MlLowRisk => "ml_low_risk",
            ThreatType::MlMediumRisk => "ml_medium_risk",
            ThreatType::MlHighRisk => "ml_high_risk",
        }
    }
}

impl fmt::Display for ThreatType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A row's score: higher is more suspicious.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score {
    /// In [0, 1].
    pub value: f64,
    /// The most likely threat, when the scorer can tell.
    pub threat: Option<ThreatType>,
}

/// Scores feature rows of one schema.
pub trait Scorer: Send + Sync {
    /// Name for reports (`rules`, `formula`, a model file name).
    fn name(&self) -> String;
    /// The threshold the scorer itself proposes (the seeds' defaults, or the one stored
    /// in a model).
    fn default_threshold(&self) -> f64;
    /// Scores one row (values in schema order).
    fn score(&self, row: &[f64]) -> Score;
    /// Scores `n` rows given row-major in `rows` (`rows.len() / n` values each),
    /// appending one score per row to `out`, equal to what [`Scorer::score`] gives
    /// row by row. The default calls `score` per row; model runtimes override it to
    /// run one batch (one tract or onnxruntime call instead of `n`).
    fn score_batch(&self, rows: &[f64], n: usize, out: &mut Vec<Score>) {
        if n == 0 {
            return;
        }
        let width = rows.len() / n;
        out.extend(
            rows.chunks_exact(width.max(1))
                .take(n)
                .map(|r| self.score(r)),
        );
    }
}
