//! workbench: offline-first pcap replay and evaluation for network intrusion detection.
//!
//! Layers, each importing only the ones below it (docs/ARCHITECTURE.md, checked by
//! `tests/architecture.rs`):
//!
//! | layer | modules |
//! |---|---|
//! | command line | [`cli`] (clap types), [`commands`] (one file per subcommand) |
//! | runtimes | [`live`], [`stack`], [`kpi`] |
//! | runs | [`experiment`] (eval, compare), [`train`] |
//! | outputs | [`report`], [`datasets`], [`alert`], [`http`] |
//! | models | [`model`] |
//! | evaluation | [`eval`] |
//! | the one packet path | [`pipeline`] (the engine driver, sources, inputs) |
//! | data | [`table`], [`simulate`], [`labels`] |
//! | engine | [`engine`] (no I/O, no clock) |
//!
//! plus [`progress`] and [`logging`], which import nothing of the crate. Packets
//! arrive as [`capture::PacketRecord`]s from any source.

pub mod alert;
pub mod cli;
pub mod commands;
pub mod datasets;
pub mod engine;
pub mod eval;
pub mod experiment;
pub mod http;
pub mod kpi;
pub mod labels;
pub mod live;
pub mod logging;
pub mod model;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod simulate;
pub mod stack;
pub mod table;
pub mod train;
