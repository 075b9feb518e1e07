//! Where inference results come from during pre-execution: the [`InferenceOracle`] trait and
//! [`HubOracle`], which resolves models in an [`ogn_hub::Hub`] and runs them on an [`ogn_runtime::Runtime`].

use std::sync::Arc;

use ogn_hub::{Hub, Resolved};
use ogn_runtime::Runtime;
use ogn_types::{ModelCid, Tensor};

/// One inference as the oracle ran it.
#[derive(Debug, Clone, PartialEq)]
pub struct OracleResult {
    /// The model file that ran.
    pub model_cid: ModelCid,
    /// Its outputs, in graph order.
    pub outputs: Vec<Tensor>,
    /// The engine that ran it ([`Runtime::engine_id`]).
    pub engine_id: String,
    /// The model's cost for these input shapes ([`ogn_runtime::Prepared::work`]); gas is charged from it.
    pub work: u64,
}

/// Runs models for pre-execution. Never called during block execution.
pub trait InferenceOracle: Send + Sync {
    /// Runs `model` (a CID string or `name@version`) on `input`. An `Err` is a reason shown to the caller
    /// (missing model, bad input); the transaction reverts with it.
    fn run(&self, model: &str, input: &[Tensor]) -> Result<OracleResult, String>;

    /// The model file `model` names and its bytes, for modes that need the model itself (ZKML proves
    /// its run with ogn-zk). An `Err` is a reason shown to the caller.
    fn model_file(&self, model: &str) -> Result<(ModelCid, Vec<u8>), String> {
        let _ = model;
        Err("this node cannot read model files for ZKML proving".into())
    }
}

/// An [`InferenceOracle`] over a local hub and runtime.
pub struct HubOracle {
    hub: Arc<Hub>,
    runtime: Arc<Runtime>,
    handle: tokio::runtime::Handle,
}

impl std::fmt::Debug for HubOracle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubOracle").field("engine", &self.runtime.engine_id()).finish()
    }
}

impl HubOracle {
    /// An oracle reading models from `hub` (async; driven on `handle`) and running them on `runtime`.
    /// [`InferenceOracle::run`] blocks: call it from a thread outside the async runtime (e.g.
    /// `spawn_blocking`).
    pub fn new(hub: Arc<Hub>, runtime: Arc<Runtime>, handle: tokio::runtime::Handle) -> Self {
        Self { hub, runtime, handle }
    }

    /// The model file a reference names: a CID, or `name@version` with exactly one `.onnx` file.
    pub fn resolve(&self, model: &str) -> Result<ModelCid, String> {
        let resolved = self
            .handle
            .block_on(self.hub.resolve(model))
            .map_err(|e| format!("model {model} not found: {e}"))?;
        match resolved {
            Resolved::Blob { cid, .. } => Ok(cid),
            Resolved::Version { files, name, version } => {
                let onnx: Vec<_> = files.iter().filter(|f| f.filename.ends_with(".onnx")).collect();
                match (onnx.as_slice(), files.as_slice()) {
                    ([one], _) => Ok(one.cid),
                    ([], [only]) => Ok(only.cid),
                    ([], _) => Err(format!("model {name}@{version} has no .onnx file")),
                    _ => Err(format!(
                        "model {name}@{version} has several .onnx files; name one by its CID"
                    )),
                }
            }
        }
    }
}

impl InferenceOracle for HubOracle {
    fn run(&self, model: &str, input: &[Tensor]) -> Result<OracleResult, String> {
        // Recorded through the `metrics` facade: `/metrics` (ogn-rpc) shows them when a recorder is installed.
        let started = std::time::Instant::now();
        let result = self.run_model(model, input);
        let status = if result.is_ok() { "ok" } else { "error" };
        metrics::counter!("ogn_inference_jobs_total", "status" => status).increment(1);
        metrics::histogram!("ogn_inference_duration_seconds", "status" => status)
            .record(started.elapsed().as_secs_f64());
        let (models, bytes) = self.runtime.cache_usage();
        metrics::gauge!("ogn_model_cache_models").set(models as f64);
        metrics::gauge!("ogn_model_cache_bytes").set(bytes as f64);
        result
    }

    fn model_file(&self, model: &str) -> Result<(ModelCid, Vec<u8>), String> {
        let cid = self.resolve(model)?;
        let bytes = self
            .handle
            .block_on(self.hub.blobs().get(&cid))
            .map_err(|e| format!("model {cid} could not be read: {e}"))?;
        Ok((cid, bytes.to_vec()))
    }
}

impl HubOracle {
    fn run_model(&self, model: &str, input: &[Tensor]) -> Result<OracleResult, String> {
        let cid = self.resolve(model)?;
        let bytes = self
            .handle
            .block_on(self.hub.blobs().get(&cid))
            .map_err(|e| format!("model {cid} could not be read: {e}"))?;
        let loaded = self.runtime.load(&cid, &bytes).map_err(|e| format!("model {cid}: {e}"))?;
        let outputs = self.runtime.run(&loaded, input).map_err(|e| e.to_string())?;
        // `run` prepared (and cached) the plan for these shapes; ask it for the work estimate.
        let shapes = loaded
            .info()
            .inputs
            .iter()
            .map(|info| {
                input
                    .iter()
                    .find(|t| t.name == info.name)
                    .map(|t| t.shape.clone())
                    .ok_or_else(|| format!("missing input {}", info.name))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let work = self.runtime.prepare(&loaded, &shapes).map_err(|e| e.to_string())?.work();
        Ok(OracleResult {
            model_cid: cid,
            outputs,
            engine_id: self.runtime.engine_id().to_string(),
            work,
        })
    }
}
