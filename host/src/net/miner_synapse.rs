//! The Synapse protocol's side of a miner's answers: the Axon's response headers on refusals
//! (status code and message, which a Dendrite reads from headers when the status is not 200)
//! and the signed response synapse of a success.
//!
//! A success carries the response synapse as JSON ([`crate::net::wire::synapse_response_body`])
//! and the request's Synapse headers with the axon's fields filled in and signed over
//! `"{axon_nonce}.{dendrite_hotkey}.{axon_hotkey}.{axon_uuid}"` with the miner's hotkey
//! ([`subnet_keys::synapse::sign_response`]); a bittensor 10.5 Axon signs only its refusals, so
//! this is a superset of what a Dendrite expects. Header values that cannot be sent (a status
//! message with control characters) are left out rather than failing the answer.

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::Response;
use subnet_keys::btauth::unix_time_ns;
use subnet_keys::synapse::{self, ResponseSpec, SynapseHeaders};

use super::wire::SynapseSpec;

fn put(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::from_str(value)) {
        headers.insert(n, v);
    }
}

/// Adds the Axon's status headers to a refusal.
pub(super) fn refusal_headers(headers: &mut HeaderMap, status: u16, message: &str) {
    put(headers, "bt_header_axon_status_code", &status.to_string());
    let clipped = crate::util::truncate(message, 1024);
    put(headers, "bt_header_axon_status_message", clipped);
}

/// What a successful Synapse answer needs besides the body.
pub(super) struct Answer<'a> {
    pub(super) spec: &'a SynapseSpec,
    pub(super) request: &'a SynapseHeaders,
    pub(super) key: &'a subnet_keys::Keypair,
    pub(super) axon_uuid: &'a str,
    pub(super) peer: SocketAddr,
    pub(super) process_time: f64,
}

/// The 200 response carrying `body` (the response synapse's JSON), signed.
pub(super) fn success(a: &Answer<'_>, body: Vec<u8>) -> Result<Response, synapse::SynapseError> {
    let fields = a.spec.hash_fields();
    let body_hash = synapse::body_hash_of_json(&body, &fields)
        .map(|(h, _)| h)
        .unwrap_or_else(|_| synapse::EMPTY_BODY_HASH.to_owned());
    let ip = a.peer.ip().to_string();
    let spec = ResponseSpec {
        status_code: 200,
        status_message: "Success",
        process_time: a.process_time,
        axon_nonce: unix_time_ns(),
        axon_uuid: a.axon_uuid,
        dendrite_ip: &ip,
        dendrite_port: u64::from(a.peer.port()),
        body_hash: &body_hash,
    };
    let headers = synapse::sign_response(a.key, a.request, &spec)?;
    let mut response = Response::new(Body::from(body));
    let map = response.headers_mut();
    for (name, value) in headers.to_headers() {
        put(map, &name, &value);
    }
    map.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}
