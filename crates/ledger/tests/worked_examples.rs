//! Worked examples: small scenarios whose numbers were computed by hand (the arithmetic is in the comments).

use ogn_ledger::{
    Address, BySource, EmissionSchedule, Ledger, LedgerError, OPG, Params, Role, event::Event,
    script::short_params,
};

fn a(i: u64) -> Address {
    Address::from_index(i)
}

/// Short periods, no emissions, commission free to be zero.
fn params() -> Params {
    Params {
        emission: EmissionSchedule::DecayingPool { initial_pool: 0, half_life_blocks: 1 },
        unbonding_period_blocks: 100,
        max_evidence_age_blocks: 100,
        challenge_window_blocks: 10,
        blocks_per_day: 10,
        min_commission_ppm: 0,
        min_self_bond_validator: 100 * OPG,
        min_self_bond_operator: 100 * OPG,
        ..short_params(false)
    }
}

fn checked(l: &Ledger) {
    l.check_invariants().unwrap();
}

/// A 5 % double-sign slash reaches an unbonding entry created after the fault but not one created before it.
#[test]
fn slash_during_unbonding() {
    let (v, d, reporter) = (a(1), a(2), a(3));
    let mut l = Ledger::new(params(), [(v, 1_000 * OPG), (d, 1_000 * OPG)]).unwrap();
    let supply0 = l.total_supply();
    l.create_staker(v, Role::Validator, 1_000 * OPG, 0).unwrap();
    l.delegate(d, v, 1_000 * OPG).unwrap();
    // h=12: undelegate 100 (before the fault at 15: not slashable).
    l.begin_block(12).unwrap();
    let early = l.undelegate(d, v, 100 * OPG).unwrap();
    // h=20: undelegate 400 (after the fault: slashable).
    l.begin_block(20).unwrap();
    let late = l.undelegate(d, v, 400 * OPG).unwrap();
    checked(&l);
    // h=30: double-sign at h=15 proven. Bonded 1,500 → cut 75; late entry 400 → cut 20; total 95;
    // the reporter gets 50 % = 47.5, 47.5 is burned.
    l.begin_block(30).unwrap();
    let out = l.slash_double_sign(v, 15, Some(reporter)).unwrap();
    assert_eq!(out.from_bonded, 75 * OPG);
    assert_eq!(out.from_unbonding, 20 * OPG);
    assert_eq!(out.to_challenger, 475 * OPG / 10);
    assert_eq!(out.burned, 475 * OPG / 10);
    assert_eq!(l.balance(reporter), 475 * OPG / 10);
    assert_eq!(l.total_supply(), supply0 - 475 * OPG / 10);
    assert_eq!(l.unbonding_entries()[&early].balance, 100 * OPG);
    assert_eq!(l.unbonding_entries()[&late].balance, 380 * OPG);
    // D keeps 500 of 1,500 shares of 1,425 tokens = 475; V keeps 950.
    assert_eq!(l.delegation_value(d, v), 475 * OPG);
    assert_eq!(l.delegation_value(v, v), 950 * OPG);
    assert!(l.get_staker(v).unwrap().tombstoned);
    checked(&l);
    // Payouts: 100 at h=112, 380 at h=120.
    l.begin_block(112).unwrap();
    assert_eq!(l.balance(d), 100 * OPG);
    l.begin_block(120).unwrap();
    assert_eq!(l.balance(d), 480 * OPG);
    checked(&l);
}

/// A commission change applies to the next rewards only, within the daily limit.
#[test]
fn commission_change() {
    let (v, d, payer) = (a(1), a(2), a(3));
    let p = Params { max_commission_change_ppm: 50_000, ..params() };
    let mut l = Ledger::new(p, [(v, 1_000 * OPG), (d, 3_000 * OPG), (payer, 1_000 * OPG)]).unwrap();
    l.create_staker(v, Role::Validator, 1_000 * OPG, 100_000).unwrap();
    l.delegate(d, v, 3_000 * OPG).unwrap();
    // Base fee 100 at 10 %: commission 10; 90 over 4,000 shares: V 22.5, D 67.5.
    l.pay_tx_fee(payer, 100 * OPG, 0, v).unwrap();
    l.end_block();
    assert_eq!(l.balance(v), 10 * OPG);
    assert_eq!(l.pending_rewards(d, v).tx_fees, 675 * OPG / 10);
    // Too soon (a day is 10 blocks), then too large (6 points > 5), then 10 % → 15 %.
    l.begin_block(5).unwrap();
    assert_eq!(
        l.set_commission(v, 150_000),
        Err(LedgerError::CommissionChangeTooSoon { next_height: 10 })
    );
    l.begin_block(10).unwrap();
    assert!(matches!(
        l.set_commission(v, 160_000),
        Err(LedgerError::CommissionChangeTooLarge { .. })
    ));
    assert!(matches!(l.set_commission(v, 600_000), Err(LedgerError::CommissionOutOfRange { .. })));
    l.set_commission(v, 150_000).unwrap();
    // Base fee 100 at 15 %: commission 15; 85: V 21.25, D 63.75.
    l.pay_tx_fee(payer, 100 * OPG, 0, v).unwrap();
    l.end_block();
    assert_eq!(l.balance(v), 25 * OPG);
    assert_eq!(l.pending_rewards(d, v).tx_fees, 13_125 * OPG / 100);
    assert_eq!(l.pending_rewards(v, v).tx_fees, 4_375 * OPG / 100);
    l.withdraw_rewards(d, v).unwrap();
    assert_eq!(l.balance(d), 13_125 * OPG / 100);
    assert_eq!(l.pending_rewards(d, v), BySource::default());
    checked(&l);
}

/// Inference fees and emissions reach three delegators of one operator in proportion 1 : 3 : 6, each source
/// tracked apart.
#[test]
fn two_sources_three_delegators() {
    let (owner, b, c, payer) = (a(1), a(2), a(3), a(4));
    let verifier = a(5);
    // 10 % a year on a 100,000 OPG supply, 100 blocks a year: 100 OPG per block.
    let p = Params {
        emission: EmissionSchedule::InflationCurve {
            max_ppm: 100_000,
            min_ppm: 100_000,
            target_bonded_ppm: 500_000,
        },
        blocks_per_year: 100,
        ..params()
    };
    let balances =
        [(owner, 1_000 * OPG), (b, 3_000 * OPG), (c, 6_000 * OPG), (payer, 90_000 * OPG)];
    let mut l = Ledger::new(p, balances).unwrap();
    l.create_staker(owner, Role::Operator, 1_000 * OPG, 200_000).unwrap();
    l.delegate(b, owner, 3_000 * OPG).unwrap();
    l.delegate(c, owner, 6_000 * OPG).unwrap();
    // Emissions: 100 OPG, all to operators (no validators): commission 20, 80 → 8 / 24 / 48.
    l.begin_block(1).unwrap();
    l.end_block();
    assert_eq!(l.stats().emitted_minted, 100 * OPG);
    // Inference fee 1,000: operator 70 % = 700 → commission 140, 560 → 56 / 168 / 336; verifier 100;
    // validators' 150 waits in the collector (no validator); treasury 50.
    l.pay_inference_fee(payer, owner, &[verifier], 1_000 * OPG).unwrap();
    assert_eq!(l.balance(verifier), 100 * OPG);
    assert_eq!(l.pools().treasury, 50 * OPG);
    let expect = |fees: u128, em: u128| BySource {
        inference_fees: fees * OPG,
        emissions: em * OPG,
        tx_fees: 0,
    };
    assert_eq!(l.pending_rewards(owner, owner), expect(56, 8));
    assert_eq!(l.pending_rewards(b, owner), expect(168, 24));
    assert_eq!(l.pending_rewards(c, owner), expect(336, 48));
    assert_eq!(l.balance(owner), 160 * OPG);
    // Withdrawing reports the split by source.
    l.take_events();
    l.withdraw_rewards(c, owner).unwrap();
    assert!(l.take_events().contains(&Event::RewardsWithdrawn {
        delegator: c,
        staker: owner,
        amounts: expect(336, 48)
    }));
    checked(&l);
}

/// The stOPG rate falls with a slash of a staker the pool delegates to; later deposits and redemptions use it.
#[test]
fn lst_rate_after_a_slash() {
    let (v1, v2, alice, bob, carol) = (a(1), a(2), a(3), a(4), a(5));
    let balances = [
        (v1, 1_000 * OPG),
        (v2, 1_000 * OPG),
        (alice, 1_000 * OPG),
        (bob, 1_000 * OPG),
        (carol, 975 * OPG),
    ];
    let mut l = Ledger::new(params(), balances).unwrap();
    l.create_staker(v1, Role::Validator, 1_000 * OPG, 0).unwrap();
    l.create_staker(v2, Role::Validator, 1_000 * OPG, 0).unwrap();
    // Rate 1: 1,000 stOPG each; the pool's rule sends Alice's OPG to v1 (least pool stake, lowest address)
    // and Bob's to v2.
    assert_eq!(l.lst_deposit(alice, 1_000 * OPG).unwrap(), 1_000 * OPG);
    assert_eq!(l.lst_deposit(bob, 1_000 * OPG).unwrap(), 1_000 * OPG);
    assert_eq!(l.delegation_value(Address::LST_POOL, v1), 1_000 * OPG);
    assert_eq!(l.delegation_value(Address::LST_POOL, v2), 1_000 * OPG);
    // v1 double-signs: 5 % of 2,000 = 100; the pool's stake at v1 is now 950; value 1,950 for 2,000 stOPG.
    l.begin_block(1).unwrap();
    l.slash_double_sign(v1, 1, None).unwrap();
    let rate = l.lst_rate();
    assert_eq!((rate.opg, rate.st_opg), (1_950 * OPG, 2_000 * OPG));
    assert_eq!(rate.per_st_opg_e18(), 975 * OPG / 1_000);
    // Carol deposits 975 OPG: 975 × 2,000 / 1,950 = 1,000 stOPG (to v2: v1 is tombstoned).
    assert_eq!(l.lst_deposit(carol, 975 * OPG).unwrap(), 1_000 * OPG);
    assert_eq!(l.delegation_value(Address::LST_POOL, v2), 1_975 * OPG);
    // Alice redeems 1,000 stOPG: 1,000 × 2,925 / 3,000 = 975 OPG, from v2 (largest pool stake), paid after
    // the unbonding period.
    assert_eq!(l.lst_redeem(alice, 1_000 * OPG).unwrap(), 975 * OPG);
    let q = l.lst_exit_queue();
    assert_eq!((q.entries, q.amount, q.last_completion_height), (1, 975 * OPG, Some(101)));
    assert_eq!(q.expected_exit_height, 101);
    assert_eq!(l.lst_rate().per_st_opg_e18(), 975 * OPG / 1_000);
    checked(&l);
    l.begin_block(101).unwrap();
    assert_eq!(l.balance(alice), 975 * OPG);
    // Redeeming more than held is refused and changes nothing.
    let before = l.clone();
    assert!(matches!(l.lst_redeem(bob, 1_001 * OPG), Err(LedgerError::InsufficientStOpg { .. })));
    assert_eq!(l, before);
    checked(&l);
}
