//! [`AddrMap`]: the ledger's maps keyed by address (balances, stakers, delegations). Iteration is in address
//! order and the serde form is a map in that order, exactly as a `BTreeMap`'s, so the serialized ledger (and
//! the chain's state root over it) does not depend on this type; lookups go through a hash index instead of
//! a tree walk.
//!
//! Entries live in slots that never move; the index maps an address to its slot (a lookup hashes 20 bytes
//! and reads one slot), and a list of slot numbers sorted by address gives the iteration order. Inserting
//! or removing a key moves only that list's tail (4 bytes an entry); a freed slot is reused. The hash is
//! keyed with a per-process random seed, so addresses chosen to collide on one node do not collide on
//! another; nothing observable depends on the seed, since only the sorted list is ever iterated.

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    hash::{BuildHasher, Hasher, RandomState},
    sync::OnceLock,
};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::address::Address;

/// A folded-multiply hash over 8-byte words (the 128-bit product's halves XORed, so every input bit reaches
/// the low bits the table indexes with: sequential addresses differ only in their last bytes).
#[derive(Default)]
pub(crate) struct AddrHasher(u64);

fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

const K: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        fold_mul(self.0, K)
    }

    fn write(&mut self, bytes: &[u8]) {
        if let Ok(a) = <&[u8; 20]>::try_from(bytes) {
            // An address: three words.
            let w = |r: std::ops::Range<usize>| {
                let mut b = [0u8; 8];
                b[..r.len()].copy_from_slice(&a[r]);
                u64::from_le_bytes(b)
            };
            self.0 = fold_mul(self.0 ^ w(0..8) ^ K, w(8..16) ^ 0x517c_c1b7_2722_0a95) ^ w(16..20);
            return;
        }
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(w));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = fold_mul(self.0 ^ word, 0x517c_c1b7_2722_0a95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// Builds [`AddrHasher`]s from the process's seed.
#[derive(Clone, Copy)]
pub(crate) struct AddrHashBuilder(u64);

impl Default for AddrHashBuilder {
    fn default() -> Self {
        static SEED: OnceLock<u64> = OnceLock::new();
        AddrHashBuilder(*SEED.get_or_init(|| RandomState::new().hash_one(0x006f_676e_u64)))
    }
}

impl BuildHasher for AddrHashBuilder {
    type Hasher = AddrHasher;

    fn build_hasher(&self) -> AddrHasher {
        AddrHasher(self.0)
    }
}

type Index = HashMap<Address, u32, AddrHashBuilder>;

/// A map from [`Address`] to `V`, iterated in address order, with O(1) lookups.
#[derive(Clone)]
pub(crate) struct AddrMap<V> {
    slots: Vec<Option<(Address, V)>>,
    /// Free slots, reused first.
    free: Vec<u32>,
    /// Slot numbers in address order.
    order: Vec<u32>,
    index: Index,
}

impl<V> Default for AddrMap<V> {
    fn default() -> Self {
        AddrMap { slots: Vec::new(), free: Vec::new(), order: Vec::new(), index: Index::default() }
    }
}

impl<V> AddrMap<V> {
    pub(crate) fn new() -> Self {
        AddrMap::default()
    }

    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    fn slot(&self, i: u32) -> (&Address, &V) {
        let (k, v) = self.slots[i as usize].as_ref().expect("live slot");
        (k, v)
    }

    pub(crate) fn get(&self, key: &Address) -> Option<&V> {
        let i = *self.index.get(key)?;
        Some(self.slot(i).1)
    }

    pub(crate) fn get_mut(&mut self, key: &Address) -> Option<&mut V> {
        let i = *self.index.get(key)?;
        self.slots[i as usize].as_mut().map(|(_, v)| v)
    }

    /// The slot holding `key`. It holds `key` until `key` is removed; a slot is only ever read back through
    /// [`AddrMap::get_at`] / [`AddrMap::get_at_mut`], which check the key, so a stale slot is never misread.
    pub(crate) fn slot_of(&self, key: &Address) -> Option<u32> {
        self.index.get(key).copied()
    }

    /// The value in `slot` if that slot holds `key` (a key is in one slot at most, so this is `get(key)`
    /// whenever it answers), without hashing.
    pub(crate) fn get_at(&self, slot: u32, key: &Address) -> Option<&V> {
        match self.slots.get(slot as usize) {
            Some(Some((k, v))) if k == key => Some(v),
            _ => None,
        }
    }

    /// [`AddrMap::get_at`], mutably.
    pub(crate) fn get_at_mut(&mut self, slot: u32, key: &Address) -> Option<&mut V> {
        match self.slots.get_mut(slot as usize) {
            Some(Some((k, v))) if k == key => Some(v),
            _ => None,
        }
    }

    /// The value in a live `slot`, whatever its key: for a caller that has just checked the key with
    /// [`AddrMap::get_at`] or found the slot with [`AddrMap::slot_of`].
    pub(crate) fn value_at_mut(&mut self, slot: u32) -> Option<&mut V> {
        self.slots.get_mut(slot as usize)?.as_mut().map(|(_, v)| v)
    }

    pub(crate) fn contains_key(&self, key: &Address) -> bool {
        self.index.contains_key(key)
    }

    /// Position of `key` in `order` (or where it would go).
    fn order_position(&self, key: &Address) -> usize {
        self.order.partition_point(|&i| self.slot(i).0 < key)
    }

    /// Adds an absent key; returns its slot.
    fn add(&mut self, key: Address, value: V) -> u32 {
        let at = self.order_position(&key);
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some((key, value));
                i
            }
            None => {
                self.slots.push(Some((key, value)));
                (self.slots.len() - 1) as u32
            }
        };
        self.order.insert(at, i);
        self.index.insert(key, i);
        i
    }

    /// Inserts or replaces; returns the old value.
    pub(crate) fn insert(&mut self, key: Address, value: V) -> Option<V> {
        if let Some(v) = self.get_mut(&key) {
            return Some(std::mem::replace(v, value));
        }
        self.add(key, value);
        None
    }

    /// The value at `key`, inserted first with `make()` when absent.
    pub(crate) fn get_or_insert_with(&mut self, key: Address, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => self.add(key, make()),
        };
        self.slots[i as usize].as_mut().map(|(_, v)| v).expect("live slot")
    }

    pub(crate) fn remove(&mut self, key: &Address) -> Option<V> {
        let i = self.index.remove(key)?;
        let at = self.order_position(key);
        self.order.remove(at);
        self.free.push(i);
        self.slots[i as usize].take().map(|(_, v)| v)
    }

    /// Entries in address order.
    pub(crate) fn iter(
        &self,
    ) -> impl DoubleEndedIterator<Item = (&Address, &V)> + ExactSizeIterator {
        self.order.iter().map(|&i| self.slot(i))
    }

    /// The slot of `key`, for a caller walking keys in increasing order: `pos` (0 before the first call) is
    /// where the previous seek stopped in the address order, and moves past the smaller keys. A walk over
    /// another map finds each of its keys here in amortised O(1) comparisons, without hashing.
    pub(crate) fn seek(&self, pos: &mut usize, key: &Address) -> Option<u32> {
        while let Some(&i) = self.order.get(*pos) {
            match self.slot(i).0.cmp(key) {
                std::cmp::Ordering::Less => *pos += 1,
                std::cmp::Ordering::Equal => return Some(i),
                std::cmp::Ordering::Greater => return None,
            }
        }
        None
    }

    /// The entry with the greatest address, without hashing.
    pub(crate) fn last(&self) -> Option<(&Address, &V)> {
        self.order.last().map(|&i| self.slot(i))
    }

    /// [`AddrMap::last`], the value mutable.
    pub(crate) fn last_mut(&mut self) -> Option<(&Address, &mut V)> {
        let &i = self.order.last()?;
        self.slots[i as usize].as_mut().map(|(k, v)| (&*k, v))
    }

    /// Entries in address order with their slots (for [`AddrMap::get_at`] later).
    pub(crate) fn iter_slots(&self) -> impl Iterator<Item = (u32, &Address, &V)> {
        self.order.iter().map(|&i| {
            let (k, v) = self.slot(i);
            (i, k, v)
        })
    }

    pub(crate) fn keys(&self) -> impl DoubleEndedIterator<Item = &Address> + ExactSizeIterator {
        self.iter().map(|(k, _)| k)
    }

    pub(crate) fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.iter().map(|(_, v)| v)
    }
}

impl<V: Default> AddrMap<V> {
    /// The value at `key`, inserted as `V::default()` when absent.
    pub(crate) fn entry_or_default(&mut self, key: Address) -> &mut V {
        self.get_or_insert_with(key, V::default)
    }
}

impl<V> std::ops::Index<&Address> for AddrMap<V> {
    type Output = V;

    fn index(&self, key: &Address) -> &V {
        self.get(key).expect("no entry for address")
    }
}

impl<V> FromIterator<(Address, V)> for AddrMap<V> {
    fn from_iter<I: IntoIterator<Item = (Address, V)>>(iter: I) -> Self {
        // Through a BTreeMap: sorted, and a repeated key keeps its last value, as in a BTreeMap.
        let sorted: BTreeMap<Address, V> = iter.into_iter().collect();
        let index = sorted.keys().enumerate().map(|(i, k)| (*k, i as u32)).collect();
        let order = (0..sorted.len() as u32).collect();
        AddrMap { slots: sorted.into_iter().map(Some).collect(), free: Vec::new(), order, index }
    }
}

impl<V: PartialEq> PartialEq for AddrMap<V> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl<V: Eq> Eq for AddrMap<V> {}

impl<V: fmt::Debug> fmt::Debug for AddrMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V: Serialize> Serialize for AddrMap<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for AddrMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(BTreeMap::<Address, V>::deserialize(d)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_btreemap() {
        let mut m = AddrMap::new();
        let mut b = BTreeMap::new();
        let mut x = 12345u64;
        for step in 0..2000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let key = if step % 3 == 0 {
                Address::from_index(x % 97)
            } else {
                let mut a = Address::from_index(x % 31);
                a.0[0] = (x >> 56) as u8;
                a
            };
            match x % 5 {
                0 | 1 => assert_eq!(m.insert(key, step), b.insert(key, step)),
                2 => assert_eq!(m.remove(&key), b.remove(&key)),
                3 => *m.entry_or_default(key) += 1,
                _ => assert_eq!(m.get(&key), b.get(&key)),
            }
            if x % 5 == 3 {
                *b.entry(key).or_default() += 1;
            }
            assert_eq!(m.len(), b.len());
        }
        assert!(m.iter().eq(b.iter()));
        assert_eq!(serde_json::to_string(&m).unwrap(), serde_json::to_string(&b).unwrap());
        let back: AddrMap<u64> = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
        assert_eq!(back, m);
        for (k, v) in &b {
            assert_eq!(m[k], *v);
            assert!(m.contains_key(k));
        }
        // A slot answers for its key and no other, also after removals reused it.
        for (k, v) in &b {
            let slot = m.slot_of(k).expect("present");
            assert_eq!(m.get_at(slot, k), Some(v));
            let other = Address::from_index(1_000_000);
            assert_eq!(m.get_at(slot, &other), None);
        }
        let gone = *b.keys().next().expect("non-empty");
        let slot = m.slot_of(&gone).expect("present");
        m.remove(&gone);
        assert_eq!(m.get_at(slot, &gone), None);
        assert_eq!(m.get_at_mut(slot, &gone), None);
        m.insert(Address::from_index(2_000_000), 7);
        assert_eq!(m.get_at(slot, &gone), None);
        assert_eq!(m.get_at(slot, &Address::from_index(2_000_000)), Some(&7));
        // Seeking keys in increasing order finds the present ones' slots and no absent one.
        let mut probe: Vec<Address> =
            m.keys().copied().chain((0..200).map(|n| Address::from_index(n * 7 + 3))).collect();
        probe.sort();
        probe.dedup();
        let mut at = 0;
        for k in &probe {
            assert_eq!(m.seek(&mut at, k), m.slot_of(k));
        }
        assert_eq!(m.last(), m.iter().next_back());
    }
}
