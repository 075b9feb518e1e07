//! Proves and verifies one inference of a quantized ONNX model and prints timings as JSON.
//!
//! ```text
//! cargo run --release -p ogn-zk --example zk_bench -- MODEL.onnx INPUT.bin [REPEATS]
//! ```
//!
//! `INPUT.bin` holds little-endian f32 values, `[batch][input_dim]`. Prints one JSON object:
//! commit, prove and verify times (median of REPEATS runs after one warm-up), the work estimate
//! ([`ogn_zk::QuantizedModel::work`], what ZKML gas on the chain is charged from), proof size,
//! peak resident memory, the WHIR security estimate and the f32 output (to compare with onnxruntime).

use std::time::Instant;

use ogn_zk::{CommittedModel, Proof, load_onnx, verify, verify_hidden};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: zk_bench MODEL.onnx INPUT.bin [REPEATS]".into());
    }
    let repeats: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(5).max(1);
    let model = load_onnx(&std::fs::read(&args[1])?)?;
    let x: Vec<f32> = std::fs::read(&args[2])?
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let input = model.quantize_input(&x);

    let t = Instant::now();
    let committed = CommittedModel::new(&model)?;
    let commit_s = t.elapsed().as_secs_f64();

    let (output, proof) = committed.prove(&input)?;
    let bytes = proof.to_bytes();
    let mut prove_s = Vec::new();
    let mut verify_s = Vec::new();
    for _ in 0..repeats {
        let t = Instant::now();
        let (out, p) = committed.prove(&input)?;
        prove_s.push(t.elapsed().as_secs_f64());
        assert_eq!(out, output);
        let encoded = p.to_bytes();
        let t = Instant::now();
        let decoded = Proof::from_bytes(&encoded)?;
        verify(committed.commitment(), &input, &output, &decoded)?;
        verify_s.push(t.elapsed().as_secs_f64());
    }
    // The same with the input hidden behind an input commitment (`prove_hidden`).
    let (_, input_commitment, hidden) = committed.prove_hidden(&input)?;
    let hidden_bytes = hidden.to_bytes().len();
    let mut hidden_prove_s = Vec::new();
    let mut hidden_verify_s = Vec::new();
    for _ in 0..repeats {
        let t = Instant::now();
        let (out, _, p) = committed.prove_hidden(&input)?;
        hidden_prove_s.push(t.elapsed().as_secs_f64());
        assert_eq!(out, output);
        let encoded = p.to_bytes();
        let t = Instant::now();
        let decoded = Proof::from_bytes(&encoded)?;
        verify_hidden(committed.commitment(), &input_commitment, &output, &decoded)?;
        hidden_verify_s.push(t.elapsed().as_secs_f64());
    }
    let security = ogn_zk::weight_opening_security_bits(committed.model());
    let logits: Vec<String> =
        model.dequantize_output(&output).iter().map(|v| format!("{v:?}")).collect();
    println!(
        "{{\"model\":{:?},\"weights\":{},\"batch\":{},\"work\":{},\"commit_s\":{commit_s:.6},\"prove_s\":{:.6},\"verify_s\":{:.6},\"proof_bytes\":{},\"hidden_prove_s\":{:.6},\"hidden_verify_s\":{:.6},\"hidden_proof_bytes\":{},\"peak_rss_kib\":{},\"whir_security_bits\":{},\"output\":[{}]}}",
        args[1],
        model.num_weights(),
        input.len() / model.input_dim,
        model.work(input.len() / model.input_dim),
        median(prove_s),
        median(verify_s),
        bytes.len(),
        median(hidden_prove_s),
        median(hidden_verify_s),
        hidden_bytes,
        peak_rss_kib(),
        security.map_or("null".to_string(), |b| format!("{b:.1}")),
        logits.join(","),
    );
    Ok(())
}
