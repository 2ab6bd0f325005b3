//! What a live run, a replay or the demo needs: plain settings the command line
//! converts to (`cli::live`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::alert::AlertTimings;
use crate::engine::WindowConfig;
use crate::pipeline::Speed;
use crate::simulate::SimConfig;

/// Scoring, alerting and endpoint settings shared by `live`, `replay` and `demo`.
#[derive(Clone, Debug)]
pub struct AlertSettings {
    /// `default`, `rules`, `formula`, a model file or an ONNX model.
    pub model: String,
    /// Alert threshold (None: the model's own).
    pub threshold: Option<f64>,
    /// Alertmanager v2 alerts URL (None: no Alertmanager).
    pub alertmanager: Option<String>,
    /// Print alerts on the console.
    pub notify_console: bool,
    /// Address of /health /ready /stats /metrics.
    pub listen: SocketAddr,
    /// The alerts' `instance` label (None: the bound address).
    pub instance: Option<String>,
    pub timings: AlertTimings,
    /// Most alerts queued while Alertmanager is unreachable.
    pub alert_queue: usize,
    /// Longest delay between delivery retries.
    pub max_backoff: Duration,
    /// Leave firing alerts firing at exit.
    pub keep_firing_on_exit: bool,
    /// Every feature row computed live, as a table (live == offline checks).
    pub rows_out: Option<PathBuf>,
    /// A JSON summary of the run.
    pub summary_out: Option<PathBuf>,
    /// Also be a sensor publishing packet records to NATS.
    pub publish: Option<SensorSettings>,
}

/// `--publish`: where a live run's records go for NATS scorers.
#[derive(Clone, Debug)]
pub struct SensorSettings {
    pub url: String,
    pub subject: String,
    /// None: the host name.
    pub sensor_id: Option<String>,
    pub shards: u16,
}

/// What `workbench live` reads.
#[derive(Clone, Debug)]
pub enum LiveInput {
    /// A network interface (and optionally a pcap of what was scored).
    Interface {
        options: capture::live::LiveOptions,
        record: Option<PathBuf>,
    },
    /// The simulator, paced in real time.
    Simulation(SimConfig),
}

/// `workbench live`.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    pub input: LiveInput,
    /// Stop after this long (None: at the end of the input or on a signal).
    pub duration: Option<Duration>,
    pub alert: AlertSettings,
    pub window: WindowConfig,
}

/// `workbench replay`.
#[derive(Clone, Debug)]
pub struct ReplayConfig {
    /// Capture files or directories of them, in order.
    pub inputs: Vec<PathBuf>,
    pub speed: Speed,
    pub duration: Option<Duration>,
    pub alert: AlertSettings,
    pub window: WindowConfig,
}

/// `workbench demo`.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    /// Seconds of simulated traffic.
    pub seconds: f64,
    pub seed: u64,
    /// Where report.json goes.
    pub out: PathBuf,
    pub alert: AlertSettings,
    pub window: WindowConfig,
}
