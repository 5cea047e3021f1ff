//! The [`Chain`] interface of the local chain: each call is the sync form of the same name.

use async_trait::async_trait;
use tokio::sync::watch;

use super::LocalChain;
use crate::{
    AccountId, AxonInfo, BlockNumber, Chain, ChainError, ExtrinsicOutcome, Hyperparams, Metagraph, NetUid, Uid,
};

#[async_trait]
impl Chain for LocalChain {
    async fn current_block(&self) -> Result<BlockNumber, ChainError> {
        Ok(self.block())
    }

    fn subscribe_blocks(&self) -> watch::Receiver<BlockNumber> {
        self.blocks.subscribe()
    }

    async fn subnets(&self) -> Result<Vec<NetUid>, ChainError> {
        Ok(self.lock().state.subnets.keys().copied().collect())
    }

    async fn metagraph(&self, netuid: NetUid) -> Result<Metagraph, ChainError> {
        self.metagraph_now(netuid)
    }

    async fn hyperparams(&self, netuid: NetUid) -> Result<Hyperparams, ChainError> {
        self.hyperparams_now(netuid)
    }

    async fn set_weights(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        uids: &[Uid],
        weights: &[u16],
        version_key: u64,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.set_weights_now(signer, netuid, uids, weights, version_key)
    }

    async fn commit_weights(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        hash: [u8; 32],
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.commit_weights_now(signer, netuid, hash)
    }

    async fn reveal_weights(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        uids: &[Uid],
        values: &[u16],
        salt: &[u16],
        version_key: u64,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.reveal_weights_now(signer, netuid, uids, values, salt, version_key)
    }

    async fn serve_axon(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        axon: AxonInfo,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.serve_axon_now(signer, netuid, axon)
    }

    async fn register(
        &self,
        hotkey: &AccountId,
        coldkey: &AccountId,
        netuid: NetUid,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.register_now(hotkey, coldkey, netuid)
    }
}
