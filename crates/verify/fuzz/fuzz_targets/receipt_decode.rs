//! Receipts from outside (files, the REST API): JSON and ABI decoding and the offline check never panic, and
//! an ABI-decoded receipt re-encodes to a receipt that decodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ogn_verify::Receipt;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = serde_json::from_slice::<Receipt>(data) {
        let _ = r.check();
    }
    if let Ok(r) = Receipt::from_abi(data) {
        let _ = r.check();
        let again = Receipt::from_abi(&r.to_abi()).expect("a decoded receipt re-encodes");
        assert_eq!(again, r);
    }
});
