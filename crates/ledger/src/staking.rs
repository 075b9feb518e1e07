//! Validators and inference operators ("stakers"), their self-bond, commission and jail state, and
//! delegation, undelegation and redelegation.
//!
//! A staker holds `tokens` and has issued `shares`; a delegation owns shares, worth
//! `shares × tokens / total_shares`. Bonding issues `floor(amount × shares / tokens)` shares (one per base
//! unit for the first bond); a slash lowers `tokens`, so every share of the staker loses the same fraction.
//! The owner's own delegation is its self-bond.

use serde::{Deserialize, Serialize};

use crate::{
    Ledger, LedgerError,
    address::Address,
    distribution::{BySource, RewardPool},
    event::{Event, JailReason},
    math::{mul_div, mul_div_ceil},
    unbonding::{RedelegationEntry, UnbondingEntry},
};

/// What a staker does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Orders blocks.
    Validator,
    /// Serves inference.
    Operator,
}

/// A validator or inference operator. Its address is its owner's address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staker {
    /// Role.
    pub role: Role,
    /// Bonded tokens (self-bond and delegations, after slashing).
    pub tokens: u128,
    /// Shares issued to delegations (including the owner's).
    pub shares: u128,
    /// Commission on rewards, parts per million.
    pub commission_ppm: u64,
    /// Height of the last commission change.
    pub commission_changed_at: u64,
    /// `Some(h)`: jailed, may unjail from height `h`.
    pub jailed_until: Option<u64>,
    /// Permanently jailed for double-signing.
    pub tombstoned: bool,
    /// Bond locked by open jobs.
    pub locked: u128,
    /// Reward bookkeeping.
    pub rewards: RewardPool,
}

impl Staker {
    /// Not jailed, not tombstoned, and holding tokens: earns rewards, takes delegations and jobs.
    pub fn is_active(&self) -> bool {
        self.jailed_until.is_none() && !self.tombstoned && self.tokens > 0
    }

    /// Value in tokens of `shares` of this staker, rounded down.
    pub fn value_of(&self, shares: u128) -> u128 {
        if self.shares == 0 { 0 } else { mul_div(shares, self.tokens, self.shares).unwrap_or(0) }
    }

    /// Bond not locked by jobs.
    pub fn free_bond(&self) -> u128 {
        self.tokens.saturating_sub(self.locked)
    }
}

/// A delegator's stake with one staker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegation {
    /// Shares held.
    pub shares: u128,
    /// The staker's reward ratios when rewards were last settled.
    pub snapshot: BySource,
}

/// What an undelegation would do, computed before anything changes.
struct Unbond {
    shares: u128,
    released: u128,
}

impl Ledger {
    pub(crate) fn staker(&self, addr: Address) -> Result<&Staker, LedgerError> {
        self.stakers.get(&addr).ok_or(LedgerError::UnknownStaker(addr))
    }

    fn check_accepts_stake(
        &self,
        addr: Address,
        delegator: Address,
    ) -> Result<&Staker, LedgerError> {
        let s = self.staker(addr)?;
        if s.tombstoned {
            return Err(LedgerError::StakerTombstoned(addr));
        }
        // The owner may top up a jailed staker's self-bond; nobody else may bond to a jailed staker.
        if let Some(until) = s.jailed_until
            && delegator != addr
        {
            return Err(LedgerError::StakerJailed { staker: addr, until });
        }
        Ok(s)
    }

    /// Shares `amount` tokens buy at `staker` now.
    fn shares_for(&self, staker_addr: Address, amount: u128) -> Result<u128, LedgerError> {
        let s = self.staker(staker_addr)?;
        let shares = if s.shares == 0 {
            amount
        } else if s.tokens == 0 {
            return Err(LedgerError::StakerInsolvent(staker_addr));
        } else {
            mul_div(amount, s.shares, s.tokens).ok_or(LedgerError::Overflow("share issue"))?
        };
        s.shares.checked_add(shares).ok_or(LedgerError::Overflow("staker shares"))?;
        if shares == 0 {
            return Err(LedgerError::AmountTooSmall(amount));
        }
        Ok(shares)
    }

    /// Issues shares for tokens already taken from the delegator's source of funds. Settles rewards first.
    pub(crate) fn bond(
        &mut self,
        delegator: Address,
        staker_addr: Address,
        amount: u128,
        shares: u128,
    ) {
        self.settle_rewards(delegator, staker_addr);
        let s = self.stakers.get_mut(&staker_addr).expect("checked by caller");
        s.tokens += amount;
        s.shares += shares;
        let ratio = s.rewards.ratio;
        let d = self.delegations.entry_or_default(staker_addr).entry_or_default(delegator);
        d.shares += shares;
        d.snapshot = ratio;
        self.emit(Event::Delegated { delegator, staker: staker_addr, amount, shares });
    }

    /// Registers a validator or operator owned by `owner`, bonding `self_bond` from its balance.
    pub fn create_staker(
        &mut self,
        owner: Address,
        role: Role,
        self_bond: u128,
        commission_ppm: u64,
    ) -> Result<(), LedgerError> {
        self.check_user(owner)?;
        if self.stakers.contains_key(&owner) {
            return Err(LedgerError::StakerExists(owner));
        }
        let minimum = self.params.min_self_bond(role).max(1);
        if self_bond < minimum {
            return Err(LedgerError::SelfBondBelowMinimum {
                staker: owner,
                minimum,
                actual: self_bond,
            });
        }
        self.check_commission(commission_ppm)?;
        self.check_balance(owner, self_bond)?;
        self.debit(owner, self_bond)?;
        self.stakers.insert(
            owner,
            Staker {
                role,
                tokens: 0,
                shares: 0,
                commission_ppm,
                commission_changed_at: self.height,
                jailed_until: None,
                tombstoned: false,
                locked: 0,
                rewards: RewardPool::default(),
            },
        );
        self.emit(Event::StakerCreated { staker: owner, role, self_bond, commission_ppm });
        self.bond(owner, owner, self_bond, self_bond);
        Ok(())
    }

    fn check_commission(&self, rate_ppm: u64) -> Result<(), LedgerError> {
        let (min_ppm, max_ppm) = (self.params.min_commission_ppm, self.params.max_commission_ppm);
        if rate_ppm < min_ppm || rate_ppm > max_ppm {
            return Err(LedgerError::CommissionOutOfRange { rate_ppm, min_ppm, max_ppm });
        }
        Ok(())
    }

    /// Changes a staker's commission: within the allowed range, by at most the maximum change, at most once a day.
    pub fn set_commission(&mut self, staker: Address, rate_ppm: u64) -> Result<(), LedgerError> {
        let s = self.staker(staker)?;
        self.check_commission(rate_ppm)?;
        let change_ppm = s.commission_ppm.abs_diff(rate_ppm);
        if change_ppm > self.params.max_commission_change_ppm {
            return Err(LedgerError::CommissionChangeTooLarge {
                change_ppm,
                max_ppm: self.params.max_commission_change_ppm,
            });
        }
        let next_height = s.commission_changed_at.saturating_add(self.params.blocks_per_day);
        if self.height < next_height {
            return Err(LedgerError::CommissionChangeTooSoon { next_height });
        }
        let old_ppm = s.commission_ppm;
        let height = self.height;
        let s = self.stakers.get_mut(&staker).expect("checked");
        s.commission_ppm = rate_ppm;
        s.commission_changed_at = height;
        self.emit(Event::CommissionChanged { staker, old_ppm, new_ppm: rate_ppm });
        Ok(())
    }

    /// Bonds `amount` from the delegator's balance to a staker.
    pub fn delegate(
        &mut self,
        delegator: Address,
        staker: Address,
        amount: u128,
    ) -> Result<u128, LedgerError> {
        self.check_user(delegator)?;
        if amount == 0 {
            return Err(LedgerError::ZeroAmount);
        }
        self.check_accepts_stake(staker, delegator)?;
        self.check_balance(delegator, amount)?;
        let shares = self.shares_for(staker, amount)?;
        self.debit(delegator, amount)?;
        self.bond(delegator, staker, amount, shares);
        Ok(shares)
    }

    /// Value of a delegation in tokens, rounded down.
    pub fn delegation_value(&self, delegator: Address, staker: Address) -> u128 {
        match (
            self.stakers.get(&staker),
            self.delegations.get(&staker).and_then(|m| m.get(&delegator)),
        ) {
            (Some(s), Some(d)) => s.value_of(d.shares),
            _ => 0,
        }
    }

    /// Plans removing at least `amount` tokens' worth of shares (or all of them when `amount` is the whole value).
    fn plan_unbond(
        &self,
        delegator: Address,
        staker_addr: Address,
        amount: u128,
    ) -> Result<Unbond, LedgerError> {
        if amount == 0 {
            return Err(LedgerError::ZeroAmount);
        }
        let s = self.staker(staker_addr)?;
        let d = self
            .delegations
            .get(&staker_addr)
            .and_then(|m| m.get(&delegator))
            .ok_or(LedgerError::NoDelegation { delegator, staker: staker_addr })?;
        let available = s.value_of(d.shares);
        if amount > available {
            return Err(LedgerError::InsufficientDelegation { requested: amount, available });
        }
        let shares = if amount == available {
            d.shares
        } else {
            mul_div_ceil(amount, s.shares, s.tokens)
                .ok_or(LedgerError::Overflow("unbond shares"))?
                .min(d.shares)
        };
        let released = s.value_of(shares);
        if s.tokens - released < s.locked {
            return Err(LedgerError::BondLocked {
                staker: staker_addr,
                free: s.free_bond(),
                needed: released,
            });
        }
        Ok(Unbond { shares, released })
    }

    /// Removes planned shares, settling rewards first; sweeps the staker's dust if it has no shares left.
    fn apply_unbond(&mut self, delegator: Address, staker_addr: Address, plan: &Unbond) {
        self.settle_rewards(delegator, staker_addr);
        let s = self.stakers.get_mut(&staker_addr).expect("planned");
        s.tokens -= plan.released;
        s.shares -= plan.shares;
        let map = self.delegations.get_mut(&staker_addr).expect("planned");
        let d = map.get_mut(&delegator).expect("planned");
        d.shares -= plan.shares;
        if d.shares == 0 {
            map.remove(&delegator);
            if map.is_empty() {
                self.delegations.remove(&staker_addr);
            }
        }
        self.sweep_if_empty(staker_addr);
        // An owner whose self-bond falls below the minimum is jailed until it tops up and unjails.
        if delegator == staker_addr {
            let s = &self.stakers[&staker_addr];
            let own = self.delegation_value(staker_addr, staker_addr);
            if own < self.params.min_self_bond(s.role) && s.jailed_until.is_none() && !s.tombstoned
            {
                let until = self.height;
                self.stakers.get_mut(&staker_addr).expect("exists").jailed_until = Some(until);
                self.emit(Event::Jailed {
                    staker: staker_addr,
                    reason: JailReason::SelfBondBelowMinimum,
                    until,
                });
            }
        }
    }

    fn count_entries(&mut self, delegator: Address, staker: Address) -> usize {
        // Through the pair's records only: in a run of exits the queue holds thousands.
        self.unbonding_by_pair.ids(&self.unbonding, (delegator, Some(staker))).count()
    }

    /// Starts unbonding `amount` tokens of a delegation; the tokens are paid after the unbonding period.
    /// Returns the queue entry id.
    pub fn undelegate(
        &mut self,
        delegator: Address,
        staker: Address,
        amount: u128,
    ) -> Result<u64, LedgerError> {
        self.check_user(delegator)?;
        let plan = self.plan_unbond(delegator, staker, amount)?;
        let max = self.params.max_entries;
        if self.count_entries(delegator, staker) >= max as usize {
            return Err(LedgerError::TooManyEntries { delegator, staker, max });
        }
        self.apply_unbond(delegator, staker, &plan);
        Ok(self.queue_unbonding(delegator, delegator, Some(staker), plan.released))
    }

    pub(crate) fn queue_unbonding(
        &mut self,
        delegator: Address,
        recipient: Address,
        staker: Option<Address>,
        amount: u128,
    ) -> u64 {
        let completion_height = self.height.saturating_add(self.params.unbonding_period_blocks);
        let entry = self.unbonding.push(UnbondingEntry {
            delegator,
            recipient,
            staker,
            creation_height: self.height,
            completion_height,
            initial_balance: amount,
            balance: amount,
        });
        self.unbonding_by_pair.insert((delegator, staker), entry);
        self.emit(Event::Undelegated {
            delegator,
            staker,
            recipient,
            amount,
            entry,
            completion_height,
        });
        entry
    }

    /// Moves `amount` tokens of a delegation from one staker to another at once. The moved stake stays
    /// slashable for the source's earlier faults until the unbonding period has passed, and cannot be
    /// redelegated again before then.
    pub fn redelegate(
        &mut self,
        delegator: Address,
        from: Address,
        to: Address,
        amount: u128,
    ) -> Result<u64, LedgerError> {
        self.check_user(delegator)?;
        if from == to {
            return Err(LedgerError::RedelegateToSelf(from));
        }
        self.check_accepts_stake(to, delegator)?;
        // One pass over the delegator's open redelegations: any into `from` (transitive), and the count out
        // of it.
        let (mut transitive, mut open) = (None, 0usize);
        let entries = &self.redelegations.entries;
        for e in self
            .redelegations_by_delegator
            .ids(&self.redelegations, delegator)
            .map(|id| &entries[&id])
        {
            if e.to == from {
                transitive = transitive.max(Some(e.completion_height));
            }
            if e.from == from {
                open += 1;
            }
        }
        if let Some(until) = transitive {
            return Err(LedgerError::TransitiveRedelegation { delegator, staker: from, until });
        }
        let max = self.params.max_entries;
        if open >= max as usize {
            return Err(LedgerError::TooManyEntries { delegator, staker: from, max });
        }
        let plan = self.plan_unbond(delegator, from, amount)?;
        let shares = self.shares_for(to, plan.released)?;
        self.apply_unbond(delegator, from, &plan);
        self.bond(delegator, to, plan.released, shares);
        let entry = self.redelegations.push(RedelegationEntry {
            delegator,
            from,
            to,
            creation_height: self.height,
            completion_height: self.height.saturating_add(self.params.unbonding_period_blocks),
            initial_balance: plan.released,
            shares_dst: shares,
        });
        self.redelegations_by_delegator.insert(delegator, entry);
        self.emit(Event::Redelegated { delegator, from, to, amount: plan.released, entry });
        Ok(entry)
    }

    /// Ends a jail term: the term must be over, the staker not tombstoned, and its self-bond at the minimum.
    pub fn unjail(&mut self, staker: Address) -> Result<(), LedgerError> {
        let s = self.staker(staker)?;
        if s.tombstoned {
            return Err(LedgerError::StakerTombstoned(staker));
        }
        let Some(until) = s.jailed_until else { return Err(LedgerError::NotJailed(staker)) };
        if self.height < until {
            return Err(LedgerError::StakerJailed { staker, until });
        }
        let minimum = self.params.min_self_bond(s.role).max(1);
        let actual = self.delegation_value(staker, staker);
        if actual < minimum {
            return Err(LedgerError::SelfBondBelowMinimum { staker, minimum, actual });
        }
        self.stakers.get_mut(&staker).expect("checked").jailed_until = None;
        self.emit(Event::Unjailed { staker });
        Ok(())
    }

    pub(crate) fn jail(&mut self, staker: Address, reason: JailReason, until: u64) {
        if let Some(s) = self.stakers.get_mut(&staker) {
            let until = s.jailed_until.map_or(until, |u| u.max(until));
            s.jailed_until = Some(until);
            self.emit(Event::Jailed { staker, reason, until });
        }
    }
}
