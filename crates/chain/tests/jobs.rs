//! The jobs precompile driven by signed transactions with the real MLP fixture: an operator's job is
//! recorded (fee paid, bond locked), an honest operator's differing attestation opens a dispute, both
//! parties play the bisection game by transaction, a validator re-executes the one step, and the cheater
//! is slashed and jailed through the chain's ledger. Also: a silent party loses at the round deadline,
//! and the refusals (bad signature, a stranger's move, a non-validator's resolution).

mod common;

use alloy::{
    eips::BlockId,
    primitives::{Address, B256, Bytes, TxKind, U256},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
    sol_types::{SolCall, SolEvent},
};
use common::*;
use ogn_chain::{
    Chain, ChainConfig, IJobs, IStaking, JOBS_PRECOMPILE, STAKING_PRECOMPILE,
    jobs::{DisputeView, JobRecord, job_statement},
    ogn_ledger::{OPG, Params},
};
use ogn_runtime::{Model, Runtime, RuntimeConfig};
use ogn_types::{ModelCid, Tensor, TensorData};
use ogn_verify::{
    Execution, Query, RuntimeReferee, Side, Statement, dispute::step_witness, execute, tensors_hash,
};

fn params() -> Params {
    Params {
        challenge_window_blocks: 1_000,
        max_evidence_age_blocks: 2_000,
        unbonding_period_blocks: 2_000,
        min_self_bond_validator: 100 * OPG,
        min_self_bond_operator: 10 * OPG,
        ..Params::default()
    }
}

struct World {
    chain: Chain,
    runtime: Runtime,
    model: std::sync::Arc<Model>,
    inputs: Vec<Tensor>,
    cheater: PrivateKeySigner,
    honest: PrivateKeySigner,
    validator: PrivateKeySigner,
    payer: PrivateKeySigner,
}

fn send(
    chain: &Chain,
    from: &PrivateKeySigner,
    to: Address,
    data: Vec<u8>,
    value: U256,
) -> TransactionReceipt {
    let nonce = chain.nonce(from.address(), BlockId::pending()).unwrap();
    let tx = eip1559(nonce, TxKind::Call(to), value, data.into(), 5_000_000);
    let hash = chain.send_raw_transaction(&raw(from, tx)).unwrap();
    chain.receipt(hash).unwrap().expect("receipt")
}

fn call(chain: &Chain, from: Address, to: Address, data: Vec<u8>) -> Result<Bytes, String> {
    let request = TransactionRequest::default().from(from).to(to).input(Bytes::from(data).into());
    chain.call(&request, BlockId::latest()).map_err(|e| e.to_string())
}

fn world() -> World {
    world_of("mlp", vec![1, 784])
}

fn world_of(stem: &str, shape: Vec<usize>) -> World {
    let chain = Chain::open(ChainConfig { staking: params(), ..config(None) }, None).unwrap();
    let (cheater, honest, validator, payer) = (signer(1), signer(2), signer(3), signer(4));
    for s in [&cheater, &honest] {
        let c = IStaking::createOperatorCall { commissionPpm: 50_000 };
        let r = send(&chain, s, STAKING_PRECOMPILE, c.abi_encode(), U256::from(100 * OPG));
        assert!(r.status());
    }
    let c = IStaking::createValidatorCall { commissionPpm: 50_000 };
    assert!(
        send(&chain, &validator, STAKING_PRECOMPILE, c.abi_encode(), U256::from(100 * OPG))
            .status()
    );

    let path = format!("{}/../../fixtures/models/{stem}.onnx", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(path).expect("fixtures: run scripts/fetch-fixtures");
    let runtime = Runtime::new(RuntimeConfig::default());
    let model = runtime.load(&ModelCid::for_bytes(&bytes), &bytes).unwrap();
    let info = model.info().inputs[0].clone();
    let n: usize = shape.iter().product();
    let x: Vec<f32> = (0..n).map(|i| (i % 17) as f32 / 17.0).collect();
    let inputs = vec![Tensor::new(&info.name, shape, TensorData::F32(x)).unwrap()];
    World { chain, runtime, model, inputs, cheater, honest, validator, payer }
}

/// A run whose first output element is off by one unit in the last place, committed consistently.
fn cheat(w: &World, honest: &Execution) -> Execution {
    let mut outputs = honest.outputs.clone();
    if let TensorData::F32(v) = &mut outputs[0].data {
        v[0] = f32::from_bits(v[0].to_bits() ^ 1);
    }
    let output_hash = tensors_hash(&outputs);
    let evidence = Execution::evidence_for(
        &w.model,
        honest.input_hash,
        honest.evidence.layout.clone(),
        honest.evidence.leaves.clone(),
        output_hash,
    )
    .unwrap();
    Execution {
        result_id: ogn_types::canonical::result_id(
            w.model.cid(),
            &w.inputs,
            &outputs,
            &honest.engine_id,
        ),
        outputs,
        output_hash,
        evidence,
        ..honest.clone()
    }
}

fn statement(w: &World, exec: &Execution, job: u64) -> Statement {
    exec.statement(w.chain.chain_id(), job, &w.model)
}

fn record(w: &World, exec: &Execution, by: &PrivateKeySigner, job: u64) -> TransactionReceipt {
    let s = statement(w, exec, job);
    let c = IJobs::recordJobCall {
        statement: job_statement(&s),
        signature: s.sign(by).signature,
        mode: 3,
        value: U256::from(10 * OPG),
        layout: layout(w),
    };
    send(&w.chain, &w.payer, JOBS_PRECOMPILE, c.abi_encode(), U256::from(OPG))
}

/// The job's cut layout as `recordJob` carries it.
fn layout(w: &World) -> alloy::primitives::Bytes {
    let layout = w.runtime.cut_layout(&w.model, &w.inputs).unwrap();
    serde_json::to_vec(&layout).unwrap().into()
}

fn attest(w: &World, exec: &Execution, by: &PrivateKeySigner, job: u64) -> TransactionReceipt {
    let s = statement(w, exec, job);
    let c = IJobs::attestCall { statement: job_statement(&s), signature: s.sign(by).signature };
    send(&w.chain, by, JOBS_PRECOMPILE, c.abi_encode(), U256::ZERO)
}

fn dispute(w: &World, id: u64) -> DisputeView {
    let out = call(
        &w.chain,
        Address::ZERO,
        JOBS_PRECOMPILE,
        IJobs::disputeCall { dispute: id }.abi_encode(),
    )
    .unwrap();
    serde_json::from_slice(&IJobs::disputeCall::abi_decode_returns(&out).unwrap()).unwrap()
}

fn open_disputes(w: &World) -> Vec<u64> {
    let out =
        call(&w.chain, Address::ZERO, JOBS_PRECOMPILE, IJobs::openDisputesCall {}.abi_encode())
            .unwrap();
    IJobs::openDisputesCall::abi_decode_returns(&out).unwrap()
}

fn job(w: &World, id: u64) -> JobRecord {
    let out =
        call(&w.chain, Address::ZERO, JOBS_PRECOMPILE, IJobs::jobCall { job: id }.abi_encode())
            .unwrap();
    serde_json::from_slice(&IJobs::jobCall::abi_decode_returns(&out).unwrap()).unwrap()
}

fn staker(w: &World, a: Address) -> IStaking::stakerInfoReturn {
    let out = call(
        &w.chain,
        Address::ZERO,
        STAKING_PRECOMPILE,
        IStaking::stakerInfoCall { staker: a }.abi_encode(),
    )
    .unwrap();
    IStaking::stakerInfoCall::abi_decode_returns(&out).unwrap()
}

fn answer_tx(
    w: &World,
    by: &PrivateKeySigner,
    id: u64,
    answer: &ogn_verify::Answer,
) -> TransactionReceipt {
    let c = IJobs::answerCall { dispute: id, answer: serde_json::to_vec(answer).unwrap().into() };
    send(&w.chain, by, JOBS_PRECOMPILE, c.abi_encode(), U256::ZERO)
}

/// Plays dispute `id` to its end: each party answers from its own run while `silent` does not.
fn play(
    w: &World,
    id: u64,
    parties: [(&PrivateKeySigner, &Execution); 2],
    silent: Option<Side>,
) -> DisputeView {
    let mut step_offered = false;
    for _ in 0..200 {
        let view = dispute(w, id);
        if view.record.verdict.is_some() {
            return view;
        }
        let step_query = matches!(view.query, Some(Query::Step { .. }));
        if view.record.pending_step.is_some() || step_query && step_offered {
            let Some(Query::Step { index }) = view.query else {
                panic!("pending step without a step query")
            };
            // The parties' witness, or (when it did not fit a transaction) the validator's own.
            let referee = RuntimeReferee::new(&w.runtime, &w.model, &w.inputs).unwrap();
            let steps = referee.layout().steps as usize;
            let witness = match view.record.pending_step.clone() {
                Some(proof) => proof.witness,
                None => step_witness(&w.runtime, &w.model, &w.inputs, steps, index).unwrap(),
            };
            let leaf = ogn_verify::Referee::leaf(&referee, index, &witness).unwrap();
            // A slow validator does not make the party that answered in time lose: no tick while the step
            // waits, and the resolution counts as of the proof's arrival.
            w.chain.increase_time(super_timeout()).unwrap();
            let tick = IJobs::tickCall { dispute: id };
            assert!(
                !send(&w.chain, &w.payer, JOBS_PRECOMPILE, tick.abi_encode(), U256::ZERO).status()
            );
            let c = IJobs::resolveStepCall { dispute: id, leaf };
            // Only an active validator decides.
            let refused = send(&w.chain, &w.payer, JOBS_PRECOMPILE, c.abi_encode(), U256::ZERO);
            assert!(!refused.status());
            assert!(
                send(&w.chain, &w.validator, JOBS_PRECOMPILE, c.abi_encode(), U256::ZERO).status()
            );
            continue;
        }
        let query = view.query.unwrap();
        step_offered |= step_query;
        let mut moved = false;
        for (side, (who, exec)) in [Side::Operator, Side::Challenger].into_iter().zip(parties) {
            let owes = match side {
                Side::Operator => view.awaits_operator,
                Side::Challenger => view.awaits_challenger,
            };
            if !owes || silent == Some(side) || moved && matches!(query, Query::Step { .. }) {
                continue;
            }
            let mut evidence = exec.evidence.clone();
            if !evidence.is_complete() {
                // The leaves between cuts, as a party computes them when a dispute opens.
                evidence.complete(&w.runtime.run_traced(&w.model, &w.inputs).unwrap().leaves);
            }
            let steps = evidence.leaves.len();
            let answer = evidence
                .answer(query, |i| step_witness(&w.runtime, &w.model, &w.inputs, steps, i))
                .unwrap();
            if step_query && serde_json::to_vec(&answer).unwrap().len() > MAX_ANSWER_BYTES {
                // Inputs too large for a transaction: the validator derives them itself.
                continue;
            }
            let r = answer_tx(w, who, id, &answer);
            assert!(r.status(), "{side:?} answer to {query:?} refused");
            moved = true;
        }
        if !moved && !step_query {
            w.chain.increase_time(super_timeout()).unwrap();
            let c = IJobs::tickCall { dispute: id };
            assert!(send(&w.chain, &w.payer, JOBS_PRECOMPILE, c.abi_encode(), U256::ZERO).status());
        }
    }
    panic!("dispute {id} did not end")
}

/// Largest answer the parties post (a transaction holds at most 128 KiB).
const MAX_ANSWER_BYTES: usize = 100 * 1024;

fn super_timeout() -> u64 {
    ogn_chain::jobs::ROUND_TIMEOUT_SECS + 1
}

#[test]
fn a_cheating_operator_is_caught_by_bisection_and_slashed_on_chain() {
    let w = world();
    let honest = execute(&w.runtime, &w.model, &w.inputs).unwrap();
    let wrong = cheat(&w, &honest);
    let job_id = 7;

    // A forged signature does not record a job.
    let s = statement(&w, &wrong, job_id);
    let forged = IJobs::recordJobCall {
        statement: job_statement(&s),
        signature: s.sign(&w.payer).signature,
        mode: 3,
        value: U256::from(10 * OPG),
        layout: layout(&w),
    };
    let err = call(&w.chain, w.payer.address(), JOBS_PRECOMPILE, forged.abi_encode()).unwrap_err();
    assert!(err.contains("not an active operator"), "{err}");

    let r = record(&w, &wrong, &w.cheater, job_id);
    assert!(r.status());
    let j = job(&w, job_id);
    assert_eq!(j.executors[0].address, w.cheater.address());
    assert_eq!(j.executors[0].bond, 10 * OPG);
    let free = IJobs::freeBondCall { operator: w.cheater.address() }.abi_encode();
    let free = call(&w.chain, Address::ZERO, JOBS_PRECOMPILE, free).unwrap();
    assert_eq!(IJobs::freeBondCall::abi_decode_returns(&free).unwrap(), U256::from(90 * OPG));
    assert_eq!(j.fee, OPG);
    // Recording twice is refused.
    assert!(!record(&w, &wrong, &w.cheater, job_id).status());

    let r = attest(&w, &honest, &w.honest, job_id);
    assert!(r.status());
    let attested = r
        .inner
        .logs()
        .iter()
        .find_map(|l| IJobs::Attested::decode_log_data(l.data()).ok())
        .unwrap();
    assert!(!attested.agrees);
    let id = job(&w, job_id).executors[1].lock;
    assert_eq!(open_disputes(&w), vec![id]);

    // A stranger cannot move.
    let view = dispute(&w, id);
    let any = honest.evidence.answer(view.query.unwrap(), |_| None).unwrap();
    assert!(!answer_tx(&w, &w.payer, id, &any).status());

    let before = w.chain.balance(w.honest.address(), BlockId::latest()).unwrap();
    let end = play(&w, id, [(&w.cheater, &wrong), (&w.honest, &honest)], None);
    let verdict = end.record.verdict.unwrap();
    assert_eq!(verdict.losers, vec![Side::Operator], "{}", verdict.reason);
    assert_eq!(
        verdict.step,
        Some(u64::from(j.layout.steps)),
        "the wrong output is the output state"
    );

    let cheater = staker(&w, w.cheater.address());
    assert!(cheater.jailed);
    // Slashed by max(10 % of its 100 OPG, what covers the 10 OPG lock) = 10 OPG.
    assert_eq!(cheater.tokens, U256::from(90 * OPG));
    let honest_info = staker(&w, w.honest.address());
    assert!(!honest_info.jailed);
    assert_eq!(honest_info.tokens, U256::from(100 * OPG));
    let j = job(&w, job_id);
    assert_eq!(j.executors[0].slashed, Some(10 * OPG));
    assert_eq!(j.executors[1].slashed, None);
    // The challenger received half of the slash (the ledger's challenger_reward_ppm), less its gas.
    let after = w.chain.balance(w.honest.address(), BlockId::latest()).unwrap();
    assert!(after > before + U256::from(4 * OPG), "{before} → {after}");
    assert!(open_disputes(&w).is_empty());
}

/// On a model whose commitment has cuts (PP-OCR cls: 7), a wrong value at a cut is found by descending to
/// that cut, revealing its segment and re-executing the one step that produced it.
#[test]
fn a_wrong_value_at_a_cut_is_traced_to_its_step_on_chain() {
    let w = world_of("ch_ppocr_mobile_v2.0_cls_infer", vec![1, 3, 48, 192]);
    let honest = execute(&w.runtime, &w.model, &w.inputs).unwrap();
    let layout = honest.evidence.layout.clone();
    assert!(layout.cuts.len() >= 3, "{layout:?}");
    // The cheater claims a different value for a step live at the third cut (inside its segment).
    let cut = &layout.cuts[2];
    let step = *cut.live.iter().rev().find(|s| **s > layout.cuts[1].after).expect("a live step");
    let trace = w.runtime.run_traced(&w.model, &w.inputs).unwrap();
    let mut leaves: Vec<Option<B256>> = trace.leaves.iter().map(|l| Some(B256::from(*l))).collect();
    leaves[step as usize] = Some(B256::repeat_byte(0x42));
    let evidence = Execution::evidence_for(
        &w.model,
        honest.input_hash,
        layout.clone(),
        leaves,
        honest.output_hash,
    )
    .unwrap();
    let wrong = Execution { evidence, ..honest.clone() };
    assert_ne!(wrong.commitment(), honest.commitment());

    assert!(record(&w, &wrong, &w.cheater, 21).status());
    assert!(attest(&w, &honest, &w.honest, 21).status());
    let id = job(&w, 21).executors[1].lock;
    let end = play(&w, id, [(&w.cheater, &wrong), (&w.honest, &honest)], None);
    let verdict = end.record.verdict.unwrap();
    assert_eq!(verdict.losers, vec![Side::Operator], "{}", verdict.reason);
    assert_eq!(verdict.step, Some(u64::from(step)), "the step whose value was changed");
    assert!(verdict.rounds >= 4, "descend, bisect, segment, step: {} rounds", verdict.rounds);
    assert!(staker(&w, w.cheater.address()).jailed);
    assert!(!staker(&w, w.honest.address()).jailed);
}

#[test]
fn an_honest_operator_wins_and_a_silent_challenger_loses() {
    let w = world();
    let honest = execute(&w.runtime, &w.model, &w.inputs).unwrap();
    let wrong = cheat(&w, &honest);

    // The honest operator's job, challenged by the cheater with a wrong run: the challenger loses.
    assert!(record(&w, &honest, &w.honest, 1).status());
    assert!(attest(&w, &wrong, &w.cheater, 1).status());
    let id = job(&w, 1).executors[1].lock;
    let end = play(&w, id, [(&w.honest, &honest), (&w.cheater, &wrong)], None);
    assert_eq!(end.record.verdict.unwrap().losers, vec![Side::Challenger]);
    assert_eq!(staker(&w, w.honest.address()).tokens, U256::from(100 * OPG));
    assert!(staker(&w, w.cheater.address()).jailed);

    // A fresh pair: the validator-less refusal aside, a silent challenger loses at the deadline.
    let w = world();
    assert!(record(&w, &honest, &w.honest, 2).status());
    let r = attest(&w, &wrong, &w.cheater, 2);
    assert!(r.status());
    let id = job(&w, 2).executors[1].lock;
    // Ticking before the deadline is refused.
    let tick = IJobs::tickCall { dispute: id };
    assert!(!send(&w.chain, &w.payer, JOBS_PRECOMPILE, tick.abi_encode(), U256::ZERO).status());
    let end = play(&w, id, [(&w.honest, &honest), (&w.cheater, &wrong)], Some(Side::Challenger));
    let verdict = end.record.verdict.unwrap();
    assert_eq!(verdict.losers, vec![Side::Challenger]);
    assert!(verdict.reason.contains("deadline"), "{}", verdict.reason);
    assert!(staker(&w, w.cheater.address()).jailed);
    assert!(!staker(&w, w.honest.address()).jailed);
}

#[test]
fn agreeing_replicas_open_no_dispute() {
    let w = world();
    let honest = execute(&w.runtime, &w.model, &w.inputs).unwrap();
    assert!(record(&w, &honest, &w.honest, 3).status());
    let r = attest(&w, &honest, &w.cheater, 3);
    assert!(r.status());
    let j = job(&w, 3);
    assert!(j.executors[1].agrees);
    // The same operator cannot attest twice.
    assert!(!attest(&w, &honest, &w.cheater, 3).status());
    assert!(open_disputes(&w).is_empty());
}

#[test]
fn a_sampling_verifier_cannot_copy_a_sealed_result_and_a_lazy_one_is_slashed() {
    let w = world();
    let honest = execute(&w.runtime, &w.model, &w.inputs).unwrap();
    let job_id = 11;
    let s = statement(&w, &honest, job_id);
    let salt = B256::repeat_byte(0x5a);
    let sealed = IJobs::recordSealedJobCall {
        job: job_id,
        model: s.model.to_string(),
        inputHash: s.input_hash,
        operator: w.honest.address(),
        seal: ogn_chain::jobs::seal_of(&s, salt),
        mode: 3,
        value: U256::from(10 * OPG),
        layout: layout(&w),
    };
    let r = send(&w.chain, &w.payer, JOBS_PRECOMPILE, sealed.abi_encode(), U256::from(OPG));
    assert!(r.status());
    // Before the reveal the chain shows nothing of the operator's result.
    let j = job(&w, job_id);
    assert!(j.seal.is_some());
    assert_eq!(j.executors[0].output_hash, B256::ZERO);
    assert_eq!(j.executors[0].commitment.count, 0);

    // A lazy verifier signs what it can see instead of running the job.
    let copied = Statement {
        output_hash: j.executors[0].output_hash,
        result_id: j.executors[0].result_id,
        commitment: j.executors[0].commitment,
        ..s.clone()
    };
    let c = IJobs::attestCall {
        statement: job_statement(&copied),
        signature: copied.sign(&w.cheater).signature,
    };
    assert!(send(&w.chain, &w.cheater, JOBS_PRECOMPILE, c.abi_encode(), U256::ZERO).status());

    // Only the payer reveals, and only with the right salt.
    let reveal = |salt| IJobs::revealCall {
        statement: job_statement(&s),
        signature: s.sign(&w.honest).signature,
        salt,
    };
    let wrong = reveal(B256::repeat_byte(1)).abi_encode();
    assert!(!send(&w.chain, &w.payer, JOBS_PRECOMPILE, wrong, U256::ZERO).status());
    assert!(
        !send(&w.chain, &w.cheater, JOBS_PRECOMPILE, reveal(salt).abi_encode(), U256::ZERO)
            .status()
    );
    assert!(
        send(&w.chain, &w.payer, JOBS_PRECOMPILE, reveal(salt).abi_encode(), U256::ZERO).status()
    );

    // The reveal compares: the lazy verifier's statement differs, its dispute is decided at once (its
    // commitment does not even count the layout's states) and it is slashed and jailed.
    let j = job(&w, job_id);
    assert!(j.seal.is_none());
    assert_eq!(j.executors[0].output_hash, honest.output_hash);
    assert!(!j.executors[1].agrees);
    let view = dispute(&w, j.executors[1].lock);
    assert_eq!(view.record.verdict.unwrap().losers, vec![Side::Challenger]);
    assert!(staker(&w, w.cheater.address()).jailed);
    assert!(!staker(&w, w.honest.address()).jailed);
    assert_eq!(job(&w, job_id).executors[1].slashed, Some(10 * OPG));
}
