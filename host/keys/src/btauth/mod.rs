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
//! # Verification order (what a server runs, and when)
//! 1. [`Verifier::check_headers`], before the body is read: header shape, receiver binding,
//!    freshness (nonce at most `max_age` old, at most `allowed_skew` ahead; both bounds inclusive;
//!    defaults 10 s and 2 s), then the *read-only* replay lookup [`Verifier::check_replay`]
//!    ("was this (sender, nonce) accepted, or is it below that sender's horizon?"). Garbage and
//!    replays are refused here without reading a large body or doing signature work.
//! 2. The server reads the body (and may run its own cheap refusals on
//!    [`PendingAuth::claimed_hotkey`], e.g. "not registered").
//! 3. [`Verifier::complete`]: freshness again (reading took time), the signature under the
//!    declared scheme only (never try-both), and only then the replay *insert*, which refuses a
//!    concurrent duplicate that passed step 1 at the same time. So unauthenticated traffic can
//!    never write to the replay memory and cannot poison it against a legitimate sender.
//!
//! # Replay invariants
//! - No replay is ever accepted. Entries are keyed by (sender, nonce) and expire by *nonce time*:
//!   once a nonce is older than the window it is refused as stale anyway.
//! - Memory is per sender (see the crate's replay store): each sender has its own bounded set of
//!   nonces ([`VerifierConfig::replay_per_sender`]) and its own horizon. When a sender floods
//!   valid requests past its bound, *its* oldest nonce is forgotten and *its* horizon rises past
//!   it, so its older nonces are refused ([`AuthError::BelowReplayHorizon`]) rather than risking a
//!   replay; other senders are not affected. Expired entries move the horizon the same way, so a
//!   wall clock stepping backwards cannot readmit them. Horizons never move back, and never past a
//!   nonce that was actually accepted.
//! - The number of senders tracked is bounded ([`VerifierConfig::replay_max_senders`]); when a new
//!   sender arrives with the table full, the sender whose newest nonce is oldest (an expired one
//!   whenever there is one) is forgotten, and its horizon lives on in one of 1024 keyed-hash
//!   buckets that untracked senders start from. The global bound is
//!   `replay_max_senders × replay_per_sender` entries (defaults: 4096 × 512, under 48 MiB).
//! - Error messages never echo the signature or payload; they are safe to return to the caller.
//!
//! # Deliberate differences from the SDK (only for inputs the SDK's own `sign` never produces)
//! - A repeated auth header is refused ([`AuthError::DuplicateHeader`]); the SDK keeps the last.
//! - Nonces are parsed like Python's `int()` for ASCII text (surrounding whitespace, a sign,
//!   single `_` between digits) but not for non-ASCII digits; negative nonces are stale and ones
//!   beyond `u64` are in the future, as the SDK's comparisons would find.
//! - ed25519 signatures are verified strictly (RFC 8032 with canonical, non-small-order points),
//!   which refuses some malleated signatures the SDK's backend may accept.
//! - The replay memory is per [`Verifier`], per sender and bounded; the SDK's default store is
//!   per process, unbounded, and keeps entries for 60 s after arrival.
//! - A replay is refused before the signature is checked, so a replayed nonce with an altered
//!   signature reads [`AuthError::ReplayedNonce`] here where the SDK says `BadSignature`.
//!
//! # Failure modes
//! Every rejection is an [`AuthError`] with a stable [`AuthError::reason`] code, an HTTP status
//! hint ([`AuthError::status`]) and the SDK exception class it corresponds to
//! ([`AuthError::sdk_class`]). Nothing here panics on network input.

mod error;
pub(crate) mod headers;
mod payload;
#[cfg(test)]
mod tests;
mod verify;

use std::time::Duration;

pub use error::AuthError;
pub use headers::HeaderPair;
pub use payload::{
    build_payload, build_payload_prehashed, fresh_nonce, sign_request, sign_request_now, sign_request_prehashed,
    unix_time_ns,
};
pub use verify::{Caller, PendingAuth, Verifier, VerifierConfig};

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
/// Default bound on the senders whose nonces are remembered at once.
pub const DEFAULT_REPLAY_MAX_SENDERS: usize = 4096;
/// Default bound on the nonces remembered per sender: about 40 requests per second sustained by
/// one sender over the default 12 s window. With [`DEFAULT_REPLAY_MAX_SENDERS`] the replay memory
/// stays under 2²¹ entries, at most 48 MiB (24 bytes an entry with B-tree slack, plus sender
/// records).
pub const DEFAULT_REPLAY_PER_SENDER: usize = 512;

/// The receiver line for a request not bound to a receiver.
const NO_RECEIVER: &str = "-";
