//! Label files of public IDS datasets, turned into attack [`Episode`]s.
//!
//! Every reader streams its file line by line as raw bytes (files can be gigabytes and
//! are not always valid UTF-8), turns each row into a [`LabeledFlow`] and keeps a
//! per-file [`ImportReport`]. Attack flows are then grouped into episodes by
//! [`aggregate`], because the workbench labels per-host time windows from episodes.
//!
//! | module | dataset file |
//! |---|---|
//! | [`cicids2017`] | CIC-IDS2017 GeneratedLabelledFlows / TrafficLabelling CSV |
//! | [`schedule`] | CIC-IDS2017 published attack schedule (built in) |
//! | [`unsw_nb15`] | UNSW-NB15 raw 49-column CSV (`UNSW-NB15_1..4.csv`) |
//! | [`ctu13`] | CTU-13 / Slips Argus `.binetflow` |
//! | [`zeek`] | Stratosphere labelled Zeek `conn.log.labeled` |
//!
//! Row accounting: every data row ends in exactly one of `attack_rows`, `benign_rows`,
//! `unlabeled_rows` or `skipped`, so they always add up to `rows`. A row is skipped when
//! a field we need cannot be parsed; a file whose layout is not recognised at all is a
//! [`FormatError`] instead.

pub mod cicids2017;
pub mod ctu13;
pub mod schedule;
#[cfg(test)]
mod synthetic_tests;
#[cfg(test)]
mod tests;
mod text;
pub mod unsw_nb15;
pub mod zeek;

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt::Display;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use hashbrown::HashMap;

use crate::labels::{AttackType, Episode, HostSpec};

/// One labelled flow record, whatever the dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct LabeledFlow {
    /// For attack flows the attacker, which [`aggregate`] keys episodes on: the
    /// recorded source, except where a format documents a swap (CTU-13 `To-Botnet`);
    /// otherwise the recorded source.
    pub src: IpAddr,
    /// The other side (the victim of an attack flow).
    pub dst: IpAddr,
    /// Start, epoch seconds UTC.
    pub start_ts: f64,
    /// End, epoch seconds UTC (≥ `start_ts`).
    pub end_ts: f64,
    /// The attack, or `None` for benign/background traffic.
    pub attack: Option<AttackType>,
    /// The dataset's label text (decoded, trimmed).
    pub raw_label: String,
}

/// What happened while reading one file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportReport {
    /// The file read.
    pub file: PathBuf,
    /// Data rows seen (header, comment and blank lines excluded).
    pub rows: u64,
    /// Rows that became attack flows.
    pub attack_rows: u64,
    /// Rows labelled benign or background.
    pub benign_rows: u64,
    /// Rows with an empty, `Unknown` or unrecognised label (not an error).
    pub unlabeled_rows: u64,
    /// Rows that could not be parsed, by reason (`field: problem`), most frequent first.
    pub skipped: Vec<(String, u64)>,
    /// `file:line: field: problem` of the first skipped row.
    pub first_error: Option<String>,
    /// Every label value seen (normalised label text, including rows later skipped for
    /// another field), most frequent first. Not in the original brief: it is what the
    /// per-dataset label counts are checked against.
    pub labels: Vec<(String, u64)>,
}

impl ImportReport {
    /// Total skipped rows.
    pub fn skipped_rows(&self) -> u64 {
        self.skipped.iter().map(|(_, n)| n).sum()
    }

    /// The count of one label value (exact match), 0 when absent.
    pub fn label_count(&self, label: &str) -> u64 {
        self.labels
            .iter()
            .find(|(l, _)| l == label)
            .map_or(0, |(_, n)| *n)
    }
}

/// Episodes read from one file, and how the reading went.
#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    /// Attack episodes, in [`aggregate`] order.
    pub episodes: Vec<Episode>,
    /// Row accounting for the file.
    pub report: ImportReport,
}

/// How attack flows are grouped into episodes.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateOptions {
    /// Flows of one (type, attacker) whose gap to the previous one is at most this many
    /// seconds belong to the same episode. Default 60.
    pub max_gap_s: f64,
    /// An episode touching at least this many distinct victims is a sweep: one episode
    /// with victim `*`. Default 8.
    pub sweep_min_victims: usize,
}

impl Default for AggregateOptions {
    fn default() -> Self {
        AggregateOptions {
            max_gap_s: 60.0,
            sweep_min_victims: 8,
        }
    }
}

/// Why a dataset file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The file could not be opened or read.
    #[error("{file}: {source}")]
    Io {
        /// The file as given.
        file: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The header or row layout is not the expected one.
    #[error("{file}:{line}: {problem}")]
    Layout {
        /// The file as given.
        file: String,
        /// 1-based line the problem was seen on.
        line: u64,
        /// What was expected and what was found.
        problem: String,
    },
    /// A recognised file that carries labels but no addresses/times (CIC-IDS2017
    /// MachineLearningCVE, UNSW-NB15 training/testing set), so its rows cannot be
    /// mapped to hosts and windows.
    #[error(
        "{file}: {variant} has no {missing} columns, so its rows cannot be mapped to \
         hosts and time windows (label_counts still reads its labels)"
    )]
    NoFlowColumns {
        /// The file as given.
        file: String,
        /// The recognised variant.
        variant: String,
        /// The columns it lacks.
        missing: String,
    },
}

/// Result of the format readers.
pub type Result<T> = std::result::Result<T, FormatError>;

pub(crate) fn layout_err(path: &Path, line: u64, problem: impl Into<String>) -> FormatError {
    FormatError::Layout {
        file: path.display().to_string(),
        line,
        problem: problem.into(),
    }
}

/// Why one row was skipped: the field, a short constant reason (the counting key) and
/// the offending value (shown only in `first_error`).
pub(crate) struct RowError {
    pub field: String,
    pub reason: &'static str,
    pub value: String,
}

pub(crate) fn row_err(field: &str, reason: &'static str, value: impl Display) -> RowError {
    let mut value = value.to_string();
    if value.len() > 80 {
        let mut cut = 80;
        while !value.is_char_boundary(cut) {
            cut -= 1;
        }
        value.truncate(cut);
        value.push('…');
    }
    RowError {
        field: field.to_string(),
        reason,
        value,
    }
}

/// Parses an address field; `-`, empty, MAC addresses and garbage are row errors.
pub(crate) fn ip_field(field: &str, value: &str) -> std::result::Result<IpAddr, RowError> {
    value
        .trim()
        .parse()
        .map_err(|_| row_err(field, "not an IP address", value))
}

/// Builds an [`ImportReport`] while a file is streamed.
pub(crate) struct Tally {
    report: ImportReport,
    skipped: HashMap<String, u64>,
    labels: HashMap<String, u64>,
}

impl Tally {
    pub(crate) fn new(path: &Path) -> Self {
        Tally {
            report: ImportReport {
                file: path.to_path_buf(),
                ..ImportReport::default()
            },
            skipped: HashMap::new(),
            labels: HashMap::new(),
        }
    }

    /// Counts one data row (call once per row, before its outcome).
    pub(crate) fn row(&mut self) {
        self.report.rows += 1;
    }

    /// Counts one label value.
    pub(crate) fn label(&mut self, label: &str) {
        match self.labels.get_mut(label) {
            Some(n) => *n += 1,
            None => {
                self.labels.insert(label.to_string(), 1);
            }
        }
    }

    pub(crate) fn flow(&mut self, flow: &LabeledFlow) {
        match flow.attack {
            Some(_) => self.report.attack_rows += 1,
            None => self.report.benign_rows += 1,
        }
    }

    pub(crate) fn unlabeled(&mut self) {
        self.report.unlabeled_rows += 1;
    }

    pub(crate) fn skip(&mut self, line: u64, e: RowError) {
        let key = format!("{}: {}", e.field, e.reason);
        if self.report.first_error.is_none() {
            self.report.first_error = Some(format!(
                "{}:{line}: {key} (`{}`)",
                self.report.file.display(),
                e.value
            ));
        }
        *self.skipped.entry(key).or_insert(0) += 1;
    }

    pub(crate) fn finish(mut self) -> ImportReport {
        self.report.skipped = sorted_counts(self.skipped);
        self.report.labels = sorted_counts(self.labels);
        self.report
    }
}

/// Most frequent first, ties by name, so reports are deterministic.
pub(crate) fn sorted_counts(map: HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<_> = map.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// Collects the attack flows of a streaming reader and aggregates them: the common tail
/// of every format's `read`.
pub(crate) fn collect_import<F>(opts: &AggregateOptions, stream: F) -> Result<Import>
where
    F: FnOnce(&mut dyn FnMut(LabeledFlow)) -> Result<ImportReport>,
{
    // Only attack flows are kept in memory: benign rows are the bulk of every dataset.
    let mut attacks = Vec::new();
    let report = stream(&mut |f: LabeledFlow| {
        if f.attack.is_some() {
            attacks.push(f);
        }
    })?;
    Ok(Import {
        episodes: aggregate(&attacks, opts),
        report,
    })
}

/// Groups attack flows into episodes.
///
/// Per (attack type, attacker) the flows are sorted by start and merged while the gap
/// from the end of the group so far to the next start is ≤ `max_gap_s`. A group that
/// reaches `sweep_min_victims` distinct victims becomes one episode with victim
/// [`HostSpec::Any`]; otherwise each victim's flows in the group are merged again with
/// the same gap rule (so interleaving with other victims does not glue a victim's
/// separate bursts together), giving episodes per (type, attacker, victim).
///
/// Benign flows and flows with non-finite times are ignored; an end before its start is
/// taken as the start. The output is sorted by start, then attacker, victim, type and
/// end (`*` before addresses), so the same flows in any order give the same episodes.
pub fn aggregate(flows: &[LabeledFlow], opts: &AggregateOptions) -> Vec<Episode> {
    let gap = if opts.max_gap_s >= 0.0 {
        opts.max_gap_s
    } else {
        0.0
    };
    let mut groups: HashMap<(&AttackType, IpAddr), Vec<&LabeledFlow>> = HashMap::new();
    for f in flows {
        if let Some(t) = &f.attack {
            if f.start_ts.is_finite() && f.end_ts.is_finite() {
                groups.entry((t, f.src)).or_default().push(f);
            }
        }
    }
    let mut out = Vec::new();
    for ((ty, attacker), mut members) in groups {
        members.sort_by(|a, b| flow_order(a, b));
        for cluster in merge_by_gap(&members, gap) {
            let victims: BTreeSet<IpAddr> = cluster.iter().map(|f| f.dst).collect();
            if victims.len() >= opts.sweep_min_victims {
                out.push(episode(
                    ty,
                    attacker,
                    HostSpec::Any,
                    &cluster,
                    victims.len(),
                ));
                continue;
            }
            for v in victims {
                let mine: Vec<&LabeledFlow> =
                    cluster.iter().copied().filter(|f| f.dst == v).collect();
                for part in merge_by_gap(&mine, gap) {
                    out.push(episode(ty, attacker, HostSpec::Addr(v), &part, 1));
                }
            }
        }
    }
    out.sort_by(episode_order);
    out
}

fn end_of(f: &LabeledFlow) -> f64 {
    f.end_ts.max(f.start_ts)
}

fn flow_order(a: &LabeledFlow, b: &LabeledFlow) -> Ordering {
    a.start_ts
        .total_cmp(&b.start_ts)
        .then_with(|| end_of(a).total_cmp(&end_of(b)))
        .then_with(|| a.dst.cmp(&b.dst))
        .then_with(|| a.raw_label.cmp(&b.raw_label))
}

/// Splits start-sorted flows into runs whose gaps are ≤ `gap`.
fn merge_by_gap<'a>(sorted: &[&'a LabeledFlow], gap: f64) -> Vec<Vec<&'a LabeledFlow>> {
    let mut out: Vec<Vec<&LabeledFlow>> = Vec::new();
    let mut end = f64::NEG_INFINITY;
    for &f in sorted {
        match out.last_mut() {
            Some(run) if f.start_ts - end <= gap => {
                run.push(f);
                end = end.max(end_of(f));
            }
            _ => {
                out.push(vec![f]);
                end = end_of(f);
            }
        }
    }
    out
}

fn episode(
    ty: &AttackType,
    attacker: IpAddr,
    victim: HostSpec,
    flows: &[&LabeledFlow],
    victims: usize,
) -> Episode {
    let start_ts = flows
        .iter()
        .map(|f| f.start_ts)
        .fold(f64::INFINITY, f64::min);
    let end_ts = flows.iter().map(|f| end_of(f)).fold(start_ts, f64::max);
    let labels: BTreeSet<&str> = flows.iter().map(|f| f.raw_label.as_str()).collect();
    let mut shown: Vec<&str> = labels.iter().copied().take(3).collect();
    let more = labels.len().saturating_sub(shown.len());
    let more = if more > 0 {
        format!(" +{more} more")
    } else {
        String::new()
    };
    shown.retain(|l| !l.is_empty());
    let sweep = if victim == HostSpec::Any {
        format!(" victims={victims}")
    } else {
        String::new()
    };
    Episode {
        attack_type: ty.clone(),
        attacker: HostSpec::Addr(attacker),
        victim,
        start_ts,
        end_ts,
        detail: format!(
            "flows={}{sweep} labels={}{more}",
            flows.len(),
            shown.join("|")
        ),
    }
}

fn host_order(a: &HostSpec, b: &HostSpec) -> Ordering {
    match (a, b) {
        (HostSpec::Any, HostSpec::Any) => Ordering::Equal,
        (HostSpec::Any, HostSpec::Addr(_)) => Ordering::Less,
        (HostSpec::Addr(_), HostSpec::Any) => Ordering::Greater,
        (HostSpec::Addr(x), HostSpec::Addr(y)) => x.cmp(y),
    }
}

fn episode_order(a: &Episode, b: &Episode) -> Ordering {
    a.start_ts
        .total_cmp(&b.start_ts)
        .then_with(|| host_order(&a.attacker, &b.attacker))
        .then_with(|| host_order(&a.victim, &b.victim))
        .then_with(|| a.attack_type.name().cmp(b.attack_type.name()))
        .then_with(|| a.end_ts.total_cmp(&b.end_ts))
        .then_with(|| a.detail.cmp(&b.detail))
}
