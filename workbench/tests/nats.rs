//! Scale-out over a real nats-server with JetStream (Debian package, started here on a
//! free loopback port, killed by a Drop guard): sensors (`workbench publish`) →
//! JetStream → scorers (`workbench serve --nats`). The windows must equal a single
//! process's windows over the same records, across a scorer crash and a NATS restart.

mod common;
mod live_support;
mod stack_util;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use clap::Parser;
use common::{bin, missing};
use stack_util::*;
use workbench::cli::{Cli, Command as Cmd};
use workbench::engine::{Entity, FeatureRow, WindowEngine};

type Rows = BTreeMap<(u64, String), Vec<f64>>;

const MAX_HOSTS: usize = 1_000_000;
/// Likewise per-host distinct-key maps: a saturated map (a DDoS victim's sources)
/// remembers which keys came first, i.e. history older than any window, which a
/// scorer restarted from its checkpoint cannot know.
const MAX_KEYS: usize = 1 << 20;

static TORN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The sensor arguments for a simulation, as the binary parses them.
fn sensor_args(scenario: &str, seed: u64, seconds: u32) -> Vec<String> {
    [
        "publish",
        "--simulate",
        scenario,
        "--seed",
        &seed.to_string(),
        "--seconds",
        &seconds.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Host rows of one process over the sensors' records merged in time order.
fn reference(sensors: &[Vec<String>]) -> Rows {
    use capture::PacketSource;
    let mut all = Vec::new();
    for args in sensors {
        let mut v = vec!["workbench".to_string()];
        v.extend(args.iter().cloned());
        v.extend(["--nats".into(), "nats://unused".into()]);
        let Cmd::Publish(a) = Cli::try_parse_from(v).unwrap().command else {
            panic!("not publish")
        };
        let mut src = workbench::pipeline::SimSource::new(&a.sim.config(a.simulate.unwrap()));
        let mut last = 0;
        while let Some(mut r) = src.next_packet().unwrap() {
            r.ts_ns = r.ts_ns.max(last);
            last = r.ts_ns;
            all.push(r);
        }
    }
    all.sort_by_key(|r| r.ts_ns);
    // The host cap is per process: a single process would hit it on the simulated
    // DDoS's spoofed sources where each scorer (holding part of the hosts) does not.
    // Windows are identical when no process reaches its cap, so raise it everywhere.
    let mut engine = WindowEngine::new(workbench::engine::WindowConfig {
        max_hosts: MAX_HOSTS,
        max_keys_per_host: MAX_KEYS,
        ..Default::default()
    })
    .unwrap();
    let mut rows: Vec<FeatureRow> = Vec::new();
    for r in &all {
        engine.push(r, &mut rows);
    }
    engine.finish(&mut rows);
    assert_eq!(engine.stats().untracked_host_sides, 0);
    rows.into_iter()
        .filter(|r| matches!(r.entity, Entity::Host(_)))
        .map(|r| ((r.window_end_ns, r.entity.to_string()), r.values))
        .collect()
}

/// Rows from scorers' JSON-lines files; a row written twice (after a restart) must be
/// identical both times.
fn read_rows(files: &[&Path]) -> (Rows, usize) {
    let mut rows = Rows::new();
    let mut dup = 0;
    for f in files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for line in text.lines() {
            // A SIGKILLed scorer may leave one torn line; the restarted scorer ends it
            // with a newline before appending. Torn lines are counted, not trusted.
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                TORN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                continue;
            };
            let key = (
                v["window_end_ns"].as_u64().unwrap(),
                v["entity"].as_str().unwrap().to_string(),
            );
            let vals: Vec<f64> = v["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            if let Some(old) = rows.insert(key.clone(), vals.clone()) {
                dup += 1;
                assert_eq!(old, vals, "row {key:?} written twice with different values");
            }
        }
    }
    (rows, dup)
}

fn assert_same(got: &Rows, want: &Rows) {
    let missing: Vec<_> = want
        .keys()
        .filter(|k| !got.contains_key(*k))
        .take(5)
        .collect();
    let extra: Vec<_> = got
        .keys()
        .filter(|k| !want.contains_key(*k))
        .take(5)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} rows vs {} expected; missing e.g. {missing:?}; extra e.g. {extra:?}",
        got.len(),
        want.len()
    );
    for (k, v) in want {
        assert_eq!(&got[k], v, "row {k:?} differs");
    }
}

fn nats_ok() -> bool {
    if have("nats-server") {
        return true;
    }
    missing("nats-server (Debian package nats-server)");
    false
}

fn sensor(url: &str, id: &str, args: &[String], extra: &[&str]) -> Proc {
    let mut c = bin();
    c.args(args)
        .args(["--nats", url, "--sensor-id", id, "--shards", "4"])
        .args(extra);
    Proc::spawn(&format!("sensor {id}"), c)
}

fn scorer(url: &str, idx: u16, of: u16, sensors: usize, rows: &Path) -> Proc {
    let mut c = bin();
    c.args(["serve", "--nats", url, "--shards", "4", "--exit-on-end"])
        .args([
            "--scorers",
            &of.to_string(),
            "--scorer-index",
            &idx.to_string(),
        ])
        .args([
            "--expect-sensors",
            &sensors.to_string(),
            "--sensor-idle",
            "120",
        ])
        .args(["--max-hosts", &MAX_HOSTS.to_string()])
        .args(["--max-keys-per-host", &MAX_KEYS.to_string()])
        .arg("--rows-out")
        .arg(rows);
    Proc::spawn(&format!("scorer {idx}"), c)
}

fn wait_exit(p: &mut Proc, secs: u64) -> String {
    let ok = wait_for(Duration::from_secs(secs), || {
        (!p.is_running()).then_some(())
    });
    assert!(
        ok.is_some(),
        "{} still running; stderr: {}",
        p.name,
        p.stderr()
    );
    let st = p.child.as_mut().map(|c| c.wait().unwrap());
    assert!(
        st.is_some_and(|s| s.success()),
        "{} failed: {}",
        p.name,
        p.stderr()
    );
    p.stdout()
}

fn json_line(s: &str) -> serde_json::Value {
    s.lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON in {s:?}"))
}

#[test]
fn two_sensors_two_scorers_equal_one_process() {
    if !nats_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _nats = nats_server(&dir.path().join("js"), port);
    let url = format!("nats://127.0.0.1:{port}");
    let s1 = sensor_args("portscan", 1, 20);
    let s2 = sensor_args("mixed", 2, 20);
    let (r0, r1) = (
        dir.path().join("rows0.jsonl"),
        dir.path().join("rows1.jsonl"),
    );
    let mut sc0 = scorer(&url, 0, 2, 2, &r0);
    let mut sc1 = scorer(&url, 1, 2, 2, &r1);
    let mut a = sensor(&url, "edge-a", &s1, &[]);
    let mut b = sensor(&url, "edge-b", &s2, &[]);
    let sa = json_line(&wait_exit(&mut a, 120));
    wait_exit(&mut b, 120);
    // The cost of a packet on the wire (batch headers included).
    let per = sa["bytes_per_record"].as_f64().unwrap();
    eprintln!("sensor edge-a: {sa}");
    assert!(per > 10.0 && per < 40.0, "{per} bytes per record");
    let st0 = json_line(&wait_exit(&mut sc0, 120));
    let st1 = json_line(&wait_exit(&mut sc1, 120));
    eprintln!("scorer 0: {st0}\nscorer 1: {st1}");
    assert_eq!(st0["late_packets"], 0);
    assert_eq!(st1["late_packets"], 0);
    let want = reference(&[s1, s2]);
    let (got, dup) = read_rows(&[&r0, &r1]);
    assert_eq!(dup, 0, "a host row came from both scorers");
    assert!(
        want.len() > 100,
        "too few rows to mean anything: {}",
        want.len()
    );
    assert_same(&got, &want);
    // Both scorers did part of the work.
    assert!(st0["rows"].as_u64().unwrap() > 0 && st1["rows"].as_u64().unwrap() > 0);
}

#[test]
fn a_killed_scorer_resumes_without_losing_records() {
    if !nats_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _nats = nats_server(&dir.path().join("js"), port);
    let url = format!("nats://127.0.0.1:{port}");
    let s1 = sensor_args("mixed", 3, 24);
    let rows = dir.path().join("rows.jsonl");
    let mut sc = scorer(&url, 0, 1, 1, &rows);
    // 24 s of traffic at 4x: ~6 s of publishing; the scorer dies in the middle.
    let mut a = sensor(&url, "edge-a", &s1, &["--speed", "4"]);
    std::thread::sleep(Duration::from_millis(3000));
    assert!(sc.is_running(), "scorer ended early: {}", sc.stderr());
    sc.kill();
    let before = std::fs::read_to_string(&rows)
        .unwrap_or_default()
        .lines()
        .count();
    assert!(before > 0, "the scorer emitted nothing before the crash");
    std::thread::sleep(Duration::from_millis(500));
    let mut sc = scorer(&url, 0, 1, 1, &rows);
    wait_exit(&mut a, 120);
    let st = json_line(&wait_exit(&mut sc, 120));
    eprintln!("restarted scorer: {st}; rows before crash: {before}");
    assert!(st["checkpoint_ns"].as_u64().unwrap() > 0);
    let want = reference(&[s1]);
    let (got, _dup) = read_rows(&[&rows]);
    assert_same(&got, &want);
}

#[test]
fn sensor_buffers_while_nats_is_down_and_catches_up() {
    if !nats_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let store = dir.path().join("js");
    let mut nats = nats_server(&store, port);
    let url = format!("nats://127.0.0.1:{port}");
    let s1 = sensor_args("portscan", 5, 20);
    let rows = dir.path().join("rows.jsonl");
    let mut a = sensor(&url, "edge-a", &s1, &["--speed", "4"]);
    std::thread::sleep(Duration::from_millis(1200));
    nats.kill();
    std::thread::sleep(Duration::from_millis(2500));
    let _nats2 = nats_server(&store, port);
    let out = json_line(&wait_exit(&mut a, 120));
    eprintln!("sensor: {out}");
    assert!(
        out["retries"].as_u64().unwrap() > 0,
        "the outage was not seen"
    );
    assert!(out["buffered_peak"].as_u64().unwrap() > 1);
    assert_eq!(out["dropped_batches"], 0);
    assert_eq!(out["unacknowledged"], 0);
    let mut sc = scorer(&url, 0, 1, 1, &rows);
    wait_exit(&mut sc, 120);
    let (got, _) = read_rows(&[&rows]);
    assert_same(&got, &reference(&[s1]));
}

#[test]
fn seed_000_simulator_json_is_scored() {
    if !nats_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _nats = nats_server(&dir.path().join("js"), port);
    let url = format!("nats://127.0.0.1:{port}");
    let rows = dir.path().join("rows.jsonl");
    let mut c = bin();
    c.args(["serve", "--nats", &url, "--model", "formula", "--rows-out"])
        .arg(&rows);
    let sc = Proc::spawn("scorer", c);
    // The seed simulator's scan: 10.0.0.5 → 10.0.0.9, a new port every 50 ms for 3 s,
    // published as its JSON on the bare subject.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = async_nats::connect(url.as_str()).await.unwrap();
        let js = async_nats::jetstream::new(client);
        // The scorer creates the stream; wait for it.
        for _ in 0..100 {
            if js.get_stream("TELEMETRY").await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for i in 0..60u32 {
            let m = format!(
                r#"{{"ts": {}, "pid": 0, "saddr": "10.0.0.5", "daddr": "10.0.0.9", "dport": {}}}"#,
                1_700_000_000.0 + i as f64 * 0.05,
                1000 + i
            );
            js.publish("telemetry.flow", m.into_bytes().into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
        // A malformed message is counted and acknowledged, not fatal.
        js.publish("telemetry.flow", "{\"ts\":".into())
            .await
            .unwrap()
            .await
            .unwrap();
    });
    let row = wait_for(Duration::from_secs(20), || {
        let text = std::fs::read_to_string(&rows).ok()?;
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["entity"] == "10.0.0.5" && v["values"][8].as_f64() >= Some(39.0))
    })
    .unwrap_or_else(|| panic!("no scan window; stderr: {}", sc.stderr()));
    // conn_rate (SYNs per second over the 2 s window) = 20/s as in seed 000's extractor.
    assert_eq!(row["values"][7].as_f64(), Some(20.0), "{row}");
    let alerted = wait_for(Duration::from_secs(10), || {
        let e = sc.stderr();
        (e.contains("alert") && e.contains("10.0.0.5")).then_some(())
    });
    assert!(alerted.is_some(), "no alert logged: {}", sc.stderr());
    assert!(sc.stderr().contains("bad message"), "{}", sc.stderr());
}

/// Host rows of a live `--rows-out` CSV, keyed like the scorer's (window end in ns,
/// rounded to the millisecond the CSV's float seconds can carry).
fn csv_host_rows(path: &Path) -> Rows {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            if f[1] == "*" {
                return None;
            }
            let end_ms = (f[0].parse::<f64>().unwrap() * 1e3).round() as u64;
            let vals = f[3..].iter().map(|v| v.parse::<f64>().unwrap()).collect();
            Some(((end_ms * 1_000_000, f[1].to_string()), vals))
        })
        .collect()
}

/// `workbench live --simulate ... --publish`: a live pipeline is also a sensor. A
/// scorer over the real nats-server computes the same host windows as the live
/// process computed locally (its hidden --rows-out), and the sensor saw every batch
/// acknowledged.
#[test]
fn live_publish_feeds_a_scorer_with_the_same_windows() {
    if !nats_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _nats = nats_server(&dir.path().join("js"), port);
    let url = format!("nats://127.0.0.1:{port}");
    let rows = dir.path().join("scorer.jsonl");
    let local = dir.path().join("live.csv");
    let summary = dir.path().join("summary.json");
    let mut sc = scorer(&url, 0, 1, 1, &rows);
    let mut c = bin();
    c.args([
        "live",
        "--simulate",
        "portscan",
        "--seconds",
        "5",
        "--seed",
        "11",
    ])
    .args([
        "--publish",
        &url,
        "--sensor-id",
        "edge-live",
        "--shards",
        "4",
    ])
    .args(["--notify-console", "--listen", "127.0.0.1:0"])
    .args(["--max-hosts", &MAX_HOSTS.to_string()])
    .args(["--max-keys-per-host", &MAX_KEYS.to_string()])
    .arg("--rows-out")
    .arg(&local)
    .arg("--summary-out")
    .arg(&summary);
    let mut live = Proc::spawn("live --publish", c);
    wait_exit(&mut live, 60);
    let st = json_line(&wait_exit(&mut sc, 60));
    eprintln!("scorer: {st}");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let p = &s["engine"]["publish"];
    eprintln!("sensor: {p}");
    assert_eq!(p["unacknowledged"], 0, "{p}");
    assert_eq!(p["dropped_batches"], 0, "{p}");
    assert_eq!(
        p["records"], s["engine"]["engine"]["packets"],
        "every packet the live engine saw was published"
    );
    assert_eq!(st["late_packets"], 0);
    let want = csv_host_rows(&local);
    assert!(want.len() > 20, "too few rows: {}", want.len());
    let (got, dup) = read_rows(&[&rows]);
    assert_eq!(dup, 0);
    let got: Rows = got
        .into_iter()
        .map(|((end, h), v)| (((end + 500_000) / 1_000_000 * 1_000_000, h), v))
        .collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "different windows"
    );
    for (k, v) in &want {
        let g = &got[k];
        assert_eq!(g.len(), v.len(), "{k:?}");
        for (a, b) in g.iter().zip(v) {
            assert!(
                (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                "row {k:?}: scorer {g:?} vs live {v:?}"
            );
        }
    }
}

/// `serve --nats --alertmanager`: the scorer's alerts go through the live pipeline's
/// tracker and client to a real Alertmanager, which notifies its webhook (firing, then
/// resolved when the scorer ends), labelled like `workbench live`'s alerts.
#[test]
fn scorer_alerts_reach_a_real_alertmanager() {
    if !nats_ok() {
        return;
    }
    let hook = live_support::Webhook::start();
    let Some(am) = live_support::Alertmanager::start(free_port(), &hook.addr) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _nats = nats_server(&dir.path().join("js"), port);
    let url = format!("nats://127.0.0.1:{port}");
    let rows = dir.path().join("rows.jsonl");
    let mut c = bin();
    c.args(["serve", "--nats", &url, "--shards", "4", "--exit-on-end"])
        .args(["--sensor-idle", "120", "--alertmanager", &am.url()])
        .arg("--rows-out")
        .arg(&rows);
    let mut sc = Proc::spawn("scorer", c);
    let s1 = sensor_args("portscan", 11, 8);
    let mut a = sensor(&url, "edge-a", &s1, &[]);
    wait_exit(&mut a, 60);
    let st = json_line(&wait_exit(&mut sc, 60));
    eprintln!("scorer: {st}");
    assert!(
        st["alerts"].as_u64().unwrap() > 0,
        "no window alerted: {st}"
    );
    let d = &st["alertmanager"];
    assert_eq!(d["undelivered"], 0, "{d}");
    assert!(d["delivery"]["posts_ok"].as_u64().unwrap() > 0, "{d}");
    let attacker = live_support::scan_attacker(11, 8.0);
    let pick = |status: &str| {
        hook.alerts().into_iter().find(|x| {
            live_support::label(x, "src") == attacker
                && live_support::label(x, "threat_type") == "port_scan"
                && x["status"] == status
        })
    };
    let firing = wait_for(Duration::from_secs(15), || pick("firing")).unwrap_or_else(|| {
        panic!(
            "no firing port_scan alert for {attacker}: {:?}",
            hook.alerts()
        )
    });
    assert_eq!(
        live_support::label(&firing, "alertname"),
        "AnomalyScoreHigh"
    );
    assert!(
        live_support::label(&firing, "instance").contains("scorer-0-of-1"),
        "{firing}"
    );
    // The scorer resolved its alerts on exit.
    assert!(
        wait_for(Duration::from_secs(15), || pick("resolved")).is_some(),
        "no resolved notification: {:?}",
        hook.alerts()
    );
}

/// The scorer's alert timings are flags like `workbench live`'s, checked before
/// anything connects.
#[test]
fn scorer_alert_timings_are_validated_flags() {
    let o = bin()
        .args([
            "serve",
            "--nats",
            "nats://127.0.0.1:1",
            "--resolve-after=-1",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--resolve-after must be a non-negative number of seconds"),
        "{err}"
    );
}
