//! Exact integer arithmetic: base units, parts-per-million rates and 256-bit intermediate products.
//!
//! Every division in the ledger rounds toward zero (floor) unless a function says `ceil`; the rounding
//! direction is chosen at each call site so that the ledger never pays out more than it holds. No floats.

/// Base units in one OPG (18 decimals).
pub const OPG: u128 = 1_000_000_000_000_000_000;

/// A rate of one million parts per million is 100 %.
pub const PPM: u64 = 1_000_000;

/// Fixed-point scale of the F1 cumulative reward-per-share ratios.
pub(crate) const RATIO_SCALE: u128 = 1_000_000_000_000_000_000;

/// Fixed-point scale of the per-block emission decay factor (`1.0` is `10^36`).
pub const DECAY_SCALE: u128 = 1_000_000_000_000_000_000_000_000_000_000_000_000;

/// `ln 2 × 10^36`, rounded down.
const LN2_E36: u128 = 693_147_180_559_945_309_417_232_121_458_176_568;

/// The 256-bit product `a × b` as `(high, low)` 128-bit halves.
pub(crate) fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    const MASK: u128 = u64::MAX as u128;
    let (a1, a0) = (a >> 64, a & MASK);
    let (b1, b0) = (b >> 64, b & MASK);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 64) + (p01 & MASK) + (p10 & MASK);
    let lo = (p00 & MASK) | (mid << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    (hi, lo)
}

/// `(hi·2^128 + lo) / d` and its remainder, or `None` when `d` is zero or the quotient needs more than 128 bits.
///
/// Schoolbook division in 64-bit digits (Knuth's algorithm D): two native divisions when `d` fits 64 bits,
/// otherwise two 3-by-2 digit steps against the normalised divisor.
pub(crate) fn div_rem_wide(hi: u128, lo: u128, d: u128) -> Option<(u128, u128)> {
    const MASK: u128 = u64::MAX as u128;
    if d == 0 || hi >= d {
        return None;
    }
    // Each remainder is taken from its quotient (one multiplication) rather than by a second division.
    if hi == 0 {
        let q = lo / d;
        return Some((q, lo - q * d));
    }
    if d <= MASK {
        // hi < d < 2^64: each step divides a number below d·2^64 by d, so every quotient digit fits 64 bits.
        let n1 = (hi << 64) | (lo >> 64);
        let q1 = n1 / d;
        let r1 = n1 - q1 * d;
        let n0 = (r1 << 64) | (lo & MASK);
        let q0 = n0 / d;
        let r0 = n0 - q0 * d;
        return Some(((q1 << 64) | q0, r0));
    }
    // Normalise so the divisor's top bit is set; the dividend's top half stays below the divisor.
    let s = d.leading_zeros();
    let d = d << s;
    let (hi, lo) = if s == 0 { (hi, lo) } else { ((hi << s) | (lo >> (128 - s)), lo << s) };
    let (q1, r) = div_3by2(hi, (lo >> 64) as u64, d);
    let (q0, r) = div_3by2(r, lo as u64, d);
    Some(((u128::from(q1) << 64) | u128::from(q0), r >> s))
}

/// `(top·2^64 + low) / d` for a normalised `d` (top bit set) and `top < d`: the quotient digit (it fits 64
/// bits) and the remainder.
fn div_3by2(top: u128, low: u64, d: u128) -> (u64, u128) {
    const B: u128 = 1 << 64;
    let (d1, d0) = (d >> 64, d & (B - 1));
    let n2 = top >> 64;
    let (mut q, mut r) = if n2 == d1 {
        // top < d means the estimate top / d1 would be 2^64 or 2^64 − 1: start from the largest digit.
        (B - 1, top - (B - 1) * d1)
    } else {
        let q = top / d1;
        (q, top - q * d1)
    };
    // The estimate is at most two too large; testing against the full divisor makes the digit exact.
    while r < B && q * d0 > ((r << 64) | u128::from(low)) {
        q -= 1;
        r += d1;
    }
    // The true remainder is below d < 2^128, so the low 128 bits of the difference are all of it.
    let rem = ((top << 64) | u128::from(low)).wrapping_sub(q.wrapping_mul(d));
    (q as u64, rem)
}

/// `floor(a × b / d)`, exact for any inputs whose result fits 128 bits.
pub fn mul_div(a: u128, b: u128, d: u128) -> Option<u128> {
    // `a·d/d = a`: the common case of a staker never slashed (tokens = shares), without a wide division.
    if b == d && d != 0 {
        return Some(a);
    }
    if let Some(p) = a.checked_mul(b) {
        return p.checked_div(d);
    }
    let (hi, lo) = mul_wide(a, b);
    div_rem_wide(hi, lo, d).map(|(q, _)| q)
}

/// `ceil(a × b / d)`, exact for any inputs whose result fits 128 bits.
pub fn mul_div_ceil(a: u128, b: u128, d: u128) -> Option<u128> {
    if b == d && d != 0 {
        return Some(a);
    }
    let (hi, lo) = mul_wide(a, b);
    let (q, r) = div_rem_wide(hi, lo, d)?;
    if r == 0 { Some(q) } else { q.checked_add(1) }
}

/// `floor(amount × rate_ppm / 10^6)`.
pub fn ppm_of(amount: u128, rate_ppm: u64) -> u128 {
    // rate ≤ 10^6 in every caller, so the result never exceeds `amount` and always fits.
    mul_div(amount, u128::from(rate_ppm), u128::from(PPM)).unwrap_or(amount)
}

/// The fraction of a pool that one block releases when the pool halves every `half_life_blocks` blocks:
/// `1 − 2^(−1/half_life_blocks)`, scaled by [`DECAY_SCALE`] and rounded down.
///
/// Computed with the alternating series `1 − e^{−x} = x − x²/2! + x³/3! − …` at `x = ln 2 / N` in 36-digit
/// fixed point; every term is an integer operation, so the factor is the same on every machine.
pub fn decay_rate(half_life_blocks: u64) -> u128 {
    assert!(half_life_blocks > 0, "half-life must be positive");
    let x = LN2_E36 / u128::from(half_life_blocks);
    let (mut pos, mut neg) = (0u128, 0u128);
    let mut term = x;
    let mut k: u128 = 1;
    while term > 0 {
        if k % 2 == 1 {
            pos += term;
        } else {
            neg += term;
        }
        k += 1;
        term = mul_div(term, x, DECAY_SCALE * k).unwrap_or(0);
    }
    pos - neg
}

/// `factor^n` in [`DECAY_SCALE`] fixed point (square and multiply, each product rounded down).
pub fn pow_scaled(factor: u128, mut n: u64) -> u128 {
    let mut result = DECAY_SCALE;
    let mut base = factor;
    while n > 0 {
        if n & 1 == 1 {
            result = mul_div(result, base, DECAY_SCALE).unwrap_or(0);
        }
        base = mul_div(base, base, DECAY_SCALE).unwrap_or(0);
        n >>= 1;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wide_product_matches_small_products() {
        assert_eq!(mul_wide(3, 5), (0, 15));
        assert_eq!(mul_wide(u128::MAX, 2), (1, u128::MAX - 1));
        assert_eq!(mul_wide(u128::MAX, u128::MAX), (u128::MAX - 1, 1));
    }

    #[test]
    fn mul_div_handles_products_beyond_128_bits() {
        let big = 100_000_000 * OPG; // 1e26
        assert_eq!(mul_div(big, RATIO_SCALE, RATIO_SCALE), Some(big));
        assert_eq!(mul_div(u128::MAX, u128::MAX, u128::MAX), Some(u128::MAX));
        assert_eq!(mul_div(u128::MAX, 2, 1), None);
        assert_eq!(mul_div(1, 1, 0), None);
        assert_eq!(mul_div_ceil(10, 1, 3), Some(4));
        assert_eq!(mul_div_ceil(9, 1, 3), Some(3));
    }

    #[test]
    fn decay_rate_halves_the_pool_after_one_half_life() {
        // A 15-year half-life at 2-second blocks.
        let n = 236_682_000u64;
        let rate = decay_rate(n);
        let keep = DECAY_SCALE - rate;
        let after = pow_scaled(keep, n);
        let half = DECAY_SCALE / 2;
        let err = after.abs_diff(half);
        assert!(err < DECAY_SCALE / 1_000_000_000_000, "keep^N = {after}, error {err}");
        // Small half-lives are exact to many digits too.
        let keep1 = DECAY_SCALE - decay_rate(1);
        assert_eq!(keep1 / 1_000_000_000_000, half / 1_000_000_000_000);
    }

    /// The bit-by-bit long division the digit version replaced: the reference it must agree with.
    fn div_rem_bitwise(hi: u128, lo: u128, d: u128) -> Option<(u128, u128)> {
        if d == 0 || hi >= d {
            return None;
        }
        let (mut rem, mut quot) = (hi, 0u128);
        for i in (0..128).rev() {
            let overflow = rem >> 127;
            rem = (rem << 1) | ((lo >> i) & 1);
            quot <<= 1;
            if overflow == 1 || rem >= d {
                rem = rem.wrapping_sub(d);
                quot |= 1;
            }
        }
        Some((quot, rem))
    }

    #[test]
    fn div_rem_wide_edge_cases_match_bitwise_division() {
        let ds = [
            1,
            2,
            3,
            1 << 63,
            u64::MAX as u128,
            1 << 64,
            (1 << 64) + 1,
            1 << 127,
            u128::MAX,
            RATIO_SCALE,
        ];
        let xs = [0, 1, u64::MAX as u128, 1 << 64, u128::MAX >> 1, u128::MAX, RATIO_SCALE * 7];
        for &d in &ds {
            for &hi in &xs {
                for &lo in &xs {
                    for hi in [hi, hi % d, d - 1] {
                        assert_eq!(
                            div_rem_wide(hi, lo, d),
                            div_rem_bitwise(hi, lo, d),
                            "{hi} {lo} {d}"
                        );
                    }
                }
            }
        }
    }

    proptest! {
        #[test]
        fn div_rem_wide_matches_bitwise_division(hi in any::<u128>(), lo in any::<u128>(), d in 1..u128::MAX, shift in 0u32..128) {
            let d = (d >> shift).max(1);
            let hi = hi % d;
            prop_assert_eq!(div_rem_wide(hi, lo, d), div_rem_bitwise(hi, lo, d));
        }

        #[test]
        fn mul_div_agrees_with_native_math(a in any::<u64>(), b in any::<u64>(), d in 1..u64::MAX) {
            let (a, b, d) = (u128::from(a), u128::from(b), u128::from(d));
            prop_assert_eq!(mul_div(a, b, d), Some(a * b / d));
            prop_assert_eq!(mul_div_ceil(a, b, d), Some((a * b).div_ceil(d)));
        }

        #[test]
        fn div_rem_wide_reconstructs_the_dividend(a in any::<u128>(), b in any::<u128>(), d in 1..u128::MAX) {
            let (hi, lo) = mul_wide(a, b);
            if let Some((q, r)) = div_rem_wide(hi, lo, d) {
                prop_assert!(r < d);
                let (qh, ql) = mul_wide(q, d);
                let (sum, carry) = ql.overflowing_add(r);
                prop_assert_eq!((qh + u128::from(carry), sum), (hi, lo));
            } else {
                prop_assert!(hi >= d);
            }
        }
    }
}
