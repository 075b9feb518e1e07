//! Emissions: a finite incentive pool that decays exponentially, or an inflation curve.
//!
//! Decaying pool (default 100,000,000 OPG, half-life 15 years): each block keeps the fraction
//! `k = 2^(−1/N)` of what remains (`N` = half-life in blocks), so `n` blocks release
//! `remaining − floor(remaining · k^n)`. `k` is a 36-digit fixed-point integer computed once from `N`
//! ([`crate::math::decay_rate`]); `k^n` is square-and-multiply with floor rounding. The pool can never
//! release more than it holds, and `pool(t) ≈ P · 2^(−t/N)`, i.e. `r(t) = λ·P·e^(−λt)` with `λ = ln 2 / N`.
//!
//! Inflation curve: `rate = max − (max − min) · bonded/target` (never below `min`), yearly, on the total
//! supply; `n` blocks mint `floor(supply · rate · n / (10^6 · blocks_per_year))`.

use crate::{
    Ledger, LedgerError,
    math::{DECAY_SCALE, PPM, mul_div, pow_scaled},
    params::EmissionSchedule,
};

impl Ledger {
    /// Emission for `blocks` blocks from now: `(amount, minted)`.
    pub(crate) fn emission_for(&self, blocks: u64) -> Result<(u128, bool), LedgerError> {
        if blocks == 0 {
            return Ok((0, false));
        }
        match self.params.emission {
            EmissionSchedule::DecayingPool { .. } => {
                let remaining = self.pools.incentive;
                let keep = pow_scaled(DECAY_SCALE - self.decay_rate, blocks);
                let left = mul_div(remaining, keep, DECAY_SCALE).unwrap_or(0);
                Ok((remaining - left.min(remaining), false))
            }
            EmissionSchedule::InflationCurve { .. } => {
                let supply = self.supply.total();
                let rate = u128::from(self.inflation_rate_ppm());
                let per_year = mul_div(supply, rate, u128::from(PPM))
                    .ok_or(LedgerError::Overflow("inflation"))?;
                let amount =
                    mul_div(per_year, u128::from(blocks), u128::from(self.params.blocks_per_year))
                        .ok_or(LedgerError::Overflow("inflation"))?;
                supply.checked_add(amount).ok_or(LedgerError::Overflow("total supply"))?;
                Ok((amount, true))
            }
        }
    }

    /// Current yearly inflation rate in parts per million (0 under the decaying pool).
    pub fn inflation_rate_ppm(&self) -> u64 {
        let EmissionSchedule::InflationCurve { max_ppm, min_ppm, target_bonded_ppm } =
            self.params.emission
        else {
            return 0;
        };
        let supply = self.supply.total();
        let bonded_ppm = if supply == 0 {
            0
        } else {
            mul_div(self.total_bonded(), u128::from(PPM), supply).unwrap_or(0).min(u128::from(PPM))
                as u64
        };
        if bonded_ppm >= target_bonded_ppm {
            return min_ppm;
        }
        let drop = mul_div(
            u128::from(max_ppm - min_ppm),
            u128::from(bonded_ppm),
            u128::from(target_bonded_ppm),
        )
        .unwrap_or(0) as u64;
        max_ppm - drop
    }

    /// What the next `blocks` blocks would emit, without emitting it (for yield and runway queries).
    pub fn projected_emission(&self, blocks: u64) -> u128 {
        self.emission_for(blocks).map_or(0, |(a, _)| a)
    }

    /// Blocks until the incentive pool falls to `fraction_ppm` of its current size at the current decay rate
    /// (the pool's "runway"); `None` under the inflation curve or when the pool is empty.
    pub fn incentive_runway_blocks(&self, fraction_ppm: u64) -> Option<u64> {
        if !matches!(self.params.emission, EmissionSchedule::DecayingPool { .. })
            || self.pools.incentive == 0
        {
            return None;
        }
        let target = mul_div(DECAY_SCALE, u128::from(fraction_ppm), u128::from(PPM))?;
        let keep = DECAY_SCALE - self.decay_rate;
        // Binary search over n for keep^n ≤ target (monotone in n).
        let (mut lo, mut hi) = (0u64, 1u64);
        while pow_scaled(keep, hi) > target {
            lo = hi;
            hi = hi.checked_mul(2)?;
        }
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            if pow_scaled(keep, mid) > target { lo = mid } else { hi = mid }
        }
        Some(hi)
    }
}
