//! `btauth/1`: hotkey-signed HTTP requests, wire-compatible with bittensor 11's
//! `bittensor.http_auth` (read from the SDK's source, version 11.3.0).
//!
//! # Wire format
//! Headers (names are case-insensitive on input; these spellings on output):
//! - `X-Bittensor-Version`: `1`
//! - `X-Bittensor-Hotkey`: the sender's SS58 address
//! - `X-Bittensor-Nonce`: the signing time, decimal nanoseconds since the Unix epoch
//! - `X-Bittensor-Signature`: `0x` + lowercase hex of the 64-byte signature
//! - `X-Bittensor-Crypto`: `ed25519`; sent only for non-default schemes (absent means sr25519)
//! - `X-Bittensor-Receiver`: the receiving hotkey's SS58 address; absent for unbound requests
//!
//! The signed bytes ([`build_payload`]) are eight UTF-8 lines joined by `\n` (no trailing newline):
//! `btauth/1`, the scheme name (`sr25519`/`ed25519`), the uppercase method, the request target
//! exactly as sent (path plus `?query`), the lowercase hex sha256 of the raw body, the nonce in
//! decimal, the sender's SS58 text as sent, and the receiver's SS58 text or `-`.
//!
//! # Verification invariants
//! - Checks run cheapest first, as the SDK orders them: header shape, receiver binding, freshness
//!   (nonce at most `max_age` old, at most `allowed_skew` ahead; both bounds inclusive; defaults
//!   10 s and 2 s), then the signature under the declared scheme only (never try-both), then replay.
//!   [`Verifier::check_headers`] does everything before the body is needed, so a server can refuse
//!   garbage before reading a large body; [`Verifier::complete`] does the signature and replay part.
//! - The replay cache is written only after the signature verifies, so unauthenticated traffic
//!   cannot poison it against a legitimate sender.
//! - No replay is ever accepted. Entries are keyed by (sender, nonce) and expire by *nonce time*:
//!   once a nonce is older than the window it is refused as stale anyway. Memory is bounded by
//!   [`VerifierConfig::replay_capacity`]; when a flood of valid requests fills it, the entry with
//!   the oldest nonce is evicted and the cache's horizon rises past it, so older nonces are refused
//!   ([`AuthError::BelowReplayHorizon`]) rather than risking a replay. Entries that expire move
//!   the horizon the same way, so a wall clock stepping backwards cannot readmit them. The horizon
//!   never moves back, and never past a nonce that was actually accepted.
//! - Error messages never echo the signature or payload; they are safe to return to the caller.
//!
//! # Deliberate differences from the SDK (only for inputs the SDK's own `sign` never produces)
//! - A repeated auth header is refused ([`AuthError::DuplicateHeader`]); the SDK keeps the last.
//! - Nonces are parsed like Python's `int()` for ASCII text (surrounding whitespace, a sign,
//!   single `_` between digits) but not for non-ASCII digits; negative nonces are stale and ones
//!   beyond `u64` are in the future, as the SDK's comparisons would find.
//! - ed25519 signatures are verified strictly (RFC 8032 with canonical, non-small-order points),
//!   which refuses some malleated signatures the SDK's backend may accept.
//! - The replay cache is per [`Verifier`] and bounded; the SDK's default store is per process,
//!   unbounded, and keeps entries for 60 s after arrival.
//!
//! # Failure modes
//! Every rejection is an [`AuthError`] with a stable [`AuthError::reason`] code, an HTTP status
//! hint ([`AuthError::status`]) and the SDK exception class it corresponds to
//! ([`AuthError::sdk_class`]). Nothing here panics on network input.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};

use crate::{AccountId, CryptoType, Keypair};

/// The protocol line that starts every signed payload.
pub const PROTOCOL: &str = "btauth/1";
/// The value of [`HEADER_VERSION`].
pub const VERSION: &str = "1";
/// Protocol version header.
pub const HEADER_VERSION: &str = "X-Bittensor-Version";
/// Sender hotkey (SS58) header.
pub const HEADER_HOTKEY: &str = "X-Bittensor-Hotkey";
/// Receiver hotkey (SS58) header; absent for unbound requests.
pub const HEADER_RECEIVER: &str = "X-Bittensor-Receiver";
/// Nonce header (nanoseconds since the Unix epoch, decimal).
pub const HEADER_NONCE: &str = "X-Bittensor-Nonce";
/// Signature scheme header; absent means sr25519.
pub const HEADER_CRYPTO: &str = "X-Bittensor-Crypto";
/// Signature header (`0x` + hex).
pub const HEADER_SIGNATURE: &str = "X-Bittensor-Signature";

/// How old a nonce may be (the SDK's `DEFAULT_MAX_AGE`, 10 s).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(10);
/// How far ahead of the verifier's clock a nonce may be (the SDK's `DEFAULT_ALLOWED_SKEW`, 2 s).
pub const DEFAULT_ALLOWED_SKEW: Duration = Duration::from_secs(2);
/// Default bound on remembered (sender, nonce) pairs: about 45 000 verified requests per second
/// sustained over the default 12 s window, in at most ~25 MiB.
pub const DEFAULT_REPLAY_CAPACITY: usize = 1 << 19;

/// The receiver line for a request not bound to a receiver.
const NO_RECEIVER: &str = "-";

/// Why a request failed authentication.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A required auth header is absent.
    #[error("missing {header} header")]
    MissingHeader {
        /// The header's canonical name.
        header: &'static str,
    },
    /// An auth header appears more than once.
    #[error("{header} header given more than once")]
    DuplicateHeader {
        /// The header's canonical name.
        header: &'static str,
    },
    /// `X-Bittensor-Version` is not `1`.
    #[error("unsupported {HEADER_VERSION} (expected {VERSION:?})")]
    UnsupportedVersion,
    /// The sender hotkey is not a valid SS58 address of a 32-byte account.
    #[error("{HEADER_HOTKEY} is not a valid SS58 address")]
    MalformedHotkey,
    /// The nonce is not a decimal integer.
    #[error("{HEADER_NONCE} is not a decimal integer")]
    MalformedNonce,
    /// The crypto header names an unsupported scheme.
    #[error("unsupported {HEADER_CRYPTO} (expected sr25519 or ed25519)")]
    UnsupportedCrypto,
    /// The signature is not hex, or not 64 bytes.
    #[error("{HEADER_SIGNATURE} is not a 64-byte hex signature")]
    MalformedSignature,
    /// A header value is not valid UTF-8 text.
    #[error("{header} header is not valid text")]
    NonTextHeader {
        /// The header's canonical name.
        header: &'static str,
    },
    /// The request is not bound to a receiver and the verifier requires one.
    #[error("missing {HEADER_RECEIVER}: this server requires receiver-bound requests")]
    MissingReceiver,
    /// The request was signed for a different receiving hotkey.
    #[error("request was signed for a different receiving hotkey")]
    WrongReceiver,
    /// The nonce is older than the freshness window.
    #[error("nonce is older than the {max_age:?} freshness window")]
    StaleNonce {
        /// The window.
        max_age: Duration,
    },
    /// The nonce is further in the future than the allowed clock skew.
    #[error("nonce is more than {allowed_skew:?} in the future")]
    FutureNonce {
        /// The allowed skew.
        allowed_skew: Duration,
    },
    /// The nonce is older than what the replay cache can still vouch for (the cache overflowed
    /// or the clock stepped back); a fresh nonce will be accepted.
    #[error("nonce is older than the replay cache's horizon; retry with a fresh nonce")]
    BelowReplayHorizon,
    /// The signature does not verify against the claimed hotkey.
    #[error("signature does not verify against the claimed hotkey")]
    BadSignature,
    /// This (hotkey, nonce) pair was already accepted.
    #[error("this nonce was already accepted from this hotkey")]
    ReplayedNonce,
}

impl AuthError {
    /// A short stable code for response bodies and metrics (`"bad_signature"`, ...).
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::MissingHeader { .. } => "missing_header",
            AuthError::DuplicateHeader { .. } => "duplicate_header",
            AuthError::UnsupportedVersion => "unsupported_version",
            AuthError::MalformedHotkey => "malformed_hotkey",
            AuthError::MalformedNonce => "malformed_nonce",
            AuthError::UnsupportedCrypto => "unsupported_crypto",
            AuthError::MalformedSignature => "malformed_signature",
            AuthError::NonTextHeader { .. } => "non_text_header",
            AuthError::MissingReceiver => "missing_receiver",
            AuthError::WrongReceiver => "wrong_receiver",
            AuthError::StaleNonce { .. } => "stale_nonce",
            AuthError::FutureNonce { .. } => "future_nonce",
            AuthError::BelowReplayHorizon => "replay_horizon",
            AuthError::BadSignature => "bad_signature",
            AuthError::ReplayedNonce => "replayed_nonce",
        }
    }

    /// The HTTP status to answer with: 400 for requests whose auth headers cannot be parsed,
    /// 401 for requests that are well-formed but not (or no longer) authentic.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::DuplicateHeader { .. }
            | AuthError::UnsupportedVersion
            | AuthError::MalformedHotkey
            | AuthError::MalformedNonce
            | AuthError::UnsupportedCrypto
            | AuthError::MalformedSignature
            | AuthError::NonTextHeader { .. } => 400,
            AuthError::MissingHeader { .. }
            | AuthError::MissingReceiver
            | AuthError::WrongReceiver
            | AuthError::StaleNonce { .. }
            | AuthError::FutureNonce { .. }
            | AuthError::BelowReplayHorizon
            | AuthError::BadSignature
            | AuthError::ReplayedNonce => 401,
        }
    }

    /// The `bittensor.http_auth` exception class the SDK raises for the same request
    /// (`MalformedAuth`, `WrongReceiver`, `StaleRequest`, `BadSignature`, `ReplayedRequest`).
    pub fn sdk_class(&self) -> &'static str {
        match self {
            AuthError::MissingHeader { .. }
            | AuthError::DuplicateHeader { .. }
            | AuthError::UnsupportedVersion
            | AuthError::MalformedHotkey
            | AuthError::MalformedNonce
            | AuthError::UnsupportedCrypto
            | AuthError::MalformedSignature
            | AuthError::NonTextHeader { .. } => "MalformedAuth",
            AuthError::MissingReceiver | AuthError::WrongReceiver => "WrongReceiver",
            AuthError::StaleNonce { .. } | AuthError::FutureNonce { .. } | AuthError::BelowReplayHorizon => {
                "StaleRequest"
            }
            AuthError::BadSignature => "BadSignature",
            AuthError::ReplayedNonce => "ReplayedRequest",
        }
    }
}

/// The authenticated sender of a verified request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The sender's hotkey.
    pub hotkey: AccountId,
    /// The scheme it signed with.
    pub crypto: CryptoType,
    /// The request's nonce (nanoseconds since the Unix epoch).
    pub nonce: u64,
}

/// One header as a name and a value, so any HTTP library's header list can be passed without
/// this crate depending on it: `(K, V)` and `&(K, V)` for `K: AsRef<str>`, `V: AsRef<[u8]>`
/// cover `Vec<(String, String)>`, `&[(&str, &str)]` and `http::HeaderMap::iter()`.
pub trait HeaderPair {
    /// The header name (compared case-insensitively).
    fn name(&self) -> &str;
    /// The raw value.
    fn value(&self) -> &[u8];
}

impl<K: AsRef<str>, V: AsRef<[u8]>> HeaderPair for (K, V) {
    fn name(&self) -> &str {
        self.0.as_ref()
    }
    fn value(&self) -> &[u8] {
        self.1.as_ref()
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>> HeaderPair for &(K, V) {
    fn name(&self) -> &str {
        self.0.as_ref()
    }
    fn value(&self) -> &[u8] {
        self.1.as_ref()
    }
}

/// The current time in nanoseconds since the Unix epoch (0 if the clock is before 1970).
pub fn unix_time_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// A nonce for a new request: the current time in nanoseconds, but strictly greater than every
/// nonce this function returned before in this process, so two requests signed in the same
/// clock tick (or across a backwards clock step) never share a nonce and get refused as a replay.
pub fn fresh_nonce() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = unix_time_ns();
    let mut prev = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(prev.saturating_add(1));
        match LAST.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(actual) => prev = actual,
        }
    }
}

/// The exact bytes that are signed (the SDK's `build_payload`), from the body.
pub fn build_payload(
    crypto: CryptoType,
    method: &str,
    path: &str,
    body: &[u8],
    nonce_ns: u64,
    sender_ss58: &str,
    receiver_ss58: Option<&str>,
) -> Vec<u8> {
    build_payload_prehashed(crypto, method, path, &Sha256::digest(body).into(), nonce_ns, sender_ss58, receiver_ss58)
}

/// [`build_payload`] from the body's sha256 digest (for callers that send one body to many
/// receivers and hash it once).
pub fn build_payload_prehashed(
    crypto: CryptoType,
    method: &str,
    path: &str,
    body_sha256: &[u8; 32],
    nonce_ns: u64,
    sender_ss58: &str,
    receiver_ss58: Option<&str>,
) -> Vec<u8> {
    // The SDK writes `receiver or "-"`, so an empty receiver is unbound too.
    let receiver = receiver_ss58.filter(|r| !r.is_empty()).unwrap_or(NO_RECEIVER);
    let method = method.to_uppercase();
    let nonce = nonce_ns.to_string();
    let digest = hex::encode(body_sha256);
    let lines: [&str; 8] = [PROTOCOL, crypto.name(), &method, path, &digest, &nonce, sender_ss58, receiver];
    lines.join("\n").into_bytes()
}

/// Signs a request; returns the auth headers to send with it (the SDK's `http_auth.sign`).
///
/// `path` must be the request target exactly as the client sends it, query string included.
/// `nonce_ns` must be fresh for every request, retries included (see [`fresh_nonce`]).
pub fn sign_request(
    keypair: &Keypair,
    method: &str,
    path: &str,
    body: &[u8],
    receiver: Option<&AccountId>,
    nonce_ns: u64,
) -> Vec<(String, String)> {
    sign_request_prehashed(keypair, method, path, &Sha256::digest(body).into(), receiver, nonce_ns)
}

/// [`sign_request`] from the body's sha256 digest.
pub fn sign_request_prehashed(
    keypair: &Keypair,
    method: &str,
    path: &str,
    body_sha256: &[u8; 32],
    receiver: Option<&AccountId>,
    nonce_ns: u64,
) -> Vec<(String, String)> {
    let crypto = keypair.crypto_type();
    let sender = keypair.ss58_address();
    let receiver = receiver.map(AccountId::to_ss58);
    let payload = build_payload_prehashed(crypto, method, path, body_sha256, nonce_ns, &sender, receiver.as_deref());
    let signature = keypair.sign(&payload);
    let mut headers = vec![
        (HEADER_VERSION.to_string(), VERSION.to_string()),
        (HEADER_HOTKEY.to_string(), sender),
        (HEADER_NONCE.to_string(), nonce_ns.to_string()),
        (HEADER_SIGNATURE.to_string(), format!("0x{}", hex::encode(signature))),
    ];
    if crypto != CryptoType::Sr25519 {
        headers.push((HEADER_CRYPTO.to_string(), crypto.name().to_string()));
    }
    if let Some(receiver) = receiver {
        headers.push((HEADER_RECEIVER.to_string(), receiver));
    }
    headers
}

/// [`sign_request`] with a [`fresh_nonce`].
pub fn sign_request_now(
    keypair: &Keypair,
    method: &str,
    path: &str,
    body: &[u8],
    receiver: Option<&AccountId>,
) -> Vec<(String, String)> {
    sign_request(keypair, method, path, body, receiver, fresh_nonce())
}

/// Verifier settings. The defaults are the SDK's.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// How old a nonce may be (default 10 s).
    pub max_age: Duration,
    /// How far ahead of this clock a nonce may be (default 2 s).
    pub allowed_skew: Duration,
    /// Refuse requests without `X-Bittensor-Receiver` (default true, as the SDK).
    pub require_receiver: bool,
    /// The most (sender, nonce) pairs remembered at once (default [`DEFAULT_REPLAY_CAPACITY`]).
    pub replay_capacity: usize,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        VerifierConfig {
            max_age: DEFAULT_MAX_AGE,
            allowed_skew: DEFAULT_ALLOWED_SKEW,
            require_receiver: true,
            replay_capacity: DEFAULT_REPLAY_CAPACITY,
        }
    }
}

/// Auth headers that passed the checks that need no body and no signature work
/// ([`Verifier::check_headers`]); pass them to [`Verifier::complete`] with the body.
#[derive(Debug, Clone)]
pub struct PendingAuth {
    hotkey: AccountId,
    hotkey_text: String,
    receiver_text: Option<String>,
    nonce: u64,
    crypto: CryptoType,
    signature: [u8; 64],
}

impl PendingAuth {
    /// The hotkey the request claims to come from (not yet authenticated: use it only for
    /// cheap refusals such as "not registered", never to grant anything).
    pub fn claimed_hotkey(&self) -> &AccountId {
        &self.hotkey
    }

    /// The request's nonce.
    pub fn nonce(&self) -> u64 {
        self.nonce
    }

    /// The declared signature scheme.
    pub fn crypto(&self) -> CryptoType {
        self.crypto
    }
}

/// Verifies `btauth/1` requests and remembers accepted nonces. Share one per server (it is
/// `Send + Sync` and all methods take `&self`).
#[derive(Debug)]
pub struct Verifier {
    max_age_ns: u64,
    skew_ns: u64,
    require_receiver: bool,
    /// Mirror of `replay.horizon` for lock-free early refusals.
    horizon: AtomicU64,
    replay: Mutex<ReplayCache>,
}

#[derive(Debug)]
struct ReplayCache {
    /// Accepted (nonce, sender) pairs with nonce >= horizon, ordered by nonce for expiry.
    seen: BTreeSet<(u64, [u8; 32])>,
    capacity: usize,
    /// Nonces below this are refused: either stale, or evicted from `seen`.
    horizon: u64,
}

impl ReplayCache {
    /// Forgets every entry with a nonce below `threshold` and raises the horizon just past the
    /// newest one forgotten. The horizon only ever reaches nonces that were really accepted, so
    /// a bogus far-future `now` cannot lock out honest senders, whose clocks move on.
    fn forget_below(&mut self, threshold: u64) {
        let mut newest_forgotten = None;
        while let Some(&(nonce, _)) = self.seen.first() {
            if nonce >= threshold {
                break;
            }
            self.seen.pop_first();
            newest_forgotten = Some(nonce);
        }
        if let Some(n) = newest_forgotten {
            self.horizon = self.horizon.max(n.saturating_add(1));
        }
    }
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new(VerifierConfig::default())
    }
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Verifier {
    /// A verifier with `config`. A `replay_capacity` of 0 is treated as 1.
    pub fn new(config: VerifierConfig) -> Self {
        Verifier {
            max_age_ns: duration_ns(config.max_age),
            skew_ns: duration_ns(config.allowed_skew),
            require_receiver: config.require_receiver,
            horizon: AtomicU64::new(0),
            replay: Mutex::new(ReplayCache {
                seen: BTreeSet::new(),
                capacity: config.replay_capacity.max(1),
                horizon: 0,
            }),
        }
    }

    /// Authenticates a request: [`check_headers`](Self::check_headers) then
    /// [`complete`](Self::complete). `method` and `path` are those received (path with the query
    /// string), `body` the raw received bytes, `self_hotkey` this server's hotkey, `now_ns` the
    /// current time ([`unix_time_ns`]).
    pub fn verify<H: HeaderPair>(
        &self,
        method: &str,
        path: &str,
        headers: impl IntoIterator<Item = H>,
        body: &[u8],
        self_hotkey: &AccountId,
        now_ns: u64,
    ) -> Result<Caller, AuthError> {
        let pending = self.check_headers(headers, self_hotkey, now_ns)?;
        self.complete(&pending, method, path, body, now_ns)
    }

    /// The checks that need neither the body nor signature work: header shape, receiver binding
    /// and freshness. Run it before reading the body.
    pub fn check_headers<H: HeaderPair>(
        &self,
        headers: impl IntoIterator<Item = H>,
        self_hotkey: &AccountId,
        now_ns: u64,
    ) -> Result<PendingAuth, AuthError> {
        let raw = AuthHeaderValues::collect(headers)?;

        match raw.get(HEADER_VERSION) {
            None => return Err(AuthError::MissingHeader { header: HEADER_VERSION }),
            Some(v) if v != VERSION => return Err(AuthError::UnsupportedVersion),
            Some(_) => {}
        }
        let hotkey_text = match raw.get(HEADER_HOTKEY) {
            Some(h) if !h.is_empty() => h,
            _ => return Err(AuthError::MissingHeader { header: HEADER_HOTKEY }),
        };
        let nonce = parse_nonce(raw.get(HEADER_NONCE).ok_or(AuthError::MissingHeader { header: HEADER_NONCE })?)?;
        let crypto = match raw.get(HEADER_CRYPTO) {
            None => CryptoType::Sr25519,
            Some(c) => CryptoType::parse(c).ok_or(AuthError::UnsupportedCrypto)?,
        };
        let signature =
            parse_signature(raw.get(HEADER_SIGNATURE).ok_or(AuthError::MissingHeader { header: HEADER_SIGNATURE })?)?;
        let hotkey = AccountId::from_ss58(hotkey_text).map_err(|_| AuthError::MalformedHotkey)?;

        let receiver = raw.get(HEADER_RECEIVER);
        match receiver {
            None if self.require_receiver => return Err(AuthError::MissingReceiver),
            None => {}
            // The SDK compares the text, so another prefix's encoding of this key is refused too.
            Some(r) if r != self_hotkey.to_ss58() => return Err(AuthError::WrongReceiver),
            Some(_) => {}
        }

        let pending = PendingAuth {
            hotkey,
            hotkey_text: hotkey_text.to_string(),
            receiver_text: receiver.map(str::to_string),
            nonce: match nonce {
                ParsedNonce::Value(n) => n,
                ParsedNonce::Negative => return Err(self.stale()),
                ParsedNonce::TooLarge => return Err(self.future()),
            },
            crypto,
            signature,
        };
        self.check_fresh(pending.nonce, now_ns)?;
        Ok(pending)
    }

    /// Verifies the signature over (`method`, `path`, `body`) and records the nonce; re-checks
    /// freshness at `now_ns`, since reading the body takes time.
    pub fn complete(
        &self,
        pending: &PendingAuth,
        method: &str,
        path: &str,
        body: &[u8],
        now_ns: u64,
    ) -> Result<Caller, AuthError> {
        self.check_fresh(pending.nonce, now_ns)?;
        let payload = build_payload(
            pending.crypto,
            method,
            path,
            body,
            pending.nonce,
            &pending.hotkey_text,
            pending.receiver_text.as_deref(),
        );
        match crate::verify(pending.crypto, &pending.hotkey, &payload, &pending.signature) {
            Ok(true) => {}
            // A key that is not a curve point, or an sr25519 signature without schnorrkel's
            // marker, cannot verify; the SDK reports both as a failed signature too.
            Ok(false) | Err(_) => return Err(AuthError::BadSignature),
        }
        self.record(&pending.hotkey, pending.nonce, now_ns)?;
        Ok(Caller { hotkey: pending.hotkey, crypto: pending.crypto, nonce: pending.nonce })
    }

    /// How many accepted nonces are remembered now (for metrics and tests).
    pub fn replay_cache_len(&self) -> usize {
        self.lock().seen.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReplayCache> {
        // The cache holds plain data that every operation leaves consistent; a panic elsewhere
        // while holding the lock cannot corrupt it, so a poisoned lock is still usable.
        self.replay.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn stale(&self) -> AuthError {
        AuthError::StaleNonce { max_age: Duration::from_nanos(self.max_age_ns) }
    }

    fn future(&self) -> AuthError {
        AuthError::FutureNonce { allowed_skew: Duration::from_nanos(self.skew_ns) }
    }

    fn check_fresh(&self, nonce: u64, now_ns: u64) -> Result<(), AuthError> {
        if now_ns.saturating_sub(nonce) > self.max_age_ns {
            return Err(self.stale());
        }
        if nonce.saturating_sub(now_ns) > self.skew_ns {
            return Err(self.future());
        }
        if nonce < self.horizon.load(Ordering::Acquire) {
            return Err(AuthError::BelowReplayHorizon);
        }
        Ok(())
    }

    fn record(&self, sender: &AccountId, nonce: u64, now_ns: u64) -> Result<(), AuthError> {
        let mut cache = self.lock();
        // Nonces older than the window are refused as stale, so their entries can go.
        cache.forget_below(now_ns.saturating_sub(self.max_age_ns));
        if nonce < cache.horizon {
            self.horizon.store(cache.horizon, Ordering::Release);
            return Err(AuthError::BelowReplayHorizon);
        }
        let key = (nonce, sender.0);
        if cache.seen.contains(&key) {
            return Err(AuthError::ReplayedNonce);
        }
        if cache.seen.len() >= cache.capacity
            && let Some(&(oldest, _)) = cache.seen.first()
        {
            // Other senders may share that nonce; all of them go, so no pair that was accepted
            // can come back unnoticed.
            cache.forget_below(oldest.saturating_add(1));
        }
        self.horizon.store(cache.horizon, Ordering::Release);
        if nonce < cache.horizon {
            return Err(AuthError::BelowReplayHorizon);
        }
        cache.seen.insert(key);
        Ok(())
    }
}

/// The six auth headers; [`AuthHeaderValues`] stores their values in this order.
const NAMES: [&str; 6] =
    [HEADER_VERSION, HEADER_HOTKEY, HEADER_RECEIVER, HEADER_NONCE, HEADER_CRYPTO, HEADER_SIGNATURE];

/// A header value longer than this is not one the protocol produces (the longest is the
/// 130-character signature); refusing it early keeps garbage cheap.
const MAX_AUTH_VALUE_LEN: usize = 512;

/// The auth headers' values, found case-insensitively. Values are copied out so the caller's
/// iterator may yield temporaries (as `HeaderMap::iter` does).
struct AuthHeaderValues {
    values: [Option<String>; 6],
}

impl AuthHeaderValues {
    fn collect<H: HeaderPair>(headers: impl IntoIterator<Item = H>) -> Result<Self, AuthError> {
        let mut values: [Option<String>; 6] = Default::default();
        for h in headers {
            let name = h.name();
            let Some(i) = NAMES.iter().position(|n| n.eq_ignore_ascii_case(name)) else { continue };
            let header = NAMES[i];
            if values[i].is_some() {
                return Err(AuthError::DuplicateHeader { header });
            }
            let value = h.value();
            if value.len() > MAX_AUTH_VALUE_LEN {
                return Err(oversized(header));
            }
            let text = std::str::from_utf8(value).map_err(|_| AuthError::NonTextHeader { header })?;
            values[i] = Some(text.to_string());
        }
        Ok(AuthHeaderValues { values })
    }

    fn get(&self, header: &str) -> Option<&str> {
        let i = NAMES.iter().position(|n| *n == header)?;
        self.values[i].as_deref()
    }
}

/// The error for an auth header too long to be valid: what a parse of it would have said.
fn oversized(header: &'static str) -> AuthError {
    match header {
        HEADER_VERSION => AuthError::UnsupportedVersion,
        HEADER_HOTKEY => AuthError::MalformedHotkey,
        HEADER_RECEIVER => AuthError::WrongReceiver,
        HEADER_NONCE => AuthError::MalformedNonce,
        HEADER_CRYPTO => AuthError::UnsupportedCrypto,
        _ => AuthError::MalformedSignature,
    }
}

enum ParsedNonce {
    Value(u64),
    Negative,
    TooLarge,
}

/// Parses a nonce as Python's `int()` reads ASCII text: surrounding whitespace, an optional sign,
/// decimal digits with single underscores between them.
fn parse_nonce(text: &str) -> Result<ParsedNonce, AuthError> {
    let t = text.trim();
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let bytes = digits.as_bytes();
    if bytes.is_empty() || !bytes[0].is_ascii_digit() || !bytes[bytes.len() - 1].is_ascii_digit() {
        return Err(AuthError::MalformedNonce);
    }
    let mut value: u64 = 0;
    let mut overflow = false;
    let mut prev_underscore = false;
    for &b in bytes {
        match b {
            b'_' if !prev_underscore => prev_underscore = true,
            b'0'..=b'9' => {
                prev_underscore = false;
                match value.checked_mul(10).and_then(|v| v.checked_add(u64::from(b - b'0'))) {
                    Some(v) => value = v,
                    None => overflow = true,
                }
            }
            _ => return Err(AuthError::MalformedNonce),
        }
    }
    Ok(match (negative, overflow) {
        (true, _) if overflow || value > 0 => ParsedNonce::Negative,
        (_, true) => ParsedNonce::TooLarge,
        _ => ParsedNonce::Value(value),
    })
}

/// Decodes the signature like the SDK's `bytes.fromhex(value.removeprefix("0x"))` (ASCII
/// whitespace between byte pairs is skipped) and requires 64 bytes.
fn parse_signature(text: &str) -> Result<[u8; 64], AuthError> {
    let hex_text = text.strip_prefix("0x").unwrap_or(text).as_bytes();
    let mut out = [0u8; 64];
    let mut n = 0;
    let mut i = 0;
    let nibble = |c: u8| -> Result<u8, AuthError> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(AuthError::MalformedSignature),
        }
    };
    while i < hex_text.len() {
        if hex_text[i].is_ascii_whitespace() || hex_text[i] == 0x0b {
            i += 1;
            continue;
        }
        let hi = nibble(hex_text[i])?;
        let lo = nibble(*hex_text.get(i + 1).ok_or(AuthError::MalformedSignature)?)?;
        if n == out.len() {
            return Err(AuthError::MalformedSignature);
        }
        out[n] = (hi << 4) | lo;
        n += 1;
        i += 2;
    }
    if n != out.len() {
        return Err(AuthError::MalformedSignature);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Cross-language conformance vectors from the SDK's own tests (bittensor 11,
    // tests for `bittensor.http_auth`; also published in its signed-requests guide).
    const FIXED_NONCE: u64 = 1_752_076_800_000_000_000;
    const BODY: &[u8] = br#"{"prompt": "hello"}"#;
    const METHOD: &str = "POST";
    const PATH: &str = "/generate?stream=false";
    const GOLDEN_SR25519_PAYLOAD: &str = "btauth/1\nsr25519\nPOST\n/generate?stream=false\n\
341c57448e531310fbbe83f44cea2a5e838bd9e8a6b82b269f01d0dbbc23c3cc\n1752076800000000000\n\
5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY\n5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
    const GOLDEN_ED25519_SIGNATURE: &str = "0x1a6b631988bf1f7ea093ab9d5acf61f05c316d0b0e428b24b487b75a5f6ee0e1\
a56a26918fdf871b6cf09437e6588023a4ce423cf622621b2a7feee17612f704";

    fn alice(crypto: CryptoType) -> Keypair {
        Keypair::from_uri(crypto, "//Alice").unwrap()
    }

    fn bob() -> Keypair {
        Keypair::from_uri(CryptoType::Sr25519, "//Bob").unwrap()
    }

    fn signed(sender: &Keypair) -> Vec<(String, String)> {
        sign_request(sender, METHOD, PATH, BODY, Some(&bob().account_id()), FIXED_NONCE)
    }

    fn check(headers: &[(String, String)]) -> Result<Caller, AuthError> {
        Verifier::default().verify(METHOD, PATH, headers, BODY, &bob().account_id(), FIXED_NONCE + 1_000_000)
    }

    fn with(headers: &[(String, String)], name: &str, value: Option<&str>) -> Vec<(String, String)> {
        let mut out: Vec<_> = headers.iter().filter(|(k, _)| !k.eq_ignore_ascii_case(name)).cloned().collect();
        if let Some(v) = value {
            out.push((name.to_string(), v.to_string()));
        }
        out
    }

    #[test]
    fn golden_payload_and_signature() {
        let payload = build_payload(
            CryptoType::Sr25519,
            METHOD,
            PATH,
            BODY,
            FIXED_NONCE,
            &alice(CryptoType::Sr25519).ss58_address(),
            Some(&bob().ss58_address()),
        );
        assert_eq!(String::from_utf8(payload).unwrap(), GOLDEN_SR25519_PAYLOAD);

        let headers = signed(&alice(CryptoType::Ed25519));
        let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get(HEADER_SIGNATURE), Some(GOLDEN_ED25519_SIGNATURE));
        assert_eq!(get(HEADER_CRYPTO), Some("ed25519"));
        assert_eq!(get(HEADER_HOTKEY), Some("5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu"));
        assert_eq!(get(HEADER_NONCE), Some("1752076800000000000"));
        assert_eq!(get(HEADER_VERSION), Some("1"));
        assert_eq!(get(HEADER_RECEIVER), Some("5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"));
    }

    #[test]
    fn round_trip_both_schemes() {
        for crypto in [CryptoType::Sr25519, CryptoType::Ed25519] {
            let sender = alice(crypto);
            let caller = check(&signed(&sender)).unwrap();
            assert_eq!(caller, Caller { hotkey: sender.account_id(), crypto, nonce: FIXED_NONCE });
        }
        // sr25519 is the default: no crypto header.
        assert!(!signed(&alice(CryptoType::Sr25519)).iter().any(|(k, _)| k == HEADER_CRYPTO));
        // Live nonce, empty body, GET.
        let v = Verifier::default();
        let me = bob().account_id();
        let h = sign_request_now(&alice(CryptoType::Sr25519), "GET", "/health", b"", Some(&me));
        assert!(v.verify("GET", "/health", &h, b"", &me, unix_time_ns()).is_ok());
        // Prehashed signing is the same signature input.
        let digest: [u8; 32] = Sha256::digest(BODY).into();
        let ed = alice(CryptoType::Ed25519);
        assert_eq!(
            sign_request_prehashed(&ed, METHOD, PATH, &digest, Some(&me), FIXED_NONCE),
            sign_request(&ed, METHOD, PATH, BODY, Some(&me), FIXED_NONCE)
        );
    }

    #[test]
    fn header_spellings_the_sdk_accepts() {
        let headers = signed(&alice(CryptoType::Sr25519));
        let lowered: Vec<_> = headers.iter().map(|(k, v)| (k.to_lowercase(), v.clone())).collect();
        assert!(check(&lowered).is_ok());
        for spelling in ["SR25519", "1", " sr25519 "] {
            assert!(check(&with(&headers, HEADER_CRYPTO, Some(spelling))).is_ok(), "{spelling:?}");
        }
        // The method is uppercased on both sides.
        let v = Verifier::default();
        assert!(v.verify("post", PATH, &headers, BODY, &bob().account_id(), FIXED_NONCE).is_ok());
        // Signature hex: upper case, no 0x, whitespace between bytes (Python's bytes.fromhex).
        let sig = headers.iter().find(|(k, _)| k == HEADER_SIGNATURE).unwrap().1.clone();
        let bare = sig.trim_start_matches("0x").to_string();
        let spaced: String =
            bare.as_bytes().chunks(2).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(" ");
        for s in [bare.to_uppercase(), bare.clone(), format!("0x{spaced}\t")] {
            assert!(check(&with(&headers, HEADER_SIGNATURE, Some(&s))).is_ok(), "{s}");
        }
        for s in ["0X".to_string() + &bare, format!("0x{}", &bare[1..]), format!("0x{bare}00"), "0xnothex".into()] {
            assert_eq!(check(&with(&headers, HEADER_SIGNATURE, Some(&s))), Err(AuthError::MalformedSignature), "{s}");
        }
        // Nonce text as Python's int() reads it; the signed line is the canonical decimal.
        for n in [" 1752076800000000000 ", "+1752076800000000000", "1_752_076_800_000_000_000"] {
            assert_eq!(check(&with(&headers, HEADER_NONCE, Some(n))).map(|c| c.nonce), Ok(FIXED_NONCE), "{n:?}");
        }
        for n in ["not-a-number", "", "1__0", "_1", "1_", "0x10", "1.5", "+-1"] {
            assert_eq!(check(&with(&headers, HEADER_NONCE, Some(n))), Err(AuthError::MalformedNonce), "{n:?}");
        }
        assert_eq!(check(&with(&headers, HEADER_NONCE, Some("-5"))).unwrap_err().reason(), "stale_nonce");
        assert_eq!(
            check(&with(&headers, HEADER_NONCE, Some("99999999999999999999999"))).unwrap_err().reason(),
            "future_nonce"
        );
    }

    #[test]
    fn freshness_window_bounds_are_inclusive() {
        let headers = signed(&alice(CryptoType::Sr25519));
        let me = bob().account_id();
        let at = |now: u64| Verifier::default().verify(METHOD, PATH, &headers, BODY, &me, now);
        assert!(at(FIXED_NONCE + 10_000_000_000).is_ok());
        assert!(matches!(at(FIXED_NONCE + 10_000_000_001), Err(AuthError::StaleNonce { .. })));
        assert!(matches!(at(FIXED_NONCE + 11_000_000_000), Err(AuthError::StaleNonce { .. })));
        assert!(at(FIXED_NONCE - 2_000_000_000).is_ok());
        assert!(matches!(at(FIXED_NONCE - 2_000_000_001), Err(AuthError::FutureNonce { .. })));
        assert!(matches!(at(FIXED_NONCE - 3_000_000_000), Err(AuthError::FutureNonce { .. })));
        // A configured window.
        let narrow = Verifier::new(VerifierConfig { max_age: Duration::from_secs(1), ..Default::default() });
        assert!(narrow.verify(METHOD, PATH, &headers, BODY, &me, FIXED_NONCE + 1_500_000_000).is_err());
    }

    #[test]
    fn replays_and_tampering_rejected() {
        let headers = signed(&alice(CryptoType::Sr25519));
        let me = bob().account_id();
        let v = Verifier::default();
        let now = FIXED_NONCE + 1;
        v.verify(METHOD, PATH, &headers, BODY, &me, now).unwrap();
        assert_eq!(v.verify(METHOD, PATH, &headers, BODY, &me, now), Err(AuthError::ReplayedNonce));
        // Same nonce from another sender is a different pair.
        let other = sign_request(&alice(CryptoType::Ed25519), METHOD, PATH, BODY, Some(&me), FIXED_NONCE);
        assert!(v.verify(METHOD, PATH, &other, BODY, &me, now).is_ok());

        let fresh = Verifier::default();
        let bad = |m: &str, p: &str, h: &[(String, String)], b: &[u8]| fresh.verify(m, p, h, b, &me, now);
        assert_eq!(bad(METHOD, PATH, &headers, b"tampered body"), Err(AuthError::BadSignature));
        assert_eq!(bad("DELETE", PATH, &headers, BODY), Err(AuthError::BadSignature));
        assert_eq!(bad(METHOD, "/admin", &headers, BODY), Err(AuthError::BadSignature));
        assert_eq!(bad(METHOD, "/generate", &headers, BODY), Err(AuthError::BadSignature));
        let h = with(&headers, HEADER_NONCE, Some(&(FIXED_NONCE + 1).to_string()));
        assert_eq!(bad(METHOD, PATH, &h, BODY), Err(AuthError::BadSignature));
        let h = with(&headers, HEADER_SIGNATURE, Some(&format!("0x{}", "00".repeat(64))));
        assert_eq!(bad(METHOD, PATH, &h, BODY), Err(AuthError::BadSignature));
        // A different sender claimed with the same signature.
        let h = with(&headers, HEADER_HOTKEY, Some(&bob().ss58_address()));
        assert_eq!(bad(METHOD, PATH, &h, BODY), Err(AuthError::BadSignature));
        // Scheme confusion: an ed25519 signature presented as sr25519, and vice versa.
        let ed = signed(&alice(CryptoType::Ed25519));
        assert_eq!(bad(METHOD, PATH, &with(&ed, HEADER_CRYPTO, None), BODY), Err(AuthError::BadSignature));
        assert_eq!(
            bad(METHOD, PATH, &with(&headers, HEADER_CRYPTO, Some("ed25519")), BODY),
            Err(AuthError::BadSignature)
        );
        // Failed attempts are not recorded: the genuine request still goes through.
        assert!(bad(METHOD, PATH, &headers, BODY).is_ok());
        assert_eq!(fresh.replay_cache_len(), 1);
    }

    #[test]
    fn receiver_binding() {
        let sender = alice(CryptoType::Sr25519);
        let me = bob().account_id();
        let headers = signed(&sender);
        let v = Verifier::default();
        assert_eq!(
            v.verify(METHOD, PATH, &headers, BODY, &sender.account_id(), FIXED_NONCE),
            Err(AuthError::WrongReceiver)
        );
        // Another prefix's encoding of the right key is a different text, as in the SDK.
        let polkadot = crate::ss58_encode(0, &me);
        assert_eq!(check(&with(&headers, HEADER_RECEIVER, Some(&polkadot))), Err(AuthError::WrongReceiver));
        assert_eq!(check(&with(&headers, HEADER_RECEIVER, Some(""))), Err(AuthError::WrongReceiver));

        let unbound = sign_request(&sender, METHOD, PATH, BODY, None, FIXED_NONCE);
        assert!(!unbound.iter().any(|(k, _)| k == HEADER_RECEIVER));
        assert_eq!(check(&unbound), Err(AuthError::MissingReceiver));
        let open = Verifier::new(VerifierConfig { require_receiver: false, ..Default::default() });
        assert!(open.verify(METHOD, PATH, &unbound, BODY, &me, FIXED_NONCE).is_ok());
        // Even then, a bound request must name this server, and an unbound signature cannot be
        // passed off as bound.
        assert_eq!(
            open.verify(METHOD, PATH, &headers, BODY, &sender.account_id(), FIXED_NONCE),
            Err(AuthError::WrongReceiver)
        );
        let forged = with(&unbound, HEADER_RECEIVER, Some(&me.to_ss58()));
        assert_eq!(open.verify(METHOD, PATH, &forged, BODY, &me, FIXED_NONCE), Err(AuthError::BadSignature));
    }

    #[test]
    fn malformed_headers_name_the_problem() {
        let headers = signed(&alice(CryptoType::Sr25519));
        for missing in [HEADER_VERSION, HEADER_HOTKEY, HEADER_NONCE, HEADER_SIGNATURE] {
            let e = check(&with(&headers, missing, None)).unwrap_err();
            assert_eq!(e, AuthError::MissingHeader { header: missing });
            assert_eq!((e.status(), e.sdk_class()), (401, "MalformedAuth"));
            assert!(e.to_string().contains(missing), "{e}");
        }
        assert_eq!(
            check(&with(&headers, HEADER_HOTKEY, Some(""))),
            Err(AuthError::MissingHeader { header: HEADER_HOTKEY })
        );
        assert_eq!(check(&with(&headers, HEADER_VERSION, Some("2"))), Err(AuthError::UnsupportedVersion));
        assert_eq!(check(&with(&headers, HEADER_CRYPTO, Some("ecdsa"))), Err(AuthError::UnsupportedCrypto));
        assert_eq!(check(&with(&headers, HEADER_CRYPTO, Some("2"))), Err(AuthError::UnsupportedCrypto));
        assert_eq!(check(&with(&headers, HEADER_HOTKEY, Some("5Grw"))), Err(AuthError::MalformedHotkey));
        let big = "x".repeat(100_000);
        assert_eq!(check(&with(&headers, HEADER_SIGNATURE, Some(&big))), Err(AuthError::MalformedSignature));
        assert_eq!(check(&with(&headers, HEADER_NONCE, Some(&big))), Err(AuthError::MalformedNonce));
        let mut dup = headers.clone();
        dup.push(("x-bittensor-nonce".into(), FIXED_NONCE.to_string()));
        assert_eq!(check(&dup), Err(AuthError::DuplicateHeader { header: HEADER_NONCE }));
        // Raw byte values (as http::HeaderValue gives them), one of them not UTF-8.
        let mut raw: Vec<(String, Vec<u8>)> =
            headers.iter().map(|(k, v)| (k.clone(), v.clone().into_bytes())).collect();
        let me = bob().account_id();
        assert!(Verifier::default().verify(METHOD, PATH, &raw, BODY, &me, FIXED_NONCE).is_ok());
        raw.retain(|(k, _)| k != HEADER_HOTKEY);
        raw.push((HEADER_HOTKEY.into(), vec![0xff, 0xfe]));
        assert_eq!(
            Verifier::default().verify(METHOD, PATH, raw, BODY, &me, FIXED_NONCE),
            Err(AuthError::NonTextHeader { header: HEADER_HOTKEY })
        );
        // No auth at all, and unrelated headers only.
        let none: [(&str, &str); 1] = [("content-type", "application/json")];
        assert_eq!(
            Verifier::default().verify(METHOD, PATH, none, BODY, &me, FIXED_NONCE),
            Err(AuthError::MissingHeader { header: HEADER_VERSION })
        );
    }

    #[test]
    fn check_headers_runs_before_the_body() {
        let sender = alice(CryptoType::Sr25519);
        let me = bob().account_id();
        let headers = signed(&sender);
        let v = Verifier::default();
        let pending = v.check_headers(&headers, &me, FIXED_NONCE).unwrap();
        assert_eq!(*pending.claimed_hotkey(), sender.account_id());
        assert_eq!((pending.nonce(), pending.crypto()), (FIXED_NONCE, CryptoType::Sr25519));
        // Reading the body took too long: the window is checked again.
        assert!(matches!(
            v.complete(&pending, METHOD, PATH, BODY, FIXED_NONCE + 11_000_000_000),
            Err(AuthError::StaleNonce { .. })
        ));
        assert_eq!(v.complete(&pending, METHOD, PATH, BODY, FIXED_NONCE).unwrap().hotkey, sender.account_id());
        assert_eq!(v.complete(&pending, METHOD, PATH, BODY, FIXED_NONCE), Err(AuthError::ReplayedNonce));
        // Freshness is refused without touching the body or the signature.
        assert!(matches!(
            v.check_headers(&headers, &me, FIXED_NONCE + 60_000_000_000),
            Err(AuthError::StaleNonce { .. })
        ));
    }

    #[test]
    fn replay_cache_is_bounded_and_never_readmits() {
        let me = bob().account_id();
        let sender = alice(CryptoType::Sr25519);
        let v = Verifier::new(VerifierConfig { replay_capacity: 3, ..Default::default() });
        let reqs: Vec<_> =
            (0..5).map(|i| sign_request(&sender, METHOD, PATH, BODY, Some(&me), FIXED_NONCE + i)).collect();
        let now = FIXED_NONCE + 10;
        for r in &reqs {
            v.verify(METHOD, PATH, r, BODY, &me, now).unwrap();
            assert!(v.replay_cache_len() <= 3);
        }
        // The two oldest were evicted: their replays are refused by the horizon, the rest as replays.
        for (i, r) in reqs.iter().enumerate() {
            let e = v.verify(METHOD, PATH, r, BODY, &me, now).unwrap_err();
            let want = if i < 2 { AuthError::BelowReplayHorizon } else { AuthError::ReplayedNonce };
            assert_eq!(e, want, "request {i}");
            assert_eq!(e.sdk_class(), if i < 2 { "StaleRequest" } else { "ReplayedRequest" });
        }
        // Newer nonces still get in.
        let newer = sign_request(&sender, METHOD, PATH, BODY, Some(&me), FIXED_NONCE + 100);
        assert!(v.verify(METHOD, PATH, &newer, BODY, &me, now).is_ok());
        assert_eq!(v.replay_cache_len(), 3);
    }

    #[test]
    fn entries_expire_with_the_window_and_clock_steps_back_safely() {
        let me = bob().account_id();
        let sender = alice(CryptoType::Sr25519);
        let v = Verifier::default();
        let first = signed(&sender);
        v.verify(METHOD, PATH, &first, BODY, &me, FIXED_NONCE).unwrap();
        assert_eq!(v.replay_cache_len(), 1);
        // 20 s later another request prunes the first (it is stale by now anyway).
        let later_nonce = FIXED_NONCE + 20_000_000_000;
        let later = sign_request(&sender, METHOD, PATH, BODY, Some(&me), later_nonce);
        v.verify(METHOD, PATH, &later, BODY, &me, later_nonce).unwrap();
        assert_eq!(v.replay_cache_len(), 1);
        // The clock steps back 20 s: the first request is fresh again by that clock, but its
        // entry is gone, so the horizon must refuse it.
        assert_eq!(v.verify(METHOD, PATH, &first, BODY, &me, FIXED_NONCE), Err(AuthError::BelowReplayHorizon));
        // ...while a new request signed after it is accepted by that clock: the horizon stops
        // just past the forgotten nonce, not at the far-ahead clock's window.
        let newer = sign_request(&sender, METHOD, PATH, BODY, Some(&me), FIXED_NONCE + 1_000);
        assert!(v.verify(METHOD, PATH, &newer, BODY, &me, FIXED_NONCE + 2_000).is_ok());
    }

    #[test]
    fn concurrent_replays_admit_exactly_one() {
        let me = bob().account_id();
        let headers = signed(&alice(CryptoType::Sr25519));
        let v = Verifier::default();
        let ok = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..4 {
                        match v.verify(METHOD, PATH, &headers, BODY, &me, FIXED_NONCE) {
                            Ok(_) => {
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => assert_eq!(e, AuthError::ReplayedNonce),
                        }
                    }
                });
            }
        });
        assert_eq!(ok.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn fresh_nonces_increase() {
        let mut prev = fresh_nonce();
        for _ in 0..10_000 {
            let n = fresh_nonce();
            assert!(n > prev);
            prev = n;
        }
        let drift = prev.abs_diff(unix_time_ns());
        assert!(drift < 60_000_000_000, "nonce far from the clock: {drift} ns");
    }

    #[test]
    fn error_codes_are_stable() {
        let all = [
            AuthError::MissingHeader { header: HEADER_NONCE },
            AuthError::DuplicateHeader { header: HEADER_NONCE },
            AuthError::UnsupportedVersion,
            AuthError::MalformedHotkey,
            AuthError::MalformedNonce,
            AuthError::UnsupportedCrypto,
            AuthError::MalformedSignature,
            AuthError::NonTextHeader { header: HEADER_NONCE },
            AuthError::MissingReceiver,
            AuthError::WrongReceiver,
            AuthError::StaleNonce { max_age: DEFAULT_MAX_AGE },
            AuthError::FutureNonce { allowed_skew: DEFAULT_ALLOWED_SKEW },
            AuthError::BelowReplayHorizon,
            AuthError::BadSignature,
            AuthError::ReplayedNonce,
        ];
        let reasons: BTreeSet<_> = all.iter().map(AuthError::reason).collect();
        assert_eq!(reasons.len(), all.len(), "reasons must be distinct");
        for e in &all {
            assert!(e.reason().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{}", e.reason());
            assert!(matches!(e.status(), 400 | 401));
        }
        assert_eq!(
            AuthError::StaleNonce { max_age: DEFAULT_MAX_AGE }.to_string(),
            "nonce is older than the 10s freshness window"
        );
    }
}
