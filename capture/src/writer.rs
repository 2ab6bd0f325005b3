//! A minimal classic-pcap writer (nanosecond magic) for the simulator and `--record`.

use std::io::{self, Write};

use crate::link::LinkType;

/// Writes frames to a classic pcap stream with nanosecond timestamps
/// (magic `0xa1b23c4d`, little-endian), the format tcpdump writes with
/// `--time-stamp-precision=nano`.
pub struct PcapWriter<W: Write> {
    out: W,
    snaplen: u32,
    frames: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header and returns the writer.
    pub fn new(mut out: W, link: LinkType, snaplen: u32) -> io::Result<Self> {
        let mut hdr = [0u8; 24];
        hdr[0..4].copy_from_slice(&0xa1b2_3c4du32.to_le_bytes());
        hdr[4..6].copy_from_slice(&2u16.to_le_bytes());
        hdr[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone and sigfigs stay 0.
        hdr[16..20].copy_from_slice(&snaplen.to_le_bytes());
        hdr[20..24].copy_from_slice(&link.number().to_le_bytes());
        out.write_all(&hdr)?;
        Ok(PcapWriter {
            out,
            snaplen,
            frames: 0,
        })
    }

    /// Appends one frame. `wire_len` is the original length; the frame is cut to the
    /// snap length if longer.
    pub fn write_frame(&mut self, ts_ns: u64, frame: &[u8], wire_len: u32) -> io::Result<()> {
        let cap = frame.len().min(self.snaplen as usize);
        let mut rec = [0u8; 16];
        let secs = ts_ns / 1_000_000_000;
        let nanos = ts_ns % 1_000_000_000;
        let secs = u32::try_from(secs)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "timestamp beyond 2106"))?;
        rec[0..4].copy_from_slice(&secs.to_le_bytes());
        rec[4..8].copy_from_slice(&(nanos as u32).to_le_bytes());
        rec[8..12].copy_from_slice(&(cap as u32).to_le_bytes());
        rec[12..16].copy_from_slice(&wire_len.max(cap as u32).to_le_bytes());
        self.out.write_all(&rec)?;
        self.out.write_all(&frame[..cap])?;
        self.frames += 1;
        Ok(())
    }

    /// Number of frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}
