//! Model serving for subnetd's `compute` capability: text and image embeddings and text
//! generation with candle, on the CPU or (with the `cuda` feature) a CUDA GPU, or through an
//! OpenAI-compatible inference server.
//!
//! # Model
//! The operator lists models in [`ComputeConfig`]: a name, a [`ModelKind`] and a
//! [`ModelSource`] (files, or a server). [`ComputeService::start`] loads them all (fails fast on
//! any bad file) and starts one worker thread per in-process model. Modules name models in
//! calls; a name is only ever a key into that table, never a path or URL, so a module cannot make
//! the host read any file or reach any server.
//!
//! Embedding workers merge concurrent calls into batches. Generation workers interleave up to
//! `max_concurrency` requests token by token (see `gen_worker.rs` for why not batched); the
//! OpenAI backend sends up to `max_concurrency` requests at once.
//!
//! # Bounds
//! - Time: every call has `call_timeout` (queueing included) and then answers
//!   [`ComputeError::Timeout`]; a stuck model blocks only its own worker thread.
//! - Memory: texts per call, bytes per text, tokens per text (truncated), images per call,
//!   bytes and pixel dimensions per image, calls queued per model and queued payload bytes per
//!   model (`queue_capacity` calls, 256 MiB) are all capped; over a cap is a clear error.
//!   Generation: prompt bytes (`max_text_bytes`), prompt tokens (the context length), tokens
//!   generated (the model's `max_tokens`), streams at once (`max_concurrency`), stop sequences.
//!   Remote replies: bounded body size.
//! - Threads: model work runs on the dedicated worker threads (candle itself may use a few
//!   more for matrix products), never on the caller's Tokio threads.
//!
//! # Failure modes
//! Unknown name: [`ComputeError::UnknownModel`]. Wrong kind or bad input (a prompt over the
//! context length names both lengths): [`ComputeError::InvalidInput`]. Model error, panic, full
//! queue, or an inference server that is down, refuses or answers badly:
//! [`ComputeError::Failed`] with the reason. Past the time budget: [`ComputeError::Timeout`].
//! No input panics the service.
//!
//! The async methods must be awaited inside a Tokio runtime with the time driver enabled.
#![deny(missing_docs)]

mod chat;
mod config;
mod error;
mod gen_worker;
mod generate;
mod gguf_tokenizer;
mod image;
mod openai;
mod text;
mod worker;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use candle_core::{Device, DeviceLocation};
use tokio::sync::oneshot;

pub use config::{
    ComputeConfig, DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_TOKENS, DevicePreference, ModelKind, ModelSource, ModelSpec,
    OpenAiApi, OpenAiEndpoint,
};
pub use error::ComputeError;
pub use generate::{FinishReason, GenerateRequest, Generation, MAX_STOP_BYTES, MAX_STOP_SEQUENCES};

use gen_worker::GenJob;
use openai::OpenAiModel;
use worker::{Engine, Job, Payload, QueuedBytes, Reservation, WorkerParams, WorkerStats};

/// Payload bytes that may wait in one model's queue.
const QUEUED_BYTES_PER_MODEL: usize = 256 << 20;

/// Counters of one model since start.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelMetrics {
    /// The model's configured name.
    pub name: String,
    /// What it does.
    pub kind: ModelKind,
    /// Calls naming this model (all outcomes).
    pub calls: u64,
    /// Texts or images embedded, or tokens generated, in calls that succeeded.
    pub items: u64,
    /// Forward passes run (generation: prompt chunks and tokens; OpenAI backend: HTTP requests).
    pub batches: u64,
    /// Calls that failed other than by timeout (bad input, overload, model failure).
    pub errors: u64,
    /// Calls that answered [`ComputeError::Timeout`].
    pub timeouts: u64,
    /// Time the worker spent decoding, tokenising and running the model (OpenAI backend: time
    /// in HTTP exchanges, summed over concurrent requests).
    pub busy: Duration,
}

impl ModelMetrics {
    /// Items per second of busy time: generated tokens per second for a generation model.
    pub fn items_per_busy_second(&self) -> f64 {
        let busy = self.busy.as_secs_f64();
        if busy > 0.0 { self.items as f64 / busy } else { 0.0 }
    }
}

/// A snapshot of the service's counters, for Prometheus.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputeMetrics {
    /// Where models run: `cpu` or `cuda:N`.
    pub device: String,
    /// One entry per configured model, in configuration order.
    pub models: Vec<ModelMetrics>,
}

#[derive(Default)]
struct CallStats {
    calls: AtomicU64,
    items: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
}

/// How calls reach a model.
enum Backend {
    /// An in-process embedding worker.
    Embed { tx: SyncSender<Job>, queued: Arc<QueuedBytes> },
    /// An in-process generation worker.
    Generate { tx: SyncSender<GenJob> },
    /// An OpenAI-compatible server.
    Remote(Arc<OpenAiModel>),
}

struct ModelHandle {
    kind: ModelKind,
    dim: usize,
    backend: Backend,
    calls: CallStats,
    worker: Arc<WorkerStats>,
}

struct Inner {
    device: String,
    order: Vec<String>,
    models: BTreeMap<String, ModelHandle>,
    limits: ComputeConfig,
}

/// The compute service: cheap to clone (an `Arc` inside); workers stop when the last clone is
/// dropped.
#[derive(Clone)]
pub struct ComputeService {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ComputeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComputeService").field("device", &self.inner.device).field("models", &self.inner.order).finish()
    }
}

fn select_device(pref: DevicePreference) -> Result<Device, ComputeError> {
    match pref {
        DevicePreference::Cpu => Ok(Device::Cpu),
        DevicePreference::Auto => {
            #[cfg(feature = "cuda")]
            match new_cuda(0) {
                Ok(d) => return Ok(d),
                Err(e) => tracing::info!("compute: no usable CUDA device ({e}); using the CPU"),
            }
            Ok(Device::Cpu)
        }
        DevicePreference::Cuda(n) => {
            #[cfg(feature = "cuda")]
            {
                new_cuda(n).map_err(|e| ComputeError::Config(format!("CUDA device {n} unusable: {e}")))
            }
            #[cfg(not(feature = "cuda"))]
            {
                Err(ComputeError::Config(format!(
                    "device cuda:{n} requested but subnet-compute was built without the `cuda` feature"
                )))
            }
        }
    }
}

/// Opens a CUDA device; a missing driver library may panic inside cudarc, so that is caught.
/// Compiled in every build (so CPU-only builds type-check it), used only with `cuda`.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
fn new_cuda(n: usize) -> Result<Device, String> {
    match std::panic::catch_unwind(|| Device::new_cuda(n)) {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the CUDA driver could not be loaded".into()),
    }
}

fn device_name(d: &Device) -> String {
    match d.location() {
        DeviceLocation::Cpu => "cpu".into(),
        DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

/// Loads an in-process model and starts its worker thread.
fn start_local(
    spec: &ModelSpec,
    path: &std::path::Path,
    device: &Device,
    config: &ComputeConfig,
    params: WorkerParams,
) -> Result<ModelHandle, ComputeError> {
    let path = std::fs::canonicalize(path).map_err(|e| {
        let what = if spec.kind == ModelKind::TextGeneration { "file or directory" } else { "directory" };
        ComputeError::Config(format!("model {:?}: {what} {}: {e}", spec.name, path.display()))
    })?;
    if spec.kind != ModelKind::TextGeneration && !path.is_dir() {
        return Err(ComputeError::Config(format!("model {:?}: {} is not a directory", spec.name, path.display())));
    }
    let with_name = |e: ComputeError| match e {
        ComputeError::Config(m) => ComputeError::Config(format!("model {:?}: {m}", spec.name)),
        other => other,
    };
    let worker = Arc::new(WorkerStats::default());
    let thread_err =
        |e: std::io::Error| ComputeError::Config(format!("model {:?}: cannot start worker thread: {e}", spec.name));
    let (engine, dim) = match spec.kind {
        ModelKind::TextEmbedding => {
            let m = text::TextEmbedder::load(&path, device, config.max_tokens_per_text).map_err(with_name)?;
            tracing::info!(model = %spec.name, dim = m.dim(), max_tokens = m.max_tokens(), path = %path.display(), "compute: loaded text-embedding model");
            let dim = m.dim();
            (Engine::Text(Box::new(m)), dim)
        }
        ModelKind::ImageEmbedding => {
            let m = image::ImageEmbedder::load(&path, device).map_err(with_name)?;
            tracing::info!(model = %spec.name, dim = m.dim(), path = %path.display(), "compute: loaded image-embedding model");
            let dim = m.dim();
            (Engine::Image(m), dim)
        }
        ModelKind::TextGeneration => {
            let limits = generate::GenLimits { max_tokens: spec.max_tokens, context: spec.context_length };
            let m = generate::TextGenerator::load(&path, device, limits).map_err(with_name)?;
            tracing::info!(model = %spec.name, context = m.context(), chat_template = m.has_chat_template(), max_tokens = spec.max_tokens, path = %path.display(), "compute: loaded text-generation model");
            let (tx, rx) = sync_channel(config.queue_capacity);
            gen_worker::spawn(&spec.name, m, spec.max_concurrency, worker.clone(), rx).map_err(thread_err)?;
            let calls = CallStats::default();
            return Ok(ModelHandle { kind: spec.kind, dim: 0, backend: Backend::Generate { tx }, calls, worker });
        }
    };
    let (tx, rx) = sync_channel(config.queue_capacity);
    worker::spawn(&spec.name, engine, params, worker.clone(), rx).map_err(thread_err)?;
    let queued = Arc::new(QueuedBytes { used: AtomicUsize::new(0), limit: QUEUED_BYTES_PER_MODEL });
    Ok(ModelHandle {
        kind: spec.kind,
        dim,
        backend: Backend::Embed { tx, queued },
        calls: CallStats::default(),
        worker,
    })
}

impl ComputeService {
    /// Validates the configuration, picks the device, loads every in-process model and starts
    /// one worker thread per model; remote models are not contacted here. Blocking (model files are read here): call it before serving, or from
    /// `spawn_blocking`. Logs the device and the models at `info`.
    pub fn start(config: ComputeConfig) -> Result<Self, ComputeError> {
        config.validate()?;
        let device = select_device(config.device)?;
        let device_str = device_name(&device);
        tracing::info!(device = %device_str, "compute: models run on {device_str}");
        let params = WorkerParams {
            max_batch: config.max_batch,
            max_image_batch: config.max_image_batch,
            window: config.batch_window,
            max_image_dimension: config.max_image_dimension,
        };
        let mut models = BTreeMap::new();
        let mut order = Vec::new();
        for spec in &config.models {
            let handle = match &spec.source {
                ModelSource::Local(path) => start_local(spec, path, &device, &config, params)?,
                ModelSource::OpenAi(endpoint) => {
                    let remote = OpenAiModel::new(spec, endpoint, config.queue_capacity)?;
                    tracing::info!(model = %spec.name, kind = %spec.kind, url = %endpoint.url, server_model = %endpoint.model, "compute: using an OpenAI-compatible server");
                    let worker = remote.stats.clone();
                    let dim = remote.dim();
                    ModelHandle {
                        kind: spec.kind,
                        dim,
                        backend: Backend::Remote(Arc::new(remote)),
                        calls: CallStats::default(),
                        worker,
                    }
                }
            };
            models.insert(spec.name.clone(), handle);
            order.push(spec.name.clone());
        }
        let limits = ComputeConfig { models: Vec::new(), ..config };
        Ok(ComputeService { inner: Arc::new(Inner { device: device_str, order, models, limits }) })
    }

    /// Where models run: `cpu` or `cuda:N`.
    pub fn device(&self) -> String {
        self.inner.device.clone()
    }

    /// The configured models, in configuration order.
    pub fn models(&self) -> Vec<(String, ModelKind)> {
        self.inner.order.iter().map(|n| (n.clone(), self.inner.models[n].kind)).collect()
    }

    /// Length of the vectors a model returns, if the model exists (0 for a generation model, and
    /// for a remote embedding model configured without `dim`).
    pub fn embedding_dim(&self, model: &str) -> Option<usize> {
        self.inner.models.get(model).map(|m| m.dim)
    }

    /// One L2-normalised embedding per text, in order. Texts longer than the model's window are
    /// truncated (as sentence-transformers does); longer than `max_text_bytes` is rejected.
    /// An empty list gives an empty list.
    pub async fn embed_text(&self, model: &str, texts: Vec<String>) -> Result<Vec<Vec<f32>>, ComputeError> {
        let limits = &self.inner.limits;
        self.call(model, ModelKind::TextEmbedding, || {
            if texts.len() > limits.max_texts_per_call {
                return Err(ComputeError::InvalidInput(format!(
                    "{} texts in one call; the limit is {}",
                    texts.len(),
                    limits.max_texts_per_call
                )));
            }
            if let Some((i, t)) = texts.iter().enumerate().find(|(_, t)| t.len() > limits.max_text_bytes) {
                return Err(ComputeError::InvalidInput(format!(
                    "text {i} is {} bytes; the limit is {}",
                    t.len(),
                    limits.max_text_bytes
                )));
            }
            Ok(Payload::Texts(texts))
        })
        .await
    }

    /// One L2-normalised embedding per image (PNG or JPEG bytes), in order. An empty list gives
    /// an empty list; an undecodable or oversized image fails the call, naming its index.
    pub async fn embed_image(&self, model: &str, images: Vec<Vec<u8>>) -> Result<Vec<Vec<f32>>, ComputeError> {
        let limits = &self.inner.limits;
        self.call(model, ModelKind::ImageEmbedding, || {
            if images.len() > limits.max_images_per_call {
                return Err(ComputeError::InvalidInput(format!(
                    "{} images in one call; the limit is {}",
                    images.len(),
                    limits.max_images_per_call
                )));
            }
            if let Some((i, b)) = images.iter().enumerate().find(|(_, b)| b.len() > limits.max_image_bytes) {
                return Err(ComputeError::InvalidInput(format!(
                    "image {i} is {} bytes; the limit is {}",
                    b.len(),
                    limits.max_image_bytes
                )));
            }
            Ok(Payload::Images(images))
        })
        .await
    }

    /// Generates text for `request` with a text-generation model (in process or remote).
    /// Instruct models get the prompt (and system message) through their chat template.
    /// Deterministic for a given request: greedy at temperature 0, seeded sampling otherwise.
    pub async fn generate(&self, model: &str, request: GenerateRequest) -> Result<Generation, ComputeError> {
        let handle = self.inner.models.get(model).ok_or_else(|| ComputeError::UnknownModel(model.to_string()))?;
        handle.calls.calls.fetch_add(1, Ordering::Relaxed);
        let result = self.generate_on(model, handle, request).await;
        let counter = match &result {
            Ok(g) => {
                handle.calls.items.fetch_add(u64::from(g.completion_tokens), Ordering::Relaxed);
                return result;
            }
            Err(ComputeError::Timeout) => &handle.calls.timeouts,
            Err(_) => &handle.calls.errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        result
    }

    /// Greedy generation (temperature 0) of at most `max_tokens` tokens, text only: the WIT
    /// `generate-text` call. `seed` only matters to sampling, so it does not change the text.
    pub async fn generate_text(
        &self,
        model: &str,
        prompt: String,
        max_tokens: u32,
        seed: u64,
    ) -> Result<String, ComputeError> {
        let request = GenerateRequest { seed, ..GenerateRequest::greedy(prompt, max_tokens) };
        self.generate(model, request).await.map(|g| g.text)
    }

    async fn generate_on(
        &self,
        model: &str,
        handle: &ModelHandle,
        request: GenerateRequest,
    ) -> Result<Generation, ComputeError> {
        if handle.kind != ModelKind::TextGeneration {
            return Err(ComputeError::InvalidInput(format!(
                "model {model:?} is a {} model, not {}",
                handle.kind,
                ModelKind::TextGeneration
            )));
        }
        let limit = self.inner.limits.max_text_bytes;
        let bytes = request.prompt.len() + request.system.as_ref().map_or(0, String::len);
        if bytes > limit {
            return Err(ComputeError::InvalidInput(format!(
                "prompt and system message are {bytes} bytes; the limit is {limit}"
            )));
        }
        let timeout = self.inner.limits.call_timeout;
        let tx = match &handle.backend {
            Backend::Generate { tx } => tx,
            Backend::Remote(remote) => return remote.generate(&request, timeout).await,
            Backend::Embed { .. } => {
                return Err(ComputeError::Failed(format!("model {model:?} has no generation worker")));
            }
        };
        let submitted = Instant::now();
        let (reply, rx) = oneshot::channel();
        let job = GenJob { request, submitted, deadline: submitted + timeout, reply };
        match tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(ComputeError::Failed(format!("model {model:?} is overloaded: too many calls queued")));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(ComputeError::Failed(format!("model {model:?}: its worker has stopped")));
            }
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(ComputeError::Failed(format!("model {model:?}: its worker has stopped"))),
            Err(_) => Err(ComputeError::Timeout),
        }
    }

    /// Counters per model since start.
    pub fn metrics(&self) -> ComputeMetrics {
        let models = self
            .inner
            .order
            .iter()
            .map(|name| {
                let m = &self.inner.models[name];
                ModelMetrics {
                    name: name.clone(),
                    kind: m.kind,
                    calls: m.calls.calls.load(Ordering::Relaxed),
                    items: m.calls.items.load(Ordering::Relaxed),
                    batches: m.worker.batches.load(Ordering::Relaxed),
                    errors: m.calls.errors.load(Ordering::Relaxed),
                    timeouts: m.calls.timeouts.load(Ordering::Relaxed),
                    busy: Duration::from_nanos(m.worker.busy_nanos.load(Ordering::Relaxed)),
                }
            })
            .collect();
        ComputeMetrics { device: self.inner.device.clone(), models }
    }

    async fn call(
        &self,
        model: &str,
        want: ModelKind,
        payload: impl FnOnce() -> Result<Payload, ComputeError>,
    ) -> Result<Vec<Vec<f32>>, ComputeError> {
        let handle = self.inner.models.get(model).ok_or_else(|| ComputeError::UnknownModel(model.to_string()))?;
        handle.calls.calls.fetch_add(1, Ordering::Relaxed);
        let result = self.submit(model, handle, want, payload).await;
        let counter = match &result {
            Ok(v) => {
                handle.calls.items.fetch_add(v.len() as u64, Ordering::Relaxed);
                return result;
            }
            Err(ComputeError::Timeout) => &handle.calls.timeouts,
            Err(_) => &handle.calls.errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        result
    }

    async fn submit(
        &self,
        model: &str,
        handle: &ModelHandle,
        want: ModelKind,
        payload: impl FnOnce() -> Result<Payload, ComputeError>,
    ) -> Result<Vec<Vec<f32>>, ComputeError> {
        if handle.kind != want {
            return Err(ComputeError::InvalidInput(format!("model {model:?} is a {} model, not {want}", handle.kind)));
        }
        let payload = payload()?;
        if payload.len() == 0 {
            return Ok(Vec::new());
        }
        let timeout = self.inner.limits.call_timeout;
        let (tx, queued) = match &handle.backend {
            Backend::Embed { tx, queued } => (tx, queued),
            Backend::Remote(remote) => {
                return match payload {
                    Payload::Texts(texts) => remote.embed(&texts, timeout).await,
                    Payload::Images(_) => Err(ComputeError::InvalidInput(format!("model {model:?} takes no images"))),
                };
            }
            Backend::Generate { .. } => {
                return Err(ComputeError::Failed(format!("model {model:?} has no embedding worker")));
            }
        };
        let reservation = Reservation::try_new(queued, payload.bytes())
            .ok_or_else(|| ComputeError::Failed(format!("model {model:?} is overloaded: too much input queued")))?;
        let (reply, rx) = oneshot::channel();
        let job = Job { payload, deadline: Instant::now() + timeout, reply, _reservation: reservation };
        match tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(ComputeError::Failed(format!("model {model:?} is overloaded: too many calls queued")));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(ComputeError::Failed(format!("model {model:?}: its worker has stopped")));
            }
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(ComputeError::Failed(format!("model {model:?}: its worker has stopped"))),
            Err(_) => Err(ComputeError::Timeout),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_service_can_be_shared_across_tasks() {
        fn send_sync<T: Send + Sync + Clone + 'static>() {}
        send_sync::<super::ComputeService>();
    }
}
