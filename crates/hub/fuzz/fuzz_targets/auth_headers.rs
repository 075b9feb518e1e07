//! The three signature headers of a write request, split from one input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ogn_hub::auth::{AuthHeaders, Verifier};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let (Some(address), Some(timestamp), Some(signature)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    if let Ok(auth) = AuthHeaders::parse(address, timestamp, signature) {
        // Whatever parses must verify or fail cleanly, never panic.
        let verifier = Verifier::new(300);
        let _ = verifier.verify(&auth, "POST", "/api/v0/models", &[0u8; 32], auth.timestamp);
    }
});
