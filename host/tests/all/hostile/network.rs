//! Network (issue 14, items 1-4, 14, 15): each test sends the attacker's input to the real miner
//! server (`subnetd miner`'s code path, the hello-subnet miner module where a module answers),
//! the real transport or the real chain node, on loopback with real signatures and the embedded
//! chain, and asserts that honest calls keep succeeding, that the refusal is the documented one,
//! and that peak memory stays bounded.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use subnet_chain::local::{LocalChain, LocalChainConfig};
use subnet_chain::{AccountId, ChainError, NetUid};
use subnet_host::bindings::types::{MinerRequest, Payload, ResponseStatus};
use subnet_host::net::admission::CallerPolicy;
use subnet_host::net::{
    HandlerContext, HandlerError, HttpTransport, HttpTransportConfig, MinerServerConfig, MinerServerHandle, TASK_PATH,
    TaskHandler, spawn_miner_server, spawn_miner_server_with,
};
use subnet_host::node::serve::DevCalls;
use subnet_host::node::{ChainNodeConfig, RemoteChain, spawn_chain_node};
use subnet_host::validator::{MinerQuery, MinerTransport};
use subnet_keys::btauth::{fresh_nonce, sign_request};
use subnet_keys::{CryptoType, Keypair};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common;
use crate::net::support;

const TAO: u64 = 1_000_000_000;

/// Peak resident memory of this test process so far, in MiB (VmHWM). The test binary runs
/// tests in parallel, so the figure covers them all: the bound each test states is for the
/// whole process.
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

/// The bound on the process's peak memory every test here states.
const PEAK_MIB: u64 = 3072;

fn key() -> Keypair {
    Keypair::generate(CryptoType::Sr25519)
}

/// A subnet on an in-memory chain with these hotkeys registered and staked (TAO).
fn chain_with(keys: &[(&Keypair, u64)]) -> (Arc<LocalChain>, NetUid) {
    let chain = LocalChain::in_memory_with(LocalChainConfig { allow_loopback_axons: true, ..Default::default() });
    let netuid = chain.create_subnet(&key().account_id(), None).unwrap();
    for (k, tao) in keys {
        let cold = key().account_id();
        chain.register_now(&k.account_id(), &cold, netuid).unwrap();
        if *tao > 0 {
            chain.add_stake(&cold, &k.account_id(), netuid, tao * TAO).unwrap();
        }
    }
    (Arc::new(chain), netuid)
}

fn local_transport(k: &Keypair) -> HttpTransport {
    HttpTransport::new(k.clone(), HttpTransportConfig { allow_private_targets: true, ..Default::default() })
}

fn query(miner: &AccountId, axon: SocketAddr, netuid: NetUid, task: &str, body: &str) -> MinerQuery {
    let timeout = Duration::from_secs(20);
    MinerQuery {
        uid: 0,
        hotkey: *miner,
        axon: Some(axon),
        request: MinerRequest {
            task_id: task.into(),
            netuid,
            validator: String::new(),
            payload: Payload { content_type: "application/json".into(), body: body.as_bytes().to_vec() },
            timeout_ms: u32::try_from(timeout.as_millis()).unwrap(),
        }
        .into(),
        timeout,
        seed: 0,
        max_answer_bytes: 16 << 20,
    }
}

async fn hello_miner(config: MinerServerConfig, chain: Arc<LocalChain>) -> MinerServerHandle {
    let built = common::bundle("examples/hello-subnet");
    let module = common::runtime().load_miner("hello", &common::read(&built.miners[0].2)).unwrap();
    spawn_miner_server(config, module, chain).await.unwrap()
}

/// Signed headers as `signer`, for the body `body`.
fn signed(signer: &Keypair, miner: &AccountId, body: &[u8]) -> Vec<(String, String)> {
    let mut h = vec![("Content-Type".to_string(), "application/json".to_string())];
    h.extend(sign_request(signer, "POST", TASK_PATH, body, Some(miner), fresh_nonce()));
    h
}

/// One slowloris connection after another from `source`, each claiming `claimed` with a random
/// signature, declaring 64 KiB and sending a byte every 300 ms until the server answers; every
/// answer's status and reason is recorded. Runs until `stop`.
async fn slowloris(
    source: IpAddr,
    server: SocketAddr,
    claimed: Keypair,
    miner: AccountId,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<BTreeMap<String, u64>>>,
) {
    while !stop.load(Ordering::Relaxed) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        if socket.bind(SocketAddr::new(source, 0)).is_err() {
            return;
        }
        let Ok(mut stream) = socket.connect(server).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let mut head = format!("POST {TASK_PATH} HTTP/1.1\r\nHost: {server}\r\nContent-Length: 65536\r\n");
        for (k, v) in sign_request(&claimed, "POST", TASK_PATH, b"whatever", Some(&miner), fresh_nonce()) {
            let v = if k == "X-Bittensor-Signature" { format!("0x{}", hex::encode(rand_bytes())) } else { v };
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\nx");
        if stream.write_all(head.as_bytes()).await.is_err() {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        let answer = loop {
            tokio::select! {
                n = stream.read(&mut buf) => break match n {
                    Ok(n) if n > 0 => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
                    _ => None,
                },
                _ = tokio::time::sleep(Duration::from_millis(300)) => {
                    if stop.load(Ordering::Relaxed) || stream.write_all(b"x").await.is_err() {
                        break None;
                    }
                }
            }
        };
        if let Some(text) = answer {
            let status = text.split_whitespace().nth(1).unwrap_or("?").to_owned();
            let reason = text.split("\"error\":\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("-").to_owned();
            *seen.lock().unwrap().entry(format!("{status} {reason}")).or_default() += 1;
        }
        // A real attacker reconnects at once; a short pause keeps 2 cores usable.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn rand_bytes() -> [u8; 64] {
    // A valid signature by a throwaway key: as random as it gets to the verifier.
    key().sign(b"noise")
}

/// Item 1: 512 slow connections claiming a 1000-TAO validator's hotkey with random signatures
/// (from 32 addresses) no longer lock it out: its signed queries are answered, and so are another
/// validator's first ones; the slow ones are refused with the documented codes and never reach
/// the module.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_claiming_a_staked_validator_does_not_lock_it_out() {
    let validator = key();
    let other = key();
    let miner = key();
    let (chain, netuid) = chain_with(&[(&validator, 1000), (&other, 10), (&miner, 0)]);
    let server = hello_miner(MinerServerConfig::new(netuid, miner.account_id()), chain).await;
    let addr = server.local_addr();
    let me = miner.account_id();
    let v = local_transport(&validator);
    // Steady state before the attack: the validator has been querying this miner.
    assert_eq!(v.query(query(&me, addr, netuid, "before", "21")).await.status, ResponseStatus::Ok);

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(BTreeMap::new()));
    let attackers: Vec<_> = (0..512u32)
        .map(|i| {
            let source = IpAddr::V4(Ipv4Addr::new(127, 0, 1, 2 + (i % 32) as u8));
            tokio::spawn(slowloris(source, addr, validator.clone(), me, stop.clone(), seen.clone()))
        })
        .collect();
    assert!(support::eventually(60, || server.stats().unverified >= 16).await, "the attack holds places");

    for i in 0..5 {
        let r = v.query(query(&me, addr, netuid, &format!("v{i}"), "21")).await;
        assert_eq!(r.status, ResponseStatus::Ok, "validator query {i} under attack: {r:?} {:?}", server.stats());
        assert_eq!(r.payload.unwrap().body, b"42");
    }
    let o = local_transport(&other);
    for i in 0..5 {
        let r = o.query(query(&me, addr, netuid, &format!("o{i}"), "21")).await;
        assert_eq!(r.status, ResponseStatus::Ok, "first-contact validator query {i}: {r:?}");
    }
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        let _ = tokio::time::timeout(Duration::from_secs(30), a).await;
    }
    let stats = server.stats();
    assert_eq!(stats.handler_calls, 11, "only the honest queries reached the module: {stats:?}");
    let seen = seen.lock().unwrap().clone();
    let documented =
        ["429 unverified_limit", "429 unverified_evicted", "408 body_too_slow", "429 rate_limited", "408 body_timeout"];
    assert!(!seen.is_empty(), "the attackers got answers");
    for answer in seen.keys() {
        assert!(documented.contains(&answer.as_str()), "undocumented answer to a slowloris: {answer} ({seen:?})");
    }
    let peak = peak_rss_mib();
    assert!(peak < PEAK_MIB, "peak memory {peak} MiB over {PEAK_MIB} MiB");
    server.shutdown().await;
}

/// Answers "1", holding every request until released; records callers in order.
struct Holder {
    order: Mutex<Vec<AccountId>>,
    release: tokio::sync::Semaphore,
}

#[async_trait]
impl TaskHandler for Holder {
    async fn handle(&self, _request: MinerRequest, ctx: HandlerContext) -> Result<Payload, HandlerError> {
        self.order.lock().unwrap().push(ctx.caller);
        self.release.acquire().await.map_err(|e| HandlerError::Failed(e.to_string()))?.forget();
        Ok(Payload { content_type: "application/json".into(), body: b"1".to_vec() })
    }
}

/// Item 2: zero-stake registered hotkeys are refused by default (403 `not_validator`); where
/// the miner serves them, they cannot keep a staked caller out of a full queue (the newest
/// lowest-stake waiter is evicted, 429 `evicted`), and no hotkey holds more than its quota
/// (429 `hotkey_quota`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_stake_hotkeys_cannot_squat_the_queue() {
    let staked = key();
    let rich = key();
    let squatters: Vec<Keypair> = (0..5).map(|_| key()).collect();
    let miner = key();
    let mut registered: Vec<(&Keypair, u64)> = vec![(&staked, 1), (&rich, 1000), (&miner, 0)];
    registered.extend(squatters.iter().map(|k| (k, 0)));
    let (chain, netuid) = chain_with(&registered);
    let me = miner.account_id();

    // The default: only permitted or staked callers.
    let server = hello_miner(MinerServerConfig::new(netuid, me), chain.clone()).await;
    let a =
        support::raw_request(server.local_addr(), "POST", TASK_PATH, &signed(&squatters[0], &me, b"21"), b"21").await;
    assert_eq!((a.status, a.reason()), (403, "not_validator"), "{a:?}");
    let r = local_transport(&staked).query(query(&me, server.local_addr(), netuid, "ok", "21")).await;
    assert_eq!(r.status, ResponseStatus::Ok);
    server.shutdown().await;

    // Serving every registered hotkey: one slot, a queue of 3, a quota of 2 per hotkey.
    let holder = Arc::new(Holder { order: Mutex::new(Vec::new()), release: tokio::sync::Semaphore::new(0) });
    let mut config = MinerServerConfig::new(netuid, me);
    config.admission.callers = CallerPolicy::Registered;
    config.max_concurrency = 1;
    config.max_queue = 3;
    config.per_hotkey_quota = 2;
    let server = spawn_miner_server_with(config, holder.clone(), chain.clone()).await.unwrap();
    let addr = server.local_addr();
    let send = |k: &Keypair, task: &str| {
        let t = local_transport(k);
        let q = query(&me, addr, netuid, task, "1");
        tokio::spawn(async move { t.query(q).await.status })
    };
    let holding = send(&squatters[0], "hold");
    assert!(support::eventually(20, || server.stats().busy == 1).await);
    let mut queued = Vec::new();
    for (i, s) in squatters[1..4].iter().enumerate() {
        queued.push(send(s, &format!("q{i}")));
        assert!(support::eventually(20, || server.stats().queued == i as u64 + 1).await);
    }
    // Full of zero-stake waiters: another zero-stake caller is refused...
    assert_eq!(send(&squatters[4], "late").await.unwrap(), ResponseStatus::Refused);
    assert_eq!(server.stats().refused.get("overloaded"), Some(&1));
    // ...but a staked one takes the newest squatter's place, twice.
    let q3 = queued.pop().unwrap();
    let q2 = queued.pop().unwrap();
    let q1 = queued.pop().unwrap();
    let rich1 = send(&rich, "r1");
    assert_eq!(q3.await.unwrap(), ResponseStatus::Refused);
    let rich2 = send(&rich, "r2");
    assert_eq!(q2.await.unwrap(), ResponseStatus::Refused);
    assert!(support::eventually(20, || server.stats().refused.get("evicted") == Some(&2)).await);
    // Its quota is 2 places (queued and running): a third at once is refused.
    let a = support::raw_request(addr, "POST", TASK_PATH, &signed(&rich, &me, b"1"), b"1").await;
    assert_eq!((a.status, a.reason()), (429, "hotkey_quota"), "{a:?}");

    holder.release.add_permits(16);
    assert_eq!(holding.await.unwrap(), ResponseStatus::Ok);
    for t in [rich1, rich2, q1] {
        assert_eq!(t.await.unwrap(), ResponseStatus::Ok);
    }
    let order = holder.order.lock().unwrap().clone();
    let want = [squatters[0].account_id(), rich.account_id(), rich.account_id(), squatters[1].account_id()];
    assert_eq!(order, want, "stake first once the holder is done");
    let peak = peak_rss_mib();
    assert!(peak < PEAK_MIB, "peak memory {peak} MiB over {PEAK_MIB} MiB");
    server.shutdown().await;
}

/// Item 3: one sender flooding valid requests raises only its own replay horizon (another
/// sender's older request is still accepted), and is rate limited before verification
/// (429 `rate_limited`, never reaching the module).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_senders_flood_raises_only_its_own_horizon() {
    let honest = key();
    let flooder = key();
    let miner = key();
    let (chain, netuid) = chain_with(&[(&honest, 100), (&flooder, 100), (&miner, 0)]);
    let me = miner.account_id();
    let mut config = MinerServerConfig::new(netuid, me);
    config.verifier.replay_per_sender = 8;
    let server = hello_miner(config, chain).await;
    let addr = server.local_addr();

    // The honest request is signed first and arrives last.
    let early = signed(&honest, &me, b"21");
    let first_flood = signed(&flooder, &me, b"21");
    let mut flood = vec![first_flood.clone()];
    flood.extend((0..59).map(|_| signed(&flooder, &me, b"21")));
    let mut answers: BTreeMap<String, u64> = BTreeMap::new();
    for h in &flood {
        let a = support::raw_request(addr, "POST", TASK_PATH, h, b"21").await;
        *answers.entry(format!("{} {}", a.status, a.reason())).or_default() += 1;
    }
    let ok = answers.get("200 ").copied().unwrap_or(0);
    assert!(ok >= 8, "the flooder's first requests were served: {answers:?}");
    assert!(answers.get("429 rate_limited").copied().unwrap_or(0) >= 1, "{answers:?}");
    assert_eq!(answers.len(), 2, "only answers and rate limits: {answers:?}");
    let stats = server.stats();
    assert_eq!(stats.handler_calls, ok, "rate-limited requests never reached the module");

    let a = support::raw_request(addr, "POST", TASK_PATH, &early, b"21").await;
    assert_eq!((a.status, a.body.as_slice()), (200, b"42".as_slice()), "{a:?}");
    // The flooder's own old nonce fell below its own horizon.
    let a = support::raw_request(addr, "POST", TASK_PATH, &first_flood, b"21").await;
    assert_eq!((a.status, a.reason()), (401, "replay_horizon"), "{a:?}");
    assert!(server.stats().replay_entries <= 16, "per-sender bound: {:?}", server.stats());
    server.shutdown().await;
}

/// Item 4: a hotkey unknown to the miner's snapshot is refused at once (403 `not_registered`),
/// without waiting for the chain, and the miss refreshes the snapshot in the background, so the
/// same hotkey, registered meanwhile, is served shortly after without any new block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_hotkeys_are_refused_at_once_and_refreshed_in_background() {
    let validator = key();
    let miner = key();
    let (chain, netuid) = chain_with(&[(&validator, 100), (&miner, 0)]);
    let me = miner.account_id();
    let mut config = MinerServerConfig::new(netuid, me);
    config.miss_refresh_interval = Duration::ZERO;
    config.metagraph_ttl = Duration::from_secs(3600);
    let server = hello_miner(config, chain.clone()).await;
    let addr = server.local_addr();

    // Registered on chain after the miner read its snapshot, and no block since.
    let late = key();
    let cold = key().account_id();
    chain.register_now(&late.account_id(), &cold, netuid).unwrap();
    chain.add_stake(&cold, &late.account_id(), netuid, 50 * TAO).unwrap();
    let a = support::raw_request(addr, "POST", TASK_PATH, &signed(&late, &me, b"21"), b"21").await;
    assert_eq!((a.status, a.reason()), (403, "not_registered"), "answered from the snapshot: {a:?}");
    // A flood of unknown hotkeys: each refused the same way; the honest validator is served.
    for _ in 0..50 {
        let a = support::raw_request(addr, "POST", TASK_PATH, &signed(&key(), &me, b"21"), b"21").await;
        assert_eq!((a.status, a.reason()), (403, "not_registered"));
    }
    let r = local_transport(&validator).query(query(&me, addr, netuid, "v", "21")).await;
    assert_eq!(r.status, ResponseStatus::Ok);
    let mut served = false;
    for _ in 0..100 {
        let a = support::raw_request(addr, "POST", TASK_PATH, &signed(&late, &me, b"21"), b"21").await;
        if a.status == 200 {
            served = true;
            break;
        }
        assert_eq!((a.status, a.reason()), (403, "not_registered"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "the background refresh picked up the registration");
    assert_eq!(server.stats().handler_calls, 2);
    server.shutdown().await;
}

/// Item 14: miners' axon addresses on loopback (any 127/8 alias), link-local (the metadata
/// address), private or IPv6 loopback are not contacted unless the subnet allows private
/// targets: the query is `failed` at once and nothing connects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validator_refuses_private_and_metadata_targets() {
    let validator = key();
    let miner = key();
    let (chain, netuid) = chain_with(&[(&validator, 100), (&miner, 0)]);
    let me = miner.account_id();
    let server = hello_miner(MinerServerConfig::new(netuid, me), chain).await;
    let trap = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let strict = HttpTransport::new(validator.clone(), HttpTransportConfig::default());
    let targets: Vec<SocketAddr> = vec![
        trap.local_addr().unwrap(),
        server.local_addr(),
        "169.254.169.254:80".parse().unwrap(),
        "10.0.0.1:8091".parse().unwrap(),
        "127.53.0.1:8091".parse().unwrap(),
        "[::1]:8091".parse().unwrap(),
        "[::ffff:169.254.169.254]:80".parse().unwrap(),
    ];
    for t in &targets {
        let r = strict.query(query(&me, *t, netuid, "t", "21")).await;
        assert_eq!((r.status, r.latency_ms), (ResponseStatus::Failed, 0), "{t}: {r:?}");
    }
    assert_eq!(strict.refused_targets(), targets.len() as u64);
    assert!(matches!(trap.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock), "nothing connected");
    assert_eq!(server.stats().requests, 0);
    // The subnet's own key allows them (local test nets, the sandbox).
    let r = local_transport(&validator).query(query(&me, server.local_addr(), netuid, "ok", "21")).await;
    assert_eq!(r.status, ResponseStatus::Ok);
    server.shutdown().await;
}

fn invalid(e: &ChainError, code: &str) -> bool {
    matches!(e, ChainError::InvalidInput(m) if m.contains(code))
}

/// Item 15: the dev chain node serves dev calls only when told to; when it does, `dev/advance`
/// is bounded per call and runs one at a time, and `add_stake` mints a bounded amount at a
/// bounded rate. Through the CLI: `chain serve` without `--dev` refuses `chain advance`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_chain_calls_are_off_unless_asked_and_bounded() {
    let local = Arc::new(LocalChain::in_memory());
    let owner = key();
    let netuid = local.create_subnet(&owner.account_id(), None).unwrap();
    let hot = key();
    local.register_now(&hot.account_id(), &owner.account_id(), netuid).unwrap();

    let mut config = ChainNodeConfig::new(key());
    config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.dev = DevCalls::off();
    let node = spawn_chain_node(local.clone(), config.clone()).await.unwrap();
    let chain = RemoteChain::connect(&node.url(), [owner.clone()]).await.unwrap();
    assert!(!chain.info().await.unwrap().dev_advance);
    let before = local.block();
    assert!(invalid(&chain.advance_blocks(100_000).await.unwrap_err(), "dev_disabled"));
    let e = chain.add_stake(&owner.account_id(), &hot.account_id(), netuid, 1).await.unwrap_err();
    assert!(invalid(&e, "dev_disabled"), "{e}");
    assert_eq!(local.block(), before);
    node.shutdown().await;

    config.dev = DevCalls::on();
    let node = spawn_chain_node(local.clone(), config).await.unwrap();
    let chain = RemoteChain::connect(&node.url(), [owner.clone()]).await.unwrap();
    // 400 invalid_input, whose message the client keeps.
    assert!(invalid(&chain.advance_blocks(100_000).await.unwrap_err(), "at most 1000 blocks"));
    assert_eq!(local.block(), before, "refused before any block");
    chain.advance_blocks(1000).await.unwrap();
    assert_eq!(local.block(), before + 1000);
    let e = chain.add_stake(&owner.account_id(), &hot.account_id(), netuid, u64::MAX).await.unwrap_err();
    assert!(invalid(&e, "mints at most"), "{e}");
    let mut limited = 0;
    for _ in 0..48 {
        match chain.add_stake(&owner.account_id(), &hot.account_id(), netuid, TAO).await {
            Ok(_) => {}
            Err(e) if invalid(&e, "rate_limited") => limited += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(limited >= 1, "minting is rate limited");
    let m = local.metagraph_now(netuid).unwrap();
    assert!(m.neurons[0].stake <= 48 * TAO);
    node.shutdown().await;

    // The CLI: off without --dev.
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("chain");
    let s = state.to_str().unwrap();
    let node = support::Proc::start(
        &support::subnetd(),
        &["chain", "serve", "--state", s, "--listen", "127.0.0.1:0"],
        tmp.path().join("node.log"),
    );
    let err = support::run_err(&["chain", "advance", "--chain", &node.line, "--blocks", "1"]);
    assert!(err.contains("dev_disabled"), "{err}");
    drop(node);
    let node = support::Proc::start(
        &support::subnetd(),
        &["chain", "serve", "--state", s, "--listen", "127.0.0.1:0", "--dev"],
        tmp.path().join("node-dev.log"),
    );
    support::run_ok(&["chain", "advance", "--chain", &node.line, "--blocks", "1"]);
    let err = support::run_err(&["chain", "advance", "--chain", &node.line, "--blocks", "5000"]);
    assert!(err.contains("at most 1000 blocks"), "{err}");
}
