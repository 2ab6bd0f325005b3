//! `--algo unsupervised` (alias `ensemble`): the same collect → split → fit → threshold
//! on validation → save → reload → evaluate as the supervised algorithms, except that
//! fitting sees only the benign rows of the training split and the normalisers are
//! calibrated on the benign validation rows.

use std::path::Path;

use anyhow::{bail, Result};

use super::{
    UnsupervisedFile, UnsupervisedModel, UnsupervisedParams, UnsupervisedScorer,
    UnsupervisedTraining, KIND, MEMBERS,
};
use crate::engine::FeatureSchema;
use crate::eval::metrics::average_precision;
use crate::eval::scorer::Scorer;
use crate::model::dataset::TrainingData;
use crate::model::file::{model_name, Threshold, FORMAT, FORMAT_VERSION};
use crate::model::onnx::OnnxForm;
use crate::model::registry::{Algorithm, FileKind};
use crate::model::trainer::{
    FileFacts, FitJob, Importance, SavedModel, TestNote, Trained, Trainer,
};

/// The registry entry of `--algo unsupervised`.
pub const ALGORITHM: Algorithm = Algorithm {
    name: KIND,
    aliases: &["ensemble"],
    about: "seed 003's k-means / LOF / one-class SVM ensemble plus an isolation forest, fitted on benign windows only",
    supervised: false,
    trainer: &UnsupervisedTrainer,
    file: FileKind::Own(load_scorer),
};

/// Fits the ensemble on benign rows.
pub struct UnsupervisedTrainer;

struct Fitted {
    model: UnsupervisedModel,
    benign_fit_rows: u64,
    benign_calibration_rows: u64,
    validation_member_pr_auc: Vec<Option<f64>>,
}

fn row_f64(row: &[f32]) -> Vec<f64> {
    row.iter().map(|&v| f64::from(v)).collect()
}

fn rows_f64(data: &TrainingData, rows: &[usize]) -> Vec<Vec<f64>> {
    rows.iter().map(|&i| row_f64(data.row(i))).collect()
}

/// PR-AUC of each member alone ([`MEMBERS`] order).
fn member_pr_auc(members: &[[f64; 4]], labels: &[bool]) -> Vec<Option<f64>> {
    (0..MEMBERS.len())
        .map(|j| {
            let s: Vec<f64> = members.iter().map(|m| m[j]).collect();
            average_precision(labels, &s)
        })
        .collect()
}

fn member_list(v: &[Option<f64>]) -> String {
    MEMBERS
        .iter()
        .zip(v)
        .map(|(n, a)| format!("{n} {}", a.map_or("n/a".to_string(), |x| format!("{x:.4}"))))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Trainer for UnsupervisedTrainer {
    fn fit(&self, job: &FitJob<'_>) -> Result<Box<dyn Trained>> {
        let data = job.data;
        // Benign rows only: the ensemble learns what normal looks like.
        let benign = |rows: &[usize]| -> Vec<usize> {
            rows.iter()
                .copied()
                .filter(|&i| !data.is_positive(i))
                .collect()
        };
        let (fit_rows, cal_rows) = (benign(job.train), benign(job.validation));
        if fit_rows.len() < 2 || cal_rows.is_empty() {
            bail!(
                "{}: {} benign training and {} benign validation windows; the unsupervised ensemble needs both",
                data.dataset,
                fit_rows.len(),
                cal_rows.len()
            );
        }
        let params = UnsupervisedParams {
            seed: job.params.seed,
            ..UnsupervisedParams::default()
        };
        let model = UnsupervisedModel::fit_split(
            &rows_f64(data, &fit_rows),
            &rows_f64(data, &cal_rows),
            &data.schema.names,
            &params,
        )?;
        let labels: Vec<bool> = job
            .validation
            .iter()
            .map(|&i| data.is_positive(i))
            .collect();
        let members: Vec<[f64; 4]> = rows_f64(data, job.validation)
            .iter()
            .map(|r| model.member_scores(r))
            .collect();
        Ok(Box::new(Fitted {
            validation_member_pr_auc: member_pr_auc(&members, &labels),
            model,
            benign_fit_rows: fit_rows.len() as u64,
            benign_calibration_rows: cal_rows.len() as u64,
        }))
    }
}

impl Trained for Fitted {
    /// The mean of the members' normalised scores.
    fn predict_proba(&self, row: &[f32]) -> f64 {
        self.model.member_scores(&row_f64(row)).iter().sum::<f64>() / 4.0
    }

    fn describe(&self, fit_s: f64) -> Vec<String> {
        let m = &self.model;
        vec![format!(
            "unsupervised: k-means k={}, LOF k={} over {} reference rows, linear one-class SVM ν={}, isolation forest {} trees × {} rows; fitted on {} benign training windows, normalisers calibrated on {} benign validation windows, in {:.2} s",
            m.kmeans.k,
            m.lof.k,
            m.lof.k_distance.len(),
            m.ocsvm.nu,
            m.iforest.trees.trees.len(),
            m.iforest.sample_size,
            self.benign_fit_rows,
            self.benign_calibration_rows,
            fit_s
        )]
    }

    fn validation_note(&self, _: &TrainingData, _: &[usize], _: &[bool]) -> Option<String> {
        Some(format!(
            "members {}",
            member_list(&self.validation_member_pr_auc)
        ))
    }

    fn importance(&self, _names: &[String]) -> Option<Importance> {
        None
    }

    fn save(self: Box<Self>, path: &Path, facts: FileFacts) -> Result<Box<dyn SavedModel>> {
        let file = UnsupervisedFile {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            kind: KIND.into(),
            workbench_version: env!("CARGO_PKG_VERSION").into(),
            schema_fingerprint: facts.schema.fingerprint(),
            schema: facts.schema,
            window: facts.window,
            threshold: facts.threshold,
            training: UnsupervisedTraining {
                datasets: facts.datasets,
                test_dataset: facts.test_dataset,
                data_sha256: facts.data_sha256,
                split: facts.split,
                rows: facts.rows,
                benign_fit_rows: self.benign_fit_rows,
                benign_calibration_rows: self.benign_calibration_rows,
                validation_pr_auc: facts.validation_pr_auc,
                validation_member_pr_auc: self.validation_member_pr_auc,
            },
            model: self.model,
        };
        file.save(path)?;
        let loaded = UnsupervisedFile::load(path)?;
        if loaded != file {
            bail!(
                "model file {} does not read back as it was written",
                path.display()
            );
        }
        Ok(Box::new(loaded))
    }
}

impl SavedModel for UnsupervisedFile {
    fn kind(&self) -> &str {
        KIND
    }

    fn threshold(&self) -> &Threshold {
        &self.threshold
    }

    fn scorer(&self, name: String) -> Result<Box<dyn Scorer>> {
        Ok(Box::new(UnsupervisedScorer::new(name, self)))
    }

    fn training_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.training).unwrap_or(serde_json::Value::Null)
    }

    /// One graph of standard operators (`x.onnx`): there is no tree form to choose.
    fn onnx(&self, _form: OnnxForm) -> Result<(OnnxForm, Vec<u8>)> {
        Ok((OnnxForm::Plain, super::onnx::export(self)?))
    }

    fn proba(&self, row: &[f32]) -> f64 {
        self.model.score(&row_f64(row)).0
    }

    /// Each member alone on the test rows, with the labels the evaluation used.
    fn test_note(&self, data: &TrainingData, rows: &[usize], labels: &[bool]) -> Option<TestNote> {
        let members: Vec<[f64; 4]> = rows_f64(data, rows)
            .iter()
            .map(|r| self.model.member_scores(r))
            .collect();
        let auc = member_pr_auc(&members, labels);
        Some(TestNote {
            line: format!("  members alone: {}", member_list(&auc)),
            name: "members",
            value: serde_json::json!({ "names": MEMBERS, "test_pr_auc": auc }),
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Loads an unsupervised model file as a scorer for rows of `schema`.
fn load_scorer(path: &Path, schema: &FeatureSchema) -> Result<Box<dyn Scorer>> {
    let f = UnsupervisedFile::load(path)?;
    f.check_schema(schema)
        .map_err(|e| anyhow::anyhow!("model file {}: {e}", path.display()))?;
    Ok(Box::new(UnsupervisedScorer::new(model_name(path), &f)))
}
