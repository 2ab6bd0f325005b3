//! Dataset label formats on the real public sample files (and small synthetic files for
//! quirks the samples lack). The samples live in `../shared/datasets/public` relative to
//! the workspace root (`WORKBENCH_PUBLIC_DATA` overrides); when missing, tests skip with a
//! message, or fail when `CI=true`.

mod common;
#[allow(unused_imports)]
use common::*;

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use workbench::datasets::formats::{
    cicids2017, ctu13, unsw_nb15, zeek, FormatError, ImportReport, LabeledFlow,
};
use workbench::labels::{AttackType, HostSpec};

/// A sample file, or `None` (skip) when the directory is missing.
fn sample(rel: &str) -> Option<PathBuf> {
    let p = public_dir()?.join(rel);
    assert!(
        p.is_file(),
        "{} is missing from the public datasets",
        p.display()
    );
    Some(p)
}

const CIC_FLOWS: &str =
    "cicids2017/GeneratedLabelledFlows_Friday-WorkingHours-Afternoon-DDos.pcap_ISCX.head299.csv";
const CIC_ML: &str =
    "cicids2017/MachineLearningCVE_Friday-WorkingHours-Afternoon-DDos.head2885.header-stripped.csv";
const UNSW_RAW: &str = "unsw-nb15/UNSW-NB15_1.first12142rows.TRUNCATED-no-labels.csv";
const UNSW_TEST: &str = "unsw-nb15/UNSW_NB15_testing-set.sample4528.csv";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn addr(s: &str) -> HostSpec {
    HostSpec::Addr(ip(s))
}

/// Every row lands in exactly one bucket.
fn assert_accounted(r: &ImportReport) {
    let sum = r.attack_rows + r.benign_rows + r.unlabeled_rows + r.skipped_rows();
    assert_eq!(r.rows, sum, "{r:?}");
    assert_eq!(r.first_error.is_some(), r.skipped_rows() > 0, "{r:?}");
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
    p
}

fn flows_of(
    read: impl FnOnce(&mut dyn FnMut(LabeledFlow)) -> Result<ImportReport, FormatError>,
) -> (Vec<LabeledFlow>, ImportReport) {
    let mut v = Vec::new();
    let r = read(&mut |f| v.push(f)).unwrap();
    (v, r)
}

// ---------------------------------------------------------------- CIC-IDS2017

#[test]
fn cicids2017_flows_sample() {
    let Some(path) = sample(CIC_FLOWS) else {
        return;
    };
    // The quirks are really in the file: leading-space names, a duplicated column.
    let raw = std::fs::read(&path).unwrap();
    let header = String::from_utf8_lossy(raw.split(|&b| b == b'\n').next().unwrap()).to_string();
    assert!(header.contains(", Source IP,") && header.contains(", Timestamp,"));
    assert_eq!(header.matches(", Fwd Header Length,").count(), 2);
    assert!(String::from_utf8_lossy(&raw).contains(",Infinity,"));

    let opts = cicids2017::CicOptions::default();
    let (flows, r) = flows_of(|s| cicids2017::for_each_flow(&path, &opts, s));
    assert_accounted(&r);
    assert_eq!(
        (r.rows, r.benign_rows, r.attack_rows, r.skipped_rows()),
        (299, 299, 0, 0)
    );
    assert_eq!(r.labels, [("BENIGN".to_string(), 299)]);
    // `7/7/2017 3:30` is 15:30 ADT = 18:30 UTC; no seconds, so the end covers the minute.
    let first = &flows[0];
    assert_eq!(
        (first.src, first.dst),
        (ip("104.16.207.165"), ip("192.168.10.5"))
    );
    assert_eq!(first.start_ts, 1_499_452_200.0);
    assert!((first.end_ts - (1_499_452_200.0 + 60.0 + 3e-6)).abs() < 1e-6);
    assert!(flows.iter().all(|f| f.attack.is_none()));
    // Row 67 has Infinity in Flow Bytes/s and is an ordinary benign flow.
    assert!(flows.iter().any(|f| f.src == ip("185.86.137.17")));

    let import = cicids2017::read(&path, &opts).unwrap();
    assert!(import.episodes.is_empty());
    assert_eq!(import.report, r);
    assert_eq!(
        cicids2017::label_counts(&path).unwrap(),
        [("BENIGN".to_string(), 299)]
    );
}

#[test]
fn cicids2017_machine_learning_variant_is_refused_but_counted() {
    let Some(path) = sample(CIC_ML) else { return };
    let err = cicids2017::read(&path, &Default::default()).unwrap_err();
    assert!(matches!(err, FormatError::NoFlowColumns { .. }), "{err:?}");
    let msg = err.to_string();
    for want in [path.to_str().unwrap(), "Source IP", "Timestamp", "windows"] {
        assert!(msg.contains(want), "{msg}");
    }
    assert_eq!(
        cicids2017::label_counts(&path).unwrap(),
        [("BENIGN".to_string(), 2885)]
    );
}

#[test]
fn cicids2017_synthetic_quirks() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = b"Flow ID, Source IP, Source Port, Destination IP, Destination Port, Protocol, \
Timestamp, Flow Duration, Fwd Header Length, Flow Bytes/s, Fwd Header Length, Label\r\n"
        .to_vec();
    let rows: [&[u8]; 9] = [
        b"x,172.16.0.1,1,192.168.10.50,80,6,6/7/2017 9:20,2000000,1,NaN,1,Web Attack \x96 Brute Force",
        b"x,172.16.0.1,2,192.168.10.50,80,6,6/7/2017 9:21,1000000,1,Infinity,1,Web Attack \xef\xbf\xbd Brute Force",
        b"x,172.16.0.1,3,192.168.10.50,80,6,7/7/2017 3:30:12 PM,-1,1,1,1,DDoS",
        b"x,10.0.0.1,3,10.0.0.2,22,6,4/7/2017 09:20:31,5,1,1,1,SSH-Patator",
        b"x,10.0.0.3,3,10.0.0.4,22,6,4/7/2017 09:20:31,5,1,1,1,BENIGN",
        b",,,,,,,,,,,",
        b"x,10.0.0.5,3,10.0.0.6,22,6,13/13/2017 3:30,5,1,1,1,BENIGN",
        b"x,not-an-ip,3,10.0.0.6,22,6,4/7/2017 3:30,5,1,1,1,DoS Hulk",
        b"x,10.0.0.5,3",
    ];
    for r in rows {
        data.extend_from_slice(r);
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(b"x,10.0.0.7,3,10.0.0.8,22,6,4/7/2017 10:00,5,1,1,1,\n\n");
    let path = write(dir.path(), "flows.csv", &data);
    let opts = cicids2017::CicOptions::default();
    let (flows, r) = flows_of(|s| cicids2017::for_each_flow(&path, &opts, s));
    assert_accounted(&r);
    assert_eq!(
        (r.rows, r.attack_rows, r.benign_rows, r.unlabeled_rows),
        (10, 4, 1, 1)
    );
    let skipped: Vec<&str> = r.skipped.iter().map(|(k, _)| k.as_str()).collect();
    for want in [
        "record: empty record",
        "Timestamp: not a d/m/yyyy H:MM[:SS] [AM|PM] time",
        "Source IP: not an IP address",
        "record: fewer fields than the header",
    ] {
        assert!(skipped.contains(&want), "{skipped:?}");
    }
    let first = r.first_error.as_deref().unwrap();
    assert!(
        first.starts_with(&format!("{}:7: record: empty record", path.display())),
        "{first}"
    );
    // Both spellings of the en dash become the official label.
    assert_eq!(r.label_count("Web Attack – Brute Force"), 2);
    let web = AttackType::Other("Web Attack – Brute Force".into());
    assert_eq!(flows[0].attack.as_ref(), Some(&web));
    assert_eq!(flows[0].start_ts, 1_499_343_600.0); // 6 Jul 09:20 ADT = 12:20 UTC
    assert_eq!(flows[2].attack, Some(AttackType::Ddos));
    assert_eq!(flows[2].end_ts, flows[2].start_ts + 1.0); // negative duration → 0
    assert_eq!(flows[3].attack, Some(AttackType::BruteForce));

    let eps = cicids2017::read(&path, &opts).unwrap().episodes;
    let got: Vec<(String, HostSpec, HostSpec)> = eps
        .iter()
        .map(|e| (e.attack_type.to_string(), e.attacker, e.victim))
        .collect();
    assert_eq!(
        got,
        [
            ("brute_force".into(), addr("10.0.0.1"), addr("10.0.0.2")),
            (
                "Web Attack – Brute Force".into(),
                addr("172.16.0.1"),
                addr("192.168.10.50")
            ),
            ("ddos".into(), addr("172.16.0.1"), addr("192.168.10.50")),
        ]
    );
    assert_eq!(
        (eps[1].start_ts, eps[1].end_ts),
        (1_499_343_600.0, 1_499_343_600.0 + 121.0)
    );
    let counts = cicids2017::label_counts(&path).unwrap();
    assert!(
        counts.contains(&("Web Attack – Brute Force".to_string(), 2)),
        "{counts:?}"
    );
}

// ---------------------------------------------------------------- UNSW-NB15

#[test]
fn unsw_truncated_sample_is_refused_then_read_by_address_plan() {
    let Some(path) = sample(UNSW_RAW) else { return };
    let err = unsw_nb15::read(&path, &Default::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, FormatError::Layout { line: 2, .. }),
        "{err:?}"
    );
    for want in [
        path.to_str().unwrap(),
        "46 fields",
        "49",
        "training/testing-set header",
        "address_plan",
    ] {
        assert!(msg.contains(want), "{msg}");
    }
    assert!(unsw_nb15::label_counts(&path).is_err());

    let opts = unsw_nb15::UnswOptions {
        address_plan: true,
        ..Default::default()
    };
    let import = unsw_nb15::read(&path, &opts).unwrap();
    let r = &import.report;
    assert_accounted(r);
    // PROVENANCE: 1072 attack rows, 10942 normal; the other 128 are LAN/multicast.
    // Rows with hex ports (0xc0a8) are not skipped: nothing is.
    assert_eq!(
        (r.rows, r.attack_rows, r.benign_rows, r.unlabeled_rows),
        (12142, 1072, 10942, 128)
    );
    assert!(r.skipped.is_empty(), "{r:?}");
    // Each of the four attack hosts sweeps the ten victims 149.171.126.10-19.
    assert_eq!(import.episodes.len(), 4);
    for e in &import.episodes {
        let HostSpec::Addr(IpAddr::V4(a)) = e.attacker else {
            panic!("{e:?}")
        };
        assert_eq!(a.octets()[..3], [175, 45, 176]);
        assert_eq!(e.victim, HostSpec::Any);
        assert!(e.detail.contains("victims=10"), "{e:?}");
        assert!(
            1_421_927_377.0 <= e.start_ts && e.end_ts <= 1_421_927_906.0,
            "{e:?}"
        );
        assert_eq!(e.attack_type, AttackType::Other("unsw_attack".into()));
    }
    assert_eq!(
        unsw_nb15::address_plan(ip("149.171.126.3"), ip("59.166.0.1")),
        Some(false)
    );
}

#[test]
fn unsw_training_set_is_refused_but_counted() {
    let Some(path) = sample(UNSW_TEST) else {
        return;
    };
    let err = unsw_nb15::read(&path, &Default::default()).unwrap_err();
    assert!(matches!(err, FormatError::NoFlowColumns { .. }), "{err:?}");
    assert!(err.to_string().contains("srcip"), "{err}");
    let want = [
        ("exploits", 1800),
        ("dos", 1055),
        ("fuzzers", 717),
        ("reconnaissance", 543),
        ("normal", 243),
        ("analysis", 80),
        ("shellcode", 55),
        ("backdoor", 28),
        ("worms", 7),
    ];
    let want: Vec<(String, u64)> = want.iter().map(|&(k, n)| (k.to_string(), n)).collect();
    assert_eq!(unsw_nb15::label_counts(&path).unwrap(), want);
}

// ---------------------------------------------------------------- CTU-13 binetflow

#[test]
fn ctu13_scenario1_sample() {
    let Some(path) = sample("ctu13-binetflow/capture20110810.sample4rows.binetflow") else {
        return;
    };
    let raw = std::fs::read_to_string(&path).unwrap();
    assert!(raw.contains(",   ->,"), "leading-space Dir in the sample");
    let (flows, r) = flows_of(|s| ctu13::for_each_flow(&path, &Default::default(), s));
    assert_accounted(&r);
    assert_eq!((r.rows, r.benign_rows), (4, 4));
    assert_eq!(r.label_count("flow=Background-Established-cmpgw-CVUT"), 4);
    let f = &flows[0];
    assert_eq!((f.src, f.dst), (ip("94.44.127.113"), ip("147.32.84.59")));
    assert!((f.start_ts - 1_312_969_619.607825).abs() < 1e-5);
    assert!((f.end_ts - f.start_ts - 1.026539).abs() < 1e-5);
    // As CEST (UTC+2), the same wall clock is two hours earlier in UTC.
    let cest = ctu13::Ctu13Options {
        utc_offset_s: 7200,
        ..Default::default()
    };
    let (flows2, _) = flows_of(|s| ctu13::for_each_flow(&path, &cest, s));
    assert!((f.start_ts - flows2[0].start_ts - 7200.0).abs() < 1e-6);
}

#[test]
fn ctu13_tab_separated_malware_flows() {
    let Some(path) = sample("ctu13-binetflow/test5-mixed.binetflow") else {
        return;
    };
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .contains('\t'));
    let (flows, r) = flows_of(|s| ctu13::for_each_flow(&path, &Default::default(), s));
    assert_accounted(&r);
    // 197 Malware-UDP-DNS + 80 Malware-TCP; the Argus `man` record (address `0`) and the
    // LLC record (MAC addresses) are skipped; one Microsoft label is not recognised.
    assert_eq!(
        (r.rows, r.attack_rows, r.benign_rows, r.unlabeled_rows),
        (300, 277, 20, 1)
    );
    assert_eq!(r.skipped, [("SrcAddr: not an IP address".to_string(), 2)]);
    assert_eq!(r.label_count("flow=Malware-UDP-DNS"), 197);
    // Hex port 0x0ecc (ICMP) and IPv6 addresses are fine.
    assert!(flows
        .iter()
        .any(|f| f.dst == ip("8.8.4.4") && f.raw_label == "flow=Background-ICMP"));
    assert!(flows.iter().any(|f| f.src == ip("fe80::74:a6ed:d0dd:53e7")));
    let eps = ctu13::read(&path, &Default::default()).unwrap().episodes;
    assert_eq!(eps.len(), 1, "{eps:?}");
    assert_eq!(eps[0].attacker, addr("10.0.2.15"));
    assert_eq!(eps[0].victim, HostSpec::Any); // 15 DNS/HTTP servers
    assert_eq!(eps[0].attack_type, AttackType::Other("malware".into()));
}

#[test]
fn ctu13_unlabeled_slips_files_and_hex_ports() {
    for (name, rows) in [
        ("test3-mixed", 89),
        ("test4-malicious", 394),
        ("test11-portscan", 66),
    ] {
        let Some(path) = sample(&format!("ctu13-binetflow/{name}.binetflow")) else {
            return;
        };
        let import = ctu13::read(&path, &Default::default()).unwrap();
        let r = &import.report;
        assert_accounted(r);
        assert_eq!(
            (r.rows, r.unlabeled_rows, r.skipped_rows()),
            (rows, rows, 0),
            "{name}"
        );
        assert!(import.episodes.is_empty());
    }
}

// ---------------------------------------------------------------- Zeek labelled conn.log

#[test]
fn zeek_008_label_counts_and_episodes() {
    let Some(path) = sample("zeek-labeled/008-zeek-mixed.conn.log.labeled") else {
        return;
    };
    let import = zeek::read(&path, &Default::default()).unwrap();
    let r = &import.report;
    assert_accounted(r);
    assert_eq!(r.rows, 5663);
    assert_eq!(
        (
            r.label_count("Malicious"),
            r.label_count("Benign"),
            r.label_count("Background")
        ),
        (4201, 1402, 60)
    );
    assert_eq!(
        (r.attack_rows, r.benign_rows, r.skipped_rows()),
        (4201, 1462, 0)
    );
    let victim = addr("147.32.81.167");
    assert!(!import.episodes.is_empty());
    for e in &import.episodes {
        assert_eq!(e.victim, victim, "{e:?}");
        assert_eq!(
            e.attack_type,
            AttackType::Other("external-attack-to-device".into())
        );
    }
}

#[test]
fn zeek_ctu_sme_11_exfiltration_episode() {
    let Some(path) = sample("zeek-labeled/ctu-sme-11-win.conn.log.labeled") else {
        return;
    };
    let import = zeek::read(&path, &Default::default()).unwrap();
    let r = &import.report;
    assert_accounted(r);
    assert_eq!(
        (
            r.label_count("Malicious"),
            r.label_count("Benign"),
            r.label_count("Unknown")
        ),
        (719, 44, 3)
    );
    assert_eq!(
        (r.attack_rows, r.benign_rows, r.unlabeled_rows),
        (719, 44, 3)
    );
    assert_eq!(import.episodes.len(), 1, "{:?}", import.episodes);
    let e = &import.episodes[0];
    assert_eq!(e.attack_type, AttackType::DataExfiltration);
    assert_eq!(
        (e.attacker, e.victim),
        (addr("192.168.1.107"), addr("66.63.168.35"))
    );
    assert_eq!(e.start_ts, 1_677_024_003.714845);
    assert!(e.end_ts > e.start_ts);
}

// ---------------------------------------------------------------- bad input

type Reader = fn(&Path) -> Result<Option<ImportReport>, FormatError>;

fn readers() -> [(&'static str, Reader); 6] {
    [
        ("cicids2017", |p| {
            cicids2017::read(p, &Default::default()).map(|i| Some(i.report))
        }),
        ("cic labels", |p| cicids2017::label_counts(p).map(|_| None)),
        ("unsw", |p| {
            let o = unsw_nb15::UnswOptions {
                address_plan: true,
                ..Default::default()
            };
            unsw_nb15::read(p, &o).map(|i| Some(i.report))
        }),
        ("unsw labels", |p| unsw_nb15::label_counts(p).map(|_| None)),
        ("ctu13", |p| {
            ctu13::read(p, &Default::default()).map(|i| Some(i.report))
        }),
        ("zeek", |p| {
            zeek::read(p, &Default::default()).map(|i| Some(i.report))
        }),
    ]
}

#[test]
fn empty_missing_and_foreign_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.csv", b"");
    let blank = write(dir.path(), "blank.csv", b"\n \r\n\n");
    let foreign = write(dir.path(), "foreign.csv", b"hello,world\n1,2\n");
    for (name, read) in readers() {
        for p in [&empty, &blank] {
            let e = read(p).unwrap_err().to_string();
            assert!(
                e.contains(p.to_str().unwrap()) && e.contains("expected"),
                "{name}: {e}"
            );
        }
        let e = read(&dir.path().join("nope.csv")).unwrap_err();
        assert!(
            matches!(e, FormatError::Io { .. }) && e.to_string().contains("nope.csv"),
            "{name}"
        );
        let e = read(&foreign).unwrap_err().to_string();
        assert!(
            e.contains("foreign.csv:1:") && e.contains("expected"),
            "{name}: {e}"
        );
    }
}

#[test]
fn truncated_sample_files_count_skips() {
    let files = [
        CIC_FLOWS,
        UNSW_RAW,
        "ctu13-binetflow/test5-mixed.binetflow",
        "zeek-labeled/008-zeek-mixed.conn.log.labeled",
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, rel) in files.iter().enumerate() {
        let Some(src) = sample(rel) else { return };
        let bytes = std::fs::read(&src).unwrap();
        // Cut the middle row to a third of its length, and end the file with another
        // such fragment without a newline (a file still being written).
        let mid = bytes.len() / 2;
        let start = bytes[..mid].iter().rposition(|&b| b == b'\n').unwrap() + 1;
        let end = start + bytes[start..].iter().position(|&b| b == b'\n').unwrap();
        let keep = start + (end - start) / 3;
        let mut mangled = bytes[..keep].to_vec();
        mangled.extend_from_slice(&bytes[end..]);
        if mangled.last() != Some(&b'\n') {
            mangled.push(b'\n');
        }
        mangled.extend_from_slice(&bytes[start..keep]);
        let p = write(dir.path(), &format!("t{i}"), &mangled);
        let first_report = |p: &Path| {
            readers()
                .iter()
                .find_map(|(_, read)| read(p).ok().flatten())
                .unwrap_or_else(|| panic!("no reader accepts {rel}"))
        };
        let (before, after) = (first_report(&src), first_report(&p));
        assert_accounted(&after);
        assert_eq!(after.rows, before.rows + 1, "{rel}");
        assert_eq!(
            after.skipped_rows(),
            before.skipped_rows() + 2,
            "{rel}: {after:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random bytes, alone or after a valid header, never panic; when a reader accepts
    /// them, every row is accounted for.
    #[test]
    fn garbage_never_panics(
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..600),
            // Near-miss rows: the characters and tokens the formats are made of.
            proptest::collection::vec(
                prop_oneof![
                    "[0-9]{1,4}".prop_map(String::into_bytes),
                    Just(b",".to_vec()),
                    Just(b"\t".to_vec()),
                    Just(b"\n".to_vec()),
                    Just(b"/".to_vec()),
                    Just(b":".to_vec()),
                    Just(b".".to_vec()),
                    Just(b" ".to_vec()),
                    Just(b"\"".to_vec()),
                    Just(b"\x96".to_vec()),
                    Just(b"10.0.0.1".to_vec()),
                    Just(b"7/7/2017 3:30".to_vec()),
                    Just(b"2011/08/10 09:46:59.6".to_vec()),
                    Just(b"flow=From-Botnet-V1".to_vec()),
                    Just(b"Malicious".to_vec()),
                    Just(b"DDoS".to_vec()),
                    Just(b"#fields".to_vec()),
                ],
                0..120,
            )
            .prop_map(|parts| parts.concat()),
        ],
        which in 0usize..5,
    ) {
        let headers: [&[u8]; 5] = [
            b"",
            b" Source IP, Destination IP, Timestamp, Flow Duration, Label\n",
            b"StartTime\tDur\tSrcAddr\tDstAddr\tLabel\n",
            b"#fields\tts\tid.orig_h\tid.resp_h\tduration\tlabel\tdetailedlabel\n",
            b"175.45.176.1,0,149.171.126.1,0,udp,CON,0,0,0,0,0,0,0,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,2\n",
        ];
        let dir = tempfile::tempdir().unwrap();
        let mut data = headers[which].to_vec();
        data.extend_from_slice(&body);
        let p = write(dir.path(), "g", &data);
        for (_, read) in readers() {
            if let Ok(Some(r)) = read(&p) {
                assert_accounted(&r);
            }
        }
    }
}
