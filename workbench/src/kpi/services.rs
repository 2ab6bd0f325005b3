//! Real services the KPI suite starts for itself on loopback: an Alertmanager (Debian's
//! `prometheus-alertmanager`) routing to a webhook receiver in this process, so delivery
//! can be checked alert by alert, including resolved ones (Alertmanager's own API hides
//! resolved alerts).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// A free loopback port (bound, read, released).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A minimal HTTP/1.0 request; returns (status, body).
pub fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> Result<(u16, String)> {
    let mut s = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let text = String::from_utf8_lossy(&resp);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("no HTTP status from {addr}{path}"))?;
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    Ok((status, body.to_string()))
}

/// Receives Alertmanager's webhook notifications on a loopback port and keeps every
/// alert in them, with the time it arrived.
#[derive(Clone)]
pub struct Webhook {
    pub addr: String,
    received: Arc<Mutex<Vec<(Instant, Value)>>>,
}

impl Webhook {
    pub fn start() -> Result<Webhook> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?.to_string();
        let received: Arc<Mutex<Vec<(Instant, Value)>>> = Arc::default();
        let sink = received.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let _ = Self::handle(conn, &sink);
            }
        });
        Ok(Webhook { addr, received })
    }

    fn handle(mut conn: TcpStream, out: &Mutex<Vec<(Instant, Value)>>) -> std::io::Result<()> {
        conn.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        // Read the head, then exactly Content-Length body bytes.
        let (head_end, len) = loop {
            let n = conn.read(&mut chunk)?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                break (i + 4, len);
            }
        };
        while buf.len() < head_end + len {
            let n = conn.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        if let Ok(v) = serde_json::from_slice::<Value>(&buf[head_end..]) {
            let now = Instant::now();
            if let (Some(alerts), Ok(mut out)) =
                (v.get("alerts").and_then(Value::as_array), out.lock())
            {
                out.extend(alerts.iter().cloned().map(|a| (now, a)));
            }
        }
        conn.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
    }

    /// Every alert received so far with its arrival time.
    pub fn alerts(&self) -> Vec<(Instant, Value)> {
        self.received.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// An Alertmanager process on a loopback port with its own config and data directory,
/// routing every alert to a [`Webhook`] with 1 s group timers. Killed on drop.
pub struct Alertmanager {
    bin: PathBuf,
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Alertmanager {
    pub fn start(bin: &Path, dir: &Path, webhook: &Webhook) -> Result<Alertmanager> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(
            dir.join("alertmanager.yml"),
            format!(
                "route:\n  receiver: hook\n  group_by: ['src', 'threat_type']\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: http://{}/alert\n        send_resolved: true\n",
                webhook.addr
            ),
        )?;
        let mut am = Alertmanager {
            bin: bin.to_path_buf(),
            port: free_port()?,
            dir: dir.to_path_buf(),
            child: None,
        };
        am.launch()?;
        Ok(am)
    }

    fn launch(&mut self) -> Result<()> {
        let child = Command::new(&self.bin)
            .arg(format!(
                "--config.file={}",
                self.dir.join("alertmanager.yml").display()
            ))
            .arg(format!(
                "--storage.path={}",
                self.dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if matches!(http(&self.addr(), "GET", "/-/ready", b""), Ok((200, _))) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("Alertmanager did not become ready on port {}", self.port)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The v2 alerts URL for `--alertmanager`.
    pub fn url(&self) -> String {
        format!("http://{}/api/v2/alerts", self.addr())
    }

    /// Kills the process (fault injection).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        self.launch()
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The (src, threat_type) of an alert JSON object (sent or received).
pub fn alert_key(a: &Value) -> (String, String) {
    let l = |k: &str| {
        a.pointer(&format!("/labels/{k}"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (l("src"), l("threat_type"))
}

/// A nats-server with JetStream on a free loopback port and its own store directory.
/// Killed on drop; `restart` brings it back on the same port and store.
pub struct NatsServer {
    bin: PathBuf,
    pub port: u16,
    store: PathBuf,
    child: Option<Child>,
}

impl NatsServer {
    pub fn start(bin: &Path, store: &Path) -> Result<NatsServer> {
        std::fs::create_dir_all(store)?;
        let mut n = NatsServer {
            bin: bin.to_path_buf(),
            port: free_port()?,
            store: store.to_path_buf(),
            child: None,
        };
        n.launch()?;
        Ok(n)
    }

    fn launch(&mut self) -> Result<()> {
        let child = Command::new(&self.bin)
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("nats-server did not listen on port {}", self.port)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        self.launch()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
