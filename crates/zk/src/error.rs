//! Errors of model loading, proving and verification.

use thiserror::Error;

/// A model that cannot be loaded, run or proven.
#[derive(Debug, Error)]
pub enum ModelError {
    /// The ONNX file is not in the supported quantized form.
    #[error("ONNX: {0}")]
    Onnx(String),
    /// The model's parameters are inconsistent.
    #[error("invalid quantized model: {0}")]
    Invalid(String),
    /// The input length is not a positive multiple of the input width.
    #[error("input has {len} values, not a positive multiple of the input width {input_dim}")]
    InputShape {
        /// Values given.
        len: usize,
        /// Width of one input row.
        input_dim: usize,
    },
    /// The batch is larger than the prover supports.
    #[error("batch of {0} rows exceeds the limit of {max}", max = crate::MAX_BATCH)]
    BatchTooLarge(usize),
    /// The commitment scheme refused the configuration.
    #[error("commitment scheme: {0}")]
    Commitment(String),
}

/// Why a proof was rejected.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum VerifyError {
    /// The proof bytes do not decode.
    #[error("malformed proof: {0}")]
    Malformed(String),
    /// The proof's shape does not fit the committed model or the input.
    #[error("proof does not fit the model: {0}")]
    Shape(String),
    /// The claimed output is not what the stages replayed from the proof's activations give.
    #[error("output mismatch: the proven computation gives a different output")]
    OutputMismatch,
    /// The final sumcheck claim does not match the weight evaluation.
    #[error("sumcheck for weighted stage {0}: final claim does not match")]
    FinalClaim(usize),
    /// A requantization range check failed: the committed accumulators of this stage with
    /// weights do not requantize to its claimed output.
    #[error("stage with weights {0}: requantization range check failed")]
    Range(usize),
    /// The weight commitment opening failed.
    #[error("weight opening rejected: {0}")]
    Opening(String),
    /// The opened weight value differs from the one the sumcheck used.
    #[error("weight block {0}: opened weight evaluation differs from the claimed one")]
    WeightEval(usize),
    /// The model commitment is malformed.
    #[error("model commitment: {0}")]
    Commitment(String),
    /// A hidden input's commitment, its reduction or its opening was rejected (or the proof's
    /// input mode differs from the verifier's).
    #[error("hidden input: {0}")]
    Input(String),
}
