//! The local chain's state: the records subtensor keeps per subnet and neuron, the epoch clock,
//! and the lookups every extrinsic shares.
//!
//! Invariant: `State` is a value. Extrinsics and blocks run on a clone (subnets are shared
//! `Arc`s copied on first write), so a failed call leaves the committed state untouched.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::coinbase::PendingEmission;
use super::{LocalChainConfig, err};
use crate::epoch::{self, EpochSchedule};
use crate::{
    AccountId, AxonInfo, BlockNumber, ChainError, Hyperparams, MechId, Metagraph, NetUid, NeuronInfo,
    SubtensorError as E, Uid,
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

/// What the pallet keeps per neuron and mechanism (`Weights`, `Bonds`, `LastUpdate`,
/// `Incentive`, keyed by `netuid_index = mecid * 4096 + netuid`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct MechRow {
    pub(super) weights: Vec<(u16, u16)>,
    pub(super) bonds: Vec<(u16, u16)>,
    pub(super) last_update: BlockNumber,
    pub(super) incentive: u16,
}

impl MechRow {
    fn registered(block: BlockNumber) -> Self {
        Self { last_update: block, ..Self::default() }
    }
}

/// A neuron. Mechanism 0's records are stored flat (the pallet's `netuid_index` of mechanism 0
/// is the netuid itself), so databases from before mechanisms read unchanged; mechanisms
/// `1..` follow in `mechanisms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Neuron {
    pub(super) hotkey: AccountId,
    pub(super) block_at_registration: BlockNumber,
    pub(super) axon: Option<AxonInfo>,
    pub(super) validator_permit: bool,
    pub(super) active: bool,
    pub(super) consensus: u16,
    pub(super) dividends: u16,
    pub(super) validator_trust: u16,
    pub(super) emission: u64,
    #[serde(flatten)]
    pub(super) main: MechRow,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) mechanisms: Vec<MechRow>,
}

impl Neuron {
    /// A neuron registered at `block` on a subnet of `mechanisms` mechanisms (`append_neuron`:
    /// `LastUpdate` is the registration block in every mechanism).
    pub(super) fn new(hotkey: AccountId, block: BlockNumber, mechanisms: MechId) -> Self {
        Self {
            hotkey,
            block_at_registration: block,
            axon: None,
            validator_permit: false,
            active: true,
            consensus: 0,
            dividends: 0,
            validator_trust: 0,
            emission: 0,
            main: MechRow::registered(block),
            mechanisms: (1..mechanisms.max(1)).map(|_| MechRow::registered(block)).collect(),
        }
    }

    /// The records of mechanism `mecid`; a mechanism added after this neuron registered has
    /// the storage defaults (no weights, `LastUpdate` 0).
    pub(super) fn mech(&self, mecid: MechId) -> MechRow {
        match mecid {
            0 => self.main.clone(),
            m => self.mechanisms.get(usize::from(m) - 1).cloned().unwrap_or_default(),
        }
    }

    pub(super) fn mech_ref(&self, mecid: MechId) -> Option<&MechRow> {
        match mecid {
            0 => Some(&self.main),
            m => self.mechanisms.get(usize::from(m) - 1),
        }
    }

    pub(super) fn mech_mut(&mut self, mecid: MechId) -> &mut MechRow {
        match mecid {
            0 => &mut self.main,
            m => {
                let i = usize::from(m) - 1;
                if self.mechanisms.len() <= i {
                    self.mechanisms.resize(i + 1, MechRow::default());
                }
                &mut self.mechanisms[i]
            }
        }
    }

    pub(super) fn last_update(&self, mecid: MechId) -> BlockNumber {
        self.mech_ref(mecid).map_or(0, |r| r.last_update)
    }
}

/// A v2 weights commit: `(hash, commit_epoch, commit_block)` as `WeightCommits` stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Commit {
    pub(super) hash: [u8; 32],
    pub(super) epoch: u64,
    pub(super) block: BlockNumber,
}

/// A timelocked (v4) commit: `(who, commit_block, commit, reveal_round)` as
/// `TimelockedWeightCommits` stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct TimelockedEntry {
    pub(super) who: AccountId,
    pub(super) commit_block: BlockNumber,
    pub(super) commit: Vec<u8>,
    pub(super) reveal_round: u64,
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
    /// v2 commits of mechanism 0 (`WeightCommits[netuid]`).
    #[serde(with = "map_vec")]
    pub(super) commits: BTreeMap<AccountId, Vec<Commit>>,
    /// v2 commits of mechanisms `1..` (`WeightCommits[netuid_index]`).
    #[serde(default, with = "map_vec", skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) mechanism_commits: BTreeMap<(MechId, AccountId), Vec<Commit>>,
    /// Timelocked commits (`TimelockedWeightCommits[netuid_index][epoch]`), oldest first.
    #[serde(default, with = "map_vec", skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) timelocked: BTreeMap<(MechId, u64), Vec<TimelockedEntry>>,
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
    /// `should_run_epoch` ([`crate::epoch::should_run_epoch`]).
    pub(super) fn should_run_epoch(&self, tempo: u16, block: BlockNumber) -> bool {
        epoch::should_run_epoch(tempo, self.last_epoch_block, self.pending_epoch_at, self.blocks_since_last_step, block)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Global {
    pub(super) format: u32,
    pub(super) block: BlockNumber,
    pub(super) config: LocalChainConfig,
}

/// Format of the stored state. 3 added mechanisms, timelocked commits, drand pulses and block
/// timestamps; format 2 records read as format 3 with those at their defaults (one mechanism,
/// none stored, the default genesis time, block time and beacon) and are upgraded in place.
pub(super) const FORMAT: u32 = 3;
/// Oldest stored format this version opens.
pub(super) const OLDEST_FORMAT: u32 = 2;

pub(super) type Owners = BTreeMap<AccountId, AccountId>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct State {
    pub(super) global: Global,
    /// Hotkey -> owning coldkey (`Owner`).
    pub(super) owners: Arc<Owners>,
    pub(super) subnets: BTreeMap<NetUid, Arc<Subnet>>,
    pub(super) clocks: BTreeMap<NetUid, Clock>,
    /// Drand pulses given to the chain (`Pulses`: round -> signature), for
    /// [`super::BeaconSource::Quicknet`]; a local beacon's pulses are derived, not stored.
    pub(super) pulses: Arc<Pulses>,
}

/// Stored drand pulses: round -> BLS signature.
pub(super) type Pulses = BTreeMap<u64, Vec<u8>>;

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

    /// `MechanismCountCurrent` (at least 1).
    pub(super) fn mechanism_count(&self) -> MechId {
        self.meta.hyper.mechanism_count.max(1)
    }

    /// `ensure_mechanism_exists` for an existing subnet.
    pub(super) fn ensure_mechanism(&self, mecid: MechId) -> Result<(), ChainError> {
        if mecid < self.mechanism_count() { Ok(()) } else { Err(err(E::MechanismDoesNotExist)) }
    }

    /// `check_rate_limit(netuid_index, uid)` for a registered uid: per mechanism.
    pub(super) fn passes_rate_limit(&self, uid: Uid, mecid: MechId, block: BlockNumber) -> bool {
        let last = self.neurons.get(usize::from(uid)).map_or(0, |n| n.last_update(mecid));
        last == 0 || block.saturating_sub(last) >= self.meta.hyper.weights_rate_limit
    }

    /// `WeightCommits[netuid_index][who]`.
    pub(super) fn commit_queue(&self, mecid: MechId, who: &AccountId) -> Option<&Vec<Commit>> {
        match mecid {
            0 => self.meta.commits.get(who),
            m => self.meta.mechanism_commits.get(&(m, *who)),
        }
    }

    /// Stores a queue (an empty one removes the entry, as `try_mutate_exists` with `None`).
    pub(super) fn set_commit_queue(&mut self, mecid: MechId, who: &AccountId, queue: Vec<Commit>) {
        match (mecid, queue.is_empty()) {
            (0, true) => {
                self.meta.commits.remove(who);
            }
            (0, false) => {
                self.meta.commits.insert(*who, queue);
            }
            (m, true) => {
                self.meta.mechanism_commits.remove(&(m, *who));
            }
            (m, false) => {
                self.meta.mechanism_commits.insert((m, *who), queue);
            }
        }
    }
}

impl State {
    pub(super) fn fresh(config: LocalChainConfig) -> Self {
        Self {
            global: Global { format: FORMAT, block: 0, config },
            owners: Arc::new(BTreeMap::new()),
            subnets: BTreeMap::new(),
            clocks: BTreeMap::new(),
            pulses: Arc::new(BTreeMap::new()),
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

    /// Unix time of `block` in milliseconds: genesis plus `block` block times.
    pub(super) fn timestamp_ms(&self, block: BlockNumber) -> u64 {
        let c = &self.global.config;
        c.genesis_unix_ms.saturating_add(block.saturating_mul(c.block_time_ms))
    }

    /// The subnet's epoch clock now. Extrinsics apply in the current block, so
    /// `extrinsic_block == block`.
    pub(super) fn schedule_of(&self, sn: &Subnet) -> EpochSchedule {
        let clock = self.clock(sn.meta.netuid);
        let block = self.global.block;
        EpochSchedule {
            netuid: sn.meta.netuid,
            block,
            extrinsic_block: block,
            tempo: sn.meta.hyper.tempo,
            reveal_period_epochs: sn.meta.hyper.commit_reveal_period,
            epoch_index: Some(clock.epoch_index),
            last_epoch_block: Some(clock.last_epoch_block),
            pending_epoch_at: clock.pending_epoch_at,
            blocks_since_last_step: clock.blocks_since_last_step,
            block_time_ms: self.global.config.block_time_ms,
            timestamp_ms: Some(self.timestamp_ms(block)),
        }
    }

    /// Epoch index a commit or reveal in the current block belongs to
    /// (`current_epoch_with_lookahead`, [`EpochSchedule::epoch`]).
    pub(super) fn current_epoch(&self, sn: &Subnet) -> u64 {
        self.schedule_of(sn).epoch()
    }

    pub(super) fn commit_expired(&self, sn: &Subnet, commit_epoch: u64) -> bool {
        self.current_epoch(sn) > commit_epoch.saturating_add(sn.meta.hyper.commit_reveal_period)
    }

    pub(super) fn in_reveal_window(&self, sn: &Subnet, commit_epoch: u64) -> bool {
        self.current_epoch(sn) == commit_epoch.saturating_add(sn.meta.hyper.commit_reveal_period)
    }

    /// The metagraph as `get_metagraph` (`mecid` 0) or `get_mechagraph` shows it: the
    /// subnet-wide records (aggregated over mechanisms by the epoch) with `LastUpdate` and
    /// `Incentive` of mechanism `mecid`.
    pub(super) fn metagraph(&self, netuid: NetUid, mecid: MechId) -> Result<Metagraph, ChainError> {
        let sn = self.subnet(netuid)?;
        sn.ensure_mechanism(mecid)?;
        let neurons = sn
            .neurons
            .iter()
            .enumerate()
            .map(|(uid, n)| {
                let row = n.mech_ref(mecid);
                NeuronInfo {
                    uid: uid as Uid,
                    hotkey: n.hotkey,
                    coldkey: self.owners.get(&n.hotkey).copied().unwrap_or(n.hotkey),
                    stake: sn.stake_of(&n.hotkey),
                    validator_permit: n.validator_permit,
                    axon: n.axon,
                    block_at_registration: n.block_at_registration,
                    last_update: row.map_or(0, |r| r.last_update),
                    consensus: n.consensus,
                    incentive: row.map_or(0, |r| r.incentive),
                    dividends: n.dividends,
                    validator_trust: n.validator_trust,
                    emission: n.emission,
                    active: n.active,
                }
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
    use crate::epoch::MAX_TEMPO;

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
    }
}
