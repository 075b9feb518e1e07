//! Quantized models and their bit-exact integer execution.
//!
//! A [`QuantizedModel`] is a chain of stages on int8 activations, one batch row at a time (images
//! are NCHW rows, so `Flatten` and `Reshape` change nothing):
//!
//! ```text
//!  f32 input ──quantize──► i8 ──Dense | Conv──► i8 ──Rescale | Pool──► i8 ──Dense──► … ──► i8 output ──dequantize──► f32
//! ```
//!
//! The arithmetic follows onnxruntime's CPU kernels (MLAS) operation for operation, so the f32 output
//! equals onnxruntime's output bit for bit:
//!
//! * quantize: `clamp(round_ties_even(x / scale), -128 - zp, 127 - zp) + zp`;
//! * [`Dense`] (`QLinearMatMul`): `acc = Σ_j (x_j - x_zp)·w_ij + bias_i` in exact integers, then
//!   [`Requant`]: `clamp(round_ties_even(f32(acc) · m), -128 - zp, 127 - zp) + zp` with
//!   `m = (x_scale · w_scale) / y_scale` computed in f32;
//! * [`Conv`] (`QLinearConv`): the same accumulation and [`Requant`] over im2col patches, with an
//!   int32 bias per output channel;
//! * [`Pool`]: `MaxPool` on int8 (the largest value of each window), or average pooling with exact
//!   integer rounding (half to even);
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

    /// The accumulators (bias included) at which the output steps up: entry `q + 128` is the least
    /// `a` with `apply(a) ≥ q`, for `q` in `−128 ..= 128`, searched over `|a| ≤ 2^40` (entry 0 is
    /// below that range; an output never reached there gets `2^40 + 1`). With a positive multiplier
    /// `apply` is non-decreasing (every step is a monotone IEEE-754 operation), so
    /// `apply(a) = q ⇔ t[q + 128] ≤ a < t[q + 129]`: a range check stands in for the f32 arithmetic.
    pub fn thresholds(&self) -> [i64; 257] {
        const LIMIT: i64 = 1 << 40;
        let mut t = [0i64; 257];
        t[0] = -LIMIT - 1;
        for (slot, q) in t.iter_mut().zip(-128i32..=128).skip(1) {
            let (mut lo, mut hi) = (-LIMIT, LIMIT + 1);
            // Invariant: apply(a) < q for a < lo; apply(a) ≥ q for a ≥ hi (hi = LIMIT + 1: never).
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if i32::from(self.apply(mid)) >= q {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            *slot = lo;
        }
        t
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

/// A 2-D convolution (`QLinearConv`, one group, dilation 1) on one NCHW image with int8 weights
/// (zero point 0): `acc[p][o] = Σ_k patch[p][k]·w[o][k] + bias[o]`, then [`Requant`]. The patches
/// are the im2col rows of `x − x_zp` (`k` runs over input channel, kernel row, kernel column; the
/// zero padding of `x − x_zp` is 0, i.e. the padded input equals its zero point, as in onnxruntime).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conv {
    /// Input channels.
    pub in_channels: usize,
    /// Input height.
    pub in_height: usize,
    /// Input width.
    pub in_width: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel `[height, width]`.
    pub kernel: [usize; 2],
    /// Strides `[height, width]`.
    pub strides: [usize; 2],
    /// Padding `[top, left, bottom, right]`.
    pub pads: [usize; 4],
    /// Zero point subtracted from every input value.
    pub input_zero_point: i8,
    /// Weights `[out_channels][in_channels][kernel_h][kernel_w]`.
    pub weights: Vec<i8>,
    /// int32 bias, one per output channel.
    pub bias: Vec<i32>,
    /// Requantization of the accumulator.
    pub requant: Requant,
}

impl Conv {
    /// Output `(height, width)`; `(0, 0)` when the kernel does not fit.
    pub fn out_hw(&self) -> (usize, usize) {
        let h = self.in_height.saturating_add(self.pads[0]).saturating_add(self.pads[2]);
        let w = self.in_width.saturating_add(self.pads[1]).saturating_add(self.pads[3]);
        let [kh, kw] = self.kernel;
        let [sh, sw] = self.strides;
        if kh == 0 || kw == 0 || sh == 0 || sw == 0 || kh > h || kw > w {
            return (0, 0);
        }
        ((h - kh) / sh + 1, (w - kw) / sw + 1)
    }

    /// Values in one patch: `in_channels · kernel_h · kernel_w`.
    pub fn patch_len(&self) -> usize {
        self.in_channels * self.kernel[0] * self.kernel[1]
    }

    /// Output positions per image.
    pub fn positions(&self) -> usize {
        let (h, w) = self.out_hw();
        h * w
    }

    /// im2col of one image: `[positions][patch_len]`, values `x − x_zp`, 0 in the padding.
    pub fn patches(&self, x: &[i8]) -> Vec<i32> {
        let zp = i32::from(self.input_zero_point);
        // The padding reads as the zero point, i.e. 0 once it is subtracted.
        self.patch_sources().iter().map(|s| s.map_or(0, |i| i32::from(x[i]) - zp)).collect()
    }

    /// The input index each entry of [`Self::patches`] reads, `None` in the padding.
    pub(crate) fn patch_sources(&self) -> Vec<Option<usize>> {
        let (oh, ow) = self.out_hw();
        let [kh, kw] = self.kernel;
        let [sh, sw] = self.strides;
        let k = self.patch_len();
        let mut out = vec![None; oh * ow * k];
        for (p, patch) in out.chunks_exact_mut(k.max(1)).enumerate() {
            let (py, px) = (p / ow, p % ow);
            for c in 0..self.in_channels {
                for dy in 0..kh {
                    let y = (py * sh + dy).wrapping_sub(self.pads[0]);
                    if y >= self.in_height {
                        continue;
                    }
                    for dx in 0..kw {
                        let xx = (px * sw + dx).wrapping_sub(self.pads[1]);
                        if xx < self.in_width {
                            patch[(c * kh + dy) * kw + dx] =
                                Some((c * self.in_height + y) * self.in_width + xx);
                        }
                    }
                }
            }
        }
        out
    }

    /// Exact accumulators (without bias) of one image, `[positions][out_channels]`.
    pub fn accumulate(&self, x: &[i8]) -> Vec<i64> {
        let k = self.patch_len();
        let patches = self.patches(x);
        let mut acc = Vec::with_capacity(self.positions() * self.out_channels);
        for patch in patches.chunks_exact(k) {
            for row in self.weights.chunks_exact(k) {
                acc.push(row.iter().zip(patch).map(|(&w, &p)| i64::from(w) * i64::from(p)).sum());
            }
        }
        acc
    }

    /// Output of one image (NCHW, `[out_channels][positions]`) from its `[positions][out_channels]`
    /// accumulators: bias added, requantized.
    pub fn finish(&self, acc: &[i64]) -> Vec<i8> {
        let positions = self.positions();
        let mut out = vec![0i8; positions * self.out_channels];
        for (p, row) in acc.chunks_exact(self.out_channels).enumerate() {
            for (o, (&a, &b)) in row.iter().zip(&self.bias).enumerate() {
                out[o * positions + p] = self.requant.apply(a + i64::from(b));
            }
        }
        out
    }
}

/// Which pooling a [`Pool`] stage does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PoolKind {
    /// The largest value of the window (`MaxPool` on int8).
    Max,
    /// The mean of the window, rounded half to even in exact integer arithmetic (same scale and
    /// zero point in and out).
    Average,
}

/// Pooling over windows of one NCHW int8 image (no padding, floor rounding of the output size).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    /// Max or average.
    pub kind: PoolKind,
    /// Channels.
    pub channels: usize,
    /// Input height.
    pub in_height: usize,
    /// Input width.
    pub in_width: usize,
    /// Window `[height, width]`.
    pub kernel: [usize; 2],
    /// Strides `[height, width]`.
    pub strides: [usize; 2],
}

impl Pool {
    /// Output `(height, width)`; `(0, 0)` when the window does not fit.
    pub fn out_hw(&self) -> (usize, usize) {
        let [kh, kw] = self.kernel;
        let [sh, sw] = self.strides;
        if kh == 0 || kw == 0 || sh == 0 || sw == 0 || kh > self.in_height || kw > self.in_width {
            return (0, 0);
        }
        ((self.in_height - kh) / sh + 1, (self.in_width - kw) / sw + 1)
    }

    /// Applies the pooling to one image.
    pub fn apply(&self, x: &[i8]) -> Vec<i8> {
        let (oh, ow) = self.out_hw();
        let [kh, kw] = self.kernel;
        let [sh, sw] = self.strides;
        let mut out = Vec::with_capacity(self.channels * oh * ow);
        for c in 0..self.channels {
            let plane = &x[c * self.in_height * self.in_width..][..self.in_height * self.in_width];
            for py in 0..oh {
                for px in 0..ow {
                    let window = (0..kh).flat_map(|dy| {
                        let row = (py * sh + dy) * self.in_width + px * sw;
                        plane[row..row + kw].iter().copied()
                    });
                    out.push(match self.kind {
                        PoolKind::Max => window.max().unwrap_or(0),
                        PoolKind::Average => {
                            let sum: i64 = window.map(i64::from).sum();
                            div_round_half_even(sum, (kh * kw) as i64) as i8
                        }
                    });
                }
            }
        }
        out
    }
}

/// `n / d` rounded to the nearest integer, ties to even (`d > 0`).
fn div_round_half_even(n: i64, d: i64) -> i64 {
    let q = n.div_euclid(d);
    let r = n.rem_euclid(d);
    match (2 * r).cmp(&d) {
        core::cmp::Ordering::Less => q,
        core::cmp::Ordering::Greater => q + 1,
        core::cmp::Ordering::Equal => q + (q & 1),
    }
}

/// One stage of a quantized model. Activations are flat int8 rows; images are NCHW, so `Flatten`
/// and `Reshape` are the identity and need no stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Stage {
    /// Integer matrix-vector product with requantization.
    Dense(Dense),
    /// Per-channel float rescale (bias, ReLU) between integer layers.
    Rescale(Rescale),
    /// Integer 2-D convolution with requantization.
    Conv(Conv),
    /// Max or average pooling.
    Pool(Pool),
}

/// The matrix product inside a stage with weights: `acc[row][o] = Σ_j lhs[row][j]·w[o][j]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MatMul<'a> {
    /// Inner dimension.
    pub(crate) k: usize,
    /// Outputs per row (rows of the weight matrix).
    pub(crate) m: usize,
    /// Left-hand rows per batch item (1 for dense layers, output positions for convolutions).
    pub(crate) rows_per_item: usize,
    /// Weights `[m][k]`.
    pub(crate) weights: &'a [i8],
}

impl Stage {
    /// Width of the stage's input row.
    pub fn in_dim(&self) -> usize {
        match self {
            Stage::Dense(d) => d.in_dim,
            Stage::Rescale(r) => r.bias.len(),
            Stage::Conv(c) => c.in_channels * c.in_height * c.in_width,
            Stage::Pool(p) => p.channels * p.in_height * p.in_width,
        }
    }

    /// Width of the stage's output row.
    pub fn out_dim(&self) -> usize {
        match self {
            Stage::Dense(d) => d.out_dim,
            Stage::Rescale(r) => r.bias.len(),
            Stage::Conv(c) => c.out_channels * c.positions(),
            Stage::Pool(p) => {
                let (h, w) = p.out_hw();
                p.channels * h * w
            }
        }
    }

    /// Number of weights the stage's shape calls for (`None` on overflow); 0 without weights.
    pub(crate) fn weight_count(&self) -> Option<usize> {
        match self {
            Stage::Dense(d) => d.in_dim.checked_mul(d.out_dim),
            Stage::Conv(c) => c
                .in_channels
                .checked_mul(c.kernel[0])?
                .checked_mul(c.kernel[1])?
                .checked_mul(c.out_channels),
            Stage::Rescale(_) | Stage::Pool(_) => Some(0),
        }
    }

    /// The stage's matrix product, for stages with weights.
    pub(crate) fn matmul(&self) -> Option<MatMul<'_>> {
        match self {
            Stage::Dense(d) => {
                Some(MatMul { k: d.in_dim, m: d.out_dim, rows_per_item: 1, weights: &d.weights })
            }
            Stage::Conv(c) => Some(MatMul {
                k: c.patch_len(),
                m: c.out_channels,
                rows_per_item: c.positions(),
                weights: &c.weights,
            }),
            Stage::Rescale(_) | Stage::Pool(_) => None,
        }
    }

    /// The weights, empty for stages without.
    pub(crate) fn weights_mut(&mut self) -> Option<&mut Vec<i8>> {
        match self {
            Stage::Dense(d) => Some(&mut d.weights),
            Stage::Conv(c) => Some(&mut c.weights),
            Stage::Rescale(_) | Stage::Pool(_) => None,
        }
    }

    /// Left-hand matrix of the stage's product for one input row: `[rows_per_item][k]`.
    pub(crate) fn lhs(&self, x: &[i8]) -> Vec<i32> {
        match self {
            Stage::Dense(d) => {
                let zp = i32::from(d.input_zero_point);
                x.iter().map(|&v| i32::from(v) - zp).collect()
            }
            Stage::Conv(c) => c.patches(x),
            Stage::Rescale(_) | Stage::Pool(_) => Vec::new(),
        }
    }

    /// Where each entry of [`Self::lhs`] reads the input row: `[rows_per_item][k]`, `None` in a
    /// convolution's padding (`lhs = x[src] − zp` elsewhere).
    pub(crate) fn lhs_sources(&self) -> Vec<Option<usize>> {
        match self {
            Stage::Dense(d) => (0..d.in_dim).map(Some).collect(),
            Stage::Conv(c) => c.patch_sources(),
            Stage::Rescale(_) | Stage::Pool(_) => Vec::new(),
        }
    }

    /// Exact accumulators of one input row, `[rows_per_item][m]` (stages with weights).
    pub(crate) fn accumulate(&self, x: &[i8]) -> Vec<i64> {
        match self {
            Stage::Dense(d) => d.accumulate(x),
            Stage::Conv(c) => c.accumulate(x),
            Stage::Rescale(_) | Stage::Pool(_) => Vec::new(),
        }
    }

    /// One output row of a stage with weights, from that row's accumulators.
    pub(crate) fn finish(&self, acc: &[i64]) -> Vec<i8> {
        match self {
            Stage::Dense(d) => d.finish(acc),
            Stage::Conv(c) => c.finish(acc),
            Stage::Rescale(_) | Stage::Pool(_) => Vec::new(),
        }
    }

    /// Bias (one per output of the product) and requantization of a stage with weights.
    pub(crate) fn requantization(&self) -> Option<(&[i32], Requant)> {
        match self {
            Stage::Dense(d) => Some((&d.bias, d.requant)),
            Stage::Conv(c) => Some((&c.bias, c.requant)),
            Stage::Rescale(_) | Stage::Pool(_) => None,
        }
    }

    /// One output row of a stage with weights, reordered like its accumulators
    /// (`[rows_per_item][m]`: a convolution's NCHW output transposed to `[positions][channels]`).
    pub(crate) fn output_as_accumulators(&self, y: &[i8]) -> Vec<i8> {
        match self {
            Stage::Conv(c) => {
                let positions = c.positions();
                (0..positions)
                    .flat_map(|p| (0..c.out_channels).map(move |o| y[o * positions + p]))
                    .collect()
            }
            _ => y.to_vec(),
        }
    }

    /// One output row of a stage without weights.
    pub(crate) fn apply(&self, x: &[i8]) -> Vec<i8> {
        match self {
            Stage::Rescale(r) => r.apply(x),
            Stage::Pool(p) => p.apply(x),
            Stage::Dense(_) | Stage::Conv(_) => Vec::new(),
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
    /// Accumulators (without bias) of each stage with weights, in stage order, flattened
    /// `[batch][rows_per_item][outputs]` (dense: one row of `out_dim`; convolution: one row of
    /// `out_channels` per output position).
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
        // (By kind: `matmul()` derives shapes, which `check_sizes` has not bounded yet.)
        if !self.stages.iter().any(|s| matches!(s, Stage::Dense(_) | Stage::Conv(_))) {
            return Err(ModelError::Invalid("the model has no dense or convolution layer".into()));
        }
        check_scale("input scale", self.input.scale)?;
        check_scale("output scale", self.output.scale)?;
        let mut width = self.input_dim;
        for (i, stage) in self.stages.iter().enumerate() {
            check_sizes(i, stage)?;
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
                Stage::Conv(c) => {
                    let (oh, ow) = c.out_hw();
                    if c.in_channels == 0 || c.out_channels == 0 || oh == 0 || ow == 0 {
                        return Err(ModelError::Invalid(format!(
                            "stage {i}: empty convolution or kernel larger than its input"
                        )));
                    }
                    if c.pads[0] >= c.kernel[0]
                        || c.pads[2] >= c.kernel[0]
                        || c.pads[1] >= c.kernel[1]
                        || c.pads[3] >= c.kernel[1]
                    {
                        return Err(ModelError::Invalid(format!(
                            "stage {i}: padding must be smaller than the kernel"
                        )));
                    }
                    if c.weights.len() != c.out_channels * c.patch_len()
                        || c.bias.len() != c.out_channels
                    {
                        return Err(ModelError::Invalid(format!(
                            "stage {i}: {} weights and {} biases for a convolution of {} kernels of {}",
                            c.weights.len(),
                            c.bias.len(),
                            c.out_channels,
                            c.patch_len()
                        )));
                    }
                    if !(c.requant.multiplier.is_finite() && c.requant.multiplier > 0.0) {
                        return Err(ModelError::Invalid(format!(
                            "stage {i}: requantization multiplier {} is not a positive number",
                            c.requant.multiplier
                        )));
                    }
                    let bound = (c.patch_len() as u128) * 255 * 128
                        + c.bias.iter().map(|b| b.unsigned_abs() as u128).max().unwrap_or(0);
                    if bound >= 1 << 31 {
                        return Err(ModelError::Invalid(format!(
                            "stage {i}: accumulators may exceed 2^31 ({} values per patch)",
                            c.patch_len()
                        )));
                    }
                }
                Stage::Pool(p) => {
                    let (oh, ow) = p.out_hw();
                    if p.channels == 0 || oh == 0 || ow == 0 {
                        return Err(ModelError::Invalid(format!(
                            "stage {i}: empty pooling or window larger than its input"
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
        // A NaN would also make the model (and its commitment) unequal to itself.
        if self.output.bias.iter().any(|b| !b.is_finite()) {
            return Err(ModelError::Invalid("output bias is not finite".into()));
        }
        Ok(())
    }

    /// Width of one output row.
    pub fn output_dim(&self) -> usize {
        self.stages.last().map_or(self.input_dim, Stage::out_dim)
    }

    /// Number of weights.
    pub fn num_weights(&self) -> usize {
        self.stages.iter().filter_map(Stage::matmul).map(|mm| mm.weights.len()).sum()
    }

    /// Work of one run on `batch` rows, in the unit of `ogn_runtime::Prepared::work`:
    /// multiply-accumulates of the stages with weights plus every value a stage writes.
    pub fn work(&self, batch: usize) -> u64 {
        let per_item: u64 = self
            .stages
            .iter()
            .map(|s| {
                let macs = s.matmul().map_or(0, |mm| mm.rows_per_item * mm.m * mm.k);
                (macs + s.out_dim()) as u64
            })
            .sum();
        per_item.saturating_mul(batch as u64)
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
            if let Some(mm) = stage.matmul() {
                let mut accs = Vec::with_capacity(batch * mm.rows_per_item * mm.m);
                for row in x.chunks_exact(w) {
                    let acc = stage.accumulate(row);
                    next.extend(stage.finish(&acc));
                    accs.extend(acc);
                }
                accumulators.push(accs);
            } else {
                for row in x.chunks_exact(w) {
                    next.extend(stage.apply(row));
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

/// Largest image side, channel count, kernel side, stride or padding of a convolution or pooling.
const MAX_SIDE: usize = 1 << 16;
/// Largest activation row, weight count or accumulator count of one stage.
const MAX_VALUES: u128 = 1 << 30;

/// Bounds every size of a convolution or pooling before any product of them is formed, so that
/// the shape arithmetic cannot overflow on an untrusted header.
fn check_sizes(i: usize, stage: &Stage) -> Result<(), ModelError> {
    let too_large = || ModelError::Invalid(format!("stage {i}: layer too large"));
    let (sides, products): (Vec<usize>, Vec<u128>) = match stage {
        Stage::Conv(c) => {
            let sides = [c.in_channels, c.in_height, c.in_width, c.out_channels];
            let sides: Vec<usize> =
                sides.iter().chain(&c.kernel).chain(&c.strides).chain(&c.pads).copied().collect();
            // Saturating: the sides are not bounded yet (three of them can overflow u128).
            let mul = |v: &[usize]| v.iter().fold(1u128, |a, &b| a.saturating_mul(b as u128));
            let patch = mul(&[c.in_channels, c.kernel[0], c.kernel[1]]);
            let padded = (c.in_height as u128 + c.pads[0] as u128 + c.pads[2] as u128)
                .saturating_mul(c.in_width as u128 + c.pads[1] as u128 + c.pads[3] as u128);
            let products = vec![
                mul(&[c.in_channels, c.in_height, c.in_width]),
                patch.saturating_mul(c.out_channels as u128),
                padded.saturating_mul(c.out_channels as u128),
                padded.saturating_mul(patch),
            ];
            (sides, products)
        }
        Stage::Pool(p) => {
            let sides: Vec<usize> = [p.channels, p.in_height, p.in_width]
                .iter()
                .chain(&p.kernel)
                .chain(&p.strides)
                .copied()
                .collect();
            let values = (p.channels as u128)
                .saturating_mul(p.in_height as u128)
                .saturating_mul(p.in_width as u128);
            (sides, vec![values])
        }
        Stage::Dense(d) => (vec![], vec![d.in_dim as u128 * d.out_dim as u128]),
        Stage::Rescale(_) => (vec![], vec![]),
    };
    if sides.iter().any(|&v| v > MAX_SIDE) || products.iter().any(|&v| v > MAX_VALUES) {
        return Err(too_large());
    }
    Ok(())
}

fn check_scale(what: &str, s: f32) -> Result<(), ModelError> {
    if s.is_finite() && s > 0.0 {
        Ok(())
    } else {
        Err(ModelError::Invalid(format!("{what} {s} is not a positive number")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requantization_thresholds_bracket_every_accumulator() {
        for (multiplier, zero_point) in
            [(0.002f32, -5i8), (1.0 / 700.0, -20), (0.37, 0), (3.5, 127), (1e-6, -128), (0.0173, 9)]
        {
            let r = Requant { multiplier, zero_point };
            let t = r.thresholds();
            assert!(t.windows(2).all(|w| w[0] <= w[1]), "{multiplier}: not sorted");
            // Every accumulator near the steps and over a wide grid lands between its thresholds.
            let grid = (-70_000..70_000).chain((-3000..3000).map(|i| i * 700_001));
            let steps = t.iter().flat_map(|&a| [a - 1, a, a + 1]);
            for a in grid.chain(steps).filter(|a| a.abs() <= 1 << 40) {
                let q = i64::from(r.apply(a));
                let k = (q + 128) as usize;
                assert!(t[k] <= a && a < t[k + 1], "{multiplier}: {a} → {q}");
            }
        }
    }

    #[test]
    fn huge_convolution_shapes_are_refused_without_overflow() {
        // Found by the proof fuzz target: a decoded header whose sizes overflow `usize` sums.
        let base = crate::fixtures::conv_pool_dense();
        for (side, pad) in [(usize::MAX, 1), (usize::MAX / 2, usize::MAX / 2), (1 << 40, 0)] {
            let mut m = base.clone();
            let Stage::Conv(c) = &mut m.stages[0] else { unreachable!() };
            c.in_height = side;
            c.pads = [pad, 0, pad, 0];
            c.in_channels = side;
            c.kernel = [side, 3];
            assert!(m.validate().is_err(), "{side}/{pad}");
            let mut m = base.clone();
            let Stage::Pool(p) = &mut m.stages[1] else { unreachable!() };
            (p.channels, p.in_height, p.in_width) = (side, side, side);
            assert!(m.validate().is_err(), "pool {side}");
        }
    }

    #[test]
    fn rounding_division_ties_to_even() {
        let cases =
            [(5, 2, 2), (7, 2, 4), (-5, 2, -2), (-7, 2, -4), (9, 4, 2), (10, 4, 2), (11, 4, 3)];
        for (n, d, q) in cases {
            assert_eq!(div_round_half_even(n, d), q, "{n}/{d}");
        }
        assert_eq!(div_round_half_even(-10, 4), -2);
        assert_eq!(div_round_half_even(-11, 4), -3);
    }

    #[test]
    fn convolution_equals_the_direct_sum() {
        let c = Conv {
            in_channels: 2,
            in_height: 5,
            in_width: 6,
            out_channels: 3,
            kernel: [3, 2],
            strides: [2, 1],
            pads: [1, 0, 2, 1],
            input_zero_point: -3,
            weights: (0..36).map(|i| (i * 7 % 19) as i8 - 9).collect(),
            bias: vec![0; 3],
            requant: Requant { multiplier: 0.01, zero_point: 0 },
        };
        let x: Vec<i8> = (0..60).map(|i| (i * 13 % 41) as i8 - 20).collect();
        let (oh, ow) = c.out_hw();
        assert_eq!((oh, ow), (3, 6));
        let acc = c.accumulate(&x);
        for oy in 0..oh {
            for ox in 0..ow {
                for o in 0..3 {
                    let mut sum = 0i64;
                    for ci in 0..2 {
                        for dy in 0..3 {
                            for dx in 0..2 {
                                let y = (oy * 2 + dy) as i64 - 1;
                                let xx = (ox + dx) as i64;
                                let v = if (0..5).contains(&y) && (0..6).contains(&xx) {
                                    i64::from(x[ci * 30 + y as usize * 6 + xx as usize]) + 3
                                } else {
                                    0
                                };
                                sum += v * i64::from(c.weights[((o * 2 + ci) * 3 + dy) * 2 + dx]);
                            }
                        }
                    }
                    assert_eq!(acc[(oy * ow + ox) * 3 + o], sum, "({oy}, {ox}) channel {o}");
                }
            }
        }
    }

    #[test]
    fn patch_sources_index_the_patches() {
        let conv = Conv {
            in_channels: 2,
            in_height: 5,
            in_width: 6,
            out_channels: 1,
            kernel: [3, 2],
            strides: [2, 1],
            pads: [1, 0, 1, 1],
            input_zero_point: -7,
            weights: vec![1; 12],
            bias: vec![0],
            requant: Requant { multiplier: 0.01, zero_point: 0 },
        };
        // `patches` reads through `patch_sources`: check the index map itself, directly from the
        // definition of a strided, padded window.
        let sources = conv.patch_sources();
        let (oh, ow) = conv.out_hw();
        let k = conv.patch_len();
        assert_eq!(sources.len(), oh * ow * k);
        for oy in 0..oh {
            for ox in 0..ow {
                for ci in 0..2 {
                    for dy in 0..3 {
                        for dx in 0..2 {
                            let y = (oy * 2 + dy) as i64 - 1;
                            let xx = ox as i64 + dx as i64;
                            let want = ((0..5).contains(&y) && (0..6).contains(&xx))
                                .then(|| ci * 30 + y as usize * 6 + xx as usize);
                            let at = (oy * ow + ox) * k + (ci * 3 + dy) * 2 + dx;
                            assert_eq!(sources[at], want, "({oy}, {ox}) c{ci} dy{dy} dx{dx}");
                        }
                    }
                }
            }
        }
        assert!(sources.contains(&None));
        let x: Vec<i8> = (0..60).map(|i| (i * 37 % 251) as u8 as i8).collect();
        let patches = conv.patches(&x);
        for (p, s) in patches.iter().zip(&sources) {
            assert_eq!(*p, s.map_or(0, |i| i32::from(x[i]) + 7));
        }
    }

    #[test]
    fn pooling_takes_the_max_or_the_rounded_mean() {
        let x: Vec<i8> = vec![1, 2, 3, 4, -5, 6, 7, 8, 9, 10, 11, 12];
        let mut p = Pool {
            kind: PoolKind::Max,
            channels: 1,
            in_height: 3,
            in_width: 4,
            kernel: [2, 2],
            strides: [1, 2],
        };
        assert_eq!(p.apply(&x), vec![6, 8, 10, 12]);
        p.kind = PoolKind::Average;
        // (1+2-5+6)/4 = 1, (3+4+7+8)/4 = 5.5 → 6, (-5+6+9+10)/4 = 5, (7+8+11+12)/4 = 9.5 → 10.
        assert_eq!(p.apply(&x), vec![1, 6, 5, 10]);
    }
}
