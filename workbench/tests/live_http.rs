//! The live endpoints on a running `workbench live --simulate`: /health, /ready (with
//! the backend), /stats (the window snapshot), /metrics (OpenMetrics text with every
//! seed metric name), and 4xx answers with a message for bad requests.

mod common;
mod live_support;

use std::time::{Duration, Instant};

use live_support::{http, Workbench};
use serde_json::Value;
use workbench::http::metrics::EXPORTED_NAMES;

fn get(addr: &str, path: &str) -> (u16, String) {
    http(addr, "GET", path, None).unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

#[test]
fn endpoints_answer_and_refuse_bad_requests() {
    let mut wb = Workbench::spawn(&[
        "live",
        "--simulate",
        "portscan",
        "--seconds",
        "6",
        "--seed",
        "11",
        "--model",
        "rules",
        "--notify-console",
        "--listen",
        "127.0.0.1:0",
        "--duration",
        "8",
    ]);
    let addr = wb.addr.clone();
    let (st, body) = get(&addr, "/health");
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("json")["status"],
        "ok"
    );

    let (st, body) = get(&addr, "/ready");
    assert_eq!(st, 200, "{body}");
    let ready: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(ready["backend"], "simulation");
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["model"], "rules");

    // Wait until the scan has produced an alerting window and the capture counters
    // (refreshed once a second) have been published.
    let t0 = Instant::now();
    let stats = loop {
        let (st, body) = get(&addr, "/stats?top=5");
        assert_eq!(st, 200, "{body}");
        let v: Value = serde_json::from_str(&body).expect("json");
        let alerting = v["top_hosts"]
            .as_array()
            .is_some_and(|h| h.iter().any(|x| x["alerting"] == true));
        if alerting && v["capture"]["delivered"].as_u64().unwrap_or(0) > 0 {
            break v;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(8),
            "no alerting host in /stats: {v}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let hosts = stats["top_hosts"].as_array().expect("top_hosts");
    assert!(hosts.len() <= 5);
    let scores: Vec<f64> = hosts
        .iter()
        .map(|h| h["score"].as_f64().expect("score"))
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "not sorted: {scores:?}"
    );
    assert!(
        stats["engine"]["packets"].as_u64().unwrap_or(0) > 0,
        "{stats}"
    );
    assert!(
        stats["capture"]["delivered"].as_u64().unwrap_or(0) > 0,
        "{stats}"
    );
    assert!(stats["window_end"].as_str().is_some(), "{stats}");

    let (st, text) = get(&addr, "/metrics");
    assert_eq!(st, 200);
    for name in EXPORTED_NAMES {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "{name} missing:\n{text}"
        );
    }
    // Every sample line is `name{labels} value` with a number; the text ends with EOF.
    assert!(text.ends_with("# EOF\n"));
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let (_, value) = l
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {l:?}"));
        assert!(value.parse::<f64>().is_ok(), "bad value in {l:?}");
    }
    let events: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("fe_events_in_total "))
        .and_then(|v| v.parse().ok())
        .expect("fe_events_in_total");
    assert!(events > 0.0);
    assert!(
        text.contains("ml_detector_threats_total{threat_type=\"port_scan\""),
        "{text}"
    );

    // Bad requests: 4xx with a message.
    let (st, body) = get(&addr, "/stats?top=abc");
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("top"), "{body}");
    let (st, body) = get(&addr, "/stats?top=100000");
    assert_eq!(st, 400, "{body}");
    let (st, body) = get(&addr, "/stats?bogus=1");
    assert_eq!(st, 400, "{body}");
    let (st, body) = get(&addr, "/nope");
    assert_eq!(st, 404, "{body}");
    assert!(body.contains("/metrics"), "{body}");
    let big = vec![b'x'; 1 << 20];
    let (st, body) = http(&addr, "POST", "/metrics", Some(&big)).expect("POST");
    assert_eq!(st, 413, "{body}");
    let (st, _) = http(&addr, "POST", "/metrics", Some(b"{}")).expect("POST");
    assert_eq!(st, 405);

    assert_eq!(wb.wait(Duration::from_secs(30)), 0, "{}", wb.stderr_text());
    // The console notifier printed the alert.
    let out = wb.stdout.lock().expect("lock").join("\n");
    assert!(out.contains("[ALERT FIRING] AnomalyScoreHigh"), "{out}");
}
