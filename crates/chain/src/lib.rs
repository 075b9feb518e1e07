//! The ogn chain: Ethereum-format transactions in blocks executed with `revm`, inference inside
//! transactions through OpenGradient's precompile (`0x…F4`) and Inference hub contract, pre-execution of
//! inference (PIPE), staking through the [`staking`] precompile (`0x…0100`, the `ogn-ledger` state in
//! its storage, advanced at every block boundary), inference jobs served by bonded operators and their
//! dispute game through the [`jobs`] precompile (`0x…0101`), and storage in `redb`.
//!
//! # Protocol
//!
//! ```text
//!  raw tx ──► decode (EIP-2718: legacy, 2930, 1559) ──► size, chain id, signature, fee, gas checks
//!     │
//!     ▼  PRE-EXECUTION (PIPE), no lock held: simulate on the pending state; every call to 0x…F4 or the
//!     │  Inference hub runs the model through the InferenceOracle (hub + runtime) and is recorded:
//!     │  InferenceRecord { model, mode, input, model CID, output, engine id, result id, work, gas }.
//!     │  Outputs seen by the simulation carry is_simulation_result = true. Concurrent submissions
//!     │  simulate (and run their models) in parallel.
//!     ▼
//!  ACCEPT (pool lock): execute on the pending state reading ONLY the records; if a call asks for
//!     │  something the records do not hold (the state moved since simulation), simulate again first.
//!     ▼
//!  BUILD  (Chain::build_block): the pool's transactions in order, each executed on the head state from
//!     │  its records; a mismatch → simulate again before inclusion (never included on a stale result);
//!     │  invalid → dropped. Output: BlockProposal { parent, number, timestamp, txs, senders, records }.
//!     ▼
//!  EXECUTE (Chain::execute_block): deterministic, no oracle: replays every transaction from its
//!     │  records (a mismatch makes the block invalid), computes receipts, logs bloom, the state root,
//!     │  the transactions/receipts roots and the records root → header → ExecutedBlock.
//!     ▼
//!  COMMIT (Chain::commit_block): one redb write transaction (block, tx/log/inference indexes, state
//!        changes, head pointer) → in-memory state → newHeads / logs subscribers. Commits are serialized;
//!        the write holds no pool lock (transactions keep arriving for the next block), and queries see
//!        a block only once the in-memory head has reached it.
//! ```
//!
//! A BFT engine calls `build_block` on the leader, orders the proposal, and every validator calls
//! `execute_block` + `commit_block` (or `import_block` for a block with a known header). A node replaying
//! the chain from genesis needs no model: the records are part of the block.
//!
//! A single-node devnet in auto-mining mode ([`MiningMode::Auto`]) takes a shortcut with the same result: a
//! block-producer thread takes every pending transaction and builds and executes the block in one pass
//! (running `execute_block` on that proposal gives the same header), then commits it; senders wait for
//! their block on their own channel.
//!
//! # Block format
//! The header is Ethereum's (London fields; `base_fee_per_gas` set, no withdrawals or blob fields):
//! `state_root` is the Merkle-Patricia state root (see [`state`](crate) docs in `state.rs`),
//! `extra_data` the 32-byte [`inference::records_root`], `mix_hash` = `keccak256(parent hash)` (the
//! PREVRANDAO value), beneficiary the staking precompile (the base fee is burnt; tips go to the ledger as
//! transaction fees, see `staking.rs`).
//! The stored block ([`ChainBlock`]) adds the EIP-2718 transactions, senders, records and receipts.
//!
//! # Genesis and defaults
//! Chain id [`DEFAULT_CHAIN_ID`] (10744); ten dev accounts from [`DEV_MNEMONIC`] (anvil's), each funded
//! with 10 000 ether-units; one `INVALID` byte of code at `0x…F4` and at the Inference hub address
//! (default [`DEFAULT_INFERENCE_HUB`], the OpenGradient SDK's) so `extcodesize` checks pass. Hard fork:
//! Prague. Base fee per EIP-1559 with a floor of [`MIN_BASE_FEE`] (1 gwei). Block timestamps are the
//! clock plus the offset of [`Chain::increase_time`], never below the parent's (blocks in the same
//! second share a timestamp).
//!
//! # Invariants
//! - Block execution never runs a model; it reads the records carried by the block.
//! - A transaction is never included with records that do not match what its execution asks for.
//! - A committed block is durable in full or absent (one redb transaction with immediate durability);
//!   on open, the stored state must hash to the head's state root.
//! - Only the head's state is kept: queries of older state return [`ChainError::HistoricalState`].

mod block;
mod chain;
mod config;
mod error;
mod evm;
pub mod inference;
pub mod jobs;
mod oracle;
pub mod staking;
mod state;
mod store;

pub use block::{BlockProposal, ChainBlock, ExecutedBlock, StoredReceipt};
pub use chain::{
    CALL_GAS_CAP, Chain, DevAccount, InferenceEntry, MAX_LOG_RANGE, MAX_LOGS, SUGGESTED_TIP,
    decode_revert_reason, decode_transaction, sign_transaction,
};
pub use config::{
    ChainConfig, DEFAULT_BLOCK_GAS_LIMIT, DEFAULT_CHAIN_ID, DEFAULT_INFERENCE_HUB, DEV_ACCOUNTS,
    DEV_BALANCE, DEV_MNEMONIC, MAX_TX_BYTES, MIN_BASE_FEE, MiningMode,
};
pub use error::{CallError, ChainError, TxError};
pub use inference::{INFERENCE_PRECOMPILE, InferenceRecord};
pub use jobs::{IJobs, JOBS_PRECOMPILE};
pub use ogn_ledger;
pub use oracle::{HubOracle, InferenceOracle, OracleResult};
pub use staking::{IStaking, STAKING_PRECOMPILE};
