//! Evaluation reports: `report.json` (every number, stable keys), PNG charts, and a
//! self-contained `index.html` (images embedded) that opens offline.

mod charts;
mod html;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::engine::WindowConfig;
use crate::eval::metrics::{pr_curve, roc_curve};
use crate::eval::{EvalResult, ScoredWindow};
use crate::pipeline::InputOutcome;

pub use charts::PALETTE;

/// A trained model's feature importance, for the report (chart, table, JSON).
#[derive(Clone, Debug, Serialize)]
pub struct ImportanceInfo {
    /// The model's name.
    pub model: String,
    /// What the numbers measure (`total split gain`, `|coefficient| × std`).
    pub measure: String,
    /// Most important first.
    pub features: Vec<crate::model::FeatureImportance>,
}

/// One model's results and the windows they came from.
pub struct ModelRun<'a> {
    pub result: EvalResult,
    pub windows: &'a [ScoredWindow],
}

/// What the dataset was and how reading it went.
#[derive(Clone, Debug, Serialize)]
pub struct DatasetInfo {
    pub name: String,
    pub description: String,
    pub packets: u64,
    pub skipped_frames: u64,
    pub inputs: Vec<InputOutcome>,
}

/// One KPI row of docs/PLAN.md, judged on this evaluation.
#[derive(Clone, Debug, Serialize)]
pub struct Kpi {
    pub name: String,
    pub target: String,
    pub measured: String,
    pub pass: Option<bool>,
}

/// The KPIs of the 60-day plan that one evaluation can judge.
pub fn kpis(r: &EvalResult) -> Vec<Kpi> {
    let ap = r.pr_auc;
    let fmt = |x: Option<f64>| x.map_or("n/a".to_string(), |v| format!("{v:.3}"));
    vec![
        Kpi {
            name: "PR-AUC, weeks 3–4".into(),
            target: "≥ 0.6".into(),
            measured: fmt(ap),
            pass: ap.map(|v| v >= 0.6),
        },
        Kpi {
            name: "PR-AUC, weeks 5–6".into(),
            target: "≥ 0.8".into(),
            measured: fmt(ap),
            pass: ap.map(|v| v >= 0.8),
        },
        Kpi {
            name: "threshold at 1% FPR reported".into(),
            target: "reported".into(),
            measured: format!(
                "{:.4} (TPR {:.3}, FPR {:.4})",
                r.threshold_at_fpr_1pct, r.tpr_at_fpr_1pct, r.at_fpr_1pct.fpr
            ),
            pass: Some(r.at_fpr_1pct.fpr <= 0.01),
        },
        Kpi {
            name: "alert within 3 s of an attack (p95 detection delay; our target 1 s)".into(),
            target: "≤ 3 s".into(),
            measured: r
                .detection_delay_s
                .p95
                .map_or("no episode detected".into(), |d| format!("{d:.2} s")),
            pass: r.detection_delay_s.p95.map(|d| d <= 3.0),
        },
    ]
}

/// Writes `report.json`, the charts and `index.html` into `dir`; returns index.html's
/// path.
pub fn write_report(
    dir: &Path,
    dataset: &DatasetInfo,
    window: &WindowConfig,
    runs: &[ModelRun<'_>],
) -> Result<PathBuf> {
    write_report_with(dir, dataset, window, runs, None)
}

/// [`write_report`] plus a trained model's feature importance (bar chart of the top
/// features, a table in index.html, `feature_importance` in report.json).
pub fn write_report_with(
    dir: &Path,
    dataset: &DatasetInfo,
    window: &WindowConfig,
    runs: &[ModelRun<'_>],
    importance: Option<&ImportanceInfo>,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let Some(first) = runs.first() else {
        anyhow::bail!("no model results to report");
    };

    // Charts.
    let curves: Vec<(String, Vec<(f64, f64)>, Vec<(f64, f64)>)> = runs
        .iter()
        .map(|m| {
            let y: Vec<bool> = m.windows.iter().map(|w| w.label.is_some()).collect();
            let s: Vec<f64> = m.windows.iter().map(|w| w.score).collect();
            let name = match m.result.pr_auc {
                Some(ap) => format!("{} (PR-AUC {ap:.3})", m.result.model),
                None => m.result.model.clone(),
            };
            (name, pr_curve(&y, &s, 2000), roc_curve(&y, &s, 2000))
        })
        .collect();
    let pr: Vec<charts::Series<'_>> = curves
        .iter()
        .map(|(n, p, _)| charts::Series {
            name: n.clone(),
            points: p,
        })
        .collect();
    let roc: Vec<charts::Series<'_>> = curves
        .iter()
        .map(|(n, _, r)| charts::Series {
            name: n.clone(),
            points: r,
        })
        .collect();
    let mut images = Vec::new();
    let pr_png = dir.join("pr_curve.png");
    charts::pr_chart(&pr_png, &pr, first.result.base_rate)?;
    images.push(("Precision–recall curve", pr_png));
    let roc_png = dir.join("roc.png");
    charts::roc_chart(&roc_png, &roc, false, Some(0.01))?;
    images.push(("ROC curve", roc_png));
    let roc_log_png = dir.join("roc_log_fpr.png");
    charts::roc_chart(&roc_log_png, &roc, true, Some(0.01))?;
    images.push(("ROC curve, log false-positive rate", roc_log_png));
    let (neg, pos): (Vec<&ScoredWindow>, Vec<&ScoredWindow>) =
        first.windows.iter().partition(|w| w.label.is_none());
    let hist_png = dir.join("score_histogram.png");
    charts::histogram_chart(
        &hist_png,
        &neg.iter().map(|w| w.score).collect::<Vec<_>>(),
        &pos.iter().map(|w| w.score).collect::<Vec<_>>(),
        first.result.threshold_at_fpr_1pct,
    )?;
    images.push(("Score histogram per class", hist_png));
    let timeline_png = dir.join("timeline.png");
    timeline(&timeline_png, first)?;
    images.push(("Timeline of the top entities", timeline_png));
    if let Some(imp) = importance {
        let png = dir.join("feature_importance.png");
        let bars: Vec<(String, f64)> = imp
            .features
            .iter()
            .take(IMPORTANCE_BARS)
            .map(|f| (f.feature.clone(), f.gain_share))
            .collect();
        charts::importance_chart(
            &png,
            &format!("Feature importance of {} ({})", imp.model, imp.measure),
            &bars,
        )?;
        images.push(("Feature importance (share of the total)", png));
    }

    // JSON: the first model's numbers at the top level, every model under "models".
    let mut json = serde_json::to_value(&first.result)?;
    json["workbench_version"] = env!("CARGO_PKG_VERSION").into();
    json["dataset"] = serde_json::to_value(dataset)?;
    json["window"] = serde_json::to_value(window)?;
    json["kpi"] = serde_json::to_value(kpis(&first.result))?;
    json["models"] = serde_json::to_value(runs.iter().map(|m| &m.result).collect::<Vec<_>>())?;
    if let Some(imp) = importance {
        json["feature_importance"] = serde_json::to_value(imp)?;
    }
    let json_path = dir.join("report.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("writing {}", json_path.display()))?;

    let index = dir.join("index.html");
    let page = html::page(dataset, window, runs, &images, importance)?;
    std::fs::write(&index, page).with_context(|| format!("writing {}", index.display()))?;
    Ok(index)
}

/// Bars in the importance chart.
const IMPORTANCE_BARS: usize = 15;

/// The timeline: the four hosts with the highest scores, plus attack episodes involving
/// them, over the first timeline of the data.
fn timeline(path: &Path, run: &ModelRun<'_>) -> Result<()> {
    let mut best: BTreeMap<IpAddr, f64> = BTreeMap::new();
    for w in run.windows {
        let e = best.entry(w.host).or_insert(0.0);
        *e = e.max(w.score);
    }
    let mut hosts: Vec<(IpAddr, f64)> = best.into_iter().collect();
    hosts.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    hosts.truncate(4);
    let origin = run.windows.iter().map(|w| w.end_ns).min().unwrap_or(0);
    // Keep the chart on one timeline: an hour at most from the origin.
    let horizon_ns = origin + 3_600 * 1_000_000_000;
    let tracks: Vec<charts::Track> = hosts
        .iter()
        .map(|(h, _)| charts::Track {
            name: h.to_string(),
            points: run
                .windows
                .iter()
                .filter(|w| w.host == *h && w.end_ns <= horizon_ns)
                .map(|w| ((w.end_ns - origin) as f64 / 1e9, w.score))
                .collect(),
        })
        .collect();
    let x_max = tracks
        .iter()
        .flat_map(|t| t.points.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let o = origin as f64 / 1e9;
    let eps: Vec<(f64, f64)> = run
        .result
        .episodes
        .iter()
        .filter(|e| {
            hosts
                .iter()
                .any(|(h, _)| e.attacker == h.to_string() || e.victim == h.to_string())
        })
        .map(|e| (e.start_ts - o, e.end_ts - o))
        .filter(|(a, _)| *a <= x_max)
        .collect();
    let eps = merge_intervals(eps);
    charts::timeline_chart(path, &tracks, &eps, run.result.threshold_at_fpr_1pct, x_max)
}

/// Merges overlapping intervals so that shading does not darken where episodes stack
/// (labels from other tools may have one episode per DDoS bot).
fn merge_intervals(mut v: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}
