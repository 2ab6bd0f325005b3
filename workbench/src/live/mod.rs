//! Live mode: `workbench live`, `replay` and `demo` run one pipeline.
//!
//! ```text
//!  source thread                       engine thread                        tokio (1 thread)
//!  XDP / AF_PACKET (capture::live) ─┐                                       ┌─ axum: /health /ready
//!  simulator, paced in real time ───┼─ decode_frame ─► bounded channel ─► Driver ─► Scorer     │  /stats /metrics
//!  pcap replay at 1x / 10x / max ───┘   (+ watermarks)     (event time)   │         └─ Alerter ─► alert::AlertPipeline
//!                                                                         └─ /stats snapshot,        → Alertmanager, console
//!                                                                            metrics
//! ```
//!
//! This module is runtime and transport only: threads, the channel, the HTTP endpoints
//! and signals. Rows come from the one engine driver (`pipeline::Driver`), alerts go
//! through `alert/`. Sources decode frames with the same `capture::decode_frame` as
//! files and send watermarks in-band, so the engine's `advance_to` closes windows when
//! traffic stops without ever making a packet late: rows equal an offline run's
//! (tested).

mod config;
mod demo;
pub mod engine;
pub mod source;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use capture::PacketSource;
use serde::Serialize;

pub use config::{AlertSettings, DemoConfig, LiveConfig, LiveInput, ReplayConfig, SensorSettings};
pub use demo::{run_demo, TARGET_S};

use crate::alert::{
    AlertClient, AlertConfig, AlertPipeline, AlertRecord, ClientConfig, Clock, DeliveryOptions,
    SystemClock,
};
use crate::engine::{FeatureSchema, WindowConfig};
use crate::eval::Scorer;
use crate::http::{AppState, LiveStatus, Metrics};
use crate::model::scorer_for;
use crate::pipeline::{expand_inputs, Driver, SimSource, Speed};
use engine::{EngineOutcome, Shared};
use source::{FirstPacketWatch, Msg, SourceCounters};

/// Capacity of the source → engine channel, in messages (each up to 1024 packets):
/// bounded so a stalled engine pushes back on the source instead of growing memory.
const CHANNEL_MESSAGES: usize = 256;

/// Picks the scorer for `--model`. `default` is the shipped model; when this build has
/// none, the seed 003 rules are used and a note says so.
pub fn load_scorer(model: &str, schema: &FeatureSchema) -> Result<Box<dyn Scorer>> {
    if model == "default" {
        return match scorer_for("default", schema) {
            Ok(s) => Ok(s),
            Err(e) => {
                eprintln!("note: no shipped default model ({e:#}); scoring with `rules`");
                scorer_for("rules", schema)
            }
        };
    }
    scorer_for(model, schema)
}

/// What a run did.
#[derive(Debug, Serialize)]
pub struct RunReport {
    /// `xdp-driver`, `xdp-skb`, `afpacket`, `simulation` or `replay`.
    pub backend: String,
    /// The bound HTTP address.
    pub listen: String,
    /// Scorer name.
    pub model: String,
    /// Threshold used.
    pub threshold: f64,
    /// Wall seconds.
    pub elapsed_s: f64,
    /// Engine thread outcome.
    pub engine: EngineOutcome,
    /// Source counters.
    pub capture: serde_json::Value,
    /// Alertmanager delivery counters (null without Alertmanager).
    pub delivery: serde_json::Value,
    /// Alerts not delivered at exit (Alertmanager unreachable past the grace time).
    pub undelivered: usize,
    /// Every firing/resolved event.
    pub alerts: Vec<AlertRecord>,
    #[serde(skip)]
    started: Option<Instant>,
}

impl RunReport {
    /// When the run started (wall monotonic).
    pub fn started(&self) -> Option<Instant> {
        self.started
    }
}

/// A source to start on its own thread.
pub type StartSource =
    Box<dyn FnOnce(SyncSender<Msg>, Arc<AtomicBool>, Arc<SourceCounters>) + Send + 'static>;

/// Everything one run needs.
pub struct RunSpec {
    /// Backend name for `/ready`.
    pub backend: String,
    /// Fallbacks taken while opening the capture.
    pub fallbacks: Vec<String>,
    /// Scoring/alert/endpoint settings.
    pub alert: AlertSettings,
    /// Window settings.
    pub window: WindowConfig,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Starts the source thread.
    pub source: StartSource,
    /// No progress notes.
    pub quiet: bool,
}

/// Runs one pipeline to its end (source end, `--duration`, Ctrl-C or SIGTERM).
pub fn run(spec: RunSpec) -> Result<RunReport> {
    let started = Instant::now();
    let driver = Driver::new(spec.window.clone()).context("invalid window settings")?;
    let scorer = load_scorer(&spec.alert.model, driver.schema())?;
    let threshold = spec
        .alert
        .threshold
        .unwrap_or_else(|| scorer.default_threshold());
    if !(0.0..=1.0).contains(&threshold) {
        bail!("--threshold {threshold} is outside [0, 1]");
    }
    let rows_out = match &spec.alert.rows_out {
        Some(p) => Some(crate::table::TableWriter::create(p, driver.schema())?),
        None => None,
    };
    let timings = spec.alert.timings;
    let publisher = match &spec.alert.publish {
        Some(s) => Some(start_publisher(s)?),
        None => None,
    };
    let client = match &spec.alert.alertmanager {
        Some(url) => {
            let mut c = ClientConfig::new(url.clone());
            c.max_queue = spec.alert.alert_queue.max(1);
            c.max_backoff = spec.alert.max_backoff.max(c.min_backoff);
            Some(AlertClient::new(c)?)
        }
        None => None,
    };
    let model_name = scorer.name();
    let metrics = Arc::new(Metrics::new());
    let status = Arc::new(Mutex::new(LiveStatus {
        ready: false,
        backend: spec.backend.clone(),
        fallbacks: spec.fallbacks.clone(),
        model: model_name.clone(),
        threshold,
        ..LiveStatus::default()
    }));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let (http_stop_tx, http_stop_rx) = tokio::sync::oneshot::channel::<()>();
        let state = AppState {
            metrics: metrics.clone(),
            status: status.clone(),
        };
        let (addr, http_task) = crate::http::serve(spec.alert.listen, state, async {
            let _ = http_stop_rx.await;
        })
        .await?;
        let instance = spec.alert.instance.clone().unwrap_or_else(|| addr.to_string());
        let alerts = AlertPipeline::spawn(
            AlertConfig {
                threshold,
                resend_interval: timings.resend_interval,
                resolve_after: timings.resolve_after,
                resolved_keep: timings.resolved_keep,
                instance,
                generator_url: format!("http://{addr}/stats"),
            },
            client,
            DeliveryOptions {
                console: spec.alert.notify_console,
                keep_firing_on_exit: spec.alert.keep_firing_on_exit,
                grace: timings.shutdown_grace,
                metrics: metrics.clone(),
                status: status.clone(),
                clock: clock.clone(),
            },
        );
        print_start(&spec, addr, &model_name, threshold);
        let counters = Arc::new(SourceCounters::default());
        let shared = Shared {
            metrics: metrics.clone(),
            status: status.clone(),
            alerter: alerts.alerter(),
            counters: counters.clone(),
        };
        // Source and engine threads.
        let (tx, rx) = sync_channel::<Msg>(CHANNEL_MESSAGES);
        let stop = Arc::new(AtomicBool::new(false));
        let (done_tx, mut done_rx) = tokio::sync::oneshot::channel::<EngineOutcome>();
        let engine_thread = std::thread::Builder::new()
            .name("engine".into())
            .spawn(move || {
                let out = engine::run_engine(rx, driver, scorer.as_ref(), shared, rows_out, publisher);
                let _ = done_tx.send(out);
            })
            .context("starting the engine thread")?;
        let src_stop = stop.clone();
        let src_counters = counters.clone();
        let start_source = spec.source;
        let source_thread = std::thread::Builder::new()
            .name("source".into())
            .spawn(move || start_source(tx, src_stop, src_counters))
            .context("starting the source thread")?;
        if let Ok(mut st) = status.lock() {
            st.ready = true;
        }
        // Wait for the end of the input, the duration, or a signal.
        let deadline = spec.duration.map(|d| tokio::time::Instant::now() + d);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        let outcome = tokio::select! {
            out = &mut done_rx => out.ok(),
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => None,
            _ = tokio::signal::ctrl_c() => { if !spec.quiet { eprintln!("interrupted: shutting down"); } None }
            _ = term.recv() => { if !spec.quiet { eprintln!("SIGTERM: shutting down"); } None }
        };
        let outcome = match outcome {
            Some(o) => o,
            None => {
                stop.store(true, Ordering::Relaxed);
                done_rx.await.unwrap_or_default()
            }
        };
        let _ = source_thread.join();
        let _ = engine_thread.join();
        if let Ok(mut st) = status.lock() {
            st.ready = false;
        }
        // Final alert round: resolutions and the last deliveries.
        let (delivery, undelivered, events) = alerts.finish().await;
        let _ = http_stop_tx.send(());
        let _ = http_task.await;
        let report = RunReport {
            backend: spec.backend.clone(),
            listen: addr.to_string(),
            model: model_name,
            threshold,
            elapsed_s: started.elapsed().as_secs_f64(),
            engine: outcome,
            capture: counters.snapshot(),
            delivery,
            undelivered,
            alerts: events,
            started: Some(started),
        };
        if let Some(p) = &spec.alert.summary_out {
            write_json(p, &report)?;
        }
        Ok(report)
    })
}

/// `--publish`: the sensor side of the NATS scale-out (`stack::nats`).
fn start_publisher(s: &SensorSettings) -> Result<crate::stack::nats::Publisher> {
    let id = match &s.sensor_id {
        Some(id) => id.clone(),
        // One sensor per host is the deployment (a DaemonSet): the host name is unique.
        None => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "sensor-1".to_string()),
    };
    let mut cfg = crate::stack::nats::PublisherConfig::new(&s.url, &id);
    cfg.subject = s.subject.clone();
    cfg.shards = s.shards;
    crate::stack::nats::Publisher::start(cfg)
        .with_context(|| format!("--publish {}: cannot start the sensor", s.url))
}

fn print_start(spec: &RunSpec, addr: SocketAddr, model: &str, threshold: f64) {
    eprintln!(
        "live pipeline: backend {}; endpoints http://{addr}/health /ready /stats /metrics",
        spec.backend
    );
    for f in &spec.fallbacks {
        if f.starts_with("note: ") {
            eprintln!("  {f}");
        } else {
            eprintln!("  fallback taken: {f}");
        }
    }
    if let Some(p) = &spec.alert.publish {
        eprintln!(
            "  sensor: publishing packet records to {} ({}.0..{})",
            p.url, p.subject, p.shards
        );
    }
    eprintln!(
        "  scoring with {model}, threshold {threshold}; alerts → {}{}",
        spec.alert
            .alertmanager
            .as_deref()
            .unwrap_or("(no Alertmanager)"),
        if spec.alert.notify_console {
            " and the console"
        } else {
            ""
        }
    );
}

/// Writes `v` as pretty JSON, creating parent directories.
pub fn write_json(path: &std::path::Path, v: &impl Serialize) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(v)? + "\n";
    // Atomic: a process killed mid-write leaves the old file or none, never half a file.
    crate::model::file::write_atomic(path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// `workbench live`.
pub fn run_live(a: &LiveConfig, quiet: bool) -> Result<RunReport> {
    let (backend, fallbacks, source): (String, Vec<String>, StartSource) = match &a.input {
        LiveInput::Simulation(sim) => {
            let mut cfg = sim.clone();
            // Simulated packets carry "now" timestamps, as a capture would.
            cfg.start_ts_ns = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(cfg.start_ts_ns);
            let name = format!(
                "simulated {} ({} s, seed {})",
                cfg.scenario.name(),
                cfg.seconds,
                cfg.seed
            );
            let linger = a.duration.is_some();
            (
                "simulation".into(),
                Vec::new(),
                Box::new(move |tx, stop, counters| {
                    let src: Box<dyn PacketSource + Send> = Box::new(SimSource::new(&cfg));
                    source::replay_paced(
                        vec![(name, src, false)],
                        Speed::Factor(1.0),
                        tx,
                        stop,
                        counters,
                        Arc::default(),
                        linger,
                    )
                }),
            )
        }
        LiveInput::Interface { options, record } => {
            let cap = capture::live::LiveCapture::open(options)
                .with_context(|| format!("opening a live capture on {}", options.iface))?;
            let record = match record {
                Some(p) => {
                    let f = std::fs::File::create(p)
                        .with_context(|| format!("creating {}", p.display()))?;
                    Some(
                        capture::PcapWriter::new(
                            std::io::BufWriter::new(f),
                            capture::LinkType::Ethernet,
                            options.snaplen,
                        )
                        .with_context(|| format!("writing {}", p.display()))?,
                    )
                }
                None => None,
            };
            (
                cap.backend().name().to_string(),
                cap.fallbacks()
                    .iter()
                    .cloned()
                    .chain(cap.notes().iter().map(|n| format!("note: {n}")))
                    .collect(),
                Box::new(move |tx, stop, counters| {
                    source::capture_live(cap, record, tx, stop, counters)
                }),
            )
        }
    };
    run(RunSpec {
        backend,
        fallbacks,
        alert: a.alert.clone(),
        window: a.window.clone(),
        duration: a.duration,
        source,
        quiet,
    })
}

/// `workbench replay`.
pub fn run_replay(a: &ReplayConfig, quiet: bool) -> Result<RunReport> {
    let files = expand_inputs(&a.inputs)?;
    replay_files(
        files,
        a.speed,
        &a.alert,
        a.window.clone(),
        a.duration,
        Arc::default(),
        quiet,
    )
}

/// Replays capture files through the live pipeline.
pub fn replay_files(
    files: Vec<PathBuf>,
    speed: Speed,
    alert: &AlertSettings,
    window: WindowConfig,
    duration: Option<Duration>,
    watch: Arc<FirstPacketWatch>,
    quiet: bool,
) -> Result<RunReport> {
    let mut sources: Vec<(String, Box<dyn PacketSource + Send>, bool)> = Vec::new();
    for f in &files {
        let file = capture::CaptureFile::open(f)?;
        sources.push((f.display().to_string(), Box::new(file), true));
    }
    run(RunSpec {
        backend: "replay".into(),
        fallbacks: Vec::new(),
        alert: alert.clone(),
        window,
        duration,
        source: Box::new(move |tx, stop, counters| {
            source::replay_paced(sources, speed, tx, stop, counters, watch, false)
        }),
        quiet,
    })
}
