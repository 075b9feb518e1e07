//! Verification of inference for ogn: what an operator commits to, how a result is checked, and how a
//! disagreement is settled and punished.
//!
//! # Brief overview
//! - [`commitment`]: per-layer commitments. A run hashes the outputs of the steps live at the cuts of its
//!   plan's [`ogn_runtime::CutLayout`] (BLAKE3 leaves, [`ogn_runtime::Runtime::run_checkpointed`]); the
//!   cut leaves are chained into states `sⱼ = H(sⱼ₋₁ ‖ Kⱼ)`, the last one absorbing the output hash; a
//!   Merkle root over the states is what the operator signs.
//! - [`mode`]: VANILLA / SAMPLING / REPLICAS for operator jobs (OpenGradient's ZKML byte is served by the
//!   chain's precompile with ogn-zk proofs, TEE refused), and their one-byte encoding.
//! - [`guarantee`]: the priced guarantee quoted for each job (the sampling probability that makes cheating
//!   lose money in expectation, the catch probability of k replicas, the bond locked, the price).
//! - [`assign`]: assignment of jobs to operators from a beacon drawn after the job is committed, weighted
//!   by free bond, excluding jailed operators and operators without the model.
//! - [`dispute`]: the bisection game (tree descent to a differing state, bisection to the first differing
//!   cut, the segment's leaves revealed and compared, re-execution of the first differing step by the
//!   referee); timeouts lose.
//! - [`verifier`]: sealed verdicts (commit before reveal), so that verifiers drawn together cannot copy each
//!   other; decoy jobs with known-wrong results catch verifiers that approve without running.
//! - [`receipt`]: the receipt format (JSON and ABI), signed attestations, offline checks.
//! - [`execution`]: running a job with evidence ([`execution::execute`]) and the runtime-backed referee.
//! - [`network`]: the protocol driver over an in-memory ledger (the seeded adversarial tests): jobs through
//!   assignment, execution, sampling or replicas, disputes and the ledger's locks, slashes and rewards. On the
//!   chain the same game is played by transaction through `ogn_chain::jobs` with `ogn-operator` processes.
//!
//! # The protocol, per job
//! ```text
//!  request(model, input, mode, value) ─► quote: bond B = ledger.job_lock_for(value), p or k, catch, price
//!    ─► beacon (after commit) ─► assign executors (weighted by free bond) ─► ledger.lock_job per executor
//!    ─► each executor runs with evidence, signs (output hash, result id, layer root)
//!  VANILLA   ─► accepted on the signature; challengeable until the window closes
//!  REPLICAS  ─► all roots equal ─► accepted; else disputes between the disagreeing executors
//!  SAMPLING  ─► later randomness: with probability p a verifier (not the operator) is drawn, locks bond and
//!               re-executes; a different root ─► dispute
//!  decoys    ─► a verifier shown a known-wrong result that approves it is slashed (Network::run_decoy)
//!  dispute   ─► loser slashed through ledger.prove_wrong_inference (challenger paid its share), jailed
//!  window closes ─► the ledger releases the locks (fees are not paid by the driver yet)
//! ```

pub mod assign;
pub mod commitment;
mod decimal;
pub mod dispute;
pub mod execution;
pub mod guarantee;
pub mod mode;
pub mod network;
pub mod receipt;
pub mod verifier;

pub use assign::{AssignError, Candidate, assign, assignment_seed};
pub use commitment::{LayerCommitment, Opening, StateTree};
pub use dispute::{
    Answer, Dispute, DisputeParams, Query, Referee, RunEvidence, Side, StepProof, Verdict,
};
pub use execution::{Execution, RuntimeReferee, execute};
pub use guarantee::{Guarantee, GuaranteeParams, quote};
pub use mode::{Mode, ModeError};
pub use receipt::{Attestation, Inclusion, Receipt, ReceiptError, Statement, Status, tensors_hash};
