//! Random sequences of ≥10,000 operations (bond, delegate, redelegate, undelegate, rewards, fees, slashes,
//! job locks, stOPG deposit/redeem/transfer, time passing) with every invariant checked after every step, and
//! refused operations checked to change nothing.
//!
//! Default: 2 cases of 10,000 operations. A longer soak:
//! `OGN_LEDGER_SOAK_CASES=200 OGN_LEDGER_SOAK_OPS=50000 cargo test -p ogn-ledger --release --test random_ops`.

use ogn_ledger::script::{Op, apply_checked, genesis};
use proptest::prelude::*;

fn env(name: &str, default: u32) -> u32 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn run(ops: &[Op], inflation: bool) -> Result<usize, String> {
    let mut ledger = genesis(inflation);
    let mut accepted = 0;
    for (i, op) in ops.iter().enumerate() {
        if apply_checked(&mut ledger, op).map_err(|e| format!("step {i}: {e}"))? {
            accepted += 1;
        }
    }
    Ok(accepted)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: env("OGN_LEDGER_SOAK_CASES", 2),
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]

    #[test]
    fn invariants_hold_over_long_random_sequences(
        bytes in proptest::collection::vec(any::<[u8; 16]>(), env("OGN_LEDGER_SOAK_OPS", 10_000) as usize),
        inflation in any::<bool>(),
    ) {
        let ops: Vec<Op> = bytes.iter().map(Op::decode).collect();
        let accepted = run(&ops, inflation).map_err(TestCaseError::fail)?;
        // The script must exercise the ledger, not just bounce off its checks.
        prop_assert!(accepted > ops.len() / 5, "only {accepted} of {} operations accepted", ops.len());
    }
}

/// Determinism: the same script gives the same state, byte for byte.
#[test]
fn same_script_same_state() {
    let bytes: Vec<[u8; 16]> = (0..3_000u32)
        .map(|i| {
            let mut b = [0u8; 16];
            for (j, x) in b.iter_mut().enumerate() {
                *x = (i.wrapping_mul(2_654_435_761).rotate_left(j as u32) >> 3) as u8 ^ j as u8;
            }
            b
        })
        .collect();
    let state = || {
        let mut l = genesis(false);
        for b in &bytes {
            apply_checked(&mut l, &Op::decode(b)).unwrap();
        }
        serde_json::to_string(&l).unwrap()
    };
    let a = state();
    assert_eq!(a, state());
    // And the serialized state reads back to an equal ledger.
    let back: ogn_ledger::Ledger = serde_json::from_str(&a).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), a);
}

/// A ledger read back from its serialized state goes on exactly as the one that was saved (state the
/// serialized form leaves out, such as the redelegation index, is rebuilt).
#[test]
fn a_ledger_read_back_mid_script_goes_on_identically() {
    let bytes: Vec<[u8; 16]> = (0..4_000u32)
        .map(|i| {
            let mut b = [0u8; 16];
            for (j, x) in b.iter_mut().enumerate() {
                *x = (i.wrapping_mul(2_246_822_519).rotate_left(j as u32 * 3) >> 2) as u8 ^ j as u8;
            }
            b
        })
        .collect();
    let (first, rest) = bytes.split_at(2_000);
    let mut live = genesis(false);
    for b in first {
        apply_checked(&mut live, &Op::decode(b)).unwrap();
    }
    let mut back: ogn_ledger::Ledger =
        serde_json::from_str(&serde_json::to_string(&live).unwrap()).unwrap();
    let mut accepted = 0;
    for b in rest {
        let op = Op::decode(b);
        let (x, y) =
            (apply_checked(&mut live, &op).unwrap(), apply_checked(&mut back, &op).unwrap());
        assert_eq!(x, y, "{op:?}");
        accepted += usize::from(x);
    }
    assert!(accepted > rest.len() / 5, "only {accepted} accepted");
    assert_eq!(serde_json::to_string(&back).unwrap(), serde_json::to_string(&live).unwrap());
}
