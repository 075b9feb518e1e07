//! The int8 MLP loaded from ONNX runs bit-exactly like onnxruntime on its reference input.

use std::path::PathBuf;

use ogn_zk::{ModelError, QuantizedModel, Stage, load_onnx};

fn fixture(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures").join(rel);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "fixture {} is missing ({e}): run scripts/fetch-fixtures from the repository root first",
            path.display()
        )
    })
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

#[test]
fn mlp_int8_matches_onnxruntime_bit_for_bit() {
    let model = load_onnx(&fixture("models/mlp_int8.onnx")).unwrap();
    assert_eq!(model.input_dim, 784);
    assert_eq!(model.output_dim(), 10);
    assert_eq!(model.num_weights(), 784 * 128 + 128 * 10);
    assert!(matches!(
        model.stages.as_slice(),
        [Stage::Dense(_), Stage::Rescale(_), Stage::Dense(_)]
    ));

    let meta: serde_json::Value =
        serde_json::from_slice(&fixture("reference/mlp_int8.json")).unwrap();
    assert_eq!(meta["inputs"][0]["shape"], serde_json::json!([2, 784]));
    let input = f32s(&fixture("reference/mlp_int8.in0.bin"));
    let expected = f32s(&fixture("reference/mlp_int8.out0.bin"));
    let got = model.run_f32(&input).unwrap();
    assert_eq!(got.len(), expected.len());
    for (k, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g.to_bits(), e.to_bits(), "logit {k}: ours {g}, onnxruntime {e}");
    }
}

/// Runs `model` on the reference input of fixture `name` and compares every f32 output bit for bit.
fn matches_reference(model: &QuantizedModel, name: &str) {
    let input = f32s(&fixture(&format!("reference/{name}.in0.bin")));
    let expected = f32s(&fixture(&format!("reference/{name}.out0.bin")));
    let got = model.run_f32(&input).unwrap();
    assert_eq!(got.len(), expected.len());
    for (k, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g.to_bits(), e.to_bits(), "{name} logit {k}: ours {g}, onnxruntime {e}");
    }
}

#[test]
fn lenet_int8_matches_onnxruntime_bit_for_bit() {
    let model = load_onnx(&fixture("models/lenet_int8.onnx")).unwrap();
    assert_eq!(model.input_dim, 28 * 28);
    assert_eq!(model.output_dim(), 10);
    assert_eq!(model.num_weights(), 6 * 25 + 16 * 150 + 400 * 120 + 120 * 84 + 84 * 10);
    assert!(matches!(
        model.stages.as_slice(),
        [
            Stage::Conv(_),
            Stage::Pool(_),
            Stage::Conv(_),
            Stage::Pool(_),
            Stage::Dense(_),
            Stage::Rescale(_),
            Stage::Dense(_),
            Stage::Rescale(_),
            Stage::Dense(_),
        ]
    ));
    matches_reference(&model, "lenet_int8");
}

#[test]
fn float_graphs_are_refused_with_a_reason() {
    let err = load_onnx(&fixture("models/mlp.onnx")).unwrap_err();
    assert!(matches!(err, ModelError::Onnx(ref m) if m.contains("Gemm")), "{err}");
    let err = load_onnx(&fixture("models/lenet.onnx")).unwrap_err();
    assert!(matches!(err, ModelError::Onnx(ref m) if m.contains("Conv")), "{err}");
    let err = load_onnx(b"definitely not protobuf").unwrap_err();
    assert!(matches!(err, ModelError::Onnx(_)), "{err}");
}
