//! Running one workbench command as a child process: bounded by a timeout, output
//! captured, exit status and peak memory (from `wait4`'s rusage) recorded.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// What a finished child did.
#[derive(Debug)]
pub struct CommandRun {
    /// The command line, shell-quoted where needed, for "reproduce with".
    pub display: String,
    /// Exit code; None when killed by a signal or by the timeout.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed_s: f64,
    /// Peak resident set size of the child in bytes (Linux `ru_maxrss`).
    pub max_rss_bytes: u64,
    pub timed_out: bool,
}

impl CommandRun {
    /// The child's stdout parsed as one JSON value (the commands' `--json` output).
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_str(self.stdout.trim()).with_context(|| {
            format!(
                "`{}` did not print JSON (exit {:?}); stderr: {}",
                self.display,
                self.code,
                last_lines(&self.stderr, 5)
            )
        })
    }

    /// Fails with the child's last stderr lines unless it exited with one of `ok_codes`.
    pub fn expect_code(&self, ok_codes: &[i32]) -> Result<()> {
        if self.timed_out {
            bail!("`{}` timed out after {:.0} s", self.display, self.elapsed_s);
        }
        match self.code {
            Some(c) if ok_codes.contains(&c) => Ok(()),
            other => bail!(
                "`{}` exited with {:?}: {}",
                self.display,
                other,
                last_lines(&self.stderr, 5)
            ),
        }
    }
}

/// The last `n` non-empty lines of `s`, joined with " | ".
pub fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// Quotes an argument for display when it contains shell-special characters.
fn quote(a: &str) -> String {
    if !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c))
    {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

/// `workbench ARGS...` as a user would type it.
pub fn display(args: &[String]) -> String {
    std::iter::once("workbench".to_string())
        .chain(args.iter().map(|a| quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `exe args` with a timeout; stdout and stderr are captured in full.
pub fn run(exe: &Path, args: &[String], timeout: Duration) -> Result<CommandRun> {
    spawn(exe, args)?.finish(timeout)
}

/// A child started in the background (for fault injection while it runs).
pub struct Spawned {
    child: Child,
    display: String,
    started: Instant,
    out_reader: std::thread::JoinHandle<String>,
    err_reader: std::thread::JoinHandle<String>,
}

/// Starts `exe args` with captured output; [`Spawned::finish`] waits for it.
pub fn spawn(exe: &Path, args: &[String]) -> Result<Spawned> {
    let started = Instant::now();
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    // Drain both pipes on threads so a chatty child never blocks on a full pipe.
    let out_reader = spawn_reader(child.stdout.take());
    let err_reader = spawn_reader(child.stderr.take());
    Ok(Spawned {
        child,
        display: display(args),
        started,
        out_reader,
        err_reader,
    })
}

impl Spawned {
    /// Sends SIGKILL (the crash-restart SLO).
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
    }

    /// Waits for the child (killing it at the timeout) and collects what it did.
    pub fn finish(mut self, timeout: Duration) -> Result<CommandRun> {
        let (status, rss, timed_out) = wait_with_timeout(&mut self.child, timeout)?;
        let stdout = self.out_reader.join().unwrap_or_default();
        let stderr = self.err_reader.join().unwrap_or_default();
        Ok(CommandRun {
            display: self.display,
            code: status,
            stdout,
            stderr,
            elapsed_s: self.started.elapsed().as_secs_f64(),
            max_rss_bytes: rss,
            timed_out,
        })
    }
}

fn spawn_reader<R: Read + Send + 'static>(r: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut r) = r {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            s = String::from_utf8_lossy(&buf).into_owned();
        }
        s
    })
}

/// Waits for the child (polling `wait4` without blocking) and kills it at the timeout.
/// Returns (exit code, peak RSS bytes, timed out).
fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Result<(Option<i32>, u64, bool)> {
    let pid = child.id() as libc::pid_t;
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: rusage is plain old data; wait4 fills it for our own child only.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: pid is our child; the pointers are valid for the call.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            let code = if libc::WIFEXITED(status) {
                Some(libc::WEXITSTATUS(status))
            } else {
                None
            };
            // ru_maxrss is in KiB on Linux.
            let rss = (usage.ru_maxrss.max(0) as u64) * 1024;
            return Ok((code, rss, timed_out));
        }
        if r < 0 {
            bail!(
                "waiting for child {pid}: {}",
                std::io::Error::last_os_error()
            );
        }
        if !timed_out && Instant::now() >= deadline {
            timed_out = true;
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_only_what_needs_it() {
        let args: Vec<String> = ["eval", "--dataset", "my data", "--model", "it's"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            display(&args),
            r"workbench eval --dataset 'my data' --model 'it'\''s'"
        );
    }

    #[test]
    fn timeout_kills_the_child_and_says_so() {
        let r = run(
            Path::new("/bin/sleep"),
            &["5".to_string()],
            Duration::from_millis(200),
        )
        .unwrap();
        assert!(r.timed_out);
        assert!(r.elapsed_s < 4.0);
        assert!(r.expect_code(&[0]).is_err());
    }

    #[test]
    fn exit_code_output_and_rss_are_recorded() {
        let r = run(
            Path::new("/bin/sh"),
            &[
                "-c".to_string(),
                "echo '{\"a\":1}'; echo oops >&2; exit 3".to_string(),
            ],
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(r.code, Some(3));
        assert_eq!(r.json().unwrap()["a"], 1);
        assert!(r.stderr.contains("oops"));
        assert!(r.max_rss_bytes > 0);
        assert!(r.expect_code(&[0]).is_err());
        assert!(r.expect_code(&[0, 3]).is_ok());
    }
}
