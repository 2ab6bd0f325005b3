//! `--export onnx`: the model file as ONNX, each file checked through tract against the
//! model's own scores before it is kept.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::model::dataset::TrainingData;
use crate::model::file::write_atomic;
use crate::model::onnx::{OnnxForm, OnnxOptions, OnnxScorer};
use crate::model::{SavedModel, MODEL_SUFFIX};

/// One ONNX file written by `--export onnx`.
#[derive(Clone, Debug, Serialize)]
pub struct OnnxExport {
    pub path: PathBuf,
    /// `tree_ensemble` or `plain`.
    pub form: String,
    pub bytes: u64,
    /// Rows of the test split scored through tract to check the file.
    pub checked_rows: usize,
    /// Largest |native - tract| probability on them.
    pub max_abs_diff: f64,
}

/// Rows checked against the native model after an ONNX export.
const ONNX_CHECK_ROWS: usize = 512;
/// Largest probability difference accepted between the file and the native model.
const ONNX_TOLERANCE: f64 = 1e-5;

/// The ONNX paths for a model file: `x.wbm.json` → `x.onnx` (and `x.plain.onnx` when
/// both forms are written).
pub fn onnx_paths(out: &std::path::Path, form: &str) -> Result<Vec<(PathBuf, OnnxForm)>> {
    let s = out.to_string_lossy();
    let stem = s
        .strip_suffix(MODEL_SUFFIX)
        .with_context(|| format!("{}: not a *{MODEL_SUFFIX} path", out.display()))?;
    Ok(match form {
        "both" => vec![
            (
                PathBuf::from(format!("{stem}.onnx")),
                OnnxForm::TreeEnsemble,
            ),
            (PathBuf::from(format!("{stem}.plain.onnx")), OnnxForm::Plain),
        ],
        f => vec![(
            PathBuf::from(format!("{stem}.onnx")),
            f.parse::<OnnxForm>().map_err(anyhow::Error::msg)?,
        )],
    })
}

/// Up to [`ONNX_CHECK_ROWS`] rows spread over `rows`, and their values row-major.
pub fn onnx_sample(data: &TrainingData, rows: &[usize]) -> (Vec<usize>, Vec<f32>) {
    let step = (rows.len() / ONNX_CHECK_ROWS).max(1);
    let sample: Vec<usize> = rows
        .iter()
        .step_by(step)
        .take(ONNX_CHECK_ROWS)
        .copied()
        .collect();
    let mut values = Vec::with_capacity(sample.len() * data.n_features());
    for &i in &sample {
        values.extend_from_slice(data.row(i));
    }
    (sample, values)
}

/// Writes an exported ONNX file and checks it through tract against `native` (the
/// model's own score of a row) on the sampled rows; a file further than
/// [`ONNX_TOLERANCE`] from the model is refused.
pub fn write_checked_onnx(
    path: PathBuf,
    form: &str,
    bytes: &[u8],
    data: &TrainingData,
    (sample, values): (&[usize], &[f32]),
    native: &dyn Fn(&[f32]) -> f64,
) -> Result<OnnxExport> {
    write_atomic(&path, bytes)?;
    let scorer = OnnxScorer::load_with(&path, &data.schema, &OnnxOptions::default())?;
    let probs = scorer.score_rows(values, sample.len())?;
    let mut worst = 0f64;
    for (&i, p) in sample.iter().zip(&probs) {
        let d = (native(data.row(i)) - p).abs();
        worst = if d.is_nan() {
            f64::INFINITY
        } else {
            worst.max(d)
        };
    }
    if worst > ONNX_TOLERANCE {
        bail!(
            "the ONNX export {} ({form}) scores up to {worst:e} away from the model on test rows (tolerance {ONNX_TOLERANCE:e}); refusing it",
            path.display()
        );
    }
    Ok(OnnxExport {
        path,
        form: form.into(),
        bytes: bytes.len() as u64,
        checked_rows: sample.len(),
        max_abs_diff: worst,
    })
}

/// Writes the ONNX exports of `model` (the forms `onnx_form` asks for, or the one form
/// the model has) and checks each through tract on rows of the test split.
pub fn export_onnx(
    out: &std::path::Path,
    onnx_form: &str,
    model: &dyn SavedModel,
    data: &TrainingData,
    rows: &[usize],
) -> Result<Vec<OnnxExport>> {
    let (sample, values) = onnx_sample(data, rows);
    let mut written: Vec<OnnxExport> = Vec::new();
    for (path, asked) in onnx_paths(out, onnx_form)? {
        let (form, bytes) = model.onnx(asked)?;
        // A model with one graph writes it once, under the first name.
        if written.iter().any(|x| x.form == form.name()) {
            continue;
        }
        written.push(write_checked_onnx(
            path,
            form.name(),
            &bytes,
            data,
            (&sample, &values),
            &|row| model.proba(row),
        )?);
    }
    Ok(written)
}
