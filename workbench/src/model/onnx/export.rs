//! [`TreeEnsemble`] → ONNX `ModelProto` bytes, written with tract-onnx's prost types.
//!
//! Split semantics are ours exactly: go left (the ONNX "true" branch) when
//! `value < threshold` (`BRANCH_LT`), follow `missing_left` when the value is NaN.
//! Thresholds are `f32` values of the training data, or `f64::MAX` (written as `+inf`:
//! `x < +inf` holds for every finite `f32` and fails for `+inf`, exactly like
//! `f64::from(x) < f64::MAX`), so comparing in `f32` decides like the native `f64`
//! comparison. Leaf values are `f32` values widened by the trainer, so they are exact too; only
//! the summation (`f32`, another order) differs from the native `f64` sum.

use anyhow::{bail, Context, Result};
use prost::Message;
use tract_onnx::pb::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

use super::meta;
use crate::model::file::ModelFile;
use crate::model::gbdt::TreeEnsemble;
use crate::model::logistic::LogisticModel;

/// ONNX IR version written (onnxruntime ≥ 1.14 and tract read it).
const IR_VERSION: i64 = 8;
/// Default-domain opset.
pub(crate) const OPSET: i64 = 17;
/// `ai.onnx.ml` opset (TreeEnsembleClassifier v3).
const ML_OPSET: i64 = 3;

/// Name of the input.
pub const INPUT: &str = "features";
/// Name of the class output (int64 `[N]`, 1 = attack at probability > 0.5).
pub const OUTPUT_LABEL: &str = "label";
/// Name of the probability output (float `[N, 2]`).
pub const OUTPUT_PROBABILITIES: &str = "probabilities";

/// Which graph [`export`] writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnnxForm {
    /// One `ai.onnx.ml` TreeEnsembleClassifier (portable; slow in tract for big models).
    #[default]
    TreeEnsemble,
    /// Standard operators only: a level-by-level walk of all trees (fast in tract).
    Plain,
}

impl OnnxForm {
    /// The name in `--onnx-form` and in the `workbench.onnx_form` metadata.
    pub fn name(self) -> &'static str {
        match self {
            OnnxForm::TreeEnsemble => "tree_ensemble",
            OnnxForm::Plain => "plain",
        }
    }
}

impl std::str::FromStr for OnnxForm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tree_ensemble" | "tree-ensemble" | "standard" => Ok(OnnxForm::TreeEnsemble),
            "plain" => Ok(OnnxForm::Plain),
            _ => Err(format!(
                "ONNX form must be `tree_ensemble` (standard ai.onnx.ml) or `plain`, got {s:?}"
            )),
        }
    }
}

/// How the trees' leaf values become the attack probability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    /// Gradient boosting: `sigmoid(base_score + Σ leaves)`.
    Logistic,
    /// Random forest: `Σ leaves / number of trees` (leaves are probabilities).
    Average,
    /// `base_score + Σ leaves`, no transform (foreign ensembles with
    /// `post_transform NONE`, converted by [`super::foreign`]).
    Sum,
}

/// The ONNX bytes of a model file, with the file's facts as metadata, in `form` or the
/// one form its kind has (a logistic regression is always the standard-operator graph,
/// recorded as form `plain`); the kind writes the graph (`registry::ModelFileKind`).
pub fn export(model: &ModelFile, form: OnnxForm) -> Result<Vec<u8>> {
    model
        .validate()
        .context("refusing to export an invalid model")?;
    let kind = crate::model::registry::file_kind(model.kind.name())?;
    let form = kind.onnx_form(form);
    let json = |v: &dyn erased::Json| v.json();
    let props = vec![
        (meta::FORMAT, meta::FORMAT_VALUE.to_string()),
        (meta::FORMAT_VERSION, meta::FORMAT_VERSION_VALUE.to_string()),
        (meta::MODEL_KIND, model.kind.name().to_string()),
        (meta::ONNX_FORM, form.name().to_string()),
        (meta::WORKBENCH_VERSION, model.workbench_version.clone()),
        (meta::SCHEMA_FINGERPRINT, model.schema_fingerprint.clone()),
        (meta::SCHEMA_VERSION, model.schema.version.to_string()),
        (meta::FEATURE_NAMES, json(&model.schema.names)?),
        (meta::SCHEMA, json(&model.schema)?),
        (meta::THRESHOLD, json(&model.threshold.value)?),
        (meta::THRESHOLD_INFO, json(&model.threshold)?),
        (meta::WINDOW, json(&model.window)?),
        (meta::TRAINING_DATASETS, json(&model.training.datasets)?),
        (
            meta::TRAINING_DATA_SHA256,
            model.training.data_sha256.clone(),
        ),
        (meta::TRAINING, json(&model.training)?),
    ];
    let props: Vec<(String, String)> = props.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    kind.onnx(model, form, &props)
}

/// JSON of any serialisable value, behind a tiny object-safe trait so [`export`] can
/// list heterogeneous values in one table.
mod erased {
    pub trait Json {
        fn json(&self) -> anyhow::Result<String>;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> anyhow::Result<String> {
            Ok(serde_json::to_string(self)?)
        }
    }
}

/// The ONNX bytes of a boosted ensemble with the given `metadata_props`.
pub fn export_ensemble(
    e: &TreeEnsemble,
    form: OnnxForm,
    metadata: &[(String, String)],
) -> Result<Vec<u8>> {
    export_trees(e, Aggregate::Logistic, form, metadata)
}

/// The ONNX bytes of trees aggregated by `agg`, with the given `metadata_props`.
pub fn export_trees(
    e: &TreeEnsemble,
    agg: Aggregate,
    form: OnnxForm,
    metadata: &[(String, String)],
) -> Result<Vec<u8>> {
    e.validate()
        .context("refusing to export an invalid ensemble")?;
    if e.trees.is_empty() {
        bail!("the ensemble has no trees");
    }
    if e.n_features == 0 {
        bail!("the ensemble reads no features");
    }
    let (nodes, initializers) = match form {
        OnnxForm::TreeEnsemble => (vec![tree_ensemble_node(e, agg)?], Vec::new()),
        OnnxForm::Plain => plain_graph(e, agg)?,
    };
    let what = match agg {
        Aggregate::Logistic => "gbdt",
        Aggregate::Average => "forest",
        Aggregate::Sum => "trees",
    };
    let graph = GraphProto {
        name: format!("workbench_{what}_{}", form.name()),
        node: nodes,
        initializer: initializers,
        input: vec![value_info(
            INPUT,
            DataType::Float,
            &[Dim::Batch, Dim::Fixed(i64::from(e.n_features))],
        )],
        output: vec![
            value_info(OUTPUT_LABEL, DataType::Int64, &[Dim::Batch]),
            value_info(
                OUTPUT_PROBABILITIES,
                DataType::Float,
                &[Dim::Batch, Dim::Fixed(2)],
            ),
        ],
        ..Default::default()
    };
    let mut opset_import = vec![OperatorSetIdProto {
        domain: String::new(),
        version: OPSET,
    }];
    if form == OnnxForm::TreeEnsemble {
        opset_import.push(OperatorSetIdProto {
            domain: "ai.onnx.ml".into(),
            version: ML_OPSET,
        });
    }
    let doc = format!(
        "{} for network intrusion detection ({} trees, {} features); probabilities[:, 1] is the attack probability.",
        match agg {
            Aggregate::Logistic => "Gradient-boosted trees",
            Aggregate::Average => "Random forest",
            Aggregate::Sum => "Tree ensemble",
        },
        e.trees.len(),
        e.n_features
    );
    Ok(model_proto(graph, opset_import, doc, metadata))
}

pub(crate) fn model_proto(
    graph: GraphProto,
    opset_import: Vec<OperatorSetIdProto>,
    doc: String,
    metadata: &[(String, String)],
) -> Vec<u8> {
    let model = ModelProto {
        ir_version: IR_VERSION,
        opset_import,
        producer_name: "workbench".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: doc,
        graph: Some(graph),
        metadata_props: metadata
            .iter()
            .map(|(k, v)| StringStringEntryProto {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
        ..Default::default()
    };
    model.encode_to_vec()
}

/// A logistic regression with standard operators only:
///
/// ```text
/// z = MatMul(Div(Sub(features, mean), scale), coef[k, 1]) + intercept     [N, 1]
/// probabilities = Concat(1 - Sigmoid(z), Sigmoid(z))                        [N, 2]
/// label = Cast(Squeeze(Sigmoid(z)) > 0.5)                                   [N]
/// ```
pub fn export_logistic(l: &LogisticModel, metadata: &[(String, String)]) -> Result<Vec<u8>> {
    l.validate()
        .context("refusing to export an invalid logistic regression")?;
    let k = i64::from(l.n_features);
    let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    let init = vec![
        tensor_f32("mean", &[k], f32s(&l.mean)),
        tensor_f32("scale", &[k], f32s(&l.scale)),
        tensor_f32("coef", &[k, 1], f32s(&l.coef)),
        tensor_f32("intercept", &[1], vec![l.intercept as f32]),
        tensor_f32("one", &[], vec![1.0]),
        tensor_f32("half", &[], vec![0.5]),
        tensor_i64("axis_1", &[1], vec![1]),
    ];
    let nodes = vec![
        node("Sub", &[INPUT, "mean"], &["centred"], vec![]),
        node("Div", &["centred", "scale"], &["standardised"], vec![]),
        node("MatMul", &["standardised", "coef"], &["dot"], vec![]),
        node("Add", &["dot", "intercept"], &["margin"], vec![]),
        node("Sigmoid", &["margin"], &["p1"], vec![]),
        node("Sub", &["one", "p1"], &["p0"], vec![]),
        node(
            "Concat",
            &["p0", "p1"],
            &[OUTPUT_PROBABILITIES],
            vec![attr_int("axis", 1)],
        ),
        node("Squeeze", &["p1", "axis_1"], &["p_attack"], vec![]),
        node("Greater", &["p_attack", "half"], &["is_attack"], vec![]),
        node(
            "Cast",
            &["is_attack"],
            &[OUTPUT_LABEL],
            vec![attr_int("to", DataType::Int64 as i64)],
        ),
    ];
    let graph = GraphProto {
        name: "workbench_logistic".into(),
        node: nodes,
        initializer: init,
        input: vec![value_info(
            INPUT,
            DataType::Float,
            &[Dim::Batch, Dim::Fixed(k)],
        )],
        output: vec![
            value_info(OUTPUT_LABEL, DataType::Int64, &[Dim::Batch]),
            value_info(
                OUTPUT_PROBABILITIES,
                DataType::Float,
                &[Dim::Batch, Dim::Fixed(2)],
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
            "Logistic regression on standardised features for network intrusion detection ({k} features); probabilities[:, 1] is the attack probability."
        ),
        metadata,
    ))
}

/// A tensor dimension: the batch (`N`) or a fixed size.
pub(crate) enum Dim {
    Batch,
    Fixed(i64),
}

pub(crate) fn value_info(name: &str, dt: DataType, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| tensor_shape_proto::Dimension {
            denotation: String::new(),
            value: Some(match d {
                Dim::Batch => tensor_shape_proto::dimension::Value::DimParam("N".into()),
                Dim::Fixed(v) => tensor_shape_proto::dimension::Value::DimValue(*v),
            }),
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            denotation: String::new(),
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: dt as i32,
                shape: Some(TensorShapeProto { dim }),
            })),
        }),
        doc_string: String::new(),
    }
}

pub(crate) fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

pub(crate) fn attr_ints(name: &str, v: Vec<i64>) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: v,
        ..Default::default()
    }
}

fn attr_floats(name: &str, v: Vec<f32>) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Floats as i32,
        floats: v,
        ..Default::default()
    }
}

fn attr_string(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::String as i32,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn attr_strings(name: &str, v: Vec<&str>) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Strings as i32,
        strings: v.into_iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..Default::default()
    }
}

/// A split threshold as the `f32` ONNX compares with (`f64::MAX` and beyond: `+inf`).
fn threshold_f32(t: f64) -> f32 {
    if t > f64::from(f32::MAX) {
        f32::INFINITY
    } else {
        t as f32
    }
}

fn node(op: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        name: outputs
            .first()
            .map(|s| format!("{op}_{s}"))
            .unwrap_or_default(),
        op_type: op.into(),
        domain: String::new(),
        attribute: attrs,
        ..Default::default()
    }
}

/// The standard form: one TreeEnsembleClassifier. Boosted trees: `LOGISTIC` with the
/// base score folded into tree 0. Forests: `NONE` with every leaf divided by the
/// number of trees, so the classifier's sum is the mean.
fn tree_ensemble_node(e: &TreeEnsemble, agg: Aggregate) -> Result<NodeProto> {
    let n_trees = e.trees.len() as f64;
    let n_nodes = e.node_count();
    let mut treeids = Vec::with_capacity(n_nodes);
    let mut nodeids = Vec::with_capacity(n_nodes);
    let mut featureids = Vec::with_capacity(n_nodes);
    let mut modes = Vec::with_capacity(n_nodes);
    let mut values = Vec::with_capacity(n_nodes);
    let mut trueids = Vec::with_capacity(n_nodes);
    let mut falseids = Vec::with_capacity(n_nodes);
    let mut missing_true = Vec::with_capacity(n_nodes);
    let (mut c_tree, mut c_node, mut c_weight) = (Vec::new(), Vec::new(), Vec::new());
    for (ti, t) in e.trees.iter().enumerate() {
        for (ni, n) in t.nodes.iter().enumerate() {
            treeids.push(ti as i64);
            nodeids.push(ni as i64);
            if n.leaf {
                featureids.push(0);
                modes.push("LEAF");
                values.push(0.0);
                trueids.push(0);
                falseids.push(0);
                missing_true.push(0);
                // The base score is folded into tree 0 (tract refuses 2 base_values,
                // and one base value means different things to different runtimes).
                let w = match agg {
                    Aggregate::Logistic if ti == 0 => n.leaf_value + e.base_score,
                    Aggregate::Logistic => n.leaf_value,
                    Aggregate::Average => n.leaf_value / n_trees,
                    Aggregate::Sum if ti == 0 => n.leaf_value + e.base_score,
                    Aggregate::Sum => n.leaf_value,
                };
                c_tree.push(ti as i64);
                c_node.push(ni as i64);
                c_weight.push(w as f32);
            } else {
                featureids.push(i64::from(n.feature));
                modes.push("BRANCH_LT");
                values.push(threshold_f32(n.threshold));
                trueids.push(i64::from(n.left));
                falseids.push(i64::from(n.right));
                missing_true.push(i64::from(n.missing_left));
            }
        }
    }
    let n_leaves = c_tree.len();
    Ok(NodeProto {
        input: vec![INPUT.into()],
        output: vec![OUTPUT_LABEL.into(), OUTPUT_PROBABILITIES.into()],
        name: "TreeEnsembleClassifier".into(),
        op_type: "TreeEnsembleClassifier".into(),
        domain: "ai.onnx.ml".into(),
        attribute: vec![
            attr_ints("classlabels_int64s", vec![0, 1]),
            attr_ints("class_ids", vec![0; n_leaves]),
            attr_ints("class_nodeids", c_node),
            attr_ints("class_treeids", c_tree),
            attr_floats("class_weights", c_weight),
            attr_ints("nodes_falsenodeids", falseids),
            attr_ints("nodes_featureids", featureids),
            attr_ints("nodes_missing_value_tracks_true", missing_true),
            attr_strings("nodes_modes", modes),
            attr_ints("nodes_nodeids", nodeids),
            attr_ints("nodes_treeids", treeids),
            attr_ints("nodes_truenodeids", trueids),
            attr_floats("nodes_values", values),
            attr_string(
                "post_transform",
                match agg {
                    Aggregate::Logistic => "LOGISTIC",
                    Aggregate::Average | Aggregate::Sum => "NONE",
                },
            ),
        ],
        ..Default::default()
    })
}

fn tensor_i64(name: &str, dims: &[i64], v: Vec<i64>) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Int64 as i32,
        int64_data: v,
        ..Default::default()
    }
}

fn tensor_f32(name: &str, dims: &[i64], v: Vec<f32>) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Float as i32,
        float_data: v,
        ..Default::default()
    }
}

fn tensor_bool(name: &str, dims: &[i64], v: Vec<bool>) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Bool as i32,
        int32_data: v.into_iter().map(i32::from).collect(),
        ..Default::default()
    }
}

/// The plain-operator form. All nodes of all trees are flattened into tables indexed by
/// a global node number; a leaf points to itself, so after as many steps as the
/// deepest tree every row sits on a leaf of every tree:
///
/// ```text
/// x0  = Gather(features, root_feature, axis 1)                    [N, T]
/// idx = Where((IsNaN(x0) and root_missing_left) or x0 < root_threshold,
///             root_left, root_right)
/// repeat depth-1 times:
///   x   = GatherElements(features, Gather(feature, idx), axis 1)
///   idx = Where((IsNaN(x) and Gather(missing_left, idx)) or x < Gather(threshold, idx),
///               Gather(left, idx), Gather(right, idx))
/// p = Sigmoid(ReduceSum(Gather(leaf_value, idx), axis 1) + base_score)
/// ```
fn plain_graph(e: &TreeEnsemble, agg: Aggregate) -> Result<(Vec<NodeProto>, Vec<TensorProto>)> {
    let t_count = e.trees.len();
    let m = e.node_count();
    let mut feature = Vec::with_capacity(m);
    let mut threshold = Vec::with_capacity(m);
    let mut missing = Vec::with_capacity(m);
    let mut left = Vec::with_capacity(m);
    let mut right = Vec::with_capacity(m);
    let mut value = Vec::with_capacity(m);
    let mut roots = Vec::with_capacity(t_count);
    let mut levels = 1usize;
    for t in &e.trees {
        let start = feature.len() as i64;
        roots.push(start);
        let mut depth = vec![0usize; t.nodes.len()];
        for (ni, n) in t.nodes.iter().enumerate() {
            let g = start + ni as i64;
            if n.leaf {
                feature.push(0i64);
                threshold.push(0f32);
                missing.push(false);
                left.push(g);
                right.push(g);
                value.push(n.leaf_value as f32);
            } else {
                let here = depth[ni];
                for c in [n.left, n.right] {
                    // validate() guarantees children after parents and in range.
                    if let Some(d) = depth.get_mut(c as usize) {
                        *d = here + 1;
                    }
                }
                levels = levels.max(depth[ni] + 1);
                feature.push(i64::from(n.feature));
                threshold.push(threshold_f32(n.threshold));
                missing.push(n.missing_left);
                left.push(start + i64::from(n.left));
                right.push(start + i64::from(n.right));
                value.push(0.0);
            }
        }
    }
    // Pad the tree count to a multiple of 16 with empty trees (one leaf of value 0):
    // every row of the [N, T] leaf table then starts 64-byte aligned, so tract's SIMD
    // sum adds each row in the same order wherever it sits in a batch (unpadded,
    // ~0.1% of rows differed in the last bit between batched and row-by-row runs).
    for _ in 0..(16 - t_count % 16) % 16 {
        let g = feature.len() as i64;
        roots.push(g);
        feature.push(0);
        threshold.push(0.0);
        missing.push(false);
        left.push(g);
        right.push(g);
        value.push(0.0);
    }
    let _ = m;
    let root = |v: &[i64]| roots.iter().map(|&r| v[r as usize]).collect::<Vec<_>>();
    let (mi, ti) = (feature.len() as i64, roots.len() as i64);
    let mut init = vec![
        tensor_i64("root_feature", &[ti], root(&feature)),
        tensor_f32(
            "root_threshold",
            &[ti],
            roots.iter().map(|&r| threshold[r as usize]).collect(),
        ),
        tensor_bool(
            "root_missing_left",
            &[ti],
            roots.iter().map(|&r| missing[r as usize]).collect(),
        ),
        tensor_i64("root_left", &[ti], root(&left)),
        tensor_i64("root_right", &[ti], root(&right)),
    ];
    init.extend([
        tensor_i64("node_feature", &[mi], feature),
        tensor_f32("node_threshold", &[mi], threshold),
        tensor_bool("node_missing_left", &[mi], missing),
        tensor_i64("node_left", &[mi], left),
        tensor_i64("node_right", &[mi], right),
        tensor_f32("leaf_value", &[mi], value),
        tensor_f32("base_score", &[], vec![e.base_score as f32]),
        tensor_f32("inv_trees", &[], vec![(1.0 / t_count as f64) as f32]),
        tensor_f32("one", &[], vec![1.0]),
        tensor_f32("half", &[], vec![0.5]),
        tensor_i64("axis_1", &[1], vec![1]),
    ]);
    let axis1 = || vec![attr_int("axis", 1)];
    let mut g = vec![
        node("Gather", &[INPUT, "root_feature"], &["x_0"], axis1()),
        node("Less", &["x_0", "root_threshold"], &["lt_0"], vec![]),
        node("IsNaN", &["x_0"], &["nan_0"], vec![]),
        // lt is false for NaN, so go_left = (NaN and missing_left) or lt. (Where on
        // booleans would be shorter but onnxruntime has no bool Where kernel.)
        node(
            "And",
            &["nan_0", "root_missing_left"],
            &["nan_left_0"],
            vec![],
        ),
        node("Or", &["nan_left_0", "lt_0"], &["go_left_0"], vec![]),
        node(
            "Where",
            &["go_left_0", "root_left", "root_right"],
            &["idx_1"],
            vec![],
        ),
    ];
    for d in 1..levels {
        let n = |s: &str| format!("{s}_{d}");
        let (idx, next) = (n("idx"), format!("idx_{}", d + 1));
        let nl = n("nan_left");
        let (f, x, thr, lt, nan, miss, gl, l, r) = (
            n("feature"),
            n("x"),
            n("threshold"),
            n("lt"),
            n("nan"),
            n("missing_left"),
            n("go_left"),
            n("left"),
            n("right"),
        );
        g.extend([
            node("Gather", &["node_feature", &idx], &[&f], vec![]),
            node("GatherElements", &[INPUT, &f], &[&x], axis1()),
            node("Gather", &["node_threshold", &idx], &[&thr], vec![]),
            node("Less", &[&x, &thr], &[&lt], vec![]),
            node("IsNaN", &[&x], &[&nan], vec![]),
            node("Gather", &["node_missing_left", &idx], &[&miss], vec![]),
            node("And", &[&nan, &miss], &[&nl], vec![]),
            node("Or", &[&nl, &lt], &[&gl], vec![]),
            node("Gather", &["node_left", &idx], &[&l], vec![]),
            node("Gather", &["node_right", &idx], &[&r], vec![]),
            node("Where", &[&gl, &l, &r], &[&next], vec![]),
        ]);
    }
    let last = format!("idx_{levels}");
    g.extend([
        node("Gather", &["leaf_value", &last], &["leaves"], vec![]),
        node(
            "ReduceSum",
            &["leaves", "axis_1"],
            &["tree_sum"],
            vec![attr_int("keepdims", 0)],
        ),
        match agg {
            Aggregate::Logistic => node("Add", &["tree_sum", "base_score"], &["margin"], vec![]),
            Aggregate::Average => node("Add", &["tree_sum", "base_score"], &["leaf_sum"], vec![]),
            Aggregate::Sum => node("Add", &["tree_sum", "base_score"], &["p_attack"], vec![]),
        },
        match agg {
            Aggregate::Logistic => node("Sigmoid", &["margin"], &["p_attack"], vec![]),
            Aggregate::Average => node("Mul", &["leaf_sum", "inv_trees"], &["p_attack"], vec![]),
            // Already the probability: an Identity keeps the node list uniform.
            Aggregate::Sum => node("Identity", &["p_attack"], &["p_attack_sum"], vec![]),
        },
        node("Unsqueeze", &["p_attack", "axis_1"], &["p1"], vec![]),
        node("Sub", &["one", "p1"], &["p0"], vec![]),
        node(
            "Concat",
            &["p0", "p1"],
            &[OUTPUT_PROBABILITIES],
            vec![attr_int("axis", 1)],
        ),
        node("Greater", &["p_attack", "half"], &["is_attack"], vec![]),
        node(
            "Cast",
            &["is_attack"],
            &[OUTPUT_LABEL],
            vec![attr_int("to", DataType::Int64 as i64)],
        ),
    ]);
    Ok((g, init))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::gbdt::{Node, Tree};

    #[test]
    fn forms_parse_and_thresholds_map_to_f32() {
        assert_eq!("plain".parse::<OnnxForm>(), Ok(OnnxForm::Plain));
        assert_eq!(
            "tree_ensemble".parse::<OnnxForm>(),
            Ok(OnnxForm::TreeEnsemble)
        );
        assert!("x".parse::<OnnxForm>().is_err());
        assert_eq!(threshold_f32(f64::MAX), f32::INFINITY);
        assert_eq!(threshold_f32(1.5), 1.5);
    }

    #[test]
    fn export_decodes_back() {
        let leaf = Node::test_leaf;
        let e = TreeEnsemble {
            n_features: 2,
            base_score: 0.25,
            trees: vec![Tree {
                nodes: vec![
                    Node {
                        leaf: false,
                        feature: 1,
                        threshold: 3.0,
                        left: 1,
                        right: 2,
                        missing_left: true,
                        ..leaf(0.0)
                    },
                    leaf(-1.0),
                    leaf(2.0),
                ],
            }],
        };
        for form in [OnnxForm::TreeEnsemble, OnnxForm::Plain] {
            let bytes = export_ensemble(&e, form, &[("k".to_string(), "v".to_string())]).unwrap();
            let m = ModelProto::decode(bytes.as_slice()).unwrap();
            assert_eq!(m.metadata_props[0].key, "k");
            let g = m.graph.unwrap();
            assert_eq!(g.input[0].name, INPUT);
            assert_eq!(g.output[1].name, OUTPUT_PROBABILITIES);
        }
    }
}
