//! The protocol driver: a job from its request to its settled receipt, against the real ledger.
//!
//! [`Network`] owns the ledger and the referee's runtime; participants (operators, which also serve as
//! verifiers) implement [`Participant`] and may be honest or not. Time is the block height: a dispute
//! round that a side leaves unanswered advances it past the round's deadline. Randomness (beacons,
//! sampling draws, decoys) comes from the caller, so a seeded caller replays exactly.

use std::sync::Arc;

use alloy::primitives::{Address, B256, keccak256};
use ogn_ledger::{Ledger, LedgerError, Role, SlashOutcome};
use ogn_runtime::{Model, Runtime};
use ogn_types::Tensor;

use crate::assign::{Candidate, assign, assignment_seed};
use crate::commitment::{LayerCommitment, genesis_state};
use crate::dispute::{Answer, Dispute, DisputeParams, Query, RunEvidence, Side, Verdict};
use crate::execution::RuntimeReferee;
use crate::guarantee::{Guarantee, GuaranteeParams, quote};
use crate::mode::Mode;
use crate::receipt::{Attestation, RECEIPT_VERSION, Receipt, Status, tensors_hash};

/// A job as its participants see it.
#[derive(Debug, Clone)]
pub struct Job {
    /// Job number (unique).
    pub id: u64,
    /// The model, loaded.
    pub model: Arc<Model>,
    /// Inputs.
    pub inputs: Vec<Tensor>,
    /// Mode.
    pub mode: Mode,
    /// Declared value, wei.
    pub value: u128,
    /// Who pays.
    pub requester: Address,
}

/// An executor's signed result with the evidence to defend it.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The signed statement.
    pub attestation: Attestation,
    /// Leaves, states, tree.
    pub evidence: RunEvidence,
}

/// A network member.
pub trait Participant {
    /// Its account.
    fn address(&self) -> Address;
    /// Executes `job`; `None` if it stays silent.
    fn execute(&mut self, job: &Job, runtime: &Runtime, chain_id: u64) -> Option<Claim>;
    /// As a verifier: its own signed result for `job`, given `shown` as the operator's (a decoy shows a
    /// wrong one). `None` if silent.
    fn verify(
        &mut self,
        job: &Job,
        runtime: &Runtime,
        chain_id: u64,
        shown: &Attestation,
    ) -> Option<Claim>;
    /// Its answer in a dispute over `job`; `None` if silent.
    fn answer(&mut self, job: &Job, runtime: &Runtime, query: Query) -> Option<Answer>;
}

/// Parameters of the driver.
#[derive(Debug, Clone)]
pub struct NetworkParams {
    /// Chain id signed into statements.
    pub chain_id: u64,
    /// Dispute timing.
    pub dispute: DisputeParams,
    /// Quote parameters.
    pub guarantee: GuaranteeParams,
    /// The account that issues decoys and collects the challenger's share when it proves a verifier lazy.
    pub auditor: Address,
}

/// A dispute as it ended.
#[derive(Debug, Clone)]
pub struct DisputeRecord {
    /// The challenged executor.
    pub operator: Address,
    /// Who challenged.
    pub challenger: Address,
    /// How it ended.
    pub verdict: Verdict,
    /// Slashes applied: (account, outcome).
    pub slashes: Vec<(Address, SlashOutcome)>,
}

/// What happened to one job.
#[derive(Debug, Clone)]
pub struct JobRecord {
    /// The job.
    pub job: u64,
    /// Executors, in assignment order.
    pub executors: Vec<Address>,
    /// Their stated output hashes (`None`: silent).
    pub outputs: Vec<Option<B256>>,
    /// SAMPLING: whether a verifier was drawn, and which.
    pub verifier: Option<Address>,
    /// Disputes played.
    pub disputes: Vec<DisputeRecord>,
    /// The receipt, if a result was accepted.
    pub receipt: Option<Receipt>,
}

/// A decoy verification task and how the verifier did.
#[derive(Debug, Clone)]
pub struct DecoyRecord {
    /// The verifier tested.
    pub verifier: Address,
    /// Whether it agreed with the known-wrong result (caught).
    pub caught: bool,
    /// The slash, when caught.
    pub slash: Option<SlashOutcome>,
}

/// Why a job could not run.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// Assignment failed.
    #[error(transparent)]
    Assign(#[from] crate::assign::AssignError),
    /// The ledger refused.
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    /// The mode cannot be served.
    #[error(transparent)]
    Quote(#[from] crate::guarantee::QuoteError),
    /// The referee could not prepare the job.
    #[error("runtime: {0}")]
    Runtime(String),
}

/// The driver.
pub struct Network<'r> {
    /// The ledger (public so callers can inspect balances, stakes and check invariants).
    pub ledger: Ledger,
    runtime: &'r Runtime,
    params: NetworkParams,
    participants: Vec<Box<dyn Participant + 'r>>,
}

fn ledger_address(a: Address) -> ogn_ledger::Address {
    ogn_ledger::Address(a.0.0)
}

impl<'r> Network<'r> {
    /// A network over `ledger`, refereed with `runtime`.
    pub fn new(ledger: Ledger, runtime: &'r Runtime, params: NetworkParams) -> Self {
        Self { ledger, runtime, params, participants: Vec::new() }
    }

    /// Adds a participant (it must already be a bonded operator in the ledger to be assigned work).
    pub fn join(&mut self, p: Box<dyn Participant + 'r>) {
        self.participants.push(p);
    }

    /// Current height.
    pub fn height(&self) -> u64 {
        self.ledger.height()
    }

    /// Moves to height `to` (block boundaries: windows close, locks release).
    pub fn advance_to(&mut self, to: u64) -> Result<(), LedgerError> {
        if to > self.ledger.height() {
            self.ledger.end_block();
            self.ledger.begin_block(to)?;
        }
        Ok(())
    }

    fn index_of(&self, a: Address) -> usize {
        self.participants
            .iter()
            .position(|p| p.address() == a)
            .expect("assigned participants exist")
    }

    fn candidates(&self) -> Vec<Candidate> {
        self.participants
            .iter()
            .filter_map(|p| {
                let s = self.ledger.get_staker(ledger_address(p.address()))?;
                (s.role == Role::Operator).then(|| Candidate {
                    address: p.address(),
                    free_bond: s.free_bond(),
                    jailed: !s.is_active(),
                    serves_model: true,
                })
            })
            .collect()
    }

    /// The quote for a job.
    pub fn quote(&self, mode: Mode, value: u128) -> Result<Guarantee, NetworkError> {
        let bond = self.ledger.job_lock_for(value)?;
        Ok(quote(mode, value, bond, &self.params.guarantee)?)
    }

    /// Runs `job` to its settlement. `beacon` is randomness drawn after the job was committed; `draw` a
    /// uniform number in `[0, 1e6)` for the sampling decision.
    pub fn run_job(
        &mut self,
        job: &Job,
        beacon: B256,
        draw: u64,
    ) -> Result<JobRecord, NetworkError> {
        let guarantee = self.quote(job.mode, job.value)?;
        let seed = assignment_seed(beacon, job.id);
        let executors =
            assign(&self.candidates(), guarantee.bond_locked, job.mode.executors(), seed, &[])?;
        for (i, e) in executors.iter().enumerate() {
            self.ledger.lock_job(lock_id(job.id, i), ledger_address(*e), job.value)?;
        }
        let runtime = self.runtime;
        let chain_id = self.params.chain_id;
        let mut claims: Vec<Option<Claim>> = executors
            .iter()
            .map(|e| {
                let i = self.index_of(*e);
                self.participants[i]
                    .execute(job, runtime, chain_id)
                    .filter(|c| c.attestation.operator == *e && consistent(c))
            })
            .collect();
        let mut record = JobRecord {
            job: job.id,
            executors: executors.clone(),
            outputs: claims.iter().map(|c| c.as_ref().map(|c| c.attestation.output_hash)).collect(),
            verifier: None,
            disputes: Vec::new(),
            receipt: None,
        };
        let referee = RuntimeReferee::new(runtime, &job.model, &job.inputs)
            .map_err(|e| NetworkError::Runtime(e.to_string()))?;
        let genesis = genesis_state(job.model.cid(), tensors_hash(&job.inputs));
        // Which executors still stand (not proven wrong, not silent).
        let mut standing: Vec<bool> = claims.iter().map(Option::is_some).collect();
        for (i, c) in claims.iter().enumerate() {
            if c.is_none() {
                // Silent executor: its lock is slashed as a failure to deliver (no challenger).
                let out = self.ledger.prove_wrong_inference(
                    lock_id(job.id, i),
                    ledger_address(self.params.auditor),
                )?;
                record.disputes.push(DisputeRecord {
                    operator: executors[i],
                    challenger: self.params.auditor,
                    verdict: Verdict {
                        losers: vec![Side::Operator],
                        reason: "no result".into(),
                        step: None,
                        rounds: 0,
                    },
                    slashes: vec![(executors[i], out)],
                });
            }
        }
        match job.mode {
            Mode::Replicas { .. } => {
                // Everyone against the first standing executor whose claim differs.
                for i in 0..claims.len() {
                    for j in i + 1..claims.len() {
                        if !(standing[i] && standing[j]) {
                            continue;
                        }
                        let (a, b) = (
                            claims[i].as_ref().expect("standing"),
                            claims[j].as_ref().expect("standing"),
                        );
                        if a.attestation.commitment == b.attestation.commitment
                            && a.attestation.output_hash == b.attestation.output_hash
                        {
                            continue;
                        }
                        let d = self.play(
                            job,
                            &referee,
                            genesis,
                            (executors[i], lock_id(job.id, i)),
                            (executors[j], lock_id(job.id, j)),
                            a.attestation.commitment,
                            b.attestation.commitment,
                        )?;
                        standing[i] &= !d.verdict.losers.contains(&Side::Operator);
                        standing[j] &= !d.verdict.losers.contains(&Side::Challenger);
                        record.disputes.push(d);
                    }
                }
            }
            Mode::Sampling { .. } if standing[0] && draw < guarantee.sampling_ppm => {
                let operator = executors[0];
                let pick = assign(
                    &self.candidates(),
                    guarantee.bond_locked,
                    1,
                    keccak256(seed),
                    &[operator],
                );
                if let Ok(pick) = pick {
                    let v = pick[0];
                    record.verifier = Some(v);
                    self.ledger.lock_job(
                        lock_id(job.id, VERIFIER_SLOT),
                        ledger_address(v),
                        job.value,
                    )?;
                    let shown = claims[0].as_ref().expect("standing").attestation.clone();
                    let vi = self.index_of(v);
                    let answer = self.participants[vi]
                        .verify(job, runtime, chain_id, &shown)
                        .filter(|c| c.attestation.operator == v && consistent(c));
                    match answer {
                        None => {
                            let out = self.ledger.prove_wrong_inference(
                                lock_id(job.id, VERIFIER_SLOT),
                                ledger_address(self.params.auditor),
                            )?;
                            record.disputes.push(DisputeRecord {
                                operator,
                                challenger: v,
                                verdict: Verdict {
                                    losers: vec![Side::Challenger],
                                    reason: "verifier silent".into(),
                                    step: None,
                                    rounds: 0,
                                },
                                slashes: vec![(v, out)],
                            });
                        }
                        Some(mine) if mine.attestation.commitment == shown.commitment => {}
                        Some(mine) => {
                            let d = self.play(
                                job,
                                &referee,
                                genesis,
                                (operator, lock_id(job.id, 0)),
                                (v, lock_id(job.id, VERIFIER_SLOT)),
                                shown.commitment,
                                mine.attestation.commitment,
                            )?;
                            standing[0] &= !d.verdict.losers.contains(&Side::Operator);
                            let verifier_stands = !d.verdict.losers.contains(&Side::Challenger);
                            record.disputes.push(d);
                            if !standing[0] && verifier_stands {
                                // The verifier's result replaces the operator's.
                                claims.push(Some(mine));
                                standing.push(true);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        // The accepted result: the first standing executor's.
        if let Some(i) = standing.iter().position(|s| *s) {
            let c = claims[i].as_ref().expect("standing");
            let status = match job.mode {
                Mode::Replicas { .. } => Status::Accepted,
                _ => Status::Challengeable,
            };
            let mut attestations: Vec<Attestation> = (0..claims.len())
                .filter(|j| standing[*j])
                .map(|j| claims[j].as_ref().expect("standing").attestation.clone())
                .collect();
            attestations.sort_by_key(|a| a.operator != c.attestation.operator);
            let all_agree = record.disputes.is_empty();
            record.receipt = Some(Receipt {
                version: RECEIPT_VERSION,
                chain_id,
                job: job.id,
                model: *job.model.cid(),
                input_hash: tensors_hash(&job.inputs),
                output_hash: c.attestation.output_hash,
                result_id: c.attestation.result_id,
                engine_id: runtime.engine_id().to_string(),
                commitment: c.attestation.commitment,
                guarantee,
                attestations,
                status: if all_agree { status } else { Status::Disputed },
                inclusion: None,
            });
        }
        Ok(record)
    }

    #[allow(clippy::too_many_arguments)]
    fn play(
        &mut self,
        job: &Job,
        referee: &RuntimeReferee<'_>,
        genesis: B256,
        operator: (Address, u64),
        challenger: (Address, u64),
        op_commitment: LayerCommitment,
        ch_commitment: LayerCommitment,
    ) -> Result<DisputeRecord, NetworkError> {
        let mut now = self.ledger.height();
        let parties = [operator, challenger];
        let slots = [self.index_of(operator.0), self.index_of(challenger.0)];
        let mut dispute = if op_commitment == ch_commitment {
            // Equal commitments bind equal output hashes (claims are checked for consistency on arrival):
            // nothing to dispute.
            None
        } else {
            Dispute::open(
                op_commitment,
                ch_commitment,
                genesis,
                referee.layout().clone(),
                now,
                self.params.dispute,
            )
            .ok()
        };
        let runtime = self.runtime;
        if let Some(d) = dispute.as_mut() {
            while d.verdict().is_none() {
                let Some(query) = d.query() else { break };
                let mut progressed = false;
                for side in [Side::Operator, Side::Challenger] {
                    if d.verdict().is_some() || !d.awaits(side) {
                        continue;
                    }
                    if let Some(answer) =
                        self.participants[slots[side as usize]].answer(job, runtime, query)
                    {
                        progressed |= d.submit(side, answer, now, referee).is_ok();
                    }
                }
                if d.verdict().is_none()
                    && (!progressed || matches!(d.query(), Some(q) if q == query))
                {
                    now = d.deadline() + 1;
                    d.tick(now);
                }
            }
        }
        let verdict = dispute.and_then(|d| d.verdict().cloned()).unwrap_or(Verdict {
            losers: vec![],
            reason: "commitments equal".into(),
            step: None,
            rounds: 0,
        });
        self.advance_to(now)?;
        let mut slashes = Vec::new();
        for loser in &verdict.losers {
            let (who, lock) = parties[*loser as usize];
            let winner = parties[1 - *loser as usize].0;
            let paid = if verdict.losers.len() == 2 { self.params.auditor } else { winner };
            let out = self.ledger.prove_wrong_inference(lock, ledger_address(paid))?;
            slashes.push((who, out));
        }
        Ok(DisputeRecord { operator: operator.0, challenger: challenger.0, verdict, slashes })
    }

    /// A decoy task for `verifier`: it is shown a commitment known to be wrong for `job`. Approving it
    /// (returning the same commitment) is proof of not having run the job.
    pub fn run_decoy(
        &mut self,
        job: &Job,
        verifier_address: Address,
        wrong: &Attestation,
    ) -> Result<DecoyRecord, NetworkError> {
        let lock = lock_id(job.id, DECOY_SLOT);
        self.ledger.lock_job(lock, ledger_address(verifier_address), job.value)?;
        let vi = self.index_of(verifier_address);
        let answer = self.participants[vi].verify(job, self.runtime, self.params.chain_id, wrong);
        let caught = answer.as_ref().is_some_and(|c| c.attestation.commitment == wrong.commitment);
        let slash = if caught {
            Some(self.ledger.prove_wrong_inference(lock, ledger_address(self.params.auditor))?)
        } else {
            None
        };
        Ok(DecoyRecord { verifier: verifier_address, caught, slash })
    }
}

/// Whether a claim's commitment is its evidence's and its last state absorbs its output hash (a claim
/// that fails this is treated as no result).
fn consistent(claim: &Claim) -> bool {
    let c = claim.attestation.commitment;
    let tree = &claim.evidence.tree;
    if tree.commitment() != c || c.count == 0 {
        return false;
    }
    let states = tree.states();
    let before = if c.count >= 2 { states[states.len() - 2] } else { claim.evidence.genesis };
    crate::commitment::next_state(before, claim.attestation.output_hash) == states[states.len() - 1]
}

/// Lock slot of the verifier of a SAMPLING job.
pub const VERIFIER_SLOT: usize = 14;
/// Lock slot of a decoy task.
pub const DECOY_SLOT: usize = 15;

/// The ledger job id of executor slot `slot` of `job` (16 slots per job).
pub fn lock_id(job: u64, slot: usize) -> u64 {
    job * 16 + slot as u64
}
