//! ONNX export and inference: both exported forms score like the native ensemble
//! through tract (NaN included), through Python onnxruntime from the test venv, and
//! (with `--features ort`) through ort; models of another schema, or without workbench
//! metadata, are refused; `eval --model x.onnx` equals `eval --model x.wbm.json`.

mod common;
#[allow(unused_imports)]
use common::*;

use std::path::Path;
use std::process::Command;

use prost::Message;
use workbench::engine::{FeatureSchema, WindowConfig};
use workbench::eval::Scorer;
use workbench::model::onnx::{OnnxOptions, OnnxScorer};
use workbench::model::TrainingData;
use workbench::train::collect;
use workbench::train::{train_datasets, TrainOutcome};

/// Trains 60 trees on 120 s of mixed traffic and exports both ONNX forms.
fn train_and_export(dir: &Path) -> TrainOutcome {
    let out = dir.join("m.wbm.json");
    let report = dir.join("report");
    let a = train_args(&[
        "--dataset",
        "mixed-21",
        "--out",
        out.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--trees",
        "60",
        "--subsample",
        "0.8",
        "--colsample",
        "0.8",
        "--export",
        "onnx",
        "--onnx-form",
        "both",
    ]);
    train_datasets(&a, &mixed(21, 120.0), None, true).expect("training works")
}

/// Real rows of another simulation, followed by copies with NaN holes (every third
/// value, and whole rows of NaN) so that every missing-value branch is taken.
fn rows_with_nan(data: &TrainingData, max_rows: usize) -> (Vec<f32>, usize) {
    let k = data.n_features();
    let n = data.len().min(max_rows);
    let mut v: Vec<f32> = data.values[..n * k].to_vec();
    for r in 0..n {
        let mut row = data.row(r).to_vec();
        for (j, x) in row.iter_mut().enumerate() {
            if (j + r) % 3 == 0 {
                *x = f32::NAN;
            }
        }
        v.extend_from_slice(&row);
    }
    v.extend(std::iter::repeat_n(f32::NAN, k));
    (v, 2 * n + 1)
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = (x - y).abs();
            if d.is_nan() {
                f64::INFINITY
            } else {
                d
            }
        })
        .fold(0.0, f64::max)
}

/// Checks the model with onnx.checker, reads its metadata, and writes onnxruntime's
/// probabilities[:, 1] (float32 LE) for rows given as float32 LE.
const ORT_PY: &str = r#"
import json, sys
import numpy as np, onnx, onnxruntime as ort
model, rows, k, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
m = onnx.load(model)
onnx.checker.check_model(m, full_check=True)
x = np.fromfile(rows, dtype="<f4").reshape(-1, k)
s = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
label, probs = s.run(["label", "probabilities"], {"features": x})
assert probs.shape == (x.shape[0], 2), probs.shape
probs[:, 1].astype("<f4").tofile(out)
print(json.dumps({p.key: p.value for p in m.metadata_props}))
"#;

fn onnxruntime_python(
    py: &Path,
    model: &Path,
    rows: &[f32],
    k: usize,
    dir: &Path,
) -> (Vec<f64>, serde_json::Value) {
    let rows_path = dir.join("rows.f32");
    let out_path = dir.join("probs.f32");
    let bytes: Vec<u8> = rows.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&rows_path, bytes).unwrap();
    let out = Command::new(py)
        .args(["-c", ORT_PY])
        .arg(model)
        .arg(&rows_path)
        .arg(k.to_string())
        .arg(&out_path)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let probs = std::fs::read(&out_path)
        .unwrap()
        .chunks_exact(4)
        .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
        .collect();
    (probs, serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn exported_models_score_like_the_native_ensemble_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let o = train_and_export(tmp.path());
    eprintln!(
        "trained {} trees and exported in {:.1} s: {:?}",
        o.model_file().unwrap().ensemble.trees.len(),
        started.elapsed().as_secs_f64(),
        o.onnx
    );
    assert_eq!(o.onnx.len(), 2);
    for x in &o.onnx {
        assert!(x.path.is_file());
        assert!(x.max_abs_diff <= 1e-5, "{x:?}");
    }
    let data = collect(&mixed(22, 40.0), &WindowConfig::default(), true).unwrap();
    let k = data.n_features();
    let (rows, n) = rows_with_nan(&data, 3000);
    let native: Vec<f64> = rows
        .chunks_exact(k)
        .map(|r| o.model_file().unwrap().ensemble.predict_proba(r))
        .collect();
    assert!(native.iter().all(|p| p.is_finite()));
    for x in &o.onnx {
        let s = OnnxScorer::load_with(&x.path, &data.schema, &OnnxOptions::default()).unwrap();
        assert_eq!(
            s.default_threshold(),
            o.model_file().unwrap().threshold.value
        );
        let t = std::time::Instant::now();
        let tract = s.score_rows(&rows, n).unwrap();
        let d = max_diff(&native, &tract);
        eprintln!(
            "{} through tract: {n} rows in {:.3} s, max |native - tract| = {d:.3e}",
            x.form,
            t.elapsed().as_secs_f64()
        );
        assert!(d <= 1e-5, "{}: {d}", x.form);
        // The Scorer path (f64 rows, one at a time) too, on a few rows.
        for (r, p) in rows.chunks_exact(k).zip(&native).step_by(97) {
            let row: Vec<f64> = r.iter().map(|&v| f64::from(v)).collect();
            assert!((s.score(&row).value - p).abs() <= 1e-5);
        }
    }

    let Some(py) = python_with("onnxruntime, onnx, numpy") else {
        return;
    };
    for x in &o.onnx {
        let (theirs, metadata) = onnxruntime_python(&py, &x.path, &rows, k, tmp.path());
        let d = max_diff(&native, &theirs);
        eprintln!(
            "{} through onnxruntime-python: max |native - ort| = {d:.3e}",
            x.form
        );
        assert!(d <= 1e-5, "{}: {d}", x.form);
        assert_eq!(
            metadata["workbench.schema_fingerprint"],
            data.schema.fingerprint()
        );
        assert_eq!(metadata["workbench.onnx_form"], x.form.as_str());
        let names: Vec<String> =
            serde_json::from_str(metadata["workbench.feature_names"].as_str().unwrap()).unwrap();
        assert_eq!(names, data.schema.names);
        assert_eq!(
            metadata["workbench.training_data_sha256"],
            o.model_file().unwrap().training.data_sha256.as_str()
        );
        let th: f64 = metadata["workbench.threshold"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(th, o.model_file().unwrap().threshold.value);
    }

    #[cfg(feature = "ort")]
    {
        if std::env::var_os("ORT_DYLIB_PATH").is_none() {
            missing("ORT_DYLIB_PATH (libonnxruntime.so) for the ort engine");
            return;
        }
        let opts = OnnxOptions {
            engine: workbench::model::onnx::OnnxEngine::Ort,
            ..OnnxOptions::from_env().unwrap()
        };
        for x in &o.onnx {
            let s = OnnxScorer::load_with(&x.path, &data.schema, &opts).unwrap();
            let theirs = s.score_rows(&rows, n).unwrap();
            let d = max_diff(&native, &theirs);
            eprintln!("{} through ort: max |native - ort| = {d:.3e}", x.form);
            assert!(d <= 1e-5, "{}: {d}", x.form);
        }
    }
}

#[test]
fn models_of_another_schema_or_without_metadata_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s.wbm.json");
    let a = train_args(&[
        "--dataset",
        "mixed-21",
        "--out",
        out.to_str().unwrap(),
        "--report",
        tmp.path().join("r").to_str().unwrap(),
        "--trees",
        "5",
        "--export",
        "onnx",
        "--onnx-form",
        "plain",
    ]);
    let o = train_datasets(&a, &mixed(21, 60.0), None, true).unwrap();
    let path = tmp.path().join("s.onnx");
    assert_eq!(o.onnx[0].path, path);
    let ours = FeatureSchema::for_widths(&[2.0]);
    let other = FeatureSchema::for_widths(&[2.0, 10.0]);
    let opts = OnnxOptions::default();
    OnnxScorer::load_with(&path, &ours, &opts).unwrap();
    let err = format!(
        "{:#}",
        OnnxScorer::load_with(&path, &other, &opts).unwrap_err()
    );
    assert!(err.contains(&ours.fingerprint()), "{err}");
    assert!(err.contains(&other.fingerprint()), "{err}");

    // The same graph without our metadata: refused unless foreign models are allowed,
    // and then only for the schema's width.
    let mut proto =
        tract_onnx::pb::ModelProto::decode(std::fs::read(&path).unwrap().as_slice()).unwrap();
    proto.metadata_props.clear();
    let foreign = tmp.path().join("foreign.onnx");
    std::fs::write(&foreign, proto.encode_to_vec()).unwrap();
    let err = format!(
        "{:#}",
        OnnxScorer::load_with(&foreign, &ours, &opts).unwrap_err()
    );
    assert!(err.contains("no workbench metadata"), "{err}");
    let allow = OnnxOptions {
        allow_foreign: true,
        ..OnnxOptions::default()
    };
    let s = OnnxScorer::load_with(&foreign, &ours, &allow).unwrap();
    assert_eq!(s.default_threshold(), 0.5);
    let err = format!(
        "{:#}",
        OnnxScorer::load_with(&foreign, &other, &allow).unwrap_err()
    );
    assert!(err.contains("features per row"), "{err}");

    // Through the CLI: `eval` names both fingerprints.
    let out = bin()
        .args([
            "eval",
            "--dataset",
            "synthetic",
            "-q",
            "--window",
            "2,10",
            "--model",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&other.fingerprint()), "{err}");

    // Not an ONNX file at all.
    let junk = tmp.path().join("junk.onnx");
    std::fs::write(&junk, b"not a model").unwrap();
    assert!(OnnxScorer::load_with(&junk, &ours, &opts).is_err());
}

fn eval_json(model: &Path, dir: &Path, name: &str) -> serde_json::Value {
    let out = bin()
        .args([
            "eval",
            "--dataset",
            "public-samples",
            "-q",
            "--json",
            "--model",
        ])
        .arg(model)
        .arg("--report")
        .arg(dir.join(name))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Trains a small model, exports both forms and returns the eval JSON of the native
/// model file on public-samples.
fn public_samples_native(dir: &Path) -> serde_json::Value {
    let out = dir.join("p.wbm.json");
    let a = train_args(&[
        "--dataset",
        "mixed-21",
        "--out",
        out.to_str().unwrap(),
        "--report",
        dir.join("r").to_str().unwrap(),
        "--trees",
        "40",
        "--export",
        "onnx",
        "--onnx-form",
        "both",
    ]);
    train_datasets(&a, &mixed(21, 90.0), None, true).unwrap();
    eval_json(&out, dir, "report-native")
}

fn same_eval(dir: &Path, native: &serde_json::Value, file: &str) {
    let ap = native["pr_auc"].as_f64().unwrap();
    let t = std::time::Instant::now();
    let v = eval_json(&dir.join(file), dir, &format!("report-{file}"));
    let theirs = v["pr_auc"].as_f64().unwrap();
    eprintln!(
        "public-samples PR-AUC: native {ap}, {file} {theirs} ({} windows, {:.1} s)",
        v["windows"],
        t.elapsed().as_secs_f64()
    );
    assert!((ap - theirs).abs() <= 1e-6, "{file}: {ap} vs {theirs}");
    assert_eq!(v["windows"], native["windows"]);
    assert_eq!(
        v["roc_auc"].as_f64().is_some(),
        native["roc_auc"].as_f64().is_some()
    );
}

/// The plain form (fast in tract: ~12 s for the 273k windows of public-samples).
#[test]
fn eval_with_the_onnx_file_equals_eval_with_the_model_file() {
    if public_dir().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let native = public_samples_native(tmp.path());
    same_eval(tmp.path(), &native, "p.plain.onnx");
}

/// The standard TreeEnsembleClassifier form through tract's own tree operator: equal,
/// but about 2k rows/s scored one at a time (measured 133 s for public-samples), so
/// run on demand: `cargo test -p workbench --test onnx -- --ignored`.
#[test]
#[ignore = "slow: tract's TreeEnsembleClassifier scores ~2k rows/s"]
fn eval_with_the_standard_onnx_file_equals_eval_with_the_model_file() {
    if public_dir().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let native = public_samples_native(tmp.path());
    same_eval(tmp.path(), &native, "p.onnx");
}

/// Rows per second on 100k real rows (tiled) for a 100-tree depth-6 model: native,
/// tract (both forms; the standard one on 5k rows), onnxruntime-python, and ort when
/// built with `--features ort`. Prints only: `-- --ignored --nocapture`.
#[test]
#[ignore = "benchmark"]
fn throughput_on_100k_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("b.wbm.json");
    let a = train_args(&[
        "--dataset",
        "mixed-21",
        "--out",
        out.to_str().unwrap(),
        "--report",
        tmp.path().join("r").to_str().unwrap(),
        "--trees",
        "100",
        "--depth",
        "6",
        "--early-stopping",
        "0",
        "--export",
        "onnx",
        "--onnx-form",
        "both",
    ]);
    let o = train_datasets(&a, &mixed(21, 120.0), None, true).unwrap();
    let e = &o.model_file().unwrap().ensemble;
    eprintln!("model: {} trees, {} nodes", e.trees.len(), e.node_count());
    let data = collect(&mixed(22, 60.0), &WindowConfig::default(), true).unwrap();
    let k = data.n_features();
    let n = 100_000;
    let rows: Vec<f32> = data.values.iter().copied().cycle().take(n * k).collect();
    let t = std::time::Instant::now();
    let native: Vec<f64> = rows.chunks_exact(k).map(|r| e.predict_proba(r)).collect();
    eprintln!("native: {:.0} rows/s", n as f64 / t.elapsed().as_secs_f64());
    #[allow(unused_mut)]
    let mut engines = vec![("tract", OnnxOptions::default())];
    #[cfg(feature = "ort")]
    engines.push((
        "ort",
        OnnxOptions {
            engine: workbench::model::onnx::OnnxEngine::Ort,
            ..OnnxOptions::from_env().unwrap()
        },
    ));
    for (engine, opts) in &engines {
        for x in &o.onnx {
            let s = OnnxScorer::load_with(&x.path, &data.schema, opts).unwrap();
            let m = if x.form == "plain" || *engine != "tract" {
                n
            } else {
                5_000
            };
            let t = std::time::Instant::now();
            let p = s.score_rows(&rows[..m * k], m).unwrap();
            let batch = m as f64 / t.elapsed().as_secs_f64();
            let t = std::time::Instant::now();
            let single = 2_000;
            for r in rows.chunks_exact(k).take(single) {
                let row: Vec<f64> = r.iter().map(|&v| f64::from(v)).collect();
                std::hint::black_box(s.score(&row));
            }
            let one = single as f64 / t.elapsed().as_secs_f64();
            eprintln!(
                "{engine} {}: batch of {m}: {batch:.0} rows/s; row by row: {one:.0} rows/s; max diff {:.2e}",
                x.form,
                max_diff(&native[..m], &p)
            );
        }
    }
    let Some(py) = python_with("onnxruntime, onnx, numpy") else {
        return;
    };
    let rows_path = tmp.path().join("rows.f32");
    let bytes: Vec<u8> = rows.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&rows_path, bytes).unwrap();
    for x in &o.onnx {
        let script = r#"
import sys, time, numpy as np, onnxruntime as ort
x = np.fromfile(sys.argv[2], dtype="<f4").reshape(-1, int(sys.argv[3]))
o = ort.SessionOptions(); o.intra_op_num_threads = 1
s = ort.InferenceSession(sys.argv[1], o, providers=["CPUExecutionProvider"])
s.run(["probabilities"], {"features": x[:10]})
t = time.perf_counter(); s.run(["probabilities"], {"features": x}); d = time.perf_counter() - t
print(f"{x.shape[0] / d:.0f}")
"#;
        let out = Command::new(&py)
            .args(["-c", script])
            .arg(&x.path)
            .arg(&rows_path)
            .arg(k.to_string())
            .output()
            .unwrap();
        eprintln!(
            "onnxruntime-python (1 thread) {}: batch of {n}: {} rows/s {}",
            x.form,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
}

/// Trains `algo` on 120 s of mixed traffic with `--export onnx --onnx-form both`.
fn train_algo(dir: &Path, algo: &str, extra: &[&str]) -> TrainOutcome {
    let out = dir.join(format!("{algo}.wbm.json"));
    let report = dir.join(format!("{algo}-report"));
    let mut args = vec![
        "--dataset",
        "mixed-21",
        "--algo",
        algo,
        "--out",
        out.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--export",
        "onnx",
        "--onnx-form",
        "both",
    ];
    args.extend_from_slice(extra);
    train_datasets(&train_args(&args), &mixed(21, 120.0), None, true).expect("training works")
}

/// Native vs tract vs onnxruntime-python (and ort with `--features ort`) for every
/// export of a trained model, on real rows of another simulation (plus NaN holes when
/// the model routes missing values).
fn check_parity(o: &TrainOutcome, with_nan: bool, dir: &Path) -> Vec<(String, String, f64)> {
    let data = collect(&mixed(22, 40.0), &WindowConfig::default(), true).unwrap();
    let k = data.n_features();
    let (rows, n) = if with_nan {
        rows_with_nan(&data, 3000)
    } else {
        let n = data.len().min(6000);
        (data.values[..n * k].to_vec(), n)
    };
    let native: Vec<f64> = rows
        .chunks_exact(k)
        .map(|r| o.model_file().unwrap().predict_proba(r))
        .collect();
    assert!(native.iter().all(|p| p.is_finite()));
    let distinct: std::collections::BTreeSet<u64> = native.iter().map(|p| p.to_bits()).collect();
    assert!(
        distinct.len() > 20,
        "scores barely vary: {}",
        distinct.len()
    );
    let mut measured = Vec::new();
    for x in &o.onnx {
        assert!(x.max_abs_diff <= 1e-5, "{x:?}");
        let s = OnnxScorer::load_with(&x.path, &data.schema, &OnnxOptions::default()).unwrap();
        assert_eq!(
            s.default_threshold(),
            o.model_file().unwrap().threshold.value
        );
        let tract = s.score_rows(&rows, n).unwrap();
        let d = max_diff(&native, &tract);
        eprintln!(
            "{} {}: max |native - tract| = {d:.3e} on {n} rows",
            o.model_file().unwrap().kind.name(),
            x.form
        );
        assert!(d <= 1e-5, "{}: {d}", x.form);
        measured.push((x.form.clone(), "tract".to_string(), d));
    }
    if let Some(py) = python_with("onnxruntime, onnx, numpy") {
        for x in &o.onnx {
            let (theirs, metadata) = onnxruntime_python(&py, &x.path, &rows, k, dir);
            let d = max_diff(&native, &theirs);
            eprintln!(
                "{} {}: max |native - onnxruntime-python| = {d:.3e}",
                o.model_file().unwrap().kind.name(),
                x.form
            );
            assert!(d <= 1e-5, "{}: {d}", x.form);
            assert_eq!(
                metadata["workbench.model_kind"],
                o.model_file().unwrap().kind.name()
            );
            measured.push((x.form.clone(), "onnxruntime-python".to_string(), d));
        }
    }
    #[cfg(feature = "ort")]
    {
        if std::env::var_os("ORT_DYLIB_PATH").is_none() {
            missing("ORT_DYLIB_PATH (libonnxruntime.so) for the ort engine");
        } else {
            let opts = OnnxOptions {
                engine: workbench::model::onnx::OnnxEngine::Ort,
                ..OnnxOptions::from_env().unwrap()
            };
            for x in &o.onnx {
                let s = OnnxScorer::load_with(&x.path, &data.schema, &opts).unwrap();
                let d = max_diff(&native, &s.score_rows(&rows, n).unwrap());
                eprintln!(
                    "{} {} through ort: {d:.3e}",
                    o.model_file().unwrap().kind.name(),
                    x.form
                );
                assert!(d <= 1e-5, "{}: {d}", x.form);
            }
        }
    }
    measured
}

#[test]
fn forest_exports_score_like_the_native_forest_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let o = train_algo(
        tmp.path(),
        "forest",
        &[
            "--trees",
            "30",
            "--forest-depth",
            "8",
            "--sample-rows",
            "20000",
        ],
    );
    assert_eq!(
        o.model_file().unwrap().kind,
        workbench::model::ModelKind::FOREST
    );
    assert_eq!(o.model_file().unwrap().ensemble.trees.len(), 30);
    assert_eq!(o.onnx.len(), 2, "tree_ensemble and plain");
    check_parity(&o, true, tmp.path());
}

#[test]
fn logistic_export_scores_like_the_native_model_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let o = train_algo(tmp.path(), "logistic", &[]);
    assert_eq!(
        o.model_file().unwrap().kind,
        workbench::model::ModelKind::LOGISTIC
    );
    // One graph of standard operators, whatever --onnx-form says.
    assert_eq!(o.onnx.len(), 1);
    assert_eq!(o.onnx[0].form, "plain");
    let bytes = std::fs::read(&o.onnx[0].path).unwrap();
    let proto = tract_onnx::pb::ModelProto::decode(bytes.as_slice()).unwrap();
    let ops: Vec<String> = proto
        .graph
        .unwrap()
        .node
        .iter()
        .map(|n| n.op_type.clone())
        .collect();
    for op in ["Sub", "Div", "MatMul", "Add", "Sigmoid"] {
        assert!(ops.iter().any(|o| o == op), "{op} missing from {ops:?}");
    }
    // NaN propagates to NaN in both (the engine never emits NaN): real rows only.
    check_parity(&o, false, tmp.path());
}
