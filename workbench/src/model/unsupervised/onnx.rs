//! The ensemble as one ONNX graph of standard operators (opset 17) that tract and
//! onnxruntime both run. Input `features` float `[N, D]`; outputs `probabilities`
//! `[N, 2]` (column 1 = ensemble score, as the GBDT exports so `OnnxScorer` reads it
//! unchanged), `label` int64 `[N]` (score ≥ the stored threshold) and `member_scores`
//! `[N, 4]` (normalised kmeans, lof, ocsvm, iforest).
//!
//! ```text
//! x  = Where(IsNaN(features), impute, features)
//! z  = (Sign(x)·Log(|x| + 1) − mean) / std
//! kmeans = ReduceMin_k ReduceSum_d (z[:,None,:] − C)²               (K is small: exact differences)
//! LOF:   d2≈ |z|² − 2 z·Rᵀ + |R|²  (MatMul) → TopK(−d2, k) → idx     (only chooses the neighbours)
//!        dist = Sqrt(ReduceSum_d (z[:,None,:] − Gather(R, idx))²)  (exact distances of the k chosen)
//!        lof  = ReduceMean(Gather(lrd, idx)) · (ReduceMean(Max(dist, Gather(kdist, idx))) + ε)
//! ocsvm  = rho − ReduceSum(z·w)
//! iforest = Exp(−ln2/c · E[h(x)]), E[h(x)] from the GBDT plain-operator tree walk
//!           (model::onnx::export_ensemble, Plain, reused: its `tree_sum` node)
//! member  = ReduceSum(step · Clip((s − knots)·inv_width, 0, 1)) + r·(1 − Exp(−Max(s − q_last, 0)/τ))
//! score   = mean of the four members
//! ```
//!
//! Why the LOF distances are recomputed: `|z|² − 2z·r + |r|²` in `f32` cancels (errors
//! ~1e-5 on squared distances of ~1e-2 between close neighbours), exact differences
//! for all M reference points would be an `[N, M, D]` tensor (~0.5 GB at N=2048,
//! M=2000, D=30); the MatMul form only has to pick the neighbours.

use anyhow::{bail, Context, Result};
use prost::Message;
use tract_onnx::pb::{
    tensor_proto::DataType, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    TensorProto,
};

use super::{UnsupervisedFile, UnsupervisedModel, LOF_EPS_F32, MEMBERS};
use crate::model::onnx::export::{
    attr_int as int, attr_ints as ints, model_proto, value_info, Dim::Batch, Dim::Fixed, OPSET,
};
use crate::model::onnx::{export_ensemble, meta, OnnxForm};

pub const INPUT: &str = "features";
pub const OUTPUT_PROBABILITIES: &str = "probabilities";
pub const OUTPUT_LABEL: &str = "label";
pub const OUTPUT_MEMBERS: &str = "member_scores";

/// The ONNX bytes of an unsupervised model file, with the file's facts as metadata.
pub fn export(file: &UnsupervisedFile) -> Result<Vec<u8>> {
    file.validate()
        .context("refusing to export an invalid model")?;
    let j = |v: &dyn Fn() -> serde_json::Result<String>| v();
    let props: Vec<(&str, String)> = vec![
        (meta::FORMAT, meta::FORMAT_VALUE.to_string()),
        (meta::FORMAT_VERSION, meta::FORMAT_VERSION_VALUE.to_string()),
        (meta::MODEL_KIND, super::KIND.to_string()),
        (meta::ONNX_FORM, "plain".to_string()),
        (meta::WORKBENCH_VERSION, file.workbench_version.clone()),
        (meta::SCHEMA_FINGERPRINT, file.schema_fingerprint.clone()),
        (meta::SCHEMA_VERSION, file.schema.version.to_string()),
        (
            meta::FEATURE_NAMES,
            j(&|| serde_json::to_string(&file.schema.names))?,
        ),
        (meta::SCHEMA, j(&|| serde_json::to_string(&file.schema))?),
        (
            meta::THRESHOLD,
            j(&|| serde_json::to_string(&file.threshold.value))?,
        ),
        (
            meta::THRESHOLD_INFO,
            j(&|| serde_json::to_string(&file.threshold))?,
        ),
        (meta::WINDOW, j(&|| serde_json::to_string(&file.window))?),
        (
            meta::TRAINING_DATASETS,
            j(&|| serde_json::to_string(&file.training.datasets))?,
        ),
        (
            meta::TRAINING_DATA_SHA256,
            file.training.data_sha256.clone(),
        ),
        (
            meta::TRAINING,
            j(&|| serde_json::to_string(&file.training))?,
        ),
    ];
    let props: Vec<(String, String)> = props.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    export_model(&file.model, file.threshold.value, &props)
}

/// The ONNX bytes of a bare model (`threshold` decides `label`).
pub fn export_model(
    m: &UnsupervisedModel,
    threshold: f64,
    metadata: &[(String, String)],
) -> Result<Vec<u8>> {
    m.validate()
        .context("refusing to export an invalid model")?;
    let d = m.feature_names.len() as i64;
    let mut g = Graph::default();
    let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();

    // Constants.
    g.f32s("one", &[], vec![1.0]);
    g.f32s("zero", &[], vec![0.0]);
    g.f32s("two", &[], vec![2.0]);
    g.f32s("quarter", &[], vec![0.25]);
    g.f32s("threshold", &[], vec![threshold as f32]);
    g.i64s("axes_1", &[1], vec![1]);
    g.i64s("axes_2", &[1], vec![2]);

    // Imputation and standardisation.
    let s = &m.standardiser;
    g.f32s("impute", &[d], f(&s.impute));
    g.f32s("mean", &[d], f(&s.mean));
    g.f32s("std", &[d], f(&s.std));
    g.op("IsNaN", &[INPUT], "is_nan", vec![]);
    g.op("Where", &["is_nan", "impute", INPUT], "x", vec![]);
    g.op("Abs", &["x"], "x_abs", vec![]);
    g.op("Add", &["x_abs", "one"], "x_abs1", vec![]);
    g.op("Log", &["x_abs1"], "x_log", vec![]);
    g.op("Sign", &["x"], "x_sign", vec![]);
    g.op("Mul", &["x_sign", "x_log"], "x_slog", vec![]);
    g.op("Sub", &["x_slog", "mean"], "x_centred", vec![]);
    g.op("Div", &["x_centred", "std"], "z", vec![]);
    g.op("Unsqueeze", &["z", "axes_1"], "z3", vec![]);

    // k-means.
    let km = &m.kmeans;
    g.f32s("km_centroids", &[1, km.k as i64, d], f(&km.centroids));
    g.op("Sub", &["z3", "km_centroids"], "km_diff", vec![]);
    g.op("Mul", &["km_diff", "km_diff"], "km_sq", vec![]);
    g.op(
        "ReduceSum",
        &["km_sq", "axes_2"],
        "km_d2",
        vec![keepdims(0)],
    );
    g.op(
        "ReduceMin",
        &["km_d2"],
        "raw_kmeans",
        vec![ints("axes", vec![1]), keepdims(0)],
    );

    // LOF.
    let lof = &m.lof;
    let mm = lof.k_distance.len() as i64;
    let reference = f(&lof.reference);
    let dd = d as usize;
    let mut ref_t = vec![0f32; reference.len()];
    for (r, row) in reference.chunks(dd).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            ref_t[c * mm as usize + r] = v;
        }
    }
    let ref_sq: Vec<f32> = reference
        .chunks(dd)
        .map(|r| r.iter().map(|v| v * v).sum())
        .collect();
    g.f32s("lof_ref", &[mm, d], reference);
    g.f32s("lof_ref_t", &[d, mm], ref_t);
    g.f32s("lof_ref_sq", &[mm], ref_sq);
    g.f32s("lof_kdist", &[mm], f(&lof.k_distance));
    g.f32s("lof_lrd", &[mm], f(&lof.lrd));
    g.f32s("lof_eps", &[], vec![LOF_EPS_F32]);
    g.i64s("lof_k", &[1], vec![lof.k as i64]);
    g.op("Mul", &["z", "z"], "lof_zz", vec![]);
    g.op(
        "ReduceSum",
        &["lof_zz", "axes_1"],
        "lof_z_sq",
        vec![keepdims(1)],
    );
    g.op("MatMul", &["z", "lof_ref_t"], "lof_dot", vec![]);
    g.op("Mul", &["lof_dot", "two"], "lof_dot2", vec![]);
    g.op("Sub", &["lof_z_sq", "lof_dot2"], "lof_part", vec![]);
    g.op("Add", &["lof_part", "lof_ref_sq"], "lof_d2_approx", vec![]);
    g.op("Neg", &["lof_d2_approx"], "lof_neg_d2", vec![]);
    g.node(
        "TopK",
        &["lof_neg_d2", "lof_k"],
        &["lof_top_values", "lof_idx"],
        vec![int("axis", 1), int("largest", 1), int("sorted", 1)],
    );
    g.op(
        "Gather",
        &["lof_ref", "lof_idx"],
        "lof_nbrs",
        vec![int("axis", 0)],
    );
    g.op("Sub", &["z3", "lof_nbrs"], "lof_diff", vec![]);
    g.op("Mul", &["lof_diff", "lof_diff"], "lof_sq", vec![]);
    g.op(
        "ReduceSum",
        &["lof_sq", "axes_2"],
        "lof_d2",
        vec![keepdims(0)],
    );
    g.op("Sqrt", &["lof_d2"], "lof_dist", vec![]);
    g.op(
        "Gather",
        &["lof_kdist", "lof_idx"],
        "lof_nbr_kdist",
        vec![int("axis", 0)],
    );
    g.op("Max", &["lof_dist", "lof_nbr_kdist"], "lof_reach", vec![]);
    g.op(
        "ReduceMean",
        &["lof_reach"],
        "lof_mean_reach",
        vec![ints("axes", vec![1]), keepdims(0)],
    );
    g.op(
        "Gather",
        &["lof_lrd", "lof_idx"],
        "lof_nbr_lrd",
        vec![int("axis", 0)],
    );
    g.op(
        "ReduceMean",
        &["lof_nbr_lrd"],
        "lof_mean_lrd",
        vec![ints("axes", vec![1]), keepdims(0)],
    );
    g.op(
        "Add",
        &["lof_mean_reach", "lof_eps"],
        "lof_reach_eps",
        vec![],
    );
    g.op("Mul", &["lof_mean_lrd", "lof_reach_eps"], "raw_lof", vec![]);

    // Linear one-class SVM.
    g.f32s("svm_w", &[d], f(&m.ocsvm.w));
    g.f32s("svm_rho", &[], vec![m.ocsvm.rho as f32]);
    g.op("Mul", &["z", "svm_w"], "svm_zw", vec![]);
    g.op(
        "ReduceSum",
        &["svm_zw", "axes_1"],
        "svm_dot",
        vec![keepdims(0)],
    );
    g.op("Sub", &["svm_rho", "svm_dot"], "raw_ocsvm", vec![]);

    // Isolation forest: the GBDT exporter's plain tree walk on `x`, up to its tree sum.
    splice_tree_walk(&mut g, m)?;
    let c = if m.iforest.c > 0.0 { m.iforest.c } else { 1.0 };
    g.f32s("if_scale", &[], vec![(-std::f64::consts::LN_2 / c) as f32]);
    g.op("Mul", &["if_tree_sum", "if_scale"], "if_log_score", vec![]);
    g.op("Exp", &["if_log_score"], "raw_iforest", vec![]);

    // Normalisation of each member, then the mean.
    let mut normalised = Vec::new();
    for (name, n) in MEMBERS.iter().zip(&m.normalisers) {
        let p = |s: &str| format!("{name}_{s}");
        let q = n.knots.len() as i64 - 1;
        let last = n.knots[n.knots.len() - 1];
        let top: f64 = n.step.iter().sum();
        g.f32s(&p("knots"), &[q], f(&n.knots[..n.knots.len() - 1]));
        g.f32s(&p("inv_width"), &[q], f(&n.inv_width));
        g.f32s(&p("step"), &[q], f(&n.step));
        g.f32s(&p("last"), &[], vec![last as f32]);
        g.f32s(&p("neg_inv_tail"), &[], vec![(-1.0 / n.tail) as f32]);
        g.f32s(&p("rest"), &[], vec![(1.0 - top) as f32]);
        let raw = format!("raw_{name}");
        g.op("Unsqueeze", &[&raw, "axes_1"], &p("s2"), vec![]);
        g.op("Sub", &[&p("s2"), &p("knots")], &p("from_knot"), vec![]);
        g.op(
            "Mul",
            &[&p("from_knot"), &p("inv_width")],
            &p("frac"),
            vec![],
        );
        g.op("Clip", &[&p("frac"), "zero", "one"], &p("clipped"), vec![]);
        g.op("Mul", &[&p("clipped"), &p("step")], &p("steps"), vec![]);
        g.op(
            "ReduceSum",
            &[&p("steps"), "axes_1"],
            &p("linear"),
            vec![keepdims(0)],
        );
        g.op("Sub", &[&raw, &p("last")], &p("above"), vec![]);
        g.op("Max", &[&p("above"), "zero"], &p("over"), vec![]);
        g.op(
            "Mul",
            &[&p("over"), &p("neg_inv_tail")],
            &p("decay_arg"),
            vec![],
        );
        g.op("Exp", &[&p("decay_arg")], &p("decay"), vec![]);
        g.op("Sub", &["one", &p("decay")], &p("rise"), vec![]);
        g.op("Mul", &[&p("rise"), &p("rest")], &p("tail"), vec![]);
        g.op("Add", &[&p("linear"), &p("tail")], &p("score"), vec![]);
        g.op("Unsqueeze", &[&p("score"), "axes_1"], &p("col"), vec![]);
        normalised.push(p("score"));
    }
    let n_refs: Vec<&str> = normalised.iter().map(String::as_str).collect();
    g.op("Sum", &n_refs, "member_sum", vec![]);
    g.op("Mul", &["member_sum", "quarter"], "score", vec![]);
    let cols: Vec<String> = MEMBERS.iter().map(|n| format!("{n}_col")).collect();
    let col_refs: Vec<&str> = cols.iter().map(String::as_str).collect();
    g.op("Concat", &col_refs, OUTPUT_MEMBERS, vec![int("axis", 1)]);
    g.op("Unsqueeze", &["score", "axes_1"], "p1", vec![]);
    g.op("Sub", &["one", "p1"], "p0", vec![]);
    g.op(
        "Concat",
        &["p0", "p1"],
        OUTPUT_PROBABILITIES,
        vec![int("axis", 1)],
    );
    g.op("Less", &["score", "threshold"], "below", vec![]);
    g.op("Not", &["below"], "alert", vec![]);
    g.op(
        "Cast",
        &["alert"],
        OUTPUT_LABEL,
        vec![int("to", DataType::Int64 as i64)],
    );

    let graph = GraphProto {
        name: "workbench_unsupervised".into(),
        node: g.nodes,
        initializer: g.init,
        input: vec![value_info(INPUT, DataType::Float, &[Batch, Fixed(d)])],
        output: vec![
            value_info(OUTPUT_LABEL, DataType::Int64, &[Batch]),
            value_info(OUTPUT_PROBABILITIES, DataType::Float, &[Batch, Fixed(2)]),
            value_info(
                OUTPUT_MEMBERS,
                DataType::Float,
                &[Batch, Fixed(MEMBERS.len() as i64)],
            ),
        ],
        ..Default::default()
    };
    Ok(model_proto(
        graph,
        vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        format!(
            "Unsupervised anomaly ensemble (k-means, LOF k={}, linear one-class SVM, isolation forest of {} trees) over {} features; probabilities[:, 1] is the ensemble score.",
            lof.k,
            m.iforest.trees.trees.len(),
            d
        ),
        metadata,
    ))
}

/// Adds the isolation forest's plain-operator tree walk (written by the GBDT exporter)
/// with its input bound to `x` and every other name prefixed `if_`; its `tree_sum`
/// (the sum of leaf values = E[h(x)]) becomes `if_tree_sum`. The exporter's nodes after
/// the sum (sigmoid, probabilities, label) are left out.
fn splice_tree_walk(g: &mut Graph, m: &UnsupervisedModel) -> Result<()> {
    let bytes = export_ensemble(&m.iforest.trees, OnnxForm::Plain, &[])
        .context("exporting the isolation forest")?;
    let proto = ModelProto::decode(bytes.as_slice()).context("decoding the tree walk")?;
    let sub = proto.graph.context("the tree walk has no graph")?;
    let input = sub
        .input
        .first()
        .map(|i| i.name.clone())
        .context("the tree walk has no input")?;
    let rename = |s: &str| {
        if s == input {
            "x".to_string()
        } else {
            format!("if_{s}")
        }
    };
    let mut found = false;
    for mut n in sub.node {
        let is_sum = n.output.iter().any(|o| o == "tree_sum");
        n.input = n.input.iter().map(|s| rename(s)).collect();
        n.output = n.output.iter().map(|s| rename(s)).collect();
        n.name = format!("if_{}", n.name);
        g.nodes.push(n);
        if is_sum {
            found = true;
            break;
        }
    }
    if !found {
        bail!("the GBDT plain-operator export has no `tree_sum` node any more; the isolation forest cannot reuse it");
    }
    // Only the initialisers the kept nodes read.
    let used: std::collections::HashSet<String> = g
        .nodes
        .iter()
        .flat_map(|n| n.input.iter().cloned())
        .collect();
    for mut t in sub.initializer {
        t.name = rename(&t.name);
        if used.contains(&t.name) {
            g.init.push(t);
        }
    }
    Ok(())
}

#[derive(Default)]
struct Graph {
    nodes: Vec<NodeProto>,
    init: Vec<TensorProto>,
}

impl Graph {
    fn node(&mut self, op: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<AttributeProto>) {
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            name: format!("{op}_{}", outputs.first().copied().unwrap_or("")),
            op_type: op.into(),
            domain: String::new(),
            attribute: attrs,
            ..Default::default()
        });
    }

    fn op(&mut self, op: &str, inputs: &[&str], output: &str, attrs: Vec<AttributeProto>) {
        self.node(op, inputs, &[output], attrs);
    }

    fn f32s(&mut self, name: &str, dims: &[i64], v: Vec<f32>) {
        self.init.push(TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: DataType::Float as i32,
            float_data: v,
            ..Default::default()
        });
    }

    fn i64s(&mut self, name: &str, dims: &[i64], v: Vec<i64>) {
        self.init.push(TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: DataType::Int64 as i32,
            int64_data: v,
            ..Default::default()
        });
    }
}

fn keepdims(v: i64) -> AttributeProto {
    int("keepdims", v)
}
