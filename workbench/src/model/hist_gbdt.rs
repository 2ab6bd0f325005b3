//! Our own histogram gradient-boosting trainer (log loss), writing [`TreeEnsemble`]s.
//!
//! Why our own: forust-ml copied the rows to a column-major `f64` matrix and re-binned
//! them on every fit, and was 1.8× slower than XGBoost on a 1.2 M-row table (issue 4
//! wants ≤ 1.5×). This trainer follows XGBoost's `hist` method:
//!
//! - every feature is quantised once to at most 255 value bins (weighted quantiles of
//!   the training rows, the weight of a positive row counting like XGBoost's sample
//!   weight) plus one bin for NaN; the bins are stored row-major as `u8`;
//! - gradients and hessians of the (class-weighted) log loss, depth-wise growth to
//!   `depth`, one gradient histogram per node, built for the smaller child only and
//!   subtracted from the parent's for the larger one;
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
//! Determinism: rows are cut into fixed chunks of [`CHUNK`] rows whatever the number of
//! threads; per-chunk histograms and partitions are combined in chunk order, and the
//! row/column sampling draws from one ChaCha8 stream seeded with `seed`. The same
//! inputs and parameters give the same bytes on any machine with the same `f64`
//! arithmetic.

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
    /// Per feature, the lower bound of each value bin (ascending, distinct): value `v`
    /// is in bin `b` when `bounds[b] <= v < bounds[b + 1]` (bin 0 also holds smaller
    /// values, the last bin larger ones). NaN is bin `bounds.len()`.
    pub bounds: Vec<Vec<f32>>,
}

impl Binned {
    /// Quantises `rows` of `data`; `weight(i)` is the sample weight of data row `i`.
    pub fn new(
        data: &Table<'_>,
        rows: &[usize],
        max_bins: usize,
        weight: impl Fn(usize) -> f64 + Sync,
    ) -> Binned {
        let k = data.n_features;
        let max_bins = max_bins.clamp(2, MAX_VALUE_BINS);
        // Row positions go in the low 32 bits of the sort keys.
        assert!(
            u32::try_from(rows.len()).is_ok(),
            "at most u32::MAX rows can be binned (fit_table checks this first)"
        );
        let bounds: Vec<Vec<f32>> = (0..k)
            .into_par_iter()
            .map(|f| {
                // Sort plain u64 keys (the value's total-order bits, then the row's
                // position) rather than (value, weight) pairs with a comparator: about
                // twice as fast, and equal values come in row order, so each distinct
                // value's weight is summed in a defined order.
                let mut keys: Vec<u64> = rows
                    .iter()
                    .enumerate()
                    .filter_map(|(j, &i)| {
                        let v = data.values[i * k + f];
                        (!v.is_nan()).then(|| (u64::from(order_bits(v)) << 32) | j as u64)
                    })
                    .collect();
                keys.sort_unstable();
                let vals: Vec<(f32, f64)> = keys
                    .iter()
                    .map(|&key| {
                        let j = (key & u64::from(u32::MAX)) as usize;
                        (data.values[rows[j] * k + f], weight(rows[j]))
                    })
                    .collect();
                quantile_bounds(&vals, max_bins)
            })
            .collect();
        Binned::with_bounds(data, rows, bounds)
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
            bounds,
        }
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
    /// Its histogram (None at the last level, where nothing splits).
    hist: Option<Hist>,
}

fn zero_hist(k: usize) -> Hist {
    vec![[[0.0; 2]; HIST_STRIDE]; k]
}

/// The histogram of `rows` (positions in `b`), built per chunk and summed in order.
fn build_hist(b: &Binned, gh: &[[f32; 2]], rows: &[u32]) -> Hist {
    let k = b.n_features;
    // At most HIST_TASKS partial histograms: each is ~180 KB (43 features), above
    // malloc's mmap threshold, so every one costs fresh zeroed pages (page faults were
    // 12% of the fit with one per CHUNK rows). The chunk length depends on the row count
    // only, so the sums are grouped the same way on any number of threads.
    let len = CHUNK.max(rows.len().div_ceil(HIST_TASKS));
    let parts: Vec<Hist> = rows
        .par_chunks(len)
        .map(|chunk| {
            let mut h = zero_hist(k);
            for &r in chunk {
                let r = r as usize;
                let [g, hs] = gh[r];
                let (g, hs) = (f64::from(g), f64::from(hs));
                for (hf, &bin) in h.iter_mut().zip(b.row(r)) {
                    let e = &mut hf[bin as usize];
                    e[0] += g;
                    e[1] += hs;
                }
            }
            h
        })
        .collect();
    let mut it = parts.into_iter();
    let mut acc = it.next().unwrap_or_else(|| zero_hist(k));
    for p in it {
        for (a, q) in acc.iter_mut().zip(&p) {
            for (x, y) in a.iter_mut().zip(q) {
                x[0] += y[0];
                x[1] += y[1];
            }
        }
    }
    acc
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
    let (k, f, nan) = (b.n_features, s.feature, b.nan_bin(s.feature));
    let left_of = |r: u32| {
        goes_left(
            b.bins[r as usize * k + f] as usize,
            nan,
            s.bin,
            s.missing_left,
        )
    };
    let counts: Vec<usize> = rows
        .par_chunks(CHUNK)
        .zip(scratch.par_chunks_mut(CHUNK))
        .map(|(c, out)| {
            let (mut l, mut r) = (0, out.len());
            for &x in c {
                if left_of(x) {
                    out[l] = x;
                    l += 1;
                } else {
                    r -= 1;
                    out[r] = x;
                }
            }
            l
        })
        .collect();
    let mut w = 0;
    for (out, &nl) in scratch.chunks(CHUNK).zip(&counts) {
        rows[w..w + nl].copy_from_slice(&out[..nl]);
        w += nl;
    }
    let n_left = w;
    for (out, &nl) in scratch.chunks(CHUNK).zip(&counts) {
        // Right rows were written from the end backwards: reverse them back.
        for (dst, &src) in rows[w..w + out.len() - nl]
            .iter_mut()
            .zip(out[nl..].iter().rev())
        {
            *dst = src;
        }
        w += out.len() - nl;
    }
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
/// and the leaves' row ranges in the row buffer.
struct Grown {
    tree: Tree,
    split_bins: Vec<usize>,
    leaves: Vec<(usize, usize, f64)>,
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
) -> Grown {
    let scratch = &mut scratch[..rows.len()];
    let k = b.n_features;
    let root_hist = build_hist(b, gh, rows);
    // Node sums from the histogram of one feature (every row is in exactly one bin).
    let root_sum = root_hist.first().map_or([0.0; 2], |hf| {
        hf.iter().fold([0.0; 2], |a, e| [a[0] + e[0], a[1] + e[1]])
    });
    let mut nodes = vec![leaf_node(leaf_value(root_sum, p), root_sum[1])];
    let mut split_bins = vec![0usize];
    let mut leaves = Vec::new();
    let mut level = vec![Open {
        id: 0,
        start: 0,
        end: rows.len(),
        sum: root_sum,
        hist: (p.depth > 0 && k > 0).then_some(root_hist),
    }];
    for depth in 0..=p.depth {
        let splits: Vec<Option<Split>> = level
            .par_iter()
            .map(|o| match &o.hist {
                Some(h) if depth < p.depth => best_split(b, h, o.sum, allowed, p),
                _ => None,
            })
            .collect();
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
        let need_hist = depth + 1 < p.depth;
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
                }
            }
        }
        let child_hists: Vec<(Option<Hist>, Option<Hist>)> = work
            .par_iter_mut()
            .map(|(o, _, nl)| {
                let Some(parent) = o.hist.take().filter(|_| need_hist) else {
                    return (None, None);
                };
                let mid = o.start + *nl;
                let (l, r) = (&rows_ro[o.start..mid], &rows_ro[mid..o.end]);
                if l.len() <= r.len() {
                    let hl = build_hist(b, gh, l);
                    let hr = subtract(parent, &hl);
                    (Some(hl), Some(hr))
                } else {
                    let hr = build_hist(b, gh, r);
                    let hl = subtract(parent, &hr);
                    (Some(hl), Some(hr))
                }
            })
            .collect();
        let mut next = Vec::with_capacity(work.len() * 2);
        for ((o, s, nl), (hl, hr)) in work.into_iter().zip(child_hists) {
            let (l, r) = (nodes.len(), nodes.len() + 1);
            let f = s.feature;
            nodes[o.id] = Node {
                leaf: false,
                feature: f as u32,
                threshold: f64::from(b.bounds[f][s.bin + 1]),
                left: l as u32,
                right: r as u32,
                missing_left: s.missing_left,
                leaf_value: leaf_value(o.sum, p),
                gain: s.gain,
                cover: o.sum[1],
            };
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
    }
}

/// The leaf value a binned row reaches (rows left out of a tree's sample).
fn walk_binned(g: &Grown, b: &Binned, r: usize) -> f64 {
    let row = b.row(r);
    let mut i = 0;
    loop {
        let n = &g.tree.nodes[i];
        if n.leaf {
            return n.leaf_value;
        }
        let f = n.feature as usize;
        let left = goes_left(
            row[f] as usize,
            b.nan_bin(f),
            g.split_bins[i],
            n.missing_left,
        );
        i = if left { n.left } else { n.right } as usize;
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Weighted mean log loss of margins `base + acc` against the rows' labels.
fn logloss(base: f64, acc: &[f64], y: &[bool], w: &[f64]) -> f64 {
    let (mut s, mut sw) = (0.0, 0.0);
    for ((&a, &yy), &ww) in acc.iter().zip(y).zip(w) {
        let p = sigmoid(base + a).clamp(1e-15, 1.0 - 1e-15);
        s -= ww * if yy { p.ln() } else { (1.0 - p).ln() };
        sw += ww;
    }
    s / sw
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
    let b = Binned::new(data, train, usize::from(p.bins), weight);
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
        let g = grow(&b, &gh, &mut rows, &mut scratch, &cols, p);
        for &(s, e, v) in &g.leaves {
            for &r in &rows[s..e] {
                acc[r as usize] += v;
            }
        }
        let walked: Vec<(u32, f64)> = left_out
            .par_iter()
            .map(|&r| (r, walk_binned(&g, &b, r as usize)))
            .collect();
        for (r, v) in walked {
            acc[r as usize] += v;
        }
        // The new tree's contribution to the validation margins, walked on bins: for
        // any value, `bin <= split bin` ⇔ `value < threshold` (the threshold is the
        // next bin's lower bound), so this equals `Tree::leaf_value` on the values.
        acc_val
            .par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, a)| {
                for (j, a) in a.iter_mut().enumerate() {
                    *a += walk_binned(&g, &bv, c * CHUNK + j);
                }
            });
        trees.push(g.tree);
        let loss = logloss(base, &acc_val, &yv, &wv);
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
        let bn = Binned::new(&t, &train, 256, |i| if positive[i] { w } else { 1.0 });
        let t1 = t0.elapsed().as_secs_f64();
        let gh = vec![[0.5f32, 0.25]; train.len()];
        let rows: Vec<u32> = (0..train.len() as u32).collect();
        let t0 = std::time::Instant::now();
        for _ in 0..10 {
            std::hint::black_box(build_hist(&bn, &gh, &rows));
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
    use crate::datasets::Dataset;
    use crate::engine::WindowConfig;
    use crate::model::{collect, time_split, SplitConfig};
    use crate::simulate::{Scenario, SimConfig, Simulator};

    #[test]
    fn margins_match_on_engine_rows() {
        // Rows from the engine (heavy ties at 0, wide ranges) rather than uniform noise.
        let sim = SimConfig {
            scenario: Scenario::Mixed,
            seconds: 60.0,
            seed: 8,
            ..SimConfig::default()
        };
        let ds = Dataset {
            name: "mixed-8".into(),
            description: String::new(),
            captures: Vec::new(),
            episodes: Simulator::new(&sim).episodes().to_vec(),
            simulations: vec![sim],
        };
        let data = collect(&ds, &WindowConfig::default(), true).unwrap();
        let split = time_split(&data.end_ns, SplitConfig::TIME_DEFAULT, 2_000_000_000).unwrap();
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
