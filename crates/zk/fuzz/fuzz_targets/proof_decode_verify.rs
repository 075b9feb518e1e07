//! Feeds arbitrary bytes to `Proof::from_bytes` and, when they decode, to `verify` and
//! `verify_hidden` against a fixed small committed model (a convolution, a max pool and a dense
//! layer); and to `ModelCommitment::from_bytes` and `InputCommitment::from_bytes`. None may panic,
//! and a decoded proof that verifies must carry the honest proof's accumulators, sumcheck messages
//! and weight evaluations (only the WHIR openings may differ, e.g. in another valid proof-of-work
//! nonce).
//!
//! With `OGN_FUZZ_SEED_DIR` set, the target first writes the honest proofs (input in the clear and
//! hidden), the model commitment and the input commitment there (`scripts/fuzz-smoke` seeds its corpus this way, so mutations start from bytes that reach
//! the verifier's deep checks).

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ogn_zk::{CommittedModel, InputCommitment, ModelCommitment, Proof, verify, verify_hidden};

struct Fixture {
    commitment: ModelCommitment,
    input: Vec<i8>,
    output: Vec<i8>,
    /// `Debug` of the honest proof: everything but the opening.
    honest: String,
    input_commitment: InputCommitment,
    /// `Debug` of the honest hidden-input proof.
    honest_hidden: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let model = ogn_zk::fixtures::conv_pool_dense();
        let committed = CommittedModel::new(&model).expect("commit");
        let input = ogn_zk::fixtures::conv_pool_dense_input();
        let (output, proof) = committed.prove(&input).expect("prove");
        let (_, input_commitment, hidden) = committed.prove_hidden(&input).expect("prove");
        if let Some(dir) = std::env::var_os("OGN_FUZZ_SEED_DIR") {
            let dir = std::path::PathBuf::from(dir);
            std::fs::create_dir_all(&dir).expect("seed dir");
            std::fs::write(dir.join("honest-proof"), proof.to_bytes()).expect("write seed");
            std::fs::write(dir.join("commitment"), committed.commitment().to_bytes())
                .expect("write seed");
            std::fs::write(dir.join("honest-hidden-proof"), hidden.to_bytes()).expect("write seed");
            std::fs::write(dir.join("input-commitment"), input_commitment.to_bytes())
                .expect("write seed");
        }
        Fixture {
            commitment: committed.commitment().clone(),
            input,
            output,
            honest: format!("{proof:?}"),
            input_commitment,
            honest_hidden: format!("{hidden:?}"),
        }
    })
}

fuzz_target!(init: { fixture(); }, |data: &[u8]| {
    let f = fixture();
    if let Ok(proof) = Proof::from_bytes(data) {
        if verify(&f.commitment, &f.input, &f.output, &proof).is_ok() {
            assert_eq!(format!("{proof:?}"), f.honest, "a changed proof verified");
        }
        if verify_hidden(&f.commitment, &f.input_commitment, &f.output, &proof).is_ok() {
            assert_eq!(format!("{proof:?}"), f.honest_hidden, "a changed hidden proof verified");
        }
        // Re-encoding a decoded proof must decode again.
        assert!(Proof::from_bytes(&proof.to_bytes()).is_ok());
    }
    if let Ok(c) = ModelCommitment::from_bytes(data) {
        assert_eq!(ModelCommitment::from_bytes(&c.to_bytes()).ok(), Some(c));
    }
    if let Ok(c) = InputCommitment::from_bytes(data) {
        assert_eq!(InputCommitment::from_bytes(&c.to_bytes()).ok(), Some(c));
    }
});
