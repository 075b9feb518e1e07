//! Building a revm `Evm` for one transaction, with the inference and staking precompiles and the hub
//! installed.
//! `Evm` is `!Send`, so one is built per transaction on the calling thread; the database it reads
//! (`WorldState` behind a `CacheDB`) is `Send` and lives in the chain's shared state. What does not
//! depend on the database, the call-frame stack, is kept per thread and handed from one `Evm` to the
//! next: revm preallocates eight frames of 36 KiB (stack and memory) for each new `Evm`.

use std::{cell::RefCell, sync::Arc};

use alloy::{
    consensus::{Transaction as _, TxEnvelope},
    primitives::{Address, B256, Bytes, U256},
};
use revm::{
    Context, Database, ExecuteEvm, Journal,
    context::{
        BlockEnv, CfgEnv, Evm, TxEnv,
        result::{EVMError, ExecutionResult, InvalidTransaction},
    },
    context_interface::{ContextTr, JournalTr, local::FrameStack},
    handler::{EthFrame, EthPrecompiles, PrecompileProvider, instructions::EthInstructions},
    interpreter::{
        CallInputs, Gas, InstructionResult, InterpreterResult, interpreter::EthInterpreter,
    },
    primitives::{AddressSet, hardfork::SpecId},
    state::EvmState,
};

use crate::inference::{CallOutcome, INFERENCE_PRECOMPILE, Session, handle_call};

/// The hard fork the chain runs (Prague: no EIP-7825 per-transaction gas cap, no blob transactions).
pub(crate) const SPEC: SpecId = SpecId::PRAGUE;

/// Ethereum's precompiles plus the inference precompile, the Inference hub and the staking precompile.
pub(crate) struct OgnPrecompiles<'a> {
    inner: EthPrecompiles,
    addresses: Arc<AddressSet>,
    hub: Address,
    pub(crate) session: Session<'a>,
}

thread_local! {
    /// The warm address set of the last hub address this thread built an EVM for: one is built per
    /// transaction, and the set is the same for every one of them.
    static WARM: RefCell<Option<(Address, Arc<AddressSet>)>> = const { RefCell::new(None) };
}

/// The call frames of one `Evm`; their type does not depend on the database.
type Frames = FrameStack<EthFrame<EthInterpreter>>;

thread_local! {
    /// The frames of the last `Evm` this thread dropped, for the next one it builds. Taken while an
    /// `Evm` runs, so one built meanwhile (none is, today) gets fresh frames.
    static FRAMES: RefCell<Option<Frames>> = const { RefCell::new(None) };
}

impl<'a> OgnPrecompiles<'a> {
    pub(crate) fn new(hub: Address, session: Session<'a>) -> Self {
        let inner = EthPrecompiles::new(SPEC);
        let addresses = WARM.with_borrow_mut(|warm| match warm {
            Some((h, set)) if *h == hub => set.clone(),
            _ => {
                let mut addresses = inner.warm_addresses().clone();
                addresses.insert(INFERENCE_PRECOMPILE);
                addresses.insert(hub);
                addresses.insert(crate::staking::STAKING_PRECOMPILE);
                addresses.insert(crate::jobs::JOBS_PRECOMPILE);
                let set = Arc::new(addresses);
                *warm = Some((hub, set.clone()));
                set
            }
        });
        Self { inner, addresses, hub, session }
    }
}

impl<CTX> PrecompileProvider<CTX> for OgnPrecompiles<'_>
where
    CTX: ContextTr<Cfg = CfgEnv>,
{
    type Output = InterpreterResult;

    fn set_spec(&mut self, spec: SpecId) -> bool {
        <EthPrecompiles as PrecompileProvider<CTX>>::set_spec(&mut self.inner, spec)
    }

    fn run(
        &mut self,
        context: &mut CTX,
        inputs: &CallInputs,
    ) -> Result<Option<InterpreterResult>, String> {
        let address = inputs.bytecode_address;
        if address == crate::staking::STAKING_PRECOMPILE {
            return crate::staking::run(context, inputs).map(Some);
        }
        if address == crate::jobs::JOBS_PRECOMPILE {
            return crate::jobs::run(context, inputs).map(Some);
        }
        if address != INFERENCE_PRECOMPILE && address != self.hub {
            return self.inner.run(context, inputs);
        }
        let input = inputs.input.bytes(context);
        let hub = (address == self.hub).then_some(self.hub);
        let outcome = handle_call(&mut self.session, hub, &input);
        let (result, output, gas) = match outcome {
            CallOutcome::Mismatch(reason) => {
                self.session.mismatch = Some(reason.clone());
                return Err(format!("inference record mismatch: {reason}"));
            }
            CallOutcome::Return { output, gas, logs } => {
                if gas <= inputs.gas_limit && !inputs.is_static {
                    for log in logs {
                        context.journal_mut().log(log);
                    }
                }
                (InstructionResult::Return, output, gas)
            }
            CallOutcome::Revert { data, gas } => (InstructionResult::Revert, data, gas),
        };
        Ok(Some(precompile_result(result, output, gas, inputs.gas_limit)))
    }

    fn warm_addresses(&self) -> &AddressSet {
        &self.addresses
    }
}

/// A precompile's result charging `gas` of `gas_limit`: out of gas (all of it spent, no output) when
/// `gas` exceeds the limit.
pub(crate) fn precompile_result(
    result: InstructionResult,
    output: Bytes,
    gas: u64,
    gas_limit: u64,
) -> InterpreterResult {
    let mut g = Gas::new(gas_limit);
    if gas > gas_limit {
        g.spend_all();
        return InterpreterResult::new(InstructionResult::PrecompileOOG, Bytes::new(), g);
    }
    g.set_spent(gas);
    InterpreterResult::new(result, output, g)
}

/// The OPG sent with a call to the precompile at `address`, which must be called directly (not through
/// DELEGATECALL/CALLCODE, which would run it on another account's storage); the reason otherwise.
pub(crate) fn direct_call_value(
    inputs: &CallInputs,
    address: Address,
    name: &str,
) -> Result<u128, String> {
    if inputs.target_address != address {
        return Err(format!("{name}: call the precompile directly (no DELEGATECALL/CALLCODE)"));
    }
    u128::try_from(inputs.value.get()).map_err(|_| format!("{name}: msg.value too large"))
}

/// The block a transaction executes in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockCtx {
    pub(crate) number: u64,
    pub(crate) timestamp: u64,
    pub(crate) gas_limit: u64,
    pub(crate) base_fee: u64,
    pub(crate) prevrandao: B256,
}

/// How a transaction is checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Checks {
    pub(crate) chain_id: u64,
    /// `eth_call` / `eth_estimateGas`: no nonce, balance or base-fee checks.
    pub(crate) call: bool,
}

pub(crate) type ExecError<E> = EVMError<E, InvalidTransaction>;

/// The result and state changes of one transaction.
pub(crate) type TxResult<E> = Result<(ExecutionResult, EvmState), ExecError<E>>;

/// Executes one transaction against `db` without committing; returns the result, the state changes, and
/// the session (records made or consumed).
pub(crate) fn transact<'a, DB: Database>(
    db: DB,
    block: BlockCtx,
    checks: Checks,
    tx: TxEnv,
    hub: Address,
    session: Session<'a>,
) -> (TxResult<DB::Error>, Session<'a>) {
    let mut cfg = CfgEnv::new_with_spec(SPEC);
    cfg.chain_id = checks.chain_id;
    cfg.disable_nonce_check = checks.call;
    cfg.disable_base_fee = checks.call;
    cfg.disable_balance_check = checks.call;
    cfg.disable_eip3607 = checks.call;
    cfg.tx_chain_id_check = true;
    let block_env = BlockEnv {
        number: U256::from(block.number),
        beneficiary: crate::staking::STAKING_PRECOMPILE,
        timestamp: U256::from(block.timestamp),
        gas_limit: block.gas_limit,
        basefee: block.base_fee,
        difficulty: U256::ZERO,
        prevrandao: Some(block.prevrandao),
        ..Default::default()
    };
    let mut ctx: Context<BlockEnv, TxEnv, CfgEnv, DB, Journal<DB>, ()> = Context::new(db, SPEC);
    ctx.cfg = cfg;
    ctx.block = block_env;
    // `build_mainnet` with this thread's frames instead of eight new ones.
    let frame_stack =
        FRAMES.with_borrow_mut(Option::take).unwrap_or_else(|| Frames::new_prealloc(8));
    let mut evm = Evm {
        ctx,
        inspector: (),
        instruction: EthInstructions::new_mainnet_with_spec(SPEC),
        precompiles: OgnPrecompiles::new(hub, session),
        frame_stack,
    };
    let result = evm.transact(tx).map(|r| (r.result, r.state));
    let Evm { precompiles, frame_stack, .. } = evm;
    FRAMES.with_borrow_mut(|frames| *frames = Some(frame_stack));
    let mut session = precompiles.session;
    if result.is_ok() {
        session.check_all_consumed();
    }
    (result, session)
}

/// The revm transaction for a signed transaction.
pub(crate) fn tx_env(tx: &TxEnvelope, sender: Address) -> TxEnv {
    TxEnv {
        tx_type: tx.tx_type() as u8,
        caller: sender,
        gas_limit: tx.gas_limit(),
        gas_price: tx.max_fee_per_gas(),
        kind: tx.kind(),
        value: tx.value(),
        data: tx.input().clone(),
        nonce: tx.nonce(),
        chain_id: tx.chain_id(),
        access_list: tx.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: tx.max_priority_fee_per_gas(),
        ..Default::default()
    }
}
