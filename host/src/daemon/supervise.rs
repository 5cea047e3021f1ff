//! Supervision of the daemon's long-running tasks: each subnet's validator loop runs as a tokio
//! task that is restarted, with backoff, if it ever dies.
//!
//! Invariants:
//! * A loop that returns has stopped for shutdown and is not restarted; a loop that panics is
//!   restarted after a delay that doubles from [`Backoff::initial`] up to [`Backoff::max`], and
//!   goes back to the initial delay once a run has lasted [`Backoff::healthy_after`].
//! * Every death is counted and its panic message kept in the loop's [`LoopHealth`], which the
//!   subnet's status and the `subnetd_loop_restarts_total{subnet}` metric show; one subnet's
//!   dead loop never stops another's.
//! * Shutdown during a backoff wait ends supervision at once.
//!
//! Failure modes: none of its own. The host does not panic on guest or network input by design
//! (both are validated on receipt); supervision is the backstop for a bug that slips through.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// Restart delays of a supervised loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the first restart.
    pub initial: Duration,
    /// Longest delay between restarts.
    pub max: Duration,
    /// A run at least this long resets the delay to `initial`.
    pub healthy_after: Duration,
}

impl Default for Backoff {
    /// 1 s doubling to 60 s: quick recovery from a one-off, no busy loop on a persistent bug.
    fn default() -> Self {
        Self { initial: Duration::from_secs(1), max: Duration::from_secs(60), healthy_after: Duration::from_secs(60) }
    }
}

/// How a supervised loop has fared since the daemon started.
#[derive(Debug, Default)]
pub struct LoopHealth {
    restarts: AtomicU64,
    last_death: Mutex<Option<String>>,
}

impl LoopHealth {
    /// Times the loop died and was restarted (or is waiting to be).
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// The panic message of the last death, if any.
    pub fn last_death(&self) -> Option<String> {
        self.last_death.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn died(&self, message: String) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
        *self.last_death.lock().unwrap_or_else(|p| p.into_inner()) = Some(message);
    }
}

fn panic_message(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic with a non-text payload".into()),
        Err(error) => error.to_string(),
    }
}

/// Runs `make()` as a task, again after each death (see the module docs), until one run
/// returns or `shutdown` turns true. `on_death` is told each death (for metrics).
pub async fn supervise<F, Fut>(
    name: &str,
    health: &LoopHealth,
    backoff: Backoff,
    mut shutdown: watch::Receiver<bool>,
    mut on_death: impl FnMut(&str),
    mut make: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut delay = backoff.initial;
    loop {
        let started = Instant::now();
        let error = match tokio::spawn(make()).await {
            Ok(()) => return,
            Err(e) if e.is_cancelled() => return,
            Err(e) => e,
        };
        let message = panic_message(error);
        if started.elapsed() >= backoff.healthy_after {
            delay = backoff.initial;
        }
        tracing::error!(task = name, panic = %message, restart_in_ms = delay.as_millis() as u64,
            "loop died; restarting");
        health.died(message.clone());
        on_death(&message);
        if *shutdown.borrow() {
            return;
        }
        tokio::select! {
            changed = shutdown.changed() => if changed.is_err() || *shutdown.borrow() { return },
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(backoff.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    fn fast() -> Backoff {
        Backoff {
            initial: Duration::from_millis(5),
            max: Duration::from_millis(20),
            healthy_after: Duration::from_secs(60),
        }
    }

    #[tokio::test]
    async fn a_panicking_loop_is_restarted_until_it_stops_cleanly() {
        let health = LoopHealth::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let (_tx, rx) = watch::channel(false);
        let mut deaths = Vec::new();
        let counter = runs.clone();
        supervise(
            "test",
            &health,
            fast(),
            rx,
            |m| deaths.push(m.to_owned()),
            move || {
                let run = counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    if run < 3 {
                        panic!("bug number {run}");
                    }
                }
            },
        )
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 4, "three deaths, then a clean stop");
        assert_eq!(health.restarts(), 3);
        assert_eq!(health.last_death().as_deref(), Some("bug number 2"));
        assert_eq!(deaths, ["bug number 0", "bug number 1", "bug number 2"]);
    }

    #[tokio::test]
    async fn shutdown_ends_a_backoff_wait() {
        let health = LoopHealth::default();
        let (tx, rx) = watch::channel(false);
        let slow = Backoff { initial: Duration::from_secs(3600), ..fast() };
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = tx.send(true);
        });
        supervise("test", &health, slow, rx, |_| {}, || async { panic!("always") }).await;
        stopper.await.unwrap();
        assert_eq!(health.restarts(), 1, "one death, then the wait was cut short");
    }
}
