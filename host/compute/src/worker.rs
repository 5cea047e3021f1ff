//! One dedicated OS thread per model: it owns the model, gathers queued calls into batches and
//! answers each caller through its oneshot channel.
//!
//! Batching rule: after the first call arrives the worker keeps collecting until the batch holds
//! `max_batch` items or `batch_window` has passed, then runs the items in forward passes of at
//! most `max_batch` (texts sorted by length first, so padding stays small), and scatters the
//! vectors back to their calls in order.
//!
//! Invariants: model work never runs on a Tokio thread; a call whose caller has gone (timed out)
//! is dropped unprocessed; a call past its deadline answers `Timeout` without running; a bad
//! input fails only its own call; a panic inside the model is caught and fails the calls of that
//! batch, and the worker keeps serving. The thread ends when every sender is dropped.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::ComputeError;
use crate::image::ImageEmbedder;
use crate::text::TextEmbedder;

/// Result of one call: one vector per input, in input order.
pub(crate) type Reply = Result<Vec<Vec<f32>>, ComputeError>;

/// The inputs of one call.
pub(crate) enum Payload {
    Texts(Vec<String>),
    Images(Vec<Vec<u8>>),
}

impl Payload {
    pub(crate) fn len(&self) -> usize {
        match self {
            Payload::Texts(t) => t.len(),
            Payload::Images(i) => i.len(),
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        match self {
            Payload::Texts(t) => t.iter().map(|s| s.len() + 32).sum(),
            Payload::Images(i) => i.iter().map(|b| b.len() + 32).sum(),
        }
    }
}

/// Bytes of queued payloads of one model; a `Job` gives its share back when dropped.
pub(crate) struct QueuedBytes {
    pub(crate) used: AtomicUsize,
    pub(crate) limit: usize,
}

/// Holds a payload's bytes against the model's queue budget until dropped.
pub(crate) struct Reservation {
    pool: Arc<QueuedBytes>,
    bytes: usize,
}

impl Reservation {
    /// Reserves `bytes`, or returns `None` when the budget would be exceeded.
    pub(crate) fn try_new(pool: &Arc<QueuedBytes>, bytes: usize) -> Option<Self> {
        let mut cur = pool.used.load(Ordering::Relaxed);
        loop {
            let next = cur.checked_add(bytes)?;
            if next > pool.limit {
                return None;
            }
            match pool.used.compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Some(Reservation { pool: pool.clone(), bytes }),
                Err(actual) => cur = actual,
            }
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.pool.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// One queued call.
pub(crate) struct Job {
    pub(crate) payload: Payload,
    pub(crate) deadline: Instant,
    pub(crate) reply: oneshot::Sender<Reply>,
    pub(crate) _reservation: Reservation,
}

/// Counters the worker updates; the service reads them for metrics.
#[derive(Default)]
pub(crate) struct WorkerStats {
    pub(crate) batches: AtomicU64,
    pub(crate) busy_nanos: AtomicU64,
}

/// What a worker runs.
pub(crate) enum Engine {
    Text(Box<TextEmbedder>),
    Image(ImageEmbedder),
}

/// Batching and input limits a worker applies.
#[derive(Clone, Copy)]
pub(crate) struct WorkerParams {
    pub(crate) max_batch: usize,
    pub(crate) max_image_batch: usize,
    pub(crate) window: Duration,
    pub(crate) max_image_dimension: u32,
}

/// Starts the worker thread of one model.
pub(crate) fn spawn(
    name: &str,
    engine: Engine,
    params: WorkerParams,
    stats: Arc<WorkerStats>,
    rx: Receiver<Job>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(format!("compute-{name}"))
        .stack_size(8 << 20)
        .spawn(move || run(engine, params, stats, rx))
        .map(|_| ())
}

fn run(engine: Engine, params: WorkerParams, stats: Arc<WorkerStats>, rx: Receiver<Job>) {
    let limit = match engine {
        Engine::Text(_) => params.max_batch,
        Engine::Image(_) => params.max_image_batch,
    };
    while let Ok(first) = rx.recv() {
        let mut items = first.payload.len();
        let mut jobs = vec![first];
        let until = Instant::now() + params.window;
        while items < limit {
            let now = Instant::now();
            if now >= until {
                break;
            }
            match rx.recv_timeout(until - now) {
                Ok(job) => {
                    items += job.payload.len();
                    jobs.push(job);
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        let now = Instant::now();
        let mut live = Vec::with_capacity(jobs.len());
        for job in jobs {
            if job.reply.is_closed() {
                continue; // the caller timed out or went away: nothing to answer
            }
            if job.deadline <= now {
                let _ = job.reply.send(Err(ComputeError::Timeout));
                continue;
            }
            live.push(job);
        }
        if live.is_empty() {
            continue;
        }
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| match &engine {
            Engine::Text(t) => run_text(t, &live, params.max_batch),
            Engine::Image(m) => run_images(m, &live, params),
        }));
        stats.busy_nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        match outcome {
            Ok((replies, passes)) => {
                stats.batches.fetch_add(passes, Ordering::Relaxed);
                for (job, reply) in live.into_iter().zip(replies) {
                    let _ = job.reply.send(reply);
                }
            }
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                tracing::error!(error = %msg, "compute: model panicked; failing its batch");
                for job in live {
                    let _ = job.reply.send(Err(ComputeError::Failed(format!("model panicked: {msg}"))));
                }
            }
        }
    }
}

/// Per-job replies and the number of forward passes run.
type BatchOutcome = (Vec<Reply>, u64);

/// Runs `prepared[i]` (the per-job inputs, or that job's error) in chunks of `chunk` items,
/// `order` giving the processing order of the flattened items.
fn run_chunks<T, F>(
    prepared: Vec<Result<Vec<T>, ComputeError>>,
    chunk: usize,
    order_key: impl Fn(&T) -> usize,
    mut forward: F,
) -> BatchOutcome
where
    F: FnMut(&[&T]) -> Result<Vec<Vec<f32>>, String>,
{
    let mut flat: Vec<(usize, usize, &T)> = Vec::new();
    for (j, p) in prepared.iter().enumerate() {
        if let Ok(items) = p {
            for (i, it) in items.iter().enumerate() {
                flat.push((j, i, it));
            }
        }
    }
    flat.sort_by_key(|(_, _, it)| order_key(it));
    let mut out: Vec<Result<Vec<Vec<f32>>, ComputeError>> = prepared
        .iter()
        .map(|p| match p {
            Ok(items) => Ok(vec![Vec::new(); items.len()]),
            Err(e) => Err(e.clone()),
        })
        .collect();
    let mut passes = 0;
    for group in flat.chunks(chunk.max(1)) {
        let inputs: Vec<&T> = group.iter().map(|(_, _, it)| *it).collect();
        passes += 1;
        match forward(&inputs) {
            Ok(vectors) if vectors.len() == group.len() => {
                for ((j, i, _), v) in group.iter().zip(vectors) {
                    if let Ok(slots) = &mut out[*j] {
                        slots[*i] = v;
                    }
                }
            }
            Ok(vectors) => {
                let msg = format!("model returned {} vectors for {} inputs", vectors.len(), group.len());
                for (j, _, _) in group {
                    out[*j] = Err(ComputeError::Failed(msg.clone()));
                }
            }
            Err(msg) => {
                tracing::warn!(error = %msg, "compute: forward pass failed");
                for (j, _, _) in group {
                    out[*j] = Err(ComputeError::Failed(msg.clone()));
                }
            }
        }
    }
    (out, passes)
}

fn run_text(model: &TextEmbedder, jobs: &[Job], max_batch: usize) -> BatchOutcome {
    let prepared: Vec<Result<Vec<Vec<u32>>, ComputeError>> = jobs
        .iter()
        .map(|job| match &job.payload {
            Payload::Texts(texts) => texts
                .iter()
                .enumerate()
                .map(|(i, t)| model.tokenize(t).map_err(|e| ComputeError::InvalidInput(format!("text {i}: {e}"))))
                .collect(),
            Payload::Images(_) => Err(ComputeError::InvalidInput("images sent to a text model".into())),
        })
        .collect();
    run_chunks(
        prepared,
        max_batch,
        |toks| toks.len(),
        |batch| {
            let slices: Vec<&[u32]> = batch.iter().map(|t| t.as_slice()).collect();
            model.embed_tokens(&slices)
        },
    )
}

fn run_images(model: &ImageEmbedder, jobs: &[Job], params: WorkerParams) -> BatchOutcome {
    let prepared: Vec<Result<Vec<Vec<f32>>, ComputeError>> = jobs
        .iter()
        .map(|job| match &job.payload {
            Payload::Images(images) => images
                .iter()
                .enumerate()
                .map(|(i, bytes)| {
                    model.preprocess(bytes, params.max_image_dimension).map_err(|e| match e {
                        ComputeError::InvalidInput(m) => ComputeError::InvalidInput(format!("image {i}: {m}")),
                        other => other,
                    })
                })
                .collect(),
            Payload::Texts(_) => Err(ComputeError::InvalidInput("texts sent to an image model".into())),
        })
        .collect();
    run_chunks(
        prepared,
        params.max_image_batch,
        |_| 0,
        |batch| {
            let slices: Vec<&[f32]> = batch.iter().map(|t| t.as_slice()).collect();
            model.embed(&slices)
        },
    )
}
