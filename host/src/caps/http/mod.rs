//! The `http` capability: outbound HTTP requests (WASI HTTP's `outgoing-handler`, served by
//! wasmtime-wasi-http) restricted to the hosts the operator allowed a subnet.
//!
//! Configured in `[subnet.capabilities]`:
//!
//! ```toml
//! outbound_hosts = ["https://api.example.com", "https://*.feeds.example.org", "http://127.0.0.1:8080"]
//! outbound = { max_requests = 8, max_response_bytes = "1MiB", timeout = "10s",
//!              max_requests_per_round = 32, max_bytes_per_round = "8MiB", time_per_round = "30s" }
//! ```
//!
//! Invariants:
//! - **Off by default.** A subnet without `outbound_hosts` links `wasi:http` like every other
//!   (so modules load on every host), but each request is refused before any I/O.
//! - **Only listed targets.** A rule is `scheme://host[:port]`: the scheme `http`, `https` or `*`;
//!   the host exact (a name or an IP literal; `[::1]` for IPv6) or `*.suffix` (subdomains of
//!   `suffix`, not `suffix` itself); the port a number, `*`, or absent for the scheme's
//!   default (80, 443). No paths. A bare `*` host is refused at config time: the list names hosts.
//! - **Names reach only public addresses.** A request to a *name* is resolved first and refused
//!   if any address it resolves to is loopback, private, link-local or otherwise not globally
//!   routable ([`crate::addr::check_target`]): an allowed public name cannot be pointed at
//!   the validator's own network by its DNS. Non-global targets (a test server on loopback, a
//!   service on the LAN) must be listed by IP literal. The check happens before connecting; the
//!   connection resolves again, so a DNS answer that changes in between is not caught (rebinding
//!   is bounded to names the operator listed).
//! - **Bounded.** Per call: at most `max_requests` requests (default 16); each response at
//!   most `max_response_bytes` (default 4 MiB; a larger `content-length` is refused before the
//!   body, a longer body fails when it passes the limit); connect, first byte and between
//!   bytes each at most `timeout` (default 10 s), and the whole call's deadline still applies.
//!   Per validator round (every call `run_round` makes, together): at most
//!   `max_requests_per_round` requests (default 64), `max_bytes_per_round` response bytes
//!   (default 32 MiB), and no request once `time_per_round` (default 60 s) has passed since the
//!   round's first one; a request in flight at that moment has its timeouts shortened to the
//!   time left and its body cut when it passes the round's deadline. A call made outside a
//!   round (a miner call, a tool's single call) has only the per-call bounds.
//!
//! Failure modes: every refusal reaches the guest as `error-code.internal-error` with a message
//! that names the rule (`outbound_hosts: ... is not allowed`, `outbound.max_requests: ...`,
//! `outbound.max_bytes_per_round: ...`), and
//! is logged at `warn` with the subnet; I/O failures are wasi-http's own error codes
//! (`connection-read-timeout` for a server that stalls). Counters per target host are kept per
//! subnet ([`OutboundPolicy::stats`]).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::{Body, Frame, SizeHint};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi_http::p2::bindings as wasi_http;
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttp, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks,
};

use super::{CallContext, CapConfigError, Capability, HasCaps, HostResources};

mod config;
mod rules;

pub use config::{
    DEFAULT_MAX_BYTES_PER_ROUND, DEFAULT_MAX_REQUESTS, DEFAULT_MAX_REQUESTS_PER_ROUND, DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIME_PER_ROUND, DEFAULT_TIMEOUT, HttpConfig, OutboundLimits, OutboundLimitsConfig,
};
pub use rules::HostRule;
use rules::default_port;

/// What one target host saw, for status and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct HostStats {
    /// Requests sent.
    pub requests: u64,
    /// Requests refused by the policy (not on the list, over a limit).
    pub refused: u64,
    /// Requests sent that failed (connect, timeout, body over the limit).
    pub failed: u64,
}

/// What the calls of one round have spent together.
#[derive(Debug, Default)]
struct RoundBudget {
    requests: AtomicU32,
    bytes: AtomicU64,
    /// When the round sent its first request.
    started: OnceLock<Instant>,
}

/// A subnet's outbound policy: its rules, its bounds and its counters; in a round, also that
/// round's budget ([`OutboundPolicy::for_round`]).
#[derive(Debug)]
pub struct OutboundPolicy {
    /// The allow-list.
    pub rules: Vec<HostRule>,
    /// The bounds.
    pub limits: OutboundLimits,
    /// Shared by the subnet's policy and every round's, so metrics see all requests.
    stats: Arc<Mutex<BTreeMap<String, HostStats>>>,
    /// `None` outside a round: only the per-call bounds apply.
    round: Option<Arc<RoundBudget>>,
}

impl OutboundPolicy {
    /// A policy allowing `rules` (each `scheme://host[:port]`) within `limits`.
    pub fn new(rules: &[&str], limits: OutboundLimits) -> Result<Arc<Self>, String> {
        let rules = rules.iter().map(|r| HostRule::parse(r)).collect::<Result<_, _>>()?;
        Ok(Arc::new(Self { rules, limits, stats: Arc::default(), round: None }))
    }

    /// The same policy for one round: its calls share a fresh per-round budget; counters stay
    /// the subnet's.
    pub fn for_round(&self) -> Arc<Self> {
        Arc::new(Self {
            rules: self.rules.clone(),
            limits: self.limits,
            stats: self.stats.clone(),
            round: Some(Arc::default()),
        })
    }

    /// Counters per target (`scheme://host:port`).
    pub fn stats(&self) -> BTreeMap<String, HostStats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn count(&self, target: &str, change: impl FnOnce(&mut HostStats)) {
        let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        change(stats.entry(target.to_owned()).or_default());
    }

    fn allowed_list(&self) -> String {
        self.rules.iter().map(|r| r.text.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// When the round's outbound time ends (`None` outside a round or before its first
    /// request).
    fn round_deadline(&self) -> Option<Instant> {
        let started = self.round.as_ref()?.started.get()?;
        Some(*started + self.limits.time_per_round)
    }

    /// Takes one request from the round's budget, or says which per-round rule refuses it.
    fn admit_in_round(&self, target: &str) -> Result<(), String> {
        let Some(round) = &self.round else { return Ok(()) };
        let limits = &self.limits;
        let started = *round.started.get_or_init(Instant::now);
        if started.elapsed() >= limits.time_per_round {
            return Err(format!(
                "outbound.time_per_round: {target} refused: this round's first request was {:.1?} ago, the limit is {:?}",
                started.elapsed(),
                limits.time_per_round
            ));
        }
        let received = round.bytes.load(Ordering::Relaxed);
        if received >= limits.max_bytes_per_round {
            return Err(format!(
                "outbound.max_bytes_per_round: {target} refused: this round already received {received} bytes, the limit is {}",
                limits.max_bytes_per_round
            ));
        }
        let made = round.requests.fetch_add(1, Ordering::Relaxed);
        if made >= limits.max_requests_per_round {
            round.requests.fetch_sub(1, Ordering::Relaxed);
            return Err(format!(
                "outbound.max_requests_per_round: {target} refused: this round already made {made} requests, the limit"
            ));
        }
        Ok(())
    }
}

/// The per-instance hooks wasi-http calls: the policy check and the bounded send.
pub struct OutboundHooks {
    policy: Option<Arc<OutboundPolicy>>,
    subnet: Arc<str>,
    made: u32,
}

/// Per-instance state: wasi-http's context and the hooks.
pub struct HttpState {
    ctx: WasiHttpCtx,
    hooks: OutboundHooks,
}

impl HttpState {
    /// State of one call under `policy` (`None`: every request refused).
    pub fn new(policy: Option<Arc<OutboundPolicy>>, subnet: Arc<str>) -> Self {
        Self { ctx: WasiHttpCtx::new(), hooks: OutboundHooks { policy, subnet, made: 0 } }
    }

    /// The view wasi-http's host traits are implemented on; `table` is the store's WASI table
    /// (request and response bodies are `wasi:io` streams in it).
    pub fn view<'a>(&'a mut self, table: &'a mut ResourceTable) -> WasiHttpCtxView<'a> {
        WasiHttpCtxView { ctx: &mut self.ctx, table, hooks: &mut self.hooks }
    }
}

fn refused(message: String) -> HttpError {
    HttpError::InternalError(Some(message))
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (http::Response<WasiBody>, Box<dyn Future<Output = Result<(), HttpError>> + Send>),
                HttpError,
            >,
        > + Send,
>;

/// A request the policy let through: what it is checked and counted under afterwards.
struct Admitted {
    policy: Arc<OutboundPolicy>,
    /// `scheme://host:port`, the counters' key.
    target: String,
    rule: HostRule,
    host: String,
    port: u16,
}

impl OutboundHooks {
    /// The policy decision for one request: the target and the rule that allows it.
    fn admit(&mut self, uri: &http::Uri) -> Result<Admitted, String> {
        let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
        let host = uri.host().unwrap_or("").to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or_else(|| default_port(&scheme));
        let target = format!("{scheme}://{host}:{port}");
        let Some(policy) = self.policy.clone() else {
            return Err(format!(
                "outbound_hosts: {target} refused: this subnet may make no outbound requests (outbound_hosts is empty)"
            ));
        };
        let Some(rule) = policy.rules.iter().find(|r| r.matches(&scheme, &host, port)).cloned() else {
            policy.count(&target, |s| s.refused += 1);
            return Err(format!("outbound_hosts: {target} is not allowed (allowed: {})", policy.allowed_list()));
        };
        if self.made >= policy.limits.max_requests {
            policy.count(&target, |s| s.refused += 1);
            return Err(format!(
                "outbound.max_requests: {target} refused: this call already made {} requests, the limit",
                self.made
            ));
        }
        if let Err(message) = policy.admit_in_round(&target) {
            policy.count(&target, |s| s.refused += 1);
            return Err(message);
        }
        self.made += 1;
        Ok(Admitted { policy, target, rule, host, port })
    }
}

/// Refuses a name that resolves to a non-global address (see the module docs).
async fn check_resolved(host: &str, port: u16, rule: &HostRule) -> Result<(), String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return Ok(()); // an IP literal the operator listed: reached as listed
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|e| format!("outbound_hosts: cannot resolve {host}: {e}"))?
        .collect();
    for addr in addrs {
        if let Err(e) = crate::addr::check_target(addr, false) {
            return Err(format!(
                "outbound_hosts: {host} (allowed by `{}`) resolves to the {} address {}; names reach only public \
                 addresses, list non-global targets by IP literal",
                rule.text, e.class, addr
            ));
        }
    }
    Ok(())
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        drop(fut);
        let subnet = self.subnet.clone();
        let decision = self.admit(request.uri());
        Box::new(async move {
            let Admitted { policy, target, rule, host, port } = decision.map_err(|message| {
                tracing::warn!(subnet = %subnet, "{message}");
                refused(message)
            })?;
            if let Err(message) = check_resolved(&host, port, &rule).await {
                policy.count(&target, |s| s.refused += 1);
                tracing::warn!(subnet = %subnet, "{message}");
                return Err(refused(message));
            }
            let limits = policy.limits;
            let deadline = policy.round_deadline();
            // Within a round, no wait runs past the round's outbound deadline.
            let bound = deadline.map_or(limits.timeout, |d| {
                limits.timeout.min(d.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)))
            });
            let cap = |t: Option<Duration>| Some(t.map_or(bound, |t| t.min(bound)));
            let options = RequestOptions {
                connect_timeout: cap(options.and_then(|o| o.connect_timeout)),
                first_byte_timeout: cap(options.and_then(|o| o.first_byte_timeout)),
                between_bytes_timeout: cap(options.and_then(|o| o.between_bytes_timeout)),
            };
            policy.count(&target, |s| s.requests += 1);
            tracing::debug!(subnet = %subnet, %target, rule = %rule.text, "outbound request");
            let sent = tokio::time::timeout(
                // Connect + first byte, each bounded above; this bounds the pair.
                bound.saturating_mul(2),
                wasmtime_wasi_http::default_send_request(request, Some(options)),
            )
            .await
            .unwrap_or(Err(HttpError::ConnectionReadTimeout));
            let (response, io) = sent.inspect_err(|e| {
                policy.count(&target, |s| s.failed += 1);
                tracing::warn!(subnet = %subnet, %target, "outbound request failed: {e}");
            })?;
            let declared =
                response.headers().get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
            if declared.is_some_and(|n| n > limits.max_response_bytes) {
                policy.count(&target, |s| s.failed += 1);
                let message = format!(
                    "outbound.max_response_bytes: {target} announced {} bytes, the limit is {}",
                    declared.unwrap_or(0),
                    limits.max_response_bytes
                );
                tracing::warn!(subnet = %subnet, "{message}");
                return Err(refused(message));
            }
            let response = response.map(|body| {
                use http_body_util::BodyExt;
                LimitedBody { inner: body.boxed_unsync(), left: limits.max_response_bytes, deadline, policy, target }
                    .boxed_unsync()
            });
            Ok((response, Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

/// A response body that fails once it passes its byte limit, its round's byte budget or its
/// round's deadline.
struct LimitedBody {
    inner: WasiBody,
    left: u64,
    deadline: Option<Instant>,
    policy: Arc<OutboundPolicy>,
    target: String,
}

impl LimitedBody {
    /// Takes `len` bytes from the response's and the round's budgets, or says which rule cuts.
    fn take(&mut self, len: u64) -> Result<(), HttpError> {
        let limits = self.policy.limits;
        if len > self.left {
            tracing::warn!(target = %self.target, "outbound response over {} bytes: cut", limits.max_response_bytes);
            return Err(HttpError::HttpResponseBodySize(Some(limits.max_response_bytes)));
        }
        self.left -= len;
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(self.cut(format!(
                "outbound.time_per_round: {} cut: the round's outbound time ({:?}) ended during the body",
                self.target, limits.time_per_round
            )));
        }
        if let Some(round) = &self.policy.round {
            let total = round.bytes.fetch_add(len, Ordering::Relaxed) + len;
            if total > limits.max_bytes_per_round {
                return Err(self.cut(format!(
                    "outbound.max_bytes_per_round: {} cut: this round's responses passed {} bytes",
                    self.target, limits.max_bytes_per_round
                )));
            }
        }
        Ok(())
    }

    fn cut(&self, message: String) -> HttpError {
        tracing::warn!("{message}");
        refused(message)
    }
}

impl Body for LimitedBody {
    type Data = bytes::Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other,
        };
        if let Some(data) = frame.data_ref() {
            let len = data.len() as u64;
            if let Err(e) = self.take(len) {
                self.policy.count(&self.target, |s| s.failed += 1);
                return Poll::Ready(Some(Err(e)));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The capability. See the module docs.
pub struct Http;

impl Capability for Http {
    const KEYS: &'static [&'static str] = &["outbound_hosts", "outbound"];
    type Config = HttpConfig;
    type Subnet = Option<Arc<OutboundPolicy>>;
    type Instance = HttpState;

    fn check(config: &HttpConfig) -> Result<(), CapConfigError> {
        for (i, rule) in config.outbound_hosts.iter().enumerate() {
            HostRule::parse(rule).map_err(|e| CapConfigError::new(format!("outbound_hosts[{i}]"), e))?;
        }
        config.outbound.parse().map(|_| ())
    }

    fn subnet(config: &HttpConfig, _: &HostResources<'_>) -> Result<Self::Subnet, CapConfigError> {
        if config.outbound_hosts.is_empty() {
            return Ok(None);
        }
        let rules: Vec<&str> = config.outbound_hosts.iter().map(String::as_str).collect();
        OutboundPolicy::new(&rules, config.outbound.parse()?)
            .map(Some)
            .map_err(|e| CapConfigError::new("outbound_hosts", e))
    }

    fn instance(subnet: &Self::Subnet, call: &CallContext<'_>) -> HttpState {
        HttpState::new(subnet.clone(), call.subnet.clone())
    }

    /// Nothing here: wasi-http's resources live in the store's WASI table, which `get` does not
    /// reach; [`link`] registers the interfaces through [`HasCaps::caps_and_table`].
    fn add_to_linker<T: Send + 'static>(_: &mut Linker<T>, _: fn(&mut T) -> &mut HttpState) -> wasmtime::Result<()> {
        Ok(())
    }
}

/// Registers `wasi:http/outgoing-handler` and `wasi:http/types` (WASI's `io` and `clocks`,
/// which they use, are the runtime's to add).
pub fn link<T: HasCaps + Send + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    fn view<T: HasCaps>(t: &mut T) -> WasiHttpCtxView<'_> {
        let (caps, table) = t.caps_and_table();
        caps.http.view(table)
    }
    let options = wasi_http::LinkOptions::default();
    wasi_http::http::outgoing_handler::add_to_linker::<T, WasiHttp>(linker, view::<T>)?;
    wasi_http::http::types::add_to_linker::<T, WasiHttp>(linker, &options.into(), view::<T>)?;
    Ok(())
}
