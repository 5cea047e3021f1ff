//! Unit tests of Epistula: round trip, SN1's window, tampering, replay, malformed headers.

use super::*;
use crate::{CryptoType, Keypair};

const TS: u64 = 1_752_076_800_123;
const BODY: &[u8] = br#"{"messages": [{"role": "user", "content": "hi"}], "model": "m", "seed": 7}"#;
const UUID: &str = "0b7e5c1a-2f4d-4c3b-9a8e-1d2c3b4a5f60";

fn keys() -> (Keypair, Keypair) {
    (
        Keypair::from_uri(CryptoType::Sr25519, "//Alice").unwrap(),
        Keypair::from_uri(CryptoType::Sr25519, "//Bob").unwrap(),
    )
}

fn with(h: &[(String, String)], name: &str, value: Option<&str>) -> Vec<(String, String)> {
    let mut out: Vec<_> = h.iter().filter(|(k, _)| !k.eq_ignore_ascii_case(name)).cloned().collect();
    if let Some(v) = value {
        out.push((name.to_string(), v.to_string()));
    }
    out
}

#[test]
fn signs_and_verifies_with_sn1_headers() {
    let (a, b) = keys();
    let h = sign_request(&a, BODY, Some(&b.account_id()), TS, UUID).unwrap();
    let names: Vec<_> = h.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            HEADER_VERSION,
            HEADER_TIMESTAMP,
            HEADER_UUID,
            HEADER_SIGNED_BY,
            HEADER_SIGNATURE,
            HEADER_SIGNED_FOR,
            "Epistula-Secret-Signature-0",
            "Epistula-Secret-Signature-1",
            "Epistula-Secret-Signature-2"
        ]
    );
    // The secret signatures sign SN1's float-formatted interval.
    let secret1 = &h.iter().find(|(k, _)| k == "Epistula-Secret-Signature-1").unwrap().1;
    let sig: [u8; 64] = hex::decode(&secret1[2..]).unwrap().try_into().unwrap();
    let msg = format!("1752076810000.0.{}", b.ss58_address());
    assert!(crate::verify(CryptoType::Sr25519, &a.account_id(), msg.as_bytes(), &sig).unwrap());

    let v = Verifier::default();
    let c = v.verify(&h, BODY, &b.account_id(), TS + 10).unwrap();
    assert_eq!(c, Caller { hotkey: a.account_id(), timestamp_ms: TS, uuid: UUID.into() });
    assert_eq!(v.verify(&h, BODY, &b.account_id(), TS + 10), Err(EpistulaError::Replayed));
    // Another uuid from the same sender at the same time is another request.
    let h2 = sign_request(&a, BODY, Some(&b.account_id()), TS, &uuid4()).unwrap();
    assert!(v.verify(&h2, BODY, &b.account_id(), TS + 10).is_ok());
    assert_eq!(v.replay_len(), 2);
}

#[test]
fn sn1_window_is_8000_ms_inclusive_and_the_future_is_bounded() {
    let (a, b) = keys();
    let me = b.account_id();
    let h = sign_request(&a, BODY, Some(&me), TS, UUID).unwrap();
    let at = |now| Verifier::default().verify(&h, BODY, &me, now);
    assert!(at(TS + 8000).is_ok());
    assert_eq!(at(TS + 8001), Err(EpistulaError::StaleTimestamp { max_age_ms: 8000 }));
    assert!(at(TS - 8000).is_ok());
    assert_eq!(at(TS - 8001), Err(EpistulaError::FutureTimestamp { max_future_ms: 8000 }));
    // The timestamp as Python's int() reads it; the message uses the canonical decimal.
    let odd = with(&h, HEADER_TIMESTAMP, Some(&format!(" +{TS} ")));
    assert!(Verifier::default().verify(&odd, BODY, &me, TS).is_ok());
    let neg = with(&h, HEADER_TIMESTAMP, Some("-5"));
    assert!(matches!(Verifier::default().verify(&neg, BODY, &me, TS), Err(EpistulaError::StaleTimestamp { .. })));
    let huge = with(&h, HEADER_TIMESTAMP, Some(&"9".repeat(60)));
    assert!(matches!(Verifier::default().verify(&huge, BODY, &me, TS), Err(EpistulaError::FutureTimestamp { .. })));
}

#[test]
fn tampering_and_malformed_headers_are_refused_and_not_recorded() {
    let (a, b) = keys();
    let me = b.account_id();
    let h = sign_request(&a, BODY, Some(&me), TS, UUID).unwrap();
    let v = Verifier::default();
    let check = |hs: &[(String, String)], body: &[u8]| v.verify(hs, body, &me, TS + 1);
    assert_eq!(check(&h, b"{}"), Err(EpistulaError::BadSignature));
    assert_eq!(check(&with(&h, HEADER_UUID, Some("other")), BODY), Err(EpistulaError::BadSignature));
    assert_eq!(check(&with(&h, HEADER_TIMESTAMP, Some(&(TS + 1).to_string())), BODY), Err(EpistulaError::BadSignature));
    assert_eq!(check(&with(&h, HEADER_SIGNED_BY, Some(&b.ss58_address())), BODY), Err(EpistulaError::BadSignature));
    assert_eq!(check(&with(&h, HEADER_SIGNED_FOR, Some(&a.ss58_address())), BODY), Err(EpistulaError::WrongReceiver));
    assert_eq!(check(&with(&h, HEADER_SIGNED_FOR, None), BODY), Err(EpistulaError::MissingReceiver));
    assert_eq!(check(&with(&h, HEADER_VERSION, Some("1")), BODY), Err(EpistulaError::UnsupportedVersion));
    assert_eq!(check(&with(&h, HEADER_TIMESTAMP, Some("soon")), BODY), Err(EpistulaError::MalformedTimestamp));
    assert_eq!(check(&with(&h, HEADER_SIGNATURE, Some("0x12")), BODY), Err(EpistulaError::MalformedSignature));
    assert_eq!(check(&with(&h, HEADER_SIGNED_BY, Some("5Grw")), BODY), Err(EpistulaError::MalformedSender));
    for missing in [HEADER_TIMESTAMP, HEADER_UUID, HEADER_SIGNED_BY, HEADER_SIGNATURE] {
        assert_eq!(check(&with(&h, missing, None), BODY), Err(EpistulaError::MissingHeader { header: missing }));
    }
    let mut dup = h.clone();
    dup.push(("epistula-uuid".into(), UUID.into()));
    assert_eq!(check(&dup, BODY), Err(EpistulaError::DuplicateHeader { header: HEADER_UUID }));
    // Version absent is accepted, as SN1 never reads it; lowercase names and a bare-hex
    // signature are read as SN1's Keypair reads them.
    let sig = h.iter().find(|(k, _)| k == HEADER_SIGNATURE).unwrap().1.clone();
    let relaxed: Vec<_> = with(&with(&h, HEADER_VERSION, None), HEADER_SIGNATURE, Some(&sig[2..]))
        .into_iter()
        .map(|(k, v)| (k.to_lowercase(), v))
        .collect();
    assert!(check(&relaxed, BODY).is_ok());
    assert_eq!(check(&h, BODY), Err(EpistulaError::Replayed));
    for e in [EpistulaError::BadSignature, EpistulaError::Replayed, EpistulaError::WrongReceiver] {
        assert_eq!(e.status(), 400);
    }
}

#[test]
fn unbound_requests_and_key_types() {
    let (a, b) = keys();
    let h = sign_request(&a, BODY, None, TS, UUID).unwrap();
    assert!(!h.iter().any(|(k, _)| k.starts_with("Epistula-Secret") || k == HEADER_SIGNED_FOR));
    let open = Verifier::new(VerifierConfig { require_receiver: false, ..Default::default() });
    assert!(open.verify(&h, BODY, &b.account_id(), TS).is_ok());
    // An unbound signature cannot be passed off as bound.
    let forged = with(&h, HEADER_SIGNED_FOR, Some(&b.ss58_address()));
    assert_eq!(Verifier::default().verify(&forged, BODY, &b.account_id(), TS), Err(EpistulaError::BadSignature));
    let ed = Keypair::generate(CryptoType::Ed25519);
    assert_eq!(sign_request(&ed, BODY, None, TS, UUID), Err(EpistulaError::UnsupportedKey { crypto: "ed25519" }));
    let u = uuid4();
    assert_eq!((u.len(), &u[14..15], u.as_bytes()[8]), (36, "4", b'-'));
    assert_ne!(uuid4(), u);
    assert!(sign_request_now(&a, BODY, None).is_ok());
}
