//! Reference copy of the scalar, vector and sparse-matrix helpers as they were
//! before the CSR rewrite (commit 80a5c11), kept verbatim apart from this header
//! and the visibility of the two constants. Test-only: the differential tests run
//! the old epoch against the new one.

use substrate_fixed::transcendental::exp;
use substrate_fixed::types::{I32F32, I64F64};

/// A sparse row-major matrix: for each row, `(column, value)` pairs.
pub type SparseMatrix = Vec<Vec<(u16, I32F32)>>;

pub(super) const ZERO: I32F32 = I32F32::from_bits(0);
pub(super) const ONE: I32F32 = I32F32::from_bits(1 << 32);

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
