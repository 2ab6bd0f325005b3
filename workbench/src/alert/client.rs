//! [`AlertClient`]: delivers alerts to Alertmanager's v2 API with a bounded queue and
//! exponential back-off.
//!
//! HTTP client choice: hyper-util's legacy client over hyper, which axum already builds
//! for the endpoints, so delivery adds no second HTTP stack (reqwest or ureq would add
//! their own). Plain `http://` only: Alertmanager sits on the internal network in every
//! seed deployment; an `https://` URL is refused with a message at start.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;

use super::Alert;

/// Delivery settings.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `http://host:port/api/v2/alerts`.
    pub url: String,
    /// Most alerts held while Alertmanager is unreachable; beyond it the oldest are
    /// dropped and counted. Alerts are deduplicated by (src, threat_type) in the queue,
    /// so this bounds distinct alerts, not re-sends.
    pub max_queue: usize,
    /// First retry delay after a failed POST; doubles per failure up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// Timeout of one POST (connect + response).
    pub timeout: Duration,
}

impl ClientConfig {
    /// Defaults for `url`: 10 000 queued alerts, back-off 100 ms → 5 s, 3 s timeout.
    pub fn new(url: impl Into<String>) -> Self {
        ClientConfig {
            url: url.into(),
            max_queue: 10_000,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            timeout: Duration::from_secs(3),
        }
    }
}

/// Delivery counters, shared with `/stats` and `/metrics`.
#[derive(Debug, Default, Serialize)]
pub struct AlertClientStats {
    /// Successful POSTs.
    pub posts_ok: AtomicU64,
    /// Failed POSTs (connection refused, timeout, non-2xx).
    pub posts_failed: AtomicU64,
    /// POSTs that were retries of a failed one.
    pub retries: AtomicU64,
    /// Alerts (versions) delivered.
    pub alerts_delivered: AtomicU64,
    /// Alerts dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Alerts waiting now.
    pub queued: AtomicU64,
}

impl AlertClientStats {
    fn get(a: &AtomicU64) -> u64 {
        a.load(Ordering::Relaxed)
    }

    /// A plain copy for JSON.
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "posts_ok": Self::get(&self.posts_ok),
            "posts_failed": Self::get(&self.posts_failed),
            "retries": Self::get(&self.retries),
            "alerts_delivered": Self::get(&self.alerts_delivered),
            "dropped": Self::get(&self.dropped),
            "queued": Self::get(&self.queued),
        })
    }
}

/// Sends batches of alerts to Alertmanager (`POST /api/v2/alerts`), one POST per
/// [`flush`](Self::flush) however many alerts are due. While Alertmanager is down the
/// alerts wait in a bounded queue (a newer version of an alert replaces the queued one,
/// so nothing that matters is lost) and POSTs are retried with exponential back-off.
///
/// Reusable outside live mode (e.g. a `notify` command): build it with
/// [`AlertClient::new`], [`enqueue`](Self::enqueue) alerts and call
/// [`flush`](Self::flush) from a tokio runtime.
pub struct AlertClient {
    cfg: ClientConfig,
    uri: Uri,
    http: Client<HttpConnector, Full<Bytes>>,
    queue: VecDeque<Alert>,
    failures: u32,
    next_attempt: Option<Instant>,
    stats: Arc<AlertClientStats>,
    last_error: Option<String>,
}

impl AlertClient {
    /// A client for `cfg.url` (must be `http://`). Must be called inside a tokio runtime
    /// only when flushing; building needs none.
    pub fn new(cfg: ClientConfig) -> Result<Self> {
        let uri: Uri = cfg
            .url
            .parse()
            .with_context(|| format!("--alertmanager {:?} is not a URL", cfg.url))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => bail!(
                "--alertmanager {}: https is not supported (plain http to an internal Alertmanager, or a TLS proxy beside it)",
                cfg.url
            ),
            _ => bail!(
                "--alertmanager {:?}: expected http://HOST:PORT/api/v2/alerts",
                cfg.url
            ),
        }
        if uri.host().is_none() {
            bail!("--alertmanager {:?}: no host", cfg.url);
        }
        let http = Client::builder(TokioExecutor::new()).build_http();
        Ok(AlertClient {
            cfg,
            uri,
            http,
            queue: VecDeque::new(),
            failures: 0,
            next_attempt: None,
            stats: Arc::new(AlertClientStats::default()),
            last_error: None,
        })
    }

    /// The URL alerts go to.
    pub fn url(&self) -> &str {
        &self.cfg.url
    }

    /// Shared counters.
    pub fn stats(&self) -> Arc<AlertClientStats> {
        self.stats.clone()
    }

    /// Alerts waiting for delivery.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The last delivery error, if the last POST failed.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Queues alerts; a queued alert with the same (src, threat_type) is replaced by
    /// the newer version (it carries the latest state, e.g. `endsAt`).
    pub fn enqueue(&mut self, alerts: impl IntoIterator<Item = Alert>) {
        for a in alerts {
            let key = a.key();
            if let Some(old) = self.queue.iter_mut().find(|q| q.key() == key) {
                *old = a;
                continue;
            }
            if self.queue.len() >= self.cfg.max_queue {
                self.queue.pop_front();
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
            self.queue.push_back(a);
        }
        self.stats
            .queued
            .store(self.queue.len() as u64, Ordering::Relaxed);
    }

    /// True when a POST may be attempted now (queue not empty, back-off elapsed).
    pub fn ready(&self, now: Instant) -> bool {
        !self.queue.is_empty() && self.next_attempt.is_none_or(|t| now >= t)
    }

    /// POSTs everything queued in one request if the back-off allows. Returns the
    /// number of alerts delivered (0 when nothing was due or the POST failed; failures
    /// are counted and scheduled for retry, never returned as errors).
    pub async fn flush(&mut self) -> usize {
        let now = Instant::now();
        if !self.ready(now) {
            return 0;
        }
        let batch: Vec<Alert> = self.queue.iter().cloned().collect();
        if self.failures > 0 {
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
        }
        match self.post(&batch).await {
            Ok(()) => {
                // Only what was sent leaves the queue; anything queued meanwhile stays.
                for _ in 0..batch.len().min(self.queue.len()) {
                    self.queue.pop_front();
                }
                self.failures = 0;
                self.next_attempt = None;
                self.last_error = None;
                self.stats.posts_ok.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .alerts_delivered
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                self.stats
                    .queued
                    .store(self.queue.len() as u64, Ordering::Relaxed);
                batch.len()
            }
            Err(e) => {
                self.failures = self.failures.saturating_add(1);
                let exp = self.failures.saturating_sub(1).min(16);
                let delay = self
                    .cfg
                    .min_backoff
                    .saturating_mul(1u32 << exp)
                    .min(self.cfg.max_backoff);
                self.next_attempt = Some(Instant::now() + delay);
                self.stats.posts_failed.fetch_add(1, Ordering::Relaxed);
                let msg = format!("{e:#}");
                if self.failures == 1 || self.last_error.as_deref() != Some(&msg) {
                    eprintln!(
                        "alertmanager {}: {msg}; {} alert(s) queued, retrying in {:.1} s",
                        self.cfg.url,
                        self.queue.len(),
                        delay.as_secs_f64()
                    );
                }
                self.last_error = Some(msg);
                0
            }
        }
    }

    async fn post(&self, batch: &[Alert]) -> Result<()> {
        let body = serde_json::to_vec(batch)?;
        let req = hyper::Request::post(self.uri.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))?;
        let resp = tokio::time::timeout(self.cfg.timeout, self.http.request(req))
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {:?}", self.cfg.timeout))?
            .context("POST failed")?;
        let status = resp.status();
        if !status.is_success() {
            let body = tokio::time::timeout(self.cfg.timeout, resp.into_body().collect())
                .await
                .ok()
                .and_then(|r| r.ok())
                .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
                .unwrap_or_default();
            bail!("HTTP {status}: {}", body.trim());
        }
        // Drain the body so the connection goes back to the pool.
        let _ = tokio::time::timeout(self.cfg.timeout, resp.into_body().collect()).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn alert(src: &str, ends: Option<&str>) -> Alert {
        Alert {
            labels: BTreeMap::from([
                ("src".to_string(), src.to_string()),
                ("threat_type".to_string(), "port_scan".to_string()),
            ]),
            annotations: BTreeMap::new(),
            starts_at: "2026-01-01T00:00:00.000Z".into(),
            ends_at: ends.map(str::to_string),
            generator_url: String::new(),
        }
    }

    #[test]
    fn queue_deduplicates_by_key_and_counts_drops_only_past_the_bound() {
        let mut cfg = ClientConfig::new("http://127.0.0.1:9/api/v2/alerts");
        cfg.max_queue = 3;
        let mut c = AlertClient::new(cfg).expect("client");
        for i in 0..3 {
            c.enqueue([alert(&format!("10.0.0.{i}"), None)]);
        }
        // A newer version of a queued alert replaces it: no growth, no drop.
        c.enqueue([alert("10.0.0.1", Some("2026-01-01T00:01:00.000Z"))]);
        assert_eq!(c.queued(), 3);
        assert_eq!(c.stats().dropped.load(Ordering::Relaxed), 0);
        assert!(c.queue.iter().any(|a| a.is_resolved()));
        // A fourth distinct alert exceeds the bound: the oldest goes, counted.
        c.enqueue([alert("10.0.0.9", None)]);
        assert_eq!(c.queued(), 3);
        assert_eq!(c.stats().dropped.load(Ordering::Relaxed), 1);
        assert!(!c.queue.iter().any(|a| a.key().0 == "10.0.0.0"));
    }

    #[test]
    fn refuses_https_and_non_urls() {
        assert!(AlertClient::new(ClientConfig::new("https://am:9093/api/v2/alerts")).is_err());
        assert!(AlertClient::new(ClientConfig::new("alertmanager:9093")).is_err());
    }
}
