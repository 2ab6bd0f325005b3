//! Arguments of `live`, `replay` and `demo`, and their conversion to the live
//! pipeline's configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};

use super::common::{SimArgs, WindowArgs};
use crate::alert::AlertTimings;
use crate::live::{AlertSettings, DemoConfig, LiveConfig, LiveInput, ReplayConfig, SensorSettings};
use crate::pipeline::Speed;
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

impl AlertTimingArgs {
    /// The timings as durations; an error names a negative or non-finite flag.
    pub fn timings(&self) -> Result<AlertTimings> {
        Ok(AlertTimings {
            resend_interval: flag_secs("resend-interval", self.resend_interval)?,
            resolve_after: flag_secs("resolve-after", self.resolve_after)?,
            resolved_keep: flag_secs("resolved-keep", self.resolved_keep)?,
            shutdown_grace: flag_secs("shutdown-grace", self.shutdown_grace)?,
        })
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

/// A command-line duration in seconds (`--name`): finite and not negative.
pub(crate) fn flag_secs(name: &str, v: f64) -> Result<Duration> {
    if v.is_finite() && v >= 0.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        bail!("--{name} must be a non-negative number of seconds, got {v}")
    }
}

/// `--duration`: a positive number of seconds, if given.
fn run_duration(d: Option<f64>) -> Result<Option<Duration>> {
    d.map(|d| {
        if d.is_finite() && d > 0.0 {
            Ok(Duration::from_secs_f64(d))
        } else {
            bail!("--duration must be a positive number of seconds, got {d}")
        }
    })
    .transpose()
}

impl BackendArg {
    /// The capture crate's backend choice.
    pub fn choice(self) -> capture::live::BackendChoice {
        use capture::live::BackendChoice;
        match self {
            BackendArg::Auto => BackendChoice::Auto,
            BackendArg::Xdp => BackendChoice::Xdp,
            BackendArg::XdpDriver => BackendChoice::XdpDriver,
            BackendArg::XdpSkb => BackendChoice::XdpSkb,
            BackendArg::Afpacket => BackendChoice::AfPacket,
        }
    }
}

impl AlertArgs {
    /// The scoring and alerting settings; `alertmanager` is the URL after the
    /// command's own default was applied.
    pub fn settings(&self, alertmanager: Option<String>) -> Result<AlertSettings> {
        if self.publish.is_some() && self.shards == 0 {
            bail!("--shards must be at least 1");
        }
        Ok(AlertSettings {
            model: self.model.clone(),
            threshold: self.threshold,
            alertmanager,
            notify_console: self.notify_console,
            listen: self.listen,
            instance: self.instance.clone(),
            timings: self.timing.timings()?,
            alert_queue: self.alert_queue,
            max_backoff: flag_secs("max-backoff", self.max_backoff)?,
            keep_firing_on_exit: self.keep_firing_on_exit,
            rows_out: self.rows_out.clone(),
            summary_out: self.summary_out.clone(),
            publish: self.publish.as_ref().map(|url| SensorSettings {
                url: url.clone(),
                subject: self.subject.clone(),
                sensor_id: self.sensor_id.clone(),
                shards: self.shards,
            }),
        })
    }
}

impl LiveArgs {
    /// The live run these arguments describe. Without `--alertmanager`, alerts go to
    /// the seed's Alertmanager unless `--notify-console` asks for the console only.
    pub fn config(&self) -> Result<LiveConfig> {
        let alertmanager = self
            .alert
            .alertmanager
            .clone()
            .or_else(|| (!self.alert.notify_console).then(|| SEED_ALERTMANAGER.to_string()));
        let input = match (&self.simulate, &self.iface) {
            (Some(scenario), _) => LiveInput::Simulation(self.sim.config(*scenario)),
            (None, Some(iface)) => LiveInput::Interface {
                options: capture::live::LiveOptions {
                    iface: iface.clone(),
                    backend: self.backend.choice(),
                    snaplen: self.snaplen,
                    promiscuous: !self.no_promisc,
                },
                record: self.record.clone(),
            },
            (None, None) => bail!("give --iface IFACE or --simulate SCENARIO"),
        };
        Ok(LiveConfig {
            input,
            duration: run_duration(self.duration)?,
            alert: self.alert.settings(alertmanager)?,
            window: self.window.config(),
        })
    }
}

impl ReplayArgs {
    /// The replay these arguments describe.
    pub fn config(&self) -> Result<ReplayConfig> {
        Ok(ReplayConfig {
            inputs: self.inputs.clone(),
            speed: self.speed,
            duration: run_duration(self.duration)?,
            alert: self.alert.settings(self.alert.alertmanager.clone())?,
            window: self.window.config(),
        })
    }
}

impl DemoArgs {
    /// The demo these arguments describe.
    pub fn config(&self) -> Result<DemoConfig> {
        Ok(DemoConfig {
            seconds: self.seconds,
            seed: self.seed,
            out: self.out.clone(),
            alert: self.alert.settings(self.alert.alertmanager.clone())?,
            window: self.window.config(),
        })
    }
}
