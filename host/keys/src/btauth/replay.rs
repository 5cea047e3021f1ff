//! The replay cache behind [`Verifier`](super::Verifier).

use std::collections::BTreeSet;

#[derive(Debug)]
pub(super) struct ReplayCache {
    /// Accepted (nonce, sender) pairs with nonce >= horizon, ordered by nonce for expiry.
    pub(super) seen: BTreeSet<(u64, [u8; 32])>,
    pub(super) capacity: usize,
    /// Nonces below this are refused: either stale, or evicted from `seen`.
    pub(super) horizon: u64,
}

impl ReplayCache {
    /// Forgets every entry with a nonce below `threshold` and raises the horizon just past the
    /// newest one forgotten. The horizon only ever reaches nonces that were really accepted, so
    /// a bogus far-future `now` cannot lock out honest senders, whose clocks move on.
    pub(super) fn forget_below(&mut self, threshold: u64) {
        let mut newest_forgotten = None;
        while let Some(&(nonce, _)) = self.seen.first() {
            if nonce >= threshold {
                break;
            }
            self.seen.pop_first();
            newest_forgotten = Some(nonce);
        }
        if let Some(n) = newest_forgotten {
            self.horizon = self.horizon.max(n.saturating_add(1));
        }
    }
}
