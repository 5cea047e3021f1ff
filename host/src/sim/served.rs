//! Simulated miners as real HTTP servers on loopback, for `subnetd sandbox --network` and the
//! daemon's local miners: each [`SimMiner`] gets its own [`spawn_miner_server_with`] (so every query goes through
//! the subnet's wire protocol (btauth, the Axon's Synapse rules or Epistula), the registration
//! check, the body limits and the priority gate), and its axon is announced on the chain so
//! validators find it in the metagraph.
//!
//! Behaviours match [`super::InProcessMiners`] where the network allows:
//! - `Module`: the module answers with the task's time left (a guest error is a `422` refusal,
//!   a timeout a `504`, any other failure a `500`);
//! - `Lazy`: holds every request past its deadline, so the validator sees a timeout;
//! - `Random`: noise of the task's content type (a JSON number, else random bytes), seeded per
//!   request from the caller and its nonce.
//!
//! Latencies are real, so unlike the in-process transport two runs are not byte-identical.

use std::sync::Arc;

use async_trait::async_trait;
use subnet_chain::{AxonInfo, Chain, NetUid};
use subnet_keys::Keypair;

use crate::net::WireProtocol;

use super::SimMiner;
use crate::bindings::types::{MinerRequest, Payload};
use crate::net::{
    HandlerContext, HandlerError, MinerServerConfig, MinerServerError, MinerServerHandle, ModuleHandler, TaskHandler,
    spawn_miner_server_with,
};
use crate::runtime::SubnetEnv;

/// A [`TaskHandler`] that behaves as a [`SimMiner`].
pub struct SimMinerHandler {
    miner: SimMiner,
    subnet: Arc<SubnetEnv>,
}

impl SimMinerHandler {
    /// Module calls run as `subnet`'s (label, store, compute); the seed, the metagraph and the
    /// time limit are set per request.
    pub fn new(miner: SimMiner, subnet: Arc<SubnetEnv>) -> Self {
        Self { miner, subnet }
    }
}

#[async_trait]
impl TaskHandler for SimMinerHandler {
    async fn handle(&self, request: MinerRequest, ctx: HandlerContext) -> Result<Payload, HandlerError> {
        match &self.miner {
            SimMiner::Lazy => {
                // Past the caller's deadline: the server answers 504 only after the validator
                // has given up, so the validator records a timeout.
                tokio::time::sleep(ctx.timeout + std::time::Duration::from_millis(500)).await;
                Err(HandlerError::Timeout)
            }
            SimMiner::Random => Ok(super::noise(&request.payload.content_type, ctx.seed)),
            SimMiner::Module(module) => {
                ModuleHandler::new(module.clone(), self.subnet.clone()).handle(request, ctx).await
            }
        }
    }
}

/// Serves each `(hotkey, miner)` on its own loopback port and announces it with `serve_axon`
/// (the chain must accept loopback axons, as the sandbox's `LocalChain` does with
/// `allow_loopback_axons`). Returns the handles in the given order; dropping one stops it.
pub async fn serve_sim_miners(
    chain: Arc<dyn Chain>,
    netuid: NetUid,
    miners: Vec<(Keypair, SimMiner)>,
    subnet: Arc<SubnetEnv>,
    protocol: &WireProtocol,
) -> Result<Vec<MinerServerHandle>, MinerServerError> {
    let mut handles = Vec::with_capacity(miners.len());
    for (key, miner) in miners {
        let hotkey = key.account_id();
        let handler = Arc::new(SimMinerHandler::new(miner, subnet.clone()));
        let mut config = MinerServerConfig::new(netuid, hotkey);
        config.protocol = protocol.clone();
        config.signing_key = Some(key);
        let handle = spawn_miner_server_with(config, handler, chain.clone()).await?;
        chain
            .serve_axon(&hotkey, netuid, AxonInfo::from_socket_addr(handle.local_addr(), 1, 4))
            .await
            .map_err(|source| MinerServerError::Chain { netuid, source })?;
        handles.push(handle);
    }
    Ok(handles)
}
