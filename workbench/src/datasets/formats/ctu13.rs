//! CTU-13 / Stratosphere Argus `.binetflow` files.
//!
//! Header `StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,
//! TotBytes,SrcBytes,Label`; Slips' variants add `SrcPkts` and may be TAB-separated, so
//! the separator is taken from the header line and columns are found by name. `Dir` has
//! leading spaces (`   ->`, `  <->`, `  <?>`, `who` for ARP) and ports may be hex
//! (`0x0303`) or empty: neither is needed. Rows whose addresses are not IP addresses
//! (Argus also writes MAC addresses for LLC and `0` for its `man` records) are skipped.
//!
//! Labels ([`classify_label`]): `flow=From-Botnet-…` is an attack by `SrcAddr`;
//! `flow=To-Botnet-…` is traffic towards the bot, and the bot is the host of interest, so
//! the attacker is `DstAddr` (the flow is stored with src/dst swapped so that
//! [`super::aggregate`] keys it on the bot); `flow=Background…`, `flow=From-Normal…`,
//! `flow=To-Normal…` are benign; Slips' `flow=Malware-TCP` style labels are attacks by
//! `SrcAddr`; an empty Label is unlabeled (counted, not an error), and so is any other
//! label (e.g. `flow=TCP-Established-To-Microsoft-7` in Slips' test5).

use std::borrow::Cow;
use std::path::Path;

use super::text;
use super::{
    collect_import, ip_field, layout_err, row_err, AggregateOptions, Import, ImportReport,
    LabeledFlow, Result, RowError, Tally,
};
use crate::labels::AttackType;

/// How binetflow timestamps are read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ctu13Options {
    /// Offset of `StartTime`'s clock from UTC, seconds (UTC = local − offset). Default 0,
    /// i.e. the times are taken as UTC. Argus prints local time, and the CTU captures were
    /// made in Prague, so CTU-13's 2011 files are most likely CEST: pass `7200` for them
    /// to get true UTC (check against the pcap when you have it).
    pub utc_offset_s: i64,
    /// How attack flows are grouped into episodes.
    pub aggregate: AggregateOptions,
}

/// What a binetflow label means.
#[derive(Clone, Debug, PartialEq)]
pub enum LabelClass {
    /// Malicious; `bot_is_dst` for `To-Botnet` flows, whose destination is the bot.
    Attack {
        /// `botnet` for CTU-13's Botnet labels, `malware` for Slips' Malware labels.
        attack: AttackType,
        /// The attacker is the destination address.
        bot_is_dst: bool,
    },
    /// Background or normal traffic.
    Benign,
    /// Empty or unrecognised label.
    Unlabeled,
}

/// Classifies a `Label` value (with or without the `flow=` prefix, any case).
pub fn classify_label(label: &str) -> LabelClass {
    let t = label.trim();
    let body = match t.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("flow=") => t.get(5..).unwrap_or(""),
        _ => t,
    };
    let l = body.trim().to_ascii_lowercase();
    let attack = |name: &str, bot_is_dst| LabelClass::Attack {
        attack: AttackType::Other(name.to_string()),
        bot_is_dst,
    };
    if l.is_empty() {
        LabelClass::Unlabeled
    } else if l.starts_with("to-botnet") {
        attack("botnet", true)
    } else if l.contains("botnet") {
        attack("botnet", false)
    } else if l.contains("background") || l.contains("normal") || l.contains("benign") {
        LabelClass::Benign
    } else if l.starts_with("to-malware") {
        attack("malware", true)
    } else if l.contains("malware") || l.contains("malicious") || l.contains("attack") {
        attack("malware", false)
    } else {
        LabelClass::Unlabeled
    }
}

/// Parses `2011/08/10 09:46:59.607825` (also with `-` in the date) to epoch seconds UTC.
pub fn parse_start_time(s: &str, utc_offset_s: i64) -> Option<f64> {
    let (date, clock) = s.trim().split_once(' ')?;
    let mut p = date.split(['/', '-']);
    let (y, m, d) = (p.next()?, p.next()?, p.next()?);
    if p.next().is_some() || y.len() != 4 {
        return None;
    }
    let (hour, minute, second, _) = text::parse_clock(clock.trim())?;
    text::LocalTime {
        year: i64::from(text::small_uint(y)?),
        month: text::small_uint(m)?,
        day: text::small_uint(d)?,
        hour,
        minute,
        second,
    }
    .to_utc(utc_offset_s)
}

/// Reads a binetflow file into episodes.
pub fn read(path: &Path, opts: &Ctu13Options) -> Result<Import> {
    collect_import(&opts.aggregate, |sink| for_each_flow(path, opts, sink))
}

struct Columns {
    start: usize,
    dur: Option<usize>,
    src: usize,
    dst: usize,
    label: usize,
    width: usize,
}

/// Streams every row of a binetflow file to `on_flow` (benign ones too).
pub fn for_each_flow(
    path: &Path,
    opts: &Ctu13Options,
    on_flow: &mut dyn FnMut(LabeledFlow),
) -> Result<ImportReport> {
    const EXPECTED: &str = "expected a binetflow header (StartTime,Dur,Proto,SrcAddr,Sport,\
                            Dir,DstAddr,Dport,State,...,Label), comma- or TAB-separated";
    let mut r = text::open(path)?;
    loop {
        if !r.next_or_err(path)? {
            return Err(layout_err(
                path,
                r.line_no,
                format!("empty file; {EXPECTED}"),
            ));
        }
        if !r.buf.iter().all(u8::is_ascii_whitespace) {
            break;
        }
    }
    let header = text::decode(&r.buf).into_owned();
    let sep = if header.contains('\t') { '\t' } else { ',' };
    let names: Vec<String> = text::split(text::strip_bom(&header), sep)
        .iter()
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    let find = |n: &str| names.iter().position(|x| x == n);
    let (Some(start), Some(src), Some(dst), Some(label)) = (
        find("starttime"),
        find("srcaddr"),
        find("dstaddr"),
        find("label"),
    ) else {
        let shown: String = header.chars().take(80).collect();
        return Err(layout_err(
            path,
            r.line_no,
            format!("{EXPECTED}; found `{shown}`"),
        ));
    };
    let dur = find("dur");
    let width = [start, src, dst, label, dur.unwrap_or(0)]
        .into_iter()
        .max()
        .unwrap_or(0)
        + 1;
    let cols = Columns {
        start,
        dur,
        src,
        dst,
        label,
        width,
    };
    let mut tally = Tally::new(path);
    while r.next_or_err(path)? {
        if r.buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        tally.row();
        if r.too_long {
            tally.skip(r.line_no, row_err("record", "line too long", "> 1 MiB"));
            continue;
        }
        let line = text::decode(&r.buf);
        let fields = text::split(&line, sep);
        match row(&fields, &cols, opts, &mut tally) {
            Ok(Some(flow)) => {
                tally.flow(&flow);
                on_flow(flow);
            }
            Ok(None) => tally.unlabeled(),
            Err(e) => tally.skip(r.line_no, e),
        }
    }
    Ok(tally.finish())
}

fn row(
    fields: &[Cow<'_, str>],
    cols: &Columns,
    opts: &Ctu13Options,
    tally: &mut Tally,
) -> std::result::Result<Option<LabeledFlow>, RowError> {
    if fields.len() < cols.width {
        return Err(row_err(
            "record",
            "fewer fields than the header",
            fields.len(),
        ));
    }
    let label = fields[cols.label].trim();
    tally.label(label);
    let src = ip_field("SrcAddr", &fields[cols.src])?;
    let dst = ip_field("DstAddr", &fields[cols.dst])?;
    let stamp = fields[cols.start].trim();
    let start_ts = parse_start_time(stamp, opts.utc_offset_s)
        .ok_or_else(|| row_err("StartTime", "not a yyyy/mm/dd HH:MM:SS.ffffff time", stamp))?;
    let dur = match cols.dur.map(|i| fields[i].trim()) {
        None | Some("") => 0.0,
        Some(d) => text::seconds(d).ok_or_else(|| row_err("Dur", "not seconds", d))?,
    };
    let (attack, swap) = match classify_label(label) {
        LabelClass::Unlabeled => return Ok(None),
        LabelClass::Benign => (None, false),
        LabelClass::Attack { attack, bot_is_dst } => (Some(attack), bot_is_dst),
    };
    let (src, dst) = if swap { (dst, src) } else { (src, dst) };
    Ok(Some(LabeledFlow {
        src,
        dst,
        start_ts,
        end_ts: start_ts + dur,
        attack,
        raw_label: label.to_string(),
    }))
}
