//! [`HttpTransport`]: the validator's side of the wire protocol (see [`crate::net`]).
//!
//! Each query is one signed `POST` to the miner's axon over a pooled keep-alive connection, in
//! the subnet's wire protocol ([`HttpTransportConfig::protocol`]; `POST /v1/task` with
//! `btauth/1` by default; requests per protocol in [`super::outbound`]). The whole exchange (connect, send, wait, read the answer) runs under the query's
//! timeout, so a miner that stalls, trickles bytes or streams an endless body costs its own query
//! a `timeout` (or `malformed`, once the answer passes the size limit) and nothing else; other
//! queries run on their own connections.
//!
//! Hashing: the body's sha256 is part of what is signed. A task goes to many miners with the
//! same body, so digests of large bodies are memoised per task (keyed by task id and netuid, and
//! confirmed by comparing the bytes, which is an order of magnitude cheaper than hashing them),
//! so a 4 MiB image sent to 256 miners is hashed once, not 256 times.
//!
//! Latency is wall time from just before the request is sent to the last byte of the answer.
//!
//! Targets: a miner's axon address is its own choice, so before anything is signed the address
//! goes through [`super::target::check_target`]; unless
//! [`HttpTransportConfig::allow_private_targets`] is set, loopback, private, link-local and other
//! non-global addresses are not contacted and the query is `failed` at once (latency 0), as for
//! a miner with no axon. [`HttpTransport::refused_targets`] counts them.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::CONTENT_TYPE;
use sha2::{Digest as _, Sha256};
use subnet_keys::Keypair;
use subnet_keys::btauth::{fresh_nonce, sign_request_prehashed};

use super::TASK_PATH;
use super::client::{HttpClient, ReadError, new_client, read_limited};
use super::outbound;
use super::target::check_target;
use super::wire::{WireProtocol, synapse_answer, synapse_status};
use crate::bindings::types::{MinerResponse, Payload, ResponseStatus};
use crate::validator::transport::{MinerQuery, MinerTransport, empty_response};

/// Settings of an [`HttpTransport`].
#[derive(Debug, Clone)]
pub struct HttpTransportConfig {
    /// Largest answer accepted; a larger one is `malformed` (default 16 MiB).
    pub max_response_bytes: usize,
    /// Longest a TCP connect may take, within the query's timeout (default 3 s).
    pub connect_timeout: Duration,
    /// How long an idle kept-alive connection is kept (default 60 s).
    pub pool_idle_timeout: Duration,
    /// Idle connections kept per miner (default 8).
    pub pool_max_idle_per_host: usize,
    /// Bodies at least this large have their digest memoised per task (default 16 KiB).
    pub memo_min_body: usize,
    /// Contact miners on loopback, private, link-local and other non-global addresses (default
    /// false; a subnet's `[subnet.network] allow_private_targets`, the sandbox's `--network`
    /// and the daemon's local miners turn it on).
    pub allow_private_targets: bool,
    /// The wire protocol spoken (default `btauth/1`; see [`super::wire`] and [`super::outbound`]).
    pub protocol: WireProtocol,
}

impl Default for HttpTransportConfig {
    fn default() -> Self {
        Self {
            max_response_bytes: 16 << 20,
            connect_timeout: Duration::from_secs(3),
            pool_idle_timeout: Duration::from_secs(60),
            pool_max_idle_per_host: 8,
            memo_min_body: 16 << 10,
            allow_private_targets: false,
            protocol: WireProtocol::Btauth,
        }
    }
}

/// Queries miners over HTTP, signing as the validator's hotkey.
pub struct HttpTransport {
    keypair: Keypair,
    client: HttpClient,
    config: HttpTransportConfig,
    memo: DigestMemo,
    refused_targets: AtomicU64,
    dendrite: outbound::DendriteState,
}

impl HttpTransport {
    /// A transport that signs with `keypair` (the validator's hotkey).
    pub fn new(keypair: Keypair, config: HttpTransportConfig) -> Self {
        let client = new_client(config.connect_timeout, config.pool_idle_timeout, config.pool_max_idle_per_host);
        Self {
            keypair,
            client,
            config,
            memo: DigestMemo::default(),
            refused_targets: AtomicU64::new(0),
            dendrite: outbound::DendriteState::default(),
        }
    }

    /// Queries not sent because the miner's axon address is not allowed (see the module docs).
    pub fn refused_targets(&self) -> u64 {
        self.refused_targets.load(Ordering::Relaxed)
    }

    /// The validator's hotkey this transport signs with.
    pub fn keypair(&self) -> &Keypair {
        &self.keypair
    }

    fn digest(&self, task_id: &str, netuid: u16, body: &Bytes) -> [u8; 32] {
        if body.len() < self.config.memo_min_body {
            return Sha256::digest(body).into();
        }
        self.memo.digest(task_id, netuid, body)
    }
}

/// Entries kept at most, and their total size at most.
const MEMO_ENTRIES: usize = 64;
const MEMO_BYTES: usize = 256 << 20;

/// (task id, netuid, body, sha256 of the body).
type MemoEntry = (String, u16, Bytes, [u8; 32]);

#[derive(Default)]
struct DigestMemo {
    entries: Mutex<VecDeque<MemoEntry>>,
}

impl DigestMemo {
    fn digest(&self, task_id: &str, netuid: u16, body: &Bytes) -> [u8; 32] {
        let candidate = {
            let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            entries
                .iter()
                .find(|(id, n, b, _)| id == task_id && *n == netuid && b.len() == body.len())
                .map(|(_, _, b, d)| (b.clone(), *d))
        };
        // Same id and length is not proof: ids repeat across rounds. The bytes must match.
        if let Some((bytes, digest)) = candidate
            && bytes == *body
        {
            return digest;
        }
        let digest: [u8; 32] = Sha256::digest(body).into();
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.retain(|(id, n, _, _)| !(id == task_id && *n == netuid));
        entries.push_back((task_id.to_owned(), netuid, body.clone(), digest));
        let mut total: usize = entries.iter().map(|e| e.2.len()).sum();
        while entries.len() > MEMO_ENTRIES || (total > MEMO_BYTES && entries.len() > 1) {
            if let Some(old) = entries.pop_front() {
                total -= old.2.len();
            }
        }
        digest
    }
}

fn latency_ms(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

#[async_trait]
impl MinerTransport for HttpTransport {
    async fn query(&self, query: MinerQuery) -> MinerResponse {
        let uid = query.uid;
        let Some(addr) = query.axon else {
            // Registered but serving nowhere: as a miner whose axon refuses connections.
            return empty_response(uid, ResponseStatus::Failed, Duration::ZERO);
        };
        if let Err(e) = check_target(addr, self.config.allow_private_targets) {
            self.refused_targets.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(uid, error = %e, "miner not contacted");
            return empty_response(uid, ResponseStatus::Failed, Duration::ZERO);
        }
        if query.timeout.is_zero() {
            return empty_response(uid, ResponseStatus::Timeout, Duration::ZERO);
        }
        let request = query.request;
        let built = match &self.config.protocol {
            WireProtocol::Btauth => {
                let body = request.payload.body.clone();
                let digest = self.digest(&request.task_id, request.netuid, &body);
                let auth = sign_request_prehashed(
                    &self.keypair,
                    "POST",
                    TASK_PATH,
                    &digest,
                    Some(&query.hotkey),
                    fresh_nonce(),
                );
                let mut builder = outbound::task_request(&format!("http://{addr}{TASK_PATH}"), &request, body.len());
                for (name, value) in &auth {
                    builder = builder.header(name.as_str(), value.as_str());
                }
                builder
                    .body(Full::new(body))
                    .map(|request| outbound::Built { request, synapse: None })
                    .map_err(outbound::BuildError::from)
            }
            WireProtocol::Epistula { path } => outbound::epistula(&self.keypair, addr, path, &query.hotkey, &request),
            WireProtocol::Axon(spec) => {
                outbound::synapse(&self.keypair, &self.dendrite, spec, addr, &query.hotkey, &request)
            }
        };
        let outbound::Built { request: http_request, synapse } = match built {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!(uid, error = %e, "cannot build the request");
                return empty_response(uid, ResponseStatus::Failed, Duration::ZERO);
            }
        };

        let started = Instant::now();
        // The round's per-answer cap (from the guest's memory and the miners per task) too.
        let max = self.config.max_response_bytes.min(query.max_answer_bytes);
        let exchange = async {
            let response = self.client.request(http_request).await.map_err(|e| {
                tracing::debug!(uid, %addr, error = %e, "miner unreachable");
                ResponseStatus::Failed
            })?;
            let status = response.status();
            if let (Some(wrapped), WireProtocol::Axon(spec)) = (synapse, &self.config.protocol) {
                let code = outbound::axon_status(status.as_u16(), response.headers());
                let mapped = synapse_status(code);
                if mapped != ResponseStatus::Ok {
                    return Err(mapped);
                }
                return match read_limited(response.into_body(), max).await {
                    Ok(body) => synapse_answer(spec, wrapped, &body).map_err(|e| {
                        tracing::debug!(uid, %addr, error = %e, "unreadable synapse");
                        ResponseStatus::Malformed
                    }),
                    Err(ReadError::TooLarge) => Err(ResponseStatus::Malformed),
                    Err(ReadError::Io(_)) => Err(ResponseStatus::Failed),
                };
            }
            if status.is_client_error() {
                return Err(ResponseStatus::Refused);
            }
            if status.is_server_error() {
                return Err(ResponseStatus::Failed);
            }
            if !status.is_success() {
                return Err(ResponseStatus::Malformed);
            }
            let content_type = match response.headers().get(CONTENT_TYPE).map(|v| v.to_str()) {
                Some(Ok(ct)) if !ct.trim().is_empty() => ct.trim().to_owned(),
                _ => return Err(ResponseStatus::Malformed),
            };
            match read_limited(response.into_body(), max).await {
                Ok(body) => Ok(Payload { content_type, body: body.to_vec() }),
                Err(ReadError::TooLarge) => Err(ResponseStatus::Malformed),
                Err(ReadError::Io(e)) => {
                    tracing::debug!(uid, %addr, error = %e, "answer cut off");
                    Err(ResponseStatus::Failed)
                }
            }
        };
        let outcome = tokio::time::timeout(query.timeout, exchange).await;
        let latency = started.elapsed();
        match outcome {
            Ok(Ok(payload)) => MinerResponse {
                uid,
                status: ResponseStatus::Ok,
                latency_ms: latency_ms(latency),
                payload: Some(payload),
            },
            Ok(Err(status)) => empty_response(uid, status, latency),
            // Dropping the exchange closes its connection, so a trickling miner's socket does
            // not go back to the pool.
            Err(_) => empty_response(uid, ResponseStatus::Timeout, query.timeout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memo_confirms_bytes_not_just_ids() {
        let memo = DigestMemo::default();
        let a = Bytes::from(vec![1u8; 100_000]);
        let mut b = vec![1u8; 100_000];
        b[99_999] = 2;
        let b = Bytes::from(b);
        let da = memo.digest("task-0", 1, &a);
        assert_eq!(da, <[u8; 32]>::from(Sha256::digest(&a)));
        assert_eq!(memo.digest("task-0", 1, &a.clone()), da);
        // Same id, same length, other bytes (a later round reusing the id).
        assert_eq!(memo.digest("task-0", 1, &b), <[u8; 32]>::from(Sha256::digest(&b)));
        assert_eq!(memo.digest("task-0", 2, &a), da);
        assert!(memo.entries.lock().unwrap().len() <= 2);
    }
}
