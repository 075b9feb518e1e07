//! Per-layer evidence: leaves are deterministic, follow the documented encoding, do not depend on which
//! thread hashed them, a traced run returns the same outputs as a plain one, and every step re-executed
//! alone from its witness reproduces its leaf (and a changed witness does not).

mod common;

use common::*;
use ogn_runtime::{LayerValue, Runtime, RuntimeConfig, set_layer_hashers};
use ogn_types::TensorData;

/// The small models and the PP-OCR classifier.
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
        // Every step: reshapes reuse their input's payload digest in a traced run, and are hashed
        // afresh here.
        for step in 0..n {
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

/// The model input's step, hashed by hand from the documented encoding, is one of the leaves.
#[test]
fn leaves_follow_the_documented_encoding() {
    let rt = Runtime::new(RuntimeConfig::default());
    for stem in ["mlp", "ch_ppocr_mobile_v2.0_cls_infer"] {
        let (cid, bytes) = model_bytes(stem);
        let model = rt.load(&cid, &bytes).unwrap();
        let inputs = reference(stem).inputs;
        let TensorData::F32(data) = &inputs[0].data else { panic!("{stem}: f32 input") };
        let payload: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        let mut encoding = b"ogn-layer-v2".to_vec();
        encoding.extend_from_slice(&1u32.to_le_bytes());
        encoding.extend_from_slice(&3u16.to_le_bytes());
        encoding.extend_from_slice(b"F32");
        encoding.extend_from_slice(&(inputs[0].shape.len() as u32).to_le_bytes());
        for d in &inputs[0].shape {
            encoding.extend_from_slice(&(*d as u64).to_le_bytes());
        }
        encoding.extend_from_slice(blake3::hash(&payload).as_bytes());
        let expected = *blake3::hash(&encoding).as_bytes();
        let value = LayerValue {
            dtype: "F32".into(),
            shape: inputs[0].shape.clone(),
            bytes: payload,
            strings: vec![],
        };
        assert_eq!(LayerValue::leaf(&[value]), expected, "{stem}: LayerValue::leaf");
        let trace = rt.run_traced(&model, &inputs).unwrap();
        assert!(trace.leaves.contains(&expected), "{stem}: the input step's leaf");
    }
}

/// Payloads are hashed by whichever thread gets them (the run's own or a hasher); runs that compete for
/// the hashers give the same leaves as a run without hashers.
#[test]
fn leaves_do_not_depend_on_which_thread_hashes_them() {
    let rt = Runtime::new(RuntimeConfig::default());
    let stem = "ch_ppocr_mobile_v2.0_cls_infer";
    let (cid, bytes) = model_bytes(stem);
    let model = rt.load(&cid, &bytes).unwrap();
    let inputs = reference(stem).inputs;
    set_layer_hashers(0);
    let alone = rt.run_traced(&model, &inputs).unwrap();
    set_layer_hashers(2);
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    (0..3).map(|_| rt.run_traced(&model, &inputs).unwrap()).collect::<Vec<_>>()
                })
            })
            .collect();
        for run in runs {
            for trace in run.join().unwrap() {
                assert_eq!(trace.leaves, alone.leaves);
                assert_eq!(trace.outputs, alone.outputs);
            }
        }
    });
    set_layer_hashers(0);
}

/// A cut layout is valid, commits every step a later step starts from, and a checkpointed run returns
/// the plain outputs and exactly the full trace's leaves at the steps it hashes.
#[test]
fn checkpointed_runs_hash_the_live_steps_of_their_cuts() {
    let rt = Runtime::new(RuntimeConfig::default());
    let mut stems = MODELS.to_vec();
    stems.extend(["ch_PP-OCRv4_rec_infer", "ch_PP-OCRv4_det_infer"]);
    for stem in stems {
        let (cid, bytes) = model_bytes(stem);
        let model = rt.load(&cid, &bytes).unwrap();
        let inputs = reference(stem).inputs;
        let layout = rt.cut_layout(&model, &inputs).unwrap();
        layout.validate().unwrap();
        let full = rt.run_traced(&model, &inputs).unwrap();
        assert_eq!(layout.steps as usize, full.leaves.len(), "{stem}");
        assert_eq!(layout.cuts.len(), full.leaves.len() / ogn_runtime::SEGMENT_STEPS, "{stem}");
        let part = rt.run_checkpointed(&model, &inputs, &layout).unwrap();
        assert_eq!(part.outputs, full.outputs, "{stem}: outputs");
        let hashed = layout.hashed_steps();
        for (s, leaf) in part.leaves.iter().enumerate() {
            assert_eq!(leaf.is_some(), hashed[s], "{stem}: step {s} hashed iff live");
            if let Some(leaf) = leaf {
                assert_eq!(*leaf, full.leaves[s], "{stem}: leaf {s}");
            }
        }
        // What the game relies on: a step's inputs from before a cut are live at that cut.
        for (position, cut) in layout.cuts.iter().enumerate() {
            let next = layout.segment(position + 1).unwrap();
            for step in next {
                for (s, _) in rt.layer_witness(&model, &inputs, step as usize).unwrap().steps {
                    if s as u32 <= cut.after {
                        assert!(
                            cut.live.contains(&(s as u32)),
                            "{stem}: {s} → {step} across a cut"
                        );
                    }
                }
            }
        }
        println!(
            "{stem}: {} steps, cuts after {:?}",
            layout.steps,
            layout.cuts.iter().map(|c| (c.after, c.live.len())).collect::<Vec<_>>()
        );
    }
}
