//! JavaScript guests whose methods are `async` (`guests/js-async`, built with the real
//! componentize-js): a validator that awaits the global `fetch` reaches an allowed loopback
//! server through the host's `wasi:http` and is refused everywhere else (StarlingMonkey's
//! `fetch` rejects with its generic network error, so the host's counters and log carry the
//! rule);
//! an `async answer()` miner answers and is scored exactly like its sync twin, and its
//! rejection fails the call with its message, as a throw does. The engine's own randomness
//! (`Math.random`, `crypto`) follows the call's seed; a guest using what the engine lacks
//! (a `\p{L}` regex) fails `subnetd build` with its file and line.

use crate::common;
use crate::outbound_http::server;

use std::sync::Arc;

use serde_json::Value;
use subnet_host::bindings::types::{MinerRequest, MinerResponse, ResponseStatus};
use subnet_host::caps::http::{OutboundLimits, OutboundPolicy};
use subnet_host::caps::kv::{KvStore, MemoryKv};
use subnet_host::caps::metagraph::MetagraphView;
use subnet_host::runtime::CallEnv;

const BUNDLE: &str = "host/tests/all/guests/js-async";

fn env(kv: &Arc<MemoryKv>, policy: Option<Arc<OutboundPolicy>>) -> CallEnv {
    CallEnv::new("js-async", 1, Arc::new(MetagraphView::default())).with_subnet(|s| {
        s.caps.kv = Some(kv.clone());
        s.caps.http = policy;
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_validator_fetches_allowed_hosts_and_is_refused_elsewhere_with_the_rule() {
    let allowed = server().await;
    let unlisted = server().await;
    let modules = common::modules(BUNDLE);
    let policy = OutboundPolicy::new(&[&format!("http://127.0.0.1:{allowed}")], OutboundLimits::default()).unwrap();
    let kv = MemoryKv::new(1 << 20);
    let urls = [format!("http://127.0.0.1:{allowed}/price"), format!("http://127.0.0.1:{unlisted}/price")];
    kv.set("urls", &serde_json::to_vec(&urls).unwrap()).unwrap();

    let tasks = modules.validator.generate_tasks(&env(&kv, Some(policy.clone())), &common::context(2)).await.unwrap();
    let got: Vec<Value> = tasks.iter().map(|t| serde_json::from_slice(&t.payload.body).unwrap()).collect();
    assert_eq!((&got[0]["status"], &got[0]["body"]), (&Value::from(200), &Value::from("42.5")), "{}", got[0]);
    let e = got[1]["error"].as_str().unwrap_or_else(|| panic!("expected a refusal: {}", got[1]));
    assert!(e.starts_with("TypeError"), "{e}");
    let stats = policy.stats();
    assert_eq!(stats[&format!("http://127.0.0.1:{allowed}")].requests, 1, "{stats:?}");
    let refused = &stats[&format!("http://127.0.0.1:{unlisted}")];
    assert_eq!(
        (refused.requests, refused.refused),
        (0, 1),
        "the unlisted port is refused by the policy, not unreachable"
    );

    // No allow-list: the same fetch is refused too.
    let tasks = modules.validator.generate_tasks(&env(&kv, None), &common::context(2)).await.unwrap();
    let first: Value = serde_json::from_slice(&tasks[0].payload.body).unwrap();
    let e = first["error"].as_str().unwrap_or_else(|| panic!("expected a refusal: {first}"));
    assert!(e.starts_with("TypeError"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_answer_is_scored_like_its_sync_twin_and_a_rejection_fails_the_call() {
    let modules = common::modules(BUNDLE);
    let kv = MemoryKv::new(1 << 20);
    let env = env(&kv, None);
    let ctx = common::context(2);
    let tasks = modules.validator.generate_tasks(&env, &ctx).await.unwrap();
    let double = tasks.iter().find(|t| t.id == "double").expect("the double task");
    let request = |payload| MinerRequest {
        task_id: double.id.clone(),
        netuid: 1,
        validator: "v".into(),
        payload,
        timeout_ms: double.timeout_ms,
    };
    let mut responses = Vec::new();
    for (uid, name) in [(1u16, "sync"), (2, "async")] {
        let answer = modules.miner(name).handle(&env, &request(double.payload.clone())).await.expect(name);
        assert_eq!(answer.body, b"42", "{name} miner");
        responses.push(MinerResponse { uid, status: ResponseStatus::Ok, latency_ms: 5, payload: Some(answer) });
    }
    let scores = modules.validator.score(&env, &ctx, double, &responses).await.expect("an async score");
    let by_uid: Vec<(u16, f64)> = scores.iter().map(|s| (s.uid, s.score)).collect();
    assert_eq!(by_uid, vec![(1, 1.0), (2, 1.0)]);

    let refused = modules.miner("async").handle(&env, &request(common::json(&-1))).await.unwrap_err();
    assert!(refused.to_string().contains("negative numbers are not doubled here"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn math_random_and_crypto_follow_the_seed() {
    let modules = common::modules(BUNDLE);
    let kv = MemoryKv::new(1 << 20);
    async fn drawn(modules: &common::Modules, kv: &Arc<MemoryKv>, seed: u64) -> Value {
        let tasks =
            modules.validator.generate_tasks(&env(kv, None).with_seed(seed), &common::context(2)).await.unwrap();
        let task = tasks.iter().find(|t| t.id == "random").expect("the random task");
        serde_json::from_slice(&task.payload.body).unwrap()
    }
    let (first, again, other) =
        (drawn(&modules, &kv, 7).await, drawn(&modules, &kv, 7).await, drawn(&modules, &kv, 8).await);
    assert_eq!(first, again, "one seed, one draw");
    assert_ne!(first["math"], other["math"]);
    assert_ne!(first["bytes"], other["bytes"]);
    assert_ne!(first["uuid"], other["uuid"]);
    let uuid = first["uuid"].as_str().unwrap();
    assert_eq!((uuid.len(), &uuid[14..15]), (36, "4"), "{uuid}");
    assert!(first["math"].as_array().unwrap().iter().all(|x| (0.0..1.0).contains(&x.as_f64().unwrap())), "{first}");
}

#[test]
fn a_construct_the_engine_lacks_fails_the_build_with_its_line() {
    use subnet_host::guest_build::{self, GuestSource};
    use subnet_host::runtime::World;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("app.js"),
        "import { Miner, exportMiner } from 'subnet-sdk';\n\
         // words: split on anything that is not a letter or a digit\n\
         const WORDS = /[^\\p{L}\\p{N}]+/u;\n\
         class Words extends Miner {\n  answer(_r, task) { return String(task).split(WORDS).length; }\n}\n\
         export const minerApi = exportMiner(Words);\n",
    )
    .unwrap();
    let out = dir.path().join("build/miner.wasm");
    let source = GuestSource { dir: dir.path().to_path_buf(), world: World::Miner, language: None };
    let err = guest_build::build(&common::toolchain(), &source, &out).unwrap_err().to_string();
    assert!(err.contains("app.js:3") && err.contains("Unicode property escape"), "{err}");
    assert!(!out.exists());
}
