//! Per-sender replay memory shared by [`btauth`](crate::btauth) and [`epistula`](crate::epistula):
//! which (sender, time, id) triples were accepted, bounded so that one sender's traffic can only
//! ever make *its own* older requests fail.
//!
//! # Model
//! Each accepted request is an entry `(time, id)` under its sender's 32-byte key, where `time` is
//! the request's signed time (btauth's nonce in ns, Epistula's timestamp scaled to ns) and `id`
//! tells apart requests with the same time (`()` for btauth, where the time is the nonce; a
//! digest of the uuid for Epistula).
//!
//! Every tracked sender has its own *horizon*: entries with a time below it are refused
//! ([`Refusal::BelowHorizon`]) because the store may have forgotten them. A sender's horizon rises
//! only when one of *its* entries is forgotten, to just past that entry's time, in two cases:
//! - the entry expired (its time is older than `now - max_age`; such a request is refused as
//!   stale anyway, and the horizon keeps a clock that steps backwards from readmitting it);
//! - the sender holds `per_sender` entries and accepts another: its oldest goes.
//!
//! So a sender that floods valid requests raises its own horizon and nobody else's.
//!
//! The number of senders is bounded by `max_senders`. When a new sender arrives with the table
//! full, the sender whose newest entry is oldest is forgotten whole (an expired one whenever there
//! is one). Its horizon is not lost: it is folded into one of [`FLOOR_BUCKETS`] *floors*, chosen
//! by a per-process keyed hash of the sender, and a sender that is not tracked starts from its
//! bucket's floor. An honest sender is affected by an eviction only when the evicted sender hashes
//! to the same bucket and had signed a *newer* request than the honest one's, which needs
//! `max_senders` distinct, verified senders active within one window.
//!
//! # Invariants
//! - No entry that was accepted is accepted again: it is either still stored (refused as
//!   [`Refusal::Replayed`]) or below the horizon that applies to its sender.
//! - Horizons and floors never move down, and never past a time that was actually accepted, so a
//!   bogus far-future clock cannot lock honest senders out.
//! - Memory is bounded: at most `max_senders × per_sender` entries (each a `(u64, id)` key in a
//!   B-tree: at most `2 × (8 + size_of id) + 8` bytes with node slack), `max_senders` sender
//!   records (about 160 bytes each with their index entries) and the 8 KiB floor table.
//! - [`ReplayStore::check`] is read-only: callers run it before they have verified anything, and
//!   only [`ReplayStore::insert`] (after the signature verified) changes the store.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, RandomState};

/// How many floors untracked senders inherit evicted senders' horizons from.
pub const FLOOR_BUCKETS: usize = 1024;

/// Why the store refuses an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// This exact entry was accepted before.
    Replayed,
    /// The entry is older than what the store can vouch for for this sender.
    BelowHorizon,
}

#[derive(Debug)]
struct SenderLog<E> {
    seen: BTreeSet<(u64, E)>,
    horizon: u64,
    /// The newest time ever accepted from this sender (the eviction order).
    newest: u64,
}

impl<E: Ord + Copy> SenderLog<E> {
    /// Forgets entries with a time below `threshold`, raising the horizon just past the newest
    /// one forgotten; returns how many went.
    fn forget_below(&mut self, threshold: u64) -> usize {
        let mut gone = 0;
        while let Some(&(t, _)) = self.seen.first() {
            if t >= threshold {
                break;
            }
            self.seen.pop_first();
            self.horizon = self.horizon.max(t.saturating_add(1));
            gone += 1;
        }
        gone
    }
}

/// The bounded per-sender replay memory (see the module docs). Not synchronised: callers wrap it
/// in a lock.
#[derive(Debug)]
pub struct ReplayStore<E> {
    max_age: u64,
    max_senders: usize,
    per_sender: usize,
    senders: HashMap<[u8; 32], SenderLog<E>>,
    /// `(newest, sender)` for every tracked sender; the first is evicted first.
    by_newest: BTreeSet<(u64, [u8; 32])>,
    floors: Box<[u64]>,
    hasher: RandomState,
    entries: usize,
}

impl<E: Ord + Copy> ReplayStore<E> {
    /// A store whose entries expire `max_age` (in the caller's time unit) after their time, with
    /// at most `max_senders` senders and `per_sender` entries each (0 is treated as 1).
    pub fn new(max_age: u64, max_senders: usize, per_sender: usize) -> Self {
        ReplayStore {
            max_age,
            max_senders: max_senders.max(1),
            per_sender: per_sender.max(1),
            senders: HashMap::new(),
            by_newest: BTreeSet::new(),
            floors: vec![0; FLOOR_BUCKETS].into_boxed_slice(),
            hasher: RandomState::new(),
            entries: 0,
        }
    }

    fn bucket(&self, sender: &[u8; 32]) -> usize {
        // The hasher is keyed per process, so no one can aim a flood of keys at another
        // sender's bucket.
        (self.hasher.hash_one(sender) % FLOOR_BUCKETS as u64) as usize
    }

    /// Would `(time, id)` from `sender` be refused? Read-only: safe to run on unauthenticated
    /// input, before the body is read and before the signature is checked.
    pub fn check(&self, sender: &[u8; 32], time: u64, id: E) -> Result<(), Refusal> {
        match self.senders.get(sender) {
            Some(log) if time < log.horizon => Err(Refusal::BelowHorizon),
            Some(log) if log.seen.contains(&(time, id)) => Err(Refusal::Replayed),
            Some(_) => Ok(()),
            None if time < self.floors[self.bucket(sender)] => Err(Refusal::BelowHorizon),
            None => Ok(()),
        }
    }

    /// Records `(time, id)` from `sender`, accepted at `now`, unless it is refused. Call only
    /// after the request's signature verified.
    pub fn insert(&mut self, sender: &[u8; 32], time: u64, id: E, now: u64) -> Result<(), Refusal> {
        let threshold = now.saturating_sub(self.max_age);
        if !self.senders.contains_key(sender) {
            let floor = self.floors[self.bucket(sender)];
            if time < floor {
                return Err(Refusal::BelowHorizon);
            }
            self.make_room();
            self.senders.insert(*sender, SenderLog { seen: BTreeSet::new(), horizon: floor, newest: 0 });
            self.by_newest.insert((0, *sender));
        }
        let per_sender = self.per_sender;
        let Some(log) = self.senders.get_mut(sender) else { return Err(Refusal::BelowHorizon) };
        self.entries -= log.forget_below(threshold);
        if time < log.horizon {
            return Err(Refusal::BelowHorizon);
        }
        if log.seen.contains(&(time, id)) {
            return Err(Refusal::Replayed);
        }
        if log.seen.len() >= per_sender
            && let Some(&(oldest, _)) = log.seen.first()
        {
            // Everything at that time goes, so the horizon covers all that was forgotten.
            self.entries -= log.forget_below(oldest.saturating_add(1));
            if time < log.horizon {
                return Err(Refusal::BelowHorizon);
            }
        }
        log.seen.insert((time, id));
        self.entries += 1;
        if time > log.newest {
            let old = log.newest;
            log.newest = time;
            self.by_newest.remove(&(old, *sender));
            self.by_newest.insert((time, *sender));
        }
        Ok(())
    }

    /// Forgets senders until one more fits: the one whose newest entry is oldest goes first (an
    /// expired one whenever there is one), and its bucket's floor rises past everything it ever
    /// had accepted. For an expired sender that floor lies below the window, where every request
    /// is stale anyway.
    fn make_room(&mut self) {
        while self.senders.len() >= self.max_senders {
            let Some((newest, victim)) = self.by_newest.pop_first() else { break };
            let Some(log) = self.senders.remove(&victim) else { continue };
            self.entries -= log.seen.len();
            let b = self.bucket(&victim);
            self.floors[b] = self.floors[b].max(log.horizon).max(newest.saturating_add(1));
        }
    }

    /// Entries stored now, over all senders.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Senders tracked now.
    pub fn senders(&self) -> usize {
        self.senders.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGE: u64 = 100;

    #[test]
    fn expired_senders_are_evicted_first_and_floors_stay_below_the_window() {
        let mut s: ReplayStore<()> = ReplayStore::new(AGE, 2, 8);
        let (a, b, c) = ([1u8; 32], [2u8; 32], [3u8; 32]);
        s.insert(&a, 10, (), 10).unwrap();
        s.insert(&b, 500, (), 500).unwrap();
        // `a` expired by now; the newcomer evicts it, not the live `b`.
        s.insert(&c, 510, (), 510).unwrap();
        assert_eq!((s.senders(), s.len()), (2, 2));
        assert_eq!(s.check(&b, 500, ()), Err(Refusal::Replayed));
        // `a` is forgotten but its nonce stays refused (clock stepped back), its newer ones pass.
        assert_eq!(s.check(&a, 10, ()), Err(Refusal::BelowHorizon));
        assert_eq!(s.check(&a, 11, ()), Ok(()));
    }

    #[test]
    fn same_time_different_ids_are_distinct_and_evicted_together() {
        let mut s: ReplayStore<u8> = ReplayStore::new(AGE, 4, 2);
        let a = [7u8; 32];
        s.insert(&a, 50, 1, 50).unwrap();
        s.insert(&a, 50, 2, 50).unwrap();
        assert_eq!(s.insert(&a, 50, 1, 50), Err(Refusal::Replayed));
        s.insert(&a, 60, 3, 60).unwrap();
        // Both entries at time 50 went; the horizon covers them.
        assert_eq!(s.len(), 1);
        assert_eq!(s.check(&a, 50, 2), Err(Refusal::BelowHorizon));
        assert_eq!(s.check(&a, 50, 9), Err(Refusal::BelowHorizon));
        assert_eq!(s.check(&a, 60, 3), Err(Refusal::Replayed));
        assert_eq!(s.check(&a, 60, 4), Ok(()));
    }

    #[test]
    fn bounds_hold_under_many_senders() {
        let mut s: ReplayStore<()> = ReplayStore::new(AGE, 16, 4);
        for i in 0..2000u64 {
            let mut k = [0u8; 32];
            k[..8].copy_from_slice(&(i % 97).to_le_bytes());
            let _ = s.insert(&k, 1000 + i, (), 1000 + i);
            assert!(s.senders() <= 16 && s.len() <= 64);
        }
    }
}
