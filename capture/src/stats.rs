//! Counters every packet source keeps: what was read, decoded and skipped, and why.

use crate::decode::{DecodeNotes, SkipReason};
use crate::record::PacketRecord;

/// Per-source counters. Skips are counted per [`SkipReason`] so a report can say
/// exactly what was left out; nothing is dropped silently.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Frames read from the source (decoded or not).
    pub frames: u64,
    /// Frames that became a [`crate::PacketRecord`].
    pub decoded: u64,
    /// Skipped frames by reason, indexed like [`SkipReason::ALL`].
    pub skipped: [u64; SkipReason::ALL.len()],
    /// Decoded packets whose transport header was cut (ports/flags unknown).
    pub transport_truncated: u64,
    /// Decoded packets that were IP fragments.
    pub fragments: u64,
    /// Bytes of input consumed (file offset for files).
    pub bytes: u64,
}

impl SourceStats {
    /// Counts one frame's decoding outcome and passes the record on: every source
    /// counts frames the same way.
    #[inline]
    pub fn count_frame(
        &mut self,
        decoded: Result<(PacketRecord, DecodeNotes), SkipReason>,
    ) -> Option<PacketRecord> {
        self.frames += 1;
        match decoded {
            Ok((rec, notes)) => {
                self.decoded += 1;
                self.transport_truncated += notes.transport_truncated as u64;
                self.fragments += rec.fragment as u64;
                Some(rec)
            }
            Err(reason) => {
                self.skip(reason);
                None
            }
        }
    }

    /// Counts one skipped frame.
    pub fn skip(&mut self, reason: SkipReason) {
        self.skipped[reason as usize] += 1;
    }

    /// Skipped frames for one reason.
    pub fn skipped(&self, reason: SkipReason) -> u64 {
        self.skipped[reason as usize]
    }

    /// All skipped frames.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.iter().sum()
    }

    /// Adds another source's counters (for a directory of files).
    pub fn merge(&mut self, other: &SourceStats) {
        self.frames += other.frames;
        self.decoded += other.decoded;
        for (a, b) in self.skipped.iter_mut().zip(other.skipped.iter()) {
            *a += b;
        }
        self.transport_truncated += other.transport_truncated;
        self.fragments += other.fragments;
        self.bytes += other.bytes;
    }

    /// Non-zero skip counters as (name, count), in a stable order.
    pub fn skip_breakdown(&self) -> Vec<(&'static str, u64)> {
        SkipReason::ALL
            .iter()
            .map(|r| (r.name(), self.skipped(*r)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}
