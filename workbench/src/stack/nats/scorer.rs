//! The scorer side: durable pull consumers on the owned shards, the sensors merged in
//! event time, the engine driver, and every owned host row scored and alerted.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use async_nats::jetstream;
use capture::PacketRecord;
use futures_util::StreamExt;
use serde::Serialize;

use super::{durable_consumer, ensure_streams, CKPT_STREAM, STREAM};
use crate::alert::Alerter;
use crate::engine::{Entity, RowRef, WindowConfig};
use crate::eval::Scorer;
use crate::pipeline::Driver;
use crate::stack::wire;

/// Event time across a sensor's inputs: `(input, ts_ns)`, compared in that order.
type EventTime = (u32, u64);

/// A checkpoint's text: `input:ns` (a bare `ns`, as written before inputs were
/// numbered, is input 0).
fn parse_checkpoint(s: &str) -> Option<EventTime> {
    let s = s.trim();
    match s.split_once(':') {
        Some((i, ns)) => Some((i.parse().ok()?, ns.parse().ok()?)),
        None => Some((0, s.parse().ok()?)),
    }
}

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
    /// The sensors' input the checkpoint is in (0 unless a sensor replayed files).
    pub checkpoint_input: u32,
    pub late_packets: u64,
}

struct Pending {
    bound: EventTime,
    msg: jetstream::Message,
}

/// Runs a scorer until its input ends (`exit_on_end`) or forever. Host windows go to
/// `scorer` and, at or above the alerter's threshold, to the alerter.
pub async fn run_scorer(
    cfg: ScorerConfig,
    scorer: Option<(Arc<dyn Scorer>, Alerter)>,
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
    let restart_hwm: EventTime = match ckpt_stream
        .get_last_raw_message_by_subject(&ckpt_subject)
        .await
    {
        Ok(m) => std::str::from_utf8(&m.payload)
            .ok()
            .and_then(parse_checkpoint)
            .unwrap_or((0, 0)),
        Err(_) => (0, 0),
    };
    if restart_hwm > (0, 0) {
        tracing::info!(
            checkpoint_input = restart_hwm.0,
            checkpoint_ns = restart_hwm.1,
            "resuming after checkpoint"
        );
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

    let mut driver = Driver::new(cfg.window.clone()).context("invalid window settings")?;
    // The sensors' input the driver is in (None before the first record).
    let current_input: std::cell::Cell<Option<u32>> = std::cell::Cell::new(None);
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
        checkpoint_input: restart_hwm.0,
        checkpoint_ns: restart_hwm.1,
        ..Default::default()
    };
    let mut wm: HashMap<(String, u16), EventTime> = HashMap::new();
    let mut ended: BTreeSet<(String, u16)> = BTreeSet::new();
    let mut last_seen: HashMap<String, Instant> = HashMap::new();
    let mut last_seq: HashMap<(String, u16), u64> = HashMap::new();
    let mut processed_seq: HashMap<String, u64> = HashMap::new();
    let mut buf: Vec<(EventTime, u64, PacketRecord)> = Vec::new();
    let mut order: u64 = 0;
    let mut pending: Vec<Pending> = Vec::new();
    let mut hwm: EventTime = restart_hwm;
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
                    let w = wm.entry(key.clone()).or_insert((0, 0));
                    *w = (*w).max((b.input, b.watermark));
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
                            buf.push(((b.input, r.ts_ns), order, *r));
                        }
                    }
                    let bound = if b.is_end() {
                        (u32::MAX, u64::MAX)
                    } else {
                        (b.input, (b.max_ts() / hop_ns + 2 * m_hops + 1) * hop_ns)
                    };
                    pending.push(Pending { bound, msg });
                } else {
                    match wire::seed_json(payload) {
                        Ok(r) => {
                            st.records += 1;
                            let key = ("seed-json".to_string(), u16::MAX);
                            last_seen.insert(key.0.clone(), Instant::now());
                            let w = wm.entry(key).or_insert((0, 0));
                            *w = (*w).max((0, r.ts_ns));
                            order += 1;
                            buf.push(((0, r.ts_ns), order, r));
                            let bound = (0, (r.ts_ns / hop_ns + 2 * m_hops + 1) * hop_ns);
                            pending.push(Pending { bound, msg });
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
        let mut release: Option<EventTime> = None;
        let all_ended;
        if sensors.len() >= cfg.expect_sensors && !sensors.is_empty() {
            let mut lo: EventTime = (u32::MAX, u64::MAX);
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
                        lo = lo.min(wm.get(&k).copied().unwrap_or((0, 0)));
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
                if (current_input.get().unwrap_or(0), row.window_end_ns) <= restart_hwm {
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
                if let Some((sc, alerter)) = &scorer {
                    let s = sc.score(row.values);
                    let scored = alerter.observe(h, s, row.values, row.window_end_ns);
                    if scored.alerting {
                        st.alerts += 1;
                        tracing::warn!(
                            src = %h,
                            score = s.value,
                            threat_type = scored.threat.name(),
                            window_end_ns = row.window_end_ns,
                            "alert"
                        );
                    }
                }
            };
            for ((input, _), _, r) in buf.drain(..n) {
                if current_input.get() != Some(input) {
                    // A sensor's next file: the driver's timeline rule, as between files.
                    current_input.set(Some(input));
                    driver.begin_input(true);
                }
                st.records_processed += 1;
                driver.push(&r, &mut sink);
            }
            if all_ended && !finished {
                driver.finish(&mut sink);
                finished = true;
            } else if lo.1 != u64::MAX && lo.1 > 0 && current_input.get().is_none_or(|i| i == lo.0)
            {
                driver.advance_to(lo.1, &mut sink);
                hwm = hwm.max((lo.0, (lo.1 / hop_ns) * hop_ns));
            }
            if finished {
                hwm = hwm.max((current_input.get().unwrap_or(0), max_end));
            }
            st.late_packets = driver.stats().late_packets;
            if let Some(o) = out.as_mut() {
                o.flush().context("cannot write rows")?;
            }
        }

        // Checkpoint, then acknowledge what the checkpoint covers.
        let ackable = pending.iter().any(|p| p.bound <= hwm || finished);
        let checkpoint = (st.checkpoint_input, st.checkpoint_ns);
        if ackable && hwm > checkpoint {
            let ck = js
                .publish(ckpt_subject.clone(), format!("{}:{}", hwm.0, hwm.1).into())
                .await
                .map_err(|e| anyhow!("checkpoint: {e}"))?;
            ck.await
                .map_err(|e| anyhow!("checkpoint not stored: {e}"))?;
            (st.checkpoint_input, st.checkpoint_ns) = hwm;
        }
        if ackable && hwm <= (st.checkpoint_input, st.checkpoint_ns) {
            let mut keep = Vec::with_capacity(pending.len());
            for p in pending.drain(..) {
                if p.bound <= hwm || finished {
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
