//! The local chain's state: the records subtensor keeps per subnet and neuron, the epoch clock,
//! and the lookups every extrinsic shares.
//!
//! Invariant: `State` is a value. Extrinsics and blocks run on a clone (subnets are shared
//! `Arc`s copied on first write), so a failed call leaves the committed state untouched.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::coinbase::PendingEmission;
use super::{LocalChainConfig, MAX_TEMPO, err};
use crate::{
    AccountId, AxonInfo, BlockNumber, ChainError, Hyperparams, Metagraph, NetUid, NeuronInfo, SubtensorError as E, Uid,
};

/// Serialises maps with non-string keys as sequences of pairs (JSON maps need string keys).
mod map_vec {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(m: &BTreeMap<K, V>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter())
    }

    pub fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Neuron {
    pub(super) hotkey: AccountId,
    pub(super) block_at_registration: BlockNumber,
    pub(super) last_update: BlockNumber,
    pub(super) axon: Option<AxonInfo>,
    pub(super) weights: Vec<(u16, u16)>,
    pub(super) bonds: Vec<(u16, u16)>,
    pub(super) validator_permit: bool,
    pub(super) active: bool,
    pub(super) consensus: u16,
    pub(super) incentive: u16,
    pub(super) dividends: u16,
    pub(super) validator_trust: u16,
    pub(super) emission: u64,
}

impl Neuron {
    pub(super) fn new(hotkey: AccountId, block: BlockNumber) -> Self {
        Self {
            hotkey,
            block_at_registration: block,
            last_update: block,
            axon: None,
            weights: Vec::new(),
            bonds: Vec::new(),
            validator_permit: false,
            active: true,
            consensus: 0,
            incentive: 0,
            dividends: 0,
            validator_trust: 0,
            emission: 0,
        }
    }
}

/// A v2 weights commit: `(hash, commit_epoch, commit_block)` as `WeightCommits` stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Commit {
    pub(super) hash: [u8; 32],
    pub(super) epoch: u64,
    pub(super) block: BlockNumber,
}

/// A subnet's records other than its neurons (stored as one record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct SubnetMeta {
    pub(super) netuid: NetUid,
    pub(super) owner_coldkey: AccountId,
    pub(super) owner_hotkey: Option<AccountId>,
    pub(super) hyper: Hyperparams,
    #[serde(with = "map_vec")]
    pub(super) stake: BTreeMap<AccountId, u64>,
    #[serde(with = "map_vec")]
    pub(super) commits: BTreeMap<AccountId, Vec<Commit>>,
    /// Block of the last epoch that ran (`LastMechansimStepBlock`; 0 = none), fed to Yuma.
    pub(super) last_mechanism_step_block: BlockNumber,
    /// Owner cut withheld because the subnet has no owner hotkey, rao.
    pub(super) owner_coldkey_emission: u64,
    /// Miner incentive of the owner's hotkeys, burned as the pallet does, rao.
    pub(super) burned: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Subnet {
    pub(super) meta: SubnetMeta,
    pub(super) neurons: Vec<Neuron>,
}

/// What changes every block for a subnet: pending emission and the epoch schedule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Clock {
    pub(super) pending: PendingEmission,
    /// `LastEpochBlock`: anchor of the schedule.
    pub(super) last_epoch_block: BlockNumber,
    /// `BlocksSinceLastStep`.
    pub(super) blocks_since_last_step: u64,
    /// `SubnetEpochIndex`.
    pub(super) epoch_index: u64,
    /// `PendingEpochAt` (0 = none): an epoch deferred by the per-block cap.
    pub(super) pending_epoch_at: BlockNumber,
}

impl Clock {
    /// `should_run_epoch`.
    pub(super) fn should_run_epoch(&self, tempo: u16, block: BlockNumber) -> bool {
        if tempo == 0 {
            return false;
        }
        if self.pending_epoch_at > 0 && block >= self.pending_epoch_at {
            return true;
        }
        if self.blocks_since_last_step > u64::from(MAX_TEMPO) {
            return true;
        }
        block.saturating_sub(self.last_epoch_block) >= u64::from(tempo)
    }

    /// `current_epoch_with_lookahead`.
    pub(super) fn epoch_with_lookahead(&self, tempo: u16, block: BlockNumber) -> u64 {
        self.epoch_index + u64::from(self.should_run_epoch(tempo, block))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Global {
    pub(super) format: u32,
    pub(super) block: BlockNumber,
    pub(super) config: LocalChainConfig,
}

pub(super) const FORMAT: u32 = 2;

pub(super) type Owners = BTreeMap<AccountId, AccountId>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct State {
    pub(super) global: Global,
    /// Hotkey -> owning coldkey (`Owner`).
    pub(super) owners: Arc<Owners>,
    pub(super) subnets: BTreeMap<NetUid, Arc<Subnet>>,
    pub(super) clocks: BTreeMap<NetUid, Clock>,
}

impl Subnet {
    pub(super) fn uid_of(&self, hotkey: &AccountId) -> Option<Uid> {
        self.neurons.iter().position(|n| &n.hotkey == hotkey).map(|u| u as Uid)
    }

    pub(super) fn n(&self) -> usize {
        self.neurons.len()
    }

    pub(super) fn stake_of(&self, hotkey: &AccountId) -> u64 {
        self.meta.stake.get(hotkey).copied().unwrap_or(0)
    }

    pub(super) fn owner_uid(&self) -> Option<Uid> {
        self.meta.owner_hotkey.as_ref().and_then(|h| self.uid_of(h))
    }

    pub(super) fn is_immune(&self, uid: usize, block: BlockNumber) -> bool {
        self.neurons
            .get(uid)
            .is_some_and(|n| block.saturating_sub(n.block_at_registration) < u64::from(self.meta.hyper.immunity_period))
    }

    /// `check_weights_min_stake`: the owner hotkey is exempt.
    pub(super) fn has_min_stake(&self, who: &AccountId) -> bool {
        if self.owner_uid().is_some() && self.meta.owner_hotkey.as_ref() == Some(who) {
            return true;
        }
        self.stake_of(who) >= self.meta.hyper.stake_threshold
    }

    /// `check_rate_limit` for a registered uid.
    pub(super) fn passes_rate_limit(&self, uid: Uid, block: BlockNumber) -> bool {
        let last = self.neurons[usize::from(uid)].last_update;
        last == 0 || block.saturating_sub(last) >= self.meta.hyper.weights_rate_limit
    }
}

impl State {
    pub(super) fn fresh(config: LocalChainConfig) -> Self {
        Self {
            global: Global { format: FORMAT, block: 0, config },
            owners: Arc::new(BTreeMap::new()),
            subnets: BTreeMap::new(),
            clocks: BTreeMap::new(),
        }
    }

    pub(super) fn subnet(&self, netuid: NetUid) -> Result<&Subnet, ChainError> {
        self.subnets.get(&netuid).map(|s| &**s).ok_or_else(|| err(E::SubnetNotExists))
    }

    /// Copy-on-write access: copies the subnet if the committed state still shares it.
    pub(super) fn subnet_mut(&mut self, netuid: NetUid) -> Result<&mut Subnet, ChainError> {
        self.subnets.get_mut(&netuid).map(Arc::make_mut).ok_or_else(|| err(E::SubnetNotExists))
    }

    pub(super) fn clock(&self, netuid: NetUid) -> Clock {
        self.clocks.get(&netuid).copied().unwrap_or_default()
    }

    /// `get_commit_reveal_weights_enabled`: the storage default (true) for an unknown netuid;
    /// the root netuid is taken to have it off (see the module docs).
    pub(super) fn commit_reveal_enabled(&self, netuid: NetUid) -> bool {
        match self.subnets.get(&netuid) {
            Some(s) => s.meta.hyper.commit_reveal_enabled,
            None => netuid != 0,
        }
    }

    /// Epoch index a commit or reveal in the current block belongs to.
    pub(super) fn current_epoch(&self, sn: &Subnet) -> u64 {
        self.clock(sn.meta.netuid).epoch_with_lookahead(sn.meta.hyper.tempo, self.global.block)
    }

    pub(super) fn commit_expired(&self, sn: &Subnet, commit_epoch: u64) -> bool {
        self.current_epoch(sn) > commit_epoch.saturating_add(sn.meta.hyper.commit_reveal_period)
    }

    pub(super) fn in_reveal_window(&self, sn: &Subnet, commit_epoch: u64) -> bool {
        self.current_epoch(sn) == commit_epoch.saturating_add(sn.meta.hyper.commit_reveal_period)
    }

    pub(super) fn metagraph(&self, netuid: NetUid) -> Result<Metagraph, ChainError> {
        let sn = self.subnet(netuid)?;
        let neurons = sn
            .neurons
            .iter()
            .enumerate()
            .map(|(uid, n)| NeuronInfo {
                uid: uid as Uid,
                hotkey: n.hotkey,
                coldkey: self.owners.get(&n.hotkey).copied().unwrap_or(n.hotkey),
                stake: sn.stake_of(&n.hotkey),
                validator_permit: n.validator_permit,
                axon: n.axon,
                block_at_registration: n.block_at_registration,
                last_update: n.last_update,
                consensus: n.consensus,
                incentive: n.incentive,
                dividends: n.dividends,
                validator_trust: n.validator_trust,
                emission: n.emission,
                active: n.active,
            })
            .collect();
        Ok(Metagraph {
            netuid,
            block: self.global.block,
            owner_coldkey: sn.meta.owner_coldkey,
            owner_hotkey: sn.meta.owner_hotkey,
            neurons,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_fires_every_tempo_blocks_with_the_stagger() {
        let mut c = Clock { last_epoch_block: 0, ..Clock::default() };
        assert!(!c.should_run_epoch(10, 9));
        assert!(c.should_run_epoch(10, 10));
        assert!(!c.should_run_epoch(0, 1_000));
        c.pending_epoch_at = 5;
        assert!(c.should_run_epoch(10, 5));
        c.pending_epoch_at = 0;
        c.blocks_since_last_step = u64::from(MAX_TEMPO) + 1;
        assert!(c.should_run_epoch(60_000, 1));
        assert_eq!(c.epoch_with_lookahead(60_000, 1), 1);
    }
}
