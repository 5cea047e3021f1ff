//! Outbound HTTP (`wasi:http` through the `http` capability) from a real guest
//! (`guests/caps-probe`, built with the Rust SDK's client) to real HTTP servers on loopback:
//! an allowed target answers; a target not on the list, a name that resolves to loopback, a
//! request over the per-call count, a body over the byte limit and a server that stalls are
//! each refused or cut, with the rule named; the calls of one round share its request, byte
//! and time budgets, and the next round starts afresh; a subnet without `outbound_hosts`
//! reaches nothing.
//!
//! Production allow-lists name hosts; loopback is reached here only because each test lists
//! `http://127.0.0.1:<port>` explicitly.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use subnet_host::caps::http::{OutboundLimits, OutboundPolicy};
use subnet_host::caps::kv::{KvStore, MemoryKv};
use subnet_host::caps::metagraph::MetagraphView;
use subnet_host::runtime::{CallEnv, SubnetEnv};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PROBE: &str = "host/tests/all/guests/caps-probe";

/// A loopback HTTP/1.1 server: `/price` answers `42.5`, `/big` 64 KiB, `/stall` never answers.
pub(crate) async fn server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&seen).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let body: Vec<u8> = match path.as_str() {
                    "/price" => b"42.5".to_vec(),
                    "/big" => vec![b'x'; 64 << 10],
                    "/stall" => {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        return;
                    }
                    _ => b"not found".to_vec(),
                };
                let reply = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
                let _ = socket.write_all(reply.as_bytes()).await;
                let _ = socket.write_all(&body).await;
            });
        }
    });
    port
}

/// Runs the probe over `urls` with `policy` granted (or none) and returns what each fetch gave.
async fn probe(urls: &[String], policy: Option<Arc<OutboundPolicy>>) -> Vec<Value> {
    let modules = common::modules(PROBE);
    let kv = MemoryKv::new(1 << 20);
    kv.set("urls", &serde_json::to_vec(urls).unwrap()).unwrap();
    let env = CallEnv::new("http-probe", 1, Arc::new(MetagraphView::default())).with_subnet(|s| {
        s.caps.kv = Some(kv.clone());
        s.caps.http = policy;
    });
    let tasks = modules.validator.generate_tasks(&env, &common::context(1)).await.expect("generate-tasks");
    tasks.iter().map(|t| serde_json::from_slice(&t.payload.body).unwrap()).collect()
}

fn error(v: &Value) -> &str {
    v["error"].as_str().unwrap_or_else(|| panic!("expected an error: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_hosts_answer_and_everything_else_is_refused_with_the_rule() {
    let port = server().await;
    let other = server().await;
    let limits = OutboundLimits {
        max_requests: 5,
        max_response_bytes: 1024,
        timeout: Duration::from_millis(400),
        ..OutboundLimits::default()
    };
    let policy =
        OutboundPolicy::new(&[&format!("http://127.0.0.1:{port}"), &format!("http://localhost:{other}")], limits)
            .unwrap();
    let urls = vec![
        format!("http://127.0.0.1:{port}/price"),
        format!("http://127.0.0.1:{other}/price"),
        format!("http://localhost:{other}/price"),
        format!("http://127.0.0.1:{port}/big"),
        format!("http://127.0.0.1:{port}/stall"),
        format!("http://127.0.0.1:{port}/price"),
    ];
    let started = std::time::Instant::now();
    let got = probe(&urls, Some(policy.clone())).await;

    assert_eq!(got[0]["status"], 200, "{}", got[0]);
    assert_eq!(got[0]["body"], "42.5");
    // A port that is not on the list, although the host is.
    let e = error(&got[1]);
    assert!(e.contains("outbound_hosts") && e.contains("is not allowed") && e.contains(&port.to_string()), "{e}");
    // A listed *name* that resolves to loopback.
    let e = error(&got[2]);
    assert!(
        e.contains("resolves to the loopback address") && e.contains("list non-global targets by IP literal"),
        "{e}"
    );
    // 64 KiB announced, 1 KiB allowed.
    let e = error(&got[3]);
    assert!(e.contains("outbound.max_response_bytes"), "{e}");
    // The stalled server: cut at the first-byte timeout, well within the call's deadline.
    let e = error(&got[4]);
    assert!(e.contains("Timeout"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    // The fifth request a rule admitted (the unlisted port is not one): the last within the count.
    assert_eq!(got[5]["status"], 200, "{}", got[5]);

    let stats = policy.stats();
    let here = &stats[&format!("http://127.0.0.1:{port}")];
    assert_eq!((here.requests, here.failed), (4, 2), "{stats:?}");
    assert_eq!(stats[&format!("http://127.0.0.1:{other}")].refused, 1, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_per_call_count_are_refused() {
    let port = server().await;
    let limits = OutboundLimits { max_requests: 2, ..OutboundLimits::default() };
    let policy = OutboundPolicy::new(&[&format!("http://127.0.0.1:{port}")], limits).unwrap();
    let urls = vec![format!("http://127.0.0.1:{port}/price"); 3];
    let got = probe(&urls, Some(policy)).await;
    assert_eq!(got[0]["body"], "42.5");
    assert_eq!(got[1]["body"], "42.5");
    let e = error(&got[2]);
    assert!(e.contains("outbound.max_requests") && e.contains("already made 2"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subnet_without_outbound_hosts_reaches_nothing() {
    let port = server().await;
    let got = probe(&[format!("http://127.0.0.1:{port}/price")], None).await;
    let e = error(&got[0]);
    assert!(e.contains("outbound_hosts is empty"), "{e}");
}

/// Runs the probe once per list of `calls`, all of them calls of one round of `policy`, and
/// returns what each fetch of each call gave.
async fn probe_round(calls: &[Vec<String>], policy: &Arc<OutboundPolicy>) -> Vec<Vec<Value>> {
    let modules = common::modules(PROBE);
    let kv = MemoryKv::new(1 << 20);
    let mut subnet = SubnetEnv::new("http-probe");
    subnet.caps.kv = Some(kv.clone());
    subnet.caps.http = Some(policy.clone());
    let round = Arc::new(subnet).for_round();
    let mut got = Vec::new();
    for urls in calls {
        kv.set("urls", &serde_json::to_vec(urls).unwrap()).unwrap();
        let env = round.call(1, Arc::new(MetagraphView::default()));
        let tasks = modules.validator.generate_tasks(&env, &common::context(1)).await.expect("generate-tasks");
        got.push(tasks.iter().take(urls.len()).map(|t| serde_json::from_slice(&t.payload.body).unwrap()).collect());
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calls_of_a_round_share_its_request_budget_and_the_next_round_starts_afresh() {
    let port = server().await;
    let limits = OutboundLimits { max_requests: 5, max_requests_per_round: 3, ..OutboundLimits::default() };
    let policy = OutboundPolicy::new(&[&format!("http://127.0.0.1:{port}")], limits).unwrap();
    let price = format!("http://127.0.0.1:{port}/price");
    let calls = vec![vec![price.clone(), price.clone()], vec![price.clone(), price.clone()]];
    let got = probe_round(&calls, &policy).await;
    assert_eq!(
        (&got[0][0]["body"], &got[0][1]["body"], &got[1][0]["body"]),
        (&"42.5".into(), &"42.5".into(), &"42.5".into())
    );
    let e = error(&got[1][1]);
    assert!(e.contains("outbound.max_requests_per_round") && e.contains("already made 3"), "{e}");
    // Another round: its own budget.
    let again = probe_round(&calls[..1], &policy).await;
    assert_eq!(again[0][1]["body"], "42.5", "{:?}", again);
    // Counters are the subnet's, across rounds: 3 + 2 sent, 1 refused.
    let stats = policy.stats()[&format!("http://127.0.0.1:{port}")];
    assert_eq!((stats.requests, stats.refused), (5, 1), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_past_its_byte_budget_is_cut_and_then_refused() {
    let port = server().await;
    let limits =
        OutboundLimits { max_response_bytes: 100 << 10, max_bytes_per_round: 100 << 10, ..OutboundLimits::default() };
    let policy = OutboundPolicy::new(&[&format!("http://127.0.0.1:{port}")], limits).unwrap();
    let big = format!("http://127.0.0.1:{port}/big");
    let calls = vec![vec![big.clone()], vec![big.clone()], vec![format!("http://127.0.0.1:{port}/price")]];
    let got = probe_round(&calls, &policy).await;
    assert_eq!(got[0][0]["len"], 64 << 10, "{}", got[0][0]);
    let e = error(&got[1][0]);
    assert!(e.contains("outbound.max_bytes_per_round") && e.contains("cut"), "{e}");
    let e = error(&got[2][0]);
    assert!(e.contains("outbound.max_bytes_per_round") && e.contains("already received"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_past_its_outbound_time_stops_waiting_and_sends_nothing_more() {
    let port = server().await;
    let limits = OutboundLimits {
        timeout: Duration::from_secs(20),
        time_per_round: Duration::from_millis(500),
        ..OutboundLimits::default()
    };
    let policy = OutboundPolicy::new(&[&format!("http://127.0.0.1:{port}")], limits).unwrap();
    let calls = vec![vec![format!("http://127.0.0.1:{port}/stall")], vec![format!("http://127.0.0.1:{port}/price")]];
    let started = std::time::Instant::now();
    let got = probe_round(&calls, &policy).await;
    // The stalled request waits the round's time left, not its own 20 s timeout.
    let e = error(&got[0][0]);
    assert!(e.contains("Timeout"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    let e = error(&got[1][0]);
    assert!(e.contains("outbound.time_per_round"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_c_validator_fetches_with_the_sdk_client_and_is_refused_with_the_rule() {
    let port = server().await;
    let unlisted = server().await;
    let modules = common::modules("host/tests/all/guests/c-fetch");
    let limits = OutboundLimits { max_response_bytes: 1024, timeout: Duration::from_millis(400), ..Default::default() };
    let policy = OutboundPolicy::new(&[&format!("http://127.0.0.1:{port}")], limits).unwrap();
    let kv = MemoryKv::new(1 << 20);
    for (i, path) in
        [format!("{port}/price"), format!("{unlisted}/price"), format!("{port}/big"), format!("{port}/stall")]
            .iter()
            .enumerate()
    {
        kv.set(&format!("url-{i}"), format!("http://127.0.0.1:{path}").as_bytes()).unwrap();
    }
    let env = CallEnv::new("c-fetch", 1, Arc::new(MetagraphView::default())).with_subnet(|s| {
        s.caps.kv = Some(kv.clone());
        s.caps.http = Some(policy.clone());
    });
    let tasks = modules.validator.generate_tasks(&env, &common::context(1)).await.expect("generate-tasks");
    let got: Vec<String> = tasks.iter().map(|t| String::from_utf8_lossy(&t.payload.body).into_owned()).collect();
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(got[0], "status=200 body=42.5");
    assert!(got[1].starts_with("error=outbound_hosts") && got[1].contains("is not allowed"), "{}", got[1]);
    assert!(got[2].starts_with("error=") && got[2].contains("outbound.max_response_bytes"), "{}", got[2]);
    assert!(got[3].starts_with("error=") && got[3].contains("timeout"), "{}", got[3]);
}
