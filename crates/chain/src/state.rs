//! The world state kept in memory (and in `redb`, see `store`), its revm database view, the changes a
//! block makes, and the state root.
//!
//! The state root is Ethereum's: the Merkle-Patricia root of `keccak(address) → rlp(nonce, balance,
//! storage_root, code_hash)` with each storage root the MPT root of `keccak(slot) → rlp(value)` (alloy-trie).
//! Storage roots are cached per account and recomputed only for accounts a block changes. Each account's
//! trie leaf (hashed address → RLP) is cached too, sorted, and re-encoded only for changed accounts. The
//! account trie's 256 sub-tries two nibbles below the root (one per first byte of the hashed address)
//! have their hashes cached: a block re-hashes only the sub-tries it touches, then the two branch levels
//! above them. When a level above is not a full branch (a small state), that part is hashed from the
//! leaves instead, so the root is always the plain MPT root.
//!
//! Invariant: `WorldState::leaves` holds exactly the leaves of `WorldState::accounts`, and
//! `WorldState::groups` the sub-trie hashes of `leaves`. Code that writes `accounts` directly (loading
//! from disk) calls `WorldState::rebuild_leaves` afterwards.

use std::collections::{BTreeMap, HashMap};

use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    rlp::{Encodable, Header},
    trie::{
        EMPTY_ROOT_HASH, HashBuilder, KECCAK_EMPTY, Nibbles, TrieAccount,
        root::storage_root_unhashed,
    },
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
    /// The account trie's leaves: hashed address → RLP of the account, sorted (see the invariant above).
    leaves: BTreeMap<B256, Vec<u8>>,
    /// Per first byte of the hashed address, the hash of the sub-trie two nibbles below the root (`None`:
    /// no account there); 256 entries once any account exists.
    groups: Vec<Option<B256>>,
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

/// The RLP of an account's trie leaf.
fn leaf_rlp(a: &Account) -> Vec<u8> {
    let mut out = Vec::with_capacity(110);
    trie_account(a).encode(&mut out);
    out
}

/// A block's change to the account trie: computed with its state root ([`WorldState::root_with`])
/// and applied as it is when the block is committed ([`WorldState::apply`]), so the sub-tries the
/// block touches are hashed once.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrieUpdate {
    /// Changed leaves by hashed address (`None`: removed).
    leaves: BTreeMap<B256, Option<Vec<u8>>>,
    /// The new hashes of the sub-tries two nibbles down that the leaves fall in, by first byte.
    groups: Vec<(usize, Option<B256>)>,
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

    /// The state root after `changed` (from [`Self::changed_accounts`]) would be applied, and the
    /// trie's side of that change, for [`Self::apply`]: hashed here once.
    pub(crate) fn root_with(
        &self,
        changed: &BTreeMap<Address, Option<Account>>,
    ) -> (B256, TrieUpdate) {
        // Changed leaves by hashed address (`None` = removed).
        let overrides: BTreeMap<B256, Option<Vec<u8>>> = changed
            .iter()
            .map(|(address, acc)| match acc {
                Some(acc) => (acc.hashed_address, Some(leaf_rlp(acc))),
                None => (keccak256(address), None),
            })
            .collect();
        let mut touched = vec![self.groups.len() != 256; 256];
        for k in overrides.keys() {
            touched[usize::from(k[0])] = true;
        }
        let mut groups = Vec::new();
        let mut group = |g: usize| -> Option<B256> {
            if touched[g] {
                let (lo, hi) = byte_range(g, g);
                let hash = subtrie_hash(2, &self.merged(&overrides, lo, hi));
                groups.push((g, hash));
                hash
            } else {
                self.groups[g]
            }
        };
        let mut level1 = [None; 16];
        for (a, slot) in level1.iter_mut().enumerate() {
            let children: Vec<Option<B256>> = (0..16).map(|b| group(a * 16 + b)).collect();
            *slot = match children.iter().flatten().count() {
                0 => None,
                1 => {
                    let (lo, hi) = byte_range(a * 16, a * 16 + 15);
                    subtrie_hash(1, &self.merged(&overrides, lo, hi))
                }
                _ => Some(branch_hash(&children)),
            };
        }
        let root = if level1.iter().flatten().count() >= 2 {
            branch_hash(&level1)
        } else {
            let all = self.merged(&overrides, B256::ZERO, B256::repeat_byte(0xff));
            subtrie_hash(0, &all).unwrap_or(EMPTY_ROOT_HASH)
        };
        (root, TrieUpdate { leaves: overrides, groups })
    }

    /// The leaves with keys in `lo..=hi` after `overrides` (sorted; `None` overrides remove).
    fn merged<'a>(
        &'a self,
        overrides: &'a BTreeMap<B256, Option<Vec<u8>>>,
        lo: B256,
        hi: B256,
    ) -> Vec<(&'a B256, &'a [u8])> {
        let mut out = Vec::new();
        let mut cached = self.leaves.range(lo..=hi).peekable();
        let mut changed = overrides.range(lo..=hi).peekable();
        loop {
            let (key, rlp) = match (cached.peek(), changed.peek()) {
                (None, None) => break,
                (Some((ck, _)), Some((nk, _))) if ck == nk => {
                    cached.next();
                    let (k, v) = changed.next().expect("peeked");
                    (k, v.as_deref())
                }
                (Some((ck, _)), Some((nk, _))) if nk < ck => {
                    let (k, v) = changed.next().expect("peeked");
                    (k, v.as_deref())
                }
                (Some(_), _) => {
                    let (k, v) = cached.next().expect("peeked");
                    (k, Some(v.as_slice()))
                }
                (None, Some(_)) => {
                    let (k, v) = changed.next().expect("peeked");
                    (k, v.as_deref())
                }
            };
            if let Some(rlp) = rlp {
                out.push((key, rlp));
            }
        }
        out
    }

    /// Re-hashes the sub-tries of the given first bytes (all of them when the cache is not set up).
    fn refresh_groups(&mut self, bytes: impl IntoIterator<Item = u8>) {
        let bytes: Vec<u8> = if self.groups.len() == 256 {
            bytes.into_iter().collect()
        } else {
            self.groups = vec![None; 256];
            (0..=255).collect()
        };
        for g in bytes {
            let (lo, hi) = byte_range(usize::from(g), usize::from(g));
            let leaves: Vec<(&B256, &[u8])> =
                self.leaves.range(lo..=hi).map(|(k, v)| (k, v.as_slice())).collect();
            self.groups[usize::from(g)] = subtrie_hash(2, &leaves);
        }
    }

    /// Recomputes the cached trie leaves from `accounts` (after writing `accounts` directly).
    pub(crate) fn rebuild_leaves(&mut self) {
        self.leaves = self.accounts.values().map(|a| (a.hashed_address, leaf_rlp(a))).collect();
        self.groups.clear();
        self.refresh_groups([]);
    }

    /// The current state root.
    pub(crate) fn root(&self) -> B256 {
        self.root_with(&BTreeMap::new()).0
    }

    /// Applies computed account changes, their trie update (from [`Self::root_with`] on this same
    /// state) and new code.
    pub(crate) fn apply(
        &mut self,
        changed: BTreeMap<Address, Option<Account>>,
        trie: TrieUpdate,
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
        for (key, leaf) in trie.leaves {
            match leaf {
                None => self.leaves.remove(&key),
                Some(rlp) => self.leaves.insert(key, rlp),
            };
        }
        if self.groups.len() != 256 {
            self.groups = vec![None; 256];
        }
        for (g, hash) in trie.groups {
            self.groups[g] = hash;
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
        let account = Account {
            nonce: u64::from(code_hash != KECCAK_EMPTY),
            balance,
            code_hash,
            storage: HashMap::new(),
            storage_root: EMPTY_ROOT_HASH,
            hashed_address: keccak256(address),
        };
        self.leaves.insert(account.hashed_address, leaf_rlp(&account));
        self.refresh_groups([account.hashed_address[0]]);
        self.accounts.insert(address, account);
    }

    /// Sets genesis storage of an account inserted by [`Self::put_genesis`].
    pub(crate) fn put_genesis_storage(&mut self, address: &Address, slots: &[(U256, U256)]) {
        if let Some(a) = self.accounts.get_mut(address) {
            a.storage.extend(slots.iter().filter(|(_, v)| !v.is_zero()).copied());
            a.storage_root = storage_root_of(&a.storage);
            self.leaves.insert(a.hashed_address, leaf_rlp(a));
            let g = a.hashed_address[0];
            self.refresh_groups([g]);
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

/// The keys whose first byte is in `first..=last`, as an inclusive range.
fn byte_range(first: usize, last: usize) -> (B256, B256) {
    let mut lo = B256::ZERO;
    let mut hi = B256::repeat_byte(0xff);
    lo[0] = u8::try_from(first).expect("a byte");
    hi[0] = u8::try_from(last).expect("a byte");
    (lo, hi)
}

/// The hash of the trie of `leaves` (sorted, sharing their first `skip` nibbles) with those nibbles
/// removed: the reference a branch `skip` nibbles deep holds to it. `None` for no leaves. Account leaves
/// are over 32 bytes, so every node is referenced by hash.
fn subtrie_hash(skip: usize, leaves: &[(&B256, &[u8])]) -> Option<B256> {
    if leaves.is_empty() {
        return None;
    }
    let mut hb = HashBuilder::default();
    for (key, rlp) in leaves {
        hb.add_leaf(Nibbles::unpack(key).slice(skip..), rlp);
    }
    Some(hb.root())
}

/// The hash of a branch node with these 16 children (by hash) and no value.
fn branch_hash(children: &[Option<B256>]) -> B256 {
    let mut payload = Vec::with_capacity(16 * 33 + 1);
    for child in children {
        match child {
            Some(h) => {
                payload.push(0xa0);
                payload.extend_from_slice(h.as_slice());
            }
            None => payload.push(0x80),
        }
    }
    payload.push(0x80);
    let mut out = Vec::with_capacity(payload.len() + 3);
    Header { list: true, payload_length: payload.len() }.encode(&mut out);
    out.extend_from_slice(&payload);
    keccak256(&out)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The root from scratch: every account encoded, sorted, and hashed (alloy-trie's `state_root`).
    fn root_from_scratch(world: &WorldState) -> B256 {
        let mut leaves: Vec<(B256, TrieAccount)> =
            world.accounts.values().map(|a| (a.hashed_address, trie_account(a))).collect();
        leaves.sort_unstable_by_key(|(k, _)| *k);
        alloy::trie::root::state_root(leaves)
    }

    fn addr(i: u64) -> Address {
        Address::from_word(B256::from(U256::from(i)))
    }

    fn updated(nonce: u64, balance: u64, storage: &[(u64, u64)]) -> AccountChange {
        AccountChange::Updated {
            nonce,
            balance: U256::from(balance),
            code_hash: KECCAK_EMPTY,
            storage_cleared: false,
            storage: storage.iter().map(|(k, v)| (U256::from(*k), U256::from(*v))).collect(),
        }
    }

    /// Blocks of updates, creations, deletions and storage changes on `n` genesis accounts: the cached
    /// root (predicted and applied) is the root from scratch at every step, and after a rebuild.
    fn check(n: u64) {
        let mut world = WorldState::default();
        assert_eq!(world.root(), EMPTY_ROOT_HASH);
        for i in 0..n {
            world.put_genesis(addr(i), U256::from(1_000 + i), None);
        }
        world.put_genesis_storage(&addr(0), &[(U256::from(1), U256::from(7))]);
        assert_eq!(world.root(), root_from_scratch(&world), "{n} accounts at genesis");
        for step in 0..20u64 {
            let mut diff = StateDiff::default();
            for i in 0..5u64 {
                diff.accounts
                    .insert(addr((step * 7 + i * 11) % n), updated(step + 1, step * 100 + i, &[]));
            }
            diff.accounts.insert(addr(1_000_000 + step), updated(1, 5, &[]));
            diff.accounts.insert(addr((step * 13 + 1) % n), AccountChange::Deleted);
            diff.accounts.insert(addr(0), updated(1, 9, &[(step, step + 1), (1, step % 2)]));
            let changed = world.changed_accounts(&diff);
            let (predicted, trie) = world.root_with(&changed);
            world.apply(changed, trie, &diff.codes);
            assert_eq!(predicted, world.root(), "{n} accounts, step {step}");
            assert_eq!(world.root(), root_from_scratch(&world), "{n} accounts, step {step}");
            // The sub-trie hashes the update carried are those a rebuild computes.
            let mut rebuilt = world.clone();
            rebuilt.rebuild_leaves();
            assert_eq!(rebuilt.groups, world.groups, "{n} accounts, step {step}");
        }
        // A rebuild from the accounts alone (as after loading from disk) gives the same caches.
        let mut reloaded =
            WorldState { leaves: BTreeMap::new(), groups: Vec::new(), ..world.clone() };
        reloaded.rebuild_leaves();
        assert_eq!(reloaded.leaves, world.leaves);
        assert_eq!(reloaded.groups, world.groups);
        assert_eq!(reloaded.root(), world.root());
        // Deleting everything gives the empty root.
        let mut diff = StateDiff::default();
        for a in world.accounts.keys() {
            diff.accounts.insert(*a, AccountChange::Deleted);
        }
        let changed = world.changed_accounts(&diff);
        let (root, trie) = world.root_with(&changed);
        assert_eq!(root, EMPTY_ROOT_HASH);
        world.apply(changed, trie, &diff.codes);
        assert_eq!(world.root(), EMPTY_ROOT_HASH);
    }

    #[test]
    fn cached_root_is_the_root_from_scratch_for_small_and_large_states() {
        for n in [1, 2, 3, 17, 50, 300, 3_000] {
            check(n);
        }
    }
}
