//! workbench: offline-first pcap replay and evaluation for network intrusion detection.
//!
//! The crate is the engine behind the `workbench` binary. Packets arrive as
//! [`capture::PacketRecord`]s from any source; [`engine`] turns them into windowed
//! per-host feature rows using event time only; [`table`] writes those rows;
//! [`simulate`] produces labelled synthetic captures; [`labels`] holds the attack
//! episode format every dataset uses. See docs/ARCHITECTURE.md for the map.

pub mod alert;
pub mod cli;
pub mod commands_compare;
pub mod commands_eval;
pub mod commands_train;
pub mod datasets;
pub mod engine;
pub mod eval;
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
pub mod sources;
pub mod stack;
pub mod table;
