//! Per-uid vector operations: sums, normalisation, masks, top-k permits and the
//! max-upscale that stored weights get.
//!
//! Sums use saturating addition, as everywhere in this module tree; for the
//! non-negative proportions and stakes the epoch sums, a saturating sum equals
//! `min(true sum, MAX)` whatever the order, and the pallet's wrapping
//! `Iterator::sum` agrees with it on every reachable input.

use substrate_fixed::types::{I32F32, I64F64};

use super::fixed::{Divisor, ZERO, add, div_or_zero, div_or_zero_64, u16_to_fixed};

/// Saturating sum of a slice of `I32F32`.
#[inline]
pub fn sum(x: &[I32F32]) -> I32F32 {
    x.iter().fold(ZERO, |acc, v| add(acc, *v))
}

/// True when the vector sums to zero.
pub fn is_zero(vector: &[I32F32]) -> bool {
    sum(vector) == ZERO
}

/// Scales a non-negative vector so its maximum becomes 65535, rounding to
/// nearest (pallet `vec_max_upscale_to_u16`, used for stored weights).
///
/// When the maximum exceeds 32768 the pallet divides first to avoid
/// overflowing `I32F32`, which changes the rounding; that branch is kept.
pub fn vec_max_upscale_to_u16(vec: &[I32F32]) -> Vec<u16> {
    let u16_max = u16_to_fixed(u16::MAX);
    let threshold = I32F32::from_num(32768);
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
    let max = Divisor::new(max);
    vec.iter().map(|e| max.div_or_zero(e.saturating_mul(u16_max)).round().saturating_to_num::<u16>()).collect()
}

/// [`vec_max_upscale_to_u16`] over `u16` input (pallet `vec_u16_max_upscale_to_u16`).
pub fn vec_u16_max_upscale_to_u16(vec: &[u16]) -> Vec<u16> {
    let fixed: Vec<I32F32> = vec.iter().map(|e| u16_to_fixed(*e)).collect();
    vec_max_upscale_to_u16(&fixed)
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
    // Sorting by (value, index) is the stable sort by value, without its buffer.
    let mut order: Vec<(I32F32, usize)> = vector.iter().copied().zip(0..n).collect();
    order.sort_unstable();
    for &(_, i) in order.iter().take(n - k) {
        if let Some(cell) = result.get_mut(i) {
            *cell = false;
        }
    }
    result
}

/// Normalises in place so the entries sum to 1; a zero-sum vector is left as is.
pub fn inplace_normalize(x: &mut [I32F32]) {
    let s = sum(x);
    inplace_normalize_using_sum(x, s);
}

/// Divides every entry by `x_sum` unless it is zero.
pub fn inplace_normalize_using_sum(x: &mut [I32F32], x_sum: I32F32) {
    if x_sum == ZERO {
        return;
    }
    let d = Divisor::new(x_sum);
    x.iter_mut().for_each(|v| *v = d.div_or_zero(*v));
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

/// Zeroes entries whose mask is true; entries beyond the mask are zeroed too
/// (an empty mask masks nothing).
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

/// Element-wise product; an overflowing product becomes 0 (pallet `vec_mul`).
pub fn vec_mul(a: &[I32F32], b: &[I32F32]) -> Vec<I32F32> {
    a.iter().zip(b.iter()).map(|(x, y)| x.checked_mul(*y).unwrap_or(ZERO)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> I32F32 {
        I32F32::saturating_from_num(x)
    }

    #[test]
    fn topk_ties_drop_lowest_index_first() {
        let v = vec![f(0.5), f(0.5), f(0.5), ZERO];
        assert_eq!(is_topk_nonzero(&v, 2), vec![false, true, true, false]);
        assert_eq!(is_topk_nonzero(&v, 8), vec![true, true, true, false]);
    }

    #[test]
    fn normalize_leaves_zero_vectors_alone() {
        let mut v = vec![ZERO, ZERO];
        inplace_normalize(&mut v);
        assert_eq!(v, vec![ZERO, ZERO]);
        let mut v = vec![f(1.0), f(3.0)];
        inplace_normalize(&mut v);
        assert_eq!(v, vec![f(0.25), f(0.75)]);
    }
}
