//! `workbench compare` and batched scoring: every model scores the same windows in one
//! pass, each model's numbers equal `workbench eval` with that model alone, the report
//! renders in headless Chromium with curves overlaid and one table; batched scoring
//! (EvalSink buffers, OnnxScorer runs one model call per batch) gives exactly the
//! per-row scores.

mod common;
#[allow(unused_imports)]
use common::*;

use std::path::Path;
use std::process::Command;

use workbench::engine::WindowConfig;
use workbench::eval::{EvalSink, Score, Scorer};
use workbench::labels::Labeler;
use workbench::model::onnx::{OnnxOptions, OnnxScorer};
use workbench::pipeline::Driver;
use workbench::progress::Progress;
use workbench::train::collect;
use workbench::train::{train_datasets, TrainOutcome};

fn train(dir: &Path, name: &str, algo: &str, extra: &[&str]) -> TrainOutcome {
    let out = dir.join(format!("{name}.wbm.json"));
    let report = dir.join(format!("{name}-report"));
    let mut args = vec![
        "--dataset",
        "mixed-21",
        "--algo",
        algo,
        "--out",
        out.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let a = train_args(&args);
    train_datasets(&a, &mixed(21, 90.0), None, true).expect("training works")
}

/// The same scorer, scoring row by row (the trait's default `score_batch`).
struct RowByRow<'a>(&'a dyn Scorer);

impl Scorer for RowByRow<'_> {
    fn name(&self) -> String {
        self.0.name()
    }
    fn default_threshold(&self) -> f64 {
        self.0.default_threshold()
    }
    fn score(&self, row: &[f64]) -> Score {
        self.0.score(row)
    }
}

#[test]
fn batched_scoring_equals_row_by_row_scoring() {
    let tmp = tempfile::tempdir().unwrap();
    let o = train(
        tmp.path(),
        "g",
        "gbdt",
        &["--trees", "30", "--export", "onnx", "--onnx-form", "both"],
    );
    let l = train(tmp.path(), "l", "logistic", &["--export", "onnx"]);
    let ds = mixed(24, 60.0);
    let cfg = WindowConfig::default();
    let data = collect(&ds, &cfg, true).unwrap();
    let k = data.n_features();
    let n = data.len();
    assert!(n > 5000, "{n} rows");
    let rows: Vec<f64> = data.values.iter().map(|&v| f64::from(v)).collect();
    let paths = [
        tmp.path().join("g.plain.onnx"),
        tmp.path().join("g.onnx"),
        l.onnx[0].path.clone(),
    ];
    assert_eq!(o.onnx.len(), 2);
    let mut failures = Vec::new();
    for path in &paths {
        let s = OnnxScorer::load_with(path, &data.schema, &OnnxOptions::default()).unwrap();
        // The standard TreeEnsemble form is slow in tract: fewer rows.
        let m = if path.ends_with("g.onnx") { 3000 } else { n };
        let mut batched = Vec::new();
        s.score_batch(&rows[..m * k], m, &mut batched);
        assert_eq!(batched.len(), m);
        let mut differ = 0;
        for (i, b) in batched.iter().enumerate() {
            let single = s.score(&rows[i * k..(i + 1) * k]);
            if single.value.to_bits() != b.value.to_bits() {
                differ += 1;
            }
        }
        eprintln!(
            "{}: {m} rows, {differ} differ between one batch and row by row",
            path.display()
        );
        failures.push((path.display().to_string(), differ));
    }
    assert!(failures.iter().all(|f| f.1 == 0), "{failures:?}");

    // EvalSink: buffered batches of 4096 rows vs row by row, the same windows.
    let s = OnnxScorer::load_with(&paths[0], &data.schema, &OnnxOptions::default()).unwrap();
    let per_row = RowByRow(&s);
    let labeler = Labeler::new(ds.episodes.clone());
    let mut driver = Driver::new(cfg.clone()).unwrap();
    let mut sink = EvalSink::with_scorers(vec![&s, &per_row], &labeler, cfg.widths_s[0]);
    let progress = Progress::bytes(0, true);
    workbench::pipeline::run(ds.inputs(), &mut driver, &mut sink, &progress);
    let (runs, matched) = sink.into_runs();
    assert!(matched.iter().any(|&m| m));
    assert_eq!(runs[0].len(), n, "every host row scored once");
    assert_eq!(runs[0], runs[1]);
}

fn eval_json(dataset: &Path, model: &Path, report: &Path) -> serde_json::Value {
    let out = bin()
        .args(["eval", "-q", "--json", "--dataset"])
        .arg(dataset)
        .arg("--model")
        .arg(model)
        .arg("--report")
        .arg(report)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn compare_puts_models_side_by_side_with_eval_numbers_and_renders() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    train(
        d,
        "gbdt",
        "gbdt",
        &["--trees", "30", "--export", "onnx", "--onnx-form", "plain"],
    );
    train(
        d,
        "forest",
        "forest",
        &[
            "--trees",
            "20",
            "--forest-depth",
            "8",
            "--sample-rows",
            "20000",
        ],
    );
    let sim = d.join("sim");
    let out = bin()
        .args([
            "simulate",
            "-q",
            "--scenario",
            "mixed",
            "--seconds",
            "60",
            "--seed",
            "33",
            "--out",
        ])
        .arg(&sim)
        .output()
        .unwrap();
    assert!(out.status.success());
    let report = d.join("compare");
    let models = format!(
        "{},{},rules,formula",
        d.join("gbdt.onnx").display(),
        d.join("forest.wbm.json").display()
    );
    let out = bin()
        .args(["compare", "-q", "--json", "--dataset"])
        .arg(&sim)
        .args(["--models", &models, "--report"])
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = v["models"].as_array().unwrap();
    let names: Vec<&str> = results
        .iter()
        .map(|r| r["model"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["gbdt", "forest", "rules", "formula"]);
    for r in results {
        assert_eq!(
            r["windows"], results[0]["windows"],
            "same windows for every model"
        );
        assert_eq!(r["positives"], results[0]["positives"]);
        eprintln!(
            "{}: PR-AUC {} ROC-AUC {} TPR@1% {} detected {} FA/h {}",
            r["model"],
            r["pr_auc"],
            r["roc_auc"],
            r["tpr_at_fpr_1pct"],
            r["detection_rate"],
            r["false_alerts_per_hour"]
        );
    }
    // Each model's numbers are what `eval` reports for it alone.
    for (i, m) in [d.join("gbdt.onnx"), d.join("forest.wbm.json")]
        .iter()
        .enumerate()
    {
        let alone = eval_json(&sim, m, &d.join(format!("alone-{i}")));
        for key in [
            "pr_auc",
            "roc_auc",
            "threshold_at_fpr_1pct",
            "tpr_at_fpr_1pct",
            "false_alerts",
            "episodes_total",
        ] {
            assert_eq!(alone[key], results[i][key], "{m:?} {key}");
        }
        assert_eq!(alone["detection_delay_s"], results[i]["detection_delay_s"]);
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["models"].as_array().unwrap().len(), 4);

    // The page in headless Chromium: every image decodes, one table row per model.
    let chromium = ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(chromium) = chromium else {
        missing("chromium");
        return;
    };
    let url = format!("file://{}", report.join("index.html").display());
    let dom = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", d.join("profile").display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&dom.stdout);
    let n_images = dom.matches("<img ").count();
    assert!(n_images >= 5, "images in the page: {n_images}");
    assert!(
        dom.contains(&format!("data-images=\"{n_images}/{n_images}\"")),
        "every image decoded"
    );
    let table = dom
        .split("id=\"models\"")
        .nth(1)
        .and_then(|s| s.split("</table>").next())
        .expect("the models table");
    for (name, r) in names.iter().zip(results) {
        assert!(table.contains(&format!(">{name}<")), "{name} in the table");
        let ap = format!("{:.4}", r["pr_auc"].as_f64().unwrap());
        assert!(table.contains(&ap), "{name}: PR-AUC {ap} in the table");
    }
    assert!(table.contains("delay p50"));
}

#[test]
fn train_report_has_the_feature_importance_chart_and_table() {
    let tmp = tempfile::tempdir().unwrap();
    for (algo, extra) in [
        (
            "forest",
            vec![
                "--trees",
                "10",
                "--forest-depth",
                "6",
                "--sample-rows",
                "10000",
            ],
        ),
        ("logistic", vec![]),
    ] {
        let o = train(tmp.path(), algo, algo, &extra);
        let dir = o
            .report_index
            .as_ref()
            .unwrap()
            .parent()
            .unwrap()
            .to_path_buf();
        let png = dir.join("feature_importance.png");
        assert!(png.is_file() && std::fs::metadata(&png).unwrap().len() > 1000);
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
        let imp = &json["feature_importance"];
        let feats = imp["features"].as_array().unwrap();
        assert_eq!(feats.len(), o.model_file().unwrap().schema.len());
        assert_eq!(
            feats[0]["feature"],
            o.model_file().unwrap().feature_importance[0]
                .feature
                .as_str()
        );
        let share: f64 = feats
            .iter()
            .map(|f| f["gain_share"].as_f64().unwrap())
            .sum();
        assert!((share - 1.0).abs() < 1e-9, "{algo}: shares sum to {share}");
        let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
        assert!(html.contains("id=\"importance\""));
        assert!(html.contains(&format!(
            ">{}<",
            o.model_file().unwrap().feature_importance[0].feature
        )));
        eprintln!(
            "{algo}: {} first ({:.1}%), measure {}",
            o.model_file().unwrap().feature_importance[0].feature,
            o.model_file().unwrap().feature_importance[0].gain_share * 100.0,
            imp["measure"]
        );
    }
}
