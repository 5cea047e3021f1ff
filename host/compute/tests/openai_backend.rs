//! The OpenAI backend against a stand-in server on loopback (axum, speaking the OpenAI request
//! and reply shapes): request shape, API key, reply parsing, normalisation, errors, timeouts,
//! response-size bound and the concurrency limit. The real engine is llama.cpp's server in
//! `openai_interop.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use subnet_compute::{
    ComputeConfig, ComputeError, ComputeService, DevicePreference, FinishReason, GenerateRequest, ModelKind, ModelSpec,
    OpenAiApi, OpenAiEndpoint,
};

#[derive(Default)]
struct Seen {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// Chat: echoes what it was sent, so the test sees the request shape. Behaviour by model name:
/// `slow` sleeps 3 s, `refuse` answers 503, `huge` sends 8 MiB, `busy` holds 200 ms.
async fn chat(State(seen): State<Arc<Seen>>, headers: HeaderMap, Json(body): Json<Value>) -> (StatusCode, String) {
    let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let model = body["model"].as_str().unwrap_or("").to_string();
    let reply = match model.as_str() {
        "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            (StatusCode::OK, "{}".into())
        }
        "refuse" => (StatusCode::SERVICE_UNAVAILABLE, "{\"error\": \"model is loading\"}".into()),
        "huge" => (StatusCode::OK, format!("{{\"pad\": \"{}\"}}", "x".repeat(8 << 20))),
        _ => {
            if model == "busy" {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("none").to_string();
            let echo = json!({"auth": auth, "request": body}).to_string();
            let choice = if body.get("messages").is_some() {
                json!({"index": 0, "message": {"role": "assistant", "content": echo}, "finish_reason": "length"})
            } else {
                json!({"index": 0, "text": echo, "finish_reason": "stop"})
            };
            let reply = json!({"choices": [choice], "usage": {"prompt_tokens": 11, "completion_tokens": 7}});
            (StatusCode::OK, reply.to_string())
        }
    };
    seen.in_flight.fetch_sub(1, Ordering::SeqCst);
    reply
}

/// Embeddings, sent in reverse order with their indices and unnormalised.
async fn embeddings(Json(body): Json<Value>) -> Json<Value> {
    let n = body["input"].as_array().map_or(0, Vec::len);
    let data: Vec<Value> = (0..n).rev().map(|i| json!({"index": i, "embedding": [3.0, 4.0 * i as f64, 0.0]})).collect();
    Json(json!({"data": data}))
}

async fn server() -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(chat))
        .route("/v1/embeddings", post(embeddings))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn endpoint(url: &str, model: &str) -> OpenAiEndpoint {
    OpenAiEndpoint {
        url: url.into(),
        model: model.into(),
        api_key_env: None,
        api: OpenAiApi::Chat,
        timeout: None,
        dim: None,
        extra_body: None,
    }
}

fn start(models: Vec<ModelSpec>, timeout: Duration) -> ComputeService {
    ComputeService::start(ComputeConfig {
        models,
        device: DevicePreference::Cpu,
        call_timeout: timeout,
        ..Default::default()
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_and_replies_have_the_openai_shape() {
    let (url, _) = server().await;
    // SAFETY: set before any thread reads the environment in this test binary's test.
    unsafe { std::env::set_var("SUBNET_COMPUTE_TEST_KEY", "sk-test") };
    let mut chat = ModelSpec::openai(
        "chat",
        ModelKind::TextGeneration,
        OpenAiEndpoint { api_key_env: Some("SUBNET_COMPUTE_TEST_KEY".into()), ..endpoint(&format!("{url}/v1/"), "m1") },
    );
    chat.max_tokens = 50;
    let completions = ModelSpec::openai(
        "plain",
        ModelKind::TextGeneration,
        OpenAiEndpoint { api: OpenAiApi::Completions, ..endpoint(&url, "m2") },
    );
    let emb =
        ModelSpec::openai("emb", ModelKind::TextEmbedding, OpenAiEndpoint { dim: Some(3), ..endpoint(&url, "e") });
    let svc = start(vec![chat, completions, emb], Duration::from_secs(10));

    let req = GenerateRequest {
        system: Some("sys".into()),
        stop: vec!["END".into()],
        temperature: 0.5,
        top_p: 0.9,
        seed: 42,
        ..GenerateRequest::greedy("hello", 500)
    };
    let g = svc.generate("chat", req).await.unwrap();
    assert_eq!((g.prompt_tokens, g.completion_tokens, g.finish), (11, 7, FinishReason::Length));
    let echo: Value = serde_json::from_str(&g.text).unwrap();
    assert_eq!(echo["auth"], "Bearer sk-test");
    let sent = &echo["request"];
    assert_eq!(sent["model"], "m1");
    assert_eq!(sent["max_tokens"], 50, "the configured max_tokens caps the request");
    assert_eq!(sent["messages"], json!([{"role": "system", "content": "sys"}, {"role": "user", "content": "hello"}]));
    assert_eq!(
        (sent["seed"].clone(), sent["stop"].clone(), sent["stream"].clone()),
        (json!(42), json!(["END"]), json!(false))
    );

    let g = svc.generate("plain", GenerateRequest::greedy("once upon", 5)).await.unwrap();
    let echo: Value = serde_json::from_str(&g.text).unwrap();
    assert_eq!((echo["auth"].clone(), echo["request"]["prompt"].clone()), (json!("none"), json!("once upon")));
    assert_eq!(g.finish, FinishReason::Stop);
    let sys = GenerateRequest { system: Some("s".into()), ..GenerateRequest::greedy("x", 5) };
    assert!(matches!(svc.generate("plain", sys).await, Err(ComputeError::InvalidInput(_))));

    let v = svc.embed_text("emb", vec!["a".into(), "b".into()]).await.unwrap();
    assert_eq!(v, vec![vec![1.0, 0.0, 0.0], vec![0.6, 0.8, 0.0]], "in input order, L2-normalised");
    assert_eq!(svc.embedding_dim("emb"), Some(3));
    let m = svc.metrics();
    assert_eq!((m.models[0].calls, m.models[0].items, m.models[0].batches), (1, 7, 1));
    assert_eq!((m.models[1].calls, m.models[1].errors), (2, 1));
    assert_eq!(m.models[2].items, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_refusing_slow_and_oversized_servers_fail_clearly() {
    let (url, _) = server().await;
    // A port nothing listens on: bind, note it, close.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let spec =
        |name: &str, url: &str, model: &str| ModelSpec::openai(name, ModelKind::TextGeneration, endpoint(url, model));
    let svc = start(
        vec![
            spec("down", &closed, "m"),
            spec("refuse", &url, "refuse"),
            spec("slow", &url, "slow"),
            spec("huge", &url, "huge"),
        ],
        Duration::from_millis(1500),
    );
    let ask = |m: &'static str| {
        let svc = svc.clone();
        async move { svc.generate(m, GenerateRequest::greedy("x", 4)).await }
    };
    match ask("down").await {
        Err(ComputeError::Failed(m)) => assert!(m.contains("cannot reach"), "{m}"),
        other => panic!("{other:?}"),
    }
    match ask("refuse").await {
        Err(ComputeError::Failed(m)) => assert!(m.contains("503") && m.contains("model is loading"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(ask("slow").await.unwrap_err(), ComputeError::Timeout);
    match ask("huge").await {
        Err(ComputeError::Failed(m)) => assert!(m.contains("at most"), "{m}"),
        other => panic!("{other:?}"),
    }
    let m = svc.metrics();
    assert_eq!(m.models.iter().map(|m| (m.errors, m.timeouts)).collect::<Vec<_>>(), [(1, 0), (1, 0), (0, 1), (1, 0)]);

    // The endpoint's own timeout, shorter than the call's.
    let quick = ModelSpec::openai(
        "slow",
        ModelKind::TextGeneration,
        OpenAiEndpoint { timeout: Some(Duration::from_millis(100)), ..endpoint(&url, "slow") },
    );
    let svc = start(vec![quick], Duration::from_secs(30));
    let t = std::time::Instant::now();
    assert_eq!(svc.generate("slow", GenerateRequest::greedy("x", 4)).await.unwrap_err(), ComputeError::Timeout);
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_max_concurrency_requests_are_in_flight() {
    let (url, seen) = server().await;
    let mut spec = ModelSpec::openai("busy", ModelKind::TextGeneration, endpoint(&url, "busy"));
    spec.max_concurrency = 2;
    let svc = start(vec![spec], Duration::from_secs(30));
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let svc = svc.clone();
            tokio::spawn(async move { svc.generate("busy", GenerateRequest::greedy("x", 4)).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(seen.max_in_flight.load(Ordering::SeqCst), 2);
}

#[test]
fn a_missing_api_key_fails_start() {
    let spec = ModelSpec::openai(
        "m",
        ModelKind::TextGeneration,
        OpenAiEndpoint {
            api_key_env: Some("SUBNET_COMPUTE_SURELY_UNSET".into()),
            ..endpoint("http://127.0.0.1:9", "m")
        },
    );
    match ComputeService::start(ComputeConfig { models: vec![spec], ..Default::default() }) {
        Err(ComputeError::Config(m)) => assert!(m.contains("SUBNET_COMPUTE_SURELY_UNSET"), "{m}"),
        other => panic!("{other:?}"),
    }
}
