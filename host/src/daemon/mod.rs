//! The hosted validator daemon (`subnetd run`): one process validating many subnets, each
//! with its own module, limits, store and cadence, picking up new module versions without a
//! restart.
//!
//! - [`config`]: the `subnetd.toml` format and its checks (errors name the field).
//! - [`signing`]: detached ed25519 module signatures (`<module>.sig`) and their format.
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
pub mod backend;
pub mod client;
pub mod config;
pub mod metrics;
pub mod reload;
pub mod signing;
pub mod store;
pub mod subnet;
pub mod supervise;

use supervise::Backoff;

use crate::util::unix_ms;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use subnet_chain::{AccountId, Chain};
use subnet_keys::Keypair;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::caps::compute::{ComputeBackend, ModelProvider};
use crate::caps::kv::KvStore;
use crate::caps::{HostResources, Preopen, SubnetCaps};
use crate::models::ModelRegistry;
use crate::runtime::{CallLimits, Runtime, RuntimeConfig, SubnetEnv};
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
    /// When the daemon started, ms since the Unix epoch.
    pub started_at_unix_ms: u64,
    /// Whether a shutdown is under way.
    pub shutting_down: bool,
    /// Per subnet.
    pub subnets: Vec<SubnetStatus>,
}

/// What the admin API and the handle share.
pub(crate) struct Shared {
    subnets: BTreeMap<u16, Arc<SubnetRunner>>,
    metrics: Arc<metrics::Metrics>,
    hotkey: AccountId,
    chain: Arc<dyn Chain>,
    backend: String,
    started_at_unix_ms: u64,
    shutting_down: AtomicBool,
}

impl Shared {
    async fn status(&self) -> DaemonStatus {
        DaemonStatus {
            version: env!("CARGO_PKG_VERSION"),
            hotkey: self.hotkey.to_ss58(),
            chain: self.backend.clone(),
            block: self.chain.current_block().await.ok(),
            started_at_unix_ms: self.started_at_unix_ms,
            shutting_down: self.shutting_down.load(Ordering::Relaxed),
            subnets: self.subnets.values().map(|s| s.status()).collect(),
        }
    }
}

/// A running daemon.
pub struct Daemon {
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    loops: Vec<JoinHandle<()>>,
    watchers: Vec<JoinHandle<()>>,
    admin: Option<JoinHandle<()>>,
    admin_stop: Option<tokio::sync::oneshot::Sender<()>>,
    admin_addr: SocketAddr,
    reloads: broadcast::Sender<ReloadRecord>,
    kv: BTreeMap<u16, Arc<dyn KvStore>>,
    grace: Duration,
    state_dir: std::path::PathBuf,
    _backend: backend::Backend,
}

fn load_hotkey(config: &DaemonConfig) -> Result<Keypair, DaemonError> {
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
    Keypair::load_hotkey(&root, &config.wallet.name, &config.wallet.hotkey, password.as_deref())
        .map_err(|e| DaemonError::Wallet(e.to_string()))
}

/// Starts one model service for the union of the models granted to subnets; `None` when no
/// subnet is granted any.
async fn start_models(config: &DaemonConfig) -> Result<Option<subnet_compute::ComputeService>, DaemonError> {
    let mut names: Vec<String> = Vec::new();
    for s in &config.subnets {
        for m in &s.capabilities.compute.compute {
            if !names.contains(m) {
                names.push(m.clone());
            }
        }
    }
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
/// subnet asks for fuel.
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
    /// chain, loads each subnet's module, starts the watchers, the loops and the admin API.
    pub async fn start(config: DaemonConfig, options: DaemonOptions) -> Result<Self, DaemonError> {
        let db = StateDb::open(&config.state_dir)?;
        // Bind early: a taken port fails the start before anything heavy happened.
        let listen = config.admin.listen;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| DaemonError::Admin { addr: listen, message: e.to_string() })?;
        let admin_addr =
            listener.local_addr().map_err(|e| DaemonError::Admin { addr: listen, message: e.to_string() })?;
        let keypair = match options.hotkey.clone() {
            Some(k) => k,
            None => load_hotkey(&config)?,
        };
        let hotkey = keypair.account_id();
        let secret = match options.round_secret {
            Some(secret) => secret,
            None => round_secret(&config.state_dir)?,
        };
        let runtime = Runtime::new(runtime_config(&config)).map_err(|e| DaemonError::Runtime(format!("{e:#}")))?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let backend = backend::Backend::start(&config, &keypair, &runtime, shutdown_rx.clone()).await?;
        tracing::info!(hotkey = %hotkey.to_ss58(), chain = %backend.description, subnets = config.subnets.len(),
            "daemon starting");

        let service = match &options.compute {
            Some(_) => None,
            None => start_models(&config).await?,
        };
        let metrics = Arc::new(metrics::Metrics::with_compute(service.clone()));
        let (reloads, _) = broadcast::channel(1024);
        let mut subnets = BTreeMap::new();
        let mut kv_stores = BTreeMap::new();
        for s in &config.subnets {
            let netuid = s.netuid;
            let sub_err = |message: String| DaemonError::Subnet { netuid, message };
            let models: Option<&dyn ModelProvider> = match (&options.compute, &service) {
                (Some(backend), _) => Some(backend),
                (None, Some(service)) => Some(service),
                (None, None) => None,
            };
            let host = HostResources { netuid, kv: Some(&db), models };
            let caps = SubnetCaps::build(&s.capabilities, &host).map_err(|e| sub_err(e.to_string()))?;
            if let Some(kv) = &caps.kv {
                kv_stores.insert(netuid, kv.clone());
            }
            if let Some(policy) = &caps.http {
                metrics.watch_outbound(netuid.to_string(), policy.clone());
            }
            let preopen = match &s.capabilities.preopen {
                Some(p) => {
                    std::fs::create_dir_all(&p.dir).map_err(|e| sub_err(format!("{}: {e}", p.dir.display())))?;
                    Some(Preopen { host: p.dir.clone(), guest: p.guest.clone(), writable: p.writable })
                }
                None => None,
            };
            let call_errors = Arc::new(AtomicU64::new(0));
            let observer = Arc::new(SubnetObserverWithCount {
                inner: metrics::SubnetObserver { netuid, metrics: metrics.clone() },
                errors: call_errors.clone(),
            });
            let base = SubnetEnv {
                label: format!("netuid {netuid} ({})", s.label()).into(),
                caps,
                preopen: preopen.clone(),
                limits: CallLimits {
                    timeout: Some(s.call_timeout()),
                    memory: Some(usize::try_from(s.memory()).unwrap_or(usize::MAX)),
                    fuel: s.limits.fuel,
                },
                observer: None,
            };
            let smoke = reload::SmokeSetup {
                validator: hotkey,
                subnet: SubnetEnv { label: format!("netuid {netuid} ({}) smoke", s.label()).into(), ..base.clone() },
                scratch: preopen
                    .as_ref()
                    .map(|p| Preopen { host: config.state_dir.join("smoke").join(netuid.to_string()), ..p.clone() }),
                limits: s.round_limits(),
            };
            // Absolute but not canonical: a module behind a symlink is watched at the link, so
            // swapping the link (a common deploy step) is seen as a change.
            let source = std::path::absolute(&s.module).unwrap_or_else(|_| s.module.clone());
            let slot = Arc::new(ModuleSlot::new(
                netuid,
                s.label(),
                source,
                s.signers(),
                runtime.clone(),
                metrics.clone(),
                smoke,
                reloads.clone(),
            ));
            let transport =
                backend.transports.get(&netuid).cloned().ok_or_else(|| sub_err("no miner transport".into()))?;
            let subnet_env = Arc::new(SubnetEnv { observer: Some(observer), ..base });
            let runner = SubnetRunner::new(
                s.clone(),
                slot,
                backend.chain.clone(),
                transport,
                db.clone(),
                hotkey,
                subnet_env,
                metrics.clone(),
                call_errors,
                secret,
            )?;
            subnets.insert(netuid, Arc::new(runner));
        }

        // First versions, one subnet at a time (compiling is CPU-bound).
        for runner in subnets.values() {
            runner.slot.reload(Trigger::Start).await;
        }
        let mut watchers = Vec::new();
        for (s, runner) in config.subnets.iter().zip(subnets.values()) {
            if s.reload.watch {
                let handle = reload::spawn_watcher(runner.slot.clone(), s.reload.debounce.0, shutdown_rx.clone())
                    .map_err(|message| DaemonError::Subnet { netuid: s.netuid, message })?;
                watchers.push(handle);
            }
        }

        let shared = Arc::new(Shared {
            subnets,
            metrics,
            hotkey,
            chain: backend.chain.clone(),
            backend: backend.description.clone(),
            started_at_unix_ms: unix_ms(),
            shutting_down: AtomicBool::new(false),
        });
        if !admin_addr.ip().is_loopback() {
            tracing::warn!(%admin_addr, "the admin API listens beyond loopback: anyone who can reach it can read status and metrics (mutating calls need the token)");
        }
        let (admin_stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = admin::router(shared.clone());
        let admin = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "admin API stopped");
            }
        });
        let addr_file = config.state_dir.join(ADMIN_ADDR_FILE);
        if let Err(e) = std::fs::write(&addr_file, format!("{admin_addr}\n")) {
            tracing::warn!(path = %addr_file.display(), error = %e, "cannot record the admin address");
        }

        let loops = shared
            .subnets
            .values()
            .map(|runner| {
                let runner = runner.clone();
                let shutdown = shutdown_rx.clone();
                tokio::spawn(async move {
                    let name = format!("subnet {} validator loop", runner.netuid);
                    let metrics = runner.metrics.clone();
                    let netuid = runner.netuid;
                    let make = {
                        let runner = runner.clone();
                        let shutdown = shutdown.clone();
                        move || runner.clone().run(shutdown.clone())
                    };
                    let on_death = |_: &str| metrics.loop_died(netuid);
                    supervise::supervise(&name, &runner.health, Backoff::default(), shutdown, on_death, make).await;
                })
            })
            .collect();
        tracing::info!(%admin_addr, "daemon running");
        Ok(Self {
            shared,
            shutdown,
            loops,
            watchers,
            admin: Some(admin),
            admin_stop: Some(admin_stop),
            admin_addr,
            reloads,
            kv: kv_stores,
            grace: config.shutdown_grace.0,
            state_dir: config.state_dir.clone(),
            _backend: backend,
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

    /// One subnet's runner.
    pub fn subnet(&self, netuid: u16) -> Option<&Arc<SubnetRunner>> {
        self.shared.subnets.get(&netuid)
    }

    /// A subnet's key-value store (when granted), e.g. to seed or inspect it.
    pub fn kv(&self, netuid: u16) -> Option<Arc<dyn KvStore>> {
        self.kv.get(&netuid).cloned()
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
        match netuid {
            Some(n) => {
                let runner = self.shared.subnets.get(&n).ok_or(DaemonError::UnknownSubnet(n))?;
                Ok(vec![runner.slot.reload(Trigger::Admin).await])
            }
            None => {
                let mut out = Vec::new();
                for runner in self.shared.subnets.values() {
                    out.push(runner.slot.reload(Trigger::Admin).await);
                }
                Ok(out)
            }
        }
    }

    /// Stops gracefully: no new rounds; rounds in flight finish and commit (up to the
    /// configured grace, after which they are abandoned: nothing half-committed remains, as
    /// every commit is one transaction); then the admin API, watchers and block producer stop.
    pub async fn shutdown(mut self) {
        tracing::info!("shutting down: letting rounds in flight finish");
        self.shared.shutting_down.store(true, Ordering::Relaxed);
        let _ = self.shutdown.send(true);
        let loops = std::mem::take(&mut self.loops);
        let aborts: Vec<_> = loops.iter().map(|l| l.abort_handle()).collect();
        if tokio::time::timeout(self.grace, futures::future::join_all(loops)).await.is_err() {
            tracing::warn!(grace = ?self.grace, "rounds still running after the shutdown grace; stopping them");
            for a in aborts {
                a.abort();
            }
        }
        for w in std::mem::take(&mut self.watchers) {
            w.abort();
        }
        if let Some(stop) = self.admin_stop.take() {
            let _ = stop.send(());
        }
        if let Some(admin) = self.admin.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), admin).await;
        }
        let _ = std::fs::remove_file(self.state_dir.join(ADMIN_ADDR_FILE));
        tracing::info!("daemon stopped");
    }
}

/// The subnet observer plus the per-subnet error counter the status shows.
struct SubnetObserverWithCount {
    inner: metrics::SubnetObserver,
    errors: Arc<AtomicU64>,
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
