//! `workbench notify` against the real things: an Alertmanager (Debian
//! prometheus-alertmanager) routes an alert posted to its v2 API to the notifier's
//! webhook, and a Prometheus scraping the notifier sees `notifier_alerts_total`.

mod common;
mod stack_util;

use std::time::Duration;

use common::{bin, missing};
use stack_util::*;

fn start_notify(extra: &[&str]) -> (Proc, std::net::SocketAddr) {
    let mut cmd = bin();
    cmd.args(["notify", "--listen", "127.0.0.1:0"]).args(extra);
    let mut p = Proc::spawn("workbench notify", cmd);
    let addr = p.listening(Duration::from_secs(20));
    (p, addr)
}

#[test]
fn alertmanager_delivers_to_notify_and_prometheus_counts_it() {
    if !have("prometheus-alertmanager") || !have("prometheus") {
        missing("prometheus-alertmanager and prometheus (Debian packages)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut notify, naddr) = start_notify(&[]);

    // deploy/alertmanager/alertmanager.yml with the notifier's test address and a short
    // group_wait: the shipped route, only the URL and timing changed.
    let shipped = std::fs::read_to_string(root().join("deploy/alertmanager/alertmanager.yml"))
        .expect("deploy/alertmanager/alertmanager.yml");
    assert!(shipped.contains("http://notify:8080/alert"));
    let cfg = shipped
        .replace("http://notify:8080/alert", &format!("http://{naddr}/alert"))
        .replace("group_wait: 1s", "group_wait: 100ms");
    let (_am, am_addr) = alertmanager(dir.path(), &cfg);

    let alert = r#"[{"labels":{"alertname":"AnomalyScoreHigh","src":"10.0.0.5","threat_type":"port_scan","severity":"high"},
        "annotations":{"summary":"score=0.91","detail":"rate=12.5, uniq_dports=8"}}]"#;
    let (code, body) = post_json(am_addr, "/api/v2/alerts", alert).unwrap();
    assert_eq!(code, 200, "alertmanager refused the alert: {body}");

    let line = wait_for(Duration::from_secs(15), || {
        notify
            .stdout()
            .lines()
            .find(|l| l.starts_with("[firing] AnomalyScoreHigh"))
            .map(str::to_string)
    })
    .unwrap_or_else(|| {
        panic!(
            "notify printed no alert: {}\n{}",
            notify.stdout(),
            notify.stderr()
        )
    });
    assert!(line.contains("src=10.0.0.5"), "{line}");
    assert!(line.contains("threat_type=port_scan"), "{line}");
    assert!(
        line.contains("score=0.91 (rate=12.5, uniq_dports=8)"),
        "{line}"
    );

    let (code, metrics) = get(naddr, "/metrics").unwrap();
    assert_eq!(code, 200);
    assert!(
        metrics.contains(
            r#"notifier_alerts_total{status="firing",alertname="AnomalyScoreHigh",threat_type="port_scan"} 1"#
        ),
        "{metrics}"
    );

    // A real Prometheus scraping the notifier every second sees the counter.
    let pdir = dir.path().join("prom");
    std::fs::create_dir_all(&pdir).unwrap();
    let pcfg = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: workbench-notify\n    static_configs:\n      - targets: [\"{naddr}\"]\n"
    );
    let (_prom, paddr) = prometheus(&pdir, &pcfg);
    let seen = wait_for(Duration::from_secs(20), || {
        let r = prom_query(paddr, "sum(notifier_alerts_total)");
        r.first()
            .and_then(|s| s["value"][1].as_str().map(str::to_string))
            .filter(|v| v == "1")
    });
    assert!(
        seen.is_some(),
        "prometheus never saw notifier_alerts_total = 1"
    );

    assert_eq!(get(naddr, "/health").unwrap().0, 200);
    // SIGTERM ends the notifier cleanly.
    let st = notify.terminate(Duration::from_secs(10));
    assert!(
        st.is_some_and(|s| s.success()),
        "notify did not exit cleanly on SIGTERM: {st:?}"
    );
}

#[test]
fn malformed_and_oversized_bodies_get_4xx_with_a_message() {
    let (_notify, naddr) = start_notify(&["--max-body", "4096"]);
    let (code, body) = post_json(naddr, "/alert", "{\"alerts\": [").unwrap();
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("invalid Alertmanager webhook JSON"), "{body}");
    let (code, body) =
        post_json(naddr, "/alert", r#"{"alerts":[{"status":1,"labels":{}}]}"#).unwrap();
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("invalid type"), "{body}");
    let huge = format!(r#"{{"alerts":[],"pad":"{}"}}"#, "x".repeat(10_000));
    let (code, body) = post_json(naddr, "/alert", &huge).unwrap();
    assert_eq!(code, 413, "{body}");
    // Still alive and counting refusals.
    let (code, m) = get(naddr, "/metrics").unwrap();
    assert_eq!(code, 200);
    assert!(
        m.contains(r#"notifier_rejected_requests_total{reason="bad_json"} 2"#),
        "{m}"
    );
    let (code, body) = post_json(naddr, "/alert", r#"{"alerts":[]}"#).unwrap();
    assert_eq!((code, body.as_str()), (200, r#"{"alerts":0,"ok":true}"#));
}
