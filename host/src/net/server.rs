//! The accept loop both servers (miner axon, chain node) run: HTTP/1.1 with keep-alive, a
//! bound on open connections, a deadline for reading request headers (slow-header clients do not
//! hold connections forever), `TCP_NODELAY`, the peer address as axum's `ConnectInfo`, and
//! graceful shutdown.
//!
//! Invariants: at most `max_connections` connections are open at once (further clients wait in
//! the kernel's backlog); after shutdown is signalled no new connection is accepted, idle
//! keep-alive connections close at once, and [`ServerTask::stop`] waits for in-flight requests
//! up to its grace period, then abandons them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt as _;

/// Connection-level limits.
#[derive(Debug, Clone)]
pub(crate) struct ConnLimits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Time a client has to send a request's headers.
    pub header_read_timeout: Duration,
}

/// A running accept loop.
pub(crate) struct ServerTask {
    shutdown: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    connections: Arc<Semaphore>,
    max_connections: u32,
}

impl ServerTask {
    /// Starts serving `router` on `listener`.
    pub(crate) fn spawn(listener: TcpListener, router: Router, limits: ConnLimits) -> ServerTask {
        let (shutdown, mut stop) = watch::channel(false);
        let max = u32::try_from(limits.max_connections.clamp(1, 1 << 20)).unwrap_or(1 << 20);
        let connections = Arc::new(Semaphore::new(max as usize));
        let conns = connections.clone();
        let task = tokio::spawn(async move {
            loop {
                let permit = tokio::select! {
                    biased;
                    _ = stop.changed() => break,
                    p = conns.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                };
                let (stream, peer) = tokio::select! {
                    biased;
                    _ = stop.changed() => break,
                    r = listener.accept() => match r {
                        Ok(x) => x,
                        Err(e) => {
                            // EMFILE and friends: back off instead of spinning.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                let mut stop = stop.clone();
                let header_timeout = limits.header_read_timeout;
                tokio::spawn(async move {
                    let _permit = permit;
                    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                        req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                        router.clone().oneshot(req)
                    });
                    let mut builder = hyper::server::conn::http1::Builder::new();
                    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout).keep_alive(true);
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        r = conn.as_mut() => {
                            if let Err(e) = r {
                                tracing::trace!(%peer, error = %e, "connection ended");
                            }
                            return;
                        }
                        _ = stop.changed() => conn.as_mut().graceful_shutdown(),
                    }
                    let _ = conn.await;
                });
            }
        });
        ServerTask { shutdown, task: Some(task), connections, max_connections: max }
    }

    /// Stops accepting, lets in-flight requests finish for up to `grace`, and returns.
    pub(crate) async fn stop(&mut self, grace: Duration) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let _ = tokio::time::timeout(grace, self.connections.acquire_many(self.max_connections)).await;
    }
}

impl Drop for ServerTask {
    fn drop(&mut self) {
        // Without an explicit stop, dropping the handle still stops the accept loop; open
        // connections finish their current request and close.
        let _ = self.shutdown.send(true);
    }
}
