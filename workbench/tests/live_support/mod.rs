//! Helpers for the live-mode tests: a real Alertmanager on a free loopback port (killed
//! by PID on drop), a webhook receiver for its notifications, a tiny HTTP client, and
//! the `workbench live/replay` child process with its endpoint address.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The Debian Alertmanager binary.
pub const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

/// A free loopback port (bound then released; good enough for a test's lifetime).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One HTTP/1.0 request; returns (status, body). Errors are returned as text.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let body = body.unwrap_or(b"");
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    // A server may answer (413) before reading a large body: ignore write errors then.
    let _ = s.write_all(body);
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no HTTP status in {text:?}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|x| x.1)
        .unwrap_or("")
        .to_string();
    Ok((status, body))
}

/// Notifications Alertmanager posted to our webhook.
#[derive(Clone, Default)]
pub struct Webhook {
    pub addr: String,
    pub received: Arc<Mutex<Vec<Value>>>,
}

impl Webhook {
    /// Listens on a free loopback port in a background thread.
    pub fn start() -> Webhook {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind webhook");
        let addr = l.local_addr().expect("addr").to_string();
        let received: Arc<Mutex<Vec<Value>>> = Arc::default();
        let r = received.clone();
        std::thread::spawn(move || {
            for conn in l.incoming().flatten() {
                let _ = handle_hook(conn, &r);
            }
        });
        Webhook { addr, received }
    }

    /// Every alert in every notification so far (flattened), with the notification's
    /// status copied into `status`.
    pub fn alerts(&self) -> Vec<Value> {
        let got = self.received.lock().expect("lock").clone();
        got.iter()
            .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
            .collect()
    }
}

fn handle_hook(conn: TcpStream, out: &Mutex<Vec<Value>>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut r = BufReader::new(conn.try_clone()?);
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    if let Ok(v) = serde_json::from_slice::<Value>(&body) {
        out.lock().expect("lock").push(v);
    }
    let mut w = conn;
    w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
}

/// A real Alertmanager on 127.0.0.1:`port` with its own config and data dir; killed by
/// PID when dropped.
pub struct Alertmanager {
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
    webhook: String,
}

impl Alertmanager {
    /// Starts Alertmanager routing everything to `webhook` (send_resolved), group
    /// timers of 1 s, and waits until it is ready. `None` when the binary is missing
    /// (a failure in CI, see common::missing).
    pub fn start(port: u16, webhook: &str) -> Option<Alertmanager> {
        if !Path::new(ALERTMANAGER).exists() {
            crate::common::missing(ALERTMANAGER);
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let mut am = Alertmanager {
            port,
            child: None,
            dir,
            webhook: webhook.to_string(),
        };
        am.launch();
        Some(am)
    }

    fn launch(&mut self) {
        let cfg = self.dir.path().join("alertmanager.yml");
        std::fs::write(
            &cfg,
            format!(
                "route:\n  receiver: hook\n  group_by: ['src', 'threat_type']\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: http://{}/alert\n        send_resolved: true\n",
                self.webhook
            ),
        )
        .expect("write config");
        let data = self.dir.path().join("data");
        let child = Command::new(ALERTMANAGER)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start alertmanager");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if matches!(http(&self.addr(), "GET", "/-/ready", None), Ok((200, _))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("alertmanager did not become ready on port {}", self.port);
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The v2 alerts URL for `--alertmanager`.
    pub fn url(&self) -> String {
        format!("http://{}/api/v2/alerts", self.addr())
    }

    /// Kills the process (fault injection); `restart` brings it back on the same port.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts again on the same port with a fresh in-memory alert store.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Active alerts (GET /api/v2/alerts).
    pub fn alerts(&self) -> Vec<Value> {
        match http(&self.addr(), "GET", "/api/v2/alerts", None) {
            Ok((200, body)) => serde_json::from_str::<Vec<Value>>(&body).unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running `workbench` child with its endpoint address; killed on drop.
pub struct Workbench {
    pub child: Child,
    pub addr: String,
    pub stderr: Arc<Mutex<Vec<String>>>,
    pub stdout: Arc<Mutex<Vec<String>>>,
}

impl Workbench {
    /// Spawns `workbench ARGS` (which must include `--listen 127.0.0.1:0`) and waits for
    /// its "endpoints http://ADDR/health" line.
    pub fn spawn(args: &[&str]) -> Workbench {
        let mut child = crate::common::bin()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn workbench");
        let stderr: Arc<Mutex<Vec<String>>> = Arc::default();
        let stdout: Arc<Mutex<Vec<String>>> = Arc::default();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let err = child.stderr.take().expect("stderr");
        let e2 = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("endpoints http://").nth(1) {
                    let _ = tx.send(rest.split('/').next().unwrap_or("").to_string());
                }
                e2.lock().expect("lock").push(line);
            }
        });
        let out = child.stdout.take().expect("stdout");
        let o2 = stdout.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                o2.lock().expect("lock").push(line);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "workbench did not print its endpoints; stderr:\n{}",
                    stderr.lock().expect("lock").join("\n")
                );
            }
        };
        Workbench {
            child,
            addr,
            stderr,
            stdout,
        }
    }

    /// Waits for exit (at most `limit`), returning the exit code.
    pub fn wait(&mut self, limit: Duration) -> i32 {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                // Let the reader threads drain the pipes.
                std::thread::sleep(Duration::from_millis(100));
                return st.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "workbench still running after {limit:?}; stderr:\n{}",
                    self.stderr.lock().expect("lock").join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything written to stderr so far.
    pub fn stderr_text(&self) -> String {
        self.stderr.lock().expect("lock").join("\n")
    }
}

impl Drop for Workbench {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The label `k` of an Alertmanager alert JSON.
pub fn label<'a>(a: &'a Value, k: &str) -> &'a str {
    a["labels"][k].as_str().unwrap_or("")
}

/// The port-scan episode's attacker for a `--simulate portscan` run (addresses depend
/// on the seed only, not on the start time).
pub fn scan_attacker(seed: u64, seconds: f64) -> String {
    use workbench::labels::HostSpec;
    use workbench::simulate::{Scenario, SimConfig, Simulator};
    let cfg = SimConfig {
        scenario: Scenario::Portscan,
        seconds,
        seed,
        ..SimConfig::default()
    };
    let sim = Simulator::new(&cfg);
    match sim.episodes().first().map(|e| e.attacker) {
        Some(HostSpec::Addr(a)) => a.to_string(),
        other => panic!("no single scan attacker: {other:?}"),
    }
}

/// One CSV row: window_end, entity, feature values.
pub type Row = (String, String, Vec<f64>);

/// Reads a `--rows-out` CSV: the header and (window_end, entity, values) per row.
pub fn read_rows(path: &PathBuf) -> (Vec<String>, Vec<Row>) {
    let text = std::fs::read_to_string(path).expect("read rows");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let vals = f[3..]
                .iter()
                .map(|v| v.parse::<f64>().unwrap_or(f64::NAN))
                .collect();
            (f[0].to_string(), f[1].to_string(), vals)
        })
        .collect();
    (header, rows)
}

/// Sanity: loopback address helper.
pub fn sock(addr: &str) -> SocketAddr {
    addr.parse().expect("socket address")
}
