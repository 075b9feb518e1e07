//! `ogn operator`: an inference operator as its own process (see `ogn_operator`): bonds with its key if
//! it is not registered yet, announces itself to the node, serves the jobs the node's scheduler assigns it
//! with per-layer evidence, and defends its results in disputes on chain.

use std::net::SocketAddr;

use anyhow::{Result, anyhow};
use clap::Args;
use ogn_operator::{Cheat, OperatorConfig, run_operator};

use crate::config::Settings;

/// Arguments of `ogn operator`.
#[derive(Debug, Args)]
pub(crate) struct OperatorArgs {
    /// The node's URL (JSON-RPC, hub and scheduler; default: the hub URL setting).
    #[arg(long)]
    node: Option<String>,
    /// Model CIDs to serve, comma-separated (default: any model the node's hub has).
    #[arg(long, value_delimiter = ',')]
    models: Vec<String>,
    /// Where to take jobs (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Self-bond in OPG when registering (the ledger's minimum for operators applies).
    #[arg(long, default_value = "1000")]
    bond: String,
    /// Commission in parts per million.
    #[arg(long, default_value_t = 50_000)]
    commission_ppm: u32,
    /// Return a wrong result (committed to consistently) for this share of jobs, in parts per million:
    /// for exercising the verification protocol, which catches and slashes it.
    #[arg(long, hide = true)]
    cheat_ppm: Option<u64>,
    /// Where served jobs are kept so that a restarted operator still defends them in disputes
    /// (default: in memory only).
    #[arg(long)]
    state_dir: Option<std::path::PathBuf>,
}

/// OPG → wei, also accepted with up to 18 decimals.
pub(crate) fn opg_to_wei(s: &str) -> Result<u128> {
    let wei = alloy::primitives::utils::parse_ether(s)
        .map_err(|e| anyhow!("`{s}` is not an OPG amount: {e}"))?;
    u128::try_from(wei).map_err(|_| anyhow!("`{s}` OPG is too large"))
}

pub(crate) async fn run(settings: &Settings, args: OperatorArgs) -> Result<()> {
    let config = OperatorConfig {
        key: settings.signer()?,
        node: args
            .node
            .unwrap_or_else(|| settings.hub_url.clone())
            .trim_end_matches('/')
            .to_string(),
        models: args.models,
        listen: args.listen,
        bond: opg_to_wei(&args.bond)?,
        commission_ppm: args.commission_ppm,
        cheat: args.cheat_ppm.map(|ppm| Cheat { ppm }),
        state_dir: args.state_dir,
    };
    run_operator(config, crate::serve::shutdown_signal()).await
}
