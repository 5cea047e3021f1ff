//! The `node` chain backend: the daemon follows a chain node over HTTP (`RemoteChain`) and
//! queries real miner servers at their axons (`HttpTransport`, btauth-signed), then sets
//! weights through the node. The node, the miners and the daemon run in this process but
//! talk only over loopback sockets.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::support::*;
use subnet_chain::local::{LocalChain, LocalChainConfig, RAO_PER_TAO};
use subnet_chain::{AxonInfo, Chain};
use subnet_host::daemon::client::metric_value;
use subnet_host::daemon::{Daemon, DaemonConfig, DaemonOptions};
use subnet_host::net::{MinerServerConfig, spawn_miner_server};
use subnet_host::node::{ChainNodeConfig, spawn_chain_node};
use subnet_keys::{CryptoType, Keypair};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validates_against_a_chain_node_and_http_miners() {
    let bundle = common::bundle("examples/hello-subnet");
    let runtime = common::runtime();
    let miner_module = runtime.load_miner("honest", &common::read(&bundle.miners[0].2)).unwrap();

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
    let validator = validator_key();
    let coldkey = Keypair::from_seed(CryptoType::Sr25519, &[0x0b; 32]).account_id();
    chain.register_now(&validator.account_id(), &coldkey, netuid).unwrap();
    chain.add_stake(&coldkey, &validator.account_id(), netuid, 10_000 * RAO_PER_TAO).unwrap();
    let mut servers = Vec::new();
    for i in 0..3u8 {
        let miner = Keypair::from_seed(CryptoType::Sr25519, &[0x20 + i; 32]);
        let miner_cold = Keypair::from_seed(CryptoType::Sr25519, &[0x30 + i; 32]).account_id();
        chain.register_now(&miner.account_id(), &miner_cold, netuid).unwrap();
        let as_chain: Arc<dyn Chain> = chain.clone();
        let server =
            spawn_miner_server(MinerServerConfig::new(netuid, miner.account_id()), miner_module.clone(), as_chain)
                .await
                .unwrap();
        chain
            .serve_axon_now(&miner.account_id(), netuid, AxonInfo::from_socket_addr(server.local_addr(), 1, 4))
            .unwrap();
        servers.push(server);
    }
    chain.advance_to_next_epoch(netuid).unwrap();
    let mut node_config = ChainNodeConfig::new(Keypair::from_seed(CryptoType::Sr25519, &[0x0c; 32]));
    node_config.listen = ([127, 0, 0, 1], 0).into();
    node_config.block_time = Some(Duration::from_millis(50));
    let node = spawn_chain_node(chain.clone(), node_config).await.unwrap();

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
[[subnet]]
netuid = {netuid}
module = "modules/validator.wasm"
[subnet.tasks]
interval = "200ms"
[subnet.weights]
every_blocks = 10
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
        DaemonOptions { hotkey: Some(validator), ..Default::default() },
    )
    .await
    .expect("daemon starts against the node");
    assert!(daemon.status().await.chain.starts_with("node http://127.0.0.1:"));

    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        let s = daemon.subnet(netuid).unwrap().status();
        if s.rounds_ok >= 3 && s.last_weights.is_some() {
            break s;
        }
        assert!(Instant::now() < deadline, "no rounds and weights through the node: {s:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status.rounds_failed, 0, "{status:#?}");
    let text = daemon.metrics().encode();
    let label = netuid.to_string();
    assert!(
        metric_value(&text, "subnetd_miner_responses_total", &[("subnet", &label), ("status", "ok")]) >= 3.0,
        "{text}"
    );
    assert_eq!(metric_value(&text, "subnetd_miner_responses_total", &[("subnet", &label), ("status", "failed")]), 0.0);
    // Per-uid score and weight share, and the validator's own neuron (issue 19, item 9).
    for uid in ["1", "2", "3"] {
        let at = [("subnet", label.as_str()), ("uid", uid)];
        assert_eq!(metric_value(&text, "subnetd_miner_uid_score", &at), 1.0, "uid {uid}");
        let share = metric_value(&text, "subnetd_miner_uid_weight", &at);
        assert!((share - 1.0 / 3.0).abs() < 1e-9, "uid {uid}: share {share}");
    }
    let stake = metric_value(&text, "subnetd_validator_stake_tao", &[("subnet", &label)]);
    assert!(stake >= 10_000.0, "the validator's 10000 TAO (and any emission since): {stake}");
    assert_eq!(metric_value(&text, "subnetd_validator_permit", &[("subnet", &label)]), 1.0);
    // Every honest miner answered right: all three hold equal, maximal weight on chain.
    let weights = status.last_weights.unwrap();
    assert_eq!(weights.uids, vec![1, 2, 3]);
    assert_eq!(weights.weights, vec![65535, 65535, 65535]);
    let uid = chain.metagraph_now(netuid).unwrap().uid_of(&validator_key().account_id()).unwrap();
    let row = chain.weights(netuid, uid);
    assert!(!row.is_empty(), "the weights reached the chain through the node");
    // `chain show` prints them with the validator's last_update (issue 19, item 10).
    let url = node.url();
    let show = move |json: bool| {
        let mut args = vec!["chain".to_owned(), "show".into(), "--chain".into(), url.clone(), "--netuid".into()];
        args.push(netuid.to_string());
        if json {
            args.push("--json".into());
        }
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_subnetd")).args(&args).env("NO_COLOR", "1").output();
        let out = out.unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let shown: serde_json::Value =
        tokio::task::spawn_blocking(move || serde_json::from_str(&show(true)).unwrap()).await.unwrap();
    let rows = shown["weights"].as_array().expect("weights in chain show --json");
    let mine = rows.iter().find(|r| r["uid"] == u64::from(uid)).expect("the validator's row");
    assert_eq!(mine["row"].as_array().unwrap().len(), row.len(), "{mine}");
    assert!(mine["last_update"].as_u64().unwrap() > 0, "{mine}");
    assert_eq!(shown["neurons"][usize::from(uid)]["last_update"], mine["last_update"]);
    let url = node.url();
    let text = tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_subnetd"))
            .args(["chain", "show", "--chain", &url, "--netuid", &netuid.to_string()])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    })
    .await
    .unwrap();
    assert!(text.contains("last_update") && text.contains(&format!("weights of uid {uid} (last_update")), "{text}");
    for server in &servers {
        let stats = server.stats();
        assert!(stats.verified > 0 && stats.answered == stats.verified, "each miner verified and answered: {stats:?}");
    }
    daemon.shutdown().await;
    node.shutdown().await;
}
