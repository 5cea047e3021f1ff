//! The validator loop's unit of work: one round of generate, query, score, reward.
//!
//! [`run_round`] drives a validator module through a round against any [`MinerTransport`]
//! (in-process miners in the sandbox, HTTP miners on a real network) and returns what
//! happened, ready for weight setting ([`crate::weights`]) and reports.
//!
//! Invariants and failure modes:
//! - Tasks are checked before anything is sent: ids unique and non-empty, every miner uid in
//!   the metagraph, timeouts clamped to [`RoundLimits::max_task_timeout`]. A module that breaks
//!   these gets [`CallError::Malformed`] for `generate-tasks`; nothing is sent. So does a
//!   module over the round's byte and pair bounds ([`limits`]).
//! - Payloads are shared, never copied per miner: each task's body moves into one [`Bytes`]
//!   its queries share, and queries are made as the fan-out reaches them, so the host holds
//!   one copy of each payload however many miners it goes to.
//! - An answer over its task's cap ([`RoundLimits::answer_cap`]: a share of the guest's memory
//!   split among the task's miners) is `malformed`, its payload dropped as it arrives; the
//!   task is scored on the others.
//! - Every query yields a response (timeouts and failures are statuses), and the whole fan-out
//!   of a task finishes by the task's timeout plus a grace, however miners behave.
//! - A `score` call that fails or returns malformed scores (a uid the task did not go to, a
//!   non-finite score) loses that task's scores only, recorded in [`TaskReport::error`]; the
//!   round goes on. Scores are clamped to [0, 1]; miners a scorer leaves out score 0, miners
//!   it abstains from (`scoring.abstain`) get no score from that task.
//! - A task `score` defers (`scoring.defer`) is kept in the state ([`deferred`]) with every
//!   miner abstaining this round; in each later round, before `reward`, every kept task is aged
//!   and offered to `score-deferred`, whose scores join the round's (uids it leaves out
//!   abstain). Deferring without the `deferred-scorer` export is that task's scoring error.
//! - `reward` failing fails the round (the running state is left as it was).
//! - Results do not depend on timing or scheduling: responses keep the task's miner order,
//!   tasks keep their order, and per-uid round scores average in task order.

pub mod deferred;
pub mod limits;
pub mod state;
pub mod transport;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;

use crate::bindings::types::{EpochContext, Metric, MinerResponse, ResponseStatus, Task, UidScore, Weight};
use crate::caps::metagraph::MetagraphView;
use crate::caps::random::{derive_seed, seed_part};
use crate::runtime::{CallError, SubnetEnv, ValidatorModule};
pub use limits::RoundLimits;
use state::ScoreState;
use subnet_chain::Metagraph;
pub use transport::{MinerQuery, MinerTransport, QueryRequest, SharedPayload, empty_response};

/// What became of one task.
#[derive(Debug, Clone)]
pub struct TaskReport {
    /// The task as the module made it (timeout clamped).
    pub task: Task,
    /// One response per miner, in the task's miner order.
    pub responses: Vec<MinerResponse>,
    /// The scores, one per miner of the task, when scoring succeeded.
    pub scores: Vec<UidScore>,
    /// Why scoring failed, if it did.
    pub error: Option<String>,
    /// The failure's kind ([`CallError::kind`]: `trap`, `timeout`, `guest-error`, ...).
    pub error_kind: Option<&'static str>,
    /// Uids that got no score from this task (abstained, or the task was deferred).
    pub abstained: Vec<u16>,
    /// The key under which the task was kept for later (this round), or from which it was
    /// scored (a later round).
    pub deferred: Option<String>,
}

/// What a round produced.
#[derive(Debug, Clone)]
pub struct RoundOutcome {
    /// Per task, in the module's order.
    pub tasks: Vec<TaskReport>,
    /// Per uid, the mean of its scores over the round's tasks (metrics averaged by name).
    pub round_scores: Vec<UidScore>,
    /// The weights the module asked for, cleaned (finite, non-negative, known uids).
    pub weights: Vec<Weight>,
}

/// Call failures that are the module's own fault and stopped by the host: a round that
/// suffers one in `score` fails, as its scores would be frozen.
const MODULE_FAULTS: [&str; 4] = ["trap", "timeout", "memory", "fuel"];

impl RoundOutcome {
    /// Why a round whose calls all returned still counts as failed: every task unscored, or a
    /// `score` call trapped or was stopped (see [`MODULE_FAULTS`]); `None` when it stands. The
    /// daemon commits nothing from such a round and the sandbox reports it as an error, so
    /// frozen or all-zero scores never pass for a result.
    pub fn failure(&self) -> Option<String> {
        let tasks = self.tasks.len();
        let failed: Vec<&TaskReport> = self.tasks.iter().filter(|t| t.error.is_some()).collect();
        let faults: Vec<&&TaskReport> =
            failed.iter().filter(|t| t.error_kind.is_some_and(|k| MODULE_FAULTS.contains(&k))).collect();
        let first_line = |t: &TaskReport| t.error.as_deref().and_then(|e| e.lines().next()).unwrap_or("").to_owned();
        if let Some(t) = faults.first() {
            return Some(format!(
                "score failed ({}) on {} of {tasks} tasks: {}",
                t.error_kind.unwrap_or("-"),
                faults.len(),
                first_line(t)
            ));
        }
        if tasks > 0 && failed.len() == tasks {
            return Some(format!("every task unscored ({tasks}): {}", first_line(failed[0])));
        }
        None
    }
}

/// The epoch context of a round, and the metagraph view modules read through the capability.
pub fn round_context(
    metagraph: &Metagraph,
    epoch: u64,
    seed: u64,
    validator: Option<&subnet_chain::AccountId>,
) -> (EpochContext, MetagraphView) {
    let view = MetagraphView::from(metagraph);
    let ctx = EpochContext {
        netuid: metagraph.netuid,
        block: metagraph.block,
        epoch,
        seed,
        validator_uid: validator.and_then(|v| metagraph.uid_of(v)),
        neurons: view.neurons.clone(),
    };
    (ctx, view)
}

fn check_tasks(
    module: &ValidatorModule,
    mut tasks: Vec<Task>,
    metagraph: &Metagraph,
    limits: &RoundLimits,
) -> Result<Vec<Task>, CallError> {
    let bad = |reason: String| CallError::malformed(&module.info().name, "generate-tasks", reason);
    if tasks.len() > limits.max_tasks {
        return Err(bad(format!("{} tasks, at most {} per round", tasks.len(), limits.max_tasks)));
    }
    let mut ids = HashSet::new();
    let max_ms = u32::try_from(limits.max_task_timeout.as_millis()).unwrap_or(u32::MAX);
    for task in &mut tasks {
        if task.id.is_empty() {
            return Err(bad("a task has an empty id".into()));
        }
        if !ids.insert(task.id.clone()) {
            return Err(bad(format!("task id `{}` is used twice", task.id)));
        }
        let mut seen = HashSet::new();
        task.miners.retain(|uid| seen.insert(*uid));
        if let Some(uid) = task.miners.iter().find(|uid| metagraph.neurons.get(usize::from(**uid)).is_none()) {
            return Err(bad(format!("task `{}` is aimed at uid {uid}, which is not in the metagraph", task.id)));
        }
        task.timeout_ms = task.timeout_ms.clamp(1, max_ms);
    }
    limits.check_out(&tasks).map_err(bad)?;
    Ok(tasks)
}

/// Checks `scores` of `task`: uids in `abstained` get none; other uids left out get 0 when
/// `fill` (from `score`), none otherwise (from `score-deferred`, where leaving out abstains).
fn check_scores(
    module: &ValidatorModule,
    task: &Task,
    scores: Vec<UidScore>,
    abstained: &std::collections::BTreeSet<u16>,
    fill: bool,
) -> Result<Vec<UidScore>, CallError> {
    let bad = |reason: String| CallError::malformed(&module.info().name, "score", reason);
    let mut by_uid: BTreeMap<u16, UidScore> = BTreeMap::new();
    for score in scores {
        if !task.miners.contains(&score.uid) {
            return Err(bad(format!("scored uid {}, which task `{}` did not go to", score.uid, task.id)));
        }
        if !score.score.is_finite() {
            return Err(bad(format!("uid {} has a non-finite score ({})", score.uid, score.score)));
        }
        if let Some(m) = score.metrics.iter().find(|m| !m.value.is_finite()) {
            return Err(bad(format!("uid {} has a non-finite metric `{}`", score.uid, m.name)));
        }
        by_uid.insert(score.uid, UidScore { score: score.score.clamp(0.0, 1.0), ..score });
    }
    Ok(task
        .miners
        .iter()
        .filter(|uid| !abstained.contains(uid))
        .filter_map(|uid| match by_uid.remove(uid) {
            Some(score) => Some(score),
            None => fill.then(|| UidScore { uid: *uid, score: 0.0, metrics: Vec::new() }),
        })
        .collect())
}

/// What the queries of a round are made from.
struct Fanout<'a> {
    tasks: &'a [Task],
    shared: &'a [(Arc<str>, SharedPayload)],
    caps: &'a [usize],
    metagraph: &'a Metagraph,
    validator: String,
    seed: u64,
}

impl Fanout<'_> {
    /// The query of task `t` to `uid`: shares the task's id and payload.
    fn query(&self, t: usize, uid: u16) -> MinerQuery {
        let task = &self.tasks[t];
        let neuron = &self.metagraph.neurons[usize::from(uid)];
        MinerQuery {
            uid,
            hotkey: neuron.hotkey,
            axon: neuron.axon.and_then(|a| a.socket_addr()),
            request: QueryRequest {
                task_id: self.shared[t].0.clone(),
                netuid: self.metagraph.netuid,
                validator: self.validator.clone(),
                payload: self.shared[t].1.clone(),
                timeout_ms: task.timeout_ms,
            },
            timeout: Duration::from_millis(u64::from(task.timeout_ms)),
            seed: derive_seed(&[self.seed, seed_part(&task.id), u64::from(uid)]),
            max_answer_bytes: self.caps[t],
        }
    }
}

/// Marks an answer over `cap` bytes `malformed` and drops its payload.
fn bound_answer(mut response: MinerResponse, cap: usize, task: &str) -> MinerResponse {
    let size = transport::answer_size(&response);
    if size > cap {
        tracing::debug!(task, uid = response.uid, size, cap, "answer over its cap, marked malformed");
        response.payload = None;
        response.status = ResponseStatus::Malformed;
    }
    response
}

/// A running sum and count, for means.
type Sum = (f64, u32);

/// Averages each uid's scores (and metrics, by name) over the tasks that scored it.
fn mean_scores(tasks: &[TaskReport]) -> Vec<UidScore> {
    let mut sums: BTreeMap<u16, (f64, u32, BTreeMap<String, Sum>)> = BTreeMap::new();
    for task in tasks.iter().filter(|t| t.error.is_none()) {
        for s in &task.scores {
            let entry = sums.entry(s.uid).or_default();
            entry.0 += s.score;
            entry.1 += 1;
            for m in &s.metrics {
                let metric = entry.2.entry(m.name.clone()).or_default();
                metric.0 += m.value;
                metric.1 += 1;
            }
        }
    }
    sums.into_iter()
        .map(|(uid, (sum, count, metrics))| UidScore {
            uid,
            score: sum / f64::from(count.max(1)),
            metrics: metrics
                .into_iter()
                .map(|(name, (sum, count))| Metric { name, value: sum / f64::from(count.max(1)) })
                .collect(),
        })
        .collect()
}

/// The seed of one round of the validator `hotkey` on `netuid`, at `block`, its `round`-th:
/// the same derivation in the sandbox and the daemon. `secret` is what makes it unpredictable:
/// the sandbox's replayable seed, or the daemon's secret kept in its state directory (a miner
/// who knows everything else still cannot predict the tasks).
pub fn round_seed(secret: u64, hotkey: &subnet_chain::AccountId, netuid: u16, block: u64, round: u64) -> u64 {
    derive_seed(&[secret, seed_part(&hotkey.to_ss58()), u64::from(netuid), block, round])
}

/// Seeds of a round's calls, derived from the round seed so each call is reproducible.
fn call_seed(round_seed: u64, what: &str, index: u64) -> u64 {
    derive_seed(&[round_seed, seed_part(what), index])
}

/// Everything a round needs besides the score state.
pub struct RoundInput<'a> {
    /// The validator module.
    pub module: &'a ValidatorModule,
    /// What the subnet's calls share (label, store, compute, limits); seeds are set per call.
    pub subnet: &'a Arc<SubnetEnv>,
    /// The metagraph the round runs against.
    pub metagraph: &'a Metagraph,
    /// The validator's hotkey.
    pub validator: &'a subnet_chain::AccountId,
    /// The epoch number.
    pub epoch: u64,
    /// The round's seed.
    pub seed: u64,
    /// How miners are reached.
    pub transport: &'a dyn MinerTransport,
    /// Bounds on the module's requests.
    pub limits: &'a RoundLimits,
}

/// Runs one round and folds it into `state`. See the module docs for the failure modes.
pub async fn run_round(input: RoundInput<'_>, state: &mut ScoreState) -> Result<RoundOutcome, CallError> {
    let RoundInput { module, subnet, metagraph, validator, epoch, seed, transport, limits } = input;
    let subnet = &subnet.for_round();
    let (ctx, view) = round_context(metagraph, epoch, seed, Some(validator));
    let env = subnet.call(seed, Arc::new(view));

    let tasks = module.generate_tasks(&env.with_seed(call_seed(seed, "generate", 0)), &ctx).await?;
    let tasks = check_tasks(module, tasks, metagraph, limits)?;
    tracing::debug!(subnet = %subnet.label, epoch, tasks = tasks.len(), "tasks generated");

    // Each body moves into one shared buffer for the fan-out and back into the task after it.
    let mut tasks = tasks;
    let shared: Vec<(Arc<str>, SharedPayload)> = tasks
        .iter_mut()
        .map(|t| {
            let body = Bytes::from(std::mem::take(&mut t.payload.body));
            (Arc::from(t.id.as_str()), SharedPayload { content_type: t.payload.content_type.clone(), body })
        })
        .collect();
    let memory = subnet.limits.memory.unwrap_or(limits.guest_memory);
    let caps: Vec<usize> = tasks.iter().map(|t| limits.answer_cap(memory, t.miners.len())).collect();

    // Fan out every (task, miner) pair, each query made when the fan-out reaches it (the
    // pairs are indices only); results are put back in order afterwards.
    let fanout =
        Fanout { tasks: &tasks, shared: &shared, caps: &caps, metagraph, validator: validator.to_ss58(), seed };
    let pairs: Vec<(usize, usize, u16)> = tasks
        .iter()
        .enumerate()
        .flat_map(|(t, task)| task.miners.iter().enumerate().map(move |(m, uid)| (t, m, *uid)))
        .collect();
    let mut responses: Vec<Vec<Option<MinerResponse>>> = tasks.iter().map(|t| vec![None; t.miners.len()]).collect();
    let fanout = &fanout;
    let mut stream = futures::stream::iter(pairs)
        .map(|(t, m, uid)| async move { (t, m, transport.query(fanout.query(t, uid)).await) })
        .buffer_unordered(limits.query_concurrency.max(1));
    while let Some((t, m, response)) = stream.next().await {
        responses[t][m] = Some(bound_answer(response, caps[t], &tasks[t].id));
    }
    drop(stream);
    for (task, (_, payload)) in tasks.iter_mut().zip(shared) {
        // Every query is gone, so the buffer is unshared again and this moves, not copies.
        task.payload.body = Vec::from(payload.body);
    }

    let scored = futures::stream::iter(tasks.into_iter().zip(responses).enumerate())
        .map(|(index, (task, responses))| {
            let env = env.with_seed(call_seed(seed, "score", index as u64));
            let ctx = &ctx;
            async move {
                let responses: Vec<MinerResponse> = responses.into_iter().flatten().collect();
                let result =
                    module.score_with_requests(&env, ctx, &task, &responses).await.and_then(|(scores, asked)| {
                        if asked.deferred.is_some() && !module.can_defer() {
                            return Err(CallError::malformed(
                                &module.info().name,
                                "score",
                                "called scoring.defer, but the module exports no deferred-scorer",
                            ));
                        }
                        let abstained = match &asked.deferred {
                            Some(_) => task.miners.iter().copied().collect(),
                            None => asked.abstained.clone(),
                        };
                        Ok((check_scores(module, &task, scores, &abstained, true)?, abstained, asked.deferred))
                    });
                let (scores, abstained, deferred, error, error_kind) = match result {
                    Ok((scores, abstained, deferred)) => {
                        (scores, abstained.into_iter().collect(), deferred, None, None)
                    }
                    Err(e) => {
                        // Debug: the error may be a multi-line trap backtrace, and callers
                        // report the round's failures in one line of their own.
                        tracing::debug!(subnet = %env.subnet.label, task = %task.id, error = %e, "task not scored");
                        (Vec::new(), Vec::new(), None, Some(e.to_string()), Some(e.kind()))
                    }
                };
                let rounds = deferred.as_ref().map(|(_, rounds)| *rounds);
                let report = TaskReport {
                    task,
                    responses,
                    scores,
                    error,
                    error_kind,
                    abstained,
                    deferred: deferred.map(|(k, _)| k),
                };
                (report, rounds)
            }
        })
        .buffered(limits.score_concurrency.max(1))
        .collect::<Vec<_>>()
        .await;

    // Tasks kept in earlier rounds first (this round's are not offered before the next).
    let kept = deferred::score_kept(module, &env, &ctx, seed, state).await;
    let mut scored: Vec<TaskReport> = scored
        .into_iter()
        .map(|(report, rounds)| {
            if let (Some(key), Some(rounds)) = (&report.deferred, rounds)
                && let Err(e) = state.deferred.keep(key.clone(), rounds, &report.task, &report.responses)
            {
                tracing::warn!(subnet = %subnet.label, task = %report.task.id, "not deferred: {e}");
            }
            report
        })
        .collect();
    scored.extend(kept);
    let round_scores = mean_scores(&scored);
    state.reconcile(&ctx.neurons);
    let result =
        module.reward(&env.with_seed(call_seed(seed, "reward", 0)), &ctx, &state.to_wit(), &round_scores).await?;
    let bad = |reason: String| CallError::malformed(&module.info().name, "reward", reason);
    if let Some(w) = result.weights.iter().find(|w| !w.value.is_finite() || w.value < 0.0) {
        return Err(bad(format!("uid {} has weight {}, weights must be finite and >= 0", w.uid, w.value)));
    }
    if let Some(s) = result.state.iter().find(|s| !s.score.is_finite()) {
        return Err(bad(format!("uid {} has a non-finite running score", s.uid)));
    }
    state.replace(&result.state, &ctx.neurons);
    let n = metagraph.neurons.len();
    let weights = result.weights.into_iter().filter(|w| usize::from(w.uid) < n).collect();
    Ok(RoundOutcome { tasks: scored, round_scores, weights })
}
