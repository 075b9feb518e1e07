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

use alloy::{
    primitives::{Address, B256, Bytes, Log, LogData, address},
    sol,
    sol_types::{SolCall, SolError, SolEvent, SolValue},
};
use ogn_types::Tensor;
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
        mode::VANILLA => {}
        mode::ZKML => {
            return revert(
                "inference mode ZKML is not available on this network yet (proof verification is not enabled)",
            );
        }
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
            (record.clone(), false)
        }
        Source::Simulate(oracle) => {
            let record = simulate(oracle, &model, mode, input_abi);
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

/// `LogData` helper for tests and the RPC: decodes a `ModelInferenceEvent`.
pub fn decode_inference_event(data: &LogData) -> Option<IInferencePrecompile::ModelInferenceEvent> {
    IInferencePrecompile::ModelInferenceEvent::decode_log_data(data).ok()
}
