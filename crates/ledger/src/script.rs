//! Scripted operations for property tests, fuzzing and simulators: a compact [`Op`] decoded from 16 bytes,
//! applied to a [`Ledger`] with [`apply_checked`], which also checks that a refused operation changed
//! nothing and that every invariant holds afterwards.

use crate::{
    Ledger, LedgerError,
    address::Address,
    math::{OPG, PPM, mul_div},
    params::{EmissionSchedule, Params},
    staking::Role,
};

/// Accounts a script acts with: `Address::from_index(1..=ACTORS)`.
pub const ACTORS: u8 = 16;

/// One scripted operation. Actors are indices into `1..=ACTORS`; `*_ppm` fields are fractions of what the
/// actor holds, so random scripts hit the successful paths often.
// The fields are the named method's arguments, as actor indices and amounts.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// [`Ledger::transfer`].
    Transfer { from: u8, to: u8, amount: u128 },
    /// [`Ledger::create_staker`].
    CreateStaker { owner: u8, role: Role, self_bond: u128, commission_ppm: u64 },
    /// [`Ledger::delegate`].
    Delegate { delegator: u8, staker: u8, amount: u128 },
    /// [`Ledger::undelegate`] of a fraction of the delegation (all of it at 1,000,000).
    Undelegate { delegator: u8, staker: u8, fraction_ppm: u64 },
    /// [`Ledger::redelegate`] of a fraction of the delegation.
    Redelegate { delegator: u8, from: u8, to: u8, fraction_ppm: u64 },
    /// [`Ledger::withdraw_rewards`].
    Withdraw { delegator: u8, staker: u8 },
    /// [`Ledger::set_commission`] to the current rate plus `delta_ppm`.
    SetCommission { staker: u8, delta_ppm: i64 },
    /// [`Ledger::unjail`].
    Unjail { staker: u8 },
    /// [`Ledger::pay_inference_fee`] with `verifiers` verifiers (the actors after the payer).
    InferenceFee { payer: u8, operator: u8, verifiers: u8, amount: u128 },
    /// [`Ledger::pay_tx_fee`].
    TxFee { payer: u8, proposer: u8, base_fee: u128, tip: u128 },
    /// [`Ledger::lock_job`] with the next job id.
    LockJob { operator: u8, value: u128 },
    /// [`Ledger::prove_wrong_inference`] on the `nth` open job.
    ProveWrongInference { nth: u8, challenger: u8 },
    /// [`Ledger::slash_double_sign`] for a fault `age` blocks ago.
    DoubleSign { validator: u8, age: u64, reporter: u8 },
    /// [`Ledger::slash_downtime`] at the current height.
    Downtime { staker: u8 },
    /// [`Ledger::lst_deposit`].
    LstDeposit { account: u8, amount: u128 },
    /// [`Ledger::lst_redeem`] of a fraction of the holding.
    LstRedeem { account: u8, fraction_ppm: u64 },
    /// [`Ledger::lst_transfer`] of a fraction of the holding.
    LstTransfer { from: u8, to: u8, fraction_ppm: u64 },
    /// `begin_block(height + blocks)` then `end_block()`.
    Advance { blocks: u64 },
}

/// The address of actor `i`.
pub fn actor(i: u8) -> Address {
    Address::from_index(u64::from(i % ACTORS) + 1)
}

impl Op {
    /// Decodes one operation from 16 bytes (every byte string decodes to some operation).
    pub fn decode(b: &[u8; 16]) -> Op {
        let (x, y, z) = (b[1], b[2], b[3]);
        let raw = u64::from_le_bytes(b[4..12].try_into().expect("8 bytes"));
        // 1 base unit up to ~10^6 OPG, spread over every order of magnitude.
        let amount = u128::from(raw % 1_000_000 + 1) * 10u128.pow(u32::from(b[12] % 19));
        let fraction_ppm = if b[13].is_multiple_of(4) { PPM } else { raw % (PPM + 1) };
        match b[0] % 24 {
            0 => Op::Transfer { from: x, to: y, amount },
            1 => Op::CreateStaker {
                owner: x,
                role: if y % 2 == 0 { Role::Validator } else { Role::Operator },
                self_bond: u128::from(raw % 2_000 + 1) * OPG,
                commission_ppm: u64::from(b[13]) * 4_000,
            },
            2 | 3 => Op::Delegate { delegator: x, staker: y, amount },
            4 => Op::Undelegate { delegator: x, staker: y, fraction_ppm },
            5 => Op::Redelegate { delegator: x, from: y, to: z, fraction_ppm },
            6 => Op::Withdraw { delegator: x, staker: y },
            7 => Op::SetCommission { staker: x, delta_ppm: i64::from(b[13] as i8) * 100 },
            8 => Op::Unjail { staker: x },
            9 | 10 => Op::InferenceFee { payer: x, operator: y, verifiers: z % 4, amount },
            11 => Op::TxFee {
                payer: x,
                proposer: y,
                base_fee: amount,
                tip: amount / u128::from(z % 8 + 1),
            },
            12 => Op::LockJob { operator: x, value: amount },
            13 => Op::ProveWrongInference { nth: x, challenger: y },
            // Faults are rarer than ordinary operations, as they would be on a live network.
            14 => match b[14] % 64 {
                0 => Op::DoubleSign { validator: x, age: raw % 64, reporter: y },
                1..=8 => Op::Downtime { staker: x },
                _ => Op::Withdraw { delegator: x, staker: y },
            },
            15 | 16 => Op::LstDeposit { account: x, amount },
            17 => Op::LstRedeem { account: x, fraction_ppm },
            18 => Op::LstTransfer { from: x, to: y, fraction_ppm },
            _ => Op::Advance { blocks: if b[13] == 0xff { raw % 500 } else { 1 + raw % 8 } },
        }
    }

    /// Decodes a byte string 16 bytes at a time (a shorter tail is zero-padded).
    pub fn decode_all(bytes: &[u8]) -> Vec<Op> {
        bytes
            .chunks(16)
            .map(|c| {
                let mut b = [0u8; 16];
                b[..c.len()].copy_from_slice(c);
                Op::decode(&b)
            })
            .collect()
    }
}

/// The `i`-th staker (of `role`, if given; tombstoned ones only for `i ≥ 0xe0`) in address order, so random
/// scripts mostly name live stakers; an actor address for `i ≥ 0xf0` or when there is none.
fn staker(l: &Ledger, i: u8, role: Option<Role>) -> Address {
    let all: Vec<Address> = l
        .stakers()
        .filter(|(_, s)| role.is_none_or(|r| s.role == r) && (i >= 0xe0 || !s.tombstoned))
        .map(|(a, _)| *a)
        .collect();
    if all.is_empty() || i >= 0xf0 { actor(i) } else { all[usize::from(i) % all.len()] }
}

fn fraction(value: u128, ppm: u64) -> u128 {
    mul_div(value, u128::from(ppm), u128::from(PPM)).unwrap_or(value)
}

/// Applies one operation.
pub fn apply(l: &mut Ledger, op: &Op) -> Result<(), LedgerError> {
    match *op {
        Op::Transfer { from, to, amount } => l.transfer(actor(from), actor(to), amount),
        Op::CreateStaker { owner, role, self_bond, commission_ppm } => {
            l.create_staker(actor(owner), role, self_bond, commission_ppm)
        }
        Op::Delegate { delegator, staker: s, amount } => {
            let s = staker(l, s, None);
            l.delegate(actor(delegator), s, amount).map(drop)
        }
        Op::Undelegate { delegator, staker: s, fraction_ppm } => {
            let s = staker(l, s, None);
            let v = l.delegation_value(actor(delegator), s);
            l.undelegate(actor(delegator), s, fraction(v, fraction_ppm)).map(drop)
        }
        Op::Redelegate { delegator, from, to, fraction_ppm } => {
            let (from, to) = (staker(l, from, None), staker(l, to, None));
            let v = l.delegation_value(actor(delegator), from);
            l.redelegate(actor(delegator), from, to, fraction(v, fraction_ppm)).map(drop)
        }
        Op::Withdraw { delegator, staker: s } => {
            let s = staker(l, s, None);
            l.withdraw_rewards(actor(delegator), s).map(drop)
        }
        Op::SetCommission { staker, delta_ppm } => {
            let current = l.get_staker(actor(staker)).map_or(0, |s| s.commission_ppm);
            l.set_commission(actor(staker), current.saturating_add_signed(delta_ppm))
        }
        Op::Unjail { staker } => l.unjail(actor(staker)),
        Op::InferenceFee { payer, operator, verifiers, amount } => {
            let vs: Vec<Address> = (1..=verifiers).map(|i| actor(payer.wrapping_add(i))).collect();
            l.pay_inference_fee(
                actor(payer),
                staker(l, operator, Some(Role::Operator)),
                &vs,
                amount,
            )
        }
        Op::TxFee { payer, proposer, base_fee, tip } => {
            l.pay_tx_fee(actor(payer), base_fee, tip, staker(l, proposer, Some(Role::Validator)))
        }
        Op::LockJob { operator, value } => {
            let id = l.jobs.keys().next_back().map_or(0, |k| k + 1).max(l.height);
            l.lock_job(id, staker(l, operator, Some(Role::Operator)), value).map(drop)
        }
        Op::ProveWrongInference { nth, challenger } => {
            let n = l.jobs.len().max(1);
            let job = l.jobs.keys().nth(usize::from(nth) % n).copied().unwrap_or(u64::MAX);
            l.prove_wrong_inference(job, actor(challenger)).map(drop)
        }
        Op::DoubleSign { validator, age, reporter } => {
            let v = staker(l, validator, Some(Role::Validator));
            l.slash_double_sign(v, l.height.saturating_sub(age), Some(actor(reporter))).map(drop)
        }
        Op::Downtime { staker: s } => l.slash_downtime(staker(l, s, None), l.height).map(drop),
        Op::LstDeposit { account, amount } => l.lst_deposit(actor(account), amount).map(drop),
        Op::LstRedeem { account, fraction_ppm } => {
            let v = l.st_opg_balance(actor(account));
            l.lst_redeem(actor(account), fraction(v, fraction_ppm)).map(drop)
        }
        Op::LstTransfer { from, to, fraction_ppm } => {
            let v = l.st_opg_balance(actor(from));
            l.lst_transfer(actor(from), actor(to), fraction(v, fraction_ppm))
        }
        Op::Advance { blocks } => {
            l.begin_block(l.height + blocks)?;
            l.end_block();
            Ok(())
        }
    }
}

/// Applies one operation and checks it: a refused operation must leave the ledger exactly as it was, and
/// every invariant must hold afterwards. Returns whether the operation was accepted. Drains the ledger's
/// events (so the snapshot it takes stays small).
pub fn apply_checked(l: &mut Ledger, op: &Op) -> Result<bool, String> {
    l.take_events();
    let before = l.clone();
    let result = apply(l, op);
    if let Err(e) = &result
        && *l != before
    {
        return Err(format!("{op:?} was refused ({e}) but changed the ledger"));
    }
    l.check_invariants().map_err(|v| format!("after {op:?} ({result:?}): {v}"))?;
    Ok(result.is_ok())
}

/// Parameters with short periods (days of 20 blocks), so scripts see unbonding, jail terms, challenge
/// windows and emission decay within a few thousand operations.
pub fn short_params(inflation: bool) -> Params {
    let day = 20;
    Params {
        blocks_per_day: day,
        blocks_per_year: day * 365,
        unbonding_period_blocks: 3 * day,
        max_entries: 7,
        min_self_bond_validator: 100 * OPG,
        min_self_bond_operator: 10 * OPG,
        min_commission_ppm: 0,
        max_commission_ppm: 500_000,
        max_commission_change_ppm: 20_000,
        emission: if inflation {
            EmissionSchedule::InflationCurve {
                max_ppm: 200_000,
                min_ppm: 70_000,
                target_bonded_ppm: 670_000,
            }
        } else {
            EmissionSchedule::DecayingPool {
                initial_pool: 1_000_000 * OPG,
                half_life_blocks: 2_000,
            }
        },
        jail_wrong_inference_blocks: 2 * day,
        jail_downtime_blocks: 5,
        max_evidence_age_blocks: 3 * day,
        challenge_window_blocks: day,
        ..Params::default()
    }
}

/// A ledger for scripts: every actor starts with 10,000,000 OPG.
pub fn genesis(inflation: bool) -> Ledger {
    Ledger::new(short_params(inflation), (0..ACTORS).map(|i| (actor(i), 10_000_000 * OPG)))
        .expect("valid script genesis")
}
