//! The server against a real chain, over HTTP and WebSocket, as Ethereum clients talk to it.

mod common;

use alloy::primitives::{Address, B256, Bytes, Signature, U256, keccak256};
use alloy::signers::local::PrivateKeySigner;
use common::{
    Node, Options, Tx, Ws, hex_u64, hex_u256, log_contract_initcode, log_contract_runtime,
};
use ogn_chain::{DEFAULT_CHAIN_ID, DEV_BALANCE};
use ogn_rpc::{LogLimits, RpcConfig};
use serde_json::{Value, json};

const CHAIN: u64 = DEFAULT_CHAIN_ID;

fn word(n: u8) -> B256 {
    B256::with_last_byte(n)
}

/// Deploys the hand-assembled log contract through `eth_sendTransaction` and returns its address.
async fn deploy(node: &Node) -> Address {
    let from = node.dev(0).address();
    let hash = node
        .ok(
            "eth_sendTransaction",
            json!([{"from": from, "data": Bytes::from(log_contract_initcode())}]),
        )
        .await;
    let receipt = node.receipt(hash.as_str().unwrap()).await;
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    receipt["contractAddress"].as_str().unwrap().parse().unwrap()
}

/// Calls the log contract with `topic` from dev account 1 (a signed raw transaction); returns the receipt.
async fn emit(node: &Node, contract: Address, topic: B256) -> Value {
    let signer = node.dev(1);
    let nonce =
        hex_u64(&node.ok("eth_getTransactionCount", json!([signer.address(), "pending"])).await);
    let tx = Tx { input: topic.to_vec(), gas: 100_000, ..Tx::transfer(CHAIN, nonce, contract, 0) };
    let hash = node.send_raw(&tx.eip1559(&signer)).await.unwrap();
    let receipt = node.receipt(&hash).await;
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    receipt
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_state_and_fees() {
    let node = Node::start().await;
    assert_eq!(node.ok("eth_chainId", json!([])).await, json!(format!("{CHAIN:#x}")));
    assert_eq!(node.ok("net_version", json!([])).await, json!(CHAIN.to_string()));
    assert_eq!(node.ok("net_listening", json!([])).await, json!(true));
    assert_eq!(node.ok("eth_syncing", json!([])).await, json!(false));
    let version = node.ok("web3_clientVersion", json!([])).await;
    assert!(version.as_str().unwrap().starts_with("ogn/v"), "{version}");
    assert_eq!(node.ok("web3_sha3", json!(["0x68656c6c6f"])).await, json!(keccak256(b"hello")),);

    let accounts = node.ok("eth_accounts", json!([])).await;
    assert_eq!(accounts.as_array().unwrap().len(), 10);
    assert_eq!(accounts[0], json!(node.dev(0).address()));
    let balance = node.ok("eth_getBalance", json!([node.dev(0).address(), "latest"])).await;
    assert_eq!(hex_u256(&balance), DEV_BALANCE);
    // The block parameter is optional; an EIP-1898 object works too.
    let head = node.ok("eth_getBlockByNumber", json!(["latest", false])).await;
    let by_hash = node
        .ok("eth_getBalance", json!([node.dev(0).address(), {"blockHash": head["hash"]}]))
        .await;
    assert_eq!(by_hash, balance);
    assert_eq!(hex_u256(&node.ok("eth_getBalance", json!([Address::ZERO])).await), U256::ZERO);
    assert_eq!(node.ok("eth_getCode", json!([Address::ZERO, "latest"])).await, json!("0x"));
    assert_eq!(
        node.ok("eth_getStorageAt", json!([Address::ZERO, "0x0", "latest"])).await,
        json!(B256::ZERO)
    );

    let gas_price = hex_u256(&node.ok("eth_gasPrice", json!([])).await);
    let tip = hex_u256(&node.ok("eth_maxPriorityFeePerGas", json!([])).await);
    assert!(gas_price > tip && tip > U256::ZERO, "{gas_price} {tip}");
    // web3.py sends the block count as a number, ethers as hex.
    for count in [json!(4), json!("0x4")] {
        let history = node.ok("eth_feeHistory", json!([count, "latest", [25.0, 75.0]])).await;
        assert_eq!(history["oldestBlock"], "0x0", "{history}");
        assert_eq!(history["baseFeePerGas"].as_array().unwrap().len(), 2, "{history}");
        assert_eq!(history["reward"].as_array().unwrap().len(), 1);
    }
    let err = node.err("eth_feeHistory", json!([4, "latest", [75.0, 25.0]])).await;
    assert_eq!(err.code, -32602, "{err:?}");
    assert!(err.message.contains("increasing"), "{err:?}");

    // Malformed parameters and unknown methods.
    let err = node.err("eth_getBalance", json!(["0x1234", "latest"])).await;
    assert_eq!(err.code, -32602, "{err:?}");
    let err = node.err("eth_getBlockByNumber", json!(["newest", false])).await;
    assert_eq!(err.code, -32602, "{err:?}");
    assert_eq!(node.err("eth_mineGold", json!([])).await.code, -32601);
    let response = node.post_raw("{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ".into()).await;
    assert_eq!(response["error"]["code"], -32700, "{response}");
    // A batch answers every call.
    let batch = node
        .post_raw(
            json!([
                {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                {"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber", "params": []}
            ])
            .to_string(),
        )
        .await;
    assert_eq!(batch.as_array().unwrap().len(), 2, "{batch}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_blocks_and_lookups() {
    let node = Node::start().await;
    let alice = node.dev(0);
    let bob = PrivateKeySigner::random().address();
    assert_eq!(node.block_number().await, 0);

    // EIP-1559, then legacy (what web3.py and OpenGradient's SDK sign).
    let first = node.send_raw(&Tx::transfer(CHAIN, 0, bob, 1_000).eip1559(&alice)).await.unwrap();
    let second = node.send_raw(&Tx::transfer(CHAIN, 1, bob, 2_000).legacy(&alice)).await.unwrap();
    assert_eq!(
        hex_u256(&node.ok("eth_getBalance", json!([bob, "latest"])).await),
        U256::from(3_000)
    );
    assert_eq!(
        node.ok("eth_getTransactionCount", json!([alice.address(), "latest"])).await,
        json!("0x2")
    );
    assert_eq!(
        node.ok("eth_getTransactionCount", json!([alice.address(), "pending"])).await,
        json!("0x2")
    );

    let receipt = node.receipt(&first).await;
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(receipt["from"], json!(alice.address()));
    assert_eq!(receipt["to"], json!(bob));
    assert_eq!(receipt["gasUsed"], "0x5208");
    let tx = node.ok("eth_getTransactionByHash", json!([second])).await;
    assert_eq!(tx["hash"], json!(second));
    assert_eq!(tx["type"], "0x0");
    assert_eq!(tx["value"], "0x7d0");
    assert_eq!(tx["from"], json!(alice.address()));

    let number = hex_u64(&receipt["blockNumber"]);
    let block = node.ok("eth_getBlockByNumber", json!([format!("{number:#x}"), true])).await;
    assert_eq!(block["hash"], receipt["blockHash"]);
    assert_eq!(block["transactions"][0]["hash"], json!(first));
    let by_hash = node.ok("eth_getBlockByHash", json!([block["hash"], false])).await;
    assert_eq!(by_hash["transactions"][0], json!(first));
    assert!(by_hash["baseFeePerGas"].is_string(), "{by_hash}");

    // Tags: earliest is genesis; latest, pending, safe and finalized are the head. The second transfer
    // is in the last block (the first one's block, or the next: sends answer before the block).
    let head = node.block_number().await;
    assert_eq!(head, hex_u64(&node.receipt(&second).await["blockNumber"]));
    assert!((1..=2).contains(&head), "{head}");
    let earliest = node.ok("eth_getBlockByNumber", json!(["earliest", false])).await;
    assert_eq!(earliest["number"], "0x0");
    for tag in ["latest", "pending", "safe", "finalized"] {
        let b = node.ok("eth_getBlockByNumber", json!([tag, false])).await;
        assert_eq!(hex_u64(&b["number"]), head, "{tag}");
    }
    // Past the head, and unknown hashes, are null.
    assert_eq!(node.ok("eth_getBlockByNumber", json!(["0x99", false])).await, Value::Null);
    assert_eq!(node.ok("eth_getBlockByHash", json!([B256::ZERO, false])).await, Value::Null);
    assert_eq!(node.ok("eth_getTransactionByHash", json!([B256::ZERO])).await, Value::Null);
    assert_eq!(node.ok("eth_getTransactionReceipt", json!([B256::ZERO])).await, Value::Null);
    // Only the head's state is kept: older state (genesis; block 1 may be the head) is a clear error.
    let err = node.err("eth_getBalance", json!([bob, "0x0"])).await;
    assert_eq!(err.code, -32000);
    assert!(err.message.contains("only the latest state is kept"), "{err:?}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_transactions_get_geths_errors_and_the_node_keeps_serving() {
    let node = Node::start().await;
    let alice = node.dev(0);
    let bob = node.dev(1).address();
    let sent = Tx::transfer(CHAIN, 0, bob, 1).eip1559(&alice);
    node.send_raw(&sent).await.unwrap();

    let expect = |label: &'static str, prefix: &'static str| {
        move |result: Result<String, common::RpcErr>| {
            let err = result.expect_err(label);
            assert_eq!(err.code, -32000, "{label}: {err:?}");
            assert!(err.message.starts_with(prefix), "{label}: {err:?}");
        }
    };

    // Replay of a mined transaction, and a new one with a used nonce.
    let replay = node.send_raw(&sent).await.expect_err("replay");
    assert_eq!(replay.code, -32000);
    assert!(
        replay.message.starts_with("nonce too low") || replay.message == "already known",
        "{replay:?}"
    );
    expect("nonce too low", "nonce too low: next nonce 1, tx nonce 0")(
        node.send_raw(&Tx::transfer(CHAIN, 0, bob, 2).eip1559(&alice)).await,
    );
    expect("nonce gap", "nonce too high")(
        node.send_raw(&Tx::transfer(CHAIN, 5, bob, 2).eip1559(&alice)).await,
    );
    let pauper = PrivateKeySigner::random();
    expect("insufficient funds", "insufficient funds for gas * price + value: address")(
        node.send_raw(&Tx::transfer(CHAIN, 0, bob, 1).eip1559(&pauper)).await,
    );
    expect("wrong chain id", &*format!("invalid chain id for signer: have 1 want {CHAIN}").leak())(
        node.send_raw(&Tx::transfer(1, 1, bob, 1).eip1559(&alice)).await,
    );
    expect("malformed RLP", "invalid transaction encoding")(node.send_raw(&[0xde, 0xad]).await);
    expect("empty", "invalid transaction encoding")(node.send_raw(&[]).await);
    let mut trailing = sent.clone();
    trailing.push(0);
    expect("trailing bytes", "invalid transaction encoding")(node.send_raw(&trailing).await);
    expect("underpriced", "transaction underpriced")(
        node.send_raw(&Tx { max_fee: 1, ..Tx::transfer(CHAIN, 1, bob, 1) }.eip1559(&alice)).await,
    );
    expect("gas limit", "exceeds block gas limit")(
        node.send_raw(&Tx { gas: 60_000_000, ..Tx::transfer(CHAIN, 1, bob, 1) }.eip1559(&alice))
            .await,
    );
    expect("intrinsic gas", "intrinsic gas too low")(
        node.send_raw(&Tx { gas: 20_000, ..Tx::transfer(CHAIN, 1, bob, 1) }.eip1559(&alice)).await,
    );
    expect("oversized", "oversized data")(
        node.send_raw(
            &Tx { input: vec![1; 200_000], gas: 29_000_000, ..Tx::transfer(CHAIN, 1, bob, 1) }
                .eip1559(&alice),
        )
        .await,
    );

    // A signature that recovers to no key: r and s replaced by the curve order (out of range).
    let bad_signature = {
        let tx = alloy::consensus::TxEip1559 {
            chain_id: CHAIN,
            nonce: 1,
            gas_limit: 21_000,
            max_fee_per_gas: 10_000_000_000,
            max_priority_fee_per_gas: 1,
            to: alloy::primitives::TxKind::Call(bob),
            ..Default::default()
        };
        let n = U256::from_be_slice(
            &alloy::hex::decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
                .unwrap(),
        );
        let signed =
            alloy::consensus::SignableTransaction::into_signed(tx, Signature::new(n, n, false));
        alloy::eips::eip2718::Encodable2718::encoded_2718(&alloy::consensus::TxEnvelope::from(
            signed,
        ))
    };
    expect("bad signature", "invalid sender")(node.send_raw(&bad_signature).await);

    // Parameters that are not bytes at all.
    let err = node.err("eth_sendRawTransaction", json!(["0xzz"])).await;
    assert_eq!(err.code, -32602, "{err:?}");

    // Still serving, and nothing refused changed the state.
    assert_eq!(node.block_number().await, 1);
    assert_eq!(
        node.ok("eth_getTransactionCount", json!([alice.address(), "pending"])).await,
        json!("0x1")
    );
    node.send_raw(&Tx::transfer(CHAIN, 1, bob, 1).eip1559(&alice)).await.unwrap();
    assert_eq!(node.block_number().await, 2);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contracts_reverts_and_dev_accounts() {
    let node = Node::start().await;
    let contract = deploy(&node).await;
    assert_eq!(
        node.ok("eth_getCode", json!([contract, "latest"])).await,
        json!(Bytes::from(log_contract_runtime()))
    );

    // A revert: code 3, geth's message, the revert bytes as data; eth_estimateGas says the same.
    let zero = json!([{"to": contract, "data": B256::ZERO}, "latest"]);
    let err = node.err("eth_call", zero.clone()).await;
    assert_eq!(err.code, 3, "{err:?}");
    assert_eq!(err.message, "execution reverted: zero");
    let expected_data =
        <alloy::sol_types::Revert as alloy::sol_types::SolError>::abi_encode(&"zero".into());
    assert_eq!(err.data, Some(json!(Bytes::from(expected_data))));
    let err = node.err("eth_estimateGas", zero).await;
    assert_eq!((err.code, err.message.as_str()), (3, "execution reverted: zero"));

    // A successful call and estimate; then a transaction from a dev account stores the word.
    let one = json!([{"to": contract, "data": word(7)}]);
    assert_eq!(node.ok("eth_call", one.clone()).await, json!("0x"));
    let gas = hex_u64(&node.ok("eth_estimateGas", one).await);
    assert!(gas > 21_000 && gas < 100_000, "{gas}");
    let from = node.dev(2).address();
    let hash = node
        .ok("eth_sendTransaction", json!([{"from": from, "to": contract, "data": word(7)}]))
        .await;
    assert_eq!(node.receipt(hash.as_str().unwrap()).await["status"], "0x1");
    assert_eq!(
        node.ok("eth_getStorageAt", json!([contract, "0x0", "latest"])).await,
        json!(word(7))
    );
    let stranger = PrivateKeySigner::random().address();
    let err = node.err("eth_sendTransaction", json!([{"from": stranger, "to": contract}])).await;
    assert_eq!((err.code, err.message.clone()), (-32000, format!("unknown account {stranger}")));

    // eth_sign: EIP-191 over the message bytes, recoverable to the account.
    let message = b"ogn devnet";
    let signature = node.ok("eth_sign", json!([from, Bytes::from_static(message)])).await;
    let bytes: Bytes = serde_json::from_value(signature).unwrap();
    assert_eq!(bytes.len(), 65);
    assert!(bytes[64] == 27 || bytes[64] == 28);
    let signature = Signature::try_from(&bytes[..]).unwrap();
    assert_eq!(signature.recover_address_from_msg(message).unwrap(), from);
    let err = node.err("eth_sign", json!([stranger, "0x00"])).await;
    assert_eq!(err.code, -32602, "{err:?}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_filters_and_limits() {
    let rpc = RpcConfig {
        log_limits: LogLimits { max_block_range: 5, max_results: 2 },
        ..RpcConfig::default()
    };
    let node = Node::start_with(Options { rpc, ..Options::default() }).await;
    let contract = deploy(&node).await;
    let a = emit(&node, contract, word(0xaa)).await;
    let b = emit(&node, contract, word(0xbb)).await;
    let a2 = emit(&node, contract, word(0xaa)).await;
    let first = hex_u64(&a["blockNumber"]);
    let last = hex_u64(&a2["blockNumber"]);
    assert_eq!(last, first + 2);
    let range = |from: u64, to: u64| (format!("{from:#x}"), format!("{to:#x}"));
    let (from, to) = range(first, last);

    // By topic: two logs, in order, with their positions.
    let logs = node
        .ok("eth_getLogs", json!([{"fromBlock": from, "toBlock": to, "topics": [word(0xaa)]}]))
        .await;
    let logs = logs.as_array().unwrap();
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0]["transactionHash"], a["transactionHash"]);
    assert_eq!(logs[1]["transactionHash"], a2["transactionHash"]);
    assert_eq!(logs[0]["address"], json!(contract));
    assert_eq!(logs[0]["topics"], json!([word(0xaa)]));
    // By topic alternatives and by address (the latter finds all three: over the result limit).
    let either = node
        .ok(
            "eth_getLogs",
            json!([{"fromBlock": from, "toBlock": to, "topics": [[word(0xbb), word(0xcc)]]}]),
        )
        .await;
    assert_eq!(either.as_array().unwrap().len(), 1);
    assert_eq!(either[0]["transactionHash"], b["transactionHash"]);
    let err = node
        .err("eth_getLogs", json!([{"fromBlock": from, "toBlock": to, "address": contract}]))
        .await;
    assert_eq!(err.code, -32005, "{err:?}");
    assert_eq!(
        err.message,
        format!("query exceeds max results 2, retry with the range {first}-{}", first + 1)
    );
    // By block hash; another address matches nothing.
    let at = node.ok("eth_getLogs", json!([{"blockHash": b["blockHash"]}])).await;
    assert_eq!(at.as_array().unwrap().len(), 1);
    let none = node
        .ok("eth_getLogs", json!([{"fromBlock": from, "toBlock": to, "address": Address::ZERO}]))
        .await;
    assert_eq!(none, json!([]));
    // Default range is the head only; a range past the head is clamped.
    let head_only = node.ok("eth_getLogs", json!([{}])).await;
    assert_eq!(head_only.as_array().unwrap().len(), 1);
    let clamped = node
        .ok("eth_getLogs", json!([{"fromBlock": to, "toBlock": "0xffff", "topics": [word(0xaa)]}]))
        .await;
    assert_eq!(clamped.as_array().unwrap().len(), 1);

    // Refused: backwards, and wider than the limit (before reading any block).
    let (f, t) = range(last, first);
    let err = node.err("eth_getLogs", json!([{"fromBlock": f, "toBlock": t}])).await;
    assert_eq!(err.code, -32602, "{err:?}");
    assert!(err.message.starts_with("invalid block range params"), "{err:?}");
    // (The range is measured after clamping to the head: mine past the limit first.)
    node.ok("evm_mine", json!([5])).await;
    let head = node.block_number().await;
    let err = node
        .err("eth_getLogs", json!([{"fromBlock": "earliest", "toBlock": "0xffffffffffff"}]))
        .await;
    assert_eq!(err.code, -32005, "{err:?}");
    assert_eq!(
        err.message,
        format!("query exceeds max block range 5: blocks 0-{head} span {}", head + 1)
    );
    let err = node.err("eth_getLogs", json!([{"fromBlock": "yesterday"}])).await;
    assert_eq!(err.code, -32602, "{err:?}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_helpers_mine_and_move_time() {
    let node = Node::start().await;
    assert_eq!(node.ok("evm_mine", json!([])).await, json!("0x0"));
    assert_eq!(node.block_number().await, 1);
    node.ok("evm_mine", json!([3])).await;
    assert_eq!(node.block_number().await, 4);
    node.ok("evm_mine", json!(["0x2"])).await;
    assert_eq!(node.block_number().await, 6);
    assert_eq!(node.err("evm_mine", json!([0])).await.code, -32602);
    assert_eq!(node.err("evm_mine", json!([-1])).await.code, -32602);

    let before = node.ok("eth_getBlockByNumber", json!(["latest", false])).await;
    let offset = node.ok("evm_increaseTime", json!([3600])).await;
    assert!(offset.as_u64().unwrap() >= 3600, "{offset}");
    node.ok("evm_mine", json!([])).await;
    let after = node.ok("eth_getBlockByNumber", json!(["latest", false])).await;
    assert!(
        hex_u64(&after["timestamp"]) >= hex_u64(&before["timestamp"]) + 3600,
        "{before} {after}"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_calls_and_subscriptions() {
    let node = Node::start().await;
    let contract = deploy(&node).await;
    let mut ws = Ws::connect(&node.ws_url).await;
    assert_eq!(ws.call("eth_chainId", json!([])).await.unwrap(), json!(format!("{CHAIN:#x}")));

    let heads = ws.call("eth_subscribe", json!(["newHeads"])).await.unwrap();
    let logs = ws
        .call("eth_subscribe", json!(["logs", {"address": contract, "topics": [word(0x55)]}]))
        .await
        .unwrap();
    assert_ne!(heads, logs);

    // A block with a matching log, then one with a log the filter excludes, then an empty block.
    let receipt = emit(&node, contract, word(0x55)).await;
    emit(&node, contract, word(0x66)).await;
    node.ok("evm_mine", json!([])).await;
    let head = node.block_number().await;

    let mut seen_heads = Vec::new();
    let mut seen_logs = Vec::new();
    while seen_heads.len() < 3 || seen_logs.is_empty() {
        let n = ws.notification().await;
        if n["subscription"] == heads {
            seen_heads.push(hex_u64(&n["result"]["number"]));
            assert!(n["result"]["hash"].is_string(), "{n}");
        } else {
            assert_eq!(n["subscription"], logs, "{n}");
            seen_logs.push(n["result"].clone());
        }
    }
    assert_eq!(seen_heads, vec![head - 2, head - 1, head]);
    assert_eq!(seen_logs.len(), 1, "{seen_logs:?}");
    assert_eq!(seen_logs[0]["transactionHash"], receipt["transactionHash"]);

    assert_eq!(ws.call("eth_unsubscribe", json!([heads])).await.unwrap(), json!(true));
    assert_eq!(ws.call("eth_unsubscribe", json!([heads])).await.unwrap(), json!(false));
    let err = ws.call("eth_subscribe", json!(["syncing"])).await.unwrap_err();
    assert_eq!(err.code, -32602, "{err:?}");
    let err = ws.call("eth_subscribe", json!(["everything"])).await.unwrap_err();
    assert_eq!(err.code, -32602, "{err:?}");
    // Subscriptions need a WebSocket.
    assert!(node.call("eth_subscribe", json!(["newHeads"])).await.is_err());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_unknown_paths() {
    let node = Node::start().await;
    node.ok("eth_blockNumber", json!([])).await;
    node.err("eth_getBalance", json!(["0x12"])).await;
    let response = node.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains("ogn_rpc_requests_total{method=\"eth_blockNumber\"}"), "{text}");
    assert!(
        text.contains("ogn_rpc_errors_total{method=\"eth_getBalance\",code=\"-32602\"}"),
        "{text}"
    );
    assert!(text.contains("ogn_rpc_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains("ogn_chain_height 0"), "{text}");
    assert!(text.contains("ogn_txpool_pending 0"), "{text}");
    // The hub shares the port; unknown paths are a JSON 404.
    assert_eq!(node.get("/api/v0/health").await.status(), 200);
    assert_eq!(node.get("/nope").await.status(), 404);
    assert_eq!(node.get("/v1/inference/0x12").await.status(), 400);
    let missing = node.get(&format!("/v1/inference/{}", B256::ZERO)).await;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("no inference with id"), "{body}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inference_results_over_rest() {
    use alloy::sol_types::SolCall;
    use base64::Engine;
    use futures::StreamExt;
    use ogn_chain::inference::{
        IInferencePrecompile, ModelInferenceRequest, ModelInput, Number, NumberTensor,
    };

    let model =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/models/mlp.onnx");
    let bytes = std::fs::read(&model).unwrap_or_else(|e| {
        panic!("{} is missing ({e}): run scripts/fetch-fixtures first", model.display())
    });
    let node = Node::start_with(Options { inference: true, ..Options::default() }).await;
    let stream = futures::stream::once(async move { Ok(bytes::Bytes::from(bytes)) }).boxed();
    let cid = node.hub.blobs().put(stream, u64::MAX).await.unwrap().cid;

    let request = ModelInferenceRequest {
        mode: 0,
        modelCID: cid.to_string(),
        input: ModelInput {
            numbers: vec![NumberTensor {
                name: "input".into(),
                values: (0..1568).map(|i| Number { value: i % 10, decimals: 1 }).collect(),
                shape: vec![2, 784],
            }],
            strings: vec![],
        },
    };
    let data = IInferencePrecompile::runModelInferenceCall { request }.abi_encode();
    let from = node.dev(0).address();
    let hash = node
        .ok(
            "eth_sendTransaction",
            json!([{"from": from, "to": ogn_chain::INFERENCE_PRECOMPILE, "data": Bytes::from(data)}]),
        )
        .await;
    let receipt = node.receipt(hash.as_str().unwrap()).await;
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    let log = receipt["logs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["address"] == json!(ogn_chain::INFERENCE_PRECOMPILE))
        .expect("a ModelInferenceEvent");
    let log_data = alloy::primitives::LogData::new_unchecked(
        serde_json::from_value(log["topics"].clone()).unwrap(),
        serde_json::from_value(log["data"].clone()).unwrap(),
    );
    let event = ogn_chain::inference::decode_inference_event(&log_data).unwrap();
    let id = event.inferenceID;

    // ogn's record.
    let response = node.get(&format!("/v1/inference/{id}")).await;
    assert_eq!(response.status(), 200);
    let record: Value = response.json().await.unwrap();
    assert_eq!(record["inferenceId"], json!(id));
    assert_eq!(record["modelCid"], json!(cid.to_string()));
    assert_eq!(record["mode"], 0);
    assert_eq!(record["transactionHash"], hash);
    assert_eq!(record["blockNumber"], json!(hex_u64(&receipt["blockNumber"])));
    assert_eq!(record["input"]["input"]["shape"], json!([2, 784]));
    assert_eq!(record["output"]["logits"]["shape"], json!([2, 10]));
    assert_eq!(record["isSimulationResult"], false);
    assert!(record["engineId"].as_str().unwrap().contains("tract"), "{record}");

    // OpenGradient's path (the SDK URL-encodes the id) gives the same numbers in its shape.
    let response = node
        .get(&format!("/artela-network/artela-rollkit/inference/tx/{}", id.replace('x', "%78")))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let encoded = body["inference_results"][0].as_str().unwrap();
    let decoded: Value =
        serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(encoded).unwrap())
            .unwrap();
    let output = &decoded["InferenceResult"]["VanillaResult"]["model_output"];
    assert_eq!(output["numbers"][0]["name"], "logits");
    assert_eq!(output["numbers"][0]["shape"], json!([2, 10]));
    let values = output["numbers"][0]["values"].as_array().unwrap();
    assert_eq!(values.len(), 20);
    let printed = record["output"]["logits"]["values"].as_array().unwrap();
    for (sdk, ours) in values.iter().zip(printed) {
        let x = sdk["value"].as_i64().unwrap() as f64
            / 10f64.powi(sdk["decimals"].as_i64().unwrap() as i32);
        // ogn prints exact decimals as strings.
        let y: f64 = ours.as_str().unwrap().parse().unwrap();
        assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{sdk} {ours}");
    }
    // The model run shows in the metrics (recorded by the chain's oracle through the `metrics` facade).
    let text = node.get("/metrics").await.text().await.unwrap();
    assert!(text.contains("ogn_inference_jobs_total{status=\"ok\"}"), "{text}");
    assert!(text.contains("ogn_inference_duration_seconds_bucket"), "{text}");
    assert!(text.contains("ogn_model_cache_models"), "{text}");
    node.stop().await;
}

/// A JSON-RPC batch of sends from one account (nonces in order) is accepted in order; the sends answer
/// before their blocks, and the reads that follow see them all (receipts, latest nonce and balance).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_sends_are_accepted_in_order_and_read_back() {
    let node = Node::start().await;
    let alice = node.dev(0);
    let bob = PrivateKeySigner::random().address();
    let batch: Vec<Value> = (0..20u64)
        .map(|nonce| {
            let raw = Tx::transfer(CHAIN, nonce, bob, 1 + nonce).eip1559(&alice);
            json!({"jsonrpc": "2.0", "id": nonce, "method": "eth_sendRawTransaction",
                   "params": [Bytes::from(raw)]})
        })
        .collect();
    let answers = node.post_raw(Value::Array(batch).to_string()).await;
    let answers = answers.as_array().expect("a batch answer");
    assert_eq!(answers.len(), 20);
    let mut hashes = Vec::new();
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a["id"], json!(i), "{a}");
        hashes.push(a["result"].as_str().unwrap_or_else(|| panic!("send {i}: {a}")).to_string());
    }
    assert_eq!(
        node.ok("eth_getTransactionCount", json!([alice.address(), "latest"])).await,
        json!("0x14")
    );
    assert_eq!(
        hex_u256(&node.ok("eth_getBalance", json!([bob, "latest"])).await),
        U256::from((1..=20u64).sum::<u64>())
    );
    let mut last_block = 0;
    for hash in &hashes {
        let receipt = node.receipt(hash).await;
        assert_eq!(receipt["status"], "0x1", "{receipt}");
        let n = hex_u64(&receipt["blockNumber"]);
        assert!(n >= last_block, "nonce order across blocks");
        last_block = n;
    }
    assert_eq!(node.block_number().await, last_block);
    node.stop().await;
}

/// A single `eth_sendRawTransaction` request is answered before jsonrpsee; the same call inside a batch
/// goes through jsonrpsee. Both must give the same answer (ids, error codes, messages, data), and what
/// the direct path does not take (bad parameters, named parameters, notifications) is still jsonrpsee's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_sends_answer_as_jsonrpsee_does() {
    let node = Node::start().await;
    let alice = node.dev(0);
    let bob = node.dev(1).address();
    let refused: Vec<(&str, Value)> = vec![
        ("wrong chain id", json!([Bytes::from(Tx::transfer(1, 0, bob, 1).eip1559(&alice))])),
        ("malformed RLP", json!(["0xdead"])),
        ("nonce gap", json!([Bytes::from(Tx::transfer(CHAIN, 9, bob, 1).eip1559(&alice))])),
        ("not bytes", json!(["0xzz"])),
        ("no parameter", json!([])),
        ("named parameter", json!({"bytes": "0xdead"})),
    ];
    for (label, params) in refused {
        for id in [json!(7), json!("seven")] {
            let call = json!({"jsonrpc": "2.0", "id": id, "method": "eth_sendRawTransaction", "params": params});
            let single = node.post_raw(call.to_string()).await;
            let batched = node.post_raw(json!([call]).to_string()).await;
            assert_eq!(
                Some(&single),
                batched.get(0),
                "{label}: single {single}, batched {batched}"
            );
            assert!(single["error"]["code"].is_i64(), "{label}: {single}");
            assert_eq!(single["id"], id, "{label}");
        }
    }

    // Accepted: the hash as result, the same id back, whichever way it came.
    let first = Tx::transfer(CHAIN, 0, bob, 1).eip1559(&alice);
    let second = Tx::transfer(CHAIN, 1, bob, 1).eip1559(&alice);
    let send = |raw: &[u8], id: Value| json!({"jsonrpc": "2.0", "id": id, "method": "eth_sendRawTransaction", "params": [Bytes::from(raw.to_vec())]});
    let single = node.post_raw(send(&first, json!("a")).to_string()).await;
    assert_eq!(
        single,
        json!({"jsonrpc": "2.0", "id": "a", "result": format!("{}", keccak256(&first))})
    );
    let batched = node.post_raw(json!([send(&second, json!("b"))]).to_string()).await;
    assert_eq!(
        batched,
        json!([{"jsonrpc": "2.0", "id": "b", "result": format!("{}", keccak256(&second))}])
    );

    // A notification (no id) is jsonrpsee's, which acknowledges it without running it over HTTP: the
    // direct path does not run it either.
    let third = Tx::transfer(CHAIN, 2, bob, 1).eip1559(&alice);
    let notification = json!({"jsonrpc": "2.0", "method": "eth_sendRawTransaction", "params": [Bytes::from(third)]});
    let response = node
        .http
        .post(&node.url)
        .header("content-type", "application/json")
        .body(notification.to_string())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let text = response.text().await.unwrap();
    assert!(!text.contains("result") && !text.contains("error"), "{text}");
    assert_eq!(
        node.ok("eth_getTransactionCount", json!([alice.address(), "pending"])).await,
        json!("0x2")
    );
    node.stop().await;
}
