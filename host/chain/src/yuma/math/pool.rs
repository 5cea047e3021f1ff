//! A per-thread pool of the large per-epoch buffers (sparse-matrix arrays,
//! the median's column copy), so that consecutive epochs on one thread reuse
//! memory instead of returning it to the allocator and faulting it back in.
//!
//! Without it about a fifth of an epoch's wall time went to the kernel: every
//! epoch frees a few buffers of `O(stored weights)` at once, glibc trims the
//! heap top (or unmaps them), and the next epoch faults the pages in again.
//!
//! Invariants: buffers come out empty (length 0) with whatever capacity they
//! had; at most [`KEEP`] buffers per element type and none larger than
//! [`MAX_BYTES`] are kept per thread, so a thread retains a few times the
//! largest subnet's matrix at most. Taking and giving never panic: if the
//! thread-local is being torn down or (impossibly) borrowed, the pool is simply
//! bypassed.

use std::cell::RefCell;

use substrate_fixed::types::I32F32;

/// Buffers kept per element type and thread (an epoch has about this many alive at once).
const KEEP: usize = 8;
/// Larger buffers are dropped rather than kept.
const MAX_BYTES: usize = 64 << 20;

/// The per-thread stacks of buffers, one per element type.
#[derive(Default)]
pub(crate) struct Pool {
    u16s: Vec<Vec<u16>>,
    i64s: Vec<Vec<i64>>,
    usizes: Vec<Vec<usize>>,
    fixed: Vec<Vec<I32F32>>,
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool::default());
}

/// Element types the pool keeps.
pub(crate) trait Pooled: Sized {
    /// The pool's stack for this type.
    fn stack(pool: &mut Pool) -> &mut Vec<Vec<Self>>;
}

macro_rules! pooled {
    ($($t:ty => $field:ident),*) => {$(
        impl Pooled for $t {
            fn stack(pool: &mut Pool) -> &mut Vec<Vec<Self>> {
                &mut pool.$field
            }
        }
    )*};
}
pooled!(u16 => u16s, i64 => i64s, usize => usizes, I32F32 => fixed);

/// An empty vector with room for `capacity` elements, reusing a pooled one when there is one.
pub(crate) fn take<T: Pooled>(capacity: usize) -> Vec<T> {
    let reused = POOL.try_with(|p| p.try_borrow_mut().ok().and_then(|mut p| T::stack(&mut p).pop())).ok().flatten();
    let mut v = reused.unwrap_or_default();
    v.clear();
    v.reserve(capacity);
    v
}

/// A vector of `len` copies of `value`, reusing a pooled one when there is one.
pub(crate) fn filled<T: Pooled + Clone>(len: usize, value: T) -> Vec<T> {
    let mut v = take(len);
    v.resize(len, value);
    v
}

/// Returns a vector to the pool (or drops it, if the pool is full or it is huge).
pub(crate) fn give<T: Pooled>(v: Vec<T>) {
    if v.capacity() == 0 || v.capacity().saturating_mul(size_of::<T>()) > MAX_BYTES {
        return;
    }
    let _ = POOL.try_with(|p| {
        if let Ok(mut p) = p.try_borrow_mut() {
            let stack = T::stack(&mut p);
            if stack.len() < KEEP {
                stack.push(v);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_empty_with_their_capacity() {
        let mut v: Vec<i64> = take(1000);
        v.extend([1, 2, 3]);
        let cap = v.capacity();
        give(v);
        let w: Vec<i64> = take(10);
        assert!(w.is_empty());
        assert_eq!(w.capacity(), cap);
        assert_eq!(filled(3, 7u16), vec![7, 7, 7]);
    }
}
