//! `ogn hub serve` and `ogn devnet`: the long-running processes.
//!
//! `ogn devnet` is the network on one machine with no external services: a Model Hub on local files and an
//! inference endpoint, on one HTTP port (default 127.0.0.1:8545), with dev accounts from the dev mnemonic.
//!
//! ```text
//! POST /api/v0/infer   {"model": "<cid | name@version[/file]>", "input": {"x": [[…]]}}
//!                      → {"modelCid", "engineId", "resultId", "outputs"}
//! /api/v0/models…, /api/v0/blobs/{cid}   the hub API (see ogn_hub::api)
//! ```

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::{Context, Result};
use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use clap::{Args, Subcommand};
use futures::StreamExt;
use ogn_hub::{Hub, HubConfig, Resolved};
use ogn_runtime::{Runtime, RuntimeConfig};
use ogn_types::ModelCid;
use serde::Deserialize;

use crate::{config::Settings, infer::infer_with};

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
    /// Largest accepted file, in bytes.
    #[arg(long, default_value_t = 1 << 30)]
    max_file_size: u64,
}

/// Arguments of `ogn devnet`.
#[derive(Debug, Args)]
pub(crate) struct DevnetArgs {
    #[command(flatten)]
    serve: ServeArgs,
    /// Keep the network's files here (default: a fresh temporary directory, removed at exit).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// How many dev accounts to print.
    #[arg(long, default_value_t = 3)]
    accounts: u32,
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

pub(crate) async fn devnet(_settings: &Settings, args: DevnetArgs) -> Result<()> {
    let (_temp, dir) = match &args.state_dir {
        Some(d) => (None, d.clone()),
        None => {
            let t = tempfile::Builder::new().prefix("ogn-devnet-").tempdir()?;
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    let hub = open_hub(&dir.join("hub"), &args.serve).await?;
    let node = Arc::new(Node { hub: hub.clone(), runtime: Runtime::new(RuntimeConfig::default()) });
    let app = ogn_hub::api::router(hub).merge(node_router(node.clone()));
    let listener = bind(args.serve.listen).await?;
    let addr = listener.local_addr()?;
    println!("ogn devnet");
    println!("  state      {}", dir.display());
    println!("  engine     {}", node.runtime.engine_id());
    println!("  mnemonic   {}", crate::config::DEV_MNEMONIC);
    println!("  accounts (dev only, never use for real funds):");
    for i in 0..args.accounts {
        let signer = crate::config::dev_signer(i)?;
        println!("    ({i}) {}  key 0x{}", signer.address(), alloy::hex::encode(signer.to_bytes()));
    }
    println!("listening on http://{addr}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving the devnet")?;
    println!("devnet stopped");
    Ok(())
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

/// What the devnet's inference endpoint needs.
struct Node {
    hub: Arc<Hub>,
    runtime: Runtime,
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
    let cid = match resolve_model(&node.hub, &request.model).await {
        Ok(cid) => cid,
        Err((status, e)) => return error(status, e),
    };
    let bytes = match read_blob(&node.hub, &cid).await {
        Ok(b) => b,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
    };
    let worker = node.clone();
    let result =
        tokio::task::spawn_blocking(move || infer_with(&worker.runtime, cid, &bytes, inputs)).await;
    match result {
        Ok(Ok(inference)) => Json(inference.to_json()).into_response(),
        Ok(Err(e)) => error(StatusCode::UNPROCESSABLE_ENTITY, format!("{e:#}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn resolve_model(hub: &Hub, reference: &str) -> Result<ModelCid, (StatusCode, String)> {
    let not_found = |e: String| (StatusCode::NOT_FOUND, e);
    let (name_version, file) = match reference.split_once('/') {
        Some((nv, f)) => (nv, Some(f)),
        None => (reference, None),
    };
    match hub.resolve(name_version).await.map_err(|e| not_found(e.to_string()))? {
        Resolved::Blob { cid, .. } => Ok(cid),
        Resolved::Version { name, version, files } => {
            let onnx: Vec<_> = files
                .iter()
                .filter(|f| file.map_or(f.filename.ends_with(".onnx"), |want| f.filename == want))
                .collect();
            match onnx.as_slice() {
                [one] => Ok(one.cid),
                [] => Err(not_found(format!("{name}@{version} has no such model file"))),
                _ => Err((
                    StatusCode::BAD_REQUEST,
                    format!(
                        "{name}@{version} has several .onnx files; name one as {name}@{version}/<file>"
                    ),
                )),
            }
        }
    }
}

/// A whole blob, checked against its CID.
async fn read_blob(hub: &Hub, cid: &ModelCid) -> Result<Vec<u8>> {
    let size = hub.blobs().size(cid).await?.with_context(|| format!("blob {cid} is not stored"))?;
    let mut stream = hub.blobs().read_unverified(cid, 0..size).await?;
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk?);
    }
    anyhow::ensure!(cid.matches(&bytes), "stored blob {cid} no longer matches its CID");
    Ok(bytes)
}
