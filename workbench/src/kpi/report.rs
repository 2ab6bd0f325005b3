//! kpi.json and a self-contained index.html for the KPI suite.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{KpiReport, Outcome};
use crate::model::file::write_atomic;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes `dir/kpi.json` and `dir/index.html`; returns the index path.
pub fn write(dir: &Path, rep: &KpiReport) -> Result<PathBuf> {
    let json = serde_json::to_vec_pretty(rep)?;
    write_atomic(&dir.join("kpi.json"), &json)?;
    let index = dir.join("index.html");
    write_atomic(&index, html(rep).as_bytes())
        .with_context(|| format!("writing {}", index.display()))?;
    Ok(index)
}

fn html(rep: &KpiReport) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!doctype html><html><head><meta charset="utf-8"><title>workbench KPIs</title>
<style>
body{{font-family:sans-serif;margin:2em;max-width:1200px}}
table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}
th{{background:#eee}}
.pass{{background:#d9f2d9}} .fail{{background:#f8d0d0}} .skipped{{background:#f2f2c9}} .error{{background:#f8d0d0}}
code{{font-size:85%}}
</style></head><body>
<h1>workbench KPI suite</h1>
<p>workbench {ver}; {n} KPIs in {el:.0} s: <b>{p} passed</b>, <b>{f} failed</b>, {s} skipped, {e} errors.
Every value below was measured by the command next to it in this run.</p>
<table><tr><th>KPI</th><th>plan</th><th>target</th><th>measured</th><th>result</th><th>reproduce</th></tr>
"#,
        ver = rep.workbench_version,
        n = rep.kpis.len(),
        el = rep.elapsed_s,
        p = rep.passed,
        f = rep.failed,
        s = rep.skipped,
        e = rep.errors,
    );
    for k in &rep.kpis {
        let (class, result) = match &k.outcome {
            Outcome::Pass => ("pass", "pass".to_string()),
            Outcome::Fail => ("fail", "FAIL".to_string()),
            Outcome::Skipped(why) => ("skipped", format!("skipped: {}", esc(why))),
            Outcome::Error(why) => ("error", format!("ERROR: {}", esc(why))),
        };
        let title = match &k.evidence {
            Some(link) => format!(r#"<a href="{}">{}</a>"#, esc(link), esc(&k.title)),
            None => esc(&k.title),
        };
        let _ = writeln!(
            h,
            r#"<tr class="{class}"><td><b>{id}</b><br>{title}</td><td>{plan}</td><td>{target}</td><td>{measured}</td><td>{result}</td><td><code>{cmd}</code></td></tr>"#,
            id = esc(&k.id),
            plan = esc(k.plan),
            target = esc(&k.target),
            measured = esc(&k.measured),
            cmd = esc(&k.command),
        );
    }
    h.push_str("</table></body></html>\n");
    h
}
