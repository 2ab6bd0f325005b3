//! The stack around the engine, runtime and transport only: NATS JetStream scale-out
//! (`wire` encoding, `nats` sensor publisher and scorer), the seeds' HTTP APIs
//! (`serve`, with seed 003's online model in `online`), the seed 000 notifier
//! (`notify`) and shared HTTP plumbing (`web`). Rows come from the engine driver
//! (`pipeline::Driver`), alerts go through `alert/`. See deploy/README.md for how the
//! pieces fit together.

pub mod nats;
pub mod notify;
pub mod online;
mod run;
pub mod serve;
pub mod web;
pub mod wire;

pub use run::{publish, serve, PublishConfig, ServeConfig};
