//! [`InProcessMiners`]: simulated miners in this process, a [`MinerTransport`] for the sandbox
//! and the daemon's local backend. Latencies are *simulated* (a fixed per-miner network delay
//! plus nothing else), so sandbox runs replay exactly; the real wall time of each call still
//! enforces the task's timeout.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::SimMiner;
use crate::bindings::types::{MinerResponse, ResponseStatus};
use crate::caps::metagraph::MetagraphView;
use crate::caps::random::derive_seed;
use crate::runtime::{CallError, SubnetEnv};
use crate::validator::transport::elapsed_ms;
use crate::validator::{MinerQuery, MinerTransport, empty_response};

/// Miners served by modules and built-in behaviours inside this process.
pub struct InProcessMiners {
    miners: BTreeMap<u16, SimMiner>,
    subnet: Arc<SubnetEnv>,
    metagraph: Arc<MetagraphView>,
    /// Miners with an environment of their own (their own key-value store), by uid.
    own: BTreeMap<u16, Arc<SubnetEnv>>,
}

impl InProcessMiners {
    /// Miners by uid; their module calls run as `subnet`'s, seeing `metagraph` (the seed and the
    /// time limit are set per query).
    pub fn new(miners: BTreeMap<u16, SimMiner>, subnet: Arc<SubnetEnv>, metagraph: Arc<MetagraphView>) -> Self {
        Self { miners, subnet, metagraph, own: BTreeMap::new() }
    }

    /// The same miners, those in `own` running in their own environment (each simulated miner
    /// its own store, as `subnetd miner --kv` gives a real one) instead of the shared one.
    pub fn with_own_envs(mut self, own: BTreeMap<u16, Arc<SubnetEnv>>) -> Self {
        self.own = own;
        self
    }

    /// The simulated one-way network delay of a miner: 5 to 80 ms, fixed per uid.
    pub fn simulated_latency(uid: u16) -> Duration {
        Duration::from_millis(5 + derive_seed(&[u64::from(uid), 0x1a7e]) % 76)
    }
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
            SimMiner::Random => MinerResponse {
                uid,
                status: ResponseStatus::Ok,
                latency_ms: elapsed_ms(network),
                payload: Some(super::noise(&query.request.payload.content_type, query.seed)),
            },
            SimMiner::Module(module) => {
                let budget = query.timeout.saturating_sub(network);
                if budget.is_zero() {
                    return empty_response(uid, ResponseStatus::Timeout, query.timeout);
                }
                let subnet = self.own.get(&uid).unwrap_or(&self.subnet);
                let env = subnet.call(query.seed, self.metagraph.clone()).with_timeout(budget);
                match module.handle(&env, &query.request.to_wit()).await {
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
