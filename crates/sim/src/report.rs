//! A run's result: the daily rows, the verdict in plain words, and writers for CSV, JSON and SVG.

use std::{fmt::Write as _, io::Write as _, path::Path};

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{SimError, metrics::Row, scenario::Scenario};

/// Where the yield comes from at the end of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Real yield (fees alone) meets the hurdle: the incentives hold without inflows.
    HoldsOnFees,
    /// Only emissions lift the yield to the hurdle: the incentives hold on inflows, not on structure.
    HoldsOnlyOnInflows,
    /// Even the nominal yield is below the hurdle, or half the bonded stake left to keep it up.
    Breaks,
}

impl Verdict {
    /// The verdict in words.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::HoldsOnFees => "holds on fees",
            Verdict::HoldsOnlyOnInflows => "holds only on inflows (emissions)",
            Verdict::Breaks => "breaks (yield below the alternative, or stake fled)",
        }
    }
}

/// One pass/fail check of the scorecard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The metric checked.
    pub metric: String,
    /// Whether it holds.
    pub holds: bool,
    /// What was measured, in plain words.
    pub text: String,
}

/// A finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Scenario description.
    pub description: String,
    /// Seed of the run.
    pub seed: u64,
    /// One row per day.
    pub rows: Vec<Row>,
    /// Where the yield comes from in the last year.
    pub verdict: Verdict,
    /// The scorecard.
    pub findings: Vec<Finding>,
    /// Ledger invariant violations (always 0 in a finished report: a violation fails the run).
    pub invariant_violations: u64,
}

fn mean(rows: &[Row], f: impl Fn(&Row) -> f64) -> f64 {
    if rows.is_empty() { 0.0 } else { rows.iter().map(f).sum::<f64>() / rows.len() as f64 }
}

fn pct(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

impl Report {
    /// Builds the verdict and scorecard from the rows.
    pub(crate) fn new(s: &Scenario, seed: u64, rows: Vec<Row>) -> Report {
        let n = rows.len();
        let last = &rows[n.saturating_sub(365)..];
        let first = &rows[..n.min(365)];
        let hurdle = s.hurdle();
        let real = mean(last, |r| r.real_yield);
        let nominal = mean(last, |r| r.nominal_yield);
        let bonded_start = first.first().map_or(0.0, |r| r.bonded_ratio);
        let bonded_end = rows.last().map_or(0.0, |r| r.bonded_ratio);
        // Stake that halves keeps the yield per remaining token up only by giving up security.
        let fled = bonded_end < 0.5 * bonded_start;
        let verdict = if nominal < hurdle || fled {
            Verdict::Breaks
        } else if real >= hurdle {
            Verdict::HoldsOnFees
        } else {
            Verdict::HoldsOnlyOnInflows
        };
        let year = n as f64 / 365.0;
        let end = rows.last().cloned().unwrap_or_default();
        let mut findings = Vec::new();
        let mut add = |metric: &str, holds: bool, text: String| {
            findings.push(Finding { metric: metric.into(), holds, text });
        };
        add(
            "M1 yield",
            verdict == Verdict::HoldsOnFees,
            format!(
                "real yield {} vs nominal {} in year {year:.0} (fees cover {} of nominal; hurdle {}); \
                 subsidy ratio {} (year 1: {})",
                pct(real),
                pct(nominal),
                pct(if nominal > 0.0 { real / nominal } else { 0.0 }),
                pct(hurdle),
                pct(mean(last, |r| r.subsidy_ratio)),
                pct(mean(first, |r| r.subsidy_ratio)),
            ),
        );
        let bonded0 = first.first().map_or(0.0, |r| r.bonded_ratio);
        add(
            "bonded ratio",
            end.bonded_ratio >= 0.8 * bonded0,
            format!(
                "bonded ratio {} at the start, {} at the end",
                pct(bonded0),
                pct(end.bonded_ratio)
            ),
        );
        add(
            "M2 protocol earnings",
            mean(last, |r| r.protocol_earnings_usd) >= 0.0,
            format!(
                "protocol earnings {:.0} USD/day in the last year",
                mean(last, |r| r.protocol_earnings_usd)
            ),
        );
        let min_sec = rows.iter().map(|r| r.security_ratio).fold(f64::INFINITY, f64::min);
        add(
            "M3 security",
            min_sec >= s.verdict.security_ratio,
            format!(
                "security budget ÷ value secured per day: lowest {min_sec:.2} (needs ≥ {:.2}), end {:.2}",
                s.verdict.security_ratio, end.security_ratio
            ),
        );
        let cheated: f64 = rows.iter().map(|r| r.cheated_jobs).sum();
        let detected: f64 = rows.iter().map(|r| r.detected_cheats).sum();
        let min_q = rows.iter().map(|r| r.detection_rate).fold(f64::INFINITY, f64::min);
        add(
            "M4/M5 verification",
            end.user_losses_usd_cum <= 0.001 * end.user_fees_usd_cum.max(1.0),
            format!(
                "{cheated:.0} jobs faked, {detected:.0} caught and slashed; detection rate ≥ {}; \
                 losses from undetected wrong results {:.0} USD ({} of fees paid)",
                pct(min_q),
                end.user_losses_usd_cum,
                pct(end.user_losses_usd_cum / end.user_fees_usd_cum.max(1.0)),
            ),
        );
        let min_margin = rows.iter().map(|r| r.honesty_margin_usd).fold(f64::INFINITY, f64::min);
        add(
            "M6 honesty margin",
            min_margin > 0.0,
            format!("median operator's honesty margin per job: lowest {min_margin:.4} USD"),
        );
        let peak_disc = rows.iter().map(|r| r.lst_discount).fold(0.0, f64::max);
        let days_disc = rows.iter().filter(|r| r.lst_discount > s.verdict.max_lst_discount).count();
        let max_exit = rows.iter().map(|r| r.time_to_exit_days).fold(0.0, f64::max);
        add(
            "M7 exit and stOPG discount",
            peak_disc <= s.verdict.max_lst_discount,
            format!(
                "peak stOPG discount {} ({days_disc} days above {}); longest exit {max_exit:.0} days",
                pct(peak_disc),
                pct(s.verdict.max_lst_discount)
            ),
        );
        let start_ops = first.first().map_or(0.0, |r| r.operators_active);
        add(
            "M8 operators",
            end.operators_unprofitable <= 0.5 * end.operators_active,
            format!(
                "{:.0} operators at the start, {:.0} at the end ({:.0} unprofitable); median profit {:.0} USD/day; \
                 break-even price {:.3} USD vs price {:.3}",
                start_ops,
                end.operators_active,
                end.operators_unprofitable,
                end.operator_profit_p50_usd,
                end.break_even_price_usd,
                end.price_usd
            ),
        );
        let min_nak = rows.iter().map(|r| r.nakamoto).fold(f64::INFINITY, f64::min);
        add(
            "M9 concentration",
            min_nak >= f64::from(s.verdict.min_nakamoto),
            format!(
                "Nakamoto coefficient (1/3 of validator stake) lowest {min_nak:.0}, end {:.0}; HHI {:.0}; \
                 stOPG holds {} of stake",
                end.nakamoto,
                end.hhi,
                pct(end.lst_stake_share)
            ),
        );
        let min_served = rows.iter().map(|r| r.served_share).fold(f64::INFINITY, f64::min);
        add(
            "M10 capacity",
            min_served >= 0.95,
            format!("lowest share of demand served {}", pct(min_served)),
        );
        add(
            "M11 runway",
            true,
            format!(
                "incentive pool {:.1} M OPG left, runway {:.1} years at the current payout",
                end.incentive_pool_opg / 1e6,
                end.runway_years
            ),
        );
        if s.slash_event.is_some() {
            add(
                "M12 cascade",
                end.cascade_ratio <= 1.1,
                format!("cascade size {:.2}× the initial slash", end.cascade_ratio),
            );
        }
        if s.cartel.is_some() {
            add(
                "S6 cartel profit",
                end.cartel_profit_usd_cum < 0.0,
                format!("cartel net profit {:.0} USD", end.cartel_profit_usd_cum),
            );
        }
        if s.wash.is_some() {
            add(
                "M13 wash inference",
                end.wash_profit_usd_cum <= 0.0,
                format!(
                    "wash inference nets {:.0} USD (fees it paid come back only in part; emissions follow \
                     stake, not fees)",
                    end.wash_profit_usd_cum
                ),
            );
        }
        if s.evasion.is_some() {
            add(
                "S15 slash evasion",
                end.evasion_profit_usd_cum <= 0.0,
                format!(
                    "evaders net {:.0} USD after unbonding before the fraud was proven",
                    end.evasion_profit_usd_cum
                ),
            );
        }
        Report {
            scenario: s.name.clone(),
            description: s.description.clone(),
            seed,
            rows,
            verdict,
            findings,
            invariant_violations: 0,
        }
    }

    /// Plain-words summary: the verdict and the scorecard.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "scenario {} (seed {}, {} days): {}\n  {}\n",
            self.scenario,
            self.seed,
            self.rows.len(),
            self.verdict.as_str().to_uppercase(),
            self.description
        );
        for f in &self.findings {
            let _ =
                writeln!(out, "  [{}] {}: {}", if f.holds { "ok" } else { "!!" }, f.metric, f.text);
        }
        let _ = writeln!(out, "  ledger invariant violations: {}", self.invariant_violations);
        out
    }

    /// The rows as CSV in the cadCAD/radCAD layout (`run`, `timestep`, then one column per metric).
    /// Byte-identical for the same scenario and seed.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("run,timestep");
        for c in Row::COLUMNS {
            out.push(',');
            out.push_str(c);
        }
        out.push('\n');
        for (t, r) in self.rows.iter().enumerate() {
            let _ = write!(out, "{},{}", self.seed, t + 1);
            for v in r.values() {
                let _ = write!(out, ",{v}");
            }
            out.push('\n');
        }
        out
    }

    /// Writes [`Report::to_csv`] to `path` (through a temporary file, so no half-written file is left).
    pub fn write_csv(&self, path: &Path) -> Result<(), SimError> {
        write_atomic(path, self.to_csv().as_bytes())
    }

    /// Writes the whole report (rows, verdict, scorecard) as JSON.
    pub fn write_json(&self, path: &Path) -> Result<(), SimError> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| SimError::Io(e.to_string()))?;
        write_atomic(path, &json)
    }

    /// The charts as one SVG document: yields, subsidy ratio, price, security ratio, stOPG discount,
    /// operators, Nakamoto coefficient and served share over time.
    pub fn to_svg(&self) -> Result<String, SimError> {
        const PANELS: &[(&str, &[&str])] = &[
            ("yield per year (nominal vs fees only)", &["nominal_yield", "real_yield"]),
            ("subsidy ratio", &["subsidy_ratio"]),
            ("OPG price, USD", &["price_usd"]),
            ("security budget ÷ value secured per day", &["security_ratio"]),
            ("stOPG discount", &["lst_discount"]),
            ("active and unprofitable operators", &["operators_active", "operators_unprofitable"]),
            ("Nakamoto coefficient (validators, 1/3)", &["nakamoto"]),
            ("share of demand served", &["served_share"]),
        ];
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (1200, 1400)).into_drawing_area();
            let draw = |e: &dyn std::fmt::Display| SimError::Chart(e.to_string());
            root.fill(&WHITE).map_err(|e| draw(&e))?;
            let title =
                format!("{} (seed {}): {}", self.scenario, self.seed, self.verdict.as_str());
            let (top, body) = root.split_vertically(40);
            top.draw_text(&title, &("sans-serif", 22).into_text_style(&top), (10, 10))
                .map_err(|e| draw(&e))?;
            let areas = body.split_evenly((4, 2));
            let colors = [RGBColor(31, 119, 180), RGBColor(214, 39, 40)];
            for (area, (caption, cols)) in areas.iter().zip(PANELS) {
                let series: Vec<Vec<(f64, f64)>> = cols
                    .iter()
                    .map(|c| {
                        self.rows
                            .iter()
                            .map(|r| (r.day / 365.0, r.get(c).unwrap_or(0.0)))
                            .filter(|(_, y)| y.is_finite() && y.abs() < 1e8)
                            .collect()
                    })
                    .collect();
                let ys = series.iter().flatten().map(|p| p.1);
                let (lo, hi) =
                    ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| (a.min(y), b.max(y)));
                let (lo, hi) = if lo.is_finite() {
                    (lo.min(0.0), hi.max(lo + 1e-9) * 1.05)
                } else {
                    (0.0, 1.0)
                };
                let x_max = (self.rows.len() as f64 / 365.0).max(1.0 / 365.0);
                let mut chart = ChartBuilder::on(area)
                    .caption(*caption, ("sans-serif", 16))
                    .margin(8)
                    .x_label_area_size(28)
                    .y_label_area_size(60)
                    .build_cartesian_2d(0.0..x_max, lo..hi)
                    .map_err(|e| draw(&e))?;
                chart
                    .configure_mesh()
                    .x_desc("years")
                    .light_line_style(WHITE)
                    .draw()
                    .map_err(|e| draw(&e))?;
                for (k, (points, name)) in series.into_iter().zip(cols.iter()).enumerate() {
                    let color = colors[k % colors.len()];
                    chart
                        .draw_series(LineSeries::new(points, color.stroke_width(2)))
                        .map_err(|e| draw(&e))?
                        .label(*name)
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
                }
                if cols.len() > 1 {
                    chart
                        .configure_series_labels()
                        .background_style(WHITE.mix(0.8))
                        .border_style(BLACK)
                        .draw()
                        .map_err(|e| draw(&e))?;
                }
            }
            root.present().map_err(|e| draw(&e))?;
        }
        Ok(svg)
    }

    /// Writes [`Report::to_svg`] to `path`.
    pub fn write_svg(&self, path: &Path) -> Result<(), SimError> {
        write_atomic(path, self.to_svg()?.as_bytes())
    }
}

/// Writes `bytes` to a temporary file beside `path`, then renames it into place.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SimError> {
    let io = |e: std::io::Error| SimError::Io(format!("writing {}: {e}", path.display()));
    let name = path
        .file_name()
        .ok_or_else(|| SimError::Io(format!("{} is not a file path", path.display())))?;
    let tmp = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    if let Err(e) = f.write_all(bytes).and_then(|()| f.sync_all()) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}
