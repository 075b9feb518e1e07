//! The unbonding queue and the redelegation record: stake on its way out (or across) stays slashable for
//! faults committed while it was bonded, until it matures.
//!
//! ```text
//!  undelegate / redeem stOPG ──► UnbondingEntry { creation, completion = creation + period, balance }
//!                                      │  slash(infraction ≤ creation): balance −= fraction · initial
//!                                      ▼
//!               begin_block(height ≥ completion) ──► recipient's balance
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::address::Address;

/// Tokens leaving stake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnbondingEntry {
    /// The delegator whose shares were removed (the liquid staking pool for stOPG redemptions).
    pub delegator: Address,
    /// Who is paid at completion.
    pub recipient: Address,
    /// The staker it left; `None` for the liquid staking pool's unstaked buffer (not slashable).
    pub staker: Option<Address>,
    /// Height it was created.
    pub creation_height: u64,
    /// Height it pays out.
    pub completion_height: u64,
    /// Tokens when created.
    pub initial_balance: u128,
    /// Tokens now (after slashing).
    pub balance: u128,
}

/// Stake moved from one staker to another: it stays slashable for the source's faults until it matures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedelegationEntry {
    /// Delegator.
    pub delegator: Address,
    /// Source staker.
    pub from: Address,
    /// Destination staker.
    pub to: Address,
    /// Height it was created.
    pub creation_height: u64,
    /// Height it stops being slashable for the source.
    pub completion_height: u64,
    /// Tokens moved.
    pub initial_balance: u128,
    /// Destination shares that came from this redelegation and are still there.
    pub shares_dst: u128,
}

/// Something that matures at a height.
pub trait Matures {
    /// The height it matures.
    fn completion_height(&self) -> u64;
}

impl Matures for UnbondingEntry {
    fn completion_height(&self) -> u64 {
        self.completion_height
    }
}

impl Matures for RedelegationEntry {
    fn completion_height(&self) -> u64 {
        self.completion_height
    }
}

/// What a queue's records are indexed by in [`ByKey`].
pub(crate) trait Keyed {
    type Key: Ord + Copy;
    fn key(&self) -> Self::Key;
}

/// Unbonding entries are counted per (delegator, staker) pair.
impl Keyed for UnbondingEntry {
    type Key = (Address, Option<Address>);
    fn key(&self) -> Self::Key {
        (self.delegator, self.staker)
    }
}

/// Redelegation records are checked per delegator.
impl Keyed for RedelegationEntry {
    type Key = Address;
    fn key(&self) -> Self::Key {
        self.delegator
    }
}

/// Entries by id, with an index by completion height so maturing is O(matured · log n).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue<T> {
    /// Next id.
    pub next_id: u64,
    /// Entries by id.
    pub entries: BTreeMap<u64, T>,
    /// `(completion_height, id)` of every entry.
    pub by_completion: BTreeSet<(u64, u64)>,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue { next_id: 0, entries: BTreeMap::new(), by_completion: BTreeSet::new() }
    }
}

impl<T: Matures> Queue<T> {
    pub(crate) fn push(&mut self, entry: T) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.by_completion.insert((entry.completion_height(), id));
        self.entries.insert(id, entry);
        id
    }

    /// Removes and returns every entry with completion height ≤ `height`, in (height, id) order.
    pub(crate) fn pop_matured(&mut self, height: u64) -> Vec<(u64, T)> {
        let mut out = Vec::new();
        while let Some(&(h, id)) = self.by_completion.first() {
            if h > height {
                break;
            }
            self.by_completion.pop_first();
            if let Some(e) = self.entries.remove(&id) {
                out.push((id, e));
            }
        }
        out
    }
}

/// The open records' ids by key (the redelegations' by delegator, the unbonding entries' by delegator and
/// staker), so that a redelegation's or an undelegation's checks read those records instead of every open
/// one. Derived from the [`Queue`]: never serialized and not part of the ledger's equality. It only ever holds
/// ids of open records (added with the record, removed when it matures), so when it holds as many as the
/// queue it holds all of them; when it holds fewer (a ledger just deserialized) it is rebuilt before use.
#[derive(Debug, Clone)]
pub(crate) struct ByKey<K>(BTreeSet<(K, u64)>);

/// The redelegation records' index.
pub(crate) type ByDelegator = ByKey<Address>;

/// The unbonding entries' index.
pub(crate) type ByPair = ByKey<(Address, Option<Address>)>;

impl<K> Default for ByKey<K> {
    fn default() -> Self {
        ByKey(BTreeSet::new())
    }
}

impl<K> PartialEq for ByKey<K> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<K> Eq for ByKey<K> {}

impl<K: Ord + Copy> ByKey<K> {
    pub(crate) fn insert(&mut self, key: K, id: u64) {
        self.0.insert((key, id));
    }

    pub(crate) fn remove(&mut self, key: K, id: u64) {
        self.0.remove(&(key, id));
    }

    /// The ids of the open records in `queue` with this key, in id order.
    pub(crate) fn ids<T: Keyed<Key = K>>(
        &mut self,
        queue: &Queue<T>,
        key: K,
    ) -> impl Iterator<Item = u64> + '_ {
        if self.0.len() != queue.entries.len() {
            self.0 = queue.entries.iter().map(|(&id, e)| (e.key(), id)).collect();
        }
        debug_assert!(
            self.0.iter().all(|(k, id)| queue.entries.get(id).is_some_and(|e| e.key() == *k)),
            "the index holds only open records"
        );
        self.0.range((key, 0)..=(key, u64::MAX)).map(|&(_, id)| id)
    }
}
