//! `workbench serve` HTTP APIs: drop-in for seed 000's inferencer (`POST /infer`) and
//! seed 003's ml-detector (`POST /detect`), with `/health` and `/metrics`.
//!
//! `GET /detect/prom` reads the current `ebpf_*` values from a Prometheus
//! (`--prometheus URL`) and runs the same rules. `/detect` also scores with the online
//! unsupervised ensemble (`super::online`: `ml_*_risk`), retrained by `POST /train` and
//! every `--retrain-interval` seconds on the last 1000 `/detect` samples.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use serde::Deserialize;

use super::web::{self, json_error};
use crate::alert::{rfc3339, Alert, AlertClient, ClientConfig, ALERT_NAME};
use crate::engine::{F, N_BASE};
use crate::eval::RulesScorer;
use crate::eval::ThreatType;

/// Request body limit (seed batches are small; a 1 MiB batch is ~10 000 items).
pub const BODY_LIMIT: usize = 1 << 20;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ThreatLabels {
    threat_type: String,
    confidence_level: String,
}

/// Settings of the HTTP side.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Seed 000's threshold (THRESHOLD, default 0.7).
    pub threshold: f64,
    /// Bearer token required on POST endpoints, when set.
    pub token: Option<String>,
    /// Alertmanager v2 alerts URL; alerts are only counted when unset.
    pub alertmanager: Option<String>,
    pub body_limit: usize,
    /// Prometheus base URL for `GET /detect/prom`.
    pub prometheus: Option<String>,
    /// Where the online ensemble is persisted (`model.json`).
    pub model_dir: std::path::PathBuf,
    /// Background retraining period; zero disables the timer (`POST /train` still works).
    pub retrain_interval: std::time::Duration,
}

struct Api {
    cfg: ApiConfig,
    registry: Registry,
    infer_ms: Histogram,
    infer_s: Histogram,
    processing_s: Histogram,
    threats: Family<ThreatLabels, Counter>,
    alerts: Option<tokio::sync::Mutex<AlertClient>>,
    online: Arc<super::online::Online>,
}

fn lat_buckets_ms() -> impl Iterator<Item = f64> {
    exponential_buckets(0.01, 2.0, 16)
}

impl Api {
    fn new(cfg: ApiConfig, online: Arc<super::online::Online>) -> Result<Self> {
        let mut registry = Registry::default();
        let infer_ms = Histogram::new(lat_buckets_ms());
        registry.register(
            "infer_latency_ms",
            "Seed 000: time to score one /infer batch, milliseconds",
            infer_ms.clone(),
        );
        let infer_s = Histogram::new(lat_buckets_ms().map(|b| b / 1000.0));
        registry.register(
            "infer_latency_seconds",
            "Time to score one /infer batch, seconds (base-unit twin of infer_latency_ms)",
            infer_s.clone(),
        );
        let processing_s = Histogram::new(lat_buckets_ms().map(|b| b / 1000.0));
        registry.register(
            "ml_detector_processing_seconds",
            "Seed 003: time to analyse one /detect request",
            processing_s.clone(),
        );
        let threats = Family::<ThreatLabels, Counter>::default();
        registry.register(
            "ml_detector_threats",
            "Seed 003: threats detected, by threat_type and confidence_level",
            threats.clone(),
        );
        let alerts = match &cfg.alertmanager {
            Some(url) => Some(tokio::sync::Mutex::new(AlertClient::new(
                ClientConfig::new(url.clone()),
            )?)),
            None => None,
        };
        Ok(Api {
            cfg,
            registry,
            infer_ms,
            infer_s,
            processing_s,
            threats,
            alerts,
            online,
        })
    }

    fn authorised(&self, h: &HeaderMap) -> bool {
        let Some(tok) = &self.cfg.token else {
            return true;
        };
        h.get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|v| v == tok)
    }
}

/// Seed 000 item.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InferItem {
    src: String,
    conn_rate: f64,
    uniq_dports: f64,
}

#[derive(Debug, Deserialize)]
struct InferBatch {
    items: Vec<InferItem>,
}

/// Seed 003's six global features.
#[derive(Debug, Deserialize)]
struct DetectReq {
    packets_per_second: f64,
    bytes_per_second: f64,
    unique_ips: f64,
    unique_ports: f64,
    tcp_ratio: f64,
    syn_packets: f64,
}

// The error is the ready 400 response; handlers return it as is (one per request).
#[allow(clippy::result_large_err)]
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body)
        .map_err(|e| json_error(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {e}")))
}

fn confidence_level(v: f64) -> &'static str {
    if v >= 0.8 {
        "high"
    } else if v >= 0.6 {
        "medium"
    } else {
        "low"
    }
}

/// The seed's formula score.
pub fn formula(conn_rate: f64, uniq_dports: f64) -> f64 {
    (0.5 * conn_rate + 0.05 * uniq_dports).clamp(0.0, 1.0)
}

/// Seed 003's rules on the six global features: the threat types whose rule holds and
/// the strongest rule's strength as confidence (RulesScorer's continuous rules).
pub fn detect(f: &[f64; 6]) -> (bool, f64, Vec<ThreatType>) {
    let mut row = vec![0.0; N_BASE];
    row[F::PacketsPerSecond as usize] = f[0];
    row[F::BytesPerSecond as usize] = f[1];
    row[F::UniqueIps as usize] = f[2];
    row[F::UniquePorts as usize] = f[3];
    row[F::TcpRatio as usize] = f[4];
    row[F::SynPackets as usize] = f[5];
    let s = RulesScorer::strengths(&row);
    let types: Vec<ThreatType> = s.iter().filter(|x| x.1 > 0.5).map(|x| x.0).collect();
    let conf = s.iter().map(|x| x.1).fold(0.0, f64::max);
    (!types.is_empty(), conf, types)
}

async fn infer(State(api): State<Arc<Api>>, h: HeaderMap, body: Bytes) -> Response {
    if !api.authorised(&h) {
        return json_error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    let t0 = Instant::now();
    let batch: InferBatch = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut alerts = Vec::new();
    for it in &batch.items {
        if !(it.conn_rate.is_finite() && it.uniq_dports.is_finite()) {
            return json_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "conn_rate and uniq_dports must be finite numbers",
            );
        }
        let score = formula(it.conn_rate, it.uniq_dports);
        if score >= api.cfg.threshold {
            let mut labels = BTreeMap::new();
            labels.insert("alertname".to_string(), ALERT_NAME.to_string());
            labels.insert("src".to_string(), it.src.clone());
            labels.insert("threat_type".to_string(), "port_scan".to_string());
            labels.insert("severity".to_string(), confidence_level(score).to_string());
            let mut ann = BTreeMap::new();
            ann.insert("summary".to_string(), format!("score={score:.2}"));
            ann.insert(
                "detail".to_string(),
                format!("rate={}, uniq_dports={}", it.conn_rate, it.uniq_dports),
            );
            alerts.push(Alert {
                labels,
                annotations: ann,
                starts_at: rfc3339(std::time::SystemTime::now()),
                ends_at: None,
                generator_url: String::new(),
            });
        }
    }
    let n = alerts.len();
    let el = t0.elapsed().as_secs_f64();
    api.infer_ms.observe(el * 1000.0);
    api.infer_s.observe(el);
    if let (Some(c), false) = (&api.alerts, alerts.is_empty()) {
        let mut c = c.lock().await;
        c.enqueue(alerts);
        // Failed POSTs stay queued; the retry task delivers them later.
        c.flush().await;
    }
    axum::Json(serde_json::json!({"ok": true, "alerts": n})).into_response()
}

/// The PromQL behind each of the six features. The sensor exports packets/s and
/// bytes/s (issue 5); the others come from the same names when a sensor exports them
/// and count as 0 (and are listed under `missing`) otherwise.
const PROM_FEATURES: [(&str, &str); 6] = [
    ("packets_per_second", "sum(ebpf_packets_per_second)"),
    ("bytes_per_second", "sum(ebpf_bytes_per_second)"),
    ("unique_ips", "max(ebpf_unique_ips)"),
    ("unique_ports", "max(ebpf_unique_ports)"),
    ("tcp_ratio", "max(ebpf_tcp_ratio)"),
    ("syn_packets", "sum(ebpf_syn_packets)"),
];

async fn prom_value(base: &str, q: &str) -> Result<Option<f64>, String> {
    use http_body_util::{BodyExt, Empty};
    let client: hyper_util::client::legacy::Client<_, Empty<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let enc: String = q
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let url = format!("{}/api/v1/query?query={enc}", base.trim_end_matches('/'));
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| format!("bad Prometheus URL {url}: {e}"))?;
    let resp = tokio::time::timeout(std::time::Duration::from_secs(3), client.get(uri))
        .await
        .map_err(|_| format!("Prometheus at {base} did not answer within 3 s"))?
        .map_err(|e| format!("cannot query Prometheus at {base}: {e}"))?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading Prometheus answer: {e}"))?
        .to_bytes();
    if !status.is_success() {
        return Err(format!(
            "Prometheus answered {status} to {q}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("Prometheus answer is not JSON: {e}"))?;
    Ok(v["data"]["result"]
        .as_array()
        .and_then(|r| r.first())
        .and_then(|x| x["value"][1].as_str())
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|x| x.is_finite()))
}

async fn detect_prom(State(api): State<Arc<Api>>) -> Response {
    let Some(base) = api.cfg.prometheus.clone() else {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no Prometheus configured (serve --prometheus URL)",
        );
    };
    let t0 = Instant::now();
    let mut f = [0.0; 6];
    let mut missing = Vec::new();
    let mut features = serde_json::Map::new();
    for (i, (name, q)) in PROM_FEATURES.iter().enumerate() {
        match prom_value(&base, q).await {
            Ok(Some(v)) => f[i] = v.max(0.0),
            Ok(None) => missing.push(*name),
            Err(e) => return json_error(StatusCode::BAD_GATEWAY, &e),
        }
        features.insert(name.to_string(), serde_json::json!(f[i]));
    }
    let (hit, conf, types) = detect(&f);
    for t in &types {
        api.threats
            .get_or_create(&ThreatLabels {
                threat_type: t.name().to_string(),
                confidence_level: confidence_level(conf).to_string(),
            })
            .inc();
    }
    api.processing_s.observe(t0.elapsed().as_secs_f64());
    axum::Json(serde_json::json!({
        "threat_detected": hit,
        "confidence": (conf * 1000.0).round() / 1000.0,
        "threat_types": types.iter().map(|t| t.name()).collect::<Vec<_>>(),
        "features": features,
        "missing": missing,
    }))
    .into_response()
}

async fn detect_h(State(api): State<Arc<Api>>, h: HeaderMap, body: Bytes) -> Response {
    if !api.authorised(&h) {
        return json_error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    let t0 = Instant::now();
    let r: DetectReq = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let f = [
        r.packets_per_second,
        r.bytes_per_second,
        r.unique_ips,
        r.unique_ports,
        r.tcp_ratio,
        r.syn_packets,
    ];
    if f.iter().any(|v| !v.is_finite() || *v < 0.0) {
        return json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "features must be finite, non-negative numbers",
        );
    }
    let (hit, conf, mut types) = detect(&f);
    // Rules first (they name the attack), then the ensemble: an unusual sample the
    // rules miss still raises an ml_*_risk threat; confidence is the stronger of both.
    let (ml_raw, risk) = api.online.score(&f);
    let (ml, ml_risk) = if api.online.trained_locally() {
        (ml_raw, risk)
    } else {
        // Baseline only: shown as ml_score, not acted on (see Online::trained_locally).
        (0.0, None)
    };
    api.online.push(&f);
    if let Some(t) = ml_risk {
        types.push(t);
    }
    let hit = hit || ml_risk.is_some();
    let conf = conf.max(ml);
    for t in &types {
        api.threats
            .get_or_create(&ThreatLabels {
                threat_type: t.name().to_string(),
                confidence_level: confidence_level(conf).to_string(),
            })
            .inc();
    }
    api.processing_s.observe(t0.elapsed().as_secs_f64());
    axum::Json(serde_json::json!({
        "threat_detected": hit,
        "ml_score": (ml_raw * 1000.0).round() / 1000.0,
        "confidence": (conf * 1000.0).round() / 1000.0,
        "threat_types": types.iter().map(|t| t.name()).collect::<Vec<_>>(),
    }))
    .into_response()
}

/// `POST /train`: retrain the ensemble now (on a blocking thread; /detect keeps
/// answering with the previous model until the new one is swapped in).
async fn train_h(State(api): State<Arc<Api>>, h: HeaderMap) -> Response {
    if !api.authorised(&h) {
        return json_error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    let online = api.online.clone();
    match tokio::task::spawn_blocking(move || online.train()).await {
        Ok(Ok(v)) => axum::Json(v).into_response(),
        Ok(Err(e)) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")),
        Err(e) => json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("training failed: {e}"),
        ),
    }
}

/// The HTTP routes.
fn router(api: Arc<Api>) -> Router {
    let limit = api.cfg.body_limit;
    Router::new()
        .route("/infer", post(infer))
        .route("/detect", post(detect_h))
        .route("/detect/prom", get(detect_prom))
        .route("/train", post(train_h))
        .route(
            "/metrics",
            get(|State(a): State<Arc<Api>>| async move {
                web::metrics_response(web::encode(&a.registry))
            }),
        )
        .route(
            "/health",
            get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .layer(DefaultBodyLimit::max(limit))
        .with_state(api)
}

/// Serves the APIs on `listen` (prints `listening on ADDR`) until Ctrl-C/SIGTERM; a
/// background task re-sends queued alerts while Alertmanager is down.
pub async fn serve_http(listen: SocketAddr, cfg: ApiConfig) -> Result<()> {
    let dir = cfg.model_dir.clone();
    let online = tokio::task::spawn_blocking(move || super::online::Online::open(&dir))
        .await
        .context("loading the online model")??;
    let online = Arc::new(online);
    let every = cfg.retrain_interval;
    let api = Arc::new(Api::new(cfg, online.clone())?);
    if !every.is_zero() {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let o = online.clone();
                match tokio::task::spawn_blocking(move || o.train()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!(error = %format!("{e:#}"), "retraining failed"),
                    Err(e) => tracing::warn!(error = %e, "retraining panicked"),
                }
            }
        });
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {addr}")?;
        out.flush()?;
    }
    let retry = api.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            if let Some(c) = &retry.alerts {
                c.lock().await.flush().await;
            }
        }
    });
    web::serve(listener, router(api)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_003_example_is_port_scan_and_ddos() {
        let (hit, conf, types) = detect(&[1200.0, 1_500_000.0, 30.0, 50.0, 0.95, 800.0]);
        assert!(hit);
        assert!(conf > 0.5);
        assert_eq!(types, vec![ThreatType::PortScan, ThreatType::Ddos]);
        let (hit, _, types) = detect(&[10.0, 1000.0, 2.0, 3.0, 0.5, 1.0]);
        assert!(!hit && types.is_empty());
        assert_eq!(formula(12.5, 8.0), 1.0);
    }
}
