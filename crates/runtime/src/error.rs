//! Errors of the runtime. Each names the problem, and the input or operator it concerns.

use ogn_types::{DType, ModelCid, TensorError};

/// Why a model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The model file is larger than [`crate::RuntimeConfig::max_model_bytes`].
    #[error("model is {size} bytes, over the limit of {limit} bytes")]
    ModelTooLarge {
        /// Size of the model file.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The bytes are not an ONNX model (not a protobuf `ModelProto`, or one without a graph).
    #[error("not an ONNX model: {reason}")]
    NotOnnx {
        /// What was found instead.
        reason: String,
    },
    /// The bytes start like an ONNX model but do not decode: truncated or damaged.
    #[error("corrupt ONNX model (truncated or damaged): {reason}")]
    Corrupt {
        /// The decoder's complaint.
        reason: String,
    },
    /// The bytes do not hash to the model id they were loaded under.
    #[error("model bytes do not match model id {cid}")]
    CidMismatch {
        /// The id the bytes were loaded under.
        cid: ModelCid,
    },
    /// The graph uses an operator the engine does not implement.
    #[error("unsupported operator `{op}` (node `{node}`)")]
    UnsupportedOperator {
        /// ONNX operator type, with its domain when not the default one.
        op: String,
        /// Name of the first node using it.
        node: String,
    },
    /// A tensor's data lives in a file outside the model; only self-contained models are accepted.
    #[error(
        "tensor `{tensor}` keeps its data outside the model file; only self-contained ONNX is accepted"
    )]
    ExternalData {
        /// The initializer that points outside.
        tensor: String,
    },
    /// A graph input or output has an element type ogn tensors cannot carry.
    #[error(
        "model {role} `{name}` has ONNX element type {onnx_type}, which ogn tensors cannot carry"
    )]
    UnsupportedType {
        /// `input` or `output`.
        role: &'static str,
        /// Tensor name.
        name: String,
        /// ONNX `TensorProto.DataType` name (or number).
        onnx_type: String,
    },
    /// The model decodes but the engine rejects it (inconsistent graph, bad attributes, …).
    #[error("invalid model: {reason}")]
    InvalidModel {
        /// The engine's explanation.
        reason: String,
    },
    /// A model input was not given.
    #[error("missing input `{name}`")]
    MissingInput {
        /// The model input's name.
        name: String,
    },
    /// A tensor was given whose name is not a model input.
    #[error("unexpected input `{name}`: the model's inputs are {expected:?}")]
    UnexpectedInput {
        /// The tensor's name.
        name: String,
        /// The model's input names.
        expected: Vec<String>,
    },
    /// The same input name was given twice.
    #[error("input `{name}` given more than once")]
    DuplicateInput {
        /// The tensor's name.
        name: String,
    },
    /// An input's shape does not fit the model's declared shape.
    #[error("input `{name}`: expected shape [{expected}], got {got:?}")]
    WrongShape {
        /// The input's name.
        name: String,
        /// The declared shape, symbolic dimensions by name (e.g. `N,3,?,?`).
        expected: String,
        /// The shape given.
        got: Vec<usize>,
    },
    /// The model cannot run on these input shapes although they fit the declared ones
    /// (e.g. a reshape inside the graph needs a particular height).
    #[error("the model rejects input shapes {shapes:?}: {reason}")]
    ShapeRejected {
        /// The input shapes, in model input order.
        shapes: Vec<Vec<usize>>,
        /// The engine's explanation.
        reason: String,
    },
    /// An input's elements cannot be converted to the model's declared element type.
    #[error("input `{name}`: the model takes {expected} values, got {got}: {reason}")]
    WrongType {
        /// The input's name.
        name: String,
        /// The model's type for it.
        expected: DType,
        /// The type given.
        got: DType,
        /// Which element failed and why.
        reason: String,
    },
    /// A malformed tensor: length not matching its shape, or a shape whose product overflows.
    #[error(transparent)]
    BadTensor(#[from] TensorError),
    /// Running the model on these shapes would exceed [`crate::RuntimeConfig::max_work_per_inference`].
    #[error("inference needs {work} work units, over the limit of {limit} per inference")]
    WorkLimit {
        /// Estimated work (see [`crate::Prepared::work`]).
        work: u64,
        /// The configured limit.
        limit: u64,
    },
    /// The engine failed while running the graph.
    #[error("inference failed: {reason}")]
    Execution {
        /// The engine's explanation.
        reason: String,
    },
}

/// An engine error as one line: the whole context chain, outermost first.
pub(crate) fn chain(e: &tract_onnx::prelude::TractError) -> String {
    let mut parts: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    parts.dedup();
    parts.join(": ")
}
