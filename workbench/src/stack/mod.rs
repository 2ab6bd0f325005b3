//! The stack around the engine (issue 6): the seed 000 notifier (`notify`), NATS
//! JetStream scale-out (`wire` encoding, `nats` sensor publisher and scorer), shared
//! HTTP plumbing (`web`). See deploy/README.md for how the pieces fit together.

pub mod args;
pub mod cmd;
pub mod nats;
pub mod notify;
pub mod online;
pub mod serve;
pub mod web;
pub mod wire;
