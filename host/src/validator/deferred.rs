//! Tasks a validator kept for scoring in a later round (`scoring.defer`, contract 0.1.2), held
//! in its running state ([`super::state::ScoreState`]) so they survive restarts with it.
//!
//! Invariants:
//! - at most [`MAX_ITEMS`] tasks and [`MAX_BYTES`] of payloads per validator and subnet; keeping
//!   one more drops the oldest first (logged), and a single task over [`MAX_BYTES`] is refused;
//! - a key names at most one task: keeping a key again replaces what it held;
//! - each round ages every task by one before offering it to `score-deferred`; a task older than
//!   its `max_rounds` is dropped unscored (logged), so nothing is kept forever.
//!
//! What is kept is the task and the responses exactly as `score` saw them.

use serde::{Deserialize, Serialize};

use crate::bindings::types::{MinerResponse, Payload, ResponseStatus, Task};

/// Most tasks kept at once.
pub const MAX_ITEMS: usize = 1024;
/// Most bytes of task and answer payloads kept at once.
pub const MAX_BYTES: usize = 32 << 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredPayload {
    content_type: String,
    body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredResponse {
    uid: u16,
    status: u8,
    latency_ms: u32,
    payload: Option<StoredPayload>,
}

/// One kept task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeferredTask {
    /// The module's key.
    pub key: String,
    /// Rounds since it was kept.
    pub age: u32,
    /// Rounds it may wait.
    pub max_rounds: u32,
    id: String,
    miners: Vec<u16>,
    payload: StoredPayload,
    timeout_ms: u32,
    responses: Vec<StoredResponse>,
}

fn status_code(s: ResponseStatus) -> u8 {
    match s {
        ResponseStatus::Ok => 0,
        ResponseStatus::Timeout => 1,
        ResponseStatus::Refused => 2,
        ResponseStatus::Malformed => 3,
        ResponseStatus::Failed => 4,
    }
}

fn status_of(code: u8) -> ResponseStatus {
    match code {
        0 => ResponseStatus::Ok,
        1 => ResponseStatus::Timeout,
        2 => ResponseStatus::Refused,
        3 => ResponseStatus::Malformed,
        _ => ResponseStatus::Failed,
    }
}

impl DeferredTask {
    fn new(key: String, max_rounds: u32, task: &Task, responses: &[MinerResponse]) -> Self {
        let payload = |p: &Payload| StoredPayload { content_type: p.content_type.clone(), body: p.body.clone() };
        Self {
            key,
            age: 0,
            max_rounds,
            id: task.id.clone(),
            miners: task.miners.clone(),
            payload: payload(&task.payload),
            timeout_ms: task.timeout_ms,
            responses: responses
                .iter()
                .map(|r| StoredResponse {
                    uid: r.uid,
                    status: status_code(r.status),
                    latency_ms: r.latency_ms,
                    payload: r.payload.as_ref().map(payload),
                })
                .collect(),
        }
    }

    fn bytes(&self) -> usize {
        self.payload.body.len()
            + self.responses.iter().filter_map(|r| r.payload.as_ref()).map(|p| p.body.len()).sum::<usize>()
    }

    /// The task as `score` saw it.
    pub fn task(&self) -> Task {
        Task {
            id: self.id.clone(),
            miners: self.miners.clone(),
            payload: Payload { content_type: self.payload.content_type.clone(), body: self.payload.body.clone() },
            timeout_ms: self.timeout_ms,
        }
    }

    /// The responses as `score` saw them.
    pub fn responses(&self) -> Vec<MinerResponse> {
        self.responses
            .iter()
            .map(|r| MinerResponse {
                uid: r.uid,
                status: status_of(r.status),
                latency_ms: r.latency_ms,
                payload: r
                    .payload
                    .as_ref()
                    .map(|p| Payload { content_type: p.content_type.clone(), body: p.body.clone() }),
            })
            .collect()
    }
}

/// The kept tasks, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeferredQueue {
    items: Vec<DeferredTask>,
}

impl DeferredQueue {
    /// How many tasks are kept.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Keeps `task` and `responses` under `key` (see the module docs for the bounds).
    pub fn keep(
        &mut self,
        key: String,
        max_rounds: u32,
        task: &Task,
        responses: &[MinerResponse],
    ) -> Result<(), String> {
        let item = DeferredTask::new(key, max_rounds, task, responses);
        let size = item.bytes();
        if size > MAX_BYTES {
            return Err(format!("deferred task `{}` holds {size} bytes, at most {MAX_BYTES} are kept", item.key));
        }
        self.items.retain(|i| i.key != item.key);
        while self.items.len() >= MAX_ITEMS || self.total_bytes() + size > MAX_BYTES {
            let dropped = self.items.remove(0);
            tracing::warn!(key = %dropped.key, "deferred task dropped unscored: the deferred store is full");
        }
        self.items.push(item);
        Ok(())
    }

    fn total_bytes(&self) -> usize {
        self.items.iter().map(DeferredTask::bytes).sum()
    }

    /// Ages every task by one round and drops those past their `max_rounds`; returns the keys
    /// dropped. What is left is offered to `score-deferred` this round.
    pub fn age(&mut self) -> Vec<String> {
        let mut dropped = Vec::new();
        self.items.retain_mut(|i| {
            i.age = i.age.saturating_add(1);
            let keep = i.age <= i.max_rounds;
            if !keep {
                dropped.push(i.key.clone());
            }
            keep
        });
        dropped
    }

    /// The kept tasks, oldest first.
    pub fn items(&self) -> &[DeferredTask] {
        &self.items
    }

    /// Drops the task under `key` (it was scored).
    pub fn remove(&mut self, key: &str) {
        self.items.retain(|i| i.key != key);
    }
}

/// Ages the kept tasks of `state` and offers each to the module's `score-deferred`; returns a
/// report per task scored now (removed from the state). A call that fails leaves its task kept
/// (until it expires), logged.
pub(super) async fn score_kept(
    module: &crate::runtime::ValidatorModule,
    env: &crate::runtime::CallEnv,
    ctx: &crate::bindings::types::EpochContext,
    seed: u64,
    state: &mut super::state::ScoreState,
) -> Vec<super::TaskReport> {
    for key in state.deferred.age() {
        tracing::warn!(subnet = %env.subnet.label, %key, "deferred task dropped unscored: past its max-rounds");
    }
    let mut reports = Vec::new();
    let items: Vec<DeferredTask> = state.deferred.items().to_vec();
    for (i, item) in items.iter().enumerate() {
        let (task, responses) = (item.task(), item.responses());
        let env = env.with_seed(super::call_seed(seed, "score-deferred", i as u64));
        let result = module.score_deferred(&env, ctx, &item.key, &task, &responses, item.age).await.and_then(|s| {
            s.map(|scores| super::check_scores(module, &task, scores, &Default::default(), false)).transpose()
        });
        match result {
            Ok(None) => {}
            Ok(Some(scores)) => {
                state.deferred.remove(&item.key);
                let abstained = task.miners.iter().copied().filter(|u| !scores.iter().any(|s| s.uid == *u)).collect();
                reports.push(super::TaskReport {
                    task,
                    responses,
                    scores,
                    error: None,
                    error_kind: None,
                    abstained,
                    deferred: Some(item.key.clone()),
                });
            }
            Err(e) => {
                tracing::warn!(subnet = %env.subnet.label, key = %item.key, error = %e, "deferred task not scored")
            }
        }
    }
    reports
}
