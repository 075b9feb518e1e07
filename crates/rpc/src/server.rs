//! One port for everything: jsonrpsee answers `POST /` (HTTP JSON-RPC) and WebSocket upgrades on `GET /`;
//! axum answers every other path (REST, hub, metrics).
//!
//! jsonrpsee's server is used as a tower service ([`jsonrpsee::server::Server::builder`] →
//! `to_service_builder()`), built per request so that every HTTP request and every WebSocket connection gets
//! its own connection id, and stopped through its [`ServerHandle`] (which closes open WebSocket connections).
//!
//! One call is answered before jsonrpsee: a single `eth_sendRawTransaction` request (not a batch, not a
//! notification) whose body and parameter parse cleanly. Transaction submission is the hot path of a
//! devnet under load, and jsonrpsee's per-request service, method table look-up and boxed futures cost about
//! as much as accepting a transfer does besides its signature. The call runs the same method
//! ([`EthApiServer::send_raw_transaction`]) and writes its answer with jsonrpsee's own types, so the reply is
//! the one jsonrpsee would give; anything else (or anything that does not parse) goes to jsonrpsee as it came.

use std::time::Instant;

use alloy::primitives::Bytes;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jsonrpsee::server::http::{is_json, response::ok_response};
use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{
    BatchRequestConfig, Methods, Server, ServerConfig, ServerHandle, StopHandle,
    TowerServiceBuilder, stop_channel,
};
use jsonrpsee::types::{Id, ResponsePayload};
use tower::Service;
use tower::layer::util::{Identity, Stack};

use crate::RpcConfig;
use crate::api::EthApiServer;
use crate::eth::EthRpc;
use crate::metrics::{RpcMetricsLayer, method_label, record_call};

type RpcMiddleware = Stack<RpcMetricsLayer, Identity>;

/// What the JSON-RPC route needs to build a jsonrpsee service for one request.
#[derive(Debug, Clone)]
pub(crate) struct RpcEndpoint {
    builder: TowerServiceBuilder<RpcMiddleware, Identity>,
    methods: Methods,
    /// Answers the calls taken before jsonrpsee ([`direct`]).
    eth: EthRpc,
    /// Largest request body [`direct`] reads (at most the server's request limit).
    direct_max_body: usize,
    stop: StopHandle,
    /// Held by routers that own their server handle (see [`crate::router`]): dropping the last clone of the
    /// router stops the WebSocket connections.
    _owner: Option<ServerHandle>,
}

impl RpcEndpoint {
    /// An endpoint for `methods` and the handle that stops it.
    pub(crate) fn new(eth: EthRpc, config: &RpcConfig) -> (Self, ServerHandle) {
        let methods = eth.clone().into_methods();
        let (stop, handle) = stop_channel();
        let server_config = ServerConfig::builder()
            .max_request_body_size(config.max_request_body_bytes)
            .max_response_body_size(config.max_response_body_bytes)
            .max_connections(config.max_connections)
            .max_subscriptions_per_connection(config.max_subscriptions_per_connection)
            .set_batch_request_config(BatchRequestConfig::Limit(config.max_batch_len))
            .build();
        let builder = Server::builder()
            .set_config(server_config)
            .set_rpc_middleware(RpcServiceBuilder::new().layer(RpcMetricsLayer))
            .to_service_builder();
        let direct_max_body = DIRECT_MAX_BODY.min(config.max_request_body_bytes as usize);
        (Self { builder, methods, eth, direct_max_body, stop, _owner: None }, handle)
    }

    /// The same endpoint, keeping `handle` alive as long as any clone of it lives.
    pub(crate) fn owning(mut self, handle: ServerHandle) -> Self {
        self._owner = Some(handle);
        self
    }
}

/// The axum handler for `/`: hands the request to jsonrpsee (which may upgrade it to a WebSocket).
pub(crate) async fn handle(State(endpoint): State<RpcEndpoint>, request: Request) -> Response {
    let request = match direct(&endpoint, request).await {
        Ok(response) => return response,
        Err(request) => request,
    };
    let mut service =
        endpoint.builder.clone().build(endpoint.methods.clone(), endpoint.stop.clone());
    match service.call(request).await {
        Ok(response) => response.map(Body::new),
        Err(e) => {
            tracing::warn!("json-rpc transport error: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, format!("json-rpc transport error: {e}"))
                .into_response()
        }
    }
}

/// Largest request body [`direct`] reads itself: a transaction of up to 128 KiB as hex, with room.
const DIRECT_MAX_BODY: usize = 320 * 1024;

/// Answers a single `eth_sendRawTransaction` call without jsonrpsee (see the module docs); gives the
/// request back, body intact, for anything else.
async fn direct(endpoint: &RpcEndpoint, request: Request) -> Result<Response, Request> {
    let length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    // Only a body of known, small length is read here; jsonrpsee applies its own limits to the rest.
    if request.method() != Method::POST
        || !is_json(request.headers().get(header::CONTENT_TYPE))
        || length.is_none_or(|n| n > endpoint.direct_max_body)
    {
        return Err(request);
    }
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, endpoint.direct_max_body).await {
        Ok(body) => body,
        Err(e) => {
            tracing::debug!("json-rpc request body: {e}");
            return Ok((StatusCode::BAD_REQUEST, "cannot read the request body").into_response());
        }
    };
    let Some((id, raw)) = send_raw_transaction_call(&body) else {
        return Err(Request::from_parts(parts, Body::from(body)));
    };
    let started = Instant::now();
    let result = endpoint.eth.send_raw_transaction(raw).await;
    let code = result.as_ref().err().map(|e| e.code());
    let payload = match result {
        Ok(hash) => ResponsePayload::success(hash),
        Err(e) => ResponsePayload::error(e),
    };
    let answer = match serde_json::to_string(&jsonrpsee::types::Response::new(payload, id)) {
        Ok(answer) => answer,
        Err(e) => {
            return Ok((StatusCode::INTERNAL_SERVER_ERROR, format!("json-rpc response: {e}"))
                .into_response());
        }
    };
    record_call(method_label(SEND_RAW_TRANSACTION), started, code);
    Ok(ok_response(answer).map(Body::new))
}

const SEND_RAW_TRANSACTION: &str = "eth_sendRawTransaction";

/// The id and transaction of `body` when it is one `eth_sendRawTransaction` call (with an id) whose
/// parameter parses as jsonrpsee would parse it.
fn send_raw_transaction_call(body: &[u8]) -> Option<(Id<'static>, Bytes)> {
    let call: jsonrpsee::types::Request<'_> = serde_json::from_slice(body).ok()?;
    if call.method_name() != SEND_RAW_TRANSACTION {
        return None;
    }
    let raw: Bytes = call.params().sequence().next().ok()?;
    Some((call.id.into_owned(), raw))
}
