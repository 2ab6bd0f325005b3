//! L2-regularised logistic regression on standardised features, fitted by Newton's
//! method (iteratively reweighted least squares with a backtracking line search).
//!
//! Why not linfa-logistic (named by the issue): it needs ndarray 0.16 and argmin while
//! the workspace is on ndarray 0.17 (a second copy of ndarray plus linfa, argmin and
//! their dependencies on a 2-core build), and with ~40 columns the exact Newton step
//! costs one pass over the rows and a 31×31 Cholesky solve: a few iterations reach the
//! optimum that L-BFGS approximates, deterministically.
//!
//! The model stores the standardisation (training-split mean and standard deviation
//! per column) and the coefficients on the standardised columns:
//! `p = sigmoid(intercept + Σ coef_j · (x_j − mean_j) / scale_j)`. Every stored number
//! is an `f32` value (widened to `f64`), so the ONNX export (Sub, Div, MatMul, Add,
//! Sigmoid on `f32`) holds the same constants and differs only by `f32` rounding. A NaN
//! feature gives a NaN score in both (the engine emits no NaN).

use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::dataset::TrainingData;
use super::file::{ModelFile, ModelKind};
use super::onnx::{export_logistic, OnnxForm};
use super::registry::{Algorithm, FileKind, ModelFileKind};
use super::trainer::{FileFacts, FitJob, Importance, SavedModel, Trained, Trainer};
use super::tree::FeatureImportance;
use crate::eval::scorer::{Score, Scorer};

/// Training parameters (stored in the model file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogisticParams {
    /// L2 penalty on the coefficients (not the intercept), relative to the mean
    /// weighted log loss: the objective is `mean_w(logloss) + l2/2 · |coef|²`.
    pub l2: f64,
    /// Most Newton iterations.
    pub max_iter: usize,
    /// Weight of an attack row relative to a benign one.
    pub positive_weight: f64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams {
            l2: 1e-4,
            max_iter: 50,
            positive_weight: 1.0,
        }
    }
}

/// What fitting did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogisticFit {
    pub params: LogisticParams,
    /// Newton iterations run.
    pub iterations: usize,
    /// True when the step became negligible before `max_iter`.
    pub converged: bool,
    /// Final value of the objective on the training split.
    pub objective: f64,
}

/// A fitted logistic regression.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogisticModel {
    /// Number of feature columns rows must have.
    pub n_features: u32,
    /// Per column: subtracted first (training-split mean).
    pub mean: Vec<f64>,
    /// Per column: divided by next (training-split standard deviation; 1 for a
    /// constant column).
    pub scale: Vec<f64>,
    /// Per column: coefficient of the standardised value.
    pub coef: Vec<f64>,
    pub intercept: f64,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Rounds to the nearest `f32` (what ONNX will hold).
fn f32r(x: f64) -> f64 {
    f64::from(x as f32)
}

impl LogisticModel {
    /// The log-odds of a row given by a column accessor.
    #[inline]
    fn margin_by(&self, get: impl Fn(usize) -> f64) -> f64 {
        let mut z = self.intercept;
        for j in 0..self.coef.len() {
            z += self.coef[j] * ((get(j) - self.mean[j]) / self.scale[j]);
        }
        z
    }

    /// The attack probability of a row (values in schema order; missing columns NaN).
    pub fn predict_proba(&self, row: &[f32]) -> f64 {
        sigmoid(self.margin_by(|j| row.get(j).map_or(f64::NAN, |&v| f64::from(v))))
    }

    /// The same for `f64` values, rounded to `f32` first as in training.
    pub fn predict_proba_f64(&self, row: &[f64]) -> f64 {
        sigmoid(self.margin_by(|j| row.get(j).map_or(f64::NAN, |&v| f64::from(v as f32))))
    }

    /// Checks lengths and that every number is finite and every scale positive.
    pub fn validate(&self) -> Result<()> {
        let k = self.n_features as usize;
        if k == 0 {
            bail!("the logistic model reads no features");
        }
        for (name, v) in [
            ("mean", &self.mean),
            ("scale", &self.scale),
            ("coef", &self.coef),
        ] {
            if v.len() != k {
                bail!("{name} has {} values for {k} features", v.len());
            }
            if let Some(j) = v.iter().position(|x| !x.is_finite()) {
                bail!("{name}[{j}] is {}", v[j]);
            }
        }
        if let Some(j) = self.scale.iter().position(|&s| s <= 0.0) {
            bail!("scale[{j}] is {} (must be positive)", self.scale[j]);
        }
        if !self.intercept.is_finite() {
            bail!("the intercept is {}", self.intercept);
        }
        Ok(())
    }

    /// |coefficient| of each standardised column (= |raw coefficient| × std), largest
    /// first, in the [`FeatureImportance`] layout (`gain` holds it, `splits` is 0).
    pub fn feature_importance(&self, names: &[String]) -> Vec<FeatureImportance> {
        let total: f64 = self.coef.iter().map(|c| c.abs()).sum();
        let mut out: Vec<FeatureImportance> = self
            .coef
            .iter()
            .enumerate()
            .map(|(i, c)| FeatureImportance {
                feature: names.get(i).cloned().unwrap_or_else(|| format!("f{i}")),
                index: i as u32,
                splits: 0,
                gain: c.abs(),
                gain_share: if total > 0.0 { c.abs() / total } else { 0.0 },
            })
            .collect();
        out.sort_by(|a, b| b.gain.total_cmp(&a.gain).then(a.index.cmp(&b.index)));
        out
    }
}

/// Solves `a x = b` for a symmetric positive-definite `a` (row-major `d × d`) by
/// Cholesky; None when `a` is not positive definite.
fn cholesky_solve(a: &[f64], b: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0f64; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = a[i * d + j];
            for p in 0..j {
                s -= l[i * d + p] * l[j * d + p];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    let mut y = vec![0f64; d];
    for i in 0..d {
        let mut s = b[i];
        for p in 0..i {
            s -= l[i * d + p] * y[p];
        }
        y[i] = s / l[i * d + i];
    }
    let mut x = vec![0f64; d];
    for i in (0..d).rev() {
        let mut s = y[i];
        for p in i + 1..d {
            s -= l[p * d + i] * x[p];
        }
        x[i] = s / l[i * d + i];
    }
    Some(x)
}

/// Rows per parallel chunk; chunk results are summed in chunk order (deterministic).
const CHUNK: usize = 8192;

/// Fits on the `train` rows.
pub fn train(
    data: &TrainingData,
    train: &[usize],
    params: &LogisticParams,
) -> Result<(LogisticModel, LogisticFit)> {
    if !(params.l2 >= 0.0 && params.l2.is_finite()) {
        bail!("the L2 penalty must be zero or positive, got {}", params.l2);
    }
    if !(params.positive_weight > 0.0 && params.positive_weight.is_finite()) {
        bail!("the positive weight must be positive");
    }
    let positives = data.positives(train);
    if positives == 0 || positives == train.len() {
        bail!(
            "the training split has {positives} attack and {} benign windows: both are needed",
            train.len() - positives
        );
    }
    let k = data.n_features();
    // Standardisation from the training split (NaN values are skipped).
    let mut mean = vec![0f64; k];
    let mut m2 = vec![0f64; k];
    let mut cnt = vec![0f64; k];
    for &i in train {
        for (j, &x) in data.row(i).iter().enumerate() {
            if x.is_nan() {
                continue;
            }
            let x = f64::from(x);
            cnt[j] += 1.0;
            let d = x - mean[j];
            mean[j] += d / cnt[j];
            m2[j] += d * (x - mean[j]);
        }
    }
    let mean: Vec<f64> = mean.into_iter().map(f32r).collect();
    let scale: Vec<f64> = m2
        .iter()
        .zip(&cnt)
        .map(|(&m, &c)| {
            let s = if c > 1.0 { (m / c).sqrt() } else { 0.0 };
            let s = f32r(s);
            if s > 0.0 && s.is_finite() {
                s
            } else {
                1.0
            }
        })
        .collect();
    // Standardised training rows (f64, row-major) with their weights and labels.
    // Kept as f32 (half the memory of a million-row table); sums are f64.
    let mut x: Vec<f32> = Vec::with_capacity(train.len() * k);
    for &i in train {
        for (j, &v) in data.row(i).iter().enumerate() {
            let z = (f64::from(v) - mean[j]) / scale[j];
            x.push(if z.is_nan() { 0.0 } else { z as f32 });
        }
    }
    let y: Vec<bool> = train.iter().map(|&i| data.is_positive(i)).collect();
    let w_pos = params.positive_weight;
    let total_w: f64 = y.iter().map(|&p| if p { w_pos } else { 1.0 }).sum();
    let d = k + 1; // coefficients then the intercept
    let l2 = params.l2;

    let objective = |beta: &[f64]| -> f64 {
        let s: f64 = x
            .par_chunks(CHUNK * k)
            .zip(y.par_chunks(CHUNK))
            .map(|(xc, yc)| {
                let mut s = 0.0;
                for (r, &pos) in xc.chunks_exact(k).zip(yc) {
                    let z = beta[k]
                        + r.iter()
                            .zip(beta)
                            .map(|(&a, b)| f64::from(a) * b)
                            .sum::<f64>();
                    // log(1 + e^z) - y z, computed stably.
                    let sp = if z > 0.0 {
                        z + (-z).exp().ln_1p()
                    } else {
                        z.exp().ln_1p()
                    };
                    s += if pos { w_pos * (sp - z) } else { sp };
                }
                s
            })
            .collect::<Vec<f64>>()
            .into_iter()
            .sum();
        s / total_w + 0.5 * l2 * beta[..k].iter().map(|b| b * b).sum::<f64>()
    };

    let mut beta = vec![0f64; d];
    // Start the intercept at the weighted base rate's log-odds.
    let wp = positives as f64 * w_pos;
    beta[k] = (wp / (total_w - wp)).ln();
    let mut obj = objective(&beta);
    let mut iterations = 0;
    let mut converged = false;
    while iterations < params.max_iter {
        iterations += 1;
        // Gradient and Hessian of the mean weighted log loss.
        let parts: Vec<(Vec<f64>, Vec<f64>)> = x
            .par_chunks(CHUNK * k)
            .zip(y.par_chunks(CHUNK))
            .map(|(xc, yc)| {
                let mut g = vec![0f64; d];
                let mut h = vec![0f64; d * d];
                let mut xi = vec![0f64; d];
                for (r, &pos) in xc.chunks_exact(k).zip(yc) {
                    for (a, &v) in xi.iter_mut().zip(r) {
                        *a = f64::from(v);
                    }
                    xi[k] = 1.0;
                    let z: f64 = xi.iter().zip(&beta).map(|(a, b)| a * b).sum();
                    let p = sigmoid(z);
                    let (w, t) = if pos { (w_pos, 1.0) } else { (1.0, 0.0) };
                    let gr = w * (p - t);
                    let hw = w * p * (1.0 - p);
                    for a in 0..d {
                        g[a] += gr * xi[a];
                        let ha = hw * xi[a];
                        if ha != 0.0 {
                            for b in 0..=a {
                                h[a * d + b] += ha * xi[b];
                            }
                        }
                    }
                }
                (g, h)
            })
            .collect();
        let mut g = vec![0f64; d];
        let mut h = vec![0f64; d * d];
        for (pg, ph) in parts {
            g.iter_mut().zip(&pg).for_each(|(a, b)| *a += b);
            h.iter_mut().zip(&ph).for_each(|(a, b)| *a += b);
        }
        for a in 0..d {
            g[a] /= total_w;
            for b in 0..=a {
                h[a * d + b] /= total_w;
                h[b * d + a] = h[a * d + b];
            }
        }
        for a in 0..k {
            g[a] += l2 * beta[a];
            h[a * d + a] += l2;
        }
        // A tiny ridge keeps the solve possible when a column is constant.
        for a in 0..d {
            h[a * d + a] += 1e-12;
        }
        let Some(step) = cholesky_solve(&h, &g, d) else {
            bail!("logistic regression: the Hessian is not positive definite (iteration {iterations})");
        };
        // Backtracking line search on the objective.
        let mut t = 1.0;
        let mut accepted = None;
        for _ in 0..30 {
            let cand: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b - t * s).collect();
            let o = objective(&cand);
            if o.is_finite() && o <= obj {
                accepted = Some((cand, o));
                break;
            }
            t *= 0.5;
        }
        let Some((cand, o)) = accepted else {
            converged = true;
            break;
        };
        let moved = step.iter().map(|s| (t * s).abs()).fold(0.0, f64::max);
        let improved = obj - o;
        beta = cand;
        obj = o;
        if moved < 1e-7 || improved < 1e-12 * obj.abs().max(1e-12) {
            converged = true;
            break;
        }
    }
    let model = LogisticModel {
        n_features: k as u32,
        mean,
        scale,
        coef: beta[..k].iter().map(|&b| f32r(b)).collect(),
        intercept: f32r(beta[k]),
    };
    model.validate()?;
    Ok((
        model,
        LogisticFit {
            params: params.clone(),
            iterations,
            converged,
            objective: obj,
        },
    ))
}

/// Scores rows with a logistic regression.
#[derive(Clone, Debug)]
pub struct LogisticScorer {
    name: String,
    threshold: f64,
    model: LogisticModel,
}

impl LogisticScorer {
    /// A scorer named `name` with the stored threshold.
    pub fn new(name: String, model: LogisticModel, threshold: f64) -> Self {
        LogisticScorer {
            name,
            threshold,
            model,
        }
    }
}

impl Scorer for LogisticScorer {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn default_threshold(&self) -> f64 {
        self.threshold
    }

    fn score(&self, row: &[f64]) -> Score {
        Score {
            value: self.model.predict_proba_f64(row),
            threat: None,
        }
    }
}

/// The registry entry of `--algo logistic`.
pub const ALGORITHM: Algorithm = Algorithm {
    name: "logistic",
    aliases: &[],
    about: "L2 logistic regression on standardised features",
    supervised: true,
    trainer: &LogisticTrainer,
    file: FileKind::Shared(&LogisticTrainer),
};

/// Trains logistic regressions and reads their model files.
pub struct LogisticTrainer;

struct Fitted {
    model: LogisticModel,
    fit: LogisticFit,
}

impl Trainer for LogisticTrainer {
    fn fit(&self, job: &FitJob<'_>) -> Result<Box<dyn Trained>> {
        let p = LogisticParams {
            positive_weight: job.params.positive_weight_for(job.data, job.train),
            ..LogisticParams::default()
        };
        let (model, fit) = train(job.data, job.train, &p)?;
        Ok(Box::new(Fitted { model, fit }))
    }
}

impl Trained for Fitted {
    fn predict_proba(&self, row: &[f32]) -> f64 {
        self.model.predict_proba(row)
    }

    fn describe(&self, fit_s: f64) -> Vec<String> {
        let l = &self.fit;
        vec![format!(
            "logistic: {} Newton iterations ({}), L2 {}, positive weight {:.1}, fitted in {:.2} s",
            l.iterations,
            if l.converged {
                "converged"
            } else {
                "not converged"
            },
            l.params.l2,
            l.params.positive_weight,
            fit_s
        )]
    }

    fn importance(&self, names: &[String]) -> Option<Importance> {
        Some(Importance {
            features: self.model.feature_importance(names),
            measure: "|coefficient| × std",
        })
    }

    fn save(
        self: Box<Self>,
        path: &std::path::Path,
        facts: FileFacts,
    ) -> Result<Box<dyn SavedModel>> {
        let names = facts.schema.names.clone();
        let mut m = ModelFile::from_facts(
            ModelKind::LOGISTIC,
            facts,
            self.model.feature_importance(&names),
        );
        m.training.logistic = Some(self.fit);
        m.logistic = Some(self.model);
        m.save_and_reload(path)
    }
}

impl ModelFileKind for LogisticTrainer {
    fn n_features(&self, m: &ModelFile) -> Result<u32> {
        match &m.logistic {
            Some(l) if m.ensemble.trees.is_empty() && m.payload.is_none() => Ok(l.n_features),
            _ => bail!("a {} model must hold `logistic` and no trees", m.kind),
        }
    }

    fn validate(&self, m: &ModelFile) -> Result<()> {
        match &m.logistic {
            Some(l) => l.validate().context("invalid logistic regression"),
            None => bail!("the logistic model has no coefficients"),
        }
    }

    fn proba(&self, m: &ModelFile, row: &[f32]) -> f64 {
        m.logistic
            .as_ref()
            .map_or(f64::NAN, |l| l.predict_proba(row))
    }

    fn scorer(&self, name: String, m: &ModelFile) -> Result<Box<dyn Scorer>> {
        let l = m
            .logistic
            .clone()
            .ok_or_else(|| anyhow::anyhow!("the logistic model has no coefficients"))?;
        Ok(Box::new(LogisticScorer::new(name, l, m.threshold.value)))
    }

    /// One graph of standard operators (Sub, Div, MatMul, Add, Sigmoid): there is no
    /// tree form to choose.
    fn onnx_form(&self, _asked: OnnxForm) -> OnnxForm {
        OnnxForm::Plain
    }

    fn onnx(
        &self,
        m: &ModelFile,
        _form: OnnxForm,
        metadata: &[(String, String)],
    ) -> Result<Vec<u8>> {
        match &m.logistic {
            Some(l) => export_logistic(l, metadata),
            None => bail!("the logistic model has no coefficients"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_small_system() {
        // [[4, 2], [2, 3]] x = [2, 1] -> x = [0.5, 0]
        let x = cholesky_solve(&[4.0, 2.0, 2.0, 3.0], &[2.0, 1.0], 2).unwrap();
        assert!((x[0] - 0.5).abs() < 1e-12 && x[1].abs() < 1e-12, "{x:?}");
        assert!(cholesky_solve(&[0.0, 0.0, 0.0, 1.0], &[1.0, 1.0], 2).is_none());
    }

    #[test]
    fn scoring_is_standardise_then_linear_then_sigmoid() {
        let m = LogisticModel {
            n_features: 2,
            mean: vec![1.0, 0.0],
            scale: vec![2.0, 1.0],
            coef: vec![0.5, -1.0],
            intercept: 0.25,
        };
        m.validate().unwrap();
        let z: f64 = 0.25 + 0.5 * ((5.0 - 1.0) / 2.0) - 1.0 * 3.0;
        assert!((m.predict_proba(&[5.0, 3.0]) - sigmoid(z)).abs() < 1e-15);
        assert!(m.predict_proba(&[f32::NAN, 0.0]).is_nan());
        let imp = m.feature_importance(&["a".into(), "b".into()]);
        assert_eq!(imp[0].feature, "b");
        assert!((imp[0].gain_share - 2.0 / 3.0).abs() < 1e-12);
    }
}
