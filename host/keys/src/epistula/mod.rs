//! Epistula v2 signed requests, as Subnet 1 (macrocosm-os/prompting, `shared/epistula.py` and
//! its miners' `verify_request`) sends and checks them.
//!
//! # Wire format
//! - `Epistula-Version`: `2`
//! - `Epistula-Timestamp`: the signing time, decimal milliseconds since the Unix epoch
//! - `Epistula-Uuid`: a fresh uuid4 per request
//! - `Epistula-Signed-By`: the sender's SS58 hotkey
//! - `Epistula-Signed-For`: the receiver's SS58 hotkey (absent for unbound requests)
//! - `Epistula-Request-Signature`: `0x` + hex of the sr25519 signature over
//!   [`message`]: `"{sha256_hex(body)}.{uuid}.{timestamp}.{signed_for}"` (`signed_for` empty
//!   when unbound)
//! - with a receiver, SN1 also sends `Epistula-Secret-Signature-{0,1,2}`: signatures over
//!   `"{interval - 1}.{signed_for}"`, `"{interval}.{signed_for}"`, `"{interval + 1}.{signed_for}"`
//!   where `interval = ceil(timestamp / 1e4) * 1e4` written as a Python float (`...0.0`).
//!   [`sign_request`] sends them too; no verifier checks them.
//!
//! # Verification (SN1's rules, and where this is stricter)
//! - Order: header shape, receiver (`Signed-For` must be this server's SS58 text, prefix 42, as
//!   SN1 compares text), freshness, the read-only replay lookup, all before the body is read
//!   ([`Verifier::check_headers`]); then the signature over the body and only then the replay
//!   insert ([`Verifier::complete`]).
//! - Freshness: SN1 refuses a request when `timestamp + 8000 < now_ms` (so a request exactly
//!   8000 ms old passes) and has no bound on the future. Here the same window
//!   ([`DEFAULT_MAX_AGE_MS`]) and, in addition, at most [`DEFAULT_MAX_FUTURE_MS`] ahead, without
//!   which replay memory could never expire.
//! - Replay: SN1 keeps none. Here a request is a replay when the same sender's same uuid and
//!   timestamp were accepted (both are signed, so that is "by uuid" for any signed request); the
//!   memory is the crate's per-sender store (bounded senders, bounded entries each, one sender's
//!   flood only raises its own horizon).
//! - `Epistula-Version` must be `2` when present (SN1 does not read it); repeated Epistula
//!   headers are refused; the timestamp is read as Python's `int()` reads it, and written back
//!   canonically into the signed message as SN1's `int(timestamp)` does.
//! - The signature is read as `Keypair.verify` reads text (`0x` optional, hex pairs with optional
//!   whitespace), and a signature over the `<Bytes>…</Bytes>`-wrapped message verifies too.
//! - Only sr25519 (SN1 builds `Keypair(ss58_address=...)`, whose default scheme is sr25519).
//!
//! # Failure modes
//! Every refusal is an [`EpistulaError`]; [`EpistulaError::status`] is what SN1's miner answers
//! (400 for all of its signature checks). Nothing here panics on network input.

mod verify;

#[cfg(test)]
mod tests;

use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};

pub use verify::{Caller, PendingEpistula, Verifier, VerifierConfig};

use crate::synapse::float_repr;
use crate::{AccountId, CryptoType, Keypair};

/// `Epistula-Version`.
pub const HEADER_VERSION: &str = "Epistula-Version";
/// `Epistula-Timestamp` (ms).
pub const HEADER_TIMESTAMP: &str = "Epistula-Timestamp";
/// `Epistula-Uuid`.
pub const HEADER_UUID: &str = "Epistula-Uuid";
/// `Epistula-Signed-By`.
pub const HEADER_SIGNED_BY: &str = "Epistula-Signed-By";
/// `Epistula-Signed-For`.
pub const HEADER_SIGNED_FOR: &str = "Epistula-Signed-For";
/// `Epistula-Request-Signature`.
pub const HEADER_SIGNATURE: &str = "Epistula-Request-Signature";
/// `Epistula-Secret-Signature-{0,1,2}` prefix.
pub const HEADER_SECRET_SIGNATURE_PREFIX: &str = "Epistula-Secret-Signature-";
/// The value of [`HEADER_VERSION`].
pub const VERSION: &str = "2";
/// SN1's `ALLOWED_DELTA_MS`: how old a timestamp may be, inclusive.
pub const DEFAULT_MAX_AGE_MS: u64 = 8000;
/// How far ahead of this clock a timestamp may be, inclusive (SN1 has no bound).
pub const DEFAULT_MAX_FUTURE_MS: u64 = 8000;

/// Why an Epistula request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EpistulaError {
    /// A required header is absent.
    #[error("missing {header} header")]
    MissingHeader {
        /// The header's canonical name.
        header: &'static str,
    },
    /// An Epistula header appears more than once.
    #[error("{header} header given more than once")]
    DuplicateHeader {
        /// The header's canonical name.
        header: &'static str,
    },
    /// A header value is not text, or too long to be one a sender produces.
    #[error("{header} header is not valid")]
    InvalidHeader {
        /// The header's canonical name.
        header: &'static str,
    },
    /// `Epistula-Version` is not `2`.
    #[error("unsupported {HEADER_VERSION} (expected {VERSION:?})")]
    UnsupportedVersion,
    /// The timestamp is not an integer.
    #[error("{HEADER_TIMESTAMP} is not an integer")]
    MalformedTimestamp,
    /// The sender is not a valid SS58 address.
    #[error("{HEADER_SIGNED_BY} is not a valid SS58 address")]
    MalformedSender,
    /// The signature is not hex of 64 bytes.
    #[error("{HEADER_SIGNATURE} is not a 64-byte hex signature")]
    MalformedSignature,
    /// The request names no receiver and this server requires one.
    #[error("missing {HEADER_SIGNED_FOR}: this server requires receiver-bound requests")]
    MissingReceiver,
    /// The request was signed for another receiver.
    #[error("request is not intended for this hotkey")]
    WrongReceiver,
    /// The timestamp is older than the window.
    #[error("request is too stale (older than {max_age_ms} ms)")]
    StaleTimestamp {
        /// The window, ms.
        max_age_ms: u64,
    },
    /// The timestamp is too far in the future.
    #[error("request timestamp is more than {max_future_ms} ms in the future")]
    FutureTimestamp {
        /// The allowed skew, ms.
        max_future_ms: u64,
    },
    /// The signature does not verify.
    #[error("signature mismatch")]
    BadSignature,
    /// This request (sender, uuid, timestamp) was already accepted.
    #[error("this request was already accepted")]
    Replayed,
    /// The timestamp is older than what the replay memory can vouch for for this sender.
    #[error("timestamp is older than the replay memory's horizon; retry with a fresh request")]
    BelowReplayHorizon,
    /// The key cannot sign Epistula (sr25519 only).
    #[error("{crypto} keys cannot sign Epistula; it is sr25519 only")]
    UnsupportedKey {
        /// The key's scheme.
        crypto: &'static str,
    },
}

impl EpistulaError {
    /// The status SN1's miner answers: 400 for every refusal of its `verify_request` (wrong
    /// receiver, stale, bad signature); 400 here for the checks it lacks too.
    pub fn status(&self) -> u16 {
        400
    }

    /// A short stable code for response bodies and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            EpistulaError::MissingHeader { .. } => "missing_header",
            EpistulaError::DuplicateHeader { .. } => "duplicate_header",
            EpistulaError::InvalidHeader { .. } => "invalid_header",
            EpistulaError::UnsupportedVersion => "unsupported_version",
            EpistulaError::MalformedTimestamp => "malformed_timestamp",
            EpistulaError::MalformedSender => "malformed_sender",
            EpistulaError::MalformedSignature => "malformed_signature",
            EpistulaError::MissingReceiver => "missing_receiver",
            EpistulaError::WrongReceiver => "wrong_receiver",
            EpistulaError::StaleTimestamp { .. } => "stale_timestamp",
            EpistulaError::FutureTimestamp { .. } => "future_timestamp",
            EpistulaError::BadSignature => "bad_signature",
            EpistulaError::Replayed => "replayed",
            EpistulaError::BelowReplayHorizon => "replay_horizon",
            EpistulaError::UnsupportedKey { .. } => "unsupported_key",
        }
    }
}

/// The current time in milliseconds since the Unix epoch (SN1's `round(time.time() * 1000)`,
/// truncated; 0 before 1970).
pub fn unix_time_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// A random (version 4) uuid in its hyphenated lowercase text form, as Python's `str(uuid4())`.
pub fn uuid4() -> String {
    let mut b = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// The signed message: `"{body_sha256_hex}.{uuid}.{timestamp}.{signed_for}"`.
pub fn message(body_sha256_hex: &str, uuid: &str, timestamp_ms: u64, signed_for: &str) -> String {
    format!("{body_sha256_hex}.{uuid}.{timestamp_ms}.{signed_for}")
}

/// The lowercase hex sha256 of a body.
pub fn body_sha256_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Signs a request as SN1's `generate_header` does (without its copying of body fields into
/// headers): the headers to send with `body`. `uuid` must be fresh per request ([`uuid4`]).
pub fn sign_request(
    keypair: &Keypair,
    body: &[u8],
    signed_for: Option<&AccountId>,
    timestamp_ms: u64,
    uuid: &str,
) -> Result<Vec<(String, String)>, EpistulaError> {
    if keypair.crypto_type() != CryptoType::Sr25519 {
        return Err(EpistulaError::UnsupportedKey { crypto: keypair.crypto_type().name() });
    }
    let sign = |m: &str| format!("0x{}", hex::encode(keypair.sign(m.as_bytes())));
    let receiver = signed_for.map(AccountId::to_ss58);
    let msg = message(&body_sha256_hex(body), uuid, timestamp_ms, receiver.as_deref().unwrap_or(""));
    let mut headers = vec![
        (HEADER_VERSION.to_string(), VERSION.to_string()),
        (HEADER_TIMESTAMP.to_string(), timestamp_ms.to_string()),
        (HEADER_UUID.to_string(), uuid.to_string()),
        (HEADER_SIGNED_BY.to_string(), keypair.ss58_address()),
        (HEADER_SIGNATURE.to_string(), sign(&msg)),
    ];
    if let Some(r) = receiver {
        headers.push((HEADER_SIGNED_FOR.to_string(), r.clone()));
        // SN1: `ceil(timestamp / 1e4) * 1e4`, a float, and str() of it and of it ± 1.
        let interval = (timestamp_ms as f64 / 1e4).ceil() * 1e4;
        for (i, t) in [interval - 1.0, interval, interval + 1.0].into_iter().enumerate() {
            headers.push((format!("{HEADER_SECRET_SIGNATURE_PREFIX}{i}"), sign(&format!("{}.{r}", float_repr(t)))));
        }
    }
    Ok(headers)
}

/// [`sign_request`] now, with a fresh uuid.
pub fn sign_request_now(
    keypair: &Keypair,
    body: &[u8],
    signed_for: Option<&AccountId>,
) -> Result<Vec<(String, String)>, EpistulaError> {
    sign_request(keypair, body, signed_for, unix_time_ms(), &uuid4())
}
