//! `workbench notify`: seed 000's notifier. Receives Alertmanager's webhook on
//! `POST /alert`, prints one line per alert, counts `notifier_alerts_total`, and serves
//! `/metrics` and `/health`.
//!
//! The webhook body is Alertmanager's documented payload (version "4"). A body that is
//! not that JSON gets 400 with the parser's message (line, column, field); a body over
//! the limit gets 413. Nothing in a request can crash the process.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use serde::Deserialize;

use super::web::{self, json_error};

/// Default request body limit: Alertmanager sends at most `max_alerts` alerts per
/// notification (100 in deploy/alertmanager); 1 MiB leaves room for long annotations.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// One alert of Alertmanager's webhook payload.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAlert {
    /// `firing` or `resolved`.
    pub status: String,
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub starts_at: Option<String>,
    #[serde(default)]
    pub ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    pub generator_url: Option<String>,
    #[serde(default)]
    pub fingerprint: Option<String>,
}

/// Alertmanager's webhook payload (fields we use; others are ignored).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPayload {
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub receiver: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    pub alerts: Vec<WebhookAlert>,
    #[serde(default)]
    pub truncated_alerts: u64,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlertLabels {
    status: String,
    alertname: String,
    threat_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectLabels {
    reason: String,
}

/// The notifier's state: its metrics and where alert lines go.
pub struct Notifier {
    registry: Registry,
    alerts: Family<AlertLabels, Counter>,
    rejected: Family<RejectLabels, Counter>,
    out: Mutex<Box<dyn Write + Send>>,
}

impl Notifier {
    /// A notifier printing to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        let mut registry = Registry::default();
        let alerts = Family::<AlertLabels, Counter>::default();
        // prometheus-client appends `_total`: the exposed name is seed 000's
        // `notifier_alerts_total`.
        registry.register(
            "notifier_alerts",
            "Alerts received from Alertmanager's webhook, by status, alertname and threat_type",
            alerts.clone(),
        );
        let rejected = Family::<RejectLabels, Counter>::default();
        registry.register(
            "notifier_rejected_requests",
            "Webhook requests refused (bad JSON, body too large)",
            rejected.clone(),
        );
        Notifier {
            registry,
            alerts,
            rejected,
            out: Mutex::new(out),
        }
    }

    /// Handles one webhook body: prints and counts its alerts, returns how many.
    pub fn handle(&self, body: &[u8]) -> Result<usize, String> {
        let payload: WebhookPayload = match serde_json::from_slice(body) {
            Ok(p) => p,
            Err(e) => {
                self.reject("bad_json");
                return Err(format!("invalid Alertmanager webhook JSON: {e}"));
            }
        };
        let mut lines = String::new();
        for a in &payload.alerts {
            let name = a.labels.get("alertname").map(String::as_str).unwrap_or("");
            let threat = a
                .labels
                .get("threat_type")
                .map(String::as_str)
                .unwrap_or("");
            self.alerts
                .get_or_create(&AlertLabels {
                    status: a.status.clone(),
                    alertname: name.to_string(),
                    threat_type: threat.to_string(),
                })
                .inc();
            let others: Vec<String> = a
                .labels
                .iter()
                .filter(|(k, _)| k.as_str() != "alertname")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let summary = a
                .annotations
                .get("summary")
                .map(String::as_str)
                .unwrap_or("");
            let detail = a
                .annotations
                .get("detail")
                .map(String::as_str)
                .unwrap_or("");
            lines.push_str(&format!(
                "[{}] {} {} {}{}\n",
                a.status,
                name,
                others.join(" "),
                summary,
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({detail})")
                }
            ));
            tracing::info!(
                status = %a.status,
                alertname = name,
                threat_type = threat,
                src = a.labels.get("src").map(String::as_str).unwrap_or(""),
                summary,
                detail,
                starts_at = a.starts_at.as_deref().unwrap_or(""),
                "alert received"
            );
        }
        if payload.truncated_alerts > 0 {
            lines.push_str(&format!(
                "[note] Alertmanager left out {} alert(s) of this group (max_alerts)\n",
                payload.truncated_alerts
            ));
        }
        // A poisoned lock only means another request panicked mid-print; printing
        // must go on.
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        // A closed stdout must not fail the webhook: the alert is counted either way.
        let _ = out.write_all(lines.as_bytes()).and_then(|_| out.flush());
        Ok(payload.alerts.len())
    }

    fn reject(&self, reason: &str) {
        self.rejected
            .get_or_create(&RejectLabels {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// The Prometheus text exposition of the notifier's metrics.
    pub fn metrics_text(&self) -> String {
        web::encode(&self.registry)
    }
}

/// The notifier's routes (`/alert`, `/metrics`, `/health`) with a body limit.
pub fn router(n: Arc<Notifier>, body_limit: usize) -> Router {
    Router::new()
        .route("/alert", post(alert))
        .route("/metrics", get(metrics))
        .route(
            "/health",
            get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(n)
}

async fn alert(
    State(n): State<Arc<Notifier>>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            n.reject("body");
            return json_error(e.status(), &e.body_text());
        }
    };
    match n.handle(&body) {
        Ok(count) => axum::Json(serde_json::json!({"ok": true, "alerts": count})).into_response(),
        Err(msg) => json_error(StatusCode::BAD_REQUEST, &msg),
    }
}

async fn metrics(State(n): State<Arc<Notifier>>) -> Response {
    web::metrics_response(n.metrics_text())
}

/// Runs `workbench notify` until Ctrl-C/SIGTERM. Prints `listening on ADDR` first (the
/// bound address, so `--listen 127.0.0.1:0` is usable by scripts and tests).
pub fn run(listen: SocketAddr, body_limit: usize) -> Result<()> {
    let rt = web::runtime()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let n = Arc::new(Notifier::new(Box::new(std::io::stdout())));
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on {addr}")?;
            out.flush()?;
        }
        tracing::info!(%addr, "notify listening");
        web::serve(listener, router(n, body_limit)).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn counts_and_prints_alerts_and_refuses_bad_json() {
        let buf = Buf::default();
        let n = Notifier::new(Box::new(buf.clone()));
        let body = br#"{"version":"4","status":"firing","receiver":"r","alerts":[
            {"status":"firing","labels":{"alertname":"AnomalyScoreHigh","src":"10.0.0.5","threat_type":"port_scan"},
             "annotations":{"summary":"score=0.91","detail":"rate=12.5, uniq_dports=8"}},
            {"status":"resolved","labels":{"alertname":"AnomalyScoreHigh","src":"10.0.0.6"}}]}"#;
        assert_eq!(n.handle(body), Ok(2));
        let printed = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(printed.contains("[firing] AnomalyScoreHigh src=10.0.0.5 threat_type=port_scan score=0.91 (rate=12.5, uniq_dports=8)"), "{printed}");
        assert!(
            printed.contains("[resolved] AnomalyScoreHigh src=10.0.0.6"),
            "{printed}"
        );
        let m = n.metrics_text();
        assert!(m.contains(r#"notifier_alerts_total{status="firing",alertname="AnomalyScoreHigh",threat_type="port_scan"} 1"#), "{m}");
        let err = n
            .handle(br#"{"alerts":[{"status":"firing"}]}"#)
            .unwrap_err();
        assert!(err.contains("missing field `labels`"), "{err}");
        let err = n.handle(b"{not json").unwrap_err();
        assert!(err.contains("line 1 column 2"), "{err}");
        assert!(n
            .metrics_text()
            .contains(r#"notifier_rejected_requests_total{reason="bad_json"} 2"#));
    }
}
