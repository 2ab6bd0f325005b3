//! `workbench demo`: simulate a port scan, replay it in real time through the live
//! pipeline, alert, and report the delay from the first scan packet to the alert.
//!
//! The delay is wall-clock time from the moment the first scan packet is handed to the
//! engine thread (the replay paces packets by their timestamps, so that is when it
//! "arrives") to the moment the alert is emitted (console) and accepted by Alertmanager
//! (when `--alertmanager` is given). It includes the window hop (an alert can only come
//! once a window containing the scan closes), the watermark period, scoring and
//! delivery.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::source::FirstPacketWatch;
use super::{replay_files, write_json, DemoConfig};
use crate::labels::HostSpec;
use crate::pipeline::Speed;
use crate::simulate::{write_scenario, Scenario, SimConfig};

/// The demo's target for first scan packet → alert, seconds (the seed asks for 3).
pub const TARGET_S: f64 = 1.0;

/// Runs the demo; returns the process exit status (0 when an alert came in time).
pub fn run_demo(a: &DemoConfig, quiet: bool) -> Result<bool> {
    let cfg = SimConfig {
        scenario: Scenario::Portscan,
        seconds: a.seconds,
        seed: a.seed,
        ..SimConfig::default()
    };
    println!(
        "[1/4] simulating a SYN port scan with benign background ({} s, seed {})",
        cfg.seconds, cfg.seed
    );
    // The capture (tens of MB) goes to a temporary directory; only report.json stays.
    let tmp = std::env::temp_dir().join(format!("workbench-demo-{}", std::process::id()));
    let sim = write_scenario(&cfg, &tmp, &mut |_| {})?;
    let _cleanup = RemoveOnDrop(tmp.clone());
    let labels = crate::labels::read_episodes(&sim.labels)
        .with_context(|| format!("reading {}", sim.labels.display()))?;
    let Some(ep) = labels.first() else {
        bail!("the simulation has no scan episode");
    };
    let (HostSpec::Addr(attacker), HostSpec::Addr(victim)) = (ep.attacker, ep.victim) else {
        bail!("the scan episode has no single attacker and victim");
    };
    println!(
        "      wrote {} frames to {}; scan {attacker} → {victim} starts {:.2} s into the capture",
        sim.frames,
        sim.pcap.display(),
        ep.start_ts - cfg.start_ts_ns as f64 / 1e9
    );
    let mut alert = a.alert.clone();
    alert.notify_console = true;
    println!(
        "[2/4] replaying {} at 1x through the live pipeline (alerts on the console{})",
        sim.pcap.display(),
        alert
            .alertmanager
            .as_deref()
            .map(|u| format!(" and to {u}"))
            .unwrap_or_default()
    );
    let watch = Arc::new(FirstPacketWatch {
        pair: Some((attacker, victim)),
        ..FirstPacketWatch::default()
    });
    let report = replay_files(
        vec![sim.pcap.clone()],
        Speed::Factor(1.0),
        &alert,
        a.window.clone(),
        None,
        watch.clone(),
        quiet,
    )?;
    let fed = watch.fed_at.get().copied();
    let first_alert = report.alerts.iter().find(|r| {
        r.state == "firing"
            && r.alert.labels.get("src").map(String::as_str) == Some(&attacker.to_string())
    });
    let since = |t: Option<Instant>| -> Option<f64> {
        match (fed, t) {
            (Some(f), Some(t)) => Some(t.saturating_duration_since(f).as_secs_f64()),
            _ => None,
        }
    };
    let emitted = since(first_alert.and_then(|r| r.emitted_at()));
    let posted = since(first_alert.and_then(|r| r.delivered_at()));
    println!("[3/4] alert");
    match (first_alert, emitted) {
        (Some(r), Some(d)) => {
            println!(
                "      {} {} for {attacker}: emitted {:.3} s after the first scan packet was fed{}",
                r.alert
                    .labels
                    .get("alertname")
                    .map(String::as_str)
                    .unwrap_or(""),
                r.alert
                    .labels
                    .get("threat_type")
                    .map(String::as_str)
                    .unwrap_or(""),
                d,
                posted
                    .map(|p| format!(", accepted by Alertmanager after {p:.3} s"))
                    .unwrap_or_default()
            );
        }
        _ => println!("      no alert for the scanner {attacker}"),
    }
    let delay = posted.or(emitted);
    let met = delay.is_some_and(|d| d < TARGET_S);
    let report_path = a.out.join("report.json");
    write_json(
        &report_path,
        &json!({
            "scenario": "portscan",
            "seconds": cfg.seconds,
            "seed": cfg.seed,
            "attacker": attacker.to_string(),
            "victim": victim.to_string(),
            "capture_frames": sim.frames,
            "first_scan_packet_ts_ns": watch.ts_ns.get(),
            "alert": first_alert,
            "delay_to_alert_emitted_s": emitted,
            "delay_to_alertmanager_s": posted,
            "target_s": TARGET_S,
            "target_met": met,
            "model": report.model,
            "threshold": report.threshold,
            "window_hop_s": a.window.hop_s,
            "run": &report,
        }),
    )?;
    println!(
        "[4/4] delay first scan packet → alert: {} (target < {TARGET_S} s: {}); report {}",
        delay
            .map(|d| format!("{d:.3} s"))
            .unwrap_or_else(|| "none".into()),
        if met { "met" } else { "NOT met" },
        report_path.display()
    );
    Ok(met)
}

/// Removes the demo's temporary capture directory, also on error paths.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
