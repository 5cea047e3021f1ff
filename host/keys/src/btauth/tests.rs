//! Unit tests: golden vectors from the SDK, header spellings, windows, tampering, replay.

use super::*;
use crate::{CryptoType, Keypair};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

// Cross-language conformance vectors from the SDK's own tests (bittensor 11,
// tests for `bittensor.http_auth`; also published in its signed-requests guide).
const FIXED_NONCE: u64 = 1_752_076_800_000_000_000;
const BODY: &[u8] = br#"{"prompt": "hello"}"#;
const METHOD: &str = "POST";
const PATH: &str = "/generate?stream=false";
const GOLDEN_SR25519_PAYLOAD: &str = "btauth/1\nsr25519\nPOST\n/generate?stream=false\n\
341c57448e531310fbbe83f44cea2a5e838bd9e8a6b82b269f01d0dbbc23c3cc\n1752076800000000000\n\
5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY\n5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
const GOLDEN_ED25519_SIGNATURE: &str = "0x1a6b631988bf1f7ea093ab9d5acf61f05c316d0b0e428b24b487b75a5f6ee0e1\
a56a26918fdf871b6cf09437e6588023a4ce423cf622621b2a7feee17612f704";

fn alice(crypto: CryptoType) -> Keypair {
    Keypair::from_uri(crypto, "//Alice").unwrap()
}

fn bob() -> Keypair {
    Keypair::from_uri(CryptoType::Sr25519, "//Bob").unwrap()
}

fn signed(sender: &Keypair) -> Vec<(String, String)> {
    sign_request(sender, METHOD, PATH, BODY, Some(&bob().account_id()), FIXED_NONCE)
}

fn check(headers: &[(String, String)]) -> Result<Caller, AuthError> {
    Verifier::default().verify(METHOD, PATH, headers, BODY, &bob().account_id(), FIXED_NONCE + 1_000_000)
}

fn with(headers: &[(String, String)], name: &str, value: Option<&str>) -> Vec<(String, String)> {
    let mut out: Vec<_> = headers.iter().filter(|(k, _)| !k.eq_ignore_ascii_case(name)).cloned().collect();
    if let Some(v) = value {
        out.push((name.to_string(), v.to_string()));
    }
    out
}

#[test]
fn golden_payload_and_signature() {
    let payload = build_payload(
        CryptoType::Sr25519,
        METHOD,
        PATH,
        BODY,
        FIXED_NONCE,
        &alice(CryptoType::Sr25519).ss58_address(),
        Some(&bob().ss58_address()),
    );
    assert_eq!(String::from_utf8(payload).unwrap(), GOLDEN_SR25519_PAYLOAD);

    let headers = signed(&alice(CryptoType::Ed25519));
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    assert_eq!(get(HEADER_SIGNATURE), Some(GOLDEN_ED25519_SIGNATURE));
    assert_eq!(get(HEADER_CRYPTO), Some("ed25519"));
    assert_eq!(get(HEADER_HOTKEY), Some("5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu"));
    assert_eq!(get(HEADER_NONCE), Some("1752076800000000000"));
    assert_eq!(get(HEADER_VERSION), Some("1"));
    assert_eq!(get(HEADER_RECEIVER), Some("5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"));
}

#[test]
fn round_trip_both_schemes() {
    for crypto in [CryptoType::Sr25519, CryptoType::Ed25519] {
        let sender = alice(crypto);
        let caller = check(&signed(&sender)).unwrap();
        assert_eq!(caller, Caller { hotkey: sender.account_id(), crypto, nonce: FIXED_NONCE });
    }
    // sr25519 is the default: no crypto header.
    assert!(!signed(&alice(CryptoType::Sr25519)).iter().any(|(k, _)| k == HEADER_CRYPTO));
    // Live nonce, empty body, GET.
    let v = Verifier::default();
    let me = bob().account_id();
    let h = sign_request_now(&alice(CryptoType::Sr25519), "GET", "/health", b"", Some(&me));
    assert!(v.verify("GET", "/health", &h, b"", &me, unix_time_ns()).is_ok());
    // Prehashed signing is the same signature input.
    let digest: [u8; 32] = Sha256::digest(BODY).into();
    let ed = alice(CryptoType::Ed25519);
    assert_eq!(
        sign_request_prehashed(&ed, METHOD, PATH, &digest, Some(&me), FIXED_NONCE),
        sign_request(&ed, METHOD, PATH, BODY, Some(&me), FIXED_NONCE)
    );
}

#[test]
fn header_spellings_the_sdk_accepts() {
    let headers = signed(&alice(CryptoType::Sr25519));
    let lowered: Vec<_> = headers.iter().map(|(k, v)| (k.to_lowercase(), v.clone())).collect();
    assert!(check(&lowered).is_ok());
    for spelling in ["SR25519", "1", " sr25519 "] {
        assert!(check(&with(&headers, HEADER_CRYPTO, Some(spelling))).is_ok(), "{spelling:?}");
    }
    // The method is uppercased on both sides.
    let v = Verifier::default();
    assert!(v.verify("post", PATH, &headers, BODY, &bob().account_id(), FIXED_NONCE).is_ok());
    // Signature hex: upper case, no 0x, whitespace between bytes (Python's bytes.fromhex).
    let sig = headers.iter().find(|(k, _)| k == HEADER_SIGNATURE).unwrap().1.clone();
    let bare = sig.trim_start_matches("0x").to_string();
    let spaced: String =
        bare.as_bytes().chunks(2).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(" ");
    for s in [bare.to_uppercase(), bare.clone(), format!("0x{spaced}\t")] {
        assert!(check(&with(&headers, HEADER_SIGNATURE, Some(&s))).is_ok(), "{s}");
    }
    for s in ["0X".to_string() + &bare, format!("0x{}", &bare[1..]), format!("0x{bare}00"), "0xnothex".into()] {
        assert_eq!(check(&with(&headers, HEADER_SIGNATURE, Some(&s))), Err(AuthError::MalformedSignature), "{s}");
    }
    // Nonce text as Python's int() reads it; the signed line is the canonical decimal.
    for n in [" 1752076800000000000 ", "+1752076800000000000", "1_752_076_800_000_000_000"] {
        assert_eq!(check(&with(&headers, HEADER_NONCE, Some(n))).map(|c| c.nonce), Ok(FIXED_NONCE), "{n:?}");
    }
    for n in ["not-a-number", "", "1__0", "_1", "1_", "0x10", "1.5", "+-1"] {
        assert_eq!(check(&with(&headers, HEADER_NONCE, Some(n))), Err(AuthError::MalformedNonce), "{n:?}");
    }
    assert_eq!(check(&with(&headers, HEADER_NONCE, Some("-5"))).unwrap_err().reason(), "stale_nonce");
    assert_eq!(
        check(&with(&headers, HEADER_NONCE, Some("99999999999999999999999"))).unwrap_err().reason(),
        "future_nonce"
    );
}

#[test]
fn freshness_window_bounds_are_inclusive() {
    let headers = signed(&alice(CryptoType::Sr25519));
    let me = bob().account_id();
    let at = |now: u64| Verifier::default().verify(METHOD, PATH, &headers, BODY, &me, now);
    assert!(at(FIXED_NONCE + 10_000_000_000).is_ok());
    assert!(matches!(at(FIXED_NONCE + 10_000_000_001), Err(AuthError::StaleNonce { .. })));
    assert!(matches!(at(FIXED_NONCE + 11_000_000_000), Err(AuthError::StaleNonce { .. })));
    assert!(at(FIXED_NONCE - 2_000_000_000).is_ok());
    assert!(matches!(at(FIXED_NONCE - 2_000_000_001), Err(AuthError::FutureNonce { .. })));
    assert!(matches!(at(FIXED_NONCE - 3_000_000_000), Err(AuthError::FutureNonce { .. })));
    // A configured window.
    let narrow = Verifier::new(VerifierConfig { max_age: Duration::from_secs(1), ..Default::default() });
    assert!(narrow.verify(METHOD, PATH, &headers, BODY, &me, FIXED_NONCE + 1_500_000_000).is_err());
}

#[test]
fn replays_and_tampering_rejected() {
    let headers = signed(&alice(CryptoType::Sr25519));
    let me = bob().account_id();
    let v = Verifier::default();
    let now = FIXED_NONCE + 1;
    v.verify(METHOD, PATH, &headers, BODY, &me, now).unwrap();
    assert_eq!(v.verify(METHOD, PATH, &headers, BODY, &me, now), Err(AuthError::ReplayedNonce));
    // Same nonce from another sender is a different pair.
    let other = sign_request(&alice(CryptoType::Ed25519), METHOD, PATH, BODY, Some(&me), FIXED_NONCE);
    assert!(v.verify(METHOD, PATH, &other, BODY, &me, now).is_ok());

    let fresh = Verifier::default();
    let bad = |m: &str, p: &str, h: &[(String, String)], b: &[u8]| fresh.verify(m, p, h, b, &me, now);
    assert_eq!(bad(METHOD, PATH, &headers, b"tampered body"), Err(AuthError::BadSignature));
    assert_eq!(bad("DELETE", PATH, &headers, BODY), Err(AuthError::BadSignature));
    assert_eq!(bad(METHOD, "/admin", &headers, BODY), Err(AuthError::BadSignature));
    assert_eq!(bad(METHOD, "/generate", &headers, BODY), Err(AuthError::BadSignature));
    let h = with(&headers, HEADER_NONCE, Some(&(FIXED_NONCE + 1).to_string()));
    assert_eq!(bad(METHOD, PATH, &h, BODY), Err(AuthError::BadSignature));
    let h = with(&headers, HEADER_SIGNATURE, Some(&format!("0x{}", "00".repeat(64))));
    assert_eq!(bad(METHOD, PATH, &h, BODY), Err(AuthError::BadSignature));
    // A different sender claimed with the same signature.
    let h = with(&headers, HEADER_HOTKEY, Some(&bob().ss58_address()));
    assert_eq!(bad(METHOD, PATH, &h, BODY), Err(AuthError::BadSignature));
    // Scheme confusion: an ed25519 signature presented as sr25519, and vice versa.
    let ed = signed(&alice(CryptoType::Ed25519));
    assert_eq!(bad(METHOD, PATH, &with(&ed, HEADER_CRYPTO, None), BODY), Err(AuthError::BadSignature));
    assert_eq!(bad(METHOD, PATH, &with(&headers, HEADER_CRYPTO, Some("ed25519")), BODY), Err(AuthError::BadSignature));
    // Failed attempts are not recorded: the genuine request still goes through.
    assert!(bad(METHOD, PATH, &headers, BODY).is_ok());
    assert_eq!(fresh.replay_cache_len(), 1);
}

#[test]
fn receiver_binding() {
    let sender = alice(CryptoType::Sr25519);
    let me = bob().account_id();
    let headers = signed(&sender);
    let v = Verifier::default();
    assert_eq!(
        v.verify(METHOD, PATH, &headers, BODY, &sender.account_id(), FIXED_NONCE),
        Err(AuthError::WrongReceiver)
    );
    // Another prefix's encoding of the right key is a different text, as in the SDK.
    let polkadot = crate::ss58_encode(0, &me);
    assert_eq!(check(&with(&headers, HEADER_RECEIVER, Some(&polkadot))), Err(AuthError::WrongReceiver));
    assert_eq!(check(&with(&headers, HEADER_RECEIVER, Some(""))), Err(AuthError::WrongReceiver));

    let unbound = sign_request(&sender, METHOD, PATH, BODY, None, FIXED_NONCE);
    assert!(!unbound.iter().any(|(k, _)| k == HEADER_RECEIVER));
    assert_eq!(check(&unbound), Err(AuthError::MissingReceiver));
    let open = Verifier::new(VerifierConfig { require_receiver: false, ..Default::default() });
    assert!(open.verify(METHOD, PATH, &unbound, BODY, &me, FIXED_NONCE).is_ok());
    // Even then, a bound request must name this server, and an unbound signature cannot be
    // passed off as bound.
    assert_eq!(
        open.verify(METHOD, PATH, &headers, BODY, &sender.account_id(), FIXED_NONCE),
        Err(AuthError::WrongReceiver)
    );
    let forged = with(&unbound, HEADER_RECEIVER, Some(&me.to_ss58()));
    let fresh = Verifier::new(VerifierConfig { require_receiver: false, ..Default::default() });
    assert_eq!(fresh.verify(METHOD, PATH, &forged, BODY, &me, FIXED_NONCE), Err(AuthError::BadSignature));
    // On the verifier that accepted the unbound request, the same nonce is a replay first.
    assert_eq!(open.verify(METHOD, PATH, &forged, BODY, &me, FIXED_NONCE), Err(AuthError::ReplayedNonce));
}

#[test]
fn malformed_headers_name_the_problem() {
    let headers = signed(&alice(CryptoType::Sr25519));
    for missing in [HEADER_VERSION, HEADER_HOTKEY, HEADER_NONCE, HEADER_SIGNATURE] {
        let e = check(&with(&headers, missing, None)).unwrap_err();
        assert_eq!(e, AuthError::MissingHeader { header: missing });
        assert_eq!((e.status(), e.sdk_class()), (401, "MalformedAuth"));
        assert!(e.to_string().contains(missing), "{e}");
    }
    assert_eq!(
        check(&with(&headers, HEADER_HOTKEY, Some(""))),
        Err(AuthError::MissingHeader { header: HEADER_HOTKEY })
    );
    assert_eq!(check(&with(&headers, HEADER_VERSION, Some("2"))), Err(AuthError::UnsupportedVersion));
    assert_eq!(check(&with(&headers, HEADER_CRYPTO, Some("ecdsa"))), Err(AuthError::UnsupportedCrypto));
    assert_eq!(check(&with(&headers, HEADER_CRYPTO, Some("2"))), Err(AuthError::UnsupportedCrypto));
    assert_eq!(check(&with(&headers, HEADER_HOTKEY, Some("5Grw"))), Err(AuthError::MalformedHotkey));
    let big = "x".repeat(100_000);
    assert_eq!(check(&with(&headers, HEADER_SIGNATURE, Some(&big))), Err(AuthError::MalformedSignature));
    assert_eq!(check(&with(&headers, HEADER_NONCE, Some(&big))), Err(AuthError::MalformedNonce));
    let mut dup = headers.clone();
    dup.push(("x-bittensor-nonce".into(), FIXED_NONCE.to_string()));
    assert_eq!(check(&dup), Err(AuthError::DuplicateHeader { header: HEADER_NONCE }));
    // Raw byte values (as http::HeaderValue gives them), one of them not UTF-8.
    let mut raw: Vec<(String, Vec<u8>)> = headers.iter().map(|(k, v)| (k.clone(), v.clone().into_bytes())).collect();
    let me = bob().account_id();
    assert!(Verifier::default().verify(METHOD, PATH, &raw, BODY, &me, FIXED_NONCE).is_ok());
    raw.retain(|(k, _)| k != HEADER_HOTKEY);
    raw.push((HEADER_HOTKEY.into(), vec![0xff, 0xfe]));
    assert_eq!(
        Verifier::default().verify(METHOD, PATH, raw, BODY, &me, FIXED_NONCE),
        Err(AuthError::NonTextHeader { header: HEADER_HOTKEY })
    );
    // No auth at all, and unrelated headers only.
    let none: [(&str, &str); 1] = [("content-type", "application/json")];
    assert_eq!(
        Verifier::default().verify(METHOD, PATH, none, BODY, &me, FIXED_NONCE),
        Err(AuthError::MissingHeader { header: HEADER_VERSION })
    );
}

#[test]
fn check_headers_runs_before_the_body() {
    let sender = alice(CryptoType::Sr25519);
    let me = bob().account_id();
    let headers = signed(&sender);
    let v = Verifier::default();
    let pending = v.check_headers(&headers, &me, FIXED_NONCE).unwrap();
    assert_eq!(*pending.claimed_hotkey(), sender.account_id());
    assert_eq!((pending.nonce(), pending.crypto()), (FIXED_NONCE, CryptoType::Sr25519));
    // Reading the body took too long: the window is checked again.
    assert!(matches!(
        v.complete(&pending, METHOD, PATH, BODY, FIXED_NONCE + 11_000_000_000),
        Err(AuthError::StaleNonce { .. })
    ));
    assert_eq!(v.complete(&pending, METHOD, PATH, BODY, FIXED_NONCE).unwrap().hotkey, sender.account_id());
    assert_eq!(v.complete(&pending, METHOD, PATH, BODY, FIXED_NONCE), Err(AuthError::ReplayedNonce));
    // Freshness is refused without touching the body or the signature.
    assert!(matches!(v.check_headers(&headers, &me, FIXED_NONCE + 60_000_000_000), Err(AuthError::StaleNonce { .. })));
}

#[test]
fn replay_cache_is_bounded_and_never_readmits() {
    let me = bob().account_id();
    let sender = alice(CryptoType::Sr25519);
    let v = Verifier::new(VerifierConfig { replay_per_sender: 3, ..Default::default() });
    let reqs: Vec<_> = (0..5).map(|i| sign_request(&sender, METHOD, PATH, BODY, Some(&me), FIXED_NONCE + i)).collect();
    let now = FIXED_NONCE + 10;
    for r in &reqs {
        v.verify(METHOD, PATH, r, BODY, &me, now).unwrap();
        assert!(v.replay_cache_len() <= 3);
    }
    // The two oldest were evicted: their replays are refused by the horizon, the rest as replays.
    for (i, r) in reqs.iter().enumerate() {
        let e = v.verify(METHOD, PATH, r, BODY, &me, now).unwrap_err();
        let want = if i < 2 { AuthError::BelowReplayHorizon } else { AuthError::ReplayedNonce };
        assert_eq!(e, want, "request {i}");
        assert_eq!(e.sdk_class(), if i < 2 { "StaleRequest" } else { "ReplayedRequest" });
    }
    // Newer nonces still get in.
    let newer = sign_request(&sender, METHOD, PATH, BODY, Some(&me), FIXED_NONCE + 100);
    assert!(v.verify(METHOD, PATH, &newer, BODY, &me, now).is_ok());
    assert_eq!(v.replay_cache_len(), 3);
}

#[test]
fn entries_expire_with_the_window_and_clock_steps_back_safely() {
    let me = bob().account_id();
    let sender = alice(CryptoType::Sr25519);
    let v = Verifier::default();
    let first = signed(&sender);
    v.verify(METHOD, PATH, &first, BODY, &me, FIXED_NONCE).unwrap();
    assert_eq!(v.replay_cache_len(), 1);
    // 20 s later another request prunes the first (it is stale by now anyway).
    let later_nonce = FIXED_NONCE + 20_000_000_000;
    let later = sign_request(&sender, METHOD, PATH, BODY, Some(&me), later_nonce);
    v.verify(METHOD, PATH, &later, BODY, &me, later_nonce).unwrap();
    assert_eq!(v.replay_cache_len(), 1);
    // The clock steps back 20 s: the first request is fresh again by that clock, but its
    // entry is gone, so the horizon must refuse it.
    assert_eq!(v.verify(METHOD, PATH, &first, BODY, &me, FIXED_NONCE), Err(AuthError::BelowReplayHorizon));
    // ...while a new request signed after it is accepted by that clock: the horizon stops
    // just past the forgotten nonce, not at the far-ahead clock's window.
    let newer = sign_request(&sender, METHOD, PATH, BODY, Some(&me), FIXED_NONCE + 1_000);
    assert!(v.verify(METHOD, PATH, &newer, BODY, &me, FIXED_NONCE + 2_000).is_ok());
}

#[test]
fn concurrent_replays_admit_exactly_one() {
    let me = bob().account_id();
    let headers = signed(&alice(CryptoType::Sr25519));
    let v = Verifier::default();
    let ok = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..4 {
                    match v.verify(METHOD, PATH, &headers, BODY, &me, FIXED_NONCE) {
                        Ok(_) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => assert_eq!(e, AuthError::ReplayedNonce),
                    }
                }
            });
        }
    });
    assert_eq!(ok.load(Ordering::Relaxed), 1);
}

#[test]
fn fresh_nonces_increase() {
    let mut prev = fresh_nonce();
    for _ in 0..10_000 {
        let n = fresh_nonce();
        assert!(n > prev);
        prev = n;
    }
    let drift = prev.abs_diff(unix_time_ns());
    assert!(drift < 60_000_000_000, "nonce far from the clock: {drift} ns");
}

#[test]
fn error_codes_are_stable() {
    let all = [
        AuthError::MissingHeader { header: HEADER_NONCE },
        AuthError::DuplicateHeader { header: HEADER_NONCE },
        AuthError::UnsupportedVersion,
        AuthError::MalformedHotkey,
        AuthError::MalformedNonce,
        AuthError::UnsupportedCrypto,
        AuthError::MalformedSignature,
        AuthError::NonTextHeader { header: HEADER_NONCE },
        AuthError::MissingReceiver,
        AuthError::WrongReceiver,
        AuthError::StaleNonce { max_age: DEFAULT_MAX_AGE },
        AuthError::FutureNonce { allowed_skew: DEFAULT_ALLOWED_SKEW },
        AuthError::BelowReplayHorizon,
        AuthError::BadSignature,
        AuthError::ReplayedNonce,
    ];
    let reasons: BTreeSet<_> = all.iter().map(AuthError::reason).collect();
    assert_eq!(reasons.len(), all.len(), "reasons must be distinct");
    for e in &all {
        assert!(e.reason().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{}", e.reason());
        assert!(matches!(e.status(), 400 | 401));
    }
    assert_eq!(
        AuthError::StaleNonce { max_age: DEFAULT_MAX_AGE }.to_string(),
        "nonce is older than the 10s freshness window"
    );
}

#[test]
fn one_senders_flood_does_not_touch_another() {
    let me = bob().account_id();
    let flooder = alice(CryptoType::Sr25519);
    let honest = alice(CryptoType::Ed25519);
    let v = Verifier::new(VerifierConfig { replay_per_sender: 4, ..Default::default() });
    let now = FIXED_NONCE + 5_000_000_000;
    // The honest sender's request was signed early (nonce FIXED_NONCE) and arrives late, after
    // the flooder has pushed hundreds of newer nonces.
    let honest_req = sign_request(&honest, METHOD, PATH, BODY, Some(&me), FIXED_NONCE);
    let flood: Vec<_> =
        (1..=200).map(|i| sign_request(&flooder, METHOD, PATH, BODY, Some(&me), FIXED_NONCE + i * 1000)).collect();
    for r in &flood {
        v.verify(METHOD, PATH, r, BODY, &me, now).unwrap();
    }
    assert_eq!(v.replay_cache_len(), 4);
    assert!(v.verify(METHOD, PATH, &honest_req, BODY, &me, now).is_ok());
    // The flood only raised the flooder's own horizon: its early nonces are refused, its replays
    // too, and never accepted.
    for (i, r) in flood.iter().enumerate() {
        let e = v.verify(METHOD, PATH, r, BODY, &me, now).unwrap_err();
        assert_eq!(e, if i < 196 { AuthError::BelowReplayHorizon } else { AuthError::ReplayedNonce }, "{i}");
    }
    assert_eq!(v.verify(METHOD, PATH, &honest_req, BODY, &me, now), Err(AuthError::ReplayedNonce));
}

#[test]
fn replay_lookup_is_read_only_and_runs_before_the_signature() {
    let me = bob().account_id();
    let sender = alice(CryptoType::Sr25519);
    let v = Verifier::default();
    let headers = signed(&sender);
    // Looking up never records: any number of lookups, then the request still goes through once.
    for _ in 0..3 {
        assert_eq!(v.check_replay(&sender.account_id(), FIXED_NONCE), Ok(()));
        assert!(v.check_headers(&headers, &me, FIXED_NONCE).is_ok());
    }
    // A forged request (bad signature) is not recorded either.
    let forged = with(&headers, HEADER_SIGNATURE, Some(&format!("0x{}", "11".repeat(64))));
    assert_eq!(v.verify(METHOD, PATH, &forged, BODY, &me, FIXED_NONCE), Err(AuthError::BadSignature));
    assert_eq!(v.replay_cache_len(), 0);
    v.verify(METHOD, PATH, &headers, BODY, &me, FIXED_NONCE).unwrap();
    // Now the replay is refused by the header step alone, before any body or signature work.
    assert_eq!(v.check_replay(&sender.account_id(), FIXED_NONCE), Err(AuthError::ReplayedNonce));
    assert_eq!(v.check_headers(&headers, &me, FIXED_NONCE).unwrap_err(), AuthError::ReplayedNonce);
    assert_eq!(v.check_headers(&forged, &me, FIXED_NONCE).unwrap_err(), AuthError::ReplayedNonce);
}

#[test]
fn sender_table_is_bounded_and_eviction_never_readmits() {
    let me = bob().account_id();
    let v = Verifier::new(VerifierConfig { replay_max_senders: 3, ..Default::default() });
    let senders: Vec<_> = (0..10).map(|_| Keypair::generate(CryptoType::Sr25519)).collect();
    let now = FIXED_NONCE + 1_000_000_000;
    let reqs: Vec<_> = senders
        .iter()
        .enumerate()
        .map(|(i, s)| sign_request(s, METHOD, PATH, BODY, Some(&me), FIXED_NONCE + i as u64))
        .collect();
    for r in &reqs {
        v.verify(METHOD, PATH, r, BODY, &me, now).unwrap();
        assert!(v.replay_senders() <= 3);
    }
    // Evicted or not, every accepted request stays refused.
    for (i, r) in reqs.iter().enumerate() {
        let e = v.verify(METHOD, PATH, r, BODY, &me, now).unwrap_err();
        assert!(matches!(e, AuthError::ReplayedNonce | AuthError::BelowReplayHorizon), "{i}: {e}");
    }
    // A sender whose request is newer than everything evicted still gets in.
    let late = Keypair::generate(CryptoType::Sr25519);
    let r = sign_request(&late, METHOD, PATH, BODY, Some(&me), FIXED_NONCE + 500);
    assert!(v.verify(METHOD, PATH, &r, BODY, &me, now).is_ok());
}
