//! Progress bars for long jobs: bytes read and packets per second, on stderr, drawn
//! only when stderr is a terminal and the user did not ask for quiet.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress display that costs nothing when hidden.
pub struct Progress {
    bar: ProgressBar,
    started: Instant,
}

impl Progress {
    /// A bar over `total_bytes` of input (0 when unknown: a spinner).
    pub fn bytes(total_bytes: u64, quiet: bool) -> Self {
        let visible = !quiet && std::io::stderr().is_terminal();
        let bar = if total_bytes > 0 {
            ProgressBar::new(total_bytes)
        } else {
            ProgressBar::new_spinner()
        };
        bar.set_draw_target(if visible {
            ProgressDrawTarget::stderr_with_hz(8)
        } else {
            ProgressDrawTarget::hidden()
        });
        let template = if total_bytes > 0 {
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta}) {msg}"
        } else {
            "{spinner} [{elapsed_precise}] {msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        Progress {
            bar,
            started: Instant::now(),
        }
    }

    /// Updates the position (bytes) and the packet-rate message.
    pub fn update(&self, bytes: u64, packets: u64) {
        self.bar.set_position(bytes);
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        self.bar.set_message(format!(
            "{packets} pkts, {:.2} Mpkt/s",
            packets as f64 / secs / 1e6
        ));
    }

    /// Sets the message without moving the bar.
    pub fn message(&self, msg: String) {
        self.bar.set_message(msg);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
