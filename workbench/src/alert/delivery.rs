//! The delivery loop: ticks the [`AlertTracker`], prints and logs the lifecycle events,
//! delivers what is due through a [`Deliver`] (Alertmanager's [`AlertClient`] in
//! production, [`RecordingDeliver`] in tests), and keeps a log of every event with the
//! times it was emitted and delivered. One loop serves a live run or a NATS scorer.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{
    console_line, log_event, Alert, AlertClient, AlertClientStats, AlertConfig, AlertEvent,
    AlertTracker, Alerter, Clock,
};
use crate::http::{LiveStatus, Metrics};

/// Loop period: due re-sends and resolutions are checked this often (new alerts wake
/// it at once).
const ALERT_TICK: Duration = Duration::from_millis(100);

/// Where due alerts go.
pub trait Deliver: Send + 'static {
    /// Queues alerts; a queued alert with the same (src, threat_type) is replaced.
    fn enqueue(&mut self, alerts: Vec<Alert>);
    /// Sends what is queued if it may now; returns the alerts delivered (0 when
    /// nothing was due or sending failed: failures are retried, never returned).
    fn flush(&mut self) -> impl Future<Output = usize> + Send;
    /// Alerts waiting.
    fn queued(&self) -> usize;
    /// Where they go (for messages).
    fn target(&self) -> &str;
    /// The last failure, while failing.
    fn last_error(&self) -> Option<&str>;
    /// Delivery counters.
    fn stats(&self) -> Arc<AlertClientStats>;
}

impl Deliver for AlertClient {
    fn enqueue(&mut self, alerts: Vec<Alert>) {
        AlertClient::enqueue(self, alerts);
    }

    fn flush(&mut self) -> impl Future<Output = usize> + Send {
        AlertClient::flush(self)
    }

    fn queued(&self) -> usize {
        AlertClient::queued(self)
    }

    fn target(&self) -> &str {
        self.url()
    }

    fn last_error(&self) -> Option<&str> {
        AlertClient::last_error(self)
    }

    fn stats(&self) -> Arc<AlertClientStats> {
        AlertClient::stats(self)
    }
}

/// A [`Deliver`] that keeps every batch it accepts (for tests); while `down` is set it
/// refuses batches, which stay queued, as with an unreachable Alertmanager.
#[derive(Clone, Default)]
pub struct RecordingDeliver {
    /// Every accepted batch, in order.
    pub batches: Arc<Mutex<Vec<Vec<Alert>>>>,
    /// Refuse batches while set.
    pub down: Arc<AtomicBool>,
    queue: Vec<Alert>,
    stats: Arc<AlertClientStats>,
}

impl RecordingDeliver {
    /// Every alert accepted so far, in order.
    pub fn delivered(&self) -> Vec<Alert> {
        self.batches
            .lock()
            .map(|b| b.iter().flatten().cloned().collect())
            .unwrap_or_default()
    }
}

impl Deliver for RecordingDeliver {
    fn enqueue(&mut self, alerts: Vec<Alert>) {
        for a in alerts {
            match self.queue.iter_mut().find(|q| q.key() == a.key()) {
                Some(old) => *old = a,
                None => self.queue.push(a),
            }
        }
        self.stats
            .queued
            .store(self.queue.len() as u64, Ordering::Relaxed);
    }

    fn flush(&mut self) -> impl Future<Output = usize> + Send {
        let n = if self.queue.is_empty() {
            0
        } else if self.down.load(Ordering::Relaxed) {
            self.stats.posts_failed.fetch_add(1, Ordering::Relaxed);
            0
        } else {
            let batch = std::mem::take(&mut self.queue);
            let n = batch.len();
            if let Ok(mut b) = self.batches.lock() {
                b.push(batch);
            }
            self.stats.posts_ok.fetch_add(1, Ordering::Relaxed);
            self.stats
                .alerts_delivered
                .fetch_add(n as u64, Ordering::Relaxed);
            n
        };
        self.stats
            .queued
            .store(self.queue.len() as u64, Ordering::Relaxed);
        std::future::ready(n)
    }

    fn queued(&self) -> usize {
        self.queue.len()
    }

    fn target(&self) -> &str {
        "recording"
    }

    fn last_error(&self) -> Option<&str> {
        self.down.load(Ordering::Relaxed).then_some("down")
    }

    fn stats(&self) -> Arc<AlertClientStats> {
        self.stats.clone()
    }
}

/// One alert lifecycle event with its times.
#[derive(Clone, Debug, Serialize)]
pub struct AlertRecord {
    /// `firing` or `resolved`.
    pub state: &'static str,
    /// The alert as sent.
    pub alert: Alert,
    /// Seconds since the pipeline started when the tracker emitted it.
    pub emitted_s: f64,
    /// Seconds since the pipeline started when a delivery containing it succeeded.
    pub delivered_s: Option<f64>,
    #[serde(skip)]
    emitted_at: Option<Instant>,
    #[serde(skip)]
    delivered_at: Option<Instant>,
}

impl AlertRecord {
    /// When the tracker emitted the event (the pipeline's clock).
    pub fn emitted_at(&self) -> Option<Instant> {
        self.emitted_at
    }
    /// When it was delivered.
    pub fn delivered_at(&self) -> Option<Instant> {
        self.delivered_at
    }
}

/// How the loop runs besides where alerts go.
#[derive(Clone)]
pub struct DeliveryOptions {
    /// Print lifecycle events (seed 000's console notifier).
    pub console: bool,
    /// At shutdown, leave firing alerts firing (a restarted instance carries on).
    pub keep_firing_on_exit: bool,
    /// At shutdown, the last deliveries get this long.
    pub grace: Duration,
    pub metrics: Arc<Metrics>,
    /// `/stats`' alert counters are written here.
    pub status: Arc<Mutex<LiveStatus>>,
    pub clock: Arc<dyn Clock>,
}

/// The alert side of a pipeline (tracker → console and/or a [`Deliver`]) running on the
/// current tokio runtime.
pub struct AlertPipeline {
    tracker: Arc<Mutex<AlertTracker>>,
    wake: Arc<tokio::sync::Notify>,
    clock: Arc<dyn Clock>,
    threshold: f64,
    log: Arc<Mutex<Vec<AlertRecord>>>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<(serde_json::Value, usize)>,
    started: Instant,
}

impl AlertPipeline {
    /// Spawns the loop (must be called inside a tokio runtime).
    pub fn spawn<D: Deliver>(cfg: AlertConfig, deliver: Option<D>, opts: DeliveryOptions) -> Self {
        let threshold = cfg.threshold;
        let tracker = Arc::new(Mutex::new(AlertTracker::new(cfg)));
        let wake = Arc::new(tokio::sync::Notify::new());
        let log = Arc::new(Mutex::new(Vec::new()));
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let started = opts.clock.now();
        let clock = opts.clock.clone();
        let task = tokio::spawn(alert_loop(AlertLoop {
            tracker: tracker.clone(),
            deliver,
            wake: wake.clone(),
            stop: stop_rx,
            log: log.clone(),
            started,
            opts,
        }));
        AlertPipeline {
            tracker,
            wake,
            clock,
            threshold,
            log,
            stop,
            task,
            started,
        }
    }

    /// Where scored windows enter this pipeline.
    pub fn alerter(&self) -> Alerter {
        Alerter::new(
            self.threshold,
            self.tracker.clone(),
            self.wake.clone(),
            self.clock.clone(),
        )
    }

    /// When the pipeline started (its clock).
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<AlertRecord> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Wakes the loop now (tests that move a manual clock).
    pub fn tick(&self) {
        self.wake.notify_one();
    }

    /// Final round (firing alerts resolved unless kept, last deliveries within the
    /// grace time): returns the delivery counters, the alerts left undelivered and
    /// every event.
    pub async fn finish(self) -> (serde_json::Value, usize, Vec<AlertRecord>) {
        let _ = self.stop.send(true);
        let (delivery, undelivered) = self.task.await.unwrap_or((serde_json::Value::Null, 0));
        let log = self.log.lock().map(|l| l.clone()).unwrap_or_default();
        (delivery, undelivered, log)
    }
}

struct AlertLoop<D> {
    tracker: Arc<Mutex<AlertTracker>>,
    deliver: Option<D>,
    wake: Arc<tokio::sync::Notify>,
    stop: tokio::sync::watch::Receiver<bool>,
    log: Arc<Mutex<Vec<AlertRecord>>>,
    started: Instant,
    opts: DeliveryOptions,
}

/// Ticks the tracker, prints and delivers what is due. Returns the delivery counters
/// and the alerts still undelivered at exit.
async fn alert_loop<D: Deliver>(mut a: AlertLoop<D>) -> (serde_json::Value, usize) {
    let mut reported = (0u64, 0u64, 0u64, 0u64);
    let (clock, metrics) = (a.opts.clock.clone(), a.opts.metrics.clone());
    loop {
        if !*a.stop.borrow() {
            tokio::select! {
                _ = a.wake.notified() => {}
                _ = tokio::time::sleep(ALERT_TICK) => {}
                _ = a.stop.changed() => {}
            }
        }
        let final_round = *a.stop.borrow();
        let now = clock.now();
        let (due, events) = match a.tracker.lock() {
            Ok(mut t) => {
                let resolve_all = final_round && !a.opts.keep_firing_on_exit;
                let r = t.due(now, clock.wall(), resolve_all);
                metrics.alerts_firing.set(t.firing() as i64);
                r
            }
            Err(_) => (Vec::new(), Vec::new()),
        };
        let mut fresh = Vec::new();
        for ev in events {
            metrics.notifier_alerts.inc();
            log_event(&ev);
            if a.opts.console {
                println!("{}", console_line(&ev));
            }
            let (state, alert) = match ev {
                AlertEvent::Firing(al) => ("firing", al),
                AlertEvent::Resolved(al) => ("resolved", al),
            };
            fresh.push(AlertRecord {
                state,
                emitted_s: now.saturating_duration_since(a.started).as_secs_f64(),
                delivered_s: None,
                alert,
                emitted_at: Some(now),
                delivered_at: None,
            });
        }
        if let Ok(mut l) = a.log.lock() {
            l.extend(fresh);
        }
        if let Some(d) = a.deliver.as_mut() {
            d.enqueue(due);
            // Real time bounds the final round: a stopped manual clock must not hang it.
            let deadline = Instant::now() + a.opts.grace;
            loop {
                let sent = d.flush().await;
                if sent > 0 {
                    mark_delivered(&a.log, a.started, clock.now());
                }
                publish_delivery(&metrics, d, &mut reported);
                if !final_round || d.queued() == 0 || Instant::now() >= deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if let Ok(mut st) = a.opts.status.lock() {
                st.alerts = serde_json::json!({
                    "firing": metrics.alerts_firing.get(),
                    "alertmanager": d.target(),
                    "delivery": d.stats().snapshot(),
                    "last_error": d.last_error(),
                });
            }
        } else if let Ok(mut st) = a.opts.status.lock() {
            st.alerts = serde_json::json!({ "firing": metrics.alerts_firing.get() });
        }
        if final_round {
            break;
        }
    }
    match &a.deliver {
        Some(d) => {
            if d.queued() > 0 {
                eprintln!(
                    "warning: {} alert(s) not delivered to {}: {}",
                    d.queued(),
                    d.target(),
                    d.last_error().unwrap_or("Alertmanager unreachable")
                );
            }
            (d.stats().snapshot(), d.queued())
        }
        None => (serde_json::Value::Null, 0),
    }
}

/// Every logged event not yet delivered was in the queue that just went out (the queue
/// holds the latest version of every due alert).
fn mark_delivered(log: &Mutex<Vec<AlertRecord>>, started: Instant, now: Instant) {
    if let Ok(mut l) = log.lock() {
        for r in l.iter_mut().filter(|r| r.delivered_at.is_none()) {
            r.delivered_at = Some(now);
            r.delivered_s = Some(now.saturating_duration_since(started).as_secs_f64());
        }
    }
}

fn publish_delivery<D: Deliver>(m: &Metrics, d: &D, last: &mut (u64, u64, u64, u64)) {
    let s = d.stats();
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
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
    m.alert_queue_length.set(d.queued() as i64);
    *last = now;
}
