//! Dispute answers from outside (JSON): whatever a party sends, the game refuses it or advances, never panics,
//! and never decides without a verdict it can state.
#![no_main]

use alloy::primitives::B256;
use libfuzzer_sys::fuzz_target;
use ogn_runtime::LayerWitness;
use ogn_verify::commitment::{StateTree, chain_states};
use ogn_verify::dispute::{Answer, Dispute, DisputeParams, Referee, Side};

struct Fixed;

impl Referee for Fixed {
    fn state_count(&self) -> u64 {
        6
    }
    fn leaf(&self, index: u64, _: &LayerWitness) -> Result<B256, String> {
        Ok(B256::repeat_byte(index as u8))
    }
}

fuzz_target!(|data: &[u8]| {
    let honest: Vec<[u8; 32]> = (0..5u8).map(|i| [i; 32]).collect();
    let mut other = honest.clone();
    other[2][0] ^= 1;
    let a = StateTree::new(chain_states(B256::ZERO, &honest, B256::repeat_byte(5)));
    let b = StateTree::new(chain_states(B256::ZERO, &other, B256::repeat_byte(5)));
    let Ok(mut d) =
        Dispute::open(a.commitment(), b.commitment(), B256::ZERO, 6, 0, DisputeParams { round_timeout: 3 })
    else {
        return;
    };
    let Ok(answers) = serde_json::from_slice::<Vec<(bool, Answer)>>(data) else { return };
    for (i, (operator, answer)) in answers.into_iter().enumerate() {
        let side = if operator { Side::Operator } else { Side::Challenger };
        let _ = d.submit(side, answer, i as u64 / 4, &Fixed);
        d.tick(i as u64 / 4);
        if let Some(v) = d.verdict() {
            assert!(!v.reason.is_empty());
            break;
        }
    }
});
