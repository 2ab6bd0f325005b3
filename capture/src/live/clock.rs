//! Kernel monotonic time → Unix time.
//!
//! The XDP program stamps events with `bpf_ktime_get_ns()`, i.e. CLOCK_MONOTONIC. We
//! convert with one offset `CLOCK_REALTIME − CLOCK_MONOTONIC` measured when the capture
//! opens. The offset is sampled several times between two monotonic readings and the
//! sample with the tightest bracket is kept, so the error is the duration of one
//! `clock_gettime` (tens of ns). It is deliberately not re-measured: a wall-clock step
//! during the capture (NTP, `date -s`) would otherwise make event time jump backwards.

/// Nanoseconds of `clock` (a `libc::CLOCK_*` id); 0 if the clock cannot be read (never on
/// Linux for REALTIME/MONOTONIC).
pub fn now_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// `CLOCK_REALTIME − CLOCK_MONOTONIC` in ns (realtime is always far ahead of monotonic on
/// a running system, so the difference is positive).
pub fn realtime_offset_ns() -> u64 {
    let mut best: Option<(u64, u64)> = None; // (bracket width, offset)
    for _ in 0..5 {
        let m0 = now_ns(libc::CLOCK_MONOTONIC);
        let r = now_ns(libc::CLOCK_REALTIME);
        let m1 = now_ns(libc::CLOCK_MONOTONIC);
        let width = m1.saturating_sub(m0);
        let mid = m0 + width / 2;
        let off = r.saturating_sub(mid);
        if best.is_none_or(|(w, _)| width < w) {
            best = Some((width, off));
        }
    }
    best.map(|(_, off)| off).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_plus_offset_is_realtime() {
        let off = realtime_offset_ns();
        let conv = now_ns(libc::CLOCK_MONOTONIC) + off;
        let real = now_ns(libc::CLOCK_REALTIME);
        assert!(conv.abs_diff(real) < 5_000_000, "conv {conv} real {real}");
        // Sanity: after 2020-01-01.
        assert!(conv > 1_577_836_800_000_000_000);
    }
}
