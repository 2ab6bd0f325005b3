//! `--log-format json`: every log line on stderr is one JSON object a log shipper can
//! parse without regexes, and alert events carry src, threat_type and score as fields.

mod common;

use common::bin;
use serde_json::Value;

#[test]
fn live_alerts_are_logged_as_json_objects_with_fields() {
    let out = bin()
        .args([
            "--log-format",
            "json",
            "live",
            "--simulate",
            "portscan",
            "--seconds",
            "6",
            "--seed",
            "7",
            "--duration",
            "8",
            "--model",
            "rules",
            "--notify-console",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    let objects: Vec<Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let alerts: Vec<&Value> = objects
        .iter()
        .filter(|o| o["target"] == "workbench::alert")
        .collect();
    assert!(!alerts.is_empty(), "no alert log lines in: {stderr}");
    let scan = alerts
        .iter()
        .find(|o| o["threat_type"] == "port_scan" && o["state"] == "firing")
        .unwrap_or_else(|| panic!("no firing port_scan alert logged: {alerts:#?}"));
    assert_eq!(scan["level"], "WARN");
    assert!(scan["src"]
        .as_str()
        .unwrap()
        .parse::<std::net::IpAddr>()
        .is_ok());
    let score = scan["score"].as_f64().unwrap();
    assert!((0.5..=1.0).contains(&score), "score {score}");
    assert!(scan["timestamp"].is_string());
}
