//! Economic simulator of ogn: agents and an environment drive the **real** [`ogn_ledger::Ledger`] (not a
//! re-implementation) day by day, under scenarios read from TOML, and the run answers one question: when only
//! the incentives remain, is the yield paid by fees, or only by emissions and new money?
//!
//! # Time
//! One step is one day and one ledger block (`begin_block(day + 1)` … `end_block()`). The ledger parameters
//! are scaled to match ([`ledger_params`]): `blocks_per_day = 1`, `blocks_per_year = 365`, the unbonding period
//! and maximum evidence age are the scenario's days (21 by default), the incentive pool's half-life is
//! `half_life_years · 365` blocks (15 years by default), jails last 7 days (wrong result) and 1 day
//! (downtime), and a job's challenge window is one day. Fees are paid once per operator per day for all its
//! jobs that day (one `pay_inference_fee` call with the day's total), not once per job.
//!
//! # Environment
//! - **Price**: geometric Brownian motion (drift, volatility) with Poisson jumps, an optional scheduled crash
//!   (fraction over days), and reflexive sell pressure: yesterday's net OPG sold to the market moves the log
//!   price by `−impact · sold_usd / market_depth_usd`.
//! - **Emissions**: the ledger's decaying incentive pool (optionally a governance change of the half-life).
//! - **Demand**: jobs a day growing (or declining) exponentially, with an optional shock (drop, ramp,
//!   recovery), a loss correlated with a price crash, price elasticity to the fee in USD, and trust that
//!   falls with each detected wrong result and recovers slowly. Fees are fixed in USD (paid in OPG at the
//!   day's price) or fixed in OPG.
//! - **stOPG market**: a constant-product stOPG/OPG pool of finite depth, held by a pool account in the
//!   ledger; trades are real `transfer` and `lst_transfer` calls, so a run shows up as a discount.
//!
//! # Agents
//! - **Users** buy OPG from the market and pay fees for the jobs served (`pay_inference_fee`,
//!   `pay_tx_fee`).
//! - **Operators** serve up to a capacity, pay hardware costs in USD by selling rewards (plus a share of
//!   their rewards), exit (`undelegate` of the self-bond) after a run of losses and enter (`create_staker`,
//!   or a new self-bond and `unjail`) when the average operator is profitable. A rational operator fakes its
//!   results when the honesty margin `q(R+S) − C − (1−q)G` of a job is negative; cartel members fake a share
//!   of their jobs regardless. A caught fake becomes a job lock and a fraud proof (`lock_job`,
//!   `prove_wrong_inference`): slash, challenger reward, jail. Correlated outages are punished with
//!   `slash_downtime` (optionally scaled with the share of stake down at once).
//! - **Verifiers** re-execute a share `p` of jobs and earn the verifiers' part of fees; under the
//!   verifier's dilemma they turn lazy when catching fraud (bounty × observed fraud rate, plus forced-error
//!   jackpots) pays less than a check costs. Detection is `q = p·(1 − lazy)·(1 − colluding share)`.
//! - **Delegators** hold log-normally distributed OPG, stake it directly (`delegate`) or as stOPG
//!   (`lst_deposit`), and review every few days: withdraw and sell part of their rewards, move stake off
//!   jailed stakers (`redelegate`), leave when the 30-day yield falls below their alternative (`undelegate`,
//!   or stOPG sold into the pool or redeemed with `lst_redeem`, whichever is cheaper) and come back above it.
//!   Stakers are chosen with probability ∝ stake^brand_bias (concentration drift). An optional churn cap
//!   queues exits. With `cohort_size = k` the delegators act in cohorts of `k` identical members (the same
//!   holdings, review day and choices), each cohort one ledger delegator holding the members' total: the
//!   delegators' ledger work (reward withdrawals over every position at each review, redelegations) falls
//!   `k`-fold, at the cost of the spread of choices within a cohort. The shipped scenarios use `k = 1`.
//! - **Arbitrageurs** buy discounted stOPG and redeem it when redemption is on, and mint and sell stOPG at a
//!   premium. **Borrowers** hold stOPG as collateral that is sold by force when its value falls.
//! - **Validators** keep their self-bond, earn their share of fees and emissions and sell to cover costs.
//!
//! # Step (one day)
//! ```text
//!  price move ─► begin_block ─► outage / unjail ─► users pay fees per operator ─► cheats caught? lock_job +
//!  prove_wrong_inference ─► tx fees ─► lazy verifiers adapt ─► slash event ─► end_block ─► stakers withdraw,
//!  sell, exit/enter ─► delegators review ─► stOPG run, arbitrage, liquidations ─► churn-capped exits ─►
//!  metrics row ─► check_invariants (a violation fails the run)
//! ```
//!
//! # Metrics
//! One [`Row`] a day with the issue's metrics: real yield (fees only) and nominal yield and the subsidy
//! ratio (M1), protocol earnings (M2), security budget (stake × price × slash fraction) against the value
//! secured per day (M3), verified share and detection rate (M4), undetected wrong results and their expected
//! loss (M5), the honesty margin (M6), stOPG discount and time to exit (M7), operator profit quantiles and
//! break-even price (M8), Nakamoto coefficient and HHI (M9), capacity and served share (M10), incentive pool
//! and runway (M11), cascade size (M12), welfare split (M14); ledger invariants are checked every step (M15).
//! A [`Report`] turns them into a [`Verdict`]: the incentives hold on fees, only on inflows, or break.
//!
//! # Many runs
//! [`run_many`] runs a scenario `N` times on a thread pool (run `r` with seed `S + r`) and streams every run's
//! rows, in run order, into P² quantile sketches ([`sketch`]): one per metric per step, p5/p50/p95, so memory
//! grows with steps × metrics, not with runs. The [`Ensemble`] it returns gives the quantile CSV (cadCAD/radCAD
//! long format with the quantile in place of the run), its SHA-256, per-run summaries (verdict counts,
//! real ÷ nominal yield by year, runway, peak discount, …) and a scorecard in plain words; [`html`] turns
//! ensembles into one self-contained HTML report with fan charts and a cartel-profit heatmap.
//!
//! # Determinism
//! Everything random comes from one seeded [`rng::Rng`]; the ledger iterates its maps in key order; agents
//! act in a fixed order; the ledger's event log is off during a run (nothing reads it). The same scenario and seed give the same rows and a byte-identical CSV.
//!
//! # Use
//! ```
//! let mut s = ogn_sim::Scenario::from_toml_str("name = \"demo\"\nyears = 0.1").unwrap();
//! s.delegators.count = 20;
//! let report = ogn_sim::run(&s, 7).unwrap();
//! assert_eq!(report.rows.len(), 37);
//! println!("{}", report.summary());
//! ```

mod ensemble;
pub mod html;
mod metrics;
mod model;
mod report;
pub mod rng;
mod scenario;
pub mod sketch;

pub use ensemble::{Ensemble, SUMMARY, ScoreLine, run_many};
pub use metrics::{Row, hhi, nakamoto, quantile};
pub use model::ledger_params;
pub use report::{Finding, Report, Verdict};
pub use scenario::{
    CartelConfig, CostShock, CrashConfig, DelegatorConfig, DemandConfig, DemandShock, Denomination,
    EvasionConfig, LedgerConfig, LstConfig, LstRun, OperatorConfig, Outage, PriceConfig, Scenario,
    SlashEventConfig, ValidatorConfig, VerdictConfig, VerificationConfig, WashConfig,
};

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario is not valid TOML or has an unknown or mistyped field.
    #[error("scenario TOML: {0}")]
    Toml(String),
    /// A scenario value is out of range.
    #[error("invalid scenario: {0}")]
    Invalid(String),
    /// The genesis or a protocol event the scenario requires was refused by the ledger.
    #[error("ledger refused: {0}")]
    Ledger(#[from] ogn_ledger::LedgerError),
    /// A ledger invariant broke: a bug, never an outcome.
    #[error("ledger invariant broken on day {day}: {violation}")]
    Invariant {
        /// Day of the step that broke it.
        day: u64,
        /// The violation.
        violation: ogn_ledger::InvariantViolation,
    },
    /// Genesis could not be set up.
    #[error("setup: {0}")]
    Setup(String),
    /// Reading or writing a file.
    #[error("{0}")]
    Io(String),
    /// Drawing a chart.
    #[error("chart: {0}")]
    Chart(String),
}

/// Runs a scenario with one seed, checking the ledger's invariants after every step.
pub fn run(scenario: &Scenario, seed: u64) -> Result<Report, SimError> {
    run_with(scenario, seed, 1, |_, _| {})
}

/// Runs a scenario, checking invariants every `check_every` steps (and on the last), calling `progress(day,
/// days)` after each step.
pub fn run_with(
    scenario: &Scenario,
    seed: u64,
    check_every: u64,
    mut progress: impl FnMut(u64, u64),
) -> Result<Report, SimError> {
    scenario.validate()?;
    let mut sim = model::Sim::new(scenario, seed)?;
    sim.ledger.check_invariants().map_err(|violation| SimError::Invariant { day: 0, violation })?;
    let days = scenario.days();
    let mut rows = Vec::with_capacity(days as usize);
    for day in 0..days {
        rows.push(sim.step(day)?);
        if check_every > 0 && (day.is_multiple_of(check_every) || day + 1 == days) {
            sim.ledger
                .check_invariants()
                .map_err(|violation| SimError::Invariant { day, violation })?;
        }
        progress(day + 1, days);
    }
    Ok(Report::new(scenario, seed, rows))
}
