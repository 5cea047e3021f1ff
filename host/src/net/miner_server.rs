//! The miner's axon: an HTTP server that answers validators' tasks through a miner module.
//!
//! [`spawn_miner_server`] serves a [`MinerModule`]; [`spawn_miner_server_with`] serves any
//! [`TaskHandler`] (the fan-out benchmark and the tests of the priority gate plug in their own).
//! The wire protocol and the refusal codes are in the [`crate::net`] docs; the protocol served
//! is [`MinerServerConfig::protocol`] ([`crate::net::wire`]): `btauth/1` at `POST /v1/task`, the
//! Axon's Synapse protocol at `POST /{synapse}` (answers signed with
//! [`MinerServerConfig::signing_key`], which it requires; refusals carry the Axon's status
//! headers and its codes for a full queue, 503, and a module past the timeout, 408), or
//! Epistula at its path. Every other stage below is the same for all of them.
//!
//! # Who may query, and in what order requests are checked
//! The admission layer ([`crate::net::admission`]) decides from the headers alone who may cost
//! the miner a body read (registration, blacklist, stake and caller policy of the claimed
//! hotkey, freshness, replay lookup, rate limits and caps on unverified requests), bounds the
//! body read in size, time and pace, and verifies the signature from a digest computed as the
//! body streamed. The metagraph is cached: refreshed on every new block
//! ([`Chain::subscribe_blocks`]), at least every [`MinerServerConfig::metagraph_ttl`], and in the
//! background after a miss for an unknown hotkey (at most once per
//! [`MinerServerConfig::miss_refresh_interval`]); an unknown hotkey is refused at once.
//!
//! Order (cheapest first; nothing reaches the module unverified):
//! 1. concurrency: more than [`MinerServerConfig::max_in_flight`] requests open → `overloaded`;
//! 2. admission's header stage → 400/401/403/429;
//! 3. task headers (netuid, task id, timeout) → 400/421;
//! 4. `Content-Length` over the limit → 413 without reading the body;
//! 5. the body, bounded by the limit (413), the deadline (408 `body_timeout`) and the pace
//!    (408 `body_too_slow`);
//! 6. the signature and the replay insert → 401;
//! 7. the priority gate: authenticated stake first; the caller's quota (429 `hotkey_quota`);
//!    a full queue evicts its lowest-stake waiter for a caller with more stake (429 `evicted`
//!    to the one evicted), else 429 `overloaded`; no slot by the deadline → `overloaded`;
//! 8. the module, with the time left before the deadline.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use subnet_chain::{AccountId, Chain, ChainError, NetUid};
use subnet_keys::Keypair;
use subnet_keys::btauth::VerifierConfig;
use tokio::sync::Semaphore;

use super::admission::registry::Registry;
use super::admission::{Admission, AdmissionConfig, AdmissionParts, Protocol, Refused};
use super::gate::PriorityGate;
use super::server::{ConnLimits, ServerTask};
use super::wire::WireProtocol;
use super::{Refusal, TASK_PATH};
use crate::bindings::types::{MinerRequest, Payload};
use crate::caps::kv::KvStore;
use crate::caps::metagraph::MetagraphView;
use crate::runtime::{CallError, MinerModule, SubnetEnv};

/// Settings of a miner server. `MinerServerConfig::new(netuid, hotkey)` gives the defaults.
#[derive(Clone)]
pub struct MinerServerConfig {
    /// Address to listen on (`127.0.0.1:0` picks a free loopback port).
    pub listen: SocketAddr,
    /// The subnet served.
    pub netuid: NetUid,
    /// The miner's hotkey: requests must be signed for it (btauth receiver).
    pub hotkey: AccountId,
    /// Largest task body accepted (default 8 MiB).
    pub max_body_bytes: usize,
    /// Module calls at once; more wait in the priority queue (default 16).
    pub max_concurrency: usize,
    /// Requests waiting for a module slot; more are refused `overloaded` (default 256).
    pub max_queue: usize,
    /// Requests open at once in any stage; more are refused `overloaded` (default 512). Bodies
    /// are only read for registered callers, and the memory they take is bounded by
    /// `max_in_flight * max_body_bytes`.
    pub max_in_flight: usize,
    /// Open connections at once (default 4096).
    pub max_connections: usize,
    /// Time a client has to send its request headers (default 10 s).
    pub header_read_timeout: Duration,
    /// Cap on the task timeout a validator asks for (default 60 s).
    pub max_timeout: Duration,
    /// Hotkeys refused whatever their registration.
    pub blacklist: HashSet<AccountId>,
    /// Least stake (rao) on the subnet a caller needs (default 0: any registered hotkey).
    pub min_stake_rao: u64,
    /// Longest a metagraph snapshot is used without a refresh (default 12 s, one block).
    pub metagraph_ttl: Duration,
    /// Least time between two refreshes caused by unknown hotkeys (default 1 s).
    pub miss_refresh_interval: Duration,
    /// btauth settings (freshness window, replay cache size). `require_receiver` is forced on.
    pub verifier: VerifierConfig,
    /// Places in the queue and module slots one hotkey may hold at once (default 32).
    pub per_hotkey_quota: usize,
    /// The admission layer's bounds: caller policy, caps on unverified requests, rate limits,
    /// body pace ([`AdmissionConfig`] gives the defaults).
    pub admission: AdmissionConfig,
    /// The miner module's key-value store, when it is granted one.
    pub kv: Option<Arc<dyn KvStore>>,
    /// The wire protocol served (default `btauth/1` on `POST /v1/task`; see [`WireProtocol`]).
    pub protocol: WireProtocol,
    /// The miner's hotkey pair, for protocols whose answers are signed (the Axon's); required
    /// for [`WireProtocol::Axon`].
    pub signing_key: Option<Keypair>,
}

impl std::fmt::Debug for MinerServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MinerServerConfig")
            .field("listen", &self.listen)
            .field("netuid", &self.netuid)
            .field("hotkey", &self.hotkey)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_concurrency", &self.max_concurrency)
            .field("max_queue", &self.max_queue)
            .field("max_in_flight", &self.max_in_flight)
            .field("max_timeout", &self.max_timeout)
            .field("blacklist", &self.blacklist.len())
            .field("min_stake_rao", &self.min_stake_rao)
            .field("per_hotkey_quota", &self.per_hotkey_quota)
            .field("admission", &self.admission)
            .field("kv", &self.kv.is_some())
            .field("protocol", &self.protocol.name())
            .finish_non_exhaustive()
    }
}

impl MinerServerConfig {
    /// The defaults for a miner of `netuid` with `hotkey`, on a free loopback port.
    pub fn new(netuid: NetUid, hotkey: AccountId) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            netuid,
            hotkey,
            max_body_bytes: 8 << 20,
            max_concurrency: 16,
            max_queue: 256,
            max_in_flight: 512,
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(10),
            max_timeout: Duration::from_secs(60),
            blacklist: HashSet::new(),
            min_stake_rao: 0,
            metagraph_ttl: Duration::from_secs(12),
            miss_refresh_interval: Duration::from_secs(1),
            verifier: VerifierConfig::default(),
            per_hotkey_quota: 32,
            admission: AdmissionConfig::default(),
            kv: None,
            protocol: WireProtocol::Btauth,
            signing_key: None,
        }
    }
}

/// Why a miner server could not start.
#[derive(Debug, thiserror::Error)]
pub enum MinerServerError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A chain call for the subnet failed (reading its metagraph, announcing an axon).
    #[error("chain call for subnet {netuid} failed: {source}")]
    Chain {
        /// The subnet.
        netuid: NetUid,
        /// Why.
        #[source]
        source: ChainError,
    },
    /// The protocol signs its answers and no key (or another hotkey's) was given.
    #[error("protocol {protocol} signs its answers: the miner's sr25519 hotkey pair is needed")]
    NoSigningKey {
        /// The protocol.
        protocol: &'static str,
    },
}

/// What a handler knows about the request besides the task.
#[derive(Debug, Clone)]
pub struct HandlerContext {
    /// The authenticated validator.
    pub caller: AccountId,
    /// Its stake on the subnet, rao.
    pub stake: u64,
    /// Time left to answer.
    pub timeout: Duration,
    /// The metagraph as the miner last read it.
    pub metagraph: Arc<MetagraphView>,
    /// A seed for the call's randomness (from the caller and the request's nonce).
    pub seed: u64,
}

/// Why a handler did not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HandlerError {
    /// The module declined the task with its own error (answered 422 `module_refused`).
    #[error("refused: {0}")]
    Refused(String),
    /// The handler ran out of time (504 `module_timeout`).
    #[error("timed out")]
    Timeout,
    /// The handler failed (500 `module_failed`).
    #[error("failed: {0}")]
    Failed(String),
}

/// Something that answers tasks: a miner module, or a test harness.
#[async_trait]
pub trait TaskHandler: Send + Sync + 'static {
    /// Answers one verified task within `ctx.timeout`.
    async fn handle(&self, request: MinerRequest, ctx: HandlerContext) -> Result<Payload, HandlerError>;
}

/// Serves a [`MinerModule`]: one fresh instance per task, with the task's time left as its
/// limit.
pub struct ModuleHandler {
    module: MinerModule,
    subnet: Arc<SubnetEnv>,
}

impl ModuleHandler {
    /// A handler for `module`, whose calls run as `subnet`'s (its label, store, limits).
    pub fn new(module: MinerModule, subnet: Arc<SubnetEnv>) -> Self {
        Self { module, subnet }
    }
}

#[async_trait]
impl TaskHandler for ModuleHandler {
    async fn handle(&self, request: MinerRequest, ctx: HandlerContext) -> Result<Payload, HandlerError> {
        let env = self.subnet.call(ctx.seed, ctx.metagraph).with_timeout(ctx.timeout);
        match self.module.handle(&env, &request).await {
            Ok(payload) => Ok(payload),
            Err(CallError::Timeout { .. }) => Err(HandlerError::Timeout),
            Err(CallError::Guest { message, .. }) => Err(HandlerError::Refused(message)),
            Err(e) => {
                tracing::warn!(module = %self.module.info().name, error = %e, "miner module failed");
                Err(HandlerError::Failed(e.kind().to_owned()))
            }
        }
    }
}

/// A server's counters (also served at `GET /v1/stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MinerStats {
    /// Task requests received.
    pub requests: u64,
    /// Requests whose signature verified.
    pub verified: u64,
    /// Calls into the handler (the module).
    pub handler_calls: u64,
    /// 200 answers.
    pub answered: u64,
    /// Non-200 answers by reason code.
    pub refused: BTreeMap<String, u64>,
    /// Requests waiting for a module slot now.
    pub queued: u64,
    /// Module slots in use now.
    pub busy: u64,
    /// Requests past the header checks whose signature is not verified yet, now.
    #[serde(default)]
    pub unverified: u64,
    /// Replay entries the verifier remembers now, over all senders.
    #[serde(default)]
    pub replay_entries: u64,
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) requests: AtomicU64,
    pub(super) verified: AtomicU64,
    pub(super) handler_calls: AtomicU64,
    pub(super) answered: AtomicU64,
    pub(super) refused: Mutex<BTreeMap<&'static str, u64>>,
}

pub(super) struct Server {
    pub(super) config: MinerServerConfig,
    pub(super) admission: Arc<Admission>,
    pub(super) gate: Arc<PriorityGate>,
    pub(super) in_flight: Arc<Semaphore>,
    pub(super) handler: Arc<dyn TaskHandler>,
    pub(super) counters: Counters,
    /// This axon's uuid (the Synapse protocol's `bt_header_axon_uuid`).
    pub(super) axon_uuid: String,
}

/// A running miner server. Dropping it stops accepting connections; [`Self::shutdown`] also
/// waits for requests in flight.
pub struct MinerServerHandle {
    addr: SocketAddr,
    server: Arc<Server>,
    task: ServerTask,
    refresher: tokio::task::JoinHandle<()>,
}

impl MinerServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's counters now.
    pub fn stats(&self) -> MinerStats {
        self.server.stats()
    }

    /// Stops accepting, waits up to 5 s for requests in flight, and stops refreshing.
    pub async fn shutdown(mut self) {
        self.task.stop(Duration::from_secs(5)).await;
        self.refresher.abort();
    }
}

impl Drop for MinerServerHandle {
    fn drop(&mut self) {
        self.refresher.abort();
    }
}

/// Serves `module` for `config.netuid`, checking callers against `chain`.
pub async fn spawn_miner_server(
    config: MinerServerConfig,
    module: MinerModule,
    chain: Arc<dyn Chain>,
) -> Result<MinerServerHandle, MinerServerError> {
    let mut subnet = SubnetEnv::new(format!("netuid {} miner {}", config.netuid, module.info().name));
    subnet.caps.kv = config.kv.clone();
    let handler = Arc::new(ModuleHandler::new(module, Arc::new(subnet)));
    spawn_miner_server_with(config, handler, chain).await
}

/// Serves any [`TaskHandler`] with the same authentication, limits and priority as
/// [`spawn_miner_server`].
pub async fn spawn_miner_server_with(
    config: MinerServerConfig,
    handler: Arc<dyn TaskHandler>,
    chain: Arc<dyn Chain>,
) -> Result<MinerServerHandle, MinerServerError> {
    let netuid = config.netuid;
    let protocol = match &config.protocol {
        WireProtocol::Btauth => Protocol::btauth(config.verifier.clone()),
        WireProtocol::Axon(spec) => {
            let key_ok = config.signing_key.as_ref().is_some_and(|k| {
                k.account_id() == config.hotkey && k.crypto_type() == subnet_keys::CryptoType::Sr25519
            });
            if !key_ok {
                return Err(MinerServerError::NoSigningKey { protocol: "axon" });
            }
            Protocol::axon(&config.hotkey, spec.clone(), config.max_timeout)
        }
        WireProtocol::Epistula { .. } => Protocol::epistula(),
    };
    let registry = Registry::open(chain, netuid, config.miss_refresh_interval)
        .await
        .map_err(|source| MinerServerError::Chain { netuid, source })?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| MinerServerError::Bind { addr: config.listen, source })?;
    let addr = listener.local_addr().map_err(|source| MinerServerError::Bind { addr: config.listen, source })?;

    let refresher = tokio::spawn(registry.clone().refresh_loop(config.metagraph_ttl));
    let admission = Admission::new(
        AdmissionParts {
            me: config.hotkey,
            netuid,
            protocol,
            blacklist: config.blacklist.clone(),
            min_stake_rao: config.min_stake_rao,
            config: config.admission.clone(),
        },
        registry,
    );
    let server = Arc::new(Server {
        admission,
        gate: PriorityGate::with_quota(config.max_concurrency, config.max_queue, config.per_hotkey_quota),
        in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
        handler,
        counters: Counters::default(),
        axon_uuid: subnet_keys::epistula::uuid4(),
        config,
    });
    let path = served_path(&server);
    let router = Router::new()
        .route(&path, post(super::miner_task::task))
        .route("/v1/health", get(health))
        .route("/v1/stats", get(stats))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(server.clone());
    let limits = ConnLimits {
        max_connections: server.config.max_connections,
        header_read_timeout: server.config.header_read_timeout,
    };
    let task = ServerTask::spawn(listener, router, limits);
    tracing::info!(%addr, netuid, hotkey = %server.config.hotkey, protocol = server.config.protocol.name(), %path, "miner serving");
    Ok(MinerServerHandle { addr, server, task, refresher })
}

impl Server {
    fn stats(&self) -> MinerStats {
        let c = &self.counters;
        MinerStats {
            requests: c.requests.load(Ordering::Relaxed),
            verified: c.verified.load(Ordering::Relaxed),
            handler_calls: c.handler_calls.load(Ordering::Relaxed),
            answered: c.answered.load(Ordering::Relaxed),
            refused: c
                .refused
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            queued: self.gate.queued() as u64,
            busy: self.gate.in_use() as u64,
            unverified: self.admission.unverified() as u64,
            replay_entries: self.admission.protocol().replay_entries() as u64,
        }
    }

    pub(super) fn refuse(&self, status: u16, reason: &'static str, message: impl Into<String>) -> Response {
        *self.counters.refused.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(reason).or_default() +=
            1;
        self.answer_refusal(status, reason, message.into())
    }

    /// A refusal's response, not counted (unknown paths and methods are not requests).
    fn answer_refusal(&self, status: u16, reason: &'static str, message: String) -> Response {
        if matches!(self.config.protocol, WireProtocol::Axon(_)) {
            // The Axon's codes for the same outcomes: its priority queue refuses with 503 and a
            // forward past the timeout is 408.
            let status = match reason {
                "overloaded" | "evicted" | "hotkey_quota" => 503,
                "module_timeout" => 408,
                _ => status,
            };
            // A Dendrite reads the status and message of a refusal from these headers.
            let mut response = refusal(status, reason, message.clone());
            super::miner_synapse::refusal_headers(response.headers_mut(), status, &message);
            return response;
        }
        refusal(status, reason, message)
    }

    /// Answers a refusal from before the module, with its documented status and code.
    pub(super) fn refused(&self, r: &Refused) -> Response {
        self.refuse(r.status(), r.reason(), r.to_string())
    }
}

fn refusal(status: u16, reason: &str, message: impl Into<String>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = Refusal { error: reason.to_owned(), message: message.into() };
    (status, axum::Json(body)).into_response()
}

fn served_path(server: &Server) -> String {
    match &server.config.protocol {
        WireProtocol::Btauth => TASK_PATH.to_owned(),
        WireProtocol::Axon(spec) => spec.path(),
        WireProtocol::Epistula { path } => path.clone(),
    }
}

async fn not_found(State(server): State<Arc<Server>>) -> Response {
    // The Axon's answer to an unknown synapse is 404 too.
    server.answer_refusal(404, "not_found", format!("this miner serves POST {}", served_path(&server)))
}

async fn method_not_allowed(State(server): State<Arc<Server>>) -> Response {
    server.answer_refusal(405, "method_not_allowed", format!("this miner serves POST {}", served_path(&server)))
}

async fn health(State(server): State<Arc<Server>>) -> Response {
    axum::Json(serde_json::json!({"hotkey": server.config.hotkey, "netuid": server.config.netuid})).into_response()
}

async fn stats(State(server): State<Arc<Server>>) -> Response {
    axum::Json(server.stats()).into_response()
}

async fn metrics(State(server): State<Arc<Server>>) -> Response {
    let text = super::miner_metrics::render(server.config.netuid, &server.stats());
    ([(axum::http::header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text)
        .into_response()
}
