//! Keypairs: sr25519 (schnorrkel) and ed25519 signing, verification, development URIs.
//!
//! Invariants: signatures are byte-compatible with Substrate and the bittensor SDK: sr25519 signs
//! with the schnorrkel signing context `b"substrate"`, ed25519 is RFC 8032 (verification is
//! strict: non-canonical and small-order encodings are refused). Mini secrets (32-byte seeds)
//! expand with schnorrkel's *Ed25519* expansion mode, as `sp_core` does. Secret material is
//! zeroised on drop and `Debug` never prints it.
//!
//! Failure modes: [`verify`] returns `Ok(false)` for a well-formed signature that does not verify
//! and [`KeyError::InvalidEncoding`] for undecodable input; [`Keypair::from_uri`] refuses what it
//! does not implement with [`KeyError::InvalidUri`].

use std::fmt;

use blake2::Digest as _;
use rand_core::{OsRng, RngCore as _};
use zeroize::Zeroizing;

use crate::{AccountId, KeyError};

/// The schnorrkel signing context Substrate uses for sr25519 signatures.
pub const SR25519_SIGNING_CONTEXT: &[u8] = b"substrate";

/// The secret seed of Substrate's development phrase
/// ("bottom drive obey lake curtain smoke basket hold race lonely fit walk"), the root of `//Alice`.
const DEV_PHRASE_SEED: [u8; 32] = [
    0xfa, 0xc7, 0x95, 0x9d, 0xbf, 0xe7, 0x2f, 0x05, 0x2e, 0x5a, 0x0c, 0x3c, 0x8d, 0x65, 0x30, 0xf2, 0x02, 0xb0, 0x2f,
    0xd8, 0xf9, 0xf5, 0xca, 0x35, 0x80, 0xec, 0x8d, 0xeb, 0x77, 0x97, 0x47, 0x9e,
];

/// The signature scheme of a key. Codes match the SDK's `CRYPTO_ED25519` (0) and `CRYPTO_SR25519` (1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CryptoType {
    /// Ed25519 (RFC 8032).
    Ed25519,
    /// Schnorrkel/Ristretto sr25519, Substrate's default (and bittensor's, for hotkeys).
    Sr25519,
}

impl CryptoType {
    /// The scheme name used on the wire (`"sr25519"`, `"ed25519"`).
    pub fn name(self) -> &'static str {
        match self {
            CryptoType::Ed25519 => "ed25519",
            CryptoType::Sr25519 => "sr25519",
        }
    }

    /// The SDK's numeric code (`cryptoType` in keyfiles).
    pub fn code(self) -> u8 {
        match self {
            CryptoType::Ed25519 => 0,
            CryptoType::Sr25519 => 1,
        }
    }

    /// From the SDK's numeric code.
    pub fn from_code(code: u64) -> Option<Self> {
        match code {
            0 => Some(CryptoType::Ed25519),
            1 => Some(CryptoType::Sr25519),
            _ => None,
        }
    }

    /// Parses a scheme the way the SDK's `parse_crypto_type` does: the name or the numeric code,
    /// surrounding whitespace ignored, case-insensitive.
    pub fn parse(value: &str) -> Option<Self> {
        let v = value.trim().to_ascii_lowercase();
        match v.as_str() {
            "ed25519" => Some(CryptoType::Ed25519),
            "sr25519" => Some(CryptoType::Sr25519),
            digits if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                digits.parse::<u64>().ok().and_then(Self::from_code)
            }
            _ => None,
        }
    }
}

impl fmt::Display for CryptoType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Verifies `signature` over `message` by `account` under `crypto`.
///
/// Returns `Ok(false)` for a well-formed signature that does not verify, and
/// [`KeyError::InvalidEncoding`] when the signature or public key cannot be decoded (wrong length,
/// not a curve point, an sr25519 signature without schnorrkel's marker bit).
pub fn verify(crypto: CryptoType, account: &AccountId, message: &[u8], signature: &[u8]) -> Result<bool, KeyError> {
    match crypto {
        CryptoType::Sr25519 => {
            if signature.len() != 64 {
                return Err(KeyError::InvalidEncoding { what: "signature", reason: "sr25519 signatures are 64 bytes" });
            }
            let public = schnorrkel::PublicKey::from_bytes(&account.0)
                .map_err(|_| KeyError::InvalidEncoding { what: "public key", reason: "not a valid ristretto point" })?;
            let sig = schnorrkel::Signature::from_bytes(signature)
                .map_err(|_| KeyError::InvalidEncoding { what: "signature", reason: "not a schnorrkel signature" })?;
            Ok(public.verify_simple(SR25519_SIGNING_CONTEXT, message, &sig).is_ok())
        }
        CryptoType::Ed25519 => {
            let sig_bytes: [u8; 64] = signature.try_into().map_err(|_| KeyError::InvalidEncoding {
                what: "signature",
                reason: "ed25519 signatures are 64 bytes",
            })?;
            let public = ed25519_dalek::VerifyingKey::from_bytes(&account.0)
                .map_err(|_| KeyError::InvalidEncoding { what: "public key", reason: "not a valid ed25519 point" })?;
            let sig = ed25519_dalek::Signature::from_bytes(&sig_bytes);
            Ok(public.verify_strict(message, &sig).is_ok())
        }
    }
}

pub(crate) enum Secret {
    Sr25519(schnorrkel::Keypair),
    Ed25519(ed25519_dalek::SigningKey),
}

/// A signing keypair (a hotkey). Cheap to clone; secrets are zeroised on drop.
pub struct Keypair {
    pub(crate) secret: Secret,
    /// The 32-byte mini secret / ed25519 seed when known (not for keys derived by soft junctions
    /// or loaded from an sr25519 `privateKey`); written to keyfiles as `secretSeed`.
    pub(crate) seed: Option<Zeroizing<[u8; 32]>>,
}

/// A hotkey is a [`Keypair`]; the alias reads better at call sites that deal with wallets.
pub type Hotkey = Keypair;

impl Clone for Keypair {
    fn clone(&self) -> Self {
        let secret = match &self.secret {
            Secret::Sr25519(kp) => Secret::Sr25519(kp.clone()),
            Secret::Ed25519(sk) => Secret::Ed25519(sk.clone()),
        };
        Keypair { secret, seed: self.seed.clone() }
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair")
            .field("crypto", &self.crypto_type())
            .field("ss58", &self.ss58_address())
            .finish_non_exhaustive()
    }
}

impl Keypair {
    /// A fresh random keypair from the operating system's CSPRNG.
    pub fn generate(crypto: CryptoType) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut seed[..]);
        Self::from_seed(crypto, &seed)
    }

    /// The keypair for a 32-byte seed (`secretSeed` in keyfiles): an sr25519 mini secret expanded in
    /// Ed25519 mode, or an ed25519 secret key.
    pub fn from_seed(crypto: CryptoType, seed: &[u8; 32]) -> Self {
        let secret = match crypto {
            CryptoType::Sr25519 => {
                // A 32-byte slice always makes a MiniSecretKey; the fallback is unreachable.
                match schnorrkel::MiniSecretKey::from_bytes(seed) {
                    Ok(mini) => Secret::Sr25519(mini.expand_to_keypair(schnorrkel::ExpansionMode::Ed25519)),
                    Err(_) => unreachable_seed(),
                }
            }
            CryptoType::Ed25519 => Secret::Ed25519(ed25519_dalek::SigningKey::from_bytes(seed)),
        };
        Keypair { secret, seed: Some(Zeroizing::new(*seed)) }
    }

    /// Derives a keypair from a Substrate development URI such as `//Alice`, `//Alice//stash`,
    /// `//1` or `//Alice/soft` (soft junctions are sr25519 only), rooted at the development phrase.
    pub fn from_uri(crypto: CryptoType, uri: &str) -> Result<Self, KeyError> {
        let bad = |reason: &str| KeyError::InvalidUri { reason: reason.to_string() };
        if uri.contains("///") {
            return Err(bad("passwords (///) are not supported"));
        }
        if !uri.is_empty() && !uri.starts_with('/') {
            return Err(bad("only development-phrase URIs (starting with '/') are supported"));
        }
        let mut junctions = Vec::new();
        let mut rest = uri;
        while !rest.is_empty() {
            let (hard, tail) = match rest.strip_prefix("//") {
                Some(t) => (true, t),
                None => (false, rest.strip_prefix('/').ok_or_else(|| bad("malformed path"))?),
            };
            let end = tail.find('/').unwrap_or(tail.len());
            let name = &tail[..end];
            if name.is_empty() {
                return Err(bad("empty junction"));
            }
            junctions.push((hard, chain_code(name)));
            rest = &tail[end..];
        }

        match crypto {
            CryptoType::Sr25519 => {
                let mut seed = Some(Zeroizing::new(DEV_PHRASE_SEED));
                let mut kp = match schnorrkel::MiniSecretKey::from_bytes(&DEV_PHRASE_SEED) {
                    Ok(m) => m.expand_to_keypair(schnorrkel::ExpansionMode::Ed25519),
                    Err(_) => unreachable_seed(),
                };
                for (hard, cc) in junctions {
                    if hard {
                        let (mini, _) =
                            kp.secret.hard_derive_mini_secret_key(Some(schnorrkel::derive::ChainCode(cc)), b"");
                        seed = Some(Zeroizing::new(mini.to_bytes()));
                        kp = mini.expand_to_keypair(schnorrkel::ExpansionMode::Ed25519);
                    } else {
                        let (derived, _) = schnorrkel::derive::Derivation::derived_key_simple(
                            &kp,
                            schnorrkel::derive::ChainCode(cc),
                            [],
                        );
                        // A soft-derived key has no mini secret; keyfiles carry its privateKey instead.
                        seed = None;
                        kp = derived;
                    }
                }
                Ok(Keypair { secret: Secret::Sr25519(kp), seed })
            }
            CryptoType::Ed25519 => {
                let mut seed = Zeroizing::new(DEV_PHRASE_SEED);
                for (hard, cc) in junctions {
                    if !hard {
                        return Err(bad("ed25519 supports hard junctions (//) only"));
                    }
                    // sp_core: blake2b-256 of SCALE("Ed25519HDKD", seed, chain code).
                    let mut h = blake2::Blake2b::<blake2::digest::consts::U32>::new();
                    h.update([11u8 << 2]);
                    h.update(b"Ed25519HDKD");
                    h.update(&seed[..]);
                    h.update(cc);
                    seed.copy_from_slice(&h.finalize());
                }
                Ok(Self::from_seed(CryptoType::Ed25519, &seed))
            }
        }
    }

    /// The signature scheme.
    pub fn crypto_type(&self) -> CryptoType {
        match self.secret {
            Secret::Sr25519(_) => CryptoType::Sr25519,
            Secret::Ed25519(_) => CryptoType::Ed25519,
        }
    }

    /// The public key as an account id.
    pub fn account_id(&self) -> AccountId {
        match &self.secret {
            Secret::Sr25519(kp) => AccountId(kp.public.to_bytes()),
            Secret::Ed25519(sk) => AccountId(sk.verifying_key().to_bytes()),
        }
    }

    /// The public key bytes.
    pub fn public_key(&self) -> [u8; 32] {
        self.account_id().0
    }

    /// The SS58 address with prefix 42.
    pub fn ss58_address(&self) -> String {
        self.account_id().to_ss58()
    }

    /// Signs `message` (sr25519 under the `substrate` context; sr25519 signatures are randomised).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        match &self.secret {
            Secret::Sr25519(kp) => kp.sign_simple(SR25519_SIGNING_CONTEXT, message).to_bytes(),
            Secret::Ed25519(sk) => {
                use ed25519_dalek::Signer as _;
                sk.sign(message).to_bytes()
            }
        }
    }

    /// Verifies a signature by this keypair's public key (see [`verify`]).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<bool, KeyError> {
        verify(self.crypto_type(), &self.account_id(), message, signature)
    }
}

#[cold]
fn unreachable_seed() -> ! {
    // MiniSecretKey::from_bytes only fails on a length other than 32, which the types rule out.
    unreachable!("a 32-byte array is always a valid mini secret key")
}

/// The chain code of a derivation junction, as sp_core builds it: a `u64` if the text parses as
/// one (little endian), else the SCALE-encoded string; hashed with blake2b-256 when over 32 bytes.
fn chain_code(name: &str) -> [u8; 32] {
    let encoded: Vec<u8> = match name.parse::<u64>() {
        Ok(n) => n.to_le_bytes().to_vec(),
        Err(_) => {
            let mut v = scale_compact_len(name.len());
            v.extend_from_slice(name.as_bytes());
            v
        }
    };
    let mut cc = [0u8; 32];
    if encoded.len() > 32 {
        let mut h = blake2::Blake2b::<blake2::digest::consts::U32>::new();
        h.update(&encoded);
        cc.copy_from_slice(&h.finalize());
    } else {
        cc[..encoded.len()].copy_from_slice(&encoded);
    }
    cc
}

fn scale_compact_len(n: usize) -> Vec<u8> {
    if n < 1 << 6 {
        vec![(n as u8) << 2]
    } else if n < 1 << 14 {
        (((n as u16) << 2) | 1).to_le_bytes().to_vec()
    } else if n < 1 << 30 {
        (((n as u32) << 2) | 2).to_le_bytes().to_vec()
    } else {
        let bytes = (n as u64).to_le_bytes();
        let used = 8 - (n as u64).leading_zeros() as usize / 8;
        let mut v = vec![(((used - 4) as u8) << 2) | 3];
        v.extend_from_slice(&bytes[..used]);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE_SS58: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

    #[test]
    fn dev_uris_match_substrate() {
        // Expected addresses produced by bittensor-core 0.1.5 (`Keypair.create_from_uri`).
        let cases = [
            (CryptoType::Sr25519, "//Alice", ALICE_SS58),
            (CryptoType::Sr25519, "//Bob", "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"),
            (CryptoType::Sr25519, "//Alice//stash", "5GNJqTPyNqANBkUVMN1LPPrxXnFouWXoe2wNSmmEoLctxiZY"),
            (CryptoType::Sr25519, "//1", "5GBNeWRhZc2jXu7D55rBimKYDk8PGk8itRYFTPfC8RJLKG5o"),
            (CryptoType::Sr25519, "//Alice/soft", "5C8PhJPLE54x23RjmqBcEEnALryCDWdTJM5xLaoL9W8XEpnt"),
            (CryptoType::Sr25519, "/foo", "5DXZzrDxHbkQov4QBAY4TjpwnHCMrKXkomTnKSw8UArBEY5v"),
            (CryptoType::Sr25519, &format!("//{}", "x".repeat(40)), "5EJWRwGLcZ1KGDHtgrvTEQFjFL715DzcorquPqKBbEEvWQtv"),
            (CryptoType::Sr25519, "", "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV"),
            (CryptoType::Ed25519, "//Alice", "5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu"),
            (CryptoType::Ed25519, "//Bob", "5GoNkf6WdbxCFnPdAnYYQyCjAKPJgLNxXwPjwTh6DGg6gN3E"),
        ];
        for (crypto, uri, want) in cases {
            assert_eq!(Keypair::from_uri(crypto, uri).unwrap().ss58_address(), want, "{crypto} {uri:?}");
        }
        assert!(matches!(Keypair::from_uri(CryptoType::Ed25519, "//Alice/soft"), Err(KeyError::InvalidUri { .. })));
        assert!(Keypair::from_uri(CryptoType::Sr25519, "//Alice///pw").is_err());
        assert!(Keypair::from_uri(CryptoType::Sr25519, "bottom drive obey").is_err());
        assert!(Keypair::from_uri(CryptoType::Sr25519, "//Alice//").is_err());
    }

    #[test]
    fn sign_verify_both_schemes() {
        for crypto in [CryptoType::Sr25519, CryptoType::Ed25519] {
            let kp = Keypair::generate(crypto);
            let other = Keypair::generate(crypto);
            let sig = kp.sign(b"hello");
            assert!(kp.verify(b"hello", &sig).unwrap(), "{crypto}");
            assert!(!kp.verify(b"hellO", &sig).unwrap(), "{crypto}");
            assert!(!verify(crypto, &other.account_id(), b"hello", &sig).unwrap_or(false), "{crypto}");
            assert!(matches!(kp.verify(b"hello", &sig[..63]), Err(KeyError::InvalidEncoding { .. })));
        }
        // Schemes are not interchangeable.
        let kp = Keypair::from_seed(CryptoType::Sr25519, &[7; 32]);
        let sig = kp.sign(b"m");
        assert!(!verify(CryptoType::Ed25519, &kp.account_id(), b"m", &sig).unwrap_or(false));
    }

    #[test]
    fn ed25519_rfc8032_vector() {
        // RFC 8032 section 7.1, TEST 1 (empty message).
        let seed: [u8; 32] = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap()
            .try_into()
            .unwrap();
        let kp = Keypair::from_seed(CryptoType::Ed25519, &seed);
        assert_eq!(hex::encode(kp.public_key()), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        assert_eq!(
            hex::encode(kp.sign(b"")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }

    #[test]
    fn crypto_type_parse_like_sdk() {
        assert_eq!(CryptoType::parse(" SR25519 "), Some(CryptoType::Sr25519));
        assert_eq!(CryptoType::parse("0"), Some(CryptoType::Ed25519));
        assert_eq!(CryptoType::parse("1"), Some(CryptoType::Sr25519));
        assert_eq!(CryptoType::parse("2"), None);
        assert_eq!(CryptoType::parse("ecdsa"), None);
        assert_eq!(CryptoType::parse(""), None);
    }

    #[test]
    fn debug_hides_secrets() {
        let kp = Keypair::from_seed(CryptoType::Sr25519, &[0xab; 32]);
        let s = format!("{kp:?}");
        assert!(s.contains(&kp.ss58_address()));
        assert!(!s.contains("abab"));
    }
}
