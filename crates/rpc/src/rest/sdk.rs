//! The JSON OpenGradient's SDK (`opengradient` 1.1.4, `Alpha._get_inference_result_from_node`) parses from
//! `GET /artela-network/artela-rollkit/inference/tx/{id}`:
//!
//! ```text
//! {"inference_results": [ base64( JSON ) ]}
//! JSON = {"InferenceResult": {"VanillaResult": {"model_output": M}}}                      (mode 0, VANILLA)
//!      | {"InferenceResult": {"ZkmlResult": {"model_output": M}}}                         (mode 1, ZKML)
//!      | {"InferenceResult": {"TeeNodeResult": {"Response": {"VanillaResponse": {"model_output": M}}}}} (mode 2)
//! M = {"numbers": [{"name", "shape", "values": [{"value", "decimals"}]}],
//!      "strings": [{"name", "shape", "values": [string]}],
//!      "jsons":   [{"name", "value"}],
//!      "is_simulation_result": bool}
//! ```
//!
//! The SDK reads `M` with `convert_to_model_output`: each number becomes `int(value) / 10**decimals` and is
//! reshaped with `shape`, so `shape` is present on string tensors too (their length, as the ABI has none).
//! `value` and `decimals` are JSON numbers when they fit 64 bits and decimal strings otherwise (Python's `int`
//! reads both; JSON numbers past 64 bits are lost by many parsers).

use base64::Engine;
use ogn_types::opengradient::ModelOutput;
use serde_json::{Value, json};

fn int_json(v: i128) -> Value {
    match i64::try_from(v) {
        Ok(small) => Value::from(small),
        Err(_) => Value::String(v.to_string()),
    }
}

/// `M` above: a [`ModelOutput`] as the SDK reads it.
pub fn model_output_json(output: &ModelOutput) -> Value {
    let numbers: Vec<Value> = output
        .numbers
        .iter()
        .map(|t| {
            let values: Vec<Value> = t
                .values
                .iter()
                .map(|n| json!({ "value": int_json(n.value), "decimals": int_json(n.decimals) }))
                .collect();
            json!({ "name": t.name, "shape": t.shape, "values": values })
        })
        .collect();
    let strings: Vec<Value> = output
        .strings
        .iter()
        .map(|t| json!({ "name": t.name, "shape": [t.values.len()], "values": t.values }))
        .collect();
    let jsons: Vec<Value> =
        output.jsons.iter().map(|j| json!({ "name": j.name, "value": j.value })).collect();
    json!({
        "numbers": numbers,
        "strings": strings,
        "jsons": jsons,
        "is_simulation_result": output.is_simulation_result,
    })
}

/// `{"InferenceResult": …}` for an inference of `mode` (0 VANILLA, 1 ZKML, 2 TEE); `None` for other modes.
pub fn inference_result_json(mode: u8, output: &ModelOutput) -> Option<Value> {
    let model_output = json!({ "model_output": model_output_json(output) });
    let inner = match mode {
        0 => json!({ "VanillaResult": model_output }),
        1 => json!({ "ZkmlResult": model_output }),
        2 => json!({ "TeeNodeResult": { "Response": { "VanillaResponse": model_output } } }),
        _ => return None,
    };
    Some(json!({ "InferenceResult": inner }))
}

/// The whole response body: `{"inference_results": [base64(JSON)]}`.
pub fn inference_results_body(mode: u8, output: &ModelOutput) -> Option<Value> {
    let result = inference_result_json(mode, output)?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(result.to_string());
    Some(json!({ "inference_results": [encoded] }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ogn_types::opengradient::{AbiNumber, JsonScalar, NumberTensor, StringTensor};

    fn output() -> ModelOutput {
        ModelOutput {
            numbers: vec![NumberTensor {
                name: "y".into(),
                values: vec![
                    AbiNumber { value: 15, decimals: 1 },
                    AbiNumber { value: i128::MAX, decimals: 0 },
                ],
                shape: vec![1, 2],
            }],
            strings: vec![StringTensor { name: "s".into(), values: vec!["a".into(), "b".into()] }],
            jsons: vec![JsonScalar { name: "j".into(), value: "{\"k\":1}".into() }],
            is_simulation_result: false,
        }
    }

    #[test]
    fn body_decodes_to_the_sdk_shape() {
        let body = inference_results_body(0, &output()).unwrap();
        let encoded = body["inference_results"][0].as_str().unwrap();
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
        let result: Value = serde_json::from_slice(&decoded).unwrap();
        let m = &result["InferenceResult"]["VanillaResult"]["model_output"];
        assert_eq!(m["numbers"][0]["name"], "y");
        assert_eq!(m["numbers"][0]["shape"], json!([1, 2]));
        assert_eq!(m["numbers"][0]["values"][0], json!({"value": 15, "decimals": 1}));
        assert_eq!(m["numbers"][0]["values"][1]["value"], json!(i128::MAX.to_string()));
        assert_eq!(m["strings"][0], json!({"name": "s", "shape": [2], "values": ["a", "b"]}));
        assert_eq!(m["jsons"][0], json!({"name": "j", "value": "{\"k\":1}"}));
    }

    #[test]
    fn modes_choose_the_envelope() {
        let zk = inference_result_json(1, &output()).unwrap();
        assert!(zk["InferenceResult"]["ZkmlResult"]["model_output"].is_object());
        let tee = inference_result_json(2, &output()).unwrap();
        assert!(
            tee["InferenceResult"]["TeeNodeResult"]["Response"]["VanillaResponse"]["model_output"]
                .is_object()
        );
        assert!(inference_result_json(3, &output()).is_none());
    }
}
