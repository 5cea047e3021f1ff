//! How a validator reaches its miners: the [`MinerTransport`] trait. The in-process transport
//! the sandbox uses is [`crate::sim::InProcessMiners`]; the HTTP one is [`crate::net::HttpTransport`].
//!
//! A transport turns one [`MinerQuery`] into one [`MinerResponse`], always: a miner that
//! fails, refuses, answers garbage or never answers gives a response with the matching
//! [`ResponseStatus`], never an error, so one miner cannot fail the round of the others.
//! A transport must return by the query's deadline (plus a small grace).

use std::time::Duration;

use async_trait::async_trait;

use crate::bindings::types::{MinerRequest, MinerResponse, ResponseStatus};
use subnet_chain::AccountId;

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
    pub request: MinerRequest,
    /// Time the miner has to answer.
    pub timeout: Duration,
    /// Seed for whatever randomness the miner side uses (simulated miners).
    pub seed: u64,
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
