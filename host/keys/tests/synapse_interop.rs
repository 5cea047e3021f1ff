//! The Synapse protocol against the real bittensor 10.5: Python `str()` and body hashes agree
//! on generated values; requests built by the SDK's own Dendrite verify here; requests built here
//! are answered by a real SDK Axon (its middleware: blacklist, `default_verify`, body integrity)
//! with the same status this crate's verifier gives them; the Axon's response headers parse and
//! their signature verifies here, and ours verifies with the SDK's `Keypair`. Needs the
//! bittensor 10.5 venv; see tests/support/mod.rs.

mod support;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use subnet_keys::btauth::unix_time_ns;
use subnet_keys::synapse::{
    self, AxonVerifier, NonceRules, PyInt, PyValue, RequestSpec, ResponseSpec, SynapseError, SynapseHeaders,
};
use subnet_keys::{CryptoType, Keypair};
use support::{Sdk, headers_from_json, headers_to_json};

const FIELDS: [&str; 3] = ["prompt", "items", "score"];
const S: u64 = 1_000_000_000;

/// Python-json text (as `json.dumps` writes it) of a JSON-shaped value.
fn to_json(v: &PyValue) -> String {
    match v {
        PyValue::None => "null".into(),
        PyValue::Bool(b) => b.to_string(),
        PyValue::Int(i) => i.as_str().into(),
        PyValue::Float(f) if f.is_nan() => "NaN".into(),
        PyValue::Float(f) if f.is_infinite() => if *f > 0.0 { "Infinity" } else { "-Infinity" }.into(),
        PyValue::Float(f) => synapse::float_repr(*f),
        PyValue::Str(s) => serde_json::to_string(s).unwrap(),
        PyValue::List(items) | PyValue::Tuple(items) => {
            format!("[{}]", items.iter().map(to_json).collect::<Vec<_>>().join(", "))
        }
        PyValue::Dict(pairs) => format!(
            "{{{}}}",
            pairs.iter().map(|(k, v)| format!("{}: {}", to_json(k), to_json(v))).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Values meant to stress `str()`: every Unicode scalar (unassigned, format, private use,
/// separators, astral), both quotes, backslashes, floats across the exponent range.
fn py_value() -> impl Strategy<Value = PyValue> {
    use proptest::prelude::*;
    let text = prop_oneof![
        any::<String>(),
        "['\"\\\\ a\\t\\n]{0,8}",
        proptest::collection::vec(any::<char>(), 0..6).prop_map(|c| c.into_iter().collect()),
        proptest::collection::vec(0x80u32..0x3000, 0..6)
            .prop_map(|c| c.into_iter().filter_map(char::from_u32).collect::<String>()),
    ];
    let leaf = prop_oneof![
        Just(PyValue::None),
        any::<bool>().prop_map(PyValue::Bool),
        any::<i64>().prop_map(|i| PyValue::Int(i.into())),
        "-?[1-9][0-9]{18,40}".prop_map(|s| PyValue::Int(PyInt::parse(&s).unwrap())),
        any::<f64>().prop_map(PyValue::Float),
        (-400i32..400, 1u32..10).prop_map(|(e, m)| PyValue::Float(f64::from(m) * 10f64.powi(e))),
        text.clone().prop_map(PyValue::Str),
    ];
    leaf.prop_recursive(3, 32, 5, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(PyValue::List),
            proptest::collection::vec((text.clone(), inner), 0..5).prop_map(|kv| {
                let mut seen = std::collections::HashSet::new();
                PyValue::Dict(
                    kv.into_iter().filter(|(k, _)| seen.insert(k.clone())).map(|(k, v)| (PyValue::Str(k), v)).collect(),
                )
            }),
        ]
    })
}

#[test]
fn python_str_and_hashes_match_python() {
    let mut sdk = Sdk::start_bt10();
    let v = sdk.ok(json!({"op": "version"}));
    assert_eq!(
        v["unicode"],
        synapse::UNICODE_VERSION,
        "the printable table was made from another Unicode version than this Python's {}: regenerate it with \
         tests/interop/gen_printable.py",
        v["python"]
    );
    let mut runner = TestRunner::new(Config { cases: 1, ..Config::default() });
    let strategy = py_value();
    let values: Vec<PyValue> = (0..600).map(|_| strategy.new_tree(&mut runner).unwrap().current()).collect();
    let texts: Vec<String> = values.iter().map(to_json).collect();
    let answer = sdk.ok(json!({"op": "py_str", "values": texts}));
    let (strs, hashes) = (answer["strs"].as_array().unwrap(), answer["hashes"].as_array().unwrap());
    for (i, v) in values.iter().enumerate() {
        let parsed = PyValue::from_json(texts[i].as_bytes()).unwrap();
        assert_eq!(parsed.python_str(), strs[i].as_str().unwrap(), "str() of {}", texts[i]);
        let one = synapse::body_hash([&parsed]);
        // body_hash of one field is sha3(sha3(str)); the helper gives the inner sha3.
        let inner = hashes[i].as_str().unwrap();
        assert_eq!(one, hex::encode(<sha3::Sha3_256 as sha3::Digest>::digest(inner.as_bytes())), "{}", texts[i]);
        assert_eq!(&parsed.python_str(), &v.python_str());
    }
    // Whole bodies through the SDK's own Synapse.body_hash.
    for chunk in values.chunks(3).take(100) {
        let fields: Vec<_> =
            ["a", "b", "c"].iter().zip(chunk).map(|(k, v)| format!("\"{k}\": {}", to_json(v))).collect();
        let body = format!("{{{}}}", fields.join(", "));
        let theirs = sdk.ok(json!({"op": "probe_hash", "body": body}));
        let names = ["a", "b", "c"];
        let (ours, _) = synapse::body_hash_of_json(body.as_bytes(), &names[..chunk.len()]).unwrap();
        if chunk.len() == 3 {
            assert_eq!(ours, theirs["hash"].as_str().unwrap(), "{body}");
        }
    }
}

fn dendrite_request(
    sdk: &mut Sdk,
    axon: &Keypair,
    items: Value,
    score: f64,
) -> (Vec<(String, String)>, String, String) {
    let a = sdk.ok(json!({
        "op": "dendrite_request", "uri": "//Alice", "axon_hotkey": axon.ss58_address(),
        "prompt": "it's a \"test\" é\u{200b}", "items": items, "score": score, "timeout": 12.0,
    }));
    (headers_from_json(&a["headers"]), a["body"].as_str().unwrap().to_string(), a["body_hash"].as_str().unwrap().into())
}

#[test]
fn sdk_dendrite_requests_verify_here() {
    let mut sdk = Sdk::start_bt10();
    let axon = Keypair::from_uri(CryptoType::Sr25519, "//Bob").unwrap();
    let alice = Keypair::from_uri(CryptoType::Sr25519, "//Alice").unwrap();
    let (h, body, hash) = dendrite_request(&mut sdk, &axon, json!([1, "x'y", null, 1e-5, {"k": [true, 2.5]}]), 1e16);
    let now = unix_time_ns();
    let v = AxonVerifier::new(&axon.account_id(), NonceRules::default());
    let ok = v.verify(&h, now).unwrap();
    assert_eq!(ok.hotkey, alice.account_id());
    assert_eq!(ok.headers.computed_body_hash.as_deref(), Some(hash.as_str()));
    assert_eq!(ok.headers.dendrite.version, Some(synapse::VERSION_AS_INT));
    assert_eq!(ok.headers.input_obj_value("prompt"), Some(PyValue::Str(String::new())));
    ok.check_body(body.as_bytes(), &FIELDS).unwrap();
    assert_eq!(synapse::body_hash_of_json(body.as_bytes(), &FIELDS).unwrap().0, hash);
    // Altered body field, replay, bad signature, stale first nonce.
    let altered = body.replace("\"score\": 1e+16", "\"score\": 1e+15");
    assert_ne!(altered, body);
    assert_eq!(ok.check_body(altered.as_bytes(), &FIELDS).unwrap_err(), SynapseError::BodyHashMismatch);
    assert_eq!(v.verify(&h, now).unwrap_err(), SynapseError::NonceNotNewer);
    let fresh = AxonVerifier::new(&axon.account_id(), NonceRules::default());
    let sig_at = h.iter().position(|(k, _)| k == "bt_header_dendrite_signature").unwrap();
    let mut forged = h.clone();
    let mut sig = forged[sig_at].1.clone().into_bytes();
    sig[10] = if sig[10] == b'0' { b'1' } else { b'0' };
    forged[sig_at].1 = String::from_utf8(sig).unwrap();
    assert_eq!(fresh.verify(&forged, now).unwrap_err(), SynapseError::BadSignature);
    let stale = fresh.verify(&h, now + 17 * S).unwrap_err();
    assert!(matches!(stale, SynapseError::StaleNonce { allowed_ms: 16_000 }), "{stale}");
    assert!(fresh.verify(&h, now).is_ok());
}

/// A request built here for the axon `axon_hk`.
fn our_request(dendrite: &Keypair, axon_hk: &str, port: u64, nonce: u64, body: &str) -> SynapseHeaders {
    let (hash, _) = synapse::body_hash_of_json(body.as_bytes(), &FIELDS).unwrap();
    let prompt = PyValue::Str("x".into());
    let spec = RequestSpec {
        name: "Q",
        timeout: 12.0,
        dendrite_ip: "127.0.0.1",
        uuid: "0e3f6c2a-7d8b-11f0-9c1e-0242ac120002",
        nonce,
        axon_ip: "127.0.0.1",
        axon_port: port,
        axon_hotkey: axon_hk,
        body_hash: &hash,
        required_fields: &[("prompt", &prompt)],
        body_len: body.len() as u64,
    };
    synapse::sign_request(dendrite, &spec).unwrap()
}

/// (name, headers, body, route, the status both must answer).
type AxonCase<'a> = (&'a str, Vec<(String, String)>, String, &'a str, u16);

fn post(sdk: &mut Sdk, route: &str, headers: &[(String, String)], body: &str) -> (u16, Vec<(String, String)>, Value) {
    let a = sdk.ok(json!({"op": "axon_post", "route": route, "headers": headers_to_json(headers), "body": body}));
    let json = serde_json::from_str(a["body"].as_str().unwrap()).unwrap_or(Value::Null);
    (a["status"].as_u64().unwrap() as u16, headers_from_json(&a["headers"]), json)
}

#[test]
fn our_requests_are_answered_by_a_real_axon_with_our_statuses() {
    let mut sdk = Sdk::start_bt10();
    let axon = Keypair::from_uri(CryptoType::Sr25519, "//Bob").unwrap();
    let blocked = Keypair::from_uri(CryptoType::Sr25519, "//Eve").unwrap();
    let info = sdk.ok(json!({"op": "axon_start", "uri": "//Bob", "blacklist": [blocked.ss58_address()]}));
    let port = info["port"].as_u64().unwrap();
    let me = Keypair::generate(CryptoType::Sr25519);
    let body = r#"{"prompt": "it's \"q\" \u00e9", "items": [1, 2.5, "a"], "score": 0.1}"#;

    // Success: 200, the handler's answer, signed response headers that parse and verify here.
    let h = our_request(&me, &axon.ss58_address(), port, unix_time_ns(), body).to_headers();
    let (status, resp_headers, json) = post(&mut sdk, "Q", &h, body);
    assert_eq!(status, 200, "{json}");
    assert_eq!((json["score"].as_f64(), &json["items"][3]), (Some(42.0), &json!("answered")));
    let resp = SynapseHeaders::parse(&resp_headers).unwrap();
    assert_eq!((resp.axon.status_code, resp.axon.status_message.as_deref()), (Some(200), Some("Success")));
    assert!(resp.axon.process_time.is_some_and(|t| t >= 0.0));
    // bittensor 10.5 answers a success with the handler's synapse, built from the body: the
    // axon's nonce, uuid and signature (set on the middleware's copy) are not in it.
    assert_eq!((resp.axon.nonce, resp.axon.signature.as_deref()), (None, None));
    assert_eq!(
        synapse::verify_response(&resp, &axon.account_id()),
        Err(SynapseError::MissingHeader { header: "bt_header_axon_nonce" })
    );
    // The response's body hash is the SDK's over the answered synapse.
    let answered = serde_json::to_string(&json).unwrap();
    let answered_hash = synapse::body_hash_of_json(answered.as_bytes(), &FIELDS).unwrap().0;
    assert_eq!(resp.computed_body_hash.as_deref(), Some(answered_hash.as_str()));

    // The same request again is a replay for both.
    let ours = AxonVerifier::new(&axon.account_id(), NonceRules::default());
    ours.verify(&h, unix_time_ns()).unwrap();
    assert_eq!(post(&mut sdk, "Q", &h, body).0, ours.verify(&h, unix_time_ns()).unwrap_err().status());

    // Each refusal: the Axon's status equals ours, each on a fresh nonce.
    let mut n = 0u64;
    let mut fresh = |dendrite: &Keypair, axon_hk: &str, nonce_offset: i64| {
        n += 1;
        let nonce = (unix_time_ns() as i64 + nonce_offset) as u64 + n;
        our_request(dendrite, axon_hk, port, nonce, body).to_headers()
    };
    let set = |h: &[(String, String)], name: &str, value: &str| -> Vec<(String, String)> {
        h.iter().map(|(k, v)| (k.clone(), if k == name { value.to_string() } else { v.clone() })).collect()
    };
    let mut cases: Vec<AxonCase> = Vec::new();
    let altered_body = body.replace("0.1", "0.2");
    cases.push(("body altered", fresh(&me, &axon.ss58_address(), 0), altered_body, "Q", 500));
    // A key the Axon has no nonce for, so the first-nonce window applies (4 s + 12 s timeout).
    let newcomer = Keypair::generate(CryptoType::Sr25519);
    cases.push(("stale first nonce", fresh(&newcomer, &axon.ss58_address(), -20 * S as i64), body.into(), "Q", 401));
    cases.push((
        "first nonce in window",
        fresh(&newcomer, &axon.ss58_address(), -10 * S as i64),
        body.into(),
        "Q",
        200,
    ));
    let bad_sig =
        set(&fresh(&me, &axon.ss58_address(), 0), "bt_header_dendrite_signature", &format!("0x{}", "ab".repeat(64)));
    cases.push(("bad signature", bad_sig, body.into(), "Q", 401));
    let short_sig = set(&fresh(&me, &axon.ss58_address(), 0), "bt_header_dendrite_signature", "0x1234");
    cases.push(("malformed signature", short_sig, body.into(), "Q", 401));
    cases.push(("other axon", fresh(&me, &me.ss58_address(), 0), body.into(), "Q", 401));
    cases.push(("blacklisted", fresh(&blocked, &axon.ss58_address(), 0), body.into(), "Q", 403));
    let bad_timeout = set(&fresh(&me, &axon.ss58_address(), 0), "timeout", "soon");
    cases.push(("unparseable timeout", bad_timeout, body.into(), "Q", 500));
    let bad_hotkey = set(&fresh(&me, &axon.ss58_address(), 0), "bt_header_dendrite_hotkey", "not-an-address");
    cases.push(("malformed hotkey", bad_hotkey, body.into(), "Q", 401));
    let no_nonce: Vec<_> =
        fresh(&me, &axon.ss58_address(), 0).into_iter().filter(|(k, _)| k != "bt_header_dendrite_nonce").collect();
    cases.push(("no nonce", no_nonce, body.into(), "Q", 401));
    cases.push(("unknown synapse", fresh(&me, &axon.ss58_address(), 0), body.into(), "Nope", 404));

    for (name, headers, body, route, want) in &cases {
        let (status, resp_headers, json) = post(&mut sdk, route, headers, body);
        assert_eq!(status, *want, "{name}: the Axon answered {json}");
        // Refusals after the headers were read carry the middleware's signed axon fields; for
        // unreadable headers the Axon answers from an empty synapse.
        if *route == "Q" && *want != 200 {
            let resp = SynapseHeaders::parse(&resp_headers).unwrap();
            assert_eq!(resp.axon.status_code, Some(i64::from(*want)), "{name}");
            if *name == "unparseable timeout" {
                assert_eq!((resp.axon.uuid.as_deref(), resp.axon.signature.as_deref()), (None, None));
            } else {
                assert_eq!(resp.axon.uuid.as_deref(), info["uuid"].as_str(), "{name}");
            }
            // The Axon signs over the axon hotkey the request named, so for "other axon" the
            // signed fields name another key.
            if !["unparseable timeout", "other axon"].contains(name) {
                synapse::verify_response(&resp, &axon.account_id()).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
        let v = AxonVerifier::new(&axon.account_id(), NonceRules::default());
        let ours = match (*route, v.verify(headers, unix_time_ns())) {
            ("Nope", _) => SynapseError::UnknownSynapse { name: "Nope".into() }.status(),
            (_, Err(e)) if *name == "blacklisted" => panic!("{name}: verify refused first: {e}"),
            (_, Ok(_)) if *name == "blacklisted" => SynapseError::Blacklisted { reason: "listed".into() }.status(),
            (_, Err(e)) => e.status(),
            (_, Ok(ok)) => ok.check_body(body.as_bytes(), &FIELDS).map(|_| 200).unwrap_or_else(|e| e.status()),
        };
        assert_eq!(ours, *want, "{name}: ours");
    }
}

#[test]
fn our_response_signature_verifies_with_the_sdk_keypair() {
    let mut sdk = Sdk::start_bt10();
    let axon = Keypair::from_uri(CryptoType::Sr25519, "//Bob").unwrap();
    let dendrite = Keypair::generate(CryptoType::Sr25519);
    let req = our_request(
        &dendrite,
        &axon.ss58_address(),
        8091,
        unix_time_ns(),
        r#"{"prompt": "x", "items": [], "score": 0.0}"#,
    );
    let spec = ResponseSpec {
        status_code: 200,
        status_message: "Success",
        process_time: 0.5,
        axon_nonce: unix_time_ns(),
        axon_uuid: "9f1c",
        dendrite_ip: "127.0.0.1",
        dendrite_port: 5555,
        body_hash: synapse::EMPTY_BODY_HASH,
    };
    let resp = synapse::sign_response(&axon, &req, &spec).unwrap();
    let message =
        synapse::response_message(spec.axon_nonce, &dendrite.ss58_address(), &axon.ss58_address(), spec.axon_uuid);
    let sig = resp.axon.signature.clone().unwrap();
    let check = |sdk: &mut Sdk, ss58: &str, message: &str| {
        sdk.ok(json!({"op": "verify_sig", "ss58": ss58, "message": message, "signature": sig}))["valid"] == true
    };
    assert!(check(&mut sdk, &axon.ss58_address(), &message));
    assert!(!check(&mut sdk, &dendrite.ss58_address(), &message));
    assert!(!check(&mut sdk, &axon.ss58_address(), &format!("{message}x")));
    // And a request signature made here, over the message the Axon rebuilds.
    let d = &req.dendrite;
    let m = synapse::request_message(
        d.nonce.unwrap(),
        d.hotkey.as_deref().unwrap(),
        &axon.ss58_address(),
        d.uuid.as_deref().unwrap(),
        req.computed_body_hash.as_deref().unwrap(),
    );
    let ok = sdk.ok(json!({"op": "verify_sig", "ss58": dendrite.ss58_address(), "message": m,
        "signature": d.signature.clone().unwrap()}));
    assert_eq!(ok["valid"], true);
    // The helper reports failures as answers: an unknown operation must be one.
    assert_eq!(sdk.call(json!({"op": "no-such-op"}))["ok"], false);
}
