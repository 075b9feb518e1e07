//! The shared vocabulary of ogn: what a model is called, what flows in and out of it, and how a result is named.
//!
//! Every other crate speaks these types, so they are small, exact and free of I/O:
//!
//! - [`cid::ModelCid`]: a model file's id, the CIDv1 (codec `raw`, multihash sha2-256) of its bytes.
//! - [`tensor::Tensor`]: a named, shaped, typed array. Numbers that come from OpenGradient clients are exact
//!   decimals ([`tensor::Number`], `value × 10^-decimals`) until the runtime casts them to the model's type.
//! - [`opengradient`]: OpenGradient's ABI types (`ModelInput`, `ModelOutput`, `NumberTensor`, …) exactly as their
//!   contracts and precompile declare them, and the conversions to and from [`tensor::Tensor`].
//! - [`json`]: the JSON shape users type (`{"x": [[1, 2], [3, 4]], "s": "hi"}`) and the JSON shape we print.
//! - [`canonical`]: one byte encoding per tensor list, and the result id
//!   `keccak256(canonical(model CID, inputs, outputs, engine id))` that names an inference result everywhere.
//!
//! # Invariants
//! - A [`tensor::Tensor`] always holds exactly `product(shape)` elements; the product is overflow-checked.
//! - Conversions never round silently where the target is an integer: an inexact or out-of-range value is an
//!   error naming the tensor. Conversions to floats round to nearest, ties to even (correctly rounded).
//! - The canonical encoding is injective: two different tensor lists never encode to the same bytes.

pub mod canonical;
pub mod cid;
pub mod json;
pub mod number;
pub mod opengradient;
pub mod tensor;

pub use canonical::{ResultId, result_id};
pub use cid::ModelCid;
pub use number::Number;
pub use tensor::{DType, Tensor, TensorData, TensorError};
