//! Validator fan-out to 256 miners on loopback: requests per second and per-request latency
//! (p50/p99) of one `HttpTransport` against three kinds of servers, 256 of each:
//!
//! - `echo`: a bare axum HTTP server that echoes the body (no auth, no module): the floor set by
//!   HTTP, the client and the signing it does;
//! - `auth`: subnetd's miner server with an echoing handler: btauth verification, registration
//!   lookup, body limits and the priority gate, no module;
//! - `module`: subnetd's miner server running the hello-subnet miner component (a fresh wasm
//!   instance per task).
//!
//! "Added by subnetd" is `module - echo` (and `auth - echo` for authentication alone). Clients
//! and servers share this machine's cores, so the figures are a whole-system cost, not a server
//! capacity. `cargo bench -p subnet-host --bench fanout`; env `FANOUT_ROUNDS` (default 100),
//! `FANOUT_MINERS` (default 256), `FANOUT_MINER_WASM` (a prebuilt miner component). Without
//! `--bench` (e.g. `cargo test --benches`) it runs a short smoke pass.
// criterion's `criterion_group!` generates undocumented public functions.
#![allow(missing_docs)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use axum::routing::post;
use subnet_chain::local::LocalChain;
use subnet_host::bindings::types::{MinerRequest, Payload, ResponseStatus};
use subnet_host::bundle::Bundle;
use subnet_host::guest_build::Toolchain;
use subnet_host::net::{
    HandlerContext, HandlerError, HttpTransport, HttpTransportConfig, MinerServerConfig, MinerServerHandle,
    TaskHandler, spawn_miner_server, spawn_miner_server_with,
};
use subnet_host::runtime::{Runtime, RuntimeConfig};
use subnet_host::validator::{MinerQuery, MinerTransport};
use subnet_keys::{AccountId, CryptoType, Keypair};

struct Echo;

#[async_trait]
impl TaskHandler for Echo {
    async fn handle(&self, request: MinerRequest, _ctx: HandlerContext) -> Result<Payload, HandlerError> {
        Ok(request.payload)
    }
}

async fn echo(headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(header::HeaderValue::from_static("application/octet-stream"));
    ([(header::CONTENT_TYPE, ct)], body)
}

async fn bare_echo_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = Router::new().route("/v1/task", post(echo));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

struct Figures {
    name: &'static str,
    requests: usize,
    wall: Duration,
    latencies_us: Vec<f64>,
    rounds_ms: Vec<f64>,
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

impl Figures {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64()
    }
    fn p(&self, p: f64) -> f64 {
        pct(&self.latencies_us, p) / 1000.0
    }
    fn round(&self, p: f64) -> f64 {
        pct(&self.rounds_ms, p)
    }
}

async fn fan_out(
    name: &'static str,
    transport: &HttpTransport,
    targets: &[(AccountId, SocketAddr)],
    netuid: u16,
    warmup: usize,
    rounds: usize,
) -> Figures {
    let mut latencies = Vec::with_capacity(rounds * targets.len());
    let mut round_times = Vec::with_capacity(rounds);
    let mut wall = Duration::ZERO;
    for round in 0..warmup + rounds {
        let start = Instant::now();
        let results = futures::future::join_all(targets.iter().enumerate().map(|(i, (hotkey, addr))| {
            let q = MinerQuery {
                uid: i as u16,
                hotkey: *hotkey,
                axon: Some(*addr),
                request: MinerRequest {
                    task_id: format!("r{round}"),
                    netuid,
                    validator: String::new(),
                    payload: Payload { content_type: "application/json".into(), body: b"21".to_vec() },
                    timeout_ms: 10_000,
                }
                .into(),
                timeout: Duration::from_secs(10),
                seed: 0,
                max_answer_bytes: 16 << 20,
            };
            async move {
                let t = Instant::now();
                let r = transport.query(q).await;
                (r, t.elapsed())
            }
        }))
        .await;
        let elapsed = start.elapsed();
        for (r, _) in &results {
            assert_eq!(r.status, ResponseStatus::Ok, "{name}: {r:?}");
        }
        if round >= warmup {
            wall += elapsed;
            round_times.push(elapsed.as_secs_f64() * 1e3);
            latencies.extend(results.iter().map(|(_, d)| d.as_secs_f64() * 1e6));
        }
    }
    latencies.sort_by(f64::total_cmp);
    round_times.sort_by(f64::total_cmp);
    Figures { name, requests: rounds * targets.len(), wall, latencies_us: latencies, rounds_ms: round_times }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (miners, rounds, warmup) =
        if full { (env_usize("FANOUT_MINERS", 256), env_usize("FANOUT_ROUNDS", 100), 5) } else { (16, 2, 1) };

    // `FANOUT_MINER_WASM` names a prebuilt miner component (to run the bench where the guest
    // toolchain is absent); otherwise examples/hello-subnet is built as the tests build it.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().ok();
    let miner_wasm = match std::env::var_os("FANOUT_MINER_WASM") {
        Some(p) => std::path::PathBuf::from(p),
        None => {
            let root = root.clone().expect("repository root");
            let toolchain = Toolchain { cargo_target_dir: root.join("target"), root: root.clone(), release: true };
            let built = Bundle::resolve(&root.join("examples/hello-subnet"))
                .and_then(|b| b.build(&toolchain))
                .expect("building examples/hello-subnet");
            built.miners[0].2.clone()
        }
    };
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: root.map(|r| r.join("target").join("subnetd-test-cache")),
        max_instances: 1024,
        ..RuntimeConfig::default()
    })
    .expect("runtime");
    let module = runtime.load_miner("honest", &std::fs::read(&miner_wasm).expect("miner wasm")).expect("miner");

    let chain = Arc::new(LocalChain::in_memory());
    let owner = Keypair::generate(CryptoType::Sr25519).account_id();
    let netuid = chain.create_subnet(&owner, None).expect("subnet");
    let validator = Keypair::generate(CryptoType::Sr25519);
    let cold = Keypair::generate(CryptoType::Sr25519).account_id();
    chain.register_now(&validator.account_id(), &cold, netuid).expect("register");
    chain.add_stake(&cold, &validator.account_id(), netuid, 1_000_000_000_000).expect("stake");

    let mut echo_targets = Vec::new();
    let mut auth_targets = Vec::new();
    let mut module_targets = Vec::new();
    let mut handles: Vec<MinerServerHandle> = Vec::new();
    for _ in 0..miners {
        let key = Keypair::generate(CryptoType::Sr25519).account_id();
        echo_targets.push((key, bare_echo_server().await));
        let h = spawn_miner_server_with(MinerServerConfig::new(netuid, key), Arc::new(Echo), chain.clone())
            .await
            .expect("auth server");
        auth_targets.push((key, h.local_addr()));
        handles.push(h);
        let h = spawn_miner_server(MinerServerConfig::new(netuid, key), module.clone(), chain.clone())
            .await
            .expect("module server");
        module_targets.push((key, h.local_addr()));
        handles.push(h);
    }

    let transport = HttpTransport::new(
        validator,
        HttpTransportConfig { allow_private_targets: true, ..HttpTransportConfig::default() },
    );
    let mut all = Vec::new();
    for (name, targets) in [("echo", &echo_targets), ("auth", &auth_targets), ("module", &module_targets)] {
        all.push(fan_out(name, &transport, targets, netuid, warmup, rounds).await);
    }

    println!(
        "fan-out: {miners} miners on loopback, {rounds} rounds ({} requests per kind), one HttpTransport, {} CPUs",
        rounds * miners,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<8} {:>10} {:>10} {:>10} {:>14} {:>14}",
        "server", "req/s", "p50 ms", "p99 ms", "round p50 ms", "round p99 ms"
    );
    for f in &all {
        println!(
            "{:<8} {:>10.0} {:>10.3} {:>10.3} {:>14.2} {:>14.2}",
            f.name,
            f.rps(),
            f.p(0.5),
            f.p(0.99),
            f.round(0.5),
            f.round(0.99)
        );
    }
    let (echo, auth, module) = (&all[0], &all[1], &all[2]);
    for (what, f) in [("auth", auth), ("module", module)] {
        println!(
            "added by subnetd ({what} - echo): p50 {:+.3} ms, p99 {:+.3} ms per request; throughput {:.0}% of echo",
            f.p(0.5) - echo.p(0.5),
            f.p(0.99) - echo.p(0.99),
            100.0 * f.rps() / echo.rps()
        );
    }
    for h in handles {
        h.shutdown().await;
    }
}
