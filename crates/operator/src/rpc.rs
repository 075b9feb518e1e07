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
    /// Gas it used.
    pub gas_used: u64,
    /// Gas it was allowed.
    pub gas_limit: u64,
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
    ///
    /// Gas: other transactions can land first and change how many of the ledger's words a precompile call
    /// rewrites (an insertion shifts every word after it), so the estimate can be far below what execution
    /// needs. The first attempt leaves room for that; one that still runs out of gas is sent again with room
    /// for a full rewrite (the precompiles charge at least 20 per word read and at most 520 per word, so 26×
    /// the estimate). Unused gas is not charged.
    pub async fn send<C: SolCall>(&self, to: Address, call: C, value: U256) -> Result<Mined> {
        let data = Bytes::from(call.abi_encode());
        let mut mined = None;
        for widen in [4u64, 26] {
            let sent = self.send_once(to, &data, value, widen).await?;
            let out_of_gas = !sent.success && sent.gas_used == sent.gas_limit;
            mined = Some(sent);
            if !out_of_gas {
                break;
            }
        }
        Ok(mined.expect("at least one attempt"))
    }

    async fn send_once(&self, to: Address, data: &Bytes, value: U256, widen: u64) -> Result<Mined> {
        let object = json!({
            "from": self.address(), "to": to, "value": format!("{value:#x}"), "input": data,
        });
        let guard = self.send_lock.lock().await;
        let gas = self.quantity("eth_estimateGas", json!([object, "pending"])).await? as u64;
        let chain_id = self.quantity("eth_chainId", json!([])).await? as u64;
        let nonce = self
            .quantity("eth_getTransactionCount", json!([self.address(), "pending"]))
            .await? as u64;
        let tip = self.quantity("eth_maxPriorityFeePerGas", json!([])).await?;
        let price = self.quantity("eth_gasPrice", json!([])).await?;
        let gas_limit = gas.saturating_mul(widen).max(gas + 2_000_000).min(30_000_000);
        let tx = TypedTransaction::Eip1559(TxEip1559 {
            chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: 2 * price + tip,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(to),
            value,
            access_list: Default::default(),
            input: data.clone(),
        });
        let signed =
            ogn_chain::sign_transaction(&self.signer, tx).map_err(|e| anyhow!("signing: {e}"))?;
        let raw = Bytes::from(signed.encoded_2718());
        let hash = self.request("eth_sendRawTransaction", json!([raw])).await?;
        drop(guard);
        for _ in 0..1200 {
            let receipt = self.request("eth_getTransactionReceipt", json!([hash])).await?;
            if !receipt.is_null() {
                return Ok(Mined {
                    tx_hash: serde_json::from_value(hash.clone()).context("tx hash")?,
                    block_number: hex_u64(&receipt["blockNumber"]).unwrap_or_default(),
                    block_hash: serde_json::from_value(receipt["blockHash"].clone())
                        .unwrap_or_default(),
                    success: receipt["status"].as_str() == Some("0x1"),
                    gas_used: hex_u64(&receipt["gasUsed"]).unwrap_or_default(),
                    gas_limit,
                    receipt,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("transaction {hash} was not mined within a minute")
    }
}
