//! [`AuthError`]: why a request failed authentication, with its stable code, HTTP status and
//! SDK exception class.

use std::time::Duration;

use super::{HEADER_CRYPTO, HEADER_HOTKEY, HEADER_NONCE, HEADER_RECEIVER, HEADER_SIGNATURE, HEADER_VERSION, VERSION};

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
