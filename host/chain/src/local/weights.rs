//! Weights: `set_weights`, commit-reveal v2 (`commit_weights` / `reveal_weights`) and the
//! timelocked (v4) commit, per mechanism, as
//! `subnets/weights.rs` and the dispatch extensions `guards/check_weights.rs` and
//! `guards/check_rate_limits.rs` apply them.
//!
//! Invariant: the checks run in the runtime's order (extensions first, then the dispatchable)
//! and return its error names; a rejected call changes nothing (it runs inside a transaction).

use super::state::{Commit, State, TimelockedEntry};
use super::{LocalChain, MAX_TIMELOCKED_COMMIT_BYTES, MAX_UNREVEALED_COMMITS, err};
use crate::{
    AccountId, ChainError, ChainEvent, ExtrinsicOutcome, MechId, NetUid, SubtensorError as E, TimelockedCommit, Uid,
    blake2_256, check_max_weight_limited, commit_hash, max_upscale_u16, netuid_index,
};

impl State {
    /// `CheckWeights::check_min_stake` (dispatch extension). The threshold of an unknown
    /// subnet is unknown here; the call then fails in the dispatchable.
    pub(super) fn ext_min_stake(&self, who: &AccountId, netuid: NetUid) -> Result<(), ChainError> {
        match self.subnets.get(&netuid) {
            Some(sn) if !sn.has_min_stake(who) => Err(err(E::NotEnoughStakeToSetWeights)),
            _ => Ok(()),
        }
    }

    /// `CheckRateLimits` for weight calls of a registered hotkey (dispatch extension). As in
    /// the pallet, a mechanism that does not exist never passes.
    pub(super) fn ext_rate_limit(
        &self,
        who: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        e: E,
    ) -> Result<(), ChainError> {
        if let Some(sn) = self.subnets.get(&netuid)
            && let Some(uid) = sn.uid_of(who)
            && (mecid >= sn.mechanism_count() || !sn.passes_rate_limit(uid, mecid, self.global.block))
        {
            return Err(err(e));
        }
        Ok(())
    }

    /// The `set_weights` / `set_mechanism_weights` extrinsic: dispatch extensions, then the
    /// dispatchable.
    pub(super) fn set_weights_extrinsic(
        &mut self,
        who: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        uids: &[Uid],
        values: &[u16],
        version_key: u64,
    ) -> Result<ChainEvent, ChainError> {
        self.ext_min_stake(who, netuid)?;
        if !self.commit_reveal_enabled(netuid) {
            self.ext_rate_limit(who, netuid, mecid, E::SettingWeightsTooFast)?;
        }
        if self.commit_reveal_enabled(netuid) {
            return Err(err(E::CommitRevealEnabled));
        }
        self.set_weights(who, netuid, mecid, uids, values, version_key)
    }

    /// `internal_set_weights`, checks in the pallet's order; reveals (v2 and timelocked) come
    /// here too.
    pub(super) fn set_weights(
        &mut self,
        who: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        uids: &[Uid],
        values: &[u16],
        version_key: u64,
    ) -> Result<ChainEvent, ChainError> {
        let block = self.global.block;
        if netuid == 0 {
            return Err(err(E::CanNotSetRootNetworkWeights));
        }
        if uids.len() != values.len() {
            return Err(err(E::WeightVecNotEqualSize));
        }
        let sn = self.subnets.get(&netuid).ok_or_else(|| err(E::MechanismDoesNotExist))?;
        sn.ensure_mechanism(mecid)?;
        let n = sn.n();
        if uids.len() > n {
            return Err(err(E::UidsLengthExceedUidsInSubNet));
        }
        let uid = sn.uid_of(who).ok_or_else(|| err(E::HotKeyNotRegisteredInSubNet))?;
        if !sn.has_min_stake(who) {
            return Err(err(E::NotEnoughStakeToSetWeights));
        }
        let vk = sn.meta.hyper.weights_version_key;
        if !(vk == 0 || version_key >= vk) {
            return Err(err(E::IncorrectWeightVersionKey));
        }
        let cr = sn.meta.hyper.commit_reveal_enabled;
        if !cr && !sn.passes_rate_limit(uid, mecid, block) {
            return Err(err(E::SettingWeightsTooFast));
        }
        let self_weight = values.len() == 1 && uids.first() == Some(&uid);
        let permitted = self_weight || sn.owner_uid() == Some(uid) || sn.neurons[usize::from(uid)].validator_permit;
        if !permitted {
            return Err(err(E::NeuronNoValidatorPermit));
        }
        // `has_duplicate_uids` looks at the whole list, invalid uids included.
        let mut sorted = uids.to_vec();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(err(E::DuplicateUids));
        }
        if uids.iter().any(|&u| usize::from(u) >= n) {
            return Err(err(E::UidVecContainInvalidOne));
        }
        let min_allowed = usize::from(sn.meta.hyper.min_allowed_weights).min(n);
        if !self_weight && values.len() < min_allowed {
            return Err(err(E::WeightVecLengthIsLow));
        }
        let upscaled = max_upscale_u16(values);
        if !self_weight
            && sn.meta.hyper.max_weight_limit != u16::MAX
            && !check_max_weight_limited(&upscaled, sn.meta.hyper.max_weight_limit)
        {
            return Err(err(E::MaxWeightExceeded));
        }
        let sn = self.subnet_mut(netuid)?;
        let row = sn.neurons[usize::from(uid)].mech_mut(mecid);
        row.weights = uids.iter().copied().zip(upscaled).collect();
        if !cr {
            row.last_update = block;
        }
        Ok(ChainEvent::WeightsSet { netuid: netuid_index(netuid, mecid), uid })
    }

    /// The `commit_weights` / `commit_mechanism_weights` extrinsic.
    pub(super) fn commit_weights(
        &mut self,
        who: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        hash: [u8; 32],
    ) -> Result<Vec<ChainEvent>, ChainError> {
        self.ext_min_stake(who, netuid)?;
        self.ext_rate_limit(who, netuid, mecid, E::CommittingWeightsTooFast)?;
        let block = self.global.block;
        let sn = self.subnets.get(&netuid).ok_or_else(|| err(E::MechanismDoesNotExist))?;
        sn.ensure_mechanism(mecid)?;
        if !sn.meta.hyper.commit_reveal_enabled {
            return Err(err(E::CommitRevealDisabled));
        }
        let uid = sn.uid_of(who).ok_or_else(|| err(E::HotKeyNotRegisteredInSubNet))?;
        if !sn.passes_rate_limit(uid, mecid, block) {
            return Err(err(E::CommittingWeightsTooFast));
        }
        let commit_epoch = self.current_epoch(sn);
        let mut queue = sn.commit_queue(mecid, who).cloned().unwrap_or_default();
        let live_from = queue.iter().position(|c| !self.commit_expired(sn, c.epoch));
        queue.drain(..live_from.unwrap_or(queue.len()));
        if queue.len() >= MAX_UNREVEALED_COMMITS {
            return Err(err(E::TooManyUnrevealedCommits));
        }
        queue.push(Commit { hash, epoch: commit_epoch, block });
        let sn = self.subnet_mut(netuid)?;
        sn.set_commit_queue(mecid, who, queue);
        sn.neurons[usize::from(uid)].mech_mut(mecid).last_update = block;
        Ok(vec![ChainEvent::WeightsCommitted { who: *who, netuid: netuid_index(netuid, mecid), hash }])
    }

    /// The `reveal_weights` / `reveal_mechanism_weights` extrinsic.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn reveal_weights(
        &mut self,
        who: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        uids: &[Uid],
        values: &[u16],
        salt: &[u16],
        version_key: u64,
    ) -> Result<Vec<ChainEvent>, ChainError> {
        self.ext_min_stake(who, netuid)?;
        let index = netuid_index(netuid, mecid);
        let provided = commit_hash(who, index, uids, values, salt, version_key);
        // `CheckWeights::check_reveal`: the hash must be in the stored queue (expired entries
        // included) and its reveal window open.
        let sn = self.subnets.get(&netuid);
        let queue = sn.and_then(|s| s.commit_queue(mecid, who)).ok_or_else(|| err(E::NoWeightsCommitFound))?;
        let found = queue.iter().find(|c| c.hash == provided).ok_or_else(|| err(E::NoWeightsCommitFound))?;
        let sn = sn.ok_or_else(|| err(E::NoWeightsCommitFound))?;
        if !self.in_reveal_window(sn, found.epoch) {
            return Err(err(E::RevealTooEarly));
        }

        // The dispatchable (`internal_reveal_weights`).
        if !sn.meta.hyper.commit_reveal_enabled {
            return Err(err(E::CommitRevealDisabled));
        }
        let mut queue = queue.clone();
        let live_from = queue.iter().position(|c| !self.commit_expired(sn, c.epoch));
        let expired: Vec<[u8; 32]> = queue.drain(..live_from.unwrap_or(queue.len())).map(|c| c.hash).collect();
        if queue.is_empty() {
            return Err(err(if expired.contains(&provided) {
                E::ExpiredWeightCommit
            } else {
                E::NoWeightsCommitFound
            }));
        }
        let Some(pos) = queue.iter().position(|c| c.hash == provided) else {
            return Err(err(if expired.contains(&provided) {
                E::ExpiredWeightCommit
            } else {
                E::InvalidRevealCommitHashNotMatch
            }));
        };
        if !self.in_reveal_window(sn, queue[pos].epoch) {
            return Err(err(E::RevealTooEarly));
        }
        queue.drain(..=pos);
        self.subnet_mut(netuid)?.set_commit_queue(mecid, who, queue);
        let set = self.set_weights(who, netuid, mecid, uids, values, version_key)?;
        Ok(vec![set, ChainEvent::WeightsRevealed { who: *who, netuid: index, hash: provided }])
    }

    /// The `commit_timelocked_mechanism_weights` extrinsic: `CheckWeights` (stake threshold,
    /// then `InvalidRevealRound` when `reveal_round` is below drand's `LastStoredRound`), then
    /// `internal_commit_timelocked_weights`. The commit is stored under the epoch it belongs
    /// to and revealed by the block step (`reveal`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn commit_timelocked(
        &mut self,
        who: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        commit: &[u8],
        reveal_round: u64,
        version: u16,
    ) -> Result<Vec<ChainEvent>, ChainError> {
        self.ext_min_stake(who, netuid)?;
        if reveal_round < self.last_stored_round() {
            return Err(err(E::InvalidRevealRound));
        }
        if commit.len() > MAX_TIMELOCKED_COMMIT_BYTES {
            // The call's `BoundedVec<u8, 5000>` does not decode.
            return Err(ChainError::InvalidInput(format!(
                "timelocked commit of {} bytes exceeds {MAX_TIMELOCKED_COMMIT_BYTES}",
                commit.len()
            )));
        }
        let block = self.global.block;
        let sn = self.subnets.get(&netuid).ok_or_else(|| err(E::MechanismDoesNotExist))?;
        sn.ensure_mechanism(mecid)?;
        if !sn.meta.hyper.commit_reveal_enabled {
            return Err(err(E::CommitRevealDisabled));
        }
        if version != sn.meta.hyper.commit_reveal_version {
            return Err(err(E::IncorrectCommitRevealVersion));
        }
        let uid = sn.uid_of(who).ok_or_else(|| err(E::HotKeyNotRegisteredInSubNet))?;
        if !sn.passes_rate_limit(uid, mecid, block) {
            return Err(err(E::CommittingWeightsTooFast));
        }
        let epoch = self.current_epoch(sn);
        let queue = sn.meta.timelocked.get(&(mecid, epoch));
        if queue.map_or(0, |q| q.iter().filter(|e| &e.who == who).count()) >= MAX_UNREVEALED_COMMITS {
            return Err(err(E::TooManyUnrevealedCommits));
        }
        let sn = self.subnet_mut(netuid)?;
        sn.meta.timelocked.entry((mecid, epoch)).or_default().push(TimelockedEntry {
            who: *who,
            commit_block: block,
            commit: commit.to_vec(),
            reveal_round,
        });
        sn.neurons[usize::from(uid)].mech_mut(mecid).last_update = block;
        Ok(vec![ChainEvent::TimelockedWeightsCommitted {
            who: *who,
            netuid_index: netuid_index(netuid, mecid),
            commit_hash: blake2_256(commit),
            reveal_round,
        }])
    }
}

impl LocalChain {
    /// Stored weights row of a uid in mechanism 0 (`Weights[netuid][uid]`); see
    /// [`LocalChain::mechanism_weights`].
    pub fn weights(&self, netuid: NetUid, uid: Uid) -> Vec<(u16, u16)> {
        self.mechanism_weights(netuid, 0, uid)
    }

    /// Stored bonds row of a uid in mechanism 0 (`Bonds[netuid][uid]`).
    pub fn bonds(&self, netuid: NetUid, uid: Uid) -> Vec<(u16, u16)> {
        self.mechanism_bonds(netuid, 0, uid)
    }

    /// Number of unrevealed v2 commits of a hotkey in mechanism 0 (expired ones included until
    /// a commit or reveal of that hotkey drops them, as in the pallet).
    pub fn pending_commits(&self, netuid: NetUid, hotkey: &AccountId) -> usize {
        self.lock().state.subnets.get(&netuid).and_then(|s| s.commit_queue(0, hotkey)).map_or(0, Vec::len)
    }

    /// Timelocked commits of `who` still stored for a mechanism, oldest epoch first.
    pub fn timelocked_commits_now(&self, netuid: NetUid, mecid: MechId, who: &AccountId) -> Vec<TimelockedCommit> {
        let inner = self.lock();
        let Some(sn) = inner.state.subnets.get(&netuid) else { return Vec::new() };
        sn.meta
            .timelocked
            .iter()
            .filter(|((m, _), _)| *m == mecid)
            .flat_map(|((_, epoch), q)| {
                q.iter().filter(|e| &e.who == who).map(|e| TimelockedCommit {
                    epoch: *epoch,
                    commit_block: e.commit_block,
                    reveal_round: e.reveal_round,
                })
            })
            .collect()
    }

    /// Sync form of [`Chain::set_weights`](crate::Chain::set_weights) for mechanism 0.
    pub fn set_weights_now(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        uids: &[Uid],
        weights: &[u16],
        version_key: u64,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.set_mechanism_weights_now(signer, netuid, 0, uids, weights, version_key)
    }

    /// Sync form of [`Chain::set_weights`](crate::Chain::set_weights) (`set_mechanism_weights`).
    pub fn set_mechanism_weights_now(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        uids: &[Uid],
        weights: &[u16],
        version_key: u64,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.extrinsic(|st| {
            st.set_weights_extrinsic(signer, netuid, mecid, uids, weights, version_key).map(|e| vec![e])
        })
    }

    /// Sync form of [`Chain::commit_weights`](crate::Chain::commit_weights) for mechanism 0.
    pub fn commit_weights_now(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        hash: [u8; 32],
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.commit_mechanism_weights_now(signer, netuid, 0, hash)
    }

    /// Sync form of [`Chain::commit_weights`](crate::Chain::commit_weights) (`commit_mechanism_weights`).
    pub fn commit_mechanism_weights_now(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        hash: [u8; 32],
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.extrinsic(|st| st.commit_weights(signer, netuid, mecid, hash))
    }

    /// Sync form of [`Chain::reveal_weights`](crate::Chain::reveal_weights) for mechanism 0.
    pub fn reveal_weights_now(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        uids: &[Uid],
        values: &[u16],
        salt: &[u16],
        version_key: u64,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.reveal_mechanism_weights_now(signer, netuid, 0, uids, values, salt, version_key)
    }

    /// Sync form of [`Chain::reveal_weights`](crate::Chain::reveal_weights) (`reveal_mechanism_weights`).
    #[allow(clippy::too_many_arguments)]
    pub fn reveal_mechanism_weights_now(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        uids: &[Uid],
        values: &[u16],
        salt: &[u16],
        version_key: u64,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.extrinsic(|st| st.reveal_weights(signer, netuid, mecid, uids, values, salt, version_key))
    }

    /// Sync form of [`Chain::commit_timelocked_weights`](crate::Chain::commit_timelocked_weights).
    #[allow(clippy::too_many_arguments)]
    pub fn commit_timelocked_weights_now(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        commit: &[u8],
        reveal_round: u64,
        commit_reveal_version: u16,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        self.extrinsic(|st| st.commit_timelocked(signer, netuid, mecid, commit, reveal_round, commit_reveal_version))
    }
}
