//! Our own histogram gradient-boosting trainer (log loss), writing [`TreeEnsemble`]s.
//!
//! Why our own: forust-ml copied the rows to a column-major `f64` matrix and re-binned
//! them on every fit, and was 1.8× slower than XGBoost on a 1.2 M-row table (issue 4
//! wants ≤ 1.5×). This trainer follows XGBoost's `hist` method:
//!
//! - every feature is quantised once to at most 255 value bins (weighted quantiles of
//!   the training rows, the weight of a positive row counting like XGBoost's sample
//!   weight) plus one bin for NaN; the bins are stored as `u8`, row-major (walking
//!   rows through a tree), column-major (partitioning a node by one feature) and as
//!   sparse rows that leave out each feature's most common bin (histograms);
//! - gradients and hessians of the (class-weighted) log loss, depth-wise growth to
//!   `depth`, one gradient histogram per node, built for the smaller child only and
//!   subtracted from the parent's for the larger one; a histogram adds up the cells
//!   of the sparse rows and gets each common bin as the node's total minus the other
//!   bins (LightGBM's trick: window features are mostly one value);
//! - the split gain is XGBoost's `G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)`, kept when it
//!   exceeds `gamma` and both children hold at least `min_child_weight` of hessian;
//!   NaN rows go to whichever side gives the higher gain (to the child with more
//!   hessian when the node has no NaN rows);
//! - leaves are `−learning_rate · G/(H+λ)`, rounded to `f32` (so that ONNX, which stores
//!   `f32` leaves, sums the same numbers).
//!
//! A split after value bin `b` of feature `f` becomes the node threshold
//! `lower_bound(b + 1)`, which is a training value (an exact `f32`): for every training
//! row `bin ≤ b` ⇔ `value < threshold`, so the ensemble scores the training rows exactly
//! as the trainer partitioned them (a unit test checks it), and unseen values fall on
//! the same side as the bin they would have been put in.
//!
//! Speed (`scripts/bench_train.sh`, docs/BENCHMARKS.md): what made it as fast as
//! XGBoost, measured on 1.47 M rows × 43 features, was memory traffic, not arithmetic:
//! the sparse rows (histograms 4× faster), partitions reading a column instead of a
//! row-major line per row, pooled histograms (fresh ones cost page faults), margins
//! updated block by block, and the binning reading the table by tiles.
//!
//! Determinism: rows are cut into fixed chunks of [`CHUNK`] rows whatever the number of
//! threads; per-chunk histograms, partitions and losses are combined in chunk order,
//! and the row/column sampling draws from one ChaCha8 stream seeded with `seed`. The
//! same inputs and parameters give the same bytes on any machine with the same `f64`
//! arithmetic, on any number of threads (a unit test checks 1 against 3).

use anyhow::{bail, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::dataset::TrainingData;

use super::gbdt::{self, FitInfo, GbdtParams, Node, Tree, TreeEnsemble};

/// Labelled rows as the trainer reads them (a view of [`TrainingData`], or test rows).
pub struct Table<'a> {
    /// Row-major values: row `i` is `values[i * n_features..(i + 1) * n_features]`.
    pub values: &'a [f32],
    /// Number of feature columns.
    pub n_features: usize,
    /// Whether each row is positive (an attack window).
    pub positive: &'a [bool],
}

impl Table<'_> {
    #[inline]
    fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.n_features..(i + 1) * self.n_features]
    }
}

/// Rows per histogram / partition task. Fixed (not derived from the thread count) so
/// that floating-point sums are grouped the same way on every machine.
const CHUNK: usize = 32 * 1024;

/// How many rows ahead [`build_hist`] asks for a row's gradients and cells.
const PREFETCH_ROWS: usize = 16;

/// Asks the CPU to load `p`'s cache line (a hint: no effect on what the program does).
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and changes no memory, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Rows per tile of the transposes in [`Binned::new`].
const TILE: usize = 64;

/// Most partial histograms per node (enough tasks to balance a few threads).
const HIST_TASKS: usize = 8;

/// Most value bins per feature: the NaN bin takes the next index and must fit a `u8`.
const MAX_VALUE_BINS: usize = 255;

/// Gradient and hessian sums of one bin.
type Bin = [f64; 2];
/// Bins per feature histogram: 256 would do (a `u8` indexes it without a bounds
/// check), but then the same bin of neighbouring features sits exactly 4 KiB apart and
/// the CPU's store-to-load check mistakes the updates for dependent ones (4K aliasing:
/// measured 10 ns instead of ~1 ns per update); 4 more bins shift each feature by 64
/// bytes.
const HIST_STRIDE: usize = 260;
/// One histogram per feature (only `value bins + 1` of each are used).
type Hist = Vec<[Bin; HIST_STRIDE]>;

/// Training rows quantised to bins.
pub struct Binned {
    /// Number of rows.
    pub n_rows: usize,
    /// Number of features.
    pub n_features: usize,
    /// Row-major bins: row `r`'s bin of feature `f` is `bins[r * n_features + f]`.
    pub bins: Vec<u8>,
    /// The same bins column-major (`columns[f * n_rows + r]`), for the training rows
    /// only (empty after [`Binned::rebin`]). Partitioning a node reads one feature of
    /// each of its rows: from a column that is one byte per row in ascending row order
    /// (1.5 MB for 1.5 M rows, which stays in L2), where from the row-major bins every
    /// row costs a cache line; it took 3.1 of 14 s of a fit.
    pub columns: Vec<u8>,
    /// The training rows' bins without each feature's most common one (histograms).
    sparse: SparseRows,
    /// Per feature, the lower bound of each value bin (ascending, distinct): value `v`
    /// is in bin `b` when `bounds[b] <= v < bounds[b + 1]` (bin 0 also holds smaller
    /// values, the last bin larger ones). NaN is bin `bounds.len()`.
    pub bounds: Vec<Vec<f32>>,
}

impl Binned {
    /// Quantises `rows` of `data`, a positive row weighing `positive_weight` (like
    /// XGBoost's sample weight) and a negative one 1.
    pub fn new(data: &Table<'_>, rows: &[usize], max_bins: usize, positive_weight: f64) -> Binned {
        let k = data.n_features;
        let max_bins = max_bins.clamp(2, MAX_VALUE_BINS);
        // The values as total-order bits, column-major within blocks of CHUNK rows:
        // reading one feature of every row straight from the row-major table pulls the
        // whole table through the cache once per feature (most of the binning time).
        let blocks: Vec<Vec<u32>> = rows
            .par_chunks(CHUNK)
            .map(|chunk| {
                let len = chunk.len();
                let mut block = vec![0u32; len * k];
                // By tiles of TILE rows: the rows' values stay in L1 while each
                // feature's keys are written contiguously. Row by row, the k writes
                // would go to addresses 128 KiB apart, which share cache sets.
                for (t, tile) in chunk.chunks(TILE).enumerate() {
                    for f in 0..k {
                        let out = &mut block[f * len + t * TILE..][..tile.len()];
                        for (o, &i) in out.iter_mut().zip(tile) {
                            *o = order_bits(data.values[i * k + f]);
                        }
                    }
                }
                block
            })
            .collect();
        let bounds: Vec<Vec<f32>> = (0..k)
            .into_par_iter()
            .map(|f| {
                // A distinct value weighs (its negative rows) + w·(its positive rows):
                // sort the keys of each class (integers, so a radix sort) and merge.
                let mut negative = Vec::with_capacity(rows.len());
                let mut positive = Vec::new();
                for (block, chunk) in blocks.iter().zip(rows.chunks(CHUNK)) {
                    let column = &block[f * chunk.len()..(f + 1) * chunk.len()];
                    for (&key, &i) in column.iter().zip(chunk) {
                        if from_order_bits(key).is_nan() {
                            continue;
                        }
                        if data.positive[i] {
                            positive.push(key);
                        } else {
                            negative.push(key);
                        }
                    }
                }
                radix_sort(&mut negative);
                radix_sort(&mut positive);
                quantile_bounds(
                    &weighted_values(&negative, &positive, positive_weight),
                    max_bins,
                )
            })
            .collect();
        // The bins column by column from the blocks' keys, then row by row.
        let n = rows.len();
        let mut columns = vec![0u8; n * k];
        if n > 0 {
            columns
                .par_chunks_mut(n)
                .zip(&bounds)
                .enumerate()
                .for_each(|(f, (column, bounds))| {
                    let pieces = column.chunks_mut(CHUNK).zip(&blocks);
                    for (out, block) in pieces {
                        let keys = &block[f * out.len()..(f + 1) * out.len()];
                        for (o, &key) in out.iter_mut().zip(keys) {
                            *o = bin_of(bounds, from_order_bits(key));
                        }
                    }
                });
        }
        drop(blocks);
        let bins = rows_from_columns(&columns, n, k);
        let mut b = Binned {
            n_rows: n,
            n_features: k,
            bins,
            columns,
            sparse: SparseRows::default(),
            bounds,
        };
        b.sparse = SparseRows::new(&b);
        b
    }

    /// Quantises `rows` of `data` with the bins of `self` (e.g. the validation rows, so
    /// that they are scored by walking the trees on bins, like the training rows).
    pub fn rebin(&self, data: &Table<'_>, rows: &[usize]) -> Binned {
        Binned::with_bounds(data, rows, self.bounds.clone())
    }

    fn with_bounds(data: &Table<'_>, rows: &[usize], bounds: Vec<Vec<f32>>) -> Binned {
        let k = data.n_features;
        let mut bins = vec![0u8; rows.len() * k];
        bins.par_chunks_mut(CHUNK * k.max(1))
            .zip(rows.par_chunks(CHUNK))
            .for_each(|(out, chunk)| {
                for (o, &i) in out.chunks_exact_mut(k.max(1)).zip(chunk) {
                    for ((slot, &v), b) in o.iter_mut().zip(data.row(i)).zip(&bounds) {
                        *slot = bin_of(b, v);
                    }
                }
            });
        Binned {
            n_rows: rows.len(),
            n_features: k,
            bins,
            columns: Vec::new(),
            sparse: SparseRows::default(),
            bounds,
        }
    }

    /// Feature `f`'s bins of the training rows (see `columns`).
    #[inline]
    fn column(&self, f: usize) -> &[u8] {
        &self.columns[f * self.n_rows..(f + 1) * self.n_rows]
    }

    /// The bin index NaN values of feature `f` have.
    fn nan_bin(&self, f: usize) -> usize {
        self.bounds[f].len()
    }

    /// Row `r`'s bins.
    #[inline]
    fn row(&self, r: usize) -> &[u8] {
        &self.bins[r * self.n_features..(r + 1) * self.n_features]
    }
}

/// The training rows for building histograms: of each row, only the bins that are not
/// their feature's most common bin, as cells of a flattened [`Hist`]
/// (`feature * HIST_STRIDE + bin`).
///
/// Window features are mostly one value (a host that sent one packet and got one
/// back; no RSTs, no ICMP): 88% of the cells of the benchmark's table are their
/// feature's most common bin. A histogram adds up the others and gets the common bin
/// as the node's total minus them (LightGBM's most-frequent-bin trick), which made
/// building histograms about 4× faster.
#[derive(Default)]
struct SparseRows {
    /// Per feature, its most common value bin; None for a feature that cannot split
    /// (fewer than two value bins), whose histogram is never read and gets no cells.
    common: Vec<Option<u8>>,
    /// Row `r`'s cells are `cells[starts[r]..starts[r + 1]]`.
    starts: Vec<usize>,
    cells: Vec<u32>,
}

impl SparseRows {
    fn new(b: &Binned) -> SparseRows {
        let (n, k) = (b.n_rows, b.n_features);
        let common: Vec<Option<u8>> = (0..k)
            .into_par_iter()
            .map(|f| {
                let nb = b.nan_bin(f);
                if nb < 2 {
                    return None;
                }
                let mut counts = [0usize; 256];
                for &bin in &b.columns[f * n..(f + 1) * n] {
                    counts[usize::from(bin)] += 1;
                }
                // The most common value bin, the lowest on a tie; NaN stays explicit.
                let (bin, _) = counts[..nb]
                    .iter()
                    .enumerate()
                    .max_by_key(|&(bin, &c)| (c, std::cmp::Reverse(bin)))?;
                u8::try_from(bin).ok()
            })
            .collect();
        let pieces: Vec<(Vec<u32>, Vec<u32>)> = b
            .bins
            .par_chunks(CHUNK * k.max(1))
            .map(|chunk| {
                let mut lengths = Vec::with_capacity(chunk.len() / k.max(1));
                let mut cells = Vec::new();
                for row in chunk.chunks_exact(k.max(1)) {
                    let before = cells.len();
                    for (f, (&bin, common)) in row.iter().zip(&common).enumerate() {
                        if common.is_some_and(|c| c != bin) {
                            cells.push((f * HIST_STRIDE) as u32 + u32::from(bin));
                        }
                    }
                    lengths.push((cells.len() - before) as u32);
                }
                (lengths, cells)
            })
            .collect();
        let mut starts = Vec::with_capacity(n + 1);
        starts.push(0);
        let mut cells = Vec::with_capacity(pieces.iter().map(|p| p.1.len()).sum());
        for (lengths, piece) in pieces {
            for l in lengths {
                starts.push(starts[starts.len() - 1] + l as usize);
            }
            cells.extend_from_slice(&piece);
        }
        SparseRows {
            common,
            starts,
            cells,
        }
    }

    #[inline]
    fn row(&self, r: usize) -> &[u32] {
        &self.cells[self.starts[r]..self.starts[r + 1]]
    }
}

/// Sorts `keys` ascending: a least-significant-digit radix sort on bytes that skips
/// the bytes all keys share (3× faster than `sort_unstable` on a column of 1.5 M).
fn radix_sort(keys: &mut Vec<u32>) {
    let n = keys.len();
    if n < 1024 {
        keys.sort_unstable();
        return;
    }
    let mut counts = [[0usize; 256]; 4];
    for &x in keys.iter() {
        for (d, c) in counts.iter_mut().enumerate() {
            c[((x >> (8 * d)) & 0xff) as usize] += 1;
        }
    }
    let mut buf = vec![0u32; n];
    for (d, c) in counts.iter().enumerate() {
        if c.contains(&n) {
            continue;
        }
        let mut next = [0usize; 256];
        let mut sum = 0;
        for (o, &m) in next.iter_mut().zip(c) {
            *o = sum;
            sum += m;
        }
        for &x in keys.iter() {
            let digit = ((x >> (8 * d)) & 0xff) as usize;
            buf[next[digit]] = x;
            next[digit] += 1;
        }
        std::mem::swap(keys, &mut buf);
    }
}

/// The distinct values of two ascending key lists with their weight: 1 per key of
/// `negative`, `positive_weight` per key of `positive`.
fn weighted_values(negative: &[u32], positive: &[u32], positive_weight: f64) -> Vec<(f32, f64)> {
    let mut out: Vec<(u32, usize, usize)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < negative.len() || j < positive.len() {
        let key = match (negative.get(i), positive.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        let (i0, j0) = (i, j);
        while negative.get(i) == Some(&key) {
            i += 1;
        }
        while positive.get(j) == Some(&key) {
            j += 1;
        }
        out.push((key, i - i0, j - j0));
    }
    out.into_iter()
        .map(|(key, n, p)| (from_order_bits(key), n as f64 + p as f64 * positive_weight))
        .collect()
}

/// Column-major `n × k` bins (`columns[f * n + r]`) to row-major, by tiles of
/// [`TILE`] rows so that both sides are read and written in runs.
fn rows_from_columns(columns: &[u8], n: usize, k: usize) -> Vec<u8> {
    let mut bins = vec![0u8; n * k];
    if n == 0 || k == 0 {
        return bins;
    }
    bins.par_chunks_mut(CHUNK * k)
        .enumerate()
        .for_each(|(c, out)| {
            let first = c * CHUNK;
            for (t, tile) in out.chunks_mut(TILE * k).enumerate() {
                let start = first + t * TILE;
                for f in 0..k {
                    let column = &columns[f * n + start..][..tile.len() / k];
                    for (row, &bin) in tile.chunks_exact_mut(k).zip(column) {
                        row[f] = bin;
                    }
                }
            }
        });
    bins
}

/// `v`'s bits mapped so that unsigned order is `f32::total_cmp` order.
#[inline]
fn order_bits(v: f32) -> u32 {
    let b = v.to_bits();
    if b >> 31 == 1 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// The inverse of [`order_bits`].
#[inline]
fn from_order_bits(b: u32) -> f32 {
    if b >> 31 == 1 {
        f32::from_bits(b & 0x7fff_ffff)
    } else {
        f32::from_bits(!b)
    }
}

/// The bin of `v` given a feature's lower bounds.
#[inline]
fn bin_of(bounds: &[f32], v: f32) -> u8 {
    if v.is_nan() {
        return bounds.len() as u8;
    }
    // bounds[0] is the smallest value: count the other bounds at or below v.
    bounds
        .get(1..)
        .map_or(0, |b| b.partition_point(|&x| x <= v)) as u8
}

/// Lower bounds of at most `max_bins` bins holding about the same weight each, from
/// (value, weight) pairs sorted by value. Bounds are values of the data, distinct
/// under `==` (so -0.0 and 0.0 share a bin, as `<` cannot tell them apart).
fn quantile_bounds(sorted: &[(f32, f64)], max_bins: usize) -> Vec<f32> {
    // Distinct values with their total weight.
    let mut groups: Vec<(f32, f64)> = Vec::new();
    for &(v, w) in sorted {
        match groups.last_mut() {
            Some(g) if g.0 == v => g.1 += w,
            _ => groups.push((v, w)),
        }
    }
    if groups.len() <= max_bins {
        return groups.into_iter().map(|g| g.0).collect();
    }
    let total: f64 = groups.iter().map(|g| g.1).sum();
    let mut bounds = vec![groups[0].0];
    // Weight before the current value, and at the start of the current bin.
    let mut cum = groups[0].1;
    let mut bin_start = 0.0;
    for &(v, w) in &groups[1..] {
        if bounds.len() >= max_bins {
            break;
        }
        // Close the current bin once it holds its share of what is left, so that a
        // heavy value (many zeros) does not leave the tail with too few bins.
        let bins_left = (max_bins - bounds.len() + 1) as f64;
        if cum - bin_start >= (total - bin_start) / bins_left {
            bounds.push(v);
            bin_start = cum;
        }
        cum += w;
    }
    bounds
}

/// The best split of a node.
#[derive(Clone, Copy, Debug)]
struct Split {
    feature: usize,
    /// Rows with a value bin `<= bin` go left.
    bin: usize,
    missing_left: bool,
    gain: f64,
    left: Bin,
    right: Bin,
}

/// A node waiting to be split or made a leaf.
struct Open {
    /// Index in the tree's nodes.
    id: usize,
    /// Its rows are `rows[start..end]` of the tree's row buffer.
    start: usize,
    end: usize,
    /// Gradient and hessian sums.
    sum: Bin,
    /// Its histogram (None when the table has no features).
    hist: Option<Hist>,
}

fn zero_hist(k: usize) -> Hist {
    vec![[[0.0; 2]; HIST_STRIDE]; k]
}

/// Histograms to reuse across nodes and trees: a fresh ~180 KB histogram is above
/// malloc's mmap threshold, so each one cost page faults and zeroed pages (a fifth of
/// a fit went to the kernel clearing pages).
struct HistPool {
    k: usize,
    free: std::sync::Mutex<Vec<Hist>>,
}

impl HistPool {
    fn new(k: usize) -> HistPool {
        HistPool {
            k,
            free: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// A zeroed histogram.
    fn take(&self) -> Hist {
        match self.free.lock().ok().and_then(|mut free| free.pop()) {
            Some(mut h) => {
                h.iter_mut().for_each(|hf| hf.fill([0.0; 2]));
                h
            }
            None => zero_hist(self.k),
        }
    }

    fn put(&self, h: Hist) {
        if let Ok(mut free) = self.free.lock() {
            free.push(h);
        }
    }
}

/// The histogram of `rows` (positions in `b`) and their gradient and hessian sums,
/// built per chunk and summed in order.
fn build_hist(b: &Binned, gh: &[[f32; 2]], rows: &[u32], pool: &HistPool) -> (Hist, Bin) {
    // At most HIST_TASKS partial histograms (each is ~180 KB with 43 features, and
    // merging costs). The chunk length depends on the row count only, so the sums are
    // grouped the same way on any number of threads. Rows of a deep node are scattered
    // over the table, so their gradients and cells are asked for ahead of use.
    let len = CHUNK.max(rows.len().div_ceil(HIST_TASKS));
    let parts: Vec<(Hist, Bin)> = rows
        .par_chunks(len)
        .map(|chunk| {
            let mut h = pool.take();
            let cells = h.as_flattened_mut();
            let mut total = [0.0; 2];
            for (i, &r) in chunk.iter().enumerate() {
                if let Some(&ahead) = chunk.get(i + PREFETCH_ROWS) {
                    prefetch(&gh[ahead as usize]);
                    prefetch(&b.sparse.starts[ahead as usize]);
                }
                if let Some(&near) = chunk.get(i + PREFETCH_ROWS / 2) {
                    prefetch(b.sparse.row(near as usize).as_ptr());
                }
                let r = r as usize;
                let [g, hs] = gh[r];
                let (g, hs) = (f64::from(g), f64::from(hs));
                total[0] += g;
                total[1] += hs;
                for &c in b.sparse.row(r) {
                    let e = &mut cells[c as usize];
                    e[0] += g;
                    e[1] += hs;
                }
            }
            (h, total)
        })
        .collect();
    let mut it = parts.into_iter();
    let (mut acc, mut total) = it.next().unwrap_or_else(|| (pool.take(), [0.0; 2]));
    for (p, t) in it {
        for (a, q) in acc.iter_mut().zip(&p) {
            for (x, y) in a.iter_mut().zip(q) {
                x[0] += y[0];
                x[1] += y[1];
            }
        }
        total[0] += t[0];
        total[1] += t[1];
        pool.put(p);
    }
    // The common bins: the rows' total minus the other bins.
    for (f, (hf, common)) in acc.iter_mut().zip(&b.sparse.common).enumerate() {
        let Some(c) = common.map(usize::from) else {
            continue;
        };
        let mut others = [0.0; 2];
        for (bin, e) in hf.iter().enumerate().take(b.nan_bin(f) + 1) {
            if bin != c {
                others[0] += e[0];
                others[1] += e[1];
            }
        }
        hf[c] = [total[0] - others[0], total[1] - others[1]];
    }
    (acc, total)
}

/// `parent - child`, in place in `parent`.
fn subtract(mut parent: Hist, child: &Hist) -> Hist {
    for (a, q) in parent.iter_mut().zip(child) {
        for (x, y) in a.iter_mut().zip(q) {
            x[0] -= y[0];
            x[1] -= y[1];
        }
    }
    parent
}

/// Regularised score `G²/(H+λ)` of a set of rows.
#[inline]
fn score(s: Bin, l2: f64) -> f64 {
    s[0] * s[0] / (s[1] + l2)
}

/// The best split of a node with histogram `h` and sums `sum` over the allowed features.
fn best_split(b: &Binned, h: &Hist, sum: Bin, allowed: &[usize], p: &GbdtParams) -> Option<Split> {
    let l2 = f64::from(p.l2);
    let mcw = f64::from(p.min_child_weight);
    let gamma = f64::from(p.gamma);
    let parent = score(sum, l2);
    let mut best: Option<Split> = None;
    for &f in allowed {
        let nb = b.nan_bin(f);
        if nb < 2 {
            continue;
        }
        let hf = &h[f];
        let nan = hf[nb];
        let has_nan = nan[1] > 0.0;
        let mut acc = [0.0f64; 2];
        for (bin, e) in hf.iter().enumerate().take(nb - 1) {
            acc[0] += e[0];
            acc[1] += e[1];
            for missing_left in [false, true] {
                if missing_left && !has_nan {
                    continue;
                }
                let left = if missing_left {
                    [acc[0] + nan[0], acc[1] + nan[1]]
                } else {
                    acc
                };
                let right = [sum[0] - left[0], sum[1] - left[1]];
                if left[1] <= 0.0 || right[1] <= 0.0 || left[1] < mcw || right[1] < mcw {
                    continue;
                }
                let gain = score(left, l2) + score(right, l2) - parent;
                if gain > gamma && gain > best.map_or(0.0, |s| s.gain) {
                    best = Some(Split {
                        feature: f,
                        bin,
                        // Without NaN rows, unseen NaN follows the heavier side.
                        missing_left: if has_nan {
                            missing_left
                        } else {
                            left[1] >= right[1]
                        },
                        gain,
                        left,
                        right,
                    });
                }
            }
        }
    }
    best
}

/// Whether a row with bin `bin` of the split feature goes left.
#[inline]
fn goes_left(bin: usize, nan_bin: usize, split_bin: usize, missing_left: bool) -> bool {
    if bin == nan_bin {
        missing_left
    } else {
        bin <= split_bin
    }
}

/// Stable partition of `rows` by the split, through `scratch` (as long as `rows`);
/// returns the number going left.
///
/// Each chunk writes its left rows forward from the start of its piece of `scratch`
/// and its right rows backward from the end, so no memory is allocated per node
/// (fresh per-node buffers cost ~10% of a fit in page zeroing); the chunks are then
/// gathered in chunk order, which keeps the partition stable.
fn partition(b: &Binned, rows: &mut [u32], scratch: &mut [u32], s: &Split) -> usize {
    let column = b.column(s.feature);
    let nan = b.nan_bin(s.feature);
    let counts: Vec<usize> = rows
        .par_chunks(CHUNK)
        .zip(scratch.par_chunks_mut(CHUNK))
        .map(|(c, out)| {
            let (mut l, mut r) = (0, out.len());
            for &x in c {
                // Without a branch (the side is often unpredictable): write the row
                // to both free ends, then advance the end it belongs to. `r - 1 >= l`
                // while rows remain, and a copy left at a free end is overwritten.
                let left = usize::from(goes_left(
                    usize::from(column[x as usize]),
                    nan,
                    s.bin,
                    s.missing_left,
                ));
                out[l] = x;
                out[r - 1] = x;
                l += left;
                r -= 1 - left;
            }
            l
        })
        .collect();
    let n_left: usize = counts.iter().sum();
    // Gather in parallel: chunk c's left rows go after those of chunks before it, and
    // likewise its right rows (written backwards, so reversed back) after n_left.
    let (mut lefts, mut rights) = rows.split_at_mut(n_left);
    let mut tasks = Vec::with_capacity(counts.len());
    for (out, &nl) in scratch.chunks(CHUNK).zip(&counts) {
        let (l, lt) = std::mem::take(&mut lefts).split_at_mut(nl);
        let (r, rt) = std::mem::take(&mut rights).split_at_mut(out.len() - nl);
        lefts = lt;
        rights = rt;
        tasks.push((out, nl, l, r));
    }
    tasks.into_par_iter().for_each(|(out, nl, l, r)| {
        l.copy_from_slice(&out[..nl]);
        for (dst, &src) in r.iter_mut().zip(out[nl..].iter().rev()) {
            *dst = src;
        }
    });
    n_left
}

fn leaf_node(value: f64, cover: f64) -> Node {
    Node::leaf(value, cover)
}

/// A leaf's value: the Newton step, shrunk, rounded to `f32`.
fn leaf_value(sum: Bin, p: &GbdtParams) -> f64 {
    // A node without hessian (no sampled rows) and λ = 0 would give 0/0.
    if sum[1] + f64::from(p.l2) <= 0.0 {
        return 0.0;
    }
    let w = -sum[0] / (sum[1] + f64::from(p.l2)) * f64::from(p.learning_rate);
    f64::from(w as f32)
}

/// One fitted tree, with the bin each inner node splits after (for walking binned rows)
/// and where its rows ended up.
struct Grown {
    tree: Tree,
    split_bins: Vec<usize>,
    /// Leaves above the last level: their row range in the row buffer and value.
    leaves: Vec<(usize, usize, f64)>,
    /// Splits of the last level, whose rows are not partitioned: the caller adds
    /// the leaf values while reading the split feature once per row.
    last_splits: Vec<LastSplit>,
}

/// A split whose children are leaves (see [`Grown::last_splits`]).
struct LastSplit {
    start: usize,
    end: usize,
    split: Split,
    left_value: f64,
    right_value: f64,
}

impl LastSplit {
    /// The value a row in this node's range gets.
    #[inline]
    fn value(&self, b: &Binned, column: &[u8], r: u32) -> f64 {
        let s = &self.split;
        let bin = usize::from(column[r as usize]);
        if goes_left(bin, b.nan_bin(s.feature), s.bin, s.missing_left) {
            self.left_value
        } else {
            self.right_value
        }
    }
}

/// Grows one tree on `rows` (positions into `b`, ascending; reordered in place);
/// `scratch` is a buffer at least as long as `rows`, reused across trees.
fn grow(
    b: &Binned,
    gh: &[[f32; 2]],
    rows: &mut [u32],
    scratch: &mut [u32],
    allowed: &[usize],
    p: &GbdtParams,
    pool: &HistPool,
) -> Grown {
    let scratch = &mut scratch[..rows.len()];
    let k = b.n_features;
    let (root_hist, root_sum) = build_hist(b, gh, rows, pool);
    let mut nodes = vec![leaf_node(leaf_value(root_sum, p), root_sum[1])];
    let mut split_bins = vec![0usize];
    let mut leaves = Vec::new();
    let mut last_splits = Vec::new();
    let mut level = vec![Open {
        id: 0,
        start: 0,
        end: rows.len(),
        sum: root_sum,
        hist: (k > 0).then_some(root_hist),
    }];
    // Each pass splits one level; the last pass (depth + 1 == p.depth) makes the
    // leaves of the deepest level.
    for depth in 0..p.depth {
        let splits: Vec<Option<Split>> = level
            .par_iter()
            .map(|o| {
                o.hist
                    .as_ref()
                    .and_then(|h| best_split(b, h, o.sum, allowed, p))
            })
            .collect();
        if depth + 1 == p.depth {
            // The children are leaves: record where each row goes, partition nothing.
            for (o, s) in level.into_iter().zip(splits) {
                let v = leaf_value(o.sum, p);
                if let Some(h) = o.hist {
                    pool.put(h);
                }
                let Some(s) = s else {
                    nodes[o.id] = leaf_node(v, o.sum[1]);
                    leaves.push((o.start, o.end, v));
                    continue;
                };
                let (l, r) = (nodes.len(), nodes.len() + 1);
                nodes[o.id] = split_node(b, &s, v, o.sum[1], l, r);
                split_bins[o.id] = s.bin;
                let (left_value, right_value) = (leaf_value(s.left, p), leaf_value(s.right, p));
                nodes.push(leaf_node(left_value, s.left[1]));
                nodes.push(leaf_node(right_value, s.right[1]));
                split_bins.extend([0, 0]);
                last_splits.push(LastSplit {
                    start: o.start,
                    end: o.end,
                    split: s,
                    left_value,
                    right_value,
                });
            }
            break;
        }
        // Partition the splitting nodes' rows (disjoint, ascending ranges) in parallel.
        let mut slices: Vec<(&mut [u32], &mut [u32], Split)> = Vec::new();
        let mut rest: &mut [u32] = rows;
        let mut rest_scratch: &mut [u32] = scratch;
        let mut offset = 0;
        for (o, s) in level.iter().zip(&splits) {
            if let Some(s) = s {
                let tail = std::mem::take(&mut rest);
                let (_, tail) = tail.split_at_mut(o.start - offset);
                let (mine, tail) = tail.split_at_mut(o.end - o.start);
                let stail = std::mem::take(&mut rest_scratch);
                let (_, stail) = stail.split_at_mut(o.start - offset);
                let (my_scratch, stail) = stail.split_at_mut(o.end - o.start);
                slices.push((mine, my_scratch, *s));
                rest = tail;
                rest_scratch = stail;
                offset = o.end;
            }
        }
        let n_left: Vec<usize> = slices
            .into_par_iter()
            .map(|(rs, sc, s)| partition(b, rs, sc, &s))
            .collect();
        let rows_ro: &[u32] = rows;
        // Children's histograms: build the smaller, subtract for the larger.
        let mut work: Vec<(Open, Split, usize)> = Vec::new();
        let mut li = 0;
        for (o, s) in level.into_iter().zip(splits) {
            match s {
                Some(s) => {
                    work.push((o, s, n_left[li]));
                    li += 1;
                }
                None => {
                    let v = leaf_value(o.sum, p);
                    nodes[o.id] = leaf_node(v, o.sum[1]);
                    leaves.push((o.start, o.end, v));
                    if let Some(h) = o.hist {
                        pool.put(h);
                    }
                }
            }
        }
        let child_hists: Vec<(Option<Hist>, Option<Hist>)> = work
            .par_iter_mut()
            .map(|(o, _, nl)| {
                let Some(parent) = o.hist.take() else {
                    return (None, None);
                };
                let mid = o.start + *nl;
                let (l, r) = (&rows_ro[o.start..mid], &rows_ro[mid..o.end]);
                if l.len() <= r.len() {
                    let hl = build_hist(b, gh, l, pool).0;
                    let hr = subtract(parent, &hl);
                    (Some(hl), Some(hr))
                } else {
                    let hr = build_hist(b, gh, r, pool).0;
                    let hl = subtract(parent, &hr);
                    (Some(hl), Some(hr))
                }
            })
            .collect();
        let mut next = Vec::with_capacity(work.len() * 2);
        for ((o, s, nl), (hl, hr)) in work.into_iter().zip(child_hists) {
            let (l, r) = (nodes.len(), nodes.len() + 1);
            nodes[o.id] = split_node(b, &s, leaf_value(o.sum, p), o.sum[1], l, r);
            split_bins[o.id] = s.bin;
            nodes.push(leaf_node(leaf_value(s.left, p), s.left[1]));
            nodes.push(leaf_node(leaf_value(s.right, p), s.right[1]));
            split_bins.extend([0, 0]);
            let mid = o.start + nl;
            next.push(Open {
                id: l,
                start: o.start,
                end: mid,
                sum: s.left,
                hist: hl,
            });
            next.push(Open {
                id: r,
                start: mid,
                end: o.end,
                sum: s.right,
                hist: hr,
            });
        }
        level = next;
        if level.is_empty() {
            break;
        }
    }
    Grown {
        tree: Tree { nodes },
        split_bins,
        leaves,
        last_splits,
    }
}

/// The inner node of split `s` with children `l` and `r`.
fn split_node(b: &Binned, s: &Split, value: f64, cover: f64, l: usize, r: usize) -> Node {
    Node {
        leaf: false,
        feature: s.feature as u32,
        threshold: f64::from(b.bounds[s.feature][s.bin + 1]),
        left: l as u32,
        right: r as u32,
        missing_left: s.missing_left,
        leaf_value: value,
        gain: s.gain,
        cover,
    }
}

/// Adds the new tree's values to the margins `acc` of the training rows: the rows of
/// `g`'s leaves and last splits (ranges of `rows`, each ascending), and `left_out`
/// (ascending), walked.
///
/// By blocks of CHUNK rows, each task owning its rows' margins: it takes the piece of
/// every range that falls in its block (a binary search, the ranges being ascending).
/// Going range by range instead, each range touches a little of every cache line of
/// the margins, so the margins went through the cache once per leaf.
fn add_tree(
    acc: &mut [f64],
    g: &Grown,
    walker: &BinnedWalker,
    b: &Binned,
    rows: &[u32],
    left_out: &[u32],
) {
    let in_block = |ids: &[u32], lo: u32, hi: u32| -> std::ops::Range<usize> {
        ids.partition_point(|&r| r < lo)..ids.partition_point(|&r| r < hi)
    };
    acc.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(c, block)| {
            let lo = (c * CHUNK) as u32;
            let hi = lo + block.len() as u32;
            for &(start, end, v) in &g.leaves {
                let ids = &rows[start..end];
                for &r in &ids[in_block(ids, lo, hi)] {
                    block[(r - lo) as usize] += v;
                }
            }
            for ls in &g.last_splits {
                let column = b.column(ls.split.feature);
                let ids = &rows[ls.start..ls.end];
                for &r in &ids[in_block(ids, lo, hi)] {
                    block[(r - lo) as usize] += ls.value(b, column, r);
                }
            }
            for &r in &left_out[in_block(left_out, lo, hi)] {
                block[(r - lo) as usize] += walker.value(b.row(r as usize));
            }
        });
}

/// A grown tree laid out for walking binned rows (rows left out of a tree's sample,
/// validation rows) without a branch per level: leaves point to themselves, so every
/// row takes the same number of steps, and the steps of successive rows overlap in the
/// CPU. (Walking the `Node`s, with a loop exit at each leaf, was ~20 ns a row.)
struct BinnedWalker {
    steps: Vec<Step>,
    values: Vec<f64>,
    /// Steps from the root to the deepest leaf.
    depth: usize,
}

#[derive(Clone, Copy)]
struct Step {
    feature: u32,
    /// Bins `<= bin` go left; the NaN bin goes left when `missing_left`.
    bin: u8,
    nan_bin: u8,
    missing_left: bool,
    left: u32,
    right: u32,
}

impl BinnedWalker {
    fn new(g: &Grown, b: &Binned) -> BinnedWalker {
        let nodes = &g.tree.nodes;
        let mut depth_of = vec![0usize; nodes.len()];
        let mut steps = Vec::with_capacity(nodes.len());
        for (i, n) in nodes.iter().enumerate() {
            let f = n.feature as usize;
            steps.push(if n.leaf {
                let me = i as u32;
                Step {
                    feature: 0,
                    bin: 0,
                    nan_bin: 0,
                    missing_left: true,
                    left: me,
                    right: me,
                }
            } else {
                for child in [n.left, n.right] {
                    depth_of[child as usize] = depth_of[i] + 1;
                }
                Step {
                    feature: n.feature,
                    // Value bins and the NaN bin fit a u8 (MAX_VALUE_BINS).
                    bin: g.split_bins[i] as u8,
                    nan_bin: b.nan_bin(f) as u8,
                    missing_left: n.missing_left,
                    left: n.left,
                    right: n.right,
                }
            });
        }
        BinnedWalker {
            steps,
            values: nodes.iter().map(|n| n.leaf_value).collect(),
            depth: depth_of.into_iter().max().unwrap_or(0),
        }
    }

    /// The leaf value binned row `row` reaches.
    #[inline]
    fn value(&self, row: &[u8]) -> f64 {
        let mut i = 0;
        for _ in 0..self.depth {
            let s = self.steps[i];
            // A tree of depth > 0 splits on a feature, so rows have at least one.
            let bin = row[s.feature as usize];
            let left = if bin == s.nan_bin {
                s.missing_left
            } else {
                bin <= s.bin
            };
            i = if left { s.left } else { s.right } as usize;
        }
        self.values[i]
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Weighted log loss of margins `base + acc` against the rows' labels, summed, and
/// the sum of the weights.
fn logloss_sums(base: f64, acc: &[f64], y: &[bool], w: &[f64]) -> [f64; 2] {
    let (mut s, mut sw) = (0.0, 0.0);
    for ((&a, &yy), &ww) in acc.iter().zip(y).zip(w) {
        let p = sigmoid(base + a).clamp(1e-15, 1.0 - 1e-15);
        s -= ww * if yy { p.ln() } else { (1.0 - p).ln() };
        sw += ww;
    }
    [s, sw]
}

/// A fit with the trainer's own view of the training margins (for checking the trees).
pub struct HistFit {
    pub ensemble: TreeEnsemble,
    pub info: FitInfo,
    /// The margin the trainer holds for each training row after the last fitted tree.
    pub train_margins: Vec<f64>,
}

/// Fits on `train` rows, early-stopping on `validation` rows, and returns the ensemble
/// with the trees up to the best validation round.
pub fn fit(
    data: &TrainingData,
    train: &[usize],
    validation: &[usize],
    params: &GbdtParams,
) -> Result<HistFit> {
    let positive_weight = gbdt::class_weight(data, train, validation, params)?;
    let k = data.n_features();
    if data.values.len() != data.len() * k {
        bail!(
            "training data holds {} values for {} rows of {k} features",
            data.values.len(),
            data.len()
        );
    }
    let positive: Vec<bool> = (0..data.len()).map(|i| data.is_positive(i)).collect();
    let table = Table {
        values: &data.values,
        n_features: k,
        positive: &positive,
    };
    fit_table(&table, train, validation, params, positive_weight)
}

/// [`fit`] on a [`Table`], with the weight of a positive row given.
pub fn fit_table(
    data: &Table<'_>,
    train: &[usize],
    validation: &[usize],
    params: &GbdtParams,
    positive_weight: f64,
) -> Result<HistFit> {
    params.validate()?;
    if validation.is_empty() {
        bail!("the validation split is empty");
    }
    if u32::try_from(train.len()).is_err() {
        bail!(
            "{} training rows: at most {} are supported",
            train.len(),
            u32::MAX
        );
    }
    let p = params;
    let k = data.n_features;
    let weight = |i: usize| {
        if data.positive[i] {
            positive_weight
        } else {
            1.0
        }
    };
    let b = Binned::new(data, train, usize::from(p.bins), positive_weight);
    let bv = b.rebin(data, validation);
    let n = train.len();
    let y: Vec<bool> = train.iter().map(|&i| data.positive[i]).collect();
    let w: Vec<f64> = train.iter().map(|&i| weight(i)).collect();
    let yv: Vec<bool> = validation.iter().map(|&i| data.positive[i]).collect();
    let wv: Vec<f64> = validation.iter().map(|&i| weight(i)).collect();

    // Base score: log-odds of the weighted positive share, rounded to f32 like leaves.
    let wpos: f64 = y.iter().zip(&w).filter(|(y, _)| **y).map(|(_, w)| w).sum();
    let wall: f64 = w.iter().sum();
    let share = wpos / wall;
    if !(share > 0.0 && share < 1.0) {
        bail!("the training rows need both positive and negative rows");
    }
    let base = f64::from((share / (1.0 - share)).ln() as f32);

    // Sums over trees (the margin is base + acc, the order TreeEnsemble::margin adds in).
    let mut acc = vec![0f64; n];
    let mut acc_val = vec![0f64; validation.len()];
    let mut gh = vec![[0f32; 2]; n];
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let mut trees = Vec::new();
    let mut history = Vec::new();
    let mut best: Option<(usize, f64)> = None;
    let n_cols = ((p.colsample * k as f64).round() as usize).clamp(1.min(k), k);
    let mut rows: Vec<u32> = Vec::with_capacity(n);
    let mut left_out: Vec<u32> = Vec::new();
    let mut scratch: Vec<u32> = vec![0; n];
    let pool = HistPool::new(k);
    for t in 0..p.trees {
        gh.par_chunks_mut(CHUNK)
            .zip(acc.par_chunks(CHUNK))
            .zip(y.par_chunks(CHUNK).zip(w.par_chunks(CHUNK)))
            .for_each(|((g, a), (yy, ww))| {
                for (((g, &a), &yy), &ww) in g.iter_mut().zip(a).zip(yy).zip(ww) {
                    let pr = sigmoid(base + a);
                    let target = if yy { 1.0 } else { 0.0 };
                    *g = [
                        (ww * (pr - target)) as f32,
                        (ww * (pr * (1.0 - pr)).max(1e-16)) as f32,
                    ];
                }
            });
        rows.clear();
        left_out.clear();
        if p.subsample < 1.0 {
            let s = f64::from(p.subsample);
            for r in 0..n as u32 {
                if rng.random::<f64>() < s {
                    rows.push(r);
                } else {
                    left_out.push(r);
                }
            }
        } else {
            rows.extend(0..n as u32);
        }
        let mut cols: Vec<usize> = (0..k).collect();
        if n_cols < k {
            // Partial Fisher-Yates: the first n_cols are a uniform sample.
            for i in 0..n_cols {
                let j = rng.random_range(i..k);
                cols.swap(i, j);
            }
            cols.truncate(n_cols);
            cols.sort_unstable();
        }
        let g = grow(&b, &gh, &mut rows, &mut scratch, &cols, p, &pool);
        let walker = BinnedWalker::new(&g, &b);
        add_tree(&mut acc, &g, &walker, &b, &rows, &left_out);
        // The new tree's contribution to the validation margins, walked on bins: for
        // any value, `bin <= split bin` ⇔ `value < threshold` (the threshold is the
        // next bin's lower bound), so this equals `Tree::leaf_value` on the values.
        // Then the loss, per chunk, the chunks' sums added in order.
        let parts: Vec<[f64; 2]> = acc_val
            .par_chunks_mut(CHUNK)
            .zip(yv.par_chunks(CHUNK).zip(wv.par_chunks(CHUNK)))
            .enumerate()
            .map(|(c, (a, (y, w)))| {
                for (j, a) in a.iter_mut().enumerate() {
                    *a += walker.value(bv.row(c * CHUNK + j));
                }
                logloss_sums(base, a, y, w)
            })
            .collect();
        trees.push(g.tree);
        let (loss, weight) = parts
            .iter()
            .fold((0.0, 0.0), |(l, w), p| (l + p[0], w + p[1]));
        let loss = loss / weight;
        history.push(loss);
        if best.is_none_or(|(_, l)| loss < l) {
            best = Some((t, loss));
        }
        if let (Some(rounds), Some((bt, _))) = (p.early_stopping_rounds, best) {
            if t - bt >= rounds {
                break;
            }
        }
    }
    let trees_fitted = trees.len();
    let trees_kept = match (p.early_stopping_rounds, best) {
        (Some(_), Some((bt, _))) => bt + 1,
        _ => trees_fitted,
    };
    let train_margins = acc.iter().map(|a| base + a).collect();
    trees.truncate(trees_kept);
    let e = TreeEnsemble {
        n_features: u32::try_from(k).context("too many features")?,
        base_score: base,
        trees,
    };
    e.validate()
        .context("the trainer produced an invalid tree")?;
    Ok(HistFit {
        ensemble: e,
        info: FitInfo {
            trees_fitted,
            trees_kept,
            positive_weight,
            validation_logloss: history,
        },
        train_margins,
    })
}

/// Fits and returns the ensemble with what training produced.
pub fn train(
    data: &TrainingData,
    train: &[usize],
    validation: &[usize],
    params: &GbdtParams,
) -> Result<(TreeEnsemble, FitInfo)> {
    let f = fit(data, train, validation, params)?;
    Ok((f.ensemble, f.info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PositiveWeight;

    /// Rows, labels and params of a test case.
    struct Case {
        values: Vec<f32>,
        k: usize,
        positive: Vec<bool>,
    }

    impl Case {
        fn table(&self) -> Table<'_> {
            Table {
                values: &self.values,
                n_features: self.k,
                positive: &self.positive,
            }
        }
        fn row(&self, i: usize) -> &[f32] {
            &self.values[i * self.k..(i + 1) * self.k]
        }
    }

    /// `n` rows of `k` uniform features; positive when `x0 + 0.5 x1 + noise > 1.1`.
    fn synthetic(n: usize, k: usize, seed: u64) -> Case {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut values = Vec::with_capacity(n * k);
        let mut positive = Vec::with_capacity(n);
        for _ in 0..n {
            let row: Vec<f32> = (0..k).map(|_| rng.random::<f32>()).collect();
            let noise = (rng.random::<f32>() - 0.5) * 0.2;
            positive.push(row[0] + 0.5 * row[1] + noise > 1.1);
            values.extend(row);
        }
        Case {
            values,
            k,
            positive,
        }
    }

    fn params(trees: usize, depth: usize) -> GbdtParams {
        GbdtParams {
            trees,
            depth,
            early_stopping_rounds: None,
            positive_weight: PositiveWeight::Fixed(1.0),
            ..GbdtParams::default()
        }
    }

    /// Area under the ROC curve (ties count half).
    fn roc_auc(scores: &[f64], positive: &[bool]) -> f64 {
        let (mut num, mut pairs) = (0.0, 0.0);
        for (s, _) in scores.iter().zip(positive).filter(|(_, &p)| p) {
            for (t, _) in scores.iter().zip(positive).filter(|(_, &p)| !p) {
                pairs += 1.0;
                num += if s > t {
                    1.0
                } else if s == t {
                    0.5
                } else {
                    0.0
                };
            }
        }
        num / pairs
    }

    #[test]
    fn learns_a_separable_table() {
        let c = synthetic(6000, 4, 1);
        let train: Vec<usize> = (0..4000).collect();
        let val: Vec<usize> = (4000..5000).collect();
        let test: Vec<usize> = (5000..6000).collect();
        let f = fit_table(&c.table(), &train, &val, &params(60, 4), 1.0).unwrap();
        let scores: Vec<f64> = test
            .iter()
            .map(|&i| f.ensemble.predict_proba(c.row(i)))
            .collect();
        let labels: Vec<bool> = test.iter().map(|&i| c.positive[i]).collect();
        let auc = roc_auc(&scores, &labels);
        assert!(auc > 0.97, "test AUC {auc}");
        // The validation loss goes down from the first tree to the last.
        let h = &f.info.validation_logloss;
        assert_eq!(h.len(), 60);
        assert!(h[59] < 0.5 * h[0], "{} -> {}", h[0], h[59]);
        // Feature 0 matters most, features 2 and 3 are noise.
        let imp = f.ensemble.feature_importance(&[]);
        assert_eq!(imp[0].index, 0);
        assert!(imp[0].gain_share > 0.5, "{imp:?}");
    }

    #[test]
    fn a_split_computed_by_hand() {
        // One feature, two negatives (1, 2) and two positives (3, 4). Base score
        // log-odds(0.5) = 0, so p = 0.5: g = p - y = ±0.5, h = 0.25. The best cut is
        // between 2 and 3 (threshold 3, the lowest value on the right); with λ = 0:
        // gain = 1²/0.5 + 1²/0.5 - 0²/1 = 4, leaves ∓G/H = -(1/0.5) = -2 and +2.
        let c = Case {
            values: vec![1.0, 2.0, 3.0, 4.0],
            k: 1,
            positive: vec![false, false, true, true],
        };
        let rows = [0, 1, 2, 3];
        let p = GbdtParams {
            learning_rate: 1.0,
            l2: 0.0,
            min_child_weight: 0.0,
            ..params(1, 1)
        };
        let f = fit_table(&c.table(), &rows, &rows, &p, 1.0).unwrap();
        assert_eq!(f.ensemble.base_score, 0.0);
        let t = &f.ensemble.trees[0].nodes;
        assert_eq!(t.len(), 3, "{t:?}");
        assert!(!t[0].leaf);
        assert_eq!((t[0].feature, t[0].threshold, t[0].gain), (0, 3.0, 4.0));
        assert_eq!((t[0].left, t[0].right), (1, 2));
        assert_eq!((t[1].leaf_value, t[2].leaf_value), (-2.0, 2.0));
        assert_eq!((t[1].cover, t[2].cover, t[0].cover), (0.5, 0.5, 1.0));
        // A positive weight of 3 moves the base score to log(6/2) and changes the
        // gradients: g = 3(p-1) on positives, p on negatives with p = 0.75.
        let f = fit_table(&c.table(), &rows, &rows, &p, 3.0).unwrap();
        assert_eq!(f.ensemble.base_score, f64::from(3f64.ln() as f32));
        let t = &f.ensemble.trees[0].nodes;
        assert_eq!(t[0].threshold, 3.0);
        let p0 = 1.0 / (1.0 + (-f.ensemble.base_score).exp());
        let (gl, hl) = (2.0 * p0, 2.0 * p0 * (1.0 - p0));
        let expected = f64::from((-gl / hl) as f32);
        assert!(
            (t[1].leaf_value - expected).abs() < 1e-6,
            "{} vs {expected}",
            t[1].leaf_value
        );
    }

    #[test]
    fn min_child_weight_and_gamma_stop_splits() {
        let c = Case {
            values: vec![1.0, 2.0, 3.0, 4.0],
            k: 1,
            positive: vec![false, false, true, true],
        };
        let rows = [0, 1, 2, 3];
        let base = GbdtParams {
            learning_rate: 1.0,
            l2: 0.0,
            min_child_weight: 0.0,
            ..params(1, 1)
        };
        // Each side of the best cut holds 0.5 of hessian; the gain is 4.
        for (mcw, gamma, splits) in [
            (0.5, 0.0, true),
            (0.6, 0.0, false),
            (0.0, 3.9, true),
            (0.0, 4.0, false),
        ] {
            let p = GbdtParams {
                min_child_weight: mcw,
                gamma,
                ..base.clone()
            };
            let f = fit_table(&c.table(), &rows, &rows, &p, 1.0).unwrap();
            assert_eq!(
                f.ensemble.trees[0].nodes.len() > 1,
                splits,
                "mcw {mcw} gamma {gamma}"
            );
        }
    }

    #[test]
    fn same_seed_same_trees_other_seed_other_trees() {
        let c = synthetic(3000, 5, 2);
        let train: Vec<usize> = (0..2000).collect();
        let val: Vec<usize> = (2000..3000).collect();
        let p = GbdtParams {
            subsample: 0.7,
            colsample: 0.6,
            ..params(20, 3)
        };
        let a = fit_table(&c.table(), &train, &val, &p, 1.0).unwrap();
        let b = fit_table(&c.table(), &train, &val, &p, 1.0).unwrap();
        assert_eq!(a.ensemble, b.ensemble);
        assert_eq!(a.info, b.info);
        let other = GbdtParams {
            seed: 1,
            ..p.clone()
        };
        let d = fit_table(&c.table(), &train, &val, &other, 1.0).unwrap();
        assert_ne!(a.ensemble, d.ensemble);
        // Without sampling the seed does not matter.
        let full = params(5, 3);
        let e = fit_table(&c.table(), &train, &val, &full, 1.0).unwrap();
        let g = fit_table(
            &c.table(),
            &train,
            &val,
            &GbdtParams { seed: 9, ..full },
            1.0,
        )
        .unwrap();
        assert_eq!(e.ensemble, g.ensemble);
    }

    #[test]
    fn nan_follows_the_learned_direction() {
        // Feature 0 is NaN exactly on one class; feature 1 is noise.
        for nan_positive in [true, false] {
            let mut c = synthetic(2000, 2, 3);
            let mut rng = ChaCha8Rng::seed_from_u64(4);
            for i in 0..2000 {
                let pos = rng.random::<f32>() < 0.3;
                c.positive[i] = pos;
                c.values[i * 2] = if pos == nan_positive {
                    f32::NAN
                } else {
                    rng.random::<f32>()
                };
            }
            let rows: Vec<usize> = (0..2000).collect();
            let p = GbdtParams {
                learning_rate: 0.5,
                ..params(10, 2)
            };
            let f = fit_table(&c.table(), &rows, &rows, &p, 1.0).unwrap();
            let p_nan = f.ensemble.predict_proba(&[f32::NAN, 0.5]);
            let p_val = f.ensemble.predict_proba(&[0.5, 0.5]);
            if nan_positive {
                assert!(p_nan > 0.8 && p_val < 0.2, "{p_nan} {p_val}");
            } else {
                assert!(p_nan < 0.2 && p_val > 0.8, "{p_nan} {p_val}");
            }
        }
        // Without NaN in training, NaN follows the heavier child.
        let c = Case {
            values: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            k: 1,
            positive: vec![false, false, false, false, true, true],
        };
        let rows: Vec<usize> = (0..6).collect();
        let p = GbdtParams {
            min_child_weight: 0.0,
            ..params(1, 1)
        };
        let f = fit_table(&c.table(), &rows, &rows, &p, 1.0).unwrap();
        let root = &f.ensemble.trees[0].nodes[0];
        assert_eq!(root.threshold, 5.0);
        assert!(
            root.missing_left,
            "4 rows on the left outweigh 2 on the right"
        );
    }

    #[test]
    fn early_stopping_stops_and_keeps_the_best_round() {
        // Validation rows carry the opposite labels: the loss rises after tree 1.
        let c = synthetic(2000, 3, 5);
        let mut flipped = Case {
            values: c.values.clone(),
            k: 3,
            positive: c.positive.iter().map(|p| !p).collect(),
        };
        flipped.values.extend(&c.values);
        flipped.positive.splice(0..0, c.positive.iter().copied());
        // Rows 0..2000: original labels; 2000..4000: the same rows, flipped.
        let train: Vec<usize> = (0..2000).collect();
        let val: Vec<usize> = (2000..4000).collect();
        let p = GbdtParams {
            early_stopping_rounds: Some(5),
            ..params(100, 3)
        };
        let f = fit_table(&flipped.table(), &train, &val, &p, 1.0).unwrap();
        assert!(f.info.trees_fitted < 100, "fitted {}", f.info.trees_fitted);
        assert_eq!(f.info.trees_fitted, f.info.trees_kept + 5);
        assert_eq!(f.ensemble.trees.len(), f.info.trees_kept);
        let h = &f.info.validation_logloss;
        assert_eq!(h.len(), f.info.trees_fitted);
        let best = h[f.info.trees_kept - 1];
        assert!(h.iter().all(|&l| l >= best));
        // Without early stopping every tree is kept.
        let f = fit_table(&flipped.table(), &train, &val, &params(30, 3), 1.0).unwrap();
        assert_eq!((f.info.trees_fitted, f.ensemble.trees.len()), (30, 30));
    }

    #[test]
    fn ensemble_margins_equal_the_trainers_own() {
        // Coarse values (many ties), NaN holes, more distinct values than bins, row and
        // column sampling (rows left out of a tree are walked on their bins): the
        // ensemble must score every training row exactly as the trainer partitioned it.
        let mut c = synthetic(5000, 4, 6);
        for (j, v) in c.values.iter_mut().enumerate() {
            match j % 4 {
                1 => *v = (*v * 8.0).floor(),
                2 if j % 7 == 0 => *v = f32::NAN,
                3 => *v = -*v * 1e-3,
                _ => {}
            }
        }
        let train: Vec<usize> = (0..4000).collect();
        let val: Vec<usize> = (4000..5000).collect();
        let p = GbdtParams {
            bins: 32,
            subsample: 0.6,
            colsample: 0.75,
            ..params(25, 5)
        };
        let f = fit_table(&c.table(), &train, &val, &p, 2.5).unwrap();
        assert!(f.ensemble.node_count() > 25 * 7, "trees barely split");
        for (r, &i) in train.iter().enumerate() {
            assert_eq!(f.ensemble.margin(c.row(i)), f.train_margins[r], "row {i}");
        }
        for t in &f.ensemble.trees {
            for n in t.nodes.iter().filter(|n| !n.leaf) {
                assert_eq!(f64::from(n.threshold as f32), n.threshold);
                assert_eq!(f64::from(n.leaf_value as f32), n.leaf_value);
            }
        }
    }

    /// `n` rows of `k` features shaped like window features: most cells one common
    /// value (0 or 1), the rest spread, some NaN; positives depend on features 0, 1.
    fn mostly_common(n: usize, k: usize, seed: u64) -> Case {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut values = Vec::with_capacity(n * k);
        let mut positive = Vec::with_capacity(n);
        for _ in 0..n {
            let row: Vec<f32> = (0..k)
                .map(|f| match rng.random_range(0..10) {
                    0..=6 => (f % 2) as f32,
                    7 if f == 3 => f32::NAN,
                    _ => (rng.random::<f32>() * 300.0).floor(),
                })
                .collect();
            positive.push(row[0] + row[1] > 350.0 || rng.random::<f32>() < 0.01);
            values.extend(row);
        }
        Case {
            values,
            k,
            positive,
        }
    }

    #[test]
    fn binned_rows_columns_and_sparse_rows_agree() {
        // More rows than CHUNK and TILE (partial last chunk and tile), rows not in
        // table order, a feature with one value (no cells).
        let mut c = mostly_common(CHUNK + 3000, 5, 4);
        for v in c.values.iter_mut().skip(4).step_by(5) {
            *v = 7.0;
        }
        let rows: Vec<usize> = (0..c.positive.len())
            .rev()
            .step_by(2)
            .chain(0..500)
            .collect();
        let b = Binned::new(&c.table(), &rows, 64, 2.5);
        // The row-major bins equal binning every value on its own.
        assert_eq!(b.bins, b.rebin(&c.table(), &rows).bins);
        for (j, &i) in rows.iter().enumerate() {
            for f in 0..c.k {
                let bin = b.bins[j * c.k + f];
                assert_eq!(bin, bin_of(&b.bounds[f], c.row(i)[f]));
                assert_eq!(b.column(f)[j], bin);
            }
        }
        // Sparse rows: every cell but the feature's common bin; none of feature 4.
        assert_eq!(b.sparse.common[4], None);
        assert!(b.sparse.common[..4].iter().all(Option::is_some));
        for j in 0..rows.len() {
            let expected: Vec<u32> = (0..c.k)
                .filter_map(|f| {
                    let bin = b.bins[j * c.k + f];
                    let common = b.sparse.common[f]?;
                    (bin != common).then_some((f * HIST_STRIDE) as u32 + u32::from(bin))
                })
                .collect();
            assert_eq!(b.sparse.row(j), expected, "row {j}");
        }
    }

    #[test]
    fn sparse_histograms_equal_dense_ones() {
        let c = mostly_common(CHUNK * 2 + 777, 6, 5);
        let rows: Vec<usize> = (0..c.positive.len()).collect();
        let b = Binned::new(&c.table(), &rows, 255, 3.0);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let gh: Vec<[f32; 2]> = (0..rows.len())
            .map(|_| [rng.random::<f32>() - 0.7, rng.random::<f32>() * 0.25])
            .collect();
        let pool = HistPool::new(c.k);
        // The root (several partial histograms), a sparse subset, an empty node; the
        // pool hands back used histograms, which must come zeroed.
        let subset: Vec<u32> = (0..rows.len() as u32).filter(|r| r % 7 == 3).collect();
        let all: Vec<u32> = (0..rows.len() as u32).collect();
        for node in [&all[..], &subset[..], &[], &all[..]] {
            let (h, total) = build_hist(&b, &gh, node, &pool);
            let mut dense = zero_hist(c.k);
            let mut want_total = [0.0f64; 2];
            for &r in node {
                let [g, hs] = gh[r as usize];
                want_total[0] += f64::from(g);
                want_total[1] += f64::from(hs);
                for (f, hf) in dense.iter_mut().enumerate() {
                    let e = &mut hf[usize::from(b.bins[r as usize * c.k + f])];
                    e[0] += f64::from(g);
                    e[1] += f64::from(hs);
                }
            }
            for k in 0..2 {
                assert!(
                    (total[k] - want_total[k]).abs() < 1e-6,
                    "{total:?} {want_total:?}"
                );
            }
            for f in 0..c.k {
                for bin in 0..HIST_STRIDE {
                    for k in 0..2 {
                        let (got, want) = (h[f][bin][k], dense[f][bin][k]);
                        assert!(
                            (got - want).abs() < 1e-6,
                            "f {f} bin {bin}: {got} vs {want}"
                        );
                    }
                }
            }
            pool.put(h);
        }
    }

    #[test]
    fn partition_is_stable_across_chunks() {
        let c = mostly_common(CHUNK * 2 + 999, 4, 6);
        let all: Vec<usize> = (0..c.positive.len()).collect();
        let b = Binned::new(&c.table(), &all, 255, 1.0);
        // A node's rows: ascending, with gaps, more than two chunks.
        let node: Vec<u32> = (0..all.len() as u32).filter(|r| r % 3 != 1).collect();
        for (feature, bin, missing_left) in [
            (0, 0, false),
            (3, 20, true),
            (3, 20, false),
            (1, 300, false),
        ] {
            let bin = bin.min(b.nan_bin(feature) - 1);
            let s = Split {
                feature,
                bin,
                missing_left,
                gain: 1.0,
                left: [0.0; 2],
                right: [0.0; 2],
            };
            let left_of = |r: &u32| {
                goes_left(
                    usize::from(b.column(feature)[*r as usize]),
                    b.nan_bin(feature),
                    bin,
                    missing_left,
                )
            };
            let want: Vec<u32> = node
                .iter()
                .copied()
                .filter(left_of)
                .chain(node.iter().copied().filter(|r| !left_of(r)))
                .collect();
            let mut rows = node.clone();
            let mut scratch = vec![0u32; rows.len()];
            let n_left = partition(&b, &mut rows, &mut scratch, &s);
            assert_eq!(n_left, node.iter().filter(|r| left_of(r)).count());
            assert_eq!(
                rows, want,
                "feature {feature} bin {bin} missing_left {missing_left}"
            );
        }
    }

    #[test]
    fn radix_sort_sorts_and_weighted_values_merge() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for (n, mask) in [
            (0, u32::MAX),
            (5, u32::MAX),
            (5000, u32::MAX),
            (70_000, 0xff),
            (70_000, 0xff00_00ff),
        ] {
            let keys: Vec<u32> = (0..n).map(|_| rng.random::<u32>() & mask).collect();
            let mut got = keys.clone();
            radix_sort(&mut got);
            let mut want = keys;
            want.sort_unstable();
            assert_eq!(got, want, "n {n} mask {mask:x}");
        }
        let key = order_bits;
        let negative = [key(-1.0), key(0.0), key(0.0), key(2.0)];
        let positive = [key(0.0), key(3.0), key(3.0)];
        assert_eq!(
            weighted_values(&negative, &positive, 10.0),
            vec![(-1.0, 1.0), (0.0, 12.0), (2.0, 1.0), (3.0, 20.0)]
        );
        assert_eq!(weighted_values(&[], &[], 10.0), vec![]);
        for v in [-1.5f32, -0.0, 0.0, 1e-45, f32::INFINITY, f32::NEG_INFINITY] {
            assert_eq!(from_order_bits(order_bits(v)).to_bits(), v.to_bits());
        }
        assert!(from_order_bits(order_bits(f32::NAN)).is_nan());
    }

    #[test]
    fn same_trees_on_any_number_of_threads() {
        // Sums are grouped by fixed chunks, so the thread count cannot change a bit.
        let c = mostly_common(CHUNK * 2 + 500, 5, 7);
        let train: Vec<usize> = (0..CHUNK * 2).collect();
        let val: Vec<usize> = (CHUNK * 2..c.positive.len()).collect();
        let p = GbdtParams {
            subsample: 0.8,
            ..params(8, 4)
        };
        let fit_on = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| fit_table(&c.table(), &train, &val, &p, 4.0).unwrap())
        };
        let (one, three) = (fit_on(1), fit_on(3));
        assert!(one.ensemble.node_count() > 8 * 5, "trees barely split");
        assert_eq!(one.ensemble, three.ensemble);
        assert_eq!(one.info, three.info);
        assert_eq!(one.train_margins, three.train_margins);
    }

    #[test]
    fn order_bits_sort_like_total_cmp() {
        let vals = [
            f32::NEG_INFINITY,
            -3.0e38,
            -1.0,
            -1e-45,
            -0.0,
            0.0,
            1e-45,
            1.0,
            1.5,
            3.0e38,
            f32::INFINITY,
        ];
        for a in vals {
            for b in vals {
                assert_eq!(
                    order_bits(a).cmp(&order_bits(b)),
                    a.total_cmp(&b),
                    "{a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn quantile_bounds_share_weight_and_are_data_values() {
        // Few distinct values: one bin each.
        let v: Vec<(f32, f64)> = [0.0, 0.0, -0.0, 1.0, 2.0, 2.0]
            .iter()
            .map(|&x| (x, 1.0))
            .collect();
        let mut v = v;
        v.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(quantile_bounds(&v, 255), vec![-0.0, 1.0, 2.0]);
        // Half the weight on 0, the rest spread: 0 gets one bin, the tail the others.
        let mut v: Vec<(f32, f64)> = vec![(0.0, 1.0); 1000];
        v.extend((1..=1000).map(|i| (i as f32, 1.0)));
        let b = quantile_bounds(&v, 10);
        assert_eq!(b.len(), 10);
        assert_eq!((b[0], b[1]), (0.0, 1.0));
        assert!(b.windows(2).all(|w| w[0] < w[1]));
        // Bins of the tail hold about 1000/9 values each.
        let sizes: Vec<usize> = b[1..].windows(2).map(|w| (w[1] - w[0]) as usize).collect();
        assert!(sizes.iter().all(|&s| (100..=125).contains(&s)), "{sizes:?}");
        // bin_of agrees with `value < threshold` for every bound.
        for x in [-1.0f32, 0.0, 0.5, 1.0, 111.0, 999.5, 1000.0, 5000.0] {
            let bin = bin_of(&b, x) as usize;
            for (j, &t) in b.iter().enumerate().skip(1) {
                assert_eq!(bin < j, x < t, "x {x} bin {bin} bound {j}");
            }
        }
        assert_eq!(bin_of(&b, f32::NAN) as usize, b.len());
    }
}

/// Timing harness on a `train --dump-rows` CSV (not a check: prints fit time and test
/// average precision). `WORKBENCH_HIST_BENCH_CSV=rows.csv cargo test -p workbench --lib
/// hist_gbdt::bench -- --ignored --nocapture`
#[cfg(test)]
mod bench {
    use super::*;
    use crate::model::PositiveWeight;

    #[test]
    #[ignore]
    fn fit_dumped_rows() {
        let Ok(path) = std::env::var("WORKBENCH_HIST_BENCH_CSV") else {
            return;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let k = lines.next().unwrap().split(',').count() - 6;
        let (mut values, mut positive, mut part) = (Vec::new(), Vec::new(), Vec::new());
        for l in lines {
            let mut it = l.split(',');
            it.next();
            part.push(it.next().unwrap().to_string());
            it.next();
            it.next();
            positive.push(it.next().unwrap() == "1");
            it.next();
            values.extend(it.map(|v| v.parse::<f32>().unwrap_or(f32::NAN)));
        }
        assert_eq!(values.len(), positive.len() * k);
        let idx = |p: &str| -> Vec<usize> { (0..part.len()).filter(|&i| part[i] == p).collect() };
        let (train, val, test) = (idx("train"), idx("validation"), idx("test"));
        let pos = train.iter().filter(|&&i| positive[i]).count() as f64;
        let w = ((train.len() as f64 - pos) / pos).sqrt();
        let t = Table {
            values: &values,
            n_features: k,
            positive: &positive,
        };
        let p = GbdtParams {
            early_stopping_rounds: None,
            positive_weight: PositiveWeight::Fixed(w),
            trees: std::env::var("BENCH_TREES").map_or(200, |v| v.parse().unwrap()),
            bins: std::env::var("BENCH_BINS").map_or(256, |v| v.parse().unwrap()),
            ..GbdtParams::default()
        };
        let t0 = std::time::Instant::now();
        let bn = Binned::new(&t, &train, 256, w);
        let t1 = t0.elapsed().as_secs_f64();
        let gh = vec![[0.5f32, 0.25]; train.len()];
        let rows: Vec<u32> = (0..train.len() as u32).collect();
        let t0 = std::time::Instant::now();
        for _ in 0..10 {
            std::hint::black_box(build_hist(&bn, &gh, &rows, &HistPool::new(k)));
        }
        println!(
            "binning {t1:.2} s, root histogram {:.3} s",
            t0.elapsed().as_secs_f64() / 10.0
        );
        let started = std::time::Instant::now();
        let f = fit_table(&t, &train, &val, &p, w).unwrap();
        let fit_s = started.elapsed().as_secs_f64();
        let mut s: Vec<(f64, bool)> = test
            .iter()
            .map(|&i| (f.ensemble.margin(&values[i * k..(i + 1) * k]), positive[i]))
            .collect();
        s.sort_by(|a, b| b.0.total_cmp(&a.0));
        let total = s.iter().filter(|x| x.1).count() as f64;
        let (mut tp, mut ap, mut i) = (0.0, 0.0, 0);
        while i < s.len() {
            let mut j = i;
            let mut new_tp = 0.0;
            while j < s.len() && s[j].0 == s[i].0 {
                new_tp += f64::from(u8::from(s[j].1));
                j += 1;
            }
            tp += new_tp;
            ap += new_tp / total * (tp / j as f64);
            i = j;
        }
        println!(
            "rows {} train {} ({} pos) test {} ({} pos): fit {fit_s:.2} s, test AP {ap:.5}, nodes {}",
            part.len(), train.len(), pos, test.len(), total, f.ensemble.node_count()
        );
    }
}

#[cfg(test)]
mod real_rows {
    use super::*;
    use crate::model::dataset::test_rows::real_data;

    #[test]
    fn margins_match_on_engine_rows() {
        // Rows from the engine (heavy ties at 0, wide ranges) rather than uniform noise.
        let data = real_data(8, 60.0);
        let split = data.default_time_split();
        let params = GbdtParams {
            trees: 30,
            subsample: 0.8,
            colsample: 0.7,
            early_stopping_rounds: None,
            ..GbdtParams::default()
        };
        let f = fit(&data, &split.train, &split.validation, &params).unwrap();
        assert_eq!(f.ensemble.n_features as usize, data.n_features());
        assert!(
            f.ensemble.trees.iter().any(|t| t.nodes.len() > 1),
            "no tree splits"
        );
        for (r, &i) in split.train.iter().enumerate() {
            assert_eq!(
                f.ensemble.margin(data.row(i)),
                f.train_margins[r],
                "row {i}"
            );
        }
        // The attack windows of the training split score above the benign ones.
        let mean = |pos: bool| {
            let s: Vec<f64> = split
                .train
                .iter()
                .filter(|&&i| data.is_positive(i) == pos)
                .map(|&i| f.ensemble.margin(data.row(i)))
                .collect();
            s.iter().sum::<f64>() / s.len() as f64
        };
        assert!(
            mean(true) > mean(false) + 2.0,
            "{} vs {}",
            mean(true),
            mean(false)
        );
    }
}
