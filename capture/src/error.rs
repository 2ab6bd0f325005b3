//! Errors a packet source reports. Every variant names the file and, where it applies,
//! the byte offset, so a user can look at the exact spot with a hex editor.

use std::path::PathBuf;

/// A failure that stops reading a capture. Packets read before it stay valid: a
/// source yields every complete packet first, then this error.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or its first bytes read.
    #[error("{}: cannot open: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("{}: empty file, not a capture", path.display())]
    Empty { path: PathBuf },
    /// The first bytes are neither a pcap nor a pcapng magic.
    #[error("{}: not a pcap or pcapng file (starts with {magic})", path.display())]
    NotACapture { path: PathBuf, magic: String },
    /// The capture's link type cannot be decoded.
    #[error(
        "{}: link type {link} is not supported (supported: Ethernet/802.1Q/QinQ, Linux cooked SLL and SLL2, raw IPv4/IPv6, BSD null/loop)",
        path.display()
    )]
    UnsupportedLink { path: PathBuf, link: u32 },
    /// The file ends inside a record.
    #[error(
        "{}: truncated at byte offset {offset}: the record starting there is incomplete ({packets} complete packets were read before it)",
        path.display()
    )]
    Truncated {
        path: PathBuf,
        offset: u64,
        packets: u64,
    },
    /// A record header is inconsistent (impossible length, bad block structure).
    #[error("{}: corrupt record at byte offset {offset}: {detail} ({packets} complete packets were read before it)", path.display())]
    Corrupt {
        path: PathBuf,
        offset: u64,
        detail: String,
        packets: u64,
    },
    /// The operating system failed a read.
    #[error("{}: read error near byte offset {offset}", path.display())]
    Read { path: PathBuf, offset: u64 },
}

impl CaptureError {
    /// True when packets before the error were delivered and the error only means the
    /// rest of the file is unusable (truncation or corruption mid-file).
    pub fn is_partial(&self) -> bool {
        matches!(
            self,
            CaptureError::Truncated { .. } | CaptureError::Corrupt { .. }
        )
    }
}
