//! Settings of a chain and its genesis.

use std::{path::PathBuf, time::Duration};

use alloy::primitives::{Address, U256, address};

/// Default chain id of an ogn devnet (`0x29f8`). Chosen to collide with no chain listed on chainlist.org
/// at the time of writing; override with [`ChainConfig::chain_id`].
pub const DEFAULT_CHAIN_ID: u64 = 10744;

/// The mnemonic of the dev accounts (the one anvil and hardhat use): never use it for real funds.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// Number of dev accounts derived from [`DEV_MNEMONIC`] (`m/44'/60'/0'/0/i`, `i` in `0..10`).
pub const DEV_ACCOUNTS: usize = 10;

/// Balance of each dev account in genesis: 10 000 ether-units (10^22 wei).
pub const DEV_BALANCE: U256 = U256::from_limbs([0x19e0_c9ba_b240_0000, 0x21e, 0, 0]);

/// Default block gas limit (30 million, like Ethereum mainnet in 2024).
pub const DEFAULT_BLOCK_GAS_LIMIT: u64 = 30_000_000;

/// Minimum base fee per gas (EIP-1559): 1 gwei. The base fee follows EIP-1559's rule (target half the gas
/// limit, at most 1/8 change per block) but never drops below this floor, so an idle devnet keeps a
/// sensible `eth_gasPrice`.
pub const MIN_BASE_FEE: u64 = 1_000_000_000;

/// Largest accepted transaction, in bytes of its EIP-2718 encoding (geth's `txMaxSize`, 128 KiB).
pub const MAX_TX_BYTES: usize = 128 * 1024;

/// Default address of the Inference hub contract: the OpenGradient SDK's default
/// `inference_contract_address`, so the SDK works against a devnet without configuration.
pub const DEFAULT_INFERENCE_HUB: Address = address!("8383C9bD7462F12Eb996DD02F78234C0421A6FaE");

/// When blocks are produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MiningMode {
    /// A block as soon as a transaction is accepted: every transaction waiting at that moment goes into
    /// it, so a lone sender gets one block per transaction (like anvil) and concurrent senders share
    /// blocks (a block producer thread; when recent blocks held more transactions than are waiting, it
    /// waits up to 2 ms for the others). `send_raw_transaction` returns once the block is committed.
    Auto,
    /// A block every interval (empty blocks included); transactions wait in the pool until then.
    Interval(Duration),
    /// Blocks only through [`crate::Chain::mine`].
    Manual,
}

/// Settings of a [`crate::Chain`].
#[derive(Debug, Clone)]
pub struct ChainConfig {
    /// Chain id (EIP-155), default [`DEFAULT_CHAIN_ID`].
    pub chain_id: u64,
    /// Directory of `chain.redb`; `None` keeps everything in memory (lost when dropped).
    pub data_dir: Option<PathBuf>,
    /// When blocks are produced.
    pub mining: MiningMode,
    /// Gas limit of every block.
    pub block_gas_limit: u64,
    /// Floor of the EIP-1559 base fee.
    pub min_base_fee: u64,
    /// Timestamp of the genesis block; `None` takes the clock at creation. Stored in genesis, so a
    /// reopened chain keeps its genesis.
    pub genesis_timestamp: Option<u64>,
    /// Mnemonic the dev accounts derive from.
    pub dev_mnemonic: String,
    /// How many dev accounts are derived and funded.
    pub dev_accounts: usize,
    /// Genesis balance of each dev account.
    pub dev_balance: U256,
    /// Address of the natively implemented Inference hub contract.
    pub inference_hub: Address,
    /// Largest accepted transaction in bytes.
    pub max_tx_bytes: usize,
    /// Parameters of the staking ledger at genesis (stored in the chain state; a reopened chain keeps
    /// its genesis parameters).
    pub staking: ogn_ledger::Params,
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            chain_id: DEFAULT_CHAIN_ID,
            data_dir: None,
            mining: MiningMode::Auto,
            block_gas_limit: DEFAULT_BLOCK_GAS_LIMIT,
            min_base_fee: MIN_BASE_FEE,
            genesis_timestamp: None,
            dev_mnemonic: DEV_MNEMONIC.to_string(),
            dev_accounts: DEV_ACCOUNTS,
            dev_balance: DEV_BALANCE,
            inference_hub: DEFAULT_INFERENCE_HUB,
            max_tx_bytes: MAX_TX_BYTES,
            staking: ogn_ledger::Params::default(),
        }
    }
}
