//! The `workbench` binary: argument handling and wiring only.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use workbench::cli::{Cli, Command, EvalArgs, FeaturesArgs, SchemaArgs, SimulateArgs, TrainArgs};
use workbench::commands_eval::{datasets_cmd, print_eval, run_eval};
use workbench::commands_train::{print_train, run_train, train_json};
use workbench::engine::{FeatureSchema, WindowEngine, BASE_FEATURES};
use workbench::pipeline::{self, Input, RunSummary};
use workbench::progress::Progress;
use workbench::simulate::{self, Scenario};
use workbench::sources::{expand_inputs, SimSource};
use workbench::table::TableWriter;

/// Exit status when some inputs failed but the rest was processed.
const EXIT_PARTIAL: u8 = 3;
/// Exit status on error.
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    workbench::logging::init(&cli.global);
    let result = match &cli.command {
        Command::Features(a) => features(&cli, a),
        Command::Simulate(a) => simulate_cmd(&cli, a),
        Command::Schema(a) => schema(&cli, a),
        Command::Eval(a) => eval(&cli, a),
        Command::Train(a) => train(&cli, a),
        Command::Compare(a) => compare(&cli, a),
        Command::Live(a) => {
            workbench::live::run_live(a, cli.global.quiet).and_then(|r| live_exit(&cli, &r))
        }
        Command::Replay(a) => {
            workbench::live::run_replay(a, cli.global.quiet).and_then(|r| live_exit(&cli, &r))
        }
        Command::Demo(a) => workbench::live::run_demo(a, cli.global.quiet).map(|met| {
            if met {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }),
        Command::Kpi(a) => kpi(&cli, a),
        Command::Notify(a) => {
            workbench::stack::notify::run(a.listen, a.max_body).map(|()| ExitCode::SUCCESS)
        }
        Command::Publish(a) => workbench::stack::cmd::publish(a).map(|()| ExitCode::SUCCESS),
        Command::Serve(a) => workbench::stack::cmd::serve_nats(a).map(|()| ExitCode::SUCCESS),
        Command::Datasets(a) => {
            datasets_cmd(a, cli.global.json, &mut std::io::stdout()).map(|ok| {
                if ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(EXIT_ERROR)
                }
            })
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (e.g. `| head`) is not an error worth reporting.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn features(cli: &Cli, a: &FeaturesArgs) -> Result<ExitCode> {
    let cfg = a.window.config();
    let mut engine = WindowEngine::new(cfg).context("invalid window settings")?;
    let inputs: Vec<Input> = match a.simulate {
        Some(scenario) => {
            let sim = a.sim.config(scenario);
            vec![Input::Source(
                format!(
                    "simulated {} ({} s, seed {})",
                    scenario.name(),
                    sim.seconds,
                    sim.seed
                ),
                Box::new(SimSource::new(&sim)),
            )]
        }
        None => expand_inputs(&a.inputs)?
            .into_iter()
            .map(Input::File)
            .collect(),
    };
    let mut writer = TableWriter::create(&a.out, engine.schema())?;
    let progress = Progress::bytes(pipeline::total_bytes(&inputs), cli.global.quiet);
    let summary = pipeline::run(inputs, &mut engine, &mut writer, &progress);
    progress.finish();
    let rows = writer.finish()?;
    report_run(cli, &summary, Some((&a.out, rows)))
}

/// Prints the summary of a pipeline run and picks the exit status.
fn report_run(
    cli: &Cli,
    s: &RunSummary,
    table: Option<(&std::path::Path, u64)>,
) -> Result<ExitCode> {
    if cli.global.json {
        let mut v = serde_json::to_value(s)?;
        if let Some((path, rows)) = table {
            v["out"] = serde_json::json!({ "path": path.display().to_string(), "rows": rows });
        }
        writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        for i in &s.inputs {
            if let Some(e) = &i.error {
                eprintln!("warning: {e}");
            }
        }
        if cli.global.verbose > 0 {
            for i in &s.inputs {
                let skipped: Vec<String> =
                    i.skipped.iter().map(|(k, v)| format!("{k} {v}")).collect();
                writeln!(
                    std::io::stdout(),
                    "  {}: {} packets{}{}",
                    i.name,
                    i.packets,
                    if skipped.is_empty() {
                        String::new()
                    } else {
                        format!(", skipped {}", skipped.join(", "))
                    },
                    if i.transport_truncated > 0 {
                        format!(", {} with a cut transport header", i.transport_truncated)
                    } else {
                        String::new()
                    }
                )?;
            }
        }
        let rate = s.packets as f64 / s.elapsed_s.max(1e-9);
        writeln!(
            std::io::stdout(),
            "read {} packets from {} input(s) in {:.2} s ({:.2} Mpkt/s); skipped {} frame(s)",
            s.packets,
            s.inputs.len(),
            s.elapsed_s,
            rate / 1e6,
            s.skipped
        )?;
        let skips = s.source_totals.skip_breakdown();
        if !skips.is_empty() {
            let parts: Vec<String> = skips.iter().map(|(k, v)| format!("{k} {v}")).collect();
            writeln!(
                std::io::stdout(),
                "  skipped by reason: {}",
                parts.join(", ")
            )?;
        }
        let e = &s.engine;
        writeln!(
            std::io::stdout(),
            "  hosts: {} admitted, peak {}, {} packet sides untracked (host cap); {} late packets",
            e.hosts_admitted,
            e.hosts_peak,
            e.untracked_host_sides,
            e.late_packets
        )?;
        if let Some((path, rows)) = table {
            writeln!(std::io::stdout(), "wrote {rows} rows to {}", path.display())?;
        }
    }
    Ok(match s.failed_inputs() {
        0 => ExitCode::SUCCESS,
        n if n == s.inputs.len() && s.packets == 0 => ExitCode::from(EXIT_ERROR),
        _ => ExitCode::from(EXIT_PARTIAL),
    })
}

fn eval(cli: &Cli, a: &EvalArgs) -> Result<ExitCode> {
    let report = a.report.clone().unwrap_or_else(|| {
        let ds = std::path::Path::new(&a.dataset)
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "dataset".into());
        let model = std::path::Path::new(&a.model)
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .map(|n| {
                let n = n.strip_suffix(".wbm.json").unwrap_or(&n);
                n.strip_suffix(".onnx").unwrap_or(n).to_string()
            })
            .unwrap_or_else(|| "model".into());
        std::path::PathBuf::from("reports").join(format!("{ds}-{model}"))
    });
    let o = run_eval(a, cli.global.quiet, Some(report))?;
    if cli.global.json {
        let mut v = serde_json::to_value(&o.result)?;
        v["report"] = o
            .report_index
            .as_ref()
            .map(|p| p.display().to_string())
            .into();
        writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        print_eval(&mut std::io::stdout(), &o)?;
    }
    Ok(if o.run.failed_inputs() > 0 {
        ExitCode::from(EXIT_PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}

fn compare(cli: &Cli, a: &workbench::cli::CompareArgs) -> Result<ExitCode> {
    use workbench::commands_compare::{compare_json, print_compare, run_compare};
    let o = run_compare(a, cli.global.quiet)?;
    if cli.global.json {
        writeln!(
            std::io::stdout(),
            "{}",
            serde_json::to_string_pretty(&compare_json(&o))?
        )?;
    } else {
        print_compare(&mut std::io::stdout(), &o)?;
    }
    Ok(if o.run.failed_inputs() > 0 {
        ExitCode::from(EXIT_PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}

fn train(cli: &Cli, a: &TrainArgs) -> Result<ExitCode> {
    use workbench::model::unsupervised::train as unsup;
    if unsup::is_algo(&a.algo) {
        let o = unsup::run_unsupervised(a, cli.global.quiet)?;
        if cli.global.json {
            let v = unsup::unsupervised_json(&o);
            writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&v)?)?;
        } else {
            unsup::print_unsupervised(&mut std::io::stdout(), &o)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let o = run_train(a, cli.global.quiet)?;
    if cli.global.json {
        writeln!(
            std::io::stdout(),
            "{}",
            serde_json::to_string_pretty(&train_json(&o))?
        )?;
    } else {
        print_train(&mut std::io::stdout(), &o)?;
    }
    Ok(if o.failed_inputs > 0 {
        ExitCode::from(EXIT_PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}

fn simulate_cmd(cli: &Cli, a: &SimulateArgs) -> Result<ExitCode> {
    if a.list {
        for s in Scenario::all() {
            writeln!(std::io::stdout(), "{:<18} {}", s.name(), s.describe())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(out) = &a.out else {
        anyhow::bail!("--out DIR is required");
    };
    let cfg = a.sim.config(a.scenario);
    let progress = Progress::bytes(0, cli.global.quiet);
    let summary = simulate::write_scenario(&cfg, out, &mut |frames| {
        if frames & 0xffff == 0 {
            progress.message(format!("{frames} frames"));
        }
    })?;
    progress.finish();
    if cli.global.json {
        writeln!(
            std::io::stdout(),
            "{}",
            serde_json::json!({
                "frames": summary.frames, "bytes": summary.bytes, "episodes": summary.episodes,
                "pcap": summary.pcap, "labels": summary.labels,
            })
        )?;
    } else {
        writeln!(
            std::io::stdout(),
            "wrote {} frames ({} bytes) to {} and {} episode(s) to {}",
            summary.frames,
            summary.bytes,
            summary.pcap.display(),
            summary.episodes,
            summary.labels.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn schema(cli: &Cli, a: &SchemaArgs) -> Result<ExitCode> {
    let cfg = a.window.config();
    cfg.validate()?;
    let schema = FeatureSchema::for_widths(&cfg.widths_s);
    if cli.global.json {
        writeln!(
            std::io::stdout(),
            "{}",
            serde_json::to_string_pretty(&schema)?
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        std::io::stdout(),
        "feature schema {} ({} columns; entity rows per host plus `*` for the whole network)",
        schema.fingerprint(),
        schema.len()
    )?;
    for (i, name) in schema.names.iter().enumerate() {
        let def = &BASE_FEATURES[i % BASE_FEATURES.len()];
        writeln!(
            std::io::stdout(),
            "{:<34} {:<7} {}",
            name,
            def.unit,
            def.doc
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn kpi(cli: &Cli, a: &workbench::kpi::KpiArgs) -> Result<ExitCode> {
    let (rep, index) = workbench::kpi::run_kpi(a, cli.global.quiet)?;
    if cli.global.json {
        writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&rep)?)?;
    } else {
        writeln!(
            std::io::stdout(),
            "{} KPIs: {} passed, {} failed, {} skipped, {} errors; report {}",
            rep.kpis.len(),
            rep.passed,
            rep.failed,
            rep.skipped,
            rep.errors,
            index.display()
        )?;
    }
    Ok(if rep.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Prints a live/replay run's summary; exit 3 when the source failed or alerts were left
/// undelivered.
fn live_exit(cli: &Cli, r: &workbench::live::RunReport) -> Result<ExitCode> {
    workbench::live::print_report(r, cli.global.json)?;
    Ok(if r.engine.error.is_some() || r.undelivered > 0 {
        ExitCode::from(EXIT_PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}
