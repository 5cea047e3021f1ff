//! The plaintext of a weights commit: SCALE of subtensor's `WeightsTlockPayload`.
//!
//! Invariants: [`WeightsTlockPayload::encode`] is the SCALE encoding of `{ hotkey: Vec<u8>,
//! uids: Vec<u16>, values: Vec<u16>, version_key: u64 }` (compact lengths, little-endian
//! integers), the bytes bittensor's SDK encrypts. [`WeightsTlockPayload::decode`] follows
//! `reveal_crv3_commits_for_subnet` step by step, so it accepts and rejects what the chain does.
//!
//! Failure modes: bytes that decode in neither form are [`DrandError::MalformedPayload`];
//! decoding never allocates more than the input can fill and never panics.

use codec::{Decode, Encode};

use crate::DrandError;

/// The hotkey length the chain decodes from `hotkey` (an `AccountId32`).
const ACCOUNT_LEN: usize = 32;

/// The weights a validator commits, as subtensor's `WeightsTlockPayload`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightsTlockPayload {
    /// The committer's hotkey public key (32 bytes); empty for a legacy payload.
    pub hotkey: Vec<u8>,
    /// Neuron uids.
    pub uids: Vec<u16>,
    /// Weights, one per uid (u16-normalized as for `set_weights`).
    pub values: Vec<u16>,
    /// The subnet's weights version key.
    pub version_key: u64,
}

#[derive(Encode)]
struct CurrentRef<'a> {
    hotkey: &'a [u8],
    uids: &'a [u16],
    values: &'a [u16],
    version_key: u64,
}

#[derive(Decode)]
struct Current {
    hotkey: Vec<u8>,
    uids: Vec<u16>,
    values: Vec<u16>,
    version_key: u64,
}

#[derive(Decode)]
struct Legacy {
    uids: Vec<u16>,
    values: Vec<u16>,
    version_key: u64,
}

impl WeightsTlockPayload {
    /// SCALE bytes of the current form (with hotkey), what [`crate::encrypt`] should encrypt.
    pub fn encode(&self) -> Vec<u8> {
        CurrentRef { hotkey: &self.hotkey, uids: &self.uids, values: &self.values, version_key: self.version_key }
            .encode()
    }

    /// Decodes a decrypted commit as the chain does: the current form first; if it does not
    /// decode, or its hotkey is shorter than an account id (32 bytes), the legacy form
    /// `{ uids, values, version_key }` (returned with an empty `hotkey`). Trailing bytes are
    /// ignored, as SCALE `decode` on the chain ignores them.
    ///
    /// The chain then drops a current-form payload whose [`WeightsTlockPayload::account`] is not
    /// the committer; that check needs the committer and is the caller's.
    pub fn decode(bytes: &[u8]) -> Result<Self, DrandError> {
        let current_error = match Current::decode(&mut &bytes[..]) {
            Ok(p) if p.hotkey.len() >= ACCOUNT_LEN => {
                return Ok(WeightsTlockPayload {
                    hotkey: p.hotkey,
                    uids: p.uids,
                    values: p.values,
                    version_key: p.version_key,
                });
            }
            Ok(p) => format!("hotkey is {} bytes, not an account id", p.hotkey.len()),
            Err(e) => e.to_string(),
        };
        match Legacy::decode(&mut &bytes[..]) {
            Ok(p) => Ok(WeightsTlockPayload {
                hotkey: Vec::new(),
                uids: p.uids,
                values: p.values,
                version_key: p.version_key,
            }),
            Err(e) => Err(DrandError::MalformedPayload(format!("current form: {current_error}; legacy form: {e}"))),
        }
    }

    /// The account the chain compares with the committer: the first 32 bytes of `hotkey` (what
    /// `AccountId32::decode` reads), or `None` for a legacy payload.
    pub fn account(&self) -> Option<[u8; 32]> {
        self.hotkey.get(..ACCOUNT_LEN).and_then(|a| a.try_into().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> WeightsTlockPayload {
        WeightsTlockPayload {
            hotkey: vec![0xab; 32],
            uids: vec![0, 1, 2],
            values: vec![65535, 1000, 3],
            version_key: 42,
        }
    }

    #[test]
    fn encodes_as_the_chain_struct() {
        let mut expected = vec![0x80];
        expected.extend_from_slice(&[0xab; 32]);
        expected.extend_from_slice(&[0x0c, 0x00, 0x00, 0x01, 0x00, 0x02, 0x00]);
        expected.extend_from_slice(&[0x0c, 0xff, 0xff, 0xe8, 0x03, 0x03, 0x00]);
        expected.extend_from_slice(&[0x2a, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(example().encode(), expected);
        assert_eq!(WeightsTlockPayload::decode(&expected).unwrap(), example());
    }

    #[test]
    fn legacy_form_decodes_with_empty_hotkey() {
        // { uids: [5], values: [7], version_key: 1 }
        let legacy = [0x04, 0x05, 0x00, 0x04, 0x07, 0x00, 1, 0, 0, 0, 0, 0, 0, 0];
        let p = WeightsTlockPayload::decode(&legacy).unwrap();
        assert_eq!(p, WeightsTlockPayload { hotkey: vec![], uids: vec![5], values: vec![7], version_key: 1 });
        assert_eq!(p.account(), None);
    }

    #[test]
    fn short_hotkey_falls_back_to_legacy_or_fails() {
        let short = WeightsTlockPayload { hotkey: vec![1, 2, 3], ..example() }.encode();
        // Read as legacy, the bytes are uids [0x0201, ...]; here they run out: an error.
        assert!(matches!(WeightsTlockPayload::decode(&short), Err(DrandError::MalformedPayload(_))));
    }

    #[test]
    fn account_is_first_32_bytes_and_trailing_bytes_are_ignored() {
        let long = WeightsTlockPayload { hotkey: [[9u8; 32].as_slice(), &[1, 2]].concat(), ..example() };
        let mut bytes = long.encode();
        bytes.extend_from_slice(b"junk");
        let p = WeightsTlockPayload::decode(&bytes).unwrap();
        assert_eq!(p, long);
        assert_eq!(p.account(), Some([9; 32]));
    }

    #[test]
    fn huge_length_prefix_is_an_error() {
        // compact big-integer mode: 2^32-1 uids, with four bytes of input.
        let bytes = [0x80, 0xab, 0x03, 0xff, 0xff, 0xff, 0xff, 0, 0];
        assert!(WeightsTlockPayload::decode(&bytes).is_err());
    }
}
