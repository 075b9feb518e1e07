//! Per-layer evidence: a run that hashes the outputs of every step of the plan, and the re-execution of a
//! single step from its inputs.
//!
//! A *step* is one non-constant node of the prepared plan, in the plan's execution order (model inputs
//! included). Its *leaf* is the BLAKE3 hash of its output values in the encoding below. Two runs of the same
//! model on the same inputs with the same engine id produce the same leaves, so the first step whose leaves
//! differ pins down where two executions part ways (the bisection game in `ogn-verify`).
//!
//! ```text
//!  leaf(step) = BLAKE3( "ogn-layer-v1" ‖ n_outputs:u32 ‖ for each output:
//!                        dtype:(u16 len ‖ tract's name) ‖ rank:u32 ‖ dims:u64… ‖ payload )
//!  payload    = little-endian element bytes (strings: u64 len ‖ bytes each)
//! ```
//!
//! Outputs the engine keeps in an internal, non-plain layout (packed weight panels, shape expressions) are
//! not hashed: their leaf is `BLAKE3("ogn-layer-v1-opaque" ‖ step:u64)`. Such a value is a deterministic
//! function of its own inputs, so re-executing a step recomputes any opaque inputs from the nearest plain
//! ones (its *frontier*), and a disagreement can never hide in an opaque step.
//!
//! # Cost
//! Hashing every intermediate value reads as many bytes as inference writes (≈ 0.6 GB for PP-OCR det at
//! 640×640). BLAKE3 (AVX-512/AVX2, several GB/s on one core) keeps that below inference time, and steps
//! whose outputs exceed [`INLINE_HASH_BYTES`] are hashed on a background thread while the engine computes
//! the next steps (the engine's values are reference-counted and immutable once produced, so the hasher
//! only holds a reference). On a machine with a spare core the commitment then adds little latency; the
//! CPU time it costs is measured in BENCHMARKS.md.

use std::collections::{HashMap, HashSet};

use ogn_types::Tensor;
use std::sync::{Mutex, OnceLock, mpsc};

use blake3::Hasher;
use tract_onnx::prelude::{DatumType, IntoTValue, TValue, TVec, Tensor as TractTensor};

use crate::engine::{Model, from_tract, to_tract};
use crate::error::chain;
use crate::{Runtime, RuntimeError};

/// BLAKE3 hash of one step's outputs.
pub type LayerHash = [u8; 32];

const DOMAIN: &[u8] = b"ogn-layer-v1";
const OPAQUE_DOMAIN: &[u8] = b"ogn-layer-v1-opaque";

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
        for v in values {
            encode_header(&mut h, &v.dtype, &v.shape);
            if v.strings.is_empty() {
                h.update(&v.bytes);
            } else {
                encode_strings(&mut h, &v.strings);
            }
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

fn encode_header(h: &mut Hasher, dtype: &str, shape: &[usize]) {
    h.update(&(dtype.len() as u16).to_le_bytes());
    h.update(dtype.as_bytes());
    h.update(&(shape.len() as u32).to_le_bytes());
    for d in shape {
        h.update(&(*d as u64).to_le_bytes());
    }
}

fn encode_strings(h: &mut Hasher, strings: &[String]) {
    for s in strings {
        h.update(&(s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
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

/// The leaf of a step's engine values; `None` when one of them is opaque.
fn leaf_of(values: &[TValue]) -> Option<LayerHash> {
    if !values.iter().all(|v| is_plain(v)) {
        return None;
    }
    let mut h = Hasher::new();
    h.update(DOMAIN);
    h.update(&(values.len() as u32).to_le_bytes());
    for v in values {
        encode_header(&mut h, &format!("{:?}", v.datum_type()), v.shape());
        if v.datum_type() == DatumType::String {
            let view = v.try_as_plain_ram().ok()?;
            encode_strings(&mut h, view.as_slice::<String>().ok()?);
        } else {
            h.update(v.try_as_plain_ram().ok()?.as_bytes());
        }
    }
    Some(*h.finalize().as_bytes())
}

/// Steps whose outputs are larger than this are hashed on the background hasher.
pub const INLINE_HASH_BYTES: usize = 256 * 1024;

type HashTask = (usize, TVec<TValue>, mpsc::Sender<(usize, LayerHash)>);

/// The process's background hasher: one thread, started on first use, living as long as the process.
fn hasher() -> &'static Mutex<mpsc::Sender<HashTask>> {
    static HASHER: OnceLock<Mutex<mpsc::Sender<HashTask>>> = OnceLock::new();
    HASHER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<HashTask>();
        std::thread::Builder::new()
            .name("ogn-layer-hash".into())
            .spawn(move || {
                for (step, values, reply) in rx {
                    let leaf = leaf_of(&values).unwrap_or_else(|| opaque_leaf(step));
                    drop(values);
                    let _ = reply.send((step, leaf));
                }
            })
            .expect("the operating system starts the hasher thread");
        Mutex::new(tx)
    })
}

fn value_bytes(values: &[TValue]) -> usize {
    values.iter().map(|v| v.len() * v.datum_type().size_of()).sum()
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
        let (prepared, values) = self.bind(model, inputs)?;
        let steps = prepared.plan.order_without_consts().len();
        let mut leaves: Vec<Option<LayerHash>> = vec![None; steps];
        let (reply, replies) = mpsc::channel();
        let background = hasher().lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut pending = 0usize;
        let mut index = 0usize;
        let mut state =
            prepared.plan.spawn().map_err(|e| RuntimeError::Execution { reason: chain(&e) })?;
        let outputs = state
            .run_plan_with_eval(values, |ctx, op_state, node, inputs| {
                let out = tract_onnx::tract_core::plan::eval(ctx, op_state, node, inputs)?;
                let step = index;
                index += 1;
                if value_bytes(&out) > INLINE_HASH_BYTES
                    && background.send((step, out.clone(), reply.clone())).is_ok()
                {
                    pending += 1;
                } else if let Some(slot) = leaves.get_mut(step) {
                    *slot = Some(leaf_of(&out).unwrap_or_else(|| opaque_leaf(step)));
                }
                Ok::<_, tract_onnx::prelude::TractError>(out)
            })
            .map_err(|e| RuntimeError::Execution { reason: chain(&e) })?;
        drop(reply);
        for _ in 0..pending {
            let (step, leaf) = replies.recv().map_err(|_| RuntimeError::Execution {
                reason: "the layer hasher stopped".into(),
            })?;
            leaves[step] = Some(leaf);
        }
        let leaves = leaves
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| RuntimeError::Execution { reason: "a step was not hashed".into() })?;
        let outputs = outputs
            .into_iter()
            .zip(&model.info().outputs)
            .map(|(value, info)| from_tract(value, &info.name, info.dtype))
            .collect::<Result<_, _>>()?;
        Ok(Trace { outputs, leaves })
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
    fn bind(
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
struct Frontier {
    plain: HashSet<usize>,
    recompute: HashSet<usize>,
}

fn frontier(
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
