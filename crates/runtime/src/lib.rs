//! Model execution for ogn: ONNX models run by `tract` in one pinned, deterministic configuration.
//!
//! # Brief overview
//!
//! - [`Runtime`]: built from a [`RuntimeConfig`]; [`Runtime::load`] parses and checks a model (cached by its
//!   [`ModelCid`](ogn_types::ModelCid)), [`Runtime::run`] runs it on named [`Tensor`](ogn_types::Tensor)s.
//! - [`Runtime::inspect`]: a model's inputs and outputs ([`ModelInfo`]) without preparing it.
//! - [`Runtime::engine_id`]: the string recorded in receipts, e.g.
//!   `tract-0.23.9;onnx;threads=1;isa=x86_64-fma;plan=concrete-optimized`.
//! - [`RuntimeError`]: every refusal names its cause (missing input, wrong shape or type, unsupported operator
//!   by name, model too large, not ONNX, corrupt, work limit).
//!
//! ```text
//!  bytes ──► size limit ──► CID check ──► protobuf decode ──► operator / external-data check
//!        ──► tract graph (symbolic dims) ──► [cache by CID, LRU, bounded by a memory estimate]
//!  run(inputs) ──► match by name ──► shape check (fixed dims equal, same-named symbols equal)
//!        ──► cast to declared dtype (Tensor::cast) ──► plan for these shapes (cached per model):
//!            concretize ──► declutter ──► work estimate ≤ limit? ──► optimize ──► plan
//!        ──► run ──► outputs named after graph outputs
//! ```
//!
//! # Engine and why not the `tract` facade
//! The engine is `tract-onnx` pinned to `=0.23.9` (the crate the `tract` facade wraps, same version). The
//! facade hides what this crate needs: per-operator cost (for the work limit), the thread executor, the
//! ONNX output names (the facade names outputs after their producing node), and plan options.
//!
//! # Deterministic configuration (the spec)
//! - **Threads.** `RuntimeConfig::threads` (default 1) sets tract-linalg's executor for every plan of the
//!   runtime. tract splits matrix products by output panels and row-parallel kernels by whole rows, never
//!   inside one reduction, so the accumulation order of every output element is the same for any thread
//!   count. The tests check bit-identical outputs for 1 and 2 threads on every fixture model.
//! - **Kernels.** tract picks matrix kernels from the CPU's instruction set when the process starts
//!   (`isa=` in the engine id: `fma` means AVX2+FMA, `avx512`, `neon`, …). Float kernels of different
//!   families accumulate in different orders, so the family is part of the engine id. `TRACT_CPU_ISA` pins
//!   it down to a common level across machines.
//! - **Plans.** Every inference runs a plan optimized for its concrete input shapes (symbols bound first,
//!   then `into_optimized`): the same shapes always give the same plan, hence the same kernels and order.
//!
//! # Guarantees
//! - **Float models** (f32): bit-identical outputs for the same model, inputs and engine id (repeated runs,
//!   1 or 2 threads, any number of processes). Against onnxruntime they agree within float rounding, not
//!   bit for bit: the fixture tests bound the difference (see `tests/reference.rs` for the numbers per
//!   model). Re-execution of a float model must therefore be compared on the same engine id.
//! - **Int8 models** (QuantizeLinear / QLinearMatMul / QLinearConv / DequantizeLinear): integer
//!   accumulation is exact, so results do not depend on accumulation order and are identical for any
//!   thread count and kernel family. Against onnxruntime the integer tensors agree except where a
//!   requantization rounds a value lying within float rounding of a half step: `tests/reference.rs` measures
//!   this on the fixtures and states what holds.
//!
//! # Limits
//! - `max_model_bytes`: larger files are refused before parsing ([`RuntimeError::ModelTooLarge`]).
//! - `cache_bytes`: loaded models are kept by CID until their memory estimate
//!   ([`Model::memory_estimate`]) exceeds the budget; the least recently used are dropped first.
//! - `max_work_per_inference`: [`Prepared::work`] (multiply-accumulates + divisions + elements written,
//!   from tract's per-operator cost model on the concretized graph) is computed before anything runs;
//!   above the limit the inference is refused ([`RuntimeError::WorkLimit`]).
//! - Only self-contained ONNX files: external-data initializers are refused (a model never reads files).

mod engine;
mod error;
mod info;

pub use engine::{MAX_PLANS_PER_MODEL, Model, Prepared, Runtime};
pub use error::RuntimeError;
pub use info::{Dim, ModelInfo, TensorInfo};

/// The pinned tract version (the workspace pins `tract-onnx` and `tract-linalg` to exactly this).
pub const TRACT_VERSION: &str = "0.23.9";

/// Limits and settings of a [`Runtime`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Largest ONNX file accepted, in bytes.
    pub max_model_bytes: usize,
    /// Memory budget of the model cache, in bytes of [`Model::memory_estimate`].
    pub cache_bytes: usize,
    /// Largest [`Prepared::work`] one inference may have.
    pub max_work_per_inference: u64,
    /// Threads one inference uses (part of the engine id). Results do not depend on it.
    pub threads: usize,
}

impl Default for RuntimeConfig {
    /// 512 MiB models, a 2 GiB cache, 10^11 work units (about a minute on one core) and one thread.
    fn default() -> Self {
        Self {
            max_model_bytes: 512 << 20,
            cache_bytes: 2 << 30,
            max_work_per_inference: 100_000_000_000,
            threads: 1,
        }
    }
}
