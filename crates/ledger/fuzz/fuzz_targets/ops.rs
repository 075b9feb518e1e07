//! Decodes a sequence of ledger operations from the input (16 bytes each; the first byte picks the emission
//! schedule) and applies them, checking after each that a refused operation changed nothing and that every
//! invariant holds. Run: `cd crates/ledger/fuzz && cargo +nightly fuzz run ops`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ogn_ledger::script::{Op, apply_checked, genesis};

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else { return };
    let mut ledger = genesis(first & 1 == 1);
    for op in Op::decode_all(rest) {
        if let Err(e) = apply_checked(&mut ledger, &op) {
            panic!("{e}");
        }
    }
});
