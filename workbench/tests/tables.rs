//! Feature tables as dataset inputs: a directory of `*.parquet` (written by `workbench
//! features`) plus `labels.csv` evaluates exactly like the captures the table was
//! computed from, and a table of another schema or window is refused by name.

mod common;
#[allow(unused_imports)]
use common::*;

use std::path::Path;
use std::process::Output;

fn run(args: &[&str]) -> Output {
    let out = bin().args(args).output().expect("workbench runs");
    if !out.status.success() {
        eprintln!("stderr: {}", String::from_utf8_lossy(&out.stderr));
    }
    out
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

/// A simulated capture with its labels in `dir`, and the same traffic as a table in
/// `dir/../table` (with a copy of the labels).
fn simulated_capture_and_table(root: &Path) -> (String, String) {
    let cap = root.join("cap");
    let table = root.join("table");
    std::fs::create_dir_all(&table).unwrap();
    let o = run(&[
        "simulate",
        "--scenario",
        "mixed",
        "--seconds",
        "40",
        "--seed",
        "7",
        "--out",
        cap.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success());
    let o = run(&[
        "features",
        cap.join("capture.pcap").to_str().unwrap(),
        "--out",
        table.join("rows.parquet").to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success());
    std::fs::copy(cap.join("labels.csv"), table.join("labels.csv")).unwrap();
    (
        cap.to_str().unwrap().to_string(),
        table.to_str().unwrap().to_string(),
    )
}

#[test]
fn a_table_evaluates_like_its_capture() {
    let tmp = tempfile::tempdir().unwrap();
    let (cap, table) = simulated_capture_and_table(tmp.path());
    let mut results = Vec::new();
    for ds in [&cap, &table] {
        for model in ["rules", "default"] {
            let o = run(&[
                "eval",
                "--dataset",
                ds,
                "--model",
                model,
                "--json",
                "-q",
                "--report",
            ]
            .into_iter()
            .chain([tmp.path().join(format!("r-{model}")).to_str().unwrap()])
            .collect::<Vec<_>>());
            assert!(o.status.success(), "eval {ds} {model}");
            results.push(json(&o));
        }
    }
    for (a, b) in results[..2].iter().zip(&results[2..]) {
        for key in [
            "windows",
            "positives",
            "pr_auc",
            "roc_auc",
            "threshold_at_fpr_1pct",
        ] {
            assert_eq!(
                a[key], b[key],
                "{key}: capture {} vs table {}",
                a[key], b[key]
            );
        }
        assert!(a["windows"].as_u64().unwrap() > 1000);
    }
}

/// `eval --model rules` on `table` with `window` (None: the default); must fail, and
/// its stderr is returned.
fn eval_error(table: &str, window: Option<&str>, report: &Path) -> String {
    let mut args = vec![
        "eval",
        "--dataset",
        table,
        "--model",
        "rules",
        "-q",
        "--report",
    ];
    args.push(report.to_str().unwrap());
    if let Some(w) = window {
        args.extend(["--window", w]);
    }
    let o = run(&args);
    assert!(!o.status.success(), "eval {args:?} should fail");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_table_of_another_window_or_schema_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, table) = simulated_capture_and_table(tmp.path());
    // Another primary window than the one the table was computed with.
    let err = eval_error(&table, Some("4"), &tmp.path().join("r"));
    assert!(
        err.contains("rows.parquet") && err.contains("window_s"),
        "{err}"
    );
    // Another schema: two widths give suffixed column names.
    let err = eval_error(&table, Some("2,10"), &tmp.path().join("r2"));
    assert!(
        err.contains("rows.parquet") && err.contains("schema") && err.contains("differ"),
        "{err}"
    );
    // Not a feature table at all.
    std::fs::write(Path::new(&table).join("rows.parquet"), b"not parquet").unwrap();
    let err = eval_error(&table, None, &tmp.path().join("r3"));
    assert!(err.contains("rows.parquet"), "{err}");
}
