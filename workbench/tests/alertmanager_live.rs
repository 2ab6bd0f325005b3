//! Live mode against a real Alertmanager (Debian `prometheus-alertmanager`, started here
//! on a free loopback port with its own config and data dir, killed by PID on drop).
//!
//! - a simulated port scan raises `AnomalyScoreHigh` with the seed's labels and
//!   annotations, readable from Alertmanager's v2 API;
//! - alerts resolve with `endsAt` once the host is quiet (seen through Alertmanager's
//!   resolved webhook notification);
//! - fault injection: Alertmanager is killed mid-run and restarted on the same port;
//!   every alert the live rows call for is in Alertmanager afterwards, and the retry
//!   counters say the outage happened.

mod common;
mod live_support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use live_support::{free_port, label, read_rows, scan_attacker, Alertmanager, Webhook, Workbench};
use serde_json::Value;
use workbench::eval::Scorer;

#[test]
fn port_scan_alert_reaches_alertmanager_with_the_seed_labels() {
    let hook = Webhook::start();
    let Some(am) = Alertmanager::start(free_port(), &hook.addr) else {
        return;
    };
    let attacker = scan_attacker(11, 8.0);
    let url = am.url();
    let mut wb = Workbench::spawn(&[
        "live",
        "--simulate",
        "portscan",
        "--seconds",
        "8",
        "--seed",
        "11",
        "--model",
        "rules",
        "--listen",
        "127.0.0.1:0",
        "--alertmanager",
        &url,
        "--instance",
        "test-a",
        "--duration",
        "10",
    ]);
    let started = Instant::now();
    let mut found: Option<Value> = None;
    while started.elapsed() < Duration::from_secs(10) && found.is_none() {
        found = am
            .alerts()
            .into_iter()
            .find(|a| label(a, "src") == attacker && label(a, "threat_type") == "port_scan");
        std::thread::sleep(Duration::from_millis(50));
    }
    let a = found.unwrap_or_else(|| {
        panic!(
            "no port_scan alert for {attacker} in Alertmanager; workbench stderr:\n{}",
            wb.stderr_text()
        )
    });
    assert_eq!(label(&a, "alertname"), "AnomalyScoreHigh");
    assert_eq!(label(&a, "instance"), "test-a");
    assert!(
        ["warning", "critical"].contains(&label(&a, "severity")),
        "{a}"
    );
    let summary = a["annotations"]["summary"].as_str().unwrap_or("");
    let score: f64 = summary
        .strip_prefix("score=")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("summary {summary:?}"));
    assert!(
        (0.5..=1.0).contains(&score),
        "rules threshold is 0.5: {summary}"
    );
    let detail = a["annotations"]["detail"].as_str().unwrap_or("");
    assert!(
        detail.starts_with("rate=") && detail.contains("uniq_dports="),
        "{detail}"
    );
    assert!(
        a["generatorURL"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://127.0.0.1:") && u.ends_with("/stats")),
        "{a}"
    );
    assert!(
        a["startsAt"].as_str().is_some_and(|s| s.starts_with("20")),
        "{a}"
    );
    assert_eq!(a["status"]["state"], "active", "{a}");
    assert_eq!(wb.wait(Duration::from_secs(30)), 0, "{}", wb.stderr_text());
}

#[test]
fn quiet_hosts_resolve_with_ends_at() {
    let hook = Webhook::start();
    let Some(am) = Alertmanager::start(free_port(), &hook.addr) else {
        return;
    };
    let attacker = scan_attacker(5, 6.0);
    let url = am.url();
    // The simulation ends after 6 s; the run goes on (quiet network) until 12 s, so the
    // scanner's alert resolves by the lifecycle (1 s below threshold), not by shutdown.
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = dir.path().join("summary.json");
    let mut wb = Workbench::spawn(&[
        "live",
        "--simulate",
        "portscan",
        "--seconds",
        "6",
        "--seed",
        "5",
        "--model",
        "rules",
        "--listen",
        "127.0.0.1:0",
        "--alertmanager",
        &url,
        "--resolve-after",
        "1",
        "--resend-interval",
        "1",
        "--keep-firing-on-exit",
        "--duration",
        "12",
        "--summary-out",
        summary.to_str().expect("utf-8"),
    ]);
    assert_eq!(wb.wait(Duration::from_secs(40)), 0, "{}", wb.stderr_text());
    // Alertmanager notifies the resolution at the next group interval (1 s).
    let deadline = Instant::now() + Duration::from_secs(10);
    let resolved = loop {
        let r = hook.alerts().into_iter().find(|a| {
            label(a, "src") == attacker
                && label(a, "threat_type") == "port_scan"
                && a["status"] == "resolved"
        });
        if r.is_some() || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let r = resolved.unwrap_or_else(|| {
        panic!(
            "no resolved notification for {attacker}; webhook got {:?}",
            hook.alerts()
        )
    });
    let ends = r["endsAt"].as_str().unwrap_or("");
    let starts = r["startsAt"].as_str().unwrap_or("");
    assert!(
        ends.starts_with("20") && ends > starts,
        "startsAt {starts} endsAt {ends}"
    );
    // Firing was notified before (the webhook saw the alert active first).
    assert!(
        hook.alerts()
            .iter()
            .any(|a| label(a, "src") == attacker && a["status"] == "firing"),
        "no firing notification before the resolution"
    );
    // Not active in Alertmanager any more.
    assert!(
        !am.alerts()
            .iter()
            .any(|a| label(a, "src") == attacker && label(a, "threat_type") == "port_scan"),
        "alert still active"
    );
    // The resolution came from the lifecycle, before shutdown.
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("json");
    let elapsed = s["elapsed_s"].as_f64().expect("elapsed");
    let res = s["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .find(|e| e["state"] == "resolved" && label(&e["alert"], "src") == attacker)
        .expect("resolved event in the summary");
    assert!(
        res["emitted_s"].as_f64().expect("emitted") < elapsed - 1.0,
        "{res}"
    );
}

#[test]
fn alertmanager_outage_loses_no_alert() {
    let hook = Webhook::start();
    let port = free_port();
    let Some(mut am) = Alertmanager::start(port, &hook.addr) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = dir.path().join("rows.csv");
    let summary = dir.path().join("summary.json");
    let url = am.url();
    // Mixed traffic: alerts keep starting while Alertmanager is down. Alerts stay
    // firing (resolve-after 120 s, kept on exit) so Alertmanager's active list is the
    // complete record to compare with.
    let mut wb = Workbench::spawn(&[
        "live",
        "--simulate",
        "mixed",
        "--seconds",
        "14",
        "--seed",
        "3",
        "--model",
        "rules",
        "--listen",
        "127.0.0.1:0",
        "--alertmanager",
        &url,
        "--resend-interval",
        "1",
        "--resolve-after",
        "120",
        "--keep-firing-on-exit",
        "--max-backoff",
        "0.5",
        "--duration",
        "16",
        "--rows-out",
        rows.to_str().expect("utf-8"),
        "--summary-out",
        summary.to_str().expect("utf-8"),
    ]);
    // Wait for a first delivered alert, then take Alertmanager down for 4 s.
    let t0 = Instant::now();
    while am.alerts().is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(12),
            "no alert before the outage: {}",
            wb.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    am.stop();
    let down_at = Instant::now();
    std::thread::sleep(Duration::from_secs(4));
    am.restart();
    let down_s = down_at.elapsed().as_secs_f64();
    assert_eq!(wb.wait(Duration::from_secs(40)), 0, "{}", wb.stderr_text());

    // What should have fired: every (host, threat) with a host row at or above the
    // rules threshold, from the rows the live run computed.
    let (header, table) = read_rows(&rows);
    let names: Vec<String> = header[3..].to_vec();
    let schema = workbench::engine::FeatureSchema::for_widths(&[2.0]);
    assert_eq!(names, schema.names, "rows-out columns");
    let rules = workbench::eval::RulesScorer::new(&schema).expect("rules");
    let expected: BTreeSet<(String, String)> = table
        .iter()
        .filter(|(_, e, _)| e != "*")
        .filter_map(|(_, e, v)| {
            let s = rules.score(v);
            (s.value >= 0.5).then(|| {
                (
                    e.clone(),
                    s.threat.map(|t| t.name()).unwrap_or("").to_string(),
                )
            })
        })
        .collect();
    let got: BTreeSet<(String, String)> = am
        .alerts()
        .iter()
        .filter(|a| label(a, "alertname") == "AnomalyScoreHigh")
        .map(|a| {
            (
                label(a, "src").to_string(),
                label(a, "threat_type").to_string(),
            )
        })
        .collect();
    assert!(
        expected.len() >= 2,
        "the scenario should raise several alerts: {expected:?}"
    );
    assert_eq!(
        got, expected,
        "alerts in Alertmanager after the outage vs the live rows"
    );

    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("json");
    let d = &s["delivery"];
    assert!(
        d["posts_failed"].as_u64().unwrap_or(0) > 0,
        "no failed POST during a {down_s:.1} s outage: {d}"
    );
    assert!(d["retries"].as_u64().unwrap_or(0) > 0, "{d}");
    assert_eq!(d["dropped"].as_u64(), Some(0), "{d}");
    assert_eq!(s["undelivered"].as_u64(), Some(0), "{s}");
    // Some alert started during the outage and was delivered only after it.
    let queued = s["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter(|e| {
            let (em, de) = (e["emitted_s"].as_f64(), e["delivered_s"].as_f64());
            matches!((em, de), (Some(a), Some(b)) if b - a > 1.0)
        })
        .count();
    assert!(
        queued > 0,
        "no alert waited for the restart; the outage test proved nothing: {s}"
    );
    // The engine never saw a packet late (watermarks are in-band).
    assert_eq!(s["engine"]["engine"]["late_packets"].as_u64(), Some(0));
}

#[test]
fn sigterm_shuts_down_cleanly_and_resolves_firing_alerts() {
    let hook = Webhook::start();
    let Some(am) = Alertmanager::start(free_port(), &hook.addr) else {
        return;
    };
    let attacker = scan_attacker(11, 30.0);
    let url = am.url();
    // No --duration: runs until the signal.
    let mut wb = Workbench::spawn(&[
        "live",
        "--simulate",
        "portscan",
        "--seconds",
        "30",
        "--seed",
        "11",
        "--model",
        "rules",
        "--listen",
        "127.0.0.1:0",
        "--alertmanager",
        &url,
    ]);
    let t0 = Instant::now();
    while !am.alerts().iter().any(|a| label(a, "src") == attacker) {
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "no alert: {}",
            wb.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = wb.child.id() as i32;
    // SAFETY: kill(2) on our own child's PID.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let sent = Instant::now();
    assert_eq!(wb.wait(Duration::from_secs(15)), 0, "{}", wb.stderr_text());
    assert!(
        sent.elapsed() < Duration::from_secs(8),
        "shutdown took {:?}",
        sent.elapsed()
    );
    assert!(wb.stderr_text().contains("SIGTERM"), "{}", wb.stderr_text());
    // Firing alerts were resolved (endsAt sent) on the way out.
    assert!(
        !am.alerts().iter().any(|a| label(a, "src") == attacker),
        "alert still active after shutdown: {:?}",
        am.alerts()
    );
}
