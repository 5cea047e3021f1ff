//! Durable storage of the local chain in a redb database.
//!
//! Layout: table `meta` holds the global record (block height, hotkey owners, settings) under
//! the key `"global"`; table `subnets` holds one record per netuid (neurons, weights, bonds,
//! commits, hyperparameters); table `pending` holds each subnet's pending emission, which
//! changes every block and is therefore kept apart from the large subnet record.
//! Values are JSON documents of the in-memory types, so the format follows them.
//!
//! Invariant: every write goes through one [`Store::write`] transaction that commits with
//! redb's default (immediate, fsync) durability, so a killed process loses nothing committed
//! and never sees half a block.
//!
//! Failure modes: any redb or JSON failure becomes [`ChainError::Storage`]; a database
//! written by an incompatible version fails to decode at open instead of loading wrong state.

use std::collections::BTreeMap;
use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{ChainError, NetUid};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const SUBNETS: TableDefinition<u16, &[u8]> = TableDefinition::new("subnets");
const PENDING: TableDefinition<u16, &[u8]> = TableDefinition::new("pending");
const GLOBAL_KEY: &str = "global";

fn storage<E: std::fmt::Display>(e: E) -> ChainError {
    ChainError::Storage(e.to_string())
}

/// What [`Store::load`] returns: the global record and the per-subnet records.
pub(crate) struct Loaded<G, S, P> {
    pub global: Option<G>,
    pub subnets: BTreeMap<NetUid, S>,
    pub pending: BTreeMap<NetUid, P>,
}

/// A batch of records to write in one transaction.
pub(crate) struct Batch<'a, G, S, P> {
    pub global: &'a G,
    pub subnets: Vec<(NetUid, &'a S)>,
    pub pending: Vec<(NetUid, &'a P)>,
    pub removed_subnets: Vec<NetUid>,
}

/// The open database.
pub(crate) struct Store {
    db: Database,
}

impl Store {
    /// Opens or creates the database file and makes sure the tables exist.
    pub fn open(path: &Path) -> Result<Self, ChainError> {
        let db = Database::create(path).map_err(storage)?;
        let txn = db.begin_write().map_err(storage)?;
        {
            txn.open_table(META).map_err(storage)?;
            txn.open_table(SUBNETS).map_err(storage)?;
            txn.open_table(PENDING).map_err(storage)?;
        }
        txn.commit().map_err(storage)?;
        Ok(Self { db })
    }

    /// Reads everything.
    pub fn load<G: DeserializeOwned, S: DeserializeOwned, P: DeserializeOwned>(
        &self,
    ) -> Result<Loaded<G, S, P>, ChainError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let meta = txn.open_table(META).map_err(storage)?;
        let global = match meta.get(GLOBAL_KEY).map_err(storage)? {
            Some(v) => Some(serde_json::from_slice(v.value()).map_err(storage)?),
            None => None,
        };
        let mut subnets = BTreeMap::new();
        for row in txn.open_table(SUBNETS).map_err(storage)?.iter().map_err(storage)? {
            let (k, v) = row.map_err(storage)?;
            subnets.insert(k.value(), serde_json::from_slice(v.value()).map_err(storage)?);
        }
        let mut pending = BTreeMap::new();
        for row in txn.open_table(PENDING).map_err(storage)?.iter().map_err(storage)? {
            let (k, v) = row.map_err(storage)?;
            pending.insert(k.value(), serde_json::from_slice(v.value()).map_err(storage)?);
        }
        Ok(Loaded { global, subnets, pending })
    }

    /// Writes a batch atomically and durably.
    pub fn write<G: Serialize, S: Serialize, P: Serialize>(
        &self,
        batch: Batch<'_, G, S, P>,
    ) -> Result<(), ChainError> {
        let txn = self.db.begin_write().map_err(storage)?;
        {
            let mut meta = txn.open_table(META).map_err(storage)?;
            let g = serde_json::to_vec(batch.global).map_err(storage)?;
            meta.insert(GLOBAL_KEY, g.as_slice()).map_err(storage)?;
            let mut subnets = txn.open_table(SUBNETS).map_err(storage)?;
            for (netuid, s) in batch.subnets {
                let v = serde_json::to_vec(s).map_err(storage)?;
                subnets.insert(netuid, v.as_slice()).map_err(storage)?;
            }
            let mut pending = txn.open_table(PENDING).map_err(storage)?;
            for (netuid, p) in batch.pending {
                let v = serde_json::to_vec(p).map_err(storage)?;
                pending.insert(netuid, v.as_slice()).map_err(storage)?;
            }
            for netuid in batch.removed_subnets {
                subnets.remove(netuid).map_err(storage)?;
                pending.remove(netuid).map_err(storage)?;
            }
        }
        txn.commit().map_err(storage)
    }
}
