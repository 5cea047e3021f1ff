//! all-MiniLM-L6-v2 through the service, checked against sentence-transformers' own output.

mod common;

use std::time::{Duration, Instant};

use common::*;
use subnet_compute::ComputeError;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matches_sentence_transformers_reference() {
    let reference = fixture("minilm_reference.json");
    let cases = reference["cases"].as_array().unwrap();
    let texts: Vec<String> = cases.iter().map(|c| c["text"].as_str().unwrap().to_string()).collect();
    let svc = service_with(|_| {});
    assert_eq!(svc.embedding_dim("minilm"), Some(384));
    let got = svc.embed_text("minilm", texts.clone()).await.unwrap();
    assert_eq!(got.len(), cases.len());
    for (case, v) in cases.iter().zip(&got) {
        let want = as_vec(&case["embedding"]);
        let diff = max_abs_diff(v, &want);
        assert!(diff < 1e-4, "{:?}: max |diff| {diff}", case["text"]);
        assert!((norm(v) - 1.0).abs() < 1e-5);
    }
}

/// Calls from many tasks at once are merged into shared forward passes, and a text's vector does
/// not depend on what it was batched with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_are_batched_and_match_single_calls() {
    let texts: Vec<String> = (0..24)
        .map(|i| format!("sentence number {i} talks about {}", ["rivers", "mountains", "code", "weights"][i % 4]))
        .collect();
    let svc = service_with(|c| {
        c.batch_window = Duration::from_millis(200);
        c.max_batch = 64;
    });
    // One at a time: each call is its own batch.
    let mut singles = Vec::new();
    for t in &texts {
        singles.push(svc.embed_text("minilm", vec![t.clone()]).await.unwrap().remove(0));
    }
    let before = svc.metrics().models[0].clone();
    assert_eq!(before.name, "minilm");
    assert_eq!(before.batches, texts.len() as u64);

    let tasks: Vec<_> = texts
        .iter()
        .map(|t| {
            let svc = svc.clone();
            let t = t.clone();
            tokio::spawn(async move { svc.embed_text("minilm", vec![t]).await })
        })
        .collect();
    let mut together = Vec::new();
    for t in tasks {
        together.push(t.await.unwrap().unwrap().remove(0));
    }
    let after = svc.metrics().models[0].clone();
    let passes = after.batches - before.batches;
    assert!(passes < texts.len() as u64 / 2, "{} concurrent calls took {passes} forward passes", texts.len());
    for (i, (a, b)) in singles.iter().zip(&together).enumerate() {
        let diff = max_abs_diff(a, b);
        assert!(diff < 1e-5, "text {i}: batched differs from single by {diff}");
    }
    // The same texts in one call agree too.
    let one_call = svc.embed_text("minilm", texts.clone()).await.unwrap();
    for (a, b) in singles.iter().zip(&one_call) {
        assert!(max_abs_diff(a, b) < 1e-5);
    }
    assert_eq!(after.calls, 2 * texts.len() as u64);
    assert_eq!(after.items, 2 * texts.len() as u64);
    assert_eq!(after.errors, 0);
    assert!(after.busy > Duration::ZERO);
}

/// The vectors carry meaning: paraphrases are closer than unrelated sentences.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn similar_sentences_are_closer() {
    let svc = service_with(|_| {});
    let v = svc
        .embed_text(
            "minilm",
            vec![
                "A man is eating food.".into(),
                "A man is eating a piece of bread.".into(),
                "A monkey is playing drums.".into(),
                "The cat sits on the mat.".into(),
                "A kitten is sitting on a rug.".into(),
                "Stock markets fell sharply on Monday.".into(),
            ],
        )
        .await
        .unwrap();
    assert!(dot(&v[0], &v[1]) > dot(&v[0], &v[2]) + 0.2);
    assert!(dot(&v[3], &v[4]) > dot(&v[3], &v[5]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_enforced_and_edge_inputs_do_not_panic() {
    let svc = service_with(|c| {
        c.max_texts_per_call = 8;
        c.max_text_bytes = 1000;
    });
    // Empty list: empty answer, no model work.
    assert_eq!(svc.embed_text("minilm", vec![]).await.unwrap(), Vec::<Vec<f32>>::new());
    // Too many texts.
    let err = svc.embed_text("minilm", vec!["a".into(); 9]).await.unwrap_err();
    assert!(matches!(&err, ComputeError::InvalidInput(m) if m.contains("9 texts")), "{err:?}");
    // A text over the byte limit is rejected, naming its index.
    let err = svc.embed_text("minilm", vec!["ok".into(), "x".repeat(1001)]).await.unwrap_err();
    assert!(matches!(&err, ComputeError::InvalidInput(m) if m.contains("text 1")), "{err:?}");
    // At the byte limit: accepted, truncated to the window, unit length.
    let edge = vec![
        "word ".repeat(200),           // 1000 bytes, far more than 256 tokens
        String::new(),                 // only [CLS] [SEP]
        "\u{0}\u{7}\u{1b}[31m".into(), // control characters
        "🦀".repeat(250),              // 1000 bytes of 4-byte characters
        "\u{202e}مرحبا\u{200d}".into(),
    ];
    let got = svc.embed_text("minilm", edge.clone()).await.unwrap();
    assert_eq!(got.len(), edge.len());
    for v in &got {
        assert_eq!(v.len(), 384);
        assert!(v.iter().all(|x| x.is_finite()));
        assert!((norm(v) - 1.0).abs() < 1e-4);
    }
    // Truncation keeps the head: a long text embeds like its first window.
    let long = "the validator compares answers ".repeat(100);
    let longer = format!("{long}{}", "completely different tail about cooking pasta ".repeat(20));
    let v = svc.embed_text("minilm", vec![long[..999].to_string(), longer[..999].to_string()]).await.unwrap();
    assert!(max_abs_diff(&v[0], &v[1]) < 1e-5);
    let m = &svc.metrics().models[0];
    assert_eq!(m.errors, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_looked_up_never_opened() {
    let svc = service_with(|_| {});
    let dir = minilm_dir().display().to_string();
    for name in ["", "nope", "../minilm", "/etc/passwd", dir.as_str(), "minilm/../minilm", "MINILM"] {
        let err = svc.embed_text(name, vec!["hi".into()]).await.unwrap_err();
        assert_eq!(err, ComputeError::UnknownModel(name.to_string()));
    }
    // Right name, wrong kind.
    let err = svc.embed_image("minilm", vec![vec![1, 2, 3]]).await.unwrap_err();
    assert!(matches!(&err, ComputeError::InvalidInput(m) if m.contains("text-embedding")), "{err:?}");
    let err = svc.embed_text("effnet", vec!["hi".into()]).await.unwrap_err();
    assert!(matches!(err, ComputeError::InvalidInput(_)), "{err:?}");
    let err = svc.generate_text("minilm", "Once upon".into(), 8, 1).await.unwrap_err();
    // Generation exists now; an embedding model is the wrong kind for it.
    assert!(matches!(&err, ComputeError::InvalidInput(m) if m.contains("not text-generation")), "{err:?}");
}

/// A call that cannot finish in time answers Timeout promptly, and the model keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_calls_time_out_and_the_model_recovers() {
    let svc = service_with(|c| {
        c.call_timeout = Duration::from_millis(300);
        c.batch_window = Duration::ZERO;
    });
    // 32 texts of 256 tokens each: seconds of CPU work, far beyond 300 ms.
    let heavy: Vec<String> = (0..32).map(|i| format!("{i} {}", "tokens and more tokens ".repeat(80))).collect();
    let started = Instant::now();
    let err = svc.embed_text("minilm", heavy).await.unwrap_err();
    let waited = started.elapsed();
    assert_eq!(err, ComputeError::Timeout);
    assert!(waited < Duration::from_secs(2), "timeout answered after {waited:?}");
    // Wait (bounded) for the worker to finish the abandoned batch, then it serves again.
    let deadline = Instant::now() + Duration::from_secs(120);
    while svc.metrics().models[0].batches == 0 {
        assert!(Instant::now() < deadline, "worker never finished the heavy batch");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let v = svc.embed_text("minilm", vec!["short".into()]).await.unwrap();
    assert_eq!(v.len(), 1);
    let m = &svc.metrics().models[0];
    assert_eq!(m.timeouts, 1);
    assert_eq!(m.calls, 2);
}
