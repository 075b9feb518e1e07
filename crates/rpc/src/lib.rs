//! The node's API server: Ethereum JSON-RPC (HTTP and WebSocket), REST and Prometheus metrics, on one port.
//!
//! ```text
//!                       ┌─ POST /            ─► jsonrpsee (HTTP JSON-RPC) ─┐
//!  TCP ─► axum Router ──┼─ GET / + Upgrade   ─► jsonrpsee (WebSocket)     ─┼─► eth::EthRpc ─► ogn_chain::Chain
//!                       ├─ GET /v1/inference/{id}                         ─┤   (eth_, net_, web3_, evm_)
//!                       ├─ GET /artela-network/artela-rollkit/inference/tx/{id} (OpenGradient SDK fallback)
//!                       ├─ GET /metrics      ─► Prometheus text (metrics::install)
//!                       └─ /api/v0/…         ─► ogn_hub::api::router (models, versions, files, blobs)
//! ```
//!
//! # Routes
//! - `POST /`, and WebSocket on `GET /`: JSON-RPC 2.0, single calls and batches (up to
//!   [`RpcConfig::max_batch_len`]). Subscriptions (`eth_subscribe`) need the WebSocket.
//! - `GET /v1/inference/{id}`: one inference record ([`rest`]), by its `inferenceID` (the result id in hex).
//! - `GET /artela-network/artela-rollkit/inference/tx/{id}`: the same result in the shape OpenGradient's SDK
//!   polls when an `InferenceResult` event carries no output ([`rest::sdk`]).
//! - `GET /metrics`: Prometheus text exposition ([`metrics`]).
//! - everything under `/api/v0/`: the model hub.
//!
//! # Namespaces ([`api`], implemented in [`eth`])
//! - `eth_`: `chainId`, `blockNumber`, `syncing`, `accounts`, `getBalance`, `getTransactionCount` (with
//!   `pending`), `getCode`, `getStorageAt`, `gasPrice`, `maxPriorityFeePerGas`, `feeHistory`, `call`,
//!   `estimateGas`, `sendRawTransaction`, `sendTransaction`, `sign`, `getTransactionByHash`,
//!   `getTransactionReceipt`, `getBlockByNumber`, `getBlockByHash`, `getLogs`, `subscribe`/`unsubscribe`
//!   (`newHeads`, `logs`).
//! - `net_`: `version`, `listening`, `peerCount`. `web3_`: `clientVersion`, `sha3`.
//! - `evm_`: `mine` (optional block count), `increaseTime` (test helpers, as in hardhat and anvil).
//!
//! `eth_sendRawTransaction` answers once the transaction is accepted (as geth and anvil do), before its
//! block is written and synced, so concurrent senders share blocks and disk syncs. With auto mining, a
//! receipt query for a transaction still in the pool waits for its block, and reads of the latest state
//! or blocks first wait for every transaction accepted before them (at most a few seconds): a client
//! reads back what it sent, as from a node whose send waits for the block, and a receipt is only ever
//! answered once its block is durable.
//!
//! # Errors ([`error`])
//! Clients parse error codes and messages, so they follow geth: `3` with `data` = revert bytes and message
//! `execution reverted: <reason>` for reverts; `-32000` with the chain's geth-worded message for transaction
//! pool and execution errors (`nonce too low: …`, `insufficient funds for gas * price + value: …`,
//! `invalid chain id for signer: …`, `transaction underpriced: …`, `exceeds block gas limit`, `already
//! known`, undecodable bytes, bad signatures); `-32602` for malformed parameters (bad hex, unknown tag, wrong
//! types); `-32005` for queries over a limit; `-32603` for storage failures. See [`eth`] for the whole table.
//!
//! # Invariants
//! - No request can stop the server: every failure is a JSON-RPC error or an HTTP status, request bodies are
//!   bounded ([`RpcConfig::max_request_body_bytes`]), and `eth_getLogs` refuses a block range over
//!   [`params::LogLimits::max_block_range`] before reading a block, and a result over
//!   [`params::LogLimits::max_results`] with the range to retry with.
//! - Block tags mean the same everywhere: `latest`, `pending`, `safe`, `finalized` are the head (a devnet
//!   seals a block per transaction and finalizes at once), `earliest` is block 0 ([`params::resolve_tag`]
//!   for log ranges; the chain applies the same rule to state and block lookups, with `pending` also
//!   counting accepted transactions in nonces).

pub mod api;
pub mod error;
pub mod eth;
pub mod metrics;
pub mod params;
pub mod rest;
mod server;

use std::future::Future;
use std::io;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use jsonrpsee::server::ServerHandle;
use ogn_chain::Chain;
use ogn_hub::Hub;

pub use eth::EthRpc;
pub use params::LogLimits;

use crate::server::RpcEndpoint;

/// The server's limits.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// Largest JSON-RPC request body (HTTP) or message (WebSocket), in bytes. Default 10 MiB (a transaction
    /// is at most 128 KiB; batches need more).
    pub max_request_body_bytes: u32,
    /// Largest JSON-RPC response, in bytes. Default 100 MiB.
    pub max_response_body_bytes: u32,
    /// Most open connections (HTTP requests in flight plus WebSockets). Default 1000.
    pub max_connections: u32,
    /// Most subscriptions on one WebSocket connection. Default 1024.
    pub max_subscriptions_per_connection: u32,
    /// Most calls in one batch. Default 1000.
    pub max_batch_len: u32,
    /// `eth_getLogs` limits.
    pub log_limits: LogLimits,
    /// Most blocks one `eth_feeHistory` covers (geth: 1024).
    pub max_fee_history_blocks: u64,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            max_request_body_bytes: 10 * 1024 * 1024,
            max_response_body_bytes: 100 * 1024 * 1024,
            max_connections: 1000,
            max_subscriptions_per_connection: 1024,
            max_batch_len: 1000,
            log_limits: LogLimits::default(),
            max_fee_history_blocks: 1024,
        }
    }
}

fn build(
    chain: Chain,
    hub: Arc<Hub>,
    config: &RpcConfig,
    own_handle: bool,
) -> (Router, ServerHandle) {
    let metrics = metrics::install();
    metrics::describe();
    let rpc = EthRpc::new(chain.clone(), config.clone());
    let (mut endpoint, handle) = RpcEndpoint::new(rpc, config);
    if own_handle {
        endpoint = endpoint.owning(handle.clone());
    }
    let rpc_routes =
        Router::new().route("/", get(server::handle).post(server::handle)).with_state(endpoint);
    let router = rpc_routes.merge(rest::router(chain, metrics)).merge(ogn_hub::api::router(hub));
    (router, handle)
}

/// Every route on one router: JSON-RPC on `/` (HTTP and WebSocket), REST, `/metrics`, and the hub API.
///
/// WebSocket connections made through this router close when the last clone of the router is dropped; use
/// [`serve`] to close them at a chosen moment.
pub fn router(chain: Chain, hub: Arc<Hub>, config: &RpcConfig) -> Router {
    build(chain, hub, config, true).0
}

/// Serves [`router`] on `listener` until `shutdown` completes, then closes WebSocket connections and waits
/// for HTTP requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    chain: Chain,
    hub: Arc<Hub>,
    config: RpcConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (router, handle) = build(chain, hub, &config, false);
    let stopper = handle.clone();
    let result = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Close WebSockets too: axum's graceful shutdown does not see upgraded connections.
            let _ = stopper.stop();
        })
        .await;
    let _ = handle.stop();
    result
}
