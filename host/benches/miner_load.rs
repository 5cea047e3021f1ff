//! A miner under attack: while 512 slowloris connections (claiming a staked validator's hotkey
//! with random signatures, from 32 loopback addresses, a byte every 300 ms) and a flood of
//! signed queries from zero-stake registered hotkeys hit a miner server running the hello-subnet
//! miner module (`subnetd miner`'s code path), a staked validator sends signed queries; this
//! prints how many got 200 and their p50/p99 latency, next to the same figures unloaded.
//!
//! The validator sends at a validator's pace towards one miner (10 queries a second); the
//! attackers use other loopback addresses than the validator's, as they would on the internet.
//!
//! `cargo bench -p subnet-host --bench miner_load`; env `LOAD_QUERIES` (default 100 per phase),
//! `LOAD_MINER_WASM` (a prebuilt miner component). Without `--bench` it runs a short smoke pass.
// A bench binary: its items need no docs.
#![allow(missing_docs)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use subnet_chain::local::{LocalChain, LocalChainConfig};
use subnet_chain::{AccountId, NetUid};
use subnet_host::bindings::types::{MinerRequest, Payload, ResponseStatus};
use subnet_host::bundle::Bundle;
use subnet_host::guest_build::Toolchain;
use subnet_host::net::admission::CallerPolicy;
use subnet_host::net::{HttpTransport, HttpTransportConfig, MinerServerConfig, TASK_PATH, spawn_miner_server};
use subnet_host::runtime::{Runtime, RuntimeConfig};
use subnet_host::validator::{MinerQuery, MinerTransport};
use subnet_keys::btauth::{fresh_nonce, sign_request};
use subnet_keys::{CryptoType, Keypair};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn key() -> Keypair {
    Keypair::generate(CryptoType::Sr25519)
}

fn query(miner: &AccountId, axon: SocketAddr, netuid: NetUid, i: usize) -> MinerQuery {
    let timeout = Duration::from_secs(12);
    MinerQuery {
        uid: 0,
        hotkey: *miner,
        axon: Some(axon),
        request: MinerRequest {
            task_id: format!("t{i}"),
            netuid,
            validator: String::new(),
            payload: Payload { content_type: "application/json".into(), body: b"21".to_vec() },
            timeout_ms: 12_000,
        }
        .into(),
        timeout,
        seed: 0,
        max_answer_bytes: 16 << 20,
    }
}

async fn slowloris(source: IpAddr, server: SocketAddr, claimed: Keypair, miner: AccountId, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let Ok(socket) = tokio::net::TcpSocket::new_v4() else { return };
        if socket.bind(SocketAddr::new(source, 0)).is_err() {
            return;
        }
        let Ok(mut stream) = socket.connect(server).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let mut head = format!("POST {TASK_PATH} HTTP/1.1\r\nHost: {server}\r\nContent-Length: 65536\r\n");
        for (k, v) in sign_request(&claimed, "POST", TASK_PATH, b"-", Some(&miner), fresh_nonce()) {
            let v = if k == "X-Bittensor-Signature" { format!("0x{}", hex::encode(key().sign(b"x"))) } else { v };
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\nx");
        if stream.write_all(head.as_bytes()).await.is_err() {
            continue;
        }
        let mut buf = [0u8; 1024];
        loop {
            tokio::select! {
                n = stream.read(&mut buf) => { let _ = n; break; }
                _ = tokio::time::sleep(Duration::from_millis(300)) => {
                    if stop.load(Ordering::Relaxed) || stream.write_all(b"x").await.is_err() {
                        break;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Signed queries from a zero-stake hotkey at `source`, back to back, one connection each.
async fn zero_stake_flood(
    k: Keypair,
    source: IpAddr,
    server: SocketAddr,
    miner: AccountId,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) {
    let body = b"21";
    while !stop.load(Ordering::Relaxed) {
        let Ok(socket) = tokio::net::TcpSocket::new_v4() else { return };
        if socket.bind(SocketAddr::new(source, 0)).is_err() {
            return;
        }
        let Ok(mut stream) = socket.connect(server).await else { continue };
        let mut head = format!(
            "POST {TASK_PATH} HTTP/1.1\r\nHost: {server}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n"
        );
        for (k, v) in sign_request(&k, "POST", TASK_PATH, body, Some(&miner), fresh_nonce()) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n21");
        if stream.write_all(head.as_bytes()).await.is_ok() {
            let mut out = Vec::new();
            let _ = stream.read_to_end(&mut out).await;
        }
        sent.fetch_add(1, Ordering::Relaxed);
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn phase(name: &str, t: &HttpTransport, miner: &AccountId, addr: SocketAddr, netuid: NetUid, n: usize) {
    let mut lat = Vec::with_capacity(n);
    let mut ok = 0;
    // A validator's pace towards one miner (10 queries a second), not a flood of its own.
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    for i in 0..n {
        tick.tick().await;
        let started = Instant::now();
        let r = t.query(query(miner, addr, netuid, i)).await;
        lat.push(started.elapsed().as_secs_f64() * 1e3);
        if r.status == ResponseStatus::Ok {
            ok += 1;
        }
    }
    lat.sort_by(f64::total_cmp);
    println!(
        "{name:<9} {ok:>4}/{n:<4} answered 200   p50 {:>8.2} ms   p99 {:>8.2} ms   max {:>8.2} ms",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full { std::env::var("LOAD_QUERIES").ok().and_then(|v| v.parse().ok()).unwrap_or(100) } else { 10 };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().ok();
    let miner_wasm = match std::env::var_os("LOAD_MINER_WASM") {
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
        ..RuntimeConfig::default()
    })
    .expect("runtime");
    let module = runtime.load_miner("hello", &std::fs::read(&miner_wasm).expect("miner wasm")).expect("miner");

    let chain =
        Arc::new(LocalChain::in_memory_with(LocalChainConfig { allow_loopback_axons: true, ..Default::default() }));
    let netuid = chain.create_subnet(&key().account_id(), None).expect("subnet");
    let register = |k: &Keypair, rao: u64| {
        let cold = key().account_id();
        chain.register_now(&k.account_id(), &cold, netuid).expect("register");
        if rao > 0 {
            chain.add_stake(&cold, &k.account_id(), netuid, rao).expect("stake");
        }
    };
    let validator = key();
    let miner = key();
    register(&validator, 1000 * 1_000_000_000);
    register(&miner, 0);
    let zero: Vec<Keypair> = (0..16).map(|_| key()).collect();
    for z in &zero {
        register(z, 0);
    }
    // As `subnetd miner` serves by default, except that zero-stake callers are let in to the
    // queue (so the flood reaches the priority gate rather than stopping at the policy).
    let mut config = MinerServerConfig::new(netuid, miner.account_id());
    config.admission.callers = CallerPolicy::Registered;
    let server = spawn_miner_server(config, module, chain.clone()).await.expect("miner server");
    let addr = server.local_addr();
    let me = miner.account_id();
    let t = HttpTransport::new(
        validator.clone(),
        HttpTransportConfig { allow_private_targets: true, ..Default::default() },
    );

    println!("miner_load: hello-subnet miner, {n} signed queries per phase (10/s) from a 1000-TAO validator");
    // Warm the module and the validator's connection.
    for i in 0..5 {
        let _ = t.query(query(&me, addr, netuid, i)).await;
    }
    phase("unloaded", &t, &me, addr, netuid, n).await;

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..512u32 {
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 1, 2 + (i % 32) as u8));
        tasks.push(tokio::spawn(slowloris(source, addr, validator.clone(), me, stop.clone())));
    }
    for (i, z) in zero.iter().enumerate() {
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 2, 2 + i as u8));
        tasks.push(tokio::spawn(zero_stake_flood(z.clone(), source, addr, me, stop.clone(), sent.clone())));
    }
    let started = Instant::now();
    while server.stats().unverified < 16 && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = server.stats();
    let flood_before = sent.load(Ordering::Relaxed);
    let t0 = Instant::now();
    phase("attacked", &t, &me, addr, netuid, n).await;
    let secs = t0.elapsed().as_secs_f64();
    let after = server.stats();
    stop.store(true, Ordering::Relaxed);
    println!(
        "attack: 512 slowloris connections, {} unverified held when measured; zero-stake flood (16 hotkeys, 16 addresses) {:.0} queries/s",
        before.unverified,
        (sent.load(Ordering::Relaxed) - flood_before) as f64 / secs
    );
    let refused: Vec<String> =
        after.refused.iter().map(|(k, v)| format!("{k}={}", v - before.refused.get(k).copied().unwrap_or(0))).collect();
    println!("refused during the attacked phase: {}", refused.join(" "));
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    server.shutdown().await;
}
