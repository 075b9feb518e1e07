//! Inference in transactions with a real model (fixtures/models/mlp.onnx, from scripts/fetch-fixtures)
//! served by a hub in a temporary directory: the precompile, the Inference hub contract, a contract
//! calling the precompile, reverts, replay from genesis without any model, restart, re-simulation when
//! the state moved under a pending transaction.

mod common;

use std::{
    path::PathBuf,
    sync::{
        Arc, Condvar, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use alloy::{
    eips::{BlockId, BlockNumberOrTag},
    primitives::{Address, Bytes, TxKind, U256},
    rpc::types::TransactionRequest,
    sol_types::{SolCall, SolEvent, SolValue},
};
use common::*;
use ogn_chain::{
    Chain, ChainConfig, HubOracle, INFERENCE_PRECOMPILE, InferenceOracle, MiningMode, OracleResult,
    inference::{
        IInference, IInferencePrecompile, ModelInput, ModelOutput, Number, NumberTensor,
        inference_gas,
    },
};
use ogn_hub::{Hub, HubConfig, NewModel, blob::reader_stream};
use ogn_runtime::{Runtime, RuntimeConfig};
use ogn_types::Tensor;

fn model_path() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/models/mlp.onnx");
    assert!(path.exists(), "{} is missing: run scripts/fetch-fixtures first", path.display());
    path
}

struct Setup {
    _rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    oracle: Arc<HubOracle>,
    runtime: Arc<Runtime>,
    cid: String,
}

fn setup() -> Setup {
    let bytes = std::fs::read(model_path()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hub = rt.block_on(async {
        let hub = Hub::open_local(dir.path().join("hub"), HubConfig::default()).await.unwrap();
        hub.create_model(
            NewModel {
                name: "mlp".into(),
                description: "MLP 784-128-10".into(),
                ..Default::default()
            },
            Address::ZERO,
        )
        .await
        .unwrap();
        let v = hub.create_version("mlp", "first", true).await.unwrap();
        hub.add_file("mlp", v.version, "mlp.onnx", reader_stream(&bytes[..]), None).await.unwrap();
        hub
    });
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()));
    let oracle = Arc::new(HubOracle::new(Arc::new(hub), runtime.clone(), rt.handle().clone()));
    let cid = ogn_types::ModelCid::for_bytes(&bytes).to_string();
    Setup { _rt: rt, dir, oracle, runtime, cid }
}

fn chain_config(setup: &Setup, name: &str, mining: MiningMode) -> ChainConfig {
    ChainConfig { mining, ..config(Some(&setup.dir.path().join(name))) }
}

/// A 1×784 input `x_i = (i mod 7) / 10^decimals`.
fn input(decimals: i128) -> ModelInput {
    let values = (0..784).map(|i| Number { value: (i % 7) as i128, decimals }).collect();
    ModelInput {
        numbers: vec![NumberTensor { name: "input".into(), values, shape: vec![1, 784] }],
        strings: vec![],
    }
}

fn expected_output(setup: &Setup, input: &ModelInput) -> ModelOutput {
    let tensors: Vec<Tensor> = ogn_types::opengradient::ModelInput::abi_decode(&input.abi_encode())
        .unwrap()
        .to_tensors()
        .unwrap();
    let result = setup.oracle.run(&setup.cid, &tensors).unwrap();
    assert_eq!(result.engine_id, setup.runtime.engine_id());
    let out = ogn_types::opengradient::ModelOutput::from_tensors(&result.outputs, false).unwrap();
    ModelOutput::abi_decode(&out.abi_encode()).unwrap()
}

#[test]
fn inference_through_precompile_hub_contract_and_a_contract() {
    let setup = setup();
    let chain =
        Chain::open(chain_config(&setup, "a", MiningMode::Auto), Some(setup.oracle.clone()))
            .unwrap();
    let alice = signer(0);
    let expected = expected_output(&setup, &input(1));
    assert_eq!(expected.numbers[0].shape, vec![1, 10]);

    // eth_call: simulation, flagged as such.
    let data = precompile_call(&setup.cid, 0, input(1));
    let call = TransactionRequest::default()
        .from(alice.address())
        .to(INFERENCE_PRECOMPILE)
        .input(data.clone().into());
    let out = chain.call(&call, BlockId::latest()).unwrap();
    let simulated = IInferencePrecompile::runModelInferenceCall::abi_decode_returns(&out).unwrap();
    assert!(simulated.is_simulation_result);
    assert_eq!(simulated.numbers, expected.numbers);

    // A transaction to the precompile.
    let gas = chain.estimate_gas(&call, BlockId::latest()).unwrap();
    let hash = chain
        .send_raw_transaction(&raw(
            &alice,
            legacy(0, TxKind::Call(INFERENCE_PRECOMPILE), U256::ZERO, data, 3 * gas),
        ))
        .unwrap();
    let receipt = chain.receipt(hash).unwrap().unwrap();
    assert!(receipt.status());
    let logs = receipt.inner.logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].address(), INFERENCE_PRECOMPILE);
    let event = IInferencePrecompile::ModelInferenceEvent::decode_log_data(logs[0].data()).unwrap();
    assert!(!event.response.is_simulation_result);
    assert_eq!(event.response.numbers, expected.numbers);
    assert_eq!(event.request.modelCID, setup.cid);

    // The record, by inference id.
    let id: alloy::primitives::B256 = event.inferenceID.parse().unwrap();
    let entry = chain.inference_record(id).unwrap().expect("record");
    assert_eq!(entry.tx_hash, hash);
    assert_eq!(entry.block_number, 1);
    let record = entry.record;
    assert_eq!(record.model_cid.as_deref(), Some(setup.cid.as_str()));
    assert_eq!(record.engine_id, setup.runtime.engine_id());
    assert!(record.work > 100_000, "work {}", record.work);
    assert_eq!(record.gas, inference_gas(record.work));
    assert!(receipt.gas_used > 21_000 + record.gas);
    assert_eq!(record.output_tensors().unwrap().unwrap().len(), 1);

    // The Inference hub contract, by name@version, as the OpenGradient SDK calls it.
    let hub = chain.config().inference_hub;
    let data: Bytes =
        IInference::runCall { modelId: "mlp@1.00".into(), inferenceMode: 0, modelInput: input(1) }
            .abi_encode()
            .into();
    let hash = chain
        .send_raw_transaction(&raw(
            &alice,
            legacy(1, TxKind::Call(hub), U256::ZERO, data, 1_000_000),
        ))
        .unwrap();
    let receipt = chain.receipt(hash).unwrap().unwrap();
    assert!(receipt.status());
    let logs = receipt.inner.logs();
    assert_eq!(logs.len(), 2);
    let result = logs.iter().find(|l| l.address() == hub).expect("InferenceResult");
    let result = IInference::InferenceResult::decode_log_data(result.data()).unwrap();
    assert_eq!(result.output.numbers, expected.numbers);
    assert!(logs.iter().any(|l| l.address() == INFERENCE_PRECOMPILE));

    // A contract calling the precompile.
    let runtime_code = proxy_runtime(INFERENCE_PRECOMPILE);
    let hash = chain
        .send_raw_transaction(&raw(
            &alice,
            eip1559(2, TxKind::Create, U256::ZERO, deploy_code(&runtime_code), 300_000),
        ))
        .unwrap();
    let proxy = chain.receipt(hash).unwrap().unwrap().contract_address.unwrap();
    let hash = chain
        .send_raw_transaction(&raw(
            &alice,
            eip1559(
                3,
                TxKind::Call(proxy),
                U256::ZERO,
                precompile_call(&setup.cid, 0, input(2)),
                1_000_000,
            ),
        ))
        .unwrap();
    let receipt = chain.receipt(hash).unwrap().unwrap();
    assert!(receipt.status());
    let event =
        IInferencePrecompile::ModelInferenceEvent::decode_log_data(receipt.inner.logs()[0].data())
            .unwrap();
    assert_eq!(event.response.numbers, expected_output(&setup, &input(2)).numbers);

    // Reverts with reasons eth_call shows.
    let reason = |data: Bytes, to: Address| {
        let call = TransactionRequest::default().from(alice.address()).to(to).input(data.into());
        chain.call(&call, BlockId::latest()).unwrap_err().to_string()
    };
    let missing = reason(precompile_call("nosuchmodel@1.00", 0, input(1)), INFERENCE_PRECOMPILE);
    assert!(
        missing.starts_with("execution reverted: model nosuchmodel@1.00 not found"),
        "{missing}"
    );
    let zk = reason(precompile_call(&setup.cid, 1, input(1)), INFERENCE_PRECOMPILE);
    assert!(
        zk.starts_with(&format!(
            "execution reverted: model {} cannot be proven in ZKML mode",
            setup.cid
        )),
        "{zk}"
    );
    let sampling = reason(precompile_call(&setup.cid, 3, input(1)), INFERENCE_PRECOMPILE);
    assert!(sampling.contains("inference mode SAMPLING (byte 3) needs registered"), "{sampling}");
    let replicas = reason(precompile_call(&setup.cid, 0x15, input(1)), INFERENCE_PRECOMPILE);
    assert!(replicas.contains("inference mode REPLICAS 5 (byte 21)"), "{replicas}");
    let unknown = reason(precompile_call(&setup.cid, 9, input(1)), INFERENCE_PRECOMPILE);
    assert!(unknown.contains("unknown verification mode byte 0x09"), "{unknown}");
    let tee = reason(precompile_call(&setup.cid, 2, input(1)), hub);
    assert!(tee.contains("unknown function selector"), "{tee}");
    let tee = reason(
        IInference::runCall { modelId: setup.cid.clone(), inferenceMode: 2, modelInput: input(1) }
            .abi_encode()
            .into(),
        hub,
    );
    assert!(tee.starts_with("execution reverted: inference mode TEE is not available"), "{tee}");
    let mut bad = input(1);
    bad.numbers[0].shape = vec![1, 10];
    bad.numbers[0].values.truncate(10);
    let bad = reason(precompile_call(&setup.cid, 0, bad), INFERENCE_PRECOMPILE);
    assert!(bad.starts_with("execution reverted: ") && bad.contains("input"), "{bad}");
    let llm = IInferencePrecompile::runLLMCompletionCall {
        request: ogn_chain::inference::LLMCompletionRequest {
            mode: 0,
            modelCID: "x".into(),
            prompt: "hi".into(),
            max_tokens: 10,
            stop_sequence: vec![],
            temperature: 0,
        },
    };
    assert_eq!(
        reason(llm.abi_encode().into(), INFERENCE_PRECOMPILE),
        "execution reverted: LLM inference is not available on this network yet"
    );
    // A failed inference in a transaction: included, reverted, recorded with its reason.
    let hash = chain
        .send_raw_transaction(&raw(
            &alice,
            legacy(
                4,
                TxKind::Call(INFERENCE_PRECOMPILE),
                U256::ZERO,
                precompile_call("nosuchmodel", 0, input(1)),
                1_000_000,
            ),
        ))
        .unwrap();
    assert!(!chain.receipt(hash).unwrap().unwrap().status());
    let block = chain.stored_block(chain.block_number()).unwrap().unwrap();
    assert!(block.inference[0][0].error.as_deref().unwrap().contains("not found"));

    // Replay from genesis on a node without any model: identical blocks and roots.
    let head = chain.block_number();
    let replica = Chain::open(chain_config(&setup, "replica", MiningMode::Manual), None).unwrap();
    assert_eq!(replica.head().1, chain.stored_block(0).unwrap().unwrap().hash);
    for n in 1..=head {
        let block = chain.stored_block(n).unwrap().unwrap();
        replica.import_block(&block).unwrap();
        assert_eq!(replica.state_root(), block.header.state_root);
    }
    assert_eq!(replica.head(), chain.head());

    // A block whose records do not match its transactions is refused.
    let mut forged = chain.stored_block(1).unwrap().unwrap();
    let fresh = Chain::open(chain_config(&setup, "forged", MiningMode::Manual), None).unwrap();
    let mut record_input = ModelInput::abi_decode(&forged.inference[0][0].input).unwrap();
    record_input.numbers[0].values[0].value += 1;
    forged.inference[0][0].input = record_input.abi_encode().into();
    let err = fresh.import_block(&forged).unwrap_err();
    assert!(err.to_string().contains("invalid block 1"), "{err}");
    assert_eq!(fresh.block_number(), 0);

    // Restart from disk without an oracle: same head, and the chain goes on.
    let root = chain.state_root();
    drop(chain);
    let reopened = Chain::open(chain_config(&setup, "a", MiningMode::Auto), None).unwrap();
    assert_eq!(reopened.block_number(), head);
    assert_eq!(reopened.state_root(), root);
    assert!(reopened.inference_record(id).unwrap().is_some());
    transfer(&reopened, &alice, Address::repeat_byte(9), 1).unwrap();
    assert_eq!(reopened.block_number(), head + 1);
    // Without an oracle, new inference reverts with a clear reason.
    let call = TransactionRequest::default()
        .from(alice.address())
        .to(INFERENCE_PRECOMPILE)
        .input(precompile_call(&setup.cid, 0, input(1)).into());
    let e = reopened.call(&call, BlockId::latest()).unwrap_err().to_string();
    assert!(e.contains("inference is not available on this node"), "{e}");
    let _ = BlockNumberOrTag::Latest;
}

/// An oracle that runs the real one but waits at a gate, so a test can change the state while a
/// simulation is in flight. Counts the runs.
struct Gated {
    inner: Arc<HubOracle>,
    gate: Mutex<bool>,
    opened: Condvar,
    runs: AtomicUsize,
    entered: Mutex<usize>,
    entered_cv: Condvar,
}

impl InferenceOracle for Gated {
    fn run(&self, model: &str, input: &[Tensor]) -> Result<OracleResult, String> {
        {
            let mut e = self.entered.lock().unwrap();
            *e += 1;
            self.entered_cv.notify_all();
        }
        let mut open = self.gate.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
        drop(open);
        self.runs.fetch_add(1, Ordering::SeqCst);
        self.inner.run(model, input)
    }
}

/// A contract that, called with 32 bytes, stores them in slot 0; called with `pos ‖ data`, copies `data`
/// to memory, writes slot 0's low byte at `pos`, and forwards it to the precompile.
fn patcher_runtime() -> Vec<u8> {
    let mut c = vec![0x36, 0x60, 32, 0x14, 0x60, 0, 0x57]; // CALLDATASIZE PUSH1 32 EQ PUSH1 set JUMPI
    c.extend([0x60, 32, 0x36, 0x03]); // n = CALLDATASIZE - 32
    c.extend([0x80, 0x60, 32, 0x60, 0, 0x37]); // DUP1 CALLDATACOPY(0, 32, n)
    c.extend([0x60, 0, 0x54, 0x60, 0, 0x35, 0x53]); // MSTORE8(CALLDATALOAD(0), SLOAD(0))
    c.extend([0x60, 0, 0x60, 0, 0x82, 0x60, 0, 0x60, 0, 0x60, 0xf4, 0x5a, 0xf1]); // CALL(gas, F4, 0, 0, n, 0, 0)
    c.extend([0x3d, 0x60, 0, 0x60, 0, 0x3e]); // RETURNDATACOPY
    let ok = c.len() as u8 + 7;
    c.extend([0x60, ok, 0x57, 0x3d, 0x60, 0, 0xfd]); // JUMPI ok; REVERT
    c.extend([0x5b, 0x3d, 0x60, 0, 0xf3]); // ok: RETURN
    let set = c.len() as u8;
    c.extend([0x5b, 0x60, 0, 0x35, 0x60, 0, 0x55, 0x00]); // set: SSTORE(0, CALLDATALOAD(0)) STOP
    c[5] = set;
    c
}

#[test]
fn a_transaction_whose_inputs_changed_is_simulated_again() {
    let setup = setup();
    let gated = Arc::new(Gated {
        inner: setup.oracle.clone(),
        gate: Mutex::new(true),
        opened: Condvar::new(),
        runs: AtomicUsize::new(0),
        entered: Mutex::new(0),
        entered_cv: Condvar::new(),
    });
    let chain = Chain::open(chain_config(&setup, "stale", MiningMode::Manual), Some(gated.clone()))
        .unwrap();
    let (alice, bob) = (signer(0), signer(1));
    chain
        .send_raw_transaction(&raw(
            &alice,
            eip1559(0, TxKind::Create, U256::ZERO, deploy_code(&patcher_runtime()), 300_000),
        ))
        .unwrap();
    chain.mine(1).unwrap();
    let patcher = alice.address().create(0);
    assert!(!chain.code(patcher, BlockId::latest()).unwrap().is_empty());

    // The request with decimals 0 everywhere; `pos` points at the low byte of the first number's
    // `decimals` word.
    let request = precompile_call(&setup.cid, 0, input(0));
    let first_value = {
        // Find the first Number: the word pair (value=0, decimals=0) follows the values length 784.
        let len_word = U256::from(784u64).to_be_bytes::<32>();
        let at = request.windows(32).position(|w| w == len_word).expect("values length");
        at + 32
    };
    let pos = first_value + 63; // low byte of `decimals` of values[0]
    assert_eq!(request[pos], 0);
    let mut data = U256::from(pos).to_be_bytes::<32>().to_vec();
    data.extend_from_slice(&request);

    // Close the gate, submit the inference transaction from another thread: its simulation waits.
    *gated.gate.lock().unwrap() = false;
    let sender = {
        let chain = chain.clone();
        let tx = raw(&bob, eip1559(0, TxKind::Call(patcher), U256::ZERO, data.into(), 2_000_000));
        std::thread::spawn(move || chain.send_raw_transaction(&tx))
    };
    {
        let mut e = gated.entered.lock().unwrap();
        while *e == 0 {
            e = gated.entered_cv.wait(e).unwrap();
        }
    }
    // Meanwhile the state moves: slot 0 = 2, so the contract now asks for decimals 2.
    let two = U256::from(2u64).to_be_bytes::<32>().to_vec();
    chain
        .send_raw_transaction(&raw(
            &alice,
            eip1559(1, TxKind::Call(patcher), U256::ZERO, two.into(), 100_000),
        ))
        .unwrap();
    *gated.gate.lock().unwrap() = true;
    gated.opened.notify_all();
    let hash = sender.join().unwrap().unwrap();
    assert_eq!(gated.runs.load(Ordering::SeqCst), 2, "simulated, then simulated again");

    chain.mine(1).unwrap();
    let receipt = chain.receipt(hash).unwrap().unwrap();
    assert!(receipt.status());
    let block = chain.stored_block(2).unwrap().unwrap();
    assert_eq!(block.tx_hashes[1], hash);
    let recorded = ModelInput::abi_decode(&block.inference[1][0].input).unwrap();
    assert_eq!(
        recorded.numbers[0].values[0].decimals, 2,
        "the record is for the inputs at execution"
    );
    let event =
        IInferencePrecompile::ModelInferenceEvent::decode_log_data(receipt.inner.logs()[0].data())
            .unwrap();
    let mut at_execution = input(0);
    at_execution.numbers[0].values[0].decimals = 2;
    assert_eq!(event.response.numbers, expected_output(&setup, &at_execution).numbers);

    // And the chain replays without a model.
    let replica =
        Chain::open(chain_config(&setup, "stale-replica", MiningMode::Manual), None).unwrap();
    for n in 1..=chain.block_number() {
        replica.import_block(&chain.stored_block(n).unwrap().unwrap()).unwrap();
    }
    assert_eq!(replica.state_root(), chain.state_root());
}
