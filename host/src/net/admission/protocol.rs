//! The protocol-specific half of admission: reading a signed request's headers into a
//! [`Claim`] (who says they sent it, until when it is fresh) and, once the body is in, checking
//! the signature. Everything else the admission layer does is the same for every protocol.
//!
//! Today the one protocol is `btauth/1` ([`subnet_keys::btauth`]). Another (Synapse, Epistula)
//! plugs in as a variant of [`Protocol`] and of the pending state inside [`Claim`]: it must give
//! a claimed hotkey and a freshness end from headers alone, run its replay *lookup* there, and
//! verify from the method, path, body bytes and the body's sha256 (computed while streaming).

use bytes::Bytes;
use subnet_chain::AccountId;
use subnet_keys::btauth::{AuthError, Caller, PendingAuth, Verifier, VerifierConfig};

/// A protocol refusal: the status, the stable reason code and a message safe to return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// `btauth/1` refused the request ([`AuthError::reason`] is the code).
    #[error(transparent)]
    Btauth(#[from] AuthError),
}

impl ProtocolError {
    /// The HTTP status (400 malformed, 401 not authentic).
    pub fn status(&self) -> u16 {
        match self {
            ProtocolError::Btauth(e) => e.status(),
        }
    }

    /// The stable reason code.
    pub fn reason(&self) -> &'static str {
        match self {
            ProtocolError::Btauth(e) => e.reason(),
        }
    }
}

/// The signed-request protocols a server accepts.
#[derive(Debug)]
pub enum Protocol {
    /// `btauth/1` with its verifier (and its per-sender replay memory).
    Btauth(Verifier),
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
        }
    }

    /// Replay entries remembered now (for stats and tests).
    pub fn replay_entries(&self) -> usize {
        match self {
            Protocol::Btauth(v) => v.replay_cache_len(),
        }
    }
}
