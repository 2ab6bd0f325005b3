//! Ranking and threshold metrics, with scikit-learn's exact definitions (ties included).
//!
//! - [`average_precision`] is `sklearn.metrics.average_precision_score`: the sum over
//!   distinct score thresholds (highest first) of `(R_n - R_{n-1}) * P_n`, no
//!   interpolation.
//! - [`roc_auc`] is `sklearn.metrics.roc_auc_score`: the trapezoidal area under the ROC
//!   curve, which equals the Mann–Whitney statistic with tied scores counted as one half.
//! - [`threshold_at_fpr`] picks the lowest threshold whose false-positive rate on the
//!   negatives is at most the target (1% by default), scoring `score >= threshold` as
//!   positive.

use serde::Serialize;

/// Indices sorted by score, descending (NaN last, treated as lowest).
fn order_desc(scores: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| {
        let (x, y) = (scores[a], scores[b]);
        y.partial_cmp(&x)
            .unwrap_or_else(|| x.is_nan().cmp(&y.is_nan()))
    });
    idx
}

/// Cumulative (threshold, tp, fp) at each distinct score, highest threshold first.
fn cumulative(labels: &[bool], scores: &[f64]) -> Vec<(f64, u64, u64)> {
    let idx = order_desc(scores);
    let mut out = Vec::new();
    let (mut tp, mut fp) = (0u64, 0u64);
    let mut i = 0;
    while i < idx.len() {
        let s = scores[idx[i]];
        while i < idx.len() && (scores[idx[i]] == s || (s.is_nan() && scores[idx[i]].is_nan())) {
            if labels[idx[i]] {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        out.push((s, tp, fp));
    }
    out
}

/// Average precision (PR-AUC), or `None` when there is no positive.
pub fn average_precision(labels: &[bool], scores: &[f64]) -> Option<f64> {
    let pos = labels.iter().filter(|&&l| l).count() as f64;
    if pos == 0.0 {
        return None;
    }
    let mut ap = 0.0;
    let mut prev_recall = 0.0;
    for (_, tp, fp) in cumulative(labels, scores) {
        let recall = tp as f64 / pos;
        let precision = if tp + fp > 0 {
            tp as f64 / (tp + fp) as f64
        } else {
            1.0
        };
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    Some(ap)
}

/// ROC-AUC, or `None` unless both classes are present.
pub fn roc_auc(labels: &[bool], scores: &[f64]) -> Option<f64> {
    let pos = labels.iter().filter(|&&l| l).count() as f64;
    let neg = labels.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return None;
    }
    // Trapezoids over the ROC points at each distinct threshold.
    let mut area = 0.0;
    let (mut prev_tp, mut prev_fp) = (0.0, 0.0);
    for (_, tp, fp) in cumulative(labels, scores) {
        let (tp, fp) = (tp as f64, fp as f64);
        area += (fp - prev_fp) * (tp + prev_tp) / 2.0;
        prev_tp = tp;
        prev_fp = fp;
    }
    Some(area / (pos * neg))
}

/// Counts and rates at one threshold (`score >= threshold` is positive).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct AtThreshold {
    pub threshold: f64,
    pub tp: u64,
    pub fp: u64,
    pub tn: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
    pub tpr: f64,
    pub fpr: f64,
    pub precision: f64,
    pub f1: f64,
}

/// The confusion counts at `threshold`.
pub fn at_threshold(labels: &[bool], scores: &[f64], threshold: f64) -> AtThreshold {
    let mut r = AtThreshold {
        threshold,
        ..Default::default()
    };
    for (&l, &s) in labels.iter().zip(scores) {
        match (l, s >= threshold) {
            (true, true) => r.tp += 1,
            (true, false) => r.fn_ += 1,
            (false, true) => r.fp += 1,
            (false, false) => r.tn += 1,
        }
    }
    finish_rates(&mut r);
    r
}

fn finish_rates(r: &mut AtThreshold) {
    let ratio = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
    r.tpr = ratio(r.tp, r.tp + r.fn_);
    r.fpr = ratio(r.fp, r.fp + r.tn);
    r.precision = ratio(r.tp, r.tp + r.fp);
    r.f1 = if r.precision + r.tpr > 0.0 {
        2.0 * r.precision * r.tpr / (r.precision + r.tpr)
    } else {
        0.0
    };
}

/// The lowest threshold whose FPR is ≤ `max_fpr`, with its counts.
///
/// Candidates are the distinct scores. When even the highest score exceeds the FPR
/// budget, the threshold is the next float above it: nothing is flagged.
pub fn threshold_at_fpr(labels: &[bool], scores: &[f64], max_fpr: f64) -> AtThreshold {
    let neg = labels.iter().filter(|&&l| !l).count() as u64;
    let pos = labels.len() as u64 - neg;
    let mut best: Option<(f64, u64, u64)> = None;
    for (s, tp, fp) in cumulative(labels, scores) {
        if s.is_nan() {
            break;
        }
        let fpr = if neg > 0 { fp as f64 / neg as f64 } else { 0.0 };
        if fpr <= max_fpr {
            best = Some((s, tp, fp));
        } else {
            break;
        }
    }
    let (threshold, tp, fp) = match best {
        Some(b) => b,
        None => {
            let top = scores
                .iter()
                .copied()
                .filter(|s| !s.is_nan())
                .fold(f64::NEG_INFINITY, f64::max);
            (next_up(top), 0, 0)
        }
    };
    let mut r = AtThreshold {
        threshold,
        tp,
        fp,
        tn: neg - fp,
        fn_: pos - tp,
        ..Default::default()
    };
    finish_rates(&mut r);
    r
}

fn next_up(x: f64) -> f64 {
    if x.is_infinite() {
        return x;
    }
    let bits = x.to_bits();
    f64::from_bits(if x >= 0.0 { bits + 1 } else { bits - 1 })
}

/// Points of the precision–recall curve (recall, precision), highest threshold first,
/// thinned to at most `max_points`.
pub fn pr_curve(labels: &[bool], scores: &[f64], max_points: usize) -> Vec<(f64, f64)> {
    let pos = labels.iter().filter(|&&l| l).count().max(1) as f64;
    let pts: Vec<(f64, f64)> = cumulative(labels, scores)
        .into_iter()
        .map(|(_, tp, fp)| (tp as f64 / pos, tp as f64 / (tp + fp).max(1) as f64))
        .collect();
    thin(pts, max_points)
}

/// Points of the ROC curve (fpr, tpr) from (0,0), thinned to at most `max_points`.
pub fn roc_curve(labels: &[bool], scores: &[f64], max_points: usize) -> Vec<(f64, f64)> {
    let pos = labels.iter().filter(|&&l| l).count().max(1) as f64;
    let neg = labels.iter().filter(|&&l| !l).count().max(1) as f64;
    let mut pts = vec![(0.0, 0.0)];
    pts.extend(
        cumulative(labels, scores)
            .into_iter()
            .map(|(_, tp, fp)| (fp as f64 / neg, tp as f64 / pos)),
    );
    thin(pts, max_points)
}

fn thin(pts: Vec<(f64, f64)>, max_points: usize) -> Vec<(f64, f64)> {
    if pts.len() <= max_points || max_points < 2 {
        return pts;
    }
    let step = pts.len() as f64 / (max_points - 1) as f64;
    let mut out: Vec<(f64, f64)> = (0..max_points - 1)
        .map(|i| pts[(i as f64 * step) as usize])
        .collect();
    if let Some(last) = pts.last() {
        out.push(*last);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Values from scikit-learn 1.5 for these inputs (checked by hand as well).
    #[test]
    fn ap_and_auc_match_sklearn_on_a_small_case() {
        let y = [false, false, true, true];
        let s = [0.1, 0.4, 0.35, 0.8];
        assert!((average_precision(&y, &s).unwrap() - 0.8333333333333333).abs() < 1e-12);
        assert!((roc_auc(&y, &s).unwrap() - 0.75).abs() < 1e-12);
    }

    #[test]
    fn ties_count_as_one_threshold() {
        let y = [true, false, true, false];
        let s = [0.5, 0.5, 0.5, 0.5];
        assert_eq!(average_precision(&y, &s), Some(0.5));
        assert_eq!(roc_auc(&y, &s), Some(0.5));
    }

    #[test]
    fn threshold_at_one_percent_fpr() {
        // 200 negatives scored 0..199/200, two positives at 0.999 and 0.5.
        let mut y = vec![false; 200];
        let mut s: Vec<f64> = (0..200).map(|i| i as f64 / 200.0).collect();
        y.extend([true, true]);
        s.extend([0.999, 0.5]);
        let r = threshold_at_fpr(&y, &s, 0.01);
        // 2 negatives allowed (0.995, 0.99): the lowest threshold is 0.99.
        assert_eq!(r.threshold, 0.99);
        assert_eq!((r.fp, r.tp), (2, 1));
        assert!(r.fpr <= 0.01);
        let none = threshold_at_fpr(&[false, true], &[0.9, 0.1], 0.0);
        assert_eq!((none.tp, none.fp), (0, 0));
        assert!(none.threshold > 0.9);
    }

    #[test]
    fn degenerate_inputs_give_none() {
        assert_eq!(average_precision(&[false, false], &[0.1, 0.2]), None);
        assert_eq!(roc_auc(&[true, true], &[0.1, 0.2]), None);
    }
}
