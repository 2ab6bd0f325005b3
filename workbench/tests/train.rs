//! `workbench train`: model files round-trip, schema checks refuse other schemas,
//! loaded scores equal the trained model's, training is deterministic, and the
//! quality on a time-ordered split of simulated mixed traffic.

mod common;
#[allow(unused_imports)]
use common::*;

use std::path::Path;
use std::process::{Command, Output};

use workbench::engine::{FeatureSchema, WindowConfig};
use workbench::eval::Scorer;
use workbench::model::scorer_for;
use workbench::model::{GbdtScorer, ModelFile, ModelKind};
use workbench::train::collect;
use workbench::train::{train_datasets, TrainOutcome};

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("workbench runs");
    eprintln!("stderr: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Trains in-process on six 40 s scenarios (seeds 21-26, attacks of every type in each
/// split), with row and column sampling so the seed matters.
fn train_small(dir: &Path, name: &str, extra: &[&str]) -> TrainOutcome {
    let out = dir.join(format!("{name}.wbm.json"));
    let report = dir.join(format!("{name}-report"));
    let mut args = vec![
        "--dataset",
        "scenario-mix-21",
        "--out",
        out.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--trees",
        "40",
        "--subsample",
        "0.8",
        "--colsample",
        "0.8",
    ];
    args.extend_from_slice(extra);
    train_datasets(&train_args(&args), &scenario_mix(21, 40.0), None, true).expect("training works")
}

#[test]
fn model_file_round_trips_and_scores_like_the_trained_model() {
    let tmp = tempfile::tempdir().unwrap();
    let o = train_small(tmp.path(), "m", &[]);
    let path = &o.path;
    let bytes = std::fs::read(path).unwrap();
    let loaded = ModelFile::load(path).unwrap();
    assert_eq!(
        &loaded,
        o.model_file().unwrap(),
        "the file reads back as trained"
    );
    assert_eq!(
        loaded.to_bytes().unwrap(),
        bytes,
        "and writes back the same bytes"
    );

    let schema = FeatureSchema::for_widths(&[2.0]);
    assert_eq!(loaded.kind, ModelKind::GBDT);
    assert_eq!(loaded.format, "workbench-model");
    assert_eq!(loaded.workbench_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(loaded.schema_fingerprint, schema.fingerprint());
    assert_eq!(loaded.schema, schema);
    assert_eq!(loaded.window, WindowConfig::default());
    let t = &loaded.threshold;
    assert_eq!(t.chosen_on, "validation");
    assert_eq!(t.target_fpr, 0.01);
    assert!((0.0..=1.0).contains(&t.value) && t.fpr <= 0.01, "{t:?}");
    let tr = &loaded.training;
    assert_eq!(tr.datasets, vec!["scenario-mix-21".to_string()]);
    assert_eq!(tr.split.mode, "time");
    assert_eq!(tr.data_sha256.len(), 64);
    assert!(tr.data_sha256.bytes().all(|b| b.is_ascii_hexdigit()));
    let params = tr.params.as_ref().expect("gbdt parameters");
    assert_eq!(params.trees, 40);
    assert_eq!(params.subsample, 0.8);
    assert!(tr.rows.train > 0 && tr.rows.train_positives > 0);
    assert!(tr.rows.validation_positives > 0 && tr.rows.test > 0);
    assert_eq!(
        tr.fit.as_ref().unwrap().trees_kept,
        loaded.ensemble.trees.len()
    );
    // A gbdt file holds none of the other kinds' fields (files written before those
    // kinds existed read the same).
    let keys: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert!(keys.get("logistic").is_none());
    assert!(keys["training"].get("forest").is_none());
    assert!(keys["training"].get("logistic").is_none());
    let imp = &loaded.feature_importance;
    assert_eq!(imp.len(), schema.len());
    assert!(imp.windows(2).all(|w| w[0].gain >= w[1].gain));
    let share: f64 = imp.iter().map(|i| i.gain_share).sum();
    assert!((share - 1.0).abs() < 1e-9, "{share}");
    assert!(o.report_index.as_ref().is_some_and(|p| p.is_file()));

    // Scores through `--model FILE` equal the in-memory model's, bit for bit.
    let scorer = scorer_for(path.to_str().unwrap(), &schema).unwrap();
    assert_eq!(scorer.name(), "m");
    assert_eq!(scorer.default_threshold(), t.value);
    let direct = GbdtScorer::new("m".into(), &o.model_file().unwrap());
    let data = collect(&mixed(21, 150.0), &WindowConfig::default(), true).unwrap();
    let mut row = vec![0f64; data.n_features()];
    let mut distinct = std::collections::BTreeSet::new();
    for i in 0..data.len() {
        for (v, &x) in row.iter_mut().zip(data.row(i)) {
            *v = f64::from(x);
        }
        let from_file = scorer.score(&row).value;
        let in_memory = o.model_file().unwrap().ensemble.predict_proba(data.row(i));
        assert_eq!(from_file.to_bits(), in_memory.to_bits(), "row {i}");
        assert_eq!(direct.score(&row).value.to_bits(), in_memory.to_bits());
        distinct.insert(from_file.to_bits());
    }
    assert!(
        distinct.len() > 10,
        "scores barely vary: {}",
        distinct.len()
    );
}

fn err_text<T>(r: anyhow::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn schema_checks_refuse_other_schemas_and_damaged_files() {
    let tmp = tempfile::tempdir().unwrap();
    let o = train_small(tmp.path(), "m", &[]);
    let good = o.path.to_str().unwrap().to_string();
    let schema = FeatureSchema::for_widths(&[2.0]);
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&o.path).unwrap()).unwrap();
    let write = |name: &str, v: &serde_json::Value| {
        let p = tmp.path().join(name);
        std::fs::write(&p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
        p
    };

    // An edited fingerprint no longer matches the stored names.
    let mut edited = json.clone();
    edited["schema_fingerprint"] = "v1-0123456789abcdef".into();
    let p = write("edited.wbm.json", &edited);
    let e = err_text(ModelFile::load(&p));
    assert!(
        e.contains("v1-0123456789abcdef") && e.contains("edited"),
        "{e}"
    );
    assert!(scorer_for(p.to_str().unwrap(), &schema).is_err());

    // A consistently renamed schema loads, but the engine's schema differs: both
    // fingerprints are named.
    let mut renamed: ModelFile = serde_json::from_value(json.clone()).unwrap();
    renamed.schema.names[0] = "packets_per_fortnight".into();
    renamed.schema_fingerprint = renamed.schema.fingerprint();
    let p = tmp.path().join("renamed.wbm.json");
    renamed.save(&p).unwrap();
    let e = err_text(scorer_for(p.to_str().unwrap(), &schema));
    assert!(
        e.contains(&renamed.schema_fingerprint) && e.contains(&schema.fingerprint()),
        "{e}"
    );

    // Other window widths are another schema.
    let multi = FeatureSchema::for_widths(&[2.0, 10.0]);
    let e = err_text(scorer_for(&good, &multi));
    assert!(
        e.contains(&schema.fingerprint()) && e.contains(&multi.fingerprint()),
        "{e}"
    );
    assert!(e.contains("--window 2"), "{e}");

    // Damaged files are errors, never panics.
    let mut cyclic = json.clone();
    cyclic["ensemble"]["trees"][0]["nodes"][0]["left"] = 0.into();
    assert!(err_text(ModelFile::load(&write("cyclic.wbm.json", &cyclic))).contains("tree 0"));
    let mut wide = json.clone();
    wide["ensemble"]["n_features"] = 31.into();
    assert!(ModelFile::load(&write("wide.wbm.json", &wide)).is_err());
    let mut extra = json.clone();
    extra["surprise"] = 1.into();
    assert!(ModelFile::load(&write("extra.wbm.json", &extra)).is_err());
    let bytes = std::fs::read(&o.path).unwrap();
    let cut = tmp.path().join("cut.wbm.json");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert!(ModelFile::load(&cut).is_err());
    assert!(ModelFile::load(&tmp.path().join("missing.wbm.json")).is_err());
    // A wrong name is refused before writing.
    assert!(o
        .model_file()
        .unwrap()
        .save(&tmp.path().join("m.json"))
        .is_err());
}

#[test]
fn training_is_deterministic_for_a_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let a = train_small(tmp.path(), "a", &["--seed", "3"]);
    let b = train_small(tmp.path(), "b", &["--seed", "3"]);
    let c = train_small(tmp.path(), "c", &["--seed", "4"]);
    let read = |o: &TrainOutcome| std::fs::read(&o.path).unwrap();
    assert!(read(&a) == read(&b), "same seed, different files");
    assert!(
        read(&a) != read(&c),
        "the seed changes nothing: sampling is off?"
    );
    assert_eq!(
        a.model_file().unwrap().training.data_sha256,
        c.model_file().unwrap().training.data_sha256
    );
}

/// Issue 4's in-distribution target, PR-AUC >= 0.95 on a time-ordered split, with the
/// shipped model's recipe (one ensemble; the shipped model bags three):
/// `models/default-train.toml` (34 simulated captures of 90 s — every scenario at
/// several intensities, six mixed, three benign — and seven attack-lab runs as feature
/// tables), split 60/20/20 per capture, so the test part holds the last 20% of each.
#[test]
fn train_cli_on_a_time_split_of_the_scenario_mix_then_eval_on_public_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let manifests = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models");
    let model = tmp.path().join("mixed.wbm.json");
    let report = tmp.path().join("report");
    let started = std::time::Instant::now();
    let out = run(bin()
        .env("WORKBENCH_DATASETS", &manifests)
        .args([
            "train",
            "--dataset",
            "default-train",
            "--algo",
            "gbdt",
            "--json",
            "-q",
        ])
        // The shipped model's parameters (justfile DEFAULT_PARAMS).
        .args([
            "--depth",
            "4",
            "--min-child-weight",
            "10",
            "--subsample",
            "0.8",
        ])
        .args([
            "--colsample",
            "0.5",
            "--early-stopping",
            "20",
            "--positive-weight",
            "sqrt",
            "--split-by",
            "capture",
        ])
        .arg("--out")
        .arg(&model)
        .arg("--report")
        .arg(&report));
    assert!(out.status.success(), "exit {:?}", out.status);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let test_pr_auc = v["test"]["pr_auc"].as_f64().unwrap();
    eprintln!(
        "default-train: {:.1} s wall (features {:.1} s, fit {:.1} s); rows {}; trees {}; validation PR-AUC {}; threshold {}; test PR-AUC {test_pr_auc:.4} (rules {}); test TPR at the model threshold {}",
        started.elapsed().as_secs_f64(),
        v["timings"]["features_s"].as_f64().unwrap(),
        v["timings"]["fit_s"].as_f64().unwrap(),
        v["training"]["rows"],
        v["training"]["fit"]["trees_kept"],
        v["training"]["validation_pr_auc"],
        v["threshold"]["value"],
        v["rules_test"]["pr_auc"],
        v["test"]["at_model_threshold"]["tpr"],
    );
    // Measured 0.962 (rules 0.161) with the lab runs; 0.973 on simulation alone.
    assert!(test_pr_auc >= 0.95, "test PR-AUC {test_pr_auc}");
    assert!(v["test"]["positives"].as_u64().unwrap() > 0);
    assert!(report.join("index.html").is_file());
    assert!(report.join("report.json").is_file());
    ModelFile::load(&model).unwrap();

    // The model scores another dataset through `eval --model`.
    if public_dir().is_some() {
        let out = run(bin()
            .args(["eval", "--dataset", "public-samples", "-q", "--model"])
            .arg(&model)
            .arg("--report")
            .arg(tmp.path().join("public-report")));
        assert!(out.status.success(), "exit {:?}", out.status);
        let text = String::from_utf8_lossy(&out.stdout);
        eprintln!("public-samples with the trained model:\n{text}");
        assert!(text.contains("model mixed: PR-AUC"), "{text}");
    }
}

#[test]
fn train_refuses_other_algorithms_and_bad_names_before_reading_data() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(bin()
        .args([
            "train",
            "--dataset",
            "synthetic",
            "--algo",
            "nonsense",
            "-q",
            "--out",
        ])
        .arg(tmp.path().join("f.wbm.json")));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown algorithm: use gbdt, forest or logistic"),
        "{err}"
    );
    let out = run(bin()
        .args(["train", "--dataset", "synthetic", "-q", "--out"])
        .arg(tmp.path().join("f.json")));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(".wbm.json"));
    let out = run(bin().args([
        "eval",
        "--dataset",
        "synthetic",
        "--model",
        "missing.onnx",
        "-q",
    ]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("reading ONNX model missing.onnx"));
}

#[test]
fn cross_dataset_mode_tests_on_the_other_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x.wbm.json");
    let report = tmp.path().join("x-report");
    let a = train_args(&[
        "--dataset",
        "mixed-21",
        "--test-dataset",
        "mixed-23",
        "--trees",
        "30",
        "--out",
        out.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    let test_ds = mixed(23, 150.0);
    let o = train_datasets(&a, &mixed(21, 150.0), Some(&test_ds), true).unwrap();
    let t = &o.model_file().unwrap().training;
    assert_eq!(t.split.mode, "cross_dataset");
    assert_eq!(t.split.shares.train, 0.8);
    assert_eq!(t.test_dataset.as_deref(), Some("mixed-23"));
    let train_rows = collect(&mixed(21, 150.0), &WindowConfig::default(), true).unwrap();
    let test_rows = collect(&test_ds, &WindowConfig::default(), true).unwrap();
    assert_eq!(t.rows.test as usize, test_rows.len());
    assert_eq!(o.test.windows as usize, test_rows.len());
    assert_eq!(
        (t.rows.train + t.rows.validation + t.rows.purged) as usize,
        train_rows.len()
    );
    assert!(o.test.pr_auc.is_some());
    eprintln!(
        "cross-dataset mixed-21 -> mixed-23: test PR-AUC {:?} (rules {:?})",
        o.test.pr_auc, o.rules_test.pr_auc
    );
}

#[test]
fn forest_and_logistic_files_round_trip_deterministically() {
    let tmp = tempfile::tempdir().unwrap();
    for (algo, extra) in [
        (
            "forest",
            &["--forest-depth", "8", "--sample-rows", "20000"][..],
        ),
        ("logistic", &[][..]),
    ] {
        let mut args = vec!["--algo", algo];
        args.extend_from_slice(extra);
        let a = train_small(tmp.path(), &format!("{algo}-a"), &args);
        let b = train_small(tmp.path(), &format!("{algo}-b"), &args);
        let bytes = std::fs::read(&a.path).unwrap();
        assert!(
            bytes == std::fs::read(&b.path).unwrap(),
            "{algo}: not deterministic"
        );
        let loaded = ModelFile::load(&a.path).unwrap();
        assert_eq!(&loaded, a.model_file().unwrap());
        assert_eq!(loaded.to_bytes().unwrap(), bytes);
        assert_eq!(loaded.kind.name(), algo);
        assert!(loaded.training.params.is_none() && loaded.training.fit.is_none());
        let t = &loaded.threshold;
        assert_eq!(t.chosen_on, "validation");
        assert!(t.fpr <= 0.01, "{t:?}");
        let schema = FeatureSchema::for_widths(&[2.0]);
        let scorer = scorer_for(a.path.to_str().unwrap(), &schema).unwrap();
        assert_eq!(scorer.default_threshold(), t.value);
        let data = collect(&mixed(22, 30.0), &WindowConfig::default(), true).unwrap();
        let mut distinct = std::collections::BTreeSet::new();
        for i in 0..data.len() {
            let row: Vec<f64> = data.row(i).iter().map(|&v| f64::from(v)).collect();
            let s = scorer.score(&row).value;
            assert_eq!(s.to_bits(), loaded.predict_proba(data.row(i)).to_bits());
            assert!((0.0..=1.0).contains(&s));
            distinct.insert(s.to_bits());
        }
        assert!(
            distinct.len() > 10,
            "{algo}: {} distinct scores",
            distinct.len()
        );
        eprintln!(
            "{algo}: test PR-AUC {:?} (rules {:?}), validation PR-AUC {:?}",
            a.test.pr_auc, a.rules_test.pr_auc, loaded.training.validation_pr_auc
        );
        assert!(
            a.test.pr_auc.unwrap() > a.test.base_rate,
            "{algo}: no better than chance"
        );
        // A damaged payload is an error naming it.
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        if algo == "logistic" {
            v["logistic"]["scale"][0] = 0.0.into();
        } else {
            let nodes = v["ensemble"]["trees"][0]["nodes"].as_array_mut().unwrap();
            let leaf = nodes.iter_mut().find(|n| n["leaf"] == true).unwrap();
            leaf["leaf_value"] = 2.0.into();
        }
        let p = tmp.path().join(format!("{algo}-bad.wbm.json"));
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
        let e = format!("{:#}", ModelFile::load(&p).unwrap_err());
        assert!(
            e.contains(if algo == "logistic" {
                "scale[0]"
            } else {
                "outside [0, 1]"
            }),
            "{e}"
        );
    }
}
