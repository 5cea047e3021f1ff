//! The admin HTTP API (listening on `[admin] listen`, loopback by default).
//!
//! | method and path | answer |
//! | --- | --- |
//! | `GET /status` | [`DaemonStatus`]: the daemon, and per subnet the serving module (hash, version, generation), recent reloads with reasons, round and error counters, the last round, the committed score state, the last weights |
//! | `GET /status/{netuid}` | one subnet's [`SubnetStatus`] |
//! | `POST /reload` | reloads every subnet now; answers `{"reloads": [ReloadRecord, ...]}` |
//! | `POST /reload/{netuid}` | reloads one subnet |
//! | `GET /metrics` | Prometheus metrics (OpenMetrics text, see [`super::metrics`]) |
//! | `GET /healthz` | `ok` |
//!
//! Errors are JSON `{"error": "..."}` with a 4xx status (unknown subnet: 404). The API has no
//! authentication: bind it to loopback (the default) or a private interface. It can reload
//! modules only from their configured sources, and reveals nothing secret.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::Shared;
use super::reload::{ReloadRecord, Trigger};

/// The body of `POST /reload`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReloadResponse {
    /// One record per subnet reloaded.
    pub reloads: Vec<serde_json::Value>,
}

fn not_found(netuid: u16) -> Response {
    (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": format!("no subnet {netuid} in this daemon") })))
        .into_response()
}

async fn status(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.status().await).into_response()
}

async fn subnet_status(State(shared): State<Arc<Shared>>, Path(netuid): Path<u16>) -> Response {
    match shared.subnets.get(&netuid) {
        Some(s) => Json(s.status()).into_response(),
        None => not_found(netuid),
    }
}

fn records(records: Vec<ReloadRecord>) -> Response {
    let reloads = records.iter().filter_map(|r| serde_json::to_value(r).ok()).collect();
    Json(ReloadResponse { reloads }).into_response()
}

async fn reload_all(State(shared): State<Arc<Shared>>) -> Response {
    let mut out = Vec::new();
    for s in shared.subnets.values() {
        out.push(s.slot.reload(Trigger::Admin).await);
    }
    records(out)
}

async fn reload_one(State(shared): State<Arc<Shared>>, Path(netuid): Path<u16>) -> Response {
    match shared.subnets.get(&netuid) {
        Some(s) => records(vec![s.slot.reload(Trigger::Admin).await]),
        None => not_found(netuid),
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    ([(CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], shared.metrics.encode())
        .into_response()
}

/// The admin router.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/status/{netuid}", get(subnet_status))
        .route("/reload", post(reload_all))
        .route("/reload/{netuid}", post(reload_one))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(shared)
}
