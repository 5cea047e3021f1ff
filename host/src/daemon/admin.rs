//! The admin HTTP API (listening on `[admin] listen`, loopback by default).
//!
//! | method and path | answer |
//! | --- | --- |
//! | `GET /status` | [`DaemonStatus`]: the daemon, and per subnet the serving module (hash, version, generation), recent reloads with reasons, round and error counters, the last round, the committed score state, the last weights |
//! | `GET /status/{netuid}` | one subnet's [`SubnetStatus`] |
//! | `POST /reload` | reloads every subnet now; answers `{"reloads": [ReloadRecord, ...]}`; `?allow_rollback=true` applies versions signed before the serving ones |
//! | `POST /reload/{netuid}` | reloads one subnet (same query) |
//! | `GET /metrics` | Prometheus metrics (OpenMetrics text, see [`super::metrics`]) |
//! | `GET /healthz` | 200 when the chain is connected and every subnet healthy, else 503; JSON [`super::health::HealthReport`] with each component's verdict and reason |
//! | `GET /readyz` | 200 once the chain is connected and every subnet serves a module and finished a round, else 503 |
//! | `POST /config/reload` | re-reads the config file and applies it per subnet ([`super::reconfig`]): 200 applied or unchanged, 409 refused or partial; [`super::reconfig::ConfigReload`] |
//!
//! Errors are JSON `{"error": "..."}` with a 4xx status (unknown subnet: 404). It can reload
//! modules only from their configured sources, and reveals nothing secret.
//!
//! Who may call it (checked in this order, before any handler runs):
//! - **Host**: the `Host` header must name an IP literal (the listen address, `127.0.0.1`,
//!   `[::1]`, any address the API is reached on) or `localhost`; any other name, or none, is
//!   refused with **421 Misdirected Request**. A DNS-rebinding page reaches the API under its
//!   own domain name, so it is refused before it can read `/status`.
//! - **Token**: every call but `GET`/`HEAD` (so `POST /reload`, `POST /reload/{netuid}`, `POST /config/reload`) needs
//!   `Authorization: Bearer <token>`, else **401** (with `WWW-Authenticate: Bearer`). The
//!   token is 32 random bytes, hex, made afresh at every start into
//!   `<state_dir>/admin.token` (mode 0600, [`ADMIN_TOKEN_FILE`]) and logged once;
//!   [`super::client::AdminClient::from_state_dir`] reads it, so `subnetd reload` on the same
//!   state directory works as before. A browser page cannot read the file, so it cannot POST.
//! - **Connections**: at most [`MAX_CONNECTIONS`] open at once (more wait in the kernel's
//!   backlog), and a client has [`HEADER_READ_TIMEOUT`] to send a request's headers, so
//!   slow-header clients cannot hold the API ([`crate::net::server`]'s accept loop).
//! - **Load**: at most [`MAX_IN_FLIGHT`] requests are handled at once (more get **503** with
//!   `Retry-After: 1`), and each is answered within [`READ_TIMEOUT`] (`GET`) or
//!   [`RELOAD_TIMEOUT`] (`POST`, which compiles a module) or gets **503**.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

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
    match shared.runner(netuid) {
        Some(s) => Json(s.status()).into_response(),
        None => not_found(netuid),
    }
}

fn records(records: Vec<ReloadRecord>) -> Response {
    let reloads = records.iter().filter_map(|r| serde_json::to_value(r).ok()).collect();
    Json(ReloadResponse { reloads }).into_response()
}

/// The query of `POST /reload` and `POST /reload/{netuid}`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReloadQuery {
    /// Apply a version signed before the serving one (an operator's rollback).
    #[serde(default)]
    allow_rollback: bool,
}

async fn reload_all(State(shared): State<Arc<Shared>>, Query(q): Query<ReloadQuery>) -> Response {
    let mut out = Vec::new();
    for s in shared.runners() {
        out.push(s.slot.reload_with(Trigger::Admin, q.allow_rollback).await);
    }
    records(out)
}

async fn reload_one(
    State(shared): State<Arc<Shared>>,
    Path(netuid): Path<u16>,
    Query(q): Query<ReloadQuery>,
) -> Response {
    match shared.runner(netuid) {
        Some(s) => records(vec![s.slot.reload_with(Trigger::Admin, q.allow_rollback).await]),
        None => not_found(netuid),
    }
}

/// `GET /healthz` (`ready = false`) and `GET /readyz`: 200 or 503 with every component's
/// verdict (see [`super::health`]).
async fn health(shared: Arc<Shared>, ready: bool) -> Response {
    let (ok, report) = shared.health(ready);
    let code = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(report)).into_response()
}

/// `POST /config/reload`: 200 when applied or unchanged, 409 when refused or partial.
async fn config_reload(State(shared): State<Arc<Shared>>) -> Response {
    let record = shared.reconfigure().await;
    let code = match record.outcome {
        "applied" | "unchanged" => StatusCode::OK,
        _ => StatusCode::CONFLICT,
    };
    (code, Json(record)).into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    // The health gauges are a verdict over the status: computed at each scrape.
    let _ = shared.health(false);
    ([(CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], shared.metrics.encode())
        .into_response()
}

/// File in the state directory holding the admin API's token while the daemon runs.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// Requests handled at once.
pub const MAX_IN_FLIGHT: usize = 32;
/// Longest a `GET` may take.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Most connections open to the admin API at once (an operator's tools need a handful).
pub const MAX_CONNECTIONS: usize = 64;
/// Time a client has to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest a `POST` (a reload: read, verify, compile, smoke round) may take.
pub const RELOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// Why the admin token could not be made.
#[derive(Debug, thiserror::Error)]
#[error("admin token {path}: {source}")]
pub struct TokenError {
    /// The token file.
    pub path: std::path::PathBuf,
    /// What failed.
    #[source]
    pub source: std::io::Error,
}

/// Makes a fresh token into `<state_dir>/admin.token` (0600, replacing any earlier one by a
/// rename, so a reader sees the old token or the new one, never half of one).
pub fn create_token(state_dir: &std::path::Path) -> Result<String, TokenError> {
    use std::io::Write as _;
    let path = state_dir.join(ADMIN_TOKEN_FILE);
    let err = |source| TokenError { path: path.clone(), source };
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let token = hex::encode(bytes);
    let tmp = state_dir.join(format!("{ADMIN_TOKEN_FILE}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(err)?;
    file.write_all(format!("{token}\n").as_bytes()).and_then(|()| file.sync_all()).map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)?;
    Ok(token)
}

/// What the guard checks requests against.
struct Guard {
    token: Option<String>,
    in_flight: Semaphore,
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// Whether a `Host` header value names an IP literal or `localhost` (any port).
fn host_allowed(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        // `[v6]` or `[v6]:port`.
        Some(rest) => match rest.split_once(']') {
            Some((v6, port)) if port.is_empty() || port.starts_with(':') => {
                return v6.parse::<std::net::Ipv6Addr>().is_ok();
            }
            _ => return false,
        },
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::Ipv4Addr>().is_ok()
}

/// Constant-time equality, so the token cannot be guessed byte by byte from timings.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn guard(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let host = request.headers().get(HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if !host_allowed(host) {
        return refuse(StatusCode::MISDIRECTED_REQUEST, "the Host header must be an IP address or localhost");
    }
    let reads = matches!(*request.method(), Method::GET | Method::HEAD);
    if !reads {
        let given = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim);
        let ok =
            matches!((&guard.token, given), (Some(token), Some(given)) if same(token.as_bytes(), given.as_bytes()));
        if !ok {
            let mut response = refuse(
                StatusCode::UNAUTHORIZED,
                "this call needs `Authorization: Bearer <token>`, the token in <state_dir>/admin.token",
            );
            response.headers_mut().insert(WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    let Ok(_permit) = guard.in_flight.try_acquire() else {
        let mut response = refuse(StatusCode::SERVICE_UNAVAILABLE, "too many admin requests at once");
        response.headers_mut().insert(RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        return response;
    };
    let limit = if reads { READ_TIMEOUT } else { RELOAD_TIMEOUT };
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => refuse(StatusCode::SERVICE_UNAVAILABLE, "the request took too long"),
    }
}

/// The admin router, behind the guard (see the module docs). Makes the token: the daemon
/// builds the router once, at start.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let state_dir = Some(shared.state_dir.clone()).filter(|d| !d.as_os_str().is_empty());
    let token = match state_dir.as_deref().map(create_token) {
        Some(Ok(token)) => {
            tracing::info!(
                path = %state_dir.unwrap_or_default().join(ADMIN_TOKEN_FILE).display(),
                token = %token,
                "admin API token (needed for POST calls; printed once)"
            );
            Some(token)
        }
        // Without a token every mutating call is refused: the API fails closed.
        Some(Err(e)) => {
            tracing::error!(error = %e, "cannot write the admin token; POST calls will be refused");
            None
        }
        None => None,
    };
    let guard_state = Arc::new(Guard { token, in_flight: Semaphore::new(MAX_IN_FLIGHT) });
    Router::new()
        .route("/status", get(status))
        .route("/status/{netuid}", get(subnet_status))
        .route("/reload", post(reload_all))
        .route("/reload/{netuid}", post(reload_one))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|State(shared): State<Arc<Shared>>| health(shared, false)))
        .route("/readyz", get(|State(shared): State<Arc<Shared>>| health(shared, true)))
        .route("/config/reload", post(config_reload))
        .with_state(shared)
        .layer(axum::middleware::from_fn_with_state(guard_state, guard))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_ip_literals_or_localhost() {
        for ok in ["127.0.0.1:9000", "127.0.0.1", "localhost:1", "LOCALHOST", "[::1]:9000", "[::1]", "10.0.0.2:80"] {
            assert!(host_allowed(ok), "{ok}");
        }
        for bad in ["", "evil.example:9000", "127.0.0.1.nip.io:9000", "[::1", "[zz]:1", "localhost.evil:1"] {
            assert!(!host_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn tokens_are_fresh_and_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let a = create_token(dir.path()).unwrap();
        let b = create_token(dir.path()).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        let path = dir.path().join(ADMIN_TOKEN_FILE);
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), b);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
