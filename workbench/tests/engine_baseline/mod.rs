//! The window engine as of commit 3de82bc, before the December 2026 speed work
//! (`window.rs`, `entity_state.rs` and `features.rs` copied unchanged but for their
//! `use` paths). Compiled only for tests: `tests/engine_differential.rs` feeds the same packets to this
//! engine and to the current one and requires bit-identical rows and counters, so an
//! optimisation can never change a feature value. Do not edit; delete it together with
//! its test if the engine's semantics are ever changed on purpose.
#![allow(dead_code)]

pub mod entity_state;
pub mod features;
pub mod window;
