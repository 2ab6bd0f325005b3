//! Arguments of `workbench notify`, `publish` and `serve`, and their conversion to the
//! stack's configuration.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::common::{SimArgs, WindowArgs};
use super::live::AlertTimingArgs;
use crate::pipeline::Speed;
use crate::stack::{PublishConfig, ServeConfig};

/// `workbench notify`.
#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// Address for `/alert` (Alertmanager webhook), `/metrics` and `/health`. Port 0
    /// picks a free port; the bound address is printed first (`listening on ADDR`).
    #[arg(
        long,
        default_value = "127.0.0.1:8080",
        value_name = "ADDR",
        env = "NOTIFY_LISTEN"
    )]
    pub listen: SocketAddr,
    /// Largest accepted request body, bytes (larger: 413).
    #[arg(long, default_value_t = crate::stack::notify::DEFAULT_BODY_LIMIT, value_name = "BYTES")]
    pub max_body: usize,
}

/// `workbench publish`: a sensor without privileges, replaying captures or a simulation
/// to NATS JetStream (what `live --publish` does with live packets).
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Captures (pcap/pcapng files or directories).
    #[arg(value_name = "PCAP|DIR")]
    pub inputs: Vec<std::path::PathBuf>,
    /// Publish a simulated scenario instead of captures.
    #[arg(long, value_enum, conflicts_with = "inputs")]
    pub simulate: Option<crate::simulate::Scenario>,
    #[command(flatten)]
    pub sim: SimArgs,
    #[command(flatten)]
    pub bus: BusArgs,
    /// Sensor id (unique per sensor; dedup ids and watermarks carry it).
    #[arg(long, env = "WORKBENCH_SENSOR_ID", default_value = "sensor-1")]
    pub sensor_id: String,
    /// Replay speed: `max`, or a factor of real time (`1`, `10`).
    #[arg(long, default_value = "max")]
    pub speed: String,
    /// Most batches buffered while NATS is unreachable (oldest dropped and counted).
    #[arg(long, default_value_t = 100_000)]
    pub buffer_batches: usize,
    /// Records per batch.
    #[arg(long, default_value_t = 512)]
    pub batch_records: usize,
}

/// Where the records travel: shared by the sensor and the scorer.
#[derive(Debug, Args, Clone)]
pub struct BusArgs {
    /// NATS server URL.
    #[arg(long = "nats", env = "NATS_URL", value_name = "URL")]
    pub nats: Option<String>,
    /// Subject prefix; shards are `<subject>.<n>`; the bare subject carries seed 000's
    /// simulator JSON.
    #[arg(long, default_value = crate::stack::nats::DEFAULT_SUBJECT)]
    pub subject: String,
    /// Number of shards (every sensor and scorer must agree).
    #[arg(long, default_value_t = 16, env = "WORKBENCH_SHARDS")]
    pub shards: u16,
}

/// `workbench serve`: the scorer over NATS and the seeds' HTTP APIs.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub bus: BusArgs,
    /// Scorers sharing the shards (scorer i owns shards s with s % scorers == i).
    #[arg(long, default_value_t = 1, env = "WORKBENCH_SCORERS")]
    pub scorers: u16,
    /// This scorer's index (0-based).
    #[arg(long, default_value_t = 0, env = "WORKBENCH_SCORER_INDEX")]
    pub scorer_index: u16,
    /// Sensors to hear from before releasing records in event time.
    #[arg(long, default_value_t = 1)]
    pub expect_sensors: usize,
    /// Seconds of silence after which a sensor stops holding the merge back.
    #[arg(long, default_value_t = 10.0)]
    pub sensor_idle: f64,
    /// Append every emitted host row as a JSON line to FILE.
    #[arg(long, value_name = "FILE")]
    pub rows_out: Option<std::path::PathBuf>,
    /// Exit when every sensor sent its end-of-input batch.
    #[arg(long)]
    pub exit_on_end: bool,
    /// Scorer: rules, formula, *.wbm.json or *.onnx.
    #[arg(long, default_value = "rules")]
    pub model: String,
    /// Alert threshold (default: the scorer's own).
    #[arg(long, env = "THRESHOLD")]
    pub threshold: Option<f64>,
    /// Serve the seeds' HTTP APIs (/infer, /detect, /health, /metrics) on ADDR
    /// (e.g. 127.0.0.1:5000; port 0 picks one; `listening on ADDR` is printed).
    #[arg(long, value_name = "ADDR", env = "SERVE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Bearer token required on the POST endpoints.
    #[arg(long, env = "WORKBENCH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Alertmanager v2 alerts URL for /infer alerts (seed 000 ALERTMANAGER).
    #[arg(long, env = "ALERTMANAGER", value_name = "URL")]
    pub alertmanager: Option<String>,
    /// Prometheus base URL for GET /detect/prom.
    #[arg(long, env = "PROMETHEUS_URL", value_name = "URL")]
    pub prometheus: Option<String>,
    /// Largest accepted request body, bytes (larger: 413).
    #[arg(long, default_value_t = crate::stack::serve::BODY_LIMIT, value_name = "BYTES")]
    pub max_body: usize,
    /// Where the online unsupervised model (seed 003) is persisted.
    #[arg(
        long,
        default_value = "models/online",
        value_name = "DIR",
        env = "MODEL_DIR"
    )]
    pub model_dir: std::path::PathBuf,
    /// Retrain the online model every SECONDS on the last 1000 /detect samples (0: only
    /// on POST /train).
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub retrain_interval: f64,
    /// Scorer alerts: the same lifecycle flags as `workbench live`.
    #[command(flatten)]
    pub timing: AlertTimingArgs,
    #[command(flatten)]
    pub window: WindowArgs,
}

impl PublishArgs {
    /// The sensor run these arguments describe.
    pub fn config(&self) -> Result<PublishConfig> {
        let Some(url) = &self.bus.nats else {
            bail!("--nats URL (or NATS_URL) is required");
        };
        let speed: Speed = self
            .speed
            .parse()
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("--speed {:?}: use max or a positive factor", self.speed))?;
        Ok(PublishConfig {
            inputs: self.inputs.clone(),
            simulate: self.simulate.map(|s| self.sim.config(s)),
            url: url.clone(),
            subject: self.bus.subject.clone(),
            shards: self.bus.shards.max(1),
            sensor_id: self.sensor_id.clone(),
            speed,
            buffer_batches: self.buffer_batches,
            batch_records: self.batch_records.max(1),
        })
    }
}

impl ServeArgs {
    /// The scorer and API settings these arguments describe.
    pub fn config(&self) -> Result<ServeConfig> {
        if self.bus.nats.is_none() && self.listen.is_none() {
            bail!("nothing to serve: give --nats URL (scorer) and/or --listen ADDR (HTTP APIs)");
        }
        if self.scorer_index >= self.scorers.max(1) {
            bail!(
                "--scorer-index {} must be below --scorers {}",
                self.scorer_index,
                self.scorers
            );
        }
        let window = self.window.config();
        window.validate()?;
        Ok(ServeConfig {
            nats: self.bus.nats.clone(),
            subject: self.bus.subject.clone(),
            shards: self.bus.shards.max(1),
            scorers: self.scorers.max(1),
            scorer_index: self.scorer_index,
            expect_sensors: self.expect_sensors,
            sensor_idle: Duration::from_secs_f64(self.sensor_idle.max(0.1)),
            rows_out: self.rows_out.clone(),
            exit_on_end: self.exit_on_end,
            model: self.model.clone(),
            threshold: self.threshold,
            listen: self.listen,
            token: self.token.clone().filter(|t| !t.is_empty()),
            alertmanager: self.alertmanager.clone(),
            prometheus: self.prometheus.clone(),
            max_body: self.max_body,
            model_dir: self.model_dir.clone(),
            retrain_interval: Duration::from_secs_f64(if self.retrain_interval.is_finite() {
                self.retrain_interval.max(0.0)
            } else {
                0.0
            }),
            timings: self.timing.timings()?,
            window,
        })
    }
}
