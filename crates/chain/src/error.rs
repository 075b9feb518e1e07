//! Errors. The `Display` of [`TxError`] and [`CallError`] uses geth's wording where clients parse it.

use alloy::primitives::{Address, Bytes, U256};

/// Why a transaction was refused before inclusion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// The bytes are not an EIP-2718 transaction (bad RLP, unknown type, trailing bytes).
    #[error("invalid transaction encoding: {0}")]
    Decode(String),
    /// The signature does not recover to an address.
    #[error("invalid sender: {0}")]
    InvalidSignature(String),
    /// A transaction type this chain does not accept (EIP-4844 blobs, EIP-7702).
    #[error("transaction type not supported")]
    UnsupportedType,
    /// Larger than [`crate::ChainConfig::max_tx_bytes`].
    #[error("oversized data: transaction size {size}, limit {limit}")]
    Oversized {
        /// Encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Signed for another chain.
    #[error("invalid chain id for signer: have {have} want {want}")]
    WrongChainId {
        /// The transaction's chain id.
        have: u64,
        /// This chain's id.
        want: u64,
    },
    /// The nonce was used already.
    #[error("nonce too low: next nonce {next}, tx nonce {tx}")]
    NonceTooLow {
        /// The sender's next nonce.
        next: u64,
        /// The transaction's nonce.
        tx: u64,
    },
    /// The nonce leaves a gap (transactions are not queued behind a gap).
    #[error("nonce too high: next nonce {next}, tx nonce {tx}")]
    NonceTooHigh {
        /// The sender's next nonce.
        next: u64,
        /// The transaction's nonce.
        tx: u64,
    },
    /// The sender cannot pay `gas limit × fee cap + value`.
    #[error(
        "insufficient funds for gas * price + value: address {address} have {have} want {want}"
    )]
    InsufficientFunds {
        /// The sender.
        address: Address,
        /// Its balance.
        have: U256,
        /// What the transaction may cost.
        want: U256,
    },
    /// The fee cap is below the current base fee.
    #[error("transaction underpriced: fee cap {fee_cap} below base fee {base_fee}")]
    Underpriced {
        /// The transaction's max fee per gas (or gas price).
        fee_cap: u128,
        /// The pending block's base fee.
        base_fee: u64,
    },
    /// The priority fee is above the fee cap.
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    /// The gas limit does not cover the intrinsic gas.
    #[error("intrinsic gas too low: gas {gas}, minimum needed {needed}")]
    IntrinsicGasTooLow {
        /// The transaction's gas limit.
        gas: u64,
        /// The intrinsic gas.
        needed: u64,
    },
    /// The gas limit is above the block gas limit.
    #[error("exceeds block gas limit")]
    GasLimitExceeded,
    /// The same transaction was submitted before.
    #[error("already known")]
    AlreadyKnown,
    /// `send_transaction` from an address that is not a dev account.
    #[error("unknown account {0}")]
    UnknownAccount(Address),
    /// A request field that cannot form a transaction.
    #[error("invalid transaction request: {0}")]
    InvalidRequest(String),
    /// Refused by the EVM's own validation for another reason.
    #[error("{0}")]
    Invalid(String),
    /// Storage or another internal failure; the transaction was not included.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why `eth_call` or `eth_estimateGas` gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The call reverted; `data` is the raw revert data (`Error(string)` or a custom error).
    #[error("execution reverted{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Revert {
        /// The decoded `Error(string)` / `Panic(uint256)` reason, when there is one.
        reason: Option<String>,
        /// The raw revert data.
        data: Bytes,
    },
    /// The call halted (out of gas, invalid opcode, …).
    #[error("{0}")]
    Halt(String),
    /// The request cannot run (bad nonce, funds, fields).
    #[error(transparent)]
    Invalid(#[from] TxError),
    /// The block or state asked for is not available.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

impl CallError {
    /// The raw revert data, when the call reverted.
    pub fn revert_data(&self) -> Option<&Bytes> {
        match self {
            CallError::Revert { data, .. } => Some(data),
            _ => None,
        }
    }
}

/// Storage, state and lookup failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The database failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// Stored data does not decode or does not match its commitment.
    #[error("corrupt chain data: {0}")]
    Corrupt(String),
    /// No such block.
    #[error("block not found: {0}")]
    BlockNotFound(String),
    /// State of a block other than the head was asked for (only the head's state is kept).
    #[error(
        "state of block {requested} is not available (head is {head}); only the latest state is kept"
    )]
    HistoricalState {
        /// The block asked for.
        requested: u64,
        /// The head.
        head: u64,
    },
    /// A block failed to execute the way its proposer said (replay mismatch, bad root).
    #[error("invalid block {number}: {reason}")]
    InvalidBlock {
        /// Block number.
        number: u64,
        /// What differed.
        reason: String,
    },
    /// The configuration is unusable or does not match the stored chain.
    #[error("configuration error: {0}")]
    Config(String),
    /// A filter asked for too much (range or result count).
    #[error("{0}")]
    FilterTooLarge(String),
}

impl From<redb::Error> for ChainError {
    fn from(e: redb::Error) -> Self {
        ChainError::Storage(e.to_string())
    }
}

macro_rules! storage_from {
    ($($t:ty),*) => {$(
        impl From<$t> for ChainError {
            fn from(e: $t) -> Self {
                ChainError::Storage(e.to_string())
            }
        }
    )*};
}
storage_from!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);
