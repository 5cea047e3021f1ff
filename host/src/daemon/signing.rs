//! Detached module signatures: a subnet owner signs a module with an ed25519 key for one
//! subnet; a daemon that requires that owner's signature refuses any module not signed by them
//! for that subnet, and any version signed before the one it applied last.
//!
//! # Format (`subnetd-module-signature/2`)
//!
//! The signature of `module.wasm` lives beside it in `module.wasm.sig`, a JSON object:
//!
//! ```json
//! {
//!   "format": "subnetd-module-signature/2",
//!   "algorithm": "ed25519",
//!   "public_key": "0x<32-byte ed25519 public key, hex>",
//!   "signer": "<the same key as SS58, prefix 42>",
//!   "sha256": "<sha256 of the module's bytes, 64 hex digits>",
//!   "size": 3038693,
//!   "version": "1.4.0",
//!   "netuid": 7,
//!   "signed_at": 1796300000,
//!   "signature": "0x<64-byte ed25519 signature, hex>"
//! }
//! ```
//!
//! `version` is optional (a label the owner chooses; the daemon reports it with the hash).
//! `netuid` binds the signature to one subnet: a module signed for subnet 7 does not load as
//! subnet 8's, even when both require the same owner key. `signed_at` (Unix seconds, set by
//! `subnetd sign`) orders an owner's versions: a daemon refuses a version signed before the
//! one it applied last for the subnet (a replay of an old, perhaps vulnerable, signed module),
//! unless the operator asks for the rollback (`subnetd reload --allow-rollback`). Re-signing
//! an old module is the owner's way to roll back for everyone.
//!
//! The signature is ed25519 (RFC 8032, verified strictly) over the UTF-8 message
//!
//! ```text
//! subnetd-module-signature/2\n
//! sha256:<sha256 hex, lowercase>\n
//! size:<size in bytes, decimal>\n
//! version:<version, or empty>\n
//! netuid:<netuid, decimal>\n
//! signed_at:<Unix seconds, decimal>\n
//! ```
//!
//! The first line separates this use of the key from every other (a btauth request or an
//! extrinsic can never be replayed as a module signature); every field is signed, so none can
//! be changed without breaking the signature.
//!
//! Format 1 (`subnetd-module-signature/1`: the same without `netuid` and `signed_at`) still
//! parses and verifies (`subnetd verify` reports it as unbound), but a daemon refuses it for a
//! subnet: it is bound to none, so it could be replayed on any subnet of the same owner.
//!
//! Verification ([`verify_module`]): the file parses, the format and algorithm are the ones
//! above, `signer` is the SS58 form of `public_key`, the module's sha256 and size equal the
//! signed ones, and the signature verifies. [`check_signer`] then requires the key to be one
//! of a subnet's `require_signers`, and [`check_subnet`] the signature to be for the subnet.
//! Each failure is a [`SignatureError`] saying which check failed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subnet_keys::{AccountId, CryptoType, Keypair};

/// The format tag and the first line of the signed message.
pub const SIGNATURE_FORMAT: &str = "subnetd-module-signature/2";
/// The first format, bound to no subnet (parsed and verified, refused by daemons).
pub const SIGNATURE_FORMAT_V1: &str = "subnetd-module-signature/1";
/// Longest version label, in bytes.
pub const MAX_VERSION_LEN: usize = 128;
/// Largest signature file read, in bytes (a valid one is well under 1 KiB).
const MAX_SIG_FILE: u64 = 16 << 10;

/// A detached module signature, as stored in `<module>.sig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleSignature {
    /// Always [`SIGNATURE_FORMAT`].
    pub format: String,
    /// Always `ed25519`.
    pub algorithm: String,
    /// The signer's public key, `0x`-hex.
    pub public_key: String,
    /// The signer's SS58 address (must match `public_key`).
    pub signer: String,
    /// SHA-256 of the module, hex.
    pub sha256: String,
    /// Size of the module, bytes.
    pub size: u64,
    /// The owner's version label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The subnet the signature is for (format 2; absent in format 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netuid: Option<u16>,
    /// When it was signed, Unix seconds (format 2; absent in format 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_at: Option<u64>,
    /// The ed25519 signature, `0x`-hex.
    pub signature: String,
}

/// What a valid signature says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Who signed.
    pub signer: AccountId,
    /// The signed version label.
    pub version: Option<String>,
    /// The module's SHA-256, hex.
    pub sha256: String,
    /// The subnet and signing time it is bound to (`None`: format 1, bound to no subnet).
    pub binding: Option<Binding>,
}

/// What a format-2 signature binds a module to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// The subnet.
    pub netuid: u16,
    /// When the owner signed, Unix seconds.
    pub signed_at: u64,
}

/// Why a module's signature is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// There is no signature file.
    #[error("unsigned: {0} does not exist")]
    Missing(PathBuf),
    /// The signature file cannot be read or parsed.
    #[error("signature file {path}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The signature is for other bytes.
    #[error(
        "the signature is for another module: it signs sha256 {signed} ({signed_size} bytes), this module is sha256 {actual} ({actual_size} bytes)"
    )]
    WrongModule {
        /// The signed hash.
        signed: String,
        /// The signed size.
        signed_size: u64,
        /// The module's hash.
        actual: String,
        /// The module's size.
        actual_size: u64,
    },
    /// The signature does not verify under its public key.
    #[error("the signature does not verify under the key it names ({0})")]
    BadSignature(String),
    /// Valid, but by a key the subnet does not accept.
    #[error("signed by {signer}, which is not one of the required signers [{required}]")]
    NotAllowed {
        /// Who signed.
        signer: String,
        /// Who may.
        required: String,
    },
    /// The key cannot sign modules.
    #[error("{0}")]
    Key(String),
    /// A format-1 signature, bound to no subnet.
    #[error(
        "the signature is format `{SIGNATURE_FORMAT_V1}`, bound to no subnet: re-sign the module with `subnetd sign --netuid {expected}`"
    )]
    Unbound {
        /// The subnet it was offered to.
        expected: u16,
    },
    /// Signed for another subnet.
    #[error("the signature is for subnet {signed}, not subnet {expected}")]
    WrongSubnet {
        /// The signed netuid.
        signed: u16,
        /// The subnet it was offered to.
        expected: u16,
    },
}

/// `<module>.sig`: the signature path of a module path.
pub fn signature_path(module: &Path) -> PathBuf {
    let mut name = module.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".sig");
    module.with_file_name(name)
}

/// The message an ed25519 signature covers (see the module docs): format 2 with a binding,
/// format 1 without.
pub fn signed_message(sha256_hex: &str, size: u64, version: Option<&str>, binding: Option<Binding>) -> Vec<u8> {
    let version = version.unwrap_or("");
    match binding {
        Some(Binding { netuid, signed_at }) => format!(
            "{SIGNATURE_FORMAT}\nsha256:{sha256_hex}\nsize:{size}\nversion:{version}\nnetuid:{netuid}\nsigned_at:{signed_at}\n"
        ),
        None => format!("{SIGNATURE_FORMAT_V1}\nsha256:{sha256_hex}\nsize:{size}\nversion:{version}\n"),
    }
    .into_bytes()
}

fn check_version(version: Option<&str>) -> Result<(), String> {
    if let Some(v) = version
        && (v.is_empty() || v.len() > MAX_VERSION_LEN || v.chars().any(|c| c.is_control()))
    {
        return Err(format!("version label must be 1..={MAX_VERSION_LEN} bytes of printable text"));
    }
    Ok(())
}

/// Signs `module` (its bytes) with an ed25519 `key` for the subnet and time of `binding`
/// (format 2).
pub fn sign_module(
    key: &Keypair,
    module: &[u8],
    version: Option<&str>,
    binding: Binding,
) -> Result<ModuleSignature, SignatureError> {
    if key.crypto_type() != CryptoType::Ed25519 {
        return Err(SignatureError::Key(format!(
            "{} is an {} key; module signatures are ed25519: create one with `subnetd wallet new --wallet <name> --hotkey <name> --crypto ed25519`",
            key.ss58_address(),
            key.crypto_type().name()
        )));
    }
    check_version(version).map_err(SignatureError::Key)?;
    let sha256 = hex::encode(Sha256::digest(module));
    let size = module.len() as u64;
    let signature = key.sign(&signed_message(&sha256, size, version, Some(binding)));
    Ok(ModuleSignature {
        format: SIGNATURE_FORMAT.into(),
        algorithm: "ed25519".into(),
        public_key: format!("0x{}", hex::encode(key.public_key())),
        signer: key.ss58_address(),
        sha256,
        size,
        version: version.map(str::to_owned),
        netuid: Some(binding.netuid),
        signed_at: Some(binding.signed_at),
        signature: format!("0x{}", hex::encode(signature)),
    })
}

fn decode_hex<const N: usize>(text: &str, what: &str) -> Result<[u8; N], String> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    let bytes = hex::decode(digits).map_err(|e| format!("{what} is not hex: {e}"))?;
    bytes.try_into().map_err(|b: Vec<u8>| format!("{what} is {} bytes, expected {N}", b.len()))
}

impl ModuleSignature {
    /// Parses signature JSON; `path` labels errors.
    pub fn parse(text: &[u8], path: &Path) -> Result<Self, SignatureError> {
        let malformed = |reason: String| SignatureError::Malformed { path: path.to_path_buf(), reason };
        let sig: ModuleSignature = serde_json::from_slice(text).map_err(|e| malformed(e.to_string()))?;
        match (sig.format.as_str(), sig.netuid, sig.signed_at) {
            (SIGNATURE_FORMAT, Some(_), Some(_)) | (SIGNATURE_FORMAT_V1, None, None) => {}
            (SIGNATURE_FORMAT, _, _) => {
                return Err(malformed(format!("format `{SIGNATURE_FORMAT}` needs both `netuid` and `signed_at`")));
            }
            (SIGNATURE_FORMAT_V1, _, _) => {
                return Err(malformed(format!("format `{SIGNATURE_FORMAT_V1}` has no `netuid` or `signed_at`")));
            }
            (other, _, _) => {
                return Err(malformed(format!(
                    "format `{other}` is neither `{SIGNATURE_FORMAT}` nor `{SIGNATURE_FORMAT_V1}`"
                )));
            }
        }
        if sig.algorithm != "ed25519" {
            return Err(malformed(format!("algorithm `{}` is not `ed25519`", sig.algorithm)));
        }
        check_version(sig.version.as_deref()).map_err(malformed)?;
        Ok(sig)
    }

    /// Reads and parses a signature file.
    pub fn read(path: &Path) -> Result<Self, SignatureError> {
        let malformed = |reason: String| SignatureError::Malformed { path: path.to_path_buf(), reason };
        use std::io::Read as _;
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SignatureError::Missing(path.to_path_buf()));
            }
            Err(e) => return Err(malformed(e.to_string())),
        };
        // Only a regular file, read with a bound: a link to a device has no size to check.
        let meta = file.metadata().map_err(|e| malformed(e.to_string()))?;
        if !meta.is_file() {
            return Err(malformed("not a regular file".into()));
        }
        let mut text = Vec::new();
        file.take(MAX_SIG_FILE + 1).read_to_end(&mut text).map_err(|e| malformed(e.to_string()))?;
        if text.len() as u64 > MAX_SIG_FILE {
            return Err(malformed(format!("over {MAX_SIG_FILE} bytes; a signature file is well under 1 KiB")));
        }
        Self::parse(&text, path)
    }

    /// Writes the signature as pretty JSON, atomically (temporary file, then rename).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        let tmp = path.with_extension(format!("sig.{}.tmp", std::process::id()));
        std::fs::write(&tmp, format!("{text}\n"))?;
        std::fs::rename(&tmp, path)
    }

    /// The subnet binding (format 2), if any.
    pub fn binding(&self) -> Option<Binding> {
        Some(Binding { netuid: self.netuid?, signed_at: self.signed_at? })
    }

    /// The public key as an account id.
    pub fn account(&self) -> Result<AccountId, String> {
        decode_hex::<32>(&self.public_key, "public_key").map(AccountId)
    }
}

/// Verifies `sig` against the module's bytes (see the module docs for every check).
pub fn verify_module(module: &[u8], sig: &ModuleSignature) -> Result<Verified, SignatureError> {
    let account = sig.account().map_err(SignatureError::BadSignature)?;
    if account.to_ss58() != sig.signer {
        return Err(SignatureError::BadSignature(format!(
            "`signer` {} is not the SS58 form of `public_key` ({})",
            sig.signer,
            account.to_ss58()
        )));
    }
    let actual = hex::encode(Sha256::digest(module));
    if actual != sig.sha256.to_ascii_lowercase() || module.len() as u64 != sig.size {
        return Err(SignatureError::WrongModule {
            signed: sig.sha256.clone(),
            signed_size: sig.size,
            actual,
            actual_size: module.len() as u64,
        });
    }
    let signature = decode_hex::<64>(&sig.signature, "signature").map_err(SignatureError::BadSignature)?;
    let binding = sig.binding();
    let message = signed_message(&actual, sig.size, sig.version.as_deref(), binding);
    match subnet_keys::verify(CryptoType::Ed25519, &account, &message, &signature) {
        Ok(true) => Ok(Verified { signer: account, version: sig.version.clone(), sha256: actual, binding }),
        Ok(false) => Err(SignatureError::BadSignature(sig.signer.clone())),
        Err(e) => Err(SignatureError::BadSignature(format!("{}: {e}", sig.signer))),
    }
}

/// Requires a verified signer to be one of `required` (an empty list accepts any signer).
pub fn check_signer(verified: &Verified, required: &[AccountId]) -> Result<(), SignatureError> {
    if required.is_empty() || required.contains(&verified.signer) {
        return Ok(());
    }
    Err(SignatureError::NotAllowed {
        signer: verified.signer.to_ss58(),
        required: required.iter().map(AccountId::to_ss58).collect::<Vec<_>>().join(", "),
    })
}

/// Requires a verified signature to be bound to subnet `netuid` (format 2, its netuid).
pub fn check_subnet(verified: &Verified, netuid: u16) -> Result<Binding, SignatureError> {
    match verified.binding {
        None => Err(SignatureError::Unbound { expected: netuid }),
        Some(b) if b.netuid != netuid => Err(SignatureError::WrongSubnet { signed: b.netuid, expected: netuid }),
        Some(b) => Ok(b),
    }
}

/// Reads `<module>.sig` and verifies it against `module`'s bytes, the `required` signers and
/// the subnet `netuid` it is offered to.
pub fn verify_file(
    module_path: &Path,
    module: &[u8],
    required: &[AccountId],
    netuid: u16,
) -> Result<Verified, SignatureError> {
    let sig = ModuleSignature::read(&signature_path(module_path))?;
    let verified = verify_module(module, &sig)?;
    check_signer(&verified, required)?;
    check_subnet(&verified, netuid)?;
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Keypair {
        Keypair::from_seed(CryptoType::Ed25519, &[byte; 32])
    }

    const FOR_7: Binding = Binding { netuid: 7, signed_at: 1_796_300_000 };

    #[test]
    fn sign_then_verify_and_every_alteration_fails() {
        let module = b"\0asm\x0d\0\x01\0 pretend component".to_vec();
        let sig = sign_module(&key(1), &module, Some("1.0.0"), FOR_7).unwrap();
        let ok = verify_module(&module, &sig).unwrap();
        assert_eq!(ok.signer, key(1).account_id());
        assert_eq!(ok.version.as_deref(), Some("1.0.0"));
        check_signer(&ok, &[key(1).account_id()]).unwrap();
        assert!(matches!(check_signer(&ok, &[key(2).account_id()]), Err(SignatureError::NotAllowed { .. })));

        let mut tampered = module.clone();
        tampered[9] ^= 1;
        assert!(matches!(verify_module(&tampered, &sig), Err(SignatureError::WrongModule { .. })));

        let relabelled = ModuleSignature { version: Some("2.0.0".into()), ..sig.clone() };
        assert!(matches!(verify_module(&module, &relabelled), Err(SignatureError::BadSignature(_))));

        // Someone else's key with the original signature bytes.
        let other = key(2);
        let swapped = ModuleSignature {
            public_key: format!("0x{}", hex::encode(other.public_key())),
            signer: other.ss58_address(),
            ..sig.clone()
        };
        assert!(matches!(verify_module(&module, &swapped), Err(SignatureError::BadSignature(_))));

        let mismatched_ss58 = ModuleSignature { signer: other.ss58_address(), ..sig.clone() };
        assert!(matches!(verify_module(&module, &mismatched_ss58), Err(SignatureError::BadSignature(_))));

        // The binding is signed: neither another subnet nor another time can be written in.
        let moved = ModuleSignature { netuid: Some(8), ..sig.clone() };
        assert!(matches!(verify_module(&module, &moved), Err(SignatureError::BadSignature(_))));
        let redated = ModuleSignature { signed_at: Some(FOR_7.signed_at + 1), ..sig.clone() };
        assert!(matches!(verify_module(&module, &redated), Err(SignatureError::BadSignature(_))));
        assert_eq!(check_subnet(&ok, 7), Ok(FOR_7));
        assert_eq!(check_subnet(&ok, 8), Err(SignatureError::WrongSubnet { signed: 7, expected: 8 }));
    }

    #[test]
    fn format_1_verifies_but_is_bound_to_no_subnet() {
        // A format-1 signature made by hand, as an older subnetd wrote them.
        let k = key(4);
        let module = b"old module";
        let sha256 = hex::encode(Sha256::digest(module));
        let signature = k.sign(&signed_message(&sha256, module.len() as u64, None, None));
        let v1 = ModuleSignature {
            format: SIGNATURE_FORMAT_V1.into(),
            algorithm: "ed25519".into(),
            public_key: format!("0x{}", hex::encode(k.public_key())),
            signer: k.ss58_address(),
            sha256,
            size: module.len() as u64,
            version: None,
            netuid: None,
            signed_at: None,
            signature: format!("0x{}", hex::encode(signature)),
        };
        let text = serde_json::to_vec(&v1).unwrap();
        let parsed = ModuleSignature::parse(&text, Path::new("m.sig")).unwrap();
        let verified = verify_module(module, &parsed).unwrap();
        assert_eq!(verified.binding, None);
        let refused = check_subnet(&verified, 3).unwrap_err();
        assert_eq!(refused, SignatureError::Unbound { expected: 3 });
        assert!(refused.to_string().contains("subnetd sign --netuid 3"), "{refused}");

        // Mixed shapes are malformed, not silently one format or the other.
        let half = ModuleSignature { netuid: Some(3), ..v1.clone() };
        let err = ModuleSignature::parse(&serde_json::to_vec(&half).unwrap(), Path::new("m.sig")).unwrap_err();
        assert!(matches!(err, SignatureError::Malformed { .. }), "{err}");
        let v2_without_time = ModuleSignature { format: SIGNATURE_FORMAT.into(), netuid: Some(3), ..v1 };
        let err =
            ModuleSignature::parse(&serde_json::to_vec(&v2_without_time).unwrap(), Path::new("m.sig")).unwrap_err();
        assert!(err.to_string().contains("signed_at"), "{err}");
    }

    #[test]
    fn the_signed_message_is_fixed() {
        // The format is a contract with other tools: pin the exact bytes.
        assert_eq!(
            signed_message("ab", 3, Some("v1"), Some(Binding { netuid: 12, signed_at: 99 })),
            b"subnetd-module-signature/2\nsha256:ab\nsize:3\nversion:v1\nnetuid:12\nsigned_at:99\n".to_vec()
        );
        assert_eq!(
            signed_message("ab", 3, None, None),
            b"subnetd-module-signature/1\nsha256:ab\nsize:3\nversion:\n".to_vec()
        );
        // RFC 8032 ed25519 is deterministic: the same key and module give the same signature.
        let a = sign_module(&key(7), b"module", None, FOR_7).unwrap();
        let b = sign_module(&key(7), b"module", None, FOR_7).unwrap();
        assert_eq!(a.signature, b.signature);
    }

    #[test]
    fn sr25519_keys_are_refused_and_files_round_trip() {
        let sr = Keypair::from_seed(CryptoType::Sr25519, &[1; 32]);
        assert!(matches!(sign_module(&sr, b"x", None, FOR_7), Err(SignatureError::Key(m)) if m.contains("ed25519")));

        let dir = tempfile::tempdir().unwrap();
        let module_path = dir.path().join("validator.wasm");
        std::fs::write(&module_path, b"bytes").unwrap();
        assert_eq!(signature_path(&module_path), dir.path().join("validator.wasm.sig"));
        assert!(matches!(verify_file(&module_path, b"bytes", &[], 7), Err(SignatureError::Missing(_))));
        sign_module(&key(3), b"bytes", None, FOR_7).unwrap().write(&signature_path(&module_path)).unwrap();
        verify_file(&module_path, b"bytes", &[key(3).account_id()], 7).unwrap();
        assert!(matches!(
            verify_file(&module_path, b"bytes", &[key(3).account_id()], 9),
            Err(SignatureError::WrongSubnet { signed: 7, expected: 9 })
        ));
        std::fs::write(signature_path(&module_path), b"{not json").unwrap();
        assert!(matches!(verify_file(&module_path, b"bytes", &[], 7), Err(SignatureError::Malformed { .. })));
    }
}
