//! Regenerates the case-study plots of `docs/economics.md` and prints their scorecards:
//! `case_studies [--runs N] [--out docs]` (from the repository root).

use std::path::PathBuf;

use ogn_sim::{Ensemble, Scenario, html::overlay_fan_svg};

fn ensemble(s: &Scenario, runs: u64) -> Ensemble {
    ogn_sim::run_many(s, runs, 1, 0, 30, &|_, _| {}).unwrap_or_else(|e| panic!("{}: {e}", s.name))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut runs, mut out) = (40u64, PathBuf::from("docs"));
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--out" => out = PathBuf::from(args.next().expect("--out DIR")),
            other => panic!("unknown argument {other}"),
        }
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/cases");
    let load = |f: &str| Scenario::from_path(&dir.join(f)).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(&out).expect("output directory");
    let write = |name: &str, svg: String| {
        std::fs::write(out.join(name), svg).expect("write svg");
    };

    // Anchor/Terra: the same network with a slow (15-year) pool as the control.
    let anchor = load("anchor_terra.toml");
    let mut slow = anchor.clone();
    slow.ledger.half_life_years = 15.0;
    slow.ledger.incentive_pool_opg = 100_000_000.0;
    let (a, a0) = (ensemble(&anchor, runs), ensemble(&slow, runs));
    let pair = [(&a, "1-year half-life"), (&a0, "15-year half-life")];
    let chart =
        |col, title, scale, unit| overlay_fan_svg(&pair, col, title, scale, unit).expect("chart");
    write(
        "economics-anchor-subsidy.svg",
        chart("subsidy_ratio", "Subsidy ratio (emissions ÷ rewards)", 100.0, "%"),
    );
    write(
        "economics-anchor-pool.svg",
        chart("incentive_pool_opg", "Incentive pool left", 1e-6, "M OPG"),
    );
    write("economics-anchor-yield.svg", chart("nominal_yield", "Nominal yield", 100.0, "%"));
    write("economics-anchor-bonded.svg", chart("bonded_ratio", "Bonded ÷ supply", 100.0, "%"));

    // stETH: no redemption path against a 21-day redemption queue.
    let steth = load("steth_run.toml");
    let mut redeem = steth.clone();
    redeem.lst.redemption = true;
    let (s, s0) = (ensemble(&steth, runs), ensemble(&redeem, runs));
    let pair = [(&s, "no redemption"), (&s0, "21-day redemption queue")];
    let chart =
        |col, title, scale, unit| overlay_fan_svg(&pair, col, title, scale, unit).expect("chart");
    write("economics-steth-discount.svg", chart("lst_discount", "stOPG discount", 100.0, "%"));
    write(
        "economics-steth-unbonding.svg",
        chart("unbonding_opg", "OPG in the unbonding queue", 1e-6, "M OPG"),
    );

    // Helium: fees far below emissions, against the baseline's fees.
    let helium = load("helium_fees.toml");
    let mut paid = helium.clone();
    paid.demand = ogn_sim::DemandConfig::default();
    paid.price.crash = None;
    let (h, h0) = (ensemble(&helium, runs), ensemble(&paid, runs));
    let pair = [(&h, "fees 0.1 ¢/job, token −60 %"), (&h0, "baseline demand and fees")];
    let chart =
        |col, title, scale, unit| overlay_fan_svg(&pair, col, title, scale, unit).expect("chart");
    write(
        "economics-helium-subsidy.svg",
        chart("subsidy_ratio", "Subsidy ratio (emissions ÷ rewards)", 100.0, "%"),
    );
    write("economics-helium-operators.svg", chart("operators_active", "Active operators", 1.0, ""));
    write(
        "economics-helium-profit.svg",
        chart("operator_profit_p50_usd", "Median operator's profit", 1.0, "USD/day"),
    );

    for e in [&a, &a0, &s, &s0, &h, &h0] {
        println!("{}", e.scorecard_text());
        let q = |k: &str| e.summary(k).unwrap_or_default();
        println!(
            "  first-year subsidy p50 {:.1} %; runway at day 180 p50 {:.2} y; peak discount p50 {:.2} %; \
             operators end p50 {:.0}; CSV sha256 {}\n",
            100.0 * e.quantiles(364.min(e.days - 1), "subsidy_ratio").unwrap_or_default()[1],
            e.quantiles(180, "runway_years").unwrap_or_default()[1],
            100.0 * q("peak_lst_discount")[1],
            q("operators_end")[1],
            e.csv_sha256()
        );
    }
}
