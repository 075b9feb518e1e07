//! The priced guarantee quoted for each job: the mode, the sampling probability or replica count, the bond
//! locked, the probability that a cheat on this job is caught, and the price.
//!
//! # Formulas (amounts in wei, probabilities in parts per million, rounded against the cheater)
//! A cheating operator gains at most the job's declared value `V` when a wrong result goes unnoticed and
//! loses at least the bond `B` locked for the job when it is caught (the ledger slashes
//! `max(wrong-inference fraction, B / slashable stake)` of its stake, so never less than `B`).
//! - **SAMPLING**: caught with probability `p` (an honest verifier re-executes). Cheating loses money in
//!   expectation, with margin `γ`, when `p·B ≥ (1+γ)·V·(1−p)`, i.e.
//!   `p ≥ p* = (1+γ)·V / (B + (1+γ)·V)`. The quote is `p = max(floor, ⌈p*⌉)`, and `catch = p`.
//! - **REPLICAS k**: a wrong result is accepted only when all `k−1` other replicas return the same wrong
//!   result. With at most a share `f` of free bond controlled by colluders (assignment is by free bond),
//!   `catch = 1 − f^(k−1)` (`f` = [`GuaranteeParams::adversarial_share_ppm`], default ⅓).
//! - **VANILLA**: nothing re-executes up front: `catch = 0`; the bond stays locked through the challenge
//!   window for anyone who re-executes on their own.
//!
//! Price: `base price × executions`, with executions `1` (VANILLA), `1 + p` (SAMPLING, rounded up to the
//! wei) and `k` (REPLICAS).

use alloy::primitives::U256;
use serde::{Deserialize, Serialize};

use crate::mode::Mode;

const PPM: u64 = 1_000_000;

/// Parameters of the quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuaranteeParams {
    /// Safety margin γ, parts per million (default 0.1).
    pub gamma_ppm: u64,
    /// Share of free bond assumed held by colluders, parts per million (default ⅓).
    pub adversarial_share_ppm: u64,
    /// Price of one execution, wei.
    pub base_price: u128,
}

impl Default for GuaranteeParams {
    fn default() -> Self {
        Self { gamma_ppm: 100_000, adversarial_share_ppm: 333_333, base_price: 10u128.pow(15) }
    }
}

/// What a receipt promises about one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guarantee {
    /// The mode byte.
    pub mode: u8,
    /// Sampling probability, parts per million (SAMPLING; 0 otherwise).
    pub sampling_ppm: u64,
    /// Operators executing up front.
    pub replicas: u8,
    /// Declared job value, wei.
    #[serde(with = "crate::decimal")]
    pub value: u128,
    /// Bond locked per executing operator, wei.
    #[serde(with = "crate::decimal")]
    pub bond_locked: u128,
    /// Probability that a wrong result on this job is caught, parts per million.
    pub catch_ppm: u64,
    /// γ used, parts per million.
    pub gamma_ppm: u64,
    /// f used for REPLICAS, parts per million.
    pub adversarial_share_ppm: u64,
    /// Price of one execution the quote used, wei.
    #[serde(with = "crate::decimal")]
    pub base_price: u128,
    /// Price, wei.
    #[serde(with = "crate::decimal")]
    pub price: u128,
}

/// Why no guarantee can be quoted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    /// ZKML and TEE are not served.
    #[error("mode {0} cannot be quoted")]
    Unserved(Mode),
    /// Amounts out of range.
    #[error("amounts too large to quote")]
    Overflow,
}

fn ceil_div(a: U256, b: U256) -> U256 {
    if b.is_zero() { U256::MAX } else { a.div_ceil(b) }
}

/// The smallest `p` (ppm, rounded up) with `p·B ≥ (1+γ)·V·(1−p)`.
pub fn min_sampling_ppm(value: u128, bond: u128, gamma_ppm: u64) -> u64 {
    let v = U256::from(value) * U256::from(PPM + gamma_ppm);
    let denominator = U256::from(bond) * U256::from(PPM) + v;
    if v.is_zero() {
        return 0;
    }
    let p = ceil_div(v * U256::from(PPM), denominator);
    p.min(U256::from(PPM)).to::<u64>()
}

/// `1 − f^(k−1)` in ppm, each power rounded up (so the catch probability is rounded down).
pub fn replica_catch_ppm(k: u8, adversarial_share_ppm: u64) -> u64 {
    let f = adversarial_share_ppm.min(PPM);
    let mut all_collude = PPM; // f^0
    for _ in 1..k {
        all_collude = (u128::from(all_collude) * u128::from(f)).div_ceil(u128::from(PPM)) as u64;
    }
    PPM - all_collude
}

/// The guarantee for a job of `value` in `mode` with `bond_locked` per operator.
pub fn quote(
    mode: Mode,
    value: u128,
    bond_locked: u128,
    params: &GuaranteeParams,
) -> Result<Guarantee, QuoteError> {
    let base = Guarantee {
        mode: mode.to_byte(),
        sampling_ppm: 0,
        replicas: 1,
        value,
        bond_locked,
        catch_ppm: 0,
        gamma_ppm: params.gamma_ppm,
        adversarial_share_ppm: params.adversarial_share_ppm,
        base_price: params.base_price,
        price: params.base_price,
    };
    Ok(match mode {
        Mode::Vanilla => base,
        Mode::Sampling { floor_ppm } => {
            let p = min_sampling_ppm(value, bond_locked, params.gamma_ppm).max(floor_ppm).min(PPM);
            let price = U256::from(params.base_price) * U256::from(PPM + p);
            let price = ceil_div(price, U256::from(PPM));
            Guarantee {
                sampling_ppm: p,
                catch_ppm: p,
                price: u128::try_from(price).map_err(|_| QuoteError::Overflow)?,
                ..base
            }
        }
        Mode::Replicas { k } => Guarantee {
            replicas: k,
            catch_ppm: replica_catch_ppm(k, params.adversarial_share_ppm),
            price: params.base_price.checked_mul(u128::from(k)).ok_or(QuoteError::Overflow)?,
            ..base
        },
        Mode::Zkml | Mode::Tee => return Err(QuoteError::Unserved(mode)),
    })
}

impl Guarantee {
    /// The parameters this guarantee was quoted with.
    pub fn params(&self) -> GuaranteeParams {
        GuaranteeParams {
            gamma_ppm: self.gamma_ppm,
            adversarial_share_ppm: self.adversarial_share_ppm,
            base_price: self.base_price,
        }
    }

    /// Whether a cheater expects to lose on this job: `catch·B ≥ (1+γ)·V·(1−catch)` (all in ppm).
    pub fn deters(&self) -> bool {
        let caught = U256::from(self.catch_ppm) * U256::from(self.bond_locked) * U256::from(PPM);
        let gained = U256::from(PPM - self.catch_ppm.min(PPM))
            * U256::from(self.value)
            * U256::from(PPM + self.gamma_ppm);
        caught >= gained
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPG: u128 = 10u128.pow(18);

    #[test]
    fn sampling_probability_meets_the_inequality_and_is_the_smallest() {
        for (v, b) in
            [(1, 10), (OPG, 100 * OPG), (50 * OPG, 100 * OPG), (OPG, OPG / 3), (7, 1_000_003)]
        {
            let p = min_sampling_ppm(v, b, 100_000);
            let lhs = |p: u64| U256::from(p) * U256::from(b) * U256::from(PPM);
            let rhs = |p: u64| U256::from(PPM - p) * U256::from(v) * U256::from(1_100_000u64);
            assert!(lhs(p) >= rhs(p), "v={v} b={b} p={p}");
            assert!(p == 0 || lhs(p - 1) < rhs(p - 1), "v={v} b={b}: {p} not minimal");
        }
        // Worked example: V = 1 OPG, B = 100 OPG, γ = 0.1 → p* = 1.1 / 101.1 = 1.088 %, floor 5 %.
        let g = quote(Mode::Sampling { floor_ppm: 50_000 }, OPG, 100 * OPG, &Default::default())
            .unwrap();
        assert_eq!(min_sampling_ppm(OPG, 100 * OPG, 100_000), 10_881);
        assert_eq!(g.sampling_ppm, 50_000);
        assert!(g.deters());
        // A valuable job on a small bond needs a high p.
        let g =
            quote(Mode::Sampling { floor_ppm: 50_000 }, 50 * OPG, 100 * OPG, &Default::default())
                .unwrap();
        assert_eq!(g.sampling_ppm, 354_839);
        assert!(g.deters());
        assert_eq!(g.price, 1_354_839_000_000_000); // 1e15 wei × (1 + p)
    }

    #[test]
    fn replicas_and_vanilla() {
        assert_eq!(replica_catch_ppm(3, 333_333), 888_889);
        assert_eq!(replica_catch_ppm(2, 500_000), 500_000);
        assert_eq!(replica_catch_ppm(1, 500_000), 0);
        let g = quote(Mode::Replicas { k: 3 }, OPG, OPG, &Default::default()).unwrap();
        assert_eq!((g.replicas, g.catch_ppm, g.price), (3, 888_889, 3 * 10u128.pow(15)));
        let g = quote(Mode::Vanilla, OPG, OPG, &Default::default()).unwrap();
        assert_eq!(g.catch_ppm, 0);
        assert!(!g.deters());
        assert!(quote(Mode::Zkml, 1, 1, &Default::default()).is_err());
    }
}
