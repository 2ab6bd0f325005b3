//! Alerts, from a scored window to Alertmanager: [`Alerter`] turns a host window's score
//! into a threat type and feeds the lifecycle ([`AlertTracker`]); [`AlertPipeline`]
//! runs the delivery loop that prints, logs and delivers what is due (to Alertmanager
//! through [`AlertClient`], or any [`Deliver`]); the console is seed 000's notifier
//! (`--notify-console`). Live runs and the NATS scorers share all of it. Time comes from
//! a [`Clock`] and delivery goes through [`Deliver`], so the path is tested in process
//! with a [`ManualClock`] and a [`RecordingDeliver`].
//!
//! The tracker is the lifecycle: one alert per (source host, threat type). A host
//! window scoring at or above the threshold starts (or keeps) its alert firing; an alert
//! whose host has stayed below the threshold for `resolve_after` is resolved with
//! `endsAt`. What goes to Alertmanager follows its client contract: firing alerts are
//! re-sent every `resend_interval` (Alertmanager forgets alerts that are not refreshed,
//! and a restarted Alertmanager learns them again), resolved alerts are re-sent for
//! `resolved_keep`, and everything due in one tick travels in one POST.
//!
//! Alert lifecycle times are wall-clock times: they are for Alertmanager and people,
//! outside the event-time engine (the event time of the window is in the annotations).

pub mod client;
pub mod clock;
pub mod delivery;
pub mod scoring;
mod time;
mod tracker;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

pub use client::{AlertClient, AlertClientStats, ClientConfig};
pub use clock::{Clock, ManualClock, SystemClock};
pub use delivery::{AlertPipeline, AlertRecord, Deliver, DeliveryOptions, RecordingDeliver};
pub use scoring::{alert_detail, Alerter, Scored};
pub use time::rfc3339;
pub use tracker::AlertTracker;

use crate::eval::ThreatType;

/// The `alertname` label of every alert (seed 000).
pub const ALERT_NAME: &str = "AnomalyScoreHigh";

/// One alert as Alertmanager's v2 API takes it (`POST /api/v2/alerts` body items).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    /// `alertname`, `src`, `threat_type`, `severity`, `instance`.
    pub labels: BTreeMap<String, String>,
    /// `summary` ("score=0.91"), `detail` ("rate=12.5, uniq_dports=8"), `window_end`.
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339, when the alert started firing.
    #[serde(rename = "startsAt")]
    pub starts_at: String,
    /// RFC 3339. Resolved alerts: when they resolved. Firing alerts: a few re-send
    /// intervals ahead (as Prometheus does), so that if this process dies Alertmanager
    /// resolves them by itself instead of keeping them firing for its resolve_timeout.
    #[serde(rename = "endsAt", skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    /// Link back to this instance (its `/stats`).
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
}

impl Alert {
    /// The (src, threat_type) identity of the alert: later versions replace earlier ones.
    pub fn key(&self) -> (String, String) {
        (
            self.labels.get("src").cloned().unwrap_or_default(),
            self.labels.get("threat_type").cloned().unwrap_or_default(),
        )
    }

    /// True when `endsAt` is not in the future (RFC 3339 UTC strings of one format
    /// order like the times they name).
    pub fn is_resolved(&self) -> bool {
        self.ends_at
            .as_deref()
            .is_some_and(|e| e <= rfc3339(std::time::SystemTime::now()).as_str())
    }
}

/// Lifecycle settings.
#[derive(Clone, Debug)]
pub struct AlertConfig {
    /// Score at or above which a host window alerts.
    pub threshold: f64,
    /// Firing alerts are re-sent this often.
    pub resend_interval: Duration,
    /// An alert resolves when its host has had no window at or above the threshold for
    /// this long.
    pub resolve_after: Duration,
    /// Resolved alerts are re-sent (every `resend_interval`) for this long.
    pub resolved_keep: Duration,
    /// The `instance` label.
    pub instance: String,
    /// The `generatorURL`.
    pub generator_url: String,
}

/// The alert lifecycle's timings (shared by live runs and the NATS scorers).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlertTimings {
    /// Firing (and recently resolved) alerts are re-sent this often.
    pub resend_interval: Duration,
    /// An alert resolves when its host has had no window at or above the threshold
    /// for this long.
    pub resolve_after: Duration,
    /// Resolved alerts are re-sent for this long.
    pub resolved_keep: Duration,
    /// On shutdown, the last (resolved) alerts get this long to be delivered.
    pub shutdown_grace: Duration,
}

impl Default for AlertTimings {
    /// The command line's defaults.
    fn default() -> Self {
        AlertTimings {
            resend_interval: Duration::from_secs(30),
            resolve_after: Duration::from_secs(10),
            resolved_keep: Duration::from_secs(300),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// A change worth telling a person about (console notifier, logs).
#[derive(Clone, Debug, PartialEq)]
pub enum AlertEvent {
    /// A new alert started firing.
    Firing(Alert),
    /// An alert resolved.
    Resolved(Alert),
}

/// Severity from the score (the seeds name `critical`/`warning`).
pub fn severity(score: f64) -> &'static str {
    if score >= 0.9 {
        "critical"
    } else {
        "warning"
    }
}

/// Confidence level for `ml_detector_threats_total{confidence_level}` (seed 003).
pub fn confidence_level(score: f64) -> &'static str {
    if score >= 0.9 {
        "high"
    } else if score >= 0.7 {
        "medium"
    } else {
        "low"
    }
}

/// The threat type of a score: the scorer's own, else seed 003's ML risk bands.
pub fn threat_of(threat: Option<ThreatType>, score: f64) -> ThreatType {
    threat.unwrap_or(if score >= 0.9 {
        ThreatType::MlHighRisk
    } else if score >= 0.7 {
        ThreatType::MlMediumRisk
    } else {
        ThreatType::MlLowRisk
    })
}

/// Logs an alert event with structured fields (`src`, `threat_type`, `severity`,
/// `score`, `state`), so `--log-format json` gives a log shipper one object per alert.
pub fn log_event(ev: &AlertEvent) {
    let (state, a) = match ev {
        AlertEvent::Firing(a) => ("firing", a),
        AlertEvent::Resolved(a) => ("resolved", a),
    };
    let l = |k: &str| a.labels.get(k).map(String::as_str).unwrap_or("");
    let score: f64 = a
        .annotations
        .get("summary")
        .and_then(|s| s.strip_prefix("score="))
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN);
    tracing::warn!(
        target: "workbench::alert",
        state,
        src = l("src"),
        threat_type = l("threat_type"),
        severity = l("severity"),
        score,
        detail = a.annotations.get("detail").map(String::as_str).unwrap_or(""),
        "alert {state}"
    );
}

/// One line for the console notifier.
pub fn console_line(ev: &AlertEvent) -> String {
    let (state, a, resolved) = match ev {
        AlertEvent::Firing(a) => ("FIRING", a, false),
        AlertEvent::Resolved(a) => ("RESOLVED", a, true),
    };
    let l = |k: &str| a.labels.get(k).map(String::as_str).unwrap_or("");
    let n = |k: &str| a.annotations.get(k).map(String::as_str).unwrap_or("");
    format!(
        "[ALERT {state}] {} src={} threat_type={} severity={} {} ({}) startsAt={}{}",
        l("alertname"),
        l("src"),
        l("threat_type"),
        l("severity"),
        n("summary"),
        n("detail"),
        a.starts_at,
        a.ends_at
            .as_deref()
            .filter(|_| resolved)
            .map(|e| format!(" endsAt={e}"))
            .unwrap_or_default()
    )
}
