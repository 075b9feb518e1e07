//! The JSON users type and the JSON ogn prints.
//!
//! Input: an object from tensor name to value, the shape OpenGradient's SDK takes as `model_input`:
//! ```json
//! {"image": [[0.1, 0.2], [0.3, 0.4]], "k": 10, "words": ["hello", "world"]}
//! ```
//! Nested arrays give the shape (they must be rectangular); numbers are read exactly as written
//! ([`Number`]); a value may also be explicit: `{"shape": [2, 2], "values": [...]}` (flat values).
//!
//! Output: an object from tensor name to `{"dtype", "shape", "values"}`; floats print as the shortest decimal
//! that reads back as the same float, decimals as exact strings, NaN and ±∞ as strings `"NaN"`, `"inf"`, `"-inf"`.

use serde_json::{Map, Value};

use crate::{
    number::Number,
    tensor::{Tensor, TensorData, TensorError, element_count},
};

/// Why a JSON value is not a tensor list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// The top level is not an object.
    #[error("input must be a JSON object from tensor name to value")]
    NotAnObject,
    /// Sub-arrays of different lengths, or arrays mixed with scalars.
    #[error("tensor `{0}`: nested arrays are not rectangular")]
    Ragged(String),
    /// Numbers and strings mixed, or something that is neither (null, object in an array).
    #[error("tensor `{name}`: {reason}")]
    BadValue {
        /// Tensor name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// Shape and values disagree, or the shape overflows.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// Not JSON at all.
    #[error("invalid JSON: {0}")]
    Syntax(String),
}

/// Parses user input text into tensors (see the module docs for the format).
pub fn parse_input(text: &str) -> Result<Vec<Tensor>, JsonError> {
    let value: Value = serde_json::from_str(text).map_err(|e| JsonError::Syntax(e.to_string()))?;
    tensors_from_json(&value)
}

/// Reads tensors from an already parsed JSON value.
pub fn tensors_from_json(value: &Value) -> Result<Vec<Tensor>, JsonError> {
    let object = value.as_object().ok_or(JsonError::NotAnObject)?;
    object.iter().map(|(name, v)| tensor_from_json(name, v)).collect()
}

fn tensor_from_json(name: &str, value: &Value) -> Result<Tensor, JsonError> {
    if let Value::Object(fields) = value {
        return explicit_tensor(name, fields);
    }
    let mut shape = Vec::new();
    let mut probe = value;
    while let Value::Array(items) = probe {
        shape.push(items.len());
        match items.first() {
            Some(first) => probe = first,
            None => break,
        }
    }
    element_count(name, &shape)?;
    let mut leaves = Vec::new();
    collect_leaves(name, value, &shape, &mut leaves)?;
    Ok(Tensor::new(name, shape, leaves_to_data(name, &leaves)?)?)
}

fn explicit_tensor(name: &str, fields: &Map<String, Value>) -> Result<Tensor, JsonError> {
    let bad = |reason: &str| JsonError::BadValue { name: name.into(), reason: reason.into() };
    let values = fields
        .get("values")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("object value needs a `values` array"))?;
    let shape = match fields.get("shape") {
        None => vec![values.len()],
        Some(Value::Array(dims)) => dims
            .iter()
            .map(|d| {
                d.as_u64()
                    .and_then(|d| usize::try_from(d).ok())
                    .ok_or_else(|| bad("shape must be non-negative integers"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad("shape must be an array")),
    };
    let leaves: Vec<&Value> = values.iter().collect();
    Ok(Tensor::new(name, shape, leaves_to_data(name, &leaves)?)?)
}

fn collect_leaves<'a>(
    name: &str,
    value: &'a Value,
    shape: &[usize],
    out: &mut Vec<&'a Value>,
) -> Result<(), JsonError> {
    match (value, shape.split_first()) {
        (Value::Array(items), Some((&len, rest))) => {
            if items.len() != len {
                return Err(JsonError::Ragged(name.into()));
            }
            items.iter().try_for_each(|item| collect_leaves(name, item, rest, out))
        }
        (Value::Array(_), None) | (_, Some(_)) => Err(JsonError::Ragged(name.into())),
        (leaf, None) => {
            out.push(leaf);
            Ok(())
        }
    }
}

fn leaves_to_data(name: &str, leaves: &[&Value]) -> Result<TensorData, JsonError> {
    let bad = |reason: String| JsonError::BadValue { name: name.into(), reason };
    if leaves.iter().all(|v| v.is_string()) && !leaves.is_empty() {
        return Ok(TensorData::String(
            leaves.iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect(),
        ));
    }
    leaves
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            // serde_json prints a float as its shortest round-trip form, as Python's `str(float)` does.
            Value::Number(n) => {
                n.to_string().parse::<Number>().map_err(|e| bad(format!("element {i}: {e}")))
            }
            Value::Bool(b) => Ok(Number::from_int(i128::from(*b))),
            Value::String(s) => Err(bad(format!("element {i} is the string {s:?} among numbers"))),
            other => Err(bad(format!("element {i} is {other}, not a number or string"))),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(TensorData::Decimal)
}

fn float_json(x: f64) -> Value {
    if x.is_finite() {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    } else if x.is_nan() {
        Value::String("NaN".into())
    } else if x > 0.0 {
        Value::String("inf".into())
    } else {
        Value::String("-inf".into())
    }
}

fn f32_json(x: f32) -> Value {
    // Through the shortest f32 decimal, so 0.1f32 prints as 0.1 rather than 0.10000000149011612.
    match Number::from_f32(x).ok().and_then(|n| n.to_string().parse::<f64>().ok()) {
        Some(y) => float_json(y),
        None => float_json(f64::from(x)),
    }
}

/// The printed form of one tensor: `{"dtype", "shape", "values"}`.
pub fn tensor_to_json(tensor: &Tensor) -> Value {
    let values: Vec<Value> = match &tensor.data {
        TensorData::F32(v) => v.iter().map(|&x| f32_json(x)).collect(),
        TensorData::F64(v) => v.iter().map(|&x| float_json(x)).collect(),
        TensorData::I64(v) => v.iter().map(|&x| Value::from(x)).collect(),
        TensorData::I32(v) => v.iter().map(|&x| Value::from(x)).collect(),
        TensorData::I8(v) => v.iter().map(|&x| Value::from(x)).collect(),
        TensorData::U8(v) => v.iter().map(|&x| Value::from(x)).collect(),
        TensorData::Bool(v) => v.iter().map(|&x| Value::from(x)).collect(),
        TensorData::Decimal(v) => v.iter().map(|n| Value::String(n.to_string())).collect(),
        TensorData::String(v) => v.iter().map(|s| Value::String(s.clone())).collect(),
    };
    serde_json::json!({ "dtype": tensor.dtype().name(), "shape": tensor.shape, "values": values })
}

/// The printed form of a tensor list: an object from name to [`tensor_to_json`].
pub fn tensors_to_json(tensors: &[Tensor]) -> Value {
    Value::Object(tensors.iter().map(|t| (t.name.clone(), tensor_to_json(t))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DType;

    /// An input kept as JSON and read back is the same input: numbers are taken by their decimal form, so
    /// parsing must give back exactly the float that was printed (serde_json's `float_roundtrip`).
    #[test]
    fn inputs_survive_a_json_round_trip_exactly() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let values: Vec<f64> = (0..20_000)
            .map(|i| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let x = f64::from_bits((state >> 12) | 0x3ff0_0000_0000_0000) - 1.0;
                if i % 2 == 0 { f64::from(x as f32) } else { x * 1e-3 }
            })
            .collect();
        let value = serde_json::json!({ "x": values });
        let again: Value = serde_json::from_str(&serde_json::to_string(&value).unwrap()).unwrap();
        assert_eq!(again, value);
        assert_eq!(tensors_from_json(&again).unwrap(), tensors_from_json(&value).unwrap());
    }

    #[test]
    fn nested_arrays_give_the_shape() {
        let tensors =
            parse_input(r#"{"x": [[1, 2.5], [3, -4e-3]], "k": 10, "s": ["a", "b"]}"#).unwrap();
        let x = tensors.iter().find(|t| t.name == "x").unwrap();
        assert_eq!(x.shape, vec![2, 2]);
        assert_eq!(x.to_f32().unwrap(), vec![1.0, 2.5, 3.0, -0.004]);
        let k = tensors.iter().find(|t| t.name == "k").unwrap();
        assert_eq!(k.shape, Vec::<usize>::new());
        let s = tensors.iter().find(|t| t.name == "s").unwrap();
        assert_eq!(s.dtype(), DType::String);
    }

    #[test]
    fn explicit_form() {
        let t = parse_input(r#"{"x": {"shape": [2, 1], "values": [1, 2]}}"#).unwrap();
        assert_eq!(t[0].shape, vec![2, 1]);
        let err = parse_input(r#"{"x": {"shape": [3], "values": [1, 2]}}"#).unwrap_err();
        assert!(err.to_string().contains("needs 3 elements but 2 were given"), "{err}");
        let err =
            parse_input(r#"{"x": {"shape": [4294967296, 4294967296, 4294967296], "values": []}}"#)
                .unwrap_err();
        assert!(matches!(err, JsonError::Tensor(TensorError::ShapeOverflow { .. })), "{err}");
    }

    #[test]
    fn bad_input_is_named() {
        assert_eq!(parse_input("[1]").unwrap_err(), JsonError::NotAnObject);
        assert_eq!(
            parse_input(r#"{"x": [[1, 2], [3]]}"#).unwrap_err(),
            JsonError::Ragged("x".into())
        );
        assert_eq!(
            parse_input(r#"{"x": [[1, 2], 3]}"#).unwrap_err(),
            JsonError::Ragged("x".into())
        );
        let err = parse_input(r#"{"x": [1, "two"]}"#).unwrap_err();
        assert!(err.to_string().contains("tensor `x`: element 1 is the string \"two\""), "{err}");
        assert!(matches!(parse_input("{"), Err(JsonError::Syntax(_))));
        assert!(parse_input(r#"{"x": null}"#).is_err());
    }

    #[test]
    fn output_round_trips_through_input() {
        let t = Tensor::new("y", vec![3], TensorData::F32(vec![0.1, -2.5, 1e-8])).unwrap();
        let printed = tensors_to_json(std::slice::from_ref(&t));
        assert_eq!(printed["y"]["values"][0], serde_json::json!(0.1));
        let back = tensors_from_json(&printed).unwrap();
        assert_eq!(back[0].cast(DType::F32).unwrap(), t);
    }
}
