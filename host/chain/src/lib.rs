//! The chain a subnet runs on, seen through one interface.
//!
//! [`Chain`] is what the validator loop and the sandbox hold (`Arc<dyn Chain>`): read the
//! metagraph and hyperparameters of a subnet, submit the extrinsics a neuron submits
//! (`set_weights`, `commit_weights`, `reveal_weights`, `serve_axon`, `burned_register`), and
//! follow new blocks. Two backends fit it: [`local::LocalChain`], an embedded deterministic chain
//! that applies subtensor's rules (this crate), and a later RPC backend for a real subtensor node.
//! [`weights`] turns a validator's scores into what it submits, as the bittensor SDK does, and
//! [`yuma`] is the epoch, bit-exact with the pallet.
//!
//! # Invariants
//!
//! * Accounts are 32-byte public keys ([`AccountId`]); their text form is SS58 with prefix 42.
//!   A signer is named by its account id; the backend owns the key material.
//! * Extrinsics either succeed with an [`ExtrinsicOutcome`] (block of inclusion, events in order)
//!   or fail with a [`ChainError`]. A dispatch error from the pallet is
//!   [`ChainError::Module`] carrying the pallet and error names exactly as subtensor spells them
//!   (`SubtensorModule` / `SettingWeightsTooFast`), so callers match the same names against
//!   either backend. A failed extrinsic leaves the chain state unchanged.
//! * Weight values are `u16` as the pallet takes them; the pallet max-upscales them so the largest
//!   stored value is 65535 ([`max_upscale_u16`]).
//!
//! # Failure modes
//!
//! Transport and storage failures are [`ChainError::Transport`] and [`ChainError::Storage`];
//! malformed input that a real chain would reject before dispatch (bad SS58, undecodable data) is
//! [`ChainError::InvalidInput`].

#![deny(missing_docs)]

pub mod local;
pub mod weights;
pub mod yuma;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use async_trait::async_trait;
use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use parity_scale_codec::Encode;
use serde::{Deserialize, Serialize};
use substrate_fixed::types::I32F32;
use tokio::sync::watch;

/// Subnet identifier (`NetUid` in subtensor).
pub type NetUid = u16;
/// Position of a neuron in a subnet.
pub type Uid = u16;
/// Block height.
pub type BlockNumber = u64;

pub use subnet_keys::{AccountId, SS58_PREFIX};

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
    /// Commit-reveal of weights on (`CommitRevealWeightsEnabled`).
    pub commit_reveal_enabled: bool,
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
}

impl Default for Hyperparams {
    /// The values a subnet created on subtensor (spec 425) gets: runtime `Initial*` constants
    /// overridden by `init_new_network` (256 uids, 64 validators, min 1 weight, immunity 5000,
    /// Yuma3 on). One deliberate difference: commit-reveal is off here because the chain
    /// default is the timelocked (v3, drand) variant, which an embedded chain cannot reproduce;
    /// turn on v2 commit-reveal per subnet with `commit_reveal_enabled`.
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
            commit_reveal_enabled: false,
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
    /// `WeightsSet(netuid, uid)`.
    WeightsSet {
        /// Subnet.
        netuid: NetUid,
        /// Uid that set weights.
        uid: Uid,
    },
    /// `WeightsCommitted(who, netuid, hash)`.
    WeightsCommitted {
        /// Committing hotkey.
        who: AccountId,
        /// Subnet.
        netuid: NetUid,
        /// Commit hash.
        hash: [u8; 32],
    },
    /// `WeightsRevealed(who, netuid, hash)`.
    WeightsRevealed {
        /// Revealing hotkey.
        who: AccountId,
        /// Subnet.
        netuid: NetUid,
        /// Hash that matched.
        hash: [u8; 32],
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

/// The pallet name subtensor's errors come from.
pub const SUBTENSOR_PALLET: &str = "SubtensorModule";

macro_rules! subtensor_errors {
    ($($name:ident),* $(,)?) => {
        /// The subtensor pallet errors this crate produces or recognises, spelled as in
        /// `pallets/subtensor/src/macros/errors.rs`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        pub enum SubtensorError { $($name),* }

        impl SubtensorError {
            /// The error's name as the pallet spells it.
            pub fn name(self) -> &'static str {
                match self { $(Self::$name => stringify!($name)),* }
            }

            /// Looks a pallet error name up.
            pub fn from_name(name: &str) -> Option<Self> {
                match name { $(stringify!($name) => Some(Self::$name),)* _ => None }
            }
        }
    };
}

subtensor_errors!(
    SubnetNotExists,
    MechanismDoesNotExist,
    CanNotSetRootNetworkWeights,
    WeightVecNotEqualSize,
    UidsLengthExceedUidsInSubNet,
    HotKeyNotRegisteredInSubNet,
    HotKeyNotRegisteredInNetwork,
    NotEnoughStakeToSetWeights,
    IncorrectWeightVersionKey,
    SettingWeightsTooFast,
    NeuronNoValidatorPermit,
    DuplicateUids,
    UidVecContainInvalidOne,
    WeightVecLengthIsLow,
    MaxWeightExceeded,
    CommitRevealEnabled,
    CommitRevealDisabled,
    CommittingWeightsTooFast,
    TooManyUnrevealedCommits,
    NoWeightsCommitFound,
    InvalidRevealCommitHashNotMatch,
    RevealTooEarly,
    ExpiredWeightCommit,
    HotKeyAlreadyRegisteredInSubNet,
    SubNetRegistrationDisabled,
    NoNeuronIdAvailable,
    RegistrationNotPermittedOnRootSubnet,
    NonAssociatedColdKey,
    InvalidIpType,
    InvalidIpAddress,
    InvalidPort,
    ServingRateLimitExceeded,
    HotKeyAccountNotExists,
    AmountTooLow,
    RevealPeriodTooLarge,
    RevealPeriodTooSmall,
    ActivityCutoffFactorMilliOutOfBounds,
);

/// Why a chain call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The runtime rejected the extrinsic with a pallet error (`DispatchError::Module`).
    #[error("{pallet}::{name}")]
    Module {
        /// Pallet name, e.g. `SubtensorModule`.
        pallet: String,
        /// Error name as the pallet spells it, e.g. `SettingWeightsTooFast`.
        name: String,
    },
    /// Input rejected before it reached the chain.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The connection to the chain failed.
    #[error("chain transport: {0}")]
    Transport(String),
    /// The local chain's database failed.
    #[error("chain storage: {0}")]
    Storage(String),
}

impl ChainError {
    /// A subtensor pallet error.
    pub fn subtensor(e: SubtensorError) -> Self {
        Self::Module { pallet: SUBTENSOR_PALLET.to_owned(), name: e.name().to_owned() }
    }

    /// The module error name, if this is a pallet error.
    pub fn module_name(&self) -> Option<&str> {
        match self {
            Self::Module { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The subtensor error, if this is one this crate knows.
    pub fn subtensor_error(&self) -> Option<SubtensorError> {
        match self {
            Self::Module { pallet, name } if pallet == SUBTENSOR_PALLET => SubtensorError::from_name(name),
            _ => None,
        }
    }

    /// True when this is the named subtensor error.
    pub fn is(&self, e: SubtensorError) -> bool {
        self.subtensor_error() == Some(e)
    }
}

impl From<SubtensorError> for ChainError {
    fn from(e: SubtensorError) -> Self {
        Self::subtensor(e)
    }
}

/// A chain backend. Object safe: hold it as `Arc<dyn Chain>`.
///
/// Extrinsic methods take the signer's account id; the backend signs with the matching key.
#[async_trait]
pub trait Chain: Send + Sync {
    /// The latest block number.
    async fn current_block(&self) -> Result<BlockNumber, ChainError>;

    /// Follows new blocks: the receiver always holds the latest block number.
    fn subscribe_blocks(&self) -> watch::Receiver<BlockNumber>;

    /// Netuids of the existing subnets.
    async fn subnets(&self) -> Result<Vec<NetUid>, ChainError>;

    /// The metagraph of a subnet (`SubnetNotExists` when absent).
    async fn metagraph(&self, netuid: NetUid) -> Result<Metagraph, ChainError>;

    /// The hyperparameters of a subnet (`SubnetNotExists` when absent).
    async fn hyperparams(&self, netuid: NetUid) -> Result<Hyperparams, ChainError>;

    /// `set_weights(netuid, dests, weights, version_key)` signed by the hotkey `signer`.
    async fn set_weights(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        uids: &[Uid],
        weights: &[u16],
        version_key: u64,
    ) -> Result<ExtrinsicOutcome, ChainError>;

    /// `commit_weights(netuid, commit_hash)`; the hash is [`commit_hash`] of the later reveal.
    async fn commit_weights(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        hash: [u8; 32],
    ) -> Result<ExtrinsicOutcome, ChainError>;

    /// `reveal_weights(netuid, uids, values, salt, version_key)`.
    async fn reveal_weights(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        uids: &[Uid],
        values: &[u16],
        salt: &[u16],
        version_key: u64,
    ) -> Result<ExtrinsicOutcome, ChainError>;

    /// `serve_axon(netuid, version, ip, port, ip_type, protocol, 0, 0)`; `axon.block` is ignored.
    async fn serve_axon(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        axon: AxonInfo,
    ) -> Result<ExtrinsicOutcome, ChainError>;

    /// `burned_register(netuid, hotkey)` signed by `coldkey`.
    async fn register(
        &self,
        hotkey: &AccountId,
        coldkey: &AccountId,
        netuid: NetUid,
    ) -> Result<ExtrinsicOutcome, ChainError>;
}

/// The commit-reveal v2 hash: blake2-256 of the SCALE encoding of
/// `(who, netuid_index, uids, values, salt, version_key)`, as the pallet's `get_commit_hash`
/// (`netuid_index` equals `netuid` for the main mechanism).
pub fn commit_hash(
    who: &AccountId,
    netuid: NetUid,
    uids: &[Uid],
    values: &[u16],
    salt: &[u16],
    version_key: u64,
) -> [u8; 32] {
    let encoded = (who.0, netuid, uids, values, salt, version_key).encode();
    let mut h = Blake2b::<U32>::new();
    h.update(&encoded);
    h.finalize().into()
}

/// Max-upscales weights so the largest is 65535, as the pallet's `vec_u16_max_upscale_to_u16`
/// does before storing them (same `I32F32` arithmetic and rounding). All-zero input is unchanged.
pub fn max_upscale_u16(values: &[u16]) -> Vec<u16> {
    let u16_max = I32F32::from_num(u16::MAX);
    let Some(&max) = values.iter().max() else {
        return Vec::new();
    };
    if max == 0 {
        return values.to_vec();
    }
    let max = I32F32::from_num(max);
    let big = max > I32F32::from_num(32_768);
    values
        .iter()
        .map(|&v| {
            let v = I32F32::from_num(v);
            let scaled = if big {
                v.saturating_mul(u16_max.checked_div(max).unwrap_or_default())
            } else {
                v.saturating_mul(u16_max).checked_div(max).unwrap_or_default()
            };
            scaled.round().saturating_to_num::<u16>()
        })
        .collect()
}

/// True when the largest normalised weight is at most `limit / 65535` (`check_vec_max_limited`).
pub fn check_max_weight_limited(values: &[u16], limit: u16) -> bool {
    let limit = I32F32::from_num(limit).checked_div(I32F32::from_num(u16::MAX)).unwrap_or_default();
    let sum: I32F32 = values.iter().map(|&v| I32F32::from_num(v)).sum();
    if sum == I32F32::from_num(0) {
        return values.iter().all(|&v| I32F32::from_num(v) <= limit);
    }
    values.iter().map(|&v| I32F32::from_num(v).checked_div(sum).unwrap_or_default()).all(|x| x <= limit)
}

/// Normalises non-negative scores and max-upscales them to `u16` (largest = 65535), dropping
/// zeros, as the Python SDK's `convert_weights_and_uids_for_emit` does. Non-finite and
/// negative scores count as 0. Returns `(uids, weights)`.
pub fn scores_to_u16_weights(scores: &[f32]) -> (Vec<Uid>, Vec<u16>) {
    let clean: Vec<f64> = scores.iter().map(|&s| if s.is_finite() && s > 0.0 { f64::from(s) } else { 0.0 }).collect();
    let max = clean.iter().copied().fold(0.0f64, f64::max);
    if max <= 0.0 {
        return (Vec::new(), Vec::new());
    }
    let mut uids = Vec::new();
    let mut weights = Vec::new();
    for (i, s) in clean.iter().enumerate().take(usize::from(u16::MAX) + 1) {
        // Python's `round` (half to even), as the SDK's `convert_weights_and_uids_for_emit`.
        let w = (s / max * f64::from(u16::MAX)).round_ties_even() as u16;
        if w > 0 {
            uids.push(i as Uid);
            weights.push(w);
        }
    }
    (uids, weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_upscale_matches_pallet_vectors() {
        // Vectors from subtensor tests/math.rs `test_vec_u16_max_upscale_to_u16`.
        let cases: &[(&[u16], &[u16])] = &[
            (&[], &[]),
            (&[0], &[0]),
            (&[0, 0], &[0, 0]),
            (&[1], &[65535]),
            (&[0, 1], &[0, 65535]),
            (&[65534], &[65535]),
            (&[65535, 65535], &[65535, 65535]),
            (&[0, 1, 65534], &[0, 1, 65535]),
            (&[0, 1, 2, 3, 4, 65533, 65535], &[0, 1, 2, 3, 4, 65533, 65535]),
        ];
        for (input, want) in cases {
            assert_eq!(max_upscale_u16(input), want.to_vec(), "input {input:?}");
        }
        // Small maxima take the other branch: v * 65535 / max, rounded half away from zero.
        assert_eq!(max_upscale_u16(&[0, 1, 2, 3, 4]), vec![0, 16384, 32768, 49151, 65535]);
    }

    #[test]
    fn max_weight_limit_check() {
        assert!(check_max_weight_limited(&[1, 1], 32768));
        assert!(!check_max_weight_limited(&[3, 1], 32768));
        assert!(check_max_weight_limited(&[65535], u16::MAX));
    }

    #[test]
    fn commit_hash_depends_on_every_field() {
        let who = AccountId([7; 32]);
        let base = commit_hash(&who, 1, &[0, 1], &[10, 20], &[5], 3);
        assert_ne!(base, commit_hash(&AccountId([8; 32]), 1, &[0, 1], &[10, 20], &[5], 3));
        assert_ne!(base, commit_hash(&who, 2, &[0, 1], &[10, 20], &[5], 3));
        assert_ne!(base, commit_hash(&who, 1, &[0, 1], &[10, 21], &[5], 3));
        assert_ne!(base, commit_hash(&who, 1, &[0, 1], &[10, 20], &[6], 3));
        assert_ne!(base, commit_hash(&who, 1, &[0, 1], &[10, 20], &[5], 4));
        assert_eq!(base, commit_hash(&who, 1, &[0, 1], &[10, 20], &[5], 3));
    }

    #[test]
    fn scores_to_weights_drops_zeros_and_bad_values() {
        let (uids, w) = scores_to_u16_weights(&[0.0, 0.5, f32::NAN, 1.0, -1.0]);
        assert_eq!(uids, vec![1, 3]);
        assert_eq!(w, vec![32768, 65535]);
    }
}
