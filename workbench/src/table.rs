//! Writing feature rows as Parquet or CSV with polars, in bounded batches.
//!
//! Columns: `window_end` (epoch seconds, end of the window, exclusive), `entity` (an
//! address, or `*` for the global row), `window_s` (primary width, seconds), then the
//! schema's features. Rows are buffered column-wise and flushed every
//! [`BATCH_ROWS`] rows, so memory does not grow with the input.
//!
//! Encoding and compressing a batch (polars) runs on a writer thread while the next
//! batch fills: the thread takes one batch at a time (a rendezvous channel), so at most
//! two batches are in memory and the file is the same, byte for byte, as when written
//! inline.

use std::fmt::Write as _;
use std::fs::File;
use std::io::BufWriter;
use std::net::IpAddr;
use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

use anyhow::{anyhow, bail, Context, Result};
use polars::prelude::{
    Column, CsvReader, CsvWriter, DataFrame, DataType, Float64Chunked, IntoColumn, NewChunkedArray,
    ParquetCompression, ParquetReader, ParquetWriter, Schema, SerReader, SerWriter, StringChunked,
};

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
    Parquet(Box<polars::io::parquet::write::BatchedWriter<BufWriter<File>>>),
    Csv(polars::io::csv::write::BatchedWriter<BufWriter<File>>),
}

impl Inner {
    fn write_batch(&mut self, df: &DataFrame) -> polars::prelude::PolarsResult<()> {
        match self {
            Inner::Parquet(w) => w.write_batch(df),
            Inner::Csv(w) => w.write_batch(df),
        }
    }

    fn finish(&mut self) -> polars::prelude::PolarsResult<()> {
        match self {
            Inner::Parquet(w) => w.finish().map(|_| ()),
            Inner::Csv(w) => w.finish(),
        }
    }
}

/// Rows as [`TableWriter::accept`] buffers them: cheap to append on the engine's
/// thread; turned into columns on the writer thread.
struct Batch {
    window_end: Vec<f64>,
    /// Entity texts back to back; `entity_ends[i]` is where row i's ends.
    entity_text: String,
    entity_ends: Vec<usize>,
    width: Vec<f64>,
    /// Feature values, row after row (`names.len()` per row).
    values: Vec<f64>,
}

impl Batch {
    fn with_capacity(rows: usize, features: usize) -> Self {
        Batch {
            window_end: Vec::with_capacity(rows),
            entity_text: String::with_capacity(rows * 16),
            entity_ends: Vec::with_capacity(rows),
            width: Vec::with_capacity(rows),
            values: Vec::with_capacity(rows * features),
        }
    }

    fn len(&self) -> usize {
        self.window_end.len()
    }

    /// The rows as a DataFrame: `window_end`, `entity`, `window_s`, then one column
    /// per feature name.
    fn into_frame(self, names: &[String]) -> Result<DataFrame> {
        let height = self.len();
        let n = names.len();
        if self.values.len() != height * n {
            bail!(
                "{} feature values for {height} rows of {n} features",
                self.values.len()
            );
        }
        let mut cols: Vec<Column> = Vec::with_capacity(n + 3);
        // `from_vec` moves a buffer into its column (no copy).
        let f64_column =
            |name: &str, v: Vec<f64>| Float64Chunked::from_vec(name.into(), v).into_column();
        cols.push(f64_column("window_end", self.window_end));
        let mut start = 0;
        let text = &self.entity_text;
        cols.push(
            StringChunked::from_iter_values(
                "entity".into(),
                self.entity_ends.iter().map(|&end| {
                    let s = &text[start..end];
                    start = end;
                    s
                }),
            )
            .into_column(),
        );
        cols.push(f64_column("window_s", self.width));
        // Row-major → one buffer per feature, 64 rows (~22 KB) at a time so the block
        // being read stays in cache while its values go out to the n columns.
        let mut features: Vec<Vec<f64>> = (0..n).map(|_| Vec::with_capacity(height)).collect();
        if n > 0 {
            for block in self.values.chunks(64 * n) {
                for (j, col) in features.iter_mut().enumerate() {
                    col.extend(block.chunks_exact(n).map(|row| row[j]));
                }
            }
        }
        drop(self.values);
        for (name, col) in names.iter().zip(features) {
            cols.push(f64_column(name, col));
        }
        Ok(DataFrame::new(height, cols)?)
    }
}

/// What the writer thread is sent.
enum ToWriter {
    Batch(Batch),
    /// Write the file's footer: [`TableWriter::finish`]. Without it (a writer dropped
    /// on an error path) the thread stops and the file stays unfinished, as before.
    Finish,
}

/// The writer thread: batches in, in order; its result is the first error.
struct Background {
    tx: Option<SyncSender<ToWriter>>,
    handle: Option<JoinHandle<Result<()>>>,
}

impl Background {
    fn start(mut inner: Inner, path: &Path, names: Vec<String>) -> Result<Self> {
        let (tx, rx) = sync_channel::<ToWriter>(0);
        let path = path.to_path_buf();
        let handle = std::thread::Builder::new()
            .name("table-writer".into())
            .spawn(move || -> Result<()> {
                for msg in rx {
                    match msg {
                        ToWriter::Batch(batch) => batch
                            .into_frame(&names)
                            .and_then(|df| Ok(inner.write_batch(&df)?))
                            .with_context(|| format!("writing {}", path.display()))?,
                        ToWriter::Finish => {
                            inner.finish()?;
                            break;
                        }
                    }
                }
                Ok(())
            })
            .context("starting the table writer thread")?;
        Ok(Background {
            tx: Some(tx),
            handle: Some(handle),
        })
    }

    /// Hands a batch to the thread; false when the thread has stopped (on an error,
    /// which [`Self::join`] returns).
    fn send(&mut self, msg: ToWriter) -> bool {
        match &self.tx {
            Some(tx) => tx.send(msg).is_ok(),
            None => false,
        }
    }

    /// Closes the channel and waits for the thread to end (after the footer when
    /// [`ToWriter::Finish`] was sent).
    fn join(&mut self) -> Result<()> {
        self.tx = None;
        match self.handle.take() {
            Some(h) => h
                .join()
                .map_err(|_| anyhow!("the table writer thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // A writer dropped without `finish` (an error elsewhere): let the thread end.
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// A [`RowSink`] that writes a feature table file.
pub struct TableWriter {
    writer: Background,
    features: usize,
    batch: Batch,
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
            TableFormat::Parquet => Inner::Parquet(Box::new(
                ParquetWriter::new(out)
                    // zstd: measured fewer instructions than snappy here (callgrind).
                    .with_compression(ParquetCompression::Zstd(None))
                    // Encode on the writer thread only: it already runs beside the
                    // engine, and polars' pool (one thread per core) would take turns
                    // with the engine's thread. Same pages, in the same order.
                    .set_parallel(false)
                    .batched(&pl_schema)
                    .with_context(|| format!("starting Parquet file {}", path.display()))?,
            )),
            TableFormat::Csv => Inner::Csv(
                CsvWriter::new(out)
                    .include_header(true)
                    .batched(&pl_schema)
                    .with_context(|| format!("starting CSV file {}", path.display()))?,
            ),
        };
        Ok(TableWriter {
            writer: Background::start(inner, path, schema.names.clone())?,
            features: schema.len(),
            batch: Batch::with_capacity(BATCH_ROWS, schema.len()),
            rows: 0,
            error: None,
        })
    }

    /// Rows accepted so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Hands the buffered rows to the writer thread.
    fn flush(&mut self) -> Result<()> {
        if self.batch.len() == 0 {
            return Ok(());
        }
        let batch = std::mem::replace(
            &mut self.batch,
            Batch::with_capacity(BATCH_ROWS, self.features),
        );
        if !self.writer.send(ToWriter::Batch(batch)) {
            // The thread stopped on an error (in context already); `join` returns it.
            self.writer.join()?;
            bail!("the table writer thread stopped");
        }
        Ok(())
    }

    /// Writes what is buffered and closes the file; returns the number of rows.
    pub fn finish(mut self) -> Result<u64> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.flush()?;
        if !self.writer.send(ToWriter::Finish) {
            self.writer.join()?;
            bail!("the table writer thread stopped");
        }
        self.writer.join()?;
        Ok(self.rows)
    }
}

impl RowSink for TableWriter {
    fn accept(&mut self, row: RowRef<'_>) {
        if self.error.is_some() {
            return;
        }
        let b = &mut self.batch;
        b.window_end.push(row.window_end_ns as f64 / 1e9);
        push_entity_text(&mut b.entity_text, &row.entity);
        b.entity_ends.push(b.entity_text.len());
        b.width.push(row.width_s);
        b.values.extend_from_slice(row.values);
        self.rows += 1;
        if b.len() >= BATCH_ROWS {
            if let Err(e) = self.flush() {
                self.error = Some(e);
            }
        }
    }
}

/// Appends the entity column's text: `*` or the address. IPv4 is formatted by hand
/// because `Display` for addresses cost ~9% of the whole run on a flood (one row per
/// spoofed source).
fn push_entity_text(out: &mut String, e: &Entity) {
    match e {
        Entity::Host(IpAddr::V4(v4)) => {
            for (i, octet) in v4.octets().iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                let o = *octet;
                if o >= 100 {
                    out.push((b'0' + o / 100) as char);
                }
                if o >= 10 {
                    out.push((b'0' + (o / 10) % 10) as char);
                }
                out.push((b'0' + o % 10) as char);
            }
        }
        Entity::Global => out.push('*'),
        Entity::Host(a) => {
            // Writing to a String cannot fail.
            let _ = write!(out, "{a}");
        }
    }
}

#[cfg(test)]
fn entity_text(e: &Entity) -> String {
    let mut s = String::new();
    push_entity_text(&mut s, e);
    s
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

    /// Rows of a few batches (the writer thread takes them one at a time) come back in
    /// order with their values, from Parquet and from CSV.
    #[test]
    fn batches_written_on_the_writer_thread_read_back_in_order() {
        let schema = FeatureSchema::for_widths(&[2.0]);
        let n = 2 * BATCH_ROWS + 123;
        let entity = |i: usize| match i % 3 {
            0 => Entity::Global,
            1 => Entity::Host(IpAddr::from([10, (i >> 16) as u8, (i >> 8) as u8, i as u8])),
            _ => Entity::Host(IpAddr::from([
                0x2001,
                0xdb8,
                0,
                0,
                0,
                0,
                (i >> 16) as u16,
                i as u16,
            ])),
        };
        let dir = tempfile::tempdir().unwrap();
        for name in ["t.parquet", "t.csv"] {
            let path = dir.path().join(name);
            let mut w = TableWriter::create(&path, &schema).unwrap();
            let mut values = vec![0.0; schema.len()];
            for i in 0..n {
                for (j, v) in values.iter_mut().enumerate() {
                    *v = (i * 64 + j) as f64 / 8.0;
                }
                w.accept(RowRef {
                    window_end_ns: 1_700_000_000_000_000_000 + i as u64 * 500_000_000,
                    entity: entity(i),
                    width_s: 2.0,
                    values: &values,
                });
            }
            assert_eq!(w.finish().unwrap(), n as u64);
            let mut rows: Vec<crate::engine::FeatureRow> = Vec::new();
            let fed = feed_table(&path, &schema, 2.0, &mut rows).unwrap();
            assert_eq!(fed.rows, n as u64, "{name}");
            for (i, r) in rows.iter().enumerate() {
                assert_eq!(r.entity, entity(i), "{name} row {i}");
                assert_eq!(
                    r.window_end_ns,
                    1_700_000_000_000_000_000 + i as u64 * 500_000_000,
                    "{name} row {i}"
                );
                assert_eq!(r.values[5], (i * 64 + 5) as f64 / 8.0, "{name} row {i}");
            }
        }
    }

    /// A write error on the writer thread (a full disk) comes back from `finish`,
    /// naming the file.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_write_error_on_the_writer_thread_is_returned_by_finish() {
        let schema = FeatureSchema::for_widths(&[2.0]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("full.parquet");
        std::os::unix::fs::symlink("/dev/full", &path).unwrap();
        let mut w = TableWriter::create(&path, &schema).unwrap();
        let values: Vec<f64> = (0..schema.len()).map(|j| j as f64).collect();
        for i in 0..3 * BATCH_ROWS {
            w.accept(RowRef {
                window_end_ns: i as u64,
                entity: Entity::Global,
                width_s: 2.0,
                values: &values,
            });
        }
        let err = format!("{:#}", w.finish().unwrap_err());
        assert!(
            err.starts_with("writing ") && err.contains("full.parquet"),
            "{err}"
        );
    }
}
