//! Live mode: `workbench live`, `replay` and `demo` run one pipeline.
//!
//! ```text
//!  source thread                       engine thread                      tokio (1 thread)
//!  XDP / AF_PACKET (capture::live) ─┐                                     ┌─ axum: /health /ready
//!  simulator, paced in real time ───┼─ decode_frame ─► bounded channel ─► WindowEngine ─► Scorer   │  /stats /metrics
//!  pcap replay at 1x / 10x / max ───┘   (+ watermarks)     (event time)    │               └─ alert loop: AlertTracker
//!                                                                          └─ /stats snapshot,        → AlertClient (one POST per tick)
//!                                                                             metrics                 → console
//! ```
//!
//! Sources decode frames with the same `capture::decode_frame` as files and send
//! watermarks in-band, so the engine's `advance_to` closes windows when traffic stops
//! without ever making a packet late: rows equal an offline run's (tested).

pub mod args;
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

pub use args::{AlertArgs, AlertTimingArgs, BackendArg, DemoArgs, LiveArgs, ReplayArgs, Speed};
pub use demo::run_demo;

use crate::alert::{
    console_line, AlertClient, AlertConfig, AlertEvent, AlertTracker, ClientConfig,
};
use crate::engine::{FeatureSchema, WindowConfig, WindowEngine};
use crate::eval::{scorer_for, Scorer};
use crate::http::{AppState, LiveStatus, Metrics};
use crate::sources::{expand_inputs, SimSource};
use engine::{EngineOutcome, Shared};
use source::{FirstPacketWatch, Msg, SourceCounters};

/// Capacity of the source → engine channel, in messages (each up to 1024 packets):
/// bounded so a stalled engine pushes back on the source instead of growing memory.
const CHANNEL_MESSAGES: usize = 256;
/// Alert loop period: due re-sends and resolutions are checked this often (new alerts
/// wake it at once).
const ALERT_TICK: Duration = Duration::from_millis(100);

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

/// One alert lifecycle event with its wall times.
#[derive(Clone, Debug, Serialize)]
pub struct AlertRecord {
    /// `firing` or `resolved`.
    pub state: &'static str,
    /// The alert as sent.
    pub alert: crate::alert::Alert,
    /// Seconds since the run started when the tracker emitted it.
    pub emitted_s: f64,
    /// Seconds since the run started when a POST containing it succeeded.
    pub delivered_s: Option<f64>,
    #[serde(skip)]
    emitted_at: Option<Instant>,
    #[serde(skip)]
    delivered_at: Option<Instant>,
}

impl AlertRecord {
    /// When the tracker emitted the event.
    pub fn emitted_at(&self) -> Option<Instant> {
        self.emitted_at
    }
    /// When Alertmanager accepted it.
    pub fn delivered_at(&self) -> Option<Instant> {
        self.delivered_at
    }
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
    /// Scoring/alert/endpoint options.
    pub alert: AlertArgs,
    /// Alertmanager URL (resolved from the options and the command's default).
    pub alertmanager: Option<String>,
    /// Window settings.
    pub window: WindowConfig,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Starts the source thread.
    pub source: StartSource,
    /// Demo: the attack's first packet.
    pub watch: Arc<FirstPacketWatch>,
    /// No progress notes.
    pub quiet: bool,
}

/// Runs one pipeline to its end (source end, `--duration`, Ctrl-C or SIGTERM).
pub fn run(spec: RunSpec) -> Result<RunReport> {
    let started = Instant::now();
    let engine = WindowEngine::new(spec.window.clone()).context("invalid window settings")?;
    let scorer = load_scorer(&spec.alert.model, engine.schema())?;
    let threshold = spec
        .alert
        .threshold
        .unwrap_or_else(|| scorer.default_threshold());
    if !(0.0..=1.0).contains(&threshold) {
        bail!("--threshold {threshold} is outside [0, 1]");
    }
    let rows_out = match &spec.alert.rows_out {
        Some(p) => Some(crate::table::TableWriter::create(p, engine.schema())?),
        None => None,
    };
    let secs = flag_secs;
    let (resend, resolve_after, resolved_keep, grace) = spec.alert.timing.durations()?;
    let max_backoff = secs("max-backoff", spec.alert.max_backoff)?;
    let publisher = match &spec.alert.publish {
        Some(url) => Some(start_publisher(url, &spec.alert)?),
        None => None,
    };
    let client = match &spec.alertmanager {
        Some(url) => {
            let mut c = ClientConfig::new(url.clone());
            c.max_queue = spec.alert.alert_queue.max(1);
            c.max_backoff = max_backoff.max(c.min_backoff);
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
        let tracker = Arc::new(Mutex::new(AlertTracker::new(AlertConfig {
            threshold,
            resend_interval: resend,
            resolve_after,
            resolved_keep,
            instance,
            generator_url: format!("http://{addr}/stats"),
        })));
        print_start(&spec, addr, &model_name, threshold);
        let counters = Arc::new(SourceCounters::default());
        let wake = Arc::new(tokio::sync::Notify::new());
        let shared = Shared {
            metrics: metrics.clone(),
            status: status.clone(),
            tracker: tracker.clone(),
            wake: wake.clone(),
            counters: counters.clone(),
        };
        // Alert loop.
        let (alert_stop_tx, alert_stop_rx) = tokio::sync::watch::channel(false);
        let log = Arc::new(Mutex::new(Vec::<AlertRecord>::new()));
        let alert_task = tokio::spawn(alert_loop(AlertLoop {
            tracker: tracker.clone(),
            client,
            console: spec.alert.notify_console,
            metrics: metrics.clone(),
            wake,
            stop: alert_stop_rx,
            grace,
            keep_firing: spec.alert.keep_firing_on_exit,
            log: log.clone(),
            started,
            status: status.clone(),
        }));
        // Source and engine threads.
        let (tx, rx) = sync_channel::<Msg>(CHANNEL_MESSAGES);
        let stop = Arc::new(AtomicBool::new(false));
        let (done_tx, mut done_rx) = tokio::sync::oneshot::channel::<EngineOutcome>();
        let engine_thread = std::thread::Builder::new()
            .name("engine".into())
            .spawn(move || {
                let out = engine::run_engine(
                    rx,
                    engine,
                    scorer.as_ref(),
                    threshold,
                    shared,
                    rows_out,
                    publisher,
                );
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
        let _ = alert_stop_tx.send(true);
        let (delivery, undelivered) = alert_task.await.unwrap_or((serde_json::Value::Null, 0));
        let _ = http_stop_tx.send(());
        let _ = http_task.await;
        let alerts = log.lock().map(|l| l.clone()).unwrap_or_default();
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
            alerts,
            started: Some(started),
        };
        if let Some(p) = &spec.alert.summary_out {
            write_json(p, &report)?;
        }
        Ok(report)
    })
}

/// `--publish`: the sensor side of the NATS scale-out (`stack::nats`).
fn start_publisher(url: &str, a: &AlertArgs) -> Result<crate::stack::nats::Publisher> {
    if a.shards == 0 {
        bail!("--shards must be at least 1");
    }
    let id = match &a.sensor_id {
        Some(id) => id.clone(),
        // One sensor per host is the deployment (a DaemonSet): the host name is unique.
        None => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "sensor-1".to_string()),
    };
    let mut cfg = crate::stack::nats::PublisherConfig::new(url, &id);
    cfg.subject = a.subject.clone();
    cfg.shards = a.shards;
    crate::stack::nats::Publisher::start(cfg)
        .with_context(|| format!("--publish {url}: cannot start the sensor"))
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
    if let Some(url) = &spec.alert.publish {
        eprintln!(
            "  sensor: publishing packet records to {url} ({}.0..{})",
            spec.alert.subject, spec.alert.shards
        );
    }
    eprintln!(
        "  scoring with {model}, threshold {threshold}; alerts → {}{}",
        spec.alertmanager.as_deref().unwrap_or("(no Alertmanager)"),
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

/// The alert side of a pipeline (tracker → console and/or Alertmanager) running on the
/// current tokio runtime: live runs and the NATS scorer (`serve --nats`) share it.
pub struct AlertPipeline {
    /// Feed host windows at or above the threshold here ([`AlertTracker::observe`]),
    /// then `wake.notify_one()` when it returns true.
    pub tracker: Arc<Mutex<AlertTracker>>,
    /// Wakes the loop so a new alert goes out at once.
    pub wake: Arc<tokio::sync::Notify>,
    log: Arc<Mutex<Vec<AlertRecord>>>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<(serde_json::Value, usize)>,
}

impl AlertPipeline {
    /// Spawns the alert loop (must be called inside a tokio runtime).
    pub fn spawn(
        cfg: AlertConfig,
        client: Option<AlertClient>,
        console: bool,
        metrics: Arc<Metrics>,
        grace: Duration,
    ) -> AlertPipeline {
        let tracker = Arc::new(Mutex::new(AlertTracker::new(cfg)));
        let wake = Arc::new(tokio::sync::Notify::new());
        let log = Arc::new(Mutex::new(Vec::new()));
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(alert_loop(AlertLoop {
            tracker: tracker.clone(),
            client,
            console,
            metrics,
            wake: wake.clone(),
            stop: stop_rx,
            grace,
            keep_firing: false,
            log: log.clone(),
            started: Instant::now(),
            status: Arc::default(),
        }));
        AlertPipeline {
            tracker,
            wake,
            log,
            stop,
            task,
        }
    }

    /// Final round (firing alerts resolved, last deliveries within the grace time):
    /// returns the delivery counters, the alerts left undelivered and every event.
    pub async fn finish(self) -> (serde_json::Value, usize, Vec<AlertRecord>) {
        let _ = self.stop.send(true);
        let (delivery, undelivered) = self.task.await.unwrap_or((serde_json::Value::Null, 0));
        let log = self.log.lock().map(|l| l.clone()).unwrap_or_default();
        (delivery, undelivered, log)
    }
}

struct AlertLoop {
    tracker: Arc<Mutex<AlertTracker>>,
    client: Option<AlertClient>,
    console: bool,
    metrics: Arc<Metrics>,
    wake: Arc<tokio::sync::Notify>,
    stop: tokio::sync::watch::Receiver<bool>,
    grace: Duration,
    keep_firing: bool,
    log: Arc<Mutex<Vec<AlertRecord>>>,
    started: Instant,
    status: Arc<Mutex<LiveStatus>>,
}

/// Ticks the tracker, prints and delivers what is due. Returns the delivery counters
/// and the alerts still undelivered at exit.
async fn alert_loop(mut a: AlertLoop) -> (serde_json::Value, usize) {
    let mut reported_posts = (0u64, 0u64, 0u64, 0u64);
    loop {
        if !*a.stop.borrow() {
            tokio::select! {
                _ = a.wake.notified() => {}
                _ = tokio::time::sleep(ALERT_TICK) => {}
                _ = a.stop.changed() => {}
            }
        }
        let final_round = *a.stop.borrow();
        let now = Instant::now();
        let (due, events) = match a.tracker.lock() {
            Ok(mut t) => {
                let r = t.due(now, SystemTime::now(), final_round && !a.keep_firing);
                a.metrics.alerts_firing.set(t.firing() as i64);
                r
            }
            Err(_) => (Vec::new(), Vec::new()),
        };
        let mut fresh = Vec::new();
        for ev in events {
            a.metrics.notifier_alerts.inc();
            crate::alert::log_event(&ev);
            if a.console {
                println!("{}", console_line(&ev));
            }
            let (state, alert) = match ev {
                AlertEvent::Firing(al) => ("firing", al),
                AlertEvent::Resolved(al) => ("resolved", al),
            };
            fresh.push(AlertRecord {
                state,
                emitted_s: now.duration_since(a.started).as_secs_f64(),
                delivered_s: None,
                alert,
                emitted_at: Some(now),
                delivered_at: None,
            });
        }
        if let Ok(mut l) = a.log.lock() {
            l.extend(fresh);
        }
        if let Some(c) = a.client.as_mut() {
            c.enqueue(due);
            let deadline = Instant::now() + a.grace;
            loop {
                let sent = c.flush().await;
                if sent > 0 {
                    mark_delivered(&a.log, a.started);
                }
                publish_delivery(&a.metrics, c, &mut reported_posts);
                if !final_round || c.queued() == 0 || Instant::now() >= deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if let Ok(mut st) = a.status.lock() {
                st.alerts = serde_json::json!({
                    "firing": a.metrics.alerts_firing.get(),
                    "alertmanager": c.url(),
                    "delivery": c.stats().snapshot(),
                    "last_error": c.last_error(),
                });
            }
        } else if let Ok(mut st) = a.status.lock() {
            st.alerts = serde_json::json!({ "firing": a.metrics.alerts_firing.get() });
        }
        if final_round {
            break;
        }
    }
    match &a.client {
        Some(c) => {
            if c.queued() > 0 {
                eprintln!(
                    "warning: {} alert(s) not delivered to {}: {}",
                    c.queued(),
                    c.url(),
                    c.last_error().unwrap_or("Alertmanager unreachable")
                );
            }
            (c.stats().snapshot(), c.queued())
        }
        None => (serde_json::Value::Null, 0),
    }
}

/// Every logged event not yet delivered was in the queue that just went out (the queue
/// holds the latest version of every due alert).
fn mark_delivered(log: &Mutex<Vec<AlertRecord>>, started: Instant) {
    let now = Instant::now();
    if let Ok(mut l) = log.lock() {
        for r in l.iter_mut().filter(|r| r.delivered_at.is_none()) {
            r.delivered_at = Some(now);
            r.delivered_s = Some(now.duration_since(started).as_secs_f64());
        }
    }
}

fn publish_delivery(m: &Metrics, c: &AlertClient, last: &mut (u64, u64, u64, u64)) {
    let s = c.stats();
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let now = (
        get(&s.posts_ok),
        get(&s.posts_failed),
        get(&s.retries),
        get(&s.dropped),
    );
    for _ in last.0..now.0 {
        m.count_post(true);
    }
    for _ in last.1..now.1 {
        m.count_post(false);
    }
    m.alertmanager_retries.inc_by(now.2.saturating_sub(last.2));
    m.alert_queue_dropped.inc_by(now.3.saturating_sub(last.3));
    m.alert_queue_length.set(c.queued() as i64);
    *last = now;
}

/// `workbench live`.
pub fn run_live(a: &LiveArgs, quiet: bool) -> Result<RunReport> {
    let alertmanager = a
        .alert
        .alertmanager
        .clone()
        .or_else(|| (!a.alert.notify_console).then(|| args::SEED_ALERTMANAGER.to_string()));
    let watch = Arc::new(FirstPacketWatch::default());
    let duration = a
        .duration
        .map(|d| {
            if d.is_finite() && d > 0.0 {
                Ok(Duration::from_secs_f64(d))
            } else {
                bail!("--duration must be a positive number of seconds, got {d}")
            }
        })
        .transpose()?;
    let (backend, fallbacks, source): (String, Vec<String>, StartSource) =
        match (&a.simulate, &a.iface) {
            (Some(scenario), _) => {
                let mut cfg = a.sim.config(*scenario);
                // Simulated packets carry "now" timestamps, as a capture would.
                cfg.start_ts_ns = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(cfg.start_ts_ns);
                let name = format!(
                    "simulated {} ({} s, seed {})",
                    scenario.name(),
                    cfg.seconds,
                    cfg.seed
                );
                let w = watch.clone();
                let linger = duration.is_some();
                (
                    "simulation".into(),
                    Vec::new(),
                    Box::new(move |tx, stop, counters| {
                        let src: Box<dyn PacketSource + Send> = Box::new(SimSource::new(&cfg));
                        source::replay_paced(
                            vec![(name, src)],
                            Speed::Factor(1.0),
                            tx,
                            stop,
                            counters,
                            w,
                            linger,
                        )
                    }),
                )
            }
            (None, Some(iface)) => {
                let opts = capture::live::LiveOptions {
                    iface: iface.clone(),
                    backend: match a.backend {
                        BackendArg::Auto => capture::live::BackendChoice::Auto,
                        BackendArg::Xdp => capture::live::BackendChoice::Xdp,
                        BackendArg::XdpDriver => capture::live::BackendChoice::XdpDriver,
                        BackendArg::XdpSkb => capture::live::BackendChoice::XdpSkb,
                        BackendArg::Afpacket => capture::live::BackendChoice::AfPacket,
                    },
                    snaplen: a.snaplen,
                    promiscuous: !a.no_promisc,
                };
                let cap = capture::live::LiveCapture::open(&opts)
                    .with_context(|| format!("opening a live capture on {iface}"))?;
                let record = match &a.record {
                    Some(p) => {
                        let f = std::fs::File::create(p)
                            .with_context(|| format!("creating {}", p.display()))?;
                        Some(
                            capture::PcapWriter::new(
                                std::io::BufWriter::new(f),
                                capture::LinkType::Ethernet,
                                a.snaplen,
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
            (None, None) => bail!("give --iface IFACE or --simulate SCENARIO"),
        };
    run(RunSpec {
        backend,
        fallbacks,
        alert: a.alert.clone(),
        alertmanager,
        window: a.window.config(),
        duration,
        source,
        watch,
        quiet,
    })
}

/// `workbench replay`.
pub fn run_replay(a: &ReplayArgs, quiet: bool) -> Result<RunReport> {
    let files = expand_inputs(&a.inputs)?;
    let duration = a
        .duration
        .map(|d| {
            if d.is_finite() && d > 0.0 {
                Ok(Duration::from_secs_f64(d))
            } else {
                bail!("--duration must be a positive number of seconds, got {d}")
            }
        })
        .transpose()?;
    replay_files(
        files,
        a.speed,
        &a.alert,
        a.window.config(),
        duration,
        Arc::default(),
        quiet,
    )
}

/// Replays capture files through the live pipeline.
pub fn replay_files(
    files: Vec<PathBuf>,
    speed: Speed,
    alert: &AlertArgs,
    window: WindowConfig,
    duration: Option<Duration>,
    watch: Arc<FirstPacketWatch>,
    quiet: bool,
) -> Result<RunReport> {
    let mut sources: Vec<(String, Box<dyn PacketSource + Send>)> = Vec::new();
    for f in &files {
        let file = capture::CaptureFile::open(f)?;
        sources.push((f.display().to_string(), Box::new(file)));
    }
    let w = watch.clone();
    run(RunSpec {
        backend: "replay".into(),
        fallbacks: Vec::new(),
        alert: alert.clone(),
        alertmanager: alert.alertmanager.clone(),
        window,
        duration,
        source: Box::new(move |tx, stop, counters| {
            source::replay_paced(sources, speed, tx, stop, counters, w, false)
        }),
        watch,
        quiet,
    })
}

/// Prints a run's summary (human or JSON).
pub fn print_report(r: &RunReport, json: bool) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(r)?)?;
        return Ok(());
    }
    let e = &r.engine;
    writeln!(
        out,
        "{} packets → {} host windows scored ({} at or above {}), {} late packets; {} alert event(s){}",
        e.engine.packets,
        e.host_rows,
        e.threat_rows,
        r.threshold,
        e.engine.late_packets,
        r.alerts.len(),
        if r.undelivered > 0 {
            format!(", {} undelivered", r.undelivered)
        } else {
            String::new()
        }
    )?;
    if let Some(p) = &e.publish {
        writeln!(
            out,
            "published {} records in {} batches ({} bytes), {} unacknowledged",
            p["records"], p["batches"], p["bytes"], p["unacknowledged"]
        )?;
    }
    if let Some(err) = &e.error {
        writeln!(out, "source error: {err}")?;
    }
    Ok(())
}

/// A command-line duration in seconds (`--name`): finite and not negative.
pub(crate) fn flag_secs(name: &str, v: f64) -> Result<Duration> {
    if v.is_finite() && v >= 0.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        bail!("--{name} must be a non-negative number of seconds, got {v}")
    }
}
