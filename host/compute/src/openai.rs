//! Models served by an OpenAI-compatible HTTP server (llama.cpp's `llama-server`,
//! `llama-cpp-python[server]`, vLLM, ...): `POST /v1/chat/completions` or `/v1/completions` for
//! text generation, `POST /v1/embeddings` for text embeddings (vectors L2-normalised here, as the
//! in-process models return them).
//!
//! Client: hyper 1 with hyper-util's pooled client (the host's own HTTP stack), rustls for
//! `https://` URLs with the system's root certificates. Non-streaming requests only, so a
//! remote generation's `time_to_first_token` equals its `total`.
//!
//! Bounds: at most `max_concurrency` requests in flight per model, at most `queue_capacity`
//! waiting for a slot (more fail at once, "overloaded"); every call within `call_timeout`
//! (queueing included) and every HTTP exchange within the endpoint's `timeout`, else
//! [`ComputeError::Timeout`]; response bodies above a limit are cut off and fail the call.
//! Failure modes: a server that is down, refuses, answers non-2xx or with a body that is not the
//! OpenAI shape answers [`ComputeError::Failed`] with the reason (the API key never appears in
//! messages).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::config::{OpenAiApi, OpenAiEndpoint};
use crate::generate::{FinishReason, GenerateRequest, Generation};
use crate::worker::WorkerStats;
use crate::{ComputeError, ModelSpec};

/// Largest generation reply body read.
const MAX_GENERATION_REPLY: usize = 4 << 20;
/// Largest embeddings reply body read (256 vectors of 4096 floats as JSON fit).
const MAX_EMBEDDING_REPLY: usize = 64 << 20;
/// Bytes of an error body quoted in a message.
const ERROR_QUOTE: usize = 300;

enum HttpClient {
    Plain(Client<HttpConnector, Full<Bytes>>),
    Tls(Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>),
}

/// One remote model.
pub(crate) struct OpenAiModel {
    name: String,
    endpoint: OpenAiEndpoint,
    /// `url` without a trailing `/` or `/v1`.
    base: String,
    authorization: Option<String>,
    client: HttpClient,
    permits: Semaphore,
    waiting: AtomicUsize,
    queue_capacity: usize,
    max_tokens: u32,
    pub(crate) stats: Arc<WorkerStats>,
}

impl OpenAiModel {
    /// Reads the API key from the environment and builds the client; no request is sent.
    pub(crate) fn new(
        spec: &ModelSpec,
        endpoint: &OpenAiEndpoint,
        queue_capacity: usize,
    ) -> Result<Self, ComputeError> {
        let cfg = |m: String| ComputeError::Config(format!("model {:?}: {m}", spec.name));
        let authorization = match &endpoint.api_key_env {
            None => None,
            Some(var) => match std::env::var(var) {
                Ok(key) if !key.is_empty() => Some(format!("Bearer {key}")),
                _ => return Err(cfg(format!("api_key_env names {var}, which is unset or empty"))),
            },
        };
        let base = endpoint.url.trim_end_matches('/').trim_end_matches("/v1").trim_end_matches('/').to_string();
        if base.parse::<hyper::Uri>().is_err() {
            return Err(cfg(format!("url {:?} is not a valid URL", endpoint.url)));
        }
        let builder = Client::builder(TokioExecutor::new());
        let client = if base.starts_with("https://") {
            let connector = hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_native_roots(rustls_ring())
                .map_err(|e| cfg(format!("no TLS root certificates for {}: {e}", endpoint.url)))?
                .https_only()
                .enable_http1()
                .build();
            HttpClient::Tls(builder.build(connector))
        } else {
            HttpClient::Plain(builder.build(HttpConnector::new()))
        };
        Ok(OpenAiModel {
            name: spec.name.clone(),
            endpoint: endpoint.clone(),
            base,
            authorization,
            client,
            permits: Semaphore::new(spec.max_concurrency),
            waiting: AtomicUsize::new(0),
            queue_capacity,
            max_tokens: spec.max_tokens,
            stats: Arc::new(WorkerStats::default()),
        })
    }

    /// Runs `req` on the server within `call_timeout`.
    pub(crate) async fn generate(
        &self,
        req: &GenerateRequest,
        call_timeout: Duration,
    ) -> Result<Generation, ComputeError> {
        req.validate()?;
        let max_tokens = if req.max_tokens == 0 { self.max_tokens } else { req.max_tokens.min(self.max_tokens) };
        let mut body = json!({
            "model": self.endpoint.model,
            "max_tokens": max_tokens,
            "temperature": req.temperature,
            "top_p": req.top_p,
            "seed": req.seed,
            "stream": false,
        });
        let route = match self.endpoint.api {
            OpenAiApi::Chat => {
                let mut messages = Vec::with_capacity(2);
                if let Some(s) = &req.system {
                    messages.push(json!({"role": "system", "content": s}));
                }
                messages.push(json!({"role": "user", "content": req.prompt}));
                body["messages"] = Value::Array(messages);
                "/v1/chat/completions"
            }
            OpenAiApi::Completions => {
                if req.system.is_some() {
                    return Err(ComputeError::InvalidInput(
                        "this model uses /v1/completions, which takes no system message; put it in the prompt".into(),
                    ));
                }
                body["prompt"] = Value::String(req.prompt.clone());
                "/v1/completions"
            }
        };
        if !req.stop.is_empty() {
            body["stop"] = json!(req.stop);
        }
        self.add_extra(&mut body);
        let started = Instant::now();
        let reply = self.exchange(route, body, MAX_GENERATION_REPLY, call_timeout).await?;
        let total = started.elapsed();
        let choice =
            reply.get("choices").and_then(|c| c.get(0)).ok_or_else(|| self.shape("a reply without choices[0]"))?;
        let text = match self.endpoint.api {
            OpenAiApi::Chat => choice.get("message").and_then(|m| m.get("content")),
            OpenAiApi::Completions => choice.get("text"),
        }
        .and_then(Value::as_str)
        .ok_or_else(|| self.shape("choices[0] without its text"))?
        .to_string();
        // OpenAI reports "stop" both for an end token and for a stop sequence.
        let finish = match choice.get("finish_reason").and_then(Value::as_str) {
            Some("length") => FinishReason::Length,
            _ => FinishReason::Stop,
        };
        let usage = |k: &str| {
            reply
                .get("usage")
                .and_then(|u| u.get(k))
                .and_then(Value::as_u64)
                .map_or(0, |n| n.min(u32::MAX as u64) as u32)
        };
        Ok(Generation {
            text,
            prompt_tokens: usage("prompt_tokens"),
            completion_tokens: usage("completion_tokens"),
            finish,
            time_to_first_token: total,
            total,
        })
    }

    /// One L2-normalised vector per text, in order.
    pub(crate) async fn embed(&self, texts: &[String], call_timeout: Duration) -> Result<Vec<Vec<f32>>, ComputeError> {
        let mut body = json!({"model": self.endpoint.model, "input": texts, "encoding_format": "float"});
        self.add_extra(&mut body);
        let reply = self.exchange("/v1/embeddings", body, MAX_EMBEDDING_REPLY, call_timeout).await?;
        let data = reply.get("data").and_then(Value::as_array).ok_or_else(|| self.shape("a reply without data"))?;
        if data.len() != texts.len() {
            return Err(self.shape(&format!("{} embeddings for {} texts", data.len(), texts.len())));
        }
        let mut out: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        for (pos, item) in data.iter().enumerate() {
            let index = item.get("index").and_then(Value::as_u64).map_or(pos, |i| i as usize);
            let vector: Vec<f32> = item
                .get("embedding")
                .and_then(Value::as_array)
                .ok_or_else(|| self.shape("data[] without an embedding array"))?
                .iter()
                .map(|x| x.as_f64().map(|f| f as f32))
                .collect::<Option<_>>()
                .ok_or_else(|| self.shape("an embedding with a non-number"))?;
            if let Some(dim) = self.endpoint.dim
                && vector.len() != dim
            {
                return Err(
                    self.shape(&format!("an embedding of {} values; the model is configured as {dim}", vector.len()))
                );
            }
            match out.get_mut(index) {
                Some(slot @ None) => *slot = Some(normalise(vector)),
                _ => return Err(self.shape(&format!("embedding index {index} out of range or repeated"))),
            }
        }
        let vectors: Vec<Vec<f32>> = out.into_iter().flatten().collect();
        if vectors.windows(2).any(|w| w[0].len() != w[1].len()) {
            return Err(self.shape("embeddings of different lengths"));
        }
        Ok(vectors)
    }

    /// Vector length configured for this model (0 when not configured).
    pub(crate) fn dim(&self) -> usize {
        self.endpoint.dim.unwrap_or(0)
    }

    fn add_extra(&self, body: &mut Value) {
        if let (Some(extra), Some(obj)) = (&self.endpoint.extra_body, body.as_object_mut()) {
            for (k, v) in extra {
                obj.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }

    fn shape(&self, what: &str) -> ComputeError {
        ComputeError::Failed(format!("model {:?}: the server at {} sent {what}", self.name, self.base))
    }

    /// Waits for a slot, sends `body` to `route` and parses the JSON reply, all within
    /// `call_timeout` (and the HTTP part within the endpoint's timeout).
    async fn exchange(
        &self,
        route: &str,
        body: Value,
        limit: usize,
        call_timeout: Duration,
    ) -> Result<Value, ComputeError> {
        let deadline = tokio::time::Instant::now() + call_timeout;
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue_capacity {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(ComputeError::Failed(format!("model {:?} is overloaded: too many calls queued", self.name)));
        }
        let permit = tokio::time::timeout_at(deadline, self.permits.acquire()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let _permit = match permit {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return Err(ComputeError::Failed(format!("model {:?}: the backend is closed", self.name))),
            Err(_) => return Err(ComputeError::Timeout),
        };
        let http_deadline = match self.endpoint.timeout {
            Some(t) => deadline.min(tokio::time::Instant::now() + t),
            None => deadline,
        };
        let started = Instant::now();
        let result = tokio::time::timeout_at(http_deadline, self.post(route, body, limit)).await;
        self.stats.busy_nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        result.unwrap_or(Err(ComputeError::Timeout))
    }

    async fn post(&self, route: &str, body: Value, limit: usize) -> Result<Value, ComputeError> {
        let url = format!("{}{route}", self.base);
        let failed = |m: String| ComputeError::Failed(format!("model {:?}: {url}: {m}", self.name));
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json");
        if let Some(auth) = &self.authorization {
            request = request.header(header::AUTHORIZATION, auth);
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| failed(format!("cannot build the request: {e}")))?;
        let response = match &self.client {
            HttpClient::Plain(c) => c.request(request).await,
            HttpClient::Tls(c) => c.request(request).await,
        }
        .map_err(|e| failed(format!("cannot reach the server: {}", error_chain(&e))))?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), limit)
            .collect()
            .await
            .map_err(|e| failed(format!("reading the reply (at most {limit} bytes): {e}")))?
            .to_bytes();
        if status != StatusCode::OK {
            let quote = String::from_utf8_lossy(&bytes[..bytes.len().min(ERROR_QUOTE)]).into_owned();
            return Err(failed(format!("the server answered {status}: {quote}")));
        }
        serde_json::from_slice(&bytes).map_err(|e| failed(format!("the reply is not JSON: {e}")))
    }
}

/// ring, named explicitly: rustls' process-wide default is ambiguous once any crate in the
/// build enables a second provider.
fn rustls_ring() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 1e-12 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}
