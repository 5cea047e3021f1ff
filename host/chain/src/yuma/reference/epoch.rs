//! Reference copy of the epoch as it was before the CSR rewrite (commit
//! 80a5c11), verbatim apart from this header and the imports. Test-only.

use substrate_fixed::types::{I32F32, I64F64, I96F32, U96F32};

use super::consensus as cmath;
use super::math::{self, SparseMatrix};
use crate::yuma::{EpochInput, EpochOutput, EpochParams, YumaError};

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

/// Converts stored `(uid, u16)` rows to fixed point. Rows beyond `n` cannot
/// exist (lengths are validated); `filter_cols` drops columns `>= n` as the
/// pallet's weight reader does (its bond reader does not).
fn read_sparse(rows: &[Vec<(u16, u16)>], n: u16, filter_cols: bool) -> SparseMatrix {
    rows.iter()
        .map(|row| {
            row.iter().filter(|(j, _)| !filter_cols || *j < n).map(|(j, v)| (*j, math::u16_to_fixed(*v))).collect()
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
    let nu = n as usize;
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
    let forbids: Vec<bool> = permits.iter().map(|p| !p).collect();

    // == Active stake ==
    let mut active_stake = stake.clone();
    math::inplace_mask_vector(&inactive, &mut active_stake);
    math::inplace_mask_vector(&forbids, &mut active_stake);
    math::inplace_normalize(&mut active_stake);

    // == Weights ==
    let mut weights = read_sparse(&input.weights, n, true);
    weights = math::mask_rows_sparse(&forbids, &weights);
    weights = math::mask_diag_sparse(&weights, owner);
    // A weight set before its target re-registered refers to the old occupant.
    weights = math::vec_mask_sparse_matrix(
        &weights,
        &input.last_update,
        &input.block_at_registration,
        |updated, registered| updated <= registered,
    );
    if let Some(commit_blocks) = &input.commit_blocks {
        weights =
            math::vec_mask_sparse_matrix(&weights, commit_blocks, &input.block_at_registration, |cb, reg| cb < reg);
    }
    math::inplace_row_normalize_sparse(&mut weights);

    // == Consensus, validator trust, incentive ==
    let kappa = float_u16(params.kappa);
    let consensus = cmath::weighted_median_col_sparse(&active_stake, &weights, n, kappa);
    let clipped = math::col_clip_sparse(&weights, &consensus);
    let validator_trust = math::row_sum_sparse(&clipped);
    let mut incentive = math::matmul_sparse(&clipped, &active_stake, n);
    math::inplace_normalize(&mut incentive);

    // == Bonds and dividends ==
    let bonds_penalty = float_u16(params.bonds_penalty);
    let weights_for_bonds = cmath::interpolate_sparse(&weights, &clipped, n, bonds_penalty);
    // Bonds to a uid registered since the previous epoch belong to its predecessor.
    let last_tempo = if input.last_epoch_block == 0 {
        current_block.saturating_sub(u64::from(params.tempo))
    } else {
        input.last_epoch_block.saturating_add(1)
    };
    let mut bonds = read_sparse(&input.bonds, n, false);

    let mut dividends: Vec<I32F32>;
    let ema_bonds: SparseMatrix;
    if params.yuma3 {
        for row in bonds.iter_mut() {
            for (_, b) in row.iter_mut() {
                *b = math::fixed_to_fixed_u16_proportion(*b);
            }
        }
        bonds =
            math::scalar_vec_mask_sparse_matrix(&bonds, last_tempo, &input.block_at_registration, |lt, reg| lt <= reg);
        let liquid = params.liquid_alpha.filter(|_| consensus.iter().any(|c| *c != ZERO));
        ema_bonds = match liquid {
            // The pallet's `compute_liquid_alpha_values_sparse` + `mat_ema_alpha_sparse`,
            // fused: same result, rates computed only where they are used.
            Some(la) => cmath::mat_ema_liquid_alpha_sparse(
                &weights_for_bonds,
                &bonds,
                &consensus,
                float_u16(la.alpha_low),
                float_u16(la.alpha_high),
                I32F32::saturating_from_num(la.alpha_sigmoid_steepness),
            ),
            None => cmath::mat_ema_sparse(&weights_for_bonds, &bonds, bonds_ema_rate(params.bonds_moving_average)),
        };
        let mut norm = ema_bonds.clone();
        math::inplace_col_normalize_sparse(&mut norm, n);
        let per_validator = math::row_sum_sparse(&cmath::mat_vec_mul_sparse(&norm, &incentive));
        dividends = cmath::vec_mul(&per_validator, &active_stake);
        math::inplace_normalize(&mut dividends);
    } else {
        bonds =
            math::scalar_vec_mask_sparse_matrix(&bonds, last_tempo, &input.block_at_registration, |lt, reg| lt <= reg);
        math::inplace_col_normalize_sparse(&mut bonds, n);
        let mut delta = math::row_hadamard_sparse(&weights_for_bonds, &active_stake);
        math::inplace_col_normalize_sparse(&mut delta, n);
        let mut ema = cmath::mat_ema_sparse(&delta, &bonds, bonds_ema_rate(params.bonds_moving_average));
        math::inplace_col_normalize_sparse(&mut ema, n);
        dividends = math::matmul_transpose_sparse(&ema, &incentive);
        math::inplace_normalize(&mut dividends);
        // Stored bonds are column max-upscaled so the largest holder reads 65535.
        math::inplace_col_max_upscale_sparse(&mut ema, n);
        ema_bonds = ema;
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

    // Only permitted validators keep bonds; everyone else's row is cleared.
    let out_bonds: Vec<Vec<(u16, u16)>> = (0..nu)
        .map(|i| {
            if new_permits.get(i).copied().unwrap_or(false) {
                ema_bonds
                    .get(i)
                    .map(|row| row.iter().map(|(j, v)| (*j, math::fixed_proportion_to_u16(*v))).collect())
                    .unwrap_or_default()
            } else {
                Vec::new()
            }
        })
        .collect();

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
