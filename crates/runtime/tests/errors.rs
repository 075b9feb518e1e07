//! Bad input gets a clear error naming the problem; limits and the model cache hold.

mod common;

use common::*;
use ogn_runtime::{Dim, Runtime, RuntimeConfig, RuntimeError};
use ogn_types::{DType, ModelCid, Number, Tensor, TensorData, TensorError};

fn mlp() -> (Runtime, std::sync::Arc<ogn_runtime::Model>) {
    let rt = Runtime::new(RuntimeConfig::default());
    let (cid, bytes) = model_bytes("mlp");
    let model = rt.load(&cid, &bytes).expect("load mlp");
    (rt, model)
}

fn load_err(rt: &Runtime, bytes: &[u8]) -> RuntimeError {
    rt.load(&ModelCid::for_bytes(bytes), bytes).expect_err("load must fail")
}

fn input(shape: Vec<usize>, data: TensorData) -> Tensor {
    Tensor::new("input", shape, data).expect("valid tensor")
}

#[test]
fn truncated_onnx_is_corrupt() {
    let rt = Runtime::new(RuntimeConfig::default());
    let (_, bytes) = model_bytes("mlp");
    let err = load_err(&rt, &bytes[..bytes.len() / 2]);
    assert!(matches!(err, RuntimeError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().starts_with("corrupt ONNX model"), "{err}");
}

#[test]
fn damaged_onnx_is_corrupt() {
    let rt = Runtime::new(RuntimeConfig::default());
    let (_, mut bytes) = model_bytes("lenet");
    // Bytes after the last field that form no valid field: a varint tag that never ends.
    // (Damage inside weight data parses fine: the CID check is what catches it, see below.)
    bytes.extend_from_slice(&[0xff; 16]);
    let err = load_err(&rt, &bytes);
    assert!(matches!(err, RuntimeError::Corrupt { .. }), "{err:?}");
}

#[test]
fn non_onnx_files_are_refused_as_not_onnx() {
    let rt = Runtime::new(RuntimeConfig::default());
    for bytes in [
        &b"this is a plain text file, not a model\n"[..],
        &b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..],
        &b"{\"model\": \"json\"}"[..],
        &b""[..],
    ] {
        let err = load_err(&rt, bytes);
        assert!(matches!(err, RuntimeError::NotOnnx { .. }), "{bytes:?}: {err:?}");
        assert!(err.to_string().starts_with("not an ONNX model"), "{err}");
        assert!(matches!(Runtime::inspect(bytes), Err(RuntimeError::NotOnnx { .. })));
    }
}

#[test]
fn unsupported_operator_is_named() {
    let rt = Runtime::new(RuntimeConfig::default());
    let (_, mut bytes) = model_bytes("mlp");
    // NodeProto.op_type is field 4 (tag 0x22); rename "Relu" to "Relz", same length, still valid protobuf.
    let pos =
        bytes.windows(6).position(|w| w == b"\x22\x04Relu").expect("Relu op_type in mlp.onnx");
    bytes[pos + 5] = b'z';
    let err = load_err(&rt, &bytes);
    match &err {
        RuntimeError::UnsupportedOperator { op, node } => {
            assert_eq!(op, "Relz");
            assert_eq!(node, "relu1");
        }
        other => panic!("expected UnsupportedOperator, got {other:?}"),
    }
    assert_eq!(err.to_string(), "unsupported operator `Relz` (node `relu1`)");
}

#[test]
fn model_over_the_size_limit_is_refused() {
    let rt = Runtime::new(RuntimeConfig { max_model_bytes: 1000, ..Default::default() });
    let (cid, bytes) = model_bytes("mlp");
    let err = rt.load(&cid, &bytes).expect_err("too large");
    match err {
        RuntimeError::ModelTooLarge { size, limit } => {
            assert_eq!((size, limit), (bytes.len(), 1000))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bytes_must_match_the_model_id() {
    let rt = Runtime::new(RuntimeConfig::default());
    let (_, bytes) = model_bytes("mlp");
    let other = ModelCid::for_bytes(b"something else");
    assert!(matches!(rt.load(&other, &bytes), Err(RuntimeError::CidMismatch { .. })));
}

#[test]
fn wrong_shape_names_input_and_declared_shape() {
    let (rt, model) = mlp();
    let err =
        rt.run(&model, &[input(vec![2, 785], TensorData::F32(vec![0.0; 2 * 785]))]).unwrap_err();
    match &err {
        RuntimeError::WrongShape { name, expected, got } => {
            assert_eq!(
                (name.as_str(), expected.as_str(), got.as_slice()),
                ("input", "N,784", &[2, 785][..])
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.to_string(), "input `input`: expected shape [N,784], got [2, 785]");
    let rank = rt.run(&model, &[input(vec![784], TensorData::F32(vec![0.0; 784]))]).unwrap_err();
    assert!(matches!(rank, RuntimeError::WrongShape { .. }), "{rank:?}");
}

#[test]
fn shape_product_overflow_is_refused() {
    let (rt, model) = mlp();
    assert!(matches!(
        Tensor::new("input", vec![usize::MAX, 784], TensorData::F32(vec![])),
        Err(TensorError::ShapeOverflow { .. })
    ));
    // Built field by field (as a deserializer might), the runtime still refuses it before any allocation.
    let t = Tensor {
        name: "input".into(),
        shape: vec![usize::MAX / 2, 784],
        data: TensorData::F32(vec![]),
    };
    let err = rt.run(&model, &[t]).unwrap_err();
    assert!(matches!(err, RuntimeError::BadTensor(TensorError::ShapeOverflow { .. })), "{err:?}");
    assert!(err.to_string().contains("`input`"), "{err}");
    let short =
        Tensor { name: "input".into(), shape: vec![2, 784], data: TensorData::F32(vec![0.0; 10]) };
    let err = rt.run(&model, &[short]).unwrap_err();
    assert!(matches!(err, RuntimeError::BadTensor(TensorError::LengthMismatch { .. })), "{err:?}");
}

#[test]
fn string_where_number_expected_is_wrong_type() {
    let (rt, model) = mlp();
    let strings = TensorData::String(vec!["1.5".to_string(); 784]);
    let err = rt.run(&model, &[input(vec![1, 784], strings)]).unwrap_err();
    match &err {
        RuntimeError::WrongType { name, expected, got, .. } => {
            assert_eq!((name.as_str(), *expected, *got), ("input", DType::F32, DType::String));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().starts_with("input `input`: the model takes f32 values, got string"),
        "{err}"
    );
}

#[test]
fn missing_unexpected_and_duplicate_inputs() {
    let (rt, model) = mlp();
    assert!(
        matches!(rt.run(&model, &[]), Err(RuntimeError::MissingInput { name }) if name == "input")
    );
    let x = input(vec![1, 784], TensorData::F32(vec![0.5; 784]));
    let stray = Tensor::new("extra", vec![1], TensorData::F32(vec![1.0])).unwrap();
    let err = rt.run(&model, &[x.clone(), stray]).unwrap_err();
    let RuntimeError::UnexpectedInput { name, expected } = &err else { panic!("{err:?}") };
    assert_eq!((name.as_str(), expected.as_slice()), ("extra", &["input".to_string()][..]));
    let err = rt.run(&model, &[x.clone(), x]).unwrap_err();
    assert!(matches!(&err, RuntimeError::DuplicateInput { name } if name == "input"), "{err:?}");
}

#[test]
fn decimal_and_integer_inputs_are_cast_to_the_model_type() {
    let (rt, model) = mlp();
    let values: Vec<f32> = (0..784).map(|i| (i % 100) as f32 / 100.0).collect();
    let decimals = TensorData::Decimal(
        (0..784).map(|i| Number { value: (i % 100) as i128, decimals: 2 }).collect(),
    );
    let a = rt.run(&model, &[input(vec![1, 784], TensorData::F32(values))]).unwrap();
    let b = rt.run(&model, &[input(vec![1, 784], decimals)]).unwrap();
    assert_eq!(a, b);
    assert_eq!(a[0].name, "logits");
    assert_eq!(a[0].shape, vec![1, 10]);
    let ints = rt.run(&model, &[input(vec![1, 784], TensorData::I64(vec![1; 784]))]).unwrap();
    let ones = rt.run(&model, &[input(vec![1, 784], TensorData::F32(vec![1.0; 784]))]).unwrap();
    assert_eq!(ints, ones);
}

#[test]
fn work_limit_refuses_before_running_and_names_the_number() {
    let rt = Runtime::new(RuntimeConfig { max_work_per_inference: 100_000, ..Default::default() });
    let (cid, bytes) = model_bytes("mlp");
    let model = rt.load(&cid, &bytes).unwrap();
    let err =
        rt.run(&model, &[input(vec![2, 784], TensorData::F32(vec![0.0; 2 * 784]))]).unwrap_err();
    let RuntimeError::WorkLimit { work, limit } = err else { panic!("{err:?}") };
    // 2 × (784×128 + 128×10) multiply-accumulates at least.
    assert!(work >= 2 * (784 * 128 + 128 * 10), "{work}");
    assert_eq!(limit, 100_000);
    let one = rt.prepare(&model, &[vec![1, 784]]);
    assert!(matches!(one, Err(RuntimeError::WorkLimit { .. })), "{one:?}");
    // Work grows with the batch, and a generous limit lets it run.
    let loose = Runtime::new(RuntimeConfig::default());
    let m = loose.load(&cid, &bytes).unwrap();
    let w1 = loose.prepare(&m, &[vec![1, 784]]).unwrap().work();
    let w8 = loose.prepare(&m, &[vec![8, 784]]).unwrap().work();
    assert!(w8 > 7 * w1, "{w1} {w8}");
}

#[test]
fn shapes_the_graph_cannot_take_are_rejected_with_the_reason() {
    let rt = Runtime::new(RuntimeConfig::default());
    let (cid, bytes) = model_bytes("ch_PP-OCRv4_rec_infer");
    let model = rt.load(&cid, &bytes).unwrap();
    // An empty batch fits the declared `?,3,?,?` but a reshape inside cannot infer its `-1` from zero.
    let x = Tensor::new("x", vec![0, 3, 48, 192], TensorData::F32(vec![])).unwrap();
    let err = rt.run(&model, &[x]).unwrap_err();
    match &err {
        RuntimeError::ShapeRejected { shapes, reason } => {
            assert_eq!(shapes, &[vec![0, 3, 48, 192]]);
            assert!(reason.contains("Reshape"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().starts_with("the model rejects input shapes [[0, 3, 48, 192]]"),
        "{err}"
    );
}

#[test]
fn inspect_reports_names_types_and_symbolic_dims() {
    let (_, bytes) = model_bytes("mlp");
    let info = Runtime::inspect(&bytes).unwrap();
    assert_eq!(info.inputs.len(), 1);
    assert_eq!(info.inputs[0].name, "input");
    assert_eq!(info.inputs[0].dtype, DType::F32);
    assert_eq!(info.inputs[0].shape, vec![Dim::Symbolic("N".into()), Dim::Fixed(784)]);
    assert_eq!(info.outputs[0].name, "logits");
    assert_eq!(info.opset, 13);
    let (_, det) = model_bytes("ch_PP-OCRv4_det_infer");
    let info = Runtime::inspect(&det).unwrap();
    assert_eq!(
        info.inputs[0].shape_string(),
        "p2o.DynamicDimension.0,3,p2o.DynamicDimension.1,p2o.DynamicDimension.2"
    );
    assert_eq!(info.outputs[0].name, "sigmoid_0.tmp_0");
}

#[test]
fn cache_returns_loaded_models_and_evicts_least_recently_used() {
    let (_, mlp_bytes) = model_bytes("mlp");
    let (_, lenet_bytes) = model_bytes("lenet");
    let (_, int8_bytes) = model_bytes("mlp_int8");
    // Room for the mlp and one of the smaller models, not all three.
    let budget = (mlp_bytes.len() + lenet_bytes.len()) * (1 + ogn_runtime::MAX_PLANS_PER_MODEL);
    let rt = Runtime::new(RuntimeConfig { cache_bytes: budget, ..Default::default() });
    let load = |b: &[u8]| rt.load(&ModelCid::for_bytes(b), b).unwrap();
    let first = load(&mlp_bytes);
    assert!(std::sync::Arc::ptr_eq(&first, &load(&mlp_bytes)), "second load must hit the cache");
    load(&lenet_bytes);
    load(&mlp_bytes); // mlp is now the most recently used
    load(&int8_bytes); // evicts lenet, the least recently used
    let (count, bytes) = rt.cache_usage();
    assert!(bytes <= budget, "{bytes} > {budget}");
    assert_eq!(count, 2);
    assert!(std::sync::Arc::ptr_eq(&first, &load(&mlp_bytes)), "mlp must have stayed");
    // A model larger than the whole budget is served but not kept.
    let tiny = Runtime::new(RuntimeConfig { cache_bytes: 10, ..Default::default() });
    tiny.load(&ModelCid::for_bytes(&mlp_bytes), &mlp_bytes).unwrap();
    assert_eq!(tiny.cache_usage(), (0, 0));
}

#[test]
fn engine_id_records_engine_version_threads_and_kernels() {
    let rt = Runtime::new(RuntimeConfig::default());
    let id = rt.engine_id();
    assert!(
        id.starts_with(&format!("tract-{};onnx;threads=1;isa=", ogn_runtime::TRACT_VERSION)),
        "{id}"
    );
    // On x86_64 the float kernels are capped at AVX2+FMA, whatever the CPU offers above that.
    if cfg!(target_arch = "x86_64") {
        assert!(
            !["isa=x86_64-avx512", "isa=x86_64-fp16", "isa=x86_64-amx"]
                .iter()
                .any(|s| id.contains(s)),
            "{id}"
        );
    }
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml")).unwrap();
    let pin = format!("tract-onnx = {{ version = \"={}\"", ogn_runtime::TRACT_VERSION);
    assert!(manifest.contains(&pin), "workspace must pin {pin}");
}
