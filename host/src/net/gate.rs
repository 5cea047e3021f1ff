//! A priority gate: at most `slots` holders at once; when all slots are taken, waiters are
//! admitted highest priority first (a miner uses the caller's stake), first come first served
//! among equals.
//!
//! Invariants:
//! - Slots are never lost or duplicated: a waiter cancelled (its future dropped, e.g. by a
//!   deadline) either leaves the queue, or, when a slot was handed to it at the same moment,
//!   passes that slot on to the next waiter.
//! - A free slot is never left idle while someone waits: releasing a slot hands it straight to
//!   the best waiter.
//! - The queue is bounded: [`PriorityGate::acquire`] fails at once with [`QueueFull`] when
//!   `max_queue` waiters are already queued.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

/// The queue was full; the caller should be told to come back later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the priority queue is full")]
pub struct QueueFull;

type Key = (Reverse<u64>, u64);

#[derive(Debug)]
struct State {
    free: usize,
    next_seq: u64,
    /// Ordered best first: highest priority, then lowest sequence number.
    waiting: BTreeMap<Key, oneshot::Sender<()>>,
}

/// The gate. Share it as `Arc<PriorityGate>`.
#[derive(Debug)]
pub struct PriorityGate {
    state: Mutex<State>,
    slots: usize,
    max_queue: usize,
}

/// A held slot; dropping it releases the slot to the best waiter.
#[derive(Debug)]
pub struct GatePermit {
    gate: Arc<PriorityGate>,
}

impl Drop for GatePermit {
    fn drop(&mut self) {
        self.gate.release();
    }
}

/// A queued waiter. Owns its receiver, so a grant sent while it exists always lands.
struct Waiter {
    gate: Arc<PriorityGate>,
    key: Key,
    rx: oneshot::Receiver<()>,
    granted: bool,
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if self.granted {
            return;
        }
        let mut state = self.gate.lock();
        if state.waiting.remove(&self.key).is_none() {
            // A slot was handed to us (the entry is gone) but we are no longer there to use it.
            drop(state);
            self.gate.release();
        }
    }
}

impl PriorityGate {
    /// A gate with `slots` concurrent holders (at least 1) and at most `max_queue` waiters.
    pub fn new(slots: usize, max_queue: usize) -> Arc<Self> {
        let slots = slots.max(1);
        Arc::new(Self {
            state: Mutex::new(State { free: slots, next_seq: 0, waiting: BTreeMap::new() }),
            slots,
            max_queue,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain counters and a map that every operation leaves consistent.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for a slot with `priority` (higher goes first). Cancel-safe: drop the future to
    /// give up (wrap it in a timeout for a deadline).
    pub async fn acquire(self: &Arc<Self>, priority: u64) -> Result<GatePermit, QueueFull> {
        let mut waiter = {
            let mut state = self.lock();
            if state.free > 0 && state.waiting.is_empty() {
                state.free -= 1;
                return Ok(GatePermit { gate: self.clone() });
            }
            if state.waiting.len() >= self.max_queue {
                return Err(QueueFull);
            }
            let key = (Reverse(priority), state.next_seq);
            state.next_seq += 1;
            let (tx, rx) = oneshot::channel();
            state.waiting.insert(key, tx);
            Waiter { gate: self.clone(), key, rx, granted: false }
        };
        // The sender is only dropped after a send (release) or by our own Drop, so an error
        // here cannot happen while we wait; treat it as a grant to stay on the safe side of
        // the slot accounting (the entry is gone either way).
        let _ = (&mut waiter.rx).await;
        waiter.granted = true;
        Ok(GatePermit { gate: self.clone() })
    }

    fn release(&self) {
        let mut state = self.lock();
        while let Some((_, tx)) = state.waiting.pop_first() {
            // The receiver lives in a `Waiter`, whose Drop takes this lock first: if the send
            // fails the waiter is gone and did not count on a slot, so try the next one.
            if tx.send(()).is_ok() {
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
    async fn queue_is_bounded() {
        let gate = PriorityGate::new(1, 1);
        let _held = gate.acquire(5).await.unwrap();
        let g = gate.clone();
        let queued = tokio::spawn(async move { g.acquire(1).await.map(drop) });
        settle().await;
        assert_eq!(gate.acquire(1000).await.unwrap_err(), QueueFull);
        queued.abort();
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
