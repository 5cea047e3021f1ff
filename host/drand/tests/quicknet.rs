//! Against the real drand quicknet: its published parameters, recorded pulses, and a commit
//! encrypted to round 1000 and opened with the real round-1000 signature.

use sha2::{Digest, Sha256};
use subnet_drand::{
    BeaconInfo, DrandError, LocalBeacon, OVERHEAD, Pulse, QUICKNET_CHAIN_HASH, WeightsTlockPayload, decrypt, encrypt,
    recorded, verify_pulse,
};

/// The example from live-network-facts.md with hotkey bytes 0x00..0x1f:
/// `80 <32-byte hotkey> 0c 0000 0100 0200 0c ffff e803 0300 2a00000000000000`.
fn example_bytes() -> Vec<u8> {
    let hotkey: String = (0u8..32).map(|b| format!("{b:02x}")).collect();
    hex::decode(format!("80{hotkey}0c0000010002000cffffe80303002a00000000000000")).unwrap()
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
fn quicknet_parameters_hash_to_its_chain_hash() {
    // drand's chain/info.go Hash(): sha256(period u32 BE, genesis i64 BE, public key, group hash, beacon id).
    // Group hash and beacon id from drand's /info as recorded in subtensor pallets/drand/src/tests.rs.
    let q = BeaconInfo::quicknet();
    let group_hash = hex::decode("f477d5c89f21a17c863a7f937c6a6d15859414d2be09cd448d4279af331c5d3e").unwrap();
    let mut h = Sha256::new();
    h.update((q.period_secs as u32).to_be_bytes());
    h.update((q.genesis_unix as i64).to_be_bytes());
    h.update(&q.public_key);
    h.update(&group_hash);
    h.update(b"quicknet");
    assert_eq!(hex::encode(h.finalize()), QUICKNET_CHAIN_HASH);
    assert_eq!((q.genesis_unix, q.period_secs), (1_692_803_367, 3));
}

#[test]
fn recorded_pulses_verify_and_their_randomness_is_drands() {
    let q = BeaconInfo::quicknet();
    for pulse in recorded::quicknet() {
        verify_pulse(&q, &pulse).unwrap_or_else(|e| panic!("round {}: {e}", pulse.round));
    }
    assert_eq!(
        hex::encode(recorded::quicknet_round_1000().randomness()),
        "fe290beca10872ef2fb164d2aa4442de4566183ec51c56ff3cd603d930e54fdd"
    );
}

#[test]
fn verify_refuses_every_flipped_bit() {
    let q = BeaconInfo::quicknet();
    let pulse = recorded::quicknet_round_1000();
    for bit in 0..pulse.signature.len() * 8 {
        let mut bad = pulse.clone();
        bad.signature[bit / 8] ^= 1 << (bit % 8);
        let err = verify_pulse(&q, &bad).expect_err("a flipped bit must not verify");
        assert!(
            matches!(err, DrandError::MalformedSignature { .. } | DrandError::BadSignature { round: 1000 }),
            "bit {bit}: {err:?}"
        );
    }
}

#[test]
fn verify_refuses_wrong_rounds_lengths_and_keys() {
    let q = BeaconInfo::quicknet();
    let pulse = recorded::quicknet_round_1000();
    for round in [0, 1, 999, 1001, 2000, u64::MAX] {
        let moved = Pulse { round, ..pulse.clone() };
        assert_eq!(verify_pulse(&q, &moved), Err(DrandError::BadSignature { round }));
    }
    for len in [0usize, 1, 47, 49, 96, 144] {
        let mut signature = pulse.signature.clone();
        signature.resize(len, 0);
        let err = verify_pulse(&q, &Pulse { round: 1000, signature }).unwrap_err();
        assert!(matches!(err, DrandError::MalformedSignature { len: l, .. } if l == len), "{len}: {err:?}");
    }
    // subtensor's bad-signature test pulse for round 1000 (pallets/drand/src/tests.rs).
    let bad = Pulse {
        round: 1000,
        signature: hex::decode(
            "b0a8b04e009cf72534321aca0f50048da596a3feec1172a0244d9a4a623a3123d0402da79854d4c705e94bc73224c341",
        )
        .unwrap(),
    };
    assert!(verify_pulse(&q, &bad).is_err());
    // The real pulse under another beacon's key, and under a malformed key.
    let other = LocalBeacon::from_seed([5; 32], q.genesis_unix, 3).info();
    assert_eq!(verify_pulse(&other, &pulse), Err(DrandError::BadSignature { round: 1000 }));
    let truncated = BeaconInfo { public_key: q.public_key[..95].to_vec(), ..q.clone() };
    assert!(matches!(verify_pulse(&truncated, &pulse), Err(DrandError::InvalidPublicKey { len: 95, .. })));
    let mut flipped = q.clone();
    flipped.public_key[50] ^= 1;
    assert!(matches!(
        verify_pulse(&flipped, &pulse),
        Err(DrandError::InvalidPublicKey { .. } | DrandError::BadSignature { .. })
    ));
}

#[test]
fn commit_to_round_1000_opens_with_the_real_signature() {
    let q = BeaconInfo::quicknet();
    let plaintext = example().encode();
    assert_eq!(plaintext, example_bytes(), "SCALE layout of WeightsTlockPayload");
    let commit = encrypt(&q, 1000, &plaintext, [42; 32]).unwrap();
    assert_eq!(commit.len(), plaintext.len() + OVERHEAD);
    let opened = decrypt(&commit, &recorded::quicknet_round_1000().signature).unwrap();
    assert_eq!(opened, example_bytes());
    assert_eq!(WeightsTlockPayload::decode(&opened).unwrap(), example());
    // Fixed entropy fixes the bytes; other entropy gives another ciphertext of the same plaintext.
    assert_eq!(encrypt(&q, 1000, &plaintext, [42; 32]).unwrap(), commit);
    let other = encrypt(&q, 1000, &plaintext, [43; 32]).unwrap();
    assert_ne!(other, commit);
    assert_eq!(decrypt(&other, &recorded::quicknet_round_1000().signature).unwrap(), example_bytes());
}

#[test]
fn other_rounds_signatures_and_tampering_are_typed_errors() {
    let q = BeaconInfo::quicknet();
    let commit = encrypt(&q, 1000, &example_bytes(), [42; 32]).unwrap();
    let sig = recorded::quicknet_round_1000().signature;
    for wrong in [recorded::quicknet_round_123(), recorded::quicknet_round_2000()] {
        assert_eq!(decrypt(&commit, &wrong.signature), Err(DrandError::WrongSignature));
    }
    let to_2000 = encrypt(&q, 2000, &example_bytes(), [42; 32]).unwrap();
    assert_eq!(decrypt(&to_2000, &sig), Err(DrandError::WrongSignature));
    assert_eq!(decrypt(&to_2000, &recorded::quicknet_round_2000().signature).unwrap(), example_bytes());

    let mut v = commit.clone();
    v[110] ^= 1; // inside V
    assert_eq!(decrypt(&v, &sig), Err(DrandError::WrongSignature));
    let mut w = commit.clone();
    w[150] ^= 1; // inside W
    assert_eq!(decrypt(&w, &sig), Err(DrandError::WrongSignature));
    let mut body = commit.clone();
    body[200] ^= 1; // inside the AES ciphertext
    assert_eq!(decrypt(&body, &sig), Err(DrandError::BodyAuthentication));
    let mut u = commit.clone();
    u[40] ^= 1; // inside U
    assert!(matches!(decrypt(&u, &sig), Err(DrandError::MalformedCiphertext(_) | DrandError::WrongSignature)));
    assert!(matches!(decrypt(&commit, &sig[..47]), Err(DrandError::MalformedSignature { len: 47, .. })));
    for cut in [0, 95, 96, 140, 183, commit.len() - 17, commit.len() - 1] {
        assert!(matches!(decrypt(&commit[..cut], &sig), Err(DrandError::MalformedCiphertext(_))), "cut at {cut}");
    }
}

#[test]
fn a_full_commit_fits_the_chains_bound() {
    // commit: BoundedVec<u8, 5000>; 1,177 pairs is the most that fits with a 32-byte hotkey.
    let payload = |n: u16| WeightsTlockPayload {
        hotkey: vec![1; 32],
        uids: (0..n).collect(),
        values: vec![9; n as usize],
        version_key: 0,
    };
    let q = BeaconInfo::quicknet();
    let fits = encrypt(&q, 1000, &payload(1177).encode(), [1; 32]).unwrap();
    assert!(fits.len() <= 5000, "{}", fits.len());
    assert!(subnet_drand::ciphertext_len(payload(1178).encode().len()) > 5000);
    let opened = decrypt(&fits, &recorded::quicknet_round_1000().signature).unwrap();
    assert_eq!(WeightsTlockPayload::decode(&opened).unwrap(), payload(1177));
}

#[test]
fn pulses_deserialize_from_drands_http_json() {
    // The response of /52db9b.../public/1000 as subtensor's tests record it.
    let body = r#"{"round":1000,"randomness":"fe290beca10872ef2fb164d2aa4442de4566183ec51c56ff3cd603d930e54fdd","signature":"b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39"}"#;
    let pulse: Pulse = serde_json::from_str(body).unwrap();
    assert_eq!(pulse, recorded::quicknet_round_1000());
    let back: Pulse = serde_json::from_str(&serde_json::to_string(&pulse).unwrap()).unwrap();
    assert_eq!(back, pulse);
    assert!(serde_json::from_str::<Pulse>(r#"{"round":1,"signature":"zz"}"#).is_err());
}
