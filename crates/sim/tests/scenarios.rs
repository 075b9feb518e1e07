//! Every shipped scenario parses, and runs through the real ledger with its invariants checked after every
//! step (shortened horizons and fewer delegators keep this to seconds in the dev profile).

use std::path::PathBuf;

use ogn_sim::{Scenario, Verdict};

fn scenario_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn shipped() -> Vec<(String, Scenario)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(scenario_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let s = Scenario::from_path(&path).unwrap_or_else(|e| panic!("{e}"));
            out.push((path.file_name().unwrap().to_string_lossy().into_owned(), s));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A cheaper copy for tests: fewer delegators and at most `years`.
fn small(s: &Scenario, years: f64) -> Scenario {
    let mut s = s.clone();
    s.years = s.years.min(years);
    s.delegators.count = 40;
    s
}

#[test]
fn all_fifteen_scenarios_and_the_baseline_ship_and_are_documented() {
    let all = shipped();
    let names: Vec<&str> = all.iter().map(|(f, _)| f.as_str()).collect();
    for n in 0..=15 {
        let prefix = format!("s{n:02}_");
        assert!(
            names.iter().any(|f| f.starts_with(&prefix)),
            "no scenario file {prefix}*.toml in {names:?}"
        );
    }
    for (file, s) in &all {
        let text = std::fs::read_to_string(scenario_dir().join(file)).unwrap();
        assert!(text.starts_with('#'), "{file} must open with a comment that documents it");
        assert!(!s.description.is_empty(), "{file} has no description");
        assert_eq!(format!("{}.toml", s.name), *file, "name must match the file name");
    }
}

#[test]
fn invariants_hold_every_step_of_every_scenario() {
    for (file, s) in shipped() {
        // Keep each scenario's shock inside the shortened horizon.
        let report = ogn_sim::run(&small(&s, 1.5), 11).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(report.invariant_violations, 0);
        assert!(
            report.rows.iter().all(|r| r.values().iter().all(|v| v.is_finite())),
            "{file}: NaN metric"
        );
    }
}

#[test]
fn scenario_shocks_show_up_in_their_metrics() {
    let by_name = |n: &str| shipped().into_iter().find(|(f, _)| f.starts_with(n)).unwrap().1;
    // S8: a run with no redemption path opens a discount well beyond what the baseline ever shows.
    let run = ogn_sim::run(&small(&by_name("s08"), 1.0), 3).unwrap();
    let base = ogn_sim::run(&small(&by_name("s00"), 1.0), 3).unwrap();
    let peak = |r: &ogn_sim::Report| r.rows.iter().map(|x| x.lst_discount).fold(0.0, f64::max);
    assert!(
        peak(&run) > 0.02 && peak(&run) > 5.0 * peak(&base),
        "run {} base {}",
        peak(&run),
        peak(&base)
    );
    // With redemption, arbitrage bounds the same run's discount.
    let mut redeem = small(&by_name("s08"), 1.0);
    redeem.lst.redemption = true;
    let bounded = ogn_sim::run(&redeem, 3).unwrap();
    assert!(peak(&bounded) < peak(&run), "redemption {} vs none {}", peak(&bounded), peak(&run));
    // S6: the cartel is caught and slashed by real fraud proofs.
    let cartel = ogn_sim::run(&small(&by_name("s06"), 1.0), 3).unwrap();
    let caught: f64 = cartel.rows.iter().map(|r| r.detected_cheats).sum();
    assert!(caught > 0.0 && cartel.rows.last().unwrap().slashed_opg_cum > 0.0);
    // S3: the security ratio falls about tenfold with the price.
    let crash = ogn_sim::run(&small(&by_name("s03"), 1.5), 3).unwrap();
    let sec = |d: usize| crash.rows[d].security_ratio;
    assert!(sec(500) < 0.3 * sec(300), "before {} after {}", sec(300), sec(500));
}

#[test]
fn emission_decay_without_fee_growth_flips_the_verdict() {
    let (_, s1) = shipped().into_iter().find(|(f, _)| f.starts_with("s01")).unwrap();
    let fast = small(&s1, 8.0);
    let mut slow = fast.clone();
    slow.ledger.half_life_years = 15.0;
    let fast = ogn_sim::run_with(&fast, 5, 30, |_, _| {}).unwrap();
    let slow = ogn_sim::run_with(&slow, 5, 30, |_, _| {}).unwrap();
    let last_year = |r: &ogn_sim::Report, f: fn(&ogn_sim::Row) -> f64| {
        let rows = &r.rows[r.rows.len() - 365..];
        rows.iter().map(f).sum::<f64>() / 365.0
    };
    assert_eq!(slow.verdict, Verdict::HoldsOnlyOnInflows, "{}", slow.summary());
    assert_eq!(fast.verdict, Verdict::Breaks, "{}", fast.summary());
    assert!(last_year(&fast, |r| r.subsidy_ratio) < 0.15, "emissions should be nearly gone");
    assert!(last_year(&slow, |r| r.subsidy_ratio) > 0.3, "emissions should still carry the yield");
}

#[test]
fn wash_inference_loses_and_slash_evasion_depends_on_the_challenge_window() {
    let by_name = |n: &str| shipped().into_iter().find(|(f, _)| f.starts_with(n)).unwrap().1;
    // S14: emissions follow stake, so paying fees to oneself only gives away the other parts of the fee.
    let wash = ogn_sim::run(&small(&by_name("s14"), 0.3), 2).unwrap();
    let end = wash.rows.last().unwrap();
    assert!(end.wash_profit_usd_cum < 0.0, "wash profit {}", end.wash_profit_usd_cum);
    // S15: a proof after the window is refused; with a window longer than the lag, the unbonding
    // entries are slashed and evasion does not pay.
    let open = small(&by_name("s15"), 0.7);
    assert!(open.ledger.challenge_window_days < open.evasion.as_ref().unwrap().detection_lag_days);
    let evaded = ogn_sim::run(&open, 2).unwrap();
    let mut closed = open.clone();
    closed.ledger.challenge_window_days = 7;
    let caught = ogn_sim::run(&closed, 2).unwrap();
    let profit = |r: &ogn_sim::Report| r.rows.last().unwrap().evasion_profit_usd_cum;
    assert!(profit(&evaded) > 0.0, "evaded {}", profit(&evaded));
    assert!(profit(&caught) < 0.0, "caught {}", profit(&caught));
    assert!(
        caught.rows.last().unwrap().slashed_opg_cum > evaded.rows.last().unwrap().slashed_opg_cum
    );
    let card = ogn_sim::run_many(&open, 1, 2, 1, 30, &|_, _| {}).unwrap().scorecard_text();
    assert!(
        card.contains("[!!] S15: operators who unbond before their fraud is proven net"),
        "{card}"
    );
}

#[test]
fn case_study_scenarios_parse_and_are_documented() {
    let dir = scenario_dir().join("cases");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let s = Scenario::from_path(&path).unwrap_or_else(|e| panic!("{e}"));
        s.validate().unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().starts_with("# Case study"), "{path:?}");
        n += 1;
    }
    assert_eq!(n, 3, "anchor_terra, steth_run, helium_fees");
}
