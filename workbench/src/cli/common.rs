//! Option groups shared by several subcommands, defined once and flattened into each.

use clap::Args;

use crate::engine::WindowConfig;
use crate::simulate::{Scenario, SimConfig};

/// Window settings (shared by every subcommand that computes features).
#[derive(Clone, Debug, Args)]
pub struct WindowArgs {
    /// Window widths in seconds, comma-separated; several give multi-scale features
    /// (names suffixed with the width). The first is the primary window.
    #[arg(
        short = 'w',
        long = "window",
        value_delimiter = ',',
        default_value = "2",
        value_name = "SECONDS"
    )]
    pub widths: Vec<f64>,
    /// Seconds between window ends (each width must be a multiple of it).
    #[arg(long, default_value_t = 0.5, value_name = "SECONDS")]
    pub hop: f64,
    /// Most hosts tracked at once; under a spoofed-source flood further hosts are
    /// counted (untracked) instead of growing memory.
    #[arg(long, default_value_t = 32_768, value_name = "N")]
    pub max_hosts: usize,
    /// Most distinct ports/peers remembered per host and counter.
    #[arg(
        long,
        default_value_t = 16_384,
        value_name = "N",
        hide_short_help = true
    )]
    pub max_keys_per_host: usize,
}

impl WindowArgs {
    /// The engine configuration these arguments describe.
    pub fn config(&self) -> WindowConfig {
        WindowConfig {
            widths_s: self.widths.clone(),
            hop_s: self.hop,
            max_hosts: self.max_hosts,
            max_keys_per_host: self.max_keys_per_host,
        }
    }
}

/// Simulation settings (shared by `simulate` and `features --simulate`).
#[derive(Clone, Debug, Args)]
pub struct SimArgs {
    /// Seconds of traffic to generate.
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    pub seconds: f64,
    /// Random seed: the same seed gives byte-identical output.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Multiplier for attack packet rates (floods at 10 reach ~200k packets/s).
    #[arg(long, default_value_t = 1.0)]
    pub intensity: f64,
}

impl SimArgs {
    /// The simulator configuration for a scenario.
    pub fn config(&self, scenario: Scenario) -> SimConfig {
        SimConfig {
            scenario,
            seconds: self.seconds,
            seed: self.seed,
            intensity: self.intensity,
            ..SimConfig::default()
        }
    }
}
