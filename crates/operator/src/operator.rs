//! The operator process: bond, announce, run jobs with evidence, defend results in disputes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::U256;
use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, Result, anyhow, bail};
use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::post};
use ogn_chain::{IJobs, IStaking, JOBS_PRECOMPILE, STAKING_PRECOMPILE, jobs::DisputeView};
use ogn_runtime::{Model, Runtime, RuntimeConfig};
use ogn_types::{ModelCid, Tensor, TensorData};
use ogn_verify::{Execution, Query, dispute::step_witness, execute, tensors_hash};
use parking_lot::Mutex;

use crate::rpc::RpcClient;
use crate::state::StateDir;
use crate::wire::{Announce, JobOffer, JobResult};

/// A dishonest operator, for exercising the protocol: with probability `ppm` per million a job's first
/// output element is moved by one unit in the last place and committed to consistently (a wrong result
/// with a well-formed commitment, the hardest kind to spot without re-execution).
#[derive(Debug, Clone, Copy)]
pub struct Cheat {
    /// Probability per job, parts per million.
    pub ppm: u64,
}

/// How to run an operator.
#[derive(Debug, Clone)]
pub struct OperatorConfig {
    /// The operator's key (its account bonds and signs).
    pub key: PrivateKeySigner,
    /// The node's URL (JSON-RPC, hub and scheduler on one address, as `ogn devnet` serves them).
    pub node: String,
    /// Model CIDs served (empty: any).
    pub models: Vec<String>,
    /// Where to take jobs.
    pub listen: SocketAddr,
    /// Self-bond to register with, wei (when not registered yet).
    pub bond: u128,
    /// Commission, parts per million.
    pub commission_ppm: u32,
    /// Cheating, for tests of the protocol.
    pub cheat: Option<Cheat>,
    /// Where each served job's model and input are kept (`runs/{job}.json`), so that a restarted operator
    /// still defends its results in disputes; `None`: in memory only.
    pub state_dir: Option<std::path::PathBuf>,
}

/// A served job as kept on disk: enough to re-execute it (execution is deterministic).
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedRun {
    model: ModelCid,
    input: serde_json::Value,
    /// Whether the result was the `--cheat-ppm` one (replayed as it was).
    cheated: bool,
}

#[derive(Clone)]
struct Run {
    model: Arc<Model>,
    inputs: Vec<Tensor>,
    exec: Execution,
}

struct Operator {
    config: OperatorConfig,
    rpc: RpcClient,
    runtime: Runtime,
    http: reqwest::Client,
    models: Mutex<HashMap<ModelCid, Arc<Model>>>,
    runs: Mutex<HashMap<u64, Arc<Run>>>,
    state: StateDir,
    draws: Mutex<u64>,
}

/// Registers (if needed), announces, and serves until `shutdown` resolves.
pub async fn run_operator(
    config: OperatorConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let rpc = RpcClient::new(&config.node, config.key.clone());
    let address = rpc.address();
    let info = rpc.view(STAKING_PRECOMPILE, IStaking::stakerInfoCall { staker: address }).await?;
    if !info.exists {
        let call = IStaking::createOperatorCall { commissionPpm: config.commission_ppm };
        let mined = rpc.send(STAKING_PRECOMPILE, call, U256::from(config.bond)).await?;
        if !mined.success {
            bail!("registering operator {address} failed (transaction {})", mined.tx_hash);
        }
        println!("operator {address} registered with a bond of {} wei", config.bond);
    } else if !info.isOperator {
        bail!("{address} is registered as a validator, not an operator");
    } else if info.jailed {
        println!("operator {address} is jailed; it serves no jobs until `ogn unjail`");
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    let seed = u64::from_be_bytes(address.0[..8].try_into().expect("8 bytes"));
    let op = Arc::new(Operator {
        rpc,
        runtime: Runtime::new(RuntimeConfig::default()),
        http: reqwest::Client::new(),
        models: Default::default(),
        runs: Default::default(),
        state: StateDir::new(config.state_dir.clone()),
        draws: Mutex::new(seed),
        config,
    });
    let announce = Announce::signed(&op.config.key, &url, op.config.models.clone());
    let mut announced = false;
    for _ in 0..100 {
        let r = op
            .http
            .post(format!("{}/api/v0/operators", op.config.node))
            .json(&announce)
            .send()
            .await;
        match r {
            Ok(r) if r.status().is_success() => {
                announced = true;
                break;
            }
            Ok(r) => {
                let text = r.text().await.unwrap_or_default();
                bail!("the node refused the announcement: {text}");
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    if !announced {
        bail!("the node at {} did not answer", op.config.node);
    }
    println!("operator {address} serving jobs on {url}");
    let node = op.config.node.clone();
    let (gone_tx, gone_rx) = tokio::sync::oneshot::channel::<()>();
    let watcher = tokio::spawn(watch_disputes(op.clone(), gone_tx));
    let node_gone = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = node_gone.clone();
    let shutdown = async move {
        tokio::select! {
            () = shutdown => {}
            Ok(()) = gone_rx => flag.store(true, std::sync::atomic::Ordering::Relaxed),
        }
    };
    let app = Router::new()
        .route("/jobs", post(job_handler))
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
        .with_state(op);
    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    watcher.abort();
    served.context("serving jobs")?;
    if node_gone.load(std::sync::atomic::Ordering::Relaxed) {
        bail!("the node at {} stopped answering", node);
    }
    Ok(())
}

async fn job_handler(
    State(op): State<Arc<Operator>>,
    Json(offer): Json<JobOffer>,
) -> axum::response::Response {
    match serve_job(&op, offer).await {
        Ok(result) => Json(result).into_response(),
        Err(e) => {
            (StatusCode::UNPROCESSABLE_ENTITY, Json(serde_json::json!({"error": format!("{e:#}")})))
                .into_response()
        }
    }
}

impl Operator {
    async fn model(&self, cid: &ModelCid) -> Result<Arc<Model>> {
        if let Some(m) = self.models.lock().get(cid) {
            return Ok(m.clone());
        }
        if !self.config.models.is_empty()
            && !self.config.models.iter().any(|m| *m == cid.to_string())
        {
            bail!("this operator does not serve model {cid}");
        }
        let url = format!("{}/api/v0/blobs/{cid}", self.config.node);
        let response =
            self.http.get(&url).send().await.with_context(|| format!("fetching {url}"))?;
        if !response.status().is_success() {
            bail!("fetching model {cid}: HTTP {}", response.status());
        }
        let bytes = response.bytes().await.context("reading the model")?;
        if !cid.matches(&bytes) {
            bail!("the node served bytes that are not model {cid}");
        }
        let model = self.runtime.load(cid, &bytes).map_err(|e| anyhow!("model {cid}: {e}"))?;
        self.models.lock().insert(*cid, model.clone());
        Ok(model)
    }

    /// A job's run: in memory, or re-executed from what was kept before a restart (the same evidence:
    /// execution is deterministic, and a cheat is replayed as it was).
    async fn run_of(self: &Arc<Self>, job: u64) -> Result<Option<Arc<Run>>> {
        if let Some(run) = self.runs.lock().get(&job) {
            return Ok(Some(run.clone()));
        }
        let Some(saved) = self.state.get::<SavedRun>("runs", job)? else { return Ok(None) };
        let model = self.model(&saved.model).await?;
        let inputs = ogn_types::json::tensors_from_json(&saved.input)
            .map_err(|e| anyhow!("saved input of job {job}: {e}"))?;
        let (o, m, i) = (self.clone(), model.clone(), inputs.clone());
        let exec = tokio::task::spawn_blocking(move || execute(&o.runtime, &m, &i))
            .await
            .context("execution task")?
            .map_err(|e| anyhow!("{e}"))?;
        let exec = if saved.cheated { perturbed(&model, &inputs, exec) } else { exec };
        let run = Arc::new(Run { model, inputs, exec });
        self.runs.lock().insert(job, run.clone());
        Ok(Some(run))
    }

    fn cheats_now(&self) -> bool {
        let Some(cheat) = self.config.cheat else { return false };
        let mut s = self.draws.lock();
        *s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (*s >> 33) % 1_000_000 < cheat.ppm
    }
}

async fn serve_job(op: &Arc<Operator>, offer: JobOffer) -> Result<JobResult> {
    let model = op.model(&offer.model).await?;
    let inputs =
        ogn_types::json::tensors_from_json(&offer.input).map_err(|e| anyhow!("input: {e}"))?;
    let cheat = op.cheats_now();
    let (o, m, i) = (op.clone(), model.clone(), inputs.clone());
    let exec = tokio::task::spawn_blocking(move || execute(&o.runtime, &m, &i))
        .await
        .context("execution task")?
        .map_err(|e| anyhow!("{e}"))?;
    let exec = if cheat { perturbed(&model, &inputs, exec) } else { exec };
    let statement = exec.statement(offer.chain_id, offer.job, &model);
    let attestation = statement.sign(&op.config.key);
    let outputs = ogn_types::json::tensors_to_json(&exec.outputs);
    // Kept before the result leaves: a result the operator signed is one it can defend after a restart.
    let saved = SavedRun { model: offer.model, input: offer.input, cheated: cheat };
    op.state.put("runs", offer.job, &saved)?;
    op.runs.lock().insert(offer.job, Arc::new(Run { model, inputs, exec }));
    Ok(JobResult { statement, attestation, outputs })
}

/// The run with its first output element moved by one ulp, committed to consistently.
fn perturbed(model: &Model, inputs: &[Tensor], honest: Execution) -> Execution {
    let mut outputs = honest.outputs.clone();
    match &mut outputs[0].data {
        TensorData::F32(v) if !v.is_empty() => v[0] = f32::from_bits(v[0].to_bits() ^ 1),
        TensorData::F64(v) if !v.is_empty() => v[0] = f64::from_bits(v[0].to_bits() ^ 1),
        TensorData::I64(v) if !v.is_empty() => v[0] ^= 1,
        _ => return honest,
    }
    let output_hash = tensors_hash(&outputs);
    let Some(evidence) = Execution::evidence_for(
        model,
        honest.input_hash,
        honest.evidence.layout.clone(),
        honest.evidence.leaves.clone(),
        output_hash,
    ) else {
        return honest;
    };
    Execution {
        result_id: ogn_types::canonical::result_id(
            model.cid(),
            inputs,
            &outputs,
            &honest.engine_id,
        ),
        outputs,
        output_hash,
        evidence,
        ..honest
    }
}

/// Largest step proof an operator posts; a transaction holds at most 128 KiB of data.
const MAX_STEP_PROOF_BYTES: usize = 100 * 1024;

/// How long the node may be unreachable before the operator stops.
const NODE_SILENCE: Duration = Duration::from_secs(10);

/// Answers every dispute round that concerns this operator, from its own run. Tells `gone` when the
/// node has not answered for [`NODE_SILENCE`].
async fn watch_disputes(op: Arc<Operator>, gone: tokio::sync::oneshot::Sender<()>) {
    let me = op.rpc.address();
    let mut last_answer = std::time::Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let open = match op.rpc.view(JOBS_PRECOMPILE, IJobs::openDisputesCall {}).await {
            Ok(open) => {
                last_answer = std::time::Instant::now();
                open
            }
            Err(_) if last_answer.elapsed() > NODE_SILENCE => {
                let _ = gone.send(());
                return;
            }
            Err(_) => continue,
        };
        for id in open {
            let Ok(json) = op.rpc.view(JOBS_PRECOMPILE, IJobs::disputeCall { dispute: id }).await
            else {
                continue;
            };
            let Ok(view) = serde_json::from_slice::<DisputeView>(&json) else { continue };
            let owes = (view.record.operator == me && view.awaits_operator)
                || (view.record.challenger == me && view.awaits_challenger);
            let (Some(query), true) = (view.query, owes) else { continue };
            let Ok(Some(run)) = op.run_of(view.record.job).await else { continue };
            let (r, o, job) = (run.clone(), op.clone(), view.record.job);
            let answer = tokio::task::spawn_blocking(move || {
                let mut r = r;
                if matches!(query, Query::Segment { .. }) && !r.exec.evidence.is_complete() {
                    // The leaves between cuts were not hashed while serving: a traced re-run of the
                    // same job gives them, kept for the rounds that follow.
                    let trace = o.runtime.run_traced(&r.model, &r.inputs).ok()?;
                    let full = Arc::make_mut(&mut r);
                    full.exec.evidence.complete(&trace.leaves);
                    o.runs.lock().insert(job, r.clone());
                }
                let steps = r.exec.evidence.leaves.len();
                r.exec
                    .evidence
                    .answer(query, |i| step_witness(&o.runtime, &r.model, &r.inputs, steps, i))
            })
            .await
            .ok()
            .flatten();
            let Some(answer) = answer else { continue };
            let answer = serde_json::to_vec(&answer).unwrap_or_default();
            if matches!(query, Query::Step { .. }) && answer.len() > MAX_STEP_PROOF_BYTES {
                // Inputs too large for a transaction: the validator derives them from the job's run.
                continue;
            }
            let call = IJobs::answerCall { dispute: id, answer: answer.into() };
            match op.rpc.send(JOBS_PRECOMPILE, call, U256::ZERO).await {
                Ok(m) if m.success => tracing::debug!(dispute = id, ?query, "answered"),
                Ok(m) => tracing::debug!(dispute = id, tx = %m.tx_hash, "answer reverted"),
                Err(e) => tracing::debug!(dispute = id, "answer not sent: {e:#}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operator(dir: &std::path::Path, model: &Arc<Model>) -> Arc<Operator> {
        let key = PrivateKeySigner::from_bytes(&alloy::primitives::B256::repeat_byte(3)).unwrap();
        let config = OperatorConfig {
            key: key.clone(),
            node: "http://127.0.0.1:9".into(),
            models: vec![],
            listen: "127.0.0.1:0".parse().unwrap(),
            bond: 0,
            commission_ppm: 0,
            cheat: None,
            state_dir: Some(dir.to_path_buf()),
        };
        let op = Operator {
            rpc: RpcClient::new(&config.node, key),
            runtime: Runtime::new(RuntimeConfig::default()),
            http: reqwest::Client::new(),
            models: Default::default(),
            runs: Default::default(),
            state: StateDir::new(config.state_dir.clone()),
            draws: Mutex::new(1),
            config,
        };
        op.models.lock().insert(*model.cid(), model.clone());
        Arc::new(op)
    }

    /// A restarted operator re-derives the evidence of a job it served, so it can still defend it.
    #[tokio::test]
    async fn a_served_job_is_defended_after_a_restart() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/models/mlp.onnx");
        let bytes = std::fs::read(path).expect("fixtures: run scripts/fetch-fixtures");
        let runtime = Runtime::new(RuntimeConfig::default());
        let model = runtime.load(&ModelCid::for_bytes(&bytes), &bytes).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let x: Vec<f32> = (0..784).map(|i| (i % 13) as f32 / 13.0).collect();
        let name = model.info().inputs[0].name.clone();
        let input = serde_json::json!({ name: {"shape": [1, 784], "values": x} });
        let offer = JobOffer { chain_id: 7, job: 5, model: *model.cid(), input };

        let before = operator(dir.path(), &model);
        let served = serve_job(&before, offer).await.unwrap();
        drop(before);

        let after = operator(dir.path(), &model);
        let run = after.run_of(5).await.unwrap().expect("the run is restored");
        assert_eq!(run.exec.input_hash, served.statement.input_hash);
        assert_eq!(run.exec.output_hash, served.statement.output_hash);
        assert_eq!(run.exec.commitment(), served.statement.commitment);
        assert!(after.run_of(6).await.unwrap().is_none(), "a job never served has no run");
    }
}
