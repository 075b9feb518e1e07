//! Persistence in one `redb` file. One write transaction per block holds the block, its indexes, the state
//! changes and the head pointer, so a crash leaves either the whole block or none of it.
//!
//! ```text
//! meta        &str          → bytes      head number, genesis hash, chain id, time offset
//! blocks      u64           → json       ChainBlock (header, txs, senders, records, receipts)
//! block_hash  [u8;32]       → u64
//! tx_index    [u8;32]       → (u64 block, u32 index)
//! inference   [u8;32]       → (u64 block, u32 tx, u32 record)     by result id
//! log_addr    [u8;28]       → ()      address ‖ block (big-endian): blocks with logs of an address
//! log_topic   [u8;40]       → ()      topic0 ‖ block
//! accounts    [u8;20]       → nonce u64 ‖ balance 32 ‖ code hash 32 ‖ storage root 32
//! storage     [u8;52]       → [u8;32] address ‖ slot → value
//! codes       [u8;32]       → bytes
//! ```

use std::{collections::HashMap, path::Path};

use alloy::primitives::{Address, B256, U256, keccak256};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use revm::bytecode::Bytecode;

use crate::{
    block::ChainBlock,
    error::ChainError,
    state::{Account, WorldState},
};

const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
const BLOCKS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("blocks");
const BLOCK_HASH: TableDefinition<'_, [u8; 32], u64> = TableDefinition::new("block_hash");
const TX_INDEX: TableDefinition<'_, [u8; 32], (u64, u32)> = TableDefinition::new("tx_index");
const INFERENCE: TableDefinition<'_, [u8; 32], (u64, u32, u32)> = TableDefinition::new("inference");
const LOG_ADDR: TableDefinition<'_, [u8; 28], ()> = TableDefinition::new("log_addr");
const LOG_TOPIC: TableDefinition<'_, [u8; 40], ()> = TableDefinition::new("log_topic");
const ACCOUNTS: TableDefinition<'_, [u8; 20], &[u8]> = TableDefinition::new("accounts");
const STORAGE: TableDefinition<'_, [u8; 52], [u8; 32]> = TableDefinition::new("storage");
const CODES: TableDefinition<'_, [u8; 32], &[u8]> = TableDefinition::new("codes");

pub(crate) const META_HEAD: &str = "head";
pub(crate) const META_CHAIN_ID: &str = "chain_id";
pub(crate) const META_TIME_OFFSET: &str = "time_offset";

pub(crate) struct Store {
    db: Database,
}

fn slot_key(address: &Address, slot: &U256) -> [u8; 52] {
    let mut k = [0u8; 52];
    k[..20].copy_from_slice(address.as_slice());
    k[20..].copy_from_slice(&slot.to_be_bytes::<32>());
    k
}

fn encode_account(a: &Account) -> Vec<u8> {
    let mut v = Vec::with_capacity(104);
    v.extend_from_slice(&a.nonce.to_be_bytes());
    v.extend_from_slice(&a.balance.to_be_bytes::<32>());
    v.extend_from_slice(a.code_hash.as_slice());
    v.extend_from_slice(a.storage_root.as_slice());
    v
}

fn decode_account(address: &Address, v: &[u8]) -> Result<Account, ChainError> {
    if v.len() != 104 {
        return Err(ChainError::Corrupt(format!("account {address}: {} bytes", v.len())));
    }
    Ok(Account {
        nonce: u64::from_be_bytes(v[..8].try_into().unwrap_or_default()),
        balance: U256::from_be_slice(&v[8..40]),
        code_hash: B256::from_slice(&v[40..72]),
        storage_root: B256::from_slice(&v[72..104]),
        storage: HashMap::new(),
        hashed_address: keccak256(address),
    })
}

impl Store {
    pub(crate) fn open(path: Option<&Path>) -> Result<Self, ChainError> {
        let db = match path {
            Some(p) => Database::create(p)?,
            None => {
                Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())?
            }
        };
        let tx = db.begin_write()?;
        {
            tx.open_table(META)?;
            tx.open_table(BLOCKS)?;
            tx.open_table(BLOCK_HASH)?;
            tx.open_table(TX_INDEX)?;
            tx.open_table(INFERENCE)?;
            tx.open_table(LOG_ADDR)?;
            tx.open_table(LOG_TOPIC)?;
            tx.open_table(ACCOUNTS)?;
            tx.open_table(STORAGE)?;
            tx.open_table(CODES)?;
        }
        tx.commit()?;
        Ok(Self { db })
    }

    pub(crate) fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, ChainError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(META)?;
        Ok(t.get(key)?.map(|v| v.value().to_vec()))
    }

    pub(crate) fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), ChainError> {
        let tx = self.db.begin_write()?;
        tx.open_table(META)?.insert(key, value)?;
        tx.commit()?;
        Ok(())
    }

    pub(crate) fn head(&self) -> Result<Option<u64>, ChainError> {
        Ok(self.meta(META_HEAD)?.map(|v| u64::from_be_bytes(v.try_into().unwrap_or_default())))
    }

    /// Loads the whole state into memory.
    pub(crate) fn load_state(&self) -> Result<WorldState, ChainError> {
        let tx = self.db.begin_read()?;
        let mut state = WorldState::default();
        for entry in tx.open_table(ACCOUNTS)?.iter()? {
            let (k, v) = entry?;
            let address = Address::from(k.value());
            state.accounts.insert(address, decode_account(&address, v.value())?);
        }
        for entry in tx.open_table(STORAGE)?.iter()? {
            let (k, v) = entry?;
            let key = k.value();
            let address = Address::from_slice(&key[..20]);
            let slot = U256::from_be_slice(&key[20..]);
            let account = state.accounts.get_mut(&address).ok_or_else(|| {
                ChainError::Corrupt(format!("storage of missing account {address}"))
            })?;
            account.storage.insert(slot, U256::from_be_bytes(v.value()));
        }
        for entry in tx.open_table(CODES)?.iter()? {
            let (k, v) = entry?;
            state.codes.insert(B256::from(k.value()), Bytecode::new_raw(v.value().to_vec().into()));
        }
        state.rebuild_leaves();
        Ok(state)
    }

    pub(crate) fn block(&self, number: u64) -> Result<Option<ChainBlock>, ChainError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(BLOCKS)?;
        t.get(number)?.map(|v| ChainBlock::decode(v.value())).transpose()
    }

    /// A block with the size of its stored encoding.
    pub(crate) fn block_sized(
        &self,
        number: u64,
    ) -> Result<Option<(ChainBlock, usize)>, ChainError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(BLOCKS)?;
        t.get(number)?
            .map(|v| ChainBlock::decode(v.value()).map(|b| (b, v.value().len())))
            .transpose()
    }

    pub(crate) fn block_number(&self, hash: &B256) -> Result<Option<u64>, ChainError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(BLOCK_HASH)?.get(hash.0)?.map(|v| v.value()))
    }

    pub(crate) fn tx_location(&self, hash: &B256) -> Result<Option<(u64, u32)>, ChainError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(TX_INDEX)?.get(hash.0)?.map(|v| v.value()))
    }

    pub(crate) fn inference_location(
        &self,
        id: &B256,
    ) -> Result<Option<(u64, u32, u32)>, ChainError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(INFERENCE)?.get(id.0)?.map(|v| v.value()))
    }

    /// Blocks in `from..=to` with a log from `address`.
    pub(crate) fn blocks_with_address(
        &self,
        address: &Address,
        from: u64,
        to: u64,
    ) -> Result<Vec<u64>, ChainError> {
        let key = |n: u64| {
            let mut k = [0u8; 28];
            k[..20].copy_from_slice(address.as_slice());
            k[20..].copy_from_slice(&n.to_be_bytes());
            k
        };
        let tx = self.db.begin_read()?;
        let t = tx.open_table(LOG_ADDR)?;
        let mut out = Vec::new();
        for entry in t.range(key(from)..=key(to))? {
            let (k, _) = entry?;
            out.push(u64::from_be_bytes(k.value()[20..].try_into().unwrap_or_default()));
        }
        Ok(out)
    }

    /// Blocks in `from..=to` with a log whose first topic is `topic`.
    pub(crate) fn blocks_with_topic0(
        &self,
        topic: &B256,
        from: u64,
        to: u64,
    ) -> Result<Vec<u64>, ChainError> {
        let key = |n: u64| {
            let mut k = [0u8; 40];
            k[..32].copy_from_slice(topic.as_slice());
            k[32..].copy_from_slice(&n.to_be_bytes());
            k
        };
        let tx = self.db.begin_read()?;
        let t = tx.open_table(LOG_TOPIC)?;
        let mut out = Vec::new();
        for entry in t.range(key(from)..=key(to))? {
            let (k, _) = entry?;
            out.push(u64::from_be_bytes(k.value()[32..].try_into().unwrap_or_default()));
        }
        Ok(out)
    }

    /// Writes a block (`encoded` is [`ChainBlock::encode`] of it), its indexes and its state changes in
    /// one transaction.
    pub(crate) fn commit_block(
        &self,
        (block, encoded): (&ChainBlock, &[u8]),
        changed: &std::collections::BTreeMap<Address, Option<Account>>,
        cleared: &[Address],
        storage_changes: &[(Address, U256, U256)],
        codes: &std::collections::BTreeMap<B256, alloy::primitives::Bytes>,
        extra_meta: &[(&str, Vec<u8>)],
    ) -> Result<(), ChainError> {
        let number = block.header.number;
        let mut tx = self.db.begin_write()?;
        tx.set_durability(redb::Durability::Immediate)?;
        {
            tx.open_table(BLOCKS)?.insert(number, encoded)?;
            tx.open_table(BLOCK_HASH)?.insert(block.hash.0, number)?;
            let mut txi = tx.open_table(TX_INDEX)?;
            for (i, h) in block.tx_hashes.iter().enumerate() {
                txi.insert(h.0, (number, i as u32))?;
            }
            let mut inf = tx.open_table(INFERENCE)?;
            for (i, records) in block.inference.iter().enumerate() {
                for (j, r) in records.iter().enumerate() {
                    if r.error.is_none() {
                        inf.insert(r.result_id.0, (number, i as u32, j as u32))?;
                    }
                }
            }
            let mut la = tx.open_table(LOG_ADDR)?;
            let mut lt = tx.open_table(LOG_TOPIC)?;
            for receipt in &block.receipts {
                for log in receipt.envelope.logs() {
                    let mut k = [0u8; 28];
                    k[..20].copy_from_slice(log.address.as_slice());
                    k[20..].copy_from_slice(&number.to_be_bytes());
                    la.insert(k, ())?;
                    if let Some(t0) = log.topics().first() {
                        let mut k = [0u8; 40];
                        k[..32].copy_from_slice(t0.as_slice());
                        k[32..].copy_from_slice(&number.to_be_bytes());
                        lt.insert(k, ())?;
                    }
                }
            }
            let mut accounts = tx.open_table(ACCOUNTS)?;
            let mut storage = tx.open_table(STORAGE)?;
            for address in cleared {
                let lo = slot_key(address, &U256::ZERO);
                let hi = slot_key(address, &U256::MAX);
                storage.retain_in(lo..=hi, |_, _| false)?;
            }
            for (address, account) in changed {
                match account {
                    None => {
                        accounts.remove(address.0.0)?;
                    }
                    Some(a) => {
                        accounts.insert(address.0.0, encode_account(a).as_slice())?;
                    }
                }
            }
            for (address, slot, value) in storage_changes {
                let k = slot_key(address, slot);
                if value.is_zero() {
                    storage.remove(k)?;
                } else {
                    storage.insert(k, value.to_be_bytes::<32>())?;
                }
            }
            let mut c = tx.open_table(CODES)?;
            for (hash, code) in codes {
                c.insert(hash.0, code.as_ref())?;
            }
            let mut meta = tx.open_table(META)?;
            meta.insert(META_HEAD, number.to_be_bytes().as_slice())?;
            for (k, v) in extra_meta {
                meta.insert(*k, v.as_slice())?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
