//! Interop with the real peer: the PyPI package bittensor-drand 2.0 (the Rust `tle` code that
//! bittensor 10.5 and 11.x commit timelocked weights with), driven through its offline functions
//! (`encrypt_at_round`, `decrypt_with_signature`, `get_encrypted_commit_v2`); its calls to the
//! drand network are unreachable here, so the round-1000 quicknet signature recorded in
//! subtensor's tests opens both sides' commits.
//!
//! The package's generic functions (`encrypt_at_round`, `decrypt_with_signature`) speak the
//! commitments pallet's envelope, SCALE `(ciphertext: Vec<u8>, reveal_round: u64)`; its weight
//! commit (`get_encrypted_commit_v2`) is the bare ciphertext, which is what
//! `commit_timelocked_weights` carries. Inside, both are the same `TLECiphertext`.
//!
//! The interpreter is `SUBNETD_DRAND_PYTHON` (a Python with `bittensor-drand==2.0.0`), else the
//! workspace's `.venv/bin/python` (scripts/setup.sh installs the package there); without either
//! the tests say SKIPPED and pass.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use codec::{Decode, Encode};
use subnet_drand::{BeaconInfo, DrandError, OVERHEAD, WeightsTlockPayload, decrypt, encrypt, recorded};

fn python() -> Option<PathBuf> {
    let candidates = std::env::var_os("SUBNETD_DRAND_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")]);
    let found = candidates
        .into_iter()
        .find(|p| Command::new(p).args(["-c", "import bittensor_drand"]).output().is_ok_and(|o| o.status.success()));
    if found.is_none() {
        eprintln!("SKIPPED: no Python with bittensor-drand (run scripts/setup.sh or set SUBNETD_DRAND_PYTHON)");
    }
    found
}

/// Runs `script` with `input` on stdin; its stdout, trimmed.
fn run_python(python: &PathBuf, script: &str, input: &str) -> String {
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python starts");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn example() -> WeightsTlockPayload {
    WeightsTlockPayload {
        hotkey: (0u8..32).collect(),
        uids: vec![0, 1, 2],
        values: vec![65535, 1000, 3],
        version_key: 42,
    }
}

#[test]
fn a_subnetd_commit_opens_with_bittensor_drand() {
    let Some(python) = python() else { return };
    let payload = example().encode();
    let commit = encrypt(&BeaconInfo::quicknet(), 1000, &payload, [9; 32]).unwrap();
    let signature = hex::encode(recorded::quicknet_round_1000().signature);
    let script = r#"
import sys, bittensor_drand as bd
commit, signature = sys.stdin.read().split()
print(bd.decrypt_with_signature(bytes.fromhex(commit), signature).hex())
"#;
    // The commitments envelope around our bare ciphertext, as the package expects it.
    let envelope = (commit.clone(), 1000u64).encode();
    let opened = run_python(&python, script, &format!("{} {signature}", hex::encode(&envelope)));
    assert_eq!(opened, hex::encode(&payload), "bittensor-drand reads our plaintext byte for byte");
}

#[test]
fn a_bittensor_drand_commit_opens_with_subnetd() {
    let Some(python) = python() else { return };
    // The package encrypts our example payload's bytes to round 1000.
    let script = r#"
import sys, bittensor_drand as bd
data = bytes.fromhex(sys.stdin.read().strip())
commit, round_ = bd.encrypt_at_round(data, 1000)
print(round_, bytes(commit).hex())
"#;
    let out = run_python(&python, script, &hex::encode(example().encode()));
    let (round, commit) = out.split_once(' ').unwrap();
    assert_eq!(round, "1000");
    let envelope = hex::decode(commit).unwrap();
    let (commit, envelope_round) =
        <(Vec<u8>, u64)>::decode(&mut envelope.as_slice()).expect("the commitments envelope");
    assert_eq!(envelope_round, 1000);
    assert_eq!(commit.len(), example().encode().len() + OVERHEAD);
    let plaintext = decrypt(&commit, &recorded::quicknet_round_1000().signature).expect("subnetd opens it");
    assert_eq!(WeightsTlockPayload::decode(&plaintext).unwrap(), example());
    // Another round's signature is refused as such, not read as garbage.
    assert!(matches!(decrypt(&commit, &recorded::quicknet_round_2000().signature), Err(DrandError::WrongSignature)));
}

#[test]
fn bittensor_drand_weight_commits_are_the_chains_format() {
    let Some(python) = python() else { return };
    // `get_encrypted_commit_v2` is what the SDK sends: a SCALE WeightsTlockPayload (hotkey, uids,
    // values, version key) encrypted to a round in the future. Its round has no recorded pulse,
    // so check the envelope: our size formula, and a well-formed ciphertext that only the
    // wrong signature stops.
    let script = r#"
import bittensor_drand as bd
commit, round_ = bd.get_encrypted_commit_v2([0, 1, 2], [65535, 1000, 3], 42, 1000, 0, 10, 360, 20, 1020, 1, 12.0, bytes(range(32)))
print(round_, bytes(commit).hex())
"#;
    let out = run_python(&python, script, "");
    let (round, commit) = out.split_once(' ').unwrap();
    let round: u64 = round.parse().unwrap();
    let commit = hex::decode(commit).unwrap();
    assert!(round > 1000, "a future round: {round}");
    assert_eq!(commit.len(), example().encode().len() + OVERHEAD, "the example payload, encrypted");
    let err = decrypt(&commit, &recorded::quicknet_round_1000().signature).unwrap_err();
    assert!(
        !matches!(err, DrandError::MalformedCiphertext(_)),
        "the package's commit parses as the chain's ciphertext: {err}"
    );
}
