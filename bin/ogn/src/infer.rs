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

/// Reads `--input`: inline JSON when it starts with `{`, stdin for `-`, else a file.
pub(crate) fn read_input(arg: &str) -> Result<Vec<Tensor>> {
    let text = if arg.trim_start().starts_with('{') {
        arg.to_string()
    } else if arg == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading input from stdin")?
    } else {
        std::fs::read_to_string(Path::new(arg))
            .with_context(|| format!("reading input file {arg}"))?
    };
    json::parse_input(&text).context("parsing the input")
}

pub(crate) async fn run(settings: &Settings, args: InferArgs, json_mode: bool) -> Result<()> {
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
