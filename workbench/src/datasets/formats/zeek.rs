//! Stratosphere / IoT-23 style labelled Zeek `conn.log` (`conn.log.labeled`).
//!
//! Zeek's ASCII log: `#separator \x09`, then `#fields ts uid id.orig_h id.orig_p
//! id.resp_h id.resp_p proto service duration ... label detailedlabel`. Columns are found
//! by the `#fields` line (`detailed-label` / `detailed_label` also accepted); the unset
//! (`-`) and empty (`(empty)`) markers both mean "no value". IoT-23 files separate the
//! last columns (`tunnel_parents   label   detailed-label`) by spaces instead of the
//! separator, in the `#fields` line and in the rows; a row (or `#fields` line) with that
//! quirk is re-split on whitespace. The samples here are all TAB-separated.
//!
//! `label` is `Malicious` (attack), `Benign` or `Background` (benign) or `Unknown`
//! (unlabeled). The attacker is `id.orig_h`, the victim `id.resp_h`, the flow lasts from
//! `ts` to `ts + duration`, and the attack type comes from `detailedlabel`
//! ([`attack_for_detail`]).

use std::borrow::Cow;
use std::path::Path;

use super::text;
use super::{
    collect_import, ip_field, layout_err, row_err, AggregateOptions, Import, ImportReport,
    LabeledFlow, Result, RowError, Tally,
};
use crate::labels::AttackType;

/// How labelled conn.logs are read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZeekOptions {
    /// How attack flows are grouped into episodes.
    pub aggregate: AggregateOptions,
}

/// The attack type of a Malicious flow's `detailedlabel`: contains `exfiltration` →
/// data_exfiltration, `ddos` → ddos, `scan` (e.g. `PartOfAHorizontalPortScan`) →
/// port_scan (all case-insensitive); otherwise `Other(trimmed, lowercased)`, and
/// `malicious` when the detailed label is empty.
pub fn attack_for_detail(detail: &str) -> AttackType {
    let l = detail.trim().to_lowercase();
    if l.contains("exfiltration") {
        AttackType::DataExfiltration
    } else if l.contains("ddos") {
        AttackType::Ddos
    } else if l.contains("scan") {
        AttackType::PortScan
    } else if l.is_empty() {
        AttackType::Other("malicious".to_string())
    } else {
        AttackType::Other(l)
    }
}

/// Reads a labelled conn.log into episodes.
pub fn read(path: &Path, opts: &ZeekOptions) -> Result<Import> {
    collect_import(&opts.aggregate, |sink| for_each_flow(path, opts, sink))
}

struct Columns {
    count: usize,
    ts: usize,
    orig: usize,
    resp: usize,
    duration: Option<usize>,
    label: usize,
    detail: Option<usize>,
}

/// Header state: separator, markers and the current `#fields` columns.
struct Header {
    sep: char,
    unset: String,
    empty: String,
    cols: Option<Columns>,
}

const EXPECTED: &str = "expected a labelled Zeek conn.log (#separator, #fields ts uid id.orig_h \
                        id.orig_p id.resp_h id.resp_p ... label detailedlabel)";

/// Decodes `\x09`-style escapes of the `#separator` line.
fn unescape(s: &str) -> Option<char> {
    match s.strip_prefix("\\x") {
        Some(hex) => u8::from_str_radix(hex, 16).ok().map(char::from),
        None => s.chars().next(),
    }
}

/// Splits a line on the separator, then re-splits on whitespace when the row is short
/// of the expected count (the IoT-23 space-separated label columns).
fn fields(line: &str, sep: char, expected: usize) -> Vec<Cow<'_, str>> {
    let mut f: Vec<Cow<'_, str>> = line.split(sep).map(Cow::Borrowed).collect();
    if f.len() < expected
        && f.last()
            .is_some_and(|l| l.trim().contains(char::is_whitespace))
    {
        if let Some(Cow::Borrowed(last)) = f.pop() {
            f.extend(last.split_whitespace().map(Cow::Borrowed));
        }
    }
    f
}

impl Header {
    /// Applies one `#` directive line; errors are layout problems.
    fn directive(&mut self, line: &str) -> std::result::Result<(), String> {
        if let Some(v) = line.strip_prefix("#separator") {
            self.sep = unescape(v.trim()).ok_or("#separator has no value")?;
            return Ok(());
        }
        let mut parts = line.splitn(2, self.sep);
        let key = parts.next().unwrap_or("");
        let value = parts.next().unwrap_or("");
        match key {
            "#unset_field" => self.unset = value.to_string(),
            "#empty_field" => self.empty = value.to_string(),
            "#fields" => {
                let names: Vec<String> = fields(value, self.sep, usize::MAX)
                    .iter()
                    .flat_map(|n| n.split_whitespace().map(str::to_string).collect::<Vec<_>>())
                    .collect();
                let find = |alts: &[&str]| names.iter().position(|n| alts.contains(&n.as_str()));
                let (Some(ts), Some(orig), Some(resp), Some(label)) = (
                    find(&["ts"]),
                    find(&["id.orig_h"]),
                    find(&["id.resp_h"]),
                    find(&["label"]),
                ) else {
                    return Err(format!(
                        "#fields lacks ts, id.orig_h, id.resp_h or label: {EXPECTED}"
                    ));
                };
                self.cols = Some(Columns {
                    count: names.len(),
                    ts,
                    orig,
                    resp,
                    duration: find(&["duration"]),
                    label,
                    detail: find(&["detailedlabel", "detailed-label", "detailed_label"]),
                });
            }
            _ => {} // #set_separator, #path, #open, #types, #close: not needed.
        }
        Ok(())
    }

    fn value<'a>(&self, v: &'a str) -> &'a str {
        let v = v.trim();
        if v == self.unset || v == self.empty {
            ""
        } else {
            v
        }
    }
}

/// Streams every record of a labelled conn.log to `on_flow` (benign ones too).
pub fn for_each_flow(
    path: &Path,
    _opts: &ZeekOptions,
    on_flow: &mut dyn FnMut(LabeledFlow),
) -> Result<ImportReport> {
    let mut r = text::open(path)?;
    let mut h = Header {
        sep: '\t',
        unset: "-".to_string(),
        empty: "(empty)".to_string(),
        cols: None,
    };
    let mut tally = Tally::new(path);
    let mut any_line = false;
    while r.next_or_err(path)? {
        if r.buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        any_line = true;
        let line = text::decode(&r.buf);
        let line = text::strip_bom(&line);
        if line.starts_with('#') {
            h.directive(line)
                .map_err(|p| layout_err(path, r.line_no, p))?;
            continue;
        }
        let Some(cols) = &h.cols else {
            let shown: String = line.chars().take(60).collect();
            return Err(layout_err(
                path,
                r.line_no,
                format!("record before any #fields line (`{shown}`): {EXPECTED}"),
            ));
        };
        tally.row();
        if r.too_long {
            tally.skip(r.line_no, row_err("record", "line too long", "> 1 MiB"));
            continue;
        }
        let f = fields(line, h.sep, cols.count);
        match row(&f, cols, &h, &mut tally) {
            Ok(Some(flow)) => {
                tally.flow(&flow);
                on_flow(flow);
            }
            Ok(None) => tally.unlabeled(),
            Err(e) => tally.skip(r.line_no, e),
        }
    }
    if !any_line || h.cols.is_none() {
        return Err(layout_err(
            path,
            r.line_no,
            format!("no #fields line; {EXPECTED}"),
        ));
    }
    Ok(tally.finish())
}

fn row(
    f: &[Cow<'_, str>],
    cols: &Columns,
    h: &Header,
    tally: &mut Tally,
) -> std::result::Result<Option<LabeledFlow>, RowError> {
    let need = [
        cols.ts,
        cols.orig,
        cols.resp,
        cols.label,
        cols.duration.unwrap_or(0),
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    if f.len() <= need {
        return Err(row_err("record", "fewer fields than #fields", f.len()));
    }
    let label = h.value(&f[cols.label]);
    tally.label(label);
    let detail = cols
        .detail
        .and_then(|i| f.get(i))
        .map_or("", |d| h.value(d));
    let src = ip_field("id.orig_h", &f[cols.orig])?;
    let dst = ip_field("id.resp_h", &f[cols.resp])?;
    let ts = f[cols.ts].trim();
    let start_ts = text::seconds(ts).ok_or_else(|| row_err("ts", "not epoch seconds", ts))?;
    let duration = match cols.duration.map(|i| h.value(&f[i])) {
        None | Some("") => 0.0,
        Some(d) => text::seconds(d).ok_or_else(|| row_err("duration", "not seconds", d))?,
    };
    let attack = match label.to_ascii_lowercase().as_str() {
        "malicious" => Some(attack_for_detail(detail)),
        "benign" | "background" => None,
        _ => return Ok(None),
    };
    let raw_label = if detail.is_empty() {
        label.to_string()
    } else {
        format!("{label}/{detail}")
    };
    Ok(Some(LabeledFlow {
        src,
        dst,
        start_ts,
        end_ts: start_ts + duration,
        attack,
        raw_label,
    }))
}
