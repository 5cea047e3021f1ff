//! Epistula v2 against a Python reference written from SN1's published format
//! (tests/interop/bt10_helper.py, on bittensor 10.5's `Keypair`): headers signed here pass SN1's
//! checks there, headers signed there verify here, and both refuse bad signatures and stale
//! timestamps. Needs the bittensor 10.5 venv; see tests/support/mod.rs.

mod support;

use serde_json::{Value, json};
use subnet_keys::epistula::{self, EpistulaError, Verifier};
use subnet_keys::{CryptoType, Keypair};
use support::{Sdk, headers_from_json, headers_to_json};

const BODY: &[u8] = br#"{"messages": [{"role": "user", "content": "caf\u00e9"}], "model": null, "seed": 42}"#;

fn sn1_verify(sdk: &mut Sdk, headers: &[(String, String)], body: &[u8], me: &str, now_ms: u64) -> Value {
    sdk.ok(json!({
        "op": "epistula_verify", "headers": headers_to_json(headers), "body_hex": hex::encode(body),
        "self_ss58": me, "now_ms": now_ms,
    }))["error_text"]
        .clone()
}

fn with(h: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    h.iter().map(|(k, v)| (k.clone(), if k == name { value.to_string() } else { v.clone() })).collect()
}

#[test]
fn our_headers_pass_sn1s_checks() {
    let mut sdk = Sdk::start_bt10();
    let sender = Keypair::generate(CryptoType::Sr25519);
    let me = Keypair::from_uri(CryptoType::Sr25519, "//Bob").unwrap();
    let ts = epistula::unix_time_ms();
    let h = epistula::sign_request(&sender, BODY, Some(&me.account_id()), ts, &epistula::uuid4()).unwrap();
    let bob = me.ss58_address();
    assert_eq!(sn1_verify(&mut sdk, &h, BODY, &bob, ts + 100), Value::Null);
    assert_eq!(sn1_verify(&mut sdk, &h, BODY, &bob, ts + 8000), Value::Null);
    assert_eq!(sn1_verify(&mut sdk, &h, BODY, &bob, ts + 8001), json!("Request is too stale"));
    assert_eq!(sn1_verify(&mut sdk, &h, b"{}", &bob, ts), json!("Signature Mismatch"));
    let forged = with(&h, epistula::HEADER_SIGNATURE, &format!("0x{}", "11".repeat(64)));
    assert_eq!(sn1_verify(&mut sdk, &forged, BODY, &bob, ts), json!("Signature Mismatch"));
    assert_eq!(
        sn1_verify(&mut sdk, &h, BODY, &sender.ss58_address(), ts),
        json!("Bad Request, message is not intended for self")
    );
    // Same header set as the reference for the same key, time and uuid; and the secret
    // signatures sign SN1's float-formatted intervals (sr25519 signatures are randomised, so
    // ours are checked by the SDK's Keypair over the reference's messages).
    let uuid = "6f1b3a52-1d2e-4c3f-8a9b-0c1d2e3f4a5b";
    let theirs = headers_from_json(
        &sdk.ok(json!({"op": "epistula_sign", "uri": "//Alice", "body_hex": hex::encode(BODY),
            "signed_for": bob, "timestamp_ms": ts, "uuid": uuid}))["headers"],
    );
    let alice = Keypair::from_uri(CryptoType::Sr25519, "//Alice").unwrap();
    let ours = epistula::sign_request(&alice, BODY, Some(&me.account_id()), ts, uuid).unwrap();
    let names = |h: &[(String, String)]| h.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ours), names(&theirs));
    let interval = (ts as f64 / 1e4).ceil() * 1e4;
    for (i, t) in [interval - 1.0, interval, interval + 1.0].into_iter().enumerate() {
        let name = format!("Epistula-Secret-Signature-{i}");
        let sig = &ours.iter().find(|(k, _)| *k == name).unwrap().1;
        // Python's str() of the float interval, e.g. "1752076810000.0".
        let message = format!("{}.{bob}", subnet_keys::synapse::float_repr(t));
        let ok =
            sdk.ok(json!({"op": "verify_sig", "ss58": alice.ss58_address(), "message": message, "signature": sig}));
        assert_eq!(ok["valid"], true, "{name}");
    }
}

#[test]
fn sn1_reference_headers_verify_here() {
    let mut sdk = Sdk::start_bt10();
    let me = Keypair::from_uri(CryptoType::Sr25519, "//Bob").unwrap();
    let alice = Keypair::from_uri(CryptoType::Sr25519, "//Alice").unwrap();
    let uuid = epistula::uuid4();
    let h = headers_from_json(
        &sdk.ok(json!({"op": "epistula_sign", "uri": "//Alice", "body_hex": hex::encode(BODY),
            "signed_for": me.ss58_address(), "uuid": uuid}))["headers"],
    );
    let ts: u64 = h.iter().find(|(k, _)| k == epistula::HEADER_TIMESTAMP).unwrap().1.parse().unwrap();
    let now = epistula::unix_time_ms();
    assert!(now.abs_diff(ts) < 60_000);
    let v = Verifier::default();
    let caller = v.verify(&h, BODY, &me.account_id(), now).unwrap();
    assert_eq!((caller.hotkey, caller.timestamp_ms, caller.uuid.as_str()), (alice.account_id(), ts, uuid.as_str()));
    assert_eq!(v.verify(&h, BODY, &me.account_id(), now), Err(EpistulaError::Replayed));
    let fresh = Verifier::default();
    assert_eq!(fresh.verify(&h, b"{}", &me.account_id(), now), Err(EpistulaError::BadSignature));
    assert_eq!(
        fresh.verify(&h, BODY, &me.account_id(), ts + 8001),
        Err(EpistulaError::StaleTimestamp { max_age_ms: 8000 })
    );
    assert_eq!(fresh.verify(&h, BODY, &alice.account_id(), now), Err(EpistulaError::WrongReceiver));
    let forged = with(&h, epistula::HEADER_UUID, "another");
    assert_eq!(fresh.verify(&forged, BODY, &me.account_id(), now), Err(EpistulaError::BadSignature));
    // SN1's own check agrees on its own headers (the reference is not vacuous).
    assert_eq!(sn1_verify(&mut sdk, &h, BODY, &me.ss58_address(), ts), Value::Null);
    assert_eq!(sn1_verify(&mut sdk, &forged, BODY, &me.ss58_address(), ts), json!("Signature Mismatch"));
    assert!(fresh.verify(&h, BODY, &me.account_id(), ts + 8000).is_ok());
}
