//! Models: the learning algorithms behind [`Trainer`] and their [`registry`] (which
//! also resolves every `--model` value to an [`crate::eval::Scorer`]), model files
//! ([`file`]), the shipped default model ([`shipped`]) and ONNX export and inference
//! ([`onnx`]).
//!
//! Algorithms: gradient-boosted trees ([`gbdt`], fitted by [`hist_gbdt`], stored as a
//! [`tree::TreeEnsemble`]), random forest ([`forest`]), logistic regression
//! ([`logistic`]), seed 003's unsupervised ensemble ([`unsupervised`]). They see rows
//! as [`TrainingData`] ([`dataset`]) split by time ([`split`]); the training run itself
//! (collect → split → fit → threshold → save → test) is the `train` module's.

pub mod dataset;
pub mod file;
pub mod forest;
pub mod gbdt;
pub mod hist_gbdt;
pub mod logistic;
pub mod onnx;
pub mod registry;
pub mod shipped;
pub mod split;
pub mod trainer;
pub mod tree;
pub mod unsupervised;

use std::net::IpAddr;

use sha2::{Digest, Sha256};

pub use dataset::TrainingData;
pub use file::{model_name, ModelFile, ModelKind, MODEL_SUFFIX};
pub use gbdt::{GbdtParams, GbdtScorer, PositiveWeight};
pub use registry::{algorithm, load_scorer, scorer_for, scorer_for_with, Algorithm, ALGORITHMS};
pub use split::{cross_split, time_split, Split, SplitConfig};
pub use trainer::{FitJob, SavedModel, TrainParams, Trained, Trainer};
pub use tree::{FeatureImportance, TreeEnsemble};

/// sha256 (hex) over some rows of `data`, in the given order: the schema fingerprint,
/// then per part its row count and per row the window end (u64 LE), the host (4 or 16
/// octets after a length byte), the label (0/1) and the `f32` values (LE).
pub fn rows_sha256(data: &TrainingData, parts: &[&[usize]]) -> String {
    let mut h = Sha256::new();
    h.update(data.schema.fingerprint().as_bytes());
    for part in parts {
        h.update((part.len() as u64).to_le_bytes());
        for &i in *part {
            h.update(data.end_ns[i].to_le_bytes());
            match data.hosts[i] {
                IpAddr::V4(a) => {
                    h.update([4u8]);
                    h.update(a.octets());
                }
                IpAddr::V6(a) => {
                    h.update([16u8]);
                    h.update(a.octets());
                }
            }
            h.update([u8::from(data.is_positive(i))]);
            let mut buf = Vec::with_capacity(data.n_features() * 4);
            for v in data.row(i) {
                buf.extend_from_slice(&v.to_le_bytes());
            }
            h.update(&buf);
        }
    }
    h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::dataset::test_rows::real_data;

    #[test]
    fn our_traversal_equals_forust_predictions_on_real_rows() {
        let data = real_data(5, 120.0);
        assert!(data.len() > 1000, "rows: {}", data.len());
        let split = data.default_time_split();
        let params = GbdtParams {
            trees: 60,
            subsample: 0.8,
            colsample: 0.7,
            ..GbdtParams::default()
        };
        let fitted = gbdt::fit(&data, &split.train, &split.validation, &params).unwrap();
        let e = gbdt::extract(&fitted.booster, data.n_features(), fitted.info.trees_kept).unwrap();
        assert!(!e.trees.is_empty());
        assert!(e.trees.iter().any(|t| t.nodes.len() > 1), "no tree splits");
        let all: Vec<usize> = (0..data.len()).collect();
        let theirs = gbdt::forust_margins(&fitted.booster, &data, &all);
        let mut worst = 0f64;
        for (&i, &m) in all.iter().zip(&theirs) {
            let ours = e.margin(data.row(i));
            worst = worst.max((ours - m).abs());
            let p = 1.0 / (1.0 + (-m).exp());
            assert!((e.predict_proba(data.row(i)) - p).abs() <= 1e-6);
        }
        assert!(worst <= 1e-6, "largest margin difference {worst}");

        // Missing values take the same branches as in forust-ml.
        let mut holes = data;
        for (j, v) in holes.values.iter_mut().enumerate() {
            if j % 3 == 0 {
                *v = f32::NAN;
            }
        }
        let theirs = gbdt::forust_margins(&fitted.booster, &holes, &all);
        for (&i, &m) in all.iter().zip(&theirs) {
            assert!((e.margin(holes.row(i)) - m).abs() <= 1e-6);
        }

        // Thresholds are f32 values (what an ONNX exporter needs), or f64::MAX.
        for t in &e.trees {
            for n in t.nodes.iter().filter(|n| !n.leaf) {
                assert!(
                    n.threshold == f64::MAX || f64::from(n.threshold as f32) == n.threshold,
                    "threshold {} is not an f32",
                    n.threshold
                );
            }
        }
    }

    #[test]
    fn a_bag_averages_the_margins_of_its_members() {
        let data = real_data(8, 60.0);
        let split = data.default_time_split();
        let params = GbdtParams {
            trees: 20,
            subsample: 0.7,
            colsample: 0.6,
            seed: 5,
            ..GbdtParams::default()
        };
        let member = |seed| {
            gbdt::train(
                &data,
                &split.train,
                &split.validation,
                &GbdtParams {
                    seed,
                    ..params.clone()
                },
            )
            .unwrap()
        };
        let (a, ia) = member(5);
        let (b, ib) = member(6);
        let (c, ic) = member(7);
        let bagged = GbdtParams { bag: 3, ..params };
        let (e, info) = gbdt::train(&data, &split.train, &split.validation, &bagged).unwrap();
        assert_eq!(e.trees.len(), a.trees.len() + b.trees.len() + c.trees.len());
        assert_eq!(
            info.trees_kept,
            ia.trees_kept + ib.trees_kept + ic.trees_kept
        );
        e.validate().unwrap();
        let mut differ = false;
        for i in (0..data.len()).step_by(7) {
            let row = data.row(i);
            let mean = (a.margin(row) + b.margin(row) + c.margin(row)) / 3.0;
            assert!((e.margin(row) - mean).abs() <= 1e-9, "row {i}");
            differ |= (a.margin(row) - b.margin(row)).abs() > 1e-6;
        }
        assert!(differ, "members with other seeds should differ");
        // Same inputs, same bytes; a file of one ensemble keeps its old form.
        let (again, _) = gbdt::train(&data, &split.train, &split.validation, &bagged).unwrap();
        assert_eq!(e, again);
        let one = serde_json::to_string(&GbdtParams::default()).unwrap();
        assert!(!one.contains("bag"), "{one}");
    }

    #[test]
    fn rows_hash_depends_on_rows_and_order() {
        let data = real_data(6, 30.0);
        let a: Vec<usize> = (0..data.len()).collect();
        let mut b = a.clone();
        b.swap(0, 1);
        let h = rows_sha256(&data, &[&a]);
        assert_eq!(h.len(), 64);
        assert_eq!(h, rows_sha256(&data, &[&a]));
        assert_ne!(h, rows_sha256(&data, &[&b]));
        assert_ne!(h, rows_sha256(&data, &[&a[..1], &a[1..]]));
    }
}
