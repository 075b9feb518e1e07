//! The ABI declared in `ogn_chain::inference` matches OpenGradient's ABI files (abi/, copied unchanged from
//! the `opengradient` 1.1.4 wheel): every function selector and event topic.

use alloy::{
    primitives::keccak256,
    sol_types::{SolCall, SolEvent},
};
use ogn_chain::inference::{IInference, IInferencePrecompile};
use serde_json::Value;

fn canonical(param: &Value) -> String {
    let ty = param["type"].as_str().unwrap();
    match ty.strip_prefix("tuple") {
        Some(suffix) => {
            let inner: Vec<String> =
                param["components"].as_array().unwrap().iter().map(canonical).collect();
            format!("({}){suffix}", inner.join(","))
        }
        None => ty.to_string(),
    }
}

fn signatures(file: &str) -> Vec<(String, String)> {
    let path = format!("{}/abi/{file}", env!("CARGO_MANIFEST_DIR"));
    let abi: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    abi.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let inputs: Vec<String> =
                e["inputs"].as_array().unwrap().iter().map(canonical).collect();
            (
                e["type"].as_str().unwrap().to_string(),
                format!("{}({})", e["name"].as_str().unwrap(), inputs.join(",")),
            )
        })
        .collect()
}

fn find(sigs: &[(String, String)], kind: &str, name: &str) -> String {
    sigs.iter()
        .find(|(k, s)| k == kind && s.starts_with(&format!("{name}(")))
        .unwrap_or_else(|| panic!("{kind} {name} not in the ABI"))
        .1
        .clone()
}

#[test]
fn precompile_selectors_and_topics_match_the_abi_file() {
    let sigs = signatures("InferencePrecompile.abi");
    assert_eq!(
        IInferencePrecompile::runModelInferenceCall::SIGNATURE,
        find(&sigs, "function", "runModelInference")
    );
    assert_eq!(
        IInferencePrecompile::runLLMCompletionCall::SIGNATURE,
        find(&sigs, "function", "runLLMCompletion")
    );
    assert_eq!(
        IInferencePrecompile::runLLMChatCall::SIGNATURE,
        find(&sigs, "function", "runLLMChat")
    );
    let event = find(&sigs, "event", "ModelInferenceEvent");
    assert_eq!(
        IInferencePrecompile::ModelInferenceEvent::SIGNATURE_HASH,
        keccak256(event.as_bytes())
    );
    assert_eq!(
        IInferencePrecompile::runModelInferenceCall::SELECTOR,
        keccak256(find(&sigs, "function", "runModelInference").as_bytes())[..4]
    );
}

#[test]
fn inference_contract_selectors_and_topics_match_the_abi_file() {
    let sigs = signatures("inference.abi");
    assert_eq!(IInference::runCall::SIGNATURE, find(&sigs, "function", "run"));
    assert_eq!(
        IInference::runLLMCompletionCall::SIGNATURE,
        find(&sigs, "function", "runLLMCompletion")
    );
    assert_eq!(IInference::runLLMChatCall::SIGNATURE, find(&sigs, "function", "runLLMChat"));
    let event = find(&sigs, "event", "InferenceResult");
    assert_eq!(IInference::InferenceResult::SIGNATURE_HASH, keccak256(event.as_bytes()));
}
