//! The jobs precompile at [`JOBS_PRECOMPILE`] (`0x…0101`): inference jobs served by registered operators,
//! their bond locks and fees in the ledger, and the dispute game that settles a disagreement on chain.
//! Its ABI is [`IJobs`].
//!
//! # Protocol
//! ```text
//!  recordJob(statement, signature, mode, value, layout)   payer = caller, fee = msg.value
//!     (layout: the JSON `ogn_runtime::CutLayout` of the job's plan, as the recorder derived it)
//!     signature recovers to an active operator ─► ledger.lock_job(lock₀, operator, value)
//!     ─► ledger.pay_inference_fee(payer, operator, fee) ─► JobRecorded
//!  recordSealedJob(job, model, input, operator, seal, …)   the same, with the operator's result sealed:
//!     seal = keccak256(statement digest ‖ salt); executor 0's fields stay zero until
//!  reveal(statement, signature, salt)     the payer opens the seal (the operator's signature is checked then);
//!     every attestation made meanwhile is compared now, a differing one opens its dispute. SAMPLING uses this
//!     so that the verifier, drawn after inclusion, cannot copy a result it has not seen.
//!  attest(statement, signature)          a replica (REPLICAS) or a verifier (SAMPLING) or any challenger
//!     same job, model and input; a new operator ─► ledger.lock_job(lockᵢ, signer, value)
//!     same commitment and output as executor 0 ─► agrees
//!     otherwise ─► dispute #lockᵢ opened: executor 0 (operator side) vs this signer (challenger side)
//!  answer(dispute, json Answer)          the party whose turn it is (descend / bisect / segment rounds)
//!     a step proof (last round) is checked (its witness hashes to leaves agreed in the segment round)
//!     and waits for the referee
//!  resolveStep(dispute, leaf)            an active validator that re-executed that one step, from the
//!                                        pending proof's witness or, without one, from the inputs it
//!                                        derives from the job's own run (large activations do not fit a
//!                                        transaction); a round at its step is never ticked away
//!  tick(dispute)                         anyone, once a round's deadline (block timestamp) has passed:
//!                                        silent parties lose
//!  decided ─► every loser: ledger.prove_wrong_inference(its lock, winner | payer when both lose)
//!             (slash by the wrong-inference fraction or what covers the lock, challenger share, jail)
//! ```
//! Locks are released by the ledger when the challenge window closes (`challenge_window_blocks`); a
//! dispute must be decided before that, so [`attest`](IJobs::attestCall) refuses when fewer than
//! [`MIN_WINDOW_LEFT_BLOCKS`] remain.
//!
//! # Why validators decide the last step by transaction
//! Block execution never runs a model (so a replay needs none). The one step a dispute narrows to is
//! re-executed by a validator ([`ogn_verify::RuntimeReferee`]) off the EVM, and its result (the step's
//! leaf) enters the chain as a `resolveStep` transaction signed by an active validator; with several
//! validators, each re-executes the step while verifying the block that carries it.
//!
//! # Where the data lives
//! In the staking account's storage (with the ledger), at keccak-derived slots: job `j` at
//! `keccak256("ogn.job" ‖ j)`, dispute `d` at `keccak256("ogn.dispute" ‖ d)`, the list of open disputes at
//! `keccak256("ogn.open")`. Each is a JSON document stored as the ledger is: its length in the first slot,
//! its bytes in the following ones. (The staking account always holds a balance, so it is never cleared as
//! an empty account.)
//!
//! # Gas
//! [`BASE_GAS`] per call, plus what the ledger words cost as in the staking precompile
//! ([`crate::staking::WORD_READ_GAS`], [`crate::staking::WORD_WRITE_GAS`]) for calls that touch the ledger,
//! plus [`crate::staking::WORD_WRITE_GAS`] per job or dispute word written.

use alloy::{
    primitives::{Address, B256, Bytes, Log, U256, address, keccak256},
    sol,
    sol_types::{SolEvent, SolValue},
};
use ogn_ledger::{Ledger, Role};
use ogn_runtime::CutLayout;
use ogn_types::ModelCid;
use ogn_verify::{
    Answer, Dispute, DisputeParams, LayerCommitment, Mode, Query, Referee, Side, Statement,
    StepProof, Verdict, commitment::genesis_state,
};
use revm::{
    context_interface::{Block, Cfg, ContextTr, JournalTr},
    interpreter::{CallInputs, InstructionResult, InterpreterResult},
};
use serde::{Deserialize, Serialize};

use crate::inference::revert_reason;
use crate::staking::{BRIDGE, STAKING_PRECOMPILE, WORD_READ_GAS, WORD_WRITE_GAS, to_ledger};

/// Address of the jobs precompile.
pub const JOBS_PRECOMPILE: Address = address!("0000000000000000000000000000000000000101");

/// Gas of every call.
pub const BASE_GAS: u64 = 30_000;

/// Seconds of block time each dispute round allows.
pub const ROUND_TIMEOUT_SECS: u64 = 60;

/// Blocks of challenge window a new challenge needs left.
pub const MIN_WINDOW_LEFT_BLOCKS: u64 = 100;

/// Executors per job (lock ids are `job × MAX_EXECUTORS + index`).
pub const MAX_EXECUTORS: u64 = 256;

sol! {
    /// The jobs precompile at `0x…0101`. JSON views return UTF-8 JSON documents (see the module docs).
    #[derive(Debug, PartialEq, Eq)]
    interface IJobs {
        /// What an operator signs about a job (`ogn_verify::Statement`; the signature is EIP-191 over its
        /// digest).
        struct JobStatement {
            uint64 chainId;
            uint64 job;
            string model;
            bytes32 inputHash;
            bytes32 outputHash;
            bytes32 resultId;
            string engineId;
            bytes32 layerRoot;
            uint64 layerCount;
        }

        function recordJob(JobStatement statement, bytes signature, uint8 mode, uint256 value, bytes layout) external payable returns (uint64 lockId);
        function recordSealedJob(uint64 job, string model, bytes32 inputHash, address operator, bytes32 seal, uint8 mode, uint256 value, bytes layout) external payable returns (uint64 lockId);
        function reveal(JobStatement statement, bytes signature, bytes32 salt) external;
        function attest(JobStatement statement, bytes signature) external returns (uint64 lockId, bool agrees);
        function answer(uint64 dispute, bytes answer) external;
        function resolveStep(uint64 dispute, bytes32 leaf) external;
        function tick(uint64 dispute) external;

        function job(uint64 job) external view returns (bytes json);
        function dispute(uint64 dispute) external view returns (bytes json);
        function openDisputes() external view returns (uint64[] memory);
        /// Bond of `operator` not locked by open jobs (what assignment weighs and a new lock needs).
        function freeBond(address operator) external view returns (uint256);

        event JobRecorded(uint64 indexed job, address indexed operator, address payer, uint256 fee, uint256 bondLocked);
        event Attested(uint64 indexed job, address indexed executor, bool agrees);
        event DisputeOpened(uint64 indexed dispute, uint64 indexed job, address operator, address challenger);
        event DisputeMove(uint64 indexed dispute, address indexed party);
        event DisputeDecided(uint64 indexed dispute, uint64 indexed job, string reason);
        event Slashed(uint64 indexed job, address indexed offender, uint256 amount, address rewarded);
    }
}

/// One executor of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Executor {
    /// Its account.
    pub address: Address,
    /// Its lock id in the ledger.
    pub lock: u64,
    /// Bond locked.
    pub bond: u128,
    /// Its output hash.
    pub output_hash: B256,
    /// Its result id.
    pub result_id: B256,
    /// Its layer commitment.
    pub commitment: LayerCommitment,
    /// Whether it agrees with executor 0.
    pub agrees: bool,
    /// Slashed for this job (amount), once proven wrong.
    pub slashed: Option<u128>,
}

/// A job as recorded on chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Job number.
    pub job: u64,
    /// Model CID.
    pub model: String,
    /// Hash of the inputs.
    pub input_hash: B256,
    /// Mode byte.
    pub mode: u8,
    /// Declared value (sizes each executor's lock).
    pub value: u128,
    /// Where the model's plan commits (its steps and cuts), as the recorder derived it.
    pub layout: CutLayout,
    /// Who paid.
    pub payer: Address,
    /// Fee paid.
    pub fee: u128,
    /// Block it was recorded in.
    pub height: u64,
    /// Executor 0 is the operator; the others replicas, verifiers or challengers.
    pub executors: Vec<Executor>,
    /// While set, executor 0's result is sealed: `keccak256(statement digest ‖ salt)`; its fields are zero
    /// until `reveal`, and attestations wait for the reveal to be compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<B256>,
}

/// A dispute as stored on chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputeRecord {
    /// Dispute id (the challenger's lock id).
    pub id: u64,
    /// The job.
    pub job: u64,
    /// Executor 0.
    pub operator: Address,
    /// The challenger.
    pub challenger: Address,
    /// The game.
    pub game: Dispute,
    /// A checked step proof waiting for a validator's re-execution.
    pub pending_step: Option<StepProof>,
    /// When that proof arrived (block timestamp): the resolution counts as of then, so a validator's delay
    /// never makes the party that answered in time lose.
    #[serde(default)]
    pub pending_since: u64,
    /// The verdict, once decided.
    pub verdict: Option<Verdict>,
}

impl DisputeRecord {
    fn side_of(&self, who: Address) -> Option<Side> {
        if who == self.operator {
            Some(Side::Operator)
        } else if who == self.challenger {
            Some(Side::Challenger)
        } else {
            None
        }
    }
}

/// A dispute as views show it: the record plus the current question.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DisputeView {
    /// The record.
    #[serde(flatten)]
    pub record: DisputeRecord,
    /// The question of the current round (`None` once decided).
    pub query: Option<ogn_verify::Query>,
    /// Round deadline (block timestamp).
    pub deadline: u64,
    /// Whether the operator owes an answer.
    pub awaits_operator: bool,
    /// Whether the challenger owes an answer.
    pub awaits_challenger: bool,
}

impl DisputeView {
    fn of(record: DisputeRecord) -> Self {
        let game = &record.game;
        let pending = record.pending_step.is_some();
        Self {
            query: game.query(),
            deadline: game.deadline(),
            awaits_operator: !pending && game.awaits(Side::Operator),
            awaits_challenger: !pending && game.awaits(Side::Challenger),
            record,
        }
    }
}

fn slot_base(tag: &str, id: Option<u64>) -> U256 {
    let mut bytes = tag.as_bytes().to_vec();
    if let Some(id) = id {
        bytes.extend_from_slice(&id.to_be_bytes());
    }
    U256::from_be_bytes(keccak256(bytes).0)
}

/// Reads and writes JSON documents in the staking account's storage, counting words for gas.
struct Store<'j, J: JournalTr> {
    journal: &'j mut J,
    read: u64,
    written: u64,
}

impl<J: JournalTr> Store<'_, J> {
    fn sload(&mut self, slot: U256) -> Result<U256, String> {
        self.read += 1;
        self.journal
            .sload(STAKING_PRECOMPILE, slot)
            .map(|s| s.data)
            .map_err(|e| format!("jobs: storage read failed: {e}"))
    }

    fn get<T: serde::de::DeserializeOwned>(&mut self, base: U256) -> Result<Option<T>, String> {
        let len = self.sload(base)?;
        if len.is_zero() {
            return Ok(None);
        }
        let len = len.to::<usize>();
        let mut bytes = Vec::with_capacity(len.div_ceil(32) * 32);
        for i in 0..len.div_ceil(32) {
            bytes.extend_from_slice(&self.sload(base + U256::from(1 + i))?.to_be_bytes::<32>());
        }
        bytes.truncate(len);
        serde_json::from_slice(&bytes).map(Some).map_err(|e| format!("jobs: stored document: {e}"))
    }

    fn put<T: Serialize>(&mut self, base: U256, value: &T) -> Result<(), String> {
        let bytes = serde_json::to_vec(value).map_err(|e| format!("jobs: encode: {e}"))?;
        let old_len = self.sload(base)?.to::<usize>();
        let mut words = vec![U256::from(bytes.len())];
        for chunk in bytes.chunks(32) {
            let mut w = [0u8; 32];
            w[..chunk.len()].copy_from_slice(chunk);
            words.push(U256::from_be_bytes(w));
        }
        let total = words.len().max(1 + old_len.div_ceil(32));
        for i in 0..total {
            let slot = base + U256::from(i);
            let new = words.get(i).copied().unwrap_or_default();
            let old = if i == 0 { U256::from(old_len) } else { self.sload(slot)? };
            if old != new {
                self.journal
                    .sstore(STAKING_PRECOMPILE, slot, new)
                    .map_err(|e| format!("jobs: storage write failed: {e}"))?;
                self.written += 1;
            }
        }
        Ok(())
    }
}

/// The referee's answer as carried by a `resolveStep` transaction.
struct Resolved(B256);

impl Referee for Resolved {
    fn leaf(&self, _: u64, _: &ogn_runtime::LayerWitness) -> Result<B256, String> {
        Ok(self.0)
    }
}

/// Accepts every check before re-execution, then stops: used to check a step proof before it waits for
/// a validator.
struct Precheck;

const AWAITING: &str = "awaiting a validator's re-execution";

impl Referee for Precheck {
    fn leaf(&self, _: u64, _: &ogn_runtime::LayerWitness) -> Result<B256, String> {
        Err(AWAITING.into())
    }
}

/// Longest layout a job may carry (JSON bytes).
pub const MAX_LAYOUT_BYTES: usize = 64 * 1024;

fn layout_of(json: &[u8]) -> Result<CutLayout, String> {
    if json.len() > MAX_LAYOUT_BYTES {
        return Err(format!("jobs: layout of {} bytes (at most {MAX_LAYOUT_BYTES})", json.len()));
    }
    let layout: CutLayout =
        serde_json::from_slice(json).map_err(|e| format!("jobs: layout: {e}"))?;
    layout.validate().map_err(|e| format!("jobs: {e}"))?;
    Ok(layout)
}

fn statement_of(s: &IJobs::JobStatement) -> Result<Statement, String> {
    let model: ModelCid =
        s.model.parse().map_err(|e| format!("jobs: model CID `{}`: {e}", s.model))?;
    Ok(Statement {
        chain_id: s.chainId,
        job: s.job,
        model,
        input_hash: s.inputHash,
        output_hash: s.outputHash,
        result_id: s.resultId,
        engine_id: s.engineId.clone(),
        commitment: LayerCommitment { root: s.layerRoot, count: s.layerCount },
    })
}

/// The ABI form of a statement.
pub fn job_statement(s: &Statement) -> IJobs::JobStatement {
    IJobs::JobStatement {
        chainId: s.chain_id,
        job: s.job,
        model: s.model.to_string(),
        inputHash: s.input_hash,
        outputHash: s.output_hash,
        resultId: s.result_id,
        engineId: s.engine_id.clone(),
        layerRoot: s.commitment.root,
        layerCount: s.commitment.count,
    }
}

fn signer_of(statement: &Statement, signature: &[u8]) -> Result<Address, String> {
    alloy::primitives::Signature::try_from(signature)
        .ok()
        .and_then(|s| s.recover_address_from_msg(statement.digest().as_slice()).ok())
        .ok_or_else(|| "jobs: the signature does not recover to an address".to_string())
}

fn active(ledger: &Ledger, who: Address, role: Role) -> bool {
    ledger.get_staker(to_ledger(who)).is_some_and(|s| s.role == role && s.is_active())
}

/// What one call needs from its context.
struct Call<'a> {
    caller: Address,
    value: u128,
    input: &'a [u8],
    chain_id: u64,
    now: u64,
}

/// Effects of a call.
#[derive(Default)]
struct Effects {
    logs: Vec<alloy::primitives::LogData>,
    ledger_touched: bool,
    view: bool,
}

fn lock_id(job: u64, index: usize) -> Result<u64, String> {
    job.checked_mul(MAX_EXECUTORS)
        .and_then(|b| b.checked_add(index as u64))
        .ok_or_else(|| format!("jobs: job number {job} too large (at most 2^56 − 1)"))
}

fn dispatch<J: JournalTr>(
    store: &mut Store<'_, J>,
    ledger: &mut Ledger,
    call: &Call<'_>,
    fx: &mut Effects,
) -> Result<Bytes, String> {
    use IJobs as I;
    let decoded = decode_call(call.input)?;
    if call.value > 0 && !matches!(decoded, JobsCall::RecordJob(..) | JobsCall::RecordSealed(..)) {
        return Err("jobs: only recordJob and recordSealedJob accept OPG (the fee)".into());
    }
    let l = |e: ogn_ledger::LedgerError| format!("jobs: {e}");
    let open_base = slot_base("ogn.open", None);
    match decoded {
        JobsCall::RecordJob(c, statement, layout) => {
            if statement.chain_id != call.chain_id {
                return Err(format!(
                    "jobs: statement for chain {}, this is {}",
                    statement.chain_id, call.chain_id
                ));
            }
            let operator = signer_of(&statement, &c.signature)?;
            let job = NewJob {
                job: statement.job,
                model: statement.model.to_string(),
                input_hash: statement.input_hash,
                operator,
                mode: c.mode,
                value: c.value,
                layout,
                result: (statement.output_hash, statement.result_id, statement.commitment),
                seal: None,
            };
            record_new_job(store, ledger, call, fx, job)
        }
        JobsCall::RecordSealed(c, layout) => {
            let model: ModelCid =
                c.model.parse().map_err(|e| format!("jobs: model CID `{}`: {e}", c.model))?;
            let job = NewJob {
                job: c.job,
                model: model.to_string(),
                input_hash: c.inputHash,
                operator: c.operator,
                mode: c.mode,
                value: c.value,
                layout,
                result: (B256::ZERO, B256::ZERO, LayerCommitment { root: B256::ZERO, count: 0 }),
                seal: Some(c.seal),
            };
            record_new_job(store, ledger, call, fx, job)
        }
        JobsCall::Reveal(c, statement) => {
            let job = statement.job;
            let base = slot_base("ogn.job", Some(job));
            let mut record: JobRecord =
                store.get(base)?.ok_or_else(|| format!("jobs: no job {job}"))?;
            let seal = record.seal.ok_or_else(|| format!("jobs: job {job} is not sealed"))?;
            if call.caller != record.payer {
                return Err("jobs: only the job's payer reveals it".into());
            }
            if seal_of(&statement, c.salt) != seal {
                return Err("jobs: the statement and salt do not open the seal".into());
            }
            if statement.chain_id != call.chain_id
                || statement.model.to_string() != record.model
                || statement.input_hash != record.input_hash
            {
                return Err("jobs: the statement is about another chain, model or input".into());
            }
            if signer_of(&statement, &c.signature)? != record.executors[0].address {
                return Err("jobs: the sealed statement is not signed by the job's operator".into());
            }
            let first = &mut record.executors[0];
            first.output_hash = statement.output_hash;
            first.result_id = statement.result_id;
            first.commitment = statement.commitment;
            record.seal = None;
            fx.ledger_touched = true;
            for index in 1..record.executors.len() {
                let (first, other) = (&record.executors[0], &record.executors[index]);
                let agrees = other.commitment == first.commitment
                    && other.output_hash == first.output_hash
                    && other.result_id == first.result_id;
                record.executors[index].agrees = agrees;
                if !agrees {
                    open_dispute(store, &mut record, index, call.now, ledger, fx)?;
                }
            }
            store.put(base, &record)?;
            Ok(Bytes::new())
        }
        JobsCall::Attest(c, statement) => {
            let job = statement.job;
            let base = slot_base("ogn.job", Some(job));
            let mut record: JobRecord =
                store.get(base)?.ok_or_else(|| format!("jobs: no job {job}"))?;
            if statement.chain_id != call.chain_id
                || statement.model.to_string() != record.model
                || statement.input_hash != record.input_hash
            {
                return Err("jobs: the statement is about another chain, model or input".into());
            }
            let signer = signer_of(&statement, &c.signature)?;
            if record.executors.iter().any(|e| e.address == signer) {
                return Err(format!("jobs: {signer} already attested job {job}"));
            }
            if !active(ledger, signer, Role::Operator) {
                return Err(format!("jobs: {signer} is not an active operator"));
            }
            let first = record.executors[0].clone();
            let window_left = ledger
                .job(first.lock)
                .map_or(0, |j| j.expiry_height.saturating_sub(ledger.height()));
            if window_left < MIN_WINDOW_LEFT_BLOCKS {
                return Err(format!("jobs: the challenge window of job {job} has (nearly) closed"));
            }
            let lock = lock_id(job, record.executors.len())?;
            fx.ledger_touched = true;
            let bond = ledger.lock_job(lock, to_ledger(signer), record.value).map_err(l)?;
            let agrees = record.seal.is_none()
                && statement.commitment == first.commitment
                && statement.output_hash == first.output_hash
                && statement.result_id == first.result_id;
            record.executors.push(Executor {
                address: signer,
                lock,
                bond,
                output_hash: statement.output_hash,
                result_id: statement.result_id,
                commitment: statement.commitment,
                agrees,
                slashed: None,
            });
            fx.logs.push(I::Attested { job, executor: signer, agrees }.encode_log_data());
            if !agrees && record.seal.is_none() {
                let index = record.executors.len() - 1;
                open_dispute(store, &mut record, index, call.now, ledger, fx)?;
            }
            store.put(base, &record)?;
            Ok((lock, agrees).abi_encode_params().into())
        }
        JobsCall::Move(id, action) => {
            let dbase = slot_base("ogn.dispute", Some(id));
            let mut dispute: DisputeRecord =
                store.get(dbase)?.ok_or_else(|| format!("jobs: no dispute {id}"))?;
            if dispute.verdict.is_some() {
                return Err(format!("jobs: dispute {id} is decided"));
            }
            let jbase = slot_base("ogn.job", Some(dispute.job));
            let mut record: JobRecord =
                store.get(jbase)?.ok_or("jobs: the dispute's job is missing")?;
            match action {
                Move::Answer(answer) => {
                    let side = dispute.side_of(call.caller).ok_or_else(|| {
                        format!("jobs: {} is not a party to dispute {id}", call.caller)
                    })?;
                    if dispute.pending_step.is_some() {
                        return Err("jobs: a step proof already waits for re-execution".into());
                    }
                    if let Answer::Step(proof) = &answer {
                        let mut probe = dispute.game.clone();
                        match probe.submit(side, answer.clone(), call.now, &Precheck) {
                            Err(ogn_verify::dispute::DisputeError::Refused(r))
                                if r.ends_with(AWAITING) =>
                            {
                                dispute.pending_step = Some(proof.clone());
                                dispute.pending_since = call.now;
                            }
                            Err(e) => return Err(format!("jobs: {e}")),
                            Ok(()) => {
                                return Err("jobs: step proof accepted without re-execution".into());
                            }
                        }
                    } else {
                        dispute
                            .game
                            .submit(side, answer, call.now, &Precheck)
                            .map_err(|e| format!("jobs: {e}"))?;
                    }
                    fx.logs
                        .push(I::DisputeMove { dispute: id, party: call.caller }.encode_log_data());
                }
                Move::Resolve(leaf) => {
                    if !active(ledger, call.caller, Role::Validator) {
                        return Err(format!("jobs: {} is not an active validator", call.caller));
                    }
                    match dispute.pending_step.take() {
                        Some(proof) => dispute
                            .game
                            .submit(
                                Side::Operator,
                                Answer::Step(proof),
                                dispute.pending_since,
                                &Resolved(leaf),
                            )
                            .map_err(|e| format!("jobs: {e}"))?,
                        // No proof (its inputs may not fit a transaction): the validator derived
                        // the step's inputs from the job's own run.
                        None if matches!(dispute.game.query(), Some(Query::Step { .. })) => {
                            dispute.game.settle_step(leaf).map_err(|e| format!("jobs: {e}"))?
                        }
                        None => return Err(format!("jobs: dispute {id} has no step to resolve")),
                    }
                    fx.logs
                        .push(I::DisputeMove { dispute: id, party: call.caller }.encode_log_data());
                }
                Move::Tick => {
                    if dispute.pending_step.is_some()
                        || matches!(dispute.game.query(), Some(Query::Step { .. }))
                    {
                        return Err(format!(
                            "jobs: dispute {id} waits for a validator's re-execution of its step"
                        ));
                    }
                    if call.now <= dispute.game.deadline() {
                        return Err(format!(
                            "jobs: the round of dispute {id} is open until {}",
                            dispute.game.deadline()
                        ));
                    }
                    dispute.game.tick(call.now);
                }
            }
            fx.ledger_touched = true;
            settle_if_decided(&mut dispute, &mut record, ledger, fx)?;
            if dispute.verdict.is_some() {
                let mut open: Vec<u64> = store.get(open_base)?.unwrap_or_default();
                open.retain(|d| *d != id);
                store.put(open_base, &open)?;
                store.put(jbase, &record)?;
            }
            store.put(dbase, &dispute)?;
            Ok(Bytes::new())
        }
        JobsCall::Job(job) => {
            fx.view = true;
            let record: JobRecord = store
                .get(slot_base("ogn.job", Some(job)))?
                .ok_or_else(|| format!("jobs: no job {job}"))?;
            let json = serde_json::to_vec(&record).map_err(|e| e.to_string())?;
            Ok(Bytes::from(json).abi_encode().into())
        }
        JobsCall::Dispute(id) => {
            fx.view = true;
            let record: DisputeRecord = store
                .get(slot_base("ogn.dispute", Some(id)))?
                .ok_or_else(|| format!("jobs: no dispute {id}"))?;
            let json = serde_json::to_vec(&DisputeView::of(record)).map_err(|e| e.to_string())?;
            Ok(Bytes::from(json).abi_encode().into())
        }
        JobsCall::FreeBond(operator) => {
            fx.view = true;
            let free = ledger.get_staker(to_ledger(operator)).map_or(0, |s| s.free_bond());
            Ok(U256::from(free).abi_encode().into())
        }
        JobsCall::OpenDisputes => {
            fx.view = true;
            let open: Vec<u64> = store.get(open_base)?.unwrap_or_default();
            Ok(open.abi_encode().into())
        }
    }
}

/// A job about to be recorded (sealed or not).
struct NewJob {
    job: u64,
    model: String,
    input_hash: B256,
    operator: Address,
    mode: u8,
    value: U256,
    layout: CutLayout,
    /// Executor 0's output hash, result id and commitment (zero while sealed).
    result: (B256, B256, LayerCommitment),
    seal: Option<B256>,
}

/// Records a new job: mode and plan checked, the operator's bond locked, the fee (`msg.value`) paid to it
/// through the ledger.
fn record_new_job<J: JournalTr>(
    store: &mut Store<'_, J>,
    ledger: &mut Ledger,
    call: &Call<'_>,
    fx: &mut Effects,
    new: NewJob,
) -> Result<Bytes, String> {
    let l = |e: ogn_ledger::LedgerError| format!("jobs: {e}");
    match Mode::from_byte(new.mode) {
        Ok(Mode::Vanilla | Mode::Sampling { .. } | Mode::Replicas { .. }) => {}
        Ok(_) => return Err(format!("jobs: mode {:#04x} is not served by operators", new.mode)),
        Err(e) => return Err(format!("jobs: {e}")),
    }
    new.layout.validate().map_err(|e| format!("jobs: {e}"))?;
    let lock = lock_id(new.job, 0)?;
    let base = slot_base("ogn.job", Some(new.job));
    if store.get::<JobRecord>(base)?.is_some() {
        return Err(format!("jobs: job {} is already recorded", new.job));
    }
    if !active(ledger, new.operator, Role::Operator) {
        return Err(format!("jobs: {} is not an active operator", new.operator));
    }
    let value = u128::try_from(new.value).map_err(|_| "jobs: value exceeds 128 bits")?;
    fx.ledger_touched = true;
    let bond = ledger.lock_job(lock, to_ledger(new.operator), value).map_err(l)?;
    if call.value > 0 {
        ledger.transfer(BRIDGE, to_ledger(call.caller), call.value).map_err(l)?;
        ledger
            .pay_inference_fee(to_ledger(call.caller), to_ledger(new.operator), &[], call.value)
            .map_err(l)?;
    }
    let (output_hash, result_id, commitment) = new.result;
    let record = JobRecord {
        job: new.job,
        model: new.model,
        input_hash: new.input_hash,
        mode: new.mode,
        value,
        layout: new.layout,
        payer: call.caller,
        fee: call.value,
        height: ledger.height(),
        executors: vec![Executor {
            address: new.operator,
            lock,
            bond,
            output_hash,
            result_id,
            commitment,
            agrees: true,
            slashed: None,
        }],
        seal: new.seal,
    };
    store.put(base, &record)?;
    fx.logs.push(
        IJobs::JobRecorded {
            job: new.job,
            operator: new.operator,
            payer: call.caller,
            fee: U256::from(call.value),
            bondLocked: U256::from(bond),
        }
        .encode_log_data(),
    );
    Ok(lock.abi_encode().into())
}

/// `keccak256(statement digest ‖ salt)`: what a sealed job commits to before its result is revealed.
pub fn seal_of(statement: &Statement, salt: B256) -> B256 {
    keccak256([statement.digest().as_slice(), salt.as_slice()].concat())
}

/// Opens the dispute between executor 0 and executor `index` of `record` (id: the challenger's lock).
fn open_dispute<J: JournalTr>(
    store: &mut Store<'_, J>,
    record: &mut JobRecord,
    index: usize,
    now: u64,
    ledger: &mut Ledger,
    fx: &mut Effects,
) -> Result<(), String> {
    let (first, challenger) = (record.executors[0].clone(), record.executors[index].clone());
    let model: ModelCid = record.model.parse().map_err(|e| format!("jobs: {e}"))?;
    let genesis = genesis_state(&model, record.input_hash);
    let params = DisputeParams { round_timeout: ROUND_TIMEOUT_SECS };
    let game = Dispute::open(
        first.commitment,
        challenger.commitment,
        genesis,
        record.layout.clone(),
        now,
        params,
    )
    .map_err(|e| format!("jobs: {e}"))?;
    let id = challenger.lock;
    let mut dispute = DisputeRecord {
        id,
        job: record.job,
        operator: first.address,
        challenger: challenger.address,
        game,
        pending_step: None,
        pending_since: 0,
        verdict: None,
    };
    fx.logs.push(
        IJobs::DisputeOpened {
            dispute: id,
            job: record.job,
            operator: first.address,
            challenger: challenger.address,
        }
        .encode_log_data(),
    );
    settle_if_decided(&mut dispute, record, ledger, fx)?;
    if dispute.verdict.is_none() {
        let open_base = slot_base("ogn.open", None);
        let mut open: Vec<u64> = store.get(open_base)?.unwrap_or_default();
        open.push(id);
        store.put(open_base, &open)?;
    }
    store.put(slot_base("ogn.dispute", Some(id)), &dispute)
}

/// A move in a dispute.
#[derive(Debug)]
pub enum Move {
    /// A party's answer to the round's question.
    Answer(Answer),
    /// A validator's re-execution of the pending step: its leaf.
    Resolve(B256),
    /// Close a round whose deadline passed.
    Tick,
}

/// A call to the precompile, decoded and its statement or answer parsed.
#[derive(Debug)]
pub enum JobsCall {
    /// `recordJob`, with its statement and cut layout decoded.
    RecordJob(IJobs::recordJobCall, Statement, CutLayout),
    /// `recordSealedJob`, with its cut layout decoded.
    RecordSealed(IJobs::recordSealedJobCall, CutLayout),
    /// `reveal`.
    Reveal(IJobs::revealCall, Statement),
    /// `attest`.
    Attest(IJobs::attestCall, Statement),
    /// `answer`, `resolveStep`, `tick` on a dispute.
    Move(u64, Move),
    /// `job`.
    Job(u64),
    /// `dispute`.
    Dispute(u64),
    /// `openDisputes`.
    OpenDisputes,
    /// `freeBond`.
    FreeBond(Address),
}

/// Decodes calldata to the precompile (outside bytes: every error is a reason, never a panic).
pub fn decode_call(input: &[u8]) -> Result<JobsCall, String> {
    use IJobs::IJobsCalls as C;
    if input.len() < 4 {
        return Err("jobs: calldata shorter than a function selector".into());
    }
    let call = <C as alloy::sol_types::SolInterface>::abi_decode(input)
        .map_err(|e| format!("jobs: cannot decode the call: {e}"))?;
    Ok(match call {
        C::recordJob(c) => {
            let s = statement_of(&c.statement)?;
            let layout = layout_of(&c.layout)?;
            JobsCall::RecordJob(c, s, layout)
        }
        C::attest(c) => {
            let s = statement_of(&c.statement)?;
            JobsCall::Attest(c, s)
        }
        C::recordSealedJob(c) => {
            let layout = layout_of(&c.layout)?;
            JobsCall::RecordSealed(c, layout)
        }
        C::reveal(c) => {
            let s = statement_of(&c.statement)?;
            JobsCall::Reveal(c, s)
        }
        C::answer(c) => {
            let answer: Answer = serde_json::from_slice(&c.answer)
                .map_err(|e| format!("jobs: answer is not a valid JSON answer: {e}"))?;
            JobsCall::Move(c.dispute, Move::Answer(answer))
        }
        C::resolveStep(c) => JobsCall::Move(c.dispute, Move::Resolve(c.leaf)),
        C::tick(c) => JobsCall::Move(c.dispute, Move::Tick),
        C::job(c) => JobsCall::Job(c.job),
        C::dispute(c) => JobsCall::Dispute(c.dispute),
        C::openDisputes(_) => JobsCall::OpenDisputes,
        C::freeBond(c) => JobsCall::FreeBond(c.operator),
    })
}

/// Applies a decided game's verdict: slashes every loser's lock through the ledger.
fn settle_if_decided(
    dispute: &mut DisputeRecord,
    record: &mut JobRecord,
    ledger: &mut Ledger,
    fx: &mut Effects,
) -> Result<(), String> {
    let Some(verdict) = dispute.game.verdict().cloned() else { return Ok(()) };
    let address_of = |side: Side| match side {
        Side::Operator => dispute.operator,
        Side::Challenger => dispute.challenger,
    };
    let rewarded = match verdict.losers.as_slice() {
        [loser] => {
            address_of(if *loser == Side::Operator { Side::Challenger } else { Side::Operator })
        }
        _ => record.payer,
    };
    for side in &verdict.losers {
        let offender = address_of(*side);
        let Some(executor) = record.executors.iter_mut().find(|e| e.address == offender) else {
            continue;
        };
        if executor.slashed.is_some() || ledger.job(executor.lock).is_none() {
            continue;
        }
        let out = ledger
            .prove_wrong_inference(executor.lock, to_ledger(rewarded))
            .map_err(|e| format!("jobs: slashing {offender}: {e}"))?;
        let amount = out.total();
        executor.slashed = Some(amount);
        fx.logs.push(
            IJobs::Slashed { job: record.job, offender, amount: U256::from(amount), rewarded }
                .encode_log_data(),
        );
    }
    fx.logs.push(
        IJobs::DisputeDecided {
            dispute: dispute.id,
            job: record.job,
            reason: verdict.reason.clone(),
        }
        .encode_log_data(),
    );
    dispute.verdict = Some(verdict);
    Ok(())
}

/// Runs one call to the precompile.
pub(crate) fn run<CTX: ContextTr>(
    context: &mut CTX,
    inputs: &CallInputs,
) -> Result<InterpreterResult, String> {
    let input = inputs.input.bytes(context);
    let gas_limit = inputs.gas_limit;
    let finish = |result: InstructionResult, output: Bytes, gas: u64| {
        crate::evm::precompile_result(result, output, gas, gas_limit)
    };
    let revert =
        |reason: &str, gas: u64| finish(InstructionResult::Revert, revert_reason(reason), gas);
    let value = match crate::evm::direct_call_value(inputs, JOBS_PRECOMPILE, "jobs") {
        Ok(v) => v,
        Err(reason) => return Ok(revert(&reason, BASE_GAS)),
    };
    let call = Call {
        caller: inputs.caller,
        value,
        input: &input,
        chain_id: context.cfg().chain_id(),
        now: context.block().timestamp().saturating_to::<u64>(),
    };
    let journal = context.journal_mut();
    // Storage of an account not yet in the journal cannot be read.
    journal
        .load_account(STAKING_PRECOMPILE)
        .map_err(|e| format!("jobs: loading the staking account failed: {e}"))?;
    let (mut ledger, old) = crate::staking::load(journal)?;
    let ledger_read_gas = WORD_READ_GAS * old.len() as u64;
    let mut fx = Effects::default();
    let mut store = Store { journal, read: 0, written: 0 };
    let result = dispatch(&mut store, &mut ledger, &call, &mut fx);
    let (read, written) = (store.read, store.written);
    let mut gas = BASE_GAS + ledger_read_gas + WORD_READ_GAS * read + WORD_WRITE_GAS * written;
    match result {
        Err(reason) => Ok(revert(&reason, gas)),
        Ok(out) if fx.view => Ok(finish(InstructionResult::Return, out, gas)),
        Ok(out) => {
            if inputs.is_static {
                return Ok(revert("jobs: state change in a static call", gas));
            }
            if fx.ledger_touched {
                if value > 0 {
                    // The fee arrived on this precompile's balance; the ledger's OPG lives on the staking
                    // account's.
                    if let Some(e) = journal
                        .transfer(JOBS_PRECOMPILE, STAKING_PRECOMPILE, U256::from(value))
                        .map_err(|e| format!("jobs: transfer failed: {e}"))?
                    {
                        return Err(format!("jobs: moving the fee failed: {e:?}"));
                    }
                }
                crate::staking::settle(journal, &mut ledger)?;
                let _ = ledger.take_events();
                let new = crate::staking::encode_words(&ledger)?;
                gas += WORD_WRITE_GAS * crate::staking::store(journal, &old, &new)?;
            }
            for data in fx.logs {
                journal.log(Log { address: JOBS_PRECOMPILE, data });
            }
            Ok(finish(InstructionResult::Return, out, gas))
        }
    }
}
