//! From a scored host window to the alert lifecycle: the threat type (the scorer's own,
//! else the seed rules' reading of the window, else seed 003's ML risk band), the
//! alert's detail, and the tracker. Live runs and the NATS scorers alert through this
//! one path.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use super::{threat_of, AlertTracker, Clock};
use crate::engine::F;
use crate::eval::{RulesScorer, Score, ThreatType};

/// An alert's `detail`: seed 000's detail, plus seed 003's rule inputs.
pub fn alert_detail(values: &[f64]) -> String {
    format!(
        "rate={:.1}, uniq_dports={}, pps={:.0}, unique_ports={}, syn_packets={}",
        value(values, F::ConnRate),
        value(values, F::UniqDports),
        value(values, F::PacketsPerSecond),
        value(values, F::UniquePorts),
        value(values, F::SynPackets),
    )
}

fn value(v: &[f64], f: F) -> f64 {
    v.get(f as usize).copied().unwrap_or(0.0)
}

/// What [`Alerter::observe`] made of a window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored {
    /// The threat type the window is reported as.
    pub threat: ThreatType,
    /// At or above the threshold.
    pub alerting: bool,
    /// This window started a new alert (the delivery loop was woken).
    pub new_alert: bool,
}

/// Feeds host windows at or above the threshold to the shared tracker.
#[derive(Clone)]
pub struct Alerter {
    threshold: f64,
    tracker: Arc<Mutex<AlertTracker>>,
    wake: Arc<tokio::sync::Notify>,
    clock: Arc<dyn Clock>,
}

impl Alerter {
    /// An alerter into `tracker`; `wake` is notified when a new alert starts, so it goes
    /// out at once rather than at the delivery loop's next tick.
    pub fn new(
        threshold: f64,
        tracker: Arc<Mutex<AlertTracker>>,
        wake: Arc<tokio::sync::Notify>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Alerter {
            threshold,
            tracker,
            wake,
            clock,
        }
    }

    /// The alert threshold.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Takes one scored host window (`values` in schema order, the window ending at
    /// `window_end_ns`).
    pub fn observe(
        &self,
        host: IpAddr,
        score: Score,
        values: &[f64],
        window_end_ns: u64,
    ) -> Scored {
        // A model gives a score only; the seed rules name what the window looks like.
        let threat = threat_of(
            score.threat.or_else(|| RulesScorer::explain(values)),
            score.value,
        );
        let alerting = score.value >= self.threshold;
        let mut new_alert = false;
        if alerting {
            new_alert = match self.tracker.lock() {
                Ok(mut t) => t.observe(
                    self.clock.now(),
                    self.clock.wall(),
                    host,
                    threat,
                    score.value,
                    alert_detail(values),
                    window_end_ns,
                ),
                Err(_) => false,
            };
            if new_alert {
                self.wake.notify_one();
            }
        }
        Scored {
            threat,
            alerting,
            new_alert,
        }
    }
}
