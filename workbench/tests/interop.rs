//! External-model interop: an XGBoost classifier exported by onnxmltools and
//! scikit-learn models exported by skl2onnx (zipmap off), trained in the test venv on
//! the workbench's own Parquet features (`workbench features --out x.parquet`) with the
//! labels `workbench eval --scores` gives the same windows, score through `--model
//! x.onnx --foreign-model` exactly like onnxruntime-python on the same rows (≤ 1e-5),
//! through tract and (with `--features ort`) through ort. Without the flag they are
//! refused.

mod common;
#[allow(unused_imports)]
use common::*;

use std::path::Path;
use std::process::Command;

use workbench::engine::FeatureSchema;
use workbench::model::onnx::{OnnxOptions, OnnxScorer};

fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Reads the feature table and the scored-window labels, trains the models, exports
/// them, and writes the rows (float32 LE) and onnxruntime's probabilities[:, 1] for
/// each model (float32 LE, `<name>.ort.f32`). Prints the model names.
const TRAIN_PY: &str = r#"
import csv, json, sys
import numpy as np, onnx, onnxruntime as ort, pyarrow.parquet as pq
import xgboost as xgb
from onnxmltools import convert_xgboost
from onnxmltools.convert.common.data_types import FloatTensorType as XFloat
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType as SFloat
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

table, scores, out = sys.argv[1], sys.argv[2], sys.argv[3]
t = pq.read_table(table)
names = t.column_names[3:]
host = np.array([e != "*" for e in t.column("entity").to_pylist()])
X = np.column_stack([t.column(c).to_numpy() for c in names]).astype(np.float32)[host]
ends = t.column("window_end").to_numpy()[host]
hosts = np.array(t.column("entity").to_pylist())[host]
with open(scores) as f:
    rows = list(csv.DictReader(f))
assert len(rows) == len(X), (len(rows), len(X))
for r, e, h in zip(rows, ends, hosts):
    assert float(r["window_end"]) == e and r["host"] == h, (r, e, h)
y = np.array([int(r["label"]) for r in rows])
assert 0 < y.sum() < len(y), y.sum()
k = X.shape[1]
models = {}
clf = xgb.XGBClassifier(n_estimators=40, max_depth=5, learning_rate=0.2,
                        tree_method="hist", n_jobs=2, random_state=0).fit(X, y)
models["xgboost"] = convert_xgboost(clf, initial_types=[("input", XFloat([None, k]))],
                                    target_opset=15)
for name, m in [("sklearn_rf", RandomForestClassifier(n_estimators=25, max_depth=8,
                                                       random_state=0, n_jobs=2)),
                ("sklearn_gb", GradientBoostingClassifier(n_estimators=30, max_depth=3,
                                                           subsample=0.7, max_features=0.3,
                                                           random_state=0))]:
    m.fit(X, y)
    models[name] = convert_sklearn(m, initial_types=[("input", SFloat([None, k]))],
                                   options={id(m): {"zipmap": False}},
                                   target_opset={"": 17, "ai.onnx.ml": 3})
X.astype("<f4").tofile(f"{out}/rows.f32")
for name, m in models.items():
    onnx.checker.check_model(m)
    onnx.save(m, f"{out}/{name}.onnx")
    s = ort.InferenceSession(f"{out}/{name}.onnx", providers=["CPUExecutionProvider"])
    p = s.run(None, {"input": X})[1]
    assert p.shape == (len(X), 2), p.shape
    p[:, 1].astype("<f4").tofile(f"{out}/{name}.ort.f32")
print(json.dumps({"models": list(models), "rows": len(X), "features": k,
                  "positives": int(y.sum())}))
"#;

fn read_f32(p: &Path) -> Vec<f32> {
    std::fs::read(p)
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn xgboost_and_sklearn_onnx_models_score_like_onnxruntime_python() {
    let Some(py) =
        python_with("onnxruntime, onnx, numpy, pyarrow, xgboost, onnxmltools, skl2onnx, sklearn")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sim = d.join("sim");
    run_ok(
        bin()
            .args([
                "simulate",
                "--scenario",
                "mixed",
                "--seconds",
                "90",
                "--seed",
                "31",
                "--intensity",
                "3",
                "-q",
                "--out",
            ])
            .arg(&sim),
    );
    let table = d.join("x.parquet");
    run_ok(
        bin()
            .args(["features", "-q"])
            .arg(sim.join("capture.pcap"))
            .arg("--out")
            .arg(&table),
    );
    let scores = d.join("scores.csv");
    run_ok(
        bin()
            .args(["eval", "-q", "--model", "rules", "--dataset"])
            .arg(&sim)
            .arg("--scores")
            .arg(&scores)
            .arg("--report")
            .arg(d.join("rules-report")),
    );
    let out = run_ok(
        Command::new(&py)
            .args(["-c", TRAIN_PY])
            .arg(&table)
            .arg(&scores)
            .arg(d),
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("trained in the venv: {info}");
    let schema = FeatureSchema::for_widths(&[2.0]);
    let k = schema.len();
    assert_eq!(info["features"].as_u64().unwrap() as usize, k);
    let rows = read_f32(&d.join("rows.f32"));
    let n = rows.len() / k;
    let allow = OnnxOptions {
        allow_foreign: true,
        ..OnnxOptions::default()
    };
    #[allow(unused_mut)]
    let mut engines = vec![("tract", allow.clone())];
    #[cfg(feature = "ort")]
    {
        if std::env::var_os("ORT_DYLIB_PATH").is_none() {
            missing("ORT_DYLIB_PATH (libonnxruntime.so) for the ort engine");
        } else {
            engines.push((
                "ort",
                OnnxOptions {
                    engine: workbench::model::onnx::OnnxEngine::Ort,
                    allow_foreign: true,
                    ..OnnxOptions::from_env().unwrap()
                },
            ));
        }
    }
    for name in info["models"].as_array().unwrap() {
        let name = name.as_str().unwrap();
        let path = d.join(format!("{name}.onnx"));
        let theirs = read_f32(&d.join(format!("{name}.ort.f32")));
        assert_eq!(theirs.len(), n);
        // Refused without the flag, naming it.
        let err = format!(
            "{:#}",
            OnnxScorer::load_with(&path, &schema, &OnnxOptions::default()).unwrap_err()
        );
        assert!(err.contains("--foreign-model"), "{err}");
        for (engine, opts) in &engines {
            let s = OnnxScorer::load_with(&path, &schema, opts).unwrap();
            let t = std::time::Instant::now();
            let ours = s.score_rows(&rows, n).unwrap();
            let worst = ours
                .iter()
                .zip(&theirs)
                .map(|(a, b)| {
                    let d = (a - f64::from(*b)).abs();
                    if d.is_nan() {
                        f64::INFINITY
                    } else {
                        d
                    }
                })
                .fold(0.0, f64::max);
            let spread: std::collections::BTreeSet<u32> =
                theirs.iter().map(|v| v.to_bits()).collect();
            eprintln!(
                "{name} through {engine}: {n} rows in {:.2} s, max |workbench - onnxruntime-python| = {worst:.3e} ({} distinct scores)",
                t.elapsed().as_secs_f64(),
                spread.len()
            );
            assert!(spread.len() > 2, "{name}: scores barely vary");
            assert!(worst <= 1e-5, "{name} through {engine}: {worst}");
        }
    }

    // Through the CLI: refused without the flag, evaluated with it.
    let xgb = d.join("xgboost.onnx");
    let out = bin()
        .args(["eval", "-q", "--dataset"])
        .arg(&sim)
        .arg("--model")
        .arg(&xgb)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--foreign-model"));
    let out = run_ok(
        bin()
            .args(["eval", "-q", "--json", "--foreign-model", "--dataset"])
            .arg(&sim)
            .arg("--model")
            .arg(&xgb)
            .arg("--report")
            .arg(d.join("xgb-report")),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("eval with the XGBoost model: PR-AUC {}", v["pr_auc"]);
    assert_eq!(v["model"], "xgboost");
    assert_eq!(v["windows"].as_u64().unwrap() as usize, n);
    assert!(v["pr_auc"].as_f64().is_some());
}
