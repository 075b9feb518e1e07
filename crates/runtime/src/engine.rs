//! The runtime: loading, the model cache, shape binding, the work limit and execution.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use ogn_types::{DType, ModelCid, Tensor, TensorData};
use parking_lot::Mutex;
use tract_linalg::multithread::Executor;
use tract_onnx::prelude::{
    Datum, Framework, InferenceFact, InferenceModel, InferenceModelExt, IntoTValue, IntoTensor,
    TDim, TValue, TVec, Tensor as TractTensor, TypedModel, TypedSimplePlan, tract_ndarray,
};
use tract_onnx::tract_core::knobs::{self, KnobScope};
use tract_onnx::tract_core::ops::Cost;
use tract_onnx::tract_core::runtime::RunOptions;

use crate::error::chain;
use crate::info::{Dim, ModelInfo, check_supported, datum_type, decode, model_info};
use crate::{RuntimeConfig, RuntimeError, TRACT_VERSION};

/// How many concretized plans (one per set of input shapes) a model keeps.
pub const MAX_PLANS_PER_MODEL: usize = 4;

/// Runs ONNX models in one pinned configuration. Cheap to share: `Send + Sync`, every method takes `&self`.
pub struct Runtime {
    config: RuntimeConfig,
    engine_id: String,
    executor: Executor,
    knobs: KnobScope,
    cache: Mutex<ModelCache>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("engine_id", &self.engine_id)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The shapes of a model's inputs, in input order: the key of a prepared plan.
type InputShapes = Vec<Vec<usize>>;

/// A loaded model: its description, and the engine's graph ready to be specialised to input shapes.
pub struct Model {
    cid: ModelCid,
    info: ModelInfo,
    size: usize,
    graph: InferenceModel,
    plans: Mutex<Vec<(InputShapes, Arc<Prepared>)>>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("cid", &self.cid)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl Model {
    /// The model's id.
    pub fn cid(&self) -> &ModelCid {
        &self.cid
    }

    /// Inputs and outputs.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Size of the ONNX file.
    pub fn size(&self) -> usize {
        self.size
    }

    /// What the cache counts for this model: the file size once for the parsed graph and once for each
    /// plan it may keep (each holds its own copy of the weights, packed for the kernels).
    pub fn memory_estimate(&self) -> usize {
        self.size.saturating_mul(1 + MAX_PLANS_PER_MODEL)
    }
}

/// A model specialised to one set of input shapes and optimised for them.
pub struct Prepared {
    pub(crate) plan: Arc<TypedSimplePlan>,
    work: u64,
    /// The plan's cut layout, derived when first asked (a function of the plan alone).
    pub(crate) layout: std::sync::OnceLock<crate::CutLayout>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared").field("work", &self.work).finish_non_exhaustive()
    }
}

impl Prepared {
    /// Estimated work of one inference: multiply-accumulates plus divisions, as counted by the engine's
    /// per-operator cost model, plus one unit per element each operator writes. Computed on the graph with
    /// every dimension concrete, before it runs.
    pub fn work(&self) -> u64 {
        self.work
    }
}

impl Runtime {
    /// A runtime with `config`. Panics only if the operating system refuses to start the worker threads of a
    /// multi-threaded configuration.
    pub fn new(config: RuntimeConfig) -> Self {
        let threads = config.threads.max(1);
        let executor = if threads == 1 {
            Executor::SingleThread
        } else {
            Executor::multithread_with_name(threads, "ogn-runtime")
        };
        pin_process_knobs();
        let isa = tract_linalg::isa::native();
        let arch =
            isa.arch().map(|a| format!("{a:?}").to_lowercase()).unwrap_or_else(|| "none".into());
        let engine_id = format!(
            "tract-{TRACT_VERSION};onnx;threads={threads};isa={arch}-{};plan=concrete-optimized",
            isa.nickname()
        );
        Self {
            config: RuntimeConfig { threads, ..config },
            engine_id,
            executor,
            knobs: pinned_knobs(),
            cache: Default::default(),
        }
    }

    /// The pinned engine configuration, recorded in every receipt: engine, version, thread count, kernel
    /// family (instruction-set level the matrix kernels were picked for) and planning mode.
    pub fn engine_id(&self) -> &str {
        &self.engine_id
    }

    /// The configuration in force.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Inputs and outputs of an ONNX model, without preparing it to run.
    pub fn inspect(bytes: &[u8]) -> Result<ModelInfo, RuntimeError> {
        model_info(&decode(bytes)?)
    }

    /// Loads a model (or returns it from the cache). The bytes must hash to `cid`.
    ///
    /// The graph is checked (every operator supported, no external data, inputs and outputs of types ogn
    /// tensors carry) and translated once with symbolic dimensions, so an unsupported model fails here
    /// rather than at its first inference.
    pub fn load(&self, cid: &ModelCid, bytes: &[u8]) -> Result<Arc<Model>, RuntimeError> {
        if let Some(model) = self.cache.lock().get(cid) {
            return Ok(model);
        }
        if bytes.len() > self.config.max_model_bytes {
            return Err(RuntimeError::ModelTooLarge {
                size: bytes.len(),
                limit: self.config.max_model_bytes,
            });
        }
        if !cid.matches(bytes) {
            return Err(RuntimeError::CidMismatch { cid: *cid });
        }
        let proto = decode(bytes)?;
        let info = model_info(&proto)?;
        check_supported(&proto)?;
        let mut graph = tract_onnx::onnx()
            .model_for_proto_model(&proto)
            .map_err(|e| translate_error(&e, RuntimeError::InvalidModel { reason: chain(&e) }))?;
        // Declared input facts, every unnamed dimension a symbol of its own.
        for (ix, input) in info.inputs.iter().enumerate() {
            let dims: Vec<TDim> = input
                .shape
                .iter()
                .enumerate()
                .map(|(axis, d)| match d {
                    Dim::Fixed(n) => TDim::from(*n),
                    Dim::Symbolic(s) if s != "?" => graph.symbols.sym(s).into(),
                    Dim::Symbolic(_) => {
                        graph.symbols.sym(&format!("ogn_unnamed_{ix}_{axis}")).into()
                    }
                })
                .collect();
            let fact = InferenceFact::dt_shape(datum_type(input.dtype), dims);
            graph
                .set_input_fact(ix, fact)
                .map_err(|e| RuntimeError::InvalidModel { reason: chain(&e) })?;
        }
        // Translate once with symbolic shapes so that an operator tract cannot run fails now. Other failures
        // may be lifted by concrete shapes, so they wait for `prepare`.
        if let Err(e) = graph.clone().into_typed()
            && let err @ RuntimeError::UnsupportedOperator { .. } =
                translate_error(&e, RuntimeError::InvalidModel { reason: String::new() })
        {
            return Err(err);
        }
        let model = Arc::new(Model {
            cid: *cid,
            info,
            size: bytes.len(),
            graph,
            plans: Default::default(),
        });
        self.cache.lock().insert(model.clone(), self.config.cache_bytes);
        Ok(model)
    }

    /// Number of models in the cache and the memory they are counted for.
    pub fn cache_usage(&self) -> (usize, usize) {
        let cache = self.cache.lock();
        (cache.entries.len(), cache.bytes)
    }

    /// The model specialised to these input shapes (cached per model), refusing shapes whose estimated work
    /// exceeds the limit.
    pub fn prepare(
        &self,
        model: &Model,
        shapes: &[Vec<usize>],
    ) -> Result<Arc<Prepared>, RuntimeError> {
        {
            let mut plans = model.plans.lock();
            if let Some(pos) = plans.iter().position(|(s, _)| s.as_slice() == shapes) {
                let entry = plans.remove(pos);
                let prepared = entry.1.clone();
                plans.insert(0, entry);
                return Ok(prepared);
            }
        }
        let prepared = self.knobs.enter(|| self.build_plan(model, shapes))?;
        let mut plans = model.plans.lock();
        plans.insert(0, (shapes.to_vec(), prepared.clone()));
        plans.truncate(MAX_PLANS_PER_MODEL);
        Ok(prepared)
    }

    fn build_plan(
        &self,
        model: &Model,
        shapes: &[Vec<usize>],
    ) -> Result<Arc<Prepared>, RuntimeError> {
        let rejected = |e: &tract_onnx::prelude::TractError| RuntimeError::ShapeRejected {
            shapes: shapes.to_vec(),
            reason: chain(e),
        };
        let mut graph = model.graph.clone();
        for (ix, (shape, input)) in shapes.iter().zip(&model.info.inputs).enumerate() {
            let fact = InferenceFact::dt_shape(datum_type(input.dtype), shape.as_slice());
            graph.set_input_fact(ix, fact).map_err(|e| rejected(&e))?;
        }
        let typed =
            graph.into_typed().and_then(|t| t.into_decluttered()).map_err(|e| rejected(&e))?;
        let work = estimate_work(&typed).map_err(|e| rejected(&e))?;
        if work > self.config.max_work_per_inference {
            return Err(RuntimeError::WorkLimit {
                work,
                limit: self.config.max_work_per_inference,
            });
        }
        let optimized = typed.into_optimized().map_err(|e| rejected(&e))?;
        let options = RunOptions { executor: Some(self.executor.clone()), ..Default::default() };
        let plan =
            TypedSimplePlan::new_with_options(optimized, &options).map_err(|e| rejected(&e))?;
        Ok(Arc::new(Prepared { plan, work, layout: Default::default() }))
    }

    /// Runs `model` on `inputs`, matched to the model's inputs by name. Each input is cast to the model's
    /// declared element type ([`Tensor::cast`]: exact decimals round correctly to floats, integers must be
    /// exact); symbolic dimensions take the sizes given. Outputs come back in graph order, named after the
    /// graph outputs.
    pub fn run(&self, model: &Model, inputs: &[Tensor]) -> Result<Vec<Tensor>, RuntimeError> {
        let ordered = bind_inputs(&model.info, inputs)?;
        let shapes: Vec<Vec<usize>> = ordered.iter().map(|t| t.shape.clone()).collect();
        let prepared = self.prepare(model, &shapes)?;
        let values = ordered.iter().map(|t| to_tract(t)).collect::<Result<TVec<TValue>, _>>()?;
        let outputs =
            prepared.plan.run(values).map_err(|e| RuntimeError::Execution { reason: chain(&e) })?;
        outputs
            .into_iter()
            .zip(&model.info.outputs)
            .map(|(value, info)| from_tract(value, &info.name, info.dtype))
            .collect()
    }
}

/// Instruction-set features above AVX2+FMA, masked on x86_64 (see [`pin_process_knobs`]).
#[cfg(target_arch = "x86_64")]
const X86_MASKED_FEATURES: &str = "-avx512f,-avx512vnni,-avx512fp16,-avxvnni,-amx-int8,-amx-bf16";

/// Process-wide knobs (tract reads them outside plan building), set as overrides that outrank `TRACT_*`
/// environment variables:
/// - on x86_64, kernels are chosen among the AVX2+FMA ones even on AVX-512 machines: every x86 CPU with
///   AVX2+FMA then selects the same float kernels, and on the machine measured tract's AVX2 kernels are
///   also faster than its AVX-512 ones (BENCHMARKS.md). tract
///   probes the CPU once per process, so this must happen before its first use; the engine id reports the
///   level actually in force.
/// - the lossy bf16 matrix kernel and the separable average pool (reassociates sums) stay off.
fn pin_process_knobs() {
    #[cfg(target_arch = "x86_64")]
    knobs::set_str("TRACT_CPU_ISA", X86_MASKED_FEATURES);
    for name in ["TRACT_AMX_BF16", "TRACT_AVGPOOL_SEPARABLE"] {
        knobs::set_str(name, "false");
    }
}

/// Every knob tract reads while it translates and optimizes a model, at its compiled-in default. Entered
/// around plan building, it outranks the process environment, so `TRACT_*` variables cannot change which
/// convolution or pooling strategy (hence which accumulation order) a plan uses.
fn pinned_knobs() -> KnobScope {
    let defaults: Vec<(&str, String)> = knobs::all()
        .into_iter()
        .filter(|k| k.scopable)
        .map(|k| (k.name, (k.default)()))
        .filter(|(name, value)| knobs::all().iter().any(|k| k.name == *name && (k.parses)(value)))
        .collect();
    // Every value was just checked to parse and every knob to be scopable, so this cannot fail; an empty
    // scope (no pinning) is the fallback should a later tract disagree.
    KnobScope::new(defaults.iter().map(|(n, v)| (*n, v.as_str()))).unwrap_or_default()
}

impl Runtime {
    /// Runs `model` once on `inputs` and returns the time spent per operator kind (tract's optimized op
    /// names, e.g. `OptMatMul`, `DepthWise`), largest first. For finding where inference time goes.
    pub fn profile(
        &self,
        model: &Model,
        inputs: &[Tensor],
    ) -> Result<Vec<(String, std::time::Duration)>, RuntimeError> {
        let ordered = bind_inputs(&model.info, inputs)?;
        let shapes: Vec<Vec<usize>> = ordered.iter().map(|t| t.shape.clone()).collect();
        let prepared = self.prepare(model, &shapes)?;
        let values = ordered.iter().map(|t| to_tract(t)).collect::<Result<TVec<TValue>, _>>()?;
        let mut times: HashMap<String, std::time::Duration> = HashMap::new();
        let mut state =
            prepared.plan.spawn().map_err(|e| RuntimeError::Execution { reason: chain(&e) })?;
        state
            .run_plan_with_eval(values, |ctx, op_state, node, inputs| {
                let start = std::time::Instant::now();
                let out = tract_onnx::tract_core::plan::eval(ctx, op_state, node, inputs);
                *times.entry(node.op.name().to_string()).or_default() += start.elapsed();
                out
            })
            .map_err(|e| RuntimeError::Execution { reason: chain(&e) })?;
        let mut times: Vec<_> = times.into_iter().collect();
        times.sort_by_key(|t| std::cmp::Reverse(t.1));
        Ok(times)
    }
}

/// Orders, validates and casts the given tensors to the model's inputs.
pub(crate) fn bind_inputs<'a>(
    info: &ModelInfo,
    inputs: &'a [Tensor],
) -> Result<Vec<Cow<'a, Tensor>>, RuntimeError> {
    let mut by_name: HashMap<&str, &Tensor> = HashMap::new();
    for t in inputs {
        if !info.inputs.iter().any(|i| i.name == t.name) {
            return Err(RuntimeError::UnexpectedInput {
                name: t.name.clone(),
                expected: info.inputs.iter().map(|i| i.name.clone()).collect(),
            });
        }
        if by_name.insert(&t.name, t).is_some() {
            return Err(RuntimeError::DuplicateInput { name: t.name.clone() });
        }
    }
    let mut symbols: HashMap<&str, usize> = HashMap::new();
    let mut ordered = Vec::with_capacity(info.inputs.len());
    for decl in &info.inputs {
        let t = by_name
            .get(decl.name.as_str())
            .ok_or_else(|| RuntimeError::MissingInput { name: decl.name.clone() })?;
        t.validate()?;
        let wrong_shape = || RuntimeError::WrongShape {
            name: decl.name.clone(),
            expected: decl.shape_string(),
            got: t.shape.clone(),
        };
        if !decl.shape.is_empty() || t.shape.is_empty() {
            if decl.shape.len() != t.shape.len() {
                return Err(wrong_shape());
            }
            for (d, &n) in decl.shape.iter().zip(&t.shape) {
                match d {
                    Dim::Fixed(f) if *f != n => return Err(wrong_shape()),
                    Dim::Symbolic(s)
                        if s != "?" && *symbols.entry(s.as_str()).or_insert(n) != n =>
                    {
                        return Err(wrong_shape());
                    }
                    _ => {}
                }
            }
        }
        if t.dtype() == decl.dtype {
            ordered.push(Cow::Borrowed(*t));
            continue;
        }
        let cast = t.cast(decl.dtype).map_err(|e| RuntimeError::WrongType {
            name: decl.name.clone(),
            expected: decl.dtype,
            got: t.dtype(),
            reason: e.to_string(),
        })?;
        ordered.push(Cow::Owned(cast));
    }
    Ok(ordered)
}

/// One copy, into the engine's aligned storage.
pub(crate) fn to_tract(t: &Tensor) -> Result<TValue, RuntimeError> {
    fn copy<T: Datum + Copy>(shape: &[usize], v: &[T]) -> Result<TractTensor, RuntimeError> {
        TractTensor::from_shape(shape, v).map_err(|e| RuntimeError::Execution { reason: chain(&e) })
    }
    let shape = &t.shape;
    let tensor = match &t.data {
        TensorData::F32(v) => copy(shape, v)?,
        TensorData::F64(v) => copy(shape, v)?,
        TensorData::I64(v) => copy(shape, v)?,
        TensorData::I32(v) => copy(shape, v)?,
        TensorData::I8(v) => copy(shape, v)?,
        TensorData::U8(v) => copy(shape, v)?,
        TensorData::Bool(v) => copy(shape, v)?,
        TensorData::String(v) => tract_ndarray::ArrayD::from_shape_vec(shape.as_slice(), v.clone())
            .map(TractTensor::from)
            .map_err(|e| RuntimeError::Execution { reason: e.to_string() })?,
        TensorData::Decimal(_) => {
            // `bind_inputs` casts every input to a model type, and no model type is Decimal.
            return Err(RuntimeError::Execution {
                reason: "decimal tensor reached the engine".into(),
            });
        }
    };
    Ok(tensor.into_tvalue())
}

pub(crate) fn from_tract(value: TValue, name: &str, dtype: DType) -> Result<Tensor, RuntimeError> {
    let fail = |e: tract_onnx::prelude::TractError| RuntimeError::Execution {
        reason: format!("output `{name}`: {}", chain(&e)),
    };
    let tensor = value.into_tensor();
    let tensor = tensor.cast_to_dt(datum_type(dtype)).map_err(fail)?;
    let shape = tensor.shape().to_vec();
    let view = tensor.try_as_plain_ram().map_err(fail)?;
    fn v<T: Datum + Clone>(
        view: &tract_onnx::prelude::PlainView<'_>,
    ) -> tract_onnx::prelude::TractResult<Vec<T>> {
        Ok(view.as_slice::<T>()?.to_vec())
    }
    let data = match dtype {
        DType::F32 | DType::Decimal => TensorData::F32(v(&view).map_err(fail)?),
        DType::F64 => TensorData::F64(v(&view).map_err(fail)?),
        DType::I64 => TensorData::I64(v(&view).map_err(fail)?),
        DType::I32 => TensorData::I32(v(&view).map_err(fail)?),
        DType::I8 => TensorData::I8(v(&view).map_err(fail)?),
        DType::U8 => TensorData::U8(v(&view).map_err(fail)?),
        DType::Bool => TensorData::Bool(v(&view).map_err(fail)?),
        DType::String => TensorData::String(v(&view).map_err(fail)?),
    };
    Ok(Tensor::new(name, shape, data)?)
}

/// Σ over nodes of (multiply-accumulates + divisions + elements written), on a graph with concrete shapes.
fn estimate_work(model: &TypedModel) -> tract_onnx::prelude::TractResult<u64> {
    let mut work: u64 = 0;
    for node in model.nodes() {
        let inputs = model.node_input_facts(node.id)?;
        for (cost, count) in node.op.cost(&inputs)? {
            if matches!(cost, Cost::FMA(_) | Cost::Div(_)) {
                work = work.saturating_add(count.to_i64()?.max(0) as u64);
            }
        }
        if node.inputs.is_empty() {
            continue; // sources and constants: nothing computed
        }
        for fact in &node.outputs {
            if let Some(shape) = fact.fact.shape.as_concrete() {
                let elements = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
                work = work.saturating_add(elements.unwrap_or(u64::MAX));
            }
        }
    }
    Ok(work)
}

/// Finds an operator name in an engine error when the failure is an unimplemented operator.
fn translate_error(e: &tract_onnx::prelude::TractError, otherwise: RuntimeError) -> RuntimeError {
    let text = chain(e);
    if let Some(start) = text.find("Unimplemented(") {
        let rest = &text[start + "Unimplemented(".len()..];
        if let Some(end) = rest.find(')') {
            return RuntimeError::UnsupportedOperator {
                op: rest[..end].to_string(),
                node: String::new(),
            };
        }
    }
    otherwise
}

/// Models by id, evicted least recently used first when their estimates exceed the budget.
#[derive(Default)]
struct ModelCache {
    entries: HashMap<ModelCid, (Arc<Model>, u64)>,
    bytes: usize,
    clock: u64,
}

impl ModelCache {
    fn get(&mut self, cid: &ModelCid) -> Option<Arc<Model>> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(cid).map(|(m, used)| {
            *used = clock;
            m.clone()
        })
    }

    fn insert(&mut self, model: Arc<Model>, budget: usize) {
        let size = model.memory_estimate();
        if size > budget {
            return; // served to the caller, never cached
        }
        self.clock += 1;
        if let Some((old, _)) = self.entries.insert(model.cid, (model, self.clock)) {
            self.bytes -= old.memory_estimate();
        }
        self.bytes += size;
        while self.bytes > budget {
            let Some(oldest) =
                self.entries.iter().min_by_key(|(_, (_, used))| *used).map(|(c, _)| *c)
            else {
                break;
            };
            if let Some((m, _)) = self.entries.remove(&oldest) {
                self.bytes -= m.memory_estimate();
            }
        }
    }
}
