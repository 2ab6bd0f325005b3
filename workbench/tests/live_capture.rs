//! Live capture on a real interface (needs root): a veth pair into a network namespace
//! this test creates, `workbench live` on the host side (XDP when it attaches, else
//! AF_PACKET: the backend in use is printed), a bounded nmap SYN scan from the
//! namespace, and a real Alertmanager.
//!
//! One run proves two things:
//! - detection: the port_scan alert for the scanner is in Alertmanager within 1 s of the
//!   scan's first packet (its kernel timestamp, read from the `--record` pcap, to the
//!   wall time the alert is first readable from Alertmanager's API), with 0 lost events;
//! - live == offline: the feature rows computed live (`--rows-out`) equal the rows
//!   `workbench features` computes from the `--record` pcap of the same run.

mod common;
mod live_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use capture::{CaptureFile, PacketSource};
use live_support::{free_port, http, label, Alertmanager, Webhook, Workbench};
use serde_json::Value;

/// A network namespace with a veth pair; deleted on drop (which removes both ends).
struct Netns {
    name: String,
    host_if: String,
    host_ip: String,
    ns_ip: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl Netns {
    fn create() -> Result<Netns, String> {
        let id = std::process::id() % 10_000;
        let net = std::process::id() % 250 + 1;
        let n = Netns {
            name: format!("wbb-{id}"),
            host_if: format!("wbbh{id}"),
            host_ip: format!("10.213.{net}.1"),
            ns_ip: format!("10.213.{net}.2"),
        };
        let ns_if = format!("wbbn{id}");
        ip(&["netns", "add", &n.name])?;
        ip(&[
            "link", "add", &n.host_if, "type", "veth", "peer", "name", &ns_if,
        ])?;
        ip(&["link", "set", &ns_if, "netns", &n.name])?;
        ip(&[
            "addr",
            "add",
            &format!("{}/30", n.host_ip),
            "dev",
            &n.host_if,
        ])?;
        ip(&["link", "set", &n.host_if, "up"])?;
        let nsx = |args: &[&str]| {
            let mut v = vec!["netns", "exec", n.name.as_str(), "ip"];
            v.extend_from_slice(args);
            ip(&v)
        };
        nsx(&["addr", "add", &format!("{}/30", n.ns_ip), "dev", &ns_if])?;
        nsx(&["link", "set", &ns_if, "up"])?;
        nsx(&["link", "set", "lo", "up"])?;
        Ok(n)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.host_if]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn nmap_scan_alerts_within_a_second_and_live_rows_equal_offline_rows() {
    if !have("nmap") || !have("ip") {
        common::missing("nmap and iproute2");
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        common::missing("root (network namespaces, XDP / AF_PACKET)");
        return;
    }
    let hook = Webhook::start();
    let Some(am) = Alertmanager::start(free_port(), &hook.addr) else {
        return;
    };
    let ns = match Netns::create() {
        Ok(n) => n,
        Err(e) => panic!("creating the test namespace: {e}"),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("live.pcap");
    let live_rows = dir.path().join("live.csv");
    let offline_rows = dir.path().join("offline.csv");
    let summary = dir.path().join("summary.json");
    let url = am.url();
    // WORKBENCH_TEST_BACKEND=xdp-skb|xdp-driver|afpacket pins the backend (default auto).
    let want = std::env::var("WORKBENCH_TEST_BACKEND").unwrap_or_else(|_| "auto".into());
    let mut wb = Workbench::spawn(&[
        "live",
        "--iface",
        &ns.host_if,
        "--backend",
        &want,
        "--model",
        "rules",
        "--listen",
        "127.0.0.1:0",
        "--alertmanager",
        &url,
        "--duration",
        "9",
        "--record",
        pcap.to_str().expect("utf-8"),
        "--rows-out",
        live_rows.to_str().expect("utf-8"),
        "--summary-out",
        summary.to_str().expect("utf-8"),
    ]);
    let (_, ready) = http(&wb.addr, "GET", "/ready", None).expect("/ready");
    let ready: Value = serde_json::from_str(&ready).expect("json");
    let backend = ready["backend"].as_str().unwrap_or("").to_string();
    eprintln!("live backend: {backend} (fallbacks {})", ready["fallbacks"]);
    assert!(
        ["xdp-driver", "xdp-skb", "afpacket"].contains(&backend.as_str()),
        "{ready}"
    );
    std::thread::sleep(Duration::from_millis(500));

    let scan_launch_ns = now_ns();
    let mut nmap = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "timeout",
            "20",
            "nmap",
            "-sS",
            "-Pn",
            "-n",
            "-p",
            "1-2000",
            "--max-retries",
            "0",
            &ns.host_ip,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nmap");
    // Poll Alertmanager until the scanner's alert is readable.
    let t0 = Instant::now();
    let mut arrival_ns = None;
    while t0.elapsed() < Duration::from_secs(8) {
        if am
            .alerts()
            .iter()
            .any(|a| label(a, "src") == ns.ns_ip && label(a, "threat_type") == "port_scan")
        {
            arrival_ns = Some(now_ns());
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = nmap.wait();
    assert_eq!(wb.wait(Duration::from_secs(40)), 0, "{}", wb.stderr_text());
    let arrival_ns = arrival_ns.unwrap_or_else(|| {
        panic!(
            "no port_scan alert for {} in Alertmanager; stderr:\n{}",
            ns.ns_ip,
            wb.stderr_text()
        )
    });

    // The scan's first packet, as the kernel stamped it.
    let scanner: std::net::IpAddr = ns.ns_ip.parse().expect("ip");
    let mut f = CaptureFile::open(&pcap).expect("recorded pcap");
    let mut first_syn = None;
    let mut n = 0u64;
    while let Some(p) = f.next_packet().expect("read pcap") {
        n += 1;
        if first_syn.is_none()
            && p.src == scanner
            && p.is_syn_only()
            && p.ts_ns + 50_000_000 >= scan_launch_ns
        {
            first_syn = Some(p.ts_ns);
        }
    }
    let first = first_syn.expect("a SYN from the scanner in the recording");
    let delay_s = (arrival_ns as f64 - first as f64) / 1e9;
    eprintln!("backend {backend}: first scan packet → alert in Alertmanager: {delay_s:.3} s ({n} packets recorded)");
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("json");
    assert_eq!(
        s["capture"]["lost_events"].as_u64(),
        Some(0),
        "{}",
        s["capture"]
    );
    assert_eq!(
        s["engine"]["engine"]["late_packets"].as_u64(),
        Some(0),
        "{}",
        s["engine"]
    );
    assert!(
        delay_s < 1.0,
        "alert took {delay_s:.3} s after the first scan packet (target < 1 s)"
    );
    assert!(delay_s > 0.0, "alert before the scan? {delay_s}");

    // live == offline.
    let out = common::bin()
        .args([
            "features",
            pcap.to_str().expect("utf-8"),
            "--out",
            offline_rows.to_str().expect("utf-8"),
            "-q",
        ])
        .output()
        .expect("features");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let live = std::fs::read_to_string(&live_rows).expect("live rows");
    let offline = std::fs::read_to_string(&offline_rows).expect("offline rows");
    let (lv, ov): (Vec<&str>, Vec<&str>) = (live.lines().collect(), offline.lines().collect());
    assert!(lv.len() > 10, "too few rows to compare: {}", lv.len());
    if let Some(i) = (0..lv.len().max(ov.len())).find(|&i| lv.get(i) != ov.get(i)) {
        panic!(
            "live and offline rows differ at line {i} ({} vs {} lines):\nlive:    {:?}\noffline: {:?}",
            lv.len(),
            ov.len(),
            lv.get(i),
            ov.get(i)
        );
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
