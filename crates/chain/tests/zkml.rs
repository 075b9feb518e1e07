//! ZKML inference in transactions with real int8 models (fixtures/models/{mlp,lenet}_int8.onnx, from
//! scripts/fetch-fixtures) served by a hub in a temporary directory: the proof made in pre-execution
//! and recorded with the result, verified at block execution on a node without models, refused when
//! tampered with; models ogn-zk cannot prove revert with a reason.

mod common;

use std::{path::PathBuf, sync::Arc};

use alloy::{
    eips::BlockId,
    primitives::{Address, Bytes, TxKind, U256},
    rpc::types::TransactionRequest,
    sol_types::{SolCall, SolEvent, SolValue},
};
use common::*;
use ogn_chain::{
    Chain, ChainConfig, HubOracle, INFERENCE_PRECOMPILE, InferenceRecord, MiningMode,
    inference::{
        IInferencePrecompile, ModelInput, ModelOutput, Number, NumberTensor, ZKML_ENGINE_ID,
        verify_zkml, zkml_gas, zkml_verify_gas,
    },
};
use ogn_hub::{Hub, HubConfig, NewModel, blob::reader_stream};
use ogn_runtime::{Runtime, RuntimeConfig};
use ogn_types::{Tensor, TensorData};

const ZKML: u8 = 1;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/models").join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{} is missing ({e}): run scripts/fetch-fixtures first", path.display())
    })
}

struct Setup {
    _rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    oracle: Arc<HubOracle>,
}

/// A hub with the int8 MLP (`mlp8@1.00`), the int8 LeNet-5 and the float MLP.
fn setup() -> Setup {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hub = rt.block_on(async {
        let hub = Hub::open_local(dir.path().join("hub"), HubConfig::default()).await.unwrap();
        for (name, file) in
            [("mlp8", "mlp_int8.onnx"), ("lenet8", "lenet_int8.onnx"), ("mlp", "mlp.onnx")]
        {
            hub.create_model(NewModel { name: name.into(), ..Default::default() }, Address::ZERO)
                .await
                .unwrap();
            let v = hub.create_version(name, "first", true).await.unwrap();
            let bytes = fixture(file);
            hub.add_file(name, v.version, file, reader_stream(&bytes[..]), None).await.unwrap();
        }
        hub
    });
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()));
    let oracle = Arc::new(HubOracle::new(Arc::new(hub), runtime, rt.handle().clone()));
    Setup { _rt: rt, dir, oracle }
}

fn cid(file: &str) -> String {
    ogn_types::ModelCid::for_bytes(&fixture(file)).to_string()
}

fn chain_config(setup: &Setup, name: &str, mining: MiningMode) -> ChainConfig {
    ChainConfig { mining, ..config(Some(&setup.dir.path().join(name))) }
}

/// One 784-value input `x_i = ((i·k) mod 11) / 10`, shaped `shape`.
fn input(name: &str, shape: Vec<u32>, k: usize) -> ModelInput {
    let values = (0..784).map(|i| Number { value: ((i * k) % 11) as i128, decimals: 1 }).collect();
    ModelInput { numbers: vec![NumberTensor { name: name.into(), values, shape }], strings: vec![] }
}

/// What ogn-zk's integer execution of `file` gives on `input`, as the ABI output.
fn zk_output(file: &str, input: &ModelInput) -> ModelOutput {
    let bytes = fixture(file);
    let model = ogn_zk::load_onnx(&bytes).unwrap();
    let (_, name) = ogn_zk::onnx_io_names(&bytes).unwrap();
    let tensors = ModelInput::abi_decode(&input.abi_encode()).unwrap().to_tensors().unwrap();
    let y = model.run_f32(&tensors[0].to_f32().unwrap()).unwrap();
    let out = Tensor::new(name, vec![1, 10], TensorData::F32(y)).unwrap();
    let out = ogn_types::opengradient::ModelOutput::from_tensors(&[out], false).unwrap();
    ModelOutput::abi_decode(&out.abi_encode()).unwrap()
}

#[test]
fn zkml_inference_is_proven_recorded_and_verified() {
    let setup = setup();
    let chain =
        Chain::open(chain_config(&setup, "a", MiningMode::Auto), Some(setup.oracle.clone()))
            .unwrap();
    let alice = signer(0);
    let mlp = cid("mlp_int8.onnx");
    let (input_name, _) = ogn_zk::onnx_io_names(&fixture("mlp_int8.onnx")).unwrap();
    let x = input(&input_name, vec![1, 784], 3);
    let expected = zk_output("mlp_int8.onnx", &x);

    // The int8 integer execution is what ogn-runtime runs for this model: VANILLA gives the same.
    let call = |data: Bytes| {
        TransactionRequest::default()
            .from(alice.address())
            .to(INFERENCE_PRECOMPILE)
            .input(data.into())
    };
    let vanilla =
        chain.call(&call(precompile_call(&mlp, 0, x.clone())), BlockId::latest()).unwrap();
    let vanilla =
        IInferencePrecompile::runModelInferenceCall::abi_decode_returns(&vanilla).unwrap();
    assert_eq!(vanilla.numbers, expected.numbers);

    // A ZKML transaction.
    let data = precompile_call(&mlp, ZKML, x.clone());
    let hash = chain
        .send_raw_transaction(&raw(
            &alice,
            legacy(0, TxKind::Call(INFERENCE_PRECOMPILE), U256::ZERO, data, 10_000_000),
        ))
        .unwrap();
    let receipt = chain.receipt(hash).unwrap().unwrap();
    assert!(receipt.status());
    let event =
        IInferencePrecompile::ModelInferenceEvent::decode_log_data(receipt.inner.logs()[0].data())
            .unwrap();
    assert_eq!(event.request.mode, ZKML);
    assert_eq!(event.response.numbers, expected.numbers);
    assert!(!event.response.is_simulation_result);

    // The record carries the proof; gas covers running, proving and verifying.
    let block = chain.stored_block(1).unwrap().unwrap();
    let record: &InferenceRecord = &block.inference[0][0];
    assert_eq!(record.engine_id, ZKML_ENGINE_ID);
    assert_eq!(record.model_cid.as_deref(), Some(mlp.as_str()));
    let zk = record.zk.as_ref().expect("ZKML record carries a proof");
    assert!(zk.proof.len() > 10_000, "proof of {} bytes", zk.proof.len());
    assert_eq!(zk.output.len(), 10);
    assert!(record.work > 784 * 128, "work {}", record.work);
    assert_eq!(record.gas, zkml_gas(record.work, zk.proof.len()));
    assert!(record.gas > zkml_verify_gas(zk.proof.len()));
    assert!(receipt.gas_used > 21_000 + record.gas);
    verify_zkml(record).unwrap();
    // The commitment is the hub model's.
    let committed =
        ogn_zk::commit_model(&ogn_zk::load_onnx(&fixture("mlp_int8.onnx")).unwrap()).unwrap();
    assert_eq!(zk.commitment[..], committed.to_bytes()[..]);

    // LeNet-5 (convolutions, pooling) by name@version, NCHW input.
    let (lenet_input, _) = ogn_zk::onnx_io_names(&fixture("lenet_int8.onnx")).unwrap();
    let x2 = input(&lenet_input, vec![1, 1, 28, 28], 5);
    let hash = chain
        .send_raw_transaction(&raw(
            &alice,
            legacy(
                1,
                TxKind::Call(INFERENCE_PRECOMPILE),
                U256::ZERO,
                precompile_call("lenet8@1.00", ZKML, x2.clone()),
                20_000_000,
            ),
        ))
        .unwrap();
    let receipt = chain.receipt(hash).unwrap().unwrap();
    assert!(receipt.status());
    let event =
        IInferencePrecompile::ModelInferenceEvent::decode_log_data(receipt.inner.logs()[0].data())
            .unwrap();
    assert_eq!(event.response.numbers, zk_output("lenet_int8.onnx", &x2).numbers);
    verify_zkml(&chain.stored_block(2).unwrap().unwrap().inference[0][0]).unwrap();

    // Models ogn-zk cannot prove, and inputs it cannot take, revert with reasons.
    let reason = |data: Bytes| chain.call(&call(data), BlockId::latest()).unwrap_err().to_string();
    let float = reason(precompile_call("mlp@1.00", ZKML, x.clone()));
    assert!(float.contains("cannot be proven in ZKML mode"), "{float}");
    let mut two = x.clone();
    two.numbers.push(two.numbers[0].clone());
    let two = reason(precompile_call(&mlp, ZKML, two));
    assert!(two.contains("ZKML takes exactly one input tensor (2 given)"), "{two}");
    let mut short = x.clone();
    short.numbers[0].values.truncate(100);
    short.numbers[0].shape = vec![1, 100];
    let short = reason(precompile_call(&mlp, ZKML, short));
    assert!(short.contains("bad model input"), "{short}");

    // Replay from genesis on a node without any model: proofs verified, identical roots.
    let replica = Chain::open(chain_config(&setup, "replica", MiningMode::Manual), None).unwrap();
    for n in 1..=chain.block_number() {
        let block = chain.stored_block(n).unwrap().unwrap();
        replica.import_block(&block).unwrap();
        assert_eq!(replica.state_root(), block.header.state_root);
    }
    assert_eq!(replica.head(), chain.head());

    // Tampered records: refused by the check validators run, with the reason.
    let original = chain.stored_block(1).unwrap().unwrap();
    let tamper = |edit: &dyn Fn(&mut InferenceRecord)| {
        let mut block = original.clone();
        edit(&mut block.inference[0][0]);
        block
    };
    let flip_proof = tamper(&|r| {
        let zk = r.zk.as_mut().unwrap();
        let mut p = zk.proof.to_vec();
        let at = p.len() / 2;
        p[at] ^= 1;
        zk.proof = p.into();
    });
    let flip_output = tamper(&|r| {
        let zk = r.zk.as_mut().unwrap();
        let mut y = zk.output.to_vec();
        y[3] = y[3].wrapping_add(1);
        zk.output = y.into();
    });
    let other_commitment = tamper(&|r| {
        let lenet = &chain.stored_block(2).unwrap().unwrap().inference[0][0];
        r.zk.as_mut().unwrap().commitment = lenet.zk.as_ref().unwrap().commitment.clone();
    });
    let no_proof = tamper(&|r| r.zk = None);
    for (what, forged) in [
        ("bit-flipped proof", &flip_proof),
        ("changed output", &flip_output),
        ("another model's commitment", &other_commitment),
        ("no proof", &no_proof),
    ] {
        let record = &forged.inference[0][0];
        let err = verify_zkml(record).unwrap_err();
        assert!(err.starts_with("ZKML proof rejected: "), "{what}: {err}");
        // A proposer that records it and claims success: re-execution reverts the call, so the
        // block's receipts and state root are not the ones it claims.
        let fresh = Chain::open(chain_config(&setup, what, MiningMode::Manual), None).unwrap();
        let executed = fresh.execute_block(&forged.proposal()).unwrap();
        assert!(!executed.block.receipts[0].envelope.status(), "{what}");
        assert!(executed.block.receipts[0].envelope.logs().is_empty(), "{what}");
        assert_ne!(executed.block.header.state_root, original.header.state_root, "{what}");
        let err = fresh.import_block(forged).unwrap_err();
        assert!(err.to_string().contains("invalid block 1"), "{what}: {err}");
        assert_eq!(fresh.block_number(), 0);
    }
    // The untampered block re-executes to itself.
    let fresh = Chain::open(chain_config(&setup, "clean", MiningMode::Manual), None).unwrap();
    let executed = fresh.execute_block(&original.proposal()).unwrap();
    assert_eq!(executed.block.hash, original.hash);
}
