//! End-to-end proofs on the int8 MLP 784-128-10 and the int8 LeNet-5 from ONNX: completeness, and
//! rejection of every tampering the statement covers (output, input, weights, model identity, proof
//! bytes). Every test runs on both models; the MLP 784-1024-256-10 (1M parameters) has one test of
//! its own.

use std::path::PathBuf;
use std::sync::OnceLock;

use ogn_zk::{
    CommittedModel, Proof, QuantizedModel, Stage, VerifyError, load_onnx, verify, verify_hidden,
};

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
    name: &'static str,
    committed: CommittedModel,
    input: Vec<i8>,
    output: Vec<i8>,
    proof_bytes: Vec<u8>,
}

/// The model and its reference input (all rows) quantized to int8.
fn model_and_input(name: &str) -> (QuantizedModel, Vec<i8>) {
    model_and_input_from(name, name)
}

/// The model `name` and the reference input of fixture `input` (all rows) quantized to int8.
fn model_and_input_from(name: &str, input: &str) -> (QuantizedModel, Vec<i8>) {
    let model = load_onnx(&fixture(&format!("models/{name}.onnx"))).unwrap();
    let x: Vec<f32> = fixture(&format!("reference/{input}.in0.bin"))
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let input = model.quantize_input(&x);
    (model, input)
}

fn load(name: &'static str) -> Setup {
    let (model, mut input) = model_and_input(name);
    // The first row.
    input.truncate(model.input_dim);
    let committed = CommittedModel::new(&model).unwrap();
    let (output, proof) = committed.prove(&input).unwrap();
    assert_eq!(output, model.run(&input).unwrap());
    Setup { name, committed, input, output, proof_bytes: proof.to_bytes() }
}

fn setups() -> [&'static Setup; 2] {
    static MLP: OnceLock<Setup> = OnceLock::new();
    static LENET: OnceLock<Setup> = OnceLock::new();
    [MLP.get_or_init(|| load("mlp_int8")), LENET.get_or_init(|| load("lenet_int8"))]
}

#[test]
fn batches_prove_and_verify() {
    for name in ["mlp_int8", "lenet_int8"] {
        let (model, input) = model_and_input(name);
        let dim = model.input_dim;
        assert_eq!(input.len(), 2 * dim);
        let committed = CommittedModel::new(&model).unwrap();
        let (output, proof) = committed.prove(&input).unwrap();
        assert_eq!(output, model.run(&input).unwrap());
        verify(committed.commitment(), &input, &output, &proof).unwrap();
        // The rows swapped are a different statement.
        let swapped: Vec<i8> = input[dim..].iter().chain(&input[..dim]).copied().collect();
        assert!(verify(committed.commitment(), &swapped, &output, &proof).is_err(), "{name}");
    }
}

#[test]
fn hidden_inputs_prove_and_verify_against_their_commitment() {
    for s in setups() {
        let (output, c, proof) = s.committed.prove_hidden(&s.input).unwrap();
        assert_eq!(output, s.output);
        assert_eq!(ogn_zk::commit_input(&s.input).unwrap(), c);
        let proof = Proof::from_bytes(&proof.to_bytes()).unwrap();
        verify_hidden(s.committed.commitment(), &c, &output, &proof).unwrap();
        // Another input's commitment (a pixel off its zero point changed).
        let mut other = s.input.clone();
        let zp = s.committed.model().input.zero_point;
        let k = other.iter().position(|&v| v != zp).unwrap();
        other[k] = other[k].wrapping_add(1);
        let oc = ogn_zk::commit_input(&other).unwrap();
        assert!(
            verify_hidden(s.committed.commitment(), &oc, &output, &proof).is_err(),
            "{}",
            s.name
        );
    }
}

#[test]
fn honest_proof_verifies_after_a_round_trip_through_bytes() {
    for s in setups() {
        let proof = Proof::from_bytes(&s.proof_bytes).unwrap();
        verify(s.committed.commitment(), &s.input, &s.output, &proof).unwrap();
        // The commitment round-trips too.
        let c = ogn_zk::ModelCommitment::from_bytes(&s.committed.commitment().to_bytes()).unwrap();
        assert_eq!(&c, s.committed.commitment());
        verify(&c, &s.input, &s.output, &proof).unwrap();
    }
}

#[test]
fn changed_output_is_rejected() {
    for s in setups() {
        let proof = Proof::from_bytes(&s.proof_bytes).unwrap();
        for k in [0, 7, s.output.len() - 1] {
            let mut out = s.output.clone();
            out[k] = out[k].wrapping_add(1);
            assert_eq!(
                verify(s.committed.commitment(), &s.input, &out, &proof),
                Err(VerifyError::OutputMismatch),
                "{}",
                s.name
            );
        }
    }
}

#[test]
fn changed_input_is_rejected() {
    for s in setups() {
        let proof = Proof::from_bytes(&s.proof_bytes).unwrap();
        let mut input = s.input.clone();
        // A pixel away from the input's zero point.
        let zp = s.committed.model().input.zero_point;
        let k = input.iter().position(|&v| v != zp).unwrap();
        input[k] = input[k].wrapping_add(1);
        assert!(verify(s.committed.commitment(), &input, &s.output, &proof).is_err(), "{}", s.name);
    }
}

fn with_weight_changed(model: &QuantizedModel, stage: usize, index: usize) -> QuantizedModel {
    let mut m = model.clone();
    let w = match &mut m.stages[stage] {
        Stage::Dense(d) => &mut d.weights,
        Stage::Conv(c) => &mut c.weights,
        _ => panic!("stage {stage} has no weights"),
    };
    w[index] = w[index].wrapping_add(1);
    m
}

#[test]
fn proof_made_with_a_changed_weight_is_rejected() {
    for s in setups() {
        // One weight changed per layer: the header is identical, only the root differs.
        let changes: &[(usize, usize)] = match s.name {
            "mlp_int8" => &[(0, 12_345), (2, 77)],
            _ => &[(0, 3), (2, 1_000), (4, 20_000), (8, 500)],
        };
        for &(stage, index) in changes {
            let other =
                CommittedModel::new(&with_weight_changed(s.committed.model(), stage, index))
                    .unwrap();
            assert_eq!(other.commitment().header(), s.committed.commitment().header());
            let (out, proof) = other.prove(&s.input).unwrap();
            // The root enters the transcript first, so every later check fails; any rejection will do.
            assert!(
                verify(s.committed.commitment(), &s.input, &out, &proof).is_err(),
                "{} stage {stage}",
                s.name
            );
            // And it verifies against its own commitment.
            verify(other.commitment(), &s.input, &out, &proof).unwrap();
        }
    }
}

#[test]
fn proof_for_model_a_is_rejected_for_model_b() {
    for s in setups() {
        let mut b = s.committed.model().clone();
        match &mut b.stages[0] {
            Stage::Dense(d) => d.requant.zero_point = d.requant.zero_point.wrapping_add(1),
            Stage::Conv(c) => c.bias[0] += 1,
            _ => panic!("unexpected first stage"),
        }
        let b = CommittedModel::new(&b).unwrap();
        let proof = Proof::from_bytes(&s.proof_bytes).unwrap();
        assert!(verify(b.commitment(), &s.input, &s.output, &proof).is_err(), "{}", s.name);
        assert_ne!(b.commitment().id(), s.committed.commitment().id());
    }
    // The MLP's proof presented for the LeNet (same input and output widths).
    let [mlp, lenet] = setups();
    let proof = Proof::from_bytes(&mlp.proof_bytes).unwrap();
    assert!(verify(lenet.committed.commitment(), &mlp.input, &mlp.output, &proof).is_err());
}

#[test]
fn truncated_proofs_are_rejected() {
    for s in setups() {
        let n = s.proof_bytes.len();
        for len in [0, 1, 2, n / 3, n / 2, n - 1] {
            let r = Proof::from_bytes(&s.proof_bytes[..len])
                .and_then(|p| verify(s.committed.commitment(), &s.input, &s.output, &p));
            assert!(r.is_err(), "{}: truncated to {len} of {n} bytes", s.name);
        }
        let mut longer = s.proof_bytes.clone();
        longer.push(0);
        assert!(matches!(Proof::from_bytes(&longer), Err(VerifyError::Malformed(_))));
    }
}

#[test]
fn bit_flipped_proofs_are_rejected() {
    for s in setups() {
        let n = s.proof_bytes.len();
        // About 120 positions spread over the whole proof, one bit each.
        let step = (n / 120).max(1);
        let mut checked = 0;
        for (i, pos) in (0..n).step_by(step).enumerate() {
            let mut bytes = s.proof_bytes.clone();
            bytes[pos] ^= 1 << (i % 8);
            let r = Proof::from_bytes(&bytes)
                .and_then(|p| verify(s.committed.commitment(), &s.input, &s.output, &p));
            assert!(r.is_err(), "{}: flipping bit {} of byte {pos} was accepted", s.name, i % 8);
            checked += 1;
        }
        assert!(checked >= 100);
    }
}

#[test]
fn the_one_million_parameter_mlp_proves_and_verifies() {
    let (model, mut input) = model_and_input_from("mlp_1m_int8", "mlp");
    assert_eq!(model.num_weights(), 784 * 1024 + 1024 * 256 + 256 * 10);
    input.truncate(model.input_dim);
    let committed = CommittedModel::new(&model).unwrap();
    let (output, proof) = committed.prove(&input).unwrap();
    assert_eq!(output, model.run(&input).unwrap());
    let proof = Proof::from_bytes(&proof.to_bytes()).unwrap();
    verify(committed.commitment(), &input, &output, &proof).unwrap();
    let mut out = output.clone();
    out[3] = out[3].wrapping_add(1);
    assert_eq!(
        verify(committed.commitment(), &input, &out, &proof),
        Err(VerifyError::OutputMismatch)
    );
    let other = CommittedModel::new(&with_weight_changed(&model, 2, 100_000)).unwrap();
    let (out, proof) = other.prove(&input).unwrap();
    assert!(verify(committed.commitment(), &input, &out, &proof).is_err());
}
