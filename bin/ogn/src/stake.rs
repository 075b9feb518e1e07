//! `ogn stake | delegate | undelegate | redelegate | rewards | validators | operators | lst`: signed
//! transactions to the staking precompile (`0x…0100`, see `crates/chain/abi/IStaking.sol`) through a
//! node's JSON-RPC. Amounts are OPG with up to 18 decimals (`12.5`). Each action is simulated first
//! (`eth_call`), so a refusal prints the ledger's reason and sends nothing.

use alloy::{
    primitives::{
        Address, U256,
        utils::{format_ether, parse_ether},
    },
    sol_types::SolCall,
};
use anyhow::{Result, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use ogn_chain::{IStaking, STAKING_PRECOMPILE};
use serde_json::{Value, json};

use crate::config::Settings;

/// Where to send: the node's JSON-RPC URL.
#[derive(Debug, Args)]
pub(crate) struct Rpc {
    /// JSON-RPC URL of the node (default: the hub URL setting, which `ogn devnet` serves).
    #[arg(long)]
    rpc: Option<String>,
}

/// The role `ogn stake` registers.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum StakeRole {
    /// Orders blocks.
    Validator,
    /// Serves inference.
    Operator,
}

/// `ogn stake`.
#[derive(Debug, Args)]
pub(crate) struct StakeArgs {
    /// Self-bond in OPG.
    amount: String,
    /// Register as a validator or an inference operator.
    #[arg(long = "as", value_enum, default_value = "validator")]
    role: StakeRole,
    /// Commission in parts per million (100000 = 10 %).
    #[arg(long, default_value_t = 100_000)]
    commission_ppm: u32,
    #[command(flatten)]
    rpc: Rpc,
}

/// `ogn delegate` / `ogn undelegate`.
#[derive(Debug, Args)]
pub(crate) struct DelegateArgs {
    /// The validator or operator.
    staker: Address,
    /// Amount in OPG.
    amount: String,
    #[command(flatten)]
    rpc: Rpc,
}

/// `ogn redelegate`.
#[derive(Debug, Args)]
pub(crate) struct RedelegateArgs {
    /// From this validator or operator.
    from: Address,
    /// To this one.
    to: Address,
    /// Amount in OPG.
    amount: String,
    #[command(flatten)]
    rpc: Rpc,
}

/// `ogn rewards`.
#[derive(Debug, Args)]
pub(crate) struct RewardsArgs {
    /// The validator or operator delegated to.
    staker: Address,
    /// Withdraw them (a transaction) instead of only showing them.
    #[arg(long)]
    withdraw: bool,
    #[command(flatten)]
    rpc: Rpc,
}

/// `ogn validators` / `ogn operators`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    rpc: Rpc,
}

/// `ogn lst`.
#[derive(Debug, Subcommand)]
pub(crate) enum LstCommand {
    /// Deposit OPG into the liquid staking pool for stOPG.
    Deposit {
        /// Amount in OPG.
        amount: String,
        #[command(flatten)]
        rpc: Rpc,
    },
    /// Redeem stOPG: the OPG it is worth enters the unbonding queue.
    Redeem {
        /// Amount of stOPG.
        amount: String,
        #[command(flatten)]
        rpc: Rpc,
    },
}

fn opg(s: &str) -> Result<U256> {
    parse_ether(s).map_err(|e| anyhow!("`{s}` is not an OPG amount: {e}"))
}

/// The staking precompile through a node's JSON-RPC, signing with the settings' key.
struct Client {
    rpc: ogn_operator::RpcClient,
}

impl Client {
    fn new(settings: &Settings, rpc: &Rpc) -> Result<Self> {
        let url = rpc.rpc.clone().unwrap_or_else(|| settings.hub_url.clone());
        Ok(Self { rpc: ogn_operator::RpcClient::new(&url, settings.signer()?) })
    }

    fn address(&self) -> Address {
        self.rpc.address()
    }

    /// `eth_call` of a view.
    async fn view<C: SolCall>(&self, call: C) -> Result<C::Return> {
        self.rpc.view(STAKING_PRECOMPILE, call).await
    }

    /// Simulates (a refusal prints the ledger's reason and sends nothing), signs, sends and waits for the
    /// receipt; returns the simulated return data.
    async fn send<C: SolCall>(&self, call: C, value: U256) -> Result<(C::Return, Value)> {
        let ret = self.rpc.simulate(STAKING_PRECOMPILE, &call, value).await?;
        let mined = self.rpc.send(STAKING_PRECOMPILE, call, value).await?;
        if !mined.success {
            bail!("transaction {} reverted", mined.tx_hash);
        }
        Ok((ret, mined.receipt))
    }
}

fn report(json_out: bool, what: &str, receipt: &Value, extra: Value) {
    let tx = receipt.get("transactionHash").cloned().unwrap_or(Value::Null);
    let block = receipt.get("blockNumber").cloned().unwrap_or(Value::Null);
    if json_out {
        println!(
            "{}",
            json!({"action": what, "transactionHash": tx, "blockNumber": block, "result": extra})
        );
    } else {
        println!(
            "{what}: done in transaction {} (block {})",
            tx.as_str().unwrap_or("?"),
            block.as_str().unwrap_or("?")
        );
        if !extra.is_null() {
            println!("{extra}");
        }
    }
}

/// `ogn stake`.
pub(crate) async fn stake(settings: &Settings, args: StakeArgs, json_out: bool) -> Result<()> {
    let client = Client::new(settings, &args.rpc)?;
    let value = opg(&args.amount)?;
    let receipt = match args.role {
        StakeRole::Validator => {
            client
                .send(IStaking::createValidatorCall { commissionPpm: args.commission_ppm }, value)
                .await?
                .1
        }
        StakeRole::Operator => {
            client
                .send(IStaking::createOperatorCall { commissionPpm: args.commission_ppm }, value)
                .await?
                .1
        }
    };
    report(
        json_out,
        "stake",
        &receipt,
        json!({"staker": client.address(), "selfBond": format_ether(value)}),
    );
    Ok(())
}

/// `ogn delegate`.
pub(crate) async fn delegate(
    settings: &Settings,
    args: DelegateArgs,
    json_out: bool,
) -> Result<()> {
    let client = Client::new(settings, &args.rpc)?;
    let (shares, receipt) =
        client.send(IStaking::delegateCall { staker: args.staker }, opg(&args.amount)?).await?;
    report(json_out, "delegate", &receipt, json!({"shares": shares.to_string()}));
    Ok(())
}

/// `ogn undelegate`.
pub(crate) async fn undelegate(
    settings: &Settings,
    args: DelegateArgs,
    json_out: bool,
) -> Result<()> {
    let client = Client::new(settings, &args.rpc)?;
    let call = IStaking::undelegateCall { staker: args.staker, amount: opg(&args.amount)? };
    let (entry, receipt) = client.send(call, U256::ZERO).await?;
    let q = client.view(IStaking::exitQueueCall {}).await?;
    report(
        json_out,
        "undelegate",
        &receipt,
        json!({"unbondingEntry": entry, "paidAtHeight": q.expectedExitHeight}),
    );
    Ok(())
}

/// `ogn redelegate`.
pub(crate) async fn redelegate(
    settings: &Settings,
    args: RedelegateArgs,
    json_out: bool,
) -> Result<()> {
    let client = Client::new(settings, &args.rpc)?;
    let call =
        IStaking::redelegateCall { from: args.from, to: args.to, amount: opg(&args.amount)? };
    let (entry, receipt) = client.send(call, U256::ZERO).await?;
    report(json_out, "redelegate", &receipt, json!({"redelegationEntry": entry}));
    Ok(())
}

/// `ogn rewards`.
pub(crate) async fn rewards(settings: &Settings, args: RewardsArgs, json_out: bool) -> Result<()> {
    let client = Client::new(settings, &args.rpc)?;
    let me = client.address();
    let by_source = |f: U256, e: U256, t: U256| json!({"inferenceFees": format_ether(f), "emissions": format_ether(e), "txFees": format_ether(t)});
    if args.withdraw {
        let (r, receipt) =
            client.send(IStaking::withdrawRewardsCall { staker: args.staker }, U256::ZERO).await?;
        report(
            json_out,
            "withdraw rewards",
            &receipt,
            by_source(r.inferenceFees, r.emissions, r.txFees),
        );
        return Ok(());
    }
    let r =
        client.view(IStaking::pendingRewardsCall { delegator: me, staker: args.staker }).await?;
    let stake = client.view(IStaking::stakeOfCall { delegator: me, staker: args.staker }).await?;
    let out = json!({"delegator": me, "staker": args.staker, "stake": format_ether(stake),
        "pending": by_source(r.inferenceFees, r.emissions, r.txFees)});
    if json_out {
        println!("{out}");
    } else {
        println!("stake {} OPG with {}", format_ether(stake), args.staker);
        println!(
            "pending rewards (OPG): inference fees {}, emissions {}, tx fees {}",
            format_ether(r.inferenceFees),
            format_ether(r.emissions),
            format_ether(r.txFees)
        );
    }
    Ok(())
}

/// `ogn validators` (`operators == false`) / `ogn operators`.
pub(crate) async fn list(
    settings: &Settings,
    args: ListArgs,
    operators: bool,
    json_out: bool,
) -> Result<()> {
    let client = Client::new(settings, &args.rpc)?;
    let mut rows = Vec::new();
    for staker in client.view(IStaking::stakersCall {}).await? {
        let i = client.view(IStaking::stakerInfoCall { staker }).await?;
        if i.isOperator == operators {
            rows.push(json!({"address": staker, "bonded": format_ether(i.tokens),
                "commissionPpm": i.commissionPpm, "jailed": i.jailed, "delegators": i.delegators.to_string()}));
        }
    }
    let s = client.view(IStaking::networkStatsCall {}).await?;
    let lst = client.view(IStaking::lstRateCall {}).await?;
    let q = client.view(IStaking::exitQueueCall {}).await?;
    let ppm = |v: U256| format!("{:.2} %", v.to::<u64>() as f64 / 10_000.0);
    let network = json!({"totalBonded": format_ether(s.totalBonded), "nominalYield": ppm(s.nominalYieldPpm),
        "feeYield": ppm(s.feeYieldPpm), "subsidyRatio": ppm(s.subsidyRatioPpm),
        "incentivePool": format_ether(s.incentivePool), "runwayBlocksToHalf": s.runwayBlocks, "height": s.height,
        "stOpgRate": format_ether(lst.opgPerStOpgE18), "exitQueueEntries": q.entries.to_string(),
        "exitQueueOpg": format_ether(q.amount), "expectedExitHeight": q.expectedExitHeight});
    if json_out {
        println!("{}", json!({"stakers": rows, "network": network}));
        return Ok(());
    }
    let kind = if operators { "operators" } else { "validators" };
    if rows.is_empty() {
        println!("no {kind}");
    }
    for r in &rows {
        println!(
            "{}  bonded {} OPG  commission {} ppm  delegators {}{}",
            r["address"].as_str().unwrap_or(""),
            r["bonded"].as_str().unwrap_or(""),
            r["commissionPpm"],
            r["delegators"].as_str().unwrap_or(""),
            if r["jailed"] == json!(true) { "  JAILED" } else { "" }
        );
    }
    println!("network: {network}");
    Ok(())
}

/// `ogn lst deposit|redeem`.
pub(crate) async fn lst(settings: &Settings, cmd: LstCommand, json_out: bool) -> Result<()> {
    match cmd {
        LstCommand::Deposit { amount, rpc } => {
            let client = Client::new(settings, &rpc)?;
            let (minted, receipt) = client.send(IStaking::lstDepositCall {}, opg(&amount)?).await?;
            report(json_out, "lst deposit", &receipt, json!({"stOpgMinted": format_ether(minted)}));
        }
        LstCommand::Redeem { amount, rpc } => {
            let client = Client::new(settings, &rpc)?;
            let (queued, receipt) = client
                .send(IStaking::lstRedeemCall { stOpgAmount: opg(&amount)? }, U256::ZERO)
                .await?;
            let q = client.view(IStaking::exitQueueCall {}).await?;
            report(
                json_out,
                "lst redeem",
                &receipt,
                json!({"opgQueued": format_ether(queued), "paidAtHeight": q.expectedExitHeight}),
            );
        }
    }
    Ok(())
}
