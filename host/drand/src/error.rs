//! The crate's one error type.

/// Why a beacon, pulse, ciphertext or payload was refused. Every public function that reads bytes
/// returns this instead of panicking.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrandError {
    /// The beacon public key is not a 96-byte compressed G2 point of the prime-order subgroup
    /// (the identity point is refused too: it would make every signature valid).
    #[error("invalid beacon public key ({len} bytes): {reason}")]
    InvalidPublicKey {
        /// Length of the bytes given.
        len: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// The signature is not a 48-byte compressed G1 point of the prime-order subgroup.
    #[error("malformed pulse signature ({len} bytes): {reason}")]
    MalformedSignature {
        /// Length of the bytes given.
        len: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// The signature is a valid point but not the beacon's signature of this round.
    #[error("pulse signature does not verify for round {round}")]
    BadSignature {
        /// The round the pulse claimed.
        round: u64,
    },
    /// The ciphertext does not have the `TLECiphertext` layout (truncated, wrong field sizes,
    /// a point off the curve or outside the subgroup).
    #[error("malformed timelock ciphertext: {0}")]
    MalformedCiphertext(&'static str),
    /// The signature is not the key of this ciphertext: it belongs to another round or another
    /// beacon, or the ciphertext's IBE header was altered.
    #[error("signature does not open this ciphertext (another round or beacon, or a tampered header)")]
    WrongSignature,
    /// The IBE header opened but the AES-GCM body did not authenticate: the body was altered.
    #[error("ciphertext body failed authentication")]
    BodyAuthentication,
    /// The plaintext exceeds AES-GCM's limit (about 64 GiB).
    #[error("plaintext too long for AES-GCM")]
    PlaintextTooLong,
    /// Hashing the round to G1 failed; cannot happen with BLS12-381's parameters, kept typed
    /// rather than unwrapped.
    #[error("hash to G1 failed")]
    HashToCurve,
    /// The plaintext is not a SCALE `WeightsTlockPayload` in either the current or the legacy form.
    #[error("undecodable weights payload: {0}")]
    MalformedPayload(String),
}
