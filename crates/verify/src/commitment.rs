//! Layer commitments: the chain of states over a run's cuts, and the Merkle tree that commits to it.
//!
//! A run commits at the cuts of its plan's [`CutLayout`] (chosen from the plan alone, see
//! `ogn_runtime::CutLayout`): cut `j` lies after step `cⱼ` and binds the leaves of its *live* steps, the
//! steps up to `cⱼ` that later steps start from.
//! ```text
//!  s₋₁ = SHA-256("ogn-genesis-v1" ‖ model CID ‖ input hash)
//!  Kⱼ  = SHA-256("ogn-cut-v1" ‖ cⱼ:u64 ‖ count:u32 ‖ (step:u32 ‖ leaf) for each live step, ascending)
//!  sⱼ  = SHA-256("ogn-state-v1" ‖ sⱼ₋₁ ‖ Kⱼ)             j = 0 … m-1   (m cuts)
//!  sₘ  = SHA-256("ogn-state-v1" ‖ sₘ₋₁ ‖ output hash)    the delivered outputs, canonically encoded
//!  root = SHA-256("ogn-root-v1" ‖ count:u64 ‖ Merkle root over s₀ … sₘ, padded with zeros to 2ᵏ)
//! ```
//! (`leaf` is `ogn_runtime`'s BLAKE3 leaf of a step's outputs.) Chaining makes agreement monotone: two
//! parties that agree on sⱼ agree on every cut up to j (or one found a SHA-256 collision), which is what
//! lets the dispute game bisect over positions. The Merkle tree lets a party reveal one state with a
//! logarithmic proof that binds it to the root it signed. Only the live steps' outputs are hashed while
//! running: the leaves of the other steps are computed when a dispute asks for them.

use alloy::primitives::B256;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use ogn_runtime::{Cut, CutLayout};
use ogn_types::ModelCid;

fn sha(parts: &[&[u8]]) -> B256 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    B256::from(<[u8; 32]>::from(h.finalize()))
}

/// The state before any step: binds the model and the input.
pub fn genesis_state(model: &ModelCid, input_hash: B256) -> B256 {
    sha(&[b"ogn-genesis-v1", &model.to_bytes(), input_hash.as_slice()])
}

/// The state after absorbing `leaf`.
pub fn next_state(previous: B256, leaf: B256) -> B256 {
    sha(&[b"ogn-state-v1", previous.as_slice(), leaf.as_slice()])
}

/// The leaf of `cut`, given the leaves of its live steps in the cut's order.
pub fn cut_leaf(cut: &Cut, live_leaves: &[B256]) -> B256 {
    let mut h = Sha256::new();
    h.update(b"ogn-cut-v1");
    h.update((cut.after as u64).to_be_bytes());
    h.update((cut.live.len() as u32).to_be_bytes());
    for (step, leaf) in cut.live.iter().zip(live_leaves) {
        h.update(step.to_be_bytes());
        h.update(leaf);
    }
    B256::from(<[u8; 32]>::from(h.finalize()))
}

/// The leaves of `layout`'s cuts from a run's step leaves (`None`: not hashed); `None` when a live
/// step's leaf is missing.
pub fn cut_leaves(layout: &CutLayout, leaves: &[Option<B256>]) -> Option<Vec<B256>> {
    layout
        .cuts
        .iter()
        .map(|cut| {
            let live = cut
                .live
                .iter()
                .map(|s| leaves.get(*s as usize).copied().flatten())
                .collect::<Option<Vec<B256>>>()?;
            Some(cut_leaf(cut, &live))
        })
        .collect()
}

/// Chains `genesis` through `leaves` and the output hash: `leaves.len() + 1` states.
pub fn chain_states(genesis: B256, leaves: &[[u8; 32]], output_hash: B256) -> Vec<B256> {
    let mut states = Vec::with_capacity(leaves.len() + 1);
    let mut s = genesis;
    for leaf in leaves {
        s = next_state(s, B256::from(*leaf));
        states.push(s);
    }
    states.push(next_state(s, output_hash));
    states
}

/// A commitment to a run: the root over its states and how many there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LayerCommitment {
    /// The Merkle root (domain-separated, count included).
    pub root: B256,
    /// Number of states (steps + 1).
    pub count: u64,
}

/// The Merkle tree over a run's states, kept by the party that may have to answer for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateTree {
    states: Vec<B256>,
    /// `levels[0]` = padded leaves, last = `[root]`.
    levels: Vec<Vec<B256>>,
}

pub(crate) fn node(left: B256, right: B256) -> B256 {
    sha(&[b"ogn-node-v1", left.as_slice(), right.as_slice()])
}

pub(crate) fn finish(count: u64, top: B256) -> B256 {
    sha(&[b"ogn-root-v1", &count.to_be_bytes(), top.as_slice()])
}

impl StateTree {
    /// The tree over `states` (at least one).
    pub fn new(states: Vec<B256>) -> Self {
        let width = states.len().max(1).next_power_of_two();
        let mut level: Vec<B256> = states.clone();
        level.resize(width, B256::ZERO);
        let mut levels = vec![level];
        while levels.last().map_or(0, Vec::len) > 1 {
            let prev = levels.last().expect("non-empty");
            levels.push(prev.chunks(2).map(|p| node(p[0], p[1])).collect());
        }
        Self { states, levels }
    }

    /// What a party signs.
    pub fn commitment(&self) -> LayerCommitment {
        let count = self.states.len() as u64;
        LayerCommitment { root: finish(count, self.levels.last().expect("non-empty")[0]), count }
    }

    /// The two children of node `index` at `level` (level 0 holds the states); `None` when out of range.
    pub fn children(&self, level: u32, index: u64) -> Option<(B256, B256)> {
        let below = self.levels.get((level as usize).checked_sub(1)?)?;
        let i = usize::try_from(index).ok()?.checked_mul(2)?;
        Some((*below.get(i)?, *below.get(i + 1)?))
    }

    /// The states, in order.
    pub fn states(&self) -> &[B256] {
        &self.states
    }

    /// State `index` and the sibling path that binds it to the root; `None` past the end.
    pub fn open(&self, index: u64) -> Option<Opening> {
        let i = usize::try_from(index).ok().filter(|i| *i < self.states.len())?;
        let mut path = Vec::with_capacity(self.levels.len() - 1);
        let mut at = i;
        for level in &self.levels[..self.levels.len() - 1] {
            path.push(level[at ^ 1]);
            at /= 2;
        }
        Some(Opening { index, state: self.states[i], path })
    }
}

/// One state revealed with its Merkle path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opening {
    /// Position of the state.
    pub index: u64,
    /// The state.
    pub state: B256,
    /// Sibling hashes, leaf level first.
    pub path: Vec<B256>,
}

impl Opening {
    /// Whether this opening is consistent with `commitment`.
    pub fn verify(&self, commitment: &LayerCommitment) -> bool {
        if self.index >= commitment.count {
            return false;
        }
        let width = commitment.count.next_power_of_two();
        if self.path.len() != width.trailing_zeros() as usize {
            return false;
        }
        let mut h = self.state;
        let mut at = self.index;
        for sibling in &self.path {
            h = if at.is_multiple_of(2) { node(h, *sibling) } else { node(*sibling, h) };
            at /= 2;
        }
        finish(commitment.count, h) == commitment.root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn states(n: usize) -> Vec<B256> {
        let leaves: Vec<[u8; 32]> = (0..n).map(|i| [i as u8; 32]).collect();
        chain_states(B256::repeat_byte(7), &leaves, B256::repeat_byte(9))
    }

    #[test]
    fn every_opening_verifies_and_a_changed_one_does_not() {
        for n in [0, 1, 2, 3, 4, 5, 17, 64] {
            let tree = StateTree::new(states(n));
            let c = tree.commitment();
            assert_eq!(c.count, n as u64 + 1);
            for i in 0..c.count {
                let o = tree.open(i).unwrap();
                assert!(o.verify(&c), "n={n} i={i}");
                let mut bad = o.clone();
                bad.state.0[0] ^= 1;
                assert!(!bad.verify(&c));
                let mut moved = o.clone();
                moved.index = (i + 1) % c.count;
                assert!(c.count == 1 || !moved.verify(&c));
            }
            assert!(tree.open(c.count).is_none());
            let other = LayerCommitment { count: c.count + 1, ..c };
            assert!(!tree.open(0).unwrap().verify(&other));
        }
    }

    #[test]
    fn agreement_on_a_state_is_agreement_on_all_leaves_before_it() {
        let a = states(10);
        let mut leaves: Vec<[u8; 32]> = (0..10).map(|i| [i as u8; 32]).collect();
        leaves[4][0] ^= 1;
        let b = chain_states(B256::repeat_byte(7), &leaves, B256::repeat_byte(9));
        assert_eq!(a[..4], b[..4]);
        assert!(a[4..].iter().zip(&b[4..]).all(|(x, y)| x != y));
    }
}
