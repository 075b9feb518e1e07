//! Verifiers that approve without running must lose.
//!
//! Two mechanisms, used together:
//! 1. **Commit before reveal.** A verifier drawn for a job first publishes
//!    `seal = keccak256("ogn-verdict-v1" ‖ job ‖ verifier ‖ its layer root ‖ salt)`, and only after every
//!    drawn verifier has sealed are the seals opened. A verifier therefore cannot copy another verifier's
//!    answer, and an answer that does not match its seal is refused (the verifier forfeits like a silent one).
//! 2. **Decoys (forced errors, as in Truebit).** A share `d` of verification tasks are decoys: the result
//!    shown to the verifier is one the network knows is wrong (computed honestly, then altered). An honest
//!    verifier re-executes and disagrees; a verifier that approves what it is shown without running agrees
//!    with the wrong root and is slashed through a bond lock taken for the task.
//!
//! A lazy verifier that approves every task is caught on each decoy, so after `m` tasks it has been caught
//! with probability `1 − (1 − d)^m` (d = 5 %: 64 % after 20 tasks, 99.4 % after 100), and each catch costs
//! it the wrong-inference slash on its stake — more than the verification fees laziness saved unless the
//! fee per task exceeds `d × slash / (1 − d)`.

use alloy::primitives::{Address, B256, keccak256};

/// The seal of a verifier's answer.
pub fn seal(job: u64, verifier: Address, root: B256, salt: B256) -> B256 {
    let mut bytes = b"ogn-verdict-v1".to_vec();
    bytes.extend_from_slice(&job.to_be_bytes());
    bytes.extend_from_slice(verifier.as_slice());
    bytes.extend_from_slice(root.as_slice());
    bytes.extend_from_slice(salt.as_slice());
    keccak256(bytes)
}

/// Whether `root` and `salt` open `sealed`.
pub fn opens(sealed: B256, job: u64, verifier: Address, root: B256, salt: B256) -> bool {
    seal(job, verifier, root, salt) == sealed
}

/// Probability (ppm) that a verifier approving everything is caught within `tasks` tasks at decoy share
/// `decoy_ppm`.
pub fn lazy_catch_ppm(decoy_ppm: u64, tasks: u32) -> u64 {
    let miss = 1.0 - decoy_ppm as f64 / 1e6;
    ((1.0 - miss.powi(tasks as i32)) * 1e6).floor() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seal_opens_only_with_its_own_answer() {
        let (v, root, salt) = (Address::repeat_byte(1), B256::repeat_byte(2), B256::repeat_byte(3));
        let s = seal(7, v, root, salt);
        assert!(opens(s, 7, v, root, salt));
        assert!(!opens(s, 8, v, root, salt));
        assert!(!opens(s, 7, Address::repeat_byte(9), root, salt));
        assert!(!opens(s, 7, v, B256::repeat_byte(4), salt));
        assert!(!opens(s, 7, v, root, B256::ZERO));
        assert_eq!(lazy_catch_ppm(50_000, 20), 641_514);
        assert_eq!(lazy_catch_ppm(50_000, 100), 994_079);
    }
}
