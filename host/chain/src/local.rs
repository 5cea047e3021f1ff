//! An embedded, deterministic chain that applies subtensor's rules.
//!
//! [`LocalChain`] is what the sandbox runs subnets against: subnets with owners and
//! hyperparameters, `burned_register` with immunity and pruning, stake per hotkey, blocks that
//! advance on demand (12 s nominal, no sleeping), emission per block accumulated as pending and
//! distributed through Yuma Consensus ([`super::yuma::run_epoch`]) at each subnet's epoch, and
//! `set_weights` / commit-reveal v2 / `serve_axon` with the runtime's checks in the runtime's
//! order and its error names. Behaviour follows `opentensor/subtensor` at commit
//! `14bc6f9f964b9cc362e9635dd110a487fa5d15a0` (spec 425): `pallets/subtensor/src/`
//! `subnets/weights.rs`, `subnets/registration.rs`, `subnets/uids.rs`, `subnets/serving.rs`,
//! `coinbase/run_coinbase.rs`, `guards/check_weights.rs`, `guards/check_rate_limits.rs`,
//! `guards/check_serving_endpoints.rs`.
//!
//! # Invariants
//!
//! * Extrinsics apply at the current block, after that block's `on_initialize` work (emission,
//!   epochs), as in a real block. [`LocalChain::advance_blocks`] produces new blocks.
//! * Errors are those a client of a real node sees: the runtime's dispatch extensions run
//!   before the call (`CheckWeights`: stake threshold, then for `reveal_weights` the commit
//!   lookup; `CheckRateLimits`: the weights rate limit; `CheckServingEndpoints`), then the
//!   dispatchable. So a too-fast `set_weights` is `SettingWeightsTooFast` even when its version
//!   key is also wrong, and `reveal_weights` with an unknown hash is `NoWeightsCommitFound`
//!   (the pallet body's `InvalidRevealCommitHashNotMatch` / `ExpiredWeightCommit` are only
//!   reachable by calling the pallet directly, as its unit tests do).
//! * A failed extrinsic changes nothing: each call runs on a copy-on-write view of the state
//!   (subnets are shared `Arc`s; only a subnet the call writes is copied) that replaces the
//!   state only on success.
//! * With a database ([`LocalChain::open`]) every successful extrinsic and every call of
//!   [`LocalChain::advance_blocks`] is committed before the call returns, writing only the
//!   records that changed; a killed process resumes at the last committed block.
//! * Epoch schedule (the stateful scheduler of spec 425, `should_run_epoch`): a subnet runs its
//!   epoch in the first block where `block - LastEpochBlock >= tempo` (or an epoch deferred
//!   from the previous block is due, or more than `MAX_TEMPO` blocks passed without a step);
//!   at most [`LocalChainConfig::max_epochs_per_block`] epochs run per block, the rest move
//!   one block later. A new subnet starts with `LastEpochBlock = block - netuid % tempo`;
//!   changing the tempo resets the cycle to the current block. Each epoch slot increments the
//!   subnet's epoch index, which commit-reveal uses (`commit epoch + reveal period`).
//! * Emission per block (default 1 TAO = 1e9 rao per subnet), in the pallet's `U96F32`
//!   arithmetic: the owner cut (`SubnetOwnerCut`, 11796/65535) is set aside, the rest is split
//!   half to miners, half to validators, each part truncated to rao and accumulated as pending,
//!   and paid as stake at the epoch. Miners get their epoch incentive emission, except the
//!   subnet owner's hotkeys, whose incentive is burned ([`LocalChain::burned_emission`]);
//!   validators share the pending validator alpha in proportion to their epoch dividends
//!   (`U96F32` shares, the hotkey take and the rest truncated separately); when no miner earns
//!   incentive, validators share both halves. The owner cut goes to the owner hotkey. An epoch
//!   therefore pays `tempo` blocks of emission, minus the rao lost to truncation.
//!
//! # Simplifications (documented, deliberate)
//!
//! No balances, burn cost or swap pool: registration is free, `add_stake` mints stake, alpha and
//! TAO are one unit, emission per block is fixed ([`LocalChainConfig::block_emission_rao`]).
//! No root network (netuid 0 behaves as the root with commit-reveal off: its `set_weights`
//! fails with `CanNotSetRootNetworkWeights`), no child keys, delegation or nominators (the
//! hotkey take only affects rounding), no mechanisms other than the main one, no owner-triggered
//! epochs. Commit-reveal is v2 (hash commits), not the timelocked v3/v4 the chain now
//! defaults to, and it is off by default. `StakeThreshold` is a subnet hyperparameter here
//! (global on chain). A subnet created without an owner hotkey keeps its owner cut in
//! [`LocalChain::owner_coldkey_emission`] (the pallet pays it to nobody then).
//!
//! # Failure modes
//!
//! Pallet rejections are [`ChainError::Module`]; database failures are
//! [`ChainError::Storage`] and leave the in-memory state at the last committed value.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use substrate_fixed::types::U96F32;
use tokio::sync::watch;

use super::local_store::{Batch, Store};
use super::yuma::{self, EpochInput, EpochParams, LiquidAlpha};
use super::{
    AccountId, AxonInfo, BlockNumber, Chain, ChainError, ChainEvent, ExtrinsicOutcome, Hyperparams, Metagraph, NetUid,
    NeuronInfo, SubtensorError as E, Uid, check_max_weight_limited, commit_hash, max_upscale_u16,
};

/// Nominal block time of subtensor, seconds.
pub const BLOCK_TIME_SECS: u64 = 12;
/// One TAO in rao.
pub const RAO_PER_TAO: u64 = 1_000_000_000;
/// Most unrevealed commits one hotkey may hold (pallet constant).
pub const MAX_UNREVEALED_COMMITS: usize = 10;
/// Bounds of `RevealPeriodEpochs` (pallet `MIN/MAX_COMMIT_REVEAL_PEROIDS`).
pub const REVEAL_PERIOD_RANGE: std::ops::RangeInclusive<u64> = 1..=100;
/// Blocks without an epoch step after which one is forced (pallet `MAX_TEMPO`).
pub const MAX_TEMPO: u16 = 50_400;
/// Bounds of `ActivityCutoffFactorMilli` (pallet `MIN/MAX_ACTIVITY_CUTOFF_FACTOR_MILLI`).
pub const ACTIVITY_CUTOFF_FACTOR_RANGE: std::ops::RangeInclusive<u32> = 1_000..=50_000;
/// Default hotkey (delegate) take, u16 proportion (`InitialDefaultDelegateTake`).
pub const DEFAULT_HOTKEY_TAKE: u16 = 11_796;

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
    /// Most epochs run in one block (`MaxEpochsPerBlock`, 2 on mainnet); later ones are
    /// deferred by a block.
    pub max_epochs_per_block: u8,
    /// Take of every hotkey on its dividends, u16 proportion (`Delegates`, default 11796).
    /// Without nominators it only decides how the dividend is truncated.
    pub hotkey_take: u16,
}

impl Default for LocalChainConfig {
    fn default() -> Self {
        Self {
            block_emission_rao: RAO_PER_TAO,
            owner_cut: yuma::DEFAULT_OWNER_CUT,
            allow_loopback_axons: false,
            max_epochs_per_block: 2,
            hotkey_take: DEFAULT_HOTKEY_TAKE,
        }
    }
}

/// One block's emission to a subnet split as `emit_to_subnets` does in `U96F32`: owner cut
/// `emission * cut / 65535`, then miners `(emission - cut) * 0.5` and validators the rest,
/// each truncated to rao on its own (so up to 3 rao per block are lost to truncation).
pub fn block_emission_split(block_emission: u64, owner_cut: u16) -> PendingEmission {
    let alpha_out = U96F32::saturating_from_num(block_emission);
    let pct = U96F32::saturating_from_num(owner_cut)
        .checked_div(U96F32::saturating_from_num(u16::MAX))
        .unwrap_or(U96F32::from_bits(0));
    let owner = alpha_out.saturating_mul(pct);
    let rest = alpha_out.saturating_sub(owner);
    let server = rest.saturating_mul(U96F32::saturating_from_num(0.5));
    let validator = rest.saturating_sub(server);
    PendingEmission {
        server: server.saturating_to_num(),
        validator: validator.saturating_to_num(),
        owner: owner.saturating_to_num(),
    }
}

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

/// A v2 weights commit: `(hash, commit_epoch, commit_block)` as `WeightCommits` stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Commit {
    hash: [u8; 32],
    epoch: u64,
    block: BlockNumber,
}

/// A subnet's records other than its neurons (stored as one record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SubnetMeta {
    netuid: NetUid,
    owner_coldkey: AccountId,
    owner_hotkey: Option<AccountId>,
    hyper: Hyperparams,
    #[serde(with = "map_vec")]
    stake: BTreeMap<AccountId, u64>,
    #[serde(with = "map_vec")]
    commits: BTreeMap<AccountId, Vec<Commit>>,
    /// Block of the last epoch that ran (`LastMechansimStepBlock`; 0 = none), fed to Yuma.
    last_mechanism_step_block: BlockNumber,
    /// Owner cut withheld because the subnet has no owner hotkey, rao.
    owner_coldkey_emission: u64,
    /// Miner incentive of the owner's hotkeys, burned as the pallet does, rao.
    burned: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Subnet {
    meta: SubnetMeta,
    neurons: Vec<Neuron>,
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

/// What changes every block for a subnet: pending emission and the epoch schedule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Clock {
    pending: PendingEmission,
    /// `LastEpochBlock`: anchor of the schedule.
    last_epoch_block: BlockNumber,
    /// `BlocksSinceLastStep`.
    blocks_since_last_step: u64,
    /// `SubnetEpochIndex`.
    epoch_index: u64,
    /// `PendingEpochAt` (0 = none): an epoch deferred by the per-block cap.
    pending_epoch_at: BlockNumber,
}

impl Clock {
    /// `should_run_epoch`.
    fn should_run_epoch(&self, tempo: u16, block: BlockNumber) -> bool {
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
    fn epoch_with_lookahead(&self, tempo: u16, block: BlockNumber) -> u64 {
        self.epoch_index + u64::from(self.should_run_epoch(tempo, block))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Global {
    format: u32,
    block: BlockNumber,
    config: LocalChainConfig,
}

const FORMAT: u32 = 2;

type Owners = BTreeMap<AccountId, AccountId>;

#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    global: Global,
    /// Hotkey -> owning coldkey (`Owner`).
    owners: Arc<Owners>,
    subnets: BTreeMap<NetUid, Arc<Subnet>>,
    clocks: BTreeMap<NetUid, Clock>,
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
        self.meta.stake.get(hotkey).copied().unwrap_or(0)
    }

    fn owner_uid(&self) -> Option<Uid> {
        self.meta.owner_hotkey.as_ref().and_then(|h| self.uid_of(h))
    }

    fn is_immune(&self, uid: usize, block: BlockNumber) -> bool {
        self.neurons
            .get(uid)
            .is_some_and(|n| block.saturating_sub(n.block_at_registration) < u64::from(self.meta.hyper.immunity_period))
    }

    /// `check_weights_min_stake`: the owner hotkey is exempt.
    fn has_min_stake(&self, who: &AccountId) -> bool {
        if self.owner_uid().is_some() && self.meta.owner_hotkey.as_ref() == Some(who) {
            return true;
        }
        self.stake_of(who) >= self.meta.hyper.stake_threshold
    }

    /// `check_rate_limit` for a registered uid.
    fn passes_rate_limit(&self, uid: Uid, block: BlockNumber) -> bool {
        let last = self.neurons[usize::from(uid)].last_update;
        last == 0 || block.saturating_sub(last) >= self.meta.hyper.weights_rate_limit
    }

    /// `get_immune_owner_tuples`: the owner coldkey's registered hotkeys, oldest registration
    /// first, up to `ImmuneOwnerUidsLimit`, with the subnet owner hotkey put first.
    fn immune_owner_uids(&self, owners: &Owners) -> Vec<Uid> {
        let limit = usize::from(self.meta.hyper.immune_owner_uids_limit);
        let mut triples: Vec<(BlockNumber, Uid)> = self
            .neurons
            .iter()
            .enumerate()
            .filter(|(_, n)| owners.get(&n.hotkey) == Some(&self.meta.owner_coldkey))
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

    /// `get_owner_hotkeys` (coinbase): every registered hotkey of the owner coldkey, plus the
    /// subnet owner hotkey. Their miner incentive is burned.
    fn owner_hotkeys(&self, owners: &Owners) -> Vec<AccountId> {
        let mut keys: Vec<AccountId> = self
            .neurons
            .iter()
            .filter(|n| owners.get(&n.hotkey) == Some(&self.meta.owner_coldkey))
            .map(|n| n.hotkey)
            .collect();
        if let Some(h) = self.meta.owner_hotkey
            && self.uid_of(&h).is_some()
            && !keys.contains(&h)
        {
            keys.insert(0, h);
        }
        keys
    }

    /// `get_neuron_to_prune`: lowest emission, then earliest registration, then lowest uid,
    /// among non-immune uids while more than `MinNonImmuneUids` of them remain, else among
    /// immune ones; owner-immortal uids never.
    fn neuron_to_prune(&self, owners: &Owners, block: BlockNumber) -> Option<Uid> {
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
        if free_count > self.meta.hyper.min_non_immune_uids
            && let Some((_, _, uid)) = best_free
        {
            return Some(uid);
        }
        best_immune.map(|(_, _, uid)| uid)
    }

    /// `replace_neuron`: new hotkey at `uid`, its values cleared, weights set *to* it zeroed.
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
            global: Global { format: FORMAT, block: 0, config },
            owners: Arc::new(BTreeMap::new()),
            subnets: BTreeMap::new(),
            clocks: BTreeMap::new(),
        }
    }

    fn subnet(&self, netuid: NetUid) -> Result<&Subnet, ChainError> {
        self.subnets.get(&netuid).map(|s| &**s).ok_or_else(|| err(E::SubnetNotExists))
    }

    /// Copy-on-write access: copies the subnet if the committed state still shares it.
    fn subnet_mut(&mut self, netuid: NetUid) -> Result<&mut Subnet, ChainError> {
        self.subnets.get_mut(&netuid).map(Arc::make_mut).ok_or_else(|| err(E::SubnetNotExists))
    }

    fn clock(&self, netuid: NetUid) -> Clock {
        self.clocks.get(&netuid).copied().unwrap_or_default()
    }

    /// `get_commit_reveal_weights_enabled`: the storage default (true) for an unknown netuid;
    /// the root netuid is taken to have it off (see the module docs).
    fn commit_reveal_enabled(&self, netuid: NetUid) -> bool {
        match self.subnets.get(&netuid) {
            Some(s) => s.meta.hyper.commit_reveal_enabled,
            None => netuid != 0,
        }
    }

    /// Epoch index a commit or reveal in the current block belongs to.
    fn current_epoch(&self, sn: &Subnet) -> u64 {
        self.clock(sn.meta.netuid).epoch_with_lookahead(sn.meta.hyper.tempo, self.global.block)
    }

    fn commit_expired(&self, sn: &Subnet, commit_epoch: u64) -> bool {
        self.current_epoch(sn) > commit_epoch.saturating_add(sn.meta.hyper.commit_reveal_period)
    }

    fn in_reveal_window(&self, sn: &Subnet, commit_epoch: u64) -> bool {
        self.current_epoch(sn) == commit_epoch.saturating_add(sn.meta.hyper.commit_reveal_period)
    }

    /// `CheckWeights::check_min_stake` (dispatch extension). The threshold of an unknown
    /// subnet is unknown here; the call then fails in the dispatchable.
    fn ext_min_stake(&self, who: &AccountId, netuid: NetUid) -> Result<(), ChainError> {
        match self.subnets.get(&netuid) {
            Some(sn) if !sn.has_min_stake(who) => Err(err(E::NotEnoughStakeToSetWeights)),
            _ => Ok(()),
        }
    }

    /// `CheckRateLimits` for weight calls of a registered hotkey (dispatch extension).
    fn ext_rate_limit(&self, who: &AccountId, netuid: NetUid, e: E) -> Result<(), ChainError> {
        if let Some(sn) = self.subnets.get(&netuid)
            && let Some(uid) = sn.uid_of(who)
            && !sn.passes_rate_limit(uid, self.global.block)
        {
            return Err(err(e));
        }
        Ok(())
    }

    /// The `set_weights` extrinsic: dispatch extensions, then the dispatchable.
    fn set_weights_extrinsic(
        &mut self,
        who: &AccountId,
        netuid: NetUid,
        uids: &[Uid],
        values: &[u16],
        version_key: u64,
    ) -> Result<ChainEvent, ChainError> {
        self.ext_min_stake(who, netuid)?;
        if !self.commit_reveal_enabled(netuid) {
            self.ext_rate_limit(who, netuid, E::SettingWeightsTooFast)?;
        }
        if self.commit_reveal_enabled(netuid) {
            return Err(err(E::CommitRevealEnabled));
        }
        self.set_weights(who, netuid, uids, values, version_key)
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
        let sn = self.subnets.get(&netuid).ok_or_else(|| err(E::MechanismDoesNotExist))?;
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
        if !cr && !sn.passes_rate_limit(uid, block) {
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
        let neuron = &mut sn.neurons[usize::from(uid)];
        neuron.weights = uids.iter().copied().zip(upscaled).collect();
        if !cr {
            neuron.last_update = block;
        }
        Ok(ChainEvent::WeightsSet { netuid, uid })
    }

    /// The `commit_weights` extrinsic.
    fn commit_weights(
        &mut self,
        who: &AccountId,
        netuid: NetUid,
        hash: [u8; 32],
    ) -> Result<Vec<ChainEvent>, ChainError> {
        self.ext_min_stake(who, netuid)?;
        self.ext_rate_limit(who, netuid, E::CommittingWeightsTooFast)?;
        let block = self.global.block;
        let sn = self.subnets.get(&netuid).ok_or_else(|| err(E::MechanismDoesNotExist))?;
        if !sn.meta.hyper.commit_reveal_enabled {
            return Err(err(E::CommitRevealDisabled));
        }
        let uid = sn.uid_of(who).ok_or_else(|| err(E::HotKeyNotRegisteredInSubNet))?;
        if !sn.passes_rate_limit(uid, block) {
            return Err(err(E::CommittingWeightsTooFast));
        }
        let commit_epoch = self.current_epoch(sn);
        let mut queue = sn.meta.commits.get(who).cloned().unwrap_or_default();
        let live_from = queue.iter().position(|c| !self.commit_expired(sn, c.epoch));
        queue.drain(..live_from.unwrap_or(queue.len()));
        if queue.len() >= MAX_UNREVEALED_COMMITS {
            return Err(err(E::TooManyUnrevealedCommits));
        }
        queue.push(Commit { hash, epoch: commit_epoch, block });
        let sn = self.subnet_mut(netuid)?;
        sn.meta.commits.insert(*who, queue);
        sn.neurons[usize::from(uid)].last_update = block;
        Ok(vec![ChainEvent::WeightsCommitted { who: *who, netuid, hash }])
    }

    /// The `reveal_weights` extrinsic.
    fn reveal_weights(
        &mut self,
        who: &AccountId,
        netuid: NetUid,
        uids: &[Uid],
        values: &[u16],
        salt: &[u16],
        version_key: u64,
    ) -> Result<Vec<ChainEvent>, ChainError> {
        self.ext_min_stake(who, netuid)?;
        let provided = commit_hash(who, netuid, uids, values, salt, version_key);
        // `CheckWeights::check_reveal`: the hash must be in the stored queue (expired entries
        // included) and its reveal window open.
        let sn = self.subnets.get(&netuid);
        let queue = sn.and_then(|s| s.meta.commits.get(who)).ok_or_else(|| err(E::NoWeightsCommitFound))?;
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
        let sn = self.subnet_mut(netuid)?;
        if queue.is_empty() {
            sn.meta.commits.remove(who);
        } else {
            sn.meta.commits.insert(*who, queue);
        }
        let set = self.set_weights(who, netuid, uids, values, version_key)?;
        Ok(vec![set, ChainEvent::WeightsRevealed { who: *who, netuid, hash: provided }])
    }

    /// `validate_serve_axon` (run by `CheckServingEndpoints` and again by the call) and
    /// `do_serve_axon`.
    fn serve_axon(&mut self, who: &AccountId, netuid: NetUid, axon: AxonInfo) -> Result<ChainEvent, ChainError> {
        let block = self.global.block;
        let allow_loopback = self.global.config.allow_loopback_axons;
        let sn = self.subnets.get(&netuid).ok_or_else(|| err(E::HotKeyNotRegisteredInNetwork))?;
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
        let limit = sn.meta.hyper.serving_rate_limit;
        if !(limit == 0 || prev_block == 0 || block.saturating_sub(prev_block) >= limit) {
            return Err(err(E::ServingRateLimitExceeded));
        }
        if axon.port == 0 {
            return Err(err(E::InvalidPort));
        }
        let sn = self.subnet_mut(netuid)?;
        sn.neurons[usize::from(uid)].axon = Some(AxonInfo { block, ..axon });
        Ok(ChainEvent::AxonServed { netuid, hotkey: *who })
    }

    /// `do_register` (burned_register) without the burn.
    fn register(&mut self, hotkey: &AccountId, coldkey: &AccountId, netuid: NetUid) -> Result<ChainEvent, ChainError> {
        let block = self.global.block;
        if netuid == 0 {
            return Err(err(E::RegistrationNotPermittedOnRootSubnet));
        }
        let sn = self.subnet(netuid)?;
        if !sn.meta.hyper.registration_allowed {
            return Err(err(E::SubNetRegistrationDisabled));
        }
        if sn.uid_of(hotkey).is_some() {
            return Err(err(E::HotKeyAlreadyRegisteredInSubNet));
        }
        if self.owners.get(hotkey).is_some_and(|c| c != coldkey) {
            return Err(err(E::NonAssociatedColdKey));
        }
        let max = usize::from(sn.meta.hyper.max_allowed_uids);
        if max == 0 {
            return Err(err(E::NoNeuronIdAvailable));
        }
        let prune = if sn.n() >= max {
            Some(sn.neuron_to_prune(&self.owners, block).ok_or_else(|| err(E::NoNeuronIdAvailable))?)
        } else {
            None
        };
        if self.owners.get(hotkey) != Some(coldkey) {
            Arc::make_mut(&mut self.owners).insert(*hotkey, *coldkey);
        }
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

    /// One block's `on_initialize`: `run_coinbase` (emission into pending, `drain_pending`
    /// with the per-block epoch cap, then the epochs).
    fn step_block(&mut self) -> Vec<ChainEvent> {
        self.global.block += 1;
        let block = self.global.block;
        let split = block_emission_split(self.global.config.block_emission_rao, self.global.config.owner_cut);
        let cap = u32::from(self.global.config.max_epochs_per_block);
        let mut epochs_this_block: u32 = 0;
        let mut due: Vec<(NetUid, PendingEmission)> = Vec::new();
        let netuids: Vec<NetUid> = self.subnets.keys().copied().collect();
        for &netuid in &netuids {
            let tempo = self.subnets[&netuid].meta.hyper.tempo;
            let clock = self.clocks.entry(netuid).or_default();
            clock.pending.owner = clock.pending.owner.saturating_add(split.owner);
            clock.pending.server = clock.pending.server.saturating_add(split.server);
            clock.pending.validator = clock.pending.validator.saturating_add(split.validator);
            clock.blocks_since_last_step = clock.blocks_since_last_step.saturating_add(1);
            if !clock.should_run_epoch(tempo, block) {
                continue;
            }
            if epochs_this_block >= cap {
                clock.pending_epoch_at = block + 1;
                tracing::debug!(netuid, block, "epoch deferred by the per-block cap");
                continue;
            }
            clock.blocks_since_last_step = 0;
            due.push((netuid, std::mem::take(&mut clock.pending)));
            epochs_this_block += 1;
            clock.last_epoch_block = block;
            clock.pending_epoch_at = 0;
            clock.epoch_index = clock.epoch_index.saturating_add(1);
        }
        let mut events = Vec::new();
        for (netuid, pending) in due {
            match self.run_epoch(netuid, pending) {
                Ok((emitted, burned)) => events.push(ChainEvent::EpochRun { netuid, block, emitted, burned }),
                Err(e) => {
                    // Malformed epoch input cannot arise from this chain's own state; if it
                    // did, keep the emission pending for the next epoch rather than lose it.
                    tracing::warn!(netuid, block, error = %e, "epoch failed");
                    let clock = self.clocks.entry(netuid).or_default();
                    clock.pending.owner = clock.pending.owner.saturating_add(pending.owner);
                    clock.pending.server = clock.pending.server.saturating_add(pending.server);
                    clock.pending.validator = clock.pending.validator.saturating_add(pending.validator);
                }
            }
        }
        events
    }

    /// `distribute_emission`: runs Yuma for a subnet and pays the drained pending emission.
    /// Returns `(rao credited as stake, rao burned)`.
    fn run_epoch(&mut self, netuid: NetUid, pending: PendingEmission) -> Result<(u64, u64), ChainError> {
        let block = self.global.block;
        let sn = self.subnet(netuid)?;
        let h = &sn.meta.hyper;
        let params = EpochParams {
            kappa: h.kappa,
            bonds_penalty: h.bonds_penalty,
            bonds_moving_average: h.bonds_moving_average,
            activity_cutoff: h.activity_cutoff_blocks(),
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
                    sn.meta
                        .commits
                        .get(&n.hotkey)
                        .and_then(|q| q.iter().find(|c| !self.commit_expired(sn, c.epoch)))
                        .map_or(u64::MAX, |c| c.block)
                })
                .collect()
        });
        let input = EpochInput {
            current_block: block,
            last_epoch_block: sn.meta.last_mechanism_step_block,
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

        // `distribute_emission`: validators get the pending validator alpha (both halves when
        // no miner earned incentive), shared by epoch dividends in `U96F32`.
        let incentive_sum: u64 = out.server_emission.iter().fold(0u64, |a, &x| a.saturating_add(x));
        let validator_alpha =
            if incentive_sum > 0 { pending.validator } else { pending.validator.saturating_add(pending.server) };
        let zero = U96F32::from_bits(0);
        let total_divs =
            out.validator_emission.iter().fold(zero, |a, &d| a.saturating_add(U96F32::saturating_from_num(d)));
        let take_pct = U96F32::saturating_from_num(self.global.config.hotkey_take)
            .checked_div(U96F32::saturating_from_num(u16::MAX))
            .unwrap_or(zero);
        let owner_hotkeys = sn.owner_hotkeys(&self.owners);
        let mut credits: Vec<(AccountId, u64)> = Vec::with_capacity(sn.n());
        let mut burned: u64 = 0;
        for (i, n) in sn.neurons.iter().enumerate() {
            let incentive = out.server_emission.get(i).copied().unwrap_or(0);
            let to_miner = if owner_hotkeys.contains(&n.hotkey) {
                burned = burned.saturating_add(incentive);
                0
            } else {
                incentive
            };
            let dividend = U96F32::saturating_from_num(out.validator_emission.get(i).copied().unwrap_or(0));
            let share = dividend.checked_div(total_divs).unwrap_or(zero);
            let prop = U96F32::saturating_from_num(validator_alpha).saturating_mul(share);
            let take = take_pct.saturating_mul(prop);
            let rest = prop.saturating_sub(take);
            let to_validator = take.saturating_to_num::<u64>().saturating_add(rest.saturating_to_num::<u64>());
            credits.push((n.hotkey, to_miner.saturating_add(to_validator)));
        }
        let owner_hotkey = sn.meta.owner_hotkey;

        let sn = self.subnet_mut(netuid)?;
        let mut paid: u64 = 0;
        for (hotkey, amount) in credits {
            if amount > 0 {
                let s = sn.meta.stake.entry(hotkey).or_default();
                *s = s.saturating_add(amount);
                paid = paid.saturating_add(amount);
            }
        }
        match owner_hotkey {
            Some(h) => {
                let s = sn.meta.stake.entry(h).or_default();
                *s = s.saturating_add(pending.owner);
                paid = paid.saturating_add(pending.owner);
            }
            None => sn.meta.owner_coldkey_emission = sn.meta.owner_coldkey_emission.saturating_add(pending.owner),
        }
        sn.meta.burned = sn.meta.burned.saturating_add(burned);
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
        sn.meta.last_mechanism_step_block = block;
        tracing::debug!(netuid, block, paid, burned, "epoch ran");
        Ok((paid, burned))
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

type StoreBatch<'a> = Batch<'a, Global, Owners, SubnetMeta, Neuron, Clock>;

/// The records of `new` that differ from `old`.
fn diff<'a>(old: &State, new: &'a State) -> StoreBatch<'a> {
    let mut b = StoreBatch::empty();
    if old.global != new.global {
        b.global = Some(&new.global);
    }
    if !Arc::ptr_eq(&old.owners, &new.owners) && old.owners != new.owners {
        b.owners = Some(&new.owners);
    }
    for (&netuid, sn) in &new.subnets {
        let prev = old.subnets.get(&netuid);
        if prev.is_some_and(|p| Arc::ptr_eq(p, sn)) {
            continue;
        }
        if prev.is_none_or(|p| p.meta != sn.meta) {
            b.subnets.push((netuid, &sn.meta));
        }
        for (uid, n) in sn.neurons.iter().enumerate() {
            if prev.and_then(|p| p.neurons.get(uid)) != Some(n) {
                b.neurons.push((netuid, uid as Uid, n));
            }
        }
        if let Some(p) = prev {
            b.removed_neurons.extend((sn.n()..p.n()).map(|uid| (netuid, uid as Uid)));
        }
    }
    b.removed_subnets = old.subnets.keys().filter(|k| !new.subnets.contains_key(k)).copied().collect();
    for (&netuid, c) in &new.clocks {
        if old.clocks.get(&netuid) != Some(c) {
            b.clocks.push((netuid, c));
        }
    }
    b
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
        let mut loaded = store.load::<Global, Owners, SubnetMeta, Neuron, Clock>()?;
        let state = match loaded.global {
            Some(global) => {
                if global.format != FORMAT {
                    return Err(ChainError::Storage(format!("database format {} is not {FORMAT}", global.format)));
                }
                let mut subnets = BTreeMap::new();
                for (netuid, meta) in loaded.subnets {
                    let rows = loaded.neurons.remove(&netuid).unwrap_or_default();
                    // Uids are dense: a gap means a damaged database.
                    if rows.keys().enumerate().any(|(i, &uid)| usize::from(uid) != i) {
                        return Err(ChainError::Storage(format!("subnet {netuid}: uids not dense")));
                    }
                    let neurons = rows.into_values().collect();
                    subnets.insert(netuid, Arc::new(Subnet { meta, neurons }));
                }
                State { global, owners: Arc::new(loaded.owners.unwrap_or_default()), subnets, clocks: loaded.clocks }
            }
            None => {
                let state = State::fresh(config);
                let mut b = StoreBatch::empty();
                b.global = Some(&state.global);
                b.owners = Some(&state.owners);
                store.write(b)?;
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

    /// Runs `f` on a copy-on-write view of the state; on success writes the changed records
    /// and swaps the view in. On any error the state is as before.
    fn transact<R>(&self, f: impl FnOnce(&mut State) -> Result<R, ChainError>) -> Result<R, ChainError> {
        let mut inner = self.lock();
        let mut next = inner.state.clone();
        let r = f(&mut next)?;
        if let Some(store) = &inner.store {
            let batch = diff(&inner.state, &next);
            if !batch.is_empty() {
                store.write(batch)?;
            }
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
        self.transact(|st| {
            let netuid = (1..=u16::MAX)
                .find(|n| !st.subnets.contains_key(n))
                .ok_or_else(|| ChainError::InvalidInput("no free netuid".into()))?;
            if let Some(h) = owner_hotkey
                && st.owners.get(h).is_some_and(|c| c != owner_coldkey)
            {
                return Err(err(E::NonAssociatedColdKey));
            }
            let block = st.global.block;
            let hyper = Hyperparams::default();
            let mut sn = Subnet {
                meta: SubnetMeta {
                    netuid,
                    owner_coldkey: *owner_coldkey,
                    owner_hotkey: owner_hotkey.copied(),
                    hyper,
                    stake: BTreeMap::new(),
                    commits: BTreeMap::new(),
                    last_mechanism_step_block: 0,
                    owner_coldkey_emission: 0,
                    burned: 0,
                },
                neurons: Vec::new(),
            };
            if let Some(h) = owner_hotkey {
                Arc::make_mut(&mut st.owners).insert(*h, *owner_coldkey);
                sn.neurons.push(Neuron::new(*h, block));
            }
            // `init_new_network`: the schedule is staggered by netuid.
            let period = u64::from(sn.meta.hyper.tempo).max(1);
            let stagger = u64::from(netuid) % period;
            st.clocks.insert(netuid, Clock { last_epoch_block: block.saturating_sub(stagger), ..Clock::default() });
            st.subnets.insert(netuid, Arc::new(sn));
            Ok(netuid)
        })
    }

    /// Replaces a subnet's hyperparameters (the sandbox acting as owner and root).
    /// Rejects values the pallet's admin calls reject: `max_allowed_uids` below the current
    /// size or 0, a reveal period outside 1..=100 (`RevealPeriodTooSmall/Large`), an activity
    /// cutoff factor outside 1000..=50000 (`ActivityCutoffFactorMilliOutOfBounds`). A new
    /// tempo restarts the epoch cycle at the current block (`apply_tempo_with_cycle_reset`).
    pub fn set_hyperparams(&self, netuid: NetUid, hyper: Hyperparams) -> Result<(), ChainError> {
        self.transact(|st| {
            let block = st.global.block;
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
            if !ACTIVITY_CUTOFF_FACTOR_RANGE.contains(&hyper.activity_cutoff_factor_milli) {
                return Err(err(E::ActivityCutoffFactorMilliOutOfBounds));
            }
            let tempo_changed = sn.meta.hyper.tempo != hyper.tempo;
            sn.meta.hyper = hyper;
            if tempo_changed {
                st.clocks.entry(netuid).or_default().last_epoch_block = block;
            }
            Ok(())
        })
    }

    /// Edits a subnet's hyperparameters in place; see [`LocalChain::set_hyperparams`].
    pub fn update_hyperparams(&self, netuid: NetUid, f: impl FnOnce(&mut Hyperparams)) -> Result<(), ChainError> {
        let mut h = self.lock().state.subnet(netuid)?.meta.hyper.clone();
        f(&mut h);
        self.set_hyperparams(netuid, h)
    }

    /// `add_stake`: stakes `amount` rao from `coldkey` to `hotkey` on `netuid` (minted: the
    /// local chain keeps no balances; the sandbox's way to give validators stake). Fails with
    /// `SubnetNotExists`, `AmountTooLow` (0) or `HotKeyAccountNotExists` (never registered).
    pub fn add_stake(
        &self,
        coldkey: &AccountId,
        hotkey: &AccountId,
        netuid: NetUid,
        amount: u64,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let ev = self.transact(|st| {
            st.subnet(netuid)?;
            if amount == 0 {
                return Err(err(E::AmountTooLow));
            }
            if !st.owners.contains_key(hotkey) {
                return Err(err(E::HotKeyAccountNotExists));
            }
            let sn = st.subnet_mut(netuid)?;
            let s = sn.meta.stake.entry(*hotkey).or_default();
            *s = s.saturating_add(amount);
            Ok(ChainEvent::StakeAdded { coldkey: *coldkey, hotkey: *hotkey, netuid, amount })
        })?;
        Ok(self.outcome(vec![ev]))
    }

    /// Stake of a hotkey on a subnet, rao.
    pub fn stake(&self, hotkey: &AccountId, netuid: NetUid) -> u64 {
        self.lock().state.subnets.get(&netuid).map_or(0, |s| s.stake_of(hotkey))
    }

    /// Total stake on a subnet, rao (registered or not).
    pub fn total_stake(&self, netuid: NetUid) -> u64 {
        self.lock()
            .state
            .subnets
            .get(&netuid)
            .map_or(0, |s| s.meta.stake.values().fold(0u64, |a, &x| a.saturating_add(x)))
    }

    /// Pending (undistributed) emission of a subnet.
    pub fn pending_emission(&self, netuid: NetUid) -> PendingEmission {
        self.lock().state.clock(netuid).pending
    }

    /// Owner cut withheld because the subnet has no owner hotkey, rao.
    pub fn owner_coldkey_emission(&self, netuid: NetUid) -> u64 {
        self.lock().state.subnets.get(&netuid).map_or(0, |s| s.meta.owner_coldkey_emission)
    }

    /// Miner incentive of the owner's hotkeys burned so far, rao.
    pub fn burned_emission(&self, netuid: NetUid) -> u64 {
        self.lock().state.subnets.get(&netuid).map_or(0, |s| s.meta.burned)
    }

    /// The subnet's epoch index (`SubnetEpochIndex`): epoch slots consumed so far.
    pub fn epoch_index(&self, netuid: NetUid) -> Result<u64, ChainError> {
        let inner = self.lock();
        inner.state.subnet(netuid)?;
        Ok(inner.state.clock(netuid).epoch_index)
    }

    /// The block of the subnet's next epoch (`get_next_epoch_start_block`):
    /// `LastEpochBlock + tempo`, or a deferred epoch's block if earlier. `InvalidInput` when
    /// tempo is 0 (epochs never run). The per-block cap may push an epoch further.
    pub fn next_epoch_block(&self, netuid: NetUid) -> Result<BlockNumber, ChainError> {
        let inner = self.lock();
        let tempo = inner.state.subnet(netuid)?.meta.hyper.tempo;
        if tempo == 0 {
            return Err(ChainError::InvalidInput("tempo 0: epochs never run".into()));
        }
        let clock = inner.state.clock(netuid);
        let auto = clock.last_epoch_block.saturating_add(u64::from(tempo));
        let next = if clock.pending_epoch_at > 0 { auto.min(clock.pending_epoch_at) } else { auto };
        // A slot already due fires in the next block.
        Ok(next.max(inner.state.global.block + 1))
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

    /// Number of unrevealed commits of a hotkey (expired ones included until a commit or
    /// reveal of that hotkey drops them, as in the pallet).
    pub fn pending_commits(&self, netuid: NetUid, hotkey: &AccountId) -> usize {
        self.lock().state.subnets.get(&netuid).and_then(|s| s.meta.commits.get(hotkey)).map_or(0, Vec::len)
    }

    /// Produces `n` blocks: each adds emission to every subnet's pending pool and runs the
    /// epochs due at that height. The `n` blocks are one transaction: they are committed
    /// together, and on a storage failure none of them happened. Returns the blocks' events
    /// (epochs run).
    pub fn advance_blocks(&self, n: u64) -> Result<Vec<ChainEvent>, ChainError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let (events, block) = self.transact(|st| {
            let mut events = Vec::new();
            for _ in 0..n {
                events.extend(st.step_block());
            }
            Ok((events, st.global.block))
        })?;
        self.blocks.send_replace(block);
        Ok(events)
    }

    /// Advances block by block until `netuid` runs an epoch and returns the events of the
    /// blocks produced. Errors with `SubnetNotExists`, or `InvalidInput` when tempo is 0.
    pub fn advance_to_next_epoch(&self, netuid: NetUid) -> Result<Vec<ChainEvent>, ChainError> {
        let next = self.next_epoch_block(netuid)?;
        let block = self.block();
        let mut events = self.advance_blocks(next.saturating_sub(block))?;
        // Deferred by the per-block cap: one more block each time, bounded by the subnets.
        let subnets = self.lock().state.subnets.len() as u64;
        for _ in 0..=subnets {
            if events.iter().any(|e| matches!(e, ChainEvent::EpochRun { netuid: u, .. } if *u == netuid)) {
                return Ok(events);
            }
            events.extend(self.advance_blocks(1)?);
        }
        Err(ChainError::InvalidInput(format!("subnet {netuid} did not run its epoch")))
    }

    /// Sync form of [`Chain::metagraph`].
    pub fn metagraph_now(&self, netuid: NetUid) -> Result<Metagraph, ChainError> {
        self.lock().state.metagraph(netuid)
    }

    /// Sync form of [`Chain::hyperparams`].
    pub fn hyperparams_now(&self, netuid: NetUid) -> Result<Hyperparams, ChainError> {
        Ok(self.lock().state.subnet(netuid)?.meta.hyper.clone())
    }

    /// Sync form of [`Chain::set_weights`].
    pub fn set_weights_now(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        uids: &[Uid],
        weights: &[u16],
        version_key: u64,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let ev = self.transact(|st| st.set_weights_extrinsic(signer, netuid, uids, weights, version_key))?;
        Ok(self.outcome(vec![ev]))
    }

    /// Sync form of [`Chain::commit_weights`].
    pub fn commit_weights_now(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        hash: [u8; 32],
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let evs = self.transact(|st| st.commit_weights(signer, netuid, hash))?;
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
        let evs = self.transact(|st| st.reveal_weights(signer, netuid, uids, values, salt, version_key))?;
        Ok(self.outcome(evs))
    }

    /// Sync form of [`Chain::serve_axon`].
    pub fn serve_axon_now(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        axon: AxonInfo,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let ev = self.transact(|st| st.serve_axon(signer, netuid, axon))?;
        Ok(self.outcome(vec![ev]))
    }

    /// Sync form of [`Chain::register`].
    pub fn register_now(
        &self,
        hotkey: &AccountId,
        coldkey: &AccountId,
        netuid: NetUid,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let ev = self.transact(|st| st.register(hotkey, coldkey, netuid))?;
        Ok(self.outcome(vec![ev]))
    }

    /// Whether two chains hold the same state: blocks, settings, owners, every subnet record
    /// and neuron, pending emission and schedules (for tests of persistence and of failed
    /// extrinsics).
    pub fn same_state_as(&self, other: &LocalChain) -> bool {
        if std::ptr::eq(self, other) {
            return true;
        }
        let a = self.lock().state.clone();
        let b = other.lock().state.clone();
        a == b
    }

    /// A copy of this chain's current state, held in memory only (for comparisons in tests
    /// and for what-if runs that must not touch the original).
    pub fn snapshot(&self) -> LocalChain {
        Self::from_parts(self.lock().state.clone(), None)
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
    fn emission_split_truncates_each_part_like_the_pallet() {
        let p = block_emission_split(1_000_000_000, yuma::DEFAULT_OWNER_CUT);
        // 1e9 * 11796/65535 = 179_995_422.7..; the rest 820_004_577.3.. halves to 410_002_288.6..
        assert_eq!(p.owner, 179_995_422);
        assert_eq!(p.server, 410_002_288);
        assert_eq!(p.validator, 410_002_288);
        assert_eq!(1_000_000_000 - (p.owner + p.server + p.validator), 2);
        let none = block_emission_split(1_000, 0);
        assert_eq!((none.owner, none.server, none.validator), (0, 500, 500));
    }

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
