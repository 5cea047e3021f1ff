//! Stored local chains of an older format: a format-2 database (before mechanisms and
//! timelocked commits), written by subnetd at commit 80a5c11 and kept as its table rows in
//! `fixtures/chain_format2.tsv`, opens with every record intact, new fields at their defaults,
//! and is marked format 3; a database of a format this version does not know is refused.

use redb::{Database, ReadableDatabase, TableDefinition};
use subnet_chain::local::{BeaconSource, LocalChain, LocalChainConfig};
use subnet_chain::{AccountId, ChainError};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const SUBNETS: TableDefinition<u16, &[u8]> = TableDefinition::new("subnets");
const NEURONS: TableDefinition<u32, &[u8]> = TableDefinition::new("neurons");
const CLOCKS: TableDefinition<u16, &[u8]> = TableDefinition::new("clocks");

/// Writes the fixture's rows into `dir/chain.redb`, with `edit` applied to each value.
fn write_fixture(dir: &std::path::Path, edit: impl Fn(&str, &str) -> String) {
    let db = Database::create(dir.join("chain.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let (mut meta, mut subnets) = (txn.open_table(META).unwrap(), txn.open_table(SUBNETS).unwrap());
        let (mut neurons, mut clocks) = (txn.open_table(NEURONS).unwrap(), txn.open_table(CLOCKS).unwrap());
        for line in include_str!("fixtures/chain_format2.tsv").lines() {
            let mut parts = line.splitn(3, '\t');
            let (table, key, value) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
            let value = edit(key, value);
            match table {
                "meta" => meta.insert(key, value.as_bytes()).map(drop),
                "subnets" => subnets.insert(key.parse::<u16>().unwrap(), value.as_bytes()).map(drop),
                "neurons" => neurons.insert(key.parse::<u32>().unwrap(), value.as_bytes()).map(drop),
                "clocks" => clocks.insert(key.parse::<u16>().unwrap(), value.as_bytes()).map(drop),
                other => panic!("unknown table {other}"),
            }
            .unwrap();
        }
    }
    txn.commit().unwrap();
}

fn stored_format(dir: &std::path::Path) -> u64 {
    let db = Database::open(dir.join("chain.redb")).unwrap();
    let txn = db.begin_read().unwrap();
    let meta = txn.open_table(META).unwrap();
    let global: serde_json::Value = serde_json::from_slice(meta.get("global").unwrap().unwrap().value()).unwrap();
    global["format"].as_u64().unwrap()
}

#[test]
fn a_format_2_database_opens_upgraded_with_everything_kept() {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path(), |_, v| v.to_owned());
    let chain = LocalChain::open(dir.path()).expect("format 2 opens");
    assert_eq!(chain.block(), 12);
    let config = chain.config();
    assert_eq!(config.beacon, BeaconSource::default());
    assert_eq!((config.genesis_unix_ms, config.block_time_ms), (1_767_225_600_000, 12_000));
    assert_eq!(LocalChainConfig { beacon: config.beacon.clone(), ..LocalChainConfig::default() }, config);
    let h = chain.hyperparams_now(1).unwrap();
    assert_eq!((h.tempo, h.commit_reveal_enabled), (5, true), "stored values kept");
    assert_eq!((h.mechanism_count, h.mechanism_emission_split, h.commit_reveal_version), (1, None, 4));
    let mg = chain.metagraph_now(1).unwrap();
    assert_eq!(mg.neurons.len(), 3);
    assert_eq!((mg.neurons[1].last_update, mg.neurons[2].incentive), (5, 65535));
    assert_eq!(chain.weights(1, 1), vec![(2, 65535)]);
    assert_eq!(chain.bonds(1, 1), vec![(2, 6553)]);
    assert_eq!(chain.pending_commits(1, &AccountId([2; 32])), 1);
    assert_eq!(chain.epoch_index(1).unwrap(), 2);
    // It runs on, is marked format 3, and reopens with the same state.
    chain.advance_to_next_epoch(1).unwrap();
    let snapshot = chain.snapshot();
    drop(chain);
    assert_eq!(stored_format(dir.path()), 3, "marked upgraded on open");
    let again = LocalChain::open(dir.path()).unwrap();
    assert!(again.same_state_as(&snapshot));
}

#[test]
fn an_unknown_format_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(
        dir.path(),
        |k, v| if k == "global" { v.replace("\"format\":2", "\"format\":9") } else { v.to_owned() },
    );
    let Err(ChainError::Storage(message)) = LocalChain::open(dir.path()) else { panic!("format 9 must be refused") };
    assert!(message.contains("format 9") && message.contains("2 to 3"), "{message}");
    assert_eq!(stored_format(dir.path()), 9, "a refused database is left as it was");
}
