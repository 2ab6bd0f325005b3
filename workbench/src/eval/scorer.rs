//! Scorers: anything that turns a feature row into a score in [0, 1] and a threat type.
//!
//! The evaluation, live mode and the seeds' HTTP APIs all score through [`Scorer`], so
//! the baselines (`rules`, `formula`) and trained ONNX models are interchangeable.

use std::fmt;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::engine::{FeatureSchema, F, N_BASE};

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

/// Reads base features of the primary window from a row.
#[derive(Clone, Copy, Debug)]
struct Primary;

impl Primary {
    #[inline]
    fn get(row: &[f64], f: F) -> f64 {
        row.get(f as usize).copied().unwrap_or(0.0)
    }
}

/// Checks that a schema starts with the base features in order (any widths), which is
/// what the built-in scorers read.
fn require_base_layout(schema: &FeatureSchema) -> Result<()> {
    if schema.len() < N_BASE {
        bail!(
            "feature schema has {} columns, the built-in scorers need {}",
            schema.len(),
            N_BASE
        );
    }
    Ok(())
}

/// Seed 003's explainable rules, each made continuous so that ranking metrics mean
/// something: a rule's strength is `r / (1 + r)` where `r` is the smallest ratio of a
/// feature to its threshold among the rule's conditions, so it crosses 0.5 exactly
/// when every condition holds (the seed's `>` tests). The score is the strongest rule.
///
/// | rule | conditions (seed 003) |
/// |---|---|
/// | port_scan | unique_ports > 20 and packets_per_second > 100 |
/// | ddos | packets_per_second > 1000 and bytes_per_second > 1 MB/s |
/// | syn_flood | syn_packets > 500 and tcp_ratio > 0.95 |
/// | data_exfiltration | bytes_out_per_second > 1 MB/s and out_byte_share > 0.9 (ours: the seed names the rule without thresholds) |
#[derive(Clone, Debug, Default)]
pub struct RulesScorer;

impl RulesScorer {
    /// The rules for rows of `schema`.
    pub fn new(schema: &FeatureSchema) -> Result<Self> {
        require_base_layout(schema)?;
        Ok(RulesScorer)
    }

    /// Every rule's strength for a row, in table order.
    pub fn strengths(row: &[f64]) -> [(ThreatType, f64); 4] {
        let g = |f| Primary::get(row, f);
        let strength = |ratios: &[f64]| {
            let r = ratios
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min)
                .max(0.0);
            if r.is_finite() {
                r / (1.0 + r)
            } else {
                1.0
            }
        };
        [
            (
                ThreatType::PortScan,
                strength(&[g(F::UniquePorts) / 20.0, g(F::PacketsPerSecond) / 100.0]),
            ),
            (
                ThreatType::Ddos,
                strength(&[g(F::PacketsPerSecond) / 1000.0, g(F::BytesPerSecond) / 1e6]),
            ),
            (
                ThreatType::SynFlood,
                strength(&[g(F::SynPackets) / 500.0, g(F::TcpRatio) / 0.95]),
            ),
            (
                ThreatType::DataExfiltration,
                strength(&[g(F::BytesOutPerSecond) / 1e6, g(F::OutByteShare) / 0.9]),
            ),
        ]
    }
}

impl RulesScorer {
    /// Names the threat a row most resembles, for models that only give a score: the
    /// strongest seed rule if it is at least 40% of the way to firing (strength ≥ 0.4,
    /// i.e. every condition at ≥ 2/3 of its threshold), else None (the caller falls back
    /// to the ML risk bands).
    pub fn explain(row: &[f64]) -> Option<ThreatType> {
        Self::strengths(row)
            .into_iter()
            .filter(|(_, s)| *s >= 0.4)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(t, _)| t)
    }
}

impl Scorer for RulesScorer {
    fn name(&self) -> String {
        "rules".into()
    }

    fn default_threshold(&self) -> f64 {
        0.5
    }

    fn score(&self, row: &[f64]) -> Score {
        let (threat, value) = Self::strengths(row).into_iter().fold(
            (ThreatType::PortScan, f64::NEG_INFINITY),
            |best, x| if x.1 > best.1 { x } else { best },
        );
        Score {
            value,
            threat: Some(threat),
        }
    }
}

/// Seed 000's inferencer formula without a model:
/// `min(1, 0.5 * conn_rate + 0.05 * uniq_dports)`, default threshold 0.7.
#[derive(Clone, Debug, Default)]
pub struct FormulaScorer;

impl FormulaScorer {
    /// The formula for rows of `schema`.
    pub fn new(schema: &FeatureSchema) -> Result<Self> {
        require_base_layout(schema)?;
        Ok(FormulaScorer)
    }
}

impl Scorer for FormulaScorer {
    fn name(&self) -> String {
        "formula".into()
    }

    fn default_threshold(&self) -> f64 {
        0.7
    }

    fn score(&self, row: &[f64]) -> Score {
        let v = 0.5 * Primary::get(row, F::ConnRate) + 0.05 * Primary::get(row, F::UniqDports);
        Score {
            value: v.clamp(0.0, 1.0),
            threat: Some(ThreatType::PortScan),
        }
    }
}

/// Builds a scorer from a `--model` value: `rules`, `formula`, a model file written by
/// `workbench train` (`*.wbm.json`), or an ONNX model (`*.onnx`, written by
/// `workbench train --export onnx`); both model kinds are checked against `schema`.
/// ONNX models run with tract unless `WORKBENCH_ONNX_ENGINE=ort` (see
/// [`crate::model::onnx::infer`]); models without workbench metadata are refused.
pub fn scorer_for(model: &str, schema: &FeatureSchema) -> Result<Box<dyn Scorer>> {
    scorer_for_with(model, schema, &crate::model::onnx::OnnxOptions::from_env()?)
}

/// [`scorer_for`] with explicit ONNX options (`--foreign-model` sets `allow_foreign`).
pub fn scorer_for_with(
    model: &str,
    schema: &FeatureSchema,
    onnx: &crate::model::onnx::OnnxOptions,
) -> Result<Box<dyn Scorer>> {
    match model {
        "rules" => Ok(Box::new(RulesScorer::new(schema)?)),
        "formula" => Ok(Box::new(FormulaScorer::new(schema)?)),
        // The model shipped in models/ and compiled into the binary (model/shipped.rs).
        crate::model::shipped::DEFAULT_MODEL_NAME => crate::model::shipped::default_scorer(schema),
        other if other.ends_with(crate::model::MODEL_SUFFIX) => {
            crate::model::load_scorer(std::path::Path::new(other), schema)
        }
        other if other.ends_with(crate::model::onnx::ONNX_SUFFIX) => Ok(Box::new(
            crate::model::onnx::OnnxScorer::load_with(std::path::Path::new(other), schema, onnx)?,
        )),
        other => bail!(
            "unknown model {other:?}: use rules, formula, default (the shipped model), a model file (*.wbm.json) or an ONNX model (*.onnx) written by `workbench train`"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(set: &[(F, f64)]) -> Vec<f64> {
        let mut r = vec![0.0; N_BASE];
        for (f, v) in set {
            r[*f as usize] = *v;
        }
        r
    }

    #[test]
    fn rules_cross_one_half_exactly_at_the_seed_thresholds() {
        let s = RulesScorer;
        let below = row(&[(F::UniquePorts, 20.0), (F::PacketsPerSecond, 150.0)]);
        let above = row(&[(F::UniquePorts, 21.0), (F::PacketsPerSecond, 150.0)]);
        assert!(s.score(&below).value <= 0.5);
        let hit = s.score(&above);
        assert!(hit.value > 0.5);
        assert_eq!(hit.threat, Some(ThreatType::PortScan));
        let flood = row(&[(F::SynPackets, 2000.0), (F::TcpRatio, 1.0)]);
        assert_eq!(s.score(&flood).threat, Some(ThreatType::SynFlood));
    }

    #[test]
    fn formula_is_seed_000() {
        let f = FormulaScorer;
        let r = row(&[(F::ConnRate, 12.5), (F::UniqDports, 8.0)]);
        assert_eq!(f.score(&r).value, 1.0);
        let r = row(&[(F::ConnRate, 0.5), (F::UniqDports, 4.0)]);
        assert!((f.score(&r).value - 0.45).abs() < 1e-12);
    }
}
