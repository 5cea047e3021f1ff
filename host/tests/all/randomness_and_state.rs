//! Contract 0.1.2's randomness and miner state through real guests:
//! - two validators of one subnet (different hotkeys, different round secrets) see the same
//!   `shared-random` seed and stream in an epoch, the published derivation gives it too (so
//!   miners can compute it), and their private `random` streams differ;
//! - a counting miner granted a durable store (the `StateDb` store `subnetd miner --kv DIR`
//!   opens) answers 1, 2, 3 and continues after the store is closed and reopened; without a
//!   store its `kv` answers `denied`.

use crate::common;

use std::sync::Arc;

use serde_json::Value;
use subnet_host::bindings::types::{MinerRequest, Payload};
use subnet_host::caps::kv::{KvProvider, MemoryKv};
use subnet_host::caps::metagraph::MetagraphView;
use subnet_host::caps::shared_random::{shared_bytes, shared_seed};
use subnet_host::daemon::store::StateDb;
use subnet_host::runtime::{CallEnv, SubnetEnv};
use subnet_host::validator::round_seed;
use subnet_keys::{CryptoType, Keypair};

const PROBE: &str = "host/tests/all/guests/caps-probe";
const COUNTER: &str = "host/tests/all/guests/counting-miner";

/// The `randomness` task of one validator's `generate-tasks` in `epoch`.
async fn randomness(seed: u64, epoch: u64) -> Value {
    let modules = common::modules(PROBE);
    let env = CallEnv::new("v", seed, Arc::new(MetagraphView::default()))
        .with_subnet(|s| s.caps.kv = Some(MemoryKv::new(1 << 20)));
    let ctx = subnet_host::bindings::types::EpochContext { epoch, seed, ..common::context(1) };
    let tasks = modules.validator.generate_tasks(&env, &ctx).await.expect("generate-tasks");
    let task = tasks.iter().find(|t| t.id == "randomness").expect("randomness task");
    serde_json::from_slice(&task.payload.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validators_share_the_epoch_seed_and_keep_private_randomness() {
    let key = |b: u8| Keypair::from_seed(CryptoType::Sr25519, &[b; 32]).account_id();
    let (a, b) = (key(1), key(2));
    let epoch = 12;
    // As `subnetd run` seeds two validators: each its own secret and hotkey, the same block.
    let seed_a = round_seed(0xA11CE, &a, 1, 1000, 0);
    let seed_b = round_seed(0xB0B, &b, 1, 1000, 0);
    let (ra, rb) = (randomness(seed_a, epoch).await, randomness(seed_b, epoch).await);

    assert_eq!(ra["shared_seed"], rb["shared_seed"], "{ra} {rb}");
    assert_eq!(ra["shared_word_3"], rb["shared_word_3"]);
    assert_ne!(ra["private"], rb["private"], "private randomness must differ");
    // Public by design: anyone (a miner) computes it from the netuid and the epoch.
    let expected = shared_seed(1, epoch);
    assert_eq!(ra["shared_seed"].as_u64(), Some(expected));
    let word = u64::from_le_bytes(shared_bytes(expected, 24, 8).try_into().unwrap());
    assert_eq!(ra["shared_word_3"].as_u64(), Some(word));
    // Another epoch, another shared seed.
    let next = randomness(seed_a, epoch + 1).await;
    assert_ne!(next["shared_seed"], ra["shared_seed"]);
}

async fn ask(miner: &subnet_host::runtime::MinerModule, subnet: &Arc<SubnetEnv>) -> Value {
    let env = subnet.call(1, Arc::new(MetagraphView::default()));
    let request = MinerRequest {
        task_id: "t".into(),
        netuid: 1,
        validator: "v".into(),
        payload: Payload { content_type: "application/json".into(), body: b"{}".to_vec() },
        timeout_ms: 5000,
    };
    let answer = miner.handle(&env, &request).await.expect("handle");
    serde_json::from_slice(&answer.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miner_with_a_store_counts_across_restarts_and_without_one_is_denied() {
    let modules = common::modules(COUNTER);
    let miner = modules.miner("counter");
    let dir = tempfile::tempdir().unwrap();
    let with_store = |db: &StateDb| {
        let mut subnet = SubnetEnv::new("miner");
        subnet.caps.kv = Some(db.open(1, 1 << 20).unwrap());
        Arc::new(subnet)
    };
    {
        let db = StateDb::open(dir.path()).unwrap();
        let subnet = with_store(&db);
        for n in 1..=3 {
            assert_eq!(ask(&miner, &subnet).await["count"], n);
        }
    }
    // A restart: the database closed and opened again from the same directory.
    let db = StateDb::open(dir.path()).unwrap();
    assert_eq!(ask(&miner, &with_store(&db)).await["count"], 4);

    let bare = Arc::new(SubnetEnv::new("miner"));
    assert_eq!(ask(&miner, &bare).await["error"], "denied");
}
