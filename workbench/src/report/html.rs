//! The self-contained `index.html`: inline CSS, images as data URIs, no scripts from
//! anywhere; one small inline script records whether every image decoded (the browser
//! test reads it).

use std::fmt::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use base64::Engine;

use super::{kpis, DatasetInfo, ImportanceInfo, ModelRun};
use crate::engine::WindowConfig;
use crate::eval::metrics::AtThreshold;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn num(x: Option<f64>) -> String {
    x.map_or("n/a".into(), |v| format!("{v:.4}"))
}

const STYLE: &str = r#"
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:2rem auto;max-width:1250px;color:#222;line-height:1.45}
h1{font-size:1.7rem;margin-bottom:.2rem} h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}
.sub{color:#555;margin-top:0}
table{border-collapse:collapse;margin:.6rem 0;font-size:.95rem} th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}
th{background:#f3f3f3} td.l,th.l{text-align:left}
.big{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}
.card{border:1px solid #ccc;border-radius:6px;padding:.6rem 1rem;min-width:9rem}
.card .v{font-size:1.6rem;font-weight:bold} .card .k{color:#555;font-size:.85rem}
.pass{color:#176d17;font-weight:bold} .fail{color:#b00;font-weight:bold} .na{color:#777}
img{max-width:100%;border:1px solid #eee;margin:.4rem 0}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
.charts figure{margin:1rem 0} .charts img{width:auto;max-width:100%}
.note{color:#555;font-size:.9rem}
"#;

const CHECK_IMAGES: &str = r#"<script>
window.addEventListener('load', function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++; }
  document.body.setAttribute('data-images', ok + '/' + imgs.length);
});
</script>"#;

pub(super) fn page(
    dataset: &DatasetInfo,
    window: &WindowConfig,
    runs: &[ModelRun<'_>],
    images: &[(&str, PathBuf)],
    importance: Option<&ImportanceInfo>,
) -> Result<String> {
    let first = &runs[0].result;
    let mut h = String::new();
    let models: Vec<&str> = runs.iter().map(|r| r.result.model.as_str()).collect();
    writeln!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
    )?;
    writeln!(
        h,
        "<title>workbench report: {}</title><style>{STYLE}</style></head><body>",
        esc(&dataset.name)
    )?;
    writeln!(
        h,
        "<h1>Evaluation of {} on <code>{}</code></h1>",
        esc(&models.join(", ")),
        esc(&dataset.name)
    )?;
    writeln!(
        h,
        "<p class=\"sub\">{} · {} packets from {} input(s), {} frames skipped · windows {:?} s every {} s · workbench {}</p>",
        esc(&dataset.description),
        dataset.packets,
        dataset.inputs.len(),
        dataset.skipped_frames,
        window.widths_s,
        window.hop_s,
        env!("CARGO_PKG_VERSION")
    )?;

    // Headline cards.
    writeln!(h, "<div class=\"big\">")?;
    let cards = [
        ("PR-AUC (average precision)", num(first.pr_auc)),
        ("ROC-AUC", num(first.roc_auc)),
        (
            "base rate (attack windows)",
            format!("{:.4}", first.base_rate),
        ),
        (
            "threshold at 1% FPR",
            format!("{:.4}", first.threshold_at_fpr_1pct),
        ),
        ("TPR at 1% FPR", format!("{:.3}", first.tpr_at_fpr_1pct)),
        (
            "episodes detected",
            format!(
                "{}/{}",
                first.episodes.iter().filter(|e| e.detected).count(),
                first.episodes_total
            ),
        ),
        (
            "detection delay p50 / p95",
            format!(
                "{} / {} s",
                num(first.detection_delay_s.median),
                num(first.detection_delay_s.p95)
            ),
        ),
        (
            "false alerts per hour",
            format!("{:.2}", first.false_alerts_per_hour),
        ),
    ];
    for (k, v) in cards {
        writeln!(
            h,
            "<div class=\"card\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div>",
            esc(&v),
            esc(k)
        )?;
    }
    writeln!(h, "</div>")?;
    writeln!(
        h,
        "<p class=\"note\">{} host windows, {} labelled attack (base rate {:.4}: a random detector's PR-AUC). Label coverage: {}/{} episodes matched a window.</p>",
        first.windows, first.positives, first.base_rate, first.episodes_matched, first.episodes_total
    )?;

    // KPI table.
    writeln!(h, "<h2>KPIs of the 60-day plan (docs/PLAN.md)</h2><table><tr><th class=\"l\">KPI</th><th>target</th><th>measured</th><th>status</th></tr>")?;
    for k in kpis(first) {
        let (cls, txt) = match k.pass {
            Some(true) => ("pass", "pass"),
            Some(false) => ("fail", "fail"),
            None => ("na", "n/a"),
        };
        writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td class=\"{cls}\">{txt}</td></tr>",
            esc(&k.name),
            esc(&k.target),
            esc(&k.measured)
        )?;
    }
    writeln!(h, "</table>")?;

    // Model table (several models when comparing).
    writeln!(h, "<h2>Models</h2><table id=\"models\"><tr><th class=\"l\">model</th><th>PR-AUC</th><th>ROC-AUC</th><th>thr @1% FPR</th><th>TPR</th><th>precision</th><th>F1</th><th>own thr</th><th>TPR</th><th>FPR</th><th>precision</th><th>F1</th><th>episodes detected</th><th>delay p50 s</th><th>delay p95 s</th><th>false alerts/h</th></tr>")?;
    for r in runs.iter().map(|r| &r.result) {
        let a = &r.at_fpr_1pct;
        let m = &r.at_model_threshold;
        writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.4}</td><td>{:.3}</td><td>{:.3}</td><td>{}/{}</td><td>{}</td><td>{}</td><td>{:.2}</td></tr>",
            esc(&r.model), num(r.pr_auc), num(r.roc_auc), a.threshold, a.tpr, a.precision, a.f1,
            m.threshold, m.tpr, m.fpr, m.precision, m.f1,
            r.episodes.iter().filter(|e| e.detected).count(), r.episodes_total,
            num(r.detection_delay_s.median), num(r.detection_delay_s.p95), r.false_alerts_per_hour
        )?;
    }
    writeln!(h, "</table>")?;

    // Charts.
    writeln!(h, "<h2>Charts</h2><div class=\"charts\">")?;
    for (title, path) in images {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        writeln!(h, "<figure><img alt=\"{}\" src=\"data:image/png;base64,{b64}\"><figcaption>{}</figcaption></figure>", esc(title), esc(title))?;
    }
    writeln!(h, "</div>")?;

    // Feature importance.
    if let Some(imp) = importance {
        writeln!(
            h,
            "<h2>Feature importance ({}, {})</h2><table id=\"importance\"><tr><th>rank</th><th class=\"l\">feature</th><th>share</th><th>{}</th><th>splits</th></tr>",
            esc(&imp.model),
            esc(&imp.measure),
            esc(&imp.measure)
        )?;
        for (i, f) in imp.features.iter().enumerate() {
            writeln!(
                h,
                "<tr><td>{}</td><td class=\"l\">{}</td><td>{:.4}</td><td>{:.6e}</td><td>{}</td></tr>",
                i + 1,
                esc(&f.feature),
                f.gain_share,
                f.gain,
                f.splits
            )?;
        }
        writeln!(h, "</table>")?;
    }

    // Per attack.
    writeln!(h, "<h2>Per attack type ({})</h2><table><tr><th class=\"l\">attack</th><th>attack windows</th><th>recall @1% FPR</th><th>recall @own thr</th><th>episodes</th><th>detected</th><th>median delay s</th></tr>", esc(&first.model))?;
    for p in &first.per_attack {
        writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.attack_type), p.windows, p.recall_at_fpr_1pct, p.recall_at_model_threshold, p.episodes, p.episodes_detected, num(p.detection_delay_median_s)
        )?;
    }
    writeln!(h, "</table>")?;

    // Confusion matrices.
    writeln!(h, "<h2>Confusion matrix</h2><div class=\"grid\">")?;
    for (title, c) in [
        ("at the 1%-FPR threshold", &first.at_fpr_1pct),
        ("at the model's own threshold", &first.at_model_threshold),
    ] {
        confusion(&mut h, title, c)?;
    }
    writeln!(h, "</div>")?;

    // Episodes.
    writeln!(h, "<h2>Episodes</h2><table><tr><th class=\"l\">attack</th><th class=\"l\">attacker</th><th class=\"l\">victim</th><th>start</th><th>duration s</th><th>matched</th><th>detected</th><th>delay s</th><th>max score</th></tr>")?;
    for e in first.episodes.iter().take(200) {
        writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td></tr>",
            esc(&e.attack_type), esc(&e.attacker), esc(&e.victim), e.start_ts, e.end_ts - e.start_ts,
            if e.matched { "yes" } else { "no" }, if e.detected { "yes" } else { "no" }, num(e.delay_s), e.max_score
        )?;
    }
    if first.episodes.len() > 200 {
        writeln!(
            h,
            "<tr><td class=\"l\" colspan=\"9\">… {} more in report.json</td></tr>",
            first.episodes.len() - 200
        )?;
    }
    writeln!(h, "</table>")?;

    // Inputs.
    writeln!(h, "<h2>Inputs</h2><table><tr><th class=\"l\">input</th><th>packets</th><th class=\"l\">skipped</th><th class=\"l\">error</th></tr>")?;
    for i in &dataset.inputs {
        let skipped: Vec<String> = i.skipped.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            esc(&i.name), i.packets, esc(&skipped.join(", ")), esc(i.error.as_deref().unwrap_or(""))
        )?;
    }
    writeln!(h, "</table>")?;
    writeln!(
        h,
        "<p class=\"note\">Labelling: a host window is an attack window when the host is the attacker of an episode overlapping it, or the victim of a flood/DDoS with spoofed or many sources. The threshold at 1% FPR is the lowest score threshold whose false-positive rate on benign windows is ≤ 0.01. PR-AUC is average precision as scikit-learn defines it.</p>"
    )?;
    writeln!(h, "{CHECK_IMAGES}</body></html>")?;
    Ok(h)
}

fn confusion(h: &mut String, title: &str, c: &AtThreshold) -> Result<()> {
    writeln!(
        h,
        "<div><p><b>{}</b> (threshold {:.4})</p><table><tr><th></th><th>predicted attack</th><th>predicted benign</th></tr>\
         <tr><th class=\"l\">attack</th><td>{}</td><td>{}</td></tr><tr><th class=\"l\">benign</th><td>{}</td><td>{}</td></tr></table>\
         <p class=\"note\">TPR {:.3} · FPR {:.4} · precision {:.3} · F1 {:.3}</p></div>",
        esc(title), c.threshold, c.tp, c.fn_, c.fp, c.tn, c.tpr, c.fpr, c.precision, c.f1
    )?;
    Ok(())
}
