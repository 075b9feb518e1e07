//! Fixture models and onnxruntime reference outputs, made by `scripts/fetch-fixtures`.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use ogn_types::{ModelCid, Tensor, TensorData};

/// The float models (three PP-OCR models from the rapidocr-onnxruntime wheel and two generated ones).
pub const FLOAT_MODELS: &[&str] = &[
    "mlp",
    "lenet",
    "ch_ppocr_mobile_v2.0_cls_infer",
    "ch_PP-OCRv4_det_infer",
    "ch_PP-OCRv4_rec_infer",
];

/// The int8-quantized generated models.
pub const INT8_MODELS: &[&str] = &["mlp_int8", "lenet_int8"];

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn read(path: PathBuf) -> Vec<u8> {
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "fixture {} is missing ({e}): run scripts/fetch-fixtures from the repository root first",
            path.display()
        )
    })
}

/// A model file's bytes and id.
pub fn model_bytes(stem: &str) -> (ModelCid, Vec<u8>) {
    let bytes = read(fixtures_dir().join("models").join(format!("{stem}.onnx")));
    (ModelCid::for_bytes(&bytes), bytes)
}

/// The fixed input and onnxruntime's outputs for a model.
pub struct Reference {
    pub inputs: Vec<Tensor>,
    pub outputs: Vec<Tensor>,
}

pub fn reference(stem: &str) -> Reference {
    let dir = fixtures_dir().join("reference");
    let manifest: serde_json::Value =
        serde_json::from_slice(&read(dir.join(format!("{stem}.json")))).expect("reference json");
    let load = |key: &str| -> Vec<Tensor> {
        manifest[key]
            .as_array()
            .expect("tensor list")
            .iter()
            .map(|t| {
                let name = t["name"].as_str().unwrap().to_string();
                let shape: Vec<usize> = t["shape"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_u64().unwrap() as usize)
                    .collect();
                let raw = read(dir.join(t["file"].as_str().unwrap()));
                let data = match t["dtype"].as_str().unwrap() {
                    "f32" => TensorData::F32(
                        raw.chunks_exact(4)
                            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                            .collect(),
                    ),
                    "i64" => TensorData::I64(
                        raw.chunks_exact(8)
                            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                            .collect(),
                    ),
                    other => panic!("unexpected dtype {other} in {stem}.json"),
                };
                Tensor::new(name, shape, data).expect("reference tensor")
            })
            .collect()
    };
    Reference { inputs: load("inputs"), outputs: load("outputs") }
}

pub fn f32s(t: &Tensor) -> &[f32] {
    match &t.data {
        TensorData::F32(v) => v,
        other => panic!("tensor {} is {:?}, not f32", t.name, other.dtype()),
    }
}

/// Largest absolute difference, and largest difference relative to the reference's largest magnitude.
pub fn max_diff(got: &[f32], want: &[f32]) -> (f32, f32) {
    assert_eq!(got.len(), want.len());
    let abs = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    let scale = want.iter().map(|x| x.abs()).fold(0f32, f32::max).max(f32::MIN_POSITIVE);
    (abs, abs / scale)
}
