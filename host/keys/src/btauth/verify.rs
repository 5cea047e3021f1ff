//! The server side: [`Verifier`] and its configuration.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::headers::{AuthHeaderValues, ParsedNonce, parse_nonce, parse_signature};
use super::replay::ReplayCache;
use super::{
    AuthError, DEFAULT_ALLOWED_SKEW, DEFAULT_MAX_AGE, DEFAULT_REPLAY_CAPACITY, HEADER_CRYPTO, HEADER_HOTKEY,
    HEADER_NONCE, HEADER_RECEIVER, HEADER_SIGNATURE, HEADER_VERSION, HeaderPair, VERSION, build_payload,
};
use crate::{AccountId, CryptoType};

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
