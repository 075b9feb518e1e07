//! Model commitment, prover and verifier (the protocol is specified in the crate docs).

use p3_challenger::{CanObserve, FieldChallenger};
use p3_commit::MultilinearPcs;
use p3_field::PrimeCharacteristicRing;
use p3_matrix::dense::RowMajorMatrix;
use p3_multilinear_util::point::Point;
use p3_sumcheck::layout::{Layout as _, Table, observe_commitment};
use p3_sumcheck::{OpeningProtocol, PrescribedPointPcs};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{ModelError, VerifyError};
use crate::field::{EF, F, eq_table, eval_mle, from_i64, log2_ceil};
use crate::logup;
use crate::model::{MatMul, QuantizedModel, Stage};
use crate::pcs::{self, Opening, Pcs, Root};
use crate::sumcheck::{self, SumcheckProof};

/// Largest batch a proof may carry.
pub const MAX_BATCH: usize = 1 << 16;
/// Version byte in front of encoded commitments. Version 2: convolution and pooling stages, and the
/// WHIR rate schedule of [`pcs::RATE_STEP`]; version 1 (dense layers only, rate lowered 3 bits per
/// round) is refused.
const VERSION: u8 = 2;
/// Version byte in front of encoded proofs. Version 4: an optional hidden input (bound by an
/// [`InputCommitment`]); version 3 (the input always in the statement) and older are refused.
const PROOF_VERSION: u8 = 4;
/// Version byte in front of encoded input commitments.
const INPUT_VERSION: u8 = 1;
/// Domain separator absorbed first into every transcript.
const DOMAIN: &[u8] = b"ogn-zk/sumcheck-whir/v4";
/// Bytes per range-checked difference: requantization differences are below 2^32.
const LIMBS: usize = 4;

/// The public commitment to a model: every parameter except the weights, plus the WHIR root of the
/// weights. Its [`ModelCommitment::id`] names the model in proofs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelCommitment {
    /// The model with the weight matrices removed (shapes, zero points, biases, scales remain).
    header: QuantizedModel,
    /// WHIR commitment to the stacked weight tables.
    root: Root,
}

/// A model committed once, ready to prove many inferences.
pub struct CommittedModel {
    model: QuantizedModel,
    commitment: ModelCommitment,
    pcs: Pcs,
    prover_data: <Pcs as MultilinearPcs<EF, pcs::Challenger>>::ProverData,
}

/// A proof that a committed model maps an input to an output.
#[derive(Clone, Serialize, Deserialize)]
pub struct Proof {
    /// Output of each stage with weights (requantized, int8, in the stage's output layout).
    outputs: Vec<Vec<i8>>,
    /// WHIR commitment to this run's witness: per stage with weights its accumulators and the
    /// bytes of their distances to the requantization thresholds.
    witness_root: Root,
    /// Per stage with weights, the claimed `Ã(r_n, r_i)` the product sumcheck starts from.
    acc_evals: Vec<EF>,
    /// Per stage with weights, one entry per column block of its weight matrix.
    blocks: Vec<Vec<BlockProof>>,
    /// Per stage with weights, the range check of its requantization.
    ranges: Vec<RangeCheck>,
    /// WHIR opening of the weight commitment at every block's point `(0…0, r_i, s)`.
    opening: Opening,
    /// WHIR opening of the witness commitment (accumulators at `(r_n, r_i)` and at `ρ`, limbs at
    /// `(σ, ρ)`).
    witness_opening: Opening,
    /// With a hidden input: the first product's input reduced to openings of the
    /// [`InputCommitment`]; `None` when the input is in the statement.
    hidden_input: Option<HiddenInput>,
}

/// A commitment to an int8 input `[batch][input_dim]` (flattened): the WHIR root of the bytes
/// `x + 128`, zero-padded to a power of two. It is deterministic (anyone holding `x` recomputes it
/// with [`commit_input`]) and not hiding: see the crate docs for what a hidden-input proof hides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputCommitment {
    /// Number of committed int8 values.
    len: usize,
    /// WHIR root of the input table.
    root: Root,
}

/// How the first product's left-hand side is tied to a committed input `u = x + 128`.
#[derive(Clone, Serialize, Deserialize)]
struct HiddenInput {
    /// Per column block of the first stage, the claimed `X̃_b(r_n, s_b)` its sumcheck ends with.
    lhs_evals: Vec<EF>,
    /// Sumcheck of `Σ_i ũ(i)·c̃(i)` (`c` the index map of the first stage, batched over the blocks
    /// by `γ`), ending at a point `t`.
    sumcheck: SumcheckProof,
    /// `ũ(t)`.
    input_eval: EF,
    /// LogUp range check that every committed value is a byte (so `u − 128` is an int8 input).
    range: logup::RangeProof,
    /// WHIR opening of the input commitment at `t` and at the range check's point.
    opening: Opening,
}

/// Variables of the committed input table.
fn input_vars(len: usize) -> usize {
    log2_ceil(len).max(pcs::FOLDING_FACTOR)
}

fn input_protocol(len: usize) -> OpeningProtocol {
    pcs::protocol_points(&[(input_vars(len), 2)])
}

/// The committed input values `x + 128` (bytes), in order.
fn input_bytes(input: &[i8]) -> Vec<i64> {
    input.iter().map(|&x| i64::from(x) + 128).collect()
}

type InputData = <Pcs as MultilinearPcs<EF, pcs::Challenger>>::ProverData;

fn commit_input_data(input: &[i8]) -> Result<(InputCommitment, Pcs, InputData), ModelError> {
    let protocol = input_protocol(input.len());
    let pcs = pcs::pcs(&protocol).map_err(ModelError::Commitment)?;
    let n = 1 << input_vars(input.len());
    let mut t: Vec<F> = input_bytes(input).into_iter().map(from_i64).collect();
    t.resize(n, F::ZERO);
    let witness =
        pcs::Layout::new_witness(vec![Table::new(RowMajorMatrix::new(t, n))], pcs::FOLDING_FACTOR);
    let (root, data) =
        <Pcs as MultilinearPcs<EF, pcs::Challenger>>::commit(&pcs, witness, &mut pcs::challenger())
            .map_err(|e| ModelError::Commitment(format!("{e:?}")))?;
    Ok((InputCommitment { len: input.len(), root }, pcs, data))
}

/// Commits to an int8 input (`[batch][input_dim]` flattened), as [`CommittedModel::prove_hidden`]
/// does: the commitment a hidden-input proof is verified against ([`verify_hidden`]).
pub fn commit_input(input: &[i8]) -> Result<InputCommitment, ModelError> {
    Ok(commit_input_data(input)?.0)
}

impl InputCommitment {
    /// Number of committed int8 values (`batch · input_dim`).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no value is committed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Canonical bytes (version byte, then postcard).
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_versioned(INPUT_VERSION, self)
    }

    /// Decodes an input commitment.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VerifyError> {
        decode_versioned(INPUT_VERSION, bytes, "unknown version", VerifyError::Input)
    }
}

/// The input as the statement carries it.
#[derive(Clone, Copy)]
enum Input<'a> {
    Clear(&'a [i8]),
    Hidden(&'a InputCommitment),
}

impl Input<'_> {
    fn len(&self) -> usize {
        match self {
            Input::Clear(x) => x.len(),
            Input::Hidden(c) => c.len,
        }
    }
}

/// Zero point subtracted from a stage's input before its product.
fn input_zero_point(stage: &Stage) -> i8 {
    match stage {
        Stage::Dense(d) => d.input_zero_point,
        Stage::Conv(c) => c.input_zero_point,
        Stage::Rescale(_) | Stage::Pool(_) => 0,
    }
}

/// The index map of the first product, weighted: `c_i = Σ_b γ^b Σ eq(r_n, row)·eq(s_b, j − off_b)`
/// over the entries `(row, j)` of block `b` of the left-hand matrix that read input value `i`
/// (padding reads none). Then `Σ_b γ^b X̃_b(r_n, s_b) = Σ_i (u_i − 128 − zp)·c_i`.
fn input_coefficients(
    stage: &Stage,
    mm: MatMul<'_>,
    batch: usize,
    rn: &[EF],
    block_points: &[(Block, Vec<EF>)],
    gamma: EF,
) -> Vec<EF> {
    let mut g = vec![EF::ZERO; mm.k];
    let mut gp = EF::ONE;
    for (b, s) in block_points {
        for (j, e) in eq_table(s).into_iter().enumerate() {
            g[b.offset + j] = gp * e;
        }
        gp *= gamma;
    }
    let sources = stage.lhs_sources();
    let in_dim = stage.in_dim();
    let eq_rows = eq_table(rn);
    let mut c = vec![EF::ZERO; 1 << input_vars(batch * in_dim)];
    for item in 0..batch {
        let base = item * in_dim;
        for (p, row_sources) in sources.chunks_exact(mm.k.max(1)).enumerate() {
            let e = eq_rows[item * mm.rows_per_item + p];
            for (&src, &gj) in row_sources.iter().zip(&g) {
                if let Some(src) = src {
                    c[base + src] += e * gj;
                }
            }
        }
    }
    c
}

/// The requantization check of one stage with weights: every accumulator `a` (bias `b`, output `q`)
/// lies in `[T_q − b, T_{q+1} − 1 − b]` (the thresholds of [`crate::Requant::thresholds`], clipped
/// to `±k·255·128`), shown by range-checking the bytes of `a − lower` and `upper − a`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct RangeCheck {
    /// LogUp proof that every committed byte is below 256; it ends at a point `(ρ_limb, ρ)`.
    logup: logup::RangeProof,
    /// `L̃(j, ρ)` for the eight byte rows `j` (four of `a − lower`, four of `upper − a`).
    limbs: [EF; 2 * LIMBS],
    /// `Ã(ρ)`.
    acc: EF,
}

/// The sumcheck of one column block of one stage with weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct BlockProof {
    /// `Σ_j X̃(r_n, j)·W̃_b(r_i, j)` over the block's columns.
    claim: EF,
    /// The product sumcheck.
    sumcheck: SumcheckProof,
    /// Claimed `W̃_b(0…0, r_i, s)`.
    weight_eval: EF,
}

impl core::fmt::Debug for Proof {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Proof")
            .field("outputs", &self.outputs)
            .field("acc_evals", &self.acc_evals)
            .field("blocks", &self.blocks)
            .field("ranges", &self.ranges)
            .field("hidden_input", &self.hidden_input)
            .finish_non_exhaustive()
    }
}

impl core::fmt::Debug for HiddenInput {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HiddenInput")
            .field("lhs_evals", &self.lhs_evals)
            .field("sumcheck", &self.sumcheck)
            .field("input_eval", &self.input_eval)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

impl core::fmt::Debug for CommittedModel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CommittedModel").field("commitment", &self.commitment).finish()
    }
}

/// One committed table: the columns `offset .. offset + 2^log_k` of a layer's weights,
/// rows zero-padded to `2^log_m`. Splitting the columns by the binary digits of `in_dim` keeps
/// the committed size close to the weight count instead of rounding every matrix up to a power of two.
#[derive(Clone, Copy, Debug)]
struct Block {
    offset: usize,
    log_k: usize,
    /// Row variables of the table (≥ the stage's `log2_ceil(out_dim)`).
    log_m: usize,
}

/// The stages with weights (dense and convolution), with their index among all stages.
fn linear_stages(model: &QuantizedModel) -> impl Iterator<Item = (usize, MatMul<'_>)> {
    model.stages.iter().enumerate().filter_map(|(i, s)| s.matmul().map(|mm| (i, mm)))
}

fn blocks(mm: MatMul<'_>) -> Vec<Block> {
    let log_rows = log2_ceil(mm.m);
    let mut out = Vec::new();
    let mut offset = 0;
    for bit in (0..usize::BITS as usize).rev() {
        if mm.k >> bit & 1 == 1 {
            // Every table needs at least FOLDING_FACTOR variables; pad the rows.
            let log_m = log_rows.max(pcs::FOLDING_FACTOR.saturating_sub(bit));
            out.push(Block { offset, log_k: bit, log_m });
            offset += 1 << bit;
        }
    }
    out
}

fn weight_protocol(model: &QuantizedModel) -> OpeningProtocol {
    let vars: Vec<usize> =
        linear_stages(model).flat_map(|(_, mm)| blocks(mm)).map(|b| b.log_m + b.log_k).collect();
    pcs::protocol(&vars)
}

fn weight_table(mm: MatMul<'_>, b: Block) -> Vec<F> {
    let k = 1 << b.log_k;
    let mut t = vec![F::ZERO; (1 << b.log_m) * k];
    for (i, row) in mm.weights.chunks_exact(mm.k).enumerate() {
        for (j, &w) in row[b.offset..b.offset + k].iter().enumerate() {
            t[i * k + j] = from_i64(i64::from(w));
        }
    }
    t
}

/// `Σ_i eq(r, i)·W_b[i][·]` over the stage's real rows.
fn fold_weights(mm: MatMul<'_>, b: Block, r: &[EF]) -> Vec<EF> {
    let eq = eq_table(r);
    let k = 1 << b.log_k;
    let mut out = vec![EF::ZERO; k];
    for (row, &e) in mm.weights.chunks_exact(mm.k).zip(&eq) {
        for (o, &w) in out.iter_mut().zip(&row[b.offset..b.offset + k]) {
            *o += e * from_i64(i64::from(w));
        }
    }
    out
}

/// The left-hand matrix of a stage for a whole batch, `[batch·rows_per_item][k]`.
fn lhs_matrix(stage: &Stage, x: &[i8]) -> Vec<i32> {
    x.chunks_exact(stage.in_dim()).flat_map(|row| stage.lhs(row)).collect()
}

/// `Σ_row eq(r, row)·lhs[row][block columns]`: the block's columns folded over the rows.
fn fold_lhs(lhs: &[i32], k: usize, b: Block, r: &[EF]) -> Vec<EF> {
    let eq = eq_table(r);
    let kb = 1 << b.log_k;
    let mut out = vec![EF::ZERO; kb];
    for (row, &e) in lhs.chunks_exact(k).zip(&eq) {
        for (o, &v) in out.iter_mut().zip(&row[b.offset..b.offset + kb]) {
            if v != 0 {
                *o += e * from_i64(i64::from(v));
            }
        }
    }
    out
}

/// `l̃hs_b(r, s)` for a block: fold the rows with `eq(r, ·)`, then the columns with `eq(s, ·)`.
fn eval_lhs(lhs: &[i32], k: usize, b: Block, r: &[EF], s: &[EF]) -> EF {
    let folded = fold_lhs(lhs, k, b, r);
    eq_table(s).iter().zip(&folded).map(|(&e, &v)| e * v).sum()
}

/// The WHIR point of a block: zero row-padding bits, then `r_i`, then `s`.
fn block_point(b: Block, ri: &[EF], s: Vec<EF>) -> Point<EF> {
    let mut p = vec![EF::ZERO; b.log_m - ri.len()];
    p.extend_from_slice(ri);
    p.extend(s);
    Point::new(p)
}

fn strip_weights(model: &QuantizedModel) -> QuantizedModel {
    let mut h = model.clone();
    for s in &mut h.stages {
        if let Some(w) = s.weights_mut() {
            *w = Vec::new();
        }
    }
    h
}

impl ModelCommitment {
    /// The model parameters without weights.
    pub fn header(&self) -> &QuantizedModel {
        &self.header
    }

    /// Canonical bytes (version byte, then postcard).
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_versioned(VERSION, self)
    }

    /// Decodes and checks a commitment.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VerifyError> {
        let c: Self = decode_versioned(VERSION, bytes, "unknown version", VerifyError::Commitment)?;
        c.check_header()?;
        Ok(c)
    }

    fn check_header(&self) -> Result<(), VerifyError> {
        // Validate the header as a model whose weights are zero (same shapes).
        let mut m = self.header.clone();
        for s in &mut m.stages {
            let n = s
                .weight_count()
                .filter(|&n| n <= 1 << 30)
                .ok_or_else(|| VerifyError::Commitment("layer too large".into()))?;
            if let Some(w) = s.weights_mut() {
                if !w.is_empty() {
                    return Err(VerifyError::Commitment("the header carries weights".into()));
                }
                *w = vec![0; n];
            }
        }
        m.validate().map_err(|e| VerifyError::Commitment(e.to_string()))
    }

    /// SHA-256 of the canonical bytes: the model's proof identity.
    pub fn id(&self) -> [u8; 32] {
        Sha256::digest(self.to_bytes()).into()
    }
}

/// Absorbs the model commitment, input and output: the statement.
fn absorb_statement(
    ch: &mut pcs::Challenger,
    c: &ModelCommitment,
    batch: usize,
    input: Input<'_>,
    output: &[i8],
) {
    for chunk in DOMAIN.chunks(4) {
        let mut b = [0u8; 4];
        b[..chunk.len()].copy_from_slice(chunk);
        ch.observe(F::from_u32(u32::from_le_bytes(b)));
    }
    let header = postcard::to_allocvec(&c.header).unwrap_or_default();
    for chunk in Sha256::digest(&header).chunks(4) {
        ch.observe(F::from_u32(u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]])));
    }
    observe_commitment::<F, _, _>(ch, c.root.clone());
    ch.observe(F::from_u64(batch as u64));
    ch.observe(F::from_u64(input.len() as u64));
    match input {
        Input::Clear(x) => {
            ch.observe(F::ZERO);
            for &x in x {
                ch.observe(from_i64(i64::from(x)));
            }
        }
        Input::Hidden(c) => {
            ch.observe(F::ONE);
            observe_commitment::<F, _, _>(ch, c.root.clone());
        }
    }
    ch.observe(F::from_u64(output.len() as u64));
    for &y in output {
        ch.observe(from_i64(i64::from(y)));
    }
}

/// Where one stage's accumulators sit in the witness commitment: entry `row·2^log_m + o` of a
/// table of `2^vars` values (`vars` ≥ [`pcs::FOLDING_FACTOR`]: extra leading bits are zero).
#[derive(Clone, Copy, Debug)]
struct WitnessShape {
    m: usize,
    log_rows: usize,
    log_m: usize,
    vars: usize,
}

impl WitnessShape {
    fn new(mm: MatMul<'_>, batch: usize) -> Self {
        let log_rows = log2_ceil(batch * mm.rows_per_item);
        let log_m = log2_ceil(mm.m);
        Self { m: mm.m, log_rows, log_m, vars: (log_rows + log_m).max(pcs::FOLDING_FACTOR) }
    }

    /// Table index of the `idx`-th accumulator in `[row][o]` order.
    fn entry(&self, idx: usize) -> usize {
        ((idx / self.m) << self.log_m) | (idx % self.m)
    }

    /// The point `(0…0, r_n, r_i)` of the table.
    fn acc_point(&self, rn: &[EF], ri: &[EF]) -> Vec<EF> {
        let mut p = vec![EF::ZERO; self.vars - self.log_rows - self.log_m];
        p.extend_from_slice(rn);
        p.extend_from_slice(ri);
        p
    }
}

/// The witness tables in commitment order, `(variables, opening points)`: per stage with weights
/// its accumulators (opened at the product's point and at the range check's point) and its
/// `2·LIMBS` byte rows (opened once).
fn witness_protocol(shapes: &[WitnessShape]) -> OpeningProtocol {
    let tables: Vec<(usize, usize)> =
        shapes.iter().flat_map(|s| [(s.vars, 2), (s.vars + 3, 1)]).collect();
    pcs::protocol_points(&tables)
}

fn witness_shapes(model: &QuantizedModel, batch: usize) -> Vec<WitnessShape> {
    linear_stages(model).map(|(_, mm)| WitnessShape::new(mm, batch)).collect()
}

/// The bounds `[lower, upper]` every accumulator of a stage must lie in for the stage's claimed
/// output (table order; padding entries get `[0, 0]`). `lower > upper` where no accumulator within
/// `±k·255·128` gives that output.
fn acc_bounds(
    stage: &Stage,
    mm: MatMul<'_>,
    shape: WitnessShape,
    outputs: &[i8],
) -> (Vec<i64>, Vec<i64>) {
    let n = 1 << shape.vars;
    let (mut lower, mut upper) = (vec![0i64; n], vec![0i64; n]);
    let Some((bias, requant)) = stage.requantization() else { return (lower, upper) };
    let t = requant.thresholds();
    // |acc| ≤ k·255·128 < 2^31 for every honest run; clipping (one side each) keeps the proven
    // accumulators there, so the product identity mod p is one over the integers.
    let bound = (mm.k as i64) * 255 * 128;
    let q = outputs.chunks_exact(stage.out_dim()).flat_map(|y| stage.output_as_accumulators(y));
    for (idx, q) in q.enumerate() {
        let e = shape.entry(idx);
        let k = (i64::from(q) + 128) as usize;
        let b = i64::from(bias[idx % shape.m]);
        lower[e] = (t[k] - b).max(-bound);
        upper[e] = (t[k + 1] - 1 - b).min(bound);
    }
    (lower, upper)
}

/// `Σ_e eq(ρ, e)·v_e`.
fn eval_ints(v: &[i64], eq: &[EF]) -> EF {
    v.iter().zip(eq).filter(|(v, _)| **v != 0).map(|(&v, &e)| e * from_i64(v)).sum()
}

/// `Σ_j c^j·limbs[j]` for the `LIMBS` bytes of one difference.
fn recompose(limbs: &[EF]) -> EF {
    limbs.iter().rev().fold(EF::ZERO, |acc, &l| acc * F::from_u16(256) + l)
}

/// Every stage's input and the model output, from the input and the outputs of the stages with
/// weights (shapes checked by the caller): the stages without weights are run.
fn replay(model: &QuantizedModel, input: &[i8], outputs: &[Vec<i8>]) -> Vec<Vec<i8>> {
    let mut activations = vec![input.to_vec()];
    let mut outputs = outputs.iter();
    for stage in &model.stages {
        let x = activations.last().map(Vec::as_slice).unwrap_or(&[]);
        let next: Vec<i8> = match stage.matmul() {
            Some(_) => outputs.next().cloned().unwrap_or_default(),
            None => x.chunks_exact(stage.in_dim()).flat_map(|row| stage.apply(row)).collect(),
        };
        activations.push(next);
    }
    activations
}

/// Absorbs the claimed outputs of the stages with weights.
fn absorb_outputs(ch: &mut pcs::Challenger, outputs: &[Vec<i8>]) {
    for out in outputs {
        ch.observe(F::from_u64(out.len() as u64));
        for &q in out {
            ch.observe(from_i64(i64::from(q)));
        }
    }
}

fn sample_point(ch: &mut pcs::Challenger, n: usize) -> Vec<EF> {
    (0..n).map(|_| ch.sample_algebra_element::<EF>()).collect()
}

impl CommittedModel {
    /// Commits to the model's weights (one WHIR commitment over all dense layers).
    pub fn new(model: &QuantizedModel) -> Result<Self, ModelError> {
        model.validate()?;
        let protocol = weight_protocol(model);
        let pcs = pcs::pcs(&protocol).map_err(ModelError::Commitment)?;
        let tables: Vec<Table<F>> = linear_stages(model)
            .flat_map(|(_, mm)| blocks(mm).into_iter().map(move |b| weight_table(mm, b)))
            .map(|t| {
                let n = t.len();
                Table::new(RowMajorMatrix::new(t, n))
            })
            .collect();
        let witness = pcs::Layout::new_witness(tables, pcs::FOLDING_FACTOR);
        let mut ch = pcs::challenger();
        let (root, prover_data) =
            <Pcs as MultilinearPcs<EF, pcs::Challenger>>::commit(&pcs, witness, &mut ch)
                .map_err(|e| ModelError::Commitment(format!("{e:?}")))?;
        let commitment = ModelCommitment { header: strip_weights(model), root };
        Ok(Self { model: model.clone(), commitment, pcs, prover_data })
    }

    /// The public commitment.
    pub fn commitment(&self) -> &ModelCommitment {
        &self.commitment
    }

    /// The model.
    pub fn model(&self) -> &QuantizedModel {
        &self.model
    }

    /// Runs the model on an int8 input (`[batch][input_dim]` flattened) and proves the run.
    pub fn prove(&self, input: &[i8]) -> Result<(Vec<i8>, Proof), ModelError> {
        let (output, _, proof) = self.prove_with(input, None, |_| {})?;
        Ok((output, proof))
    }

    /// [`Self::prove`] with the input left out of the statement: the proof binds the returned
    /// [`InputCommitment`] instead ([`verify_hidden`]). The model's first stage must have weights.
    /// What stays visible (the activations, the commitment's determinism) is in the crate docs.
    pub fn prove_hidden(
        &self,
        input: &[i8],
    ) -> Result<(Vec<i8>, InputCommitment, Proof), ModelError> {
        let (output, c, proof) = self.prove_with(input, Some(input), |_| {})?;
        Ok((output, c.ok_or_else(|| ModelError::Commitment("no input commitment".into()))?, proof))
    }

    /// [`Self::prove`], with `tamper` applied to the outputs of the stages with weights before
    /// anything is derived from them: the rest of the run (later stages, their accumulators, the
    /// claimed output) follows the changed values, as a cheating prover's would. With `committed`,
    /// the input is hidden and `committed` is what the input commitment holds (a cheating prover may
    /// commit to other values than it computes with).
    fn prove_with(
        &self,
        input: &[i8],
        committed: Option<&[i8]>,
        tamper: impl Fn(&mut [Vec<i8>]),
    ) -> Result<(Vec<i8>, Option<InputCommitment>, Proof), ModelError> {
        let mut trace = self.model.trace(input)?;
        if trace.batch > MAX_BATCH {
            return Err(ModelError::BatchTooLarge(trace.batch));
        }
        let hide = committed.is_some();
        if hide && self.model.stages.first().and_then(Stage::matmul).is_none() {
            return Err(ModelError::Invalid(
                "a hidden input needs a first stage with weights".into(),
            ));
        }
        let input_data = committed.map(commit_input_data).transpose()?;
        let linear: Vec<(usize, MatMul<'_>)> = linear_stages(&self.model).collect();
        let shapes = witness_shapes(&self.model, trace.batch);
        let mut outputs: Vec<Vec<i8>> =
            linear.iter().map(|&(i, _)| trace.activations[i + 1].clone()).collect();
        let honest = outputs.clone();
        tamper(&mut outputs);
        if outputs != honest {
            trace.activations = replay(&self.model, input, &outputs);
            for (acc, &(i, _)) in trace.accumulators.iter_mut().zip(&linear) {
                let x = &trace.activations[i];
                *acc = x
                    .chunks_exact(self.model.stages[i].in_dim())
                    .flat_map(|row| self.model.stages[i].accumulate(row))
                    .collect();
            }
        }
        let output = trace.output().to_vec();
        let mut ch = pcs::challenger();
        let statement_input = match &input_data {
            Some((c, _, _)) => Input::Hidden(c),
            None => Input::Clear(input),
        };
        absorb_statement(&mut ch, &self.commitment, trace.batch, statement_input, &output);
        absorb_outputs(&mut ch, &outputs);

        // The witness: accumulators and the bytes of their distances to the bounds.
        let mut acc_tables = Vec::new();
        let mut limb_tables = Vec::new();
        let mut tables = Vec::new();
        for (l, (&(i, mm), &shape)) in linear.iter().zip(&shapes).enumerate() {
            let (lower, upper) = acc_bounds(&self.model.stages[i], mm, shape, &outputs[l]);
            let n = 1 << shape.vars;
            let mut acc = vec![0i64; n];
            for (idx, &a) in trace.accumulators[l].iter().enumerate() {
                acc[shape.entry(idx)] = a;
            }
            // Bytes of both differences, least significant first; the top one keeps the rest
            // (in range for every honest run; out of range, and rejected, for a tampered one).
            let mut limbs = vec![0i64; 2 * LIMBS * n];
            for e in 0..n {
                for (row, d) in [(0, acc[e] - lower[e]), (LIMBS, upper[e] - acc[e])] {
                    for j in 0..LIMBS {
                        let v = d >> (8 * j);
                        limbs[(row + j) * n + e] = if j + 1 < LIMBS { v & 255 } else { v };
                    }
                }
            }
            let acc: Vec<F> = acc.into_iter().map(from_i64).collect();
            let limb_f: Vec<F> = limbs.iter().map(|&v| from_i64(v)).collect();
            tables.push(Table::new(RowMajorMatrix::new(acc.clone(), n)));
            tables.push(Table::new(RowMajorMatrix::new(limb_f.clone(), 2 * LIMBS * n)));
            acc_tables.push(acc);
            limb_tables.push((limbs, limb_f));
        }
        let witness_protocol = witness_protocol(&shapes);
        let witness_pcs = pcs::pcs(&witness_protocol).map_err(ModelError::Commitment)?;
        let witness = pcs::Layout::new_witness(tables, pcs::FOLDING_FACTOR);
        let (witness_root, witness_data) =
            <Pcs as MultilinearPcs<EF, pcs::Challenger>>::commit(&witness_pcs, witness, &mut ch)
                .map_err(|e| ModelError::Commitment(format!("{e:?}")))?;

        let mut hidden = None;
        let mut all_blocks = Vec::new();
        let mut acc_evals = Vec::new();
        let mut points = Vec::new();
        let mut acc_points = Vec::new();
        for ((stage_idx, mm), (shape, acc)) in linear.iter().zip(shapes.iter().zip(&acc_tables)) {
            let stage = &self.model.stages[*stage_idx];
            let rn = sample_point(&mut ch, shape.log_rows);
            let ri = sample_point(&mut ch, shape.log_m);
            let acc_point = shape.acc_point(&rn, &ri);
            let acc_eval = eval_mle(acc, &acc_point);
            ch.observe_algebra_element(acc_eval);
            acc_evals.push(acc_eval);
            acc_points.push(acc_point);
            let lhs = lhs_matrix(stage, &trace.activations[*stage_idx]);
            let mut parts = Vec::new();
            for b in blocks(*mm) {
                let f = fold_lhs(&lhs, mm.k, b, &rn);
                let g = fold_weights(*mm, b, &ri);
                let claim: EF = f.iter().zip(&g).map(|(&a, &b)| a * b).sum();
                parts.push((b, f, g, claim));
            }
            for (_, _, _, claim) in &parts {
                ch.observe_algebra_element(*claim);
            }
            let hidden_here = hide && *stage_idx == 0;
            let mut stage_blocks = Vec::new();
            let mut lhs_evals = Vec::new();
            let mut block_points = Vec::new();
            for (b, f, g, claim) in parts {
                let (sumcheck, s) = sumcheck::prove(f.clone(), g.clone(), &mut ch);
                if hidden_here {
                    let lhs_eval: EF = eq_table(&s).iter().zip(&f).map(|(&e, &v)| e * v).sum();
                    ch.observe_algebra_element(lhs_eval);
                    lhs_evals.push(lhs_eval);
                    block_points.push((b, s.clone()));
                }
                let weight_eval = eval_mle(&g, &s);
                ch.observe_algebra_element(weight_eval);
                stage_blocks.push(BlockProof { claim, sumcheck, weight_eval });
                points.push(block_point(b, &ri, s));
            }
            all_blocks.push(stage_blocks);
            if hidden_here {
                // X̃_b(r_n, s_b) of every block, batched by γ, is one inner product of the
                // committed input with the index map: a sumcheck reduces it to ũ(t).
                let gamma: EF = ch.sample_algebra_element();
                let c = input_coefficients(stage, *mm, trace.batch, &rn, &block_points, gamma);
                let mut u: Vec<EF> =
                    input_bytes(input).into_iter().map(|v| EF::from(from_i64(v))).collect();
                u.resize(c.len(), EF::ZERO);
                let (sumcheck, t) = sumcheck::prove(u.clone(), c, &mut ch);
                let input_eval: EF = eq_table(&t).iter().zip(&u).map(|(&e, &v)| e * v).sum();
                ch.observe_algebra_element(input_eval);
                let (range, rho) = logup::prove(&input_bytes(input), &mut ch);
                hidden = Some((lhs_evals, sumcheck, input_eval, range, t, rho));
            }
        }

        let mut ranges = Vec::new();
        let mut witness_points = Vec::new();
        for ((acc, (limbs, limb_f)), acc_point) in
            acc_tables.iter().zip(&limb_tables).zip(acc_points)
        {
            let (logup, rho) = logup::prove(limbs, &mut ch);
            let entry = &rho[3..];
            let eq = eq_table(entry);
            let n = acc.len();
            let limb_evals: [EF; 2 * LIMBS] = core::array::from_fn(|j| {
                limb_f[j * n..(j + 1) * n].iter().zip(&eq).map(|(&v, &e)| e * v).sum()
            });
            let acc_at: EF = acc.iter().zip(&eq).map(|(&v, &e)| e * v).sum();
            for &v in &limb_evals {
                ch.observe_algebra_element(v);
            }
            ch.observe_algebra_element(acc_at);
            let sigma = sample_point(&mut ch, 3);
            witness_points.push(Point::new(acc_point));
            witness_points.push(Point::new(entry.to_vec()));
            witness_points
                .push(Point::new(sigma.into_iter().chain(entry.iter().copied()).collect()));
            ranges.push(RangeCheck { logup, limbs: limb_evals, acc: acc_at });
        }

        let protocol = weight_protocol(&self.model);
        let opening = self
            .pcs
            .open_at(self.prover_data.clone(), &protocol, &points, &mut ch)
            .map_err(|e| ModelError::Commitment(format!("{e:?}")))?;
        let witness_opening = witness_pcs
            .open_at(witness_data, &witness_protocol, &witness_points, &mut ch)
            .map_err(|e| ModelError::Commitment(format!("{e:?}")))?;
        let (input_commitment, hidden_input) = match (input_data, hidden) {
            (
                Some((c, input_pcs, data)),
                Some((lhs_evals, sumcheck, input_eval, range, t, rho)),
            ) => {
                let points = input_points(c.len, t, &rho);
                let opening = input_pcs
                    .open_at(data, &input_protocol(c.len), &points, &mut ch)
                    .map_err(|e| ModelError::Commitment(format!("{e:?}")))?;
                (Some(c), Some(HiddenInput { lhs_evals, sumcheck, input_eval, range, opening }))
            }
            _ => (None, None),
        };
        let proof = Proof {
            outputs,
            witness_root,
            acc_evals,
            blocks: all_blocks,
            ranges,
            opening,
            witness_opening,
            hidden_input,
        };
        Ok((output, input_commitment, proof))
    }
}

/// The opening points of the input table: the sumcheck's `t`, and the range check's `ρ` (over the
/// range check's padded length, so with leading zero coordinates).
fn input_points(len: usize, t: Vec<EF>, rho: &[EF]) -> Vec<Point<EF>> {
    let mut r = vec![EF::ZERO; input_vars(len) - rho.len()];
    r.extend_from_slice(rho);
    vec![Point::new(t), Point::new(r)]
}

impl Proof {
    /// Whether the proof is for a hidden input ([`verify_hidden`]) rather than one in the clear.
    pub fn hides_input(&self) -> bool {
        self.hidden_input.is_some()
    }

    /// Encodes the proof (version byte, then postcard).
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_versioned(PROOF_VERSION, self)
    }

    /// Decodes a proof; rejects unknown versions and trailing bytes. Shapes are checked by [`verify`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VerifyError> {
        decode_versioned(PROOF_VERSION, bytes, "unknown version or empty", VerifyError::Malformed)
    }
}

/// The wire form of commitments and proofs: one version byte, then postcard.
fn encode_versioned<T: Serialize>(version: u8, value: &T) -> Vec<u8> {
    let mut out = vec![version];
    out.extend(postcard::to_allocvec(value).unwrap_or_default());
    out
}

/// Reads [`encode_versioned`] bytes, refusing another version, undecodable bytes and trailing bytes; `error`
/// wraps each reason in the caller's error kind.
fn decode_versioned<T: serde::de::DeserializeOwned>(
    version: u8,
    bytes: &[u8],
    unknown_version: &str,
    error: fn(String) -> VerifyError,
) -> Result<T, VerifyError> {
    let rest = match bytes.split_first() {
        Some((&v, rest)) if v == version => rest,
        _ => return Err(error(unknown_version.into())),
    };
    let (value, tail): (T, _) =
        postcard::take_from_bytes(rest).map_err(|e| error(e.to_string()))?;
    if !tail.is_empty() {
        return Err(error(format!("{} trailing bytes", tail.len())));
    }
    Ok(value)
}

/// Verifies that the committed model maps `input` to `output` (int8, `[batch][width]` flattened).
pub fn verify(
    commitment: &ModelCommitment,
    input: &[i8],
    output: &[i8],
    proof: &Proof,
) -> Result<(), VerifyError> {
    verify_statement(commitment, Input::Clear(input), output, proof)
}

/// Verifies that the committed model maps the input committed by `input` ([`commit_input`]) to
/// `output`, for a proof made by [`CommittedModel::prove_hidden`].
pub fn verify_hidden(
    commitment: &ModelCommitment,
    input: &InputCommitment,
    output: &[i8],
    proof: &Proof,
) -> Result<(), VerifyError> {
    verify_statement(commitment, Input::Hidden(input), output, proof)
}

fn verify_statement(
    commitment: &ModelCommitment,
    input: Input<'_>,
    output: &[i8],
    proof: &Proof,
) -> Result<(), VerifyError> {
    commitment.check_header()?;
    let model = &commitment.header;
    let batch = model.batch_of(input.len()).map_err(|e| VerifyError::Shape(e.to_string()))?;
    let hidden = match (input, &proof.hidden_input) {
        (Input::Clear(_), None) => None,
        (Input::Hidden(_), Some(h)) => Some(h),
        (Input::Clear(_), Some(_)) => {
            return Err(VerifyError::Input("the proof is for a hidden input".into()));
        }
        (Input::Hidden(_), None) => {
            return Err(VerifyError::Input("the proof is for an input in the clear".into()));
        }
    };
    if hidden.is_some() && model.stages.first().and_then(Stage::matmul).is_none() {
        return Err(VerifyError::Input("a hidden input needs a first stage with weights".into()));
    }
    if batch > MAX_BATCH {
        return Err(VerifyError::Shape(format!("batch {batch} exceeds {MAX_BATCH}")));
    }
    if output.len() != batch * model.output_dim() {
        return Err(VerifyError::Shape(format!(
            "output has {} values, expected {}",
            output.len(),
            batch * model.output_dim()
        )));
    }
    let linear: Vec<(usize, MatMul<'_>)> = linear_stages(model).collect();
    let n_linear = linear.len();
    if proof.outputs.len() != n_linear
        || proof.acc_evals.len() != n_linear
        || proof.blocks.len() != n_linear
        || proof.ranges.len() != n_linear
    {
        return Err(VerifyError::Shape(format!("{n_linear} stages with weights")));
    }
    let shapes = witness_shapes(model, batch);
    for (idx, &(stage_idx, mm)) in linear.iter().enumerate() {
        let want = batch * model.stages[stage_idx].out_dim();
        if proof.outputs[idx].len() != want {
            return Err(VerifyError::Shape(format!("stage {idx}: {want} outputs expected")));
        }
        let bs = blocks(mm);
        if proof.blocks[idx].len() != bs.len()
            || bs.iter().zip(&proof.blocks[idx]).any(|(b, p)| p.sumcheck.rounds.len() != b.log_k)
        {
            return Err(VerifyError::Shape(format!(
                "stage {idx}: wrong number of sumcheck rounds"
            )));
        }
    }

    if let Some(h) = hidden {
        let first = blocks(linear[0].1).len();
        if h.lhs_evals.len() != first || h.sumcheck.rounds.len() != input_vars(input.len()) {
            return Err(VerifyError::Input("shape of the input reduction".into()));
        }
    }

    // Replay the stages without weights from the claimed outputs of the stages with weights; the
    // result must be the claimed output. This gives every stage's input (but the first stage's
    // when the input is hidden: that stage has weights, and its input is never read below).
    let clear_input = match input {
        Input::Clear(x) => x,
        Input::Hidden(_) => &[],
    };
    let activations = replay(model, clear_input, &proof.outputs);
    if activations.last().map(Vec::as_slice) != Some(output) {
        return Err(VerifyError::OutputMismatch);
    }

    let mut ch = pcs::challenger();
    absorb_statement(&mut ch, commitment, batch, input, output);
    absorb_outputs(&mut ch, &proof.outputs);
    let witness_protocol = witness_protocol(&shapes);
    let witness_pcs = pcs::pcs(&witness_protocol).map_err(VerifyError::Commitment)?;
    <Pcs as MultilinearPcs<EF, pcs::Challenger>>::observe_commitment(
        &witness_pcs,
        &proof.witness_root,
        &mut ch,
    );

    let mut points = Vec::new();
    let mut acc_points = Vec::new();
    let mut input_check = None;
    for (linear_idx, (&(stage_idx, mm), shape)) in linear.iter().zip(&shapes).enumerate() {
        let rn = sample_point(&mut ch, shape.log_rows);
        let ri = sample_point(&mut ch, shape.log_m);
        acc_points.push(shape.acc_point(&rn, &ri));
        let claim = proof.acc_evals[linear_idx];
        ch.observe_algebra_element(claim);
        let parts = &proof.blocks[linear_idx];
        if parts.iter().map(|p| p.claim).sum::<EF>() != claim {
            return Err(VerifyError::FinalClaim(linear_idx));
        }
        for p in parts {
            ch.observe_algebra_element(p.claim);
        }
        let hidden_here = hidden.filter(|_| stage_idx == 0);
        let lhs = match hidden_here {
            Some(_) => Vec::new(),
            None => lhs_matrix(&model.stages[stage_idx], &activations[stage_idx]),
        };
        let mut block_points = Vec::new();
        for (bi, (b, p)) in blocks(mm).into_iter().zip(parts).enumerate() {
            let (final_claim, s) = sumcheck::verify(&p.sumcheck, p.claim, &mut ch);
            let lhs_eval = match hidden_here {
                Some(h) => {
                    ch.observe_algebra_element(h.lhs_evals[bi]);
                    block_points.push((b, s.clone()));
                    h.lhs_evals[bi]
                }
                None => eval_lhs(&lhs, mm.k, b, &rn, &s),
            };
            if final_claim != lhs_eval * p.weight_eval {
                return Err(VerifyError::FinalClaim(linear_idx));
            }
            ch.observe_algebra_element(p.weight_eval);
            points.push(block_point(b, &ri, s));
        }
        if let (Some(h), Input::Hidden(c)) = (hidden_here, input) {
            let stage = &model.stages[stage_idx];
            let gamma: EF = ch.sample_algebra_element();
            let coeffs = input_coefficients(stage, mm, batch, &rn, &block_points, gamma);
            // Σ_b γ^b X̃_b = Σ_i (u_i − 128 − zp)·c_i, and every c_i sums entries that read u_i.
            let shift = from_i64(128 + i64::from(input_zero_point(stage)));
            let mut claim = EF::ZERO;
            let mut gp = EF::ONE;
            for &v in &h.lhs_evals {
                claim += gp * v;
                gp *= gamma;
            }
            claim += coeffs.iter().copied().sum::<EF>() * shift;
            let (final_claim, t) = sumcheck::verify(&h.sumcheck, claim, &mut ch);
            let c_at: EF = eq_table(&t).iter().zip(&coeffs).map(|(&e, &v)| e * v).sum();
            if final_claim != h.input_eval * c_at {
                return Err(VerifyError::Input("the first product's input reduction".into()));
            }
            ch.observe_algebra_element(h.input_eval);
            let (rho, value) = logup::verify(&h.range, c.len, &mut ch)
                .map_err(|_| VerifyError::Input("input range check".into()))?;
            input_check = Some((t, rho, value));
        }
    }

    // Requantization: every committed accumulator lies between the bounds its claimed output gives.
    let mut witness_points = Vec::new();
    let mut witness_evals = Vec::new();
    for (linear_idx, ((&(stage_idx, mm), &shape), acc_point)) in
        linear.iter().zip(&shapes).zip(acc_points).enumerate()
    {
        let range = &proof.ranges[linear_idx];
        let len = (2 * LIMBS) << shape.vars;
        let (rho, value) = logup::verify(&range.logup, len, &mut ch)
            .map_err(|_| VerifyError::Range(linear_idx))?;
        let (rho_limb, entry) = rho.split_at(3);
        if eval_mle(&range.limbs, rho_limb) != value {
            return Err(VerifyError::Range(linear_idx));
        }
        let (lower, upper) =
            acc_bounds(&model.stages[stage_idx], mm, shape, &proof.outputs[linear_idx]);
        let eq = eq_table(entry);
        let (lo, hi) = range.limbs.split_at(LIMBS);
        if range.acc - eval_ints(&lower, &eq) != recompose(lo)
            || eval_ints(&upper, &eq) - range.acc != recompose(hi)
        {
            return Err(VerifyError::Range(linear_idx));
        }
        for &v in &range.limbs {
            ch.observe_algebra_element(v);
        }
        ch.observe_algebra_element(range.acc);
        let sigma = sample_point(&mut ch, 3);
        witness_evals.extend([
            proof.acc_evals[linear_idx],
            range.acc,
            eval_mle(&range.limbs, &sigma),
        ]);
        witness_points.push(Point::new(acc_point));
        witness_points.push(Point::new(entry.to_vec()));
        witness_points.push(Point::new(sigma.into_iter().chain(entry.iter().copied()).collect()));
    }

    let protocol = weight_protocol(model);
    let pcs = pcs::pcs(&protocol).map_err(VerifyError::Commitment)?;
    let weight_evals: Vec<EF> = proof.blocks.iter().flatten().map(|p| p.weight_eval).collect();
    if proof.opening.evals.len() != weight_evals.len()
        || proof.witness_opening.evals.len() != witness_evals.len()
    {
        return Err(VerifyError::Shape("opening batch count".into()));
    }
    let evals = pcs
        .verify_at(&commitment.root, &proof.opening, &protocol, &points, &mut ch)
        .map_err(|e| VerifyError::Opening(format!("{e:?}")))?;
    for (idx, (batch_evals, &w)) in evals.iter().zip(&weight_evals).enumerate() {
        if batch_evals.current() != [w] {
            return Err(VerifyError::WeightEval(idx));
        }
    }
    let evals = witness_pcs
        .verify_at(
            &proof.witness_root,
            &proof.witness_opening,
            &witness_protocol,
            &witness_points,
            &mut ch,
        )
        .map_err(|e| VerifyError::Opening(format!("witness: {e:?}")))?;
    for (idx, (batch_evals, &w)) in evals.iter().zip(&witness_evals).enumerate() {
        if batch_evals.current() != [w] {
            // Three openings per stage: the product's claim, then the range check's two.
            return Err(if idx % 3 == 0 {
                VerifyError::FinalClaim(idx / 3)
            } else {
                VerifyError::Range(idx / 3)
            });
        }
    }
    if let (Some(h), Input::Hidden(c), Some((t, rho, value))) = (hidden, input, input_check) {
        let protocol = input_protocol(c.len);
        let input_pcs = pcs::pcs(&protocol).map_err(VerifyError::Commitment)?;
        if h.opening.evals.len() != 2 {
            return Err(VerifyError::Input("opening batch count".into()));
        }
        let evals = input_pcs
            .verify_at(&c.root, &h.opening, &protocol, &input_points(c.len, t, &rho), &mut ch)
            .map_err(|e| VerifyError::Input(format!("opening: {e:?}")))?;
        if evals.len() != 2 || evals[0].current() != [h.input_eval] || evals[1].current() != [value]
        {
            return Err(VerifyError::Input("opened input differs from the claimed one".into()));
        }
    } else if hidden.is_some() {
        return Err(VerifyError::Input("no input reduction".into()));
    }
    Ok(())
}

/// Composed soundness in bits of the weight opening for this model's shapes, as WHIR states it
/// (union bound over its error terms; `None` when the scheme cannot state it for these shapes).
pub fn weight_opening_security_bits(model: &QuantizedModel) -> Option<f64> {
    let protocol = weight_protocol(model);
    let pcs = pcs::pcs(&protocol).ok()?;
    pcs::opening_security_bits(&pcs, &protocol)
}

/// Commits to a model's weights; the commitment is what verifiers need.
pub fn commit_model(model: &QuantizedModel) -> Result<ModelCommitment, ModelError> {
    Ok(CommittedModel::new(model)?.commitment)
}

/// Commits to the model and proves one run (commit once with [`CommittedModel`] to prove many).
pub fn prove(model: &QuantizedModel, input: &[i8]) -> Result<(Vec<i8>, Proof), ModelError> {
    CommittedModel::new(model)?.prove(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Conv, Dense, InputQuant, OutputDequant, Pool, PoolKind, Requant, Rescale};

    /// A deterministic xorshift stream of int8 values.
    fn bytes(seed: u64, n: usize) -> Vec<i8> {
        let mut s = seed | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 24) as i8
            })
            .collect()
    }

    fn dense(seed: u64, in_dim: usize, out_dim: usize, zp: i8) -> Stage {
        Stage::Dense(Dense {
            in_dim,
            out_dim,
            input_zero_point: zp,
            weights: bytes(seed, in_dim * out_dim),
            bias: (0..out_dim as i32).map(|i| i * 37 - 100).collect(),
            requant: Requant { multiplier: 1.0 / (in_dim as f32 * 64.0), zero_point: 3 },
        })
    }

    /// Dense 37→20, rescale with ReLU, dense 20→5 (odd sizes exercise the padding).
    fn small_model(seed: u64) -> QuantizedModel {
        QuantizedModel {
            input_dim: 37,
            input: InputQuant { scale: 0.01, zero_point: 0 },
            stages: vec![
                dense(seed, 37, 20, 0),
                Stage::Rescale(Rescale {
                    in_scale: 0.05,
                    in_zero_point: 3,
                    bias: (0..20).map(|i| i as f32 * 0.1 - 1.0).collect(),
                    relu: true,
                    out_scale: 0.02,
                    out_zero_point: -128,
                }),
                dense(seed + 1, 20, 5, -128),
            ],
            output: OutputDequant { scale: 0.1, zero_point: 3, bias: vec![0.0; 5] },
        }
    }

    #[test]
    fn small_models_prove_and_verify_for_several_batch_sizes() {
        let cm = CommittedModel::new(&small_model(7)).unwrap();
        for batch in [1, 2, 3, 5] {
            let input = bytes(100 + batch as u64, 37 * batch);
            let (out, proof) = cm.prove(&input).unwrap();
            assert_eq!(out.len(), 5 * batch);
            let proof = Proof::from_bytes(&proof.to_bytes()).unwrap();
            verify(cm.commitment(), &input, &out, &proof).unwrap();
        }
    }

    fn fixture() -> (CommittedModel, Vec<i8>, Vec<i8>, Proof) {
        let cm = CommittedModel::new(&small_model(11)).unwrap();
        let input = bytes(5, 37 * 2);
        let (out, proof) = cm.prove(&input).unwrap();
        verify(cm.commitment(), &input, &out, &proof).unwrap();
        (cm, input, out, proof)
    }

    #[test]
    fn changed_intermediate_values_are_rejected() {
        let (cm, input, out, proof) = fixture();
        // Claimed outputs of the stages with weights (the second one is the model output).
        for (stage, k) in [(0, 0), (0, 13), (0, 39), (1, 4)] {
            for delta in [1i8, -1, 64] {
                let mut p = proof.clone();
                p.outputs[stage][k] = p.outputs[stage][k].wrapping_add(delta);
                assert!(verify(cm.commitment(), &input, &out, &p).is_err(), "{stage}/{k}/{delta}");
            }
        }
        let mut p = proof.clone();
        p.blocks[0][0].sumcheck.rounds[2][1] += EF::ONE;
        assert_eq!(verify(cm.commitment(), &input, &out, &p), Err(VerifyError::FinalClaim(0)));
        let mut p = proof.clone();
        p.acc_evals[1] += EF::ONE;
        assert_eq!(verify(cm.commitment(), &input, &out, &p), Err(VerifyError::FinalClaim(1)));
        for j in 0..2 * LIMBS {
            let mut p = proof.clone();
            p.ranges[0].limbs[j] += EF::ONE;
            assert_eq!(verify(cm.commitment(), &input, &out, &p), Err(VerifyError::Range(0)));
        }
        let mut p = proof.clone();
        p.ranges[1].acc += EF::ONE;
        assert_eq!(verify(cm.commitment(), &input, &out, &p), Err(VerifyError::Range(1)));
        let mut p = proof;
        p.ranges[0].logup.multiplicities[0] += 1;
        assert_eq!(verify(cm.commitment(), &input, &out, &p), Err(VerifyError::Range(0)));
    }

    /// A prover that changes one requantized value and carries the change through the rest of the
    /// run (later accumulators, the claimed output): the products are all consistent, and only the
    /// range check of the changed stage can reject it.
    #[test]
    fn a_changed_activation_fails_its_range_check() {
        let cm = CommittedModel::new(&small_model(11)).unwrap();
        let input = bytes(5, 37 * 2);
        for (stage, k, delta) in [(0usize, 3usize, 1i8), (0, 25, -1), (1, 7, 1), (1, 0, -3)] {
            let (out, _, proof) = cm
                .prove_with(&input, None, |o| o[stage][k] = o[stage][k].wrapping_add(delta))
                .unwrap();
            assert_eq!(
                verify(cm.commitment(), &input, &out, &proof),
                Err(VerifyError::Range(stage)),
                "stage {stage} entry {k}"
            );
        }
        // The convolution's output, two pooling stages before the next product.
        let cm = CommittedModel::new(&conv_model(9)).unwrap();
        let input = bytes(77, 98);
        let (out, _, proof) =
            cm.prove_with(&input, None, |o| o[0][40] = o[0][40].wrapping_add(5)).unwrap();
        assert_eq!(verify(cm.commitment(), &input, &out, &proof), Err(VerifyError::Range(0)));
    }

    /// Accumulators outside `[lower, upper]` have a difference that is negative or above 2^32: its
    /// top byte row then holds a value that is no byte, and the LogUp check rejects it.
    #[test]
    fn an_out_of_range_remainder_is_rejected() {
        let cm = CommittedModel::new(&small_model(11)).unwrap();
        let input = bytes(5, 37);
        let (_, proof) = cm.prove(&input).unwrap();
        // Honest: every committed difference byte is a byte.
        assert_eq!(proof.ranges[0].logup.multiplicities.iter().sum::<u32>() as usize, {
            let shape = witness_shapes(cm.model(), 1)[0];
            (2 * LIMBS) << shape.vars
        });
        // A clamped output (every accumulator above the threshold gives 127): moving it to 126
        // needs a difference below zero for any large accumulator.
        let (out, _, proof) = cm
            .prove_with(&input, None, |o| {
                for v in o[1].iter_mut() {
                    *v = v.wrapping_sub(1);
                }
            })
            .unwrap();
        assert_eq!(verify(cm.commitment(), &input, &out, &proof), Err(VerifyError::Range(1)));
    }

    #[test]
    fn sumcheck_over_other_weights_is_caught_by_the_opening() {
        // A prover that absorbs the committed root but runs the sumcheck on changed weights.
        let (cm, input, _, _) = fixture();
        let mut other = small_model(11);
        let Stage::Dense(d) = &mut other.stages[0] else { unreachable!() };
        d.weights[3] = d.weights[3].wrapping_add(1);
        let cheat = CommittedModel { model: other, ..cm };
        let (out, proof) = cheat.prove(&input).unwrap();
        assert_eq!(
            verify(cheat.commitment(), &input, &out, &proof),
            Err(VerifyError::WeightEval(0))
        );
        // The same with a forged weight evaluation and the honest opening.
        let (cm, input, out, mut proof) = fixture();
        proof.blocks[1][0].weight_eval += EF::ONE;
        assert!(verify(cm.commitment(), &input, &out, &proof).is_err());
    }

    #[test]
    fn hidden_inputs_prove_and_verify_against_their_commitment_only() {
        for (model, dim) in [(small_model(3), 37), (conv_model(4), 98)] {
            let cm = CommittedModel::new(&model).unwrap();
            for batch in [1, 3] {
                let input = bytes(40 + batch as u64, dim * batch);
                let (out, c, proof) = cm.prove_hidden(&input).unwrap();
                assert_eq!(out, model.run(&input).unwrap());
                // The commitment is a function of the input: a verifier holding x recomputes it.
                assert_eq!(commit_input(&input).unwrap(), c);
                let c = InputCommitment::from_bytes(&c.to_bytes()).unwrap();
                let proof = Proof::from_bytes(&proof.to_bytes()).unwrap();
                assert!(proof.hides_input());
                verify_hidden(cm.commitment(), &c, &out, &proof).unwrap();
                // The same proof for another input's commitment (one value changed), in the clear,
                // or for another output.
                let mut other = input.clone();
                other[dim / 2] = other[dim / 2].wrapping_add(1);
                // (The commitment is in the transcript: every challenge moves, and the first
                // check to fail may be any.)
                let oc = commit_input(&other).unwrap();
                assert!(verify_hidden(cm.commitment(), &oc, &out, &proof).is_err());
                assert!(matches!(
                    verify(cm.commitment(), &input, &out, &proof),
                    Err(VerifyError::Input(_))
                ));
                let mut y = out.clone();
                y[0] = y[0].wrapping_add(1);
                assert!(verify_hidden(cm.commitment(), &c, &y, &proof).is_err());
                // A proof with the input in the clear is no hidden-input proof.
                let (_, clear) = cm.prove(&input).unwrap();
                assert!(matches!(
                    verify_hidden(cm.commitment(), &c, &out, &clear),
                    Err(VerifyError::Input(_))
                ));
            }
        }
    }

    #[test]
    fn a_changed_hidden_input_reduction_is_rejected() {
        let cm = CommittedModel::new(&conv_model(5)).unwrap();
        let input = bytes(9, 98 * 2);
        let (out, c, proof) = cm.prove_hidden(&input).unwrap();
        let check = |p: &Proof| verify_hidden(cm.commitment(), &c, &out, p);
        fn h(p: &mut Proof) -> &mut HiddenInput {
            p.hidden_input.as_mut().unwrap()
        }
        for b in 0..proof.hidden_input.as_ref().unwrap().lhs_evals.len() {
            let mut p = proof.clone();
            h(&mut p).lhs_evals[b] += EF::ONE;
            assert_eq!(check(&p), Err(VerifyError::FinalClaim(0)));
        }
        let mut p = proof.clone();
        h(&mut p).input_eval += EF::ONE;
        assert!(matches!(check(&p), Err(VerifyError::Input(_))));
        let mut p = proof.clone();
        h(&mut p).sumcheck.rounds[1][0] += EF::ONE;
        assert!(matches!(check(&p), Err(VerifyError::Input(_))));
        let mut p = proof.clone();
        h(&mut p).range.multiplicities[7] += 1;
        assert!(matches!(check(&p), Err(VerifyError::Input(_))));
        let mut p = proof;
        h(&mut p).sumcheck.rounds.pop();
        assert!(matches!(check(&p), Err(VerifyError::Input(_))));
    }

    /// A prover that commits to one input and proves the run on another: the products and range
    /// checks hold for the input it computes with, and only the input reduction can reject it.
    #[test]
    fn a_run_on_another_input_than_the_committed_one_is_rejected() {
        for (model, dim) in [(small_model(3), 37), (conv_model(4), 98)] {
            let cm = CommittedModel::new(&model).unwrap();
            let input = bytes(12, dim);
            for k in [0, dim / 3, dim - 1] {
                let mut committed = input.clone();
                committed[k] = committed[k].wrapping_add(1);
                let (out, c, proof) = cm.prove_with(&input, Some(&committed), |_| {}).unwrap();
                let c = c.unwrap();
                assert_eq!(c, commit_input(&committed).unwrap());
                assert!(
                    matches!(
                        verify_hidden(cm.commitment(), &c, &out, &proof),
                        Err(VerifyError::Input(_))
                    ),
                    "entry {k}"
                );
            }
            // The honest control: the same prover with the input it computes with.
            let (out, c, proof) = cm.prove_with(&input, Some(&input), |_| {}).unwrap();
            verify_hidden(cm.commitment(), &c.unwrap(), &out, &proof).unwrap();
        }
    }

    #[test]
    fn a_hidden_input_needs_a_first_stage_with_weights() {
        let mut model = small_model(3);
        model.stages.insert(
            0,
            Stage::Rescale(Rescale {
                in_scale: 0.01,
                in_zero_point: 0,
                bias: vec![0.0; 37],
                relu: true,
                out_scale: 0.01,
                out_zero_point: 0,
            }),
        );
        let cm = CommittedModel::new(&model).unwrap();
        assert!(cm.prove_hidden(&bytes(1, 37)).is_err());
    }

    /// Conv (2→3 channels, 7×7, kernel 3×3, strides 2×1, padding 1) → max pool 2×2 → average
    /// pool 2×2 stride 1 → dense 6→4.
    fn conv_model(seed: u64) -> QuantizedModel {
        QuantizedModel {
            input_dim: 2 * 7 * 7,
            input: InputQuant { scale: 0.01, zero_point: 5 },
            stages: vec![
                Stage::Conv(Conv {
                    in_channels: 2,
                    in_height: 7,
                    in_width: 7,
                    out_channels: 3,
                    kernel: [3, 3],
                    strides: [2, 1],
                    pads: [1, 1, 1, 1],
                    input_zero_point: 5,
                    weights: bytes(seed, 3 * 18),
                    bias: vec![-300, 0, 450],
                    requant: Requant { multiplier: 1.0 / 700.0, zero_point: -20 },
                }),
                Stage::Pool(Pool {
                    kind: PoolKind::Max,
                    channels: 3,
                    in_height: 4,
                    in_width: 7,
                    kernel: [2, 2],
                    strides: [2, 2],
                }),
                Stage::Pool(Pool {
                    kind: PoolKind::Average,
                    channels: 3,
                    in_height: 2,
                    in_width: 3,
                    kernel: [2, 2],
                    strides: [1, 1],
                }),
                dense(seed + 1, 6, 4, -20),
            ],
            output: OutputDequant { scale: 0.1, zero_point: 3, bias: vec![0.0; 4] },
        }
    }

    #[test]
    fn convolution_and_pooling_prove_and_verify() {
        let model = conv_model(3);
        model.validate().unwrap();
        assert_eq!(model.output_dim(), 4);
        let cm = CommittedModel::new(&model).unwrap();
        for batch in [1, 3] {
            let input = bytes(40 + batch as u64, 98 * batch);
            let (out, proof) = cm.prove(&input).unwrap();
            assert_eq!(out, model.run(&input).unwrap());
            let proof = Proof::from_bytes(&proof.to_bytes()).unwrap();
            verify(cm.commitment(), &input, &out, &proof).unwrap();
        }
    }

    #[test]
    fn changed_convolution_values_are_rejected() {
        let cm = CommittedModel::new(&conv_model(9)).unwrap();
        let input = bytes(77, 98 * 2);
        let (out, proof) = cm.prove(&input).unwrap();
        verify(cm.commitment(), &input, &out, &proof).unwrap();
        // Conv outputs ([batch][channel][position]): each change must be caught.
        for (k, delta) in [(0, 1), (5, -1), (100, 3), (167, 100)] {
            let mut p = proof.clone();
            p.outputs[0][k] = p.outputs[0][k].wrapping_add(delta);
            assert!(verify(cm.commitment(), &input, &out, &p).is_err(), "output {k}");
        }
        // A forged sumcheck round or weight evaluation of the convolution.
        let mut p = proof.clone();
        p.blocks[0][0].sumcheck.rounds[0][0] += EF::ONE;
        assert_eq!(verify(cm.commitment(), &input, &out, &p), Err(VerifyError::FinalClaim(0)));
        let mut p = proof.clone();
        p.blocks[0][1].weight_eval += EF::ONE;
        assert!(verify(cm.commitment(), &input, &out, &p).is_err());
        // A prover running the sumcheck on other kernels, with the honest root.
        let mut other = conv_model(9);
        let Stage::Conv(c) = &mut other.stages[0] else { unreachable!() };
        c.weights[17] = c.weights[17].wrapping_add(1);
        let cheat = CommittedModel { model: other, ..cm };
        let (out, proof) = cheat.prove(&input).unwrap();
        assert!(matches!(
            verify(cheat.commitment(), &input, &out, &proof),
            Err(VerifyError::WeightEval(_) | VerifyError::OutputMismatch)
        ));
    }

    /// An MLP of the given widths with zero weights (only the shapes matter here).
    fn mlp_shape(widths: &[usize]) -> QuantizedModel {
        let stages = widths
            .windows(2)
            .map(|w| {
                Stage::Dense(Dense {
                    in_dim: w[0],
                    out_dim: w[1],
                    input_zero_point: 0,
                    weights: vec![0; w[0] * w[1]],
                    bias: vec![0; w[1]],
                    requant: Requant { multiplier: 0.001, zero_point: 0 },
                })
            })
            .collect();
        QuantizedModel {
            input_dim: widths[0],
            input: InputQuant { scale: 0.01, zero_point: 0 },
            stages,
            output: OutputDequant {
                scale: 0.1,
                zero_point: 0,
                bias: vec![0.0; widths[widths.len() - 1]],
            },
        }
    }

    #[test]
    fn weight_openings_keep_at_least_100_bits() {
        for widths in
            [&[37, 20, 5][..], &[784, 128, 10], &[784, 1024, 256, 10], &[2048, 2048], &[4096, 1024]]
        {
            let bits = weight_opening_security_bits(&mlp_shape(widths)).unwrap();
            assert!(bits >= 100.0, "{widths:?}: {bits:.1} bits");
        }
        let bits = weight_opening_security_bits(&conv_model(1)).unwrap();
        assert!(bits >= 100.0, "conv model: {bits:.1} bits");
        // The per-proof witness commitment (accumulators and range-check bytes).
        for model in [mlp_shape(&[784, 128, 10]), mlp_shape(&[784, 1024, 256, 10]), conv_model(1)] {
            for batch in [1, 16, 256] {
                let protocol = witness_protocol(&witness_shapes(&model, batch));
                let pcs = pcs::pcs(&protocol).unwrap();
                let bits = pcs::opening_security_bits(&pcs, &protocol).unwrap();
                assert!(bits >= 100.0, "witness of batch {batch}: {bits:.1} bits");
            }
        }
    }

    #[test]
    fn shapes_that_do_not_fit_are_rejected_before_any_work() {
        let (cm, input, out, proof) = fixture();
        assert!(matches!(
            verify(cm.commitment(), &input[1..], &out, &proof),
            Err(VerifyError::Shape(_))
        ));
        assert!(matches!(
            verify(cm.commitment(), &input, &out[1..], &proof),
            Err(VerifyError::Shape(_))
        ));
        let mut p = proof.clone();
        p.outputs.pop();
        assert!(matches!(verify(cm.commitment(), &input, &out, &p), Err(VerifyError::Shape(_))));
        let mut p = proof.clone();
        p.ranges[1].logup.layers.pop();
        assert_eq!(verify(cm.commitment(), &input, &out, &p), Err(VerifyError::Range(1)));
        let mut p = proof.clone();
        p.blocks[0][0].sumcheck.rounds.pop();
        assert!(matches!(verify(cm.commitment(), &input, &out, &p), Err(VerifyError::Shape(_))));
        let mut p = proof;
        p.outputs[0].push(0);
        assert!(matches!(verify(cm.commitment(), &input, &out, &p), Err(VerifyError::Shape(_))));
    }
}
