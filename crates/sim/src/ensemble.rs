//! Many runs of one scenario, in parallel, summarised as quantiles across runs.
//!
//! ```text
//!  runs 0..N ──► worker threads (run r uses seed S + r) ──► rows of run r ──► in run order ──► sketches
//!                                                                                │   (one per metric per
//!                                                                                │    step, p5/p50/p95)
//!                                                                                └─► per-run summary
//!                                                                                    (verdict, year-by-year
//!                                                                                    coverage, runway, …)
//! ```
//! Runs are computed a batch at a time (four per thread) and their rows fed to the sketches in run order,
//! then dropped: memory is the sketches (steps × metrics × 112 bytes) plus one batch of runs, whatever `N`.
//! Because the feeding order is fixed, the same scenario, seed and run count give the same quantiles and a
//! byte-identical CSV on any number of threads.

use std::fmt::Write as _;

use rayon::prelude::*;
use serde::Serialize;

use crate::{
    Report, Scenario, SimError, Verdict,
    metrics::Row,
    sketch::{QUANTILES, Sketch},
};

/// Per-run scalars kept as quantiles across runs (their names are the keys of [`Ensemble::summary`]).
pub const SUMMARY: &[&str] = &[
    "real_yield_last_year",
    "nominal_yield_last_year",
    "real_cover_last_year",
    "runway_years_end",
    "incentive_pool_opg_end",
    "bonded_ratio_end",
    "peak_lst_discount",
    "max_time_to_exit_days",
    "min_nakamoto",
    "min_security_ratio",
    "operators_end",
    "cartel_profit_usd_end",
    "wash_profit_usd_end",
    "evasion_profit_usd_end",
    "user_losses_usd_end",
    "price_usd_end",
];

fn mean(rows: &[Row], f: impl Fn(&Row) -> f64) -> f64 {
    if rows.is_empty() { 0.0 } else { rows.iter().map(f).sum::<f64>() / rows.len() as f64 }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// The [`SUMMARY`] scalars of one run.
fn summarise(r: &Report) -> Vec<f64> {
    let rows = &r.rows;
    let last = &rows[rows.len().saturating_sub(365)..];
    let end = rows.last().cloned().unwrap_or_default();
    let min = |f: fn(&Row) -> f64| rows.iter().map(f).fold(f64::INFINITY, f64::min);
    let max = |f: fn(&Row) -> f64| rows.iter().map(f).fold(f64::NEG_INFINITY, f64::max);
    let (real, nominal) = (mean(last, |x| x.real_yield), mean(last, |x| x.nominal_yield));
    vec![
        real,
        nominal,
        ratio(real, nominal),
        end.runway_years,
        end.incentive_pool_opg,
        end.bonded_ratio,
        max(|x| x.lst_discount),
        max(|x| x.time_to_exit_days),
        min(|x| x.nakamoto),
        min(|x| x.security_ratio),
        end.operators_active,
        end.cartel_profit_usd_cum,
        end.wash_profit_usd_cum,
        end.evasion_profit_usd_cum,
        end.user_losses_usd_cum,
        end.price_usd,
    ]
}

/// Real yield ÷ nominal yield in each simulated year of one run.
fn cover_by_year(r: &Report) -> Vec<f64> {
    r.rows
        .chunks(365)
        .map(|y| ratio(mean(y, |x| x.real_yield), mean(y, |x| x.nominal_yield)))
        .collect()
}

/// Quantiles across runs of every metric at every step, and of each run's summary.
#[derive(Debug, Clone)]
pub struct Ensemble {
    /// The scenario that ran.
    pub scenario: Scenario,
    /// Seed of run 0 (run `r` uses `seed + r`).
    pub seed: u64,
    /// Runs.
    pub runs: u64,
    /// Steps (days) per run.
    pub days: u64,
    /// Runs per verdict: holds on fees, holds only on inflows, breaks.
    pub verdicts: [u64; 3],
    steps: Vec<Sketch>,
    summary: Vec<Sketch>,
    cover: Vec<Sketch>,
}

/// One line of a scorecard: what was measured, in plain words, and whether it holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreLine {
    /// Metric (issue numbering).
    pub metric: &'static str,
    /// Whether the structure holds on this count.
    pub holds: bool,
    /// The sentence.
    pub text: String,
}

fn pct(x: f64) -> String {
    let p = 100.0 * x;
    if p.abs() < 10.0 && p != 0.0 { format!("{p:.1} %") } else { format!("{p:.0} %") }
}

impl Ensemble {
    fn new(scenario: &Scenario, seed: u64, runs: u64) -> Ensemble {
        let days = scenario.days();
        let years = days.div_ceil(365) as usize;
        Ensemble {
            scenario: scenario.clone(),
            seed,
            runs,
            days,
            verdicts: [0; 3],
            steps: vec![Sketch::new(); days as usize * Row::COLUMNS.len()],
            summary: vec![Sketch::new(); SUMMARY.len()],
            cover: vec![Sketch::new(); years],
        }
    }

    /// Feeds a batch of runs, in run order. The per-step sketches are fed in parallel by ranges of days;
    /// each sketch still sees the runs in order, so the result does not depend on the thread count.
    fn feed_batch(&mut self, reports: &[Report]) {
        const DAYS_PER_TASK: usize = 64;
        let ncol = Row::COLUMNS.len();
        self.steps.par_chunks_mut(ncol * DAYS_PER_TASK).enumerate().for_each(|(task, chunk)| {
            let day0 = task * DAYS_PER_TASK;
            for r in reports {
                for (k, sketches) in chunk.chunks_mut(ncol).enumerate() {
                    if let Some(row) = r.rows.get(day0 + k) {
                        for (s, v) in sketches.iter_mut().zip(row.array()) {
                            s.push(v);
                        }
                    }
                }
            }
        });
        for r in reports {
            self.feed_summary(r);
        }
    }

    fn feed_summary(&mut self, r: &Report) {
        for (s, v) in self.summary.iter_mut().zip(summarise(r)) {
            s.push(v);
        }
        for (s, v) in self.cover.iter_mut().zip(cover_by_year(r)) {
            s.push(v);
        }
        self.verdicts[match r.verdict {
            Verdict::HoldsOnFees => 0,
            Verdict::HoldsOnlyOnInflows => 1,
            Verdict::Breaks => 2,
        }] += 1;
    }

    /// p5, p50, p95 of a metric ([`Row::COLUMNS`]) on a day; `None` for an unknown column or day.
    pub fn quantiles(&self, day: u64, column: &str) -> Option<[f64; 3]> {
        let c = Row::COLUMNS.iter().position(|x| *x == column)?;
        (day < self.days).then(|| self.steps[day as usize * Row::COLUMNS.len() + c].quantiles())
    }

    /// p5, p50, p95 of a metric on every day.
    pub fn series(&self, column: &str) -> Vec<[f64; 3]> {
        (0..self.days).filter_map(|d| self.quantiles(d, column)).collect()
    }

    /// p5, p50, p95 across runs of a per-run scalar named in [`SUMMARY`].
    pub fn summary(&self, name: &str) -> Option<[f64; 3]> {
        SUMMARY.iter().position(|x| *x == name).map(|i| self.summary[i].quantiles())
    }

    /// p5, p50, p95 across runs of real ÷ nominal yield in year `year` (1-based).
    pub fn real_cover(&self, year: usize) -> Option<[f64; 3]> {
        self.cover.get(year.checked_sub(1)?).map(Sketch::quantiles)
    }

    /// Long-format CSV in the cadCAD/radCAD layout, with the quantile in place of the run:
    /// `quantile,timestep,<metric>…`, three rows (p5, p50, p95) per step.
    pub fn to_csv(&self) -> String {
        let ncol = Row::COLUMNS.len();
        let mut out = String::from("quantile,timestep");
        for c in Row::COLUMNS {
            out.push(',');
            out.push_str(c);
        }
        out.push('\n');
        for t in 0..self.days as usize {
            let qs: Vec<[f64; 3]> =
                self.steps[t * ncol..(t + 1) * ncol].iter().map(Sketch::quantiles).collect();
            for (k, p) in QUANTILES.iter().enumerate() {
                let _ = write!(out, "p{:.0},{}", p * 100.0, t + 1);
                for q in &qs {
                    let _ = write!(out, ",{}", q[k]);
                }
                out.push('\n');
            }
        }
        out
    }

    /// SHA-256 of [`Ensemble::to_csv`], hex.
    pub fn csv_sha256(&self) -> String {
        crate::html::sha256_hex(self.to_csv().as_bytes())
    }

    /// The scorecard: what holds and what breaks, in plain words, from the medians across runs (with the
    /// 5–95 % range where it matters).
    pub fn scorecard(&self) -> Vec<ScoreLine> {
        let s = &self.scenario;
        let mut out = Vec::new();
        let mut add = |metric: &'static str, holds: bool, text: String| {
            out.push(ScoreLine { metric, holds, text });
        };
        let q = |name: &str| self.summary(name).unwrap_or([0.0; 3]);
        let years = self.cover.len();
        let y5 = years.min(5);
        if let Some(c) = self.real_cover(y5) {
            add(
                "M1",
                // Holds when fees pay at least half of what stakers earn.
                c[1] >= 0.5,
                format!(
                    "real yield covers {} of nominal yield in year {y5} (5–95 %: {}–{})",
                    pct(c[1]),
                    pct(c[0]),
                    pct(c[2])
                ),
            );
        }
        let (real, nominal) = (q("real_yield_last_year"), q("nominal_yield_last_year"));
        let hurdle = s.hurdle();
        add(
            "M1",
            real[1] >= hurdle,
            format!(
                "in the last year stakers earn {:.1} % a year from fees and {:.1} % in all (hurdle {:.1} %)",
                100.0 * real[1],
                100.0 * nominal[1],
                100.0 * hurdle
            ),
        );
        let runway = q("runway_years_end");
        add(
            "M11",
            runway[1] >= 5.0,
            format!(
                "incentive pool runway {:.1} years at the end ({:.0} M OPG left)",
                runway[1],
                q("incentive_pool_opg_end")[1] / 1e6
            ),
        );
        let [fees, inflows, breaks] = self.verdicts;
        let n = self.runs.max(1) as f64;
        add(
            "verdict",
            breaks == 0 && fees as f64 >= 0.5 * n,
            format!(
                "of {} runs, the incentives hold on fees in {}, only on emissions in {}, break in {}",
                self.runs,
                pct(fees as f64 / n),
                pct(inflows as f64 / n),
                pct(breaks as f64 / n)
            ),
        );
        let disc = q("peak_lst_discount");
        add(
            "M7",
            disc[2] <= s.verdict.max_lst_discount,
            format!(
                "stOPG trades at most {} below its redemption value (1 run in 20: {}); longest exit {:.0} days",
                pct(disc[1]),
                pct(disc[2]),
                q("max_time_to_exit_days")[2]
            ),
        );
        let sec = q("min_security_ratio");
        add(
            "M3",
            sec[0] >= s.verdict.security_ratio,
            format!(
                "stake at risk covers at least {:.1}× the value secured per day (worst run in 20: {:.1}×)",
                sec[1], sec[0]
            ),
        );
        let nak = q("min_nakamoto");
        add(
            "M9",
            nak[0] >= f64::from(s.verdict.min_nakamoto),
            format!(
                "Nakamoto coefficient never below {:.0} (worst run in 20: {:.0})",
                nak[1], nak[0]
            ),
        );
        let losses = q("user_losses_usd_end");
        add(
            "M5",
            losses[2] <= 0.0,
            format!(
                "users lose {:.0} USD to undetected wrong results (1 run in 20: {:.0})",
                losses[1], losses[2]
            ),
        );
        if s.cartel.is_some() {
            let c = q("cartel_profit_usd_end");
            add(
                "S6",
                c[2] < 0.0,
                format!("the cartel nets {:.0} USD (1 run in 20: {:.0})", c[1], c[2]),
            );
        }
        if s.wash.is_some() {
            let w = q("wash_profit_usd_end");
            add(
                "M13",
                w[2] <= 0.0,
                format!("wash inference nets {:.0} USD (1 run in 20: {:.0})", w[1], w[2]),
            );
        }
        if s.evasion.is_some() {
            let v = q("evasion_profit_usd_end");
            add(
                "S15",
                v[2] <= 0.0,
                format!(
                    "operators who unbond before their fraud is proven net {:.0} USD (1 run in 20: {:.0})",
                    v[1], v[2]
                ),
            );
        }
        let ops = q("operators_end");
        add("M8", ops[1] >= 1.0, format!("{:.0} operators remain at the end", ops[1]));
        out
    }

    /// The scorecard as text, one line per count.
    pub fn scorecard_text(&self) -> String {
        let mut out = format!(
            "scenario {} ({} runs × {} days, seed {}): {}\n",
            self.scenario.name, self.runs, self.days, self.seed, self.scenario.description
        );
        for l in self.scorecard() {
            let _ =
                writeln!(out, "  [{}] {}: {}", if l.holds { "ok" } else { "!!" }, l.metric, l.text);
        }
        out
    }
}

/// Runs a scenario `runs` times on `threads` threads (0: one per core), run `r` with seed `seed + r`,
/// checking the ledger's invariants every `check_every` steps and on the last; calls `progress(done, runs)`
/// after each run. A broken invariant in any run fails the whole ensemble.
pub fn run_many(
    scenario: &Scenario,
    runs: u64,
    seed: u64,
    threads: usize,
    check_every: u64,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Ensemble, SimError> {
    scenario.validate()?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| SimError::Setup(e.to_string()))?;
    let mut ens = Ensemble::new(scenario, seed, runs);
    let batch = 4 * pool.current_num_threads() as u64;
    let done = std::sync::atomic::AtomicU64::new(0);
    let mut start = 0;
    while start < runs {
        let end = (start + batch).min(runs);
        let reports: Vec<Result<Report, SimError>> = pool.install(|| {
            (start..end)
                .into_par_iter()
                .map(|r| {
                    let rep =
                        crate::run_with(scenario, seed.wrapping_add(r), check_every, |_, _| {});
                    progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1, runs);
                    rep
                })
                .collect()
        });
        let reports = reports.into_iter().collect::<Result<Vec<Report>, SimError>>()?;
        pool.install(|| ens.feed_batch(&reports));
        start = end;
    }
    Ok(ens)
}
