//! Reference copy of the median, interpolation and bond-EMA helpers as they were
//! before the CSR rewrite (commit 80a5c11), verbatim apart from this header and
//! the imports. Test-only.

use substrate_fixed::types::I32F32;

use super::math::{ONE, SparseMatrix, ZERO, exp_safe, inplace_normalize, sum};

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
