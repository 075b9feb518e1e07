//! Rules and refusals: bad input is refused with a clear reason and changes nothing; bond locks, redelegation
//! slashing, evidence age, jail terms and the emission schedule behave as specified.

use ogn_ledger::{
    Address, EmissionSchedule, Ledger, LedgerError, OPG, Params, Role,
    math::{DECAY_SCALE, decay_rate, pow_scaled},
    script::short_params,
};

fn a(i: u64) -> Address {
    Address::from_index(i)
}

fn params() -> Params {
    Params {
        emission: EmissionSchedule::DecayingPool { initial_pool: 0, half_life_blocks: 1 },
        min_commission_ppm: 0,
        ..short_params(false)
    }
}

/// Runs `f`, expects an error matching `pred`, and checks the ledger did not change.
fn refused(
    l: &mut Ledger,
    f: impl FnOnce(&mut Ledger) -> Result<(), LedgerError>,
    pred: impl Fn(&LedgerError) -> bool,
) {
    let before = l.clone();
    let err = f(l).expect_err("must be refused");
    assert!(pred(&err), "unexpected error: {err}");
    assert!(!err.to_string().is_empty());
    assert_eq!(*l, before, "a refused operation changed the ledger ({err})");
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let (v, op, d) = (a(1), a(2), a(3));
    let mut l =
        Ledger::new(params(), [(v, 1_000 * OPG), (op, 1_000 * OPG), (d, 50 * OPG)]).unwrap();
    l.create_staker(v, Role::Validator, 500 * OPG, 0).unwrap();
    l.create_staker(op, Role::Operator, 500 * OPG, 0).unwrap();
    refused(
        &mut l,
        |l| l.delegate(d, v, 51 * OPG).map(drop),
        |e| matches!(e, LedgerError::InsufficientBalance { needed, available, .. } if *needed == 51 * OPG && *available == 50 * OPG),
    );
    refused(
        &mut l,
        |l| l.delegate(d, a(99), OPG).map(drop),
        |e| matches!(e, LedgerError::UnknownStaker(_)),
    );
    refused(&mut l, |l| l.delegate(d, v, 0).map(drop), |e| *e == LedgerError::ZeroAmount);
    refused(
        &mut l,
        |l| l.create_staker(d, Role::Validator, 10 * OPG, 0),
        |e| matches!(e, LedgerError::SelfBondBelowMinimum { .. }),
    );
    refused(
        &mut l,
        |l| l.create_staker(a(4), Role::Operator, 10 * OPG, 900_000),
        |e| matches!(e, LedgerError::CommissionOutOfRange { .. }),
    );
    refused(
        &mut l,
        |l| l.create_staker(v, Role::Operator, 10 * OPG, 0),
        |e| matches!(e, LedgerError::StakerExists(_)),
    );
    refused(
        &mut l,
        |l| l.undelegate(d, v, OPG).map(drop),
        |e| matches!(e, LedgerError::NoDelegation { .. }),
    );
    refused(
        &mut l,
        |l| l.undelegate(v, v, 501 * OPG).map(drop),
        |e| matches!(e, LedgerError::InsufficientDelegation { .. }),
    );
    refused(
        &mut l,
        |l| l.redelegate(v, v, v, OPG).map(drop),
        |e| matches!(e, LedgerError::RedelegateToSelf(_)),
    );
    refused(
        &mut l,
        |l| l.pay_inference_fee(d, v, &[], OPG),
        |e| matches!(e, LedgerError::WrongRole { .. }),
    );
    refused(
        &mut l,
        |l| l.pay_tx_fee(d, 0, OPG, op),
        |e| matches!(e, LedgerError::WrongRole { .. }),
    );
    refused(
        &mut l,
        |l| l.lst_redeem(d, 1).map(drop),
        |e| matches!(e, LedgerError::InsufficientStOpg { .. }),
    );
    refused(
        &mut l,
        |l| l.transfer(d, Address::LST_POOL, OPG),
        |e| matches!(e, LedgerError::ReservedAddress(_)),
    );
    refused(
        &mut l,
        |l| l.begin_block(0).and_then(|()| l.slash_downtime(v, 1).map(drop)),
        |e| matches!(e, LedgerError::InfractionInFuture { .. }),
    );
    refused(&mut l, |l| l.unjail(v), |e| matches!(e, LedgerError::NotJailed(_)));
    // Jailed: no new delegations from others; unjail only after the term.
    l.begin_block(5).unwrap();
    l.slash_downtime(v, 5).unwrap();
    let until = 5 + l.params().jail_downtime_blocks;
    refused(
        &mut l,
        |l| l.delegate(d, v, OPG).map(drop),
        |e| *e == LedgerError::StakerJailed { staker: v, until },
    );
    refused(&mut l, |l| l.unjail(v), |e| matches!(e, LedgerError::StakerJailed { .. }));
    l.begin_block(until).unwrap();
    l.unjail(v).unwrap();
    l.delegate(d, v, OPG).unwrap();
    // Evidence older than the maximum age.
    let h = until + l.params().max_evidence_age_blocks + 1;
    l.begin_block(h).unwrap();
    refused(
        &mut l,
        |l| l.slash_double_sign(v, until - 1, None).map(drop),
        |e| matches!(e, LedgerError::EvidenceTooOld { .. }),
    );
    refused(
        &mut l,
        |l| l.begin_block(h - 1),
        |e| matches!(e, LedgerError::HeightWentBackwards { .. }),
    );
    l.check_invariants().unwrap();
}

#[test]
fn job_bond_locks_follow_job_value_and_expire_with_the_window() {
    let (op, d, user, challenger) = (a(1), a(2), a(3), a(4));
    let mut l =
        Ledger::new(params(), [(op, 1_000 * OPG), (d, 1_000 * OPG), (user, 100 * OPG)]).unwrap();
    l.create_staker(op, Role::Operator, 600 * OPG, 0).unwrap();
    assert_eq!(l.lock_job(1, op, 400 * OPG).unwrap(), 400 * OPG);
    // 200 free: a 300-value job does not fit, a 200 one does.
    refused(
        &mut l,
        |l| l.lock_job(2, op, 300 * OPG).map(drop),
        |e| matches!(e, LedgerError::BondLocked { free, .. } if *free == 200 * OPG),
    );
    refused(&mut l, |l| l.lock_job(1, op, OPG).map(drop), |e| *e == LedgerError::JobExists(1));
    l.lock_job(2, op, 200 * OPG).unwrap();
    // Locked bond cannot leave.
    refused(
        &mut l,
        |l| l.undelegate(op, op, OPG).map(drop),
        |e| matches!(e, LedgerError::BondLocked { .. }),
    );
    assert_eq!(l.pick_operator(OPG, 12345), None);
    // The window closes: locks release, bond can leave, the job can no longer be challenged.
    l.begin_block(l.params().challenge_window_blocks).unwrap();
    assert_eq!(l.get_staker(op).unwrap().locked, 0);
    assert_eq!(l.pick_operator(OPG, 12345), Some(op));
    refused(
        &mut l,
        |l| l.prove_wrong_inference(1, challenger).map(drop),
        |e| *e == LedgerError::UnknownJob(1),
    );
    // A proven wrong result costs at least the job's lock: a 500-value job on a 600 bond → 5/6 of the bond
    // (rounded up to 833,334 ppm), above the 10 % parameter.
    l.lock_job(3, op, 500 * OPG).unwrap();
    let out = l.prove_wrong_inference(3, challenger).unwrap();
    assert_eq!(out.fraction_ppm, 833_334);
    assert_eq!(out.from_bonded, 600 * OPG * 833_334 / 1_000_000);
    assert!(out.from_bonded >= 500 * OPG);
    assert_eq!(out.to_challenger, out.from_bonded / 2);
    assert!(l.get_staker(op).unwrap().jailed_until.is_some());
    l.check_invariants().unwrap();
}

#[test]
fn redelegated_stake_is_slashed_for_the_source_fault() {
    let (v1, v2, d) = (a(1), a(2), a(3));
    let mut l =
        Ledger::new(params(), [(v1, 1_000 * OPG), (v2, 1_000 * OPG), (d, 1_000 * OPG)]).unwrap();
    l.create_staker(v1, Role::Validator, 1_000 * OPG, 0).unwrap();
    l.create_staker(v2, Role::Validator, 1_000 * OPG, 0).unwrap();
    l.delegate(d, v1, 1_000 * OPG).unwrap();
    l.begin_block(10).unwrap();
    l.redelegate(d, v1, v2, 1_000 * OPG).unwrap();
    // Cannot hop again before the redelegation matures.
    refused(
        &mut l,
        |l| l.redelegate(d, v2, v1, OPG).map(drop),
        |e| matches!(e, LedgerError::TransitiveRedelegation { .. }),
    );
    // Nor once the ledger has been saved and read back (the serialized form has no index of the records).
    let mut back: Ledger = serde_json::from_str(&serde_json::to_string(&l).unwrap()).unwrap();
    refused(
        &mut back,
        |l| l.redelegate(d, v2, v1, OPG).map(drop),
        |e| matches!(e, LedgerError::TransitiveRedelegation { .. }),
    );
    // v1 double-signed at height 5, before the move: 5 % of the 1,000 moved is taken at v2.
    l.begin_block(20).unwrap();
    let out = l.slash_double_sign(v1, 5, None).unwrap();
    assert_eq!(out.from_redelegations, 50 * OPG);
    assert_eq!(out.from_bonded, 50 * OPG);
    assert_eq!(l.delegation_value(d, v2), 950 * OPG);
    assert_eq!(l.delegation_value(v2, v2), 1_000 * OPG);
    l.check_invariants().unwrap();
}

#[test]
fn unbonding_entries_per_pair_are_capped_also_after_a_read_back() {
    let (v1, v2, d, e) = (a(1), a(2), a(3), a(4));
    let mut l = Ledger::new(
        params(),
        [(v1, 1_000 * OPG), (v2, 1_000 * OPG), (d, 1_000 * OPG), (e, 1_000 * OPG)],
    )
    .unwrap();
    l.create_staker(v1, Role::Validator, 1_000 * OPG, 0).unwrap();
    l.create_staker(v2, Role::Validator, 1_000 * OPG, 0).unwrap();
    l.delegate(d, v1, 500 * OPG).unwrap();
    l.delegate(d, v2, 500 * OPG).unwrap();
    l.delegate(e, v1, 500 * OPG).unwrap();
    let max = l.params().max_entries;
    for _ in 0..max {
        l.undelegate(d, v1, OPG).unwrap();
    }
    let full = |l: &mut Ledger| {
        refused(
            l,
            |l| l.undelegate(d, v1, OPG).map(drop),
            |err| matches!(err, LedgerError::TooManyEntries { .. }),
        );
        // Other pairs are not affected.
        let mut other = l.clone();
        other.undelegate(d, v2, OPG).unwrap();
        other.undelegate(e, v1, OPG).unwrap();
    };
    full(&mut l);
    // The serialized form has no index of the entries: a ledger read back counts them all the same.
    let mut back: Ledger = serde_json::from_str(&serde_json::to_string(&l).unwrap()).unwrap();
    full(&mut back);
    back.undelegate(e, v1, OPG).unwrap();
    full(&mut back);
    // Once the entries mature, the pair may unbond again.
    let done = l.height() + l.params().unbonding_period_blocks;
    for l in [&mut l, &mut back] {
        l.begin_block(done).unwrap();
        l.undelegate(d, v1, OPG).unwrap();
        l.check_invariants().unwrap();
    }
}

#[test]
fn the_default_pool_halves_in_fifteen_years() {
    let p = Params::default();
    let EmissionSchedule::DecayingPool { initial_pool, half_life_blocks } = p.emission else {
        panic!()
    };
    assert_eq!(initial_pool, 100_000_000 * OPG);
    let keep = DECAY_SCALE - decay_rate(half_life_blocks);
    // After one half-life, half is left (to 12 digits); after two, a quarter.
    let left = |n: u64| initial_pool / DECAY_SCALE.div_ceil(pow_scaled(keep, n)).max(1);
    assert_eq!(left(half_life_blocks), 50_000_000 * OPG);
    assert_eq!(left(2 * half_life_blocks), 25_000_000 * OPG);
    // First-year emission: P·(1 − 2^(−1/15)) = 4.5158 M OPG (λ·P = 4.62 M is the rate at t = 0).
    let mut l = Ledger::new(p.clone(), []).unwrap();
    let year = l.params().blocks_per_year;
    let first_year = l.projected_emission(year) / OPG;
    assert_eq!(first_year / 1_000, 4_515, "first-year emission {first_year}");
    // Per block, the same schedule (two blocks one by one ≈ two at once, within rounding).
    l.begin_block(1).unwrap();
    l.begin_block(2).unwrap();
    let two = l.stats().emitted_from_pool;
    assert!(two.abs_diff(Ledger::new(p, []).unwrap().projected_emission(2)) <= 2);
    assert_eq!(
        l.incentive_runway_blocks(500_000).map(|b| b.abs_diff(half_life_blocks) <= 2),
        Some(true)
    );
    l.check_invariants().unwrap();
}

#[test]
fn inflation_curve_falls_with_the_bonded_ratio() {
    let p = Params {
        emission: EmissionSchedule::InflationCurve {
            max_ppm: 200_000,
            min_ppm: 70_000,
            target_bonded_ppm: 500_000,
        },
        ..params()
    };
    let v = a(1);
    let mut l = Ledger::new(p, [(v, 1_000 * OPG)]).unwrap();
    assert_eq!(l.inflation_rate_ppm(), 200_000);
    l.create_staker(v, Role::Validator, 250 * OPG, 0).unwrap();
    // 25 % bonded, half the target: 200,000 − 130,000 / 2.
    assert_eq!(l.inflation_rate_ppm(), 135_000);
    l.delegate(v, v, 250 * OPG).unwrap();
    assert_eq!(l.inflation_rate_ppm(), 70_000);
    let year = l.params().blocks_per_year;
    l.begin_block(year).unwrap();
    assert_eq!(l.stats().emitted_minted, 70 * OPG);
    assert_eq!(l.total_supply(), 1_070 * OPG);
    l.check_invariants().unwrap();
}

#[test]
fn serialized_state_round_trips() {
    let mut l = ogn_ledger::script::genesis(false);
    l.create_staker(ogn_ledger::script::actor(0), Role::Validator, 1_000 * OPG, 0).unwrap();
    l.lst_deposit(ogn_ledger::script::actor(1), 10 * OPG).unwrap();
    l.begin_block(3).unwrap();
    l.end_block();
    let json = serde_json::to_string(&l).unwrap();
    let mut back: Ledger = serde_json::from_str(&json).unwrap();
    back.take_events();
    l.take_events();
    assert_eq!(back, l);
}

#[test]
fn batched_withdrawal_and_a_silent_ledger_change_nothing_but_speed() {
    let (v, op, d, user, verifier) = (a(1), a(2), a(3), a(4), a(5));
    let p = Params {
        emission: EmissionSchedule::DecayingPool {
            initial_pool: 1_000_000 * OPG,
            half_life_blocks: 100,
        },
        ..params()
    };
    let funds = [(v, 1_000 * OPG), (op, 1_000 * OPG), (d, 500 * OPG), (user, 100 * OPG)];
    let mut l = Ledger::new(p, funds).unwrap();
    l.create_staker(v, Role::Validator, 500 * OPG, 100_000).unwrap();
    l.create_staker(op, Role::Operator, 500 * OPG, 50_000).unwrap();
    l.delegate(d, v, 100 * OPG).unwrap();
    l.delegate(d, op, 200 * OPG).unwrap();
    let mut quiet = l.clone();
    quiet.set_record_events(false);
    for ledger in [&mut l, &mut quiet] {
        for h in 1..=5 {
            ledger.begin_block(h).unwrap();
            ledger.pay_inference_fee(user, op, &[verifier], 3 * OPG).unwrap();
            ledger.end_block();
        }
    }
    // Without the event log, the same state; with it, the events.
    assert!(quiet.take_events().is_empty());
    assert!(!l.take_events().is_empty());
    quiet.set_record_events(true);
    assert_eq!(quiet, l);

    // One batched withdrawal = one call per staker, in order; a staker without a delegation is dropped.
    let (mut one, mut many) = (l.clone(), l.clone());
    let mut expected = ogn_ledger::BySource::default();
    for st in [v, a(9), op] {
        if let Ok(x) = one.withdraw_rewards(d, st) {
            expected.inference_fees += x.inference_fees;
            expected.emissions += x.emissions;
            expected.tx_fees += x.tx_fees;
        }
    }
    let mut stakers = vec![v, a(9), op];
    let got = many.withdraw_rewards_many(d, &mut stakers);
    assert_eq!(stakers, vec![v, op]);
    assert!(got.emissions > 0 && got.inference_fees > 0, "{got:?}");
    assert_eq!(got, expected);
    assert_eq!(many.take_events(), one.take_events());
    assert_eq!(many, one);
    many.check_invariants().unwrap();
}

#[test]
fn withdrawal_through_references_is_the_withdrawal_by_address_even_when_they_are_stale() {
    let (v, op, d, d2, user) = (a(1), a(2), a(3), a(6), a(4));
    let p = Params {
        emission: EmissionSchedule::DecayingPool {
            initial_pool: 1_000_000 * OPG,
            half_life_blocks: 100,
        },
        ..params()
    };
    let funds =
        [(v, 1_000 * OPG), (op, 1_000 * OPG), (d, 500 * OPG), (d2, 500 * OPG), (user, 100 * OPG)];
    let mut l = Ledger::new(p, funds).unwrap();
    l.create_staker(v, Role::Validator, 500 * OPG, 100_000).unwrap();
    l.create_staker(op, Role::Operator, 500 * OPG, 50_000).unwrap();
    l.delegate(d, v, 100 * OPG).unwrap();
    l.delegate(d, op, 200 * OPG).unwrap();
    let mut refs: Vec<_> =
        [v, op].iter().map(|&st| l.delegation_ref(d, st).expect("delegated")).collect();
    assert_eq!(refs.iter().map(|r| r.staker()).collect::<Vec<_>>(), vec![v, op]);
    assert!(l.delegation_ref(d, a(9)).is_none());
    let block = |l: &mut Ledger, h: u64| {
        l.begin_block(h).unwrap();
        l.pay_inference_fee(user, op, &[a(5)], 3 * OPG).unwrap();
        l.end_block();
    };
    for h in 1..=3 {
        block(&mut l, h);
    }
    // d leaves v (its entry's slot is freed), d2 takes that slot, d comes back in another one; d leaves op.
    l.undelegate(d, v, l.delegation_value(d, v)).unwrap();
    l.delegate(d2, v, 50 * OPG).unwrap();
    l.delegate(d, v, 70 * OPG).unwrap();
    l.undelegate(d, op, l.delegation_value(d, op)).unwrap();
    for h in 4..=6 {
        block(&mut l, h);
    }
    assert_eq!(l.delegation_value_ref(d, &refs[0]), l.delegation_value(d, v));
    assert_eq!(l.delegation_value_ref(d, &refs[1]), 0);
    assert_eq!(l.staker_of(&refs[0]), l.get_staker(v));
    assert_eq!(l.staker_of(&refs[1]), l.get_staker(op));

    let (mut by_addr, mut by_ref) = (l.clone(), l);
    let (stale, mut gone) = (refs[0], refs[1]);
    let mut stakers = vec![v, op];
    let expected = by_addr.withdraw_rewards_many(d, &mut stakers);
    let got = by_ref.withdraw_rewards_refs(d, &mut refs);
    assert!(got.emissions > 0 && got.inference_fees > 0, "{got:?}");
    assert_eq!(got, expected);
    assert_eq!(stakers, vec![v]);
    assert_eq!(refs.iter().map(|r| r.staker()).collect::<Vec<_>>(), stakers);
    assert_eq!(by_ref.take_events(), by_addr.take_events());
    assert_eq!(by_ref, by_addr);
    // The stale reference was brought up to date: it now names d's new entry.
    assert_ne!(refs[0], stale);
    assert_eq!(refs[0], by_ref.delegation_ref(d, v).unwrap());
    by_ref.check_invariants().unwrap();

    // One reference at a time: as by address, stale or gone.
    let (mut one, mut other) = (by_ref.clone(), by_ref);
    for l in [&mut one, &mut other] {
        block(l, 7);
    }
    let mut r = stale;
    assert_eq!(one.withdraw_rewards_ref(d, &mut r), other.withdraw_rewards(d, v));
    assert_eq!(r, refs[0]);
    assert_eq!(one.withdraw_rewards_ref(d, &mut gone), other.withdraw_rewards(d, op));
    assert!(one.withdraw_rewards_ref(d, &mut gone).is_err());
    assert_eq!(one, other);
}
