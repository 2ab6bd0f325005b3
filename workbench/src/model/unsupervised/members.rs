//! The four anomaly detectors of the ensemble, fitted on standardised benign rows.
//!
//! Every stored number is an `f32` value (kept in `f64` fields): the ONNX export
//! computes in `f32` with exactly these constants, so the only difference between the
//! native scorer and an ONNX runtime is the `f32` arithmetic itself.
//!
//! Own implementations instead of linfa: linfa-clustering would bring ndarray 0.15/0.16
//! and the linfa stack into the build (2 shared cores) for one k-means loop, and its
//! random state is not guaranteed to give the same centroids across versions; the
//! model file must be byte-identical for the same data and seed.

use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::model::gbdt::{Node, Tree, TreeEnsemble};

/// Rounds to the nearest `f32` (what the ONNX graph stores).
#[inline]
pub(crate) fn r32(x: f64) -> f64 {
    f64::from(x as f32)
}

/// Squared Euclidean distance.
#[inline]
pub(crate) fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// K-means: the squared distance to the nearest of `k` centroids.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KMeans {
    /// Row-major `[k, d]`.
    pub centroids: Vec<f64>,
    pub k: usize,
    pub d: usize,
}

impl KMeans {
    /// k-means++ seeding then Lloyd iterations (at most `iters`, stopping when no
    /// assignment changes). Deterministic for a seed.
    pub fn fit(rows: &[Vec<f64>], k: usize, iters: usize, seed: u64) -> Result<KMeans> {
        let n = rows.len();
        if n == 0 {
            bail!("k-means needs at least one row");
        }
        let d = rows[0].len();
        let k = k.min(n).max(1);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut centres: Vec<Vec<f64>> = vec![rows[rng.random_range(0..n)].clone()];
        let mut best: Vec<f64> = rows.iter().map(|r| sq_dist(r, &centres[0])).collect();
        while centres.len() < k {
            let total: f64 = best.iter().sum();
            if total <= 0.0 {
                break; // fewer distinct points than k
            }
            let mut u = rng.random::<f64>() * total;
            let mut pick = n - 1;
            for (i, &b) in best.iter().enumerate() {
                if u < b {
                    pick = i;
                    break;
                }
                u -= b;
            }
            let c = rows[pick].clone();
            for (b, r) in best.iter_mut().zip(rows) {
                *b = b.min(sq_dist(r, &c));
            }
            centres.push(c);
        }
        let mut assign = vec![usize::MAX; n];
        for _ in 0..iters {
            let mut changed = false;
            for (a, r) in assign.iter_mut().zip(rows) {
                let j = nearest(&centres, r).0;
                if *a != j {
                    *a = j;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
            let mut sums = vec![vec![0f64; d]; centres.len()];
            let mut counts = vec![0usize; centres.len()];
            for (&a, r) in assign.iter().zip(rows) {
                counts[a] += 1;
                for (s, v) in sums[a].iter_mut().zip(r) {
                    *s += v;
                }
            }
            for ((c, s), &m) in centres.iter_mut().zip(&sums).zip(&counts) {
                // An emptied cluster keeps its centre (it cannot win rows back, and a
                // re-seed would make results depend on more random draws).
                if m > 0 {
                    for (cv, sv) in c.iter_mut().zip(s) {
                        *cv = sv / m as f64;
                    }
                }
            }
        }
        Ok(KMeans {
            k: centres.len(),
            d,
            centroids: centres.into_iter().flatten().map(r32).collect(),
        })
    }

    pub fn score(&self, z: &[f64]) -> f64 {
        self.centroids
            .chunks(self.d.max(1))
            .map(|c| sq_dist(z, c))
            .fold(f64::INFINITY, f64::min)
    }
}

fn nearest(centres: &[Vec<f64>], r: &[f64]) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (j, c) in centres.iter().enumerate() {
        let d = sq_dist(r, c);
        if d < best.1 {
            best = (j, d);
        }
    }
    best
}

/// Added to the mean reachability distance before inverting it (scikit-learn's 1e-10),
/// so duplicates cannot divide by zero.
pub const LOF_EPS: f64 = 1e-10;

/// Local outlier factor in novelty mode over a stored reference set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lof {
    pub k: usize,
    pub d: usize,
    /// Row-major `[m, d]` reference points (distinct, standardised).
    pub reference: Vec<f64>,
    /// Distance of each reference point to its k-th nearest other reference point.
    pub k_distance: Vec<f64>,
    /// Local reachability density of each reference point.
    pub lrd: Vec<f64>,
}

impl Lof {
    /// `rows` are the (already distinct, subsampled) reference points.
    pub fn fit(rows: &[Vec<f64>], k: usize) -> Result<Lof> {
        let m = rows.len();
        if m < 2 {
            bail!("LOF needs at least 2 distinct benign rows, got {m}");
        }
        let k = k.min(m - 1);
        let d = rows[0].len();
        let pts: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| r.iter().map(|&v| r32(v)).collect())
            .collect();
        // Neighbours of each reference point among the others.
        let mut nbrs: Vec<Vec<(f64, usize)>> = Vec::with_capacity(m);
        for (i, p) in pts.iter().enumerate() {
            let mut ds: Vec<(f64, usize)> = pts
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(j, q)| (sq_dist(p, q), j))
                .collect();
            ds.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            ds.truncate(k);
            ds.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            nbrs.push(ds.into_iter().map(|(s, j)| (s.sqrt(), j)).collect());
        }
        let k_distance: Vec<f64> = nbrs.iter().map(|n| r32(n[k - 1].0)).collect();
        let lrd: Vec<f64> = nbrs
            .iter()
            .map(|n| {
                let mean = n.iter().map(|&(dd, j)| dd.max(k_distance[j])).sum::<f64>() / k as f64;
                r32(1.0 / (mean + LOF_EPS))
            })
            .collect();
        Ok(Lof {
            k,
            d,
            reference: pts.into_iter().flatten().collect(),
            k_distance,
            lrd,
        })
    }

    /// The k nearest reference points (index), ties by index — ONNX TopK's order.
    pub fn neighbours(&self, z: &[f64]) -> Vec<(f64, usize)> {
        let mut ds: Vec<(f64, usize)> = self
            .reference
            .chunks(self.d.max(1))
            .enumerate()
            .map(|(j, r)| (sq_dist(z, r), j))
            .collect();
        let k = self.k.min(ds.len());
        ds.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        ds.truncate(k);
        ds
    }

    /// LOF(z) = mean lrd(neighbours) / lrd(z) = mean lrd(o) · (mean reach(z, o) + ε).
    pub fn score(&self, z: &[f64]) -> f64 {
        let n = self.neighbours(z);
        let k = n.len() as f64;
        let reach = n
            .iter()
            .map(|&(s, j)| s.sqrt().max(self.k_distance[j]))
            .sum::<f64>()
            / k;
        let lrd = n.iter().map(|&(_, j)| self.lrd[j]).sum::<f64>() / k;
        lrd * (reach + LOF_EPS)
    }
}

/// Linear one-class SVM (scikit-learn's SGDOneClassSVM objective): minimise
/// `ν/2 ‖w‖² − νρ + mean(max(0, ρ − w·z))` by SGD; the anomaly score is `ρ − w·z`
/// (positive outside the learned half-space).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearOcsvm {
    pub w: Vec<f64>,
    pub rho: f64,
    pub nu: f64,
}

impl LinearOcsvm {
    pub fn fit(rows: &[Vec<f64>], nu: f64, epochs: usize, seed: u64) -> Result<LinearOcsvm> {
        if rows.is_empty() {
            bail!("the one-class SVM needs at least one row");
        }
        if !(nu > 0.0 && nu <= 1.0) {
            bail!("nu must be in (0, 1], got {nu}");
        }
        let d = rows[0].len();
        let mut w = vec![0f64; d];
        let mut rho = 0f64;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut order: Vec<usize> = (0..rows.len()).collect();
        // Pegasos-style decreasing step (the "optimal" schedule of SGD with an L2 term).
        let eta0 = 0.1;
        let mut t = 0f64;
        for _ in 0..epochs {
            // Fisher-Yates with our generator (rand's shuffle is not guaranteed stable
            // across versions).
            for i in (1..order.len()).rev() {
                let j = rng.random_range(0..=i);
                order.swap(i, j);
            }
            for &i in &order {
                let eta = eta0 / (1.0 + eta0 * nu * t);
                t += 1.0;
                let x = &rows[i];
                let margin = rho - w.iter().zip(x).map(|(a, b)| a * b).sum::<f64>();
                let active = margin > 0.0;
                for (wj, xj) in w.iter_mut().zip(x) {
                    let g = nu * *wj - if active { *xj } else { 0.0 };
                    *wj -= eta * g;
                }
                let g_rho = -nu + if active { 1.0 } else { 0.0 };
                rho -= eta * g_rho;
            }
        }
        Ok(LinearOcsvm {
            w: w.into_iter().map(r32).collect(),
            rho: r32(rho),
            nu,
        })
    }

    pub fn score(&self, z: &[f64]) -> f64 {
        self.rho - self.w.iter().zip(z).map(|(a, b)| a * b).sum::<f64>()
    }
}

/// Average path length of an unsuccessful search in a binary search tree of `n`
/// points (Liu et al. 2008), the isolation forest's normaliser c(n).
pub fn c_factor(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            const EULER: f64 = 0.577_215_664_901_532_9;
            2.0 * ((n - 1.0).ln() + EULER) - 2.0 * (n - 1.0) / n
        }
    }
}

/// Isolation forest on the (imputed) raw feature values. Held as a [`TreeEnsemble`]
/// whose leaf values are `(depth + c(size)) / trees`, so its margin is the mean path
/// length E[h(x)] and the ONNX plain-operator tree export runs it unchanged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsolationForest {
    pub trees: TreeEnsemble,
    /// Rows per tree (ψ).
    pub sample_size: usize,
    /// c(ψ).
    pub c: f64,
}

impl IsolationForest {
    /// `rows` are `f32` values (raw features, NaN imputed).
    pub fn fit(rows: &[Vec<f32>], n_trees: usize, sample_size: usize, seed: u64) -> Result<Self> {
        if rows.is_empty() {
            bail!("the isolation forest needs at least one row");
        }
        let d = rows[0].len();
        let psi = sample_size.min(rows.len()).max(1);
        let max_depth = (psi as f64).log2().ceil().max(1.0) as usize;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut trees = Vec::with_capacity(n_trees);
        for _ in 0..n_trees {
            // Sample ψ rows without replacement (partial Fisher-Yates).
            let mut idx: Vec<usize> = (0..rows.len()).collect();
            for i in 0..psi {
                let j = rng.random_range(i..idx.len());
                idx.swap(i, j);
            }
            idx.truncate(psi);
            let mut nodes = Vec::new();
            grow(rows, idx, 0, max_depth, d, n_trees, &mut rng, &mut nodes);
            trees.push(Tree { nodes });
        }
        Ok(IsolationForest {
            trees: TreeEnsemble {
                n_features: d as u32,
                base_score: 0.0,
                trees,
            },
            sample_size: psi,
            c: c_factor(psi),
        })
    }

    /// Mean path length E[h(x)] for `f32` values.
    pub fn mean_path(&self, x: &[f32]) -> f64 {
        self.trees.margin(x)
    }

    /// The anomaly score 2^(−E[h(x)] / c(ψ)) in (0, 1].
    pub fn score(&self, x: &[f32]) -> f64 {
        let c = if self.c > 0.0 { self.c } else { 1.0 };
        (-self.mean_path(x) / c * std::f64::consts::LN_2).exp()
    }
}

/// The next `f32` above `x` (`f32::next_up` needs Rust 1.86; the MSRV is 1.85).
fn next_up(x: f32) -> f32 {
    if x.is_nan() || x == f32::INFINITY {
        x
    } else if x == 0.0 {
        f32::from_bits(1)
    } else if x > 0.0 {
        f32::from_bits(x.to_bits() + 1)
    } else {
        f32::from_bits(x.to_bits() - 1)
    }
}

fn leaf(value: f64) -> Node {
    Node::leaf(value, 0.0)
}

/// Grows one isolation tree in pre-order (children after their parent, as
/// [`TreeEnsemble::validate`] wants). Splits are `x < t` with `t` an `f32` strictly
/// above the node's minimum and at most its maximum, so both sides are non-empty.
#[allow(clippy::too_many_arguments)]
fn grow(
    rows: &[Vec<f32>],
    idx: Vec<usize>,
    depth: usize,
    max_depth: usize,
    d: usize,
    n_trees: usize,
    rng: &mut ChaCha8Rng,
    nodes: &mut Vec<Node>,
) -> u32 {
    let at = nodes.len() as u32;
    let leaf_value = |n: usize| r32((depth as f64 + c_factor(n)) / n_trees as f64);
    if depth >= max_depth || idx.len() <= 1 {
        nodes.push(leaf(leaf_value(idx.len())));
        return at;
    }
    // Features that still vary in this node; pick one uniformly.
    let ranges: Vec<(usize, f32, f32)> = (0..d)
        .filter_map(|f| {
            let (lo, hi) = idx
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &i| {
                    (lo.min(rows[i][f]), hi.max(rows[i][f]))
                });
            (lo < hi).then_some((f, lo, hi))
        })
        .collect();
    if ranges.is_empty() {
        nodes.push(leaf(leaf_value(idx.len())));
        return at;
    }
    let (f, lo, hi) = ranges[rng.random_range(0..ranges.len())];
    let u: f64 = rng.random();
    let mut t = (f64::from(lo) + u * (f64::from(hi) - f64::from(lo))) as f32;
    if t <= lo {
        t = next_up(lo);
    }
    if t > hi {
        t = hi;
    }
    let (l, r): (Vec<usize>, Vec<usize>) = idx.into_iter().partition(|&i| rows[i][f] < t);
    nodes.push(Node {
        leaf: false,
        feature: f as u32,
        threshold: f64::from(t),
        left: 0,
        right: 0,
        missing_left: false,
        leaf_value: 0.0,
        gain: 0.0,
        cover: 0.0,
    });
    let left = grow(rows, l, depth + 1, max_depth, d, n_trees, rng, nodes);
    let right = grow(rows, r, depth + 1, max_depth, d, n_trees, rng, nodes);
    let n = &mut nodes[at as usize];
    n.left = left;
    n.right = right;
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_up_steps_one_ulp() {
        for x in [-2.5f32, -f32::MIN_POSITIVE, -0.0, 0.0, 1e-30, 1.0, 3e7] {
            let y = next_up(x);
            assert!(y > x, "{x} -> {y}");
            assert!(f64::from(y) - f64::from(x) <= f64::from(x.abs()) * 1.2e-7 + 1e-44);
        }
    }

    #[test]
    fn c_factor_matches_the_paper() {
        assert_eq!(c_factor(1), 0.0);
        assert_eq!(c_factor(2), 1.0);
        // c(256) ≈ 10.2448 (scikit-learn's _average_path_length).
        assert!((c_factor(256) - 10.244_770_920_116_851).abs() < 1e-9);
    }

    #[test]
    fn isolation_forest_isolates_an_outlier_faster() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let rows: Vec<Vec<f32>> = (0..500)
            .map(|_| vec![rng.random::<f32>(), rng.random::<f32>()])
            .collect();
        let f = IsolationForest::fit(&rows, 50, 128, 7).unwrap();
        f.trees.validate().unwrap();
        let inlier = f.score(&[0.5, 0.5]);
        let outlier = f.score(&[5.0, -3.0]);
        assert!(outlier > inlier + 0.1, "outlier {outlier} inlier {inlier}");
    }

    #[test]
    fn lof_is_about_one_inside_and_large_outside() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let rows: Vec<Vec<f64>> = (0..400)
            .map(|_| vec![rng.random::<f64>(), rng.random::<f64>()])
            .collect();
        let lof = Lof::fit(&rows, 20).unwrap();
        let inside = lof.score(&[0.5, 0.5]);
        let outside = lof.score(&[3.0, 3.0]);
        assert!((0.7..1.4).contains(&inside), "{inside}");
        assert!(outside > 5.0, "{outside}");
    }

    #[test]
    fn kmeans_finds_two_blobs() {
        let rows: Vec<Vec<f64>> = (0..100)
            .map(|i| {
                let c = if i % 2 == 0 { 0.0 } else { 10.0 };
                vec![c + (i % 7) as f64 * 0.01, c]
            })
            .collect();
        let km = KMeans::fit(&rows, 2, 50, 3).unwrap();
        assert!(km.score(&[0.03, 0.0]) < 0.01);
        assert!(km.score(&[10.03, 10.0]) < 0.01);
        assert!(km.score(&[5.0, 5.0]) > 40.0);
    }
}
