//! `workbench publish` and `workbench serve` (NATS part): wiring only.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use capture::{CaptureFile, PacketSource};

use super::args::{PublishArgs, ServeArgs};
use super::nats::{self, Publisher, PublisherConfig, ScorerConfig};
use crate::eval::scorer_for;
use crate::sources::{expand_inputs, SimSource};

/// Replays captures or a simulation to JetStream; prints the sensor's counters as JSON.
pub fn publish(a: &PublishArgs) -> Result<()> {
    let Some(url) = &a.bus.nats else {
        bail!("--nats URL (or NATS_URL) is required");
    };
    let speed: Option<f64> = match a.speed.as_str() {
        "max" => None,
        s => Some(
            s.trim_end_matches('x')
                .parse::<f64>()
                .ok()
                .filter(|v| *v > 0.0)
                .with_context(|| format!("--speed {s:?}: use max or a positive factor"))?,
        ),
    };
    let mut cfg = PublisherConfig::new(url, &a.sensor_id);
    cfg.subject = a.bus.subject.clone();
    cfg.shards = a.bus.shards.max(1);
    cfg.buffer_batches = a.buffer_batches;
    cfg.batch_records = a.batch_records.max(1);
    let mut p = Publisher::start(cfg)?;
    let mut sources: Vec<Box<dyn PacketSource>> = Vec::new();
    if let Some(sc) = a.simulate {
        sources.push(Box::new(SimSource::new(&a.sim.config(sc))));
    } else {
        for f in expand_inputs(&a.inputs)? {
            sources.push(Box::new(
                CaptureFile::open(&f).with_context(|| format!("cannot open {}", f.display()))?,
            ));
        }
    }
    let t0 = Instant::now();
    let mut first_ts: Option<u64> = None;
    let mut last_flush = Instant::now();
    let mut last_ts = 0u64;
    for mut src in sources {
        while let Some(r) = src.next_packet()? {
            // Sensors publish in time order (the watermark promise); a capture that
            // steps back in time is clamped, as the engine would count it late anyway.
            let mut r = r;
            r.ts_ns = r.ts_ns.max(last_ts);
            last_ts = r.ts_ns;
            if let Some(f) = speed {
                let first = *first_ts.get_or_insert(r.ts_ns);
                let due = Duration::from_secs_f64((r.ts_ns - first) as f64 / 1e9 / f);
                let el = t0.elapsed();
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
    let j = serde_json::json!({
        "records": stats.records.load(Ordering::Relaxed),
        "batches": stats.batches.load(Ordering::Relaxed),
        "bytes": stats.bytes.load(Ordering::Relaxed),
        "bytes_per_record": stats.bytes.load(Ordering::Relaxed) as f64 / stats.records.load(Ordering::Relaxed).max(1) as f64,
        "acked": stats.acked.load(Ordering::Relaxed),
        "duplicates": stats.duplicates.load(Ordering::Relaxed),
        "retries": stats.retries.load(Ordering::Relaxed),
        "dropped_batches": stats.dropped_batches.load(Ordering::Relaxed),
        "buffered_peak": stats.buffered_peak.load(Ordering::Relaxed),
        "unacknowledged": left,
    });
    writeln!(std::io::stdout(), "{j}")?;
    if left > 0 {
        bail!("{left} batch(es) not acknowledged by JetStream");
    }
    Ok(())
}

/// `workbench serve`: the NATS scorer (`--nats`) and/or the seeds' HTTP APIs
/// (`--listen`).
pub fn serve_nats(a: &ServeArgs) -> Result<()> {
    if a.bus.nats.is_none() && a.listen.is_none() {
        bail!("nothing to serve: give --nats URL (scorer) and/or --listen ADDR (HTTP APIs)");
    }
    if a.scorer_index >= a.scorers.max(1) {
        bail!(
            "--scorer-index {} must be below --scorers {}",
            a.scorer_index,
            a.scorers
        );
    }
    let window = a.window.config();
    window.validate()?;
    let schema = crate::engine::FeatureSchema::for_widths(&window.widths_s);
    let sc: Arc<dyn crate::eval::Scorer> = Arc::from(scorer_for(&a.model, &schema)?);
    let th = a.threshold.unwrap_or_else(|| sc.default_threshold());
    let cfg = a.bus.nats.clone().map(|url| ScorerConfig {
        url,
        subject: a.bus.subject.clone(),
        shards: a.bus.shards.max(1),
        scorers: a.scorers.max(1),
        index: a.scorer_index,
        expect_sensors: a.expect_sensors,
        sensor_idle: Duration::from_secs_f64(a.sensor_idle.max(0.1)),
        window,
        rows_out: a.rows_out.clone(),
        exit_on_end: a.exit_on_end,
    });
    let api = a.listen.map(|l| {
        (
            l,
            super::serve::ApiConfig {
                threshold: a.threshold.unwrap_or(0.7),
                token: a.token.clone().filter(|t| !t.is_empty()),
                alertmanager: a.alertmanager.clone(),
                body_limit: a.max_body,
                prometheus: a.prometheus.clone(),
                model_dir: a.model_dir.clone(),
                retrain_interval: Duration::from_secs_f64(if a.retrain_interval.is_finite() {
                    a.retrain_interval.max(0.0)
                } else {
                    0.0
                }),
            },
        )
    });
    // The scorer's alerts: the live pipeline's tracker and delivery loop, towards
    // --alertmanager (the /infer API posts its own alerts to the same URL).
    let alert_client = match (&cfg, &a.alertmanager) {
        (Some(_), Some(url)) => Some(crate::alert::AlertClient::new(
            crate::alert::ClientConfig::new(url.clone()),
        )?),
        _ => None,
    };
    let (resend_interval, resolve_after, resolved_keep, grace) = a.timing.durations()?;
    let alert_cfg = cfg.as_ref().map(|c| crate::alert::AlertConfig {
        threshold: th,
        resend_interval,
        resolve_after,
        resolved_keep,
        instance: format!("{}-scorer-{}-of-{}", c.subject, c.index, c.scorers),
        generator_url: a
            .listen
            .map(|l| format!("http://{l}/health"))
            .unwrap_or_default(),
    });
    let rt = super::web::runtime()?;
    let (st, delivery) = rt.block_on(async move {
        let pipeline = match (alert_cfg, alert_client) {
            (Some(c), Some(client)) => Some(crate::live::AlertPipeline::spawn(
                c,
                Some(client),
                false,
                Arc::new(crate::http::Metrics::new()),
                grace,
            )),
            _ => None,
        };
        let hooks = pipeline.as_ref().map(|p| nats::ScorerAlerts {
            tracker: p.tracker.clone(),
            wake: p.wake.clone(),
        });
        let http = async move {
            match api {
                Some((l, c)) => super::serve::serve_http(l, c).await,
                None => std::future::pending().await,
            }
        };
        let scorer = async move {
            match cfg {
                Some(c) => nats::run_scorer(c, Some((sc, th)), hooks).await,
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
    writeln!(std::io::stdout(), "{}", serde_json::to_string(&out)?)?;
    Ok(())
}
