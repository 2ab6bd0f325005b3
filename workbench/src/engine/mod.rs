//! The window and feature engine: packet records in, per-host feature rows out.
//!
//! **Architecture invariant:** the engine does no I/O and never reads a clock. Time is
//! the packets' own timestamps (or an explicit [`WindowEngine::advance_to`] from a live
//! source), so the same packets always give the same rows, from a file or live.

mod config;
mod entity_state;
mod features;
mod row;
mod schema;
mod window;

pub use config::{ConfigError, Resolved, WindowConfig, MAX_HOPS_PER_WINDOW};
pub use row::{Entity, FeatureRow, RowRef, RowSink};
pub use schema::{
    width_suffix, FeatureDef, FeatureSchema, BASE_FEATURES, F, N_BASE, SCHEMA_VERSION,
};
pub use window::{EngineStats, WindowEngine};

#[cfg(test)]
mod tests;
