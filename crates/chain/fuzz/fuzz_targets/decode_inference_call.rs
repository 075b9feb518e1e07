//! Any calldata sent to the inference precompile or the Inference hub contract: decoding gives a
//! request or a revert reason, never a panic; a decoded input converts to tensors or fails cleanly.
#![no_main]

use alloy::primitives::Address;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let hub = (data.first().copied().unwrap_or(0) & 1 == 1).then_some(Address::repeat_byte(0x83));
    let calldata = data.get(1..).unwrap_or_default();
    if let Ok((_mode, _model, input)) = ogn_chain::inference::decode_request(hub, calldata) {
        use alloy::sol_types::SolValue;
        let bytes = input.abi_encode();
        if let Ok(input) = ogn_types_input(&bytes) {
            let _ = input;
        }
    }
});

fn ogn_types_input(bytes: &[u8]) -> Result<usize, String> {
    let record = ogn_chain::InferenceRecord {
        model: String::new(),
        mode: 0,
        input: bytes.to_vec().into(),
        model_cid: None,
        output: Default::default(),
        engine_id: String::new(),
        result_id: Default::default(),
        work: 0,
        gas: 0,
        error: None,
        zk: None,
    };
    record.input_tensors().map(|t| t.len())
}
