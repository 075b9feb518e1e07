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
//! * [`CommittedModel::prove_hidden`], [`commit_input`] / [`InputCommitment`] and [`verify_hidden`]:
//!   the same proof with an input commitment in the statement instead of the input.
//! * `logup`: the LogUp range check (bytes, by a GKR fractional sumcheck) that proves requantization.
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
//! the committed model on `x` gives `y`. The verifier never sees the weights nor the accumulators;
//! the proof carries the int8 output of every stage with weights (the activations).
//!
//! Hidden input ([`CommittedModel::prove_hidden`], [`verify_hidden`]; the model's first stage must
//! have weights): `x` is replaced in the statement by an [`InputCommitment`], the WHIR root of the
//! bytes `u = x + 128`. Claim: the committed values are bytes and running the committed model on
//! `u − 128` gives `y`. What this hides, and what it does not:
//!
//! * the verifier never receives `x`; it receives the root, evaluations of `ũ` at two random points
//!   and the WHIR opening (Merkle paths to entries of the Reed–Solomon encoding of `u`). None of
//!   this is masked: the commitment is not hiding and the proof is not zero knowledge;
//! * the commitment is deterministic, so anyone can test a guessed `x` by recomputing it
//!   ([`commit_input`]); an input with little entropy is not hidden at all;
//! * the int8 activations (the output of every stage with weights) are still in the proof in the
//!   clear, and the first one is a requantized linear function of `x`: it reveals much of it.
//!
//! It binds a proof to an input someone committed to (a proof checked against another input's
//! commitment fails) without putting the input in the statement; it is no privacy guarantee.
//!
//! # Protocol
//!
//! ```text
//!  commit (once per model)      W_1..W_L ─pad to 2^log_m × 2^log_k─► stacked table ─WHIR commit─► root
//!
//!  every stage with weights is one matrix product A_ℓ = X_ℓ·W_ℓᵀ: dense, X_ℓ = x − zp (one row per
//!  batch item); convolution, X_ℓ = im2col patches of x − zp (one row per item and output position,
//!  W_ℓ = the kernels as [out_channels][in_channels·kh·kw]); its output q_ℓ = requant(A_ℓ + bias)
//!
//!  prover                                                      verifier
//!  run model: A_ℓ (exact), q_ℓ
//!  ─── q_1..q_L (int8, in the clear) ─────────────────────────► run the stages without weights
//!                                                               (rescale, ReLU, pooling) from the
//!                                                               q_ℓ: must give y, and gives every X_ℓ
//!  per ℓ: bounds [lo_e, hi_e] of each accumulator from q_e (the requantization thresholds), the
//!  bytes of A − lo and hi − A (4 each) ─► witness table; WHIR commit A_ℓ, bytes_ℓ ─► witness root
//!  transcript ← domain, H(header), root, batch, x, y, q_1..q_L, witness root
//!  per stage ℓ with weights (rows n, outputs i, inner index j):
//!    (r_n, r_i) ← transcript;  c = Ã_ℓ(r_n, r_i) ─────────────► (opened from the witness below)
//!    sumcheck over j ∈ {0,1}^log_k of X̃_ℓ(r_n, j)·W̃_ℓ(r_i, j)  ─ rounds (h(0), h(2)) ─► replay, point s
//!    w = W̃_ℓ(r_i, s) ─────────────────────────────────────────► check c_final = X̃_ℓ(r_n, s)·w
//!  per ℓ: LogUp range check of the bytes (GKR fractional sums) ► ends at (ρ_limb, ρ)
//!    L̃(j, ρ) for the 8 byte rows, Ã(ρ) ───────────────────────► Σ_j eq(ρ_limb, j)·L̃(j, ρ) = LogUp's
//!                                                               claim; Ã(ρ) − l̃o(ρ) = Σ 256^j L̃(j, ρ),
//!                                                               h̃i(ρ) − Ã(ρ) = Σ 256^j L̃(4 + j, ρ)
//!    σ ← transcript: open L̃ at (σ, ρ) = Σ_j eq(σ, j)·L̃(j, ρ)
//!  one WHIR opening of the stacked weights at all (r_i, s) ───► WHIR verify, opened values = the w's
//!  one WHIR opening of the witness at all (r_n, r_i), ρ, (σ, ρ) ► WHIR verify, = c, Ã(ρ), the L̃'s
//!
//!  hidden input (statement: the input root instead of x); for the first stage only:
//!    per block b, after its sumcheck: X̃_b(r_n, s_b) ─────────► replaces the verifier's own X̃_b
//!    γ ← transcript; c_i = Σ_b γ^b Σ eq(r_n, row)·eq(s_b, j) over the entries (row, j) of block b
//!    that read input value i (im2col's index map; none in the padding) — the verifier builds c
//!    sumcheck of Σ_i ũ(i)·c̃(i) = Σ_b γ^b X̃_b + (128 + zp)·Σ_i c_i ► replay, point t;
//!    ũ(t) ────────────────────────────────────────────────────► check c_final = ũ(t)·c̃(t)
//!    LogUp range check of u (bytes) ──────────────────────────► ends at ρ_u
//!  one WHIR opening of the input commitment at t, ρ_u ────────► WHIR verify, = ũ(t), LogUp's claim
//! ```
//!
//! Each layer costs the prover O(rows·k + out·k) field operations (two folds and a log k-round
//! sumcheck): no per-multiply value is ever committed; per proof the prover commits 9 values per
//! accumulator (the accumulator and 8 bytes). The verifier builds the patches of a convolution
//! itself from the activations, so no lookup is needed to tie the patches to the previous layer
//! while activations are public.
//!
//! Requantization has f32 semantics ([`Requant::apply`]) and is kept bit-exact without proving float
//! arithmetic: with a positive multiplier it is a non-decreasing step function of the accumulator,
//! fixed by 257 integer thresholds ([`Requant::thresholds`]) that prover and verifier compute from
//! the model header, and `requant(a) = q ⇔ T_q ≤ a < T_{q+1}`. The range check of the two
//! differences (each below 2^32, as 4 bytes) proves every committed accumulator lies in its output's
//! interval (clipped to ±k·255·128). Stages without weights (per-channel rescale with ReLU, clamps,
//! pooling) are replayed by the verifier from the int8 activations: O(activations) work, exact.
//!
//! # Soundness
//!
//! * Integers embed into Goldilocks without wrap: each difference is range-checked below 2^32, so
//!   a committed accumulator is an integer in its clipped interval, |A| ≤ k·255·128 < 2^31, and every
//!   product and sum in the matmul identity stays below p/2: an identity mod p is one over ℤ.
//! * Challenges live in `F_p²` (|EF| ≈ 2^128). The claim `Ã(r)` errs with probability
//!   ≤ (log n + log m)/|EF|; each sumcheck with probability ≤ 2·log k/|EF|; each LogUp check with
//!   ≤ (entries + 256)/|EF| for its challenge plus ≤ (3j + 2)/|EF| per GKR layer j; the byte
//!   openings with ≤ 3/|EF|: together below 2^-100 for every batch the prover accepts.
//! * A hidden input adds: `γ` (≤ blocks/|EF|), the index-map sumcheck (≤ 2·log n/|EF|), the
//!   LogUp check of the input bytes (as above) and one more WHIR opening with the same parameters.
//!   The range check makes every committed value a byte, so `u − 128 − zp` is what an int8 input
//!   gives and the bound on `|A|` above holds unchanged.
//! * WHIR ([`pcs`]) runs with the proven unique-decoding bound, [`pcs::SECURITY_BITS`] = 104 bits per
//!   error term (composed by a union bound, [`weight_opening_security_bits`]: 102.6 bits for the
//!   MLP 784-128-10 and LeNet-5, 101.6 for the MLP 784-1024-256-10, ≥ 100 checked in tests up to
//!   2^22 weights, and for the per-proof witness commitment), [`pcs::POW_BITS`] bits of
//!   proof-of-work, starting rate 2^-[`pcs::STARTING_LOG_INV_RATE`] lowered by [`pcs::RATE_STEP`] bit
//!   per round, folding factor [`pcs::FOLDING_FACTOR`]; Merkle trees and Fiat–Shamir use Poseidon2
//!   over Goldilocks (width 8, 256-bit capacity and digests: 128-bit collision resistance).
//! * Fiat–Shamir absorbs the domain separator, the SHA-256 of the model header, the WHIR root, the
//!   batch size, input, output, the activations, the witness root, every sumcheck and LogUp message
//!   and every claimed evaluation before the challenge that depends on them; the two WHIR openings
//!   then continue the same transcript.
//!
//! # Not yet
//!
//! Zero knowledge, and activations out of the proof. The activations `q_ℓ` are still in the
//! clear, the requantization bounds are computed from them, and the stages without weights
//! (per-channel rescale with ReLU, clamps, max and average pooling) are replayed from them.
//! Committing them needs: ReLU, clamps and max pooling as range checks on committed differences
//! (the same LogUp argument, plus "equal to one window element" for max pooling), average pooling
//! as a division with a range-checked remainder, the per-channel f32 rescale by per-channel
//! thresholds like [`Requant::thresholds`], the requantization bounds as a lookup of `(q, T_q,
//! T_{q+1})` instead of values computed from public `q`, and each stage's input claim reduced to an
//! opening of the previous stage's committed output — for a convolution by the index-map sumcheck
//! the hidden input already uses for the first stage. A hidden input is bound, not hidden: hiding
//! it from the openings needs the hiding WHIR variant (`p3-whir`'s `HidingWhirPcs`), a randomized
//! input commitment and masked sumchecks.

mod error;
mod field;
pub mod fixtures;
mod logup;
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
    CommittedModel, InputCommitment, MAX_BATCH, ModelCommitment, Proof, commit_input, commit_model,
    prove, verify, verify_hidden, weight_opening_security_bits,
};
pub use quantize::{FloatModel, Report, compare, load_float_onnx, quantize_model};
