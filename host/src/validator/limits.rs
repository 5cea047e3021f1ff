//! The bounds a round puts on what a validator module asks for and on what miners send back.
//!
//! Two directions, two sets of bounds:
//! - **Out** (what the module makes the host send): tasks per round, (task, miner) pairs per
//!   round, bytes of one task's payload, bytes of all payloads of a round, and bytes the host
//!   sends in a round (each payload times its miners). A module over any of them gets
//!   `malformed` for `generate-tasks` and nothing is sent: a bound that cut a round in half
//!   would score miners on whichever tasks happened to come first.
//! - **In** (what miners make the host hand to `score`): every answer of a task is lowered into
//!   one `score` instance, so a task's answers together must fit in the guest's memory. A
//!   task gets a byte budget of a quarter of the guest's memory (the rest is the guest's own
//!   heap, its copies and decodings) and each of its `n` miners a cap of `budget / n`, at most
//!   [`RoundLimits::max_answer_bytes`]. An answer over its cap is `malformed` and dropped as it
//!   arrives: one miner's oversized answer costs that miner its score, never the task.
//!
//! The caps depend only on the task (its miner count) and the subnet's memory limit, never on
//! the order answers arrive in, so rounds replay.

use std::time::Duration;

use crate::bindings::types::Task;

/// Share of a guest's memory a task's answers may take, as a divisor (a quarter).
pub const ANSWER_SHARE_DIVISOR: usize = 4;

/// Bounds the host puts on what a module asks for in one round.
#[derive(Debug, Clone)]
pub struct RoundLimits {
    /// Most tasks per round (default 4096).
    pub max_tasks: usize,
    /// Longest timeout a task may give its miners (default 120 s).
    pub max_task_timeout: Duration,
    /// Most queries in flight at once (default 256).
    pub query_concurrency: usize,
    /// Most `score` calls in flight at once (default 8).
    pub score_concurrency: usize,
    /// Most (task, miner) pairs per round (default 65 536: 256 tasks to 256 miners).
    pub max_queries: usize,
    /// Largest payload of one task, body and content type (default 16 MiB).
    pub max_payload_bytes: usize,
    /// Largest sum of a round's task payloads (default 256 MiB).
    pub max_round_payload_bytes: usize,
    /// Most bytes the host sends in a round: each payload times its miners (default 4 GiB).
    pub max_round_send_bytes: u64,
    /// Largest answer of any miner, whatever the budget allows (default 16 MiB, the HTTP
    /// transport's own limit).
    pub max_answer_bytes: usize,
    /// Memory of a `score` instance when the subnet sets none (default 256 MiB, the runtime's
    /// default limit).
    pub guest_memory: usize,
}

impl Default for RoundLimits {
    fn default() -> Self {
        Self {
            max_tasks: 4096,
            max_task_timeout: Duration::from_secs(120),
            query_concurrency: 256,
            score_concurrency: 8,
            max_queries: 65_536,
            max_payload_bytes: 16 << 20,
            max_round_payload_bytes: 256 << 20,
            max_round_send_bytes: 4 << 30,
            max_answer_bytes: 16 << 20,
            guest_memory: 256 << 20,
        }
    }
}

impl RoundLimits {
    /// The answer budget of one task for a guest of `guest_memory` bytes.
    pub fn task_answer_budget(&self, guest_memory: usize) -> usize {
        guest_memory / ANSWER_SHARE_DIVISOR
    }

    /// The cap on each answer of a task sent to `miners` miners.
    pub fn answer_cap(&self, guest_memory: usize, miners: usize) -> usize {
        (self.task_answer_budget(guest_memory) / miners.max(1)).min(self.max_answer_bytes)
    }

    /// Checks the outgoing bounds of a round's tasks; the reason when one is broken.
    pub(super) fn check_out(&self, tasks: &[Task]) -> Result<(), String> {
        let mut queries = 0usize;
        let mut payloads = 0usize;
        let mut sent = 0u64;
        for task in tasks {
            let size = task.payload.body.len().saturating_add(task.payload.content_type.len());
            if size > self.max_payload_bytes {
                return Err(format!(
                    "task `{}` has a payload of {size} bytes, at most {} per task",
                    task.id, self.max_payload_bytes
                ));
            }
            queries = queries.saturating_add(task.miners.len());
            payloads = payloads.saturating_add(size);
            sent = sent.saturating_add((size as u64).saturating_mul(task.miners.len() as u64));
        }
        if queries > self.max_queries {
            return Err(format!("{queries} (task, miner) pairs, at most {} per round", self.max_queries));
        }
        if payloads > self.max_round_payload_bytes {
            return Err(format!("{payloads} bytes of payloads, at most {} per round", self.max_round_payload_bytes));
        }
        if sent > self.max_round_send_bytes {
            return Err(format!(
                "payloads times miners come to {sent} bytes, at most {} per round",
                self.max_round_send_bytes
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_caps_fit_the_guest() {
        let limits = RoundLimits::default();
        let memory = 256 << 20;
        assert_eq!(limits.answer_cap(memory, 1), 16 << 20, "never above the absolute cap");
        assert_eq!(limits.answer_cap(memory, 32), 2 << 20);
        assert_eq!(limits.answer_cap(memory, 0), 16 << 20);
        for miners in [1, 7, 64, 256, 1024] {
            assert!(limits.answer_cap(memory, miners) * miners <= limits.task_answer_budget(memory));
        }
    }
}
