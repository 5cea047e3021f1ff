//! Scalar fixed-point helpers: stored `u16` values to and from `I32F32`, the
//! pallet's zero-safe division, and the exponential of the liquid-alpha sigmoid.
//!
//! Division and `exp` are the only expensive scalar operations in the epoch
//! (substrate-fixed divides `I32F32` through a 128-bit division, and its `exp`
//! is a fixed 30-term Taylor loop of checked multiplications and divisions), so
//! both have bit-exact fast paths here:
//!
//! * [`div_bits`] estimates the quotient in `f64` and corrects it with an exact
//!   128-bit remainder; quotients that are negative, or too large for the
//!   estimate to be within one of the truth, take substrate-fixed's own path.
//! * [`exp_safe`] runs the same Taylor recurrence on raw bits with constant
//!   divisors and stops once a term is zero: every later term is then zero too
//!   (`0 * x = 0`, `0 / i = 0`), so the sum cannot change.
//!
//! Both are checked against substrate-fixed on random and boundary inputs in
//! this module's tests.

use substrate_fixed::transcendental::exp;
use substrate_fixed::types::{I32F32, I64F64};

/// `0` as `I32F32`.
pub const ZERO: I32F32 = I32F32::from_bits(0);
/// `1` as `I32F32`.
pub const ONE: I32F32 = I32F32::from_bits(1 << 32);

/// `2^32` as `f64`: the scale between `I32F32` bits and values.
const TWO_POW_32: f64 = 4_294_967_296.0;
/// Estimates below this are within one of the true quotient: the `f64`
/// estimate carries at most four roundings (relative error below `2^-50.9`), so
/// its absolute error stays under `1/2`.
const EXACT_ESTIMATE_LIMIT: f64 = (1u64 << 49) as f64;
/// Divisors below this keep the remainder of a quotient that is off by one
/// inside `i64`, so it can be computed modulo `2^64`.
const FAST_DIVISOR_LIMIT: i64 = 1 << 62;

/// substrate-fixed's `I32F32::checked_div` on raw bits: `trunc((a << 32) / b)`,
/// `None` when `b` is zero or the quotient does not fit in `i64`.
#[inline]
pub fn div_bits(a: i64, b: i64) -> Option<i64> {
    if a >= 0 && b > 0 && b < FAST_DIVISOR_LIMIT {
        let estimate = (a as f64) * TWO_POW_32 / (b as f64);
        if estimate < EXACT_ESTIMATE_LIMIT {
            return Some(correct_quotient(a, b, estimate));
        }
    }
    slow_div_bits(a, b)
}

/// Turns a quotient estimate into the exact floor of `(a << 32) / b`
/// (`a >= 0`, `0 < b < 2^62`, `0 <= estimate < 2^49`; floor and truncation agree).
///
/// The estimate's absolute error is below `1/4` (at most four roundings of
/// relative size `2^-53` on a value below `2^49`). Rounded to the nearest
/// integer (adding `2^52` leaves it in the low mantissa bits) it is within
/// `3/4` of the true quotient, so it is the floor or the floor plus one; the
/// true remainder then lies in `[-b, b)`, inside `i64`, so 64-bit wrapping
/// arithmetic computes it exactly, and its sign says which. The correction is
/// branch-free: which way the estimate falls is a coin flip.
#[inline]
fn correct_quotient(a: i64, b: i64, estimate: f64) -> i64 {
    const MAGIC: f64 = (1u64 << 52) as f64;
    let q = ((estimate + MAGIC).to_bits() & ((1u64 << 52) - 1)) as i64;
    let r = ((a as u64) << 32).wrapping_sub((q as u64).wrapping_mul(b as u64)) as i64;
    // Floor plus one: the remainder is negative. (Floor minus one would need an
    // estimate error above 1/2.)
    let neg = r >> 63;
    debug_assert!((0..b).contains(&(r + (b & neg))), "quotient estimate off by more than one");
    q + neg
}

#[cold]
fn slow_div_bits(a: i64, b: i64) -> Option<i64> {
    I32F32::from_bits(a).checked_div(I32F32::from_bits(b)).map(I32F32::to_bits)
}

/// `x / y`, or zero when `y` is zero or the quotient overflows (pallet `safe_div`).
#[inline]
pub fn div_or_zero(x: I32F32, y: I32F32) -> I32F32 {
    I32F32::from_bits(div_bits(x.to_bits(), y.to_bits()).unwrap_or(0))
}

/// A divisor reused for a whole row or column (normalisation): its reciprocal
/// is computed once, and [`Divisor::div_or_zero`] equals [`div_or_zero`] by it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Divisor {
    bits: i64,
    /// `2^32 / bits` in `f64` when the fast path applies to this divisor, else 0.
    scale: f64,
    /// Dividends in `0..limit` take the fast path: for them `x * scale < 2^49`.
    /// Zero when the fast path does not apply to this divisor.
    limit: u64,
}

impl Divisor {
    /// Prepares division by `y` (zero is allowed: every quotient is then zero).
    #[inline]
    pub fn new(y: I32F32) -> Self {
        let bits = y.to_bits();
        if bits > 0 && bits < FAST_DIVISOR_LIMIT {
            let scale = TWO_POW_32 / bits as f64;
            // Half the estimate limit, so the float rounding of the bound cannot
            // matter; at most `i64::MAX`, so negative dividends (huge as `u64`) never qualify.
            let limit = (((EXACT_ESTIMATE_LIMIT / 2.0) / scale) as u64).min(i64::MAX as u64);
            Self { bits, scale, limit }
        } else {
            Self { bits, scale: 0.0, limit: 0 }
        }
    }

    /// The divisor a pallet normalisation applies for a row or column sum: the
    /// sum itself, or 1 (which leaves every value unchanged, exactly) where the
    /// sum is zero and the pallet skips the division.
    #[inline]
    pub fn normalizing(sum: I32F32) -> Self {
        Self::new(if sum == ZERO { ONE } else { sum })
    }

    /// `x / y`, or zero when `y` is zero or the quotient overflows.
    #[inline]
    pub fn div_or_zero(&self, x: I32F32) -> I32F32 {
        let a = x.to_bits();
        if (a as u64) < self.limit {
            return I32F32::from_bits(correct_quotient(a, self.bits, a as f64 * self.scale));
        }
        I32F32::from_bits(slow_div_bits(a, self.bits).unwrap_or(0))
    }
}

/// `x / y` in `I64F64`, or zero when `y` is zero or the quotient overflows.
#[inline]
pub fn div_or_zero_64(x: I64F64, y: I64F64) -> I64F64 {
    x.checked_div(y).unwrap_or(I64F64::from_bits(0))
}

/// substrate-fixed's `I32F32::saturating_mul`: `floor(a * b / 2^32)` clamped to
/// the type's range, from one 64x64-bit product instead of its 128x128-bit
/// overflow-checked one. (Its overflow test fires exactly when that floor
/// leaves `i64`, and it then saturates by the sign of the product, as the
/// clamp does.)
#[inline]
pub fn mul(a: I32F32, b: I32F32) -> I32F32 {
    let p = (i128::from(a.to_bits()) * i128::from(b.to_bits())) >> 32;
    let low = p as i64;
    I32F32::from_bits(if i128::from(low) == p {
        low
    } else if p < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// substrate-fixed's `I32F32::saturating_add` (the `i64` saturating sum of the
/// bits), without its branch-free select sequence.
#[inline]
pub fn add(a: I32F32, b: I32F32) -> I32F32 {
    I32F32::from_bits(a.to_bits().saturating_add(b.to_bits()))
}

/// `u16` as an integer-valued `I32F32` (stored weights and bonds before scaling).
#[inline]
pub fn u16_to_fixed(x: u16) -> I32F32 {
    I32F32::from_bits(i64::from(x) << 32)
}

/// `u16` proportion (`65535` = 1.0) as `I32F32`: the pallet's
/// `x / 65535` in `I32F32`, i.e. `trunc((x << 64) / (65535 << 32))`, which for a
/// `u16` is the 64-bit `(x << 32) / 65535` (the compiler turns the constant
/// division into a multiplication).
#[inline]
pub fn u16_proportion_to_fixed(x: u16) -> I32F32 {
    I32F32::from_bits(((u64::from(x) << 32) / u64::from(u16::MAX)) as i64)
}

/// Divides an integer-valued `I32F32` by 65535 (pallet `fixed_to_fixed_u16_proportion`).
#[inline]
pub fn fixed_to_fixed_u16_proportion(x: I32F32) -> I32F32 {
    div_or_zero(x, u16_to_fixed(u16::MAX))
}

/// Proportion to stored `u16`: `floor(x * 65535)` (saturating `I32F32`
/// product, then substrate-fixed's flooring `saturating_to_num`), clamped to
/// `[0, 65535]`.
#[inline]
pub fn fixed_proportion_to_u16(x: I32F32) -> u16 {
    (mul(x, u16_to_fixed(u16::MAX)).to_bits() >> 32).clamp(0, i64::from(u16::MAX)) as u16
}

/// Clamps to `[low, high]` as the pallet does (`.min(high).max(low)`, so `low`
/// wins if the bounds are inverted).
#[inline]
pub fn clamp_value(value: I32F32, low: I32F32, high: I32F32) -> I32F32 {
    value.min(high).max(low)
}

/// `exp` clamped to inputs in `[-20, 20]`; on internal overflow returns 0 for
/// non-positive inputs and the maximum otherwise (pallet `exp_safe`).
pub fn exp_safe(input: I32F32) -> I32F32 {
    let lo = I32F32::from_num(-20);
    let hi = I32F32::from_num(20);
    let x = if input < lo {
        lo
    } else if hi < input {
        hi
    } else {
        input
    };
    match exp_bits(x.to_bits()) {
        Some(v) => I32F32::from_bits(v),
        None if x <= ZERO => ZERO,
        None => I32F32::max_value(),
    }
}

/// `substrate_fixed::transcendental::exp::<I32F32, I32F32>` on raw bits for
/// `|x| <= 20` (what [`exp_safe`] passes); `None` where it returns `Err`.
fn exp_bits(x: i64) -> Option<i64> {
    const LIMIT: u64 = 20 << 32;
    let operand = x.unsigned_abs();
    if x == 0 || x == ONE.to_bits() || operand > LIMIT {
        // Its special cases (1 and the stored constant `e`), and anything outside
        // the range the bound below is proven for: delegate.
        return exp::<I32F32, I32F32>(I32F32::from_bits(x)).ok().map(I32F32::to_bits);
    }
    let neg = x < 0;
    let mut result = operand + (1u64 << 32);
    let mut term = operand;
    // The pallet's loop: `for i in 2..32 { term = term * x / i; result += term }`
    // with `I32F32` checked ops. The products are non-negative, so its
    // truncating multiplication and division are floors on the raw bits. For
    // `|x| <= 20` nothing overflows: `term_i <= 20^i / i! < 2^26` (largest at
    // `i = 20`), so `term * x < 2^26 * 20 * 2^64 < 2^95` and the sum stays below
    // `e^20 < 2^29`; the checked ops never fail and need no checks here.
    macro_rules! taylor_steps {
        ($($i:literal)*) => {$(
            if term == 0 {
                return finish_exp(result, neg);
            }
            term = ((u128::from(term) * u128::from(operand)) >> 32) as u64 / $i;
            result += term;
        )*};
    }
    taylor_steps!(2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31);
    finish_exp(result, neg)
}

/// Last step of [`exp_bits`]: `1 / result` for negative inputs (`result >= 1`).
#[inline]
fn finish_exp(result: u64, neg: bool) -> Option<i64> {
    let result = i64::try_from(result).ok()?;
    if neg { div_bits(ONE.to_bits(), result) } else { Some(result) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rnd(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    fn reference_div(a: i64, b: i64) -> Option<i64> {
        I32F32::from_bits(a).checked_div(I32F32::from_bits(b)).map(I32F32::to_bits)
    }

    #[test]
    fn div_bits_matches_substrate_fixed() {
        let edges = [0, 1, 2, 3, 65_535, 1 << 31, 1 << 32, (1 << 32) + 1, 1 << 50, 1 << 62, i64::MAX, -1, i64::MIN];
        for &a in &edges {
            for &b in &edges {
                assert_eq!(div_bits(a, b), reference_div(a, b), "{a} / {b}");
                assert_eq!(
                    Divisor::new(I32F32::from_bits(b)).div_or_zero(I32F32::from_bits(a)).to_bits(),
                    reference_div(a, b).unwrap_or(0),
                    "{a} / {b} (divisor)"
                );
            }
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..300_000 {
            // Mix magnitudes so that quotients fall on both sides of the fast-path limit.
            let a = (rnd(&mut seed) >> (rnd(&mut seed) % 64)) as i64;
            let b = (rnd(&mut seed) >> (rnd(&mut seed) % 64)) as i64;
            let a = if rnd(&mut seed).is_multiple_of(16) { a.wrapping_neg() } else { a };
            assert_eq!(div_bits(a, b), reference_div(a, b), "{a} / {b}");
            let d = Divisor::new(I32F32::from_bits(b));
            assert_eq!(d.div_or_zero(I32F32::from_bits(a)).to_bits(), reference_div(a, b).unwrap_or(0), "{a} / {b}");
        }
    }

    #[test]
    fn mul_and_conversions_match_substrate_fixed() {
        let mut seed = 0x51ed_2701_u64;
        let edges = [0, 1, -1, 1 << 32, -(1 << 32), 65_535 << 32, 1 << 31, i64::MAX, i64::MIN, i64::MAX - 1, 3 << 47];
        let mut values: Vec<i64> = edges.to_vec();
        for _ in 0..200_000 {
            let v = (rnd(&mut seed) >> (rnd(&mut seed) % 64)) as i64;
            values.push(if rnd(&mut seed).is_multiple_of(4) { v.wrapping_neg() } else { v });
        }
        for w in values.windows(2) {
            let (a, b) = (I32F32::from_bits(w[0]), I32F32::from_bits(w[1]));
            assert_eq!(mul(a, b), a.saturating_mul(b), "{a} * {b}");
            assert_eq!(add(a, b), a.saturating_add(b), "{a} + {b}");
            assert_eq!(
                fixed_proportion_to_u16(a),
                a.saturating_mul(I32F32::saturating_from_num(u16::MAX)).saturating_to_num::<u16>(),
                "{a}"
            );
        }
        for &a in &edges {
            for &b in &edges {
                let (a, b) = (I32F32::from_bits(a), I32F32::from_bits(b));
                assert_eq!(mul(a, b), a.saturating_mul(b), "{a} * {b}");
            }
        }
        for x in 0..=u16::MAX {
            let want = I32F32::saturating_from_num(x).checked_div(I32F32::saturating_from_num(u16::MAX));
            assert_eq!(Some(u16_proportion_to_fixed(x)), want, "{x}");
        }
    }

    #[test]
    fn normalizing_by_a_zero_sum_leaves_values_alone() {
        let d = Divisor::normalizing(ZERO);
        for a in [0, 1, 12_345, 1 << 40, (1 << 48) + 3, i64::MAX, -7, i64::MIN] {
            assert_eq!(d.div_or_zero(I32F32::from_bits(a)), I32F32::from_bits(a), "{a}");
        }
    }

    fn reference_exp_safe(input: I32F32) -> I32F32 {
        let lo = I32F32::saturating_from_num(-20);
        let hi = I32F32::saturating_from_num(20);
        let x = input.max(lo).min(hi);
        match exp::<I32F32, I32F32>(x) {
            Ok(v) => v,
            Err(()) if x <= ZERO => ZERO,
            Err(()) => I32F32::max_value(),
        }
    }

    #[test]
    fn exp_safe_matches_substrate_fixed() {
        let mut inputs: Vec<i64> = vec![0, 1, -1, 1 << 32, -(1 << 32), 20 << 32, -20 << 32, i64::MAX, i64::MIN];
        for k in -25i64..=25 {
            inputs.extend([k << 32, (k << 32) + 1, (k << 32) - 1, (k << 31) + 7]);
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..100_000 {
            // Uniform over [-24, 24] and concentrated near zero, where the series is short.
            let wide = (rnd(&mut seed) % (48u64 << 32)) as i64 - (24i64 << 32);
            let narrow = (rnd(&mut seed) % (1u64 << 30)) as i64 - (1i64 << 29);
            inputs.extend([wide, narrow]);
        }
        for x in inputs {
            let x = I32F32::from_bits(x);
            assert_eq!(exp_safe(x), reference_exp_safe(x), "exp_safe({x})");
        }
    }
}
