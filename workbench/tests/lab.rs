//! The attack lab end to end: real attack tools (nmap, hping3, hydra) against real
//! services in network namespaces this test creates (scripts/lab/lab.py), benign
//! clients in the background, `workbench live` on the LAN bridge alerting as the tools
//! run, and `workbench eval` with the shipped model on the bridge's capture afterwards.
//! Needs root and the lab's Debian packages (scripts/test.sh installs them); without
//! them it fails in CI and skips elsewhere.

mod common;

use std::path::PathBuf;
use std::process::Command;

fn lab_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/lab/lab.py")
}

/// True when the lab can run here: root, and no package missing.
fn lab_ready() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        common::missing("root (the lab creates network namespaces)");
        return false;
    }
    let out = Command::new("python3")
        .arg(lab_script())
        .arg("--check")
        .output()
        .expect("python3 runs");
    let missing = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || !missing.is_empty() {
        common::missing(&format!("the lab's Debian packages: {missing}"));
        return false;
    }
    true
}

#[test]
fn real_tools_in_the_lab_are_detected_by_the_shipped_model() {
    if !lab_ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let prefix = format!("wt{}", std::process::id() % 100_000);
    let status = Command::new("timeout")
        .args(["300", "python3"])
        .arg(lab_script())
        .args([
            "--out",
            run.to_str().unwrap(),
            "--seed",
            "42",
            "--prefix",
            &prefix,
            "--attacks",
            "nmap-syn,syn-flood,hydra-http,nmap-stealth,udp-flood",
            "--warmup",
            "6",
            // Longer than a window plus --resolve-after, so the attacker's alert from
            // one tool has resolved before the next starts: every delay is measured.
            "--gap",
            "6",
            "8",
            "--live",
            env!("CARGO_BIN_EXE_workbench"),
            "--live-arg=--resolve-after",
            "--live-arg=2",
        ])
        .status()
        .expect("lab runs");
    assert!(status.success(), "lab.py exited {status}");
    // The lab cleaned up after itself: none of its namespaces is left.
    let ns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let left = String::from_utf8_lossy(&ns.stdout);
    assert!(
        !left.lines().any(|l| l.starts_with(&prefix)),
        "lab namespaces left behind: {left}"
    );
    let labels = std::fs::read_to_string(run.join("labels.csv")).unwrap();
    assert_eq!(labels.lines().count(), 1 + 5, "{labels}");

    let out = common::bin()
        .args(["eval", "--dataset", run.to_str().unwrap(), "--json", "-q"])
        .arg("--report")
        .arg(tmp.path().join("report"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!(
        "lab eval: PR-AUC {} ROC-AUC {} episodes {}/{} positives {} of {} windows",
        r["pr_auc"],
        r["roc_auc"],
        r["episodes_matched"],
        r["episodes_total"],
        r["positives"],
        r["windows"]
    );
    for e in r["episodes"].as_array().unwrap() {
        eprintln!(
            "  {} {} -> {}: detected {} max score {:.3} delay {}",
            e["attack_type"],
            e["attacker"],
            e["victim"],
            e["detected"],
            e["max_score"],
            e["delay_s"]
        );
        assert_eq!(e["detected"], true, "episode not detected: {e}");
    }
    // Measured 0.99 on this run and 0.95 on the held-out lab runs; the model before
    // lab training had 0.61 here.
    assert!(
        r["pr_auc"].as_f64().unwrap() >= 0.8,
        "PR-AUC {}",
        r["pr_auc"]
    );

    // Live: every tool alerted within the seed's 3 s, few alerts on benign hosts.
    let live: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("live.json")).unwrap()).unwrap();
    for e in live["episodes"].as_array().unwrap() {
        eprintln!(
            "  live: {} {}: alerted {} delay {}",
            e["attack_type"], e["detail"], e["alerted"], e["delay_s"]
        );
        assert_eq!(e["alerted"], true, "no live alert: {e}");
        assert!(e["delay_s"].as_f64().unwrap() <= 3.0, "late alert: {e}");
    }
    let false_alerts = live["false_alerts"].as_array().unwrap();
    eprintln!("  live false alerts: {false_alerts:?}");
    // Measured 4 and 6 in two runs (benign clients just over the threshold, and the
    // victim of the Xmas scan answering with RSTs); the model before lab training: 68.
    assert!(
        live["false_alerts_lan_hosts"].as_u64().unwrap() <= 12,
        "{} false alerts on lab hosts",
        live["false_alerts_lan_hosts"]
    );
}
