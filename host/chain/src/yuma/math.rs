//! Fixed-point vector and matrix helpers for the Yuma epoch.
//!
//! These mirror, operation by operation, the helpers in subtensor's
//! `pallets/subtensor/src/epoch/math.rs` (commit noted in the parent module),
//! because the last bit of every stored `u16` depends on the exact sequence
//! of fixed-point roundings. Conventions carried over from the pallet:
//!
//! * Proportions are `I32F32`; stake before normalisation is `I64F64`.
//! * Division by zero (and division overflow) yields zero, like the pallet's
//!   `safe_div` (`checked_div(..).unwrap_or_default()`), never a panic.
//! * Other arithmetic saturates. Sums use saturating addition; the pallet's
//!   `Iterator::sum` wraps on overflow instead, which cannot happen for
//!   proportions in `[0, 1]` or for rao amounts below `2^63`, so the two agree
//!   on every reachable input.
//! * Sparse matrices are rows of `(column, value)`; out-of-range column
//!   indices are ignored rather than trusted.
//!
//! Everything here is total: no function panics on any input.

use substrate_fixed::transcendental::exp;
use substrate_fixed::types::{I32F32, I64F64};

/// A sparse row-major matrix: for each row, `(column, value)` pairs.
pub type SparseMatrix = Vec<Vec<(u16, I32F32)>>;

const ZERO: I32F32 = I32F32::from_bits(0);
const ONE: I32F32 = I32F32::from_bits(1 << 32);

/// `x / y`, or zero when `y` is zero or the quotient overflows (pallet `safe_div`).
#[inline]
pub fn div_or_zero(x: I32F32, y: I32F32) -> I32F32 {
    x.checked_div(y).unwrap_or(ZERO)
}

/// `x / y` in `I64F64`, or zero when `y` is zero or the quotient overflows.
#[inline]
pub fn div_or_zero_64(x: I64F64, y: I64F64) -> I64F64 {
    x.checked_div(y).unwrap_or(I64F64::from_bits(0))
}

/// Saturating sum of a slice of `I32F32`.
#[inline]
pub fn sum(x: &[I32F32]) -> I32F32 {
    x.iter().fold(ZERO, |acc, v| acc.saturating_add(*v))
}

/// `u16` as an integer-valued `I32F32` (stored weights and bonds before scaling).
#[inline]
pub fn u16_to_fixed(x: u16) -> I32F32 {
    I32F32::saturating_from_num(x)
}

/// `u16` proportion (`65535` = 1.0) as `I32F32`.
#[inline]
pub fn u16_proportion_to_fixed(x: u16) -> I32F32 {
    div_or_zero(I32F32::saturating_from_num(x), I32F32::saturating_from_num(u16::MAX))
}

/// Divides an integer-valued `I32F32` by 65535 (pallet `fixed_to_fixed_u16_proportion`).
#[inline]
pub fn fixed_to_fixed_u16_proportion(x: I32F32) -> I32F32 {
    div_or_zero(x, I32F32::saturating_from_num(u16::MAX))
}

/// Proportion to stored `u16`: `trunc(x * 65535)`, saturating to `[0, 65535]`.
#[inline]
pub fn fixed_proportion_to_u16(x: I32F32) -> u16 {
    x.saturating_mul(I32F32::saturating_from_num(u16::MAX)).saturating_to_num::<u16>()
}

/// Scales a non-negative vector so its maximum becomes 65535, rounding to
/// nearest (pallet `vec_max_upscale_to_u16`, used for stored weights).
///
/// When the maximum exceeds 32768 the pallet divides first to avoid
/// overflowing `I32F32`, which changes the rounding; that branch is kept.
pub fn vec_max_upscale_to_u16(vec: &[I32F32]) -> Vec<u16> {
    let u16_max = I32F32::saturating_from_num(u16::MAX);
    let threshold = I32F32::saturating_from_num(32768);
    let Some(&max) = vec.iter().max() else {
        return Vec::new();
    };
    if max == ZERO {
        return vec.iter().map(|e| e.saturating_mul(u16_max).saturating_to_num::<u16>()).collect();
    }
    if max > threshold {
        let scale = div_or_zero(u16_max, max);
        return vec.iter().map(|e| e.saturating_mul(scale).round().saturating_to_num::<u16>()).collect();
    }
    vec.iter().map(|e| div_or_zero(e.saturating_mul(u16_max), max).round().saturating_to_num::<u16>()).collect()
}

/// [`vec_max_upscale_to_u16`] over `u16` input (pallet `vec_u16_max_upscale_to_u16`).
pub fn vec_u16_max_upscale_to_u16(vec: &[u16]) -> Vec<u16> {
    let fixed: Vec<I32F32> = vec.iter().map(|e| u16_to_fixed(*e)).collect();
    vec_max_upscale_to_u16(&fixed)
}

/// True when the vector sums to zero.
pub fn is_zero(vector: &[I32F32]) -> bool {
    sum(vector) == ZERO
}

/// `exp` clamped to inputs in `[-20, 20]`; on internal overflow returns 0 for
/// non-positive inputs and the maximum otherwise (pallet `exp_safe`).
pub fn exp_safe(input: I32F32) -> I32F32 {
    let lo = I32F32::saturating_from_num(-20);
    let hi = I32F32::saturating_from_num(20);
    let x = if input < lo {
        lo
    } else if hi < input {
        hi
    } else {
        input
    };
    match exp::<I32F32, I32F32>(x) {
        Ok(v) => v,
        Err(()) if x <= ZERO => ZERO,
        Err(()) => I32F32::max_value(),
    }
}

/// Marks the `k` largest entries that are also non-zero. Ties are broken as
/// the pallet's stable ascending sort does: among equal values the lowest
/// indices lose first. If `len < k` every non-zero entry is marked.
pub fn is_topk_nonzero(vector: &[I32F32], k: usize) -> Vec<bool> {
    let n = vector.len();
    let mut result: Vec<bool> = vector.iter().map(|v| *v != ZERO).collect();
    if n < k {
        return result;
    }
    let mut idxs: Vec<usize> = (0..n).collect();
    idxs.sort_by_key(|&i| vector.get(i).copied().unwrap_or(ZERO));
    for &i in idxs.iter().take(n - k) {
        if let Some(cell) = result.get_mut(i) {
            *cell = false;
        }
    }
    result
}

/// Normalises in place so the entries sum to 1; a zero-sum vector is left as is.
pub fn inplace_normalize(x: &mut [I32F32]) {
    let s = sum(x);
    if s == ZERO {
        return;
    }
    x.iter_mut().for_each(|v| *v = div_or_zero(*v, s));
}

/// Divides every entry by `x_sum` unless it is zero.
pub fn inplace_normalize_using_sum(x: &mut [I32F32], x_sum: I32F32) {
    if x_sum == ZERO {
        return;
    }
    x.iter_mut().for_each(|v| *v = div_or_zero(*v, x_sum));
}

/// [`inplace_normalize`] for `I64F64`.
pub fn inplace_normalize_64(x: &mut [I64F64]) {
    let zero = I64F64::from_bits(0);
    let s = x.iter().fold(zero, |acc, v| acc.saturating_add(*v));
    if s == zero {
        return;
    }
    x.iter_mut().for_each(|v| *v = div_or_zero_64(*v, s));
}

/// Zeroes entries whose mask is true; entries beyond the mask are zeroed too.
pub fn inplace_mask_vector(mask: &[bool], vector: &mut [I32F32]) {
    if mask.is_empty() {
        return;
    }
    for (i, v) in vector.iter_mut().enumerate() {
        if mask.get(i).copied().unwrap_or(true) {
            *v = ZERO;
        }
    }
}

/// Empties rows whose mask is true (rows beyond the mask are emptied too).
pub fn mask_rows_sparse(mask: &[bool], m: &[Vec<(u16, I32F32)>]) -> SparseMatrix {
    m.iter()
        .enumerate()
        .map(|(i, row)| if mask.get(i).copied().unwrap_or(true) { Vec::new() } else { row.clone() })
        .collect()
}

/// Removes diagonal entries, except at `(keep, keep)` when `keep` is given.
pub fn mask_diag_sparse(m: &[Vec<(u16, I32F32)>], keep: Option<u16>) -> SparseMatrix {
    m.iter()
        .enumerate()
        .map(|(i, row)| row.iter().filter(|(j, _)| i != *j as usize || keep == Some(*j)).copied().collect())
        .collect()
}

/// Drops entry `(i, j)` when `mask_fn(first[i], second[j])` holds; missing
/// vector entries read as 0.
pub fn vec_mask_sparse_matrix(
    m: &[Vec<(u16, I32F32)>],
    first: &[u64],
    second: &[u64],
    mask_fn: impl Fn(u64, u64) -> bool,
) -> SparseMatrix {
    m.iter()
        .enumerate()
        .map(|(i, row)| {
            let f = first.get(i).copied().unwrap_or(0);
            row.iter().filter(|(j, _)| !mask_fn(f, second.get(*j as usize).copied().unwrap_or(0))).copied().collect()
        })
        .collect()
}

/// Drops entry `(i, j)` when `mask_fn(scalar, vector[j])` holds.
pub fn scalar_vec_mask_sparse_matrix(
    m: &[Vec<(u16, I32F32)>],
    scalar: u64,
    vector: &[u64],
    mask_fn: impl Fn(u64, u64) -> bool,
) -> SparseMatrix {
    m.iter()
        .map(|row| {
            row.iter()
                .filter(|(j, _)| !mask_fn(scalar, vector.get(*j as usize).copied().unwrap_or(0)))
                .copied()
                .collect()
        })
        .collect()
}

/// Normalises each row to sum 1 (rows with a non-positive sum are left as is).
pub fn inplace_row_normalize_sparse(m: &mut [Vec<(u16, I32F32)>]) {
    for row in m.iter_mut() {
        let s = row.iter().fold(ZERO, |a, (_, v)| a.saturating_add(*v));
        if s > ZERO {
            row.iter_mut().for_each(|(_, v)| *v = div_or_zero(*v, s));
        }
    }
}

/// Sum of each row.
pub fn row_sum_sparse(m: &[Vec<(u16, I32F32)>]) -> Vec<I32F32> {
    m.iter().map(|row| row.iter().fold(ZERO, |a, (_, v)| a.saturating_add(*v))).collect()
}

/// Normalises each of the first `columns` columns to sum 1 (zero columns untouched).
pub fn inplace_col_normalize_sparse(m: &mut [Vec<(u16, I32F32)>], columns: u16) {
    let mut col_sum = vec![ZERO; columns as usize];
    for row in m.iter() {
        for (j, v) in row {
            if let Some(s) = col_sum.get_mut(*j as usize) {
                *s = s.saturating_add(*v);
            }
        }
    }
    for row in m.iter_mut() {
        for (j, v) in row.iter_mut() {
            let d = col_sum.get(*j as usize).copied().unwrap_or(ZERO);
            if d != ZERO {
                *v = div_or_zero(*v, d);
            }
        }
    }
}

/// Scales each column so its maximum becomes 1 (zero columns untouched).
pub fn inplace_col_max_upscale_sparse(m: &mut [Vec<(u16, I32F32)>], columns: u16) {
    let mut col_max = vec![ZERO; columns as usize];
    for row in m.iter() {
        for (j, v) in row {
            if let Some(mx) = col_max.get_mut(*j as usize)
                && *mx < *v
            {
                *mx = *v;
            }
        }
    }
    for row in m.iter_mut() {
        for (j, v) in row.iter_mut() {
            let mx = col_max.get(*j as usize).copied().unwrap_or(ZERO);
            if mx != ZERO {
                *v = div_or_zero(*v, mx);
            }
        }
    }
}

/// Multiplies row `i` by `vector[i]` (rows beyond the vector are dropped).
pub fn row_hadamard_sparse(m: &[Vec<(u16, I32F32)>], vector: &[I32F32]) -> SparseMatrix {
    m.iter().zip(vector.iter()).map(|(row, s)| row.iter().map(|(j, v)| (*j, v.saturating_mul(*s))).collect()).collect()
}

/// `result[j] = Σ_i vector[i] * m[i][j]` over `columns` columns.
pub fn matmul_sparse(m: &[Vec<(u16, I32F32)>], vector: &[I32F32], columns: u16) -> Vec<I32F32> {
    let mut out = vec![ZERO; columns as usize];
    for (i, row) in m.iter().enumerate() {
        let s = vector.get(i).copied().unwrap_or(ZERO);
        for (j, v) in row {
            if let Some(r) = out.get_mut(*j as usize) {
                *r = r.saturating_add(s.saturating_mul(*v));
            }
        }
    }
    out
}

/// `result[i] = Σ_j vector[j] * m[i][j]`.
pub fn matmul_transpose_sparse(m: &[Vec<(u16, I32F32)>], vector: &[I32F32]) -> Vec<I32F32> {
    m.iter()
        .map(|row| {
            row.iter().fold(ZERO, |acc, (j, v)| {
                let x = vector.get(*j as usize).copied().unwrap_or(ZERO);
                acc.saturating_add(x.saturating_mul(*v))
            })
        })
        .collect()
}

/// Clips each entry at its column threshold; entries clipped to a zero
/// threshold are removed.
pub fn col_clip_sparse(m: &[Vec<(u16, I32F32)>], threshold: &[I32F32]) -> SparseMatrix {
    m.iter()
        .map(|row| {
            row.iter()
                .filter_map(|&(j, v)| {
                    let th = threshold.get(j as usize).copied().unwrap_or(ZERO);
                    if th < v { (th > ZERO).then_some((j, th)) } else { Some((j, v)) }
                })
                .collect()
        })
        .collect()
}

/// Stake-weighted median of `score` over the indices in `partition`: the
/// score at which the stake strictly below it first exceeds `minority`.
///
/// Same quickselect as the pallet (pivot at the middle position of the
/// current partition, equal scores kept with the pivot), so ties and
/// boundary cases resolve identically. Returns 0 for mismatched lengths or
/// an empty partition.
pub fn weighted_median(
    stake: &[I32F32],
    score: &[I32F32],
    partition: &[usize],
    minority: I32F32,
    mut partition_lo: I32F32,
    mut partition_hi: I32F32,
) -> I32F32 {
    if stake.len() != score.len() {
        return ZERO;
    }
    let at = |v: &[I32F32], i: usize| v.get(i).copied().unwrap_or(ZERO);
    let mut current: Vec<usize> = partition.to_vec();
    let mut lower: Vec<usize> = Vec::new();
    let mut upper: Vec<usize> = Vec::new();
    // The pallet bounds the loop at len+1 rounds; each round shrinks the
    // partition, so the bound is never reached in practice.
    for _ in 0..=partition.len() {
        match current.len() {
            0 => return ZERO,
            1 => return current.first().map(|&i| at(score, i)).unwrap_or(ZERO),
            _ => {}
        }
        let pivot = at(score, current.get(current.len() / 2).copied().unwrap_or(0));
        let mut lo_stake = ZERO;
        let mut hi_stake = ZERO;
        lower.clear();
        upper.clear();
        for &i in &current {
            let s = at(score, i);
            if s == pivot {
                continue;
            }
            if s < pivot {
                lo_stake = lo_stake.saturating_add(at(stake, i));
                lower.push(i);
            } else {
                hi_stake = hi_stake.saturating_add(at(stake, i));
                upper.push(i);
            }
        }
        if minority < partition_lo.saturating_add(lo_stake) && !lower.is_empty() {
            partition_hi = partition_lo.saturating_add(lo_stake);
            std::mem::swap(&mut current, &mut lower);
        } else if partition_hi.saturating_sub(hi_stake) <= minority && !upper.is_empty() {
            partition_lo = partition_hi.saturating_sub(hi_stake);
            std::mem::swap(&mut current, &mut upper);
        } else {
            return pivot;
        }
    }
    ZERO
}

/// Column-wise stake-weighted median of a dense matrix (pallet
/// `weighted_median_col`): rows with zero stake are skipped, the remaining
/// stake is renormalised, and `majority` (kappa) sets the quantile.
pub fn weighted_median_col(stake: &[I32F32], score: &[Vec<I32F32>], majority: I32F32) -> Vec<I32F32> {
    let columns = score.first().map(|r| r.len()).unwrap_or(0);
    let mut median = vec![ZERO; columns];
    for (c, cell) in median.iter_mut().enumerate() {
        let mut use_stake = Vec::new();
        let mut use_score = Vec::new();
        for (r, &st) in stake.iter().enumerate() {
            if st > ZERO {
                // Malformed rows count as zero stake and zero score, as in the pallet.
                match score.get(r) {
                    Some(row) if row.len() == columns => {
                        use_stake.push(st);
                        use_score.push(row.get(c).copied().unwrap_or(ZERO));
                    }
                    _ => {
                        use_stake.push(ZERO);
                        use_score.push(ZERO);
                    }
                }
            }
        }
        if !use_stake.is_empty() {
            inplace_normalize(&mut use_stake);
            let total = sum(&use_stake);
            let minority = total.saturating_sub(majority);
            let idx: Vec<usize> = (0..use_stake.len()).collect();
            *cell = weighted_median(&use_stake, &use_score, &idx, minority, ZERO, total);
        }
    }
    median
}

/// Column-wise stake-weighted median of a sparse matrix over `columns`
/// columns (pallet `weighted_median_col_sparse`, the one the epoch uses).
pub fn weighted_median_col_sparse(
    stake: &[I32F32],
    score: &[Vec<(u16, I32F32)>],
    columns: u16,
    majority: I32F32,
) -> Vec<I32F32> {
    let mut use_stake: Vec<I32F32> = stake.iter().copied().filter(|s| *s > ZERO).collect();
    inplace_normalize(&mut use_stake);
    let total = sum(&use_stake);
    let minority = total.saturating_sub(majority);
    let idx: Vec<usize> = (0..use_stake.len()).collect();
    // Transposed, dense over the staked rows only.
    let mut cols: Vec<Vec<I32F32>> = vec![vec![ZERO; use_stake.len()]; columns as usize];
    let mut k = 0usize;
    for (s, row) in stake.iter().zip(score.iter()) {
        if *s > ZERO {
            for (c, v) in row {
                if let Some(cell) = cols.get_mut(*c as usize).and_then(|col| col.get_mut(k)) {
                    *cell = *v;
                }
            }
            k += 1;
        }
    }
    cols.iter().map(|col| weighted_median(&use_stake, col, &idx, minority, ZERO, total)).collect()
}

/// `mat1 + ratio * (mat2 - mat1)` over `columns` columns, keeping positive
/// entries only (pallet `interpolate_sparse`; ratio 0 or 1 returns an input
/// unchanged).
pub fn interpolate_sparse(
    mat1: &[Vec<(u16, I32F32)>],
    mat2: &[Vec<(u16, I32F32)>],
    columns: u16,
    ratio: I32F32,
) -> SparseMatrix {
    if ratio == ZERO {
        return mat1.to_vec();
    }
    if ratio == ONE || mat1.len() != mat2.len() {
        return mat2.to_vec();
    }
    let dense = |row: &[(u16, I32F32)]| {
        let mut d = vec![ZERO; columns as usize];
        for (j, v) in row {
            if let Some(c) = d.get_mut(*j as usize) {
                *c = *v;
            }
        }
        d
    };
    mat1.iter()
        .zip(mat2.iter())
        .map(|(r1, r2)| {
            let d1 = dense(r1);
            let d2 = dense(r2);
            d1.iter()
                .zip(d2.iter())
                .enumerate()
                .filter_map(|(j, (v1, v2))| {
                    let x = v1.saturating_add(ratio.saturating_mul(v2.saturating_sub(*v1)));
                    (x > ZERO).then_some((j as u16, x))
                })
                .collect()
        })
        .collect()
}

/// Element-wise product; an overflowing product becomes 0 (pallet `vec_mul`).
pub fn vec_mul(a: &[I32F32], b: &[I32F32]) -> Vec<I32F32> {
    a.iter().zip(b.iter()).map(|(x, y)| x.checked_mul(*y).unwrap_or(ZERO)).collect()
}

/// Multiplies column `j` by `vector[j]`, dropping zero products.
pub fn mat_vec_mul_sparse(m: &[Vec<(u16, I32F32)>], vector: &[I32F32]) -> SparseMatrix {
    m.iter()
        .map(|row| {
            row.iter()
                .filter_map(|(j, v)| {
                    let x = vector.get(*j as usize)?;
                    let p = v.saturating_mul(*x);
                    (p != ZERO).then_some((*j, p))
                })
                .collect()
        })
        .collect()
}

/// Clamps to `[low, high]` as the pallet does (`.min(high).max(low)`, so `low`
/// wins if the bounds are inverted).
#[inline]
pub fn clamp_value(value: I32F32, low: I32F32, high: I32F32) -> I32F32 {
    value.min(high).max(low)
}

/// Classic bonds EMA: `alpha * new + (1 - alpha) * old`, square `n x n`
/// with `n = new.len()`, keeping positive entries (pallet `mat_ema_sparse`).
pub fn mat_ema_sparse(new: &[Vec<(u16, I32F32)>], old: &[Vec<(u16, I32F32)>], alpha: I32F32) -> SparseMatrix {
    let n = new.len();
    let one_minus_alpha = ONE.saturating_sub(alpha);
    let mut old_rows = old.iter();
    new.iter()
        .map(|new_row| {
            let mut acc = vec![ZERO; n];
            for (j, v) in new_row {
                if let Some(c) = acc.get_mut(*j as usize) {
                    *c = c.saturating_add(alpha.saturating_mul(*v));
                }
            }
            if let Some(old_row) = old_rows.next() {
                for (j, v) in old_row {
                    if let Some(c) = acc.get_mut(*j as usize) {
                        *c = c.saturating_add(one_minus_alpha.saturating_mul(*v));
                    }
                }
            }
            acc.iter().enumerate().filter(|(_, v)| **v > ZERO).map(|(j, v)| (j as u16, *v)).collect()
        })
        .collect()
}

/// Yuma3 bonds EMA with a per-entry rate: `min(1, (1-a) * old + max(0, a * new))`,
/// emitted only where `new` has an entry (the pallet's sparse variant drops old
/// bonds in columns the new row does not mention). Shape mismatch returns `new`.
pub fn mat_ema_alpha_sparse(
    new: &[Vec<(u16, I32F32)>],
    old: &[Vec<(u16, I32F32)>],
    alpha: &[Vec<I32F32>],
) -> SparseMatrix {
    if new.len() != old.len() || new.len() != alpha.len() {
        return new.to_vec();
    }
    new.iter()
        .zip(old.iter())
        .zip(alpha.iter())
        .map(|((new_row, old_row), alpha_row)| {
            let mut decayed = vec![ZERO; alpha_row.len()];
            for (j, o) in old_row {
                if let (Some(a), Some(c)) = (alpha_row.get(*j as usize), decayed.get_mut(*j as usize)) {
                    *c = ONE.saturating_sub(*a).saturating_mul(*o);
                }
            }
            new_row
                .iter()
                .filter_map(|(j, w)| {
                    let a = alpha_row.get(*j as usize)?;
                    let d = decayed.get(*j as usize)?;
                    let inc = a.saturating_mul(*w).max(ZERO);
                    let v = d.saturating_add(inc).min(ONE);
                    (v > ZERO).then_some((*j, v))
                })
                .collect()
        })
        .collect()
}

/// Liquid-alpha EMA rate for one bond (pallet `alpha_sigmoid`):
/// `low + sigmoid(steepness * (diff - 0.5)) * (high - low)`, where `diff` is
/// how far the weight is above consensus when buying (weight >= bond) or how
/// far the bond is above the weight when selling.
pub fn alpha_sigmoid(
    consensus: I32F32,
    weight: I32F32,
    bond: I32F32,
    alpha_low: I32F32,
    alpha_high: I32F32,
    steepness: I32F32,
) -> I32F32 {
    let diff_buy = clamp_value(weight.saturating_sub(consensus), ZERO, ONE);
    let diff_sell = clamp_value(bond.saturating_sub(weight), ZERO, ONE);
    let diff = if weight >= bond { diff_buy } else { diff_sell };
    let half = I32F32::saturating_from_num(0.5);
    let slope = saturating_div(steepness, I32F32::saturating_from_num(-100));
    let e = exp_safe(slope.saturating_mul(diff.saturating_sub(half)));
    let sigmoid = saturating_div(ONE, ONE.saturating_add(e));
    let alpha = alpha_low.saturating_add(sigmoid.saturating_mul(alpha_high.saturating_sub(alpha_low)));
    clamp_value(alpha, alpha_low, alpha_high)
}

/// substrate-fixed's `saturating_div` (saturates on overflow), which the
/// pallet uses in the sigmoid. It panics on a zero divisor, so callers here
/// only pass non-zero constants or `1 + exp(..) >= 1`.
#[inline]
fn saturating_div(x: I32F32, y: I32F32) -> I32F32 {
    x.saturating_div(y)
}

/// Dense `n_rows x consensus.len()` matrix of liquid-alpha rates from sparse
/// weights and bonds (pallet `compute_liquid_alpha_values_sparse`). Rows must
/// be sorted by column, as stored.
pub fn liquid_alpha_values_sparse(
    weights: &[Vec<(u16, I32F32)>],
    bonds: &[Vec<(u16, I32F32)>],
    consensus: &[I32F32],
    alpha_low: I32F32,
    alpha_high: I32F32,
    steepness: I32F32,
) -> Vec<Vec<I32F32>> {
    if weights.len() != bonds.len() {
        return Vec::new();
    }
    weights
        .iter()
        .zip(bonds.iter())
        .map(|(w_row, b_row)| {
            let mut w_it = w_row.iter().peekable();
            let mut b_it = b_row.iter().peekable();
            consensus
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    let j = j as u16;
                    let w = seek(&mut w_it, j);
                    let b = seek(&mut b_it, j);
                    alpha_sigmoid(*c, w, b, alpha_low, alpha_high, steepness)
                })
                .collect()
        })
        .collect()
}

/// [`liquid_alpha_values_sparse`] followed by [`mat_ema_alpha_sparse`], bit for bit, without
/// the dense matrix: a rate only reaches the output where the new row has an entry, so only
/// those rates are computed (each from the same `(consensus, weight, bond)` triple the dense
/// pass reads). Rows without weights produce empty rows either way and are skipped. This
/// turns `n^2` fixed-point exponentials into one per stored weight.
pub fn mat_ema_liquid_alpha_sparse(
    new: &[Vec<(u16, I32F32)>],
    old: &[Vec<(u16, I32F32)>],
    consensus: &[I32F32],
    alpha_low: I32F32,
    alpha_high: I32F32,
    steepness: I32F32,
) -> SparseMatrix {
    if new.len() != old.len() {
        // The dense pass yields no rates, and the EMA then returns `new` unchanged.
        return new.to_vec();
    }
    let n = consensus.len();
    new.iter()
        .zip(old.iter())
        .map(|(new_row, old_row)| {
            if new_row.is_empty() || n == 0 {
                return Vec::new();
            }
            // What the dense pass's cursors read at each column.
            let mut w_at = vec![ZERO; n];
            let mut b_at = vec![ZERO; n];
            let mut w_it = new_row.iter().peekable();
            let mut b_it = old_row.iter().peekable();
            for j in 0..n {
                w_at[j] = seek(&mut w_it, j as u16);
                b_at[j] = seek(&mut b_it, j as u16);
            }
            // The old value the EMA decays at each column (later entries overwrite).
            let mut old_at: Vec<Option<I32F32>> = vec![None; n];
            for (j, o) in old_row {
                if let Some(slot) = old_at.get_mut(*j as usize) {
                    *slot = Some(*o);
                }
            }
            let mut rates: Vec<Option<I32F32>> = vec![None; n];
            new_row
                .iter()
                .filter_map(|(j, w)| {
                    let ju = *j as usize;
                    let c = consensus.get(ju)?;
                    let a = *rates[ju]
                        .get_or_insert_with(|| alpha_sigmoid(*c, w_at[ju], b_at[ju], alpha_low, alpha_high, steepness));
                    let d = old_at[ju].map_or(ZERO, |o| ONE.saturating_sub(a).saturating_mul(o));
                    let inc = a.saturating_mul(*w).max(ZERO);
                    let v = d.saturating_add(inc).min(ONE);
                    (v > ZERO).then_some((*j, v))
                })
                .collect()
        })
        .collect()
}

/// Advances a sorted sparse-row cursor to column `j`, returning its value or 0.
fn seek<'a, I>(it: &mut std::iter::Peekable<I>, j: u16) -> I32F32
where
    I: Iterator<Item = &'a (u16, I32F32)>,
{
    while let Some(&&(i, v)) = it.peek() {
        if i < j {
            it.next();
        } else {
            return if i == j { v } else { ZERO };
        }
    }
    ZERO
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_liquid_alpha_ema_equals_the_dense_two_step() {
        // Pseudo-random sparse rows, including empty rows, bond-only rows, unsorted rows and
        // duplicate columns, so equality does not rest on well-formed input.
        fn rnd(seed: &mut u64, m: u64) -> u64 {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed % m
        }
        fn row(seed: &mut u64, n: usize, density: u64, case: u32) -> Vec<(u16, I32F32)> {
            let mut r = Vec::new();
            for j in 0..n as u16 {
                if rnd(seed, 100) < density {
                    r.push((j, I32F32::from_bits(rnd(seed, 1 << 33) as i64)));
                }
            }
            if case.is_multiple_of(7) && r.len() > 1 {
                r.swap(0, 1);
            }
            if case.is_multiple_of(11) && !r.is_empty() {
                r.push(r[0]);
            }
            r
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for case in 0..200u32 {
            let n = 1 + rnd(&mut seed, 24) as usize;
            let rows = 1 + rnd(&mut seed, 12) as usize;
            let new: Vec<_> =
                (0..rows).map(|i| if i % 4 == 3 { Vec::new() } else { row(&mut seed, n, 60, case) }).collect();
            let old: Vec<_> = (0..rows).map(|_| row(&mut seed, n, 50, case)).collect();
            let consensus: Vec<I32F32> = (0..n).map(|_| I32F32::from_bits(rnd(&mut seed, 1 << 32) as i64)).collect();
            let (lo, hi) = (f(0.7), f(0.9));
            let st = I32F32::saturating_from_num(1000 - rnd(&mut seed, 2000) as i64);
            let dense = liquid_alpha_values_sparse(&new, &old, &consensus, lo, hi, st);
            let want = mat_ema_alpha_sparse(&new, &old, &dense);
            let got = mat_ema_liquid_alpha_sparse(&new, &old, &consensus, lo, hi, st);
            assert_eq!(got, want, "case {case}");
        }
    }

    fn f(x: f64) -> I32F32 {
        I32F32::saturating_from_num(x)
    }

    #[test]
    fn div_by_zero_is_zero() {
        assert_eq!(div_or_zero(ONE, ZERO), ZERO);
        assert_eq!(div_or_zero(I32F32::max_value(), f(0.25)), ZERO);
    }

    #[test]
    fn topk_ties_drop_lowest_index_first() {
        let v = vec![f(0.5), f(0.5), f(0.5), ZERO];
        assert_eq!(is_topk_nonzero(&v, 2), vec![false, true, true, false]);
        assert_eq!(is_topk_nonzero(&v, 8), vec![true, true, true, false]);
    }

    #[test]
    fn weighted_median_simple() {
        let stake = vec![f(0.25); 4];
        let score = vec![f(0.1), f(0.2), f(0.3), f(0.4)];
        let idx: Vec<usize> = (0..4).collect();
        // minority 0.49: the median is the lowest score whose lower stake passes 0.49.
        let m = weighted_median(&stake, &score, &idx, f(0.49), ZERO, ONE);
        assert_eq!(m, f(0.2));
    }

    #[test]
    fn ema_alpha_sparse_drops_unmentioned_columns() {
        let new = vec![vec![(0u16, f(1.0))]];
        let old = vec![vec![(0u16, f(0.5)), (1u16, f(0.5))]];
        let alpha = vec![vec![f(0.1), f(0.1)]];
        let out = mat_ema_alpha_sparse(&new, &old, &alpha);
        assert_eq!(out[0].len(), 1);
        assert_eq!(out[0][0].0, 0);
    }
}
