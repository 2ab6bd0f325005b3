//! ONNX export and inference for our tree ensembles.
//!
//! [`export`] writes a [`super::ModelFile`]'s ensemble as an ONNX model in one of two
//! [`OnnxForm`]s, both with input `features` (float `[N, n_features]`) and outputs
//! `label` (int64 `[N]`) and `probabilities` (float `[N, 2]`, column 1 = attack):
//!
//! - [`OnnxForm::TreeEnsemble`] (the default): one standard `ai.onnx.ml`
//!   `TreeEnsembleClassifier` in the layout that loads identically in onnxruntime and
//!   tract (class ids all 0, class labels `[0, 1]`, `LOGISTIC`, the base score folded
//!   into tree 0's leaves, no `base_values`, `BRANCH_LT` with missing-value tracking).
//!   Portable to any ONNX-ML runtime, but slow in tract for large ensembles.
//! - [`OnnxForm::Plain`]: standard operators only (Gather, GatherElements, Less, IsNaN,
//!   And, Or, Where, ReduceSum, Sigmoid): all trees are walked in parallel one level per step
//!   over flattened node tables, with NaN routed explicitly (`IsNaN` and the
//!   node's missing direction), never through arithmetic.
//!   Fast in tract and in onnxruntime.
//!
//! Both give the native [`super::TreeEnsemble::predict_proba`] up to `f32` summation.
//!
//! Every exported model carries the model file's facts as `metadata_props` (keys in
//! [`meta`]); [`infer::OnnxScorer`] refuses a model whose schema fingerprint is not the
//! engine's, or one without our metadata unless foreign models are allowed.

pub mod export;
pub mod foreign;
pub mod infer;

pub use export::{export, export_ensemble, export_logistic, export_trees, Aggregate, OnnxForm};
pub use infer::{OnnxEngine, OnnxOptions, OnnxScorer};

/// File name suffix of ONNX models.
pub const ONNX_SUFFIX: &str = ".onnx";

/// `metadata_props` keys written by [`export`].
pub mod meta {
    /// Always [`FORMAT_VALUE`].
    pub const FORMAT: &str = "workbench.format";
    pub const FORMAT_VALUE: &str = "workbench-onnx";
    /// Version of this metadata layout ([`FORMAT_VERSION_VALUE`]).
    pub const FORMAT_VERSION: &str = "workbench.format_version";
    pub const FORMAT_VERSION_VALUE: &str = "1";
    /// `gbdt`.
    pub const MODEL_KIND: &str = "workbench.model_kind";
    /// `tree_ensemble` or `plain` ([`super::OnnxForm::name`]).
    pub const ONNX_FORM: &str = "workbench.onnx_form";
    /// The workbench version that trained the model.
    pub const WORKBENCH_VERSION: &str = "workbench.version";
    /// [`crate::engine::FeatureSchema::fingerprint`] of the training rows.
    pub const SCHEMA_FINGERPRINT: &str = "workbench.schema_fingerprint";
    /// The schema version (integer).
    pub const SCHEMA_VERSION: &str = "workbench.schema_version";
    /// JSON array of the feature names, in input column order.
    pub const FEATURE_NAMES: &str = "workbench.feature_names";
    /// JSON of the whole [`crate::engine::FeatureSchema`] (names, units, widths).
    pub const SCHEMA: &str = "workbench.schema";
    /// The decision threshold on `probabilities[:, 1]` (decimal, round-trips).
    pub const THRESHOLD: &str = "workbench.threshold";
    /// JSON of the model file's `threshold` object (value, target FPR, TPR, FPR).
    pub const THRESHOLD_INFO: &str = "workbench.threshold_info";
    /// JSON of the [`crate::engine::WindowConfig`] the features were computed with.
    pub const WINDOW: &str = "workbench.window";
    /// JSON array of the training dataset names.
    pub const TRAINING_DATASETS: &str = "workbench.training_datasets";
    /// sha256 (hex) of the training and validation rows.
    pub const TRAINING_DATA_SHA256: &str = "workbench.training_data_sha256";
    /// JSON of the model file's `training` object (split, rows, params, fit).
    pub const TRAINING: &str = "workbench.training";
}
