//! Source threads: they produce [`PacketRecord`]s (decoded by `capture::decode_frame`,
//! the decoder every file uses) and event-time watermarks, and send them to the engine
//! thread over a bounded channel.
//!
//! Watermarks travel in the same channel as the packets, after them. A watermark `t`
//! promises that no packet earlier than `t` follows, so the engine's `advance_to(t)`
//! can never turn a packet into a late one: rows are exactly those of an offline run
//! over the same packets.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use capture::{PacketRecord, PacketSource, SourceStats};

use crate::pipeline::Speed;

/// Most packets per message.
const BATCH: usize = 1024;
/// How often a paced source sends a watermark while it waits for the next packet (and
/// so how late, at most, a window closes after its end when traffic stops).
pub const TICK: Duration = Duration::from_millis(25);

/// What a source sends to the engine thread.
pub enum Msg {
    /// Packets in time order.
    Packets(Vec<PacketRecord>),
    /// No packet earlier than this (ns since the epoch) will follow.
    Watermark(u64),
    /// The packets that follow belong to a new input (a replayed file, the simulation,
    /// the interface); `true` when it is captured traffic. The engine driver decides by
    /// its one timeline rule whether the input continues the timeline or restarts it.
    BeginInput(bool),
    /// The source is done (end of input, stop requested, or an error).
    End(Option<String>),
}

/// Counters every source keeps, shown on `/stats` and `/metrics`.
#[derive(Debug, Default)]
pub struct SourceCounters {
    /// Packets seen (kernel counters for live capture).
    pub packets: AtomicU64,
    /// Wire bytes seen.
    pub bytes: AtomicU64,
    /// Events the capture lost (ring buffer / socket drops).
    pub lost: AtomicU64,
    /// Packets decoded and handed to the engine.
    pub delivered: AtomicU64,
    /// Decoder statistics (skips by reason).
    pub decode: Mutex<SourceStats>,
}

impl SourceCounters {
    /// JSON for `/stats`.
    pub fn snapshot(&self) -> serde_json::Value {
        let skipped = match self.decode.lock() {
            Ok(s) => s
                .skip_breakdown()
                .into_iter()
                .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
                .collect::<serde_json::Map<_, _>>(),
            Err(_) => serde_json::Map::new(),
        };
        serde_json::json!({
            "packets": self.packets.load(Ordering::Relaxed),
            "bytes": self.bytes.load(Ordering::Relaxed),
            "lost_events": self.lost.load(Ordering::Relaxed),
            "delivered": self.delivered.load(Ordering::Relaxed),
            "skipped": skipped,
        })
    }
}

/// Watches for the first packet of an attack (demo): records the wall instant it was
/// handed to the pipeline.
#[derive(Debug, Default)]
pub struct FirstPacketWatch {
    /// Attacker and victim addresses to match (`src == attacker && dst == victim`).
    pub pair: Option<(IpAddr, IpAddr)>,
    /// When the first matching packet was sent to the engine thread.
    pub fed_at: OnceLock<Instant>,
    /// Its event timestamp.
    pub ts_ns: OnceLock<u64>,
}

impl FirstPacketWatch {
    fn check(&self, p: &PacketRecord) {
        if let Some((a, v)) = self.pair {
            if self.fed_at.get().is_none() && p.src == a && p.dst == v {
                let _ = self.ts_ns.set(p.ts_ns);
                let _ = self.fed_at.set(Instant::now());
            }
        }
    }
}

/// Replays `sources` (name, source, captured) in order, paced by their timestamps at
/// `speed`, until they end or `stop` is set. Runs on its own thread.
pub fn replay_paced(
    sources: Vec<(String, Box<dyn PacketSource + Send>, bool)>,
    speed: Speed,
    tx: SyncSender<Msg>,
    stop: Arc<AtomicBool>,
    counters: Arc<SourceCounters>,
    watch: Arc<FirstPacketWatch>,
    linger: bool,
) {
    let mut last_base: Option<(u64, Instant)> = None;
    let mut errors = Vec::new();
    let mut base_stats = SourceStats::default();
    for (name, mut src, captured) in sources {
        // Pacing base: the first packet of each input plays "now".
        let mut base: Option<(u64, Instant)> = None;
        let mut batch: Vec<PacketRecord> = Vec::with_capacity(BATCH);
        let mut n = 0u64;
        if !send_batch(&tx, &mut batch, &counters) || tx.send(Msg::BeginInput(captured)).is_err() {
            return;
        }
        let result = loop {
            if stop.load(Ordering::Relaxed) {
                break Ok(());
            }
            let pkt = match src.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => break Ok(()),
                Err(e) => break Err(format!("{name}: {e}")),
            };
            if let Speed::Factor(f) = speed {
                let (t0, w0) = *base.get_or_insert((pkt.ts_ns, Instant::now()));
                let offset = Duration::from_secs_f64(pkt.ts_ns.saturating_sub(t0) as f64 / 1e9 / f);
                let due = w0 + offset;
                let mut now = Instant::now();
                if due > now {
                    // Hand over what is already due before waiting.
                    if !send_batch(&tx, &mut batch, &counters) {
                        return;
                    }
                    while due > now {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        std::thread::sleep((due - now).min(TICK));
                        now = Instant::now();
                        if due > now {
                            // Event time reached so far: earlier than this packet.
                            let clock =
                                t0 + (now.duration_since(w0).as_secs_f64() * f * 1e9) as u64;
                            if tx.send(Msg::Watermark(clock.min(pkt.ts_ns))).is_err() {
                                return;
                            }
                        }
                    }
                }
            }
            watch.check(&pkt);
            counters.packets.fetch_add(1, Ordering::Relaxed);
            counters
                .bytes
                .fetch_add(u64::from(pkt.wire_len), Ordering::Relaxed);
            batch.push(pkt);
            // Paced replays hand over small batches so packets are not held back.
            let full =
                batch.len() >= BATCH || matches!(speed, Speed::Factor(_)) && batch.len() >= 64;
            if full && !send_batch(&tx, &mut batch, &counters) {
                return;
            }
            n += 1;
            if n & 0x3ff == 0 {
                merge_stats(&counters, src.stats(), &base_stats);
            }
        };
        if !send_batch(&tx, &mut batch, &counters) {
            return;
        }
        last_base = base.or(last_base);
        merge_stats(&counters, src.stats(), &base_stats);
        base_stats.merge(src.stats());
        if let Err(e) = result {
            eprintln!("warning: {e}");
            errors.push(e);
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    // Live simulation with --duration: the network goes quiet but time goes on, so
    // windows keep closing and alerts resolve as they would on a real interface.
    if let (true, Speed::Factor(f), Some((t0, w0))) = (linger, speed, last_base) {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(TICK);
            let clock = t0 + (w0.elapsed().as_secs_f64() * f * 1e9) as u64;
            if tx.send(Msg::Watermark(clock)).is_err() {
                return;
            }
        }
    }
    let _ = tx.send(Msg::End(if errors.is_empty() {
        None
    } else {
        Some(errors.join("; "))
    }));
}

/// Publishes the decode statistics: finished sources (`base`) plus the current one.
fn merge_stats(counters: &SourceCounters, now: &SourceStats, base: &SourceStats) {
    if let Ok(mut shared) = counters.decode.lock() {
        let mut s = base.clone();
        s.merge(now);
        *shared = s;
    }
}

/// Sends the batch if not empty. False when the engine thread is gone.
fn send_batch(
    tx: &SyncSender<Msg>,
    batch: &mut Vec<PacketRecord>,
    counters: &SourceCounters,
) -> bool {
    if batch.is_empty() {
        return true;
    }
    counters
        .delivered
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
    let b = std::mem::replace(batch, Vec::with_capacity(BATCH));
    tx.send(Msg::Packets(b)).is_ok()
}

/// How long one capture poll waits: also the watermark period when traffic stops.
const POLL: Duration = Duration::from_millis(20);
/// Watermarks trail the kernel clock by this much: a frame stamped just before a poll
/// may still be on its way into the ring buffer / socket queue when the poll returns.
const WATERMARK_SLACK_NS: u64 = 20_000_000;

/// Captures from `cap` until `stop` is set: decodes every frame with
/// `capture::decode_frame`, optionally records it to `record` (the bytes the kernel
/// handed over, caplen = data length, orig_len = wire length), and sends packets and
/// kernel-clock watermarks to the engine thread. Runs on its own thread.
pub fn capture_live(
    mut cap: capture::live::LiveCapture,
    mut record: Option<capture::PcapWriter<std::io::BufWriter<std::fs::File>>>,
    tx: SyncSender<Msg>,
    stop: Arc<AtomicBool>,
    counters: Arc<SourceCounters>,
) {
    use capture::live::clock;
    // Event time of "now" in the capture's timestamp base (CLOCK_REALTIME at open, then
    // advancing with CLOCK_MONOTONIC), so windows close even when traffic stops.
    let offset = clock::realtime_offset_ns();
    let mut stats = SourceStats::default();
    let mut batch: Vec<PacketRecord> = Vec::with_capacity(BATCH);
    let mut record_error: Option<String> = None;
    let mut polls = 0u64;
    if tx.send(Msg::BeginInput(true)).is_err() {
        return;
    }
    let error = loop {
        if stop.load(Ordering::Relaxed) {
            break None;
        }
        let before = clock::now_ns(libc::CLOCK_MONOTONIC) + offset;
        let res = cap.poll(POLL, &mut |f| {
            stats.bytes += u64::from(f.wire_len);
            if let Some(w) = record.as_mut() {
                if let Err(e) = w.write_frame(f.ts_ns, f.data, f.wire_len) {
                    record_error.get_or_insert_with(|| format!("--record: {e}"));
                }
            }
            let decoded = capture::decode_frame(f.link, f.ts_ns, f.wire_len, f.data);
            if let Some(rec) = stats.count_frame(decoded) {
                batch.push(rec);
            }
        });
        if let Err(e) = res {
            break Some(format!("capture failed: {e}"));
        }
        if !send_batch(&tx, &mut batch, &counters) {
            break None;
        }
        if tx
            .send(Msg::Watermark(before.saturating_sub(WATERMARK_SLACK_NS)))
            .is_err()
        {
            break None;
        }
        let c = cap.counters();
        counters.packets.store(c.packets, Ordering::Relaxed);
        counters.bytes.store(c.bytes, Ordering::Relaxed);
        counters.lost.store(c.lost_events, Ordering::Relaxed);
        polls += 1;
        if polls % 16 == 0 {
            merge_stats(&counters, &stats, &SourceStats::default());
        }
    };
    merge_stats(&counters, &stats, &SourceStats::default());
    let c = cap.counters();
    counters.packets.store(c.packets, Ordering::Relaxed);
    counters.bytes.store(c.bytes, Ordering::Relaxed);
    counters.lost.store(c.lost_events, Ordering::Relaxed);
    if let Some(w) = record.take() {
        let done = w
            .finish()
            .and_then(|b| b.into_inner().map_err(|e| e.into_error()));
        if let Err(e) = done {
            record_error.get_or_insert_with(|| format!("--record: {e}"));
        }
    }
    // Detach the XDP program before the engine flushes (Drop of LiveCapture).
    drop(cap);
    let msg = match (error, record_error) {
        (None, None) => None,
        (a, b) => Some([a, b].into_iter().flatten().collect::<Vec<_>>().join("; ")),
    };
    let _ = tx.send(Msg::End(msg));
}
