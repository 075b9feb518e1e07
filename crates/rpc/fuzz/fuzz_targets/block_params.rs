//! Block tags, block ids and quantities from arbitrary JSON: parsing never panics, and what parses resolves
//! within the rules (tags at or below the head, numbers as written).
#![no_main]

use alloy::eips::{BlockId, BlockNumberOrTag};
use libfuzzer_sys::fuzz_target;
use ogn_rpc::params::{Quantity, resolve_tag};

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let head = u64::from_le_bytes(data[..8].try_into().unwrap());
    let json = &data[8..];
    if let Ok(tag) = serde_json::from_slice::<BlockNumberOrTag>(json) {
        let n = resolve_tag(tag, head);
        match tag {
            BlockNumberOrTag::Number(written) => assert_eq!(n, written),
            BlockNumberOrTag::Earliest => assert_eq!(n, 0),
            _ => assert_eq!(n, head),
        }
    }
    let _ = serde_json::from_slice::<BlockId>(json);
    if let Ok(q) = serde_json::from_slice::<Quantity>(json) {
        // What parses prints back as a quantity that parses to the same value.
        let printed = serde_json::to_string(&q).unwrap();
        assert_eq!(serde_json::from_str::<Quantity>(&printed).unwrap(), q);
    }
});
