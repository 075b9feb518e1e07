//! The staking precompile driven by signed transactions: staking, delegation, rewards, unbonding, stOPG,
//! refusals with the ledger's reasons, and the ledger state under the state root across restart and replay.

mod common;

use alloy::{
    eips::BlockId,
    primitives::{Address, Bytes, TxKind, U256, address},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use common::*;
use ogn_chain::{
    CallError, Chain, ChainConfig, DEV_BALANCE, IStaking, MiningMode, STAKING_PRECOMPILE, TxError,
    ogn_ledger::{self, OPG, Params},
};

const CHARLIE: Address = address!("00000000000000000000000000000000c4a411e0");

fn params() -> Params {
    Params {
        blocks_per_day: 2,
        blocks_per_year: 730,
        unbonding_period_blocks: 6,
        max_evidence_age_blocks: 6,
        challenge_window_blocks: 2,
        min_self_bond_validator: 100 * OPG,
        min_self_bond_operator: 10 * OPG,
        ..Params::default()
    }
}

fn staking_config(dir: Option<&std::path::Path>) -> ChainConfig {
    ChainConfig { staking: params(), ..config(dir) }
}

fn opg(n: u128) -> U256 {
    U256::from(n * OPG)
}

fn balance(chain: &Chain, a: Address) -> U256 {
    chain.balance(a, BlockId::latest()).unwrap()
}

/// Sends a call to the staking precompile; returns the receipt (mined at once: auto mining).
fn send<C: SolCall>(
    chain: &Chain,
    from: &PrivateKeySigner,
    call: C,
    value: U256,
) -> TransactionReceipt {
    let nonce = chain.nonce(from.address(), BlockId::pending()).unwrap();
    let tx = eip1559(
        nonce,
        TxKind::Call(STAKING_PRECOMPILE),
        value,
        call.abi_encode().into(),
        3_000_000,
    );
    let hash = chain.send_raw_transaction(&raw(from, tx)).unwrap();
    chain.receipt(hash).unwrap().expect("receipt")
}

fn fee(r: &TransactionReceipt) -> U256 {
    U256::from(r.gas_used) * U256::from(r.effective_gas_price)
}

fn call<C: SolCall>(chain: &Chain, from: Address, c: C, value: U256) -> Result<Bytes, CallError> {
    let request = TransactionRequest::default()
        .from(from)
        .to(STAKING_PRECOMPILE)
        .value(value)
        .input(Bytes::from(c.abi_encode()).into());
    chain.call(&request, BlockId::latest())
}

fn view<C: SolCall>(chain: &Chain, c: C) -> C::Return {
    let out = call(chain, Address::ZERO, c, U256::ZERO).unwrap();
    C::abi_decode_returns(&out).unwrap()
}

fn reason(e: CallError) -> String {
    match e {
        CallError::Revert { reason, .. } => reason.unwrap_or_default(),
        other => panic!("expected a revert, got {other}"),
    }
}

/// The precompile's EVM balance is what the ledger holds, and the ledger's own invariants hold.
fn check_backing(chain: &Chain) {
    let ledger = chain.staking_ledger().unwrap();
    ledger.check_invariants().unwrap();
    let bridge = ogn_ledger::Address(STAKING_PRECOMPILE.0.0);
    let held = ledger.total_supply() - ledger.balance(bridge);
    assert_eq!(balance(chain, STAKING_PRECOMPILE), U256::from(held));
}

#[test]
fn genesis_holds_the_incentive_pool_and_the_ledger() {
    let chain = Chain::open(staking_config(None), None).unwrap();
    let ledger = chain.staking_ledger().unwrap();
    assert_eq!(ledger.pools().incentive, 100_000_000 * OPG);
    assert_eq!(balance(&chain, STAKING_PRECOMPILE), opg(100_000_000));
    assert_eq!(ledger.params(), &params());
    check_backing(&chain);
    let stats = view(&chain, IStaking::networkStatsCall {});
    assert_eq!(stats.totalBonded, U256::ZERO);
    assert_eq!(stats.incentivePool, opg(100_000_000));
    assert!(stats.runwayBlocks > 0);
}

#[test]
fn stake_delegate_earn_withdraw_and_unbond() {
    let chain = Chain::open(staking_config(None), None).unwrap();
    let (alice, bob) = (signer(0), signer(1));

    let r =
        send(&chain, &alice, IStaking::createValidatorCall { commissionPpm: 100_000 }, opg(1_000));
    assert!(r.status());
    assert_eq!(r.inner.logs().len(), 1, "one StakingCall event");
    // The owner's commission on this block's emissions is paid to its balance at the block's end.
    let paid = DEV_BALANCE - opg(1_000) - fee(&r);
    let commission = balance(&chain, alice.address()) - paid;
    assert!(commission > U256::ZERO && commission < opg(1), "{commission}");
    let info = view(&chain, IStaking::stakerInfoCall { staker: alice.address() });
    assert!(info.exists && !info.isOperator && !info.jailed);
    assert_eq!(info.tokens, opg(1_000));
    assert_eq!(info.commissionPpm, 100_000);
    check_backing(&chain);

    let r = send(&chain, &bob, IStaking::delegateCall { staker: alice.address() }, opg(500));
    assert!(r.status());
    let stake =
        view(&chain, IStaking::stakeOfCall { delegator: bob.address(), staker: alice.address() });
    assert_eq!(stake, opg(500));
    check_backing(&chain);

    // Emissions accrue block by block.
    chain.mine(3).unwrap();
    let pending = view(
        &chain,
        IStaking::pendingRewardsCall { delegator: bob.address(), staker: alice.address() },
    );
    assert!(pending.emissions > U256::ZERO);
    assert_eq!(pending.inferenceFees, U256::ZERO);
    let stats = view(&chain, IStaking::networkStatsCall {});
    assert!(pending.txFees > U256::ZERO, "a share of the tips paid since delegating");
    assert_eq!(stats.totalBonded, opg(1_500));
    // Emissions pay nearly everything; the transactions' tips are the rest.
    assert!(stats.subsidyRatioPpm < U256::from(1_000_000u64), "{}", stats.subsidyRatioPpm);
    assert!(stats.subsidyRatioPpm > U256::from(990_000u64), "{}", stats.subsidyRatioPpm);
    assert!(stats.feeYieldPpm > U256::ZERO);
    assert!(stats.nominalYieldPpm > U256::ZERO);

    // Withdrawing in the next block pays exactly what was pending at the head.
    let before = balance(&chain, bob.address());
    let r =
        send(&chain, &bob, IStaking::withdrawRewardsCall { staker: alice.address() }, U256::ZERO);
    assert!(r.status());
    assert_eq!(
        balance(&chain, bob.address()),
        before - fee(&r) + pending.emissions + pending.txFees
    );
    check_backing(&chain);

    // Undelegation pays out after the unbonding period, at a block boundary.
    let r = send(
        &chain,
        &bob,
        IStaking::undelegateCall { staker: alice.address(), amount: opg(200) },
        U256::ZERO,
    );
    assert!(r.status());
    let at = r.block_number.unwrap();
    let stake =
        view(&chain, IStaking::stakeOfCall { delegator: bob.address(), staker: alice.address() });
    assert_eq!(stake, opg(300));
    let before = balance(&chain, bob.address());
    chain.mine(5).unwrap();
    assert_eq!(chain.block_number(), at + 5);
    assert_eq!(balance(&chain, bob.address()), before, "not matured yet");
    chain.mine(1).unwrap();
    assert_eq!(balance(&chain, bob.address()), before + opg(200));
    check_backing(&chain);

    // Redelegation to an operator.
    let carol = signer(2);
    let r = send(&chain, &carol, IStaking::createOperatorCall { commissionPpm: 50_000 }, opg(50));
    assert!(r.status());
    let r = send(
        &chain,
        &bob,
        IStaking::redelegateCall { from: alice.address(), to: carol.address(), amount: opg(100) },
        U256::ZERO,
    );
    assert!(r.status());
    let moved =
        view(&chain, IStaking::stakeOfCall { delegator: bob.address(), staker: carol.address() });
    assert_eq!(moved, opg(100));
    let list = view(&chain, IStaking::stakersCall {});
    assert_eq!(list.len(), 2);
    check_backing(&chain);
}

#[test]
fn transaction_tips_become_rewards_of_the_validators_and_their_delegators() {
    let chain = Chain::open(staking_config(None), None).unwrap();
    let (alice, bob) = (signer(0), signer(1));
    let mut receipts = vec![];
    // Before any validator exists, tips go to the fee collector as base fee (part burned).
    let nonce = chain.nonce(bob.address(), BlockId::pending()).unwrap();
    let tx = eip1559(nonce, TxKind::Call(CHARLIE), opg(1), Bytes::new(), 21_000);
    let first =
        chain.receipt(chain.send_raw_transaction(&raw(&bob, tx)).unwrap()).unwrap().unwrap();
    check_backing(&chain);
    receipts.push(send(
        &chain,
        &alice,
        IStaking::createValidatorCall { commissionPpm: 100_000 },
        opg(1_000),
    ));
    for _ in 0..3 {
        let nonce = chain.nonce(bob.address(), BlockId::pending()).unwrap();
        let tx = eip1559(nonce, TxKind::Call(CHARLIE), opg(1), Bytes::new(), 21_000);
        let hash = chain.send_raw_transaction(&raw(&bob, tx)).unwrap();
        receipts.push(chain.receipt(hash).unwrap().unwrap());
        check_backing(&chain);
    }
    // Every tip (1 gwei per gas: the base fee stays under max fee − tip) reached the ledger, exactly.
    let tip = |r: &TransactionReceipt| {
        assert!(r.effective_gas_price < 3 * GWEI);
        u128::from(r.gas_used) * GWEI
    };
    let stats = chain.staking_ledger().unwrap().stats().clone();
    assert_eq!(stats.tips, receipts.iter().map(tip).sum::<u128>());
    assert_eq!(stats.base_fees, tip(&first));
    // Alice, the only validator, earned them: commission to her balance, the rest pending as tx fees.
    let pending = view(
        &chain,
        IStaking::pendingRewardsCall { delegator: alice.address(), staker: alice.address() },
    );
    assert!(pending.txFees > U256::ZERO);
    assert!(view(&chain, IStaking::networkStatsCall {}).feeYieldPpm > U256::ZERO);
}

#[test]
fn liquid_staking_mints_and_redeems_through_the_exit_queue() {
    let chain = Chain::open(staking_config(None), None).unwrap();
    let (alice, dave) = (signer(0), signer(3));
    assert!(
        send(&chain, &alice, IStaking::createValidatorCall { commissionPpm: 100_000 }, opg(1_000))
            .status()
    );

    let r = send(&chain, &dave, IStaking::lstDepositCall {}, opg(100));
    assert!(r.status());
    let st = view(&chain, IStaking::stOpgBalanceOfCall { account: dave.address() });
    assert_eq!(st, opg(100), "the first deposit mints at 1:1");
    let rate = view(&chain, IStaking::lstRateCall {});
    assert_eq!(rate.stOpg, opg(100));
    chain.mine(2).unwrap();
    let rate = view(&chain, IStaking::lstRateCall {});
    assert!(rate.opgPerStOpgE18 >= U256::from(OPG), "the rate never falls without a slash");
    check_backing(&chain);

    let r = send(&chain, &dave, IStaking::lstRedeemCall { stOpgAmount: opg(40) }, U256::ZERO);
    assert!(r.status());
    let q = view(&chain, IStaking::exitQueueCall {});
    assert!(q.entries >= U256::from(1u64));
    assert!(q.amount >= opg(40));
    assert_eq!(view(&chain, IStaking::stOpgBalanceOfCall { account: dave.address() }), opg(60));
    check_backing(&chain);
}

#[test]
fn bad_input_reverts_with_the_ledgers_reason_and_changes_nothing() {
    let chain = Chain::open(staking_config(None), None).unwrap();
    let (alice, bob) = (signer(0), signer(1));
    assert!(
        send(&chain, &alice, IStaking::createValidatorCall { commissionPpm: 100_000 }, opg(1_000))
            .status()
    );

    let cases: Vec<(Vec<u8>, U256, &str)> = vec![
        (
            IStaking::delegateCall { staker: CHARLIE }.abi_encode(),
            opg(1),
            "no validator or operator at",
        ),
        (
            IStaking::createValidatorCall { commissionPpm: 600_000 }.abi_encode(),
            opg(200),
            "commission",
        ),
        (IStaking::lstRedeemCall { stOpgAmount: opg(1) }.abi_encode(), U256::ZERO, "stOPG"),
        (
            IStaking::undelegateCall { staker: alice.address(), amount: opg(1) }.abi_encode(),
            U256::ZERO,
            "",
        ),
        (IStaking::createOperatorCall { commissionPpm: 100_000 }.abi_encode(), opg(1), "self-bond"),
        (
            IStaking::undelegateCall { staker: alice.address(), amount: U256::ZERO }.abi_encode(),
            opg(1),
            "does not accept OPG",
        ),
        (vec![1, 2, 3, 4], U256::ZERO, "unknown function selector"),
    ];
    for (data, value, want) in cases {
        let request = TransactionRequest::default()
            .from(bob.address())
            .to(STAKING_PRECOMPILE)
            .value(value)
            .input(Bytes::from(data.clone()).into());
        let why = reason(chain.call(&request, BlockId::latest()).unwrap_err());
        assert!(why.contains(want), "{why:?} should mention {want:?}");
        assert!(!why.is_empty());

        let ledger_before = chain.staking_ledger().unwrap();
        let bob_before = balance(&chain, bob.address());
        let nonce = chain.nonce(bob.address(), BlockId::pending()).unwrap();
        let tx = eip1559(nonce, TxKind::Call(STAKING_PRECOMPILE), value, data.into(), 3_000_000);
        let hash = chain.send_raw_transaction(&raw(&bob, tx)).unwrap();
        let r = chain.receipt(hash).unwrap().unwrap();
        assert!(!r.status(), "{want}: the transaction reverts");
        assert!(r.inner.logs().is_empty());
        assert_eq!(balance(&chain, bob.address()), bob_before - fee(&r), "only gas was paid");
        // The block boundary released emissions and paid commission, but no stake changed.
        let after = chain.staking_ledger().unwrap();
        assert_eq!(after.total_bonded(), ledger_before.total_bonded());
        assert_eq!(after.st_opg_supply(), ledger_before.st_opg_supply());
        check_backing(&chain);
    }

    // Bonding more than the balance: the EVM refuses the transaction before it runs.
    let nonce = chain.nonce(bob.address(), BlockId::pending()).unwrap();
    let data = IStaking::delegateCall { staker: alice.address() }.abi_encode();
    let tx = eip1559(nonce, TxKind::Call(STAKING_PRECOMPILE), DEV_BALANCE, data.into(), 3_000_000);
    let e = chain.send_raw_transaction(&raw(&bob, tx)).unwrap_err();
    assert!(matches!(e, TxError::InsufficientFunds { .. }), "{e}");
    assert!(e.to_string().contains("insufficient funds"), "{e}");

    // The system hook is closed to users.
    let why = reason(
        call(
            &chain,
            bob.address(),
            IStaking::systemBlockCall { number: 99, end: false },
            U256::ZERO,
        )
        .unwrap_err(),
    );
    assert!(why.contains("block execution only"), "{why}");
}

#[test]
fn ledger_state_is_under_the_state_root_and_survives_restart_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let (root, ledger_json, head) = {
        let chain = Chain::open(staking_config(Some(dir.path())), None).unwrap();
        let (alice, bob) = (signer(0), signer(1));
        assert!(
            send(
                &chain,
                &alice,
                IStaking::createValidatorCall { commissionPpm: 100_000 },
                opg(1_000)
            )
            .status()
        );
        assert!(
            send(&chain, &bob, IStaking::delegateCall { staker: alice.address() }, opg(500))
                .status()
        );
        assert!(
            send(
                &chain,
                &bob,
                IStaking::undelegateCall { staker: alice.address(), amount: opg(100) },
                U256::ZERO
            )
            .status()
        );
        // An empty block still changes the ledger (height, emissions), hence the state root.
        let before = chain.state_root();
        chain.mine(1).unwrap();
        assert_ne!(chain.state_root(), before);
        let ledger = chain.staking_ledger().unwrap();
        (chain.state_root(), serde_json::to_string(&ledger).unwrap(), chain.block_number())
    };

    // Restart: the stored state hashes to the head's root and holds the same ledger.
    let chain = Chain::open(staking_config(Some(dir.path())), None).unwrap();
    assert_eq!(chain.block_number(), head);
    assert_eq!(chain.state_root(), root);
    assert_eq!(serde_json::to_string(&chain.staking_ledger().unwrap()).unwrap(), ledger_json);
    check_backing(&chain);
    // It keeps working: the pending undelegation pays out after the restart.
    let bob = signer(1);
    let before = balance(&chain, bob.address());
    chain.mine(6).unwrap();
    assert_eq!(balance(&chain, bob.address()), before + opg(100));

    // Replay from genesis on a fresh node: every block re-executes to the same header.
    let fresh =
        Chain::open(ChainConfig { mining: MiningMode::Manual, ..staking_config(None) }, None)
            .unwrap();
    for n in 1..=chain.block_number() {
        fresh.import_block(&chain.stored_block(n).unwrap().unwrap()).unwrap();
    }
    assert_eq!(fresh.state_root(), chain.state_root());
    assert_eq!(
        serde_json::to_string(&fresh.staking_ledger().unwrap()).unwrap(),
        serde_json::to_string(&chain.staking_ledger().unwrap()).unwrap()
    );

    // A node with other staking parameters computes another genesis, so it cannot import the chain.
    let other =
        Chain::open(ChainConfig { mining: MiningMode::Manual, ..config(None) }, None).unwrap();
    assert_ne!(other.state_root(), Chain::open(staking_config(None), None).unwrap().state_root());
}

mod from_file {
    alloy::sol!("abi/IStaking.sol");
}

#[test]
fn the_solidity_interface_file_matches_the_precompile() {
    use from_file::IStaking as F;
    use ogn_chain::IStaking as P;
    let pairs = [
        (F::createValidatorCall::SELECTOR, P::createValidatorCall::SELECTOR),
        (F::createOperatorCall::SELECTOR, P::createOperatorCall::SELECTOR),
        (F::delegateCall::SELECTOR, P::delegateCall::SELECTOR),
        (F::undelegateCall::SELECTOR, P::undelegateCall::SELECTOR),
        (F::redelegateCall::SELECTOR, P::redelegateCall::SELECTOR),
        (F::withdrawRewardsCall::SELECTOR, P::withdrawRewardsCall::SELECTOR),
        (F::setCommissionCall::SELECTOR, P::setCommissionCall::SELECTOR),
        (F::unjailCall::SELECTOR, P::unjailCall::SELECTOR),
        (F::lstDepositCall::SELECTOR, P::lstDepositCall::SELECTOR),
        (F::lstRedeemCall::SELECTOR, P::lstRedeemCall::SELECTOR),
        (F::lstTransferCall::SELECTOR, P::lstTransferCall::SELECTOR),
        (F::stakeOfCall::SELECTOR, P::stakeOfCall::SELECTOR),
        (F::pendingRewardsCall::SELECTOR, P::pendingRewardsCall::SELECTOR),
        (F::stakerInfoCall::SELECTOR, P::stakerInfoCall::SELECTOR),
        (F::stakersCall::SELECTOR, P::stakersCall::SELECTOR),
        (F::stOpgBalanceOfCall::SELECTOR, P::stOpgBalanceOfCall::SELECTOR),
        (F::lstRateCall::SELECTOR, P::lstRateCall::SELECTOR),
        (F::exitQueueCall::SELECTOR, P::exitQueueCall::SELECTOR),
        (F::networkStatsCall::SELECTOR, P::networkStatsCall::SELECTOR),
        (F::systemBlockCall::SELECTOR, P::systemBlockCall::SELECTOR),
    ];
    for (file, native) in pairs {
        assert_eq!(file, native);
    }
    use alloy::sol_types::SolEvent;
    assert_eq!(F::StakingCall::SIGNATURE_HASH, P::StakingCall::SIGNATURE_HASH);
    // Return types decode the same way too.
    let out = P::networkStatsCall::abi_encode_returns(&P::networkStatsReturn {
        totalBonded: U256::from(1u64),
        nominalYieldPpm: U256::from(2u64),
        feeYieldPpm: U256::from(3u64),
        subsidyRatioPpm: U256::from(4u64),
        incentivePool: U256::from(5u64),
        runwayBlocks: 6,
        height: 7,
    });
    let back = F::networkStatsCall::abi_decode_returns(&out).unwrap();
    assert_eq!((back.runwayBlocks, back.height), (6, 7));
}
