//! Training data: labelled host rows collected from one pipeline pass.
//!
//! [`TrainingSink`] keeps every host row's feature values (as `f32`), its window end,
//! its host and its label from the same [`Labeler`] the evaluation uses, so a model is
//! trained on exactly what `eval` scores. The global row is not kept (it is never
//! scored). Memory: `4 × features + ~40` bytes a row (about 160 MB per million rows of
//! the default 43 features).

use std::net::IpAddr;

use crate::engine::{Entity, FeatureSchema, RowRef, RowSink, WindowConfig};
use crate::labels::{Episode, Labeler, Role};
use crate::pipeline::RunSummary;

/// Labelled host rows of one dataset, in emission order.
pub struct TrainingData {
    /// Dataset name.
    pub dataset: String,
    /// Its one-line description.
    pub description: String,
    /// The schema of the rows.
    pub schema: FeatureSchema,
    /// The window settings the rows were computed with.
    pub window: WindowConfig,
    /// Feature values, row-major: row `i` is `values[i * k .. (i + 1) * k]`.
    pub values: Vec<f32>,
    /// Window end of each row, ns since the epoch.
    pub end_ns: Vec<u64>,
    /// Host of each row.
    pub hosts: Vec<IpAddr>,
    /// Timeline (capture, simulation or table, numbered from 0 in input order) of each
    /// row: what `--split-by capture` cuts separately.
    pub timeline: Vec<u32>,
    /// Whether each timeline is captured traffic (files and feature tables) rather than
    /// simulated: the stored threshold is calibrated on captured traffic when there is
    /// enough of it.
    pub timeline_captured: Vec<bool>,
    /// Episode (index into `episodes`) and role that make a row positive.
    pub labels: Vec<Option<(u32, Role)>>,
    /// The dataset's ground truth.
    pub episodes: Vec<Episode>,
    /// How reading the inputs went.
    pub run: RunSummary,
}

impl TrainingData {
    /// True when row `i` comes from captured traffic (a file or a feature table).
    pub fn is_captured(&self, i: usize) -> bool {
        self.timeline
            .get(i)
            .and_then(|&t| self.timeline_captured.get(t as usize))
            .copied()
            .unwrap_or(false)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.end_ns.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.end_ns.is_empty()
    }

    /// Number of feature columns.
    pub fn n_features(&self) -> usize {
        self.schema.len()
    }

    /// The feature values of row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        let k = self.n_features();
        &self.values[i * k..(i + 1) * k]
    }

    /// True when row `i` is an attack window.
    pub fn is_positive(&self, i: usize) -> bool {
        self.labels[i].is_some()
    }

    /// Number of positive rows among `rows`.
    pub fn positives(&self, rows: &[usize]) -> usize {
        rows.iter().filter(|&&i| self.is_positive(i)).count()
    }
}

#[cfg(test)]
impl TrainingData {
    /// The default 60/20/20 time split with a 2 s purge gap (test fixtures).
    pub(crate) fn default_time_split(&self) -> crate::model::Split {
        crate::model::time_split(
            &self.end_ns,
            &self.timeline,
            crate::model::SplitConfig::TIME_DEFAULT,
            2_000_000_000,
        )
        .expect("fixture data splits")
    }
}

/// A [`RowSink`] that keeps labelled host rows for training.
pub struct TrainingSink<'a> {
    labeler: &'a Labeler,
    width_s: f64,
    n_features: usize,
    /// Row-major `f32` values.
    pub values: Vec<f32>,
    /// Window ends, ns.
    pub end_ns: Vec<u64>,
    /// Hosts.
    pub hosts: Vec<IpAddr>,
    /// Timeline of each row (see [`TrainingData::timeline`]).
    pub timeline: Vec<u32>,
    /// Timelines begun so far.
    timelines: u32,
    /// Whether each timeline is captured traffic (not simulated).
    pub timeline_captured: Vec<bool>,
    /// Labels.
    pub labels: Vec<Option<(u32, Role)>>,
    /// Episodes that overlapped at least one window of a host they make positive.
    pub matched: Vec<bool>,
    /// Rows whose value count did not match the schema (never expected).
    pub malformed: u64,
}

impl<'a> TrainingSink<'a> {
    /// A sink for rows of `n_features` columns whose primary window is `width_s`.
    pub fn new(labeler: &'a Labeler, width_s: f64, n_features: usize) -> Self {
        TrainingSink {
            labeler,
            width_s,
            n_features,
            values: Vec::new(),
            end_ns: Vec::new(),
            hosts: Vec::new(),
            timeline: Vec::new(),
            timelines: 0,
            timeline_captured: Vec::new(),
            labels: Vec::new(),
            matched: vec![false; labeler.episodes().len()],
            malformed: 0,
        }
    }
}

impl RowSink for TrainingSink<'_> {
    fn new_timeline(&mut self, captured: bool) {
        self.timelines += 1;
        self.timeline_captured.push(captured);
    }

    fn accept(&mut self, row: RowRef<'_>) {
        let Entity::Host(host) = row.entity else {
            return;
        };
        if row.values.len() != self.n_features {
            self.malformed += 1;
            return;
        }
        let end_s = row.window_end_ns as f64 / 1e9;
        let start_s = end_s - self.width_s;
        let label = self.labeler.label(host, start_s, end_s);
        for i in self.labeler.all_labels(host, start_s, end_s) {
            self.matched[i] = true;
        }
        self.values.extend(row.values.iter().map(|&v| v as f32));
        self.end_ns.push(row.window_end_ns);
        self.hosts.push(host);
        self.timeline.push(self.timelines.saturating_sub(1));
        self.labels.push(label.map(|(i, r)| (i as u32, r)));
    }
}

/// Rows of a short simulation through the engine, for the model tests.
#[cfg(test)]
pub(crate) mod test_rows {
    use super::*;
    use crate::pipeline::{self, Driver, Input, SimSource};
    use crate::progress::Progress;
    use crate::simulate::{Scenario, SimConfig, Simulator};

    /// Real rows: a mixed simulation of `seconds` through the engine.
    pub(crate) fn real_data(seed: u64, seconds: f64) -> TrainingData {
        let sim = SimConfig {
            scenario: Scenario::Mixed,
            seconds,
            seed,
            ..SimConfig::default()
        };
        let episodes = Simulator::new(&sim).episodes().to_vec();
        let window = WindowConfig::default();
        let mut driver = Driver::new(window.clone()).unwrap();
        let schema = driver.schema().clone();
        let labeler = Labeler::new(episodes.clone());
        let mut sink = TrainingSink::new(&labeler, window.widths_s[0], schema.len());
        let inputs = vec![Input::Source("sim".into(), Box::new(SimSource::new(&sim)))];
        let run = pipeline::run(inputs, &mut driver, &mut sink, &Progress::bytes(0, true));
        TrainingData {
            dataset: format!("mixed-{seed}"),
            description: String::new(),
            schema,
            window,
            values: sink.values,
            end_ns: sink.end_ns,
            hosts: sink.hosts,
            timeline: sink.timeline,
            timeline_captured: sink.timeline_captured,
            labels: sink.labels,
            episodes,
            run,
        }
    }
}
