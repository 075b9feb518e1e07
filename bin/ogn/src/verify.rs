//! `ogn verify`: check an inference receipt offline, and optionally re-execute the job.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use ogn_runtime::{Runtime, RuntimeConfig};
use ogn_verify::{Receipt, execute, tensors_hash};
use serde_json::json;

use crate::{config::Settings, infer::read_input, model::fetch_model};

/// Arguments of `ogn verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The receipt: a JSON file (as `ogn infer --receipt` and the node write them) or `.abi` bytes.
    receipt: PathBuf,
    /// The job's input tensors (JSON file, `-` or inline): checked against the receipt's input hash.
    #[arg(short, long)]
    input: Option<String>,
    /// Run the model locally (fetched by CID from the hub, or `--model FILE`) and compare the output hash,
    /// the result id and the layer commitment with the receipt's. Needs `--input`.
    #[arg(long, requires = "input")]
    reexecute: bool,
    /// A local copy of the model (must hash to the receipt's model CID).
    #[arg(long)]
    model: Option<String>,
}

pub(crate) async fn run(settings: &Settings, args: VerifyArgs, json_mode: bool) -> Result<()> {
    let bytes = std::fs::read(&args.receipt)
        .with_context(|| format!("reading receipt {}", args.receipt.display()))?;
    let receipt: Receipt = if args.receipt.extension().is_some_and(|e| e == "abi") {
        Receipt::from_abi(&bytes)?
    } else {
        serde_json::from_slice(&bytes).context("parsing the receipt JSON")?
    };
    let checked = receipt.check().context("the receipt does not check")?;
    let mut report = json!({
        "job": receipt.job,
        "model": receipt.model,
        "mode": checked.mode,
        "status": receipt.status,
        "signers": checked.signers,
        "catchProbabilityPpm": checked.catch_ppm,
        "bondLocked": receipt.guarantee.bond_locked.to_string(),
        "price": receipt.guarantee.price.to_string(),
        "signatures": "ok",
        "guarantee": "matches the formula",
    });
    if let Some(input) = &args.input {
        let inputs = read_input(input)?;
        if tensors_hash(&inputs) != receipt.input_hash {
            bail!("the input given is not the receipt's input (input hash differs)");
        }
        report["input"] = json!("matches the input hash");
        if args.reexecute {
            let model_ref = args.model.clone().unwrap_or_else(|| receipt.model.to_string());
            let (cid, bytes) = fetch_model(settings, &model_ref).await?;
            if cid != receipt.model {
                bail!("model {cid} is not the receipt's model {}", receipt.model);
            }
            let exec = tokio::task::spawn_blocking(move || {
                let runtime = Runtime::new(RuntimeConfig::default());
                let model = runtime.load(&cid, &bytes)?;
                anyhow::Ok(execute(&runtime, &model, &inputs)?)
            })
            .await??;
            if exec.engine_id != receipt.engine_id {
                bail!(
                    "this machine runs engine {} but the receipt was produced on {}: re-execution is \
                     compared on the same engine only",
                    exec.engine_id,
                    receipt.engine_id
                );
            }
            let same = |a, b| if a == b { "same" } else { "DIFFERENT" };
            report["reexecution"] = json!({
                "outputHash": same(exec.output_hash, receipt.output_hash),
                "resultId": same(exec.result_id, receipt.result_id),
                "layerCommitment": same(exec.commitment().root, receipt.commitment.root),
            });
            if exec.output_hash != receipt.output_hash || exec.result_id != receipt.result_id {
                if !json_mode {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                }
                bail!("re-execution gives a different result: the receipt's result is wrong");
            }
            if exec.commitment() != receipt.commitment {
                bail!("re-execution gives the same outputs but a different layer commitment");
            }
        }
    }
    if json_mode {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("receipt  job {} · model {} · {}", receipt.job, receipt.model, checked.mode);
        println!(
            "signed   {}",
            checked.signers.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
        );
        println!(
            "promise  caught with probability {:.4} · bond locked {} wei · price {} wei",
            checked.catch_ppm as f64 / 1e6,
            receipt.guarantee.bond_locked,
            receipt.guarantee.price
        );
        if args.input.is_some() {
            println!("input    matches the receipt");
        }
        if args.reexecute {
            println!("rerun    same outputs, result id and layer commitment");
        }
        println!("ok");
    }
    Ok(())
}
