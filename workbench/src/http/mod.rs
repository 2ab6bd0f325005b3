//! The HTTP endpoints of live mode (axum): `/health`, `/ready`, `/stats`, `/metrics`.
//!
//! Bound to 127.0.0.1 by default (`--listen`): the endpoints say which hosts look
//! hostile, which is not for everyone on the network. Only GET is served; requests with
//! a body over [`MAX_BODY_BYTES`] get 413, unknown paths 404, bad query strings 400,
//! each with a one-line message.

pub mod metrics;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

pub use metrics::Metrics;

/// Largest request body accepted (no endpoint takes one; this keeps a client from
/// streaming megabytes at us).
pub const MAX_BODY_BYTES: u64 = 16 * 1024;

/// Most hosts `/stats?top=N` returns.
pub const MAX_TOP: usize = 1000;

/// What the endpoints read. The live pipeline updates `status` and `metrics`.
#[derive(Clone)]
pub struct AppState {
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// Everything `/ready` and `/stats` show.
    pub status: Arc<Mutex<LiveStatus>>,
}

/// One scored host of the latest closed window.
#[derive(Clone, Debug, serde::Serialize)]
pub struct HostScore {
    /// Host address.
    pub host: String,
    /// Score in [0, 1].
    pub score: f64,
    /// Threat type of the score.
    pub threat_type: String,
    /// Whether the score is at or above the threshold.
    pub alerting: bool,
    /// Packets the host sent in the primary window.
    pub packets_out: f64,
}

/// State shown by `/ready` and `/stats`.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LiveStatus {
    /// True once the source is open and the engine runs.
    pub ready: bool,
    /// `xdp-driver`, `xdp-skb`, `afpacket`, `simulation` or `replay`.
    pub backend: String,
    /// Why the preferred capture backends were not used.
    pub fallbacks: Vec<String>,
    /// Scorer name and threshold.
    pub model: String,
    /// Alert threshold.
    pub threshold: f64,
    /// End of the latest closed window (RFC 3339) and its ns value.
    pub window_end: Option<String>,
    /// See `window_end`.
    pub window_end_ns: Option<u64>,
    /// Hosts of the latest closed window, highest score first (at most 1000).
    pub top_hosts: Vec<HostScore>,
    /// Engine counters.
    pub engine: crate::engine::EngineStats,
    /// Capture counters (packets/bytes/lost/delivered, decode skips).
    pub capture: serde_json::Value,
    /// Alert counters (firing, delivery).
    pub alerts: serde_json::Value,
}

/// The router with every endpoint.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/stats", get(stats))
        .route("/metrics", get(metrics_text))
        .fallback(not_found)
        .method_not_allowed_fallback(not_allowed)
        .layer(middleware::from_fn(limit_body))
        .with_state(state)
}

/// Binds `addr` and serves until `shutdown` resolves. Returns the bound address (port 0
/// picks a free one) and the server task.
pub async fn serve(
    addr: SocketAddr,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the HTTP endpoints to {addr} (--listen)"))?;
    let local = listener.local_addr()?;
    let app = router(state);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            eprintln!("HTTP server on {local} stopped: {e}");
        }
    });
    Ok((local, task))
}

async fn limit_body(req: Request, next: Next) -> Response {
    let len = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if len.is_some_and(|l| l > MAX_BODY_BYTES) {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body over {MAX_BODY_BYTES} bytes\n"),
        )
            .into_response();
    }
    if req.headers().contains_key(header::TRANSFER_ENCODING) {
        return (
            StatusCode::LENGTH_REQUIRED,
            "chunked request bodies are not accepted\n",
        )
            .into_response();
    }
    next.run(req).await
}

async fn not_found(req: Request) -> Response {
    (
        StatusCode::NOT_FOUND,
        format!(
            "no endpoint {} {}; try GET /health, /ready, /stats, /metrics\n",
            req.method(),
            req.uri().path()
        ),
    )
        .into_response()
}

async fn not_allowed(req: Request) -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "GET, HEAD")],
        format!(
            "{} is not allowed on {}; only GET\n",
            req.method(),
            req.uri().path()
        ),
    )
        .into_response()
}

async fn health() -> Response {
    Json(serde_json::json!({ "status": "ok" })).into_response()
}

async fn ready(State(s): State<AppState>) -> Response {
    let st = match s.status.lock() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    };
    let body = Json(serde_json::json!({
        "ready": st.ready,
        "backend": st.backend,
        "fallbacks": st.fallbacks,
        "model": st.model,
        "threshold": st.threshold,
    }));
    if st.ready {
        body.into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

/// `/stats` query: `top` = how many hosts (default 20, at most [`MAX_TOP`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatsQuery {
    top: Option<usize>,
}

async fn stats(
    State(s): State<AppState>,
    q: Result<Query<StatsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!(
                    "bad query: {}; use /stats?top=N (N <= {MAX_TOP})\n",
                    e.body_text()
                ),
            )
                .into_response()
        }
    };
    let top = q.top.unwrap_or(20);
    if top > MAX_TOP {
        return (
            StatusCode::BAD_REQUEST,
            format!("top={top} is over the limit of {MAX_TOP}\n"),
        )
            .into_response();
    }
    let mut st = match s.status.lock() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    };
    st.top_hosts.truncate(top);
    Json(st).into_response()
}

async fn metrics_text(State(s): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, Metrics::CONTENT_TYPE)],
        s.metrics.encode(),
    )
        .into_response()
}
