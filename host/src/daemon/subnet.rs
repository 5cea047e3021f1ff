//! One subnet's validator loop: rounds at the configured cadence, state committed after each,
//! weights set when due.
//!
//! Each step: read the metagraph and hyperparameters, take the serving module version (held
//! for the whole round), run [`crate::validator::run_round`] on a copy of the running scores,
//! commit the new scores and the module's weights in one transaction, then set weights if at
//! least `weights.every_blocks` (and the chain's `weights_rate_limit`) blocks passed since this
//! hotkey last did on chain. Weights go through the SDK's processing
//! ([`subnet_chain::weights::process_weights_for_netuid`], then
//! [`subnet_chain::weights::weights_for_emit`]) before `set_weights`.
//!
//! Failure modes: a failed round (chain unreachable, the module failing `generate-tasks` or
//! `reward`) commits nothing and changes nothing in memory; the next tick tries again. A
//! rejected `set_weights` is logged and counted, and retried when next due.
//!
//! On a subnet with commit-reveal on, weights are committed instead (v2 hash with a random
//! salt; the commit is stored in the database before it is sent) and revealed in the epoch the
//! chain opens for them; no new commit is made while one waits. An expired or unmatched commit
//! is dropped and the next due round commits afresh. The chain's
//! `last_update` is the source of truth for the cadence, so a daemon killed between
//! `set_weights` and its own commit does not set weights twice too fast.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use subnet_chain::{AccountId, Chain, Hyperparams, Metagraph};
use tokio::sync::watch;
use tracing::Instrument;

use super::config::SubnetConfig;
use super::metrics::{Metrics, StatusLabels, SubnetLabels, short};
use super::reload::{ModuleSlot, ModuleVersion, ReloadRecord};
use super::store::{CommitRecord, StateDb, ValidatorRecord, WeightsRecord};
use crate::bindings::types::ResponseStatus;
use crate::caps::CallEnv;
use crate::caps::random::{derive_seed, seed_part};
use crate::validator::{MinerTransport, RoundInput, RoundLimits, run_round};

/// What the last round did.
#[derive(Debug, Clone, Serialize)]
pub struct RoundStatus {
    /// When it ended, ms since the Unix epoch.
    pub at_unix_ms: u64,
    /// Block of its metagraph.
    pub block: u64,
    /// Its epoch.
    pub epoch: u64,
    /// Hash of the module version that ran it.
    pub module: String,
    /// Tasks it made.
    pub tasks: usize,
    /// Tasks whose scoring failed.
    pub unscored: usize,
    /// Its duration, ms.
    pub duration_ms: f64,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// The serving module, as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleStatus {
    /// SHA-256 of the component.
    pub hash: String,
    /// The signed version label.
    pub version: Option<String>,
    /// Who signed it.
    pub signer: Option<String>,
    /// Versions applied since start.
    pub generation: u64,
    /// The file it came from.
    pub file: String,
    /// When it was applied, ms since the Unix epoch.
    pub applied_at_unix_ms: u64,
}

impl From<&ModuleVersion> for ModuleStatus {
    fn from(v: &ModuleVersion) -> Self {
        Self {
            hash: v.hash.clone(),
            version: v.version.clone(),
            signer: v.signer.clone(),
            generation: v.generation,
            file: v.file.display().to_string(),
            applied_at_unix_ms: v.applied_at_unix_ms,
        }
    }
}

/// A subnet's status (`GET /status`).
#[derive(Debug, Clone, Serialize)]
pub struct SubnetStatus {
    /// Netuid.
    pub netuid: u16,
    /// Label.
    pub name: String,
    /// The configured module source.
    pub source: String,
    /// The serving version; `None` until one was applied.
    pub module: Option<ModuleStatus>,
    /// Recent reloads, oldest first.
    pub reloads: Vec<ReloadRecord>,
    /// Rounds that succeeded since start.
    pub rounds_ok: u64,
    /// Rounds that failed since start.
    pub rounds_failed: u64,
    /// Tasks whose scoring failed since start.
    pub tasks_unscored: u64,
    /// Failed module calls since start.
    pub call_errors: u64,
    /// The last round.
    pub last_round: Option<RoundStatus>,
    /// The committed state (scores, pending weights, rounds).
    pub state: ValidatorRecord,
    /// The last weights set.
    pub last_weights: Option<WeightsRecord>,
    /// Why weights were not set at the last opportunity, when they were not.
    pub weights_note: Option<String>,
    /// The state the daemon started from (what the database held at start).
    pub resumed: ValidatorRecord,
    /// The last weights the database held at start.
    pub resumed_weights: Option<WeightsRecord>,
}

#[derive(Default)]
struct Live {
    last_round: Option<RoundStatus>,
    weights_note: Option<String>,
    last_weights: Option<WeightsRecord>,
}

/// Everything one subnet's loop needs.
pub struct SubnetRunner {
    /// Netuid.
    pub netuid: u16,
    /// Label.
    pub label: String,
    /// Its configuration.
    pub config: SubnetConfig,
    /// Its module.
    pub slot: Arc<ModuleSlot>,
    /// The chain.
    pub chain: Arc<dyn Chain>,
    /// How its miners are reached.
    pub transport: Arc<dyn MinerTransport>,
    /// The daemon's database.
    pub db: StateDb,
    /// The validator's hotkey.
    pub hotkey: AccountId,
    /// The environment of its module calls (store, limits, observer).
    pub env: CallEnv,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Failed module calls (shared with the subnet's call observer).
    pub call_errors: Arc<AtomicU64>,
    record: Mutex<ValidatorRecord>,
    resumed: ValidatorRecord,
    resumed_weights: Option<WeightsRecord>,
    live: Mutex<Live>,
    rounds_ok: AtomicU64,
    rounds_failed: AtomicU64,
    tasks_unscored: AtomicU64,
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn status_name(s: ResponseStatus) -> &'static str {
    match s {
        ResponseStatus::Ok => "ok",
        ResponseStatus::Timeout => "timeout",
        ResponseStatus::Refused => "refused",
        ResponseStatus::Failed => "failed",
        ResponseStatus::Malformed => "malformed",
    }
}

impl SubnetRunner {
    /// A runner resuming from what the database holds for the subnet.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: SubnetConfig,
        slot: Arc<ModuleSlot>,
        chain: Arc<dyn Chain>,
        transport: Arc<dyn MinerTransport>,
        db: StateDb,
        hotkey: AccountId,
        env: CallEnv,
        metrics: Arc<Metrics>,
        call_errors: Arc<AtomicU64>,
    ) -> Result<Self, super::store::StoreError> {
        let netuid = config.netuid;
        let resumed = db.validator(netuid)?;
        let resumed_weights = db.weights(netuid)?;
        if resumed.rounds > 0 || resumed_weights.is_some() {
            tracing::info!(
                subnet = netuid,
                rounds = resumed.rounds,
                uids = resumed.scores.entries().count(),
                last_weights_block = resumed_weights.as_ref().map(|w| w.block),
                "resuming from committed state"
            );
        }
        Ok(Self {
            netuid,
            label: config.label(),
            config,
            slot,
            chain,
            transport,
            db,
            hotkey,
            env,
            metrics,
            call_errors,
            record: Mutex::new(resumed.clone()),
            live: Mutex::new(Live { last_weights: resumed_weights.clone(), ..Live::default() }),
            resumed,
            resumed_weights,
            rounds_ok: AtomicU64::new(0),
            rounds_failed: AtomicU64::new(0),
            tasks_unscored: AtomicU64::new(0),
        })
    }

    /// The subnet's status now.
    pub fn status(&self) -> SubnetStatus {
        let live = lock(&self.live);
        SubnetStatus {
            netuid: self.netuid,
            name: self.label.clone(),
            source: self.slot.source().display().to_string(),
            module: self.slot.current().as_deref().map(ModuleStatus::from),
            reloads: self.slot.history(),
            rounds_ok: self.rounds_ok.load(Ordering::Relaxed),
            rounds_failed: self.rounds_failed.load(Ordering::Relaxed),
            tasks_unscored: self.tasks_unscored.load(Ordering::Relaxed),
            call_errors: self.call_errors.load(Ordering::Relaxed),
            last_round: live.last_round.clone(),
            state: lock(&self.record).clone(),
            last_weights: live.last_weights.clone(),
            weights_note: live.weights_note.clone(),
            resumed: self.resumed.clone(),
            resumed_weights: self.resumed_weights.clone(),
        }
    }

    /// Runs rounds at the configured cadence until `shutdown` turns true. A round in flight
    /// when it does is finished (and committed) first.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(self.config.tasks.interval.0);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                changed = shutdown.changed() => if changed.is_err() || *shutdown.borrow() { break },
                _ = ticker.tick() => {}
            }
            if *shutdown.borrow() {
                break;
            }
            self.step().await;
        }
        tracing::info!(subnet = self.netuid, "validator loop stopped");
    }

    /// One round and, when due, one `set_weights`.
    pub async fn step(&self) {
        let Some(version) = self.slot.current() else {
            // Idle until a version passes; not a failed round, and logged once.
            let mut live = lock(&self.live);
            if live.last_round.is_none() {
                tracing::warn!(
                    subnet = self.netuid,
                    "no module version is serving; the subnet waits for one that passes"
                );
            }
            live.last_round = Some(RoundStatus {
                at_unix_ms: unix_ms(),
                block: 0,
                epoch: 0,
                module: String::new(),
                tasks: 0,
                unscored: 0,
                duration_ms: 0.0,
                error: Some("no module version is serving (see the reload history)".into()),
            });
            return;
        };
        let span = tracing::info_span!("round", subnet = self.netuid, name = %self.label,
            module = %short(&version.hash), version = %version.version.as_deref().unwrap_or("-"),
            generation = version.generation);
        self.step_with(&version).instrument(span).await;
    }

    fn note_round_error(&self, error: String, elapsed: Duration, module: Option<&ModuleVersion>) {
        self.rounds_failed.fetch_add(1, Ordering::Relaxed);
        self.metrics.round(self.netuid, false, elapsed);
        tracing::warn!(subnet = self.netuid, %error, "round failed");
        lock(&self.live).last_round = Some(RoundStatus {
            at_unix_ms: unix_ms(),
            block: 0,
            epoch: 0,
            module: module.map(|m| m.hash.clone()).unwrap_or_default(),
            tasks: 0,
            unscored: 0,
            duration_ms: elapsed.as_secs_f64() * 1000.0,
            error: Some(error),
        });
    }

    async fn step_with(&self, version: &ModuleVersion) {
        let started = Instant::now();
        let chain_state = async {
            let metagraph = self.chain.metagraph(self.netuid).await?;
            let hyper = self.chain.hyperparams(self.netuid).await?;
            Ok::<_, subnet_chain::ChainError>((metagraph, hyper))
        }
        .await;
        let (metagraph, hyper) = match chain_state {
            Ok(state) => state,
            Err(e) => return self.note_round_error(format!("chain: {e}"), started.elapsed(), Some(version)),
        };
        self.metrics.chain_block.set(metagraph.block as i64);
        self.slot.set_metagraph(&metagraph);
        let Some(uid) = metagraph.uid_of(&self.hotkey) else {
            return self.note_round_error(
                format!("the hotkey {} is not registered on subnet {}", self.hotkey.to_ss58(), self.netuid),
                started.elapsed(),
                Some(version),
            );
        };
        let epoch = metagraph.block / (u64::from(hyper.tempo) + 1);
        let mut record = lock(&self.record).clone();
        let seed =
            derive_seed(&[seed_part(&self.hotkey.to_ss58()), u64::from(self.netuid), metagraph.block, record.rounds]);
        let limits = RoundLimits {
            max_tasks: self.config.tasks.max_tasks,
            max_task_timeout: self.config.tasks.max_task_timeout.0,
            ..RoundLimits::default()
        };
        let mut scores = record.scores.clone();
        let outcome = run_round(
            RoundInput {
                module: &version.module,
                env: &self.env,
                metagraph: &metagraph,
                validator: &self.hotkey,
                epoch,
                seed,
                transport: &*self.transport,
                limits: &limits,
            },
            &mut scores,
        )
        .await;
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => return self.note_round_error(e.to_string(), started.elapsed(), Some(version)),
        };
        record.rounds += 1;
        record.scores = scores;
        record.pending_weights = outcome.weights.iter().map(|w| (w.uid, w.value)).collect();
        record.last_round_block = metagraph.block;
        record.last_round_epoch = epoch;
        record.last_round_module = version.hash.clone();
        let db = self.db.clone();
        let to_commit = record.clone();
        let netuid = self.netuid;
        let committed = tokio::task::spawn_blocking(move || db.put_validator(netuid, &to_commit)).await;
        match committed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return self.note_round_error(format!("commit: {e}"), started.elapsed(), Some(version)),
            Err(e) => return self.note_round_error(format!("commit: {e}"), started.elapsed(), Some(version)),
        }
        *lock(&self.record) = record;

        let unscored = outcome.tasks.iter().filter(|t| t.error.is_some()).count();
        let subnet = self.netuid.to_string();
        for task in &outcome.tasks {
            for r in &task.responses {
                self.metrics
                    .responses
                    .get_or_create(&StatusLabels { subnet: subnet.clone(), status: status_name(r.status).into() })
                    .inc();
            }
        }
        if unscored > 0 {
            self.tasks_unscored.fetch_add(unscored as u64, Ordering::Relaxed);
            self.metrics.tasks_unscored.get_or_create(&SubnetLabels { subnet }).inc_by(unscored as u64);
        }
        let elapsed = started.elapsed();
        self.rounds_ok.fetch_add(1, Ordering::Relaxed);
        self.metrics.round(self.netuid, true, elapsed);
        tracing::debug!(
            tasks = outcome.tasks.len(),
            unscored,
            block = metagraph.block,
            epoch,
            ms = elapsed.as_millis() as u64,
            "round committed"
        );
        lock(&self.live).last_round = Some(RoundStatus {
            at_unix_ms: unix_ms(),
            block: metagraph.block,
            epoch,
            module: version.hash.clone(),
            tasks: outcome.tasks.len(),
            unscored,
            duration_ms: elapsed.as_secs_f64() * 1000.0,
            error: None,
        });
        self.maybe_set_weights(&metagraph, uid, &hyper, version).await;
    }

    fn weights_note(&self, note: Option<String>) {
        lock(&self.live).weights_note = note;
    }

    async fn maybe_set_weights(&self, metagraph: &Metagraph, uid: u16, hyper: &Hyperparams, version: &ModuleVersion) {
        let pending = lock(&self.record).pending_weights.clone();
        let neuron = &metagraph.neurons[usize::from(uid)];
        if !neuron.validator_permit {
            return self.weights_note(Some(format!("uid {uid} has no validator permit")));
        }
        if hyper.commit_reveal_enabled {
            // A commit waiting for its window comes first: committing again would bury it.
            match self.load_commit().await {
                Ok(Some(commit)) => return self.reveal_when_due(metagraph, hyper, commit).await,
                Ok(None) => {}
                Err(e) => return self.weights_note(Some(format!("reading the pending commit: {e}"))),
            }
        }
        let every = self.config.weights.every_blocks.max(hyper.weights_rate_limit);
        let since = metagraph.block.saturating_sub(neuron.last_update);
        if since < every {
            return;
        }
        let n = metagraph.neurons.len();
        let mut dense = vec![0f32; n];
        for (uid, w) in &pending {
            if let Some(slot) = dense.get_mut(usize::from(*uid)) {
                *slot = *w as f32;
            }
        }
        let uids: Vec<u16> = (0..n as u16).collect();
        let processed = subnet_chain::weights::process_weights_for_netuid(
            &uids,
            &dense,
            n as u16,
            hyper.min_allowed_weights,
            hyper.max_weight_limit,
            self.config.weights.exclude_quantile,
        )
        .and_then(|(uids, weights)| subnet_chain::weights::weights_for_emit(&uids, &weights));
        let (uids, weights) = match processed {
            Ok(w) if !w.0.is_empty() => w,
            Ok(_) => return self.weights_note(Some("no non-zero weights to set".into())),
            Err(e) => return self.weights_note(Some(format!("weights cannot be processed: {e}"))),
        };
        // The chain refuses keys below its `WeightsVersionKey`; the configured key only raises it.
        let version_key = self.config.weights.version_key.max(hyper.weights_version_key);
        if hyper.commit_reveal_enabled {
            return self.commit(metagraph, uids, weights, version_key, version).await;
        }
        match self.chain.set_weights(&self.hotkey, self.netuid, &uids, &weights, version_key).await {
            Ok(included) => {
                let record = WeightsRecord {
                    block: included.block,
                    uids,
                    weights,
                    at_unix_ms: unix_ms(),
                    module: version.hash.clone(),
                };
                self.weights_landed(record, "weights set").await;
            }
            Err(e) => {
                tracing::warn!(subnet = self.netuid, error = %e, "set_weights rejected");
                self.metrics.weights(self.netuid, "rejected", None);
                self.weights_note(Some(format!("set_weights rejected: {e}")));
            }
        }
    }

    /// Records weights that are now on chain: the database, the metrics, the status.
    async fn weights_landed(&self, record: WeightsRecord, what: &'static str) {
        let db = self.db.clone();
        let netuid = self.netuid;
        let to_commit = record.clone();
        match tokio::task::spawn_blocking(move || db.put_weights(netuid, &to_commit)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(subnet = self.netuid, error = %e, "{what} but not recorded"),
            Err(e) => tracing::error!(subnet = self.netuid, error = %e, "{what} but not recorded"),
        }
        tracing::info!(subnet = self.netuid, block = record.block, uids = record.uids.len(), "{what}");
        self.metrics.weights(self.netuid, "ok", Some(record.block));
        let mut live = lock(&self.live);
        live.last_weights = Some(record);
        live.weights_note = None;
    }

    async fn load_commit(&self) -> Result<Option<CommitRecord>, String> {
        let db = self.db.clone();
        let netuid = self.netuid;
        tokio::task::spawn_blocking(move || db.commit(netuid))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }

    async fn store_commit(&self, record: Option<CommitRecord>) -> Result<(), String> {
        let db = self.db.clone();
        let netuid = self.netuid;
        tokio::task::spawn_blocking(move || db.put_commit(netuid, record.as_ref()))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }

    /// Commits `weights` (commit-reveal v2). The salt and weights are made durable before the
    /// commit is sent, so the reveal survives a restart; a commit whose answer is lost stays
    /// pending and the reveal tells whether it landed (`NoWeightsCommitFound` if not).
    async fn commit(
        &self,
        metagraph: &Metagraph,
        uids: Vec<u16>,
        weights: Vec<u16>,
        version_key: u64,
        version: &ModuleVersion,
    ) {
        let salt: Vec<u16> = {
            use rand::RngExt;
            let mut rng = rand::rng();
            (0..8).map(|_| rng.random()).collect()
        };
        let hash = subnet_chain::commit_hash(&self.hotkey, self.netuid, &uids, &weights, &salt, version_key);
        let mut record = CommitRecord {
            hash,
            uids,
            weights,
            salt,
            version_key,
            sent_at: metagraph.block,
            block: None,
            module: version.hash.clone(),
        };
        if let Err(e) = self.store_commit(Some(record.clone())).await {
            return self.weights_note(Some(format!("commit not sent: recording it failed: {e}")));
        }
        match self.chain.commit_weights(&self.hotkey, self.netuid, hash).await {
            Ok(included) => {
                record.block = Some(included.block);
                if let Err(e) = self.store_commit(Some(record)).await {
                    tracing::error!(subnet = self.netuid, error = %e, "commit sent but its block not recorded");
                }
                tracing::info!(subnet = self.netuid, block = included.block, "weights committed");
                self.metrics.weights(self.netuid, "committed", None);
                self.weights_note(Some(format!(
                    "weights committed at block {}; revealed in a later epoch",
                    included.block
                )));
            }
            Err(e @ subnet_chain::ChainError::Transport(_)) => {
                tracing::warn!(subnet = self.netuid, error = %e, "commit_weights unanswered; will check at reveal time");
                self.weights_note(Some(format!("commit_weights unanswered: {e}")));
            }
            Err(e) => {
                let _ = self.store_commit(None).await;
                tracing::warn!(subnet = self.netuid, error = %e, "commit_weights rejected");
                self.metrics.weights(self.netuid, "rejected", None);
                self.weights_note(Some(format!("commit_weights rejected: {e}")));
            }
        }
    }

    /// Reveals the pending commit once its reveal epoch has come. Subtensor's epoch index is
    /// `(block + netuid + 1) / (tempo + 1)` and a reveal belongs to `commit epoch + period`; a
    /// chain whose boundaries differ answers `RevealTooEarly`, and the next round tries again.
    async fn reveal_when_due(&self, metagraph: &Metagraph, hyper: &Hyperparams, commit: CommitRecord) {
        use subnet_chain::SubtensorError as E;
        let epoch = |block: u64| (block + u64::from(self.netuid) + 1) / (u64::from(hyper.tempo) + 1);
        let committed_at = commit.block.unwrap_or(commit.sent_at + 1);
        let due = epoch(committed_at) + hyper.commit_reveal_period.max(1);
        if epoch(metagraph.block) < due {
            return self.weights_note(Some(format!("commit of block {committed_at} is revealed in epoch {due}")));
        }
        let result = self
            .chain
            .reveal_weights(&self.hotkey, self.netuid, &commit.uids, &commit.weights, &commit.salt, commit.version_key)
            .await;
        match result {
            Ok(included) => {
                let _ = self.store_commit(None).await;
                let record = WeightsRecord {
                    block: included.block,
                    uids: commit.uids,
                    weights: commit.weights,
                    at_unix_ms: unix_ms(),
                    module: commit.module,
                };
                self.weights_landed(record, "weights revealed").await;
            }
            Err(e) if e.is(E::RevealTooEarly) => {
                self.weights_note(Some("the reveal window is not open yet".into()));
            }
            Err(e @ subnet_chain::ChainError::Transport(_)) => {
                tracing::warn!(subnet = self.netuid, error = %e, "reveal_weights unanswered; retried next round");
                self.weights_note(Some(format!("reveal_weights unanswered: {e}")));
            }
            Err(e) => {
                // Expired, never landed, or no longer matching: drop it and commit afresh.
                let _ = self.store_commit(None).await;
                tracing::warn!(subnet = self.netuid, error = %e, "reveal_weights rejected; the commit is dropped");
                self.metrics.weights(self.netuid, "rejected", None);
                self.weights_note(Some(format!("reveal_weights rejected ({e}); committing afresh")));
            }
        }
    }
}
