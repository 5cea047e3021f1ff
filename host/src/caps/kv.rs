//! The `kv` capability: a key-value store private to each subnet.
//!
//! The backend is a [`KvStore`] shared by every instance of the subnet's modules; each call
//! sees the writes of the calls that finished before it. Limits (key and value size, keys per
//! listing) are checked here, before the backend, so every backend enforces the same ones.
//! A subnet without a granted store gets `denied` from every operation.
//!
//! Writes per call are bounded: at most [`MAX_WRITES_PER_CALL`] `set`s and `delete`s and
//! [`MAX_WRITE_BYTES_PER_CALL`] bytes of keys and values per call; past either, the call's
//! further writes get `too-large` (the guest sees the error and goes on; nothing is written).
//! So one call cannot hold the durable store's single writer for more than a bounded amount
//! of work.
//!
//! Rounds: a validator round writes to a [`BufferedKv`] over the subnet's store. Its calls see
//! each other's writes as usual, but nothing reaches the store until the round is committed
//! with its scores ([`crate::daemon::store::StateDb::commit_round`]) in one transaction; a
//! round that fails drops its writes with its scores.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use wasmtime::component::{HasSelf, Linker};

use super::{CallContext, CapConfigError, Capability, HostResources};
use crate::bindings::validator::subnet::plugin::kv::{self as wit, KvError as WitKvError};
use crate::units::Bytes;

/// Longest key, in bytes.
pub const MAX_KEY: usize = 1024;
/// Largest value, in bytes.
pub const MAX_VALUE: usize = 4 << 20;
/// Most keys one `keys` call returns.
pub const MAX_LIST: u32 = 10_000;
/// Default budget of a subnet's store.
pub const DEFAULT_BUDGET: u64 = 64 << 20;
/// Most `set`s and `delete`s one call may make.
pub const MAX_WRITES_PER_CALL: u32 = 256;
/// Most bytes of keys and values one call may write.
pub const MAX_WRITE_BYTES_PER_CALL: u64 = 16 << 20;

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// The key, the value or the whole store is over a limit.
    #[error("too large: {0}")]
    TooLarge(String),
    /// The backend failed; the operation did not happen.
    #[error("storage failed: {0}")]
    Io(String),
}

/// A subnet's key-value store. Implementations are durable or not; each operation is atomic.
pub trait KvStore: Send + Sync {
    /// The value under `key`.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// Stores `value` under `key`.
    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError>;
    /// Removes `key`; removing a missing key is not an error.
    fn delete(&self, key: &str) -> Result<(), KvError>;
    /// Keys starting with `prefix`, in byte order, at most `limit`.
    fn keys(&self, prefix: &str, limit: usize) -> Result<Vec<String>, KvError>;
    /// A throwaway in-memory copy of the store (what a smoke round writes to).
    fn snapshot(&self) -> Result<Arc<dyn KvStore>, KvError>;
    /// Bytes of keys and values held.
    fn usage(&self) -> Result<u64, KvError>;
    /// Bytes of keys and values the store may hold.
    fn budget(&self) -> u64;
}

/// Opens subnets' durable stores: what the host process offers the capability.
pub trait KvProvider: Send + Sync {
    /// The store of `netuid`, holding at most `budget` bytes.
    fn open(&self, netuid: u16, budget: u64) -> Result<Arc<dyn KvStore>, KvError>;
}

/// An in-memory store with a total size budget; what the sandbox uses by default.
pub struct MemoryKv {
    entries: Mutex<BTreeMap<String, Vec<u8>>>,
    budget: usize,
}

impl MemoryKv {
    /// An empty store holding at most `budget` bytes of keys and values.
    pub fn new(budget: usize) -> Arc<Self> {
        Arc::new(Self { entries: Mutex::new(BTreeMap::new()), budget })
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>>, KvError> {
        self.entries.lock().map_err(|_| KvError::Io("store lock poisoned".into()))
    }
}

impl KvStore for MemoryKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.lock()?.get(key).cloned())
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        let mut entries = self.lock()?;
        let used: usize = entries.iter().map(|(k, v)| k.len() + v.len()).sum();
        let replaced = entries.get(key).map_or(0, |v| key.len() + v.len());
        if used - replaced + key.len() + value.len() > self.budget {
            return Err(KvError::TooLarge(format!("store budget of {} bytes would be exceeded", self.budget)));
        }
        entries.insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), KvError> {
        self.lock()?.remove(key);
        Ok(())
    }

    fn keys(&self, prefix: &str, limit: usize) -> Result<Vec<String>, KvError> {
        Ok(self
            .lock()?
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, _)| k.clone())
            .collect())
    }

    fn snapshot(&self) -> Result<Arc<dyn KvStore>, KvError> {
        let copy = Self { entries: Mutex::new(self.lock()?.clone()), budget: self.budget };
        Ok(Arc::new(copy))
    }

    fn usage(&self) -> Result<u64, KvError> {
        Ok(self.lock()?.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum())
    }

    fn budget(&self) -> u64 {
        self.budget as u64
    }
}

/// A round's writes, in key order: `Some(value)` to set, `None` to delete.
pub type KvWrites = Vec<(String, Option<Vec<u8>>)>;

/// Writes buffered over a store until the round that made them commits: reads see the buffer
/// first, the budget counts the store and the buffer together, and [`BufferedKv::take_writes`]
/// hands the net changes (one per key) to whoever commits them.
pub struct BufferedKv {
    base: Arc<dyn KvStore>,
    overlay: Mutex<Overlay>,
}

struct Overlay {
    changes: BTreeMap<String, Option<Vec<u8>>>,
    usage: u64,
}

impl BufferedKv {
    /// A buffer over `base`, empty.
    pub fn over(base: Arc<dyn KvStore>) -> Result<Arc<Self>, KvError> {
        let usage = base.usage()?;
        Ok(Arc::new(Self { base, overlay: Mutex::new(Overlay { changes: BTreeMap::new(), usage }) }))
    }

    /// The buffered changes, leaving the buffer empty.
    pub fn take_writes(&self) -> KvWrites {
        let mut overlay = self.overlay.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        std::mem::take(&mut overlay.changes).into_iter().collect()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Overlay>, KvError> {
        self.overlay.lock().map_err(|_| KvError::Io("store lock poisoned".into()))
    }

    /// Bytes `key` holds now (buffer first), and whether the store underneath has it.
    fn held(&self, overlay: &Overlay, key: &str) -> Result<(u64, bool), KvError> {
        let base = self.base.get(key)?;
        let in_base = base.is_some();
        let size = match overlay.changes.get(key) {
            Some(Some(v)) => (key.len() + v.len()) as u64,
            Some(None) => 0,
            None => base.map_or(0, |v| (key.len() + v.len()) as u64),
        };
        Ok((size, in_base))
    }
}

impl KvStore for BufferedKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        if let Some(change) = self.lock()?.changes.get(key) {
            return Ok(change.clone());
        }
        self.base.get(key)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        let mut overlay = self.lock()?;
        let (replaced, _) = self.held(&overlay, key)?;
        let next = overlay.usage.saturating_sub(replaced) + (key.len() + value.len()) as u64;
        if next > self.base.budget() {
            return Err(KvError::TooLarge(format!("store budget of {} bytes would be exceeded", self.base.budget())));
        }
        overlay.changes.insert(key.to_owned(), Some(value.to_vec()));
        overlay.usage = next;
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), KvError> {
        let mut overlay = self.lock()?;
        let (removed, in_base) = self.held(&overlay, key)?;
        overlay.usage = overlay.usage.saturating_sub(removed);
        // A key the store never had needs no tombstone, so deletes cannot grow the buffer.
        if in_base {
            overlay.changes.insert(key.to_owned(), None);
        } else {
            overlay.changes.remove(key);
        }
        Ok(())
    }

    fn keys(&self, prefix: &str, limit: usize) -> Result<Vec<String>, KvError> {
        let overlay = self.lock()?;
        let in_prefix = || overlay.changes.range(prefix.to_owned()..).take_while(|(k, _)| k.starts_with(prefix));
        let deleted = in_prefix().filter(|(_, v)| v.is_none()).count();
        let mut keys: std::collections::BTreeSet<String> =
            self.base.keys(prefix, limit.saturating_add(deleted))?.into_iter().collect();
        for (k, v) in in_prefix() {
            if v.is_some() {
                keys.insert(k.clone());
            } else {
                keys.remove(k);
            }
        }
        Ok(keys.into_iter().take(limit).collect())
    }

    fn snapshot(&self) -> Result<Arc<dyn KvStore>, KvError> {
        let copy = self.base.snapshot()?;
        for (k, v) in &self.lock()?.changes {
            match v {
                Some(v) => copy.set(k, v)?,
                None => copy.delete(k)?,
            }
        }
        Ok(copy)
    }

    fn usage(&self) -> Result<u64, KvError> {
        Ok(self.lock()?.usage)
    }

    fn budget(&self) -> u64 {
        self.base.budget()
    }
}

/// `kv` and `kv_budget` in `[subnet.capabilities]`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KvConfig {
    /// The key-value store is granted (durable, in the daemon's database); default true.
    #[serde(default = "granted")]
    pub kv: bool,
    /// Bytes of keys and values the store may hold; default 64 MiB.
    #[serde(default = "default_budget")]
    pub kv_budget: Bytes,
}

fn granted() -> bool {
    true
}

fn default_budget() -> Bytes {
    Bytes(DEFAULT_BUDGET)
}

impl Default for KvConfig {
    fn default() -> Self {
        Self { kv: true, kv_budget: default_budget() }
    }
}

/// The capability: the subnet's own store when granted and the host has storage.
pub struct Kv;

impl Capability for Kv {
    const KEYS: &'static [&'static str] = &["kv", "kv_budget"];
    type Config = KvConfig;
    type Subnet = Option<Arc<dyn KvStore>>;
    type Instance = KvState;

    fn check(config: &KvConfig) -> Result<(), CapConfigError> {
        if config.kv && config.kv_budget.0 == 0 {
            return Err(CapConfigError::new("kv_budget", "must be above 0 when kv is granted"));
        }
        Ok(())
    }

    fn subnet(config: &KvConfig, host: &HostResources<'_>) -> Result<Self::Subnet, CapConfigError> {
        match host.kv {
            Some(provider) if config.kv => provider
                .open(host.netuid, config.kv_budget.0)
                .map(Some)
                .map_err(|e| CapConfigError::new("kv", format!("cannot open the store: {e}"))),
            _ => Ok(None),
        }
    }

    fn instance(subnet: &Self::Subnet, _: &CallContext<'_>) -> KvState {
        KvState { store: subnet.clone(), writes: 0, written: 0 }
    }

    fn add_to_linker<T: Send + 'static>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut KvState,
    ) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<KvState>>(linker, get)
    }
}

/// Per-instance state: the subnet's store, if granted.
pub struct KvState {
    pub(crate) store: Option<Arc<dyn KvStore>>,
    writes: u32,
    written: u64,
}

fn to_wit(err: KvError) -> WitKvError {
    match err {
        KvError::TooLarge(m) => WitKvError::TooLarge(m),
        KvError::Io(m) => WitKvError::Io(m),
    }
}

fn check_key(key: &str) -> Result<(), WitKvError> {
    if key.len() > MAX_KEY {
        return Err(WitKvError::TooLarge(format!("key of {} bytes, limit {MAX_KEY}", key.len())));
    }
    Ok(())
}

impl KvState {
    fn store(&self) -> Result<&Arc<dyn KvStore>, WitKvError> {
        self.store.as_ref().ok_or(WitKvError::Denied)
    }

    /// Counts one write of `bytes` against the call's bounds, or refuses it.
    fn count_write(&mut self, bytes: usize) -> Result<(), WitKvError> {
        let written = self.written.saturating_add(bytes as u64);
        if self.writes >= MAX_WRITES_PER_CALL {
            return Err(WitKvError::TooLarge(format!("more than {MAX_WRITES_PER_CALL} writes in one call")));
        }
        if written > MAX_WRITE_BYTES_PER_CALL {
            return Err(WitKvError::TooLarge(format!(
                "more than {MAX_WRITE_BYTES_PER_CALL} bytes written in one call"
            )));
        }
        self.writes += 1;
        self.written = written;
        Ok(())
    }
}

/// Runs a store write, which may wait for the disk (a durable store fsyncs every commit),
/// without stalling the async workers' other tasks: on a multi-threaded runtime the worker
/// hands its tasks to others while it waits.
pub(crate) fn off_worker<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

impl wit::Host for KvState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, WitKvError>> {
        Ok((|| {
            check_key(&key)?;
            self.store()?.get(&key).map_err(to_wit)
        })())
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), WitKvError>> {
        Ok((|| {
            check_key(&key)?;
            if value.len() > MAX_VALUE {
                return Err(WitKvError::TooLarge(format!("value of {} bytes, limit {MAX_VALUE}", value.len())));
            }
            self.store()?;
            self.count_write(key.len() + value.len())?;
            let store = self.store()?;
            off_worker(|| store.set(&key, &value)).map_err(to_wit)
        })())
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), WitKvError>> {
        Ok((|| {
            check_key(&key)?;
            self.store()?;
            self.count_write(key.len())?;
            let store = self.store()?;
            off_worker(|| store.delete(&key)).map_err(to_wit)
        })())
    }

    async fn keys(&mut self, prefix: String, limit: u32) -> wasmtime::Result<Result<Vec<String>, WitKvError>> {
        Ok((|| {
            check_key(&prefix)?;
            self.store()?.keys(&prefix, limit.min(MAX_LIST) as usize).map_err(to_wit)
        })())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_keeps_budget_and_lists_by_prefix() {
        let kv = MemoryKv::new(64);
        kv.set("a/1", b"one").unwrap();
        kv.set("a/2", b"two").unwrap();
        kv.set("b/1", b"three").unwrap();
        assert_eq!(kv.keys("a/", 10).unwrap(), vec!["a/1", "a/2"]);
        assert_eq!(kv.keys("a/", 1).unwrap(), vec!["a/1"]);
        assert_eq!(kv.get("a/2").unwrap().as_deref(), Some(&b"two"[..]));
        assert!(matches!(kv.set("big", &[0; 64]), Err(KvError::TooLarge(_))));
        // Replacing a value counts only the difference against the budget.
        kv.set("a/1", b"uno").unwrap();
        kv.delete("a/1").unwrap();
        assert_eq!(kv.get("a/1").unwrap(), None);
    }

    #[test]
    fn buffer_reads_its_writes_and_leaves_the_store_alone() {
        let base = MemoryKv::new(32);
        base.set("a/1", b"one").unwrap();
        base.set("a/2", b"two").unwrap();
        let buffer = BufferedKv::over(base.clone()).unwrap();
        buffer.set("a/3", b"three").unwrap();
        buffer.delete("a/1").unwrap();
        buffer.delete("never").unwrap();
        assert_eq!(buffer.get("a/3").unwrap().as_deref(), Some(&b"three"[..]));
        assert_eq!(buffer.get("a/1").unwrap(), None);
        assert_eq!(buffer.keys("a/", 10).unwrap(), vec!["a/2", "a/3"]);
        assert_eq!(buffer.usage().unwrap(), 6 + 8);
        assert!(matches!(buffer.set("big", &[0; 20]), Err(KvError::TooLarge(_))), "store and buffer share a budget");
        assert_eq!(base.keys("", 10).unwrap(), vec!["a/1", "a/2"], "nothing reached the store");
        let writes = buffer.take_writes();
        assert_eq!(writes, vec![("a/1".to_owned(), None), ("a/3".to_owned(), Some(b"three".to_vec()))]);
    }
}
