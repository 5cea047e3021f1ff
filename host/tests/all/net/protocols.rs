//! The wire protocols live subnets speak, against the real bittensor 10.5 package (its own
//! venv, `.venv-bt10`) and a reference Epistula built from SN1's published header format, both
//! directions, over loopback:
//! - a bittensor Dendrite queries a subnetd miner serving `--protocol axon` (the hello-subnet
//!   module) and gets its answer; a replayed nonce, a bad signature, a stale nonce and an altered
//!   body are refused 401, an unregistered hotkey 403;
//! - subnetd's validator (HttpTransport, and a whole hello-subnet round) queries several real
//!   bittensor Axons in one Python process and scores their answers;
//! - Epistula: reference requests to a subnetd miner (good, bad signature, stale timestamp), and
//!   subnetd's validator to a reference Epistula miner;
//! - the sandbox over the Synapse protocol gives the same final weights as over btauth.
//!
//! Needs the bittensor 10.5 venv (see support::python_bt10).

use super::support;
use crate::common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use subnet_chain::local::{LocalChain, LocalChainConfig};
use subnet_chain::{AccountId, AxonInfo, Chain, NetUid};
use subnet_host::bindings::types::{MinerRequest, Payload, ResponseStatus};
use subnet_host::net::{
    HttpTransport, HttpTransportConfig, MinerServerConfig, SynapseSpec, WireProtocol, spawn_miner_server,
};
use subnet_host::runtime::SubnetEnv;
use subnet_host::sandbox::{self, SandboxConfig};
use subnet_host::validator::state::ScoreState;
use subnet_host::validator::{MinerQuery, MinerTransport, RoundInput, RoundLimits, run_round};
use subnet_keys::{CryptoType, Keypair};
use support::Proc;

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

fn uri(name: &str) -> Keypair {
    Keypair::from_uri(CryptoType::Sr25519, name).unwrap()
}

fn text_task() -> WireProtocol {
    WireProtocol::Axon(SynapseSpec { required_hash_fields: vec!["payload".into()], ..SynapseSpec::new("TextTask") })
}

async fn run_py(args: Vec<String>) -> serde_json::Value {
    let python = support::python_bt10();
    let script = support::script("py_bt10.py");
    let out = tokio::task::spawn_blocking(move || Command::new(python).arg(script).args(args).output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "py_bt10 failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let last = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_owned();
    serde_json::from_str(&last).unwrap_or_else(|e| panic!("{e}: {last}\n{}", String::from_utf8_lossy(&out.stderr)))
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
            timeout_ms: 10_000,
        }
        .into(),
        timeout: Duration::from_secs(10),
        seed: 0,
        max_answer_bytes: 16 << 20,
    }
}

fn transport(key: &Keypair, protocol: WireProtocol) -> HttpTransport {
    HttpTransport::new(key.clone(), HttpTransportConfig { allow_private_targets: true, protocol, ..Default::default() })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bittensor_dendrite_is_served_by_a_subnetd_miner_speaking_axon() {
    let (chain, netuid) = chain();
    let validator = uri("//PyValidator");
    let miner = uri("//SubnetdMiner");
    register(&chain, netuid, &validator.account_id(), 10);
    register(&chain, netuid, &miner.account_id(), 0);
    let built = common::bundle("examples/hello-subnet");
    let module = common::runtime().load_miner("honest", &common::read(&built.miners[0].2)).unwrap();
    let mut config = MinerServerConfig::new(netuid, miner.account_id());
    config.protocol = text_task();
    // Without the key the Axon protocol cannot sign its answers, and the server does not start.
    let refused = spawn_miner_server(config.clone(), module.clone(), chain.clone()).await;
    assert!(refused.is_err());
    config.signing_key = Some(miner.clone());
    let server = spawn_miner_server(config, module, chain.clone()).await.unwrap();
    let port = server.local_addr().port().to_string();

    let r =
        run_py(vec!["dendrite".into(), port, miner.ss58_address(), "//PyValidator".into(), "//Stranger".into()]).await;
    check_dendrite_outcomes(&r, &miner);
    let stats = server.stats();
    assert_eq!((stats.verified, stats.answered), (2, 2), "{stats:?}");
}

/// What the Dendrite run (py_bt10.py `dendrite`) must have seen from a subnetd miner.
fn check_dendrite_outcomes(r: &serde_json::Value, miner: &Keypair) {
    // The Dendrite's own query: status 200, the synapse's response field filled by the module.
    assert_eq!(r["answer"]["status"], 200, "{r}");
    assert_eq!(r["answer"]["response"], 42, "{r}");
    assert_eq!(r["answer"]["axon_hotkey"], miner.ss58_address(), "{r}");
    // The answer is signed by the miner over nonce.dendrite.axon.uuid, as an Axon signs.
    let a = &r["answer"];
    let message = format!(
        "{}.{}.{}.{}",
        a["axon_nonce"],
        a["dendrite_hotkey"].as_str().unwrap(),
        miner.ss58_address(),
        a["axon_uuid"].as_str().unwrap()
    );
    let sig = subnet_keys::synapse::parse_signature(a["axon_signature"].as_str().unwrap()).unwrap();
    assert!(subnet_keys::synapse::verify_message(&miner.account_id(), &message, &sig), "{r}");
    assert_eq!(r["first"]["status"], 200, "{r}");
    for (case, reason) in [
        ("replay", "nonce_not_newer"),
        ("bad_signature", "bad_signature"),
        ("stale_nonce", "stale_nonce"),
        ("altered_body", "body_hash_mismatch"),
    ] {
        assert_eq!((r[case]["status"].as_u64(), r[case]["error"].as_str()), (Some(401), Some(reason)), "{case}: {r}");
        assert_eq!(r[case]["axon_status"], "401", "{case}: the Dendrite reads the status from the headers: {r}");
    }
    assert_eq!(
        (r["unregistered"]["status"].as_u64(), r["unregistered"]["error"].as_str()),
        (Some(403), Some("not_registered")),
        "{r}"
    );
}

/// A wallet whose hotkey is `hotkey` (a development key, so the Python side can derive it too).
fn wallet_with(root: &std::path::Path, name: &str, hotkey: &Keypair) {
    let coldkey = Keypair::generate(CryptoType::Sr25519);
    let path = subnet_keys::coldkey_path(root, name).unwrap();
    coldkey.save_to_file(&path, false).unwrap();
    std::fs::write(path.with_file_name("coldkeypub.txt"), coldkey.to_public_keyfile_json()).unwrap();
    hotkey.save_to_wallet(root, name, "default", false).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bittensor_dendrite_is_served_by_the_subnetd_miner_process_with_protocol_axon() {
    use support::run_ok;
    let built = common::bundle("examples/hello-subnet");
    let miner_wasm = built.miners.iter().find(|m| m.0 == "honest").expect("honest miner").2.clone();
    let tmp = tempfile::tempdir().unwrap();
    let wallets = tmp.path().join("wallets");
    let state = tmp.path().join("chain");
    let (w, s) = (wallets.to_str().unwrap(), state.to_str().unwrap());
    let miner = uri("//CliMiner");
    wallet_with(&wallets, "owner", &Keypair::generate(CryptoType::Sr25519));
    wallet_with(&wallets, "miner", &miner);
    wallet_with(&wallets, "validator", &uri("//CliValidator"));
    let netuid =
        run_ok(&["chain", "init", "--state", s, "--owner-wallet", "owner", "--wallets-dir", w, "--tempo", "100"]);
    let netuid = netuid.trim();
    for name in ["miner", "validator"] {
        run_ok(&["chain", "register", "--state", s, "--netuid", netuid, "--wallet", name, "--wallets-dir", w]);
    }
    let stake = ["chain", "stake", "--state", s, "--netuid", netuid, "--wallet", "validator", "--amount", "1000"];
    run_ok(&[&stake[..], &["--wallets-dir", w]].concat());
    let node = Proc::start(
        &support::subnetd(),
        &["chain", "serve", "--state", s, "--listen", "127.0.0.1:0", "--dev"],
        tmp.path().join("node.log"),
    );
    let miner_proc = Proc::start(
        &support::subnetd(),
        &[
            "-v",
            "miner",
            "--module",
            miner_wasm.to_str().unwrap(),
            "--wallet",
            "miner",
            "--wallets-dir",
            w,
            "--netuid",
            netuid,
            "--port",
            "0",
            "--chain",
            &node.line,
            "--protocol",
            "axon",
            "--synapse",
            "TextTask",
            "--required-hash-fields",
            "payload",
        ],
        tmp.path().join("miner.log"),
    );
    let addr: SocketAddr = miner_proc.line.parse().unwrap_or_else(|_| panic!("miner printed {:?}", miner_proc.line));
    let r = run_py(vec![
        "dendrite".into(),
        addr.port().to_string(),
        miner.ss58_address(),
        "//CliValidator".into(),
        "//Stranger".into(),
    ])
    .await;
    check_dendrite_outcomes(&r, &miner);
    assert!(miner_proc.log_text().contains("verified request"), "{}", miner_proc.log_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subnetd_validator_queries_bittensor_axons_and_scores_them() {
    let tmp = tempfile::tempdir().unwrap();
    let axons = Proc::start(
        &support::python_bt10(),
        &[support::script("py_bt10.py").to_str().unwrap(), "axons", "3"],
        tmp.path().join("axons.log"),
    );
    let served: Vec<serde_json::Value> = serde_json::from_str(&axons.line).unwrap();
    assert_eq!(served.len(), 3);
    let (chain, netuid) = chain();
    let validator = Keypair::generate(CryptoType::Sr25519);
    register(&chain, netuid, &validator.account_id(), 10);
    let http = transport(&validator, text_task());
    let mut miners = Vec::new();
    for (i, a) in served.iter().enumerate() {
        let key = uri(&format!("//Axon{i}"));
        assert_eq!(a["hotkey"], key.ss58_address());
        let addr: SocketAddr = format!("127.0.0.1:{}", a["port"]).parse().unwrap();
        register(&chain, netuid, &key.account_id(), 0);
        chain.serve_axon_now(&key.account_id(), netuid, AxonInfo::from_socket_addr(addr, 1, 4)).unwrap();
        // Several queries to one Axon: the nonces strictly increase per dendrite uuid.
        for n in [21, 22] {
            let r = http.query(query(0, key.account_id(), addr, netuid, n)).await;
            assert_eq!(r.status, ResponseStatus::Ok, "{r:?}\n{}", axons.log_text());
            assert_eq!(r.payload.unwrap().body, (n * 2).to_string().into_bytes());
        }
        miners.push((key, addr));
    }
    // Signed for another hotkey than the Axon's: refused by the Axon (401), `refused` here.
    let r = http.query(query(0, validator.account_id(), miners[0].1, netuid, 1)).await;
    assert_eq!(r.status, ResponseStatus::Refused, "{r:?}");

    // A whole hello-subnet round over the Synapse protocol, scored by the module.
    let metagraph = chain.metagraph(netuid).await.unwrap();
    let built = common::bundle("examples/hello-subnet");
    let module = common::runtime().load_validator("hello", &common::read(&built.validator)).unwrap();
    let subnet = Arc::new(SubnetEnv::new("hello"));
    let outcome = run_round(
        RoundInput {
            module: &module,
            subnet: &subnet,
            metagraph: &metagraph,
            validator: &validator.account_id(),
            epoch: 1,
            seed: 3,
            transport: &http,
            limits: &RoundLimits::default(),
        },
        &mut ScoreState::new(),
    )
    .await
    .unwrap();
    for (key, _) in &miners {
        let uid = metagraph.uid_of(&key.account_id()).unwrap();
        let score = outcome.round_scores.iter().find(|s| s.uid == uid).map(|s| s.score);
        assert_eq!(score, Some(1.0), "{:?}\n{}", outcome.tasks, axons.log_text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epistula_both_directions_against_the_reference() {
    let (chain, netuid) = chain();
    let validator = uri("//EpValidator");
    let miner = uri("//EpMiner");
    register(&chain, netuid, &validator.account_id(), 10);
    register(&chain, netuid, &miner.account_id(), 0);
    let built = common::bundle("examples/hello-subnet");
    let module = common::runtime().load_miner("honest", &common::read(&built.miners[0].2)).unwrap();
    let mut config = MinerServerConfig::new(netuid, miner.account_id());
    config.protocol = WireProtocol::Epistula { path: "/v1/task".into() };
    let server = spawn_miner_server(config, module, chain.clone()).await.unwrap();

    // Reference requests to the subnetd miner.
    let url = format!("http://{}/v1/task", server.local_addr());
    let r = run_py(vec!["epistula-client".into(), url, miner.ss58_address(), "//EpValidator".into()]).await;
    assert_eq!((r["good"]["status"].as_u64(), r["good"]["body"].as_str()), (Some(200), Some("42")), "{r}");
    assert_eq!(
        (r["bad_signature"]["status"].as_u64(), r["bad_signature"]["error"].as_str()),
        (Some(401), Some("bad_signature")),
        "{r}"
    );
    assert_eq!(
        (r["stale"]["status"].as_u64(), r["stale"]["error"].as_str()),
        (Some(401), Some("stale_timestamp")),
        "{r}"
    );

    // subnetd's validator to the reference miner.
    let tmp = tempfile::tempdir().unwrap();
    let py_miner = Proc::start(
        &support::python_bt10(),
        &[support::script("py_bt10.py").to_str().unwrap(), "epistula-miner", "//EpRefMiner"],
        tmp.path().join("epistula.log"),
    );
    let addr: SocketAddr = format!("127.0.0.1:{}", py_miner.line).parse().unwrap();
    let http = transport(&validator, WireProtocol::Epistula { path: "/v1/task".into() });
    let reference = uri("//EpRefMiner");
    let r = http.query(query(0, reference.account_id(), addr, netuid, 21)).await;
    assert_eq!(r.status, ResponseStatus::Ok, "{r:?}\n{}", py_miner.log_text());
    assert_eq!(r.payload.unwrap().body, b"42");
    // Signed for someone else: the reference refuses (400), `refused` here.
    let r = http.query(query(0, miner.account_id(), addr, netuid, 21)).await;
    assert_eq!(r.status, ResponseStatus::Refused);
    let stats = support::raw_request(addr, "GET", "/", &[], b"").await;
    assert_eq!(stats.json["verified"], 1, "{}", stats.json);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_over_the_synapse_protocol_matches_btauth() {
    let bundle = common::bundle("examples/hello-subnet");
    let mut weights = Vec::new();
    for protocol in [WireProtocol::Btauth, WireProtocol::Axon(SynapseSpec::new("SandboxTask"))] {
        let config = SandboxConfig {
            epochs: 3,
            seed: 7,
            network: true,
            commit_reveal: false,
            protocol,
            ..SandboxConfig::default()
        };
        let report = sandbox::run(&common::runtime(), &bundle, &config, |_, _| {}).await.expect("sandbox");
        weights.push(report.final_weights);
    }
    assert!(!weights[0].is_empty());
    assert_eq!(weights[1], weights[0], "final weights over the Synapse protocol and over btauth");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_validates_a_local_subnet_over_the_synapse_protocol() {
    use crate::daemon::support::{Fixture, validator_key};
    use subnet_host::daemon::client::metric_value;
    use subnet_host::daemon::{Daemon, DaemonConfig, DaemonOptions};

    let hello = common::bundle("examples/hello-subnet");
    let fx = Fixture::new();
    std::fs::copy(&hello.validator, fx.path("modules/hello.wasm")).unwrap();
    let subnets = format!(
        r#"
[[subnet]]
netuid = 1
module = "modules/hello.wasm"
protocol = "axon"
synapse = "HelloTask"
required_hash_fields = ["payload"]
[subnet.tasks]
interval = "100ms"
[subnet.local]
tempo = 20
[subnet.local.miners]
module = "{}"
honest = 2
serve = "http"
"#,
        hello.miners[0].2.display()
    );
    let config = DaemonConfig::load(&fx.write_config("50ms", &subnets)).unwrap();
    let daemon = Daemon::start(config, DaemonOptions { hotkey: Some(validator_key()), ..Default::default() })
        .await
        .expect("daemon starts");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let ok = |d: &Daemon| {
        metric_value(&d.metrics().encode(), "subnetd_miner_responses_total", &[("subnet", "1"), ("status", "ok")])
    };
    while ok(&daemon) < 4.0 {
        assert!(std::time::Instant::now() < deadline, "no ok answers over axon: {}", daemon.metrics().encode());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = daemon.metrics().encode();
    for status in ["refused", "failed", "malformed"] {
        let n = metric_value(&text, "subnetd_miner_responses_total", &[("subnet", "1"), ("status", status)]);
        assert_eq!(n, 0.0, "{status}: {text}");
    }
    daemon.shutdown().await;
}
