//! The miner's axon: an HTTP server that answers validators' tasks through a miner module.
//!
//! [`spawn_miner_server`] serves a [`MinerModule`]; [`spawn_miner_server_with`] serves any
//! [`TaskHandler`] (the fan-out benchmark and the tests of the priority gate plug in their own).
//! The wire protocol and the refusal codes are in the [`crate::net`] docs.
//!
//! # Who may query
//! The caller's hotkey must be registered on the served subnet in the chain's metagraph, not be
//! blacklisted, and hold at least [`MinerServerConfig::min_stake_rao`]. The metagraph is cached:
//! refreshed on every new block ([`Chain::subscribe_blocks`]), at least every
//! [`MinerServerConfig::metagraph_ttl`], and on a miss for an unknown hotkey (at most once per
//! [`MinerServerConfig::miss_refresh_interval`]), so a validator registered a moment ago is
//! admitted without letting unknown hotkeys hammer the chain. If a refresh fails the last good
//! snapshot stays in use (and a warning is logged).
//!
//! # Order of checks (cheapest first; nothing reaches the module unverified)
//! 1. concurrency: more than [`MinerServerConfig::max_in_flight`] requests open → `overloaded`;
//! 2. btauth headers (shape, receiver = this miner, freshness) → 400/401;
//! 3. blacklist, registration, minimum stake of the *claimed* hotkey → 403;
//! 4. task headers (netuid, task id, timeout) → 400/421;
//! 5. `Content-Length` over the limit → 413 without reading the body;
//! 6. the body, bounded by the limit (413) and the task's deadline (408);
//! 7. the signature and the replay cache → 401;
//! 8. the priority gate (authenticated stake first; full queue or deadline → `overloaded`);
//! 9. the module, with the time left before the deadline.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use subnet_chain::{AccountId, Chain, ChainError, Metagraph, NetUid};
use subnet_keys::btauth::{Verifier, VerifierConfig, unix_time_ns};
use tokio::sync::Semaphore;

use super::client::{ReadError, read_limited};
use super::gate::PriorityGate;
use super::server::{ConnLimits, ServerTask};
use super::{
    DEFAULT_TASK_TIMEOUT, HEADER_NETUID, HEADER_TASK_ID, HEADER_TIMEOUT_MS, MAX_TASK_ID_LEN, Refusal, TASK_PATH,
};
use crate::bindings::types::{MinerRequest, Payload};
use crate::caps::kv::KvStore;
use crate::caps::metagraph::MetagraphView;
use crate::caps::random::derive_seed;
use crate::runtime::{CallError, MinerModule, SubnetEnv};
use crate::util::truncate;

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
    /// The miner module's key-value store, when it is granted one.
    pub kv: Option<Arc<dyn KvStore>>,
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
            .field("kv", &self.kv.is_some())
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
            kv: None,
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
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    verified: AtomicU64,
    handler_calls: AtomicU64,
    answered: AtomicU64,
    refused: Mutex<BTreeMap<&'static str, u64>>,
}

/// One metagraph snapshot with the lookups requests need.
struct Snapshot {
    stakes: HashMap<AccountId, u64>,
    view: Arc<MetagraphView>,
    fetched: Instant,
}

impl Snapshot {
    fn of(metagraph: &Metagraph) -> Self {
        let stakes = metagraph.neurons.iter().map(|n| (n.hotkey, n.stake)).collect();
        let view = MetagraphView::from(metagraph);
        Snapshot { stakes, view: Arc::new(view), fetched: Instant::now() }
    }
}

/// The cached registration view of the served subnet.
struct Registry {
    chain: Arc<dyn Chain>,
    netuid: NetUid,
    current: RwLock<Arc<Snapshot>>,
    refreshing: tokio::sync::Mutex<()>,
    miss_interval: Duration,
}

impl Registry {
    fn current(&self) -> Arc<Snapshot> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    async fn refresh(&self) -> Result<(), ChainError> {
        let metagraph = self.chain.metagraph(self.netuid).await?;
        let snapshot = Arc::new(Snapshot::of(&metagraph));
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = snapshot;
        Ok(())
    }

    /// The snapshot and the hotkey's stake if registered, refreshing once on a miss when the
    /// snapshot is older than the miss interval.
    async fn lookup(&self, hotkey: &AccountId) -> (Arc<Snapshot>, Option<u64>) {
        let snap = self.current();
        if let Some(&stake) = snap.stakes.get(hotkey) {
            return (snap, Some(stake));
        }
        if snap.fetched.elapsed() >= self.miss_interval {
            let _one_at_a_time = self.refreshing.lock().await;
            // Someone else may have refreshed while we waited.
            if self.current().fetched.elapsed() >= self.miss_interval
                && let Err(e) = self.refresh().await
            {
                tracing::warn!(netuid = self.netuid, error = %e, "metagraph refresh failed; using the last snapshot");
            }
        }
        let snap = self.current();
        let stake = snap.stakes.get(hotkey).copied();
        (snap, stake)
    }
}

struct Server {
    config: MinerServerConfig,
    verifier: Verifier,
    registry: Arc<Registry>,
    gate: Arc<PriorityGate>,
    in_flight: Arc<Semaphore>,
    handler: Arc<dyn TaskHandler>,
    counters: Counters,
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
    mut config: MinerServerConfig,
    handler: Arc<dyn TaskHandler>,
    chain: Arc<dyn Chain>,
) -> Result<MinerServerHandle, MinerServerError> {
    config.verifier.require_receiver = true;
    let netuid = config.netuid;
    let metagraph = chain.metagraph(netuid).await.map_err(|source| MinerServerError::Chain { netuid, source })?;
    let registry = Arc::new(Registry {
        chain: chain.clone(),
        netuid,
        current: RwLock::new(Arc::new(Snapshot::of(&metagraph))),
        refreshing: tokio::sync::Mutex::new(()),
        miss_interval: config.miss_refresh_interval,
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| MinerServerError::Bind { addr: config.listen, source })?;
    let addr = listener.local_addr().map_err(|source| MinerServerError::Bind { addr: config.listen, source })?;

    let refresher = tokio::spawn(refresh_loop(registry.clone(), chain, config.metagraph_ttl));
    let server = Arc::new(Server {
        verifier: Verifier::new(config.verifier.clone()),
        gate: PriorityGate::new(config.max_concurrency, config.max_queue),
        in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
        registry,
        handler,
        counters: Counters::default(),
        config,
    });
    let router = Router::new()
        .route(TASK_PATH, post(task))
        .route("/v1/health", get(health))
        .route("/v1/stats", get(stats))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(server.clone());
    let limits = ConnLimits {
        max_connections: server.config.max_connections,
        header_read_timeout: server.config.header_read_timeout,
    };
    let task = ServerTask::spawn(listener, router, limits);
    tracing::info!(%addr, netuid, hotkey = %server.config.hotkey, "miner serving");
    Ok(MinerServerHandle { addr, server, task, refresher })
}

async fn refresh_loop(registry: Arc<Registry>, chain: Arc<dyn Chain>, ttl: Duration) {
    let mut blocks = chain.subscribe_blocks();
    let ttl = ttl.max(Duration::from_millis(100));
    loop {
        let block_feed_open = tokio::select! {
            r = blocks.changed() => r.is_ok(),
            _ = tokio::time::sleep(ttl) => true,
        };
        if let Err(e) = registry.refresh().await {
            tracing::warn!(netuid = registry.netuid, error = %e, "metagraph refresh failed; using the last snapshot");
        }
        if !block_feed_open {
            // The chain dropped its block feed: fall back to the TTL alone.
            tokio::time::sleep(ttl).await;
        }
    }
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
        }
    }

    fn refuse(&self, status: u16, reason: &'static str, message: impl Into<String>) -> Response {
        *self.counters.refused.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(reason).or_default() +=
            1;
        refusal(status, reason, message)
    }
}

fn refusal(status: u16, reason: &str, message: impl Into<String>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = Refusal { error: reason.to_owned(), message: message.into() };
    (status, axum::Json(body)).into_response()
}

async fn not_found() -> Response {
    refusal(404, "not_found", format!("this miner serves POST {TASK_PATH}"))
}

async fn method_not_allowed() -> Response {
    refusal(405, "method_not_allowed", format!("this miner serves POST {TASK_PATH}"))
}

async fn health(State(server): State<Arc<Server>>) -> Response {
    axum::Json(serde_json::json!({"hotkey": server.config.hotkey, "netuid": server.config.netuid})).into_response()
}

async fn stats(State(server): State<Arc<Server>>) -> Response {
    axum::Json(server.stats()).into_response()
}

/// The task headers, parsed.
struct TaskHeaders {
    task_id: String,
    timeout: Duration,
    content_type: String,
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, String> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(format!("{name} given more than once"));
    }
    first.to_str().map(|s| Some(s.trim())).map_err(|_| format!("{name} is not valid text"))
}

fn task_headers(
    headers: &HeaderMap,
    netuid: NetUid,
    max_timeout: Duration,
) -> Result<TaskHeaders, (u16, &'static str, String)> {
    let bad = |m: String| (400, "bad_request", m);
    if let Some(n) = header_text(headers, HEADER_NETUID).map_err(bad)? {
        let n: NetUid = n.parse().map_err(|_| bad(format!("{HEADER_NETUID} is not a netuid")))?;
        if n != netuid {
            return Err((421, "wrong_netuid", format!("this miner serves subnet {netuid}, not {n}")));
        }
    }
    let task_id = header_text(headers, HEADER_TASK_ID).map_err(bad)?.unwrap_or("-");
    if task_id.len() > MAX_TASK_ID_LEN {
        return Err(bad(format!("{HEADER_TASK_ID} is longer than {MAX_TASK_ID_LEN} bytes")));
    }
    let timeout = match header_text(headers, HEADER_TIMEOUT_MS).map_err(bad)? {
        None => DEFAULT_TASK_TIMEOUT,
        Some(t) => Duration::from_millis(
            t.parse::<u64>().map_err(|_| bad(format!("{HEADER_TIMEOUT_MS} is not a number of milliseconds")))?,
        ),
    };
    let content_type = match header_text(headers, header::CONTENT_TYPE.as_str()).map_err(bad)? {
        None | Some("") => "application/octet-stream".to_owned(),
        Some(ct) => ct.to_owned(),
    };
    Ok(TaskHeaders { task_id: task_id.to_owned(), timeout: timeout.min(max_timeout), content_type })
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

async fn task(State(server): State<Arc<Server>>, ConnectInfo(peer): ConnectInfo<SocketAddr>, req: Request) -> Response {
    let started = Instant::now();
    let cfg = &server.config;
    server.counters.requests.fetch_add(1, Ordering::Relaxed);
    let Ok(_in_flight) = server.in_flight.clone().try_acquire_owned() else {
        return server.refuse(429, "overloaded", "too many requests in flight; retry later");
    };

    // 2. Auth headers: shape, receiver binding, freshness.
    let pending = match server.verifier.check_headers(req.headers().iter(), &cfg.hotkey, unix_time_ns()) {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(%peer, reason = e.reason(), "refused request (auth headers)");
            return server.refuse(e.status(), e.reason(), e.to_string());
        }
    };
    let claimed = *pending.claimed_hotkey();

    // 3. Who may query (by the claimed hotkey: cheap refusals only, never a grant).
    if cfg.blacklist.contains(&claimed) {
        tracing::info!(%peer, claimed = %claimed, reason = "blacklisted", "refused request");
        return server.refuse(403, "blacklisted", "this hotkey is blacklisted by the miner");
    }
    let (snapshot, stake) = server.registry.lookup(&claimed).await;
    let Some(stake) = stake else {
        tracing::info!(%peer, claimed = %claimed, reason = "not_registered", "refused request");
        return server.refuse(403, "not_registered", format!("hotkey is not registered on subnet {}", cfg.netuid));
    };
    if stake < cfg.min_stake_rao {
        tracing::info!(%peer, claimed = %claimed, stake, reason = "insufficient_stake", "refused request");
        return server.refuse(
            403,
            "insufficient_stake",
            format!("this miner serves callers with at least {} rao of stake", cfg.min_stake_rao),
        );
    }

    // 4. Task headers.
    let th = match task_headers(req.headers(), cfg.netuid, cfg.max_timeout) {
        Ok(t) => t,
        Err((status, reason, message)) => return server.refuse(status, reason, message),
    };
    let deadline = started + th.timeout;

    // 5-6. The body, bounded in size and time.
    let path = req.uri().path_and_query().map_or(TASK_PATH, |p| p.as_str()).to_owned();
    let body = req.into_body();
    let max = cfg.max_body_bytes;
    let body = match tokio::time::timeout_at(deadline.into(), read_limited(body, max)).await {
        Ok(Ok(b)) => b,
        Ok(Err(ReadError::TooLarge)) => {
            tracing::info!(%peer, claimed = %claimed, reason = "body_too_large", "refused request");
            return server.refuse(413, "body_too_large", format!("the body is larger than {max} bytes"));
        }
        Ok(Err(ReadError::Io(e))) => {
            return server.refuse(400, "bad_request", format!("reading the body failed: {}", truncate(&e, 200)));
        }
        Err(_) => {
            tracing::info!(%peer, claimed = %claimed, reason = "body_timeout", "refused request");
            return server.refuse(408, "body_timeout", "the body did not arrive within the task's timeout");
        }
    };

    // 7. Signature and replay.
    let caller = match server.verifier.complete(&pending, "POST", &path, &body, unix_time_ns()) {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(%peer, claimed = %claimed, reason = e.reason(), "refused request");
            return server.refuse(e.status(), e.reason(), e.to_string());
        }
    };
    server.counters.verified.fetch_add(1, Ordering::Relaxed);
    let validator = caller.hotkey;

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

    // 8. A module slot, best stake first.
    let permit = match tokio::time::timeout_at(deadline.into(), server.gate.acquire(stake)).await {
        Ok(Ok(p)) => p,
        Ok(Err(_)) => {
            log(429, "overloaded");
            return server.refuse(429, "overloaded", "the miner's queue is full; retry later");
        }
        Err(_) => {
            log(429, "overloaded");
            return server.refuse(429, "overloaded", "no module slot freed up within the task's timeout");
        }
    };

    // 9. The module.
    let timeout = deadline.saturating_duration_since(Instant::now());
    if timeout.is_zero() {
        log(504, "module_timeout");
        return server.refuse(504, "module_timeout", "no time left for the module");
    }
    let request = MinerRequest {
        task_id: th.task_id.clone(),
        netuid: cfg.netuid,
        validator: validator.to_ss58(),
        payload: Payload { content_type: th.content_type, body: body.to_vec() },
        timeout_ms: u32::try_from(ms(timeout)).unwrap_or(u32::MAX),
    };
    let mut key = [0u8; 8];
    key.copy_from_slice(&validator.0[..8]);
    let ctx = HandlerContext {
        caller: validator,
        stake,
        timeout,
        metagraph: snapshot.view.clone(),
        seed: derive_seed(&[caller.nonce, u64::from_le_bytes(key)]),
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
