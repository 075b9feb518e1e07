//! Decimal numbers and model ids typed by users: parse or refuse, and printing what parsed reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ogn_types::{ModelCid, Number};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(n) = text.parse::<Number>() {
            assert_eq!(n.to_string().parse::<Number>().expect("printed numbers parse"), n);
            let _ = n.to_f32();
            let _ = n.to_int::<i64>("i64");
        }
        if let Ok(cid) = text.parse::<ModelCid>() {
            assert_eq!(cid.to_string().parse::<ModelCid>().expect("printed ids parse"), cid);
        }
    }
});
