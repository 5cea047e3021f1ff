//! `btauth/1` against the real bittensor SDK (`bittensor.http_auth`, bittensor 11): requests
//! signed here verify there and the other way round, both sides build the same payload bytes,
//! and both refuse (with the same SDK error class) replayed, altered, stale and malformed
//! requests. Needs the interop venv; see tests/support/mod.rs.

mod support;

use serde_json::{Value, json};
use subnet_keys::btauth::{
    self, AuthError, HEADER_CRYPTO, HEADER_HOTKEY, HEADER_NONCE, HEADER_RECEIVER, HEADER_SIGNATURE, HEADER_VERSION,
    Verifier, VerifierConfig,
};
use subnet_keys::{AccountId, CryptoType, Keypair};
use support::{Sdk, headers_from_json, headers_to_json};

const NONCE: u64 = 1_752_076_800_000_000_000;
const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

/// (scheme, method, path, body, nonce, receiver) for one payload comparison.
type PayloadCase<'a> = (CryptoType, &'a str, &'a str, &'a [u8], u64, Option<&'a str>);

/// An SDK-side verification: `Ok((hotkey ss58, nonce, crypto code))` or `Err(exception class)`.
#[allow(clippy::too_many_arguments)]
fn sdk_verify(
    sdk: &mut Sdk,
    headers: &[(String, String)],
    method: &str,
    path: &str,
    body: &[u8],
    me: &AccountId,
    now: Option<u64>,
    store: Option<&str>,
    require_receiver: bool,
) -> Result<(String, u64, u64), String> {
    let answer = sdk.call(json!({
        "op": "verify", "headers": headers_to_json(headers), "method": method, "path": path,
        "body_hex": hex::encode(body), "self": me.to_ss58(), "now_ns": now, "store": store,
        "require_receiver": require_receiver,
    }));
    if answer["ok"] == true {
        Ok((
            answer["hotkey"].as_str().unwrap().to_string(),
            answer["nonce"].as_u64().unwrap(),
            answer["crypto_type"].as_u64().unwrap(),
        ))
    } else {
        Err(answer["error"].as_str().unwrap().to_string())
    }
}

fn sdk_sign(
    sdk: &mut Sdk,
    key: &str,
    method: &str,
    path: &str,
    body: &[u8],
    receiver: Option<&AccountId>,
    nonce: Option<u64>,
) -> Vec<(String, String)> {
    let answer = sdk.ok(json!({
        "op": "sign", "key": key, "method": method, "path": path, "body_hex": hex::encode(body),
        "receiver": receiver.map(AccountId::to_ss58), "nonce": nonce,
    }));
    headers_from_json(&answer["headers"])
}

fn with(headers: &[(String, String)], name: &str, value: Option<&str>) -> Vec<(String, String)> {
    let mut out: Vec<_> = headers.iter().filter(|(k, _)| !k.eq_ignore_ascii_case(name)).cloned().collect();
    if let Some(v) = value {
        out.push((name.to_string(), v.to_string()));
    }
    out
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    &headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).unwrap_or_else(|| panic!("no {name}")).1
}

#[test]
fn payload_bytes_match_the_sdk() {
    let mut sdk = Sdk::start();
    let alice = Keypair::from_uri(CryptoType::Sr25519, "//Alice").unwrap().ss58_address();
    let bob = Keypair::from_uri(CryptoType::Sr25519, "//Bob").unwrap().ss58_address();
    let big_body: Vec<u8> = (0..70_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let cases: Vec<PayloadCase> = vec![
        (CryptoType::Sr25519, "POST", "/generate?stream=false", br#"{"prompt": "hello"}"#, NONCE, Some(&bob)),
        (CryptoType::Ed25519, "post", "/a/b?x=1&y=%20z", b"", 0, None),
        (CryptoType::Sr25519, "Get", "/caf\u{e9}/\u{1f600}", &big_body, u64::MAX, Some(&bob)),
        (CryptoType::Ed25519, "PATCH", "*", b"\x00\xff\n", 1, Some("")),
    ];
    for (crypto, method, path, body, nonce, receiver) in cases {
        let ours = btauth::build_payload(crypto, method, path, body, nonce, &alice, receiver);
        let theirs = sdk.ok(json!({
            "op": "payload", "scheme": crypto.name(), "method": method, "path": path,
            "body_hex": hex::encode(body), "nonce": nonce, "sender": alice, "receiver": receiver,
        }));
        assert_eq!(hex::encode(&ours), theirs["payload_hex"].as_str().unwrap(), "{method} {path} {receiver:?}");
    }
}

#[test]
fn requests_signed_here_verify_in_the_sdk() {
    let mut sdk = Sdk::start();
    let me = Keypair::generate(CryptoType::Sr25519).account_id();
    let other = Keypair::generate(CryptoType::Sr25519).account_id();
    let body = br#"{"task": "translate", "text": "hello"}"#;
    for crypto in [CryptoType::Sr25519, CryptoType::Ed25519] {
        for sender in [Keypair::generate(crypto), Keypair::from_uri(crypto, "//Alice").unwrap()] {
            let store = format!("{crypto}-{}", sender.ss58_address());
            let h = btauth::sign_request(&sender, "POST", "/v1/query?round=3", body, Some(&me), NONCE);
            let now = Some(NONCE + MS);
            let got = sdk_verify(&mut sdk, &h, "POST", "/v1/query?round=3", body, &me, now, Some(&store), true);
            assert_eq!(got, Ok((sender.ss58_address(), NONCE, u64::from(crypto.code()))), "{crypto}");
            // Replayed into the same store.
            let again = sdk_verify(&mut sdk, &h, "POST", "/v1/query?round=3", body, &me, now, Some(&store), true);
            assert_eq!(again, Err("ReplayedRequest".into()), "{crypto}");
            // Altered body, method, path, receiver.
            let bad = |sdk: &mut Sdk, m: &str, p: &str, b: &[u8], who: &AccountId, h: &[(String, String)]| {
                sdk_verify(sdk, h, m, p, b, who, now, None, true)
            };
            assert_eq!(bad(&mut sdk, "POST", "/v1/query?round=3", b"{}", &me, &h), Err("BadSignature".into()));
            assert_eq!(bad(&mut sdk, "PUT", "/v1/query?round=3", body, &me, &h), Err("BadSignature".into()));
            assert_eq!(bad(&mut sdk, "POST", "/v1/query?round=4", body, &me, &h), Err("BadSignature".into()));
            assert_eq!(bad(&mut sdk, "POST", "/v1/query?round=3", body, &other, &h), Err("WrongReceiver".into()));
            let redirected = with(&h, HEADER_RECEIVER, Some(&other.to_ss58()));
            assert_eq!(
                bad(&mut sdk, "POST", "/v1/query?round=3", body, &other, &redirected),
                Err("BadSignature".into())
            );
        }
        // A live nonce against the SDK's own clock.
        let sender = Keypair::generate(crypto);
        let h = btauth::sign_request_now(&sender, "GET", "/health", b"", Some(&me));
        let got = sdk_verify(&mut sdk, &h, "GET", "/health", b"", &me, None, None, true);
        assert_eq!(got.map(|g| g.0), Ok(sender.ss58_address()));
    }
}

#[test]
fn requests_signed_by_the_sdk_verify_here() {
    let mut sdk = Sdk::start();
    let me = Keypair::generate(CryptoType::Sr25519).account_id();
    let other = Keypair::generate(CryptoType::Ed25519).account_id();
    let body = b"\x00binary\xffbody";
    for crypto in [CryptoType::Sr25519, CryptoType::Ed25519] {
        // A key whose secret only the SDK knows (fresh mnemonic).
        let info = sdk.ok(json!({"op": "key_new", "name": crypto.name(), "crypto": crypto.name()}));
        let sender = AccountId::from_ss58(info["ss58"].as_str().unwrap()).unwrap();
        let h = sdk_sign(&mut sdk, crypto.name(), "post", "/score", body, Some(&me), Some(NONCE));
        assert_eq!(header(&h, HEADER_HOTKEY), sender.to_ss58());

        let v = Verifier::default();
        let caller = v.verify("POST", "/score", &h, body, &me, NONCE + MS).unwrap();
        assert_eq!((caller.hotkey, caller.crypto, caller.nonce), (sender, crypto, NONCE));
        assert_eq!(v.verify("POST", "/score", &h, body, &me, NONCE + MS), Err(AuthError::ReplayedNonce));

        let fresh = Verifier::default();
        let check = |m: &str, p: &str, b: &[u8], who: &AccountId| fresh.verify(m, p, &h, b, who, NONCE + MS);
        assert_eq!(check("POST", "/score", b"\x00binary\xffbodY", &me), Err(AuthError::BadSignature));
        assert_eq!(check("GET", "/score", body, &me), Err(AuthError::BadSignature));
        assert_eq!(check("POST", "/score/", body, &me), Err(AuthError::BadSignature));
        assert_eq!(check("POST", "/score", body, &other), Err(AuthError::WrongReceiver));
        assert!(matches!(
            fresh.verify("POST", "/score", &h, body, &me, NONCE + 11 * S),
            Err(AuthError::StaleNonce { .. })
        ));
        // Nothing failed above was recorded: the genuine request still verifies once.
        assert!(check("POST", "/score", body, &me).is_ok());

        // The SDK's live nonce against our clock.
        let h = sdk_sign(&mut sdk, crypto.name(), "GET", "/health", b"", Some(&me), None);
        let caller = Verifier::default().verify("GET", "/health", &h, b"", &me, btauth::unix_time_ns()).unwrap();
        assert_eq!(caller.hotkey, sender);
    }
}

/// One way to alter or replay a request, applied identically on both sides.
struct Case {
    name: &'static str,
    headers: Vec<(String, String)>,
    method: &'static str,
    path: &'static str,
    body: Vec<u8>,
    me: AccountId,
    now: u64,
    require_receiver: bool,
}

#[test]
fn both_sides_refuse_the_same_requests_for_the_same_reason() {
    let mut sdk = Sdk::start();
    let me = Keypair::generate(CryptoType::Sr25519).account_id();
    let stranger = Keypair::generate(CryptoType::Sr25519);
    let body = br#"{"x": 1}"#.to_vec();
    sdk.ok(json!({"op": "key_new", "name": "sdk-sr", "crypto": "sr25519"}));
    sdk.ok(json!({"op": "key_new", "name": "sdk-ed", "crypto": "ed25519"}));
    let rust_sr = Keypair::generate(CryptoType::Sr25519);
    let rust_ed = Keypair::generate(CryptoType::Ed25519);

    let mut bases: Vec<(String, Vec<(String, String)>)> = vec![
        ("sdk sr25519".into(), sdk_sign(&mut sdk, "sdk-sr", "POST", "/q?a=1", &body, Some(&me), Some(NONCE))),
        ("sdk ed25519".into(), sdk_sign(&mut sdk, "sdk-ed", "POST", "/q?a=1", &body, Some(&me), Some(NONCE))),
    ];
    for kp in [&rust_sr, &rust_ed] {
        bases.push((
            format!("rust {}", kp.crypto_type()),
            btauth::sign_request(kp, "POST", "/q?a=1", &body, Some(&me), NONCE),
        ));
    }

    for (origin, h) in &bases {
        let sig = header(h, HEADER_SIGNATURE).to_string();
        let is_ed = h.iter().any(|(k, _)| k.eq_ignore_ascii_case(HEADER_CRYPTO));
        let base = |name, headers: Vec<(String, String)>| Case {
            name,
            headers,
            method: "POST",
            path: "/q?a=1",
            body: body.clone(),
            me,
            now: NONCE + MS,
            require_receiver: true,
        };
        let mut cases = vec![
            base("unaltered", h.clone()),
            base("lowercase names", h.iter().map(|(k, v)| (k.to_lowercase(), v.clone())).collect()),
            base("uppercase hex", with(h, HEADER_SIGNATURE, Some(&format!("0x{}", sig[2..].to_uppercase())))),
            base("nonce with sign and spaces", with(h, HEADER_NONCE, Some(&format!(" +{NONCE} ")))),
            base("nonce altered", with(h, HEADER_NONCE, Some(&(NONCE + 1).to_string()))),
            base("negative nonce", with(h, HEADER_NONCE, Some("-1"))),
            base("nonce not a number", with(h, HEADER_NONCE, Some("12ab"))),
            base("signature zeroed", with(h, HEADER_SIGNATURE, Some(&format!("0x{}", "00".repeat(64))))),
            base("signature short", with(h, HEADER_SIGNATURE, Some(&sig[..sig.len() - 2]))),
            base("signature not hex", with(h, HEADER_SIGNATURE, Some("0xzz"))),
            base("hotkey swapped", with(h, HEADER_HOTKEY, Some(&stranger.ss58_address()))),
            base("hotkey garbage", with(h, HEADER_HOTKEY, Some("not-an-address"))),
            base("scheme flipped", with(h, HEADER_CRYPTO, if is_ed { None } else { Some("ed25519") })),
            base("scheme unknown", with(h, HEADER_CRYPTO, Some("ecdsa"))),
            base("version 2", with(h, HEADER_VERSION, Some("2"))),
            base("receiver emptied", with(h, HEADER_RECEIVER, Some(""))),
            base("receiver stripped", with(h, HEADER_RECEIVER, None)),
        ];
        for missing in [HEADER_VERSION, HEADER_HOTKEY, HEADER_NONCE, HEADER_SIGNATURE] {
            cases.push(base("header missing", with(h, missing, None)));
        }
        cases.push(Case { method: "DELETE", ..base("method altered", h.clone()) });
        cases.push(Case { path: "/q?a=2", ..base("query altered", h.clone()) });
        cases.push(Case { body: b"{\"x\": 2}".to_vec(), ..base("body altered", h.clone()) });
        cases.push(Case { me: stranger.account_id(), ..base("other receiver", h.clone()) });
        cases.push(Case { now: NONCE + 10 * S, ..base("exactly 10 s old", h.clone()) });
        cases.push(Case { now: NONCE + 10 * S + 1, ..base("10 s + 1 ns old", h.clone()) });
        cases.push(Case { now: NONCE - 2 * S, ..base("exactly 2 s ahead", h.clone()) });
        cases.push(Case { now: NONCE - 2 * S - 1, ..base("2 s + 1 ns ahead", h.clone()) });
        cases.push(Case {
            require_receiver: false,
            ..base("receiver optional, stripped", with(h, HEADER_RECEIVER, None))
        });

        for case in &cases {
            let v = Verifier::new(VerifierConfig { require_receiver: case.require_receiver, ..Default::default() });
            let ours = v
                .verify(case.method, case.path, &case.headers, &case.body, &case.me, case.now)
                .map(|c| (c.hotkey.to_ss58(), c.nonce, u64::from(c.crypto.code())))
                .map_err(|e| e.sdk_class().to_string());
            let theirs = sdk_verify(
                &mut sdk,
                &case.headers,
                case.method,
                case.path,
                &case.body,
                &case.me,
                Some(case.now),
                None,
                case.require_receiver,
            );
            assert_eq!(ours, theirs, "{origin}: {}", case.name);
        }
        // Replays, each side with its own remembered state.
        let v = Verifier::default();
        let store = format!("replay {origin}");
        for attempt in 0..2 {
            let ours = v
                .verify("POST", "/q?a=1", h, &body, &me, NONCE + MS)
                .map(|_| ())
                .map_err(|e| e.sdk_class().to_string());
            let theirs =
                sdk_verify(&mut sdk, h, "POST", "/q?a=1", &body, &me, Some(NONCE + MS), Some(&store), true).map(|_| ());
            assert_eq!(ours, theirs, "{origin}: attempt {attempt}");
            assert_eq!(ours.is_ok(), attempt == 0, "{origin}: attempt {attempt}");
        }
    }
}

#[test]
fn interop_answers_are_not_vacuous() {
    // The helper reports SDK failures as answers; make sure an unknown operation is one, so a
    // broken helper cannot make the other tests pass by answering "ok" to everything.
    let mut sdk = Sdk::start();
    let answer: Value = sdk.call(json!({"op": "no-such-op"}));
    assert_eq!(answer["ok"], false);
}
