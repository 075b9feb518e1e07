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
use crate::model::{MatMul, QuantizedModel, Stage};
use crate::pcs::{self, Opening, Pcs, Root};
use crate::sumcheck::{self, SumcheckProof};

/// Largest batch a proof may carry.
pub const MAX_BATCH: usize = 1 << 16;
/// Version byte in front of encoded proofs and commitments. Version 2: convolution and pooling
/// stages, and the WHIR rate schedule of [`pcs::RATE_STEP`]; version 1 (dense layers only, rate
/// lowered 3 bits per round) is refused.
const VERSION: u8 = 2;
/// Domain separator absorbed first into every transcript.
const DOMAIN: &[u8] = b"ogn-zk/sumcheck-whir/v2";

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
    /// Accumulators (without bias) of each stage with weights, `[batch][rows_per_item][outputs]` flattened.
    accumulators: Vec<Vec<i64>>,
    /// Per stage with weights, one entry per column block of its weight matrix.
    blocks: Vec<Vec<BlockProof>>,
    /// WHIR opening of the weight commitment at every block's point `(0…0, r_i, s)`.
    opening: Opening,
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
            .field("accumulators", &self.accumulators)
            .field("blocks", &self.blocks)
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
        encode_versioned(self)
    }

    /// Decodes and checks a commitment.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VerifyError> {
        let c: Self = decode_versioned(bytes, "unknown version", VerifyError::Commitment)?;
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
    input: &[i8],
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
    for &x in input {
        ch.observe(from_i64(i64::from(x)));
    }
    ch.observe(F::from_u64(output.len() as u64));
    for &y in output {
        ch.observe(from_i64(i64::from(y)));
    }
}

/// Accumulators `[rows][m]` padded to `[2^log_rows][2^log_m]`.
fn acc_matrix(acc: &[i64], m: usize, log_rows: usize, log_m: usize) -> Vec<F> {
    let width = 1 << log_m;
    let mut t = vec![F::ZERO; (1 << log_rows) * width];
    for (n, row) in acc.chunks_exact(m).enumerate() {
        for (i, &v) in row.iter().enumerate() {
            t[n * width + i] = from_i64(v);
        }
    }
    t
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
        let trace = self.model.trace(input)?;
        if trace.batch > MAX_BATCH {
            return Err(ModelError::BatchTooLarge(trace.batch));
        }
        let output = trace.output().to_vec();
        let mut ch = pcs::challenger();
        absorb_statement(&mut ch, &self.commitment, trace.batch, input, &output);
        for acc in &trace.accumulators {
            for &a in acc {
                ch.observe(from_i64(a));
            }
        }
        let mut all_blocks = Vec::new();
        let mut points = Vec::new();
        for (stage_idx, mm) in linear_stages(&self.model) {
            let stage = &self.model.stages[stage_idx];
            let rn = sample_point(&mut ch, log2_ceil(trace.batch * mm.rows_per_item));
            let ri = sample_point(&mut ch, log2_ceil(mm.m));
            let lhs = lhs_matrix(stage, &trace.activations[stage_idx]);
            let mut parts = Vec::new();
            for b in blocks(mm) {
                let f = fold_lhs(&lhs, mm.k, b, &rn);
                let g = fold_weights(mm, b, &ri);
                let claim: EF = f.iter().zip(&g).map(|(&a, &b)| a * b).sum();
                parts.push((b, f, g, claim));
            }
            for (_, _, _, claim) in &parts {
                ch.observe_algebra_element(*claim);
            }
            let mut stage_blocks = Vec::new();
            for (b, f, g, claim) in parts {
                let (sumcheck, s) = sumcheck::prove(f, g.clone(), &mut ch);
                let weight_eval = eval_mle(&g, &s);
                ch.observe_algebra_element(weight_eval);
                stage_blocks.push(BlockProof { claim, sumcheck, weight_eval });
                points.push(block_point(b, &ri, s));
            }
            all_blocks.push(stage_blocks);
        }
        let protocol = weight_protocol(&self.model);
        let opening = self
            .pcs
            .open_at(self.prover_data.clone(), &protocol, &points, &mut ch)
            .map_err(|e| ModelError::Commitment(format!("{e:?}")))?;
        let proof = Proof { accumulators: trace.accumulators, blocks: all_blocks, opening };
        Ok((output, proof))
    }
}

impl Proof {
    /// Encodes the proof (version byte, then postcard).
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_versioned(self)
    }

    /// Decodes a proof; rejects unknown versions and trailing bytes. Shapes are checked by [`verify`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VerifyError> {
        decode_versioned(bytes, "unknown version or empty", VerifyError::Malformed)
    }
}

/// The wire form of commitments and proofs: one version byte, then postcard.
fn encode_versioned<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![VERSION];
    out.extend(postcard::to_allocvec(value).unwrap_or_default());
    out
}

/// Reads [`encode_versioned`] bytes, refusing another version, undecodable bytes and trailing bytes; `error`
/// wraps each reason in the caller's error kind.
fn decode_versioned<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    unknown_version: &str,
    error: fn(String) -> VerifyError,
) -> Result<T, VerifyError> {
    let Some((&VERSION, rest)) = bytes.split_first() else {
        return Err(error(unknown_version.into()));
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
    commitment.check_header()?;
    let model = &commitment.header;
    let batch = model.batch_of(input.len()).map_err(|e| VerifyError::Shape(e.to_string()))?;
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
    if proof.accumulators.len() != linear.len() || proof.blocks.len() != linear.len() {
        return Err(VerifyError::Shape(format!("{} stages with weights", linear.len())));
    }
    for (idx, (&(_, mm), acc)) in linear.iter().zip(&proof.accumulators).enumerate() {
        if acc.len() != batch * mm.rows_per_item * mm.m {
            return Err(VerifyError::Shape(format!("stage {idx}: {} accumulators", acc.len())));
        }
        // |acc| ≤ k·255·128 < 2^31: equality mod p then means equality over the integers.
        let bound = (mm.k as i64) * 255 * 128;
        if acc.iter().any(|a| a.abs() > bound) {
            return Err(VerifyError::Shape(format!("stage {idx}: accumulator out of range")));
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

    // Replay the stages without weights, and requantization, from the accumulators; the result
    // must be the claimed output.
    let mut activations = vec![input.to_vec()];
    let mut linear_idx = 0;
    for stage in &model.stages {
        let x = activations.last().map(Vec::as_slice).unwrap_or(&[]);
        let next: Vec<i8> = match stage.matmul() {
            Some(mm) => {
                let acc = &proof.accumulators[linear_idx];
                linear_idx += 1;
                acc.chunks_exact(mm.rows_per_item * mm.m)
                    .flat_map(|row| stage.finish(row))
                    .collect()
            }
            None => x.chunks_exact(stage.in_dim()).flat_map(|row| stage.apply(row)).collect(),
        };
        activations.push(next);
    }
    if activations.last().map(Vec::as_slice) != Some(output) {
        return Err(VerifyError::OutputMismatch);
    }

    let mut ch = pcs::challenger();
    absorb_statement(&mut ch, commitment, batch, input, output);
    for acc in &proof.accumulators {
        for &a in acc {
            ch.observe(from_i64(a));
        }
    }
    let mut points = Vec::new();
    for (linear_idx, &(stage_idx, mm)) in linear.iter().enumerate() {
        let log_rows = log2_ceil(batch * mm.rows_per_item);
        let log_m = log2_ceil(mm.m);
        let rn = sample_point(&mut ch, log_rows);
        let ri = sample_point(&mut ch, log_m);
        let acc = acc_matrix(&proof.accumulators[linear_idx], mm.m, log_rows, log_m);
        let mut rni = rn.clone();
        rni.extend(&ri);
        let claim = eval_mle(&acc, &rni);
        let parts = &proof.blocks[linear_idx];
        if parts.iter().map(|p| p.claim).sum::<EF>() != claim {
            return Err(VerifyError::FinalClaim(linear_idx));
        }
        for p in parts {
            ch.observe_algebra_element(p.claim);
        }
        let lhs = lhs_matrix(&model.stages[stage_idx], &activations[stage_idx]);
        for (b, p) in blocks(mm).into_iter().zip(parts) {
            let (final_claim, s) = sumcheck::verify(&p.sumcheck, p.claim, &mut ch);
            if final_claim != eval_lhs(&lhs, mm.k, b, &rn, &s) * p.weight_eval {
                return Err(VerifyError::FinalClaim(linear_idx));
            }
            ch.observe_algebra_element(p.weight_eval);
            points.push(block_point(b, &ri, s));
        }
    }

    let protocol = weight_protocol(model);
    let pcs = pcs::pcs(&protocol).map_err(VerifyError::Commitment)?;
    let weight_evals: Vec<EF> = proof.blocks.iter().flatten().map(|p| p.weight_eval).collect();
    if proof.opening.evals.len() != weight_evals.len() {
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
        for (stage, k, delta) in [(0, 0, 1), (0, 13, -1), (1, 4, 1), (0, 39, 1 << 20)] {
            let mut p = proof.clone();
            p.accumulators[stage][k] += delta;
            let err = verify(cm.commitment(), &input, &out, &p).unwrap_err();
            assert!(
                matches!(
                    err,
                    VerifyError::FinalClaim(_)
                        | VerifyError::OutputMismatch
                        | VerifyError::Shape(_)
                ),
                "stage {stage} index {k}: {err}"
            );
        }
        let mut p = proof.clone();
        p.blocks[0][0].sumcheck.rounds[2][1] += EF::ONE;
        assert_eq!(verify(cm.commitment(), &input, &out, &p), Err(VerifyError::FinalClaim(0)));
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
        // Conv accumulators ([batch][position][channel]): each change must be caught.
        for (k, delta) in [(0, 1), (5, -1), (100, 3), (167, 1 << 12)] {
            let mut p = proof.clone();
            p.accumulators[0][k] += delta;
            assert!(verify(cm.commitment(), &input, &out, &p).is_err(), "accumulator {k}");
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
        p.accumulators.pop();
        assert!(matches!(verify(cm.commitment(), &input, &out, &p), Err(VerifyError::Shape(_))));
        let mut p = proof.clone();
        p.blocks[0][0].sumcheck.rounds.pop();
        assert!(matches!(verify(cm.commitment(), &input, &out, &p), Err(VerifyError::Shape(_))));
        let mut p = proof;
        p.accumulators[0].push(0);
        assert!(matches!(verify(cm.commitment(), &input, &out, &p), Err(VerifyError::Shape(_))));
    }
}
