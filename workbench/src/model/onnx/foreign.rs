//! Foreign `ai.onnx.ml` TreeEnsembleClassifier models (XGBoost via onnxmltools,
//! scikit-learn forests and boosting via skl2onnx) converted into our
//! [`TreeEnsemble`], so tract runs them as the fast plain-operator graph.
//!
//! Why: tract 0.23 refuses the `base_values` onnxmltools and skl2onnx write for binary
//! boosting ("expected length 1 (or undefined), got 2"), and runs the operator at a few
//! hundred rows per second. The conversion follows onnxruntime's semantics:
//!
//! - binary case (every `class_ids` is 0): score = `base_values[0]` + Σ weights; the
//!   attack probability is `sigmoid(score)` (`LOGISTIC`) or the score (`NONE`);
//! - both class ids present: the class-1 weights and `base_values[1]` with the same
//!   transforms (`SOFTMAX` and others are refused: the caller falls back to running
//!   the graph as it is);
//! - `BRANCH_LT` as is; `BRANCH_LEQ` `x <= t` becomes `x < next_up(t)` (exact for
//!   `f32` inputs); `BRANCH_GT`/`BRANCH_GTE` swap the branches; NaN goes to the true
//!   branch when `nodes_missing_value_tracks_true` says so, else to the false branch
//!   (where a NaN comparison leads);
//! - trees are renumbered breadth-first from each tree's first listed node, so children
//!   always come after their parent.
//!
//! Only a graph whose probability output comes from the classifier (directly or
//! through Identity nodes) and whose classifier reads the graph input is converted.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use tract_onnx::pb::{attribute_proto::AttributeType, AttributeProto, ModelProto, NodeProto};

use super::export::Aggregate;
use crate::model::gbdt::{Node, Tree, TreeEnsemble};

fn attr<'a>(n: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    n.attribute.iter().find(|a| a.name == name)
}

fn ints(n: &NodeProto, name: &str) -> Vec<i64> {
    attr(n, name).map(|a| a.ints.clone()).unwrap_or_default()
}

fn floats(n: &NodeProto, name: &str) -> Vec<f32> {
    match attr(n, name) {
        Some(a) if !a.floats.is_empty() => a.floats.clone(),
        // `*_as_tensor` variants hold a float tensor.
        Some(a) if a.r#type == AttributeType::Tensor as i32 => {
            a.t.as_ref()
                .map(|t| t.float_data.clone())
                .unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

fn strings(n: &NodeProto, name: &str) -> Vec<String> {
    attr(n, name)
        .map(|a| {
            a.strings
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The next `f32` above `t` (for `x <= t` ⇔ `x < next_up(t)`).
fn next_up(t: f32) -> f32 {
    if t.is_nan() || t == f32::INFINITY {
        return t;
    }
    if t == 0.0 {
        return f32::from_bits(1);
    }
    let b = t.to_bits();
    f32::from_bits(if t > 0.0 { b + 1 } else { b - 1 })
}

/// Converts the model's TreeEnsembleClassifier when the graph is simple enough;
/// `Ok(None)` when there is none or the graph does something else too.
pub fn convert(
    proto: &ModelProto,
    width: usize,
    prob_output: &str,
) -> Result<Option<(TreeEnsemble, Aggregate)>> {
    let Some(g) = proto.graph.as_ref() else {
        return Ok(None);
    };
    let te: Vec<&NodeProto> = g
        .node
        .iter()
        .filter(|n| n.op_type == "TreeEnsembleClassifier")
        .collect();
    let [te] = te.as_slice() else {
        return Ok(None);
    };
    if g.node
        .iter()
        .any(|n| n.op_type != "TreeEnsembleClassifier" && n.op_type != "Identity")
    {
        return Ok(None);
    }
    // The probability output must be the classifier's, maybe through Identity nodes.
    let mut name = prob_output.to_string();
    for _ in 0..g.node.len() {
        match g
            .node
            .iter()
            .find(|n| n.op_type == "Identity" && n.output.first() == Some(&name))
        {
            Some(id) => name = id.input.first().cloned().unwrap_or_default(),
            None => break,
        }
    }
    if te.output.get(1) != Some(&name) {
        return Ok(None);
    }
    let inputs: Vec<&str> = g.input.iter().map(|i| i.name.as_str()).collect();
    if te.input.len() != 1 || !inputs.contains(&te.input[0].as_str()) {
        return Ok(None);
    }
    convert_node(te, width).map(Some)
}

fn convert_node(te: &NodeProto, width: usize) -> Result<(TreeEnsemble, Aggregate)> {
    let labels = ints(te, "classlabels_int64s");
    if labels != [0, 1] {
        bail!("class labels {labels:?}: only binary [0, 1] classifiers are converted");
    }
    let post = attr(te, "post_transform")
        .map(|a| String::from_utf8_lossy(&a.s).into_owned())
        .unwrap_or_else(|| "NONE".into());
    let agg = match post.as_str() {
        "NONE" => Aggregate::Sum,
        "LOGISTIC" => Aggregate::Logistic,
        p => bail!("post_transform {p} is not converted"),
    };
    let class_ids = ints(te, "class_ids");
    let binary_case = class_ids.iter().all(|&c| c == 0);
    let class = if binary_case { 0 } else { 1 };
    let mut base = floats(te, "base_values");
    if base.is_empty() {
        base = floats(te, "base_values_as_tensor");
    }
    let base_score = match (base.len(), binary_case) {
        (0, _) => 0.0,
        (1, true) => f64::from(base[0]),
        (2, false) => f64::from(base[1]),
        (n, _) => bail!("{n} base values for a binary classifier"),
    };

    let treeids = ints(te, "nodes_treeids");
    let nodeids = ints(te, "nodes_nodeids");
    let features = ints(te, "nodes_featureids");
    let modes = strings(te, "nodes_modes");
    let mut values = floats(te, "nodes_values");
    if values.is_empty() {
        values = floats(te, "nodes_values_as_tensor");
    }
    let trues = ints(te, "nodes_truenodeids");
    let falses = ints(te, "nodes_falsenodeids");
    let tracks = ints(te, "nodes_missing_value_tracks_true");
    let m = treeids.len();
    for (what, len) in [
        ("nodes_nodeids", nodeids.len()),
        ("nodes_featureids", features.len()),
        ("nodes_modes", modes.len()),
        ("nodes_values", values.len()),
        ("nodes_truenodeids", trues.len()),
        ("nodes_falsenodeids", falses.len()),
    ] {
        if len != m {
            bail!("{what} has {len} entries for {m} nodes");
        }
    }
    // Leaf weights of the scored class, per (tree, node).
    let (ct, cn, cw) = (
        ints(te, "class_treeids"),
        ints(te, "class_nodeids"),
        floats(te, "class_weights"),
    );
    if ct.len() != cn.len() || ct.len() != cw.len() || ct.len() != class_ids.len() {
        bail!("class_treeids/nodeids/ids/weights differ in length");
    }
    let mut weight: HashMap<(i64, i64), f64> = HashMap::new();
    for i in 0..ct.len() {
        if class_ids[i] == class {
            *weight.entry((ct[i], cn[i])).or_default() += f64::from(cw[i]);
        }
    }
    // Nodes per tree, in listed order.
    let mut order: Vec<i64> = Vec::new();
    let mut by_tree: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, &t) in treeids.iter().enumerate() {
        by_tree
            .entry(t)
            .or_insert_with(|| {
                order.push(t);
                Vec::new()
            })
            .push(i);
    }
    let mut trees = Vec::with_capacity(order.len());
    for t in order {
        let list = &by_tree[&t];
        let index: HashMap<i64, usize> = list.iter().map(|&i| (nodeids[i], i)).collect();
        // Breadth-first from the first listed node.
        let mut queue: Vec<usize> = vec![list[0]];
        let mut new_id: HashMap<usize, u32> = HashMap::from([(list[0], 0)]);
        let mut head = 0;
        while head < queue.len() {
            let i = queue[head];
            head += 1;
            if modes[i] == "LEAF" {
                continue;
            }
            for c in [trues[i], falses[i]] {
                let ci = *index
                    .get(&c)
                    .with_context(|| format!("tree {t}: node {} has no child {c}", nodeids[i]))?;
                if new_id.contains_key(&ci) {
                    bail!("tree {t}: node {c} is reached twice");
                }
                new_id.insert(ci, queue.len() as u32);
                queue.push(ci);
            }
        }
        let mut nodes = Vec::with_capacity(queue.len());
        for &i in &queue {
            let leaf = |v: f64| Node::leaf(v, 0.0);
            if modes[i] == "LEAF" {
                nodes.push(leaf(weight.get(&(t, nodeids[i])).copied().unwrap_or(0.0)));
                continue;
            }
            let f = u32::try_from(features[i])
                .ok()
                .filter(|&f| (f as usize) < width)
                .with_context(|| format!("tree {t}: feature {} out of range", features[i]))?;
            let (tid, fid) = (new_id[&index[&trues[i]]], new_id[&index[&falses[i]]]);
            let nan_true = tracks.get(i).copied().unwrap_or(0) != 0;
            let v = values[i];
            // (threshold of "go left when x < threshold", left, right, NaN goes left)
            let (thr, left, right, missing_left) = match modes[i].as_str() {
                "BRANCH_LT" => (v, tid, fid, nan_true),
                "BRANCH_LEQ" => (next_up(v), tid, fid, nan_true),
                "BRANCH_GTE" => (v, fid, tid, !nan_true),
                "BRANCH_GT" => (next_up(v), fid, tid, !nan_true),
                other => bail!("node mode {other} is not converted"),
            };
            nodes.push(Node {
                leaf: false,
                feature: f,
                threshold: if thr == f32::INFINITY {
                    f64::MAX
                } else {
                    f64::from(thr)
                },
                left,
                right,
                missing_left,
                leaf_value: 0.0,
                gain: 0.0,
                cover: 0.0,
            });
        }
        trees.push(Tree { nodes });
    }
    let e = TreeEnsemble {
        n_features: u32::try_from(width).context("too many features")?,
        base_score,
        trees,
    };
    e.validate().context("the converted ensemble is invalid")?;
    Ok((e, agg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_up_makes_leq_strict() {
        for t in [0.0f32, 1.5, -2.25, 1e-30, -1e-30, 3.4e38] {
            let u = next_up(t);
            assert!(u > t);
            assert!(t < u);
            // No f32 lies strictly between t and u.
            assert_eq!(u.to_bits().abs_diff(t.to_bits()) <= 1 || t == 0.0, true);
        }
        assert_eq!(next_up(f32::INFINITY), f32::INFINITY);
    }
}
