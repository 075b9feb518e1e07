//! The weight commitment: WHIR (Plonky3 `p3-whir`) over Goldilocks with Poseidon2 Merkle trees.

use p3_challenger::DuplexChallenger;
use p3_dft::Radix2DFTSmallBatch;
use p3_field::Field;
use p3_goldilocks::{Poseidon2Goldilocks, default_goldilocks_poseidon2_8};
use p3_merkle_tree::MerkleTreeMmcs;
use p3_sumcheck::layout::{SuffixProver, plan_stacked_layout};
use p3_sumcheck::{OpeningBatch, OpeningProtocol, PrescribedPointPcs, TableShape, TableSpec};
use p3_symmetric::{PaddingFreeSponge, TruncatedPermutation};
use p3_whir::parameters::{FoldingFactor, ProtocolParameters, SecurityAssumption, WhirConfig};
use p3_whir::pcs::prover::WhirProver;

use crate::field::{EF, F};

type Perm = Poseidon2Goldilocks<8>;
type MerkleHash = PaddingFreeSponge<Perm, 8, 4, 4>;
type MerkleCompress = TruncatedPermutation<Perm, 2, 4, 8>;
/// The Fiat–Shamir sponge: Poseidon2 over Goldilocks, width 8, rate 4.
pub type Challenger = DuplexChallenger<F, Perm, 8, 4>;
type PackedF = <F as Field>::Packing;
/// Merkle tree commitment over Goldilocks rows, 4-element (256-bit) digests.
pub type Mmcs = MerkleTreeMmcs<PackedF, PackedF, MerkleHash, MerkleCompress, 2, 4>;
type Dft = Radix2DFTSmallBatch<F>;
/// Stacking of several weight tables into one committed polynomial.
pub type Layout = SuffixProver<F, EF>;
/// The WHIR PCS instance.
pub type Pcs = WhirProver<EF, F, Dft, Mmcs, Challenger, Layout>;
/// A WHIR commitment (Merkle root).
pub type Root = <Mmcs as p3_commit::Mmcs<F>>::Commitment;
/// A WHIR opening proof.
pub type Opening = p3_whir::PcsProof<F, EF, Mmcs>;

/// Variables eliminated per WHIR round.
pub const FOLDING_FACTOR: usize = 4;
/// log2 of the inverse rate of the first Reed–Solomon codeword (rate 1/2; later rounds lower it).
pub const STARTING_LOG_INV_RATE: usize = 1;
/// Bits by which each later round lowers the rate (1/4, 1/8, …). Each round folds 2^4 values into
/// one, so with one bit per round every round's codeword is 8× shorter than the last: the opening
/// hashes a fraction of what the commitment hashed. (Lowering the rate by `FOLDING_FACTOR − 1` bits
/// per round, the usual choice, keeps the codewords long and made the opening of a 2^21-value
/// commitment cost as much as the commitment: 0.9–1.2 s instead of 0.17 s.)
pub const RATE_STEP: usize = 1;
/// Target bits of security per WHIR error term. The terms are then summed (union bound); the
/// composed bound ([`opening_security_bits`]) is 102.6 bits for the MLP 784-128-10 and LeNet-5 and
/// 101.6 bits for the MLP 784-1024-256-10.
pub const SECURITY_BITS: usize = 104;
/// Proof-of-work bits per WHIR round.
pub const POW_BITS: usize = 8;

/// A fresh Fiat–Shamir challenger.
pub fn challenger() -> Challenger {
    Challenger::new(default_goldilocks_poseidon2_8())
}

/// The opening protocol for weight tables of `2^vars[t]` entries: one batch per table, column 0.
pub fn protocol(vars: &[usize]) -> OpeningProtocol {
    let tables: Vec<(usize, usize)> = vars.iter().map(|&v| (v, 1)).collect();
    protocol_points(&tables)
}

/// The opening protocol for one-column tables of `2^vars` entries, each opened at `points` points.
pub fn protocol_points(tables: &[(usize, usize)]) -> OpeningProtocol {
    OpeningProtocol::new(
        tables
            .iter()
            .map(|&(vars, points)| {
                let batches = (0..points).map(|_| OpeningBatch::new(vec![0], Vec::new())).collect();
                TableSpec::new(TableShape::new(vars, 1), batches)
            })
            .collect(),
    )
}

/// Builds the WHIR instance for the stacked weight tables described by `protocol`.
pub fn pcs(protocol: &OpeningProtocol) -> Result<Pcs, String> {
    let (num_variables, _) = plan_stacked_layout(&protocol.table_shapes());
    let folding_factor = FoldingFactor::Constant(FOLDING_FACTOR);
    let (num_rounds, _) =
        folding_factor.compute_number_of_rounds(num_variables).map_err(|e| format!("{e:?}"))?;
    let mut rates = Vec::with_capacity(num_rounds);
    let mut rate = STARTING_LOG_INV_RATE;
    for _ in 0..num_rounds {
        rate += RATE_STEP;
        rates.push(rate);
    }
    let params = ProtocolParameters {
        security_level: SECURITY_BITS,
        pow_bits: POW_BITS,
        folding_factor,
        soundness_type: SecurityAssumption::UniqueDecoding,
        starting_log_inv_rate: STARTING_LOG_INV_RATE,
        round_log_inv_rates: rates,
    };
    let config = WhirConfig::<EF, F, Challenger>::new(num_variables, params)
        .map_err(|e| format!("{e:?}"))?;
    let dft = Dft::new(1 << config.max_fft_size());
    let perm = default_goldilocks_poseidon2_8();
    let mmcs = Mmcs::new(MerkleHash::new(perm.clone()), MerkleCompress::new(perm), 0);
    Ok(Pcs::new(config, dft, mmcs))
}

/// Composed soundness of one opening in bits (union bound over WHIR's error terms), when the
/// scheme can state it for this protocol.
pub fn opening_security_bits(pcs: &Pcs, protocol: &OpeningProtocol) -> Option<f64> {
    let sec = pcs.prescribed_security(protocol)?;
    let total: f64 = sec.terms.iter().map(|t| 2f64.powf(-t.bits.0)).sum();
    Some(-total.log2())
}
