//! Fixed-point helpers of the Yuma epoch, one file per job.
//!
//! * [`fixed`]: scalar conversions, the pallet's zero-safe division and `exp`.
//! * [`vector`]: per-uid vectors (sums, normalisation, masks, top-k, upscale).
//! * [`sparse`]: the [`Csr`] matrix and its row/column operations.
//! * `passes`: several of those steps fused into one sweep, for the epoch.
//! * [`median`]: stake-weighted column medians (consensus).
//! * [`bonds`]: the single-rate bonds EMA.
//! * [`liquid_alpha`]: the liquid-alpha rate sigmoid and its bonds EMA.
//! * `pool`: per-thread reuse of the large per-epoch buffers.
//!
//! These reproduce, operation by operation, the helpers in subtensor's
//! `pallets/subtensor/src/epoch/math.rs` (commit noted in the parent module),
//! because the last bit of every stored `u16` depends on the exact sequence
//! of fixed-point roundings. Invariants every file keeps:
//!
//! * Proportions are `I32F32`; stake before normalisation is `I64F64`.
//! * Division by zero (and division overflow) yields zero, like the pallet's
//!   `safe_div` (`checked_div(..).unwrap_or_default()`), never a panic.
//! * Other arithmetic saturates. Sums use saturating addition; the pallet's
//!   `Iterator::sum` wraps on overflow instead, which cannot happen for
//!   proportions in `[0, 1]` or for rao amounts below `2^63`, so the two agree
//!   on every reachable input.
//! * A faster formulation is used only where it is exactly equal: fixed-point
//!   addition of values that cannot saturate is exact and associative, so sums
//!   may be regrouped; a multiplication, division or truncation is never moved.
//!   Where equality needs a precondition (sorted rows, a sum that cannot
//!   saturate) it is checked at run time and the literal algorithm runs otherwise.
//! * Out-of-range column indices are ignored rather than trusted.
//!
//! Everything here is total: no function panics on any input.

pub mod bonds;
pub mod fixed;
pub mod liquid_alpha;
pub mod median;
pub(crate) mod passes;
mod pool;
pub mod sparse;
pub mod vector;

pub use fixed::{
    Divisor, clamp_value, div_or_zero, div_or_zero_64, exp_safe, fixed_proportion_to_u16,
    fixed_to_fixed_u16_proportion, u16_proportion_to_fixed, u16_to_fixed,
};
pub use median::{weighted_median, weighted_median_col, weighted_median_col_sparse, weighted_median_cols};
pub use sparse::{Csr, SparseMatrix};
pub use vector::{
    inplace_mask_vector, inplace_normalize, inplace_normalize_64, inplace_normalize_using_sum, is_topk_nonzero,
    is_zero, sum, vec_max_upscale_to_u16, vec_mul, vec_u16_max_upscale_to_u16,
};
