//! Runs scenario files and writes their CSV, JSON and SVG: `run_scenario [--seed N] [--out DIR] FILE…`.
//! With `--bench`, prints only the time per simulated step (used by `bench/sim-vs-radcad`); with `--ensemble`
//! (and `--threads T`, 0: one per core), runs the `--runs` in parallel into quantile sketches, as
//! `ogn sim run` does, and prints the time per simulated step of the whole ensemble.

use std::{path::PathBuf, time::Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut seed, mut out, mut files, mut bench, mut runs) = (1u64, None, Vec::new(), false, 1u64);
    let (mut ensemble, mut threads, mut years) = (false, 0usize, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seed" => seed = args.next().and_then(|v| v.parse().ok()).expect("--seed N"),
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--out" => out = Some(PathBuf::from(args.next().expect("--out DIR"))),
            "--bench" => bench = true,
            "--ensemble" => ensemble = true,
            "--threads" => threads = args.next().and_then(|v| v.parse().ok()).expect("--threads T"),
            "--years" => years = args.next().and_then(|v| v.parse::<f64>().ok()),
            _ => files.push(PathBuf::from(a)),
        }
    }
    for f in files {
        let s = match ogn_sim::Scenario::from_path(&f) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        };
        let mut s = s;
        if let Some(y) = years {
            s.years = y;
        }
        let start = Instant::now();
        if ensemble {
            let e =
                ogn_sim::run_many(&s, runs, seed, threads, 30, &|_, _| {}).unwrap_or_else(|e| {
                    eprintln!("{}: {e}", f.display());
                    std::process::exit(1)
                });
            let secs = start.elapsed().as_secs_f64();
            let steps = runs as f64 * e.days as f64;
            println!(
                "{} ensemble runs={runs} steps={steps} seconds={secs:.4} us_per_step={:.3} csv_sha256={}",
                s.name,
                1e6 * secs / steps,
                e.csv_sha256()
            );
            continue;
        }
        let mut last = None;
        for r in 0..runs {
            // Invariants are still checked, every 30 steps and at the end, when timing.
            let every = if bench { 30 } else { 1 };
            match ogn_sim::run_with(&s, seed + r, every, |_, _| {}) {
                Ok(rep) => last = Some(rep),
                Err(e) => {
                    eprintln!("{}: {e}", f.display());
                    std::process::exit(1);
                }
            }
        }
        let report = last.expect("at least one run");
        let secs = start.elapsed().as_secs_f64();
        let steps = runs as f64 * report.rows.len() as f64;
        if bench {
            println!(
                "{} runs={runs} steps={steps} seconds={secs:.4} us_per_step={:.3}",
                s.name,
                1e6 * secs / steps
            );
            continue;
        }
        print!("{}", report.summary());
        if let Some(dir) = &out {
            std::fs::create_dir_all(dir).expect("create output directory");
            report.write_csv(&dir.join(format!("{}.csv", s.name))).expect("csv");
            report.write_json(&dir.join(format!("{}.json", s.name))).expect("json");
            report.write_svg(&dir.join(format!("{}.svg", s.name))).expect("svg");
        }
    }
}
