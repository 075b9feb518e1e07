//! Inference in transactions: OpenGradient's ABI, the records pre-execution makes, and the logic of the
//! inference precompile (`0x…F4`) and the natively implemented Inference hub contract.
//!
//! # Gas
//! An inference costs [`INFERENCE_BASE_GAS`] plus one gas per [`WORK_UNITS_PER_GAS`] units of the model's
//! work estimate for the given input shapes ([`ogn_runtime::Prepared::work`]: multiply-accumulates +
//! divisions + elements written, computed once per model and shape). With a 30 M block gas limit a block
//! holds at most about 4.8·10^8 work units of inference (≈0.3 s on one core), so a heavy model pays for
//! what it costs the pre-execution stage. A failed inference (missing model, bad input) costs the base.
//! The work and gas are part of the record, so replaying a block needs no model.
//!
//! # ZKML
//! A ZKML request ([`mode::ZKML`]) runs the model's int8 integer execution with ogn-zk instead of
//! ogn-runtime: pre-execution reads the model file from the hub, commits its weights once (cached by
//! CID), quantizes the single input tensor with the model's input scale, proves the run and records
//! a [`ZkAttachment`] (model commitment, int8 output, proof) with the result, whose output is the int8
//! output dequantized. Block execution verifies every ZKML record ([`verify_zkml`]) before it accepts
//! the result: the proof against the recorded commitment for the recorded input and int8 output, the
//! recorded output, result id, work and gas recomputed from them. A record that fails reverts the
//! call with `ZKML proof rejected: …`. Models ogn-zk cannot prove (anything but int8
//! QLinearMatMul / QLinearConv graphs with pooling, ReLU, Flatten) revert with the loader's reason.
//! The commitment is derived from the hub's model file (`model_cid`): anyone holding the file can
//! recompute it (`ogn verify-proof` does); a node without models checks the proof against the
//! recorded commitment.
//!
//! ZKML gas ([`zkml_gas`]) = [`inference_gas`] of the integer model's work + proving
//! ([`ZKML_PROVE_GAS_PER_WORK`] per work unit) + verification ([`zkml_verify_gas`]:
//! [`ZKML_VERIFY_BASE_GAS`] + [`ZKML_VERIFY_GAS_PER_PROOF_BYTE`] per proof byte). At the rate above
//! (10^8 gas per second of one core) that pays for the times measured on the default release build
//! (BENCHMARKS.md, "ZKML on the chain"): proving 0.24–0.25 µs per work unit on all three test models,
//! verification 7–14 ms for 200–350 kB proofs. The MLP 784-128-10 costs about 3.7 M gas, 1.0 M of it
//! verification; the MLP 784-1024-256-10 about 29.4 M, inside one 30 M-gas block.

use alloy::{
    primitives::{Address, B256, Bytes, Log, LogData, address},
    sol,
    sol_types::{SolCall, SolError, SolEvent, SolValue},
};
use std::sync::{Arc, Mutex};

use ogn_types::{ModelCid, Tensor, TensorData};
use ogn_zk::QuantizedModel;
use serde::{Deserialize, Serialize};

use crate::oracle::InferenceOracle;

/// Address of the inference precompile.
pub const INFERENCE_PRECOMPILE: Address = address!("00000000000000000000000000000000000000F4");

/// Gas of every inference call, before the model's work.
pub const INFERENCE_BASE_GAS: u64 = 21_000;

/// Work units (see [`ogn_runtime::Prepared::work`]) bought by one unit of gas.
pub const WORK_UNITS_PER_GAS: u64 = 16;

/// Reason of `runLLMCompletion` / `runLLMChat` reverts.
pub const LLM_UNAVAILABLE: &str = "LLM inference is not available on this network yet";

/// Inference modes of `ModelInferenceRequest.mode` / `run(…, inferenceMode, …)`.
pub mod mode {
    /// Result trusted from the operator's record.
    pub const VANILLA: u8 = 0;
    /// Result with a zero-knowledge proof.
    pub const ZKML: u8 = 1;
    /// Result signed in a trusted execution environment.
    pub const TEE: u8 = 2;
}

/// Gas of an inference with `work` units.
pub fn inference_gas(work: u64) -> u64 {
    INFERENCE_BASE_GAS.saturating_add(work.div_ceil(WORK_UNITS_PER_GAS))
}

/// ZKML: gas per work unit of the integer model for proving its run in pre-execution (the MLP
/// 784-128-10, 1.0·10^5 work units, proves in about 26 ms; LeNet-5, 4.2·10^5, in 108 ms; the MLP
/// 784-1024-256-10, 1.07·10^6, in 255 ms: 0.24–0.25 µs, i.e. 24–25 gas, per unit).
pub const ZKML_PROVE_GAS_PER_WORK: u64 = 26;

/// ZKML: fixed gas of verifying a proof at block execution.
pub const ZKML_VERIFY_BASE_GAS: u64 = 400_000;

/// ZKML: verification gas per byte of proof (proofs carry the accumulators and the WHIR opening,
/// whose lengths follow the verifier's work).
pub const ZKML_VERIFY_GAS_PER_PROOF_BYTE: u64 = 3;

/// Engine id of ZKML results: ogn-zk's integer execution (proof format version 4).
pub const ZKML_ENGINE_ID: &str = "ogn-zk/4";

/// Gas of verifying a ZKML proof of `proof_len` bytes.
pub fn zkml_verify_gas(proof_len: usize) -> u64 {
    ZKML_VERIFY_BASE_GAS
        .saturating_add((proof_len as u64).saturating_mul(ZKML_VERIFY_GAS_PER_PROOF_BYTE))
}

/// Gas of a ZKML inference: running (`work` units), proving and verifying (`proof_len` bytes).
pub fn zkml_gas(work: u64, proof_len: usize) -> u64 {
    inference_gas(work)
        .saturating_add(work.saturating_mul(ZKML_PROVE_GAS_PER_WORK))
        .saturating_add(zkml_verify_gas(proof_len))
}

pub use ogn_types::opengradient::{
    AbiNumber as Number, ChatMessage, IInference, IInferencePrecompile, JsonScalar, LLMChatRequest,
    LLMChatResponse, LLMCompletionRequest, LLMCompletionResponse, ModelInferenceRequest,
    ModelInput, ModelOutput, NumberTensor, StringTensor, ToolCall, ToolDefinition,
};

sol! {
    /// Solidity's revert reason.
    error Error(string message);
}

/// One inference made by a transaction, as pre-execution recorded it. Block execution reads it instead
/// of running the model; it is part of the block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceRecord {
    /// The model as the caller named it (CID or `name@version`).
    pub model: String,
    /// The mode asked for.
    pub mode: u8,
    /// The ABI encoding of the `ModelInput`.
    pub input: Bytes,
    /// The model file that ran (`None` when the inference failed before one was found).
    pub model_cid: Option<String>,
    /// The ABI encoding of the `ModelOutput` (with `is_simulation_result = false`); empty on failure.
    pub output: Bytes,
    /// The engine that ran it.
    pub engine_id: String,
    /// `ogn_types::result_id` of the inference; zero on failure.
    pub result_id: B256,
    /// The model's work estimate.
    pub work: u64,
    /// Gas charged for this inference ([`inference_gas`]).
    pub gas: u64,
    /// Why the inference failed (the revert reason), when it did.
    pub error: Option<String>,
    /// ZKML: the proof of the result and what it is checked against; absent in the other modes
    /// (and then absent from the JSON and the [`InferenceRecord::encode`] bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zk: Option<ZkAttachment>,
}

/// What a ZKML record carries for validators: the result is checked against it ([`verify_zkml`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZkAttachment {
    /// `ogn_zk::ModelCommitment::to_bytes` of the model file that ran: every parameter but the
    /// weights, and the WHIR root of the weights.
    pub commitment: Bytes,
    /// The int8 model output (`[batch][outputs]`, two's complement); the record's output is its
    /// dequantization.
    pub output: Bytes,
    /// `ogn_zk::Proof::to_bytes`.
    pub proof: Bytes,
}

impl InferenceRecord {
    /// The input tensors (exact decimals and strings).
    pub fn input_tensors(&self) -> Result<Vec<Tensor>, String> {
        let input = ogn_types::opengradient::ModelInput::abi_decode(&self.input)
            .map_err(|e| e.to_string())?;
        input.to_tensors().map_err(|e| e.to_string())
    }

    /// The output as OpenGradient's ABI value, when the inference succeeded.
    pub fn model_output(&self) -> Option<ogn_types::opengradient::ModelOutput> {
        if self.error.is_some() {
            return None;
        }
        ogn_types::opengradient::ModelOutput::abi_decode(&self.output).ok()
    }

    /// The output tensors (exact decimals and strings), when the inference succeeded.
    pub fn output_tensors(&self) -> Option<Result<Vec<Tensor>, String>> {
        self.model_output().map(|o| o.to_tensors().map_err(|e| e.to_string()))
    }

    /// The inference id as events and the REST API show it: the result id in `0x…` hex.
    pub fn inference_id(&self) -> String {
        format!("{:#x}", self.result_id)
    }

    /// Deterministic bytes of this record (every field, length-prefixed), committed in the block.
    pub fn encode(&self) -> Vec<u8> {
        fn put(out: &mut Vec<u8>, bytes: &[u8]) {
            out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
            out.extend_from_slice(bytes);
        }
        let mut out = Vec::new();
        put(&mut out, self.model.as_bytes());
        out.push(self.mode);
        put(&mut out, &self.input);
        match &self.model_cid {
            Some(cid) => {
                out.push(1);
                put(&mut out, cid.as_bytes());
            }
            None => out.push(0),
        }
        put(&mut out, &self.output);
        put(&mut out, self.engine_id.as_bytes());
        out.extend_from_slice(self.result_id.as_slice());
        out.extend_from_slice(&self.work.to_be_bytes());
        out.extend_from_slice(&self.gas.to_be_bytes());
        match &self.error {
            Some(e) => {
                out.push(1);
                put(&mut out, e.as_bytes());
            }
            None => out.push(0),
        }
        // Appended only when present, so records of the other modes keep their bytes.
        if let Some(zk) = &self.zk {
            out.push(1);
            put(&mut out, &zk.commitment);
            put(&mut out, &zk.output);
            put(&mut out, &zk.proof);
        }
        out
    }
}

/// `keccak256` over every record of a block, per transaction in order (committed in the header's
/// `extra_data`).
pub fn records_root(records: &[Vec<InferenceRecord>]) -> B256 {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&(records.len() as u64).to_be_bytes());
    for tx in records {
        bytes.extend_from_slice(&(tx.len() as u64).to_be_bytes());
        for r in tx {
            let enc = r.encode();
            bytes.extend_from_slice(&(enc.len() as u64).to_be_bytes());
            bytes.extend_from_slice(&enc);
        }
    }
    alloy::primitives::keccak256(bytes)
}

/// Where inference results come from while the EVM runs one transaction.
pub(crate) enum Source<'a> {
    /// Pre-execution: run models through the oracle, record each call.
    Simulate(&'a dyn InferenceOracle),
    /// Block execution: read the records in order; a request that does not match stops execution.
    Replay(&'a [InferenceRecord]),
    /// No oracle and no records: inference calls revert.
    Unavailable,
}

/// The inference state of one transaction's execution.
pub(crate) struct Session<'a> {
    pub(crate) source: Source<'a>,
    pub(crate) cursor: usize,
    pub(crate) recorded: Vec<InferenceRecord>,
    pub(crate) mismatch: Option<String>,
}

impl<'a> Session<'a> {
    pub(crate) fn new(source: Source<'a>) -> Self {
        Self { source, cursor: 0, recorded: Vec::new(), mismatch: None }
    }

    /// True when replaying and some record was not consumed.
    pub(crate) fn check_all_consumed(&mut self) {
        if let Source::Replay(records) = self.source
            && self.mismatch.is_none()
            && self.cursor != records.len()
        {
            self.mismatch =
                Some(format!("{} inference records, {} used", records.len(), self.cursor));
        }
    }
}

/// What an inference call did.
#[derive(Debug)]
pub(crate) enum CallOutcome {
    /// Return `output`, charge `gas`, emit `logs`.
    Return { output: Bytes, gas: u64, logs: Vec<Log> },
    /// Revert with `data`, charge `gas`.
    Revert { data: Bytes, gas: u64 },
    /// The replayed request differs from the record: stop executing this transaction.
    Mismatch(String),
}

/// `Error(string)` revert data.
pub fn revert_reason(reason: &str) -> Bytes {
    Error { message: reason.to_string() }.abi_encode().into()
}

fn revert(reason: impl AsRef<str>) -> CallOutcome {
    CallOutcome::Revert { data: revert_reason(reason.as_ref()), gas: INFERENCE_BASE_GAS.min(3_000) }
}

/// Handles a call to the precompile (`hub == None`) or to the Inference hub contract at `hub`.
pub(crate) fn handle_call(
    session: &mut Session<'_>,
    hub: Option<Address>,
    input: &[u8],
) -> CallOutcome {
    let (mode, model, model_input) = match decode_request(hub, input) {
        Ok(r) => r,
        Err(reason) => return revert(reason),
    };
    match mode {
        mode::VANILLA | mode::ZKML => {}
        mode::TEE => {
            return revert(
                "inference mode TEE is not available on this network yet (attestation verification is not enabled)",
            );
        }
        other => {
            // ogn's extended modes (SAMPLING, REPLICAS k: see `ogn_verify::mode`) need bonded operators to
            // execute and verify; this node serves every job itself.
            return revert(match ogn_verify::Mode::from_byte(other) {
                Ok(m) => format!(
                    "inference mode {m} (byte {other}) needs registered inference operators; this network \
                     serves VANILLA (0) until they join"
                ),
                Err(e) => format!("{e}; VANILLA=0, ZKML=1, TEE=2"),
            });
        }
    }
    let input_abi: Bytes = model_input.abi_encode().into();
    let request = ModelInferenceRequest { mode, modelCID: model.clone(), input: model_input };

    let (record, simulated) = match session.source {
        Source::Unavailable => {
            return revert("inference is not available on this node (no model runtime configured)");
        }
        Source::Replay(records) => {
            let Some(record) = records.get(session.cursor) else {
                return CallOutcome::Mismatch(format!(
                    "inference call #{} has no record",
                    session.cursor
                ));
            };
            if record.model != model || record.mode != mode || record.input != input_abi {
                return CallOutcome::Mismatch(format!(
                    "inference call #{} asks for {model} with other inputs than recorded",
                    session.cursor
                ));
            }
            session.cursor += 1;
            // Validators accept a ZKML result only with a proof that verifies.
            if record.mode == mode::ZKML
                && record.error.is_none()
                && let Err(reason) = verify_zkml(record)
            {
                let proof_len = record.zk.as_ref().map_or(0, |zk| zk.proof.len());
                let gas = INFERENCE_BASE_GAS.saturating_add(zkml_verify_gas(proof_len));
                return CallOutcome::Revert { data: revert_reason(&reason), gas };
            }
            (record.clone(), false)
        }
        Source::Simulate(oracle) => {
            let record = if mode == mode::ZKML {
                simulate_zkml(oracle, &model, input_abi)
            } else {
                simulate(oracle, &model, mode, input_abi)
            };
            session.recorded.push(record.clone());
            (record, true)
        }
    };
    if let Some(reason) = &record.error {
        return CallOutcome::Revert { data: revert_reason(reason), gas: record.gas };
    }
    let mut output = match ModelOutput::abi_decode(&record.output) {
        Ok(o) => o,
        Err(e) => return CallOutcome::Mismatch(format!("recorded output does not decode: {e}")),
    };
    output.is_simulation_result = simulated;
    let event = IInferencePrecompile::ModelInferenceEvent {
        inferenceID: record.inference_id(),
        request,
        response: output.clone(),
    };
    let mut logs = vec![Log { address: INFERENCE_PRECOMPILE, data: event.encode_log_data() }];
    if let Some(hub) = hub {
        let result = IInference::InferenceResult { output: output.clone() };
        logs.push(Log { address: hub, data: result.encode_log_data() });
    }
    let output = output.abi_encode().into();
    CallOutcome::Return { output, gas: record.gas, logs }
}

/// Decodes a call to the precompile (`hub == None`) or to the Inference hub contract into
/// `(mode, model, input)`; the error is the revert reason (LLM calls, unknown selectors, bad ABI).
pub fn decode_request(
    hub: Option<Address>,
    input: &[u8],
) -> Result<(u8, String, ModelInput), String> {
    let Some(selector) = input.get(..4) else {
        return Err("inference: calldata shorter than a function selector".into());
    };
    let selector: [u8; 4] = selector.try_into().unwrap_or_default();
    match (hub, selector) {
        (None, IInferencePrecompile::runModelInferenceCall::SELECTOR) => {
            IInferencePrecompile::runModelInferenceCall::abi_decode(input)
                .map(|c| (c.request.mode, c.request.modelCID, c.request.input))
                .map_err(|e| format!("inference: cannot decode runModelInference: {e}"))
        }
        (Some(_), IInference::runCall::SELECTOR) => IInference::runCall::abi_decode(input)
            .map(|c| (c.inferenceMode, c.modelId, c.modelInput))
            .map_err(|e| format!("inference: cannot decode run: {e}")),
        (None, IInferencePrecompile::runLLMCompletionCall::SELECTOR)
        | (None, IInferencePrecompile::runLLMChatCall::SELECTOR)
        | (Some(_), IInference::runLLMCompletionCall::SELECTOR)
        | (Some(_), IInference::runLLMChatCall::SELECTOR) => Err(LLM_UNAVAILABLE.into()),
        _ => {
            Err(format!("inference: unknown function selector 0x{}", alloy::hex::encode(selector)))
        }
    }
}

/// Runs one inference through the oracle and records it (success or failure).
fn simulate(oracle: &dyn InferenceOracle, model: &str, mode: u8, input: Bytes) -> InferenceRecord {
    let mut record = InferenceRecord {
        model: model.to_string(),
        mode,
        input,
        model_cid: None,
        output: Bytes::new(),
        engine_id: String::new(),
        result_id: B256::ZERO,
        work: 0,
        gas: INFERENCE_BASE_GAS,
        error: None,
        zk: None,
    };
    let tensors = match record.input_tensors() {
        Ok(t) => t,
        Err(e) => {
            record.error = Some(format!("bad model input: {e}"));
            return record;
        }
    };
    match oracle.run(model, &tensors) {
        Err(reason) => record.error = Some(reason),
        Ok(result) => {
            match ogn_types::opengradient::ModelOutput::from_tensors(&result.outputs, false) {
                Err(e) => record.error = Some(format!("model output cannot be encoded: {e}")),
                Ok(output) => {
                    record.output = output.abi_encode().into();
                    record.result_id = ogn_types::result_id(
                        &result.model_cid,
                        &tensors,
                        &result.outputs,
                        &result.engine_id,
                    );
                    record.work = result.work;
                    record.gas = inference_gas(result.work);
                }
            }
            record.model_cid = Some(result.model_cid.to_string());
            record.engine_id = result.engine_id;
        }
    }
    record
}

/// A model ogn-zk can prove, committed once.
struct Provable {
    committed: ogn_zk::CommittedModel,
    /// The graph output's name: the name of the result tensor.
    output_name: String,
}

/// Committed models kept by CID (a commitment takes about 50 ms per 10^5 weights).
const PROVABLE_CACHE: usize = 4;

/// The committed form of the model file `cid` (`bytes`), from the cache or committed now. The error
/// is the revert reason for models ogn-zk cannot prove.
fn provable(cid: &ModelCid, bytes: &[u8]) -> Result<Arc<Provable>, String> {
    static CACHE: Mutex<Vec<(ModelCid, Arc<Provable>)>> = Mutex::new(Vec::new());
    let lock = || CACHE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, p)) = lock().iter().find(|(c, _)| c == cid) {
        return Ok(p.clone());
    }
    let not_provable = |e: ogn_zk::ModelError| {
        format!(
            "model {cid} cannot be proven in ZKML mode: {e} (ogn-zk proves int8 ONNX models: \
             QLinearMatMul, QLinearConv, MaxPool, Relu, Flatten)"
        )
    };
    let model = ogn_zk::load_onnx(bytes).map_err(not_provable)?;
    let (_, output_name) = ogn_zk::onnx_io_names(bytes).map_err(not_provable)?;
    let committed = ogn_zk::CommittedModel::new(&model).map_err(not_provable)?;
    let p = Arc::new(Provable { committed, output_name });
    let mut cache = lock();
    // Another simulation may have committed the same model meanwhile.
    if let Some((_, p)) = cache.iter().find(|(c, _)| c == cid) {
        return Ok(p.clone());
    }
    if cache.len() >= PROVABLE_CACHE {
        cache.remove(0);
    }
    cache.push((*cid, p.clone()));
    Ok(p)
}

/// The int8 input of a ZKML run and its batch: the request's one tensor as f32, quantized with the
/// model's input scale. The error is the revert reason.
fn zkml_input(model: &QuantizedModel, tensors: &[Tensor]) -> Result<(Vec<i8>, usize), String> {
    let [tensor] = tensors else {
        return Err(format!("ZKML takes exactly one input tensor ({} given)", tensors.len()));
    };
    let values = tensor.to_f32().map_err(|e| format!("bad model input: {e}"))?;
    let batch = model.batch_of(values.len()).map_err(|e| format!("bad model input: {e}"))?;
    if batch > ogn_zk::MAX_BATCH {
        return Err(format!("bad model input: batch {batch} exceeds {}", ogn_zk::MAX_BATCH));
    }
    Ok((model.quantize_input(&values), batch))
}

/// The result tensor of a ZKML run: the int8 output `y` dequantized, `[batch][outputs]`.
fn zkml_output(
    model: &QuantizedModel,
    name: &str,
    batch: usize,
    y: &[i8],
) -> Result<Tensor, String> {
    Tensor::new(name, vec![batch, model.output_dim()], TensorData::F32(model.dequantize_output(y)))
        .map_err(|e| format!("model output cannot be encoded: {e}"))
}

/// Runs one ZKML inference: the model file from the oracle, proven with ogn-zk, recorded with its
/// proof (success or failure).
fn simulate_zkml(oracle: &dyn InferenceOracle, model: &str, input: Bytes) -> InferenceRecord {
    let mut record = InferenceRecord {
        model: model.to_string(),
        mode: mode::ZKML,
        input,
        model_cid: None,
        output: Bytes::new(),
        engine_id: ZKML_ENGINE_ID.to_string(),
        result_id: B256::ZERO,
        work: 0,
        gas: INFERENCE_BASE_GAS,
        error: None,
        zk: None,
    };
    if let Err(reason) = prove_into(oracle, &mut record) {
        record.error = Some(reason);
        record.output = Bytes::new();
        record.result_id = B256::ZERO;
        record.work = 0;
        record.gas = INFERENCE_BASE_GAS;
        record.zk = None;
    }
    record
}

fn prove_into(oracle: &dyn InferenceOracle, record: &mut InferenceRecord) -> Result<(), String> {
    let tensors = record.input_tensors().map_err(|e| format!("bad model input: {e}"))?;
    let (cid, bytes) = oracle.model_file(&record.model)?;
    record.model_cid = Some(cid.to_string());
    let p = provable(&cid, &bytes)?;
    let model = p.committed.model();
    let (x, batch) = zkml_input(model, &tensors)?;
    let (y, proof) = p.committed.prove(&x).map_err(|e| format!("ZKML proving failed: {e}"))?;
    let out = zkml_output(model, &p.output_name, batch, &y)?;
    let output = ModelOutput::from_tensors(std::slice::from_ref(&out), false)
        .map_err(|e| format!("model output cannot be encoded: {e}"))?;
    record.output = output.abi_encode().into();
    record.result_id = ogn_types::result_id(&cid, &tensors, &[out], ZKML_ENGINE_ID);
    let proof = proof.to_bytes();
    record.work = model.work(batch);
    record.gas = zkml_gas(record.work, proof.len());
    record.zk = Some(ZkAttachment {
        commitment: p.committed.commitment().to_bytes().into(),
        output: y.iter().map(|&v| v as u8).collect::<Vec<u8>>().into(),
        proof: proof.into(),
    });
    Ok(())
}

/// Checks a successful ZKML record as validators do before accepting its result: the proof verifies
/// against the recorded model commitment for the recorded input (quantized with the commitment's
/// input scale) and int8 output; the recorded output is that output dequantized; result id, engine,
/// work and gas are the ones they determine. The error is the revert reason
/// (`ZKML proof rejected: …`).
pub fn verify_zkml(record: &InferenceRecord) -> Result<(), String> {
    let rejected = |why: String| format!("ZKML proof rejected: {why}");
    let zk = record.zk.as_ref().ok_or_else(|| rejected("the record carries no proof".into()))?;
    let commitment = ogn_zk::ModelCommitment::from_bytes(&zk.commitment)
        .map_err(|e| rejected(format!("model commitment: {e}")))?;
    let model = commitment.header();
    let tensors = record.input_tensors().map_err(|e| rejected(format!("input: {e}")))?;
    let (x, batch) = zkml_input(model, &tensors).map_err(rejected)?;
    let y: Vec<i8> = zk.output.iter().map(|&b| b as i8).collect();
    let proof = ogn_zk::Proof::from_bytes(&zk.proof).map_err(|e| rejected(e.to_string()))?;
    ogn_zk::verify(&commitment, &x, &y, &proof).map_err(|e| rejected(e.to_string()))?;

    // The recorded result is the proven output (named as recorded).
    let recorded = match record.output_tensors() {
        Some(Ok(t)) => t,
        Some(Err(e)) => return Err(rejected(format!("recorded output: {e}"))),
        None => return Err(rejected("the recorded output does not decode".into())),
    };
    let [recorded] = recorded.as_slice() else {
        return Err(rejected("the recorded output is not one tensor".into()));
    };
    let out = zkml_output(model, &recorded.name, batch, &y).map_err(rejected)?;
    let expected = ModelOutput::from_tensors(std::slice::from_ref(&out), false)
        .map_err(|e| rejected(format!("proven output: {e}")))?;
    if record.output[..] != expected.abi_encode()[..] {
        return Err(rejected("the recorded output is not the proven output".into()));
    }
    let cid: ModelCid = record
        .model_cid
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(|e| rejected(format!("model CID: {e}")))?;
    if record.engine_id != ZKML_ENGINE_ID
        || record.result_id != ogn_types::result_id(&cid, &tensors, &[out], ZKML_ENGINE_ID)
    {
        return Err(rejected("the recorded result id is not the proven result's".into()));
    }
    let work = model.work(batch);
    if record.work != work || record.gas != zkml_gas(work, zk.proof.len()) {
        return Err(rejected(format!(
            "recorded work {} and gas {}, expected {work} and {}",
            record.work,
            record.gas,
            zkml_gas(work, zk.proof.len())
        )));
    }
    Ok(())
}

/// `LogData` helper for tests and the RPC: decodes a `ModelInferenceEvent`.
pub fn decode_inference_event(data: &LogData) -> Option<IInferencePrecompile::ModelInferenceEvent> {
    IInferencePrecompile::ModelInferenceEvent::decode_log_data(data).ok()
}
