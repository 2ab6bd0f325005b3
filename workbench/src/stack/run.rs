//! `publish` (a sensor replaying captures or a simulation to JetStream) and `serve`
//! (the NATS scorer and/or the seeds' HTTP APIs), from plain settings.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use capture::{CaptureFile, PacketSource};

use super::nats::{self, Publisher, PublisherConfig, ScorerConfig};
use crate::alert::{
    AlertClient, AlertConfig, AlertPipeline, AlertTimings, ClientConfig, DeliveryOptions,
    SystemClock,
};
use crate::engine::{FeatureSchema, WindowConfig};
use crate::model::scorer_for;
use crate::pipeline::{expand_inputs, SimSource, Speed};
use crate::simulate::SimConfig;

/// A sensor run without capture privileges.
#[derive(Clone, Debug)]
pub struct PublishConfig {
    /// Captures (files or directories), in order; ignored with `simulate`.
    pub inputs: Vec<PathBuf>,
    pub simulate: Option<SimConfig>,
    pub url: String,
    pub subject: String,
    pub shards: u16,
    pub sensor_id: String,
    pub speed: Speed,
    /// Most batches buffered while NATS is unreachable.
    pub buffer_batches: usize,
    pub batch_records: usize,
}

/// Replays captures or a simulation to JetStream; returns the sensor's counters. Each
/// file is an input of its own (the scorers apply the engine's timeline rule between
/// them); fails when batches stayed unacknowledged.
pub fn publish(a: &PublishConfig) -> Result<serde_json::Value> {
    let mut cfg = PublisherConfig::new(&a.url, &a.sensor_id);
    cfg.subject = a.subject.clone();
    cfg.shards = a.shards;
    cfg.buffer_batches = a.buffer_batches;
    cfg.batch_records = a.batch_records;
    let mut p = Publisher::start(cfg)?;
    let mut sources: Vec<Box<dyn PacketSource>> = Vec::new();
    if let Some(sim) = &a.simulate {
        sources.push(Box::new(SimSource::new(sim)));
    } else {
        for f in expand_inputs(&a.inputs)? {
            sources.push(Box::new(
                CaptureFile::open(&f).with_context(|| format!("cannot open {}", f.display()))?,
            ));
        }
    }
    let mut last_flush = Instant::now();
    for mut src in sources {
        p.begin_input();
        // Pacing restarts with every input: its first packet plays "now".
        let (mut t0, mut first_ts): (Option<Instant>, u64) = (None, 0);
        let mut last_ts = 0u64;
        while let Some(mut r) = src.next_packet()? {
            // Sensors publish in time order (the watermark promise); a packet that steps
            // back within its capture is clamped, which puts it where the engine counts
            // a late packet anyway (the open hop).
            r.ts_ns = r.ts_ns.max(last_ts);
            last_ts = r.ts_ns;
            if let Speed::Factor(f) = a.speed {
                let start = *t0.get_or_insert_with(|| {
                    first_ts = r.ts_ns;
                    Instant::now()
                });
                let due =
                    Duration::from_secs_f64(r.ts_ns.saturating_sub(first_ts) as f64 / 1e9 / f);
                let el = start.elapsed();
                if due > el {
                    std::thread::sleep(due - el);
                }
            }
            p.publish(&r);
            if last_flush.elapsed() >= Duration::from_millis(200) {
                p.flush();
                last_flush = Instant::now();
            }
        }
    }
    let stats = p.stats();
    let left = p.finish(Duration::from_secs(120));
    let get = |x: &std::sync::atomic::AtomicU64| x.load(Ordering::Relaxed);
    let j = serde_json::json!({
        "records": get(&stats.records),
        "batches": get(&stats.batches),
        "bytes": get(&stats.bytes),
        "bytes_per_record": get(&stats.bytes) as f64 / get(&stats.records).max(1) as f64,
        "acked": get(&stats.acked),
        "duplicates": get(&stats.duplicates),
        "retries": get(&stats.retries),
        "dropped_batches": get(&stats.dropped_batches),
        "buffered_peak": get(&stats.buffered_peak),
        "unacknowledged": left,
    });
    if left > 0 {
        println!("{j}");
        bail!("{left} batch(es) not acknowledged by JetStream");
    }
    Ok(j)
}

/// The NATS scorer and the seeds' HTTP APIs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// The NATS server to score from (None: HTTP APIs only).
    pub nats: Option<String>,
    pub subject: String,
    pub shards: u16,
    pub scorers: u16,
    pub scorer_index: u16,
    pub expect_sensors: usize,
    pub sensor_idle: Duration,
    pub rows_out: Option<PathBuf>,
    pub exit_on_end: bool,
    pub model: String,
    pub threshold: Option<f64>,
    /// Where the HTTP APIs listen (None: scorer only).
    pub listen: Option<SocketAddr>,
    pub token: Option<String>,
    pub alertmanager: Option<String>,
    pub prometheus: Option<String>,
    pub max_body: usize,
    pub model_dir: PathBuf,
    pub retrain_interval: Duration,
    pub timings: AlertTimings,
    pub window: WindowConfig,
}

/// Runs the scorer and/or the APIs until the input ends (`exit_on_end`) or a signal;
/// returns the scorer's counters (with the alert delivery's).
pub fn serve(a: &ServeConfig) -> Result<serde_json::Value> {
    let schema = FeatureSchema::for_widths(&a.window.widths_s);
    let sc: Arc<dyn crate::eval::Scorer> = Arc::from(scorer_for(&a.model, &schema)?);
    let th = a.threshold.unwrap_or_else(|| sc.default_threshold());
    let cfg = a.nats.clone().map(|url| ScorerConfig {
        url,
        subject: a.subject.clone(),
        shards: a.shards,
        scorers: a.scorers,
        index: a.scorer_index,
        expect_sensors: a.expect_sensors,
        sensor_idle: a.sensor_idle,
        window: a.window.clone(),
        rows_out: a.rows_out.clone(),
        exit_on_end: a.exit_on_end,
    });
    let api = a.listen.map(|l| {
        (
            l,
            super::serve::ApiConfig {
                threshold: a.threshold.unwrap_or(0.7),
                token: a.token.clone(),
                alertmanager: a.alertmanager.clone(),
                body_limit: a.max_body,
                prometheus: a.prometheus.clone(),
                model_dir: a.model_dir.clone(),
                retrain_interval: a.retrain_interval,
            },
        )
    });
    // The scorer's alerts: the live pipeline's tracker and delivery loop, towards
    // --alertmanager (the /infer API posts its own alerts to the same URL).
    let alert_client = match (&cfg, &a.alertmanager) {
        (Some(_), Some(url)) => Some(AlertClient::new(ClientConfig::new(url.clone()))?),
        _ => None,
    };
    let t = a.timings;
    let alert_cfg = cfg.as_ref().map(|c| AlertConfig {
        threshold: th,
        resend_interval: t.resend_interval,
        resolve_after: t.resolve_after,
        resolved_keep: t.resolved_keep,
        instance: format!("{}-scorer-{}-of-{}", c.subject, c.index, c.scorers),
        generator_url: a
            .listen
            .map(|l| format!("http://{l}/health"))
            .unwrap_or_default(),
    });
    let rt = super::web::runtime()?;
    let (st, delivery) = rt.block_on(async move {
        let pipeline = match (alert_cfg, alert_client) {
            (Some(c), Some(client)) => Some(AlertPipeline::spawn(
                c,
                Some(client),
                DeliveryOptions {
                    console: false,
                    keep_firing_on_exit: false,
                    grace: t.shutdown_grace,
                    metrics: Arc::new(crate::http::Metrics::new()),
                    status: Arc::default(),
                    clock: Arc::new(SystemClock),
                },
            )),
            _ => None,
        };
        let alerter = pipeline.as_ref().map(|p| p.alerter()).unwrap_or_else(|| {
            // No Alertmanager: windows are still scored and counted, nothing is sent.
            crate::alert::Alerter::new(
                th,
                Arc::new(std::sync::Mutex::new(crate::alert::AlertTracker::new(
                    AlertConfig {
                        threshold: th,
                        resend_interval: t.resend_interval,
                        resolve_after: t.resolve_after,
                        resolved_keep: t.resolved_keep,
                        instance: String::new(),
                        generator_url: String::new(),
                    },
                ))),
                Arc::new(tokio::sync::Notify::new()),
                Arc::new(SystemClock),
            )
        });
        let http = async move {
            match api {
                Some((l, c)) => super::serve::serve_http(l, c).await,
                None => std::future::pending().await,
            }
        };
        let scorer = async move {
            match cfg {
                Some(c) => nats::run_scorer(c, Some((sc, alerter))).await,
                None => std::future::pending().await,
            }
        };
        let r: Result<nats::ScorerStats> = tokio::select! {
            r = scorer => r,
            r = http => r.map(|()| Default::default()),
            _ = super::web::shutdown_signal() => Ok(Default::default()),
        };
        // Last round: firing alerts resolve, the queue drains (bounded by the grace).
        let delivery = match pipeline {
            Some(p) => {
                let (d, undelivered, log) = p.finish().await;
                Some(serde_json::json!({
                    "delivery": d,
                    "undelivered": undelivered,
                    "events": log.len(),
                }))
            }
            None => None,
        };
        r.map(|st| (st, delivery))
    })?;
    let mut out = serde_json::to_value(&st)?;
    if let (Some(d), Some(o)) = (delivery, out.as_object_mut()) {
        o.insert("alertmanager".into(), d);
    }
    Ok(out)
}
