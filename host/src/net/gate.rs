//! A priority gate: at most `slots` holders at once; when all slots are taken, waiters are
//! admitted highest priority first (a miner uses the caller's authenticated stake), first come
//! first served among equals.
//!
//! Invariants:
//! - Slots are never lost or duplicated: a waiter cancelled (its future dropped, e.g. by a
//!   deadline) either leaves the queue, or, when a slot was handed to it at the same moment,
//!   passes that slot on to the next waiter. An evicted waiter never held a slot.
//! - A free slot is never left idle while someone waits: releasing a slot hands it straight to
//!   the best waiter.
//! - The queue is bounded by `max_queue`. When it is full, a newcomer with a *strictly higher*
//!   priority than the worst waiter evicts that waiter (which gets [`GateError::Evicted`]); any
//!   other newcomer gets [`GateError::QueueFull`] at once. So low-priority callers can fill an
//!   idle queue but can never keep a better caller out of it.
//! - Per-key quota: a key ([`PriorityGate::acquire_as`], the caller's hotkey) holds at most
//!   `per_key` places, queued and running together; one more is refused with
//!   [`GateError::Quota`] before it queues, so no single caller can own the queue.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

/// Why [`PriorityGate::acquire_as`] gave no slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    /// The queue is full of waiters at least as important as this one.
    #[error("the priority queue is full")]
    QueueFull,
    /// This waiter was pushed out of the full queue by a higher-priority newcomer.
    #[error("evicted from the queue by a higher-priority caller")]
    Evicted,
    /// This key already holds its quota of places.
    #[error("this caller already holds its share of the queue")]
    Quota,
}

/// The queue was full (kept for callers of the untyped [`PriorityGate::acquire`]).
pub type QueueFull = GateError;

type Key = (Reverse<u64>, u64);

/// What a waiter's channel carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    Slot,
    Evicted,
}

#[derive(Debug)]
struct State {
    free: usize,
    next_seq: u64,
    /// Ordered best first: highest priority, then lowest sequence number.
    waiting: BTreeMap<Key, oneshot::Sender<Grant>>,
    /// Places (queued or running) per key; entries with 0 are removed.
    held: HashMap<[u8; 32], usize>,
}

impl State {
    fn release_key(&mut self, key: Option<[u8; 32]>) {
        let Some(k) = key else { return };
        if let Some(n) = self.held.get_mut(&k) {
            *n -= 1;
            if *n == 0 {
                self.held.remove(&k);
            }
        }
    }
}

/// The gate. Share it as `Arc<PriorityGate>`.
#[derive(Debug)]
pub struct PriorityGate {
    state: Mutex<State>,
    slots: usize,
    max_queue: usize,
    per_key: usize,
}

/// A held slot; dropping it releases the slot to the best waiter.
#[derive(Debug)]
pub struct GatePermit {
    gate: Arc<PriorityGate>,
    key: Option<[u8; 32]>,
}

impl Drop for GatePermit {
    fn drop(&mut self) {
        self.gate.lock().release_key(self.key);
        self.gate.release();
    }
}

/// A queued waiter. Owns its receiver, so a grant sent while it exists always lands.
struct Waiter {
    gate: Arc<PriorityGate>,
    seq: Key,
    key: Option<[u8; 32]>,
    rx: oneshot::Receiver<Grant>,
    /// The outcome was taken over by `acquire_as` (a permit, or the eviction's bookkeeping).
    done: bool,
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut state = self.gate.lock();
        state.release_key(self.key);
        if state.waiting.remove(&self.seq).is_some() {
            return;
        }
        // The entry is gone, so a grant was sent (under the lock we now hold): a slot we are
        // no longer there to use goes on to the next waiter; an eviction needs nothing.
        if self.rx.try_recv() == Ok(Grant::Slot) {
            drop(state);
            self.gate.release();
        }
    }
}

impl PriorityGate {
    /// A gate with `slots` concurrent holders (at least 1), at most `max_queue` waiters and no
    /// per-key quota.
    pub fn new(slots: usize, max_queue: usize) -> Arc<Self> {
        Self::with_quota(slots, max_queue, usize::MAX)
    }

    /// A gate with `slots` holders, `max_queue` waiters, and at most `per_key` places (at least
    /// 1) per key.
    pub fn with_quota(slots: usize, max_queue: usize, per_key: usize) -> Arc<Self> {
        let slots = slots.max(1);
        Arc::new(Self {
            state: Mutex::new(State { free: slots, next_seq: 0, waiting: BTreeMap::new(), held: HashMap::new() }),
            slots,
            max_queue,
            per_key: per_key.max(1),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain counters and maps that every operation leaves consistent.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for a slot with `priority` (higher goes first), without a quota. Cancel-safe: drop
    /// the future to give up (wrap it in a timeout for a deadline).
    pub async fn acquire(self: &Arc<Self>, priority: u64) -> Result<GatePermit, GateError> {
        self.acquire_inner(None, priority).await
    }

    /// [`Self::acquire`] for `key` (a caller's hotkey), counted against its quota.
    pub async fn acquire_as(self: &Arc<Self>, key: [u8; 32], priority: u64) -> Result<GatePermit, GateError> {
        self.acquire_inner(Some(key), priority).await
    }

    async fn acquire_inner(self: &Arc<Self>, key: Option<[u8; 32]>, priority: u64) -> Result<GatePermit, GateError> {
        let mut waiter = {
            let mut state = self.lock();
            if let Some(k) = key {
                let n = state.held.entry(k).or_default();
                if *n >= self.per_key {
                    return Err(GateError::Quota);
                }
                *n += 1;
            }
            if state.free > 0 && state.waiting.is_empty() {
                state.free -= 1;
                return Ok(GatePermit { gate: self.clone(), key });
            }
            if state.waiting.len() >= self.max_queue {
                // The worst waiter: lowest priority, and the newest among those.
                let worst = state.waiting.last_key_value().map(|(k, _)| *k);
                match worst {
                    Some(w) if priority > w.0.0 => {
                        if let Some(tx) = state.waiting.remove(&w) {
                            // A failed send means that waiter is already gone; either way its
                            // place is free now.
                            let _ = tx.send(Grant::Evicted);
                        }
                    }
                    _ => {
                        state.release_key(key);
                        return Err(GateError::QueueFull);
                    }
                }
            }
            let seq = (Reverse(priority), state.next_seq);
            state.next_seq += 1;
            let (tx, rx) = oneshot::channel();
            state.waiting.insert(seq, tx);
            Waiter { gate: self.clone(), seq, key, rx, done: false }
        };
        // The sender is only dropped after a send (release, eviction) or by our own Drop, so an
        // error here cannot happen while we wait; treat it as a grant to stay on the safe side
        // of the slot accounting (the entry is gone either way).
        let grant = (&mut waiter.rx).await.unwrap_or(Grant::Slot);
        waiter.done = true;
        match grant {
            Grant::Slot => Ok(GatePermit { gate: self.clone(), key }),
            Grant::Evicted => {
                self.lock().release_key(key);
                Err(GateError::Evicted)
            }
        }
    }

    fn release(&self) {
        let mut state = self.lock();
        while let Some((_, tx)) = state.waiting.pop_first() {
            // The receiver lives in a `Waiter`, whose Drop takes this lock first: if the send
            // fails the waiter is gone and did not count on a slot, so try the next one.
            if tx.send(Grant::Slot).is_ok() {
                return;
            }
        }
        state.free = (state.free + 1).min(self.slots);
    }

    /// Waiters queued now.
    pub fn queued(&self) -> usize {
        self.lock().waiting.len()
    }

    /// Slots held now.
    pub fn in_use(&self) -> usize {
        let state = self.lock();
        self.slots - state.free
    }

    /// Places (queued or running) `key` holds now.
    pub fn held_by(&self, key: &[u8; 32]) -> usize {
        self.lock().held.get(key).copied().unwrap_or(0)
    }

    /// The number of slots.
    pub fn slots(&self) -> usize {
        self.slots
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn waiters_are_admitted_by_priority_then_arrival() {
        let gate = PriorityGate::new(1, 16);
        let first = gate.acquire(0).await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, priority) in [("low", 1u64), ("high", 100), ("mid", 50), ("high2", 100), ("zero", 0)] {
            let gate = gate.clone();
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = gate.acquire(priority).await.unwrap();
                order.lock().unwrap().push(name);
            }));
            settle().await;
        }
        assert_eq!(gate.queued(), 5);
        drop(first);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["high", "high2", "mid", "low", "zero"]);
        assert_eq!((gate.in_use(), gate.queued()), (0, 0));
    }

    #[tokio::test]
    async fn full_queue_evicts_the_worst_for_a_better_newcomer_only() {
        let gate = PriorityGate::new(1, 1);
        let _held = gate.acquire(5).await.unwrap();
        let g = gate.clone();
        let queued = tokio::spawn(async move { g.acquire(1).await.map(drop) });
        settle().await;
        // Equal or lower priority: refused at once, the waiter keeps its place.
        assert_eq!(gate.acquire(1).await.unwrap_err(), GateError::QueueFull);
        assert_eq!(gate.acquire(0).await.unwrap_err(), GateError::QueueFull);
        // Higher: the waiter is evicted and the newcomer queues.
        let g = gate.clone();
        let better = tokio::spawn(async move { g.acquire(1000).await.map(drop) });
        assert_eq!(queued.await.unwrap(), Err(GateError::Evicted));
        settle().await;
        assert_eq!(gate.queued(), 1);
        drop(_held);
        assert_eq!(better.await.unwrap(), Ok(()));
        assert_eq!((gate.in_use(), gate.queued()), (0, 0));
    }

    #[tokio::test]
    async fn per_key_quota_counts_queued_and_running() {
        let gate = PriorityGate::with_quota(1, 8, 2);
        let k = [7u8; 32];
        let a = gate.acquire_as(k, 10).await.unwrap();
        let g = gate.clone();
        let b = tokio::spawn(async move { g.acquire_as(k, 10).await.map(drop) });
        settle().await;
        assert_eq!(gate.held_by(&k), 2);
        assert_eq!(gate.acquire_as(k, 10).await.unwrap_err(), GateError::Quota);
        // Another key is not affected.
        let g = gate.clone();
        let other = tokio::spawn(async move { g.acquire_as([8u8; 32], 1).await.map(drop) });
        settle().await;
        drop(a);
        assert_eq!(b.await.unwrap(), Ok(()));
        assert_eq!(other.await.unwrap(), Ok(()));
        assert_eq!(gate.held_by(&k), 0);
        // Cancelled and evicted waiters give their places back.
        let _x = gate.acquire_as(k, 1).await.unwrap();
        assert!(tokio::time::timeout(Duration::from_millis(1), gate.acquire_as(k, 1)).await.is_err());
        assert_eq!(gate.held_by(&k), 1);
    }

    #[tokio::test]
    async fn cancelled_waiters_never_leak_or_duplicate_slots() {
        let gate = PriorityGate::new(2, 64);
        let a = gate.acquire(0).await.unwrap();
        let b = gate.acquire(0).await.unwrap();
        // Waiters that give up before a slot frees.
        for p in 0..10 {
            let r = tokio::time::timeout(Duration::from_millis(1), gate.acquire(p)).await;
            assert!(r.is_err());
        }
        assert_eq!(gate.queued(), 0);
        // A waiter cancelled in the same instant a slot is handed to it passes the slot on.
        let g = gate.clone();
        let doomed = tokio::spawn(async move { g.acquire(9).await.map(drop) });
        settle().await;
        let g = gate.clone();
        let survivor = tokio::spawn(async move { g.acquire(1).await });
        settle().await;
        drop(a); // granted to `doomed` (priority 9)...
        doomed.abort(); // ...which may be cancelled before it runs
        let permit = survivor.await.unwrap().unwrap();
        assert_eq!(gate.in_use(), 2);
        drop(permit);
        drop(b);
        assert_eq!((gate.in_use(), gate.queued()), (0, 0));
        // Both slots are usable again, and no third.
        let _x = gate.acquire(0).await.unwrap();
        let _y = gate.acquire(0).await.unwrap();
        assert!(tokio::time::timeout(Duration::from_millis(5), gate.acquire(0)).await.is_err());
    }
}
