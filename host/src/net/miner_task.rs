//! One task request through a miner server, in the order [`super::miner_server`] documents:
//! admission's header stage, task headers, the bounded body, verification, the priority gate,
//! the module. The same path serves every wire protocol ([`super::wire`]); a Synapse request
//! takes its timeout from its `timeout` header (seconds, capped like `X-Subnet-Timeout-Ms`),
//! its payload from the synapse's fields, and is answered with the signed response synapse
//! ([`super::miner_synapse`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use subnet_keys::btauth::unix_time_ns;

use super::admission::body::read_paced;
use super::admission::{Refused, SignedParts};
use super::gate::GateError;
use super::miner_server::{HandlerContext, HandlerError, Server};
use super::task_headers::TaskHeaders;
use super::wire::{SynapseSpec, WireProtocol, synapse_response_body, synapse_task_payload};
use super::{DEFAULT_TASK_TIMEOUT, TASK_PATH, miner_synapse, task_headers};
use crate::bindings::types::{MinerRequest, Payload};
use crate::caps::random::derive_seed;
use crate::util::truncate;

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub(super) async fn task(
    State(server): State<Arc<Server>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let cfg = &server.config;
    server.counters.requests.fetch_add(1, Ordering::Relaxed);
    let Ok(_in_flight) = server.in_flight.clone().try_acquire_owned() else {
        return server.refused(&Refused::Overloaded("too many requests in flight"));
    };

    // Everything the headers can decide, before a byte of body.
    let admitted = match server.admission.admit(req.headers(), peer.ip(), unix_time_ns()) {
        Ok(a) => a,
        Err(r) => {
            tracing::debug!(%peer, reason = r.reason(), "refused request (headers)");
            return server.refused(&r);
        }
    };
    let claimed = *admitted.claim.claimed();
    let synapse_request = admitted.claim.synapse_headers().cloned();
    let th = match &synapse_request {
        Some(h) => synapse_task_headers(h, cfg.max_timeout),
        None => match task_headers::parse(req.headers(), cfg.netuid, cfg.max_timeout) {
            Ok(t) => t,
            Err(r) => return server.refused(&r),
        },
    };
    let deadline = started + th.timeout;

    // The body: bounded in size, time (task deadline, staleness) and pace; hashed as it comes.
    let path = req.uri().path_and_query().map_or(TASK_PATH, |p| p.as_str()).to_owned();
    let bounds = admitted.body_bounds(&server.admission, cfg.max_body_bytes, deadline, unix_time_ns());
    let body = match read_paced(req.into_body(), bounds, Some(admitted.progress())).await {
        Ok(b) => b,
        Err(e) => {
            let r = Refused::Body(e);
            tracing::info!(%peer, claimed = %claimed, reason = r.reason(), "refused request (body)");
            return server.refused(&r);
        }
    };

    let parts = SignedParts { method: "POST", path: &path, body: &body.bytes, body_sha256: &body.sha256 };
    let auth = match server.admission.verify(admitted, parts, unix_time_ns()) {
        Ok(a) => a,
        Err(r) => {
            tracing::info!(%peer, claimed = %claimed, reason = r.reason(), "refused request");
            return server.refused(&r);
        }
    };
    server.counters.verified.fetch_add(1, Ordering::Relaxed);
    let (payload, synapse_answer) = match &cfg.protocol {
        WireProtocol::Axon(spec) => match synapse_task_payload(spec, &body.bytes) {
            Ok((payload, wrapped, fields)) => (payload, Some((spec, wrapped, fields))),
            Err(e) => return server.refuse(400, "malformed_body", e.to_string()),
        },
        _ => (Payload { content_type: th.content_type.clone(), body: body.bytes.to_vec() }, None),
    };
    let validator = auth.verified.hotkey;
    let stake = auth.standing.stake;

    // From here on every outcome is logged as a verified request.
    let log = |status: u16, reason: &str| {
        tracing::info!(
            validator = %validator,
            task_id = %th.task_id,
            status,
            reason,
            stake,
            latency_ms = started.elapsed().as_secs_f64() * 1e3,
            "verified request"
        );
    };

    // A module slot, best stake first.
    let permit = match tokio::time::timeout_at(deadline.into(), server.gate.acquire_as(validator.0, stake)).await {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            let r = match e {
                GateError::QueueFull => Refused::Overloaded("the queue is full of callers with at least this stake"),
                GateError::Evicted => Refused::Evicted,
                GateError::Quota => Refused::HotkeyQuota,
            };
            log(429, r.reason());
            return server.refused(&r);
        }
        Err(_) => {
            log(429, "overloaded");
            return server.refused(&Refused::Overloaded("no module slot freed up within the task's timeout"));
        }
    };

    // The module.
    let timeout = deadline.saturating_duration_since(Instant::now());
    if timeout.is_zero() {
        log(504, "module_timeout");
        return server.refuse(504, "module_timeout", "no time left for the module");
    }
    let request = MinerRequest {
        task_id: th.task_id.clone(),
        netuid: cfg.netuid,
        validator: validator.to_ss58(),
        payload,
        timeout_ms: u32::try_from(ms(timeout)).unwrap_or(u32::MAX),
    };
    let mut key = [0u8; 8];
    key.copy_from_slice(&validator.0[..8]);
    let ctx = HandlerContext {
        caller: validator,
        stake,
        timeout,
        metagraph: auth.snapshot.view.clone(),
        seed: derive_seed(&[auth.verified.nonce, u64::from_le_bytes(key)]),
    };
    server.counters.handler_calls.fetch_add(1, Ordering::Relaxed);
    // The handler enforces the limit itself (the module's epoch deadline); this outer bound
    // covers handlers that do not.
    let result =
        match tokio::time::timeout(timeout + Duration::from_millis(50), server.handler.handle(request, ctx)).await {
            Ok(r) => r,
            Err(_) => Err(HandlerError::Timeout),
        };
    drop(permit);
    if let (Ok(answer), Some((spec, wrapped, fields)), Some(request)) = (&result, synapse_answer, &synapse_request) {
        return answer_synapse(&server, spec, wrapped, fields, request, peer, started, &answer.body, &log);
    }
    match result {
        Ok(payload) => match HeaderValue::from_str(&payload.content_type) {
            Ok(ct) => {
                server.counters.answered.fetch_add(1, Ordering::Relaxed);
                log(200, "ok");
                let mut response = Response::new(Body::from(payload.body));
                response.headers_mut().insert(header::CONTENT_TYPE, ct);
                response
            }
            Err(_) => {
                log(500, "module_failed");
                server.refuse(500, "module_failed", "the module answered with an invalid content type")
            }
        },
        Err(HandlerError::Refused(message)) => {
            log(422, "module_refused");
            server.refuse(422, "module_refused", truncate(&message, 1024).to_owned())
        }
        Err(HandlerError::Timeout) => {
            log(504, "module_timeout");
            server.refuse(504, "module_timeout", "the module ran past the task's timeout")
        }
        Err(HandlerError::Failed(kind)) => {
            log(500, "module_failed");
            server.refuse(500, "module_failed", format!("the module failed ({})", truncate(&kind, 200)))
        }
    }
}

/// A Synapse request's task headers: its `timeout` (seconds; absent, unreadable or not positive
/// is the Dendrite's default 12 s), capped; the payload is the synapse's JSON.
fn synapse_task_headers(h: &subnet_keys::synapse::SynapseHeaders, max_timeout: Duration) -> TaskHeaders {
    let timeout = h
        .timeout
        .filter(|t| t.is_finite() && *t > 0.0)
        .and_then(|t| Duration::try_from_secs_f64(t).ok())
        .unwrap_or(DEFAULT_TASK_TIMEOUT);
    TaskHeaders {
        task_id: h.dendrite.uuid.clone().unwrap_or_else(|| "-".to_owned()),
        timeout: timeout.min(max_timeout),
        content_type: "application/json".to_owned(),
    }
}

/// Answers a Synapse request with the module's answer written into the response synapse.
#[allow(clippy::too_many_arguments)]
fn answer_synapse(
    server: &Server,
    spec: &SynapseSpec,
    wrapped: bool,
    fields: serde_json::Map<String, serde_json::Value>,
    request: &subnet_keys::synapse::SynapseHeaders,
    peer: SocketAddr,
    started: Instant,
    answer: &[u8],
    log: &dyn Fn(u16, &str),
) -> Response {
    let process_time = started.elapsed().as_secs_f64();
    let body = match synapse_response_body(spec, fields, wrapped, answer, process_time) {
        Ok(b) => b,
        Err(e) => {
            log(500, "module_failed");
            return server.refuse(500, "module_failed", e.to_string());
        }
    };
    // spawn_miner_server refuses to serve the Axon protocol without the key.
    let Some(key) = server.config.signing_key.as_ref() else {
        return server.refuse(500, "module_failed", "no signing key");
    };
    let a = miner_synapse::Answer { spec, request, key, axon_uuid: &server.axon_uuid, peer, process_time };
    match miner_synapse::success(&a, body) {
        Ok(r) => {
            server.counters.answered.fetch_add(1, Ordering::Relaxed);
            log(200, "ok");
            r
        }
        Err(e) => {
            log(500, "module_failed");
            server.refuse(500, "module_failed", e.to_string())
        }
    }
}
