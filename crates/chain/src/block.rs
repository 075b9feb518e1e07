//! The block format: a header, EIP-2718 transactions with their senders, the inference records of each
//! transaction, and the receipts execution produced.

use alloy::{
    consensus::{Header, ReceiptEnvelope, TxEnvelope},
    eips::eip2718::{Decodable2718, Encodable2718},
    primitives::{Address, B256, Bytes},
};
use serde::{Deserialize, Serialize};

use crate::{
    error::ChainError,
    inference::InferenceRecord,
    state::{Account, StateDiff},
};

/// A block proposal: what a block builder (or a consensus leader) orders, before execution.
///
/// Deterministic: executing the same proposal on the same parent state gives the same header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockProposal {
    /// Parent block hash.
    pub parent_hash: B256,
    /// Block number.
    pub number: u64,
    /// Unix seconds (never below the parent's).
    pub timestamp: u64,
    /// Transactions, EIP-2718 encoded.
    pub transactions: Vec<Bytes>,
    /// The recovered sender of each transaction.
    pub senders: Vec<Address>,
    /// The inference records of each transaction, in call order.
    pub inference: Vec<Vec<InferenceRecord>>,
}

/// Receipt data kept per transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredReceipt {
    /// The consensus receipt (status, cumulative gas, logs, bloom) by transaction type.
    pub envelope: ReceiptEnvelope,
    /// Gas this transaction used.
    pub gas_used: u64,
    /// Price per gas paid.
    pub effective_gas_price: u128,
    /// Address of a created contract.
    pub contract_address: Option<Address>,
}

/// A committed block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainBlock {
    /// The header. `extra_data` holds the 32-byte root of the inference records
    /// ([`crate::inference::records_root`]); `mix_hash` is the PREVRANDAO value (keccak of the parent hash).
    pub header: Header,
    /// Hash of the header.
    pub hash: B256,
    /// Transactions, EIP-2718 encoded.
    pub transactions: Vec<Bytes>,
    /// The recovered sender of each transaction.
    pub senders: Vec<Address>,
    /// Hash of each transaction.
    pub tx_hashes: Vec<B256>,
    /// The inference records of each transaction.
    pub inference: Vec<Vec<InferenceRecord>>,
    /// Receipts, one per transaction.
    pub receipts: Vec<StoredReceipt>,
}

impl ChainBlock {
    /// Decodes transaction `i`.
    pub fn transaction(&self, i: usize) -> Option<TxEnvelope> {
        self.transactions.get(i).and_then(|b| TxEnvelope::decode_2718(&mut b.as_ref()).ok())
    }

    /// The proposal this block executed (to re-execute it elsewhere).
    pub fn proposal(&self) -> BlockProposal {
        BlockProposal {
            parent_hash: self.header.parent_hash,
            number: self.header.number,
            timestamp: self.header.timestamp,
            transactions: self.transactions.clone(),
            senders: self.senders.clone(),
            inference: self.inference.clone(),
        }
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, ChainError> {
        serde_json::from_slice(bytes).map_err(|e| ChainError::Corrupt(format!("block: {e}")))
    }
}

/// An executed, not yet committed block: the block and the state it leads to.
#[derive(Debug, Clone)]
pub struct ExecutedBlock {
    /// The block with its header (state root included) and receipts.
    pub block: ChainBlock,
    pub(crate) diff: StateDiff,
    pub(crate) changed: std::collections::BTreeMap<Address, Option<Account>>,
}

/// Encodes a transaction (EIP-2718).
pub(crate) fn encode_tx(tx: &TxEnvelope) -> Bytes {
    tx.encoded_2718().into()
}
