//! Liquid alpha (Yuma3): a per-bond EMA rate from a sigmoid of how far the
//! validator's weight is from consensus, and the bonds EMA that uses it.
//!
//! The pallet computes a dense `rows x columns` matrix of rates
//! (`compute_liquid_alpha_values_sparse`, one fixed-point `exp` per cell) and
//! then the EMA (`mat_ema_alpha_sparse`), which reads a rate only where the new
//! row has an entry. [`mat_ema_liquid_alpha`] fuses the two and computes only
//! those rates, from the same `(consensus, weight, bond)` triple the dense pass
//! reads at that cell. For strictly increasing rows (what stored weights and
//! bonds are) that triple is the entry itself and the old bond in the same
//! column, found by a merge; other rows replay the pallet's sorted-row cursors
//! over a dense scratch row. The constants of the sigmoid (its slope and the
//! rate range) are computed once per epoch: they are pure functions of the
//! parameters, so hoisting them changes no bit.

use std::cmp::Ordering;

use substrate_fixed::types::I32F32;

use super::fixed::{ONE, ZERO, add, clamp_value, div_bits, exp_safe, mul};
use super::sparse::{Csr, strictly_increasing};

/// The liquid-alpha sigmoid with its per-epoch constants.
#[derive(Debug, Clone, Copy)]
pub struct AlphaSigmoid {
    low: I32F32,
    high: I32F32,
    range: I32F32,
    slope: I32F32,
    /// The rate at `diff = 0` (every weight at or below consensus while buying):
    /// typically half the bonds, so it is computed once.
    at_zero: I32F32,
}

impl AlphaSigmoid {
    /// Rates in `[alpha_low, alpha_high]`; `steepness` as the pallet's `AlphaSigmoidSteepness`.
    pub fn new(alpha_low: I32F32, alpha_high: I32F32, steepness: I32F32) -> Self {
        let mut s = Self {
            low: alpha_low,
            high: alpha_high,
            range: alpha_high.saturating_sub(alpha_low),
            slope: steepness.saturating_div(I32F32::from_num(-100)),
            at_zero: ZERO,
        };
        s.at_zero = s.of_diff(ZERO);
        s
    }

    /// EMA rate for one bond (pallet `alpha_sigmoid`):
    /// `low + sigmoid(steepness * (diff - 0.5)) * (high - low)`, where `diff` is
    /// how far the weight is above consensus when buying (weight >= bond) or how
    /// far the bond is above the weight when selling.
    #[inline]
    pub fn rate(&self, consensus: I32F32, weight: I32F32, bond: I32F32) -> I32F32 {
        let diff = if weight >= bond {
            clamp_value(weight.saturating_sub(consensus), ZERO, ONE)
        } else {
            clamp_value(bond.saturating_sub(weight), ZERO, ONE)
        };
        if diff == ZERO { self.at_zero } else { self.of_diff(diff) }
    }

    /// The sigmoid part of [`AlphaSigmoid::rate`], a pure function of `diff`.
    #[inline]
    fn of_diff(&self, diff: I32F32) -> I32F32 {
        let half = I32F32::from_bits(1 << 31);
        let e = exp_safe(mul(self.slope, diff.saturating_sub(half)));
        let denominator = add(ONE, e);
        // `1 + e >= 1`, so the quotient is in (0, 1]; the fallback is the pallet's own division.
        let sigmoid = div_bits(ONE.to_bits(), denominator.to_bits())
            .map_or_else(|| ONE.saturating_div(denominator), I32F32::from_bits);
        let alpha = add(self.low, mul(sigmoid, self.range));
        clamp_value(alpha, self.low, self.high)
    }
}

/// One bond's EMA with rate `a`: `min(1, (1 - a) * old + max(0, a * new))`.
#[inline]
fn ema_cell(a: I32F32, new: I32F32, old: Option<I32F32>) -> I32F32 {
    let d = old.map_or(ZERO, |o| mul(ONE.saturating_sub(a), o));
    let inc = mul(a, new).max(ZERO);
    add(d, inc).min(ONE)
}

/// Yuma3 bonds EMA with liquid alpha, equal to the pallet's
/// `mat_ema_alpha_sparse(new, old, compute_liquid_alpha_values_sparse(..))`:
/// output entries only where `new` has one (in `new`'s order), positive only.
/// A row-count mismatch returns `new` unchanged, as the pallet's pair does.
pub fn mat_ema_liquid_alpha(new: &Csr, old: &Csr, consensus: &[I32F32], sigmoid: &AlphaSigmoid) -> Csr {
    if new.rows() != old.rows() {
        return new.clone();
    }
    let n = consensus.len();
    let mut out = Csr::with_capacity(new.rows(), new.nnz());
    let mut cursors: Option<Cursors> = None;
    for i in 0..new.rows() {
        let (nc, nv) = new.row(i);
        let (oc, ov) = old.row(i);
        if nc.is_empty() || n == 0 {
            out.end_row();
            continue;
        }
        if strictly_increasing(nc) && strictly_increasing(oc) {
            let mut b = 0;
            for (&j, &w) in nc.iter().zip(nv.iter()) {
                let Some(&c) = consensus.get(usize::from(j)) else { continue };
                while oc.get(b).is_some_and(|&k| k < j) {
                    b += 1;
                }
                let old_bond = (oc.get(b) == Some(&j)).then(|| ov.get(b).copied().unwrap_or(ZERO));
                let a = sigmoid.rate(c, w, old_bond.unwrap_or(ZERO));
                let v = ema_cell(a, w, old_bond);
                if v > ZERO {
                    out.push(j, v);
                }
            }
        } else {
            let cur = cursors.get_or_insert_with(|| Cursors::new(n));
            cur.load(nc, nv, oc, ov);
            for (&j, &w) in nc.iter().zip(nv.iter()) {
                let ju = usize::from(j);
                let Some(&c) = consensus.get(ju) else { continue };
                let a = sigmoid.rate(c, cur.w_at[ju], cur.b_at[ju]);
                let v = ema_cell(a, w, cur.old_at[ju]);
                if v > ZERO {
                    out.push(j, v);
                }
            }
        }
        out.end_row();
    }
    out
}

/// What the pallet's dense pass reads per column for one (unsorted) row pair:
/// its sorted-row cursors over the weights and bonds, and the bond the EMA
/// decays (the last entry for the column).
struct Cursors {
    w_at: Vec<I32F32>,
    b_at: Vec<I32F32>,
    old_at: Vec<Option<I32F32>>,
}

impl Cursors {
    fn new(n: usize) -> Self {
        Self { w_at: vec![ZERO; n], b_at: vec![ZERO; n], old_at: vec![None; n] }
    }

    fn load(&mut self, nc: &[u16], nv: &[I32F32], oc: &[u16], ov: &[I32F32]) {
        seek_all(nc, nv, &mut self.w_at);
        seek_all(oc, ov, &mut self.b_at);
        self.old_at.fill(None);
        for (&j, &o) in oc.iter().zip(ov.iter()) {
            if let Some(slot) = self.old_at.get_mut(usize::from(j)) {
                *slot = Some(o);
            }
        }
    }
}

/// `out[j]` = what a cursor advanced over `(cols, vals)` in column order reads at
/// `j`: it skips entries below `j` and reads the first one equal to `j` without
/// consuming it, else 0 (the pallet's `seek` over rows it assumes sorted).
fn seek_all(cols: &[u16], vals: &[I32F32], out: &mut [I32F32]) {
    let mut k = 0;
    for (j, slot) in out.iter_mut().enumerate() {
        while cols.get(k).is_some_and(|&c| usize::from(c) < j) {
            k += 1;
        }
        *slot = match cols.get(k).map(|&c| usize::from(c).cmp(&j)) {
            Some(Ordering::Equal) => vals.get(k).copied().unwrap_or(ZERO),
            _ => ZERO,
        };
    }
}
