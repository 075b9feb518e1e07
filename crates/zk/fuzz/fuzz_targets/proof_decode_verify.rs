//! Feeds arbitrary bytes to `Proof::from_bytes` and, when they decode, to `verify` against a fixed
//! small committed model (a convolution, a max pool and a dense layer). Neither may panic; nothing
//! but the honest proof may verify.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ogn_zk::{
    CommittedModel, Conv, Dense, InputQuant, ModelCommitment, OutputDequant, Pool, PoolKind, Proof,
    QuantizedModel, Requant, Stage, verify,
};

struct Fixture {
    commitment: ModelCommitment,
    input: Vec<i8>,
    output: Vec<i8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        // Conv 1×6×4 → 2×4×4 (kernel 3×3, padding 1 left and right), max pool 2×2 → 2×2×2, dense 8 → 6.
        let model = QuantizedModel {
            input_dim: 24,
            input: InputQuant { scale: 0.01, zero_point: 0 },
            stages: vec![
                Stage::Conv(Conv {
                    in_channels: 1,
                    in_height: 6,
                    in_width: 4,
                    out_channels: 2,
                    kernel: [3, 3],
                    strides: [1, 1],
                    pads: [0, 1, 0, 1],
                    input_zero_point: 0,
                    weights: (0..18).map(|i| ((i * 53) % 255 - 127) as i8).collect(),
                    bias: vec![10, -10],
                    requant: Requant { multiplier: 0.002, zero_point: -5 },
                }),
                Stage::Pool(Pool {
                    kind: PoolKind::Max,
                    channels: 2,
                    in_height: 4,
                    in_width: 4,
                    kernel: [2, 2],
                    strides: [2, 2],
                }),
                Stage::Dense(Dense {
                    in_dim: 8,
                    out_dim: 6,
                    input_zero_point: -5,
                    weights: (0..48).map(|i| ((i * 37) % 255 - 127) as i8).collect(),
                    bias: vec![0; 6],
                    requant: Requant { multiplier: 0.001, zero_point: 0 },
                }),
            ],
            output: OutputDequant { scale: 0.1, zero_point: 0, bias: vec![0.0; 6] },
        };
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
