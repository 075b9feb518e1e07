//! Cost of simulated time: one year of daily steps of the baseline scenario through the real ledger.

use criterion::{Criterion, criterion_group, criterion_main};

fn one_year(c: &mut Criterion) {
    let mut s = ogn_sim::Scenario { years: 1.0, ..ogn_sim::Scenario::default() };
    s.name = "bench".into();
    c.bench_function("baseline_one_year_365_steps", |b| {
        b.iter(|| ogn_sim::run_with(&s, 1, 0, |_, _| {}).expect("run"))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = one_year
}
criterion_main!(benches);
