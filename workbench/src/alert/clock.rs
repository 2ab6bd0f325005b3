//! Wall and monotonic time for the alert path, injected so that the lifecycle and the
//! delivery loop run in tests on a clock the test moves. The engine never reads a
//! clock (event time only); alerts are for people and Alertmanager, in wall time.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// Where the alert path reads time.
pub trait Clock: Send + Sync {
    /// Monotonic now (lifecycle durations).
    fn now(&self) -> Instant;
    /// Wall-clock now (`startsAt`, `endsAt`).
    fn wall(&self) -> SystemTime;
}

/// The process's clocks.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told to ([`ManualClock::advance`]): both readings move
/// together from where they started.
#[derive(Debug)]
pub struct ManualClock {
    start: (Instant, SystemTime),
    offset: Mutex<Duration>,
}

impl ManualClock {
    /// A clock standing at the current time.
    pub fn new() -> Self {
        ManualClock {
            start: (Instant::now(), SystemTime::now()),
            offset: Mutex::new(Duration::ZERO),
        }
    }

    /// Moves both readings forward by `d`.
    pub fn advance(&self, d: Duration) {
        if let Ok(mut o) = self.offset.lock() {
            *o += d;
        }
    }

    fn offset(&self) -> Duration {
        self.offset.lock().map(|o| *o).unwrap_or_default()
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start.0 + self.offset()
    }

    fn wall(&self) -> SystemTime {
        self.start.1 + self.offset()
    }
}
