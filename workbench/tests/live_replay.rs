//! `workbench replay` and `workbench demo`: captures pushed through the live pipeline.
//!
//! - replay at `max` and at `10x` computes exactly the rows `workbench features`
//!   computes from the same file (watermarks never make a packet late), and alerts on
//!   the scanner;
//! - the demo alerts on the simulated scanner within 1 s of its first packet and leaves
//!   report.json.

mod common;
mod live_support;

use std::time::{Duration, Instant};

use live_support::Workbench;
use serde_json::Value;

fn simulate(dir: &std::path::Path, seconds: &str) -> std::path::PathBuf {
    let out = common::bin()
        .args([
            "simulate",
            "--scenario",
            "portscan",
            "--seconds",
            seconds,
            "--seed",
            "4",
            "-q",
            "--out",
        ])
        .arg(dir)
        .output()
        .expect("simulate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("capture.pcap")
}

#[test]
fn replay_rows_equal_features_rows_at_max_and_10x() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = simulate(dir.path(), "6");
    let offline = dir.path().join("offline.csv");
    let out = common::bin()
        .arg("features")
        .arg(&pcap)
        .args(["-q", "--out"])
        .arg(&offline)
        .output()
        .expect("features");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let offline = std::fs::read_to_string(&offline).expect("offline rows");
    let attacker = live_support::scan_attacker(4, 6.0);
    for speed in ["max", "10x"] {
        let rows = dir.path().join(format!("live-{speed}.csv"));
        let t = Instant::now();
        let mut wb = Workbench::spawn(&[
            "replay",
            pcap.to_str().expect("utf-8"),
            "--speed",
            speed,
            "--model",
            "rules",
            "--notify-console",
            "--listen",
            "127.0.0.1:0",
            "--rows-out",
            rows.to_str().expect("utf-8"),
        ]);
        assert_eq!(wb.wait(Duration::from_secs(60)), 0, "{}", wb.stderr_text());
        let took = t.elapsed().as_secs_f64();
        if speed == "10x" {
            // 6 s of traffic at 10x: paced, not instant.
            assert!(took > 0.5, "10x replay of 6 s took only {took:.2} s");
        }
        let live = std::fs::read_to_string(&rows).expect("live rows");
        assert!(live.lines().count() > 10);
        assert!(
            live == offline,
            "replay --speed {speed} rows differ from `features` rows"
        );
        let out = wb.stdout.lock().expect("lock").join("\n");
        assert!(
            out.lines().any(|l| l.starts_with("[ALERT FIRING]")
                && l.contains(&format!("src={attacker} "))
                && l.contains("threat_type=port_scan")),
            "no port_scan alert for {attacker} at {speed}:\n{out}"
        );
    }
}

#[test]
fn demo_alerts_within_a_second_and_writes_its_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = common::bin()
        .args([
            "demo",
            "--seconds",
            "6",
            "--model",
            "rules",
            "--listen",
            "127.0.0.1:0",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .expect("demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("[4/4] delay first scan packet → alert"),
        "{stdout}"
    );
    let r: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("report.json")).expect("report.json"),
    )
    .expect("json");
    let d = r["delay_to_alert_emitted_s"].as_f64().expect("delay");
    assert!(d > 0.0 && d < 1.0, "delay {d}");
    assert_eq!(r["target_met"], true);
    assert_eq!(r["alert"]["alert"]["labels"]["src"], r["attacker"]);
    // Only the report stays; the capture was temporary.
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
}
