//! The bonds exponential moving average with one rate for every bond
//! (pallet `mat_ema_sparse`: classic bonds, and Yuma3 without liquid alpha).
//!
//! `alpha * new + (1 - alpha) * old` per `(row, column)`, square over
//! `new.rows()` columns, keeping positive entries in column order. The pallet
//! accumulates each row in a dense vector of that width (so a duplicate column
//! adds up, and columns beyond the width fall out); for strictly increasing
//! rows the same sums come from a merge of the two rows, which is what stored
//! bonds and validated weights are. Other rows go through a dense scratch row
//! that is only reset where it was written. Either way the per-cell operation
//! sequence is the pallet's: `0 + alpha * new`, then `+ (1 - alpha) * old`,
//! saturating.

use substrate_fixed::types::I32F32;

use super::fixed::{ONE, ZERO, add, mul};
use super::sparse::{Csr, Scratch, merge_rows, strictly_increasing};

/// Classic bonds EMA (pallet `mat_ema_sparse`); see the module docs.
pub fn mat_ema(new: &Csr, old: &Csr, alpha: I32F32) -> Csr {
    let n = new.rows();
    let width = u16::try_from(n).unwrap_or(u16::MAX);
    let one_minus_alpha = ONE.saturating_sub(alpha);
    let mut out = Csr::with_capacity(n, new.nnz().max(old.nnz()));
    let mut scratch: Option<Scratch> = None;
    for i in 0..n {
        let (nc, nv) = new.row(i);
        let (oc, ov) = if i < old.rows() { old.row(i) } else { (&[][..], &[][..]) };
        if nc == oc && strictly_increasing(nc) {
            // Steady state: the bonds cover exactly the weighted columns.
            let len = nc.partition_point(|&j| usize::from(j) < n).min(nv.len()).min(ov.len());
            for k in 0..len {
                let acc = add(mul(alpha, nv[k]), mul(one_minus_alpha, ov[k]));
                if acc > ZERO {
                    out.push(nc[k], acc);
                }
            }
        } else if strictly_increasing(nc) && strictly_increasing(oc) {
            merge_rows((nc, nv), (oc, ov), n, |j, new, old| {
                // `0 + x` is `x`: the pallet's accumulator starts at zero.
                let acc = match (new, old) {
                    (Some(w), Some(o)) => add(mul(alpha, w), mul(one_minus_alpha, o)),
                    (Some(w), None) => mul(alpha, w),
                    (None, Some(o)) => mul(one_minus_alpha, o),
                    (None, None) => ZERO,
                };
                if acc > ZERO {
                    out.push(j, acc);
                }
            });
        } else {
            let s = scratch.get_or_insert_with(|| Scratch::new(usize::from(width)));
            for (rate, cols, vals) in [(alpha, nc, nv), (one_minus_alpha, oc, ov)] {
                for (j, v) in cols.iter().zip(vals.iter()) {
                    if let Some(c) = s.dense.get_mut(usize::from(*j)) {
                        *c = add(*c, mul(rate, *v));
                        s.touch(*j);
                    }
                }
            }
            let touched = s.sorted_touched();
            for &j in &touched {
                let v = s.dense[usize::from(j)];
                if v > ZERO {
                    out.push(j, v);
                }
            }
            s.reset(touched);
        }
        out.end_row();
    }
    out
}
