//! Reading and writing a [`QuantizedModel`] as an ONNX file in QOperator form.
//!
//! Accepted graph ([`load_onnx`]; what `scripts/gen_models.py` writes for `mlp_int8.onnx`,
//! `lenet_int8.onnx` and `mlp_1m_int8.onnx`, what [`to_onnx`] writes, and what onnxruntime's static
//! quantizer writes for such models): one chain
//!
//! ```text
//! input ─QuantizeLinear─► ( QLinearMatMul | QLinearConv | MaxPool | Flatten | Reshape
//!                         | DequantizeLinear ─► Add(bias)? ─► Relu? ─► QuantizeLinear )*
//!        ─► DequantizeLinear ─► Add(bias)? ─► output
//! ```
//!
//! Scales and zero points must be per-tensor constants; weights int8 with zero point 0;
//! convolutions with one group, dilation 1 and explicit padding; MaxPool unpadded with floor
//! rounding. Only the handful of protobuf fields this needs are decoded (prost), so no ONNX runtime
//! is pulled in.

use std::collections::HashMap;

use prost::Message;

use crate::error::ModelError;
use crate::model::{
    Conv, Dense, InputQuant, OutputDequant, Pool, PoolKind, QuantizedModel, Requant, Rescale, Stage,
};

#[derive(Clone, PartialEq, Message)]
pub(crate) struct ModelProto {
    #[prost(int64, tag = "1")]
    pub(crate) ir_version: i64,
    #[prost(string, tag = "2")]
    pub(crate) producer_name: String,
    #[prost(message, repeated, tag = "8")]
    pub(crate) opset_import: Vec<OperatorSetIdProto>,
    #[prost(message, optional, tag = "7")]
    pub(crate) graph: Option<GraphProto>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub(crate) node: Vec<NodeProto>,
    #[prost(string, tag = "2")]
    pub(crate) name: String,
    #[prost(message, repeated, tag = "5")]
    pub(crate) initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    pub(crate) input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    pub(crate) output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    pub(crate) input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub(crate) output: Vec<String>,
    #[prost(string, tag = "3")]
    pub(crate) name: String,
    #[prost(string, tag = "4")]
    pub(crate) op_type: String,
    #[prost(message, repeated, tag = "5")]
    pub(crate) attribute: Vec<AttributeProto>,
    #[prost(string, tag = "7")]
    pub(crate) domain: String,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct AttributeProto {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(float, tag = "2")]
    pub(crate) f: f32,
    #[prost(int64, tag = "3")]
    pub(crate) i: i64,
    #[prost(bytes = "vec", tag = "4")]
    pub(crate) s: Vec<u8>,
    #[prost(int64, repeated, tag = "8")]
    pub(crate) ints: Vec<i64>,
    #[prost(int32, tag = "20")]
    pub(crate) r#type: i32,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct OperatorSetIdProto {
    #[prost(string, tag = "1")]
    pub(crate) domain: String,
    #[prost(int64, tag = "2")]
    pub(crate) version: i64,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct ValueInfoProto {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) r#type: Option<TypeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct TypeProto {
    #[prost(message, optional, tag = "1")]
    pub(crate) tensor_type: Option<TypeTensor>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct TypeTensor {
    #[prost(int32, tag = "1")]
    pub(crate) elem_type: i32,
    #[prost(message, optional, tag = "2")]
    pub(crate) shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    pub(crate) dim: Vec<Dimension>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct Dimension {
    #[prost(int64, tag = "1")]
    pub(crate) dim_value: i64,
    #[prost(string, tag = "2")]
    pub(crate) dim_param: String,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    pub(crate) dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    pub(crate) data_type: i32,
    #[prost(float, repeated, tag = "4")]
    pub(crate) float_data: Vec<f32>,
    #[prost(int32, repeated, tag = "5")]
    pub(crate) int32_data: Vec<i32>,
    #[prost(int64, repeated, tag = "7")]
    pub(crate) int64_data: Vec<i64>,
    #[prost(string, tag = "8")]
    pub(crate) name: String,
    #[prost(bytes = "vec", tag = "9")]
    pub(crate) raw_data: Vec<u8>,
}

// ONNX TensorProto.DataType values.
const FLOAT: i32 = 1;
const UINT8: i32 = 2;
const INT8: i32 = 3;
const INT32: i32 = 6;
const INT64: i32 = 7;

/// A decoded constant tensor.
pub(crate) struct Const {
    pub(crate) dims: Vec<usize>,
    pub(crate) data: ConstData,
}

pub(crate) enum ConstData {
    F32(Vec<f32>),
    I8(Vec<i8>),
    I32(Vec<i32>),
    I64(Vec<i64>),
}

pub(crate) fn decode_tensor(t: &TensorProto) -> Result<Const, ModelError> {
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
        INT64 => {
            let v: Vec<i64> = if t.raw_data.is_empty() {
                t.int64_data.clone()
            } else {
                t.raw_data
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                    .collect()
            };
            ConstData::I64(v)
        }
        other => return Err(bad(&format!("unsupported data type {other}"))),
    };
    let len = match &data {
        ConstData::F32(v) => v.len(),
        ConstData::I8(v) => v.len(),
        ConstData::I32(v) => v.len(),
        ConstData::I64(v) => v.len(),
    };
    if len != count {
        return Err(bad(&format!("{len} values for shape {dims:?}")));
    }
    Ok(Const { dims, data })
}

pub(crate) struct Graph {
    pub(crate) consts: HashMap<String, Const>,
}

impl Graph {
    pub(crate) fn get(&self, name: &str) -> Result<&Const, ModelError> {
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

    pub(crate) fn vec_f32(&self, name: &str) -> Result<Vec<f32>, ModelError> {
        match &self.get(name)?.data {
            ConstData::F32(v) => Ok(v.clone()),
            _ => Err(ModelError::Onnx(format!("{name:?} must be an f32 tensor"))),
        }
    }
}

/// Integer attributes of a node (`ints` or `i`), with defaults for absent ones.
pub(crate) struct Attrs<'a>(pub(crate) &'a NodeProto);

impl Attrs<'_> {
    fn ints(&self, name: &str) -> Option<Vec<i64>> {
        self.0
            .attribute
            .iter()
            .find(|a| a.name == name)
            .map(|a| if a.ints.is_empty() { vec![a.i] } else { a.ints.clone() })
    }

    pub(crate) fn int(&self, name: &str, default: i64) -> i64 {
        self.ints(name).and_then(|v| v.first().copied()).unwrap_or(default)
    }

    /// A 2-D spatial attribute (`[h, w]`, or `[top, left, bottom, right]` for pads) as sizes.
    pub(crate) fn sizes<const N: usize>(
        &self,
        name: &str,
        default: usize,
    ) -> Result<[usize; N], ModelError> {
        let Some(v) = self.ints(name) else { return Ok([default; N]) };
        let v: Vec<usize> = v
            .iter()
            .map(|&x| usize::try_from(x).ok().filter(|&x| x <= 1 << 16))
            .collect::<Option<_>>()
            .ok_or_else(|| self.err(&format!("attribute {name} out of range")))?;
        v.try_into()
            .map_err(|_| self.err(&format!("attribute {name} must have {N} values (2-D only)")))
    }

    pub(crate) fn no_auto_pad(&self) -> Result<(), ModelError> {
        match self.0.attribute.iter().find(|a| a.name == "auto_pad") {
            Some(a) if !a.s.is_empty() && a.s != b"NOTSET" => {
                Err(self.err("auto_pad is not supported (give explicit pads)"))
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn err(&self, why: &str) -> ModelError {
        ModelError::Onnx(format!("node {:?} ({}): {why}", self.0.name, self.0.op_type))
    }
}

/// The shape of the current int8 activation of one batch item: `[c, h, w]` for images, `[n]` for rows.
fn chw(shape: &[usize], node: &NodeProto) -> Result<[usize; 3], ModelError> {
    match *shape {
        [c, h, w] => Ok([c, h, w]),
        _ => Err(ModelError::Onnx(format!(
            "node {:?} ({}) needs a [C, H, W] image input, got shape {shape:?}",
            node.name, node.op_type
        ))),
    }
}

/// The names of the graph's input and output (`(input, output)`), as callers name the tensors; the
/// model itself is read by [`load_onnx`].
pub fn onnx_io_names(bytes: &[u8]) -> Result<(String, String), ModelError> {
    let model = ModelProto::decode(bytes)
        .map_err(|e| ModelError::Onnx(format!("not an ONNX model: {e}")))?;
    let graph = model.graph.ok_or_else(|| ModelError::Onnx("the model has no graph".into()))?;
    let initializers: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let mut inputs = graph.input.iter().filter(|v| !initializers.contains(v.name.as_str()));
    match (inputs.next(), inputs.next(), graph.output.as_slice()) {
        (Some(i), None, [o]) => Ok((i.name.clone(), o.name.clone())),
        _ => Err(ModelError::Onnx("expected one graph input and one graph output".into())),
    }
}

/// Parses ONNX bytes into a quantized model.
///
/// The graph is read as one chain: `QuantizeLinear` on the input, then int8 operators
/// (`QLinearMatMul`, `QLinearConv`, `MaxPool`, `Flatten`, `Reshape`), with float sections
/// `DequantizeLinear → Add(bias)? → Relu? → QuantizeLinear` between them, and a final
/// `DequantizeLinear → Add(bias)?` producing the graph output.
pub fn load_onnx(bytes: &[u8]) -> Result<QuantizedModel, ModelError> {
    let model = ModelProto::decode(bytes)
        .map_err(|e| ModelError::Onnx(format!("not an ONNX model: {e}")))?;
    let graph = model.graph.ok_or_else(|| ModelError::Onnx("the model has no graph".into()))?;
    let mut consts = HashMap::new();
    for t in &graph.initializer {
        consts.insert(t.name.clone(), decode_tensor(t)?);
    }
    let g = Graph { consts };
    let inputs: Vec<&ValueInfoProto> =
        graph.input.iter().filter(|v| !g.consts.contains_key(&v.name)).collect();
    let [input_info] = inputs.as_slice() else {
        let names: Vec<&str> = inputs.iter().map(|v| v.name.as_str()).collect();
        return Err(ModelError::Onnx(format!("expected one graph input, found {names:?}")));
    };
    let input_name = input_info.name.as_str();
    // Per-item shape of the input (the batch dimension dropped), when the graph states it.
    let mut shape: Vec<usize> = input_info
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .and_then(|t| t.shape.as_ref())
        .map(|s| {
            s.dim
                .iter()
                .skip(1)
                .map(|d| usize::try_from(d.dim_value).ok().filter(|&v| v > 0 && v <= 1 << 24))
                .collect::<Option<Vec<_>>>()
                .unwrap_or_default()
        })
        .unwrap_or_default();
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
    let requant = |n: &NodeProto, x_scale: f32, w_scale: f32| -> Result<Requant, ModelError> {
        let y_scale = g.scalar_f32(&arg(n, 6)?)?;
        let y_zp = g.scalar_i8(&arg(n, 7)?)?;
        Ok(Requant { multiplier: (x_scale * w_scale) / y_scale, zero_point: y_zp })
    };
    let weight_zp_is_zero = |n: &NodeProto| -> Result<(), ModelError> {
        if g.scalar_i8(&arg(n, 5)?)? != 0 {
            return Err(ModelError::Onnx(format!(
                "node {:?}: weight zero point must be 0",
                n.name
            )));
        }
        Ok(())
    };

    // QuantizeLinear on the graph input.
    let q = expect(0, "QuantizeLinear")?;
    chain(q, input_name)?;
    let input =
        InputQuant { scale: g.scalar_f32(&arg(q, 1)?)?, zero_point: g.scalar_i8(&arg(q, 2)?)? };
    let mut cur = out(q)?;
    let mut i = 1;
    let mut stages = Vec::new();
    let mut input_dim = (!shape.is_empty()).then(|| shape.iter().product::<usize>());
    loop {
        let node = nodes.get(i).ok_or_else(|| {
            ModelError::Onnx("unsupported graph: it ends on an int8 tensor".into())
        })?;
        let attrs = Attrs(node);
        match node.op_type.as_str() {
            "QLinearMatMul" => {
                let mm = node;
                chain(mm, &cur)?;
                let x_scale = g.scalar_f32(&arg(mm, 1)?)?;
                let x_zp = g.scalar_i8(&arg(mm, 2)?)?;
                let w = g.get(&arg(mm, 3)?)?;
                let w_scale = g.scalar_f32(&arg(mm, 4)?)?;
                weight_zp_is_zero(mm)?;
                let (ConstData::I8(wv), [k, m]) = (&w.data, w.dims.as_slice()) else {
                    return Err(ModelError::Onnx(format!(
                        "node {:?}: weights must be a 2-D int8 constant",
                        mm.name
                    )));
                };
                let (k, m) = (*k, *m);
                if input_dim.is_none() {
                    input_dim = Some(k);
                    shape = vec![k];
                }
                if shape.iter().product::<usize>() != k || shape.len() != 1 {
                    return Err(attrs.err(&format!("takes {k} values but receives {shape:?}")));
                }
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
                    requant: requant(mm, x_scale, w_scale)?,
                }));
                shape = vec![m];
            }
            "QLinearConv" => {
                chain(node, &cur)?;
                let [c, h, w] = chw(&shape, node)?;
                attrs.no_auto_pad()?;
                if attrs.int("group", 1) != 1 {
                    return Err(attrs.err("grouped convolution is not supported"));
                }
                if attrs.sizes::<2>("dilations", 1)? != [1, 1] {
                    return Err(attrs.err("dilation is not supported"));
                }
                let x_scale = g.scalar_f32(&arg(node, 1)?)?;
                let x_zp = g.scalar_i8(&arg(node, 2)?)?;
                let wt = g.get(&arg(node, 3)?)?;
                let w_scale = g.scalar_f32(&arg(node, 4)?)?;
                weight_zp_is_zero(node)?;
                let (ConstData::I8(wv), [oc, ic, kh, kw]) = (&wt.data, wt.dims.as_slice()) else {
                    return Err(attrs.err("weights must be a 4-D int8 constant"));
                };
                if *ic != c {
                    return Err(attrs.err(&format!("kernels take {ic} channels, input has {c}")));
                }
                let kernel = attrs.sizes::<2>("kernel_shape", 0)?;
                if kernel != [0, 0] && kernel != [*kh, *kw] {
                    return Err(attrs.err("kernel_shape differs from the weights"));
                }
                let bias = match node.input.get(8).filter(|b| !b.is_empty()) {
                    None => vec![0; *oc],
                    Some(b) => match &g.get(b)?.data {
                        ConstData::I32(v) if v.len() == *oc => v.clone(),
                        _ => return Err(attrs.err("bias must be an int32 constant per channel")),
                    },
                };
                let conv = Conv {
                    in_channels: c,
                    in_height: h,
                    in_width: w,
                    out_channels: *oc,
                    kernel: [*kh, *kw],
                    strides: attrs.sizes::<2>("strides", 1)?,
                    pads: attrs.sizes::<4>("pads", 0)?,
                    input_zero_point: x_zp,
                    weights: wv.clone(),
                    bias,
                    requant: requant(node, x_scale, w_scale)?,
                };
                let (oh, ow) = conv.out_hw();
                shape = vec![*oc, oh, ow];
                stages.push(Stage::Conv(conv));
            }
            "MaxPool" => {
                chain(node, &cur)?;
                let [c, h, w] = chw(&shape, node)?;
                attrs.no_auto_pad()?;
                if attrs.sizes::<4>("pads", 0)? != [0; 4]
                    || attrs.sizes::<2>("dilations", 1)? != [1, 1]
                    || attrs.int("ceil_mode", 0) != 0
                    || node.output.len() > 1
                {
                    return Err(attrs.err(
                        "only unpadded, undilated MaxPool with floor rounding and no indices is supported",
                    ));
                }
                let pool = Pool {
                    kind: PoolKind::Max,
                    channels: c,
                    in_height: h,
                    in_width: w,
                    kernel: attrs.sizes::<2>("kernel_shape", 0)?,
                    strides: attrs.sizes::<2>("strides", 1)?,
                };
                let (oh, ow) = pool.out_hw();
                shape = vec![c, oh, ow];
                stages.push(Stage::Pool(pool));
            }
            "Flatten" => {
                chain(node, &cur)?;
                if attrs.int("axis", 1) != 1 {
                    return Err(attrs.err("only axis 1 is supported"));
                }
                shape = vec![shape.iter().product()];
            }
            "Reshape" => {
                chain(node, &cur)?;
                let target = match g.get(&arg(node, 1)?)? {
                    Const { data: ConstData::I64(v), .. } => v.clone(),
                    _ => return Err(attrs.err("the shape must be an int64 constant")),
                };
                let n: usize = shape.iter().product();
                // The batch stays first (0 or -1); the rest must keep the number of values.
                let rest: Vec<i64> = target.iter().skip(1).copied().collect();
                let new: Option<Vec<usize>> = match rest.as_slice() {
                    [-1] => Some(vec![n]),
                    dims => dims.iter().map(|&d| usize::try_from(d).ok()).collect(),
                };
                match (target.first(), new) {
                    (Some(0 | -1), Some(new)) if new.iter().product::<usize>() == n => {
                        shape = new;
                    }
                    _ => return Err(attrs.err(&format!("cannot reshape {shape:?} to {target:?}"))),
                }
            }
            "DequantizeLinear" => {
                let dq = node;
                chain(dq, &cur)?;
                let width: usize = shape.iter().product();
                let in_scale = g.scalar_f32(&arg(dq, 1)?)?;
                let in_zero_point = g.scalar_i8(&arg(dq, 2)?)?;
                cur = out(dq)?;
                i += 1;
                let mut bias = vec![0.0f32; width];
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
                    if bias.len() != width {
                        return Err(ModelError::Onnx(format!(
                            "node {:?}: bias has {} values for {width} outputs",
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
                    let model =
                        QuantizedModel { input_dim: input_dim.unwrap_or(0), input, stages, output };
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
            }
            other => {
                return Err(ModelError::Onnx(format!(
                    "unsupported graph: node {:?} is {other}, which ogn-zk cannot prove",
                    node.name
                )));
            }
        }
        cur = out(&nodes[i])?;
        i += 1;
    }
}

/// ONNX element types used by the writer.
const ATTR_INT: i32 = 2;
const ATTR_INTS: i32 = 7;

/// Builds the nodes and constants of an ONNX graph.
struct Writer {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
}

impl Writer {
    fn constant(
        &mut self,
        name: &str,
        dims: &[usize],
        data_type: i32,
        raw_data: Vec<u8>,
    ) -> String {
        self.inits.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type,
            name: name.to_string(),
            raw_data,
            ..Default::default()
        });
        name.to_string()
    }

    fn f32s(&mut self, name: &str, dims: &[usize], v: &[f32]) -> String {
        self.constant(name, dims, FLOAT, v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }

    fn i8s(&mut self, name: &str, dims: &[usize], v: &[i8]) -> String {
        self.constant(name, dims, INT8, v.iter().map(|&x| x as u8).collect())
    }

    fn i32s(&mut self, name: &str, dims: &[usize], v: &[i32]) -> String {
        self.constant(name, dims, INT32, v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }

    /// A scale and a zero point, as scalars.
    fn qparams(&mut self, prefix: &str, scale: f32, zero_point: i8) -> [String; 2] {
        [
            self.f32s(&format!("{prefix}_scale"), &[], &[scale]),
            self.i8s(&format!("{prefix}_zp"), &[], &[zero_point]),
        ]
    }

    fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        output: &str,
        attrs: Vec<AttributeProto>,
    ) -> String {
        let name = format!("{}_{}", op.to_lowercase(), self.nodes.len());
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.to_string()],
            name,
            op_type: op.to_string(),
            attribute: attrs,
            domain: String::new(),
        });
        output.to_string()
    }
}

fn ints_attr(name: &str, v: &[usize]) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        ints: v.iter().map(|&x| x as i64).collect(),
        r#type: ATTR_INTS,
        ..Default::default()
    }
}

fn int_attr(name: &str, v: i64) -> AttributeProto {
    AttributeProto { name: name.to_string(), i: v, r#type: ATTR_INT, ..Default::default() }
}

fn value_info(name: &str, dims: &[usize]) -> ValueInfoProto {
    let mut dim = vec![Dimension { dim_value: 0, dim_param: "N".into() }];
    dim.extend(dims.iter().map(|&d| Dimension { dim_value: d as i64, dim_param: String::new() }));
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeTensor {
                elem_type: FLOAT,
                shape: Some(TensorShapeProto { dim }),
            }),
        }),
    }
}

/// Writes a quantized model as an ONNX QOperator graph that [`load_onnx`] reads back to the same
/// model and onnxruntime runs with the same integer arithmetic: `QuantizeLinear`, `QLinearMatMul`
/// and `QLinearConv` (the requantization multiplier as the input scale, weight and output scales 1),
/// `MaxPool`, `Flatten` before a dense layer that follows an image, and `DequantizeLinear → Add →
/// Relu? → QuantizeLinear` for rescales. Input `"input"` (`[N, C, H, W]` when the first layer is a
/// convolution), output `"logits"`.
///
/// Refused: dense layers with a non-zero integer bias and average pooling, which have no
/// onnxruntime QOperator form.
pub fn to_onnx(model: &QuantizedModel) -> Result<Vec<u8>, ModelError> {
    model.validate()?;
    let mut w = Writer { nodes: Vec::new(), inits: Vec::new() };
    let input_dims: Vec<usize> = match model.stages.first() {
        Some(Stage::Conv(c)) => vec![c.in_channels, c.in_height, c.in_width],
        Some(Stage::Pool(p)) => vec![p.channels, p.in_height, p.in_width],
        _ => vec![model.input_dim],
    };
    let mut image = input_dims.len() == 3;
    let [s, z] = w.qparams("input_q", model.input.scale, model.input.zero_point);
    let mut cur = w.node("QuantizeLinear", &["input", &s, &z], "x0", vec![]);
    for (i, stage) in model.stages.iter().enumerate() {
        let out = format!("x{}", i + 1);
        cur = match stage {
            Stage::Dense(d) => {
                if d.bias.iter().any(|&b| b != 0) {
                    return Err(ModelError::Invalid(format!(
                        "stage {i}: a dense layer with an integer bias has no QLinearMatMul form"
                    )));
                }
                if image {
                    cur = w.node(
                        "Flatten",
                        &[&cur],
                        &format!("x{}_flat", i),
                        vec![int_attr("axis", 1)],
                    );
                    image = false;
                }
                let mut wt = vec![0i8; d.in_dim * d.out_dim];
                for (o, row) in d.weights.chunks_exact(d.in_dim).enumerate() {
                    for (k, &v) in row.iter().enumerate() {
                        wt[k * d.out_dim + o] = v;
                    }
                }
                let [xs, xz] =
                    w.qparams(&format!("s{i}_x"), d.requant.multiplier, d.input_zero_point);
                let wq = w.i8s(&format!("s{i}_w"), &[d.in_dim, d.out_dim], &wt);
                let [ws, wz] = w.qparams(&format!("s{i}_w"), 1.0, 0);
                let [ys, yz] = w.qparams(&format!("s{i}_y"), 1.0, d.requant.zero_point);
                w.node("QLinearMatMul", &[&cur, &xs, &xz, &wq, &ws, &wz, &ys, &yz], &out, vec![])
            }
            Stage::Conv(c) => {
                let k = c.patch_len() / (c.kernel[0] * c.kernel[1]);
                let dims = [c.out_channels, k, c.kernel[0], c.kernel[1]];
                let [xs, xz] =
                    w.qparams(&format!("s{i}_x"), c.requant.multiplier, c.input_zero_point);
                let wq = w.i8s(&format!("s{i}_w"), &dims, &c.weights);
                let [ws, wz] = w.qparams(&format!("s{i}_w"), 1.0, 0);
                let [ys, yz] = w.qparams(&format!("s{i}_y"), 1.0, c.requant.zero_point);
                let b = w.i32s(&format!("s{i}_b"), &[c.out_channels], &c.bias);
                let attrs = vec![
                    ints_attr("kernel_shape", &c.kernel),
                    ints_attr("strides", &c.strides),
                    ints_attr("pads", &c.pads),
                ];
                w.node("QLinearConv", &[&cur, &xs, &xz, &wq, &ws, &wz, &ys, &yz, &b], &out, attrs)
            }
            Stage::Pool(p) => {
                if p.kind != PoolKind::Max {
                    return Err(ModelError::Invalid(format!(
                        "stage {i}: average pooling has no onnxruntime int8 form"
                    )));
                }
                let attrs =
                    vec![ints_attr("kernel_shape", &p.kernel), ints_attr("strides", &p.strides)];
                w.node("MaxPool", &[&cur], &out, attrs)
            }
            Stage::Rescale(r) => {
                if image {
                    cur = w.node(
                        "Flatten",
                        &[&cur],
                        &format!("x{}_flat", i),
                        vec![int_attr("axis", 1)],
                    );
                    image = false;
                }
                let [s, z] = w.qparams(&format!("s{i}_in"), r.in_scale, r.in_zero_point);
                let mut t =
                    w.node("DequantizeLinear", &[&cur, &s, &z], &format!("x{}_f", i + 1), vec![]);
                let b = w.f32s(&format!("s{i}_bias"), &[r.bias.len()], &r.bias);
                t = w.node("Add", &[&t, &b], &format!("x{}_b", i + 1), vec![]);
                if r.relu {
                    t = w.node("Relu", &[&t], &format!("x{}_r", i + 1), vec![]);
                }
                let [s, z] = w.qparams(&format!("s{i}_out"), r.out_scale, r.out_zero_point);
                w.node("QuantizeLinear", &[&t, &s, &z], &out, vec![])
            }
        };
    }
    if image {
        cur = w.node("Flatten", &[&cur], "out_flat", vec![int_attr("axis", 1)]);
    }
    let [s, z] = w.qparams("output", model.output.scale, model.output.zero_point);
    let t = w.node("DequantizeLinear", &[&cur, &s, &z], "out_f", vec![]);
    let b = w.f32s("output_bias", &[model.output.bias.len()], &model.output.bias);
    w.node("Add", &[&t, &b], "logits", vec![]);
    let graph = GraphProto {
        node: w.nodes,
        name: "ogn_zk_int8".into(),
        initializer: w.inits,
        input: vec![value_info("input", &input_dims)],
        output: vec![value_info("logits", &[model.output_dim()])],
    };
    let proto = ModelProto {
        ir_version: 8,
        producer_name: "ogn-zk".into(),
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 13 }],
        graph: Some(graph),
    };
    Ok(proto.encode_to_vec())
}
