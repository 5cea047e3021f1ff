//! The chain the daemon follows and how it reaches each subnet's miners.
//!
//! - `local`: a [`LocalChain`] persisted in `<state_dir>/chain` (it survives restarts and
//!   `kill -9` as the daemon's own state does), advanced one block per `block_time` by a
//!   producer task. Subnets with a `[subnet.local]` table are created if missing (the local
//!   chain gives out netuids in order, so lower missing netuids are created as empty subnets
//!   too), get the configured tempo and rate limit, and have the validator's hotkey registered
//!   and staked and the simulated miners registered; the first setup runs one epoch so the
//!   validator holds its permit before the first round. Simulated miners are served in-process
//!   ([`InProcessMiners`]) or as real HTTP servers on loopback ([`crate::net`]), queried with
//!   btauth-signed requests by an [`HttpTransport`].
//! - `node`: a [`RemoteChain`] (a `subnetd chain serve` node); subnets must exist there, and
//!   miners are queried at their axons over HTTP.
//! - `subtensor`: a real subtensor node ([`subnet_subtensor::SubtensorChain`]), the same way;
//!   the connection reconnects by itself, so a node that goes away fails rounds (logged, retried
//!   each tick) rather than the daemon.
//!
//! Failure modes: every setup failure is a [`BackendError`] naming the subnet and the step;
//! a block the producer cannot commit is logged and retried at the next tick.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use subnet_chain::local::{LocalChain, LocalChainConfig, RAO_PER_TAO};
use subnet_chain::{AccountId, Chain, ChainError, NetUid};
use subnet_keys::Keypair;
use tokio::sync::watch;

use super::config::{ChainConfig, DaemonConfig, ServeMode, SubnetConfig};
use crate::caps::metagraph::MetagraphView;
use crate::net::{HttpTransport, HttpTransportConfig, MinerServerHandle, WireProtocol};
use crate::node::RemoteChain;
use crate::runtime::{Runtime, SubnetEnv};
use crate::sim::local::{SimNeuron, ensure_local_subnet};
use crate::sim::{InProcessMiners, SimMiner, serve_sim_miners, sim_key};
use crate::validator::MinerTransport;

/// Why the chain side could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The chain failed.
    #[error("{what}: {source}")]
    Chain {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: ChainError,
    },
    /// Something else (a miner module, a miner server).
    #[error("{0}")]
    Setup(String),
}

fn chain_err(what: impl Into<String>) -> impl FnOnce(ChainError) -> BackendError {
    let what = what.into();
    move |source| BackendError::Chain { what, source }
}

/// The chain and the miner transports, per subnet.
pub struct Backend {
    /// The chain every subnet reads and sets weights on.
    pub chain: Arc<dyn Chain>,
    /// The embedded chain, with the `local` backend.
    pub local: Option<Arc<LocalChain>>,
    /// How each subnet reaches its miners.
    pub transports: BTreeMap<NetUid, Arc<dyn MinerTransport>>,
    /// HTTP servers of simulated miners (kept alive with the backend).
    pub miner_servers: Vec<MinerServerHandle>,
    /// A description for status and logs.
    pub description: String,
    keypair: Keypair,
    coldkey: Option<AccountId>,
    http: Option<Arc<HttpTransport>>,
}

/// The coldkey the local chain registers the validator under: the wallet's `coldkeypub.txt`
/// when there is one, else an account derived from the hotkey (the local chain checks no
/// balances or signatures).
fn local_coldkey(config: &DaemonConfig, hotkey: &AccountId) -> AccountId {
    if let Some(root) = config.wallets_root()
        && let Ok((coldkey, _)) = subnet_keys::load_coldkeypub(&root, &config.wallet.name)
    {
        return coldkey;
    }
    let mut h = Sha256::new();
    h.update(b"subnetd-local-coldkey");
    h.update(hotkey.0);
    AccountId(h.finalize().into())
}

impl Backend {
    /// Sets up the configured backend. `shutdown` stops the local block producer.
    pub async fn start(
        config: &DaemonConfig,
        hotkey: &Keypair,
        runtime: &Runtime,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, BackendError> {
        match &config.chain {
            ChainConfig::Local { block_time } => {
                Self::start_local(config, hotkey, runtime, block_time.0, shutdown).await
            }
            ChainConfig::Node { url } => {
                let chain = RemoteChain::connect(url, [hotkey.clone()])
                    .await
                    .map_err(chain_err(format!("connecting to the chain node at {url}")))?;
                Self::remote(config, hotkey, Arc::new(chain), format!("node {url}")).await
            }
            ChainConfig::Subtensor { endpoint, extrinsic_timeout } => {
                let options = subnet_subtensor::SubtensorOptions {
                    extrinsic_timeout: extrinsic_timeout.0,
                    ..subnet_subtensor::SubtensorOptions::default()
                };
                let chain = subnet_subtensor::SubtensorChain::connect(endpoint.clone(), [hotkey.clone()], options)
                    .await
                    .map_err(chain_err(format!("connecting to subtensor at {endpoint}")))?;
                Self::remote(config, hotkey, Arc::new(chain), format!("subtensor {endpoint}")).await
            }
        }
    }

    /// A chain the daemon does not own: its subnets must exist, miners are queried at their axons.
    async fn remote(
        config: &DaemonConfig,
        hotkey: &Keypair,
        chain: Arc<dyn Chain>,
        description: String,
    ) -> Result<Self, BackendError> {
        let mut this = Self {
            chain,
            local: None,
            transports: BTreeMap::new(),
            miner_servers: Vec::new(),
            description,
            keypair: hotkey.clone(),
            coldkey: None,
            http: None,
        };
        for s in config.enabled_subnets() {
            this.add_subnet(s, None).await?;
        }
        Ok(this)
    }

    /// Sets up one more subnet (at start, or when a config reload adds or enables it) and
    /// returns its miner transport: on a remote chain the subnet must exist; on the local
    /// chain a `[subnet.local]` subnet is created and its simulated miners started. `runtime`
    /// loads simulated miners' modules (local chain only).
    pub async fn add_subnet(
        &mut self,
        s: &SubnetConfig,
        runtime: Option<&Runtime>,
    ) -> Result<Arc<dyn MinerTransport>, BackendError> {
        if let Some(t) = self.transports.get(&s.netuid) {
            return Ok(t.clone());
        }
        let transport: Arc<dyn MinerTransport> = match (&self.local, &self.http, &self.coldkey) {
            (Some(local), Some(http), Some(coldkey)) => match (&s.local, runtime) {
                (Some(_), Some(runtime)) => {
                    let hotkey = self.keypair.account_id();
                    setup_local_subnet(local, s, &hotkey, coldkey, runtime, &mut self.miner_servers, http).await?
                }
                _ => {
                    let existing = local.subnets().await.map_err(chain_err("listing subnets"))?;
                    if !existing.contains(&s.netuid) {
                        return Err(BackendError::Setup(format!(
                            "subnet {} does not exist on the local chain: add a [subnet.local] table to create it",
                            s.netuid
                        )));
                    }
                    http.clone() as Arc<dyn MinerTransport>
                }
            },
            _ => {
                let existing = self.chain.subnets().await.map_err(chain_err("listing subnets"))?;
                if !existing.contains(&s.netuid) {
                    return Err(BackendError::Setup(format!(
                        "subnet {} does not exist on the chain ({})",
                        s.netuid, self.description
                    )));
                }
                // Per subnet: `[subnet.network] allow_private_targets` is the subnet's own choice.
                Arc::new(HttpTransport::new(self.keypair.clone(), s.transport()))
            }
        };
        self.transports.insert(s.netuid, transport.clone());
        Ok(transport)
    }

    /// Forgets a subnet's transport (a config reload removed or disabled it), so adding it
    /// back sets it up from its new config.
    pub fn remove_subnet(&mut self, netuid: NetUid) {
        self.transports.remove(&netuid);
    }

    async fn start_local(
        config: &DaemonConfig,
        keypair: &Keypair,
        runtime: &Runtime,
        block_time: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<Self, BackendError> {
        let dir = config.state_dir.join("chain");
        let chain_config = LocalChainConfig { allow_loopback_axons: true, ..LocalChainConfig::default() };
        let local = Arc::new(
            LocalChain::open_with(&dir, chain_config)
                .map_err(chain_err(format!("opening the local chain in {}", dir.display())))?,
        );
        let chain: Arc<dyn Chain> = local.clone();
        let coldkey = local_coldkey(config, &keypair.account_id());
        let http = Arc::new(HttpTransport::new(
            keypair.clone(),
            HttpTransportConfig { allow_private_targets: true, ..HttpTransportConfig::default() },
        ));
        let description = format!("local chain in {} ({:?} blocks)", dir.display(), block_time);
        let mut this = Self {
            chain,
            local: Some(local.clone()),
            transports: BTreeMap::new(),
            miner_servers: Vec::new(),
            description,
            keypair: keypair.clone(),
            coldkey: Some(coldkey),
            http: Some(http),
        };
        for s in config.enabled_subnets() {
            this.add_subnet(s, Some(runtime)).await?;
        }
        let producer_chain = local.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(block_time);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = shutdown.changed() => return,
                }
                let chain = producer_chain.clone();
                match tokio::task::spawn_blocking(move || chain.advance_blocks(1)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "local chain: block not produced"),
                    Err(e) => tracing::error!(error = %e, "local chain: block producer failed"),
                }
            }
        });
        Ok(this)
    }
}

async fn setup_local_subnet(
    local: &Arc<LocalChain>,
    s: &SubnetConfig,
    hotkey: &AccountId,
    coldkey: &AccountId,
    runtime: &Runtime,
    miner_servers: &mut Vec<MinerServerHandle>,
    http: &Arc<HttpTransport>,
) -> Result<Arc<dyn MinerTransport>, BackendError> {
    let netuid = s.netuid;
    let Some(l) = &s.local else {
        return Err(BackendError::Setup(format!("subnet {netuid}: no [subnet.local] table")));
    };
    let what = |step: &str| format!("subnet {netuid}: {step}");
    let owner = AccountId(Sha256::digest(format!("subnetd-local-owner-{netuid}")).into());

    // Simulated miners: honest, lazy, random, each with its own deterministic key.
    let mut miners: Vec<(Keypair, SimMiner)> = Vec::new();
    if let Some(m) = &l.miners {
        let load = |path: std::path::PathBuf| {
            let runtime = runtime.clone();
            async move {
                let bytes =
                    std::fs::read(&path).map_err(|e| BackendError::Setup(format!("{}: {e}", path.display())))?;
                let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("miner").to_owned();
                tokio::task::spawn_blocking(move || runtime.load_miner(&name, &bytes))
                    .await
                    .map_err(|e| BackendError::Setup(e.to_string()))?
                    .map_err(|e| BackendError::Setup(format!("subnet {netuid} miner module {}: {e}", path.display())))
            }
        };
        let module = match (&m.module, m.honest) {
            (Some(path), n) if n > 0 => Some(load(path.clone()).await?),
            _ => None,
        };
        let mut more = Vec::new();
        for entry in &m.modules {
            more.push((load(entry.module.clone()).await?, entry.count));
        }
        let mut index = 0u64;
        let mut add = |count: usize, sim: Option<SimMiner>| {
            for _ in 0..count {
                if let Some(sim) = &sim {
                    miners.push((sim_key(u64::from(netuid), "sim-miner", index), sim.clone()));
                }
                index += 1;
            }
        };
        add(m.honest, module.map(SimMiner::Module));
        for (miner, count) in more {
            add(count, Some(SimMiner::Module(miner)));
        }
        add(m.lazy, Some(SimMiner::Lazy));
        add(m.random, Some(SimMiner::Random));
    }
    let mut neurons = vec![SimNeuron {
        hotkey: *hotkey,
        coldkey: *coldkey,
        stake_rao: (l.validator_stake * RAO_PER_TAO as f64).round() as u64,
    }];
    for (i, (key, _)) in miners.iter().enumerate() {
        let coldkey = sim_key(u64::from(netuid), "sim-miner-coldkey", i as u64).account_id();
        neurons.push(SimNeuron { hotkey: key.account_id(), coldkey, stake_rao: 0 });
    }
    let configure = |h: &mut subnet_chain::Hyperparams, created: bool| {
        h.tempo = l.tempo;
        h.weights_rate_limit = l.weights_rate_limit;
        h.commit_reveal_enabled = l.commit_reveal;
        h.commit_reveal_version = l.commit_reveal_version;
        if h.mechanism_count != l.mechanisms {
            h.mechanism_count = l.mechanisms;
            h.mechanism_emission_split = None;
            // Mechanisms share the subnet's 256 uids (`TooManyUIDsPerMechanism`).
            h.max_allowed_uids = h.max_allowed_uids.min(256 / u16::from(l.mechanisms.max(1)));
        }
        // Simulated miners get new ports at every start and must be able to re-serve.
        h.serving_rate_limit = 0;
        if created {
            h.immunity_period = u16::MAX;
        }
    };
    ensure_local_subnet(local, Some(netuid), &owner, configure, &neurons)
        .await
        .map_err(chain_err(what("setting up the subnet")))?;
    let metagraph = local.metagraph_now(netuid).map_err(chain_err(what("reading the metagraph")))?;
    let serve = s.local.as_ref().and_then(|l| l.miners.as_ref()).map_or(ServeMode::InProcess, |m| m.serve);
    match serve {
        ServeMode::InProcess => {
            let by_uid: BTreeMap<u16, SimMiner> = miners
                .iter()
                .filter_map(|(key, sim)| metagraph.uid_of(&key.account_id()).map(|uid| (uid, sim.clone())))
                .collect();
            let subnet = Arc::new(SubnetEnv::new(format!("netuid {netuid} simulated miners")));
            Ok(Arc::new(InProcessMiners::new(by_uid, subnet, Arc::new(MetagraphView::from(&metagraph)))))
        }
        ServeMode::Http => {
            let chain: Arc<dyn Chain> = local.clone();
            let subnet = Arc::new(SubnetEnv::new(format!("netuid {netuid} simulated miners")));
            let served = miners.iter().map(|(key, sim)| (key.clone(), sim.clone())).collect();
            let servers = serve_sim_miners(chain, netuid, served, subnet, &s.wire)
                .await
                .map_err(|e| BackendError::Setup(format!("subnet {netuid}: simulated miner server: {e}")))?;
            miner_servers.extend(servers);
            if s.wire == WireProtocol::Btauth {
                return Ok(http.clone());
            }
            // Another protocol: a transport of its own that speaks it.
            let config =
                HttpTransportConfig { allow_private_targets: true, protocol: s.wire.clone(), ..Default::default() };
            Ok(Arc::new(HttpTransport::new(http.keypair().clone(), config)))
        }
    }
}
