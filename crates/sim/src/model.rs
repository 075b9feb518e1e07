//! The simulation: genesis, agents, environment and the daily step, all driving one real [`Ledger`].

use std::collections::VecDeque;

use ogn_ledger::{
    Address, DelegationRef, EmissionSchedule, FeeSplit, Ledger, LedgerError, OPG, PPM, Params,
    ProtocolCut, Role,
};

use crate::{
    SimError,
    metrics::{Row, hhi, nakamoto, quantile, quantile_sorted},
    rng::Rng,
    scenario::{Denomination, Scenario},
};

const MARKET: u64 = 1;
const USERS: u64 = 2;
const AMM: u64 = 3;
const ARB: u64 = 4;
const BORROWER: u64 = 5;
const VALIDATOR_BASE: u64 = 100;
const OPERATOR_BASE: u64 = 1_000;
const VERIFIER_BASE: u64 = 5_000;
const DELEGATOR_BASE: u64 = 10_000;
/// OPG float the market maker holds at genesis (users buy from it, sellers sell to it).
const MARKET_FLOAT_OPG: f64 = 300_000_000.0;
/// Swap fee of the stOPG/OPG pool.
const AMM_FEE: f64 = 0.0004;
/// Trailing window of the profit averages, days.
const EMA_DAYS: f64 = 30.0;

fn addr(n: u64) -> Address {
    Address::from_index(n)
}

/// OPG (a float) to base units, rounded down; negative and NaN give 0.
pub(crate) fn to_base(opg: f64) -> u128 {
    if opg.is_nan() || opg <= 0.0 { 0 } else { (opg * OPG as f64) as u128 }
}

/// Base units to OPG.
pub(crate) fn to_opg(base: u128) -> f64 {
    base as f64 / OPG as f64
}

fn ppm(fraction: f64) -> u64 {
    (fraction.clamp(0.0, 1.0) * PPM as f64).round() as u64
}

/// The ledger parameters a scenario runs: one block per day.
pub fn ledger_params(s: &Scenario) -> Params {
    let l = &s.ledger;
    let year = 365;
    let mut split: Vec<u64> = l.fee_split.iter().map(|f| ppm(*f)).collect();
    // Make the parts sum to exactly 1,000,000 after rounding: the validators' part takes the remainder.
    let others: u64 = split[0] + split[1] + split[3];
    split[2] = PPM.saturating_sub(others);
    let unbonding = l.unbonding_days;
    Params {
        blocks_per_day: 1,
        blocks_per_year: year,
        unbonding_period_blocks: unbonding,
        max_entries: 7,
        min_self_bond_validator: 10_000 * OPG,
        min_self_bond_operator: 1_000 * OPG,
        min_commission_ppm: 0,
        max_commission_ppm: 500_000,
        max_commission_change_ppm: 10_000,
        emission: EmissionSchedule::DecayingPool {
            initial_pool: to_base(l.incentive_pool_opg),
            half_life_blocks: (l.half_life_years * year as f64).round().max(1.0) as u64,
        },
        emission_operator_share_ppm: ppm(l.emission_operator_share),
        fee_split: FeeSplit {
            operator_ppm: split[0],
            verifiers_ppm: split[1],
            validators_ppm: split[2],
            protocol_ppm: split[3],
            protocol_cut: ProtocolCut::Treasury,
        },
        base_fee_burn_ppm: 0,
        slash_wrong_inference_ppm: ppm(l.slash_wrong_inference),
        slash_double_sign_ppm: 50_000,
        slash_downtime_ppm: ppm(l.slash_downtime),
        jail_wrong_inference_blocks: 7,
        jail_downtime_blocks: 1,
        challenger_reward_ppm: ppm(l.challenger_reward),
        max_evidence_age_blocks: unbonding,
        job_bond_ppm: (l.job_bond * PPM as f64).round() as u64,
        challenge_window_blocks: s.ledger.challenge_window_days,
        lst_max_commission_ppm: 100_000,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpState {
    Active,
    /// Left; its self-bond pays out at this day.
    Exiting(u64),
    Idle,
}

#[derive(Debug, Clone)]
struct Operator {
    addr: Address,
    /// Its self-bond in the ledger's maps, resolved on first use.
    own: Option<DelegationRef>,
    cost_factor: f64,
    state: OpState,
    profit_ema: f64,
    loss_days: u32,
    cartel: bool,
    offline: bool,
    income_opg: f64,
}

#[derive(Debug, Clone)]
struct Delegator {
    addr: Address,
    offset: u32,
    /// Its delegations, resolved once in the ledger's maps (a superset of the live ones; pruned at review),
    /// in staker order without repeats: the order the ledger's maps settle them in.
    positions: Vec<DelegationRef>,
}

impl Delegator {
    /// Adds a position in its place, so that a review never has to sort them.
    fn add_position(&mut self, r: Option<DelegationRef>) {
        let Some(r) = r else { return };
        match self.positions.binary_search_by_key(&r.staker(), DelegationRef::staker) {
            Ok(i) => self.positions[i] = r,
            Err(i) => self.positions.insert(i, r),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum ExitKind {
    Undelegate(Address),
    Redeem,
}

#[derive(Debug, Clone)]
struct PendingExit {
    who: Address,
    kind: ExitKind,
    amount: u128,
}

/// One run: the ledger, the agents and the environment.
pub(crate) struct Sim<'a> {
    s: &'a Scenario,
    pub(crate) ledger: Ledger,
    rng: Rng,
    price: f64,
    net_sell_opg: f64,
    trust: f64,
    lazy: f64,
    fraud_ema: f64,
    cost_multiplier: f64,
    operators: Vec<Operator>,
    validators: Vec<Address>,
    verifiers: Vec<Address>,
    delegators: Vec<Delegator>,
    exits: VecDeque<PendingExit>,
    next_job: u64,
    nominal_ema: f64,
    last_entry_day: u64,
    run_base: Vec<(Address, u128)>,
    collateral_value0: f64,
    liquidated: bool,
    shock_opg: f64,
    forced_loss_opg: f64,
    /// S15: open frauds of evading operators: (job, operator, day the fraud is proven).
    evasions: Vec<(u64, Address, u64)>,
    cum: Row,
    /// Scratch space of [`Sim::pick_staker`].
    pick_buf: Vec<(Address, f64)>,
}

impl<'a> Sim<'a> {
    /// Genesis: balances, stakers, delegations, stOPG positions and the stOPG/OPG pool.
    pub(crate) fn new(s: &'a Scenario, seed: u64) -> Result<Sim<'a>, SimError> {
        let mut rng = Rng::new(seed);
        let o = &s.operators;
        let d = &s.delegators;
        let bond = to_base(o.self_bond_opg);
        let vbond = to_base(s.validators.self_bond_opg);
        // Delegator holdings: log-normal weights (σ = 1), normalised to the configured total; one weight per
        // cohort (a cohort's members hold the same amount, and the cohort holds their sum).
        let weights: Vec<f64> = (0..d.cohorts()).map(|_| rng.normal().exp()).collect();
        let wsum: f64 = weights.iter().sum();
        let holdings: Vec<u128> =
            weights.iter().map(|w| to_base(d.holdings_opg * w / wsum)).collect();
        let lst_total = d.holdings_opg * d.staked_share * d.lst_share;
        let collateral = lst_total * s.lst.collateral_share;
        let mut balances = vec![
            (addr(MARKET), to_base(MARKET_FLOAT_OPG)),
            (addr(AMM), to_base(2.0 * s.lst.amm_depth_opg)),
        ];
        if s.lst.arb_capital_opg > 0.0 {
            balances.push((addr(ARB), to_base(s.lst.arb_capital_opg)));
        }
        if collateral > 0.0 {
            balances.push((addr(BORROWER), to_base(collateral)));
        }
        for i in 0..s.validators.count {
            balances.push((addr(VALIDATOR_BASE + u64::from(i)), vbond));
        }
        for i in 0..o.max_count {
            balances.push((addr(OPERATOR_BASE + u64::from(i)), bond));
        }
        for (i, h) in holdings.iter().enumerate() {
            balances.push((addr(DELEGATOR_BASE + i as u64), *h));
        }
        let mut ledger = Ledger::new(ledger_params(s), balances)?;
        let commission = ppm(s.ledger.commission);
        let mut validators = Vec::new();
        for i in 0..s.validators.count {
            let a = addr(VALIDATOR_BASE + u64::from(i));
            ledger.create_staker(a, Role::Validator, vbond, commission)?;
            validators.push(a);
        }
        let cartel_n =
            s.cartel.as_ref().map_or(0, |c| (c.stake_share * o.count as f64).round() as u32);
        let mut operators = Vec::new();
        for i in 0..o.max_count {
            let a = addr(OPERATOR_BASE + u64::from(i));
            let active = i < o.count;
            if active {
                ledger.create_staker(a, Role::Operator, bond, ppm(o.commission))?;
            }
            operators.push(Operator {
                addr: a,
                own: None,
                cost_factor: 1.0 - o.cost_spread
                    + 2.0 * o.cost_spread * f64::from(i) / f64::from(o.max_count),
                state: if active { OpState::Active } else { OpState::Idle },
                profit_ema: 0.0,
                loss_days: 0,
                cartel: i < cartel_n,
                offline: false,
                income_opg: 0.0,
            });
        }
        let mut sim = Sim {
            s,
            ledger,
            rng,
            price: s.price.initial_usd,
            net_sell_opg: 0.0,
            trust: 1.0,
            lazy: s.verification.lazy_share,
            fraud_ema: 0.0,
            cost_multiplier: 1.0,
            operators,
            validators,
            verifiers: (0..s.verification.verifiers)
                .map(|i| addr(VERIFIER_BASE + u64::from(i)))
                .collect(),
            delegators: (0..d.cohorts())
                .map(|i| Delegator {
                    addr: addr(DELEGATOR_BASE + u64::from(i)),
                    offset: i % d.review_days,
                    positions: Vec::new(),
                })
                .collect(),
            exits: VecDeque::new(),
            next_job: 1,
            nominal_ema: 0.0,
            last_entry_day: 0,
            run_base: Vec::new(),
            collateral_value0: 0.0,
            liquidated: false,
            shock_opg: 0.0,
            forced_loss_opg: 0.0,
            evasions: Vec::new(),
            cum: Row::default(),
            pick_buf: Vec::new(),
        };
        for (i, h) in holdings.iter().enumerate() {
            let who = sim.delegators[i].addr;
            let staked = to_base(to_opg(*h) * d.staked_share);
            let lst = to_base(to_opg(staked) * d.lst_share);
            if lst > 0 {
                sim.ledger.lst_deposit(who, lst)?;
            }
            let direct = staked - lst;
            if direct > 0 {
                let to = sim.pick_staker().ok_or(SimError::Setup("no active staker".into()))?;
                sim.ledger.delegate(who, to, direct)?;
                sim.delegators[i].add_position(sim.ledger.delegation_ref(who, to));
            }
        }
        sim.ledger.lst_deposit(addr(AMM), to_base(s.lst.amm_depth_opg))?;
        if collateral > 0.0 {
            sim.ledger.lst_deposit(addr(BORROWER), to_base(collateral))?;
            sim.collateral_value0 = collateral;
        }
        // Nothing reads the ledger's events during a run.
        sim.ledger.set_record_events(false);
        Ok(sim)
    }

    /// An active staker accepting delegations (commission at most the stOPG maximum), chosen with
    /// probability ∝ stake^brand_bias.
    fn pick_staker(&mut self) -> Option<Address> {
        let bias = self.s.delegators.brand_bias;
        if bias == 0.0 {
            // Every weight is 1, so the walk below subtracts 1 exactly each time (below 2^52 stakers) and
            // stops at index floor(u · n), or at the last staker when rounding gives u · n = n: pick that
            // one directly (the same draw and the same staker).
            let n = self.ledger.stakers().filter(|(_, st)| st.is_active()).count();
            if n == 0 {
                return None;
            }
            let x = self.rng.uniform() * n as f64;
            let j = (x as usize).min(n - 1);
            return self.ledger.stakers().filter(|(_, st)| st.is_active()).nth(j).map(|(a, _)| *a);
        }
        // One buffer for the whole run: this is called at every delegation a delegator makes.
        let mut cands = std::mem::take(&mut self.pick_buf);
        cands.clear();
        cands.extend(
            self.ledger
                .stakers()
                .filter(|(_, st)| st.is_active())
                // x^0 = 1: skip the power when there is no brand bias (the same weights, bit for bit).
                .map(|(a, st)| {
                    (*a, if bias == 0.0 { 1.0 } else { to_opg(st.tokens).max(1.0).powf(bias) })
                }),
        );
        let total: f64 = cands.iter().map(|c| c.1).sum();
        let picked = if cands.is_empty() || total <= 0.0 {
            None
        } else {
            let mut x = self.rng.uniform() * total;
            let mut picked = cands.last().map(|c| c.0);
            for (a, w) in &cands {
                if x < *w {
                    picked = Some(*a);
                    break;
                }
                x -= w;
            }
            picked
        };
        self.pick_buf = cands;
        picked
    }

    /// Operator `i`'s reference to its self-bond: the one kept (the ledger checks it on use), else resolved
    /// now; `None` while it has no self-bond.
    fn own_ref(&mut self, i: usize) -> Option<DelegationRef> {
        let o = &mut self.operators[i];
        if o.own.is_none() {
            o.own = self.ledger.delegation_ref(o.addr, o.addr);
        }
        o.own
    }

    /// Three verifiers drawn with replacement for one operator's jobs of the day.
    fn pick_verifiers(&mut self) -> [Address; 3] {
        let n = self.verifiers.len() as u64;
        [0; 3].map(|_| self.verifiers[(self.rng.next_u64() % n) as usize])
    }

    fn fee_opg_per_job(&self) -> f64 {
        let d = &self.s.demand;
        match d.denomination {
            Denomination::Usd => d.fee_usd / self.price,
            Denomination::Opg => d.fee_usd / self.s.price.initial_usd,
        }
    }

    fn amm_reserves(&self) -> (f64, f64) {
        (to_opg(self.ledger.balance(addr(AMM))), to_opg(self.ledger.st_opg_balance(addr(AMM))))
    }

    fn fair_rate(&self) -> f64 {
        to_opg(self.ledger.lst_rate().per_st_opg_e18())
    }

    fn discount(&self) -> f64 {
        self.discount_at(self.fair_rate())
    }

    /// The discount at a given redemption rate (when the caller already has it).
    fn discount_at(&self, fair: f64) -> f64 {
        let (x, y) = self.amm_reserves();
        if y <= 0.0 || fair <= 0.0 { 0.0 } else { (1.0 - x / y / fair).max(0.0) }
    }

    /// Sells `st` stOPG into the pool for OPG (real ledger transfers). Returns OPG received.
    fn amm_sell_st(&mut self, who: Address, st: u128) -> f64 {
        let (x, y) = self.amm_reserves();
        let dy = to_opg(st);
        if dy <= 0.0 || x <= 0.0 {
            return 0.0;
        }
        let dx = x * dy / (y + dy) * (1.0 - AMM_FEE);
        let out = to_base(dx).min(self.ledger.balance(addr(AMM)));
        if out == 0 || self.ledger.lst_transfer(who, addr(AMM), st).is_err() {
            return 0.0;
        }
        if self.ledger.transfer(addr(AMM), who, out).is_err() {
            self.cum.rejected_ops += 1.0;
        }
        to_opg(out)
    }

    /// Buys stOPG from the pool with `opg`. Returns stOPG received.
    fn amm_buy_st(&mut self, who: Address, opg: u128) -> u128 {
        let (x, y) = self.amm_reserves();
        let dx = to_opg(opg);
        if dx <= 0.0 || y <= 0.0 {
            return 0;
        }
        let dy = y * dx / (x + dx) * (1.0 - AMM_FEE);
        let out = to_base(dy).min(self.ledger.st_opg_balance(addr(AMM)));
        if out == 0 || self.ledger.transfer(who, addr(AMM), opg).is_err() {
            return 0;
        }
        if self.ledger.lst_transfer(addr(AMM), who, out).is_err() {
            self.cum.rejected_ops += 1.0;
        }
        out
    }

    fn sell_opg(&mut self, who: Address, opg: f64) {
        let amount = to_base(opg).min(self.ledger.balance(who));
        if amount > 0 && self.ledger.transfer(who, addr(MARKET), amount).is_ok() {
            self.net_sell_opg += to_opg(amount);
        }
    }

    /// Buys OPG for `who`: from the market maker's float first, then from the delegators holding the most
    /// liquid OPG (holders sell at the day's price when the float runs dry). Returns what was bought.
    fn buy_opg(&mut self, who: Address, opg: f64) -> u128 {
        let mut want = to_base(opg);
        let mut got = 0;
        let take = want.min(self.ledger.balance(addr(MARKET)));
        if take > 0 && self.ledger.transfer(addr(MARKET), who, take).is_ok() {
            got += take;
            want -= take;
        }
        if want > 0 {
            let mut holders: Vec<(u128, Address)> = self
                .delegators
                .iter()
                .map(|d| (self.ledger.balance(d.addr), d.addr))
                .filter(|(b, _)| *b > 0)
                .collect();
            holders.sort_by(|a, b| b.cmp(a));
            for (bal, from) in holders {
                let take = want.min(bal);
                if take > 0 && self.ledger.transfer(from, who, take).is_ok() {
                    got += take;
                    want -= take;
                }
                if want == 0 {
                    break;
                }
            }
        }
        self.net_sell_opg -= to_opg(got);
        got
    }

    fn reject<T>(&mut self, r: Result<T, LedgerError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(_) => {
                self.cum.rejected_ops += 1.0;
                None
            }
        }
    }

    /// The price of day `day`: GBM with jumps, scheduled crash and yesterday's net selling.
    fn move_price(&mut self, day: u64) {
        let p = &self.s.price;
        let dt = 1.0 / 365.0;
        let z = self.rng.normal();
        let u = self.rng.uniform();
        let jz = self.rng.normal();
        let mut log_ret = p.drift * dt + p.volatility * dt.sqrt() * z;
        if u < p.jumps_per_year * dt {
            log_ret += p.jump_mean + p.jump_sd * jz;
        }
        let sold_usd = self.net_sell_opg * self.price;
        log_ret -= p.impact * sold_usd / p.market_depth_usd;
        if let Some(c) = &p.crash
            && day >= c.day
            && day < c.day + c.over_days.max(1)
        {
            log_ret += (1.0 - c.fraction).max(1e-9).ln() / c.over_days.max(1) as f64;
        }
        self.price = (self.price * log_ret.exp()).max(1e-9);
        self.net_sell_opg = 0.0;
    }

    fn demand(&self, day: u64, fee_usd: f64) -> f64 {
        let d = &self.s.demand;
        let years = day as f64 / 365.0;
        let mut jobs = d.jobs_per_day * (d.growth_per_year * years).exp();
        if let Some(sh) = &d.shock
            && day >= sh.day
        {
            let ramp = sh.ramp_days.max(1);
            let since = day - sh.day;
            let recovered = sh.recover_after_days.is_some_and(|r| since >= ramp + r);
            if !recovered {
                jobs *= 1.0 - sh.drop * (since as f64 / ramp as f64).min(1.0);
            }
        }
        if let Some(c) = &self.s.price.crash
            && day >= c.day
        {
            let progress = ((day - c.day) as f64 / c.over_days.max(1) as f64).min(1.0);
            jobs *= 1.0 - c.demand_loss * progress;
        }
        jobs * (fee_usd / d.fee_usd).powf(-d.elasticity) * self.trust
    }

    fn staker_tokens(&self, a: Address) -> f64 {
        self.ledger.get_staker(a).map_or(0.0, |s| to_opg(s.tokens))
    }

    fn is_active(&self, a: Address) -> bool {
        self.ledger.get_staker(a).is_some_and(|s| s.is_active())
    }

    /// One day. Returns its metrics.
    pub(crate) fn step(&mut self, day: u64) -> Result<Row, SimError> {
        let s = self.s;
        let height = day + 1;
        self.move_price(day);
        if let Some((d, hl)) = s.ledger.half_life_change
            && d == day
        {
            let mut p = self.ledger.params().clone();
            if let EmissionSchedule::DecayingPool { initial_pool, .. } = p.emission {
                p.emission = EmissionSchedule::DecayingPool {
                    initial_pool,
                    half_life_blocks: (hl * 365.0).round().max(1.0) as u64,
                };
            }
            self.ledger.set_params(p)?;
        }
        if let Some(c) = &s.operators.cost_shock
            && c.day == day
        {
            self.cost_multiplier *= c.factor;
        }
        let stats0 = self.ledger.stats().clone();
        let treasury0 = self.ledger.pools().treasury;
        self.ledger.begin_block(height)?;
        self.finish_exits(day);
        self.outage(day, height)?;
        self.unjail_operators();
        for i in 0..self.operators.len() {
            self.operators[i].income_opg = -to_opg(self.ledger.balance(self.operators[i].addr));
        }
        let vbal0: Vec<f64> =
            self.validators.iter().map(|v| to_opg(self.ledger.balance(*v))).collect();

        // Users and operators: demand, service, fees, cheating and verification.
        let fee_opg = self.fee_opg_per_job();
        let fee_usd = fee_opg * self.price;
        let demand = self.demand(day, fee_usd);
        let serving: Vec<usize> = (0..self.operators.len())
            .filter(|i| {
                let o = &self.operators[*i];
                o.state == OpState::Active && !o.offline && self.is_active(o.addr)
            })
            .collect();
        let capacity = serving.len() as f64 * s.operators.capacity_jobs_per_day;
        let served = demand.min(capacity);
        let per_op = if serving.is_empty() { 0.0 } else { served / serving.len() as f64 };
        self.buy_opg(
            addr(USERS),
            served * fee_opg * 1.001 + s.demand.tx_fees_usd_per_day / self.price,
        );
        let v = &s.verification;
        let cartel_on = s.cartel.as_ref().filter(|c| day >= c.start_day);
        let collude = cartel_on.map_or(0.0, |c| c.stake_share);
        let q = v.check_probability * (1.0 - self.lazy) * (1.0 - collude);
        let slash_frac = s.ledger.slash_wrong_inference;
        let r_job = fee_usd * s.ledger.fee_split[0];
        let c_job = s.operators.compute_cost_usd_per_job;
        let (mut cheated, mut detected_total, mut undetected) = (0.0, 0.0, 0.0);
        let mut margins = Vec::new();
        for &i in &serving {
            let op = self.operators[i].clone();
            let own = self.own_ref(i);
            let own_bond = to_opg(match &own {
                Some(r) => self.ledger.delegation_value_ref(op.addr, r),
                None => self.ledger.delegation_value(op.addr, op.addr),
            });
            let s_usd = slash_frac * own_bond * self.price + 7.0 * op.profit_ema.max(0.0);
            let g = if op.cartel && cartel_on.is_some() {
                cartel_on.map_or(0.0, |c| c.gain_usd_per_job)
            } else {
                s.operators.cheat_gain_usd_per_job
            };
            let margin = q * (r_job + s_usd) - c_job - (1.0 - q) * g;
            margins.push(margin);
            let cheat_share = match cartel_on {
                Some(c) if op.cartel => c.cheat_share,
                _ if s.operators.rational_cheating && margin < 0.0 => 1.0,
                _ => 0.0,
            };
            let jobs = per_op.floor();
            let fee = to_base(jobs * fee_opg);
            if fee > 0 {
                let picks = self.pick_verifiers();
                let r = self.ledger.pay_inference_fee(addr(USERS), op.addr, &picks, fee);
                self.reject(r);
            }
            let n_cheat = (jobs * cheat_share).round();
            let caught = self.rng.binomial(n_cheat, q);
            cheated += n_cheat;
            let gain = n_cheat * (c_job + g);
            if op.cartel {
                self.cum.cartel_profit_usd_cum += gain;
            }
            if caught > 0.0 {
                let before = own_bond;
                let value = s.demand.job_value_usd / self.price;
                let job = self.next_job;
                self.next_job += 1;
                let free = self.ledger.get_staker(op.addr).map_or(0, |st| st.free_bond());
                let want = self.ledger.job_lock_for(to_base(value)).unwrap_or(0).min(free);
                let declared = if s.ledger.job_bond > 0.0 {
                    to_base(to_opg(want) / s.ledger.job_bond)
                } else {
                    0
                };
                let challenger =
                    self.verifiers[(self.rng.next_u64() % self.verifiers.len() as u64) as usize];
                let r = self.ledger.lock_job(job, op.addr, declared);
                if self.reject(r).is_some() {
                    let r = self.ledger.prove_wrong_inference(job, challenger);
                    if let Some(out) = self.reject(r) {
                        self.cum.slashed_opg_cum += to_opg(out.total());
                        let after = to_opg(self.ledger.delegation_value(op.addr, op.addr));
                        if op.cartel {
                            self.cum.cartel_profit_usd_cum -= (before - after) * self.price;
                        }
                        detected_total += 1.0;
                        // Cheats after the first detection that day are not counted as caught.
                        undetected += n_cheat - 1.0;
                        self.trust *= 1.0 - s.demand.trust_loss;
                        continue;
                    }
                }
            }
            undetected += n_cheat;
        }
        self.trust += 0.01 * (1.0 - self.trust);
        // Transaction fees: base fee to validators, tip to the day's proposer.
        let tx_opg = s.demand.tx_fees_usd_per_day / self.price;
        if tx_opg > 0.0 {
            let active: Vec<Address> =
                self.validators.iter().copied().filter(|v| self.is_active(*v)).collect();
            if let Some(&proposer) = active.get(day as usize % active.len().max(1)) {
                let r = self.ledger.pay_tx_fee(
                    addr(USERS),
                    to_base(0.8 * tx_opg),
                    to_base(0.2 * tx_opg),
                    proposer,
                );
                self.reject(r);
            }
        }
        // Lazy verifiers: check only while catching fraud or forced errors pays for the check.
        let fraud_rate = if served > 0.0 { cheated / served } else { 0.0 };
        self.fraud_ema += (fraud_rate - self.fraud_ema) / EMA_DAYS;
        if v.lazy_speed > 0.0 {
            let bounty =
                s.ledger.challenger_reward * slash_frac * s.operators.self_bond_opg * self.price;
            let benefit = self.fraud_ema * bounty + v.forced_error_rate * v.jackpot_usd;
            if benefit < v.check_cost_usd {
                self.lazy += v.lazy_speed * (1.0 - self.lazy);
            } else {
                self.lazy -= v.lazy_speed * self.lazy;
            }
        }
        self.wash(day, fee_opg);
        self.evasion(day, per_op);
        self.slash_event(day)?;
        self.ledger.end_block();

        // Staker income, costs, selling, exit and entry.
        let mut op_profits = Vec::new();
        let mut op_income = Vec::new();
        let mut op_costs = Vec::new();
        let mut staker_income_usd = 0.0;
        for i in 0..self.operators.len() {
            let a = self.operators[i].addr;
            if self.operators[i].state != OpState::Active {
                continue;
            }
            // Refused only when there is no self-bond left: nothing to withdraw then.
            let _ = match self.own_ref(i) {
                Some(mut r) => {
                    let out = self.ledger.withdraw_rewards_ref(a, &mut r);
                    self.operators[i].own = Some(r);
                    out
                }
                None => self.ledger.withdraw_rewards(a, a),
            };
            let income = self.operators[i].income_opg + to_opg(self.ledger.balance(a));
            let cost =
                s.operators.cost_usd_per_day * self.operators[i].cost_factor * self.cost_multiplier;
            let profit = income * self.price - cost;
            staker_income_usd += income * self.price;
            self.cum.operator_profit_usd_cum += profit;
            let o = &mut self.operators[i];
            o.profit_ema += (profit - o.profit_ema) / EMA_DAYS;
            o.loss_days = if o.profit_ema < 0.0 { o.loss_days + 1 } else { 0 };
            op_profits.push(o.profit_ema);
            op_income.push(income);
            op_costs.push(cost);
            let sell = cost / self.price + s.operators.sell_share * income.max(0.0);
            self.sell_opg(a, sell);
        }
        // At most one operator leaves a day: the one losing the most among those past their patience.
        let leaver = (0..self.operators.len())
            .filter(|i| {
                let o = &self.operators[*i];
                o.state == OpState::Active && o.loss_days >= s.operators.exit_after_days
            })
            .min_by(|a, b| self.operators[*a].profit_ema.total_cmp(&self.operators[*b].profit_ema));
        if let Some(i) = leaver
            && day > 30
        {
            self.operator_exit(i, day);
        }
        for (k, v) in self.validators.clone().into_iter().enumerate() {
            let _ = self.ledger.withdraw_rewards(v, v);
            let income = to_opg(self.ledger.balance(v)) - vbal0[k];
            staker_income_usd += income * self.price;
            self.cum.operator_profit_usd_cum += income * self.price - s.validators.cost_usd_per_day;
            self.sell_opg(
                v,
                s.validators.cost_usd_per_day / self.price
                    + s.operators.sell_share * income.max(0.0),
            );
        }
        let mean_profit = if op_profits.is_empty() {
            0.0
        } else {
            op_profits.iter().sum::<f64>() / op_profits.len() as f64
        };
        // Entry: one a week while the average operator earns the entry threshold, one a day while demand
        // goes unserved and operators make money.
        let unmet = served < demand * 0.999;
        if (day >= self.last_entry_day + 7 && mean_profit > s.operators.entry_profit_usd_per_day)
            || (unmet && mean_profit > 0.0)
        {
            self.operator_entry(day);
        }

        // Capital: delegators review, stOPG market, churn-capped exits.
        let stats1 = self.ledger.stats().clone();
        let fees_to_stake = to_opg(
            stats1.rewards_allocated.inference_fees - stats0.rewards_allocated.inference_fees
                + stats1.rewards_allocated.tx_fees
                - stats0.rewards_allocated.tx_fees,
        );
        let emissions =
            to_opg(stats1.rewards_allocated.emissions - stats0.rewards_allocated.emissions);
        let staked = to_opg(self.ledger.total_bonded());
        let nominal = if staked > 0.0 { (fees_to_stake + emissions) * 365.0 / staked } else { 0.0 };
        let real = if staked > 0.0 { fees_to_stake * 365.0 / staked } else { 0.0 };
        self.nominal_ema += (nominal - self.nominal_ema) / if day == 0 { 1.0 } else { EMA_DAYS };
        self.delegators_review(day);
        self.lst_run(day);
        self.arbitrage();
        self.liquidations();
        let wait = self.process_exits();

        // Metrics.
        let st = self.ledger.stats().clone();
        // One walk over the pool's delegations gives both the rate and the pool's value.
        let rate = self.ledger.lst_rate();
        let fair = to_opg(rate.per_st_opg_e18());
        let fees_opg = to_opg(
            st.inference_fees - stats0.inference_fees + st.base_fees - stats0.base_fees + st.tips
                - stats0.tips,
        );
        let protocol = to_opg(self.ledger.pools().treasury - treasury0);
        let supply = to_opg(self.ledger.total_supply());
        let vstakes: Vec<f64> = self.validators.iter().map(|v| self.staker_tokens(*v)).collect();
        let all_stakes: Vec<f64> = self.ledger.stakers().map(|(_, s)| to_opg(s.tokens)).collect();
        let pool = to_opg(self.ledger.pools().incentive);
        let year_payout = to_opg(self.ledger.projected_emission(365));
        let lst_value = to_opg(rate.opg);
        let value_secured = served * s.demand.job_value_usd;
        let budget = staked * self.price * slash_frac;
        let med_income = quantile(&op_income, 0.5);
        let mut sorted_profits = op_profits.clone();
        sorted_profits.sort_by(f64::total_cmp);
        let med_cost = quantile(&op_costs, 0.5);
        self.cum.user_fees_usd_cum += fees_opg * self.price;
        self.cum.user_losses_usd_cum += undetected * s.demand.job_value_usd;
        self.cum.capital_rewards_usd_cum +=
            ((fees_to_stake + emissions) * self.price - staker_income_usd).max(0.0);
        let row = Row {
            day: day as f64,
            price_usd: self.price,
            demand_jobs: demand,
            served_jobs: served,
            capacity_jobs: capacity,
            served_share: if demand > 0.0 { served / demand } else { 1.0 },
            fee_usd_per_job: fee_usd,
            fees_usd: fees_opg * self.price,
            fees_to_stake_opg: fees_to_stake,
            emissions_opg: emissions,
            nominal_yield: nominal,
            real_yield: real,
            subsidy_ratio: if fees_to_stake + emissions > 0.0 {
                emissions / (fees_to_stake + emissions)
            } else {
                0.0
            },
            protocol_earnings_usd: (protocol - emissions) * self.price,
            staked_opg: staked,
            bonded_ratio: if supply > 0.0 { staked / supply } else { 0.0 },
            security_budget_usd: budget,
            value_secured_usd: value_secured,
            security_ratio: if value_secured > 0.0 { budget / value_secured } else { 1e9 },
            verified_share: v.check_probability * (1.0 - self.lazy),
            detection_rate: q,
            lazy_share: self.lazy,
            cheated_jobs: cheated,
            detected_cheats: detected_total,
            undetected_wrong: undetected,
            expected_loss_usd: undetected * s.demand.job_value_usd,
            honesty_margin_usd: quantile(&margins, 0.5),
            lst_discount: self.discount_at(fair),
            lst_rate: fair,
            unbonding_opg: to_opg(
                self.ledger.unbonding_entries().values().map(|e| e.balance).sum(),
            ),
            time_to_exit_days: wait + s.ledger.unbonding_days as f64,
            operators_active: op_profits.len() as f64,
            operators_unprofitable: op_profits.iter().filter(|p| **p < 0.0).count() as f64,
            operator_profit_p50_usd: quantile_sorted(&sorted_profits, 0.5),
            operator_profit_p10_usd: quantile_sorted(&sorted_profits, 0.1),
            operator_profit_p90_usd: quantile_sorted(&sorted_profits, 0.9),
            break_even_price_usd: if med_income > 0.0 { med_cost / med_income } else { 0.0 },
            nakamoto: f64::from(nakamoto(&vstakes, 1.0 / 3.0)),
            hhi: hhi(&all_stakes),
            lst_stake_share: if staked > 0.0 { (lst_value / staked).min(1.0) } else { 0.0 },
            incentive_pool_opg: pool,
            runway_years: if year_payout > 0.0 { pool / year_payout } else { 0.0 },
            cascade_ratio: if self.shock_opg > 0.0 {
                (self.shock_opg + self.forced_loss_opg) / self.shock_opg
            } else {
                0.0
            },
            ..self.cum.clone()
        };
        self.ledger.clear_events();
        Ok(row)
    }

    fn finish_exits(&mut self, day: u64) {
        for o in &mut self.operators {
            if let OpState::Exiting(until) = o.state
                && day >= until
            {
                o.state = OpState::Idle;
            }
        }
    }

    /// Correlated outage: the chosen operators go offline, are slashed for downtime once and jailed;
    /// they come back (unjail) when it ends.
    fn outage(&mut self, day: u64, height: u64) -> Result<(), SimError> {
        let Some(o) = self.s.operators.outage.clone() else { return Ok(()) };
        if day == o.day {
            let active: Vec<usize> = (0..self.operators.len())
                .filter(|i| self.operators[*i].state == OpState::Active)
                .collect();
            let n = (o.share * active.len() as f64).round() as usize;
            let total: f64 =
                active.iter().map(|i| self.staker_tokens(self.operators[*i].addr)).sum();
            let down: f64 =
                active.iter().take(n).map(|i| self.staker_tokens(self.operators[*i].addr)).sum();
            let saved = self.ledger.params().clone();
            if o.correlation_penalty && total > 0.0 {
                // Ethereum-style: the penalty grows with the share of stake that fails together.
                let f = (3.0 * down / total).min(1.0) * self.s.ledger.slash_wrong_inference;
                let mut p = saved.clone();
                p.slash_downtime_ppm = ppm(f.max(self.s.ledger.slash_downtime));
                self.ledger.set_params(p)?;
            }
            for &i in active.iter().take(n) {
                let a = self.operators[i].addr;
                self.operators[i].offline = true;
                let r = self.ledger.slash_downtime(a, height);
                if let Some(out) = self.reject(r) {
                    self.cum.slashed_opg_cum += to_opg(out.total());
                }
            }
            self.ledger.set_params(saved)?;
        }
        if day == o.day + o.days {
            for op in &mut self.operators {
                op.offline = false;
            }
        }
        Ok(())
    }

    fn unjail_operators(&mut self) {
        let height = self.ledger.height();
        for i in 0..self.operators.len() {
            let o = &self.operators[i];
            if o.state != OpState::Active || o.offline {
                continue;
            }
            let jailed = self
                .ledger
                .get_staker(o.addr)
                .and_then(|s| s.jailed_until)
                .is_some_and(|u| u <= height);
            if jailed {
                let r = self.ledger.unjail(o.addr);
                self.reject(r);
            }
        }
    }

    fn operator_exit(&mut self, i: usize, day: u64) {
        let a = self.operators[i].addr;
        let own = self.ledger.delegation_value(a, a);
        if own == 0 {
            return;
        }
        let r = self.ledger.undelegate(a, a, own);
        if self.reject(r).is_some() {
            self.operators[i].state = OpState::Exiting(day + self.s.ledger.unbonding_days + 1);
        }
    }

    fn operator_entry(&mut self, day: u64) {
        let bond = to_base(self.s.operators.self_bond_opg);
        let Some(i) = (0..self.operators.len()).find(|i| {
            self.operators[*i].state == OpState::Idle
                && self.ledger.balance(self.operators[*i].addr) >= bond
        }) else {
            return;
        };
        let a = self.operators[i].addr;
        let ok = if self.ledger.get_staker(a).is_some() {
            let r = self.ledger.delegate(a, a, bond);
            self.reject(r).is_some() && {
                let r = self.ledger.unjail(a);
                self.reject(r).is_some()
            }
        } else {
            let r = self.ledger.create_staker(
                a,
                Role::Operator,
                bond,
                ppm(self.s.operators.commission),
            );
            self.reject(r).is_some()
        };
        if ok {
            let o = &mut self.operators[i];
            o.state = OpState::Active;
            o.profit_ema = 0.0;
            o.loss_days = 0;
            self.last_entry_day = day;
        }
    }

    /// S14: washing operators buy OPG and pay fees for fake jobs they serve themselves; their profit is what
    /// comes back to them (balance plus pending self-bond rewards) minus what they paid.
    fn wash(&mut self, day: u64, fee_opg: f64) {
        let Some(w) = self.s.wash.clone() else { return };
        if day < w.start_day {
            return;
        }
        let fee = to_base(w.jobs_per_day * fee_opg);
        for i in 0..(w.operators as usize).min(self.operators.len()) {
            let op = self.operators[i].addr;
            if fee == 0 || self.operators[i].state != OpState::Active || !self.is_active(op) {
                continue;
            }
            let bought = self.buy_opg(op, to_opg(fee));
            self.operators[i].income_opg -= to_opg(bought);
            let worth = |l: &Ledger| to_opg(l.balance(op) + l.pending_rewards(op, op).total());
            let before = worth(&self.ledger);
            let picks = self.pick_verifiers();
            let r = self.ledger.pay_inference_fee(op, op, &picks, bought.min(fee));
            if self.reject(r).is_some() {
                self.cum.wash_profit_usd_cum += (worth(&self.ledger) - before) * self.price;
            }
        }
    }

    /// S15: on the evasion day, the evaders fake their jobs, lock one job's bond and undelegate their free
    /// self-bond; `detection_lag_days` later the fraud is proven, which the ledger accepts only while the
    /// job's challenge window is open (and then slashes the unbonding entries too).
    fn evasion(&mut self, day: u64, per_op: f64) {
        let Some(e) = self.s.evasion.clone() else { return };
        if day == e.day {
            for i in 0..(e.operators as usize).min(self.operators.len()) {
                let op = self.operators[i].addr;
                if self.operators[i].state != OpState::Active || !self.is_active(op) {
                    continue;
                }
                self.cum.evasion_profit_usd_cum += per_op.floor() * e.gain_usd_per_job;
                let value = self.s.demand.job_value_usd / self.price;
                let free = self.ledger.get_staker(op).map_or(0, |st| st.free_bond());
                let want = self.ledger.job_lock_for(to_base(value)).unwrap_or(0).min(free / 2);
                let declared = if self.s.ledger.job_bond > 0.0 {
                    to_base(to_opg(want) / self.s.ledger.job_bond)
                } else {
                    0
                };
                let job = self.next_job;
                self.next_job += 1;
                let r = self.ledger.lock_job(job, op, declared);
                if self.reject(r).is_none() {
                    continue;
                }
                self.evasions.push((job, op, day + e.detection_lag_days));
                let free = self.ledger.get_staker(op).map_or(0, |st| st.free_bond());
                let own = self.ledger.delegation_value(op, op).min(free);
                if own > 0 {
                    let r = self.ledger.undelegate(op, op, own);
                    if self.reject(r).is_some() {
                        self.operators[i].state =
                            OpState::Exiting(day + self.s.ledger.unbonding_days + 1);
                    }
                }
            }
        }
        let due: Vec<(u64, Address, u64)> =
            self.evasions.iter().copied().filter(|(_, _, d)| *d == day).collect();
        self.evasions.retain(|(_, _, d)| *d != day);
        for (job, op, _) in due {
            if self.ledger.job(job).is_none() {
                // The challenge window closed: the proof is refused and the evader keeps its bond.
                continue;
            }
            let own_before = to_opg(self.ledger.delegation_value(op, op));
            let challenger = self.verifiers[0];
            if let Ok(out) = self.ledger.prove_wrong_inference(job, challenger) {
                let own_after = to_opg(self.ledger.delegation_value(op, op));
                let lost = own_before - own_after + to_opg(out.from_unbonding);
                self.cum.evasion_profit_usd_cum -= lost * self.price;
                self.cum.slashed_opg_cum += to_opg(out.total());
            }
        }
    }

    /// S9: the largest operator is slashed once, through a job whose locked bond is the slash.
    fn slash_event(&mut self, day: u64) -> Result<(), SimError> {
        let Some(e) = self.s.slash_event.clone() else { return Ok(()) };
        if e.day != day {
            return Ok(());
        }
        let Some((a, st)) = self
            .ledger
            .stakers()
            .filter(|(_, s)| s.role == Role::Operator && s.is_active())
            .max_by_key(|(_, s)| s.tokens)
            .map(|(a, s)| (*a, s.clone()))
        else {
            return Ok(());
        };
        let lock = to_base(to_opg(st.tokens) * e.fraction).min(st.free_bond());
        let job_bond = self.s.ledger.job_bond.max(1e-6);
        let declared = to_base(to_opg(lock) / job_bond);
        let job = self.next_job;
        self.next_job += 1;
        self.ledger.lock_job(job, a, declared)?;
        let out = self.ledger.prove_wrong_inference(job, self.verifiers[0])?;
        self.shock_opg = to_opg(out.total());
        self.cum.slashed_opg_cum += self.shock_opg;
        Ok(())
    }

    /// Yield-chasing delegators: each reviews every `review_days`, withdraws and sells part of its rewards,
    /// moves stake away from jailed stakers, leaves below the alternative yield and comes back above it.
    fn delegators_review(&mut self, day: u64) {
        let d = self.s.delegators.clone();
        let commission = self.s.ledger.commission;
        let y = self.nominal_ema * (1.0 - commission);
        for k in 0..self.delegators.len() {
            let offset = self.delegators[k].offset;
            if !(day + u64::from(offset)).is_multiple_of(u64::from(d.review_days)) || day == 0 {
                continue;
            }
            let who = self.delegators[k].addr;
            let before = self.ledger.balance(who);
            let mut mine = std::mem::take(&mut self.delegators[k].positions);
            debug_assert!(mine.is_sorted_by(|a, b| a.staker() < b.staker()));
            // Withdrawing from every position also finds the positions that are gone (fully undelegated).
            self.ledger.withdraw_rewards_refs(who, &mut mine);
            self.delegators[k].positions.clone_from(&mine);
            let rewards = to_opg(self.ledger.balance(who).saturating_sub(before));
            self.sell_opg(who, rewards * d.sell_share);
            for r in &mine {
                let st = r.staker();
                if !self.ledger.staker_of(r).is_some_and(|s| s.is_active()) {
                    let amount = self.ledger.delegation_value_ref(who, r);
                    if let Some(to) = self.pick_staker()
                        && amount > 0
                    {
                        let r = self.ledger.redelegate(who, st, to, amount);
                        if self.reject(r).is_some() {
                            let to_ref = self.ledger.delegation_ref(who, to);
                            self.delegators[k].add_position(to_ref);
                        }
                    }
                }
            }
            if y < d.alt_yield - d.band {
                for r in &mine {
                    let st = r.staker();
                    let amount =
                        to_base(to_opg(self.ledger.delegation_value_ref(who, r)) * d.move_share);
                    if amount > 0 {
                        self.exits.push_back(PendingExit {
                            who,
                            kind: ExitKind::Undelegate(st),
                            amount,
                        });
                    }
                }
                let st_bal = to_base(to_opg(self.ledger.st_opg_balance(who)) * d.move_share);
                if st_bal > 0 {
                    self.exit_lst(who, st_bal, false);
                }
            } else if y > d.alt_yield + d.band {
                let liquid = to_base(to_opg(self.ledger.balance(who)) * d.move_share);
                if to_opg(liquid) >= 1.0 {
                    if self.rng.uniform() < d.lst_share {
                        let r = self.ledger.lst_deposit(who, liquid);
                        self.reject(r);
                    } else if let Some(to) = self.pick_staker() {
                        let r = self.ledger.delegate(who, to, liquid);
                        if self.reject(r).is_some() {
                            let to_ref = self.ledger.delegation_ref(who, to);
                            self.delegators[k].add_position(to_ref);
                        }
                    }
                }
            }
        }
    }

    /// Leaves a stOPG position: sell into the pool when its discount is below the cost of waiting out the
    /// queue (or when redemption is off, or for a holder in a panic), else redeem through the queue.
    fn exit_lst(&mut self, who: Address, st: u128, panic: bool) {
        let carry = self.s.delegators.alt_yield * self.s.ledger.unbonding_days as f64 / 365.0
            + self.s.lst.arb_premium;
        if !self.s.lst.redemption || panic || self.discount() <= carry {
            self.amm_sell_st(who, st);
        } else {
            self.exits.push_back(PendingExit { who, kind: ExitKind::Redeem, amount: st });
        }
    }

    /// S8: a share of every holder's stOPG leaves over a few days; half of it in a panic (sold at any price).
    fn lst_run(&mut self, day: u64) {
        let Some(run) = self.s.lst.run.clone() else { return };
        if day == run.day {
            self.run_base = self
                .delegators
                .iter()
                .map(|d| (d.addr, self.ledger.st_opg_balance(d.addr)))
                .filter(|(_, b)| *b > 0)
                .collect();
        }
        if day < run.day || day >= run.day + run.days.max(1) {
            return;
        }
        for (k, (who, base)) in self.run_base.clone().into_iter().enumerate() {
            let part = to_base(to_opg(base) * run.share / run.days.max(1) as f64)
                .min(self.ledger.st_opg_balance(who));
            if part > 0 {
                self.exit_lst(who, part, k % 2 == 0);
            }
        }
    }

    /// Two-way arbitrage: buy discounted stOPG and redeem it (only with redemption), or mint stOPG and sell it
    /// when the pool pays a premium.
    fn arbitrage(&mut self) {
        let fair = self.fair_rate();
        let (x, y) = self.amm_reserves();
        if fair <= 0.0 || y <= 0.0 || x <= 0.0 {
            return;
        }
        let price = x / y;
        let carry = self.s.delegators.alt_yield * self.s.ledger.unbonding_days as f64 / 365.0
            + self.s.lst.arb_premium;
        let k = x * y;
        let arb = addr(ARB);
        let hold = self.s.lst.hold_discount;
        if !self.s.lst.redemption && hold > 0.0 && price < fair * (1.0 - hold) {
            // No redemption: buy the discount and hold it (it is worth `fair` once redemption opens).
            let target = fair * (1.0 - hold);
            let dx = ((k * target).sqrt() - x).max(0.0);
            let spend = to_base(dx).min(self.ledger.balance(arb));
            self.amm_buy_st(arb, spend);
        } else if self.s.lst.redemption && price < fair * (1.0 - carry) {
            let target = fair * (1.0 - carry);
            let dx = ((k * target).sqrt() - x).max(0.0);
            let spend = to_base(dx).min(self.ledger.balance(arb));
            let got = self.amm_buy_st(arb, spend);
            if got > 0 {
                let r = self.ledger.lst_redeem(arb, got);
                self.reject(r);
            }
        } else if price > fair * (1.0 + 0.001) {
            let target = fair * 1.001;
            let dy = ((k / target).sqrt() - y).max(0.0);
            let spend = to_base(dy * fair).min(self.ledger.balance(arb));
            if spend > 0
                && let Some(minted) = {
                    let r = self.ledger.lst_deposit(arb, spend);
                    self.reject(r)
                }
            {
                self.amm_sell_st(arb, minted);
            }
        }
    }

    /// S9: stOPG pledged as collateral is sold by force once its market value falls far enough.
    fn liquidations(&mut self) {
        if self.liquidated || self.collateral_value0 <= 0.0 {
            return;
        }
        let b = addr(BORROWER);
        let st = self.ledger.st_opg_balance(b);
        let (x, y) = self.amm_reserves();
        if y <= 0.0 {
            return;
        }
        let market_value = to_opg(st) * x / y;
        if market_value < self.collateral_value0 * (1.0 - self.s.lst.liquidation_drop) {
            self.liquidated = true;
            let fair_value = to_opg(st) * self.fair_rate();
            let got = self.amm_sell_st(b, st);
            self.forced_loss_opg += (fair_value - got).max(0.0);
        }
    }

    /// Runs queued exits up to the churn cap. Returns the days an exit requested now waits before it starts
    /// unbonding.
    fn process_exits(&mut self) -> f64 {
        let cap = self.s.delegators.exit_cap_opg_per_day;
        let mut budget = if cap > 0.0 { cap } else { f64::INFINITY };
        while let Some(e) = self.exits.front().cloned() {
            let value = match e.kind {
                ExitKind::Undelegate(_) => to_opg(e.amount),
                ExitKind::Redeem => to_opg(e.amount) * self.fair_rate(),
            };
            if value > budget && budget < f64::INFINITY {
                break;
            }
            budget -= value;
            self.exits.pop_front();
            match e.kind {
                ExitKind::Undelegate(st) => {
                    let amount = e.amount.min(self.ledger.delegation_value(e.who, st));
                    if amount > 0 {
                        let r = self.ledger.undelegate(e.who, st, amount);
                        self.reject(r);
                    }
                }
                ExitKind::Redeem => {
                    let amount = e.amount.min(self.ledger.st_opg_balance(e.who));
                    if amount > 0 {
                        let r = self.ledger.lst_redeem(e.who, amount);
                        self.reject(r);
                    }
                }
            }
        }
        if cap > 0.0 {
            let backlog: f64 = self.exits.iter().map(|e| to_opg(e.amount)).sum();
            backlog / cap
        } else {
            0.0
        }
    }
}
