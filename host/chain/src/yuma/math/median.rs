//! Stake-weighted medians: the consensus weight of each column.
//!
//! The pallet finds each column's median with a quickselect over the staked
//! rows ([`weighted_median`], kept here as written for the dense helper and as
//! the fallback). Its answer does not depend on the pivots it happens to pick:
//! with non-negative stakes whose sum cannot saturate, every fixed-point
//! addition in it is exact, and it returns the smallest score `v` whose stake at
//! or below `v` exceeds the minority (`total - kappa`), or the largest score if
//! none does. [`weighted_median_cols`] computes that value directly from a
//! column-major copy of the matrix: each column's explicit entries plus one
//! block holding the stake of the rows that have no entry (score 0), sorted
//! and scanned once. That makes the work proportional to the stored weights
//! instead of `columns x staked rows`, and allocates once per call.
//!
//! Preconditions of the fast path, checked at run time (else the quickselect
//! runs): stakes are filtered to positive values and renormalised, so only the
//! sum can break exactness; it is computed exactly and must fit `I32F32`.

use substrate_fixed::types::I32F32;

use super::fixed::{ZERO, add};
use super::pool;
use super::sparse::{Csr, strictly_increasing};
use super::vector::{inplace_normalize, sum};

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
    let mut lower: Vec<usize> = Vec::with_capacity(current.len());
    let mut upper: Vec<usize> = Vec::with_capacity(current.len());
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
                lo_stake = add(lo_stake, at(stake, i));
                lower.push(i);
            } else {
                hi_stake = add(hi_stake, at(stake, i));
                upper.push(i);
            }
        }
        if minority < add(partition_lo, lo_stake) && !lower.is_empty() {
            partition_hi = add(partition_lo, lo_stake);
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

/// Column-wise stake-weighted median of a sparse matrix in the pallet's layout
/// (pallet `weighted_median_col_sparse`); see [`weighted_median_cols`].
pub fn weighted_median_col_sparse(
    stake: &[I32F32],
    score: &[Vec<(u16, I32F32)>],
    columns: u16,
    majority: I32F32,
) -> Vec<I32F32> {
    weighted_median_cols(stake, &Csr::from_rows(score), columns, majority)
}

/// The staked rows' entries grouped by column: column `c` holds
/// `score[start[c]..start[c] + len[c]]` (bits) with `tag[..]` alongside, where
/// `tag = tag_of(position among the staked rows)`; one entry per row (a later
/// duplicate in a row overwrites the score, as the pallet's dense copy does),
/// and one spare slot after them for the block of rows without an entry.
struct Columns {
    start: Vec<usize>,
    len: Vec<usize>,
    score: Vec<i64>,
    tag: Vec<i64>,
}

impl Drop for Columns {
    fn drop(&mut self) {
        pool::give(std::mem::take(&mut self.start));
        pool::give(std::mem::take(&mut self.len));
        pool::give(std::mem::take(&mut self.score));
        pool::give(std::mem::take(&mut self.tag));
    }
}

fn by_column(score: &Csr, staked: &[usize], columns: usize, tag_of: impl Fn(usize) -> i64) -> Columns {
    let mut len = pool::filled(columns, 0usize);
    let mut mark = vec![u32::MAX; columns];
    // Rows without duplicate columns (strictly increasing, as stored weights
    // are) skip the duplicate marks.
    let unique: Vec<bool> = staked.iter().map(|&i| strictly_increasing(score.row(i).0)).collect();
    for (k, &i) in staked.iter().enumerate() {
        if unique[k] {
            for &j in score.row(i).0 {
                if let Some(l) = len.get_mut(usize::from(j)) {
                    *l += 1;
                }
            }
            continue;
        }
        let k = k as u32;
        for &j in score.row(i).0 {
            let j = usize::from(j);
            if let Some(m) = mark.get_mut(j)
                && *m != k
            {
                *m = k;
                len[j] += 1;
            }
        }
    }
    let mut start = pool::take(columns + 1);
    let mut at = 0;
    for l in &len {
        start.push(at);
        at += l + 1;
    }
    start.push(at);
    len.fill(0);
    mark.fill(u32::MAX);
    let mut out = Columns { start, len, score: pool::filled(at, 0), tag: pool::filled(at, 0) };
    for (k, &i) in staked.iter().enumerate() {
        let tag = tag_of(k);
        let (cols, vals) = score.row(i);
        if unique[k] {
            for (&j, &v) in cols.iter().zip(vals.iter()) {
                let j = usize::from(j);
                if j < columns {
                    let at = out.start[j] + out.len[j];
                    out.score[at] = v.to_bits();
                    out.tag[at] = tag;
                    out.len[j] += 1;
                }
            }
            continue;
        }
        let k = k as u32;
        for (&j, &v) in cols.iter().zip(vals.iter()) {
            let j = usize::from(j);
            let Some(m) = mark.get_mut(j) else { continue };
            let at = out.start[j] + out.len[j];
            if *m == k {
                out.score[at - 1] = v.to_bits();
            } else {
                *m = k;
                out.score[at] = v.to_bits();
                out.tag[at] = tag;
                out.len[j] += 1;
            }
        }
    }
    out
}

/// Column-wise stake-weighted median over `columns` columns of a CSR matrix,
/// equal to the pallet's `weighted_median_col_sparse`: rows with positive
/// stake take part (stake renormalised over them), missing entries score 0.
pub fn weighted_median_cols(stake: &[I32F32], score: &Csr, columns: u16, majority: I32F32) -> Vec<I32F32> {
    let cols = usize::from(columns);
    let staked: Vec<usize> = (0..stake.len()).filter(|&i| stake[i] > ZERO).collect();
    let mut use_stake: Vec<I32F32> = staked.iter().map(|&i| stake[i]).collect();
    inplace_normalize(&mut use_stake);
    let total = sum(&use_stake);
    let minority = total.saturating_sub(majority);
    if staked.is_empty() {
        return vec![ZERO; cols];
    }
    let exact_total: i128 = use_stake.iter().map(|s| i128::from(s.to_bits())).sum();
    if exact_total > i128::from(i64::MAX) {
        let by_col = by_column(score, &staked, cols, |k| k as i64);
        return quickselect_cols(&use_stake, &by_col, cols, minority, total);
    }
    // Every partial sum below is at most `total`, so plain `i64` additions are exact.
    let mut by_col = by_column(score, &staked, cols, |k| use_stake.get(k).map_or(0, |s| s.to_bits()));
    (0..cols)
        .map(|c| {
            let (start, len) = (by_col.start[c], by_col.len[c]);
            let mut end = start + len;
            if len < staked.len() {
                // Rows without an entry: one block at score 0. Within a run of equal
                // scores the order does not matter, only the run's total stake.
                let with_entry: i64 = by_col.tag[start..end].iter().sum();
                by_col.score[end] = 0;
                by_col.tag[end] = total.to_bits() - with_entry;
                end += 1;
            }
            let m = quantile(&mut by_col.score[start..end], &mut by_col.tag[start..end], minority.to_bits());
            I32F32::from_bits(m)
        })
        .collect()
}

/// Smallest score whose cumulative stake (over entries with a score at or
/// below it) exceeds `minority`, else the largest score; the slices (scores
/// and their stakes, same length, not empty) are reordered.
///
/// A weighted quickselect: each round sums the stake below and at a pivot
/// score (a branch-free pass), keeps the side holding the answer, carrying the
/// stake below the window, and compacts that side to the front. The answer
/// does not depend on the pivots, so they are chosen for speed (median of
/// three). Every round removes at least the pivot's run; windows that keep
/// splitting badly are sorted and scanned instead.
fn quantile(score: &mut [i64], stake: &mut [i64], minority: i64) -> i64 {
    let len = score.len().min(stake.len());
    quantile_within(score, stake, minority, 2 * (usize::BITS - len.leading_zeros()) + 8)
}

/// [`quantile`] with at most `rounds_left` partitioning rounds before the sort.
fn quantile_within(score: &mut [i64], stake: &mut [i64], minority: i64, mut rounds_left: u32) -> i64 {
    let mut len = score.len().min(stake.len());
    let mut below = 0i64;
    while len > 0 && rounds_left > 0 {
        if len <= SMALL_WINDOW {
            return small_quantile(&score[..len], &stake[..len], below, minority);
        }
        rounds_left -= 1;
        let (sc, st) = (&mut score[..len], &mut stake[..len]);
        let pivot = median_of_three(sc[0], sc[len / 2], sc[len - 1]);
        let (mut s_lt, mut s_eq, mut n_lt, mut n_gt) = (0i64, 0i64, 0usize, 0usize);
        for (&x, &w) in sc.iter().zip(st.iter()) {
            s_lt += w & -i64::from(x < pivot);
            s_eq += w & -i64::from(x == pivot);
            n_lt += usize::from(x < pivot);
            n_gt += usize::from(x > pivot);
        }
        if n_lt > 0 && below + s_lt > minority {
            len = compact(sc, st, |x| x < pivot);
        } else if below + s_lt + s_eq > minority || n_gt == 0 {
            return pivot;
        } else {
            below += s_lt + s_eq;
            len = compact(sc, st, |x| x > pivot);
        }
    }
    // Only after many bad pivots: sort what is left and scan it.
    let mut rest: Vec<(i64, i64)> = score[..len].iter().copied().zip(stake[..len].iter().copied()).collect();
    rest.sort_unstable_by_key(|e| e.0);
    let mut cum = below;
    for (idx, &(x, w)) in rest.iter().enumerate() {
        cum += w;
        let run_ends = rest.get(idx + 1).is_none_or(|next| next.0 != x);
        if run_ends && cum > minority {
            return x;
        }
    }
    rest.last().map_or(0, |e| e.0)
}

/// Windows this small are solved directly: quickselect rounds on them cost
/// more in mispredicted loop exits than the quadratic scan costs in arithmetic.
const SMALL_WINDOW: usize = 12;

/// [`quantile`] of a small window by brute force, branch-free: for every entry
/// the stake at or below its score, then the smallest score whose stake
/// exceeds `minority`, else the largest score.
fn small_quantile(score: &[i64], stake: &[i64], below: i64, minority: i64) -> i64 {
    let (mut best, mut found, mut max) = (i64::MAX, false, i64::MIN);
    for &x in score {
        let mut at_or_below = below;
        for (&y, &w) in score.iter().zip(stake.iter()) {
            at_or_below += w & -i64::from(y <= x);
        }
        let qualifies = at_or_below > minority;
        best = if qualifies { best.min(x) } else { best };
        found |= qualifies;
        max = max.max(x);
    }
    if found { best } else { max }
}

/// Moves the entries whose score satisfies `keep` to the front, in order
/// (branch-free); returns how many there are.
#[inline]
fn compact(score: &mut [i64], stake: &mut [i64], keep: impl Fn(i64) -> bool) -> usize {
    let mut front = 0;
    for i in 0..score.len().min(stake.len()) {
        let (x, w) = (score[i], stake[i]);
        score[front] = x;
        stake[front] = w;
        front += usize::from(keep(x));
    }
    front
}

#[inline]
fn median_of_three(a: i64, b: i64, c: i64) -> i64 {
    a.max(b).min(a.min(b).max(c))
}

/// The pallet's per-column quickselect over the column-major copy, for stakes
/// whose sum might saturate.
#[cold]
fn quickselect_cols(
    use_stake: &[I32F32],
    by_col: &Columns,
    cols: usize,
    minority: I32F32,
    total: I32F32,
) -> Vec<I32F32> {
    let idx: Vec<usize> = (0..use_stake.len()).collect();
    let mut dense = vec![ZERO; use_stake.len()];
    (0..cols)
        .map(|c| {
            let range = by_col.start[c]..by_col.start[c] + by_col.len[c];
            let entries = || by_col.score[range.clone()].iter().zip(by_col.tag[range.clone()].iter());
            for (&v, &k) in entries() {
                if let Some(d) = dense.get_mut(k as usize) {
                    *d = I32F32::from_bits(v);
                }
            }
            let m = weighted_median(use_stake, &dense, &idx, minority, ZERO, total);
            for (_, &k) in entries() {
                if let Some(d) = dense.get_mut(k as usize) {
                    *d = ZERO;
                }
            }
            m
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> I32F32 {
        I32F32::saturating_from_num(x)
    }

    #[test]
    fn weighted_median_simple() {
        let stake = vec![f(0.25); 4];
        let score = vec![f(0.1), f(0.2), f(0.3), f(0.4)];
        let idx: Vec<usize> = (0..4).collect();
        // minority 0.49: the median is the lowest score whose lower stake passes 0.49.
        let m = weighted_median(&stake, &score, &idx, f(0.49), ZERO, f(1.0));
        assert_eq!(m, f(0.2));
    }

    /// The scan equals the pallet's quickselect on random columns with heavy ties,
    /// negative scores, tiny and huge stakes and every kind of minority.
    #[test]
    fn scan_equals_quickselect() {
        let mut seed = 0x1234_5678_9abc_def1u64;
        let mut rnd = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        for case in 0..20_000 {
            let k = 1 + rnd(if case % 2 == 0 { 12 } else { 200 }) as usize;
            let levels = if case % 3 == 0 { 1 << 20 } else { 1 + rnd(6) as i64 };
            let score: Vec<I32F32> =
                (0..k).map(|_| I32F32::from_bits((rnd(levels as u64) as i64 - levels / 3) << 28)).collect();
            let stake: Vec<I32F32> = (0..k)
                .map(|_| I32F32::from_bits(if case % 5 == 0 { rnd(3) as i64 } else { 1 + rnd(1 << 32) as i64 }))
                .collect();
            let total = stake.iter().fold(ZERO, |a, s| a.saturating_add(*s));
            let minority = I32F32::from_bits(rnd(total.to_bits().max(1) as u64 * 2) as i64 - total.to_bits() / 4);
            let idx: Vec<usize> = (0..k).collect();
            let want = weighted_median(&stake, &score, &idx, minority, ZERO, total);
            let mut sc: Vec<i64> = score.iter().map(|a| a.to_bits()).collect();
            let mut st: Vec<i64> = stake.iter().map(|a| a.to_bits()).collect();
            let (sc2, st2) = (sc.clone(), st.clone());
            assert_eq!(
                quantile(&mut sc, &mut st, minority.to_bits()),
                want.to_bits(),
                "case {case}: {score:?} {stake:?} {minority}"
            );
            // The sort-and-scan fallback, entered after 0..3 rounds.
            let (mut sc, mut st) = (sc2, st2);
            let got = quantile_within(&mut sc, &mut st, minority.to_bits(), case % 4);
            assert_eq!(got, want.to_bits(), "case {case} (fallback)");
        }
    }
}
