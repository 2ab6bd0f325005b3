//! [`Metrics`]: every Prometheus metric live mode exports, in one registry.
//!
//! Names keep the seeds' dashboards and PromQL working (seed 000: `fe_events_in`,
//! `fe_window_build_ms`, `infer_latency_ms`, `notifier_alerts_total`; seed 003:
//! `ebpf_*`, `ml_detector_*`), with base-unit `_seconds` twins of the millisecond
//! histograms. Counters are registered without `_total`: the OpenMetrics encoder adds
//! it, exactly like Python's prometheus_client did for the seeds (`fe_events_in` is
//! scraped as `fe_events_in_total`).

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of `ml_detector_threats_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ThreatLabels {
    /// `port_scan`, `syn_flood`, ... (the alert's `threat_type`).
    pub threat_type: String,
    /// `low`, `medium`, `high` (from the score).
    pub confidence_level: String,
}

/// Labels of `workbench_alertmanager_posts_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `ok` or `error`.
    pub result: String,
}

/// Metric names every live-mode `/metrics` exposes (as scraped, i.e. with the
/// `_total`, `_bucket`, ... suffixes the encoder adds). Tests check each.
pub const EXPORTED_NAMES: &[&str] = &[
    "fe_events_in_total",
    "fe_window_build_ms_bucket",
    "fe_window_build_seconds_bucket",
    "infer_latency_ms_bucket",
    "infer_latency_seconds_bucket",
    "notifier_alerts_total",
    "ebpf_packets_per_second",
    "ebpf_bytes_per_second",
    "ebpf_ringbuf_lost_events_total",
    "ml_detector_threats_total",
    "ml_detector_processing_seconds_bucket",
];

/// The registry and handles to every metric. Handles are cheap atomics: clone the
/// `Arc<Metrics>` and update from any thread. Reusable by other commands (`serve`,
/// `notify`): build one with [`Metrics::new`], update the fields, serve
/// [`Metrics::encode`] on `/metrics` (content type [`Metrics::CONTENT_TYPE`]).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Packets into the feature engine (`fe_events_in_total`).
    pub fe_events_in: Counter,
    /// Time to close a hop and build its windows' rows, ms (`fe_window_build_ms`).
    pub fe_window_build_ms: Histogram,
    /// The same in seconds.
    pub fe_window_build_seconds: Histogram,
    /// Time to score one host row, ms (`infer_latency_ms`).
    pub infer_latency_ms: Histogram,
    /// The same in seconds.
    pub infer_latency_seconds: Histogram,
    /// Alert notifications (new firing or resolved alerts) emitted
    /// (`notifier_alerts_total`).
    pub notifier_alerts: Counter,
    /// Packet rate the capture saw over the last second.
    pub ebpf_packets_per_second: Gauge<f64, AtomicU64>,
    /// Byte rate the capture saw over the last second.
    pub ebpf_bytes_per_second: Gauge<f64, AtomicU64>,
    /// Events the capture lost (ring-buffer reserve failures, socket drops).
    pub ebpf_ringbuf_lost_events: Counter,
    /// Host windows at or above the threshold, by threat type and confidence.
    pub ml_detector_threats: Family<ThreatLabels, Counter>,
    /// Time to score all host rows of one window end and update alerts, seconds.
    pub ml_detector_processing_seconds: Histogram,
    /// POSTs to Alertmanager by result.
    pub alertmanager_posts: Family<ResultLabels, Counter>,
    /// POSTs to Alertmanager that retried a failed one.
    pub alertmanager_retries: Counter,
    /// Alerts dropped because the delivery queue was full.
    pub alert_queue_dropped: Counter,
    /// Alerts waiting for delivery.
    pub alert_queue_length: Gauge,
    /// Alerts firing now.
    pub alerts_firing: Gauge,
    /// Feature rows emitted by the engine (global and host rows).
    pub engine_rows: Counter,
    /// Packets that arrived after their hop had closed (counted into the open hop).
    pub engine_late_packets: Counter,
}

fn ms_buckets() -> impl Iterator<Item = f64> {
    [
        0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0,
    ]
    .into_iter()
}

fn s_buckets() -> impl Iterator<Item = f64> {
    ms_buckets().map(|b| b / 1000.0)
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// OpenMetrics text, what [`encode`](Self::encode) writes.
    pub const CONTENT_TYPE: &'static str =
        "application/openmetrics-text; version=1.0.0; charset=utf-8";

    /// Every metric registered, all at zero.
    pub fn new() -> Self {
        let mut r = Registry::default();
        let m = Metrics {
            fe_events_in: Counter::default(),
            fe_window_build_ms: Histogram::new(ms_buckets()),
            fe_window_build_seconds: Histogram::new(s_buckets()),
            infer_latency_ms: Histogram::new(ms_buckets()),
            infer_latency_seconds: Histogram::new(s_buckets()),
            notifier_alerts: Counter::default(),
            ebpf_packets_per_second: Gauge::default(),
            ebpf_bytes_per_second: Gauge::default(),
            ebpf_ringbuf_lost_events: Counter::default(),
            ml_detector_threats: Family::default(),
            ml_detector_processing_seconds: Histogram::new(s_buckets()),
            alertmanager_posts: Family::default(),
            alertmanager_retries: Counter::default(),
            alert_queue_dropped: Counter::default(),
            alert_queue_length: Gauge::default(),
            alerts_firing: Gauge::default(),
            engine_rows: Counter::default(),
            engine_late_packets: Counter::default(),
            registry: Registry::default(),
        };
        r.register(
            "fe_events_in",
            "Packets into the feature engine",
            m.fe_events_in.clone(),
        );
        r.register(
            "fe_window_build_ms",
            "Time to close a hop and build its window rows (ms)",
            m.fe_window_build_ms.clone(),
        );
        r.register(
            "fe_window_build_seconds",
            "Time to close a hop and build its window rows",
            m.fe_window_build_seconds.clone(),
        );
        r.register(
            "infer_latency_ms",
            "Time to score one host row (ms)",
            m.infer_latency_ms.clone(),
        );
        r.register(
            "infer_latency_seconds",
            "Time to score one host row",
            m.infer_latency_seconds.clone(),
        );
        r.register(
            "notifier_alerts",
            "Alert notifications emitted (new firing and resolved alerts)",
            m.notifier_alerts.clone(),
        );
        r.register(
            "ebpf_packets_per_second",
            "Packets per second seen by the capture (last second)",
            m.ebpf_packets_per_second.clone(),
        );
        r.register(
            "ebpf_bytes_per_second",
            "Wire bytes per second seen by the capture (last second)",
            m.ebpf_bytes_per_second.clone(),
        );
        r.register(
            "ebpf_ringbuf_lost_events",
            "Capture events lost (ring-buffer reserve failures or socket drops)",
            m.ebpf_ringbuf_lost_events.clone(),
        );
        r.register(
            "ml_detector_threats",
            "Host windows scoring at or above the threshold",
            m.ml_detector_threats.clone(),
        );
        r.register(
            "ml_detector_processing_seconds",
            "Time to score the host rows of one window end and update alerts",
            m.ml_detector_processing_seconds.clone(),
        );
        r.register(
            "workbench_alertmanager_posts",
            "POSTs to Alertmanager by result",
            m.alertmanager_posts.clone(),
        );
        r.register(
            "workbench_alertmanager_retries",
            "POSTs to Alertmanager retrying a failed one",
            m.alertmanager_retries.clone(),
        );
        r.register(
            "workbench_alert_queue_dropped",
            "Alerts dropped because the delivery queue was full",
            m.alert_queue_dropped.clone(),
        );
        r.register(
            "workbench_alert_queue_length",
            "Alerts waiting for delivery",
            m.alert_queue_length.clone(),
        );
        r.register(
            "workbench_alerts_firing",
            "Alerts firing now",
            m.alerts_firing.clone(),
        );
        r.register(
            "workbench_engine_rows",
            "Feature rows emitted",
            m.engine_rows.clone(),
        );
        r.register(
            "workbench_engine_late_packets",
            "Packets older than the open hop",
            m.engine_late_packets.clone(),
        );
        Metrics { registry: r, ..m }
    }

    /// Records one window-build time in both units.
    pub fn observe_window_build(&self, d: Duration) {
        self.fe_window_build_ms.observe(d.as_secs_f64() * 1e3);
        self.fe_window_build_seconds.observe(d.as_secs_f64());
    }

    /// Records one scoring time in both units.
    pub fn observe_infer(&self, d: Duration) {
        self.infer_latency_ms.observe(d.as_secs_f64() * 1e3);
        self.infer_latency_seconds.observe(d.as_secs_f64());
    }

    /// Counts a threat window.
    pub fn count_threat(&self, threat_type: &str, confidence_level: &str) {
        self.ml_detector_threats
            .get_or_create(&ThreatLabels {
                threat_type: threat_type.to_string(),
                confidence_level: confidence_level.to_string(),
            })
            .inc();
    }

    /// Counts one Alertmanager POST.
    pub fn count_post(&self, ok: bool) {
        self.alertmanager_posts
            .get_or_create(&ResultLabels {
                result: if ok { "ok" } else { "error" }.to_string(),
            })
            .inc();
    }

    /// The registry in OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut s = String::new();
        // Writing to a String cannot fail; an encoder error would be a bug in a metric.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut s, &self.registry) {
            s = format!("# encoding failed: {e}\n# EOF\n");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exported_name_is_in_the_text() {
        let m = Metrics::new();
        m.count_threat("port_scan", "high");
        let text = m.encode();
        for name in EXPORTED_NAMES {
            assert!(
                text.lines().any(|l| l.starts_with(name)),
                "{name} missing from:\n{text}"
            );
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
