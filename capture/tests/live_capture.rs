//! Live capture against the real kernel: XDP on `lo` (generic mode) and on a veth (driver
//! mode), AF_PACKET, and the unprivileged error.
//!
//! Every test runs inside network namespaces it creates (unique names, deleted by a Drop
//! guard), so its `lo` carries only the test's own traffic — other tests on this machine
//! use the host's `lo` — and an XDP program it attaches cannot collide with another one.
//! The capture is opened from a thread that has joined the namespace (setns applies to the
//! calling thread only); the traffic tools run under `ip netns exec`.
//!
//! Needs root (CAP_BPF, CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN for setns) and ip, nmap,
//! tcpdump, hping3, setpriv, timeout. Without them the tests skip with a reason; with
//! CI=true they fail.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use capture::live::{Backend, BackendChoice, LiveCapture, LiveCounters, LiveError, LiveOptions};
use capture::{decode_frame, CaptureFile, PacketRecord, PacketSource};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        || Path::new("/usr/sbin").join(tool).is_file()
}

/// True when the test can run: root and every tool present. Otherwise skips (prints the
/// reason) or, with CI=true, fails.
fn prerequisites(tools: &[&str]) -> bool {
    if !is_root() {
        return common::require_missing::<()>(
            "root (CAP_BPF, CAP_NET_ADMIN, CAP_NET_RAW) for live capture tests",
        )
        .is_some();
    }
    for t in tools {
        if !on_path(t) {
            return common::require_missing::<()>(&format!("the `{t}` tool")).is_some();
        }
    }
    true
}

static NS_SEQ: AtomicUsize = AtomicUsize::new(0);

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace created for one test; deleted on drop (its interfaces go with it).
struct Netns {
    name: String,
}

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!(
            "wbcap-{}-{}-{tag}",
            std::process::id(),
            NS_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        run(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns { name };
        run(Command::new("ip").args(["-n", &ns.name, "link", "set", "lo", "up"]));
        ns
    }

    /// `ip netns exec NAME timeout SECS args...`: every tool run is bounded.
    fn exec(&self, secs: u32, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, "timeout", &secs.to_string()])
            .args(args);
        c
    }

    /// Runs `f` on a thread that has joined this namespace.
    fn in_thread<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            // SAFETY: a valid namespace fd; affects only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
            f()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A child process killed (by PID) and reaped on drop.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What one capture thread saw.
struct Captured {
    backend: Backend,
    fallbacks: Vec<String>,
    /// (ts_ns, wire_len, bytes) in delivery order.
    frames: Vec<(u64, u32, Vec<u8>)>,
    link: capture::LinkType,
    counters: LiveCounters,
}

impl Captured {
    /// The frames that decode to IP records, in order.
    fn records(&self) -> Vec<PacketRecord> {
        self.frames
            .iter()
            .filter_map(|(ts, wl, d)| decode_frame(self.link, *ts, *wl, d).ok().map(|r| r.0))
            .collect()
    }
}

/// Opens one capture per option set inside `ns`, runs `traffic` once all are attached,
/// then drains until every packet the kernel counted has been delivered (bounded).
fn capture_during(
    ns: &Netns,
    opts: Vec<LiveOptions>,
    traffic: impl FnOnce(),
) -> Vec<Result<Captured, LiveError>> {
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    {
        let (ready_tx, ready_rx) = mpsc::channel::<()>();
        let handles: Vec<_> = opts
            .into_iter()
            .map(|o| {
                let stop = stop.clone();
                let ready = ready_tx.clone();
                ns.in_thread(move || {
                    let opened = LiveCapture::open(&o);
                    let _ = ready.send(());
                    let mut cap = opened?;
                    let mut frames = Vec::new();
                    let mut link = capture::LinkType::Ethernet;
                    let mut keep = |f: &capture::live::LiveFrame<'_>| {
                        link = f.link;
                        frames.push((f.ts_ns, f.wire_len, f.data.to_vec()));
                    };
                    while !stop.load(Ordering::Relaxed) {
                        cap.poll(Duration::from_millis(20), &mut keep)?;
                    }
                    // Drain: everything counted in the kernel must arrive (nothing else
                    // runs in this namespace once the traffic is over).
                    let end = Instant::now() + Duration::from_secs(3);
                    loop {
                        let c = cap.counters();
                        let n = cap.poll(Duration::from_millis(30), &mut keep)?;
                        if n == 0 && c.delivered + c.lost_events >= c.packets {
                            break;
                        }
                        if Instant::now() > end {
                            break;
                        }
                    }
                    Ok(Captured {
                        backend: cap.backend(),
                        fallbacks: cap.fallbacks().to_vec(),
                        frames,
                        link,
                        counters: cap.counters(),
                    })
                })
            })
            .collect();
        drop(ready_tx);
        for _ in 0..handles.len() {
            let _ = ready_rx.recv_timeout(Duration::from_secs(10));
        }
        traffic();
        // Let the last packets reach the programs before stopping the readers.
        std::thread::sleep(Duration::from_millis(100));
        stop.store(true, Ordering::Relaxed);
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| panic!("capture thread panicked"))
            })
            .collect()
    }
}

/// Starts tcpdump on `iface` in `ns`, writing `out`, and waits until it listens.
fn start_tcpdump(ns: &Netns, iface: &str, out: &Path) -> Reaped {
    let mut child = ns
        // --immediate-mode: without it libpcap's TPACKET_V3 ring hands over packets only
        // when a block is full or times out, and a SIGINT'd tcpdump never writes the last
        // partial block (measured: 1820 of 2000 frames written, "0 dropped by kernel").
        .exec(
            60,
            &[
                "tcpdump",
                "--immediate-mode",
                "-n",
                "-i",
                iface,
                "-s",
                "128",
                "-U",
                "-w",
            ],
        )
        .arg(out)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("tcpdump starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("listening on") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("tcpdump prints 'listening on' within 10 s");
    Reaped(child)
}

/// Stops tcpdump with SIGINT (by PID) so it flushes, and waits for it.
fn stop_tcpdump(mut t: Reaped) {
    // `timeout` forwards the signal to tcpdump; `ip netns exec` execs it, so the PID is
    // timeout's.
    let pid = t.0.id() as libc::pid_t;
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if let Ok(Some(_)) = t.0.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = t.0.kill();
}

fn pcap_records(path: &Path) -> Vec<PacketRecord> {
    let mut f = CaptureFile::open(path).expect("tcpdump's pcap opens");
    let mut out = Vec::new();
    while let Some(r) = f.next_packet().expect("tcpdump's pcap reads") {
        out.push(r);
    }
    out
}

/// A record without its timestamp: what must be identical between two captures.
fn key(r: &PacketRecord) -> PacketRecord {
    PacketRecord { ts_ns: 0, ..*r }
}

fn nmap_syn_scan(ns: &Netns, ports: &str) {
    let out = ns
        .exec(
            30,
            &[
                "nmap",
                "-sS",
                "-n",
                "-Pn",
                "-T4",
                "--max-retries",
                "0",
                "-p",
                ports,
                "127.0.0.1",
            ],
        )
        .output()
        .expect("nmap runs");
    assert!(
        out.status.success(),
        "nmap failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn syn_ports(recs: &[PacketRecord]) -> BTreeSet<u16> {
    recs.iter()
        .filter(|r| r.is_syn_only() && r.dst == IpAddr::V4(Ipv4Addr::LOCALHOST))
        .map(|r| r.dst_port)
        .collect()
}

fn assert_complete(c: &Captured, what: &str) {
    let k = c.counters;
    assert_eq!(k.lost_events, 0, "{what}: lost events {k:?}");
    assert_eq!(k.delivered, c.frames.len() as u64, "{what}: {k:?}");
    assert_eq!(
        k.delivered, k.packets,
        "{what}: every counted packet delivered {k:?}"
    );
    let bytes: u64 = c.frames.iter().map(|f| u64::from(f.1)).sum();
    assert_eq!(k.bytes, bytes, "{what}: byte counter");
}

/// (a) XDP on lo: Auto falls back from driver to generic mode; a SYN scan is captured
/// completely and exactly as tcpdump records it.
#[test]
fn live_xdp_lo_matches_tcpdump() {
    if !prerequisites(&["ip", "nmap", "tcpdump", "timeout"]) {
        return;
    }
    let ns = Netns::new("lo");
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("lo.pcap");
    let mut results = None;
    let got = capture_during(&ns, vec![LiveOptions::new("lo")], || {
        let td = start_tcpdump(&ns, "lo", &pcap);
        nmap_syn_scan(&ns, "1-1000");
        std::thread::sleep(Duration::from_millis(100));
        stop_tcpdump(td);
        results = Some(());
    });
    assert!(results.is_some());
    let cap = match got.into_iter().next() {
        Some(Ok(c)) => c,
        Some(Err(e)) => panic!("XDP capture on lo failed: {e}"),
        None => panic!("no capture result"),
    };
    assert_eq!(
        cap.backend,
        Backend::XdpSkb,
        "fallbacks: {:?}",
        cap.fallbacks
    );
    assert_eq!(cap.fallbacks.len(), 1, "{:?}", cap.fallbacks);
    assert!(
        cap.fallbacks[0].starts_with("xdp-driver:"),
        "{:?}",
        cap.fallbacks
    );
    assert_complete(&cap, "xdp on lo");

    let live = cap.records();
    let dumped = pcap_records(&pcap);
    // Nothing but the scan runs in the namespace: same packets, same order, same fields.
    assert_eq!(
        cap.frames.len(),
        dumped.len(),
        "XDP frames vs tcpdump packets"
    );
    assert_eq!(live.len(), dumped.len(), "every frame decodes");
    let lk: Vec<_> = live.iter().map(key).collect();
    let dk: Vec<_> = dumped.iter().map(key).collect();
    assert_eq!(lk, dk, "decoded records differ from tcpdump's");
    // Kernel timestamps, converted from CLOCK_MONOTONIC, agree with tcpdump's realtime ones.
    for (l, d) in live.iter().zip(&dumped) {
        assert!(
            l.ts_ns.abs_diff(d.ts_ns) < 10_000_000,
            "timestamp {} vs tcpdump {}",
            l.ts_ns,
            d.ts_ns
        );
    }
    let ports = syn_ports(&live);
    assert_eq!(ports, (1..=1000).collect(), "one SYN per scanned port");
    // Every SYN got its RST from the kernel (no port is open in a fresh namespace).
    let rsts = live
        .iter()
        .filter(|r| r.tcp_flags & capture::tcp_flag::RST != 0)
        .count();
    assert!(rsts >= 1000, "{rsts} RSTs");
}

/// (b) Driver-mode XDP on a veth: packets sent by the peer namespace are captured.
#[test]
fn live_xdp_veth_driver_mode() {
    if !prerequisites(&["ip", "hping3", "timeout"]) {
        return;
    }
    let sensor = Netns::new("s");
    let peer = Netns::new("p");
    let seq = NS_SEQ.fetch_add(1, Ordering::Relaxed);
    let a = format!("wbv{}a{seq}", std::process::id() % 100_000);
    let b = format!("wbv{}b{seq}", std::process::id() % 100_000);
    run(Command::new("ip").args([
        "-n",
        &sensor.name,
        "link",
        "add",
        &a,
        "type",
        "veth",
        "peer",
        "name",
        &b,
        "netns",
        &peer.name,
    ]));
    run(Command::new("ip").args([
        "-n",
        &sensor.name,
        "addr",
        "add",
        "10.213.0.1/30",
        "dev",
        &a,
    ]));
    run(Command::new("ip").args(["-n", &peer.name, "addr", "add", "10.213.0.2/30", "dev", &b]));
    run(Command::new("ip").args(["-n", &sensor.name, "link", "set", &a, "up"]));
    run(Command::new("ip").args(["-n", &peer.name, "link", "set", &b, "up"]));

    const N: usize = 20;
    let got = capture_during(&sensor, vec![LiveOptions::new(a.clone())], || {
        // hping3 exits non-zero when replies are missing; the capture is what we check.
        let _ = peer
            .exec(
                15,
                &[
                    "hping3",
                    "-q",
                    "-S",
                    "-p",
                    "80",
                    "-c",
                    &N.to_string(),
                    "-i",
                    "u10000",
                    "10.213.0.1",
                ],
            )
            .output()
            .expect("hping3 runs");
    });
    let cap = match got.into_iter().next() {
        Some(Ok(c)) => c,
        Some(Err(e)) => panic!("XDP capture on veth failed: {e}"),
        None => panic!("no capture result"),
    };
    assert_eq!(
        cap.backend,
        Backend::XdpDriver,
        "fallbacks: {:?}",
        cap.fallbacks
    );
    assert!(cap.fallbacks.is_empty(), "{:?}", cap.fallbacks);
    assert_complete(&cap, "xdp on veth");
    let syns: Vec<_> = cap
        .records()
        .into_iter()
        .filter(|r| {
            r.is_syn_only()
                && r.src == IpAddr::V4(Ipv4Addr::new(10, 213, 0, 2))
                && r.dst == IpAddr::V4(Ipv4Addr::new(10, 213, 0, 1))
                && r.dst_port == 80
        })
        .collect();
    assert_eq!(syns.len(), N, "SYNs from the peer");
}

/// (c) AF_PACKET (forced) and XDP, attached at the same time to the same lo, deliver the
/// same records for the same traffic.
#[test]
fn live_afpacket_matches_xdp() {
    if !prerequisites(&["ip", "nmap", "timeout"]) {
        return;
    }
    let ns = Netns::new("af");
    let mut xdp = LiveOptions::new("lo");
    xdp.backend = BackendChoice::XdpSkb;
    let mut af = LiveOptions::new("lo");
    af.backend = BackendChoice::AfPacket;
    let got = capture_during(&ns, vec![xdp, af], || nmap_syn_scan(&ns, "1-300"));
    let mut it = got.into_iter();
    let (x, a) = match (it.next(), it.next()) {
        (Some(Ok(x)), Some(Ok(a))) => (x, a),
        (x, a) => panic!(
            "captures failed: xdp {:?} / afpacket {:?}",
            x.map(|r| r.err().map(|e| e.to_string())),
            a.map(|r| r.err().map(|e| e.to_string()))
        ),
    };
    assert_eq!(x.backend, Backend::XdpSkb);
    assert_eq!(a.backend, Backend::AfPacket);
    assert!(a.fallbacks.is_empty());
    assert_complete(&x, "xdp");
    assert_eq!(a.counters.lost_events, 0, "{:?}", a.counters);
    assert_eq!(
        a.counters.packets,
        a.frames.len() as u64,
        "{:?}",
        a.counters
    );
    let xr = x.records();
    let ar = a.records();
    assert_eq!(syn_ports(&xr), (1..=300).collect());
    assert_eq!(x.frames.len(), a.frames.len(), "same frame count");
    let xk: Vec<_> = xr.iter().map(key).collect();
    let ak: Vec<_> = ar.iter().map(key).collect();
    assert_eq!(xk, ak, "same records in the same order");
    for (l, r) in xr.iter().zip(&ar) {
        assert!(
            l.ts_ns.abs_diff(r.ts_ns) < 10_000_000,
            "{} vs {}",
            l.ts_ns,
            r.ts_ns
        );
    }
}

/// (d) Without privileges the error names what is missing. As root, the check re-runs this
/// test binary as `nobody` (setpriv drops every capability).
#[test]
fn live_unprivileged_error_names_privilege() {
    let check = |e: &LiveError| {
        let s = e.to_string();
        assert!(e.is_privilege(), "{s}");
        assert!(s.contains("CAP_NET_RAW"), "{s}");
        assert!(s.contains("CAP_BPF"), "{s}");
        s
    };
    if std::env::var_os("WB_LIVE_UNPRIV_CHILD").is_some() || !is_root() {
        match LiveCapture::open(&LiveOptions::new("lo")) {
            Ok(c) => panic!("opened {} without privileges", c.backend().name()),
            Err(e) => println!("UNPRIV-ERROR: {}", check(&e)),
        }
        return;
    }
    if !prerequisites(&["setpriv"]) {
        return;
    }
    let exe = std::env::current_exe().expect("test binary path");
    let out = Command::new("timeout")
        .args([
            "60",
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(&exe)
        .args([
            "--exact",
            "live_unprivileged_error_names_privilege",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("WB_LIVE_UNPRIV_CHILD", "1")
        .output()
        .expect("setpriv runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "unprivileged child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.contains("UNPRIV-ERROR:"))
        .unwrap_or_else(|| panic!("child printed no error: {stdout}"));
    assert!(
        line.contains("xdp-driver") && line.contains("afpacket"),
        "{line}"
    );
}

/// (e) A sensor on a bridge (or a SPAN port) only sees traffic between other hosts in
/// promiscuous mode, which the capture sets by default and drops on close: forwarded
/// frames are passed up to the bridge device only while it is promiscuous.
#[test]
fn live_promiscuous_bridge_sees_other_hosts_traffic() {
    if !prerequisites(&["ip", "hping3", "timeout"]) {
        return;
    }
    let sensor = Netns::new("br");
    let h1 = Netns::new("h1");
    let h2 = Netns::new("h2");
    let seq = NS_SEQ.fetch_add(1, Ordering::Relaxed);
    let tag = format!("{}{seq}", std::process::id() % 10_000);
    let ip = |ns: &Netns, args: &[&str]| {
        run(Command::new("ip").args(["-n", &ns.name]).args(args));
    };
    ip(&sensor, &["link", "add", "br0", "type", "bridge"]);
    ip(&sensor, &["link", "set", "br0", "up"]);
    for (host, addr) in [(&h1, "10.214.0.1/24"), (&h2, "10.214.0.2/24")] {
        let port = format!("wbp{tag}{}", &host.name[host.name.len() - 1..]);
        run(Command::new("ip").args([
            "-n",
            &sensor.name,
            "link",
            "add",
            &port,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &host.name,
        ]));
        ip(&sensor, &["link", "set", &port, "master", "br0"]);
        ip(&sensor, &["link", "set", &port, "up"]);
        ip(host, &["addr", "add", addr, "dev", "eth0"]);
        ip(host, &["link", "set", "eth0", "up"]);
    }
    const N: usize = 20;
    let syns_between_hosts = |c: &Captured| {
        c.records()
            .into_iter()
            .filter(|r| {
                r.is_syn_only()
                    && r.src == IpAddr::V4(Ipv4Addr::new(10, 214, 0, 1))
                    && r.dst == IpAddr::V4(Ipv4Addr::new(10, 214, 0, 2))
            })
            .count()
    };
    let flood = || {
        let _ = h1
            .exec(
                15,
                &[
                    "hping3",
                    "-q",
                    "-S",
                    "-p",
                    "80",
                    "-c",
                    &N.to_string(),
                    "-i",
                    "u10000",
                    "10.214.0.2",
                ],
            )
            .output()
            .expect("hping3 runs");
    };
    let opts = |promiscuous: bool| {
        let mut o = LiveOptions::new("br0");
        o.backend = BackendChoice::AfPacket;
        o.promiscuous = promiscuous;
        o
    };
    // Warm the hosts' ARP caches so every SYN is a forwarded unicast frame.
    let _ = h1
        .exec(5, &["ping", "-c", "1", "-W", "1", "10.214.0.2"])
        .output();
    let got = capture_during(&sensor, vec![opts(false)], flood);
    let cap = got.into_iter().next().unwrap().expect("capture opens");
    assert_eq!(
        syns_between_hosts(&cap),
        0,
        "not promiscuous: forwarded frames stay unseen"
    );
    let got = capture_during(&sensor, vec![opts(true)], flood);
    let cap = got.into_iter().next().unwrap().expect("capture opens");
    assert_eq!(
        syns_between_hosts(&cap),
        N,
        "promiscuous: every SYN between the hosts"
    );
    // XDP in generic mode on the bridge sees them too (the frames it passes up).
    let mut xdp = opts(true);
    xdp.backend = BackendChoice::XdpSkb;
    let got = capture_during(&sensor, vec![xdp], flood);
    let cap = got
        .into_iter()
        .next()
        .unwrap()
        .expect("XDP opens on the bridge");
    assert_eq!(
        syns_between_hosts(&cap),
        N,
        "XDP (generic) on a promiscuous bridge"
    );
    // The membership went with the capture: the bridge is not promiscuous any more.
    let out = Command::new("ip")
        .args(["-n", &sensor.name, "-d", "link", "show", "br0"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("PROMISC"), "{text}");
}
