//! The staking precompile at [`STAKING_PRECOMPILE`] (`0x…0100`): the chain's face of [`ogn_ledger`]
//! (validators, inference operators, delegation, the stOPG liquid staking pool, rewards by source).
//! Its ABI is [`IStaking`] (Solidity source: `abi/IStaking.sol`).
//!
//! # Where the ledger lives
//! The whole [`Ledger`] is serialized (`serde_json`) into the storage of the precompile's account:
//! slot 0 holds the byte length, slots `1..=⌈len/32⌉` the bytes in 32-byte words (the last one padded
//! with zeros; slots beyond the length are zero). So the ledger is part of the account's storage root,
//! hence of every block's state root, and it is persisted, reloaded and replayed like any contract's
//! storage. A call rewrites only the words that changed.
//!
//! # Where the OPG is
//! Native OPG (the EVM balance) is the ledger's liquid balance. Inside the ledger, the precompile's own
//! address is a *bridge* account holding a float of [`BRIDGE_FLOAT`] (far more than can ever exist):
//! - `msg.value` sent with a call moves (by the EVM) to the precompile's balance and, in the ledger, from
//!   the bridge to the caller, who then bonds it;
//! - whatever the ledger credits to an account (rewards withdrawn, commission, matured unbonding) is
//!   moved back to the bridge and paid from the precompile's balance in the same call.
//!
//! After every call the precompile's EVM balance is exactly `ledger total supply − bridge balance`:
//! bonded + unbonding + incentive pool + collected fees + reward pools + treasury + dust + stOPG buffer.
//! The incentive pool is created at genesis as the precompile's balance; OPG the ledger mints (inflation
//! curve) is added to that balance, OPG it burns (slashing, fee burn) is removed from it.
//!
//! # Block boundaries
//! Before a block's transactions and after them, block execution makes a system call (caller
//! [`SYSTEM_ADDRESS`], no gas charged to anyone, not part of the block's gas): `systemBlock(n, false)`
//! runs [`Ledger::begin_block`] (matured unbonding is paid out, emissions released), `systemBlock(n,
//! true)` runs [`Ledger::end_block`] (rewards distributed by stake). Both are deterministic parts of
//! block execution, so every node computes the same state root.
//!
//! # Transaction fees
//! The base fee is burned by the EVM. Tips go to the block's beneficiary, which is this precompile; the
//! end-of-block call hands them to the ledger as transaction fees (to the active validator with the most stake
//! and its delegators, or, with none, to the fee collector) before it distributes rewards, so `pendingRewards`
//! and `networkStats` show yield from transaction fees.
//!
//! # Errors
//! Every refusal reverts with Solidity's `Error(string)` carrying the ledger's reason (for example
//! `no validator or operator at 0x…`); a reverted call changes nothing (the EVM reverts the value
//! transfer too). Sending more OPG than the sender holds is refused by the EVM before the call runs.
//!
//! # Gas
//! [`BASE_GAS`] per call plus [`WORD_READ_GAS`] per storage word of the ledger read and
//! [`WORD_WRITE_GAS`] per word written.

use alloy::{
    primitives::{Address, Bytes, Log, U256, address},
    sol,
    sol_types::{SolCall, SolEvent, SolValue},
};
use ogn_ledger::{Ledger, LedgerError, PPM, Params, Role};
use revm::{
    context_interface::{ContextTr, JournalTr, journaled_state::account::JournaledAccountTr},
    interpreter::{CallInputs, InstructionResult, InterpreterResult},
};

use crate::inference::revert_reason;

/// Address of the staking precompile (holds the bonded OPG and the ledger's state).
pub const STAKING_PRECOMPILE: Address = address!("0000000000000000000000000000000000000100");

/// Caller of the block-boundary system calls (EIP-4788's system address: no key controls it).
pub const SYSTEM_ADDRESS: Address = address!("fffffffffffffffffffffffffffffffffffffffe");

/// The bridge account's float inside the ledger (10^18 OPG in base units).
pub const BRIDGE_FLOAT: u128 = 1_000_000_000_000_000_000_000_000_000_000_000_000;

/// Gas of every call.
pub const BASE_GAS: u64 = 20_000;
/// Gas per storage word of the ledger read.
pub const WORD_READ_GAS: u64 = 20;
/// Gas per storage word written.
pub const WORD_WRITE_GAS: u64 = 500;

sol! {
    /// The staking precompile at `0x…0100` (same as `abi/IStaking.sol`). Amounts are in wei (10^-18
    /// OPG); rates in parts per million.
    #[derive(Debug, PartialEq, Eq)]
    interface IStaking {
        function createValidator(uint32 commissionPpm) external payable;
        function createOperator(uint32 commissionPpm) external payable;
        function delegate(address staker) external payable returns (uint256 shares);
        function undelegate(address staker, uint256 amount) external returns (uint64 entryId);
        function redelegate(address from, address to, uint256 amount) external returns (uint64 entryId);
        function withdrawRewards(address staker) external returns (uint256 inferenceFees, uint256 emissions, uint256 txFees);
        function setCommission(uint32 commissionPpm) external;
        function unjail() external;
        function lstDeposit() external payable returns (uint256 stOpgMinted);
        function lstRedeem(uint256 stOpgAmount) external returns (uint256 opgQueued);
        function lstTransfer(address to, uint256 stOpgAmount) external;

        function stakeOf(address delegator, address staker) external view returns (uint256 amount);
        function pendingRewards(address delegator, address staker) external view returns (uint256 inferenceFees, uint256 emissions, uint256 txFees);
        function stakerInfo(address staker) external view returns (bool exists, bool isOperator, uint256 tokens, uint32 commissionPpm, bool jailed, uint256 delegators);
        function stakers() external view returns (address[] memory);
        function stOpgBalanceOf(address account) external view returns (uint256);
        function lstRate() external view returns (uint256 opg, uint256 stOpg, uint256 opgPerStOpgE18);
        function exitQueue() external view returns (uint256 entries, uint256 amount, uint64 expectedExitHeight);
        function networkStats() external view returns (uint256 totalBonded, uint256 nominalYieldPpm, uint256 feeYieldPpm, uint256 subsidyRatioPpm, uint256 incentivePool, uint64 runwayBlocks, uint64 height);

        function systemBlock(uint64 number, bool end) external;

        event StakingCall(address indexed caller, bytes4 indexed action, uint256 value);
    }
}

pub(crate) fn to_ledger(a: Address) -> ogn_ledger::Address {
    ogn_ledger::Address(a.0.0)
}

pub(crate) fn from_ledger(a: ogn_ledger::Address) -> Address {
    Address::from(a.0)
}

pub(crate) const BRIDGE: ogn_ledger::Address =
    ogn_ledger::Address([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00]);

/// The words of an encoded ledger: `[len, chunk…]`.
pub(crate) fn encode_words(ledger: &Ledger) -> Result<Vec<U256>, String> {
    let bytes = serde_json::to_vec(ledger).map_err(|e| format!("staking: encode ledger: {e}"))?;
    let mut words = vec![U256::from(bytes.len())];
    for chunk in bytes.chunks(32) {
        let mut w = [0u8; 32];
        w[..chunk.len()].copy_from_slice(chunk);
        words.push(U256::from_be_bytes(w));
    }
    Ok(words)
}

fn decode_words(words: &[U256]) -> Result<Ledger, String> {
    let len = words.first().map_or(0, |w| w.to::<usize>());
    let mut bytes = Vec::with_capacity(words.len() * 32);
    for w in &words[1..] {
        bytes.extend_from_slice(&w.to_be_bytes::<32>());
    }
    bytes.truncate(len);
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("staking: stored ledger does not decode: {e}"))
}

/// Genesis of the staking account: its storage (the encoded ledger) and its balance (the incentive pool).
pub(crate) fn genesis(params: &Params) -> Result<(Vec<(U256, U256)>, U256), String> {
    let ledger = Ledger::new(params.clone(), [(BRIDGE, BRIDGE_FLOAT)])
        .map_err(|e| format!("staking parameters: {e}"))?;
    let words = encode_words(&ledger)?;
    let storage = words.into_iter().enumerate().map(|(i, w)| (U256::from(i), w)).collect();
    Ok((storage, U256::from(ledger.total_supply() - BRIDGE_FLOAT)))
}

/// Reads the ledger from the staking account's storage through the journal; returns it and the words.
pub(crate) fn load<J: JournalTr>(journal: &mut J) -> Result<(Ledger, Vec<U256>), String> {
    let mut sload = |slot: usize| {
        journal
            .sload(STAKING_PRECOMPILE, U256::from(slot))
            .map(|s| s.data)
            .map_err(|e| format!("staking: storage read failed: {e}"))
    };
    let len = sload(0)?;
    if len.is_zero() {
        return Err("staking: the ledger is missing from the staking account".into());
    }
    let n = len.to::<usize>().div_ceil(32);
    let mut words = vec![len];
    for i in 1..=n {
        words.push(sload(i)?);
    }
    Ok((decode_words(&words)?, words))
}

/// Writes the words that differ from `old`; returns how many were written.
pub(crate) fn store<J: JournalTr>(
    journal: &mut J,
    old: &[U256],
    new: &[U256],
) -> Result<u64, String> {
    let mut written = 0;
    for i in 0..old.len().max(new.len()) {
        let (o, n) =
            (old.get(i).copied().unwrap_or_default(), new.get(i).copied().unwrap_or_default());
        if o != n {
            journal
                .sstore(STAKING_PRECOMPILE, U256::from(i), n)
                .map_err(|e| format!("staking: storage write failed: {e}"))?;
            written += 1;
        }
    }
    Ok(written)
}

/// Accounts (other than the bridge) holding liquid OPG in the ledger (read from its encoding: the ledger
/// offers no iterator over balances).
fn holders(ledger: &Ledger) -> Result<Vec<(Address, u128)>, String> {
    #[derive(serde::Deserialize)]
    struct Balances {
        balances: std::collections::BTreeMap<ogn_ledger::Address, u128>,
    }
    let bytes = serde_json::to_vec(ledger).map_err(|e| format!("staking: encode ledger: {e}"))?;
    let b: Balances =
        serde_json::from_slice(&bytes).map_err(|e| format!("staking: ledger balances: {e}"))?;
    Ok(b.balances
        .into_iter()
        .filter(|(a, _)| *a != BRIDGE)
        .map(|(a, v)| (from_ledger(a), v))
        .collect())
}

/// Moves every liquid ledger balance out to the EVM and sets the precompile's balance to what the ledger
/// holds. Returns an internal error only for an inconsistent state.
pub(crate) fn settle<J: JournalTr>(journal: &mut J, ledger: &mut Ledger) -> Result<(), String> {
    let payouts = holders(ledger)?;
    let mut total: u128 = 0;
    for (account, amount) in &payouts {
        ledger
            .transfer(to_ledger(*account), BRIDGE, *amount)
            .map_err(|e| format!("staking: payout to {account}: {e}"))?;
        total += amount;
    }
    let held = ledger
        .total_supply()
        .checked_sub(ledger.balance(BRIDGE))
        .ok_or("staking: bridge float exceeds the supply")?;
    {
        let mut account = journal
            .load_account_mut(STAKING_PRECOMPILE)
            .map_err(|e| format!("staking: account load failed: {e}"))?;
        account.data.set_balance(U256::from(held) + U256::from(total));
    }
    for (account, amount) in payouts {
        if let Some(e) = journal
            .transfer(STAKING_PRECOMPILE, account, U256::from(amount))
            .map_err(|e| format!("staking: transfer failed: {e}"))?
        {
            return Err(format!("staking: payout to {account} failed: {e:?}"));
        }
    }
    Ok(())
}

fn amount(v: U256) -> Result<u128, LedgerError> {
    u128::try_from(v).map_err(|_| LedgerError::Overflow("amount"))
}

fn ppm(v: u128, total: u128) -> U256 {
    if total == 0 {
        U256::ZERO
    } else {
        U256::from(ogn_ledger::math::mul_div(v, u128::from(PPM), total).unwrap_or(u128::MAX))
    }
}

/// What one call does.
enum Action {
    /// Read only: return the data.
    View(Bytes),
    /// Changed the ledger: return the data.
    Write(Bytes),
}

fn dispatch(
    ledger: &mut Ledger,
    caller: Address,
    value: u128,
    input: &[u8],
) -> Result<Action, String> {
    use IStaking as S;
    let who = to_ledger(caller);
    let selector: [u8; 4] = input
        .get(..4)
        .and_then(|s| s.try_into().ok())
        .ok_or("staking: calldata shorter than a function selector")?;
    let bad = |e: alloy::sol_types::Error| format!("staking: cannot decode the call: {e}");
    let payable = matches!(
        selector,
        S::createValidatorCall::SELECTOR
            | S::createOperatorCall::SELECTOR
            | S::delegateCall::SELECTOR
            | S::lstDepositCall::SELECTOR
    );
    if value > 0 && !payable {
        return Err("staking: this function does not accept OPG (msg.value must be 0)".into());
    }
    if value > 0 {
        ledger.transfer(BRIDGE, who, value).map_err(|e| e.to_string())?;
    }
    let l = |e: LedgerError| e.to_string();
    let w = |b: Vec<u8>| Ok(Action::Write(b.into()));
    let v = |b: Vec<u8>| Ok(Action::View(b.into()));
    match selector {
        S::createValidatorCall::SELECTOR | S::createOperatorCall::SELECTOR => {
            let role = if selector == S::createValidatorCall::SELECTOR {
                Role::Validator
            } else {
                Role::Operator
            };
            let c = S::createValidatorCall::abi_decode_raw(&input[4..]).map_err(bad)?;
            if value == 0 {
                return Err("staking: send the self-bond as msg.value".into());
            }
            ledger.create_staker(who, role, value, u64::from(c.commissionPpm)).map_err(l)?;
            w(vec![])
        }
        S::delegateCall::SELECTOR => {
            let c = S::delegateCall::abi_decode(input).map_err(bad)?;
            if value == 0 {
                return Err("staking: send the amount to delegate as msg.value".into());
            }
            let shares = ledger.delegate(who, to_ledger(c.staker), value).map_err(l)?;
            w(U256::from(shares).abi_encode())
        }
        S::undelegateCall::SELECTOR => {
            let c = S::undelegateCall::abi_decode(input).map_err(bad)?;
            let id = ledger.undelegate(who, to_ledger(c.staker), amount(c.amount).map_err(l)?);
            w(id.map_err(l)?.abi_encode())
        }
        S::redelegateCall::SELECTOR => {
            let c = S::redelegateCall::abi_decode(input).map_err(bad)?;
            let id = ledger
                .redelegate(who, to_ledger(c.from), to_ledger(c.to), amount(c.amount).map_err(l)?)
                .map_err(l)?;
            w(id.abi_encode())
        }
        S::withdrawRewardsCall::SELECTOR => {
            let c = S::withdrawRewardsCall::abi_decode(input).map_err(bad)?;
            let r = ledger.withdraw_rewards(who, to_ledger(c.staker)).map_err(l)?;
            w((U256::from(r.inference_fees), U256::from(r.emissions), U256::from(r.tx_fees))
                .abi_encode_params())
        }
        S::setCommissionCall::SELECTOR => {
            let c = S::setCommissionCall::abi_decode(input).map_err(bad)?;
            ledger.set_commission(who, u64::from(c.commissionPpm)).map_err(l)?;
            w(vec![])
        }
        S::unjailCall::SELECTOR => {
            ledger.unjail(who).map_err(l)?;
            w(vec![])
        }
        S::lstDepositCall::SELECTOR => {
            if value == 0 {
                return Err("staking: send the amount to deposit as msg.value".into());
            }
            let minted = ledger.lst_deposit(who, value).map_err(l)?;
            w(U256::from(minted).abi_encode())
        }
        S::lstRedeemCall::SELECTOR => {
            let c = S::lstRedeemCall::abi_decode(input).map_err(bad)?;
            let queued = ledger.lst_redeem(who, amount(c.stOpgAmount).map_err(l)?).map_err(l)?;
            w(U256::from(queued).abi_encode())
        }
        S::lstTransferCall::SELECTOR => {
            let c = S::lstTransferCall::abi_decode(input).map_err(bad)?;
            ledger
                .lst_transfer(who, to_ledger(c.to), amount(c.stOpgAmount).map_err(l)?)
                .map_err(l)?;
            w(vec![])
        }
        S::systemBlockCall::SELECTOR => {
            if caller != SYSTEM_ADDRESS {
                return Err("staking: systemBlock is called by block execution only".into());
            }
            let c = S::systemBlockCall::abi_decode(input).map_err(bad)?;
            if c.end {
                ledger.end_block();
            } else {
                ledger.begin_block(c.number).map_err(l)?;
            }
            w(vec![])
        }
        S::stakeOfCall::SELECTOR => {
            let c = S::stakeOfCall::abi_decode(input).map_err(bad)?;
            v(U256::from(ledger.delegation_value(to_ledger(c.delegator), to_ledger(c.staker)))
                .abi_encode())
        }
        S::pendingRewardsCall::SELECTOR => {
            let c = S::pendingRewardsCall::abi_decode(input).map_err(bad)?;
            let r = ledger.pending_rewards(to_ledger(c.delegator), to_ledger(c.staker));
            v((U256::from(r.inference_fees), U256::from(r.emissions), U256::from(r.tx_fees))
                .abi_encode_params())
        }
        S::stakerInfoCall::SELECTOR => {
            let c = S::stakerInfoCall::abi_decode(input).map_err(bad)?;
            let a = to_ledger(c.staker);
            let out = match ledger.get_staker(a) {
                None => (false, false, U256::ZERO, 0u32, false, U256::ZERO),
                Some(s) => (
                    true,
                    s.role == Role::Operator,
                    U256::from(s.tokens),
                    u32::try_from(s.commission_ppm).unwrap_or(u32::MAX),
                    s.jailed_until.is_some() || s.tombstoned,
                    U256::from(ledger.delegator_count(a)),
                ),
            };
            v(out.abi_encode_params())
        }
        S::stakersCall::SELECTOR => {
            let list: Vec<Address> = ledger.stakers().map(|(a, _)| from_ledger(*a)).collect();
            v(list.abi_encode())
        }
        S::stOpgBalanceOfCall::SELECTOR => {
            let c = S::stOpgBalanceOfCall::abi_decode(input).map_err(bad)?;
            v(U256::from(ledger.st_opg_balance(to_ledger(c.account))).abi_encode())
        }
        S::lstRateCall::SELECTOR => {
            let r = ledger.lst_rate();
            v((U256::from(r.opg), U256::from(r.st_opg), U256::from(r.per_st_opg_e18()))
                .abi_encode_params())
        }
        S::exitQueueCall::SELECTOR => {
            let q = ledger.lst_exit_queue();
            v((U256::from(q.entries), U256::from(q.amount), q.expected_exit_height)
                .abi_encode_params())
        }
        S::networkStatsCall::SELECTOR => v(network_stats(ledger).abi_encode_params()),
        _ => Err(format!("staking: unknown function selector 0x{}", alloy::hex::encode(selector))),
    }
}

/// `(totalBonded, nominalYieldPpm, feeYieldPpm, subsidyRatioPpm, incentivePool, runwayBlocks, height)`.
/// Yields are annualized over the ledger's life: rewards allocated per block × blocks per year ÷ total
/// bonded; the fee yield counts inference and transaction fees only; the subsidy ratio is the share of
/// rewards paid by emissions; the runway is the number of blocks until the incentive pool halves.
pub fn network_stats(ledger: &Ledger) -> (U256, U256, U256, U256, U256, u64, u64) {
    let bonded = ledger.total_bonded();
    let stats = ledger.stats();
    let alloc = &stats.rewards_allocated;
    let height = ledger.height().max(1);
    let per_year = |x: u128| {
        ogn_ledger::math::mul_div(
            x,
            u128::from(ledger.params().blocks_per_year),
            u128::from(height),
        )
        .unwrap_or(u128::MAX)
    };
    let total = alloc.total();
    let fees = alloc.inference_fees + alloc.tx_fees;
    (
        U256::from(bonded),
        ppm(per_year(total), bonded),
        ppm(per_year(fees), bonded),
        ppm(alloc.emissions, total),
        U256::from(ledger.pools().incentive),
        ledger.incentive_runway_blocks(PPM / 2).unwrap_or(0),
        ledger.height(),
    )
}

/// Feeds the block's transaction tips into the ledger, before its end-of-block distribution.
///
/// Blocks name the precompile as beneficiary, so tips land on its EVM balance, which otherwise always equals
/// `ledger supply − bridge balance` after a call ([`settle`]). The excess is this block's tips: it leaves the
/// bridge in the ledger as a transaction fee — a tip to the active validator with the most stake (lowest
/// address on a tie), paid to it and its delegators like any reward; with no active validator, as base fee
/// (part burned, the rest to the fee collector).
fn collect_tips<J: JournalTr>(journal: &mut J, ledger: &mut Ledger) -> Result<(), String> {
    let balance = {
        let account = journal
            .load_account_mut(STAKING_PRECOMPILE)
            .map_err(|e| format!("staking: account load failed: {e}"))?;
        *account.data.balance()
    };
    let held = ledger
        .total_supply()
        .checked_sub(ledger.balance(BRIDGE))
        .ok_or("staking: bridge float exceeds the supply")?;
    let Some(tips) = balance.checked_sub(U256::from(held)).filter(|t| !t.is_zero()) else {
        return Ok(());
    };
    let tips = u128::try_from(tips).map_err(|_| "staking: tips exceed 128 bits")?;
    let proposer = ledger
        .stakers()
        .filter(|(_, s)| s.role == Role::Validator && s.is_active())
        .max_by(|(a, x), (b, y)| x.tokens.cmp(&y.tokens).then(b.cmp(a)))
        .map(|(a, _)| *a);
    match proposer {
        Some(p) => ledger.pay_tx_fee(BRIDGE, 0, tips, p),
        None => ledger.pay_tx_fee(BRIDGE, tips, 0, BRIDGE),
    }
    .map_err(|e| format!("staking: tips: {e}"))
}

/// Runs one call to the precompile.
pub(crate) fn run<CTX: ContextTr>(
    context: &mut CTX,
    inputs: &CallInputs,
) -> Result<InterpreterResult, String> {
    let input = inputs.input.bytes(context);
    let gas_limit = inputs.gas_limit;
    let finish = |result: InstructionResult, output: Bytes, gas: u64| {
        crate::evm::precompile_result(result, output, gas, gas_limit)
    };
    let revert =
        |reason: &str, gas: u64| finish(InstructionResult::Revert, revert_reason(reason), gas);
    let value = match crate::evm::direct_call_value(inputs, STAKING_PRECOMPILE, "staking") {
        Ok(v) => v,
        Err(reason) => return Ok(revert(&reason, BASE_GAS)),
    };
    let journal = context.journal_mut();
    let (mut ledger, old) = load(journal)?;
    let read_gas = BASE_GAS + WORD_READ_GAS * old.len() as u64;
    if inputs.caller == SYSTEM_ADDRESS
        && input.get(..4) == Some(IStaking::systemBlockCall::SELECTOR.as_slice())
        && IStaking::systemBlockCall::abi_decode(&input).is_ok_and(|c| c.end)
    {
        collect_tips(journal, &mut ledger)?;
    }
    match dispatch(&mut ledger, inputs.caller, value, &input) {
        Err(reason) => Ok(revert(&reason, read_gas)),
        Ok(Action::View(out)) => Ok(finish(InstructionResult::Return, out, read_gas)),
        Ok(Action::Write(out)) => {
            if inputs.is_static {
                return Ok(revert("staking: state change in a static call", read_gas));
            }
            settle(journal, &mut ledger)?;
            let _ = ledger.take_events();
            let new = encode_words(&ledger)?;
            let written = store(journal, &old, &new)?;
            let system = inputs.caller == SYSTEM_ADDRESS;
            if !system {
                let action = alloy::primitives::FixedBytes::<4>::from_slice(&input[..4]);
                let event = IStaking::StakingCall {
                    caller: inputs.caller,
                    action,
                    value: U256::from(value),
                };
                journal.log(Log { address: STAKING_PRECOMPILE, data: event.encode_log_data() });
            }
            let gas = if system { 0 } else { read_gas + WORD_WRITE_GAS * written };
            Ok(finish(InstructionResult::Return, out, gas))
        }
    }
}

/// The ledger as stored in a world state (for queries outside the EVM).
pub(crate) fn ledger_of(world: &crate::state::WorldState) -> Result<Ledger, String> {
    let len = world.storage(&STAKING_PRECOMPILE, U256::ZERO);
    let n = len.to::<usize>().div_ceil(32);
    let words: Vec<U256> =
        (0..=n).map(|i| world.storage(&STAKING_PRECOMPILE, U256::from(i))).collect();
    decode_words(&words)
}
