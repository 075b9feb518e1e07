//! The JSON-RPC surface, one trait per namespace, separate from its implementation ([`crate::eth`]).
//!
//! The `#[rpc(server)]` macro turns each trait into a `…Server` trait whose `into_rpc()` gives the method table;
//! parameters are decoded by serde (a malformed parameter is answered with `-32602` naming it), results are
//! serialized as the `alloy` RPC types, so field names and hex encodings are Ethereum's.

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, B256, Bytes, U64, U256};
use alloy::rpc::types::pubsub::{Params as SubscriptionParams, SubscriptionKind};
use alloy::rpc::types::{
    Block, FeeHistory, Filter, Log, Transaction, TransactionReceipt, TransactionRequest,
};
use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;

use crate::params::Quantity;

/// `eth_*`: state, blocks, transactions, logs, fees, subscriptions, and the dev accounts (as anvil and hardhat).
#[rpc(server, namespace = "eth")]
pub trait EthApi {
    /// The chain id (EIP-155).
    #[method(name = "chainId")]
    fn chain_id(&self) -> RpcResult<U64>;

    /// The head block number.
    #[method(name = "blockNumber")]
    async fn block_number(&self) -> RpcResult<U64>;

    /// Always `false`: a devnet node is never syncing.
    #[method(name = "syncing")]
    fn syncing(&self) -> RpcResult<bool>;

    /// The dev accounts this node signs for.
    #[method(name = "accounts")]
    fn accounts(&self) -> RpcResult<Vec<Address>>;

    /// An account's balance in wei at a block (default `latest`).
    #[method(name = "getBalance")]
    async fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256>;

    /// An account's nonce; at `pending`, counts the transactions waiting in the pool.
    #[method(name = "getTransactionCount")]
    async fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64>;

    /// An account's code.
    #[method(name = "getCode")]
    async fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes>;

    /// One storage slot of an account.
    #[method(name = "getStorageAt")]
    async fn storage_at(
        &self,
        address: Address,
        slot: U256,
        block: Option<BlockId>,
    ) -> RpcResult<B256>;

    /// The gas price a legacy transaction should offer now.
    #[method(name = "gasPrice")]
    fn gas_price(&self) -> RpcResult<U256>;

    /// The priority fee an EIP-1559 transaction should offer now.
    #[method(name = "maxPriorityFeePerGas")]
    fn max_priority_fee_per_gas(&self) -> RpcResult<U256>;

    /// Base fees, gas used ratios and reward percentiles of up to 1024 blocks ending at `newest_block`.
    #[method(name = "feeHistory")]
    async fn fee_history(
        &self,
        block_count: Quantity,
        newest_block: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory>;

    /// Executes a call without a transaction; a revert is error 3 with the revert data.
    #[method(name = "call")]
    async fn call(&self, request: TransactionRequest, block: Option<BlockId>) -> RpcResult<Bytes>;

    /// The gas a transaction needs; a revert is error 3 with the revert data.
    #[method(name = "estimateGas")]
    async fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
    ) -> RpcResult<U64>;

    /// Submits a signed transaction (EIP-2718 bytes); returns its hash once it is accepted (in the
    /// pool, valid on the pending state), before its block is written.
    #[method(name = "sendRawTransaction")]
    async fn send_raw_transaction(&self, bytes: Bytes) -> RpcResult<B256>;

    /// Signs a transaction with a dev account and submits it; returns its hash.
    #[method(name = "sendTransaction")]
    async fn send_transaction(&self, request: TransactionRequest) -> RpcResult<B256>;

    /// EIP-191 `personal_sign` of `message` by a dev account: 65 bytes `r ‖ s ‖ v` with `v` 27 or 28.
    #[method(name = "sign")]
    async fn sign(&self, address: Address, message: Bytes) -> RpcResult<Bytes>;

    /// A transaction by hash, `null` when unknown.
    #[method(name = "getTransactionByHash")]
    async fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>>;

    /// A transaction's receipt, `null` until it is in a committed block. With auto mining, asked for a
    /// transaction still in the pool, it waits for its block (at most a few seconds).
    #[method(name = "getTransactionReceipt")]
    async fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>>;

    /// A block by number or tag, `null` past the head; `full` gives transaction objects instead of hashes.
    #[method(name = "getBlockByNumber")]
    async fn block_by_number(
        &self,
        block: BlockNumberOrTag,
        full: bool,
    ) -> RpcResult<Option<Block>>;

    /// A block by hash, `null` when unknown.
    #[method(name = "getBlockByHash")]
    async fn block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<Block>>;

    /// Logs matching a filter; the block range and the result count are limited ([`crate::params::LogLimits`]).
    #[method(name = "getLogs")]
    async fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>>;

    /// `newHeads` or `logs` (with an optional filter) notifications over WebSocket.
    #[subscription(name = "subscribe" => "subscription", unsubscribe = "unsubscribe", item = serde_json::Value)]
    async fn subscribe(
        &self,
        kind: SubscriptionKind,
        params: Option<SubscriptionParams>,
    ) -> SubscriptionResult;
}

/// `net_*`.
#[rpc(server, namespace = "net")]
pub trait NetApi {
    /// The chain id in decimal, as a string.
    #[method(name = "version")]
    fn version(&self) -> RpcResult<String>;

    /// Always `true`.
    #[method(name = "listening")]
    fn listening(&self) -> RpcResult<bool>;

    /// Number of peers: 0 on a single-node devnet.
    #[method(name = "peerCount")]
    fn peer_count(&self) -> RpcResult<U64>;
}

/// `web3_*`.
#[rpc(server, namespace = "web3")]
pub trait Web3Api {
    /// `ogn/v<version>`.
    #[method(name = "clientVersion")]
    fn client_version(&self) -> RpcResult<String>;

    /// keccak256 of the given bytes.
    #[method(name = "sha3")]
    fn sha3(&self, data: Bytes) -> RpcResult<B256>;
}

/// `evm_*`: test helpers, as in hardhat and anvil.
#[rpc(server, namespace = "evm")]
pub trait EvmApi {
    /// Seals `blocks` (default 1) blocks now; returns `"0x0"` like ganache.
    #[method(name = "mine")]
    async fn mine(&self, blocks: Option<Quantity>) -> RpcResult<String>;

    /// Moves the clock of the next blocks forward by `seconds`; returns the total offset in seconds (a JSON
    /// number, as hardhat and anvil answer).
    #[method(name = "increaseTime")]
    async fn increase_time(&self, seconds: Quantity) -> RpcResult<u64>;
}
