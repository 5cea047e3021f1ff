//! Hotkeys: sr25519 / ed25519 keypairs, SS58 addresses and bittensor wallet keyfiles.
//!
//! What this module guarantees:
//! - Signatures are byte-compatible with Substrate and the bittensor SDK: sr25519 signs with the
//!   schnorrkel signing context `b"substrate"`, ed25519 is plain RFC 8032. Mini secrets (32-byte
//!   seeds) expand with schnorrkel's *Ed25519* expansion mode, as `sp_core` does.
//! - SS58 addresses use the blake2b-512 `"SS58PRE"` checksum (2 bytes, for 32-byte account ids).
//!   Encoding uses prefix [`SS58_PREFIX`] (42) unless told otherwise; decoding accepts any valid
//!   simple (0..=63) or full (64..=16383) prefix and returns it, so callers that must pin the
//!   network compare it themselves.
//! - Wallet keyfiles are read in the JSON shape the SDK writes (`secretPhrase`, `secretSeed`,
//!   `privateKey`, `publicKey`, `accountId`, `ss58Address`, `cryptoType`), and written in the same
//!   shape (without a mnemonic, which this module never knows). A file whose stored public key does
//!   not match the secret it carries is refused ([`KeyError::PublicKeyMismatch`]), so a corrupted or
//!   hand-edited file never signs as someone else.
//! - Encrypted keyfiles: `$NACL` files (libsodium secretbox, key from Argon2i v1.3 with libsodium's
//!   SENSITIVE limits and the SDK's fixed salt) are decrypted when a password is given; without one
//!   the error is [`KeyError::Encrypted`]. Ansible-vault and legacy fernet files are recognised and
//!   refused with [`KeyError::UnsupportedEncryption`].
//! - Secret material is zeroised on drop (schnorrkel and ed25519-dalek do this for their types; the
//!   seed copy kept here is wrapped in [`zeroize::Zeroizing`]), and `Debug` never prints it.
//!
//! Failure modes: every fallible function returns [`KeyError`], which names the file (when there is
//! one) and the problem. Nothing here panics on file contents or user input.
//!
//! Derivation from Substrate URIs ([`Keypair::from_uri`]) covers the development phrase only:
//! `//Alice`, `//Alice//stash`, `//1`, and soft junctions (`/x`, sr25519 only). Mnemonics, hex
//! seeds in URIs and `///password` are refused with [`KeyError::InvalidUri`].

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use blake2::{Blake2b512, Digest as _};
use rand_core::{OsRng, RngCore as _};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

/// The SS58 address prefix of Bittensor networks (the generic Substrate prefix).
pub const SS58_PREFIX: u16 = 42;

/// The schnorrkel signing context Substrate uses for sr25519 signatures.
pub const SR25519_SIGNING_CONTEXT: &[u8] = b"substrate";

/// The libsodium Argon2i salt the bittensor SDK uses for every `$NACL` keyfile.
const NACL_SALT: [u8; 16] = [
    0x13, 0x71, 0x83, 0xdf, 0xf1, 0x5a, 0x09, 0xbc, 0x9c, 0x90, 0xb5, 0x51, 0x87, 0x39, 0xe9, 0xb1,
];
/// libsodium `crypto_pwhash_argon2i_OPSLIMIT_SENSITIVE`.
const NACL_ARGON2I_OPS: u32 = 8;
/// libsodium `crypto_pwhash_argon2i_MEMLIMIT_SENSITIVE` (512 MiB), in KiB as argon2 counts it.
const NACL_ARGON2I_MEM_KIB: u32 = 512 * 1024;
const NACL_MAGIC: &[u8] = b"$NACL";
const NACL_NONCE_LEN: usize = 24;
const NACL_TAG_LEN: usize = 16;

/// The secret seed of Substrate's development phrase
/// ("bottom drive obey lake curtain smoke basket hold race lonely fit walk"), the root of `//Alice`.
const DEV_PHRASE_SEED: [u8; 32] = [
    0xfa, 0xc7, 0x95, 0x9d, 0xbf, 0xe7, 0x2f, 0x05, 0x2e, 0x5a, 0x0c, 0x3c, 0x8d, 0x65, 0x30, 0xf2,
    0x02, 0xb0, 0x2f, 0xd8, 0xf9, 0xf5, 0xca, 0x35, 0x80, 0xec, 0x8d, 0xeb, 0x77, 0x97, 0x47, 0x9e,
];

/// Errors from key handling. Variants carry the file (if any) and what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing a keyfile failed.
    #[error("keyfile {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The keyfile does not exist.
    #[error("keyfile {path} does not exist")]
    NotFound {
        /// The file.
        path: PathBuf,
    },
    /// The keyfile is encrypted and no password was supplied.
    #[error("keyfile {path} is encrypted ({method}); a password is needed to unlock it")]
    Encrypted {
        /// The file.
        path: PathBuf,
        /// The encryption method found ("NaCl", "Ansible Vault", "legacy").
        method: &'static str,
    },
    /// The keyfile uses an encryption this module does not implement.
    #[error("keyfile {path} uses {method} encryption, which subnetd cannot decrypt; re-save it with btcli using NaCl or no encryption")]
    UnsupportedEncryption {
        /// The file.
        path: PathBuf,
        /// The encryption method found.
        method: &'static str,
    },
    /// Decryption failed: the password is wrong or the file was altered.
    #[error("keyfile {path}: wrong password or corrupted encrypted data")]
    WrongPassword {
        /// The file.
        path: PathBuf,
    },
    /// The keyfile content is not a keyfile this module understands.
    #[error("keyfile {path} is malformed: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The keyfile holds only a public key / address, no secret.
    #[error("keyfile {path} holds no secret key (public-only keyfile); cannot sign with it")]
    NoSecret {
        /// The file.
        path: PathBuf,
    },
    /// The secret in the keyfile does not produce the public key stored next to it.
    #[error("keyfile {path}: the secret key does not match the stored public key / address")]
    PublicKeyMismatch {
        /// The file.
        path: PathBuf,
    },
    /// Refused to overwrite an existing keyfile.
    #[error("keyfile {path} already exists; refusing to overwrite")]
    AlreadyExists {
        /// The file.
        path: PathBuf,
    },
    /// A wallet or hotkey name that would escape the wallet directory.
    #[error("invalid wallet or hotkey name {name:?}: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// An SS58 address failed to decode.
    #[error("invalid SS58 address {address:?}: {reason}")]
    InvalidSs58 {
        /// The address given (truncated to 64 characters).
        address: String,
        /// Why.
        reason: &'static str,
    },
    /// A derivation URI is not supported or malformed.
    #[error("unsupported key URI: {reason}")]
    InvalidUri {
        /// Why.
        reason: String,
    },
    /// A signature or public key has the wrong length or encoding.
    #[error("invalid {what}: {reason}")]
    InvalidEncoding {
        /// "signature" or "public key".
        what: &'static str,
        /// Why.
        reason: &'static str,
    },
}

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

/// Verifies `signature` over `message` by `account` under `crypto`.
///
/// Returns `Ok(false)` for a well-formed signature that does not verify, and
/// [`KeyError::InvalidEncoding`] when the signature or public key cannot be decoded (wrong length,
/// not a curve point, an sr25519 signature without schnorrkel's marker bit).
pub fn verify(
    crypto: CryptoType,
    account: &AccountId,
    message: &[u8],
    signature: &[u8],
) -> Result<bool, KeyError> {
    match crypto {
        CryptoType::Sr25519 => {
            if signature.len() != 64 {
                return Err(KeyError::InvalidEncoding { what: "signature", reason: "sr25519 signatures are 64 bytes" });
            }
            let public = schnorrkel::PublicKey::from_bytes(&account.0).map_err(|_| {
                KeyError::InvalidEncoding { what: "public key", reason: "not a valid ristretto point" }
            })?;
            let sig = schnorrkel::Signature::from_bytes(signature).map_err(|_| KeyError::InvalidEncoding {
                what: "signature",
                reason: "not a schnorrkel signature",
            })?;
            Ok(public.verify_simple(SR25519_SIGNING_CONTEXT, message, &sig).is_ok())
        }
        CryptoType::Ed25519 => {
            let sig_bytes: [u8; 64] = signature.try_into().map_err(|_| KeyError::InvalidEncoding {
                what: "signature",
                reason: "ed25519 signatures are 64 bytes",
            })?;
            let public = ed25519_dalek::VerifyingKey::from_bytes(&account.0).map_err(|_| {
                KeyError::InvalidEncoding { what: "public key", reason: "not a valid ed25519 point" }
            })?;
            let sig = ed25519_dalek::Signature::from_bytes(&sig_bytes);
            Ok(public.verify_strict(message, &sig).is_ok())
        }
    }
}

enum Secret {
    Sr25519(schnorrkel::Keypair),
    Ed25519(ed25519_dalek::SigningKey),
}

/// A signing keypair (a hotkey). Cheap to clone; secrets are zeroised on drop.
pub struct Keypair {
    secret: Secret,
    /// The 32-byte mini secret / ed25519 seed when known (not for keys derived by soft junctions
    /// or loaded from an sr25519 `privateKey`); written to keyfiles as `secretSeed`.
    seed: Option<Zeroizing<[u8; 32]>>,
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
                        let (mini, _) = kp.secret.hard_derive_mini_secret_key(Some(schnorrkel::derive::ChainCode(cc)), b"");
                        seed = Some(Zeroizing::new(mini.to_bytes()));
                        kp = mini.expand_to_keypair(schnorrkel::ExpansionMode::Ed25519);
                    } else {
                        let (derived, _) = schnorrkel::derive::Derivation::derived_key_simple(&kp, schnorrkel::derive::ChainCode(cc), []);
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

    /// Parses keyfile bytes (plain JSON, or `$NACL`-encrypted when `password` is given).
    /// `path` only labels errors.
    pub fn from_keyfile_data(data: &[u8], password: Option<&str>, path: &Path) -> Result<Self, KeyError> {
        let plain: Zeroizing<Vec<u8>>;
        let json_bytes: &[u8] = match encryption_method(data) {
            None => data,
            Some("NaCl") => match password {
                None => return Err(KeyError::Encrypted { path: path.to_path_buf(), method: "NaCl" }),
                Some(pw) => {
                    plain = decrypt_nacl(data, pw, path)?;
                    &plain
                }
            },
            Some(method) => {
                return Err(if password.is_none() {
                    KeyError::Encrypted { path: path.to_path_buf(), method }
                } else {
                    KeyError::UnsupportedEncryption { path: path.to_path_buf(), method }
                });
            }
        };
        parse_keyfile_json(json_bytes, path)
    }

    /// Loads a keypair from a keyfile on disk.
    pub fn load_from_file(path: &Path, password: Option<&str>) -> Result<Self, KeyError> {
        let data = Zeroizing::new(fs::read(path).map_err(|e| io_err(path, e))?);
        let kp = Self::from_keyfile_data(&data, password, path)?;
        tracing::debug!(path = %path.display(), ss58 = %kp.ss58_address(), "loaded keyfile");
        Ok(kp)
    }

    /// Loads the hotkey `<wallets_root>/<wallet>/hotkeys/<hotkey>` (the SDK's layout; the default
    /// root is [`default_wallets_root`]).
    pub fn load_hotkey(
        wallets_root: &Path,
        wallet: &str,
        hotkey: &str,
        password: Option<&str>,
    ) -> Result<Self, KeyError> {
        Self::load_from_file(&hotkey_path(wallets_root, wallet, hotkey)?, password)
    }

    /// The keyfile JSON the SDK writes for this key (unencrypted). Contains the secret.
    pub fn to_keyfile_json(&self) -> Zeroizing<String> {
        let public = format!("0x{}", hex::encode(self.public_key()));
        let mut m = Map::new();
        m.insert("accountId".into(), Value::String(public.clone()));
        m.insert("publicKey".into(), Value::String(public));
        m.insert("cryptoType".into(), Value::from(self.crypto_type().code()));
        m.insert("ss58Address".into(), Value::String(self.ss58_address()));
        let private = match &self.secret {
            // schnorrkel's canonical 64-byte secret (scalar || nonce), as sp_core's to_raw_vec.
            Secret::Sr25519(kp) => Zeroizing::new(kp.secret.to_bytes().to_vec()),
            Secret::Ed25519(sk) => Zeroizing::new(sk.to_bytes().to_vec()),
        };
        m.insert("privateKey".into(), Value::String(format!("0x{}", hex::encode(&private[..]))));
        if let Some(seed) = &self.seed {
            m.insert("secretSeed".into(), Value::String(format!("0x{}", hex::encode(&seed[..]))));
        }
        Zeroizing::new(Value::Object(m).to_string())
    }

    /// Writes this key as a plain-JSON keyfile at `path` (mode 0600, parent directories 0700),
    /// atomically via a temporary file. Refuses to replace an existing file unless `overwrite`.
    pub fn save_to_file(&self, path: &Path, overwrite: bool) -> Result<(), KeyError> {
        if path.exists() && !overwrite {
            return Err(KeyError::AlreadyExists { path: path.to_path_buf() });
        }
        if let Some(parent) = path.parent() {
            create_private_dirs(parent).map_err(|e| io_err(parent, e))?;
        }
        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        let json = self.to_keyfile_json();
        let result = (|| {
            let mut f = private_file(&tmp)?;
            f.write_all(json.as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, path)
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(io_err(path, e));
        }
        Ok(())
    }

    /// Writes this key as `<wallets_root>/<wallet>/hotkeys/<hotkey>` (plain JSON, like
    /// `btcli wallet new_hotkey`); returns the path written.
    pub fn save_to_wallet(
        &self,
        wallets_root: &Path,
        wallet: &str,
        hotkey: &str,
        overwrite: bool,
    ) -> Result<PathBuf, KeyError> {
        let path = hotkey_path(wallets_root, wallet, hotkey)?;
        self.save_to_file(&path, overwrite)?;
        Ok(path)
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

/// The default wallets directory, `~/.bittensor/wallets` (from `$HOME`), if `$HOME` is set.
pub fn default_wallets_root() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".bittensor").join("wallets"))
}

/// `<root>/<wallet>/hotkeys/<hotkey>`, refusing names that are empty or contain path separators
/// or `..` (names come from configs and CLIs; they must not reach outside the wallet tree).
pub fn hotkey_path(wallets_root: &Path, wallet: &str, hotkey: &str) -> Result<PathBuf, KeyError> {
    for name in [wallet, hotkey] {
        let reason = if name.is_empty() {
            Some("empty")
        } else if name.contains('/') || name.contains('\\') || name.contains('\0') {
            Some("contains a path separator")
        } else if name == "." || name == ".." {
            Some("is a relative path component")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(KeyError::InvalidName { name: name.to_string(), reason });
        }
    }
    Ok(wallets_root.join(wallet).join("hotkeys").join(hotkey))
}

/// The encryption of keyfile bytes as the SDK names it, or `None` for plain data.
pub fn encryption_method(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(NACL_MAGIC) {
        Some("NaCl")
    } else if data.starts_with(b"$ANSIBLE_VAULT") {
        Some("Ansible Vault")
    } else if data.starts_with(b"gAAAAA") {
        Some("legacy")
    } else {
        None
    }
}

fn nacl_key(password: &str, path: &Path) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let params = argon2::Params::new(NACL_ARGON2I_MEM_KIB, NACL_ARGON2I_OPS, 1, Some(32)).map_err(|e| {
        KeyError::Malformed { path: path.to_path_buf(), reason: format!("argon2 parameters: {e}") }
    })?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2i, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(password.as_bytes(), &NACL_SALT, &mut key[..])
        .map_err(|e| KeyError::Malformed { path: path.to_path_buf(), reason: format!("argon2: {e}") })?;
    Ok(key)
}

/// Decrypts `$NACL` keyfile data: `"$NACL" || nonce(24) || tag(16) || ciphertext`, secretbox key
/// from Argon2i(password, fixed salt, 8 passes, 512 MiB). Costs about a second and 512 MiB.
pub fn decrypt_nacl(data: &[u8], password: &str, path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    use crypto_secretbox::aead::{Aead as _, KeyInit as _};
    let rest = data.strip_prefix(NACL_MAGIC).ok_or_else(|| KeyError::Malformed {
        path: path.to_path_buf(),
        reason: "missing $NACL header".into(),
    })?;
    if rest.len() < NACL_NONCE_LEN + NACL_TAG_LEN {
        return Err(KeyError::Malformed { path: path.to_path_buf(), reason: "encrypted data too short".into() });
    }
    let (nonce, boxed) = rest.split_at(NACL_NONCE_LEN);
    let key = nacl_key(password, path)?;
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(crypto_secretbox::Key::from_slice(&key[..]));
    let plain = cipher
        .decrypt(crypto_secretbox::Nonce::from_slice(nonce), boxed)
        .map_err(|_| KeyError::WrongPassword { path: path.to_path_buf() })?;
    Ok(Zeroizing::new(plain))
}

/// Encrypts keyfile data the way the SDK's `encrypt_keyfile_data` does (`$NACL` format, random
/// nonce), so `btcli` can open the result with the same password.
pub fn encrypt_nacl(plaintext: &[u8], password: &str) -> Result<Vec<u8>, KeyError> {
    use crypto_secretbox::aead::{Aead as _, KeyInit as _};
    let key = nacl_key(password, Path::new("<memory>"))?;
    let mut nonce = [0u8; NACL_NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(crypto_secretbox::Key::from_slice(&key[..]));
    let boxed = cipher
        .encrypt(crypto_secretbox::Nonce::from_slice(&nonce), plaintext)
        .map_err(|_| KeyError::Malformed { path: PathBuf::from("<memory>"), reason: "encryption failed".into() })?;
    let mut out = Vec::with_capacity(NACL_MAGIC.len() + NACL_NONCE_LEN + boxed.len());
    out.extend_from_slice(NACL_MAGIC);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&boxed);
    Ok(out)
}

fn decode_hex_field(s: &str, field: &str, path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    hex::decode(digits)
        .map(Zeroizing::new)
        .map_err(|_| KeyError::Malformed { path: path.to_path_buf(), reason: format!("{field} is not hex") })
}

fn parse_keyfile_json(data: &[u8], path: &Path) -> Result<Keypair, KeyError> {
    let malformed = |reason: String| KeyError::Malformed { path: path.to_path_buf(), reason };
    let value: Zeroizing<String> = Zeroizing::new(
        std::str::from_utf8(data).map_err(|_| malformed("not UTF-8 (and not a known encrypted format)".into()))?.to_owned(),
    );
    let obj: Map<String, Value> = match serde_json::from_str(&value) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(malformed("not a JSON object".into())),
        Err(e) => return Err(malformed(format!("invalid JSON: {e}"))),
    };
    let text_field = |name: &str| -> Result<Option<&str>, KeyError> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(malformed(format!("{name} is not a string"))),
        }
    };

    // Keyfiles written before cryptoType existed are sr25519.
    let crypto = match obj.get("cryptoType") {
        None | Some(Value::Null) => CryptoType::Sr25519,
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(CryptoType::from_code)
            .ok_or_else(|| malformed(format!("unknown cryptoType {n}")))?,
        Some(Value::String(s)) => CryptoType::parse(s).ok_or_else(|| malformed(format!("unknown cryptoType {s:?}")))?,
        Some(_) => return Err(malformed("cryptoType is not a number".into())),
    };

    // The public key the file claims, used to check the secret and to disambiguate sr25519
    // privateKey encodings.
    let claimed: Option<AccountId> = match (text_field("publicKey")?.or(text_field("accountId")?), text_field("ss58Address")?) {
        (Some(hexpk), _) => {
            let bytes = decode_hex_field(hexpk, "publicKey", path)?;
            let arr: [u8; 32] = bytes[..].try_into().map_err(|_| malformed("publicKey is not 32 bytes".into()))?;
            Some(AccountId(arr))
        }
        (None, Some(addr)) => Some(AccountId::from_ss58(addr).map_err(|e| malformed(format!("ss58Address: {e}")))?),
        (None, None) => None,
    };

    let keypair = if let Some(seed_hex) = text_field("secretSeed")? {
        let seed = decode_hex_field(seed_hex, "secretSeed", path)?;
        let arr: Zeroizing<[u8; 32]> =
            Zeroizing::new(seed[..].try_into().map_err(|_| malformed("secretSeed is not 32 bytes".into()))?);
        Keypair::from_seed(crypto, &arr)
    } else if let Some(pk_hex) = text_field("privateKey")? {
        let private = decode_hex_field(pk_hex, "privateKey", path)?;
        keypair_from_private(crypto, &private, claimed.as_ref(), path)?
    } else if text_field("secretPhrase")?.is_some() {
        return Err(malformed("keyfile holds only a mnemonic (secretPhrase); mnemonics are not supported, re-save it with btcli so it carries secretSeed".into()));
    } else {
        return Err(KeyError::NoSecret { path: path.to_path_buf() });
    };

    if let Some(claimed) = claimed
        && claimed != keypair.account_id()
    {
        return Err(KeyError::PublicKeyMismatch { path: path.to_path_buf() });
    }
    Ok(keypair)
}

fn keypair_from_private(
    crypto: CryptoType,
    private: &[u8],
    claimed: Option<&AccountId>,
    path: &Path,
) -> Result<Keypair, KeyError> {
    let malformed = |reason: &str| KeyError::Malformed { path: path.to_path_buf(), reason: reason.to_string() };
    match crypto {
        CryptoType::Ed25519 => {
            // The SDK stores the 32-byte seed; some tools store seed || public (64 bytes).
            let seed: [u8; 32] = match private.len() {
                32 | 64 => private[..32].try_into().map_err(|_| malformed("privateKey length"))?,
                _ => return Err(malformed("ed25519 privateKey must be 32 or 64 bytes")),
            };
            let seed = Zeroizing::new(seed);
            Ok(Keypair::from_seed(CryptoType::Ed25519, &seed))
        }
        CryptoType::Sr25519 => {
            if private.len() != 64 {
                return Err(malformed("sr25519 privateKey must be 64 bytes"));
            }
            // Two encodings exist in the wild: schnorrkel's canonical scalar (bittensor-core,
            // sp_core) and the "ed25519 bytes" form (scalar times the cofactor; older
            // substrate-interface wallets). Prefer the one matching the stored public key.
            let candidates = [
                schnorrkel::SecretKey::from_bytes(private).ok(),
                schnorrkel::SecretKey::from_ed25519_bytes(private).ok(),
            ];
            let mut first = None;
            for sk in candidates.into_iter().flatten() {
                let kp = sk.to_keypair();
                if claimed.is_none_or(|c| c.0 == kp.public.to_bytes()) {
                    return Ok(Keypair { secret: Secret::Sr25519(kp), seed: None });
                }
                first.get_or_insert(kp);
            }
            match first {
                // A secret that decodes but matches no claimed key: the caller reports the mismatch.
                Some(kp) => Ok(Keypair { secret: Secret::Sr25519(kp), seed: None }),
                None => Err(malformed("sr25519 privateKey is not a valid secret key")),
            }
        }
    }
}

fn io_err(path: &Path, e: std::io::Error) -> KeyError {
    if e.kind() == std::io::ErrorKind::NotFound {
        KeyError::NotFound { path: path.to_path_buf() }
    } else {
        KeyError::Io { path: path.to_path_buf(), source: e }
    }
}

#[cfg(unix)]
fn create_private_dirs(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dirs(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    // The mode above applies only to new files; a leftover temp file is clamped too.
    f.set_permissions(fs::Permissions::from_mode(0o600))?;
    Ok(f)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new().write(true).create(true).truncate(true).open(path)
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
        let seed: [u8; 32] = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").unwrap().try_into().unwrap();
        let kp = Keypair::from_seed(CryptoType::Ed25519, &seed);
        assert_eq!(hex::encode(kp.public_key()), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        assert_eq!(
            hex::encode(kp.sign(b"")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }

    #[test]
    fn keyfile_round_trip_and_sdk_shapes() {
        let dir = tempfile::tempdir().unwrap();
        for crypto in [CryptoType::Sr25519, CryptoType::Ed25519] {
            let kp = Keypair::generate(crypto);
            let name = crypto.name();
            let path = kp.save_to_wallet(dir.path(), "w", name, false).unwrap();
            assert_eq!(path, dir.path().join("w").join("hotkeys").join(name));
            let back = Keypair::load_hotkey(dir.path(), "w", name, None).unwrap();
            assert_eq!(back.account_id(), kp.account_id());
            assert_eq!(back.crypto_type(), crypto);
            assert!(back.verify(b"x", &kp.sign(b"x")).unwrap());
            assert!(matches!(kp.save_to_wallet(dir.path(), "w", name, false), Err(KeyError::AlreadyExists { .. })));
            kp.save_to_wallet(dir.path(), "w", name, true).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            }
        }
        // A file with only privateKey (bittensor-core's //Alice keyfile, canonical scalar form).
        let alice = br#"{"privateKey":"0x33a6f3093f158a7109f679410bef1a0c54168145e0cecb4df006c1c2fffb1f09925a225d97aa00682d6a59b95b18780c10d7032336e88f3442b42361f4a66011","accountId":"0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d","cryptoType":1,"ss58Address":"5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY","publicKey":"0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"}"#;
        let kp = Keypair::from_keyfile_data(alice, None, Path::new("alice")).unwrap();
        assert_eq!(kp.ss58_address(), ALICE_SS58);
        // The same secret in substrate-interface's "ed25519 bytes" form, and without cryptoType.
        let ed_form = Keypair::from_uri(CryptoType::Sr25519, "//Alice").unwrap();
        let Secret::Sr25519(inner) = &ed_form.secret else { panic!("sr25519 expected") };
        let legacy = format!(
            r#"{{"privateKey":"0x{}","ss58Address":"{ALICE_SS58}"}}"#,
            hex::encode(inner.secret.to_ed25519_bytes())
        );
        let kp = Keypair::from_keyfile_data(legacy.as_bytes(), None, Path::new("legacy")).unwrap();
        assert_eq!(kp.ss58_address(), ALICE_SS58);
        // An SDK-written ed25519 hotkey (bittensor-core 0.1.5 output, with mnemonic).
        let ed = br#"{"ss58Address":"5Cu2TckU7QFJ9WiRoW3299bgJ3rRrW6G6JGjo2Ug75fpyeaj","publicKey":"0x24da66b56d434bc86080e219ea6de91838b0c18145648309ffd894ae16921b73","secretPhrase":"gallery wide sample leisure quick shrimp layer coyote tape ecology manage duck","accountId":"0x24da66b56d434bc86080e219ea6de91838b0c18145648309ffd894ae16921b73","secretSeed":"0x667cdd9ec98c8e95d74202abf8c8ada1e1972bfeca72a55b10385ae626c68cc5","cryptoType":0,"privateKey":"0x667cdd9ec98c8e95d74202abf8c8ada1e1972bfeca72a55b10385ae626c68cc5"}"#;
        let kp = Keypair::from_keyfile_data(ed, None, Path::new("ed")).unwrap();
        assert_eq!(kp.crypto_type(), CryptoType::Ed25519);
        assert_eq!(kp.ss58_address(), "5Cu2TckU7QFJ9WiRoW3299bgJ3rRrW6G6JGjo2Ug75fpyeaj");
    }

    #[test]
    fn keyfile_errors_name_the_problem() {
        let p = Path::new("/w/hotkeys/h");
        let other = Keypair::generate(CryptoType::Sr25519).ss58_address();
        let seed_json = format!(r#"{{"secretSeed":"0x{}","ss58Address":"{other}"}}"#, "11".repeat(32));
        assert!(matches!(Keypair::from_keyfile_data(seed_json.as_bytes(), None, p), Err(KeyError::PublicKeyMismatch { .. })));
        let pub_only = format!(r#"{{"ss58Address":"{other}","publicKey":null}}"#);
        assert!(matches!(Keypair::from_keyfile_data(pub_only.as_bytes(), None, p), Err(KeyError::NoSecret { .. })));
        assert!(matches!(Keypair::from_keyfile_data(b"{not json", None, p), Err(KeyError::Malformed { .. })));
        assert!(matches!(Keypair::from_keyfile_data(br#"{"secretSeed":"0x12"}"#, None, p), Err(KeyError::Malformed { .. })));
        assert!(matches!(Keypair::from_keyfile_data(br#"{"secretSeed":"zz"}"#, None, p), Err(KeyError::Malformed { .. })));
        for (data, method) in [
            (&b"$NACLxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"[..], "NaCl"),
            (b"$ANSIBLE_VAULT;1.1;AES256\n3338", "Ansible Vault"),
            (b"gAAAAABk", "legacy"),
        ] {
            let e = Keypair::from_keyfile_data(data, None, p).unwrap_err();
            assert!(matches!(e, KeyError::Encrypted { method: m, .. } if m == method), "{e}");
            assert!(e.to_string().contains("/w/hotkeys/h"), "{e}");
        }
        assert!(matches!(
            Keypair::from_keyfile_data(b"gAAAAABk", Some("pw"), p),
            Err(KeyError::UnsupportedEncryption { method: "legacy", .. })
        ));
        assert!(matches!(Keypair::load_hotkey(Path::new("/nonexistent-root"), "w", "h", None), Err(KeyError::NotFound { .. })));
        assert!(matches!(hotkey_path(Path::new("/r"), "..", "h"), Err(KeyError::InvalidName { .. })));
        assert!(matches!(hotkey_path(Path::new("/r"), "w", "a/b"), Err(KeyError::InvalidName { .. })));
    }

    /// A `$NACL` hotkey written by the Python SDK (bittensor 11.3.0 / bittensor-core 0.1.5,
    /// `encrypt_keyfile_data(serialized //Bob keyfile, "subnetd-test")`); see
    /// tests/interop/make_nacl_fixture.py. Decrypting costs ~512 MiB and a few seconds (more in
    /// unoptimised builds), so the wrong-password case reuses the same run budget sparingly.
    #[test]
    fn decrypts_sdk_nacl_keyfile() {
        let data = include_bytes!("../tests/interop/fixtures/nacl_hotkey_bob");
        let p = Path::new("fixture");
        assert!(matches!(Keypair::from_keyfile_data(data, None, p), Err(KeyError::Encrypted { method: "NaCl", .. })));
        let kp = Keypair::from_keyfile_data(data, Some("subnetd-test"), p).unwrap();
        assert_eq!(kp.ss58_address(), "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty");
        assert!(matches!(Keypair::from_keyfile_data(data, Some("wrong"), p), Err(KeyError::WrongPassword { .. })));
        // Our own encryption opens with our decryption (Python opens it in the interop test).
        let sealed = encrypt_nacl(kp.to_keyfile_json().as_bytes(), "pw2").unwrap();
        let again = Keypair::from_keyfile_data(&sealed, Some("pw2"), p).unwrap();
        assert_eq!(again.account_id(), kp.account_id());
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
