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
