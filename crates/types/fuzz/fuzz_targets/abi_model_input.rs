//! ABI-encoded `ModelInput` from transactions: decode, convert, re-encode; never a panic.
#![no_main]

use alloy::sol_types::SolValue;
use libfuzzer_sys::fuzz_target;
use ogn_types::opengradient::ModelInput;

fuzz_target!(|data: &[u8]| {
    if let Ok(input) = ModelInput::abi_decode(data) {
        if let Ok(tensors) = input.to_tensors() {
            let again = ModelInput::from_tensors(&tensors).expect("decoded tensors re-encode");
            assert_eq!(again.to_tensors().expect("round trip").len(), tensors.len());
        }
    }
});
