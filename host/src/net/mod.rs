//! Networking between validators and miners over HTTP. (The dev chain node that separate
//! processes share is [`crate::node`].)
//!
//! - [`miner_server`]: [`spawn_miner_server`] serves a [`crate::runtime::MinerModule`] (or any
//!   [`TaskHandler`]) at a miner's axon.
//! - [`transport`]: [`HttpTransport`], the validator side, a
//!   [`crate::validator::MinerTransport`] that signs and sends each query.
//! - [`admission`]: the protocol-neutral layer in front of a miner's module: header-only
//!   refusals, caps and rate limits on unverified requests, the bounded and paced body read,
//!   verification from the streamed digest.
//! - [`wire`]: the wire protocol chosen per subnet (`btauth/1` below, the bittensor Axon/Dendrite
//!   Synapse protocol, Epistula v2) and the payload ↔ synapse mapping; the miner server serves
//!   and the transport speaks whichever the subnet chose, with the same admission, deadlines and
//!   limits. The protocol below is the default.
//! - [`gate`]: the stake-ordered admission of verified requests to a miner's module (eviction of
//!   the lowest stake when full, a quota per hotkey).
//!
//! # Wire protocol (miner axon), version 1
//!
//! A validator sends one task as `POST /v1/task`:
//!
//! | header | value |
//! | --- | --- |
//! | `Content-Type` | the task payload's content type (default `application/octet-stream`) |
//! | `X-Subnet-Task-Id` | the task's id (at most 256 bytes of text; optional, default `-`) |
//! | `X-Subnet-Netuid` | the subnet (optional; when present it must be the miner's) |
//! | `X-Subnet-Timeout-Ms` | how long the miner has, in ms (optional, default 12 000; capped by the miner) |
//! | `X-Bittensor-*` | `btauth/1` headers ([`subnet_keys::btauth`]), signed by the validator's hotkey over method `POST`, path `/v1/task`, the body; receiver = the miner's hotkey |
//!
//! The body is the payload's bytes. The miner answers `200` with the answer's bytes and its
//! `Content-Type`. Every refusal is a `4xx` with a short JSON body
//! `{"error": "<reason code>", "message": "<text>"}`; a module that fails is a `5xx` with the
//! same shape. Reason codes (stable; see [`Refusal`]):
//!
//! | status | `error` | when |
//! | --- | --- | --- |
//! | 400 | btauth's malformed-header reasons (`malformed_signature`, `malformed_nonce`, ...), `bad_request` | auth headers or task headers cannot be parsed |
//! | 401 | `bad_signature`, `stale_nonce`, `future_nonce`, `replayed_nonce`, `replay_horizon`, `wrong_receiver`, `missing_receiver`, `missing_header` | not (or no longer) authentic |
//! | 403 | `not_registered`, `blacklisted`, `insufficient_stake` | the (claimed) hotkey may not query this miner (an unknown hotkey is refused at once; the miner refreshes its metagraph in the background) |
//! | 403 | `not_validator` | registered, but the miner serves only validator-permitted or staked hotkeys (the default; see [`admission::CallerPolicy`]) |
//! | 404 / 405 | `not_found` / `method_not_allowed` | another path or method |
//! | 408 | `body_timeout` | the body did not arrive within the task's timeout, or before the request went stale |
//! | 408 | `body_too_slow` | the body arrived slower than the miner's minimum rate (16 KiB/s after 1 s by default) |
//! | 413 | `body_too_large` | `Content-Length` or the bytes received exceed the miner's limit |
//! | 421 | `wrong_netuid` | `X-Subnet-Netuid` names another subnet |
//! | 422 | `module_refused` | the module returned its own error for this task |
//! | 429 | `rate_limited` | the client address's or (from an address not yet proven for it) the claimed hotkey's request rate is spent |
//! | 429 | `unverified_limit` | too many unverified requests open: over all callers, from the address, or claiming the hotkey from unproven addresses |
//! | 429 | `overloaded` | too many requests in flight, the priority queue is full of callers with at least this stake, or the wait for a slot outlasted the task's timeout |
//! | 429 | `evicted` | the request waited in a full queue and a caller with more stake took its place |
//! | 429 | `hotkey_quota` | the caller already holds its share of the queue and module slots |
//! | 500 | `module_failed` | the module trapped, ran out of memory, or answered something unsendable |
//! | 504 | `module_timeout` | the module ran past the task's timeout |
//!
//! `GET /v1/health` answers `{"hotkey", "netuid"}`, `GET /v1/stats` the server's counters
//! ([`MinerStats`]) and `GET /metrics` the same counters for Prometheus ([`miner_metrics`]);
//! none is authenticated, and none reveals anything a request carried.
//!
//! # Invariants of the miner server
//! - Authentication runs in two halves ([`admission`]): everything the headers decide (shape,
//!   receiver binding, freshness, the replay lookup, blacklist, registration, stake and caller
//!   policy of the *claimed* hotkey, rate limits, caps on unverified requests) before a single
//!   body byte is read; the signature and the replay insert after the bounded body. Nothing
//!   reaches the module before the signature verified.
//! - A body larger than the limit is refused from its `Content-Length` without reading it, or
//!   as soon as the received bytes pass the limit (chunked bodies); memory held by unverified
//!   bodies is bounded by the cap on unverified requests times the limit.
//! - No unverified request holds a place longer than its freshness window, the task's timeout,
//!   or what its pace allows, whichever ends first.
//! - Priority among verified requests is by the caller's *authenticated* stake on the subnet
//!   (highest first, arrival order among equals), so a forged hotkey cannot jump the queue, and
//!   a full queue never keeps out a caller with more stake than its worst waiter.
//! - Every stage is bounded by the task's deadline (arrival + capped timeout): body reading,
//!   the wait for a slot, the module call.

//! # Invariants of the transport
//! - `HttpTransport`'s `query` returns within the query's timeout (plus scheduling noise),
//!   whatever the miner does (stalls, trickles bytes, sends an endless body), and never fails: the
//!   outcome is a [`crate::bindings::types::ResponseStatus`].
//! - Targets: unless [`HttpTransportConfig::allow_private_targets`] is set, a miner's axon on a
//!   loopback, private, link-local (the cloud metadata address 169.254.169.254 among them),
//!   unspecified, multicast or otherwise non-global address is not contacted: the query is
//!   `failed` at once, before anything is signed or sent (see [`target`]).
//! - Status mapping (`btauth/1`, Epistula; the Axon's in [`wire`]): `2xx` → `ok`; the deadline passing → `timeout`; `4xx` → `refused`;
//!   `5xx`, connection failures and no axon → `failed`; an answer over the size limit, a missing
//!   or unreadable `Content-Type`, or another status class → `malformed`.

pub mod admission;
pub(crate) mod client;
pub mod gate;
pub mod miner_metrics;
pub mod miner_server;
mod miner_synapse;
mod miner_task;
mod outbound;
pub(crate) mod server;
/// Which miner addresses a validator may contact (the classification lives in [`crate::addr`],
/// below both `net` and `caps`, which the outbound HTTP capability shares).
pub use crate::addr as target;
pub mod task_headers;
pub mod transport;
pub mod wire;

pub use miner_server::{
    HandlerContext, HandlerError, MinerServerConfig, MinerServerError, MinerServerHandle, MinerStats, ModuleHandler,
    TaskHandler, spawn_miner_server, spawn_miner_server_with,
};
pub use transport::{HttpTransport, HttpTransportConfig};
pub use wire::{SynapseSpec, WireProtocol, WireSettings};

/// The path a miner serves tasks at.
pub const TASK_PATH: &str = "/v1/task";
/// Header: the task's id.
pub const HEADER_TASK_ID: &str = "X-Subnet-Task-Id";
/// Header: the subnet.
pub const HEADER_NETUID: &str = "X-Subnet-Netuid";
/// Header: the miner's time budget in milliseconds.
pub const HEADER_TIMEOUT_MS: &str = "X-Subnet-Timeout-Ms";
/// Timeout a miner assumes when a request names none (the bittensor dendrite's default, 12 s).
pub const DEFAULT_TASK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(12);
/// Longest task id a miner accepts, in bytes.
pub const MAX_TASK_ID_LEN: usize = 256;

/// The JSON body of every refusal and failure: `{"error": "<reason code>", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Refusal {
    /// A stable reason code (`bad_signature`, `not_registered`, `body_too_large`, ...).
    pub error: String,
    /// A human-readable explanation; never echoes the request's signature or body.
    pub message: String,
}
