//! Why an operation was refused. A refused operation changes nothing.

use crate::{address::Address, staking::Role};

/// Every reason the ledger refuses an operation. Amounts are in base units (10^-18 OPG).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// Parameters failed validation.
    #[error("invalid parameters: {0}")]
    InvalidParams(String),
    /// An amount of zero where something must move.
    #[error("amount must be positive")]
    ZeroAmount,
    /// An amount so small that it rounds to nothing (zero shares or zero stOPG).
    #[error("amount {0} is too small: it rounds to zero")]
    AmountTooSmall(u128),
    /// The account holds less than the operation needs.
    #[error("{account} holds {available} but {needed} is needed")]
    InsufficientBalance {
        /// The account.
        account: Address,
        /// What it needed.
        needed: u128,
        /// What it holds.
        available: u128,
    },
    /// A reserved system address cannot act as a user.
    #[error("{0} is a reserved system address")]
    ReservedAddress(Address),
    /// No staker at this address.
    #[error("no validator or operator at {0}")]
    UnknownStaker(Address),
    /// A staker already exists at this address.
    #[error("{0} is already a validator or operator")]
    StakerExists(Address),
    /// The staker has the other role.
    #[error("{staker} is a {actual:?}, not a {expected:?}")]
    WrongRole {
        /// The staker.
        staker: Address,
        /// The role the operation needs.
        expected: Role,
        /// Its role.
        actual: Role,
    },
    /// The staker is jailed and cannot take delegations, jobs or rewards.
    #[error("{staker} is jailed until height {until}")]
    StakerJailed {
        /// The staker.
        staker: Address,
        /// First height at which it may unjail.
        until: u64,
    },
    /// The staker was tombstoned for double-signing and can never return.
    #[error("{0} is tombstoned for double-signing")]
    StakerTombstoned(Address),
    /// The staker is not jailed.
    #[error("{0} is not jailed")]
    NotJailed(Address),
    /// The self-bond is below the role's minimum.
    #[error("self-bond {actual} of {staker} is below the minimum {minimum}")]
    SelfBondBelowMinimum {
        /// The staker.
        staker: Address,
        /// The minimum.
        minimum: u128,
        /// The self-bond it would have.
        actual: u128,
    },
    /// Commission outside the allowed range.
    #[error("commission {rate_ppm} ppm is outside the allowed range {min_ppm}..={max_ppm} ppm")]
    CommissionOutOfRange {
        /// Requested rate.
        rate_ppm: u64,
        /// Lowest allowed.
        min_ppm: u64,
        /// Highest allowed.
        max_ppm: u64,
    },
    /// Commission change larger than the per-day maximum.
    #[error("commission change {change_ppm} ppm exceeds the maximum daily change {max_ppm} ppm")]
    CommissionChangeTooLarge {
        /// Requested change.
        change_ppm: u64,
        /// Allowed change.
        max_ppm: u64,
    },
    /// Commission changed less than a day ago.
    #[error("commission may change again at height {next_height}")]
    CommissionChangeTooSoon {
        /// First height at which it may change.
        next_height: u64,
    },
    /// The delegator has no delegation to this staker.
    #[error("{delegator} has no delegation to {staker}")]
    NoDelegation {
        /// The delegator.
        delegator: Address,
        /// The staker.
        staker: Address,
    },
    /// The delegation is worth less than requested.
    #[error("delegation is worth {available} but {requested} was requested")]
    InsufficientDelegation {
        /// Requested amount.
        requested: u128,
        /// Value of the delegation.
        available: u128,
    },
    /// The staker lost all its bonded tokens to slashing; its shares are worthless and it takes no delegations.
    #[error("{0} has shares but no tokens left (fully slashed)")]
    StakerInsolvent(Address),
    /// Too many unbonding or redelegation entries for one delegator and staker.
    #[error("{delegator} already has {max} pending entries with {staker}")]
    TooManyEntries {
        /// The delegator.
        delegator: Address,
        /// The staker.
        staker: Address,
        /// The limit.
        max: u32,
    },
    /// Redelegating to the same staker.
    #[error("cannot redelegate from {0} to itself")]
    RedelegateToSelf(Address),
    /// Redelegating stake that itself arrived by a redelegation that has not matured.
    #[error(
        "stake of {delegator} at {staker} is still maturing from a redelegation until height {until}"
    )]
    TransitiveRedelegation {
        /// The delegator.
        delegator: Address,
        /// The source staker of the new redelegation.
        staker: Address,
        /// Height at which the earlier redelegation matures.
        until: u64,
    },
    /// Heights must not go backwards.
    #[error("height {given} is below the current height {current}")]
    HeightWentBackwards {
        /// Current height.
        current: u64,
        /// Given height.
        given: u64,
    },
    /// An infraction reported for a height that has not happened yet.
    #[error("infraction height {infraction} is above the current height {current}")]
    InfractionInFuture {
        /// Infraction height.
        infraction: u64,
        /// Current height.
        current: u64,
    },
    /// Evidence older than the maximum evidence age.
    #[error(
        "evidence from height {infraction} is older than {max_age} blocks (current height {current})"
    )]
    EvidenceTooOld {
        /// Infraction height.
        infraction: u64,
        /// Current height.
        current: u64,
        /// Maximum age.
        max_age: u64,
    },
    /// Undelegating or locking would need bond that jobs have locked.
    #[error("{staker} has {free} bond free of job locks but {needed} is needed")]
    BondLocked {
        /// The staker.
        staker: Address,
        /// Bond not locked by jobs.
        free: u128,
        /// Bond needed.
        needed: u128,
    },
    /// A job id used twice.
    #[error("job {0} already exists")]
    JobExists(u64),
    /// No open job with this id (never locked, or its challenge window closed).
    #[error("job {0} is unknown or its challenge window has closed")]
    UnknownJob(u64),
    /// Redeeming more stOPG than held.
    #[error("{account} holds {available} stOPG but {requested} was requested")]
    InsufficientStOpg {
        /// The holder.
        account: Address,
        /// Requested.
        requested: u128,
        /// Held.
        available: u128,
    },
    /// The liquid staking pool has stOPG outstanding but no value (every staker it used was fully slashed).
    #[error("the liquid staking pool has no value left")]
    LstInsolvent,
    /// The pool cannot free enough stake for a redemption because jobs lock it.
    #[error(
        "the liquid staking pool can free only {available} of the {requested} requested; the rest is locked by jobs"
    )]
    LstIlliquid {
        /// Requested OPG.
        requested: u128,
        /// OPG the pool could free now.
        available: u128,
    },
    /// An amount too large for the ledger's 128-bit accounting.
    #[error("arithmetic overflow in {0}")]
    Overflow(&'static str),
}
