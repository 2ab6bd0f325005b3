//! Opening inputs as packet sources: capture files, directories of them, and the
//! simulator. Every one ends as a [`PacketSource`] of [`PacketRecord`]s.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use capture::{decode_frame, CaptureError, LinkType, PacketRecord, PacketSource, SourceStats};

use crate::simulate::{SimConfig, Simulator};

/// File extensions taken from a directory.
const CAPTURE_EXTENSIONS: &[&str] = &["pcap", "pcapng", "cap", "dmp"];

/// Expands the command-line inputs: files are taken as given, directories are walked
/// (recursively, sorted by path) for capture files.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input)
            .with_context(|| format!("{}: no such file or directory", input.display()))?;
        if meta.is_dir() {
            let before = out.len();
            walk(input, &mut out)?;
            if out.len() == before {
                bail!(
                    "{}: no capture files (*.pcap, *.pcapng, *.cap, *.dmp) in this directory",
                    input.display()
                );
            }
        } else {
            out.push(input.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| CAPTURE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            out.push(p);
        }
    }
    Ok(())
}

/// The simulator as a packet source: its frames go through the same decoder as a
/// capture file's, so simulated and replayed packets take one path.
pub struct SimSource {
    sim: Simulator,
    stats: SourceStats,
}

impl SimSource {
    /// A source for this simulation.
    pub fn new(cfg: &SimConfig) -> Self {
        SimSource {
            sim: Simulator::new(cfg),
            stats: SourceStats::default(),
        }
    }

    /// The simulator (for its episodes).
    pub fn simulator(&self) -> &Simulator {
        &self.sim
    }
}

impl PacketSource for SimSource {
    fn next_packet(&mut self) -> Result<Option<PacketRecord>, CaptureError> {
        for frame in self.sim.by_ref() {
            self.stats.bytes += frame.frame.len() as u64;
            let len = frame.frame.len() as u32;
            let decoded = decode_frame(LinkType::Ethernet, frame.ts_ns, len, &frame.frame);
            if let Some(rec) = self.stats.count_frame(decoded) {
                return Ok(Some(rec));
            }
        }
        Ok(None)
    }

    fn stats(&self) -> &SourceStats {
        &self.stats
    }
}

/// Replay pacing: `1x`, `10x`, any `Nx` (or plain `N`), or `max` (as fast as possible).
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
