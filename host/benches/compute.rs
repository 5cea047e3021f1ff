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
// criterion's `criterion_group!` generates undocumented public functions.
#![allow(missing_docs)]

// The test helper is shared with the tests; benches use a part of it.
#[allow(dead_code)]
#[path = "../tests/all/common.rs"]
mod common;
#[path = "../compute/benches/data/sentences.rs"]
mod sentences;
use sentences::sentences;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use subnet_host::bindings::types::{MinerResponse, ResponseStatus, Task};
use subnet_host::caps::metagraph::MetagraphView;
use subnet_host::runtime::CallEnv;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let backend = rt.block_on(async { common::compute(&["all-minilm-l6-v2"]) });
    let runtime = common::runtime();
    let bundle = common::bundle("examples/semantic-subnet");
    let module = runtime.load_validator("semantic", &common::read(&bundle.validator)).unwrap();
    let texts = sentences();
    let text = common::text;
    let ctx = common::context(64);
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
    let env = CallEnv::new("bench", 1, Arc::new(MetagraphView::default()))
        .with_subnet(|s| s.caps.compute = Some(backend.clone()));

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
