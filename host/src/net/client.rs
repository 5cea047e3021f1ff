//! The HTTP plumbing the transport, the remote chain and the servers share: one pooled hyper
//! client type, and bounded body reading.
//!
//! Invariant: [`read_limited`] never holds more than `max` bytes of a body (plus one frame), and
//! refuses from the declared length before reading anything when the length is already over.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Body;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A pooled HTTP/1.1 client (keep-alive, no TLS).
pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A client with keep-alive pooling. `connect_timeout` bounds the TCP connect alone; callers
/// bound whole requests with their own deadlines.
pub(crate) fn new_client(connect_timeout: Duration, pool_idle: Duration, max_idle_per_host: usize) -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(connect_timeout));
    connector.enforce_http(true);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(pool_idle)
        .pool_max_idle_per_host(max_idle_per_host)
        // A miner that closes a kept-alive connection between tasks must not turn the next
        // task into a failure: hyper retries a request that never reached a reused connection.
        .retry_canceled_requests(true)
        .build(connector)
}

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The body (declared or received) is larger than allowed.
    TooLarge,
    /// The connection failed while reading.
    Io(String),
}

/// Reads a whole body, refusing it as soon as it is known to exceed `max` bytes.
pub(crate) async fn read_limited<B>(mut body: B, max: usize) -> Result<Bytes, ReadError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let max64 = u64::try_from(max).unwrap_or(u64::MAX);
    let hint = body.size_hint();
    if hint.lower() > max64 {
        return Err(ReadError::TooLarge);
    }
    // Preallocate from an exact declared length only (bounded by `max`); a lying length just
    // costs a reallocation.
    let mut buf = BytesMut::with_capacity(hint.exact().map_or(0, |n| n.min(max64) as usize).min(1 << 20));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ReadError::Io(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if buf.len().saturating_add(data.len()) > max {
                return Err(ReadError::TooLarge);
            }
            if buf.is_empty() && hint.exact() == Some(data.len() as u64) {
                // One frame with the whole body: no copy.
                return Ok(data);
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}
