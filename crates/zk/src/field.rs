//! Field types and multilinear helpers (variables in most-significant-bit-first order, as in
//! `p3_multilinear_util::point::Point`: coordinate 0 selects the top half of the table).

use p3_field::extension::BinomialExtensionField;
use p3_field::{ExtensionField, Field, PrimeCharacteristicRing};
use p3_goldilocks::Goldilocks;

/// Base field: Goldilocks, p = 2^64 − 2^32 + 1.
pub(crate) type F = Goldilocks;
/// Challenge field: the degree-2 extension of Goldilocks (≈ 2^128 elements).
pub(crate) type EF = BinomialExtensionField<Goldilocks, 2>;

/// Embeds a signed integer (|v| < p/2) into the base field.
pub(crate) fn from_i64(v: i64) -> F {
    if v >= 0 { F::from_u64(v as u64) } else { -F::from_u64(v.unsigned_abs()) }
}

/// `log2` of the next power of two ≥ `n` (at least 0).
pub(crate) fn log2_ceil(n: usize) -> usize {
    n.max(1).next_power_of_two().trailing_zeros() as usize
}

/// The table `eq(r, b)` over all `b ∈ {0,1}^n`, indexed MSB-first.
pub(crate) fn eq_table<E: Field>(r: &[E]) -> Vec<E> {
    let mut t = Vec::with_capacity(1 << r.len());
    t.push(E::ONE);
    for &ri in r {
        let mut next = Vec::with_capacity(t.len() * 2);
        for &v in &t {
            let hi = v * ri;
            next.push(v - hi);
            next.push(hi);
        }
        t = next;
    }
    t
}

/// Evaluates the multilinear extension of `values` (zero-padded to `2^point.len()`) at `point`.
pub(crate) fn eval_mle<B: Field, E: ExtensionField<B>>(values: &[B], point: &[E]) -> E {
    let eq = eq_table(point);
    values.iter().zip(&eq).map(|(&v, &e)| e * v).sum()
}
