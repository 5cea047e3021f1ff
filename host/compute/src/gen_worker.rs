//! The worker thread of one in-process generation model: it admits queued requests in arrival
//! order, up to `max_streams` at once, and runs them interleaved, one step each per round (a
//! prompt chunk or one token), so a long generation or a long prompt never holds back the others
//! by more than one step.
//!
//! Why interleaving, not batching: candle's quantized llama keeps one KV cache inside the model
//! and has no padding mask, so prompts of different lengths at different positions cannot share
//! a forward pass. Each stream owns a clone of the model (weights shared, KV cache its own),
//! which also makes its tokens independent of the others (see `generate.rs`).
//!
//! Invariants: model work never runs on a Tokio thread; a request whose caller has gone is
//! dropped at its next turn; one past its deadline answers `Timeout` at its next turn; a panic in
//! one stream fails only that stream. The thread ends when every sender is dropped and no stream
//! is left.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::ComputeError;
use crate::generate::{GenerateRequest, Generation, Step, Stream, TextGenerator};
use crate::worker::WorkerStats;

/// Answer of one generation call.
pub(crate) type GenReply = Result<Generation, ComputeError>;

/// One queued generation call.
pub(crate) struct GenJob {
    pub(crate) request: GenerateRequest,
    pub(crate) submitted: Instant,
    pub(crate) deadline: Instant,
    pub(crate) reply: oneshot::Sender<GenReply>,
}

struct Active {
    stream: Stream,
    deadline: Instant,
    reply: oneshot::Sender<GenReply>,
}

/// Starts the worker thread of one generation model.
pub(crate) fn spawn(
    name: &str,
    generator: TextGenerator,
    max_streams: usize,
    stats: Arc<WorkerStats>,
    rx: Receiver<GenJob>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(format!("compute-{name}"))
        .stack_size(8 << 20)
        .spawn(move || run(generator, max_streams.max(1), stats, rx))
        .map(|_| ())
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Tokenises a request and makes its stream, or answers it at once.
fn admit(generator: &TextGenerator, job: GenJob, active: &mut VecDeque<Active>, stats: &WorkerStats) {
    if job.reply.is_closed() {
        return;
    }
    if job.deadline <= Instant::now() {
        let _ = job.reply.send(Err(ComputeError::Timeout));
        return;
    }
    let started = Instant::now();
    let prepared = catch_unwind(AssertUnwindSafe(|| {
        job.request.validate()?;
        generator.prompt_tokens(&job.request)
    }));
    stats.busy_nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
    match prepared {
        Ok(Ok(prompt)) => {
            let stream = generator.stream(&job.request, prompt, job.submitted);
            active.push_back(Active { stream, deadline: job.deadline, reply: job.reply });
        }
        Ok(Err(e)) => {
            let _ = job.reply.send(Err(e));
        }
        Err(panic) => {
            let msg = panic_message(&*panic);
            tracing::error!(error = %msg, "compute: tokeniser panicked");
            let _ = job.reply.send(Err(ComputeError::Failed(format!("tokeniser panicked: {msg}"))));
        }
    }
}

fn run(generator: TextGenerator, max_streams: usize, stats: Arc<WorkerStats>, rx: Receiver<GenJob>) {
    let mut active: VecDeque<Active> = VecDeque::new();
    let mut open = true;
    loop {
        if active.is_empty() {
            if !open {
                return;
            }
            match rx.recv() {
                Ok(job) => admit(&generator, job, &mut active, &stats),
                Err(_) => return,
            }
        }
        while open && active.len() < max_streams {
            match rx.try_recv() {
                Ok(job) => admit(&generator, job, &mut active, &stats),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => open = false,
            }
        }
        // One round: every active stream takes one step, in admission order.
        for _ in 0..active.len() {
            let Some(mut a) = active.pop_front() else { break };
            if a.reply.is_closed() {
                continue;
            }
            if a.deadline <= Instant::now() {
                let _ = a.reply.send(Err(ComputeError::Timeout));
                continue;
            }
            let started = Instant::now();
            let outcome = catch_unwind(AssertUnwindSafe(|| a.stream.step(&generator)));
            stats.busy_nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            stats.batches.fetch_add(1, Ordering::Relaxed);
            match outcome {
                Ok(Ok(Step::Continue)) => active.push_back(a),
                Ok(Ok(Step::Done(generation))) => {
                    let _ = a.reply.send(Ok(generation));
                }
                Ok(Err(msg)) => {
                    tracing::warn!(error = %msg, generated = a.stream.generated(), "compute: generation failed");
                    let _ = a.reply.send(Err(ComputeError::Failed(msg)));
                }
                Err(panic) => {
                    let msg = panic_message(&*panic);
                    tracing::error!(error = %msg, "compute: generation panicked; failing its stream");
                    let _ = a.reply.send(Err(ComputeError::Failed(format!("model panicked: {msg}"))));
                }
            }
        }
    }
}
