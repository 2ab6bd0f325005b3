//! Seed 003's unsupervised ensemble, trained on benign windows only: k-means distance,
//! local outlier factor (novelty), a linear one-class SVM, plus an isolation forest.
//!
//! Pipeline for one row `x` (schema order):
//! 1. NaN → the training mean of that column (`x_imp`, rounded to `f32`: scoring works
//!    on the `f32` values the engine rows and ONNX inputs carry).
//! 2. `z = (slog1p(x_imp) − μ) / σ`, `slog1p(v) = sign(v)·ln(1 + |v|)`. The log: counts
//!    and rates are heavy-tailed (a flood has 10⁴× the packets of a browsing host), and
//!    distance-based members on raw standardised counts see only the largest column.
//!    σ < 1e-9 (a constant column) is replaced by 1.
//! 3. Raw member scores: k-means squared distance to the nearest centroid on `z`; LOF
//!    on `z`; `ρ − w·z` of the one-class SVM; the isolation forest's 2^(−E[h]/c(ψ)) on
//!    `x_imp` (trees need no scaling).
//! 4. Each raw score → [0, 1] by its distribution on benign validation rows
//!    ([`Normaliser`]): piecewise-linear through the benign percentiles mapped to
//!    `0.9·p`; above the largest benign value `1 − 0.1·exp(−(s − q_max)/τ)`, so
//!    outliers keep some order but saturate within ~20τ (one member's extreme value
//!    cannot outvote the other three). Measured on synthetic → public-samples: a
//!    hyperbolic tail `1 − 0.1/(1 + (s − q_max)/τ)` gave the same PR-AUC (0.2484).
//! 5. The ensemble score is the mean of the four → [`risk`] maps it to
//!    `ml_low/medium/high_risk`.
//!
//! The API ([`UnsupervisedModel::fit`], [`UnsupervisedModel::score`],
//! [`UnsupervisedModel::save`]/[`UnsupervisedModel::load`]) does not depend on the CLI:
//! seed 003's background retraining loop uses it as is.

pub mod members;
pub mod onnx;
pub mod trainer;

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::file::{
    check_header, check_same_schema, load_validated, pretty_bytes, save_validated, write_atomic,
    RowCounts, SplitInfo, Threshold,
};
use crate::engine::{FeatureSchema, WindowConfig};
use crate::eval::scorer::{Score, Scorer, ThreatType};
pub use members::{IsolationForest, KMeans, LinearOcsvm, Lof};
pub use trainer::{UnsupervisedTrainer, ALGORITHM};

/// LOF's ε as the ONNX graph adds it.
pub const LOF_EPS_F32: f32 = members::LOF_EPS as f32;
use members::r32;

/// `kind` of an unsupervised model file.
pub const KIND: &str = "unsupervised";

/// Score cut points of the risk levels (no seed gives numbers). Each member maps the
/// largest benign validation value to 0.9 and its 95th/99th percentiles to 0.855/0.891,
/// so: ≥ 0.9 means "on average beyond everything benign" (high); ≥ 0.8 means most members
/// sit in their top ~10% (medium); ≥ 0.6 is well above the benign median of 0.45 (low).
pub const RISK_LOW: f64 = 0.6;
pub const RISK_MEDIUM: f64 = 0.8;
pub const RISK_HIGH: f64 = 0.9;

/// The risk level of an ensemble score, `None` below [`RISK_LOW`].
pub fn risk(score: f64) -> Option<ThreatType> {
    if score >= RISK_HIGH {
        Some(ThreatType::MlHighRisk)
    } else if score >= RISK_MEDIUM {
        Some(ThreatType::MlMediumRisk)
    } else if score >= RISK_LOW {
        Some(ThreatType::MlLowRisk)
    } else {
        None
    }
}

/// Training settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnsupervisedParams {
    pub seed: u64,
    /// k-means clusters.
    pub kmeans_k: usize,
    pub kmeans_iters: usize,
    /// Rows k-means is fitted on at most (evenly strided).
    pub kmeans_max_rows: usize,
    /// LOF neighbours.
    pub lof_k: usize,
    /// Distinct reference points LOF keeps at most (seeded sample).
    pub lof_max_reference: usize,
    /// One-class SVM ν and SGD epochs.
    pub ocsvm_nu: f64,
    pub ocsvm_epochs: usize,
    pub ocsvm_max_rows: usize,
    /// Isolation trees and rows per tree (ψ).
    pub iforest_trees: usize,
    pub iforest_sample: usize,
    /// Percentile knots of the normalisers (before merging close ones).
    pub quantiles: usize,
}

impl Default for UnsupervisedParams {
    fn default() -> Self {
        UnsupervisedParams {
            seed: 0,
            kmeans_k: 8,
            kmeans_iters: 100,
            kmeans_max_rows: 20_000,
            lof_k: 20,
            lof_max_reference: 2000,
            ocsvm_nu: 0.1,
            ocsvm_epochs: 5,
            ocsvm_max_rows: 50_000,
            iforest_trees: 100,
            iforest_sample: 256,
            quantiles: 100,
        }
    }
}

/// Standardisation after NaN imputation and the signed log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Standardiser {
    /// Replaces NaN (training mean of the raw column, an `f32`).
    pub impute: Vec<f64>,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

/// `sign(v)·ln(1 + |v|)`.
#[inline]
pub fn slog1p(v: f64) -> f64 {
    v.signum() * v.abs().ln_1p()
}

impl Standardiser {
    fn fit(rows: &[Vec<f32>]) -> Standardiser {
        let d = rows.first().map_or(0, Vec::len);
        let mut impute = vec![0f64; d];
        let mut mean = vec![0f64; d];
        let mut std = vec![1f64; d];
        for j in 0..d {
            let vals: Vec<f64> = rows
                .iter()
                .map(|r| f64::from(r[j]))
                .filter(|v| v.is_finite())
                .collect();
            let m = if vals.is_empty() {
                0.0
            } else {
                vals.iter().sum::<f64>() / vals.len() as f64
            };
            impute[j] = r32(m);
            let t: Vec<f64> = rows
                .iter()
                .map(|r| {
                    let v = f64::from(r[j]);
                    slog1p(if v.is_finite() { v } else { impute[j] })
                })
                .collect();
            let mu = t.iter().sum::<f64>() / t.len().max(1) as f64;
            let var = t.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / t.len().max(1) as f64;
            mean[j] = r32(mu);
            let s = var.sqrt();
            std[j] = if s < 1e-9 || !s.is_finite() {
                1.0
            } else {
                r32(s)
            };
        }
        Standardiser { impute, mean, std }
    }

    /// NaN (and ±inf, which no feature produces) replaced, rounded to `f32`.
    pub fn impute(&self, row: &[f64]) -> Vec<f32> {
        self.impute
            .iter()
            .enumerate()
            .map(|(j, &m)| {
                let v = row.get(j).copied().unwrap_or(f64::NAN) as f32;
                if v.is_nan() {
                    m as f32
                } else {
                    v
                }
            })
            .collect()
    }

    pub fn transform(&self, x: &[f32]) -> Vec<f64> {
        x.iter()
            .zip(self.mean.iter().zip(&self.std))
            .map(|(&v, (&m, &s))| (slog1p(f64::from(v)) - m) / s)
            .collect()
    }
}

/// Maps a raw member score to [0, 1] by its benign distribution: `knots` ascending
/// with at least `min_gap` between neighbours (so `f32` rounding of a raw score moves
/// the result by at most ~Δy·ε/min_gap), values `levels` (`0.9·p` of the percentile),
/// and an exponential tail of scale `tail` above the last knot.
///
/// Written as a sum of clipped steps, which is also how the ONNX graph computes it:
/// `y = Σ_i Δy_i · clip((s − q_i)·inv_width_i, 0, 1) + r·(1 − exp(−max(s − q_last, 0)/τ))`,
/// `r = 1 − y_last`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normaliser {
    pub knots: Vec<f64>,
    pub levels: Vec<f64>,
    /// 1 / (knots[i+1] − knots[i]).
    pub inv_width: Vec<f64>,
    /// levels[i+1] − levels[i].
    pub step: Vec<f64>,
    pub tail: f64,
}

/// The largest benign value maps to this; the tail takes the rest up to 1.
pub const BENIGN_TOP: f64 = 0.9;

impl Normaliser {
    fn fit(raw: &[f64], quantiles: usize) -> Result<Normaliser> {
        let mut v: Vec<f64> = raw.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            bail!("no finite scores to calibrate on");
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let q = |p: f64| v[((p * (n - 1) as f64).round() as usize).min(n - 1)];
        let (lo, hi) = (v[0], v[n - 1]);
        let range = hi - lo;
        let min_gap = (0.01 * range).max(1e-6 * hi.abs().max(lo.abs())).max(1e-12);
        let quantiles = quantiles.max(2);
        let mut knots = vec![r32(lo)];
        let mut levels = vec![0.0];
        for i in 1..=quantiles {
            let p = i as f64 / quantiles as f64;
            let x = r32(q(p));
            let last = knots.len() - 1;
            if x - knots[last] >= min_gap {
                knots.push(x);
                levels.push(BENIGN_TOP * p);
            } else if i == quantiles {
                // Too close to the previous knot: the top knot replaces it (unless it
                // is the first), so the benign maximum still maps to BENIGN_TOP.
                if last > 0 && x - knots[last - 1] >= min_gap {
                    knots[last] = x;
                    levels[last] = BENIGN_TOP * p;
                } else {
                    knots.push(r32(knots[last] + min_gap.max(1e-6)));
                    levels.push(BENIGN_TOP * p);
                }
            }
        }
        let inv_width: Vec<f64> = knots.windows(2).map(|w| r32(1.0 / (w[1] - w[0]))).collect();
        let step: Vec<f64> = levels.windows(2).map(|w| r32(w[1] - w[0])).collect();
        // Tail scale: the spread of the top 10% of benign values (at least min_gap).
        let tail = r32((hi - q(0.9)).max(min_gap).max(1e-6));
        Ok(Normaliser {
            knots,
            levels,
            inv_width,
            step,
            tail,
        })
    }

    pub fn apply(&self, s: f64) -> f64 {
        let s = if s.is_nan() { f64::INFINITY } else { s };
        let mut y = 0.0;
        for ((q, iw), dy) in self.knots.iter().zip(&self.inv_width).zip(&self.step) {
            y += dy * ((s - q) * iw).clamp(0.0, 1.0);
        }
        let last = self.knots[self.knots.len() - 1];
        let top = self.step.iter().sum::<f64>();
        let over = (s - last).max(0.0);
        y + (1.0 - top) * (1.0 - (-over / self.tail).exp())
    }

    fn validate(&self) -> Result<()> {
        let n = self.knots.len();
        if n < 2
            || self.levels.len() != n
            || self.inv_width.len() != n - 1
            || self.step.len() != n - 1
        {
            bail!("normaliser tables have inconsistent lengths");
        }
        if !self.knots.windows(2).all(|w| w[0] < w[1]) {
            bail!("normaliser knots are not increasing");
        }
        if !(self.tail > 0.0 && self.tail.is_finite()) {
            bail!("normaliser tail scale is {}", self.tail);
        }
        Ok(())
    }
}

/// Member names, in the order of [`UnsupervisedModel::member_scores`].
pub const MEMBERS: [&str; 4] = ["kmeans", "lof", "ocsvm", "iforest"];

/// The fitted ensemble.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnsupervisedModel {
    pub feature_names: Vec<String>,
    pub params: UnsupervisedParams,
    pub standardiser: Standardiser,
    pub kmeans: KMeans,
    pub lof: Lof,
    pub ocsvm: LinearOcsvm,
    pub iforest: IsolationForest,
    /// One per member, [`MEMBERS`] order.
    pub normalisers: Vec<Normaliser>,
    /// Rows the members were fitted on / calibrated on.
    pub fit_rows: usize,
    pub calibration_rows: usize,
}

impl UnsupervisedModel {
    /// Fits on benign rows in time order: the earlier 80% fit the members, the later
    /// 20% calibrate the normalisers (at least 20 rows in all).
    pub fn fit(rows: &[Vec<f64>], feature_names: &[String], seed: u64) -> Result<Self> {
        let params = UnsupervisedParams {
            seed,
            ..UnsupervisedParams::default()
        };
        if rows.len() < 20 {
            bail!(
                "the unsupervised ensemble needs at least 20 benign rows, got {}",
                rows.len()
            );
        }
        let cut = rows.len() * 4 / 5;
        Self::fit_split(&rows[..cut], &rows[cut..], feature_names, &params)
    }

    /// Fits the members on `train` and calibrates the normalisers on `calibration`
    /// (both benign only).
    pub fn fit_split(
        train: &[Vec<f64>],
        calibration: &[Vec<f64>],
        feature_names: &[String],
        params: &UnsupervisedParams,
    ) -> Result<Self> {
        let d = feature_names.len();
        if d == 0 {
            bail!("no features");
        }
        if train.len() < 2 || calibration.is_empty() {
            bail!(
                "the unsupervised ensemble needs benign rows to fit and to calibrate on (got {} and {})",
                train.len(),
                calibration.len()
            );
        }
        for (i, r) in train.iter().chain(calibration).enumerate() {
            if r.len() != d {
                bail!("row {i} has {} values but there are {d} features", r.len());
            }
        }
        let raw32: Vec<Vec<f32>> = train
            .iter()
            .map(|r| r.iter().map(|&v| v as f32).collect())
            .collect();
        let standardiser = Standardiser::fit(&raw32);
        let imputed: Vec<Vec<f32>> = train.iter().map(|r| standardiser.impute(r)).collect();
        let z: Vec<Vec<f64>> = imputed.iter().map(|x| standardiser.transform(x)).collect();
        let seed = params.seed;

        let stride = |max: usize| (z.len().div_ceil(max.max(1))).max(1);
        let km_rows: Vec<Vec<f64>> = z
            .iter()
            .step_by(stride(params.kmeans_max_rows))
            .cloned()
            .collect();
        let kmeans = KMeans::fit(&km_rows, params.kmeans_k, params.kmeans_iters, seed)?;

        // LOF reference: distinct standardised rows (duplicates would give k-distance 0
        // and infinite densities), then a seeded sample of at most lof_max_reference.
        let mut distinct: Vec<Vec<f64>> = z
            .iter()
            .map(|r| r.iter().map(|&v| r32(v)).collect())
            .collect();
        distinct.sort_by(|a, b| {
            a.iter()
                .zip(b)
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        distinct.dedup();
        let reference = seeded_sample(distinct, params.lof_max_reference, seed ^ 0x10f);
        let lof = Lof::fit(&reference, params.lof_k)?;

        let sv_rows: Vec<Vec<f64>> = z
            .iter()
            .step_by(stride(params.ocsvm_max_rows))
            .cloned()
            .collect();
        let ocsvm = LinearOcsvm::fit(&sv_rows, params.ocsvm_nu, params.ocsvm_epochs, seed ^ 0x5f)?;
        let iforest = IsolationForest::fit(
            &imputed,
            params.iforest_trees,
            params.iforest_sample,
            seed ^ 0x1f,
        )?;

        let mut model = UnsupervisedModel {
            feature_names: feature_names.to_vec(),
            params: params.clone(),
            standardiser,
            kmeans,
            lof,
            ocsvm,
            iforest,
            normalisers: Vec::new(),
            fit_rows: train.len(),
            calibration_rows: calibration.len(),
        };
        let mut raw: [Vec<f64>; 4] = Default::default();
        for r in calibration {
            for (m, s) in raw.iter_mut().zip(model.raw_scores(r)) {
                m.push(s);
            }
        }
        model.normalisers = raw
            .iter()
            .zip(MEMBERS)
            .map(|(v, name)| {
                Normaliser::fit(v, params.quantiles).with_context(|| format!("calibrating {name}"))
            })
            .collect::<Result<_>>()?;
        Ok(model)
    }

    /// Raw member scores ([`MEMBERS`] order); the row is rounded to `f32` first.
    pub fn raw_scores(&self, row: &[f64]) -> [f64; 4] {
        let x = self.standardiser.impute(row);
        let z = self.standardiser.transform(&x);
        [
            self.kmeans.score(&z),
            self.lof.score(&z),
            self.ocsvm.score(&z),
            self.iforest.score(&x),
        ]
    }

    /// Normalised member scores in [0, 1].
    pub fn member_scores(&self, row: &[f64]) -> [f64; 4] {
        let raw = self.raw_scores(row);
        let mut out = [0.0; 4];
        for ((o, r), n) in out.iter_mut().zip(raw).zip(&self.normalisers) {
            *o = n.apply(r);
        }
        out
    }

    /// The ensemble score in [0, 1] and its risk level ([`risk`]).
    pub fn score(&self, row: &[f64]) -> (f64, Option<ThreatType>) {
        let s = self.member_scores(row).iter().sum::<f64>() / 4.0;
        (s, risk(s))
    }

    /// Checks the structure of a loaded model.
    pub fn validate(&self) -> Result<()> {
        let d = self.feature_names.len();
        let s = &self.standardiser;
        if d == 0 || s.impute.len() != d || s.mean.len() != d || s.std.len() != d {
            bail!("standardiser does not match the {d} features");
        }
        if s.std.iter().any(|v| !(*v > 0.0 && v.is_finite())) {
            bail!("a standard deviation is not positive");
        }
        if self.kmeans.d != d
            || self.kmeans.k == 0
            || self.kmeans.centroids.len() != self.kmeans.k * d
        {
            bail!("k-means centroids do not match the {d} features");
        }
        let m = self.lof.k_distance.len();
        if self.lof.d != d
            || self.lof.k == 0
            || self.lof.k > m
            || self.lof.reference.len() != m * d
            || self.lof.lrd.len() != m
        {
            bail!("LOF tables are inconsistent");
        }
        if self.ocsvm.w.len() != d {
            bail!("one-class SVM weights do not match the {d} features");
        }
        if self.iforest.trees.n_features as usize != d || self.iforest.trees.trees.is_empty() {
            bail!("isolation forest does not match the {d} features");
        }
        self.iforest.trees.validate().context("isolation forest")?;
        if self.normalisers.len() != MEMBERS.len() {
            bail!(
                "{} normalisers for {} members",
                self.normalisers.len(),
                MEMBERS.len()
            );
        }
        for (n, name) in self.normalisers.iter().zip(MEMBERS) {
            n.validate()
                .with_context(|| format!("normaliser of {name}"))?;
        }
        Ok(())
    }

    /// The model alone as JSON, written atomically (the HTTP service's persistence).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut v = serde_json::to_vec(self)?;
        v.push(b'\n');
        write_atomic(path, &v)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let m: UnsupervisedModel = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not an unsupervised model", path.display()))?;
        m.validate()
            .with_context(|| format!("{}", path.display()))?;
        Ok(m)
    }
}

/// A seeded sample of at most `max` items, in their original order.
fn seeded_sample<T>(items: Vec<T>, max: usize, seed: u64) -> Vec<T> {
    use rand::{Rng, SeedableRng};
    if items.len() <= max {
        return items;
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut idx: Vec<usize> = (0..items.len()).collect();
    for i in 0..max {
        let j = rng.random_range(i..idx.len());
        idx.swap(i, j);
    }
    let mut keep = vec![false; items.len()];
    for &i in &idx[..max] {
        keep[i] = true;
    }
    items
        .into_iter()
        .zip(keep)
        .filter_map(|(x, k)| k.then_some(x))
        .collect()
}

/// Where the model came from (the unsupervised counterpart of `file::TrainingInfo`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnsupervisedTraining {
    pub datasets: Vec<String>,
    pub test_dataset: Option<String>,
    /// sha256 over the train and validation rows (as for GBDT files).
    pub data_sha256: String,
    pub split: SplitInfo,
    pub rows: RowCounts,
    /// Benign rows the members were fitted on / normalisers calibrated on.
    pub benign_fit_rows: u64,
    pub benign_calibration_rows: u64,
    pub validation_pr_auc: Option<f64>,
    /// PR-AUC of each member alone on the validation split ([`MEMBERS`] order).
    pub validation_member_pr_auc: Vec<Option<f64>>,
}

/// An unsupervised model file (`*.wbm.json`, `"kind": "unsupervised"`): the same header
/// as GBDT files (format, schema, window, threshold) around an [`UnsupervisedModel`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnsupervisedFile {
    pub format: String,
    pub format_version: u32,
    /// Always [`KIND`].
    pub kind: String,
    pub workbench_version: String,
    pub schema_fingerprint: String,
    pub schema: FeatureSchema,
    pub window: WindowConfig,
    pub threshold: Threshold,
    pub training: UnsupervisedTraining,
    pub model: UnsupervisedModel,
}

impl UnsupervisedFile {
    pub fn validate(&self) -> Result<()> {
        check_header(
            &self.format,
            self.format_version,
            &self.schema,
            &self.schema_fingerprint,
        )?;
        if self.kind != KIND {
            bail!("kind {:?} is not {KIND:?}", self.kind);
        }
        if self.model.feature_names != self.schema.names {
            bail!("the model's feature names differ from the schema's");
        }
        if !self.threshold.value.is_finite() {
            bail!("the threshold is {}", self.threshold.value);
        }
        self.window
            .validate()
            .context("the stored window settings are invalid")?;
        self.model.validate()
    }

    /// Refuses to score rows of another schema, naming both.
    pub fn check_schema(&self, engine: &FeatureSchema) -> Result<()> {
        check_same_schema(&self.schema, &self.schema_fingerprint, engine)
    }

    pub fn load(path: &Path) -> Result<Self> {
        load_validated(path, "unsupervised model", UnsupervisedFile::validate)
    }

    /// The file's bytes (pretty JSON, trailing newline), as for every model file.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        pretty_bytes(self)
    }

    /// Validates and writes the file atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        save_validated(path, self.validate(), || self.to_bytes())
    }
}

/// Scores rows with the ensemble; the threat type is the risk level.
#[derive(Clone, Debug)]
pub struct UnsupervisedScorer {
    name: String,
    threshold: f64,
    model: UnsupervisedModel,
}

impl UnsupervisedScorer {
    pub fn new(name: String, file: &UnsupervisedFile) -> Self {
        UnsupervisedScorer {
            name,
            threshold: file.threshold.value,
            model: file.model.clone(),
        }
    }

    pub fn model(&self) -> &UnsupervisedModel {
        &self.model
    }
}

impl Scorer for UnsupervisedScorer {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn default_threshold(&self) -> f64 {
        self.threshold
    }

    fn score(&self, row: &[f64]) -> Score {
        let (value, threat) = self.model.score(row);
        Score { value, threat }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normaliser_is_monotone_continuous_and_in_range() {
        let raw: Vec<f64> = (0..1000).map(|i| ((i % 50) as f64).powi(2) / 7.0).collect();
        let n = Normaliser::fit(&raw, 100).unwrap();
        n.validate().unwrap();
        let mut prev = -1.0;
        for i in 0..5000 {
            let s = -10.0 + i as f64 * 0.2;
            let y = n.apply(s);
            assert!((0.0..=1.0).contains(&y), "{s} → {y}");
            assert!(y >= prev - 1e-12, "not monotone at {s}");
            prev = y;
        }
        let top = *raw.iter().max_by(|a, b| a.total_cmp(b)).unwrap();
        assert!((n.apply(top) - BENIGN_TOP).abs() < 1e-6, "{}", n.apply(top));
        assert!(n.apply(top * 10.0) > 0.99);
        assert_eq!(n.apply(f64::NAN), 1.0);
    }

    #[test]
    fn risk_levels() {
        assert_eq!(risk(0.1), None);
        assert_eq!(risk(0.65), Some(ThreatType::MlLowRisk));
        assert_eq!(risk(0.85), Some(ThreatType::MlMediumRisk));
        assert_eq!(risk(0.95), Some(ThreatType::MlHighRisk));
    }
}
