//! Many runs: quantiles across runs that do not depend on the thread count, a byte-identical CSV for the same
//! seed, a scorecard in plain words, and a self-contained HTML report.

use ogn_sim::{Scenario, html};

fn short(days: f64) -> Scenario {
    let mut s = Scenario::from_toml_str("name = \"ens\"\n[delegators]\ncount = 30\n").unwrap();
    s.years = days / 365.0;
    s
}

#[test]
fn same_seed_same_quantiles_on_any_thread_count() {
    let s = short(120.0);
    let one = ogn_sim::run_many(&s, 6, 9, 1, 30, &|_, _| {}).unwrap();
    let two = ogn_sim::run_many(&s, 6, 9, 2, 30, &|_, _| {}).unwrap();
    let csv = one.to_csv();
    assert_eq!(csv, two.to_csv());
    assert_eq!(one.csv_sha256(), two.csv_sha256());
    assert!(csv.starts_with("quantile,timestep,day,price_usd,"));
    assert_eq!(csv.lines().count(), 1 + 3 * 120);
    assert_eq!(one.verdicts.iter().sum::<u64>(), 6);
    // Quantiles are ordered, and run 0 alone reproduces the single run with the same seed.
    for d in [0, 60, 119] {
        let q = one.quantiles(d, "price_usd").unwrap();
        assert!(q[0] <= q[1] && q[1] <= q[2], "{q:?}");
    }
    let single = ogn_sim::run(&s, 9).unwrap();
    let alone = ogn_sim::run_many(&s, 1, 9, 1, 1, &|_, _| {}).unwrap();
    assert_eq!(alone.quantiles(119, "price_usd").unwrap()[1], single.rows[119].price_usd);
    let other = ogn_sim::run_many(&s, 6, 10, 2, 30, &|_, _| {}).unwrap();
    assert_ne!(other.csv_sha256(), one.csv_sha256());
}

#[test]
fn scorecard_and_report_read_in_plain_words() {
    let mut s = short(120.0);
    s.cartel = Some(ogn_sim::CartelConfig {
        stake_share: 0.2,
        cheat_share: 0.1,
        gain_usd_per_job: 0.05,
        start_day: 10,
    });
    let done = std::sync::atomic::AtomicU64::new(0);
    let e = ogn_sim::run_many(&s, 3, 1, 2, 30, &|_, _| {
        done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(done.into_inner(), 3);
    let card = e.scorecard_text();
    assert!(
        card.contains("real yield covers") && card.contains("of nominal yield in year 1"),
        "{card}"
    );
    assert!(card.contains("incentive pool runway") && card.contains("cartel nets"), "{card}");
    let hm = html::cartel_heatmap(&s, &[0.1, 0.4], &[0.01, 0.5], 1, 1, 2).unwrap();
    assert_eq!(hm.profit.len(), 2);
    assert_eq!(hm.profit[0].len(), 2);
    let page = html::html_report("test report", std::slice::from_ref(&e), Some(&hm)).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
    assert!(page.matches("<svg").count() >= 11, "fan charts and heatmap inline");
    assert!(page.contains(&e.csv_sha256()));
    // Self-contained: no scripts, no external resources.
    assert!(!page.contains("<script") && !page.contains("src=") && !page.contains("<link"));
    let again = html::html_report("test report", std::slice::from_ref(&e), Some(&hm)).unwrap();
    assert_eq!(html::sha256_hex(page.as_bytes()), html::sha256_hex(again.as_bytes()));
}
