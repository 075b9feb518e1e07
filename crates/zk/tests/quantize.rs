//! Quantizing the float fixtures (MLP 784-128-10, LeNet-5) with calibration rows, writing the result
//! as ONNX and reading it back, and proving it.

use std::path::PathBuf;

use ogn_zk::{CommittedModel, load_float_onnx, load_onnx, quantize_model, to_onnx, verify};

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

/// `rows` image-like rows in [0, 1) from a xorshift stream.
fn noise(rows: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut s = seed | 1;
    (0..rows * dim)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}

#[test]
fn the_float_executor_matches_onnxruntime() {
    for name in ["mlp", "lenet"] {
        let model = load_float_onnx(&fixture(&format!("models/{name}.onnx"))).unwrap();
        let x = f32s(&fixture(&format!("reference/{name}.in0.bin")));
        let expected = f32s(&fixture(&format!("reference/{name}.out0.bin")));
        let got = model.run(&x);
        assert_eq!(got.len(), expected.len());
        for (k, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert!((g - e).abs() <= 1e-4 * (1.0 + e.abs()), "{name} output {k}: {g} vs {e}");
        }
    }
}

#[test]
fn quantized_fixtures_keep_their_predictions_and_prove() {
    for name in ["mlp", "lenet"] {
        let float = load_float_onnx(&fixture(&format!("models/{name}.onnx"))).unwrap();
        let dim = float.input_dim();
        let calibration = noise(32, dim, 7);
        let (q, report) = quantize_model(&float, &calibration).unwrap();
        assert_eq!(report.rows, 32);
        assert!(report.top1_agree >= 28, "{name}: {report:?}");
        assert!(report.max_abs_error < 0.2 * report.max_abs_output, "{name}: {report:?}");

        // Rows the calibration did not see.
        let held_out = f32s(&fixture(&format!("reference/{name}.in0.bin")));
        let r = ogn_zk::compare(&float, &q, &held_out).unwrap();
        assert_eq!(r.top1_agree, r.rows, "{name}: {r:?}");

        // The ONNX form reads back to the same model.
        let bytes = to_onnx(&q).unwrap();
        let back = load_onnx(&bytes).unwrap();
        assert_eq!(back, q, "{name}");

        // And it proves.
        let input = q.quantize_input(&held_out[..dim]);
        let committed = CommittedModel::new(&q).unwrap();
        let (out, proof) = committed.prove(&input).unwrap();
        verify(committed.commitment(), &input, &out, &proof).unwrap();
    }
}

#[test]
fn the_int8_fixtures_round_trip_through_onnx() {
    for name in ["mlp_int8", "lenet_int8", "mlp_1m_int8"] {
        let model = load_onnx(&fixture(&format!("models/{name}.onnx"))).unwrap();
        let back = load_onnx(&to_onnx(&model).unwrap()).unwrap();
        assert_eq!(back, model, "{name}");
    }
}

#[test]
fn graphs_outside_the_accepted_form_are_refused() {
    let err = load_float_onnx(&fixture("models/mlp_int8.onnx")).unwrap_err();
    assert!(err.to_string().contains("QuantizeLinear"), "{err}");
}
