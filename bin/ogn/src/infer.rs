//! `ogn infer`: run a model on an input, print its outputs and the result id.

use std::path::Path;

use anyhow::{Context, Result};
use clap::Args;
use ogn_runtime::{Runtime, RuntimeConfig};
use ogn_types::{ModelCid, Tensor, TensorData, json, result_id};
use serde_json::json;

use crate::{config::Settings, model::fetch_model};

/// Arguments of `ogn infer`.
#[derive(Debug, Args)]
pub(crate) struct InferArgs {
    /// The model: a CID, name@version[/file], or a local .onnx file.
    model: String,
    /// Input tensors: a JSON file, `-` for stdin, or inline JSON such as '{"x": [[1, 2]]}'.
    #[arg(short, long)]
    input: String,
    /// How many values of each output to print in text mode (all of them with --json).
    #[arg(long, default_value_t = 8)]
    show: usize,
    /// Also commit to every layer's output and write a signed receipt (JSON) here, checkable with
    /// `ogn verify` (VANILLA: signed by --key, no bond).
    #[arg(long)]
    receipt: Option<std::path::PathBuf>,
    /// Chain id signed into the receipt.
    #[arg(long, default_value_t = ogn_chain::DEFAULT_CHAIN_ID)]
    chain_id: u64,
    /// Send the job to the node's operators in this verification mode (`vanilla`, `sampling`, `replicas`,
    /// or a mode byte) instead of running it here; the node records it on chain and returns its receipt.
    #[arg(long)]
    mode: Option<String>,
    /// With --mode: the job's declared value in OPG (sizes the bond each operator locks).
    #[arg(long, requires = "mode")]
    value: Option<String>,
}

/// `--mode`: the node's scheduler runs the job; prints the outputs and the receipt's verdict.
async fn run_on_node(
    settings: &Settings,
    args: InferArgs,
    mode: String,
    json_mode: bool,
) -> Result<()> {
    // Sent as written (checked first): the operators parse exactly what the user gave.
    let text = read_input_text(&args.input)?;
    json::parse_input(&text).context("parsing the input")?;
    let input: serde_json::Value = serde_json::from_str(&text).context("parsing the input")?;
    let mode_value = match mode.parse::<u8>() {
        Ok(b) => json!(b),
        Err(_) => json!(mode),
    };
    let body = json!({
        "model": args.model,
        "input": input,
        "mode": mode_value,
        "value": args.value,
    });
    let url = format!("{}/api/v0/infer", settings.hub_url.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .post(&url)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("sending the job to {url}"))?;
    let status = response.status();
    let reply: serde_json::Value = response.json().await.context("reading the node's answer")?;
    if !status.is_success() {
        anyhow::bail!("{}", reply["error"].as_str().unwrap_or("the node refused the job"));
    }
    if let Some(path) = &args.receipt {
        std::fs::write(path, serde_json::to_vec_pretty(&reply["receipt"])?)
            .with_context(|| format!("writing receipt {}", path.display()))?;
    }
    if json_mode {
        println!("{}", serde_json::to_string_pretty(&reply)?);
        return Ok(());
    }
    let outputs = json::tensors_from_json(&reply["outputs"]).context("outputs")?;
    let receipt = &reply["receipt"];
    println!("model   {}", reply["modelCid"].as_str().unwrap_or_default());
    println!("job     {}", reply["job"]);
    for t in &outputs {
        println!("{}", describe(t, args.show));
    }
    println!("result  {}", reply["resultId"].as_str().unwrap_or_default());
    let mode = receipt["guarantee"]["mode"]
        .as_u64()
        .and_then(|b| u8::try_from(b).ok())
        .and_then(|b| ogn_verify::Mode::from_byte(b).ok())
        .map_or_else(|| receipt["guarantee"]["mode"].to_string(), |m| m.to_string());
    let catch = receipt["guarantee"]["catch_ppm"].as_f64().unwrap_or_default() / 1e6;
    println!(
        "mode    {mode} · caught with probability {catch:.4} · status {}",
        receipt["status"].as_str().unwrap_or_default()
    );
    if let Some(d) = reply["disputes"].as_array().filter(|d| !d.is_empty()) {
        println!("disputes {}", serde_json::to_string(d)?);
    }
    Ok(())
}

/// One finished inference: what ran, on what, giving what.
pub(crate) struct Inference {
    pub(crate) model: ModelCid,
    pub(crate) engine_id: String,
    pub(crate) inputs: Vec<Tensor>,
    pub(crate) outputs: Vec<Tensor>,
}

impl Inference {
    /// The JSON every interface prints for an inference.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        json!({
            "modelCid": self.model,
            "engineId": self.engine_id,
            "resultId": result_id(&self.model, &self.inputs, &self.outputs, &self.engine_id).to_string(),
            "outputs": json::tensors_to_json(&self.outputs),
        })
    }
}

/// Runs `bytes` (the model `cid`) on `inputs` with `runtime`.
pub(crate) fn infer_with(
    runtime: &Runtime,
    cid: ModelCid,
    bytes: &[u8],
    inputs: Vec<Tensor>,
) -> Result<Inference> {
    let model = runtime.load(&cid, bytes).with_context(|| format!("loading model {cid}"))?;
    let outputs = runtime.run(&model, &inputs).with_context(|| format!("running model {cid}"))?;
    Ok(Inference { model: cid, engine_id: runtime.engine_id().to_string(), inputs, outputs })
}

/// The text of `--input`: inline JSON when it starts with `{`, stdin for `-`, else a file.
fn read_input_text(arg: &str) -> Result<String> {
    Ok(if arg.trim_start().starts_with('{') {
        arg.to_string()
    } else if arg == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading input from stdin")?
    } else {
        std::fs::read_to_string(Path::new(arg))
            .with_context(|| format!("reading input file {arg}"))?
    })
}

/// Reads `--input` as tensors.
pub(crate) fn read_input(arg: &str) -> Result<Vec<Tensor>> {
    json::parse_input(&read_input_text(arg)?).context("parsing the input")
}

pub(crate) async fn run(settings: &Settings, args: InferArgs, json_mode: bool) -> Result<()> {
    if let Some(mode) = args.mode.clone() {
        return run_on_node(settings, args, mode, json_mode).await;
    }
    let inputs = read_input(&args.input)?;
    let (cid, bytes) = fetch_model(settings, &args.model).await?;
    let inference = if let Some(path) = &args.receipt {
        let signer = settings.signer()?;
        let chain_id = args.chain_id;
        let (inference, receipt) = tokio::task::spawn_blocking(move || {
            let runtime = Runtime::new(RuntimeConfig::default());
            let model =
                runtime.load(&cid, &bytes).with_context(|| format!("loading model {cid}"))?;
            let exec = ogn_verify::execute(&runtime, &model, &inputs)
                .with_context(|| format!("running model {cid}"))?;
            // A job served on its own is numbered by its result id.
            let job = u64::from_be_bytes(exec.result_id.0[..8].try_into().expect("8 bytes"));
            let receipt = ogn_verify::Receipt::self_served(&signer, chain_id, job, cid, &exec, 0);
            let inference = Inference {
                model: cid,
                engine_id: exec.engine_id.clone(),
                inputs,
                outputs: exec.outputs,
            };
            anyhow::Ok((inference, receipt))
        })
        .await
        .context("inference task")??;
        std::fs::write(path, serde_json::to_vec_pretty(&receipt)?)
            .with_context(|| format!("writing receipt {}", path.display()))?;
        inference
    } else {
        tokio::task::spawn_blocking(move || {
            infer_with(&Runtime::new(RuntimeConfig::default()), cid, &bytes, inputs)
        })
        .await
        .context("inference task")??
    };
    if json_mode {
        println!("{}", serde_json::to_string_pretty(&inference.to_json())?);
        return Ok(());
    }
    println!("model   {}", inference.model);
    println!("engine  {}", inference.engine_id);
    for t in &inference.outputs {
        println!("{}", describe(t, args.show));
    }
    let id =
        result_id(&inference.model, &inference.inputs, &inference.outputs, &inference.engine_id);
    println!("result  {id}");
    Ok(())
}

/// `name dtype[shape] = [v0, v1, …]`, at most `show` values.
fn describe(t: &Tensor, show: usize) -> String {
    let values = json::tensor_to_json(t)["values"].as_array().cloned().unwrap_or_default();
    let shown: Vec<String> = values.iter().take(show).map(ToString::to_string).collect();
    let more = if values.len() > show {
        format!(", … ({} values)", values.len())
    } else {
        String::new()
    };
    let kind = match &t.data {
        TensorData::String(_) => "string".to_string(),
        _ => t.dtype().to_string(),
    };
    format!("output  {} {}{:?} = [{}{}]", t.name, kind, t.shape, shown.join(", "), more)
}
