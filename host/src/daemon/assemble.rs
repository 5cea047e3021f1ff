//! Building, starting and stopping one subnet of the daemon: at start for each enabled subnet,
//! and when a config reload ([`super::reconfig`]) adds, enables or changes one.
//!
//! Starting a subnet: take its hotkey lock and check the chain for another user of the hotkey
//! ([`super::lock`]), build its capabilities and module slot, load its first module version,
//! start its file watcher and its supervised loop. Stopping: no new rounds, the round in
//! flight finishes and commits (up to the grace), the watcher stops, the lock is released.
//!
//! Invariants: a subnet's loop, watcher and lock live and die together in one [`Running`];
//! each has its own stop signal, so stopping one subnet never touches another's; everything
//! durable is in the shared database, so a subnet rebuilt from a new config resumes exactly
//! where the old one stopped (its in-memory counters start again).
//!
//! Failure modes: [`DaemonError::Subnet`] naming the subnet and the step, [`DaemonError::Lock`]
//! when another daemon holds the hotkey.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use subnet_chain::{AccountId, Chain};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use super::config::SubnetConfig;
use super::lock::{self, HotkeyLock};
use super::metrics::{self, Metrics, NameLabels};
use super::reload::{self, ModuleSlot, ReloadRecord, Trigger};
use super::store::StateDb;
use super::subnet::SubnetRunner;
use super::supervise::{self, Backoff};
use super::{DaemonError, SubnetObserverWithCount};
use crate::caps::compute::{ComputeBackend, ModelProvider};
use crate::caps::kv::KvStore;
use crate::caps::{HostResources, Preopen, SubnetCaps};
use crate::runtime::{CallLimits, Runtime, SubnetEnv};
use crate::validator::MinerTransport;

/// What building a subnet needs from the daemon.
pub(crate) struct Factory {
    pub db: StateDb,
    pub runtime: Runtime,
    pub metrics: Arc<Metrics>,
    pub hotkey: AccountId,
    pub secret: u64,
    pub reloads: broadcast::Sender<ReloadRecord>,
    pub compute: Option<Arc<dyn ComputeBackend>>,
    pub service: Option<subnet_compute::ComputeService>,
    pub state_dir: PathBuf,
    /// Where hotkey locks go; `None` with `--allow-shared-hotkey`.
    pub lock_dir: Option<PathBuf>,
    /// Whether to check the chain for another user of the hotkey (not on the local chain).
    pub check_chain: bool,
}

/// One running subnet.
pub(crate) struct Running {
    pub runner: Arc<SubnetRunner>,
    pub config: SubnetConfig,
    pub kv: Option<Arc<dyn KvStore>>,
    stop: watch::Sender<bool>,
    loop_task: JoinHandle<()>,
    watcher: Option<JoinHandle<()>>,
    _lock: Option<HotkeyLock>,
}

impl Factory {
    /// Builds and starts subnet `s` (see the module docs).
    pub async fn start(
        &self,
        s: &SubnetConfig,
        chain: Arc<dyn Chain>,
        transport: Arc<dyn MinerTransport>,
    ) -> Result<Running, DaemonError> {
        let netuid = s.netuid;
        let sub_err = |message: String| DaemonError::Subnet { netuid, message };
        let held = match &self.lock_dir {
            Some(dir) => {
                let held = HotkeyLock::acquire(dir, &self.hotkey, netuid, &self.state_dir)?;
                if self.check_chain {
                    let local_last = self.db.weights(netuid)?.map(|w| w.block);
                    let every = s.weights.every_blocks;
                    lock::check_chain(&*chain, netuid, s.mechanism, &self.hotkey, local_last, every).await?;
                }
                Some(held)
            }
            None => None,
        };
        let models: Option<&dyn ModelProvider> = match (&self.compute, &self.service) {
            (Some(backend), _) => Some(backend),
            (None, Some(service)) => Some(service),
            (None, None) => None,
        };
        let host = HostResources { netuid, kv: Some(&self.db), models };
        let caps = SubnetCaps::build(&s.capabilities, &host).map_err(|e| sub_err(e.to_string()))?;
        if let Some(policy) = &caps.http {
            self.metrics.watch_outbound(netuid.to_string(), policy.clone());
        }
        let kv = caps.kv.clone();
        let preopen = match &s.capabilities.preopen {
            Some(p) => {
                std::fs::create_dir_all(&p.dir).map_err(|e| sub_err(format!("{}: {e}", p.dir.display())))?;
                Some(Preopen { host: p.dir.clone(), guest: p.guest.clone(), writable: p.writable })
            }
            None => None,
        };
        let call_errors = Arc::new(AtomicU64::new(0));
        let observer = Arc::new(SubnetObserverWithCount {
            inner: metrics::SubnetObserver { netuid, metrics: self.metrics.clone() },
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
            validator: self.hotkey,
            subnet: SubnetEnv { label: format!("netuid {netuid} ({}) smoke", s.label()).into(), ..base.clone() },
            scratch: preopen
                .as_ref()
                .map(|p| Preopen { host: self.state_dir.join("smoke").join(netuid.to_string()), ..p.clone() }),
            limits: s.round_limits(),
        };
        // Absolute but not canonical: a module behind a symlink is watched at the link, so
        // swapping the link (a common deploy step) is seen as a change.
        let source = std::path::absolute(&s.module).unwrap_or_else(|_| s.module.clone());
        let slot = Arc::new(
            ModuleSlot::new(
                netuid,
                s.label(),
                source,
                s.signers(),
                self.runtime.clone(),
                self.metrics.clone(),
                smoke,
                self.reloads.clone(),
            )
            .with_state(self.db.clone()),
        );
        let subnet_env = Arc::new(SubnetEnv { observer: Some(observer), ..base });
        let runner = Arc::new(SubnetRunner::new(
            s.clone(),
            slot,
            chain,
            transport,
            self.db.clone(),
            self.hotkey,
            subnet_env,
            self.metrics.clone(),
            call_errors,
            self.secret,
        )?);
        runner.slot.reload(Trigger::Start).await;
        let (stop, stop_rx) = watch::channel(false);
        let watcher = if s.reload.watch {
            let handle = reload::spawn_watcher(runner.slot.clone(), s.reload.debounce.0, stop_rx.clone())
                .map_err(|message| DaemonError::Subnet { netuid, message })?;
            Some(handle)
        } else {
            None
        };
        self.metrics.subnet_started(netuid, &s.label());
        let loop_task = spawn_loop(runner.clone(), stop_rx);
        Ok(Running { runner, config: s.clone(), kv, stop, loop_task, watcher, _lock: held })
    }
}

fn spawn_loop(runner: Arc<SubnetRunner>, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
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
}

impl Running {
    /// Tells the loop to stop after its round in flight (see [`Running::finish`]).
    pub fn signal(&self) {
        let _ = self.stop.send(true);
    }

    /// Stops the subnet: signals, waits up to `grace` for the round in flight to commit (then
    /// abandons it: every commit is one transaction), stops the watcher, releases the lock.
    pub async fn finish(self, grace: Duration) {
        self.signal();
        let abort = self.loop_task.abort_handle();
        if tokio::time::timeout(grace, self.loop_task).await.is_err() {
            tracing::warn!(subnet = self.runner.netuid, ?grace, "round still running after the grace; stopping it");
            abort.abort();
        }
        if let Some(w) = self.watcher {
            w.abort();
        }
        let name = self.config.label();
        self.runner.metrics.subnet_info.remove(&NameLabels { subnet: self.runner.netuid.to_string(), name });
    }
}
