//! `--dataset` resolution, manifests and `datasets list/check`, end to end.

mod common;
#[allow(unused_imports)]
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn wb(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_workbench"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("workbench runs")
}

#[test]
fn every_manifest_parses_and_missing_files_say_where_to_get_them() {
    let o = wb(&["datasets", "list", "--json"], &[]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    for n in [
        "cic-ids2017",
        "ctu-13",
        "public-samples",
        "synthetic",
        "unsw-nb15",
    ] {
        assert!(names.contains(&n), "{n} listed");
    }
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .all(|d| d.get("error").is_none()),
        "{v}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let o = wb(
        &[
            "eval",
            "-q",
            "--dataset",
            "ctu-13",
            "--data-dir",
            tmp.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("missing") && err.contains("Stratosphere"),
        "{err}"
    );
    let o = wb(&["eval", "-q", "--dataset", "no-such-set"], &[]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("known: cic-ids2017"));
}

#[test]
fn a_directory_with_labels_csv_is_a_dataset_and_wrong_labels_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("scan");
    let o = wb(
        &[
            "simulate",
            "-q",
            "--scenario",
            "portscan",
            "--seconds",
            "20",
            "--seed",
            "3",
            "--out",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    assert!(o.status.success());
    let report = tmp.path().join("r");
    let o = wb(
        &[
            "eval",
            "-q",
            "--json",
            "--dataset",
            dir.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["label_coverage"], 1.0);
    assert!(report.join("index.html").is_file());
    // Shift every episode by a day: nothing matches, and that is an error, not a 0.5 AUC.
    let labels = std::fs::read_to_string(dir.join("labels.csv")).unwrap();
    let mut shifted = String::new();
    for (i, line) in labels.lines().enumerate() {
        if i == 0 {
            shifted.push_str(line);
        } else {
            let mut f: Vec<String> = line.split(',').map(str::to_string).collect();
            for j in [3, 4] {
                let t: f64 = f[j].parse().unwrap();
                f[j] = format!("{}", t + 86_400.0);
            }
            shifted.push_str(&f.join(","));
        }
        shifted.push('\n');
    }
    std::fs::write(dir.join("labels.csv"), shifted).unwrap();
    let o = wb(
        &[
            "eval",
            "-q",
            "--dataset",
            dir.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("matches any host window"));
}

#[test]
fn manifests_import_public_label_formats() {
    let Some(data) = public_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let manifests = tmp.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    // Zeek labels for a capture they do not describe: parsed, then refused for matching
    // no window.
    std::fs::write(
        manifests.join("zeek-mismatch.toml"),
        format!(
            "description = \"test\"\nobtain = \"test\"\nroot = \"{}\"\n[[captures]]\npath = \"ppa/portscan.pcap\"\n[[labels]]\nformat = \"zeek-conn\"\npath = \"zeek-labeled/ctu-sme-11-win.conn.log.labeled\"\n",
            data.display()
        ),
    )
    .unwrap();
    let o = wb(
        &["eval", "-q", "--dataset", "zeek-mismatch"],
        &[("WORKBENCH_DATASETS", &manifests)],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("none of its 1 episodes matches"), "{err}");
    // An unknown format is named.
    std::fs::write(
        manifests.join("bad-format.toml"),
        format!("description = \"t\"\nobtain = \"t\"\nroot = \"{}\"\n[[captures]]\npath = \"ppa/portscan.pcap\"\n[[labels]]\nformat = \"argus-xml\"\npath = \"x\"\n", data.display()),
    )
    .unwrap();
    let o = wb(
        &["eval", "-q", "--dataset", "bad-format"],
        &[("WORKBENCH_DATASETS", &manifests)],
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown label format \"argus-xml\""));
}

#[test]
fn datasets_check_verifies_checksums() {
    let Some(data) = public_dir() else { return };
    let o = wb(
        &[
            "datasets",
            "check",
            "public-samples",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    // A copy with one byte changed fails with the file named.
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("public");
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for e in std::fs::read_dir(data.join(&rel)).unwrap().flatten() {
            let r = rel.join(e.file_name());
            if e.path().is_dir() {
                std::fs::create_dir_all(copy.join(&r)).unwrap();
                stack.push(r);
            } else {
                std::fs::copy(e.path(), copy.join(&r)).unwrap();
            }
        }
    }
    let victim = copy.join("ppa/portscan.pcap");
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&victim, bytes).unwrap();
    let o = wb(
        &[
            "datasets",
            "check",
            "public-samples",
            "--data-dir",
            copy.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("portscan.pcap") && out.contains("sha256"),
        "{out}"
    );
}
