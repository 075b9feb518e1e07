//! Loading a [`QuantizedModel`] from an ONNX file in QOperator form.
//!
//! Accepted graph (what `scripts/gen_models.py` writes for `mlp_int8.onnx`, and what onnxruntime's
//! static quantizer writes for MLPs):
//!
//! ```text
//! input ─QuantizeLinear─► QLinearMatMul ─► [DequantizeLinear ─► Add(bias) ─► Relu? ─► QuantizeLinear ─► QLinearMatMul ─►]*
//!        DequantizeLinear ─► Add(bias)? ─► output
//! ```
//!
//! Scales and zero points must be per-tensor constants; weights int8 with zero point 0.
//! Only the handful of protobuf fields this needs are decoded (prost), so no ONNX runtime is pulled in.

use std::collections::HashMap;

use prost::Message;

use crate::error::ModelError;
use crate::model::{Dense, InputQuant, OutputDequant, QuantizedModel, Requant, Rescale, Stage};

#[derive(Clone, PartialEq, Message)]
struct ModelProto {
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
}

#[derive(Clone, PartialEq, Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeProto>,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, Message)]
struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    output: Vec<String>,
    #[prost(string, tag = "3")]
    name: String,
    #[prost(string, tag = "4")]
    op_type: String,
    #[prost(string, tag = "7")]
    domain: String,
}

#[derive(Clone, PartialEq, Message)]
struct ValueInfoProto {
    #[prost(string, tag = "1")]
    name: String,
}

#[derive(Clone, PartialEq, Message)]
struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    data_type: i32,
    #[prost(float, repeated, tag = "4")]
    float_data: Vec<f32>,
    #[prost(int32, repeated, tag = "5")]
    int32_data: Vec<i32>,
    #[prost(string, tag = "8")]
    name: String,
    #[prost(bytes = "vec", tag = "9")]
    raw_data: Vec<u8>,
}

// ONNX TensorProto.DataType values.
const FLOAT: i32 = 1;
const UINT8: i32 = 2;
const INT8: i32 = 3;
const INT32: i32 = 6;

/// A decoded constant tensor.
struct Const {
    dims: Vec<usize>,
    data: ConstData,
}

enum ConstData {
    F32(Vec<f32>),
    I8(Vec<i8>),
    I32(Vec<i32>),
}

fn decode_tensor(t: &TensorProto) -> Result<Const, ModelError> {
    let bad = |why: &str| ModelError::Onnx(format!("initializer {:?}: {why}", t.name));
    let dims = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| bad("negative dimension")))
        .collect::<Result<Vec<_>, _>>()?;
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad("element count overflows"))?;
    let data = match t.data_type {
        FLOAT => {
            let v: Vec<f32> = if t.raw_data.is_empty() {
                t.float_data.clone()
            } else {
                t.raw_data
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            };
            ConstData::F32(v)
        }
        INT8 | UINT8 => {
            let signed = t.data_type == INT8;
            let raw: Vec<i32> = if t.raw_data.is_empty() {
                t.int32_data.clone()
            } else {
                t.raw_data
                    .iter()
                    .map(|&b| if signed { i32::from(b as i8) } else { i32::from(b) })
                    .collect()
            };
            if !signed {
                return Err(bad("uint8 tensors are not supported (use int8 quantization)"));
            }
            let v = raw
                .into_iter()
                .map(|x| i8::try_from(x).map_err(|_| bad("int8 value out of range")))
                .collect::<Result<Vec<_>, _>>()?;
            ConstData::I8(v)
        }
        INT32 => {
            let v: Vec<i32> = if t.raw_data.is_empty() {
                t.int32_data.clone()
            } else {
                t.raw_data
                    .chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            };
            ConstData::I32(v)
        }
        other => return Err(bad(&format!("unsupported data type {other}"))),
    };
    let len = match &data {
        ConstData::F32(v) => v.len(),
        ConstData::I8(v) => v.len(),
        ConstData::I32(v) => v.len(),
    };
    if len != count {
        return Err(bad(&format!("{len} values for shape {dims:?}")));
    }
    Ok(Const { dims, data })
}

struct Graph {
    consts: HashMap<String, Const>,
}

impl Graph {
    fn get(&self, name: &str) -> Result<&Const, ModelError> {
        self.consts
            .get(name)
            .ok_or_else(|| ModelError::Onnx(format!("{name:?} must be a constant initializer")))
    }

    fn scalar_f32(&self, name: &str) -> Result<f32, ModelError> {
        match &self.get(name)?.data {
            ConstData::F32(v) if v.len() == 1 => Ok(v[0]),
            _ => Err(ModelError::Onnx(format!("{name:?} must be a single f32 (per-tensor scale)"))),
        }
    }

    fn scalar_i8(&self, name: &str) -> Result<i8, ModelError> {
        match &self.get(name)?.data {
            ConstData::I8(v) if v.len() == 1 => Ok(v[0]),
            _ => Err(ModelError::Onnx(format!(
                "{name:?} must be a single int8 (per-tensor zero point)"
            ))),
        }
    }

    fn vec_f32(&self, name: &str) -> Result<Vec<f32>, ModelError> {
        match &self.get(name)?.data {
            ConstData::F32(v) => Ok(v.clone()),
            _ => Err(ModelError::Onnx(format!("{name:?} must be an f32 tensor"))),
        }
    }
}

/// Parses ONNX bytes into a quantized model.
pub fn load_onnx(bytes: &[u8]) -> Result<QuantizedModel, ModelError> {
    let model = ModelProto::decode(bytes)
        .map_err(|e| ModelError::Onnx(format!("not an ONNX model: {e}")))?;
    let graph = model.graph.ok_or_else(|| ModelError::Onnx("the model has no graph".into()))?;
    let mut consts = HashMap::new();
    for t in &graph.initializer {
        consts.insert(t.name.clone(), decode_tensor(t)?);
    }
    let g = Graph { consts };
    let inputs: Vec<&str> = graph
        .input
        .iter()
        .map(|v| v.name.as_str())
        .filter(|n| !g.consts.contains_key(*n))
        .collect();
    let [input_name] = inputs.as_slice() else {
        return Err(ModelError::Onnx(format!("expected one graph input, found {inputs:?}")));
    };
    let [output] = graph.output.as_slice() else {
        return Err(ModelError::Onnx("expected one graph output".into()));
    };
    let nodes = &graph.node;
    for n in nodes {
        if !n.domain.is_empty() && n.domain != "ai.onnx" {
            return Err(ModelError::Onnx(format!(
                "node {:?}: operator domain {:?} is not supported",
                n.name, n.domain
            )));
        }
    }
    let op = |i: usize| nodes.get(i).map(|n| n.op_type.as_str());
    let arg = |n: &NodeProto, k: usize| -> Result<String, ModelError> {
        n.input
            .get(k)
            .cloned()
            .ok_or_else(|| ModelError::Onnx(format!("node {:?} lacks input {k}", n.name)))
    };
    let out = |n: &NodeProto| -> Result<String, ModelError> {
        n.output
            .first()
            .cloned()
            .ok_or_else(|| ModelError::Onnx(format!("node {:?} has no output", n.name)))
    };
    let expect = |i: usize, want: &str| -> Result<&NodeProto, ModelError> {
        match nodes.get(i) {
            Some(n) if n.op_type == want => Ok(n),
            Some(n) => Err(ModelError::Onnx(format!(
                "unsupported graph: node {:?} is {} where {want} was expected",
                n.name, n.op_type
            ))),
            None => Err(ModelError::Onnx(format!(
                "unsupported graph: it ends where {want} was expected"
            ))),
        }
    };
    let chain = |n: &NodeProto, from: &str| -> Result<(), ModelError> {
        if n.input.first().map(String::as_str) == Some(from) {
            Ok(())
        } else {
            Err(ModelError::Onnx(format!("node {:?} does not consume {from:?}", n.name)))
        }
    };

    // QuantizeLinear on the graph input.
    let q = expect(0, "QuantizeLinear")?;
    chain(q, input_name)?;
    let input =
        InputQuant { scale: g.scalar_f32(&arg(q, 1)?)?, zero_point: g.scalar_i8(&arg(q, 2)?)? };
    let mut cur = out(q)?;
    let mut i = 1;
    let mut stages = Vec::new();
    let mut input_dim = None;
    loop {
        let mm = expect(i, "QLinearMatMul")?;
        chain(mm, &cur)?;
        let x_scale = g.scalar_f32(&arg(mm, 1)?)?;
        let x_zp = g.scalar_i8(&arg(mm, 2)?)?;
        let w = g.get(&arg(mm, 3)?)?;
        let w_scale = g.scalar_f32(&arg(mm, 4)?)?;
        if g.scalar_i8(&arg(mm, 5)?)? != 0 {
            return Err(ModelError::Onnx(format!(
                "node {:?}: weight zero point must be 0",
                mm.name
            )));
        }
        let y_scale = g.scalar_f32(&arg(mm, 6)?)?;
        let y_zp = g.scalar_i8(&arg(mm, 7)?)?;
        let (ConstData::I8(wv), [k, m]) = (&w.data, w.dims.as_slice()) else {
            return Err(ModelError::Onnx(format!(
                "node {:?}: weights must be a 2-D int8 constant",
                mm.name
            )));
        };
        let (k, m) = (*k, *m);
        input_dim.get_or_insert(k);
        // ONNX stores B as [k][m]; keep rows per output.
        let mut weights = vec![0i8; k * m];
        for r in 0..k {
            for c in 0..m {
                weights[c * k + r] = wv[r * m + c];
            }
        }
        stages.push(Stage::Dense(Dense {
            in_dim: k,
            out_dim: m,
            input_zero_point: x_zp,
            weights,
            bias: vec![0; m],
            requant: Requant { multiplier: (x_scale * w_scale) / y_scale, zero_point: y_zp },
        }));
        cur = out(mm)?;
        i += 1;

        // DequantizeLinear, Add(bias) — then either Relu? + QuantizeLinear + next QLinearMatMul, or the end.
        let dq = expect(i, "DequantizeLinear")?;
        chain(dq, &cur)?;
        let in_scale = g.scalar_f32(&arg(dq, 1)?)?;
        let in_zero_point = g.scalar_i8(&arg(dq, 2)?)?;
        cur = out(dq)?;
        i += 1;
        let mut bias = vec![0.0f32; m];
        if op(i) == Some("Add") {
            let add = &nodes[i];
            let (a, b) = (arg(add, 0)?, arg(add, 1)?);
            let name = if a == cur {
                b
            } else if b == cur {
                a
            } else {
                return Err(ModelError::Onnx(format!(
                    "node {:?} does not consume {cur:?}",
                    add.name
                )));
            };
            bias = g.vec_f32(&name)?;
            if bias.len() != m {
                return Err(ModelError::Onnx(format!(
                    "node {:?}: bias has {} values for {m} outputs",
                    add.name,
                    bias.len()
                )));
            }
            cur = out(add)?;
            i += 1;
        }
        if i == nodes.len() {
            if cur != output.name {
                return Err(ModelError::Onnx(format!(
                    "the last node writes {cur:?}, not the graph output"
                )));
            }
            let output = OutputDequant { scale: in_scale, zero_point: in_zero_point, bias };
            let model = QuantizedModel { input_dim: input_dim.unwrap_or(0), input, stages, output };
            model.validate()?;
            return Ok(model);
        }
        let mut relu = false;
        if op(i) == Some("Relu") {
            chain(&nodes[i], &cur)?;
            cur = out(&nodes[i])?;
            relu = true;
            i += 1;
        }
        let ql = expect(i, "QuantizeLinear")?;
        chain(ql, &cur)?;
        stages.push(Stage::Rescale(Rescale {
            in_scale,
            in_zero_point,
            bias,
            relu,
            out_scale: g.scalar_f32(&arg(ql, 1)?)?,
            out_zero_point: g.scalar_i8(&arg(ql, 2)?)?,
        }));
        cur = out(ql)?;
        i += 1;
    }
}
