//! Per-job bond locks: an operator takes a job only while enough of its bond is free; the job locks
//! `value × job_bond_ppm` of bond until its challenge window closes, so a high-value job is backed by a high
//! bond. Locked bond cannot be undelegated; it can always be slashed.
//!
//! ```text
//!  lock_job(job, operator, value) ── free bond ≥ lock? ──► locked += lock ─┬─ window closes ──► released
//!                                                                          └─ prove_wrong_inference ──► slash
//! ```

use serde::{Deserialize, Serialize};

use crate::{
    Ledger, LedgerError,
    address::Address,
    event::Event,
    math::{PPM, mul_div, mul_div_ceil},
    staking::Role,
};

/// An open job's bond lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobLock {
    /// Operator serving the job.
    pub operator: Address,
    /// Declared job value.
    pub value: u128,
    /// Bond locked.
    pub amount: u128,
    /// Height the job was taken (the infraction height if its result is proven wrong).
    pub start_height: u64,
    /// Height its challenge window closes.
    pub expiry_height: u64,
}

impl Ledger {
    /// Bond a job of declared `value` locks.
    pub fn job_lock_for(&self, value: u128) -> Result<u128, LedgerError> {
        mul_div_ceil(value, u128::from(self.params.job_bond_ppm), u128::from(PPM))
            .ok_or(LedgerError::Overflow("job lock"))
    }

    /// Locks bond of an active operator for job `job` of declared `value`. Returns the amount locked.
    pub fn lock_job(
        &mut self,
        job: u64,
        operator: Address,
        value: u128,
    ) -> Result<u128, LedgerError> {
        if self.jobs.contains_key(&job) {
            return Err(LedgerError::JobExists(job));
        }
        self.check_active(operator, Role::Operator)?;
        let amount = self.job_lock_for(value)?;
        let s = self.staker(operator)?;
        if s.free_bond() < amount {
            return Err(LedgerError::BondLocked {
                staker: operator,
                free: s.free_bond(),
                needed: amount,
            });
        }
        let until = self.height.saturating_add(self.params.challenge_window_blocks);
        self.stakers.get_mut(&operator).expect("checked").locked += amount;
        self.jobs.insert(
            job,
            JobLock { operator, value, amount, start_height: self.height, expiry_height: until },
        );
        self.job_expiry.insert((until, job));
        self.emit(Event::JobLocked { job, operator, amount, until });
        Ok(amount)
    }

    pub(crate) fn release_job(&mut self, job: u64) {
        if let Some(lock) = self.jobs.remove(&job) {
            if let Some(s) = self.stakers.get_mut(&lock.operator) {
                s.locked -= lock.amount;
            }
            self.emit(Event::JobReleased { job });
        }
    }

    /// An open job's lock.
    pub fn job(&self, job: u64) -> Option<&JobLock> {
        self.jobs.get(&job)
    }

    /// Picks an active operator that can lock bond for a job of `value`, with probability proportional to its
    /// free bond, from caller-supplied `randomness` (e.g. the block's random beacon). `None` when none can.
    pub fn pick_operator(&self, value: u128, randomness: u64) -> Option<Address> {
        let need = self.job_lock_for(value).ok()?;
        let eligible: Vec<(Address, u128)> = self
            .stakers
            .iter()
            .filter(|(_, s)| s.role == Role::Operator && s.is_active() && s.free_bond() >= need)
            .map(|(a, s)| (*a, s.free_bond()))
            .collect();
        let total: u128 = eligible.iter().map(|(_, w)| *w).sum();
        if total == 0 {
            return None;
        }
        let mut target = mul_div(u128::from(randomness), total, 1u128 << 64)?;
        for (addr, w) in eligible {
            if target < w {
                return Some(addr);
            }
            target -= w;
        }
        None
    }
}
