//! Calldata to the jobs precompile (`0x…0101`): ABI decoding, the statement's model CID, the JSON cut layout
//! of `recordJob`/`recordSealedJob`, and the JSON dispute answers inside `answer` calls. Any bytes must give a
//! call or a reason, never a panic; a decoded answer must survive re-encoding, and a decoded layout is valid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ogn_chain::jobs::{JobsCall, Move, decode_call};

fuzz_target!(|data: &[u8]| {
    match decode_call(data) {
        Ok(JobsCall::Move(_, Move::Answer(answer))) => {
            let json = serde_json::to_vec(&answer).expect("an answer re-encodes");
            let back: ogn_verify::Answer = serde_json::from_slice(&json).expect("and decodes again");
            assert_eq!(back, answer);
        }
        Ok(JobsCall::RecordJob(_, _, layout) | JobsCall::RecordSealed(_, layout)) => {
            assert_eq!(layout.validate(), Ok(()), "a decoded layout is valid");
            let _ = layout.hashed_steps();
            for position in 0..=layout.cuts.len() {
                let segment = layout.segment(position).expect("every position has a segment");
                assert!(segment.start <= segment.end && segment.end <= layout.steps);
            }
        }
        _ => {}
    }
});
