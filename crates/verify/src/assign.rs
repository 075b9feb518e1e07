//! Assignment of jobs to operators: deterministic from randomness the operator cannot predict when the job
//! is committed, weighted by free bond, excluding jailed operators, operators without the model and
//! operators that cannot lock the job's bond.
//!
//! ```text
//!  seed  = keccak256("ogn-assign-v1" ‖ beacon ‖ job:u64)      beacon: drawn after the job is committed
//!  drawᵣ = keccak256(seed ‖ r:u32) as u256 mod Σ free bond     r = 0, 1, … (one draw per pick)
//!  pick  = the candidate whose cumulative free-bond interval holds drawᵣ; picked ones leave the pool
//! ```
//! Candidates are ordered by address, so every node computes the same picks.

use alloy::primitives::{Address, B256, U256, keccak256};
use serde::{Deserialize, Serialize};

/// An operator that might take a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// The operator.
    pub address: Address,
    /// Bond not locked by open jobs, wei.
    pub free_bond: u128,
    /// Jailed or tombstoned.
    pub jailed: bool,
    /// Serves the job's model.
    pub serves_model: bool,
}

/// Why a job could not be assigned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssignError {
    /// Fewer eligible operators than the mode needs.
    #[error(
        "{needed} operators needed, {eligible} eligible (active, serving the model, free bond ≥ {bond})"
    )]
    NotEnoughOperators {
        /// Operators needed.
        needed: usize,
        /// Operators eligible.
        eligible: usize,
        /// Bond each must be able to lock.
        bond: u128,
    },
}

/// The assignment seed of `job` under `beacon`.
pub fn assignment_seed(beacon: B256, job: u64) -> B256 {
    let mut bytes = b"ogn-assign-v1".to_vec();
    bytes.extend_from_slice(beacon.as_slice());
    bytes.extend_from_slice(&job.to_be_bytes());
    keccak256(bytes)
}

/// Picks `count` distinct operators for a job that locks `bond` each, excluding `exclude`.
pub fn assign(
    candidates: &[Candidate],
    bond: u128,
    count: usize,
    seed: B256,
    exclude: &[Address],
) -> Result<Vec<Address>, AssignError> {
    let mut pool: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| !c.jailed && c.serves_model && c.free_bond >= bond && c.free_bond > 0)
        .filter(|c| !exclude.contains(&c.address))
        .collect();
    pool.sort_by_key(|c| c.address);
    pool.dedup_by_key(|c| c.address);
    if pool.len() < count {
        return Err(AssignError::NotEnoughOperators { needed: count, eligible: pool.len(), bond });
    }
    let mut picked = Vec::with_capacity(count);
    for round in 0..count as u32 {
        let total: U256 = pool.iter().map(|c| U256::from(c.free_bond)).sum();
        let mut bytes = seed.to_vec();
        bytes.extend_from_slice(&round.to_be_bytes());
        let mut target = U256::from_be_bytes(keccak256(bytes).0) % total;
        let at = pool
            .iter()
            .position(|c| {
                let w = U256::from(c.free_bond);
                if target < w {
                    true
                } else {
                    target -= w;
                    false
                }
            })
            .expect("target < total");
        picked.push(pool.remove(at).address);
    }
    Ok(picked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(i: u8, bond: u128) -> Candidate {
        Candidate {
            address: Address::repeat_byte(i),
            free_bond: bond,
            jailed: false,
            serves_model: true,
        }
    }

    #[test]
    fn picks_follow_free_bond_and_skip_ineligible_operators() {
        let mut cs = vec![candidate(1, 100), candidate(2, 300), candidate(3, 600)];
        cs.push(Candidate { jailed: true, ..candidate(4, 10_000) });
        cs.push(Candidate { serves_model: false, ..candidate(5, 10_000) });
        cs.push(candidate(6, 5)); // cannot lock 10
        let mut counts = [0u32; 7];
        for job in 0..6_000 {
            let seed = assignment_seed(B256::repeat_byte(9), job);
            let a = assign(&cs, 10, 1, seed, &[]).unwrap();
            counts[a[0].0[0] as usize] += 1;
        }
        assert_eq!(counts[4] + counts[5] + counts[6], 0);
        // Expected 600 / 1800 / 3600; allow ±15 %.
        for (i, want) in [(1, 600.0), (2, 1800.0), (3, 3600.0)] {
            let got = f64::from(counts[i]);
            assert!((got - want).abs() < 0.15 * want, "operator {i}: {got} vs {want}");
        }
        let three = assign(&cs, 10, 3, B256::ZERO, &[]).unwrap();
        let mut sorted = three.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 3);
        assert!(assign(&cs, 10, 3, B256::ZERO, &[Address::repeat_byte(1)]).is_err());
        // Same inputs, same picks.
        assert_eq!(three, assign(&cs, 10, 3, B256::ZERO, &[]).unwrap());
    }
}
