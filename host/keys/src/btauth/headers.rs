//! Finding and parsing the auth headers: case-insensitive names, duplicate and oversize refusal,
//! the nonce as Python's `int()` reads it and the signature as `bytes.fromhex` does.

use super::{AuthError, HEADER_CRYPTO, HEADER_HOTKEY, HEADER_NONCE, HEADER_RECEIVER, HEADER_SIGNATURE, HEADER_VERSION};

/// One header as a name and a value, so any HTTP library's header list can be passed without
/// this crate depending on it: `(K, V)` and `&(K, V)` for `K: AsRef<str>`, `V: AsRef<[u8]>`
/// cover `Vec<(String, String)>`, `&[(&str, &str)]` and `http::HeaderMap::iter()`.
pub trait HeaderPair {
    /// The header name (compared case-insensitively).
    fn name(&self) -> &str;
    /// The raw value.
    fn value(&self) -> &[u8];
}

impl<K: AsRef<str>, V: AsRef<[u8]>> HeaderPair for (K, V) {
    fn name(&self) -> &str {
        self.0.as_ref()
    }
    fn value(&self) -> &[u8] {
        self.1.as_ref()
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>> HeaderPair for &(K, V) {
    fn name(&self) -> &str {
        self.0.as_ref()
    }
    fn value(&self) -> &[u8] {
        self.1.as_ref()
    }
}

/// The six auth headers; [`AuthHeaderValues`] stores their values in this order.
const NAMES: [&str; 6] =
    [HEADER_VERSION, HEADER_HOTKEY, HEADER_RECEIVER, HEADER_NONCE, HEADER_CRYPTO, HEADER_SIGNATURE];

/// A header value longer than this is not one the protocol produces (the longest is the
/// 130-character signature); refusing it early keeps garbage cheap.
const MAX_AUTH_VALUE_LEN: usize = 512;

/// The auth headers' values, found case-insensitively. Values are copied out so the caller's
/// iterator may yield temporaries (as `HeaderMap::iter` does).
pub(super) struct AuthHeaderValues {
    values: [Option<String>; 6],
}

impl AuthHeaderValues {
    pub(super) fn collect<H: HeaderPair>(headers: impl IntoIterator<Item = H>) -> Result<Self, AuthError> {
        let mut values: [Option<String>; 6] = Default::default();
        for h in headers {
            let name = h.name();
            let Some(i) = NAMES.iter().position(|n| n.eq_ignore_ascii_case(name)) else { continue };
            let header = NAMES[i];
            if values[i].is_some() {
                return Err(AuthError::DuplicateHeader { header });
            }
            let value = h.value();
            if value.len() > MAX_AUTH_VALUE_LEN {
                return Err(oversized(header));
            }
            let text = std::str::from_utf8(value).map_err(|_| AuthError::NonTextHeader { header })?;
            values[i] = Some(text.to_string());
        }
        Ok(AuthHeaderValues { values })
    }

    pub(super) fn get(&self, header: &str) -> Option<&str> {
        let i = NAMES.iter().position(|n| *n == header)?;
        self.values[i].as_deref()
    }
}

/// The error for an auth header too long to be valid: what a parse of it would have said.
fn oversized(header: &'static str) -> AuthError {
    match header {
        HEADER_VERSION => AuthError::UnsupportedVersion,
        HEADER_HOTKEY => AuthError::MalformedHotkey,
        HEADER_RECEIVER => AuthError::WrongReceiver,
        HEADER_NONCE => AuthError::MalformedNonce,
        HEADER_CRYPTO => AuthError::UnsupportedCrypto,
        _ => AuthError::MalformedSignature,
    }
}

pub(super) enum ParsedNonce {
    Value(u64),
    Negative,
    TooLarge,
}

/// Parses a nonce as Python's `int()` reads ASCII text: surrounding whitespace, an optional sign,
/// decimal digits with single underscores between them.
pub(super) fn parse_nonce(text: &str) -> Result<ParsedNonce, AuthError> {
    let t = text.trim();
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let bytes = digits.as_bytes();
    if bytes.is_empty() || !bytes[0].is_ascii_digit() || !bytes[bytes.len() - 1].is_ascii_digit() {
        return Err(AuthError::MalformedNonce);
    }
    let mut value: u64 = 0;
    let mut overflow = false;
    let mut prev_underscore = false;
    for &b in bytes {
        match b {
            b'_' if !prev_underscore => prev_underscore = true,
            b'0'..=b'9' => {
                prev_underscore = false;
                match value.checked_mul(10).and_then(|v| v.checked_add(u64::from(b - b'0'))) {
                    Some(v) => value = v,
                    None => overflow = true,
                }
            }
            _ => return Err(AuthError::MalformedNonce),
        }
    }
    Ok(match (negative, overflow) {
        (true, _) if overflow || value > 0 => ParsedNonce::Negative,
        (_, true) => ParsedNonce::TooLarge,
        _ => ParsedNonce::Value(value),
    })
}

/// Decodes the signature like the SDK's `bytes.fromhex(value.removeprefix("0x"))` (ASCII
/// whitespace between byte pairs is skipped) and requires 64 bytes.
pub(crate) fn parse_signature(text: &str) -> Result<[u8; 64], AuthError> {
    let hex_text = text.strip_prefix("0x").unwrap_or(text).as_bytes();
    let mut out = [0u8; 64];
    let mut n = 0;
    let mut i = 0;
    let nibble = |c: u8| -> Result<u8, AuthError> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(AuthError::MalformedSignature),
        }
    };
    while i < hex_text.len() {
        if hex_text[i].is_ascii_whitespace() || hex_text[i] == 0x0b {
            i += 1;
            continue;
        }
        let hi = nibble(hex_text[i])?;
        let lo = nibble(*hex_text.get(i + 1).ok_or(AuthError::MalformedSignature)?)?;
        if n == out.len() {
            return Err(AuthError::MalformedSignature);
        }
        out[n] = (hi << 4) | lo;
        n += 1;
        i += 2;
    }
    if n != out.len() {
        return Err(AuthError::MalformedSignature);
    }
    Ok(out)
}
