//! Writing feature rows as Parquet or CSV with polars, in bounded batches.
//!
//! Columns: `window_end` (epoch seconds, end of the window, exclusive), `entity` (an
//! address, or `*` for the global row), `window_s` (primary width, seconds), then the
//! schema's features. Rows are buffered column-wise and flushed every
//! [`BATCH_ROWS`] rows, so memory does not grow with the input.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use polars::prelude::{
    Column, CsvReader, CsvWriter, DataFrame, DataType, ParquetCompression, ParquetReader,
    ParquetWriter, Schema, SerReader, SerWriter,
};

use std::net::IpAddr;

use crate::engine::{Entity, FeatureSchema, RowRef, RowSink};

/// Rows buffered before a batch is written.
pub const BATCH_ROWS: usize = 65_536;

/// Output format, chosen by file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFormat {
    /// Apache Parquet (`.parquet`, `.pq`), zstd-compressed.
    Parquet,
    /// Comma-separated text with a header (`.csv`).
    Csv,
}

impl TableFormat {
    /// The format for a path's extension.
    pub fn from_path(path: &Path) -> Result<Self> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("parquet") | Some("pq") => Ok(TableFormat::Parquet),
            Some("csv") => Ok(TableFormat::Csv),
            _ => bail!(
                "{}: unknown table format; use a .parquet or .csv extension",
                path.display()
            ),
        }
    }
}

enum Inner {
    Parquet(polars::io::parquet::write::BatchedWriter<BufWriter<File>>),
    Csv(polars::io::csv::write::BatchedWriter<BufWriter<File>>),
}

/// A [`RowSink`] that writes a feature table file.
pub struct TableWriter {
    path: PathBuf,
    inner: Inner,
    names: Vec<String>,
    window_end: Vec<f64>,
    entity: Vec<String>,
    width: Vec<f64>,
    columns: Vec<Vec<f64>>,
    rows: u64,
    error: Option<anyhow::Error>,
}

impl TableWriter {
    /// Creates the file (and its directory) for rows of `schema`.
    pub fn create(path: &Path, schema: &FeatureSchema) -> Result<Self> {
        let format = TableFormat::from_path(path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating directory {}", dir.display()))?;
        }
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let out = BufWriter::with_capacity(1 << 20, file);
        let pl_schema = polars_schema(schema);
        let inner = match format {
            TableFormat::Parquet => Inner::Parquet(
                ParquetWriter::new(out)
                    // zstd: measured fewer instructions than snappy here (callgrind).
                    .with_compression(ParquetCompression::Zstd(None))
                    .batched(&pl_schema)
                    .with_context(|| format!("starting Parquet file {}", path.display()))?,
            ),
            TableFormat::Csv => Inner::Csv(
                CsvWriter::new(out)
                    .include_header(true)
                    .batched(&pl_schema)
                    .with_context(|| format!("starting CSV file {}", path.display()))?,
            ),
        };
        Ok(TableWriter {
            path: path.to_path_buf(),
            inner,
            names: schema.names.clone(),
            window_end: Vec::with_capacity(BATCH_ROWS),
            entity: Vec::with_capacity(BATCH_ROWS),
            width: Vec::with_capacity(BATCH_ROWS),
            columns: vec![Vec::with_capacity(BATCH_ROWS); schema.len()],
            rows: 0,
            error: None,
        })
    }

    /// Rows accepted so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn flush(&mut self) -> Result<()> {
        if self.window_end.is_empty() {
            return Ok(());
        }
        let height = self.window_end.len();
        let mut cols: Vec<Column> = Vec::with_capacity(self.columns.len() + 3);
        cols.push(Column::new(
            "window_end".into(),
            std::mem::take(&mut self.window_end),
        ));
        cols.push(Column::new(
            "entity".into(),
            std::mem::take(&mut self.entity),
        ));
        cols.push(Column::new(
            "window_s".into(),
            std::mem::take(&mut self.width),
        ));
        for (name, col) in self.names.iter().zip(self.columns.iter_mut()) {
            cols.push(Column::new(name.as_str().into(), std::mem::take(col)));
        }
        let df = DataFrame::new(height, cols)?;
        match &mut self.inner {
            Inner::Parquet(w) => w.write_batch(&df)?,
            Inner::Csv(w) => w.write_batch(&df)?,
        }
        self.window_end.reserve(BATCH_ROWS);
        self.entity.reserve(BATCH_ROWS);
        self.width.reserve(BATCH_ROWS);
        for c in &mut self.columns {
            c.reserve(BATCH_ROWS);
        }
        Ok(())
    }

    /// Writes what is buffered and closes the file; returns the number of rows.
    pub fn finish(mut self) -> Result<u64> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.flush()
            .with_context(|| format!("writing {}", self.path.display()))?;
        match &mut self.inner {
            Inner::Parquet(w) => {
                w.finish()?;
            }
            Inner::Csv(w) => w.finish()?,
        }
        Ok(self.rows)
    }
}

impl RowSink for TableWriter {
    fn accept(&mut self, row: RowRef<'_>) {
        if self.error.is_some() {
            return;
        }
        self.window_end.push(row.window_end_ns as f64 / 1e9);
        self.entity.push(entity_text(&row.entity));
        self.width.push(row.width_s);
        for (col, v) in self.columns.iter_mut().zip(row.values) {
            col.push(*v);
        }
        self.rows += 1;
        if self.window_end.len() >= BATCH_ROWS {
            if let Err(e) = self.flush() {
                self.error = Some(e.context(format!("writing {}", self.path.display())));
            }
        }
    }
}

/// The entity column's text: `*` or the address. IPv4 is formatted by hand because
/// `Display` for addresses cost ~9% of the whole run on a flood (one row per spoofed
/// source).
fn entity_text(e: &Entity) -> String {
    match e {
        Entity::Host(IpAddr::V4(v4)) => {
            let mut s = String::with_capacity(15);
            for (i, octet) in v4.octets().iter().enumerate() {
                if i > 0 {
                    s.push('.');
                }
                let o = *octet;
                if o >= 100 {
                    s.push((b'0' + o / 100) as char);
                }
                if o >= 10 {
                    s.push((b'0' + (o / 10) % 10) as char);
                }
                s.push((b'0' + o % 10) as char);
            }
            s
        }
        other => other.to_string(),
    }
}

fn polars_schema(schema: &FeatureSchema) -> Schema {
    let mut s = Schema::default();
    s.insert("window_end".into(), DataType::Float64);
    s.insert("entity".into(), DataType::String);
    s.insert("window_s".into(), DataType::Float64);
    for n in &schema.names {
        s.insert(n.as_str().into(), DataType::Float64);
    }
    s
}

/// Reads a feature table written by [`TableWriter`] (either format) into a DataFrame.
pub fn read_table(path: &Path) -> Result<DataFrame> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let df = match TableFormat::from_path(path)? {
        TableFormat::Parquet => ParquetReader::new(file).finish(),
        TableFormat::Csv => CsvReader::new(file).finish(),
    };
    df.with_context(|| format!("reading {}", path.display()))
}

/// What feeding a table to a sink did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableFeed {
    /// Rows handed to the sink (global and host rows).
    pub rows: u64,
}

/// Reads a feature table written by `workbench features` and hands its rows to `sink`
/// as if the engine had emitted them: the replay path for rows computed earlier (a
/// dataset shipped as features, without its packets).
///
/// The table must have been computed with this engine's schema (the same feature
/// columns in the same order) and primary window width; anything else is an error that
/// names the table and the first column or row that differs, and no row is fed.
pub fn feed_table(
    path: &Path,
    schema: &FeatureSchema,
    width_s: f64,
    sink: &mut dyn RowSink,
) -> Result<TableFeed> {
    let df = read_table(path)?;
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let fixed = ["window_end", "entity", "window_s"];
    for (i, want) in fixed.iter().enumerate() {
        if names.get(i).map(String::as_str) != Some(*want) {
            bail!(
                "{}: column {} is {:?}, expected {want:?} (a table written by `workbench features`)",
                path.display(),
                i + 1,
                names.get(i).map(String::as_str).unwrap_or("(none)")
            );
        }
    }
    let features = &names[fixed.len()..];
    if features != schema.names.as_slice() {
        let at = features
            .iter()
            .zip(&schema.names)
            .position(|(a, b)| a != b)
            .unwrap_or(features.len().min(schema.names.len()));
        bail!(
            "{}: its {} feature columns are not this engine's schema v{} ({} columns): they first differ at column {} ({:?} vs {:?}); recompute the table with `workbench features` from its captures",
            path.display(),
            features.len(),
            schema.version,
            schema.names.len(),
            at + fixed.len() + 1,
            features.get(at).map(String::as_str).unwrap_or("(none)"),
            schema.names.get(at).map(String::as_str).unwrap_or("(none)"),
        );
    }
    let float_column = |name: &str| -> Result<Vec<Option<f64>>> {
        let c = df
            .column(name)
            .and_then(|c| c.cast(&DataType::Float64))
            .with_context(|| format!("{}: column {name:?}", path.display()))?;
        let ca = c
            .f64()
            .with_context(|| format!("{}: column {name:?}", path.display()))?;
        Ok(ca.iter().collect())
    };
    let ends = float_column("window_end")?;
    let widths = float_column("window_s")?;
    let entities: Vec<Option<String>> = df
        .column("entity")
        .and_then(|c| c.cast(&DataType::String))
        .and_then(|c| {
            c.str()
                .map(|s| s.iter().map(|v| v.map(str::to_string)).collect())
        })
        .with_context(|| format!("{}: column \"entity\"", path.display()))?;
    let columns: Vec<Vec<Option<f64>>> = schema
        .names
        .iter()
        .map(|n| float_column(n))
        .collect::<Result<_>>()?;
    // Check every row before feeding any, so a bad table adds nothing.
    let n = df.height();
    let mut parsed = Vec::with_capacity(n);
    for r in 0..n {
        let row_err = |what: String| anyhow::anyhow!("{}: row {}: {what}", path.display(), r + 1);
        let end = ends[r]
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| row_err("window_end is missing or not a time".into()))?;
        let w = widths[r].ok_or_else(|| row_err("window_s is missing".into()))?;
        if (w - width_s).abs() > 1e-9 {
            return Err(row_err(format!(
                "window_s is {w}, but the engine's primary window is {width_s} s (use the same --window)"
            )));
        }
        let entity: Entity = entities[r]
            .as_deref()
            .ok_or_else(|| row_err("entity is missing".into()))?
            .parse()
            .map_err(|_| row_err(format!("entity {:?} is not an address or `*`", entities[r])))?;
        for (c, col) in columns.iter().enumerate() {
            if col[r].is_none() {
                return Err(row_err(format!("{} is missing", schema.names[c])));
            }
        }
        parsed.push(((end * 1e9).round() as u64, entity));
    }
    let mut values = vec![0.0f64; schema.names.len()];
    for (r, (end_ns, entity)) in parsed.into_iter().enumerate() {
        for (v, col) in values.iter_mut().zip(&columns) {
            *v = col[r].unwrap_or(f64::NAN);
        }
        sink.accept(RowRef {
            window_end_ns: end_ns,
            entity,
            width_s,
            values: &values,
        });
    }
    Ok(TableFeed { rows: n as u64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_text_equals_display() {
        for a in [
            "0.0.0.0",
            "1.2.3.4",
            "10.100.255.9",
            "255.255.255.255",
            "::1",
            "2001:db8::7",
        ] {
            let e = Entity::Host(a.parse().unwrap());
            assert_eq!(entity_text(&e), e.to_string());
        }
        assert_eq!(entity_text(&Entity::Global), "*");
    }
}
