//! The seeds' baselines as scorers: seed 003's explainable rules ([`RulesScorer`]) and
//! seed 000's formula ([`FormulaScorer`]).

use anyhow::{bail, Result};

use super::scorer::{Score, Scorer, ThreatType};
use crate::engine::{FeatureSchema, F, N_BASE};

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
