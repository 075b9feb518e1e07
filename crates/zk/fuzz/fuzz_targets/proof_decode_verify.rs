//! Feeds arbitrary bytes to `Proof::from_bytes` and, when they decode, to `verify` against a fixed
//! small committed model (a convolution, a max pool and a dense layer). Neither may panic; nothing
//! but the honest proof may verify.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ogn_zk::{CommittedModel, ModelCommitment, Proof, verify};

struct Fixture {
    commitment: ModelCommitment,
    input: Vec<i8>,
    output: Vec<i8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let model = ogn_zk::fixtures::conv_pool_dense();
        let committed = CommittedModel::new(&model).expect("commit");
        let input: Vec<i8> = (0..24).map(|i| (i * 11 % 200) as i8).collect();
        let (output, proof) = committed.prove(&input).expect("prove");
        // Seed corpus hint: the honest proof is `proof.to_bytes()`.
        let _ = proof;
        Fixture { commitment: committed.commitment().clone(), input, output }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    if let Ok(proof) = Proof::from_bytes(data) {
        let _ = verify(&f.commitment, &f.input, &f.output, &proof);
        // Re-encoding a decoded proof must decode again.
        assert!(Proof::from_bytes(&proof.to_bytes()).is_ok());
    }
    let _ = ModelCommitment::from_bytes(data);
});
