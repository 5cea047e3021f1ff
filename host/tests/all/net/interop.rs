//! Interop with the real bittensor SDK (11.x, `bittensor.http_auth`), both ways, over loopback:
//! a Python validator that signs with the SDK queries a subnetd miner, and subnetd's validator
//! side (HttpTransport, and a whole hello-subnet round) queries a Python miner that verifies
//! with the SDK. Keys come from wallets subnet-keys writes and `bittensor.Wallet` loads.
//!
//! Needs the SDK: Python at $SUBNETD_PYTHON, else <workspace>/.venv/bin/python, with bittensor
//! 11 installed; without it these tests fail with the set-up instructions.

use super::support;
use crate::common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use subnet_chain::local::{LocalChain, LocalChainConfig};
use subnet_chain::{AccountId, AxonInfo, Chain, NetUid};
use subnet_host::bindings::types::{MinerRequest, Payload, ResponseStatus};
use subnet_host::net::{HttpTransport, HttpTransportConfig, MinerServerConfig, spawn_miner_server};
use subnet_host::runtime::SubnetEnv;
use subnet_host::validator::state::ScoreState;
use subnet_host::validator::{MinerQuery, MinerTransport, RoundInput, RoundLimits, run_round};
use subnet_keys::{CryptoType, Keypair};
use support::{Proc, make_wallet};

fn chain() -> (Arc<LocalChain>, NetUid) {
    let chain = LocalChain::in_memory_with(LocalChainConfig { allow_loopback_axons: true, ..Default::default() });
    let netuid = chain.create_subnet(&Keypair::generate(CryptoType::Sr25519).account_id(), None).unwrap();
    (Arc::new(chain), netuid)
}

fn register(chain: &LocalChain, netuid: NetUid, hotkey: &AccountId, stake_tao: u64) {
    let cold = Keypair::generate(CryptoType::Sr25519).account_id();
    chain.register_now(hotkey, &cold, netuid).unwrap();
    if stake_tao > 0 {
        chain.add_stake(&cold, hotkey, netuid, stake_tao * 1_000_000_000).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_validator_signing_with_the_sdk_is_served_by_a_subnetd_miner() {
    let python = support::python();
    let tmp = tempfile::tempdir().unwrap();
    let wallets = tmp.path().join("wallets");
    let (_, validator) = make_wallet(&wallets, "pyvalidator", CryptoType::Sr25519);
    let miner = Keypair::generate(CryptoType::Sr25519);
    let (chain, netuid) = chain();
    register(&chain, netuid, &validator.account_id(), 10);
    register(&chain, netuid, &miner.account_id(), 0);

    let built = common::bundle("examples/hello-subnet");
    let module = common::runtime().load_miner("honest", &common::read(&built.miners[0].2)).unwrap();
    let server =
        spawn_miner_server(MinerServerConfig::new(netuid, miner.account_id()), module, chain.clone()).await.unwrap();

    let script = support::script("py_validator.py");
    let url = format!("http://{}", server.local_addr());
    let out = tokio::task::spawn_blocking({
        let (python, wallets) = (python.clone(), wallets.clone());
        let (miner_ss58, netuid) = (miner.ss58_address(), netuid.to_string());
        move || {
            Command::new(python)
                .arg(script)
                .args([wallets.to_str().unwrap(), "pyvalidator", "default", &url, &miner_ss58, &netuid])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(out.status.success(), "py_validator failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["validator"], validator.ss58_address(), "the SDK loaded our wallet's hotkey");
    assert_eq!(r["answer"]["status"], 200, "{r}");
    assert_eq!(r["answer"]["body"], "42");
    assert_eq!(r["answer"]["content_type"], "application/json");
    assert_eq!(r["second"]["status"], 200, "{r}");
    assert_eq!(r["second"]["body"], "2000");
    assert_eq!((r["replay"]["status"].as_u64(), r["replay"]["error"].as_str()), (Some(401), Some("replayed_nonce")));
    assert_eq!((r["tampered"]["status"].as_u64(), r["tampered"]["error"].as_str()), (Some(401), Some("bad_signature")));
    assert_eq!(
        (r["wrong_receiver"]["status"].as_u64(), r["wrong_receiver"]["error"].as_str()),
        (Some(401), Some("wrong_receiver"))
    );
    let stats = server.stats();
    assert_eq!((stats.verified, stats.handler_calls, stats.answered), (2, 2, 2), "{stats:?}");
}

fn query(uid: u16, hotkey: AccountId, axon: SocketAddr, netuid: NetUid, n: u64) -> MinerQuery {
    MinerQuery {
        uid,
        hotkey,
        axon: Some(axon),
        request: MinerRequest {
            task_id: format!("n-{n}"),
            netuid,
            validator: String::new(),
            payload: Payload { content_type: "application/json".into(), body: n.to_string().into_bytes() },
            timeout_ms: 5000,
        }
        .into(),
        timeout: Duration::from_secs(5),
        seed: 0,
        max_answer_bytes: 16 << 20,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subnetd_validator_is_verified_by_a_python_miner_using_the_sdk() {
    let python = support::python();
    let tmp = tempfile::tempdir().unwrap();
    let wallets = tmp.path().join("wallets");
    let (_, py_miner_key) = make_wallet(&wallets, "pyminer", CryptoType::Sr25519);
    let miner = Proc::start(
        &python,
        &[support::script("py_miner.py").to_str().unwrap(), wallets.to_str().unwrap(), "pyminer", "default"],
        tmp.path().join("py_miner.log"),
    );
    let addr: SocketAddr = format!("127.0.0.1:{}", miner.line).parse().unwrap();
    let me = py_miner_key.account_id();

    let sr = Keypair::generate(CryptoType::Sr25519);
    let ed = Keypair::generate(CryptoType::Ed25519);
    for validator in [&sr, &ed] {
        let transport = HttpTransport::new(validator.clone(), loopback());
        let r = transport.query(query(0, me, addr, 1, 21)).await;
        assert_eq!(r.status, ResponseStatus::Ok, "{:?}: {r:?}\n{}", validator.crypto_type(), miner.log_text());
        assert_eq!(r.payload.unwrap().body, b"42");
    }
    // Signed for another receiver: the SDK refuses it, and the transport reports a refusal.
    let transport = HttpTransport::new(sr.clone(), loopback());
    let r = transport.query(query(0, sr.account_id(), addr, 1, 21)).await;
    assert_eq!(r.status, ResponseStatus::Refused);

    // A whole hello-subnet round from subnetd's validator against the Python miner.
    let (chain, netuid) = chain();
    register(&chain, netuid, &sr.account_id(), 10);
    register(&chain, netuid, &me, 0);
    chain.serve_axon_now(&me, netuid, AxonInfo::from_socket_addr(addr, 1, 4)).unwrap();
    let metagraph = chain.metagraph(netuid).await.unwrap();
    let built = common::bundle("examples/hello-subnet");
    let module = common::runtime().load_validator("hello", &common::read(&built.validator)).unwrap();
    let subnet = Arc::new(SubnetEnv::new("hello"));
    let outcome = run_round(
        RoundInput {
            module: &module,
            subnet: &subnet,
            metagraph: &metagraph,
            validator: &sr.account_id(),
            epoch: 1,
            seed: 3,
            transport: &transport,
            limits: &RoundLimits::default(),
        },
        &mut ScoreState::new(),
    )
    .await
    .unwrap();
    let uid = metagraph.uid_of(&me).unwrap();
    assert_eq!(outcome.round_scores.iter().find(|s| s.uid == uid).map(|s| s.score), Some(1.0), "{:?}", outcome.tasks);

    // What the SDK saw.
    let a = support::raw_request(addr, "GET", "/stats", &[], b"").await;
    assert_eq!(a.json["verified"], 3, "{}", a.json);
    assert_eq!(a.json["refused"]["WrongReceiver"], 1, "{}", a.json);
    let callers: Vec<&str> = a.json["callers"].as_array().unwrap().iter().filter_map(|c| c.as_str()).collect();
    assert!(callers.contains(&ed.ss58_address().as_str()) && callers.contains(&sr.ss58_address().as_str()));
}

/// Transport settings for miners on loopback (production refuses private targets).
fn loopback() -> HttpTransportConfig {
    HttpTransportConfig { allow_private_targets: true, ..HttpTransportConfig::default() }
}
