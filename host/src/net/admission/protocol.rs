//! The protocol-specific half of admission: reading a signed request's headers into a
//! [`Claim`] (who says they sent it, until when it is fresh) and, once the body is in, checking
//! the signature. Everything else the admission layer does is the same for every protocol.
//!
//! Three protocols plug in here, each as a variant of [`Protocol`] and of the pending state
//! inside [`Claim`]; each gives a claimed hotkey and a freshness end from headers alone, runs its
//! replay *lookup* there, and verifies from the method, path, body bytes and the body's sha256
//! (computed while streaming):
//! - `btauth/1` ([`subnet_keys::btauth`]);
//! - the Axon's Synapse rules ([`subnet_keys::synapse`]): headers, receiver (`bt_header_axon_
//!   hotkey` must be this miner), the nonce rules per `hotkey:uuid` (first nonce newer than
//!   now − 4 s − timeout, later ones strictly increasing), read-only before the body; then the
//!   body hash over the required hash fields against the signed `computed_body_hash`, then the
//!   signature, and only then the nonce is recorded (so a forged body never burns the real
//!   sender's nonce). Fresh until the timeout (capped) plus the Axon's 4 s;
//! - Epistula v2 ([`subnet_keys::epistula`]): SN1's window, receiver-bound, replay per sender.
//!
//! Statuses: Synapse refusals answer as the Axon does (401 not authentic), except that headers
//! or a body that cannot be read are 400 (the Axon answers 500) and a body that does not match
//! the signed hash is 401 (the Axon answers 500): both are the sender's fault, and a body that
//! is not what was signed is not authentic. Epistula refusals are SN1's 400, except those that
//! say "not authentic" (bad signature, stale, replayed, wrong receiver), which are 401 like the
//! other protocols'.

use bytes::Bytes;
use subnet_chain::AccountId;
use subnet_keys::btauth::{AuthError, Caller, PendingAuth, Verifier, VerifierConfig};
use subnet_keys::epistula::{self, EpistulaError, PendingEpistula};
use subnet_keys::synapse::{self, AxonVerifier, NonceRules, PendingSynapse, SynapseError, SynapseHeaders};

use crate::net::wire::SynapseSpec;

/// A protocol refusal: the status, the stable reason code and a message safe to return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// `btauth/1` refused the request ([`AuthError::reason`] is the code).
    #[error(transparent)]
    Btauth(#[from] AuthError),
    /// The Synapse rules refused the request ([`SynapseError::reason`] is the code).
    #[error(transparent)]
    Synapse(#[from] SynapseError),
    /// Epistula refused the request ([`EpistulaError::reason`] is the code).
    #[error(transparent)]
    Epistula(#[from] EpistulaError),
}

impl ProtocolError {
    /// The HTTP status (400 malformed, 401 not authentic).
    pub fn status(&self) -> u16 {
        match self {
            ProtocolError::Btauth(e) => e.status(),
            ProtocolError::Synapse(SynapseError::BodyHashMismatch) => 401,
            ProtocolError::Synapse(e) if e.status() == 500 => 400,
            ProtocolError::Synapse(e) => e.status(),
            ProtocolError::Epistula(
                EpistulaError::BadSignature
                | EpistulaError::StaleTimestamp { .. }
                | EpistulaError::FutureTimestamp { .. }
                | EpistulaError::Replayed
                | EpistulaError::BelowReplayHorizon
                | EpistulaError::WrongReceiver
                | EpistulaError::MissingReceiver,
            ) => 401,
            ProtocolError::Epistula(e) => e.status(),
        }
    }

    /// The stable reason code.
    pub fn reason(&self) -> &'static str {
        match self {
            ProtocolError::Btauth(e) => e.reason(),
            ProtocolError::Synapse(e) => e.reason(),
            ProtocolError::Epistula(e) => e.reason(),
        }
    }
}

/// The signed-request protocols a server accepts.
#[derive(Debug)]
pub enum Protocol {
    /// `btauth/1` with its verifier (and its per-sender replay memory).
    Btauth(Verifier),
    /// The Axon's Synapse rules for one synapse, with the nonce store.
    Axon {
        /// The verifier (bound to this miner's hotkey).
        verifier: AxonVerifier,
        /// The synapse served.
        spec: SynapseSpec,
        /// The longest timeout honoured, seconds (bounds the first-nonce window).
        max_timeout_s: f64,
    },
    /// Epistula v2 with its replay memory.
    Epistula {
        /// The verifier.
        verifier: epistula::Verifier,
        /// Its window, ms.
        max_age_ms: u64,
    },
}

/// A request whose headers passed the protocol's body-free checks.
#[derive(Debug)]
pub struct Claim {
    hotkey: AccountId,
    fresh_until_ns: u64,
    pending: Pending,
}

#[derive(Debug)]
enum Pending {
    Btauth(PendingAuth),
    Synapse(Box<PendingSynapse>),
    Epistula(PendingEpistula),
}

impl Claim {
    /// The hotkey the request claims to come from. Not authenticated: use it for cheap
    /// refusals and for counting, never to grant anything.
    pub fn claimed(&self) -> &AccountId {
        &self.hotkey
    }

    /// Unix time (ns) after which the request is stale whatever its body.
    pub fn fresh_until_ns(&self) -> u64 {
        self.fresh_until_ns
    }

    /// The Synapse headers, when the request is a Synapse.
    pub fn synapse_headers(&self) -> Option<&SynapseHeaders> {
        match &self.pending {
            Pending::Synapse(p) => Some(p.headers()),
            _ => None,
        }
    }
}

/// What was signed, besides the headers.
#[derive(Debug, Clone, Copy)]
pub struct SignedParts<'a> {
    /// The method received.
    pub method: &'a str,
    /// The request target received (path and query).
    pub path: &'a str,
    /// The body received.
    pub body: &'a Bytes,
    /// Its sha256, computed as it streamed in.
    pub body_sha256: &'a [u8; 32],
}

/// A verified sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The authenticated hotkey.
    pub hotkey: AccountId,
    /// A per-request value the sender chose and signed (btauth's nonce), for seeding.
    pub nonce: u64,
}

impl Protocol {
    /// `btauth/1` with `config`, bound to the receiver (`require_receiver` is forced on: an
    /// unbound request could be replayed to every miner).
    pub fn btauth(mut config: VerifierConfig) -> Self {
        config.require_receiver = true;
        Protocol::Btauth(Verifier::new(config))
    }

    /// The Axon's rules for `spec`, for the miner whose hotkey is `me`; timeouts above
    /// `max_timeout` do not widen the first-nonce window. Dendrites older than 7.2.0 (whose
    /// nonces the Axon does not bound) are refused.
    pub fn axon(me: &AccountId, spec: SynapseSpec, max_timeout: std::time::Duration) -> Self {
        let max_timeout_s = max_timeout.as_secs_f64();
        let rules = NonceRules { max_timeout: max_timeout_s, legacy_versions: false, ..NonceRules::default() };
        Protocol::Axon { verifier: AxonVerifier::new(me, rules), spec, max_timeout_s }
    }

    /// Epistula v2 with SN1's window, receiver-bound.
    pub fn epistula() -> Self {
        let config = epistula::VerifierConfig { require_receiver: true, ..Default::default() };
        let max_age_ms = config.max_age_ms;
        Protocol::Epistula { verifier: epistula::Verifier::new(config), max_age_ms }
    }

    /// Body-free checks: header shape, receiver binding (`me`), freshness and the read-only
    /// replay lookup (so a replay is refused before its body is read).
    pub fn check_headers(
        &self,
        headers: &axum::http::HeaderMap,
        me: &AccountId,
        now_ns: u64,
    ) -> Result<Claim, ProtocolError> {
        match self {
            Protocol::Btauth(v) => {
                let pending = v.check_headers(headers.iter(), me, now_ns)?;
                Ok(Claim {
                    hotkey: *pending.claimed_hotkey(),
                    fresh_until_ns: pending.fresh_until_ns(v),
                    pending: Pending::Btauth(pending),
                })
            }
            Protocol::Axon { verifier, max_timeout_s, .. } => {
                let pending = verifier.check_headers(headers.iter(), now_ns)?;
                let timeout = pending.headers().timeout.filter(|t| t.is_finite() && *t > 0.0).unwrap_or(12.0);
                let window = synapse::ALLOWED_DELTA_NS as f64 + timeout.min(*max_timeout_s) * 1e9;
                Ok(Claim {
                    hotkey: *pending.claimed_hotkey(),
                    fresh_until_ns: now_ns.saturating_add(window as u64),
                    pending: Pending::Synapse(Box::new(pending)),
                })
            }
            Protocol::Epistula { verifier, max_age_ms } => {
                let pending = verifier.check_headers(headers.iter(), me, now_ns / 1_000_000)?;
                let until_ms = pending.timestamp_ms().saturating_add(*max_age_ms);
                Ok(Claim {
                    hotkey: *pending.claimed_hotkey(),
                    fresh_until_ns: until_ms.saturating_mul(1_000_000),
                    pending: Pending::Epistula(pending),
                })
            }
        }
    }

    /// The signature over `parts`, freshness again, then the replay insert.
    pub fn verify(&self, claim: &Claim, parts: SignedParts<'_>, now_ns: u64) -> Result<Verified, ProtocolError> {
        match (self, &claim.pending) {
            (Protocol::Btauth(v), Pending::Btauth(p)) => {
                let Caller { hotkey, nonce, .. } =
                    v.complete_prehashed(p, parts.method, parts.path, parts.body_sha256, now_ns)?;
                Ok(Verified { hotkey, nonce })
            }
            (Protocol::Axon { verifier, spec, .. }, Pending::Synapse(p)) => {
                // The body first: a body that is not what was signed must not burn the nonce.
                let (hash, _) = synapse::body_hash_of_json(parts.body, &spec.hash_fields())?;
                if Some(hash.as_str()) != p.headers().computed_body_hash.as_deref() {
                    return Err(SynapseError::BodyHashMismatch.into());
                }
                let v = verifier.complete(p, now_ns)?;
                Ok(Verified { hotkey: v.hotkey, nonce: v.headers.dendrite.nonce.unwrap_or(0) })
            }
            (Protocol::Epistula { verifier, .. }, Pending::Epistula(p)) => {
                let caller = verifier.complete(p, parts.body, now_ns / 1_000_000)?;
                Ok(Verified { hotkey: caller.hotkey, nonce: caller.timestamp_ms })
            }
            // A claim is only ever checked by the protocol that made it.
            _ => Err(SynapseError::BadSignature.into()),
        }
    }

    /// Replay entries remembered now (for stats and tests).
    pub fn replay_entries(&self) -> usize {
        match self {
            Protocol::Btauth(v) => v.replay_cache_len(),
            Protocol::Axon { verifier, .. } => verifier.nonce_keys(),
            Protocol::Epistula { verifier, .. } => verifier.replay_len(),
        }
    }
}
