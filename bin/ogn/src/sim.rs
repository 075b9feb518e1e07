//! `ogn sim`: run the ledger's own code under economic scenarios (ogn-sim) and say whether the incentives hold
//! on real fees or only on inflows.
//!
//! ```text
//! ogn sim FILE… [--seed N] [--out DIR]                      one run per scenario: verdict, CSV/JSON/SVG
//! ogn sim run FILE… --runs N [--years Y] [--seed S] [--out DIR] [--threads T]
//!                                                           N runs in parallel: quantiles CSV, scorecard,
//!                                                           report.html (fan charts, cartel heatmap)
//! ogn sim compare A.toml B.toml [--runs N] [--years Y]      two parameter sets side by side
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ogn_sim::{Ensemble, Scenario};

/// Arguments of `ogn sim`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct SimArgs {
    #[command(subcommand)]
    command: Option<SimCommand>,
    /// Scenario files (TOML; the repo's are in crates/sim/scenarios): one run each.
    #[arg(required = true)]
    scenarios: Vec<PathBuf>,
    /// Seed of the price path and the agents (same seed, same report).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write `<scenario>.csv`, `.json` and `.svg` here.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum SimCommand {
    /// Run each scenario many times in parallel; report quantiles across runs (p5/p50/p95).
    Run(RunArgs),
    /// Run two scenarios with the same seeds and show their parameters and scorecards side by side.
    Compare(CompareArgs),
}

#[derive(Debug, Args)]
struct Common {
    /// Runs per scenario (run r uses seed S + r).
    #[arg(long, default_value_t = 100)]
    runs: u64,
    /// Horizon in years (default: the scenario's).
    #[arg(long)]
    years: Option<f64>,
    /// Seed of run 0.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Check the ledger's invariants every this many steps (and on the last; 1: every step).
    #[arg(long, default_value_t = 30)]
    check_every: u64,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Scenario files.
    #[arg(required = true)]
    scenarios: Vec<PathBuf>,
    #[command(flatten)]
    common: Common,
    /// Write `<scenario>.quantiles.csv` and `report.html` here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Runs per cell of the cartel heatmap (drawn when a scenario has a [cartel]; 0: no heatmap).
    #[arg(long, default_value_t = 4)]
    heatmap_runs: u64,
}

#[derive(Debug, Args)]
struct CompareArgs {
    /// First scenario.
    a: PathBuf,
    /// Second scenario.
    b: PathBuf,
    #[command(flatten)]
    common: Common,
    /// Write both quantile CSVs and a side-by-side `report.html` here.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub(crate) fn run(args: SimArgs, json_mode: bool) -> Result<()> {
    match args.command {
        Some(SimCommand::Run(a)) => run_many(a, json_mode),
        Some(SimCommand::Compare(a)) => compare(a, json_mode),
        None => run_single(args.scenarios, args.seed, args.out, json_mode),
    }
}

fn run_single(
    scenarios: Vec<PathBuf>,
    seed: u64,
    out: Option<PathBuf>,
    json_mode: bool,
) -> Result<()> {
    let mut verdicts = Vec::new();
    for path in &scenarios {
        let scenario = Scenario::from_path(path)?;
        let report = ogn_sim::run(&scenario, seed)
            .with_context(|| format!("simulating {}", path.display()))?;
        if let Some(dir) = &out {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("scenario");
            report.write_csv(&dir.join(format!("{stem}.csv")))?;
            report.write_json(&dir.join(format!("{stem}.json")))?;
            report.write_svg(&dir.join(format!("{stem}.svg")))?;
        }
        if json_mode {
            verdicts.push(serde_json::json!({
                "scenario": scenario.name, "file": path, "verdict": report.verdict.as_str(),
            }));
        } else {
            println!("{}\n", report.summary());
        }
    }
    if json_mode {
        println!("{}", serde_json::to_string_pretty(&verdicts)?);
    }
    Ok(())
}

fn load(path: &Path, years: Option<f64>) -> Result<Scenario> {
    let mut s = Scenario::from_path(path)?;
    if let Some(y) = years {
        s.years = y;
    }
    Ok(s)
}

/// Runs one ensemble behind a progress bar (drawn only on a terminal).
fn ensemble(s: &Scenario, c: &Common) -> Result<Ensemble> {
    let bar = ProgressBar::with_draw_target(Some(c.runs), ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} runs {elapsed} eta {eta}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(s.name.clone());
    let progress = |done: u64, _: u64| bar.set_position(done);
    let e = ogn_sim::run_many(s, c.runs, c.seed, c.threads, c.check_every.max(1), &progress)
        .with_context(|| format!("simulating {}", s.name))?;
    bar.finish_and_clear();
    Ok(e)
}

fn write_outputs(
    dir: &Path,
    title: &str,
    ensembles: &[Ensemble],
    heatmap: Option<&ogn_sim::html::Heatmap>,
) -> Result<String> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for e in ensembles {
        let path = dir.join(format!("{}.quantiles.csv", e.scenario.name));
        std::fs::write(&path, e.to_csv()).with_context(|| format!("writing {}", path.display()))?;
    }
    let html = ogn_sim::html::html_report(title, ensembles, heatmap)?;
    let path = dir.join("report.html");
    ogn_sim::html::write_html(&path, &html)?;
    Ok(ogn_sim::html::sha256_hex(html.as_bytes()))
}

fn run_many(a: RunArgs, json_mode: bool) -> Result<()> {
    let mut ensembles = Vec::new();
    let mut heatmap = None;
    for path in &a.scenarios {
        let s = load(path, a.common.years)?;
        let e = ensemble(&s, &a.common)?;
        if heatmap.is_none() && a.heatmap_runs > 0 && a.out.is_some() && s.cartel.is_some() {
            let sizes = [0.05, 0.1, 0.2, 0.35, 0.5];
            let slashes = [0.01, 0.05, 0.1, 0.2, 0.5];
            let mut hs = s.clone();
            hs.years = hs.years.min(2.0);
            heatmap = Some(ogn_sim::html::cartel_heatmap(
                &hs,
                &sizes,
                &slashes,
                a.heatmap_runs,
                a.common.seed,
                a.common.threads,
            )?);
        }
        if !json_mode {
            print!("{}", e.scorecard_text());
            println!("  quantiles CSV sha256 {}\n", e.csv_sha256());
        }
        ensembles.push(e);
    }
    let report = match &a.out {
        Some(dir) => {
            Some(write_outputs(dir, "ogn sim: scenario report", &ensembles, heatmap.as_ref())?)
        }
        None => None,
    };
    if json_mode {
        let items: Vec<_> = ensembles
            .iter()
            .map(|e| {
                serde_json::json!({
                    "scenario": e.scenario.name,
                    "runs": e.runs,
                    "days": e.days,
                    "verdicts": {"holds_on_fees": e.verdicts[0], "holds_only_on_inflows": e.verdicts[1], "breaks": e.verdicts[2]},
                    "scorecard": e.scorecard(),
                    "csv_sha256": e.csv_sha256(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"scenarios": items, "report_sha256": report})
            )?
        );
    } else if let (Some(dir), Some(hash)) = (&a.out, &report) {
        println!("report {} sha256 {hash}", dir.join("report.html").display());
    }
    Ok(())
}

/// Scenario fields that differ between two scenarios, as `path: a → b` (from their TOML form).
fn differences(a: &Scenario, b: &Scenario) -> Vec<(String, String, String)> {
    fn walk(
        prefix: &str,
        a: &toml::Value,
        b: Option<&toml::Value>,
        out: &mut Vec<(String, String, String)>,
    ) {
        match (a, b) {
            (toml::Value::Table(ta), Some(toml::Value::Table(tb))) => {
                let keys: std::collections::BTreeSet<&String> =
                    ta.keys().chain(tb.keys()).collect();
                for k in keys {
                    let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    match (ta.get(k), tb.get(k)) {
                        (Some(x), y) => walk(&p, x, y, out),
                        (None, Some(y)) => out.push((p, "—".into(), y.to_string())),
                        (None, None) => {}
                    }
                }
            }
            (x, Some(y)) if x != y => out.push((prefix.into(), x.to_string(), y.to_string())),
            (x, None) => out.push((prefix.into(), x.to_string(), "—".into())),
            _ => {}
        }
    }
    let (Ok(ta), Ok(tb)) = (toml::Value::try_from(a), toml::Value::try_from(b)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    walk("", &ta, Some(&tb), &mut out);
    out
}

fn compare(a: CompareArgs, json_mode: bool) -> Result<()> {
    let sa = load(&a.a, a.common.years)?;
    let sb = load(&a.b, a.common.years)?;
    let ea = ensemble(&sa, &a.common)?;
    let eb = ensemble(&sb, &a.common)?;
    let diff = differences(&sa, &sb);
    let report = match &a.out {
        Some(dir) => Some(write_outputs(
            dir,
            &format!("ogn sim compare: {} vs {}", sa.name, sb.name),
            &[ea.clone(), eb.clone()],
            None,
        )?),
        None => None,
    };
    if json_mode {
        let d: Vec<_> = diff
            .iter()
            .map(|(k, x, y)| serde_json::json!({"parameter": k, "a": x, "b": y}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "a": {"scenario": sa.name, "scorecard": ea.scorecard(), "verdicts": ea.verdicts},
                "b": {"scenario": sb.name, "scorecard": eb.scorecard(), "verdicts": eb.verdicts},
                "differences": d,
                "report_sha256": report,
            }))?
        );
        return Ok(());
    }
    println!("{} vs {} ({} runs each, seed {})", sa.name, sb.name, a.common.runs, a.common.seed);
    println!("\nparameters that differ:");
    let w = diff.iter().map(|d| d.0.len()).max().unwrap_or(0);
    for (k, x, y) in &diff {
        println!("  {k:w$}  {x}  →  {y}");
    }
    println!("\nmedians across runs (p50):");
    let rows: &[(&str, &str, f64)] = &[
        ("real_yield_last_year", "real yield, last year (%)", 100.0),
        ("nominal_yield_last_year", "nominal yield, last year (%)", 100.0),
        ("real_cover_last_year", "real ÷ nominal, last year (%)", 100.0),
        ("runway_years_end", "incentive runway at the end (years)", 1.0),
        ("bonded_ratio_end", "bonded ratio at the end (%)", 100.0),
        ("peak_lst_discount", "peak stOPG discount (%)", 100.0),
        ("min_security_ratio", "lowest security ratio (×)", 1.0),
        ("min_nakamoto", "lowest Nakamoto coefficient", 1.0),
        ("operators_end", "operators at the end", 1.0),
        ("cartel_profit_usd_end", "cartel profit (USD)", 1.0),
        ("wash_profit_usd_end", "wash inference profit (USD)", 1.0),
        ("user_losses_usd_end", "user losses (USD)", 1.0),
    ];
    println!("  {:40} {:>14} {:>14}", "", sa.name, sb.name);
    for (key, label, scale) in rows {
        let (x, y) =
            (ea.summary(key).unwrap_or_default()[1], eb.summary(key).unwrap_or_default()[1]);
        println!("  {label:40} {:>14.2} {:>14.2}", x * scale, y * scale);
    }
    for e in [&ea, &eb] {
        println!();
        print!("{}", e.scorecard_text());
    }
    if let (Some(dir), Some(hash)) = (&a.out, &report) {
        println!("\nreport {} sha256 {hash}", dir.join("report.html").display());
    }
    Ok(())
}
