//! The weight processing a validator applies before `set_weights`, as the bittensor Python SDK
//! does it.
//!
//! A faithful port of `bittensor/utils/weight_utils.py` (bittensor 10.0.0, the last release
//! that ships it; the template validator calls it): [`process_weights`] /
//! [`process_weights_for_netuid`] (`process_weights` and `process_weights_for_netuid`:
//! min-allowed-weights padding, the exclude quantile, the max-weight-limit clip of
//! [`normalize_max_weight`], the uniform fallback), and [`weights_for_emit`]
//! (`convert_weights_and_uids_for_emit`: max-upscale to `u16`, round half to even as Python's
//! `round`, drop zeros).
//!
//! # Invariants
//!
//! * Arithmetic follows numpy 2 bit for bit: the SDK casts scores to `float32`, so the main
//!   path computes in `f32` with numpy's pairwise summation for `sum()`, sequential `cumsum`,
//!   numpy's linear-interpolation `quantile`, and Python floats (`f64`) where the SDK mixes them
//!   in (NEP 50 promotion: a Python float meeting a `float32` array is cast to `float32`). The
//!   two fallback paths compute in `float64`, as numpy does there. Processed weights are
//!   returned as `f64`, which holds either precision exactly.
//! * Outputs never contain NaN when the inputs are finite; non-finite or non-positive scores
//!   are simply not "non-zero" (`w > 0` is false for NaN), as in the SDK.
//!
//! # Failure modes
//!
//! Where the SDK raises (length mismatch, negative or non-finite weights at emit time, empty
//! input to `min()`), these functions return [`WeightsError`]; none of them panics.

use std::ops::{Add, Div, Mul, Sub};

/// `U16_MAX` of the SDK as a float.
const U16_MAX_F: f64 = 65_535.0;
/// numpy's pairwise-summation block size (`PW_BLOCKSIZE`).
const PW_BLOCKSIZE: usize = 128;

/// Input the SDK would reject with an exception.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightsError {
    /// `uids` and `weights` differ in length.
    #[error("uids and weights differ in length: {uids} vs {weights}")]
    LengthMismatch {
        /// Number of uids.
        uids: usize,
        /// Number of weights.
        weights: usize,
    },
    /// Nothing to convert (the SDK's `min()` of an empty list).
    #[error("no weights given")]
    Empty,
    /// A negative weight cannot exist on chain.
    #[error("weight {index} is negative ({value})")]
    Negative {
        /// Position of the weight.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// A NaN or infinite weight cannot be converted to an integer.
    #[error("weight {index} is not finite")]
    NonFinite {
        /// Position of the weight.
        index: usize,
    },
    /// A non-zero weight sits at a position past the subnet size (the SDK's `IndexError` on
    /// the min-allowed-weights path).
    #[error("weight at position {index} is outside a subnet of {n} neurons")]
    IndexOutOfRange {
        /// Position of the weight.
        index: usize,
        /// Subnet size.
        n: usize,
    },
}

/// A numpy floating dtype (`float32` or `float64`). Sealed: implemented for `f32` and `f64`.
pub trait NumpyFloat:
    Copy + PartialOrd + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + sealed::Sealed
{
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// A Python float (or int) meeting this dtype: rounded to it (NEP 50 weak promotion).
    fn from_py(x: f64) -> Self;
    /// Exact widening to `f64`.
    fn to_f64(self) -> f64;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

impl NumpyFloat for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn from_py(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl NumpyFloat for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn from_py(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// `ndarray.sum()` of a contiguous float array: numpy's pairwise summation in the array's dtype.
fn np_sum<F: NumpyFloat>(a: &[F]) -> F {
    let n = a.len();
    if n < 8 {
        return a.iter().fold(F::ZERO, |acc, &x| acc + x);
    }
    if n <= PW_BLOCKSIZE {
        let mut r = [F::ZERO; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for (j, rj) in r.iter_mut().enumerate() {
                *rj = *rj + a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[i..] {
            res = res + x;
        }
        return res;
    }
    let mut n2 = n / 2;
    n2 -= n2 % 8;
    np_sum(&a[..n2]) + np_sum(&a[n2..])
}

/// Ascending order with NaN last, as `np.sort`.
fn np_sorted<F: NumpyFloat>(a: &[F]) -> Vec<F> {
    let mut v = a.to_vec();
    v.sort_by(|x, y| match x.partial_cmp(y) {
        Some(o) => o,
        None => {
            // At least one NaN: NaN sorts after everything.
            let x_nan = x.partial_cmp(x).is_none();
            let y_nan = y.partial_cmp(y).is_none();
            x_nan.cmp(&y_nan)
        }
    });
    v
}

/// `np.max` (NaN propagates).
fn np_max<F: NumpyFloat>(a: &[F]) -> Option<F> {
    let mut it = a.iter().copied();
    let first = it.next()?;
    Some(it.fold(first, |m, x| {
        if m.partial_cmp(&m).is_none() || x.partial_cmp(&x).is_none() {
            if m.partial_cmp(&m).is_none() { m } else { x }
        } else if x > m {
            x
        } else {
            m
        }
    }))
}

/// `normalize_max_weight(x, limit)`: scales `x` to sum 1 with no entry above `limit`,
/// clipping the largest entries at a common cutoff; uniform when `x` sums to 0 or when
/// `len(x) * limit <= 1`. Computes in `F` as numpy does for an array of that dtype;
/// `limit` is the Python float the SDK passes.
pub fn normalize_max_weight<F: NumpyFloat>(x: &[F], limit: f64) -> Vec<F> {
    let n = x.len();
    if n == 0 {
        return Vec::new();
    }
    let epsilon = F::from_py(1e-7);
    let limit_f = F::from_py(limit);
    if np_sum(x) == F::ZERO || (n as f64) * limit <= 1.0 {
        return vec![F::ONE / F::from_py(n as f64); n];
    }
    let values = np_sorted(x);
    let values_sum = np_sum(&values);
    let estimation: Vec<F> = values.iter().map(|&v| v / values_sum).collect();
    if np_max(&estimation).is_some_and(|m| m <= limit_f) {
        let s = np_sum(x);
        return x.iter().map(|&w| w / s).collect();
    }
    let mut cumsum = Vec::with_capacity(n);
    let mut acc = F::ZERO;
    for (i, &e) in estimation.iter().enumerate() {
        acc = if i == 0 { e } else { acc + e };
        cumsum.push(acc);
    }
    let n_values = estimation
        .iter()
        .enumerate()
        .filter(|&(i, &e)| {
            let estimation_sum = F::from_py((n - i - 1) as f64) * e;
            e / (estimation_sum + cumsum[i] + epsilon) < limit_f
        })
        .count();
    // Python's `cumsum[n_values - 1]` wraps to the last element when `n_values` is 0.
    let c = cumsum[if n_values == 0 { n - 1 } else { n_values - 1 }];
    // `len(estimation) - n_values` is a numpy int64, so the denominator is a (strong)
    // np.float64 and promotes the cutoff to float64; the clip compares in float64 and stores
    // the cutoff rounded to the array's dtype.
    let denominator = 1.0 - limit * ((n - n_values) as f64);
    let cutoff_scale = (limit_f * c - epsilon).to_f64() / denominator;
    let cutoff = cutoff_scale * values_sum.to_f64();
    let clipped: Vec<F> = x.iter().map(|&w| if w.to_f64() > cutoff { F::from_py(cutoff) } else { w }).collect();
    let s = np_sum(&clipped);
    clipped.iter().map(|&w| w / s).collect()
}

/// `np.quantile(a, q)` (method `linear`) of a `float32` array with a Python-float `q`.
fn np_quantile_f32(a: &[f32], q: f64) -> f32 {
    let sorted = np_sorted(a);
    let n = sorted.len();
    if n == 0 {
        return f32::NAN;
    }
    let virtual_index = (n as f64 - 1.0) * q;
    let (prev, next) = if virtual_index >= n as f64 - 1.0 {
        (n - 1, n - 1)
    } else if virtual_index < 0.0 {
        (0, 0)
    } else {
        let p = virtual_index.floor() as usize;
        (p, p + 1)
    };
    let gamma = virtual_index - virtual_index.floor();
    let (lo, hi) = (sorted[prev], sorted[next]);
    let diff = hi - lo;
    if gamma >= 0.5 { hi - diff * ((1.0 - gamma) as f32) } else { lo + diff * (gamma as f32) }
}

/// The SDK's `process_weights`: from raw scores per uid to the normalised weights it would
/// emit. `n` is the subnet size (`metagraph.n`), `max_weight_limit` the Python float
/// `MaxWeightsLimit / 65535`, `exclude_quantile` the `u16` quantile of the lowest non-zero
/// weights to drop (0 = none).
///
/// * No positive score, or `n < min_allowed_weights`: uniform `1/n` over uids `0..n`.
/// * Fewer positive scores than `min_allowed_weights`: every uid `0..n` gets `1e-5` plus its
///   score, then [`normalize_max_weight`] (in `f64`).
/// * Otherwise: positive scores below the exclude quantile (capped so that at least
///   `min_allowed_weights` remain) are dropped, then [`normalize_max_weight`] (in `f32`).
pub fn process_weights(
    uids: &[u16],
    weights: &[f32],
    n: u16,
    min_allowed_weights: u16,
    max_weight_limit: f64,
    exclude_quantile: u16,
) -> Result<(Vec<u16>, Vec<f64>), WeightsError> {
    if uids.len() != weights.len() {
        return Err(WeightsError::LengthMismatch { uids: uids.len(), weights: weights.len() });
    }
    let n_us = usize::from(n);
    let quantile = f64::from(exclude_quantile) / U16_MAX_F;
    let non_zero: Vec<usize> = (0..weights.len()).filter(|&i| weights[i] > 0.0).collect();
    let min_allowed = usize::from(min_allowed_weights);

    if non_zero.is_empty() || n_us < min_allowed {
        tracing::debug!("no non-zero weights: uniform weights");
        return Ok(((0..n).collect(), vec![1.0 / n as f64; n_us]));
    }
    if non_zero.len() < min_allowed {
        tracing::debug!("fewer non-zero weights than min_allowed_weights: padding with 1e-5");
        let mut padded = vec![1e-5f64; n_us];
        for &i in &non_zero {
            let slot = padded.get_mut(i).ok_or(WeightsError::IndexOutOfRange { index: i, n: n_us })?;
            *slot += f64::from(weights[i]);
        }
        return Ok(((0..n).collect(), normalize_max_weight(&padded, max_weight_limit)));
    }

    let nz_weights: Vec<f32> = non_zero.iter().map(|&i| weights[i]).collect();
    let max_exclude = non_zero.len().saturating_sub(min_allowed) as f64 / non_zero.len() as f64;
    let q = if max_exclude < quantile { max_exclude } else { quantile };
    let lowest = np_quantile_f32(&nz_weights, q);
    let (kept_uids, kept): (Vec<u16>, Vec<f32>) =
        non_zero.iter().filter(|&&i| lowest <= weights[i]).map(|&i| (uids[i], weights[i])).unzip();
    let normalized = normalize_max_weight(&kept, max_weight_limit);
    Ok((kept_uids, normalized.into_iter().map(f64::from).collect()))
}

/// The SDK's `process_weights_for_netuid` with the subnet's hyperparameters as stored on
/// chain: `max_weight_limit` is the `u16` `MaxWeightsLimit`, turned into the Python float
/// `limit / 65535` as `subtensor.max_weight_limit` does.
pub fn process_weights_for_netuid(
    uids: &[u16],
    weights: &[f32],
    n: u16,
    min_allowed_weights: u16,
    max_weight_limit: u16,
    exclude_quantile: u16,
) -> Result<(Vec<u16>, Vec<f64>), WeightsError> {
    let limit = f64::from(max_weight_limit) / U16_MAX_F;
    process_weights(uids, weights, n, min_allowed_weights, limit, exclude_quantile)
}

/// The SDK's `convert_weights_and_uids_for_emit`: divides by the largest weight, scales to
/// 65535, rounds half to even (Python `round`) and drops the zeros. All-zero weights give two
/// empty vectors (nothing to set). Accepts `f32` or `f64` weights.
pub fn weights_for_emit<W: Copy + Into<f64>>(
    uids: &[u16],
    weights: &[W],
) -> Result<(Vec<u16>, Vec<u16>), WeightsError> {
    let w: Vec<f64> = weights.iter().map(|&x| x.into()).collect();
    if w.is_empty() {
        return Err(WeightsError::Empty);
    }
    if let Some((index, &value)) = w.iter().enumerate().find(|(_, v)| **v < 0.0) {
        return Err(WeightsError::Negative { index, value });
    }
    if uids.is_empty() {
        return Err(WeightsError::Empty);
    }
    if uids.len() != w.len() {
        return Err(WeightsError::LengthMismatch { uids: uids.len(), weights: w.len() });
    }
    if let Some(index) = w.iter().position(|v| !v.is_finite()) {
        return Err(WeightsError::NonFinite { index });
    }
    let sum = w.iter().fold(0.0f64, |a, &x| a + x);
    if sum == 0.0 {
        return Ok((Vec::new(), Vec::new()));
    }
    let max = w.iter().copied().fold(f64::MIN, f64::max);
    let mut out_uids = Vec::new();
    let mut out_values = Vec::new();
    for (&uid, &x) in uids.iter().zip(&w) {
        // x / max <= 1, so the rounded value fits a u16.
        let v = ((x / max) * U16_MAX_F).round_ties_even() as u16;
        if v != 0 {
            out_uids.push(uid);
            out_values.push(v);
        }
    }
    Ok((out_uids, out_values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_sum_differs_from_sequential_like_numpy() {
        // 129 values force the recursive split; the pairwise result is what numpy returns
        // and must not depend on anything but the order of the array.
        let v: Vec<f32> = (0..129).map(|i| 1.0 + i as f32 * 1e-3).collect();
        let pw = np_sum(&v);
        let expected: f64 = v.iter().map(|&x| f64::from(x)).sum();
        assert!((f64::from(pw) - expected).abs() < 1e-3);
        assert_eq!(np_sum::<f32>(&[]), 0.0);
    }

    #[test]
    fn quantile_matches_numpy_linear_rule() {
        // np.quantile(np.float32([0.1, 0.5, 0.3, 0.9, 0.2]), 0.3) == np.float32(0.22)
        let q = np_quantile_f32(&[0.1, 0.5, 0.3, 0.9, 0.2], 0.3);
        assert_eq!(q, 0.22f32);
        assert_eq!(np_quantile_f32(&[0.4, 0.1], 0.0), 0.1);
        assert_eq!(np_quantile_f32(&[0.4, 0.1], 1.0), 0.4);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert_eq!(weights_for_emit::<f32>(&[], &[]), Err(WeightsError::Empty));
        assert!(matches!(weights_for_emit(&[0, 1], &[0.5f32, -0.1]), Err(WeightsError::Negative { index: 1, .. })));
        assert_eq!(weights_for_emit(&[0], &[0.5f32, 0.1]), Err(WeightsError::LengthMismatch { uids: 1, weights: 2 }));
        assert_eq!(weights_for_emit(&[0, 1], &[f32::NAN, 1.0]), Err(WeightsError::NonFinite { index: 0 }));
        assert_eq!(weights_for_emit(&[0, 1], &[f32::INFINITY, 1.0]), Err(WeightsError::NonFinite { index: 0 }));
        assert_eq!(
            process_weights(&[0], &[1.0, 2.0], 2, 1, 1.0, 0),
            Err(WeightsError::LengthMismatch { uids: 1, weights: 2 })
        );
        // A positive score at a position past n on the padding path.
        assert_eq!(
            process_weights(&[0, 1, 2], &[0.0, 0.0, 1.0], 2, 2, 1.0, 0),
            Err(WeightsError::IndexOutOfRange { index: 2, n: 2 })
        );
        assert_eq!(process_weights(&[], &[], 0, 0, 1.0, 0), Ok((vec![], vec![])));
        assert!(normalize_max_weight::<f32>(&[], 0.1).is_empty());
        let nan_in = normalize_max_weight(&[f32::NAN, 1.0, 2.0], 0.5);
        assert_eq!(nan_in.len(), 3);
    }
}
