//! Sources → the window engine → a row sink. [`Driver`] is the only code that builds
//! and drives the engine; [`run`] feeds it a list of inputs (capture files, the
//! simulator, feature tables) as fast as they read, with counters for everything that
//! was read, skipped or failed. `features`, `eval`, `compare` and `train` run it; the
//! live, replay and NATS paths feed the same [`Driver`] from their threads.

pub mod driver;
pub mod sources;

use std::time::Instant;

use capture::{CaptureFile, PacketSource, SourceStats};
use serde::Serialize;

use crate::engine::{EngineStats, RowSink};
use crate::progress::Progress;

pub use driver::{starts_new_timeline, Driver};
pub use sources::{expand_inputs, SimSource, Speed};

/// How one input went.
#[derive(Clone, Debug, Serialize)]
pub struct InputOutcome {
    /// File path or simulator description.
    pub name: String,
    /// Packets delivered to the engine.
    pub packets: u64,
    /// Frames skipped, by reason (non-zero only).
    pub skipped: Vec<(String, u64)>,
    /// Decoded packets whose transport header was cut.
    pub transport_truncated: u64,
    /// The error that stopped the input, if any (packets before it were used).
    pub error: Option<String>,
    /// Rows read from a feature table input (tables carry rows, not packets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_rows: Option<u64>,
}

/// Overall result of one run of the pipeline.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    /// Per input, in order.
    pub inputs: Vec<InputOutcome>,
    /// Sum of every input's counters.
    #[serde(skip)]
    pub source_totals: SourceStats,
    /// Packets delivered to the engine.
    pub packets: u64,
    /// Frames skipped by the decoders.
    pub skipped: u64,
    /// Engine counters.
    pub engine: EngineStats,
    /// Wall time, seconds.
    pub elapsed_s: f64,
    /// Independent timelines (the engine restarts when time goes backwards between
    /// files).
    pub timelines: u64,
}

impl RunSummary {
    /// What was read, for a headline: `N packets`, plus `M table rows` when feature
    /// tables were inputs.
    pub fn input_text(&self) -> String {
        let rows: u64 = self.inputs.iter().filter_map(|i| i.table_rows).sum();
        let tables = self
            .inputs
            .iter()
            .filter(|i| i.table_rows.is_some())
            .count();
        match (tables, self.packets) {
            (0, p) => format!("{p} packets"),
            (t, 0) => format!("{rows} rows from {t} feature table(s)"),
            (t, p) => format!("{p} packets and {rows} rows from {t} feature table(s)"),
        }
    }

    /// Why a run gave no rows, for error messages: the inputs' own errors when they
    /// failed, else that no packets were read.
    pub fn why_no_rows(&self) -> String {
        let failed: Vec<String> = self
            .inputs
            .iter()
            .filter_map(|i| i.error.as_ref().map(|e| format!("{}: {e}", i.name)))
            .collect();
        if failed.is_empty() {
            "no packets were read".to_string()
        } else {
            failed.join("; ")
        }
    }

    /// Inputs that failed (fully or partly).
    pub fn failed_inputs(&self) -> usize {
        self.inputs.iter().filter(|i| i.error.is_some()).count()
    }
}

/// One input of a run: either a path to open, or a source already open.
pub enum Input {
    /// A capture file, opened when its turn comes.
    File(std::path::PathBuf),
    /// Any other source, with a display name.
    Source(String, Box<dyn PacketSource>),
    /// A feature table written by `workbench features`: its rows go to the sink as
    /// they are (checked against the engine's schema), as a timeline of their own.
    Table(std::path::PathBuf),
}

/// Total bytes of the file inputs (for a progress bar).
pub fn total_bytes(inputs: &[Input]) -> u64 {
    inputs
        .iter()
        .map(|i| match i {
            Input::File(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            Input::Source(..) => 0,
            Input::Table(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

/// Runs every input through `driver` into `sink`, then flushes the engine.
///
/// A file that cannot be opened or breaks midway is recorded in its
/// [`InputOutcome`]; the run goes on with the next one. Each input starts a new
/// timeline or continues the current one by the driver's rule
/// ([`starts_new_timeline`]); a feature table is always a timeline of its own.
pub fn run(
    inputs: Vec<Input>,
    driver: &mut Driver,
    sink: &mut dyn RowSink,
    progress: &Progress,
) -> RunSummary {
    let started = Instant::now();
    let mut outcomes = Vec::new();
    let mut totals = SourceStats::default();
    let mut bytes_before = 0u64;
    let mut packets = 0u64;
    for input in inputs {
        let captured = !matches!(input, Input::Source(..));
        let (name, mut source): (String, Box<dyn PacketSource>) = match input {
            Input::Table(path) => {
                driver.begin_table(sink);
                let (width_s, schema) = (driver.config().widths_s[0], driver.schema().clone());
                let fed = crate::table::feed_table(&path, &schema, width_s, sink);
                let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                bytes_before += size;
                progress.update(bytes_before, packets);
                outcomes.push(InputOutcome {
                    name: path.display().to_string(),
                    packets: 0,
                    skipped: Vec::new(),
                    transport_truncated: 0,
                    table_rows: Some(fed.as_ref().map_or(0, |f| f.rows)),
                    error: fed.err().map(|e| format!("{e:#}")),
                });
                continue;
            }
            Input::File(path) => {
                let name = path.display().to_string();
                match CaptureFile::open(&path) {
                    Ok(f) => (name, Box::new(f)),
                    Err(e) => {
                        outcomes.push(InputOutcome {
                            name,
                            packets: 0,
                            skipped: Vec::new(),
                            transport_truncated: 0,
                            error: Some(e.to_string()),
                            table_rows: None,
                        });
                        continue;
                    }
                }
            }
            Input::Source(name, s) => (name, s),
        };
        driver.begin_input(captured);
        let mut delivered = 0u64;
        let error = loop {
            match source.next_packet() {
                Ok(Some(pkt)) => {
                    driver.push(&pkt, sink);
                    delivered += 1;
                    if delivered & 0xffff == 0 {
                        progress.update(bytes_before + source.stats().bytes, packets + delivered);
                    }
                }
                Ok(None) => break None,
                Err(e) => break Some(e.to_string()),
            }
        };
        packets += delivered;
        let stats = source.stats().clone();
        bytes_before += stats.bytes;
        progress.update(bytes_before, packets);
        totals.merge(&stats);
        outcomes.push(InputOutcome {
            name,
            packets: delivered,
            skipped: stats
                .skip_breakdown()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            transport_truncated: stats.transport_truncated,
            error,
            table_rows: None,
        });
    }
    driver.finish(sink);
    RunSummary {
        inputs: outcomes,
        packets,
        skipped: totals.skipped_total(),
        source_totals: totals,
        engine: driver.stats().clone(),
        elapsed_s: started.elapsed().as_secs_f64(),
        timelines: driver.timelines(),
    }
}
