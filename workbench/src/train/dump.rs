//! The hidden `train --dump-rows`: every labelled row as CSV, for benchmarks against
//! other trainers on the same rows.

use std::io::Write;

use anyhow::{Context, Result};

use crate::model::dataset::TrainingData;
use crate::model::Split;

/// Writes every row of `data` (with its split part) and of `test` (part `test`) as CSV:
/// `dataset,part,end_ns,host,label,attack_type,<features...>` (the hidden
/// `train --dump-rows`, for benchmarks against other trainers on the same rows).
pub fn dump_rows(
    path: &std::path::Path,
    data: &TrainingData,
    split: &Split,
    test: Option<&TrainingData>,
) -> Result<()> {
    let f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let mut part = vec!["unused"; data.len()];
    for (rows, name) in [
        (&split.train, "train"),
        (&split.validation, "validation"),
        (&split.test, "test"),
    ] {
        for &i in rows {
            part[i] = name;
        }
    }
    let err = |e: std::io::Error| anyhow::anyhow!("writing {}: {e}", path.display());
    write!(w, "dataset,part,end_ns,host,label,attack_type").map_err(err)?;
    for n in &data.schema.names {
        write!(w, ",{n}").map_err(err)?;
    }
    writeln!(w).map_err(err)?;
    let sets: Vec<(&TrainingData, Option<&[&str]>)> = std::iter::once((data, Some(&part[..])))
        .chain(test.map(|t| (t, None)))
        .collect();
    for (d, parts) in sets {
        for i in 0..d.len() {
            let p = parts.map_or("test", |p| p[i]);
            let (label, attack) = match d.labels[i] {
                Some((e, _)) => (1, d.episodes[e as usize].attack_type.name()),
                None => (0, ""),
            };
            write!(
                w,
                "{},{p},{},{},{label},{attack}",
                d.dataset.replace(',', "_"),
                d.end_ns[i],
                d.hosts[i]
            )
            .map_err(err)?;
            for v in d.row(i) {
                write!(w, ",{v}").map_err(err)?;
            }
            writeln!(w).map_err(err)?;
        }
    }
    w.flush().map_err(err)?;
    Ok(())
}
