//! The world state kept in memory (and in `redb`, see `store`), its revm database view, the changes a
//! block makes, and the state root.
//!
//! The state root is Ethereum's: the Merkle-Patricia root of `keccak(address) → rlp(nonce, balance,
//! storage_root, code_hash)` with each storage root the MPT root of `keccak(slot) → rlp(value)` (alloy-trie).
//! Storage roots are cached per account and recomputed only for accounts a block changes; the account
//! trie is rebuilt from the sorted accounts at each block (linear in the number of accounts).

use std::collections::{BTreeMap, HashMap};

use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    trie::{EMPTY_ROOT_HASH, KECCAK_EMPTY, TrieAccount, root::storage_root_unhashed},
};
use revm::{
    bytecode::Bytecode,
    database_interface::{DBErrorMarker, DatabaseRef},
    state::{AccountInfo, EvmState},
};

/// A database error (the in-memory state never fails; the type exists for revm's traits).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub(crate) struct DbError(pub(crate) String);

impl DBErrorMarker for DbError {}

/// One account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Account {
    pub(crate) nonce: u64,
    pub(crate) balance: U256,
    pub(crate) code_hash: B256,
    pub(crate) storage: HashMap<U256, U256>,
    pub(crate) storage_root: B256,
    pub(crate) hashed_address: B256,
}

/// The whole state.
#[derive(Debug, Clone, Default)]
pub(crate) struct WorldState {
    pub(crate) accounts: HashMap<Address, Account>,
    pub(crate) codes: HashMap<B256, Bytecode>,
    /// Hashes of the last 256 blocks (for `BLOCKHASH`).
    pub(crate) block_hashes: BTreeMap<u64, B256>,
}

/// How one account changes in a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AccountChange {
    /// Removed (self-destructed, or touched while empty).
    Deleted,
    /// New values; `storage` holds changed slots only (zero = removed).
    Updated {
        nonce: u64,
        balance: U256,
        code_hash: B256,
        storage_cleared: bool,
        storage: BTreeMap<U256, U256>,
    },
}

/// Everything a block changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StateDiff {
    pub(crate) accounts: BTreeMap<Address, AccountChange>,
    pub(crate) codes: BTreeMap<B256, Bytes>,
}

impl StateDiff {
    /// Folds revm's post-transaction state into this diff.
    pub(crate) fn record(&mut self, state: &EvmState) {
        for (address, account) in state {
            if !account.is_touched() {
                continue;
            }
            if account.is_selfdestructed() || account.is_empty() {
                self.accounts.insert(*address, AccountChange::Deleted);
                continue;
            }
            if let Some(code) = &account.info.code
                && account.info.code_hash != KECCAK_EMPTY
            {
                self.codes.entry(account.info.code_hash).or_insert_with(|| code.original_bytes());
            }
            let created = account.is_created();
            let entry = self.accounts.entry(*address).or_insert_with(|| AccountChange::Updated {
                nonce: 0,
                balance: U256::ZERO,
                code_hash: KECCAK_EMPTY,
                storage_cleared: false,
                storage: BTreeMap::new(),
            });
            if matches!(entry, AccountChange::Deleted) {
                *entry = AccountChange::Updated {
                    nonce: 0,
                    balance: U256::ZERO,
                    code_hash: KECCAK_EMPTY,
                    storage_cleared: true,
                    storage: BTreeMap::new(),
                };
            }
            if let AccountChange::Updated { nonce, balance, code_hash, storage_cleared, storage } =
                entry
            {
                *nonce = account.info.nonce;
                *balance = account.info.balance;
                *code_hash = account.info.code_hash;
                if created {
                    *storage_cleared = true;
                    storage.clear();
                }
                for (slot, value) in &account.storage {
                    if value.is_changed() || created {
                        storage.insert(*slot, value.present_value);
                    }
                }
            }
        }
    }
}

fn trie_account(a: &Account) -> TrieAccount {
    TrieAccount {
        nonce: a.nonce,
        balance: a.balance,
        storage_root: a.storage_root,
        code_hash: a.code_hash,
    }
}

impl WorldState {
    /// The accounts `diff` produces, with their storage roots (not yet applied).
    pub(crate) fn changed_accounts(&self, diff: &StateDiff) -> BTreeMap<Address, Option<Account>> {
        let mut out = BTreeMap::new();
        for (address, change) in &diff.accounts {
            let new = match change {
                AccountChange::Deleted => None,
                AccountChange::Updated { nonce, balance, code_hash, storage_cleared, storage } => {
                    let mut merged = match (storage_cleared, self.accounts.get(address)) {
                        (false, Some(old)) => old.storage.clone(),
                        _ => HashMap::new(),
                    };
                    for (slot, value) in storage {
                        if value.is_zero() {
                            merged.remove(slot);
                        } else {
                            merged.insert(*slot, *value);
                        }
                    }
                    let unchanged_storage = !storage_cleared
                        && storage.is_empty()
                        && self.accounts.contains_key(address);
                    let storage_root = if unchanged_storage {
                        self.accounts[address].storage_root
                    } else {
                        storage_root_of(&merged)
                    };
                    Some(Account {
                        nonce: *nonce,
                        balance: *balance,
                        code_hash: *code_hash,
                        storage: merged,
                        storage_root,
                        hashed_address: keccak256(address),
                    })
                }
            };
            out.insert(*address, new);
        }
        out
    }

    /// The state root after `changed` (from [`Self::changed_accounts`]) would be applied.
    pub(crate) fn root_with(&self, changed: &BTreeMap<Address, Option<Account>>) -> B256 {
        let mut leaves: Vec<(B256, TrieAccount)> = self
            .accounts
            .iter()
            .filter(|(a, _)| !changed.contains_key(*a))
            .map(|(_, acc)| (acc.hashed_address, trie_account(acc)))
            .collect();
        leaves
            .extend(changed.values().flatten().map(|acc| (acc.hashed_address, trie_account(acc))));
        leaves.sort_unstable_by_key(|(k, _)| *k);
        alloy::trie::root::state_root(leaves)
    }

    /// The current state root.
    pub(crate) fn root(&self) -> B256 {
        self.root_with(&BTreeMap::new())
    }

    /// Applies computed account changes and new code.
    pub(crate) fn apply(
        &mut self,
        changed: BTreeMap<Address, Option<Account>>,
        codes: &BTreeMap<B256, Bytes>,
    ) {
        for (hash, code) in codes {
            self.codes.entry(*hash).or_insert_with(|| Bytecode::new_raw(code.clone()));
        }
        for (address, account) in changed {
            match account {
                None => {
                    self.accounts.remove(&address);
                }
                Some(a) => {
                    self.accounts.insert(address, a);
                }
            }
        }
    }

    /// Inserts an account as genesis does.
    pub(crate) fn put_genesis(&mut self, address: Address, balance: U256, code: Option<Bytes>) {
        let code_hash = match code {
            Some(code) => {
                let hash = keccak256(&code);
                self.codes.insert(hash, Bytecode::new_raw(code));
                hash
            }
            None => KECCAK_EMPTY,
        };
        self.accounts.insert(
            address,
            Account {
                nonce: u64::from(code_hash != KECCAK_EMPTY),
                balance,
                code_hash,
                storage: HashMap::new(),
                storage_root: EMPTY_ROOT_HASH,
                hashed_address: keccak256(address),
            },
        );
    }

    /// Sets genesis storage of an account inserted by [`Self::put_genesis`].
    pub(crate) fn put_genesis_storage(&mut self, address: &Address, slots: &[(U256, U256)]) {
        if let Some(a) = self.accounts.get_mut(address) {
            a.storage.extend(slots.iter().filter(|(_, v)| !v.is_zero()).copied());
            a.storage_root = storage_root_of(&a.storage);
        }
    }

    pub(crate) fn balance(&self, address: &Address) -> U256 {
        self.accounts.get(address).map(|a| a.balance).unwrap_or_default()
    }

    pub(crate) fn nonce(&self, address: &Address) -> u64 {
        self.accounts.get(address).map(|a| a.nonce).unwrap_or_default()
    }

    pub(crate) fn code(&self, address: &Address) -> Bytes {
        self.accounts
            .get(address)
            .and_then(|a| self.codes.get(&a.code_hash))
            .map(|c| c.original_bytes())
            .unwrap_or_default()
    }

    pub(crate) fn storage(&self, address: &Address, slot: U256) -> U256 {
        self.accounts.get(address).and_then(|a| a.storage.get(&slot).copied()).unwrap_or_default()
    }
}

/// The MPT root of a storage map (zero values are absent).
pub(crate) fn storage_root_of(storage: &HashMap<U256, U256>) -> B256 {
    if storage.is_empty() {
        return EMPTY_ROOT_HASH;
    }
    storage_root_unhashed(
        storage.iter().filter(|(_, v)| !v.is_zero()).map(|(k, v)| (B256::from(*k), *v)),
    )
}

impl DatabaseRef for WorldState {
    type Error = DbError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, DbError> {
        Ok(self.accounts.get(&address).map(|a| AccountInfo {
            balance: a.balance,
            nonce: a.nonce,
            code_hash: a.code_hash,
            code: self.codes.get(&a.code_hash).cloned(),
            ..Default::default()
        }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, DbError> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        self.codes
            .get(&code_hash)
            .cloned()
            .ok_or_else(|| DbError(format!("code {code_hash} not found")))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, DbError> {
        Ok(self.storage(&address, index))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, DbError> {
        Ok(self.block_hashes.get(&number).copied().unwrap_or_default())
    }
}
