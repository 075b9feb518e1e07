//! The HTTP Range header against blobs of every size: a partial range always lies inside the blob.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ogn_hub::range::{RangeRequest, parse_range};

fuzz_target!(|input: (u64, &str)| {
    let (size, header) = input;
    if let Ok(RangeRequest::Partial { start, end }) = parse_range(header, size) {
        assert!(start < end && end <= size);
    }
});
