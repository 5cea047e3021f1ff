//! Durable storage of the local chain in a redb database.
//!
//! Layout (values are JSON documents of the in-memory types, so the format follows them):
//! * table `meta`: the global record (format, block height, settings) under `"global"` and the
//!   hotkey → coldkey map under `"owners"`, drand pulses given to the chain under `"pulses"`;
//! * table `subnets`: one record per netuid with everything but the neurons (hyperparameters,
//!   stake, v2 and timelocked commits);
//! * table `neurons`: one record per neuron, keyed `netuid << 16 | uid`, so that an extrinsic
//!   touching one neuron (`set_weights`) rewrites one small record, not the subnet;
//! * table `clocks`: each subnet's pending emission and epoch schedule, which change every
//!   block and are therefore kept apart from the larger records.
//!
//! Invariant: every write goes through one [`Store::write`] transaction that commits with
//! redb's default (immediate, fsync) durability, so a killed process loses nothing committed
//! and never sees half a transaction.
//!
//! Formats: the global record names the format. Format 2 (before mechanisms and timelocked
//! commits) reads as format 3, new fields taking their defaults, and is marked 3 on open;
//! any other format is refused with a message naming the formats this version reads.
//!
//! Failure modes: any redb or JSON failure becomes [`ChainError::Storage`]; a database
//! written by an incompatible version fails to decode at open instead of loading wrong state.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::LocalChainConfig;
use super::state::{Clock, FORMAT, Global, Neuron, OLDEST_FORMAT, Owners, Pulses, State, Subnet, SubnetMeta};
use crate::{ChainError, NetUid, Uid};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const SUBNETS: TableDefinition<u16, &[u8]> = TableDefinition::new("subnets");
const NEURONS: TableDefinition<u32, &[u8]> = TableDefinition::new("neurons");
const CLOCKS: TableDefinition<u16, &[u8]> = TableDefinition::new("clocks");
const GLOBAL_KEY: &str = "global";
const OWNERS_KEY: &str = "owners";
const PULSES_KEY: &str = "pulses";

fn storage<E: std::fmt::Display>(e: E) -> ChainError {
    ChainError::Storage(e.to_string())
}

fn neuron_key(netuid: NetUid, uid: Uid) -> u32 {
    (u32::from(netuid) << 16) | u32::from(uid)
}

/// What [`Store::load`] returns.
pub(super) struct Loaded<G, O, S, N, C> {
    pub global: Option<G>,
    pub owners: Option<O>,
    pub subnets: BTreeMap<NetUid, S>,
    /// Neurons per subnet, by uid.
    pub neurons: BTreeMap<NetUid, BTreeMap<Uid, N>>,
    pub clocks: BTreeMap<NetUid, C>,
    pub pulses: Option<Pulses>,
}

/// A set of records to write in one transaction; `None` / empty parts are left as stored.
pub(super) struct Batch<'a, G, O, S, N, C> {
    pub global: Option<&'a G>,
    pub owners: Option<&'a O>,
    pub subnets: Vec<(NetUid, &'a S)>,
    pub neurons: Vec<(NetUid, Uid, &'a N)>,
    pub removed_neurons: Vec<(NetUid, Uid)>,
    pub clocks: Vec<(NetUid, &'a C)>,
    pub removed_subnets: Vec<NetUid>,
    pub pulses: Option<&'a Pulses>,
}

impl<G, O, S, N, C> Batch<'_, G, O, S, N, C> {
    pub fn empty() -> Self {
        Self {
            global: None,
            owners: None,
            subnets: Vec::new(),
            neurons: Vec::new(),
            removed_neurons: Vec::new(),
            clocks: Vec::new(),
            removed_subnets: Vec::new(),
            pulses: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.global.is_none()
            && self.owners.is_none()
            && self.subnets.is_empty()
            && self.neurons.is_empty()
            && self.removed_neurons.is_empty()
            && self.clocks.is_empty()
            && self.removed_subnets.is_empty()
            && self.pulses.is_none()
    }
}

/// The open database.
pub(super) struct Store {
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
            txn.open_table(NEURONS).map_err(storage)?;
            txn.open_table(CLOCKS).map_err(storage)?;
        }
        txn.commit().map_err(storage)?;
        Ok(Self { db })
    }

    /// Reads everything.
    pub fn load<G, O, S, N, C>(&self) -> Result<Loaded<G, O, S, N, C>, ChainError>
    where
        G: DeserializeOwned,
        O: DeserializeOwned,
        S: DeserializeOwned,
        N: DeserializeOwned,
        C: DeserializeOwned,
    {
        let txn = self.db.begin_read().map_err(storage)?;
        let meta = txn.open_table(META).map_err(storage)?;
        let global = match meta.get(GLOBAL_KEY).map_err(storage)? {
            Some(v) => Some(serde_json::from_slice(v.value()).map_err(storage)?),
            None => None,
        };
        let owners = match meta.get(OWNERS_KEY).map_err(storage)? {
            Some(v) => Some(serde_json::from_slice(v.value()).map_err(storage)?),
            None => None,
        };
        let pulses = match meta.get(PULSES_KEY).map_err(storage)? {
            Some(v) => Some(serde_json::from_slice(v.value()).map_err(storage)?),
            None => None,
        };
        let mut subnets = BTreeMap::new();
        for row in txn.open_table(SUBNETS).map_err(storage)?.iter().map_err(storage)? {
            let (k, v) = row.map_err(storage)?;
            subnets.insert(k.value(), serde_json::from_slice(v.value()).map_err(storage)?);
        }
        let mut neurons: BTreeMap<NetUid, BTreeMap<Uid, N>> = BTreeMap::new();
        for row in txn.open_table(NEURONS).map_err(storage)?.iter().map_err(storage)? {
            let (k, v) = row.map_err(storage)?;
            let key = k.value();
            let (netuid, uid) = ((key >> 16) as NetUid, (key & 0xffff) as Uid);
            neurons.entry(netuid).or_default().insert(uid, serde_json::from_slice(v.value()).map_err(storage)?);
        }
        let mut clocks = BTreeMap::new();
        for row in txn.open_table(CLOCKS).map_err(storage)?.iter().map_err(storage)? {
            let (k, v) = row.map_err(storage)?;
            clocks.insert(k.value(), serde_json::from_slice(v.value()).map_err(storage)?);
        }
        Ok(Loaded { global, owners, subnets, neurons, clocks, pulses })
    }

    /// Writes a batch atomically and durably.
    pub fn write<G, O, S, N, C>(&self, batch: Batch<'_, G, O, S, N, C>) -> Result<(), ChainError>
    where
        G: Serialize,
        O: Serialize,
        S: Serialize,
        N: Serialize,
        C: Serialize,
    {
        let txn = self.db.begin_write().map_err(storage)?;
        {
            let mut meta = txn.open_table(META).map_err(storage)?;
            if let Some(g) = batch.global {
                let v = serde_json::to_vec(g).map_err(storage)?;
                meta.insert(GLOBAL_KEY, v.as_slice()).map_err(storage)?;
            }
            if let Some(o) = batch.owners {
                let v = serde_json::to_vec(o).map_err(storage)?;
                meta.insert(OWNERS_KEY, v.as_slice()).map_err(storage)?;
            }
            if let Some(p) = batch.pulses {
                let v = serde_json::to_vec(p).map_err(storage)?;
                meta.insert(PULSES_KEY, v.as_slice()).map_err(storage)?;
            }
            let mut subnets = txn.open_table(SUBNETS).map_err(storage)?;
            for (netuid, s) in batch.subnets {
                let v = serde_json::to_vec(s).map_err(storage)?;
                subnets.insert(netuid, v.as_slice()).map_err(storage)?;
            }
            let mut neurons = txn.open_table(NEURONS).map_err(storage)?;
            for (netuid, uid, n) in batch.neurons {
                let v = serde_json::to_vec(n).map_err(storage)?;
                neurons.insert(neuron_key(netuid, uid), v.as_slice()).map_err(storage)?;
            }
            for (netuid, uid) in batch.removed_neurons {
                neurons.remove(neuron_key(netuid, uid)).map_err(storage)?;
            }
            let mut clocks = txn.open_table(CLOCKS).map_err(storage)?;
            for (netuid, c) in batch.clocks {
                let v = serde_json::to_vec(c).map_err(storage)?;
                clocks.insert(netuid, v.as_slice()).map_err(storage)?;
            }
            for netuid in batch.removed_subnets {
                subnets.remove(netuid).map_err(storage)?;
                clocks.remove(netuid).map_err(storage)?;
                let lo = neuron_key(netuid, 0);
                let hi = neuron_key(netuid, u16::MAX);
                neurons.retain_in(lo..=hi, |_, _| false).map_err(storage)?;
            }
        }
        txn.commit().map_err(storage)
    }
}
pub(super) type StoreBatch<'a> = Batch<'a, Global, Owners, SubnetMeta, Neuron, Clock>;

/// The records of `new` that differ from `old`.
pub(super) fn diff<'a>(old: &State, new: &'a State) -> StoreBatch<'a> {
    let mut b = StoreBatch::empty();
    if old.global != new.global {
        b.global = Some(&new.global);
    }
    if !Arc::ptr_eq(&old.owners, &new.owners) && old.owners != new.owners {
        b.owners = Some(&new.owners);
    }
    if !Arc::ptr_eq(&old.pulses, &new.pulses) && old.pulses != new.pulses {
        b.pulses = Some(&new.pulses);
    }
    for (&netuid, sn) in &new.subnets {
        let prev = old.subnets.get(&netuid);
        if prev.is_some_and(|p| Arc::ptr_eq(p, sn)) {
            continue;
        }
        if prev.is_none_or(|p| p.meta != sn.meta) {
            b.subnets.push((netuid, &sn.meta));
        }
        for (uid, n) in sn.neurons.iter().enumerate() {
            if prev.and_then(|p| p.neurons.get(uid)) != Some(n) {
                b.neurons.push((netuid, uid as Uid, n));
            }
        }
        if let Some(p) = prev {
            b.removed_neurons.extend((sn.n()..p.n()).map(|uid| (netuid, uid as Uid)));
        }
    }
    b.removed_subnets = old.subnets.keys().filter(|k| !new.subnets.contains_key(k)).copied().collect();
    for (&netuid, c) in &new.clocks {
        if old.clocks.get(&netuid) != Some(c) {
            b.clocks.push((netuid, c));
        }
    }
    b
}

/// The state stored in `store`, or a fresh chain with `config` written to it when the database
/// is new. A database of another format or with a gap in a subnet's uids is refused.
pub(super) fn load_or_create(store: &Store, config: LocalChainConfig) -> Result<State, ChainError> {
    let mut loaded = store.load::<Global, Owners, SubnetMeta, Neuron, Clock>()?;
    let Some(mut global) = loaded.global else {
        let state = State::fresh(config);
        let mut b = StoreBatch::empty();
        b.global = Some(&state.global);
        b.owners = Some(&state.owners);
        store.write(b)?;
        return Ok(state);
    };
    if !(OLDEST_FORMAT..=FORMAT).contains(&global.format) {
        return Err(ChainError::Storage(format!(
            "the chain database is in format {}, which this subnetd cannot read (it reads formats \
             {OLDEST_FORMAT} to {FORMAT}); open it with the version that wrote it or start a new state directory",
            global.format
        )));
    }
    let mut subnets = BTreeMap::new();
    for (netuid, meta) in loaded.subnets {
        let rows = loaded.neurons.remove(&netuid).unwrap_or_default();
        // Uids are dense: a gap means a damaged database.
        if rows.keys().enumerate().any(|(i, &uid)| usize::from(uid) != i) {
            return Err(ChainError::Storage(format!("subnet {netuid}: uids not dense")));
        }
        let neurons = rows.into_values().collect();
        subnets.insert(netuid, Arc::new(Subnet { meta, neurons }));
    }
    if global.format < FORMAT {
        // Older records read as this format (new fields at their defaults): mark it upgraded,
        // so an older subnetd refuses it from now on instead of dropping what it cannot read.
        tracing::info!(from = global.format, to = FORMAT, "upgrading the local chain database");
        global.format = FORMAT;
        let mut b = StoreBatch::empty();
        b.global = Some(&global);
        store.write(b)?;
    }
    Ok(State {
        global,
        owners: Arc::new(loaded.owners.unwrap_or_default()),
        subnets,
        clocks: loaded.clocks,
        pulses: Arc::new(loaded.pulses.unwrap_or_default()),
    })
}
