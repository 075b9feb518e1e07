//! Real models against onnxruntime, and determinism of ogn's configuration.
//!
//! Tolerances: float models must satisfy max |ogn - ORT| ≤ `FLOAT_ABS_TOL` and ≤ `FLOAT_REL_TOL` × max |ORT|.
//! Measured (BENCHMARKS.md): 4.1e-5 on PP-OCR det, 7.9e-6 on rec, 2.2e-6 or less on the others, so the
//! bounds leave about 10x headroom. Int8 models must be bit-identical to onnxruntime (they are).

mod common;

use common::*;
use ogn_runtime::{Runtime, RuntimeConfig};
use ogn_types::Tensor;

const FLOAT_ABS_TOL: f32 = 5e-4;
const FLOAT_REL_TOL: f32 = 5e-4;

fn run(rt: &Runtime, stem: &str, inputs: &[Tensor]) -> Vec<Tensor> {
    let (cid, bytes) = model_bytes(stem);
    let model = rt.load(&cid, &bytes).unwrap_or_else(|e| panic!("{stem}: load: {e}"));
    rt.run(&model, inputs).unwrap_or_else(|e| panic!("{stem}: run: {e}"))
}

fn bits(ts: &[Tensor]) -> Vec<Vec<u32>> {
    ts.iter().map(|t| f32s(t).iter().map(|x| x.to_bits()).collect()).collect()
}

#[test]
fn float_models_match_onnxruntime_within_tolerance() {
    let rt = Runtime::new(RuntimeConfig::default());
    let mut failures = vec![];
    for stem in FLOAT_MODELS {
        let r = reference(stem);
        let got = run(&rt, stem, &r.inputs);
        assert_eq!(got.len(), r.outputs.len(), "{stem}: output count");
        for (g, w) in got.iter().zip(&r.outputs) {
            assert_eq!(g.name, w.name, "{stem}: output name");
            assert_eq!(g.shape, w.shape, "{stem}: output shape");
            let (abs, rel) = max_diff(f32s(g), f32s(w));
            println!("{stem} {}: max abs diff {abs:e}, rel {rel:e}", g.name);
            if abs > FLOAT_ABS_TOL || rel > FLOAT_REL_TOL {
                failures.push(format!("{stem} {}: abs {abs:e} rel {rel:e}", g.name));
            }
        }
    }
    assert!(failures.is_empty(), "over tolerance: {failures:?}");
}

#[test]
fn int8_models_match_onnxruntime() {
    let rt = Runtime::new(RuntimeConfig::default());
    for stem in INT8_MODELS {
        let r = reference(stem);
        let got = run(&rt, stem, &r.inputs);
        for (g, w) in got.iter().zip(&r.outputs) {
            let (abs, rel) = max_diff(f32s(g), f32s(w));
            let differing =
                f32s(g).iter().zip(f32s(w)).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
            println!(
                "{stem} {}: {differing}/{} elements differ, max abs {abs:e} rel {rel:e}",
                g.name,
                g.len()
            );
            assert_eq!(
                bits(std::slice::from_ref(g)),
                bits(std::slice::from_ref(w)),
                "{stem}: not bit-identical to onnxruntime"
            );
        }
    }
}

#[test]
fn repeated_runs_and_thread_counts_are_bit_identical() {
    let one = Runtime::new(RuntimeConfig { threads: 1, ..Default::default() });
    let two = Runtime::new(RuntimeConfig { threads: 2, ..Default::default() });
    assert!(one.engine_id().contains("threads=1"), "{}", one.engine_id());
    assert!(two.engine_id().contains("threads=2"), "{}", two.engine_id());
    for stem in FLOAT_MODELS.iter().chain(INT8_MODELS) {
        let r = reference(stem);
        let first = bits(&run(&one, stem, &r.inputs));
        let again = bits(&run(&one, stem, &r.inputs));
        let threaded = bits(&run(&two, stem, &r.inputs));
        assert_eq!(first, again, "{stem}: two runs differ");
        assert_eq!(first, threaded, "{stem}: 1 and 2 threads differ");
    }
}
