//! Hot reload: each subnet's module lives in a [`ModuleSlot`] that swaps versions atomically.
//!
//! A reload (at start, on a file change, on `subnetd reload` or `POST /reload`) runs, in order
//! and off the validator loop: read the file; when the subnet requires signers, verify its
//! detached signature (a signature that is present is verified even when none is required),
//! which must be bound to this subnet, and, when the subnet requires signers, refuse a version
//! signed before the last one it applied (a rollback, [`super::rollback`]; recorded in the
//! state database, so a restart does not forget it) unless the operator asked for it; compile
//! and validate it against the validator world on a blocking thread (the compile cache makes a
//! version seen before load in milliseconds); run a smoke round (a real
//! [`run_round`] in the context — metagraph, block, epoch — of the subnet's next round, or of a
//! synthetic metagraph before the first one, with every miner timed out, so tasks aimed at
//! unknown uids, scores that cannot be made and rewards that fail are caught before the version
//! serves) against a throwaway copy of the subnet's key-value store and an empty scratch
//! directory; then swap the version in with one atomic store ([`arc_swap`]).
//!
//! Invariants:
//! - A round takes the current version once, at its start ([`ModuleSlot::current`]), and runs
//!   every call of the round on it: calls in flight finish on the old version, new rounds use
//!   the new one, and nothing is cancelled or dropped by a reload.
//! - A version that fails any step is refused with a logged reason, recorded in the slot's
//!   history and metrics with its hash; the serving version does not change.
//! - Reloads of one subnet are serialised; reloads of different subnets run independently.
//! - A file written in several steps is read once complete as long as the steps are closer
//!   together than the debounce; one read mid-write fails validation (refused, logged), and the
//!   write's last event triggers another reload that applies the complete file. Writing to a
//!   temporary file and renaming it over the module is always clean.

use crate::util::unix_ms;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use notify::{EventKind, RecursiveMode, Watcher};
use serde::Serialize;
use subnet_chain::{AccountId, Metagraph, NeuronInfo};
use tokio::sync::{broadcast, mpsc, watch};

use super::metrics::{Metrics, short};
use super::signing::{self, SignatureError};
use super::store::{AppliedModule, StateDb};
use crate::caps::Preopen;
use crate::caps::metagraph::MetagraphView;
use crate::runtime::{Runtime, SubnetEnv, ValidatorModule};
use crate::sim::{InProcessMiners, SimMiner};
use crate::validator::state::ScoreState;
use crate::validator::{RoundInput, RoundLimits, run_round};

/// Largest module file read, bytes.
pub const MAX_MODULE_BYTES: u64 = 512 << 20;
/// Reload records kept per subnet.
const HISTORY: usize = 128;

/// What started a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// The daemon starting.
    Start,
    /// A file event.
    Watch,
    /// `subnetd reload` or `POST /reload`.
    Admin,
}

/// How a reload ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The new version serves now.
    Applied,
    /// The new version was refused; the previous one (if any) keeps serving.
    Refused,
    /// The file holds the version already serving.
    Unchanged,
}

impl Outcome {
    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Refused => "refused",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// Milliseconds spent in each step of a reload.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StageTimes {
    /// Reading the file.
    pub read_ms: f64,
    /// Checking the signature.
    pub verify_ms: f64,
    /// Compiling (or loading from the compile cache) and validating.
    pub compile_ms: f64,
    /// The smoke round.
    pub smoke_ms: f64,
}

/// One reload, as logged, counted and shown by the admin API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReloadRecord {
    /// The subnet.
    pub netuid: u16,
    /// Per-subnet sequence number (1 = the first reload since start).
    pub seq: u64,
    /// When it finished, ms since the Unix epoch.
    pub at_unix_ms: u64,
    /// What started it.
    pub trigger: Trigger,
    /// How it ended.
    pub outcome: Outcome,
    /// The file it read.
    pub file: Option<String>,
    /// SHA-256 of what it read, when it read anything.
    pub hash: Option<String>,
    /// The signed version label, when signed.
    pub version: Option<String>,
    /// Generation of the serving version after this reload.
    pub generation: Option<u64>,
    /// Why it was refused.
    pub reason: Option<String>,
    /// Whether compiling came from the compile cache.
    pub cache_hit: Option<bool>,
    /// Total time, ms.
    pub duration_ms: f64,
    /// Time per step.
    pub stages: StageTimes,
}

/// A version serving (or having served) a subnet.
pub struct ModuleVersion {
    /// The module.
    pub module: ValidatorModule,
    /// SHA-256 of its bytes.
    pub hash: String,
    /// The signed version label.
    pub version: Option<String>,
    /// Who signed it.
    pub signer: Option<String>,
    /// 1 for the first version applied since start, then +1 per applied reload.
    pub generation: u64,
    /// The file it came from.
    pub file: PathBuf,
    /// When it was applied, ms since the Unix epoch.
    pub applied_at_unix_ms: u64,
}

/// What a smoke round runs with besides the module.
pub struct SmokeSetup {
    /// The validator's hotkey (placed at uid 0 of the synthetic metagraph).
    pub validator: AccountId,
    /// The subnet's calls' environment (its store is copied for each smoke round, its
    /// observer dropped: smoke calls are not the subnet's traffic).
    pub subnet: SubnetEnv,
    /// Where the smoke round's scratch directory goes, when the subnet is granted a directory.
    pub scratch: Option<Preopen>,
    /// The subnet's round limits.
    pub limits: RoundLimits,
}

/// A subnet's module: the serving version and how to replace it.
pub struct ModuleSlot {
    netuid: u16,
    label: String,
    source: PathBuf,
    signers: Vec<AccountId>,
    runtime: Runtime,
    metrics: Arc<Metrics>,
    smoke: SmokeSetup,
    current: ArcSwapOption<ModuleVersion>,
    /// What the next real round will see: its metagraph and epoch.
    next_round: Mutex<Option<(Metagraph, u64)>>,
    history: Mutex<VecDeque<ReloadRecord>>,
    seq: AtomicU64,
    generation: AtomicU64,
    serial: tokio::sync::Mutex<()>,
    events: broadcast::Sender<ReloadRecord>,
    /// Where the last applied signed version is recorded (the rollback guard's memory).
    state: Option<StateDb>,
    /// Without a state database, the last signed version applied in this process.
    applied: Mutex<Option<AppliedModule>>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The module file a source names: the file itself, or in a directory `validator.wasm`, else
/// its only `.wasm` file.
pub fn resolve_module_file(source: &Path) -> Result<PathBuf, String> {
    if !source.is_dir() {
        return Ok(source.to_path_buf());
    }
    let preferred = source.join("validator.wasm");
    if preferred.is_file() {
        return Ok(preferred);
    }
    let mut wasm: Vec<PathBuf> = std::fs::read_dir(source)
        .map_err(|e| format!("{}: {e}", source.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    wasm.sort();
    match wasm.len() {
        0 => Err(format!("{} holds no .wasm file", source.display())),
        1 => Ok(wasm.remove(0)),
        _ => Err(format!(
            "{} holds several .wasm files ({}); name the module validator.wasm",
            source.display(),
            wasm.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// A metagraph for smoke rounds before the subnet's first real one: the validator at uid 0
/// with a permit and stake, four miners.
fn synthetic_metagraph(netuid: u16, validator: &AccountId) -> Metagraph {
    let coldkey = AccountId([0xc0; 32]);
    let neuron = |uid: u16, hotkey: AccountId, stake: u64| NeuronInfo {
        stake,
        validator_permit: uid == 0,
        ..NeuronInfo::new(uid, hotkey, coldkey)
    };
    let mut neurons = vec![neuron(0, *validator, 10_000_000_000_000)];
    neurons.extend((1..=4u16).map(|uid| neuron(uid, AccountId([uid as u8; 32]), 0)));
    Metagraph { netuid, block: 1000, owner_coldkey: AccountId([0xc0; 32]), owner_hotkey: None, neurons }
}

/// Why a version was refused.
struct Refusal {
    hash: Option<String>,
    version: Option<String>,
    reason: String,
    cache_hit: Option<bool>,
}

impl ModuleSlot {
    /// A slot for subnet `netuid` reading its module from `source` (file or directory).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        netuid: u16,
        label: String,
        source: PathBuf,
        signers: Vec<AccountId>,
        runtime: Runtime,
        metrics: Arc<Metrics>,
        smoke: SmokeSetup,
        events: broadcast::Sender<ReloadRecord>,
    ) -> Self {
        Self {
            netuid,
            label,
            source,
            signers,
            runtime,
            metrics,
            smoke,
            current: ArcSwapOption::empty(),
            next_round: Mutex::new(None),
            history: Mutex::new(VecDeque::new()),
            seq: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            serial: tokio::sync::Mutex::new(()),
            events,
            state: None,
            applied: Mutex::new(None),
        }
    }

    /// Remembers applied signed versions in `db`, so the rollback guard holds across restarts
    /// (without it, it holds for the process's life only).
    pub fn with_state(mut self, db: StateDb) -> Self {
        self.state = Some(db);
        self
    }

    /// The version serving now, if any has been applied. A round holds the returned `Arc`
    /// for its whole duration.
    pub fn current(&self) -> Option<Arc<ModuleVersion>> {
        self.current.load_full()
    }

    /// Where the module comes from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The recent reloads, oldest first.
    pub fn history(&self) -> Vec<ReloadRecord> {
        self.history.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }

    /// Remembers the context of the latest round (its metagraph and epoch), so smoke rounds
    /// run in the context of the next real one.
    pub fn set_round_context(&self, metagraph: &Metagraph, epoch: u64) {
        *self.next_round.lock().unwrap_or_else(|p| p.into_inner()) = Some((metagraph.clone(), epoch));
    }

    /// Reloads now; see the module docs. Never fails: the outcome is in the record.
    pub async fn reload(&self, trigger: Trigger) -> ReloadRecord {
        self.reload_with(trigger, false).await
    }

    /// Reloads now, applying a version signed before the serving one when `allow_rollback`
    /// (the operator's explicit rollback); otherwise as [`Self::reload`].
    pub async fn reload_with(&self, trigger: Trigger, allow_rollback: bool) -> ReloadRecord {
        let _serial = self.serial.lock().await;
        let started = Instant::now();
        let mut stages = StageTimes::default();
        let file = resolve_module_file(&self.source);
        let result = match &file {
            Ok(file) => self.try_reload(file, &mut stages, allow_rollback).await,
            Err(reason) => Err(Refusal { hash: None, version: None, reason: reason.clone(), cache_hit: None }),
        };
        let elapsed = started.elapsed();
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let file = file.ok().map(|f| f.display().to_string());
        let record = match result {
            Ok((outcome, version, cache_hit)) => ReloadRecord {
                netuid: self.netuid,
                seq,
                at_unix_ms: unix_ms(),
                trigger,
                outcome,
                file,
                hash: Some(version.hash.clone()),
                version: version.version.clone(),
                generation: Some(version.generation),
                reason: None,
                cache_hit,
                duration_ms: ms(elapsed),
                stages,
            },
            Err(refusal) => ReloadRecord {
                netuid: self.netuid,
                seq,
                at_unix_ms: unix_ms(),
                trigger,
                outcome: Outcome::Refused,
                file,
                hash: refusal.hash,
                version: refusal.version,
                generation: self.current().map(|v| v.generation),
                reason: Some(refusal.reason),
                cache_hit: refusal.cache_hit,
                duration_ms: ms(elapsed),
                stages,
            },
        };
        let hash = record.hash.as_deref().map(short).unwrap_or("-");
        let version = record.version.as_deref().unwrap_or("-");
        match record.outcome {
            Outcome::Applied => tracing::info!(subnet = self.netuid, name = %self.label, ?trigger, hash, version,
                generation = record.generation, ms = record.duration_ms as u64, cache_hit = ?record.cache_hit,
                "module version applied"),
            Outcome::Unchanged => tracing::debug!(subnet = self.netuid, name = %self.label, ?trigger, hash,
                "module unchanged"),
            Outcome::Refused => tracing::warn!(subnet = self.netuid, name = %self.label, ?trigger, hash, version,
                reason = record.reason.as_deref().unwrap_or(""), "module version refused; the serving version stays"),
        }
        self.metrics.reload(self.netuid, record.outcome.name(), elapsed);
        {
            let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
            if history.len() == HISTORY {
                history.pop_front();
            }
            history.push_back(record.clone());
        }
        // Nobody listening is fine.
        let _ = self.events.send(record.clone());
        record
    }

    async fn try_reload(
        &self,
        file: &Path,
        stages: &mut StageTimes,
        allow_rollback: bool,
    ) -> Result<(Outcome, Arc<ModuleVersion>, Option<bool>), Refusal> {
        let refuse = |hash: Option<&str>, reason: String| Refusal {
            hash: hash.map(str::to_owned),
            version: None,
            reason,
            cache_hit: None,
        };
        let t = Instant::now();
        let bytes = read_module(file).await.map_err(|e| refuse(None, e))?;
        let hash = crate::runtime::content_hash(&bytes);
        stages.read_ms = ms(t.elapsed());
        if let Some(current) = self.current()
            && current.hash == hash
        {
            return Ok((Outcome::Unchanged, current, None));
        }

        let t = Instant::now();
        let sig_path = signing::signature_path(file);
        let verified = match signing::verify_file(file, &bytes, &self.signers, self.netuid) {
            Ok(v) => Some(v),
            Err(SignatureError::Missing(_)) if self.signers.is_empty() => None,
            Err(SignatureError::Missing(path)) => {
                return Err(refuse(
                    Some(&hash),
                    format!(
                        "unsigned: the subnet requires a signature by one of [{}] and {} does not exist",
                        self.signers.iter().map(AccountId::to_ss58).collect::<Vec<_>>().join(", "),
                        path.display()
                    ),
                ));
            }
            Err(e) => return Err(refuse(Some(&hash), format!("signature ({}): {e}", sig_path.display()))),
        };
        let version = verified.as_ref().and_then(|v| v.version.clone());
        let with_version = |mut r: Refusal| {
            r.version = version.clone();
            r
        };
        if let Some(v) = &verified
            && !self.signers.is_empty()
        {
            self.check_rollback(v, allow_rollback).map_err(|reason| with_version(refuse(Some(&hash), reason)))?;
        }
        stages.verify_ms = ms(t.elapsed());

        let t = Instant::now();
        let runtime = self.runtime.clone();
        let name = format!("{}/{}", self.label, file.file_stem().and_then(|s| s.to_str()).unwrap_or("validator"));
        let compiled = tokio::task::spawn_blocking(move || runtime.load_validator(&name, &bytes)).await;
        stages.compile_ms = ms(t.elapsed());
        let module = match compiled {
            Ok(Ok(module)) => module,
            Ok(Err(e)) => return Err(with_version(refuse(Some(&hash), format!("validation: {e}")))),
            Err(e) => return Err(with_version(refuse(Some(&hash), format!("compiler failed: {e}")))),
        };
        let cache_hit = Some(module.info().cache == crate::runtime::CacheOutcome::Hit);

        let t = Instant::now();
        let smoke = self.smoke_round(&module).await;
        stages.smoke_ms = ms(t.elapsed());
        if let Err(reason) = smoke {
            return Err(Refusal { cache_hit, ..with_version(refuse(Some(&hash), format!("smoke round: {reason}"))) });
        }

        if let Some(v) = &verified {
            self.record_applied(v);
        }
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let next = Arc::new(ModuleVersion {
            module,
            hash: hash.clone(),
            version: version.clone(),
            signer: verified.map(|v| v.signer.to_ss58()),
            generation,
            file: file.to_path_buf(),
            applied_at_unix_ms: unix_ms(),
        });
        let previous = self.current.swap(Some(next.clone()));
        self.metrics.module_swapped(
            self.netuid,
            previous.as_deref().map(|p| (p.hash.as_str(), p.version.as_deref().unwrap_or(""))),
            &hash,
            version.as_deref().unwrap_or(""),
            generation,
        );
        Ok((Outcome::Applied, next, cache_hit))
    }

    /// The last signed version applied: from the state database when there is one, else from
    /// this process's memory.
    fn last_applied(&self) -> Result<Option<AppliedModule>, String> {
        match &self.state {
            Some(db) => db.applied_module(self.netuid).map_err(|e| format!("cannot read the applied version: {e}")),
            None => Ok(self.applied.lock().unwrap_or_else(|p| p.into_inner()).clone()),
        }
    }

    /// Refuses `v` when it was signed before the last signed version applied, unless allowed.
    fn check_rollback(&self, v: &signing::Verified, allow_rollback: bool) -> Result<(), String> {
        let (Some(binding), Some(last)) = (v.binding, self.last_applied()?) else { return Ok(()) };
        super::rollback::check(&last, v, binding, allow_rollback, self.netuid, &self.label)
    }

    fn record_applied(&self, v: &signing::Verified) {
        let Some(binding) = v.binding else { return };
        let record = AppliedModule {
            sha256: v.sha256.clone(),
            version: v.version.clone(),
            signer: v.signer.to_ss58(),
            signed_at: binding.signed_at,
        };
        match &self.state {
            Some(db) => {
                if let Err(e) = db.put_applied_module(self.netuid, &record) {
                    tracing::warn!(subnet = self.netuid, error = %e, "cannot record the applied version; the rollback guard forgets it at restart");
                }
            }
            None => *self.applied.lock().unwrap_or_else(|p| p.into_inner()) = Some(record),
        }
    }

    /// A real round ([`run_round`], with its task, score and reward checks) in the context of
    /// the next real one, against miners that all time out, on a copy of the subnet's store and
    /// an empty scratch directory. Any task that cannot be scored refuses the version.
    async fn smoke_round(&self, module: &ValidatorModule) -> Result<(), String> {
        let (metagraph, epoch) =
            self.next_round.lock().unwrap_or_else(|p| p.into_inner()).clone().unwrap_or_else(|| {
                let m = synthetic_metagraph(self.netuid, &self.smoke.validator);
                let epoch = m.block / 361;
                (m, epoch)
            });
        let seed = crate::caps::random::derive_seed(&[0x5e0e, u64::from(self.netuid), metagraph.block]);
        let kv = match &self.smoke.subnet.caps.kv {
            Some(kv) => Some(kv.snapshot().map_err(|e| format!("cannot copy the store: {e}"))?),
            None => None,
        };
        let preopen = match &self.smoke.scratch {
            Some(scratch) => {
                // Empty at every smoke round: a new version never sees the previous one's files.
                let _ = std::fs::remove_dir_all(&scratch.host);
                std::fs::create_dir_all(&scratch.host)
                    .map_err(|e| format!("cannot make the scratch directory {}: {e}", scratch.host.display()))?;
                Some(scratch.clone())
            }
            None => None,
        };
        let mut subnet = self.smoke.subnet.clone();
        subnet.caps.kv = kv;
        subnet.preopen = preopen;
        subnet.observer = None;
        let subnet = Arc::new(subnet);
        let lazy = metagraph.neurons.iter().map(|n| (n.uid, SimMiner::Lazy)).collect();
        let transport = InProcessMiners::new(lazy, subnet.clone(), Arc::new(MetagraphView::from(&metagraph)));
        let outcome = run_round(
            RoundInput {
                module,
                subnet: &subnet,
                metagraph: &metagraph,
                validator: &self.smoke.validator,
                epoch,
                seed,
                transport: &transport,
                limits: &self.smoke.limits,
            },
            &mut ScoreState::new(),
        )
        .await
        .map_err(|e| e.to_string())?;
        if let Some((task, error)) = outcome.tasks.iter().find_map(|t| t.error.as_ref().map(|e| (&t.task.id, e))) {
            return Err(format!("task `{task}` could not be scored: {error}"));
        }
        Ok(())
    }
}

/// Reads a module file with a bound: only regular files (a link to `/dev/zero` or a FIFO is
/// refused before any byte is read, as a device has no size to check), and never more than
/// [`MAX_MODULE_BYTES`] + 1 bytes, so a file that grows while it is read is refused too.
async fn read_module(file: &Path) -> Result<Vec<u8>, String> {
    use tokio::io::AsyncReadExt as _;
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", file.display());
    let handle = tokio::fs::File::open(file).await.map_err(cannot)?;
    let meta = handle.metadata().await.map_err(cannot)?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", file.display()));
    }
    if meta.len() > MAX_MODULE_BYTES {
        return Err(format!("{} is {} bytes, over the {MAX_MODULE_BYTES}-byte limit", file.display(), meta.len()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    handle.take(MAX_MODULE_BYTES + 1).read_to_end(&mut bytes).await.map_err(cannot)?;
    if bytes.len() as u64 > MAX_MODULE_BYTES {
        return Err(format!("{} grew past the {MAX_MODULE_BYTES}-byte limit while read", file.display()));
    }
    Ok(bytes)
}

/// Watches a slot's source (and signature) and reloads after `debounce` of quiet. Runs until
/// `shutdown` turns true. Fails when the watch cannot be set up.
pub fn spawn_watcher(
    slot: Arc<ModuleSlot>,
    debounce: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let source = slot.source().to_path_buf();
    let (dir, names): (PathBuf, Option<[std::ffi::OsString; 2]>) = if source.is_dir() {
        (source.clone(), None)
    } else {
        let dir = source.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
        let name = source.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        let sig = signing::signature_path(&source).file_name().map(|n| n.to_os_string()).unwrap_or_default();
        (dir, Some([name, sig]))
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        let relevant = event.paths.iter().any(|p| {
            let Some(name) = p.file_name() else { return false };
            match &names {
                Some(names) => names.iter().any(|n| n == name),
                None => {
                    let name = name.to_string_lossy();
                    name.ends_with(".wasm") || name.ends_with(".wasm.sig")
                }
            }
        });
        if relevant {
            let _ = tx.send(());
        }
    })
    .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    watcher.watch(&dir, RecursiveMode::NonRecursive).map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    Ok(tokio::spawn(async move {
        // The watcher stops when dropped: keep it for the task's lifetime.
        let _watcher = watcher;
        loop {
            tokio::select! {
                event = rx.recv() => if event.is_none() { return },
                _ = shutdown.changed() => return,
            }
            // Quiet period: every further event restarts it.
            loop {
                match tokio::time::timeout(debounce, rx.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            if *shutdown.borrow() {
                return;
            }
            slot.reload(Trigger::Watch).await;
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_source_names_one_module() {
        let dir = tempfile::tempdir().unwrap();
        assert!(resolve_module_file(dir.path()).unwrap_err().contains("no .wasm"));
        std::fs::write(dir.path().join("b.wasm"), b"").unwrap();
        std::fs::write(dir.path().join("b.wasm.sig"), b"").unwrap();
        assert_eq!(resolve_module_file(dir.path()).unwrap(), dir.path().join("b.wasm"));
        std::fs::write(dir.path().join("a.wasm"), b"").unwrap();
        let err = resolve_module_file(dir.path()).unwrap_err();
        assert!(err.contains("several") && err.contains("a.wasm, b.wasm"), "{err}");
        std::fs::write(dir.path().join("validator.wasm"), b"").unwrap();
        assert_eq!(resolve_module_file(dir.path()).unwrap(), dir.path().join("validator.wasm"));
        let file = dir.path().join("a.wasm");
        assert_eq!(resolve_module_file(&file).unwrap(), file);
    }

    #[test]
    fn the_synthetic_metagraph_has_the_validator_and_miners() {
        let me = AccountId([9; 32]);
        let m = synthetic_metagraph(4, &me);
        assert_eq!(m.uid_of(&me), Some(0));
        assert!(m.neurons[0].validator_permit);
        assert_eq!(m.neurons.len(), 5);
        assert!(m.neurons.iter().enumerate().all(|(i, n)| usize::from(n.uid) == i));
    }
}
