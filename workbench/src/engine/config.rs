//! Window settings, validated once and shared by every subcommand.

use serde::{Deserialize, Serialize};

/// Why a window configuration was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("window hop must be a positive number of seconds, got {0}")]
    BadHop(f64),
    #[error("window width {0} s must be positive and a whole multiple of the hop ({1} s)")]
    NotMultiple(f64, f64),
    #[error("at least one window width is needed")]
    NoWidths,
    #[error("window width {0} s is listed twice")]
    Duplicate(f64),
    #[error("the longest window spans {0} hops; at most {1} are supported (raise --hop)")]
    TooManyHops(u64, u64),
    #[error("--max-hosts must be at least 1")]
    NoHosts,
}

/// Most hops one window may span: bounds per-host memory (one bucket per hop).
pub const MAX_HOPS_PER_WINDOW: u64 = 600;

/// How packets are cut into windows and how much state the engine may hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowConfig {
    /// Window widths in seconds, first = primary (rows are emitted for entities active
    /// in the primary window).
    pub widths_s: Vec<f64>,
    /// Hop between window ends, seconds.
    pub hop_s: f64,
    /// Most hosts tracked at once; packets of further hosts still count in the global
    /// row and at their tracked peer, and are counted as untracked.
    pub max_hosts: usize,
    /// Most distinct keys remembered per host and tracker (ports, peers).
    pub max_keys_per_host: usize,
}

impl Default for WindowConfig {
    /// The seeds' defaults: a 2 s window every 0.5 s.
    fn default() -> Self {
        WindowConfig {
            widths_s: vec![2.0],
            hop_s: 0.5,
            max_hosts: 32_768,
            max_keys_per_host: 16_384,
        }
    }
}

/// [`WindowConfig`] converted to integer nanoseconds and hop counts.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub hop_ns: u64,
    /// Width of each window in hops, in configuration order.
    pub width_hops: Vec<u64>,
    /// Ring length: the longest width in hops.
    pub n_buckets: u64,
}

impl WindowConfig {
    /// Checks the configuration and converts it to hops.
    pub fn resolve(&self) -> Result<Resolved, ConfigError> {
        if !(self.hop_s > 0.0 && self.hop_s.is_finite()) {
            return Err(ConfigError::BadHop(self.hop_s));
        }
        if self.widths_s.is_empty() {
            return Err(ConfigError::NoWidths);
        }
        if self.max_hosts == 0 {
            return Err(ConfigError::NoHosts);
        }
        let hop_ns = (self.hop_s * 1e9).round() as u64;
        if hop_ns == 0 {
            return Err(ConfigError::BadHop(self.hop_s));
        }
        let mut width_hops = Vec::new();
        for &w in &self.widths_s {
            let ratio = w / self.hop_s;
            if !(w > 0.0 && w.is_finite()) || (ratio - ratio.round()).abs() > 1e-6 || ratio < 0.5 {
                return Err(ConfigError::NotMultiple(w, self.hop_s));
            }
            let m = ratio.round() as u64;
            if width_hops.contains(&m) {
                return Err(ConfigError::Duplicate(w));
            }
            width_hops.push(m);
        }
        let n_buckets = width_hops.iter().copied().max().unwrap_or(1);
        if n_buckets > MAX_HOPS_PER_WINDOW {
            return Err(ConfigError::TooManyHops(n_buckets, MAX_HOPS_PER_WINDOW));
        }
        Ok(Resolved {
            hop_ns,
            width_hops,
            n_buckets,
        })
    }

    /// Validates without keeping the result.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.resolve().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve_to_four_hops() {
        let r = WindowConfig::default().resolve().unwrap();
        assert_eq!((r.hop_ns, r.n_buckets), (500_000_000, 4));
    }

    #[test]
    fn bad_settings_are_refused_with_reasons() {
        let mut c = WindowConfig::default();
        c.widths_s = vec![0.7];
        assert_eq!(c.validate(), Err(ConfigError::NotMultiple(0.7, 0.5)));
        c.widths_s = vec![2.0, 2.0];
        assert_eq!(c.validate(), Err(ConfigError::Duplicate(2.0)));
        c.widths_s = vec![];
        assert_eq!(c.validate(), Err(ConfigError::NoWidths));
        c.widths_s = vec![2.0];
        c.hop_s = 0.0;
        assert_eq!(c.validate(), Err(ConfigError::BadHop(0.0)));
        c.hop_s = 0.001;
        c.widths_s = vec![10.0];
        assert!(matches!(c.validate(), Err(ConfigError::TooManyHops(..))));
    }
}
