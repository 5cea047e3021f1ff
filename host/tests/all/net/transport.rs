//! The validator's transport against misbehaving miners, and the miner server's refusals and
//! stake-priority gate, in one process on loopback (real sockets, real signatures, the real
//! hello-subnet miner module where a module answers).

use super::support;
use crate::common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use subnet_chain::local::{LocalChain, LocalChainConfig};
use subnet_chain::{AccountId, NetUid};
use subnet_host::bindings::types::{MinerRequest, MinerResponse, Payload, ResponseStatus};
use subnet_host::net::{
    HandlerContext, HandlerError, HttpTransport, HttpTransportConfig, MinerServerConfig, TASK_PATH, TaskHandler,
    spawn_miner_server, spawn_miner_server_with,
};
use subnet_host::validator::{MinerQuery, MinerTransport};
use subnet_keys::btauth::{fresh_nonce, sign_request};
use subnet_keys::{CryptoType, Keypair};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A subnet on an in-memory chain with these hotkeys registered and staked (TAO).
fn chain_with(keys: &[(&Keypair, u64)]) -> (Arc<LocalChain>, NetUid) {
    let chain = LocalChain::in_memory_with(LocalChainConfig { allow_loopback_axons: true, ..Default::default() });
    let owner = Keypair::generate(CryptoType::Sr25519).account_id();
    let netuid = chain.create_subnet(&owner, None).unwrap();
    for (key, tao) in keys {
        let cold = Keypair::generate(CryptoType::Sr25519).account_id();
        chain.register_now(&key.account_id(), &cold, netuid).unwrap();
        if *tao > 0 {
            chain.add_stake(&cold, &key.account_id(), netuid, tao * 1_000_000_000).unwrap();
        }
    }
    (Arc::new(chain), netuid)
}

fn query(
    miner: &AccountId,
    axon: SocketAddr,
    netuid: NetUid,
    task_id: &str,
    body: &str,
    timeout: Duration,
) -> MinerQuery {
    MinerQuery {
        uid: 0,
        hotkey: *miner,
        axon: Some(axon),
        request: MinerRequest {
            task_id: task_id.into(),
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

#[derive(Clone, Copy, Debug)]
enum Bad {
    Stall,
    TrickleBody,
    TrickleHeaders,
    EndlessBody,
    Garbage,
    ServerError,
    NotFound,
    Redirect,
    NoContentType,
    HugeDeclared,
}

async fn write(s: &mut tokio::net::TcpStream, bytes: impl AsRef<[u8]>) -> bool {
    s.write_all(bytes.as_ref()).await.is_ok()
}

/// A "miner" that reads a request and then misbehaves as told, on every connection.
async fn bad_miner(kind: Bad) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1 << 16];
                let _ = s.read(&mut buf).await;
                match kind {
                    Bad::Stall => tokio::time::sleep(Duration::from_secs(3600)).await,
                    Bad::TrickleBody => {
                        let head =
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n";
                        if write(&mut s, &head).await {
                            while write(&mut s, &b"1").await {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                        }
                    }
                    Bad::TrickleHeaders => {
                        // A valid start, then a header line that never ends.
                        let mut open = write(&mut s, &"HTTP/1.1 200 OK\r\nX-Slow: ").await;
                        while open {
                            open = write(&mut s, &b"a").await;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                    Bad::EndlessBody => {
                        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
                        let mut chunk = format!("{:x}\r\n", 64 << 10).into_bytes();
                        chunk.extend(std::iter::repeat_n(b'z', 64 << 10));
                        chunk.extend_from_slice(b"\r\n");
                        if write(&mut s, &head).await {
                            while write(&mut s, &chunk).await {}
                        }
                    }
                    Bad::Garbage => {
                        write(&mut s, &b"\x00\x01\x02 this is not HTTP\r\n\r\n").await;
                    }
                    Bad::ServerError => {
                        write(&mut s, &b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n").await;
                    }
                    Bad::NotFound => {
                        write(&mut s, &b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").await;
                    }
                    Bad::Redirect => {
                        write(&mut s, &b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n")
                            .await;
                    }
                    Bad::NoContentType => {
                        write(&mut s, &b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n42").await;
                    }
                    Bad::HugeDeclared => {
                        let head =
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n";
                        write(&mut s, &head).await;
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_miners_cost_only_their_own_query() {
    let validator = Keypair::generate(CryptoType::Sr25519);
    let honest_key = Keypair::generate(CryptoType::Sr25519);
    let (chain, netuid) = chain_with(&[(&validator, 100), (&honest_key, 0)]);
    let built = common::bundle("examples/hello-subnet");
    let module = common::runtime().load_miner("honest", &common::read(&built.miners[0].2)).unwrap();
    let honest = spawn_miner_server(MinerServerConfig::new(netuid, honest_key.account_id()), module, chain.clone())
        .await
        .unwrap();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };

    let kinds = [
        Bad::Stall,
        Bad::TrickleBody,
        Bad::TrickleHeaders,
        Bad::EndlessBody,
        Bad::Garbage,
        Bad::ServerError,
        Bad::NotFound,
        Bad::Redirect,
        Bad::NoContentType,
        Bad::HugeDeclared,
    ];
    let mut targets = vec![("honest".to_string(), honest.local_addr(), ResponseStatus::Ok)];
    for kind in kinds {
        let want = match kind {
            Bad::Stall | Bad::TrickleBody | Bad::TrickleHeaders => ResponseStatus::Timeout,
            Bad::EndlessBody | Bad::Redirect | Bad::NoContentType | Bad::HugeDeclared => ResponseStatus::Malformed,
            Bad::Garbage | Bad::ServerError => ResponseStatus::Failed,
            Bad::NotFound => ResponseStatus::Refused,
        };
        targets.push((format!("{kind:?}"), bad_miner(kind).await, want));
    }
    targets.push(("closed port".into(), closed, ResponseStatus::Failed));

    let transport = HttpTransport::new(
        validator,
        HttpTransportConfig { allow_private_targets: true, ..HttpTransportConfig::default() },
    );
    let timeout = Duration::from_millis(1500);
    let started = Instant::now();
    // Twice over the same transport: pooled connections of the first round must not spoil the
    // second (a trickling miner's connection is dropped, never reused).
    for round in 0..2 {
        let responses: Vec<MinerResponse> = futures::future::join_all(targets.iter().map(|(name, addr, _)| {
            transport.query(query(&honest_key.account_id(), *addr, netuid, &format!("{name}-{round}"), "21", timeout))
        }))
        .await;
        for ((name, _, want), r) in targets.iter().zip(&responses) {
            assert_eq!(r.status, *want, "{name} (round {round}): {r:?}");
            assert!(r.latency_ms <= 1500, "{name}: latency {} ms past the timeout", r.latency_ms);
        }
        let answer = responses[0].payload.as_ref().expect("the honest miner answered");
        assert_eq!(answer.body, b"42");
    }
    // Two rounds, each bounded by the 1.5 s timeout, whatever the other miners did (generous
    // slack for a loaded 2-core machine; without the bound a stalled miner takes an hour).
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}

/// Answers "1" to everyone, but holds the request of one hotkey until released; records the
/// order in which callers reached it.
struct Recorder {
    order: Mutex<Vec<AccountId>>,
    hold: AccountId,
    release: tokio::sync::Semaphore,
}

#[async_trait]
impl TaskHandler for Recorder {
    async fn handle(&self, _request: MinerRequest, ctx: HandlerContext) -> Result<Payload, HandlerError> {
        self.order.lock().unwrap().push(ctx.caller);
        if ctx.caller == self.hold {
            self.release.acquire().await.map_err(|e| HandlerError::Failed(e.to_string()))?.forget();
        }
        Ok(Payload { content_type: "application/json".into(), body: b"1".to_vec() })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saturated_miner_serves_the_highest_stake_first() {
    let keys: Vec<Keypair> = (0..5).map(|_| Keypair::generate(CryptoType::Sr25519)).collect();
    let miner = Keypair::generate(CryptoType::Sr25519);
    let stakes = [1u64, 10, 1000, 100, 5];
    let mut registered: Vec<(&Keypair, u64)> = keys.iter().zip(stakes).collect();
    registered.push((&miner, 0));
    let (chain, netuid) = chain_with(&registered);
    let recorder = Arc::new(Recorder {
        order: Mutex::new(Vec::new()),
        hold: keys[0].account_id(),
        release: tokio::sync::Semaphore::new(0),
    });
    let mut config = MinerServerConfig::new(netuid, miner.account_id());
    config.max_concurrency = 1;
    config.max_queue = 3;
    let server = spawn_miner_server_with(config, recorder.clone(), chain.clone()).await.unwrap();
    let addr = server.local_addr();
    let send = |key: &Keypair, task: &str| {
        let transport = HttpTransport::new(
            key.clone(),
            HttpTransportConfig { allow_private_targets: true, ..HttpTransportConfig::default() },
        );
        let q = query(&miner.account_id(), addr, netuid, task, "1", Duration::from_secs(20));
        tokio::spawn(async move { transport.query(q).await })
    };

    // Stake 1 takes the only slot and holds it.
    let a = send(&keys[0], "a");
    assert!(support::eventually(10, || server.stats().busy == 1).await);
    // Stakes 10, 1000, 100 queue up in that order of arrival.
    let mut queued = Vec::new();
    for (i, task) in [(1, "b"), (2, "c"), (3, "d")] {
        queued.push(send(&keys[i], task));
        let want = queued.len() as u64;
        assert!(support::eventually(10, || server.stats().queued == want).await, "{task} queued");
    }
    // The queue is full: the next caller is told the miner is overloaded, whatever its stake.
    let e = send(&keys[4], "e").await.unwrap();
    assert_eq!(e.status, ResponseStatus::Refused);
    assert_eq!(server.stats().refused.get("overloaded"), Some(&1));

    recorder.release.add_permits(1);
    assert_eq!(a.await.unwrap().status, ResponseStatus::Ok);
    for q in queued {
        assert_eq!(q.await.unwrap().status, ResponseStatus::Ok);
    }
    let order = recorder.order.lock().unwrap().clone();
    let want: Vec<AccountId> = [0, 2, 3, 1].iter().map(|&i| keys[i].account_id()).collect();
    assert_eq!(order, want, "served by stake (1000, 100, 10) after the holder");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miner_server_refusals_name_their_reason() {
    let validator = Keypair::generate(CryptoType::Sr25519);
    let banned = Keypair::generate(CryptoType::Sr25519);
    let poor = Keypair::generate(CryptoType::Ed25519);
    let miner = Keypair::generate(CryptoType::Sr25519);
    let (chain, netuid) = chain_with(&[(&validator, 100), (&banned, 100), (&poor, 0), (&miner, 0)]);
    let built = common::bundle("examples/hello-subnet");
    let module = common::runtime().load_miner("honest", &common::read(&built.miners[0].2)).unwrap();
    let mut config = MinerServerConfig::new(netuid, miner.account_id());
    config.blacklist.insert(banned.account_id());
    config.min_stake_rao = 1_000_000_000;
    let server = spawn_miner_server(config, module, chain.clone()).await.unwrap();
    let addr = server.local_addr();
    let me = miner.account_id();

    let status = |key: &Keypair, body: &str| {
        let t = HttpTransport::new(
            key.clone(),
            HttpTransportConfig { allow_private_targets: true, ..HttpTransportConfig::default() },
        );
        let q = query(&me, addr, netuid, "t", body, Duration::from_secs(5));
        async move { t.query(q).await.status }
    };
    assert_eq!(status(&validator, "21").await, ResponseStatus::Ok);
    assert_eq!(status(&banned, "21").await, ResponseStatus::Refused);
    assert_eq!(status(&poor, "21").await, ResponseStatus::Refused);
    // The module's own refusal (the double overflows u64) is a refusal too.
    assert_eq!(status(&validator, "18446744073709551615").await, ResponseStatus::Refused);
    let s = server.stats();
    for reason in ["blacklisted", "insufficient_stake", "module_refused"] {
        assert_eq!(s.refused.get(reason), Some(&1), "{reason}: {s:?}");
    }
    assert_eq!(s.handler_calls, 2);

    // Raw requests for the codes a well-behaved client never triggers.
    let body = b"21";
    let auth = |extra: &[(&str, &str)]| {
        let mut h: Vec<(String, String)> = extra.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        h.extend(sign_request(&validator, "POST", TASK_PATH, body, Some(&me), fresh_nonce()));
        h
    };
    let a = support::raw_request(addr, "POST", TASK_PATH, &auth(&[("X-Subnet-Netuid", "77")]), body).await;
    assert_eq!((a.status, a.reason()), (421, "wrong_netuid"));
    let a = support::raw_request(addr, "POST", TASK_PATH, &auth(&[("X-Subnet-Timeout-Ms", "soon")]), body).await;
    assert_eq!((a.status, a.reason()), (400, "bad_request"));
    let a = support::raw_request(addr, "POST", TASK_PATH, &[], body).await;
    assert_eq!((a.status, a.reason()), (401, "missing_header"));
    let wrong_receiver =
        sign_request(&validator, "POST", TASK_PATH, body, Some(&validator.account_id()), fresh_nonce());
    let a = support::raw_request(addr, "POST", TASK_PATH, &wrong_receiver, body).await;
    assert_eq!((a.status, a.reason()), (401, "wrong_receiver"));
    let a = support::raw_request(addr, "GET", TASK_PATH, &[], b"").await;
    assert_eq!((a.status, a.reason()), (405, "method_not_allowed"));
    let a = support::raw_request(addr, "POST", "/v2/other", &[], b"").await;
    assert_eq!((a.status, a.reason()), (404, "not_found"));
    let a = support::raw_request(addr, "GET", "/v1/health", &[], b"").await;
    assert_eq!(a.json["hotkey"], me.to_ss58());
    // A body the module cannot read as its task: refused by the module, with its reason.
    let a = support::raw_request(addr, "POST", TASK_PATH, &auth(&[("Content-Type", "application/json")]), body).await;
    assert_eq!(a.status, 200, "{a:?}");
    let garbage = b"not json";
    let mut h = vec![("Content-Type".to_string(), "application/json".to_string())];
    h.extend(sign_request(&validator, "POST", TASK_PATH, garbage, Some(&me), fresh_nonce()));
    let a = support::raw_request(addr, "POST", TASK_PATH, &h, garbage).await;
    assert_eq!((a.status, a.reason()), (422, "module_refused"), "{a:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_style_simulated_miners_over_http() {
    use subnet_chain::Chain;
    use subnet_host::runtime::SubnetEnv;
    use subnet_host::sim::{SimMiner, serve_sim_miners};
    use subnet_host::validator::state::ScoreState;
    use subnet_host::validator::{RoundInput, RoundLimits, run_round};

    let validator = Keypair::generate(CryptoType::Sr25519);
    let miners: Vec<Keypair> = (0..3).map(|_| Keypair::generate(CryptoType::Sr25519)).collect();
    let mut registered: Vec<(&Keypair, u64)> = vec![(&validator, 100)];
    registered.extend(miners.iter().map(|k| (k, 0)));
    let (chain, netuid) = chain_with(&registered);
    let built = common::bundle("examples/hello-subnet");
    let rt = common::runtime();
    let honest = rt.load_miner("honest", &common::read(&built.miners[0].2)).unwrap();
    let sims = vec![
        (miners[0].clone(), SimMiner::Module(honest)),
        (miners[1].clone(), SimMiner::Lazy),
        (miners[2].clone(), SimMiner::Random),
    ];
    let subnet = Arc::new(SubnetEnv::new("hello miners"));
    let _servers =
        serve_sim_miners(chain.clone(), netuid, sims, subnet.clone(), &subnet_host::net::WireProtocol::Btauth)
            .await
            .unwrap();
    let metagraph = chain.metagraph(netuid).await.unwrap();
    assert!(metagraph.neurons.iter().skip(1).all(|n| n.axon.is_some()), "every simulated miner announced its axon");

    let module = rt.load_validator("hello", &common::read(&built.validator)).unwrap();
    let transport = HttpTransport::new(
        validator.clone(),
        HttpTransportConfig { allow_private_targets: true, ..HttpTransportConfig::default() },
    );
    let outcome = run_round(
        RoundInput {
            module: &module,
            subnet: &subnet,
            metagraph: &metagraph,
            validator: &validator.account_id(),
            epoch: 1,
            seed: 11,
            transport: &transport,
            limits: &RoundLimits::default(),
        },
        &mut ScoreState::new(),
    )
    .await
    .unwrap();
    let uid = |k: &Keypair| metagraph.uid_of(&k.account_id()).unwrap();
    let status = |u: u16| outcome.tasks.iter().find(|t| t.task.miners == [u]).unwrap().responses[0].status;
    let score = |u: u16| outcome.round_scores.iter().find(|s| s.uid == u).unwrap().score;
    assert_eq!((status(uid(&miners[0])), score(uid(&miners[0]))), (ResponseStatus::Ok, 1.0));
    assert_eq!((status(uid(&miners[1])), score(uid(&miners[1]))), (ResponseStatus::Timeout, 0.0));
    assert_eq!((status(uid(&miners[2])), score(uid(&miners[2]))), (ResponseStatus::Ok, 0.0));
}
