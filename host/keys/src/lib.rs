//! Hotkeys for subnetd: sr25519 / ed25519 keypairs, SS58 addresses, bittensor wallet keyfiles,
//! and the signing rules of the three wire protocols live miners and validators speak:
//! `btauth/1` (bittensor 11's `bittensor.http_auth`), the Axon/Dendrite Synapse protocol of
//! bittensor <= 10.5, and SN1's Epistula v2.
//!
//! Modules (public paths are re-exported here):
//! - account: [`AccountId`], SS58 encode/decode (prefix [`SS58_PREFIX`], 42, by default).
//! - keypair: [`CryptoType`], [`Keypair`], [`verify`], development URIs (`//Alice`).
//! - wallet: keyfile load/save in the SDK's JSON shape, `$NACL` encryption, wallet paths.
//! - [`btauth`]: signing and verifying HTTP requests (headers, payload, freshness, per-sender
//!   replay memory).
//! - [`synapse`]: Synapse headers, the Python `str()` body hash, Dendrite signing, the Axon's
//!   verification and nonce rules (bounded), signed response headers.
//! - [`epistula`]: Epistula v2 headers, signing, verification with SN1's window and replay memory.
//! - [`ratelimit`]: a protocol-neutral per-key token bucket for servers.
//!
//! Guarantees shared by all of them:
//! - Signatures are byte-compatible with Substrate and the bittensor SDK (sr25519 under the
//!   schnorrkel context `b"substrate"`, ed25519 per RFC 8032).
//! - Secret material is zeroised on drop (schnorrkel and ed25519-dalek do this for their types; the
//!   seed copy kept here is wrapped in [`zeroize::Zeroizing`]), and `Debug` never prints it.
//! - Nothing panics on file contents, user input or network input: keys return [`KeyError`]
//!   (naming the file when there is one), request authentication returns [`btauth::AuthError`],
//!   [`synapse::SynapseError`] or [`epistula::EpistulaError`].
//!
//! Derivation from Substrate URIs ([`Keypair::from_uri`]) covers the development phrase only:
//! `//Alice`, `//Alice//stash`, `//1`, and soft junctions (`/x`, sr25519 only). Mnemonics, hex
//! seeds in URIs and `///password` are refused with [`KeyError::InvalidUri`].

#![deny(missing_docs)]

use std::path::PathBuf;

mod account;
pub mod btauth;
pub mod epistula;
mod keypair;
mod mnemonic;
mod pytext;
pub mod ratelimit;
mod replay;
pub mod synapse;
mod wallet;

pub use account::{AccountId, SS58_PREFIX, ss58_decode, ss58_encode};
pub use keypair::{CryptoType, Hotkey, Keypair, SR25519_SIGNING_CONTEXT, verify};
pub use mnemonic::generate_mnemonic;
pub use wallet::{
    coldkey_path, decrypt_nacl, default_wallets_root, encrypt_nacl, encryption_method, hotkey_path, load_coldkeypub,
    public_from_keyfile_data,
};

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
    #[error(
        "keyfile {path} uses {method} encryption, which subnetd cannot decrypt; re-save it with btcli using NaCl or no encryption"
    )]
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
    /// A mnemonic phrase that is not a valid BIP-39 English phrase.
    #[error("invalid mnemonic: {reason}")]
    InvalidMnemonic {
        /// What is wrong.
        reason: String,
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
