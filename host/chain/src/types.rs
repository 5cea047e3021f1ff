//! The data the chain interface speaks: metagraphs, hyperparameters, events, outcomes.
//!
//! Everything here is plain data with the pallet's stored units and names (serde for the
//! wire and for the local chain's database); see the crate docs for the invariants.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::{AccountId, BlockNumber, MechId, NetUid, Uid};

/// A neuron's served endpoint, as the pallet's `AxonInfo` (placeholders omitted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AxonInfo {
    /// Block at which it was served (set by the chain; ignored on submission).
    pub block: BlockNumber,
    /// Software version the neuron advertises.
    pub version: u32,
    /// IP address as the pallet stores it: IPv4 in the low 32 bits, or the full IPv6 value.
    pub ip: u128,
    /// TCP port.
    pub port: u16,
    /// 4 or 6.
    pub ip_type: u8,
    /// Protocol tag (0 = TCP in the Python SDK, 4 = HTTP by convention of some subnets).
    pub protocol: u8,
}

impl AxonInfo {
    /// Builds the on-chain form of a socket address.
    pub fn from_socket_addr(addr: SocketAddr, version: u32, protocol: u8) -> Self {
        let (ip, ip_type) = match addr.ip() {
            IpAddr::V4(v4) => (u32::from(v4) as u128, 4),
            IpAddr::V6(v6) => (u128::from(v6), 6),
        };
        Self { block: 0, version, ip, port: addr.port(), ip_type, protocol }
    }

    /// The socket address, or `None` when `ip_type` is neither 4 nor 6 or the IPv4 value does
    /// not fit 32 bits.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let ip = match self.ip_type {
            4 => IpAddr::V4(Ipv4Addr::from(u32::try_from(self.ip).ok()?)),
            6 => IpAddr::V6(Ipv6Addr::from(self.ip)),
            _ => return None,
        };
        Some(SocketAddr::new(ip, self.port))
    }
}

/// One neuron of a subnet's metagraph, with the pallet's stored units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeuronInfo {
    /// Position in the subnet.
    pub uid: Uid,
    /// The neuron's hotkey.
    pub hotkey: AccountId,
    /// The coldkey owning the hotkey.
    pub coldkey: AccountId,
    /// Stake on this subnet in rao.
    pub stake: u64,
    /// Whether the last epoch gave it a validator permit.
    pub validator_permit: bool,
    /// Served endpoint, if any.
    pub axon: Option<AxonInfo>,
    /// Block at which it was (last) registered.
    pub block_at_registration: BlockNumber,
    /// Last block it set (or committed) weights; its registration block before that.
    pub last_update: BlockNumber,
    /// Consensus, u16 proportion (65535 = 1.0).
    pub consensus: u16,
    /// Incentive, u16 proportion.
    pub incentive: u16,
    /// Dividends, u16 proportion.
    pub dividends: u16,
    /// Validator trust, u16 proportion.
    pub validator_trust: u16,
    /// Emission at the last epoch, rao.
    pub emission: u64,
    /// Active at the last epoch.
    pub active: bool,
}

impl NeuronInfo {
    /// A neuron just registered at block 0: no stake, permit, axon, weights or emission yet.
    /// For tests and synthetic metagraphs; set the fields that matter with struct update syntax.
    pub fn new(uid: Uid, hotkey: AccountId, coldkey: AccountId) -> Self {
        Self {
            uid,
            hotkey,
            coldkey,
            stake: 0,
            validator_permit: false,
            axon: None,
            block_at_registration: 0,
            last_update: 0,
            consensus: 0,
            incentive: 0,
            dividends: 0,
            validator_trust: 0,
            emission: 0,
            active: true,
        }
    }
}

/// A subnet's neurons at a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metagraph {
    /// The subnet.
    pub netuid: NetUid,
    /// Block the snapshot was read at.
    pub block: BlockNumber,
    /// The subnet owner's coldkey.
    pub owner_coldkey: AccountId,
    /// The subnet owner's hotkey, if set.
    pub owner_hotkey: Option<AccountId>,
    /// Neurons in uid order (`neurons[i].uid == i`).
    pub neurons: Vec<NeuronInfo>,
}

impl Metagraph {
    /// The uid of a hotkey, if registered.
    pub fn uid_of(&self, hotkey: &AccountId) -> Option<Uid> {
        self.neurons.iter().find(|n| &n.hotkey == hotkey).map(|n| n.uid)
    }

    /// Checks the invariant every user relies on (`neurons[i].uid == i`, at most 65536
    /// neurons), so that indexing by uid cannot go wrong. Backends that read a metagraph from
    /// outside the process call this on receipt.
    pub fn check_dense(&self) -> Result<(), crate::ChainError> {
        if self.neurons.len() > usize::from(Uid::MAX) + 1 {
            return Err(crate::ChainError::Malformed(format!(
                "subnet {} metagraph has {} neurons, more than uids exist",
                self.netuid,
                self.neurons.len()
            )));
        }
        match self.neurons.iter().enumerate().find(|(i, n)| usize::from(n.uid) != *i) {
            None => Ok(()),
            Some((i, n)) => Err(crate::ChainError::Malformed(format!(
                "subnet {} metagraph is not dense: position {i} holds uid {}",
                self.netuid, n.uid
            ))),
        }
    }
}

/// Subnet hyperparameters, named and typed as the pallet stores them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hyperparams {
    /// Blocks between epochs (`Tempo`).
    pub tempo: u16,
    /// Minimum blocks between two `set_weights` of one uid (`WeightsSetRateLimit`).
    pub weights_rate_limit: u64,
    /// Minimum version key accepted by `set_weights`, 0 = any (`WeightsVersionKey`).
    pub weights_version_key: u64,
    /// Minimum number of weights per call, capped by the subnet size (`MinAllowedWeights`).
    pub min_allowed_weights: u16,
    /// Maximum normalised weight, u16 proportion; 65535 = no limit (`MaxWeightsLimit`).
    pub max_weight_limit: u16,
    /// Blocks after registration during which a neuron is not pruned (`ImmunityPeriod`).
    pub immunity_period: u16,
    /// Subnet size cap (`MaxAllowedUids`).
    pub max_allowed_uids: u16,
    /// Number of validator permits (`MaxAllowedValidators`).
    pub max_allowed_validators: u16,
    /// Consensus majority, u16 proportion (`Kappa`).
    pub kappa: u16,
    /// Bonds EMA, parts per million (`BondsMovingAverage`).
    pub bonds_moving_average: u64,
    /// Bonds penalty, u16 proportion (`BondsPenalty`).
    pub bonds_penalty: u16,
    /// Activity cutoff as thousandths of the tempo (`ActivityCutoffFactorMilli`, 1000..=50000):
    /// a neuron without weights for [`Hyperparams::activity_cutoff_blocks`] blocks is inactive.
    pub activity_cutoff_factor_milli: u32,
    /// Commit-reveal of weights on (`CommitRevealWeightsEnabled`): plain `set_weights` is
    /// refused (`CommitRevealEnabled`); weights go through timelocked (v4) or v2 commits.
    pub commit_reveal_enabled: bool,
    /// Version a timelocked commit must name (`CommitRevealWeightsVersion`, global on chain).
    #[serde(default = "default_commit_reveal_version")]
    pub commit_reveal_version: u16,
    /// Epochs between commit and reveal (`RevealPeriodEpochs`).
    pub commit_reveal_period: u64,
    /// Yuma3 bonds (`Yuma3On`).
    pub yuma3_enabled: bool,
    /// Liquid alpha (`LiquidAlphaOn`).
    pub liquid_alpha_enabled: bool,
    /// Liquid alpha low bound, u16 proportion (`AlphaValues.0`).
    pub alpha_low: u16,
    /// Liquid alpha high bound, u16 proportion (`AlphaValues.1`).
    pub alpha_high: u16,
    /// Liquid alpha sigmoid steepness (`AlphaSigmoidSteepness`).
    pub alpha_sigmoid_steepness: i16,
    /// Minimum stake in rao to set weights (`StakeThreshold`, global on chain).
    pub stake_threshold: u64,
    /// Minimum blocks between two `serve_axon` of one hotkey (`ServingRateLimit`).
    pub serving_rate_limit: u64,
    /// Registration open (`NetworkRegistrationAllowed`).
    pub registration_allowed: bool,
    /// Minimum number of non-immune uids kept when pruning (`MinNonImmuneUids`).
    pub min_non_immune_uids: u16,
    /// Owner hotkeys immune from pruning (`ImmuneOwnerUidsLimit`).
    pub immune_owner_uids_limit: u16,
    /// Number of mechanisms (`MechanismCountCurrent`, at least 1).
    #[serde(default = "default_mechanism_count")]
    pub mechanism_count: MechId,
    /// Emission split between mechanisms, u16 proportions summing to 65535
    /// (`MechanismEmissionSplit`); `None` = even. Missing entries get 0; what truncation
    /// loses goes to mechanism 0.
    #[serde(default)]
    pub mechanism_emission_split: Option<Vec<u16>>,
}

/// `DefaultCommitRevealWeightsVersion`.
pub const DEFAULT_COMMIT_REVEAL_VERSION: u16 = 4;

fn default_commit_reveal_version() -> u16 {
    DEFAULT_COMMIT_REVEAL_VERSION
}

fn default_mechanism_count() -> MechId {
    1
}

impl Default for Hyperparams {
    /// The values a subnet created on subtensor (spec 425) gets: runtime `Initial*` constants
    /// overridden by `init_new_network` (256 uids, 64 validators, min 1 weight, immunity 5000,
    /// Yuma3 on), commit-reveal on (timelocked v4, version 4, reveal period 1 epoch), one
    /// mechanism. Plain `set_weights` therefore fails with `CommitRevealEnabled`, as on
    /// today's network; turn `commit_reveal_enabled` off for a subnet that sets weights
    /// directly.
    fn default() -> Self {
        Self {
            tempo: 360,
            weights_rate_limit: 100,
            weights_version_key: 0,
            min_allowed_weights: 1,
            max_weight_limit: u16::MAX,
            immunity_period: 5000,
            max_allowed_uids: 256,
            max_allowed_validators: 64,
            kappa: 32_767,
            bonds_moving_average: 900_000,
            bonds_penalty: u16::MAX,
            activity_cutoff_factor_milli: 13_889,
            commit_reveal_enabled: true,
            commit_reveal_version: DEFAULT_COMMIT_REVEAL_VERSION,
            commit_reveal_period: 1,
            yuma3_enabled: true,
            liquid_alpha_enabled: false,
            alpha_low: 45_875,
            alpha_high: 58_982,
            alpha_sigmoid_steepness: 1000,
            stake_threshold: 0,
            serving_rate_limit: 50,
            registration_allowed: true,
            min_non_immune_uids: 10,
            immune_owner_uids_limit: 1,
            mechanism_count: 1,
            mechanism_emission_split: None,
        }
    }
}

impl Hyperparams {
    /// Blocks without weights after which a neuron is inactive (`get_activity_cutoff_blocks`):
    /// `max(1, factor_milli * tempo / 1000)`; 5000 at the defaults (13889, tempo 360).
    pub fn activity_cutoff_blocks(&self) -> u64 {
        (u64::from(self.activity_cutoff_factor_milli) * u64::from(self.tempo) / 1000).max(1)
    }
}

/// An event an extrinsic or block produced, named after the pallet's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChainEvent {
    /// `NetworkAdded(netuid)`.
    NetworkAdded {
        /// The new subnet.
        netuid: NetUid,
    },
    /// `NeuronRegistered(netuid, uid, hotkey)`.
    NeuronRegistered {
        /// Subnet.
        netuid: NetUid,
        /// Uid given (possibly a pruned one).
        uid: Uid,
        /// The registered hotkey.
        hotkey: AccountId,
    },
    /// `StakeAdded` (amounts in rao).
    StakeAdded {
        /// Staking coldkey.
        coldkey: AccountId,
        /// Hotkey staked to.
        hotkey: AccountId,
        /// Subnet.
        netuid: NetUid,
        /// Amount in rao.
        amount: u64,
    },
    /// `WeightsSet(netuid_index, uid)`. For mechanism 0 `netuid` is the netuid; for
    /// mechanism `m` it is the pallet's storage index `m * 4096 + netuid`, as the event carries.
    WeightsSet {
        /// Subnet (storage index for mechanisms other than 0).
        netuid: NetUid,
        /// Uid that set weights.
        uid: Uid,
    },
    /// `WeightsCommitted(who, netuid_index, hash)`.
    WeightsCommitted {
        /// Committing hotkey.
        who: AccountId,
        /// Subnet (storage index for mechanisms other than 0).
        netuid: NetUid,
        /// Commit hash.
        hash: [u8; 32],
    },
    /// `WeightsRevealed(who, netuid_index, hash)`.
    WeightsRevealed {
        /// Revealing hotkey.
        who: AccountId,
        /// Subnet (storage index for mechanisms other than 0).
        netuid: NetUid,
        /// Hash that matched.
        hash: [u8; 32],
    },
    /// `TimelockedWeightsCommitted(who, netuid_index, commit_hash, reveal_round)`.
    TimelockedWeightsCommitted {
        /// Committing hotkey.
        who: AccountId,
        /// `mecid * 4096 + netuid`.
        netuid_index: u16,
        /// blake2-256 of the ciphertext.
        commit_hash: [u8; 32],
        /// Drand round that decrypts it.
        reveal_round: u64,
    },
    /// `TimelockedWeightsRevealed(netuid_index, who)`: the chain decrypted a timelocked commit
    /// and set its weights.
    TimelockedWeightsRevealed {
        /// `mecid * 4096 + netuid`.
        netuid_index: u16,
        /// The committer.
        who: AccountId,
    },
    /// `AxonServed(netuid, hotkey)`.
    AxonServed {
        /// Subnet.
        netuid: NetUid,
        /// Serving hotkey.
        hotkey: AccountId,
    },
    /// An epoch ran for the subnet at this block (the pallet emits no such event; the local
    /// chain reports it so the sandbox can follow epochs). `emitted` is the rao distributed.
    EpochRun {
        /// Subnet.
        netuid: NetUid,
        /// Block of the epoch.
        block: BlockNumber,
        /// Rao credited as stake (owner cut + incentives + dividends).
        emitted: u64,
        /// Rao of miner incentive burned because it went to the subnet owner's hotkeys.
        burned: u64,
    },
}

/// Result of an included extrinsic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtrinsicOutcome {
    /// Block the extrinsic was applied in.
    pub block: BlockNumber,
    /// Events it produced, in order.
    pub events: Vec<ChainEvent>,
}

/// A stored timelocked commit, as `TimelockedWeightCommits` keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelockedCommit {
    /// Epoch the commit belongs to (the storage key); revealed in `epoch + reveal period`.
    pub epoch: u64,
    /// Block it was included in.
    pub commit_block: BlockNumber,
    /// Drand round that decrypts it.
    pub reveal_round: u64,
}
