//! Quantizing a float ONNX model to a [`QuantizedModel`] with calibration inputs.
//!
//! Accepted float graphs: one chain of `Conv` (one group, dilation 1), `Relu`, `MaxPool`, `Flatten`
//! and `Gemm` (`alpha = beta = 1`, `transA = 0`), the shape of the MLP and LeNet fixtures. The scheme is
//! the one `scripts/gen_models.py` uses, so the result has the same form as the int8 fixtures:
//!
//! * weights: symmetric per-tensor int8, `scale = max|w| / 127`, values in `[-127, 127]`;
//! * activations: per-tensor scales from the largest magnitude each tensor reaches on the
//!   calibration batch, run through the float model: `max / 127` with zero point 0, or
//!   `max / 255` with zero point −128 after a ReLU (the ReLU folds into the clamp);
//! * convolutions: int32 bias `round(b / (s_x · s_w))`, ReLU folded into the output zero point;
//! * dense layers: the integer product requantized to int8 at the scale of the biased output,
//!   then bias, ReLU and requantization in float (a [`Rescale`]), or the output dequantization.
//!
//! [`FloatModel::run`] is the float reference: a plain f32 executor of the same operators, used
//! for calibration and to report how far the quantized model's output moves ([`Report`]).

use prost::Message;

use crate::error::ModelError;
use crate::model::{
    Conv, Dense, InputQuant, OutputDequant, Pool, PoolKind, QuantizedModel, Requant, Rescale, Stage,
};
use crate::onnx::{Attrs, ConstData, Graph, ModelProto, decode_tensor};

/// One operator of a float model.
#[derive(Clone, Debug, PartialEq)]
enum Layer {
    Conv {
        /// Input `[channels, height, width]`.
        input: [usize; 3],
        out_channels: usize,
        kernel: [usize; 2],
        strides: [usize; 2],
        pads: [usize; 4],
        /// `[out][in][kh][kw]`.
        weights: Vec<f32>,
        bias: Vec<f32>,
    },
    Gemm {
        in_dim: usize,
        out_dim: usize,
        /// `[out][in]`.
        weights: Vec<f32>,
        bias: Vec<f32>,
    },
    Relu,
    MaxPool {
        input: [usize; 3],
        kernel: [usize; 2],
        strides: [usize; 2],
    },
    Flatten,
}

/// A float model in the accepted form, with a plain f32 executor.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatModel {
    input_dim: usize,
    output_dim: usize,
    layers: Vec<Layer>,
}

/// How the quantized model's outputs compare with the float model's on the calibration rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Calibration rows.
    pub rows: usize,
    /// Rows whose largest output is at the same index in both models.
    pub top1_agree: usize,
    /// Largest absolute difference of an output value.
    pub max_abs_error: f32,
    /// Mean absolute difference over all output values.
    pub mean_abs_error: f32,
    /// Largest magnitude of a float output value (the scale the errors compare with).
    pub max_abs_output: f32,
}

fn conv_out(
    input: [usize; 3],
    kernel: [usize; 2],
    strides: [usize; 2],
    pads: [usize; 4],
) -> [usize; 2] {
    let h = input[1] + pads[0] + pads[2];
    let w = input[2] + pads[1] + pads[3];
    if kernel[0] == 0
        || kernel[1] == 0
        || strides[0] == 0
        || strides[1] == 0
        || kernel[0] > h
        || kernel[1] > w
    {
        return [0, 0];
    }
    [(h - kernel[0]) / strides[0] + 1, (w - kernel[1]) / strides[1] + 1]
}

/// Parses a float ONNX model of the accepted form.
pub fn load_float_onnx(bytes: &[u8]) -> Result<FloatModel, ModelError> {
    let model = ModelProto::decode(bytes)
        .map_err(|e| ModelError::Onnx(format!("not an ONNX model: {e}")))?;
    let graph = model.graph.ok_or_else(|| ModelError::Onnx("the model has no graph".into()))?;
    let mut consts = std::collections::HashMap::new();
    for t in &graph.initializer {
        consts.insert(t.name.clone(), decode_tensor(t)?);
    }
    let g = Graph { consts };
    let inputs: Vec<_> = graph.input.iter().filter(|v| !g.consts.contains_key(&v.name)).collect();
    let [input] = inputs.as_slice() else {
        return Err(ModelError::Onnx("expected one graph input".into()));
    };
    let mut shape: Vec<usize> = input
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
    if shape.is_empty() {
        return Err(ModelError::Onnx("the graph input has no fixed per-row shape".into()));
    }
    let input_dim = shape.iter().product();
    let mut cur = input.name.clone();
    let mut layers = Vec::new();
    let f32s = |name: &str| g.vec_f32(name);
    for node in &graph.node {
        let a = Attrs(node);
        if node.input.first() != Some(&cur) {
            return Err(a.err(&format!(
                "does not consume {cur:?}: only a chain of operators is supported"
            )));
        }
        if !node.domain.is_empty() && node.domain != "ai.onnx" {
            return Err(a.err("operator domain is not supported"));
        }
        let image = |shape: &[usize]| -> Result<[usize; 3], ModelError> {
            <[usize; 3]>::try_from(shape)
                .map_err(|_| a.err(&format!("needs a [C, H, W] input, got {shape:?}")))
        };
        match node.op_type.as_str() {
            "Conv" => {
                let input = image(&shape)?;
                a.no_auto_pad()?;
                if a.int("group", 1) != 1 || a.sizes::<2>("dilations", 1)? != [1, 1] {
                    return Err(a.err("only one group and dilation 1 are supported"));
                }
                let wname = node.input.get(1).ok_or_else(|| a.err("no weights"))?;
                let w = g.get(wname)?;
                let (ConstData::F32(wv), [oc, ic, kh, kw]) = (&w.data, w.dims.as_slice()) else {
                    return Err(a.err("weights must be a 4-D f32 constant"));
                };
                if *ic != input[0] {
                    return Err(a.err("kernel channels differ from the input's"));
                }
                let bias = match node.input.get(2).filter(|b| !b.is_empty()) {
                    Some(b) => f32s(b)?,
                    None => vec![0.0; *oc],
                };
                if bias.len() != *oc {
                    return Err(a.err("bias length differs from the output channels"));
                }
                let kernel = [*kh, *kw];
                let strides = a.sizes::<2>("strides", 1)?;
                let pads = a.sizes::<4>("pads", 0)?;
                let [oh, ow] = conv_out(input, kernel, strides, pads);
                if oh == 0 {
                    return Err(a.err("the kernel does not fit the input"));
                }
                layers.push(Layer::Conv {
                    input,
                    out_channels: *oc,
                    kernel,
                    strides,
                    pads,
                    weights: wv.clone(),
                    bias,
                });
                shape = vec![*oc, oh, ow];
            }
            "MaxPool" => {
                let input = image(&shape)?;
                a.no_auto_pad()?;
                if a.sizes::<4>("pads", 0)? != [0; 4]
                    || a.int("ceil_mode", 0) != 0
                    || node.output.len() > 1
                {
                    return Err(a.err("only unpadded MaxPool with floor rounding is supported"));
                }
                let kernel = a.sizes::<2>("kernel_shape", 0)?;
                let strides = a.sizes::<2>("strides", 1)?;
                let [oh, ow] = conv_out(input, kernel, strides, [0; 4]);
                if oh == 0 {
                    return Err(a.err("the window does not fit the input"));
                }
                layers.push(Layer::MaxPool { input, kernel, strides });
                shape = vec![input[0], oh, ow];
            }
            "Relu" => layers.push(Layer::Relu),
            "Flatten" => {
                if a.int("axis", 1) != 1 {
                    return Err(a.err("only axis 1 is supported"));
                }
                layers.push(Layer::Flatten);
                shape = vec![shape.iter().product()];
            }
            "Gemm" => {
                let [n] = shape.as_slice() else {
                    return Err(a.err("needs a flat input (Flatten first)"));
                };
                if a.int("transA", 0) != 0 {
                    return Err(a.err("transA is not supported"));
                }
                let ones = |name: &str| {
                    node.attribute.iter().find(|x| x.name == name).is_none_or(|x| x.f == 1.0)
                };
                if !ones("alpha") || !ones("beta") {
                    return Err(a.err("alpha and beta must be 1"));
                }
                let trans_b = a.int("transB", 0) != 0;
                let wname = node.input.get(1).ok_or_else(|| a.err("no weights"))?;
                let w = g.get(wname)?;
                let (ConstData::F32(wv), [d0, d1]) = (&w.data, w.dims.as_slice()) else {
                    return Err(a.err("weights must be a 2-D f32 constant"));
                };
                let (k, m) = if trans_b { (*d1, *d0) } else { (*d0, *d1) };
                if k != *n {
                    return Err(a.err(&format!("takes {k} values, receives {n}")));
                }
                let mut weights = vec![0.0f32; k * m];
                for o in 0..m {
                    for j in 0..k {
                        weights[o * k + j] = if trans_b { wv[o * k + j] } else { wv[j * m + o] };
                    }
                }
                let bias = match node.input.get(2).filter(|b| !b.is_empty()) {
                    Some(b) => f32s(b)?,
                    None => vec![0.0; m],
                };
                if bias.len() != m {
                    return Err(a.err("bias must have one value per output"));
                }
                layers.push(Layer::Gemm { in_dim: k, out_dim: m, weights, bias });
                shape = vec![m];
            }
            other => return Err(a.err(&format!("{other} is not supported by the quantizer"))),
        }
        cur = node.output.first().cloned().ok_or_else(|| a.err("no output"))?;
    }
    if graph.output.first().map(|o| &o.name) != Some(&cur) {
        return Err(ModelError::Onnx("the chain does not end at the graph output".into()));
    }
    let output_dim = shape.iter().product();
    Ok(FloatModel { input_dim, output_dim, layers })
}

impl FloatModel {
    /// Width of one input row.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// Width of one output row.
    pub fn output_dim(&self) -> usize {
        self.output_dim
    }

    /// The output of every layer for one input row.
    fn trace_row(&self, x: &[f32]) -> Vec<Vec<f32>> {
        let mut outs: Vec<Vec<f32>> = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let x = outs.last().map_or(x, Vec::as_slice);
            let y = match layer {
                Layer::Conv {
                    input: [c, h, w],
                    out_channels,
                    kernel,
                    strides,
                    pads,
                    weights,
                    bias,
                } => {
                    let [oh, ow] = conv_out([*c, *h, *w], *kernel, *strides, *pads);
                    let mut y = vec![0.0f32; out_channels * oh * ow];
                    for o in 0..*out_channels {
                        for py in 0..oh {
                            for px in 0..ow {
                                let mut acc = bias[o];
                                for ci in 0..*c {
                                    for dy in 0..kernel[0] {
                                        let yy = (py * strides[0] + dy).wrapping_sub(pads[0]);
                                        if yy >= *h {
                                            continue;
                                        }
                                        for dx in 0..kernel[1] {
                                            let xx = (px * strides[1] + dx).wrapping_sub(pads[1]);
                                            if xx >= *w {
                                                continue;
                                            }
                                            let wi =
                                                ((o * c + ci) * kernel[0] + dy) * kernel[1] + dx;
                                            acc += weights[wi] * x[(ci * h + yy) * w + xx];
                                        }
                                    }
                                }
                                y[(o * oh + py) * ow + px] = acc;
                            }
                        }
                    }
                    y
                }
                Layer::Gemm { in_dim, weights, bias, .. } => weights
                    .chunks_exact(*in_dim)
                    .zip(bias)
                    .map(|(row, &b)| row.iter().zip(x).map(|(&w, &v)| w * v).sum::<f32>() + b)
                    .collect(),
                Layer::Relu => x.iter().map(|&v| v.max(0.0)).collect(),
                Layer::MaxPool { input: [c, h, w], kernel, strides } => {
                    let [oh, ow] = conv_out([*c, *h, *w], *kernel, *strides, [0; 4]);
                    let mut y = Vec::with_capacity(c * oh * ow);
                    for ci in 0..*c {
                        for py in 0..oh {
                            for px in 0..ow {
                                let mut m = f32::NEG_INFINITY;
                                for dy in 0..kernel[0] {
                                    for dx in 0..kernel[1] {
                                        let v = x[(ci * h + py * strides[0] + dy) * w
                                            + px * strides[1]
                                            + dx];
                                        m = m.max(v);
                                    }
                                }
                                y.push(m);
                            }
                        }
                    }
                    y
                }
                Layer::Flatten => x.to_vec(),
            };
            outs.push(y);
        }
        outs
    }

    /// Runs the float model on `[batch][input_dim]` values.
    pub fn run(&self, x: &[f32]) -> Vec<f32> {
        x.chunks_exact(self.input_dim.max(1))
            .flat_map(|row| self.trace_row(row).pop().unwrap_or_else(|| row.to_vec()))
            .collect()
    }
}

/// Scale of a tensor whose values reach `max` in magnitude, spread over `levels` steps (a tensor
/// that stays 0 gets scale 1).
fn scale_of(max: f32, levels: f32) -> f32 {
    if max > 0.0 && max.is_finite() { max / levels } else { 1.0 }
}

/// Symmetric per-tensor int8 quantization of weights: `(q, scale)`.
fn quant_weights(w: &[f32]) -> (Vec<i8>, f32) {
    let scale = scale_of(w.iter().fold(0.0f32, |m, v| m.max(v.abs())), 127.0);
    let q = w.iter().map(|&v| (v / scale).round_ties_even().clamp(-127.0, 127.0) as i8).collect();
    (q, scale)
}

/// Quantizes `model` with the calibration rows `calibration` (`[rows][input_dim]`); returns the
/// quantized model and how its outputs on those rows compare with the float model's.
pub fn quantize_model(
    model: &FloatModel,
    calibration: &[f32],
) -> Result<(QuantizedModel, Report), ModelError> {
    let dim = model.input_dim;
    if calibration.is_empty() || !calibration.len().is_multiple_of(dim) {
        return Err(ModelError::InputShape { len: calibration.len(), input_dim: dim });
    }
    // Largest magnitude of the input and of every layer's output over the calibration rows.
    let mut input_max = 0.0f32;
    let mut maxes = vec![0.0f32; model.layers.len()];
    for row in calibration.chunks_exact(dim) {
        input_max = row.iter().fold(input_max, |m, v| m.max(v.abs()));
        for (m, out) in maxes.iter_mut().zip(model.trace_row(row)) {
            *m = out.iter().fold(*m, |m, v| m.max(v.abs()));
        }
    }
    let input = InputQuant { scale: scale_of(input_max, 127.0), zero_point: 0 };
    let (mut scale, mut zp) = (input.scale, input.zero_point);
    let mut stages = Vec::new();
    let mut output = None;
    let layers = &model.layers;
    let mut i = 0;
    while i < layers.len() {
        let relu = matches!(layers.get(i + 1), Some(Layer::Relu));
        // Scale and zero point of this layer's output after its ReLU, if any.
        let out_q = |i: usize| {
            if relu {
                (scale_of(maxes[i + 1], 255.0), -128i8)
            } else {
                (scale_of(maxes[i], 127.0), 0i8)
            }
        };
        match &layers[i] {
            Layer::Conv {
                input: [c, h, w],
                out_channels,
                kernel,
                strides,
                pads,
                weights,
                bias,
            } => {
                let (wq, ws) = quant_weights(weights);
                let (out_scale, out_zp) = out_q(i);
                let bias = bias
                    .iter()
                    .map(|&b| (b / (scale * ws)).round_ties_even().clamp(-1e9, 1e9) as i32)
                    .collect();
                stages.push(Stage::Conv(Conv {
                    in_channels: *c,
                    in_height: *h,
                    in_width: *w,
                    out_channels: *out_channels,
                    kernel: *kernel,
                    strides: *strides,
                    pads: *pads,
                    input_zero_point: zp,
                    weights: wq,
                    bias,
                    requant: Requant { multiplier: (scale * ws) / out_scale, zero_point: out_zp },
                }));
                (scale, zp) = (out_scale, out_zp);
            }
            Layer::Gemm { in_dim, out_dim, weights, bias } => {
                let (wq, ws) = quant_weights(weights);
                let y_scale = scale_of(maxes[i], 127.0);
                stages.push(Stage::Dense(Dense {
                    in_dim: *in_dim,
                    out_dim: *out_dim,
                    input_zero_point: zp,
                    weights: wq,
                    bias: vec![0; *out_dim],
                    requant: Requant { multiplier: (scale * ws) / y_scale, zero_point: 0 },
                }));
                if i + 1 == layers.len() {
                    output =
                        Some(OutputDequant { scale: y_scale, zero_point: 0, bias: bias.clone() });
                } else {
                    let (out_scale, out_zp) = out_q(i);
                    stages.push(Stage::Rescale(Rescale {
                        in_scale: y_scale,
                        in_zero_point: 0,
                        bias: bias.clone(),
                        relu,
                        out_scale,
                        out_zero_point: out_zp,
                    }));
                    (scale, zp) = (out_scale, out_zp);
                }
            }
            Layer::MaxPool { input: [c, h, w], kernel, strides } => {
                stages.push(Stage::Pool(Pool {
                    kind: PoolKind::Max,
                    channels: *c,
                    in_height: *h,
                    in_width: *w,
                    kernel: *kernel,
                    strides: *strides,
                }));
            }
            Layer::Flatten => {}
            Layer::Relu => {
                return Err(ModelError::Onnx(format!(
                    "layer {i}: a Relu must follow a Conv or a Gemm to be folded into it"
                )));
            }
        }
        i += if relu { 2 } else { 1 };
    }
    let output = output.unwrap_or(OutputDequant {
        scale,
        zero_point: zp,
        bias: vec![0.0; model.output_dim],
    });
    let q = QuantizedModel { input_dim: dim, input, stages, output };
    q.validate()?;
    let report = compare(model, &q, calibration)?;
    Ok((q, report))
}

/// Runs both models on `rows` and compares their outputs.
pub fn compare(
    float: &FloatModel,
    quantized: &QuantizedModel,
    rows: &[f32],
) -> Result<Report, ModelError> {
    let a = float.run(rows);
    let b = quantized.run_f32(rows)?;
    let n = float.output_dim.max(1);
    let argmax = |v: &[f32]| {
        v.iter().enumerate().fold(0, |best, (k, &x)| if x > v[best] { k } else { best })
    };
    let top1_agree =
        a.chunks_exact(n).zip(b.chunks_exact(n)).filter(|(x, y)| argmax(x) == argmax(y)).count();
    let diffs: Vec<f32> = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).collect();
    Ok(Report {
        rows: a.len() / n,
        top1_agree,
        max_abs_error: diffs.iter().fold(0.0, |m, &d| m.max(d)),
        mean_abs_error: diffs.iter().sum::<f32>() / diffs.len().max(1) as f32,
        max_abs_output: a.iter().fold(0.0, |m, v| m.max(v.abs())),
    })
}
