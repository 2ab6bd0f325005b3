//! The alert lifecycle, keyed by (source host, threat type). Times are passed in, so
//! the lifecycle is testable without sleeping.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use super::{rfc3339, severity, Alert, AlertConfig, AlertEvent, ALERT_NAME};
use crate::eval::ThreatType;

#[derive(Clone, Debug)]
struct Entry {
    starts_at: SystemTime,
    last_above: Instant,
    /// Last time this alert went into a batch; `None` = never (send at the next tick).
    last_sent: Option<Instant>,
    score: f64,
    detail: String,
    window_end_ns: u64,
    /// When it resolved: wall time (for `endsAt`) and monotonic time (for expiry).
    resolved: Option<(SystemTime, Instant)>,
}

/// The alert lifecycle, keyed by (source host, threat type). Times are passed in so the
/// lifecycle is testable without sleeping.
#[derive(Debug)]
pub struct AlertTracker {
    cfg: AlertConfig,
    entries: BTreeMap<(IpAddr, ThreatType), Entry>,
}

impl AlertTracker {
    /// An empty tracker.
    pub fn new(cfg: AlertConfig) -> Self {
        AlertTracker {
            cfg,
            entries: BTreeMap::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &AlertConfig {
        &self.cfg
    }

    /// Records a host window scoring at or above the threshold. Returns true when this
    /// starts a new alert (or re-opens a resolved one), i.e. something is due now.
    #[allow(clippy::too_many_arguments)]
    pub fn observe(
        &mut self,
        now: Instant,
        wall: SystemTime,
        src: IpAddr,
        threat: ThreatType,
        score: f64,
        detail: String,
        window_end_ns: u64,
    ) -> bool {
        let e = self.entries.entry((src, threat)).or_insert_with(|| Entry {
            starts_at: wall,
            last_above: now,
            last_sent: None,
            score,
            detail: detail.clone(),
            window_end_ns,
            resolved: None,
        });
        let new = e.last_sent.is_none() || e.resolved.is_some();
        if e.resolved.is_some() {
            // Firing again after resolving: a new occurrence with its own start.
            e.resolved = None;
            e.starts_at = wall;
            e.last_sent = None;
        }
        e.last_above = now;
        e.score = score;
        e.detail = detail;
        e.window_end_ns = window_end_ns;
        new
    }

    /// Alerts currently firing.
    pub fn firing(&self) -> usize {
        self.entries
            .values()
            .filter(|e| e.resolved.is_none())
            .count()
    }

    /// Resolves alerts whose hosts stayed below the threshold for `resolve_after`,
    /// forgets resolved ones older than `resolved_keep`, and returns every alert due
    /// for sending now (new, resolved, or not sent for `resend_interval`) plus the
    /// lifecycle events. With `resolve_all`, every firing alert resolves now (shutdown).
    pub fn due(
        &mut self,
        now: Instant,
        wall: SystemTime,
        resolve_all: bool,
    ) -> (Vec<Alert>, Vec<AlertEvent>) {
        let mut out = Vec::new();
        let mut events = Vec::new();
        let cfg = &self.cfg;
        self.entries.retain(|_, e| match e.resolved {
            Some((_, at)) => now.duration_since(at) < cfg.resolved_keep,
            None => true,
        });
        for (&(src, threat), e) in self.entries.iter_mut() {
            let mut changed = e.last_sent.is_none();
            if e.resolved.is_none()
                && (resolve_all || now.duration_since(e.last_above) >= cfg.resolve_after)
            {
                e.resolved = Some((wall, now));
                changed = true;
            }
            let stale = e
                .last_sent
                .is_none_or(|t| now.duration_since(t) >= cfg.resend_interval);
            if changed || stale {
                e.last_sent = Some(now);
                let alert = render(cfg, src, threat, e, wall);
                if changed {
                    events.push(if e.resolved.is_some() {
                        AlertEvent::Resolved(alert.clone())
                    } else {
                        AlertEvent::Firing(alert.clone())
                    });
                }
                out.push(alert);
            }
        }
        (out, events)
    }
}

/// How many re-send intervals a firing alert's `endsAt` lies ahead (Prometheus uses 4).
const FIRING_ENDS_AFTER_RESENDS: u32 = 4;

fn render(
    cfg: &AlertConfig,
    src: IpAddr,
    threat: ThreatType,
    e: &Entry,
    wall: SystemTime,
) -> Alert {
    let labels = BTreeMap::from([
        ("alertname".to_string(), ALERT_NAME.to_string()),
        ("src".to_string(), src.to_string()),
        ("threat_type".to_string(), threat.name().to_string()),
        ("severity".to_string(), severity(e.score).to_string()),
        ("instance".to_string(), cfg.instance.clone()),
    ]);
    let annotations = BTreeMap::from([
        ("summary".to_string(), format!("score={:.2}", e.score)),
        ("detail".to_string(), e.detail.clone()),
        ("window_end".to_string(), rfc3339_ns(e.window_end_ns)),
    ]);
    Alert {
        labels,
        annotations,
        starts_at: rfc3339(e.starts_at),
        ends_at: Some(rfc3339(match e.resolved {
            Some((w, _)) => w,
            None => wall + cfg.resend_interval * FIRING_ENDS_AFTER_RESENDS,
        })),
        generator_url: cfg.generator_url.clone(),
    }
}

fn rfc3339_ns(ns: u64) -> String {
    rfc3339(SystemTime::UNIX_EPOCH + Duration::from_nanos(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AlertConfig {
        AlertConfig {
            threshold: 0.5,
            resend_interval: Duration::from_secs(10),
            resolve_after: Duration::from_secs(5),
            resolved_keep: Duration::from_secs(20),
            instance: "test".into(),
            generator_url: "http://127.0.0.1/stats".into(),
        }
    }

    #[test]
    fn lifecycle_fires_once_resends_resolves_and_expires() {
        let mut t = AlertTracker::new(cfg());
        let t0 = Instant::now();
        let w = SystemTime::now();
        let src: IpAddr = "10.0.0.5".parse().unwrap();
        let s = |x| t0 + Duration::from_secs(x);
        assert!(t.observe(t0, w, src, ThreatType::PortScan, 0.95, "d".into(), 0));
        let (a, ev) = t.due(t0, w, false);
        assert_eq!(a.len(), 1);
        assert_eq!(ev.len(), 1);
        assert_eq!(a[0].labels["severity"], "critical");
        assert_eq!(a[0].annotations["summary"], "score=0.95");
        // Firing alerts expire by themselves a few re-sends ahead, should we die.
        assert_eq!(
            a[0].ends_at.as_deref(),
            Some(rfc3339(w + cfg().resend_interval * FIRING_ENDS_AFTER_RESENDS).as_str())
        );
        assert!(!a[0].is_resolved());
        // Still firing, nothing due until the resend interval.
        assert!(!t.observe(s(1), w, src, ThreatType::PortScan, 0.8, "d".into(), 0));
        assert!(t.due(s(2), w, false).0.is_empty());
        assert_eq!(t.due(s(5), w, false).0.len(), 0);
        // Below threshold since s(1): resolves at s(6) with endsAt.
        let (a, ev) = t.due(s(6), w, false);
        assert_eq!(a.len(), 1);
        assert!(a[0].ends_at.is_some());
        assert!(matches!(ev[0], AlertEvent::Resolved(_)));
        // Resolved alerts are re-sent, then forgotten after resolved_keep.
        assert_eq!(t.due(s(16), w, false).0.len(), 1);
        assert!(t.due(s(27), w, false).0.is_empty());
        assert_eq!(t.firing(), 0);
    }

    #[test]
    fn shutdown_resolves_everything_firing() {
        let mut t = AlertTracker::new(cfg());
        let t0 = Instant::now();
        let w = SystemTime::now();
        for a in ["10.0.0.1", "10.0.0.2"] {
            t.observe(
                t0,
                w,
                a.parse().unwrap(),
                ThreatType::SynFlood,
                0.7,
                String::new(),
                0,
            );
        }
        let (a, _) = t.due(t0, w, true);
        assert_eq!(a.len(), 2);
        assert!(a.iter().all(Alert::is_resolved));
    }
}
