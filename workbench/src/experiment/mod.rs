//! Experiments on a dataset: the dataset's inputs through the pipeline into an
//! [`EvalSink`](crate::eval::EvalSink), every host window scored and labelled, the
//! numbers computed once ([`crate::eval::evaluate`]) and the report written. `eval`
//! runs one scorer ([`eval::run_eval`]); `compare` runs several on the same windows
//! ([`compare::run_compare`]). Printing is the commands' business.

pub mod compare;
pub mod eval;

pub use compare::{parse_models, run_compare, CompareConfig, CompareOutcome};
pub use eval::{run_eval, EvalConfig, EvalOutcome};

use anyhow::{bail, Result};

use crate::datasets::Dataset;
use crate::pipeline::RunSummary;

/// Refuses to report numbers that would mean nothing: no host windows, no episodes, or
/// episodes that match no window (wrong addresses, times or time zone).
pub(crate) fn check_evaluable(
    dataset: &Dataset,
    run: &RunSummary,
    windows: usize,
    matched: &[bool],
) -> Result<()> {
    if windows == 0 {
        bail!(
            "dataset {}: no host windows ({})",
            dataset.name,
            run.why_no_rows()
        );
    }
    if dataset.episodes.is_empty() {
        bail!(
            "dataset {}: no attack episodes, so there is nothing to detect",
            dataset.name
        );
    }
    if !matched.iter().any(|&m| m) {
        bail!(
            "dataset {}: none of its {} episodes matches any host window (wrong addresses or times, or a time zone off?); refusing to report a meaningless score",
            dataset.name,
            dataset.episodes.len()
        );
    }
    Ok(())
}

/// The report's facts about a dataset run.
pub(crate) fn dataset_info(dataset: &Dataset, run: &RunSummary) -> crate::report::DatasetInfo {
    crate::report::DatasetInfo {
        name: dataset.name.clone(),
        description: dataset.description.clone(),
        packets: run.packets,
        skipped_frames: run.skipped,
        inputs: run.inputs.clone(),
    }
}

/// The last path component of a dataset or model argument (`reports/<this>-...`).
pub(crate) fn file_stem_of(spec: &str, fallback: &str) -> String {
    std::path::Path::new(spec)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| fallback.into())
}
