//! A real node for tests: a chain in a temporary directory, a hub, and the server on 127.0.0.1:0, talked to
//! over HTTP (reqwest) and WebSocket (tokio-tungstenite).

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use alloy::consensus::{TxEip1559, TxLegacy, TypedTransaction};
use alloy::eips::eip2718::Encodable2718;
use alloy::primitives::{Address, Bytes, TxKind, U256};
use alloy::signers::local::PrivateKeySigner;
use futures::{SinkExt, StreamExt};
use ogn_chain::{Chain, ChainConfig, HubOracle, InferenceOracle};
use ogn_hub::{Hub, HubConfig};
use ogn_rpc::RpcConfig;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;

/// A JSON-RPC error as the client saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcErr {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

pub struct Node {
    pub url: String,
    pub ws_url: String,
    pub chain: Chain,
    pub hub: Arc<Hub>,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// Options of [`Node::start_with`].
#[derive(Default)]
pub struct Options {
    pub rpc: RpcConfig,
    /// Run models through the hub and the real runtime.
    pub inference: bool,
}

impl Node {
    pub async fn start() -> Node {
        Node::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let hub =
            Arc::new(Hub::open_local(dir.path().join("hub"), HubConfig::default()).await.unwrap());
        let oracle: Option<Arc<dyn InferenceOracle>> = options.inference.then(|| {
            let runtime =
                Arc::new(ogn_runtime::Runtime::new(ogn_runtime::RuntimeConfig::default()));
            Arc::new(HubOracle::new(hub.clone(), runtime, tokio::runtime::Handle::current()))
                as Arc<dyn InferenceOracle>
        });
        let config =
            ChainConfig { data_dir: Some(dir.path().join("chain")), ..ChainConfig::default() };
        let chain = Chain::open(config, oracle).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(ogn_rpc::serve(
            listener,
            chain.clone(),
            hub.clone(),
            options.rpc,
            async move {
                let _ = rx.await;
            },
        ));
        Node {
            url: format!("http://{addr}/"),
            ws_url: format!("ws://{addr}/"),
            chain,
            hub,
            http: reqwest::Client::new(),
            shutdown: Some(tx),
            task: Some(task),
            _dir: dir,
        }
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    /// POSTs a raw body to `/` and returns the parsed JSON response.
    pub async fn post_raw(&self, body: String) -> Value {
        let response = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        response.json().await.unwrap()
    }

    /// One JSON-RPC call over HTTP.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, RpcErr> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let response = self.post_raw(body.to_string()).await;
        into_result(response)
    }

    /// A call that must succeed.
    pub async fn ok(&self, method: &str, params: Value) -> Value {
        match self.call(method, params.clone()).await {
            Ok(v) => v,
            Err(e) => panic!("{method}({params}) failed: {e:?}"),
        }
    }

    /// A call that must fail.
    pub async fn err(&self, method: &str, params: Value) -> RpcErr {
        match self.call(method, params.clone()).await {
            Ok(v) => panic!("{method}({params}) succeeded with {v}"),
            Err(e) => e,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(format!("{}{}", self.url.trim_end_matches('/'), path)).send().await.unwrap()
    }

    pub async fn block_number(&self) -> u64 {
        hex_u64(&self.ok("eth_blockNumber", json!([])).await)
    }

    /// The signer of dev account `i`.
    pub fn dev(&self, i: usize) -> PrivateKeySigner {
        PrivateKeySigner::from_bytes(&self.chain.dev_accounts()[i].private_key).unwrap()
    }

    /// Sends `raw` and returns the transaction hash.
    pub async fn send_raw(&self, raw: &[u8]) -> Result<String, RpcErr> {
        self.call("eth_sendRawTransaction", json!([Bytes::copy_from_slice(raw)]))
            .await
            .map(|v| v.as_str().unwrap().to_string())
    }

    pub async fn receipt(&self, hash: &str) -> Value {
        self.ok("eth_getTransactionReceipt", json!([hash])).await
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn into_result(response: Value) -> Result<Value, RpcErr> {
    assert_eq!(response["jsonrpc"], "2.0", "{response}");
    if let Some(error) = response.get("error") {
        return Err(RpcErr {
            code: error["code"].as_i64().unwrap(),
            message: error["message"].as_str().unwrap().to_string(),
            data: error.get("data").cloned(),
        });
    }
    Ok(response["result"].clone())
}

pub fn hex_u64(v: &Value) -> u64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a quantity: {v}"));
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

pub fn hex_u256(v: &Value) -> U256 {
    v.as_str().unwrap().parse().unwrap()
}

/// Fields of a transaction to sign.
pub struct Tx {
    pub chain_id: u64,
    pub nonce: u64,
    pub to: Option<Address>,
    pub value: U256,
    pub input: Vec<u8>,
    pub gas: u64,
    pub max_fee: u128,
}

impl Tx {
    pub fn transfer(chain_id: u64, nonce: u64, to: Address, value: u64) -> Tx {
        Tx {
            chain_id,
            nonce,
            to: Some(to),
            value: U256::from(value),
            input: Vec::new(),
            gas: 21_000,
            max_fee: 10_000_000_000,
        }
    }

    /// Signed EIP-1559 bytes.
    pub fn eip1559(&self, signer: &PrivateKeySigner) -> Vec<u8> {
        let tx = TxEip1559 {
            chain_id: self.chain_id,
            nonce: self.nonce,
            gas_limit: self.gas,
            max_fee_per_gas: self.max_fee,
            max_priority_fee_per_gas: 1_000_000_000.min(self.max_fee),
            to: self.to.map_or(TxKind::Create, TxKind::Call),
            value: self.value,
            access_list: Default::default(),
            input: self.input.clone().into(),
        };
        ogn_chain::sign_transaction(signer, TypedTransaction::Eip1559(tx)).unwrap().encoded_2718()
    }

    /// Signed legacy (EIP-155) bytes, as web3.py and OpenGradient's SDK send.
    pub fn legacy(&self, signer: &PrivateKeySigner) -> Vec<u8> {
        let tx = TxLegacy {
            chain_id: Some(self.chain_id),
            nonce: self.nonce,
            gas_price: self.max_fee,
            gas_limit: self.gas,
            to: self.to.map_or(TxKind::Create, TxKind::Call),
            value: self.value,
            input: self.input.clone().into(),
        };
        ogn_chain::sign_transaction(signer, TypedTransaction::Legacy(tx)).unwrap().encoded_2718()
    }
}

/// A test contract, assembled by hand (no compiler needed):
/// - called with a zero first word: reverts with `Error("zero")`;
/// - otherwise: emits `LOG1` with the first calldata word as topic 0 and stores it in slot 0.
pub fn log_contract_runtime() -> Vec<u8> {
    let revert_data =
        <alloy::sol_types::Revert as alloy::sol_types::SolError>::abi_encode(&"zero".into());
    assert_eq!(revert_data.len(), 100);
    let mut code = vec![
        0x60, 0x00, 0x35, // PUSH1 0 CALLDATALOAD          [w]
        0x80, // DUP1                                       [w w]
        0x60, 0x13, 0x57, // PUSH1 ok JUMPI                 [w]
        0x60, 0x64, 0x60, 0x1e, 0x60, 0x00, 0x39, // CODECOPY(0, data, 100)
        0x60, 0x64, 0x60, 0x00, 0xfd, // REVERT(0, 100)
        0x5b, // ok: JUMPDEST (0x13)                        [w]
        0x80, 0x60, 0x00, 0x55, // DUP1 PUSH1 0 SSTORE      [w]   slot0 = w
        0x60, 0x00, 0x60, 0x00, 0xa1, // LOG1(0, 0, w)
        0x00, // STOP
    ];
    assert_eq!(code.len(), 0x1e);
    code.extend_from_slice(&revert_data);
    code
}

/// Init code that deploys [`log_contract_runtime`].
pub fn log_contract_initcode() -> Vec<u8> {
    let runtime = log_contract_runtime();
    let len = u8::try_from(runtime.len()).unwrap();
    let mut code = vec![
        0x60, len, 0x60, 0x0c, 0x60, 0x00, 0x39, // CODECOPY(0, 12, len)
        0x60, len, 0x60, 0x00, 0xf3, // RETURN(0, len)
    ];
    code.extend_from_slice(&runtime);
    code
}

/// A WebSocket JSON-RPC client.
pub struct Ws {
    stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl Ws {
    pub async fn connect(url: &str) -> Ws {
        let (stream, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Ws { stream, next_id: 1 }
    }

    /// Sends a call and returns its response, keeping notifications that arrive first.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, RpcErr> {
        let id = self.next_id;
        self.next_id += 1;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.stream.send(Message::text(body.to_string())).await.unwrap();
        loop {
            let message = self.next_json().await;
            if message["id"] == json!(id) {
                return into_result(message);
            }
        }
    }

    /// The next notification (`eth_subscription`).
    pub async fn notification(&mut self) -> Value {
        loop {
            let message = self.next_json().await;
            if message["method"] == "eth_subscription" {
                return message["params"].clone();
            }
        }
    }

    async fn next_json(&mut self) -> Value {
        loop {
            let message =
                tokio::time::timeout(std::time::Duration::from_secs(60), self.stream.next())
                    .await
                    .expect("no WebSocket message within 60 s")
                    .expect("WebSocket closed")
                    .unwrap();
            if let Message::Text(text) = message {
                return serde_json::from_str(&text).unwrap();
            }
        }
    }
}
