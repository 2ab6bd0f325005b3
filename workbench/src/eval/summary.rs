//! From scored windows to every number of the report.

use std::collections::BTreeMap;
use std::net::IpAddr;

use hashbrown::HashMap;
use serde::Serialize;

use super::metrics::{at_threshold, average_precision, roc_auc, threshold_at_fpr, AtThreshold};
use super::ScoredWindow;
use crate::labels::HostSpec;
use crate::labels::Labeler;

/// The false-positive budget the headline threshold is chosen for.
pub const TARGET_FPR: f64 = 0.01;

/// Recall and detection for one attack type.
#[derive(Clone, Debug, Serialize)]
pub struct PerAttack {
    pub attack_type: String,
    /// Positive windows attributed to this type.
    pub windows: u64,
    pub recall_at_fpr_1pct: f64,
    pub recall_at_model_threshold: f64,
    pub episodes: u64,
    pub episodes_detected: u64,
    pub detection_rate: f64,
    /// Median detection delay of the detected episodes, seconds.
    pub detection_delay_median_s: Option<f64>,
}

/// How one episode went at the 1%-FPR threshold.
#[derive(Clone, Debug, Serialize)]
pub struct EpisodeOutcome {
    pub attack_type: String,
    pub attacker: String,
    pub victim: String,
    pub start_ts: f64,
    pub end_ts: f64,
    /// Some window of a host it makes positive overlapped it.
    pub matched: bool,
    /// An alert fired on its attacker or victim during it (or one window after).
    pub detected: bool,
    /// First alerting window's end minus the episode start, seconds.
    pub delay_s: Option<f64>,
    /// Highest score on its attacker/victim during it.
    pub max_score: f64,
}

/// Every number of an evaluation, with stable key names for `report.json`.
#[derive(Clone, Debug, Serialize)]
pub struct EvalResult {
    pub model: String,
    pub windows: u64,
    pub positives: u64,
    pub base_rate: f64,
    pub pr_auc: Option<f64>,
    pub roc_auc: Option<f64>,
    pub threshold_at_fpr_1pct: f64,
    pub tpr_at_fpr_1pct: f64,
    pub precision_at_fpr_1pct: f64,
    pub f1_at_fpr_1pct: f64,
    pub at_fpr_1pct: AtThreshold,
    pub model_threshold: f64,
    pub at_model_threshold: AtThreshold,
    pub per_attack: Vec<PerAttack>,
    pub episodes: Vec<EpisodeOutcome>,
    pub episodes_total: u64,
    pub episodes_matched: u64,
    /// Share of episodes that matched at least one window.
    pub label_coverage: f64,
    pub detection_rate: f64,
    pub detection_delay_s: DelayStats,
    /// Alerts (runs of consecutive alerting windows of one host) with no attack window.
    pub false_alerts: u64,
    /// Hours of traffic observed: hops with host windows, per timeline, × hop.
    pub observed_hours: f64,
    /// `false_alerts / observed_hours`: benign traffic runs through the whole capture,
    /// so every observed hour is an hour of benign traffic.
    pub false_alerts_per_hour: f64,
}

/// Median and 95th percentile of detection delays.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DelayStats {
    pub median: Option<f64>,
    pub p95: Option<f64>,
    pub count: u64,
}

fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    // Linear interpolation between closest ranks (numpy's default).
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

/// Computes the evaluation from scored windows.
///
/// `matched[i]` says whether episode `i` overlapped any window of a host it makes
/// positive; `width_s`/`hop_s` describe the primary window.
pub fn evaluate(
    model: String,
    windows: &[ScoredWindow],
    labeler: &Labeler,
    matched: &[bool],
    model_threshold: f64,
    width_s: f64,
    hop_s: f64,
) -> EvalResult {
    let labels: Vec<bool> = windows.iter().map(|w| w.label.is_some()).collect();
    let scores: Vec<f64> = windows.iter().map(|w| w.score).collect();
    let positives = labels.iter().filter(|&&l| l).count() as u64;
    let n = windows.len() as u64;
    let at_fpr = threshold_at_fpr(&labels, &scores, TARGET_FPR);
    let at_model = at_threshold(&labels, &scores, model_threshold);

    // Episode detection at the 1%-FPR threshold: alerts on the attacker or the victim.
    let episodes = labeler.episodes();
    let mut by_host: HashMap<IpAddr, Vec<usize>> = HashMap::new();
    for (i, w) in windows.iter().enumerate() {
        by_host.entry(w.host).or_default().push(i);
    }
    let mut outcomes = Vec::with_capacity(episodes.len());
    for (ei, e) in episodes.iter().enumerate() {
        let mut hosts = Vec::new();
        for spec in [e.attacker, e.victim] {
            if let HostSpec::Addr(a) = spec {
                hosts.push(a);
            }
        }
        let mut first_alert: Option<f64> = None;
        let mut max_score: f64 = 0.0;
        for h in hosts {
            for &wi in by_host.get(&h).map(|v| v.as_slice()).unwrap_or(&[]) {
                let w = &windows[wi];
                let end = w.end_ns as f64 / 1e9;
                let start = end - width_s;
                // During the episode, or the window right after it ends.
                if e.start_ts < end && start <= e.end_ts + hop_s {
                    max_score = max_score.max(w.score);
                    if w.score >= at_fpr.threshold {
                        first_alert = Some(first_alert.map_or(end, |f: f64| f.min(end)));
                    }
                }
            }
        }
        outcomes.push(EpisodeOutcome {
            attack_type: e.attack_type.name().to_string(),
            attacker: e.attacker.to_string(),
            victim: e.victim.to_string(),
            start_ts: e.start_ts,
            end_ts: e.end_ts,
            matched: matched.get(ei).copied().unwrap_or(false),
            detected: first_alert.is_some(),
            delay_s: first_alert.map(|t| (t - e.start_ts).max(0.0)),
            max_score,
        });
    }

    // Per attack type.
    let mut per: BTreeMap<String, (u64, u64, u64, u64, u64, Vec<f64>)> = BTreeMap::new();
    for w in windows {
        if let Some((ei, _)) = w.label {
            let t = episodes[ei as usize].attack_type.name().to_string();
            let entry = per.entry(t).or_default();
            entry.0 += 1;
            entry.1 += (w.score >= at_fpr.threshold) as u64;
            entry.2 += (w.score >= model_threshold) as u64;
        }
    }
    for o in &outcomes {
        let entry = per.entry(o.attack_type.clone()).or_default();
        entry.3 += 1;
        if o.detected {
            entry.4 += 1;
            if let Some(d) = o.delay_s {
                entry.5.push(d);
            }
        }
    }
    let ratio = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
    let per_attack = per
        .into_iter()
        .map(|(t, (win, hit, hit_model, eps, det, mut delays))| {
            delays.sort_by(|a, b| a.total_cmp(b));
            PerAttack {
                attack_type: t,
                windows: win,
                recall_at_fpr_1pct: ratio(hit, win),
                recall_at_model_threshold: ratio(hit_model, win),
                episodes: eps,
                episodes_detected: det,
                detection_rate: ratio(det, eps),
                detection_delay_median_s: percentile(&delays, 0.5),
            }
        })
        .collect();

    let mut delays: Vec<f64> = outcomes.iter().filter_map(|o| o.delay_s).collect();
    delays.sort_by(|a, b| a.total_cmp(b));
    let matched_count = outcomes.iter().filter(|o| o.matched).count() as u64;
    let detected = outcomes.iter().filter(|o| o.detected).count() as u64;
    let (false_alerts, observed_hours) = false_alerts(windows, at_fpr.threshold, hop_s);

    EvalResult {
        model,
        windows: n,
        positives,
        base_rate: ratio(positives, n),
        pr_auc: average_precision(&labels, &scores),
        roc_auc: roc_auc(&labels, &scores),
        threshold_at_fpr_1pct: at_fpr.threshold,
        tpr_at_fpr_1pct: at_fpr.tpr,
        precision_at_fpr_1pct: at_fpr.precision,
        f1_at_fpr_1pct: at_fpr.f1,
        at_fpr_1pct: at_fpr,
        model_threshold,
        at_model_threshold: at_model,
        per_attack,
        episodes_total: outcomes.len() as u64,
        episodes_matched: matched_count,
        label_coverage: ratio(matched_count, outcomes.len() as u64),
        detection_rate: ratio(detected, outcomes.len() as u64),
        detection_delay_s: DelayStats {
            median: percentile(&delays, 0.5),
            p95: percentile(&delays, 0.95),
            count: delays.len() as u64,
        },
        episodes: outcomes,
        false_alerts,
        observed_hours,
        false_alerts_per_hour: if observed_hours > 0.0 {
            false_alerts as f64 / observed_hours
        } else {
            0.0
        },
    }
}

/// Alerts are runs of consecutive alerting windows of one host; a run with no positive
/// window is a false alert. Observed time is the hops with windows (per timeline) × hop.
fn false_alerts(windows: &[ScoredWindow], threshold: f64, hop_s: f64) -> (u64, f64) {
    let hop_ns = (hop_s * 1e9).round() as u64;
    let mut runs: HashMap<IpAddr, (u64, bool)> = HashMap::new(); // last end, run has positive
    let mut false_runs = 0u64;
    // Windows arrive in emission order: ascending window ends within a timeline, and a
    // restart for each independent capture. Counting the changes of window end counts
    // each observed hop once per timeline, even when two captures overlap in time.
    let mut hops = 0u64;
    let mut prev_end = None;
    for w in windows {
        if prev_end != Some(w.end_ns) {
            hops += 1;
            prev_end = Some(w.end_ns);
        }
    }
    for w in windows {
        if w.score < threshold {
            continue;
        }
        let positive = w.label.is_some();
        match runs.get_mut(&w.host) {
            Some((last, pos)) if w.end_ns <= *last + hop_ns => {
                *last = w.end_ns;
                *pos |= positive;
            }
            Some(run) => {
                if !run.1 {
                    false_runs += 1;
                }
                *run = (w.end_ns, positive);
            }
            None => {
                runs.insert(w.host, (w.end_ns, positive));
            }
        }
    }
    false_runs += runs.values().filter(|(_, pos)| !pos).count() as u64;
    (false_runs, hops as f64 * hop_s / 3600.0)
}
