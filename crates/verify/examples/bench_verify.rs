//! Cost of verification: per-layer commitments against a plain run, and operator compute per job in
//! VANILLA, SAMPLING p = 0.05 and REPLICAS 3, with honest operators over the real ledger.
//!
//! `cargo run --release -p ogn-verify --example bench_verify -- [RUNS] [MODEL…]` (models: fixture stems).
//!
//! Commitment cost is timed in alternating blocks of plain, committed (cut layout + checkpointed run),
//! traced and `execute` runs (each block about
//! 0.3 s), RUNS blocks each: wall time is the median over blocks, CPU time (every thread of the process,
//! from `/proc/self/stat`, 10 ms ticks) the total over all blocks divided by the runs.

use std::sync::Arc;
use std::time::Instant;

use alloy::primitives::{Address, B256, keccak256};
use alloy::signers::local::PrivateKeySigner;
use ogn_ledger::{Ledger, OPG, Params, Role};
use ogn_runtime::{Runtime, RuntimeConfig};
use ogn_types::{ModelCid, Tensor, TensorData};
use ogn_verify::dispute::{Answer, Query, RunEvidence, step_witness};
use ogn_verify::network::{Claim, Job, Network, NetworkParams, Participant};
use ogn_verify::{Attestation, DisputeParams, GuaranteeParams, Mode, execute};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// CPU time of the whole process so far, in ms (Linux; 0 elsewhere).
fn process_cpu_ms() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the command name: state is field 3, utime and stime are fields 14 and 15 (ticks of
    // 1/100 s, Linux's USER_HZ).
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) * 10.0
}

/// Wall and CPU time of `runs` calls of `f`, in ms per call.
fn block(runs: usize, mut f: impl FnMut()) -> (f64, f64) {
    let (t, c) = (Instant::now(), process_cpu_ms());
    for _ in 0..runs {
        f();
    }
    let n = runs as f64;
    (t.elapsed().as_secs_f64() * 1e3 / n, (process_cpu_ms() - c) / n)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn fixture(stem: &str) -> (Vec<u8>, Vec<Tensor>) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures");
    let bytes =
        std::fs::read(format!("{root}/models/{stem}.onnx")).expect("run scripts/fetch-fixtures");
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(format!("{root}/reference/{stem}.json")).unwrap())
            .unwrap();
    let inputs = meta["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let shape: Vec<usize> = t["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect();
            let _ = i;
            let raw =
                std::fs::read(format!("{root}/reference/{}", t["file"].as_str().unwrap())).unwrap();
            let data = match t["dtype"].as_str().unwrap() {
                "f32" => TensorData::F32(
                    raw.chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect(),
                ),
                d => panic!("dtype {d}"),
            };
            Tensor::new(t["name"].as_str().unwrap(), shape, data).unwrap()
        })
        .collect();
    (bytes, inputs)
}

struct Honest {
    signer: PrivateKeySigner,
    runs: std::collections::HashMap<u64, RunEvidence>,
}

impl Participant for Honest {
    fn address(&self) -> Address {
        self.signer.address()
    }
    fn execute(&mut self, job: &Job, runtime: &Runtime, chain_id: u64) -> Option<Claim> {
        let exec = execute(runtime, &job.model, &job.inputs).ok()?;
        let attestation = exec.statement(chain_id, job.id, &job.model).sign(&self.signer);
        self.runs.insert(job.id, exec.evidence.clone());
        Some(Claim { attestation, evidence: exec.evidence })
    }
    fn verify(
        &mut self,
        job: &Job,
        runtime: &Runtime,
        chain_id: u64,
        _shown: &Attestation,
    ) -> Option<Claim> {
        self.execute(job, runtime, chain_id)
    }
    fn answer(&mut self, job: &Job, runtime: &Runtime, query: Query) -> Option<Answer> {
        let e = self.runs.get_mut(&job.id)?;
        if matches!(query, Query::Segment { .. }) && !e.is_complete() {
            e.complete(&runtime.run_traced(&job.model, &job.inputs).ok()?.leaves);
        }
        let n = e.leaves.len();
        e.answer(query, |i| step_witness(runtime, &job.model, &job.inputs, n, i))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(20);
    let stems: Vec<String> = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        [
            "mlp",
            "mlp_int8",
            "lenet_int8",
            "ch_ppocr_mobile_v2.0_cls_infer",
            "ch_PP-OCRv4_rec_infer",
            "ch_PP-OCRv4_det_infer",
        ]
        .map(String::from)
        .to_vec()
    };
    let runtime = Runtime::new(RuntimeConfig::default());
    println!("engine {}", runtime.engine_id());
    println!(
        "\n| model | steps | cuts | run ms | committed ms | ratio | traced ms | ratio | execute ms | ratio | run CPU ms | committed CPU | ratio | traced CPU | ratio | execute CPU | ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for stem in &stems {
        let (bytes, inputs) = fixture(stem);
        let model = runtime.load(&ModelCid::for_bytes(&bytes), &bytes).unwrap();
        runtime.run(&model, &inputs).unwrap();
        execute(&runtime, &model, &inputs).unwrap();
        let t = Instant::now();
        runtime.run(&model, &inputs).unwrap();
        let per_block = (0.3 / t.elapsed().as_secs_f64()).ceil().max(1.0) as usize;
        let mut wall = [vec![], vec![], vec![], vec![]];
        let mut cpu = [0.0; 4];
        for _ in 0..runs {
            // Alternate so that all four see the same machine load. "committed" is what a job's
            // commitment costs: the cut layout and a run hashing the steps live at its cuts.
            let timed = [
                block(per_block, || {
                    std::hint::black_box(runtime.run(&model, &inputs).unwrap());
                }),
                block(per_block, || {
                    let layout = runtime.cut_layout(&model, &inputs).unwrap();
                    std::hint::black_box(
                        runtime.run_checkpointed(&model, &inputs, &layout).unwrap(),
                    );
                }),
                block(per_block, || {
                    std::hint::black_box(runtime.run_traced(&model, &inputs).unwrap());
                }),
                block(per_block, || {
                    std::hint::black_box(execute(&runtime, &model, &inputs).unwrap());
                }),
            ];
            for (i, (w, c)) in timed.into_iter().enumerate() {
                wall[i].push(w);
                cpu[i] += c / runs as f64;
            }
        }
        let layout = runtime.cut_layout(&model, &inputs).unwrap();
        let (steps, cuts) = (layout.steps, layout.cuts.len());
        let [p, k, l, e] = wall.map(median);
        let [pc, kc, lc, ec] = cpu;
        println!(
            "| {stem} | {steps} | {cuts} | {p:.3} | {k:.3} | {:.3} | {l:.3} | {:.3} | {e:.3} | {:.3} | {pc:.3} | {kc:.3} | {:.3} | {lc:.3} | {:.3} | {ec:.3} | {:.3} |",
            k / p,
            l / p,
            e / p,
            kc / pc,
            lc / pc,
            ec / pc,
        );
    }

    println!(
        "\n| model | mode | jobs | wall ms/job (median of {runs} batches) | vs VANILLA | CPU ms/job | vs VANILLA |\n|---|---|---:|---:|---:|---:|---:|"
    );
    for stem in stems.iter().filter(|s| s.as_str() == "mlp" || s.starts_with("ch_ppocr_mobile")) {
        let (bytes, inputs) = fixture(stem);
        let model = runtime.load(&ModelCid::for_bytes(&bytes), &bytes).unwrap();
        // Enough jobs per batch for the CPU clock's 10 ms ticks.
        let jobs = if stem == "mlp" { 4000 } else { 300 };
        let per_batch = jobs / runs.max(1) + 1;
        let modes = [
            ("VANILLA", Mode::Vanilla),
            ("SAMPLING p=0.05", Mode::Sampling { floor_ppm: 50_000 }),
            ("REPLICAS 3", Mode::Replicas { k: 3 }),
        ];
        let mut nets: Vec<Network<'_>> = modes.iter().map(|_| network(&runtime)).collect();
        let requester = Address::repeat_byte(0xee);
        let mut wall = [vec![], vec![], vec![]];
        let mut cpu = [0.0; 3];
        let mut id = 0u64;
        for round in 0..runs {
            // Batches of the three modes alternate (each round starting with the next mode), so that
            // all see the same machine load; every mode gets the same job ids, hence the same draws.
            let first = id;
            for k in 0..modes.len() {
                let i = (round + k) % modes.len();
                let (mode, net) = (modes[i].1, &mut nets[i]);
                id = first;
                let (w, c) = block(per_batch, || {
                    id += 1;
                    let job = Job {
                        id,
                        model: Arc::clone(&model),
                        inputs: inputs.clone(),
                        mode,
                        value: OPG,
                        requester,
                    };
                    let beacon = keccak256(id.to_be_bytes());
                    let draw = u64::from_be_bytes(keccak256(beacon).0[..8].try_into().unwrap())
                        % 1_000_000;
                    net.run_job(&job, beacon, draw).unwrap();
                    let h = net.height() + 1;
                    net.advance_to(h).unwrap();
                });
                wall[i].push(w);
                cpu[i] += c / runs as f64;
            }
        }
        let wall = wall.map(median);
        for (i, (name, _)) in modes.iter().enumerate() {
            println!(
                "| {stem} | {name} | {id} | {:.3} | {:.3} | {:.3} | {:.3} |",
                wall[i],
                wall[i] / wall[0],
                cpu[i],
                cpu[i] / cpu[0]
            );
        }
    }
}

/// A network of four honest operators over a fresh ledger.
fn network(runtime: &Runtime) -> Network<'_> {
    let signers: Vec<PrivateKeySigner> =
        (1..=4u8).map(|i| PrivateKeySigner::from_bytes(&B256::repeat_byte(i)).unwrap()).collect();
    let requester = Address::repeat_byte(0xee);
    let mut balances: Vec<(ogn_ledger::Address, u128)> =
        signers.iter().map(|s| (ogn_ledger::Address(s.address().0.0), 2_000_000 * OPG)).collect();
    balances.push((ogn_ledger::Address(requester.0.0), 1_000 * OPG));
    balances.push((ogn_ledger::Address([0xad; 20]), OPG));
    let params =
        Params { job_bond_ppm: 25_000_000, min_self_bond_operator: OPG, ..Params::default() };
    let mut ledger = Ledger::new(params, balances).unwrap();
    ledger.begin_block(1).unwrap();
    for s in &signers {
        ledger
            .create_staker(
                ogn_ledger::Address(s.address().0.0),
                Role::Operator,
                1_000_000 * OPG,
                50_000,
            )
            .unwrap();
    }
    let mut net = Network::new(
        ledger,
        runtime,
        NetworkParams {
            chain_id: 1,
            dispute: DisputeParams { round_timeout: 2 },
            guarantee: GuaranteeParams::default(),
            auditor: Address::repeat_byte(0xad),
        },
    );
    for s in signers {
        net.join(Box::new(Honest { signer: s, runs: Default::default() }));
    }
    net
}
