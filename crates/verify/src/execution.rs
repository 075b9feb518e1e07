//! Running a job with evidence, and the referee that re-executes one step of it.

use alloy::primitives::B256;
use ogn_runtime::{CutLayout, LayerWitness, Model, Runtime, RuntimeError};
use ogn_types::{Tensor, canonical};

use crate::commitment::{LayerCommitment, StateTree, chain_states, cut_leaves, genesis_state};
use crate::dispute::{Referee, RunEvidence};
use crate::receipt::{Statement, tensors_hash};

/// A job run with everything its operator needs to attest to it and to defend it.
#[derive(Debug, Clone)]
pub struct Execution {
    /// The outputs.
    pub outputs: Vec<Tensor>,
    /// Hash of the inputs.
    pub input_hash: B256,
    /// Hash of the outputs.
    pub output_hash: B256,
    /// Result id.
    pub result_id: B256,
    /// Engine id.
    pub engine_id: String,
    /// Leaves, states and their tree.
    pub evidence: RunEvidence,
}

impl Execution {
    /// The commitment an operator signs.
    pub fn commitment(&self) -> LayerCommitment {
        self.evidence.tree.commitment()
    }

    /// The statement for `job` on `chain_id`.
    pub fn statement(&self, chain_id: u64, job: u64, model: &Model) -> Statement {
        Statement {
            chain_id,
            job,
            model: *model.cid(),
            input_hash: self.input_hash,
            output_hash: self.output_hash,
            result_id: self.result_id,
            engine_id: self.engine_id.clone(),
            commitment: self.commitment(),
        }
    }

    /// Evidence for a run whose step leaves (at least the live steps of `layout`'s cuts) and output hash
    /// are known (also how a cheater builds a consistent-looking commitment over altered values); `None`
    /// when `leaves` does not fit the layout.
    pub fn evidence_for(
        model: &Model,
        input_hash: B256,
        layout: CutLayout,
        leaves: Vec<Option<B256>>,
        output_hash: B256,
    ) -> Option<RunEvidence> {
        if leaves.len() != layout.steps as usize {
            return None;
        }
        let genesis = genesis_state(model.cid(), input_hash);
        let cuts: Vec<[u8; 32]> = cut_leaves(&layout, &leaves)?.iter().map(|l| l.0).collect();
        let tree = StateTree::new(chain_states(genesis, &cuts, output_hash));
        Some(RunEvidence { layout, tree, leaves, genesis })
    }
}

/// Tensor lists with at least this many elements are hashed on a thread of their own beside the run.
/// Below it the hash takes well under a millisecond, and on a busy host waiting for that thread to be
/// scheduled costs more than it saves.
const PARALLEL_HASH_ELEMENTS: usize = 1 << 16;

fn elements(tensors: &[Tensor]) -> usize {
    tensors.iter().map(Tensor::len).sum()
}

/// Runs `f` and `g`, on two threads when `parallel`.
fn both<A: Send, B: Send>(
    parallel: bool,
    f: impl FnOnce() -> A + Send,
    g: impl FnOnce() -> B,
) -> (A, B) {
    if !parallel {
        return (f(), g());
    }
    std::thread::scope(|s| {
        let a = s.spawn(f);
        let b = g();
        (a.join().unwrap_or_else(|e| std::panic::resume_unwind(e)), b)
    })
}

/// Runs `model` on `inputs` with per-layer evidence: the leaves of the live steps of the plan's cuts
/// (the other steps' leaves are computed if a dispute asks for them, [`RunEvidence::complete`]).
///
/// The input hash (keccak over the canonical encoding, as costly per byte as the layer leaves) is
/// computed beside the run, and the output hash beside the result id, when the tensors are large.
pub fn execute(
    runtime: &Runtime,
    model: &Model,
    inputs: &[Tensor],
) -> Result<Execution, RuntimeError> {
    let layout = runtime.cut_layout(model, inputs)?;
    let (input_hash, trace) = both(
        elements(inputs) >= PARALLEL_HASH_ELEMENTS,
        || tensors_hash(inputs),
        || runtime.run_checkpointed(model, inputs, &layout),
    );
    let trace = trace?;
    let (output_hash, result_id) = both(
        elements(inputs) + elements(&trace.outputs) >= PARALLEL_HASH_ELEMENTS,
        || tensors_hash(&trace.outputs),
        || canonical::result_id(model.cid(), inputs, &trace.outputs, runtime.engine_id()),
    );
    let leaves: Vec<Option<B256>> = trace.leaves.iter().map(|l| l.map(B256::from)).collect();
    let evidence = Execution::evidence_for(model, input_hash, layout, leaves, output_hash)
        .ok_or_else(|| RuntimeError::Execution { reason: "a live step was not hashed".into() })?;
    Ok(Execution {
        outputs: trace.outputs,
        input_hash,
        output_hash,
        result_id,
        engine_id: runtime.engine_id().to_string(),
        evidence,
    })
}

/// The referee of a job: the validators' view, with the model and the job's inputs.
pub struct RuntimeReferee<'a> {
    runtime: &'a Runtime,
    model: &'a Model,
    inputs: &'a [Tensor],
    layout: CutLayout,
    steps: u64,
}

impl<'a> RuntimeReferee<'a> {
    /// A referee for `model` on `inputs` (prepares the plan to derive its cut layout).
    pub fn new(
        runtime: &'a Runtime,
        model: &'a Model,
        inputs: &'a [Tensor],
    ) -> Result<Self, RuntimeError> {
        let layout = runtime.cut_layout(model, inputs)?;
        let steps = u64::from(layout.steps);
        Ok(Self { runtime, model, inputs, layout, steps })
    }

    /// The job's cut layout.
    pub fn layout(&self) -> &CutLayout {
        &self.layout
    }
}

impl Referee for RuntimeReferee<'_> {
    fn leaf(&self, index: u64, witness: &LayerWitness) -> Result<B256, String> {
        if index < self.steps {
            let leaf = self
                .runtime
                .run_layer(self.model, self.inputs, index as usize, witness)
                .map_err(|e| e.to_string())?;
            Ok(B256::from(leaf))
        } else if index == self.steps {
            // The output state: the outputs' hash (one full run; the final step is rare in disputes).
            let outputs = self.runtime.run(self.model, self.inputs).map_err(|e| e.to_string())?;
            Ok(tensors_hash(&outputs))
        } else {
            Err(format!("position {index} is past the last state {}", self.steps))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ogn_runtime::RuntimeConfig;
    use ogn_types::{ModelCid, TensorData};

    /// Hashes computed beside the run are the ones the receipt defines.
    #[test]
    fn execute_hashes_match_their_definitions() {
        let runtime = Runtime::new(RuntimeConfig::default());
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/models/ch_ppocr_mobile_v2.0_cls_infer.onnx"
        );
        let bytes = std::fs::read(path).expect("fixtures: run scripts/fetch-fixtures");
        let model = runtime.load(&ModelCid::for_bytes(&bytes), &bytes).unwrap();
        // A batch of three: enough elements for the parallel path.
        let shape = vec![3, 3, 48, 192];
        let n: usize = shape.iter().product();
        assert!(n >= PARALLEL_HASH_ELEMENTS, "the input takes the parallel path");
        let data = (0..n).map(|i| ((i * 7919) % 255) as f32 / 255.0).collect();
        let inputs = vec![Tensor::new("x", shape, TensorData::F32(data)).unwrap()];
        let exec = execute(&runtime, &model, &inputs).unwrap();
        assert_eq!(exec.outputs, runtime.run(&model, &inputs).unwrap());
        assert_eq!(exec.input_hash, tensors_hash(&inputs));
        assert_eq!(exec.output_hash, tensors_hash(&exec.outputs));
        let id = canonical::result_id(model.cid(), &inputs, &exec.outputs, runtime.engine_id());
        assert_eq!(exec.result_id, id);
        let trace = runtime.run_traced(&model, &inputs).unwrap();
        let hashed = exec.evidence.layout.hashed_steps();
        assert!(hashed.iter().any(|h| *h), "the classifier has cuts");
        for (s, leaf) in exec.evidence.leaves.iter().enumerate() {
            assert_eq!(*leaf, hashed[s].then(|| B256::from(trace.leaves[s])), "step {s}");
        }
    }
}
