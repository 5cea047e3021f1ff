//! Axon protocol fan-out, side by side on loopback: a bittensor 10.5 Dendrite fanning out to N
//! bittensor Axons (one Python process, `tests/all/net/py_bt10.py bench`), against a subnetd
//! validator (`HttpTransport`, protocol `axon`) fanning out to N subnetd miners serving the
//! Synapse protocol through the hello-subnet miner module, for N = 16 and 64. Each round sends
//! one `TextTask(payload = i)` to every miner and waits for all answers; reported: queries/s
//! (answers per second of round time) and the round time's p50/p99, and the ratio.
//!
//! Both sides share this machine's cores, so the figures are whole-system costs.
//! `cargo bench -p subnet-host --bench protocols`; env `PROTO_BENCH_ROUNDS` (default 30),
//! `PROTO_BENCH_MINERS` (comma-separated, default `16,64`), `FANOUT_MINER_WASM` (a prebuilt
//! miner component), `SUBNETD_PYTHON_BT10` (default `<workspace>/.venv-bt10/bin/python`).
//! Without `--bench` (e.g. `cargo test --benches`) it runs a short smoke pass of the subnetd side.
#![allow(missing_docs)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use subnet_chain::local::LocalChain;
use subnet_host::bindings::types::{MinerRequest, Payload, ResponseStatus};
use subnet_host::bundle::Bundle;
use subnet_host::guest_build::Toolchain;
use subnet_host::net::{
    HttpTransport, HttpTransportConfig, MinerServerConfig, MinerServerHandle, SynapseSpec, WireProtocol,
    spawn_miner_server,
};
use subnet_host::runtime::{Runtime, RuntimeConfig};
use subnet_host::validator::{MinerQuery, MinerTransport};
use subnet_keys::{AccountId, CryptoType, Keypair};

fn spec() -> SynapseSpec {
    SynapseSpec { required_hash_fields: vec!["payload".into()], ..SynapseSpec::new("TextTask") }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn subnetd_side(
    transport: &HttpTransport,
    targets: &[(AccountId, SocketAddr)],
    netuid: u16,
    rounds: usize,
) -> (f64, f64, f64) {
    let mut times = Vec::with_capacity(rounds);
    let mut answered = 0usize;
    for r in 0..rounds + 2 {
        let started = Instant::now();
        let outs = futures::future::join_all(targets.iter().enumerate().map(|(uid, (hotkey, addr))| {
            transport.query(MinerQuery {
                uid: uid as u16,
                hotkey: *hotkey,
                axon: Some(*addr),
                request: MinerRequest {
                    task_id: format!("r{r}"),
                    netuid,
                    validator: String::new(),
                    payload: Payload { content_type: "application/json".into(), body: r.to_string().into_bytes() },
                    timeout_ms: 12_000,
                }
                .into(),
                timeout: Duration::from_secs(12),
                seed: 0,
                max_answer_bytes: 1 << 20,
            })
        }))
        .await;
        // Two warm-up rounds (connections, instances) are not counted.
        if r >= 2 {
            times.push(started.elapsed().as_secs_f64());
            answered += outs.iter().filter(|o| o.status == ResponseStatus::Ok).count();
        }
    }
    let total: f64 = times.iter().sum();
    times.sort_by(f64::total_cmp);
    (answered as f64 / total, pct(&times, 0.5) * 1e3, pct(&times, 0.99) * 1e3)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rounds = std::env::var("PROTO_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let sizes: Vec<usize> = std::env::var("PROTO_BENCH_MINERS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![16, 64]);
    let (sizes, rounds) = if full { (sizes, rounds) } else { (vec![4], 2) };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("repository root");
    let miner_wasm = match std::env::var_os("FANOUT_MINER_WASM") {
        Some(p) => std::path::PathBuf::from(p),
        None => {
            let toolchain = Toolchain { cargo_target_dir: root.join("target"), root: root.clone(), release: true };
            let built = Bundle::resolve(&root.join("examples/hello-subnet"))
                .and_then(|b| b.build(&toolchain))
                .expect("building examples/hello-subnet");
            built.miners[0].2.clone()
        }
    };
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(root.join("target").join("subnetd-test-cache")),
        max_instances: 1024,
        ..RuntimeConfig::default()
    })
    .expect("runtime");
    let module = runtime.load_miner("honest", &std::fs::read(&miner_wasm).expect("miner wasm")).expect("miner");
    let python = std::env::var_os("SUBNETD_PYTHON_BT10")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join(".venv-bt10/bin/python"));

    println!("| N | side | queries/s | round p50 ms | round p99 ms |");
    println!("| --- | --- | --- | --- | --- |");
    for n in sizes {
        let chain = Arc::new(LocalChain::in_memory());
        let netuid = chain.create_subnet(&Keypair::generate(CryptoType::Sr25519).account_id(), None).expect("subnet");
        let validator = Keypair::generate(CryptoType::Sr25519);
        let cold = Keypair::generate(CryptoType::Sr25519).account_id();
        chain.register_now(&validator.account_id(), &cold, netuid).expect("register");
        chain.add_stake(&cold, &validator.account_id(), netuid, 1_000_000_000_000).expect("stake");
        let mut handles: Vec<MinerServerHandle> = Vec::new();
        let mut targets = Vec::new();
        for _ in 0..n {
            let key = Keypair::generate(CryptoType::Sr25519);
            let mut config = MinerServerConfig::new(netuid, key.account_id());
            config.protocol = WireProtocol::Axon(spec());
            config.signing_key = Some(key.clone());
            let h = spawn_miner_server(config, module.clone(), chain.clone()).await.expect("miner");
            targets.push((key.account_id(), h.local_addr()));
            handles.push(h);
        }
        let transport = HttpTransport::new(
            validator,
            HttpTransportConfig {
                allow_private_targets: true,
                protocol: WireProtocol::Axon(spec()),
                ..HttpTransportConfig::default()
            },
        );
        let (qps, p50, p99) = subnetd_side(&transport, &targets, netuid, rounds).await;
        println!("| {n} | subnetd validator → subnetd miners | {qps:.0} | {p50:.1} | {p99:.1} |");
        drop(handles);
        if !full {
            continue;
        }
        let script = root.join("host/tests/all/net/py_bt10.py");
        let out = std::process::Command::new(&python)
            .arg(script)
            .args(["bench", &n.to_string(), &rounds.to_string()])
            .output()
            .expect("run the Python bench");
        assert!(out.status.success(), "py_bt10 bench: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value = serde_json::from_str(text.lines().last().unwrap_or("{}")).expect("bench JSON");
        let py_qps = v["qps"].as_f64().unwrap_or(0.0);
        println!(
            "| {n} | bittensor Dendrite → bittensor Axons | {py_qps:.0} | {:.1} | {:.1} |",
            v["p50_ms"].as_f64().unwrap_or(0.0),
            v["p99_ms"].as_f64().unwrap_or(0.0)
        );
        println!("| {n} | ratio subnetd / bittensor | {:.2}x | | |", qps / py_qps.max(1e-9));
    }
}
