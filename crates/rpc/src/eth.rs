//! The JSON-RPC namespaces ([`crate::api`]) implemented over an [`ogn_chain::Chain`].
//!
//! Each method checks and resolves its parameters ([`crate::params`]), asks the chain, and maps the chain's
//! error to the JSON-RPC error clients expect:
//!
//! | chain error                                     | JSON-RPC error                                     |
//! |-------------------------------------------------|----------------------------------------------------|
//! | `CallError::Revert`                             | `3`, `execution reverted[: reason]`, data = revert bytes |
//! | `TxError::*` (decode, signature, chain id, nonce, funds, fees, gas, `already known`) | `-32000`, the chain's geth wording |
//! | `CallError::Halt`                               | `-32000` (`out of gas`, …)                          |
//! | `ChainError::FilterTooLarge`                    | `-32005`                                            |
//! | `ChainError::Storage` / `Corrupt`, `TxError::Internal` | `-32603`                                     |
//! | other `ChainError` (unknown block, pruned state) | `-32000`                                           |
//!
//! geth answers every transaction error with `-32000` (its default code), including undecodable bytes and bad
//! signatures, and ethers/web3 match on the message; so does this server.

use std::sync::Arc;

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, B256, Bytes, U64, U256, keccak256};
use alloy::rpc::types::pubsub::{Params as SubscriptionParams, SubscriptionKind};
use alloy::rpc::types::{
    Block, FeeHistory, Filter, Log, Transaction, TransactionReceipt, TransactionRequest,
};
use jsonrpsee::core::{RpcResult, SubscriptionResult, async_trait};
use jsonrpsee::server::{Methods, PendingSubscriptionSink, RpcModule, SubscriptionSink};
use jsonrpsee::types::ErrorObjectOwned;
use ogn_chain::{CallError, Chain, ChainError, TxError};
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use crate::RpcConfig;
use crate::api::{EthApiServer, EvmApiServer, NetApiServer, Web3ApiServer};
use crate::error::{internal_error, invalid_params, limit_exceeded, revert_error, server_error};
use crate::params::{LogScope, Quantity, check_result_count, log_scope};

/// The JSON-RPC implementation: one chain handle and the server's limits. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EthRpc {
    chain: Chain,
    config: Arc<RpcConfig>,
}

impl EthRpc {
    /// The namespaces over `chain`.
    pub fn new(chain: Chain, config: RpcConfig) -> Self {
        Self { chain, config: Arc::new(config) }
    }

    /// All methods of all namespaces, ready for a jsonrpsee server.
    pub fn into_methods(self) -> Methods {
        let mut module = RpcModule::new(());
        // Method names are disjoint by namespace, so merging cannot fail.
        for methods in [
            EthApiServer::into_rpc(self.clone()).into(),
            NetApiServer::into_rpc(self.clone()).into(),
            Web3ApiServer::into_rpc(self.clone()).into(),
            EvmApiServer::into_rpc(self).into(),
        ] {
            let methods: Methods = methods;
            module.merge(methods).expect("namespaces have disjoint method names");
        }
        module.into()
    }

    /// With auto mining, waits (at most [`RECEIPT_WAIT`]) until every transaction accepted before this
    /// call is in a committed block: reads of the latest state and blocks see what the client sent
    /// before, although `eth_sendRawTransaction` answers before the block is written.
    async fn settle(&self) {
        if let Some(settled) = self.chain.settled() {
            let _ = tokio::time::timeout(RECEIPT_WAIT, settled).await;
        }
    }

    /// Like [`Self::settle`], except for the `pending` tag (answered from the pool).
    async fn settle_for(&self, block: BlockId) {
        if block != BlockId::Number(BlockNumberOrTag::Pending) {
            self.settle().await;
        }
    }

    /// Runs blocking chain work (execution, storage) off the async workers.
    async fn blocking<T, F>(&self, f: F) -> RpcResult<T>
    where
        T: Send + 'static,
        F: FnOnce(Chain) -> RpcResult<T> + Send + 'static,
    {
        let chain = self.chain.clone();
        tokio::task::spawn_blocking(move || f(chain))
            .await
            .map_err(|e| internal_error(format!("task failed: {e}")))?
    }
}

/// The JSON-RPC error for a chain lookup failure.
pub fn chain_error(e: ChainError) -> ErrorObjectOwned {
    match e {
        ChainError::Storage(_) | ChainError::Corrupt(_) => internal_error(e.to_string()),
        ChainError::FilterTooLarge(_) => limit_exceeded(e.to_string()),
        _ => server_error(e.to_string()),
    }
}

/// The JSON-RPC error for a refused transaction.
pub fn tx_error(e: TxError) -> ErrorObjectOwned {
    match e {
        TxError::Internal(_) => internal_error(e.to_string()),
        _ => server_error(e.to_string()),
    }
}

/// The JSON-RPC error for a failed `eth_call` / `eth_estimateGas`.
pub fn call_error(e: CallError) -> ErrorObjectOwned {
    match e {
        CallError::Revert { data, .. } => revert_error(&data),
        CallError::Halt(_) => server_error(e.to_string()),
        CallError::Invalid(e) => tx_error(e),
        CallError::Chain(e) => chain_error(e),
    }
}

/// Longest `eth_getTransactionReceipt` waits for the block of a transaction in the pool.
const RECEIPT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

fn block_or_latest(block: Option<BlockId>) -> BlockId {
    block.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest))
}

fn to_raw<T: Serialize>(value: &T) -> Option<Box<serde_json::value::RawValue>> {
    serde_json::value::to_raw_value(value).ok()
}

/// Forwards a broadcast stream to a subscription until the client leaves or the stream ends; items are
/// turned into zero or more notifications by `each`. A lagging receiver skips what it missed (logged).
fn forward<T, U, F>(sink: SubscriptionSink, mut rx: tokio::sync::broadcast::Receiver<T>, each: F)
where
    T: Clone + Send + 'static,
    U: Serialize + Send + 'static,
    F: Fn(T) -> Vec<U> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            let item = tokio::select! {
                _ = sink.closed() => return,
                item = rx.recv() => item,
            };
            match item {
                Ok(item) => {
                    for out in each(item) {
                        let Some(raw) = to_raw(&out) else { continue };
                        if sink.send(raw).await.is_err() {
                            return;
                        }
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "subscription {:?} lagged", sink.subscription_id());
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
}

#[async_trait]
impl EthApiServer for EthRpc {
    fn chain_id(&self) -> RpcResult<U64> {
        Ok(U64::from(self.chain.chain_id()))
    }

    async fn block_number(&self) -> RpcResult<U64> {
        self.settle().await;
        Ok(U64::from(self.chain.block_number()))
    }

    fn syncing(&self) -> RpcResult<bool> {
        Ok(false)
    }

    fn accounts(&self) -> RpcResult<Vec<Address>> {
        Ok(self.chain.accounts())
    }

    async fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256> {
        let block = block_or_latest(block);
        self.settle_for(block).await;
        self.blocking(move |c| c.balance(address, block).map_err(chain_error)).await
    }

    async fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64> {
        let block = block_or_latest(block);
        self.settle_for(block).await;
        self.blocking(move |c| c.nonce(address, block).map(U64::from).map_err(chain_error)).await
    }

    async fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes> {
        let block = block_or_latest(block);
        self.settle_for(block).await;
        self.blocking(move |c| c.code(address, block).map_err(chain_error)).await
    }

    async fn storage_at(
        &self,
        address: Address,
        slot: U256,
        block: Option<BlockId>,
    ) -> RpcResult<B256> {
        let block = block_or_latest(block);
        self.settle_for(block).await;
        self.blocking(move |c| c.storage(address, slot, block).map_err(chain_error)).await
    }

    fn gas_price(&self) -> RpcResult<U256> {
        Ok(U256::from(self.chain.gas_price()))
    }

    fn max_priority_fee_per_gas(&self) -> RpcResult<U256> {
        Ok(U256::from(self.chain.max_priority_fee()))
    }

    async fn fee_history(
        &self,
        block_count: Quantity,
        newest_block: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory> {
        if let Some(p) = &reward_percentiles {
            if p.len() > 100 {
                return Err(invalid_params("too many reward percentiles (at most 100)"));
            }
            let mut previous = 0.0;
            for &x in p {
                if !(0.0..=100.0).contains(&x) || x < previous {
                    return Err(invalid_params(format!(
                        "invalid reward percentile {x}: percentiles must be in 0..=100 and increasing"
                    )));
                }
                previous = x;
            }
        }
        let count = block_count.0.min(self.config.max_fee_history_blocks);
        self.settle().await;
        self.blocking(move |c| {
            c.fee_history(count, newest_block, reward_percentiles.as_deref().unwrap_or(&[]))
                .map_err(chain_error)
        })
        .await
    }

    async fn call(&self, request: TransactionRequest, block: Option<BlockId>) -> RpcResult<Bytes> {
        let block = block_or_latest(block);
        self.settle_for(block).await;
        self.blocking(move |c| c.call(&request, block).map_err(call_error)).await
    }

    async fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
    ) -> RpcResult<U64> {
        let block = block_or_latest(block);
        self.settle_for(block).await;
        self.blocking(move |c| c.estimate_gas(&request, block).map(U64::from).map_err(call_error))
            .await
    }

    async fn send_raw_transaction(&self, bytes: Bytes) -> RpcResult<B256> {
        let max = self.chain.config().max_tx_bytes;
        let tx = ogn_chain::decode_transaction(&bytes, max).map_err(tx_error)?;
        // A transaction that may run a model is accepted on a blocking thread; any other costs tens of
        // microseconds and is accepted in place (no thread hand-off). The answer comes once it is
        // accepted, as on geth and anvil; its receipt query waits for the block (see
        // `transaction_receipt`).
        let hash = if self.chain.needs_pre_execution(&tx) {
            self.blocking(move |c| c.submit_transaction(tx, bytes).map_err(tx_error)).await?
        } else {
            self.chain.submit_transaction(tx, bytes).map_err(tx_error)?
        };
        metrics::counter!("ogn_rpc_transactions_submitted_total", "method" => "eth_sendRawTransaction")
            .increment(1);
        Ok(hash)
    }

    async fn send_transaction(&self, request: TransactionRequest) -> RpcResult<B256> {
        let hash = self.blocking(move |c| c.send_transaction(request).map_err(tx_error)).await?;
        metrics::counter!("ogn_rpc_transactions_submitted_total", "method" => "eth_sendTransaction")
            .increment(1);
        Ok(hash)
    }

    async fn sign(&self, address: Address, message: Bytes) -> RpcResult<Bytes> {
        let signature = self.chain.sign(address, &message).map_err(|e| match e {
            TxError::UnknownAccount(_) => invalid_params(e.to_string()),
            other => tx_error(other),
        })?;
        Ok(Bytes::from(signature.as_bytes().to_vec()))
    }

    async fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>> {
        self.blocking(move |c| c.transaction_by_hash(hash).map_err(chain_error)).await
    }

    async fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>> {
        // Receipts of recent blocks are in memory: answered in place, no thread hand-off.
        if let Some(receipt) = self.chain.recent_receipt(hash) {
            return Ok(Some(receipt));
        }
        // Accepted and waiting for its block (auto mining): the answer waits for the block to be
        // committed, so a receipt asked for right after the send is there, as with a node whose send
        // waits for the block; after RECEIPT_WAIT the answer is null and the client polls again.
        if let Some(included) = self.chain.inclusion(hash) {
            let _ = tokio::time::timeout(RECEIPT_WAIT, included).await;
            if let Some(receipt) = self.chain.recent_receipt(hash) {
                return Ok(Some(receipt));
            }
        }
        self.blocking(move |c| c.receipt(hash).map_err(chain_error)).await
    }

    async fn block_by_number(
        &self,
        block: BlockNumberOrTag,
        full: bool,
    ) -> RpcResult<Option<Block>> {
        if block != BlockNumberOrTag::Pending {
            self.settle().await;
        }
        self.blocking(move |c| c.block_by_number(block, full).map_err(chain_error)).await
    }

    async fn block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<Block>> {
        self.blocking(move |c| c.block_by_hash(hash, full).map_err(chain_error)).await
    }

    async fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>> {
        let limits = self.config.log_limits;
        self.settle().await;
        self.blocking(move |c| {
            let head = c.block_number();
            let resolved = match log_scope(&filter, head, &limits)? {
                LogScope::Empty => return Ok(Vec::new()),
                LogScope::Block(_) => filter,
                LogScope::Range { from, to } => filter.from_block(from).to_block(to),
            };
            let logs = c.logs(&resolved).map_err(chain_error)?;
            let from = resolved.get_from_block().unwrap_or_default();
            check_result_count(logs.iter().filter_map(|l| l.block_number), from, &limits)?;
            Ok(logs)
        })
        .await
    }

    async fn subscribe(
        &self,
        pending: PendingSubscriptionSink,
        kind: SubscriptionKind,
        params: Option<SubscriptionParams>,
    ) -> SubscriptionResult {
        match (kind, params.unwrap_or_default()) {
            (SubscriptionKind::NewHeads, SubscriptionParams::None) => {
                let rx = self.chain.subscribe_heads();
                let sink = pending.accept().await?;
                forward(sink, rx, |header| vec![header]);
            }
            (SubscriptionKind::Logs, params) => {
                let filter = match params {
                    SubscriptionParams::Logs(filter) => *filter,
                    SubscriptionParams::None => Filter::default(),
                    SubscriptionParams::Bool(_) | SubscriptionParams::TransactionReceipts(_) => {
                        pending
                            .reject(invalid_params("logs subscription takes a filter object"))
                            .await;
                        return Ok(());
                    }
                };
                let rx = self.chain.subscribe_logs();
                let sink = pending.accept().await?;
                forward(
                    sink,
                    rx,
                    move |log: Log| {
                        if filter.matches(&log.inner) { vec![log] } else { Vec::new() }
                    },
                );
            }
            (kind, _) => {
                pending
                    .reject(invalid_params(format!(
                        "unsupported subscription {kind}: this node offers newHeads and logs"
                    )))
                    .await;
            }
        }
        Ok(())
    }
}

impl NetApiServer for EthRpc {
    fn version(&self) -> RpcResult<String> {
        Ok(self.chain.chain_id().to_string())
    }

    fn listening(&self) -> RpcResult<bool> {
        Ok(true)
    }

    fn peer_count(&self) -> RpcResult<U64> {
        Ok(U64::ZERO)
    }
}

impl Web3ApiServer for EthRpc {
    fn client_version(&self) -> RpcResult<String> {
        Ok(format!("ogn/v{}", env!("CARGO_PKG_VERSION")))
    }

    fn sha3(&self, data: Bytes) -> RpcResult<B256> {
        Ok(keccak256(&data))
    }
}

#[async_trait]
impl EvmApiServer for EthRpc {
    async fn mine(&self, blocks: Option<Quantity>) -> RpcResult<String> {
        let blocks = blocks.map_or(1, |q| q.0);
        if blocks == 0 || blocks > 10_000 {
            return Err(invalid_params(format!(
                "invalid block count {blocks}: evm_mine seals 1 to 10000 blocks"
            )));
        }
        self.blocking(move |c| c.mine(blocks).map_err(chain_error)).await?;
        Ok("0x0".to_string())
    }

    async fn increase_time(&self, seconds: Quantity) -> RpcResult<u64> {
        self.chain.increase_time(seconds.0).map_err(chain_error)
    }
}
