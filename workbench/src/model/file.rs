//! Model files (`*.wbm.json`): a trained ensemble with everything needed to use it
//! safely — the feature schema it expects, the window settings, the decision threshold
//! and how it was chosen, where the training data came from (name and hash), the
//! training parameters and the workbench version. Nothing time-dependent is stored, so
//! training twice with the same seed writes the same bytes.
//!
//! Loading validates the whole file; scoring rows of another schema is refused with
//! both fingerprints named.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::forest::ForestParams;
use super::gbdt::{FitInfo, GbdtParams};
use super::logistic::{LogisticFit, LogisticModel};
use super::registry;
use super::split::SplitConfig;
use super::tree::{FeatureImportance, TreeEnsemble};
use crate::engine::{FeatureSchema, WindowConfig};
use crate::eval::scorer::Scorer;

/// File name suffix of model files.
pub const MODEL_SUFFIX: &str = ".wbm.json";
/// The `format` field of every model file.
pub const FORMAT: &str = "workbench-model";
/// Bumped when the file layout changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;

/// What kind of model a file holds: the name of the algorithm that trained it (see
/// [`super::registry`]). Each kind keeps its payload in its own optional field (absent
/// for other kinds), so adding a kind never changes an older file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ModelKind(pub Cow<'static, str>);

impl ModelKind {
    /// Gradient-boosted trees ([`TreeEnsemble`] in `ensemble`; margins summed, then the
    /// logistic sigmoid).
    pub const GBDT: ModelKind = ModelKind(Cow::Borrowed("gbdt"));
    /// Random forest (`ensemble` with base score 0 and leaf values that are attack
    /// probabilities; the score is their mean over trees).
    pub const FOREST: ModelKind = ModelKind(Cow::Borrowed("forest"));
    /// Logistic regression on standardised features (`logistic`).
    pub const LOGISTIC: ModelKind = ModelKind(Cow::Borrowed("logistic"));

    /// The snake_case name (`--algo` value, ONNX metadata).
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The decision threshold and how it was chosen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// Alert when `score >= value`.
    pub value: f64,
    /// The false-positive budget it was chosen for.
    pub target_fpr: f64,
    /// The split it was chosen on (always `validation`: never the test rows).
    pub chosen_on: String,
    /// Which of that split's benign windows the false-positive rate is over: `all`, or
    /// `captured_two_way` (windows of captured traffic whose host sent and received;
    /// see `train --help`). Absent in files written before it was recorded (`all`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negatives: Option<String>,
    /// True and false positive rates on that split at `value`.
    pub tpr: f64,
    pub fpr: f64,
}

/// How the rows were split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitInfo {
    /// `time` (one dataset, cut by window end) or `cross_dataset`.
    pub mode: String,
    /// Shares of the training dataset's time-ordered rows.
    pub shares: SplitConfig,
    /// Rows whose window overlapped the previous split were dropped up to this long
    /// after it, seconds.
    pub purge_gap_s: f64,
}

/// Rows and positives of each split.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowCounts {
    pub train: u64,
    pub train_positives: u64,
    pub validation: u64,
    pub validation_positives: u64,
    pub test: u64,
    pub test_positives: u64,
    /// Dropped by the purge gaps.
    pub purged: u64,
    /// Left over after train and validation (cross-dataset mode with shares < 1).
    pub unused: u64,
}

/// Where the model came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingInfo {
    /// The training dataset(s) (train and validation rows).
    pub datasets: Vec<String>,
    /// The test dataset in cross-dataset mode.
    pub test_dataset: Option<String>,
    /// sha256 over the train and validation rows (window end, host, label, `f32`
    /// values, in split order, after the schema fingerprint).
    pub data_sha256: String,
    pub split: SplitInfo,
    pub rows: RowCounts,
    /// GBDT training parameters as given (kind `gbdt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<GbdtParams>,
    /// What GBDT fitting did (trees, positive weight, validation loss per round).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<FitInfo>,
    /// PR-AUC of the model on the validation split.
    pub validation_pr_auc: Option<f64>,
    /// Random forest parameters (kind `forest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forest: Option<ForestParams>,
    /// Logistic regression parameters and fit (kind `logistic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logistic: Option<LogisticFit>,
    /// Parameters and fit of an algorithm without a field of its own above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// A model file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    pub kind: ModelKind,
    /// The workbench version that trained it.
    pub workbench_version: String,
    /// The schema fingerprint rows must have ([`FeatureSchema::fingerprint`]).
    pub schema_fingerprint: String,
    /// The schema itself (names, units, version, widths).
    pub schema: FeatureSchema,
    /// The window settings the features were computed with.
    pub window: WindowConfig,
    pub threshold: Threshold,
    pub training: TrainingInfo,
    /// Per feature, most important first: total split gain for trees, |coefficient|
    /// of the standardised column for logistic regression.
    pub feature_importance: Vec<FeatureImportance>,
    /// The trees (kinds `gbdt` and `forest`; absent from files of other kinds).
    #[serde(default = "no_trees", skip_serializing_if = "has_no_trees")]
    pub ensemble: TreeEnsemble,
    /// The logistic regression (kind `logistic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logistic: Option<LogisticModel>,
    /// The payload of an algorithm that is neither trees nor `logistic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
}

/// The `kind` field of a model file's JSON, if it has one.
pub fn peek_kind(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Kind {
        kind: Option<String>,
    }
    serde_json::from_slice::<Kind>(bytes)
        .ok()
        .and_then(|k| k.kind)
}

/// Checks a tree payload: trees and no `logistic`; returns the features the trees read.
pub fn tree_payload_features(m: &ModelFile) -> Result<u32> {
    if m.logistic.is_some() || m.payload.is_some() {
        bail!(
            "a {} model must hold trees in `ensemble` and no `logistic`",
            m.kind
        );
    }
    Ok(m.ensemble.n_features)
}

/// The `ensemble` of a model without trees.
pub fn no_trees() -> TreeEnsemble {
    TreeEnsemble {
        n_features: 0,
        base_score: 0.0,
        trees: Vec::new(),
    }
}

fn has_no_trees(e: &TreeEnsemble) -> bool {
    e.trees.is_empty()
}

/// The name a model gets in reports: its file name without [`MODEL_SUFFIX`].
pub fn model_name(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    file.strip_suffix(MODEL_SUFFIX)
        .map(str::to_string)
        .unwrap_or(file)
}

impl ModelFile {
    /// Checks everything a loaded file must satisfy.
    pub fn validate(&self) -> Result<()> {
        check_header(
            &self.format,
            self.format_version,
            &self.schema,
            &self.schema_fingerprint,
        )?;
        let kind = registry::file_kind(self.kind.name())?;
        let n_features = kind.n_features(self)?;
        if n_features as usize != self.schema.len() {
            bail!(
                "the model reads {n_features} features but the schema has {}",
                self.schema.len()
            );
        }
        if self.window.widths_s != self.schema.widths_s {
            bail!(
                "window widths {:?} differ from the schema's {:?}",
                self.window.widths_s,
                self.schema.widths_s
            );
        }
        self.window
            .validate()
            .context("the stored window settings are invalid")?;
        if !self.threshold.value.is_finite() {
            bail!("the threshold is {}", self.threshold.value);
        }
        kind.validate(self)
    }

    /// The native attack probability of a row (schema order), whatever the kind (NaN for
    /// a kind this build does not know).
    pub fn predict_proba(&self, row: &[f32]) -> f64 {
        registry::file_kind(self.kind.name()).map_or(f64::NAN, |k| k.proba(self, row))
    }

    /// The scorer of this (validated) file, named `name` in reports.
    pub fn scorer(&self, name: String) -> Result<Box<dyn Scorer>> {
        registry::file_kind(self.kind.name())?.scorer(name, self)
    }

    /// Refuses to score rows of another schema, naming both.
    pub fn check_schema(&self, engine: &FeatureSchema) -> Result<()> {
        check_same_schema(&self.schema, &self.schema_fingerprint, engine)
    }

    /// Reads and validates a model file.
    pub fn load(path: &Path) -> Result<ModelFile> {
        load_validated(path, "model", ModelFile::validate)
    }

    /// The file's bytes (pretty JSON, trailing newline).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        pretty_bytes(self)
    }

    /// Validates and writes the file atomically (a temporary file in the same
    /// directory, synced, then renamed over `path`).
    pub fn save(&self, path: &Path) -> Result<()> {
        save_validated(path, self.validate(), || self.to_bytes())
    }
}

/// The header checks every kind of model file gets: format, version, and a schema that
/// matches its fingerprint.
pub(crate) fn check_header(
    format: &str,
    format_version: u32,
    schema: &FeatureSchema,
    schema_fingerprint: &str,
) -> Result<()> {
    if format != FORMAT {
        bail!("not a workbench model (format {format:?})");
    }
    if format_version != FORMAT_VERSION {
        bail!(
            "model file format version {format_version} is not supported (this workbench reads version {FORMAT_VERSION})"
        );
    }
    let fp = schema.fingerprint();
    if fp != schema_fingerprint {
        bail!(
            "the file is inconsistent: its schema_fingerprint {schema_fingerprint} does not match its feature names (fingerprint {fp}); it was edited or damaged"
        );
    }
    if schema.units.len() != schema.names.len() {
        bail!(
            "the schema has {} names but {} units",
            schema.names.len(),
            schema.units.len()
        );
    }
    Ok(())
}

/// Refuses to score rows of another schema than the model's (`trained`, whose
/// fingerprint is `fingerprint`), naming both.
pub(crate) fn check_same_schema(
    trained: &FeatureSchema,
    fingerprint: &str,
    engine: &FeatureSchema,
) -> Result<()> {
    let theirs = engine.fingerprint();
    if trained.version != engine.version {
        bail!(
            "the model was trained on feature schema version {} ({fingerprint}, {} columns) but this workbench computes version {} ({theirs}, {} columns): the features differ, not only the windows; retrain the model with this workbench",
            trained.version,
            trained.len(),
            engine.version,
            engine.len()
        );
    }
    if theirs != fingerprint {
        bail!(
            "the model was trained on feature schema {} ({} columns, windows {:?} s) but the engine computes schema {} ({} columns, windows {:?} s); evaluate with the model's window settings (--window {}) or retrain it",
            fingerprint,
            trained.len(),
            trained.widths_s,
            theirs,
            engine.len(),
            engine.widths_s,
            trained
                .widths_s
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
    }
    Ok(())
}

/// Reads a model file (`what`: `model`, `unsupervised model`) and validates it.
pub(crate) fn load_validated<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
    validate: impl FnOnce(&T) -> Result<()>,
) -> Result<T> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading model file {}", path.display()))?;
    let m: T = serde_json::from_slice(&bytes)
        .with_context(|| format!("model file {} is not a valid {what}", path.display()))?;
    validate(&m).with_context(|| format!("model file {}", path.display()))?;
    Ok(m)
}

/// A model file's bytes: pretty JSON and a trailing newline.
pub(crate) fn pretty_bytes<T: Serialize>(model: &T) -> Result<Vec<u8>> {
    let mut v = serde_json::to_vec_pretty(model)?;
    v.push(b'\n');
    Ok(v)
}

/// Writes a model file atomically if it is named `*.wbm.json` and `valid` is Ok.
pub(crate) fn save_validated(
    path: &Path,
    valid: Result<()>,
    bytes: impl FnOnce() -> Result<Vec<u8>>,
) -> Result<()> {
    if !path.to_string_lossy().ends_with(MODEL_SUFFIX) {
        bail!(
            "{}: model files must be named *{MODEL_SUFFIX} (that is how --model recognises them)",
            path.display()
        );
    }
    valid.context("refusing to write an invalid model")?;
    write_atomic(path, &bytes()?)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so readers never
/// see a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let file_name = path
        .file_name()
        .with_context(|| format!("{}: not a file path", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        let mut f =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.sync_all()
            .with_context(|| format!("syncing {}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

impl ModelFile {
    /// A file of `kind` with the training run's facts and no payload yet.
    pub fn from_facts(
        kind: ModelKind,
        facts: super::trainer::FileFacts,
        feature_importance: Vec<FeatureImportance>,
    ) -> ModelFile {
        ModelFile {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            kind,
            workbench_version: env!("CARGO_PKG_VERSION").into(),
            schema_fingerprint: facts.schema.fingerprint(),
            schema: facts.schema,
            window: facts.window,
            threshold: facts.threshold,
            training: TrainingInfo {
                datasets: facts.datasets,
                test_dataset: facts.test_dataset,
                data_sha256: facts.data_sha256,
                split: facts.split,
                rows: facts.rows,
                params: None,
                fit: None,
                validation_pr_auc: facts.validation_pr_auc,
                forest: None,
                logistic: None,
                details: None,
            },
            feature_importance,
            ensemble: no_trees(),
            logistic: None,
            payload: None,
        }
    }

    /// Saves the file and reads it back; refused unless it reads back equal.
    pub fn save_and_reload(self, path: &Path) -> Result<Box<dyn super::trainer::SavedModel>> {
        self.save(path)?;
        let loaded = ModelFile::load(path)?;
        if loaded != self {
            bail!(
                "model file {} does not read back as it was written",
                path.display()
            );
        }
        Ok(Box::new(loaded))
    }
}

impl super::trainer::SavedModel for ModelFile {
    fn kind(&self) -> &str {
        self.kind.name()
    }

    fn threshold(&self) -> &Threshold {
        &self.threshold
    }

    fn scorer(&self, name: String) -> Result<Box<dyn Scorer>> {
        ModelFile::scorer(self, name)
    }

    fn training_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.training).unwrap_or(serde_json::Value::Null)
    }

    fn onnx(&self, form: super::onnx::OnnxForm) -> Result<(super::onnx::OnnxForm, Vec<u8>)> {
        let written = registry::file_kind(self.kind.name())?.onnx_form(form);
        Ok((written, super::onnx::export(self, form)?))
    }

    fn proba(&self, row: &[f32]) -> f64 {
        self.predict_proba(row)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_drop_the_suffix() {
        assert_eq!(model_name(Path::new("m/gbdt.wbm.json")), "gbdt");
        assert_eq!(model_name(Path::new("x.json")), "x.json");
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/a.wbm.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
