//! How a validator reaches its miners: the [`MinerTransport`] trait, and the in-process
//! transport the sandbox uses.
//!
//! A transport turns one [`MinerQuery`] into one [`MinerResponse`], always: a miner that
//! fails, refuses, answers garbage or never answers gives a response with the matching
//! [`ResponseStatus`], never an error, so one miner cannot fail the round of the others.
//! A transport must return by the query's deadline (plus a small grace).
//!
//! [`InProcessMiners`] runs miner modules in this process. Its latencies are *simulated*
//! (a fixed per-miner network delay plus nothing else), so sandbox runs replay exactly; the
//! real wall time of each call still enforces the task's timeout. The HTTP transport in
//! [`crate::net`] measures real latency instead.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rand::{Rng, RngExt, SeedableRng};

use crate::bindings::types::{MinerRequest, MinerResponse, Payload, ResponseStatus};
use crate::caps::CallEnv;
use crate::caps::random::derive_seed;
use crate::runtime::{CallError, MinerModule};
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

/// What a simulated miner does with a task.
#[derive(Clone)]
pub enum SimMiner {
    /// Runs a miner module (honest or adversarial, as the module is written).
    Module(MinerModule),
    /// Never answers: every query times out.
    Lazy,
    /// Answers noise of the task's content type: a random JSON number for JSON tasks, random
    /// bytes otherwise.
    Random,
}

impl SimMiner {
    /// A short label for reports.
    pub fn label(&self) -> String {
        match self {
            SimMiner::Module(m) => m.info().name.clone(),
            SimMiner::Lazy => "lazy".into(),
            SimMiner::Random => "random".into(),
        }
    }
}

/// Miners served by modules and built-in behaviours inside this process.
pub struct InProcessMiners {
    miners: BTreeMap<u16, SimMiner>,
    env: CallEnv,
}

impl InProcessMiners {
    /// Miners by uid; `env` is the environment their module calls run in (the seed and the
    /// time limit are set per query).
    pub fn new(miners: BTreeMap<u16, SimMiner>, env: CallEnv) -> Self {
        Self { miners, env }
    }

    /// The simulated one-way network delay of a miner: 5 to 80 ms, fixed per uid.
    pub fn simulated_latency(uid: u16) -> Duration {
        Duration::from_millis(5 + derive_seed(&[u64::from(uid), 0x1a7e]) % 76)
    }
}

fn elapsed_ms(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// A response with no payload.
pub fn empty_response(uid: u16, status: ResponseStatus, latency: Duration) -> MinerResponse {
    MinerResponse { uid, status, latency_ms: elapsed_ms(latency), payload: None }
}

#[async_trait]
impl MinerTransport for InProcessMiners {
    async fn query(&self, query: MinerQuery) -> MinerResponse {
        let uid = query.uid;
        let Some(miner) = self.miners.get(&uid) else {
            // Registered but not served: as a miner whose axon refuses connections.
            return empty_response(uid, ResponseStatus::Refused, Duration::ZERO);
        };
        let network = 2 * Self::simulated_latency(uid);
        match miner {
            SimMiner::Lazy => empty_response(uid, ResponseStatus::Timeout, query.timeout),
            SimMiner::Random => {
                let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(query.seed);
                let content_type = query.request.payload.content_type.clone();
                let body = if content_type.starts_with("application/json") {
                    rng.next_u64().to_string().into_bytes()
                } else {
                    let len = rng.random_range(16..256);
                    (0..len).map(|_| rng.random::<u8>()).collect()
                };
                MinerResponse {
                    uid,
                    status: ResponseStatus::Ok,
                    latency_ms: elapsed_ms(network),
                    payload: Some(Payload { content_type, body }),
                }
            }
            SimMiner::Module(module) => {
                let budget = query.timeout.saturating_sub(network);
                if budget.is_zero() {
                    return empty_response(uid, ResponseStatus::Timeout, query.timeout);
                }
                let env = CallEnv { seed: query.seed, timeout: Some(budget), ..self.env.clone() };
                match module.handle(&env, &query.request).await {
                    Ok(payload) => MinerResponse {
                        uid,
                        status: ResponseStatus::Ok,
                        latency_ms: elapsed_ms(network),
                        payload: Some(payload),
                    },
                    Err(CallError::Timeout { .. }) => empty_response(uid, ResponseStatus::Timeout, query.timeout),
                    Err(CallError::Guest { .. }) => empty_response(uid, ResponseStatus::Refused, network),
                    Err(err) => {
                        tracing::debug!(uid, error = %err, "simulated miner failed");
                        empty_response(uid, ResponseStatus::Failed, network)
                    }
                }
            }
        }
    }
}

/// A transport shared behind an `Arc`.
pub type SharedTransport = Arc<dyn MinerTransport>;
