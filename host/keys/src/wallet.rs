//! Bittensor wallet keyfiles: the SDK's JSON shape, `$NACL` encryption, wallet paths.
//!
//! Invariants: keyfiles are read in the JSON shape the SDK writes (`secretPhrase`, `secretSeed`,
//! `privateKey`, `publicKey`, `accountId`, `ss58Address`, `cryptoType`) and written in the same
//! shape (without a mnemonic: `subnetd wallet new` prints it once and never stores it). A file
//! holding only `secretPhrase` derives its key from the phrase ([`Keypair::from_mnemonic`]). A file whose stored public key does
//! not match the secret it carries is refused ([`KeyError::PublicKeyMismatch`]), so a corrupted
//! or hand-edited file never signs as someone else. Files are written atomically, mode 0600, in
//! directories created 0700.
//!
//! Encrypted keyfiles: `$NACL` files (libsodium secretbox, key from Argon2i v1.3 with libsodium's
//! SENSITIVE limits and the SDK's fixed salt) are decrypted when a password is given; without one
//! the error is [`KeyError::Encrypted`]. Ansible-vault and legacy fernet files are recognised and
//! refused with [`KeyError::UnsupportedEncryption`].
//!
//! Failure modes: every fallible function returns [`KeyError`] naming the file and the problem;
//! nothing here panics on file contents.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use rand_core::{OsRng, RngCore as _};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::keypair::Secret;
use crate::{AccountId, CryptoType, KeyError, Keypair};

/// The libsodium Argon2i salt the bittensor SDK uses for every `$NACL` keyfile.
const NACL_SALT: [u8; 16] =
    [0x13, 0x71, 0x83, 0xdf, 0xf1, 0x5a, 0x09, 0xbc, 0x9c, 0x90, 0xb5, 0x51, 0x87, 0x39, 0xe9, 0xb1];
/// libsodium `crypto_pwhash_argon2i_OPSLIMIT_SENSITIVE`.
const NACL_ARGON2I_OPS: u32 = 8;
/// libsodium `crypto_pwhash_argon2i_MEMLIMIT_SENSITIVE` (512 MiB), in KiB as argon2 counts it.
const NACL_ARGON2I_MEM_KIB: u32 = 512 * 1024;
const NACL_MAGIC: &[u8] = b"$NACL";
const NACL_NONCE_LEN: usize = 24;
const NACL_TAG_LEN: usize = 16;

impl Keypair {
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

    /// The public-only keyfile JSON the SDK writes next to a key (`<hotkey>pub.txt`,
    /// `coldkeypub.txt`): `cryptoType`, `ss58Address`, `accountId`, `publicKey`.
    pub fn to_public_keyfile_json(&self) -> String {
        let public = format!("0x{}", hex::encode(self.public_key()));
        let mut m = Map::new();
        m.insert("cryptoType".into(), Value::from(self.crypto_type().code()));
        m.insert("ss58Address".into(), Value::String(self.ss58_address()));
        m.insert("accountId".into(), Value::String(public.clone()));
        m.insert("publicKey".into(), Value::String(public));
        Value::Object(m).to_string()
    }

    /// Writes this key as a plain-JSON keyfile at `path` (mode 0600, parent directories 0700),
    /// atomically via a temporary file. Refuses to replace an existing file unless `overwrite`.
    pub fn save_to_file(&self, path: &Path, overwrite: bool) -> Result<(), KeyError> {
        write_private(path, self.to_keyfile_json().as_bytes(), overwrite)
    }

    /// Like [`save_to_file`](Self::save_to_file), encrypted with `password` in the SDK's `$NACL`
    /// format (what `btcli` writes for password-protected keys). Costs about a second and 512 MiB.
    pub fn save_to_file_encrypted(&self, path: &Path, password: &str, overwrite: bool) -> Result<(), KeyError> {
        if path.exists() && !overwrite {
            return Err(KeyError::AlreadyExists { path: path.to_path_buf() });
        }
        let sealed = encrypt_nacl(self.to_keyfile_json().as_bytes(), password)?;
        write_private(path, &sealed, overwrite)
    }

    /// Writes this key as `<wallets_root>/<wallet>/hotkeys/<hotkey>` plus the public
    /// `<hotkey>pub.txt` beside it, as `btcli wallet new_hotkey` does (plain JSON); returns the
    /// hotkey's path. Refuses, before writing anything, if either file exists and not `overwrite`.
    pub fn save_to_wallet(
        &self,
        wallets_root: &Path,
        wallet: &str,
        hotkey: &str,
        overwrite: bool,
    ) -> Result<PathBuf, KeyError> {
        self.save_to_wallet_inner(wallets_root, wallet, hotkey, None, overwrite)
    }

    /// [`save_to_wallet`](Self::save_to_wallet) with the hotkey file encrypted by `password`
    /// (`$NACL`); the `pub.txt` file stays plain, as the SDK writes it.
    pub fn save_to_wallet_encrypted(
        &self,
        wallets_root: &Path,
        wallet: &str,
        hotkey: &str,
        password: &str,
        overwrite: bool,
    ) -> Result<PathBuf, KeyError> {
        self.save_to_wallet_inner(wallets_root, wallet, hotkey, Some(password), overwrite)
    }

    fn save_to_wallet_inner(
        &self,
        wallets_root: &Path,
        wallet: &str,
        hotkey: &str,
        password: Option<&str>,
        overwrite: bool,
    ) -> Result<PathBuf, KeyError> {
        let path = hotkey_path(wallets_root, wallet, hotkey)?;
        let pub_path = hotkey_path(wallets_root, wallet, &format!("{hotkey}pub.txt"))?;
        if !overwrite {
            for p in [&path, &pub_path] {
                if p.exists() {
                    return Err(KeyError::AlreadyExists { path: p.clone() });
                }
            }
        }
        match password {
            None => self.save_to_file(&path, overwrite)?,
            Some(pw) => self.save_to_file_encrypted(&path, pw, overwrite)?,
        }
        write_private(&pub_path, self.to_public_keyfile_json().as_bytes(), true)?;
        Ok(path)
    }
}

/// Writes `data` to `path` atomically (temporary file, fsync, rename), mode 0600, creating
/// parent directories 0700. Refuses to replace an existing file unless `overwrite`.
fn write_private(path: &Path, data: &[u8], overwrite: bool) -> Result<(), KeyError> {
    if path.exists() && !overwrite {
        return Err(KeyError::AlreadyExists { path: path.to_path_buf() });
    }
    if let Some(parent) = path.parent() {
        create_private_dirs(parent).map_err(|e| io_err(parent, e))?;
    }
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let result = (|| {
        let mut f = private_file(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(path, e));
    }
    Ok(())
}

/// Reads a wallet's public coldkey (`<root>/<wallet>/coldkeypub.txt`, never encrypted) without
/// touching the coldkey itself, which is usually password-protected and never needed here.
pub fn load_coldkeypub(wallets_root: &Path, wallet: &str) -> Result<(AccountId, CryptoType), KeyError> {
    let path = coldkey_path(wallets_root, wallet)?.with_file_name("coldkeypub.txt");
    let data = fs::read(&path).map_err(|e| io_err(&path, e))?;
    public_from_keyfile_data(&data, &path)
}

/// The public key and scheme recorded in keyfile data (a public-only `*pub.txt` file or a plain
/// keyfile; encrypted data is refused with [`KeyError::Encrypted`]).
pub fn public_from_keyfile_data(data: &[u8], path: &Path) -> Result<(AccountId, CryptoType), KeyError> {
    if let Some(method) = encryption_method(data) {
        return Err(KeyError::Encrypted { path: path.to_path_buf(), method });
    }
    let malformed = |reason: String| KeyError::Malformed { path: path.to_path_buf(), reason };
    let obj: Map<String, Value> = match serde_json::from_slice(data) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(malformed("not a JSON object".into())),
        Err(e) => return Err(malformed(format!("invalid JSON: {e}"))),
    };
    let crypto = keyfile_crypto(&obj, path)?;
    let claimed = keyfile_claimed_public(&obj, path)?;
    claimed.map(|id| (id, crypto)).ok_or_else(|| malformed("no publicKey, accountId or ss58Address".into()))
}

/// The default wallets directory, `~/.bittensor/wallets` (from `$HOME`), if `$HOME` is set.
pub fn default_wallets_root() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".bittensor").join("wallets"))
}

/// `<root>/<wallet>/hotkeys/<hotkey>`, refusing names that are empty or contain path separators
/// or `..` (names come from configs and CLIs; they must not reach outside the wallet tree).
pub fn hotkey_path(wallets_root: &Path, wallet: &str, hotkey: &str) -> Result<PathBuf, KeyError> {
    check_name(wallet)?;
    check_name(hotkey)?;
    Ok(wallets_root.join(wallet).join("hotkeys").join(hotkey))
}

/// `<root>/<wallet>/coldkey`, with the same name checks as [`hotkey_path`].
pub fn coldkey_path(wallets_root: &Path, wallet: &str) -> Result<PathBuf, KeyError> {
    check_name(wallet)?;
    Ok(wallets_root.join(wallet).join("coldkey"))
}

fn check_name(name: &str) -> Result<(), KeyError> {
    let reason = if name.is_empty() {
        Some("empty")
    } else if name.contains('/') || name.contains('\\') || name.contains('\0') {
        Some("contains a path separator")
    } else if name == "." || name == ".." {
        Some("is a relative path component")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(KeyError::InvalidName { name: name.to_string(), reason }),
        None => Ok(()),
    }
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
    let params = argon2::Params::new(NACL_ARGON2I_MEM_KIB, NACL_ARGON2I_OPS, 1, Some(32))
        .map_err(|e| KeyError::Malformed { path: path.to_path_buf(), reason: format!("argon2 parameters: {e}") })?;
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
    let rest = data
        .strip_prefix(NACL_MAGIC)
        .ok_or_else(|| KeyError::Malformed { path: path.to_path_buf(), reason: "missing $NACL header".into() })?;
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

fn text_field<'a>(obj: &'a Map<String, Value>, name: &str, path: &Path) -> Result<Option<&'a str>, KeyError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(KeyError::Malformed { path: path.to_path_buf(), reason: format!("{name} is not a string") }),
    }
}

fn keyfile_crypto(obj: &Map<String, Value>, path: &Path) -> Result<CryptoType, KeyError> {
    let malformed = |reason: String| KeyError::Malformed { path: path.to_path_buf(), reason };
    // Keyfiles written before cryptoType existed are sr25519.
    Ok(match obj.get("cryptoType") {
        None | Some(Value::Null) => CryptoType::Sr25519,
        Some(Value::Number(n)) => {
            n.as_u64().and_then(CryptoType::from_code).ok_or_else(|| malformed(format!("unknown cryptoType {n}")))?
        }
        Some(Value::String(s)) => CryptoType::parse(s).ok_or_else(|| malformed(format!("unknown cryptoType {s:?}")))?,
        Some(_) => return Err(malformed("cryptoType is not a number".into())),
    })
}

/// The public key a keyfile claims (`publicKey`, else `accountId`, else `ss58Address`).
fn keyfile_claimed_public(obj: &Map<String, Value>, path: &Path) -> Result<Option<AccountId>, KeyError> {
    let malformed = |reason: String| KeyError::Malformed { path: path.to_path_buf(), reason };
    let hex_public = text_field(obj, "publicKey", path)?.or(text_field(obj, "accountId", path)?);
    Ok(match (hex_public, text_field(obj, "ss58Address", path)?) {
        (Some(hexpk), _) => {
            let bytes = decode_hex_field(hexpk, "publicKey", path)?;
            let arr: [u8; 32] = bytes[..].try_into().map_err(|_| malformed("publicKey is not 32 bytes".into()))?;
            Some(AccountId(arr))
        }
        (None, Some(addr)) => Some(AccountId::from_ss58(addr).map_err(|e| malformed(format!("ss58Address: {e}")))?),
        (None, None) => None,
    })
}

fn parse_keyfile_json(data: &[u8], path: &Path) -> Result<Keypair, KeyError> {
    let malformed = |reason: String| KeyError::Malformed { path: path.to_path_buf(), reason };
    let value: Zeroizing<String> = Zeroizing::new(
        std::str::from_utf8(data)
            .map_err(|_| malformed("not UTF-8 (and not a known encrypted format)".into()))?
            .to_owned(),
    );
    let obj: Map<String, Value> = match serde_json::from_str(&value) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(malformed("not a JSON object".into())),
        Err(e) => return Err(malformed(format!("invalid JSON: {e}"))),
    };
    let text_field = |name: &str| text_field(&obj, name, path);
    let crypto = keyfile_crypto(&obj, path)?;
    // The public key the file claims, used to check the secret and to disambiguate sr25519
    // privateKey encodings.
    let claimed = keyfile_claimed_public(&obj, path)?;

    let keypair = if let Some(seed_hex) = text_field("secretSeed")? {
        let seed = decode_hex_field(seed_hex, "secretSeed", path)?;
        let arr: Zeroizing<[u8; 32]> =
            Zeroizing::new(seed[..].try_into().map_err(|_| malformed("secretSeed is not 32 bytes".into()))?);
        Keypair::from_seed(crypto, &arr)
    } else if let Some(pk_hex) = text_field("privateKey")? {
        let private = decode_hex_field(pk_hex, "privateKey", path)?;
        keypair_from_private(crypto, &private, claimed.as_ref(), path)?
    } else if let Some(phrase) = text_field("secretPhrase")? {
        Keypair::from_mnemonic(crypto, phrase, "").map_err(|e| malformed(format!("secretPhrase: {e}")))?
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

    const ALICE_SS58: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

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
            // The public companion file, as the SDK writes it.
            let pub_path = dir.path().join("w").join("hotkeys").join(format!("{name}pub.txt"));
            let (id, c) = public_from_keyfile_data(&fs::read(&pub_path).unwrap(), &pub_path).unwrap();
            assert_eq!((id, c), (kp.account_id(), crypto));
            assert!(matches!(Keypair::load_from_file(&pub_path, None), Err(KeyError::NoSecret { .. })));
            // A leftover pub file alone also blocks a non-overwriting save, before anything is written.
            fs::remove_file(&path).unwrap();
            let e = kp.save_to_wallet(dir.path(), "w", name, false).unwrap_err();
            assert!(matches!(&e, KeyError::AlreadyExists { path } if *path == pub_path), "{e}");
            assert!(!path.exists());
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
        assert!(matches!(
            Keypair::from_keyfile_data(seed_json.as_bytes(), None, p),
            Err(KeyError::PublicKeyMismatch { .. })
        ));
        let pub_only = format!(r#"{{"ss58Address":"{other}","publicKey":null}}"#);
        assert!(matches!(Keypair::from_keyfile_data(pub_only.as_bytes(), None, p), Err(KeyError::NoSecret { .. })));
        assert!(matches!(Keypair::from_keyfile_data(b"{not json", None, p), Err(KeyError::Malformed { .. })));
        assert!(matches!(
            Keypair::from_keyfile_data(br#"{"secretSeed":"0x12"}"#, None, p),
            Err(KeyError::Malformed { .. })
        ));
        assert!(matches!(
            Keypair::from_keyfile_data(br#"{"secretSeed":"zz"}"#, None, p),
            Err(KeyError::Malformed { .. })
        ));
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
        assert!(matches!(
            Keypair::load_hotkey(Path::new("/nonexistent-root"), "w", "h", None),
            Err(KeyError::NotFound { .. })
        ));
        assert!(matches!(hotkey_path(Path::new("/r"), "..", "h"), Err(KeyError::InvalidName { .. })));
        assert!(matches!(hotkey_path(Path::new("/r"), "w", "a/b"), Err(KeyError::InvalidName { .. })));
        assert!(matches!(coldkey_path(Path::new("/r"), ".."), Err(KeyError::InvalidName { .. })));
        assert_eq!(coldkey_path(Path::new("/r"), "w").unwrap(), Path::new("/r/w/coldkey"));
        assert!(matches!(load_coldkeypub(Path::new("/nonexistent-root"), "w"), Err(KeyError::NotFound { .. })));
        assert!(matches!(public_from_keyfile_data(b"$NACLxx", p), Err(KeyError::Encrypted { .. })));
        assert!(matches!(public_from_keyfile_data(br#"{"cryptoType":1}"#, p), Err(KeyError::Malformed { .. })));
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
}
