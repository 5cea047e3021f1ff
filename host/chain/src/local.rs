//! An embedded, deterministic chain that applies subtensor's rules.
//!
//! [`LocalChain`] is what the sandbox runs subnets against: subnets with owners and
//! hyperparameters, `burned_register` with immunity and pruning, stake per hotkey, blocks that
//! advance on demand (12 s nominal, no sleeping), emission per block accumulated as pending and
//! distributed through Yuma Consensus ([`super::yuma::run_epoch`]) at each subnet's epoch, and
//! `set_weights` / commit-reveal v2 / `serve_axon` with the pallet's checks in the pallet's
//! order and its error names. Behaviour follows `opentensor/subtensor`
//! `pallets/subtensor/src` (spec 425, commit 14bc6f9f): `subnets/weights.rs`,
//! `subnets/registration.rs`, `subnets/uids.rs`, `subnets/serving.rs`,
//! `coinbase/run_coinbase.rs`.
//!
//! # Invariants
//!
//! * Extrinsics apply at the current block (as in the pallet's tests, where the block number is
//!   set and calls dispatch in it); [`LocalChain::advance_blocks`] runs each new block's
//!   `on_initialize` work (emission, epochs) before any later extrinsic sees it.
//! * An extrinsic runs against a copy of the state and replaces it only on success: a failed
//!   call changes nothing, as a reverted dispatch.
//! * With a database ([`LocalChain::open`]) every successful extrinsic and every block is
//!   committed before the call returns; a killed process resumes at the last committed block.
//! * Epoch schedule: a subnet runs its epoch at block `b` when
//!   `(b + netuid + 1) % (tempo + 1) == 0` (`blocks_until_next_epoch`, the schedule subtensor
//!   used before the stateful `LastEpochBlock` scheduler of 2026); commit-reveal epochs are
//!   `(b + netuid + 1) / (tempo + 1)`, consistent with it.
//! * Emission per block (default 1 TAO = 1e9 rao per subnet): the owner cut
//!   (`SubnetOwnerCut`, 11796/65535) is set aside, the rest is split half to miners, half to
//!   validators, accumulated as pending, and paid as stake at the epoch: miners by Yuma
//!   incentive, validators by dividends, the owner cut to the owner's hotkey (or counted for
//!   the owner's coldkey when it has none registered). When no miner earns incentive,
//!   validators receive both halves, as in the pallet.
//!
//! # Simplifications (documented, deliberate)
//!
//! No balances, burn cost or swap pool: registration is free, `add_stake` mints stake, alpha and
//! TAO are one unit. No root network, child keys, delegation takes or mechanisms other than the
//! main one. Commit-reveal is v2 (hash commits), not the timelocked v3 the chain now defaults to.
//!
//! # Failure modes
//!
//! Pallet rejections are [`ChainError::Module`]; database failures are
//! [`ChainError::Storage`] and leave the in-memory state at the last committed value.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::local_store::{Batch, Store};
use super::yuma::{self, EpochInput, EpochParams, LiquidAlpha};
use super::{
    AccountId, AxonInfo, BlockNumber, Chain, ChainError, ChainEvent, ExtrinsicOutcome, Hyperparams,
    Metagraph, NetUid, NeuronInfo, SubtensorError as E, Uid, check_max_weight_limited, commit_hash,
    max_upscale_u16,
};

/// Nominal block time of subtensor, seconds.
pub const BLOCK_TIME_SECS: u64 = 12;
/// One TAO in rao.
pub const RAO_PER_TAO: u64 = 1_000_000_000;
/// Most unrevealed commits one hotkey may hold (pallet constant).
pub const MAX_UNREVEALED_COMMITS: usize = 10;
/// Bounds of `RevealPeriodEpochs` (pallet `MIN/MAX_COMMIT_REVEAL_PEROIDS`).
pub const REVEAL_PERIOD_RANGE: std::ops::RangeInclusive<u64> = 1..=100;

/// Settings of a local chain, fixed when the chain is created (stored with it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalChainConfig {
    /// Emission per block to each subnet, rao.
    pub block_emission_rao: u64,
    /// Owner cut, u16 proportion (`SubnetOwnerCut`).
    pub owner_cut: u16,
    /// Accept `127.0.0.1` / `::1` in `serve_axon`. The pallet rejects loopback
    /// (`InvalidIpAddress`); a sandbox on one machine needs it.
    pub allow_loopback_axons: bool,
}

impl Default for LocalChainConfig {
    fn default() -> Self {
        Self {
            block_emission_rao: RAO_PER_TAO,
            owner_cut: yuma::DEFAULT_OWNER_CUT,
            allow_loopback_axons: false,
        }
    }
}

/// Blocks until `netuid` next runs its epoch: `tempo - (block + netuid + 1) % (tempo + 1)`;
/// `u64::MAX` when `tempo == 0` (never). The epoch runs at a block where this is 0.
pub fn blocks_until_next_epoch(netuid: NetUid, tempo: u16, block: BlockNumber) -> u64 {
    if tempo == 0 {
        return u64::MAX;
    }
    let tempo_plus_one = u64::from(tempo) + 1;
    let adjusted = block.wrapping_add(u64::from(netuid) + 1);
    u64::from(tempo).saturating_sub(adjusted % tempo_plus_one)
}

/// The commit-reveal epoch index of a block: `(block + netuid + 1) / (tempo + 1)`.
pub fn epoch_index(netuid: NetUid, tempo: u16, block: BlockNumber) -> u64 {
    block.saturating_add(u64::from(netuid) + 1) / (u64::from(tempo) + 1)
}

/// Serialises maps with non-string keys as sequences of pairs (JSON maps need string keys).
mod map_vec {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        m: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
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
struct Neuron {
    hotkey: AccountId,
    block_at_registration: BlockNumber,
    last_update: BlockNumber,
    axon: Option<AxonInfo>,
    weights: Vec<(u16, u16)>,
    bonds: Vec<(u16, u16)>,
    validator_permit: bool,
    active: bool,
    consensus: u16,
    incentive: u16,
    dividends: u16,
    validator_trust: u16,
    emission: u64,
}

impl Neuron {
    fn new(hotkey: AccountId, block: BlockNumber) -> Self {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Commit {
    hash: [u8; 32],
    block: BlockNumber,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Subnet {
    netuid: NetUid,
    owner_coldkey: AccountId,
    owner_hotkey: Option<AccountId>,
    hyper: Hyperparams,
    neurons: Vec<Neuron>,
    #[serde(with = "map_vec")]
    stake: BTreeMap<AccountId, u64>,
    #[serde(with = "map_vec")]
    commits: BTreeMap<AccountId, Vec<Commit>>,
    /// Block of the last epoch run (0 = none), fed to Yuma as `LastMechansimStepBlock`.
    last_epoch_block: BlockNumber,
    /// Owner cut paid to the owner's coldkey while it had no registered hotkey, rao.
    owner_coldkey_emission: u64,
}

/// Pending emission of a subnet, rao (pallet `PendingServerEmission`,
/// `PendingValidatorEmission`, `PendingOwnerCut`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEmission {
    /// Miners' half.
    pub server: u64,
    /// Validators' half.
    pub validator: u64,
    /// Owner cut.
    pub owner: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Global {
    format: u32,
    block: BlockNumber,
    config: LocalChainConfig,
    /// Hotkey -> owning coldkey (`Owner`).
    #[serde(with = "map_vec")]
    owners: BTreeMap<AccountId, AccountId>,
}

const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    global: Global,
    subnets: BTreeMap<NetUid, Subnet>,
    pending: BTreeMap<NetUid, PendingEmission>,
}

struct Inner {
    state: State,
    store: Option<Store>,
}

/// The embedded chain. Cheap to share behind `Arc`; all methods take `&self`.
pub struct LocalChain {
    inner: Mutex<Inner>,
    blocks: watch::Sender<BlockNumber>,
}

fn err(e: E) -> ChainError {
    ChainError::subtensor(e)
}

impl Subnet {
    fn uid_of(&self, hotkey: &AccountId) -> Option<Uid> {
        self.neurons.iter().position(|n| &n.hotkey == hotkey).map(|u| u as Uid)
    }

    fn n(&self) -> usize {
        self.neurons.len()
    }

    fn stake_of(&self, hotkey: &AccountId) -> u64 {
        self.stake.get(hotkey).copied().unwrap_or(0)
    }

    fn owner_uid(&self) -> Option<Uid> {
        self.owner_hotkey.as_ref().and_then(|h| self.uid_of(h))
    }

    fn is_immune(&self, uid: usize, block: BlockNumber) -> bool {
        self.neurons.get(uid).is_some_and(|n| {
            block.saturating_sub(n.block_at_registration) < u64::from(self.hyper.immunity_period)
        })
    }

    fn epoch_index(&self, block: BlockNumber) -> u64 {
        epoch_index(self.netuid, self.hyper.tempo, block)
    }

    fn commit_expired(&self, commit_block: BlockNumber, block: BlockNumber) -> bool {
        self.epoch_index(block) > self.epoch_index(commit_block) + self.hyper.commit_reveal_period
    }

    /// Owner hotkeys kept out of pruning (`get_immune_owner_tuples`): the owner coldkey's
    /// registered hotkeys, oldest registration first, up to `ImmuneOwnerUidsLimit`, with the
    /// subnet owner hotkey put first.
    fn immune_owner_uids(&self, owners: &BTreeMap<AccountId, AccountId>) -> Vec<Uid> {
        let limit = usize::from(self.hyper.immune_owner_uids_limit);
        let mut triples: Vec<(BlockNumber, Uid)> = self
            .neurons
            .iter()
            .enumerate()
            .filter(|(_, n)| owners.get(&n.hotkey) == Some(&self.owner_coldkey))
            .map(|(uid, n)| (n.block_at_registration, uid as Uid))
            .collect();
        triples.sort();
        triples.truncate(limit);
        let mut uids: Vec<Uid> = triples.into_iter().map(|(_, u)| u).collect();
        if let Some(owner_uid) = self.owner_uid()
            && !uids.contains(&owner_uid)
        {
            uids.insert(0, owner_uid);
            uids.truncate(limit);
        }
        uids
    }

    /// `get_neuron_to_prune`: lowest emission, then earliest registration, then lowest uid,
    /// among non-immune uids while more than `MinNonImmuneUids` of them remain, else among
    /// immune ones; owner-immortal uids never.
    fn neuron_to_prune(
        &self,
        owners: &BTreeMap<AccountId, AccountId>,
        block: BlockNumber,
    ) -> Option<Uid> {
        let immortal = self.immune_owner_uids(owners);
        let mut free_count: u16 = 0;
        let mut best_free: Option<(u64, BlockNumber, Uid)> = None;
        let mut best_immune: Option<(u64, BlockNumber, Uid)> = None;
        for (uid, n) in self.neurons.iter().enumerate() {
            let uid = uid as Uid;
            if immortal.contains(&uid) {
                continue;
            }
            let key = (n.emission, n.block_at_registration, uid);
            let slot = if self.is_immune(usize::from(uid), block) {
                &mut best_immune
            } else {
                free_count = free_count.saturating_add(1);
                &mut best_free
            };
            if slot.is_none_or(|b| key < b) {
                *slot = Some(key);
            }
        }
        if free_count > self.hyper.min_non_immune_uids
            && let Some((_, _, uid)) = best_free
        {
            return Some(uid);
        }
        best_immune.map(|(_, _, uid)| uid)
    }

    /// `clear_neuron` plus the membership changes of `replace_neuron`.
    fn replace_neuron(&mut self, uid: Uid, hotkey: AccountId, block: BlockNumber) {
        let idx = usize::from(uid);
        if let Some(n) = self.neurons.get_mut(idx) {
            *n = Neuron::new(hotkey, block);
        }
        for other in &mut self.neurons {
            for (target, w) in &mut other.weights {
                if *target == uid {
                    *w = 0;
                }
            }
        }
    }
}

impl State {
    fn fresh(config: LocalChainConfig) -> Self {
        Self {
            global: Global { format: FORMAT, block: 0, config, owners: BTreeMap::new() },
            subnets: BTreeMap::new(),
            pending: BTreeMap::new(),
        }
    }

    fn subnet(&self, netuid: NetUid) -> Result<&Subnet, ChainError> {
        self.subnets.get(&netuid).ok_or_else(|| err(E::SubnetNotExists))
    }

    fn subnet_mut(&mut self, netuid: NetUid) -> Result<&mut Subnet, ChainError> {
        self.subnets.get_mut(&netuid).ok_or_else(|| err(E::SubnetNotExists))
    }

    /// `internal_set_weights`, checks in the pallet's order.
    fn set_weights(
        &mut self,
        who: &AccountId,
        netuid: NetUid,
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
        let sn = self.subnets.get_mut(&netuid).ok_or_else(|| err(E::MechanismDoesNotExist))?;
        let n = sn.n();
        if uids.len() > n {
            return Err(err(E::UidsLengthExceedUidsInSubNet));
        }
        let uid = sn.uid_of(who).ok_or_else(|| err(E::HotKeyNotRegisteredInSubNet))?;
        if sn.stake_of(who) < sn.hyper.stake_threshold {
            return Err(err(E::NotEnoughStakeToSetWeights));
        }
        let vk = sn.hyper.weights_version_key;
        if !(vk == 0 || version_key >= vk) {
            return Err(err(E::IncorrectWeightVersionKey));
        }
        let cr = sn.hyper.commit_reveal_enabled;
        let last = sn.neurons[usize::from(uid)].last_update;
        if !cr && !(last == 0 || block.saturating_sub(last) >= sn.hyper.weights_rate_limit) {
            return Err(err(E::SettingWeightsTooFast));
        }
        let self_weight = values.len() == 1 && uids.first() == Some(&uid);
        let permitted = self_weight
            || sn.owner_uid() == Some(uid)
            || sn.neurons[usize::from(uid)].validator_permit;
        if !permitted {
            return Err(err(E::NeuronNoValidatorPermit));
        }
        let mut seen = vec![false; n];
        let mut dup = false;
        let mut invalid = false;
        for &u in uids {
            match seen.get_mut(usize::from(u)) {
                Some(s) if *s => dup = true,
                Some(s) => *s = true,
                None => invalid = true,
            }
        }
        if dup {
            return Err(err(E::DuplicateUids));
        }
        if invalid {
            return Err(err(E::UidVecContainInvalidOne));
        }
        let min_allowed = usize::from(sn.hyper.min_allowed_weights).min(n);
        if !self_weight && values.len() < min_allowed {
            return Err(err(E::WeightVecLengthIsLow));
        }
        let upscaled = max_upscale_u16(values);
        if !self_weight
            && sn.hyper.max_weight_limit != u16::MAX
            && !check_max_weight_limited(&upscaled, sn.hyper.max_weight_limit)
        {
            return Err(err(E::MaxWeightExceeded));
        }
        let neuron = &mut sn.neurons[usize::from(uid)];
        neuron.weights = uids.iter().copied().zip(upscaled).collect();
        if !cr {
            neuron.last_update = block;
        }
        Ok(ChainEvent::WeightsSet { netuid, uid })
    }

    fn commit_weights(
        &mut self,
        who: &AccountId,
        netuid: NetUid,
        hash: [u8; 32],
    ) -> Result<Vec<ChainEvent>, ChainError> {
        let block = self.global.block;
        let sn = self.subnets.get_mut(&netuid).ok_or_else(|| err(E::MechanismDoesNotExist))?;
        if !sn.hyper.commit_reveal_enabled {
            return Err(err(E::CommitRevealDisabled));
        }
        let uid = sn.uid_of(who).ok_or_else(|| err(E::HotKeyNotRegisteredInSubNet))?;
        let last = sn.neurons[usize::from(uid)].last_update;
        if !(last == 0 || block.saturating_sub(last) >= sn.hyper.weights_rate_limit) {
            return Err(err(E::CommittingWeightsTooFast));
        }
        let mut queue = sn.commits.get(who).cloned().unwrap_or_default();
        let live_from = queue.iter().position(|c| !sn.commit_expired(c.block, block));
        queue.drain(..live_from.unwrap_or(queue.len()));
        if queue.len() >= MAX_UNREVEALED_COMMITS {
            return Err(err(E::TooManyUnrevealedCommits));
        }
        queue.push(Commit { hash, block });
        sn.commits.insert(*who, queue);
        sn.neurons[usize::from(uid)].last_update = block;
        Ok(vec![ChainEvent::WeightsCommitted { who: *who, netuid, hash }])
    }

    fn reveal_weights(
        &mut self,
        who: &AccountId,
        netuid: NetUid,
        uids: &[Uid],
        values: &[u16],
        salt: &[u16],
        version_key: u64,
    ) -> Result<Vec<ChainEvent>, ChainError> {
        let block = self.global.block;
        let sn = self.subnets.get_mut(&netuid).ok_or_else(|| err(E::SubnetNotExists))?;
        if !sn.hyper.commit_reveal_enabled {
            return Err(err(E::CommitRevealDisabled));
        }
        let mut queue = sn.commits.get(who).cloned().ok_or_else(|| err(E::NoWeightsCommitFound))?;
        let live_from = queue.iter().position(|c| !sn.commit_expired(c.block, block));
        let expired: Vec<[u8; 32]> =
            queue.drain(..live_from.unwrap_or(queue.len())).map(|c| c.hash).collect();
        let provided = commit_hash(who, netuid, uids, values, salt, version_key);
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
        let reveal_epoch = sn.epoch_index(queue[pos].block) + sn.hyper.commit_reveal_period;
        if sn.epoch_index(block) != reveal_epoch {
            return Err(err(E::RevealTooEarly));
        }
        queue.drain(..=pos);
        if queue.is_empty() {
            sn.commits.remove(who);
        } else {
            sn.commits.insert(*who, queue);
        }
        let set = self.set_weights(who, netuid, uids, values, version_key)?;
        Ok(vec![set, ChainEvent::WeightsRevealed { who: *who, netuid, hash: provided }])
    }

    fn serve_axon(
        &mut self,
        who: &AccountId,
        netuid: NetUid,
        axon: AxonInfo,
    ) -> Result<ChainEvent, ChainError> {
        let block = self.global.block;
        let allow_loopback = self.global.config.allow_loopback_axons;
        let sn = self.subnet_mut(netuid)?;
        let uid = sn.uid_of(who).ok_or_else(|| err(E::HotKeyNotRegisteredInNetwork))?;
        if axon.ip_type != 4 && axon.ip_type != 6 {
            return Err(err(E::InvalidIpType));
        }
        let ip_ok = match axon.ip_type {
            4 => axon.ip < u128::from(u32::MAX) && (allow_loopback || axon.ip != 0x7f00_0001),
            _ => axon.ip != u128::MAX && (allow_loopback || axon.ip != 1),
        };
        if !ip_ok {
            return Err(err(E::InvalidIpAddress));
        }
        let prev_block = sn.neurons[usize::from(uid)].axon.map_or(0, |a| a.block);
        let limit = sn.hyper.serving_rate_limit;
        if !(limit == 0 || prev_block == 0 || block.saturating_sub(prev_block) >= limit) {
            return Err(err(E::ServingRateLimitExceeded));
        }
        if axon.port == 0 {
            return Err(err(E::InvalidPort));
        }
        sn.neurons[usize::from(uid)].axon = Some(AxonInfo { block, ..axon });
        Ok(ChainEvent::AxonServed { netuid, hotkey: *who })
    }

    /// `do_register` (burned_register) without the burn.
    fn register(
        &mut self,
        hotkey: &AccountId,
        coldkey: &AccountId,
        netuid: NetUid,
    ) -> Result<ChainEvent, ChainError> {
        let block = self.global.block;
        if netuid == 0 {
            return Err(err(E::RegistrationNotPermittedOnRootSubnet));
        }
        let sn = self.subnet(netuid)?;
        if !sn.hyper.registration_allowed {
            return Err(err(E::SubNetRegistrationDisabled));
        }
        if sn.uid_of(hotkey).is_some() {
            return Err(err(E::HotKeyAlreadyRegisteredInSubNet));
        }
        if self.global.owners.get(hotkey).is_some_and(|c| c != coldkey) {
            return Err(err(E::NonAssociatedColdKey));
        }
        let max = usize::from(sn.hyper.max_allowed_uids);
        if max == 0 {
            return Err(err(E::NoNeuronIdAvailable));
        }
        let prune = if sn.n() >= max {
            Some(
                sn.neuron_to_prune(&self.global.owners, block)
                    .ok_or_else(|| err(E::NoNeuronIdAvailable))?,
            )
        } else {
            None
        };
        self.global.owners.insert(*hotkey, *coldkey);
        let sn = self.subnet_mut(netuid)?;
        let uid = match prune {
            Some(uid) => {
                tracing::debug!(netuid, uid, "pruning neuron for registration");
                sn.replace_neuron(uid, *hotkey, block);
                uid
            }
            None => {
                sn.neurons.push(Neuron::new(*hotkey, block));
                (sn.n() - 1) as Uid
            }
        };
        Ok(ChainEvent::NeuronRegistered { netuid, uid, hotkey: *hotkey })
    }

    /// One block's `on_initialize`: emission into pending, then epochs that are due.
    fn step_block(&mut self) -> (Vec<NetUid>, Vec<ChainEvent>) {
        self.global.block += 1;
        let block = self.global.block;
        let emission = self.global.config.block_emission_rao;
        let cut = self.global.config.owner_cut;
        let mut ran = Vec::new();
        let mut events = Vec::new();
        let netuids: Vec<NetUid> = self.subnets.keys().copied().collect();
        for netuid in netuids {
            let pending = self.pending.entry(netuid).or_default();
            let (owner, rest) = yuma::owner_cut(emission, cut);
            let server = rest / 2;
            pending.owner = pending.owner.saturating_add(owner);
            pending.server = pending.server.saturating_add(server);
            pending.validator = pending.validator.saturating_add(rest - server);
            let Some(sn) = self.subnets.get(&netuid) else {
                continue;
            };
            if blocks_until_next_epoch(netuid, sn.hyper.tempo, block) != 0 {
                continue;
            }
            match self.run_epoch(netuid) {
                Ok(emitted) => {
                    ran.push(netuid);
                    events.push(ChainEvent::EpochRun { netuid, block, emitted });
                }
                Err(e) => {
                    // Pending emission stays and is paid at the next epoch (`EpochSkipped`).
                    tracing::warn!(netuid, block, error = %e, "epoch skipped");
                }
            }
        }
        (ran, events)
    }

    /// Runs Yuma for a subnet and pays the pending emission; returns the rao paid.
    fn run_epoch(&mut self, netuid: NetUid) -> Result<u64, ChainError> {
        let block = self.global.block;
        let pending = self.pending.get(&netuid).copied().unwrap_or_default();
        let sn = self.subnet(netuid)?;
        let h = &sn.hyper;
        let params = EpochParams {
            kappa: h.kappa,
            bonds_penalty: h.bonds_penalty,
            bonds_moving_average: h.bonds_moving_average,
            activity_cutoff: u64::from(h.activity_cutoff),
            max_allowed_validators: h.max_allowed_validators,
            tempo: h.tempo,
            yuma3: h.yuma3_enabled,
            liquid_alpha: h.liquid_alpha_enabled.then_some(LiquidAlpha {
                alpha_low: h.alpha_low,
                alpha_high: h.alpha_high,
                alpha_sigmoid_steepness: h.alpha_sigmoid_steepness,
            }),
            stake_threshold: h.stake_threshold,
            tao_weight: 0,
        };
        let commit_blocks = h.commit_reveal_enabled.then(|| {
            sn.neurons
                .iter()
                .map(|n| {
                    sn.commits
                        .get(&n.hotkey)
                        .and_then(|q| q.iter().find(|c| !sn.commit_expired(c.block, block)))
                        .map_or(u64::MAX, |c| c.block)
                })
                .collect()
        });
        let input = EpochInput {
            current_block: block,
            last_epoch_block: sn.last_epoch_block,
            last_update: sn.neurons.iter().map(|n| n.last_update).collect(),
            block_at_registration: sn.neurons.iter().map(|n| n.block_at_registration).collect(),
            stake: sn.neurons.iter().map(|n| sn.stake_of(&n.hotkey)).collect(),
            tao_stake: Vec::new(),
            weights: sn.neurons.iter().map(|n| n.weights.clone()).collect(),
            bonds: sn.neurons.iter().map(|n| n.bonds.clone()).collect(),
            validator_permit: sn.neurons.iter().map(|n| n.validator_permit).collect(),
            owner_uid: sn.owner_uid(),
            commit_blocks,
        };
        let to_epoch = pending.server.saturating_add(pending.validator);
        let out = yuma::run_epoch(&params, &input, to_epoch)
            .map_err(|e| ChainError::InvalidInput(format!("epoch input: {e}")))?;

        // Payouts as `distribute_emission`: miners by the epoch's server emission, validators
        // share the pending validator alpha in proportion to their epoch dividends (all of
        // the pending alpha when no miner earned incentive).
        let incentive_sum: u128 = out.server_emission.iter().map(|&x| u128::from(x)).sum();
        let validator_alpha = if incentive_sum > 0 {
            pending.validator
        } else {
            pending.validator.saturating_add(pending.server)
        };
        let div_sum: u128 = out.validator_emission.iter().map(|&x| u128::from(x)).sum();
        let mut paid: u64 = 0;
        let mut credits: Vec<(AccountId, u64)> = Vec::new();
        for (i, n) in sn.neurons.iter().enumerate() {
            let inc = out.server_emission.get(i).copied().unwrap_or(0);
            let div = if div_sum > 0 {
                let d = u128::from(out.validator_emission.get(i).copied().unwrap_or(0));
                u64::try_from(u128::from(validator_alpha) * d / div_sum).unwrap_or(u64::MAX)
            } else {
                0
            };
            credits.push((n.hotkey, inc.saturating_add(div)));
        }
        let owner_hotkey = sn.owner_hotkey.filter(|h| sn.uid_of(h).is_some());

        let sn = self.subnet_mut(netuid)?;
        for (hotkey, amount) in credits {
            if amount > 0 {
                *sn.stake.entry(hotkey).or_default() += amount;
                paid = paid.saturating_add(amount);
            }
        }
        match owner_hotkey {
            Some(h) => *sn.stake.entry(h).or_default() += pending.owner,
            None => {
                sn.owner_coldkey_emission = sn.owner_coldkey_emission.saturating_add(pending.owner)
            }
        }
        paid = paid.saturating_add(pending.owner);
        for (i, n) in sn.neurons.iter_mut().enumerate() {
            let get16 = |v: &Vec<u16>| v.get(i).copied().unwrap_or(0);
            n.active = out.active.get(i).copied().unwrap_or(false);
            n.validator_permit = out.validator_permit.get(i).copied().unwrap_or(false);
            n.consensus = get16(&out.consensus);
            n.incentive = get16(&out.incentive);
            n.dividends = get16(&out.dividends);
            n.validator_trust = get16(&out.validator_trust);
            n.emission = out.emission.get(i).copied().unwrap_or(0);
            n.bonds = out.bonds.get(i).cloned().unwrap_or_default();
        }
        sn.last_epoch_block = block;
        self.pending.insert(netuid, PendingEmission::default());
        tracing::debug!(netuid, block, paid, "epoch ran");
        Ok(paid)
    }

    fn metagraph(&self, netuid: NetUid) -> Result<Metagraph, ChainError> {
        let sn = self.subnet(netuid)?;
        let neurons = sn
            .neurons
            .iter()
            .enumerate()
            .map(|(uid, n)| NeuronInfo {
                uid: uid as Uid,
                hotkey: n.hotkey,
                coldkey: self.global.owners.get(&n.hotkey).copied().unwrap_or(n.hotkey),
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
            owner_coldkey: sn.owner_coldkey,
            owner_hotkey: sn.owner_hotkey,
            neurons,
        })
    }
}

impl LocalChain {
    /// A chain held in memory only, with default settings.
    pub fn in_memory() -> Self {
        Self::in_memory_with(LocalChainConfig::default())
    }

    /// A chain held in memory only.
    pub fn in_memory_with(config: LocalChainConfig) -> Self {
        Self::from_parts(State::fresh(config), None)
    }

    /// Opens (or creates) a persistent chain in `dir` (file `chain.redb`) with default
    /// settings for a new chain; an existing chain keeps its stored settings and height.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, ChainError> {
        Self::open_with(dir, LocalChainConfig::default())
    }

    /// As [`LocalChain::open`], with the settings a new chain gets.
    pub fn open_with(dir: impl AsRef<Path>, config: LocalChainConfig) -> Result<Self, ChainError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| ChainError::Storage(e.to_string()))?;
        let store = Store::open(&dir.join("chain.redb"))?;
        let loaded = store.load::<Global, Subnet, PendingEmission>()?;
        let state = match loaded.global {
            Some(global) => {
                if global.format != FORMAT {
                    return Err(ChainError::Storage(format!(
                        "database format {} is not {FORMAT}",
                        global.format
                    )));
                }
                State { global, subnets: loaded.subnets, pending: loaded.pending }
            }
            None => {
                let state = State::fresh(config);
                store.write::<_, Subnet, PendingEmission>(Batch {
                    global: &state.global,
                    subnets: Vec::new(),
                    pending: Vec::new(),
                    removed_subnets: Vec::new(),
                })?;
                state
            }
        };
        tracing::info!(path = %dir.display(), block = state.global.block, "local chain opened");
        Ok(Self::from_parts(state, Some(store)))
    }

    fn from_parts(state: State, store: Option<Store>) -> Self {
        let (blocks, _) = watch::channel(state.global.block);
        Self { inner: Mutex::new(Inner { state, store }), blocks }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave half-applied state behind (changes are
        // made on a copy), so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on a copy of the state; on success persists the global record and subnet
    /// `touched` (the only subnet an extrinsic changes) and swaps the copy in. On any error the state is as before.
    fn transact<R>(
        &self,
        touched: NetUid,
        f: impl FnOnce(&mut State) -> Result<R, ChainError>,
    ) -> Result<R, ChainError> {
        let mut inner = self.lock();
        let mut next = inner.state.clone();
        let r = f(&mut next)?;
        if let Some(store) = &inner.store {
            let subnets = next.subnets.get(&touched).map(|s| (touched, s)).into_iter().collect();
            store.write::<_, _, PendingEmission>(Batch {
                global: &next.global,
                subnets,
                pending: Vec::new(),
                removed_subnets: Vec::new(),
            })?;
        }
        inner.state = next;
        Ok(r)
    }

    fn outcome(&self, events: Vec<ChainEvent>) -> ExtrinsicOutcome {
        ExtrinsicOutcome { block: self.block(), events }
    }

    /// The current block height.
    pub fn block(&self) -> BlockNumber {
        self.lock().state.global.block
    }

    /// The chain's settings.
    pub fn config(&self) -> LocalChainConfig {
        self.lock().state.global.config.clone()
    }

    /// Creates a subnet owned by `owner_coldkey` at the lowest free netuid `>= 1`, with
    /// [`Hyperparams::default`]. With `owner_hotkey`, that hotkey is registered as uid 0 and
    /// becomes the subnet owner hotkey, as `register_network` does.
    pub fn create_subnet(
        &self,
        owner_coldkey: &AccountId,
        owner_hotkey: Option<&AccountId>,
    ) -> Result<NetUid, ChainError> {
        let netuid = {
            let inner = self.lock();
            (1..=u16::MAX)
                .find(|n| !inner.state.subnets.contains_key(n))
                .ok_or_else(|| ChainError::InvalidInput("no free netuid".into()))?
        };
        // The netuid is re-checked inside the transaction, so a concurrent creation fails
        // cleanly instead of overwriting.
        self.transact(netuid, |st| {
            if st.subnets.contains_key(&netuid) {
                return Err(ChainError::InvalidInput(format!(
                    "netuid {netuid} taken concurrently"
                )));
            }
            if let Some(h) = owner_hotkey
                && st.global.owners.get(h).is_some_and(|c| c != owner_coldkey)
            {
                return Err(err(E::NonAssociatedColdKey));
            }
            let block = st.global.block;
            let mut sn = Subnet {
                netuid,
                owner_coldkey: *owner_coldkey,
                owner_hotkey: owner_hotkey.copied(),
                hyper: Hyperparams::default(),
                neurons: Vec::new(),
                stake: BTreeMap::new(),
                commits: BTreeMap::new(),
                last_epoch_block: 0,
                owner_coldkey_emission: 0,
            };
            if let Some(h) = owner_hotkey {
                st.global.owners.insert(*h, *owner_coldkey);
                sn.neurons.push(Neuron::new(*h, block));
            }
            st.subnets.insert(netuid, sn);
            Ok(netuid)
        })
    }

    /// Replaces a subnet's hyperparameters (the sandbox acting as owner and root).
    /// Rejects values the pallet's admin calls reject: `max_allowed_uids` below the current
    /// size or 0, a reveal period outside 1..=100 (`RevealPeriodTooSmall/Large`).
    pub fn set_hyperparams(&self, netuid: NetUid, hyper: Hyperparams) -> Result<(), ChainError> {
        self.transact(netuid, |st| {
            let sn = st.subnet_mut(netuid)?;
            if hyper.max_allowed_uids == 0 || usize::from(hyper.max_allowed_uids) < sn.n() {
                return Err(ChainError::InvalidInput(format!(
                    "max_allowed_uids {} below subnet size {}",
                    hyper.max_allowed_uids,
                    sn.n()
                )));
            }
            if hyper.commit_reveal_period < *REVEAL_PERIOD_RANGE.start() {
                return Err(err(E::RevealPeriodTooSmall));
            }
            if hyper.commit_reveal_period > *REVEAL_PERIOD_RANGE.end() {
                return Err(err(E::RevealPeriodTooLarge));
            }
            sn.hyper = hyper;
            Ok(())
        })
    }

    /// Edits a subnet's hyperparameters in place; see [`LocalChain::set_hyperparams`].
    pub fn update_hyperparams(
        &self,
        netuid: NetUid,
        f: impl FnOnce(&mut Hyperparams),
    ) -> Result<(), ChainError> {
        let mut h = self.lock().state.subnet(netuid)?.hyper.clone();
        f(&mut h);
        self.set_hyperparams(netuid, h)
    }

    /// `add_stake`: stakes `amount` rao from `coldkey` to `hotkey` on `netuid` (minted: the
    /// local chain keeps no balances). The hotkey must be known (`HotKeyAccountNotExists`).
    pub fn add_stake(
        &self,
        coldkey: &AccountId,
        hotkey: &AccountId,
        netuid: NetUid,
        amount: u64,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let ev = self.transact(netuid, |st| {
            if !st.global.owners.contains_key(hotkey) {
                return Err(err(E::HotKeyAccountNotExists));
            }
            let sn = st.subnet_mut(netuid)?;
            if amount == 0 {
                return Err(err(E::AmountTooLow));
            }
            let s = sn.stake.entry(*hotkey).or_default();
            *s = s.saturating_add(amount);
            Ok(ChainEvent::StakeAdded { coldkey: *coldkey, hotkey: *hotkey, netuid, amount })
        })?;
        Ok(self.outcome(vec![ev]))
    }

    /// Stake of a hotkey on a subnet, rao.
    pub fn stake(&self, hotkey: &AccountId, netuid: NetUid) -> u64 {
        self.lock().state.subnets.get(&netuid).map_or(0, |s| s.stake_of(hotkey))
    }

    /// Pending (undistributed) emission of a subnet.
    pub fn pending_emission(&self, netuid: NetUid) -> PendingEmission {
        self.lock().state.pending.get(&netuid).copied().unwrap_or_default()
    }

    /// Owner cut credited to the owner's coldkey while it had no registered hotkey, rao.
    pub fn owner_coldkey_emission(&self, netuid: NetUid) -> u64 {
        self.lock().state.subnets.get(&netuid).map_or(0, |s| s.owner_coldkey_emission)
    }

    /// Stored weights row of a uid (`Weights[netuid][uid]`).
    pub fn weights(&self, netuid: NetUid, uid: Uid) -> Vec<(u16, u16)> {
        self.lock()
            .state
            .subnets
            .get(&netuid)
            .and_then(|s| s.neurons.get(usize::from(uid)))
            .map(|n| n.weights.clone())
            .unwrap_or_default()
    }

    /// Stored bonds row of a uid (`Bonds[netuid][uid]`).
    pub fn bonds(&self, netuid: NetUid, uid: Uid) -> Vec<(u16, u16)> {
        self.lock()
            .state
            .subnets
            .get(&netuid)
            .and_then(|s| s.neurons.get(usize::from(uid)))
            .map(|n| n.bonds.clone())
            .unwrap_or_default()
    }

    /// Number of unrevealed commits of a hotkey.
    pub fn pending_commits(&self, netuid: NetUid, hotkey: &AccountId) -> usize {
        self.lock()
            .state
            .subnets
            .get(&netuid)
            .and_then(|s| s.commits.get(hotkey))
            .map_or(0, Vec::len)
    }

    /// Produces `n` blocks: each adds emission to every subnet's pending pool and runs the
    /// epochs due at that height, then commits. Returns the blocks' events (epochs run).
    pub fn advance_blocks(&self, n: u64) -> Result<Vec<ChainEvent>, ChainError> {
        let mut events = Vec::new();
        for _ in 0..n {
            let mut inner = self.lock();
            let mut next = inner.state.clone();
            let (ran, evs) = next.step_block();
            if let Some(store) = &inner.store {
                store.write(Batch {
                    global: &next.global,
                    subnets: ran
                        .iter()
                        .filter_map(|u| next.subnets.get(u).map(|s| (*u, s)))
                        .collect(),
                    pending: next.pending.iter().map(|(u, p)| (*u, p)).collect(),
                    removed_subnets: Vec::new(),
                })?;
            }
            inner.state = next;
            let block = inner.state.global.block;
            drop(inner);
            self.blocks.send_replace(block);
            events.extend(evs);
        }
        Ok(events)
    }

    /// Advances to the block where `netuid` next runs its epoch (inclusive) and returns that
    /// block's events. Errors with `SubnetNotExists`, or `InvalidInput` when tempo is 0.
    pub fn advance_to_next_epoch(&self, netuid: NetUid) -> Result<Vec<ChainEvent>, ChainError> {
        let (tempo, block) = {
            let inner = self.lock();
            (inner.state.subnet(netuid)?.hyper.tempo, inner.state.global.block)
        };
        if tempo == 0 {
            return Err(ChainError::InvalidInput("tempo 0: epochs never run".into()));
        }
        let mut wait = blocks_until_next_epoch(netuid, tempo, block + 1);
        wait += 1;
        self.advance_blocks(wait)
    }

    /// Sync form of [`Chain::metagraph`].
    pub fn metagraph_now(&self, netuid: NetUid) -> Result<Metagraph, ChainError> {
        self.lock().state.metagraph(netuid)
    }

    /// Sync form of [`Chain::hyperparams`].
    pub fn hyperparams_now(&self, netuid: NetUid) -> Result<Hyperparams, ChainError> {
        Ok(self.lock().state.subnet(netuid)?.hyper.clone())
    }

    /// Sync form of [`Chain::set_weights`]; the dispatchable rejects with
    /// `CommitRevealEnabled` first when commit-reveal is on.
    pub fn set_weights_now(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        uids: &[Uid],
        weights: &[u16],
        version_key: u64,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let ev = self.transact(netuid, |st| {
            if st.subnets.get(&netuid).is_some_and(|s| s.hyper.commit_reveal_enabled) {
                return Err(err(E::CommitRevealEnabled));
            }
            st.set_weights(signer, netuid, uids, weights, version_key)
        })?;
        Ok(self.outcome(vec![ev]))
    }

    /// Sync form of [`Chain::commit_weights`].
    pub fn commit_weights_now(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        hash: [u8; 32],
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let evs = self.transact(netuid, |st| st.commit_weights(signer, netuid, hash))?;
        Ok(self.outcome(evs))
    }

    /// Sync form of [`Chain::reveal_weights`].
    pub fn reveal_weights_now(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        uids: &[Uid],
        values: &[u16],
        salt: &[u16],
        version_key: u64,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let evs = self.transact(netuid, |st| {
            st.reveal_weights(signer, netuid, uids, values, salt, version_key)
        })?;
        Ok(self.outcome(evs))
    }

    /// Sync form of [`Chain::serve_axon`].
    pub fn serve_axon_now(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        axon: AxonInfo,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let ev = self.transact(netuid, |st| st.serve_axon(signer, netuid, axon))?;
        Ok(self.outcome(vec![ev]))
    }

    /// Sync form of [`Chain::register`].
    pub fn register_now(
        &self,
        hotkey: &AccountId,
        coldkey: &AccountId,
        netuid: NetUid,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let ev = self.transact(netuid, |st| st.register(hotkey, coldkey, netuid))?;
        Ok(self.outcome(vec![ev]))
    }

    /// Whether two chains hold the same state (for tests of persistence).
    pub fn same_state_as(&self, other: &LocalChain) -> bool {
        self.lock().state == other.lock().state
    }
}

impl Default for LocalChain {
    fn default() -> Self {
        Self::in_memory()
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_schedule_matches_pallet_table() {
        // Table from the pallet's doc comment on `blocks_until_next_epoch`:
        // (tempo, netuid) -> blocks until the first epoch from block 0.
        assert_eq!(blocks_until_next_epoch(0, 1, 0), 0);
        assert_eq!(blocks_until_next_epoch(1, 1, 0), 1);
        assert_eq!(blocks_until_next_epoch(0, 2, 0), 1);
        assert_eq!(blocks_until_next_epoch(1, 2, 0), 0);
        assert_eq!(blocks_until_next_epoch(0, 100, 0), 99);
        assert_eq!(blocks_until_next_epoch(1, 100, 0), 98);
        assert_eq!(blocks_until_next_epoch(5, 0, 10), u64::MAX);
    }

    #[test]
    fn epoch_index_advances_right_after_an_epoch_block() {
        let (netuid, tempo) = (3u16, 10u16);
        let b = (0..100).find(|&b| blocks_until_next_epoch(netuid, tempo, b) == 0).unwrap();
        assert_eq!(epoch_index(netuid, tempo, b) + 1, epoch_index(netuid, tempo, b + 1));
        assert_eq!(epoch_index(netuid, tempo, b), epoch_index(netuid, tempo, b - 1));
    }
}
