//! PNG charts with plotters. Text uses DejaVu Sans, embedded in the binary, so charts
//! render the same on a machine without fonts and are readable at 100% zoom.

use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, Result};
use plotters::prelude::*;
use plotters::style::FontStyle;

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

const W: u32 = 900;
const H: u32 = 560;
const TITLE: u32 = 26;
const LABEL: u32 = 18;

/// Distinguishable colours for overlaid series.
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(23, 190, 207),
];

fn font() {
    REGISTER.call_once(|| {
        // The font is a compile-time constant; a failure would show as missing text.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing chart: {e:?}")
}

/// A named curve.
pub struct Series<'a> {
    pub name: String,
    pub points: &'a [(f64, f64)],
}

/// Precision–recall curves, with the base rate drawn as the no-skill line.
pub fn pr_chart(path: &Path, series: &[Series<'_>], base_rate: f64) -> Result<()> {
    font();
    let root = BitMapBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Precision–recall", ("sans-serif", TITLE))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..1f64, 0f64..1.02f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("recall")
        .y_desc("precision")
        .label_style(("sans-serif", LABEL))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            [(0.0, base_rate), (1.0, base_rate)],
            BLACK.mix(0.4).stroke_width(1),
        ))
        .map_err(err)?
        .label(format!("base rate {base_rate:.3}"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], BLACK.mix(0.4)));
    for (i, s) in series.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(3)))
            .map_err(err)?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", LABEL))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::LowerLeft)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// ROC curves; `log_fpr` puts the false-positive rate on a log axis (1e-4..1), where
/// the 1% budget is readable.
pub fn roc_chart(
    path: &Path,
    series: &[Series<'_>],
    log_fpr: bool,
    fpr_mark: Option<f64>,
) -> Result<()> {
    font();
    let root = BitMapBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let title = if log_fpr { "ROC (log FPR)" } else { "ROC" };
    let mut b = ChartBuilder::on(&root);
    b.caption(title, ("sans-serif", TITLE))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64);
    macro_rules! body {
        ($chart:expr, $lo:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc("false-positive rate")
                .y_desc("true-positive rate")
                .label_style(("sans-serif", LABEL))
                .draw()
                .map_err(err)?;
            if let Some(m) = fpr_mark {
                chart
                    .draw_series(LineSeries::new(
                        [(m.max($lo), 0.0), (m.max($lo), 1.0)],
                        RED.mix(0.6).stroke_width(2),
                    ))
                    .map_err(err)?
                    .label(format!("FPR {:.0}%", m * 100.0))
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], RED.mix(0.6)));
            }
            for (i, s) in series.iter().enumerate() {
                let c = PALETTE[i % PALETTE.len()];
                chart
                    .draw_series(LineSeries::new(
                        s.points.iter().map(|&(x, y)| (x.max($lo), y)),
                        c.stroke_width(3),
                    ))
                    .map_err(err)?
                    .label(s.name.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(3))
                    });
            }
            chart
                .configure_series_labels()
                .label_font(("sans-serif", LABEL))
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK.mix(0.3))
                .position(SeriesLabelPosition::LowerRight)
                .draw()
                .map_err(err)?;
        }};
    }
    if log_fpr {
        let lo = 1e-4;
        body!(
            b.build_cartesian_2d((lo..1f64).log_scale(), 0f64..1.02f64)
                .map_err(err)?,
            lo
        );
    } else {
        body!(
            b.build_cartesian_2d(0f64..1f64, 0f64..1.02f64)
                .map_err(err)?,
            0.0
        );
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Score histograms of negative and positive windows (log counts), with the threshold.
pub fn histogram_chart(path: &Path, neg: &[f64], pos: &[f64], threshold: f64) -> Result<()> {
    font();
    const BINS: usize = 50;
    let count = |xs: &[f64]| {
        let mut h = [0u64; BINS];
        for &x in xs {
            let i = ((x.clamp(0.0, 1.0)) * BINS as f64) as usize;
            h[i.min(BINS - 1)] += 1;
        }
        h
    };
    let (hn, hp) = (count(neg), count(pos));
    let top = hn
        .iter()
        .chain(hp.iter())
        .copied()
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let root = BitMapBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Score distribution per class", ("sans-serif", TITLE))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(0f64..1f64, (0.8f64..top * 1.5).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("score")
        .y_desc("windows (log)")
        .label_style(("sans-serif", LABEL))
        .draw()
        .map_err(err)?;
    for (h, c, name) in [
        (&hn, PALETTE[0], "benign windows"),
        (&hp, PALETTE[1], "attack windows"),
    ] {
        chart
            .draw_series(h.iter().enumerate().filter(|(_, &n)| n > 0).map(|(i, &n)| {
                let x0 = i as f64 / BINS as f64;
                Rectangle::new(
                    [(x0, 0.8), (x0 + 1.0 / BINS as f64, n as f64)],
                    c.mix(0.45).filled(),
                )
            }))
            .map_err(err)?
            .label(format!("{name} ({})", h.iter().sum::<u64>()))
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 6), (x + 18, y + 6)], c.mix(0.45).filled())
            });
    }
    let t = threshold.clamp(0.0, 1.0);
    chart
        .draw_series(LineSeries::new(
            [(t, 0.8), (t, top * 1.5)],
            BLACK.stroke_width(2),
        ))
        .map_err(err)?
        .label(format!("threshold {threshold:.3}"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], BLACK.stroke_width(2)));
    chart
        .configure_series_labels()
        .label_font(("sans-serif", LABEL))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::UpperMiddle)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// One entity's score over time.
pub struct Track {
    pub name: String,
    /// (seconds since the chart's origin, score)
    pub points: Vec<(f64, f64)>,
}

/// Scores over time for a few entities, attack episodes shaded, threshold drawn.
pub fn timeline_chart(
    path: &Path,
    tracks: &[Track],
    episodes: &[(f64, f64)],
    threshold: f64,
    x_max: f64,
) -> Result<()> {
    font();
    let root = BitMapBackend::new(path, (W + 300, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let x_max = x_max.max(1.0);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Scores over time (attack episodes shaded)",
            ("sans-serif", TITLE),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..x_max, 0f64..1.05f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("seconds since the first window")
        .y_desc("score")
        .label_style(("sans-serif", LABEL))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(episodes.iter().map(|&(a, b)| {
            Rectangle::new(
                [
                    (a.max(0.0), 0.0),
                    (b.min(x_max).max(a + x_max / 500.0), 1.05),
                ],
                RED.mix(0.12).filled(),
            )
        }))
        .map_err(err)?;
    let t = threshold.clamp(0.0, 1.05);
    chart
        .draw_series(LineSeries::new(
            [(0.0, t), (x_max, t)],
            BLACK.stroke_width(2),
        ))
        .map_err(err)?
        .label(format!("threshold {threshold:.3}"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], BLACK.stroke_width(2)));
    for (i, tr) in tracks.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(
                tr.points
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 3, c.filled())),
            )
            .map_err(err)?
            .label(tr.name.clone())
            .legend(move |(x, y)| Circle::new((x + 10, y), 5, c.filled()));
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", LABEL))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Horizontal bars: one per `(name, value)`, largest first, values as shares in [0, 1].
pub fn importance_chart(path: &Path, title: &str, bars: &[(String, f64)]) -> Result<()> {
    font();
    let n = bars.len().max(1);
    let height = (120 + 34 * n as u32).max(300);
    let root = BitMapBackend::new(path, (W + 200, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let top = bars.iter().map(|b| b.1).fold(0.0f64, f64::max).max(1e-9) * 1.1;
    // Bar 0 (the largest) at the top: segment n-1-i holds bar i.
    let names: Vec<String> = bars.iter().rev().map(|b| b.0.clone()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", LABEL + 4))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(300)
        .build_cartesian_2d(0f64..top, (0..n).into_segmented())
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("share of the total")
        .y_labels(n)
        .y_label_formatter(&|y: &SegmentValue<usize>| match y {
            SegmentValue::CenterOf(k) => names.get(*k).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .label_style(("sans-serif", LABEL))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
            let k = n - 1 - i;
            let mut r = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(k)),
                    (*v, SegmentValue::Exact(k + 1)),
                ],
                PALETTE[0].filled(),
            );
            r.set_margin(4, 4, 0, 0);
            r
        }))
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}
