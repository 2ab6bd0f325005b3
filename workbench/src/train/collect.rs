//! The training data of a run: one pipeline pass per dataset into a
//! [`TrainingSink`], split by time with a purge gap of the longest window.

use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::datasets::Dataset;
use crate::engine::{WindowConfig, F};
use crate::eval::metrics::threshold_at_fpr;
use crate::labels::Labeler;
use crate::model::dataset::{TrainingData, TrainingSink};
use crate::model::file::{RowCounts, SplitInfo, Threshold};
use crate::model::split::SplitBy;
use crate::model::{cross_split, rows_sha256, time_split, Split, SplitConfig};
use crate::pipeline::{self, Driver};
use crate::progress::Progress;
use crate::report::DatasetInfo;

use super::TARGET_FPR;

/// Runs a dataset through the engine once and keeps its labelled host rows.
///
/// Refuses, like `eval`, a dataset without rows, without episodes, or whose episodes
/// match no window.
pub fn collect(dataset: &Dataset, window: &WindowConfig, quiet: bool) -> Result<TrainingData> {
    let mut driver = Driver::new(window.clone()).context("invalid window settings")?;
    let schema = driver.schema().clone();
    let labeler = Labeler::new(dataset.episodes.clone());
    let mut sink = TrainingSink::new(&labeler, window.widths_s[0], schema.len());
    let inputs = dataset.inputs();
    let progress = Progress::bytes(pipeline::total_bytes(&inputs), quiet);
    let run = pipeline::run(inputs, &mut driver, &mut sink, &progress);
    progress.finish();
    if sink.malformed > 0 {
        bail!(
            "dataset {}: {} rows did not have the schema's {} values",
            dataset.name,
            sink.malformed,
            schema.len()
        );
    }
    if sink.end_ns.is_empty() {
        bail!(
            "dataset {}: no host windows ({})",
            dataset.name,
            run.why_no_rows()
        );
    }
    if dataset.episodes.is_empty() {
        bail!(
            "dataset {}: no attack episodes, so there is nothing to learn",
            dataset.name
        );
    }
    if !sink.matched.iter().any(|&m| m) {
        bail!(
            "dataset {}: none of its {} episodes matches any host window (wrong addresses or times, or a time zone off?); refusing to train on unlabelled data",
            dataset.name,
            dataset.episodes.len()
        );
    }
    Ok(TrainingData {
        dataset: dataset.name.clone(),
        description: dataset.description.clone(),
        schema,
        window: window.clone(),
        values: sink.values,
        end_ns: sink.end_ns,
        hosts: sink.hosts,
        timeline: sink.timeline,
        timeline_captured: sink.timeline_captured,
        labels: sink.labels,
        episodes: dataset.episodes.clone(),
        run,
    })
}

/// The training data of a run: features of the dataset (and of `--test-dataset`),
/// split by time with a purge gap of the longest window.
pub struct Collected {
    pub data: TrainingData,
    pub test_data: Option<TrainingData>,
    pub split: Split,
    pub shares: SplitConfig,
    /// The purge gap, seconds (the longest window).
    pub longest: f64,
    pub features_s: f64,
    /// The window settings the features were computed with.
    pub cfg: WindowConfig,
}

/// Computes the features (one pass per dataset) and splits them.
pub fn collect_and_split(
    ds: &Dataset,
    test_ds: Option<&Dataset>,
    cfg: &WindowConfig,
    shares: SplitConfig,
    quiet: bool,
    started: Instant,
) -> Result<Collected> {
    let data = collect(ds, cfg, quiet)?;
    let test_data = match test_ds {
        Some(t) => Some(collect(t, cfg, quiet)?),
        None => None,
    };
    let features_s = started.elapsed().as_secs_f64();
    let longest = cfg.widths_s.iter().copied().fold(0.0, f64::max);
    let gap_ns = (longest * 1e9).round() as u64;
    let split = match &test_data {
        None => time_split(&data.end_ns, &data.timeline, shares, gap_ns)?,
        Some(_) => cross_split(&data.end_ns, &data.timeline, shares, gap_ns)?,
    };
    Ok(Collected {
        data,
        test_data,
        split,
        shares,
        longest,
        features_s,
        cfg: cfg.clone(),
    })
}

/// The rows a model is tested on: all of `--test-dataset`, else the test split.
pub struct TestPart {
    pub rows: Vec<usize>,
    /// Describes them (`synthetic (test split: last 20% of the time span)`).
    pub name: String,
    /// `--test-dataset`'s name.
    pub dataset: Option<String>,
}

impl Collected {
    /// The data the test rows index.
    pub fn tdata(&self) -> &TrainingData {
        self.test_data.as_ref().unwrap_or(&self.data)
    }

    pub fn test_part(&self) -> TestPart {
        let (data, shares) = (&self.data, &self.shares);
        match &self.test_data {
            Some(t) => TestPart {
                rows: (0..t.len()).collect(),
                name: format!("{} (cross-dataset test)", t.dataset),
                dataset: Some(t.dataset.clone()),
            },
            None => TestPart {
                rows: self.split.test.clone(),
                name: format!(
                    "{} (test split: last {:.0}% of the {})",
                    data.dataset,
                    (1.0 - shares.train - shares.validation) * 100.0,
                    match shares.by {
                        SplitBy::Time => "time span",
                        SplitBy::Rows => "rows in time order",
                        SplitBy::Capture => "time span of every capture",
                    }
                ),
                dataset: None,
            },
        }
    }

    /// Labels of the validation rows (attack = true).
    pub fn validation_labels(&self) -> Vec<bool> {
        self.split
            .validation
            .iter()
            .map(|&i| self.data.is_positive(i))
            .collect()
    }

    /// Which validation windows' scores set the stored threshold's false-positive rate,
    /// as a mask over the validation rows, and its name for the model file.
    ///
    /// Simulated benign hosts are quieter than real ones: a threshold at 1% FPR on them
    /// alerts on a large share of a real LAN's windows (measured: half of the attack
    /// lab's benign host windows). So when the validation split holds enough windows of
    /// captured traffic (files, feature tables), only those count, and only windows of
    /// hosts that both sent and received: spoofed one-packet sources and idle hosts are
    /// trivially benign and would make 1% of them a much lower bar.
    pub fn reference_negatives(&self) -> (Vec<bool>, &'static str) {
        let data = &self.data;
        let (out, inn) = (F::PktsOut as usize, F::PktsIn as usize);
        let mask: Vec<bool> = self
            .split
            .validation
            .iter()
            .map(|&i| {
                let row = data.row(i);
                data.is_captured(i) && row[out] >= 1.0 && row[inn] >= 1.0
            })
            .collect();
        let negatives = mask
            .iter()
            .zip(&self.split.validation)
            .filter(|(&m, &i)| m && !data.is_positive(i))
            .count();
        if negatives >= MIN_REFERENCE_NEGATIVES {
            (mask, "captured_two_way")
        } else {
            (vec![true; self.split.validation.len()], "all")
        }
    }

    /// The model file's `training.split`.
    pub fn split_info(&self) -> SplitInfo {
        SplitInfo {
            mode: if self.test_data.is_some() {
                "cross_dataset".into()
            } else {
                "time".into()
            },
            shares: self.shares,
            purge_gap_s: self.longest,
        }
    }

    /// The model file's `training.rows`.
    pub fn row_counts(&self, test_rows: &[usize]) -> RowCounts {
        let (data, split) = (&self.data, &self.split);
        RowCounts {
            train: split.train.len() as u64,
            train_positives: data.positives(&split.train) as u64,
            validation: split.validation.len() as u64,
            validation_positives: data.positives(&split.validation) as u64,
            test: test_rows.len() as u64,
            test_positives: self.tdata().positives(test_rows) as u64,
            purged: split.purged as u64,
            unused: split.unused as u64,
        }
    }

    /// The model file's `training.data_sha256` (train and validation rows).
    pub fn data_sha256(&self) -> String {
        rows_sha256(&self.data, &[&self.split.train, &self.split.validation])
    }

    /// Inputs that failed in either dataset, and their errors.
    pub fn input_warnings(&self) -> (usize, Vec<String>) {
        let mut warnings = Vec::new();
        let mut failed_inputs = 0;
        for d in std::iter::once(&self.data).chain(self.test_data.as_ref()) {
            failed_inputs += d.run.failed_inputs();
            warnings.extend(d.run.inputs.iter().filter_map(|i| i.error.clone()));
        }
        (failed_inputs, warnings)
    }
}

/// Captured two-way negative windows needed before they alone set the threshold.
const MIN_REFERENCE_NEGATIVES: usize = 1000;

/// The stored threshold: the one reaching [`TARGET_FPR`] on the validation split's
/// reference negatives ([`Collected::reference_negatives`]); TPR over all validation
/// attack windows.
pub fn validation_threshold(
    labels: &[bool],
    scores: &[f64],
    reference: &[bool],
    negatives: &str,
) -> Threshold {
    let (l, s): (Vec<bool>, Vec<f64>) = labels
        .iter()
        .zip(scores)
        .zip(reference)
        .filter(|((&y, _), &r)| y || r)
        .map(|((&y, &s), _)| (y, s))
        .unzip();
    let at = threshold_at_fpr(&l, &s, TARGET_FPR);
    Threshold {
        value: at.threshold,
        target_fpr: TARGET_FPR,
        chosen_on: "validation".into(),
        negatives: Some(negatives.to_string()),
        tpr: at.tpr,
        fpr: at.fpr,
    }
}

/// The dataset part of a report, for rows of `data` described as `name`.
pub fn dataset_info(data: &TrainingData, name: String) -> DatasetInfo {
    DatasetInfo {
        name,
        description: data.description.clone(),
        packets: data.run.packets,
        skipped_frames: data.run.skipped,
        inputs: data.run.inputs.clone(),
    }
}
