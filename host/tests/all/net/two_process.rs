//! Two processes on loopback (issue 4's acceptance): `subnetd chain serve` shares one chain,
//! `subnetd miner` serves examples/hello-subnet's miner, and this test is the validator, with
//! real signatures, real sockets and the real compiled guests.

use super::support;
use crate::common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use subnet_chain::Chain;
use subnet_host::bindings::types::{MinerRequest, Payload, ResponseStatus};
use subnet_host::net::{HttpTransport, HttpTransportConfig, MinerStats, TASK_PATH};
use subnet_host::node::RemoteChain;
use subnet_host::runtime::SubnetEnv;
use subnet_host::validator::state::ScoreState;
use subnet_host::validator::{MinerQuery, MinerTransport, RoundInput, RoundLimits, run_round};
use subnet_keys::btauth::{fresh_nonce, sign_request, unix_time_ns};
use subnet_keys::{AccountId, Keypair};
use support::{Proc, run_ok};

fn task_headers(netuid: u16, task_id: &str) -> Vec<(String, String)> {
    vec![
        ("Content-Type".into(), "application/json".into()),
        ("X-Subnet-Task-Id".into(), task_id.into()),
        ("X-Subnet-Netuid".into(), netuid.to_string()),
        ("X-Subnet-Timeout-Ms".into(), "5000".into()),
    ]
}

fn signed(
    key: &Keypair,
    miner: &AccountId,
    netuid: u16,
    task_id: &str,
    body: &[u8],
    nonce: u64,
) -> Vec<(String, String)> {
    let mut h = task_headers(netuid, task_id);
    h.extend(sign_request(key, "POST", TASK_PATH, body, Some(miner), nonce));
    h
}

fn query(
    uid: u16,
    hotkey: AccountId,
    axon: SocketAddr,
    netuid: u16,
    validator: &Keypair,
    task_id: &str,
    n: u64,
) -> MinerQuery {
    MinerQuery {
        uid,
        hotkey,
        axon: Some(axon),
        request: MinerRequest {
            task_id: task_id.into(),
            netuid,
            validator: validator.ss58_address(),
            payload: Payload { content_type: "application/json".into(), body: n.to_string().into_bytes() },
            timeout_ms: 5000,
        }
        .into(),
        timeout: Duration::from_secs(5),
        seed: 0,
        max_answer_bytes: 16 << 20,
    }
}

async fn stats(addr: SocketAddr) -> MinerStats {
    let a = support::raw_request(addr, "GET", "/v1/stats", &[], b"").await;
    assert_eq!(a.status, 200);
    serde_json::from_value(a.json).expect("stats JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miner_process_serves_verified_validators_and_refuses_everything_else() {
    let built = common::bundle("examples/hello-subnet");
    let miner_wasm = built.miners.iter().find(|m| m.0 == "honest").expect("honest miner").2.clone();
    let tmp = tempfile::tempdir().unwrap();
    let wallets = tmp.path().join("wallets");
    let state = tmp.path().join("chain");
    let (w, s) = (wallets.to_str().unwrap(), state.to_str().unwrap());

    // Wallets through the CLI, as a user makes them.
    let mut hotkeys = std::collections::HashMap::new();
    for name in ["owner", "miner", "validator", "stranger"] {
        let out = run_ok(&["wallet", "new", "--wallet", name, "--wallets-dir", w, "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        hotkeys.insert(name, AccountId::from_ss58(v["hotkey_ss58"].as_str().unwrap()).unwrap());
    }
    let shown: serde_json::Value =
        serde_json::from_str(&run_ok(&["wallet", "show", "--wallet", "miner", "--wallets-dir", w, "--json"])).unwrap();
    assert_eq!(shown["hotkeys"][0]["ss58"], hotkeys["miner"].to_ss58());

    // The chain state offline, then served.
    let netuid: u16 =
        run_ok(&["chain", "init", "--state", s, "--owner-wallet", "owner", "--wallets-dir", w, "--tempo", "100"])
            .trim()
            .parse()
            .unwrap();
    for name in ["miner", "validator"] {
        run_ok(&[
            "chain",
            "register",
            "--state",
            s,
            "--netuid",
            &netuid.to_string(),
            "--wallet",
            name,
            "--wallets-dir",
            w,
        ]);
    }
    run_ok(&[
        "chain",
        "stake",
        "--state",
        s,
        "--netuid",
        &netuid.to_string(),
        "--wallet",
        "validator",
        "--amount",
        "1000",
        "--wallets-dir",
        w,
    ]);
    let node = Proc::start(
        &support::subnetd(),
        &["chain", "serve", "--state", s, "--listen", "127.0.0.1:0", "--dev"],
        tmp.path().join("node.log"),
    );
    let url = node.line.clone();
    let miner = Proc::start(
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
            &netuid.to_string(),
            "--port",
            "0",
            "--chain",
            &url,
            // The zero-stake stranger below registers and is then served.
            "--callers",
            "registered",
        ],
        tmp.path().join("miner.log"),
    );
    let miner_addr: SocketAddr = miner.line.parse().unwrap_or_else(|_| panic!("miner printed {:?}", miner.line));
    let miner_hotkey = hotkeys["miner"];

    // The validator's view of the shared chain: the miner announced its axon there.
    let vkey = Keypair::load_hotkey(&wallets, "validator", "default", None).unwrap();
    let chain = RemoteChain::connect(&url, [vkey.clone()]).await.unwrap();
    let metagraph = chain.metagraph(netuid).await.unwrap();
    let muid = metagraph.uid_of(&miner_hotkey).expect("miner registered");
    let axon = metagraph.neurons[usize::from(muid)].axon.and_then(|a| a.socket_addr());
    assert_eq!(axon, Some(miner_addr), "serve_axon reached the shared chain");

    // A signed query: the answer is the double.
    let transport = HttpTransport::new(
        vkey.clone(),
        HttpTransportConfig { allow_private_targets: true, ..HttpTransportConfig::default() },
    );
    let r = transport.query(query(muid, miner_hotkey, miner_addr, netuid, &vkey, "t-1", 21)).await;
    assert_eq!(r.status, ResponseStatus::Ok, "{r:?}\n{}", miner.log_text());
    let p = r.payload.unwrap();
    assert_eq!((p.content_type.as_str(), p.body.as_slice()), ("application/json", b"42".as_slice()));

    // A whole validator round of the hello-subnet validator module over HTTP.
    let validator_module = common::runtime().load_validator("hello", &common::read(&built.validator)).unwrap();
    let subnet = Arc::new(SubnetEnv::new("hello"));
    let mut scores = ScoreState::new();
    let outcome = run_round(
        RoundInput {
            module: &validator_module,
            subnet: &subnet,
            metagraph: &metagraph,
            validator: &vkey.account_id(),
            epoch: 1,
            seed: 7,
            transport: &transport,
            limits: &RoundLimits::default(),
        },
        &mut scores,
    )
    .await
    .unwrap();
    let miner_task = outcome.tasks.iter().find(|t| t.task.miners == [muid]).expect("a task for the miner");
    assert_eq!(miner_task.responses[0].status, ResponseStatus::Ok);
    let score = outcome.round_scores.iter().find(|s| s.uid == muid).unwrap();
    assert_eq!(score.score, 1.0, "the miner's doubles are right");

    let before = stats(miner_addr).await;
    assert_eq!(before.handler_calls, before.answered);
    assert!(before.answered >= 2);

    // Refusals, each before the module.
    let body = b"21".to_vec();
    let stranger = Keypair::load_hotkey(&wallets, "stranger", "default", None).unwrap();

    let mut tampered = signed(&vkey, &miner_hotkey, netuid, "bad-sig", &body, fresh_nonce());
    let a = support::raw_request(miner_addr, "POST", TASK_PATH, &tampered, b"99").await;
    assert_eq!((a.status, a.reason()), (401, "bad_signature"), "{a:?}");
    tampered.retain(|(k, _)| k != "X-Bittensor-Signature");
    tampered.push(("X-Bittensor-Signature".into(), format!("0x{}", "ab".repeat(64))));
    let a = support::raw_request(miner_addr, "POST", TASK_PATH, &tampered, &body).await;
    assert_eq!((a.status, a.reason()), (401, "bad_signature"), "{a:?}");

    let stale = signed(&vkey, &miner_hotkey, netuid, "stale", &body, unix_time_ns() - 60_000_000_000);
    let a = support::raw_request(miner_addr, "POST", TASK_PATH, &stale, &body).await;
    assert_eq!((a.status, a.reason()), (401, "stale_nonce"), "{a:?}");

    let once = signed(&vkey, &miner_hotkey, netuid, "replay", &body, fresh_nonce());
    let a = support::raw_request(miner_addr, "POST", TASK_PATH, &once, &body).await;
    assert_eq!((a.status, a.body.as_slice()), (200, b"42".as_slice()), "{a:?}");
    let a = support::raw_request(miner_addr, "POST", TASK_PATH, &once, &body).await;
    assert_eq!((a.status, a.reason()), (401, "replayed_nonce"), "{a:?}");

    // 100 MB, declared: refused from the headers, before a byte of body is sent.
    let huge = 100u64 << 20;
    let mut h = task_headers(netuid, "huge");
    // The signature covers a body we never send; the refusal must come first anyway.
    h.extend(sign_request(&vkey, "POST", TASK_PATH, b"", Some(&miner_hotkey), fresh_nonce()));
    let a = support::declare_huge_body(miner_addr, &h, huge).await;
    assert_eq!((a.status, a.reason()), (413, "body_too_large"), "{a:?}");
    // 100 MB, chunked (no length to refuse from): cut off soon after the 8 MiB limit.
    let mut h = task_headers(netuid, "huge-chunked");
    h.extend(sign_request(&vkey, "POST", TASK_PATH, b"", Some(&miner_hotkey), fresh_nonce()));
    let (a, written) = support::stream_chunked_body(miner_addr, &h, 100 << 20).await;
    assert_eq!((a.status, a.reason()), (413, "body_too_large"), "{a:?}");
    assert!(written < 40 << 20, "the miner read {written} bytes of a body it had to refuse");

    let unregistered = signed(&stranger, &miner_hotkey, netuid, "stranger", &body, fresh_nonce());
    let a = support::raw_request(miner_addr, "POST", TASK_PATH, &unregistered, &body).await;
    assert_eq!((a.status, a.reason()), (403, "not_registered"), "{a:?}");

    let after = stats(miner_addr).await;
    assert_eq!(after.handler_calls, before.handler_calls + 1, "only the one genuine request reached the module");
    for reason in ["bad_signature", "stale_nonce", "replayed_nonce", "body_too_large", "not_registered"] {
        assert!(after.refused.get(reason).copied().unwrap_or(0) >= 1, "{reason} counted: {after:?}");
    }
    // The same counters for Prometheus at /metrics (issue 19, item 6).
    let m = support::raw_request(miner_addr, "GET", "/metrics", &[], b"").await;
    assert_eq!(m.status, 200);
    let text = String::from_utf8(m.body).unwrap();
    let label = netuid.to_string();
    let value = |name: &str, labels: &[(&str, &str)]| subnet_host::daemon::client::metric_value(&text, name, labels);
    assert!(value("subnetd_miner_handler_calls_total", &[("netuid", &label)]) >= after.handler_calls as f64, "{text}");
    assert!(value("subnetd_miner_refused_total", &[("netuid", &label), ("reason", "bad_signature")]) >= 1.0, "{text}");

    // The stranger registers through the node (signed by its coldkey) and a block passes:
    // the miner's cached metagraph follows, and the same hotkey is now served.
    run_ok(&[
        "chain",
        "register",
        "--chain",
        &url,
        "--netuid",
        &netuid.to_string(),
        "--wallet",
        "stranger",
        "--wallets-dir",
        w,
    ]);
    run_ok(&["chain", "advance", "--chain", &url, "--blocks", "1"]);
    let mut served = false;
    for _ in 0..50 {
        let h = signed(&stranger, &miner_hotkey, netuid, "stranger-2", &body, fresh_nonce());
        let a = support::raw_request(miner_addr, "POST", TASK_PATH, &h, &body).await;
        if a.status == 200 {
            served = true;
            break;
        }
        assert_eq!(a.reason(), "not_registered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "the newly registered hotkey is served");

    // The miner's log shows the verified requests, with the validator's hotkey.
    let log = miner.log_text();
    // NET_TEST_SHOW_LOG=1 prints the miner's log (with --nocapture) when debugging.
    if std::env::var_os("NET_TEST_SHOW_LOG").is_some() {
        eprintln!("{log}");
    }
    let verified: Vec<&str> = log.lines().filter(|l| l.contains("verified request")).collect();
    assert!(
        verified
            .iter()
            .any(|l| l.contains(&vkey.ss58_address()) && l.contains("task_id=t-1") && l.contains("status=200")),
        "miner log:\n{log}"
    );
    assert!(verified.iter().all(|l| !l.contains("stale") && !l.contains("bad-sig")), "miner log:\n{log}");
    // Refusals after the body are logged; those decided on the headers alone (unregistered,
    // stale) are counted above but logged at debug only, so a flood cannot fill the log.
    assert!(log.contains("bad_signature"), "refusals are logged too:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().join("wallets");
    let w = w.to_str().unwrap();
    let e = support::run_err(&[
        "miner",
        "--module",
        "/nonexistent.wasm",
        "--wallet",
        "x",
        "--wallets-dir",
        w,
        "--netuid",
        "1",
        "--chain",
        "http://127.0.0.1:1",
    ]);
    assert!(e.contains("does not exist") || e.contains("no such file"), "{e}");
    run_ok(&["wallet", "new", "--wallet", "x", "--wallets-dir", w]);
    let e = support::run_err(&["wallet", "new", "--wallet", "x", "--wallets-dir", w]);
    assert!(e.contains("already exists"), "{e}");
    let e = support::run_err(&["chain", "show", "--chain", "https://127.0.0.1:1"]);
    assert!(e.contains("plain http"), "{e}");
    let e = support::run_err(&["chain", "show", "--chain", "http://127.0.0.1:1"]);
    assert!(e.contains("chain transport"), "{e}");
    let listed: serde_json::Value =
        serde_json::from_str(&run_ok(&["wallet", "list", "--wallets-dir", w, "--json"])).unwrap();
    assert_eq!(listed[0]["wallet"], "x");
}

/// `wallet new` prints each new key's mnemonic once (issue 19, item 10): the phrases rebuild
/// the same keys in the bittensor SDK (`Keypair.create_from_mnemonic`, btcli's derivation) and
/// with `wallet regen`; no keyfile stores them; regen refuses to overwrite unless asked.
#[test]
fn wallet_new_prints_mnemonics_the_sdk_and_regen_rebuild() {
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().join("wallets");
    let w = w.to_str().unwrap();
    let made: serde_json::Value = serde_json::from_str(&run_ok(&[
        "wallet",
        "new",
        "--wallet",
        "ops",
        "--hotkey",
        "ed",
        "--crypto",
        "ed25519",
        "--wallets-dir",
        w,
        "--json",
    ]))
    .unwrap();
    let cold_phrase = made["coldkey_mnemonic"].as_str().expect("a new coldkey's mnemonic").to_owned();
    let hot_phrase = made["hotkey_mnemonic"].as_str().expect("the hotkey's mnemonic").to_owned();
    assert_eq!(cold_phrase.split(' ').count(), 12);
    assert_ne!(cold_phrase, hot_phrase);

    // The SDK's own derivation (bittensor_wallet, which the bittensor 10.5 venv carries):
    // ed25519 is crypto_type 0, sr25519 1.
    let script = "import sys\nfrom bittensor_wallet import Keypair\n\
        print(Keypair.create_from_mnemonic(sys.argv[1], crypto_type=1).ss58_address)\n\
        print(Keypair.create_from_mnemonic(sys.argv[2], crypto_type=0).ss58_address)\n";
    let out = Command::new(support::python_bt10()).args(["-c", script, &cold_phrase, &hot_phrase]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sdk: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect();
    assert_eq!(sdk[0], made["coldkey"].as_str().unwrap(), "the SDK rebuilds the coldkey");
    assert_eq!(sdk[1], made["hotkey_ss58"].as_str().unwrap(), "the SDK rebuilds the hotkey");

    // Stored nowhere.
    for file in walk(tmp.path()) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        assert!(!text.contains(&cold_phrase) && !text.contains(&hot_phrase), "{} holds a mnemonic", file.display());
    }
    // A second hotkey on the same wallet: only the hotkey's phrase (the coldkey exists).
    let second: serde_json::Value = serde_json::from_str(&run_ok(&[
        "wallet",
        "new",
        "--wallet",
        "ops",
        "--hotkey",
        "h2",
        "--wallets-dir",
        w,
        "--json",
    ]))
    .unwrap();
    assert!(second["coldkey_mnemonic"].is_null(), "{second}");
    // The coldkey commands name the password variable in their help (issue 19, item 10).
    for command in ["register", "stake"] {
        let help = run_ok(&["chain", command, "--help"]);
        assert!(help.contains("SUBNETD_WALLET_PASSWORD"), "chain {command} --help: {help}");
    }
    let text = run_ok(&["wallet", "new", "--wallet", "ops", "--hotkey", "h3", "--wallets-dir", w]);
    assert!(text.contains("mnemonic: ") && text.contains("write them down") && text.ends_with('\n'), "{text}");

    // Regen into another wallets directory, from the environment.
    let other = tmp.path().join("restored");
    let o = other.to_str().unwrap();
    let regen = |args: &[&str], phrase: &str| {
        Command::new(support::subnetd())
            .args(args)
            .env("SUBNETD_MNEMONIC", phrase)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let out = regen(&["wallet", "regen", "--wallet", "ops", "--wallets-dir", o], &cold_phrase);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = regen(
        &["wallet", "regen", "--wallet", "ops", "--hotkey", "ed", "--crypto", "ed25519", "--wallets-dir", o],
        &hot_phrase,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown: serde_json::Value =
        serde_json::from_str(&run_ok(&["wallet", "show", "--wallet", "ops", "--wallets-dir", o, "--json"])).unwrap();
    assert_eq!(shown["coldkey"], made["coldkey"]);
    assert_eq!(shown["hotkeys"][0]["ss58"], made["hotkey_ss58"]);
    let out = regen(&["wallet", "regen", "--wallet", "ops", "--wallets-dir", o], &cold_phrase);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--overwrite"), "{}", String::from_utf8_lossy(&out.stderr));
    let out =
        regen(&["wallet", "regen", "--wallet", "ops", "--hotkey", "x", "--wallets-dir", o], "not a real phrase at all");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid mnemonic"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
