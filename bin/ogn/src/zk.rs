//! `ogn prove` and `ogn verify-proof`: ZK proofs that a quantized (int8) model maps an input to an output.
//!
//! `ogn prove <model> --input x.json -o proof.json` quantizes the input with the model's input scale, runs the
//! model's integer execution, proves it (ogn-zk: sumcheck over Goldilocks, weights committed with WHIR) and writes
//! one JSON file: `{"model", "commitment", "input", "output", "outputF32", "proof"}` (int8 vectors; commitment and
//! proof as hex). `ogn verify-proof proof.json --model <model>` recommits the model, checks that the file's
//! commitment is that model's, and verifies the proof: no trust in whoever made the file.
//!
//! `ogn prove --hide-input` leaves the int8 input out of the file and writes `inputCommitment` (hex) instead; the
//! proof then binds that commitment. It is binding, not hiding: the commitment is deterministic (anyone can test a
//! guessed input) and the proof still carries the activations in the clear (see ogn-zk's docs).
//! `ogn verify-proof --input-commitment <hex>` also requires the file's commitment to be that one.
//!
//! `ogn quantize <float.onnx> --calibration x.json -o model_int8.onnx` quantizes a float model (ogn-zk's
//! scheme: symmetric int8 weights, activation scales from the calibration rows) into the int8 form
//! `ogn prove` takes, and reports how its outputs on the calibration rows differ from the float model's.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use ogn_types::{DType, Tensor};
use ogn_zk::{InputCommitment, ModelCommitment, Proof, QuantizedModel, load_onnx};
use serde::{Deserialize, Serialize};

use crate::{config::Settings, infer::read_input, model::fetch_model};

/// Arguments of `ogn prove`.
#[derive(Debug, Args)]
pub(crate) struct ProveArgs {
    /// The int8 (QLinear) ONNX model: a CID, name@version[/file], or a local file.
    model: String,
    /// The input tensor: a JSON file, `-` for stdin, or inline JSON (one tensor, float values).
    #[arg(short, long)]
    input: String,
    /// Where to write the proof file.
    #[arg(short, long, default_value = "proof.json")]
    output: PathBuf,
    /// Leave the input out of the proof file: the proof binds an input commitment instead (binding, not
    /// hiding: the activations stay in the proof).
    #[arg(long)]
    hide_input: bool,
}

/// Arguments of `ogn verify-proof`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The proof file written by `ogn prove`.
    proof: PathBuf,
    /// The model the proof claims to be about (CID, name@version[/file], or a local file).
    #[arg(long)]
    model: String,
    /// For a hidden-input proof: the input commitment (hex) the proof must bind.
    #[arg(long)]
    input_commitment: Option<String>,
}

/// Arguments of `ogn quantize`.
#[derive(Debug, Args)]
pub(crate) struct QuantizeArgs {
    /// The float ONNX model (Conv, Relu, MaxPool, Flatten, Gemm): a CID, name@version[/file], or a local file.
    model: String,
    /// Calibration inputs: a JSON file, `-` for stdin, or inline JSON (one tensor, `[rows, ...]`, float values).
    #[arg(short, long)]
    calibration: String,
    /// Where to write the int8 ONNX model.
    #[arg(short, long)]
    output: PathBuf,
}

/// The proof file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProofFile {
    model: String,
    commitment: String,
    /// Empty for a hidden-input proof.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    input: Vec<i8>,
    /// The input commitment (hex) of a hidden-input proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input_commitment: Option<String>,
    output: Vec<i8>,
    output_f32: Vec<f32>,
    proof: String,
}

async fn load_model(settings: &Settings, reference: &str) -> Result<(String, QuantizedModel)> {
    let (cid, bytes) = fetch_model(settings, reference).await?;
    let model = load_onnx(&bytes).with_context(|| {
        format!(
            "{reference} is not a model ogn-zk can prove (int8 QLinearMatMul/QLinearConv, MaxPool, Flatten)"
        )
    })?;
    Ok((cid.to_string(), model))
}

pub(crate) async fn prove(settings: &Settings, args: ProveArgs, json_mode: bool) -> Result<()> {
    let tensors = read_input(&args.input)?;
    let [tensor]: [Tensor; 1] = tensors.try_into().map_err(|t: Vec<Tensor>| {
        anyhow::anyhow!("give exactly one input tensor ({} given)", t.len())
    })?;
    let values = tensor.cast(DType::F32)?.to_f32()?;
    let (cid, model) = load_model(settings, &args.model).await?;
    let started = std::time::Instant::now();
    let hide = args.hide_input;
    let (file, proof_len) = tokio::task::spawn_blocking(move || -> Result<(ProofFile, usize)> {
        let input = model.quantize_input(&values);
        let committed = ogn_zk::CommittedModel::new(&model)?;
        let (input, input_commitment, output, proof) = if hide {
            let (output, c, proof) = committed.prove_hidden(&input)?;
            (Vec::new(), Some(alloy::hex::encode(c.to_bytes())), output, proof)
        } else {
            let (output, proof) = committed.prove(&input)?;
            (input, None, output, proof)
        };
        let proof = proof.to_bytes();
        let file = ProofFile {
            model: cid,
            commitment: alloy::hex::encode(committed.commitment().to_bytes()),
            output_f32: model.dequantize_output(&output),
            input,
            input_commitment,
            output,
            proof: alloy::hex::encode(&proof),
        };
        Ok((file, proof.len()))
    })
    .await??;
    let elapsed = started.elapsed();
    std::fs::write(&args.output, serde_json::to_vec(&file)?)
        .with_context(|| format!("writing {}", args.output.display()))?;
    if json_mode {
        println!(
            "{}",
            serde_json::json!({ "model": file.model, "proofFile": args.output, "proofBytes": proof_len,
                "output": file.output_f32, "proveSeconds": elapsed.as_secs_f64(),
                "inputCommitment": file.input_commitment })
        );
    } else {
        println!("model   {}", file.model);
        if let Some(c) = &file.input_commitment {
            println!("input   hidden, commitment {c}");
        }
        println!("output  {:?}", file.output_f32);
        println!(
            "proof   {} ({proof_len} bytes, {:.1} ms)",
            args.output.display(),
            elapsed.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

pub(crate) async fn verify(settings: &Settings, args: VerifyArgs, json_mode: bool) -> Result<()> {
    let text =
        std::fs::read(&args.proof).with_context(|| format!("reading {}", args.proof.display()))?;
    let file: ProofFile =
        serde_json::from_slice(&text).context("the proof file is not an ogn proof")?;
    let (cid, model) = load_model(settings, &args.model).await?;
    let hidden = file.input_commitment.is_some();
    let outcome = tokio::task::spawn_blocking(move || -> Result<()> {
        let expected = ogn_zk::commit_model(&model)?;
        let claimed = ModelCommitment::from_bytes(
            &alloy::hex::decode(&file.commitment).context("commitment is not hex")?,
        )?;
        if claimed.id() != expected.id() {
            bail!("the proof is for a different model than {cid}");
        }
        let proof =
            Proof::from_bytes(&alloy::hex::decode(&file.proof).context("proof is not hex")?)?;
        match (&file.input_commitment, &args.input_commitment) {
            (None, None) => ogn_zk::verify(&expected, &file.input, &file.output, &proof)?,
            (None, Some(_)) => bail!("the proof file carries its input, not an input commitment"),
            (Some(c), wanted) => {
                if wanted.as_ref().is_some_and(|w| !w.eq_ignore_ascii_case(c)) {
                    bail!("the proof binds another input commitment than the one given");
                }
                if !file.input.is_empty() {
                    bail!("the proof file carries both an input and an input commitment");
                }
                let c = InputCommitment::from_bytes(
                    &alloy::hex::decode(c).context("input commitment is not hex")?,
                )?;
                ogn_zk::verify_hidden(&expected, &c, &file.output, &proof)?;
            }
        }
        Ok(())
    })
    .await?;
    outcome.context("proof rejected")?;
    if json_mode {
        println!("{}", serde_json::json!({ "valid": true, "inputHidden": hidden }));
    } else if hidden {
        println!("valid: the committed model maps the committed input to the output");
    } else {
        println!("valid: the committed model maps the input to the output");
    }
    Ok(())
}

pub(crate) async fn quantize(
    settings: &Settings,
    args: QuantizeArgs,
    json_mode: bool,
) -> Result<()> {
    let tensors = read_input(&args.calibration)?;
    let [tensor]: [Tensor; 1] = tensors.try_into().map_err(|t: Vec<Tensor>| {
        anyhow::anyhow!("give exactly one calibration tensor ({} given)", t.len())
    })?;
    let values = tensor.cast(DType::F32)?.to_f32()?;
    let (cid, bytes) = fetch_model(settings, &args.model).await?;
    let reference = args.model.clone();
    let (onnx, report) = tokio::task::spawn_blocking(move || -> Result<_> {
        let float = ogn_zk::load_float_onnx(&bytes)
            .with_context(|| format!("{reference} is not a float model ogn quantize accepts"))?;
        let (model, report) = ogn_zk::quantize_model(&float, &values)?;
        Ok((ogn_zk::to_onnx(&model)?, report))
    })
    .await??;
    std::fs::write(&args.output, &onnx)
        .with_context(|| format!("writing {}", args.output.display()))?;
    if json_mode {
        println!(
            "{}",
            serde_json::json!({ "model": cid.to_string(), "output": args.output, "bytes": onnx.len(),
                "rows": report.rows, "top1Agree": report.top1_agree, "maxAbsError": report.max_abs_error,
                "meanAbsError": report.mean_abs_error, "maxAbsOutput": report.max_abs_output })
        );
    } else {
        println!("model        {cid}");
        println!("int8 model   {} ({} bytes)", args.output.display(), onnx.len());
        println!(
            "accuracy     top-1 agrees with the float model on {}/{} calibration rows",
            report.top1_agree, report.rows
        );
        println!(
            "error        max {:.4}, mean {:.4} (float outputs reach {:.4})",
            report.max_abs_error, report.mean_abs_error, report.max_abs_output
        );
    }
    Ok(())
}
