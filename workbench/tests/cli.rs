//! The `workbench` binary end to end, on real public captures and simulated traffic.

mod common;
#[allow(unused_imports)]
use common::*;

use std::path::Path;
use std::process::Output;

use workbench::table::read_table;

fn run(args: &[&str]) -> Output {
    let out = bin().args(args).output().expect("workbench runs");
    eprintln!("stderr: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
}

#[test]
fn features_over_public_captures_write_equal_parquet_and_csv() {
    let Some(dir) = public_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let pq = tmp.path().join("f.parquet");
    let csv = tmp.path().join("f.csv");
    let input = dir.join("evilfingers-nmap");
    for out in [&pq, &csv] {
        let o = run(&[
            "features",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "-q",
        ]);
        assert!(o.status.success(), "exit {:?}", o.status);
    }
    let a = read_table(&pq).unwrap();
    let b = read_table(&csv).unwrap();
    assert!(a.height() > 100, "rows: {}", a.height());
    assert_eq!(a.shape(), b.shape());
    let names: Vec<String> = a.get_column_names().iter().map(|s| s.to_string()).collect();
    assert_eq!(
        &names[..4],
        ["window_end", "entity", "window_s", "packets_per_second"]
    );
    // The SYN-scan capture's scanner (192.168.1.10) is visible with many ports.
    let ent = a.column("entity").unwrap().str().unwrap().clone();
    let dports = a.column("uniq_dports").unwrap().f64().unwrap().clone();
    let max_scanner = (0..a.height())
        .filter(|&i| ent.get(i) == Some("192.168.1.10"))
        .filter_map(|i| dports.get(i))
        .fold(0.0, f64::max);
    assert!(
        max_scanner >= 500.0,
        "scanner's distinct ports: {max_scanner}"
    );
}

#[test]
fn a_truncated_capture_in_a_directory_is_named_and_the_rest_is_processed() {
    let Some(dir) = public_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    copy(&dir.join("ppa/portscan.pcap"), &data.join("a_good.pcap"));
    let bytes = std::fs::read(dir.join("ppa/dosattack.pcap")).unwrap();
    std::fs::write(data.join("b_cut.pcap"), &bytes[..bytes.len() - 10]).unwrap();
    copy(
        &dir.join("slips/test12-icmp-portscan.pcap"),
        &data.join("c_good.pcap"),
    );
    let out = tmp.path().join("f.csv");
    let o = run(&[
        "features",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(3), "partial exit status");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let inputs = v["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 3);
    assert_eq!(inputs[0]["packets"], 29);
    assert_eq!(
        inputs[1]["packets"], 99,
        "every complete packet of the cut file"
    );
    let err = inputs[1]["error"].as_str().unwrap();
    assert!(
        err.contains("b_cut.pcap") && err.contains("byte offset"),
        "{err}"
    );
    assert_eq!(inputs[2]["packets"], 37);
    assert_eq!(v["packets"], 29 + 99 + 37);
}

#[test]
fn unusable_inputs_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("f.csv");
    let o = run(&[
        "features",
        "/nonexistent.pcap",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent.pcap"));
    let o = run(&["features", "x.pcap", "--out", "f.xlsx"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&[
        "features",
        "--simulate",
        "nosuch",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("portscan"),
        "lists valid scenarios"
    );
    let o = run(&[
        "features",
        "--window",
        "0.7",
        "--simulate",
        "benign",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("multiple of the hop"));
}

#[test]
fn simulate_then_features_equals_features_on_the_simulator_directly() {
    let tmp = tempfile::tempdir().unwrap();
    let sim_dir = tmp.path().join("sim");
    let args = ["--seconds", "20", "--seed", "11"];
    let mut a = vec![
        "simulate",
        "--scenario",
        "portscan",
        "--out",
        sim_dir.to_str().unwrap(),
        "-q",
    ];
    a.extend(args);
    assert!(run(&a).status.success());
    assert!(sim_dir.join("labels.csv").is_file());
    let from_file = tmp.path().join("file.csv");
    let direct = tmp.path().join("direct.csv");
    let pcap = sim_dir.join("capture.pcap");
    assert!(run(&[
        "features",
        pcap.to_str().unwrap(),
        "--out",
        from_file.to_str().unwrap(),
        "-q"
    ])
    .status
    .success());
    let mut a = vec![
        "features",
        "--simulate",
        "portscan",
        "--out",
        direct.to_str().unwrap(),
        "-q",
    ];
    a.extend(args);
    assert!(run(&a).status.success());
    let x = std::fs::read(&from_file).unwrap();
    let y = std::fs::read(&direct).unwrap();
    assert!(x.len() > 1000);
    assert!(
        x == y,
        "replaying the written capture gives the same rows as the live simulator"
    );
}

#[test]
fn schema_lists_the_seed_features() {
    let o = run(&["schema"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for n in [
        "conn_rate",
        "uniq_dports",
        "packets_per_second",
        "syn_packets",
        "tcp_ratio",
    ] {
        assert!(text.contains(n), "{n}");
    }
}
