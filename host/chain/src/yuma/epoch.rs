//! The Yuma epoch: from stored per-uid state to consensus, incentive,
//! dividends, new bonds and the emission split.
//!
//! Follows the pallet's sparse `epoch_mechanism` step for step (see the
//! parent module for the reference commit). The order of fixed-point
//! operations is part of the contract: reordering a sum is harmless (fixed
//! addition is exact), but moving a division or a truncation is not.
//!
//! Matrices are [`Csr`]; consecutive steps over the same matrix run as one
//! sweep (`math::passes`), and the arithmetic uses the exact fast paths of
//! [`math`]. The pre-rewrite implementation, a literal transcription of the
//! pallet, is kept under `cfg(test)` (`super::reference`), and the
//! differential tests (`super::diff_tests`) require identical output from both
//! on random subnets, well-formed and not.
//!
//! Input validation happens once, up front; after that every helper is total
//! and saturating, so the epoch cannot panic.

use substrate_fixed::types::{I32F32, I64F64, I96F32, U96F32};

use super::math::liquid_alpha::{self, AlphaSigmoid};
use super::math::{self, Csr, bonds, passes, sparse};
use super::{EpochInput, EpochOutput, EpochParams, YumaError};

const ZERO: I32F32 = I32F32::from_bits(0);

fn check_len(field: &'static str, got: usize, expected: usize) -> Result<(), YumaError> {
    if got == expected { Ok(()) } else { Err(YumaError::LengthMismatch { field, got, expected }) }
}

fn validate(input: &EpochInput) -> Result<u16, YumaError> {
    let n = input.last_update.len();
    let n16 = u16::try_from(n).map_err(|_| YumaError::TooManyUids(n))?;
    check_len("block_at_registration", input.block_at_registration.len(), n)?;
    check_len("stake", input.stake.len(), n)?;
    if !input.tao_stake.is_empty() {
        check_len("tao_stake", input.tao_stake.len(), n)?;
    }
    check_len("weights", input.weights.len(), n)?;
    check_len("bonds", input.bonds.len(), n)?;
    check_len("validator_permit", input.validator_permit.len(), n)?;
    if let Some(cb) = &input.commit_blocks {
        check_len("commit_blocks", cb.len(), n)?;
    }
    Ok(n16)
}

/// Stored `u16` proportion parameter as the pallet's `get_float_*`: `x / 65535` in `I32F32`.
fn float_u16(x: u16) -> I32F32 {
    math::div_or_zero(I32F32::saturating_from_num(x), I32F32::saturating_from_num(u16::MAX))
}

/// EMA rate `1 - bonds_moving_average / 1e6` (pallet `compute_disabled_liquid_alpha`
/// and `compute_ema_bonds_normal_sparse`, which agree for every `u64`).
fn bonds_ema_rate(bonds_moving_average: u64) -> I32F32 {
    let bma = I64F64::saturating_from_num(bonds_moving_average).saturating_div(I64F64::saturating_from_num(1_000_000));
    I32F32::saturating_from_num(1).saturating_sub(I32F32::saturating_from_num(bma))
}

/// Total stake per uid: `alpha + tao * tao_weight` in `I64F64`, with
/// `tao_weight = TaoWeight / u64::MAX` computed in `U96F32` first.
fn total_stake(params: &EpochParams, input: &EpochInput) -> Vec<I64F64> {
    let tw = U96F32::saturating_from_num(params.tao_weight)
        .checked_div(U96F32::saturating_from_num(u64::MAX))
        .unwrap_or(U96F32::from_bits(0));
    let tao_weight = I64F64::saturating_from_num(tw);
    input
        .stake
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let alpha = I64F64::saturating_from_num(*a);
            let tao = I64F64::saturating_from_num(input.tao_stake.get(i).copied().unwrap_or(0));
            alpha.saturating_add(tao.saturating_mul(tao_weight))
        })
        .collect()
}

/// Runs one Yuma epoch. See the parent module for the contract.
///
/// # Errors
///
/// [`YumaError`] when the per-uid vectors of `input` disagree in length or
/// the subnet has more than 65535 uids.
pub fn run_epoch(params: &EpochParams, input: &EpochInput, emission_rao: u64) -> Result<EpochOutput, YumaError> {
    let n = validate(input)?;
    let current_block = input.current_block;

    // == Active ==
    let inactive: Vec<bool> =
        input.last_update.iter().map(|u| u.saturating_add(params.activity_cutoff) < current_block).collect();
    let active: Vec<bool> = inactive.iter().map(|b| !b).collect();

    // == Stake ==
    let total = total_stake(params, input);
    let owner = input.owner_uid;
    let mut filtered: Vec<I64F64> = total
        .iter()
        .enumerate()
        .map(|(uid, s)| {
            let exempt = owner == Some(uid as u16);
            if !exempt && s.saturating_to_num::<u64>() < params.stake_threshold { I64F64::from_bits(0) } else { *s }
        })
        .collect();
    math::inplace_normalize_64(&mut filtered);
    let stake: Vec<I32F32> = filtered.iter().map(|s| I32F32::saturating_from_num(*s)).collect();

    // == Validator permits ==
    let mut permits = input.validator_permit.clone();
    let mut new_permits = math::is_topk_nonzero(&stake, params.max_allowed_validators as usize);
    if let Some(o) = owner {
        if let Some(p) = permits.get_mut(o as usize) {
            *p = true;
        }
        if let Some(p) = new_permits.get_mut(o as usize) {
            *p = true;
        }
    }

    // == Active stake ==
    let mut active_stake = stake.clone();
    for ((s, off), permitted) in active_stake.iter_mut().zip(inactive.iter()).zip(permits.iter()) {
        if *off || !permitted {
            *s = ZERO;
        }
    }
    math::inplace_normalize(&mut active_stake);

    // == Weights ==
    // The pallet's weight reader and its four masks, as one filter (each drops
    // entries by a predicate on `(row, column)`, so their order is immaterial):
    // columns `>= n`, rows without a permit, the diagonal except the owner's, a
    // weight set before its target (re)registered (it refers to the old occupant)
    // and, under commit-reveal, a weight committed before that registration.
    let registered = &input.block_at_registration;
    let commit_blocks = input.commit_blocks.as_deref();
    let weights = passes::read_row_normalized(
        &input.weights,
        |i, j| {
            let ju = usize::from(j);
            let Some(&reg_j) = registered.get(ju) else { return false };
            permits.get(i).copied().unwrap_or(false)
                && (i != ju || owner == Some(j))
                && input.last_update.get(i).is_none_or(|&u| u > reg_j)
                && commit_blocks.is_none_or(|cb| cb.get(i).is_none_or(|&c| c >= reg_j))
        },
        math::u16_to_fixed,
    );

    // == Consensus, validator trust, incentive ==
    let kappa = float_u16(params.kappa);
    let consensus = math::weighted_median_cols(&active_stake, &weights, n, kappa);
    let bonds_penalty = float_u16(params.bonds_penalty);
    // Clipping works in place; the unclipped weights are kept only if the bonds
    // interpolate between the two (penalty below 1).
    let (unclipped, mut clipped) =
        if bonds_penalty == math::fixed::ONE { (None, weights) } else { (Some(weights.clone()), weights) };
    let (validator_trust, mut incentive) = passes::clip_trust_incentive(&mut clipped, &consensus, &active_stake, n);
    math::inplace_normalize(&mut incentive);

    // == Bonds and dividends ==
    let weights_for_bonds = match unclipped {
        Some(weights) => sparse::interpolate(weights, clipped, n, bonds_penalty),
        None => clipped,
    };
    // Bonds to a uid registered since the previous epoch belong to its predecessor.
    let last_tempo = if input.last_epoch_block == 0 {
        current_block.saturating_sub(u64::from(params.tempo))
    } else {
        input.last_epoch_block.saturating_add(1)
    };
    // The bond reader keeps columns `>= n` (they read registration block 0 and
    // fall out in the EMA); the scalar mask drops bonds to re-registered uids.
    let keep_bond = |_: usize, j: u16| last_tempo > registered.get(usize::from(j)).copied().unwrap_or(0);
    let ema_rate = bonds_ema_rate(params.bonds_moving_average);

    let mut dividends: Vec<I32F32>;
    let out_bonds: Vec<Vec<(u16, u16)>>;
    if params.yuma3 {
        let bonds = Csr::from_stored(&input.bonds, keep_bond, math::u16_proportion_to_fixed);
        let liquid = params.liquid_alpha.filter(|_| consensus.iter().any(|c| *c != ZERO));
        let ema = match liquid {
            // The pallet's `compute_liquid_alpha_values_sparse` + `mat_ema_alpha_sparse`,
            // fused: same result, rates computed only where they are used.
            Some(la) => {
                let sigmoid = AlphaSigmoid::new(
                    float_u16(la.alpha_low),
                    float_u16(la.alpha_high),
                    I32F32::saturating_from_num(la.alpha_sigmoid_steepness),
                );
                liquid_alpha::mat_ema_liquid_alpha(&weights_for_bonds, &bonds, &consensus, &sigmoid)
            }
            None => bonds::mat_ema(&weights_for_bonds, &bonds, ema_rate),
        };
        // Dividends from the column-normalised bonds; the stored bonds are the EMA itself.
        let per_validator = passes::normalized_matmul_transpose(&ema, &ema.col_sums(n), &incentive);
        dividends = math::vec_mul(&per_validator, &active_stake);
        math::inplace_normalize(&mut dividends);
        out_bonds = passes::stored_rows(&ema, &new_permits, None);
    } else {
        let bonds = passes::read_col_normalized(&input.bonds, keep_bond, math::u16_to_fixed, n);
        let mut delta = weights_for_bonds;
        passes::scale_rows_col_normalize(&mut delta, &active_stake, n);
        let mut ema = bonds::mat_ema(&delta, &bonds, ema_rate);
        let sums = ema.col_sums(n);
        let column_max = passes::col_normalize_with_max(&mut ema, &sums);
        dividends = ema.matmul_transpose(&incentive);
        math::inplace_normalize(&mut dividends);
        // Stored bonds are column max-upscaled so the largest holder reads 65535.
        out_bonds = passes::stored_rows(&ema, &new_permits, Some(&column_max));
    }

    // == Emission ==
    let combined: Vec<I32F32> = incentive.iter().zip(dividends.iter()).map(|(i, d)| i.saturating_add(*d)).collect();
    let emission_sum = math::sum(&combined);
    let mut norm_server = incentive.clone();
    let mut norm_validator = dividends.clone();
    let mut norm_combined = combined;
    math::inplace_normalize_using_sum(&mut norm_server, emission_sum);
    math::inplace_normalize_using_sum(&mut norm_validator, emission_sum);
    math::inplace_normalize(&mut norm_combined);
    if emission_sum == ZERO {
        // Nobody earned anything (no, outdated or only self weights): pay by stake.
        let fallback = if math::is_zero(&active_stake) { &stake } else { &active_stake };
        norm_validator.clone_from(fallback);
        norm_combined.clone_from(fallback);
    }
    let rao = I96F32::saturating_from_num(emission_rao);
    let to_rao = |v: &[I32F32]| -> Vec<u64> {
        v.iter().map(|x| I96F32::saturating_from_num(*x).saturating_mul(rao).saturating_to_num::<u64>()).collect()
    };
    let server_emission = to_rao(&norm_server);
    let validator_emission = to_rao(&norm_validator);
    let emission = to_rao(&norm_combined);

    let to_u16 = |v: &[I32F32]| -> Vec<u16> { v.iter().map(|x| math::fixed_proportion_to_u16(*x)).collect() };

    tracing::trace!(n, emission_rao, yuma3 = params.yuma3, "yuma epoch done");

    Ok(EpochOutput {
        active,
        validator_permit: new_permits,
        stake_weight: to_u16(&stake),
        consensus: to_u16(&consensus),
        incentive: to_u16(&incentive),
        dividends: to_u16(&dividends),
        validator_trust: to_u16(&validator_trust),
        bonds: out_bonds,
        server_emission,
        validator_emission,
        emission,
        stake: total.iter().map(|s| s.saturating_to_num::<u64>()).collect(),
    })
}

/// Owner cut as the coinbase takes it: `cut_amount = trunc(emission * (cut / 65535))`
/// in `U96F32`; returns `(cut_amount, emission - cut_amount)`.
pub(super) fn owner_cut(emission: u64, cut: u16) -> (u64, u64) {
    let pct = U96F32::saturating_from_num(cut)
        .checked_div(U96F32::saturating_from_num(u16::MAX))
        .unwrap_or(U96F32::from_bits(0));
    let owner = U96F32::saturating_from_num(emission).saturating_mul(pct).saturating_to_num::<u64>();
    (owner, emission.saturating_sub(owner))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(n: usize) -> EpochInput {
        EpochInput {
            current_block: 100,
            last_epoch_block: 0,
            last_update: vec![100; n],
            block_at_registration: vec![0; n],
            stake: vec![1_000; n],
            tao_stake: Vec::new(),
            weights: vec![Vec::new(); n],
            bonds: vec![Vec::new(); n],
            validator_permit: vec![true; n],
            owner_uid: None,
            commit_blocks: None,
        }
    }

    #[test]
    fn rejects_length_mismatch() {
        let mut input = base(3);
        input.stake.pop();
        let err = run_epoch(&EpochParams::default(), &input, 10).unwrap_err();
        assert_eq!(err, YumaError::LengthMismatch { field: "stake", got: 2, expected: 3 });
    }

    #[test]
    fn no_weights_pays_validators_by_stake() {
        let out = run_epoch(&EpochParams::default(), &base(4), 1_000_000).unwrap();
        assert!(out.server_emission.iter().all(|e| *e == 0));
        assert_eq!(out.validator_emission, vec![250_000; 4]);
    }

    #[test]
    fn empty_subnet_is_fine() {
        let out = run_epoch(&EpochParams::default(), &base(0), 1_000).unwrap();
        assert!(out.incentive.is_empty());
    }

    #[test]
    fn owner_cut_default() {
        let (o, r) = owner_cut(1_000_000_000, super::super::DEFAULT_OWNER_CUT);
        assert_eq!(o + r, 1_000_000_000);
        // 11796/65535 = 0.179995...
        assert_eq!(o, 179_995_422);
    }
}
