//! An embedded, deterministic chain that applies subtensor's rules.
//!
//! [`LocalChain`] is what the sandbox runs subnets against: subnets with owners and
//! hyperparameters, `burned_register` with immunity and pruning, stake per hotkey, blocks that
//! advance on demand (stamped `genesis + block * block_time`, no sleeping), emission per block
//! accumulated as pending and distributed through Yuma Consensus ([`super::yuma::run_epoch`],
//! per mechanism) at each subnet's epoch, and `set_weights` / commit-reveal v2 / timelocked
//! commit-reveal (v4, drand) / `serve_axon` with the runtime's checks in the runtime's order
//! and its error names. Behaviour follows `opentensor/subtensor` at commit
//! `14bc6f9f964b9cc362e9635dd110a487fa5d15a0` (spec 425): `pallets/subtensor/src/`
//! `subnets/weights.rs`, `subnets/mechanism.rs`, `subnets/registration.rs`, `subnets/uids.rs`,
//! `subnets/serving.rs`, `coinbase/run_coinbase.rs`, `coinbase/reveal_commits.rs`,
//! `guards/check_weights.rs`, `guards/check_rate_limits.rs`, `guards/check_serving_endpoints.rs`.
//!
//! # Layout
//!
//! One file per job, as subtensor splits it: `registration` (subnets, `burned_register`,
//! pruning, stake), `weights` (`set_weights`, commit-reveal v2, the timelocked commit),
//! `reveal` (the block step's timelocked reveals, drand pulses), `mechanism` (count, split,
//! aggregation of the per-mechanism epochs), `serving` (`serve_axon`), `coinbase` (the block
//! step: emission, epoch schedule, Yuma and its payout), `state` (the records and shared
//! lookups), `store` (persistence in redb), `api` (the [`Chain`](crate::Chain) impl).
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
//!   subnet's epoch index, which commit-reveal uses (`commit epoch + reveal period`); the
//!   epoch an extrinsic belongs to is [`crate::EpochSchedule::epoch`] of
//!   [`LocalChain::epoch_schedule_now`], the same definition the subtensor backend reads.
//! * Mechanisms: weights, bonds, `LastUpdate`, incentive and commits are kept per mechanism;
//!   stake, registration, permits and the other epoch outputs per subnet. The epoch runs Yuma
//!   for each mechanism on its share of the emission and aggregates (`epoch_with_mechanisms`).
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
//! hotkey take only affects rounding), no owner-triggered epochs, no admin freeze window or
//! admin rate limits. Drand pulses come from the beacon in [`LocalChainConfig::beacon`], not
//! from an offchain worker. `StakeThreshold` and `CommitRevealWeightsVersion` are subnet
//! hyperparameters here (global on chain). A subnet created without an owner hotkey keeps its owner cut in
//! [`LocalChain::owner_coldkey_emission`] (the pallet pays it to nobody then).
//!
//! # Failure modes
//!
//! Pallet rejections are [`ChainError::Module`]; database failures are
//! [`ChainError::Storage`] and leave the in-memory state at the last committed value.

mod api;
mod coinbase;
mod mechanism;
mod registration;
mod reveal;
mod serving;
mod state;
mod store;
mod weights;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

pub use coinbase::{PendingEmission, block_emission_split};
pub use mechanism::split_emissions;
pub use reveal::LOCAL_BEACON_PERIOD_SECS;
use state::State;
use store::{Store, diff};

use super::yuma;
use super::{
    AccountId, BlockNumber, ChainError, ChainEvent, ExtrinsicOutcome, Hyperparams, Metagraph, NetUid,
    SubtensorError as E,
};
use crate::MechId;

/// Nominal block time of subtensor, seconds.
pub const BLOCK_TIME_SECS: u64 = 12;
/// One TAO in rao.
pub const RAO_PER_TAO: u64 = 1_000_000_000;
/// Most unrevealed commits one hotkey may hold (pallet constant).
pub const MAX_UNREVEALED_COMMITS: usize = 10;
/// Largest timelocked commit the call takes (`MAX_CRV3_COMMIT_SIZE_BYTES`).
pub const MAX_TIMELOCKED_COMMIT_BYTES: usize = 5000;
/// Bounds of `RevealPeriodEpochs` (pallet `MIN/MAX_COMMIT_REVEAL_PEROIDS`).
pub const REVEAL_PERIOD_RANGE: std::ops::RangeInclusive<u64> = 1..=100;
pub use crate::epoch::MAX_TEMPO;
/// Default genesis time of a local chain: 2026-01-01T00:00:00Z, fixed so runs replay.
pub const DEFAULT_GENESIS_UNIX_MS: u64 = 1_767_225_600_000;
/// Default most mechanisms per subnet (`MaxMechanismCount`, settable up to 16 on chain).
pub const DEFAULT_MAX_MECHANISM_COUNT: MechId = 2;
/// Highest mechanism count the pallet's index arithmetic allows (`MAX_MECHANISM_COUNT_PER_SUBNET`).
pub const MAX_MECHANISM_COUNT_PER_SUBNET: MechId = 16;
/// Most uids over all mechanisms of a subnet (`DefaultMaxAllowedUids`):
/// `max_allowed_uids * mechanism_count` may not exceed it.
pub const MAX_UIDS_OVER_ALL_MECHANISMS: u16 = 256;
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
    /// Unix time of block 0, milliseconds; block `b` is stamped `genesis + b * block_time`.
    #[serde(default = "default_genesis")]
    pub genesis_unix_ms: u64,
    /// Block time, milliseconds (12000 as finney). Only timestamps depend on it: blocks are
    /// produced on demand.
    #[serde(default = "default_block_time")]
    pub block_time_ms: u64,
    /// Where drand pulses come from (timelocked commit-reveal).
    #[serde(default)]
    pub beacon: BeaconSource,
    /// Most mechanisms a subnet may have (`MaxMechanismCount`, 1..=16).
    #[serde(default = "default_max_mechanisms")]
    pub max_mechanism_count: MechId,
}

fn default_genesis() -> u64 {
    DEFAULT_GENESIS_UNIX_MS
}

fn default_block_time() -> u64 {
    crate::epoch::DEFAULT_BLOCK_TIME_MS
}

fn default_max_mechanisms() -> MechId {
    DEFAULT_MAX_MECHANISM_COUNT
}

/// The drand beacon a local chain reads pulses from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BeaconSource {
    /// drand quicknet, the beacon of finney. The chain cannot fetch pulses: tests store
    /// recorded real ones with `LocalChain::store_pulse`, which verifies them (with `subnet-drand`).
    Quicknet,
    /// A beacon of the chain's own, keyed by `seed`, with round 1 at the chain's genesis and
    /// 3 s rounds (quicknet's period): every round whose time a block has reached is signed
    /// and stored as blocks advance, so timelocked commits reveal on schedule.
    Local {
        /// Secret key seed of the beacon.
        seed: [u8; 32],
    },
}

/// Seed of the default local beacon (public: anyone can decrypt a local chain's commits once
/// its rounds pass, as with a real beacon).
pub const DEFAULT_BEACON_SEED: [u8; 32] = *b"subnetd local drand beacon seed!";

impl Default for BeaconSource {
    fn default() -> Self {
        Self::Local { seed: DEFAULT_BEACON_SEED }
    }
}

impl Default for LocalChainConfig {
    fn default() -> Self {
        Self {
            block_emission_rao: RAO_PER_TAO,
            owner_cut: yuma::DEFAULT_OWNER_CUT,
            allow_loopback_axons: false,
            max_epochs_per_block: 2,
            hotkey_take: DEFAULT_HOTKEY_TAKE,
            genesis_unix_ms: DEFAULT_GENESIS_UNIX_MS,
            block_time_ms: crate::epoch::DEFAULT_BLOCK_TIME_MS,
            beacon: BeaconSource::default(),
            max_mechanism_count: DEFAULT_MAX_MECHANISM_COUNT,
        }
    }
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
        let state = store::load_or_create(&store, config)?;
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

    /// Runs an extrinsic as one transaction; its outcome names the block it was applied in,
    /// read inside the transaction (a block produced right after cannot be mistaken for it).
    fn extrinsic(
        &self,
        f: impl FnOnce(&mut State) -> Result<Vec<ChainEvent>, ChainError>,
    ) -> Result<ExtrinsicOutcome, ChainError> {
        let (events, block) = self.transact(|st| {
            let events = f(st)?;
            Ok((events, st.global.block))
        })?;
        Ok(ExtrinsicOutcome { block, events })
    }

    /// The current block height.
    pub fn block(&self) -> BlockNumber {
        self.lock().state.global.block
    }

    /// The chain's settings.
    pub fn config(&self) -> LocalChainConfig {
        self.lock().state.global.config.clone()
    }

    /// Replaces a subnet's hyperparameters (the sandbox acting as owner and root).
    /// Rejects values the pallet's admin calls reject: `max_allowed_uids` below the current
    /// size or 0, a reveal period outside 1..=100 (`RevealPeriodTooSmall/Large`), an activity
    /// cutoff factor outside 1000..=50000 (`ActivityCutoffFactorMilliOutOfBounds`),
    /// `max_allowed_uids * mechanism_count > 256` (`TooManyUIDsPerMechanism`), a mechanism
    /// count or split [`LocalChain::set_mechanism_count`] /
    /// [`LocalChain::set_mechanism_emission_split`] reject (`InvalidValue`). A new tempo
    /// restarts the epoch cycle at the current block (`apply_tempo_with_cycle_reset`); a new
    /// mechanism count is applied before the split (a count change resets the split).
    pub fn set_hyperparams(&self, netuid: NetUid, hyper: Hyperparams) -> Result<(), ChainError> {
        self.transact(|st| {
            let block = st.global.block;
            let (count, split) = (hyper.mechanism_count, hyper.mechanism_emission_split.clone());
            if u32::from(hyper.max_allowed_uids) * u32::from(count.max(1)) > u32::from(MAX_UIDS_OVER_ALL_MECHANISMS) {
                return Err(err(E::TooManyUIDsPerMechanism));
            }
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
            let (old_count, old_split) =
                (sn.meta.hyper.mechanism_count, sn.meta.hyper.mechanism_emission_split.clone());
            sn.meta.hyper = Hyperparams { mechanism_count: old_count, mechanism_emission_split: old_split, ..hyper };
            if tempo_changed {
                st.clocks.entry(netuid).or_default().last_epoch_block = block;
            }
            st.set_mechanism_count(netuid, count)?;
            if st.subnet(netuid)?.meta.hyper.mechanism_emission_split != split {
                st.set_emission_split(netuid, split)?;
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

    /// Sync form of [`Chain::metagraph`](crate::Chain::metagraph).
    pub fn metagraph_now(&self, netuid: NetUid) -> Result<Metagraph, ChainError> {
        self.lock().state.metagraph(netuid, 0)
    }

    /// Sync form of [`Chain::hyperparams`](crate::Chain::hyperparams).
    pub fn hyperparams_now(&self, netuid: NetUid) -> Result<Hyperparams, ChainError> {
        Ok(self.lock().state.subnet(netuid)?.meta.hyper.clone())
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
