//! Health that tells the truth (issue 19, items 1-3), with the daemon in-process so the test
//! can flip the faulty module's mode and stop the chain node: a miner that never answers shows
//! per uid in `/status` and `/metrics` within one round; a module trapping in every `score`
//! call fails its rounds and turns `/healthz` 503 (the other subnet stays healthy); a chain
//! node that goes away turns `/healthz` 503 and `subnetd_chain_connected` 0 within a follow
//! interval, and both come back when it does. Real HTTP on loopback to the admin API.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::support::*;
use serde_json::Value;
use subnet_chain::local::{LocalChain, LocalChainConfig, RAO_PER_TAO};
use subnet_host::daemon::client::{AdminClient, metric_value};
use subnet_host::daemon::{Daemon, DaemonConfig, DaemonOptions};
use subnet_host::node::{ChainNodeConfig, spawn_chain_node};
use subnet_keys::{CryptoType, Keypair};

async fn healthz(client: &AdminClient) -> (u16, Value) {
    let (code, body) = client.request("GET", "/healthz").await.expect("healthz answers");
    (code, serde_json::from_str(&body).unwrap_or_else(|e| panic!("healthz is JSON ({e}): {body}")))
}

async fn wait_health(client: &AdminClient, what: &str, want: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, body) = healthz(client).await;
        if code == want {
            return body;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {code} {body:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_until(what: &str, mut pred: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !pred() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_miner_is_visible_and_a_trapping_scorer_fails_rounds_and_health() {
    let hello = common::bundle("examples/hello-subnet");
    let faulty = common::bundle("examples/faulty-subnet");
    let fx = Fixture::new();
    std::fs::copy(&faulty.validator, fx.path("modules/faulty.wasm")).unwrap();
    std::fs::copy(&hello.validator, fx.path("modules/hello.wasm")).unwrap();
    let miner = hello.miners[0].2.display().to_string();
    let subnet = |netuid: u16, module: &str| {
        format!(
            r#"
[[subnet]]
netuid = {netuid}
module = "modules/{module}"
[subnet.tasks]
interval = "100ms"
[subnet.weights]
every_blocks = 10
[subnet.local]
tempo = 20
weights_rate_limit = 5
[subnet.local.miners]
module = "{miner}"
honest = 2
lazy = 1
"#
        )
    };
    let text = format!(
        "[health]\nfollow_interval = \"100ms\"\nstale_after = \"5s\"\nweights_late_factor = 1000\n{}{}",
        subnet(1, "faulty.wasm"),
        subnet(2, "hello.wasm")
    );
    let path = fx.write_config("50ms", &text);
    let daemon = Daemon::start(
        DaemonConfig::load(&path).unwrap(),
        DaemonOptions { hotkey: Some(validator_key()), ..Default::default() },
    )
    .await
    .expect("daemon starts");
    let client = AdminClient::new(daemon.admin_addr());
    wait_until("rounds on both subnets", || {
        daemon.subnet(1).unwrap().status().rounds_ok >= 1 && daemon.subnet(2).unwrap().status().rounds_ok >= 1
    })
    .await;

    // Item 1: the lazy miner (uid 3: the validator is uid 0, then honest, honest, lazy) shows
    // per uid after one round, in /status and in /metrics.
    let status = client.status().await.unwrap();
    let s2 = status["subnets"].as_array().unwrap().iter().find(|s| s["netuid"] == 2).unwrap();
    let miners = s2["miners"].as_array().unwrap();
    let dead = miners.iter().find(|m| m["status"] == "timeout").unwrap_or_else(|| panic!("no timeout uid: {s2:#}"));
    assert_eq!(dead["uid"], 3, "{s2:#}");
    assert!(dead["error"].as_str().unwrap().contains("no answer"), "{dead}");
    assert!(miners.iter().filter(|m| m["status"] == "ok").count() >= 2, "{s2:#}");
    assert!(s2["last_round"]["timeouts"].as_u64() >= Some(1), "{s2:#}");
    let text = client.metrics().await.unwrap();
    let timeouts = [("subnet", "2"), ("uid", "3"), ("status", "timeout")];
    assert!(metric_value(&text, "subnetd_miner_uid_responses_total", &timeouts) >= 1.0, "{text}");
    assert_eq!(metric_value(&text, "subnetd_miner_uid_up", &[("subnet", "2"), ("uid", "3")]), 0.0);
    assert_eq!(metric_value(&text, "subnetd_miner_uid_up", &[("subnet", "2"), ("uid", "1")]), 1.0);
    assert!(
        metric_value(&text, "subnetd_miner_response_duration_seconds_count", &[("subnet", "2"), ("status", "ok")])
            >= 2.0
    );
    assert_eq!(metric_value(&text, "subnetd_subnet_info", &[("subnet", "1"), ("name", "subnet-1")]), 1.0);
    let body = wait_health(&client, "healthy at first", 200).await;
    assert_eq!(body["status"], "ok");
    assert_eq!(body["chain"]["ok"], true);
    let (ready, _) = client.request("GET", "/readyz").await.unwrap();
    assert_eq!(ready, 200);

    // Item 2: every score call traps. The round fails (not counted ok, error shown), nothing
    // is committed, and /healthz says which subnet and why.
    let before = daemon.subnet(1).unwrap().status();
    daemon.kv(1).unwrap().set("faulty/mode", b"trap").unwrap();
    wait_until("a failed round on subnet 1", || daemon.subnet(1).unwrap().status().rounds_failed >= 2).await;
    let s1 = daemon.subnet(1).unwrap().status();
    let error = s1.last_round.as_ref().and_then(|r| r.error.clone()).unwrap_or_default();
    assert!(error.contains("score failed (trap)"), "{error}");
    assert!(!error.contains('\n'), "one line, the backtrace stays at debug: {error}");
    assert!(s1.state.rounds <= before.state.rounds + 1, "failed rounds commit nothing: {s1:#?}");
    let body = wait_health(&client, "503 for the trapping subnet", 503).await;
    assert_eq!(body["status"], "unhealthy");
    let verdicts = body["subnets"].as_array().unwrap();
    let v1 = verdicts.iter().find(|v| v["netuid"] == 1).unwrap();
    let v2 = verdicts.iter().find(|v| v["netuid"] == 2).unwrap();
    assert_eq!(v1["ok"], false);
    assert!(v1["reason"].as_str().unwrap().contains("trap"), "{v1}");
    assert_eq!(v2["ok"], true, "the other subnet is healthy: {v2}");
    let text = client.metrics().await.unwrap();
    assert!(metric_value(&text, "subnetd_rounds_total", &[("subnet", "1"), ("outcome", "failed")]) >= 2.0);
    assert_eq!(metric_value(&text, "subnetd_subnet_healthy", &[("subnet", "1")]), 0.0);
    assert_eq!(metric_value(&text, "subnetd_subnet_healthy", &[("subnet", "2")]), 1.0);

    // Fixed: healthy again after a good round.
    daemon.kv(1).unwrap().set("faulty/mode", b"ok").unwrap();
    wait_health(&client, "healthy once the module behaves", 200).await;
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_going_away_turns_health_503_and_back() {
    let bundle = common::bundle("examples/hello-subnet");
    let chain =
        Arc::new(LocalChain::in_memory_with(LocalChainConfig { allow_loopback_axons: true, ..Default::default() }));
    let owner = Keypair::from_seed(CryptoType::Sr25519, &[0x0a; 32]).account_id();
    let netuid = chain.create_subnet(&owner, None).unwrap();
    chain
        .update_hyperparams(netuid, |h| {
            h.tempo = 20;
            h.weights_rate_limit = 5;
        })
        .unwrap();
    let coldkey = Keypair::from_seed(CryptoType::Sr25519, &[0x0b; 32]).account_id();
    chain.register_now(&validator_key().account_id(), &coldkey, netuid).unwrap();
    chain.add_stake(&coldkey, &validator_key().account_id(), netuid, 10_000 * RAO_PER_TAO).unwrap();
    chain.advance_to_next_epoch(netuid).unwrap();
    let node_config = || {
        let mut c = ChainNodeConfig::new(Keypair::from_seed(CryptoType::Sr25519, &[0x0c; 32]));
        c.listen = ([127, 0, 0, 1], 0).into();
        c.block_time = Some(Duration::from_millis(50));
        c
    };
    let node = spawn_chain_node(chain.clone(), node_config()).await.unwrap();
    let addr = node.local_addr();

    let fx = Fixture::new();
    std::fs::copy(&bundle.validator, fx.path("modules/validator.wasm")).unwrap();
    let text = format!(
        r#"state_dir = "state"
[wallet]
name = "unused"
hotkey = "unused"
[chain]
backend = "node"
url = "{url}"
[admin]
listen = "127.0.0.1:0"
[runtime]
cache_dir = "{cache}"
[health]
follow_interval = "100ms"
stale_after = "2s"
weights_late_factor = 1000
[[subnet]]
netuid = {netuid}
module = "modules/validator.wasm"
[subnet.tasks]
interval = "200ms"
"#,
        url = node.url(),
        cache = common::root().join("target/subnetd-test-cache").display(),
    );
    let path = fx.path("subnetd.toml");
    std::fs::write(&path, text).unwrap();
    let daemon = Daemon::start(
        DaemonConfig::load(&path).unwrap(),
        DaemonOptions { hotkey: Some(validator_key()), ..Default::default() },
    )
    .await
    .expect("daemon starts against the node");
    let client = AdminClient::new(daemon.admin_addr());
    wait_health(&client, "healthy while the node runs", 200).await;
    assert_eq!(metric_value(&client.metrics().await.unwrap(), "subnetd_chain_connected", &[]), 1.0);

    node.shutdown().await;
    let body = wait_health(&client, "503 once the node is gone", 503).await;
    assert_eq!(body["chain"]["ok"], false, "{body:#}");
    assert!(body["chain"]["reason"].as_str().unwrap().contains("not answering"), "{body:#}");
    assert_eq!(metric_value(&client.metrics().await.unwrap(), "subnetd_chain_connected", &[]), 0.0);
    let status = client.status().await.unwrap();
    assert_eq!(status["chain_connected"], false);
    assert!(status["block"].as_u64().is_some(), "the last block seen stays in /status: {status}");

    let mut again = node_config();
    again.listen = addr;
    let node = spawn_chain_node(chain.clone(), again).await.expect("the node comes back on its port");
    let body = wait_health(&client, "200 once the node is back", 200).await;
    assert_eq!(body["chain"]["ok"], true);
    assert_eq!(metric_value(&client.metrics().await.unwrap(), "subnetd_chain_connected", &[]), 1.0);
    daemon.shutdown().await;
    node.shutdown().await;
}
