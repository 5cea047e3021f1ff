//! Property tests of every parser of untrusted input in subnet-keys: btauth, Synapse and
//! Epistula headers, the Synapse JSON reader, wallet keyfiles (JSON shapes, `$NACL` blobs,
//! `coldkeypub.txt`). None may panic on any input, every refusal is a typed error, and what the
//! crate builds parses back to what it built.

use std::path::Path;

use proptest::prelude::*;
use subnet_keys::synapse::{self, PyInt, PyValue, SynapseHeaders, TerminalInfo};
use subnet_keys::{AccountId, CryptoType, KeyError, Keypair, btauth, epistula};

/// Header names a parser looks at, in odd spellings, plus unrelated ones.
fn header_name() -> impl Strategy<Value = String> {
    let known = [
        "X-Bittensor-Version",
        "x-bittensor-hotkey",
        "X-BITTENSOR-NONCE",
        "X-Bittensor-Signature",
        "X-Bittensor-Crypto",
        "X-Bittensor-Receiver",
        "name",
        "timeout",
        "header_size",
        "total_size",
        "computed_body_hash",
        "bt_header_dendrite_nonce",
        "BT_HEADER_DENDRITE_HOTKEY",
        "bt_header_dendrite_signature",
        "bt_header_dendrite_uuid",
        "bt_header_dendrite_version",
        "bt_header_axon_hotkey",
        "bt_header_axon_port",
        "bt_header_axon_process_time",
        "bt_header_axon_status_code",
        "bt_header_input_obj_x",
        "Epistula-Version",
        "epistula-timestamp",
        "Epistula-Uuid",
        "Epistula-Signed-By",
        "Epistula-Signed-For",
        "Epistula-Request-Signature",
        "content-type",
    ];
    prop_oneof![proptest::sample::select(known.to_vec()).prop_map(String::from), "[a-zA-Z_-]{0,24}"]
}

/// Header values: valid-looking text, numbers, hex, arbitrary bytes.
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[ -~]{0,80}".prop_map(String::into_bytes),
        any::<i128>().prop_map(|n| n.to_string().into_bytes()),
        "0x[0-9a-fA-F]{0,140}".prop_map(String::into_bytes),
        Just(Keypair::from_uri(CryptoType::Sr25519, "//Alice").unwrap().ss58_address().into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..200),
        (1usize..20_000).prop_map(|n| vec![b'9'; n]),
    ]
}

fn headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    proptest::collection::vec((header_name(), header_value()), 0..24)
}

fn alice() -> Keypair {
    Keypair::from_uri(CryptoType::Sr25519, "//Alice").unwrap()
}

fn bob() -> AccountId {
    Keypair::from_uri(CryptoType::Sr25519, "//Bob").unwrap().account_id()
}

/// Python-json text of a value (what `json.dumps` writes), for reading back.
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

/// JSON-shaped values (string keys, unique), floats that are not NaN so equality holds.
fn py_value() -> impl Strategy<Value = PyValue> {
    let leaf = prop_oneof![
        Just(PyValue::None),
        any::<bool>().prop_map(PyValue::Bool),
        any::<i64>().prop_map(|i| PyValue::Int(i.into())),
        "-?[1-9][0-9]{20,60}".prop_map(|s| PyValue::Int(PyInt::parse(&s).unwrap())),
        any::<f64>().prop_filter("not NaN", |f| !f.is_nan()).prop_map(PyValue::Float),
        any::<String>().prop_map(PyValue::Str),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(PyValue::List),
            proptest::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| PyValue::Dict(m.into_iter().map(|(k, v)| (PyValue::Str(k), v)).collect())),
        ]
    })
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[ -~]{0,40}".prop_map(|s| s.trim().to_string()))
}

fn terminal() -> impl Strategy<Value = TerminalInfo> {
    (
        (
            proptest::option::of(any::<i64>()),
            opt_text(),
            proptest::option::of(any::<f64>().prop_filter("", |f| !f.is_nan())),
        ),
        (opt_text(), proptest::option::of(any::<u64>()), proptest::option::of(any::<i64>())),
        (proptest::option::of(any::<u64>()), opt_text(), opt_text(), opt_text()),
    )
        .prop_map(
            |((status_code, status_message, process_time), (ip, port, version), (nonce, uuid, hotkey, signature))| {
                TerminalInfo {
                    status_code,
                    status_message,
                    process_time,
                    ip,
                    port,
                    version,
                    nonce,
                    uuid,
                    hotkey,
                    signature,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn btauth_headers_never_panic(h in headers(), now in any::<u64>(), body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let v = btauth::Verifier::default();
        match v.verify("POST", "/q", &h, &body, &bob(), now) {
            Ok(_) => {}
            Err(e) => prop_assert!(matches!(e.status(), 400 | 401) && !e.reason().is_empty()),
        }
    }

    #[test]
    fn btauth_round_trips(method in "[A-Za-z]{1,8}", path in "/[ -~]{0,40}", body in proptest::collection::vec(any::<u8>(), 0..256), nonce in any::<u64>(), ed in any::<bool>()) {
        let kp = if ed { Keypair::from_uri(CryptoType::Ed25519, "//Alice").unwrap() } else { alice() };
        let h = btauth::sign_request(&kp, &method, &path, &body, Some(&bob()), nonce);
        let c = btauth::Verifier::default().verify(&method, &path, &h, &body, &bob(), nonce).unwrap();
        prop_assert_eq!((c.hotkey, c.nonce), (kp.account_id(), nonce));
    }

    #[test]
    fn synapse_headers_never_panic(h in headers(), now in any::<u64>()) {
        let _ = SynapseHeaders::parse(&h);
        let v = synapse::AxonVerifier::new(&bob(), synapse::NonceRules::default());
        if let Err(e) = v.verify(&h, now) {
            prop_assert!([401, 500].contains(&e.status()), "{e}");
        }
    }

    #[test]
    fn synapse_headers_round_trip(
        name in opt_text(), timeout in proptest::option::of(any::<f64>().prop_filter("", |f| !f.is_nan())),
        sizes in (proptest::option::of(any::<u64>()), proptest::option::of(any::<u64>())), hash in opt_text(),
        dendrite in terminal(), axon in terminal(),
        input_obj in proptest::collection::vec(("[a-z_]{1,12}", "[A-Za-z0-9+/=]{0,12}"), 0..4),
    ) {
        let mut input_obj = input_obj;
        input_obj.sort();
        input_obj.dedup_by(|a, b| a.0 == b.0);
        let h = SynapseHeaders {
            name, timeout, header_size: sizes.0, total_size: sizes.1, computed_body_hash: hash, dendrite, axon, input_obj,
        };
        prop_assert_eq!(SynapseHeaders::parse(h.to_headers()).unwrap(), h);
    }

    #[test]
    fn python_json_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256), text in "[\\[\\]{}\",:0-9eE.+\\-a-zA-Z \\\\u]{0,64}") {
        for input in [bytes.as_slice(), text.as_bytes()] {
            if let Err(e) = PyValue::from_json(input) {
                prop_assert!(matches!(e, synapse::SynapseError::MalformedBody { .. }), "{}", e);
            }
            let _ = synapse::body_hash_of_json(input, &["a", "b"]);
        }
    }

    #[test]
    fn python_json_round_trips(v in py_value()) {
        let text = to_json(&v);
        let back = PyValue::from_json(text.as_bytes()).unwrap();
        prop_assert_eq!(back.python_str(), v.python_str());
        prop_assert_eq!(back, v);
    }

    #[test]
    fn float_repr_reads_back(f in any::<f64>().prop_filter("", |f| f.is_finite())) {
        let r = synapse::float_repr(f);
        prop_assert_eq!(r.parse::<f64>().unwrap().to_bits(), f.to_bits());
        prop_assert!(r.contains('.') || r.contains('e'), "{}", r);
    }

    #[test]
    fn epistula_headers_never_panic(h in headers(), now in any::<u64>(), body in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Err(e) = epistula::Verifier::default().verify(&h, &body, &bob(), now) {
            prop_assert_eq!(e.status(), 400);
        }
    }

    #[test]
    fn epistula_round_trips(body in proptest::collection::vec(any::<u8>(), 0..256), ts in 0u64..(1 << 53), uuid in "[ -~]{1,40}", bound in any::<bool>()) {
        let me = bob();
        let h = epistula::sign_request(&alice(), &body, bound.then_some(&me), ts, &uuid).unwrap();
        let v = epistula::Verifier::new(epistula::VerifierConfig { require_receiver: bound, ..Default::default() });
        let c = v.verify(&h, &body, &me, ts).unwrap();
        prop_assert_eq!((c.hotkey, c.timestamp_ms, c.uuid), (alice().account_id(), ts, uuid));
    }

    #[test]
    fn keyfile_json_shapes_never_panic(
        keys in proptest::collection::vec(proptest::sample::select(vec![
            "secretPhrase", "secretSeed", "privateKey", "publicKey", "accountId", "ss58Address", "cryptoType", "other",
        ]), 0..8),
        values in proptest::collection::vec(prop_oneof![
            "0x[0-9a-f]{0,130}".prop_map(serde_json::Value::from),
            "[ -~]{0,60}".prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            Just(serde_json::Value::Null),
            Just(serde_json::json!([1, "x"])),
        ], 8),
        raw in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        let obj: serde_json::Map<String, serde_json::Value> =
            keys.iter().zip(values).map(|(k, v)| (k.to_string(), v)).collect();
        let path = Path::new("fuzz/keyfile");
        for data in [serde_json::Value::Object(obj).to_string().into_bytes(), raw.clone(), [b"$NACL".as_slice(), &raw].concat()] {
            match Keypair::from_keyfile_data(&data, None, path) {
                Ok(kp) => prop_assert_eq!(kp.ss58_address().len() > 40, true),
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
            // coldkeypub.txt / hotkeypub.txt content goes through this one.
            let _ = subnet_keys::public_from_keyfile_data(&data, path);
        }
    }

    #[test]
    fn keyfiles_round_trip(seed in any::<[u8; 32]>(), ed in any::<bool>()) {
        let crypto = if ed { CryptoType::Ed25519 } else { CryptoType::Sr25519 };
        let kp = Keypair::from_seed(crypto, &seed);
        let back = Keypair::from_keyfile_data(kp.to_keyfile_json().as_bytes(), None, Path::new("k")).unwrap();
        prop_assert_eq!(back.account_id(), kp.account_id());
        let public = subnet_keys::public_from_keyfile_data(kp.to_public_keyfile_json().as_bytes(), Path::new("k")).unwrap();
        prop_assert_eq!(public, (kp.account_id(), crypto));
    }
}

proptest! {
    // Each attempt costs an Argon2i derivation (512 MiB, about a second): a few cases only.
    #![proptest_config(ProptestConfig { cases: 2, ..ProptestConfig::default() })]

    #[test]
    fn nacl_blobs_with_a_password_are_refused_typed(raw in proptest::collection::vec(any::<u8>(), 0..96)) {
        let data = [b"$NACL".as_slice(), &raw].concat();
        match subnet_keys::decrypt_nacl(&data, "pw", Path::new("k")) {
            Err(KeyError::WrongPassword { .. } | KeyError::Malformed { .. }) => {}
            other => prop_assert!(false, "unexpected {:?}", other.map(|_| ())),
        }
    }
}
