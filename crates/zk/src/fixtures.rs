//! Small models for exercising the prover from outside the crate: the decoder tests and the fuzz target
//! prove and attack the same one.

use crate::{
    Conv, Dense, InputQuant, OutputDequant, Pool, PoolKind, QuantizedModel, Requant, Stage,
};

/// Conv 1×6×4 → 2×4×4 (kernel 3×3, padding 1 left and right), max pool 2×2 → 2×2×2, dense 8 → 6: every kind of
/// stage in a model small enough to prove in milliseconds.
pub fn conv_pool_dense() -> QuantizedModel {
    QuantizedModel {
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
    }
}

/// The input the decoder tests and the fuzz target prove [`conv_pool_dense`] on.
pub fn conv_pool_dense_input() -> Vec<i8> {
    (0..24).map(|i| (i * 11 % 200) as i8).collect()
}
