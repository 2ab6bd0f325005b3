//! One timeline rule on every path. Four captures: `a`; `b`, made an hour before `a`
//! (an independent capture: the engine restarts); `c`, continuing `b` (a split
//! capture); `d`, whose first packet is earlier than `c`'s last one but not earlier than
//! the engine's open hop (it continues: the rule compares with the open hop, not with
//! the previous file's last packet). `workbench features`, `workbench replay` (the live
//! pipeline: source thread, engine thread) and NATS (`publish` of the four files to
//! `serve --nats`) must give the same rows.

mod common;
mod stack_util;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use capture::PacketSource;
use common::*;
use stack_util::*;
use workbench::engine::{Entity, FeatureRow, WindowConfig};
use workbench::pipeline::{self, Driver, Input};
use workbench::progress::Progress;
use workbench::simulate::{write_scenario, Scenario, SimConfig};

const S: u64 = 1_000_000_000;
const HOP_NS: u64 = S / 2;

fn first_and_last_ts(pcap: &Path) -> (u64, u64) {
    let mut f = capture::CaptureFile::open(pcap).unwrap();
    let mut first = None;
    let mut last = 0;
    while let Some(p) = f.next_packet().unwrap() {
        first.get_or_insert(p.ts_ns);
        last = last.max(p.ts_ns);
    }
    (first.unwrap(), last)
}

fn simulate(
    dir: &Path,
    name: &str,
    scenario: Scenario,
    seed: u64,
    seconds: f64,
    start_ns: u64,
) -> PathBuf {
    let out = dir.join(name);
    let cfg = SimConfig {
        scenario,
        seconds,
        seed,
        start_ts_ns: start_ns,
        ..SimConfig::default()
    };
    write_scenario(&cfg, &out, &mut |_| {}).unwrap();
    out.join("capture.pcap")
}

/// A simulation whose first packet is at exactly `first_ns`.
fn simulate_first_at(dir: &Path, name: &str, seed: u64, seconds: f64, first_ns: u64) -> PathBuf {
    let probe = simulate(
        dir,
        &format!("{name}-probe"),
        Scenario::Benign,
        seed,
        seconds,
        1_600_000_000 * S,
    );
    let offset = first_and_last_ts(&probe).0 - 1_600_000_000 * S;
    let pcap = simulate(
        dir,
        name,
        Scenario::Benign,
        seed,
        seconds,
        first_ns - offset,
    );
    assert_eq!(first_and_last_ts(&pcap).0, first_ns);
    pcap
}

/// The four captures, in input order.
fn captures(dir: &Path) -> Vec<PathBuf> {
    let t = 1_700_000_000 * S;
    let a = simulate(dir, "a", Scenario::Portscan, 3, 6.0, t);
    let b = simulate(dir, "b", Scenario::Benign, 4, 5.0, t - 3600 * S);
    let b_last = first_and_last_ts(&b).1;
    let c = simulate_first_at(dir, "c", 5, 5.0, b_last + 300_000_000);
    let c_last = first_and_last_ts(&c).1;
    // Earlier than c's last packet, not earlier than the hop it is in.
    let open_hop_start = c_last / HOP_NS * HOP_NS;
    let d_first = c_last - (c_last - open_hop_start) / 2;
    assert!(d_first < c_last && d_first >= open_hop_start);
    let d = simulate_first_at(dir, "d", 6, 4.0, d_first);
    vec![a, b, c, d]
}

/// Host rows keyed by (window end, host).
type Rows = BTreeMap<(u64, String), Vec<f64>>;

fn offline(files: &[PathBuf]) -> (Vec<FeatureRow>, u64) {
    let mut driver = Driver::new(WindowConfig::default()).unwrap();
    let mut rows: Vec<FeatureRow> = Vec::new();
    let inputs = files.iter().cloned().map(Input::File).collect();
    let run = pipeline::run(inputs, &mut driver, &mut rows, &Progress::bytes(0, true));
    assert_eq!(run.failed_inputs(), 0);
    (rows, run.timelines)
}

fn host_rows(rows: &[FeatureRow]) -> Rows {
    rows.iter()
        .filter(|r| matches!(r.entity, Entity::Host(_)))
        .map(|r| ((r.window_end_ns, r.entity.to_string()), r.values.clone()))
        .collect()
}

fn run_ok(args: &[&str], files: &[PathBuf]) -> String {
    let out = bin().args(args).args(files).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn files_replay_and_nats_agree_on_where_timelines_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let files = captures(tmp.path());
    let (rows, timelines) = offline(&files);
    // a; b restarts; c and d continue b.
    assert_eq!(timelines, 2, "timelines");
    let want = host_rows(&rows);
    assert!(want.len() > 100, "{} host rows", want.len());

    // `workbench features`: the same rows as the library run.
    let csv = tmp.path().join("features.csv");
    run_ok(&["features", "-q", "--out", csv.to_str().unwrap()], &files);
    let features = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(features.lines().count(), rows.len() + 1, "features rows");

    // The live pipeline: `replay --speed max` writes exactly the rows `features` wrote.
    let live = tmp.path().join("replay.csv");
    run_ok(
        &[
            "replay",
            "--speed",
            "max",
            "--model",
            "rules",
            "--listen",
            "127.0.0.1:0",
            "--notify-console",
            "-q",
            "--rows-out",
            live.to_str().unwrap(),
        ],
        &files,
    );
    assert!(
        std::fs::read_to_string(&live).unwrap() == features,
        "replay rows differ from features rows"
    );

    // NATS: one sensor publishes the four files, one scorer scores them.
    if !have("nats-server") {
        missing("nats-server (Debian package nats-server)");
        return;
    }
    let port = free_port();
    let _nats = nats_server(&tmp.path().join("js"), port);
    let url = format!("nats://127.0.0.1:{port}");
    let scored = tmp.path().join("scorer.jsonl");
    let mut scorer = Proc::spawn("scorer", {
        let mut c = bin();
        c.args(["serve", "--nats", &url, "--shards", "4", "--exit-on-end"])
            .args(["--expect-sensors", "1", "--sensor-idle", "120"])
            .arg("--rows-out")
            .arg(&scored);
        c
    });
    run_ok(
        &[
            "publish",
            "--nats",
            &url,
            "--sensor-id",
            "s1",
            "--shards",
            "4",
        ],
        &files,
    );
    let done = wait_for(Duration::from_secs(120), || {
        (!scorer.is_running()).then_some(())
    });
    assert!(done.is_some(), "scorer still running: {}", scorer.stderr());
    let mut got = Rows::new();
    for line in std::fs::read_to_string(&scored).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let values = v["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        got.insert(
            (
                v["window_end_ns"].as_u64().unwrap(),
                v["entity"].as_str().unwrap().to_string(),
            ),
            values,
        );
    }
    assert_eq!(got.len(), want.len(), "NATS host rows");
    for (k, v) in &want {
        assert_eq!(got.get(k), Some(v), "NATS row {k:?}");
    }
}
