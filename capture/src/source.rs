//! The seam between packet sources and the engine.

use crate::error::CaptureError;
use crate::record::PacketRecord;
use crate::stats::SourceStats;

/// Anything that yields [`PacketRecord`]s: capture files, XDP, AF_PACKET, the simulator.
///
/// The engine is written against this trait only, which is what makes the live path and
/// the replay path one path.
pub trait PacketSource {
    /// The next decoded packet, `Ok(None)` at the end. Frames that do not decode are
    /// counted in [`PacketSource::stats`] and skipped, never returned as errors; an
    /// `Err` means the source cannot go on (every packet before it was delivered).
    fn next_packet(&mut self) -> Result<Option<PacketRecord>, CaptureError>;

    /// Counters so far.
    fn stats(&self) -> &SourceStats;
}
