//! Scale-out over NATS JetStream: sensors publish packet-record batches
//! ([`super::wire`]) to `telemetry.flow.<shard>`; scorers consume their shards with
//! durable pull consumers and run the same window engine.
//!
//! Partitioning: a record goes to the shard of its source and of its destination
//! (FNV-1a of the address, [`super::wire::shard_of`]), so every record a host's window
//! needs is on that host's shard. Scorer `i` of `M` owns shards `s % M == i` and emits
//! rows only for hosts of its shards; a record on two owned shards is processed once
//! (from the lower shard).
//!
//! Ordering: each batch carries the sensor's watermark; a scorer releases records to
//! the engine in event time once every (sensor, owned shard) has promised nothing
//! earlier is coming, so several sensors merge exactly as one time-ordered stream.
//!
//! Delivery (at-least-once) and why duplicates are harmless:
//! - The sensor sets `Nats-Msg-Id = sensor:shard:seq`; JetStream drops a re-published
//!   batch within its duplicate window (sensor retries after a lost ack).
//! - A scorer skips a batch whose `seq` it has already processed for (sensor, shard)
//!   (redelivery after `ack_wait`), so no record is counted twice in a window.
//! - A message is acknowledged only after every window it can influence (its hop plus
//!   twice the longest window: the window itself and the "new port" history before it)
//!   has been emitted and that emission point (the high-water mark) is checkpointed in
//!   the `WB_CKPT` stream. After a crash the restarted scorer gets every unacknowledged
//!   message again and suppresses rows at or before the checkpoint; every later row
//!   depends only on redelivered records, so it equals the row of an uninterrupted run.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use async_nats::jetstream::{self, consumer::pull, stream};
use capture::PacketRecord;
use futures_util::StreamExt;
use serde::Serialize;

use super::wire::{self, Batch, FLAG_END};
use crate::engine::{Entity, RowRef, WindowConfig, WindowEngine};
use crate::eval::Scorer;

/// The stream holding sensor batches (and seed 000 JSON on the bare subject).
pub const STREAM: &str = "TELEMETRY";
/// Scorer checkpoints (one message per scorer, the latest).
pub const CKPT_STREAM: &str = "WB_CKPT";
/// Default subject prefix (seed 000).
pub const DEFAULT_SUBJECT: &str = "telemetry.flow";

/// Creates (or finds) the telemetry and checkpoint streams.
pub async fn ensure_streams(js: &jetstream::Context, subject: &str) -> Result<()> {
    js.get_or_create_stream(stream::Config {
        name: STREAM.to_string(),
        subjects: vec![subject.to_string(), format!("{subject}.>")],
        max_age: Duration::from_secs(24 * 3600),
        // The sensor's retries of one batch within this window are dropped by the server.
        duplicate_window: Duration::from_secs(120),
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(|e| anyhow!("cannot create JetStream stream {STREAM}: {e}"))?;
    js.get_or_create_stream(stream::Config {
        name: CKPT_STREAM.to_string(),
        subjects: vec!["workbench.ckpt.>".to_string()],
        max_messages_per_subject: 1,
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(|e| anyhow!("cannot create JetStream stream {CKPT_STREAM}: {e}"))?;
    Ok(())
}

// ---------------------------------------------------------------------------------
// Sensor side

/// Sensor settings.
#[derive(Clone, Debug)]
pub struct PublisherConfig {
    pub url: String,
    pub subject: String,
    pub shards: u16,
    /// Unique per sensor (host name by default): part of dedup ids and watermarks.
    pub sensor_id: String,
    /// Records per batch before a shard's batch is sent.
    pub batch_records: usize,
    /// Most batches held while NATS is unreachable; beyond it the oldest are dropped
    /// and counted (`dropped_batches`).
    pub buffer_batches: usize,
}

impl PublisherConfig {
    pub fn new(url: &str, sensor_id: &str) -> Self {
        PublisherConfig {
            url: url.to_string(),
            subject: DEFAULT_SUBJECT.to_string(),
            shards: 16,
            sensor_id: sensor_id.to_string(),
            batch_records: 512,
            buffer_batches: 100_000,
        }
    }
}

/// Sensor counters (shared with the publishing task).
#[derive(Debug, Default, Serialize)]
pub struct PublisherStats {
    pub records: AtomicU64,
    pub batches: AtomicU64,
    pub bytes: AtomicU64,
    /// Batches acknowledged by JetStream.
    pub acked: AtomicU64,
    /// Batches JetStream reported as duplicates (a retry of a stored batch).
    pub duplicates: AtomicU64,
    /// Publish attempts that failed (server down, timeout) and were retried.
    pub retries: AtomicU64,
    /// Batches dropped because the buffer was full.
    pub dropped_batches: AtomicU64,
    /// Batches waiting to be acknowledged now.
    pub buffered: AtomicU64,
    /// Most batches buffered at once.
    pub buffered_peak: AtomicU64,
}

struct Outgoing {
    subject: String,
    id: String,
    payload: Vec<u8>,
}

/// Publishes packet records as shard batches. Synchronous API for capture loops:
/// [`publish`](Self::publish) per record, [`flush`](Self::flush) on a timer (it also
/// sends the watermark heartbeats idle shards need), [`finish`](Self::finish) at the end.
/// A background thread does the network I/O, buffering (bounded) while NATS is down.
pub struct Publisher {
    cfg: PublisherConfig,
    pending: Vec<Vec<PacketRecord>>,
    seq: Vec<u64>,
    last_ts: u64,
    tx: tokio::sync::mpsc::UnboundedSender<Outgoing>,
    stats: Arc<PublisherStats>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Publisher {
    /// Starts the publishing thread; connection happens (and is retried) in the
    /// background, so a sensor starts even while NATS is down.
    pub fn start(cfg: PublisherConfig) -> Result<Publisher> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let stats = Arc::new(PublisherStats::default());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the publisher runtime")?;
        let (url, subject, cap, st) = (
            cfg.url.clone(),
            cfg.subject.clone(),
            cfg.buffer_batches.max(1),
            stats.clone(),
        );
        let thread = std::thread::Builder::new()
            .name("nats-publisher".into())
            .spawn(move || rt.block_on(publish_loop(url, subject, cap, rx, st)))
            .context("cannot start the publisher thread")?;
        Ok(Publisher {
            pending: vec![Vec::new(); cfg.shards as usize],
            seq: vec![0; cfg.shards as usize],
            cfg,
            last_ts: 0,
            tx,
            stats,
            thread: Some(thread),
        })
    }

    pub fn stats(&self) -> Arc<PublisherStats> {
        self.stats.clone()
    }

    /// Queues one record (records must come in time order, as every source yields them).
    pub fn publish(&mut self, r: &PacketRecord) {
        self.last_ts = self.last_ts.max(r.ts_ns);
        self.stats.records.fetch_add(1, Ordering::Relaxed);
        let (a, b) = wire::shards_of(r, self.cfg.shards);
        for s in std::iter::once(a).chain(b) {
            self.pending[s as usize].push(*r);
            if self.pending[s as usize].len() >= self.cfg.batch_records {
                // Records of this shard before last_ts are all in this batch, but the
                // promise must hold for the records *at* last_ts too, which may still
                // arrive: the watermark is last_ts (exclusive).
                self.send(s, self.last_ts, 0);
            }
        }
    }

    /// Moves the sensor's event time without a packet (live sources call this with the
    /// kernel clock on a timer), so an idle sensor's next flush lets scorers move on
    /// instead of waiting `--sensor-idle`. Only call it with times no later packet
    /// will precede.
    pub fn advance_to(&mut self, ts_ns: u64) {
        self.last_ts = self.last_ts.max(ts_ns);
    }

    /// Sends every shard's pending records, and an empty heartbeat to idle shards, with
    /// the current watermark. Call it every ~100–500 ms.
    pub fn flush(&mut self) {
        for s in 0..self.cfg.shards {
            self.send(s, self.last_ts, 0);
        }
    }

    /// Flushes with the end-of-input flag and waits (up to `timeout`) until JetStream
    /// acknowledged everything. Returns the number of batches still unacknowledged.
    pub fn finish(mut self, timeout: Duration) -> u64 {
        for s in 0..self.cfg.shards {
            self.send(s, self.last_ts.saturating_add(1), FLAG_END);
        }
        let t0 = Instant::now();
        while self.stats.buffered.load(Ordering::Relaxed) > 0 && t0.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(20));
        }
        let left = self.stats.buffered.load(Ordering::Relaxed);
        drop(self.tx);
        if left == 0 {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
        left
    }

    fn send(&mut self, shard: u16, watermark: u64, flags: u8) {
        let s = shard as usize;
        self.seq[s] += 1;
        let batch = Batch {
            sensor: self.cfg.sensor_id.clone(),
            shard,
            seq: self.seq[s],
            watermark,
            flags,
            records: std::mem::take(&mut self.pending[s]),
        };
        let payload = wire::encode(&batch);
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        self.stats
            .bytes
            .fetch_add(payload.len() as u64, Ordering::Relaxed);
        let b = self.stats.buffered.fetch_add(1, Ordering::Relaxed) + 1;
        self.stats.buffered_peak.fetch_max(b, Ordering::Relaxed);
        let out = Outgoing {
            subject: format!("{}.{}", self.cfg.subject, shard),
            id: format!("{}:{}:{}", self.cfg.sensor_id, shard, batch.seq),
            payload,
        };
        if self.tx.send(out).is_err() {
            // The publishing thread is gone (it only ends when we drop the sender).
            self.stats.dropped_batches.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn publish_loop(
    url: String,
    subject: String,
    cap: usize,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Outgoing>,
    stats: Arc<PublisherStats>,
) {
    let mut queue: VecDeque<Outgoing> = VecDeque::new();
    let mut js: Option<jetstream::Context> = None;
    let mut backoff = Duration::from_millis(50);
    let mut closed = false;
    loop {
        // Take everything the capture loop produced; bound the buffer.
        loop {
            match rx.try_recv() {
                Ok(m) => queue.push_back(m),
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) => break,
                Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        while queue.len() > cap {
            queue.pop_front();
            stats.dropped_batches.fetch_add(1, Ordering::Relaxed);
            stats.buffered.fetch_sub(1, Ordering::Relaxed);
        }
        if queue.is_empty() {
            if closed {
                return;
            }
            match rx.recv().await {
                Some(m) => queue.push_back(m),
                None => return,
            }
            continue;
        }
        if js.is_none() {
            match connect_js(&url, &subject).await {
                Ok(c) => js = Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, buffered = queue.len(), "NATS not reachable; buffering");
                    stats.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            }
        }
        let Some(ctx) = js.as_ref() else { continue };
        let Some(m) = queue.front() else { continue };
        let res = async {
            let ack = ctx
                .send_publish(
                    m.subject.clone(),
                    jetstream::message::PublishMessage::build()
                        .payload(m.payload.clone().into())
                        .message_id(&m.id),
                )
                .await
                .map_err(|e| anyhow!("{e}"))?;
            ack.await.map_err(|e| anyhow!("{e}"))
        }
        .await;
        match res {
            Ok(ack) => {
                if ack.duplicate {
                    stats.duplicates.fetch_add(1, Ordering::Relaxed);
                }
                stats.acked.fetch_add(1, Ordering::Relaxed);
                stats.buffered.fetch_sub(1, Ordering::Relaxed);
                queue.pop_front();
                backoff = Duration::from_millis(50);
            }
            Err(e) => {
                // Keep the batch at the head: it is re-sent with the same id, so a
                // batch that was stored but whose ack was lost is not stored twice.
                tracing::warn!(error = %e, buffered = queue.len(), "publish failed; retrying");
                stats.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}

async fn connect_js(url: &str, subject: &str) -> Result<jetstream::Context> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .connect(url)
        .await
        .map_err(|e| anyhow!("cannot connect to NATS at {url}: {e}"))?;
    let mut js = jetstream::new(client);
    js.set_timeout(Duration::from_secs(2));
    ensure_streams(&js, subject).await?;
    Ok(js)
}

// ---------------------------------------------------------------------------------
// Scorer side

/// Scorer settings.
#[derive(Clone, Debug)]
pub struct ScorerConfig {
    pub url: String,
    pub subject: String,
    pub shards: u16,
    pub scorers: u16,
    pub index: u16,
    /// Sensors to wait for before releasing records (a sensor that joins later has
    /// its earlier records counted as late packets).
    pub expect_sensors: usize,
    /// A sensor silent this long (wall clock) no longer holds the merge back.
    pub sensor_idle: Duration,
    pub window: WindowConfig,
    /// JSON lines of every emitted host row (window_end_ns, entity, values).
    pub rows_out: Option<PathBuf>,
    /// Exit once every seen sensor sent its end-of-input batch (tests, batch replays).
    pub exit_on_end: bool,
}

impl ScorerConfig {
    fn name(&self) -> String {
        format!("scorer-{}-of-{}", self.index, self.scorers)
    }
}

/// What a scorer did (printed as JSON at exit, served on /stats by `serve`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ScorerStats {
    pub messages: u64,
    pub records: u64,
    /// Records processed by this scorer (after the one-shard-per-record rule).
    pub records_processed: u64,
    pub duplicate_batches: u64,
    pub redeliveries: u64,
    pub bad_messages: u64,
    pub rows: u64,
    /// Rows at or before the restart checkpoint (already emitted before a crash).
    pub rows_suppressed: u64,
    pub alerts: u64,
    pub acked: u64,
    pub checkpoint_ns: u64,
    pub late_packets: u64,
}

/// Where the scorer's alerts go: the live pipeline's tracker (and through its loop, to
/// Alertmanager), so a scorer alerts exactly like `workbench live`.
#[derive(Clone)]
pub struct ScorerAlerts {
    pub tracker: Arc<std::sync::Mutex<crate::alert::AlertTracker>>,
    pub wake: Arc<tokio::sync::Notify>,
}

/// Per-row hook: scoring, alerting. Gets only rows the scorer owns.
pub type RowHook<'a> = Box<dyn FnMut(RowRef<'_>) + Send + 'a>;

struct Pending {
    bound_ns: u64,
    msg: jetstream::Message,
}

/// Runs a scorer until its input ends (`exit_on_end`) or forever.
pub async fn run_scorer(
    cfg: ScorerConfig,
    scorer: Option<(Arc<dyn Scorer>, f64)>,
    alerts: Option<ScorerAlerts>,
) -> Result<ScorerStats> {
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(cfg.url.as_str())
        .await
        .map_err(|e| anyhow!("cannot connect to NATS at {}: {e}", cfg.url))?;
    let js = jetstream::new(client);
    ensure_streams(&js, &cfg.subject).await?;
    let stream = js
        .get_stream(STREAM)
        .await
        .map_err(|e| anyhow!("stream {STREAM}: {e}"))?;
    let ckpt_stream = js
        .get_stream(CKPT_STREAM)
        .await
        .map_err(|e| anyhow!("stream {CKPT_STREAM}: {e}"))?;
    let ckpt_subject = format!("workbench.ckpt.{}", cfg.name());
    let restart_hwm: u64 = match ckpt_stream
        .get_last_raw_message_by_subject(&ckpt_subject)
        .await
    {
        Ok(m) => std::str::from_utf8(&m.payload)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0),
        Err(_) => 0,
    };
    if restart_hwm > 0 {
        tracing::info!(checkpoint_ns = restart_hwm, "resuming after checkpoint");
    }

    let owned: BTreeSet<u16> = (0..cfg.shards)
        .filter(|s| s % cfg.scorers.max(1) == cfg.index)
        .collect();
    let mut consumers = Vec::new();
    for &s in &owned {
        consumers.push(
            durable_consumer(
                &stream,
                &format!("scorer-shard-{s}"),
                format!("{}.{s}", cfg.subject),
            )
            .await?,
        );
    }
    // Seed 000's simulator publishes JSON on the bare subject: scorer 0 takes it.
    if cfg.index == 0 {
        consumers.push(durable_consumer(&stream, "scorer-seed-json", cfg.subject.clone()).await?);
    }

    let mut engine = WindowEngine::new(cfg.window.clone()).context("invalid window settings")?;
    let hop_ns = (cfg.window.hop_s * 1e9).round() as u64;
    let longest = cfg.window.widths_s.iter().cloned().fold(0.0, f64::max);
    let m_hops = (longest / cfg.window.hop_s).round() as u64;
    let mut out = match &cfg.rows_out {
        Some(p) => {
            // A crashed run may have left a torn last line: end it so ours start clean.
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(p)
                .with_context(|| format!("cannot open {}", p.display()))?;
            let torn = {
                use std::io::{Read, Seek, SeekFrom};
                let mut last = [b'\n'];
                f.seek(SeekFrom::End(-1)).is_ok()
                    && f.read_exact(&mut last).is_ok()
                    && last[0] != b'\n'
            };
            if torn {
                f.write_all(b"\n")
                    .with_context(|| format!("cannot write {}", p.display()))?;
            }
            Some(std::io::BufWriter::new(f))
        }
        None => None,
    };

    let mut st = ScorerStats {
        checkpoint_ns: restart_hwm,
        ..Default::default()
    };
    let mut wm: HashMap<(String, u16), u64> = HashMap::new();
    let mut ended: BTreeSet<(String, u16)> = BTreeSet::new();
    let mut last_seen: HashMap<String, Instant> = HashMap::new();
    let mut last_seq: HashMap<(String, u16), u64> = HashMap::new();
    let mut processed_seq: HashMap<String, u64> = HashMap::new();
    let mut buf: Vec<(u64, u64, PacketRecord)> = Vec::new();
    let mut order: u64 = 0;
    let mut pending: Vec<Pending> = Vec::new();
    let mut hwm: u64 = restart_hwm;
    let mut max_end: u64 = 0;
    let mut finished = false;

    loop {
        let mut got = 0usize;
        for c in &consumers {
            let mut msgs = match c
                .fetch()
                .max_messages(512)
                .expires(Duration::from_millis(100))
                .messages()
                .await
            {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "fetch failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            while let Some(m) = msgs.next().await {
                let msg = match m {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::debug!(error = %e, "fetch ended");
                        break;
                    }
                };
                got += 1;
                st.messages += 1;
                let (stream_seq, consumer) = match msg.info() {
                    Ok(i) => (i.stream_sequence, i.consumer.to_string()),
                    Err(_) => (0, String::new()),
                };
                // Redelivery of a message we hold (not yet acked): already processed.
                let seen = processed_seq.entry(consumer).or_insert(0);
                if stream_seq != 0 && stream_seq <= *seen {
                    st.redeliveries += 1;
                    continue;
                }
                *seen = stream_seq.max(*seen);
                let payload = &msg.payload;
                if payload.starts_with(b"WB1") {
                    let b = match wire::decode(payload) {
                        Ok(b) => b,
                        Err(e) => {
                            st.bad_messages += 1;
                            tracing::warn!(subject = %msg.subject, error = %e, "bad batch");
                            let _ = msg.ack().await;
                            continue;
                        }
                    };
                    let key = (b.sensor.clone(), b.shard);
                    last_seen.insert(b.sensor.clone(), Instant::now());
                    let last = last_seq.entry(key.clone()).or_insert(0);
                    if b.seq <= *last {
                        st.duplicate_batches += 1;
                        let _ = msg.ack().await;
                        continue;
                    }
                    *last = b.seq;
                    let w = wm.entry(key.clone()).or_insert(0);
                    *w = (*w).max(b.watermark);
                    if b.is_end() {
                        ended.insert(key);
                    }
                    st.records += b.records.len() as u64;
                    for r in &b.records {
                        let (a, c2) = wire::shards_of(r, cfg.shards);
                        let first_owned = std::iter::once(a)
                            .chain(c2)
                            .filter(|s| owned.contains(s))
                            .min();
                        if first_owned == Some(b.shard) {
                            order += 1;
                            buf.push((r.ts_ns, order, *r));
                        }
                    }
                    let bound = if b.is_end() {
                        u64::MAX
                    } else {
                        (b.max_ts() / hop_ns + 2 * m_hops + 1) * hop_ns
                    };
                    pending.push(Pending {
                        bound_ns: bound,
                        msg,
                    });
                } else {
                    match wire::seed_json(payload) {
                        Ok(r) => {
                            st.records += 1;
                            let key = ("seed-json".to_string(), u16::MAX);
                            last_seen.insert(key.0.clone(), Instant::now());
                            let w = wm.entry(key).or_insert(0);
                            *w = (*w).max(r.ts_ns);
                            order += 1;
                            buf.push((r.ts_ns, order, r));
                            let bound = (r.ts_ns / hop_ns + 2 * m_hops + 1) * hop_ns;
                            pending.push(Pending {
                                bound_ns: bound,
                                msg,
                            });
                        }
                        Err(e) => {
                            st.bad_messages += 1;
                            tracing::warn!(subject = %msg.subject, error = %format!("{e:#}"), "bad message");
                            let _ = msg.ack().await;
                        }
                    }
                }
            }
        }

        // Release in event time: the lowest watermark over live (sensor, owned shard).
        let now = Instant::now();
        let sensors: BTreeMap<&String, bool> = last_seen
            .iter()
            .map(|(s, t)| (s, now.duration_since(*t) < cfg.sensor_idle))
            .collect();
        let mut release: Option<u64> = None;
        let all_ended;
        if sensors.len() >= cfg.expect_sensors && !sensors.is_empty() {
            let mut lo = u64::MAX;
            let mut every_end = true;
            for (s, live) in &sensors {
                let shard_keys: Vec<u16> = if s.as_str() == "seed-json" {
                    vec![u16::MAX]
                } else {
                    owned.iter().copied().collect()
                };
                for sh in shard_keys {
                    let k = ((*s).clone(), sh);
                    if ended.contains(&k) {
                        continue;
                    }
                    every_end = false;
                    if *live {
                        lo = lo.min(wm.get(&k).copied().unwrap_or(0));
                    }
                }
            }
            all_ended = every_end;
            release = Some(lo);
        } else {
            all_ended = false;
        }

        if let Some(lo) = release {
            buf.sort_unstable_by_key(|x| (x.0, x.1));
            let n = if all_ended {
                buf.len()
            } else {
                buf.partition_point(|x| x.0 < lo)
            };
            let mut sink = |row: RowRef<'_>| {
                max_end = max_end.max(row.window_end_ns);
                let Entity::Host(h) = row.entity else { return };
                if !owned.contains(&wire::shard_of(h, cfg.shards)) {
                    return;
                }
                if row.window_end_ns <= restart_hwm {
                    st.rows_suppressed += 1;
                    return;
                }
                st.rows += 1;
                if let Some(o) = out.as_mut() {
                    let line = serde_json::json!({
                        "window_end_ns": row.window_end_ns,
                        "entity": row.entity.to_string(),
                        "values": row.values,
                    });
                    let _ = writeln!(o, "{line}");
                }
                if let Some((sc, th)) = &scorer {
                    let s = sc.score(row.values);
                    if s.value >= *th {
                        st.alerts += 1;
                        if let Some(a) = &alerts {
                            // A model gives a score only; the seed rules name the threat.
                            let threat = crate::alert::threat_of(
                                s.threat
                                    .or_else(|| crate::eval::RulesScorer::explain(row.values)),
                                s.value,
                            );
                            let new = match a.tracker.lock() {
                                Ok(mut t) => t.observe(
                                    Instant::now(),
                                    std::time::SystemTime::now(),
                                    h,
                                    threat,
                                    s.value,
                                    crate::live::engine::alert_detail(row.values),
                                    row.window_end_ns,
                                ),
                                Err(_) => false,
                            };
                            if new {
                                a.wake.notify_one();
                            }
                        }
                        tracing::warn!(
                            src = %h,
                            score = s.value,
                            threat_type = s.threat.map(|t| t.name()).unwrap_or("unknown"),
                            window_end_ns = row.window_end_ns,
                            "alert"
                        );
                    }
                }
            };
            for (_, _, r) in buf.drain(..n) {
                st.records_processed += 1;
                engine.push(&r, &mut sink);
            }
            if all_ended && !finished {
                engine.finish(&mut sink);
                finished = true;
            } else if lo != u64::MAX && lo > 0 {
                engine.advance_to(lo, &mut sink);
                hwm = hwm.max((lo / hop_ns) * hop_ns);
            }
            if finished {
                hwm = hwm.max(max_end);
            }
            st.late_packets = engine.stats().late_packets;
            if let Some(o) = out.as_mut() {
                o.flush().context("cannot write rows")?;
            }
        }

        // Checkpoint, then acknowledge what the checkpoint covers.
        let ackable = pending.iter().any(|p| p.bound_ns <= hwm || finished);
        if ackable && hwm > st.checkpoint_ns {
            let ck = js
                .publish(ckpt_subject.clone(), hwm.to_string().into())
                .await
                .map_err(|e| anyhow!("checkpoint: {e}"))?;
            ck.await
                .map_err(|e| anyhow!("checkpoint not stored: {e}"))?;
            st.checkpoint_ns = hwm;
        }
        if ackable && hwm <= st.checkpoint_ns {
            let mut keep = Vec::with_capacity(pending.len());
            for p in pending.drain(..) {
                if p.bound_ns <= hwm || finished {
                    // double_ack: the server confirms, so a reported ack is durable.
                    if p.msg.double_ack().await.is_ok() {
                        st.acked += 1;
                    } else {
                        keep.push(p);
                    }
                } else {
                    keep.push(p);
                }
            }
            pending = keep;
        }
        if finished && cfg.exit_on_end && pending.is_empty() {
            return Ok(st);
        }
        if got == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A durable pull consumer (explicit acks) on `filter`, ready to resume.
///
/// A scorer that died held messages delivered but not acknowledged; JetStream would
/// redeliver them only after `ack_wait`, and a restarted scorer would meanwhile see
/// later records first. So when the consumer has unacknowledged messages it is
/// recreated to start right after its ack floor: everything not acknowledged arrives
/// again, in order, now. (Messages above the floor that were acknowledged arrive again
/// too; they only influence rows at or before the checkpoint, which are suppressed.)
async fn durable_consumer(
    stream: &stream::Stream,
    name: &str,
    filter: String,
) -> Result<jetstream::consumer::PullConsumer> {
    let config = |deliver_policy| pull::Config {
        durable_name: Some(name.to_string()),
        filter_subject: filter.clone(),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        deliver_policy,
        // Acks wait for the windows a batch influences (seconds of event time);
        // redeliveries before that are recognised by stream sequence and skipped.
        ack_wait: Duration::from_secs(60),
        max_ack_pending: 1_000_000,
        ..Default::default()
    };
    let mut c: jetstream::consumer::PullConsumer = stream
        .get_or_create_consumer(name, config(jetstream::consumer::DeliverPolicy::All))
        .await
        .map_err(|e| anyhow!("consumer {name}: {e}"))?;
    let info = c
        .info()
        .await
        .map_err(|e| anyhow!("consumer {name}: {e}"))?
        .clone();
    if info.num_ack_pending == 0 {
        return Ok(c);
    }
    let start = info.ack_floor.stream_sequence + 1;
    tracing::info!(
        consumer = name,
        unacknowledged = info.num_ack_pending,
        start_sequence = start,
        "resuming after the ack floor"
    );
    stream
        .delete_consumer(name)
        .await
        .map_err(|e| anyhow!("consumer {name}: cannot reset: {e}"))?;
    stream
        .create_consumer(config(
            jetstream::consumer::DeliverPolicy::ByStartSequence {
                start_sequence: start,
            },
        ))
        .await
        .map_err(|e| anyhow!("consumer {name}: {e}"))
}
