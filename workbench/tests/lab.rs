//! The attack lab end to end: real attack tools (nmap, hping3, hydra) against real
//! services in network namespaces this test creates (scripts/lab/lab.py), benign
//! clients in the background, captured on the LAN bridge, then `workbench eval` with the
//! shipped model. Needs root and the lab's Debian packages (scripts/test.sh installs
//! them); without them it fails in CI and skips elsewhere.

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
            "--gap",
            "4",
            "6",
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
    assert!(
        r["pr_auc"].as_f64().unwrap() >= 0.5,
        "PR-AUC {}",
        r["pr_auc"]
    );
}
