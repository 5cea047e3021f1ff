//! Runtime costs for the hello-subnet example, with real compiled guests:
//!
//! * `instantiate/pooled-warm`: a fresh instance from the pre-linked module per call (what every
//!   call pays before its export runs), pool slots warm.
//! * `score/256-responses`: one `score` call for a task answered by 256 miners.
//! * `generate-tasks/256-miners`: making one round's tasks for a 256-uid metagraph.
//! * `handle/miner`: one miner `handle` call.
//!
//! Run with `cargo bench -p subnet-host --bench runtime`.
// criterion's `criterion_group!` generates undocumented public functions.
#![allow(missing_docs)]

// The test helper is shared with the tests; benches use a part of it.
#[allow(dead_code)]
#[path = "../tests/all/common.rs"]
mod common;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use subnet_host::bindings::types::{MinerRequest, MinerResponse, Payload, ResponseStatus, Task};
use subnet_host::caps::metagraph::MetagraphView;
use subnet_host::runtime::CallEnv;

fn json(value: u64) -> Payload {
    common::json(&value)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let runtime = common::runtime();
    let bundle = common::bundle("examples/hello-subnet");
    let validator = runtime.load_validator("hello", &common::read(&bundle.validator)).unwrap();
    let miner = runtime.load_miner("honest", &common::read(&bundle.miners[0].2)).unwrap();
    // A validator and the 256 miners a full subnet has beside it.
    let ctx = common::context(256);
    let env = CallEnv::new("bench", 1, Arc::new(MetagraphView { netuid: 1, block: 1, neurons: ctx.neurons.clone() }));
    let task = Task { id: "t".into(), miners: (1..=256).collect(), payload: json(21), timeout_ms: 1000 };
    let responses: Vec<MinerResponse> = (1..=256u16)
        .map(|uid| MinerResponse {
            uid,
            status: ResponseStatus::Ok,
            latency_ms: 10,
            payload: Some(json(if uid % 2 == 0 { 42 } else { 7 })),
        })
        .collect();
    let request = MinerRequest {
        task_id: "t".into(),
        netuid: 1,
        validator: "5Validator".into(),
        payload: json(21),
        timeout_ms: 1000,
    };

    c.bench_function("instantiate/pooled-warm", |b| {
        b.to_async(&rt).iter(|| async { validator.instantiate_only(&env).await.unwrap() })
    });
    c.bench_function("score/256-responses", |b| {
        b.to_async(&rt).iter(|| async {
            let scores = validator.score(&env, &ctx, &task, &responses).await.unwrap();
            assert_eq!(scores.len(), 256);
            black_box(scores)
        })
    });
    c.bench_function("generate-tasks/256-miners", |b| {
        b.to_async(&rt).iter(|| async { black_box(validator.generate_tasks(&env, &ctx).await.unwrap()) })
    });
    c.bench_function("handle/miner", |b| {
        b.to_async(&rt).iter(|| async { black_box(miner.handle(&env, &request).await.unwrap()) })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = bench
}
criterion_main!(benches);
