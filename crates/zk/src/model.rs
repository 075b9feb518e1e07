//! Quantized models and their bit-exact integer execution.
//!
//! A [`QuantizedModel`] is a chain of stages on int8 activations, one batch row at a time:
//!
//! ```text
//!  f32 input ──quantize──► i8 ──Dense──► i8 ──Rescale──► i8 ──Dense──► … ──► i8 output ──dequantize──► f32
//! ```
//!
//! The arithmetic follows onnxruntime's CPU kernels (MLAS) operation for operation, so the f32 output
//! equals onnxruntime's output bit for bit:
//!
//! * quantize: `clamp(round_ties_even(x / scale), -128 - zp, 127 - zp) + zp`;
//! * [`Dense`] (`QLinearMatMul`): `acc = Σ_j (x_j - x_zp)·w_ij + bias_i` in exact integers, then
//!   [`Requant`]: `clamp(round_ties_even(f32(acc) · m), -128 - zp, 127 - zp) + zp` with
//!   `m = (x_scale · w_scale) / y_scale` computed in f32;
//! * [`Rescale`] (`DequantizeLinear`, `Add` bias, optional `Relu`, `QuantizeLinear`) per channel:
//!   `quantize(max(0, f32(q - zp_in) · s_in + bias_c))`;
//! * dequantize the output: `f32(q - zp) · scale + bias_c`.
//!
//! Integer accumulators are exact (|acc| < 2^31 is checked when a model is built); every f32
//! operation is a single IEEE-754 operation, so the result is the same on every CPU.

use serde::{Deserialize, Serialize};

use crate::error::ModelError;

/// Quantization of the f32 model input to int8 (`QuantizeLinear`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputQuant {
    /// Scale: real value = (q − zero_point) · scale.
    pub scale: f32,
    /// Zero point.
    pub zero_point: i8,
}

/// Requantization of an int32 accumulator to int8, onnxruntime's `MlasRequantizeOutput`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Requant {
    /// f32 multiplier `(x_scale · w_scale) / y_scale`.
    pub multiplier: f32,
    /// Output zero point.
    pub zero_point: i8,
}

impl Requant {
    /// int32 accumulator → int8.
    pub fn apply(&self, acc: i64) -> i8 {
        let zp = f32::from(self.zero_point);
        let v = (acc as f32) * self.multiplier;
        let v = v.clamp(-128.0 - zp, 127.0 - zp);
        // The clamp bounds are integers, so rounding after the clamp stays within them.
        (v.round_ties_even() as i32 + i32::from(self.zero_point)) as i8
    }
}

/// A dense layer `y = requant(W·(x − x_zp) + bias)` with int8 weights (weight zero point 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dense {
    /// Input width.
    pub in_dim: usize,
    /// Output width.
    pub out_dim: usize,
    /// Zero point subtracted from every input value.
    pub input_zero_point: i8,
    /// Weights, row-major `[out_dim][in_dim]`.
    pub weights: Vec<i8>,
    /// int32 bias added to the accumulator, one per output.
    pub bias: Vec<i32>,
    /// Requantization of the accumulator.
    pub requant: Requant,
}

impl Dense {
    /// Exact accumulators `W·(x − x_zp)` (without bias) for one input row.
    pub fn accumulate(&self, x: &[i8]) -> Vec<i64> {
        let zp = i64::from(self.input_zero_point);
        let xs: Vec<i64> = x.iter().map(|&v| i64::from(v) - zp).collect();
        self.weights
            .chunks_exact(self.in_dim)
            .map(|row| row.iter().zip(&xs).map(|(&w, &x)| i64::from(w) * x).sum())
            .collect()
    }

    /// Output of the layer given its accumulators (bias added, requantized).
    pub fn finish(&self, acc: &[i64]) -> Vec<i8> {
        acc.iter().zip(&self.bias).map(|(&a, &b)| self.requant.apply(a + i64::from(b))).collect()
    }
}

/// Per-channel float rescale between integer layers: dequantize, add a bias, optional ReLU, quantize.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rescale {
    /// Input scale.
    pub in_scale: f32,
    /// Input zero point.
    pub in_zero_point: i8,
    /// f32 bias per channel.
    pub bias: Vec<f32>,
    /// Whether a ReLU follows the bias.
    pub relu: bool,
    /// Output scale.
    pub out_scale: f32,
    /// Output zero point.
    pub out_zero_point: i8,
}

impl Rescale {
    /// Applies the rescale to one row.
    pub fn apply(&self, q: &[i8]) -> Vec<i8> {
        q.iter()
            .zip(&self.bias)
            .map(|(&q, &b)| {
                let y = (i32::from(q) - i32::from(self.in_zero_point)) as f32 * self.in_scale;
                let h = y + b;
                let a = if self.relu && h < 0.0 { 0.0 } else { h };
                quantize(a, self.out_scale, self.out_zero_point)
            })
            .collect()
    }
}

/// Dequantization of the int8 model output to f32, with a per-channel bias.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputDequant {
    /// Scale.
    pub scale: f32,
    /// Zero point.
    pub zero_point: i8,
    /// f32 bias per output channel (zeros when the model has none).
    pub bias: Vec<f32>,
}

/// One stage of a quantized model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Stage {
    /// Integer matrix-vector product with requantization.
    Dense(Dense),
    /// Per-channel float rescale (bias, ReLU) between integer layers.
    Rescale(Rescale),
}

impl Stage {
    fn in_dim(&self) -> usize {
        match self {
            Stage::Dense(d) => d.in_dim,
            Stage::Rescale(r) => r.bias.len(),
        }
    }

    fn out_dim(&self) -> usize {
        match self {
            Stage::Dense(d) => d.out_dim,
            Stage::Rescale(r) => r.bias.len(),
        }
    }
}

/// A quantized model: int8 input quantization, integer stages, f32 output dequantization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantizedModel {
    /// Width of one input row.
    pub input_dim: usize,
    /// Input quantization.
    pub input: InputQuant,
    /// The stages, in order.
    pub stages: Vec<Stage>,
    /// Output dequantization.
    pub output: OutputDequant,
}

/// Everything one run computes: what the prover needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// Batch size.
    pub batch: usize,
    /// Activations entering each stage, `[batch][width]` flattened; the last entry is the output.
    pub activations: Vec<Vec<i8>>,
    /// Accumulators (without bias) of each dense stage, `[batch][out_dim]` flattened, in stage order.
    pub accumulators: Vec<Vec<i64>>,
}

impl Trace {
    /// The int8 model output, `[batch][output_dim]` flattened.
    pub fn output(&self) -> &[i8] {
        self.activations.last().map(Vec::as_slice).unwrap_or(&[])
    }
}

/// `QuantizeLinear` for one value.
pub fn quantize(x: f32, scale: f32, zero_point: i8) -> i8 {
    let zp = f32::from(zero_point);
    let v = (x / scale).round_ties_even();
    // NaN compares false both ways and goes to the zero point, like MLAS's max/min sequence on NaN.
    let v = if v.is_nan() { 0.0 } else { v.clamp(-128.0 - zp, 127.0 - zp) };
    (v as i32 + i32::from(zero_point)) as i8
}

impl QuantizedModel {
    /// Checks that the stages chain, that shapes and parameter lengths agree, that scales are finite
    /// and positive and that no accumulator can leave the int32 range (so the field embedding is exact).
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.stages.is_empty() {
            return Err(ModelError::Invalid("the model has no stages".into()));
        }
        if !matches!(self.stages.first(), Some(Stage::Dense(_))) {
            return Err(ModelError::Invalid("the first stage must be a dense layer".into()));
        }
        check_scale("input scale", self.input.scale)?;
        check_scale("output scale", self.output.scale)?;
        let mut width = self.input_dim;
        for (i, stage) in self.stages.iter().enumerate() {
            if stage.in_dim() != width {
                return Err(ModelError::Invalid(format!(
                    "stage {i} takes {} values but receives {width}",
                    stage.in_dim()
                )));
            }
            match stage {
                Stage::Dense(d) => {
                    if d.in_dim == 0 || d.out_dim == 0 {
                        return Err(ModelError::Invalid(format!("stage {i}: empty dense layer")));
                    }
                    let n = d.in_dim.checked_mul(d.out_dim).ok_or_else(|| {
                        ModelError::Invalid(format!("stage {i}: weight count overflows"))
                    })?;
                    if d.weights.len() != n || d.bias.len() != d.out_dim {
                        return Err(ModelError::Invalid(format!(
                            "stage {i}: {} weights and {} biases for a {}x{} layer",
                            d.weights.len(),
                            d.bias.len(),
                            d.out_dim,
                            d.in_dim
                        )));
                    }
                    if !(d.requant.multiplier.is_finite() && d.requant.multiplier > 0.0) {
                        return Err(ModelError::Invalid(format!(
                            "stage {i}: requantization multiplier {} is not a positive number",
                            d.requant.multiplier
                        )));
                    }
                    // |x − zp| ≤ 255, |w| ≤ 128.
                    let bound = (d.in_dim as u128) * 255 * 128
                        + d.bias.iter().map(|b| b.unsigned_abs() as u128).max().unwrap_or(0);
                    if bound >= 1 << 31 {
                        return Err(ModelError::Invalid(format!(
                            "stage {i}: accumulators may exceed 2^31 ({} inputs)",
                            d.in_dim
                        )));
                    }
                }
                Stage::Rescale(r) => {
                    check_scale("rescale input scale", r.in_scale)?;
                    check_scale("rescale output scale", r.out_scale)?;
                    if r.bias.iter().any(|b| !b.is_finite()) {
                        return Err(ModelError::Invalid(format!("stage {i}: bias is not finite")));
                    }
                }
            }
            width = stage.out_dim();
        }
        if self.output.bias.len() != width {
            return Err(ModelError::Invalid(format!(
                "output bias has {} values for {width} outputs",
                self.output.bias.len()
            )));
        }
        Ok(())
    }

    /// Width of one output row.
    pub fn output_dim(&self) -> usize {
        self.stages.last().map_or(self.input_dim, Stage::out_dim)
    }

    /// Number of weights.
    pub fn num_weights(&self) -> usize {
        self.stages
            .iter()
            .map(|s| match s {
                Stage::Dense(d) => d.weights.len(),
                Stage::Rescale(_) => 0,
            })
            .sum()
    }

    /// Quantizes an f32 input (`[batch][input_dim]` flattened) to int8.
    pub fn quantize_input(&self, x: &[f32]) -> Vec<i8> {
        x.iter().map(|&v| quantize(v, self.input.scale, self.input.zero_point)).collect()
    }

    /// Dequantizes an int8 output (`[batch][output_dim]` flattened) to f32.
    pub fn dequantize_output(&self, q: &[i8]) -> Vec<f32> {
        let dim = self.output_dim().max(1);
        q.iter()
            .enumerate()
            .map(|(k, &v)| {
                let y =
                    (i32::from(v) - i32::from(self.output.zero_point)) as f32 * self.output.scale;
                y + self.output.bias[k % dim]
            })
            .collect()
    }

    /// Runs the integer model on an int8 input (`[batch][input_dim]` flattened), keeping every
    /// intermediate value.
    pub fn trace(&self, input: &[i8]) -> Result<Trace, ModelError> {
        let batch = self.batch_of(input.len())?;
        let mut activations = vec![input.to_vec()];
        let mut accumulators = Vec::new();
        for stage in &self.stages {
            let x = activations.last().map(Vec::as_slice).unwrap_or(&[]);
            let w = stage.in_dim();
            let mut next = Vec::with_capacity(batch * stage.out_dim());
            match stage {
                Stage::Dense(d) => {
                    let mut accs = Vec::with_capacity(batch * d.out_dim);
                    for row in x.chunks_exact(w) {
                        let acc = d.accumulate(row);
                        next.extend(d.finish(&acc));
                        accs.extend(acc);
                    }
                    accumulators.push(accs);
                }
                Stage::Rescale(r) => {
                    for row in x.chunks_exact(w) {
                        next.extend(r.apply(row));
                    }
                }
            }
            activations.push(next);
        }
        Ok(Trace { batch, activations, accumulators })
    }

    /// Runs the integer model and returns its int8 output.
    pub fn run(&self, input: &[i8]) -> Result<Vec<i8>, ModelError> {
        Ok(self.trace(input)?.activations.pop().unwrap_or_default())
    }

    /// Runs the whole model on f32 input: quantize, integer stages, dequantize.
    pub fn run_f32(&self, input: &[f32]) -> Result<Vec<f32>, ModelError> {
        let q = self.run(&self.quantize_input(input))?;
        Ok(self.dequantize_output(&q))
    }

    /// Batch size of an input of `len` values.
    pub fn batch_of(&self, len: usize) -> Result<usize, ModelError> {
        if len == 0 || self.input_dim == 0 || !len.is_multiple_of(self.input_dim) {
            return Err(ModelError::InputShape { len, input_dim: self.input_dim });
        }
        Ok(len / self.input_dim)
    }
}

fn check_scale(what: &str, s: f32) -> Result<(), ModelError> {
    if s.is_finite() && s > 0.0 {
        Ok(())
    } else {
        Err(ModelError::Invalid(format!("{what} {s} is not a positive number")))
    }
}
