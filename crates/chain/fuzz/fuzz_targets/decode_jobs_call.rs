//! Calldata to the jobs precompile (`0x…0101`): ABI decoding, the statement's model CID, and the JSON dispute
//! answers inside `answer` calls. Any bytes must give a call or a reason, never a panic; a decoded answer must
//! survive re-encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ogn_chain::jobs::{JobsCall, Move, decode_call};

fuzz_target!(|data: &[u8]| {
    if let Ok(JobsCall::Move(_, Move::Answer(answer))) = decode_call(data) {
        let json = serde_json::to_vec(&answer).expect("an answer re-encodes");
        let back: ogn_verify::Answer = serde_json::from_slice(&json).expect("and decodes again");
        assert_eq!(back, answer);
    }
});
