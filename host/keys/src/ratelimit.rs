//! A protocol-neutral per-key token bucket, for servers that want to cap what one caller (a
//! hotkey, an IP) may cost them before or after authentication.
//!
//! Each key has a bucket of `burst` tokens refilled at `per_second`; [`RateLimiter::try_take`]
//! takes one token or refuses. Memory is bounded by `max_keys`: when a new key arrives with the
//! table full, buckets that are full again (idle keys, which lose nothing by being forgotten) are
//! dropped; if none is, the new key is refused rather than evicting an active caller's state, so
//! a flood of fresh keys cannot reset anyone's limit. Time is passed in (nanoseconds on any
//! monotonic clock), so tests and callers control it; a clock that moves backwards refills
//! nothing.

use std::collections::HashMap;
use std::hash::Hash;

/// Why [`RateLimiter::try_take`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RateLimited {
    /// This key's bucket is empty; the next token is due after `retry_after_ns`.
    #[error("rate limited; retry in {retry_after_ns} ns")]
    Empty {
        /// Nanoseconds until one token is back.
        retry_after_ns: u64,
    },
    /// The limiter tracks as many keys as it may and none is idle.
    #[error("too many callers tracked at once")]
    TooManyKeys,
}

impl RateLimited {
    /// The HTTP status to answer with (429 Too Many Requests, or 503 when the table is full).
    pub fn status(&self) -> u16 {
        match self {
            RateLimited::Empty { .. } => 429,
            RateLimited::TooManyKeys => 503,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens scaled by 10⁹, so refill is exact integer arithmetic.
    nano_tokens: u128,
    at_ns: u64,
}

/// Token buckets per key (see the module docs). Not synchronised: wrap it in a lock to share.
#[derive(Debug)]
pub struct RateLimiter<K> {
    burst: u128,
    per_second: u128,
    max_keys: usize,
    buckets: HashMap<K, Bucket>,
}

const SCALE: u128 = 1_000_000_000;

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// `burst` tokens at most per key (at least 1), refilled at `per_second` tokens per second,
    /// for at most `max_keys` keys (at least 1).
    pub fn new(burst: u32, per_second: u32, max_keys: usize) -> Self {
        RateLimiter {
            burst: u128::from(burst.max(1)) * SCALE,
            per_second: u128::from(per_second),
            max_keys: max_keys.max(1),
            buckets: HashMap::new(),
        }
    }

    fn refilled(&self, b: Bucket, now_ns: u64) -> Bucket {
        let elapsed = u128::from(now_ns.saturating_sub(b.at_ns));
        // per_second tokens per 1e9 ns, in units of 1e-9 token: elapsed × per_second.
        let nano_tokens = b.nano_tokens.saturating_add(elapsed.saturating_mul(self.per_second)).min(self.burst);
        Bucket { nano_tokens, at_ns: now_ns.max(b.at_ns) }
    }

    /// Takes one token from `key`'s bucket at `now_ns`.
    pub fn try_take(&mut self, key: &K, now_ns: u64) -> Result<(), RateLimited> {
        let bucket = match self.buckets.get(key) {
            Some(b) => self.refilled(*b, now_ns),
            None => {
                if self.buckets.len() >= self.max_keys {
                    let burst = self.burst;
                    let per_second = self.per_second;
                    self.buckets.retain(|_, b| {
                        let elapsed = u128::from(now_ns.saturating_sub(b.at_ns));
                        b.nano_tokens.saturating_add(elapsed.saturating_mul(per_second)) < burst
                    });
                    if self.buckets.len() >= self.max_keys {
                        return Err(RateLimited::TooManyKeys);
                    }
                }
                Bucket { nano_tokens: self.burst, at_ns: now_ns }
            }
        };
        if bucket.nano_tokens < SCALE {
            self.buckets.insert(key.clone(), bucket);
            let missing = SCALE - bucket.nano_tokens;
            let retry_after_ns = match self.per_second {
                0 => u64::MAX,
                r => u64::try_from(missing.div_ceil(r)).unwrap_or(u64::MAX),
            };
            return Err(RateLimited::Empty { retry_after_ns });
        }
        self.buckets.insert(key.clone(), Bucket { nano_tokens: bucket.nano_tokens - SCALE, at_ns: bucket.at_ns });
        Ok(())
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn burst_then_refill_per_key() {
        let mut r = RateLimiter::new(3, 2, 16);
        for _ in 0..3 {
            r.try_take(&"a", 0).unwrap();
        }
        assert_eq!(r.try_take(&"a", 0), Err(RateLimited::Empty { retry_after_ns: S / 2 }));
        // Another key is unaffected by a's exhaustion.
        r.try_take(&"b", 0).unwrap();
        assert!(r.try_take(&"a", S / 2 - 1).is_err());
        r.try_take(&"a", S / 2).unwrap();
        // Refill caps at the burst.
        for _ in 0..3 {
            r.try_take(&"a", 100 * S).unwrap();
        }
        assert!(r.try_take(&"a", 100 * S).is_err());
        // A clock stepping back refills nothing.
        assert!(r.try_take(&"a", 0).is_err());
    }

    #[test]
    fn table_is_bounded_and_active_keys_are_not_evicted() {
        let mut r = RateLimiter::new(1, 1, 2);
        r.try_take(&1, 0).unwrap();
        r.try_take(&2, 0).unwrap();
        assert_eq!(r.try_take(&3, 0), Err(RateLimited::TooManyKeys));
        assert_eq!(RateLimited::TooManyKeys.status(), 503);
        // Key 1 would still be limited, so it was not reset by the attempt above.
        assert!(r.try_take(&1, 0).is_err());
        // Once both are idle (full again) they make room.
        r.try_take(&3, 2 * S).unwrap();
        assert!(r.len() <= 2);
        assert_eq!(RateLimiter::<u8>::new(1, 0, 1).try_take(&0, 0), Ok(()));
    }
}
