//! Per-layer evidence: a run that hashes the outputs of every step of the plan, and the re-execution of a
//! single step from its inputs.
//!
//! A *step* is one non-constant node of the prepared plan, in the plan's execution order (model inputs
//! included). Its *leaf* commits to its output values in the encoding below. Two runs of the same model on
//! the same inputs with the same engine id produce the same leaves, so the first step whose leaves differ
//! pins down where two executions part ways (the bisection game in `ogn-verify`).
//!
//! ```text
//!  leaf(step) = BLAKE3( "ogn-layer-v2" ‖ n_outputs:u32 ‖ for each output:
//!                        dtype:(u16 len ‖ tract's name) ‖ rank:u32 ‖ dims:u64… ‖ BLAKE3(payload) )
//!  payload    = little-endian element bytes (strings: u64 len ‖ bytes each)
//! ```
//!
//! Each payload is hashed on its own and the leaf binds its 32-byte digest: a leaf is as binding as one
//! over the payload itself (BLAKE3 is collision resistant), and a step whose output is its input's bytes
//! under another shape (tract's `IntoShape`, axis insertion or removal, reshape) reuses the input's digest
//! instead of hashing the same bytes again. Re-executing such a step alone hashes its output, and gets the
//! same digest because the bytes are the same.
//!
//! Outputs the engine keeps in an internal, non-plain layout (packed weight panels, shape expressions) are
//! not hashed: their leaf is `BLAKE3("ogn-layer-v1-opaque" ‖ step:u64)`. Such a value is a deterministic
//! function of its own inputs, so re-executing a step recomputes any opaque inputs from the nearest plain
//! ones (its *frontier*), and a disagreement can never hide in an opaque step.
//!
//! # Cost
//! Hashing every step reads every byte inference writes: ≈ 0.46 GB for PP-OCR det at 640×640, 0.36 GB
//! once reshapes reuse their input's digest. BLAKE3 reads ≈ 6 GB/s on one core, so a full trace
//! ([`Runtime::run_traced`]) adds ≈ 36 % to the CPU time of PP-OCR det or rec inference. That is why a job
//! commits only at the cuts of its [`CutLayout`] ([`Runtime::run_checkpointed`]: ≈ 1–2 %, BENCHMARKS.md)
//! and full traces are left to disputes. To keep hashing off the engine's critical path, a process may
//! start hasher threads ([`set_layer_hashers`], [`HASHERS_ENV`]): payloads
//! over [`INLINE_HASH_BYTES`] are then queued for them when fewer wait than there are hashers (the
//! engine's values are reference-counted and immutable once produced, so a hasher only holds a
//! reference); otherwise, and always without hashers, the engine's thread hashes them itself right after
//! the step, while they are still in cache. A run therefore never keeps a backlog of intermediate values
//! alive, the engine loses its in-place reuse of a value only while a hasher holds it, and a run whose
//! hashers get no core hashes what they did not take at its end instead of waiting for them.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, mpsc};

use ogn_types::Tensor;

use blake3::Hasher;
use tract_onnx::prelude::{
    DatumType, IntoTValue, OutletId, TValue, TVec, Tensor as TractTensor, TypedNode,
};
use tract_onnx::tract_core::ops::change_axes::{AxisOp, IntoShape};

use crate::cuts::CutLayout;
use crate::engine::{Model, from_tract, to_tract};
use crate::error::chain;
use crate::{Runtime, RuntimeError};

/// BLAKE3 hash of one step's outputs.
pub type LayerHash = [u8; 32];

const DOMAIN: &[u8] = b"ogn-layer-v2";
const OPAQUE_DOMAIN: &[u8] = b"ogn-layer-v1-opaque";

/// A run with the leaves of the steps its cut layout commits to.
#[derive(Debug, Clone)]
pub struct PartialTrace {
    /// The model's outputs, as [`Runtime::run`] returns them.
    pub outputs: Vec<Tensor>,
    /// One entry per step, in execution order: the leaf, or `None` for a step that was not hashed.
    pub leaves: Vec<Option<LayerHash>>,
}

/// A run with its per-step leaves.
#[derive(Debug, Clone)]
pub struct Trace {
    /// The model's outputs, as [`Runtime::run`] returns them.
    pub outputs: Vec<Tensor>,
    /// One leaf per step, in execution order.
    pub leaves: Vec<LayerHash>,
}

/// One output value of a step, in the transport form a dispute carries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LayerValue {
    /// tract's name of the element type (`F32`, `I8`, `QU8(…)`, …).
    pub dtype: String,
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Little-endian element bytes (empty for strings).
    #[serde(with = "hex::serde")]
    pub bytes: Vec<u8>,
    /// String elements (empty for other types).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub strings: Vec<String>,
}

impl LayerValue {
    /// The leaf of a step whose outputs are `values`.
    pub fn leaf(values: &[LayerValue]) -> LayerHash {
        let mut h = Hasher::new();
        h.update(DOMAIN);
        h.update(&(values.len() as u32).to_le_bytes());
        let mut header = Vec::new();
        for v in values {
            header.clear();
            encode_header(&mut header, &v.dtype, &v.shape);
            h.update(&header);
            let digest = if v.strings.is_empty() {
                *blake3::hash(&v.bytes).as_bytes()
            } else {
                strings_digest(&v.strings)
            };
            h.update(&digest);
        }
        *h.finalize().as_bytes()
    }
}

/// The plain outputs of the steps a re-execution of one step starts from.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LayerWitness {
    /// `(step, its outputs)` for every step of the frontier, ascending.
    pub steps: Vec<(usize, Vec<LayerValue>)>,
}

fn encode_header(out: &mut Vec<u8>, dtype: &str, shape: &[usize]) {
    out.extend_from_slice(&(dtype.len() as u16).to_le_bytes());
    out.extend_from_slice(dtype.as_bytes());
    out.extend_from_slice(&(shape.len() as u32).to_le_bytes());
    for d in shape {
        out.extend_from_slice(&(*d as u64).to_le_bytes());
    }
}

fn strings_digest(strings: &[String]) -> [u8; 32] {
    let mut h = Hasher::new();
    for s in strings {
        h.update(&(s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    *h.finalize().as_bytes()
}

fn opaque_leaf(step: usize) -> LayerHash {
    let mut h = Hasher::new();
    h.update(OPAQUE_DOMAIN);
    h.update(&(step as u64).to_le_bytes());
    *h.finalize().as_bytes()
}

fn is_plain(t: &TractTensor) -> bool {
    t.is_plain() && !matches!(t.datum_type(), DatumType::TDim | DatumType::Blob)
}

fn dtype_name(t: &TractTensor) -> String {
    format!("{:?}", t.datum_type())
}

/// The digest of a plain value's payload; `None` if it is not plain.
fn payload_digest(v: &TractTensor) -> Option<[u8; 32]> {
    let view = v.try_as_plain_ram().ok()?;
    if v.datum_type() == DatumType::String {
        Some(strings_digest(view.as_slice::<String>().ok()?))
    } else {
        Some(*blake3::hash(view.as_bytes()).as_bytes())
    }
}

/// The leaf of a step's engine values; `None` when one of them is opaque.
fn leaf_of(values: &[TValue]) -> Option<LayerHash> {
    if !values.iter().all(|v| is_plain(v)) {
        return None;
    }
    let mut h = Hasher::new();
    h.update(DOMAIN);
    h.update(&(values.len() as u32).to_le_bytes());
    let mut header = Vec::new();
    for v in values {
        header.clear();
        encode_header(&mut header, &dtype_name(v), v.shape());
        h.update(&header);
        h.update(&payload_digest(v)?);
    }
    Some(*h.finalize().as_bytes())
}

/// Payloads larger than this may go to the hasher pool; smaller ones are hashed on the engine's thread
/// (handing them over would cost more than hashing them).
pub const INLINE_HASH_BYTES: usize = 64 * 1024;

/// A payload handed to the hasher pool. Whoever takes the value first hashes it: a hasher thread, or the
/// run itself when it ends before a hasher got to it (so a run never waits on a thread that the machine
/// has no core for).
struct Job {
    slot: usize,
    value: Mutex<Option<TValue>>,
    reply: mpsc::Sender<(usize, Option<[u8; 32]>)>,
}

impl Job {
    fn take(&self) -> Option<TValue> {
        self.value.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// The process's hasher threads, started when first wanted and living as long as the process.
struct Pool {
    queue: Mutex<VecDeque<Arc<Job>>>,
    ready: Condvar,
    /// How many hashers take jobs (threads beyond it stay idle).
    wanted: AtomicUsize,
    /// How many hasher threads exist.
    started: Mutex<usize>,
}

impl Pool {
    /// Queues `job` unless as many jobs as there are hashers already wait (the caller then hashes it).
    fn offer(&self, job: &Arc<Job>) -> bool {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if queue.len() >= self.wanted.load(Ordering::Relaxed) {
            return false;
        }
        queue.push_back(Arc::clone(job));
        drop(queue);
        self.ready.notify_one();
        true
    }

    fn work(&self) {
        loop {
            let job = {
                let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if let Some(job) = queue.pop_front() {
                        break job;
                    }
                    queue = self.ready.wait(queue).unwrap_or_else(|e| e.into_inner());
                }
            };
            if let Some(value) = job.take() {
                let digest = payload_digest(&value);
                // Give the value back to the engine before saying so.
                drop(value);
                let _ = job.reply.send((job.slot, digest));
            }
        }
    }

    fn set(&'static self, hashers: usize) {
        let hashers = hashers.min(MAX_HASHERS);
        let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
        while *started < hashers {
            let spawned = std::thread::Builder::new()
                .name(format!("ogn-layer-hash-{started}"))
                .spawn(move || self.work());
            if spawned.is_err() {
                // Fewer hashers than asked: runs hash the rest on their own threads.
                break;
            }
            *started += 1;
        }
        self.wanted.store(hashers.min(*started), Ordering::Relaxed);
    }
}

/// Environment variable that sets the number of hasher threads of the process when it first traces a
/// run (default 0); [`set_layer_hashers`] changes it later.
pub const HASHERS_ENV: &str = "OGN_LAYER_HASHERS";

const MAX_HASHERS: usize = 64;

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    static INIT: std::sync::Once = std::sync::Once::new();
    let pool = POOL.get_or_init(|| Pool {
        queue: Mutex::new(VecDeque::new()),
        ready: Condvar::new(),
        wanted: AtomicUsize::new(0),
        started: Mutex::new(0),
    });
    INIT.call_once(|| {
        let n = std::env::var(HASHERS_ENV).ok().and_then(|v| v.trim().parse::<usize>().ok());
        pool.set(n.unwrap_or(0));
    });
    pool
}

/// Sets how many threads of this process hash large layer payloads beside the engine (at most 64).
///
/// With `0` (the default) every run hashes its own payloads on its thread, right after each step. With
/// hashers, a run hands a payload to one when fewer payloads wait than there are hashers, and goes on
/// computing: on a host with idle cores that takes the hashing off the run's critical path; on a host
/// whose cores are busy a hasher only takes turns with the engine, and the engine loses its in-place
/// reuse of the values a hasher holds (BENCHMARKS.md measures both). Leaves do not depend on it.
pub fn set_layer_hashers(hashers: usize) {
    pool().set(hashers);
}

/// Whether `node`'s single output is its single input's bytes under another shape.
fn keeps_bytes(node: &TypedNode) -> bool {
    node.inputs.len() == 1
        && node.outputs.len() == 1
        && (node.op_as::<IntoShape>().is_some()
            || matches!(
                node.op_as::<AxisOp>(),
                Some(AxisOp::Add(_) | AxisOp::Rm(_) | AxisOp::Reshape(..))
            ))
}

/// One output of a traced step: its header bytes (in the run's arena) and its digest slot.
struct Part {
    header: Range<usize>,
    digest: usize,
}

/// What a traced run records per step until every digest is known.
struct Recorder<'a> {
    pool: &'static Pool,
    reply: mpsc::Sender<(usize, Option<[u8; 32]>)>,
    replies: mpsc::Receiver<(usize, Option<[u8; 32]>)>,
    /// Header bytes of every output, back to back.
    headers: Vec<u8>,
    parts: Vec<Part>,
    /// Per step: its outputs' parts, or what it is instead.
    steps: Vec<StepRecord>,
    /// Which steps to hash (`None`: all).
    wanted: Option<&'a [bool]>,
    digests: Vec<Option<[u8; 32]>>,
    /// Digest slot, element type and byte count of each value produced so far.
    slot_of: HashMap<OutletId, (usize, DatumType, usize)>,
    /// Payloads handed to the pool.
    jobs: Vec<Arc<Job>>,
}

/// What a traced run keeps of one step.
enum StepRecord {
    /// Hashed outputs: their parts.
    Parts(Range<usize>),
    /// An output kept in a non-plain layout.
    Opaque,
    /// Not asked for.
    Skipped,
}

impl<'a> Recorder<'a> {
    fn new(steps: usize, wanted: Option<&'a [bool]>) -> Self {
        let (reply, replies) = mpsc::channel();
        Self {
            pool: pool(),
            reply,
            replies,
            headers: Vec::with_capacity(steps * 32),
            parts: Vec::with_capacity(steps),
            steps: Vec::with_capacity(steps),
            wanted,
            digests: Vec::with_capacity(steps),
            slot_of: HashMap::with_capacity(steps),
            jobs: Vec::new(),
        }
    }

    fn record(&mut self, node: &TypedNode, out: &TVec<TValue>) {
        let index = self.steps.len();
        if self.wanted.is_some_and(|w| !w.get(index).copied().unwrap_or(false)) {
            self.steps.push(StepRecord::Skipped);
            return;
        }
        if !out.iter().all(|v| is_plain(v)) {
            self.steps.push(StepRecord::Opaque);
            return;
        }
        let first = self.parts.len();
        for (ix, v) in out.iter().enumerate() {
            let start = self.headers.len();
            encode_header(&mut self.headers, &dtype_name(v), v.shape());
            let header = start..self.headers.len();
            let (dt, bytes) = (v.datum_type(), v.len() * v.datum_type().size_of());
            // The op's contract, checked where it is cheap: same element type and byte count.
            let alias = keeps_bytes(node)
                .then(|| self.slot_of.get(&node.inputs[0]).copied())
                .flatten()
                .filter(|(_, idt, ibytes)| *idt == dt && *ibytes == bytes)
                .map(|(slot, _, _)| slot);
            let digest = match alias {
                Some(slot) => slot,
                None => {
                    let slot = self.digests.len();
                    self.digests.push(None);
                    let wanted = self.pool.wanted.load(Ordering::Relaxed) > 0;
                    let job = (wanted && bytes > INLINE_HASH_BYTES).then(|| {
                        Arc::new(Job {
                            slot,
                            value: Mutex::new(Some(v.clone())),
                            reply: self.reply.clone(),
                        })
                    });
                    match job {
                        Some(job) if self.pool.offer(&job) => self.jobs.push(job),
                        _ => self.digests[slot] = payload_digest(v),
                    }
                    slot
                }
            };
            self.slot_of.insert(OutletId::new(node.id, ix), (digest, dt, bytes));
            self.parts.push(Part { header, digest });
        }
        self.steps.push(StepRecord::Parts(first..self.parts.len()));
    }

    /// Hashes what no hasher took, waits for the rest, and computes the leaves (`None`: skipped).
    fn finish(mut self) -> Result<Vec<Option<LayerHash>>, RuntimeError> {
        let mut pending = 0usize;
        for job in &self.jobs {
            match job.take() {
                Some(v) => self.digests[job.slot] = payload_digest(&v),
                None => pending += 1,
            }
        }
        if !self.jobs.is_empty() {
            // Jobs taken back leave the queue now rather than hold a place in it.
            let mut queue = self.pool.queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.retain(|j| j.value.lock().map_or(true, |v| v.is_some()));
        }
        drop(self.reply);
        for _ in 0..pending {
            let (slot, digest) = self.replies.recv().map_err(|_| RuntimeError::Execution {
                reason: "the layer hasher stopped".into(),
            })?;
            self.digests[slot] = digest;
        }
        let missing = || RuntimeError::Execution { reason: "a step was not hashed".into() };
        let mut leaves = Vec::with_capacity(self.steps.len());
        for (step, record) in self.steps.iter().enumerate() {
            let parts = match record {
                StepRecord::Parts(parts) => parts,
                StepRecord::Opaque => {
                    leaves.push(Some(opaque_leaf(step)));
                    continue;
                }
                StepRecord::Skipped => {
                    leaves.push(None);
                    continue;
                }
            };
            let mut h = Hasher::new();
            h.update(DOMAIN);
            h.update(&(parts.len() as u32).to_le_bytes());
            for p in &self.parts[parts.clone()] {
                h.update(&self.headers[p.header.clone()]);
                h.update(&self.digests[p.digest].ok_or_else(missing)?);
            }
            leaves.push(Some(*h.finalize().as_bytes()));
        }
        Ok(leaves)
    }
}

fn to_layer_value(v: &TValue) -> Result<LayerValue, RuntimeError> {
    let fail = |e: tract_onnx::prelude::TractError| RuntimeError::Execution { reason: chain(&e) };
    let view = v.try_as_plain_ram().map_err(fail)?;
    let (bytes, strings) = if v.datum_type() == DatumType::String {
        (Vec::new(), view.as_slice::<String>().map_err(fail)?.to_vec())
    } else {
        (view.as_bytes().to_vec(), Vec::new())
    };
    Ok(LayerValue {
        dtype: format!("{:?}", v.datum_type()),
        shape: v.shape().to_vec(),
        bytes,
        strings,
    })
}

fn from_layer_value(v: &LayerValue, dt: DatumType) -> Result<TValue, RuntimeError> {
    let bad = |why: String| RuntimeError::Execution { reason: format!("witness value: {why}") };
    if v.dtype != format!("{dt:?}") {
        return Err(bad(format!("type {} where the plan has {dt:?}", v.dtype)));
    }
    let mut t = TractTensor::zero_dt(dt, &v.shape).map_err(|e| bad(chain(&e)))?;
    if dt == DatumType::String {
        let mut view = t.try_as_plain_ram_mut().map_err(|e| bad(chain(&e)))?;
        let slots = view.as_slice_mut::<String>().map_err(|e| bad(chain(&e)))?;
        if slots.len() != v.strings.len() {
            return Err(bad("string count does not match the shape".into()));
        }
        slots.clone_from_slice(&v.strings);
    } else {
        let dst = t.as_bytes_mut();
        if dst.len() != v.bytes.len() {
            return Err(bad(format!(
                "{} bytes where the shape needs {}",
                v.bytes.len(),
                dst.len()
            )));
        }
        dst.copy_from_slice(&v.bytes);
    }
    Ok(t.into_tvalue())
}

/// Marker error that stops a run once the step of interest has been computed.
#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ogn: layer computed")
    }
}

impl std::error::Error for Stop {}

impl Runtime {
    /// Runs `model` like [`Runtime::run`] and also returns the leaf of every step.
    pub fn run_traced(&self, model: &Model, inputs: &[Tensor]) -> Result<Trace, RuntimeError> {
        let (outputs, leaves) = self.run_recorded(model, inputs, None)?;
        let leaves = leaves
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| RuntimeError::Execution { reason: "a step was not hashed".into() })?;
        Ok(Trace { outputs, leaves })
    }

    /// Runs `model` like [`Runtime::run`] and returns the leaves of the steps `layout` commits to
    /// ([`CutLayout::hashed_steps`]); the others are `None` and cost nothing. A layout without cuts is a
    /// plain run.
    pub fn run_checkpointed(
        &self,
        model: &Model,
        inputs: &[Tensor],
        layout: &CutLayout,
    ) -> Result<PartialTrace, RuntimeError> {
        let wanted = layout.hashed_steps();
        if !wanted.iter().any(|w| *w) {
            let outputs = self.run(model, inputs)?;
            return Ok(PartialTrace { outputs, leaves: vec![None; layout.steps as usize] });
        }
        let (outputs, leaves) = self.run_recorded(model, inputs, Some(&wanted))?;
        Ok(PartialTrace { outputs, leaves })
    }

    fn run_recorded(
        &self,
        model: &Model,
        inputs: &[Tensor],
        wanted: Option<&[bool]>,
    ) -> Result<(Vec<Tensor>, Vec<Option<LayerHash>>), RuntimeError> {
        let (prepared, values) = self.bind(model, inputs)?;
        let steps = prepared.plan.order_without_consts().len();
        let mut recorder = Recorder::new(steps, wanted);
        let mut state =
            prepared.plan.spawn().map_err(|e| RuntimeError::Execution { reason: chain(&e) })?;
        let outputs = state
            .run_plan_with_eval(values, |ctx, op_state, node, inputs| {
                let out = tract_onnx::tract_core::plan::eval(ctx, op_state, node, inputs)?;
                recorder.record(node, &out);
                Ok::<_, tract_onnx::prelude::TractError>(out)
            })
            .map_err(|e| RuntimeError::Execution { reason: chain(&e) })?;
        let leaves = recorder.finish()?;
        if leaves.len() != steps {
            return Err(RuntimeError::Execution { reason: "a step was not hashed".into() });
        }
        let outputs = outputs
            .into_iter()
            .zip(&model.info().outputs)
            .map(|(value, info)| from_tract(value, &info.name, info.dtype))
            .collect::<Result<_, _>>()?;
        Ok((outputs, leaves))
    }

    /// Number of steps of the plan for these inputs.
    pub fn step_count(&self, model: &Model, inputs: &[Tensor]) -> Result<usize, RuntimeError> {
        let (prepared, _) = self.bind(model, inputs)?;
        Ok(prepared.plan.order_without_consts().len())
    }

    /// The steps a re-execution of `step` starts from, and their values in a full run on `inputs`.
    pub fn layer_witness(
        &self,
        model: &Model,
        inputs: &[Tensor],
        step: usize,
    ) -> Result<LayerWitness, RuntimeError> {
        let (prepared, values) = self.bind(model, inputs)?;
        let plan = &prepared.plan;
        let frontier = frontier(plan, step)?;
        let mut witness = LayerWitness::default();
        let mut state = plan.spawn().map_err(|e| RuntimeError::Execution { reason: chain(&e) })?;
        let mut index = 0usize;
        let run = state.run_plan_with_eval(values, |ctx, op_state, node, inputs| {
            let out = tract_onnx::tract_core::plan::eval(ctx, op_state, node, inputs)?;
            if frontier.plain.contains(&index) {
                let values = out.iter().map(to_layer_value).collect::<Result<Vec<_>, _>>();
                match values {
                    Ok(values) => witness.steps.push((index, values)),
                    Err(e) => return Err(anyhow_error(e.to_string())),
                }
            }
            index += 1;
            if index > step {
                return Err(anyhow_error(Stop.to_string()));
            }
            Ok(out)
        });
        stopped_or(run)?;
        Ok(witness)
    }

    /// Re-executes only `step` (plus any opaque steps between it and its frontier) from `witness`, and
    /// returns its leaf. Steps outside the frontier are not computed. The caller checks the witness values
    /// against agreed leaves ([`LayerValue::leaf`]) first; this checks only that they fit the plan.
    pub fn run_layer(
        &self,
        model: &Model,
        inputs: &[Tensor],
        step: usize,
        witness: &LayerWitness,
    ) -> Result<LayerHash, RuntimeError> {
        let (prepared, values) = self.bind(model, inputs)?;
        let plan = &prepared.plan;
        let frontier = frontier(plan, step)?;
        let given: HashMap<usize, &Vec<LayerValue>> =
            witness.steps.iter().map(|(s, v)| (*s, v)).collect();
        for s in &frontier.plain {
            if !given.contains_key(s) {
                return Err(RuntimeError::Execution {
                    reason: format!("witness lacks step {s}, an input of step {step}"),
                });
            }
        }
        let mut leaf = None;
        let mut index = 0usize;
        let mut state = plan.spawn().map_err(|e| RuntimeError::Execution { reason: chain(&e) })?;
        let run = state.run_plan_with_eval(values, |ctx, op_state, node, inputs| {
            let this = index;
            index += 1;
            let out: TVec<TValue> = if this == step || frontier.recompute.contains(&this) {
                tract_onnx::tract_core::plan::eval(ctx, op_state, node, inputs)?
            } else if let Some(values) = given.get(&this).filter(|_| frontier.plain.contains(&this))
            {
                if values.len() != node.outputs.len() {
                    return Err(anyhow_error(format!(
                        "witness step {this} has {} outputs, the plan {}",
                        values.len(),
                        node.outputs.len()
                    )));
                }
                let mut out = TVec::new();
                for (v, o) in values.iter().zip(&node.outputs) {
                    if o.fact.shape.as_concrete() != Some(v.shape.as_slice()) {
                        return Err(anyhow_error(format!(
                            "witness step {this}: shape {:?} where the plan has {:?}",
                            v.shape, o.fact.shape
                        )));
                    }
                    out.push(
                        from_layer_value(v, o.fact.datum_type)
                            .map_err(|e| anyhow_error(e.to_string()))?,
                    );
                }
                out
            } else if node.inputs.is_empty() {
                // A model input: preset by the run, cheap to pass through.
                tract_onnx::tract_core::plan::eval(ctx, op_state, node, inputs)?
            } else {
                // Not needed: placeholders of the declared shapes, never read by the step computed.
                let mut out = TVec::new();
                for o in &node.outputs {
                    let shape = o.fact.shape.as_concrete().map(|s| s.to_vec()).unwrap_or_default();
                    out.push(TractTensor::zero_dt(o.fact.datum_type, &shape)?.into_tvalue());
                }
                out
            };
            if this == step {
                leaf = Some(leaf_of(&out).unwrap_or_else(|| opaque_leaf(step)));
                return Err(anyhow_error(Stop.to_string()));
            }
            Ok(out)
        });
        stopped_or(run)?;
        leaf.ok_or_else(|| RuntimeError::Execution {
            reason: format!("step {step} is past the plan's last step"),
        })
    }

    /// The prepared plan for these inputs and the inputs as engine values.
    pub(crate) fn bind(
        &self,
        model: &Model,
        inputs: &[Tensor],
    ) -> Result<(std::sync::Arc<crate::Prepared>, TVec<TValue>), RuntimeError> {
        let ordered = crate::engine::bind_inputs(model.info(), inputs)?;
        let shapes: Vec<Vec<usize>> = ordered.iter().map(|t| t.shape.clone()).collect();
        let prepared = self.prepare(model, &shapes)?;
        let values = ordered.iter().map(|t| to_tract(t)).collect::<Result<TVec<TValue>, _>>()?;
        Ok((prepared, values))
    }
}

fn anyhow_error(message: String) -> tract_onnx::prelude::TractError {
    tract_onnx::prelude::TractError::msg(message)
}

/// A run cut short by [`Stop`] is a success.
fn stopped_or(run: tract_onnx::prelude::TractResult<TVec<TValue>>) -> Result<(), RuntimeError> {
    match run {
        Ok(_) => Ok(()),
        Err(e) if e.root_cause().to_string() == Stop.to_string() => Ok(()),
        Err(e) => Err(RuntimeError::Execution { reason: chain(&e) }),
    }
}

/// The steps re-executing `step` needs: `plain` ones are given by the witness, `recompute` ones (opaque
/// outputs, e.g. packed weights) are computed from them.
pub(crate) struct Frontier {
    pub(crate) plain: HashSet<usize>,
    pub(crate) recompute: HashSet<usize>,
}

pub(crate) fn frontier(
    plan: &tract_onnx::prelude::TypedSimplePlan,
    step: usize,
) -> Result<Frontier, RuntimeError> {
    let order = plan.order_without_consts();
    let Some(&target) = order.get(step) else {
        return Err(RuntimeError::Execution {
            reason: format!("step {step} is past the plan's last step ({} steps)", order.len()),
        });
    };
    let step_of: HashMap<usize, usize> = order.iter().enumerate().map(|(s, n)| (*n, s)).collect();
    let model = plan.model();
    let mut plain = HashSet::new();
    let mut recompute = HashSet::new();
    let mut stack: Vec<usize> = model.node(target).inputs.iter().map(|o| o.node).collect();
    let mut seen = HashSet::new();
    while let Some(n) = stack.pop() {
        if !seen.insert(n) {
            continue;
        }
        let Some(&s) = step_of.get(&n) else { continue }; // a constant: seeded by the plan
        let node = model.node(n);
        let opaque = node.outputs.iter().any(|o| {
            o.fact.exotic_fact().is_some()
                || matches!(o.fact.datum_type, DatumType::TDim | DatumType::Blob)
        });
        if opaque && !node.inputs.is_empty() {
            recompute.insert(s);
            stack.extend(node.inputs.iter().map(|o| o.node));
        } else {
            plain.insert(s);
        }
    }
    Ok(Frontier { plain, recompute })
}
