//! Model execution for ogn: ONNX models run by `tract` in one pinned, deterministic configuration.
//!
//! # Brief overview
//!
//! - [`Runtime`]: built from a [`RuntimeConfig`]; [`Runtime::load`] parses and checks a model (cached by its
//!   [`ModelCid`](ogn_types::ModelCid)), [`Runtime::run`] runs it on named [`Tensor`](ogn_types::Tensor)s.
//! - [`Runtime::inspect`]: a model's inputs and outputs ([`ModelInfo`]) without preparing it.
//! - [`Runtime::engine_id`]: the string recorded in receipts, e.g.
//!   `tract-0.23.9;onnx;threads=1;isa=x86_64-fma;plan=concrete-optimized`.
//! - [`Runtime::profile`]: time per operator kind, to see where inference time goes.
//! - [`Runtime::run_traced`]: a run that also returns a leaf (BLAKE3) per plan step, the evidence
//!   disputes bisect over; [`Runtime::layer_witness`] and [`Runtime::run_layer`] re-execute one step.
//! - [`RuntimeError`]: every refusal names its cause (missing input, wrong shape or type, unsupported
//!   operator by name, model too large, not ONNX, corrupt, work limit).
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
//! - **Kernels.** tract picks matrix kernels from the CPU's instruction set once per process (`isa=` in
//!   the engine id). Float kernels of different families accumulate in different orders, so the family is
//!   part of the engine id. On x86_64 ogn caps the choice at AVX2+FMA (`isa=x86_64-fma`) even on AVX-512
//!   machines: every x86 CPU with AVX2+FMA (Intel since 2013, AMD since 2015) then selects the same
//!   float kernels, and tract's AVX2 kernels were also the faster ones here (BENCHMARKS.md). Other
//!   architectures use their native level (`neon`, …).
//! - **Knobs.** tract's `TRACT_*` tuning knobs cannot change results: the ones read while a plan is built
//!   (convolution strategy, im2col thresholds) are entered at their defaults around plan building, and the
//!   process-wide ones that change numerics (instruction-set level, bf16 matrix kernel, separable average
//!   pool) are set as overrides, which outrank the environment.
//! - **Plans.** Every inference runs a plan optimized for its concrete input shapes (symbols bound first,
//!   then `into_optimized`): the same shapes always give the same plan, hence the same kernels and order.
//!
//! # Guarantees
//! - **Float models** (f32): bit-identical outputs for the same model, inputs and engine id: repeated
//!   runs, 1 or 2 threads, any process on the same CPU kind (other x86 CPUs with AVX2+FMA select the same
//!   kernels, but equality across CPU models is not yet tested). Against onnxruntime they agree within
//!   float rounding, not bit for bit (fixtures: max difference 4e-5 on PP-OCR det's probability map, 8e-6
//!   on rec, below 3e-6 elsewhere; the tests bound it at 5e-4 absolute and relative). Re-execution of a
//!   float model is therefore compared on the same engine id, never against another engine.
//! - **Int8 models** (QuantizeLinear / QLinearMatMul / QLinearConv / DequantizeLinear): the integer
//!   products are exact, so results do not depend on accumulation order, thread count or kernel family.
//!   Against onnxruntime both int8 fixtures are bit-identical (every output element). This is measured,
//!   not guaranteed for every model: tract's QuantizeLinear multiplies by `1/scale` where onnxruntime
//!   divides by `scale`; the two can differ in the last bit, and a value lying exactly on a rounding
//!   boundary then quantizes one step apart.
//!
//! # Limits
//! - `max_model_bytes`: larger files are refused before parsing ([`RuntimeError::ModelTooLarge`]).
//! - `cache_bytes`: loaded models are kept by CID until their memory estimate
//!   ([`Model::memory_estimate`]) exceeds the budget; the least recently used are dropped first.
//! - `max_work_per_inference`: [`Prepared::work`] (multiply-accumulates + divisions + elements written,
//!   from tract's per-operator cost model on the concretized graph) is computed before anything runs;
//!   above the limit the inference is refused ([`RuntimeError::WorkLimit`]).
//! - Only self-contained ONNX files: external-data initializers are refused (a model never reads files).

mod cuts;
mod engine;
mod error;
mod info;
mod trace;

pub use cuts::{Cut, CutLayout, MAX_LAYOUT_STEPS, SEGMENT_STEPS};
pub use engine::{MAX_PLANS_PER_MODEL, Model, Prepared, Runtime};
pub use error::RuntimeError;
pub use info::{Dim, ModelInfo, TensorInfo};
pub use trace::{
    HASHERS_ENV, INLINE_HASH_BYTES, LayerHash, LayerValue, LayerWitness, PartialTrace, Trace,
    set_layer_hashers,
};

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
