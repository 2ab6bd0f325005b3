//! The one driver of the window engine. Every path that turns packets into rows —
//! files, feature tables, the simulator, paced replays, live capture and the NATS
//! scorers — owns a [`Driver`] and calls nothing else of the engine, so the rule that
//! decides where a timeline starts is written once, here.

use capture::PacketRecord;

use crate::engine::{ConfigError, EngineStats, FeatureSchema, RowSink, WindowConfig, WindowEngine};

/// True when an input whose first packet is at `first_ts_ns` starts a timeline of its
/// own instead of continuing the current one: when that packet would be *late*, i.e.
/// earlier than the start of the engine's open hop (`open_hop_end_ns - hop_ns`).
///
/// An unrelated capture made earlier (public datasets are years apart) restarts the
/// engine; a capture split into several files (`tcpdump -C`), or a replayed file
/// continuing where the previous one ended, continues it. With no open hop (nothing
/// pushed yet, or just flushed) nothing is restarted.
pub fn starts_new_timeline(open_hop_end_ns: Option<u64>, hop_ns: u64, first_ts_ns: u64) -> bool {
    open_hop_end_ns.is_some_and(|end| first_ts_ns.saturating_add(hop_ns) < end)
}

/// Owns the [`WindowEngine`] and applies the timeline rule at every input boundary.
pub struct Driver {
    engine: WindowEngine,
    hop_ns: u64,
    /// An input has begun and its first packet is still to come: `Some(captured)`.
    pending_input: Option<bool>,
    /// The next input starts a timeline whatever its time (after a table).
    force_new: bool,
    timelines: u64,
}

impl Driver {
    /// A driver with a fresh engine; the configuration is validated.
    pub fn new(cfg: WindowConfig) -> Result<Driver, ConfigError> {
        let engine = WindowEngine::new(cfg)?;
        let hop_ns = (engine.config().hop_s * 1e9).round() as u64;
        Ok(Driver {
            engine,
            hop_ns,
            pending_input: None,
            force_new: false,
            timelines: 0,
        })
    }

    /// The engine's feature schema.
    pub fn schema(&self) -> &FeatureSchema {
        self.engine.schema()
    }

    /// The engine's window settings.
    pub fn config(&self) -> &WindowConfig {
        self.engine.config()
    }

    /// Engine counters.
    pub fn stats(&self) -> &EngineStats {
        self.engine.stats()
    }

    /// Independent timelines so far.
    pub fn timelines(&self) -> u64 {
        self.timelines
    }

    /// Announces a new input (capture file, simulation, live interface, a sensor's next
    /// file). Its first packet decides, by [`starts_new_timeline`], whether it continues
    /// the current timeline or the engine is flushed and restarted. `captured` tells
    /// the sink whether the timeline is captured traffic or simulated.
    pub fn begin_input(&mut self, captured: bool) {
        self.pending_input = Some(captured);
    }

    /// One packet, in time order within its input.
    #[inline]
    pub fn push(&mut self, pkt: &PacketRecord, sink: &mut dyn RowSink) {
        if let Some(captured) = self.pending_input.take() {
            self.first_packet(pkt.ts_ns, captured, sink);
        }
        self.engine.push(pkt, sink);
    }

    #[cold]
    fn first_packet(&mut self, ts_ns: u64, captured: bool, sink: &mut dyn RowSink) {
        let restart = starts_new_timeline(self.engine.open_hop_end_ns(), self.hop_ns, ts_ns);
        if restart {
            self.engine.finish(sink);
        }
        if restart || self.timelines == 0 || self.force_new {
            self.timelines += 1;
            self.force_new = false;
            sink.new_timeline(captured);
        }
    }

    /// Event time has reached `ts_ns` with no packet (a watermark): closes the windows
    /// that end by then.
    pub fn advance_to(&mut self, ts_ns: u64, sink: &mut dyn RowSink) {
        self.engine.advance_to(ts_ns, sink);
    }

    /// Emits every pending row and resets the engine (end of input, or a restart the
    /// source asks for explicitly).
    pub fn finish(&mut self, sink: &mut dyn RowSink) {
        self.engine.finish(sink);
    }

    /// Starts a timeline for rows that bypass the engine (a feature table): the engine
    /// is flushed first, and the next packet input starts a timeline of its own.
    pub fn begin_table(&mut self, sink: &mut dyn RowSink) {
        self.engine.finish(sink);
        self.timelines += 1;
        // Tables hold rows of captures (`workbench features` of a capture).
        sink.new_timeline(true);
        self.force_new = true;
        self.pending_input = None;
    }
}
