//! Unit tests of the Synapse module: Python formatting vectors, body hash vectors computed by
//! bittensor 10.5, header round trips, signing and the Axon's refusals.

use super::*;
use crate::btauth::unix_time_ns;
use crate::{CryptoType, Keypair};

/// A synapse `Q(prompt="it's \"x\"\n", items=[1, "a'b", None, True, 1e-05, {"k": [1.5]}],
/// score=1e16)` with `required_hash_fields = ("prompt", "items", "score")`: its body as the
/// dendrite sends it and `Q.body_hash`, both from bittensor 10.5.0 under Python 3.11.
const SDK_BODY: &str = r#"{"name": "Q", "timeout": 12.0, "total_size": 0, "header_size": 0, "dendrite": {"status_code": null, "status_message": null, "process_time": null, "ip": null, "port": null, "version": null, "nonce": null, "uuid": null, "hotkey": null, "signature": null}, "axon": {"status_code": null, "status_message": null, "process_time": null, "ip": null, "port": null, "version": null, "nonce": null, "uuid": null, "hotkey": null, "signature": null}, "computed_body_hash": "", "prompt": "it's \"x\"\n", "items": [1, "a'b", null, true, 1e-05, {"k": [1.5]}], "score": 1e+16}"#;
const SDK_HASH: &str = "94b6077756e13a6beb1895cbca54d1b6e3128484a038fc997a770ebbfbd190f8";
const FIELDS: [&str; 3] = ["prompt", "items", "score"];
const NOW: u64 = 1_752_076_800_000_000_000;

fn py(json: &str) -> String {
    PyValue::from_json(json.as_bytes()).unwrap().python_str()
}

#[test]
fn python_str_of_json_values() {
    let cases = [
        ("null", "None"),
        ("true", "True"),
        ("[false]", "[False]"),
        ("12", "12"),
        ("-0", "0"),
        ("123456789012345678901234567890", "123456789012345678901234567890"),
        ("1.0", "1.0"),
        ("1e-05", "1e-05"),
        ("0.0001", "0.0001"),
        ("1e16", "1e+16"),
        ("1e15", "1000000000000000.0"),
        ("123456789.125", "123456789.125"),
        ("-0.0", "-0.0"),
        ("0.1", "0.1"),
        ("1e400", "inf"),
        ("-Infinity", "-inf"),
        ("NaN", "nan"),
        ("5e-324", "5e-324"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"),
        (r#""plain""#, "plain"),
        (r#"["x"]"#, "['x']"),
        (r#"["it's"]"#, r#"["it's"]"#),
        (r#"["it's \"q\""]"#, r#"['it\'s "q"']"#),
        (r#"["a\\b\n\t\r\u0001\u007f"]"#, r"['a\\b\n\t\r\x01\x7f']"),
        (r#"["é😀\u00a0\u200b\ud83d\ude00"]"#, r"['é😀\xa0\u200b😀']"),
        (r#"["\udb40\udc01"]"#, r"['\U000e0001']"),
        (r#"{"a": 1, "b": [1, 2], "c": {}}"#, "{'a': 1, 'b': [1, 2], 'c': {}}"),
        (r#"{"b": 1, "a": 2, "b": 3}"#, "{'b': 3, 'a': 2}"),
        ("[]", "[]"),
        (" [1 ,\n2 ] ", "[1, 2]"),
    ];
    for (json, want) in cases {
        assert_eq!(py(json), want, "{json}");
    }
    let tuple = PyValue::Tuple(vec![PyValue::Int(1i64.into())]);
    assert_eq!(tuple.python_str(), "(1,)");
    assert_eq!(PyValue::Tuple(vec![]).python_str(), "()");
    let int_keyed = PyValue::Dict(vec![(PyValue::Int(1i64.into()), PyValue::Str("a".into()))]);
    assert_eq!(int_keyed.python_str(), "{1: 'a'}");
}

#[test]
fn json_python_refuses() {
    for bad in [
        "",
        "01",
        "[1,]",
        "{\"a\" 1}",
        "{1: 2}",
        "\"\\ud800\"",
        "\"a\u{1}b\"",
        "[1] x",
        "\u{feff}1",
        "tru",
        "-",
        "1.",
        ".5",
        "\"\\x41\"",
        "'a'",
        "[NaN,",
        "\"\\u12\"",
    ] {
        assert!(
            matches!(PyValue::from_json(bad.as_bytes()), Err(SynapseError::MalformedBody { .. })),
            "{bad:?} should be refused"
        );
    }
    assert!(PyValue::from_json(&[0xff, 0xfe]).is_err());
    let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
    assert!(PyValue::from_json(deep.as_bytes()).is_err());
    let ok_deep = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
    assert!(PyValue::from_json(ok_deep.as_bytes()).is_ok());
    assert!(PyValue::from_json("9".repeat(MAX_INT_DIGITS).as_bytes()).is_ok());
    assert!(PyValue::from_json("9".repeat(MAX_INT_DIGITS + 1).as_bytes()).is_err());
    // A huge object with one repeated key costs linear time, not quadratic.
    let many: String = (0..50_000).map(|i| format!("\"k{i}\": {i},")).collect();
    let v = PyValue::from_json(format!("{{{many} \"k0\": -1}}").as_bytes()).unwrap();
    let PyValue::Dict(pairs) = v else { panic!("dict") };
    assert_eq!((pairs.len(), &pairs[0].1), (50_000, &PyValue::Int((-1i64).into())));
}

#[test]
fn body_hash_matches_the_sdk() {
    let (hash, _) = body_hash_of_json(SDK_BODY.as_bytes(), &FIELDS).unwrap();
    assert_eq!(hash, SDK_HASH);
    assert_eq!(body_hash([]), EMPTY_BODY_HASH);
    // `Q(prompt="")`: the defaults `items=[]`, `score=0.0` are hashed too (bittensor 10.5).
    let defaults = [PyValue::Str(String::new()), PyValue::List(vec![]), PyValue::Float(0.0)];
    assert_eq!(body_hash(&defaults), "99c27b8676d39bff53dd444636811d5f5db67c1035c89321ed6e18845fc93a80");
    // Field order matters, and a missing field is named.
    let (other, _) = body_hash_of_json(SDK_BODY.as_bytes(), &["items", "prompt", "score"]).unwrap();
    assert_ne!(other, SDK_HASH);
    assert_eq!(
        body_hash_of_json(SDK_BODY.as_bytes(), &["nope"]).unwrap_err(),
        SynapseError::MissingHashField { field: "nope".into() }
    );
    assert!(matches!(body_hash_of_json(b"[1]", &[]), Err(SynapseError::MalformedBody { .. })));
    assert_eq!(version_as_int(10, 5, 0), 10_005_000);
    assert_eq!(VERSION_AS_INT, 10_005_000);
}

fn keys() -> (Keypair, Keypair) {
    (
        Keypair::from_uri(CryptoType::Sr25519, "//Alice").unwrap(),
        Keypair::from_uri(CryptoType::Sr25519, "//Bob").unwrap(),
    )
}

fn request(dendrite: &Keypair, axon: &Keypair, nonce: u64, hash: &str) -> SynapseHeaders {
    let axon_hk = axon.ss58_address();
    let prompt = PyValue::Str("hi".into());
    let spec = RequestSpec {
        name: "Q",
        timeout: 12.0,
        dendrite_ip: "127.0.0.1",
        uuid: "5ecbd69c-1cec-11ee-b0dc-e29ce36fec1a",
        nonce,
        axon_ip: "10.0.0.1",
        axon_port: 8091,
        axon_hotkey: &axon_hk,
        body_hash: hash,
        required_fields: &[("prompt", &prompt)],
        body_len: 10,
    };
    sign_request(dendrite, &spec).unwrap()
}

#[test]
fn headers_round_trip_and_parse_case_insensitively() {
    let (d, a) = keys();
    let h = request(&d, &a, NOW, SDK_HASH);
    let wire = h.to_headers();
    assert_eq!(wire[0], ("name".into(), "Q".into()));
    assert_eq!(wire[1], ("timeout".into(), "12.0".into()));
    assert!(wire.iter().any(|(k, v)| k == "bt_header_input_obj_prompt" && v == "IiI="));
    assert_eq!(SynapseHeaders::parse(&wire).unwrap(), h);
    let upper: Vec<_> = wire.iter().map(|(k, v)| (k.to_uppercase(), v.clone())).collect();
    assert_eq!(SynapseHeaders::parse(&upper).unwrap(), h);
    assert_eq!(h.input_obj_value("prompt"), Some(PyValue::Str(String::new())));
    // Python int()/float() spellings.
    let odd = [("timeout", " 1_2 "), ("bt_header_dendrite_nonce", "+1_000"), ("bt_header_axon_port", "8091 ")];
    let p = SynapseHeaders::parse(odd).unwrap();
    assert_eq!((p.timeout, p.dendrite.nonce, p.axon.port), (Some(12.0), Some(1000), Some(8091)));
    // Typed refusals.
    let bad = |pairs: &[(&str, &str)]| SynapseHeaders::parse(pairs).unwrap_err();
    assert!(matches!(bad(&[("timeout", "soon")]), SynapseError::MalformedHeader { .. }));
    assert!(matches!(bad(&[("bt_header_dendrite_nonce", "-1")]), SynapseError::MalformedHeader { .. }));
    assert!(matches!(bad(&[("name", "a"), ("NAME", "b")]), SynapseError::DuplicateHeader { .. }));
    let long = "x".repeat(MAX_VALUE_LEN + 1);
    assert!(matches!(bad(&[("name", &long)]), SynapseError::HeadersTooLarge { .. }));
    let many: Vec<_> =
        (0..=MAX_INPUT_OBJS).map(|i| (format!("bt_header_input_obj_f{i}"), "e30=".to_string())).collect();
    assert!(matches!(SynapseHeaders::parse(&many), Err(SynapseError::HeadersTooLarge { .. })));
    assert_eq!(bad(&[("timeout", "soon")]).status(), 500);
}

#[test]
fn axon_verifies_requests_and_refuses_as_the_sdk() {
    let (d, a) = keys();
    let v = AxonVerifier::new(&a.account_id(), NonceRules::default());
    let h = request(&d, &a, NOW, SDK_HASH).to_headers();
    let ok = v.verify(&h, NOW + 1_000_000).unwrap();
    assert_eq!(ok.hotkey, d.account_id());
    ok.check_body(SDK_BODY.as_bytes(), &FIELDS).unwrap();
    let altered = SDK_BODY.replace("\"score\": 1e+16", "\"score\": 2e+16");
    assert_eq!(ok.check_body(altered.as_bytes(), &FIELDS).unwrap_err(), SynapseError::BodyHashMismatch);
    // Replay of the same nonce, and an older one.
    assert_eq!(v.verify(&h, NOW + 2).unwrap_err(), SynapseError::NonceNotNewer);
    let older = request(&d, &a, NOW - 1, SDK_HASH).to_headers();
    assert_eq!(v.verify(&older, NOW + 2).unwrap_err().status(), 401);
    let newer = request(&d, &a, NOW + 5, SDK_HASH).to_headers();
    assert!(v.verify(&newer, NOW + 10).is_ok());
    assert_eq!(v.nonce_keys(), 1);

    let fresh = AxonVerifier::new(&a.account_id(), NonceRules::default());
    let with = |name: &str, value: &str| -> Vec<(String, String)> {
        let mut out: Vec<_> = h.iter().filter(|(k, _)| k != name).cloned().collect();
        out.push((name.to_string(), value.to_string()));
        out
    };
    let err = |hs: &[(String, String)]| fresh.verify(hs, NOW + 1).unwrap_err();
    assert_eq!(err(&with("computed_body_hash", EMPTY_BODY_HASH)), SynapseError::BadSignature);
    assert_eq!(err(&with("bt_header_dendrite_uuid", "other")), SynapseError::BadSignature);
    assert_eq!(
        err(&with("bt_header_dendrite_signature", &format!("0x{}", "00".repeat(64)))),
        SynapseError::BadSignature
    );
    assert_eq!(err(&with("bt_header_dendrite_signature", "00")), SynapseError::MalformedSignature);
    assert_eq!(err(&with("bt_header_dendrite_hotkey", &a.ss58_address())), SynapseError::BadSignature);
    assert_eq!(err(&with("bt_header_dendrite_hotkey", "5Grw")), SynapseError::MalformedHotkey);
    assert_eq!(err(&with("bt_header_axon_hotkey", &d.ss58_address())), SynapseError::WrongAxon);
    let stale = fresh.verify(&h, NOW + 17_000_000_000).unwrap_err();
    assert!(matches!(stale, SynapseError::StaleNonce { allowed_ms: 16_000 }), "{stale}");
    let no_nonce: Vec<_> = h.iter().filter(|(k, _)| k != "bt_header_dendrite_nonce").cloned().collect();
    assert_eq!(err(&no_nonce), SynapseError::MissingHeader { header: "bt_header_dendrite_nonce" });
    // None of the refusals above recorded anything: the genuine request still passes once.
    assert!(fresh.verify(&h, NOW + 1).is_ok());

    // Signatures over the `<Bytes>`-wrapped message verify too.
    let msg = request_message(NOW, &d.ss58_address(), &a.ss58_address(), "u", "h");
    let wrapped: [u8; 64] = d.sign(format!("<Bytes>{msg}</Bytes>").as_bytes());
    assert!(verify_message(&d.account_id(), &msg, &wrapped));
    assert!(!verify_message(&a.account_id(), &msg, &wrapped));
    // ed25519 keys cannot speak this protocol.
    let ed = Keypair::generate(CryptoType::Ed25519);
    assert_eq!(sign_message(&ed, "x").unwrap_err(), SynapseError::UnsupportedKey { crypto: "ed25519" });
}

#[test]
fn response_headers_sign_and_verify() {
    let (d, a) = keys();
    let req = request(&d, &a, NOW, SDK_HASH);
    let spec = ResponseSpec {
        status_code: 200,
        status_message: "Success",
        process_time: 0.25,
        axon_nonce: NOW + 7,
        axon_uuid: "axon-uuid",
        dendrite_ip: "127.0.0.1",
        dendrite_port: 40000,
        body_hash: SDK_HASH,
    };
    let resp = sign_response(&a, &req, &spec).unwrap();
    let parsed = SynapseHeaders::parse(resp.to_headers()).unwrap();
    assert_eq!(parsed, resp);
    assert_eq!(parsed.axon.status_code, Some(200));
    assert_eq!(parsed.axon.process_time, Some(0.25));
    verify_response(&parsed, &a.account_id()).unwrap();
    assert_eq!(verify_response(&parsed, &d.account_id()), Err(SynapseError::WrongAxon));
    let mut tampered = parsed.clone();
    tampered.axon.nonce = Some(NOW + 8);
    assert_eq!(verify_response(&tampered, &a.account_id()), Err(SynapseError::BadSignature));
}

#[test]
fn error_statuses_follow_the_axon() {
    assert_eq!(SynapseError::Blacklisted { reason: "x".into() }.status(), 403);
    assert_eq!(SynapseError::UnknownSynapse { name: "x".into() }.status(), 404);
    assert_eq!(SynapseError::Timeout.status(), 408);
    assert_eq!(SynapseError::Overloaded.status(), 503);
    assert_eq!(SynapseError::BadSignature.status(), 401);
    assert_eq!(SynapseError::MalformedHeader { header: "timeout".into(), reason: "x" }.status(), 500);
    assert_eq!(SynapseError::BodyHashMismatch.status(), 500);
    let _ = unix_time_ns();
}

#[test]
fn error_reasons_are_distinct() {
    let all = [
        SynapseError::MissingHeader { header: "x" },
        SynapseError::DuplicateHeader { header: "x".into() },
        SynapseError::MalformedHeader { header: "x".into(), reason: "r" },
        SynapseError::HeadersTooLarge { reason: "r" },
        SynapseError::MalformedHotkey,
        SynapseError::MalformedSignature,
        SynapseError::WrongAxon,
        SynapseError::StaleNonce { allowed_ms: 1 },
        SynapseError::NonceNotNewer,
        SynapseError::BelowNonceHorizon,
        SynapseError::LegacyVersion { version: 1 },
        SynapseError::BadSignature,
        SynapseError::UnsupportedKey { crypto: "ed25519" },
        SynapseError::MalformedBody { reason: "r" },
        SynapseError::MissingHashField { field: "f".into() },
        SynapseError::BodyHashMismatch,
        SynapseError::UnknownSynapse { name: "n".into() },
        SynapseError::Blacklisted { reason: "r".into() },
        SynapseError::Overloaded,
        SynapseError::Timeout,
    ];
    let reasons: std::collections::BTreeSet<_> = all.iter().map(SynapseError::reason).collect();
    assert_eq!(reasons.len(), all.len());
}
