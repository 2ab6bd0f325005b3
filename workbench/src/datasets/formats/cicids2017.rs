//! CIC-IDS2017 flow CSVs (`GeneratedLabelledFlows` / `TrafficLabelling`).
//!
//! Quirks handled, all seen in the official files:
//! - header names carry leading spaces (` Source IP`) — trimmed, matched case-insensitively;
//! - ` Fwd Header Length` occurs twice — duplicate names are fine, the first one wins
//!   (we only use Source IP, Destination IP, Timestamp, Flow Duration and Label);
//! - feature columns hold `Infinity` / `NaN` — never parsed;
//! - `Timestamp` is day/month/year, e.g. `7/7/2017 3:30`: a 12-hour clock *without*
//!   AM/PM and without seconds (`4/7/2017 09:20:31` and `7/7/2017 3:30:12 PM` also occur
//!   in copies); see [`parse_timestamp`] for how the hour is resolved;
//! - Web Attack labels are written with a cp1252 en dash (byte 0x96): lines are decoded
//!   as cp1252 when they are not UTF-8, and labels normalised ([`normalise_label`]);
//! - rows made only of commas (the Thursday WebAttacks file has many) are skipped.
//!
//! The `MachineLearningCVE` variant has the same labels but no Source IP / Timestamp
//! columns: [`read`] refuses it with [`FormatError::NoFlowColumns`]; [`label_counts`]
//! works on both variants.

use std::path::Path;

use super::text::{self, LineReader};
use super::{
    collect_import, ip_field, layout_err, row_err, AggregateOptions, FormatError, Import,
    ImportReport, LabeledFlow, Result, RowError, Tally,
};
use crate::labels::AttackType;

/// How CIC-IDS2017 timestamps are read.
#[derive(Clone, Debug, PartialEq)]
pub struct CicOptions {
    /// Offset of the CSV's clock from UTC, seconds. Default `-3*3600`: the testbed was in
    /// New Brunswick, Canada, on Atlantic Daylight Time (UTC−3) in July 2017.
    pub utc_offset_s: i64,
    /// Read hours 1..=7 written without AM/PM as afternoon (+12 h). Default true: the
    /// CSVs print a 12-hour clock without AM/PM and the capture days ran 8:00–18:00
    /// local time, so `3:30` can only be 15:30 (the Friday DDoS file starts at `3:30`,
    /// the afternoon session). Hours 8..=12 stay as they are (12 = noon).
    pub afternoon_without_ampm: bool,
    /// How attack flows are grouped into episodes.
    pub aggregate: AggregateOptions,
}

impl Default for CicOptions {
    fn default() -> Self {
        CicOptions {
            utc_offset_s: -3 * 3600,
            afternoon_without_ampm: true,
            aggregate: AggregateOptions::default(),
        }
    }
}

/// Reads a GeneratedLabelledFlows CSV into episodes.
pub fn read(path: &Path, opts: &CicOptions) -> Result<Import> {
    collect_import(&opts.aggregate, |sink| for_each_flow(path, opts, sink))
}

/// Column positions in a CIC header.
struct Columns {
    src: Option<usize>,
    dst: Option<usize>,
    ts: Option<usize>,
    duration: Option<usize>,
    label: usize,
}

/// Reads lines up to the header and finds the columns; errors name the file.
fn header<R: std::io::BufRead>(r: &mut LineReader<R>, path: &Path) -> Result<Columns> {
    loop {
        if !r.next_or_err(path)? {
            return Err(layout_err(
                path,
                r.line_no,
                "empty file; expected a CIC-IDS2017 CSV header (Flow ID, Source IP, ..., \
                 Timestamp, Flow Duration, ..., Label)",
            ));
        }
        if !r.buf.iter().all(u8::is_ascii_whitespace) {
            break;
        }
    }
    let line = text::decode(&r.buf);
    let names: Vec<String> = text::split(text::strip_bom(&line), ',')
        .iter()
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    // First occurrence wins, so the duplicated ` Fwd Header Length` is harmless.
    let find = |alts: &[&str]| names.iter().position(|n| alts.contains(&n.as_str()));
    let Some(label) = find(&["label"]) else {
        let shown: String = line.chars().take(80).collect();
        return Err(layout_err(
            path,
            r.line_no,
            format!(
                "expected a CIC-IDS2017 CSV header with Source IP, Destination IP, \
                 Timestamp, Flow Duration and Label columns; found `{shown}`"
            ),
        ));
    };
    Ok(Columns {
        src: find(&["source ip", "src ip"]),
        dst: find(&["destination ip", "dst ip"]),
        ts: find(&["timestamp"]),
        duration: find(&["flow duration"]),
        label,
    })
}

/// Streams every row of a GeneratedLabelledFlows CSV to `on_flow` (benign ones too).
pub fn for_each_flow(
    path: &Path,
    opts: &CicOptions,
    on_flow: &mut dyn FnMut(LabeledFlow),
) -> Result<ImportReport> {
    let mut r = text::open(path)?;
    let cols = header(&mut r, path)?;
    let (Some(src), Some(dst), Some(ts)) = (cols.src, cols.dst, cols.ts) else {
        let missing: Vec<&str> = [
            ("Source IP", cols.src),
            ("Destination IP", cols.dst),
            ("Timestamp", cols.ts),
        ]
        .iter()
        .filter(|(_, c)| c.is_none())
        .map(|(n, _)| *n)
        .collect();
        return Err(FormatError::NoFlowColumns {
            file: path.display().to_string(),
            variant: "this CIC-IDS2017 CSV (MachineLearningCVE layout)".to_string(),
            missing: missing.join("/"),
        });
    };
    let need = [src, dst, ts, cols.label, cols.duration.unwrap_or(0)];
    let width = need.iter().copied().max().unwrap_or(0) + 1;
    let mut tally = Tally::new(path);
    while r.next_or_err(path)? {
        if r.buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        tally.row();
        let line_no = r.line_no;
        if r.too_long {
            tally.skip(line_no, row_err("record", "line too long", "> 1 MiB"));
            continue;
        }
        let line = text::decode(&r.buf);
        let fields = text::split(&line, ',');
        if fields.iter().all(|f| f.trim().is_empty()) {
            tally.skip(line_no, row_err("record", "empty record", &*line));
            continue;
        }
        if fields.len() < width {
            let e = row_err("record", "fewer fields than the header", fields.len());
            tally.skip(line_no, e);
            continue;
        }
        let label = normalise_label(&fields[cols.label]);
        tally.label(&label);
        match row(&fields, [src, dst, ts], cols.duration, &label, opts) {
            Ok(Some(flow)) => {
                tally.flow(&flow);
                on_flow(flow);
            }
            Ok(None) => tally.unlabeled(),
            Err(e) => tally.skip(line_no, e),
        }
    }
    Ok(tally.finish())
}

fn row(
    fields: &[std::borrow::Cow<'_, str>],
    [src, dst, ts]: [usize; 3],
    duration: Option<usize>,
    label: &str,
    opts: &CicOptions,
) -> std::result::Result<Option<LabeledFlow>, RowError> {
    let src = ip_field("Source IP", &fields[src])?;
    let dst = ip_field("Destination IP", &fields[dst])?;
    let stamp = fields[ts].trim();
    let (start_ts, resolution) = parse_timestamp(stamp, opts)
        .ok_or_else(|| row_err("Timestamp", "not a d/m/yyyy H:MM[:SS] [AM|PM] time", stamp))?;
    let micros = match duration.map(|i| fields[i].trim()) {
        None => 0.0,
        Some(d) => match d.parse::<f64>() {
            // Some official rows have negative durations (clock steps): treat as 0.
            Ok(v) if v.is_finite() => v.max(0.0),
            _ => return Err(row_err("Flow Duration", "not a number of microseconds", d)),
        },
    };
    if label.is_empty() {
        return Ok(None);
    }
    Ok(Some(LabeledFlow {
        src,
        dst,
        start_ts,
        // The timestamp is truncated to its resolution (a whole minute when seconds are
        // missing), so the flow may have started up to that much later: the end covers it.
        end_ts: start_ts + resolution + micros / 1e6,
        attack: attack_for_label(label),
        raw_label: label.to_string(),
    }))
}

/// Parses a CIC timestamp into (start, epoch seconds UTC; resolution in seconds).
///
/// Accepted: `d/m/yyyy H:MM`, `d/m/yyyy H:MM:SS`, either with ` AM`/` PM`, and ISO
/// `yyyy-mm-dd HH:MM:SS[.ffffff]` (24-hour, as written by re-generated flow files). With
/// AM/PM the 12-hour clock is exact; without it, hours 1..=7 become afternoon when
/// [`CicOptions::afternoon_without_ampm`] is set (see there). The resolution is 60 s when
/// seconds are missing, 1 s for whole seconds and 0 with a fraction.
pub fn parse_timestamp(s: &str, opts: &CicOptions) -> Option<(f64, f64)> {
    let (date, rest) = s.trim().split_once(' ')?;
    let rest = rest.trim();
    let (clock, pm) = match rest.rsplit_once(' ') {
        Some((c, m)) if m.eq_ignore_ascii_case("am") => (c.trim(), Some(false)),
        Some((c, m)) if m.eq_ignore_ascii_case("pm") => (c.trim(), Some(true)),
        _ => (rest, None),
    };
    let (hour, minute, second, had_seconds) = text::parse_clock(clock)?;
    let (year, month, day, iso) = if date.contains('/') {
        let mut p = date.split('/');
        let (d, m, y) = (p.next()?, p.next()?, p.next()?);
        if p.next().is_some() {
            return None;
        }
        let y = i64::from(text::small_uint(y)?);
        let y = if y < 100 { 2000 + y } else { y };
        (y, text::small_uint(m)?, text::small_uint(d)?, false)
    } else {
        let mut p = date.split('-');
        let (y, m, d) = (p.next()?, p.next()?, p.next()?);
        if p.next().is_some() || y.len() != 4 {
            return None;
        }
        let y = i64::from(text::small_uint(y)?);
        (y, text::small_uint(m)?, text::small_uint(d)?, true)
    };
    let hour = match pm {
        Some(_) if iso || hour == 0 || hour > 12 => return None,
        Some(pm) => hour % 12 + if pm { 12 } else { 0 },
        None if !iso && opts.afternoon_without_ampm && (1..=7).contains(&hour) => hour + 12,
        None => hour,
    };
    let local = text::LocalTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
    };
    let resolution = match (had_seconds, clock.contains('.')) {
        (false, _) => 60.0,
        (true, false) => 1.0,
        (true, true) => 0.0,
    };
    Some((local.to_utc(opts.utc_offset_s)?, resolution))
}

/// Normalises a label: whitespace collapsed, and the Web Attack separator (cp1252 en
/// dash, U+FFFD from a lossy UTF-8 read, `-`, `?`) rewritten to the official spelling
/// `Web Attack – <kind>`, so all copies of the dataset count the same.
pub fn normalise_label(raw: &str) -> String {
    let s = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    match s.get(..10) {
        Some(head) if head.eq_ignore_ascii_case("web attack") => {
            let kind = s
                .get(10..)
                .unwrap_or("")
                .trim_start_matches([' ', '-', '–', '—', '\u{fffd}', '?']);
            if kind.is_empty() {
                "Web Attack".to_string()
            } else {
                format!("Web Attack – {kind}")
            }
        }
        _ => s,
    }
}

/// The attack a normalised label names: `None` for `BENIGN`, otherwise
/// [`AttackType::parse`] (`DDoS`→ddos, `PortScan`→port_scan, `SSH-Patator`/`FTP-Patator`
/// →brute_force; `DoS Hulk`, `Bot`, `Web Attack – XSS`, ... are kept as `Other`).
pub fn attack_for_label(label: &str) -> Option<AttackType> {
    if label.eq_ignore_ascii_case("benign") {
        None
    } else {
        Some(AttackType::parse(label))
    }
}

/// Counts the normalised labels of either CSV variant (GeneratedLabelledFlows or
/// MachineLearningCVE), most frequent first. Rows without a Label field and rows made
/// only of commas are not counted; empty labels count as `""`.
pub fn label_counts(path: &Path) -> Result<Vec<(String, u64)>> {
    let mut r = text::open(path)?;
    let cols = header(&mut r, path)?;
    let mut counts = hashbrown::HashMap::new();
    while r.next_or_err(path)? {
        let line = text::decode(&r.buf);
        let fields = text::split(&line, ',');
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if let Some(l) = fields.get(cols.label) {
            *counts.entry(normalise_label(l)).or_insert(0) += 1;
        }
    }
    Ok(super::sorted_counts(counts))
}
