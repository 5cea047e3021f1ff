//! Property tests of what the protocol plug-ins read from the network: the admission layer's
//! header stage for the Axon's Synapse rules and for Epistula (any header list: a claim, or a
//! typed refusal with a 400/401 status and a stable reason; never a panic; a request signed
//! right is claimed for its signer), and the payload ↔ synapse mapping (any bytes: a mapping or
//! a typed error; JSON payloads round-trip through a synapse unchanged).

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use serde_json::Value;
use subnet_host::net::admission::Protocol;
use subnet_host::net::wire::{self, SynapseSpec};
use subnet_keys::btauth::unix_time_ns;
use subnet_keys::synapse::{self, RequestSpec};
use subnet_keys::{AccountId, CryptoType, Keypair, epistula};

fn names() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("name".to_owned()),
        Just("timeout".to_owned()),
        Just("computed_body_hash".to_owned()),
        "bt_header_(dendrite|axon)_(nonce|uuid|hotkey|signature|version|ip|port|status_code)",
        "bt_header_input_obj_[a-z]{1,4}",
        "epistula-(version|timestamp|uuid|signed-by|signed-for|request-signature)",
        "[a-z-]{1,12}",
    ]
}

fn values() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        "-?[0-9]{0,30}(\\.[0-9]{0,5})?".prop_map(String::into_bytes),
        "0x[0-9a-f]{128}".prop_map(String::into_bytes),
        Just(Keypair::from_uri(CryptoType::Sr25519, "//Alice").unwrap().ss58_address().into_bytes()),
    ]
}

fn header_map(pairs: Vec<(String, Vec<u8>)>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (k, v) in pairs {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::from_bytes(&v)) {
            headers.append(k, v);
        }
    }
    headers
}

fn me() -> AccountId {
    Keypair::from_uri(CryptoType::Sr25519, "//Bob").unwrap().account_id()
}

fn protocols() -> [Protocol; 2] {
    let spec = SynapseSpec { required_hash_fields: vec!["payload".into()], ..SynapseSpec::new("TextTask") };
    [Protocol::axon(&me(), spec, std::time::Duration::from_secs(60)), Protocol::epistula()]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Any headers: a claim or a typed 400/401 refusal, never a panic.
    #[test]
    fn protocol_headers_claim_or_refuse_typed(
        pairs in proptest::collection::vec((names(), values()), 0..14),
        skew in -100_000_000_000i64..100_000_000_000,
    ) {
        let headers = header_map(pairs);
        let now = unix_time_ns().saturating_add_signed(skew);
        for p in protocols() {
            match p.check_headers(&headers, &me(), now) {
                Ok(claim) => prop_assert!(claim.fresh_until_ns() > 0),
                Err(e) => {
                    prop_assert!(matches!(e.status(), 400 | 401), "{} {}", e.status(), e.reason());
                    prop_assert!(!e.reason().is_empty());
                }
            }
        }
    }

    /// Requests signed right (as a Dendrite, as SN1) are claimed for their signer.
    #[test]
    fn signed_requests_are_claimed_for_the_signer(n in any::<u32>(), timeout in 0.5f64..60.0) {
        let alice = Keypair::from_uri(CryptoType::Sr25519, "//Alice").unwrap();
        let body = format!("{{\"payload\":{n}}}");
        let (hash, _) = synapse::body_hash_of_json(body.as_bytes(), &["payload"]).unwrap();
        let bob = me().to_ss58();
        let spec = RequestSpec {
            name: "TextTask", timeout, dendrite_ip: "0.0.0.0", uuid: "u-1", nonce: unix_time_ns(),
            axon_ip: "127.0.0.1", axon_port: 1, axon_hotkey: &bob, body_hash: &hash,
            required_fields: &[], body_len: body.len() as u64,
        };
        let signed = synapse::sign_request(&alice, &spec).unwrap().to_headers();
        let [axon, ep] = protocols();
        let claim = axon.check_headers(&header_map(signed.into_iter().map(|(k, v)| (k, v.into_bytes())).collect()), &me(), unix_time_ns());
        prop_assert_eq!(claim.map(|c| *c.claimed()).ok(), Some(alice.account_id()));
        let signed = epistula::sign_request_now(&alice, body.as_bytes(), Some(&me())).unwrap();
        let claim = ep.check_headers(&header_map(signed.into_iter().map(|(k, v)| (k, v.into_bytes())).collect()), &me(), unix_time_ns());
        prop_assert_eq!(claim.map(|c| *c.claimed()).ok(), Some(alice.account_id()));
    }

    /// Any bytes from a peer: a mapping or a typed error, never a panic.
    #[test]
    fn synapse_bodies_map_or_refuse_typed(bytes in proptest::collection::vec(any::<u8>(), 0..200), wrapped in any::<bool>()) {
        let spec = SynapseSpec::new("TextTask");
        let _ = wire::synapse_answer(&spec, wrapped, &bytes);
        let _ = wire::synapse_task_payload(&spec, &bytes);
        let _ = wire::synapse_request_body(&spec, &bytes);
    }

    /// A JSON payload reaches the miner's module unchanged and its answer comes back unchanged.
    #[test]
    fn json_payloads_round_trip_through_a_synapse(payload in json_value(), answer in json_value()) {
        let spec = SynapseSpec::new("TextTask");
        let sent = serde_json::to_vec(&payload).unwrap();
        let (body, wrapped) = wire::synapse_request_body(&spec, &sent).unwrap();
        let (task, wrapped_there, fields) = wire::synapse_task_payload(&spec, &body).unwrap();
        let is_plain_object = payload.as_object().is_some_and(|m| {
            !m.keys().any(|k| wire::BASE_FIELDS.contains(&k.as_str()) || k == "response" || k == "payload")
        });
        if is_plain_object || !payload.is_object() {
            prop_assert_eq!(wrapped_there, wrapped);
            prop_assert_eq!(serde_json::from_slice::<Value>(&task.body).unwrap(), payload.clone());
        }
        let reply = serde_json::to_vec(&answer).unwrap();
        let response = wire::synapse_response_body(&spec, fields, wrapped_there, &reply, 0.1).unwrap();
        if wrapped && !answer.is_null() {
            let got = wire::synapse_answer(&spec, true, &response).unwrap();
            prop_assert_eq!(serde_json::from_slice::<Value>(&got.body).unwrap(), answer);
        }
    }
}
