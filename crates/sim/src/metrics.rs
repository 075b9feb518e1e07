//! Per-step metrics (one [`Row`] a day) and the concentration measures.
//!
//! Column names are stable: they are the CSV header, the JSON keys and the chart labels.

use serde::{Deserialize, Serialize};

macro_rules! row {
    ($($(#[doc = $doc:literal])* $name:ident),* $(,)?) => {
        /// Everything measured at the end of one day. Yields are per year; `_usd` values are per day unless
        /// the name ends in `_cum` (cumulative since day 0).
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct Row {
            $($(#[doc = $doc])* pub $name: f64,)*
        }

        impl Row {
            /// Column names, in CSV order.
            pub const COLUMNS: &'static [&'static str] = &[$(stringify!($name)),*];

            /// Values, in [`Row::COLUMNS`] order.
            pub fn values(&self) -> Vec<f64> {
                vec![$(self.$name),*]
            }

            /// Values, in [`Row::COLUMNS`] order, without allocating.
            pub(crate) fn array(&self) -> [f64; Row::COLUMNS.len()] {
                [$(self.$name),*]
            }

            /// A column's value by name.
            pub fn get(&self, column: &str) -> Option<f64> {
                match column {
                    $(stringify!($name) => Some(self.$name),)*
                    _ => None,
                }
            }
        }
    };
}

row! {
    /// Day (0-based); one ledger block per day.
    day,
    /// OPG price (USD).
    price_usd,
    /// Jobs demanded.
    demand_jobs,
    /// Jobs served (M10).
    served_jobs,
    /// Jobs the active, online operators could serve (M10).
    capacity_jobs,
    /// Served ÷ demanded (M10).
    served_share,
    /// Fee per job (USD).
    fee_usd_per_job,
    /// Inference and transaction fees paid (USD).
    fees_usd,
    /// Fees allocated to stakers (commission and delegators), OPG.
    fees_to_stake_opg,
    /// Emissions allocated to stakers, OPG.
    emissions_opg,
    /// Nominal yield: (fees to stake + emissions) ÷ stake, per year (M1).
    nominal_yield,
    /// Real yield: fees to stake ÷ stake, per year (M1).
    real_yield,
    /// Subsidy ratio: emissions ÷ (fees to stake + emissions) (M1).
    subsidy_ratio,
    /// Protocol earnings: protocol cut of fees − emissions, USD (M2).
    protocol_earnings_usd,
    /// Bonded OPG.
    staked_opg,
    /// Bonded ÷ total supply.
    bonded_ratio,
    /// Security budget: bonded × price × wrong-inference slash fraction, USD (M3).
    security_budget_usd,
    /// Value that depends on a day's results: served jobs × job value, USD (M3).
    value_secured_usd,
    /// Security budget ÷ value secured per day (M3).
    security_ratio,
    /// Share of jobs actually re-executed (M4).
    verified_share,
    /// Probability a faked job is caught: p·(1 − lazy)·(1 − colluding share) (M4).
    detection_rate,
    /// Share of verifiers signing without checking (M4).
    lazy_share,
    /// Jobs faked.
    cheated_jobs,
    /// Faked jobs caught and slashed.
    detected_cheats,
    /// Wrong results nobody caught (M5).
    undetected_wrong,
    /// Expected loss from undetected wrong results, USD (M5).
    expected_loss_usd,
    /// Honesty margin of a job for the median operator: q(R+S) − C − (1−q)G, USD (M6).
    honesty_margin_usd,
    /// stOPG market discount to its redemption value (M7).
    lst_discount,
    /// OPG per stOPG at redemption.
    lst_rate,
    /// OPG waiting in the unbonding queue.
    unbonding_opg,
    /// Days an exit requested today takes (churn-cap wait + unbonding) (M7).
    time_to_exit_days,
    /// Active operators (M8).
    operators_active,
    /// Active operators whose 30-day average profit is negative (M8).
    operators_unprofitable,
    /// Median operator's 30-day average profit, USD/day (M8).
    operator_profit_p50_usd,
    /// 10th percentile of operator profit, USD/day (M8).
    operator_profit_p10_usd,
    /// 90th percentile of operator profit, USD/day (M8).
    operator_profit_p90_usd,
    /// Price at which the median operator breaks even (M8).
    break_even_price_usd,
    /// Fewest validators holding more than 1/3 of validator stake (M9).
    nakamoto,
    /// Herfindahl–Hirschman index of stake over all stakers, 0–10,000 (M9).
    hhi,
    /// Share of stake held through stOPG (M9).
    lst_stake_share,
    /// Incentive pool left, OPG (M11).
    incentive_pool_opg,
    /// Incentive pool ÷ this year's payout, years (M11).
    runway_years,
    /// Slashed so far, OPG.
    slashed_opg_cum,
    /// Cascade size: (slash + losses of forced stOPG sales) ÷ slash (M12).
    cascade_ratio,
    /// Cartel's gain from faked jobs minus its own slashed bond, USD (S6).
    cartel_profit_usd_cum,
    /// Users: fees paid, USD (M14).
    user_fees_usd_cum,
    /// Users: losses from undetected wrong results, USD (M14).
    user_losses_usd_cum,
    /// Capital: rewards to delegators and stOPG, USD at the day's price (M14).
    capital_rewards_usd_cum,
    /// Operators and validators: profit after costs, USD (M14).
    operator_profit_usd_cum,
    /// Wash inference: rewards drawn back minus fees paid for self-served fake jobs, USD (M13).
    wash_profit_usd_cum,
    /// Slash evasion: gain from the faked jobs minus what the ledger slashed from the evaders, USD (S15).
    evasion_profit_usd_cum,
    /// Agent actions the ledger refused (e.g. too many unbonding entries); they are skipped, not errors.
    rejected_ops,
}

/// Fewest holders whose stakes sum to more than `fraction` of the total (0 when the total is 0).
pub fn nakamoto(stakes: &[f64], fraction: f64) -> u32 {
    let total: f64 = stakes.iter().sum();
    if total <= 0.0 {
        return 0;
    }
    let mut sorted = stakes.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let mut acc = 0.0;
    for (i, s) in sorted.iter().enumerate() {
        acc += s;
        if acc > fraction * total {
            return i as u32 + 1;
        }
    }
    sorted.len() as u32
}

/// Herfindahl–Hirschman index on the 0–10,000 scale.
pub fn hhi(stakes: &[f64]) -> f64 {
    let total: f64 = stakes.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    stakes.iter().map(|s| (100.0 * s / total).powi(2)).sum()
}

/// The `q`-quantile (0–1) of `values` by linear interpolation; 0 when empty.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    // The two order statistics the interpolation reads, without sorting everything: under `total_cmp`
    // equal values are the same bits, so they are the sorted slice's entries exactly.
    let (lo, hi, weight) = ranks(values.len(), q);
    let mut v = values.to_vec();
    let (_, &mut a, above) = v.select_nth_unstable_by(lo, f64::total_cmp);
    let b = if hi == lo { a } else { above.iter().copied().min_by(f64::total_cmp).unwrap_or(a) };
    a + (b - a) * weight
}

/// Where the `q`-quantile of `n > 0` sorted values lies: the two ranks it interpolates between and the
/// weight of the upper one.
fn ranks(n: usize, q: f64) -> (usize, usize, f64) {
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = pos.floor() as usize;
    (lo, pos.ceil() as usize, pos - lo as f64)
}

/// [`quantile`] of values already sorted (by `f64::total_cmp`), for several quantiles of one sample.
pub(crate) fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let (lo, hi, weight) = ranks(v.len(), q);
    v[lo] + (v[hi] - v[lo]) * weight
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concentration_measures() {
        assert_eq!(nakamoto(&[10.0, 10.0, 10.0, 10.0], 1.0 / 3.0), 2);
        assert_eq!(nakamoto(&[50.0, 1.0, 1.0], 1.0 / 3.0), 1);
        assert_eq!(nakamoto(&[], 1.0 / 3.0), 0);
        assert!((hhi(&[1.0, 1.0]) - 5_000.0).abs() < 1e-9);
        assert!((hhi(&[3.0]) - 10_000.0).abs() < 1e-9);
        assert!((quantile(&[3.0, 1.0, 2.0], 0.5) - 2.0).abs() < 1e-12);
        assert!((quantile(&[0.0, 10.0], 0.9) - 9.0).abs() < 1e-12);
        assert_eq!(Row::COLUMNS.len(), Row::default().values().len());
        assert_eq!(Row { nakamoto: 3.0, ..Row::default() }.get("nakamoto"), Some(3.0));
    }

    #[test]
    fn quantile_is_the_sorted_quantile_bit_for_bit() {
        let mut rng = crate::rng::Rng::new(5);
        let special = [0.0, -0.0, 1.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
        for n in 1..60 {
            let values: Vec<f64> = (0..n)
                .map(|_| match rng.next_u64() % 4 {
                    0 => special[(rng.next_u64() % special.len() as u64) as usize],
                    1 => (rng.next_u64() % 5) as f64,
                    _ => rng.normal() * 1e3,
                })
                .collect();
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            for q in [0.0, 0.1, 0.25, 0.5, 0.9, 0.999, 1.0] {
                let (got, want) = (quantile(&values, q), quantile_sorted(&sorted, q));
                assert!(got.to_bits() == want.to_bits() || got.is_nan() && want.is_nan());
            }
        }
    }
}
