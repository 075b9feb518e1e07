//! A small Ethereum JSON-RPC client that signs with one key: calls, transactions to precompiles, receipts.

use std::time::Duration;

use alloy::{
    consensus::{TxEip1559, TypedTransaction},
    eips::eip2718::Encodable2718,
    primitives::{Address, B256, Bytes, TxKind, U256},
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

/// JSON-RPC over HTTP with a signing key.
#[derive(Clone)]
pub struct RpcClient {
    url: String,
    http: reqwest::Client,
    signer: PrivateKeySigner,
    /// Serializes this key's transactions, so nonces are taken in order.
    send_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// A mined transaction.
#[derive(Debug, Clone)]
pub struct Mined {
    /// Transaction hash.
    pub tx_hash: B256,
    /// Block number.
    pub block_number: u64,
    /// Block hash.
    pub block_hash: B256,
    /// Whether it succeeded.
    pub success: bool,
    /// The receipt as returned.
    pub receipt: Value,
}

fn hex_u64(v: &Value) -> Option<u64> {
    u64::from_str_radix(v.as_str()?.trim_start_matches("0x"), 16).ok()
}

impl RpcClient {
    /// A client for `url` signing with `signer`.
    pub fn new(url: &str, signer: PrivateKeySigner) -> Self {
        Self {
            url: url.to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("HTTP client"),
            signer,
            send_lock: Default::default(),
        }
    }

    /// The signing account.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The key.
    pub fn signer(&self) -> &PrivateKeySigner {
        &self.signer
    }

    /// One request; JSON-RPC errors become errors with the node's message.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let reply: Value = self
            .http
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("sending {method} to {}", self.url))?
            .json()
            .await
            .with_context(|| format!("reading the answer to {method}"))?;
        if let Some(e) = reply.get("error") {
            let msg = e.get("message").and_then(Value::as_str).unwrap_or("unknown error");
            bail!("{method}: {msg}");
        }
        Ok(reply.get("result").cloned().unwrap_or(Value::Null))
    }

    async fn quantity(&self, method: &str, params: Value) -> Result<u128> {
        let v = self.request(method, params).await?;
        let s = v.as_str().ok_or_else(|| anyhow!("{method}: expected a hex quantity, got {v}"))?;
        u128::from_str_radix(s.trim_start_matches("0x"), 16)
            .with_context(|| format!("{method}: `{s}` is not a hex quantity"))
    }

    /// `eth_call` of `call` at `to` (latest block).
    pub async fn view<C: SolCall>(&self, to: Address, call: C) -> Result<C::Return> {
        let object =
            json!({"from": self.address(), "to": to, "input": Bytes::from(call.abi_encode())});
        let out = self.request("eth_call", json!([object, "latest"])).await?;
        let bytes: Bytes = serde_json::from_value(out).context("eth_call result")?;
        C::abi_decode_returns(&bytes).map_err(|e| anyhow!("cannot decode the answer: {e}"))
    }

    /// What `call` at `to` with `value` would return from this account on the pending state (a refusal is
    /// an error carrying the revert reason).
    pub async fn simulate<C: SolCall>(
        &self,
        to: Address,
        call: &C,
        value: U256,
    ) -> Result<C::Return> {
        let object = json!({
            "from": self.address(), "to": to, "value": format!("{value:#x}"),
            "input": Bytes::from(call.abi_encode()),
        });
        let out = self.request("eth_call", json!([object, "pending"])).await?;
        let bytes: Bytes = serde_json::from_value(out).context("eth_call result")?;
        C::abi_decode_returns(&bytes).map_err(|e| anyhow!("cannot decode the answer: {e}"))
    }

    /// The head block's number and hash.
    pub async fn head(&self) -> Result<(u64, B256)> {
        let block = self.request("eth_getBlockByNumber", json!(["latest", false])).await?;
        self.block_fields(&block)
    }

    /// Block `n`'s number and hash, if it exists.
    pub async fn block(&self, n: u64) -> Result<Option<(u64, B256)>> {
        let block = self.request("eth_getBlockByNumber", json!([format!("{n:#x}"), false])).await?;
        if block.is_null() {
            return Ok(None);
        }
        self.block_fields(&block).map(Some)
    }

    fn block_fields(&self, block: &Value) -> Result<(u64, B256)> {
        let number = hex_u64(&block["number"]).ok_or_else(|| anyhow!("block without a number"))?;
        let hash: B256 = serde_json::from_value(block["hash"].clone()).context("block hash")?;
        Ok((number, hash))
    }

    /// Signs and sends `call` to `to` with `value`, waits for its receipt. A call the node refuses in
    /// simulation returns the revert reason as an error and sends nothing.
    pub async fn send<C: SolCall>(&self, to: Address, call: C, value: U256) -> Result<Mined> {
        let data = Bytes::from(call.abi_encode());
        let object = json!({
            "from": self.address(), "to": to, "value": format!("{value:#x}"), "input": data,
        });
        let _guard = self.send_lock.lock().await;
        let gas = self.quantity("eth_estimateGas", json!([object, "pending"])).await? as u64;
        let chain_id = self.quantity("eth_chainId", json!([])).await? as u64;
        let nonce = self
            .quantity("eth_getTransactionCount", json!([self.address(), "pending"]))
            .await? as u64;
        let tip = self.quantity("eth_maxPriorityFeePerGas", json!([])).await?;
        let price = self.quantity("eth_gasPrice", json!([])).await?;
        let tx = TypedTransaction::Eip1559(TxEip1559 {
            chain_id,
            nonce,
            // Other transactions can land first and grow what this one writes (the ledger's words): leave room.
            // Unused gas is not charged.
            gas_limit: (gas * 2).max(gas + 200_000).min(30_000_000),
            max_fee_per_gas: 2 * price + tip,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(to),
            value,
            access_list: Default::default(),
            input: data,
        });
        let signed =
            ogn_chain::sign_transaction(&self.signer, tx).map_err(|e| anyhow!("signing: {e}"))?;
        let raw = Bytes::from(signed.encoded_2718());
        let hash = self.request("eth_sendRawTransaction", json!([raw])).await?;
        drop(_guard);
        for _ in 0..1200 {
            let receipt = self.request("eth_getTransactionReceipt", json!([hash])).await?;
            if !receipt.is_null() {
                return Ok(Mined {
                    tx_hash: serde_json::from_value(hash.clone()).context("tx hash")?,
                    block_number: hex_u64(&receipt["blockNumber"]).unwrap_or_default(),
                    block_hash: serde_json::from_value(receipt["blockHash"].clone())
                        .unwrap_or_default(),
                    success: receipt["status"].as_str() == Some("0x1"),
                    receipt,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("transaction {hash} was not mined within a minute")
    }
}
