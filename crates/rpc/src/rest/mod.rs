//! REST routes beside JSON-RPC: inference results and Prometheus metrics.
//!
//! - `GET /v1/inference/{id}`: the record pre-execution made of one inference, by its `inferenceID` (the
//!   `0x`-hex result id the precompile's `ModelInferenceEvent` carries):
//!   ```json
//!   {"inferenceId": "0x…", "resultId": "0x…", "model": "name@1.00", "modelCid": "bafkrei…", "mode": 0,
//!    "engineId": "tract-0.23.9/…", "input": {"x": {"dtype", "shape", "values"}}, "output": {…},
//!    "isSimulationResult": false, "error": null, "work": 101632, "gas": 27352,
//!    "blockNumber": 7, "blockHash": "0x…", "transactionHash": "0x…", "transactionIndex": 0}
//!   ```
//!   `input`/`output` are the tensors in ogn's printed JSON form ([`ogn_types::json`]).
//! - `GET /artela-network/artela-rollkit/inference/tx/{id}`: the same output in OpenGradient's shape
//!   ([`sdk`]).
//! - `GET /metrics`: Prometheus text ([`crate::metrics`]).
//! - `GET /v1/staking`: the staking figures a delegator asks about, at the head — network-wide (total bonded,
//!   nominal yield, **yield from fees alone**, subsidy ratio, incentive pool and its runway, stOPG rate and
//!   exit queue) and per validator/operator (stake, commission, jailed, delegators, rewards to delegators and
//!   commission by source, the delegators' yield annualized over the chain's life — all sources and fees
//!   alone — and the share paid by emissions). The same numbers as the staking precompile's `networkStats` / `stakerInfo` views; amounts in wei
//!   as decimal strings, rates in parts per million.
//!
//! Errors are `{"error": "<what is wrong>"}` with 400 (malformed id), 404 (unknown id, or an inference that
//! failed and has no output, for the SDK path), 500 (storage) or 503 (metrics recorder unavailable).

pub mod sdk;

use alloy::primitives::B256;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use ogn_chain::{Chain, InferenceEntry};
use serde_json::{Value, json};

/// Path of OpenGradient's result endpoint, as its SDK builds it.
pub const SDK_RESULT_PATH: &str = "/artela-network/artela-rollkit/inference/tx/{id}";

#[derive(Debug, Clone)]
struct RestState {
    chain: Chain,
    metrics: Option<PrometheusHandle>,
}

/// The REST routes over `chain`; `metrics` is the recorder's handle (see [`crate::metrics::install`]).
pub fn router(chain: Chain, metrics: Option<PrometheusHandle>) -> Router {
    Router::new()
        .route("/v1/inference/{id}", get(inference))
        .route(SDK_RESULT_PATH, get(sdk_inference))
        .route("/metrics", get(prometheus))
        .route("/v1/staking", get(staking))
        .with_state(RestState { chain, metrics })
}

/// A REST error: a status and `{"error": message}`.
#[derive(Debug)]
struct RestError(StatusCode, String);

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

/// Parses an inference id: `0x` and 64 hex digits (upper or lower case).
pub fn parse_inference_id(id: &str) -> Result<B256, String> {
    let hex = id.strip_prefix("0x").or_else(|| id.strip_prefix("0X")).unwrap_or(id);
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("invalid inference id {id:?}: expected 0x and 64 hex digits"));
    }
    hex.parse::<B256>().map_err(|e| format!("invalid inference id {id:?}: {e}"))
}

async fn lookup(chain: &Chain, id: &str) -> Result<InferenceEntry, RestError> {
    let key = parse_inference_id(id).map_err(|e| RestError(StatusCode::BAD_REQUEST, e))?;
    let chain = chain.clone();
    let found = tokio::task::spawn_blocking(move || chain.inference_record(key))
        .await
        .map_err(|e| RestError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| RestError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    found.ok_or_else(|| RestError(StatusCode::NOT_FOUND, format!("no inference with id {id}")))
}

/// The JSON of `GET /v1/inference/{id}`.
pub fn inference_json(found: &InferenceEntry) -> Value {
    let record = &found.record;
    let tensors = |r: Result<Vec<ogn_types::Tensor>, String>| match r {
        Ok(t) => ogn_types::json::tensors_to_json(&t),
        Err(e) => json!({ "error": e }),
    };
    let output = record.model_output();
    json!({
        "inferenceId": record.inference_id(),
        "resultId": record.result_id,
        "model": record.model,
        "modelCid": record.model_cid,
        "mode": record.mode,
        "engineId": record.engine_id,
        "input": tensors(record.input_tensors()),
        "output": record.output_tensors().map(tensors),
        "isSimulationResult": output.as_ref().map(|o| o.is_simulation_result),
        "error": record.error,
        "work": record.work,
        "gas": record.gas,
        "blockNumber": found.block_number,
        "blockHash": found.block_hash,
        "transactionHash": found.tx_hash,
        "transactionIndex": found.tx_index,
    })
}

async fn inference(
    State(st): State<RestState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RestError> {
    let found = lookup(&st.chain, &id).await?;
    Ok(Json(inference_json(&found)))
}

async fn sdk_inference(
    State(st): State<RestState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RestError> {
    let found = lookup(&st.chain, &id).await?;
    let record = &found.record;
    let Some(output) = record.model_output() else {
        let why = record.error.clone().unwrap_or_else(|| "its output does not decode".into());
        return Err(RestError(
            StatusCode::NOT_FOUND,
            format!("inference {id} has no output: {why}"),
        ));
    };
    sdk::inference_results_body(record.mode, &output).map(Json).ok_or_else(|| {
        RestError(
            StatusCode::NOT_FOUND,
            format!("inference {id} has mode {}, which has no SDK result shape", record.mode),
        )
    })
}

async fn prometheus(State(st): State<RestState>) -> Response {
    let Some(handle) = st.metrics else {
        return RestError(
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are unavailable: another metrics recorder was installed in this process"
                .into(),
        )
        .into_response();
    };
    metrics::gauge!("ogn_chain_height").set(st.chain.block_number() as f64);
    metrics::gauge!("ogn_txpool_pending").set(st.chain.pending_count() as f64);
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render())
        .into_response()
}

async fn staking(State(state): State<RestState>) -> Result<Json<Value>, RestError> {
    let ledger = state
        .chain
        .staking_ledger()
        .map_err(|e| RestError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let (bonded, nominal, fee, subsidy, pool, runway, height) =
        ogn_chain::staking::network_stats(&ledger);
    let rate = ledger.lst_rate();
    let queue = ledger.lst_exit_queue();
    let blocks_per_year = u128::from(ledger.params().blocks_per_year);
    let elapsed = u128::from(ledger.height().max(1));
    // Annualized over the ledger's life, per unit of stake, in ppm.
    let yield_ppm = |amount: u128, tokens: u128| -> u64 {
        if tokens == 0 {
            return 0;
        }
        let per_year = ogn_chain::ogn_ledger::math::mul_div(amount, blocks_per_year, elapsed)
            .unwrap_or(u128::MAX);
        ogn_chain::ogn_ledger::math::mul_div(per_year, 1_000_000, tokens)
            .map_or(u64::MAX, |v| u64::try_from(v).unwrap_or(u64::MAX))
    };
    let sources = |b: &ogn_chain::ogn_ledger::BySource| {
        json!({
            "inferenceFees": b.inference_fees.to_string(),
            "emissions": b.emissions.to_string(),
            "txFees": b.tx_fees.to_string(),
        })
    };
    let stakers: Vec<Value> = ledger
        .stakers()
        .map(|(address, s)| {
            let earned = &s.rewards.to_delegators;
            let fees = earned.inference_fees + earned.tx_fees;
            json!({
                "address": address.to_string(),
                "role": if s.role == ogn_chain::ogn_ledger::Role::Operator { "operator" } else { "validator" },
                "tokens": s.tokens.to_string(),
                "commissionPpm": s.commission_ppm,
                "jailed": !s.is_active(),
                "delegators": ledger.delegator_count(*address),
                "rewardsToDelegators": sources(earned),
                "commissionEarned": sources(&s.rewards.commission),
                "delegatorYieldPpm": yield_ppm(earned.total(), s.tokens),
                "delegatorFeeYieldPpm": yield_ppm(fees, s.tokens),
                "subsidyRatioPpm": if earned.total() == 0 {
                    0
                } else {
                    ogn_chain::ogn_ledger::math::mul_div(earned.emissions, 1_000_000, earned.total())
                        .map_or(0, |v| v as u64)
                },
            })
        })
        .collect();
    let alloc = &ledger.stats().rewards_allocated;
    Ok(Json(json!({
        "height": height,
        "totalBonded": bonded.to_string(),
        "nominalYieldPpm": nominal.saturating_to::<u64>(),
        "feeYieldPpm": fee.saturating_to::<u64>(),
        "subsidyRatioPpm": subsidy.saturating_to::<u64>(),
        "rewardsAllocated": {
            "inferenceFees": alloc.inference_fees.to_string(),
            "emissions": alloc.emissions.to_string(),
            "txFees": alloc.tx_fees.to_string(),
        },
        "incentivePool": pool.to_string(),
        "incentiveRunwayBlocks": runway,
        "stOpg": {
            "opg": rate.opg.to_string(),
            "stOpg": rate.st_opg.to_string(),
            "opgPerStOpgE18": rate.per_st_opg_e18().to_string(),
            "exitQueueEntries": queue.entries,
            "exitQueueAmount": queue.amount.to_string(),
            "expectedExitHeight": queue.expected_exit_height,
        },
        "stakers": stakers,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inference_ids() {
        let id = format!("0x{}", "aB".repeat(32));
        assert_eq!(parse_inference_id(&id).unwrap(), B256::repeat_byte(0xab));
        assert!(parse_inference_id(&"ab".repeat(32)).is_ok());
        for bad in
            ["", "0x", "0x12", &format!("0x{}", "g".repeat(64)), &format!("0x{}", "a".repeat(66))]
        {
            let err = parse_inference_id(bad).unwrap_err();
            assert!(err.contains("expected 0x and 64 hex digits"), "{err}");
        }
    }
}
