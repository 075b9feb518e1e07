//! Prometheus metrics at `GET /metrics`.
//!
//! Metrics are recorded through the [`metrics`] facade, so any crate in the process (chain, runtime) records
//! with `metrics::counter!`/`histogram!` without depending on this one; this module installs the process-wide
//! Prometheus recorder once and renders it. Recorded here:
//!
//! | metric                              | kind      | labels           | meaning                                   |
//! |-------------------------------------|-----------|------------------|-------------------------------------------|
//! | `ogn_rpc_requests_total`            | counter   | `method`         | JSON-RPC calls answered                   |
//! | `ogn_rpc_errors_total`              | counter   | `method`, `code` | JSON-RPC calls answered with an error     |
//! | `ogn_rpc_request_duration_seconds`  | histogram | `method`         | time to answer one call                   |
//! | `ogn_rpc_transactions_submitted_total` | counter | `method`        | transactions accepted into the chain     |
//! | `ogn_chain_height`                  | gauge     |                  | head block number (read at scrape)        |
//! | `ogn_txpool_pending`                | gauge     |                  | accepted transactions not yet in a block (read at scrape) |
//!
//! Inference (`ogn_inference_*`) and model cache (`ogn_model_cache_*`) metrics appear here as soon as the
//! crates that run models record them through the same facade; nothing in this crate needs to change.
//!
//! Histograms are exported with buckets (not summaries) so that rates and quantiles aggregate across scrapes.

use std::sync::OnceLock;
use std::time::Instant;

use jsonrpsee::core::middleware::{Batch, Notification, RpcServiceT};
use jsonrpsee::server::MethodResponse;
use jsonrpsee::types::Request;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower::Layer;

/// Bucket bounds (seconds) for every histogram: from 100 µs (an RPC read) to 2 min (a large inference).
const BUCKETS: &[f64] = &[
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    120.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder as the process's `metrics` recorder (once) and returns its handle; `None`
/// when another recorder was installed first (then `/metrics` answers 503 saying so).
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets(BUCKETS).ok()?;
            match builder.install_recorder() {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::warn!("metrics: {e}; /metrics will be unavailable");
                    None
                }
            }
        })
        .clone()
}

/// Describes the metrics recorded here, so the exposition carries `# HELP` lines.
pub(crate) fn describe() {
    metrics::describe_counter!("ogn_rpc_requests_total", "JSON-RPC calls answered, by method");
    metrics::describe_counter!("ogn_rpc_errors_total", "JSON-RPC calls answered with an error");
    metrics::describe_histogram!(
        "ogn_rpc_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to answer one JSON-RPC call"
    );
    metrics::describe_counter!(
        "ogn_rpc_transactions_submitted_total",
        "Transactions accepted through eth_sendRawTransaction or eth_sendTransaction"
    );
    metrics::describe_gauge!("ogn_chain_height", "Head block number");
    metrics::describe_counter!(
        "ogn_inference_jobs_total",
        "Model runs during pre-execution and direct inference, by status"
    );
    metrics::describe_histogram!(
        "ogn_inference_duration_seconds",
        metrics::Unit::Seconds,
        "Time to resolve, load and run a model, by status"
    );
    metrics::describe_gauge!(
        "ogn_model_cache_bytes",
        "Memory estimate of the cached optimized models"
    );
    metrics::describe_gauge!("ogn_model_cache_models", "Models in the cache of optimized models");
    metrics::describe_gauge!("ogn_txpool_pending", "Accepted transactions not yet in a block");
}

/// jsonrpsee middleware that counts and times every call ([`RpcMetrics`] wraps the inner service).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RpcMetricsLayer;

impl<S> Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics { inner }
    }
}

/// The service [`RpcMetricsLayer`] builds.
#[derive(Debug, Clone)]
pub(crate) struct RpcMetrics<S> {
    inner: S,
}

/// The method label: known names as they are, anything else as `other` (so a client cannot grow the label set).
pub(crate) fn method_label(name: &str) -> String {
    let known = name.len() <= 48
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && ["eth_", "net_", "web3_", "evm_"].iter().any(|p| name.starts_with(p));
    if known { name.to_string() } else { "other".to_string() }
}

/// Counts and times one answered call of `method` (a [`method_label`]) that started at `started`.
pub(crate) fn record_call(method: String, started: Instant, error_code: Option<i32>) {
    let elapsed = started.elapsed().as_secs_f64();
    metrics::counter!("ogn_rpc_requests_total", "method" => method.clone()).increment(1);
    metrics::histogram!("ogn_rpc_request_duration_seconds", "method" => method.clone())
        .record(elapsed);
    if let Some(code) = error_code {
        metrics::counter!("ogn_rpc_errors_total", "method" => method, "code" => code.to_string())
            .increment(1);
    }
}

impl<S> RpcServiceT for RpcMetrics<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(
        &self,
        request: Request<'a>,
    ) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        let inner = self.inner.clone();
        let method = method_label(request.method_name());
        async move {
            let started = Instant::now();
            let response = inner.call(request).await;
            record_call(method, started, response.as_error_code());
            response
        }
    }

    fn batch<'a>(
        &self,
        requests: Batch<'a>,
    ) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        metrics::counter!("ogn_rpc_requests_total", "method" => "batch").increment(1);
        self.inner.batch(requests)
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.inner.notification(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_labels_are_bounded() {
        assert_eq!(method_label("eth_getLogs"), "eth_getLogs");
        assert_eq!(method_label("evm_mine"), "evm_mine");
        assert_eq!(method_label("eth_x\"}"), "other");
        assert_eq!(method_label("debug_traceTransaction"), "other");
        assert_eq!(method_label(&format!("eth_{}", "a".repeat(100))), "other");
    }
}
