//! The report: one self-contained HTML file (inline SVG drawn with `plotters`, inline CSS, no scripts, no
//! external resources) with, per scenario, a scorecard in plain words, the CSV's SHA-256, and fan charts
//! (p5–p95 band and median across runs) of the metrics that decide whether the structure holds; and a
//! heatmap of the cartel's net profit by cartel size × slash fraction.
//!
//! The output depends only on the ensembles: the same scenarios, seed and run count give the same bytes.

use std::fmt::Write as _;

use plotters::prelude::*;

use crate::{Ensemble, Scenario, SimError, run_many};

/// Charts drawn for every scenario: (column, title, unit scale, unit suffix).
const FANS: &[(&str, &str, f64, &str)] = &[
    ("nominal_yield", "Nominal yield (fees + emissions), per year", 100.0, "%"),
    ("real_yield", "Real yield (fees only), per year", 100.0, "%"),
    ("subsidy_ratio", "Subsidy ratio: emissions ÷ rewards", 100.0, "%"),
    ("runway_years", "Incentive pool runway", 1.0, "years"),
    ("price_usd", "OPG price", 1.0, "USD"),
    ("bonded_ratio", "Bonded ÷ supply", 100.0, "%"),
    ("security_ratio", "Security budget ÷ value secured per day", 1.0, "×"),
    ("lst_discount", "stOPG discount to redemption value", 100.0, "%"),
    ("operators_active", "Active operators", 1.0, ""),
    ("nakamoto", "Nakamoto coefficient (1/3 of validator stake)", 1.0, ""),
];

fn chart_err(e: &dyn std::fmt::Display) -> SimError {
    SimError::Chart(e.to_string())
}

/// A fan chart of one metric: the p5–p95 band and the median across runs, against years.
pub fn fan_chart_svg(
    ens: &Ensemble,
    column: &str,
    title: &str,
    scale: f64,
    unit: &str,
) -> Result<String, SimError> {
    overlay_fan_svg(&[(ens, "")], column, title, scale, unit)
}

/// Fan charts of one metric for several ensembles on the same axes (one colour each, labelled when a label
/// is given): how two parameter sets or a case and its control differ.
pub fn overlay_fan_svg(
    ensembles: &[(&Ensemble, &str)],
    column: &str,
    title: &str,
    scale: f64,
    unit: &str,
) -> Result<String, SimError> {
    const COLORS: [RGBColor; 4] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
    ];
    let sets: Vec<Vec<(f64, [f64; 3])>> = ensembles
        .iter()
        .map(|(ens, _)| {
            let series = ens.series(column);
            let step = (series.len() / 300).max(1);
            series
                .iter()
                .enumerate()
                .filter(|(d, _)| d % step == 0 || *d + 1 == series.len())
                .map(|(d, q)| (d as f64 / 365.0, q.map(|v| v * scale)))
                .filter(|(_, q)| q.iter().all(|v| v.is_finite() && v.abs() < 1e8))
                .collect()
        })
        .collect();
    let (lo, hi) = sets
        .iter()
        .flatten()
        .flat_map(|(_, q)| q.iter().copied())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| (a.min(y), b.max(y)));
    let (lo, hi) = if lo.is_finite() {
        let pad = (hi - lo).abs().max(1e-9) * 0.05;
        (if lo >= 0.0 { 0.0 } else { lo - pad }, hi + pad)
    } else {
        (0.0, 1.0)
    };
    let days = ensembles.iter().map(|(e, _)| e.days).max().unwrap_or(1);
    let x_max = (days as f64 / 365.0).max(1.0 / 365.0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 250)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| chart_err(&e))?;
        let caption = if unit.is_empty() { title.to_string() } else { format!("{title} ({unit})") };
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(58)
            .build_cartesian_2d(0.0..x_max, lo..hi)
            .map_err(|e| chart_err(&e))?;
        chart
            .configure_mesh()
            .x_desc("years")
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| chart_err(&e))?;
        for (k, (pts, (_, label))) in sets.iter().zip(ensembles).enumerate() {
            let color = COLORS[k % COLORS.len()];
            let band: Vec<(f64, f64)> = pts
                .iter()
                .map(|(x, q)| (*x, q[2]))
                .chain(pts.iter().rev().map(|(x, q)| (*x, q[0])))
                .collect();
            if !band.is_empty() {
                chart
                    .draw_series(std::iter::once(Polygon::new(band, color.mix(0.2).filled())))
                    .map_err(|e| chart_err(&e))?;
            }
            let line = chart
                .draw_series(LineSeries::new(
                    pts.iter().map(|(x, q)| (*x, q[1])),
                    color.stroke_width(2),
                ))
                .map_err(|e| chart_err(&e))?;
            if !label.is_empty() {
                line.label(*label).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
            }
        }
        if ensembles.iter().any(|(_, l)| !l.is_empty()) {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(|e| chart_err(&e))?;
        }
        root.present().map_err(|e| chart_err(&e))?;
    }
    Ok(svg)
}

/// Cartel net profit (median across runs, USD) by cartel size × slash fraction.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    /// Scenario the grid varies.
    pub scenario: String,
    /// Cartel shares of operators (columns).
    pub sizes: Vec<f64>,
    /// Wrong-inference slash fractions (rows).
    pub slashes: Vec<f64>,
    /// `profit[row][column]`, USD.
    pub profit: Vec<Vec<f64>>,
    /// Runs per cell.
    pub runs: u64,
}

/// Runs `s` (which needs a `[cartel]`) over a grid of cartel sizes and slash fractions, `runs` runs a cell.
pub fn cartel_heatmap(
    s: &Scenario,
    sizes: &[f64],
    slashes: &[f64],
    runs: u64,
    seed: u64,
    threads: usize,
) -> Result<Heatmap, SimError> {
    let Some(cartel) = &s.cartel else {
        return Err(SimError::Invalid(format!("{} has no [cartel] to vary", s.name)));
    };
    let mut profit = Vec::new();
    for &f in slashes {
        let mut row = Vec::new();
        for &size in sizes {
            let mut v = s.clone();
            v.ledger.slash_wrong_inference = f;
            v.cartel = Some(crate::CartelConfig { stake_share: size, ..cartel.clone() });
            let e = run_many(&v, runs, seed, threads, 30, &|_, _| {})?;
            row.push(e.summary("cartel_profit_usd_end").map_or(0.0, |q| q[1]));
        }
        profit.push(row);
    }
    Ok(Heatmap {
        scenario: s.name.clone(),
        sizes: sizes.to_vec(),
        slashes: slashes.to_vec(),
        profit,
        runs,
    })
}

/// The heatmap as SVG: red where cheating pays, blue where it loses, the value in each cell.
pub fn heatmap_svg(h: &Heatmap) -> Result<String, SimError> {
    let (cols, rows) = (h.sizes.len().max(1), h.slashes.len().max(1));
    let max = h.profit.iter().flatten().fold(1.0f64, |m, v| m.max(v.abs()));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 400)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| chart_err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("Cartel net profit, USD (median of {} runs), {}", h.runs, h.scenario),
                ("sans-serif", 15),
            )
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..cols as f64, 0.0..rows as f64)
            .map_err(|e| chart_err(&e))?;
        let sizes = h.sizes.clone();
        let slashes = h.slashes.clone();
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("cartel share of operators")
            .y_desc("slash fraction")
            .x_labels(cols * 2 + 1)
            .y_labels(rows * 2 + 1)
            .x_label_formatter(&|x| {
                let i = (*x - 0.5).round();
                if (x - 0.5 - i).abs() < 1e-6 && i >= 0.0 {
                    sizes.get(i as usize).map_or(String::new(), |v| format!("{:.0} %", v * 100.0))
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| {
                let i = (*y - 0.5).round();
                if (y - 0.5 - i).abs() < 1e-6 && i >= 0.0 {
                    slashes.get(i as usize).map_or(String::new(), |v| format!("{:.0} %", v * 100.0))
                } else {
                    String::new()
                }
            })
            .draw()
            .map_err(|e| chart_err(&e))?;
        for (r, row) in h.profit.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                let t = (v.abs() / max).sqrt();
                let color = if *v > 0.0 {
                    RGBColor(
                        255,
                        (255.0 * (1.0 - 0.75 * t)) as u8,
                        (255.0 * (1.0 - 0.75 * t)) as u8,
                    )
                } else {
                    RGBColor(
                        (255.0 * (1.0 - 0.75 * t)) as u8,
                        (255.0 * (1.0 - 0.55 * t)) as u8,
                        255,
                    )
                };
                let (x, y) = (c as f64, r as f64);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x, y), (x + 1.0, y + 1.0)],
                        color.filled(),
                    )))
                    .map_err(|e| chart_err(&e))?;
                chart
                    .draw_series(std::iter::once(Text::new(
                        short_usd(*v),
                        (x + 0.3, y + 0.6),
                        ("sans-serif", 13).into_font(),
                    )))
                    .map_err(|e| chart_err(&e))?;
            }
        }
        root.present().map_err(|e| chart_err(&e))?;
    }
    Ok(svg)
}

fn short_usd(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1} M", v / 1e6)
    } else if a >= 1e3 {
        format!("{:.0} k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Drops the XML prolog plotters writes, so the SVG can sit inside HTML.
fn inline(svg: &str) -> &str {
    svg.find("<svg").map_or(svg, |i| &svg[i..])
}

/// The whole report for a set of ensembles (and an optional cartel heatmap).
pub fn html_report(
    title: &str,
    ensembles: &[Ensemble],
    heatmap: Option<&Heatmap>,
) -> Result<String, SimError> {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>\
         body{{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1180px;margin:24px auto;\
         padding:0 16px;color:#222;line-height:1.45}}h1{{font-size:26px}}h2{{font-size:20px;margin-top:36px;\
         border-bottom:1px solid #ddd;padding-bottom:4px}}table{{border-collapse:collapse;margin:8px 0}}\
         td,th{{padding:3px 10px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}}\
         .ok{{color:#17692b;font-weight:600}}.bad{{color:#b3261e;font-weight:600}}.grid{{display:grid;\
         grid-template-columns:repeat(2,560px);gap:8px}}code{{font-size:12px;color:#555}}.verdict{{font-size:15px}}\
         </style></head><body>\n<h1>{t}</h1>\n<p>Each scenario ran many times with the real <code>ogn-ledger</code>; \
         charts show the median across runs (line) and the 5–95 % range (band). Scorecards read the medians \
         (and the 1-in-20 tails where a tail is what breaks).</p>\n",
        t = escape(title)
    );
    h.push_str("<h2>Summary</h2>\n<table><tr><th>scenario</th><th>runs × days</th><th>holds on fees</th><th>only on emissions</th><th>breaks</th><th>checks failing</th></tr>\n");
    for e in ensembles {
        let n = e.runs.max(1) as f64;
        let bad = e.scorecard().iter().filter(|l| !l.holds).count();
        let _ = writeln!(
            h,
            "<tr><td><a href=\"#{0}\">{0}</a></td><td>{1} × {2}</td><td>{3:.0} %</td><td>{4:.0} %</td><td>{5:.0} %</td><td>{6}</td></tr>",
            escape(&e.scenario.name),
            e.runs,
            e.days,
            100.0 * e.verdicts[0] as f64 / n,
            100.0 * e.verdicts[1] as f64 / n,
            100.0 * e.verdicts[2] as f64 / n,
            bad
        );
    }
    h.push_str("</table>\n");
    if let Some(hm) = heatmap {
        let _ = write!(
            h,
            "<h2>Cartel profit by size and slash fraction</h2>\n<p>Net profit of a cartel that fakes results \
             with colluding verifiers: its external gain from faked jobs minus its own slashed bond. Red cells \
             pay the cartel; blue cells cost it.</p>\n{}\n",
            inline(&heatmap_svg(hm)?)
        );
    }
    for e in ensembles {
        let s = &e.scenario;
        let _ = write!(
            h,
            "<h2 id=\"{0}\">{0}</h2>\n<p>{1}<br><code>{2} runs × {3} days, seed {4}; CSV sha256 {5}</code></p>\n<table>\n",
            escape(&s.name),
            escape(&s.description),
            e.runs,
            e.days,
            e.seed,
            e.csv_sha256()
        );
        for l in e.scorecard() {
            let _ = writeln!(
                h,
                "<tr><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
                if l.holds { "ok" } else { "bad" },
                if l.holds { "holds" } else { "breaks" },
                l.metric,
                escape(&l.text)
            );
        }
        h.push_str("</table>\n<div class=\"grid\">\n");
        let mut fans: Vec<(&str, &str, f64, &str)> = FANS.to_vec();
        if s.cartel.is_some() {
            fans.push(("cartel_profit_usd_cum", "Cartel net profit, cumulative", 1.0, "USD"));
        }
        if s.wash.is_some() {
            fans.push(("wash_profit_usd_cum", "Wash inference profit, cumulative", 1.0, "USD"));
        }
        if s.evasion.is_some() {
            fans.push(("evasion_profit_usd_cum", "Slash evasion profit, cumulative", 1.0, "USD"));
        }
        for (col, title, scale, unit) in fans {
            h.push_str(inline(&fan_chart_svg(e, col, title, scale, unit)?));
            h.push('\n');
        }
        h.push_str("</div>\n");
    }
    h.push_str("</body></html>\n");
    Ok(h)
}

/// Writes the report.
pub fn write_html(path: &std::path::Path, html: &str) -> Result<(), SimError> {
    crate::report::write_atomic(path, html.as_bytes())
}

/// SHA-256 of `bytes`, lowercase hex (the hash a report prints).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
