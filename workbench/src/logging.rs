//! Structured logging (`tracing`). Long-running commands (live, replay, serve, notify)
//! log events with fields — `src`, `threat_type`, `score`, … — so that `--log-format json`
//! gives a log shipper (Promtail/Loki) one JSON object per line and no regexes to write.
//! Batch commands keep printing their results on stdout; logs go to stderr only.

use tracing_subscriber::EnvFilter;

/// How log events are written to stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// For people.
    #[default]
    Text,
    /// One JSON object per line with level, target and fields (Promtail/Loki).
    Json,
}

/// What the logger writes.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// Warnings and errors only.
    pub quiet: bool,
    /// Debug level when > 0.
    pub verbose: u8,
}

/// Installs the global subscriber. Level: RUST_LOG if set, else `warn` with `--quiet`,
/// `debug` with `-v`, `info` otherwise. Calling it twice is harmless (the second is ignored).
pub fn init(s: &LogSettings) {
    let default_level = if s.quiet {
        "warn"
    } else if s.verbose > 0 {
        "debug"
    } else {
        "info"
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match s.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder.with_target(false).try_init(),
    };
}
