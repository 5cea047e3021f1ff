//! The image subnet (subnets/image) with its real modules and the real EfficientNet-Lite0
//! model: the sandbox acceptance run, and the scoring rules one by one (format, size and blank
//! gates, prompt and layout agreement, duplicates across prompts).

use crate::common;

use std::sync::Arc;

use subnet_host::bindings::types::{
    EpochContext, MinerRequest, MinerResponse, Payload, ResponseStatus, Task, UidScore, UidState,
};
use subnet_host::caps::kv::{KvStore, MemoryKv};
use subnet_host::runtime::CallEnv;
use subnet_host::runtime::{MinerModule, ValidatorModule};
use subnet_host::sandbox::SandboxConfig;

const EFFNET: &str = "efficientnet-lite0";
const BUNDLE: &str = "subnets/image";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_pays_honest_renderers_and_not_the_adversaries() {
    let bundle = common::bundle(BUNDLE);
    assert_eq!(bundle.compute_models, vec![EFFNET.to_string()]);
    let config = SandboxConfig { miners: 8, epochs: 3, seed: 0, ..Default::default() };
    let report = common::sandbox(&bundle, config.clone()).await;
    let last = report.epochs.last().unwrap();
    let miners: Vec<_> = last.neurons.iter().filter(|n| n.kind == "miner").collect();
    let roles: Vec<&str> = miners.iter().map(|n| n.role.as_str()).collect();
    for role in ["honest", "lazy", "random", "cached", "seedless"] {
        assert!(roles.contains(&role), "no {role} miner in {roles:?}");
    }
    let weakest_honest = miners.iter().filter(|n| n.role == "honest").map(|n| n.weight).fold(1.0, f64::min);
    assert!(weakest_honest > 0.2, "{miners:?}");
    for n in &miners {
        match n.role.as_str() {
            "honest" => {}
            // Right shapes in the wrong places: some prompt agreement, little layout agreement.
            "seedless" => assert!(n.weight < 0.1 * weakest_honest, "seedless earns {}: {miners:?}", n.weight),
            // Noise, silence and one cached picture earn nothing.
            _ => assert_eq!(n.weight, 0.0, "{} uid {} earns {}", n.role, n.uid, n.weight),
        }
    }
    assert!(report.honest_miner_share() > 0.95, "{}", report.honest_miner_share());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_report() {
    let bundle = common::bundle(BUNDLE);
    let config = SandboxConfig { miners: 6, epochs: 1, seed: 9, ..Default::default() };
    let a = common::sandbox(&bundle, config.clone()).await;
    let b = common::sandbox(&bundle, config.clone()).await;
    assert_eq!(a.render(), b.render());
}

// ---- focused checks, calling the modules directly ----

struct Subnet {
    validator: ValidatorModule,
    honest: MinerModule,
    cached: MinerModule,
    seedless: MinerModule,
    env: CallEnv,
    kv: Arc<MemoryKv>,
}

fn subnet() -> Subnet {
    let modules = common::modules(BUNDLE);
    let (env, kv) = common::module_env(BUNDLE);
    Subnet {
        honest: modules.miner("honest"),
        cached: modules.miner("cached"),
        seedless: modules.miner("seedless"),
        validator: modules.validator,
        env,
        kv,
    }
}

fn ctx(miners: u16, seed: u64) -> EpochContext {
    EpochContext { seed, ..common::context(miners) }
}

async fn draw(miner: &MinerModule, env: &CallEnv, task: &Task) -> Payload {
    let request = MinerRequest {
        task_id: task.id.clone(),
        netuid: 1,
        validator: "v".into(),
        payload: task.payload.clone(),
        timeout_ms: task.timeout_ms,
    };
    miner.handle(env, &request).await.expect("miner answers")
}

fn ok(uid: u16, payload: Payload) -> MinerResponse {
    MinerResponse { uid, status: ResponseStatus::Ok, latency_ms: 10, payload: Some(payload) }
}

fn png(body: Vec<u8>) -> Payload {
    Payload { content_type: "image/png".into(), body }
}

/// The task as sent to `uids` (scores must name only the task's miners).
fn aimed(task: &Task, uids: impl IntoIterator<Item = u16>) -> Task {
    Task { miners: uids.into_iter().collect(), ..task.clone() }
}

fn task_json(task: &Task) -> serde_json::Value {
    serde_json::from_slice(&task.payload.body).unwrap()
}

fn metric(score: &UidScore, name: &str) -> Option<f64> {
    score.metrics.iter().find(|m| m.name == name).map(|m| m.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gates_reject_bad_formats_wrong_sizes_and_blank_pictures() {
    let s = subnet();
    let ctx = ctx(8, 1);
    let tasks = s.validator.generate_tasks(&s.env, &ctx).await.unwrap();
    assert_eq!(tasks.len(), 8, "one task per miner");
    for t in &tasks {
        assert_eq!(t.miners.len(), 3, "{}: three miners per prompt", t.id);
    }
    let task = &tasks[0];
    let spec = task_json(task);
    let (w, h) = (spec["width"].as_u64().unwrap() as u32, spec["height"].as_u64().unwrap() as u32);
    let honest = draw(&s.honest, &s.env, task).await;

    // The same prompt drawn on another canvas size.
    let mut resized = spec.clone();
    resized["width"] = serde_json::json!(if w == 256 { 224 } else { 256 });
    let other_size = Task {
        payload: Payload { content_type: "application/json".into(), body: resized.to_string().into_bytes() },
        ..task.clone()
    };
    let wrong_size = draw(&s.honest, &s.env, &other_size).await;

    let blank = common::encode_png(w, h, &vec![250; (w * h * 3) as usize]);
    // Faint noise does not make a flat picture less blank.
    let mut faint = vec![128u8; (w * h * 3) as usize];
    for (i, v) in faint.iter_mut().enumerate() {
        *v = 128 + (i % 7) as u8;
    }
    let faint = common::encode_png(w, h, &faint);
    let garbage = b"GIF89a this is not a picture".to_vec();
    let truncated = honest.body[..honest.body.len() / 2].to_vec();

    let responses = vec![
        ok(1, honest.clone()),
        ok(2, png(garbage)),
        ok(3, png(truncated)),
        ok(4, wrong_size),
        ok(5, png(blank)),
        ok(6, png(faint)),
        MinerResponse { uid: 7, status: ResponseStatus::Timeout, latency_ms: 10_000, payload: None },
        MinerResponse { uid: 8, status: ResponseStatus::Malformed, latency_ms: 10, payload: None },
    ];
    let scores = s.validator.score(&s.env, &ctx, &aimed(task, 1..=8), &responses).await.unwrap();
    assert_eq!(scores.len(), 8);
    assert_eq!(scores[0].score, 1.0, "honest picture: {:?}", scores[0]);
    assert_eq!(metric(&scores[0], "rejected"), Some(0.0));
    for s in &scores[1..6] {
        assert_eq!(s.score, 0.0, "uid {}: {s:?}", s.uid);
        assert_eq!(metric(s, "rejected"), Some(1.0), "uid {} should be rejected: {s:?}", s.uid);
    }
    assert_eq!(scores[6].score, 0.0);
    assert_eq!(scores[7].score, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_and_layout_agreement_separate_honest_from_cached_and_seedless() {
    let s = subnet();
    let ctx = ctx(8, 2);
    let tasks = s.validator.generate_tasks(&s.env, &ctx).await.unwrap();
    let (mut seedless_total, mut seedless_similarity) = (0.0, 0.0);
    for task in &tasks {
        let responses = vec![
            ok(1, draw(&s.honest, &s.env, task).await),
            ok(2, draw(&s.cached, &s.env, task).await),
            ok(3, draw(&s.seedless, &s.env, task).await),
        ];
        let scores = s.validator.score(&s.env, &ctx, &aimed(task, 1..=3), &responses).await.unwrap();
        assert_eq!(scores[0].score, 1.0, "{}: {:?}", task.id, scores[0]);
        // A picture of another prompt agrees with neither the embedding nor the layout.
        assert!(scores[1].score < 0.05, "cached on {}: {:?}", task.id, scores[1]);
        assert!(metric(&scores[1], "similarity").unwrap() < 0.8, "{:?}", scores[1]);
        seedless_total += scores[2].score;
        seedless_similarity += metric(&scores[2], "similarity").unwrap();
    }
    let n = tasks.len() as f64;
    // The model sees the right shapes in the seedless pictures (high similarity), the layout
    // check sees them in the wrong places.
    assert!(seedless_similarity / n > 0.8, "{}", seedless_similarity / n);
    assert!(seedless_total / n < 0.25, "seedless mean score {}", seedless_total / n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_picture_replayed_for_another_prompt_costs_the_round() {
    let s = subnet();
    let ctx = ctx(8, 3);
    let tasks = s.validator.generate_tasks(&s.env, &ctx).await.unwrap();
    let (a, b) = (&tasks[0], &tasks[1]);
    // Both prompts on one canvas size, so the replayed picture passes the size gate.
    let mut b_spec = task_json(b);
    let a_spec = task_json(a);
    b_spec["width"] = a_spec["width"].clone();
    b_spec["height"] = a_spec["height"].clone();
    let b = Task {
        payload: Payload { content_type: "application/json".into(), body: b_spec.to_string().into_bytes() },
        ..b.clone()
    };

    let honest_a = draw(&s.honest, &s.env, a).await;
    let honest_b = draw(&s.honest, &s.env, &b).await;
    let seedless_b = draw(&s.seedless, &s.env, &b).await;
    // uid 1 draws both; uid 2 draws A and replays it for B; uid 3 draws A and a poor but
    // original picture for B.
    let on_a = vec![ok(1, honest_a.clone()), ok(2, honest_a.clone()), ok(3, honest_a.clone())];
    let on_b = vec![ok(1, honest_b), ok(2, honest_a), ok(3, seedless_b)];
    let scores_a = s.validator.score(&s.env, &ctx, &aimed(a, 1..=3), &on_a).await.unwrap();
    let scores_b = s.validator.score(&s.env, &ctx, &aimed(&b, 1..=3), &on_b).await.unwrap();
    assert!(s.kv.keys("dup/", 100).unwrap().len() == 6, "one duplicate record per accepted answer");
    let round: Vec<UidScore> = (0..3)
        .map(|i| UidScore { uid: i as u16 + 1, score: (scores_a[i].score + scores_b[i].score) / 2.0, metrics: vec![] })
        .collect();
    // Before the duplicate check, the replaying miner still has half its round.
    assert!(round[1].score >= 0.5, "{round:?}");
    let state: Vec<UidState> = Vec::new();
    let result = s.validator.reward(&s.env, &ctx, &state, &round).await.unwrap();
    let weight = |uid: u16| result.weights.iter().find(|w| w.uid == uid).map_or(0.0, |w| w.value);
    assert!(weight(1) > 0.0);
    assert_eq!(weight(2), 0.0, "the replayed picture costs the round: {:?}", result.weights);
    assert!(weight(3) > 0.0 && weight(3) < weight(1), "{:?}", result.weights);
    assert!(s.kv.keys("dup/", 100).unwrap().is_empty(), "reward clears the round's records");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_the_validator_did_not_make_are_errors_not_panics() {
    let s = subnet();
    let ctx = ctx(2, 4);
    let bad = |body: &str| Task {
        id: "t".into(),
        miners: vec![1],
        payload: Payload { content_type: "application/json".into(), body: body.as_bytes().to_vec() },
        timeout_ms: 1000,
    };
    let answer = vec![ok(1, png(vec![1, 2, 3]))];
    for body in [
        r#"{"prompt":"a purple cow on a white background","seed":1,"width":224,"height":224}"#,
        r#"{"prompt":"a large red circle on a white background","seed":1,"width":100000,"height":224}"#,
        r#"{"prompt":1}"#,
    ] {
        let err = s.validator.score(&s.env, &ctx, &bad(body), &answer).await.unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("panicked"), "{text}");
    }
}
