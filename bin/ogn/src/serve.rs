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
//! POST /api/v0/infer      {"model": "<cid | name@version>", "input": {"x": [[…]]}} → outputs and result id
//!                         (runs the model off-chain, as pre-execution would; nothing is recorded)
//! GET  /v1/inference/{id}, /artela-network/artela-rollkit/inference/tx/{id}, /metrics   (ogn_rpc)
//! ```

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

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
        // A dev account holds 10,000 OPG, the network's minimum validator self-bond: lower it on a devnet so a
        // dev account can register a validator and still pay gas.
        staking: ogn_ledger::Params {
            min_self_bond_validator: DEVNET_MIN_VALIDATOR_BOND,
            ..ogn_ledger::Params::default()
        },
        ..ChainConfig::default()
    };
    let chain_oracle: Arc<dyn InferenceOracle> = resolver.clone();
    let chain = tokio::task::spawn_blocking(move || Chain::open(config, Some(chain_oracle)))
        .await
        .context("opening the chain")?
        .with_context(|| format!("opening the chain in {}", dir.join("chain").display()))?;

    let node = Arc::new(Node {
        resolver,
        hub: hub.clone(),
        runtime: runtime.clone(),
        signer: settings.signer()?,
        chain_id: args.chain_id,
        // Jobs served by the node are numbered from the start time, so numbers stay unique across restarts.
        next_job: std::sync::atomic::AtomicU64::new(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_millis() as u64),
        ),
        receipts: Default::default(),
    });
    let app = ogn_rpc::router(chain.clone(), hub, &ogn_rpc::RpcConfig::default())
        .merge(node_router(node));
    let listener = bind(args.serve.listen).await?;
    let url = format!("http://{}", listener.local_addr()?);
    print_banner(&chain, &dir, &url, runtime.engine_id(), args.accounts);
    println!("listening on {url}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving the devnet")?;
    println!("devnet stopped at block {}", chain.block_number());
    Ok(())
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

async fn shutdown_signal() {
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
    resolver: Arc<HubOracle>,
    hub: Arc<Hub>,
    runtime: Arc<Runtime>,
    signer: alloy::signers::local::PrivateKeySigner,
    chain_id: u64,
    next_job: std::sync::atomic::AtomicU64,
    receipts: parking_lot::Mutex<std::collections::HashMap<u64, ogn_verify::Receipt>>,
}

/// Body of `POST /api/v0/infer`.
#[derive(Debug, Deserialize)]
struct InferRequest {
    model: String,
    input: serde_json::Value,
}

fn node_router(node: Arc<Node>) -> Router {
    Router::new()
        .route("/api/v0/infer", post(infer_handler))
        .route("/api/v0/receipts/{job}", axum::routing::get(receipt_handler))
        .layer(DefaultBodyLimit::max(64 << 20))
        .with_state(node)
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(serde_json::json!({ "error": message.to_string() }))).into_response()
}

async fn infer_handler(
    State(node): State<Arc<Node>>,
    Json(request): Json<InferRequest>,
) -> Response {
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
    match node.receipts.lock().get(&job) {
        Some(r) => Json(r).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no receipt for job {job}")),
    }
}
