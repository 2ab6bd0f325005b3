//! Helpers shared by the integration tests: the binary, the public captures, and the
//! rule that a missing prerequisite fails in CI and skips (with a message) elsewhere.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The `workbench` binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_workbench"))
}

/// True when running in CI (`CI=true`).
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A prerequisite is missing: fail in CI, skip with a message elsewhere.
pub fn missing(what: &str) {
    assert!(
        !ci(),
        "{what} is missing and CI=true: scripts/test.sh installs it"
    );
    eprintln!("skipping: {what} is missing (scripts/test.sh installs it)");
}

/// The public IDS captures (`../shared/datasets/public` beside the workspace, or
/// `WORKBENCH_PUBLIC_DATA`).
pub fn public_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("WORKBENCH_PUBLIC_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/public")
        });
    if dir.is_dir() {
        return Some(dir);
    }
    missing(&format!("public datasets at {}", dir.display()));
    None
}
