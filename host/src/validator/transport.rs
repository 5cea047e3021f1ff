//! How a validator reaches its miners: the [`MinerTransport`] trait. The in-process transport
//! the sandbox uses is [`crate::sim::InProcessMiners`]; the HTTP one is [`crate::net::HttpTransport`].
//!
//! A transport turns one [`MinerQuery`] into one [`MinerResponse`], always: a miner that
//! fails, refuses, answers garbage or never answers gives a response with the matching
//! [`ResponseStatus`], never an error, so one miner cannot fail the round of the others.
//! A transport must return by the query's deadline (plus a small grace).
//!
//! Sharing: a task goes to many miners with one payload, so a [`MinerQuery`] carries the
//! payload as [`Bytes`] (and the id as an `Arc<str>`), shared by every query of the task: a
//! 16 MiB payload sent to 256 miners is held once, not 256 times. A transport that needs the
//! contract's owned form (an in-process miner module) makes it with [`QueryRequest::to_wit`]
//! for the one call, so at most the queries in flight hold a copy.
//!
//! Answers: [`MinerQuery::max_answer_bytes`] is the largest answer the round will keep for
//! this query (see [`super::limits`]); a transport should stop reading there and report
//! `malformed`. The round enforces it again on whatever comes back.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::bindings::types::{MinerRequest, MinerResponse, Payload, ResponseStatus};
use subnet_chain::AccountId;

/// A payload shared by the queries of one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedPayload {
    /// MIME type.
    pub content_type: String,
    /// The bytes, shared (cloning is a reference count).
    pub body: Bytes,
}

/// What a miner receives: the contract's [`MinerRequest`] with its payload shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRequest {
    /// The task's id, shared by its queries.
    pub task_id: Arc<str>,
    /// The subnet.
    pub netuid: u16,
    /// SS58 of the validator's hotkey.
    pub validator: String,
    /// The task's payload, shared by its queries.
    pub payload: SharedPayload,
    /// Time the miner has, ms.
    pub timeout_ms: u32,
}

impl QueryRequest {
    /// The contract's owned form, for a miner module's `handle` (copies the body).
    pub fn to_wit(&self) -> MinerRequest {
        MinerRequest {
            task_id: self.task_id.to_string(),
            netuid: self.netuid,
            validator: self.validator.clone(),
            payload: Payload { content_type: self.payload.content_type.clone(), body: self.payload.body.to_vec() },
            timeout_ms: self.timeout_ms,
        }
    }
}

impl From<MinerRequest> for QueryRequest {
    fn from(r: MinerRequest) -> Self {
        Self {
            task_id: r.task_id.into(),
            netuid: r.netuid,
            validator: r.validator,
            payload: SharedPayload { content_type: r.payload.content_type, body: Bytes::from(r.payload.body) },
            timeout_ms: r.timeout_ms,
        }
    }
}

/// One request to one miner.
#[derive(Clone)]
pub struct MinerQuery {
    /// The miner's uid.
    pub uid: u16,
    /// The miner's hotkey, as the metagraph has it.
    pub hotkey: AccountId,
    /// Where the miner serves, if it announced an axon.
    pub axon: Option<std::net::SocketAddr>,
    /// What the miner receives.
    pub request: QueryRequest,
    /// Time the miner has to answer.
    pub timeout: Duration,
    /// Seed for whatever randomness the miner side uses (simulated miners).
    pub seed: u64,
    /// Largest answer (body and content type) the round keeps; a larger one is `malformed`.
    pub max_answer_bytes: usize,
}

impl MinerQuery {
    /// Whether `response` is over this query's answer cap.
    pub fn over_cap(&self, response: &MinerResponse) -> bool {
        answer_size(response) > self.max_answer_bytes
    }
}

/// Bytes an answer costs the round: its body and content type.
pub fn answer_size(response: &MinerResponse) -> usize {
    response.payload.as_ref().map_or(0, |p| p.body.len().saturating_add(p.content_type.len()))
}

/// Something that delivers queries to miners.
#[async_trait]
pub trait MinerTransport: Send + Sync {
    /// Sends one query and reports what came back. Never fails: failures are statuses.
    async fn query(&self, query: MinerQuery) -> MinerResponse;
}

pub(crate) fn elapsed_ms(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// A response with no payload.
pub fn empty_response(uid: u16, status: ResponseStatus, latency: Duration) -> MinerResponse {
    MinerResponse { uid, status, latency_ms: elapsed_ms(latency), payload: None }
}
