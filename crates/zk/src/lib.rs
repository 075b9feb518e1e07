//! Proofs of inference for quantized (int8) models: a sumcheck prover over Goldilocks whose
//! weights are committed once per model with WHIR, a transparent hash-based multilinear commitment.
//!
//! # What it owns
//!
//! * [`QuantizedModel`]: int8 weights and activations, exact integer accumulators, requantization
//!   with onnxruntime's arithmetic, loaded from ONNX QOperator graphs ([`load_onnx`]): dense layers
//!   (`QLinearMatMul`), 2-D convolutions (`QLinearConv`), max and average pooling, `Flatten` and
//!   `Reshape`, float rescales (bias, ReLU) between them. Its integer execution
//!   ([`QuantizedModel::run`]) is bit-exact and equals onnxruntime on the same model (the MLP
//!   784-128-10 and the LeNet-5 fixtures are checked bit for bit; average pooling is ogn-zk's own
//!   integer operator, with no ONNX form).
//! * [`commit_model`] / [`CommittedModel`]: the model commitment, made once per model.
//! * [`prove`] / [`CommittedModel::prove`] and [`verify`]: the proof of one inference (a batch of rows).
//! * [`Proof::to_bytes`] / [`Proof::from_bytes`]: the wire form.
//! * [`to_onnx`]: the ONNX QOperator form of a quantized model (read back by [`load_onnx`], run by
//!   onnxruntime with the same arithmetic); [`onnx_io_names`]: its graph input and output names.
//! * [`QuantizedModel::work`]: the work estimate of one run (ogn-chain charges ZKML gas from it; its
//!   ZKML mode proves with this crate in pre-execution and verifies at block execution).
//! * [`load_float_onnx`] / [`quantize_model`]: quantization of a float model (Conv, Relu, MaxPool,
//!   Flatten, Gemm) with calibration rows, and a [`Report`] of how far its outputs move.
//!
//! # Statement
//!
//! Public: the [`ModelCommitment`] (every model parameter except the weights, plus the WHIR root of
//! the weights), the int8 input `x` (`[batch][input_dim]`) and the int8 output `y`. Claim: running
//! the committed model on `x` gives `y`. The verifier never sees the weights.
//!
//! # Protocol
//!
//! ```text
//!  commit (once per model)      W_1..W_L ─pad to 2^log_m × 2^log_k─► stacked table ─WHIR commit─► root
//!
//!  every stage with weights is one matrix product A_ℓ = X_ℓ·W_ℓᵀ: dense, X_ℓ = x − zp (one row per
//!  batch item); convolution, X_ℓ = im2col patches of x − zp (one row per item and output position,
//!  W_ℓ = the kernels as [out_channels][in_channels·kh·kw])
//!
//!  prover                                                      verifier
//!  run model: accumulators A_ℓ = X_ℓ·W_ℓᵀ (exact)
//!  ─── A_1..A_L (int, in the clear) ──────────────────────────► |A_ℓ| ≤ k·255·128, recompute every
//!                                                               other stage from A_ℓ (bias, requant,
//!                                                               rescale, ReLU, pooling): must give y,
//!                                                               and gives every X_ℓ (x − zp, or its
//!                                                               im2col patches)
//!  transcript ← domain, H(header), root, batch, x, y, A_1..A_L
//!  per stage ℓ with weights (rows n, outputs i, inner index j):
//!    (r_n, r_i) ← transcript                                    claim c = Ã_ℓ(r_n, r_i)
//!    sumcheck over j ∈ {0,1}^log_k of X̃_ℓ(r_n, j)·W̃_ℓ(r_i, j)  ─ rounds (h(0), h(2)) ─► replay, point s
//!    w = W̃_ℓ(r_i, s) ─────────────────────────────────────────► check c_final = X̃_ℓ(r_n, s)·w
//!  one WHIR opening of the stacked weights at all (r_i, s) ───► WHIR verify, opened values = the w's
//! ```
//!
//! Each layer costs the prover O(rows·k + out·k) field operations (two folds and a log k-round
//! sumcheck): no per-multiply value is ever committed. The verifier builds the patches of a
//! convolution itself from the activations it recomputed, so no lookup is needed to tie the patches
//! to the previous layer while activations are public. The only per-proof commitment work is the
//! WHIR opening of the (already committed) weights. Non-linear stages (requantization with f32
//! semantics, per-channel rescale, ReLU, clamps, pooling) are checked by the verifier directly from the
//! accumulators, which the proof carries in the clear: O(activations) work, exact, with no lookup
//! argument. Intermediate activations are therefore revealed (the proof is not zero-knowledge).
//!
//! # Soundness
//!
//! * Integers embed into Goldilocks without wrap: |A| < 2^31 (checked) and every product and sum in
//!   the matmul identity stays below p/2, so an identity mod p is an identity over ℤ.
//! * Challenges live in `F_p²` (|EF| ≈ 2^128). The claim `Ã(r)` errs with probability
//!   ≤ (log n + log m)/|EF|; each sumcheck with probability ≤ 2·log k/|EF|: together below 2^-120.
//! * WHIR ([`pcs`]) runs with the proven unique-decoding bound, [`pcs::SECURITY_BITS`] = 104 bits per
//!   error term (composed by a union bound, [`weight_opening_security_bits`]: 102.6 bits for the
//!   MLP 784-128-10 and LeNet-5, 101.6 for the MLP 784-1024-256-10, ≥ 100 checked in tests up to
//!   2^22 weights), [`pcs::POW_BITS`] bits of proof-of-work, starting rate
//!   2^-[`pcs::STARTING_LOG_INV_RATE`] lowered by [`pcs::RATE_STEP`] bit per round,
//!   folding factor [`pcs::FOLDING_FACTOR`]; Merkle trees and Fiat–Shamir use Poseidon2 over
//!   Goldilocks (width 8, 256-bit capacity and digests: 128-bit collision resistance).
//! * Fiat–Shamir absorbs the domain separator, the SHA-256 of the model header, the WHIR root, the
//!   batch size, input, output, all accumulators, every sumcheck message and every weight evaluation
//!   before the challenge that depends on them; the WHIR opening then continues the same transcript.
//!
//! # Not yet
//!
//! Zero knowledge and a hidden input. The planned route keeps the f32 requantization bit-exact:
//! for a fixed multiplier and zero point, `q = requant(a)` is a non-decreasing step function of
//! the accumulator, so it is fixed by 256 integer thresholds `T_q` the verifier computes once per
//! layer, and `q = requant(a)` ⇔ `T_q ≤ a < T_{q+1}`. Committing the accumulators per proof and
//! proving the two differences non-negative with a LogUp range check (8-bit limbs) removes them
//! from the proof; ReLU and max pooling become range checks the same way, and a hidden input a
//! committed vector opened where the first layer's sumcheck ends. That also needs the hiding WHIR
//! variant and masked sumchecks.

mod error;
mod field;
pub mod fixtures;
mod model;
mod onnx;
pub mod pcs;
mod protocol;
mod quantize;
mod sumcheck;

pub use error::{ModelError, VerifyError};
pub use model::{
    Conv, Dense, InputQuant, OutputDequant, Pool, PoolKind, QuantizedModel, Requant, Rescale,
    Stage, Trace, quantize,
};
pub use onnx::{load_onnx, onnx_io_names, to_onnx};
pub use protocol::{
    CommittedModel, MAX_BATCH, ModelCommitment, Proof, commit_model, prove, verify,
    weight_opening_security_bits,
};
pub use quantize::{FloatModel, Report, compare, load_float_onnx, quantize_model};
