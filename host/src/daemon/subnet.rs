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
//! `reward`, a `score` call trapping or stopped for time, memory or fuel, every task unscored)
//! commits nothing and changes nothing in memory but the per-miner book; the next tick tries
//! again. It is counted (`rounds_failed`, `subnetd_rounds_total{outcome="failed"}`), shown in
//! `last_round.error`, and logged as one WARN line (the full error, with a trap's backtrace, at
//! debug). A round that stands logs one INFO summary (tasks, answered, timeouts, failures,
//! unscored, top weights); weights that land log the weights themselves. A
//! rejected `set_weights` is logged and counted, and retried when next due.
//!
//! On a subnet with commit-reveal on, weights are committed instead, and the runtime decides
//! how: a timelocked commit (v4: encrypted to a drand round, revealed by the chain itself) when
//! the chain has a drand beacon ([`Chain::drand_beacon`]), else a v2 hash commit with a random
//! salt that this loop reveals in the epoch the chain opens for it. Either is stored in the
//! database before it is sent, and no new commit is made while one waits, so a daemon killed
//! between commit and reveal never commits the same window twice. A v4 commit is settled by
//! reading the chain (revealed: the Weights row is the commit; dropped: it is gone and the row
//! is not); both show in status (`weights_note`, `last_weights`) and in the
//! `subnetd_weights_set_total{outcome}` metric (`revealed`, `dropped`). The chain's
//! `last_update` is the source of truth for the cadence, so a daemon killed between
//! `set_weights` and its own commit does not set weights twice too fast.

use crate::util::unix_ms;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use subnet_chain::{AccountId, Chain, EpochSchedule, Hyperparams, Metagraph};
use tokio::sync::watch;
use tracing::Instrument;

use super::config::{ResetScoresOn, SubnetConfig};
use super::metrics::{Metrics, SubnetLabels, short};
use super::miners::{MinerBook, MinerStatus, chain_weights, top_weights};
use super::reload::{ModuleSlot, ModuleVersion, ReloadRecord};
use super::store::{StateDb, ValidatorRecord};
use super::supervise::LoopHealth;
use crate::bindings::types::Weight;
use crate::caps::kv::KvStore as _;
use crate::runtime::SubnetEnv;
use crate::validator::state::ScoreState;
use crate::validator::{MinerTransport, RoundInput, round_seed, run_round};
use crate::weights::{CommitRecord, CommitStore, Submission, WeightSetter, WeightsRecord};

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
    /// Miner responses.
    pub queries: usize,
    /// `ok` responses.
    pub answered: usize,
    /// `timeout` responses.
    pub timeouts: usize,
    /// `refused`, `failed` and `malformed` responses.
    pub failures: usize,
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
    /// Times the subnet's loop died (a host bug) and was restarted.
    pub loop_restarts: u64,
    /// The panic message of its last death.
    pub loop_last_death: Option<String>,
    /// When the last round that succeeded ended, ms since the Unix epoch.
    pub last_good_round_unix_ms: Option<u64>,
    /// Per uid, the last response (status, latency, error) and counts since start.
    pub miners: Vec<MinerStatus>,
}

#[derive(Default)]
struct Live {
    last_round: Option<RoundStatus>,
    last_good_round_unix_ms: Option<u64>,
    miners: MinerBook,
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
    /// What its module calls share (store, compute, limits, observer).
    pub subnet: Arc<SubnetEnv>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Failed module calls (shared with the subnet's call observer).
    pub call_errors: Arc<AtomicU64>,
    /// The daemon's secret in every round seed ([`round_seed`]).
    pub round_secret: u64,
    record: Mutex<ValidatorRecord>,
    resumed: ValidatorRecord,
    resumed_weights: Option<WeightsRecord>,
    live: Mutex<Live>,
    rounds_ok: AtomicU64,
    rounds_failed: AtomicU64,
    /// Deaths and restarts of this subnet's loop (see [`super::supervise`]).
    pub health: LoopHealth,
    tasks_unscored: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
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
        subnet: Arc<SubnetEnv>,
        metrics: Arc<Metrics>,
        call_errors: Arc<AtomicU64>,
        round_secret: u64,
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
            subnet,
            metrics,
            call_errors,
            round_secret,
            record: Mutex::new(resumed.clone()),
            live: Mutex::new(Live { last_weights: resumed_weights.clone(), ..Live::default() }),
            resumed,
            resumed_weights,
            rounds_ok: AtomicU64::new(0),
            rounds_failed: AtomicU64::new(0),
            tasks_unscored: AtomicU64::new(0),
            health: LoopHealth::default(),
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
            loop_restarts: self.health.restarts(),
            loop_last_death: self.health.last_death(),
            last_good_round_unix_ms: live.last_good_round_unix_ms,
            miners: live.miners.snapshot(),
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
                queries: 0,
                answered: 0,
                timeouts: 0,
                failures: 0,
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
        self.note_failed(RoundStatus {
            at_unix_ms: unix_ms(),
            block: 0,
            epoch: 0,
            module: module.map(|m| m.hash.clone()).unwrap_or_default(),
            tasks: 0,
            unscored: 0,
            queries: 0,
            answered: 0,
            timeouts: 0,
            failures: 0,
            duration_ms: elapsed.as_secs_f64() * 1000.0,
            error: Some(error),
        });
    }

    fn note_failed(&self, round: RoundStatus) {
        self.rounds_failed.fetch_add(1, Ordering::Relaxed);
        self.metrics.round(self.netuid, false, Duration::from_secs_f64(round.duration_ms / 1000.0));
        let error = round.error.as_deref().unwrap_or("");
        tracing::warn!(subnet = self.netuid, tasks = round.tasks, answered = round.answered,
            timeouts = round.timeouts, failures = round.failures, unscored = round.unscored, %error, "round failed");
        lock(&self.live).last_round = Some(round);
    }

    async fn step_with(&self, version: &ModuleVersion) {
        let started = Instant::now();
        let mecid = self.config.mechanism;
        let chain_state = async {
            let metagraph = match mecid {
                0 => self.chain.metagraph(self.netuid).await?,
                m => self.chain.mechanism_metagraph(self.netuid, m).await?,
            };
            let hyper = self.chain.hyperparams(self.netuid).await?;
            let schedule = self.chain.epoch_schedule(self.netuid).await?;
            Ok::<_, subnet_chain::ChainError>((metagraph, hyper, schedule))
        }
        .await;
        let (metagraph, hyper, schedule) = match chain_state {
            Ok(state) => state,
            Err(e) => return self.note_round_error(format!("chain: {e}"), started.elapsed(), Some(version)),
        };
        if let Err(e) = metagraph.check_dense() {
            return self.note_round_error(format!("chain: {e}"), started.elapsed(), Some(version));
        }
        self.metrics.chain_block.set(metagraph.block as i64);
        let own = metagraph.uid_of(&self.hotkey).and_then(|uid| metagraph.neurons.get(usize::from(uid)));
        self.metrics.own_neuron(self.netuid, own);
        if metagraph.uid_of(&self.hotkey).is_none() {
            return self.note_round_error(
                format!("the hotkey {} is not registered on subnet {}", self.hotkey.to_ss58(), self.netuid),
                started.elapsed(),
                Some(version),
            );
        }
        let epoch = schedule.epoch();
        self.slot.set_round_context(&metagraph, epoch);
        let mut record = lock(&self.record).clone();
        let seed = round_seed(self.round_secret, &self.hotkey, self.netuid, metagraph.block, record.rounds);
        let limits = self.config.round_limits();
        let mut scores = record.scores.clone();
        if self.config.reload.reset_scores_on == ResetScoresOn::Version
            && !record.last_round_module.is_empty()
            && record.last_round_module != version.hash
        {
            // The scoring rule may have changed: old scores would mix two rules' units.
            tracing::info!(subnet = self.netuid, from = %short(&record.last_round_module), to = %short(&version.hash),
                "running scores reset: a new module version (reset_scores_on = \"version\")");
            scores = ScoreState::new();
        }
        // The round's kv writes wait in a buffer and are committed with its scores, or dropped.
        let (round_subnet, round_kv) = match self.subnet.buffer_round() {
            Ok(round) => round,
            Err(e) => return self.note_round_error(format!("kv: {e}"), started.elapsed(), Some(version)),
        };
        let outcome = run_round(
            RoundInput {
                module: &version.module,
                subnet: &round_subnet,
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
        let counts = lock(&self.live).miners.record(self.netuid, &metagraph, &outcome, &self.metrics);
        let unscored = outcome.tasks.iter().filter(|t| t.error.is_some()).count();
        if unscored > 0 {
            self.tasks_unscored.fetch_add(unscored as u64, Ordering::Relaxed);
            let subnet = self.netuid.to_string();
            self.metrics.tasks_unscored.get_or_create(&SubnetLabels { subnet }).inc_by(unscored as u64);
        }
        let round = |error: Option<String>| RoundStatus {
            at_unix_ms: unix_ms(),
            block: metagraph.block,
            epoch,
            module: version.hash.clone(),
            tasks: outcome.tasks.len(),
            unscored,
            queries: counts.queries,
            answered: counts.answered,
            timeouts: counts.timeouts,
            failures: counts.failures,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            error,
        };
        // Frozen scores must not keep going on chain: such a round commits nothing.
        if let Some(error) = outcome.failure() {
            return self.note_failed(round(Some(error)));
        }
        record.rounds += 1;
        record.scores = scores;
        record.pending_weights = outcome.weights.iter().map(|w| (w.uid, w.value)).collect();
        record.last_round_block = metagraph.block;
        record.last_round_epoch = epoch;
        record.last_round_module = version.hash.clone();
        let db = self.db.clone();
        let to_commit = record.clone();
        let netuid = self.netuid;
        let (writes, budget) = round_kv.map_or((Vec::new(), 0), |kv| (kv.take_writes(), kv.budget()));
        let committed = tokio::task::spawn_blocking(move || db.commit_round(netuid, &to_commit, &writes, budget)).await;
        match committed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return self.note_round_error(format!("commit: {e}"), started.elapsed(), Some(version)),
            Err(e) => return self.note_round_error(format!("commit: {e}"), started.elapsed(), Some(version)),
        }
        *lock(&self.record) = record;

        self.rounds_ok.fetch_add(1, Ordering::Relaxed);
        let done = round(None);
        self.metrics.round(self.netuid, true, started.elapsed());
        self.metrics
            .last_good_round
            .get_or_create(&SubnetLabels { subnet: self.netuid.to_string() })
            .set(done.at_unix_ms as f64 / 1000.0);
        tracing::info!(
            block = metagraph.block,
            epoch,
            tasks = done.tasks,
            answered = done.answered,
            timeouts = done.timeouts,
            failures = done.failures,
            unscored,
            top_weights = %top_weights(&outcome.weights, 5),
            ms = started.elapsed().as_millis() as u64,
            "round committed"
        );
        {
            let mut live = lock(&self.live);
            live.last_good_round_unix_ms = Some(done.at_unix_ms);
            live.last_round = Some(done);
        }
        self.submit_weights(&metagraph, &hyper, &schedule, version).await;
    }

    fn weights_note(&self, note: Option<String>) {
        lock(&self.live).weights_note = note;
    }

    /// Hands the round's weights to the shared weight-setting path and records what it did.
    async fn submit_weights(
        &self,
        metagraph: &Metagraph,
        hyper: &Hyperparams,
        schedule: &EpochSchedule,
        version: &ModuleVersion,
    ) {
        let pending: Vec<Weight> =
            lock(&self.record).pending_weights.iter().map(|(uid, value)| Weight { uid: *uid, value: *value }).collect();
        let commits = DbCommits { db: self.db.clone(), netuid: self.netuid };
        // Timelocked (v4) or hash (v2) commits: the runtime decides, not the config.
        let beacon = if hyper.commit_reveal_enabled {
            match self.chain.drand_beacon().await {
                Ok(beacon) => beacon,
                Err(error) => {
                    tracing::warn!(subnet = self.netuid, %error, "cannot read the chain's drand beacon; retried next round");
                    self.weights_note(Some(format!("cannot read the chain's drand beacon: {error}")));
                    return;
                }
            }
        } else {
            None
        };
        let setter = WeightSetter {
            chain: &*self.chain,
            hotkey: self.hotkey,
            netuid: self.netuid,
            mecid: self.config.mechanism,
            policy: self.config.weights.policy(),
            commits: &commits,
            beacon: beacon.as_ref(),
        };
        let submission = setter.submit(&pending, metagraph, hyper, schedule, &version.hash).await;
        match &submission {
            Submission::NotDue { .. } => {}
            Submission::Set(record) => return self.weights_landed(record.clone(), "weights set", "ok").await,
            Submission::Revealed(record) => {
                return self.weights_landed(record.clone(), "weights revealed", "revealed").await;
            }
            Submission::Dropped { .. } => {
                tracing::warn!(subnet = self.netuid, "{}", submission.describe());
                self.metrics.weights(self.netuid, "dropped", None);
                self.weights_note(Some(submission.describe()));
            }
            Submission::Committed { block, .. } => {
                tracing::info!(subnet = self.netuid, block, "weights committed");
                self.metrics.weights(self.netuid, "committed", None);
                self.weights_note(Some(submission.describe()));
            }
            Submission::Rejected { what, error } => {
                tracing::warn!(subnet = self.netuid, %error, "{what} rejected");
                self.metrics.weights(self.netuid, "rejected", None);
                self.weights_note(Some(submission.describe()));
            }
            Submission::Unanswered { what, error } => {
                tracing::warn!(subnet = self.netuid, %error, "{what} unanswered; checked again next round");
                self.weights_note(Some(submission.describe()));
            }
            _ => self.weights_note(Some(submission.describe())),
        }
    }

    /// Records weights that are now on chain: the database, the metrics, the status.
    async fn weights_landed(&self, record: WeightsRecord, what: &'static str, outcome: &str) {
        let db = self.db.clone();
        let netuid = self.netuid;
        let to_commit = record.clone();
        match tokio::task::spawn_blocking(move || db.put_weights(netuid, &to_commit)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(subnet = self.netuid, error = %e, "{what} but not recorded"),
            Err(e) => tracing::error!(subnet = self.netuid, error = %e, "{what} but not recorded"),
        }
        tracing::info!(subnet = self.netuid, block = record.block, uids = record.uids.len(),
            weights = %chain_weights(&record.uids, &record.weights), "{what}");
        self.metrics.weights(self.netuid, outcome, Some(record.block));
        let mut live = lock(&self.live);
        live.last_weights = Some(record);
        live.weights_note = None;
    }
}

/// The daemon's pending commit of one subnet, in its database (fsynced before a commit is sent).
struct DbCommits {
    db: StateDb,
    netuid: u16,
}

impl CommitStore for DbCommits {
    fn load(&self) -> Result<Option<CommitRecord>, String> {
        crate::caps::kv::off_worker(|| self.db.commit(self.netuid)).map_err(|e| e.to_string())
    }

    fn store(&self, record: Option<&CommitRecord>) -> Result<(), String> {
        crate::caps::kv::off_worker(|| self.db.put_commit(self.netuid, record)).map_err(|e| e.to_string())
    }
}
