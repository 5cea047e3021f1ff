//! The places unverified requests hold, capped over all callers, per client address and per
//! claimed hotkey, with eviction of the slowest.
//!
//! When a cap is full, the newcomer takes the place of the *slowest* unverified request in that
//! cap's scope (lowest average body rate so far) that has held its place for at least
//! `min_hold`; the evicted request's body read ends with [`BodyError::Evicted`]. Only if no such
//! request exists is the newcomer refused. So connections that trickle bytes cannot keep a fast
//! honest request out however many of them are open: an honest request is past its body, and out
//! of this table, long before `min_hold`.
//!
//! Invariants: counters equal the entries they count; an entry leaves the table exactly once
//! (evicted, or its guard dropped); the table holds at most `max_total` entries.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use subnet_chain::AccountId;
use tokio::sync::Notify;

use super::body::BodyError;
use super::{ClientAddr, Refused, Scope, lock};

/// A body read's progress as the table sees it, and its eviction signal.
#[derive(Debug, Default)]
pub struct Progress {
    received: AtomicU64,
    evicted: AtomicBool,
    wake: Notify,
}

impl Progress {
    /// Counts `n` more bytes received.
    pub fn add(&self, n: usize) {
        self.received.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Whether this read was evicted.
    pub fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }

    /// Resolves once the read is evicted.
    pub async fn evicted(&self) -> BodyError {
        loop {
            if self.is_evicted() {
                return BodyError::Evicted;
            }
            self.wake.notified().await;
        }
    }

    fn evict(&self) {
        self.evicted.store(true, Ordering::Release);
        // `notify_one` keeps a permit when nobody waits yet, so the signal cannot be missed.
        self.wake.notify_one();
    }
}

struct Entry {
    ip: ClientAddr,
    hotkey: Option<AccountId>,
    started: Instant,
    progress: Arc<Progress>,
}

/// The limits of the table.
#[derive(Debug, Clone, Copy)]
pub(super) struct Caps {
    pub total: usize,
    pub per_ip: usize,
    pub per_hotkey: usize,
    pub min_hold: Duration,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    entries: HashMap<u64, Entry>,
    per_ip: HashMap<ClientAddr, usize>,
    per_hotkey: HashMap<AccountId, usize>,
}

fn dec<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

impl Table {
    fn remove(&mut self, id: u64) -> Option<Entry> {
        let e = self.entries.remove(&id)?;
        dec(&mut self.per_ip, &e.ip);
        if let Some(h) = &e.hotkey {
            dec(&mut self.per_hotkey, h);
        }
        Some(e)
    }

    /// The slowest entry in `scope` that has held its place for `min_hold`.
    fn victim(&self, scope: Scope, ip: ClientAddr, hotkey: &AccountId, min_hold: Duration) -> Option<u64> {
        let now = Instant::now();
        self.entries
            .iter()
            .filter(|(_, e)| match scope {
                Scope::All => true,
                Scope::Address => e.ip == ip,
                Scope::Hotkey => e.hotkey.as_ref() == Some(hotkey),
            })
            .filter_map(|(id, e)| {
                let age = now.saturating_duration_since(e.started);
                (age >= min_hold).then(|| (e.progress.received.load(Ordering::Relaxed) as f64 / age.as_secs_f64(), *id))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, id)| id)
    }

    /// Makes room in `scope` if `full`, evicting the slowest; refuses when none can go.
    fn make_room(
        &mut self,
        full: bool,
        scope: Scope,
        ip: ClientAddr,
        hotkey: &AccountId,
        min_hold: Duration,
    ) -> Result<(), Refused> {
        if !full {
            return Ok(());
        }
        let id = self.victim(scope, ip, hotkey, min_hold).ok_or(Refused::UnverifiedLimit { scope })?;
        if let Some(e) = self.remove(id) {
            e.progress.evict();
        }
        Ok(())
    }
}

/// The table (see the module docs).
pub(super) struct Slots {
    caps: Caps,
    table: Mutex<Table>,
    evictions: AtomicU64,
}

/// One held place; dropping it gives the place back (unless it was evicted already).
pub struct UnverifiedSlot {
    slots: Arc<Slots>,
    id: u64,
    progress: Arc<Progress>,
}

impl UnverifiedSlot {
    /// The progress handle the body read reports to.
    pub fn progress(&self) -> &Arc<Progress> {
        &self.progress
    }
}

impl Drop for UnverifiedSlot {
    fn drop(&mut self) {
        lock(&self.slots.table).remove(self.id);
    }
}

impl Slots {
    pub(super) fn new(caps: Caps) -> Arc<Self> {
        Arc::new(Slots { caps, table: Mutex::new(Table::default()), evictions: AtomicU64::new(0) })
    }

    /// A place for a request from `ip` claiming `hotkey`; `count_hotkey` is false for a
    /// (hotkey, address) pair already proven, which the per-hotkey cap does not apply to.
    pub(super) fn take(
        self: &Arc<Self>,
        ip: ClientAddr,
        hotkey: AccountId,
        count_hotkey: bool,
    ) -> Result<UnverifiedSlot, Refused> {
        let c = self.caps;
        let mut t = lock(&self.table);
        let before = t.entries.len();
        let full = t.per_ip.get(&ip).copied().unwrap_or(0) >= c.per_ip;
        t.make_room(full, Scope::Address, ip, &hotkey, c.min_hold)?;
        if count_hotkey {
            let full = t.per_hotkey.get(&hotkey).copied().unwrap_or(0) >= c.per_hotkey;
            t.make_room(full, Scope::Hotkey, ip, &hotkey, c.min_hold)?;
        }
        let full = t.entries.len() >= c.total;
        t.make_room(full, Scope::All, ip, &hotkey, c.min_hold)?;
        let evicted = before - t.entries.len();
        self.evictions.fetch_add(evicted as u64, Ordering::Relaxed);
        let id = t.next_id;
        t.next_id += 1;
        let progress = Arc::new(Progress::default());
        t.entries.insert(
            id,
            Entry { ip, hotkey: count_hotkey.then_some(hotkey), started: Instant::now(), progress: progress.clone() },
        );
        *t.per_ip.entry(ip).or_default() += 1;
        if count_hotkey {
            *t.per_hotkey.entry(hotkey).or_default() += 1;
        }
        Ok(UnverifiedSlot { slots: self.clone(), id, progress })
    }

    /// Places held now.
    pub(super) fn held(&self) -> usize {
        lock(&self.table).entries.len()
    }

    /// Requests evicted so far.
    pub(super) fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn ip(n: u8) -> ClientAddr {
        ClientAddr::from(IpAddr::from([10, 0, 0, n]))
    }

    #[test]
    fn full_caps_evict_the_slowest_old_enough_or_refuse() {
        let slots = Slots::new(Caps { total: 4, per_ip: 2, per_hotkey: 3, min_hold: Duration::ZERO });
        let h = AccountId([1; 32]);
        let a = slots.take(ip(1), h, true).unwrap();
        let b = slots.take(ip(1), h, true).unwrap();
        a.progress().add(1000);
        std::thread::sleep(Duration::from_millis(2));
        // ip(1) is full: the slower of a and b (b, nothing received) goes.
        let c = slots.take(ip(1), h, true).unwrap();
        assert!(b.progress().is_evicted() && !a.progress().is_evicted());
        assert_eq!(slots.held(), 2);
        drop(b);
        assert_eq!(slots.held(), 2, "an evicted guard does not free a second place");
        // Nobody old enough: refused, nothing evicted.
        let strict = Slots::new(Caps { total: 1, per_ip: 1, per_hotkey: 1, min_hold: Duration::from_secs(3600) });
        let _x = strict.take(ip(1), h, true).unwrap();
        assert_eq!(
            strict.take(ip(2), AccountId([2; 32]), true).err(),
            Some(Refused::UnverifiedLimit { scope: Scope::All })
        );
        assert_eq!(strict.take(ip(1), h, true).err(), Some(Refused::UnverifiedLimit { scope: Scope::Address }));
        drop((a, c));
        assert_eq!(slots.held(), 0);
        assert_eq!(slots.evictions(), 1);
    }
}
