//! The node's scheduler: takes inference requests, assigns them to announced operators by mode, records
//! them on chain, draws SAMPLING verifications, and referees disputes as a validator.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use anyhow::{Context, Result, anyhow, bail};
use ogn_chain::{
    IJobs, IStaking, JOBS_PRECOMPILE, STAKING_PRECOMPILE,
    jobs::{DisputeView, JobRecord, job_statement},
};
use ogn_runtime::{Model, Runtime};
use ogn_types::{ModelCid, Tensor};
use ogn_verify::{
    Attestation, Candidate, GuaranteeParams, Inclusion, Mode, Query, Receipt, Referee,
    RuntimeReferee, Side, Status, assign, assignment_seed, dispute::step_witness, quote,
    receipt::RECEIPT_VERSION, tensors_hash,
};
use parking_lot::Mutex;

use crate::rpc::RpcClient;
use crate::state::StateDir;
use crate::wire::{Announce, JobOffer, JobResult};

/// Loads a model file by CID (from the node's hub).
pub type ModelLoader = Arc<dyn Fn(&ModelCid) -> Result<Arc<Model>, String> + Send + Sync>;

/// Scheduler settings.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Chain id.
    pub chain_id: u64,
    /// The price of one execution, wei (the guarantee's base price).
    pub base_price: u128,
    /// The declared value of a job when the request names none, wei.
    pub default_value: u128,
    /// Bond locked per unit of value, parts per million (the ledger's `job_bond_ppm`).
    pub job_bond_ppm: u64,
    /// How long a request waits for a dispute it caused to be decided.
    pub dispute_wait: Duration,
    /// Where job inputs and receipts are kept (`jobs/{job}.json`, `receipts/{job}.json`), so that a restarted
    /// node still referees the disputes of its jobs and serves their receipts; `None`: in memory only.
    pub state_dir: Option<std::path::PathBuf>,
}

/// A settled request.
#[derive(Debug, Clone)]
pub struct Settled {
    /// Outputs of the accepted result (JSON form).
    pub outputs: serde_json::Value,
    /// Its receipt.
    pub receipt: Receipt,
    /// Disputes the job caused.
    pub disputes: Vec<u64>,
}

/// A job's model and inputs as kept on disk.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedJob {
    model: ModelCid,
    input: serde_json::Value,
}

struct JobInputs {
    model: Arc<Model>,
    inputs: Vec<Tensor>,
}

/// The scheduler (one per node).
pub struct Scheduler {
    config: SchedulerConfig,
    rpc: RpcClient,
    runtime: Arc<Runtime>,
    load: ModelLoader,
    http: reqwest::Client,
    operators: Mutex<BTreeMap<Address, Announce>>,
    jobs: Mutex<HashMap<u64, Arc<JobInputs>>>,
    receipts: Mutex<HashMap<u64, Receipt>>,
    state: StateDir,
    next_job: AtomicU64,
}

impl Scheduler {
    /// A scheduler signing with `rpc`'s key (the node's validator key), numbering jobs from `first_job`.
    pub fn new(
        config: SchedulerConfig,
        rpc: RpcClient,
        runtime: Arc<Runtime>,
        load: ModelLoader,
        first_job: u64,
    ) -> Self {
        Self {
            state: StateDir::new(config.state_dir.clone()),
            config,
            rpc,
            runtime,
            load,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(300))
                .build()
                .expect("HTTP client"),
            operators: Default::default(),
            jobs: Default::default(),
            receipts: Default::default(),
            next_job: AtomicU64::new(first_job),
        }
    }

    /// Operators announced so far.
    pub fn operators(&self) -> Vec<Announce> {
        self.operators.lock().values().cloned().collect()
    }

    /// Whether any operator has announced itself.
    pub fn has_operators(&self) -> bool {
        !self.operators.lock().is_empty()
    }

    /// A stored receipt.
    pub fn receipt(&self, job: u64) -> Option<Receipt> {
        if let Some(r) = self.receipts.lock().get(&job) {
            return Some(r.clone());
        }
        self.state.get("receipts", job).ok().flatten()
    }

    /// Writes `value` under the state directory, whole or not at all.
    fn persist<T: serde::Serialize>(&self, kind: &str, job: u64, value: &T) -> Result<()> {
        self.state.put(kind, job, value)
    }

    /// A job's model and inputs: in memory, or as persisted before a restart.
    fn job_inputs(&self, job: u64) -> Result<Arc<JobInputs>> {
        if let Some(j) = self.jobs.lock().get(&job) {
            return Ok(j.clone());
        }
        let saved: SavedJob = self
            .state
            .get("jobs", job)?
            .ok_or_else(|| anyhow!("job {job} was not scheduled by this node"))?;
        let model = (self.load)(&saved.model).map_err(|e| anyhow!(e))?;
        let inputs = ogn_types::json::tensors_from_json(&saved.input)
            .map_err(|e| anyhow!("saved input of job {job}: {e}"))?;
        let loaded = Arc::new(JobInputs { model, inputs });
        self.jobs.lock().insert(job, loaded.clone());
        Ok(loaded)
    }

    /// Accepts an operator's announcement: signed by it, and it is an active operator on chain.
    pub async fn announce(&self, a: Announce) -> Result<()> {
        if !a.verify() {
            bail!("the announcement's signature does not recover to {}", a.address);
        }
        let info = self
            .rpc
            .view(STAKING_PRECOMPILE, IStaking::stakerInfoCall { staker: a.address })
            .await?;
        if !info.exists || !info.isOperator {
            bail!(
                "{} is not a registered operator (createOperator on the staking precompile)",
                a.address
            );
        }
        tracing::info!(operator = %a.address, url = %a.url, "operator announced");
        self.operators.lock().insert(a.address, a);
        Ok(())
    }

    async fn candidates(&self, model: &ModelCid) -> Vec<Candidate> {
        let announced = self.operators();
        let mut out = Vec::with_capacity(announced.len());
        for a in announced {
            let Ok(info) = self
                .rpc
                .view(STAKING_PRECOMPILE, IStaking::stakerInfoCall { staker: a.address })
                .await
            else {
                continue;
            };
            let Ok(free) =
                self.rpc.view(JOBS_PRECOMPILE, IJobs::freeBondCall { operator: a.address }).await
            else {
                continue;
            };
            out.push(Candidate {
                address: a.address,
                free_bond: u128::try_from(free).unwrap_or(u128::MAX),
                jailed: info.jailed || !info.exists,
                serves_model: a.models.is_empty()
                    || a.models.iter().any(|m| *m == model.to_string()),
            });
        }
        out
    }

    async fn offer(&self, operator: Address, offer: &JobOffer) -> Result<JobResult> {
        let url = self
            .operators
            .lock()
            .get(&operator)
            .map(|a| a.url.clone())
            .ok_or_else(|| anyhow!("operator {operator} is not announced"))?;
        let response = self
            .http
            .post(format!("{url}/jobs"))
            .json(offer)
            .send()
            .await
            .with_context(|| format!("operator {operator} at {url}"))?;
        if !response.status().is_success() {
            bail!("operator {operator}: {}", response.text().await.unwrap_or_default());
        }
        let result: JobResult = response.json().await.context("operator's result")?;
        let s = &result.statement;
        let recovered =
            alloy::primitives::Signature::try_from(result.attestation.signature.as_ref())
                .ok()
                .and_then(|sig| sig.recover_address_from_msg(s.digest().as_slice()).ok());
        if recovered != Some(operator)
            || s.job != offer.job
            || s.model != offer.model
            || s.chain_id != offer.chain_id
        {
            bail!(
                "operator {operator} returned a statement that is not its signed answer to job {}",
                offer.job
            );
        }
        Ok(result)
    }

    /// Runs one request in `mode`: assignment, execution by operators, recording, sampling, disputes.
    pub async fn infer(
        &self,
        model: ModelCid,
        input: serde_json::Value,
        mode: Mode,
        value: Option<u128>,
    ) -> Result<Settled> {
        let inputs =
            ogn_types::json::tensors_from_json(&input).map_err(|e| anyhow!("input: {e}"))?;
        let loaded = (self.load)(&model).map_err(|e| anyhow!(e))?;
        let (rt, m, i) = (self.runtime.clone(), loaded.clone(), inputs.clone());
        let layout = tokio::task::spawn_blocking(move || rt.cut_layout(&m, &i))
            .await
            .context("planning task")?
            .map_err(|e| anyhow!("{e}"))?;
        let layout = Bytes::from(serde_json::to_vec(&layout)?);
        let value = value.unwrap_or(self.config.default_value);
        // What the ledger locks per executor: value × job_bond_ppm, rounded up.
        let bond = u128::try_from(
            (U256::from(value) * U256::from(self.config.job_bond_ppm))
                .div_ceil(U256::from(1_000_000u64)),
        )
        .map_err(|_| anyhow!("job value too large"))?;
        let params = GuaranteeParams { base_price: self.config.base_price, ..Default::default() };
        let guarantee = quote(mode, value, bond, &params).map_err(|e| anyhow!("{e}"))?;
        let job = self.next_job.fetch_add(1, Ordering::Relaxed);
        let input_hash = tensors_hash(&inputs);
        self.persist("jobs", job, &SavedJob { model, input: input.clone() })?;
        self.jobs.lock().insert(job, Arc::new(JobInputs { model: loaded, inputs }));

        let candidates = self.candidates(&model).await;
        let (_, beacon) = self.rpc.head().await?;
        let count = mode.executors();
        let executors = assign(&candidates, bond, count, assignment_seed(beacon, job), &[])
            .map_err(|e| anyhow!("{e}"))?;
        let offer = JobOffer { chain_id: self.config.chain_id, job, model, input: input.clone() };
        // Operators run in parallel on their side; their answers are awaited together.
        let results =
            futures::future::try_join_all(executors.iter().map(|op| self.offer(*op, &offer)))
                .await?;
        for r in &results {
            if r.statement.input_hash != input_hash {
                bail!("operator {} hashed the input differently", r.attestation.operator);
            }
        }

        let first = &results[0];
        let sampling = matches!(mode, Mode::Sampling { .. });
        // SAMPLING: the operator's result goes on chain sealed, so that the verifier drawn afterwards cannot
        // copy it; it is revealed once the verifier has attested.
        let salt = keccak256(
            [
                &job.to_be_bytes()[..],
                self.rpc.address().as_slice(),
                &std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
                    .to_be_bytes(),
            ]
            .concat(),
        );
        let price = U256::from(guarantee.price);
        let mined = if sampling {
            let call = IJobs::recordSealedJobCall {
                job,
                model: model.to_string(),
                inputHash: input_hash,
                operator: first.attestation.operator,
                seal: ogn_chain::jobs::seal_of(&first.statement, salt),
                mode: mode.to_byte(),
                value: U256::from(value),
                layout: layout.clone(),
            };
            self.rpc.send(JOBS_PRECOMPILE, call, price).await?
        } else {
            let call = IJobs::recordJobCall {
                statement: job_statement(&first.statement),
                signature: first.attestation.signature.clone(),
                mode: mode.to_byte(),
                value: U256::from(value),
                layout: layout.clone(),
            };
            self.rpc.send(JOBS_PRECOMPILE, call, price).await?
        };
        if !mined.success {
            bail!("recording job {job} failed (transaction {})", mined.tx_hash);
        }
        let inclusion = Inclusion {
            block_number: mined.block_number,
            block_hash: mined.block_hash,
            tx_hash: mined.tx_hash,
        };
        let mut attested: Vec<&JobResult> = vec![first];
        for r in &results[1..] {
            self.attest(r).await?;
            attested.push(r);
        }
        let mut verifier = None;
        if let Mode::Sampling { .. } = mode {
            let draw = keccak256([inclusion.block_hash.as_slice(), &job.to_be_bytes()].concat());
            let draw = u64::from_be_bytes(draw[..8].try_into().expect("8 bytes")) % 1_000_000;
            if draw < guarantee.sampling_ppm {
                let seed = assignment_seed(inclusion.block_hash, job);
                if let Ok(v) = assign(&candidates, bond, 1, seed, &executors) {
                    let r = self.offer(v[0], &offer).await?;
                    self.attest(&r).await?;
                    verifier = Some(r);
                }
            }
        }
        if let Some(v) = &verifier {
            attested.push(v);
        }
        if sampling {
            let call = IJobs::revealCall {
                statement: job_statement(&first.statement),
                signature: first.attestation.signature.clone(),
                salt,
            };
            let mined = self.rpc.send(JOBS_PRECOMPILE, call, U256::ZERO).await?;
            if !mined.success {
                bail!("revealing job {job} failed (transaction {})", mined.tx_hash);
            }
        }

        let record = self.job_record(job).await?;
        let disputes: Vec<u64> =
            record.executors.iter().filter(|e| !e.agrees).map(|e| e.lock).collect();
        let mut verdicts = Vec::new();
        for id in &disputes {
            verdicts.push(self.wait_for_verdict(*id).await?);
        }
        // The accepted result: executor 0's, unless a dispute proved it wrong.
        let operator_lost = verdicts
            .iter()
            .any(|v| v.record.verdict.as_ref().is_some_and(|x| x.losers.contains(&Side::Operator)));
        let winner = if operator_lost {
            verdicts
                .iter()
                .find(|v| {
                    v.record.verdict.as_ref().is_some_and(|x| !x.losers.contains(&Side::Challenger))
                })
                .and_then(|v| {
                    attested.iter().find(|r| r.attestation.operator == v.record.challenger)
                })
                .copied()
        } else {
            Some(first)
        };
        let Some(winner) = winner else {
            bail!("job {job}: every executor was proven wrong; no result is accepted");
        };
        let agree = |r: &&&JobResult| {
            r.attestation.output_hash == winner.attestation.output_hash
                && r.attestation.commitment == winner.attestation.commitment
        };
        let attestations: Vec<Attestation> =
            attested.iter().filter(agree).map(|r| r.attestation.clone()).collect();
        let status = if !disputes.is_empty() {
            Status::Disputed
        } else if matches!(mode, Mode::Replicas { .. }) {
            Status::Accepted
        } else {
            Status::Challengeable
        };
        let s = &winner.statement;
        let receipt = Receipt {
            version: RECEIPT_VERSION,
            chain_id: self.config.chain_id,
            job,
            model,
            input_hash,
            output_hash: s.output_hash,
            result_id: s.result_id,
            engine_id: s.engine_id.clone(),
            commitment: s.commitment,
            guarantee,
            attestations,
            status,
            inclusion: Some(inclusion),
        };
        receipt.check().map_err(|e| anyhow!("job {job}: the receipt does not check: {e}"))?;
        self.persist("receipts", job, &receipt)?;
        self.receipts.lock().insert(job, receipt.clone());
        Ok(Settled { outputs: winner.outputs.clone(), receipt, disputes })
    }

    async fn attest(&self, r: &JobResult) -> Result<()> {
        let call = IJobs::attestCall {
            statement: job_statement(&r.statement),
            signature: r.attestation.signature.clone(),
        };
        let mined = self.rpc.send(JOBS_PRECOMPILE, call, U256::ZERO).await?;
        if !mined.success {
            bail!(
                "recording {}'s attestation failed (transaction {})",
                r.attestation.operator,
                mined.tx_hash
            );
        }
        Ok(())
    }

    async fn job_record(&self, job: u64) -> Result<JobRecord> {
        let json = self.rpc.view(JOBS_PRECOMPILE, IJobs::jobCall { job }).await?;
        serde_json::from_slice(&json).context("job record")
    }

    async fn dispute(&self, id: u64) -> Result<DisputeView> {
        let json = self.rpc.view(JOBS_PRECOMPILE, IJobs::disputeCall { dispute: id }).await?;
        serde_json::from_slice(&json).context("dispute record")
    }

    async fn wait_for_verdict(&self, id: u64) -> Result<DisputeView> {
        let start = std::time::Instant::now();
        loop {
            let view = self.dispute(id).await?;
            if view.record.verdict.is_some() {
                return Ok(view);
            }
            if start.elapsed() > self.config.dispute_wait {
                bail!("dispute {id} is still open after {:?}", self.config.dispute_wait);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The validator's part of every open dispute: re-executes the one step a game narrowed to and ticks
    /// rounds past their deadline. Runs until the task is dropped.
    pub async fn referee(self: Arc<Self>) {
        loop {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let Ok(open) = self.rpc.view(JOBS_PRECOMPILE, IJobs::openDisputesCall {}).await else {
                continue;
            };
            for id in open {
                if let Err(e) = self.referee_one(id).await {
                    tracing::debug!(dispute = id, "referee: {e:#}");
                }
            }
        }
    }

    async fn referee_one(&self, id: u64) -> Result<()> {
        let view = self.dispute(id).await?;
        if let Some(Query::Step { index }) = view.query {
            let job = self.job_inputs(view.record.job)?;
            // The parties' witness when one was posted; otherwise the step's inputs from the job's own
            // run (an honest party's agreed leaves are that run's).
            let witness = view.record.pending_step.as_ref().map(|p| p.witness.clone());
            let rt = self.runtime.clone();
            let leaf: B256 = tokio::task::spawn_blocking(move || {
                let referee =
                    RuntimeReferee::new(&rt, &job.model, &job.inputs).map_err(|e| e.to_string())?;
                let steps = referee.layout().steps as usize;
                let witness = match witness {
                    Some(w) => w,
                    None => step_witness(&rt, &job.model, &job.inputs, steps, index)
                        .ok_or("the step's inputs could not be derived")?,
                };
                referee.leaf(index, &witness)
            })
            .await
            .context("re-execution task")?
            .map_err(|e| anyhow!("re-executing step {index}: {e}"))?;
            let mined = self
                .rpc
                .send(JOBS_PRECOMPILE, IJobs::resolveStepCall { dispute: id, leaf }, U256::ZERO)
                .await?;
            tracing::info!(dispute = id, step = index, ok = mined.success, "step re-executed");
            return Ok(());
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if now > view.deadline {
            self.rpc.send(JOBS_PRECOMPILE, IJobs::tickCall { dispute: id }, U256::ZERO).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scheduler(dir: &std::path::Path) -> Scheduler {
        let runtime = Arc::new(Runtime::new(ogn_runtime::RuntimeConfig::default()));
        let rt = runtime.clone();
        let load: ModelLoader = Arc::new(move |cid| {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/models/mlp.onnx");
            let bytes = std::fs::read(path).map_err(|e| format!("fixtures: {e}"))?;
            rt.load(cid, &bytes).map_err(|e| e.to_string())
        });
        let config = SchedulerConfig {
            chain_id: 1,
            base_price: 1,
            default_value: 1,
            job_bond_ppm: 1_000_000,
            dispute_wait: Duration::from_secs(1),
            state_dir: Some(dir.to_path_buf()),
        };
        let key =
            alloy::signers::local::PrivateKeySigner::from_bytes(&B256::repeat_byte(7)).unwrap();
        Scheduler::new(config, RpcClient::new("http://127.0.0.1:9", key), runtime, load, 1)
    }

    /// A restarted node finds the inputs of the jobs it scheduled (to referee their disputes) and their
    /// receipts; nothing half-written is left behind.
    #[test]
    fn jobs_and_receipts_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/models/mlp.onnx");
        let model = ModelCid::for_bytes(
            &std::fs::read(path).expect("fixtures: run scripts/fetch-fixtures"),
        );
        let row: Vec<f32> = (0..784).map(|i| (i % 7) as f32 / 7.0).collect();
        let input = serde_json::json!({ "input": [row] });
        let before = scheduler(dir.path());
        before.persist("jobs", 42, &SavedJob { model, input: input.clone() }).unwrap();
        let runtime = Runtime::new(ogn_runtime::RuntimeConfig::default());
        let loaded = (before.load)(&model).unwrap();
        let inputs = ogn_types::json::tensors_from_json(&input).unwrap();
        let exec = ogn_verify::execute(&runtime, &loaded, &inputs).unwrap();
        let key =
            alloy::signers::local::PrivateKeySigner::from_bytes(&B256::repeat_byte(8)).unwrap();
        let receipt = Receipt::self_served(&key, 1, 42, model, &exec, 0);
        before.persist("receipts", 42, &receipt).unwrap();
        drop(before);

        let after = scheduler(dir.path());
        assert_eq!(after.receipt(42), Some(receipt));
        assert_eq!(after.receipt(43), None);
        let job = after.job_inputs(42).unwrap();
        assert_eq!(job.inputs, inputs);
        assert_eq!(job.model.cid(), &model);
        assert!(after.job_inputs(43).is_err());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("jobs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(leftovers, vec!["42.json".to_string()]);
    }
}
