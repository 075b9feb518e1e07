//! Events: what each operation did, in order, for receipts, logs and simulators.

use serde::{Deserialize, Serialize};

use crate::{address::Address, distribution::BySource, distribution::RewardSource, staking::Role};

/// Why stake was slashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SlashReason {
    /// A proven wrong inference result.
    WrongInference,
    /// Two conflicting signatures at one height.
    DoubleSign,
    /// Missed too many blocks or jobs.
    Downtime,
}

/// Why a staker was jailed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum JailReason {
    /// Slashed for this fault.
    Slashed(SlashReason),
    /// The owner's self-bond fell below the minimum.
    SelfBondBelowMinimum,
}

/// Where rounding dust came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DustSource {
    /// Rewards left with a staker after its last delegation left (floor rounding of payouts).
    StakerRewards,
    /// The remainder of a fee split among verifiers.
    VerifierSplit,
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// OPG moved between accounts.
    Transfer {
        /// Sender.
        from: Address,
        /// Recipient.
        to: Address,
        /// Amount.
        amount: u128,
    },
    /// A validator or operator registered.
    StakerCreated {
        /// Its address (also its owner).
        staker: Address,
        /// Role.
        role: Role,
        /// Self-bond.
        self_bond: u128,
        /// Commission.
        commission_ppm: u64,
    },
    /// Stake bonded.
    Delegated {
        /// Delegator.
        delegator: Address,
        /// Staker.
        staker: Address,
        /// Tokens bonded.
        amount: u128,
        /// Shares issued.
        shares: u128,
    },
    /// Stake entered the unbonding queue.
    Undelegated {
        /// Delegator whose shares were removed.
        delegator: Address,
        /// Staker (`None`: the liquid staking pool's unstaked buffer).
        staker: Option<Address>,
        /// Who receives the tokens at completion.
        recipient: Address,
        /// Tokens in the entry.
        amount: u128,
        /// Queue entry id.
        entry: u64,
        /// Height at which the tokens are paid.
        completion_height: u64,
    },
    /// Stake moved between stakers without unbonding.
    Redelegated {
        /// Delegator.
        delegator: Address,
        /// Source staker.
        from: Address,
        /// Destination staker.
        to: Address,
        /// Tokens moved.
        amount: u128,
        /// Redelegation entry id (slashable for the source's faults until maturity).
        entry: u64,
    },
    /// An unbonding entry paid out.
    UnbondingCompleted {
        /// Entry id.
        entry: u64,
        /// Recipient.
        recipient: Address,
        /// Tokens paid (after any slashing).
        amount: u128,
    },
    /// Rewards credited to a staker: commission to the owner, the rest to its delegators' shares.
    RewardsAllocated {
        /// Staker.
        staker: Address,
        /// Source.
        source: RewardSource,
        /// Total allocated.
        amount: u128,
        /// Part paid to the owner as commission.
        commission: u128,
    },
    /// A delegator's accrued rewards paid to its balance (or to the pool's buffer for the liquid staking pool).
    RewardsWithdrawn {
        /// Delegator.
        delegator: Address,
        /// Staker.
        staker: Address,
        /// Amounts per source.
        amounts: BySource,
    },
    /// Emission released for distribution.
    EmissionReleased {
        /// Amount.
        amount: u128,
        /// Blocks covered.
        blocks: u64,
        /// True when minted (inflation curve), false when taken from the incentive pool.
        minted: bool,
    },
    /// An inference fee paid and split.
    InferenceFeePaid {
        /// Payer.
        payer: Address,
        /// Operator.
        operator: Address,
        /// Fee.
        amount: u128,
        /// To the operator's stakers.
        to_operator: u128,
        /// To verifiers (all together).
        to_verifiers: u128,
        /// Queued for validators.
        to_validators: u128,
        /// To the treasury or burned.
        to_protocol: u128,
    },
    /// A transaction fee paid.
    TxFeePaid {
        /// Payer.
        payer: Address,
        /// Base fee.
        base_fee: u128,
        /// Tip to the proposer.
        tip: u128,
        /// Part of the base fee burned.
        burned: u128,
    },
    /// Commission changed.
    CommissionChanged {
        /// Staker.
        staker: Address,
        /// Old rate.
        old_ppm: u64,
        /// New rate.
        new_ppm: u64,
    },
    /// A staker jailed.
    Jailed {
        /// Staker.
        staker: Address,
        /// Why.
        reason: JailReason,
        /// First height it may unjail (`u64::MAX` when tombstoned).
        until: u64,
    },
    /// A staker unjailed.
    Unjailed {
        /// Staker.
        staker: Address,
    },
    /// Stake slashed.
    Slashed {
        /// Staker.
        staker: Address,
        /// Why.
        reason: SlashReason,
        /// Height of the fault.
        infraction_height: u64,
        /// Fraction applied, parts per million.
        fraction_ppm: u64,
        /// Taken from bonded tokens.
        from_bonded: u128,
        /// Taken from unbonding entries created at or after the infraction.
        from_unbonding: u128,
        /// Taken from redelegations created at or after the infraction.
        from_redelegations: u128,
        /// Paid to the challenger.
        to_challenger: u128,
        /// Burned.
        burned: u128,
    },
    /// Bond locked for a job.
    JobLocked {
        /// Job id.
        job: u64,
        /// Operator.
        operator: Address,
        /// Bond locked.
        amount: u128,
        /// Height at which the lock ends.
        until: u64,
    },
    /// A job's lock ended with its challenge window.
    JobReleased {
        /// Job id.
        job: u64,
    },
    /// OPG deposited into the liquid staking pool.
    LstDeposited {
        /// Depositor.
        account: Address,
        /// OPG in.
        opg: u128,
        /// stOPG minted.
        st_opg: u128,
    },
    /// stOPG redeemed into the unbonding queue.
    LstRedeemed {
        /// Holder.
        account: Address,
        /// stOPG burned.
        st_opg: u128,
        /// OPG queued.
        opg: u128,
    },
    /// stOPG moved between holders.
    LstTransfer {
        /// Sender.
        from: Address,
        /// Recipient.
        to: Address,
        /// Amount.
        amount: u128,
    },
    /// Rounding dust collected in the dust account.
    Dust {
        /// Where it came from.
        source: DustSource,
        /// Amount.
        amount: u128,
    },
}
