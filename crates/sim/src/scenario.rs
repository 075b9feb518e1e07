//! Scenarios: every number a run depends on, read from TOML. Every table and field is optional and falls
//! back to the baseline below; unknown fields are errors (a typo must not silently run the baseline).
//!
//! Units: amounts in OPG (not base units), prices and costs in USD, rates per year as fractions
//! (`0.2` = 20 %), durations in days unless the name says years, shares as fractions of 1.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::SimError;

/// A scenario: the baseline network plus the shocks that define the stress test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used in file names and reports.
    pub name: String,
    /// What the scenario tests, in plain words.
    pub description: String,
    /// Horizon in years (one step is one day).
    pub years: f64,
    /// Ledger parameters (scaled to one block per day).
    pub ledger: LedgerConfig,
    /// The OPG/USD price process.
    pub price: PriceConfig,
    /// Inference demand and fees.
    pub demand: DemandConfig,
    /// Inference operators.
    pub operators: OperatorConfig,
    /// Validators.
    pub validators: ValidatorConfig,
    /// Delegators.
    pub delegators: DelegatorConfig,
    /// Sampling re-execution by verifiers.
    pub verification: VerificationConfig,
    /// A cartel of operators returning wrong results (absent: none).
    pub cartel: Option<CartelConfig>,
    /// The stOPG market.
    pub lst: LstConfig,
    /// A one-off slash of the largest operator (absent: none).
    pub slash_event: Option<SlashEventConfig>,
    /// An operator paying fees for fake jobs it serves itself, to farm rewards (absent: none).
    pub wash: Option<WashConfig>,
    /// Operators that fake results and unbond at once, hoping to leave before the fraud is proven
    /// (absent: none).
    pub evasion: Option<EvasionConfig>,
    /// What counts as holding up.
    pub verdict: VerdictConfig,
}

/// Ledger parameters in human units. The simulator runs one ledger block per day, so every period in blocks
/// is a period in days (`blocks_per_day = 1`, `blocks_per_year = 365`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LedgerConfig {
    /// Initial incentive pool (OPG).
    pub incentive_pool_opg: f64,
    /// Half-life of the incentive pool (years).
    pub half_life_years: f64,
    /// A governance change of the half-life: `[day, new half-life in years]` (absent: none).
    pub half_life_change: Option<(u64, f64)>,
    /// Unbonding period (days); also the maximum evidence age.
    pub unbonding_days: u64,
    /// Share of emissions paid to operators (the rest to validators).
    pub emission_operator_share: f64,
    /// Inference fee split: operator, verifiers, validators, protocol (sums to 1).
    pub fee_split: [f64; 4],
    /// Fraction of an operator's bond slashed for a proven wrong result.
    pub slash_wrong_inference: f64,
    /// Fraction slashed for downtime.
    pub slash_downtime: f64,
    /// Share of a slash paid to the challenger.
    pub challenger_reward: f64,
    /// Bond locked per job, as a fraction of the job's declared value.
    pub job_bond: f64,
    /// Commission of validators (the stOPG pool only delegates to stakers charging at most 10 %).
    pub commission: f64,
    /// Days a job's bond stays locked and its result can be proven wrong (the challenge window).
    pub challenge_window_days: u64,
}

/// Token price: geometric Brownian motion with Poisson jumps, scheduled crashes and price impact of the net
/// OPG sold on the market each day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PriceConfig {
    /// OPG price at day 0 (USD).
    pub initial_usd: f64,
    /// Median growth of the price per year, in log terms (0: the median path stays flat).
    pub drift: f64,
    /// Volatility per year.
    pub volatility: f64,
    /// Expected jumps per year.
    pub jumps_per_year: f64,
    /// Mean log size of a jump (negative: crashes).
    pub jump_mean: f64,
    /// Standard deviation of a jump's log size.
    pub jump_sd: f64,
    /// USD of net daily selling that moves the price by `impact`.
    pub market_depth_usd: f64,
    /// Log price move per `market_depth_usd` of net selling (0: price exogenous).
    pub impact: f64,
    /// A scheduled crash (absent: none).
    pub crash: Option<CrashConfig>,
}

/// A scheduled fall of the token price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrashConfig {
    /// First day of the crash.
    pub day: u64,
    /// Fraction of the price lost (0.7 = −70 %).
    pub fraction: f64,
    /// Days the fall is spread over.
    pub over_days: u64,
    /// Fraction of demand lost together with the price (correlated demand loss).
    #[serde(default)]
    pub demand_loss: f64,
}

/// How fees are denominated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Denomination {
    /// A fixed USD price per job, paid in OPG at the day's price.
    Usd,
    /// A fixed OPG price per job; its USD cost moves with the token.
    Opg,
}

/// Inference demand: base jobs a day, growth, price elasticity, shocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DemandConfig {
    /// Jobs demanded a day at day 0 at the reference fee.
    pub jobs_per_day: f64,
    /// Demand growth per year (log terms; −0.2 is a decline).
    pub growth_per_year: f64,
    /// Fee per job at day 0 (USD); also the reference fee of the elasticity.
    pub fee_usd: f64,
    /// Fee denomination.
    pub denomination: Denomination,
    /// Price elasticity of demand: jobs ∝ (fee_usd / reference)^−elasticity.
    pub elasticity: f64,
    /// Transaction fees a day at day 0 (USD), split base fee 80 % / tip 20 %.
    pub tx_fees_usd_per_day: f64,
    /// Value that depends on an average job's result (USD): the damage of one undetected wrong result.
    pub job_value_usd: f64,
    /// Demand lost per detected wrong result per million jobs served (trust elasticity).
    pub trust_loss: f64,
    /// A fee revenue shock (absent: none).
    pub shock: Option<DemandShock>,
}

/// A fall of demand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandShock {
    /// First day.
    pub day: u64,
    /// Fraction of demand lost (0.8 = −80 %).
    pub drop: f64,
    /// Days the drop ramps in.
    pub ramp_days: u64,
    /// Days after the ramp until demand recovers (absent: persistent).
    #[serde(default)]
    pub recover_after_days: Option<u64>,
}

/// Inference operators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OperatorConfig {
    /// Operators at day 0.
    pub count: u32,
    /// Most operators that can exist (entry stops there).
    pub max_count: u32,
    /// Self-bond (OPG).
    pub self_bond_opg: f64,
    /// Hardware, energy and operations cost per operator per day (USD).
    pub cost_usd_per_day: f64,
    /// Spread of costs across operators (operator `i` of `n` pays `cost · (1 − s + 2·s·i/n)`).
    pub cost_spread: f64,
    /// Jobs one operator can serve a day.
    pub capacity_jobs_per_day: f64,
    /// Compute cost one job saves when its result is faked (USD).
    pub compute_cost_usd_per_job: f64,
    /// Commission an operator keeps of its rewards (fees and emissions) before its delegators share the rest.
    pub commission: f64,
    /// Days of losses (30-day average profit below 0) before an operator exits.
    pub exit_after_days: u32,
    /// 30-day average profit per operator (USD/day) above which a new operator enters (one a week).
    pub entry_profit_usd_per_day: f64,
    /// Share of rewards sold beyond what covers costs.
    pub sell_share: f64,
    /// Rational operators fake results when the honesty margin of a job is negative.
    pub rational_cheating: bool,
    /// External gain a rational cheater expects per faked job (USD).
    pub cheat_gain_usd_per_job: f64,
    /// A cost shock (absent: none).
    pub cost_shock: Option<CostShock>,
    /// A correlated outage (absent: none).
    pub outage: Option<Outage>,
}

/// Operator costs jump.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostShock {
    /// Day of the jump.
    pub day: u64,
    /// Cost multiplier (2.0 = +100 %).
    pub factor: f64,
}

/// A share of operators goes offline together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    /// First day offline.
    pub day: u64,
    /// Share of operators offline.
    pub share: f64,
    /// Days offline.
    pub days: u64,
    /// Scale the downtime slash with the share of stake down at once (Ethereum-style, factor 3, capped at 1).
    #[serde(default)]
    pub correlation_penalty: bool,
}

/// Validators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidatorConfig {
    /// Validators.
    pub count: u32,
    /// Self-bond (OPG).
    pub self_bond_opg: f64,
    /// Cost per validator per day (USD).
    pub cost_usd_per_day: f64,
}

/// Delegators: hold OPG, stake it directly or through stOPG, chase yield.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DelegatorConfig {
    /// Delegators.
    pub count: u32,
    /// OPG held by all delegators together.
    pub holdings_opg: f64,
    /// Share of holdings staked at day 0.
    pub staked_share: f64,
    /// Share of the staked part held as stOPG.
    pub lst_share: f64,
    /// Yield of the alternative (per year): delegators leave below it and come back above it.
    pub alt_yield: f64,
    /// Band around `alt_yield` inside which nobody moves.
    pub band: f64,
    /// Share of a position moved at one review.
    pub move_share: f64,
    /// Days between a delegator's reviews.
    pub review_days: u32,
    /// Preference for large stakers: choice probability ∝ stake^bias (0: uniform).
    pub brand_bias: f64,
    /// Share of withdrawn rewards sold.
    pub sell_share: f64,
    /// Most OPG that may leave staking a day (a churn cap; 0: none).
    pub exit_cap_opg_per_day: f64,
    /// Delegators per cohort: the `count` delegators act in cohorts of this many identical members (the same
    /// holdings, review day and decisions), and each cohort is one ledger delegator holding its members'
    /// total. 1 (the default): every delegator on its own. Larger cohorts run faster (the ledger work of the
    /// delegators scales with the cohorts) and lose the spread of individual choices within a cohort.
    pub cohort_size: u32,
}

impl DelegatorConfig {
    /// Ledger delegators: one per cohort.
    pub fn cohorts(&self) -> u32 {
        self.count / self.cohort_size.max(1)
    }
}

/// Sampling re-execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerificationConfig {
    /// Probability a job is re-executed by a verifier.
    pub check_probability: f64,
    /// Verifiers.
    pub verifiers: u32,
    /// Cost of one check (USD).
    pub check_cost_usd: f64,
    /// Share of verifiers that sign without checking at day 0.
    pub lazy_share: f64,
    /// Daily speed at which verifiers turn lazy when checking does not pay, and back (0: fixed share).
    pub lazy_speed: f64,
    /// Rate of protocol-injected wrong results (forced errors) per check.
    pub forced_error_rate: f64,
    /// Jackpot for catching a forced error (USD).
    pub jackpot_usd: f64,
}

/// A cartel of operators holding `stake_share` of operator stake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CartelConfig {
    /// Share of operators in the cartel (also the chance a verifier colludes).
    pub stake_share: f64,
    /// Share of its jobs the cartel fakes.
    pub cheat_share: f64,
    /// External gain per faked job (USD).
    pub gain_usd_per_job: f64,
    /// First day of cheating.
    #[serde(default)]
    pub start_day: u64,
}

/// The stOPG market: a constant-product pool of finite depth, arbitrage through redemption, a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LstConfig {
    /// OPG on each side of the stOPG/OPG pool at day 0.
    pub amm_depth_opg: f64,
    /// Whether holders and arbitrageurs can redeem through the unbonding queue (false: stETH before Shapella).
    pub redemption: bool,
    /// OPG an arbitrageur can commit to buy discounted stOPG and redeem it.
    pub arb_capital_opg: f64,
    /// Extra discount the arbitrageur demands beyond the carry cost `alt_yield · unbonding`.
    pub arb_premium: f64,
    /// Without a redemption path: discount at which the arbitrageur still buys stOPG to hold it until
    /// redemption opens (0: never; stETH holders before Shapella).
    pub hold_discount: f64,
    /// A run (absent: none).
    pub run: Option<LstRun>,
    /// Share of stOPG pledged as loan collateral (sold by force when its value falls).
    pub collateral_share: f64,
    /// Fall of the collateral's market value (vs day 0) that triggers liquidation.
    pub liquidation_drop: f64,
}

/// Holders leave stOPG together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LstRun {
    /// First day.
    pub day: u64,
    /// Share of stOPG holders' balances to exit.
    pub share: f64,
    /// Days the exit is spread over.
    pub days: u64,
}

/// The largest operator is slashed once (a software bug, a proven fault).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlashEventConfig {
    /// Day of the slash.
    pub day: u64,
    /// Fraction of the operator's stake slashed.
    pub fraction: f64,
}

/// Wash inference: an operator buys OPG and pays inference fees for jobs it serves to itself, hoping the
/// rewards it draws back (its operator share, commission, and any emissions that follow fees) exceed them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WashConfig {
    /// First day of washing.
    #[serde(default)]
    pub start_day: u64,
    /// Fake jobs a day (paid at the day's fee per job).
    pub jobs_per_day: f64,
    /// Operators washing (the first ones).
    #[serde(default = "one")]
    pub operators: u32,
}

fn one() -> u32 {
    1
}

/// Slash evasion: operators fake every job of one day, lock a job's bond as usual, and undelegate their whole
/// free self-bond the same day; the fraud is proven `detection_lag_days` later, if the job's challenge window
/// is still open then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvasionConfig {
    /// Day of the fraud and the exit.
    pub day: u64,
    /// Operators that try it (the first ones).
    pub operators: u32,
    /// Days from the fraud to its proof.
    pub detection_lag_days: u64,
    /// External gain per faked job (USD).
    pub gain_usd_per_job: f64,
}

/// Pass marks of the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerdictConfig {
    /// Real yield (fees only) that counts as sustainable; defaults to `alt_yield − band`, where delegators
    /// start leaving.
    pub real_yield_hurdle: Option<f64>,
    /// Required security budget over value secured per day (1 + γ).
    pub security_ratio: f64,
    /// Highest acceptable stOPG discount.
    pub max_lst_discount: f64,
    /// Lowest acceptable Nakamoto coefficient (1/3 of validator stake).
    pub min_nakamoto: u32,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            name: "baseline".into(),
            description: "Steady state: growing demand, fees in USD, 15-year incentive half-life."
                .into(),
            years: 10.0,
            ledger: LedgerConfig::default(),
            price: PriceConfig::default(),
            demand: DemandConfig::default(),
            operators: OperatorConfig::default(),
            validators: ValidatorConfig::default(),
            delegators: DelegatorConfig::default(),
            verification: VerificationConfig::default(),
            cartel: None,
            lst: LstConfig::default(),
            slash_event: None,
            wash: None,
            evasion: None,
            verdict: VerdictConfig::default(),
        }
    }
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            incentive_pool_opg: 100_000_000.0,
            half_life_years: 15.0,
            half_life_change: None,
            unbonding_days: 21,
            emission_operator_share: 0.5,
            fee_split: [0.70, 0.10, 0.15, 0.05],
            slash_wrong_inference: 0.10,
            slash_downtime: 0.0001,
            challenger_reward: 0.5,
            job_bond: 1.0,
            commission: 0.10,
            challenge_window_days: 1,
        }
    }
}

impl Default for PriceConfig {
    fn default() -> Self {
        PriceConfig {
            initial_usd: 0.5,
            drift: 0.0,
            volatility: 0.5,
            jumps_per_year: 1.0,
            jump_mean: -0.05,
            jump_sd: 0.15,
            market_depth_usd: 2_000_000.0,
            impact: 0.0,
            crash: None,
        }
    }
}

impl Default for DemandConfig {
    fn default() -> Self {
        DemandConfig {
            jobs_per_day: 2_000_000.0,
            growth_per_year: 0.15,
            fee_usd: 0.01,
            denomination: Denomination::Usd,
            elasticity: 0.5,
            tx_fees_usd_per_day: 2_000.0,
            job_value_usd: 1.0,
            trust_loss: 0.001,
            shock: None,
        }
    }
}

impl Default for OperatorConfig {
    fn default() -> Self {
        OperatorConfig {
            count: 40,
            max_count: 80,
            self_bond_opg: 100_000.0,
            cost_usd_per_day: 100.0,
            cost_spread: 0.3,
            capacity_jobs_per_day: 100_000.0,
            compute_cost_usd_per_job: 0.002,
            commission: 0.5,
            exit_after_days: 60,
            entry_profit_usd_per_day: 150.0,
            sell_share: 0.2,
            rational_cheating: true,
            cheat_gain_usd_per_job: 0.0,
            cost_shock: None,
            outage: None,
        }
    }
}

impl Default for ValidatorConfig {
    fn default() -> Self {
        ValidatorConfig { count: 20, self_bond_opg: 500_000.0, cost_usd_per_day: 50.0 }
    }
}

impl Default for DelegatorConfig {
    fn default() -> Self {
        DelegatorConfig {
            count: 200,
            holdings_opg: 400_000_000.0,
            staked_share: 0.75,
            lst_share: 0.3,
            alt_yield: 0.04,
            band: 0.01,
            move_share: 0.25,
            review_days: 14,
            brand_bias: 0.0,
            sell_share: 0.3,
            exit_cap_opg_per_day: 0.0,
            cohort_size: 1,
        }
    }
}

impl Default for VerificationConfig {
    fn default() -> Self {
        VerificationConfig {
            check_probability: 0.05,
            verifiers: 20,
            check_cost_usd: 0.005,
            lazy_share: 0.0,
            lazy_speed: 0.0,
            forced_error_rate: 0.0,
            jackpot_usd: 0.0,
        }
    }
}

impl Default for LstConfig {
    fn default() -> Self {
        LstConfig {
            amm_depth_opg: 10_000_000.0,
            redemption: true,
            arb_capital_opg: 20_000_000.0,
            arb_premium: 0.002,
            hold_discount: 0.0,
            run: None,
            collateral_share: 0.0,
            liquidation_drop: 0.1,
        }
    }
}

impl Default for VerdictConfig {
    fn default() -> Self {
        VerdictConfig {
            real_yield_hurdle: None,
            security_ratio: 1.1,
            max_lst_discount: 0.02,
            min_nakamoto: 4,
        }
    }
}

impl Scenario {
    /// Parses and checks a scenario; errors name the field (and, for syntax, the line and column).
    pub fn from_toml_str(text: &str) -> Result<Scenario, SimError> {
        let s: Scenario = toml::from_str(text)
            .map_err(|e| SimError::Toml(e.to_string().trim_end().to_owned()))?;
        s.validate()?;
        Ok(s)
    }

    /// Reads, parses and checks a scenario file; errors name the file.
    pub fn from_path(path: &Path) -> Result<Scenario, SimError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SimError::Io(format!("reading {}: {e}", path.display())))?;
        Scenario::from_toml_str(&text).map_err(|e| match e {
            SimError::Toml(m) => SimError::Toml(format!("{}: {m}", path.display())),
            SimError::Invalid(m) => SimError::Invalid(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Days simulated.
    pub fn days(&self) -> u64 {
        (self.years * 365.0).round() as u64
    }

    /// The real-yield hurdle of the verdict: by default the yield below which delegators start leaving.
    pub fn hurdle(&self) -> f64 {
        self.verdict
            .real_yield_hurdle
            .unwrap_or((self.delegators.alt_yield - self.delegators.band).max(0.0))
    }

    /// Checks ranges; the message names the field and the bad value.
    pub fn validate(&self) -> Result<(), SimError> {
        let mut errors = Vec::new();
        let mut frac = |name: &str, v: f64| {
            if !(0.0..=1.0).contains(&v) {
                errors.push(format!("{name} = {v} must be between 0 and 1"));
            }
        };
        let l = &self.ledger;
        frac("ledger.emission_operator_share", l.emission_operator_share);
        frac("ledger.slash_wrong_inference", l.slash_wrong_inference);
        frac("ledger.slash_downtime", l.slash_downtime);
        frac("ledger.challenger_reward", l.challenger_reward);
        frac("ledger.commission", l.commission);
        for (i, part) in l.fee_split.iter().enumerate() {
            frac(&format!("ledger.fee_split[{i}]"), *part);
        }
        frac("operators.cost_spread", self.operators.cost_spread);
        frac("operators.commission", self.operators.commission);
        frac("operators.sell_share", self.operators.sell_share);
        frac("delegators.staked_share", self.delegators.staked_share);
        frac("delegators.lst_share", self.delegators.lst_share);
        frac("delegators.move_share", self.delegators.move_share);
        frac("delegators.sell_share", self.delegators.sell_share);
        frac("verification.check_probability", self.verification.check_probability);
        frac("verification.lazy_share", self.verification.lazy_share);
        frac("verification.lazy_speed", self.verification.lazy_speed);
        frac("verification.forced_error_rate", self.verification.forced_error_rate);
        frac("lst.collateral_share", self.lst.collateral_share);
        frac("lst.liquidation_drop", self.lst.liquidation_drop);
        if let Some(c) = &self.price.crash {
            frac("price.crash.fraction", c.fraction);
            frac("price.crash.demand_loss", c.demand_loss);
        }
        if let Some(s) = &self.demand.shock {
            frac("demand.shock.drop", s.drop);
        }
        if let Some(o) = &self.operators.outage {
            frac("operators.outage.share", o.share);
        }
        if let Some(c) = &self.cartel {
            frac("cartel.stake_share", c.stake_share);
            frac("cartel.cheat_share", c.cheat_share);
        }
        if let Some(r) = &self.lst.run {
            frac("lst.run.share", r.share);
        }
        if let Some(s) = &self.slash_event {
            frac("slash_event.fraction", s.fraction);
        }
        let mut positive = |name: &str, v: f64| {
            if !(v.is_finite() && v > 0.0) {
                errors.push(format!("{name} = {v} must be a positive number"));
            }
        };
        positive("years", self.years);
        positive("ledger.half_life_years", l.half_life_years);
        positive("price.initial_usd", self.price.initial_usd);
        positive("price.market_depth_usd", self.price.market_depth_usd);
        positive("demand.fee_usd", self.demand.fee_usd);
        positive("operators.self_bond_opg", self.operators.self_bond_opg);
        positive("operators.capacity_jobs_per_day", self.operators.capacity_jobs_per_day);
        positive("validators.self_bond_opg", self.validators.self_bond_opg);
        positive("delegators.holdings_opg", self.delegators.holdings_opg);
        positive("lst.amm_depth_opg", self.lst.amm_depth_opg);
        if let Some((_, hl)) = l.half_life_change {
            positive("ledger.half_life_change[1]", hl);
        }
        let mut nonneg = |name: &str, v: f64| {
            if !(v.is_finite() && v >= 0.0) {
                errors.push(format!("{name} = {v} must be zero or more"));
            }
        };
        nonneg("ledger.incentive_pool_opg", l.incentive_pool_opg);
        nonneg("ledger.job_bond", l.job_bond);
        nonneg("price.volatility", self.price.volatility);
        nonneg("price.jumps_per_year", self.price.jumps_per_year);
        nonneg("price.jump_sd", self.price.jump_sd);
        nonneg("price.impact", self.price.impact);
        nonneg("demand.jobs_per_day", self.demand.jobs_per_day);
        nonneg("demand.elasticity", self.demand.elasticity);
        nonneg("demand.tx_fees_usd_per_day", self.demand.tx_fees_usd_per_day);
        nonneg("demand.job_value_usd", self.demand.job_value_usd);
        nonneg("demand.trust_loss", self.demand.trust_loss);
        nonneg("operators.cost_usd_per_day", self.operators.cost_usd_per_day);
        nonneg("operators.compute_cost_usd_per_job", self.operators.compute_cost_usd_per_job);
        nonneg("operators.cheat_gain_usd_per_job", self.operators.cheat_gain_usd_per_job);
        nonneg("validators.cost_usd_per_day", self.validators.cost_usd_per_day);
        nonneg("delegators.alt_yield", self.delegators.alt_yield);
        nonneg("delegators.band", self.delegators.band);
        nonneg("delegators.brand_bias", self.delegators.brand_bias);
        nonneg("delegators.exit_cap_opg_per_day", self.delegators.exit_cap_opg_per_day);
        nonneg("verification.check_cost_usd", self.verification.check_cost_usd);
        nonneg("verification.jackpot_usd", self.verification.jackpot_usd);
        nonneg("lst.arb_capital_opg", self.lst.arb_capital_opg);
        nonneg("lst.arb_premium", self.lst.arb_premium);
        nonneg("lst.hold_discount", self.lst.hold_discount);
        if let Some(c) = &self.operators.cost_shock {
            nonneg("operators.cost_shock.factor", c.factor);
        }
        if let Some(c) = &self.cartel {
            nonneg("cartel.gain_usd_per_job", c.gain_usd_per_job);
        }
        if let Some(w) = &self.wash {
            nonneg("wash.jobs_per_day", w.jobs_per_day);
        }
        if let Some(e) = &self.evasion {
            nonneg("evasion.gain_usd_per_job", e.gain_usd_per_job);
        }
        let sum: f64 = l.fee_split.iter().sum();
        if (sum - 1.0).abs() > 1e-9 {
            errors.push(format!("ledger.fee_split sums to {sum}, must sum to 1"));
        }
        if l.unbonding_days == 0 {
            errors.push("ledger.unbonding_days must be at least 1".into());
        }
        if l.challenge_window_days == 0 || l.challenge_window_days > l.unbonding_days {
            errors.push(format!(
                "ledger.challenge_window_days = {} must be at least 1 and at most ledger.unbonding_days = {}",
                l.challenge_window_days, l.unbonding_days
            ));
        }
        let o = &self.operators;
        if o.count == 0 || o.max_count < o.count {
            errors.push(format!(
                "operators.count = {} must be at least 1 and at most operators.max_count = {}",
                o.count, o.max_count
            ));
        }
        if self.validators.count == 0 {
            errors.push("validators.count must be at least 1".into());
        }
        if self.delegators.count == 0 || self.delegators.review_days == 0 {
            errors.push("delegators.count and delegators.review_days must be at least 1".into());
        }
        let k = self.delegators.cohort_size;
        if k == 0 || !self.delegators.count.is_multiple_of(k) {
            errors.push(format!(
                "delegators.cohort_size = {k} must be at least 1 and divide delegators.count = {}",
                self.delegators.count
            ));
        }
        if self.verification.verifiers == 0 {
            errors.push("verification.verifiers must be at least 1".into());
        }
        if self.days() > 365 * 100 {
            errors.push(format!("years = {} exceeds 100", self.years));
        }
        if errors.is_empty() { Ok(()) } else { Err(SimError::Invalid(errors.join("; "))) }
    }
}
