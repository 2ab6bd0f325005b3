//! Helpers shared by the integration tests: where the public captures are, and how to
//! run the peer tools (capinfos, tshark) that the counts are checked against.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The public IDS captures (../shared/datasets/public, or `WORKBENCH_PUBLIC_DATA`).
pub fn public_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("WORKBENCH_PUBLIC_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/public")
        });
    dir.is_dir()
        .then_some(dir)
        .or_else(|| require_missing("public datasets directory"))
}

/// In CI a missing prerequisite fails the test; on a laptop it skips with a message.
pub fn require_missing<T>(what: &str) -> Option<T> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is missing, and CI=true: run scripts/test.sh, which installs it");
    }
    eprintln!("skipping: {what} is missing (scripts/test.sh installs it)");
    None
}

/// True when `tool` runs.
pub fn have_tool(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Every capture file under the public directory, sorted.
pub fn capture_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(
                p.extension().and_then(|x| x.to_str()),
                Some("pcap") | Some("pcapng")
            ) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Packet count as capinfos reports it.
pub fn capinfos_count(path: &std::path::Path) -> u64 {
    let out = Command::new("capinfos")
        .args(["-c", "-M", "-T", "-r"])
        .arg(path)
        .output()
        .expect("capinfos runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = text.trim().split('\t').nth(1).unwrap_or("");
    field
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("capinfos output for {}: {text:?}", path.display()))
}

/// Number of packets tshark's display filter matches.
pub fn tshark_count(path: &std::path::Path, filter: &str) -> u64 {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(path)
        .args(["-Y", filter, "-T", "fields", "-e", "frame.number"])
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .count() as u64
}
