//! The test evaluation of a trained model: the test rows scored by the model as read
//! back from disk and by the rules baseline, evaluated like `eval`, and reported.

use std::path::PathBuf;

use anyhow::Result;

use super::collect::{dataset_info, Collected, TestPart};
use crate::eval::{evaluate, EvalResult, RulesScorer, ScoredWindow, Scorer};
use crate::labels::Labeler;
use crate::model::dataset::TrainingData;
use crate::report::{write_report_with, ImportanceInfo, ModelRun};

/// Scored, labelled windows of some rows of `data` for evaluating on them: labels come
/// from the episodes overlapping those rows' time span only (so episodes of the
/// training period do not count as missed), rows keep emission order.
pub fn test_windows(
    data: &TrainingData,
    rows: &[usize],
    scorers: &[&dyn Scorer],
) -> (Vec<Vec<ScoredWindow>>, Labeler, Vec<bool>) {
    let width_s = data.window.widths_s[0];
    let mut rows = rows.to_vec();
    rows.sort_unstable();
    let (lo, hi) = rows.iter().fold((u64::MAX, 0u64), |(lo, hi), &i| {
        (lo.min(data.end_ns[i]), hi.max(data.end_ns[i]))
    });
    let (span_start, span_end) = (lo as f64 / 1e9 - width_s, hi as f64 / 1e9);
    let episodes = data
        .episodes
        .iter()
        .filter(|e| e.end_ts >= span_start && e.start_ts < span_end)
        .cloned()
        .collect();
    let labeler = Labeler::new(episodes);
    let mut matched = vec![false; labeler.episodes().len()];
    let mut out = vec![Vec::with_capacity(rows.len()); scorers.len()];
    let mut values = vec![0f64; data.n_features()];
    for &i in &rows {
        let host = data.hosts[i];
        let end_s = data.end_ns[i] as f64 / 1e9;
        let label = labeler.label(host, end_s - width_s, end_s);
        for e in labeler.all_labels(host, end_s - width_s, end_s) {
            matched[e] = true;
        }
        for (v, &x) in values.iter_mut().zip(data.row(i)) {
            *v = f64::from(x);
        }
        for (s, windows) in scorers.iter().zip(out.iter_mut()) {
            let score = s.score(&values);
            windows.push(ScoredWindow {
                end_ns: data.end_ns[i],
                host,
                score: if score.value.is_finite() {
                    score.value
                } else {
                    0.0
                },
                threat: score.threat,
                label: label.map(|(e, r)| (e as u32, r)),
            });
        }
    }
    (out, labeler, matched)
}

/// A model evaluated on the test rows next to the rules baseline.
pub struct Tested {
    pub test: EvalResult,
    pub rules_test: EvalResult,
    /// The model's scored windows (rows in emission order).
    pub model_windows: Vec<ScoredWindow>,
    pub report_index: PathBuf,
}

/// Scores the test rows with the model (as loaded from disk) and the rules, evaluates
/// both and writes the report (`--report`, else `reports/<dataset>-<model>-test`).
pub fn evaluate_and_report(
    a: &super::TrainConfig,
    c: &Collected,
    test: &TestPart,
    scorer: &dyn Scorer,
    importance: Option<&ImportanceInfo>,
) -> Result<Tested> {
    let (tdata, cfg) = (c.tdata(), &c.cfg);
    let rules = RulesScorer::new(&tdata.schema)?;
    let (mut windows, labeler, matched) = test_windows(tdata, &test.rows, &[scorer, &rules]);
    let rules_windows = windows.pop().unwrap_or_default();
    let model_windows = windows.pop().unwrap_or_default();
    let (width_s, hop_s) = (cfg.widths_s[0], cfg.hop_s);
    let result = evaluate(
        scorer.name(),
        &model_windows,
        &labeler,
        &matched,
        scorer.default_threshold(),
        width_s,
        hop_s,
    );
    let rules_test = evaluate(
        rules.name(),
        &rules_windows,
        &labeler,
        &matched,
        rules.default_threshold(),
        width_s,
        hop_s,
    );
    let report_dir = a.report.clone().unwrap_or_else(|| {
        let ds_name = std::path::Path::new(&tdata.dataset)
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "dataset".into());
        PathBuf::from("reports").join(format!(
            "{ds_name}-{}-test",
            crate::model::model_name(&a.out)
        ))
    });
    let report_index = write_report_with(
        &report_dir,
        &dataset_info(tdata, test.name.clone()),
        cfg,
        &[
            ModelRun {
                result: result.clone(),
                windows: &model_windows,
            },
            ModelRun {
                result: rules_test.clone(),
                windows: &rules_windows,
            },
        ],
        importance,
    )?;
    Ok(Tested {
        test: result,
        rules_test,
        model_windows,
        report_index,
    })
}
