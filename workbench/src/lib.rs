//! workbench: offline-first pcap replay and evaluation for network intrusion detection.
//!
//! The crate is the engine behind the `workbench` binary. Packets arrive as
//! [`capture::PacketRecord`]s from any source; [`engine`] turns them into windowed
//! per-host feature rows using event time only; [`table`] writes those rows;
//! [`simulate`] produces labelled synthetic captures; [`labels`] holds the attack
//! episode format every dataset uses. See docs/ARCHITECTURE.md for the map.

pub mod engine;
pub mod labels;
pub mod simulate;
pub mod table;
pub mod cli;
pub mod pipeline;
pub mod progress;
pub mod sources;
