//! The block format: a header, EIP-2718 transactions with their senders, the inference records of each
//! transaction, and the receipts execution produced; and its stored encoding.
//!
//! Stored encoding (deterministic, little-endian lengths): a version byte, the header's RLP, the hash,
//! then each list as a `u32` count and its items: transactions (length-prefixed EIP-2718 bytes), senders
//! (20 bytes), hashes (32 bytes), inference records (length-prefixed JSON of the transaction's records,
//! length 0 for none), receipts (length-prefixed EIP-2718 receipt, `u64` gas used, `u128` price, a flag
//! byte and the created address). Binary instead of JSON: transactions, blooms and hashes are written as
//! they are, not as hex text.

use alloy::{
    consensus::{Header, ReceiptEnvelope, TxEnvelope},
    eips::eip2718::{Decodable2718, Encodable2718},
    primitives::{Address, B256, Bytes},
    rlp::{Decodable, Encodable},
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
        let mut out = Vec::with_capacity(
            600 + self.transactions.iter().map(|t| t.len() + 420).sum::<usize>(),
        );
        out.push(FORMAT);
        self.header.encode(&mut out);
        out.extend_from_slice(self.hash.as_slice());
        put_len(&mut out, self.transactions.len());
        for t in &self.transactions {
            put_bytes(&mut out, t);
        }
        put_len(&mut out, self.senders.len());
        for a in &self.senders {
            out.extend_from_slice(a.as_slice());
        }
        put_len(&mut out, self.tx_hashes.len());
        for h in &self.tx_hashes {
            out.extend_from_slice(h.as_slice());
        }
        put_len(&mut out, self.inference.len());
        for records in &self.inference {
            if records.is_empty() {
                put_len(&mut out, 0);
            } else {
                put_bytes(&mut out, &serde_json::to_vec(records).unwrap_or_default());
            }
        }
        put_len(&mut out, self.receipts.len());
        let mut envelope = Vec::new();
        for r in &self.receipts {
            envelope.clear();
            r.envelope.encode_2718(&mut envelope);
            put_bytes(&mut out, &envelope);
            out.extend_from_slice(&r.gas_used.to_le_bytes());
            out.extend_from_slice(&r.effective_gas_price.to_le_bytes());
            match r.contract_address {
                Some(a) => {
                    out.push(1);
                    out.extend_from_slice(a.as_slice());
                }
                None => out.push(0),
            }
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, ChainError> {
        let corrupt = |what: &str| ChainError::Corrupt(format!("block: {what}"));
        let mut r = Reader(bytes);
        if r.take(1)? != [FORMAT] {
            return Err(corrupt("unknown format version"));
        }
        let header = Header::decode(&mut r.0).map_err(|e| corrupt(&format!("header: {e}")))?;
        let hash = B256::from_slice(r.take(32)?);
        let n = r.len()?;
        let mut transactions = Vec::with_capacity(n);
        for _ in 0..n {
            transactions.push(Bytes::copy_from_slice(r.bytes()?));
        }
        let n = r.len()?;
        let mut senders = Vec::with_capacity(n);
        for _ in 0..n {
            senders.push(Address::from_slice(r.take(20)?));
        }
        let n = r.len()?;
        let mut tx_hashes = Vec::with_capacity(n);
        for _ in 0..n {
            tx_hashes.push(B256::from_slice(r.take(32)?));
        }
        let n = r.len()?;
        let mut inference = Vec::with_capacity(n);
        for _ in 0..n {
            let json = r.bytes()?;
            inference.push(if json.is_empty() {
                Vec::new()
            } else {
                serde_json::from_slice(json).map_err(|e| corrupt(&format!("records: {e}")))?
            });
        }
        let n = r.len()?;
        let mut receipts = Vec::with_capacity(n);
        for _ in 0..n {
            let envelope = ReceiptEnvelope::decode_2718(&mut r.bytes()?)
                .map_err(|e| corrupt(&format!("receipt: {e}")))?;
            let gas_used = u64::from_le_bytes(r.take(8)?.try_into().expect("8 bytes"));
            let effective_gas_price =
                u128::from_le_bytes(r.take(16)?.try_into().expect("16 bytes"));
            let contract_address = match r.take(1)?[0] {
                0 => None,
                1 => Some(Address::from_slice(r.take(20)?)),
                _ => return Err(corrupt("contract address flag")),
            };
            receipts.push(StoredReceipt {
                envelope,
                gas_used,
                effective_gas_price,
                contract_address,
            });
        }
        if !r.0.is_empty() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(Self { header, hash, transactions, senders, tx_hashes, inference, receipts })
    }
}

/// Version byte of [`ChainBlock::encode`] (JSON blocks started with `{`).
const FORMAT: u8 = 1;

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_len(out, b.len());
    out.extend_from_slice(b);
}

/// A cursor over a stored block.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ChainError> {
        if self.0.len() < n {
            return Err(ChainError::Corrupt("block: truncated".into()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn len(&mut self) -> Result<usize, ChainError> {
        let n = u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")) as usize;
        // Every item takes at least one byte: a count above what is left is corrupt (and would
        // otherwise reserve memory for it).
        if n > self.0.len() {
            return Err(ChainError::Corrupt("block: count beyond the data".into()));
        }
        Ok(n)
    }

    fn bytes(&mut self) -> Result<&'a [u8], ChainError> {
        let n = self.len()?;
        self.take(n)
    }
}

/// An executed, not yet committed block: the block and the state it leads to.
#[derive(Debug, Clone)]
pub struct ExecutedBlock {
    /// The block with its header (state root included) and receipts.
    pub block: ChainBlock,
    pub(crate) diff: StateDiff,
    pub(crate) changed: std::collections::BTreeMap<Address, Option<Account>>,
    /// The account trie's side of `changed`, hashed with the state root.
    pub(crate) trie: crate::state::TrieUpdate,
}

/// Encodes a transaction (EIP-2718).
pub(crate) fn encode_tx(tx: &TxEnvelope) -> Bytes {
    tx.encoded_2718().into()
}

#[cfg(test)]
mod tests {
    use alloy::{
        consensus::{Receipt, ReceiptWithBloom},
        primitives::{Log, LogData, address, b256},
    };

    use super::*;

    fn receipt(logs: Vec<Log>, created: Option<Address>) -> StoredReceipt {
        let receipt = Receipt { status: true.into(), cumulative_gas_used: 21_000, logs };
        StoredReceipt {
            envelope: ReceiptEnvelope::Eip1559(ReceiptWithBloom::from(receipt)),
            gas_used: 21_000,
            effective_gas_price: 1_000_000_007,
            contract_address: created,
        }
    }

    #[test]
    fn stored_encoding_round_trips_and_rejects_damage() {
        let log = Log {
            address: address!("00000000000000000000000000000000000000f4"),
            data: LogData::new_unchecked(
                vec![b256!("1111111111111111111111111111111111111111111111111111111111111111")],
                Bytes::from_static(b"payload"),
            ),
        };
        let record = InferenceRecord {
            model: "mlp@1".into(),
            mode: 0,
            input: Bytes::from_static(&[1, 2, 3]),
            model_cid: Some("cid".into()),
            output: Bytes::from_static(&[4, 5]),
            engine_id: "ogn-runtime".into(),
            result_id: B256::repeat_byte(7),
            work: 101_632,
            gas: 50_000,
            error: None,
            zk: None,
        };
        let block = ChainBlock {
            header: Header {
                number: 9,
                gas_used: 42_000,
                base_fee_per_gas: Some(7),
                ..Default::default()
            },
            hash: B256::repeat_byte(1),
            transactions: vec![Bytes::from_static(&[2, 0xc0]), Bytes::from_static(&[0xc1, 0x80])],
            senders: vec![Address::repeat_byte(3), Address::repeat_byte(4)],
            tx_hashes: vec![B256::repeat_byte(5), B256::repeat_byte(6)],
            inference: vec![vec![record], Vec::new()],
            receipts: vec![
                receipt(vec![log], None),
                receipt(Vec::new(), Some(Address::repeat_byte(9))),
            ],
        };
        let bytes = block.encode();
        assert_eq!(ChainBlock::decode(&bytes).unwrap(), block);
        for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
            assert!(ChainBlock::decode(&bytes[..cut]).is_err(), "truncated at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(ChainBlock::decode(&longer).is_err());
        let empty = ChainBlock {
            transactions: Vec::new(),
            senders: Vec::new(),
            tx_hashes: Vec::new(),
            inference: Vec::new(),
            receipts: Vec::new(),
            ..block
        };
        assert_eq!(ChainBlock::decode(&empty.encode()).unwrap(), empty);
    }
}
