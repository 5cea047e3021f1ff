//! The hosted validator daemon (`subnetd run`): one process validating many subnets, each
//! with its own module, limits, store and cadence, picking up new module versions without a
//! restart.
//!
//! - [`config`]: the `subnetd.toml` format and its checks (errors name the field).
//! - [`signing`]: detached ed25519 module signatures (`<module>.sig`), bound to a netuid, and their format;
//!   [`rollback`]: the refusal of versions signed before the applied one.
//! - [`store`]: the durable state in one redb database (score state, last weights, the
//!   modules' key-value stores).
//! - [`reload`]: the module slot of each subnet: validate, precompile, smoke-test, swap.
//! - [`subnet`]: each subnet's validator loop.
//! - [`backend`]: the chain (embedded local chain, or a chain node) and miner transports.
//! - [`metrics`], [`admin`], [`client`]: Prometheus metrics, the admin HTTP API and its client.
//!
//! # Invariants
//! - Subnets share nothing but the engine: each gets its own key-value namespace and budget,
//!   its own preopened directory (if granted), its own memory, time and fuel limits, its own
//!   loop task. A module that loops, exhausts memory or traps fails its own call (counted in
//!   `subnetd_module_call_errors_total{kind=...}` and logged with its subnet and hash); its
//!   subnet's round goes on or fails alone, and other subnets' rounds are not delayed beyond
//!   sharing the CPU (looping guests yield at every epoch tick).
//! - Reloads never cancel work: a round holds its module version until it ends.
//! - Everything the daemon commits (a round's state, the last weights, a module's store
//!   writes) is fsynced before it is relied on; a `kill -9` at any point restarts from the last
//!   commit ([`SubnetStatus::resumed`] shows what was loaded).
//! - Shutdown ([`Daemon::shutdown`], on SIGTERM/SIGINT in `subnetd run`) stops starting new
//!   rounds, lets rounds in flight finish and commit (up to `shutdown_grace`), then stops the
//!   admin API, the watchers and the block producer.
//!
//! # Failure modes
//! Start fails ([`DaemonError`]) on a bad config, a missing or encrypted hotkey, a state
//! directory another daemon holds, a chain that cannot be set up, or an admin address that
//! cannot be bound. A module that cannot be loaded at start is not fatal: its subnet waits,
//! idle, for a version that passes (status and logs say why), and other subnets run.

pub mod admin;
mod assemble;
pub mod backend;
pub mod client;
pub mod config;
pub mod health;
pub mod lock;
pub mod metrics;
pub mod miners;
pub mod reconfig;
pub mod reload;
pub mod rollback;
pub mod signing;
pub mod store;
pub mod subnet;
pub mod supervise;

use crate::util::unix_ms;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use subnet_chain::AccountId;
use subnet_keys::Keypair;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::caps::compute::ComputeBackend;
use crate::caps::kv::KvStore;
use crate::models::ModelRegistry;
use crate::runtime::{Runtime, RuntimeConfig};
pub use config::{ConfigError, DaemonConfig};
pub use reload::{ModuleSlot, ModuleVersion, Outcome, ReloadRecord, Trigger};
pub use store::{RedbKv, StateDb, ValidatorRecord, WeightsRecord};
pub use subnet::{SubnetRunner, SubnetStatus};

/// File in the state directory holding the admin API's address while the daemon runs.
pub const ADMIN_ADDR_FILE: &str = "admin.addr";

/// Why the daemon could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The configuration is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The hotkey cannot be loaded.
    #[error("wallet: {0}")]
    Wallet(String),
    /// The state database failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The engine could not be built.
    #[error("runtime: {0}")]
    Runtime(String),
    /// The chain side could not be set up.
    #[error("chain: {0}")]
    Backend(#[from] backend::BackendError),
    /// The admin API could not listen.
    #[error("admin API on {addr}: {message}")]
    Admin {
        /// The address.
        addr: SocketAddr,
        /// Why.
        message: String,
    },
    /// A subnet setting cannot be applied (a directory cannot be made, a watch set up).
    #[error("subnet {netuid}: {message}")]
    Subnet {
        /// The subnet.
        netuid: u16,
        /// Why.
        message: String,
    },
    /// The models granted to subnets cannot be served.
    #[error("compute: {0}")]
    Compute(String),
    /// The round secret cannot be read or made.
    #[error("round secret: {0}")]
    Secret(String),
    /// No such subnet in this daemon.
    #[error("no subnet {0} in this daemon")]
    UnknownSubnet(u16),
    /// Another daemon holds the hotkey for a subnet ([`lock`]).
    #[error(transparent)]
    Lock(#[from] lock::LockError),
}

/// What can be handed to the daemon besides its config.
#[derive(Default, Clone)]
pub struct DaemonOptions {
    /// A model backend for every subnet granted `compute`, instead of the one the daemon
    /// starts from its model registry (embedding and tests).
    pub compute: Option<Arc<dyn ComputeBackend>>,
    /// The hotkey to use instead of loading `[wallet]` (embedding and tests).
    pub hotkey: Option<Keypair>,
    /// The secret in every round seed, instead of the one kept in the state directory. For
    /// tests only (comparing a daemon with the sandbox for one seed): a known secret makes the
    /// validator's tasks predictable to miners.
    pub round_secret: Option<u64>,
    /// Skip the hotkey guard ([`lock`]): `subnetd run --allow-shared-hotkey`.
    pub allow_shared_hotkey: bool,
}

/// File in the state directory holding the daemon's round secret (32 random bytes, mode 0600).
pub const ROUND_SECRET_FILE: &str = "round-secret";

/// The daemon's round secret: read from the state directory, or made there on first start.
fn round_secret(state_dir: &std::path::Path) -> Result<u64, DaemonError> {
    use std::io::Write;
    let path = state_dir.join(ROUND_SECRET_FILE);
    let fail = |e: std::io::Error| DaemonError::Secret(format!("{}: {e}", path.display()));
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut fresh = [0u8; 32];
            rand::fill(&mut fresh);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&path).map_err(fail)?;
            file.write_all(&fresh).and_then(|()| file.sync_all()).map_err(fail)?;
            fresh.to_vec()
        }
        Err(e) => return Err(fail(e)),
    };
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| DaemonError::Secret(format!("{} is not 32 bytes: remove it to make a new one", path.display())))?;
    let words: Vec<u64> = bytes.chunks(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())).collect();
    Ok(crate::caps::random::derive_seed(&words))
}

/// The daemon's status (`GET /status`).
#[derive(Debug, Clone, Serialize)]
pub struct DaemonStatus {
    /// subnetd's version.
    pub version: &'static str,
    /// The validator's hotkey, SS58.
    pub hotkey: String,
    /// The chain backend.
    pub chain: String,
    /// The latest block, when the chain answers.
    pub block: Option<u64>,
    /// Whether the chain is connected and following ([`health`]).
    pub chain_connected: bool,
    /// When the daemon started, ms since the Unix epoch.
    pub started_at_unix_ms: u64,
    /// Whether a shutdown is under way.
    pub shutting_down: bool,
    /// Per subnet.
    pub subnets: Vec<SubnetStatus>,
    /// Subnets in the config with `enabled = false`.
    pub disabled_subnets: Vec<u16>,
    /// Recent config reloads, oldest first.
    pub config_reloads: Vec<reconfig::ConfigReload>,
}

/// What the admin API and the handle share.
pub(crate) struct Shared {
    subnets: std::sync::RwLock<BTreeMap<u16, Arc<SubnetRunner>>>,
    kv: std::sync::RwLock<BTreeMap<u16, Arc<dyn KvStore>>>,
    disabled: std::sync::RwLock<Vec<u16>>,
    metrics: Arc<metrics::Metrics>,
    hotkey: AccountId,
    backend: String,
    started_at_unix_ms: u64,
    shutting_down: AtomicBool,
    chain_health: Arc<health::ChainHealth>,
    health_config: std::sync::RwLock<config::HealthConfig>,
    control: tokio::sync::Mutex<reconfig::Control>,
    config_reloads: std::sync::Mutex<std::collections::VecDeque<reconfig::ConfigReload>>,
    state_dir: std::path::PathBuf,
}

fn read<T>(lock: &std::sync::RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &std::sync::RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub(crate) fn runners(&self) -> Vec<Arc<SubnetRunner>> {
        read(&self.subnets).values().cloned().collect()
    }

    pub(crate) fn runner(&self, netuid: u16) -> Option<Arc<SubnetRunner>> {
        read(&self.subnets).get(&netuid).cloned()
    }

    async fn status(&self) -> DaemonStatus {
        let chain_connected = self.chain_health.verdict(&read(&self.health_config)).ok;
        DaemonStatus {
            version: env!("CARGO_PKG_VERSION"),
            hotkey: self.hotkey.to_ss58(),
            chain: self.backend.clone(),
            // The follower's last answer: `/status` never waits on a chain that is down.
            block: self.chain_health.block(),
            chain_connected,
            started_at_unix_ms: self.started_at_unix_ms,
            shutting_down: self.shutting_down.load(Ordering::Relaxed),
            subnets: self.runners().iter().map(|s| s.status()).collect(),
            disabled_subnets: read(&self.disabled).clone(),
            config_reloads: self.config_reloads.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect(),
        }
    }

    /// The verdict behind `/healthz` (`ready = false`) or `/readyz` (`ready = true`).
    pub(crate) fn health(&self, ready: bool) -> (bool, health::HealthReport) {
        let config = read(&self.health_config).clone();
        let chain = self.chain_health.verdict(&config);
        let mut subnets = Vec::new();
        for runner in self.runners() {
            let status = runner.status();
            let mut verdict = self.chain_health.subnet_verdict(
                &config,
                &status,
                runner.config.tasks.interval.0,
                runner.config.weights.every_blocks,
            );
            if ready {
                let reason = if status.module.is_none() {
                    Some("no module version serving yet".to_owned())
                } else if status.rounds_ok == 0 {
                    Some("no round finished yet".to_owned())
                } else {
                    None
                };
                verdict.ok = reason.is_none();
                verdict.reason = reason;
            }
            subnets.push(verdict);
        }
        if !ready {
            health::record(&self.metrics, &subnets);
        }
        let shutting_down = self.shutting_down.load(Ordering::Relaxed);
        let ok = chain.ok && subnets.iter().all(|s| s.ok) && !(ready && shutting_down);
        let status = match (ready, ok) {
            (false, true) => "ok",
            (false, false) => "unhealthy",
            (true, true) => "ready",
            (true, false) => "not-ready",
        };
        (ok, health::HealthReport { status, chain, subnets })
    }

    /// Re-reads the config file the daemon started from and applies it ([`reconfig`]).
    pub(crate) async fn reconfigure(&self) -> reconfig::ConfigReload {
        let mut control = self.control.lock().await;
        let record = reconfig::apply(self, &mut control).await;
        self.metrics.config_reloads.get_or_create(&metrics::OnlyOutcome { outcome: record.outcome.into() }).inc();
        let mut history = self.config_reloads.lock().unwrap_or_else(|p| p.into_inner());
        if history.len() >= 16 {
            history.pop_front();
        }
        history.push_back(record.clone());
        record
    }
}

/// A running daemon.
pub struct Daemon {
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    follower: JoinHandle<()>,
    admin: Option<crate::net::server::ServerTask>,
    admin_addr: SocketAddr,
    reloads: broadcast::Sender<ReloadRecord>,
    grace: Duration,
    state_dir: std::path::PathBuf,
}

/// Loads the configured hotkey (`[wallet]`), with its password from `password_env` when set.
pub fn load_hotkey(config: &DaemonConfig) -> Result<Keypair, DaemonError> {
    let root = config
        .wallets_root()
        .ok_or_else(|| DaemonError::Wallet("no wallets directory: set [wallet] path (HOME is not set)".into()))?;
    let password = match &config.wallet.password_env {
        Some(var) => Some(
            std::env::var(var)
                .map_err(|_| DaemonError::Wallet(format!("wallet.password_env names `{var}`, which is not set")))?,
        ),
        None => None,
    };
    Keypair::load_hotkey(&root, &config.wallet.name, &config.wallet.hotkey, password.as_deref()).map_err(|e| {
        let text = e.to_string();
        if password.is_none() && text.to_lowercase().contains("encrypt") {
            DaemonError::Wallet(format!(
                "{text}: set [wallet] password_env to the name of an environment variable holding its password"
            ))
        } else {
            DaemonError::Wallet(text)
        }
    })
}

/// The models granted to any subnet of `config`, enabled or not.
pub(crate) fn granted_models(config: &DaemonConfig) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for s in &config.subnets {
        for m in &s.capabilities.compute.compute {
            if !names.contains(m) {
                names.push(m.clone());
            }
        }
    }
    names
}

/// Starts one model service for the union of the models granted to subnets; `None` when no
/// subnet is granted any.
async fn start_models(config: &DaemonConfig) -> Result<Option<subnet_compute::ComputeService>, DaemonError> {
    let names = granted_models(config);
    if names.is_empty() {
        return Ok(None);
    }
    let registry = match &config.models {
        Some(path) => ModelRegistry::load(path),
        None => {
            let base = config.source.as_deref().and_then(|p| p.parent()).unwrap_or(std::path::Path::new("."));
            ModelRegistry::discover(base)
        }
    }
    .map_err(|e| DaemonError::Compute(e.to_string()))?;
    let specs = registry.select(&names).map_err(|e| DaemonError::Compute(e.to_string()))?;
    let compute_config = subnet_compute::ComputeConfig { models: specs, ..Default::default() };
    let service = tokio::task::spawn_blocking(move || subnet_compute::ComputeService::start(compute_config))
        .await
        .map_err(|e| DaemonError::Compute(e.to_string()))?
        .map_err(|e| DaemonError::Compute(format!("loading models: {e}")))?;
    tracing::info!(device = %service.device(), models = ?names, "compute capability ready");
    Ok(Some(service))
}

/// The engine settings the subnets need: the largest memory limit, fuel metering if any
/// subnet asks for fuel. Disabled subnets count, so enabling one later fits the engine.
fn runtime_config(config: &DaemonConfig) -> RuntimeConfig {
    let defaults = RuntimeConfig::default();
    let max_memory = config.subnets.iter().map(|s| s.memory()).max().unwrap_or(config::DEFAULT_MEMORY);
    let fuel = config.subnets.iter().any(|s| s.limits.fuel.is_some()).then_some(u64::MAX);
    let cache_dir = match config.runtime.cache {
        Some(false) => None,
        _ => config.runtime.cache_dir.clone().or(defaults.cache_dir.clone()),
    };
    RuntimeConfig {
        max_memory_bytes: usize::try_from(max_memory).unwrap_or(usize::MAX),
        fuel,
        cache_dir,
        max_instances: config.runtime.max_instances.unwrap_or(defaults.max_instances),
        ..defaults
    }
}

impl Daemon {
    /// Starts the daemon described by `config`: opens the state, loads the hotkey, sets up the
    /// chain, takes the hotkey locks, loads each enabled subnet's module, starts the watchers,
    /// the loops, the chain follower and the admin API.
    pub async fn start(config: DaemonConfig, options: DaemonOptions) -> Result<Self, DaemonError> {
        let db = StateDb::open(&config.state_dir)?;
        // Bind early: a taken port fails the start before anything heavy happened.
        let listen = config.admin.listen;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| DaemonError::Admin { addr: listen, message: e.to_string() })?;
        let admin_addr =
            listener.local_addr().map_err(|e| DaemonError::Admin { addr: listen, message: e.to_string() })?;
        let (keypair, lock_dir) = match options.hotkey.clone() {
            // An embedder's own key has no wallet beside it: its locks live in the state dir.
            Some(k) => (k, config.state_dir.join("locks")),
            None => (load_hotkey(&config)?, config.lock_dir().unwrap_or_else(|| config.state_dir.join("locks"))),
        };
        let hotkey = keypair.account_id();
        let secret = match options.round_secret {
            Some(secret) => secret,
            None => round_secret(&config.state_dir)?,
        };
        let engine = runtime_config(&config);
        let runtime = Runtime::new(engine.clone()).map_err(|e| DaemonError::Runtime(format!("{e:#}")))?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut backend = backend::Backend::start(&config, &keypair, &runtime, shutdown_rx.clone()).await?;
        tracing::info!(hotkey = %hotkey.to_ss58(), chain = %backend.description,
            subnets = config.enabled_subnets().count(), "daemon starting");

        let service = match &options.compute {
            Some(_) => None,
            None => start_models(&config).await?,
        };
        let metrics = Arc::new(metrics::Metrics::with_compute(service.clone()));
        let (reloads, _) = broadcast::channel(1024);
        let factory = assemble::Factory {
            db: db.clone(),
            runtime: runtime.clone(),
            metrics: metrics.clone(),
            hotkey,
            secret,
            reloads: reloads.clone(),
            compute: options.compute.clone(),
            service,
            state_dir: config.state_dir.clone(),
            lock_dir: (!options.allow_shared_hotkey).then_some(lock_dir),
            check_chain: !matches!(config.chain, config::ChainConfig::Local { .. }),
        };
        // One subnet at a time (compiling is CPU-bound).
        let mut running = BTreeMap::new();
        for s in config.enabled_subnets() {
            let transport = backend.add_subnet(s, Some(&runtime)).await?;
            let started = factory.start(s, backend.chain.clone(), transport).await;
            match started {
                Ok(r) => {
                    running.insert(s.netuid, r);
                }
                Err(e) => {
                    for r in std::mem::take(&mut running).into_values() {
                        r.finish(Duration::from_secs(5)).await;
                    }
                    return Err(e);
                }
            }
        }
        let subnets = running.iter().map(|(n, r)| (*n, r.runner.clone())).collect();
        let kv = running.iter().filter_map(|(n, r)| Some((*n, r.kv.clone()?))).collect();
        let chain_health = Arc::new(health::ChainHealth::default());
        let follower = health::spawn_follower(
            backend.chain.clone(),
            chain_health.clone(),
            metrics.clone(),
            config.health.clone(),
            shutdown_rx.clone(),
        );
        let shared = Arc::new(Shared {
            subnets: std::sync::RwLock::new(subnets),
            kv: std::sync::RwLock::new(kv),
            disabled: std::sync::RwLock::new(config.subnets.iter().filter(|s| !s.enabled).map(|s| s.netuid).collect()),
            metrics,
            hotkey,
            backend: backend.description.clone(),
            started_at_unix_ms: unix_ms(),
            shutting_down: AtomicBool::new(false),
            chain_health,
            health_config: std::sync::RwLock::new(config.health.clone()),
            state_dir: config.state_dir.clone(),
            control: tokio::sync::Mutex::new(reconfig::Control {
                config: config.clone(),
                factory,
                backend,
                running,
                engine,
                models: granted_models(&config),
            }),
            config_reloads: std::sync::Mutex::new(Default::default()),
        });
        if !admin_addr.ip().is_loopback() {
            tracing::warn!(%admin_addr, "the admin API listens beyond loopback: anyone who can reach it can read status and metrics (mutating calls need the token)");
        }
        let router = admin::router(shared.clone());
        let limits = crate::net::server::ConnLimits {
            max_connections: admin::MAX_CONNECTIONS,
            header_read_timeout: admin::HEADER_READ_TIMEOUT,
        };
        let admin = crate::net::server::ServerTask::spawn(listener, router, limits);
        let addr_file = config.state_dir.join(ADMIN_ADDR_FILE);
        if let Err(e) = std::fs::write(&addr_file, format!("{admin_addr}\n")) {
            tracing::warn!(path = %addr_file.display(), error = %e, "cannot record the admin address");
        }
        tracing::info!(%admin_addr, "daemon running");
        Ok(Self {
            shared,
            shutdown,
            follower,
            admin: Some(admin),
            admin_addr,
            reloads,
            grace: config.shutdown_grace.0,
            state_dir: config.state_dir.clone(),
        })
    }

    /// Where the admin API listens.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The daemon's status.
    pub async fn status(&self) -> DaemonStatus {
        self.shared.status().await
    }

    /// `/healthz`'s verdict: healthy or not, and why, per component.
    pub fn health(&self) -> (bool, health::HealthReport) {
        self.shared.health(false)
    }

    /// One subnet's runner.
    pub fn subnet(&self, netuid: u16) -> Option<Arc<SubnetRunner>> {
        self.shared.runner(netuid)
    }

    /// A subnet's key-value store (when granted), e.g. to seed or inspect it.
    pub fn kv(&self, netuid: u16) -> Option<Arc<dyn KvStore>> {
        read(&self.shared.kv).get(&netuid).cloned()
    }

    /// The daemon's metrics.
    pub fn metrics(&self) -> Arc<metrics::Metrics> {
        self.shared.metrics.clone()
    }

    /// Every reload of every subnet, as it finishes.
    pub fn subscribe_reloads(&self) -> broadcast::Receiver<ReloadRecord> {
        self.reloads.subscribe()
    }

    /// Reloads one subnet (or all) now, as `POST /reload` does.
    pub async fn reload(&self, netuid: Option<u16>) -> Result<Vec<ReloadRecord>, DaemonError> {
        self.reload_with(netuid, false).await
    }

    /// [`Self::reload`], applying versions signed before the serving ones when
    /// `allow_rollback` (as `POST /reload?allow_rollback=true` does).
    pub async fn reload_with(
        &self,
        netuid: Option<u16>,
        allow_rollback: bool,
    ) -> Result<Vec<ReloadRecord>, DaemonError> {
        match netuid {
            Some(n) => {
                let runner = self.shared.runner(n).ok_or(DaemonError::UnknownSubnet(n))?;
                Ok(vec![runner.slot.reload_with(Trigger::Admin, allow_rollback).await])
            }
            None => {
                let mut out = Vec::new();
                for runner in self.shared.runners() {
                    out.push(runner.slot.reload_with(Trigger::Admin, allow_rollback).await);
                }
                Ok(out)
            }
        }
    }

    /// Re-reads the config file and applies what changed, subnet by subnet, as SIGHUP and
    /// `POST /config/reload` do ([`reconfig`]).
    pub async fn reload_config(&self) -> reconfig::ConfigReload {
        self.shared.reconfigure().await
    }

    /// Stops gracefully: no new rounds; rounds in flight finish and commit (up to the
    /// configured grace, after which they are abandoned: nothing half-committed remains, as
    /// every commit is one transaction); then the admin API, watchers and block producer stop.
    pub async fn shutdown(mut self) {
        tracing::info!("shutting down: letting rounds in flight finish");
        self.shared.shutting_down.store(true, Ordering::Relaxed);
        let running = std::mem::take(&mut self.shared.control.lock().await.running);
        // Signal every subnet first, so they all wind down at once.
        for r in running.values() {
            r.signal();
        }
        let grace = self.grace;
        futures::future::join_all(running.into_values().map(|r| r.finish(grace))).await;
        let _ = self.shutdown.send(true);
        self.follower.abort();
        if let Some(mut admin) = self.admin.take() {
            admin.stop(Duration::from_secs(5)).await;
        }
        let _ = std::fs::remove_file(self.state_dir.join(ADMIN_ADDR_FILE));
        tracing::info!("daemon stopped");
    }
}

/// The subnet observer plus the per-subnet error counter the status shows.
pub(crate) struct SubnetObserverWithCount {
    pub(crate) inner: metrics::SubnetObserver,
    pub(crate) errors: Arc<AtomicU64>,
}

impl crate::runtime::CallObserver for SubnetObserverWithCount {
    fn call_finished(
        &self,
        module: &crate::runtime::ModuleInfo,
        call: &'static str,
        elapsed: Duration,
        error: Option<&crate::runtime::CallError>,
    ) {
        if error.is_some() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.call_finished(module, call, elapsed, error);
    }
}

#[cfg(test)]
mod tests {
    /// Issue 14 item 5: two daemons (two state directories) with the same hotkey, netuid, block
    /// and round draw different round seeds; one daemon keeps its secret across restarts.
    #[test]
    fn round_secrets_are_per_daemon_private_and_stable() {
        use std::os::unix::fs::PermissionsExt;
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (secret_a, secret_b) = (super::round_secret(a.path()).unwrap(), super::round_secret(b.path()).unwrap());
        assert_ne!(secret_a, secret_b);
        assert_eq!(super::round_secret(a.path()).unwrap(), secret_a, "kept across restarts");
        let mode = std::fs::metadata(a.path().join(super::ROUND_SECRET_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let hotkey = subnet_chain::AccountId([7; 32]);
        let seed = |secret| crate::validator::round_seed(secret, &hotkey, 1, 1000, 3);
        assert_ne!(seed(secret_a), seed(secret_b), "same public inputs, different private randomness");
    }
}
