//! The [`Chain`] handle: transaction intake (validation, pre-execution), block production, queries.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use alloy::sol_types::SolCall;
use alloy::{
    consensus::{
        EMPTY_OMMER_ROOT_HASH, Eip658Value, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom,
        SignableTransaction, Transaction as _, TxEnvelope, TxType,
        proofs::{calculate_receipt_root, calculate_transaction_root},
        transaction::{Recovered, SignerRecoverable},
    },
    eips::{
        BlockId, BlockNumberOrTag,
        eip1559::{BaseFeeParams, calc_next_block_base_fee},
        eip2718::Decodable2718,
    },
    network::TxSignerSync,
    primitives::{Address, B256, Bloom, Bytes, Signature, TxKind, U256, keccak256},
    rpc::types::{
        Block, BlockTransactions, FeeHistory, Filter, FilterBlockOption, Log as RpcLog,
        Transaction as RpcTransaction, TransactionReceipt, TransactionRequest,
    },
    signers::{
        SignerSync,
        local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English},
    },
};
use parking_lot::{Mutex, RwLock};
use revm::{
    DatabaseCommit,
    context::{
        TxEnv,
        result::{EVMError, ExecutionResult, InvalidTransaction},
    },
    database::{Cache, CacheDB},
    primitives::KECCAK_EMPTY,
};
use tokio::sync::broadcast;

use crate::{
    block::{BlockProposal, ChainBlock, ExecutedBlock, StoredReceipt, encode_tx},
    config::{ChainConfig, MiningMode},
    error::{CallError, ChainError, TxError},
    evm::{BlockCtx, Checks, transact, tx_env},
    inference::{INFERENCE_PRECOMPILE, InferenceRecord, Session, Source, records_root},
    oracle::InferenceOracle,
    staking::{IStaking, STAKING_PRECOMPILE, SYSTEM_ADDRESS},
    state::{StateDiff, WorldState},
    store::{META_CHAIN_ID, META_TIME_OFFSET, Store},
};

/// Largest block range one [`Chain::logs`] query may span.
pub const MAX_LOG_RANGE: u64 = 10_000;
/// Most logs one [`Chain::logs`] query returns.
pub const MAX_LOGS: usize = 10_000;
/// Gas limit of `eth_call` / `eth_estimateGas` when the request names none (EIP-7825's cap, 2^24).
pub const CALL_GAS_CAP: u64 = 1 << 24;
/// Priority fee suggested by [`Chain::max_priority_fee`] (1 gwei).
pub const SUGGESTED_TIP: u128 = 1_000_000_000;

/// Longest an auto-mined block waits for more transactions (see [`Chain::mine_waiting`]).
const GROUP_COMMIT_WAIT: Duration = Duration::from_millis(5);

/// How many recent blocks [`Chain::mine_waiting`] looks back at to decide how many transactions to
/// wait for: their largest count, so one block that missed some senders does not shrink the next.
const GROUP_COMMIT_WINDOW: usize = 4;

/// A funded development account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevAccount {
    /// Its address.
    pub address: Address,
    /// Its private key.
    pub private_key: B256,
}

/// An inference record with where it was included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InferenceEntry {
    /// The record.
    pub record: InferenceRecord,
    /// Block number.
    pub block_number: u64,
    /// Block hash.
    pub block_hash: B256,
    /// Transaction hash.
    pub tx_hash: B256,
    /// Transaction index in the block.
    pub tx_index: u64,
}

/// A handle to the chain. Cheap to clone; all methods are synchronous (they may block on disk or, for
/// `send_*` with inference, on a model run), so call them from blocking threads.
#[derive(Clone)]
pub struct Chain {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("chain_id", &self.inner.config.chain_id)
            .field("head", &self.block_number())
            .finish()
    }
}

struct Core {
    world: WorldState,
    head: Header,
    head_hash: B256,
}

#[derive(Default)]
struct Pool {
    txs: Vec<PendingTx>,
    cache: Cache,
    nonces: HashMap<Address, u64>,
    known: HashSet<B256>,
    /// Callers waiting for their transaction's block (auto mining), by transaction hash.
    waiters: HashMap<B256, Waiter>,
    /// Transactions ever accepted: the sequence number of the latest ([`PendingTx::seq`]).
    accepted: u64,
}

impl Pool {
    /// Empties the pending state for a new head, keeping the waiters and the acceptance count. The
    /// tables are cleared, not dropped: refilled after every block, they keep their memory instead of
    /// asking for fresh (kernel-zeroed) pages each time.
    fn restart(&mut self) {
        self.txs.clear();
        self.nonces.clear();
        self.known.clear();
        let cache = &mut self.cache;
        cache.accounts.clear();
        cache.logs.clear();
        cache.block_hashes.clear();
        // As `Cache::default()` has them: the empty code under both of its hashes.
        cache.contracts.retain(|hash, _| *hash == KECCAK_EMPTY || hash.is_zero());
    }

    /// Every transaction accepted up to this sequence number has left the pool (in a committed block,
    /// or dropped).
    fn settled(&self) -> u64 {
        self.txs.iter().map(|t| t.seq - 1).min().unwrap_or(self.accepted)
    }
}

/// Tells a caller that its transaction is in a committed block (`Ok`) or will never be (`Err`).
struct Waiter(std::sync::mpsc::SyncSender<Result<(), TxError>>);

impl Waiter {
    fn send(self, result: Result<(), TxError>) {
        // A caller that went away no longer needs the answer.
        let _ = self.0.send(result);
    }
}

/// Most recently committed blocks kept in memory ([`Recent`]).
const RECENT_BLOCKS: usize = 256;
/// Most transaction bytes those blocks may hold (inference transactions are large).
const RECENT_TX_BYTES: usize = 16 << 20;

/// Older blocks read back from disk kept decoded, most recent last: a client asking for the receipts of
/// one block's transactions one by one decodes it once.
const LOADED_BLOCKS: usize = 8;

/// The last committed blocks, decoded, with the locations of their transactions: clients poll for
/// receipts and blocks right after they are committed, and these are answered without a disk read.
#[derive(Default)]
struct Recent {
    /// Consecutive blocks, oldest first, each with its encoded size.
    blocks: std::collections::VecDeque<(Arc<ChainBlock>, usize)>,
    txs: HashMap<B256, (u64, u32)>,
    tx_bytes: usize,
}

impl Recent {
    fn tx_bytes(block: &ChainBlock) -> usize {
        block.transactions.iter().map(|t| t.len()).sum()
    }

    fn push(&mut self, block: Arc<ChainBlock>, size: usize) {
        let number = block.header.number;
        if self.blocks.back().is_some_and(|(b, _)| b.header.number + 1 != number) {
            *self = Self::default();
        }
        for (i, h) in block.tx_hashes.iter().enumerate() {
            self.txs.insert(*h, (number, i as u32));
        }
        self.tx_bytes += Self::tx_bytes(&block);
        self.blocks.push_back((block, size));
        while self.blocks.len() > RECENT_BLOCKS
            || (self.tx_bytes > RECENT_TX_BYTES && self.blocks.len() > 1)
        {
            let Some((old, _)) = self.blocks.pop_front() else { break };
            for h in &old.tx_hashes {
                self.txs.remove(h);
            }
            self.tx_bytes -= Self::tx_bytes(&old);
        }
    }

    fn get(&self, number: u64) -> Option<(Arc<ChainBlock>, usize)> {
        let first = self.blocks.front()?.0.header.number;
        let i = usize::try_from(number.checked_sub(first)?).ok()?;
        self.blocks.get(i).cloned()
    }
}

/// Wakes the auto-mining thread.
#[derive(Default)]
struct MinerSignal {
    state: Mutex<MinerFlags>,
    wake: parking_lot::Condvar,
}

#[derive(Default)]
struct MinerFlags {
    work: bool,
    stop: bool,
    /// While the producer waits for a fuller block ([`MinerSignal::wait_until`]): the number of waiting
    /// transactions worth waking it for. 0 otherwise (any new transaction is).
    want: usize,
}

impl MinerSignal {
    fn notify(&self, stop: bool) {
        let mut flags = self.state.lock();
        flags.work = true;
        flags.stop |= stop;
        self.wake.notify_one();
    }

    /// A transaction was accepted and `waiting` wait for a block: wakes the producer unless it waits
    /// for more than that. Waking it for each transaction of a group commit would cost a thread switch
    /// per transaction, only for it to count the pool and sleep again.
    fn offer(&self, waiting: usize) {
        let mut flags = self.state.lock();
        flags.work = true;
        if waiting >= flags.want {
            self.wake.notify_one();
        }
    }

    /// Waits until `want` transactions wait (as told by [`Self::offer`]) or until `deadline`; `false` at
    /// the deadline or once stopped.
    fn wait_until(&self, deadline: Instant, want: usize) -> bool {
        let mut flags = self.state.lock();
        flags.want = want;
        while !flags.work && !flags.stop {
            if self.wake.wait_until(&mut flags, deadline).timed_out() {
                flags.want = 0;
                return false;
            }
        }
        flags.want = 0;
        flags.work = false;
        !flags.stop
    }

    /// Waits for work; `false` once stopped.
    fn wait(&self) -> bool {
        let mut flags = self.state.lock();
        while !flags.work && !flags.stop {
            self.wake.wait(&mut flags);
        }
        flags.work = false;
        !flags.stop
    }
}

#[derive(Clone)]
struct PendingTx {
    tx: TxEnvelope,
    raw: Bytes,
    sender: Address,
    hash: B256,
    records: Vec<InferenceRecord>,
    /// Order of acceptance, from 1 (0: not accepted yet); kept when re-accepted after a block.
    seq: u64,
}

struct Inner {
    config: ChainConfig,
    store: Store,
    core: RwLock<Core>,
    pool: Mutex<Pool>,
    mine_lock: Mutex<()>,
    /// Serializes [`Chain::commit_block`]: the head moves only under it, so the disk write can run without
    /// the pool lock (transactions keep arriving meanwhile and go into the next block).
    commit_lock: Mutex<()>,
    oracle: Option<Arc<dyn InferenceOracle>>,
    dev: Vec<PrivateKeySigner>,
    time_offset: AtomicU64,
    heads: broadcast::Sender<alloy::rpc::types::Header>,
    logs: broadcast::Sender<RpcLog>,
    miner: Arc<MinerSignal>,
    recent: Mutex<Recent>,
    /// Blocks read back from disk ([`LOADED_BLOCKS`]), with their encoded sizes.
    loaded: Mutex<std::collections::VecDeque<(Arc<ChainBlock>, usize)>>,
    /// Transactions in each of the last auto-mined blocks, newest last (see [`Chain::mine_waiting`]).
    last_block_txs: Mutex<[usize; GROUP_COMMIT_WINDOW]>,
    /// [`Pool::settled`], sent whenever transactions leave the pool (committed in a block, or
    /// dropped): [`Chain::inclusion`] and [`Chain::settled`] futures wait on it.
    pool_left: tokio::sync::watch::Sender<u64>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.miner.notify(true);
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

fn rpc_header(header: &Header, hash: B256, size: usize) -> alloy::rpc::types::Header {
    alloy::rpc::types::Header {
        hash,
        inner: header.clone(),
        total_difficulty: Some(U256::ZERO),
        size: Some(U256::from(size)),
    }
}

fn map_invalid(
    e: &InvalidTransaction,
    chain_id: u64,
    tx: Option<&TxEnvelope>,
    sender: Address,
) -> TxError {
    match e {
        InvalidTransaction::NonceTooLow { tx, state } => {
            TxError::NonceTooLow { next: *state, tx: *tx }
        }
        InvalidTransaction::NonceTooHigh { tx, state } => {
            TxError::NonceTooHigh { next: *state, tx: *tx }
        }
        InvalidTransaction::LackOfFundForMaxFee { fee, balance } => {
            TxError::InsufficientFunds { address: sender, have: **balance, want: **fee }
        }
        InvalidTransaction::GasPriceLessThanBasefee => TxError::Underpriced {
            fee_cap: tx.map(|t| t.max_fee_per_gas()).unwrap_or_default(),
            base_fee: 0,
        },
        InvalidTransaction::CallGasCostMoreThanGasLimit { initial_gas, gas_limit } => {
            TxError::IntrinsicGasTooLow { gas: *gas_limit, needed: *initial_gas }
        }
        InvalidTransaction::GasFloorMoreThanGasLimit { gas_floor, gas_limit } => {
            TxError::IntrinsicGasTooLow { gas: *gas_limit, needed: *gas_floor }
        }
        InvalidTransaction::CallerGasLimitMoreThanBlock => TxError::GasLimitExceeded,
        InvalidTransaction::InvalidChainId => TxError::WrongChainId {
            have: tx.and_then(|t| t.chain_id()).unwrap_or_default(),
            want: chain_id,
        },
        InvalidTransaction::PriorityFeeGreaterThanMaxFee => TxError::TipAboveFeeCap,
        other => TxError::Invalid(other.to_string()),
    }
}

/// Decodes an EIP-2718 transaction of at most `max_bytes` bytes, with no trailing bytes.
pub fn decode_transaction(raw: &[u8], max_bytes: usize) -> Result<TxEnvelope, TxError> {
    if raw.len() > max_bytes {
        return Err(TxError::Oversized { size: raw.len(), limit: max_bytes });
    }
    let mut buf = raw;
    let tx = TxEnvelope::decode_2718(&mut buf).map_err(|e| TxError::Decode(e.to_string()))?;
    if !buf.is_empty() {
        return Err(TxError::Decode(format!("{} trailing bytes", buf.len())));
    }
    Ok(tx)
}

/// Decodes `Error(string)` / `Panic(uint256)` revert data.
pub fn decode_revert_reason(data: &[u8]) -> Option<String> {
    alloy::sol_types::decode_revert_reason(data)
        .map(|r| r.strip_prefix("revert: ").map(str::to_string).unwrap_or(r))
}

/// Result of executing transactions on top of a state.
struct RunOutcome {
    included: Vec<PendingTx>,
    receipts: Vec<StoredReceipt>,
    diff: StateDiff,
    gas_used: u64,
    /// Transactions left out: (transaction, reason, whether it stays in the pool).
    dropped: Vec<(PendingTx, String, bool)>,
}

impl Chain {
    /// Opens the chain stored under `config.data_dir` (creating genesis when empty), or an in-memory
    /// chain. `oracle` runs models during pre-execution; without one, inference calls revert (blocks that
    /// carry records still execute: replay needs no oracle).
    pub fn open(
        config: ChainConfig,
        oracle: Option<Arc<dyn InferenceOracle>>,
    ) -> Result<Self, ChainError> {
        let path = match &config.data_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    ChainError::Storage(format!("cannot create {}: {e}", dir.display()))
                })?;
                Some(dir.join("chain.redb"))
            }
            None => None,
        };
        let store = Store::open(path.as_deref())?;
        let mut dev = Vec::with_capacity(config.dev_accounts);
        for i in 0..config.dev_accounts {
            let signer = MnemonicBuilder::<English>::default()
                .phrase(config.dev_mnemonic.as_str())
                .index(i as u32)
                .and_then(|b| b.build())
                .map_err(|e| ChainError::Config(format!("dev mnemonic: {e}")))?;
            dev.push(signer);
        }
        let core = match store.head()? {
            None => Self::genesis(&config, &store, &dev)?,
            Some(head) => {
                let stored_id = store
                    .meta(META_CHAIN_ID)?
                    .map(|v| u64::from_be_bytes(v.try_into().unwrap_or_default()));
                if stored_id != Some(config.chain_id) {
                    return Err(ChainError::Config(format!(
                        "the data directory holds chain id {} but {} was configured",
                        stored_id.unwrap_or_default(),
                        config.chain_id
                    )));
                }
                let block = store
                    .block(head)?
                    .ok_or_else(|| ChainError::Corrupt(format!("head block {head} missing")))?;
                let mut world = store.load_state()?;
                let root = world.root();
                if root != block.header.state_root {
                    return Err(ChainError::Corrupt(format!(
                        "state root {root} does not match block {head}'s {}",
                        block.header.state_root
                    )));
                }
                for n in head.saturating_sub(255)..=head {
                    if let Some(b) = store.block(n)? {
                        world.block_hashes.insert(n, b.hash);
                    }
                }
                Core { world, head: block.header, head_hash: block.hash }
            }
        };
        let offset = store
            .meta(META_TIME_OFFSET)?
            .map(|v| u64::from_be_bytes(v.try_into().unwrap_or_default()))
            .unwrap_or_default();
        let (heads, _) = broadcast::channel(1024);
        let (logs, _) = broadcast::channel(4096);
        let inner = Arc::new(Inner {
            config,
            store,
            core: RwLock::new(core),
            pool: Mutex::new(Pool::default()),
            mine_lock: Mutex::new(()),
            commit_lock: Mutex::new(()),
            oracle,
            dev,
            time_offset: AtomicU64::new(offset),
            heads,
            logs,
            miner: Arc::new(MinerSignal::default()),
            last_block_txs: Default::default(),
            recent: Mutex::new(Recent::default()),
            loaded: Mutex::default(),
            pool_left: tokio::sync::watch::Sender::new(0),
        });
        if inner.config.mining == MiningMode::Auto {
            let weak: Weak<Inner> = Arc::downgrade(&inner);
            let signal = inner.miner.clone();
            std::thread::Builder::new()
                .name("ogn-chain-miner".into())
                .spawn(move || {
                    while signal.wait() {
                        let Some(inner) = weak.upgrade() else { break };
                        (Chain { inner }).mine_waiting();
                    }
                })
                .map_err(|e| ChainError::Config(format!("cannot start the block producer: {e}")))?;
        }
        if let MiningMode::Interval(every) = inner.config.mining {
            let weak: Weak<Inner> = Arc::downgrade(&inner);
            std::thread::Builder::new()
                .name("ogn-chain-miner".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(every);
                        let Some(inner) = weak.upgrade() else { break };
                        if let Err(e) = (Chain { inner }).mine(1) {
                            tracing::error!(error = %e, "interval block production failed");
                        }
                    }
                })
                .map_err(|e| ChainError::Config(format!("cannot start the block timer: {e}")))?;
        }
        Ok(Self { inner })
    }

    fn genesis(
        config: &ChainConfig,
        store: &Store,
        dev: &[PrivateKeySigner],
    ) -> Result<Core, ChainError> {
        let mut world = WorldState::default();
        for signer in dev {
            world.put_genesis(signer.address(), config.dev_balance, None);
        }
        // One `INVALID` byte of code at the inference addresses, so `extcodesize` checks pass; calls
        // never reach it (the precompile handles them).
        for address in [INFERENCE_PRECOMPILE, config.inference_hub] {
            world.put_genesis(address, U256::ZERO, Some(Bytes::from_static(&[0xfe])));
        }
        // The staking precompile: the encoded ledger in its storage, the incentive pool as its balance.
        let (slots, pool) = crate::staking::genesis(&config.staking).map_err(ChainError::Config)?;
        world.put_genesis(STAKING_PRECOMPILE, pool, Some(Bytes::from_static(&[0xfe])));
        world.put_genesis_storage(&STAKING_PRECOMPILE, &slots);
        let storage: Vec<(Address, U256, U256)> =
            slots.iter().map(|(k, v)| (STAKING_PRECOMPILE, *k, *v)).collect();
        let header = Header {
            parent_hash: B256::ZERO,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            state_root: world.root(),
            transactions_root: alloy::trie::EMPTY_ROOT_HASH,
            receipts_root: alloy::trie::EMPTY_ROOT_HASH,
            number: 0,
            gas_limit: config.block_gas_limit,
            timestamp: config.genesis_timestamp.unwrap_or_else(now),
            extra_data: records_root(&[]).0.to_vec().into(),
            mix_hash: keccak256(B256::ZERO),
            base_fee_per_gas: Some(config.min_base_fee),
            ..Default::default()
        };
        let hash = header.hash_slow();
        let block = ChainBlock {
            header: header.clone(),
            hash,
            transactions: vec![],
            senders: vec![],
            tx_hashes: vec![],
            inference: vec![],
            receipts: vec![],
        };
        let changed = world.accounts.iter().map(|(a, acc)| (*a, Some(acc.clone()))).collect();
        let codes = world.codes.iter().map(|(h, c)| (*h, c.original_bytes())).collect();
        store.commit_block(
            (&block, &block.encode()),
            &changed,
            &[],
            &storage,
            &codes,
            &[(META_CHAIN_ID, config.chain_id.to_be_bytes().to_vec())],
        )?;
        world.block_hashes.insert(0, hash);
        Ok(Core { world, head: header, head_hash: hash })
    }

    /// The settings.
    pub fn config(&self) -> &ChainConfig {
        &self.inner.config
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.inner.config.chain_id
    }

    /// Number of the latest block.
    pub fn block_number(&self) -> u64 {
        self.inner.core.read().head.number
    }

    /// The latest block's header and hash.
    pub fn head(&self) -> (Header, B256) {
        let core = self.inner.core.read();
        (core.head.clone(), core.head_hash)
    }

    /// The state root of the latest block.
    pub fn state_root(&self) -> B256 {
        self.inner.core.read().head.state_root
    }

    /// The funded dev accounts with their keys.
    pub fn dev_accounts(&self) -> Vec<DevAccount> {
        self.inner
            .dev
            .iter()
            .map(|s| DevAccount {
                address: s.address(),
                private_key: B256::from_slice(&s.to_bytes()[..]),
            })
            .collect()
    }

    /// Addresses of the dev accounts (`eth_accounts`).
    pub fn accounts(&self) -> Vec<Address> {
        self.inner.dev.iter().map(|s| s.address()).collect()
    }

    fn check_state_block(&self, block: BlockId, head: u64) -> Result<(), ChainError> {
        match block {
            BlockId::Number(BlockNumberOrTag::Number(n)) if n != head => {
                if n > head {
                    Err(ChainError::BlockNotFound(n.to_string()))
                } else {
                    Err(ChainError::HistoricalState { requested: n, head })
                }
            }
            BlockId::Number(BlockNumberOrTag::Earliest) if head != 0 => {
                Err(ChainError::HistoricalState { requested: 0, head })
            }
            BlockId::Hash(h) => {
                let n = self
                    .inner
                    .store
                    .block_number(&h.block_hash)?
                    .ok_or_else(|| ChainError::BlockNotFound(h.block_hash.to_string()))?;
                if n != head {
                    return Err(ChainError::HistoricalState { requested: n, head });
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn is_pending(block: BlockId) -> bool {
        matches!(block, BlockId::Number(BlockNumberOrTag::Pending))
    }

    /// Balance of `address` at `block` (latest / pending / the head's number or hash).
    pub fn balance(&self, address: Address, block: BlockId) -> Result<U256, ChainError> {
        if Self::is_pending(block) {
            let pool = self.inner.pool.lock();
            if let Some(acc) = pool.cache.accounts.get(&address) {
                return Ok(acc.info.balance);
            }
        }
        let core = self.inner.core.read();
        self.check_state_block(block, core.head.number)?;
        Ok(core.world.balance(&address))
    }

    /// Nonce of `address`; with `pending`, counting accepted transactions not yet in a block.
    pub fn nonce(&self, address: Address, block: BlockId) -> Result<u64, ChainError> {
        if Self::is_pending(block) {
            let pool = self.inner.pool.lock();
            if let Some(n) = pool.nonces.get(&address) {
                return Ok(*n);
            }
        }
        let core = self.inner.core.read();
        self.check_state_block(block, core.head.number)?;
        Ok(core.world.nonce(&address))
    }

    /// Code of `address`.
    pub fn code(&self, address: Address, block: BlockId) -> Result<Bytes, ChainError> {
        let core = self.inner.core.read();
        self.check_state_block(block, core.head.number)?;
        Ok(core.world.code(&address))
    }

    /// Storage slot `slot` of `address`.
    pub fn storage(
        &self,
        address: Address,
        slot: U256,
        block: BlockId,
    ) -> Result<B256, ChainError> {
        let core = self.inner.core.read();
        self.check_state_block(block, core.head.number)?;
        Ok(B256::from(core.world.storage(&address, slot)))
    }

    /// Base fee of the next block.
    pub fn next_base_fee(&self) -> u64 {
        let core = self.inner.core.read();
        self.base_fee_after(&core.head)
    }

    fn base_fee_after(&self, parent: &Header) -> u64 {
        let next = calc_next_block_base_fee(
            parent.gas_used,
            parent.gas_limit,
            parent.base_fee_per_gas.unwrap_or(self.inner.config.min_base_fee),
            BaseFeeParams::ethereum(),
        );
        next.max(self.inner.config.min_base_fee)
    }

    /// `eth_gasPrice`: the next base fee plus [`SUGGESTED_TIP`].
    pub fn gas_price(&self) -> u128 {
        u128::from(self.next_base_fee()) + SUGGESTED_TIP
    }

    /// `eth_maxPriorityFeePerGas`.
    pub fn max_priority_fee(&self) -> u128 {
        SUGGESTED_TIP
    }

    fn block_ctx(&self, parent: &Header, parent_hash: B256, timestamp: u64) -> BlockCtx {
        BlockCtx {
            number: parent.number + 1,
            timestamp,
            gas_limit: self.inner.config.block_gas_limit,
            base_fee: self.base_fee_after(parent),
            prevrandao: keccak256(parent_hash),
        }
    }

    fn next_timestamp(&self, parent: &Header) -> u64 {
        (now() + self.inner.time_offset.load(Ordering::SeqCst)).max(parent.timestamp)
    }

    /// Moves the clock of future blocks forward by `secs` (`evm_increaseTime`); returns the total offset.
    pub fn increase_time(&self, secs: u64) -> Result<u64, ChainError> {
        let total = self.inner.time_offset.fetch_add(secs, Ordering::SeqCst).saturating_add(secs);
        self.inner.store.set_meta(META_TIME_OFFSET, &total.to_be_bytes())?;
        Ok(total)
    }

    // ----- transaction intake -----

    /// Decodes, checks, pre-executes and accepts a signed transaction; with [`MiningMode::Auto`] returns
    /// after the block holding it is committed.
    pub fn send_raw_transaction(&self, raw: &[u8]) -> Result<B256, TxError> {
        let tx = decode_transaction(raw, self.inner.config.max_tx_bytes)?;
        self.submit(tx, Bytes::copy_from_slice(raw))
    }

    /// Like [`Self::send_raw_transaction`] but returns once the transaction is accepted (checked and
    /// executed on the pending state), as `eth_sendRawTransaction` does on geth or anvil: with
    /// [`MiningMode::Auto`] its block follows, and [`Self::inclusion`] waits for it.
    pub fn submit_raw_transaction(&self, raw: &[u8]) -> Result<B256, TxError> {
        let tx = decode_transaction(raw, self.inner.config.max_tx_bytes)?;
        self.submit_transaction(tx, Bytes::copy_from_slice(raw))
    }

    /// [`Self::submit_raw_transaction`] of a transaction decoded with [`decode_transaction`] from `raw`.
    pub fn submit_transaction(&self, tx: TxEnvelope, raw: Bytes) -> Result<B256, TxError> {
        let pending = self.check(tx, raw)?;
        let hash = pending.hash;
        let waiting = self.accept(pending, None)?;
        if self.inner.config.mining == MiningMode::Auto {
            self.inner.miner.offer(waiting);
        }
        Ok(hash)
    }

    /// With [`MiningMode::Auto`], a future that resolves once `hash`, accepted and waiting for its
    /// block, has left the pool: its block is committed (written and synced), or it was dropped.
    /// `None` when it is not waiting, or when blocks are mined on request. `eth_getTransactionReceipt`
    /// awaits it, so a receipt asked for right after [`Self::submit_transaction`] is there (the block
    /// takes one disk sync), and a receipt is never answered before its block is durable.
    pub fn inclusion(
        &self,
        hash: B256,
    ) -> Option<impl std::future::Future<Output = ()> + Send + use<>> {
        if self.inner.config.mining != MiningMode::Auto {
            return None;
        }
        // Subscribed before the check: a commit between the two still wakes the future.
        let mut left = self.inner.pool_left.subscribe();
        if !self.inner.pool.lock().known.contains(&hash) {
            return None;
        }
        let chain = self.clone();
        Some(async move {
            while left.changed().await.is_ok() {
                if !chain.inner.pool.lock().known.contains(&hash) {
                    return;
                }
            }
        })
    }

    /// With [`MiningMode::Auto`], a future that resolves once every transaction accepted so far has
    /// left the pool (its block committed, or dropped); `None` when none is waiting, or when blocks are
    /// mined on request. Reads of the latest state await it first: a client sees what it sent before,
    /// as when its send had waited for the block, while sends never wait for a disk sync.
    pub fn settled(&self) -> Option<impl std::future::Future<Output = ()> + Send + use<>> {
        if self.inner.config.mining != MiningMode::Auto {
            return None;
        }
        let mut left = self.inner.pool_left.subscribe();
        let target = self.inner.pool.lock().accepted;
        if *left.borrow_and_update() >= target {
            return None;
        }
        Some(async move {
            let _ = left.wait_for(|settled| *settled >= target).await;
        })
    }

    fn publish_settled(&self, settled: u64) {
        self.inner.pool_left.send_modify(|s| *s = (*s).max(settled));
    }

    /// Whether submitting `tx` may run models (pre-execution of a call that can reach inference):
    /// only then can [`Self::submit_transaction`] take long. Otherwise it costs a signature recovery
    /// and one execution on the pending state, with no disk write.
    pub fn needs_pre_execution(&self, tx: &TxEnvelope) -> bool {
        self.inner.oracle.is_some() && self.may_infer(tx)
    }

    /// Signs `request` with the dev key of its `from` and submits it (`eth_sendTransaction`). Missing
    /// fields are filled: nonce (pending), gas (estimated), fees (EIP-1559 unless `gasPrice` is given),
    /// chain id.
    pub fn send_transaction(&self, request: TransactionRequest) -> Result<B256, TxError> {
        let from = request.from.ok_or_else(|| TxError::InvalidRequest("missing from".into()))?;
        let signer = self
            .inner
            .dev
            .iter()
            .find(|s| s.address() == from)
            .ok_or(TxError::UnknownAccount(from))?
            .clone();
        let mut request = request;
        if request.nonce.is_none() {
            let n = self
                .nonce(from, BlockId::pending())
                .map_err(|e| TxError::Internal(e.to_string()))?;
            request.nonce = Some(n);
        }
        request.chain_id = Some(self.chain_id());
        if request.gas.is_none() {
            let gas = self.estimate_gas(&request, BlockId::pending()).map_err(|e| match e {
                CallError::Invalid(t) => t,
                other => TxError::Invalid(other.to_string()),
            })?;
            request.gas = Some(gas);
        }
        if request.gas_price.is_none() && request.max_fee_per_gas.is_none() {
            let base = u128::from(self.next_base_fee());
            request.max_fee_per_gas = Some(2 * base + SUGGESTED_TIP);
            request.max_priority_fee_per_gas = Some(SUGGESTED_TIP);
        } else if request.max_fee_per_gas.is_some() && request.max_priority_fee_per_gas.is_none() {
            request.max_priority_fee_per_gas =
                Some(SUGGESTED_TIP.min(request.max_fee_per_gas.unwrap_or_default()));
        }
        if request.to.is_none() {
            request.to = Some(TxKind::Create);
        }
        let typed = request
            .build_typed_tx()
            .map_err(|_| TxError::InvalidRequest("incomplete transaction fields".into()))?;
        let tx: TxEnvelope = match typed {
            alloy::consensus::TypedTransaction::Legacy(mut t) => {
                let sig = signer
                    .sign_transaction_sync(&mut t)
                    .map_err(|e| TxError::Internal(e.to_string()))?;
                t.into_signed(sig).into()
            }
            alloy::consensus::TypedTransaction::Eip2930(mut t) => {
                let sig = signer
                    .sign_transaction_sync(&mut t)
                    .map_err(|e| TxError::Internal(e.to_string()))?;
                t.into_signed(sig).into()
            }
            alloy::consensus::TypedTransaction::Eip1559(mut t) => {
                let sig = signer
                    .sign_transaction_sync(&mut t)
                    .map_err(|e| TxError::Internal(e.to_string()))?;
                t.into_signed(sig).into()
            }
            _ => return Err(TxError::UnsupportedType),
        };
        let raw = encode_tx(&tx);
        self.submit(tx, raw)
    }

    /// Signs `message` with the dev key of `address` (EIP-191 personal message, `eth_sign`).
    pub fn sign(&self, address: Address, message: &[u8]) -> Result<Signature, TxError> {
        let signer = self
            .inner
            .dev
            .iter()
            .find(|s| s.address() == address)
            .ok_or(TxError::UnknownAccount(address))?;
        signer.sign_message_sync(message).map_err(|e| TxError::Internal(e.to_string()))
    }

    fn submit(&self, tx: TxEnvelope, raw: Bytes) -> Result<B256, TxError> {
        let pending = self.check(tx, raw)?;
        let hash = pending.hash;
        if self.inner.config.mining != MiningMode::Auto {
            self.accept(pending, None)?;
            return Ok(hash);
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let waiting = self.accept(pending, Some(Waiter(tx)))?;
        self.inner.miner.offer(waiting);
        rx.recv().unwrap_or_else(|_| Err(TxError::Internal("block production stopped".into())))?;
        Ok(hash)
    }

    /// Stateless checks, sender recovery and pre-execution of a decoded transaction.
    fn check(&self, tx: TxEnvelope, raw: Bytes) -> Result<PendingTx, TxError> {
        let config = &self.inner.config;
        match tx.tx_type() {
            TxType::Legacy | TxType::Eip2930 | TxType::Eip1559 => {}
            _ => return Err(TxError::UnsupportedType),
        }
        if let Some(id) = tx.chain_id()
            && id != config.chain_id
        {
            return Err(TxError::WrongChainId { have: id, want: config.chain_id });
        }
        let sender = tx.recover_signer().map_err(|e| TxError::InvalidSignature(e.to_string()))?;
        let hash = *tx.tx_hash();
        if tx.gas_limit() > config.block_gas_limit {
            return Err(TxError::GasLimitExceeded);
        }
        if let Some(tip) = tx.max_priority_fee_per_gas()
            && tip > tx.max_fee_per_gas()
        {
            return Err(TxError::TipAboveFeeCap);
        }
        let base_fee = self.next_base_fee();
        if tx.max_fee_per_gas() < u128::from(base_fee) {
            return Err(TxError::Underpriced { fee_cap: tx.max_fee_per_gas(), base_fee });
        }
        // A committed transaction has a nonce below its sender's: only such a nonce needs the disk
        // look-up that tells a replay ("already known") from a plain stale nonce.
        let (known, stale) = {
            let pool = self.inner.pool.lock();
            let next = match pool.nonces.get(&sender) {
                Some(n) => *n,
                None => self.inner.core.read().world.nonce(&sender),
            };
            (pool.known.contains(&hash), tx.nonce() < next)
        };
        if known
            || stale
                && self
                    .inner
                    .store
                    .tx_location(&hash)
                    .map_err(|e| TxError::Internal(e.to_string()))?
                    .is_some()
        {
            return Err(TxError::AlreadyKnown);
        }
        let pending = PendingTx { tx, raw, sender, hash, records: Vec::new(), seq: 0 };
        self.pre_execute(pending)
    }

    /// Whether a transaction may reach the inference addresses (it calls a contract or them).
    fn may_infer(&self, tx: &TxEnvelope) -> bool {
        match tx.kind() {
            TxKind::Create => true,
            TxKind::Call(to) => {
                to == INFERENCE_PRECOMPILE
                    || to == self.inner.config.inference_hub
                    || !self.inner.core.read().world.code(&to).is_empty()
            }
        }
    }

    /// Pre-execution (PIPE): simulate against the pending state, running inference through the oracle,
    /// and keep the records. Runs without the pool lock, so simulations of different transactions (and
    /// their model runs) proceed in parallel.
    fn pre_execute(&self, mut pending: PendingTx) -> Result<PendingTx, TxError> {
        if !self.may_infer(&pending.tx) {
            return Ok(pending);
        }
        let Some(oracle) = self.inner.oracle.clone() else {
            return Ok(pending);
        };
        let cache = self.inner.pool.lock().cache.clone();
        let core = self.inner.core.read();
        let ctx = self.block_ctx(&core.head, core.head_hash, self.next_timestamp(&core.head));
        let db = CacheDB { cache, db: &core.world };
        let (result, session) = transact(
            db,
            ctx,
            Checks { chain_id: self.chain_id(), call: false },
            tx_env(&pending.tx, pending.sender),
            self.inner.config.inference_hub,
            Session::new(Source::Simulate(oracle.as_ref())),
        );
        match result {
            Ok(_) => {}
            Err(EVMError::Transaction(e)) => {
                return Err(map_invalid(&e, self.chain_id(), Some(&pending.tx), pending.sender));
            }
            Err(e) => return Err(TxError::Internal(e.to_string())),
        }
        pending.records = session.recorded;
        Ok(pending)
    }

    /// Executes an accepted transaction on the pending state with its records; if the records no longer
    /// match (the pending state moved), simulates again under the pool lock. Returns how many
    /// transactions then wait for a block.
    fn accept(&self, pending: PendingTx, waiter: Option<Waiter>) -> Result<usize, TxError> {
        let mut pool = self.inner.pool.lock();
        let core = self.inner.core.read();
        self.accept_locked(&mut pool, &core, pending, waiter)?;
        Ok(pool.txs.len())
    }

    fn accept_locked(
        &self,
        pool: &mut Pool,
        core: &Core,
        mut pending: PendingTx,
        waiter: Option<Waiter>,
    ) -> Result<(), TxError> {
        if pool.known.contains(&pending.hash) {
            return Err(TxError::AlreadyKnown);
        }
        let ctx = self.block_ctx(&core.head, core.head_hash, self.next_timestamp(&core.head));
        // The pending state is borrowed, not copied: a transaction that fails leaves only cached reads.
        // Swapped with an empty cache that allocates nothing (`Cache::default()` allocates a table).
        let empty = Cache {
            accounts: Default::default(),
            contracts: Default::default(),
            logs: Vec::new(),
            block_hashes: Default::default(),
        };
        let mut db = CacheDB { cache: std::mem::replace(&mut pool.cache, empty), db: &core.world };
        let outcome = match self.execute_recorded(&mut db, ctx, &mut pending, true) {
            Ok(Ok((_, state))) => {
                db.commit(state);
                Ok(())
            }
            Ok(Err(EVMError::Transaction(e))) => {
                Err(map_invalid(&e, self.chain_id(), Some(&pending.tx), pending.sender))
            }
            Ok(Err(e)) => Err(TxError::Internal(e.to_string())),
            Err(reason) => Err(TxError::Internal(format!("inference records: {reason}"))),
        };
        pool.cache = db.cache;
        if outcome.is_ok() {
            if pending.seq == 0 {
                pool.accepted += 1;
                pending.seq = pool.accepted;
            }
            pool.nonces.insert(pending.sender, pending.tx.nonce() + 1);
            pool.known.insert(pending.hash);
            if let Some(w) = waiter {
                pool.waiters.insert(pending.hash, w);
            }
            pool.txs.push(pending);
        }
        outcome
    }

    /// Transactions accepted but not yet in a block.
    pub fn pending_count(&self) -> usize {
        self.inner.pool.lock().txs.len()
    }

    // ----- blocks: build → execute → commit -----

    /// Produces `n` blocks (`evm_mine`), each with the waiting transactions (the first) or empty.
    /// Returns the new head number.
    pub fn mine(&self, n: u64) -> Result<u64, ChainError> {
        for _ in 0..n.max(1) {
            let _guard = self.inner.mine_lock.lock();
            self.mine_locked()?;
        }
        Ok(self.block_number())
    }

    /// Auto mining (the block producer thread): blocks until the pool is empty. Everything waiting
    /// goes into the next block, so transactions that arrive while a block is being executed and
    /// written share the one after it (one state root, one system call pair, one fsync).
    ///
    /// Group commit: when fewer transactions wait than twice the largest of the last few blocks, the
    /// producer waits (at most [`GROUP_COMMIT_WAIT`]) for more, since concurrent senders whose
    /// transactions were in a recent block usually send their next ones right away. Under a steady
    /// load blocks grow until the wait bounds them, and what each block costs whatever it holds (the
    /// disk sync, the B-tree pages written, the system calls, the state root's upper levels) is
    /// shared by more transactions (4,000 transfers from 10 senders: 37–58 blocks instead of 66–104,
    /// +17 % transfers a second on two cores; BENCHMARKS.md). A lone sender (blocks of one) never waits.
    fn mine_waiting(&self) {
        let _guard = self.inner.mine_lock.lock();
        let mut sizes = *self.inner.last_block_txs.lock();
        // No more than a block of plain transfers holds: waiting for more would only delay a full block.
        let most =
            usize::try_from(self.inner.config.block_gas_limit / 21_000).unwrap_or(usize::MAX);
        loop {
            let largest = sizes.iter().copied().max().unwrap_or_default();
            let target = if largest > 1 { (2 * largest).min(most) } else { largest };
            let waiting = self.inner.pool.lock().txs.len();
            if waiting == 0 {
                return;
            }
            if waiting < target {
                let deadline = Instant::now() + GROUP_COMMIT_WAIT;
                while self.inner.pool.lock().txs.len() < target
                    && self.inner.miner.wait_until(deadline, target)
                {}
            }
            match self.mine_locked() {
                Ok(0) => return, // nothing could be included: wait for the next transaction
                Ok(n) => {
                    sizes.rotate_left(1);
                    sizes[GROUP_COMMIT_WINDOW - 1] = n;
                }
                Err(e) => {
                    tracing::error!(error = %e, "block production failed");
                    let mut pool = self.inner.pool.lock();
                    for (_, w) in pool.waiters.drain() {
                        w.send(Err(TxError::Internal(format!("block production failed: {e}"))));
                    }
                    return;
                }
            }
            *self.inner.last_block_txs.lock() = sizes;
        }
    }

    /// Builds and executes the next block in one pass (the builder's execution is the block's
    /// execution: [`Self::execute_block`] of the resulting proposal gives the same header), then
    /// commits it.
    fn mine_locked(&self) -> Result<usize, ChainError> {
        let executed = self.produce_block()?;
        Ok(self.commit_block(executed)?.tx_hashes.len())
    }

    /// Builds the next block from the pool: executes each waiting transaction on top of the head; one
    /// whose recorded inference no longer matches is simulated again (never included on a stale
    /// result); one that became invalid is dropped. The pool is emptied of what the block takes.
    pub fn build_block(&self) -> Result<BlockProposal, ChainError> {
        self.build(|_, _, proposal, _| proposal)
    }

    /// [`Self::build_block`] and [`Self::execute_block`] of its proposal in one execution.
    fn produce_block(&self) -> Result<ExecutedBlock, ChainError> {
        self.build(|core, ctx, proposal, outcome| self.seal(core, ctx, &proposal, outcome))
    }

    fn build<T>(
        &self,
        finish: impl FnOnce(&Core, BlockCtx, BlockProposal, RunOutcome) -> T,
    ) -> Result<T, ChainError> {
        // Executed without the pool lock: transactions keep being accepted (on the pending state of the
        // same head) and wait for the next block. Only block production removes them from the pool.
        let txs = self.inner.pool.lock().txs.clone();
        let core = self.inner.core.read();
        let timestamp = self.next_timestamp(&core.head);
        let ctx = self.block_ctx(&core.head, core.head_hash, timestamp);
        let outcome = self.run_txs(&core.world, ctx, txs, true)?;
        if outcome.dropped.iter().any(|(_, _, keep)| !keep) {
            let mut pool = self.inner.pool.lock();
            for (tx, reason, keep) in &outcome.dropped {
                if !keep {
                    pool.known.remove(&tx.hash);
                    pool.txs.retain(|t| t.hash != tx.hash);
                    tracing::warn!(tx = %tx.hash, %reason, "transaction dropped");
                    if let Some(w) = pool.waiters.remove(&tx.hash) {
                        w.send(Err(TxError::Invalid(format!("dropped from the block: {reason}"))));
                    }
                }
            }
            let settled = pool.settled();
            drop(pool);
            self.publish_settled(settled);
        }
        let proposal = BlockProposal {
            parent_hash: core.head_hash,
            number: ctx.number,
            timestamp,
            transactions: outcome.included.iter().map(|t| t.raw.clone()).collect(),
            senders: outcome.included.iter().map(|t| t.sender).collect(),
            inference: outcome.included.iter().map(|t| t.records.clone()).collect(),
        };
        Ok(finish(&core, ctx, proposal, outcome))
    }

    fn run_txs(
        &self,
        world: &WorldState,
        ctx: BlockCtx,
        txs: Vec<PendingTx>,
        builder: bool,
    ) -> Result<RunOutcome, ChainError> {
        let mut db = CacheDB::new(world);
        let mut out = RunOutcome {
            included: Vec::new(),
            receipts: Vec::new(),
            diff: StateDiff::default(),
            gas_used: 0,
            dropped: Vec::new(),
        };
        let invalid = |reason: String| ChainError::InvalidBlock { number: ctx.number, reason };
        self.system_call(&mut db, ctx, false, &mut out.diff)?;
        for mut pending in txs {
            if out.gas_used + pending.tx.gas_limit() > ctx.gas_limit {
                if builder {
                    out.dropped.push((pending, "does not fit in the block".into(), true));
                    continue;
                }
                return Err(invalid(format!("tx {} exceeds the block gas limit", pending.hash)));
            }
            let result = match self.execute_recorded(&mut db, ctx, &mut pending, builder) {
                Ok(result) => result,
                Err(reason) if builder => {
                    out.dropped.push((pending, reason, false));
                    continue;
                }
                Err(reason) => return Err(invalid(format!("tx {}: {reason}", pending.hash))),
            };
            match result {
                Ok((result, state)) => {
                    out.diff.record(&state);
                    db.commit(state);
                    out.gas_used += result.tx_gas_used();
                    out.receipts.push(self.make_receipt(
                        &pending,
                        &result,
                        out.gas_used,
                        ctx.base_fee,
                    ));
                    out.included.push(pending);
                }
                Err(e) => {
                    let reason = match &e {
                        EVMError::Transaction(t) => {
                            map_invalid(t, self.chain_id(), Some(&pending.tx), pending.sender)
                                .to_string()
                        }
                        other => other.to_string(),
                    };
                    if builder {
                        out.dropped.push((pending, reason, false));
                    } else {
                        return Err(invalid(format!("tx {}: {reason}", pending.hash)));
                    }
                }
            }
        }
        self.system_call(&mut db, ctx, true, &mut out.diff)?;
        Ok(out)
    }

    /// Executes `pending` on `db` with its recorded inference results (not committed to `db`). When the
    /// records no longer match (the state moved since pre-execution), the transaction is simulated
    /// again on the same state with the oracle and retried, so it never runs on a stale result.
    /// `Err(reason)` on a mismatch without an oracle or with `resimulate` false (a block under
    /// validation), or when the inputs kept changing.
    fn execute_recorded(
        &self,
        db: &mut CacheDB<&WorldState>,
        ctx: BlockCtx,
        pending: &mut PendingTx,
        resimulate: bool,
    ) -> Result<crate::evm::TxResult<crate::state::DbError>, String> {
        let checks = Checks { chain_id: self.chain_id(), call: false };
        let hub = self.inner.config.inference_hub;
        for attempt in 0..3 {
            let (result, mut session) = transact(
                &mut *db,
                ctx,
                checks,
                tx_env(&pending.tx, pending.sender),
                hub,
                Session::new(Source::Replay(&pending.records)),
            );
            let Some(reason) = session.mismatch.take() else { return Ok(result) };
            drop(session);
            let oracle = match (&self.inner.oracle, resimulate) {
                (Some(o), true) => o.clone(),
                _ => return Err(reason),
            };
            tracing::debug!(tx = %pending.hash, attempt, %reason, "state changed since pre-execution: simulating again");
            let (_, session) = transact(
                &mut *db,
                ctx,
                checks,
                tx_env(&pending.tx, pending.sender),
                hub,
                Session::new(Source::Simulate(oracle.as_ref())),
            );
            pending.records = session.recorded;
        }
        Err("inference inputs kept changing".into())
    }

    /// The staking ledger's block boundary (`begin_block` before the transactions, `end_block` after),
    /// executed as a call from [`SYSTEM_ADDRESS`] whose state changes join the block's.
    fn system_call(
        &self,
        db: &mut CacheDB<&WorldState>,
        ctx: BlockCtx,
        end: bool,
        diff: &mut StateDiff,
    ) -> Result<(), ChainError> {
        let data = IStaking::systemBlockCall { number: ctx.number, end }.abi_encode();
        let env = TxEnv {
            tx_type: 0,
            caller: SYSTEM_ADDRESS,
            gas_limit: ctx.gas_limit,
            gas_price: 0,
            kind: TxKind::Call(STAKING_PRECOMPILE),
            data: data.into(),
            chain_id: Some(self.chain_id()),
            ..Default::default()
        };
        let (result, _) = transact(
            &mut *db,
            ctx,
            Checks { chain_id: self.chain_id(), call: true },
            env,
            self.inner.config.inference_hub,
            Session::new(Source::Unavailable),
        );
        let invalid = |reason: String| ChainError::InvalidBlock {
            number: ctx.number,
            reason: format!("staking block boundary: {reason}"),
        };
        match result {
            Ok((ExecutionResult::Success { .. }, mut state)) => {
                state.remove(&SYSTEM_ADDRESS);
                diff.record(&state);
                db.commit(state);
                Ok(())
            }
            Ok((ExecutionResult::Revert { output, .. }, _)) => {
                Err(invalid(decode_revert_reason(&output).unwrap_or_default()))
            }
            Ok((ExecutionResult::Halt { reason, .. }, _)) => Err(invalid(halt_message(&reason))),
            Err(e) => Err(invalid(e.to_string())),
        }
    }

    /// The staking ledger ([`crate::staking`]) in the head's state.
    pub fn staking_ledger(&self) -> Result<ogn_ledger::Ledger, ChainError> {
        crate::staking::ledger_of(&self.inner.core.read().world).map_err(ChainError::Corrupt)
    }

    fn make_receipt(
        &self,
        pending: &PendingTx,
        result: &ExecutionResult,
        cumulative: u64,
        base_fee: u64,
    ) -> StoredReceipt {
        let receipt = Receipt {
            status: Eip658Value::Eip658(result.is_success()),
            cumulative_gas_used: cumulative,
            logs: result.logs().to_vec(),
        };
        let with_bloom = ReceiptWithBloom::from(receipt);
        let envelope = match pending.tx.tx_type() {
            TxType::Eip2930 => ReceiptEnvelope::Eip2930(with_bloom),
            TxType::Eip1559 => ReceiptEnvelope::Eip1559(with_bloom),
            _ => ReceiptEnvelope::Legacy(with_bloom),
        };
        let contract_address = match pending.tx.kind() {
            TxKind::Create if result.is_success() => {
                Some(pending.sender.create(pending.tx.nonce()))
            }
            _ => None,
        };
        StoredReceipt {
            envelope,
            gas_used: result.tx_gas_used(),
            effective_gas_price: pending.tx.effective_gas_price(Some(base_fee)),
            contract_address,
        }
    }

    /// Executes a proposal on top of the head without any oracle: every inference call must match the
    /// proposal's records, every transaction must be valid. Nothing is written.
    pub fn execute_block(&self, proposal: &BlockProposal) -> Result<ExecutedBlock, ChainError> {
        let core = self.inner.core.read();
        let number = proposal.number;
        let invalid = |reason: String| ChainError::InvalidBlock { number, reason };
        if proposal.parent_hash != core.head_hash || number != core.head.number + 1 {
            return Err(invalid(format!(
                "parent {} / number {number} does not extend head {} / {}",
                proposal.parent_hash, core.head_hash, core.head.number
            )));
        }
        if proposal.timestamp < core.head.timestamp {
            return Err(invalid("timestamp before the parent's".into()));
        }
        if proposal.transactions.len() != proposal.senders.len()
            || proposal.transactions.len() != proposal.inference.len()
        {
            return Err(invalid("transactions, senders and records differ in count".into()));
        }
        let mut txs = Vec::with_capacity(proposal.transactions.len());
        for ((raw, sender), records) in
            proposal.transactions.iter().zip(&proposal.senders).zip(&proposal.inference)
        {
            let tx = TxEnvelope::decode_2718(&mut raw.as_ref())
                .map_err(|e| invalid(format!("transaction does not decode: {e}")))?;
            let hash = *tx.tx_hash();
            txs.push(PendingTx {
                tx,
                raw: raw.clone(),
                sender: *sender,
                hash,
                records: records.clone(),
                seq: 0,
            });
        }
        let ctx = self.block_ctx(&core.head, core.head_hash, proposal.timestamp);
        let outcome = self.run_txs(&core.world, ctx, txs, false)?;
        Ok(self.seal(&core, ctx, proposal, outcome))
    }

    /// The header (state root, transactions and receipts roots, bloom) of `proposal` executed on the
    /// head as `outcome`.
    fn seal(
        &self,
        core: &Core,
        ctx: BlockCtx,
        proposal: &BlockProposal,
        outcome: RunOutcome,
    ) -> ExecutedBlock {
        let changed = core.world.changed_accounts(&outcome.diff);
        let (state_root, trie) = core.world.root_with(&changed);
        let envelopes: Vec<TxEnvelope> = outcome.included.iter().map(|t| t.tx.clone()).collect();
        let receipt_envelopes: Vec<ReceiptEnvelope> =
            outcome.receipts.iter().map(|r| r.envelope.clone()).collect();
        let mut bloom = Bloom::default();
        for r in &receipt_envelopes {
            bloom.accrue_bloom(r.logs_bloom());
        }
        let header = Header {
            parent_hash: core.head_hash,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: STAKING_PRECOMPILE,
            state_root,
            transactions_root: calculate_transaction_root(&envelopes),
            receipts_root: calculate_receipt_root(&receipt_envelopes),
            logs_bloom: bloom,
            number: proposal.number,
            gas_limit: ctx.gas_limit,
            gas_used: outcome.gas_used,
            timestamp: proposal.timestamp,
            extra_data: records_root(&proposal.inference).0.to_vec().into(),
            mix_hash: ctx.prevrandao,
            base_fee_per_gas: Some(ctx.base_fee),
            ..Default::default()
        };
        let hash = header.hash_slow();
        let block = ChainBlock {
            header,
            hash,
            tx_hashes: outcome.included.iter().map(|t| t.hash).collect(),
            transactions: proposal.transactions.clone(),
            senders: proposal.senders.clone(),
            inference: proposal.inference.clone(),
            receipts: outcome.receipts,
        };
        ExecutedBlock { block, diff: outcome.diff, changed, trie }
    }

    /// Writes an executed block atomically, makes it the head, and notifies subscribers. Transactions it
    /// holds leave the pool; the others are checked again against the new head.
    pub fn commit_block(&self, executed: ExecutedBlock) -> Result<Arc<ChainBlock>, ChainError> {
        let ExecutedBlock { block, diff, changed, trie } = executed;
        let _commit = self.inner.commit_lock.lock();
        if block.header.parent_hash != self.inner.core.read().head_hash {
            return Err(ChainError::InvalidBlock {
                number: block.header.number,
                reason: "parent is not the head (executed against another state)".into(),
            });
        }
        let mut cleared = Vec::new();
        let mut storage_changes = Vec::new();
        for (address, change) in &diff.accounts {
            match change {
                crate::state::AccountChange::Deleted => cleared.push(*address),
                crate::state::AccountChange::Updated { storage_cleared, storage, .. } => {
                    if *storage_cleared {
                        cleared.push(*address);
                    }
                    storage_changes.extend(storage.iter().map(|(k, v)| (*address, *k, *v)));
                }
            }
        }
        // The write (and its fsync) holds neither the pool nor the state: transactions are accepted on
        // the old head meanwhile and checked again below. Queries ignore a stored block above the head.
        let encoded = block.encode();
        let size = encoded.len();
        self.inner.store.commit_block(
            (&block, &encoded),
            &changed,
            &cleared,
            &storage_changes,
            &diff.codes,
            &[],
        )?;
        drop(encoded);
        let block = Arc::new(block);
        let mut pool = self.inner.pool.lock();
        {
            let mut core = self.inner.core.write();
            core.world.apply(changed, trie, &diff.codes);
            core.world.block_hashes.insert(block.header.number, block.hash);
            let number = block.header.number;
            core.world.block_hashes.retain(|n, _| *n + 256 > number);
            core.head = block.header.clone();
            core.head_hash = block.hash;
        }
        self.inner.recent.lock().push(block.clone(), size);
        // The pending state restarts from the new head; waiting transactions are re-accepted (under
        // the same lock, so a later nonce cannot overtake them).
        let included: HashSet<B256> = block.tx_hashes.iter().copied().collect();
        let mut waiting = std::mem::take(&mut pool.txs);
        waiting.retain(|t| !included.contains(&t.hash));
        for hash in &block.tx_hashes {
            if let Some(w) = pool.waiters.remove(hash) {
                w.send(Ok(()));
            }
        }
        pool.restart();
        let core = self.inner.core.read();
        for t in waiting {
            let hash = t.hash;
            if let Err(e) = self.accept_locked(&mut pool, &core, t, None) {
                tracing::warn!(error = %e, "waiting transaction dropped after a new block");
                if let Some(w) = pool.waiters.remove(&hash) {
                    w.send(Err(e));
                }
            }
        }
        drop(core);
        let settled = pool.settled();
        drop(pool);
        self.publish_settled(settled);
        let _ = self.inner.heads.send(rpc_header(&block.header, block.hash, size));
        if self.inner.logs.receiver_count() > 0 {
            for log in self.block_logs(&block, None) {
                let _ = self.inner.logs.send(log);
            }
        }
        Ok(block)
    }

    /// Executes and commits a block made elsewhere (replay, sync), checking that its header matches.
    pub fn import_block(&self, block: &ChainBlock) -> Result<(), ChainError> {
        let executed = self.execute_block(&block.proposal())?;
        if executed.block.hash != block.hash {
            let (a, b) = (&executed.block.header, &block.header);
            return Err(ChainError::InvalidBlock {
                number: block.header.number,
                reason: format!(
                    "re-execution gives header {} (state root {}), the block says {} (state root {})",
                    executed.block.hash, a.state_root, block.hash, b.state_root
                ),
            });
        }
        self.commit_block(executed)?;
        Ok(())
    }

    // ----- queries -----

    /// A committed block in its stored form.
    pub fn stored_block(&self, number: u64) -> Result<Option<ChainBlock>, ChainError> {
        if number > self.block_number() {
            return Ok(None); // written, not yet the head
        }
        Ok(self.block_at(number)?.map(|(b, _)| Arc::unwrap_or_clone(b)))
    }

    /// A block by number (from memory when recent) with its encoded size; the caller checks that it is
    /// not above the head.
    fn block_at(&self, number: u64) -> Result<Option<(Arc<ChainBlock>, usize)>, ChainError> {
        if let Some(hit) = self.inner.recent.lock().get(number) {
            return Ok(Some(hit));
        }
        if let Some(hit) = self.inner.loaded.lock().iter().find(|(b, _)| b.header.number == number)
        {
            return Ok(Some(hit.clone()));
        }
        let Some((block, size)) = self.inner.store.block_sized(number)? else { return Ok(None) };
        let hit = (Arc::new(block), size);
        let mut loaded = self.inner.loaded.lock();
        if loaded.len() == LOADED_BLOCKS {
            loaded.pop_front();
        }
        loaded.push_back(hit.clone());
        Ok(Some(hit))
    }

    /// Where a committed transaction is, ignoring a block written but not yet the head.
    fn tx_location(&self, hash: &B256) -> Result<Option<(u64, u32)>, ChainError> {
        let head = self.block_number();
        let recent = self.inner.recent.lock().txs.get(hash).copied();
        let location = match recent {
            Some(l) => Some(l),
            None => self.inner.store.tx_location(hash)?,
        };
        Ok(location.filter(|(n, _)| *n <= head))
    }

    fn resolve_number(&self, tag: BlockNumberOrTag) -> Option<u64> {
        let head = self.block_number();
        match tag {
            BlockNumberOrTag::Number(n) => (n <= head).then_some(n),
            BlockNumberOrTag::Earliest => Some(0),
            _ => Some(head),
        }
    }

    /// `eth_getBlockByNumber`.
    pub fn block_by_number(
        &self,
        tag: BlockNumberOrTag,
        full: bool,
    ) -> Result<Option<Block>, ChainError> {
        let Some(n) = self.resolve_number(tag) else { return Ok(None) };
        Ok(self.block_at(n)?.map(|(b, size)| self.rpc_block(&b, size, full)))
    }

    /// `eth_getBlockByHash`.
    pub fn block_by_hash(&self, hash: B256, full: bool) -> Result<Option<Block>, ChainError> {
        match self.inner.store.block_number(&hash)? {
            Some(n) => self.block_by_number(BlockNumberOrTag::Number(n), full),
            None => Ok(None),
        }
    }

    fn rpc_tx(&self, block: &ChainBlock, i: usize) -> Option<RpcTransaction> {
        let tx = block.transaction(i)?;
        let base_fee = block.header.base_fee_per_gas;
        Some(RpcTransaction {
            effective_gas_price: Some(tx.effective_gas_price(base_fee)),
            inner: Recovered::new_unchecked(tx, block.senders[i]),
            block_hash: Some(block.hash),
            block_number: Some(block.header.number),
            transaction_index: Some(i as u64),
            block_timestamp: Some(block.header.timestamp),
        })
    }

    fn rpc_block(&self, block: &ChainBlock, size: usize, full: bool) -> Block {
        let transactions = if full {
            BlockTransactions::Full(
                (0..block.transactions.len()).filter_map(|i| self.rpc_tx(block, i)).collect(),
            )
        } else {
            BlockTransactions::Hashes(block.tx_hashes.clone())
        };
        Block {
            header: rpc_header(&block.header, block.hash, size),
            uncles: vec![],
            transactions,
            withdrawals: None,
        }
    }

    /// `eth_getTransactionByHash` (pending transactions too, without block fields).
    pub fn transaction_by_hash(&self, hash: B256) -> Result<Option<RpcTransaction>, ChainError> {
        if let Some((n, i)) = self.tx_location(&hash)? {
            let (block, _) = self
                .block_at(n)?
                .ok_or_else(|| ChainError::Corrupt(format!("block {n} of tx {hash} missing")))?;
            return Ok(self.rpc_tx(&block, i as usize));
        }
        let pool = self.inner.pool.lock();
        Ok(pool.txs.iter().find(|t| t.hash == hash).map(|t| RpcTransaction {
            effective_gas_price: None,
            inner: Recovered::new_unchecked(t.tx.clone(), t.sender),
            block_hash: None,
            block_number: None,
            transaction_index: None,
            block_timestamp: None,
        }))
    }

    fn block_logs(&self, block: &ChainBlock, filter: Option<&Filter>) -> Vec<RpcLog> {
        let mut out = Vec::new();
        let mut log_index = 0u64;
        for (i, receipt) in block.receipts.iter().enumerate() {
            for log in receipt.envelope.logs() {
                let rpc = RpcLog {
                    inner: log.clone(),
                    block_hash: Some(block.hash),
                    block_number: Some(block.header.number),
                    block_timestamp: Some(block.header.timestamp),
                    transaction_hash: block.tx_hashes.get(i).copied(),
                    transaction_index: Some(i as u64),
                    log_index: Some(log_index),
                    removed: false,
                };
                log_index += 1;
                if filter.is_none_or(|f| f.matches(&rpc.inner)) {
                    out.push(rpc);
                }
            }
        }
        out
    }

    /// `eth_getTransactionReceipt`.
    pub fn receipt(&self, hash: B256) -> Result<Option<TransactionReceipt>, ChainError> {
        let Some((n, i)) = self.tx_location(&hash)? else { return Ok(None) };
        let (block, _) = self
            .block_at(n)?
            .ok_or_else(|| ChainError::Corrupt(format!("block {n} of tx {hash} missing")))?;
        self.receipt_in(&block, i as usize, hash)
    }

    /// The receipt of `hash` when its block is one of the recent blocks kept in memory (`None`
    /// otherwise, also for unknown transactions): answers without touching the disk, so async callers
    /// may call it in place and fall back to [`Self::receipt`] on a blocking thread.
    pub fn recent_receipt(&self, hash: B256) -> Option<TransactionReceipt> {
        let head = self.block_number();
        let (block, i) = {
            let recent = self.inner.recent.lock();
            let (n, i) = recent.txs.get(&hash).copied().filter(|(n, _)| *n <= head)?;
            (recent.get(n)?.0, i)
        };
        self.receipt_in(&block, i as usize, hash).ok().flatten()
    }

    fn receipt_in(
        &self,
        block: &ChainBlock,
        i: usize,
        hash: B256,
    ) -> Result<Option<TransactionReceipt>, ChainError> {
        let n = block.header.number;
        let stored = &block.receipts[i];
        let tx = block.transaction(i).ok_or_else(|| ChainError::Corrupt(format!("tx {hash}")))?;
        let first_log: usize = block.receipts[..i].iter().map(|r| r.envelope.logs().len()).sum();
        let logs: Vec<RpcLog> = self
            .block_logs(block, None)
            .into_iter()
            .skip(first_log)
            .take(stored.envelope.logs().len())
            .collect();
        let bloom = stored.envelope.logs_bloom();
        let status = stored.envelope.status();
        let cumulative = stored.envelope.cumulative_gas_used();
        let rwb = ReceiptWithBloom {
            receipt: Receipt {
                status: Eip658Value::Eip658(status),
                cumulative_gas_used: cumulative,
                logs,
            },
            logs_bloom: *bloom,
        };
        let inner = match stored.envelope {
            ReceiptEnvelope::Eip2930(_) => ReceiptEnvelope::Eip2930(rwb),
            ReceiptEnvelope::Eip1559(_) => ReceiptEnvelope::Eip1559(rwb),
            _ => ReceiptEnvelope::Legacy(rwb),
        };
        Ok(Some(TransactionReceipt {
            inner,
            transaction_hash: hash,
            transaction_index: Some(i as u64),
            block_hash: Some(block.hash),
            block_number: Some(n),
            gas_used: stored.gas_used,
            effective_gas_price: stored.effective_gas_price,
            blob_gas_used: None,
            blob_gas_price: None,
            from: block.senders[i],
            to: tx.to(),
            contract_address: stored.contract_address,
        }))
    }

    /// `eth_getLogs`: blocks are found through the address and topic0 indexes when the filter names
    /// them; a range without either is limited to [`MAX_LOG_RANGE`] blocks.
    pub fn logs(&self, filter: &Filter) -> Result<Vec<RpcLog>, ChainError> {
        let head = self.block_number();
        let blocks: Vec<u64> = match filter.block_option {
            FilterBlockOption::AtBlockHash(hash) => match self.inner.store.block_number(&hash)? {
                Some(n) if n <= head => vec![n],
                _ => return Err(ChainError::BlockNotFound(hash.to_string())),
            },
            FilterBlockOption::Range { from_block, to_block } => {
                let from = from_block.and_then(|t| self.resolve_number(t)).unwrap_or(head);
                let to = match to_block {
                    Some(BlockNumberOrTag::Number(n)) => n.min(head),
                    Some(t) => self.resolve_number(t).unwrap_or(head),
                    None => head,
                };
                if from > to {
                    return Ok(vec![]);
                }
                let addresses: Vec<Address> = filter.address.iter().copied().collect();
                let topics0: Vec<B256> = filter.topics[0].iter().copied().collect();
                let mut candidates: Option<Vec<u64>> = None;
                if !addresses.is_empty() {
                    let mut set = Vec::new();
                    for a in &addresses {
                        set.extend(self.inner.store.blocks_with_address(a, from, to)?);
                    }
                    set.sort_unstable();
                    set.dedup();
                    candidates = Some(set);
                }
                if !topics0.is_empty() {
                    let mut set = Vec::new();
                    for t in &topics0 {
                        set.extend(self.inner.store.blocks_with_topic0(t, from, to)?);
                    }
                    set.sort_unstable();
                    set.dedup();
                    candidates = Some(match candidates {
                        Some(a) => a.into_iter().filter(|n| set.binary_search(n).is_ok()).collect(),
                        None => set,
                    });
                }
                match candidates {
                    Some(c) => c,
                    None => {
                        if to - from >= MAX_LOG_RANGE {
                            return Err(ChainError::FilterTooLarge(format!(
                                "query exceeds max block range {MAX_LOG_RANGE}"
                            )));
                        }
                        (from..=to).collect()
                    }
                }
            }
        };
        let mut out = Vec::new();
        for n in blocks {
            let Some((block, _)) = self.block_at(n)? else { continue };
            out.extend(self.block_logs(&block, Some(filter)));
            if out.len() > MAX_LOGS {
                return Err(ChainError::FilterTooLarge(format!(
                    "query returned more than {MAX_LOGS} results"
                )));
            }
        }
        Ok(out)
    }

    /// `eth_feeHistory` over up to 1024 blocks ending at `newest`.
    pub fn fee_history(
        &self,
        block_count: u64,
        newest: BlockNumberOrTag,
        percentiles: &[f64],
    ) -> Result<FeeHistory, ChainError> {
        let newest = self.resolve_number(newest).unwrap_or(self.block_number());
        let count = block_count.clamp(1, 1024).min(newest + 1);
        let oldest = newest + 1 - count;
        let mut history = FeeHistory { oldest_block: oldest, ..Default::default() };
        let mut last = None;
        let mut rewards = Vec::new();
        for n in oldest..=newest {
            let (block, _) =
                self.block_at(n)?.ok_or_else(|| ChainError::BlockNotFound(n.to_string()))?;
            let base = block.header.base_fee_per_gas.unwrap_or_default();
            history.base_fee_per_gas.push(u128::from(base));
            history
                .gas_used_ratio
                .push(block.header.gas_used as f64 / block.header.gas_limit as f64);
            history.base_fee_per_blob_gas.push(0);
            history.blob_gas_used_ratio.push(0.0);
            if !percentiles.is_empty() {
                let mut tips: Vec<(u128, u64)> = (0..block.transactions.len())
                    .filter_map(|i| {
                        let tx = block.transaction(i)?;
                        let tip = tx.effective_tip_per_gas(base).unwrap_or_default();
                        Some((tip, block.receipts[i].gas_used))
                    })
                    .collect();
                tips.sort_unstable();
                let total: u64 = tips.iter().map(|t| t.1).sum();
                let row = percentiles
                    .iter()
                    .map(|p| {
                        let threshold = (total as f64 * p / 100.0) as u64;
                        let mut acc = 0;
                        for (tip, gas) in &tips {
                            acc += gas;
                            if acc >= threshold {
                                return *tip;
                            }
                        }
                        tips.last().map(|t| t.0).unwrap_or_default()
                    })
                    .collect();
                rewards.push(row);
            }
            last = Some(block.header.clone());
        }
        if let Some(h) = last {
            history.base_fee_per_gas.push(u128::from(self.base_fee_after(&h)));
            history.base_fee_per_blob_gas.push(0);
        }
        if !percentiles.is_empty() {
            history.reward = Some(rewards);
        }
        Ok(history)
    }

    /// New heads as blocks are committed.
    pub fn subscribe_heads(&self) -> broadcast::Receiver<alloy::rpc::types::Header> {
        self.inner.heads.subscribe()
    }

    /// Logs of committed blocks, in order (filter on the receiving side).
    pub fn subscribe_logs(&self) -> broadcast::Receiver<RpcLog> {
        self.inner.logs.subscribe()
    }

    /// An inference by its id (the result id), with the transaction and block that carry it.
    pub fn inference_record(&self, id: B256) -> Result<Option<InferenceEntry>, ChainError> {
        let Some((n, i, j)) = self.inner.store.inference_location(&id)? else { return Ok(None) };
        if n > self.block_number() {
            return Ok(None); // written, not yet the head
        }
        let (block, _) = self
            .block_at(n)?
            .ok_or_else(|| ChainError::Corrupt(format!("block {n} of inference {id} missing")))?;
        let record = block
            .inference
            .get(i as usize)
            .and_then(|r| r.get(j as usize))
            .cloned()
            .ok_or_else(|| ChainError::Corrupt(format!("inference {id} not in block {n}")))?;
        Ok(Some(InferenceEntry {
            record,
            block_number: n,
            block_hash: block.hash,
            tx_hash: block.tx_hashes[i as usize],
            tx_index: u64::from(i),
        }))
    }

    // ----- calls -----

    fn call_env(&self, request: &TransactionRequest, gas: u64) -> Result<TxEnv, TxError> {
        let input = request.input.input().cloned().unwrap_or_default();
        let kind = request.to.unwrap_or(TxKind::Create);
        Ok(TxEnv {
            tx_type: if request.max_fee_per_gas.is_some() { 2 } else { 0 },
            caller: request.from.unwrap_or_default(),
            gas_limit: gas,
            gas_price: request.max_fee_per_gas.or(request.gas_price).unwrap_or_default(),
            kind,
            value: request.value.unwrap_or_default(),
            data: input,
            nonce: request.nonce.unwrap_or_default(),
            chain_id: Some(self.chain_id()),
            access_list: request.access_list.clone().unwrap_or_default(),
            gas_priority_fee: request.max_priority_fee_per_gas,
            ..Default::default()
        })
    }

    fn run_call(
        &self,
        request: &TransactionRequest,
        block: BlockId,
        gas: u64,
        source: Source<'_>,
    ) -> Result<(ExecutionResult, Vec<InferenceRecord>), CallError> {
        let pending = Self::is_pending(block);
        let cache = if pending { self.inner.pool.lock().cache.clone() } else { Cache::default() };
        let core = self.inner.core.read();
        self.check_state_block(block, core.head.number)?;
        let ctx = self.block_ctx(&core.head, core.head_hash, self.next_timestamp(&core.head));
        let mut env = self.call_env(request, gas)?;
        if request.nonce.is_none() {
            env.nonce = core.world.nonce(&env.caller);
        }
        let db = CacheDB { cache, db: &core.world };
        let (result, session) = transact(
            db,
            ctx,
            Checks { chain_id: self.chain_id(), call: true },
            env,
            self.inner.config.inference_hub,
            Session::new(source),
        );
        if let Some(reason) = session.mismatch {
            return Err(CallError::Halt(reason));
        }
        match result {
            Ok((r, _)) => Ok((r, session.recorded)),
            Err(EVMError::Transaction(e)) => Err(CallError::Invalid(map_invalid(
                &e,
                self.chain_id(),
                None,
                request.from.unwrap_or_default(),
            ))),
            Err(e) => Err(CallError::Halt(e.to_string())),
        }
    }

    fn source(&self) -> Source<'_> {
        match &self.inner.oracle {
            Some(o) => Source::Simulate(o.as_ref()),
            None => Source::Unavailable,
        }
    }

    /// `eth_call`: runs `request` on the state of `block` (latest or pending). Inference runs through the
    /// oracle, and its outputs say `is_simulation_result = true`. Gas defaults to [`CALL_GAS_CAP`].
    pub fn call(&self, request: &TransactionRequest, block: BlockId) -> Result<Bytes, CallError> {
        let gas = request.gas.unwrap_or(CALL_GAS_CAP).min(self.inner.config.block_gas_limit);
        let (result, _) = self.run_call(request, block, gas, self.source())?;
        into_output(result)
    }

    /// `eth_estimateGas`: the smallest gas limit with which `request` succeeds (binary search). Models
    /// run once; the search replays their records.
    pub fn estimate_gas(
        &self,
        request: &TransactionRequest,
        block: BlockId,
    ) -> Result<u64, CallError> {
        let cap = request
            .gas
            .unwrap_or(self.inner.config.block_gas_limit)
            .min(self.inner.config.block_gas_limit);
        let (result, records) = self.run_call(request, block, cap, self.source())?;
        let used = result.tx_gas_used();
        into_output(result)?;
        let ok = |gas: u64| -> Result<bool, CallError> {
            let (r, _) = self.run_call(request, block, gas, Source::Replay(&records))?;
            Ok(r.is_success())
        };
        let mut lo = used.saturating_sub(1);
        let mut hi = cap;
        // Most transactions succeed with what they used plus the 1/64 reserve: try that first.
        let guess = (used + used / 63 + 1).min(cap);
        if ok(guess)? {
            hi = guess;
        }
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            match self.run_call(request, block, mid, Source::Replay(&records)) {
                Ok((r, _)) if r.is_success() => hi = mid,
                Ok(_) => lo = mid,
                Err(CallError::Invalid(TxError::IntrinsicGasTooLow { .. })) => lo = mid,
                Err(e) => return Err(e),
            }
        }
        Ok(hi)
    }
}

fn into_output(result: ExecutionResult) -> Result<Bytes, CallError> {
    match result {
        ExecutionResult::Success { output, .. } => Ok(output.into_data()),
        ExecutionResult::Revert { output, .. } => {
            Err(CallError::Revert { reason: decode_revert_reason(&output), data: output })
        }
        ExecutionResult::Halt { reason, .. } => Err(CallError::Halt(halt_message(&reason))),
    }
}

fn halt_message(reason: &revm::context::result::HaltReason) -> String {
    use revm::context::result::HaltReason;
    match reason {
        HaltReason::OutOfGas(_) => "out of gas".into(),
        HaltReason::OpcodeNotFound | HaltReason::InvalidFEOpcode => "invalid opcode".into(),
        HaltReason::StackUnderflow => "stack underflow".into(),
        HaltReason::StackOverflow => "stack overflow".into(),
        other => format!("execution halted: {other:?}"),
    }
}

/// Signs a transaction with a local key (used by tests and tools).
pub fn sign_transaction(
    signer: &PrivateKeySigner,
    tx: alloy::consensus::TypedTransaction,
) -> Result<TxEnvelope, String> {
    fn go<T: SignableTransaction<Signature>>(
        signer: &PrivateKeySigner,
        mut t: T,
    ) -> Result<TxEnvelope, String>
    where
        alloy::consensus::Signed<T>: Into<TxEnvelope>,
    {
        let sig = signer.sign_transaction_sync(&mut t).map_err(|e| e.to_string())?;
        Ok(t.into_signed(sig).into())
    }
    match tx {
        alloy::consensus::TypedTransaction::Legacy(t) => go(signer, t),
        alloy::consensus::TypedTransaction::Eip2930(t) => go(signer, t),
        alloy::consensus::TypedTransaction::Eip1559(t) => go(signer, t),
        _ => Err("unsupported transaction type".into()),
    }
}
