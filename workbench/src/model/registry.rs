//! The algorithms and scorers `--algo` and `--model` name.
//!
//! Adding a learning algorithm is one new file under `model/` (a [`Trainer`] and, for
//! files in the shared [`ModelFile`] layout, a [`ModelFileKind`]) plus one line in
//! [`ALGORITHMS`]. `--model` values resolve here too: the seeds' baselines, the shipped
//! model, model files by their `kind`, and ONNX models.

use std::path::Path;

use anyhow::{bail, Result};

use super::file::{peek_kind, ModelFile, MODEL_SUFFIX};
use super::onnx::{OnnxForm, OnnxOptions, OnnxScorer, ONNX_SUFFIX};
use super::trainer::Trainer;
use super::{forest, gbdt, logistic, shipped, unsupervised};
use crate::engine::FeatureSchema;
use crate::eval::baselines::{FormulaScorer, RulesScorer};
use crate::eval::scorer::Scorer;

/// One learning algorithm.
pub struct Algorithm {
    /// The `--algo` value, and the `kind` of its model files.
    pub name: &'static str,
    /// Other `--algo` values that select it.
    pub aliases: &'static [&'static str],
    /// One line for `train --help` and errors.
    pub about: &'static str,
    /// Learns from labels (false: from benign windows only).
    pub supervised: bool,
    pub trainer: &'static dyn Trainer,
    /// How its files are read.
    pub file: FileKind,
}

/// How an algorithm's model files are stored.
pub enum FileKind {
    /// In the shared [`ModelFile`] layout (trees in `ensemble`, or `logistic`).
    Shared(&'static dyn ModelFileKind),
    /// In a file struct of its own; the function loads one as a scorer for rows of the
    /// schema (refusing another schema), named by its file name.
    Own(fn(&Path, &FeatureSchema) -> Result<Box<dyn Scorer>>),
}

/// What the shared model file layout needs from an algorithm.
pub trait ModelFileKind: Sync {
    /// Checks the payload's shape (the right field is present, no other) and returns
    /// how many features it reads.
    fn n_features(&self, m: &ModelFile) -> Result<u32>;
    /// Checks the payload in depth (after the header, schema, window and threshold).
    fn validate(&self, m: &ModelFile) -> Result<()>;
    /// The attack probability of a row (schema order, `f32` as trained).
    fn proba(&self, m: &ModelFile, row: &[f32]) -> f64;
    /// The scorer of a validated file, named `name` in reports.
    fn scorer(&self, name: String, m: &ModelFile) -> Result<Box<dyn Scorer>>;
    /// The ONNX form written when `asked` is asked for (an algorithm with one graph
    /// answers that one).
    fn onnx_form(&self, asked: OnnxForm) -> OnnxForm {
        asked
    }
    /// The ONNX graph of the payload in `form` (as [`Self::onnx_form`] chose), with
    /// `metadata` as the model's properties.
    fn onnx(&self, m: &ModelFile, form: OnnxForm, metadata: &[(String, String)])
        -> Result<Vec<u8>>;
}

/// Every algorithm `workbench train --algo` knows, in `--help` order.
pub static ALGORITHMS: &[Algorithm] = &[
    gbdt::ALGORITHM,
    forest::ALGORITHM,
    logistic::ALGORITHM,
    unsupervised::ALGORITHM,
];

/// The algorithm `--algo name` selects (by name or alias).
pub fn algorithm(name: &str) -> Option<&'static Algorithm> {
    ALGORITHMS
        .iter()
        .find(|a| a.name == name || a.aliases.contains(&name))
}

/// The shared-layout handler of a model file's `kind`.
pub fn file_kind(kind: &str) -> Result<&'static dyn ModelFileKind> {
    match ALGORITHMS.iter().find(|a| a.name == kind).map(|a| &a.file) {
        Some(FileKind::Shared(k)) => Ok(*k),
        Some(FileKind::Own(_)) => bail!("kind {kind:?} is not stored as a shared model file"),
        None => bail!(
            "unknown model kind {kind:?} (known: {})",
            ALGORITHMS
                .iter()
                .map(|a| a.name)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Builds a scorer from a `--model` value: `rules`, `formula`, a model file written by
/// `workbench train` (`*.wbm.json`), or an ONNX model (`*.onnx`, written by
/// `workbench train --export onnx`); both model kinds are checked against `schema`.
/// ONNX models run with tract unless `WORKBENCH_ONNX_ENGINE=ort` (see
/// [`super::onnx::infer`]); models without workbench metadata are refused.
pub fn scorer_for(model: &str, schema: &FeatureSchema) -> Result<Box<dyn Scorer>> {
    scorer_for_with(model, schema, &OnnxOptions::from_env()?)
}

/// [`scorer_for`] with explicit ONNX options (`--foreign-model` sets `allow_foreign`).
pub fn scorer_for_with(
    model: &str,
    schema: &FeatureSchema,
    onnx: &OnnxOptions,
) -> Result<Box<dyn Scorer>> {
    match model {
        "rules" => Ok(Box::new(RulesScorer::new(schema)?)),
        "formula" => Ok(Box::new(FormulaScorer::new(schema)?)),
        // The model shipped in models/ and compiled into the binary (model/shipped.rs).
        shipped::DEFAULT_MODEL_NAME => shipped::default_scorer(schema),
        other if other.ends_with(MODEL_SUFFIX) => load_scorer(Path::new(other), schema),
        other if other.ends_with(ONNX_SUFFIX) => Ok(Box::new(OnnxScorer::load_with(
            Path::new(other),
            schema,
            onnx,
        )?)),
        other => bail!(
            "unknown model {other:?}: use rules, formula, default (the shipped model), a model file (*.wbm.json) or an ONNX model (*.onnx) written by `workbench train`"
        ),
    }
}

/// Loads a model file and builds its scorer for rows of `schema` (refused when the
/// model was trained on another schema).
pub fn load_scorer(path: &Path, schema: &FeatureSchema) -> Result<Box<dyn Scorer>> {
    // Algorithms with a file struct of their own say so in the same `kind` field.
    if let Ok(bytes) = std::fs::read(path) {
        if let Some(kind) = peek_kind(&bytes) {
            if let Some(FileKind::Own(load)) = algorithm(&kind).map(|a| &a.file) {
                return load(path, schema);
            }
        }
    }
    let m = ModelFile::load(path)?;
    m.check_schema(schema)
        .map_err(|e| anyhow::anyhow!("model file {}: {e}", path.display()))?;
    m.scorer(super::file::model_name(path))
}
