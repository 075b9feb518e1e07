//! LogUp range check: proves that every entry of a vector `l` (committed by the caller before this
//! argument starts) lies in `[0, 2^8)`, reducing the claim to one evaluation `l̃(ρ)` that the
//! caller opens through its commitment.
//!
//! With a challenge `α` drawn after `l` and the public multiplicities `m_t` (how often each byte
//! `t` occurs) are bound to the transcript, the logarithmic-derivative identity
//!
//! ```text
//!   Σ_i 1/(α − l_i)  =  Σ_{t<256} m_t/(α − t)
//! ```
//!
//! holds for all `α` exactly when `l` is a multiset of bytes with those multiplicities (the field's
//! characteristic exceeds `len(l)` and 256, so multiplicities do not wrap). The left side is proven
//! with the fractional-sum GKR argument of Papini and Haböck ("Improving logarithmic derivative
//! lookups using GKR"): a binary tree of fractions `p/q` with leaves `1/(α − l_i)`, whose layers
//! are related by `p = p₀q₁ + p₁q₀`, `q = q₀q₁`; each layer's claim reduces to the next by one
//! degree-3 sumcheck, so no inverse is ever committed. The verifier computes the right side itself
//! (256 inversions) and ends with `q̃_leaves(ρ) = α − l̃(ρ)`.
//!
//! Soundness error (challenges in `F_p²`, |EF| ≈ 2^128): `(len(l) + 256)/|EF|` for `α`, and per layer
//! `j` at most `(3j + 2)/|EF|` for its sumcheck, batching and folding challenges: below 2^-100 for
//! any vector below 2^26 entries.

use p3_challenger::{CanObserve, FieldChallenger};
use p3_field::{Field, PrimeCharacteristicRing};
use serde::{Deserialize, Serialize};

use crate::field::{EF, F, eq_table, from_i64, log2_ceil};

/// Values a range check accepts: `0 .. RANGE`.
pub(crate) const RANGE: usize = 256;

/// A range-check proof.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct RangeProof {
    /// How often each value `0 .. RANGE` occurs in the (zero-padded) vector.
    pub(crate) multiplicities: Vec<u32>,
    /// The two children of the root fraction: `(p(0), p(1), q(0), q(1))`.
    pub(crate) top: [EF; 4],
    /// One reduction per tree layer below the top, from the root towards the leaves.
    pub(crate) layers: Vec<LayerProof>,
}

/// The sumcheck relating one tree layer to the layer below it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct LayerProof {
    /// Round polynomials as `(g(0), g(2), g(3))`; `g(1)` is the running claim minus `g(0)`.
    pub(crate) rounds: Vec<[EF; 3]>,
    /// `p̃(0, s), p̃(1, s), q̃(0, s), q̃(1, s)` of the layer below at the sumcheck point `s`.
    pub(crate) evals: [EF; 4],
}

/// Why a range check failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RangeError {
    /// Wrong number of multiplicities, layers or rounds.
    Shape,
    /// The root fraction is not `Σ m_t/(α − t)`.
    Sum,
    /// A layer's sumcheck does not end in its claimed evaluations.
    Layer(usize),
}

/// The vector length a range check runs on: a power of two, at least 2.
pub(crate) fn padded_len(n: usize) -> usize {
    n.max(2).next_power_of_two()
}

fn observe_multiplicities<C: CanObserve<F>>(ch: &mut C, m: &[u32]) {
    for &v in m {
        ch.observe(F::from_u32(v));
    }
}

/// Proves that every value is below [`RANGE`]. `values` are zero-padded to [`padded_len`]; the
/// caller has bound them (its commitment) to the transcript. Returns the proof and the point `ρ`
/// at which the caller must open the padded vector's multilinear extension. Values out of range
/// give a proof that does not verify.
pub(crate) fn prove<C: FieldChallenger<F>>(values: &[i64], ch: &mut C) -> (RangeProof, Vec<EF>) {
    let n = padded_len(values.len());
    let mut multiplicities = vec![0u32; RANGE];
    for &v in values {
        if let Some(m) = usize::try_from(v).ok().and_then(|v| multiplicities.get_mut(v)) {
            *m += 1;
        }
    }
    multiplicities[0] += (n - values.len()) as u32;
    observe_multiplicities(ch, &multiplicities);
    let alpha: EF = ch.sample_algebra_element();

    // layers[0] = the leaves; every later entry halves the length, up to the two top children.
    let mut q_leaves: Vec<EF> = values.iter().map(|&v| alpha - from_i64(v)).collect();
    q_leaves.resize(n, alpha);
    let mut layers = vec![(vec![EF::ONE; n], q_leaves)];
    while layers.last().is_some_and(|(p, _)| p.len() > 2) {
        let (p, q) = layers.last().expect("nonempty");
        let h = p.len() / 2;
        let next_p = (0..h).map(|i| p[i] * q[h + i] + p[h + i] * q[i]).collect();
        let next_q = (0..h).map(|i| q[i] * q[h + i]).collect();
        layers.push((next_p, next_q));
    }
    let (p, q) = layers.pop().expect("nonempty");
    let top = [p[0], p[1], q[0], q[1]];
    for &v in &top {
        ch.observe_algebra_element(v);
    }
    let mu: EF = ch.sample_algebra_element();
    let mut rho = vec![mu];

    let mut proofs = Vec::new();
    while let Some((p, q)) = layers.pop() {
        let lambda: EF = ch.sample_algebra_element();
        let (proof, s) = prove_layer(&p, &q, &rho, lambda, ch);
        for &v in &proof.evals {
            ch.observe_algebra_element(v);
        }
        let mu: EF = ch.sample_algebra_element();
        rho = std::iter::once(mu).chain(s).collect();
        proofs.push(proof);
    }
    (RangeProof { multiplicities, top, layers: proofs }, rho)
}

/// Sumcheck of `Σ_x eq(ρ, x)·(λ·(p₀q₁ + p₁q₀) + q₀q₁)(x)` over the layer below, whose halves (by
/// its top variable) are `p₀, p₁, q₀, q₁`.
fn prove_layer<C: FieldChallenger<F>>(
    p: &[EF],
    q: &[EF],
    rho: &[EF],
    lambda: EF,
    ch: &mut C,
) -> (LayerProof, Vec<EF>) {
    let h = p.len() / 2;
    let mut v = [eq_table(rho), p[..h].to_vec(), p[h..].to_vec(), q[..h].to_vec(), q[h..].to_vec()];
    let mut rounds = Vec::with_capacity(rho.len());
    let mut point = Vec::with_capacity(rho.len());
    let term = |e: EF, p0: EF, p1: EF, q0: EF, q1: EF| e * (lambda * (p0 * q1 + p1 * q0) + q0 * q1);
    while v[0].len() > 1 {
        let half = v[0].len() / 2;
        let mut g = [EF::ZERO; 3];
        for i in 0..half {
            let lo = v.each_ref().map(|x| x[i]);
            let d = v.each_ref().map(|x| x[half + i] - x[i]);
            g[0] += term(lo[0], lo[1], lo[2], lo[3], lo[4]);
            let at = |t: EF| -> [EF; 5] { std::array::from_fn(|k| lo[k] + t * d[k]) };
            let a2 = at(EF::TWO);
            g[1] += term(a2[0], a2[1], a2[2], a2[3], a2[4]);
            let a3 = at(EF::from_u8(3));
            g[2] += term(a3[0], a3[1], a3[2], a3[3], a3[4]);
        }
        for &x in &g {
            ch.observe_algebra_element(x);
        }
        let r: EF = ch.sample_algebra_element();
        for x in &mut v {
            let (lo, hi) = x.split_at(half);
            *x = lo.iter().zip(hi).map(|(&a, &b)| a + r * (b - a)).collect();
        }
        rounds.push(g);
        point.push(r);
    }
    (LayerProof { rounds, evals: [v[1][0], v[2][0], v[3][0], v[4][0]] }, point)
}

/// `g(r)` for the cubic through `(0, g0), (1, g1), (2, g2), (3, g3)`.
fn interpolate_cubic(g: [EF; 4], r: EF) -> EF {
    let six_inv = EF::from_u8(6).inverse();
    let two_inv = EF::TWO.inverse();
    let (r1, r2, r3) = (r - EF::ONE, r - EF::TWO, r - EF::from_u8(3));
    let l0 = -(r1 * r2 * r3) * six_inv;
    let l1 = r * r2 * r3 * two_inv;
    let l2 = -(r * r1 * r3) * two_inv;
    let l3 = r * r1 * r2 * six_inv;
    g[0] * l0 + g[1] * l1 + g[2] * l2 + g[3] * l3
}

/// Verifies a range check over a vector of `len` values (zero-padded to [`padded_len`]) that the
/// caller bound to the transcript. Returns `(ρ, v)`: the check holds if the padded vector's
/// multilinear extension at `ρ` is `v`, which the caller must establish through its commitment.
pub(crate) fn verify<C: FieldChallenger<F>>(
    proof: &RangeProof,
    len: usize,
    ch: &mut C,
) -> Result<(Vec<EF>, EF), RangeError> {
    let log_n = log2_ceil(padded_len(len));
    if proof.multiplicities.len() != RANGE || proof.layers.len() != log_n - 1 {
        return Err(RangeError::Shape);
    }
    if proof.layers.iter().enumerate().any(|(j, l)| l.rounds.len() != j + 1) {
        return Err(RangeError::Shape);
    }
    observe_multiplicities(ch, &proof.multiplicities);
    let alpha: EF = ch.sample_algebra_element();
    // Σ_t m_t/(α − t): α is outside the base field with overwhelming probability; a zero
    // denominator only rejects.
    let mut table_sum = EF::ZERO;
    for (t, &m) in proof.multiplicities.iter().enumerate() {
        let d = alpha - F::from_usize(t);
        if d == EF::ZERO {
            return Err(RangeError::Sum);
        }
        table_sum += d.inverse() * F::from_u32(m);
    }
    let [p0, p1, q0, q1] = proof.top;
    let (root_p, root_q) = (p0 * q1 + p1 * q0, q0 * q1);
    if root_q == EF::ZERO || root_p != table_sum * root_q {
        return Err(RangeError::Sum);
    }
    for &v in &proof.top {
        ch.observe_algebra_element(v);
    }
    let mu: EF = ch.sample_algebra_element();
    let mut rho = vec![mu];
    let mut claim_p = p0 + mu * (p1 - p0);
    let mut claim_q = q0 + mu * (q1 - q0);
    for (j, layer) in proof.layers.iter().enumerate() {
        let lambda: EF = ch.sample_algebra_element();
        let mut claim = lambda * claim_p + claim_q;
        let mut s = Vec::with_capacity(layer.rounds.len());
        for &[g0, g2, g3] in &layer.rounds {
            for x in [g0, g2, g3] {
                ch.observe_algebra_element(x);
            }
            let r: EF = ch.sample_algebra_element();
            claim = interpolate_cubic([g0, claim - g0, g2, g3], r);
            s.push(r);
        }
        let [p0, p1, q0, q1] = layer.evals;
        let eq: EF =
            rho.iter().zip(&s).map(|(&a, &b)| a * b + (EF::ONE - a) * (EF::ONE - b)).product();
        if claim != eq * (lambda * (p0 * q1 + p1 * q0) + q0 * q1) {
            return Err(RangeError::Layer(j));
        }
        for &v in &layer.evals {
            ch.observe_algebra_element(v);
        }
        let mu: EF = ch.sample_algebra_element();
        claim_p = p0 + mu * (p1 - p0);
        claim_q = q0 + mu * (q1 - q0);
        rho = std::iter::once(mu).chain(s).collect();
    }
    // The leaves' numerators are all 1, so their extension is 1 everywhere.
    if claim_p != EF::ONE {
        return Err(RangeError::Layer(log_n - 1));
    }
    Ok((rho, alpha - claim_q))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::eval_mle;
    use crate::pcs;

    fn values(seed: u32, n: usize) -> Vec<i64> {
        (0..n as u32).map(|i| i64::from((i.wrapping_mul(2_654_435_761) ^ seed) % 256)).collect()
    }

    /// Binds the values to the transcript as a commitment would, then proves.
    fn prove_bound(values: &[i64]) -> (RangeProof, Vec<EF>) {
        let mut ch = pcs::challenger();
        ch.observe_slice(&values.iter().map(|&v| from_i64(v)).collect::<Vec<_>>());
        prove(values, &mut ch)
    }

    /// Verifies and checks the final claim against the values themselves (what an opening proves).
    fn check(values: &[i64], proof: &RangeProof) -> Result<(), RangeError> {
        let mut ch = pcs::challenger();
        ch.observe_slice(&values.iter().map(|&v| from_i64(v)).collect::<Vec<_>>());
        let (rho, v) = verify(proof, values.len(), &mut ch)?;
        let mut padded: Vec<F> = values.iter().map(|&v| from_i64(v)).collect();
        padded.resize(padded_len(values.len()), F::ZERO);
        if eval_mle(&padded, &rho) == v { Ok(()) } else { Err(RangeError::Layer(usize::MAX)) }
    }

    #[test]
    fn bytes_pass_for_every_length() {
        for n in [1, 2, 3, 4, 7, 64, 100, 1000, 4096] {
            let v = values(n as u32, n);
            let (proof, rho) = prove_bound(&v);
            assert_eq!(rho.len(), log2_ceil(padded_len(n)));
            check(&v, &proof).unwrap_or_else(|e| panic!("length {n}: {e:?}"));
        }
        let all: Vec<i64> = (0..256).collect();
        check(&all, &prove_bound(&all).0).unwrap();
    }

    #[test]
    fn a_value_out_of_range_fails() {
        for bad in [256, 300, 1 << 20, -1, -256, i64::from(u32::MAX)] {
            let mut v = values(9, 100);
            v[37] = bad;
            let (proof, _) = prove_bound(&v);
            assert_eq!(check(&v, &proof), Err(RangeError::Sum), "value {bad}");
            // Counting the bad value as some byte does not help either.
            let mut forged = proof.clone();
            forged.multiplicities[bad.rem_euclid(256) as usize] += 1;
            assert!(check(&v, &forged).is_err(), "value {bad}");
        }
    }

    #[test]
    fn changed_values_and_messages_fail() {
        let v = values(3, 200);
        let (proof, _) = prove_bound(&v);
        check(&v, &proof).unwrap();
        // The same proof against other (still in-range) values: the final opening disagrees.
        let mut w = v.clone();
        w[10] = (w[10] + 1) % 256;
        assert!(check(&w, &proof).is_err());
        let mut p = proof.clone();
        p.top[2] += EF::ONE;
        assert!(check(&v, &p).is_err());
        for j in 0..p.layers.len() {
            let mut p = proof.clone();
            p.layers[j].rounds[0][1] += EF::ONE;
            assert!(check(&v, &p).is_err(), "layer {j} round");
            let mut p = proof.clone();
            p.layers[j].evals[3] += EF::ONE;
            assert!(check(&v, &p).is_err(), "layer {j} evals");
        }
        let mut p = proof.clone();
        p.layers.pop();
        assert_eq!(check(&v, &p), Err(RangeError::Shape));
    }
}
