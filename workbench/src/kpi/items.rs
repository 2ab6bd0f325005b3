//! The KPI items. Each runs public workbench commands and turns their `--json` output
//! into [`Kpi`]s with a target, a measured value and the command that reproduces it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::run::{run, spawn, CommandRun, Spawned};
use super::services::{alert_key, Alertmanager, NatsServer, Webhook};
use super::{Kpi, Outcome};

/// What every item gets.
pub struct Ctx {
    pub exe: PathBuf,
    /// The suite's report directory; items write their own evidence below it.
    pub dir: PathBuf,
    pub model: String,
    pub alertmanager_bin: Option<PathBuf>,
}

impl Ctx {
    /// Runs `workbench ARGS` (always with `-q`, so no progress bars) with a timeout.
    pub fn workbench(&self, args: &[&str], timeout_s: u64) -> Result<CommandRun> {
        let mut v: Vec<String> = vec!["-q".into()];
        v.extend(args.iter().map(|s| s.to_string()));
        run(&self.exe, &v, Duration::from_secs(timeout_s))
    }

    /// Starts `workbench ARGS` (with `-q`) in the background.
    pub fn workbench_spawn(&self, args: &[&str]) -> Result<Spawned> {
        let mut v: Vec<String> = vec!["-q".into()];
        v.extend(args.iter().map(|s| s.to_string()));
        spawn(&self.exe, &v)
    }

    /// `workbench simulate` of one scenario into `out` (capture.pcap + labels.csv).
    pub fn simulate(&self, scenario: &str, seconds: u32, seed: u64, out: &str) -> Result<()> {
        let (seconds, seed) = (seconds.to_string(), seed.to_string());
        self.workbench(
            &[
                "simulate",
                "--scenario",
                scenario,
                "--seconds",
                &seconds,
                "--seed",
                &seed,
                "--out",
                out,
            ],
            600,
        )?
        .expect_code(&[0])
    }

    /// A path under the report directory, as a string for command lines.
    pub fn path(&self, rel: &str) -> String {
        self.dir.join(rel).display().to_string()
    }
}

/// One entry of the suite: produces one or more KPIs.
pub struct Item {
    pub id: String,
    pub title: String,
    pub run: Box<dyn Fn(&Ctx) -> Vec<Kpi>>,
}

/// Looks for Debian's Alertmanager on PATH.
pub fn find_alertmanager() -> Option<PathBuf> {
    ["prometheus-alertmanager", "alertmanager"]
        .iter()
        .find_map(|name| which(name))
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The suite, in the plan's order.
pub fn all(extra_datasets: &[String]) -> Vec<Item> {
    let mut items = vec![];
    // The attack lab's held-out runs ship as feature tables in datasets/lab/: real
    // tools, always available, never trained on.
    let mut datasets = vec!["synthetic".to_string(), "lab-holdout".to_string()];
    for d in extra_datasets {
        if !datasets.contains(d) {
            datasets.push(d.clone());
        }
    }
    items.push(Item {
        id: "throughput.features".into(),
        title: "feature extraction speed and memory on a spoofed SYN flood capture".into(),
        run: Box::new(throughput),
    });
    for ds in datasets {
        let id = format!("quality.{}", slug(&ds));
        let title = format!("detection quality on {ds}");
        items.push(Item {
            id,
            title,
            run: Box::new(move |ctx| quality(ctx, &ds)),
        });
    }
    items.push(Item {
        id: "demo.alert_delay".into(),
        title: "the final demo: simulated port scan replayed in real time → alert".into(),
        run: Box::new(demo),
    });
    items.push(Item {
        id: "slo.alertmanager_outage".into(),
        title: "Alertmanager down for 30 s during attacks: every alert delivered after it returns"
            .into(),
        run: Box::new(alertmanager_outage),
    });
    items.push(Item {
        id: "slo.sigkill_restart".into(),
        title: "live process killed with SIGKILL and restarted: alerts resume, old ones resolve"
            .into(),
        run: Box::new(sigkill_restart),
    });
    items.push(Item {
        id: "ebpf.scan_zero_lost".into(),
        title: "XDP sensor on lo: a bounded nmap SYN scan alerts, zero lost events".into(),
        run: Box::new(xdp_scan),
    });
    items.push(Item {
        id: "onnx.parity".into(),
        title: "the shipped model scores the same natively and as ONNX through tract".into(),
        run: Box::new(onnx_parity),
    });
    items.push(Item {
        id: "slo.nats_restart".into(),
        title:
            "scale-out: scorer SIGKILLed and nats-server restarted mid-stream, zero records lost"
                .into(),
        run: Box::new(nats_restart),
    });
    items.push(Item {
        id: "slo.corrupt_capture".into(),
        title: "a corrupt capture in the middle of a dataset: the rest is evaluated, the file named, exit says partial".into(),
        run: Box::new(corrupt_capture),
    });
    items
}

/// A dataset name or path as an id fragment.
fn slug(s: &str) -> String {
    let base = Path::new(s)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| s.to_string());
    base.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A KPI whose measuring command failed.
fn errored(
    id: &str,
    plan: &'static str,
    title: &str,
    target: &str,
    cmd: &str,
    e: &anyhow::Error,
) -> Kpi {
    Kpi {
        id: id.into(),
        plan,
        title: title.into(),
        target: target.into(),
        measured: String::new(),
        value: None,
        outcome: Outcome::Error(format!("{e:#}")),
        command: cmd.into(),
        evidence: None,
    }
}

/// The KPI for a pass/fail check: `res` is the measured text and whether it met the
/// target, or the error that stopped the measurement.
fn verdict(
    (id, plan, title, target): (&str, &'static str, &str, &str),
    cmd: String,
    evidence: &str,
    res: Result<(String, bool)>,
) -> Vec<Kpi> {
    match res {
        Ok((measured, ok)) => vec![Kpi {
            id: id.into(),
            plan,
            title: title.into(),
            target: target.into(),
            measured,
            value: None,
            outcome: pass_if(ok),
            command: cmd,
            evidence: Some(evidence.into()),
        }],
        Err(e) => vec![errored(id, plan, title, target, &cmd, &e)],
    }
}

/// The Alertmanager binary, or the KPI skipped with the reason.
fn alertmanager_or_skip(
    ctx: &Ctx,
    spec: (&str, &'static str, &str, &str),
) -> std::result::Result<PathBuf, Vec<Kpi>> {
    ctx.alertmanager_bin.clone().ok_or_else(|| {
        vec![skip(
            spec,
            "no Alertmanager binary (Debian package prometheus-alertmanager; or --alertmanager-bin)",
        )]
    })
}

fn pass_if(ok: bool) -> Outcome {
    if ok {
        Outcome::Pass
    } else {
        Outcome::Fail
    }
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

const PLAN_PIPELINE: &str = "weeks 1–2: feature pipeline, performance instrumentation";
const PLAN_BASELINE: &str = "weeks 3–4: first model, threshold at FPR 1%";
const PLAN_EXPANSION: &str = "weeks 5–6: feature expansion";
const PLAN_SLO: &str = "weeks 7–8: fault-injection SLO validation";

/// Packets per second and peak memory of `features` on a simulated spoofed flood
/// written to a pcap first (so the measurement is the file path users run).
fn throughput(ctx: &Ctx) -> Vec<Kpi> {
    let id_speed = "throughput.features.mpps";
    let id_mem = "slo.flood_memory";
    let title_speed = "features: packets per second on a 20 s spoofed SYN flood capture";
    let title_mem = "spoofed-source flood: memory stays bounded and windows keep flowing";
    let dir = ctx.path("flood");
    let sim_args = [
        "simulate",
        "--scenario",
        "synflood-spoofed",
        "--seconds",
        "20",
        "--seed",
        "1",
        "--intensity",
        "3",
        "--out",
        &dir,
    ];
    let pcap = format!("{dir}/capture.pcap");
    let rows = ctx.path("flood/features.parquet");
    let feat_args = ["--json", "features", pcap.as_str(), "--out", rows.as_str()];
    let cmd = format!(
        "{} && {}",
        super::run::display(&sim_args.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
        super::run::display(&feat_args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    );
    let measured = (|| -> Result<(f64, f64, f64, u64, Option<f64>)> {
        ctx.workbench(&sim_args, 600)?.expect_code(&[0])?;
        let r = ctx.workbench(&feat_args, 600)?;
        r.expect_code(&[0])?;
        let v = r.json()?;
        let packets = num(&v, "packets").context("features --json has no `packets`")?;
        let elapsed = num(&v, "elapsed_s").context("features --json has no `elapsed_s`")?;
        let out_rows = v
            .pointer("/out/rows")
            .and_then(Value::as_f64)
            .context("features --json has no `out.rows`")?;
        // A peer in the same run on the same file: capinfos only counts frames, the
        // least any tool can do with a capture.
        let peer = which("capinfos").map(|capinfos| {
            let t = std::time::Instant::now();
            let ok = std::process::Command::new(capinfos)
                .args(["-c", pcap.as_str()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            ok.then(|| t.elapsed().as_secs_f64())
        });
        // The capture is only evidence of the run; it is large, so do not keep it.
        let _ = std::fs::remove_file(&pcap);
        let _ = std::fs::remove_file(&rows);
        Ok((packets, elapsed, out_rows, r.max_rss_bytes, peer.flatten()))
    })();
    match measured {
        Ok((packets, elapsed, out_rows, rss, capinfos_s)) => {
            let mpps = packets / elapsed.max(1e-9) / 1e6;
            let rss_mb = rss as f64 / 1e6;
            let peer = match capinfos_s {
                Some(c) => Kpi {
                    id: "throughput.features.vs_capinfos".into(),
                    plan: PLAN_PIPELINE,
                    title:
                        "features wall time relative to `capinfos -c` on the same capture, same run"
                            .into(),
                    target: "≤ 1.0× capinfos".into(),
                    measured: format!("{:.2}× ({elapsed:.2} s vs {c:.2} s)", elapsed / c.max(1e-9)),
                    value: Some(elapsed / c.max(1e-9)),
                    outcome: pass_if(elapsed <= c),
                    command: format!("{cmd} && capinfos -c {pcap}"),
                    evidence: None,
                },
                None => skipped(
                    "throughput.features.vs_capinfos",
                    PLAN_PIPELINE,
                    "features wall time relative to `capinfos -c`",
                    "≤ 1.0× capinfos",
                    &cmd,
                    "capinfos (Debian package tshark) is not installed",
                ),
            };
            vec![
                peer,
                Kpi {
                    id: id_speed.into(),
                    plan: PLAN_PIPELINE,
                    title: title_speed.into(),
                    target: "≥ 1.0 Mpkt/s on 2 cores".into(),
                    measured: format!("{mpps:.2} Mpkt/s ({packets:.0} packets in {elapsed:.2} s)"),
                    value: Some(mpps),
                    outcome: pass_if(mpps >= 1.0),
                    command: cmd.clone(),
                    evidence: None,
                },
                Kpi {
                    id: id_mem.into(),
                    plan: PLAN_SLO,
                    title: title_mem.into(),
                    target: "peak RSS ≤ 512 MB and feature rows emitted".into(),
                    measured: format!("peak RSS {rss_mb:.0} MB, {out_rows:.0} rows"),
                    value: Some(rss_mb),
                    outcome: pass_if(rss_mb <= 512.0 && out_rows > 0.0),
                    command: cmd,
                    evidence: None,
                },
            ]
        }
        Err(e) => vec![
            errored(
                id_speed,
                PLAN_PIPELINE,
                title_speed,
                "≥ 1.0 Mpkt/s",
                &cmd,
                &e,
            ),
            errored(id_mem, PLAN_SLO, title_mem, "peak RSS ≤ 512 MB", &cmd, &e),
        ],
    }
}

/// PR-AUC (both plan floors), the threshold at 1% FPR, and detection delay on one dataset.
fn quality(ctx: &Ctx, dataset: &str) -> Vec<Kpi> {
    let s = slug(dataset);
    let report = ctx.path(&format!("eval-{s}"));
    let args = [
        "--json",
        "eval",
        "--dataset",
        dataset,
        "--model",
        ctx.model.as_str(),
        "--report",
        report.as_str(),
    ];
    let cmd = super::run::display(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let evidence = Some(format!("eval-{s}/index.html"));
    let v = match ctx
        .workbench(&args, 3600)
        .and_then(|r| r.expect_code(&[0, 3]).and_then(|_| r.json()))
    {
        Ok(v) => v,
        Err(e) => {
            return vec![errored(
                &format!("quality.{s}.pr_auc"),
                PLAN_BASELINE,
                &format!("PR-AUC on {dataset}"),
                "≥ 0.6",
                &cmd,
                &e,
            )]
        }
    };
    let pr_auc = num(&v, "pr_auc");
    let thr = num(&v, "threshold_at_fpr_1pct");
    let tpr = num(&v, "tpr_at_fpr_1pct");
    let p95 = v.pointer("/detection_delay_s/p95").and_then(Value::as_f64);
    let detection_rate = num(&v, "detection_rate");
    let model = v
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    let f = |x: Option<f64>| x.map_or("n/a".to_string(), |x| format!("{x:.3}"));
    let mk = |id: &str, plan, title: String, target: &str, measured: String, value, outcome| Kpi {
        id: format!("quality.{s}.{id}"),
        plan,
        title,
        target: target.into(),
        measured,
        value,
        outcome,
        command: cmd.clone(),
        evidence: evidence.clone(),
    };
    vec![
        mk(
            "pr_auc",
            PLAN_BASELINE,
            format!("PR-AUC of {model} on {dataset} (seed floor)"),
            "≥ 0.6",
            f(pr_auc),
            pr_auc,
            pass_if(pr_auc.is_some_and(|x| x >= 0.6)),
        ),
        mk(
            "pr_auc_expanded",
            PLAN_EXPANSION,
            format!("PR-AUC of {model} on {dataset} (after feature expansion)"),
            "≥ 0.8",
            f(pr_auc),
            pr_auc,
            pass_if(pr_auc.is_some_and(|x| x >= 0.8)),
        ),
        mk(
            "threshold_at_1pct_fpr",
            PLAN_BASELINE,
            format!("threshold at FPR ≤ 1% reported for {dataset}"),
            "reported",
            format!("threshold {} (TPR {} there)", f(thr), f(tpr)),
            thr,
            pass_if(thr.is_some()),
        ),
        mk(
            "episode_delay_p95",
            PLAN_BASELINE,
            format!("attack episodes detected on {dataset}, delay p95"),
            "p95 ≤ 3 s (seed), ≤ 1 s (ours)",
            format!(
                "{} of episodes detected, p95 delay {} s",
                detection_rate.map_or("n/a".into(), |x| format!("{:.0}%", x * 100.0)),
                f(p95)
            ),
            p95,
            pass_if(p95.is_some_and(|x| x <= 3.0)),
        ),
    ]
}

/// A dataset directory with a good capture, a corrupt one in the middle, and labels:
/// eval must process the good file, name the bad one, and exit 3 (partial).
fn corrupt_capture(ctx: &Ctx) -> Vec<Kpi> {
    let id = "slo.corrupt_capture";
    let title = "corrupt capture mid-dataset: rest evaluated, file named, exit 3";
    let target = "exit 3, bad file named, good packets evaluated";
    let ds = ctx.path("corrupt-dataset");
    let cmd = format!("workbench eval --dataset {ds} --json   # after building {ds}: a.pcap good, b-corrupt.pcap cut and overwritten mid-record, labels.csv");
    let res = (|| -> Result<(String, bool)> {
        let sim = ctx.path("corrupt-dataset/sim");
        ctx.simulate("portscan", 20, 3, &sim)?;
        let sim = PathBuf::from(sim);
        let ds = PathBuf::from(&ds);
        let good =
            std::fs::read(sim.join("capture.pcap")).context("reading the simulated capture")?;
        std::fs::write(ds.join("a.pcap"), &good)?;
        // Keep the first 40% of the bytes, then garbage where a record header should be.
        let cut = (good.len() * 2 / 5).max(64).min(good.len());
        let mut bad = good[..cut].to_vec();
        bad.extend_from_slice(&[0xff; 64]);
        std::fs::write(ds.join("b-corrupt.pcap"), &bad)?;
        std::fs::copy(sim.join("labels.csv"), ds.join("labels.csv"))?;
        std::fs::remove_dir_all(&sim)?;
        let report = ctx.path("corrupt-dataset-report");
        let r = ctx.workbench(
            &[
                "--json",
                "eval",
                "--dataset",
                &ds.display().to_string(),
                "--report",
                &report,
            ],
            600,
        )?;
        let v = r.json()?;
        let rep: Value = serde_json::from_slice(
            &std::fs::read(Path::new(&report).join("report.json"))
                .context("reading report.json")?,
        )?;
        let inputs = rep
            .pointer("/dataset/inputs")
            .and_then(Value::as_array)
            .context("report.json has no dataset.inputs")?;
        let bad_named = inputs.iter().any(|i| {
            i.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.contains("b-corrupt.pcap"))
                && i.get("error").is_some_and(|e| !e.is_null())
        });
        let good_ok = inputs.iter().any(|i| {
            i.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.ends_with("a.pcap"))
                && i.get("error").is_some_and(Value::is_null)
                && i.get("packets").and_then(Value::as_u64).unwrap_or(0) > 0
        });
        let scored = num(&v, "pr_auc").is_some();
        let ok = r.code == Some(3) && bad_named && good_ok && scored;
        Ok((
            format!(
                "exit {:?}, bad file named: {bad_named}, good file evaluated: {good_ok}, PR-AUC computed: {scored}",
                r.code
            ),
            ok,
        ))
    })();
    verdict(
        (id, PLAN_SLO, title, target),
        cmd,
        "corrupt-dataset-report/index.html",
        res,
    )
}

const PLAN_DEMO: &str = "weeks 1–2 basic dashboard, alert tuning; weeks 7–8 final demo script";

/// `workbench demo`: delay from the first scan packet to the alert reaching Alertmanager
/// (or, without one, to the alert being emitted).
fn demo(ctx: &Ctx) -> Vec<Kpi> {
    let id = "demo.alert_delay";
    let title = "demo: first port-scan packet → alert";
    let target = "< 1 s (ours); < 3 s (seed)";
    let out = ctx.path("demo");
    // The webhook only gives Alertmanager somewhere to route to; the demo measures
    // the delay to Alertmanager's v2 API accepting the alert.
    let am: Option<(Alertmanager, Webhook)> = match &ctx.alertmanager_bin {
        Some(bin) => match Webhook::start().and_then(|h| {
            Ok((
                Alertmanager::start(bin, &ctx.dir.join("demo-alertmanager"), &h)?,
                h,
            ))
        }) {
            Ok(x) => Some(x),
            Err(e) => return vec![errored(id, PLAN_DEMO, title, target, "workbench demo", &e)],
        },
        None => None,
    };
    let url = am.as_ref().map(|(am, _)| am.url());
    let mut args = vec!["demo", "--out", out.as_str(), "--listen", "127.0.0.1:0"];
    if let Some(u) = &url {
        args.extend(["--alertmanager", u.as_str()]);
    }
    let cmd = super::run::display(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let res = (|| -> Result<(f64, bool)> {
        let r = ctx.workbench(&args, 300)?;
        r.expect_code(&[0, 1])?;
        let v: Value = serde_json::from_slice(
            &std::fs::read(Path::new(&out).join("report.json"))
                .context("reading the demo's report.json")?,
        )?;
        let to_am = num(&v, "delay_to_alertmanager_s");
        let emitted = num(&v, "delay_to_alert_emitted_s");
        let delay = if url.is_some() { to_am } else { emitted };
        let Some(d) = delay else {
            bail!("the demo raised no alert for the scanner (see {out}/report.json)")
        };
        Ok((d, url.is_some()))
    })();
    drop(am);
    match res {
        Ok((d, via_am)) => vec![Kpi {
            id: id.into(),
            plan: PLAN_DEMO,
            title: title.into(),
            target: target.into(),
            measured: format!(
                "{d:.3} s to {}",
                if via_am {
                    "Alertmanager accepting the alert"
                } else {
                    "the alert being emitted (no Alertmanager here)"
                }
            ),
            value: Some(d),
            outcome: pass_if(d < 1.0),
            command: cmd,
            evidence: Some("demo/report.json".into()),
        }],
        Err(e) => vec![errored(id, PLAN_DEMO, title, target, &cmd, &e)],
    }
}

/// What the alert SLOs share: an Alertmanager routing to a webhook receiver, and the
/// arguments of a real-time replay of a fresh simulation posting to it.
struct ReplayAgainstAlertmanager {
    hook: Webhook,
    am: Alertmanager,
    args: Vec<String>,
}

/// Simulates `(scenario, seconds, seed)` under `<report>/<tag>/sim`, starts Alertmanager
/// and its webhook receiver, and returns `replay <capture> --speed 1x --alertmanager URL
/// --listen 127.0.0.1:0 <extra>`.
fn replay_against_alertmanager(
    ctx: &Ctx,
    bin: &Path,
    tag: &str,
    (scenario, seconds, seed): (&str, u32, u64),
    extra: &[&str],
) -> Result<ReplayAgainstAlertmanager> {
    let sim = ctx.path(&format!("{tag}/sim"));
    ctx.simulate(scenario, seconds, seed, &sim)?;
    let hook = Webhook::start()?;
    let am = Alertmanager::start(bin, &ctx.dir.join(format!("{tag}/alertmanager")), &hook)?;
    let mut args: Vec<String> = vec!["replay".into(), format!("{sim}/capture.pcap")];
    args.extend(
        [
            "--speed",
            "1x",
            "--alertmanager",
            &am.url(),
            "--listen",
            "127.0.0.1:0",
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string()),
    );
    Ok(ReplayAgainstAlertmanager { hook, am, args })
}

/// Alertmanager is killed shortly after a real-time replay of attacks starts and comes
/// back 30 s later: every alert that fired while it was down must reach it (checked at
/// its webhook receiver) within 10 s of its return.
fn alertmanager_outage(ctx: &Ctx) -> Vec<Kpi> {
    let id = "slo.alertmanager_outage";
    let title = "Alertmanager stopped 30 s during attacks, then restarted";
    let target = "100% of alerts fired during the outage delivered within 10 s of its return";
    let bin = match alertmanager_or_skip(ctx, (id, PLAN_SLO, title, target)) {
        Ok(bin) => bin,
        Err(skip) => return skip,
    };
    let summary = ctx.path("outage/summary.json");
    let mut cmd = String::from("workbench kpi --only slo.alertmanager_outage");
    let res = (|| -> Result<(String, bool)> {
        let ReplayAgainstAlertmanager { hook, mut am, args } = replay_against_alertmanager(
            ctx,
            &bin,
            "outage",
            ("mixed", 40, 2),
            &[
                "--resend-interval",
                "5",
                "--max-backoff",
                "2",
                "--summary-out",
                &summary,
            ],
        )?;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cmd = format!(
            "{}   # Alertmanager killed 1 s in, restarted 30 s later",
            super::run::display(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        );
        let child = ctx.workbench_spawn(&args)?;
        let run_start = std::time::Instant::now();
        std::thread::sleep(Duration::from_secs(1));
        am.stop();
        let down_at = run_start.elapsed().as_secs_f64();
        std::thread::sleep(Duration::from_secs(30));
        am.restart()?;
        let back = std::time::Instant::now();
        let up_at = run_start.elapsed().as_secs_f64();
        let r = child.finish(Duration::from_secs(180))?;
        r.expect_code(&[0])?;
        let v: Value = serde_json::from_slice(
            &std::fs::read(&summary).context("reading the replay summary")?,
        )?;
        let records = v
            .get("alerts")
            .and_then(Value::as_array)
            .context("replay summary has no `alerts`")?;
        let during = |a: &&Value| {
            a.get("emitted_s")
                .and_then(Value::as_f64)
                .is_some_and(|t| t >= down_at && t < up_at)
        };
        let state = |a: &Value| {
            a.get("state")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let fired: Vec<&Value> = records
            .iter()
            .filter(during)
            .filter(|a| state(a) == "firing")
            .collect();
        if fired.is_empty() {
            bail!("no alert fired while Alertmanager was down ({down_at:.1}–{up_at:.1} s): the scenario did not exercise the outage");
        }
        // Every alert event of the outage (firing and resolved) must have been accepted
        // by Alertmanager (HTTP 2xx to the POST carrying it) within 10 s of its return.
        let events: Vec<&Value> = records.iter().filter(during).collect();
        let late: Vec<f64> = events
            .iter()
            .map(|a| {
                a.get("delivered_s")
                    .and_then(Value::as_f64)
                    .map_or(f64::INFINITY, |d| d - up_at)
            })
            .collect();
        let accepted = late.iter().filter(|d| **d <= 10.0).count();
        let worst = late.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        // Alerts still firing when it came back must also reach its receiver (Alertmanager
        // does not notify about alerts that were already resolved when it first saw them).
        let still_firing: Vec<(String, String)> = fired
            .iter()
            .filter_map(|a| a.get("alert").map(alert_key))
            .filter(|k| {
                !records.iter().any(|r| {
                    state(r) == "resolved"
                        && r.get("alert").map(alert_key).as_ref() == Some(k)
                        // Resolved soon after the return: the queue then carries only the
                        // resolved version, which the `accepted` check above covers.
                        && r.get("emitted_s").and_then(Value::as_f64).is_some_and(|t| t < up_at + 10.0)
                })
            })
            .collect();
        let deadline = back + Duration::from_secs(10);
        let mut missing = still_firing.clone();
        loop {
            let got = hook.alerts();
            missing.retain(|k| !got.iter().any(|(_, a)| &alert_key(a) == k));
            if missing.is_empty() || std::time::Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let ok = accepted == events.len() && missing.is_empty();
        Ok((
            format!(
                "{} alerts fired during the outage; {accepted}/{} alert events accepted by Alertmanager within 10 s of its return (last {}); {}/{} still firing reached its receiver",
                fired.len(),
                events.len(),
                if worst.is_finite() { format!("{worst:.1} s after") } else { "never".into() },
                still_firing.len() - missing.len(),
                still_firing.len()
            ),
            ok,
        ))
    })();
    verdict(
        (id, PLAN_SLO, title, target),
        cmd,
        "outage/summary.json",
        res,
    )
}

/// A real-time replay is SIGKILLed once its first alert reached Alertmanager, then
/// started again: no half-written output file, alerts resume, and every alert of the
/// killed run ends up resolved in Alertmanager.
fn sigkill_restart(ctx: &Ctx) -> Vec<Kpi> {
    let id = "slo.sigkill_restart";
    let title = "SIGKILL mid-attack, restart";
    let target = "alerts resume after restart; the killed run's alerts resolve; no corrupt files";
    let bin = match alertmanager_or_skip(ctx, (id, PLAN_SLO, title, target)) {
        Ok(bin) => bin,
        Err(skip) => return skip,
    };
    let summary = ctx.path("sigkill/summary.json");
    let mut cmd = String::from("workbench kpi --only slo.sigkill_restart");
    let res = (|| -> Result<(String, bool)> {
        let ReplayAgainstAlertmanager { hook, am, args } = replay_against_alertmanager(
            ctx,
            &bin,
            "sigkill",
            ("portscan", 15, 7),
            &[
                "--resend-interval",
                "2",
                "--resolve-after",
                "2",
                "--summary-out",
                &summary,
            ],
        )?;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cmd = format!(
            "{}   # SIGKILLed after its first alert reached Alertmanager, then run again",
            super::run::display(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        );
        let firing = |a: &Value| a.get("status").and_then(Value::as_str) == Some("firing");
        let resolved = |a: &Value| a.get("status").and_then(Value::as_str) == Some("resolved");
        let mut first = ctx.workbench_spawn(&args)?;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let killed_keys = loop {
            let keys: Vec<_> = hook
                .alerts()
                .iter()
                .filter(|(_, a)| firing(a))
                .map(|(_, a)| alert_key(a))
                .collect();
            if !keys.is_empty() {
                break keys;
            }
            if std::time::Instant::now() > deadline {
                first.kill9();
                bail!("no alert reached Alertmanager within 30 s of the replay's start");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        first.kill9();
        let killed_at = std::time::Instant::now();
        let _ = first.finish(Duration::from_secs(10))?;
        // Output files are written atomically: after a SIGKILL they are absent or whole.
        let clean = match std::fs::read(&summary) {
            Err(_) => true,
            Ok(b) => serde_json::from_slice::<Value>(&b).is_ok(),
        };
        let second = ctx.workbench_spawn(&args)?;
        let r = second.finish(Duration::from_secs(120))?;
        r.expect_code(&[0])?;
        let got = hook.alerts();
        let resumed = got.iter().any(|(t, a)| *t > killed_at && firing(a));
        // Wait (bounded) for the resolved notifications of the killed run's alerts.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let all_resolved = loop {
            let got = hook.alerts();
            let ok = killed_keys.iter().all(|k| {
                got.iter()
                    .any(|(t, a)| *t > killed_at && resolved(a) && &alert_key(a) == k)
            });
            if ok || std::time::Instant::now() > deadline {
                break ok;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        drop(am);
        Ok((
            format!(
                "killed after {} alert(s); output files whole: {clean}; alerts resumed: {resumed}; killed run's alerts resolved: {all_resolved}",
                killed_keys.len()
            ),
            clean && resumed && all_resolved,
        ))
    })();
    verdict(
        (id, PLAN_SLO, title, target),
        cmd,
        "sigkill/summary.json",
        res,
    )
}

const PLAN_EBPF: &str = "weeks 5–6: eBPF agent";
const PLAN_ONNX: &str = "weeks 3–4: ONNX serving";

/// `workbench live --iface lo` while a bounded nmap SYN scan of 127.0.0.1 runs: the
/// sensor must attach with XDP, see the scan, raise a port_scan alert for it and lose
/// no event.
fn xdp_scan(ctx: &Ctx) -> Vec<Kpi> {
    let spec = (
        "ebpf.scan_zero_lost",
        PLAN_EBPF,
        "XDP on lo, nmap -sS -p 1-2000 127.0.0.1",
        "backend xdp-*, port_scan alert for the scanner, lost events = 0",
    );
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return vec![skip(
            spec,
            "needs root (CAP_BPF + CAP_NET_ADMIN) to attach XDP",
        )];
    }
    let Some(nmap) = which("nmap") else {
        return vec![skip(spec, "nmap is not installed (Debian package nmap)")];
    };
    let summary = ctx.path("ebpf/summary.json");
    let args = [
        "live",
        "--iface",
        "lo",
        "--model",
        "rules",
        "--duration",
        "8",
        "--listen",
        "127.0.0.1:0",
        "--resolve-after",
        "1",
        "--notify-console",
        "--summary-out",
        summary.as_str(),
    ];
    let cmd = format!(
        "{}   # with `timeout 20 nmap -sS -p 1-2000 127.0.0.1` 2 s in",
        super::run::display(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    );
    let res = (|| -> Result<(String, bool)> {
        let live = ctx.workbench_spawn(&args)?;
        std::thread::sleep(Duration::from_secs(2));
        let scan = std::process::Command::new("timeout")
            .args(["20"])
            .arg(&nmap)
            .args(["-sS", "-p", "1-2000", "-T4", "-n", "127.0.0.1"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .context("running nmap")?;
        let r = live.finish(Duration::from_secs(60))?;
        r.expect_code(&[0])?;
        let v: Value =
            serde_json::from_slice(&std::fs::read(&summary).context("reading the live summary")?)?;
        let backend = v
            .get("backend")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        let packets = v
            .pointer("/capture/packets")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let lost = v.pointer("/capture/lost_events").and_then(Value::as_u64);
        let alerted = v.get("alerts").and_then(Value::as_array).is_some_and(|a| {
            a.iter().any(|r| {
                let (src, threat) = r.get("alert").map(alert_key).unwrap_or_default();
                src == "127.0.0.1" && threat == "port_scan"
            })
        });
        let ok = backend.starts_with("xdp")
            && packets > 0
            && lost == Some(0)
            && alerted
            && scan.success();
        Ok((
            format!(
                "backend {backend}, {packets} packets, lost events {}, port_scan alert: {alerted}",
                lost.map_or("n/a".into(), |l| l.to_string())
            ),
            ok,
        ))
    })();
    verdict(spec, cmd, "ebpf/summary.json", res)
}

/// The shipped model's scores through its plain-form ONNX file (tract) against the
/// native model on the windows of a simulated capture: max |difference| ≤ 1e-5.
fn onnx_parity(ctx: &Ctx) -> Vec<Kpi> {
    let spec = (
        "onnx.parity",
        PLAN_ONNX,
        "shipped model: native vs ONNX (tract) on every window of a simulated scan",
        "max |difference| ≤ 1e-5",
    );
    let onnx = PathBuf::from("models/default.plain.onnx");
    if !onnx.is_file() {
        return vec![skip(
            spec,
            "models/default.plain.onnx not found: run the suite from the repository root",
        )];
    }
    let data = ctx.path("onnx/data");
    let (a, b) = (ctx.path("onnx/native.csv"), ctx.path("onnx/tract.csv"));
    let cmd = format!(
        "workbench eval --dataset {data} --model default --scores {a} && workbench eval --dataset {data} --model {} --scores {b}",
        onnx.display()
    );
    let res = (|| -> Result<(String, bool)> {
        ctx.simulate("portscan", 20, 5, &data)?;
        for (model, out) in [("default", &a), ("models/default.plain.onnx", &b)] {
            let report = format!("{out}.report");
            ctx.workbench(
                &[
                    "eval",
                    "--dataset",
                    &data,
                    "--model",
                    model,
                    "--scores",
                    out,
                    "--report",
                    &report,
                ],
                600,
            )?
            .expect_code(&[0])?;
        }
        let scores = |p: &str| -> Result<Vec<f64>> {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading {p}"))?;
            let mut lines = text.lines();
            let header: Vec<&str> = lines
                .next()
                .context("empty scores file")?
                .split(',')
                .collect();
            let col = header
                .iter()
                .position(|h| *h == "score")
                .context("no `score` column")?;
            lines
                .map(|l| {
                    l.split(',')
                        .nth(col)
                        .and_then(|x| x.parse::<f64>().ok())
                        .with_context(|| format!("bad score line in {p}: {l}"))
                })
                .collect()
        };
        let (x, y) = (scores(&a)?, scores(&b)?);
        if x.len() != y.len() || x.is_empty() {
            bail!("{} native scores vs {} ONNX scores", x.len(), y.len());
        }
        let max = x
            .iter()
            .zip(&y)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f64::max);
        Ok((
            format!("max |difference| {max:.2e} over {} windows", x.len()),
            max <= 1e-5,
        ))
    })();
    verdict(spec, cmd, "onnx/native.csv", res)
}

/// The scale-out path twice over the same simulated traffic: once undisturbed (the
/// reference), once with the scorer SIGKILLed and restarted and then nats-server
/// restarted mid-stream. The scorer's window rows must be the same set, value for value
/// (a row written twice around the crash must be identical both times).
fn nats_restart(ctx: &Ctx) -> Vec<Kpi> {
    let spec = (
        "slo.nats_restart",
        PLAN_SLO,
        "scorer SIGKILL + restart, then nats-server restart, while a sensor publishes",
        "zero records lost: rows equal the undisturbed run's",
    );
    let Some(bin) = which("nats-server") else {
        return vec![skip(
            spec,
            "nats-server is not installed (Debian package nats-server)",
        )];
    };
    let sensor = |url: &str| -> Vec<String> {
        [
            "publish",
            "--simulate",
            "mixed",
            "--seed",
            "3",
            "--seconds",
            "24",
            "--speed",
            "4",
            "--nats",
            url,
            "--sensor-id",
            "edge-a",
            "--shards",
            "4",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let scorer = |url: &str, rows: &str| -> Vec<String> {
        [
            "serve",
            "--nats",
            url,
            "--shards",
            "4",
            "--exit-on-end",
            "--scorers",
            "1",
            "--scorer-index",
            "0",
            "--expect-sensors",
            "1",
            "--sensor-idle",
            "120",
            "--max-hosts",
            "1000000",
            "--max-keys-per-host",
            "1048576",
            "--rows-out",
            rows,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let cmd = format!(
        "{} & {}   # scorer SIGKILLed 3 s in and restarted; nats-server restarted 1 s later; compared with the same run undisturbed",
        super::run::display(&scorer("nats://127.0.0.1:PORT", "rows.jsonl")),
        super::run::display(&sensor("nats://127.0.0.1:PORT"))
    );
    let spawn = |args: &[String]| -> Result<Spawned> {
        let mut v: Vec<String> = vec!["-q".into()];
        v.extend(args.iter().cloned());
        spawn(&ctx.exe, &v)
    };
    let res = (|| -> Result<(String, bool)> {
        let run = |faults: bool, tag: &str| -> Result<std::collections::BTreeMap<String, String>> {
            let mut nats = NatsServer::start(&bin, &ctx.dir.join(format!("nats/{tag}/js")))?;
            let url = nats.url();
            let rows = ctx.path(&format!("nats/{tag}/rows.jsonl"));
            let _ = std::fs::remove_file(&rows);
            let mut sc = spawn(&scorer(&url, &rows))?;
            let pb = spawn(&sensor(&url))?;
            if faults {
                std::thread::sleep(Duration::from_secs(3));
                sc.kill9();
                let _ = sc.finish(Duration::from_secs(10))?;
                std::thread::sleep(Duration::from_millis(500));
                sc = spawn(&scorer(&url, &rows))?;
                std::thread::sleep(Duration::from_secs(1));
                nats.stop();
                std::thread::sleep(Duration::from_secs(2));
                nats.restart()?;
            }
            pb.finish(Duration::from_secs(180))?.expect_code(&[0])?;
            sc.finish(Duration::from_secs(180))?.expect_code(&[0])?;
            // Rows keyed by (window end, entity); a torn last line of the killed scorer
            // is skipped, a row written twice must not change.
            let mut out = std::collections::BTreeMap::new();
            let text = std::fs::read_to_string(&rows).with_context(|| format!("reading {rows}"))?;
            for line in text.lines() {
                let Ok(v) = serde_json::from_str::<Value>(line) else {
                    continue;
                };
                let key = format!("{}|{}", v["window_end_ns"], v["entity"]);
                let vals = v["values"].to_string();
                if let Some(old) = out.insert(key.clone(), vals.clone()) {
                    if old != vals {
                        bail!("row {key} written twice with different values");
                    }
                }
            }
            Ok(out)
        };
        let want = run(false, "reference")?;
        let got = run(true, "faults")?;
        let missing = want.keys().filter(|k| !got.contains_key(*k)).count();
        let extra = got.keys().filter(|k| !want.contains_key(*k)).count();
        let differ = want
            .iter()
            .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
            .count();
        Ok((
            format!(
                "{} rows vs {} undisturbed: {missing} missing, {extra} extra, {differ} differing",
                got.len(),
                want.len()
            ),
            !want.is_empty() && missing == 0 && extra == 0 && differ == 0,
        ))
    })();
    verdict(spec, cmd, "nats/faults/rows.jsonl", res)
}

/// `spec`'s KPI skipped with the reason; reproduce with `workbench kpi --only <id>`.
fn skip((id, plan, title, target): (&str, &'static str, &str, &str), why: &str) -> Kpi {
    skipped(
        id,
        plan,
        title,
        target,
        &format!("workbench kpi --only {id}"),
        why,
    )
}

/// A KPI that cannot run here, with the reason.
pub fn skipped(
    id: &str,
    plan: &'static str,
    title: &str,
    target: &str,
    cmd: &str,
    why: &str,
) -> Kpi {
    Kpi {
        id: id.into(),
        plan,
        title: title.into(),
        target: target.into(),
        measured: String::new(),
        value: None,
        outcome: Outcome::Skipped(why.into()),
        command: cmd.into(),
        evidence: None,
    }
}
