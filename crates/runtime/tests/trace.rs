//! Per-layer evidence: leaves are deterministic, a traced run returns the same outputs as a plain one, and
//! every step re-executed alone from its witness reproduces its leaf (and a changed witness does not).

mod common;

use common::*;
use ogn_runtime::{LayerValue, Runtime, RuntimeConfig};

/// Every step of the small models, a spread of steps of the PP-OCR classifier.
const MODELS: &[&str] =
    &["mlp", "mlp_int8", "lenet", "lenet_int8", "ch_ppocr_mobile_v2.0_cls_infer"];

#[test]
fn traced_runs_match_plain_runs_and_repeat_exactly() {
    let rt = Runtime::new(RuntimeConfig::default());
    for stem in MODELS {
        let (cid, bytes) = model_bytes(stem);
        let model = rt.load(&cid, &bytes).unwrap();
        let inputs = reference(stem).inputs;
        let plain = rt.run(&model, &inputs).unwrap();
        let a = rt.run_traced(&model, &inputs).unwrap();
        let b = rt.run_traced(&model, &inputs).unwrap();
        assert_eq!(a.outputs, plain, "{stem}: traced outputs");
        assert_eq!(a.leaves, b.leaves, "{stem}: leaves repeat");
        assert!(a.leaves.len() >= 3, "{stem}: {} steps", a.leaves.len());
        println!("{stem}: {} steps", a.leaves.len());
    }
}

#[test]
fn each_step_re_executed_alone_reproduces_its_leaf() {
    let rt = Runtime::new(RuntimeConfig::default());
    for stem in MODELS {
        let (cid, bytes) = model_bytes(stem);
        let model = rt.load(&cid, &bytes).unwrap();
        let inputs = reference(stem).inputs;
        let trace = rt.run_traced(&model, &inputs).unwrap();
        let n = trace.leaves.len();
        let steps: Vec<usize> =
            if n <= 40 { (0..n).collect() } else { (0..n).step_by(n / 20).collect() };
        for step in steps {
            let witness = rt.layer_witness(&model, &inputs, step).unwrap();
            for (s, values) in &witness.steps {
                assert!(*s < step, "{stem}: witness step {s} not before {step}");
                assert_eq!(LayerValue::leaf(values), trace.leaves[*s], "{stem}: witness leaf {s}");
            }
            let leaf = rt.run_layer(&model, &inputs, step, &witness).unwrap();
            assert_eq!(leaf, trace.leaves[step], "{stem}: step {step} re-executed");
        }
    }
}

#[test]
fn a_changed_witness_changes_the_leaf_or_is_refused() {
    let rt = Runtime::new(RuntimeConfig::default());
    let (cid, bytes) = model_bytes("mlp");
    let model = rt.load(&cid, &bytes).unwrap();
    let inputs = reference("mlp").inputs;
    let trace = rt.run_traced(&model, &inputs).unwrap();
    let last = trace.leaves.len() - 1;
    let mut witness = rt.layer_witness(&model, &inputs, last).unwrap();
    assert!(!witness.steps.is_empty());
    // Move one element far: flip the sign and exponent bits of the first f32.
    let value = &mut witness.steps[0].1[0];
    value.bytes[3] ^= 0xc0;
    let leaf = rt.run_layer(&model, &inputs, last, &witness).unwrap();
    assert_ne!(leaf, trace.leaves[last]);
    // Wrong size: refused, not misread.
    witness.steps[0].1[0].bytes.pop();
    assert!(rt.run_layer(&model, &inputs, last, &witness).is_err());
    // Missing: refused.
    witness.steps.clear();
    assert!(rt.run_layer(&model, &inputs, last, &witness).is_err());
    // Past the end: refused.
    assert!(rt.run_layer(&model, &inputs, last + 1, &Default::default()).is_err());
}
