//! A module that loops, eats memory, traps, errs or returns malformed scores is stopped with an
//! error that names it and the call, and the host keeps serving other modules (and the same
//! module) afterwards. Real guests: `examples/faulty-subnet` and `examples/hello-subnet`.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use subnet_host::bindings::types::{EpochContext, MinerResponse, ResponseStatus, Task};
use subnet_host::caps::metagraph::MetagraphView;
use subnet_host::runtime::CallEnv;
use subnet_host::runtime::{CallError, Runtime, ValidatorModule};

fn ctx() -> EpochContext {
    common::context(3)
}

fn env() -> CallEnv {
    CallEnv::new("test", 7, Arc::new(MetagraphView { netuid: 1, block: 1, neurons: common::neurons(4) }))
}

fn task(mode: &str) -> Task {
    Task { id: format!("{mode}-1"), miners: vec![1, 2], payload: common::text(mode), timeout_ms: 1000 }
}

fn responses() -> Vec<MinerResponse> {
    [1u16, 2]
        .iter()
        .map(|uid| MinerResponse {
            uid: *uid,
            status: ResponseStatus::Ok,
            latency_ms: 10,
            payload: Some(common::json(&2)),
        })
        .collect()
}

fn load(runtime: &Runtime, bundle: &str) -> ValidatorModule {
    let built = common::bundle(bundle);
    runtime.load_validator(&built.name, &common::read(&built.validator)).expect("load validator")
}

/// The host still serves: the hello validator makes its tasks, and the faulty one scores `ok`.
async fn still_serving(hello: &ValidatorModule, faulty: &ValidatorModule) {
    let tasks = hello.generate_tasks(&env(), &ctx()).await.expect("hello still works");
    assert_eq!(tasks.len(), 3, "one task per miner (uids 1..=3)");
    let scores = faulty.score(&env(), &ctx(), &task("ok"), &responses()).await.expect("faulty `ok` still works");
    assert!(scores.iter().all(|s| s.score == 0.5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_is_stopped_by_the_deadline() {
    let runtime = common::runtime();
    let (hello, faulty) = (load(&runtime, "examples/hello-subnet"), load(&runtime, "examples/faulty-subnet"));
    let started = Instant::now();
    let err = faulty
        .score(&env().with_timeout(Duration::from_millis(300)), &ctx(), &task("loop"), &responses())
        .await
        .expect_err("a loop cannot finish");
    assert!(matches!(err, CallError::Timeout { call: "score", .. }), "{err}");
    assert!(err.to_string().contains("faulty-subnet"), "names the module: {err}");
    assert!(started.elapsed() < Duration::from_secs(5), "stopped near its deadline, took {:?}", started.elapsed());
    still_serving(&hello, &faulty).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_allocation_is_stopped_by_the_memory_limit() {
    let runtime = common::runtime();
    let (hello, faulty) = (load(&runtime, "examples/hello-subnet"), load(&runtime, "examples/faulty-subnet"));
    let limited = env().with_subnet(|s| s.limits.memory = Some(32 << 20));
    let err = faulty.score(&limited, &ctx(), &task("alloc"), &responses()).await.expect_err("cannot fit");
    assert!(matches!(err, CallError::MemoryLimit { call: "score", limit, .. } if limit == 32 << 20), "{err}");
    assert!(err.to_string().contains("faulty-subnet"), "names the module: {err}");
    still_serving(&hello, &faulty).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_names_the_module_and_shows_the_panic() {
    let runtime = common::runtime();
    let (hello, faulty) = (load(&runtime, "examples/hello-subnet"), load(&runtime, "examples/faulty-subnet"));
    let err = faulty.score(&env(), &ctx(), &task("trap"), &responses()).await.expect_err("it panics");
    let CallError::Trap { module, call, guest_output, .. } = &err else { panic!("expected a trap, got {err}") };
    assert_eq!((module.as_str(), *call), ("faulty-subnet", "score"));
    assert!(guest_output.contains("faulty-subnet was asked to trap"), "the panic message reaches the host: {err}");
    still_serving(&hello, &faulty).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_error_is_reported_as_such() {
    let runtime = common::runtime();
    let (hello, faulty) = (load(&runtime, "examples/hello-subnet"), load(&runtime, "examples/faulty-subnet"));
    let err = faulty.score(&env(), &ctx(), &task("error"), &responses()).await.expect_err("it errs");
    assert!(matches!(&err, CallError::Guest { message, .. } if message.contains("asked to fail")), "{err}");
    still_serving(&hello, &faulty).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_calls_share_the_pool_without_failing() {
    let runtime = common::runtime();
    let hello = load(&runtime, "examples/hello-subnet");
    // More calls than pool slots: the extra ones wait for a slot instead of failing.
    let calls = (0..(runtime.config().max_instances as usize + 44)).map(|i| {
        let hello = hello.clone();
        async move { hello.generate_tasks(&env().with_seed(i as u64), &ctx()).await }
    });
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(|r| r.as_ref().is_ok_and(|t| t.len() == 3)));
}
