//! The daemon on the real subtensor runtime (spec 218 under Chopsticks, `chain = "ws://..."`):
//! it reads the metagraph, queries miners at the axons the chain lists, and sets weights
//! respecting the chain's rate limit. Then the node is killed mid-run: the daemon keeps
//! running, logs failed rounds, reconnects when the node is back (resumed from its database)
//! and sets weights again, and every weights submission it counts is exactly one `WeightsSet`
//! on chain, never two in one rate-limit window. Skipped, saying so, where the chain spec or
//! Chopsticks is absent.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::support::*;
use subnet_chain::{AxonInfo, Chain, ChainEvent};
use subnet_host::daemon::client::metric_value;
use subnet_host::daemon::{Daemon, DaemonConfig, DaemonOptions};
use subnet_host::net::{MinerServerConfig, spawn_miner_server};
use subnet_subtensor::devnet::{Devnet, DevnetOptions, accounts, setup_subnet};

use subnet_subtensor::{CallArg, Endpoint, SubtensorChain, SubtensorOptions};

const RATE_LIMIT: u64 = 4;

async fn wait_until<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A devnet (with a database, so it can be killed and resumed) with a subnet of //Alice (the
/// validator, uid 0) and two honest miners (//Bob, //Charlie) served on loopback at their chain
/// axons, a daemon validating it with `chain = "ws://..."`, and a task producing blocks.
struct World {
    node: Devnet,
    admin: Arc<SubtensorChain>,
    netuid: u16,
    setup_block: u64,
    daemon: Daemon,
    servers: Vec<subnet_host::net::MinerServerHandle>,
    producer: tokio::task::JoinHandle<()>,
    _fx: Fixture,
    _db: tempfile::TempDir,
}

async fn world(commit_reveal: bool) -> Option<World> {
    let parts = match Devnet::locate() {
        Ok(p) => p,
        Err(e) => {
            let test = std::thread::current().name().unwrap_or("daemon_subtensor").to_owned();
            subnet_subtensor::devnet::report_skip(&test, &e);
            return None;
        }
    };
    let db = tempfile::tempdir().unwrap();
    let options = DevnetOptions { db: Some(db.path().join("chain.sqlite")), port: None };
    let node = Devnet::start(parts, options).await.unwrap_or_else(|e| panic!("{e}"));
    let (alice, bob, charlie) = (accounts::alice(), accounts::bob(), accounts::charlie());
    let admin = Arc::new(
        SubtensorChain::connect(
            Endpoint::Url(node.url()),
            [alice.clone(), bob.clone(), charlie.clone()],
            SubtensorOptions::default(),
        )
        .await
        .unwrap(),
    );
    let subnet = setup_subnet(&node, &admin, &[bob.account_id(), charlie.account_id()], RATE_LIMIT).await.unwrap();
    let netuid = subnet.netuid;
    if commit_reveal {
        let sudo = |call: &'static str, arg| {
            let admin = admin.clone();
            let alice = alice.account_id();
            async move { admin.sudo_admin(&alice, call, vec![CallArg::U16(netuid), arg]).await.unwrap() }
        };
        sudo("sudo_set_commit_reveal_weights_enabled", CallArg::Bool(true)).await;
        sudo("sudo_set_tempo", CallArg::U16(4)).await;
    }

    // Two honest miners on loopback. The runtime refuses 127.0.0.1 as an axon but not the
    // rest of 127/8, which Linux also routes to this machine.
    let bundle = common::bundle("examples/hello-subnet");
    let runtime = common::runtime();
    let miner_module = runtime.load_miner("honest", &common::read(&bundle.miners[0].2)).unwrap();
    let mut servers = Vec::new();
    for miner in [&bob, &charlie] {
        let mut config = MinerServerConfig::new(netuid, miner.account_id());
        config.listen = ([127, 0, 0, 2], 0).into();
        let as_chain: Arc<dyn Chain> = admin.clone();
        let server = spawn_miner_server(config, miner_module.clone(), as_chain).await.unwrap();
        admin
            .serve_axon(&miner.account_id(), netuid, AxonInfo::from_socket_addr(server.local_addr(), 1, 4))
            .await
            .unwrap();
        servers.push(server);
    }

    let fx = Fixture::new();
    std::fs::copy(&bundle.validator, fx.path("modules/validator.wasm")).unwrap();
    let text = format!(
        r#"state_dir = "state"
chain = "{url}"
[wallet]
name = "unused"
hotkey = "unused"
[admin]
listen = "127.0.0.1:0"
[runtime]
cache_dir = "{cache}"
[[subnet]]
netuid = {netuid}
module = "modules/validator.wasm"
[subnet.tasks]
interval = "300ms"
[subnet.weights]
every_blocks = 1
# The miners listen on loopback, which production refuses.
[subnet.network]
allow_private_targets = true
"#,
        url = node.url(),
        cache = common::root().join("target/subnetd-test-cache").display(),
    );
    let path = fx.path("subnetd.toml");
    std::fs::write(&path, text).unwrap();
    let daemon = Daemon::start(
        DaemonConfig::load(&path).unwrap(),
        DaemonOptions { hotkey: Some(alice.clone()), ..Default::default() },
    )
    .await
    .expect("the daemon starts on subtensor");
    assert!(daemon.status().await.chain.starts_with("subtensor ws://127.0.0.1:"), "{:?}", daemon.status().await.chain);

    // Chopsticks builds blocks only when asked: a block every 250 ms, as a chain would.
    let url = node.url();
    let producer = tokio::spawn(async move {
        loop {
            // Fails while the node is down; it is the node's absence the test is about.
            let _ = subnet_subtensor::devnet::new_block_at(&url).await;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    Some(World { node, admin, netuid, setup_block: subnet.block, daemon, servers, producer, _fx: fx, _db: db })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validates_on_subtensor_and_survives_the_node_dying() {
    let Some(World { mut node, admin, netuid, setup_block, daemon, servers, producer, _fx, _db }) = world(false).await
    else {
        return;
    };
    let subnet_status = || daemon.subnet(netuid).unwrap().status();
    let first = wait_until("weights on subtensor", Duration::from_secs(120), || subnet_status().last_weights).await;
    let row = admin.subnet_state(netuid).await.unwrap().weights[0].clone();
    assert_eq!(row, [(1, 65535), (2, 65535)], "both honest miners weighted fully on chain");
    for server in &servers {
        assert!(server.stats().verified > 0, "miners were queried at their chain axons");
    }

    node.kill();
    let failed_before = subnet_status().rounds_failed;
    let failing = wait_until("a failed round while the node is down", Duration::from_secs(60), || {
        let s = subnet_status();
        (s.rounds_failed > failed_before).then_some(s)
    })
    .await;
    let error = failing.last_round.and_then(|r| r.error).unwrap_or_default();
    assert!(error.contains("not connected") || error.contains("chain"), "{error}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    node.restart().await.unwrap_or_else(|e| panic!("{e}"));

    let second = wait_until("weights after the node came back", Duration::from_secs(120), || {
        subnet_status().last_weights.filter(|w| w.block > first.block)
    })
    .await;
    assert!(second.block >= first.block + RATE_LIMIT);

    // Every submission the daemon counts is one WeightsSet on chain, never two in one window.
    let head = admin.current_block().await.unwrap();
    let set: Vec<u64> = admin
        .events_between(setup_block + 1, head)
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, e)| matches!(e, ChainEvent::WeightsSet { netuid: n, uid: 0 } if *n == netuid))
        .map(|(b, _)| b)
        .collect();
    let counted = metric_value(
        &daemon.metrics().encode(),
        "subnetd_weights_set_total",
        &[("subnet", &netuid.to_string()), ("outcome", "ok")],
    );
    assert_eq!(set.len() as f64, counted, "on-chain WeightsSet at {set:?}");
    assert!(set.len() >= 2);
    for pair in set.windows(2) {
        assert!(pair[1] - pair[0] >= RATE_LIMIT, "two submissions inside one window: {set:?}");
    }
    assert!(set.contains(&first.block) && set.contains(&second.block));

    producer.abort();
    daemon.shutdown().await;
}

/// A subnet with commit-reveal on: the daemon commits (`WeightsCommitted`), reveals in the
/// next epoch (`WeightsRevealed` with the same hash, accepted by the real runtime), and the
/// revealed row is what the chain stores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_and_reveals_on_subtensor() {
    let Some(w) = world(true).await else { return };
    let status = || w.daemon.subnet(w.netuid).unwrap().status();
    let revealed = wait_until("revealed weights", Duration::from_secs(120), || status().last_weights).await;
    let head = w.admin.current_block().await.unwrap();
    let alice = accounts::alice().account_id();
    let events = w.admin.events_between(w.setup_block + 1, head).await.unwrap();
    let committed: Vec<[u8; 32]> = events
        .iter()
        .filter_map(|(_, e)| match e {
            ChainEvent::WeightsCommitted { who, hash, .. } if *who == alice => Some(*hash),
            _ => None,
        })
        .collect();
    let reveal = events
        .iter()
        .find_map(|(b, e)| match e {
            ChainEvent::WeightsRevealed { who, hash, .. } if *who == alice => Some((*b, *hash)),
            _ => None,
        })
        .expect("a WeightsRevealed on chain");
    assert_eq!(reveal.0, revealed.block);
    assert_eq!(committed.first(), Some(&reveal.1), "the reveal matches the first commit");
    let row = w.admin.subnet_state(w.netuid).await.unwrap().weights[0].clone();
    let expected: Vec<(u16, u16)> =
        revealed.uids.iter().copied().zip(subnet_chain::max_upscale_u16(&revealed.weights)).collect();
    assert_eq!(row, expected);
    assert_eq!(row, [(1, 65535), (2, 65535)]);
    w.producer.abort();
    w.daemon.shutdown().await;
}

/// `subnetd chain show --chain ws://...` reads the real runtime's metagraph; an http-only command
/// on a subtensor endpoint says why it cannot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_reads_subtensor_endpoints() {
    let parts = match Devnet::locate() {
        Ok(p) => p,
        Err(e) => return subnet_subtensor::devnet::report_skip("the_cli_reads_subtensor_endpoints", &e),
    };
    let node = Devnet::start(parts, DevnetOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let url = node.url();
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_subnetd")).args(&args).output().unwrap()
        })
    };
    let out = run(vec![
        "chain".into(),
        "show".into(),
        "--chain".into(),
        url.clone(),
        "--netuid".into(),
        "1".into(),
        "--json".into(),
    ])
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let metagraph: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(metagraph["netuid"], 1);
    assert!(!metagraph["neurons"].as_array().unwrap().is_empty(), "the spec's subnet 1 has a neuron");
    let out = run(vec!["chain".into(), "advance".into(), "--chain".into(), url]).await.unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not on subtensor"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
