//! The engine thread: packets and watermarks from a source → the engine driver (event
//! time) → every host row scored → the alerter, the `/stats` snapshot and metrics.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::source::{Msg, SourceCounters};
use crate::alert::{confidence_level, rfc3339, Alerter};
use crate::engine::{EngineStats, Entity, RowRef, RowSink, F};
use crate::eval::Scorer;
use crate::http::{HostScore, LiveStatus, Metrics};
use crate::pipeline::Driver;
use crate::stack::nats::Publisher;
use crate::table::TableWriter;

/// How often a sensor (`--publish`) sends its pending batches and watermark heartbeats:
/// often enough that scorers close windows within a fraction of a second, rarely
/// enough that batches stay large.
const PUBLISH_FLUSH: Duration = Duration::from_millis(200);
/// How long the end of a run waits for JetStream to acknowledge the last batches.
const PUBLISH_FINISH: Duration = Duration::from_secs(10);

/// Hosts kept in the `/stats` snapshot.
const TOP_KEEP: usize = crate::http::MAX_TOP;

/// What the engine thread shares with the rest of the process.
#[derive(Clone)]
pub struct Shared {
    /// Metrics registry handles.
    pub metrics: Arc<Metrics>,
    /// `/ready` and `/stats` state.
    pub status: Arc<Mutex<LiveStatus>>,
    /// Where scored host windows go.
    pub alerter: Alerter,
    /// Source counters.
    pub counters: Arc<SourceCounters>,
}

/// What the engine thread did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct EngineOutcome {
    /// Engine counters at the end.
    pub engine: EngineStats,
    /// Host rows scored.
    pub host_rows: u64,
    /// Host rows at or above the threshold.
    pub threat_rows: u64,
    /// Rows written to --rows-out.
    pub rows_written: Option<u64>,
    /// The source's or the table writer's error, if any.
    pub error: Option<String>,
    /// `--publish`: the sensor's counters and the batches JetStream never acknowledged.
    pub publish: Option<serde_json::Value>,
}

struct LiveSink<'a> {
    scorer: &'a dyn Scorer,
    shared: &'a Shared,
    rows_out: Option<TableWriter>,
    window_end: Option<u64>,
    hosts: Vec<HostScore>,
    got_rows: bool,
    score_time: Duration,
    host_rows: u64,
    threat_rows: u64,
    rows: u64,
}

impl RowSink for LiveSink<'_> {
    fn accept(&mut self, row: RowRef<'_>) {
        self.rows += 1;
        if let Some(w) = self.rows_out.as_mut() {
            w.accept(row);
        }
        let Entity::Host(host) = row.entity else {
            return;
        };
        if self.window_end != Some(row.window_end_ns) {
            self.window_end = Some(row.window_end_ns);
            self.hosts.clear();
        }
        self.got_rows = true;
        let t = Instant::now();
        let score = self.scorer.score(row.values);
        let d = t.elapsed();
        self.shared.metrics.observe_infer(d);
        self.host_rows += 1;
        let scored = self
            .shared
            .alerter
            .observe(host, score, row.values, row.window_end_ns);
        if scored.alerting {
            self.threat_rows += 1;
            self.shared
                .metrics
                .count_threat(scored.threat.name(), confidence_level(score.value));
        }
        self.hosts.push(HostScore {
            host: host.to_string(),
            score: score.value,
            threat_type: scored.threat.name().to_string(),
            alerting: scored.alerting,
            packets_out: value(row.values, F::PktsOut),
        });
        self.score_time += t.elapsed();
    }
}

fn value(v: &[f64], f: F) -> f64 {
    v.get(f as usize).copied().unwrap_or(0.0)
}

impl LiveSink<'_> {
    /// Publishes the latest window's hosts to `/stats`.
    fn publish(&mut self, driver: &Driver) {
        let Ok(mut st) = self.shared.status.lock() else {
            return;
        };
        if self.got_rows {
            let mut hosts = self.hosts.clone();
            hosts.sort_by(|a, b| {
                b.score
                    .total_cmp(&a.score)
                    .then_with(|| a.host.cmp(&b.host))
            });
            hosts.truncate(TOP_KEEP);
            st.top_hosts = hosts;
            st.window_end_ns = self.window_end;
            st.window_end = self
                .window_end
                .map(|ns| rfc3339(SystemTime::UNIX_EPOCH + Duration::from_nanos(ns)));
        }
        st.engine = driver.stats().clone();
    }
}

/// Runs the engine until the source ends (or disconnects). `rows_out` receives every
/// row (global and host) exactly as `workbench features` would write it.
pub fn run_engine(
    rx: Receiver<Msg>,
    mut driver: Driver,
    scorer: &dyn Scorer,
    shared: Shared,
    rows_out: Option<TableWriter>,
    mut publisher: Option<Publisher>,
) -> EngineOutcome {
    let mut sink = LiveSink {
        scorer,
        shared: &shared,
        rows_out,
        window_end: None,
        hosts: Vec::new(),
        got_rows: false,
        score_time: Duration::ZERO,
        host_rows: 0,
        threat_rows: 0,
        rows: 0,
    };
    let m = shared.metrics.clone();
    let mut last_rate = (Instant::now(), 0u64, 0u64);
    let mut late_seen = 0u64;
    let mut error = None;
    let mut last_flush = Instant::now();
    loop {
        let msg = match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(msg) => Some(msg),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                error = Some("the packet source stopped unexpectedly".to_string());
                break;
            }
        };
        let rows_before = sink.rows;
        sink.got_rows = false;
        sink.score_time = Duration::ZERO;
        let t = Instant::now();
        let mut end = false;
        match msg {
            Some(Msg::Packets(pkts)) => {
                m.fe_events_in.inc_by(pkts.len() as u64);
                for p in &pkts {
                    // Published before the local engine sees it, so a record the
                    // local windows count is always on its way to the scorers too.
                    if let Some(pb) = publisher.as_mut() {
                        pb.publish(p);
                    }
                    driver.push(p, &mut sink);
                }
            }
            Some(Msg::Watermark(ts)) => {
                // The source promises no later packet precedes `ts`: the scorers may
                // close windows up to it although this sensor is idle.
                if let Some(pb) = publisher.as_mut() {
                    pb.advance_to(ts);
                }
                driver.advance_to(ts, &mut sink)
            }
            Some(Msg::BeginInput(captured)) => {
                // The scorers apply the timeline rule where this sensor's input changes.
                if let Some(pb) = publisher.as_mut() {
                    pb.begin_input();
                }
                driver.begin_input(captured)
            }
            Some(Msg::End(e)) => {
                driver.finish(&mut sink);
                error = e;
                end = true;
            }
            None => {}
        }
        if sink.rows > rows_before {
            let total = t.elapsed();
            m.observe_window_build(total.saturating_sub(sink.score_time));
            m.engine_rows.inc_by(sink.rows - rows_before);
            if sink.got_rows {
                m.ml_detector_processing_seconds
                    .observe(sink.score_time.as_secs_f64());
            }
        }
        let late = driver.stats().late_packets;
        if late > late_seen {
            m.engine_late_packets.inc_by(late - late_seen);
            late_seen = late;
        }
        sink.publish(&driver);
        if let Some(pb) = publisher.as_mut() {
            if !end && last_flush.elapsed() >= PUBLISH_FLUSH {
                pb.flush();
                last_flush = Instant::now();
            }
        }
        // Capture rates over the last second.
        let now = Instant::now();
        let dt = now.duration_since(last_rate.0);
        if dt >= Duration::from_secs(1) || end {
            let c = &shared.counters;
            let (p, b) = (
                c.packets.load(Ordering::Relaxed),
                c.bytes.load(Ordering::Relaxed),
            );
            let secs = dt.as_secs_f64().max(1e-3);
            m.ebpf_packets_per_second
                .set(p.saturating_sub(last_rate.1) as f64 / secs);
            m.ebpf_bytes_per_second
                .set(b.saturating_sub(last_rate.2) as f64 / secs);
            let lost = c.lost.load(Ordering::Relaxed);
            let exported = m.ebpf_ringbuf_lost_events.get();
            if lost > exported {
                m.ebpf_ringbuf_lost_events.inc_by(lost - exported);
            }
            last_rate = (now, p, b);
            if let Ok(mut st) = shared.status.lock() {
                st.capture = c.snapshot();
            }
        }
        if end {
            break;
        }
    }
    let publish = publisher.map(|pb| {
        let stats = pb.stats();
        let unacked = pb.finish(PUBLISH_FINISH);
        if unacked > 0 {
            let msg = format!(
                "--publish: {unacked} batch(es) not acknowledged by JetStream within {}s",
                PUBLISH_FINISH.as_secs()
            );
            error = Some(match error.take() {
                Some(prev) => format!("{prev}; {msg}"),
                None => msg,
            });
        }
        let mut v = serde_json::to_value(&*stats).unwrap_or(serde_json::Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.insert("unacknowledged".into(), unacked.into());
        }
        v
    });
    let mut rows_written = None;
    if let Some(w) = sink.rows_out.take() {
        match w.finish() {
            Ok(n) => rows_written = Some(n),
            Err(e) => {
                let msg = format!("--rows-out: {e:#}");
                error = Some(match error {
                    Some(prev) => format!("{prev}; {msg}"),
                    None => msg,
                });
            }
        }
    }
    EngineOutcome {
        engine: driver.stats().clone(),
        host_rows: sink.host_rows,
        threat_rows: sink.threat_rows,
        rows_written,
        error,
        publish,
    }
}
