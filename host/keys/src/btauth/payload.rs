//! The signed bytes and the client side: nonces, payload, signing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};

use super::{
    HEADER_CRYPTO, HEADER_HOTKEY, HEADER_NONCE, HEADER_RECEIVER, HEADER_SIGNATURE, HEADER_VERSION, NO_RECEIVER,
    PROTOCOL, VERSION,
};
use crate::{AccountId, CryptoType, Keypair};

/// The current time in nanoseconds since the Unix epoch (0 if the clock is before 1970).
pub fn unix_time_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// A nonce for a new request: the current time in nanoseconds, but strictly greater than every
/// nonce this function returned before in this process, so two requests signed in the same
/// clock tick (or across a backwards clock step) never share a nonce and get refused as a replay.
pub fn fresh_nonce() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = unix_time_ns();
    let mut prev = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(prev.saturating_add(1));
        match LAST.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(actual) => prev = actual,
        }
    }
}

/// The exact bytes that are signed (the SDK's `build_payload`), from the body.
pub fn build_payload(
    crypto: CryptoType,
    method: &str,
    path: &str,
    body: &[u8],
    nonce_ns: u64,
    sender_ss58: &str,
    receiver_ss58: Option<&str>,
) -> Vec<u8> {
    build_payload_prehashed(crypto, method, path, &Sha256::digest(body).into(), nonce_ns, sender_ss58, receiver_ss58)
}

/// [`build_payload`] from the body's sha256 digest (for callers that send one body to many
/// receivers and hash it once).
pub fn build_payload_prehashed(
    crypto: CryptoType,
    method: &str,
    path: &str,
    body_sha256: &[u8; 32],
    nonce_ns: u64,
    sender_ss58: &str,
    receiver_ss58: Option<&str>,
) -> Vec<u8> {
    // The SDK writes `receiver or "-"`, so an empty receiver is unbound too.
    let receiver = receiver_ss58.filter(|r| !r.is_empty()).unwrap_or(NO_RECEIVER);
    let method = method.to_uppercase();
    let nonce = nonce_ns.to_string();
    let digest = hex::encode(body_sha256);
    let lines: [&str; 8] = [PROTOCOL, crypto.name(), &method, path, &digest, &nonce, sender_ss58, receiver];
    lines.join("\n").into_bytes()
}

/// Signs a request; returns the auth headers to send with it (the SDK's `http_auth.sign`).
///
/// `path` must be the request target exactly as the client sends it, query string included.
/// `nonce_ns` must be fresh for every request, retries included (see [`fresh_nonce`]).
pub fn sign_request(
    keypair: &Keypair,
    method: &str,
    path: &str,
    body: &[u8],
    receiver: Option<&AccountId>,
    nonce_ns: u64,
) -> Vec<(String, String)> {
    sign_request_prehashed(keypair, method, path, &Sha256::digest(body).into(), receiver, nonce_ns)
}

/// [`sign_request`] from the body's sha256 digest.
pub fn sign_request_prehashed(
    keypair: &Keypair,
    method: &str,
    path: &str,
    body_sha256: &[u8; 32],
    receiver: Option<&AccountId>,
    nonce_ns: u64,
) -> Vec<(String, String)> {
    let crypto = keypair.crypto_type();
    let sender = keypair.ss58_address();
    let receiver = receiver.map(AccountId::to_ss58);
    let payload = build_payload_prehashed(crypto, method, path, body_sha256, nonce_ns, &sender, receiver.as_deref());
    let signature = keypair.sign(&payload);
    let mut headers = vec![
        (HEADER_VERSION.to_string(), VERSION.to_string()),
        (HEADER_HOTKEY.to_string(), sender),
        (HEADER_NONCE.to_string(), nonce_ns.to_string()),
        (HEADER_SIGNATURE.to_string(), format!("0x{}", hex::encode(signature))),
    ];
    if crypto != CryptoType::Sr25519 {
        headers.push((HEADER_CRYPTO.to_string(), crypto.name().to_string()));
    }
    if let Some(receiver) = receiver {
        headers.push((HEADER_RECEIVER.to_string(), receiver));
    }
    headers
}

/// [`sign_request`] with a [`fresh_nonce`].
pub fn sign_request_now(
    keypair: &Keypair,
    method: &str,
    path: &str,
    body: &[u8],
    receiver: Option<&AccountId>,
) -> Vec<(String, String)> {
    sign_request(keypair, method, path, body, receiver, fresh_nonce())
}
