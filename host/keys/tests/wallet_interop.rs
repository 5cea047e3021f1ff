//! Wallet keyfiles against the real bittensor SDK (bittensor 11's `Wallet` and `Keyfile`):
//! wallets the SDK creates load here (plain and `$NACL`-encrypted hotkeys, sr25519 and ed25519;
//! a password-protected coldkey is refused clearly), and keyfiles written here load in the SDK,
//! which then signs with them. Needs the interop venv; see tests/support/mod.rs.

mod support;

use std::path::Path;

use serde_json::json;
use subnet_keys::{CryptoType, KeyError, Keypair, coldkey_path, hotkey_path, load_coldkeypub};
use support::Sdk;

const MESSAGE: &[u8] = b"subnetd wallet interop";

/// Proves the SDK knows the secret of `ss58`: a signature made here verifies there.
fn sdk_accepts_signature(sdk: &mut Sdk, kp: &Keypair) {
    let answer = sdk.ok(json!({
        "op": "verify_sig", "message_hex": hex::encode(MESSAGE), "signature_hex": hex::encode(kp.sign(MESSAGE)),
        "ss58": kp.ss58_address(), "crypto": kp.crypto_type().name(),
    }));
    assert_eq!(answer["valid"], true, "{kp:?}");
}

#[test]
fn wallets_made_by_the_sdk_load_here() {
    let mut sdk = Sdk::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let root_s = root.to_str().unwrap();

    // `btcli wallet create`: a password-protected coldkey and a plain sr25519 hotkey.
    let made = sdk.ok(json!({
        "op": "wallet_create", "path": root_s, "name": "w", "hotkey": "plain", "coldkey_password": "cold pw",
    }));
    let made_ed =
        sdk.ok(json!({"op": "wallet_create", "path": root_s, "name": "w", "hotkey": "ed", "crypto": "ed25519"}));
    let made_locked = sdk.ok(json!({
        "op": "wallet_create", "path": root_s, "name": "w", "hotkey": "locked", "hotkey_password": "hot pw",
    }));

    for (name, info, crypto) in [("plain", &made, CryptoType::Sr25519), ("ed", &made_ed, CryptoType::Ed25519)] {
        let kp = Keypair::load_hotkey(root, "w", name, None).unwrap();
        assert_eq!(kp.ss58_address(), info["hotkey"]["ss58"], "{name}");
        assert_eq!(kp.crypto_type(), crypto, "{name}");
        sdk_accepts_signature(&mut sdk, &kp);
    }

    // An encrypted hotkey: refused without a password, opened with the right one.
    let e = Keypair::load_hotkey(root, "w", "locked", None).unwrap_err();
    assert!(matches!(e, KeyError::Encrypted { method: "NaCl", .. }), "{e}");
    let kp = Keypair::load_hotkey(root, "w", "locked", Some("hot pw")).unwrap();
    assert_eq!(kp.ss58_address(), made_locked["hotkey"]["ss58"]);
    sdk_accepts_signature(&mut sdk, &kp);
    // (A wrong password's KeyError::WrongPassword is covered by the unit tests on an SDK fixture;
    // each attempt costs a 512 MiB Argon2 run.)

    // The coldkey is password-protected and never needed: a clear error naming the file, while
    // its public half is readable.
    let cold = coldkey_path(root, "w").unwrap();
    let e = Keypair::load_from_file(&cold, None).unwrap_err();
    assert!(matches!(e, KeyError::Encrypted { method: "NaCl", .. }), "{e}");
    assert!(e.to_string().contains(&cold.display().to_string()) && e.to_string().contains("password"), "{e}");
    let (cold_pub, cold_crypto) = load_coldkeypub(root, "w").unwrap();
    assert_eq!(cold_pub.to_ss58(), made["coldkey"]["ss58"]);
    assert_eq!(cold_crypto, CryptoType::Sr25519);
}

#[test]
fn keyfiles_written_here_load_in_the_sdk() {
    let mut sdk = Sdk::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let root_s = root.to_str().unwrap();

    let keys = [
        ("sr", Keypair::generate(CryptoType::Sr25519)),
        ("ed", Keypair::generate(CryptoType::Ed25519)),
        // Soft-derived: no seed, so the file carries only privateKey.
        ("soft", Keypair::from_uri(CryptoType::Sr25519, "//Alice/soft").unwrap()),
        ("hard", Keypair::from_uri(CryptoType::Ed25519, "//Bob//stash").unwrap()),
    ];
    for (name, kp) in &keys {
        kp.save_to_wallet(root, "rw", name, false).unwrap();
        let got = sdk.ok(json!({
            "op": "wallet_load_hotkey", "path": root_s, "name": "rw", "hotkey": name, "message_hex": hex::encode(MESSAGE),
        }));
        assert_eq!(got["ss58"], kp.ss58_address(), "{name}");
        assert_eq!(got["hotkeypub_ss58"], kp.ss58_address(), "{name}");
        assert_eq!(got["crypto_type"], u64::from(kp.crypto_type().code()), "{name}");
        // The SDK signs with the secret it read; that verifies under our public key.
        let sig = hex::decode(got["signature_hex"].as_str().unwrap()).unwrap();
        assert!(kp.verify(MESSAGE, &sig).unwrap(), "{name}: SDK signature with our keyfile does not verify");
    }

    // Encrypted by us, opened by the SDK with the password (and by us again).
    let kp = Keypair::generate(CryptoType::Sr25519);
    let path = kp.save_to_wallet_encrypted(root, "rw", "sealed", "pw here", false).unwrap();
    assert_eq!(std::fs::read(&path).unwrap()[..5], *b"$NACL");
    let got = sdk.ok(json!({
        "op": "wallet_load_hotkey", "path": root_s, "name": "rw", "hotkey": "sealed", "password": "pw here",
        "message_hex": hex::encode(MESSAGE),
    }));
    assert_eq!(got["ss58"], kp.ss58_address());
    assert!(kp.verify(MESSAGE, &hex::decode(got["signature_hex"].as_str().unwrap()).unwrap()).unwrap());

    // A plain keyfile at an arbitrary path, through the SDK's Keyfile class.
    let kp = Keypair::generate(CryptoType::Ed25519);
    let file = root.join("loose-key");
    kp.save_to_file(&file, false).unwrap();
    let got =
        sdk.ok(json!({"op": "keyfile_load", "file": file.to_str().unwrap(), "message_hex": hex::encode(MESSAGE)}));
    assert_eq!(got["ss58"], kp.ss58_address());
    assert!(kp.verify(MESSAGE, &hex::decode(got["signature_hex"].as_str().unwrap()).unwrap()).unwrap());
    assert!(Path::new(&hotkey_path(root, "rw", "srpub.txt").unwrap()).exists());
}
