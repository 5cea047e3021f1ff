//! Fused passes of the epoch: several of the pallet's matrix steps done in one
//! sweep over the entries, each step's arithmetic (and the order of every
//! saturating sum) unchanged.
//!
//! A pass over the matrix costs about as much as the arithmetic it carries, so
//! the epoch reads weights and normalises each row while it is still in cache,
//! clips weights and sums validator trust and incentive in the same sweep,
//! scales rows while summing the columns, finds the column maxima of the
//! normalised bonds while normalising them, and divides by those maxima only
//! for the rows it stores. The pallet-shaped single steps stay in
//! [`super::sparse`]; the differential tests hold both to the reference epoch.

use substrate_fixed::types::I32F32;

use super::fixed::{Divisor, ZERO, add, fixed_proportion_to_u16, mul};
use super::sparse::Csr;

/// The pallet's weight reader (entries kept where `keep(row, column)`, values
/// converted by `convert`) followed by `inplace_row_normalize_sparse`.
pub fn read_row_normalized(
    rows: &[Vec<(u16, u16)>],
    keep: impl FnMut(usize, u16) -> bool,
    convert: impl Fn(u16) -> I32F32,
) -> Csr {
    Csr::read_stored(rows, keep, convert, |_, vals| {
        let s = vals.iter().fold(ZERO, |a, v| add(a, *v));
        if s > ZERO {
            let d = Divisor::new(s);
            vals.iter_mut().for_each(|v| *v = d.div_or_zero(*v));
        }
    })
}

/// The bond reader followed by `inplace_col_normalize_sparse` over `columns`
/// columns: the column sums are taken while reading.
pub fn read_col_normalized(
    rows: &[Vec<(u16, u16)>],
    keep: impl FnMut(usize, u16) -> bool,
    convert: impl Fn(u16) -> I32F32,
    columns: u16,
) -> Csr {
    let mut sums = vec![ZERO; usize::from(columns)];
    let mut m = Csr::read_stored(rows, keep, convert, |cols, vals| {
        for (j, v) in cols.iter().zip(vals.iter()) {
            if let Some(s) = sums.get_mut(usize::from(*j)) {
                *s = add(*s, *v);
            }
        }
    });
    col_divide_all(&mut m, &sums);
    m
}

/// Divides every entry by its column's sum, as `inplace_col_normalize_sparse` does.
fn col_divide_all(m: &mut Csr, sums: &[I32F32]) {
    let divisors: Vec<Divisor> = sums.iter().map(|s| Divisor::normalizing(*s)).collect();
    for (j, v) in m.col.iter().zip(m.val.iter_mut()) {
        *v = col_divide(&divisors, *j, *v);
    }
}

/// What `inplace_col_normalize_sparse` makes of entry `(_, column)`: divided by
/// its column's divisor (from [`Divisor::normalizing`], so a zero column leaves
/// it unchanged), or unchanged for a column beyond `divisors`.
#[inline]
pub fn col_divide(divisors: &[Divisor], column: u16, v: I32F32) -> I32F32 {
    divisors.get(usize::from(column)).map_or(v, |d| d.div_or_zero(v))
}

/// `col_clip_sparse(m, consensus)` in place, returning its row sums
/// (validator trust) and `matmul_sparse(clipped, stake, columns)` (incentive
/// before normalisation).
///
/// An entry above its column's consensus is clipped to it and dropped if that
/// is not positive. Whether a weight is above consensus is a coin flip around
/// the median, so the clip is a select and the drop a masked write, not branches.
pub fn clip_trust_incentive(
    m: &mut Csr,
    consensus: &[I32F32],
    stake: &[I32F32],
    columns: u16,
) -> (Vec<I32F32>, Vec<I32F32>) {
    let rows = m.rows();
    let mut trust = Vec::with_capacity(rows);
    let mut incentive = vec![ZERO; usize::from(columns)];
    let (mut w, mut start) = (0, 0);
    for i in 0..rows {
        let end = m.ptr[i + 1];
        let s = stake.get(i).copied().unwrap_or(ZERO);
        let mut t = ZERO;
        for k in start..end {
            let (j, v) = (m.col[k], m.val[k]);
            let th = consensus.get(usize::from(j)).copied().unwrap_or(ZERO);
            let kept = !((th < v) & (th <= ZERO));
            let c = v.min(th);
            m.col[w] = j;
            m.val[w] = c;
            w += usize::from(kept);
            // A dropped entry adds nothing (saturating `+ 0` is the identity).
            let c = I32F32::from_bits(c.to_bits() & -i64::from(kept));
            t = add(t, c);
            if let Some(r) = incentive.get_mut(usize::from(j)) {
                *r = add(*r, mul(s, c));
            }
        }
        start = end;
        m.ptr[i + 1] = w;
        trust.push(t);
    }
    m.col.truncate(w);
    m.val.truncate(w);
    (trust, incentive)
}

/// `row_hadamard_sparse(m, stake)` then `inplace_col_normalize_sparse(.., columns)`,
/// the column sums taken while scaling. The pallet's `zip` drops rows beyond
/// `stake`; the epoch's matrices have exactly as many rows as its vectors, and
/// this empties such rows (so the row count stays that of the subnet).
pub fn scale_rows_col_normalize(m: &mut Csr, stake: &[I32F32], columns: u16) {
    let mut sums = vec![ZERO; usize::from(columns)];
    for i in 0..m.rows() {
        let s = stake.get(i).copied().unwrap_or(ZERO);
        let (start, end) = (m.ptr[i], m.ptr[i + 1]);
        if i >= stake.len() {
            m.ptr[i + 1] = start;
            continue;
        }
        for (j, v) in m.col[start..end].iter().zip(m.val[start..end].iter_mut()) {
            *v = mul(*v, s);
            if let Some(sum) = sums.get_mut(usize::from(*j)) {
                *sum = add(*sum, *v);
            }
        }
    }
    if m.rows() > stake.len() {
        let end = m.ptr.last().copied().unwrap_or(0);
        m.col.truncate(end);
        m.val.truncate(end);
    }
    col_divide_all(m, &sums);
}

/// `inplace_col_normalize_sparse` given the column sums, returning the maxima of
/// the normalised columns as divisors (what `inplace_col_max_upscale_sparse`
/// would divide by afterwards; zero for an all-zero column, which it skips).
pub fn col_normalize_with_max(m: &mut Csr, sums: &[I32F32]) -> Vec<Divisor> {
    let divisors: Vec<Divisor> = sums.iter().map(|s| Divisor::normalizing(*s)).collect();
    let mut maxes = vec![ZERO; sums.len()];
    for (j, v) in m.col.iter().zip(m.val.iter_mut()) {
        let ju = usize::from(*j);
        *v = col_divide(&divisors, *j, *v);
        // A running maximum updates at random rows: select, don't branch.
        if let Some(mx) = maxes.get_mut(ju) {
            *mx = (*mx).max(*v);
        }
    }
    maxes.iter().map(|x| Divisor::normalizing(*x)).collect()
}

/// `row_sum_sparse(mat_vec_mul_sparse(col_normalized(m), vector))` with the
/// column sums given, without materialising the normalised copy.
pub fn normalized_matmul_transpose(m: &Csr, sums: &[I32F32], vector: &[I32F32]) -> Vec<I32F32> {
    let divisors: Vec<Divisor> = sums.iter().map(|s| Divisor::normalizing(*s)).collect();
    (0..m.rows())
        .map(|i| {
            let (cols, vals) = m.row(i);
            cols.iter().zip(vals.iter()).fold(ZERO, |acc, (j, v)| {
                let ju = usize::from(*j);
                let Some(&x) = vector.get(ju) else { return acc };
                add(acc, mul(col_divide(&divisors, *j, *v), x))
            })
        })
        .collect()
}

/// The stored bonds: rows with a permit as `(column, u16)`, each value first
/// divided by its column's divisor in `upscale` (where given and non-zero),
/// every other row empty.
pub fn stored_rows(m: &Csr, permits: &[bool], upscale: Option<&[Divisor]>) -> Vec<Vec<(u16, u16)>> {
    (0..permits.len())
        .map(|i| {
            if !permits[i] {
                return Vec::new();
            }
            let (cols, vals) = m.row(i);
            cols.iter()
                .zip(vals.iter())
                .map(|(&j, &v)| {
                    let v = upscale.map_or(v, |u| col_divide(u, j, v));
                    (j, fixed_proportion_to_u16(v))
                })
                .collect()
        })
        .collect()
}
