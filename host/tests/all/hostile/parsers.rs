//! Property tests of the parsers of untrusted files and answers (issue 14, proof): the
//! daemon's `subnetd.toml`, a bundle's `subnet.toml`, and the chain JSON a node answers.
//! Inputs are arbitrary text and, more usefully, valid documents with a random splice (a
//! byte range replaced by random text), which reach deep into the parsers. Every input gives
//! a value or a typed error with a message, never a panic; chain answers go through a real
//! [`RemoteChain`] over loopback HTTP.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use proptest::prelude::*;
use subnet_chain::{AccountId, Chain, Metagraph, NeuronInfo};
use subnet_host::bundle::Bundle;
use subnet_host::daemon::config::DaemonConfig;
use subnet_host::node::RemoteChain;

/// A valid document with `len` bytes at `at` (both taken modulo the document) replaced by
/// `with`, at char boundaries.
fn splice(doc: &str, at: usize, len: usize, with: &str) -> String {
    let mut start = at % (doc.len() + 1);
    while !doc.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (start + len % 64).min(doc.len());
    while !doc.is_char_boundary(end) {
        end += 1;
    }
    format!("{}{with}{}", &doc[..start], &doc[end..])
}

fn fragments() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[ -~]{0,24}",
        Just("\"".to_owned()),
        Just("[[subnet]]\nnetuid = 1\n".to_owned()),
        Just("= [".to_owned()),
        Just("-1".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("1e309".to_owned()),
        Just("\"../../../../etc/passwd\"".to_owned()),
        Just("\"0s\"".to_owned()),
        Just("\"999999999999h\"".to_owned()),
        Just("\"1PiB\"".to_owned()),
        Just("{}".to_owned()),
        Just("null".to_owned()),
        "\\PC{0,8}",
    ]
}

const DAEMON_CONFIG: &str = r#"
state_dir = "state"
shutdown_grace = "60s"
[wallet]
path = "wallets"
name = "demo"
hotkey = "validator"
[chain]
backend = "local"
block_time = "1s"
[admin]
listen = "127.0.0.1:0"
[[subnet]]
netuid = 1
name = "hello"
module = "validator.wasm"
require_signers = ["5C4hrfjw9DjXZTzV3MwzrrAr9P1MJhSrvWGWqi1eSuyUpnhM"]
[subnet.limits]
memory = "128MiB"
call_timeout = "5s"
[subnet.tasks]
interval = "12s"
[subnet.weights]
every_blocks = 20
[subnet.capabilities]
kv = true
kv_budget = "64MiB"
outbound_hosts = ["https://api.example.com:443"]
[subnet.local]
tempo = 20
[subnet.local.miners]
module = "miner.wasm"
honest = 2
"#;

const SUBNET_TOML: &str = r#"
name = "hello-subnet"
[validator]
path = "validator"
[compute]
models = ["all-minilm-l6-v2"]
[[miner]]
name = "honest"
path = "miner"
[[miner]]
name = "lazy"
path = "miner.wasm"
honest = false
"#;

/// A directory holding what the seed config names (its modules), so splices reach past the
/// file checks.
fn config_base() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("validator.wasm"), b"\0asm").unwrap();
    std::fs::write(dir.path().join("miner.wasm"), b"\0asm").unwrap();
    dir
}

fn config_result(base: &Path, text: &str) -> Result<(), String> {
    DaemonConfig::from_toml(text, base).map(drop).map_err(|e| e.to_string())
}

fn manifest_result(dir: &Path, text: &str) -> Result<(), String> {
    std::fs::write(dir.join("subnet.toml"), text).unwrap();
    Bundle::resolve(dir).map(drop).map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn subnetd_toml_spliced_or_arbitrary_is_a_config_or_a_named_error(
        at in any::<usize>(), len in any::<usize>(), with in fragments(), raw in "\\PC{0,200}",
    ) {
        let base = config_base();
        for text in [splice(DAEMON_CONFIG, at, len, &with), raw] {
            if let Err(message) = config_result(base.path(), &text) {
                prop_assert!(!message.trim().is_empty(), "an error says what is wrong: {text:?}");
            }
        }
    }

    #[test]
    fn subnet_toml_spliced_or_arbitrary_is_a_bundle_or_a_named_error(
        at in any::<usize>(), len in any::<usize>(), with in fragments(), raw in "\\PC{0,200}",
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("validator")).unwrap();
        std::fs::create_dir_all(dir.path().join("miner")).unwrap();
        std::fs::write(dir.path().join("miner.wasm"), b"\0asm").unwrap();
        for text in [splice(SUBNET_TOML, at, len, &with), raw] {
            if let Err(message) = manifest_result(dir.path(), &text) {
                prop_assert!(message.contains("subnet.toml"), "the error names the file: {message}");
            }
        }
    }
}

/// The valid documents parse: the splices start from something the parsers accept.
#[test]
fn the_seed_documents_are_valid() {
    let base = config_base();
    config_result(base.path(), DAEMON_CONFIG).expect("the seed subnetd.toml");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("validator")).unwrap();
    std::fs::create_dir_all(dir.path().join("miner")).unwrap();
    std::fs::write(dir.path().join("miner.wasm"), b"\0asm").unwrap();
    manifest_result(dir.path(), SUBNET_TOML).expect("the seed subnet.toml");
}

/// A chain node on loopback that answers `/v1/chain/info` truthfully and every other path
/// with the status and body the test sets.
/// The status and body every path but `/v1/chain/info` answers.
type Answer = Arc<Mutex<(u16, Vec<u8>)>>;

struct HostileNode {
    addr: SocketAddr,
    answer: Answer,
    _task: tokio::task::JoinHandle<()>,
}

async fn answer(State(shared): State<(Answer, Vec<u8>)>, uri: Uri) -> Response {
    let (answer, info) = shared;
    if uri.path() == "/v1/chain/info" {
        return (StatusCode::OK, [("content-type", "application/json")], info).into_response();
    }
    let (status, body) = answer.lock().unwrap().clone();
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    (status, [("content-type", "application/json")], body).into_response()
}

impl HostileNode {
    async fn start() -> Self {
        let info = subnet_host::node::api::NodeInfo {
            node: AccountId([9; 32]),
            block: 10,
            block_time_ms: Some(100),
            dev_advance: false,
        };
        let answer_state = Arc::new(Mutex::new((200, b"{}".to_vec())));
        let app = Router::new().fallback(answer).with_state((answer_state.clone(), serde_json::to_vec(&info).unwrap()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        HostileNode { addr, answer: answer_state, _task: task }
    }
}

fn metagraph_json() -> String {
    let neurons = (0..4u16).map(|uid| NeuronInfo::new(uid, AccountId([uid as u8; 32]), AccountId([200; 32]))).collect();
    let m = Metagraph { netuid: 1, block: 1000, owner_coldkey: AccountId([200; 32]), owner_hotkey: None, neurons };
    serde_json::to_string_pretty(&m).unwrap()
}

fn answers() -> impl Strategy<Value = (u16, Vec<u8>)> {
    let statuses = prop_oneof![Just(200u16), Just(400), Just(404), Just(500), Just(503)];
    let bodies = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        (any::<usize>(), any::<usize>(), fragments()).prop_map(|(at, len, with)| splice(
            &metagraph_json(),
            at,
            len,
            &with
        )
        .into_bytes()),
        Just(b"{\"block\": 18446744073709551615}".to_vec()),
        Just(b"{\"netuids\": [1, 2, 65536]}".to_vec()),
        Just(b"{\"error\": \"x\", \"kind\": \"nope\"}".to_vec()),
        Just(b"[]".to_vec()),
        Just(b"null".to_vec()),
    ];
    (statuses, bodies)
}

/// Every read a daemon makes of a node, against any answer: a value or a typed
/// [`subnet_chain::ChainError`]; a metagraph that parses is dense (`uid == index`).
#[test]
fn chain_json_from_a_node_is_a_value_or_a_typed_error() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let node = rt.block_on(HostileNode::start());
    let chain = rt.block_on(RemoteChain::connect(&format!("http://{}", node.addr), [])).expect("connect");
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases: 256, ..ProptestConfig::default() });
    runner
        .run(&answers(), |(status, body)| {
            *node.answer.lock().unwrap() = (status, body);
            rt.block_on(async {
                let errors = [
                    chain.current_block().await.err(),
                    chain.subnets().await.err(),
                    chain.hyperparams(1).await.err(),
                    chain.epoch_schedule(1).await.err(),
                    chain.drand_beacon().await.err(),
                    chain.weights_row(1, 0, 0).await.err(),
                    chain.timelocked_commits(1, 0, &AccountId([1; 32])).await.err(),
                ];
                for e in errors.into_iter().flatten() {
                    assert!(!e.to_string().is_empty());
                }
                match chain.metagraph(1).await {
                    Ok(m) => assert!(m.neurons.iter().enumerate().all(|(i, n)| usize::from(n.uid) == i), "dense"),
                    Err(e) => assert!(!e.to_string().is_empty()),
                }
            });
            Ok(())
        })
        .unwrap();
}
