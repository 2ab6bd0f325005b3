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

/// The test venv's python if it can import `modules` (`WORKBENCH_PYTHON`, or `.venv` at
/// the workspace root); a missing one fails in CI.
pub fn python_with(modules: &str) -> Option<PathBuf> {
    let p = std::env::var_os("WORKBENCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"));
    let ok = Command::new(&p)
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(p);
    }
    missing(&format!(
        "python with {modules} (.venv, scripts/requirements-test.txt)"
    ));
    None
}

/// One simulated mixed run as a dataset (no files).
pub fn mixed(seed: u64, seconds: f64) -> workbench::datasets::Dataset {
    simulated(workbench::simulate::Scenario::Mixed, seed, seconds)
}

/// One simulated run of `scenario` as a dataset named `<scenario>-<seed>` (no files).
pub fn simulated(
    scenario: workbench::simulate::Scenario,
    seed: u64,
    seconds: f64,
) -> workbench::datasets::Dataset {
    use workbench::simulate::{SimConfig, Simulator};
    let sim = SimConfig {
        scenario,
        seconds,
        seed,
        ..SimConfig::default()
    };
    let name = scenario.name();
    workbench::datasets::Dataset {
        name: format!("{name}-{seed}"),
        description: format!("{name}, {seconds} s, seed {seed}"),
        captures: Vec::new(),
        episodes: Simulator::new(&sim).episodes().to_vec(),
        simulations: vec![sim],
        tables: Vec::new(),
    }
}

/// Several simulated scenarios of `seconds` each, all starting at the same instant
/// (seeds `seed`, `seed + 1`, ...), as one dataset: a time split then finds every
/// attack type in each part, unlike one mixed run whose attacks follow each other.
#[allow(dead_code)]
pub fn scenario_mix(seed: u64, seconds: f64) -> workbench::datasets::Dataset {
    use workbench::simulate::{Scenario, SimConfig, Simulator};
    let scenarios = [
        Scenario::Portscan,
        Scenario::Synflood,
        Scenario::Bruteforce,
        Scenario::Udpflood,
        Scenario::ConnectScan,
        Scenario::Mixed,
    ];
    let sims: Vec<SimConfig> = scenarios
        .iter()
        .zip(seed..)
        .map(|(&scenario, seed)| SimConfig {
            scenario,
            seconds,
            seed,
            ..SimConfig::default()
        })
        .collect();
    workbench::datasets::Dataset {
        name: format!("scenario-mix-{seed}"),
        description: format!(
            "{} scenarios, {seconds} s each, seeds from {seed}",
            sims.len()
        ),
        captures: Vec::new(),
        episodes: sims
            .iter()
            .flat_map(|c| Simulator::new(c).episodes().to_vec())
            .collect(),
        simulations: sims,
        tables: Vec::new(),
    }
}

/// `workbench train ARGS` parsed the way the binary parses them.
pub fn train_args(args: &[&str]) -> workbench::train::TrainConfig {
    use clap::Parser;
    let mut v = vec!["workbench", "train"];
    v.extend_from_slice(args);
    match workbench::cli::Cli::try_parse_from(v)
        .expect("valid arguments")
        .command
    {
        workbench::cli::Command::Train(a) => a.config(),
        other => panic!("parsed as {other:?}"),
    }
}

/// True (after reporting it) when Debian's Alertmanager is not installed.
pub fn missing_alertmanager() -> bool {
    if std::path::Path::new("/usr/bin/prometheus-alertmanager").exists() {
        return false;
    }
    missing("prometheus-alertmanager (/usr/bin/prometheus-alertmanager)");
    true
}
