//! The `http` capability: outbound HTTP requests (WASI HTTP's `outgoing-handler`, served by
//! wasmtime-wasi-http) restricted to the hosts the operator allowed a subnet.
//!
//! Configured in `[subnet.capabilities]`:
//!
//! ```toml
//! outbound_hosts = ["https://api.example.com", "https://*.feeds.example.org", "http://127.0.0.1:8080"]
//! outbound = { max_requests = 8, max_response_bytes = "1MiB", timeout = "10s" }
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
//!
//! Failure modes: every refusal reaches the guest as `error-code.internal-error` with a message
//! that names the rule (`outbound_hosts: ... is not allowed`, `outbound.max_requests: ...`), and
//! is logged at `warn` with the subnet; I/O failures are wasi-http's own error codes
//! (`connection-read-timeout` for a server that stalls). Counters per target host are kept per
//! subnet ([`OutboundPolicy::stats`]).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Frame, SizeHint};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi_http::p2::bindings as wasi_http;
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttp, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks,
};

use super::{CallContext, CapConfigError, Capability, HasCaps, HostResources};

/// Requests one call may make when `outbound.max_requests` is not set.
pub const DEFAULT_MAX_REQUESTS: u32 = 16;
/// Bytes of one response body when `outbound.max_response_bytes` is not set.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 4 << 20;
/// Connect / first-byte / between-bytes limit when `outbound.timeout` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// `[subnet.capabilities] outbound_hosts` and `outbound`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// The allow-list; empty: no outbound requests.
    #[serde(default)]
    pub outbound_hosts: Vec<String>,
    /// Bounds on requests.
    #[serde(default)]
    pub outbound: OutboundLimitsConfig,
}

/// `[subnet.capabilities.outbound]`, as written.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundLimitsConfig {
    /// Requests per call.
    pub max_requests: Option<u32>,
    /// Bytes per response body (`"1MiB"` or a number).
    pub max_response_bytes: Option<toml::Value>,
    /// Connect, first byte and between bytes (`"5s"`).
    pub timeout: Option<String>,
}

/// Checked bounds on outbound requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundLimits {
    /// Requests per call.
    pub max_requests: u32,
    /// Bytes per response body.
    pub max_response_bytes: u64,
    /// Connect, first byte, between bytes, and sending the request until its response head.
    pub timeout: Duration,
}

impl Default for OutboundLimits {
    fn default() -> Self {
        Self {
            max_requests: DEFAULT_MAX_REQUESTS,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl OutboundLimitsConfig {
    fn parse(&self) -> Result<OutboundLimits, CapConfigError> {
        let mut limits = OutboundLimits::default();
        if let Some(n) = self.max_requests {
            if n == 0 {
                return Err(CapConfigError::new("outbound.max_requests", "must be at least 1"));
            }
            limits.max_requests = n;
        }
        if let Some(v) = &self.max_response_bytes {
            limits.max_response_bytes = match v {
                toml::Value::Integer(n) if *n > 0 => *n as u64,
                toml::Value::String(s) => {
                    crate::units::parse_size(s).map_err(|e| CapConfigError::new("outbound.max_response_bytes", e))?
                }
                _ => {
                    return Err(CapConfigError::new(
                        "outbound.max_response_bytes",
                        "expected a positive number of bytes or a size string like \"1MiB\"",
                    ));
                }
            };
        }
        if let Some(t) = &self.timeout {
            limits.timeout = crate::units::parse_duration(t).map_err(|e| CapConfigError::new("outbound.timeout", e))?;
            if limits.timeout.is_zero() {
                return Err(CapConfigError::new("outbound.timeout", "must be above 0"));
            }
        }
        Ok(limits)
    }
}

/// Which hosts a rule matches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// Exactly this host (lowercase; IPv6 literals in brackets).
    Exact(String),
    /// Any host ending in `.suffix`.
    Subdomains(String),
}

/// One parsed `outbound_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRule {
    /// The entry as written, for messages.
    pub text: String,
    /// `None`: http and https.
    scheme: Option<&'static str>,
    host: HostPattern,
    /// `None`: any port; `Some(0)`: the scheme's default.
    port: Option<u16>,
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

impl HostRule {
    /// Parses `scheme://host[:port]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("`{text}`: expected scheme://host[:port], e.g. \"https://api.example.com\""))?;
        let scheme = match scheme {
            "http" => Some("http"),
            "https" => Some("https"),
            "*" => None,
            other => return Err(format!("`{text}`: scheme `{other}` is not http, https or *")),
        };
        if rest.contains(['/', '?', '#', '@']) {
            return Err(format!("`{text}`: only scheme://host[:port], no path, query or user"));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (addr, after) =
                v6.split_once(']').ok_or_else(|| format!("`{text}`: unclosed `[` of an IPv6 literal"))?;
            addr.parse::<std::net::Ipv6Addr>().map_err(|_| format!("`{text}`: `{addr}` is not an IPv6 address"))?;
            (format!("[{addr}]"), after.strip_prefix(':'))
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (rest.to_owned(), None),
            }
        };
        let port = match port {
            None => Some(0),
            Some("*") => None,
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|&p| p != 0)
                    .ok_or_else(|| format!("`{text}`: port `{p}` is not a number in 1..=65535 or *"))?,
            ),
        };
        let host = host.to_ascii_lowercase();
        let host = if let Some(suffix) = host.strip_prefix("*.") {
            HostPattern::Subdomains(suffix.to_owned())
        } else {
            HostPattern::Exact(host)
        };
        let name = match &host {
            HostPattern::Exact(h) | HostPattern::Subdomains(h) => h,
        };
        if name.is_empty() || name.contains('*') {
            return Err(format!("`{text}`: name a host (`*` only as a leading `*.` of a domain)"));
        }
        Ok(Self { text: text.to_owned(), scheme, host, port })
    }

    fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        let scheme_ok = self.scheme.is_none_or(|s| s == scheme);
        let port_ok = match self.port {
            None => true,
            Some(0) => port == default_port(scheme),
            Some(p) => p == port,
        };
        let host_ok = match &self.host {
            HostPattern::Exact(h) => h == host,
            HostPattern::Subdomains(s) => host.strip_suffix(s.as_str()).is_some_and(|head| head.ends_with('.')),
        };
        scheme_ok && port_ok && host_ok
    }
}

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

/// A subnet's outbound policy: its rules, its bounds and its counters.
#[derive(Debug)]
pub struct OutboundPolicy {
    /// The allow-list.
    pub rules: Vec<HostRule>,
    /// The bounds.
    pub limits: OutboundLimits,
    stats: Mutex<BTreeMap<String, HostStats>>,
}

impl OutboundPolicy {
    /// A policy allowing `rules` (each `scheme://host[:port]`) within `limits`.
    pub fn new(rules: &[&str], limits: OutboundLimits) -> Result<Arc<Self>, String> {
        let rules = rules.iter().map(|r| HostRule::parse(r)).collect::<Result<_, _>>()?;
        Ok(Arc::new(Self { rules, limits, stats: Mutex::default() }))
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

impl OutboundHooks {
    /// The policy decision for one request: the target and the rule that allows it.
    fn admit(&mut self, uri: &http::Uri) -> Result<(Arc<OutboundPolicy>, String, HostRule), String> {
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
        self.made += 1;
        Ok((policy, target, rule))
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
            let (policy, target, rule) = decision.map_err(|message| {
                tracing::warn!(subnet = %subnet, "{message}");
                refused(message)
            })?;
            let uri = request.uri().clone();
            let (host, port) = (uri.host().unwrap_or(""), uri.port_u16());
            let port = port.unwrap_or_else(|| default_port(uri.scheme_str().unwrap_or("https")));
            if let Err(message) = check_resolved(host, port, &rule).await {
                policy.count(&target, |s| s.refused += 1);
                tracing::warn!(subnet = %subnet, "{message}");
                return Err(refused(message));
            }
            let limits = policy.limits;
            let cap = |t: Option<Duration>| Some(t.map_or(limits.timeout, |t| t.min(limits.timeout)));
            let options = RequestOptions {
                connect_timeout: cap(options.and_then(|o| o.connect_timeout)),
                first_byte_timeout: cap(options.and_then(|o| o.first_byte_timeout)),
                between_bytes_timeout: cap(options.and_then(|o| o.between_bytes_timeout)),
            };
            policy.count(&target, |s| s.requests += 1);
            tracing::debug!(subnet = %subnet, %target, rule = %rule.text, "outbound request");
            let sent = tokio::time::timeout(
                // Connect + first byte, each bounded above; this bounds the pair.
                limits.timeout.saturating_mul(2),
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
                LimitedBody { inner: body.boxed_unsync(), left: limits.max_response_bytes, policy, target }
                    .boxed_unsync()
            });
            Ok((response, Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

/// A response body that fails once it passes its byte limit.
struct LimitedBody {
    inner: WasiBody,
    left: u64,
    policy: Arc<OutboundPolicy>,
    target: String,
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
            if len > self.left {
                let limit = self.policy.limits.max_response_bytes;
                self.policy.count(&self.target, |s| s.failed += 1);
                tracing::warn!(target = %self.target, "outbound response over {limit} bytes: cut");
                return Poll::Ready(Some(Err(HttpError::HttpResponseBodySize(Some(limit)))));
            }
            self.left -= len;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> HostRule {
        HostRule::parse(text).unwrap()
    }

    #[test]
    fn rules_match_scheme_host_and_port() {
        let r = rule("https://api.example.com");
        assert!(r.matches("https", "api.example.com", 443));
        assert!(!r.matches("http", "api.example.com", 80));
        assert!(!r.matches("https", "api.example.com", 8443));
        assert!(!r.matches("https", "evil-api.example.com", 443));
        let r = rule("*://*.example.org:*");
        assert!(r.matches("http", "a.b.example.org", 1234));
        assert!(!r.matches("https", "example.org", 443));
        assert!(!r.matches("https", "badexample.org", 443));
        let r = rule("http://[::1]:8080");
        assert!(r.matches("http", "[::1]", 8080));
        assert!(rule("HTTP://API.example.com:80".replace("HTTP", "http").as_str()).matches(
            "http",
            "api.example.com",
            80
        ));
    }

    #[test]
    fn bad_rules_say_what_is_expected() {
        for (text, needle) in [
            ("api.example.com", "expected scheme://host"),
            ("ftp://x", "scheme `ftp`"),
            ("https://x/path", "no path"),
            ("https://*", "name a host"),
            ("https://x:0", "port `0`"),
            ("https://a.*.com", "name a host"),
        ] {
            let e = HostRule::parse(text).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn limits_parse_and_refuse_zero() {
        let c = OutboundLimitsConfig {
            max_requests: Some(3),
            max_response_bytes: Some(toml::Value::String("1KiB".into())),
            timeout: Some("250ms".into()),
        };
        let l = c.parse().unwrap();
        assert_eq!((l.max_requests, l.max_response_bytes, l.timeout), (3, 1024, Duration::from_millis(250)));
        let c = OutboundLimitsConfig { max_requests: Some(0), ..Default::default() };
        assert_eq!(c.parse().unwrap_err().field, "outbound.max_requests");
    }
}
