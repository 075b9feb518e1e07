//! Bad scenario files are refused with a message that names the problem.

use ogn_sim::{Scenario, SimError};

fn err(text: &str) -> String {
    match Scenario::from_toml_str(text) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn errors_name_the_field_and_the_problem() {
    let e = err("name = \"x\"\n[operators]\ncout = 3\n");
    assert!(e.contains("unknown field") && e.contains("cout"), "{e}");
    let e = err("years = \"ten\"\n");
    assert!(e.contains("years") || e.contains("line 1"), "{e}");
    let e = err("[price\ninitial_usd = 1\n");
    assert!(e.contains("line 1"), "{e}");
    let e = err("[ledger]\nfee_split = [0.5, 0.1, 0.1, 0.1]\n");
    assert!(e.contains("fee_split sums to"), "{e}");
    let e = err("[cartel]\nstake_share = 1.5\ncheat_share = 0.1\ngain_usd_per_job = 0.0\n");
    assert!(e.contains("cartel.stake_share = 1.5"), "{e}");
    let e = err("[price]\ninitial_usd = -1.0\n");
    assert!(e.contains("price.initial_usd = -1 must be a positive number"), "{e}");
    let e = err("[demand]\ndenomination = \"eur\"\n");
    assert!(e.contains("denomination") || e.contains("eur"), "{e}");
    let e = err("[operators]\ncount = 90\nmax_count = 80\n");
    assert!(e.contains("operators.count = 90"), "{e}");
    // Several problems are reported together.
    let e = err("years = -1.0\n[verification]\ncheck_probability = 2.0\n");
    assert!(e.contains("years") && e.contains("check_probability"), "{e}");
}

#[test]
fn a_missing_file_is_named() {
    let e = Scenario::from_path(std::path::Path::new("/nonexistent/s.toml")).unwrap_err();
    assert!(matches!(e, SimError::Io(_)) && e.to_string().contains("/nonexistent/s.toml"), "{e}");
}

#[test]
fn empty_file_is_the_baseline() {
    let s = Scenario::from_toml_str("").unwrap();
    assert_eq!(s, Scenario::default());
}
