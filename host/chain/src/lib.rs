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

pub mod epoch;
pub mod local;
mod types;
pub mod weights;
pub mod yuma;

use async_trait::async_trait;
use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use parity_scale_codec::Encode;
use substrate_fixed::types::I32F32;
use tokio::sync::watch;

/// Subnet identifier (`NetUid` in subtensor).
pub type NetUid = u16;
/// Position of a neuron in a subnet.
pub type Uid = u16;
/// Block height.
pub type BlockNumber = u64;
/// Mechanism (sub-subnet) of a subnet (`MechId`); 0 is the main mechanism.
pub type MechId = u8;

/// Netuids a mechanism index is spaced by (`GLOBAL_MAX_SUBNET_COUNT`).
pub const GLOBAL_MAX_SUBNET_COUNT: u16 = 4096;

/// The pallet's storage index of a mechanism (`get_mechanism_storage_index`):
/// `mecid * 4096 + netuid`, saturating; mechanism 0 is the netuid itself.
pub fn netuid_index(netuid: NetUid, mecid: MechId) -> u16 {
    u16::from(mecid).saturating_mul(GLOBAL_MAX_SUBNET_COUNT).saturating_add(netuid)
}

pub use epoch::EpochSchedule;

pub use subnet_keys::{AccountId, SS58_PREFIX};

pub use types::{
    AxonInfo, ChainEvent, DEFAULT_COMMIT_REVEAL_VERSION, ExtrinsicOutcome, Hyperparams, Metagraph, NeuronInfo,
    TimelockedCommit,
};

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
    IncorrectCommitRevealVersion,
    InvalidRevealRound,
    InvalidValue,
    TooManyUIDsPerMechanism,
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
    /// The chain (or a node answering for it) sent data that breaks this interface's
    /// invariants, such as a metagraph whose uids are not `0..n` in order.
    #[error("malformed chain data: {0}")]
    Malformed(String),
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

    /// The metagraph of one mechanism (`get_mechagraph`): as [`Chain::metagraph`] with
    /// `last_update` and `incentive` of mechanism `mecid` (`MechanismDoesNotExist` past the
    /// subnet's mechanism count). [`Chain::metagraph`] is mechanism 0's view, as subtensor's
    /// `get_metagraph`: subnet-wide fields (stake, permits, consensus, dividends, trust,
    /// emission, active) are aggregated over mechanisms by the epoch; `last_update` and
    /// `incentive` are mechanism 0's.
    async fn mechanism_metagraph(&self, netuid: NetUid, mecid: MechId) -> Result<Metagraph, ChainError>;

    /// The subnet's epoch clock at the head block: THE epoch of subnetd (see [`epoch`]).
    async fn epoch_schedule(&self, netuid: NetUid) -> Result<EpochSchedule, ChainError>;

    /// `set_weights(netuid, dests, weights, version_key)` for mechanism 0, or
    /// `set_mechanism_weights(netuid, mecid, ...)`, signed by the hotkey `signer`.
    async fn set_weights(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        uids: &[Uid],
        weights: &[u16],
        version_key: u64,
    ) -> Result<ExtrinsicOutcome, ChainError>;

    /// `commit_weights(netuid, commit_hash)` / `commit_mechanism_weights(netuid, mecid, ..)`;
    /// the hash is [`commit_hash`] of the later reveal with `netuid_index(netuid, mecid)`.
    async fn commit_weights(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        hash: [u8; 32],
    ) -> Result<ExtrinsicOutcome, ChainError>;

    /// `reveal_weights(netuid, uids, values, salt, version_key)` /
    /// `reveal_mechanism_weights(netuid, mecid, ..)`.
    #[allow(clippy::too_many_arguments)]
    async fn reveal_weights(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        uids: &[Uid],
        values: &[u16],
        salt: &[u16],
        version_key: u64,
    ) -> Result<ExtrinsicOutcome, ChainError>;

    /// A timelocked (commit-reveal v4) commit: `commit` is the drand-timelock ciphertext of a
    /// SCALE `WeightsTlockPayload`, revealed by the chain itself once drand round
    /// `reveal_round` is stored ([`EpochSchedule::reveal_round_at`] names the round).
    /// `commit_timelocked_mechanism_weights` on a node (or the older calls its runtime has).
    #[allow(clippy::too_many_arguments)]
    async fn commit_timelocked_weights(
        &self,
        signer: &AccountId,
        netuid: NetUid,
        mecid: MechId,
        commit: &[u8],
        reveal_round: u64,
        commit_reveal_version: u16,
    ) -> Result<ExtrinsicOutcome, ChainError>;

    /// The drand beacon the chain reveals timelocked (v4) commits with: quicknet on a runtime
    /// with the `Drand` pallet and a timelocked commit call, the chain's own beacon on a local
    /// chain, `None` when the runtime has no timelocked commit-reveal (then commit-reveal is v2).
    async fn drand_beacon(&self) -> Result<Option<subnet_drand::BeaconInfo>, ChainError>;

    /// Timelocked commits of `who` still stored (not yet revealed or expired), oldest epoch
    /// first (`TimelockedWeightCommits[netuid_index]`).
    async fn timelocked_commits(
        &self,
        netuid: NetUid,
        mecid: MechId,
        who: &AccountId,
    ) -> Result<Vec<TimelockedCommit>, ChainError>;

    /// The stored weights row of a uid for a mechanism (`Weights[netuid_index][uid]`), empty
    /// when none.
    async fn weights_row(&self, netuid: NetUid, mecid: MechId, uid: Uid) -> Result<Vec<(Uid, u16)>, ChainError>;

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
/// `(who, netuid_index, uids, values, salt, version_key)`, as the pallet's `get_commit_hash`.
/// Pass [`netuid_index`]`(netuid, mecid)`, which equals `netuid` for the main mechanism.
pub fn commit_hash(
    who: &AccountId,
    netuid_index: u16,
    uids: &[Uid],
    values: &[u16],
    salt: &[u16],
    version_key: u64,
) -> [u8; 32] {
    blake2_256(&(who.0, netuid_index, uids, values, salt, version_key).encode())
}

/// blake2-256 of `bytes` (`BlakeTwo256::hash`).
pub fn blake2_256(bytes: &[u8]) -> [u8; 32] {
    let mut h = Blake2b::<U32>::new();
    h.update(bytes);
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
