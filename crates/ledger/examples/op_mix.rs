//! Prints how often each scripted operation is accepted over a pseudo-random script (a check that random
//! scripts reach the successful paths). `cargo run -p ogn-ledger --example op_mix -- 20000`.

use std::collections::BTreeMap;

use ogn_ledger::script::{Op, apply_checked, genesis};

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for inflation in [false, true] {
        let mut l = genesis(inflation);
        let mut counts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for _ in 0..n {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&next().to_le_bytes());
            b[8..].copy_from_slice(&next().to_le_bytes());
            let op = Op::decode(&b);
            let name = format!("{op:?}").split([' ', '{']).next().unwrap_or("").to_owned();
            if std::env::var("OP_MIX_WHY").is_ok_and(|w| name == w)
                && let Err(e) = ogn_ledger::script::apply(&mut l.clone(), &op)
            {
                println!("{op:?}: {e}");
            }
            let ok = apply_checked(&mut l, &op).expect("invariants");
            let c = counts.entry(name).or_default();
            c.0 += 1;
            c.1 += u64::from(ok);
        }
        println!(
            "inflation={inflation} height={} supply={} bonded={} stOPG={} dust={}",
            l.height(),
            l.total_supply(),
            l.total_bonded(),
            l.st_opg_supply(),
            l.pools().dust
        );
        for (name, (tried, ok)) in counts {
            println!("  {name:<22} {ok:>6} / {tried:<6}");
        }
    }
}
