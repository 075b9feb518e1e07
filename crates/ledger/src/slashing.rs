//! Slashing: a fraction of everything that was bonded to a staker when it misbehaved.
//!
//! ```text
//!  fault at height h, proven at height H (H − h ≤ max evidence age ≤ unbonding period)
//!    bonded tokens now              × f ─┐
//!    unbonding entries created ≥ h  × f ─┼─► slashed S ──► challenger: S · challenger_ppm
//!    redelegations created ≥ h      × f ─┘               └► burned:     the rest
//! ```
//! `f` comes from the fault: wrong inference (a parameter, raised to cover the job's locked bond, plus
//! jail), double-signing (a parameter, plus tombstone), downtime (small, plus a short jail). An unbonding or
//! redelegation entry loses `f × its initial balance` (capped at what is left), so leaving right after a
//! fault does not escape its penalty. A redelegation's penalty is taken from the destination delegation.
//! Stake bonded after `h` is slashed too when the fault is proven (the ledger keeps no per-height history);
//! faults are proven within the challenge window, which keeps that window short.

use crate::{
    Ledger, LedgerError,
    address::Address,
    event::{Event, JailReason, SlashReason},
    math::{PPM, mul_div_ceil, ppm_of},
    staking::Role,
};

/// What a slash took and where it went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlashOutcome {
    /// Fraction applied, parts per million.
    pub fraction_ppm: u64,
    /// From bonded tokens.
    pub from_bonded: u128,
    /// From unbonding entries.
    pub from_unbonding: u128,
    /// From redelegations.
    pub from_redelegations: u128,
    /// Paid to the challenger.
    pub to_challenger: u128,
    /// Burned.
    pub burned: u128,
}

impl SlashOutcome {
    /// Total slashed.
    pub fn total(&self) -> u128 {
        self.from_bonded + self.from_unbonding + self.from_redelegations
    }
}

impl Ledger {
    fn check_evidence(&self, staker: Address, infraction: u64) -> Result<(), LedgerError> {
        let s = self.staker(staker)?;
        if s.tombstoned {
            return Err(LedgerError::StakerTombstoned(staker));
        }
        if infraction > self.height {
            return Err(LedgerError::InfractionInFuture { infraction, current: self.height });
        }
        let max_age = self.params.max_evidence_age_blocks;
        if self.height - infraction > max_age {
            return Err(LedgerError::EvidenceTooOld { infraction, current: self.height, max_age });
        }
        Ok(())
    }

    /// Stake that was bonded to `staker` at `infraction`, as far as the ledger can tell: bonded tokens now
    /// plus the initial balance of entries that left it since.
    pub(crate) fn slashable_base(&self, staker: Address, infraction: u64) -> u128 {
        let bonded = self.stakers.get(&staker).map_or(0, |s| s.tokens);
        let unbonding: u128 = self
            .unbonding
            .entries
            .values()
            .filter(|e| e.staker == Some(staker) && e.creation_height >= infraction)
            .map(|e| e.initial_balance)
            .sum();
        let redelegated: u128 = self
            .redelegations
            .entries
            .values()
            .filter(|e| e.from == staker && e.creation_height >= infraction)
            .map(|e| e.initial_balance)
            .sum();
        bonded + unbonding + redelegated
    }

    /// Slashes `fraction_ppm` of what was bonded to `staker` at `infraction` and pays the challenger's share.
    /// Callers have checked the evidence. Loops over the unbonding and redelegation records (a slash is rare),
    /// never over delegations.
    pub(crate) fn apply_slash(
        &mut self,
        staker: Address,
        reason: SlashReason,
        infraction: u64,
        fraction_ppm: u64,
        challenger: Option<Address>,
    ) -> SlashOutcome {
        let mut out = SlashOutcome { fraction_ppm, ..SlashOutcome::default() };
        for e in self.unbonding.entries.values_mut() {
            if e.staker == Some(staker) && e.creation_height >= infraction {
                let cut = ppm_of(e.initial_balance, fraction_ppm).min(e.balance);
                e.balance -= cut;
                out.from_unbonding += cut;
            }
        }
        let redels: Vec<u64> = self
            .redelegations
            .entries
            .iter()
            .filter(|(_, e)| {
                e.from == staker && e.creation_height >= infraction && e.shares_dst > 0
            })
            .map(|(id, _)| *id)
            .collect();
        for id in redels {
            out.from_redelegations += self.slash_redelegation(id, fraction_ppm);
        }
        if let Some(s) = self.stakers.get_mut(&staker) {
            let cut = ppm_of(s.tokens, fraction_ppm);
            s.tokens -= cut;
            out.from_bonded = cut;
        }
        let total = out.total();
        out.to_challenger = match challenger {
            Some(_) => ppm_of(total, self.params.challenger_reward_ppm),
            None => 0,
        };
        out.burned = total - out.to_challenger;
        if let Some(c) = challenger {
            self.credit(c, out.to_challenger);
        }
        self.burn(out.burned);
        self.stats.slashed += total;
        self.stats.slashed_to_challengers += out.to_challenger;
        self.stats.slashed_burned += out.burned;
        self.emit(Event::Slashed {
            staker,
            reason,
            infraction_height: infraction,
            fraction_ppm,
            from_bonded: out.from_bonded,
            from_unbonding: out.from_unbonding,
            from_redelegations: out.from_redelegations,
            to_challenger: out.to_challenger,
            burned: out.burned,
        });
        out
    }

    /// Takes `fraction × initial balance` of a redelegation from the destination delegation it created.
    fn slash_redelegation(&mut self, id: u64, fraction_ppm: u64) -> u128 {
        let e = self.redelegations.entries[&id].clone();
        let target = ppm_of(e.initial_balance, fraction_ppm);
        let (Some(dst), Some(held)) =
            (self.stakers.get(&e.to), self.delegation(e.delegator, e.to).map(|d| d.shares))
        else {
            return 0;
        };
        if target == 0 || dst.tokens == 0 {
            return 0;
        }
        let shares = mul_div_ceil(target, dst.shares, dst.tokens)
            .unwrap_or(u128::MAX)
            .min(e.shares_dst)
            .min(held);
        let tokens = dst.value_of(shares);
        self.settle_rewards(e.delegator, e.to);
        let dst = self.stakers.get_mut(&e.to).expect("checked");
        dst.tokens -= tokens;
        dst.shares -= shares;
        let map = self.delegations.get_mut(&e.to).expect("checked");
        let d = map.get_mut(&e.delegator).expect("checked");
        d.shares -= shares;
        if d.shares == 0 {
            map.remove(&e.delegator);
            if map.is_empty() {
                self.delegations.remove(&e.to);
            }
        }
        self.redelegations.entries.get_mut(&id).expect("exists").shares_dst -= shares;
        self.sweep_if_empty(e.to);
        tokens
    }

    /// Punishes a validator's double-signing at `infraction_height`: slashes the double-sign fraction, pays
    /// `reporter` (if any) the challenger's share, and tombstones the validator.
    pub fn slash_double_sign(
        &mut self,
        validator: Address,
        infraction_height: u64,
        reporter: Option<Address>,
    ) -> Result<SlashOutcome, LedgerError> {
        self.check_evidence(validator, infraction_height)?;
        let s = self.staker(validator)?;
        if s.role != Role::Validator {
            return Err(LedgerError::WrongRole {
                staker: validator,
                expected: Role::Validator,
                actual: s.role,
            });
        }
        if let Some(r) = reporter {
            self.check_user(r)?;
        }
        let f = self.params.slash_double_sign_ppm;
        let out =
            self.apply_slash(validator, SlashReason::DoubleSign, infraction_height, f, reporter);
        let s = self.stakers.get_mut(&validator).expect("checked");
        s.tombstoned = true;
        s.jailed_until = Some(u64::MAX);
        self.emit(Event::Jailed {
            staker: validator,
            reason: JailReason::Slashed(SlashReason::DoubleSign),
            until: u64::MAX,
        });
        Ok(out)
    }

    /// Punishes downtime observed at `infraction_height` (validator or operator): a small slash, all burned,
    /// and a short jail.
    pub fn slash_downtime(
        &mut self,
        staker: Address,
        infraction_height: u64,
    ) -> Result<SlashOutcome, LedgerError> {
        self.check_evidence(staker, infraction_height)?;
        let f = self.params.slash_downtime_ppm;
        let out = self.apply_slash(staker, SlashReason::Downtime, infraction_height, f, None);
        let until = self.height.saturating_add(self.params.jail_downtime_blocks);
        self.jail(staker, JailReason::Slashed(SlashReason::Downtime), until);
        Ok(out)
    }

    /// Punishes a proven wrong inference result for an open job: slashes the operator by the larger of the
    /// wrong-inference fraction and the fraction that covers the job's locked bond, pays the challenger its
    /// share, jails the operator and closes the job.
    pub fn prove_wrong_inference(
        &mut self,
        job: u64,
        challenger: Address,
    ) -> Result<SlashOutcome, LedgerError> {
        self.check_user(challenger)?;
        let lock = self.jobs.get(&job).cloned().ok_or(LedgerError::UnknownJob(job))?;
        self.check_evidence(lock.operator, lock.start_height)?;
        let base = self.slashable_base(lock.operator, lock.start_height);
        let cover = if base == 0 {
            PPM
        } else {
            mul_div_ceil(lock.amount, u128::from(PPM), base)
                .map_or(PPM, |f| f.min(u128::from(PPM)) as u64)
        };
        let f = self.params.slash_wrong_inference_ppm.max(cover);
        let out = self.apply_slash(
            lock.operator,
            SlashReason::WrongInference,
            lock.start_height,
            f,
            Some(challenger),
        );
        self.job_expiry.remove(&(lock.expiry_height, job));
        self.release_job(job);
        let until = self.height.saturating_add(self.params.jail_wrong_inference_blocks);
        self.jail(lock.operator, JailReason::Slashed(SlashReason::WrongInference), until);
        Ok(out)
    }
}
