//! Yuma Consensus, computed the way subtensor's pallet computes it, bit for bit.
//!
//! Reference: `opentensor/subtensor` at commit
//! `14bc6f9f964b9cc362e9635dd110a487fa5d15a0` (2026-06-30), files
//! `pallets/subtensor/src/epoch/run_epoch.rs` (`epoch_mechanism`, the sparse
//! epoch that the pallet runs; `epoch_dense` is test-only there and is not
//! ported) and `pallets/subtensor/src/epoch/math.rs`. This is an independent
//! implementation of the same arithmetic: every intermediate uses the same
//! `substrate-fixed` type (`I32F32` for proportions, `I64F64` for stake,
//! `I96F32` for rao amounts) and the same order of operations, so that the
//! stored `u16` values and the rao emissions are identical to the pallet's.
//!
//! # Entry point
//!
//! [`run_epoch`] takes the per-uid state as the pallet stores it
//! ([`EpochInput`]), the subnet hyperparameters ([`EpochParams`]) and the
//! alpha emission to distribute for this epoch, and returns what the pallet
//! would store afterwards ([`EpochOutput`]). It is a pure function: the caller
//! (the embedded chain) persists the output and feeds it back as the next
//! epoch's input (`bonds`, `validator_permit`).
//!
//! # Invariants
//!
//! * Every per-uid vector in [`EpochInput`] has the same length `n` (the
//!   subnet size), `n <= 65535`; otherwise [`YumaError::LengthMismatch`] or
//!   [`YumaError::TooManyUids`] is returned. `tao_stake` may also be empty
//!   (meaning zero for everyone).
//! * Weight entries whose target uid is `>= n` are ignored, as the pallet's
//!   weight reader does; bond entries `>= n` fall out in the bonds EMA.
//!   Rows are used in stored order, as the pallet does; liquid alpha (like
//!   the pallet's) assumes rows sorted by uid, which `set_weights` and the
//!   epoch's own bond output guarantee.
//! * All outputs have length `n`. Stored proportions are `u16` where
//!   `65535` means 1.0 (truncating conversion, as the pallet).
//! * The function never panics on any input; arithmetic saturates as the
//!   pallet's does.
//!
//! # What is and is not in the epoch
//!
//! * Stake: the pallet's epoch uses `alpha + tao_weight * tao` per uid
//!   (`get_stake_weights_for_network`), where "alpha" and "tao" are the
//!   inherited (child-key adjusted) stakes. The caller supplies both amounts;
//!   the child-key inheritance itself is the caller's business.
//! * The subnet owner cut (`SubnetOwnerCut`, default 11796/65535 ≈ 18%) is
//!   *not* part of the epoch: the pallet's coinbase takes it from the
//!   pending alpha before the epoch runs, and passes only the remainder to the
//!   epoch. [`owner_cut`] reproduces that split so the caller can apply it
//!   before calling [`run_epoch`].
//! * Commit-reveal: when enabled the pallet additionally masks weight columns
//!   for uids re-registered after the validator's earliest live commit. The
//!   caller passes those earliest commit blocks in
//!   [`EpochInput::commit_blocks`] (`None` = commit-reveal off).
//!
//! # Cost
//!
//! An epoch is linear in the stored weights and bonds plus `O(n log n)` for
//! the permits: about 0.8 ms for 256 uids with 64 validators weighting every
//! uid, and about 15 ms for 4096 uids, either bond mode, on one core of the
//! development machine (`benches/yuma.rs`). It runs on
//! the calling thread only; callers that run many independent epochs spread
//! them over threads themselves. Each thread keeps a small pool of the large
//! per-epoch buffers between epochs (`math::pool`): a few times the largest
//! subnet's stored weights, released when the thread ends.
//!
//! # Failure modes
//!
//! Only malformed input fails ([`YumaError`]). Degenerate but valid input
//! (no stake, no weights, everyone inactive) produces the pallet's fallback
//! results (emission by stake, zero incentive) rather than an error.

pub mod epoch;
pub mod math;

#[cfg(test)]
mod diff_tests;
#[cfg(test)]
mod reference;

pub use substrate_fixed::types::{I32F32, I64F64, I96F32, U64F64, U96F32};

/// Liquid-alpha settings (Yuma3 only): the per-bond EMA rate follows a
/// sigmoid of how far the validator's weight is from consensus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiquidAlpha {
    /// Lower bound of the per-bond EMA rate, u16 proportion (pallet `AlphaValues.0`, default 45875 ≈ 0.7).
    pub alpha_low: u16,
    /// Upper bound of the per-bond EMA rate, u16 proportion (pallet `AlphaValues.1`, default 58982 ≈ 0.9).
    pub alpha_high: u16,
    /// Sigmoid steepness (pallet `AlphaSigmoidSteepness`, an `i16`; used divided by -100).
    pub alpha_sigmoid_steepness: i16,
}

/// Subnet hyperparameters read by the epoch, with the pallet's storage types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochParams {
    /// Consensus majority ratio, u16 proportion (pallet `Kappa`, commonly 32767).
    pub kappa: u16,
    /// Bonds penalty, u16 proportion (pallet `BondsPenalty`): 0 = bonds from raw weights,
    /// 65535 = bonds from consensus-clipped weights.
    pub bonds_penalty: u16,
    /// Bonds moving average, parts per million (pallet `BondsMovingAverage`, e.g. 900_000).
    /// The EMA rate is `1 - bonds_moving_average / 1e6`.
    pub bonds_moving_average: u64,
    /// Activity cutoff in blocks (pallet `get_activity_cutoff_blocks`): a uid is inactive
    /// when `last_update + activity_cutoff < current_block`.
    pub activity_cutoff: u64,
    /// Maximum number of validator permits (pallet `MaxAllowedValidators`).
    pub max_allowed_validators: u16,
    /// Tempo in blocks (pallet `Tempo`); used to locate the previous epoch when
    /// `EpochInput::last_epoch_block` is 0.
    pub tempo: u16,
    /// Yuma3 bonds (pallet `Yuma3On`): per-bond EMA towards weights, bonds stored as
    /// u16 proportions. `false` = classic bonds (stake-weighted, column-normalised EMA).
    pub yuma3: bool,
    /// Liquid alpha (pallet `LiquidAlphaOn` + `AlphaValues` + `AlphaSigmoidSteepness`).
    /// Only read when `yuma3` is true, as in the pallet.
    pub liquid_alpha: Option<LiquidAlpha>,
    /// Minimum total stake (rao) for a uid's stake to count (pallet `StakeThreshold`);
    /// the subnet owner's uid is exempt.
    pub stake_threshold: u64,
    /// Global TAO weight as the pallet stores it (`TaoWeight`, u64 where `u64::MAX` = 1.0).
    pub tao_weight: u64,
}

impl Default for EpochParams {
    /// Values a freshly created subnet gets in the pallet's mock runtime and mainnet
    /// defaults where those are fixed: kappa 32767, bonds penalty 65535,
    /// bonds moving average 900_000, max 64 validators, tempo 360, classic bonds.
    fn default() -> Self {
        Self {
            kappa: 32_767,
            bonds_penalty: 65_535,
            bonds_moving_average: 900_000,
            activity_cutoff: 5_000,
            max_allowed_validators: 64,
            tempo: 360,
            yuma3: false,
            liquid_alpha: None,
            stake_threshold: 0,
            tao_weight: 0,
        }
    }
}

/// Per-uid state before the epoch, as the pallet stores it. All vectors are indexed by uid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EpochInput {
    /// Current block number (the block in which the epoch runs).
    pub current_block: u64,
    /// Block of the previous successful epoch (pallet `LastMechansimStepBlock`);
    /// 0 if none, in which case `current_block - tempo` is used.
    pub last_epoch_block: u64,
    /// Last block each uid set weights (pallet `LastUpdate`).
    pub last_update: Vec<u64>,
    /// Block at which each uid was (most recently) registered (pallet `BlockAtRegistration`).
    pub block_at_registration: Vec<u64>,
    /// Alpha stake per uid in rao (inherited, as `get_inherited_for_hotkey_on_subnet`).
    pub stake: Vec<u64>,
    /// TAO (root) stake per uid in rao, weighted by `EpochParams::tao_weight`; empty = all zero.
    pub tao_stake: Vec<u64>,
    /// Weights per uid as stored: `(target uid, u16 weight)`, row max-upscaled.
    pub weights: Vec<Vec<(u16, u16)>>,
    /// Bonds per uid as stored: `(target uid, u16 bond)`.
    pub bonds: Vec<Vec<(u16, u16)>>,
    /// Validator permits from the previous epoch (pallet `ValidatorPermit`).
    pub validator_permit: Vec<bool>,
    /// Uid of the subnet owner's hotkey, if registered: always permitted, exempt from
    /// the stake threshold, its self-weight is kept.
    pub owner_uid: Option<u16>,
    /// Commit-reveal: per uid, the commit block of its earliest unexpired weight commit
    /// (`u64::MAX` if none). `None` = commit-reveal disabled on this subnet.
    pub commit_blocks: Option<Vec<u64>>,
}

/// What the pallet stores after the epoch, per uid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EpochOutput {
    /// Active flag (pallet `Active`).
    pub active: Vec<bool>,
    /// New validator permits (pallet `ValidatorPermit`).
    pub validator_permit: Vec<bool>,
    /// Normalised stake used by the epoch, u16 proportion (pallet `StakeWeight`).
    pub stake_weight: Vec<u16>,
    /// Consensus weight per miner, u16 proportion (pallet `Consensus`).
    pub consensus: Vec<u16>,
    /// Incentive per miner, u16 proportion (pallet `Incentive`).
    pub incentive: Vec<u16>,
    /// Dividends per validator, u16 proportion (pallet `Dividends`).
    pub dividends: Vec<u16>,
    /// Validator trust, u16 proportion (pallet `ValidatorTrust`).
    pub validator_trust: Vec<u16>,
    /// New bonds per uid as stored (pallet `Bonds`); empty rows for uids without a permit.
    pub bonds: Vec<Vec<(u16, u16)>>,
    /// Miner (server) share of the emission, rao.
    pub server_emission: Vec<u64>,
    /// Validator share of the emission, rao.
    pub validator_emission: Vec<u64>,
    /// Combined emission score in rao, only for bookkeeping (pallet `Emission`).
    pub emission: Vec<u64>,
    /// Total stake the epoch used, rao (`alpha + tao_weight * tao`, truncated).
    pub stake: Vec<u64>,
}

/// Malformed epoch input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YumaError {
    /// A per-uid vector does not have the subnet's length (taken from `last_update`).
    #[error("epoch input `{field}` has length {got}, expected {expected}")]
    LengthMismatch {
        /// Name of the offending field of [`EpochInput`].
        field: &'static str,
        /// Its length.
        got: usize,
        /// The subnet size `n` (length of `last_update`).
        expected: usize,
    },
    /// More uids than the pallet's `u16` subnet size allows.
    #[error("subnet has {0} uids, more than 65535")]
    TooManyUids(usize),
}

pub use epoch::run_epoch;

/// Splits `emission` into `(owner_cut, remainder)` the way the pallet's coinbase does
/// before the epoch: `owner = floor(emission * cut / 65535)` computed in `U96F32`,
/// remainder = `emission - owner`. `cut` is `SubnetOwnerCut` (default 11796).
pub fn owner_cut(emission: u64, cut: u16) -> (u64, u64) {
    epoch::owner_cut(emission, cut)
}

/// The pallet's default subnet owner cut (`SubnetOwnerCut`), 11796/65535 ≈ 18%.
pub const DEFAULT_OWNER_CUT: u16 = 11_796;
