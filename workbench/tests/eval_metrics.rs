//! The evaluation's numbers against scikit-learn, run from the test venv on the very
//! scores the workbench writes, and the report rendered by a real browser.

mod common;
#[allow(unused_imports)]
use common::*;

use std::path::Path;
use std::process::Command;

const SKLEARN: &str = r#"
import csv, json, sys
from sklearn.metrics import average_precision_score, roc_auc_score
y, s = [], []
with open(sys.argv[1]) as f:
    for row in csv.DictReader(f):
        y.append(int(row["label"])); s.append(float(row["score"]))
print(json.dumps({"ap": average_precision_score(y, s), "auc": roc_auc_score(y, s), "n": len(y), "pos": sum(y)}))
"#;

fn sklearn_on(py: &Path, scores: &Path) -> serde_json::Value {
    let out = Command::new(py)
        .args(["-c", SKLEARN])
        .arg(scores)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json from python")
}

fn eval(args: &[&str], dir: &Path) -> serde_json::Value {
    let scores = dir.join("scores.csv");
    let report = dir.join("report");
    let out = bin()
        .args(["eval", "-q", "--scores"])
        .arg(&scores)
        .arg("--report")
        .arg(&report)
        .args(args)
        .output()
        .expect("workbench runs");
    assert!(
        out.status.success(),
        "eval failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(report.join("report.json")).expect("report.json");
    serde_json::from_str(&text).expect("valid report.json")
}

fn assert_same(report: &serde_json::Value, sk: &serde_json::Value) {
    let ap = report["pr_auc"].as_f64().unwrap();
    let auc = report["roc_auc"].as_f64().unwrap();
    assert_eq!(report["windows"], sk["n"]);
    assert_eq!(report["positives"], sk["pos"]);
    assert!(
        (ap - sk["ap"].as_f64().unwrap()).abs() <= 1e-9,
        "AP {ap} vs sklearn {}",
        sk["ap"]
    );
    assert!(
        (auc - sk["auc"].as_f64().unwrap()).abs() <= 1e-9,
        "AUC {auc} vs sklearn {}",
        sk["auc"]
    );
}

#[test]
fn synthetic_rules_metrics_equal_scikit_learn() {
    let Some(py) = python_with("sklearn") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let report = eval(&["--dataset", "synthetic", "--model", "rules"], tmp.path());
    let sk = sklearn_on(&py, &tmp.path().join("scores.csv"));
    assert_same(&report, &sk);
    // The rules' continuous scores have many ties (0 for idle hosts): the tie handling
    // is exercised, not just the easy case.
    assert!(report["positives"].as_u64().unwrap() > 10);
    for key in [
        "threshold_at_fpr_1pct",
        "tpr_at_fpr_1pct",
        "base_rate",
        "detection_delay_s",
        "false_alerts_per_hour",
        "per_attack",
        "episodes",
        "kpi",
    ] {
        assert!(report.get(key).is_some(), "report.json has {key}");
    }
}

#[test]
fn formula_metrics_on_public_samples_equal_scikit_learn() {
    let Some(py) = python_with("sklearn") else {
        return;
    };
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/public");
    if !data.is_dir() && std::env::var_os("WORKBENCH_PUBLIC_DATA").is_none() {
        missing("../shared/datasets/public");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let report = eval(
        &["--dataset", "public-samples", "--model", "formula"],
        tmp.path(),
    );
    let sk = sklearn_on(&py, &tmp.path().join("scores.csv"));
    assert_same(&report, &sk);
    assert_eq!(
        report["label_coverage"].as_f64(),
        Some(1.0),
        "every public episode matches a window"
    );
}

/// Renders index.html in headless Debian Chromium: every image decodes and the key
/// numbers are on the page. Also leaves a screenshot next to the report for people.
#[test]
fn report_renders_in_headless_chromium() {
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
    let tmp = tempfile::tempdir().unwrap();
    let report = eval(&["--dataset", "synthetic", "--model", "rules"], tmp.path());
    let index = tmp.path().join("report/index.html");
    let profile = tmp.path().join("chromium-profile");
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--virtual-time-budget=5000",
    ];
    let url = format!("file://{}", index.display());
    let dom = Command::new(chromium)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&dom.stdout);
    let n_images = dom.matches("<img ").count();
    assert!(n_images >= 5, "images in the page: {n_images}");
    assert!(
        dom.contains(&format!("data-images=\"{n_images}/{n_images}\"")),
        "every image decoded in the browser: {}",
        dom.split("data-images")
            .nth(1)
            .map(|s| &s[..20.min(s.len())])
            .unwrap_or("(attribute missing)")
    );
    let ap = format!("{:.4}", report["pr_auc"].as_f64().unwrap());
    let thr = format!("{:.4}", report["threshold_at_fpr_1pct"].as_f64().unwrap());
    assert!(dom.contains(&ap), "PR-AUC {ap} on the page");
    assert!(dom.contains(&thr), "threshold {thr} on the page");
    assert!(dom.contains("KPIs of the 60-day plan"));
    let shot = tmp.path().join("report/screenshot.png");
    let _ = Command::new(chromium)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1300,2400")
        .arg(&url)
        .output();
    assert!(shot.is_file(), "screenshot written");
}
