//! `subnetd chain`: run a local development chain node that several processes share, and
//! administer it.
//!
//! `serve` opens a persistent [`LocalChain`] from a state directory and serves it over HTTP
//! ([`subnet_host::node::serve`]). The admin commands (`init`, `register`, `stake`,
//! `advance`, `show`) work either offline on a state directory (`--state DIR`, while no node
//! has it open) or online against a node (`--chain URL`), where they sign with the wallet's
//! coldkey as the node requires. It is the embedded chain with a socket, not subtensor.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use subnet_chain::local::{LocalChain, LocalChainConfig, RAO_PER_TAO};
use subnet_chain::{AccountId, Chain, Hyperparams, Metagraph, NetUid};
use subnet_host::node::serve::DevCalls;
use subnet_host::node::{ChainNodeConfig, ChainTarget, RemoteChain, spawn_chain_node};
use subnet_keys::{CryptoType, Keypair};

use super::wallet::{self, WalletsDir};

/// Arguments of `subnetd chain`.
#[derive(Args)]
pub struct ChainArgs {
    #[command(subcommand)]
    command: ChainCommand,
}

/// Which chain an admin command works on.
#[derive(Args, Clone, Debug)]
#[group(required = true, multiple = false)]
struct Target {
    /// A chain state directory (offline; no node may have it open).
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// A running chain (online; extrinsics are signed): a `chain serve` node
    /// (http://127.0.0.1:9944) or, for show, register and stake, a subtensor endpoint
    /// (local, test, finney, ws://HOST:PORT).
    #[arg(long, value_name = "URL")]
    chain: Option<ChainTarget>,
}

#[derive(Subcommand)]
enum ChainCommand {
    /// Serve a persistent local chain over HTTP.
    Serve {
        /// The chain's state directory (created if new).
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
        /// Address to listen on (port 0 picks a free one; the address is printed).
        #[arg(long, default_value = "127.0.0.1:9944")]
        listen: SocketAddr,
        /// Produce a block every interval (e.g. 12s, 500ms); default: only on `chain advance`.
        #[arg(long, value_parser = super::parse_duration_arg)]
        block_time: Option<Duration>,
        /// Serve dev calls to every client that can reach the node: `chain advance` (at most
        /// 1000 blocks a call, one at a time) and `chain stake` (which mints: at most 10^6 TAO a
        /// call, 4 calls a second). Off by default: stake offline with `--state` before serving.
        #[arg(long)]
        dev: bool,
    },
    /// Create a subnet owned by a wallet's coldkey; prints its netuid.
    Init {
        #[command(flatten)]
        target: Target,
        /// The owner's wallet (its coldkey owns the subnet).
        #[arg(long)]
        owner_wallet: String,
        /// The owner's hotkey (registered as uid 0); none by default.
        #[arg(long)]
        owner_hotkey: Option<String>,
        #[command(flatten)]
        dir: WalletsDir,
        #[command(flatten)]
        hyper: HyperArgs,
    },
    /// Register a wallet's hotkey on a subnet (burned_register, signed by its coldkey).
    ///
    /// An encrypted coldkey is unlocked with the password in $SUBNETD_WALLET_PASSWORD.
    Register {
        #[command(flatten)]
        target: Target,
        /// Subnet.
        #[arg(long)]
        netuid: NetUid,
        /// Wallet name.
        #[arg(long)]
        wallet: String,
        /// Hotkey name.
        #[arg(long, default_value = "default")]
        hotkey: String,
        #[command(flatten)]
        dir: WalletsDir,
    },
    /// Add stake (minted: the dev chain has no balances) from a wallet's coldkey to a hotkey.
    ///
    /// An encrypted coldkey is unlocked with the password in $SUBNETD_WALLET_PASSWORD.
    Stake {
        #[command(flatten)]
        target: Target,
        /// Subnet.
        #[arg(long)]
        netuid: NetUid,
        /// Wallet name (its coldkey stakes).
        #[arg(long)]
        wallet: String,
        /// Hotkey name in that wallet, or an SS58 address with --hotkey-ss58.
        #[arg(long, default_value = "default")]
        hotkey: String,
        /// Stake to this address instead of the wallet's hotkey.
        #[arg(long)]
        hotkey_ss58: Option<AccountId>,
        /// Amount in TAO (alpha).
        #[arg(long)]
        amount: f64,
        #[command(flatten)]
        dir: WalletsDir,
    },
    /// Produce blocks (a node in manual mode, or a state directory).
    Advance {
        #[command(flatten)]
        target: Target,
        /// How many.
        #[arg(long, default_value_t = 1)]
        blocks: u64,
    },
    /// Show the subnets, or one subnet's metagraph.
    Show {
        #[command(flatten)]
        target: Target,
        /// Subnet (all subnets when absent).
        #[arg(long)]
        netuid: Option<NetUid>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Hyperparameters `chain init` may set (others keep subtensor's defaults).
#[derive(Args, Clone, Debug)]
struct HyperArgs {
    /// Blocks per epoch.
    #[arg(long)]
    tempo: Option<u16>,
    /// Blocks between two set_weights of one uid.
    #[arg(long)]
    weights_rate_limit: Option<u64>,
    /// Turn commit-reveal (v2) on.
    #[arg(long)]
    commit_reveal: bool,
    /// Blocks of immunity after registration.
    #[arg(long)]
    immunity_period: Option<u16>,
    /// Subnet size cap.
    #[arg(long)]
    max_uids: Option<u16>,
    /// Least weights per set_weights.
    #[arg(long)]
    min_allowed_weights: Option<u16>,
    /// Least stake (rao) to set weights.
    #[arg(long)]
    stake_threshold: Option<u64>,
}

impl HyperArgs {
    fn apply(&self, h: &mut Hyperparams) {
        if let Some(v) = self.tempo {
            h.tempo = v;
        }
        if let Some(v) = self.weights_rate_limit {
            h.weights_rate_limit = v;
        }
        if self.commit_reveal {
            h.commit_reveal_enabled = true;
        }
        if let Some(v) = self.immunity_period {
            h.immunity_period = v;
        }
        if let Some(v) = self.max_uids {
            h.max_allowed_uids = v;
        }
        if let Some(v) = self.min_allowed_weights {
            h.min_allowed_weights = v;
        }
        if let Some(v) = self.stake_threshold {
            h.stake_threshold = v;
        }
    }
}

/// The config a new dev chain gets: loopback axons allowed, so miners on one machine can serve.
fn dev_config() -> LocalChainConfig {
    LocalChainConfig { allow_loopback_axons: true, ..LocalChainConfig::default() }
}

fn open_state(dir: &Path) -> Result<LocalChain> {
    LocalChain::open_with(dir, dev_config()).map_err(|e| {
        anyhow!(
            "cannot open the chain state in {}: {e} (if `subnetd chain serve` has it open, use --chain URL instead)",
            dir.display()
        )
    })
}

/// Loads the node's identity key from `<state>/node-key.json`, creating it the first time.
fn node_key(state: &Path) -> Result<Keypair> {
    let path = state.join("node-key.json");
    if path.exists() {
        return Keypair::load_from_file(&path, None).with_context(|| format!("the node key {}", path.display()));
    }
    let key = Keypair::generate(CryptoType::Sr25519);
    key.save_to_file(&path, false)?;
    Ok(key)
}

/// Runs `subnetd chain`.
pub async fn run(args: ChainArgs) -> Result<()> {
    match args.command {
        ChainCommand::Serve { state, listen, block_time, dev } => serve(&state, listen, block_time, dev).await,
        ChainCommand::Init { target, owner_wallet, owner_hotkey, dir, hyper } => {
            let root = dir.root()?;
            let owner_hot =
                owner_hotkey.as_deref().map(|h| wallet::hotkey_public(&root, &owner_wallet, h)).transpose()?;
            let mut params = Hyperparams::default();
            hyper.apply(&mut params);
            let netuid = match (&target.state, &target.chain) {
                (Some(dir), _) => {
                    let chain = open_state(dir)?;
                    let owner = wallet::coldkey_public(&root, &owner_wallet)?;
                    let netuid = chain.create_subnet(&owner, owner_hot.as_ref())?;
                    chain.set_hyperparams(netuid, params)?;
                    netuid
                }
                (None, Some(target)) => {
                    let url = node_only(target, "init")?;
                    let coldkey = wallet::load_coldkey(&root, &owner_wallet)?;
                    let owner = coldkey.account_id();
                    let chain = RemoteChain::connect(url, [coldkey]).await?;
                    chain.create_subnet(&owner, owner_hot.as_ref(), Some(params)).await?
                }
                (None, None) => unreachable_target()?,
            };
            println!("{netuid}");
            Ok(())
        }
        ChainCommand::Register { target, netuid, wallet: w, hotkey, dir } => {
            let root = dir.root()?;
            let hot = wallet::hotkey_public(&root, &w, &hotkey)?;
            let outcome = match (&target.state, &target.chain) {
                (Some(dir), _) => {
                    let cold = wallet::coldkey_public(&root, &w)?;
                    open_state(dir)?.register_now(&hot, &cold, netuid)?
                }
                (None, Some(target)) => {
                    let coldkey = wallet::load_coldkey(&root, &w)?;
                    let cold = coldkey.account_id();
                    target.connect([coldkey]).await?.register(&hot, &cold, netuid).await?
                }
                (None, None) => unreachable_target()?,
            };
            for event in &outcome.events {
                if let subnet_chain::ChainEvent::NeuronRegistered { uid, hotkey, .. } = event {
                    println!("registered {hotkey} as uid {uid} on subnet {netuid} at block {}", outcome.block);
                }
            }
            Ok(())
        }
        ChainCommand::Stake { target, netuid, wallet: w, hotkey, hotkey_ss58, amount, dir } => {
            let root = dir.root()?;
            if !amount.is_finite() || amount <= 0.0 || amount > 1e12 {
                bail!("--amount must be a positive number of TAO");
            }
            let rao = (amount * RAO_PER_TAO as f64).round() as u64;
            let hot = match hotkey_ss58 {
                Some(a) => a,
                None => wallet::hotkey_public(&root, &w, &hotkey)?,
            };
            match (&target.state, &target.chain) {
                (Some(dir), _) => {
                    let cold = wallet::coldkey_public(&root, &w)?;
                    open_state(dir)?.add_stake(&cold, &hot, netuid, rao)?;
                }
                (None, Some(ChainTarget::Node(url))) => {
                    let coldkey = wallet::load_coldkey(&root, &w)?;
                    let cold = coldkey.account_id();
                    RemoteChain::connect(url, [coldkey]).await?.add_stake(&cold, &hot, netuid, rao).await?;
                }
                (None, Some(ChainTarget::Subtensor(endpoint))) => {
                    let coldkey = wallet::load_coldkey(&root, &w)?;
                    let cold = coldkey.account_id();
                    let options = subnet_subtensor::SubtensorOptions::default();
                    let chain = subnet_subtensor::SubtensorChain::connect(endpoint.clone(), [coldkey], options).await?;
                    chain.add_stake(&cold, &hot, netuid, rao).await?;
                }
                (None, None) => unreachable_target()?,
            }
            println!("staked {rao} rao to {hot} on subnet {netuid}");
            Ok(())
        }
        ChainCommand::Advance { target, blocks } => {
            let block = match (&target.state, &target.chain) {
                (Some(dir), _) => {
                    let chain = open_state(dir)?;
                    chain.advance_blocks(blocks)?;
                    chain.block()
                }
                (None, Some(target)) => {
                    let chain = RemoteChain::connect(node_only(target, "advance")?, []).await?;
                    chain.advance_blocks(blocks).await?;
                    chain.current_block().await?
                }
                (None, None) => unreachable_target()?,
            };
            println!("{block}");
            Ok(())
        }
        ChainCommand::Show { target, netuid, json } => {
            let chain: Arc<dyn Chain> = match (&target.state, &target.chain) {
                (Some(dir), _) => Arc::new(open_state(dir)?),
                (None, Some(target)) => target.connect([]).await?,
                (None, None) => unreachable_target()?,
            };
            match netuid {
                Some(n) => {
                    let m = chain.metagraph(n).await?;
                    let weights = weight_rows(&*chain, &m).await?;
                    if json {
                        let mut shown = serde_json::to_value(&m)?;
                        shown["weights"] = serde_json::to_value(&weights)?;
                        println!("{}", serde_json::to_string_pretty(&shown)?);
                    } else {
                        print_metagraph(&m);
                        print_weights(&weights);
                    }
                }
                None => {
                    let block = chain.current_block().await?;
                    let netuids = chain.subnets().await?;
                    if json {
                        println!("{}", serde_json::json!({"block": block, "netuids": netuids}));
                    } else {
                        println!("block {block}; subnets: {netuids:?}");
                    }
                }
            }
            Ok(())
        }
    }
}

/// The URL of a `chain serve` node, for the commands only such a node has.
fn node_only<'a>(target: &'a ChainTarget, command: &str) -> Result<&'a str> {
    match target {
        ChainTarget::Node(url) => Ok(url),
        ChainTarget::Subtensor(e) => {
            bail!(
                "`chain {command}` works on a `subnetd chain serve` node or a --state directory, not on subtensor ({e})"
            )
        }
    }
}

fn unreachable_target<T>() -> Result<T> {
    bail!("give --state DIR or --chain URL")
}

fn print_metagraph(m: &Metagraph) {
    println!("subnet {} at block {} (owner {})", m.netuid, m.block, m.owner_coldkey);
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header(["uid", "hotkey", "stake", "permit", "axon", "incentive", "dividends", "vtrust", "last_update"]);
    for n in &m.neurons {
        table.add_row([
            n.uid.to_string(),
            n.hotkey.to_ss58(),
            format!("{:.3}", n.stake as f64 / RAO_PER_TAO as f64),
            if n.validator_permit { "yes".into() } else { "".into() },
            n.axon.and_then(|a| a.socket_addr()).map(|a| a.to_string()).unwrap_or_default(),
            format!("{:.4}", f64::from(n.incentive) / 65535.0),
            format!("{:.4}", f64::from(n.dividends) / 65535.0),
            format!("{:.4}", f64::from(n.validator_trust) / 65535.0),
            n.last_update.to_string(),
        ]);
    }
    println!("{table}");
}

/// The weights a validator has on chain (mechanism 0), as `chain show` prints them.
#[derive(serde::Serialize)]
struct WeightRow {
    uid: u16,
    last_update: u64,
    /// `(uid, weight)` pairs, the weight in u16 units as the chain keeps it.
    row: Vec<(u16, u16)>,
}

/// Rows of the neurons that may set weights (a validator permit) and have some.
async fn weight_rows(chain: &dyn Chain, m: &Metagraph) -> Result<Vec<WeightRow>> {
    let mut rows = Vec::new();
    for n in m.neurons.iter().filter(|n| n.validator_permit) {
        let row = chain.weights_row(m.netuid, 0, n.uid).await?;
        if !row.is_empty() {
            rows.push(WeightRow { uid: n.uid, last_update: n.last_update, row });
        }
    }
    Ok(rows)
}

fn print_weights(rows: &[WeightRow]) {
    if rows.is_empty() {
        println!("no weights on chain");
        return;
    }
    for r in rows {
        let total: f64 = r.row.iter().map(|(_, w)| f64::from(*w)).sum::<f64>().max(1.0);
        let shown: Vec<String> = r.row.iter().map(|(uid, w)| format!("{uid}:{:.3}", f64::from(*w) / total)).collect();
        println!("weights of uid {} (last_update {}): {}", r.uid, r.last_update, shown.join(" "));
    }
}

async fn serve(state: &Path, listen: SocketAddr, block_time: Option<Duration>, dev: bool) -> Result<()> {
    let shutdown = super::shutdown_signal()?;
    let chain = Arc::new(open_state(state)?);
    let key = node_key(state)?;
    let mut config = ChainNodeConfig::new(key);
    config.listen = listen;
    config.block_time = block_time;
    config.dev = if dev { DevCalls::on() } else { DevCalls::off() };
    let handle = spawn_chain_node(chain.clone(), config).await.with_context(|| format!("listening on {listen}"))?;
    // The first stdout line is the URL, for scripts and tests that start the node on port 0.
    println!("{}", handle.url());
    eprintln!(
        "chain node at {} (state {}, block {}, {}, dev calls {})",
        handle.url(),
        state.display(),
        chain.block(),
        match (block_time, dev) {
            (Some(d), _) => format!("a block every {d:?}"),
            (None, true) => "blocks on `subnetd chain advance`".into(),
            (None, false) => "no blocks until served with --block-time or --dev".into(),
        },
        if dev { "on" } else { "off" }
    );
    shutdown.await;
    handle.shutdown().await;
    Ok(())
}
