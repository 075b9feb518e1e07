//! The [`Ledger`]: all state, genesis, and the block boundary.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{
    LedgerError,
    addr_map::AddrMap,
    address::Address,
    distribution::{BySource, RewardSource},
    event::Event,
    jobs::JobLock,
    lst::LstState,
    math::decay_rate,
    params::{EmissionSchedule, Params},
    staking::{Delegation, Role, Staker},
    supply::{Pools, Supply},
    unbonding::{ByDelegator, ByPair, Queue, RedelegationEntry, UnbondingEntry},
};

/// Network-wide running totals, for yield and sustainability metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Released from the incentive pool.
    pub emitted_from_pool: u128,
    /// Minted by the inflation curve.
    pub emitted_minted: u128,
    /// Inference fees paid.
    pub inference_fees: u128,
    /// Inference fees paid to verifiers.
    pub verifier_fees: u128,
    /// Transaction base fees paid.
    pub base_fees: u128,
    /// Tips paid.
    pub tips: u128,
    /// Fees burned (base-fee burn and the protocol cut when it is burned).
    pub fees_burned: u128,
    /// Rewards allocated to stakers (commission plus delegators), per source.
    pub rewards_allocated: BySource,
    /// Rewards withdrawn by delegators, per source.
    pub rewards_paid: BySource,
    /// Total slashed.
    pub slashed: u128,
    /// Slashed and paid to challengers.
    pub slashed_to_challengers: u128,
    /// Slashed and burned.
    pub slashed_burned: u128,
}

/// The whole ledger state. Serializable (the chain persists it and hashes it into its state root);
/// iteration is always in key order (`BTreeMap`s, and address maps kept sorted), so every result is deterministic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub(crate) params: Params,
    /// Per-block pool release fraction derived from the half-life (scaled by 10^36).
    pub(crate) decay_rate: u128,
    pub(crate) height: u64,
    pub(crate) last_emission_height: u64,
    pub(crate) supply: Supply,
    pub(crate) balances: AddrMap<u128>,
    pub(crate) pools: Pools,
    pub(crate) stakers: AddrMap<Staker>,
    /// staker → delegator → delegation.
    pub(crate) delegations: AddrMap<AddrMap<Delegation>>,
    pub(crate) unbonding: Queue<UnbondingEntry>,
    /// Derived from `unbonding`.
    #[serde(skip)]
    pub(crate) unbonding_by_pair: ByPair,
    pub(crate) redelegations: Queue<RedelegationEntry>,
    /// Derived from `redelegations`.
    #[serde(skip)]
    pub(crate) redelegations_by_delegator: ByDelegator,
    pub(crate) jobs: BTreeMap<u64, JobLock>,
    /// `(expiry_height, job)` of every open job.
    pub(crate) job_expiry: BTreeSet<(u64, u64)>,
    pub(crate) lst: LstState,
    pub(crate) stats: Stats,
    #[serde(skip)]
    pub(crate) events: Vec<Event>,
    /// Whether operations append to `events` (on unless [`Ledger::set_record_events`] turned it off).
    #[serde(skip, default = "yes")]
    pub(crate) record_events: bool,
}

fn yes() -> bool {
    true
}

impl Ledger {
    /// A ledger at height 0 with the given balances and, under [`EmissionSchedule::DecayingPool`], the
    /// incentive pool. Fails on invalid parameters, reserved addresses or a supply beyond 128 bits.
    pub fn new(
        params: Params,
        balances: impl IntoIterator<Item = (Address, u128)>,
    ) -> Result<Ledger, LedgerError> {
        params.validate()?;
        let (incentive, rate) = match params.emission {
            EmissionSchedule::DecayingPool { initial_pool, half_life_blocks } => {
                (initial_pool, decay_rate(half_life_blocks))
            }
            EmissionSchedule::InflationCurve { .. } => (0, 0),
        };
        let mut ledger = Ledger {
            params,
            decay_rate: rate,
            height: 0,
            last_emission_height: 0,
            supply: Supply { genesis: incentive, minted: 0, burned: 0 },
            balances: AddrMap::new(),
            pools: Pools { incentive, ..Pools::default() },
            stakers: AddrMap::new(),
            delegations: AddrMap::new(),
            unbonding: Queue::default(),
            unbonding_by_pair: ByPair::default(),
            redelegations: Queue::default(),
            redelegations_by_delegator: ByDelegator::default(),
            jobs: BTreeMap::new(),
            job_expiry: BTreeSet::new(),
            lst: LstState::default(),
            stats: Stats::default(),
            events: Vec::new(),
            record_events: true,
        };
        for (account, amount) in balances {
            ledger.check_user(account)?;
            ledger.supply.genesis = ledger
                .supply
                .genesis
                .checked_add(amount)
                .ok_or(LedgerError::Overflow("genesis supply"))?;
            ledger.credit(account, amount);
        }
        Ok(ledger)
    }

    /// Replaces the parameters (governance). Switching the emission schedule keeps what remains of the
    /// incentive pool where it is; a new half-life applies from the next block.
    pub fn set_params(&mut self, params: Params) -> Result<(), LedgerError> {
        params.validate()?;
        self.decay_rate = match params.emission {
            EmissionSchedule::DecayingPool { half_life_blocks, .. } => decay_rate(half_life_blocks),
            EmissionSchedule::InflationCurve { .. } => 0,
        };
        self.params = params;
        Ok(())
    }

    /// Starts block `height`: pays matured unbonding entries, retires matured redelegation records, releases
    /// job locks whose challenge window closed, and releases emissions for the blocks since the last call
    /// into the fee collector. Heights may skip (a simulator can jump ahead) but never go back.
    pub fn begin_block(&mut self, height: u64) -> Result<(), LedgerError> {
        if height < self.height {
            return Err(LedgerError::HeightWentBackwards { current: self.height, given: height });
        }
        self.height = height;
        for (entry, e) in self.unbonding.pop_matured(height) {
            self.unbonding_by_pair.remove((e.delegator, e.staker), entry);
            self.credit(e.recipient, e.balance);
            self.emit(Event::UnbondingCompleted {
                entry,
                recipient: e.recipient,
                amount: e.balance,
            });
        }
        for (id, e) in self.redelegations.pop_matured(height) {
            self.redelegations_by_delegator.remove(e.delegator, id);
        }
        while let Some(&(expiry, job)) = self.job_expiry.first() {
            if expiry > height {
                break;
            }
            self.job_expiry.pop_first();
            self.release_job(job);
        }
        let blocks = height - self.last_emission_height;
        self.last_emission_height = height;
        let (amount, minted) = self.emission_for(blocks)?;
        if amount > 0 {
            if minted {
                self.supply.minted += amount;
                self.stats.emitted_minted += amount;
            } else {
                self.pools.incentive -= amount;
                self.stats.emitted_from_pool += amount;
            }
            self.pools.fee_collector.emissions += amount;
            self.emit(Event::EmissionReleased { amount, blocks, minted });
        }
        Ok(())
    }

    /// Ends the block: distributes the fee collector by bonded stake. Validators receive the validators' share
    /// of inference fees, transaction base fees and their share of emissions; operators receive their share
    /// of emissions (all of it goes to the other role when one role has no active staker). O(stakers), never
    /// O(delegators). Rounding remainders stay in the collector for the next block.
    pub fn end_block(&mut self) {
        let collector = self.pools.fee_collector;
        let ops = self.stake_recipients(Role::Operator);
        let vals = self.stake_recipients(Role::Validator);
        let (has_val, has_op) = (!vals.0.is_empty(), !ops.0.is_empty());
        let op_share = match (has_val, has_op) {
            (true, true) => {
                crate::math::ppm_of(collector.emissions, self.params.emission_operator_share_ppm)
            }
            (false, true) => collector.emissions,
            _ => 0,
        };
        let given_op = self.allocate_by_stake(&ops, RewardSource::Emissions, op_share);
        let given_val_e =
            self.allocate_by_stake(&vals, RewardSource::Emissions, collector.emissions - op_share);
        let given_fees =
            self.allocate_by_stake(&vals, RewardSource::InferenceFees, collector.inference_fees);
        let given_tx = self.allocate_by_stake(&vals, RewardSource::TxFees, collector.tx_fees);
        let c = &mut self.pools.fee_collector;
        c.emissions -= given_op + given_val_e;
        c.inference_fees -= given_fees;
        c.tx_fees -= given_tx;
    }

    /// Events emitted since the last call, in order.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Drops the events emitted since the last call, keeping the buffer's capacity (for callers that do not
    /// read them, such as a simulator stepping many blocks).
    pub fn clear_events(&mut self) {
        self.events.clear();
    }

    /// Turns event recording on or off (on by default). A caller that never reads the events, such as a
    /// simulator stepping many blocks, turns it off; every operation does the same otherwise.
    pub fn set_record_events(&mut self, on: bool) {
        self.record_events = on;
        if !on {
            self.events.clear();
        }
    }

    pub(crate) fn emit(&mut self, event: Event) {
        if self.record_events {
            self.events.push(event);
        }
    }

    /// Current height.
    pub fn height(&self) -> u64 {
        self.height
    }

    /// Parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Network-wide totals.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// A staker by address.
    pub fn get_staker(&self, staker: Address) -> Option<&Staker> {
        self.stakers.get(&staker)
    }

    /// All stakers in address order.
    pub fn stakers(&self) -> impl Iterator<Item = (&Address, &Staker)> {
        self.stakers.iter()
    }

    /// A delegation, if any.
    pub fn delegation(&self, delegator: Address, staker: Address) -> Option<&Delegation> {
        self.delegations.get(&staker).and_then(|m| m.get(&delegator))
    }

    /// Number of delegations to a staker.
    pub fn delegator_count(&self, staker: Address) -> usize {
        self.delegations.get(&staker).map_or(0, AddrMap::len)
    }

    /// Unbonding entries by id.
    pub fn unbonding_entries(&self) -> &BTreeMap<u64, UnbondingEntry> {
        &self.unbonding.entries
    }

    /// Redelegation records by id.
    pub fn redelegation_entries(&self) -> &BTreeMap<u64, RedelegationEntry> {
        &self.redelegations.entries
    }

    /// Total bonded tokens over all stakers.
    pub fn total_bonded(&self) -> u128 {
        self.stakers.values().map(|s| s.tokens).sum()
    }
}
