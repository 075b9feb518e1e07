//! `ogn`: the one command users type.
//!
//! ```text
//! ogn devnet                         a complete local network on an embedded default (local files only)
//! ogn devnet --operators 3          … with three operator processes serving jobs (VANILLA, SAMPLING, REPLICAS)
//! ogn operator --node <url>          an inference operator: bond, announce, serve jobs, defend disputes
//! ogn hub serve                      the Model Hub's HTTP API alone
//! ogn model create|push|ls|show|pull|inspect
//! ogn infer <cid | name@version | file.onnx> --input <file.json | inline JSON>
//! ogn prove <int8 model> --input x.json -o proof.json;  ogn verify-proof proof.json --model <model>
//! ogn sim crates/sim/scenarios/*.toml [--seed N] [--out DIR];  ogn sim run|compare (many runs, report)
//! ogn stake|delegate|undelegate|redelegate|rewards|validators|operators;  ogn lst deposit|redeem
//! ```
//! Every command prints for people by default and JSON with `--json`. Settings come from flags, then
//! environment variables (`OGN_HUB_URL`, `OGN_PRIVATE_KEY`, `OGN_DATA_DIR`, `OGN_CONFIG`), then the config
//! file (see [`config`]).

mod config;
mod infer;
mod model;
mod operator;
mod progress;
mod reference;
mod serve;
mod sim;
mod stake;
mod verify;
mod zk;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Overrides, Settings};

// glibc's allocator hands model-sized buffers back to the OS after every inference and pays for it again on
// the next one; mimalloc keeps them (measured: PP-OCR det 217 → 160 ms per run, see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// ogn: an open network for verified AI inference.
#[derive(Debug, Parser)]
#[command(name = "ogn", version, about)]
struct Cli {
    /// Config file (TOML). Default: ~/.config/ogn/config.toml when present.
    #[arg(long, global = true, env = "OGN_CONFIG")]
    config: Option<PathBuf>,
    /// Base URL of the hub / node.
    #[arg(long = "hub", global = true, env = "OGN_HUB_URL")]
    hub_url: Option<String>,
    /// Hex private key that signs writes (default: dev account 0 of the dev mnemonic).
    #[arg(long = "key", global = true, env = "OGN_PRIVATE_KEY", hide_env_values = true)]
    private_key: Option<String>,
    /// Local data directory (default: ~/.ogn).
    #[arg(long, global = true, env = "OGN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a complete single-node network on local files: the Model Hub and inference on one HTTP port.
    Devnet(serve::DevnetArgs),
    /// Serve inference as a bonded operator: take jobs from a node, run them with evidence, defend disputes.
    Operator(operator::OperatorArgs),
    /// The Model Hub server.
    #[command(subcommand)]
    Hub(serve::HubCommand),
    /// Models in the hub: create repositories, push files, list, show, download, inspect.
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// Run a model on an input and print the outputs and the result id.
    Infer(infer::InferArgs),
    /// Prove that an int8 model maps an input to its output (zero-knowledge-style succinct proof, no setup).
    Prove(zk::ProveArgs),
    /// Check a proof written by `ogn prove` against the model it claims.
    VerifyProof(zk::VerifyArgs),
    /// Check an inference receipt offline (signatures, hashes, guarantee); `--reexecute` reruns the job.
    Verify(verify::VerifyArgs),
    /// Fetch the receipt of a job or of an inference made in a transaction from the node.
    Receipt(verify::ReceiptArgs),
    /// Quantize a float ONNX model to int8 with calibration inputs, for `ogn prove`; reports the accuracy change.
    Quantize(zk::QuantizeArgs),
    /// Register the signer as a validator or inference operator with a self-bond.
    Stake(stake::StakeArgs),
    /// Delegate OPG to a validator or operator.
    Delegate(stake::DelegateArgs),
    /// Start unbonding a delegation (paid after the unbonding period).
    Undelegate(stake::DelegateArgs),
    /// Move a delegation to another validator or operator.
    Redelegate(stake::RedelegateArgs),
    /// Show (or withdraw) the signer's rewards from a validator or operator, per source.
    Rewards(stake::RewardsArgs),
    /// List validators and network staking figures (yield, subsidy ratio, runway, stOPG rate).
    Validators(stake::ListArgs),
    /// List inference operators and network staking figures.
    Operators(stake::ListArgs),
    /// The stOPG liquid staking token.
    #[command(subcommand)]
    Lst(stake::LstCommand),
    /// Stress the incentives: run the ledger under economic scenarios and print a verdict for each.
    Sim(sim::SimArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OGN_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("warn,ogn=info,ogn_hub=info")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(Overrides {
        config: cli.config,
        hub_url: cli.hub_url,
        private_key: cli.private_key,
        data_dir: cli.data_dir,
    })?;
    let json = cli.json;
    match cli.command {
        Command::Devnet(args) => serve::devnet(&settings, args).await,
        Command::Hub(cmd) => serve::hub(&settings, cmd).await,
        Command::Operator(args) => operator::run(&settings, args).await,
        Command::Model(cmd) => model::run(&settings, cmd, json).await,
        Command::Infer(args) => infer::run(&settings, args, json).await,
        Command::Prove(args) => zk::prove(&settings, args, json).await,
        Command::VerifyProof(args) => zk::verify(&settings, args, json).await,
        Command::Verify(args) => verify::run(&settings, args, json).await,
        Command::Receipt(args) => verify::fetch(&settings, args).await,
        Command::Quantize(args) => zk::quantize(&settings, args, json).await,
        Command::Sim(args) => tokio::task::spawn_blocking(move || sim::run(args, json)).await?,
        Command::Stake(args) => stake::stake(&settings, args, json).await,
        Command::Delegate(args) => stake::delegate(&settings, args, json).await,
        Command::Undelegate(args) => stake::undelegate(&settings, args, json).await,
        Command::Redelegate(args) => stake::redelegate(&settings, args, json).await,
        Command::Rewards(args) => stake::rewards(&settings, args, json).await,
        Command::Validators(args) => stake::list(&settings, args, false, json).await,
        Command::Operators(args) => stake::list(&settings, args, true, json).await,
        Command::Lst(cmd) => stake::lst(&settings, cmd, json).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
