//! Our plain tree ensemble: what model files store, what the scorers evaluate and what
//! the ONNX exporter reads. Nothing at scoring time depends on a training library.
//!
//! Semantics (the same as forust-ml's and ONNX's `BRANCH_LT`): start at node 0 of each
//! tree; at an inner node go to `left` when the feature value is below `threshold`, to
//! `right` otherwise, and follow `missing_left` when the value is NaN; add the reached
//! leaf's `leaf_value`. The margin is `base_score` plus the sum over trees; the
//! probability is its logistic sigmoid. Feature values are `f32` (the training rows are
//! stored as `f32`); thresholds are values of the training data, so each one is an `f32`
//! widened to `f64` (or `f64::MAX`, which no `f32` reaches).

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// One node of a tree. Leaves have `leaf: true` and only `leaf_value` matters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// True for a leaf.
    pub leaf: bool,
    /// Column index of the split feature (schema order).
    pub feature: u32,
    /// Go left when `value < threshold`.
    pub threshold: f64,
    /// Index of the left child in the tree's `nodes` (always after this node).
    pub left: u32,
    /// Index of the right child (always after this node).
    pub right: u32,
    /// Where a NaN value goes.
    pub missing_left: bool,
    /// A leaf's contribution to the margin (log-odds); for inner nodes, the weight the
    /// node would have as a leaf (forust-ml keeps it; unused when scoring).
    pub leaf_value: f64,
    /// Loss reduction of the split (0 for leaves), for feature importance.
    pub gain: f64,
    /// Sum of the hessians of the training rows in the node (weighted), for analysis.
    pub cover: f64,
}

/// One regression tree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tree {
    /// Nodes; node 0 is the root.
    pub nodes: Vec<Node>,
}

/// A boosted tree ensemble for binary classification (log loss).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeEnsemble {
    /// Number of feature columns rows must have.
    pub n_features: u32,
    /// Initial margin (log-odds).
    pub base_score: f64,
    /// The trees, in boosting order.
    pub trees: Vec<Tree>,
}

/// How much one feature is used by an ensemble.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureImportance {
    /// Column name.
    pub feature: String,
    /// Column index.
    pub index: u32,
    /// Number of splits on it.
    pub splits: u64,
    /// Sum of the splits' gains.
    pub gain: f64,
    /// `gain` over the total gain of all features (0 when nothing splits).
    pub gain_share: f64,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl Tree {
    /// The leaf value reached by a row whose value of column `f` is `get(f)`.
    /// Malformed trees (checked by [`TreeEnsemble::validate`]) end at 0.
    #[inline]
    pub(crate) fn leaf_value(&self, get: &impl Fn(usize) -> f32) -> f64 {
        let mut i = 0usize;
        // At most one step per node: children always come after their parent in a
        // validated tree, and the bound keeps an unvalidated one from looping.
        for _ in 0..self.nodes.len() {
            let Some(n) = self.nodes.get(i) else {
                return 0.0;
            };
            if n.leaf {
                return n.leaf_value;
            }
            let v = get(n.feature as usize);
            let go_left = if v.is_nan() {
                n.missing_left
            } else {
                f64::from(v) < n.threshold
            };
            i = if go_left { n.left } else { n.right } as usize;
        }
        0.0
    }
}

impl TreeEnsemble {
    /// The margin (log-odds) of a row given by a column accessor.
    #[inline]
    pub fn margin_by(&self, get: impl Fn(usize) -> f32) -> f64 {
        self.base_score + self.trees.iter().map(|t| t.leaf_value(&get)).sum::<f64>()
    }

    /// The margin (log-odds) of a row; missing columns count as NaN.
    pub fn margin(&self, row: &[f32]) -> f64 {
        self.margin_by(|f| row.get(f).copied().unwrap_or(f32::NAN))
    }

    /// The probability of the positive class for a row (values in schema order).
    pub fn predict_proba(&self, row: &[f32]) -> f64 {
        sigmoid(self.margin(row))
    }

    /// The probability for a row of `f64` values (rounded to `f32` first, as in training).
    pub fn predict_proba_f64(&self, row: &[f64]) -> f64 {
        sigmoid(self.margin_by(|f| row.get(f).map_or(f32::NAN, |&v| v as f32)))
    }

    /// Number of nodes over all trees.
    pub fn node_count(&self) -> usize {
        self.trees.iter().map(|t| t.nodes.len()).sum()
    }

    /// Checks the structure: every tree non-empty, children after their parent and in
    /// range, features in range, numbers not NaN and leaf values finite.
    pub fn validate(&self) -> Result<()> {
        if !self.base_score.is_finite() {
            bail!("base_score is {}", self.base_score);
        }
        for (ti, t) in self.trees.iter().enumerate() {
            if t.nodes.is_empty() {
                bail!("tree {ti} has no nodes");
            }
            let n = t.nodes.len();
            for (ni, node) in t.nodes.iter().enumerate() {
                let at = || format!("tree {ti} node {ni}");
                if node.leaf {
                    if !node.leaf_value.is_finite() {
                        bail!("{}: leaf value {}", at(), node.leaf_value);
                    }
                    continue;
                }
                if node.feature >= self.n_features {
                    bail!(
                        "{}: feature {} out of range (the model has {} features)",
                        at(),
                        node.feature,
                        self.n_features
                    );
                }
                if node.threshold.is_nan() {
                    bail!("{}: threshold is NaN", at());
                }
                for child in [node.left, node.right] {
                    let c = child as usize;
                    if c <= ni || c >= n {
                        bail!(
                            "{}: child {child} must come after the node and be below {n}",
                            at()
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// Split counts and total gain per feature, highest gain first (ties by index).
    pub fn feature_importance(&self, names: &[String]) -> Vec<FeatureImportance> {
        let k = self.n_features as usize;
        let mut splits = vec![0u64; k];
        let mut gain = vec![0f64; k];
        for t in &self.trees {
            for n in t.nodes.iter().filter(|n| !n.leaf) {
                if let Some(s) = splits.get_mut(n.feature as usize) {
                    *s += 1;
                    gain[n.feature as usize] += n.gain;
                }
            }
        }
        let total: f64 = gain.iter().sum();
        let mut out: Vec<FeatureImportance> = (0..k)
            .map(|i| FeatureImportance {
                feature: names.get(i).cloned().unwrap_or_else(|| format!("f{i}")),
                index: i as u32,
                splits: splits[i],
                gain: gain[i],
                gain_share: if total > 0.0 { gain[i] / total } else { 0.0 },
            })
            .collect();
        out.sort_by(|a, b| b.gain.total_cmp(&a.gain).then(a.index.cmp(&b.index)));
        out
    }
}

impl Node {
    /// A leaf adding `value` to the margin, over rows of hessian sum `cover`.
    pub(crate) fn leaf(value: f64, cover: f64) -> Node {
        Node {
            leaf: true,
            feature: 0,
            threshold: 0.0,
            left: 0,
            right: 0,
            missing_left: false,
            leaf_value: value,
            gain: 0.0,
            cover,
        }
    }

    /// A leaf with value `v` (test fixtures).
    #[cfg(test)]
    pub(crate) fn test_leaf(v: f64) -> Node {
        Node::leaf(v, 0.0)
    }
}
