//! The product sumcheck: proves `c = Σ_{b∈{0,1}^n} f(b)·g(b)` for multilinear `f`, `g`.
//!
//! Round `k` sends the degree-2 round polynomial `h_k` as `(h_k(0), h_k(2))`; the verifier derives
//! `h_k(1) = c_k − h_k(0)`, absorbs the pair, draws `r_k` and sets `c_{k+1} = h_k(r_k)`. After `n`
//! rounds the claim is `c_n = f(r)·g(r)` at the point `r = (r_1, …, r_n)` (MSB-first).

use p3_challenger::FieldChallenger;
use p3_field::{Field, PrimeCharacteristicRing};
use serde::{Deserialize, Serialize};

use crate::field::{EF, F};

/// Round messages of one product sumcheck.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SumcheckProof {
    /// `(h_k(0), h_k(2))` per round.
    pub(crate) rounds: Vec<[EF; 2]>,
}

/// Proves `Σ f·g`; returns the proof and the point. `f` and `g` have the same power-of-two length.
pub(crate) fn prove<C: FieldChallenger<F>>(
    mut f: Vec<EF>,
    mut g: Vec<EF>,
    challenger: &mut C,
) -> (SumcheckProof, Vec<EF>) {
    debug_assert_eq!(f.len(), g.len());
    debug_assert!(f.len().is_power_of_two());
    let mut rounds = Vec::new();
    let mut point = Vec::new();
    while f.len() > 1 {
        let half = f.len() / 2;
        let (f_lo, f_hi) = f.split_at(half);
        let (g_lo, g_hi) = g.split_at(half);
        let mut h0 = EF::ZERO;
        let mut h2 = EF::ZERO;
        for i in 0..half {
            h0 += f_lo[i] * g_lo[i];
            let f2 = f_hi[i].double() - f_lo[i];
            let g2 = g_hi[i].double() - g_lo[i];
            h2 += f2 * g2;
        }
        challenger.observe_algebra_element(h0);
        challenger.observe_algebra_element(h2);
        let r: EF = challenger.sample_algebra_element();
        let fold = |v: &[EF]| -> Vec<EF> {
            let (lo, hi) = v.split_at(half);
            lo.iter().zip(hi).map(|(&a, &b)| a + r * (b - a)).collect()
        };
        f = fold(&f);
        g = fold(&g);
        rounds.push([h0, h2]);
        point.push(r);
    }
    (SumcheckProof { rounds }, point)
}

/// Replays the rounds against `claim`; returns the final claim and the point, or the failing round.
/// The number of rounds must have been checked by the caller.
pub(crate) fn verify<C: FieldChallenger<F>>(
    proof: &SumcheckProof,
    mut claim: EF,
    challenger: &mut C,
) -> (EF, Vec<EF>) {
    let mut point = Vec::with_capacity(proof.rounds.len());
    let two_inv = EF::TWO.inverse();
    for &[h0, h2] in &proof.rounds {
        let h1 = claim - h0;
        challenger.observe_algebra_element(h0);
        challenger.observe_algebra_element(h2);
        let r: EF = challenger.sample_algebra_element();
        // Lagrange interpolation through (0,h0), (1,h1), (2,h2).
        let l0 = (r - EF::ONE) * (r - EF::TWO) * two_inv;
        let l1 = -(r * (r - EF::TWO));
        let l2 = r * (r - EF::ONE) * two_inv;
        claim = h0 * l0 + h1 * l1 + h2 * l2;
        point.push(r);
    }
    (claim, point)
}
