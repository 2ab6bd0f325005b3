//! Random forest: bagged classification trees on binned features, written here (no
//! crate trains well AND hands its trees back in a form we can export).
//!
//! Each tree is grown on a bootstrap sample (with replacement) of at most
//! [`ForestParams::sample_rows`] training rows, choosing at every node the best Gini
//! split among a fresh random subset of the columns (`max_features`, default √k), on
//! quantile bins of the training values (at most 255 per column, plus one bin for NaN
//! whose direction is learned like XGBoost's default direction). A leaf holds the
//! (class-weighted) share of attack rows that reached it; the forest's score is the
//! mean over trees, as in scikit-learn's `predict_proba`.
//!
//! The trees are stored in our [`TreeEnsemble`] (base score 0, leaf values are
//! probabilities): model files, the ONNX exporter (`TreeEnsembleClassifier` with the
//! leaf values divided by the tree count, and the plain-operator form) and
//! [`ForestScorer`] all read that. Split thresholds are bin edges, which are `f32`
//! values of the training data, so `value < threshold` decides the same in `f32`
//! (ONNX) and `f64` (here).
//!
//! Determinism: every tree draws from its own ChaCha8 stream seeded by (seed, tree
//! index), so the result does not depend on the number of threads.

use anyhow::{bail, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::dataset::TrainingData;
use super::file::{ModelFile, ModelKind};
use super::onnx::{export_trees, Aggregate, OnnxForm};
use super::registry::{Algorithm, FileKind, ModelFileKind};
use super::trainer::{FileFacts, FitJob, Importance, SavedModel, Trained, Trainer};
use super::tree::{Node, Tree, TreeEnsemble};
use crate::eval::scorer::{Score, Scorer};

/// Random forest parameters (stored in the model file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForestParams {
    /// Number of trees.
    pub trees: usize,
    /// Most depth of a tree.
    pub depth: usize,
    /// Fewest (bootstrap) rows in a leaf.
    pub min_samples_leaf: usize,
    /// Columns tried at each node (None: √k rounded, at least 1).
    pub max_features: Option<usize>,
    /// Bootstrap rows drawn per tree (at most the training rows): bounds training time
    /// on large tables; each tree still sees a different sample.
    pub sample_rows: usize,
    /// Weight of an attack row relative to a benign one (splits and leaf shares).
    pub positive_weight: f64,
    /// Seed of the bootstrap and column sampling.
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            trees: 100,
            depth: 12,
            min_samples_leaf: 5,
            max_features: None,
            sample_rows: 200_000,
            positive_weight: 1.0,
            seed: 0,
        }
    }
}

impl ForestParams {
    /// Checks ranges, naming the option.
    pub fn validate(&self) -> Result<()> {
        if self.trees == 0 {
            bail!("--trees must be at least 1");
        }
        if self.depth == 0 || self.depth > 64 {
            bail!("--depth must be in 1..=64, got {}", self.depth);
        }
        if self.min_samples_leaf == 0 {
            bail!("min_samples_leaf must be at least 1");
        }
        if self.max_features == Some(0) {
            bail!("max_features must be at least 1");
        }
        if self.sample_rows == 0 {
            bail!("sample_rows must be at least 1");
        }
        if !(self.positive_weight > 0.0 && self.positive_weight.is_finite()) {
            bail!(
                "the positive weight must be positive, got {}",
                self.positive_weight
            );
        }
        Ok(())
    }
}

/// Most value bins per column (bin 0 is NaN, so bins are `u8` 0..=255).
const MAX_BINS: usize = 255;
/// Rows used to find the bin edges.
const EDGE_SAMPLE: usize = 200_000;

/// Bin edges per column: `cuts[j]` ascending `f32`; a value `x` falls in bin
/// `1 + #{c in cuts : c <= x}`, NaN in bin 0. "bin ≤ b" is "x < cuts[b - 1]".
struct Bins {
    cuts: Vec<Vec<f32>>,
}

impl Bins {
    fn new(data: &TrainingData, rows: &[usize]) -> Bins {
        let k = data.n_features();
        let step = (rows.len() / EDGE_SAMPLE).max(1);
        let sample: Vec<usize> = rows.iter().step_by(step).copied().collect();
        let cuts = (0..k)
            .map(|f| {
                let mut v: Vec<f32> = sample
                    .iter()
                    .map(|&i| data.row(i)[f])
                    .filter(|x| !x.is_nan())
                    .collect();
                v.sort_by(f32::total_cmp);
                v.dedup();
                // A cut at each distinct value but the smallest (which bin 1 holds), or
                // at quantiles when there are too many.
                if v.len() <= MAX_BINS {
                    v.into_iter().skip(1).collect()
                } else {
                    let mut c: Vec<f32> =
                        (1..MAX_BINS).map(|q| v[q * v.len() / MAX_BINS]).collect();
                    c.dedup();
                    c
                }
            })
            .collect();
        Bins { cuts }
    }

    #[inline]
    fn bin(&self, f: usize, x: f32) -> u8 {
        if x.is_nan() {
            return 0;
        }
        let c = &self.cuts[f];
        // partition_point: number of cuts <= x.
        (1 + c.partition_point(|&e| e <= x)) as u8
    }
}

/// The training rows binned, column-major (`bins[f * n + r]`).
struct Binned {
    n: usize,
    k: usize,
    bins: Vec<u8>,
    positive: Vec<bool>,
}

struct Grower<'a> {
    b: &'a Binned,
    edges: &'a Bins,
    params: &'a ForestParams,
    mtry: usize,
}

#[derive(Clone, Copy, Default)]
struct Acc {
    w: f64,
    wp: f64,
    n: usize,
}

impl Acc {
    fn add(&mut self, pos: bool, pw: f64) {
        self.n += 1;
        if pos {
            self.w += pw;
            self.wp += pw;
        } else {
            self.w += 1.0;
        }
    }
    /// Weighted Gini impurity times weight: `w · 2p(1-p)`.
    fn gini_w(&self) -> f64 {
        if self.w <= 0.0 {
            return 0.0;
        }
        let p = self.wp / self.w;
        self.w * 2.0 * p * (1.0 - p)
    }
    fn plus(self, o: Acc) -> Acc {
        Acc {
            w: self.w + o.w,
            wp: self.wp + o.wp,
            n: self.n + o.n,
        }
    }
    fn minus(self, o: Acc) -> Acc {
        Acc {
            w: self.w - o.w,
            wp: self.wp - o.wp,
            n: self.n - o.n,
        }
    }
}

struct Best {
    gain: f64,
    feature: usize,
    /// Rows with bin in 1..=bin go left.
    bin: u8,
    missing_left: bool,
}

impl Grower<'_> {
    fn leaf(&self, acc: Acc) -> Node {
        Node::leaf(if acc.w > 0.0 { acc.wp / acc.w } else { 0.0 }, acc.w)
    }

    fn best_split(&self, rows: &[u32], parent: Acc, rng: &mut ChaCha8Rng) -> Option<Best> {
        let (b, k) = (self.b, self.b.k);
        let pw = self.params.positive_weight;
        let min_leaf = self.params.min_samples_leaf;
        // A fresh subset of columns (partial Fisher–Yates).
        let mut cols: Vec<usize> = (0..k).collect();
        for i in 0..self.mtry.min(k) {
            let j = rng.random_range(i..k);
            cols.swap(i, j);
        }
        let parent_g = parent.gini_w();
        let mut best: Option<Best> = None;
        let mut hist = [Acc::default(); 256];
        for &f in &cols[..self.mtry.min(k)] {
            hist.iter_mut().for_each(|h| *h = Acc::default());
            let col = &b.bins[f * b.n..(f + 1) * b.n];
            for &r in rows {
                hist[col[r as usize] as usize].add(b.positive[r as usize], pw);
            }
            let missing = hist[0];
            let nb = self.edges.cuts[f].len() + 1; // value bins 1..=nb
            let mut left = Acc::default();
            for bin in 1..nb {
                left = left.plus(hist[bin]);
                if left.n == 0 {
                    continue;
                }
                let right = parent.minus(missing).minus(left);
                if right.n == 0 {
                    break;
                }
                for missing_left in [true, false] {
                    let (l, r) = if missing_left {
                        (left.plus(missing), right)
                    } else {
                        (left, right.plus(missing))
                    };
                    if l.n < min_leaf || r.n < min_leaf {
                        continue;
                    }
                    let gain = parent_g - l.gini_w() - r.gini_w();
                    // Without NaN both directions are the same split: send missing
                    // values to the heavier side.
                    if missing.n == 0 && missing_left != (l.w >= r.w) {
                        continue;
                    }
                    if gain > best.as_ref().map_or(1e-12, |x| x.gain) {
                        best = Some(Best {
                            gain,
                            feature: f,
                            bin: bin as u8,
                            missing_left,
                        });
                    }
                }
            }
        }
        best
    }

    fn grow(&self, tree_index: usize) -> Tree {
        let b = self.b;
        let mut rng = ChaCha8Rng::seed_from_u64(
            self.params
                .seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(tree_index as u64),
        );
        let m = self.params.sample_rows.min(b.n);
        let mut rows: Vec<u32> = (0..m).map(|_| rng.random_range(0..b.n) as u32).collect();
        rows.sort_unstable();
        let mut nodes: Vec<Node> = Vec::new();
        // (node index, row range, depth)
        let mut stack: Vec<(usize, usize, usize, usize)> = vec![(0, 0, rows.len(), 0)];
        nodes.push(self.leaf(Acc::default()));
        while let Some((ni, lo, hi, depth)) = stack.pop() {
            let part = &mut rows[lo..hi];
            let mut acc = Acc::default();
            for &r in part.iter() {
                acc.add(b.positive[r as usize], self.params.positive_weight);
            }
            let pure = acc.wp == 0.0 || acc.wp == acc.w;
            let split =
                if depth >= self.params.depth || pure || acc.n < 2 * self.params.min_samples_leaf {
                    None
                } else {
                    self.best_split(part, acc, &mut rng)
                };
            let Some(s) = split else {
                nodes[ni] = self.leaf(acc);
                continue;
            };
            // Partition: left rows first.
            let col = &b.bins[s.feature * b.n..(s.feature + 1) * b.n];
            let goes_left = |r: u32| {
                let v = col[r as usize];
                if v == 0 {
                    s.missing_left
                } else {
                    v <= s.bin
                }
            };
            let mut i = 0;
            let mut j = part.len();
            while i < j {
                if goes_left(part[i]) {
                    i += 1;
                } else {
                    j -= 1;
                    part.swap(i, j);
                }
            }
            let (left, right) = (nodes.len(), nodes.len() + 1);
            nodes.push(self.leaf(Acc::default()));
            nodes.push(self.leaf(Acc::default()));
            nodes[ni] = Node {
                leaf: false,
                feature: s.feature as u32,
                threshold: f64::from(self.edges.cuts[s.feature][s.bin as usize - 1]),
                left: left as u32,
                right: right as u32,
                missing_left: s.missing_left,
                leaf_value: if acc.w > 0.0 { acc.wp / acc.w } else { 0.0 },
                gain: s.gain,
                cover: acc.w,
            };
            stack.push((right, lo + i, hi, depth + 1));
            stack.push((left, lo, lo + i, depth + 1));
        }
        Tree { nodes }
    }
}

/// Fits a forest on the `train` rows. The trees go into a [`TreeEnsemble`] whose leaf
/// values are attack probabilities (base score 0); score with [`forest_proba`].
pub fn train(data: &TrainingData, train: &[usize], params: &ForestParams) -> Result<TreeEnsemble> {
    params.validate()?;
    let positives = data.positives(train);
    if positives == 0 || positives == train.len() {
        bail!(
            "the training split has {positives} attack and {} benign windows: both are needed",
            train.len() - positives
        );
    }
    let k = data.n_features();
    let n = train.len();
    if n > u32::MAX as usize {
        bail!("{n} training rows: at most {} are supported", u32::MAX);
    }
    let edges = Bins::new(data, train);
    let mut bins = vec![0u8; n * k];
    for (r, &i) in train.iter().enumerate() {
        for (f, &x) in data.row(i).iter().enumerate() {
            bins[f * n + r] = edges.bin(f, x);
        }
    }
    let binned = Binned {
        n,
        k,
        bins,
        positive: train.iter().map(|&i| data.is_positive(i)).collect(),
    };
    let mtry = params
        .max_features
        .unwrap_or(((k as f64).sqrt().round() as usize).max(1))
        .min(k);
    let g = Grower {
        b: &binned,
        edges: &edges,
        params,
        mtry,
    };
    let trees: Vec<Tree> = (0..params.trees)
        .into_par_iter()
        .map(|t| g.grow(t))
        .collect();
    let e = TreeEnsemble {
        n_features: u32::try_from(k).context("too many features")?,
        base_score: 0.0,
        trees,
    };
    e.validate().context("the forest has an invalid tree")?;
    Ok(e)
}

/// The forest's attack probability: the mean of the trees' leaf values.
#[inline]
pub fn forest_proba(e: &TreeEnsemble, row: &[f32]) -> f64 {
    if e.trees.is_empty() {
        return 0.0;
    }
    (e.margin(row) - e.base_score) / e.trees.len() as f64
}

/// Scores rows with a random forest.
#[derive(Clone, Debug)]
pub struct ForestScorer {
    name: String,
    threshold: f64,
    ensemble: TreeEnsemble,
}

impl ForestScorer {
    /// A scorer named `name` for a forest with its stored threshold.
    pub fn new(name: String, ensemble: TreeEnsemble, threshold: f64) -> Self {
        ForestScorer {
            name,
            threshold,
            ensemble,
        }
    }
}

impl Scorer for ForestScorer {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn default_threshold(&self) -> f64 {
        self.threshold
    }

    /// The mean leaf value (values rounded to `f32` first, as the training rows were).
    fn score(&self, row: &[f64]) -> Score {
        let k = self.ensemble.n_features as usize;
        let r: Vec<f32> = (0..k)
            .map(|i| row.get(i).map_or(f32::NAN, |&v| v as f32))
            .collect();
        Score {
            value: forest_proba(&self.ensemble, &r),
            threat: None,
        }
    }
}

/// The registry entry of `--algo forest`.
pub const ALGORITHM: Algorithm = Algorithm {
    name: "forest",
    aliases: &[],
    about: "random forest (--trees, --forest-depth, --sample-rows, --seed)",
    supervised: true,
    trainer: &ForestTrainer,
    file: FileKind::Shared(&ForestTrainer),
};

/// Trains random forests and reads their model files.
pub struct ForestTrainer;

struct ForestFit {
    ensemble: TreeEnsemble,
    params: ForestParams,
}

impl Trainer for ForestTrainer {
    fn fit(&self, job: &FitJob<'_>) -> Result<Box<dyn Trained>> {
        let p = job.params;
        let params = ForestParams {
            trees: p.trees,
            depth: p.forest_depth,
            sample_rows: p.sample_rows,
            positive_weight: p.positive_weight_for(job.data, job.train),
            seed: p.seed,
            ..ForestParams::default()
        };
        let ensemble = train(job.data, job.train, &params)?;
        Ok(Box::new(ForestFit { ensemble, params }))
    }
}

impl Trained for ForestFit {
    fn predict_proba(&self, row: &[f32]) -> f64 {
        forest_proba(&self.ensemble, row)
    }

    fn describe(&self, fit_s: f64) -> Vec<String> {
        let p = &self.params;
        vec![format!(
            "forest: {} trees (depth {}, {} bootstrap rows each), positive weight {:.1}, fitted in {:.2} s",
            p.trees, p.depth, p.sample_rows, p.positive_weight, fit_s
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
            ModelKind::FOREST,
            facts,
            self.ensemble.feature_importance(&names),
        );
        m.training.forest = Some(self.params);
        m.ensemble = self.ensemble;
        m.save_and_reload(path)
    }
}

impl ModelFileKind for ForestTrainer {
    fn n_features(&self, m: &ModelFile) -> Result<u32> {
        super::file::tree_payload_features(m)
    }

    fn validate(&self, m: &ModelFile) -> Result<()> {
        if m.ensemble.trees.is_empty() {
            bail!("the ensemble has no trees");
        }
        m.ensemble.validate().context("invalid tree ensemble")?;
        if m.ensemble.base_score != 0.0 {
            bail!("a forest's base score must be 0");
        }
        if let Some((t, _)) = m.ensemble.trees.iter().enumerate().find(|(_, t)| {
            t.nodes
                .iter()
                .any(|n| n.leaf && !(0.0..=1.0).contains(&n.leaf_value))
        }) {
            bail!("forest tree {t} has a leaf value outside [0, 1]");
        }
        Ok(())
    }

    fn proba(&self, m: &ModelFile, row: &[f32]) -> f64 {
        forest_proba(&m.ensemble, row)
    }

    fn scorer(&self, name: String, m: &ModelFile) -> Result<Box<dyn Scorer>> {
        Ok(Box::new(ForestScorer::new(
            name,
            m.ensemble.clone(),
            m.threshold.value,
        )))
    }

    fn onnx(
        &self,
        m: &ModelFile,
        form: OnnxForm,
        metadata: &[(String, String)],
    ) -> Result<Vec<u8>> {
        export_trees(&m.ensemble, Aggregate::Average, form, metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_put_thresholds_on_training_values() {
        let cuts = vec![vec![1.0f32, 2.5, 7.0]];
        let b = Bins { cuts };
        assert_eq!(b.bin(0, f32::NAN), 0);
        assert_eq!(b.bin(0, 0.0), 1);
        assert_eq!(b.bin(0, 1.0), 2);
        assert_eq!(b.bin(0, 2.4), 2);
        assert_eq!(b.bin(0, 7.0), 4);
        // "bin <= 2" is "x < cuts[1]".
        for x in [0.0f32, 1.0, 2.4, 2.5, 3.0, 9.0] {
            assert_eq!(b.bin(0, x) <= 2, x < 2.5, "{x}");
        }
    }

    #[test]
    fn params_are_checked() {
        assert!(ForestParams::default().validate().is_ok());
        let bad = ForestParams {
            trees: 0,
            ..ForestParams::default()
        };
        assert!(bad.validate().is_err());
    }
}
