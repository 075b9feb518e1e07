//! One port for everything: jsonrpsee answers `POST /` (HTTP JSON-RPC) and WebSocket upgrades on `GET /`;
//! axum answers every other path (REST, hub, metrics).
//!
//! jsonrpsee's server is used as a tower service ([`jsonrpsee::server::Server::builder`] →
//! `to_service_builder()`), built per request so that every HTTP request and every WebSocket connection gets
//! its own connection id, and stopped through its [`ServerHandle`] (which closes open WebSocket connections).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{
    BatchRequestConfig, Methods, Server, ServerConfig, ServerHandle, StopHandle,
    TowerServiceBuilder, stop_channel,
};
use tower::Service;
use tower::layer::util::{Identity, Stack};

use crate::RpcConfig;
use crate::metrics::RpcMetricsLayer;

type RpcMiddleware = Stack<RpcMetricsLayer, Identity>;

/// What the JSON-RPC route needs to build a jsonrpsee service for one request.
#[derive(Debug, Clone)]
pub(crate) struct RpcEndpoint {
    builder: TowerServiceBuilder<RpcMiddleware, Identity>,
    methods: Methods,
    stop: StopHandle,
    /// Held by routers that own their server handle (see [`crate::router`]): dropping the last clone of the
    /// router stops the WebSocket connections.
    _owner: Option<ServerHandle>,
}

impl RpcEndpoint {
    /// An endpoint for `methods` and the handle that stops it.
    pub(crate) fn new(methods: Methods, config: &RpcConfig) -> (Self, ServerHandle) {
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
        (Self { builder, methods, stop, _owner: None }, handle)
    }

    /// The same endpoint, keeping `handle` alive as long as any clone of it lives.
    pub(crate) fn owning(mut self, handle: ServerHandle) -> Self {
        self._owner = Some(handle);
        self
    }
}

/// The axum handler for `/`: hands the request to jsonrpsee (which may upgrade it to a WebSocket).
pub(crate) async fn handle(State(endpoint): State<RpcEndpoint>, request: Request) -> Response {
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
