//! Adversarial protocol tests with the real runtime (MLP 784-128-10 fixture) and the real ledger, under
//! commonware's deterministic runner with fixed seeds: a failure replays exactly from its seed.
//!
//! Participants: honest operators; operators that return random outputs, slightly perturbed outputs, or
//! correct outputs with a wrong layer commitment; one that cheats and then goes silent in the dispute;
//! lazy verifiers that approve what they are shown; colluders that copy each other's wrong results.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use alloy::primitives::{Address, B256};
use alloy::signers::local::PrivateKeySigner;
use commonware_runtime::{Runner as _, deterministic};
use ogn_ledger::{Ledger, OPG, Params, Role};
use ogn_runtime::{Runtime, RuntimeConfig};
use ogn_types::{ModelCid, Tensor, TensorData, canonical};
use ogn_verify::dispute::{Answer, Query, RunEvidence, step_witness};
use ogn_verify::network::{Claim, Job, Network, NetworkParams, Participant};
use ogn_verify::{
    Attestation, DisputeParams, Execution, GuaranteeParams, Mode, execute, tensors_hash,
};
use rand_core::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behavior {
    Honest,
    /// Random leaves and output.
    Random,
    /// The true run with one output element moved by one unit in the last place.
    Perturb,
    /// The true output with a wrong leaf in the middle.
    WrongCommitment,
    /// Random results, then silence in disputes.
    SilentInDispute,
    /// Executes honestly; as a verifier approves what it is shown without running.
    LazyVerifier,
    /// Perturbs, and copies a fellow colluder's result or approves it as verifier.
    Colluder,
}

struct Actor {
    signer: PrivateKeySigner,
    behavior: Behavior,
    cheat_ppm: u64,
    rng: u64,
    runs: HashMap<u64, (RunEvidence, bool)>,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Actor {
    fn random_b256(&mut self) -> B256 {
        let mut b = [0u8; 32];
        for chunk in b.chunks_mut(8) {
            chunk.copy_from_slice(&splitmix(&mut self.rng).to_le_bytes());
        }
        B256::from(b)
    }

    fn claim(
        &self,
        job: &Job,
        exec: &Execution,
        leaves: Vec<Option<B256>>,
        outputs: &[Tensor],
    ) -> Claim {
        let output_hash = tensors_hash(outputs);
        let layout = exec.evidence.layout.clone();
        let evidence =
            Execution::evidence_for(&job.model, exec.input_hash, layout, leaves, output_hash)
                .expect("leaves fit the layout");
        let statement = ogn_verify::Statement {
            output_hash,
            result_id: canonical::result_id(job.model.cid(), &job.inputs, outputs, &exec.engine_id),
            commitment: evidence.tree.commitment(),
            ..exec.statement(CHAIN_ID, job.id, &job.model)
        };
        Claim { attestation: statement.sign(&self.signer), evidence }
    }
}

/// Every step's leaf, from a full trace.
fn full_leaves(runtime: &Runtime, job: &Job) -> Vec<Option<B256>> {
    let trace = runtime.run_traced(&job.model, &job.inputs).expect("fixture runs");
    trace.leaves.iter().map(|l| Some(B256::from(*l))).collect()
}

fn perturbed(outputs: &[Tensor]) -> Vec<Tensor> {
    let mut out = outputs.to_vec();
    if let TensorData::F32(v) = &mut out[0].data {
        v[0] = f32::from_bits(v[0].to_bits() ^ 1);
    }
    out
}

impl Participant for Actor {
    fn address(&self) -> Address {
        self.signer.address()
    }

    fn execute(&mut self, job: &Job, runtime: &Runtime, _chain_id: u64) -> Option<Claim> {
        let exec = execute(runtime, &job.model, &job.inputs).expect("fixture runs");
        let cheat = splitmix(&mut self.rng) % 1_000_000 < self.cheat_ppm;
        let leaves = exec.evidence.leaves.clone();
        let claim = match self.behavior {
            Behavior::Random | Behavior::SilentInDispute if cheat => {
                let n = leaves.len();
                let fake: Vec<Option<B256>> = (0..n).map(|_| Some(self.random_b256())).collect();
                let mut outputs = exec.outputs.clone();
                if let TensorData::F32(v) = &mut outputs[0].data {
                    v.iter_mut().for_each(|x| *x = (splitmix(&mut self.rng) % 1000) as f32);
                }
                self.claim(job, &exec, fake, &outputs)
            }
            Behavior::Perturb if cheat => self.claim(job, &exec, leaves, &perturbed(&exec.outputs)),
            // Colluders agree on one wrong result (the same deterministic perturbation), as if they shared it.
            Behavior::Colluder => self.claim(job, &exec, leaves, &perturbed(&exec.outputs)),
            Behavior::WrongCommitment if cheat => {
                // A wrong leaf among the ones the commitment binds (without cuts: any step, which
                // leaves the commitment as it was and is no cheat).
                let mut fake = full_leaves(runtime, job);
                let hashed: Vec<usize> = (0..fake.len()).filter(|s| leaves[*s].is_some()).collect();
                let pick = splitmix(&mut self.rng) as usize;
                let k =
                    if hashed.is_empty() { pick % fake.len() } else { hashed[pick % hashed.len()] };
                fake[k] = Some(self.random_b256());
                self.claim(job, &exec, fake, &exec.outputs)
            }
            _ => self.claim(job, &exec, leaves, &exec.outputs),
        };
        let honest = claim.attestation.output_hash == exec.output_hash
            && claim.attestation.commitment == exec.commitment();
        self.runs.insert(job.id, (claim.evidence.clone(), honest));
        Some(claim)
    }

    fn verify(
        &mut self,
        job: &Job,
        runtime: &Runtime,
        _chain_id: u64,
        shown: &Attestation,
    ) -> Option<Claim> {
        let exec = execute(runtime, &job.model, &job.inputs).expect("fixture runs");
        match self.behavior {
            Behavior::LazyVerifier | Behavior::Colluder => {
                // Approves what it is shown: signs the shown result as its own. (It ran the model above only
                // to build evidence objects; its answer ignores what the run said.)
                let output_hash = shown.output_hash;
                let leaves = exec.evidence.leaves.clone();
                let layout = exec.evidence.layout.clone();
                let evidence = Execution::evidence_for(
                    &job.model,
                    exec.input_hash,
                    layout,
                    leaves,
                    output_hash,
                )
                .expect("leaves fit the layout");
                let statement = ogn_verify::Statement {
                    output_hash,
                    result_id: shown.result_id,
                    commitment: shown.commitment,
                    ..exec.statement(CHAIN_ID, job.id, &job.model)
                };
                Some(Claim { attestation: statement.sign(&self.signer), evidence })
            }
            _ => {
                let claim = self.claim(job, &exec, exec.evidence.leaves.clone(), &exec.outputs);
                self.runs.insert(job.id, (claim.evidence.clone(), true));
                Some(claim)
            }
        }
    }

    fn answer(&mut self, job: &Job, runtime: &Runtime, query: Query) -> Option<Answer> {
        if self.behavior == Behavior::SilentInDispute {
            return None;
        }
        let (evidence, _) = self.runs.get_mut(&job.id)?;
        if matches!(query, Query::Segment { .. }) && !evidence.is_complete() {
            // Leaves not hashed while running: computed now, as an operator does when a dispute opens.
            evidence.complete(&runtime.run_traced(&job.model, &job.inputs).ok()?.leaves);
        }
        let steps = evidence.leaves.len();
        evidence.answer(query, |index| step_witness(runtime, &job.model, &job.inputs, steps, index))
    }
}

const CHAIN_ID: u64 = 4242;

fn params() -> Params {
    Params {
        blocks_per_day: 20,
        blocks_per_year: 20 * 365,
        unbonding_period_blocks: 2_000,
        min_self_bond_operator: 10 * OPG,
        slash_wrong_inference_ppm: 10_000,
        // Bond 25× the job's value: the quoted sampling probability is then the 5 % floor.
        job_bond_ppm: 25_000_000,
        challenger_reward_ppm: 500_000,
        jail_wrong_inference_blocks: 1,
        challenge_window_blocks: 6,
        max_evidence_age_blocks: 1_000,
        ..Params::default()
    }
}

struct World {
    runtime: Runtime,
    model: Arc<ogn_runtime::Model>,
    input_name: String,
    input_shape: Vec<usize>,
}

/// The MLP 784-128-10 (5 steps: no cuts, its commitment is the output state alone).
fn world() -> World {
    world_of("mlp", vec![1, 784])
}

/// The PP-OCR classifier (233 steps, 7 cuts: disputes descend, bisect and reveal segments).
fn world_with_cuts() -> World {
    world_of("ch_ppocr_mobile_v2.0_cls_infer", vec![1, 3, 48, 192])
}

fn world_of(stem: &str, input_shape: Vec<usize>) -> World {
    let path = format!("{}/../../fixtures/models/{stem}.onnx", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(path).expect("fixtures: run scripts/fetch-fixtures");
    let runtime = Runtime::new(RuntimeConfig::default());
    let model = runtime.load(&ModelCid::for_bytes(&bytes), &bytes).unwrap();
    let input_name = model.info().inputs[0].name.clone();
    World { runtime, model, input_name, input_shape }
}

const AUDITOR: Address = Address::repeat_byte(0xad);
const REQUESTER: Address = Address::repeat_byte(0xee);

fn network<'r>(
    w: &'r World,
    actors: &[(Behavior, u64, u128)],
    seed: u64,
) -> (Network<'r>, Vec<(Address, Behavior)>) {
    let signers: Vec<PrivateKeySigner> = (0..actors.len())
        .map(|i| PrivateKeySigner::from_bytes(&B256::repeat_byte(i as u8 + 1)).unwrap())
        .collect();
    let mut balances: Vec<(ogn_ledger::Address, u128)> = signers
        .iter()
        .zip(actors)
        .map(|(s, a)| (ogn_ledger::Address(s.address().0.0), a.2 + OPG))
        .collect();
    balances.push((ogn_ledger::Address(AUDITOR.0.0), OPG));
    balances.push((ogn_ledger::Address(REQUESTER.0.0), 1_000_000 * OPG));
    let mut ledger = Ledger::new(params(), balances).unwrap();
    ledger.begin_block(1).unwrap();
    let mut who = Vec::new();
    for (s, a) in signers.iter().zip(actors) {
        ledger
            .create_staker(ogn_ledger::Address(s.address().0.0), Role::Operator, a.2, 50_000)
            .unwrap();
        who.push((s.address(), a.0));
    }
    let mut net = Network::new(
        ledger,
        &w.runtime,
        NetworkParams {
            chain_id: CHAIN_ID,
            dispute: DisputeParams { round_timeout: 2 },
            guarantee: GuaranteeParams::default(),
            auditor: AUDITOR,
        },
    );
    for (i, (s, a)) in signers.into_iter().zip(actors).enumerate() {
        net.join(Box::new(Actor {
            signer: s,
            behavior: a.0,
            cheat_ppm: a.1,
            rng: seed ^ (i as u64 * 0x1234_5678),
            runs: HashMap::new(),
        }));
    }
    (net, who)
}

fn job(w: &World, id: u64, mode: Mode, rng: &mut impl Rng) -> Job {
    let n: usize = w.input_shape.iter().product();
    let x: Vec<f32> = (0..n).map(|_| (rng.next_u64() % 256) as f32 / 255.0).collect();
    let input = Tensor::new(&w.input_name, w.input_shape.clone(), TensorData::F32(x)).unwrap();
    Job { id, model: w.model.clone(), inputs: vec![input], mode, value: OPG, requester: REQUESTER }
}

/// Moves two blocks on and unjails every participant whose term is over (cheaters come back for more).
fn next_block(net: &mut Network<'_>, who: &[(Address, Behavior)]) {
    let h = net.height() + 2;
    net.advance_to(h).unwrap();
    for (a, _) in who {
        let _ = net.ledger.unjail(ogn_ledger::Address(a.0.0));
    }
}

struct Tally {
    wrong: u64,
    wrong_with_honest: u64,
    caught_with_honest: u64,
    honest_slashed: u64,
    slashes: u64,
    /// Verdicts that re-executed one runtime step (rather than the output state).
    steps_reexecuted: u64,
}

/// Every slash paid the challenger exactly its share and burned the rest; returns how many.
fn check_slash_amounts(record: &ogn_verify::network::JobRecord, p: &Params) -> u64 {
    let mut n = 0;
    for d in &record.disputes {
        for (_, out) in &d.slashes {
            let total = out.total();
            assert_eq!(out.to_challenger, total * u128::from(p.challenger_reward_ppm) / 1_000_000);
            assert_eq!(out.burned, total - out.to_challenger);
            assert!(out.fraction_ppm >= p.slash_wrong_inference_ppm);
            n += 1;
        }
    }
    n
}

fn run_mixed(w: World, seed: u64, jobs: u64) -> Tally {
    deterministic::Runner::seeded(seed).start(|mut ctx| async move {
        let big = 1_000_000 * OPG;
        let actors = [
            (Behavior::Honest, 0, big),
            (Behavior::Honest, 0, big),
            (Behavior::Honest, 0, big),
            (Behavior::Random, 1_000_000, big),
            (Behavior::Perturb, 500_000, big),
            (Behavior::WrongCommitment, 500_000, big),
            (Behavior::SilentInDispute, 1_000_000, big),
        ];
        let (mut net, who) = network(&w, &actors, seed);
        let steps = w.runtime.step_count(&w.model, &job(&w, 0, Mode::Vanilla, &mut ctx).inputs).unwrap() as u64;
        let honest: BTreeSet<Address> =
            who.iter().filter(|(_, b)| *b == Behavior::Honest).map(|(a, _)| *a).collect();
        let mut t = Tally { wrong: 0, wrong_with_honest: 0, caught_with_honest: 0, honest_slashed: 0, slashes: 0, steps_reexecuted: 0 };
        for id in 1..=jobs {
            let mode = if id % 2 == 0 { Mode::Replicas { k: 3 } } else { Mode::Sampling { floor_ppm: 50_000 } };
            let job = job(&w, id, mode, &mut ctx);
            let truth = execute(&w.runtime, &w.model, &job.inputs).unwrap();
            let beacon = B256::from(ogn_verify::assign::assignment_seed(word(ctx.next_u64()), id));
            let draw = ctx.next_u64() % 1_000_000;
            let record = net.run_job(&job, beacon, draw).expect("job runs");
            t.slashes += check_slash_amounts(&record, net.ledger.params());
            for d in &record.disputes {
                t.steps_reexecuted += u64::from(d.verdict.step.is_some_and(|s| s < steps));
                for (a, _) in &d.slashes {
                    if honest.contains(a) {
                        t.honest_slashed += 1;
                    }
                }
            }
            let wrong = record.outputs.iter().any(|o| *o != Some(truth.output_hash));
            let honest_present = record.executors.iter().chain(record.verifier.iter()).any(|a| honest.contains(a));
            if wrong {
                t.wrong += 1;
                if honest_present && (matches!(mode, Mode::Replicas { .. }) || record.verifier.is_some()) {
                    t.wrong_with_honest += 1;
                    let receipt = record.receipt.as_ref();
                    let upheld_truth = receipt.is_some_and(|r| r.output_hash == truth.output_hash);
                    let cheaters_lost = record
                        .executors
                        .iter()
                        .zip(&record.outputs)
                        .filter(|(_, o)| **o != Some(truth.output_hash))
                        .all(|(a, _)| record.disputes.iter().any(|d| d.slashes.iter().any(|(s, _)| s == a)));
                    if upheld_truth && cheaters_lost {
                        t.caught_with_honest += 1;
                    } else if std::env::var("OGN_DEBUG").is_ok() {
                        let names: Vec<_> = record.executors.iter().map(|a| who.iter().find(|w| w.0 == *a).unwrap().1).collect();
                        let verifier = record.verifier.map(|v| who.iter().find(|w| w.0 == v).unwrap().1);
                        let ok: Vec<bool> = record.outputs.iter().map(|o| *o == Some(truth.output_hash)).collect();
                        let verdicts: Vec<_> = record.disputes.iter().map(|d| (&d.verdict.losers, &d.verdict.reason, d.verdict.step, d.slashes.len())).collect();
                        eprintln!("{mode:?} {names:?} ok={ok:?} verifier={verifier:?} upheld={upheld_truth} {verdicts:?}");
                    }
                }
            }
            if let Some(r) = &record.receipt {
                r.check().expect("every receipt checks offline");
            }
            net.ledger.check_invariants().expect("ledger invariants");
            next_block(&mut net, &who);
        }
        t
    })
}

fn word(x: u64) -> B256 {
    B256::from(alloy::primitives::U256::from(x))
}

#[test]
fn replicas_and_disputes_catch_every_wrong_result_when_an_honest_party_takes_part() {
    let t = run_mixed(world(), 7, 4_000);
    println!(
        "wrong {} · with an honest party {} · caught {} · slashes {} · honest slashed {}",
        t.wrong, t.wrong_with_honest, t.caught_with_honest, t.slashes, t.honest_slashed
    );
    assert!(t.wrong_with_honest > 500, "too few wrong results to judge: {}", t.wrong_with_honest);
    assert_eq!(
        t.caught_with_honest, t.wrong_with_honest,
        "a wrong result with an honest party survived"
    );
    assert_eq!(t.honest_slashed, 0, "an honest party was slashed");
}

/// The same on a model whose commitment has cuts: wrong leaves anywhere (live at a cut or not), wrong
/// outputs and silence are all settled by descending, bisecting and revealing a segment.
#[test]
fn disputes_over_cut_commitments_catch_every_wrong_result() {
    let t = run_mixed(world_with_cuts(), 31, 120);
    println!(
        "cuts: wrong {} · with an honest party {} · caught {} · slashes {} · honest slashed {} · steps re-executed {}",
        t.wrong,
        t.wrong_with_honest,
        t.caught_with_honest,
        t.slashes,
        t.honest_slashed,
        t.steps_reexecuted
    );
    assert!(t.wrong_with_honest > 20, "too few wrong results to judge: {}", t.wrong_with_honest);
    assert!(t.steps_reexecuted > 10, "disputes reached a step inside a segment");
    assert_eq!(
        t.caught_with_honest, t.wrong_with_honest,
        "a wrong result with an honest party survived"
    );
    assert_eq!(t.honest_slashed, 0, "an honest party was slashed");
}

#[test]
fn sampling_catches_wrong_results_at_rate_p() {
    let (wrong, caught, honest_slashed, p) =
        deterministic::Runner::seeded(11).start(|mut ctx| async move {
            let w = world();
            let actors = [
                (Behavior::Honest, 0, 1_000_000 * OPG),
                (Behavior::Honest, 0, 1_000_000 * OPG),
                (Behavior::Honest, 0, 1_000_000 * OPG),
                (Behavior::Perturb, 1_000_000, 3_000_000 * OPG),
            ];
            let (mut net, who) = network(&w, &actors, 11);
            let cheater = who[3].0;
            let p = net.quote(Mode::Sampling { floor_ppm: 50_000 }, OPG).unwrap().sampling_ppm
                as f64
                / 1e6;
            let (mut wrong, mut caught, mut honest_slashed) = (0u64, 0u64, 0u64);
            for id in 1..=10_000 {
                let job = job(&w, id, Mode::Sampling { floor_ppm: 50_000 }, &mut ctx);
                let beacon = word(ctx.next_u64());
                let draw = ctx.next_u64() % 1_000_000;
                let record = net.run_job(&job, beacon, draw).expect("job runs");
                check_slash_amounts(&record, net.ledger.params());
                let slashed: Vec<Address> = record
                    .disputes
                    .iter()
                    .flat_map(|d| d.slashes.iter().map(|(a, _)| *a))
                    .collect();
                honest_slashed += slashed.iter().filter(|a| **a != cheater).count() as u64;
                if record.executors[0] == cheater {
                    wrong += 1;
                    caught += u64::from(slashed.contains(&cheater));
                }
                next_block(&mut net, &who);
            }
            (wrong, caught, honest_slashed, p)
        });
    let rate = caught as f64 / wrong as f64;
    let half_width = 1.96 * (p * (1.0 - p) / wrong as f64).sqrt();
    println!(
        "SAMPLING quoted p = {p}: {caught} of {wrong} wrong results caught = {rate:.4} (95 % CI ± {half_width:.4})"
    );
    assert!(wrong > 2_000, "too few wrong results: {wrong}");
    assert!((rate - p).abs() <= half_width, "catch rate {rate} outside {p} ± {half_width}");
    assert_eq!(honest_slashed, 0);
}

#[test]
fn lazy_verifiers_are_caught_by_decoys_and_colluding_replicas_by_an_honest_one() {
    deterministic::Runner::seeded(23).start(|mut ctx| async move {
        let w = world();
        let big = 1_000_000 * OPG;
        let actors = [
            (Behavior::Honest, 0, big),
            (Behavior::Honest, 0, big),
            (Behavior::Honest, 0, big),
            (Behavior::LazyVerifier, 0, big),
            (Behavior::LazyVerifier, 0, big),
            (Behavior::Colluder, 1_000_000, big),
            (Behavior::Colluder, 1_000_000, big),
        ];
        let (mut net, who) = network(&w, &actors, 23);
        let auditor = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x77)).unwrap();
        let (mut lazy_tasks, mut lazy_caught, mut honest_caught) = (0u64, 0u64, 0u64);
        // Decoys: each shows a verifier a result known to be wrong.
        for id in 1..=1_000u64 {
            let job = job(&w, 1_000_000 + id, Mode::Sampling { floor_ppm: 50_000 }, &mut ctx);
            let exec = execute(&w.runtime, &w.model, &job.inputs).unwrap();
            let wrong_outputs = perturbed(&exec.outputs);
            let output_hash = tensors_hash(&wrong_outputs);
            let layout = exec.evidence.layout.clone();
            let leaves = exec.evidence.leaves.clone();
            let evidence = Execution::evidence_for(&job.model, exec.input_hash, layout, leaves, output_hash).unwrap();
            let wrong = ogn_verify::Statement {
                output_hash,
                commitment: evidence.tree.commitment(),
                ..exec.statement(CHAIN_ID, job.id, &job.model)
            }
            .sign(&auditor);
            let (v, b) = who[(ctx.next_u64() % 5) as usize];
            let r = net.run_decoy(&job, v, &wrong).unwrap();
            if b == Behavior::LazyVerifier {
                lazy_tasks += 1;
                lazy_caught += u64::from(r.caught);
                let out = r.slash.expect("a caught verifier is slashed");
                assert_eq!(out.to_challenger, out.total() / 2);
            } else {
                honest_caught += u64::from(r.caught);
            }
            next_block(&mut net, &who);
        }
        println!("decoys: lazy verifiers caught on {lazy_caught} of {lazy_tasks} tasks; honest on {honest_caught}");
        assert!(lazy_tasks > 300);
        assert_eq!(lazy_caught, lazy_tasks);
        assert_eq!(honest_caught, 0);

        // Colluding replicas: whenever an honest replica takes part, both colluders lose.
        let colluders: Vec<Address> =
            who.iter().filter(|(_, b)| *b == Behavior::Colluder).map(|(a, _)| *a).collect();
        let (mut with_honest, mut colluders_caught) = (0u64, 0u64);
        for id in 1..=2_000u64 {
            let job = job(&w, id, Mode::Replicas { k: 3 }, &mut ctx);
            let record = net.run_job(&job, word(ctx.next_u64()), 0).expect("job runs");
            check_slash_amounts(&record, net.ledger.params());
            let slashed: Vec<Address> =
                record.disputes.iter().flat_map(|d| d.slashes.iter().map(|(a, _)| *a)).collect();
            assert!(slashed.iter().all(|a| colluders.contains(a)), "only colluders are ever slashed");
            let in_job: Vec<&Address> = record.executors.iter().filter(|a| colluders.contains(a)).collect();
            if !in_job.is_empty() {
                with_honest += 1;
                colluders_caught += u64::from(in_job.iter().all(|a| slashed.contains(a)));
            }
            net.ledger.check_invariants().expect("ledger invariants");
            next_block(&mut net, &who);
        }
        println!("colluding replicas: caught in {colluders_caught} of {with_honest} jobs");
        assert!(with_honest > 500);
        assert_eq!(colluders_caught, with_honest);
    });
}
