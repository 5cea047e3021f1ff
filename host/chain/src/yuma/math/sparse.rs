//! Compressed sparse rows ([`Csr`]): building them from stored rows (with the
//! weight and bond masks applied on the way), row merges, column sums, the
//! row-by-vector product, and the bonds-penalty interpolation.
//!
//! The pallet stores sparse matrices as `Vec<Vec<(u16, I32F32)>>`; here one
//! matrix is three flat arrays, so a pass over it touches contiguous memory and
//! builds no per-row vectors. Invariants:
//!
//! * Rows keep the stored order of their entries, duplicates included: every
//!   per-entry operation (filters, clips, scalings, row and column sums) visits
//!   entries in exactly the order the pallet's nested loops do, so even
//!   saturating sums agree.
//! * Operations with the pallet's "dense row" semantics (a later duplicate
//!   overwrites an earlier one; output sorted by column), i.e. [`interpolate`]
//!   and the bond EMAs, take a linear merge when both rows are strictly
//!   increasing and a scatter/gather through a dense scratch row otherwise.
//! * Column indices are not trusted: operations over `columns` columns leave
//!   entries at or beyond `columns` as the pallet does (ignored in sums,
//!   untouched by column scaling).

use substrate_fixed::types::I32F32;

use super::fixed::{ZERO, add, mul};
use super::pool;

/// A sparse row-major matrix: for each row, `(column, value)` pairs (the pallet's layout).
pub type SparseMatrix = Vec<Vec<(u16, I32F32)>>;

/// Compressed sparse rows: row `i` is `col[ptr[i]..ptr[i + 1]]` / `val[..]`.
///
/// The arrays come from and return to the per-thread buffer pool (`super::pool`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Csr {
    pub(super) ptr: Vec<usize>,
    pub(super) col: Vec<u16>,
    pub(super) val: Vec<I32F32>,
}

impl Clone for Csr {
    fn clone(&self) -> Self {
        let mut ptr = pool::take(self.ptr.len());
        ptr.extend_from_slice(&self.ptr);
        let mut col = pool::take(self.col.len());
        col.extend_from_slice(&self.col);
        let mut val = pool::take(self.val.len());
        val.extend_from_slice(&self.val);
        Self { ptr, col, val }
    }
}

impl Drop for Csr {
    fn drop(&mut self) {
        pool::give(std::mem::take(&mut self.ptr));
        pool::give(std::mem::take(&mut self.col));
        pool::give(std::mem::take(&mut self.val));
    }
}

/// True when `cols` is strictly increasing (sorted, no duplicates).
#[inline]
pub fn strictly_increasing(cols: &[u16]) -> bool {
    cols.windows(2).all(|w| w[0] < w[1])
}

/// Visits the entries of two strictly increasing rows that lie in
/// `[0, columns)`, in column order: `f(column, left value, right value)`, with
/// `None` for the side that has no entry there.
#[inline]
pub fn merge_rows(
    (c1, v1): (&[u16], &[I32F32]),
    (c2, v2): (&[u16], &[I32F32]),
    columns: usize,
    mut f: impl FnMut(u16, Option<I32F32>, Option<I32F32>),
) {
    let n1 = c1.partition_point(|&j| usize::from(j) < columns).min(v1.len());
    let n2 = c2.partition_point(|&j| usize::from(j) < columns).min(v2.len());
    let (mut a, mut b) = (0, 0);
    while a < n1 && b < n2 {
        let (ja, jb) = (c1[a], c2[b]);
        if ja < jb {
            f(ja, Some(v1[a]), None);
            a += 1;
        } else if jb < ja {
            f(jb, None, Some(v2[b]));
            b += 1;
        } else {
            f(ja, Some(v1[a]), Some(v2[b]));
            a += 1;
            b += 1;
        }
    }
    for k in a..n1 {
        f(c1[k], Some(v1[k]), None);
    }
    for k in b..n2 {
        f(c2[k], None, Some(v2[k]));
    }
}

impl Csr {
    /// An empty matrix with room for `rows` rows and `nnz` entries.
    pub fn with_capacity(rows: usize, nnz: usize) -> Self {
        let mut ptr = pool::take(rows + 1);
        ptr.push(0);
        Self { ptr, col: pool::take(nnz), val: pool::take(nnz) }
    }

    /// Converts stored `(column, u16)` rows, keeping entries where `keep(row, column)`
    /// holds and converting each value with `convert`.
    pub fn from_stored(
        rows: &[Vec<(u16, u16)>],
        keep: impl FnMut(usize, u16) -> bool,
        convert: impl Fn(u16) -> I32F32,
    ) -> Self {
        Self::read_stored(rows, keep, convert, |_, _| {})
    }

    /// [`Csr::from_stored`], calling `row_done(columns, values)` on each row once it is read.
    ///
    /// Entries are written unconditionally and kept by advancing the write
    /// position by `keep`'s answer: a mask that drops entries at random would
    /// cost a mispredicted branch per entry.
    pub(super) fn read_stored(
        rows: &[Vec<(u16, u16)>],
        mut keep: impl FnMut(usize, u16) -> bool,
        convert: impl Fn(u16) -> I32F32,
        mut row_done: impl FnMut(&[u16], &mut [I32F32]),
    ) -> Self {
        let total: usize = rows.iter().map(Vec::len).sum();
        let mut ptr = pool::take(rows.len() + 1);
        ptr.push(0);
        let mut col = pool::filled(total, 0u16);
        let mut val = pool::filled(total, ZERO);
        let mut w = 0;
        for (i, row) in rows.iter().enumerate() {
            let start = w;
            for &(j, v) in row {
                // `w` counts kept entries among those seen, so it is below `total` here.
                col[w] = j;
                val[w] = convert(v);
                w += usize::from(keep(i, j));
            }
            row_done(&col[start..w], &mut val[start..w]);
            ptr.push(w);
        }
        col.truncate(w);
        val.truncate(w);
        Self { ptr, col, val }
    }

    /// Converts the pallet's layout.
    pub fn from_rows(rows: &[Vec<(u16, I32F32)>]) -> Self {
        let mut m = Self::with_capacity(rows.len(), rows.iter().map(Vec::len).sum());
        for row in rows {
            for &(j, v) in row {
                m.push(j, v);
            }
            m.end_row();
        }
        m
    }

    /// Back to the pallet's layout.
    pub fn to_rows(&self) -> SparseMatrix {
        (0..self.rows())
            .map(|i| {
                let (c, v) = self.row(i);
                c.iter().copied().zip(v.iter().copied()).collect()
            })
            .collect()
    }

    /// Appends an entry to the row being built.
    #[inline]
    pub fn push(&mut self, j: u16, v: I32F32) {
        self.col.push(j);
        self.val.push(v);
    }

    /// Closes the row being built.
    #[inline]
    pub fn end_row(&mut self) {
        self.ptr.push(self.col.len());
    }

    /// Number of rows.
    #[inline]
    pub fn rows(&self) -> usize {
        self.ptr.len().saturating_sub(1)
    }

    /// Number of stored entries.
    #[inline]
    pub fn nnz(&self) -> usize {
        self.col.len()
    }

    #[inline]
    fn span(&self, i: usize) -> std::ops::Range<usize> {
        match (self.ptr.get(i), self.ptr.get(i + 1)) {
            (Some(&a), Some(&b)) => a..b,
            _ => 0..0,
        }
    }

    /// Columns and values of row `i` (empty beyond the last row).
    #[inline]
    pub fn row(&self, i: usize) -> (&[u16], &[I32F32]) {
        let r = self.span(i);
        (&self.col[r.clone()], &self.val[r])
    }

    /// Saturating sum of each of the first `columns` columns, in row-major order.
    pub fn col_sums(&self, columns: u16) -> Vec<I32F32> {
        self.col_fold(columns, |a, v| *a = add(*a, v))
    }

    /// Per-column reduction over the first `columns` columns, in row-major order.
    fn col_fold(&self, columns: u16, mut f: impl FnMut(&mut I32F32, I32F32)) -> Vec<I32F32> {
        let mut acc = vec![ZERO; usize::from(columns)];
        for (j, v) in self.col.iter().zip(self.val.iter()) {
            if let Some(a) = acc.get_mut(usize::from(*j)) {
                f(a, *v);
            }
        }
        acc
    }

    /// `result[i] = Σ_j vector[j] * m[i][j]`, missing vector entries reading 0
    /// (pallet `matmul_transpose_sparse`; also `row_sum_sparse(mat_vec_mul_sparse(..))`,
    /// whose dropped zero products and out-of-range columns add nothing).
    pub fn matmul_transpose(&self, vector: &[I32F32]) -> Vec<I32F32> {
        (0..self.rows())
            .map(|i| {
                let (cols, vals) = self.row(i);
                cols.iter().zip(vals.iter()).fold(ZERO, |acc, (j, v)| {
                    let x = vector.get(usize::from(*j)).copied().unwrap_or(ZERO);
                    add(acc, mul(x, *v))
                })
            })
            .collect()
    }
}

/// A dense scratch row for the unsorted-row fallbacks: values by column plus
/// the list of touched columns, so that resetting costs only what was written.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// Value per column.
    pub(crate) dense: Vec<I32F32>,
    /// Second value per column (interpolation reads two rows).
    pub(crate) dense2: Vec<I32F32>,
    /// Columns written since the last [`Scratch::sorted_touched`] + reset.
    touched: Vec<u16>,
    seen: Vec<bool>,
}

impl Scratch {
    /// Scratch for rows of `columns` columns.
    pub(crate) fn new(columns: usize) -> Self {
        Self {
            dense: vec![ZERO; columns],
            dense2: vec![ZERO; columns],
            touched: Vec::new(),
            seen: vec![false; columns],
        }
    }

    /// Records that column `j` (in range) was written.
    #[inline]
    pub(crate) fn touch(&mut self, j: u16) {
        if let Some(s) = self.seen.get_mut(usize::from(j))
            && !*s
        {
            *s = true;
            self.touched.push(j);
        }
    }

    /// Touched columns in increasing order; the caller reads them, then calls [`Scratch::reset`].
    pub(crate) fn sorted_touched(&mut self) -> Vec<u16> {
        let mut t = std::mem::take(&mut self.touched);
        t.sort_unstable();
        t
    }

    /// Clears what `touched` (from [`Scratch::sorted_touched`]) wrote.
    pub(crate) fn reset(&mut self, touched: Vec<u16>) {
        for &j in &touched {
            let j = usize::from(j);
            self.dense[j] = ZERO;
            self.dense2[j] = ZERO;
            self.seen[j] = false;
        }
        self.touched = touched;
        self.touched.clear();
    }
}

/// `mat1 + ratio * (mat2 - mat1)` over `columns` columns, keeping positive
/// entries only, sorted by column (pallet `interpolate_sparse`). Ratio 0 returns
/// `mat1`, ratio 1 (or a row-count mismatch) returns `mat2`, unchanged.
pub fn interpolate(mat1: Csr, mat2: Csr, columns: u16, ratio: I32F32) -> Csr {
    if ratio == ZERO {
        return mat1;
    }
    if ratio == super::fixed::ONE || mat1.rows() != mat2.rows() {
        return mat2;
    }
    let value = |v1: I32F32, v2: I32F32| add(v1, mul(ratio, v2.saturating_sub(v1)));
    let mut out = Csr::with_capacity(mat1.rows(), mat1.nnz().max(mat2.nnz()));
    let mut scratch: Option<Scratch> = None;
    for i in 0..mat1.rows() {
        let (c1, v1) = mat1.row(i);
        let (c2, v2) = mat2.row(i);
        if strictly_increasing(c1) && strictly_increasing(c2) {
            merge_rows((c1, v1), (c2, v2), usize::from(columns), |j, x1, x2| {
                let x = value(x1.unwrap_or(ZERO), x2.unwrap_or(ZERO));
                if x > ZERO {
                    out.push(j, x);
                }
            });
        } else {
            let s = scratch.get_or_insert_with(|| Scratch::new(usize::from(columns)));
            for (j, v) in c1.iter().zip(v1.iter()) {
                if let Some(d) = s.dense.get_mut(usize::from(*j)) {
                    *d = *v;
                    s.touch(*j);
                }
            }
            for (j, v) in c2.iter().zip(v2.iter()) {
                if let Some(d) = s.dense2.get_mut(usize::from(*j)) {
                    *d = *v;
                    s.touch(*j);
                }
            }
            let touched = s.sorted_touched();
            for &j in &touched {
                let x = value(s.dense[usize::from(j)], s.dense2[usize::from(j)]);
                if x > ZERO {
                    out.push(j, x);
                }
            }
            s.reset(touched);
        }
        out.end_row();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> I32F32 {
        I32F32::saturating_from_num(x)
    }

    #[test]
    fn unsorted_interpolation_uses_the_last_duplicate() {
        let a = Csr::from_rows(&[vec![(1, f(0.5)), (0, f(0.25)), (1, f(0.75))]]);
        let b = Csr::from_rows(&[vec![(1, f(0.25))]]);
        let out = interpolate(a, b, 3, f(0.5));
        assert_eq!(out.to_rows(), vec![vec![(0, f(0.125)), (1, f(0.5))]]);
    }
}
