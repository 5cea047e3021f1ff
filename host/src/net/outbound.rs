//! The validator's requests per wire protocol ([`super::wire`]), built and signed for
//! [`super::HttpTransport`], and how each protocol's answer is read.
//!
//! - `btauth/1`: `POST /v1/task`, `X-Subnet-*` task headers, `X-Bittensor-*` signed headers over
//!   the method, path and the body's (memoised) sha256; the answer is the body, with its type.
//! - Epistula v2: the same request on the subnet's path with Epistula headers instead (signed for
//!   the miner's hotkey, fresh uuid and timestamp); the answer as for `btauth/1`.
//! - Synapse (Axon): `POST /{synapse}` with the payload mapped to the synapse's fields, the body
//!   hash over the required hash fields, the Dendrite's headers and signature (version 10.5.0);
//!   nonces are `time_ns`, strictly increasing per transport (one uuid per transport, as one
//!   Dendrite has one), so two queries to one miner in the same nanosecond never collide. The
//!   answer is read from the response synapse, and its status from the Axon's status
//!   ([`super::wire::synapse_status`]).
//!
//! Failure modes: a payload the synapse cannot carry, or a request that cannot be built, is
//! `failed` before anything is sent ([`Built`] is not made).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use subnet_chain::AccountId;
use subnet_keys::Keypair;
use subnet_keys::btauth::unix_time_ns;
use subnet_keys::synapse::{self, PyValue, RequestSpec};

use super::wire::{MappingError, SynapseSpec};
use super::{HEADER_NETUID, HEADER_TASK_ID, HEADER_TIMEOUT_MS};
use crate::validator::transport::QueryRequest;

/// A request ready to send, and how to read its answer.
pub(super) struct Built {
    pub(super) request: hyper::Request<Full<Bytes>>,
    /// `Some(wrapped)` for a Synapse (the answer is in the response field when wrapped).
    pub(super) synapse: Option<bool>,
}

/// Why a request could not be built.
#[derive(Debug, thiserror::Error)]
pub(super) enum BuildError {
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error(transparent)]
    Synapse(#[from] synapse::SynapseError),
    #[error(transparent)]
    Epistula(#[from] subnet_keys::epistula::EpistulaError),
    #[error(transparent)]
    Http(#[from] hyper::http::Error),
}

/// The task headers every HTTP task request carries (btauth, Epistula).
pub(super) fn task_request(url: &str, request: &QueryRequest, body_len: usize) -> hyper::http::request::Builder {
    let builder = hyper::Request::post(url)
        .header(CONTENT_TYPE, request.payload.content_type.as_str())
        .header(HEADER_NETUID, request.netuid)
        .header(HEADER_TIMEOUT_MS, request.timeout_ms)
        .header(CONTENT_LENGTH, body_len);
    // A task id that is not a valid header value (control characters) is sent as `-`
    // rather than failing the query; the id is informational on the miner's side.
    match HeaderValue::from_str(&request.task_id) {
        Ok(v) => builder.header(HEADER_TASK_ID, v),
        Err(_) => builder.header(HEADER_TASK_ID, "-"),
    }
}

/// An Epistula request to `path` on `addr`, signed for `miner`.
pub(super) fn epistula(
    keypair: &Keypair,
    addr: SocketAddr,
    path: &str,
    miner: &AccountId,
    request: &QueryRequest,
) -> Result<Built, BuildError> {
    let body = request.payload.body.clone();
    let signed = subnet_keys::epistula::sign_request_now(keypair, &body, Some(miner))?;
    let mut builder = task_request(&format!("http://{addr}{path}"), request, body.len());
    for (name, value) in &signed {
        builder = builder.header(name.as_str(), value.as_str());
    }
    Ok(Built { request: builder.body(Full::new(body))?, synapse: None })
}

/// The Dendrite's state in a transport: its uuid and last nonce.
pub(super) struct DendriteState {
    uuid: String,
    last_nonce: AtomicU64,
}

impl Default for DendriteState {
    fn default() -> Self {
        DendriteState { uuid: subnet_keys::epistula::uuid4(), last_nonce: AtomicU64::new(0) }
    }
}

impl DendriteState {
    fn nonce(&self) -> u64 {
        let now = unix_time_ns();
        let prev = self.last_nonce.fetch_max(now, Ordering::Relaxed);
        if prev < now {
            return now;
        }
        // Same (or an earlier) nanosecond as the last: one past the newest handed out.
        self.last_nonce.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// A Synapse request for `spec` to the axon at `addr` with hotkey `miner`.
pub(super) fn synapse(
    keypair: &Keypair,
    dendrite: &DendriteState,
    spec: &SynapseSpec,
    addr: SocketAddr,
    miner: &AccountId,
    request: &QueryRequest,
) -> Result<Built, BuildError> {
    let (body, wrapped) = super::wire::synapse_request_body(spec, &request.payload.body)?;
    let fields = spec.hash_fields();
    let (body_hash, parsed) = synapse::body_hash_of_json(&body, &fields)?;
    let required: Vec<(&str, &PyValue)> = match &parsed {
        PyValue::Dict(pairs) => fields
            .iter()
            .filter_map(|f| pairs.iter().find(|(k, _)| matches!(k, PyValue::Str(s) if s == f)).map(|(_, v)| (*f, v)))
            .collect(),
        _ => Vec::new(),
    };
    let axon_ip = addr.ip().to_string();
    let axon_hotkey = miner.to_ss58();
    let spec_r = RequestSpec {
        name: &spec.name,
        timeout: f64::from(request.timeout_ms) / 1000.0,
        dendrite_ip: "0.0.0.0",
        uuid: &dendrite.uuid,
        nonce: dendrite.nonce(),
        axon_ip: &axon_ip,
        axon_port: u64::from(addr.port()),
        axon_hotkey: &axon_hotkey,
        body_hash: &body_hash,
        required_fields: &required,
        body_len: body.len() as u64,
    };
    let headers = synapse::sign_request(keypair, &spec_r)?;
    let mut builder = hyper::Request::post(format!("http://{addr}{}", spec.path()))
        .header(CONTENT_TYPE, "application/json")
        .header(CONTENT_LENGTH, body.len());
    for (name, value) in headers.to_headers() {
        builder = builder.header(name.as_str(), value.as_str());
    }
    Ok(Built { request: builder.body(Full::new(Bytes::from(body)))?, synapse: Some(wrapped) })
}

/// The Axon's status of a response: a 200 carrying a `bt_header_axon_status_code` other than
/// 200 reports that code.
pub(super) fn axon_status(status: u16, headers: &hyper::HeaderMap) -> u16 {
    if status != 200 {
        return status;
    }
    headers
        .get("bt_header_axon_status_code")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u16>().ok())
        .unwrap_or(200)
}
