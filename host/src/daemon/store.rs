//! The daemon's durable state: one redb database, `<state_dir>/state.redb`.
//!
//! Tables (values are JSON of the types below unless said otherwise):
//! - `validator`: per netuid, a [`ValidatorRecord`]: the running [`ScoreState`] (hotkey-aware:
//!   entries carry the hotkey they belong to), the weights the module last asked for, and how
//!   many rounds were committed, written together after each successful round;
//! - `weights`: per netuid, the [`WeightsRecord`] of the last successful `set_weights`;
//! - `kv`: the modules' key-value stores, keyed `(netuid, key)`, raw bytes;
//! - `modules`: per netuid, the [`AppliedModule`] of the last signed version applied (its
//!   signing time is the high-water mark below which versions are rollbacks);
//! - `kv_usage`: per netuid, the bytes of keys and values its store holds (kept in the same
//!   transaction as every change to `kv`, so budgets are exact across restarts).
//!
//! Invariants and failure modes:
//! - Every write is one transaction committed with redb's immediate durability (fsync before
//!   the call returns): a process killed at any point restarts from the last committed state,
//!   never from half of a transaction.
//! - A validator round's key-value writes are committed with its record in one transaction
//!   ([`StateDb::commit_round`]): a round either lands whole (scores, weights, kv) or not at
//!   all. Writes outside rounds (a miner's calls) are a transaction each, bounded per call by
//!   the capability ([`crate::caps::kv::MAX_WRITES_PER_CALL`]).
//! - redb locks the file: a second daemon on the same state directory fails at open with a
//!   clear error instead of corrupting the first one's state.
//! - A record that does not decode (a newer format) is a [`StoreError`], never a silent reset.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::caps::kv::{KvError, KvProvider, KvStore, KvWrites, MemoryKv};
use crate::validator::state::ScoreState;

const VALIDATOR: TableDefinition<u16, &[u8]> = TableDefinition::new("validator");
const WEIGHTS: TableDefinition<u16, &[u8]> = TableDefinition::new("weights");
const COMMITS: TableDefinition<u16, &[u8]> = TableDefinition::new("commits");
const KV: TableDefinition<(u16, &str), &[u8]> = TableDefinition::new("kv");
const KV_USAGE: TableDefinition<u16, u64> = TableDefinition::new("kv_usage");
const MODULES: TableDefinition<u16, &[u8]> = TableDefinition::new("modules");

/// The database file name inside the state directory.
pub const STATE_FILE: &str = "state.redb";

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[error("state database {path}: {message}")]
pub struct StoreError {
    /// The database file.
    pub path: PathBuf,
    /// What failed.
    pub message: String,
}

/// What a validator keeps per subnet across rounds and restarts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ValidatorRecord {
    /// Rounds committed so far.
    pub rounds: u64,
    /// The running per-uid scores.
    pub scores: ScoreState,
    /// The weights the module asked for in the last round, `(uid, weight)`; what the next
    /// `set_weights` sends (after the SDK's processing).
    pub pending_weights: Vec<(u16, f64)>,
    /// Block of the metagraph the last round ran against.
    pub last_round_block: u64,
    /// Epoch of the last round.
    pub last_round_epoch: u64,
    /// Hash of the module version that ran the last round.
    pub last_round_module: String,
}

pub use crate::weights::{CommitRecord, WeightsRecord};

/// The last signed module version a subnet applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedModule {
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Its signed version label.
    pub version: Option<String>,
    /// Its signer, SS58.
    pub signer: String,
    /// When the owner signed it, Unix seconds.
    pub signed_at: u64,
}

/// The daemon's database. Cheap to clone.
#[derive(Clone)]
pub struct StateDb {
    db: Arc<Database>,
    path: Arc<PathBuf>,
}

impl std::fmt::Debug for StateDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDb").field("path", &self.path).finish()
    }
}

impl StateDb {
    /// Opens (or creates) `<state_dir>/state.redb`.
    pub fn open(state_dir: &Path) -> Result<Self, StoreError> {
        let path = state_dir.join(STATE_FILE);
        let err = |message: String| StoreError { path: path.clone(), message };
        std::fs::create_dir_all(state_dir).map_err(|e| err(e.to_string()))?;
        let db = Database::create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                err("already open by another process (is another `subnetd run` using this state_dir?)".into())
            }
            other => err(other.to_string()),
        })?;
        let this = Self { db: Arc::new(db), path: Arc::new(path) };
        // Create every table once, so readers never meet a missing table.
        this.write(|txn| {
            txn.open_table(VALIDATOR)?;
            txn.open_table(WEIGHTS)?;
            txn.open_table(COMMITS)?;
            txn.open_table(KV)?;
            txn.open_table(KV_USAGE)?;
            txn.open_table(MODULES)?;
            Ok(())
        })?;
        Ok(this)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError { path: self.path.to_path_buf(), message: e.to_string() }
    }

    fn write<R>(&self, f: impl FnOnce(&redb::WriteTransaction) -> Result<R, redb::Error>) -> Result<R, StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        let r = f(&txn).map_err(|e| self.err(e))?;
        txn.commit().map_err(|e| self.err(e))?;
        Ok(r)
    }

    fn read_json<T: for<'de> Deserialize<'de>>(
        &self,
        table: TableDefinition<u16, &[u8]>,
        netuid: u16,
    ) -> Result<Option<T>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = txn.open_table(table).map_err(|e| self.err(e))?;
        let Some(value) = table.get(netuid).map_err(|e| self.err(e))? else {
            return Ok(None);
        };
        serde_json::from_slice(value.value())
            .map(Some)
            .map_err(|e| self.err(format!("record of netuid {netuid} does not decode: {e}")))
    }

    fn write_json<T: Serialize>(
        &self,
        table: TableDefinition<u16, &[u8]>,
        netuid: u16,
        value: &T,
    ) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|e| self.err(e))?;
        self.write(|txn| {
            txn.open_table(table)?.insert(netuid, bytes.as_slice())?;
            Ok(())
        })
    }

    /// The validator record of a subnet (a default one if none was committed).
    pub fn validator(&self, netuid: u16) -> Result<ValidatorRecord, StoreError> {
        Ok(self.read_json(VALIDATOR, netuid)?.unwrap_or_default())
    }

    /// Commits a subnet's validator record (durable when this returns).
    pub fn put_validator(&self, netuid: u16, record: &ValidatorRecord) -> Result<(), StoreError> {
        self.write_json(VALIDATOR, netuid, record)
    }

    /// Commits a round: its validator record and its key-value writes, in one transaction.
    /// Writes that would take the subnet's store over `budget` fail the whole commit (nothing
    /// changes), as would any storage error.
    pub fn commit_round(
        &self,
        netuid: u16,
        record: &ValidatorRecord,
        writes: &KvWrites,
        budget: u64,
    ) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(record).map_err(|e| self.err(e))?;
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut table = txn.open_table(KV).map_err(|e| self.err(e))?;
            let mut usage = txn.open_table(KV_USAGE).map_err(|e| self.err(e))?;
            let mut used = usage.get(netuid).map_err(|e| self.err(e))?.map_or(0, |v| v.value());
            for (key, value) in writes {
                let old = match value {
                    Some(v) => table.insert((netuid, key.as_str()), v.as_slice()),
                    None => table.remove((netuid, key.as_str())),
                }
                .map_err(|e| self.err(e))?
                .map_or(0, |v| (key.len() + v.value().len()) as u64);
                used = used.saturating_sub(old) + value.as_ref().map_or(0, |v| (key.len() + v.len()) as u64);
            }
            if used > budget {
                // Dropping the transaction aborts it.
                return Err(self.err(format!("the round's key-value writes would take netuid {netuid}'s store to {used} bytes, over its budget of {budget}")));
            }
            usage.insert(netuid, used).map_err(|e| self.err(e))?;
            txn.open_table(VALIDATOR)
                .map_err(|e| self.err(e))?
                .insert(netuid, bytes.as_slice())
                .map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))
    }

    /// The last weights set for a subnet.
    pub fn weights(&self, netuid: u16) -> Result<Option<WeightsRecord>, StoreError> {
        self.read_json(WEIGHTS, netuid)
    }

    /// Commits the last weights set for a subnet.
    pub fn put_weights(&self, netuid: u16, record: &WeightsRecord) -> Result<(), StoreError> {
        self.write_json(WEIGHTS, netuid, record)
    }

    /// The pending commit-reveal commit of a subnet.
    pub fn commit(&self, netuid: u16) -> Result<Option<CommitRecord>, StoreError> {
        self.read_json(COMMITS, netuid)
    }

    /// Records (Some) or clears (None) a subnet's pending commit.
    pub fn put_commit(&self, netuid: u16, record: Option<&CommitRecord>) -> Result<(), StoreError> {
        match record {
            Some(r) => self.write_json(COMMITS, netuid, r),
            None => self.write(|txn| {
                txn.open_table(COMMITS)?.remove(netuid)?;
                Ok(())
            }),
        }
    }

    /// The last signed module version subnet `netuid` applied.
    pub fn applied_module(&self, netuid: u16) -> Result<Option<AppliedModule>, StoreError> {
        self.read_json(MODULES, netuid)
    }

    /// Records the signed module version subnet `netuid` applied.
    pub fn put_applied_module(&self, netuid: u16, record: &AppliedModule) -> Result<(), StoreError> {
        self.write_json(MODULES, netuid, record)
    }

    /// The state directory this database lives in.
    pub fn state_dir(&self) -> &Path {
        self.path.parent().unwrap_or_else(|| Path::new("."))
    }

    /// The key-value store of a subnet, holding at most `budget` bytes of keys and values.
    pub fn kv(&self, netuid: u16, budget: u64) -> Arc<RedbKv> {
        Arc::new(RedbKv { db: self.clone(), netuid, budget })
    }
}

impl KvProvider for StateDb {
    fn open(&self, netuid: u16, budget: u64) -> Result<Arc<dyn KvStore>, KvError> {
        Ok(self.kv(netuid, budget))
    }
}

/// A subnet's key-value store in the daemon's database (the `kv` capability's durable
/// backend). Every `set` and `delete` is committed (fsync) before it returns. Key and value
/// size limits are the capability's ([`crate::caps::kv`]); the budget is per subnet.
pub struct RedbKv {
    db: StateDb,
    netuid: u16,
    budget: u64,
}

fn io(e: impl std::fmt::Display) -> KvError {
    KvError::Io(e.to_string())
}

impl RedbKv {
    /// A throwaway in-memory copy of the whole store, with the same budget: what a new module
    /// version's smoke call runs against, so it sees real state but cannot change it.
    pub fn memory_copy(&self) -> Result<Arc<MemoryKv>, KvError> {
        let copy = MemoryKv::new(usize::try_from(self.budget).unwrap_or(usize::MAX));
        let txn = self.db.db.begin_read().map_err(io)?;
        let table = txn.open_table(KV).map_err(io)?;
        for entry in table.range((self.netuid, "")..).map_err(io)? {
            let (k, v) = entry.map_err(io)?;
            let (netuid, key) = k.value();
            if netuid != self.netuid {
                break;
            }
            copy.set(key, v.value())?;
        }
        Ok(copy)
    }
}

impl KvStore for RedbKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let txn = self.db.db.begin_read().map_err(io)?;
        let table = txn.open_table(KV).map_err(io)?;
        Ok(table.get((self.netuid, key)).map_err(io)?.map(|v| v.value().to_vec()))
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        let txn = self.db.db.begin_write().map_err(io)?;
        {
            let mut table = txn.open_table(KV).map_err(io)?;
            let mut usage = txn.open_table(KV_USAGE).map_err(io)?;
            let used = usage.get(self.netuid).map_err(io)?.map_or(0, |v| v.value());
            let replaced =
                table.get((self.netuid, key)).map_err(io)?.map_or(0, |v| (key.len() + v.value().len()) as u64);
            let next = used.saturating_sub(replaced) + (key.len() + value.len()) as u64;
            if next > self.budget {
                // Dropping the transaction aborts it: nothing changes.
                return Err(KvError::TooLarge(format!("store budget of {} bytes would be exceeded", self.budget)));
            }
            table.insert((self.netuid, key), value).map_err(io)?;
            usage.insert(self.netuid, next).map_err(io)?;
        }
        txn.commit().map_err(io)
    }

    fn delete(&self, key: &str) -> Result<(), KvError> {
        let txn = self.db.db.begin_write().map_err(io)?;
        {
            let mut table = txn.open_table(KV).map_err(io)?;
            let removed = table.remove((self.netuid, key)).map_err(io)?.map(|v| (key.len() + v.value().len()) as u64);
            if let Some(removed) = removed {
                let mut usage = txn.open_table(KV_USAGE).map_err(io)?;
                let used = usage.get(self.netuid).map_err(io)?.map_or(0, |v| v.value());
                usage.insert(self.netuid, used.saturating_sub(removed)).map_err(io)?;
            }
        }
        txn.commit().map_err(io)
    }

    fn keys(&self, prefix: &str, limit: usize) -> Result<Vec<String>, KvError> {
        let txn = self.db.db.begin_read().map_err(io)?;
        let table = txn.open_table(KV).map_err(io)?;
        let mut keys = Vec::new();
        for entry in table.range((self.netuid, prefix)..).map_err(io)? {
            if keys.len() >= limit {
                break;
            }
            let (k, _) = entry.map_err(io)?;
            let (netuid, key) = k.value();
            if netuid != self.netuid || !key.starts_with(prefix) {
                break;
            }
            keys.push(key.to_owned());
        }
        Ok(keys)
    }

    fn snapshot(&self) -> Result<Arc<dyn KvStore>, KvError> {
        Ok(self.memory_copy()?)
    }

    fn usage(&self) -> Result<u64, KvError> {
        let txn = self.db.db.begin_read().map_err(io)?;
        let usage = txn.open_table(KV_USAGE).map_err(io)?;
        Ok(usage.get(self.netuid).map_err(io)?.map_or(0, |v| v.value()))
    }

    fn budget(&self) -> u64 {
        self.budget
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_is_per_subnet_budgeted_and_durable() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = StateDb::open(dir.path()).unwrap();
            let a = db.kv(1, 32);
            let b = db.kv(2, 1024);
            a.set("k/1", b"one").unwrap();
            a.set("k/2", b"two").unwrap();
            a.set("z", b"zz").unwrap();
            b.set("k/1", b"other subnet").unwrap();
            assert_eq!(a.keys("k/", 10).unwrap(), vec!["k/1", "k/2"]);
            assert_eq!(a.keys("k/", 1).unwrap(), vec!["k/1"]);
            assert_eq!(b.keys("", 10).unwrap(), vec!["k/1"]);
            assert_eq!(a.get("k/1").unwrap().as_deref(), Some(&b"one"[..]));
            assert_eq!(a.usage().unwrap(), 6 + 6 + 3);
            assert!(matches!(a.set("big", &[0; 32]), Err(KvError::TooLarge(_))));
            assert_eq!(a.usage().unwrap(), 15, "a refused set changes nothing");
            a.set("k/1", b"uno!").unwrap();
            assert_eq!(a.usage().unwrap(), 16);
            a.delete("k/2").unwrap();
            a.delete("missing").unwrap();
            assert_eq!(a.usage().unwrap(), 10);
            let snap = a.memory_copy().unwrap();
            assert_eq!(snap.keys("", 10).unwrap(), vec!["k/1", "z"]);
            snap.set("z", b"changed").unwrap();
            assert_eq!(a.get("z").unwrap().as_deref(), Some(&b"zz"[..]), "the snapshot is a copy");
            assert!(StateDb::open(dir.path()).is_err(), "a second open of the same state is refused");
        }
        let db = StateDb::open(dir.path()).unwrap();
        let a = db.kv(1, 32);
        assert_eq!(a.get("k/1").unwrap().as_deref(), Some(&b"uno!"[..]));
        assert_eq!(a.usage().unwrap(), 10);
    }

    #[test]
    fn records_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(dir.path()).unwrap();
        assert_eq!(db.validator(3).unwrap(), ValidatorRecord::default());
        let record = ValidatorRecord { rounds: 7, pending_weights: vec![(1, 0.5)], ..Default::default() };
        db.put_validator(3, &record).unwrap();
        assert_eq!(db.validator(3).unwrap(), record);
        let w = WeightsRecord { block: 9, uids: vec![1], weights: vec![65535], at_unix_ms: 1, module: "h".into() };
        db.put_weights(3, &w).unwrap();
        assert_eq!(db.weights(3).unwrap(), Some(w));
        assert_eq!(db.weights(4).unwrap(), None);
    }

    #[test]
    fn a_round_commits_its_writes_with_its_record_or_neither() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(dir.path()).unwrap();
        let kv = db.kv(1, 64);
        kv.set("keep", b"1").unwrap();
        let record = ValidatorRecord { rounds: 1, ..Default::default() };
        let writes = vec![("keep".to_owned(), None), ("new".to_owned(), Some(b"value".to_vec()))];
        db.commit_round(1, &record, &writes, 64).unwrap();
        assert_eq!(db.validator(1).unwrap().rounds, 1);
        assert_eq!(kv.get("keep").unwrap(), None);
        assert_eq!(kv.usage().unwrap(), 8);
        let over = vec![("big".to_owned(), Some(vec![0; 100]))];
        let next = ValidatorRecord { rounds: 2, ..Default::default() };
        assert!(db.commit_round(1, &next, &over, 64).is_err());
        assert_eq!(db.validator(1).unwrap().rounds, 1, "a refused commit keeps the old record");
        assert_eq!(kv.get("big").unwrap(), None);
        assert_eq!(kv.usage().unwrap(), 8);
    }
}
