//! The cost of a block's reward distribution does not depend on the number of delegators (F1 lazy
//! accounting). Run: `cargo bench -p ogn-ledger --bench distribution`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ogn_ledger::{Address, Ledger, OPG, Params, Role};

/// One validator and one operator; `delegators` accounts each delegate to both.
fn ledger_with(delegators: u64) -> Ledger {
    let validator = Address::from_index(1);
    let operator = Address::from_index(2);
    let payer = Address::from_index(3);
    let accounts = (10..10 + delegators).map(|i| (Address::from_index(i), 100 * OPG));
    let base = [(validator, 20_000 * OPG), (operator, 20_000 * OPG), (payer, 1_000_000_000 * OPG)];
    let mut l = Ledger::new(Params::default(), base.into_iter().chain(accounts)).unwrap();
    l.create_staker(validator, Role::Validator, 10_000 * OPG, 100_000).unwrap();
    l.create_staker(operator, Role::Operator, 10_000 * OPG, 100_000).unwrap();
    for i in 10..10 + delegators {
        let d = Address::from_index(i);
        l.delegate(d, validator, 50 * OPG).unwrap();
        l.delegate(d, operator, 50 * OPG).unwrap();
    }
    l.take_events();
    l
}

fn block(c: &mut Criterion) {
    let mut group = c.benchmark_group("ledger");
    for n in [10u64, 100_000] {
        let mut l = ledger_with(n);
        let (validator, operator, payer) =
            (Address::from_index(1), Address::from_index(2), Address::from_index(3));
        let verifiers = [Address::from_index(4), Address::from_index(5)];
        // A block: emissions, one inference fee, one transaction fee with a tip, distribution.
        group.bench_with_input(BenchmarkId::new("block", n), &n, |b, _| {
            b.iter(|| {
                let h = l.height() + 1;
                l.begin_block(h).unwrap();
                l.pay_inference_fee(payer, operator, &verifiers, OPG).unwrap();
                l.pay_tx_fee(payer, OPG / 1000, OPG / 10_000, validator).unwrap();
                l.end_block();
                black_box(l.take_events());
            })
        });
        // One delegator claims its rewards from one staker.
        let d = Address::from_index(10);
        group.bench_with_input(BenchmarkId::new("withdraw", n), &n, |b, _| {
            b.iter(|| {
                let h = l.height() + 1;
                l.begin_block(h).unwrap();
                l.end_block();
                black_box(l.withdraw_rewards(d, validator).unwrap());
                black_box(l.take_events());
            })
        });
    }
    group.finish();
}

criterion_group!(benches, block);
criterion_main!(benches);
