//! Invariants the ledger keeps after every operation; [`Ledger::check_invariants`] checks them all.
//! Tests, the fuzzer and the simulator call it after each step. It loops over everything (it is a check,
//! not a block operation).

use std::collections::BTreeMap;

use crate::{
    Ledger, addr_map::AddrMap, address::Address, distribution::pending, math::RATIO_SCALE,
};

/// A broken invariant: which one, and the numbers that break it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invariant `{name}` broken: {detail}")]
pub struct InvariantViolation {
    /// Short name of the invariant.
    pub name: &'static str,
    /// The numbers.
    pub detail: String,
}

fn fail(name: &'static str, detail: String) -> Result<(), InvariantViolation> {
    Err(InvariantViolation { name, detail })
}

impl Ledger {
    /// Checks every invariant:
    /// 1. **supply**: `genesis + minted − burned` = balances + bonded + unbonding + incentive pool + fee
    ///    collector + staker reward pools + treasury + dust + stOPG buffer (so no value is created or lost,
    ///    and dust is accounted for);
    /// 2. **no negative balance**: no stored balance is zero or below (they are unsigned; zero entries are
    ///    removed so the state is canonical);
    /// 3. **shares**: a staker's shares equal the sum of its delegations' shares; no shares means no tokens;
    /// 4. **no reward paid twice**: per staker, allocated = paid + outstanding + swept, the rewards its
    ///    delegations can still claim (plus the ratio's carried remainder) never exceed its outstanding, and no
    ///    delegation's snapshot is ahead of the staker's ratio;
    /// 5. **locks**: a staker's locked bond is the sum of its open jobs' locks; the expiry index matches;
    /// 6. **queues**: every index matches its entries; no entry pays more than it started with;
    /// 7. **stOPG**: the supply equals the sum of holdings; an empty supply means an empty pool.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        // 1. Supply.
        let balances: u128 = self.balances.values().sum();
        let bonded: u128 = self.stakers.values().map(|s| s.tokens).sum();
        let unbonding: u128 = self.unbonding.entries.values().map(|e| e.balance).sum();
        let rewards: u128 = self.stakers.values().map(|s| s.rewards.outstanding).sum();
        let p = &self.pools;
        let held = balances
            + bonded
            + unbonding
            + p.incentive
            + p.fee_collector.total()
            + rewards
            + p.treasury
            + p.dust
            + p.lst_buffer;
        let (g, m, b) = (self.supply.genesis, self.supply.minted, self.supply.burned);
        if g + m < b || g + m - b != held {
            return fail(
                "supply",
                format!(
                    "genesis {g} + minted {m} − burned {b} ≠ balances {balances} + bonded {bonded} + unbonding \
                     {unbonding} + incentive {} + collector {} + rewards {rewards} + treasury {} + dust {} + \
                     stOPG buffer {}",
                    p.incentive,
                    p.fee_collector.total(),
                    p.treasury,
                    p.dust,
                    p.lst_buffer
                ),
            );
        }
        // 2. Balances.
        if let Some((a, _)) = self.balances.iter().find(|(_, v)| **v == 0) {
            return fail("no negative balance", format!("zero balance stored for {a}"));
        }
        // 3 and 4. Stakers.
        for (addr, s) in self.stakers.iter() {
            let dels = self.delegations.get(addr);
            let share_sum: u128 = dels.map_or(0, |m| m.values().map(|d| d.shares).sum());
            if share_sum != s.shares {
                return fail(
                    "shares",
                    format!("{addr}: shares {} ≠ Σ delegations {share_sum}", s.shares),
                );
            }
            if s.shares == 0 && (s.tokens != 0 || s.rewards.outstanding != 0) {
                return fail(
                    "shares",
                    format!(
                        "{addr}: no shares but {} tokens, {} rewards",
                        s.tokens, s.rewards.outstanding
                    ),
                );
            }
            let r = &s.rewards;
            if r.to_delegators.total() != r.paid + r.outstanding + r.swept {
                return fail(
                    "no reward paid twice",
                    format!(
                        "{addr}: allocated {} ≠ paid {} + outstanding {} + swept {}",
                        r.to_delegators.total(),
                        r.paid,
                        r.outstanding,
                        r.swept
                    ),
                );
            }
            let mut claimable = 0u128;
            for (d_addr, d) in dels.into_iter().flat_map(AddrMap::iter) {
                if d.shares == 0 {
                    return fail("shares", format!("{addr}: empty delegation of {d_addr} stored"));
                }
                for src in crate::distribution::RewardSource::ALL {
                    if d.snapshot.get(src) > r.ratio.get(src) {
                        return fail(
                            "no reward paid twice",
                            format!("{addr}: snapshot of {d_addr} ahead of ratio"),
                        );
                    }
                }
                claimable += pending(s, d).total();
            }
            if claimable > r.outstanding {
                return fail(
                    "no reward paid twice",
                    format!(
                        "{addr}: delegations can claim {claimable} but only {} is outstanding",
                        r.outstanding
                    ),
                );
            }
            // The exact (unrounded) claims plus the carry equal the outstanding pool when nothing was paid
            // since; in general the rounded claims plus carry never exceed it.
            let carry_tokens =
                (r.carry.inference_fees + r.carry.emissions + r.carry.tx_fees) / RATIO_SCALE;
            if claimable + carry_tokens > r.outstanding {
                return fail(
                    "dust",
                    format!(
                        "{addr}: claims {claimable} + carry {carry_tokens} > outstanding {}",
                        r.outstanding
                    ),
                );
            }
        }
        if let Some(s) = self.delegations.keys().find(|s| !self.stakers.contains_key(s)) {
            return fail("shares", format!("delegations to unknown staker {s}"));
        }
        // 5. Locks.
        let mut locks: BTreeMap<Address, u128> = BTreeMap::new();
        for (id, j) in &self.jobs {
            *locks.entry(j.operator).or_default() += j.amount;
            if !self.job_expiry.contains(&(j.expiry_height, *id)) {
                return fail("locks", format!("job {id} missing from the expiry index"));
            }
        }
        if self.job_expiry.len() != self.jobs.len() {
            return fail("locks", "expiry index has stale entries".into());
        }
        for (addr, s) in self.stakers.iter() {
            if locks.get(addr).copied().unwrap_or(0) != s.locked {
                return fail("locks", format!("{addr}: locked {} ≠ Σ job locks", s.locked));
            }
        }
        // 6. Queues.
        if self.unbonding.by_completion.len() != self.unbonding.entries.len()
            || self
                .unbonding
                .entries
                .iter()
                .any(|(id, e)| !self.unbonding.by_completion.contains(&(e.completion_height, *id)))
        {
            return fail("queues", "unbonding index does not match its entries".into());
        }
        if let Some((id, _)) =
            self.unbonding.entries.iter().find(|(_, e)| e.balance > e.initial_balance)
        {
            return fail("queues", format!("unbonding entry {id} grew"));
        }
        if self.redelegations.by_completion.len() != self.redelegations.entries.len() {
            return fail("queues", "redelegation index does not match its entries".into());
        }
        // 7. stOPG.
        let st_sum: u128 = self.lst.holders.values().sum();
        if st_sum != self.lst.total || self.lst.holders.values().any(|v| *v == 0) {
            return fail("stOPG", format!("supply {} ≠ Σ holdings {st_sum}", self.lst.total));
        }
        if self.lst.total == 0 && self.lst_value() != 0 {
            return fail("stOPG", format!("no stOPG but the pool holds {}", self.lst_value()));
        }
        Ok(())
    }
}
