//! Time-ordered splits. Never a shuffle: consecutive windows of a host overlap and
//! attacks last many windows, so a random split would put near-copies of test rows in
//! the training set (Arp et al., "Dos and Don'ts of Machine Learning in Computer
//! Security", USENIX Security 2022: temporal snooping).
//!
//! Rows are ordered by window end (ties keep emission order). The cuts fall between
//! distinct window ends, so windows ending at the same time are never split apart, and
//! rows whose window overlaps the previous split's last window are dropped (a purge gap
//! of the longest window width): no window shares a packet with a window of an earlier
//! split.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// What the shares of a split are shares of.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitBy {
    /// Of the time span from the first to the last window end: "the first 60% of the
    /// time". Flood bursts (one row per spoofed source) do not squeeze the later
    /// splits into a few seconds; but a dataset of captures years apart is cut by the
    /// calendar.
    #[default]
    Time,
    /// Of the rows, in time order: "the earliest 60% of the windows".
    Rows,
    /// Of each capture's own time span ("the first 60% of every capture, simulation and
    /// table"): datasets whose captures were made at different times (a lab run this
    /// year, simulated traffic, a public capture from 2009) still give every split a
    /// slice of each, instead of being cut by the calendar.
    Capture,
}

impl std::str::FromStr for SplitBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "time" => Ok(SplitBy::Time),
            "rows" => Ok(SplitBy::Rows),
            "capture" => Ok(SplitBy::Capture),
            _ => Err(format!("expected `time`, `rows` or `capture`, got {s:?}")),
        }
    }
}

/// Shares of the time-ordered rows.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitConfig {
    /// Share for training (the earliest).
    pub train: f64,
    /// Share for validation (early stopping and the threshold), after training.
    pub validation: f64,
    /// Shares of the time span or of the rows.
    pub by: SplitBy,
}

impl SplitConfig {
    /// 60% train, 20% validation, 20% test, of the time span.
    pub const TIME_DEFAULT: SplitConfig = SplitConfig {
        train: 0.6,
        validation: 0.2,
        by: SplitBy::Time,
    };
    /// Cross-dataset: 80% train, 20% validation of the training dataset.
    pub const CROSS_DEFAULT: SplitConfig = SplitConfig {
        train: 0.8,
        validation: 0.2,
        by: SplitBy::Time,
    };

    /// Checks the shares; with `needs_test`, something must be left for testing.
    pub fn validate(&self, needs_test: bool) -> Result<()> {
        let ok = |x: f64| x > 0.0 && x < 1.0;
        if !ok(self.train) || !ok(self.validation) {
            bail!(
                "split shares must be between 0 and 1, got train {} validation {}",
                self.train,
                self.validation
            );
        }
        let sum = self.train + self.validation;
        if needs_test && sum >= 1.0 - 1e-9 {
            bail!(
                "train {} + validation {} leaves nothing for the test split",
                self.train,
                self.validation
            );
        }
        if sum > 1.0 + 1e-9 {
            bail!(
                "train {} + validation {} is more than all rows",
                self.train,
                self.validation
            );
        }
        Ok(())
    }
}

impl std::str::FromStr for SplitConfig {
    type Err = String;
    /// `TRAIN,VALIDATION` shares, e.g. `0.6,0.2`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let [t, v] = parts.as_slice() else {
            return Err(format!(
                "expected TRAIN,VALIDATION shares such as 0.6,0.2, got {s:?}"
            ));
        };
        let num = |x: &str| {
            x.parse::<f64>()
                .map_err(|_| format!("{x:?} is not a number (in {s:?})"))
        };
        Ok(SplitConfig {
            train: num(t)?,
            validation: num(v)?,
            by: SplitBy::default(),
        })
    }
}

/// Row indices of each split, each in time order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Split {
    pub train: Vec<usize>,
    pub validation: Vec<usize>,
    /// Empty in cross-dataset mode (the test rows are another dataset's).
    pub test: Vec<usize>,
    /// Rows dropped by the purge gaps.
    pub purged: usize,
    /// Rows left after train + validation in cross-dataset mode, not used.
    pub unused: usize,
    /// Window end where each later split starts, ns (validation, then test).
    pub boundaries_ns: Vec<u64>,
}

/// Row indices sorted by window end; equal ends keep their order.
pub fn time_order(end_ns: &[u64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..end_ns.len()).collect();
    idx.sort_by_key(|&i| end_ns[i]);
    idx
}

/// The first position at or after `pos` where the window end changes (so that equal
/// ends stay on one side), in `order`.
fn snap(order: &[usize], end_ns: &[u64], pos: usize) -> usize {
    let mut p = pos.min(order.len());
    if p == 0 || p == order.len() {
        return p;
    }
    let before = end_ns[order[p - 1]];
    while p < order.len() && end_ns[order[p]] == before {
        p += 1;
    }
    p
}

/// Cuts time-ordered rows at the given shares of their count or time span; the last
/// segment takes whatever the shares leave. Each later segment drops rows ending
/// before the previous segment's last window end plus `gap_ns`.
fn cut(
    end_ns: &[u64],
    shares: &[f64],
    by: SplitBy,
    gap_ns: u64,
) -> (Vec<Vec<usize>>, usize, Vec<u64>) {
    let order = time_order(end_ns);
    let n = order.len();
    let (t0, t1) = match (order.first(), order.last()) {
        (Some(&a), Some(&b)) => (end_ns[a], end_ns[b]),
        _ => (0, 0),
    };
    // Position of the cut after a cumulative share.
    let position = |acc: f64| match by {
        SplitBy::Rows => snap(&order, end_ns, (acc * n as f64).round() as usize),
        SplitBy::Time | SplitBy::Capture => {
            let t = t0 as f64 + acc * (t1 - t0) as f64;
            // Rows ending at or after t go to the later segment.
            order.partition_point(|&i| (end_ns[i] as f64) < t)
        }
    };
    let mut segments = Vec::new();
    let mut boundaries = Vec::new();
    let mut start = 0usize;
    let mut acc = 0.0;
    let mut purged = 0usize;
    for (si, &share) in shares.iter().enumerate() {
        acc += share;
        let end = if si + 1 == shares.len() && acc >= 1.0 - 1e-9 {
            n
        } else {
            position(acc).max(start)
        };
        let mut seg_start = start;
        if si > 0 && start > 0 && start < n {
            let prev_last = end_ns[order[start - 1]];
            boundaries.push(end_ns[order[start]]);
            let limit = prev_last.saturating_add(gap_ns);
            while seg_start < end && end_ns[order[seg_start]] < limit {
                seg_start += 1;
            }
            purged += seg_start - start;
        }
        segments.push(order[seg_start..end].to_vec());
        start = end;
    }
    (segments, purged, boundaries)
}

/// [`cut`] for [`SplitBy::Capture`]: each timeline is cut by its own time span, and the
/// segments of all timelines are merged (each in time order). The boundaries are those
/// of the longest timeline.
fn cut_per_timeline(
    end_ns: &[u64],
    timeline: &[u32],
    shares: &[f64],
    gap_ns: u64,
) -> (Vec<Vec<usize>>, usize, Vec<u64>) {
    let mut groups: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
    for (i, &t) in timeline.iter().enumerate().take(end_ns.len()) {
        groups.entry(t).or_default().push(i);
    }
    let mut segments = vec![Vec::new(); shares.len()];
    let mut purged = 0;
    let mut boundaries = Vec::new();
    let mut longest = 0;
    for rows in groups.values() {
        let ends: Vec<u64> = rows.iter().map(|&i| end_ns[i]).collect();
        let (seg, p, b) = cut(&ends, shares, SplitBy::Time, gap_ns);
        purged += p;
        if rows.len() > longest {
            longest = rows.len();
            boundaries = b;
        }
        for (out, part) in segments.iter_mut().zip(seg) {
            out.extend(part.into_iter().map(|j| rows[j]));
        }
    }
    for part in &mut segments {
        part.sort_by_key(|&i| (end_ns[i], i));
    }
    (segments, purged, boundaries)
}

/// [`cut`], or [`cut_per_timeline`] when splitting by capture.
fn cut_by(
    end_ns: &[u64],
    timeline: &[u32],
    shares: &[f64],
    by: SplitBy,
    gap_ns: u64,
) -> Result<(Vec<Vec<usize>>, usize, Vec<u64>)> {
    if by != SplitBy::Capture {
        return Ok(cut(end_ns, shares, by, gap_ns));
    }
    if timeline.len() != end_ns.len() {
        bail!(
            "splitting by capture needs each row's capture ({} of {} rows have one)",
            timeline.len(),
            end_ns.len()
        );
    }
    Ok(cut_per_timeline(end_ns, timeline, shares, gap_ns))
}

/// Time-ordered train / validation / test split of one dataset's rows; `gap_ns` is the
/// purge gap (the longest window width). `timeline` is each row's capture (timeline)
/// number, needed by [`SplitBy::Capture`] only.
pub fn time_split(
    end_ns: &[u64],
    timeline: &[u32],
    cfg: SplitConfig,
    gap_ns: u64,
) -> Result<Split> {
    cfg.validate(true)?;
    let test = 1.0 - cfg.train - cfg.validation;
    let (mut seg, purged, boundaries_ns) = cut_by(
        end_ns,
        timeline,
        &[cfg.train, cfg.validation, test],
        cfg.by,
        gap_ns,
    )?;
    let test = seg.pop().unwrap_or_default();
    let validation = seg.pop().unwrap_or_default();
    let train = seg.pop().unwrap_or_default();
    let s = Split {
        train,
        validation,
        test,
        purged,
        unused: 0,
        boundaries_ns,
    };
    require_rows(&s, true)?;
    Ok(s)
}

/// Cross-dataset split: train and validation from one dataset's rows, in time order
/// (the shares of `cfg`; rows after them are unused); the test rows are another
/// dataset.
pub fn cross_split(
    end_ns: &[u64],
    timeline: &[u32],
    cfg: SplitConfig,
    gap_ns: u64,
) -> Result<Split> {
    cfg.validate(false)?;
    let mut shares = vec![cfg.train, cfg.validation];
    let rest = 1.0 - cfg.train - cfg.validation;
    if rest > 1e-9 {
        shares.push(rest);
    }
    let (mut seg, purged, mut boundaries_ns) = cut_by(end_ns, timeline, &shares, cfg.by, gap_ns)?;
    let unused = if shares.len() == 3 {
        boundaries_ns.truncate(1);
        seg.pop().map_or(0, |v| v.len())
    } else {
        0
    };
    let validation = seg.pop().unwrap_or_default();
    let train = seg.pop().unwrap_or_default();
    let s = Split {
        train,
        validation,
        test: Vec::new(),
        purged,
        unused,
        boundaries_ns,
    };
    require_rows(&s, false)?;
    Ok(s)
}

fn require_rows(s: &Split, needs_test: bool) -> Result<()> {
    let mut empty = Vec::new();
    if s.train.is_empty() {
        empty.push("train");
    }
    if s.validation.is_empty() {
        empty.push("validation");
    }
    if needs_test && s.test.is_empty() {
        empty.push("test");
    }
    if !empty.is_empty() {
        bail!(
            "the {} split(s) would be empty ({} rows in all, {} purged): the dataset is too short for these shares",
            empty.join(" and "),
            s.train.len() + s.validation.len() + s.test.len() + s.purged + s.unused,
            s.purged
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    /// Two hosts, one row each per half second, for `secs` seconds, emitted in two
    /// independent timelines (as two captures would be).
    fn ends(secs: u64) -> Vec<u64> {
        let mut v = Vec::new();
        for _timeline in 0..2 {
            for hop in 1..=secs * 2 {
                v.push(hop * S / 2);
                v.push(hop * S / 2);
            }
        }
        v
    }

    #[test]
    fn time_split_is_ordered_disjoint_and_purged() {
        let e = ends(100);
        let s = time_split(&e, &[], SplitConfig::TIME_DEFAULT, 2 * S).unwrap();
        let max = |v: &[usize]| v.iter().map(|&i| e[i]).max().unwrap();
        let min = |v: &[usize]| v.iter().map(|&i| e[i]).min().unwrap();
        assert!(max(&s.train) + 2 * S <= min(&s.validation));
        assert!(max(&s.validation) + 2 * S <= min(&s.test));
        // 800 rows, 4 per window end: 480 train, 160 validation, 160 test, less
        // 3 hops × 4 rows purged at each of the two boundaries.
        assert_eq!(s.train.len(), 480);
        assert_eq!(s.purged, 24);
        assert_eq!(s.validation.len(), 148);
        assert_eq!(s.test.len(), 148);
        let mut all: Vec<usize> = [&s.train[..], &s.validation, &s.test].concat();
        all.sort();
        all.dedup();
        assert_eq!(all.len() + s.purged, e.len());
        assert_eq!(s.boundaries_ns.len(), 2);
        // Each split is in time order.
        for part in [&s.train, &s.validation, &s.test] {
            assert!(part.windows(2).all(|w| e[w[0]] <= e[w[1]]));
        }
    }

    #[test]
    fn equal_window_ends_stay_together() {
        // 3 rows per end: a cut at 60% of 30 rows (18) is a multiple of 3, 61% is not.
        let e: Vec<u64> = (0..30).map(|i| (i / 3) as u64 * S).collect();
        let cfg = SplitConfig {
            train: 0.61,
            validation: 0.2,
            by: SplitBy::Rows,
        };
        let s = time_split(&e, &[], cfg, 0).unwrap();
        let last_train = s.train.iter().map(|&i| e[i]).max().unwrap();
        assert!(s.validation.iter().all(|&i| e[i] > last_train));
        assert_eq!(s.train.len() % 3, 0);
    }

    #[test]
    fn time_shares_are_of_the_span_and_row_shares_of_the_rows() {
        // 100 s with one row per second, plus a burst of 300 rows at 10 s.
        let mut e: Vec<u64> = (1..=100).map(|t| t * S).collect();
        e.extend(std::iter::repeat_n(10 * S, 300));
        let by_time = time_split(&e, &[], SplitConfig::TIME_DEFAULT, 0).unwrap();
        let last = |v: &[usize]| v.iter().map(|&i| e[i]).max().unwrap();
        assert_eq!(last(&by_time.train), 60 * S);
        assert_eq!(last(&by_time.validation), 80 * S);
        let rows = SplitConfig {
            by: SplitBy::Rows,
            ..SplitConfig::TIME_DEFAULT
        };
        let by_rows = time_split(&e, &[], rows, 0).unwrap();
        // 60% of 400 rows ends inside the burst, which stays whole: train is 1..=10 s;
        // 80% is row 320, at 20 s.
        assert_eq!(last(&by_rows.train), 10 * S);
        assert_eq!(last(&by_rows.validation), 20 * S);
        assert_eq!(by_rows.test.len(), 80);
    }

    #[test]
    fn cross_split_uses_the_training_dataset_only() {
        let e = ends(100);
        let s = cross_split(&e, &[], SplitConfig::CROSS_DEFAULT, 0).unwrap();
        assert!(s.test.is_empty());
        assert_eq!(s.train.len() + s.validation.len(), e.len());
        assert_eq!(s.train.len(), 640);
        let part = cross_split(
            &e,
            &[],
            SplitConfig {
                train: 0.5,
                validation: 0.25,
                by: SplitBy::Time,
            },
            0,
        )
        .unwrap();
        assert_eq!(part.unused, 200);
        assert_eq!(part.boundaries_ns.len(), 1);
    }

    #[test]
    fn capture_split_cuts_each_timeline_by_its_own_span() {
        // Timeline 0: 100 s from t=0; timeline 1: 10 s starting 1000 s later, with
        // one row per second each. A split of the whole span would put all of
        // timeline 0 in train; by capture each gives 60/20/20 of itself.
        let mut e: Vec<u64> = (1..=100).map(|t| t * S).collect();
        let mut tl = vec![0u32; 100];
        e.extend((1..=10).map(|t| (1000 + t) * S));
        tl.extend([1; 10]);
        let cfg = SplitConfig {
            by: SplitBy::Capture,
            ..SplitConfig::TIME_DEFAULT
        };
        let s = time_split(&e, &tl, cfg, 0).unwrap();
        let of = |part: &[usize], t: u32| part.iter().filter(|&&i| tl[i] == t).count();
        assert_eq!(
            (of(&s.train, 0), of(&s.validation, 0), of(&s.test, 0)),
            (60, 20, 20)
        );
        assert_eq!(of(&s.train, 1) + of(&s.validation, 1) + of(&s.test, 1), 10);
        assert!(of(&s.validation, 1) >= 1 && of(&s.test, 1) >= 1);
        for part in [&s.train, &s.validation, &s.test] {
            assert!(part.windows(2).all(|w| e[w[0]] <= e[w[1]]));
        }
        // Shares of the whole span instead: the calendar cuts it, and the validation
        // share (606 s to 808 s) falls between the two captures.
        assert!(time_split(&e, &tl, SplitConfig::TIME_DEFAULT, 0).is_err());
        assert!(
            time_split(&e, &[], cfg, 0).is_err(),
            "capture split needs timelines"
        );
    }

    #[test]
    fn bad_shares_and_tiny_data_are_errors() {
        assert!("0.6".parse::<SplitConfig>().is_err());
        assert_eq!(
            "0.7, 0.1".parse::<SplitConfig>().unwrap(),
            SplitConfig {
                train: 0.7,
                validation: 0.1,
                by: SplitBy::Time,
            }
        );
        let e = ends(100);
        let full = SplitConfig {
            train: 0.8,
            validation: 0.2,
            by: SplitBy::Rows,
        };
        assert!(time_split(&e, &[], full, 0).is_err(), "no test share left");
        assert!(time_split(&[1, 2], &[], SplitConfig::TIME_DEFAULT, 0).is_err());
        // A gap longer than a split purges it entirely.
        assert!(time_split(&e, &[], SplitConfig::TIME_DEFAULT, 1000 * S).is_err());
    }
}
