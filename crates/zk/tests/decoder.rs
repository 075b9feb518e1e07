//! The proof and commitment decoders under arbitrary and mutated bytes, as the fuzz target
//! (`crates/zk/fuzz`) drives them, but deterministic and bounded so that it runs with the tests:
//! nothing may panic, and no mutated proof may verify.

use ogn_zk::{CommittedModel, InputCommitment, ModelCommitment, Proof, verify, verify_hidden};

/// A xorshift64 stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn arbitrary_and_mutated_bytes_never_panic_and_never_verify() {
    let committed = CommittedModel::new(&ogn_zk::fixtures::conv_pool_dense()).unwrap();
    let input = ogn_zk::fixtures::conv_pool_dense_input();
    let (output, proof) = committed.prove(&input).unwrap();
    let honest = proof.to_bytes();
    verify(committed.commitment(), &input, &output, &proof).unwrap();
    let commitment_bytes = committed.commitment().to_bytes();
    let (_, input_commitment, hidden) = committed.prove_hidden(&input).unwrap();
    let hidden = hidden.to_bytes();

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut decoded = 0;
    let mut check = |bytes: &[u8]| {
        if let Ok(p) = Proof::from_bytes(bytes) {
            decoded += 1;
            let accepted = verify(committed.commitment(), &input, &output, &p).is_ok();
            assert!(!accepted || bytes == honest.as_slice(), "a mutated proof verified");
            let accepted =
                verify_hidden(committed.commitment(), &input_commitment, &output, &p).is_ok();
            assert!(!accepted || bytes == hidden.as_slice(), "a mutated hidden proof verified");
            assert!(Proof::from_bytes(&p.to_bytes()).is_ok());
        }
        if let Ok(c) = ModelCommitment::from_bytes(bytes) {
            assert_eq!(ModelCommitment::from_bytes(&c.to_bytes()).ok(), Some(c));
        }
        if let Ok(c) = InputCommitment::from_bytes(bytes) {
            assert_eq!(InputCommitment::from_bytes(&c.to_bytes()).ok(), Some(c));
        }
    };
    // Random bytes, with the version byte in front half of the time.
    for i in 0..300 {
        let len = rng.below(400);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if i % 2 == 0 && !bytes.is_empty() {
            bytes[0] = honest[0];
        }
        check(&bytes);
    }
    // The honest proof and commitment with random edits: byte overwrites, deletions, insertions,
    // duplicated ranges.
    let input_commitment_bytes = input_commitment.to_bytes();
    for base in [&honest, &hidden, &commitment_bytes, &input_commitment_bytes] {
        for _ in 0..200 {
            let mut bytes = base.clone();
            // Half the cases: one byte overwritten (the structure usually survives).
            let single = rng.below(2) == 0;
            if single {
                let pos = rng.below(bytes.len());
                bytes[pos] = rng.next() as u8;
            }
            for _ in 0..if single { 0 } else { 1 + rng.below(4) } {
                let pos = rng.below(bytes.len());
                match rng.below(4) {
                    0 => bytes[pos] = rng.next() as u8,
                    1 => {
                        bytes.remove(pos);
                    }
                    2 => bytes.insert(pos, rng.next() as u8),
                    _ => {
                        let end = (pos + 1 + rng.below(64)).min(bytes.len());
                        let chunk = bytes[pos..end].to_vec();
                        bytes.splice(pos..pos, chunk);
                    }
                }
            }
            if bytes != *base {
                check(&bytes);
            }
        }
    }
    // Overwritten bytes inside field elements still decode: the verifier itself saw many.
    assert!(decoded >= 30, "only {decoded} mutated proofs decoded");
}

#[test]
fn other_versions_are_refused() {
    let committed = CommittedModel::new(&ogn_zk::fixtures::conv_pool_dense()).unwrap();
    let input: Vec<i8> = (0..24).map(|i| (i * 7 % 100) as i8).collect();
    let (_, proof) = committed.prove(&input).unwrap();
    let mut bytes = proof.to_bytes();
    let mut commitment = committed.commitment().to_bytes();
    // Proofs are at version 4 (committed accumulators, range-checked requantization, an optional
    // hidden input), model commitments at version 2.
    assert_eq!((bytes[0], commitment[0]), (4, 2));
    for version in [0u8, 1, 2, 3, 255] {
        bytes[0] = version;
        assert!(Proof::from_bytes(&bytes).is_err(), "proof version {version}");
    }
    for version in [0u8, 1, 3, 255] {
        commitment[0] = version;
        assert!(ModelCommitment::from_bytes(&commitment).is_err(), "commitment version {version}");
    }
}

/// Inputs on which the fuzz target once crashed (`crates/zk/fuzz/regressions`; `scripts/fuzz-smoke`
/// also runs them): each must decode to an error or to a value that round-trips, without a panic.
#[test]
fn fuzz_regressions_decode_without_panic() {
    let cases: [&[u8]; 2] = [
        include_bytes!("../fuzz/regressions/commitment-conv-shape-overflow"),
        include_bytes!("../fuzz/regressions/commitment-nan-output-bias"),
    ];
    for bytes in cases {
        assert!(ModelCommitment::from_bytes(bytes).is_err());
        assert!(Proof::from_bytes(bytes).is_err());
    }
}
