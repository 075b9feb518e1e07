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
    /// Also check the receipt against a node (`--hub` / `OGN_HUB_URL`): its transaction is in the named
    /// block and succeeded, and the job recorded on chain (jobs precompile) has the receipt's model, input
    /// and every signer's result.
    #[arg(long)]
    inclusion: bool,
}

/// An inference made in a transaction (no operator job): the node's record of it (`GET /v1/inference/{id}`)
/// is in the receipt's transaction and has the receipt's result id.
async fn check_inference_record(
    url: &str,
    receipt: &Receipt,
    inclusion: &ogn_verify::Inclusion,
) -> Result<serde_json::Value> {
    let id = format!("{:#x}", receipt.result_id);
    let found: serde_json::Value = reqwest::get(format!("{url}/v1/inference/{id}"))
        .await
        .with_context(|| format!("asking {url} for inference {id}"))?
        .json()
        .await
        .context("the node's inference record")?;
    let tx: Option<alloy::primitives::B256> =
        serde_json::from_value(found["transactionHash"].clone()).ok();
    if tx != Some(inclusion.tx_hash) {
        bail!("the node has no inference {id} in transaction {}", inclusion.tx_hash);
    }
    Ok(json!({
        "block": inclusion.block_number,
        "transaction": inclusion.tx_hash,
        "inferenceRecord": id,
        "recordedExecutors": 0,
        "slashedExecutors": [],
    }))
}

/// Checks the receipt's inclusion and its on-chain job record against the node at `url`.
async fn check_inclusion(
    settings: &Settings,
    url: &str,
    receipt: &Receipt,
) -> Result<serde_json::Value> {
    use ogn_chain::{IJobs, JOBS_PRECOMPILE, jobs::JobRecord};
    let Some(inclusion) = receipt.inclusion else {
        bail!("the receipt names no block or transaction (a job served off chain)");
    };
    let rpc = ogn_operator::RpcClient::new(url, settings.signer()?);
    let tx = rpc.request("eth_getTransactionReceipt", json!([inclusion.tx_hash])).await?;
    if tx.is_null() {
        bail!("the node does not know transaction {}", inclusion.tx_hash);
    }
    let block_hash: alloy::primitives::B256 = serde_json::from_value(tx["blockHash"].clone())?;
    if block_hash != inclusion.block_hash || tx["status"].as_str() != Some("0x1") {
        bail!(
            "transaction {} is not the successful one of block {}",
            inclusion.tx_hash,
            inclusion.block_hash
        );
    }
    let json = match rpc.view(JOBS_PRECOMPILE, IJobs::jobCall { job: receipt.job }).await {
        Ok(json) => json,
        Err(_) => return check_inference_record(url, receipt, &inclusion).await,
    };
    let record: JobRecord = serde_json::from_slice(&json).context("the node's job record")?;
    if record.model != receipt.model.to_string() || record.input_hash != receipt.input_hash {
        bail!("job {} on chain is about another model or input", receipt.job);
    }
    for a in &receipt.attestations {
        let on_chain = record.executors.iter().find(|e| e.address == a.operator);
        match on_chain {
            Some(e) if e.output_hash == a.output_hash && e.commitment == a.commitment => {}
            _ => bail!("{}'s result in the receipt is not the one recorded on chain", a.operator),
        }
    }
    let slashed: Vec<String> = record
        .executors
        .iter()
        .filter(|e| e.slashed.is_some())
        .map(|e| e.address.to_string())
        .collect();
    Ok(json!({
        "block": inclusion.block_number,
        "transaction": inclusion.tx_hash,
        "recordedExecutors": record.executors.len(),
        "slashedExecutors": slashed,
    }))
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
    if args.inclusion {
        let url = settings.hub_url.trim_end_matches('/').to_string();
        report["inclusion"] = check_inclusion(settings, &url, &receipt).await?;
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
        if args.inclusion {
            let i = &report["inclusion"];
            println!(
                "chain    in block {} (transaction {}); {} executors recorded, slashed: {}",
                i["block"],
                i["transaction"].as_str().unwrap_or_default(),
                i["recordedExecutors"],
                i["slashedExecutors"]
            );
        }
        println!("ok");
    }
    Ok(())
}

/// Arguments of `ogn receipt`.
#[derive(Debug, Args)]
pub(crate) struct ReceiptArgs {
    /// A job number (jobs the node scheduled) or an inference id (`0x…`, inferences made in transactions).
    id: String,
    /// Write the receipt here instead of printing it.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// `ogn receipt`: fetches the receipt of a job or an on-chain inference from the node.
pub(crate) async fn fetch(settings: &Settings, args: ReceiptArgs) -> Result<()> {
    let base = settings.hub_url.trim_end_matches('/');
    let url = if args.id.starts_with("0x") {
        format!("{base}/api/v0/receipts/inference/{}", args.id)
    } else {
        let job: u64 = args
            .id
            .parse()
            .with_context(|| format!("`{}` is neither a job number nor a 0x id", args.id))?;
        format!("{base}/api/v0/receipts/{job}")
    };
    let response = reqwest::get(&url).await.with_context(|| format!("asking {url}"))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.context("reading the node's answer")?;
    if !status.is_success() {
        bail!("{}", body["error"].as_str().unwrap_or("the node has no such receipt"));
    }
    let receipt: Receipt = serde_json::from_value(body).context("the node's receipt")?;
    let text = serde_json::to_string_pretty(&receipt)?;
    match args.output {
        Some(path) => {
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => println!("{text}"),
    }
    Ok(())
}
