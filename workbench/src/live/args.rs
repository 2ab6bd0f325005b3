//! Command-line arguments of `live`, `replay` and `demo`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, ValueEnum};

use crate::cli::{SimArgs, WindowArgs};
use crate::simulate::Scenario;

/// The seed's Alertmanager address (seed 000's compose network).
pub const SEED_ALERTMANAGER: &str = "http://alertmanager:9093/api/v2/alerts";

/// `--backend`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// XDP driver mode → XDP generic (SKB) mode → AF_PACKET.
    Auto,
    /// XDP, driver mode first, then generic.
    Xdp,
    /// XDP in driver mode only.
    XdpDriver,
    /// XDP in generic (SKB) mode only.
    XdpSkb,
    /// AF_PACKET raw socket only.
    Afpacket,
}

/// Replay pacing: `1x`, `10x`, any `Nx`, or `max` (as fast as possible).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    /// Event time runs `factor` times faster than wall time.
    Factor(f64),
    /// No pacing.
    Max,
}

impl FromStr for Speed {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        if t == "max" {
            return Ok(Speed::Max);
        }
        let num = t.strip_suffix('x').unwrap_or(&t);
        match num.parse::<f64>() {
            Ok(f) if f.is_finite() && f > 0.0 => Ok(Speed::Factor(f)),
            _ => Err(format!("speed {s:?}: use 1x, 10x, any positive Nx, or max")),
        }
    }
}

/// The alert lifecycle's timings, shared by `live`/`replay`/`demo` and `serve`'s scorer.
#[derive(Clone, Debug, Args)]
pub struct AlertTimingArgs {
    /// Re-send firing (and recently resolved) alerts this often, seconds.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub resend_interval: f64,
    /// Resolve an alert when its host has had no window at or above the threshold for
    /// this long, seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub resolve_after: f64,
    /// Keep re-sending resolved alerts for this long, seconds.
    #[arg(long, default_value_t = 300.0, value_name = "SECONDS")]
    pub resolved_keep: f64,
    /// On shutdown, wait at most this long to deliver the last (resolved) alerts.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub shutdown_grace: f64,
}

/// [`AlertTimingArgs`] checked: (resend interval, resolve after, resolved keep, grace).
pub(crate) type AlertTimings = (
    std::time::Duration,
    std::time::Duration,
    std::time::Duration,
    std::time::Duration,
);

impl AlertTimingArgs {
    /// The timings as durations; an error names a negative or non-finite flag.
    pub(crate) fn durations(&self) -> anyhow::Result<AlertTimings> {
        let secs = super::flag_secs;
        Ok((
            secs("resend-interval", self.resend_interval)?,
            secs("resolve-after", self.resolve_after)?,
            secs("resolved-keep", self.resolved_keep)?,
            secs("shutdown-grace", self.shutdown_grace)?,
        ))
    }
}

/// Scoring, alerting and endpoint options shared by `live`, `replay` and `demo`.
#[derive(Clone, Debug, Args)]
pub struct AlertArgs {
    /// Scorer: `default` (the shipped model), `rules`, `formula`, a model file
    /// (`*.wbm.json`) or an ONNX model (`*.onnx`).
    #[arg(short, long, default_value = "default", value_name = "MODEL")]
    pub model: String,
    /// Alert threshold [default: the model's own; formula 0.7, rules 0.5].
    #[arg(long, env = "THRESHOLD", value_name = "SCORE")]
    pub threshold: Option<f64>,
    /// Alertmanager v2 alerts URL [live default: http://alertmanager:9093/api/v2/alerts
    /// unless --notify-console is given].
    #[arg(long, env = "ALERTMANAGER", value_name = "URL")]
    pub alertmanager: Option<String>,
    /// Print alerts on the console (seed 000's notifier), with or without Alertmanager.
    #[arg(long)]
    pub notify_console: bool,
    /// Address of the HTTP endpoints (/health /ready /stats /metrics); port 0 picks one.
    #[arg(long, default_value = "127.0.0.1:9100", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// `instance` label of the alerts [default: the --listen address].
    #[arg(long, value_name = "NAME")]
    pub instance: Option<String>,
    #[command(flatten)]
    pub timing: AlertTimingArgs,
    /// Most alerts queued while Alertmanager is unreachable.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub alert_queue: usize,
    /// Longest delay between delivery retries, seconds (back-off starts at 0.1 s).
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub max_backoff: f64,
    /// Do not resolve firing alerts on shutdown (a restarted instance carries on).
    #[arg(long)]
    pub keep_firing_on_exit: bool,
    /// Write every feature row computed live to this table (.csv or .parquet; same
    /// format as `workbench features`), for checking live == offline.
    #[arg(long, value_name = "FILE", hide = true)]
    pub rows_out: Option<PathBuf>,
    /// Write a JSON summary of the run (counters, alerts, delays) to this file.
    #[arg(long, value_name = "FILE")]
    pub summary_out: Option<PathBuf>,
    /// Also be a sensor: publish every packet record to this NATS JetStream server
    /// (`nats://HOST:4222`), for `workbench serve --nats` scorers.
    #[arg(long, env = "NATS_URL", value_name = "URL")]
    pub publish: Option<String>,
    /// Subject prefix of the published records (shards are `<subject>.<n>`).
    #[arg(long, default_value = crate::stack::nats::DEFAULT_SUBJECT, requires = "publish")]
    pub subject: String,
    /// Sensor id (unique per sensor; dedup ids and watermarks carry it)
    /// [default: the host name].
    #[arg(
        long,
        env = "WORKBENCH_SENSOR_ID",
        value_name = "ID",
        requires = "publish"
    )]
    pub sensor_id: Option<String>,
    /// Number of shards (every sensor and scorer must agree).
    #[arg(
        long,
        default_value_t = 16,
        env = "WORKBENCH_SHARDS",
        requires = "publish"
    )]
    pub shards: u16,
}

/// `workbench live` options.
#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Network interface to capture from (needs CAP_BPF+CAP_NET_ADMIN for XDP, or
    /// CAP_NET_RAW for AF_PACKET).
    #[arg(long, value_name = "IFACE", required_unless_present = "simulate")]
    pub iface: Option<String>,
    /// Capture backend.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    pub backend: BackendArg,
    /// Bytes of each frame copied from the kernel (headers only).
    #[arg(long, default_value_t = 128, value_name = "BYTES")]
    pub snaplen: u32,
    /// Leave the interface out of promiscuous mode. By default the capture makes it
    /// promiscuous (like tcpdump), so a sensor on a SPAN/mirror port or a bridge sees
    /// every host's traffic, not only frames addressed to this machine.
    #[arg(long)]
    pub no_promisc: bool,
    /// No capture: the simulator feeds the same pipeline in real time (seed 003's
    /// simulation mode; works without privileges). --seconds, --seed, --intensity apply.
    #[arg(long, value_name = "SCENARIO", conflicts_with = "iface")]
    pub simulate: Option<Scenario>,
    #[command(flatten)]
    pub sim: SimArgs,
    /// Also write the captured frames to this pcap (ns timestamps, snaplen bytes).
    #[arg(long, value_name = "FILE", requires = "iface")]
    pub record: Option<PathBuf>,
    /// Stop after this many seconds (default: until Ctrl-C / SIGTERM, or the end of
    /// the simulation).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    #[command(flatten)]
    pub alert: AlertArgs,
    #[command(flatten)]
    pub window: WindowArgs,
}

/// `workbench replay` options.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Capture files (pcap/pcapng) or directories of them, replayed in order.
    #[arg(value_name = "PCAP|DIR", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Pacing: 1x (real time), 10x, any Nx, or max.
    #[arg(long, default_value = "1x", value_name = "SPEED")]
    pub speed: Speed,
    /// Stop after this many seconds of wall time.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    #[command(flatten)]
    pub alert: AlertArgs,
    #[command(flatten)]
    pub window: WindowArgs,
}

/// `workbench demo` options.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seconds of simulated traffic (the scan starts 8-20% into it).
    #[arg(long, default_value_t = 12.0, value_name = "SECONDS")]
    pub seconds: f64,
    /// Simulation seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Where report.json goes (the simulated capture is temporary).
    #[arg(long, default_value = "reports/demo", value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub alert: AlertArgs,
    #[command(flatten)]
    pub window: WindowArgs,
}
