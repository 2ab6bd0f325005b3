//! UNSW-NB15 raw flow CSVs (`UNSW-NB15_1.csv` .. `_4.csv`).
//!
//! The raw files have no header and 49 columns (see `NUSW-NB15_features.csv`); we use
//! `srcip` (0), `dstip` (2), `Stime` (28) and `Ltime` (29), epoch seconds, `attack_cat`
//! (47) and `Label` (48). Ports may be hex (`0x000b`) or `-`; they are not needed.
//! `attack_cat` comes with stray spaces and variants (` Fuzzers `, `Backdoors` /
//! `Backdoor`, ` Reconnaissance `): see [`normalise_category`] and [`attack_for_category`].
//!
//! Other layouts are recognised and refused with a clear error:
//! - the 45-column training/testing set (`id,dur,proto,...,attack_cat,label`, often with
//!   a UTF-8 BOM) has no addresses or times ([`FormatError::NoFlowColumns`]);
//!   [`label_counts`] still reads its labels;
//! - raw rows *without* the label columns, e.g. a copy whose header line was replaced by
//!   the training-set header and whose last 3 columns were dropped (46 fields). With
//!   [`UnswOptions::address_plan`] such rows are labelled by the dataset's documented
//!   address plan instead.

use std::borrow::Cow;
use std::net::IpAddr;
use std::path::Path;

use super::text::{self, LineReader};
use super::{
    collect_import, ip_field, layout_err, row_err, AggregateOptions, FormatError, Import,
    ImportReport, LabeledFlow, Result, RowError, Tally,
};
use crate::labels::AttackType;

/// How UNSW-NB15 raw files are read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UnswOptions {
    /// Label rows that lack the `attack_cat`/`Label` columns by the address plan of the
    /// testbed: `srcip` in 175.45.176.0/24 → `dstip` in 149.171.126.0/24 is attack
    /// (type `unsw_attack`), 59.166.0.0/24 ↔ 149.171.126.0/24 is normal, anything else
    /// unlabeled. Rows that do have labels always use them. Default off.
    pub address_plan: bool,
    /// How attack flows are grouped into episodes.
    pub aggregate: AggregateOptions,
}

/// Number of columns of a raw UNSW-NB15 row.
pub const RAW_COLUMNS: usize = 49;

/// Positions of the columns used, in raw rows.
#[derive(Clone, Copy)]
struct RawCols {
    src: usize,
    dst: usize,
    stime: usize,
    ltime: usize,
    cat: Option<usize>,
    label: Option<usize>,
}

const RAW49: RawCols = RawCols {
    src: 0,
    dst: 2,
    stime: 28,
    ltime: 29,
    cat: Some(47),
    label: Some(48),
};

enum Layout {
    /// Raw rows; `pending` is the first data line, already read while detecting.
    Raw {
        cols: RawCols,
        pending: Option<(u64, Vec<u8>)>,
        /// Line of a header that is not the raw format's (raw files have none).
        foreign_header: Option<u64>,
    },
    /// The 45-column training/testing set.
    TrainTest {
        cat: Option<usize>,
        label: Option<usize>,
        pending: Option<(u64, Vec<u8>)>,
    },
}

fn next_nonblank<R: std::io::BufRead>(r: &mut LineReader<R>, path: &Path) -> Result<bool> {
    while r.next_or_err(path)? {
        if !r.buf.iter().all(u8::is_ascii_whitespace) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn starts_with_ip(line: &[u8]) -> bool {
    let line = text::decode(line);
    let first = text::strip_bom(&line).split(',').next().unwrap_or("");
    first.trim().parse::<IpAddr>().is_ok()
}

fn detect<R: std::io::BufRead>(r: &mut LineReader<R>, path: &Path) -> Result<Layout> {
    if !next_nonblank(r, path)? {
        return Err(layout_err(
            path,
            r.line_no,
            "empty file; expected raw UNSW-NB15 rows (49 fields: srcip,sport,dstip,...)",
        ));
    }
    if starts_with_ip(&r.buf) {
        let pending = Some((r.line_no, r.buf.clone()));
        return Ok(Layout::Raw {
            cols: RAW49,
            pending,
            foreign_header: None,
        });
    }
    let header_line = r.line_no;
    let line = text::decode(&r.buf).into_owned();
    let names: Vec<String> = text::split(text::strip_bom(&line), ',')
        .iter()
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    let find = |n: &str| names.iter().position(|x| x == n);
    if let (Some(src), Some(dst), Some(stime)) = (find("srcip"), find("dstip"), find("stime")) {
        // A raw file someone gave a header (names from NUSW-NB15_features.csv).
        let cols = RawCols {
            src,
            dst,
            stime,
            ltime: find("ltime").unwrap_or(stime),
            cat: find("attack_cat"),
            label: find("label"),
        };
        return Ok(Layout::Raw {
            cols,
            pending: None,
            foreign_header: None,
        });
    }
    if find("label").is_none() && find("attack_cat").is_none() {
        let shown: String = line.chars().take(80).collect();
        return Err(layout_err(
            path,
            header_line,
            format!(
                "expected raw UNSW-NB15 rows (49 fields, no header: srcip,sport,dstip,...) \
                 or a training/testing-set header (id,dur,proto,...,attack_cat,label); \
                 found `{shown}`"
            ),
        ));
    }
    // A training/testing-set header: the rows tell whether it really is that file.
    let pending = if next_nonblank(r, path)? {
        Some((r.line_no, r.buf.clone()))
    } else {
        None
    };
    if pending.as_ref().is_some_and(|(_, b)| starts_with_ip(b)) {
        return Ok(Layout::Raw {
            cols: RAW49,
            pending,
            foreign_header: Some(header_line),
        });
    }
    Ok(Layout::TrainTest {
        cat: find("attack_cat"),
        label: find("label"),
        pending,
    })
}

/// Reads a raw UNSW-NB15 CSV into episodes.
pub fn read(path: &Path, opts: &UnswOptions) -> Result<Import> {
    collect_import(&opts.aggregate, |sink| for_each_flow(path, opts, sink))
}

/// Streams every row of a raw UNSW-NB15 CSV to `on_flow` (normal ones too).
pub fn for_each_flow(
    path: &Path,
    opts: &UnswOptions,
    on_flow: &mut dyn FnMut(LabeledFlow),
) -> Result<ImportReport> {
    let mut r = text::open(path)?;
    let (cols, pending, foreign) = match detect(&mut r, path)? {
        Layout::Raw {
            cols,
            pending,
            foreign_header,
        } => (cols, pending, foreign_header),
        Layout::TrainTest { .. } => {
            return Err(FormatError::NoFlowColumns {
                file: path.display().to_string(),
                variant: "this UNSW-NB15 training/testing-set CSV (45 columns)".to_string(),
                missing: "srcip/dstip/Stime/Ltime".to_string(),
            })
        }
    };
    // Refuse up front a file whose rows cannot carry labels, unless asked for the plan.
    if let Some((line_no, bytes)) = &pending {
        let n = text::split(&text::decode(bytes), ',').len();
        let has_labels = cols.label.is_some_and(|l| l < n);
        if !has_labels && !opts.address_plan {
            let header = match foreign {
                Some(h) => {
                    format!("line {h} is a training/testing-set header (raw files have none) and ")
                }
                None => String::new(),
            };
            return Err(layout_err(
                path,
                *line_no,
                format!(
                    "{header}rows are raw UNSW-NB15 records with {n} fields, but the raw \
                     format has {RAW_COLUMNS} (...,ct_dst_src_ltm,attack_cat,Label): the label \
                     columns are missing, so no row can be labelled; set address_plan to \
                     label rows by the dataset's documented address plan"
                ),
            ));
        }
    }
    let mut tally = Tally::new(path);
    let mut handle = |line_no: u64, bytes: &[u8], too_long: bool, tally: &mut Tally| {
        tally.row();
        if too_long {
            tally.skip(line_no, row_err("record", "line too long", "> 1 MiB"));
            return;
        }
        let line = text::decode(bytes);
        let fields = text::split(&line, ',');
        match row(&fields, cols, opts, tally) {
            Ok(Some(flow)) => {
                tally.flow(&flow);
                on_flow(flow);
            }
            Ok(None) => tally.unlabeled(),
            Err(e) => tally.skip(line_no, e),
        }
    };
    if let Some((line_no, bytes)) = &pending {
        handle(*line_no, bytes, false, &mut tally);
    }
    while next_nonblank(&mut r, path)? {
        handle(r.line_no, &r.buf, r.too_long, &mut tally);
    }
    Ok(tally.finish())
}

fn row(
    fields: &[Cow<'_, str>],
    cols: RawCols,
    opts: &UnswOptions,
    tally: &mut Tally,
) -> std::result::Result<Option<LabeledFlow>, RowError> {
    let need = cols.src.max(cols.dst).max(cols.stime).max(cols.ltime);
    if fields.len() <= need {
        return Err(row_err("record", "too few fields", fields.len()));
    }
    // Rows carry labels when the label columns are there (49 fields in a raw file).
    let labels = match (cols.cat, cols.label) {
        (Some(c), Some(l)) if l < fields.len() && c < fields.len() => {
            Some((normalise_category(&fields[c]), fields[l].trim()))
        }
        _ => None,
    };
    let src = ip_field("srcip", &fields[cols.src]);
    let dst = ip_field("dstip", &fields[cols.dst]);
    let (attack, label) = match labels {
        Some((cat, "0")) if cat.is_empty() => (None, "normal".to_string()),
        Some((cat, "0")) => (None, cat),
        Some((cat, "1")) if cat.is_empty() => {
            (Some(attack_for_category(&cat)), "unsw_attack".into())
        }
        Some((cat, "1")) => (Some(attack_for_category(&cat)), cat),
        Some((_, other)) => return Err(row_err("Label", "not 0 or 1", other)),
        None if !opts.address_plan => {
            return Err(row_err(
                "record",
                "no attack_cat/Label columns",
                fields.len(),
            ))
        }
        None => {
            // No labels in the row: classify by addresses, so they must parse first.
            let (src, dst) = (src?, dst?);
            let plan = address_plan(src, dst);
            tally.label(match plan {
                Some(true) => "attack (address plan)",
                Some(false) => "normal (address plan)",
                None => "unknown (address plan)",
            });
            let start_ts = time(&fields[cols.stime], "Stime")?;
            let end_ts = time(&fields[cols.ltime], "Ltime")?.max(start_ts);
            let Some(attack) = plan else {
                return Ok(None);
            };
            return Ok(Some(LabeledFlow {
                src,
                dst,
                start_ts,
                end_ts,
                attack: attack.then(|| AttackType::Other("unsw_attack".to_string())),
                raw_label: if attack { "attack" } else { "normal" }.to_string(),
            }));
        }
    };
    tally.label(&label);
    let (src, dst) = (src?, dst?);
    let start_ts = time(&fields[cols.stime], "Stime")?;
    // Ltime is the last packet; never before Stime in the samples, but clamp anyway.
    let end_ts = time(&fields[cols.ltime], "Ltime")?.max(start_ts);
    Ok(Some(LabeledFlow {
        src,
        dst,
        start_ts,
        end_ts,
        attack,
        raw_label: label,
    }))
}

fn time(value: &str, field: &str) -> std::result::Result<f64, RowError> {
    text::seconds(value).ok_or_else(|| row_err(field, "not epoch seconds", value))
}

/// `Some(true)` attack, `Some(false)` normal, `None` neither, by the testbed's plan.
pub fn address_plan(src: IpAddr, dst: IpAddr) -> Option<bool> {
    let net = |ip: IpAddr, p: [u8; 3]| matches!(ip, IpAddr::V4(v) if v.octets()[..3] == p);
    const ATTACKERS: [u8; 3] = [175, 45, 176];
    const SERVERS: [u8; 3] = [149, 171, 126];
    const CLIENTS: [u8; 3] = [59, 166, 0];
    if net(src, ATTACKERS) && net(dst, SERVERS) {
        Some(true)
    } else if (net(src, CLIENTS) && net(dst, SERVERS)) || (net(src, SERVERS) && net(dst, CLIENTS)) {
        Some(false)
    } else {
        None
    }
}

/// Trims and lowercases a category, collapses inner whitespace and folds the plural
/// `backdoors` into `backdoor`.
pub fn normalise_category(raw: &str) -> String {
    let s = raw
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    if s == "backdoors" {
        "backdoor".to_string()
    } else {
        s
    }
}

/// The attack type of a normalised category: `reconnaissance` → port_scan; everything
/// else (including `dos`, which covers many non-flood DoS exploits, so it is not mapped
/// to a flood type) is `Other(category)`; an empty category is `unsw_attack`.
pub fn attack_for_category(cat: &str) -> AttackType {
    match cat {
        "reconnaissance" => AttackType::PortScan,
        "" => AttackType::Other("unsw_attack".to_string()),
        c => AttackType::Other(c.to_string()),
    }
}

/// Label counts of a raw (49-column) or training/testing-set file: the normalised
/// `attack_cat`, `normal` for label-0 rows with an empty category. Files without label
/// columns are an error.
pub fn label_counts(path: &Path) -> Result<Vec<(String, u64)>> {
    let mut r = text::open(path)?;
    let (cat, label, pending) = match detect(&mut r, path)? {
        Layout::TrainTest {
            cat,
            label,
            pending,
        } => (cat, label, pending),
        Layout::Raw { cols, pending, .. } => (cols.cat, cols.label, pending),
    };
    let mut counts = hashbrown::HashMap::new();
    let mut missing = None;
    let mut count = |line_no: u64, bytes: &[u8]| {
        let line = text::decode(bytes);
        let fields = text::split(&line, ',');
        let get = |i: Option<usize>| i.and_then(|i| fields.get(i)).map(|f| f.trim());
        match (get(cat), get(label)) {
            (None, None) => {
                missing.get_or_insert((line_no, fields.len()));
            }
            (c, l) => {
                let c = normalise_category(c.unwrap_or(""));
                let key = if c.is_empty() && l == Some("0") {
                    "normal".into()
                } else {
                    c
                };
                *counts.entry(key).or_insert(0) += 1;
            }
        }
    };
    if let Some((line_no, bytes)) = &pending {
        count(*line_no, bytes);
    }
    while next_nonblank(&mut r, path)? {
        count(r.line_no, &r.buf);
    }
    match missing {
        Some((line, n)) if counts.is_empty() => Err(layout_err(
            path,
            line,
            format!("rows have {n} fields and no attack_cat/Label columns"),
        )),
        _ => Ok(super::sorted_counts(counts)),
    }
}
