//! End-to-end proofs on the int8 MLP 784-128-10 from ONNX: completeness, and rejection of every
//! tampering the statement covers (output, weights, model identity, proof bytes).

use std::path::PathBuf;
use std::sync::OnceLock;

use ogn_zk::{CommittedModel, Proof, QuantizedModel, Stage, VerifyError, load_onnx, verify};

fn fixture(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures").join(rel);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "fixture {} is missing ({e}): run scripts/fetch-fixtures from the repository root first",
            path.display()
        )
    })
}

struct Setup {
    committed: CommittedModel,
    input: Vec<i8>,
    output: Vec<i8>,
    proof_bytes: Vec<u8>,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let model = load_onnx(&fixture("models/mlp_int8.onnx")).unwrap();
        let x: Vec<f32> = fixture("reference/mlp_int8.in0.bin")
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let input = model.quantize_input(&x);
        let committed = CommittedModel::new(&model).unwrap();
        let (output, proof) = committed.prove(&input).unwrap();
        assert_eq!(output, model.run(&input).unwrap());
        Setup { committed, input, output, proof_bytes: proof.to_bytes() }
    })
}

fn model() -> &'static QuantizedModel {
    setup().committed.model()
}

#[test]
fn honest_proof_verifies_after_a_round_trip_through_bytes() {
    let s = setup();
    let proof = Proof::from_bytes(&s.proof_bytes).unwrap();
    verify(s.committed.commitment(), &s.input, &s.output, &proof).unwrap();
    // The commitment round-trips too.
    let c = ogn_zk::ModelCommitment::from_bytes(&s.committed.commitment().to_bytes()).unwrap();
    assert_eq!(&c, s.committed.commitment());
    verify(&c, &s.input, &s.output, &proof).unwrap();
}

#[test]
fn changed_output_is_rejected() {
    let s = setup();
    let proof = Proof::from_bytes(&s.proof_bytes).unwrap();
    for k in [0, 7, s.output.len() - 1] {
        let mut out = s.output.clone();
        out[k] = out[k].wrapping_add(1);
        assert_eq!(
            verify(s.committed.commitment(), &s.input, &out, &proof),
            Err(VerifyError::OutputMismatch)
        );
    }
}

#[test]
fn changed_input_is_rejected() {
    let s = setup();
    let proof = Proof::from_bytes(&s.proof_bytes).unwrap();
    let mut input = s.input.clone();
    // A pixel that is non-zero in the first row.
    let k = input.iter().position(|&v| v != 0).unwrap();
    input[k] = input[k].wrapping_add(1);
    assert!(verify(s.committed.commitment(), &input, &s.output, &proof).is_err());
}

fn with_weight_changed(model: &QuantizedModel, stage: usize, index: usize) -> QuantizedModel {
    let mut m = model.clone();
    let Stage::Dense(d) = &mut m.stages[stage] else { panic!("stage {stage} is not dense") };
    d.weights[index] = d.weights[index].wrapping_add(1);
    m
}

#[test]
fn proof_made_with_a_changed_weight_is_rejected() {
    let s = setup();
    // The same weights but one, in each dense layer: the header is identical, only the root differs.
    for (stage, index) in [(0, 12_345), (2, 77)] {
        let other = CommittedModel::new(&with_weight_changed(model(), stage, index)).unwrap();
        assert_eq!(other.commitment().header(), s.committed.commitment().header());
        let (out, proof) = other.prove(&s.input).unwrap();
        // The root enters the transcript first, so every later check fails; any rejection will do.
        assert!(verify(s.committed.commitment(), &s.input, &out, &proof).is_err(), "stage {stage}");
        // And it verifies against its own commitment.
        verify(other.commitment(), &s.input, &out, &proof).unwrap();
    }
}

#[test]
fn proof_for_model_a_is_rejected_for_model_b() {
    let s = setup();
    let mut b = model().clone();
    let Stage::Rescale(r) = &mut b.stages[1] else { panic!() };
    r.bias[0] += 0.5;
    let b = CommittedModel::new(&b).unwrap();
    let proof = Proof::from_bytes(&s.proof_bytes).unwrap();
    assert!(verify(b.commitment(), &s.input, &s.output, &proof).is_err());
    assert_ne!(b.commitment().id(), s.committed.commitment().id());
}

#[test]
fn truncated_proofs_are_rejected() {
    let s = setup();
    let n = s.proof_bytes.len();
    for len in [0, 1, 2, n / 3, n / 2, n - 1] {
        let r = Proof::from_bytes(&s.proof_bytes[..len])
            .and_then(|p| verify(s.committed.commitment(), &s.input, &s.output, &p));
        assert!(r.is_err(), "truncated to {len} of {n} bytes");
    }
    let mut longer = s.proof_bytes.clone();
    longer.push(0);
    assert!(matches!(Proof::from_bytes(&longer), Err(VerifyError::Malformed(_))));
}

#[test]
fn bit_flipped_proofs_are_rejected() {
    let s = setup();
    let n = s.proof_bytes.len();
    // About 120 positions spread over the whole proof, one bit each.
    let step = (n / 120).max(1);
    let mut checked = 0;
    for (i, pos) in (0..n).step_by(step).enumerate() {
        let mut bytes = s.proof_bytes.clone();
        bytes[pos] ^= 1 << (i % 8);
        let r = Proof::from_bytes(&bytes)
            .and_then(|p| verify(s.committed.commitment(), &s.input, &s.output, &p));
        assert!(r.is_err(), "flipping bit {} of byte {pos} was accepted", i % 8);
        checked += 1;
    }
    assert!(checked >= 100);
}
