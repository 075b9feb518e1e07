//! Pure, deterministic accounting of ogn: OPG supply and balances, validators and inference operators,
//! delegation, the stOPG liquid staking token, fees, emissions, lazily distributed rewards, unbonding,
//! slashing and per-job bond locks. The chain calls it from its precompiles; the simulator calls the same
//! code. No I/O, no clock, no floats, no randomness except what the caller passes in; every map is iterated
//! in key order (`BTreeMap`s, and for balances, stakers and delegations an address map kept in address order
//! with a hash index for lookups), so every result is a function of the call sequence alone. The whole
//! [`Ledger`] is serde-serializable.
//!
//! # Roles
//! - **Accounts** hold liquid OPG (18 decimals; all amounts are `u128` base units, 10^-18 OPG).
//! - **Stakers** are validators (order blocks) and inference operators (serve models). Each is owned by
//!   the account at its address, bonds a self-bond of at least a minimum, sets a commission within
//!   `[min, max]` that moves by at most a set step once a day, and can be jailed (no rewards, delegations or
//!   jobs) and unjailed, or tombstoned for double-signing.
//! - **Delegators** bond OPG to stakers for shares, redelegate, and undelegate through the unbonding queue.
//! - **The liquid staking pool** (address [`Address::LST_POOL`]) is a delegator owned by stOPG holders.
//! - **Challengers** prove wrong results and earn part of the slash.
//!
//! # Flows
//! ```text
//!   incentive pool ──decay──┐      inflation curve ──mint──┐
//!                           ▼                              ▼
//!  tx base fees ──────► fee collector ──end_block, by stake──► validators ─┐
//!  inference fee ─┬─ validators' part ─┘                                   │ commission → owner balance
//!                 ├─ operator's part ─────────────────────────► operator ──┤ rest → reward-per-share (F1)
//!                 ├─ verifiers ──► balances                                ▼
//!                 └─ treasury / burn                    delegators withdraw when they act (lazy)
//!  tips ─────────────────────────────────────────────────► proposer
//!
//!  balance ──delegate──► bonded ──undelegate──► unbonding queue ──period──► balance
//!                          │  └────redelegate────► bonded elsewhere (slashable for the source until mature)
//!                          └──slash (also unbonding/redelegations since the fault)──► challenger + burn
//!  balance ──lst_deposit──► stOPG (pool delegates) ──lst_redeem──► unbonding queue ──► balance
//! ```
//!
//! # Supply
//! `genesis + minted − burned = Σ balances + Σ bonded + Σ unbonding + incentive pool + fee collector +
//! Σ staker reward pools + treasury + dust + stOPG buffer`. Only the inflation curve mints; only slashing,
//! the base-fee burn and (optionally) the protocol cut of inference fees burn. Checked by
//! [`Ledger::check_invariants`] after every operation in the tests.
//!
//! # Rounding
//! Every division rounds down, in the direction that pays out less than is held, except where a rounding
//! up protects the others (shares removed on undelegation are rounded up; a job lock is rounded up). What
//! rounding leaves behind never disappears: split remainders stay in the fee collector for the next block,
//! reward-ratio remainders are carried exactly (in 10^-18 base units) into the next allocation, and payout
//! floors stay in the staker's reward pool and go to the explicit **dust** account when its last share
//! leaves; the remainder of a verifier split goes to dust too. stOPG mint and redeem round down, in favour
//! of the remaining holders; the last holder takes everything left.
//!
//! # Rewards: F1 lazy distribution
//! A staker's shares never change when it is slashed (its tokens do), so rewards are tracked per share:
//! an allocation adds `amount / shares` to the staker's cumulative ratio (one ratio per source: inference
//! fees, emissions, transaction fees), and a delegation's reward is `shares × (ratio − snapshot)`, settled
//! when the delegation changes or is withdrawn. A block costs O(stakers), never O(delegators);
//! `benches/distribution.rs` shows it ([`distribution`] has the details).
//!
//! # Slashing
//! A fault at height `h` proven at `H` (`H − h` ≤ the maximum evidence age ≤ the unbonding period) takes a
//! fraction of the staker's tokens and of every unbonding entry and redelegation that left it at or after
//! `h`; the challenger gets its share and the rest is burned ([`slashing`]).
//!
//! # Use
//! ```
//! use ogn_ledger::{Address, Ledger, Params, Role, OPG};
//! let (alice, bob) = (Address::from_index(1), Address::from_index(2));
//! let mut ledger = Ledger::new(Params::default(), [(alice, 20_000 * OPG), (bob, 500 * OPG)]).unwrap();
//! ledger.create_staker(alice, Role::Validator, 10_000 * OPG, 100_000).unwrap();
//! ledger.delegate(bob, alice, 400 * OPG).unwrap();
//! ledger.begin_block(1).unwrap(); // releases one block of emissions
//! ledger.end_block(); // distributes them by stake
//! assert!(ledger.pending_rewards(bob, alice).emissions > 0);
//! ledger.check_invariants().unwrap();
//! ```

mod addr_map;
mod address;
pub mod distribution;
pub mod emission;
mod error;
pub mod event;
pub mod fees;
pub mod invariants;
pub mod jobs;
mod ledger;
pub mod lst;
pub mod math;
pub mod params;
pub mod script;
pub mod slashing;
pub mod staking;
pub mod supply;
pub mod unbonding;

pub use address::{Address, AddressParseError};
pub use distribution::{BySource, DelegationRef, RewardSource};
pub use error::LedgerError;
pub use event::Event;
pub use invariants::InvariantViolation;
pub use ledger::{Ledger, Stats};
pub use math::{OPG, PPM};
pub use params::{EmissionSchedule, FeeSplit, Params, ProtocolCut};
pub use slashing::SlashOutcome;
pub use staking::{Delegation, Role, Staker};
