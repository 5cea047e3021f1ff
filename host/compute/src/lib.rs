//! Model serving for subnetd's `compute` capability: text and image embeddings with candle,
//! batched across concurrent callers, on the CPU or (with the `cuda` feature) a CUDA GPU.
//!
//! # Model
//! The operator lists models in [`ComputeConfig`]: a name, a [`ModelKind`] and a directory.
//! [`ComputeService::start`] loads them all (fails fast on any bad directory) and starts one
//! worker thread per model. Modules name models in calls; a name is only ever a key into that
//! table, never a path, so a module cannot make the host read any file.
//!
//! # Bounds
//! - Time: every call has `call_timeout` (queueing included) and then answers
//!   [`ComputeError::Timeout`]; a stuck model blocks only its own worker thread.
//! - Memory: texts per call, bytes per text, tokens per text (truncated), images per call,
//!   bytes and pixel dimensions per image, calls queued per model and queued payload bytes per
//!   model (`queue_capacity` calls, 256 MiB) are all capped; over a cap is a clear error.
//! - Threads: model work runs on the dedicated worker threads (candle itself may use a few
//!   more for matrix products), never on the caller's Tokio threads.
//!
//! # Failure modes
//! Unknown name: [`ComputeError::UnknownModel`]. Wrong kind or bad input:
//! [`ComputeError::InvalidInput`]. Text generation: [`ComputeError::NotAvailable`] (no
//! generation backend in this build). Model error, panic or full queue:
//! [`ComputeError::Failed`]. No input panics the service.
//!
//! The async methods must be awaited inside a Tokio runtime with the time driver enabled.
#![deny(missing_docs)]

mod config;
mod error;
mod image;
mod text;
mod worker;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use candle_core::{Device, DeviceLocation};
use tokio::sync::oneshot;

pub use config::{ComputeConfig, DevicePreference, ModelKind, ModelSpec};
pub use error::ComputeError;

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
    /// Texts or images embedded, in calls that succeeded.
    pub items: u64,
    /// Forward passes run.
    pub batches: u64,
    /// Calls that failed other than by timeout (bad input, overload, model failure).
    pub errors: u64,
    /// Calls that answered [`ComputeError::Timeout`].
    pub timeouts: u64,
    /// Time the worker spent decoding, tokenising and running the model.
    pub busy: Duration,
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

struct ModelHandle {
    kind: ModelKind,
    dim: usize,
    tx: SyncSender<Job>,
    queued: Arc<QueuedBytes>,
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

impl ComputeService {
    /// Validates the configuration, picks the device, loads every model and starts one worker
    /// thread per model. Blocking (model files are read here): call it before serving, or from
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
            let dir = std::fs::canonicalize(&spec.path).map_err(|e| {
                ComputeError::Config(format!("model {:?}: directory {}: {e}", spec.name, spec.path.display()))
            })?;
            if !dir.is_dir() {
                return Err(ComputeError::Config(format!(
                    "model {:?}: {} is not a directory",
                    spec.name,
                    dir.display()
                )));
            }
            let with_name = |e: ComputeError| match e {
                ComputeError::Config(m) => ComputeError::Config(format!("model {:?}: {m}", spec.name)),
                other => other,
            };
            let (engine, dim) = match spec.kind {
                ModelKind::TextEmbedding => {
                    let m = text::TextEmbedder::load(&dir, &device, config.max_tokens_per_text).map_err(with_name)?;
                    tracing::info!(model = %spec.name, dim = m.dim(), max_tokens = m.max_tokens(), path = %dir.display(), "compute: loaded text-embedding model");
                    let dim = m.dim();
                    (Engine::Text(Box::new(m)), dim)
                }
                ModelKind::ImageEmbedding => {
                    let m = image::ImageEmbedder::load(&dir, &device).map_err(with_name)?;
                    tracing::info!(model = %spec.name, dim = m.dim(), path = %dir.display(), "compute: loaded image-embedding model");
                    let dim = m.dim();
                    (Engine::Image(m), dim)
                }
                ModelKind::TextGeneration => {
                    return Err(ComputeError::Config(format!(
                        "model {:?}: text generation is not supported by this build",
                        spec.name
                    )));
                }
            };
            let (tx, rx) = sync_channel(config.queue_capacity);
            let worker = Arc::new(WorkerStats::default());
            worker::spawn(&spec.name, engine, params, worker.clone(), rx)
                .map_err(|e| ComputeError::Config(format!("model {:?}: cannot start worker thread: {e}", spec.name)))?;
            let queued = Arc::new(QueuedBytes { used: AtomicUsize::new(0), limit: QUEUED_BYTES_PER_MODEL });
            models.insert(
                spec.name.clone(),
                ModelHandle { kind: spec.kind, dim, tx, queued, calls: CallStats::default(), worker },
            );
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

    /// Length of the vectors a model returns, if the model exists.
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

    /// Text generation. This build has no generation backend (no small generative model ships
    /// in a package this project can install), so it always answers
    /// [`ComputeError::NotAvailable`].
    pub async fn generate_text(
        &self,
        model: &str,
        _prompt: String,
        _max_tokens: u32,
        _seed: u64,
    ) -> Result<String, ComputeError> {
        Err(ComputeError::NotAvailable(format!(
            "text generation is not supported by this host build (model {model:?}); \
             only text-embedding and image-embedding models can be configured"
        )))
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
        let reservation = Reservation::try_new(&handle.queued, payload.bytes())
            .ok_or_else(|| ComputeError::Failed(format!("model {model:?} is overloaded: too much input queued")))?;
        let timeout = self.inner.limits.call_timeout;
        let (reply, rx) = oneshot::channel();
        let job = Job { payload, deadline: Instant::now() + timeout, reply, _reservation: reservation };
        match handle.tx.try_send(job) {
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
