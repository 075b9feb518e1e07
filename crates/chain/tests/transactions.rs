//! Transfers of each transaction type, the errors clients parse, contracts, logs, calls.

mod common;

use alloy::{
    eips::{BlockId, BlockNumberOrTag},
    primitives::{Address, Bytes, TxKind, U256, address},
    rpc::types::{Filter, TransactionRequest},
};
use common::*;
use ogn_chain::{CallError, Chain, ChainConfig, DEV_BALANCE, TxError};

const BOB: Address = address!("00000000000000000000000000000000000b0b00");

#[test]
fn genesis_funds_the_dev_accounts() {
    let chain = open(None);
    assert_eq!(chain.chain_id(), 10744);
    assert_eq!(chain.block_number(), 0);
    let accounts = chain.accounts();
    assert_eq!(accounts.len(), 10);
    assert_eq!(accounts[0], address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266"));
    assert_eq!(DEV_BALANCE, U256::from(10u64).pow(U256::from(22u64)));
    for a in accounts {
        assert_eq!(chain.balance(a, BlockId::latest()).unwrap(), DEV_BALANCE);
    }
}

#[test]
fn transfers_of_every_type_mine_one_block_each() {
    let chain = open(None);
    let alice = signer(0);
    let txs = [
        legacy(0, TxKind::Call(BOB), U256::from(1000u64), Bytes::new(), 21_000),
        eip2930(1, TxKind::Call(BOB), U256::from(2000u64), Bytes::new(), 21_000),
        eip1559(2, TxKind::Call(BOB), U256::from(3000u64), Bytes::new(), 21_000),
    ];
    let mut spent = U256::ZERO;
    for (i, tx) in txs.into_iter().enumerate() {
        let hash = chain.send_raw_transaction(&raw(&alice, tx)).unwrap();
        assert_eq!(chain.block_number(), i as u64 + 1);
        let receipt = chain.receipt(hash).unwrap().expect("receipt");
        assert!(receipt.status());
        assert_eq!(receipt.gas_used, 21_000);
        assert_eq!(receipt.block_number, Some(i as u64 + 1));
        assert_eq!(receipt.from, alice.address());
        spent += U256::from(receipt.effective_gas_price) * U256::from(21_000u64);
        let tx = chain.transaction_by_hash(hash).unwrap().expect("tx");
        assert_eq!(tx.block_number, Some(i as u64 + 1));
        let block =
            chain.block_by_number(BlockNumberOrTag::Number(i as u64 + 1), true).unwrap().unwrap();
        assert_eq!(block.transactions.len(), 1);
        assert_eq!(
            chain.block_by_hash(block.header.hash, false).unwrap().unwrap().header.number,
            i as u64 + 1
        );
    }
    assert_eq!(chain.balance(BOB, BlockId::latest()).unwrap(), U256::from(6000u64));
    assert_eq!(
        chain.balance(alice.address(), BlockId::latest()).unwrap(),
        DEV_BALANCE - U256::from(6000u64) - spent
    );
    assert_eq!(chain.nonce(alice.address(), BlockId::latest()).unwrap(), 3);
}

#[test]
fn refusals_use_geths_wording() {
    let chain = open(None);
    let alice = signer(0);
    let ok = chain.send_raw_transaction(&raw(
        &alice,
        eip1559(0, TxKind::Call(BOB), U256::from(1u64), Bytes::new(), 21_000),
    ));
    let first = ok.unwrap();

    let e = chain
        .send_raw_transaction(&raw(
            &alice,
            eip1559(0, TxKind::Call(BOB), U256::from(2u64), Bytes::new(), 21_000),
        ))
        .unwrap_err();
    assert_eq!(e.to_string(), "nonce too low: next nonce 1, tx nonce 0");

    let e = chain
        .send_raw_transaction(&raw(
            &alice,
            eip1559(5, TxKind::Call(BOB), U256::ZERO, Bytes::new(), 21_000),
        ))
        .unwrap_err();
    assert_eq!(e.to_string(), "nonce too high: next nonce 1, tx nonce 5");

    let poor = alloy::signers::local::PrivateKeySigner::random();
    let e = chain
        .send_raw_transaction(&raw(
            &poor,
            eip1559(0, TxKind::Call(BOB), U256::from(1u64), Bytes::new(), 21_000),
        ))
        .unwrap_err();
    assert!(matches!(e, TxError::InsufficientFunds { .. }), "{e}");
    assert!(
        e.to_string().starts_with("insufficient funds for gas * price + value: address "),
        "{e}"
    );

    let mut wrong = eip1559(1, TxKind::Call(BOB), U256::ZERO, Bytes::new(), 21_000);
    if let alloy::consensus::TypedTransaction::Eip1559(t) = &mut wrong {
        t.chain_id = 1;
    }
    let e = chain.send_raw_transaction(&raw(&alice, wrong)).unwrap_err();
    assert_eq!(e.to_string(), "invalid chain id for signer: have 1 want 10744");

    let mut cheap = legacy(1, TxKind::Call(BOB), U256::ZERO, Bytes::new(), 21_000);
    if let alloy::consensus::TypedTransaction::Legacy(t) = &mut cheap {
        t.gas_price = 1;
    }
    let e = chain.send_raw_transaction(&raw(&alice, cheap)).unwrap_err();
    assert!(e.to_string().starts_with("transaction underpriced"), "{e}");

    let e = chain
        .send_raw_transaction(&raw(
            &alice,
            eip1559(1, TxKind::Call(BOB), U256::ZERO, Bytes::new(), 20_000),
        ))
        .unwrap_err();
    assert_eq!(e.to_string(), "intrinsic gas too low: gas 20000, minimum needed 21000");

    let e = chain
        .send_raw_transaction(&raw(
            &alice,
            eip1559(1, TxKind::Call(BOB), U256::ZERO, Bytes::new(), 31_000_000),
        ))
        .unwrap_err();
    assert_eq!(e.to_string(), "exceeds block gas limit");

    let tx = chain.transaction_by_hash(first).unwrap().unwrap();
    let replay = alloy::eips::eip2718::Encodable2718::encoded_2718(tx.inner.inner());
    assert_eq!(chain.send_raw_transaction(&replay).unwrap_err().to_string(), "already known");

    let e = chain.send_raw_transaction(&vec![0u8; 200 * 1024]).unwrap_err();
    assert!(e.to_string().starts_with("oversized data"), "{e}");
    let e = chain.send_raw_transaction(&[0x02, 0xc0, 0x01]).unwrap_err();
    assert!(matches!(e, TxError::Decode(_)), "{e}");
    let mut bad_sig = replay.clone();
    let n = bad_sig.len();
    bad_sig[n - 5] ^= 0xff;
    assert!(chain.send_raw_transaction(&bad_sig).is_err());
    // Nothing of the refused transactions was applied.
    assert_eq!(chain.block_number(), 1);
    assert_eq!(chain.nonce(alice.address(), BlockId::pending()).unwrap(), 1);
}

fn deploy(chain: &Chain, runtime: &[u8]) -> Address {
    let alice = signer(0);
    let nonce = chain.nonce(alice.address(), BlockId::pending()).unwrap();
    let hash = chain
        .send_raw_transaction(&raw(
            &alice,
            eip1559(nonce, TxKind::Create, U256::ZERO, deploy_code(runtime), 500_000),
        ))
        .unwrap();
    let receipt = chain.receipt(hash).unwrap().unwrap();
    assert!(receipt.status());
    let address = receipt.contract_address.expect("contract address");
    assert_eq!(chain.code(address, BlockId::latest()).unwrap().as_ref(), runtime);
    address
}

#[test]
fn contract_deploy_call_logs_and_revert_data() {
    let chain = open(None);
    let alice = signer(0);
    let logger = deploy(&chain, &logger_runtime());
    let word = U256::from(0x1234u64).to_be_bytes::<32>();
    let hash = chain
        .send_raw_transaction(&raw(
            &alice,
            legacy(1, TxKind::Call(logger), U256::ZERO, Bytes::from(word.to_vec()), 100_000),
        ))
        .unwrap();
    let receipt = chain.receipt(hash).unwrap().unwrap();
    assert!(receipt.status());
    let logs = receipt.inner.logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].address(), logger);
    assert_eq!(logs[0].topics(), &[LOG_TOPIC]);
    assert_eq!(logs[0].data().data.as_ref(), word.as_slice());
    assert_eq!(
        chain.storage(logger, U256::ZERO, BlockId::latest()).unwrap(),
        alloy::primitives::B256::from(word)
    );

    // Logs by address and by topic, through the indexes; a filter matching nothing.
    transfer(&chain, &alice, BOB, 1).unwrap();
    let by_address =
        chain.logs(&Filter::new().address(logger).from_block(0u64).to_block(100u64)).unwrap();
    assert_eq!(by_address.len(), 1);
    assert_eq!(by_address[0].transaction_hash, Some(hash));
    let by_topic = chain.logs(&Filter::new().event_signature(LOG_TOPIC).from_block(0u64)).unwrap();
    assert_eq!(by_topic.len(), 1);
    assert!(chain.logs(&Filter::new().address(BOB).from_block(0u64)).unwrap().is_empty());
    let all =
        chain.logs(&Filter::new().from_block(0u64).to_block(BlockNumberOrTag::Latest)).unwrap();
    assert_eq!(all.len(), 1);

    // eth_call: the revert reason and raw data.
    let call = TransactionRequest::default().to(logger).from(alice.address());
    let err = chain.call(&call, BlockId::latest()).unwrap_err();
    assert_eq!(err.to_string(), "execution reverted: empty");
    assert_eq!(err.revert_data().unwrap(), &ogn_chain::inference::revert_reason("empty"));
    match chain.estimate_gas(&call, BlockId::latest()) {
        Err(CallError::Revert { reason, .. }) => assert_eq!(reason.as_deref(), Some("empty")),
        other => panic!("{other:?}"),
    }
    // A reverting transaction is included with status 0.
    let hash = chain
        .send_raw_transaction(&raw(
            &alice,
            legacy(3, TxKind::Call(logger), U256::ZERO, Bytes::new(), 100_000),
        ))
        .unwrap();
    assert!(!chain.receipt(hash).unwrap().unwrap().status());

    // estimate_gas gives a limit that works.
    let store = TransactionRequest::default()
        .to(logger)
        .from(alice.address())
        .input(Bytes::from(vec![7u8; 32]).into());
    let gas = chain.estimate_gas(&store, BlockId::latest()).unwrap();
    assert!(gas > 21_000 && gas < 100_000, "{gas}");
    let hash = chain
        .send_raw_transaction(&raw(
            &alice,
            legacy(4, TxKind::Call(logger), U256::ZERO, Bytes::from(vec![7u8; 32]), gas),
        ))
        .unwrap();
    assert!(chain.receipt(hash).unwrap().unwrap().status());
}

#[test]
fn dev_accounts_send_unsigned_requests() {
    let chain = open(None);
    let from = chain.accounts()[1];
    let hash = chain
        .send_transaction(TransactionRequest::default().from(from).to(BOB).value(U256::from(5u64)))
        .unwrap();
    assert!(chain.receipt(hash).unwrap().unwrap().status());
    assert_eq!(chain.balance(BOB, BlockId::latest()).unwrap(), U256::from(5u64));
    let e = chain.send_transaction(TransactionRequest::default().from(BOB).to(BOB)).unwrap_err();
    assert!(matches!(e, TxError::UnknownAccount(_)));
    let sig = chain.sign(from, b"hello").unwrap();
    assert_eq!(sig.recover_address_from_msg(b"hello").unwrap(), from);
}

#[test]
fn mining_time_fee_history_and_subscriptions() {
    let chain = Chain::open(manual(None), None).unwrap();
    let mut heads = chain.subscribe_heads();
    let alice = signer(0);
    transfer(&chain, &alice, BOB, 1).unwrap();
    assert_eq!(chain.block_number(), 0, "manual mining waits");
    assert_eq!(chain.nonce(alice.address(), BlockId::pending()).unwrap(), 1);
    assert_eq!(chain.nonce(alice.address(), BlockId::latest()).unwrap(), 0);
    assert_eq!(chain.mine(3).unwrap(), 3);
    assert_eq!(heads.try_recv().unwrap().number, 1);
    let b1 = chain.block_by_number(BlockNumberOrTag::Number(1), false).unwrap().unwrap();
    assert_eq!(b1.transactions.len(), 1);
    let t1 = b1.header.timestamp;
    chain.increase_time(3600).unwrap();
    chain.mine(1).unwrap();
    let b4 = chain.block_by_number(BlockNumberOrTag::Latest, false).unwrap().unwrap();
    assert!(b4.header.timestamp >= t1 + 3600);
    let history = chain.fee_history(4, BlockNumberOrTag::Latest, &[50.0]).unwrap();
    assert_eq!(history.oldest_block, 1);
    assert_eq!(history.base_fee_per_gas.len(), 5);
    assert_eq!(history.reward.unwrap().len(), 4);
    assert!(chain.gas_price() >= u128::from(ogn_chain::MIN_BASE_FEE));
    // Only the head's state is kept.
    assert!(chain.balance(BOB, BlockId::number(1)).is_err());
    assert!(chain.balance(BOB, BlockId::number(4)).is_ok());
}

#[test]
fn a_different_chain_id_is_configurable() {
    let chain = Chain::open(ChainConfig { chain_id: 77, ..config(None) }, None).unwrap();
    let alice = signer(0);
    let e = chain
        .send_raw_transaction(&raw(
            &alice,
            eip1559(0, TxKind::Call(BOB), U256::ZERO, Bytes::new(), 21_000),
        ))
        .unwrap_err();
    assert_eq!(e.to_string(), "invalid chain id for signer: have 10744 want 77");
}
