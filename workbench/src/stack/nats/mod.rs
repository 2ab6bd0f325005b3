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
//! Event time is `(input, ts)`: a sensor replaying several files numbers them, and the
//! scorer's engine driver applies its one timeline rule where the input changes.
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

mod scorer;
mod sensor;

use std::time::Duration;

use anyhow::{anyhow, Result};
use async_nats::jetstream::{self, consumer::pull, stream};

pub use scorer::{run_scorer, ScorerConfig, ScorerStats};
pub use sensor::{Publisher, PublisherConfig, PublisherStats};

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
