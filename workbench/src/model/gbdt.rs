//! Gradient-boosted trees (`--algo gbdt`): parameters, training, the scorer, and what
//! their model files hold.
//!
//! [`train`] fits the trees with our histogram trainer ([`super::hist_gbdt`]: log loss,
//! histogram splits, early stopping on the validation split); forust-ml, the previous
//! trainer, stays available for comparison ([`fit`], [`extract`]). Either way the trees
//! end up in a [`TreeEnsemble`] ([`super::tree`]), which is what model files store, what
//! [`GbdtScorer`] evaluates and what the ONNX exporter reads.

use anyhow::{bail, Context, Result};
use forust_ml::gradientbooster::GradientBooster;
use forust_ml::metric::Metric;
use forust_ml::objective::ObjectiveType;
use forust_ml::sampler::SampleMethod;
use forust_ml::Matrix;
use serde::{Deserialize, Serialize};

use super::dataset::TrainingData;
use super::file::{ModelFile, ModelKind};
use super::onnx::{export_trees, Aggregate, OnnxForm};
use super::registry::{Algorithm, FileKind, ModelFileKind};
use super::trainer::{FileFacts, FitJob, Importance, SavedModel, Trained, Trainer};
pub use super::tree::{FeatureImportance, Node, Tree, TreeEnsemble};
use crate::eval::scorer::{Score, Scorer};

/// How positive rows are weighted against negatives.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositiveWeight {
    /// `negatives / positives` of the training split: both classes weigh the same in
    /// total (scikit-learn's `class_weight="balanced"` up to a constant).
    Balanced,
    /// The square root of `negatives / positives`: halfway (in log scale) between
    /// unweighted and balanced.
    Sqrt,
    /// A fixed weight for every positive row (negatives weigh 1).
    Fixed(f64),
}

impl std::str::FromStr for PositiveWeight {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("balanced") {
            return Ok(PositiveWeight::Balanced);
        }
        if s.eq_ignore_ascii_case("sqrt") {
            return Ok(PositiveWeight::Sqrt);
        }
        match s.parse::<f64>() {
            Ok(w) if w.is_finite() && w > 0.0 => Ok(PositiveWeight::Fixed(w)),
            _ => Err(format!(
                "positive weight must be `balanced`, `sqrt` or a positive number, got {s:?}"
            )),
        }
    }
}

/// Training parameters (stored in the model file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GbdtParams {
    /// Most trees (boosting rounds).
    pub trees: usize,
    /// Most depth of a tree.
    pub depth: usize,
    /// Shrinkage applied to every leaf.
    pub learning_rate: f32,
    /// Smallest sum of (weighted) hessians in a leaf.
    pub min_child_weight: f32,
    /// L2 regularisation of leaf weights.
    pub l2: f32,
    /// Smallest loss reduction for a split.
    pub gamma: f32,
    /// Share of rows sampled for each tree (1 = all, no sampling).
    pub subsample: f32,
    /// Share of columns sampled for each tree (1 = all).
    pub colsample: f64,
    /// Stop when the validation log loss has not improved for this many trees
    /// (None = never stop early).
    pub early_stopping_rounds: Option<usize>,
    /// Histogram bins per feature.
    pub bins: u16,
    /// Weight of positive rows.
    pub positive_weight: PositiveWeight,
    /// Seed of the row and column sampling.
    pub seed: u64,
    /// Boosted ensembles averaged (bagging): `bag` ensembles trained with seeds `seed`,
    /// `seed + 1`, ..., whose margins are averaged into one ensemble. Averaging cuts
    /// the variance that row and column sampling put into a single ensemble. Absent in
    /// files of single ensembles.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub bag: usize,
}

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

impl Default for GbdtParams {
    fn default() -> Self {
        GbdtParams {
            trees: 200,
            depth: 6,
            learning_rate: 0.1,
            min_child_weight: 1.0,
            l2: 1.0,
            gamma: 0.0,
            subsample: 1.0,
            colsample: 1.0,
            early_stopping_rounds: Some(20),
            bins: 256,
            positive_weight: PositiveWeight::Sqrt,
            seed: 0,
            bag: 1,
        }
    }
}

impl GbdtParams {
    /// Checks ranges, with messages that name the option.
    pub fn validate(&self) -> Result<()> {
        if self.trees == 0 {
            bail!("--trees must be at least 1");
        }
        if self.depth == 0 {
            bail!("--depth must be at least 1");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            bail!(
                "--learning-rate must be positive, got {}",
                self.learning_rate
            );
        }
        if !(self.min_child_weight >= 0.0 && self.min_child_weight.is_finite()) {
            bail!(
                "--min-child-weight must be zero or positive, got {}",
                self.min_child_weight
            );
        }
        if !(self.l2 >= 0.0 && self.l2.is_finite()) {
            bail!("--l2 must be zero or positive, got {}", self.l2);
        }
        if !(self.gamma >= 0.0 && self.gamma.is_finite()) {
            bail!("--gamma must be zero or positive, got {}", self.gamma);
        }
        if !(self.subsample > 0.0 && self.subsample <= 1.0) {
            bail!("--subsample must be in (0, 1], got {}", self.subsample);
        }
        if !(self.colsample > 0.0 && self.colsample <= 1.0) {
            bail!("--colsample must be in (0, 1], got {}", self.colsample);
        }
        if self.bins < 2 {
            bail!("--bins must be at least 2");
        }
        if self.bag == 0 || self.bag > 64 {
            bail!("--bag must be between 1 and 64, got {}", self.bag);
        }
        if self.early_stopping_rounds == Some(0) {
            bail!("early stopping needs at least 1 round (or none)");
        }
        Ok(())
    }
}

/// What training produced besides the ensemble.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitInfo {
    /// Trees fitted before stopping (including those after the best one).
    pub trees_fitted: usize,
    /// Trees kept (the best validation round).
    pub trees_kept: usize,
    /// Weight given to each positive training row.
    pub positive_weight: f64,
    /// Validation log loss (weighted like training) after each fitted tree.
    pub validation_logloss: Vec<f64>,
}

/// Column-major `f64` copy of some rows, as forust-ml wants it.
fn column_major(data: &TrainingData, rows: &[usize]) -> Vec<f64> {
    let k = data.n_features();
    let n = rows.len();
    let mut out = vec![0f64; n * k];
    for (r, &i) in rows.iter().enumerate() {
        for (c, &v) in data.row(i).iter().enumerate() {
            out[c * n + r] = f64::from(v);
        }
    }
    out
}

/// The 0/1 targets and weights of some rows.
fn targets(data: &TrainingData, rows: &[usize], positive_weight: f64) -> (Vec<f64>, Vec<f64>) {
    rows.iter()
        .map(|&i| {
            if data.is_positive(i) {
                (1.0, positive_weight)
            } else {
                (0.0, 1.0)
            }
        })
        .unzip()
}

/// The booster forust-ml fits for `params`.
fn booster(params: &GbdtParams) -> GradientBooster {
    GradientBooster::default()
        .set_objective_type(ObjectiveType::LogLoss)
        .set_iterations(params.trees)
        .set_learning_rate(params.learning_rate)
        .set_max_depth(params.depth)
        .set_min_leaf_weight(params.min_child_weight)
        .set_l2(params.l2)
        .set_gamma(params.gamma)
        .set_nbins(params.bins)
        .set_subsample(params.subsample)
        .set_sample_method(if params.subsample < 1.0 {
            SampleMethod::Random
        } else {
            SampleMethod::None
        })
        .set_colsample_bytree(params.colsample)
        .set_seed(params.seed)
        .set_initialize_base_score(true)
        .set_create_missing_branch(false)
        .set_evaluation_metric(Some(Metric::LogLoss))
        .set_early_stopping_rounds(params.early_stopping_rounds)
        .set_parallel(true)
}

/// A fitted forust-ml booster with the rows' weights it was fitted with.
pub struct Fitted {
    pub booster: GradientBooster,
    pub info: FitInfo,
}

/// Checks the parameters and the splits, and returns the weight of a positive row.
pub(crate) fn class_weight(
    data: &TrainingData,
    train: &[usize],
    validation: &[usize],
    params: &GbdtParams,
) -> Result<f64> {
    params.validate()?;
    let positives = train.iter().filter(|&&i| data.is_positive(i)).count();
    let negatives = train.len() - positives;
    if positives == 0 || negatives == 0 {
        bail!(
            "the training split has {positives} attack and {negatives} benign windows: both are needed"
        );
    }
    if validation.is_empty() {
        bail!("the validation split is empty");
    }
    Ok(match params.positive_weight {
        PositiveWeight::Balanced => negatives as f64 / positives as f64,
        PositiveWeight::Sqrt => (negatives as f64 / positives as f64).sqrt(),
        PositiveWeight::Fixed(w) => w,
    })
}

/// Fits a forust-ml booster on `train` rows, early-stopping on `validation` rows (the
/// previous trainer, kept for comparison: `WORKBENCH_GBDT_TRAINER=forust`).
pub fn fit(
    data: &TrainingData,
    train: &[usize],
    validation: &[usize],
    params: &GbdtParams,
) -> Result<Fitted> {
    let positive_weight = class_weight(data, train, validation, params)?;
    let k = data.n_features();
    let x_train = column_major(data, train);
    let (y_train, w_train) = targets(data, train, positive_weight);
    let x_val = column_major(data, validation);
    let (y_val, w_val) = targets(data, validation, positive_weight);
    let mut b = booster(params);
    let eval = vec![(
        Matrix::new(&x_val, validation.len(), k),
        &y_val[..],
        &w_val[..],
    )];
    b.fit(
        &Matrix::new(&x_train, train.len(), k),
        &y_train,
        &w_train,
        Some(eval),
    )
    .context("forust-ml training failed")?;
    let trees_fitted = b.trees.len();
    let trees_kept = b
        .prediction_iteration
        .unwrap_or(trees_fitted)
        .min(trees_fitted);
    let validation_logloss = match &b.evaluation_history {
        Some(h) => (0..h.rows).map(|r| *h.get(r, 0)).collect(),
        None => Vec::new(),
    };
    Ok(Fitted {
        booster: b,
        info: FitInfo {
            trees_fitted,
            trees_kept,
            positive_weight,
            validation_logloss,
        },
    })
}

/// Copies the trees forust-ml predicts with into a [`TreeEnsemble`].
pub fn extract(b: &GradientBooster, n_features: usize, trees_kept: usize) -> Result<TreeEnsemble> {
    let mut trees = Vec::with_capacity(trees_kept);
    for (ti, t) in b.trees.iter().take(trees_kept).enumerate() {
        let mut nodes = Vec::with_capacity(t.nodes.len());
        for (ni, n) in t.nodes.iter().enumerate() {
            if n.num != ni {
                bail!("forust-ml tree {ti}: node {ni} is numbered {}", n.num);
            }
            if n.is_leaf {
                nodes.push(Node {
                    leaf: true,
                    feature: 0,
                    threshold: 0.0,
                    left: 0,
                    right: 0,
                    missing_left: false,
                    leaf_value: f64::from(n.weight_value),
                    gain: 0.0,
                    cover: f64::from(n.hessian_sum),
                });
                continue;
            }
            let missing_left = if n.missing_node == n.left_child {
                true
            } else if n.missing_node == n.right_child {
                false
            } else {
                bail!("forust-ml tree {ti} node {ni} has a separate missing branch, which the ensemble format cannot hold");
            };
            let idx = |c: usize| {
                u32::try_from(c).with_context(|| format!("tree {ti}: child index {c} too large"))
            };
            nodes.push(Node {
                leaf: false,
                feature: idx(n.split_feature)?,
                threshold: n.split_value,
                left: idx(n.left_child)?,
                right: idx(n.right_child)?,
                missing_left,
                leaf_value: f64::from(n.weight_value),
                gain: f64::from(n.split_gain),
                cover: f64::from(n.hessian_sum),
            });
        }
        trees.push(Tree { nodes });
    }
    let e = TreeEnsemble {
        n_features: u32::try_from(n_features).context("too many features")?,
        base_score: b.base_score,
        trees,
    };
    e.validate()
        .context("forust-ml produced a tree the ensemble format refuses")?;
    Ok(e)
}

/// Fits on `train`, early-stops on `validation`, and returns our ensemble: with our
/// histogram trainer ([`super::hist_gbdt`]), or with forust-ml when the environment
/// variable `WORKBENCH_GBDT_TRAINER` is `forust` (undocumented; for benchmarks). With
/// `params.bag > 1`, that many ensembles (seeds `seed..seed + bag`) averaged.
pub fn train(
    data: &TrainingData,
    train: &[usize],
    validation: &[usize],
    params: &GbdtParams,
) -> Result<(TreeEnsemble, FitInfo)> {
    if params.bag > 1 {
        let mut members = Vec::with_capacity(params.bag);
        for b in 0..params.bag {
            let p = GbdtParams {
                seed: params.seed.wrapping_add(b as u64),
                bag: 1,
                ..params.clone()
            };
            members.push(train_one(data, train, validation, &p)?);
        }
        return Ok(average(members));
    }
    train_one(data, train, validation, params)
}

/// One ensemble averaging the margins of several: leaf values and base scores divided
/// by their number, trees concatenated. Fit info: sums of trees, the first member's
/// validation curve.
pub fn average(members: Vec<(TreeEnsemble, FitInfo)>) -> (TreeEnsemble, FitInfo) {
    let k = members.len().max(1) as f64;
    let mut out = TreeEnsemble {
        n_features: members.first().map_or(0, |m| m.0.n_features),
        base_score: 0.0,
        trees: Vec::new(),
    };
    let mut info = FitInfo {
        trees_fitted: 0,
        trees_kept: 0,
        positive_weight: members.first().map_or(1.0, |m| m.1.positive_weight),
        validation_logloss: members
            .first()
            .map(|m| m.1.validation_logloss.clone())
            .unwrap_or_default(),
    };
    for (e, i) in members {
        out.base_score += e.base_score / k;
        for mut t in e.trees {
            for n in t.nodes.iter_mut().filter(|n| n.leaf) {
                n.leaf_value /= k;
            }
            out.trees.push(t);
        }
        info.trees_fitted += i.trees_fitted;
        info.trees_kept += i.trees_kept;
    }
    (out, info)
}

fn train_one(
    data: &TrainingData,
    train: &[usize],
    validation: &[usize],
    params: &GbdtParams,
) -> Result<(TreeEnsemble, FitInfo)> {
    match std::env::var("WORKBENCH_GBDT_TRAINER").as_deref() {
        Ok("forust") => {}
        Ok("hist") | Err(_) => return super::hist_gbdt::train(data, train, validation, params),
        Ok(other) => bail!("WORKBENCH_GBDT_TRAINER={other:?}: expected `hist` or `forust`"),
    }
    let fitted = fit(data, train, validation, params)?;
    let e = extract(&fitted.booster, data.n_features(), fitted.info.trees_kept)?;
    Ok((e, fitted.info))
}

/// forust-ml's own margins for some rows (for checking [`extract`]).
pub fn forust_margins(b: &GradientBooster, data: &TrainingData, rows: &[usize]) -> Vec<f64> {
    let x = column_major(data, rows);
    b.predict(&Matrix::new(&x, rows.len(), data.n_features()), false)
}

/// The registry entry of `--algo gbdt`.
pub const ALGORITHM: Algorithm = Algorithm {
    name: "gbdt",
    aliases: &[],
    about: "gradient-boosted trees (our histogram trainer; early stopping on validation)",
    supervised: true,
    trainer: &GbdtTrainer,
    file: FileKind::Shared(&GbdtTrainer),
};

/// Trains boosted trees and reads their model files.
pub struct GbdtTrainer;

/// A fitted boosted ensemble.
struct GbdtFit {
    ensemble: TreeEnsemble,
    params: GbdtParams,
    fit: FitInfo,
}

impl Trainer for GbdtTrainer {
    fn check(&self, params: &super::trainer::TrainParams) -> Result<()> {
        params.gbdt().validate()
    }

    fn fit(&self, job: &FitJob<'_>) -> Result<Box<dyn Trained>> {
        let params = job.params.gbdt();
        let (ensemble, fit) = train(job.data, job.train, job.validation, &params)?;
        Ok(Box::new(GbdtFit {
            ensemble,
            params,
            fit,
        }))
    }
}

impl Trained for GbdtFit {
    fn predict_proba(&self, row: &[f32]) -> f64 {
        self.ensemble.predict_proba(row)
    }

    fn describe(&self, fit_s: f64) -> Vec<String> {
        let (p, f) = (&self.params, &self.fit);
        vec![format!(
            "gbdt: {} of {} trees kept (max {}{}, depth {}, learning rate {}), positive weight {:.1}, fitted in {:.2} s",
            f.trees_kept,
            f.trees_fitted,
            p.trees,
            if p.bag > 1 { format!(" in each of {} bagged ensembles", p.bag) } else { String::new() },
            p.depth,
            p.learning_rate,
            f.positive_weight,
            fit_s
        )]
    }

    fn importance(&self, names: &[String]) -> Option<Importance> {
        Some(Importance {
            features: self.ensemble.feature_importance(names),
            measure: "total split gain",
        })
    }

    fn save(
        self: Box<Self>,
        path: &std::path::Path,
        facts: FileFacts,
    ) -> Result<Box<dyn SavedModel>> {
        let names = facts.schema.names.clone();
        let mut m = ModelFile::from_facts(
            ModelKind::GBDT,
            facts,
            self.ensemble.feature_importance(&names),
        );
        m.training.params = Some(self.params);
        m.training.fit = Some(self.fit);
        m.ensemble = self.ensemble;
        m.save_and_reload(path)
    }
}

impl ModelFileKind for GbdtTrainer {
    fn n_features(&self, m: &ModelFile) -> Result<u32> {
        super::file::tree_payload_features(m)
    }

    fn validate(&self, m: &ModelFile) -> Result<()> {
        if m.ensemble.trees.is_empty() {
            bail!("the ensemble has no trees");
        }
        m.ensemble.validate().context("invalid tree ensemble")
    }

    fn proba(&self, m: &ModelFile, row: &[f32]) -> f64 {
        m.ensemble.predict_proba(row)
    }

    fn scorer(&self, name: String, m: &ModelFile) -> Result<Box<dyn Scorer>> {
        Ok(Box::new(GbdtScorer::new(name, m)))
    }

    fn onnx(
        &self,
        m: &ModelFile,
        form: OnnxForm,
        metadata: &[(String, String)],
    ) -> Result<Vec<u8>> {
        export_trees(&m.ensemble, Aggregate::Logistic, form, metadata)
    }
}

/// Scores rows with a loaded gradient-boosted tree model.
#[derive(Clone, Debug)]
pub struct GbdtScorer {
    name: String,
    threshold: f64,
    ensemble: TreeEnsemble,
}

impl GbdtScorer {
    /// A scorer for a validated model, named `name` in reports.
    pub fn new(name: String, model: &ModelFile) -> Self {
        GbdtScorer {
            name,
            threshold: model.threshold.value,
            ensemble: model.ensemble.clone(),
        }
    }

    /// The ensemble.
    pub fn ensemble(&self) -> &TreeEnsemble {
        &self.ensemble
    }
}

impl Scorer for GbdtScorer {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn default_threshold(&self) -> f64 {
        self.threshold
    }

    /// The positive-class probability. The values are rounded to `f32` first, as the
    /// training rows were. A binary model cannot tell the attack type: no threat.
    fn score(&self, row: &[f64]) -> Score {
        Score {
            value: self.ensemble.predict_proba_f64(row),
            threat: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(v: f64) -> Node {
        Node::test_leaf(v)
    }

    fn split(feature: u32, threshold: f64, missing_left: bool, gain: f64) -> Node {
        Node {
            leaf: false,
            feature,
            threshold,
            left: 1,
            right: 2,
            missing_left,
            leaf_value: 0.0,
            gain,
            cover: 0.0,
        }
    }

    fn stump(feature: u32, threshold: f64, missing_left: bool) -> TreeEnsemble {
        TreeEnsemble {
            n_features: 2,
            base_score: 0.5,
            trees: vec![Tree {
                nodes: vec![
                    split(feature, threshold, missing_left, 3.0),
                    leaf(-1.0),
                    leaf(2.0),
                ],
            }],
        }
    }

    #[test]
    fn traversal_is_branch_lt_with_missing_direction() {
        let e = stump(1, 3.0, true);
        e.validate().unwrap();
        assert_eq!(e.margin(&[0.0, 2.9]), -0.5);
        assert_eq!(e.margin(&[0.0, 3.0]), 2.5, "equal goes right");
        assert_eq!(e.margin(&[0.0, f32::NAN]), -0.5, "NaN follows missing_left");
        assert_eq!(stump(1, 3.0, false).margin(&[0.0, f32::NAN]), 2.5);
        assert_eq!(e.margin(&[0.0]), -0.5, "a short row reads NaN");
        let p = e.predict_proba(&[0.0, 5.0]);
        assert!((p - 1.0 / (1.0 + (-2.5f64).exp())).abs() < 1e-15);
        assert_eq!(e.predict_proba_f64(&[0.0, 5.0]), p);
    }

    #[test]
    fn validate_refuses_cycles_bad_features_and_nan() {
        let mut e = stump(1, 3.0, true);
        e.trees[0].nodes[0].left = 0;
        assert!(e.validate().is_err(), "self loop");
        let mut e = stump(1, 3.0, true);
        e.trees[0].nodes[0].right = 9;
        assert!(e.validate().is_err(), "child out of range");
        assert!(
            stump(2, 3.0, true).validate().is_err(),
            "feature out of range"
        );
        assert!(stump(0, f64::NAN, true).validate().is_err());
        let mut e = stump(0, 1.0, true);
        e.trees[0].nodes[2].leaf_value = f64::INFINITY;
        assert!(e.validate().is_err());
        // Even an unvalidated cyclic tree terminates.
        let mut e = stump(0, 1.0, true);
        e.trees[0].nodes[0].left = 0;
        assert!(e.margin(&[0.0, 0.0]).is_finite());
    }

    #[test]
    fn importance_counts_splits_and_gain() {
        let mut e = stump(1, 3.0, true);
        e.trees.push(Tree {
            nodes: vec![split(0, 1.0, false, 1.0), leaf(0.0), leaf(0.0)],
        });
        e.trees.push(e.trees[0].clone());
        let imp = e.feature_importance(&["a".into(), "b".into()]);
        assert_eq!(imp[0].feature, "b");
        assert_eq!(imp[0].splits, 2);
        assert_eq!(imp[0].gain, 6.0);
        assert!((imp[0].gain_share - 6.0 / 7.0).abs() < 1e-12);
        assert_eq!(imp[1].splits, 1);
    }

    #[test]
    fn positive_weight_parses() {
        assert_eq!("balanced".parse(), Ok(PositiveWeight::Balanced));
        assert_eq!("2.5".parse(), Ok(PositiveWeight::Fixed(2.5)));
        assert_eq!("sqrt".parse(), Ok(PositiveWeight::Sqrt));
        assert!("0".parse::<PositiveWeight>().is_err());
        assert!("x".parse::<PositiveWeight>().is_err());
    }
}
