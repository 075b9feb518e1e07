//! What node and operators read from each other and from the chain's views: announcements (their signature
//! check included), job offers, job results, the jobs precompile's job and dispute documents. Any bytes give a
//! value or an error, never a panic; a decoded announcement verifies or not, and re-encodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ogn_chain::jobs::{DisputeView, JobRecord};
use ogn_operator::wire::{Announce, JobOffer, JobResult};

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = serde_json::from_slice::<Announce>(data) {
        let _ = a.verify();
        let again: Announce = serde_json::from_slice(&serde_json::to_vec(&a).unwrap()).unwrap();
        assert_eq!(again, a);
    }
    if let Ok(offer) = serde_json::from_slice::<JobOffer>(data) {
        // What the operator does with the input before running it.
        let _ = ogn_types::json::tensors_from_json(&offer.input);
    }
    if let Ok(result) = serde_json::from_slice::<JobResult>(data) {
        let _ = result.statement.digest();
    }
    let _ = serde_json::from_slice::<JobRecord>(data);
    let _ = serde_json::from_slice::<DisputeView>(data);
});
