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
use crate::model::{Dense, QuantizedModel, Stage};
use crate::pcs::{self, Opening, Pcs, Root};
use crate::sumcheck::{self, SumcheckProof};

/// Largest batch a proof may carry.
pub const MAX_BATCH: usize = 1 << 16;
/// Version byte in front of encoded proofs and commitments.
const VERSION: u8 = 1;
/// Domain separator absorbed first into every transcript.
const DOMAIN: &[u8] = b"ogn-zk/mlp-sumcheck-whir/v1";

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
    /// Accumulators (without bias) of each dense stage, `[batch][out_dim]` flattened.
    accumulators: Vec<Vec<i64>>,
    /// Per dense stage, one entry per column block of its weight matrix.
    blocks: Vec<Vec<BlockProof>>,
    /// WHIR opening of the weight commitment at every block's point `(0…0, r_i, s)`.
    opening: Opening,
}

/// The sumcheck of one column block of one dense stage.
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

/// One committed table: the columns `offset .. offset + 2^log_k` of a dense stage's weights,
/// rows zero-padded to `2^log_m`. Splitting the columns by the binary digits of `in_dim` keeps
/// the committed size close to the weight count instead of rounding every matrix up to a power of two.
#[derive(Clone, Copy, Debug)]
struct Block {
    offset: usize,
    log_k: usize,
    /// Row variables of the table (≥ the stage's `log2_ceil(out_dim)`).
    log_m: usize,
}

fn dense_stages(model: &QuantizedModel) -> impl Iterator<Item = &Dense> {
    model.stages.iter().filter_map(|s| match s {
        Stage::Dense(d) => Some(d),
        Stage::Rescale(_) => None,
    })
}

fn blocks(d: &Dense) -> Vec<Block> {
    let log_rows = log2_ceil(d.out_dim);
    let mut out = Vec::new();
    let mut offset = 0;
    for bit in (0..usize::BITS as usize).rev() {
        if d.in_dim >> bit & 1 == 1 {
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
        dense_stages(model).flat_map(blocks).map(|b| b.log_m + b.log_k).collect();
    pcs::protocol(&vars)
}

fn weight_table(d: &Dense, b: Block) -> Vec<F> {
    let k = 1 << b.log_k;
    let mut t = vec![F::ZERO; (1 << b.log_m) * k];
    for (i, row) in d.weights.chunks_exact(d.in_dim).enumerate() {
        for (j, &w) in row[b.offset..b.offset + k].iter().enumerate() {
            t[i * k + j] = from_i64(i64::from(w));
        }
    }
    t
}

/// `Σ_i eq(r, i)·W_b[i][·]` over the stage's real rows.
fn fold_weights(d: &Dense, b: Block, r: &[EF]) -> Vec<EF> {
    let eq = eq_table(r);
    let k = 1 << b.log_k;
    let mut out = vec![EF::ZERO; k];
    for (row, &e) in d.weights.chunks_exact(d.in_dim).zip(&eq) {
        for (o, &w) in out.iter_mut().zip(&row[b.offset..b.offset + k]) {
            *o += e * from_i64(i64::from(w));
        }
    }
    out
}

/// The columns of a block of `X = x − zp`, rows padded to `2^log_n`.
fn input_block(x: &[i8], d: &Dense, b: Block, log_n: usize) -> Vec<F> {
    let k = 1 << b.log_k;
    let mut t = vec![F::ZERO; (1 << log_n) * k];
    for (n, row) in x.chunks_exact(d.in_dim).enumerate() {
        for (j, &v) in row[b.offset..b.offset + k].iter().enumerate() {
            t[n * k + j] = from_i64(i64::from(v) - i64::from(d.input_zero_point));
        }
    }
    t
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
        if let Stage::Dense(d) = s {
            d.weights = Vec::new();
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
            if let Stage::Dense(d) = s {
                if !d.weights.is_empty() {
                    return Err(VerifyError::Commitment("the header carries weights".into()));
                }
                let n = d
                    .in_dim
                    .checked_mul(d.out_dim)
                    .filter(|&n| n <= 1 << 30)
                    .ok_or_else(|| VerifyError::Commitment("dense layer too large".into()))?;
                d.weights = vec![0; n];
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

/// Accumulators padded to `[2^log_n][2^log_m]`.
fn acc_matrix(acc: &[i64], d: &Dense, log_n: usize, log_m: usize) -> Vec<F> {
    let m = 1 << log_m;
    let mut t = vec![F::ZERO; (1 << log_n) * m];
    for (n, row) in acc.chunks_exact(d.out_dim).enumerate() {
        for (i, &v) in row.iter().enumerate() {
            t[n * m + i] = from_i64(v);
        }
    }
    t
}

/// `Σ_n eq(r, n)·M[n][·]` for a row-major matrix with `cols` columns.
fn fold_rows(m: &[F], cols: usize, r: &[EF]) -> Vec<EF> {
    let eq = eq_table(r);
    let mut out = vec![EF::ZERO; cols];
    for (row, &e) in m.chunks_exact(cols).zip(&eq) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o += e * v;
        }
    }
    out
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
        let tables: Vec<Table<F>> = dense_stages(model)
            .flat_map(|d| blocks(d).into_iter().map(move |b| weight_table(d, b)))
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
        let log_n = log2_ceil(trace.batch);
        let mut ch = pcs::challenger();
        absorb_statement(&mut ch, &self.commitment, trace.batch, input, &output);
        for acc in &trace.accumulators {
            for &a in acc {
                ch.observe(from_i64(a));
            }
        }
        let mut all_blocks = Vec::new();
        let mut points = Vec::new();
        for (stage_idx, stage) in self.model.stages.iter().enumerate() {
            let Stage::Dense(d) = stage else { continue };
            let rn = sample_point(&mut ch, log_n);
            let ri = sample_point(&mut ch, log2_ceil(d.out_dim));
            let x = &trace.activations[stage_idx];
            let mut parts = Vec::new();
            for b in blocks(d) {
                let f = fold_rows(&input_block(x, d, b, log_n), 1 << b.log_k, &rn);
                let g = fold_weights(d, b, &ri);
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
    let dense: Vec<&Dense> = dense_stages(model).collect();
    if proof.accumulators.len() != dense.len() || proof.blocks.len() != dense.len() {
        return Err(VerifyError::Shape(format!("{} dense stages", dense.len())));
    }
    let log_n = log2_ceil(batch);
    for (idx, (d, acc)) in dense.iter().zip(&proof.accumulators).enumerate() {
        if acc.len() != batch * d.out_dim {
            return Err(VerifyError::Shape(format!("stage {idx}: {} accumulators", acc.len())));
        }
        // |acc| ≤ in_dim·255·128 < 2^31: equality mod p then means equality over the integers.
        let bound = (d.in_dim as i64) * 255 * 128;
        if acc.iter().any(|a| a.abs() > bound) {
            return Err(VerifyError::Shape(format!("stage {idx}: accumulator out of range")));
        }
        let bs = blocks(d);
        if proof.blocks[idx].len() != bs.len()
            || bs.iter().zip(&proof.blocks[idx]).any(|(b, p)| p.sumcheck.rounds.len() != b.log_k)
        {
            return Err(VerifyError::Shape(format!(
                "stage {idx}: wrong number of sumcheck rounds"
            )));
        }
    }

    // Replay the non-linear stages from the accumulators; the result must be the claimed output.
    let mut activations = vec![input.to_vec()];
    let mut dense_idx = 0;
    for stage in &model.stages {
        let x = activations.last().map(Vec::as_slice).unwrap_or(&[]);
        let next: Vec<i8> = match stage {
            Stage::Dense(d) => {
                let acc = &proof.accumulators[dense_idx];
                dense_idx += 1;
                acc.chunks_exact(d.out_dim).flat_map(|row| d.finish(row)).collect()
            }
            Stage::Rescale(r) => {
                x.chunks_exact(r.bias.len()).flat_map(|row| r.apply(row)).collect()
            }
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
    let mut dense_idx = 0;
    for (stage_idx, stage) in model.stages.iter().enumerate() {
        let Stage::Dense(d) = stage else { continue };
        let log_m = log2_ceil(d.out_dim);
        let rn = sample_point(&mut ch, log_n);
        let ri = sample_point(&mut ch, log_m);
        let acc = acc_matrix(&proof.accumulators[dense_idx], d, log_n, log_m);
        let mut rni = rn.clone();
        rni.extend(&ri);
        let claim = eval_mle(&acc, &rni);
        let parts = &proof.blocks[dense_idx];
        if parts.iter().map(|p| p.claim).sum::<EF>() != claim {
            return Err(VerifyError::FinalClaim(dense_idx));
        }
        for p in parts {
            ch.observe_algebra_element(p.claim);
        }
        for (b, p) in blocks(d).into_iter().zip(parts) {
            let (final_claim, s) = sumcheck::verify(&p.sumcheck, p.claim, &mut ch);
            let x = input_block(&activations[stage_idx], d, b, log_n);
            let mut rns = rn.clone();
            rns.extend(&s);
            if final_claim != eval_mle(&x, &rns) * p.weight_eval {
                return Err(VerifyError::FinalClaim(dense_idx));
            }
            ch.observe_algebra_element(p.weight_eval);
            points.push(block_point(b, &ri, s));
        }
        dense_idx += 1;
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
    use crate::model::{InputQuant, OutputDequant, Requant, Rescale};

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
