//! The sensor side: packet records into shard batches, published in the background
//! with bounded buffering while NATS is unreachable.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use async_nats::jetstream;
use capture::PacketRecord;
use serde::Serialize;

use super::{connect_js, DEFAULT_SUBJECT};
use crate::stack::wire::{self, Batch, FLAG_END};

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
    /// The current input (see [`Publisher::begin_input`]).
    input: u32,
    /// A record or a watermark went out for the current input.
    started: bool,
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
            input: 0,
            started: false,
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
        self.started = true;
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
        self.started = true;
        self.last_ts = self.last_ts.max(ts_ns);
    }

    /// The records that follow belong to a new input (the next file of a replay): what
    /// is pending goes out closing the current input, and later records carry the next
    /// input number. Scorers then apply the engine's timeline rule at the boundary, as
    /// `workbench features` does between files. The first input needs no call.
    pub fn begin_input(&mut self) {
        if !self.started {
            return;
        }
        for s in 0..self.cfg.shards {
            self.send(s, self.last_ts.saturating_add(1), 0);
        }
        self.input += 1;
        self.last_ts = 0;
        self.started = false;
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
            input: self.input,
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
