//! `ogn hub serve` and `ogn devnet`: the long-running processes.
//!
//! `ogn devnet` is the whole network on one machine with no external services, the way anvil is for Ethereum:
//! an EVM chain (ogn-chain) with OpenGradient's inference precompile, Ethereum JSON-RPC over HTTP and
//! WebSocket plus REST (ogn-rpc), the Model Hub on local files (ogn-hub) and the model runtime (ogn-runtime), in
//! one process, on one port (default 127.0.0.1:8545), with dev accounts from the dev mnemonic. Its state lives in
//! `<data dir>/devnet` (or `--state-dir`): a restart resumes where it stopped; `--reset` starts from genesis.
//!
//! ```text
//! POST /  (+ WebSocket)   Ethereum JSON-RPC: eth_*, net_*, web3_*, evm_mine, evm_increaseTime
//! /api/v0/models…, /api/v0/blobs/{cid}                   the hub API (ogn_hub::api)
//! POST /api/v0/infer      {"model": "<cid | name@version>", "input": {"x": [[…]]}, "mode": …, "value": …}
//!                         → outputs, result id and receipt. With operators announced (`--operators N` or
//!                         `ogn operator`), the scheduler (ogn_operator::Scheduler) assigns them, records the job
//!                         on chain and verifies it per mode; without, the node runs it itself (VANILLA).
//! POST|GET /api/v0/operators                             operator announcements / the list
//! GET  /api/v0/receipts/{job}, /api/v0/receipts/inference/{id}   receipts of jobs and of on-chain inferences
//! GET  /v1/inference/{id}, /artela-network/artela-rollkit/inference/tx/{id}, /metrics   (ogn_rpc)
//! ```

use std::{future::IntoFuture, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::{Context, Result};
use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use clap::{Args, Subcommand};
use ogn_chain::{Chain, ChainConfig, HubOracle, InferenceOracle, MiningMode};
use ogn_hub::{Hub, HubConfig};
use ogn_runtime::{Runtime, RuntimeConfig};
use serde::Deserialize;

use crate::{config::Settings, infer::Inference};

/// Minimum validator self-bond on a devnet (1,000 OPG; the network default is 10,000).
const DEVNET_MIN_VALIDATOR_BOND: u128 = 1_000 * ogn_ledger::OPG;

/// Subcommands of `ogn hub`.
#[derive(Debug, Subcommand)]
pub(crate) enum HubCommand {
    /// Serve the hub API over HTTP, storing files under the data directory.
    Serve(ServeArgs),
}

/// Where and how to serve.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8545")]
    listen: SocketAddr,
    /// Largest accepted model file, in bytes.
    #[arg(long, default_value_t = 1 << 30)]
    max_file_size: u64,
}

/// Arguments of `ogn devnet`.
#[derive(Debug, Args)]
pub(crate) struct DevnetArgs {
    #[command(flatten)]
    serve: ServeArgs,
    /// Keep the network's state here (default: <data dir>/devnet).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Delete the state first and start again from genesis.
    #[arg(long)]
    reset: bool,
    /// Chain id (EIP-155).
    #[arg(long, default_value_t = ogn_chain::DEFAULT_CHAIN_ID)]
    chain_id: u64,
    /// Produce a block every this many seconds instead of one per transaction.
    #[arg(long)]
    block_time: Option<u64>,
    /// How many dev accounts to print (10 are funded).
    #[arg(long, default_value_t = 3)]
    accounts: usize,
    /// Start this many operator processes (`ogn operator`, dev accounts 1…N, 1,000 OPG bond each) next to
    /// the node; the node's key (dev account 0) registers as the validator that referees disputes.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=9))]
    operators: u32,
    /// The last this many of the `--operators` return wrong results on every job (committed to
    /// consistently): for watching the verification protocol catch, slash and jail them.
    #[arg(long, default_value_t = 0, hide = true)]
    cheating_operators: u32,
}

pub(crate) async fn hub(settings: &Settings, cmd: HubCommand) -> Result<()> {
    let HubCommand::Serve(args) = cmd;
    let dir = settings.data_dir.join("hub");
    let hub = open_hub(&dir, &args).await?;
    let listener = bind(args.listen).await?;
    println!("ogn hub listening on http://{}", listener.local_addr()?);
    println!("data in {}", dir.display());
    ogn_hub::api::serve(listener, hub, shutdown_signal()).await.context("serving the hub")
}

pub(crate) async fn devnet(settings: &Settings, args: DevnetArgs) -> Result<()> {
    let dir = args.state_dir.clone().unwrap_or_else(|| settings.data_dir.join("devnet"));
    if args.reset && dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    let hub = open_hub(&dir.join("hub"), &args.serve).await?;
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()));
    let resolver =
        Arc::new(HubOracle::new(hub.clone(), runtime.clone(), tokio::runtime::Handle::current()));
    let config = ChainConfig {
        chain_id: args.chain_id,
        data_dir: Some(dir.join("chain")),
        mining: args
            .block_time
            .map_or(MiningMode::Auto, |s| MiningMode::Interval(Duration::from_secs(s))),
        staking: devnet_params(),
        ..ChainConfig::default()
    };
    let chain_oracle: Arc<dyn InferenceOracle> = resolver.clone();
    let chain = tokio::task::spawn_blocking(move || Chain::open(config, Some(chain_oracle)))
        .await
        .context("opening the chain")?
        .with_context(|| format!("opening the chain in {}", dir.join("chain").display()))?;

    let listener = bind(args.serve.listen).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let signer = settings.signer()?;
    let loader_hub = hub.clone();
    let loader_runtime = runtime.clone();
    let handle = tokio::runtime::Handle::current();
    let load: ogn_operator::scheduler::ModelLoader = Arc::new(move |cid| {
        let bytes = tokio::task::block_in_place(|| handle.block_on(loader_hub.blobs().get(cid)))
            .map_err(|e| format!("model {cid} could not be read: {e}"))?;
        loader_runtime.load(cid, &bytes).map_err(|e| format!("model {cid}: {e}"))
    });
    // Jobs are numbered from the start time, so numbers stay unique across restarts.
    let first_job = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_millis() as u64);
    let scheduler = Arc::new(ogn_operator::Scheduler::new(
        ogn_operator::SchedulerConfig {
            chain_id: args.chain_id,
            base_price: ogn_ledger::OPG / 1_000,
            default_value: ogn_ledger::OPG / 25,
            job_bond_ppm: devnet_params().job_bond_ppm,
            dispute_wait: Duration::from_secs(120),
            state_dir: Some(dir.join("scheduler")),
        },
        ogn_operator::RpcClient::new(&url, signer.clone()),
        runtime.clone(),
        load,
        first_job,
    ));
    let node = Arc::new(Node {
        chain: chain.clone(),
        resolver,
        hub: hub.clone(),
        runtime: runtime.clone(),
        signer,
        chain_id: args.chain_id,
        next_job: std::sync::atomic::AtomicU64::new(first_job),
        receipts: Default::default(),
        scheduler: scheduler.clone(),
    });
    let app = ogn_rpc::router(chain.clone(), hub, &ogn_rpc::RpcConfig::default())
        .merge(node_router(node));
    print_banner(&chain, &dir, &url, runtime.engine_id(), args.accounts);
    println!("listening on {url}");
    let server = tokio::spawn(
        axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).into_future(),
    );
    let referee = tokio::spawn(scheduler.clone().referee());
    let mut children = Vec::new();
    if args.operators > 0 {
        become_validator(&url, settings).await?;
        children = spawn_operators(&url, &dir, args.operators, args.cheating_operators)?;
    }
    let served = server.await.context("devnet server task")?;
    referee.abort();
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    served.context("serving the devnet")?;
    println!("devnet stopped at block {}", chain.block_number());
    Ok(())
}

/// The devnet's ledger parameters: the network's, except
/// - a dev account holds 10,000 OPG, the network's minimum validator self-bond: it is lowered so a dev account
///   can register a validator and still pay gas;
/// - a job locks 25× its value (so SAMPLING's 5 % floor deters: p·B ≥ (1+γ)·V·(1−p) holds from p ≈ 4.2 %), and
///   its challenge window is 2,000 blocks (blocks come with transactions here, not every few seconds).
fn devnet_params() -> ogn_ledger::Params {
    ogn_ledger::Params {
        min_self_bond_validator: DEVNET_MIN_VALIDATOR_BOND,
        job_bond_ppm: 25 * ogn_ledger::PPM,
        challenge_window_blocks: 2_000,
        ..ogn_ledger::Params::default()
    }
}

/// Registers the node's key as a validator (it referees disputes), unless it already is one.
async fn become_validator(url: &str, settings: &Settings) -> Result<()> {
    use ogn_chain::{IStaking, STAKING_PRECOMPILE};
    let rpc = ogn_operator::RpcClient::new(url, settings.signer()?);
    let info =
        rpc.view(STAKING_PRECOMPILE, IStaking::stakerInfoCall { staker: rpc.address() }).await?;
    if info.exists {
        return Ok(());
    }
    let call = IStaking::createValidatorCall { commissionPpm: 50_000 };
    let mined = rpc
        .send(STAKING_PRECOMPILE, call, alloy::primitives::U256::from(DEVNET_MIN_VALIDATOR_BOND))
        .await?;
    anyhow::ensure!(mined.success, "registering the node's validator failed");
    println!("  validator     {} (referees disputes)", rpc.address());
    Ok(())
}

/// Starts `n` `ogn operator` processes with dev accounts 1…n against this node.
fn spawn_operators(
    url: &str,
    dir: &std::path::Path,
    n: u32,
    cheaters: u32,
) -> Result<Vec<std::process::Child>> {
    let exe = std::env::current_exe().context("locating the ogn binary")?;
    let mut children = Vec::new();
    for i in 1..=n {
        let key = crate::config::dev_signer(i)?;
        // Operators also stop on their own when the node stops answering (e.g. after a SIGKILL).
        let mut command = std::process::Command::new(&exe);
        command.arg("operator").arg("--node").arg(url);
        command.arg("--state-dir").arg(dir.join("operators").join(i.to_string()));
        if i + cheaters > n {
            command.args(["--cheat-ppm", "1000000"]);
        }
        let child = command
            .env("OGN_PRIVATE_KEY", alloy::hex::encode(key.to_bytes()))
            .spawn()
            .with_context(|| format!("starting operator {i}"))?;
        println!("  operator {i}    {} (pid {})", key.address(), child.id());
        children.push(child);
    }
    Ok(children)
}

fn print_banner(chain: &Chain, dir: &std::path::Path, url: &str, engine: &str, accounts: usize) {
    let ws = url.replacen("http", "ws", 1);
    println!("ogn devnet");
    println!("  chain id      {}", chain.chain_id());
    println!("  block         {} (state root {})", chain.block_number(), chain.state_root());
    println!("  JSON-RPC      {url}  (WebSocket {ws})");
    println!("  hub, REST     {url}/api/v0/models  {url}/v1/inference/{{id}}  {url}/metrics");
    println!(
        "  inference     precompile {}, hub contract {}",
        ogn_chain::INFERENCE_PRECOMPILE,
        chain.config().inference_hub
    );
    println!("  engine        {engine}");
    println!("  state         {}", dir.display());
    println!("  mnemonic      {}", crate::config::DEV_MNEMONIC);
    println!("  dev accounts (public test keys, never for real funds):");
    for (i, account) in chain.dev_accounts().iter().take(accounts).enumerate() {
        println!("    ({i}) {}  key {}", account.address, account.private_key);
    }
    println!("  try:");
    println!("    ogn --hub {url} model create my-model");
    println!("    ogn --hub {url} model push my-model model.onnx");
    println!("    ogn --hub {url} infer my-model@1.00 --input '{{\"x\": [[1, 2, 3]]}}'");
    println!(
        "    curl -s {url} -H 'content-type: application/json' \
         -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_blockNumber\",\"params\":[]}}'"
    );
}

async fn open_hub(dir: &std::path::Path, args: &ServeArgs) -> Result<Arc<Hub>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let config = HubConfig { max_file_size: args.max_file_size, ..HubConfig::default() };
    let hub = Hub::open_local(dir, config)
        .await
        .with_context(|| format!("opening the hub in {}", dir.display()))?;
    Ok(Arc::new(hub))
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// What the devnet's inference endpoints need. With no operator registered the node serves each job itself:
/// it runs the model with per-layer evidence and signs a VANILLA receipt with its key.
struct Node {
    chain: Chain,
    resolver: Arc<HubOracle>,
    hub: Arc<Hub>,
    runtime: Arc<Runtime>,
    signer: alloy::signers::local::PrivateKeySigner,
    chain_id: u64,
    next_job: std::sync::atomic::AtomicU64,
    receipts: parking_lot::Mutex<std::collections::HashMap<u64, ogn_verify::Receipt>>,
    scheduler: Arc<ogn_operator::Scheduler>,
}

/// Body of `POST /api/v0/infer`.
#[derive(Debug, Deserialize)]
struct InferRequest {
    model: String,
    input: serde_json::Value,
    /// Verification mode: `vanilla`, `sampling`, `replicas`, or a mode byte (see ogn-verify's table).
    #[serde(default)]
    mode: Option<serde_json::Value>,
    /// Declared value of the job in OPG (sizes the bond each operator locks); default 1.
    #[serde(default)]
    value: Option<String>,
}

/// The mode a request names.
fn parse_mode(v: Option<&serde_json::Value>) -> Result<ogn_verify::Mode, String> {
    use ogn_verify::Mode;
    let byte = match v {
        None => 0,
        Some(serde_json::Value::Number(n)) => n
            .as_u64()
            .and_then(|b| u8::try_from(b).ok())
            .ok_or_else(|| format!("mode {n} is not a byte"))?,
        Some(serde_json::Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "vanilla" => 0,
            "zkml" => 1,
            "tee" => 2,
            "sampling" => 3,
            "replicas" => 4,
            other => other.parse::<u8>().map_err(|_| format!("unknown mode `{s}`"))?,
        },
        Some(other) => return Err(format!("mode must be a name or a byte, not {other}")),
    };
    Mode::from_byte(byte).map_err(|e| e.to_string())
}

fn node_router(node: Arc<Node>) -> Router {
    Router::new()
        .route("/api/v0/infer", post(infer_handler))
        .route("/api/v0/operators", post(announce_handler).get(operators_handler))
        .route("/api/v0/receipts/{job}", axum::routing::get(receipt_handler))
        .route("/api/v0/receipts/inference/{id}", axum::routing::get(inference_receipt_handler))
        .layer(DefaultBodyLimit::max(64 << 20))
        .with_state(node)
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(serde_json::json!({ "error": message.to_string() }))).into_response()
}

async fn announce_handler(
    State(node): State<Arc<Node>>,
    Json(announce): Json<ogn_operator::wire::Announce>,
) -> Response {
    match node.scheduler.announce(announce).await {
        Ok(()) => Json(serde_json::json!({"ok": true})).into_response(),
        Err(e) => error(StatusCode::FORBIDDEN, format!("{e:#}")),
    }
}

async fn operators_handler(State(node): State<Arc<Node>>) -> Response {
    Json(node.scheduler.operators()).into_response()
}

/// A job for the registered operators: assigned, executed, recorded on chain and verified per its mode.
async fn scheduled_infer(node: &Node, request: InferRequest, mode: ogn_verify::Mode) -> Response {
    let value = match request.value.as_deref().map(crate::operator::opg_to_wei).transpose() {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("value: {e:#}")),
    };
    let resolver = node.resolver.clone();
    let name = request.model.clone();
    let cid = match tokio::task::spawn_blocking(move || resolver.resolve(&name)).await {
        Ok(Ok(cid)) => cid,
        Ok(Err(e)) => return error(StatusCode::UNPROCESSABLE_ENTITY, e),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    match node.scheduler.infer(cid, request.input, mode, value).await {
        Ok(settled) => {
            let job = settled.receipt.job;
            Json(serde_json::json!({
                "modelCid": cid,
                "engineId": settled.receipt.engine_id,
                "resultId": settled.receipt.result_id,
                "outputs": settled.outputs,
                "job": job,
                "disputes": settled.disputes,
                "receipt": settled.receipt,
            }))
            .into_response()
        }
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, format!("{e:#}")),
    }
}

async fn infer_handler(
    State(node): State<Arc<Node>>,
    Json(request): Json<InferRequest>,
) -> Response {
    let mode = match parse_mode(request.mode.as_ref()) {
        Ok(m) => m,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    if node.scheduler.has_operators() {
        return scheduled_infer(&node, request, mode).await;
    }
    if mode != ogn_verify::Mode::Vanilla {
        return error(
            StatusCode::CONFLICT,
            format!(
                "{mode} needs registered inference operators (start `ogn devnet --operators 3`)"
            ),
        );
    }
    let inputs = match ogn_types::json::tensors_from_json(&request.input) {
        Ok(t) => t,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("input: {e}")),
    };
    let handle = tokio::runtime::Handle::current();
    let result = tokio::task::spawn_blocking(move || {
        let cid = node.resolver.resolve(&request.model)?;
        let bytes = handle
            .block_on(node.hub.blobs().get(&cid))
            .map_err(|e| format!("model {cid} could not be read: {e}"))?;
        let model = node.runtime.load(&cid, &bytes).map_err(|e| format!("model {cid}: {e}"))?;
        let exec =
            ogn_verify::execute(&node.runtime, &model, &inputs).map_err(|e| e.to_string())?;
        let job = node.next_job.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let receipt =
            ogn_verify::Receipt::self_served(&node.signer, node.chain_id, job, cid, &exec, 0);
        node.receipts.lock().insert(job, receipt.clone());
        let inference = Inference {
            model: cid,
            engine_id: exec.engine_id.clone(),
            inputs,
            outputs: exec.outputs,
        };
        Ok::<_, String>((inference, receipt))
    })
    .await;
    let result = result.map(|r| {
        r.map(|(inference, receipt)| {
            let mut body = inference.to_json();
            body["receipt"] = serde_json::to_value(&receipt).unwrap_or_default();
            body
        })
    });
    match result {
        Ok(Ok(body)) => Json(body).into_response(),
        Ok(Err(reason)) => error(StatusCode::UNPROCESSABLE_ENTITY, reason),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn receipt_handler(
    State(node): State<Arc<Node>>,
    axum::extract::Path(job): axum::extract::Path<u64>,
) -> Response {
    let served_here = node.receipts.lock().get(&job).cloned();
    match served_here.or_else(|| node.scheduler.receipt(job)) {
        Some(r) => Json(r).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no receipt for job {job}")),
    }
}

/// `GET /api/v0/receipts/inference/{id}`: a receipt for an inference made in a transaction (precompile or
/// Inference hub contract). The node re-runs the recorded input with per-layer evidence, checks that it
/// reproduces the recorded output, and signs a VANILLA receipt naming the block and transaction.
async fn inference_receipt_handler(
    State(node): State<Arc<Node>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let Ok(id) = id.parse::<alloy::primitives::B256>() else {
        return error(StatusCode::BAD_REQUEST, format!("`{id}` is not a 32-byte inference id"));
    };
    let handle = tokio::runtime::Handle::current();
    let result = tokio::task::spawn_blocking(move || {
        let entry = node
            .chain
            .inference_record(id)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
            .ok_or((StatusCode::NOT_FOUND, format!("no inference {id} on chain")))?;
        let record = &entry.record;
        let unprocessable = |e: String| (StatusCode::UNPROCESSABLE_ENTITY, e);
        let (Some(cid), None) = (&record.model_cid, &record.error) else {
            return Err(unprocessable(format!(
                "inference {id} failed; it has no result to attest"
            )));
        };
        let cid: ogn_types::ModelCid = cid.parse().map_err(|e| unprocessable(format!("{e}")))?;
        let inputs = record.input_tensors().map_err(unprocessable)?;
        let bytes = handle
            .block_on(node.hub.blobs().get(&cid))
            .map_err(|e| unprocessable(format!("model {cid} could not be read: {e}")))?;
        let model = node.runtime.load(&cid, &bytes).map_err(|e| unprocessable(e.to_string()))?;
        let exec = ogn_verify::execute(&node.runtime, &model, &inputs)
            .map_err(|e| unprocessable(e.to_string()))?;
        // The result id binds model, inputs, the engine's outputs and engine (the recorded outputs are their
        // ABI decimals).
        if exec.result_id != record.result_id {
            return Err((
                StatusCode::CONFLICT,
                format!(
                    "re-running inference {id} here gives result {} (engine {}), not the recorded one",
                    exec.result_id, exec.engine_id
                ),
            ));
        }
        let job = u64::from_be_bytes(record.result_id.0[..8].try_into().expect("8 bytes"));
        let mut receipt =
            ogn_verify::Receipt::self_served(&node.signer, node.chain_id, job, cid, &exec, 0);
        receipt.inclusion = Some(ogn_verify::Inclusion {
            block_number: entry.block_number,
            block_hash: entry.block_hash,
            tx_hash: entry.tx_hash,
        });
        Ok(receipt)
    })
    .await;
    match result {
        Ok(Ok(receipt)) => Json(receipt).into_response(),
        Ok(Err((status, message))) => error(status, message),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}
