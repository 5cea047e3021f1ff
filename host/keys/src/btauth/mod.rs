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

mod error;
mod headers;
mod payload;
mod replay;
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
/// Default bound on remembered (sender, nonce) pairs: about 45 000 verified requests per second
/// sustained over the default 12 s window, in at most ~25 MiB.
pub const DEFAULT_REPLAY_CAPACITY: usize = 1 << 19;

/// The receiver line for a request not bound to a receiver.
const NO_RECEIVER: &str = "-";
