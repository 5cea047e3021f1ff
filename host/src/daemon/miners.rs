//! Per-miner visibility: what each uid of a subnet answered in the last round, and the round's
//! one-line summary.
//!
//! After every round that reached its miners, [`MinerBook::record`] keeps, per uid, the last
//! response's status and latency and the task it answered, and updates the per-uid metrics
//! (`subnetd_miner_uid_responses_total{subnet,uid,status}`, `subnetd_miner_uid_latency_seconds`,
//! `subnetd_miner_uid_up`) and the per-subnet latency histogram
//! (`subnetd_miner_response_duration_seconds{subnet,status}`).
//!
//! Invariants:
//! - Cardinality is bounded by the metagraph: a uid that is no longer in the round's metagraph
//!   is dropped from the book and its per-uid series are removed, so a subnet never exports
//!   more uid series than it has neurons (at most 256 per mechanism on subtensor), times the
//!   five statuses.
//! - A uid the round did not query keeps its last entry (with the round it was seen in), so a
//!   miner skipped by a module's sampling does not vanish from `/status`.
//!
//! Failure modes: none; recording never fails and never blocks.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use subnet_chain::Metagraph;

use super::metrics::{Metrics, StatusLabels, UidLabels, UidStatusLabels};
use crate::bindings::types::{ResponseStatus, Weight};
use crate::validator::RoundOutcome;

/// The statuses a response can have, as the metrics and `/status` name them.
pub const STATUSES: [&str; 5] = ["ok", "timeout", "refused", "failed", "malformed"];

/// A response status's name: `ok` (answered), `timeout` (no answer in time), `refused` (the
/// miner declined: a guest error, a 4xx), `failed` (unreachable, a 5xx, a transport error),
/// `malformed` (an answer over its cap or not decodable).
pub fn status_name(s: ResponseStatus) -> &'static str {
    match s {
        ResponseStatus::Ok => "ok",
        ResponseStatus::Timeout => "timeout",
        ResponseStatus::Refused => "refused",
        ResponseStatus::Failed => "failed",
        ResponseStatus::Malformed => "malformed",
    }
}

/// One uid's last response.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MinerStatus {
    /// The uid.
    pub uid: u16,
    /// Its hotkey, SS58.
    pub hotkey: String,
    /// The last response's status ([`status_name`]).
    pub status: &'static str,
    /// Its latency, ms (for a timeout: how long the validator waited).
    pub latency_ms: u32,
    /// What went wrong, when the status is not `ok`.
    pub error: Option<String>,
    /// The task it answered.
    pub task: String,
    /// Block of the round it was seen in.
    pub block: u64,
    /// Responses since start by status (only the statuses seen).
    pub counts: BTreeMap<&'static str, u64>,
}

/// Counts of one round's responses, for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundCounts {
    /// Responses.
    pub queries: usize,
    /// `ok` responses.
    pub answered: usize,
    /// `timeout` responses.
    pub timeouts: usize,
    /// `refused`, `failed` and `malformed` responses.
    pub failures: usize,
}

/// The per-uid book of one subnet.
#[derive(Debug, Default)]
pub struct MinerBook {
    by_uid: BTreeMap<u16, MinerStatus>,
}

fn describe(status: ResponseStatus, latency_ms: u32) -> Option<String> {
    match status {
        ResponseStatus::Ok => None,
        ResponseStatus::Timeout => Some(format!("no answer within {latency_ms} ms")),
        ResponseStatus::Refused => Some("the miner refused the task".into()),
        ResponseStatus::Failed => Some("the miner could not be reached or failed (see -vv for the cause)".into()),
        ResponseStatus::Malformed => Some("the answer was malformed or over its size cap".into()),
    }
}

impl MinerBook {
    /// Records a round's responses (see the module docs); returns the round's counts.
    pub fn record(
        &mut self,
        netuid: u16,
        metagraph: &Metagraph,
        outcome: &RoundOutcome,
        metrics: &Metrics,
    ) -> RoundCounts {
        let subnet = netuid.to_string();
        let mut counts = RoundCounts::default();
        for task in &outcome.tasks {
            for r in &task.responses {
                let status = status_name(r.status);
                counts.queries += 1;
                match r.status {
                    ResponseStatus::Ok => counts.answered += 1,
                    ResponseStatus::Timeout => counts.timeouts += 1,
                    _ => counts.failures += 1,
                }
                let seconds = f64::from(r.latency_ms) / 1000.0;
                metrics.responses.get_or_create(&StatusLabels { subnet: subnet.clone(), status: status.into() }).inc();
                metrics
                    .response_seconds
                    .get_or_create(&StatusLabels { subnet: subnet.clone(), status: status.into() })
                    .observe(seconds);
                let uid = r.uid.to_string();
                metrics
                    .uid_responses
                    .get_or_create(&UidStatusLabels { subnet: subnet.clone(), uid: uid.clone(), status: status.into() })
                    .inc();
                let labels = UidLabels { subnet: subnet.clone(), uid };
                metrics.uid_latency.get_or_create(&labels).set(seconds);
                metrics.uid_up.get_or_create(&labels).set(i64::from(r.status == ResponseStatus::Ok));
                let hotkey = metagraph.neurons.get(usize::from(r.uid)).map(|n| n.hotkey.to_ss58()).unwrap_or_default();
                let entry = self.by_uid.entry(r.uid).or_insert_with(|| MinerStatus {
                    uid: r.uid,
                    hotkey: hotkey.clone(),
                    status,
                    latency_ms: 0,
                    error: None,
                    task: String::new(),
                    block: 0,
                    counts: BTreeMap::new(),
                });
                entry.hotkey = hotkey;
                entry.status = status;
                entry.latency_ms = r.latency_ms;
                entry.error = describe(r.status, r.latency_ms);
                entry.task = task.task.id.clone();
                entry.block = metagraph.block;
                *entry.counts.entry(status).or_default() += 1;
            }
        }
        for s in &outcome.round_scores {
            let labels = UidLabels { subnet: subnet.clone(), uid: s.uid.to_string() };
            metrics.uid_score.get_or_create(&labels).set(s.score);
        }
        // Shares of what the module asked for: the board compares them across rounds without
        // caring how the module scales its weights.
        let total: f64 = outcome.weights.iter().map(|w| w.value).sum();
        if total > 0.0 {
            for w in &outcome.weights {
                let labels = UidLabels { subnet: subnet.clone(), uid: w.uid.to_string() };
                metrics.uid_weight.get_or_create(&labels).set(w.value / total);
            }
        }
        // Bounded by the metagraph: uids gone from it lose their entry and their series.
        let gone: Vec<u16> =
            self.by_uid.keys().copied().filter(|uid| usize::from(*uid) >= metagraph.neurons.len()).collect();
        for uid in gone {
            self.by_uid.remove(&uid);
            let labels = UidLabels { subnet: subnet.clone(), uid: uid.to_string() };
            metrics.uid_latency.remove(&labels);
            metrics.uid_up.remove(&labels);
            metrics.uid_score.remove(&labels);
            metrics.uid_weight.remove(&labels);
            for status in STATUSES {
                metrics.uid_responses.remove(&UidStatusLabels {
                    subnet: subnet.clone(),
                    uid: uid.to_string(),
                    status: status.into(),
                });
            }
        }
        counts
    }

    /// Every uid's last response, by uid.
    pub fn snapshot(&self) -> Vec<MinerStatus> {
        self.by_uid.values().cloned().collect()
    }
}

/// The highest `n` weights as `uid:weight` pairs (`3:0.412,0:0.301`), highest first, for logs.
pub fn top_weights(weights: &[Weight], n: usize) -> String {
    let mut sorted: Vec<&Weight> = weights.iter().collect();
    sorted.sort_by(|a, b| b.value.total_cmp(&a.value).then(a.uid.cmp(&b.uid)));
    let mut out = String::new();
    for (i, w) in sorted.iter().take(n).enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{}:{:.4}", w.uid, w.value);
    }
    if sorted.len() > n {
        let _ = write!(out, ",+{} more", sorted.len() - n);
    }
    out
}

/// Weights as the chain holds them (`uid:u16` pairs), all of them, for the weights-set line.
pub fn chain_weights(uids: &[u16], weights: &[u16]) -> String {
    let mut out = String::new();
    for (i, (uid, w)) in uids.iter().zip(weights).enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{uid}:{w}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_weights_are_highest_first_and_bounded() {
        let w = |uid, value| Weight { uid, value };
        let weights = [w(0, 0.1), w(1, 0.5), w(2, 0.3), w(3, 0.1)];
        assert_eq!(top_weights(&weights, 2), "1:0.5000,2:0.3000,+2 more");
        assert_eq!(top_weights(&weights[..1], 5), "0:0.1000");
        assert_eq!(top_weights(&[], 5), "");
        assert_eq!(chain_weights(&[1, 4], &[65535, 12]), "1:65535,4:12");
    }
}
