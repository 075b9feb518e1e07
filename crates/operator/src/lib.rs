//! Inference operators for ogn: the operator process and the node's scheduler that gives it work.
//!
//! An operator is its own process with its own key. It bonds OPG as an inference operator in the chain's
//! ledger (the staking precompile), announces the models it serves to a node, runs the jobs the node's
//! scheduler sends it with per-layer evidence ([`ogn_verify::execute`]) and answers with a signed
//! [`ogn_verify::Statement`]. It keeps each run's evidence for the challenge window and defends its
//! results in disputes by itself: it watches the jobs precompile (`0x…0101`, [`ogn_chain::jobs`]) and
//! answers every round that concerns it with its own transactions.
//!
//! # Protocol (node ⇄ operator over HTTP, both ⇄ chain over JSON-RPC)
//! ```text
//!  operator: createOperator{value: bond} ──► chain            (once; skipped when already bonded)
//!  operator: POST /api/v0/operators {address, url, models, signature} ──► node
//!            node checks the signature and that the address is an active operator on chain
//!  request:  POST /api/v0/infer {model, input, mode, value} ──► node (scheduler)
//!            quote (ogn_verify::quote) ─► beacon = head block hash ─► assign k executors weighted by
//!            free bond (ogn_verify::assign) ─► POST {operator}/jobs JobOffer ─► JobResult (signed)
//!            ─► recordJob(executor 0) and attest(each other executor) transactions ─► inclusion
//!  SAMPLING: recordSealedJob(operator, keccak(statement digest ‖ salt)) ─► inclusion
//!            ─► keccak(inclusion block hash ‖ job) < p ─► a verifier (not the operator) is assigned, runs the
//!            job without any way to see the operator's result, and its attestation is recorded
//!            ─► reveal(statement, signature, salt): equal ─► agrees; different ─► dispute. A verifier that
//!            signs without running cannot match a result it has not seen: it loses the dispute and its bond.
//!  dispute:  parties answer each round (answer tx); the node, as a validator, re-executes the one step
//!            the game narrows to (resolveStep tx) and ticks rounds whose deadline passed (tick tx)
//! ```
//! Receipts ([`ogn_verify::Receipt`]) carry the quote, every attestation and the inclusion.

pub mod operator;
pub mod rpc;
pub mod scheduler;
pub mod state;
pub mod wire;

pub use operator::{Cheat, OperatorConfig, run_operator};
pub use rpc::RpcClient;
pub use scheduler::{Scheduler, SchedulerConfig};
