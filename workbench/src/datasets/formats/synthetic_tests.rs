//! Unit tests of the format readers on small synthetic files: timestamp variants, the
//! built-in schedule, and the quirks the public samples do not contain (UNSW-NB15 rows
//! with labels, CTU-13 botnet directions, IoT-23 space-separated label columns). The
//! tests on the real samples are in `workbench/tests/dataset_formats.rs`.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::{cicids2017, ctu13, schedule, unsw_nb15, zeek, ImportReport};
use crate::labels::{AttackType, Episode, HostSpec};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn addr(s: &str) -> HostSpec {
    HostSpec::Addr(ip(s))
}

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

#[test]
fn cicids2017_timestamps() {
    let o = cicids2017::CicOptions::default();
    let ts = |s: &str| cicids2017::parse_timestamp(s, &o);
    const JUL7: f64 = 1_499_385_600.0; // 2017-07-07 00:00 UTC
    const H: f64 = 3600.0;
    assert_eq!(ts("7/7/2017 3:30"), Some((JUL7 + 18.5 * H, 60.0)));
    assert_eq!(
        ts("7/7/2017 3:30:12 PM"),
        Some((JUL7 + 18.5 * H + 12.0, 1.0))
    );
    assert_eq!(ts("7/7/2017 3:30:12 pm"), ts("7/7/2017 3:30:12 PM"));
    assert_eq!(
        ts("4/7/2017 09:20:31"),
        Some((JUL7 - 3.0 * 86400.0 + 12.0 * H + 1231.0, 1.0))
    );
    assert_eq!(ts("7/7/2017 8:00"), Some((JUL7 + 11.0 * H, 60.0)));
    assert_eq!(ts("7/7/2017 12:05"), Some((JUL7 + 15.0 * H + 300.0, 60.0)));
    assert_eq!(
        ts("7/7/2017 12:05 AM"),
        Some((JUL7 + 3.0 * H + 300.0, 60.0))
    );
    assert_eq!(ts("7/7/2017 15:30"), ts("7/7/2017 3:30"));
    assert_eq!(
        ts("2017-07-07 15:30:00.5"),
        Some((JUL7 + 18.5 * H + 0.5, 0.0))
    );
    let morning = cicids2017::CicOptions {
        afternoon_without_ampm: false,
        utc_offset_s: 0,
        ..Default::default()
    };
    assert_eq!(
        cicids2017::parse_timestamp("7/7/2017 3:30", &morning),
        Some((JUL7 + 3.5 * H, 60.0))
    );
    for bad in [
        "",
        "7/7/2017",
        "13/13/2017 3:30",
        "31/2/2017 3:30",
        "7/7/2017 13:00 PM",
        "7/7/2017 0:30 AM",
        "7/7/2017 3:60",
        "a/b/c d:e",
        "7/7/2017/1 3:30",
        "7/7/2017 3:30:99",
    ] {
        assert_eq!(ts(bad), None, "{bad}");
    }
}

#[test]
fn cicids2017_schedule_is_consistent() {
    let eps = schedule::cicids2017_schedule();
    assert_eq!(eps.len(), 21);
    assert!(eps.windows(2).all(|w| w[0].start_ts <= w[1].start_ts));
    // 4 July 00:00 ADT .. 8 July 00:00 ADT.
    let (lo, hi) = (1_499_137_200.0, 1_499_482_800.0);
    for e in &eps {
        assert!(
            lo <= e.start_ts && e.start_ts < e.end_ts && e.end_ts < hi,
            "{e:?}"
        );
        assert!(e.detail.contains("ADT"), "{e:?}");
    }
    let find = |name: &str| eps.iter().find(|e| e.attack_type.name() == name).unwrap();
    let ddos = find("ddos");
    assert_eq!(
        (ddos.attacker, ddos.victim),
        (addr("172.16.0.1"), addr("192.168.10.50"))
    );
    // 7 July 15:40 ADT = 18:40 UTC, end minute inclusive.
    assert_eq!(
        (ddos.start_ts, ddos.end_ts),
        (1_499_452_800.0, 1_499_455_859.0)
    );
    let ftp = find("brute_force");
    assert_eq!(ftp.start_ts, 1_499_170_620.0); // 4 July 09:17 ADT
    assert!(ftp.detail.contains("FTP-Patator"));
    assert_eq!(find("Heartbleed").victim, addr("192.168.10.51"));
    assert_eq!(find("port_scan").attacker, addr("172.16.0.1"));
    let bots = eps.iter().filter(|e| e.attack_type.name() == "Bot").count();
    assert_eq!(bots, 8);
    // The sample CSV rows (15:30 local on the DDoS day, all BENIGN) precede the DDoS.
    assert!(ddos.start_ts > 1_499_452_200.0 + 60.0);
    assert!(eps.iter().any(|e: &Episode| e.victim == HostSpec::Any));
}

fn unsw_row(
    src: &str,
    sport: &str,
    dst: &str,
    stime: &str,
    ltime: &str,
    cat: &str,
    label: &str,
) -> String {
    let mut f = vec!["0".to_string(); 49];
    f[0] = src.into();
    f[1] = sport.into();
    f[2] = dst.into();
    f[3] = "0x000b".into();
    f[28] = stime.into();
    f[29] = ltime.into();
    f[47] = cat.into();
    f[48] = label.into();
    f.join(",")
}

#[test]
fn unsw_raw_49_columns_synthetic() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        unsw_row(
            "175.45.176.1",
            "0x000b",
            "149.171.126.10",
            "1421927414",
            "1421927415",
            " Fuzzers ",
            "1",
        ),
        unsw_row(
            "175.45.176.1",
            "-",
            "149.171.126.11",
            "1421927420",
            "1421927421",
            "Backdoors",
            "1",
        ),
        unsw_row(
            "175.45.176.1",
            "80",
            "149.171.126.12",
            "1421927430",
            "1421927440",
            "Backdoor",
            "1",
        ),
        unsw_row(
            "175.45.176.2",
            "80",
            "149.171.126.12",
            "1421927430",
            "1421927440",
            " Reconnaissance ",
            "1",
        ),
        unsw_row(
            "175.45.176.3",
            "80",
            "149.171.126.13",
            "1421927430",
            "1421927440",
            "DoS",
            "1",
        ),
        unsw_row(
            "59.166.0.1",
            "80",
            "149.171.126.1",
            "1421927430",
            "1421927440",
            "",
            "0",
        ),
        unsw_row(
            "59.166.0.1",
            "80",
            "149.171.126.1",
            "1421927430",
            "1421927440",
            "",
            "2",
        ),
        unsw_row(
            "59.166.0.1",
            "80",
            "149.171.126.1",
            "soon",
            "1421927440",
            "",
            "0",
        ),
        "59.166.0.1,80,149.171.126.1".to_string(),
    ];
    let path = write(
        dir.path(),
        "UNSW-NB15_9.csv",
        (rows.join("\n") + "\n").as_bytes(),
    );
    let import = unsw_nb15::read(&path, &Default::default()).unwrap();
    let r = &import.report;
    assert_accounted(r);
    assert_eq!(
        (r.rows, r.attack_rows, r.benign_rows, r.skipped_rows()),
        (9, 5, 1, 3)
    );
    assert_eq!(r.label_count("backdoor"), 2);
    assert_eq!(r.label_count("fuzzers"), 1);
    let types: Vec<(String, HostSpec)> = import
        .episodes
        .iter()
        .map(|e| (e.attack_type.to_string(), e.attacker))
        .collect();
    assert_eq!(
        types,
        [
            ("fuzzers".into(), addr("175.45.176.1")),
            ("backdoor".into(), addr("175.45.176.1")),
            ("backdoor".into(), addr("175.45.176.1")),
            ("port_scan".into(), addr("175.45.176.2")),
            ("dos".into(), addr("175.45.176.3")),
        ]
    );
    assert_eq!(unsw_nb15::normalise_category(" Backdoors "), "backdoor");
    let counts = unsw_nb15::label_counts(&path).unwrap();
    assert!(counts.contains(&("backdoor".to_string(), 2)), "{counts:?}");
}

#[test]
fn ctu13_botnet_directions_synthetic() {
    let dir = tempfile::tempdir().unwrap();
    let text = "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,Label\n\
2011/08/10 10:00:00.000000,1.5,udp,147.32.84.165,1025,   ->,8.8.8.8,0x0035,CON,0,0,2,100,50,flow=From-Botnet-V42-UDP-DNS\n\
2011/08/10 10:00:05.000000,0.5,tcp,1.2.3.4,,  <->,147.32.84.165,0x0303,CON,0,0,2,100,50,flow=To-Botnet-V42-TCP-Established\n\
2011/08/10 10:00:06.000000,0.5,tcp,147.32.84.170,80,  <?>,1.2.3.4,443,CON,0,0,2,100,50,flow=From-Normal-V42-Jist\n\
2011/08/10 10:00:07.000000,0.5,tcp,1.2.3.4,80,   ->,147.32.84.170,443,CON,0,0,2,100,50,flow=To-Normal-V42-Jist\n\
2011/08/10 25:00:07.000000,0.5,tcp,1.2.3.4,80,   ->,147.32.84.170,443,CON,0,0,2,100,50,flow=Background\n\
2011/08/10 10:00:07.000000,abc,tcp,1.2.3.4,80,   ->,147.32.84.170,443,CON,0,0,2,100,50,flow=Background\n";
    let path = write(dir.path(), "c.binetflow", text.as_bytes());
    let import = ctu13::read(&path, &Default::default()).unwrap();
    let r = &import.report;
    assert_accounted(r);
    assert_eq!(
        (r.rows, r.attack_rows, r.benign_rows, r.skipped_rows()),
        (6, 2, 2, 2)
    );
    let first = r.first_error.as_deref().unwrap();
    assert!(first.contains(":6: StartTime:"), "{first}");
    // Both botnet flows are keyed on the bot 147.32.84.165, 5 s apart: one episode per peer.
    let got: Vec<(HostSpec, HostSpec)> = import
        .episodes
        .iter()
        .map(|e| (e.attacker, e.victim))
        .collect();
    assert_eq!(
        got,
        [
            (addr("147.32.84.165"), addr("8.8.8.8")),
            (addr("147.32.84.165"), addr("1.2.3.4"))
        ]
    );
    assert!(import
        .episodes
        .iter()
        .all(|e| e.attack_type == AttackType::Other("botnet".into())));
    assert_eq!(
        ctu13::classify_label("flow=Background-TCP-Attempt"),
        ctu13::LabelClass::Benign
    );
    assert_eq!(ctu13::classify_label("  "), ctu13::LabelClass::Unlabeled);
}

#[test]
fn zeek_space_separated_label_columns_synthetic() {
    let dir = tempfile::tempdir().unwrap();
    let text = "#separator \\x09\n#unset_field\t-\n#empty_field\t(empty)\n\
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration\ttunnel_parents   label   detailed-label\n\
1.5\tC1\t10.0.0.1\t1\t10.0.0.2\t80\ttcp\t2.0\t-   Malicious   PartOfAHorizontalPortScan\n\
3.0\tC2\t10.0.0.1\t1\t10.0.0.3\t80\ttcp\t-\t-   Malicious   DDoS\n\
4.0\tC3\t10.0.0.4\t1\t10.0.0.3\t80\ttcp\t-\t-   Benign   -\n\
5.0\tC4\t10.0.0.4\t1\t10.0.0.3\t80\ttcp\t-\t-   -   -\n\
x\tC5\t10.0.0.4\t1\t10.0.0.3\t80\ttcp\t-\t-   Benign   -\n\
6.0\tC6\t10.0.0.4\n#close\t2020\n";
    let path = write(dir.path(), "conn.log.labeled", text.as_bytes());
    let import = zeek::read(&path, &Default::default()).unwrap();
    let r = &import.report;
    assert_accounted(r);
    assert_eq!(
        (
            r.rows,
            r.attack_rows,
            r.benign_rows,
            r.unlabeled_rows,
            r.skipped_rows()
        ),
        (6, 2, 1, 1, 2)
    );
    let got: Vec<(AttackType, HostSpec, f64, f64)> = import
        .episodes
        .iter()
        .map(|e| (e.attack_type.clone(), e.victim, e.start_ts, e.end_ts))
        .collect();
    assert_eq!(
        got,
        [
            (AttackType::PortScan, addr("10.0.0.2"), 1.5, 3.5),
            (AttackType::Ddos, addr("10.0.0.3"), 3.0, 3.0),
        ]
    );
    assert_eq!(
        zeek::attack_for_detail(" C&C-HeartBeat "),
        AttackType::Other("c&c-heartbeat".into())
    );
}
