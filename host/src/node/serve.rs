//! A development chain node: one [`LocalChain`] (usually persistent, opened from a state
//! directory) served over HTTP/JSON so miners, validators and tools in separate processes share
//! one chain. It is the embedded chain with a socket, not subtensor: same rules and error names,
//! but no consensus, no balances, no RPC compatibility with a real node.
//!
//! # API (JSON shapes in [`super::chain_api`])
//! | method and path | auth | answer |
//! | --- | --- | --- |
//! | `GET /v1/chain/info` | - | [`NodeInfo`] (the node's identity key, block, mode) |
//! | `GET /v1/chain/block` | - | [`BlockAnswer`] |
//! | `GET /v1/chain/blocks/wait?after=N&timeout_ms=T` | - | [`BlockAnswer`] as soon as the block passes `N`, or after `T` ms (long poll) |
//! | `GET /v1/chain/subnets` | - | [`SubnetsAnswer`] |
//! | `GET /v1/chain/subnets/{netuid}/metagraph` | - | [`subnet_chain::Metagraph`] |
//! | `GET /v1/chain/subnets/{netuid}/hyperparams` | - | [`subnet_chain::Hyperparams`] |
//! | `POST /v1/chain/extrinsics/{set_weights, commit_weights, reveal_weights, serve_axon}` | btauth by the hotkey | [`subnet_chain::ExtrinsicOutcome`] |
//! | `POST /v1/chain/extrinsics/register` | btauth by the coldkey | [`subnet_chain::ExtrinsicOutcome`] |
//! | `POST /v1/chain/extrinsics/add_stake` | btauth by the coldkey; dev calls on, bounded (below) | [`subnet_chain::ExtrinsicOutcome`] |
//! | `POST /v1/chain/extrinsics/create_subnet` | btauth by the owner coldkey | [`CreatedSubnet`] |
//! | `POST /v1/chain/extrinsics/set_hyperparams` | btauth by the subnet owner's coldkey | `{}` |
//! | `POST /v1/chain/dev/advance` | none; dev calls on, manual mode only, bounded (below) | [`Advanced`] |
//!
//! # Invariants
//! - An extrinsic is applied only when its btauth signature verifies, is bound to this node's
//!   identity key (receiver), is fresh and not a replay, and the signer is the account the body
//!   names as `signer`; otherwise `401`/`400` (btauth reason codes) or `403 signer_mismatch` /
//!   `403 not_owner`, and the chain is untouched.
//! - Chain errors come back as [`ApiError`] with the pallet and error names exactly as
//!   [`subnet_chain::ChainError::Module`] carries them (`SubtensorModule` /
//!   `SettingWeightsTooFast`), with status 422.
//! - Chain writes (and the database commit behind them) run on the blocking pool, never on the
//!   async workers.
//! - With a block timer the node produces one block per interval and refuses `dev/advance`
//!   (`403 timed_blocks`), so no client can fast-forward a shared timed chain.
//!
//! # Dev calls ([`DevCalls`])
//! The dev chain has no balances, so `add_stake` mints, and `dev/advance` produces blocks on
//! request. Both are *dev calls*: off unless enabled (`subnetd chain serve --dev`; embedders
//! such as tests get them on from [`ChainNodeConfig::new`]), refused with `403 dev_disabled`
//! otherwise. When on they are bounded:
//! - `dev/advance` produces at most [`DevCalls::max_advance`] blocks per call (default 1000;
//!   more is `400 invalid_input`), in transactions of [`DevCalls::advance_chunk`] blocks (default
//!   16) so reads and extrinsics run between them instead of waiting behind one long lock, and
//!   one advance at a time (a second concurrent one is `429 dev_busy`).
//! - `add_stake` mints at most [`DevCalls::max_stake_rao`] per call (default 10⁶ TAO; more is
//!   `400 invalid_input`), and all signers together at most [`DevCalls::stake_rate`] calls
//!   (default burst 32, 4 per second; past it `429 rate_limited`), so no client can mint without
//!   bound however many coldkeys it makes.

// Handlers return their HTTP answer as the error of `?`-chains: it is built once per request
// and handed straight to hyper, so its size does not matter.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde::de::DeserializeOwned;
use subnet_chain::local::LocalChain;
use subnet_chain::{AccountId, Chain, ChainError, MechId, NetUid, Uid};
use subnet_keys::Keypair;
use subnet_keys::btauth::{Verifier, VerifierConfig, unix_time_ns};
use subnet_keys::ratelimit::RateLimiter;

use super::api::*;
use crate::net::client::{ReadError, read_limited};
use crate::net::server::{ConnLimits, ServerTask};

/// Settings of a chain node.
#[derive(Debug, Clone)]
pub struct ChainNodeConfig {
    /// Address to listen on (default `127.0.0.1:9944`, the local-node convention).
    pub listen: SocketAddr,
    /// Produce a block every interval; `None` (default) produces blocks only on `dev/advance`.
    pub block_time: Option<Duration>,
    /// The node's identity: clients bind their signed extrinsics to it.
    pub node_key: Keypair,
    /// btauth settings for extrinsics.
    pub verifier: VerifierConfig,
    /// Largest request body (default 1 MiB).
    pub max_body_bytes: usize,
    /// Dev calls and their bounds (see the module docs).
    pub dev: DevCalls,
}

/// Dev calls (`dev/advance`, minting `add_stake`): whether they are served, and their bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevCalls {
    /// Serve them at all.
    pub enabled: bool,
    /// Most blocks one `dev/advance` produces.
    pub max_advance: u64,
    /// Blocks per chain transaction while advancing.
    pub advance_chunk: u64,
    /// Most stake one `add_stake` mints, rao.
    pub max_stake_rao: u64,
    /// `add_stake` calls over all signers: (burst, per second).
    pub stake_rate: (u32, u32),
}

impl DevCalls {
    /// Dev calls on, with the default bounds.
    pub fn on() -> Self {
        DevCalls {
            enabled: true,
            max_advance: 1000,
            advance_chunk: 16,
            max_stake_rao: 1_000_000 * 1_000_000_000,
            stake_rate: (32, 4),
        }
    }

    /// Dev calls off (the bounds stay for when they are turned on).
    pub fn off() -> Self {
        DevCalls { enabled: false, ..Self::on() }
    }
}

impl ChainNodeConfig {
    /// Defaults with the given identity key.
    pub fn new(node_key: Keypair) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9944)),
            block_time: None,
            node_key,
            verifier: VerifierConfig::default(),
            max_body_bytes: 1 << 20,
            dev: DevCalls::on(),
        }
    }
}

struct Node {
    chain: Arc<LocalChain>,
    node: AccountId,
    verifier: Verifier,
    block_time: Option<Duration>,
    max_body: usize,
    dev: DevCalls,
    advancing: tokio::sync::Mutex<()>,
    stake_rate: std::sync::Mutex<RateLimiter<()>>,
    epoch: std::time::Instant,
}

impl Node {
    fn dev_enabled(&self) -> Result<(), Response> {
        if self.dev.enabled {
            Ok(())
        } else {
            Err(error(
                403,
                ApiError::refusal("dev_disabled", "dev calls are off on this node (serve it with --dev to allow them)"),
            ))
        }
    }
}

/// A running chain node.
pub struct ChainNodeHandle {
    addr: SocketAddr,
    task: ServerTask,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl ChainNodeHandle {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL clients use (`http://ADDR`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the block timer and the server (waits up to 5 s for requests in flight).
    pub async fn shutdown(mut self) {
        if let Some(t) = self.ticker.take() {
            t.abort();
        }
        self.task.stop(Duration::from_secs(5)).await;
    }
}

impl Drop for ChainNodeHandle {
    fn drop(&mut self) {
        if let Some(t) = self.ticker.take() {
            t.abort();
        }
    }
}

/// Serves `chain` over HTTP.
pub async fn spawn_chain_node(chain: Arc<LocalChain>, config: ChainNodeConfig) -> std::io::Result<ChainNodeHandle> {
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let mut verifier = config.verifier.clone();
    verifier.require_receiver = true;
    let node = Arc::new(Node {
        chain: chain.clone(),
        node: config.node_key.account_id(),
        verifier: Verifier::new(verifier),
        block_time: config.block_time,
        max_body: config.max_body_bytes,
        dev: config.dev,
        advancing: tokio::sync::Mutex::new(()),
        stake_rate: std::sync::Mutex::new(RateLimiter::new(config.dev.stake_rate.0, config.dev.stake_rate.1, 1)),
        epoch: std::time::Instant::now(),
    });
    let router = Router::new()
        .route("/v1/chain/info", get(info))
        .route("/v1/chain/block", get(block))
        .route("/v1/chain/blocks/wait", get(wait_block))
        .route("/v1/chain/drand", get(drand_beacon))
        .route("/v1/chain/subnets", get(subnets))
        .route("/v1/chain/subnets/{netuid}/metagraph", get(metagraph))
        .route("/v1/chain/subnets/{netuid}/hyperparams", get(hyperparams))
        .route("/v1/chain/subnets/{netuid}/epoch", get(epoch_schedule))
        .route("/v1/chain/subnets/{netuid}/mechanisms/{mecid}/metagraph", get(mechanism_metagraph))
        .route("/v1/chain/subnets/{netuid}/mechanisms/{mecid}/weights/{uid}", get(weights_row))
        .route("/v1/chain/subnets/{netuid}/mechanisms/{mecid}/timelocked/{hotkey}", get(timelocked_commits))
        .route("/v1/chain/extrinsics/{name}", post(extrinsic))
        .route("/v1/chain/dev/advance", post(advance))
        .fallback(|| async { error(404, ApiError::refusal("not_found", "no such endpoint")) })
        .with_state(node);
    let task = ServerTask::spawn(
        listener,
        router,
        ConnLimits { max_connections: 1024, header_read_timeout: Duration::from_secs(10) },
    );
    let ticker = config.block_time.map(|interval| {
        let chain = chain.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval.max(Duration::from_millis(10)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let chain = chain.clone();
                match tokio::task::spawn_blocking(move || chain.advance_blocks(1)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "producing a block failed"),
                    Err(e) => tracing::error!(error = %e, "block producer panicked"),
                }
            }
        })
    });
    tracing::info!(%addr, node = %config.node_key.account_id(), block = chain.block(), "chain node serving");
    Ok(ChainNodeHandle { addr, task, ticker })
}

fn error(status: u16, body: ApiError) -> Response {
    (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), axum::Json(body)).into_response()
}

fn chain_error(e: &ChainError) -> Response {
    let (status, body) = ApiError::from_chain(e);
    error(status, body)
}

fn answer<T: Serialize>(r: Result<T, ChainError>) -> Response {
    match r {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => chain_error(&e),
    }
}

async fn info(State(node): State<Arc<Node>>) -> Response {
    axum::Json(NodeInfo {
        node: node.node,
        block: node.chain.block(),
        block_time_ms: node.block_time.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        dev_advance: node.block_time.is_none() && node.dev.enabled,
    })
    .into_response()
}

async fn block(State(node): State<Arc<Node>>) -> Response {
    axum::Json(BlockAnswer { block: node.chain.block() }).into_response()
}

async fn wait_block(
    State(node): State<Arc<Node>>,
    query: Result<Query<WaitQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return error(400, ApiError::refusal("bad_request", "use ?after=BLOCK&timeout_ms=MS"));
    };
    let mut blocks = node.chain.subscribe_blocks();
    let wait = Duration::from_millis(q.timeout_ms.min(30_000));
    let _ = tokio::time::timeout(wait, blocks.wait_for(|b| *b > q.after)).await;
    axum::Json(BlockAnswer { block: node.chain.block() }).into_response()
}

async fn subnets(State(node): State<Arc<Node>>) -> Response {
    answer(node.chain.subnets().await.map(|netuids| SubnetsAnswer { netuids }))
}

async fn metagraph(State(node): State<Arc<Node>>, Path(netuid): Path<NetUid>) -> Response {
    answer(node.chain.metagraph(netuid).await)
}

async fn hyperparams(State(node): State<Arc<Node>>, Path(netuid): Path<NetUid>) -> Response {
    answer(node.chain.hyperparams(netuid).await)
}

async fn epoch_schedule(State(node): State<Arc<Node>>, Path(netuid): Path<NetUid>) -> Response {
    answer(node.chain.epoch_schedule(netuid).await)
}

async fn mechanism_metagraph(State(node): State<Arc<Node>>, Path((netuid, mecid)): Path<(NetUid, MechId)>) -> Response {
    answer(node.chain.mechanism_metagraph(netuid, mecid).await)
}

async fn weights_row(
    State(node): State<Arc<Node>>,
    Path((netuid, mecid, uid)): Path<(NetUid, MechId, Uid)>,
) -> Response {
    answer(node.chain.weights_row(netuid, mecid, uid).await)
}

async fn drand_beacon(State(node): State<Arc<Node>>) -> Response {
    answer(node.chain.drand_beacon().await)
}

async fn timelocked_commits(
    State(node): State<Arc<Node>>,
    Path((netuid, mecid, hotkey)): Path<(NetUid, MechId, String)>,
) -> Response {
    let who = match AccountId::from_ss58(&hotkey) {
        Ok(who) => who,
        Err(e) => return error(400, ApiError::refusal("invalid_input", format!("hotkey: {e}"))),
    };
    answer(node.chain.timelocked_commits(netuid, mecid, &who).await)
}

async fn advance(State(node): State<Arc<Node>>, req: Request) -> Response {
    if let Err(r) = node.dev_enabled() {
        return r;
    }
    if node.block_time.is_some() {
        return error(403, ApiError::refusal("timed_blocks", "this node produces blocks on a timer; advance is off"));
    }
    let call: AdvanceCall = match read_json(&node, req.into_body()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let max = node.dev.max_advance;
    if call.blocks > max {
        return error(400, ApiError::refusal("invalid_input", format!("advance at most {max} blocks per call")));
    }
    let Ok(_one_at_a_time) = node.advancing.try_lock() else {
        return error(429, ApiError::refusal("dev_busy", "another advance is running; retry when it is done"));
    };
    let mut events = Vec::new();
    let mut left = call.blocks;
    let chunk = node.dev.advance_chunk.max(1);
    while left > 0 {
        let n = left.min(chunk);
        let chain = node.chain.clone();
        match blocking(move || chain.advance_blocks(n)).await {
            Ok(e) => events.extend(e),
            Err(e) => return chain_error(&e),
        }
        left -= n;
    }
    axum::Json(Advanced { block: node.chain.block(), events }).into_response()
}

async fn read_json<T: DeserializeOwned>(node: &Node, body: Body) -> Result<T, Response> {
    let bytes = read_body(node, body).await?;
    parse_json(&bytes)
}

async fn read_body(node: &Node, body: Body) -> Result<bytes::Bytes, Response> {
    match tokio::time::timeout(Duration::from_secs(10), read_limited(body, node.max_body)).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(ReadError::TooLarge)) => Err(error(413, ApiError::refusal("body_too_large", "request body too large"))),
        Ok(Err(ReadError::Io(e))) => Err(error(400, ApiError::refusal("bad_request", e))),
        Err(_) => Err(error(408, ApiError::refusal("body_timeout", "request body too slow"))),
    }
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(bytes).map_err(|e| error(400, ApiError::refusal("invalid_input", format!("bad JSON: {e}"))))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ChainError> + Send + 'static,
) -> Result<T, ChainError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| Err(ChainError::Storage(format!("chain task failed: {e}"))))
}

/// Verifies the request and returns the authenticated signer and the body.
async fn authenticate(node: &Node, req: Request) -> Result<(AccountId, bytes::Bytes), Response> {
    let pending = node
        .verifier
        .check_headers(req.headers().iter(), &node.node, unix_time_ns())
        .map_err(|e| error(e.status(), ApiError::refusal(e.reason(), e.to_string())))?;
    let path = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let body = read_body(node, req.into_body()).await?;
    let caller = node
        .verifier
        .complete(&pending, "POST", &path, &body, unix_time_ns())
        .map_err(|e| error(e.status(), ApiError::refusal(e.reason(), e.to_string())))?;
    Ok((caller.hotkey, body))
}

fn signed_by(caller: &AccountId, signer: &AccountId) -> Result<(), Response> {
    if caller == signer {
        Ok(())
    } else {
        Err(error(
            403,
            ApiError::refusal("signer_mismatch", format!("signed by {caller}, but the call is for {signer}")),
        ))
    }
}

async fn extrinsic(State(node): State<Arc<Node>>, Path(name): Path<String>, req: Request) -> Response {
    let (caller, body) = match authenticate(&node, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match run_extrinsic(&node, &name, caller, &body).await {
        Ok(r) | Err(r) => r,
    }
}

async fn run_extrinsic(node: &Node, name: &str, caller: AccountId, body: &[u8]) -> Result<Response, Response> {
    let chain = node.chain.clone();
    let response = match name {
        "set_weights" => {
            let c: SetWeightsCall = parse_json(body)?;
            signed_by(&caller, &c.signer)?;
            answer(
                blocking(move || {
                    chain.set_mechanism_weights_now(&c.signer, c.netuid, c.mecid, &c.uids, &c.weights, c.version_key)
                })
                .await,
            )
        }
        "commit_weights" => {
            let c: CommitWeightsCall = parse_json(body)?;
            signed_by(&caller, &c.signer)?;
            let hash = parse_hash(&c.hash)?;
            answer(blocking(move || chain.commit_mechanism_weights_now(&c.signer, c.netuid, c.mecid, hash)).await)
        }
        "reveal_weights" => {
            let c: RevealWeightsCall = parse_json(body)?;
            signed_by(&caller, &c.signer)?;
            answer(
                blocking(move || {
                    chain.reveal_mechanism_weights_now(
                        &c.signer,
                        c.netuid,
                        c.mecid,
                        &c.uids,
                        &c.values,
                        &c.salt,
                        c.version_key,
                    )
                })
                .await,
            )
        }
        "commit_timelocked_weights" => {
            let c: CommitTimelockedCall = parse_json(body)?;
            signed_by(&caller, &c.signer)?;
            let commit = hex::decode(c.commit.strip_prefix("0x").unwrap_or(&c.commit))
                .map_err(|_| error(400, ApiError::refusal("invalid_input", "commit must be hex")))?;
            answer(
                blocking(move || {
                    chain.commit_timelocked_weights_now(
                        &c.signer,
                        c.netuid,
                        c.mecid,
                        &commit,
                        c.reveal_round,
                        c.commit_reveal_version,
                    )
                })
                .await,
            )
        }
        "serve_axon" => {
            let c: ServeAxonCall = parse_json(body)?;
            signed_by(&caller, &c.signer)?;
            answer(blocking(move || chain.serve_axon_now(&c.signer, c.netuid, c.axon)).await)
        }
        "register" => {
            let c: RegisterCall = parse_json(body)?;
            signed_by(&caller, &c.signer)?;
            answer(blocking(move || chain.register_now(&c.hotkey, &c.signer, c.netuid)).await)
        }
        "add_stake" => {
            node.dev_enabled()?;
            let c: AddStakeCall = parse_json(body)?;
            signed_by(&caller, &c.signer)?;
            if c.amount_rao > node.dev.max_stake_rao {
                return Err(error(
                    400,
                    ApiError::refusal(
                        "invalid_input",
                        format!("add_stake mints at most {} rao per call on this node", node.dev.max_stake_rao),
                    ),
                ));
            }
            let now = u64::try_from(node.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
            if node.stake_rate.lock().unwrap_or_else(std::sync::PoisonError::into_inner).try_take(&(), now).is_err() {
                return Err(error(429, ApiError::refusal("rate_limited", "too many add_stake calls; slow down")));
            }
            answer(blocking(move || chain.add_stake(&c.signer, &c.hotkey, c.netuid, c.amount_rao)).await)
        }
        "create_subnet" => {
            let c: CreateSubnetCall = parse_json(body)?;
            signed_by(&caller, &c.signer)?;
            answer(
                blocking(move || {
                    let netuid = chain.create_subnet(&c.signer, c.owner_hotkey.as_ref())?;
                    if let Some(h) = c.hyperparams {
                        // Not atomic with the creation: on failure the subnet exists with the
                        // default hyperparameters, and the error says so.
                        chain.set_hyperparams(netuid, h).map_err(|e| match e {
                            ChainError::InvalidInput(m) => ChainError::InvalidInput(format!(
                                "subnet {netuid} created, hyperparameters refused: {m}"
                            )),
                            other => other,
                        })?;
                    }
                    Ok(CreatedSubnet { netuid })
                })
                .await,
            )
        }
        "set_hyperparams" => {
            let c: SetHyperparamsCall = parse_json(body)?;
            signed_by(&caller, &c.signer)?;
            let owner = node.chain.metagraph(c.netuid).await.map_err(|e| chain_error(&e))?.owner_coldkey;
            if owner != c.signer {
                return Err(error(
                    403,
                    ApiError::refusal("not_owner", format!("only the owner coldkey {owner} may set hyperparameters")),
                ));
            }
            answer(
                blocking(move || chain.set_hyperparams(c.netuid, c.hyperparams)).await.map(|()| serde_json::json!({})),
            )
        }
        other => error(404, ApiError::refusal("not_found", format!("no extrinsic named {other:?}"))),
    };
    Ok(response)
}

fn parse_hash(text: &str) -> Result<[u8; 32], Response> {
    let text = text.strip_prefix("0x").unwrap_or(text);
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out)
        .map_err(|_| error(400, ApiError::refusal("invalid_input", "hash must be 64 hex digits")))?;
    Ok(out)
}
