//! Embeddings per second through the compute capability, directly and through a module:
//!
//! * `compute/direct-64`: one `embed_text` call with 64 sentences on the host's backend
//!   (the granted-model adapter over the candle service), no wasm involved;
//! * `compute/module-score-64`: the semantic-subnet validator's `score` for a task answered by
//!   64 miners, which embeds the task sentence and the 64 answers in one capability call
//!   (65 embeddings), plus instantiation and the cosine arithmetic in wasm.
//!
//! Throughput is in embeddings per second. The model is all-MiniLM-L6-v2 from the registry
//! scripts/setup.sh writes. Build with `--features cuda` on a GPU machine to run on CUDA
//! (the service picks the GPU when the feature is on and one is present).

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use subnet_host::bindings::types::{EpochContext, MinerResponse, Neuron, Payload, ResponseStatus, Task};
use subnet_host::caps::CallEnv;
use subnet_host::caps::metagraph::MetagraphView;

fn sentences() -> Vec<String> {
    let subjects = [
        "A man",
        "The validator",
        "A small dog",
        "Two miners",
        "The translator",
        "A child",
        "The network",
        "An old woman",
    ];
    let verbs = ["is reading", "scores", "is chasing", "submit", "translates", "draws", "rewards", "is painting"];
    let objects = [
        "a long letter about the weather in the mountains",
        "the answers of every miner in the subnet",
        "a red ball across the green park",
        "their proofs of work before the epoch ends",
        "a short story from French into English",
        "a picture of a house with a blue door",
        "honest participants with more emission",
        "the harbour at sunset with quick strokes",
    ];
    let mut out = Vec::new();
    for (i, s) in subjects.iter().enumerate() {
        for (j, o) in objects.iter().enumerate() {
            out.push(format!("{s} {} {o}.", verbs[(i + j) % 8]));
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let backend = rt.block_on(async { common::compute(&["all-minilm-l6-v2"]) });
    let runtime = common::runtime();
    let bundle = common::bundle("examples/semantic-subnet");
    let module = runtime.load_validator("semantic", &common::read(&bundle.validator)).unwrap();
    let texts = sentences();
    let text = |s: &str| Payload { content_type: "text/plain; charset=utf-8".into(), body: s.as_bytes().to_vec() };
    let neurons: Vec<Neuron> = (0..=64)
        .map(|uid| Neuron {
            uid,
            hotkey: format!("h{uid}"),
            stake: 0.0,
            validator_permit: uid == 0,
            active: true,
            incentive: 0.0,
            dividends: 0.0,
            emission: 0.0,
        })
        .collect();
    let ctx = EpochContext { netuid: 1, block: 1, epoch: 1, seed: 1, validator_uid: Some(0), neurons };
    let task = Task {
        id: "t".into(),
        miners: (1..=64).collect(),
        payload: text("The cat is sleeping on the warm sofa."),
        timeout_ms: 5000,
    };
    let answers: Vec<MinerResponse> = texts
        .iter()
        .enumerate()
        .map(|(i, s)| MinerResponse {
            uid: i as u16 + 1,
            status: ResponseStatus::Ok,
            latency_ms: 10,
            payload: Some(text(s)),
        })
        .collect();
    let env =
        CallEnv { compute: Some(backend.clone()), ..CallEnv::new("bench", 1, Arc::new(MetagraphView::default())) };

    let mut group = c.benchmark_group("compute");
    group.sample_size(20);
    group.throughput(Throughput::Elements(64));
    group.bench_function("direct-64", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(backend.embed_text("all-minilm-l6-v2", texts.clone()).await.unwrap()) })
    });
    group.throughput(Throughput::Elements(65));
    group.bench_function("module-score-64", |b| {
        b.to_async(&rt).iter(|| async {
            let scores = module.score(&env, &ctx, &task, &answers).await.unwrap();
            assert_eq!(scores.len(), 64);
            black_box(scores)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
