//! Account ids and SS58 addresses.
//!
//! Invariants: an [`AccountId`] is exactly 32 bytes (the raw public key). SS58 encoding uses the
//! blake2b-512 `"SS58PRE"` checksum (2 bytes); decoding accepts any valid simple (0..=63) or full
//! (64..=16383) prefix and returns it, so callers that must pin the network compare it themselves.
//! Failure modes: decoding returns [`KeyError::InvalidSs58`] (never panics) for text that is too
//! long, not base58, the wrong length, a reserved prefix or a bad checksum.

use std::fmt;

use blake2::{Blake2b512, Digest as _};

use crate::KeyError;

/// The SS58 address prefix of Bittensor networks (the generic Substrate prefix).
pub const SS58_PREFIX: u16 = 42;

/// A 32-byte account id (the raw public key), as carried inside SS58 addresses.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub [u8; 32]);

impl AccountId {
    /// Decodes an SS58 address (any valid prefix).
    pub fn from_ss58(address: &str) -> Result<Self, KeyError> {
        ss58_decode(address).map(|(_, id)| id)
    }

    /// Encodes with the Bittensor prefix (42).
    pub fn to_ss58(&self) -> String {
        ss58_encode(SS58_PREFIX, self)
    }

    /// Wraps a raw 32-byte public key.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Serialised as its SS58 text (prefix 42), so stored records and JSON reports stay readable.
impl serde::Serialize for AccountId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_ss58())
    }
}

impl<'de> serde::Deserialize<'de> for AccountId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        AccountId::from_ss58(&text).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for AccountId {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_ss58(s)
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", self.to_ss58())
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_ss58())
    }
}

fn ss58_checksum(data: &[u8]) -> [u8; 2] {
    let mut h = Blake2b512::new();
    h.update(b"SS58PRE");
    h.update(data);
    let out = h.finalize();
    [out[0], out[1]]
}

/// Encodes a 32-byte account id as SS58 with `prefix` (values above 16383 are reduced modulo 16384,
/// the largest prefix SS58 can express).
pub fn ss58_encode(prefix: u16, account: &AccountId) -> String {
    let prefix = prefix & 0x3fff;
    let mut data = Vec::with_capacity(36);
    if prefix < 64 {
        data.push(prefix as u8);
    } else {
        // SS58 "full" prefix: 14 bits spread over two bytes, first byte tagged 0b01.
        data.push((((prefix & 0x00fc) >> 2) as u8) | 0x40);
        data.push(((prefix >> 8) as u8) | (((prefix & 0x0003) << 6) as u8));
    }
    data.extend_from_slice(&account.0);
    let sum = ss58_checksum(&data);
    data.extend_from_slice(&sum);
    bs58::encode(data).into_string()
}

/// Decodes an SS58 address carrying a 32-byte account id; returns `(prefix, account)`.
pub fn ss58_decode(address: &str) -> Result<(u16, AccountId), KeyError> {
    let err = |reason| KeyError::InvalidSs58 { address: address.chars().take(64).collect(), reason };
    // 2 + 32 + 2 bytes encode to at most 50 base58 digits; refuse long input before decoding.
    if address.len() > 64 {
        return Err(err("too long"));
    }
    let data = bs58::decode(address).into_vec().map_err(|_| err("not base58"))?;
    let (prefix, prefix_len) = match data.first() {
        None => return Err(err("empty")),
        Some(&b) if b < 64 => (u16::from(b), 1),
        Some(&b) if b < 128 => {
            let second = *data.get(1).ok_or_else(|| err("truncated prefix"))?;
            let lower = (b << 2) | (second >> 6);
            let upper = second & 0x3f;
            (u16::from(lower) | (u16::from(upper) << 8), 2)
        }
        Some(_) => return Err(err("reserved prefix byte")),
    };
    if data.len() != prefix_len + 32 + 2 {
        return Err(err("wrong length for a 32-byte account id"));
    }
    let (body, sum) = data.split_at(prefix_len + 32);
    if ss58_checksum(body) != sum {
        return Err(err("bad checksum"));
    }
    let mut id = [0u8; 32];
    id.copy_from_slice(&body[prefix_len..]);
    Ok((prefix, AccountId(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE_PUB: &str = "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";
    const ALICE_SS58: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

    fn alice_id() -> AccountId {
        AccountId(hex::decode(ALICE_PUB).unwrap().try_into().unwrap())
    }

    #[test]
    fn ss58_known_vectors() {
        assert_eq!(alice_id().to_ss58(), ALICE_SS58);
        assert_eq!(ss58_decode(ALICE_SS58).unwrap(), (42, alice_id()));
        // Same key on Polkadot (prefix 0) and Kusama (prefix 2).
        assert_eq!(ss58_encode(0, &alice_id()), "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5");
        assert_eq!(ss58_encode(2, &alice_id()), "HNZata7iMYWmk5RvZRTiAsSDhV8366zq2YGb3tLH5Upf74F");
        assert_eq!(ss58_decode("15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5").unwrap().0, 0);
        // Two-byte prefixes round-trip.
        for prefix in [64u16, 255, 1284, 16383] {
            let a = ss58_encode(prefix, &alice_id());
            assert_eq!(ss58_decode(&a).unwrap(), (prefix, alice_id()), "prefix {prefix}");
        }
    }

    #[test]
    fn ss58_rejects_bad_input() {
        let mut bad = ALICE_SS58.to_string();
        bad.replace_range(10..11, if &bad[10..11] == "a" { "b" } else { "a" });
        assert!(matches!(ss58_decode(&bad), Err(KeyError::InvalidSs58 { reason: "bad checksum", .. })));
        assert!(ss58_decode("").is_err());
        assert!(ss58_decode("0OIl").is_err());
        assert!(ss58_decode(&ALICE_SS58[..40]).is_err());
        assert!(ss58_decode(&"5".repeat(200)).is_err());
    }
}
