//! F1-style lazy reward distribution: a staker's rewards raise a cumulative reward-per-share ratio in O(1);
//! a delegator's reward is `shares × (ratio_now − ratio_at_last_withdrawal)`, computed only when it acts.
//!
//! Cosmos x/distribution keeps one ratio per *token* and needs slash events to correct it, because a slash
//! changes tokens per delegator. Here the ratio is per *share*: a slash lowers the tokens behind every share
//! of a staker but never the number of shares, so no correction is needed and nothing loops over
//! delegators, at allocation or at slashing.
//!
//! Exactness: `ratio += (amount·10^18 + carry) / shares` with the remainder kept in `carry` (in units of
//! 10^-18 base units), so an allocation never loses a fraction of a base unit to the ratio. Each payout rounds
//! down; what the floors leave behind stays in the staker's `outstanding` and goes to the dust account when
//! the staker's last share leaves. Every source (inference fees, emissions, transaction fees) has its own
//! ratio, so every payout says where it came from.

use serde::{Deserialize, Serialize};

use crate::{
    Ledger,
    addr_map::AddrMap,
    address::Address,
    event::{DustSource, Event},
    math::{RATIO_SCALE, div_rem_wide, mul_div, mul_wide, ppm_of},
    staking::{Delegation, Role, Staker},
};

/// A source of staking rewards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RewardSource {
    /// Inference fees paid per request.
    InferenceFees,
    /// Emissions (incentive pool or inflation).
    Emissions,
    /// Transaction base fees and tips.
    TxFees,
}

impl RewardSource {
    /// Every source, in a fixed order.
    pub const ALL: [RewardSource; 3] =
        [RewardSource::InferenceFees, RewardSource::Emissions, RewardSource::TxFees];
}

/// One amount (or ratio) per reward source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BySource {
    /// Inference fees.
    pub inference_fees: u128,
    /// Emissions.
    pub emissions: u128,
    /// Transaction fees and tips.
    pub tx_fees: u128,
}

impl BySource {
    /// The value for one source.
    pub fn get(&self, source: RewardSource) -> u128 {
        match source {
            RewardSource::InferenceFees => self.inference_fees,
            RewardSource::Emissions => self.emissions,
            RewardSource::TxFees => self.tx_fees,
        }
    }

    /// The value for one source, mutably.
    pub fn get_mut(&mut self, source: RewardSource) -> &mut u128 {
        match source {
            RewardSource::InferenceFees => &mut self.inference_fees,
            RewardSource::Emissions => &mut self.emissions,
            RewardSource::TxFees => &mut self.tx_fees,
        }
    }

    /// Sum over sources.
    pub fn total(&self) -> u128 {
        self.inference_fees + self.emissions + self.tx_fees
    }
}

/// A staker's reward bookkeeping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardPool {
    /// Cumulative reward per share, scaled by 10^18, per source.
    pub ratio: BySource,
    /// Undistributed remainder of the ratio division, in 10^-18 base units, per source (always < shares).
    pub carry: BySource,
    /// Tokens allocated to delegators and not yet withdrawn.
    pub outstanding: u128,
    /// Total ever allocated to delegators (after commission), per source.
    pub to_delegators: BySource,
    /// Total ever paid to the owner as commission, per source.
    pub commission: BySource,
    /// Total ever withdrawn by delegators.
    pub paid: u128,
    /// Total ever swept to the dust account.
    pub swept: u128,
}

/// A delegation's unpaid rewards per source (rounded down).
/// Settles one delegation against its staker's reward pool: the pending rewards leave the pool's
/// `outstanding` (into `paid`) and the delegation's snapshot moves to the current ratios. The caller pays
/// the amounts out ([`Ledger::pay_out`]).
pub(crate) fn settle_pair(staker: &mut Staker, delegation: &mut Delegation) -> BySource {
    let amounts = pending(staker, delegation);
    take_pending(staker, delegation, amounts);
    amounts
}

/// The second half of [`settle_pair`], for a caller that computed `amounts = pending(staker, delegation)`
/// itself with nothing changed since: the delegation's snapshot moves to the staker's ratios and the amounts
/// leave the staker's outstanding rewards.
pub(crate) fn take_pending(staker: &mut Staker, delegation: &mut Delegation, amounts: BySource) {
    delegation.snapshot = staker.rewards.ratio;
    let total = amounts.total();
    if total > 0 {
        staker.rewards.outstanding -= total;
        staker.rewards.paid += total;
    }
}

pub(crate) fn pending(staker: &Staker, delegation: &Delegation) -> BySource {
    let mut out = BySource::default();
    for src in RewardSource::ALL {
        let delta = staker.rewards.ratio.get(src) - delegation.snapshot.get(src);
        // Most positions have nothing new from some source (operators never earn transaction fees).
        if delta != 0 {
            *out.get_mut(src) = mul_div(delegation.shares, delta, RATIO_SCALE).unwrap_or(0);
        }
    }
    out
}

impl Ledger {
    /// Credits `amount` from `source` to a staker: commission to its owner's balance at once, the rest to its
    /// delegators through the reward-per-share ratio. O(1) whatever the number of delegators.
    pub(crate) fn allocate(&mut self, staker_addr: Address, source: RewardSource, amount: u128) {
        self.allocate_at(None, staker_addr, source, amount);
    }

    /// [`Ledger::allocate`] to the staker in `slot` when that slot holds it (found by address otherwise).
    fn allocate_at(
        &mut self,
        slot: Option<u32>,
        staker_addr: Address,
        source: RewardSource,
        amount: u128,
    ) {
        if amount == 0 {
            return;
        }
        let staker = match slot {
            Some(i) if self.stakers.get_at(i, &staker_addr).is_some() => {
                self.stakers.value_at_mut(i)
            }
            _ => self.stakers.get_mut(&staker_addr),
        };
        let Some(staker) = staker else {
            // Callers only allocate to existing stakers; keep the tokens rather than lose them.
            self.pools.treasury += amount;
            return;
        };
        let mut commission = ppm_of(amount, staker.commission_ppm);
        let rest = amount - commission;
        if rest > 0 {
            let pool = &mut staker.rewards;
            let (hi, lo) = mul_wide(rest, RATIO_SCALE);
            let (lo, c) = lo.overflowing_add(pool.carry.get(source));
            let divided = div_rem_wide(hi + u128::from(c), lo, staker.shares)
                .and_then(|(inc, rem)| pool.ratio.get(source).checked_add(inc).map(|r| (r, rem)));
            match divided {
                Some((ratio, rem)) => {
                    *pool.ratio.get_mut(source) = ratio;
                    *pool.carry.get_mut(source) = rem;
                    pool.outstanding += rest;
                    *pool.to_delegators.get_mut(source) += rest;
                }
                // No shares (or a ratio beyond 128 bits): nobody to share with, the owner takes it all.
                None => {
                    commission += rest;
                }
            }
        }
        *staker.rewards.commission.get_mut(source) += commission;
        if commission > 0 {
            self.credit(staker_addr, commission);
        }
        *self.stats.rewards_allocated.get_mut(source) += amount;
        self.emit(Event::RewardsAllocated { staker: staker_addr, source, amount, commission });
    }

    /// The active stakers of `role` with their bonded tokens, in address order, and the tokens' sum.
    /// With their slots, so that allocating to them needs no lookup.
    pub(crate) fn stake_recipients(&self, role: Role) -> (Vec<(Address, u32, u128)>, u128) {
        let recipients: Vec<(Address, u32, u128)> = self
            .stakers
            .iter_slots()
            .filter(|(_, _, s)| s.role == role && s.is_active())
            .map(|(i, a, s)| (*a, i, s.tokens))
            .collect();
        let total = recipients.iter().map(|(_, _, t)| *t).sum();
        (recipients, total)
    }

    /// Splits `amount` among `recipients` (from [`Ledger::stake_recipients`]; allocating changes nobody's
    /// tokens, so one list serves every source of a block) in proportion to their bonded tokens; returns
    /// what was allocated (the rounding remainder stays with the caller for the next block). O(stakers).
    pub(crate) fn allocate_by_stake(
        &mut self,
        (recipients, total): &(Vec<(Address, u32, u128)>, u128),
        source: RewardSource,
        amount: u128,
    ) -> u128 {
        if *total == 0 || amount == 0 {
            return 0;
        }
        let mut given = 0;
        for &(addr, slot, tokens) in recipients {
            let part = mul_div(amount, tokens, *total).unwrap_or(0);
            self.allocate_at(Some(slot), addr, source, part);
            given += part;
        }
        given
    }

    /// Pays a delegation's accrued rewards: to the delegator's balance, or to the pool's buffer when the
    /// delegator is the liquid staking pool. Returns the amounts.
    pub(crate) fn settle_rewards(&mut self, delegator: Address, staker_addr: Address) -> BySource {
        self.try_settle_rewards(delegator, staker_addr).unwrap_or_default()
    }

    /// [`Ledger::settle_rewards`], or `None` when there is no such delegation (one lookup for both).
    fn try_settle_rewards(&mut self, delegator: Address, staker_addr: Address) -> Option<BySource> {
        let delegation =
            self.delegations.get_mut(&staker_addr).and_then(|m| m.get_mut(&delegator))?;
        let Some(staker) = self.stakers.get_mut(&staker_addr) else {
            return Some(BySource::default());
        };
        let amounts = settle_pair(staker, delegation);
        self.pay_out(delegator, staker_addr, amounts);
        Some(amounts)
    }

    /// Pays what [`settle_pair`] took from a staker's rewards: to the stOPG buffer or the delegator's balance,
    /// with the statistics and the event. Nothing happens for zero.
    pub(crate) fn pay_out(&mut self, delegator: Address, staker_addr: Address, amounts: BySource) {
        let total = amounts.total();
        if total == 0 {
            return;
        }
        if delegator == Address::LST_POOL {
            self.pools.lst_buffer += total;
        } else {
            self.credit(delegator, total);
        }
        for src in RewardSource::ALL {
            *self.stats.rewards_paid.get_mut(src) += amounts.get(src);
        }
        self.emit(Event::RewardsWithdrawn { delegator, staker: staker_addr, amounts });
    }

    /// Sends what is left of a staker's rewards to the dust account once it has no shares.
    pub(crate) fn sweep_if_empty(&mut self, staker_addr: Address) {
        let Some(staker) = self.stakers.get_mut(&staker_addr) else { return };
        if staker.shares != 0 {
            return;
        }
        staker.rewards.carry = BySource::default();
        let dust = std::mem::take(&mut staker.rewards.outstanding);
        staker.rewards.swept += dust;
        if dust > 0 {
            self.pools.dust += dust;
            self.emit(Event::Dust { source: DustSource::StakerRewards, amount: dust });
        }
    }

    /// Withdraws a delegator's accrued rewards from one staker to its balance.
    pub fn withdraw_rewards(
        &mut self,
        delegator: Address,
        staker: Address,
    ) -> Result<BySource, crate::LedgerError> {
        self.try_settle_rewards(delegator, staker)
            .ok_or(crate::LedgerError::NoDelegation { delegator, staker })
    }

    /// [`Ledger::withdraw_rewards`] from each staker in `stakers`, in order, keeping in `stakers` only those
    /// the delegator has a delegation with (the others are skipped, as `withdraw_rewards` would refuse them).
    /// The same balances, statistics and events as one call per staker, with one balance update at the end.
    /// Returns the total withdrawn per source.
    pub fn withdraw_rewards_many(
        &mut self,
        delegator: Address,
        stakers: &mut Vec<Address>,
    ) -> BySource {
        let mut sum = BySource::default();
        let mut total = 0;
        stakers.retain(|&staker_addr| {
            let Some(delegation) =
                self.delegations.get_mut(&staker_addr).and_then(|m| m.get_mut(&delegator))
            else {
                return false;
            };
            let Some(staker) = self.stakers.get_mut(&staker_addr) else { return true };
            let amounts = settle_pair(staker, delegation);
            add_withdrawal(&mut sum, &mut total, amounts);
            if self.record_events && amounts.total() > 0 {
                self.events.push(Event::RewardsWithdrawn {
                    delegator,
                    staker: staker_addr,
                    amounts,
                });
            }
            true
        });
        self.credit_withdrawals(delegator, total, sum);
        sum
    }

    /// [`Ledger::withdraw_rewards`] through a reference from [`Ledger::delegation_ref`] (updated when the
    /// delegation has moved in the ledger's maps).
    pub fn withdraw_rewards_ref(
        &mut self,
        delegator: Address,
        r: &mut DelegationRef,
    ) -> Result<BySource, crate::LedgerError> {
        let staker = r.staker;
        let Some(delegation) = delegation_at(&mut self.delegations, delegator, r) else {
            return Err(crate::LedgerError::NoDelegation { delegator, staker });
        };
        let Some(pool) = staker_at(&mut self.stakers, r) else { return Ok(BySource::default()) };
        let amounts = settle_pair(pool, delegation);
        self.pay_out(delegator, staker, amounts);
        Ok(amounts)
    }

    /// [`Ledger::withdraw_rewards_many`] over references from [`Ledger::delegation_ref`]: the same balances,
    /// statistics and events, in the order of `refs`, and `refs` keeps only the delegations that still
    /// exist. A reference whose delegation moved in the ledger's maps is looked up again (and updated).
    pub fn withdraw_rewards_refs(
        &mut self,
        delegator: Address,
        refs: &mut Vec<DelegationRef>,
    ) -> BySource {
        let mut sum = BySource::default();
        let mut total = 0;
        refs.retain_mut(|r| {
            let Some(delegation) = delegation_at(&mut self.delegations, delegator, r) else {
                return false;
            };
            let Some(staker) = staker_at(&mut self.stakers, r) else { return true };
            let amounts = settle_pair(staker, delegation);
            add_withdrawal(&mut sum, &mut total, amounts);
            if self.record_events && amounts.total() > 0 {
                self.events.push(Event::RewardsWithdrawn { delegator, staker: r.staker, amounts });
            }
            true
        });
        self.credit_withdrawals(delegator, total, sum);
        sum
    }

    /// The end of a batch of withdrawals: one credit (or one buffer update for the stOPG pool) and the
    /// statistics.
    fn credit_withdrawals(&mut self, delegator: Address, total: u128, sum: BySource) {
        if total > 0 {
            if delegator == Address::LST_POOL {
                self.pools.lst_buffer += total;
            } else {
                self.credit(delegator, total);
            }
            for src in RewardSource::ALL {
                *self.stats.rewards_paid.get_mut(src) += sum.get(src);
            }
        }
    }

    /// A reference to `delegator`'s delegation with `staker`, for [`Ledger::withdraw_rewards_refs`] and
    /// [`Ledger::delegation_value_ref`]; `None` when there is no such delegation.
    pub fn delegation_ref(&self, delegator: Address, staker: Address) -> Option<DelegationRef> {
        let map_slot = self.delegations.slot_of(&staker)?;
        let slot = self.delegations.get_at(map_slot, &staker)?.slot_of(&delegator)?;
        // A delegation outlives nothing it needs, but a missing staker is handled as by the address API.
        let staker_slot = self.stakers.slot_of(&staker).unwrap_or(u32::MAX);
        Some(DelegationRef { staker, staker_slot, map_slot, slot })
    }

    /// [`Ledger::get_staker`] of the staker a reference names, through its slot while that is still the
    /// staker's.
    pub fn staker_of(&self, r: &DelegationRef) -> Option<&Staker> {
        self.stakers.get_at(r.staker_slot, &r.staker).or_else(|| self.stakers.get(&r.staker))
    }

    /// [`Ledger::delegation_value`] through a reference.
    pub fn delegation_value_ref(&self, delegator: Address, r: &DelegationRef) -> u128 {
        let found = (
            self.stakers.get_at(r.staker_slot, &r.staker),
            self.delegations
                .get_at(r.map_slot, &r.staker)
                .and_then(|m| m.get_at(r.slot, &delegator)),
        );
        match found {
            (Some(s), Some(d)) => s.value_of(d.shares),
            // Moved or gone: the lookup by address answers.
            _ => self.delegation_value(delegator, r.staker),
        }
    }

    /// A delegation's accrued, unpaid rewards per source (read-only).
    pub fn pending_rewards(&self, delegator: Address, staker: Address) -> BySource {
        match (
            self.stakers.get(&staker),
            self.delegations.get(&staker).and_then(|m| m.get(&delegator)),
        ) {
            (Some(s), Some(d)) => pending(s, d),
            _ => BySource::default(),
        }
    }
}

/// Adds one settlement to a batch's sums.
fn add_withdrawal(sum: &mut BySource, total: &mut u128, amounts: BySource) {
    let t = amounts.total();
    if t == 0 {
        return;
    }
    *total += t;
    for src in RewardSource::ALL {
        *sum.get_mut(src) += amounts.get(src);
    }
}

/// Where one delegation sits in the ledger's maps, from [`Ledger::delegation_ref`]: a caller that acts on
/// the same delegations again and again (the simulator's delegators at each review) reaches them without
/// hashing their addresses. It can never reach the wrong entry: every use checks the addresses held in the
/// slots it names, and looks the delegation up by address when it has moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelegationRef {
    staker: Address,
    staker_slot: u32,
    map_slot: u32,
    slot: u32,
}

impl DelegationRef {
    /// The staker delegated to.
    pub fn staker(&self) -> Address {
        self.staker
    }
}

/// The delegation `r` names, its slots refreshed when they are stale; `None` when it no longer exists.
fn delegation_at<'a>(
    delegations: &'a mut AddrMap<AddrMap<Delegation>>,
    delegator: Address,
    r: &mut DelegationRef,
) -> Option<&'a mut Delegation> {
    let fresh = delegations
        .get_at(r.map_slot, &r.staker)
        .is_some_and(|m| m.get_at(r.slot, &delegator).is_some());
    if !fresh {
        r.map_slot = delegations.slot_of(&r.staker)?;
        r.slot = delegations.get_at(r.map_slot, &r.staker)?.slot_of(&delegator)?;
    }
    // Both slots hold the keys now (checked or just found): no second comparison.
    delegations.value_at_mut(r.map_slot)?.value_at_mut(r.slot)
}

/// The staker `r` names, its slot refreshed when stale.
fn staker_at<'a>(
    stakers: &'a mut AddrMap<Staker>,
    r: &mut DelegationRef,
) -> Option<&'a mut Staker> {
    if stakers.get_at(r.staker_slot, &r.staker).is_none() {
        r.staker_slot = stakers.slot_of(&r.staker)?;
    }
    stakers.value_at_mut(r.staker_slot)
}
