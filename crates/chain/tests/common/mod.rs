//! Shared helpers of the chain tests.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;

use alloy::{
    consensus::{TxEip1559, TxEip2930, TxLegacy, TypedTransaction},
    eips::eip2718::Encodable2718,
    primitives::{Address, B256, Bytes, TxKind, U256},
    signers::local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English},
};
use ogn_chain::{Chain, ChainConfig, DEV_MNEMONIC, MiningMode, TxError, sign_transaction};

pub const GWEI: u128 = 1_000_000_000;

pub fn signer(i: u32) -> PrivateKeySigner {
    MnemonicBuilder::<English>::default().phrase(DEV_MNEMONIC).index(i).unwrap().build().unwrap()
}

pub fn config(dir: Option<&Path>) -> ChainConfig {
    ChainConfig {
        data_dir: dir.map(Path::to_path_buf),
        genesis_timestamp: Some(1_700_000_000),
        ..ChainConfig::default()
    }
}

pub fn open(dir: Option<&Path>) -> Chain {
    Chain::open(config(dir), None).expect("open chain")
}

pub fn manual(dir: Option<&Path>) -> ChainConfig {
    ChainConfig { mining: MiningMode::Manual, ..config(dir) }
}

pub fn raw(signer: &PrivateKeySigner, tx: TypedTransaction) -> Vec<u8> {
    sign_transaction(signer, tx).expect("sign").encoded_2718()
}

pub fn legacy(nonce: u64, to: TxKind, value: U256, input: Bytes, gas: u64) -> TypedTransaction {
    TypedTransaction::Legacy(TxLegacy {
        chain_id: Some(ogn_chain::DEFAULT_CHAIN_ID),
        nonce,
        gas_price: 3 * GWEI,
        gas_limit: gas,
        to,
        value,
        input,
    })
}

pub fn eip1559(nonce: u64, to: TxKind, value: U256, input: Bytes, gas: u64) -> TypedTransaction {
    TypedTransaction::Eip1559(TxEip1559 {
        chain_id: ogn_chain::DEFAULT_CHAIN_ID,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 3 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to,
        value,
        access_list: Default::default(),
        input,
    })
}

pub fn eip2930(nonce: u64, to: TxKind, value: U256, input: Bytes, gas: u64) -> TypedTransaction {
    TypedTransaction::Eip2930(TxEip2930 {
        chain_id: ogn_chain::DEFAULT_CHAIN_ID,
        nonce,
        gas_price: 3 * GWEI,
        gas_limit: gas,
        to,
        value,
        access_list: Default::default(),
        input,
    })
}

pub fn transfer(
    chain: &Chain,
    from: &PrivateKeySigner,
    to: Address,
    wei: u64,
) -> Result<B256, TxError> {
    let nonce = chain.nonce(from.address(), alloy::eips::BlockId::pending()).unwrap();
    chain.send_raw_transaction(&raw(
        from,
        eip1559(nonce, TxKind::Call(to), U256::from(wei), Bytes::new(), 21_000),
    ))
}

/// Init code that deploys `runtime`.
pub fn deploy_code(runtime: &[u8]) -> Bytes {
    assert!(runtime.len() < 256);
    let n = runtime.len() as u8;
    let mut code = vec![0x60, n, 0x60, 12, 0x60, 0, 0x39, 0x60, n, 0x60, 0, 0xf3];
    code.extend_from_slice(runtime);
    code.into()
}

/// Topic of the logger contract's log.
pub const LOG_TOPIC: B256 = B256::repeat_byte(0xaa);

/// Runtime of a contract that, called with data, stores its first word in slot 0 and emits
/// `LOG1(LOG_TOPIC, calldata)`; called without data, reverts with `Error("empty")`.
pub fn logger_runtime() -> Vec<u8> {
    let mut c = vec![0x36, 0x15, 0x60, 55, 0x57]; // CALLDATASIZE ISZERO PUSH1 55 JUMPI
    c.extend([0x60, 0, 0x35, 0x60, 0, 0x55]); // SSTORE(0, CALLDATALOAD(0))
    c.extend([0x36, 0x60, 0, 0x60, 0, 0x37]); // CALLDATACOPY(0, 0, CALLDATASIZE)
    c.push(0x7f);
    c.extend_from_slice(LOG_TOPIC.as_slice());
    c.extend([0x36, 0x60, 0, 0xa1, 0x00]); // LOG1(0, CALLDATASIZE, topic) STOP
    assert_eq!(c.len(), 55);
    c.extend([0x5b, 0x60, 100, 0x60, 68, 0x60, 0, 0x39]); // JUMPDEST CODECOPY(0, 68, 100)
    c.extend([0x60, 100, 0x60, 0, 0xfd]); // REVERT(0, 100)
    assert_eq!(c.len(), 68);
    c.extend_from_slice(&ogn_chain::inference::revert_reason("empty"));
    c
}

/// Runtime of a contract that forwards its calldata to `target` and returns (or reverts with) what it
/// answered.
pub fn proxy_runtime(target: Address) -> Vec<u8> {
    let mut c = vec![0x36, 0x60, 0, 0x60, 0, 0x37]; // CALLDATACOPY(0, 0, CALLDATASIZE)
    c.extend([0x60, 0, 0x60, 0, 0x36, 0x60, 0, 0x60, 0, 0x73]); // retSize retOffset argsSize argsOffset value PUSH20
    c.extend_from_slice(target.as_slice());
    c.extend([0x5a, 0xf1]); // GAS CALL
    c.extend([0x3d, 0x60, 0, 0x60, 0, 0x3e]); // RETURNDATACOPY(0, 0, RETURNDATASIZE)
    let ok = c.len() as u8 + 3 + 4;
    c.extend([0x60, ok, 0x57]); // PUSH1 ok JUMPI
    c.extend([0x3d, 0x60, 0, 0xfd]); // REVERT(0, RETURNDATASIZE)
    assert_eq!(c.len(), ok as usize);
    c.extend([0x5b, 0x3d, 0x60, 0, 0xf3]); // JUMPDEST RETURN(0, RETURNDATASIZE)
    c
}

/// Calldata of `runModelInference` on the inference precompile.
pub fn precompile_call(model: &str, mode: u8, input: ogn_types::opengradient::ModelInput) -> Bytes {
    use alloy::sol_types::SolCall;
    use ogn_types::opengradient::{IInferencePrecompile, ModelInferenceRequest};
    IInferencePrecompile::runModelInferenceCall {
        request: ModelInferenceRequest { mode, modelCID: model.into(), input },
    }
    .abi_encode()
    .into()
}
