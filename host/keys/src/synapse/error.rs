//! [`SynapseError`]: why a Synapse request or response was refused, with the HTTP status a
//! bittensor 10.5 Axon answers for the same refusal.

/// Why a Synapse request or response was refused. [`status`](Self::status) is the HTTP status
/// a bittensor 10.5 Axon answers with for the same request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SynapseError {
    /// A header the check needs is absent.
    #[error("missing {header} header")]
    MissingHeader {
        /// The header name (lowercase, as on the wire).
        header: &'static str,
    },
    /// A Synapse header appears more than once.
    #[error("{header} header given more than once")]
    DuplicateHeader {
        /// The header name as received, lowercased (truncated to 64 bytes).
        header: String,
    },
    /// A header value cannot be read as the field it fills (the Axon's `SynapseParsingError`).
    #[error("{header} header is malformed: {reason}")]
    MalformedHeader {
        /// The header name as received, lowercased (truncated to 64 bytes).
        header: String,
        /// Why.
        reason: &'static str,
    },
    /// Too many Synapse headers, or a value too long to be one a dendrite sends.
    #[error("synapse headers too large: {reason}")]
    HeadersTooLarge {
        /// Which bound was exceeded.
        reason: &'static str,
    },
    /// The dendrite hotkey is not a valid SS58 address.
    #[error("dendrite hotkey is not a valid SS58 address")]
    MalformedHotkey,
    /// The signature is not `0x` followed by 128 hex digits.
    #[error("signature is not 0x-prefixed hex of 64 bytes")]
    MalformedSignature,
    /// The request names another axon hotkey than this one.
    #[error("request is addressed to another axon hotkey")]
    WrongAxon,
    /// The first nonce seen for this `hotkey:uuid` is older than the window.
    #[error("nonce is too old: acceptable delta is {allowed_ms} ms")]
    StaleNonce {
        /// The allowed delta (4 s plus the request's timeout), in milliseconds.
        allowed_ms: u64,
    },
    /// The nonce is not newer than the last one accepted for this `hotkey:uuid`.
    #[error("nonce is too old, a newer one was last processed")]
    NonceNotNewer,
    /// The nonce is below what the bounded nonce store can vouch for (it forgot this sender's
    /// state); a fresh nonce is accepted.
    #[error("nonce is older than the nonce store's horizon; retry with a fresh nonce")]
    BelowNonceHorizon,
    /// The dendrite's version predates 7.2.0 and this verifier refuses such nonce rules.
    #[error("dendrite version {version} predates the 7.2.0 nonce rules")]
    LegacyVersion {
        /// The version as an int.
        version: i64,
    },
    /// The signature does not verify.
    #[error("signature does not verify against the dendrite hotkey")]
    BadSignature,
    /// The key cannot sign this protocol (Synapse and Epistula are sr25519 only).
    #[error("{crypto} keys cannot sign this protocol; it is sr25519 only")]
    UnsupportedKey {
        /// The scheme of the key given.
        crypto: &'static str,
    },
    /// The body is not JSON as Python reads it.
    #[error("body is not valid JSON: {reason}")]
    MalformedBody {
        /// Why.
        reason: &'static str,
    },
    /// The body lacks a field the hash covers.
    #[error("body has no field {field:?} (a required hash field)")]
    MissingHashField {
        /// The field name (truncated to 64 bytes).
        field: String,
    },
    /// The body's hash differs from `computed_body_hash`.
    #[error("hash mismatch between header body hash and parsed body hash")]
    BodyHashMismatch,
    /// No synapse of this name is served (the Axon's `UnknownSynapseError`).
    #[error("synapse name {name:?} not found")]
    UnknownSynapse {
        /// The name (truncated to 64 bytes).
        name: String,
    },
    /// The server's blacklist refused the caller (not registered, no permit, ...).
    #[error("forbidden, key is blacklisted: {reason}")]
    Blacklisted {
        /// The reason given back to the caller.
        reason: String,
    },
    /// The server's priority queue is full (the Axon's `PriorityException`).
    #[error("server is overloaded")]
    Overloaded,
    /// Answering took longer than the request's timeout.
    #[error("response timeout")]
    Timeout,
}

impl SynapseError {
    /// The HTTP status a bittensor 10.5 Axon answers with (checked against a real one in the
    /// interop tests): 401 for every failure inside its `default_verify` (missing or malformed
    /// hotkey, nonce or signature, stale or repeated nonce, bad signature), 403 blacklisted,
    /// 404 unknown synapse, 408 timeout, 503 overloaded, and 500 both for headers that cannot
    /// be read into a synapse (its `SynapseParsingError` is not a `SynapseException`, so the
    /// middleware answers it as an internal error) and for a body that fails the integrity check
    /// (a plain `ValueError` there).
    pub fn status(&self) -> u16 {
        match self {
            SynapseError::MissingHeader { .. }
            | SynapseError::MalformedHotkey
            | SynapseError::MalformedSignature
            | SynapseError::WrongAxon
            | SynapseError::StaleNonce { .. }
            | SynapseError::NonceNotNewer
            | SynapseError::BelowNonceHorizon
            | SynapseError::LegacyVersion { .. }
            | SynapseError::BadSignature
            | SynapseError::UnsupportedKey { .. } => 401,
            SynapseError::Blacklisted { .. } => 403,
            SynapseError::UnknownSynapse { .. } => 404,
            SynapseError::Timeout => 408,
            SynapseError::DuplicateHeader { .. }
            | SynapseError::MalformedHeader { .. }
            | SynapseError::HeadersTooLarge { .. }
            | SynapseError::MalformedBody { .. }
            | SynapseError::MissingHashField { .. }
            | SynapseError::BodyHashMismatch => 500,
            SynapseError::Overloaded => 503,
        }
    }

    /// A short stable code for response bodies and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            SynapseError::MissingHeader { .. } => "missing_header",
            SynapseError::DuplicateHeader { .. } => "duplicate_header",
            SynapseError::MalformedHeader { .. } => "malformed_header",
            SynapseError::HeadersTooLarge { .. } => "headers_too_large",
            SynapseError::MalformedHotkey => "malformed_hotkey",
            SynapseError::MalformedSignature => "malformed_signature",
            SynapseError::WrongAxon => "wrong_axon",
            SynapseError::StaleNonce { .. } => "stale_nonce",
            SynapseError::NonceNotNewer => "nonce_not_newer",
            SynapseError::BelowNonceHorizon => "nonce_horizon",
            SynapseError::LegacyVersion { .. } => "legacy_version",
            SynapseError::BadSignature => "bad_signature",
            SynapseError::UnsupportedKey { .. } => "unsupported_key",
            SynapseError::MalformedBody { .. } => "malformed_body",
            SynapseError::MissingHashField { .. } => "missing_hash_field",
            SynapseError::BodyHashMismatch => "body_hash_mismatch",
            SynapseError::UnknownSynapse { .. } => "unknown_synapse",
            SynapseError::Blacklisted { .. } => "blacklisted",
            SynapseError::Overloaded => "overloaded",
            SynapseError::Timeout => "timeout",
        }
    }
}

/// At most 64 bytes of `s`, cut on a character boundary, for error messages.
pub(super) fn clip(s: &str) -> String {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}
