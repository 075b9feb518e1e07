//! One byte encoding for tensor lists, and the result id built on it.
//!
//! ```text
//! tensors  := u32 count ‖ tensor*            (sorted by name, bytewise)
//! tensor   := str name ‖ u8 dtype tag ‖ u32 rank ‖ u64 dim* ‖ element*   (count = product of dims)
//! element  := f32: u32 bits | f64: u64 bits | i64/i32/i8: two's complement | u8 | bool: 0/1
//!           | decimal: i128 value ‖ i128 decimals (normalized, see Number::normalized) | string: str
//! str      := u32 byte length ‖ UTF-8 bytes
//! ```
//! Integers are big-endian. Floats are encoded by their bits, so `-0.0` and `0.0` (and distinct NaN payloads)
//! are different results: the encoding records exactly what an engine produced.
//!
//! The result id names one inference everywhere (receipts, events, the REST API):
//! `keccak256("ogn-result-v1" ‖ str(model CID bytes) ‖ tensors(inputs) ‖ tensors(outputs) ‖ str(engine id))`.

use alloy::primitives::{B256, keccak256};

use crate::{
    cid::ModelCid,
    tensor::{Tensor, TensorData},
};

/// `keccak256` of the canonical encoding of one inference (see the module docs).
pub type ResultId = B256;

/// Domain separator of result ids.
const RESULT_DOMAIN: &[u8] = b"ogn-result-v1";

fn put_len(out: &mut Vec<u8>, len: usize) {
    // Lengths above u32::MAX cannot come from a valid ABI payload; saturating keeps this total.
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
}

fn put_str(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Appends the canonical encoding of one tensor.
pub fn encode_tensor(out: &mut Vec<u8>, tensor: &Tensor) {
    put_str(out, tensor.name.as_bytes());
    out.push(tensor.dtype().tag());
    put_len(out, tensor.shape.len());
    for &d in &tensor.shape {
        out.extend_from_slice(&(d as u64).to_be_bytes());
    }
    match &tensor.data {
        TensorData::F32(v) => {
            v.iter().for_each(|x| out.extend_from_slice(&x.to_bits().to_be_bytes()))
        }
        TensorData::F64(v) => {
            v.iter().for_each(|x| out.extend_from_slice(&x.to_bits().to_be_bytes()))
        }
        TensorData::I64(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
        TensorData::I32(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
        TensorData::I8(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
        TensorData::U8(v) => out.extend_from_slice(v),
        TensorData::Bool(v) => v.iter().for_each(|&x| out.push(u8::from(x))),
        TensorData::Decimal(v) => v.iter().for_each(|n| {
            let n = n.normalized();
            out.extend_from_slice(&n.value.to_be_bytes());
            out.extend_from_slice(&n.decimals.to_be_bytes());
        }),
        TensorData::String(v) => v.iter().for_each(|s| put_str(out, s.as_bytes())),
    }
}

/// The canonical encoding of a tensor list: sorted by name, so the order a client sent them in does not matter.
pub fn encode_tensors(tensors: &[Tensor]) -> Vec<u8> {
    let mut sorted: Vec<&Tensor> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let mut out = Vec::new();
    put_len(&mut out, sorted.len());
    for t in sorted {
        encode_tensor(&mut out, t);
    }
    out
}

/// The id of an inference result: which model, on what, gave what, on which engine.
pub fn result_id(
    model: &ModelCid,
    inputs: &[Tensor],
    outputs: &[Tensor],
    engine_id: &str,
) -> ResultId {
    let mut bytes = RESULT_DOMAIN.to_vec();
    put_str(&mut bytes, &model.to_bytes());
    bytes.extend_from_slice(&encode_tensors(inputs));
    bytes.extend_from_slice(&encode_tensors(outputs));
    put_str(&mut bytes, engine_id.as_bytes());
    keccak256(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::Number;

    fn sample() -> (ModelCid, Vec<Tensor>, Vec<Tensor>) {
        let cid = ModelCid::for_bytes(b"model");
        let a = Tensor::new(
            "a",
            vec![2],
            TensorData::Decimal(vec![Number::new(15, 1), Number::new(2, 0)]),
        )
        .unwrap();
        let b = Tensor::vector("b", TensorData::String(vec!["hi".into()]));
        let y = Tensor::new("y", vec![1, 2], TensorData::F32(vec![0.5, -1.0])).unwrap();
        (cid, vec![a, b], vec![y])
    }

    #[test]
    fn order_of_inputs_does_not_matter_but_everything_else_does() {
        let (cid, inputs, outputs) = sample();
        let id = result_id(&cid, &inputs, &outputs, "e1");
        let reversed: Vec<Tensor> = inputs.iter().rev().cloned().collect();
        assert_eq!(result_id(&cid, &reversed, &outputs, "e1"), id);
        assert_ne!(result_id(&cid, &inputs, &outputs, "e2"), id);
        assert_ne!(result_id(&ModelCid::for_bytes(b"other"), &inputs, &outputs, "e1"), id);
        let mut changed = outputs.clone();
        changed[0].data = TensorData::F32(vec![0.5, -1.000_000_1]);
        assert_ne!(result_id(&cid, &inputs, &changed, "e1"), id);
        // Same numbers, different shape.
        let mut reshaped = outputs.clone();
        reshaped[0].shape = vec![2, 1];
        assert_ne!(result_id(&cid, &inputs, &reshaped, "e1"), id);
        // Moving a tensor from inputs to outputs changes the id.
        let mut more_outputs = outputs.clone();
        more_outputs.push(inputs[1].clone());
        assert_ne!(result_id(&cid, &inputs[..1], &more_outputs, "e1"), id);
    }

    #[test]
    fn equal_decimals_encode_equally() {
        let a = Tensor::vector("a", TensorData::Decimal(vec![Number::new(150, 2)]));
        let b = Tensor::vector("a", TensorData::Decimal(vec![Number::new(15, 1)]));
        assert_eq!(encode_tensors(&[a]), encode_tensors(&[b]));
    }

    #[test]
    fn string_boundaries_are_unambiguous() {
        let a = Tensor::vector("s", TensorData::String(vec!["ab".into(), "c".into()]));
        let b = Tensor::vector("s", TensorData::String(vec!["a".into(), "bc".into()]));
        assert_ne!(encode_tensors(&[a]), encode_tensors(&[b]));
    }
}
