//! The server side: [`Verifier`] and its configuration.

use std::sync::Mutex;
use std::time::Duration;

use super::headers::{AuthHeaderValues, ParsedNonce, parse_nonce, parse_signature};
use super::{
    AuthError, DEFAULT_ALLOWED_SKEW, DEFAULT_MAX_AGE, DEFAULT_REPLAY_MAX_SENDERS, DEFAULT_REPLAY_PER_SENDER,
    HEADER_CRYPTO, HEADER_HOTKEY, HEADER_NONCE, HEADER_RECEIVER, HEADER_SIGNATURE, HEADER_VERSION, HeaderPair, VERSION,
    build_payload_prehashed,
};
use crate::replay::{Refusal, ReplayStore};
use crate::{AccountId, CryptoType};
use sha2::{Digest as _, Sha256};

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
    /// The most senders whose nonces are remembered at once (default
    /// [`DEFAULT_REPLAY_MAX_SENDERS`]).
    pub replay_max_senders: usize,
    /// The most nonces remembered per sender; a sender that exceeds it within the window makes
    /// its own oldest nonces fall below its horizon (default [`DEFAULT_REPLAY_PER_SENDER`]).
    pub replay_per_sender: usize,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        VerifierConfig {
            max_age: DEFAULT_MAX_AGE,
            allowed_skew: DEFAULT_ALLOWED_SKEW,
            require_receiver: true,
            replay_max_senders: DEFAULT_REPLAY_MAX_SENDERS,
            replay_per_sender: DEFAULT_REPLAY_PER_SENDER,
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

    /// When (Unix time, ns) this request stops being fresh for `verifier`: a body that has not
    /// arrived by then is refused as stale anyway, so a server may stop waiting for it.
    pub fn fresh_until_ns(&self, verifier: &Verifier) -> u64 {
        self.nonce.saturating_add(verifier.max_age_ns)
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
    replay: Mutex<ReplayStore<()>>,
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
    /// A verifier with `config`. Replay bounds of 0 are treated as 1.
    pub fn new(config: VerifierConfig) -> Self {
        let max_age_ns = duration_ns(config.max_age);
        Verifier {
            max_age_ns,
            skew_ns: duration_ns(config.allowed_skew),
            require_receiver: config.require_receiver,
            replay: Mutex::new(ReplayStore::new(max_age_ns, config.replay_max_senders, config.replay_per_sender)),
        }
    }

    /// Authenticates a request: [`check_headers`](Self::check_headers) then
    /// [`complete`](Self::complete). `method` and `path` are those received (path with the query
    /// string), `body` the raw received bytes, `self_hotkey` this server's hotkey, `now_ns` the
    /// current time ([`unix_time_ns`](super::unix_time_ns)).
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

    /// The checks that need neither the body nor signature work: header shape, receiver binding,
    /// freshness and the read-only replay lookup ([`check_replay`](Self::check_replay)). Run it
    /// before reading the body.
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
        self.check_replay(&pending.hotkey, pending.nonce)?;
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
        self.complete_prehashed(pending, method, path, &Sha256::digest(body).into(), now_ns)
    }

    /// [`complete`](Self::complete) from the body's sha256 digest, for servers that hash the body
    /// as it streams in (so no pass over the whole body runs on the request's task at the end).
    pub fn complete_prehashed(
        &self,
        pending: &PendingAuth,
        method: &str,
        path: &str,
        body_sha256: &[u8; 32],
        now_ns: u64,
    ) -> Result<Caller, AuthError> {
        self.check_fresh(pending.nonce, now_ns)?;
        let payload = build_payload_prehashed(
            pending.crypto,
            method,
            path,
            body_sha256,
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

    /// Would `nonce` from `sender` be refused by the replay memory (already accepted, or below
    /// that sender's horizon)? Read-only, so it is safe on unauthenticated input:
    /// [`check_headers`](Self::check_headers) runs it, and a server may run it again at any
    /// point before the body is read. Only [`complete`](Self::complete), after the signature
    /// verified, records a nonce.
    pub fn check_replay(&self, sender: &AccountId, nonce: u64) -> Result<(), AuthError> {
        self.lock().check(&sender.0, nonce, ()).map_err(refusal)
    }

    /// How many accepted nonces are remembered now, over all senders (for metrics and tests).
    pub fn replay_cache_len(&self) -> usize {
        self.lock().len()
    }

    /// How many senders the replay memory tracks now (for metrics and tests).
    pub fn replay_senders(&self) -> usize {
        self.lock().senders()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReplayStore<()>> {
        // The store holds plain data that every operation leaves consistent; a panic elsewhere
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
        Ok(())
    }

    fn record(&self, sender: &AccountId, nonce: u64, now_ns: u64) -> Result<(), AuthError> {
        self.lock().insert(&sender.0, nonce, (), now_ns).map_err(refusal)
    }
}

fn refusal(r: Refusal) -> AuthError {
    match r {
        Refusal::Replayed => AuthError::ReplayedNonce,
        Refusal::BelowHorizon => AuthError::BelowReplayHorizon,
    }
}
