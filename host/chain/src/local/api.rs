//! The [`Chain`] interface of the local chain: each call is the sync form of the same name.

use async_trait::async_trait;
use tokio::sync::watch;

use super::LocalChain;
use crate::{
    AccountId, AxonInfo, BlockNumber, Chain, ChainError, EpochSchedule, ExtrinsicOutcome, Hyperparams, MechId,
    Metagraph, NetUid, TimelockedCommit, Uid,
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

    async fn mechanism_metagraph(&self, netuid: NetUid, mecid: MechId) -> Result<Metagraph, ChainError> {
        self.mechanism_metagraph_now(netuid, mecid)
    }

    async fn epoch_schedule(&self, netuid: NetUid) -> Result<EpochSchedule, ChainError> {
        self.epoch_schedule_now(netuid)
    }

    async fn set_weights(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        uids: &[Uid],
        weights: &[u16],
        version_key: u64,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.set_mechanism_weights_now(signer, netuid, mecid, uids, weights, version_key)
    }

    async fn commit_weights(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        hash: [u8; 32],
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.commit_mechanism_weights_now(signer, netuid, mecid, hash)
    }

    async fn reveal_weights(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        uids: &[Uid],
        values: &[u16],
        salt: &[u16],
        version_key: u64,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.reveal_mechanism_weights_now(signer, netuid, mecid, uids, values, salt, version_key)
    }

    async fn commit_timelocked_weights(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        commit: &[u8],
        reveal_round: u64,
        commit_reveal_version: u16,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.commit_timelocked_weights_now(signer, netuid, mecid, commit, reveal_round, commit_reveal_version)
    }

    async fn drand_beacon(&self) -> Result<Option<subnet_drand::BeaconInfo>, ChainError> {
        Ok(Some(self.beacon()))
    }

    async fn timelocked_commits(
        &self,
        netuid: NetUid,
        mecid: MechId,
        who: &AccountId,
    ) -> Result<Vec<TimelockedCommit>, ChainError> {
        let inner = self.lock();
        inner.state.subnet(netuid)?.ensure_mechanism(mecid)?;
        drop(inner);
        Ok(self.timelocked_commits_now(netuid, mecid, who))
    }

    async fn weights_row(&self, netuid: NetUid, mecid: MechId, uid: Uid) -> Result<Vec<(Uid, u16)>, ChainError> {
        let inner = self.lock();
        inner.state.subnet(netuid)?.ensure_mechanism(mecid)?;
        drop(inner);
        Ok(self.mechanism_weights(netuid, mecid, uid))
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
