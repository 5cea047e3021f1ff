//! BIP-39 mnemonics as Substrate (and so btcli) turns them into keys: the phrase's entropy,
//! stretched with PBKDF2-HMAC-SHA512 (2048 rounds, salt `"mnemonic" + password`), gives a
//! 64-byte seed whose first 32 bytes are the key's seed (an sr25519 mini secret expanded in
//! Ed25519 mode, or an ed25519 secret key): the same key `btcli wallet regen_coldkey
//! --mnemonic` and `Keypair.create_from_mnemonic` make from the same words. Note that this is
//! the entropy, not the BIP-39 seed of the words' text: Substrate's derivation, not Bitcoin's.
//!
//! Word lists: English only (btcli's). A phrase that is not 12, 15, 18, 21 or 24 known words
//! with a valid checksum is a [`KeyError::InvalidMnemonic`].

use rand_core::{OsRng, RngCore as _};
use sha2::Sha512;
use zeroize::Zeroizing;

use crate::{CryptoType, KeyError, Keypair};

/// PBKDF2 rounds of Substrate's mnemonic derivation.
const ROUNDS: u32 = 2048;

/// A new random English mnemonic of `words` words (12, 15, 18, 21 or 24).
pub fn generate_mnemonic(words: usize) -> Result<Zeroizing<String>, KeyError> {
    let bytes = match words {
        12 | 15 | 18 | 21 | 24 => words / 3 * 4,
        _ => return Err(invalid(format!("{words} words; a mnemonic has 12, 15, 18, 21 or 24"))),
    };
    let mut entropy = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(&mut entropy[..bytes]);
    let mnemonic = bip39::Mnemonic::from_entropy(&entropy[..bytes]).map_err(|e| invalid(e.to_string()))?;
    Ok(Zeroizing::new(mnemonic.to_string()))
}

fn invalid(reason: String) -> KeyError {
    KeyError::InvalidMnemonic { reason }
}

impl Keypair {
    /// The keypair of a mnemonic (see the module docs); `password` is the mnemonic's optional
    /// BIP-39 passphrase (btcli uses none: `""`).
    pub fn from_mnemonic(crypto: CryptoType, phrase: &str, password: &str) -> Result<Self, KeyError> {
        let words: Vec<&str> = phrase.split_whitespace().collect();
        let normalized = Zeroizing::new(words.join(" ").to_lowercase());
        let mnemonic = bip39::Mnemonic::parse_normalized(&normalized).map_err(|e| invalid(e.to_string()))?;
        let (entropy, len) = mnemonic.to_entropy_array();
        let entropy = Zeroizing::new(entropy);
        let salt = Zeroizing::new(format!("mnemonic{password}"));
        let mut seed = Zeroizing::new([0u8; 64]);
        pbkdf2::pbkdf2_hmac::<Sha512>(&entropy[..len], salt.as_bytes(), ROUNDS, &mut seed[..]);
        let mut mini = Zeroizing::new([0u8; 32]);
        mini.copy_from_slice(&seed[..32]);
        Ok(Self::from_seed(crypto, &mini))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substrate_vectors() {
        // Substrate's well-known development phrase: its sr25519 key is Alice's base key
        // (`//Alice` derives from it), 5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV.
        let dev = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
        let k = Keypair::from_mnemonic(CryptoType::Sr25519, dev, "").unwrap();
        assert_eq!(k.ss58_address(), "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV");
        // Whitespace and case do not change the key; the passphrase does.
        let spaced = Keypair::from_mnemonic(
            CryptoType::Sr25519,
            "  Bottom drive obey lake curtain smoke basket hold race lonely fit   walk\n",
            "",
        )
        .unwrap();
        assert_eq!(spaced.account_id(), k.account_id());
        let other = Keypair::from_mnemonic(CryptoType::Sr25519, dev, "pass").unwrap();
        assert_ne!(other.account_id(), k.account_id());
        // An ed25519 hotkey the bittensor SDK wrote (bittensor-core 0.1.5): its phrase and its
        // secretSeed 0x667cdd9e...c68cc5 name the same key.
        let sdk = "gallery wide sample leisure quick shrimp layer coyote tape ecology manage duck";
        let ed = Keypair::from_mnemonic(CryptoType::Ed25519, sdk, "").unwrap();
        assert_eq!(ed.ss58_address(), "5Cu2TckU7QFJ9WiRoW3299bgJ3rRrW6G6JGjo2Ug75fpyeaj");
    }

    #[test]
    fn generated_phrases_round_trip_and_bad_ones_are_refused() {
        for words in [12, 15, 18, 21, 24] {
            let phrase = generate_mnemonic(words).unwrap();
            assert_eq!(phrase.split(' ').count(), words);
            let a = Keypair::from_mnemonic(CryptoType::Sr25519, &phrase, "").unwrap();
            let b = Keypair::from_mnemonic(CryptoType::Sr25519, &phrase, "").unwrap();
            assert_eq!(a.account_id(), b.account_id());
        }
        assert!(matches!(generate_mnemonic(13), Err(KeyError::InvalidMnemonic { .. })));
        let dev = "bottom drive obey lake curtain smoke basket hold race lonely fit fit";
        assert!(matches!(Keypair::from_mnemonic(CryptoType::Sr25519, dev, ""), Err(KeyError::InvalidMnemonic { .. })));
        assert!(matches!(
            Keypair::from_mnemonic(CryptoType::Sr25519, "not words", ""),
            Err(KeyError::InvalidMnemonic { .. })
        ));
    }
}
