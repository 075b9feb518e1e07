//! The liquid staking token stOPG: a share of a pool that delegates OPG for its holders.
//!
//! ```text
//!  deposit OPG ──► mint stOPG = OPG · supply / value ──► buffer ──► delegate to the eligible staker
//!                                                                   with the least pool stake
//!  rewards ─────► settled into the buffer at every pool operation (auto-compounding: the rate rises)
//!  slash ───────► the pool's delegations lose value (the rate falls)
//!  redeem stOPG ─► burn, OPG = stOPG · value / supply ─► buffer first, then undelegate from the staker
//!                  with the most pool stake ─► unbonding queue ─► paid to the holder after the period
//! ```
//! `value` = buffer + value of the pool's delegations + their unsettled rewards. Minting and redeeming round
//! down, so rounding favours the remaining holders; the last holder to redeem takes everything left.
//!
//! Delegation rule: eligible stakers are active validators and operators whose commission is at most
//! `lst_max_commission_ppm`; each deposit goes to the one holding the least pool stake (ties: lowest
//! address), which spreads the pool evenly. Redemptions draw first from the buffer, then from the staker
//! holding the most pool stake (ties: lowest address), skipping bond that jobs lock.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    Ledger, LedgerError,
    addr_map::AddrMap,
    address::Address,
    distribution::{BySource, pending, take_pending},
    event::Event,
    math::{mul_div, mul_div_ceil},
    staking::Delegation,
};

/// stOPG balances.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LstState {
    /// stOPG in existence.
    pub total: u128,
    /// stOPG per holder.
    pub holders: BTreeMap<Address, u128>,
}

/// The pool's exchange rate as a fraction: `opg` backs `st_opg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LstRate {
    /// OPG value of the pool.
    pub opg: u128,
    /// stOPG supply.
    pub st_opg: u128,
}

impl LstRate {
    /// OPG per stOPG scaled by 10^18 (1.0 when empty).
    pub fn per_st_opg_e18(&self) -> u128 {
        if self.st_opg == 0 {
            crate::math::OPG
        } else {
            mul_div(self.opg, crate::math::OPG, self.st_opg).unwrap_or(0)
        }
    }
}

/// The LST exit queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitQueue {
    /// Redemption entries waiting.
    pub entries: usize,
    /// OPG waiting.
    pub amount: u128,
    /// Height the last waiting entry pays out.
    pub last_completion_height: Option<u64>,
    /// Height a redemption made now would pay out.
    pub expected_exit_height: u64,
}

/// Where the pool's delegation sits in one staker's delegator map. Reserved addresses sort above all others,
/// so it is the last entry unless a reserved address above the pool's holds one too: no hashing then.
enum PoolEntry {
    Last,
    Absent,
    Elsewhere,
}

fn pool_entry(map: &AddrMap<Delegation>) -> PoolEntry {
    match map.last() {
        Some((a, _)) if *a == Address::LST_POOL => PoolEntry::Last,
        // Below every reserved address (the common case, decided on one byte).
        Some((a, _)) if a.0[0] != 0xff => PoolEntry::Absent,
        Some((a, _)) if *a > Address::LST_POOL => PoolEntry::Elsewhere,
        _ => PoolEntry::Absent,
    }
}

/// The pool's delegation in one staker's delegator map.
fn pool_delegation(map: &AddrMap<Delegation>) -> Option<&Delegation> {
    match pool_entry(map) {
        PoolEntry::Last => map.last().map(|(_, d)| d),
        PoolEntry::Absent => None,
        PoolEntry::Elsewhere => map.get(&Address::LST_POOL),
    }
}

/// [`pool_delegation`], mutable.
fn pool_delegation_mut(map: &mut AddrMap<Delegation>) -> Option<&mut Delegation> {
    match pool_entry(map) {
        PoolEntry::Last => map.last_mut().map(|(_, d)| d),
        PoolEntry::Absent => None,
        PoolEntry::Elsewhere => map.get_mut(&Address::LST_POOL),
    }
}

/// The pool's delegations as [`Ledger::pool_walk`] found them.
struct PoolWalk {
    /// Sum of their values.
    value: u128,
    /// Sum of their unsettled rewards.
    pending: u128,
    at: Vec<PoolPosition>,
}

/// One pool delegation: its staker, where the two sit in the ledger's maps, its value and unsettled rewards.
struct PoolPosition {
    staker: Address,
    map_slot: u32,
    staker_slot: u32,
    value: u128,
    amounts: BySource,
}

/// One step of a redemption plan.
struct Draw {
    staker: Address,
    shares: u128,
    released: u128,
}

impl Ledger {
    /// The pool's value: buffer + its delegations' value + their unsettled rewards.
    pub fn lst_value(&self) -> u128 {
        let mut v = self.pools.lst_buffer;
        for (staker, map) in self.delegations.iter() {
            let Some(d) = pool_delegation(map) else { continue };
            if let Some(s) = self.stakers.get(staker) {
                v += s.value_of(d.shares) + pending(s, d).total();
            }
        }
        v
    }

    /// The current exchange rate.
    pub fn lst_rate(&self) -> LstRate {
        LstRate { opg: self.lst_value(), st_opg: self.lst.total }
    }

    /// stOPG held by `account`.
    pub fn st_opg_balance(&self, account: Address) -> u128 {
        self.lst.holders.get(&account).copied().unwrap_or(0)
    }

    /// stOPG in existence.
    pub fn st_opg_supply(&self) -> u128 {
        self.lst.total
    }

    /// The exit queue and when a redemption made now would pay out.
    pub fn lst_exit_queue(&self) -> ExitQueue {
        let mut q = ExitQueue {
            entries: 0,
            amount: 0,
            last_completion_height: None,
            expected_exit_height: self.height.saturating_add(self.params.unbonding_period_blocks),
        };
        for e in self.unbonding.entries.values().filter(|e| e.delegator == Address::LST_POOL) {
            q.entries += 1;
            q.amount += e.balance;
            q.last_completion_height = q.last_completion_height.max(Some(e.completion_height));
        }
        q
    }

    /// One walk over the pool's delegations (in staker order): their values and unsettled rewards, and where
    /// each sits, so that [`Ledger::harvest_walked`] settles them without computing the rewards again.
    fn pool_walk(&self) -> PoolWalk {
        let mut walk = PoolWalk { value: 0, pending: 0, at: Vec::new() };
        for (map_slot, staker, map) in self.delegations.iter_slots() {
            let Some(d) = pool_delegation(map) else { continue };
            let Some(staker_slot) = self.stakers.slot_of(staker) else { continue };
            let s = self.stakers.get_at(staker_slot, staker).expect("slot just found");
            let (value, amounts) = (s.value_of(d.shares), pending(s, d));
            walk.value += value;
            walk.pending += amounts.total();
            walk.at.push(PoolPosition { staker: *staker, map_slot, staker_slot, value, amounts });
        }
        walk
    }

    /// Settles the pool's rewards from every staker into the buffer, as walked by [`Ledger::pool_walk`] with
    /// nothing changed since: each delegation's snapshot moves to its staker's ratios, then the payouts in
    /// staker order (the same buffer, statistics and events as settling them one by one). O(stakers).
    fn harvest_walked(&mut self, walk: &PoolWalk) {
        for p in &walk.at {
            let map = self.delegations.get_at_mut(p.map_slot, &p.staker).expect("walked");
            let d = pool_delegation_mut(map).expect("walked");
            let s = self.stakers.get_at_mut(p.staker_slot, &p.staker).expect("walked");
            take_pending(s, d, p.amounts);
        }
        for p in &walk.at {
            if p.amounts.total() > 0 {
                self.pay_out(Address::LST_POOL, p.staker, p.amounts);
            }
        }
    }

    /// Delegates the buffer by the pool's rule (if any staker is eligible and the buffer buys a share).
    fn deploy_buffer(&mut self) {
        let amount = self.pools.lst_buffer;
        if amount == 0 {
            return;
        }
        let max_commission = self.params.lst_max_commission_ppm;
        let mut at = 0;
        let target = self
            .stakers
            .iter()
            .filter(|(_, s)| s.is_active() && s.commission_ppm <= max_commission)
            .map(|(a, s)| {
                let map =
                    self.delegations.seek(&mut at, a).and_then(|i| self.delegations.get_at(i, a));
                let held = map.and_then(pool_delegation);
                (held.map_or(0, |d| s.value_of(d.shares)), *a)
            })
            .min();
        let Some((_, staker)) = target else { return };
        let shares = match self.stakers[&staker] {
            ref s if s.shares == 0 => amount,
            ref s => mul_div(amount, s.shares, s.tokens).unwrap_or(0),
        };
        if shares == 0 || self.stakers[&staker].shares.checked_add(shares).is_none() {
            return;
        }
        self.pools.lst_buffer = 0;
        self.bond(Address::LST_POOL, staker, amount, shares);
    }

    /// Deposits OPG into the pool and mints stOPG at the current rate. Returns the stOPG minted.
    pub fn lst_deposit(&mut self, account: Address, amount: u128) -> Result<u128, LedgerError> {
        self.check_user(account)?;
        if amount == 0 {
            return Err(LedgerError::ZeroAmount);
        }
        self.check_balance(account, amount)?;
        // One walk gives the rate (as `lst_rate`) and the rewards the harvest below settles.
        let walk = self.pool_walk();
        let (opg, st_opg) = (self.pools.lst_buffer + walk.value + walk.pending, self.lst.total);
        let minted = if st_opg == 0 {
            amount
        } else if opg == 0 {
            return Err(LedgerError::LstInsolvent);
        } else {
            mul_div(amount, st_opg, opg).ok_or(LedgerError::Overflow("stOPG mint"))?
        };
        if minted == 0 {
            return Err(LedgerError::AmountTooSmall(amount));
        }
        st_opg.checked_add(minted).ok_or(LedgerError::Overflow("stOPG supply"))?;
        self.harvest_walked(&walk);
        self.debit(account, amount)?;
        self.pools.lst_buffer += amount;
        self.lst.total += minted;
        *self.lst.holders.entry(account).or_default() += minted;
        self.emit(Event::LstDeposited { account, opg: amount, st_opg: minted });
        self.deploy_buffer();
        Ok(minted)
    }

    /// Plans where `need` OPG comes from, beyond the buffer: largest pool stake first, within free bond
    /// (`all`: every pool delegation, entirely). Shares are rounded up, so a draw releases at least its take.
    fn plan_draws(
        &self,
        mut stakes: Vec<(Address, u128)>,
        mut need: u128,
        all: bool,
    ) -> Result<Vec<Draw>, LedgerError> {
        let requested = need;
        stakes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut draws = Vec::new();
        for (staker, value) in stakes {
            let s = &self.stakers[&staker];
            let held = self.delegations[&staker][&Address::LST_POOL].shares;
            if all {
                if s.tokens - value < s.locked {
                    return Err(LedgerError::LstIlliquid { requested, available: 0 });
                }
                draws.push(Draw { staker, shares: held, released: value });
                continue;
            }
            if need == 0 {
                break;
            }
            let mut take = need.min(value);
            for _ in 0..2 {
                if take == 0 {
                    break;
                }
                let shares = if take == value {
                    held
                } else {
                    mul_div_ceil(take, s.shares, s.tokens)
                        .ok_or(LedgerError::Overflow("redeem shares"))?
                        .min(held)
                };
                let released = s.value_of(shares);
                if s.tokens - released >= s.locked {
                    draws.push(Draw { staker, shares, released });
                    need -= take.min(need);
                    break;
                }
                let per_share = s.tokens.div_ceil(s.shares.max(1));
                take = s.free_bond().saturating_sub(per_share + 1).min(take - 1);
            }
        }
        if need > 0 {
            return Err(LedgerError::LstIlliquid { requested, available: requested - need });
        }
        Ok(draws)
    }

    /// Burns stOPG and queues the OPG it is worth for payout after the unbonding period. Returns the OPG
    /// queued. The last holder to redeem takes the whole pool.
    pub fn lst_redeem(&mut self, account: Address, st_amount: u128) -> Result<u128, LedgerError> {
        self.check_user(account)?;
        if st_amount == 0 {
            return Err(LedgerError::ZeroAmount);
        }
        let available = self.st_opg_balance(account);
        if st_amount > available {
            return Err(LedgerError::InsufficientStOpg {
                account,
                requested: st_amount,
                available,
            });
        }
        let all = st_amount == self.lst.total;
        // One walk for the pool's stakes and their unsettled rewards: the value is their sum plus the buffer
        // (as `lst_value` computes it).
        let walk = self.pool_walk();
        let (stakes, pending): (Vec<(Address, u128)>, u128) =
            (walk.at.iter().map(|p| (p.staker, p.value)).collect(), walk.pending);
        let opg = self.pools.lst_buffer + walk.value + pending;
        let st_opg = self.lst.total;
        let owed = if all {
            opg
        } else {
            mul_div(st_amount, opg, st_opg).ok_or(LedgerError::Overflow("redeem"))?
        };
        // Pending rewards become buffer at harvest, so plan against the buffer after harvest.
        let buffer_after = self.pools.lst_buffer + pending;
        let from_buffer = owed.min(buffer_after);
        let draws = self.plan_draws(stakes, owed - from_buffer, all)?;
        self.harvest_walked(&walk);
        self.lst.total -= st_amount;
        let h = self.lst.holders.get_mut(&account).expect("checked");
        *h -= st_amount;
        if *h == 0 {
            self.lst.holders.remove(&account);
        }
        self.pools.lst_buffer -= from_buffer;
        let mut queued = from_buffer;
        if from_buffer > 0 {
            self.queue_unbonding(Address::LST_POOL, account, None, from_buffer);
        }
        for d in draws {
            let released = d.released;
            self.pool_unbond(&d);
            let pay = if all { released } else { released.min(owed - queued) };
            // Shares are removed rounding up: any excess over what is owed stays with the pool.
            self.pools.lst_buffer += released - pay;
            if pay > 0 {
                self.queue_unbonding(Address::LST_POOL, account, Some(d.staker), pay);
                queued += pay;
            }
        }
        if all {
            // The last holder takes whatever else is left (rounding remainders).
            let rest = std::mem::take(&mut self.pools.lst_buffer);
            if rest > 0 {
                self.queue_unbonding(Address::LST_POOL, account, None, rest);
                queued += rest;
            }
        }
        self.emit(Event::LstRedeemed { account, st_opg: st_amount, opg: queued });
        Ok(queued)
    }

    /// Removes a planned draw's shares from the pool's delegation.
    fn pool_unbond(&mut self, d: &Draw) {
        let s = self.stakers.get_mut(&d.staker).expect("planned");
        s.tokens -= d.released;
        s.shares -= d.shares;
        let map = self.delegations.get_mut(&d.staker).expect("planned");
        let del = map.get_mut(&Address::LST_POOL).expect("planned");
        del.shares -= d.shares;
        if del.shares == 0 {
            map.remove(&Address::LST_POOL);
            if map.is_empty() {
                self.delegations.remove(&d.staker);
            }
        }
        self.sweep_if_empty(d.staker);
    }

    /// Moves stOPG between holders.
    pub fn lst_transfer(
        &mut self,
        from: Address,
        to: Address,
        amount: u128,
    ) -> Result<(), LedgerError> {
        self.check_user(from)?;
        self.check_user(to)?;
        if amount == 0 {
            return Err(LedgerError::ZeroAmount);
        }
        let available = self.st_opg_balance(from);
        if amount > available {
            return Err(LedgerError::InsufficientStOpg {
                account: from,
                requested: amount,
                available,
            });
        }
        let h = self.lst.holders.get_mut(&from).expect("checked");
        *h -= amount;
        if *h == 0 {
            self.lst.holders.remove(&from);
        }
        *self.lst.holders.entry(to).or_default() += amount;
        self.emit(Event::LstTransfer { from, to, amount });
        Ok(())
    }
}
