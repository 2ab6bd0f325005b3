//! Feature rows: what the engine emits and what sinks consume.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Who a row describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Entity {
    /// The whole observed network as one sender (seed 003's global view); written `*`.
    Global,
    /// One host, with what it sent and what it received.
    Host(IpAddr),
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entity::Global => f.write_str("*"),
            Entity::Host(a) => write!(f, "{a}"),
        }
    }
}

impl std::str::FromStr for Entity {
    type Err = std::net::AddrParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "*" {
            Ok(Entity::Global)
        } else {
            s.parse().map(Entity::Host)
        }
    }
}

/// A row as the engine hands it out: borrowed values, valid during the call.
#[derive(Clone, Copy, Debug)]
pub struct RowRef<'a> {
    /// End of the window (exclusive), ns since the epoch. The window covers
    /// `[end - width, end)` for each width.
    pub window_end_ns: u64,
    /// The entity.
    pub entity: Entity,
    /// Primary window width, seconds.
    pub width_s: f64,
    /// Feature values in schema order.
    pub values: &'a [f64],
}

impl RowRef<'_> {
    /// An owned copy.
    pub fn to_owned(&self) -> FeatureRow {
        FeatureRow {
            window_end_ns: self.window_end_ns,
            entity: self.entity,
            width_s: self.width_s,
            values: self.values.to_vec(),
        }
    }
}

/// An owned feature row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureRow {
    /// See [`RowRef::window_end_ns`].
    pub window_end_ns: u64,
    /// See [`RowRef::entity`].
    pub entity: Entity,
    /// See [`RowRef::width_s`].
    pub width_s: f64,
    /// See [`RowRef::values`].
    pub values: Vec<f64>,
}

/// Receives rows in emission order: by window end, then the global row, then hosts in
/// address order.
pub trait RowSink {
    /// Takes one row.
    fn accept(&mut self, row: RowRef<'_>);

    /// The rows that follow belong to another timeline (another capture, simulation or
    /// table whose clock is unrelated to the previous one's). Called before its first
    /// row; `captured` is false for simulated traffic.
    fn new_timeline(&mut self, _captured: bool) {}
}

impl<F: FnMut(RowRef<'_>)> RowSink for F {
    fn accept(&mut self, row: RowRef<'_>) {
        self(row)
    }
}

impl RowSink for Vec<FeatureRow> {
    fn accept(&mut self, row: RowRef<'_>) {
        self.push(row.to_owned())
    }
}
