//! capture: packet sources and decoding.
//!
//! Every source (pcap/pcapng files now; XDP, AF_PACKET and the simulator through the
//! same trait) yields [`PacketRecord`]s through [`PacketSource`]. This crate knows
//! packets and nothing of windows, features or models.
//!
//! ```no_run
//! use capture::{CaptureFile, PacketSource};
//! let mut src = CaptureFile::open("capture.pcap")?;
//! while let Some(pkt) = src.next_packet()? {
//!     println!("{} -> {} proto {}", pkt.src, pkt.dst, pkt.proto);
//! }
//! # Ok::<(), capture::CaptureError>(())
//! ```

pub mod decode;
pub mod error;
pub mod file;
pub mod link;
pub mod live;
pub mod record;
pub mod source;
pub mod stats;
pub mod writer;

pub use decode::{decode_frame, DecodeNotes, SkipReason};
pub use error::CaptureError;
pub use file::{CaptureFile, CaptureFormat};
pub use link::LinkType;
pub use record::{ip_proto, tcp_flag, PacketRecord};
pub use source::PacketSource;
pub use stats::SourceStats;
pub use writer::PcapWriter;
