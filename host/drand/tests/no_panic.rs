//! Untrusted bytes never panic: random, truncated and mutated ciphertexts, random signatures and
//! random payload bytes all give a value or a typed error.

use std::sync::OnceLock;

use proptest::prelude::*;
use subnet_drand::{DrandError, LocalBeacon, Pulse, WeightsTlockPayload, decrypt, encrypt, verify_pulse};

const ROUND: u64 = 77;

struct Fixture {
    beacon: LocalBeacon,
    plaintext: Vec<u8>,
    ciphertext: Vec<u8>,
    signature: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let beacon = LocalBeacon::from_seed([11; 32], 0, 3);
        let plaintext =
            WeightsTlockPayload { hotkey: vec![1; 32], uids: vec![1, 2, 3], values: vec![4, 5, 6], version_key: 8 }
                .encode();
        let ciphertext = encrypt(&beacon.info(), ROUND, &plaintext, [12; 32]).unwrap();
        let signature = beacon.pulse(ROUND).signature;
        Fixture { beacon, plaintext, ciphertext, signature }
    })
}

/// Bytes of the ciphertext whose changes may be ignored, as the chain ignores them: the cipher
/// suite (its content is not checked; a shorter length leaves trailing bytes, which are ignored).
fn may_be_ignored(at: usize, len: usize) -> bool {
    at >= len - 16
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_decrypt(bytes in proptest::collection::vec(any::<u8>(), 0..600), sig in proptest::collection::vec(any::<u8>(), 0..100)) {
        let f = fixture();
        prop_assert!(decrypt(&bytes, &f.signature).is_err());
        let _ = decrypt(&f.ciphertext, &sig); // any result, no panic
        prop_assert!(decrypt(&bytes, &sig).is_err());
    }

    #[test]
    fn truncations_are_malformed(cut in 0usize..1000) {
        let f = fixture();
        let cut = cut % f.ciphertext.len();
        prop_assert!(matches!(decrypt(&f.ciphertext[..cut], &f.signature), Err(DrandError::MalformedCiphertext(_))));
    }

    #[test]
    fn random_payload_bytes_decode_or_fail(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(p) = WeightsTlockPayload::decode(&bytes) {
            prop_assert!(p.hotkey.is_empty() || p.hotkey.len() >= 32);
        }
    }

    #[test]
    fn payloads_round_trip(hotkey in proptest::collection::vec(any::<u8>(), 32..40), pairs in proptest::collection::vec(any::<(u16, u16)>(), 0..300), version_key in any::<u64>()) {
        let p = WeightsTlockPayload { hotkey, uids: pairs.iter().map(|x| x.0).collect(), values: pairs.iter().map(|x| x.1).collect(), version_key };
        let bytes = p.encode();
        prop_assert_eq!(WeightsTlockPayload::decode(&bytes).unwrap(), p.clone());
        for cut in [0, bytes.len() / 2, bytes.len().saturating_sub(1)] {
            let _ = WeightsTlockPayload::decode(&bytes[..cut]); // any result, no panic
        }
    }

    #[test]
    fn random_pulses_do_not_verify(round in any::<u64>(), sig in proptest::collection::vec(any::<u8>(), 0..100)) {
        let pulse = Pulse { round, signature: sig };
        prop_assert!(verify_pulse(&fixture().beacon.info(), &pulse).is_err());
    }
}

proptest! {
    // Each case runs the pairing: fewer cases.
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn mutations_fail_or_are_ignored(at in any::<usize>(), xor in 1u8..=255) {
        let f = fixture();
        let at = at % f.ciphertext.len();
        let mut bad = f.ciphertext.clone();
        bad[at] ^= xor;
        match decrypt(&bad, &f.signature) {
            Ok(plaintext) => {
                prop_assert!(may_be_ignored(at, bad.len()), "byte {} changed yet decrypted", at);
                prop_assert_eq!(plaintext, f.plaintext.clone());
            }
            Err(_) => prop_assert!(at < bad.len() - 8, "the suite's content is not checked"),
        }
    }

    #[test]
    fn mutated_signatures_fail(at in 0usize..48, xor in 1u8..=255) {
        let f = fixture();
        let mut sig = f.signature.clone();
        sig[at] ^= xor;
        prop_assert!(decrypt(&f.ciphertext, &sig).is_err());
    }
}
