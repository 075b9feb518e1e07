//! Parameters: every number the economics depend on, with the defaults and the checks that keep them sane.

use serde::{Deserialize, Serialize};

use crate::{
    error::LedgerError,
    math::{OPG, PPM},
};

/// Blocks per day at the default 2-second block time.
pub const DEFAULT_BLOCKS_PER_DAY: u64 = 43_200;

/// Where emissions come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EmissionSchedule {
    /// A finite incentive pool, created at genesis, that releases a fixed fraction of what is left every block,
    /// so it halves every `half_life_blocks`. Nothing is minted; tokens move from the pool to stakers.
    DecayingPool {
        /// Initial pool at genesis, in base units (default 100,000,000 OPG).
        initial_pool: u128,
        /// Blocks for the remaining pool to halve (default 15 years of blocks).
        half_life_blocks: u64,
    },
    /// New tokens minted on an inflation curve that falls linearly with the bonded ratio:
    /// `rate = max − (max − min) · bonded/target`, never below `min`.
    InflationCurve {
        /// Yearly inflation when nothing is bonded, parts per million.
        max_ppm: u64,
        /// Yearly inflation at or above the target bonded ratio, parts per million.
        min_ppm: u64,
        /// Bonded share of supply at which inflation reaches `min_ppm`, parts per million.
        target_bonded_ppm: u64,
    },
}

/// Whether the protocol's cut of inference fees is kept or destroyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProtocolCut {
    /// Credited to the treasury pool.
    Treasury,
    /// Burned (total supply falls).
    Burn,
}

/// How an inference fee is split, parts per million of the fee; the four parts sum to 1,000,000.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeSplit {
    /// To the serving operator's stakers (its commission, then its delegators).
    pub operator_ppm: u64,
    /// Shared equally by the verifiers of the job.
    pub verifiers_ppm: u64,
    /// To validators and their delegators, in proportion to bonded stake, at the end of the block.
    pub validators_ppm: u64,
    /// To the treasury or burned, per [`FeeSplit::protocol_cut`].
    pub protocol_ppm: u64,
    /// What happens to `protocol_ppm`.
    pub protocol_cut: ProtocolCut,
}

/// All ledger parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    /// Blocks in a day; the unit of the commission-change limit.
    pub blocks_per_day: u64,
    /// Blocks in a year; the unit of the inflation curve.
    pub blocks_per_year: u64,
    /// Blocks from an undelegation to its payout (default 21 days).
    pub unbonding_period_blocks: u64,
    /// Most unbonding (and, separately, redelegation) entries one delegator may have per staker at a time.
    pub max_entries: u32,
    /// Minimum self-bond of a validator, base units.
    pub min_self_bond_validator: u128,
    /// Minimum self-bond of an inference operator, base units.
    pub min_self_bond_operator: u128,
    /// Lowest commission a staker may set, parts per million.
    pub min_commission_ppm: u64,
    /// Highest commission a staker may set, parts per million.
    pub max_commission_ppm: u64,
    /// Largest commission change per change, parts per million; at most one change per day.
    pub max_commission_change_ppm: u64,
    /// Emission source.
    pub emission: EmissionSchedule,
    /// Share of each block's emission paid to inference operators (the rest to validators), parts per million.
    pub emission_operator_share_ppm: u64,
    /// Inference fee split.
    pub fee_split: FeeSplit,
    /// Share of transaction base fees burned (the rest goes to validators), parts per million.
    pub base_fee_burn_ppm: u64,
    /// Fraction of the operator's bond slashed for a proven wrong inference, parts per million.
    pub slash_wrong_inference_ppm: u64,
    /// Fraction slashed for double-signing, parts per million; the validator is also tombstoned.
    pub slash_double_sign_ppm: u64,
    /// Fraction slashed for downtime, parts per million.
    pub slash_downtime_ppm: u64,
    /// Blocks a staker stays jailed after a wrong inference.
    pub jail_wrong_inference_blocks: u64,
    /// Blocks a staker stays jailed after downtime.
    pub jail_downtime_blocks: u64,
    /// Share of slashed funds paid to the challenger who proved the fault; the rest is burned.
    pub challenger_reward_ppm: u64,
    /// Oldest infraction that can still be punished, in blocks before the current height.
    /// Must not exceed the unbonding period, or stake could leave before its fault is punished.
    pub max_evidence_age_blocks: u64,
    /// Bond locked per job, as parts per million of the job's declared value.
    pub job_bond_ppm: u64,
    /// Blocks a job's result can be challenged; its bond lock lasts as long.
    pub challenge_window_blocks: u64,
    /// Highest commission of a staker the liquid staking pool delegates to, parts per million.
    pub lst_max_commission_ppm: u64,
}

impl Default for Params {
    fn default() -> Self {
        let day = DEFAULT_BLOCKS_PER_DAY;
        // 365.25 days a year.
        let year = day * 36_525 / 100;
        Params {
            blocks_per_day: day,
            blocks_per_year: year,
            unbonding_period_blocks: 21 * day,
            max_entries: 7,
            min_self_bond_validator: 10_000 * OPG,
            min_self_bond_operator: 1_000 * OPG,
            min_commission_ppm: 50_000,
            max_commission_ppm: 500_000,
            max_commission_change_ppm: 10_000,
            emission: EmissionSchedule::DecayingPool {
                initial_pool: 100_000_000 * OPG,
                half_life_blocks: 15 * year,
            },
            emission_operator_share_ppm: 500_000,
            fee_split: FeeSplit {
                operator_ppm: 700_000,
                verifiers_ppm: 100_000,
                validators_ppm: 150_000,
                protocol_ppm: 50_000,
                protocol_cut: ProtocolCut::Treasury,
            },
            base_fee_burn_ppm: 0,
            slash_wrong_inference_ppm: 100_000,
            slash_double_sign_ppm: 50_000,
            slash_downtime_ppm: 100,
            jail_wrong_inference_blocks: 7 * day,
            jail_downtime_blocks: 300,
            challenger_reward_ppm: 500_000,
            max_evidence_age_blocks: 21 * day,
            job_bond_ppm: PPM,
            challenge_window_blocks: day,
            lst_max_commission_ppm: 100_000,
        }
    }
}

impl Params {
    /// Checks that every rate is at most 100 %, the fee split sums to 100 %, periods are positive and the
    /// evidence age does not exceed the unbonding period.
    pub fn validate(&self) -> Result<(), LedgerError> {
        let bad = |what: &str| Err(LedgerError::InvalidParams(what.to_owned()));
        let rates = [
            ("min_commission_ppm", self.min_commission_ppm),
            ("max_commission_ppm", self.max_commission_ppm),
            ("max_commission_change_ppm", self.max_commission_change_ppm),
            ("emission_operator_share_ppm", self.emission_operator_share_ppm),
            ("base_fee_burn_ppm", self.base_fee_burn_ppm),
            ("slash_wrong_inference_ppm", self.slash_wrong_inference_ppm),
            ("slash_double_sign_ppm", self.slash_double_sign_ppm),
            ("slash_downtime_ppm", self.slash_downtime_ppm),
            ("challenger_reward_ppm", self.challenger_reward_ppm),
            ("lst_max_commission_ppm", self.lst_max_commission_ppm),
        ];
        for (name, rate) in rates {
            if rate > PPM {
                return bad(&format!("{name} = {rate} exceeds 1,000,000 (100 %)"));
            }
        }
        if self.min_commission_ppm > self.max_commission_ppm {
            return bad("min_commission_ppm exceeds max_commission_ppm");
        }
        let f = &self.fee_split;
        let sum = [f.operator_ppm, f.verifiers_ppm, f.validators_ppm, f.protocol_ppm]
            .iter()
            .try_fold(0u64, |a, b| a.checked_add(*b));
        if sum != Some(PPM) {
            return bad("fee_split parts must sum to 1,000,000");
        }
        if self.blocks_per_day == 0
            || self.blocks_per_year == 0
            || self.unbonding_period_blocks == 0
        {
            return bad(
                "blocks_per_day, blocks_per_year and unbonding_period_blocks must be positive",
            );
        }
        if self.max_entries == 0 {
            return bad("max_entries must be positive");
        }
        if self.max_evidence_age_blocks > self.unbonding_period_blocks {
            return bad(
                "max_evidence_age_blocks exceeds unbonding_period_blocks: stake could escape slashing",
            );
        }
        if self.challenge_window_blocks > self.max_evidence_age_blocks {
            return bad("challenge_window_blocks exceeds max_evidence_age_blocks");
        }
        match &self.emission {
            EmissionSchedule::DecayingPool { half_life_blocks, .. } if *half_life_blocks == 0 => {
                return bad("half_life_blocks must be positive");
            }
            EmissionSchedule::InflationCurve { max_ppm, min_ppm, target_bonded_ppm } => {
                if min_ppm > max_ppm
                    || *max_ppm > PPM
                    || *target_bonded_ppm == 0
                    || *target_bonded_ppm > PPM
                {
                    return bad(
                        "inflation curve needs min ≤ max ≤ 1,000,000 and 0 < target ≤ 1,000,000",
                    );
                }
            }
            EmissionSchedule::DecayingPool { .. } => {}
        }
        Ok(())
    }

    /// The self-bond minimum of a role.
    pub fn min_self_bond(&self, role: crate::staking::Role) -> u128 {
        match role {
            crate::staking::Role::Validator => self.min_self_bond_validator,
            crate::staking::Role::Operator => self.min_self_bond_operator,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        Params::default().validate().unwrap();
        let mut p = Params::default();
        p.fee_split.protocol_ppm += 1;
        assert!(p.validate().unwrap_err().to_string().contains("fee_split"));
        let d = Params::default();
        let p = Params { max_evidence_age_blocks: d.unbonding_period_blocks + 1, ..d };
        assert!(p.validate().unwrap_err().to_string().contains("escape"));
        let p = Params { slash_double_sign_ppm: PPM + 1, ..Params::default() };
        assert!(p.validate().unwrap_err().to_string().contains("slash_double_sign_ppm"));
    }
}
