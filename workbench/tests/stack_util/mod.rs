//! Helpers for the stack tests (deploy, notify, nats, serve): real servers from Debian
//! packages started on free loopback ports and killed by Drop guards, a tiny HTTP/1.1
//! client over std's TcpStream, and waiting with deadlines.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A free loopback port (bound then released; the servers here take a port number).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// True when `tool` runs (`tool --version`).
pub fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A child process killed (SIGKILL by PID) and reaped on drop, with its output
/// collected in the background.
pub struct Proc {
    pub name: String,
    pub child: Option<Child>,
    pub stdout: Arc<Mutex<String>>,
    pub stderr: Arc<Mutex<String>>,
}

impl Proc {
    /// Starts `cmd` with piped output.
    pub fn spawn(name: &str, mut cmd: Command) -> Proc {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        collect(
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            stdout.clone(),
        );
        collect(
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            stderr.clone(),
        );
        Proc {
            name: name.to_string(),
            child: Some(child),
            stdout,
            stderr,
        }
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for a stdout line `listening on ADDR` and returns ADDR.
    pub fn listening(&mut self, timeout: Duration) -> SocketAddr {
        let t0 = Instant::now();
        loop {
            if let Some(line) = self
                .stdout()
                .lines()
                .find_map(|l| l.strip_prefix("listening on ").map(str::to_string))
            {
                return line
                    .trim()
                    .parse()
                    .expect("an address after `listening on`");
            }
            if let Some(st) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("{} exited with {st}: {}", self.name, self.stderr());
            }
            assert!(
                t0.elapsed() < timeout,
                "{} did not print `listening on` within {timeout:?}; stderr: {}",
                self.name,
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits up to `timeout` for a clean exit; returns the status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        unsafe_kill(child.id(), 15);
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// SIGKILL now (a crash, as far as the process can tell) and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }
}

fn unsafe_kill(pid: u32, sig: i32) {
    // `kill -SIG PID` (one PID: this child only).
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn collect(r: Option<Box<dyn Read + Send>>, into: Arc<Mutex<String>>) {
    let Some(r) = r else { return };
    std::thread::spawn(move || {
        let mut br = BufReader::new(r);
        let mut line = String::new();
        while br.read_line(&mut line).is_ok_and(|n| n > 0) {
            into.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
}

/// Polls `f` every 50 ms until it returns Some or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if t0.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One HTTP/1.1 request (Connection: close); returns (status, body). Errors (refused
/// connection, timeout) are returned, not panicked, so callers can poll.
pub fn http(
    method: &str,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    // A server may answer (413) before reading a huge body and close: ignore write errors
    // of the body and read the answer.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP answer: {text:?}")))?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head:?}")))?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

pub fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    http("GET", addr, path, &[], b"")
}

pub fn post_json(addr: SocketAddr, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    http(
        "POST",
        addr,
        path,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

/// Percent-encodes a PromQL query for a URL.
pub fn urlencode(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(b as char)
            }
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

/// A real Alertmanager on a free loopback port with `config` (YAML), clustering off.
pub fn alertmanager(dir: &Path, config: &str) -> (Proc, SocketAddr) {
    let cfg = dir.join("alertmanager.yml");
    std::fs::write(&cfg, config).unwrap();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut cmd = Command::new("prometheus-alertmanager");
    cmd.arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.path={}", dir.join("am-data").display()))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--cluster.listen-address=");
    let mut p = Proc::spawn("alertmanager", cmd);
    let ok = wait_for(Duration::from_secs(20), || {
        if !p.is_running() {
            panic!("alertmanager exited: {}", p.stderr());
        }
        get(addr, "/-/ready").ok().filter(|(s, _)| *s == 200)
    });
    assert!(ok.is_some(), "alertmanager not ready: {}", p.stderr());
    (p, addr)
}

/// A real Prometheus on a free loopback port with `config` (YAML) in `dir`.
pub fn prometheus(dir: &Path, config: &str) -> (Proc, SocketAddr) {
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, config).unwrap();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut cmd = Command::new("prometheus");
    cmd.arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("prom-data").display()
        ))
        .arg(format!("--web.listen-address={addr}"));
    let mut p = Proc::spawn("prometheus", cmd);
    let ok = wait_for(Duration::from_secs(30), || {
        if !p.is_running() {
            panic!("prometheus exited: {}", p.stderr());
        }
        get(addr, "/-/ready").ok().filter(|(s, _)| *s == 200)
    });
    assert!(ok.is_some(), "prometheus not ready: {}", p.stderr());
    (p, addr)
}

/// Runs an instant query; returns the parsed `data.result` array.
pub fn prom_query(addr: SocketAddr, q: &str) -> Vec<serde_json::Value> {
    let path = format!("/api/v1/query?query={}", urlencode(q));
    match get(addr, &path) {
        Ok((200, body)) => serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["data"]["result"].as_array().cloned())
            .unwrap_or_default(),
        Ok((code, body)) => panic!("query {q:?} failed with {code}: {body}"),
        Err(_) => Vec::new(),
    }
}

/// A real nats-server with JetStream on `port` (store in `dir`).
pub fn nats_server(dir: &Path, port: u16) -> Proc {
    let mut cmd = Command::new("nats-server");
    cmd.args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir);
    let mut p = Proc::spawn("nats-server", cmd);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let ok = wait_for(Duration::from_secs(20), || {
        if !p.is_running() {
            panic!("nats-server exited: {}", p.stderr());
        }
        TcpStream::connect(addr).ok()
    });
    assert!(ok.is_some(), "nats-server not up: {}", p.stderr());
    p
}

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}
