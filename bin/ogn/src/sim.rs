//! `ogn sim`: run the ledger's own code under economic scenarios (ogn-sim) and say whether the incentives hold
//! on real fees or only on inflows.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use ogn_sim::Scenario;

/// Arguments of `ogn sim`.
#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    /// Scenario files (TOML; the repo's are in crates/sim/scenarios).
    #[arg(required = true)]
    scenarios: Vec<PathBuf>,
    /// Seed of the price path and the agents (same seed, same report).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write `<scenario>.csv`, `.json` and `.svg` here.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub(crate) fn run(args: SimArgs, json_mode: bool) -> Result<()> {
    let mut verdicts = Vec::new();
    for path in &args.scenarios {
        let scenario = Scenario::from_path(path)?;
        let report = ogn_sim::run(&scenario, args.seed)
            .with_context(|| format!("simulating {}", path.display()))?;
        if let Some(dir) = &args.out {
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
