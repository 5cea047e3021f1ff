//! The wire protocol a subnet speaks between its validators and miners, chosen per subnet
//! (`protocol = "btauth" | "axon" | "epistula"` in `[[subnet]]`, `subnetd miner --protocol`),
//! and the mapping between a task's payload and a bittensor Synapse.
//!
//! - [`WireProtocol::Btauth`]: `POST /v1/task` signed with `btauth/1` (the default; see
//!   [`crate::net`]).
//! - [`WireProtocol::Axon`]: the bittensor <= 10.5 Axon/Dendrite Synapse protocol
//!   ([`subnet_keys::synapse`]): `POST /{synapse}`, the synapse's fields as a JSON body.
//! - [`WireProtocol::Epistula`]: SN1's Epistula v2 headers ([`subnet_keys::epistula`]) on
//!   `POST {path}` (default `/v1/task`), the body the payload's bytes, as with `btauth/1`.
//!
//! # Payload ↔ synapse mapping (Axon)
//! Validator side, the request ([`synapse_request_body`]):
//! - a payload that is a JSON **object** *is* the synapse's fields, sent as they are;
//! - any other JSON value travels in one field, [`SynapseSpec::payload_field`] (default
//!   `payload`): `21` becomes `{"payload": 21}`;
//! - a payload that is not JSON but is UTF-8 text travels in that field as a JSON string; a
//!   payload that is neither cannot be sent, and the query is `failed`.
//!
//! The answer ([`synapse_answer`]): for an object payload, the miner's synapse JSON minus the
//! Synapse base fields ([`BASE_FIELDS`]: `name`, `timeout`, sizes, terminals, hash); for a
//! payload sent in one field, the value of [`SynapseSpec::response_field`] (default `response`;
//! absent or `null` is `malformed`). Answers are `application/json`.
//!
//! Miner side, the mirror image ([`synapse_task_payload`], [`synapse_response_body`]): the body
//! minus the base fields (and a `null` response field) is the module's payload, unless only the
//! payload field is left, whose value is then the payload. The module's answer is written into
//! the response field (a non-object answer, or any answer to a one-field task) or merged into
//! the synapse's fields (an object answer to an object task), and the whole synapse comes back
//! with its `axon` terminal filled (status 200, `Success`, process time).
//!
//! # Status mapping (validator side, Axon)
//! The Axon's status (the HTTP status; a `bt_header_axon_status_code` header other than 200 on
//! a 200 answer wins): 200 → `ok`; 408 and 504 → `timeout`; 503 and other 4xx → `refused`;
//! other 5xx → `failed`; another status, or a body that is not a JSON object → `malformed`.
//!
//! # Failure modes
//! [`WireError`] for configuration that cannot work (an unknown protocol, a synapse name that
//! is not a path segment); [`MappingError`] for payloads that cannot be mapped. Nothing here
//! panics on network input.

use serde_json::{Map, Value};

use crate::bindings::types::{Payload, ResponseStatus};

/// The Synapse base class's own fields (bittensor 10.5 `Synapse`), never a task's.
pub const BASE_FIELDS: [&str; 7] =
    ["name", "timeout", "total_size", "header_size", "dendrite", "axon", "computed_body_hash"];
/// Default [`SynapseSpec::payload_field`].
pub const DEFAULT_PAYLOAD_FIELD: &str = "payload";
/// Default [`SynapseSpec::response_field`].
pub const DEFAULT_RESPONSE_FIELD: &str = "response";
/// The longest synapse name accepted.
const MAX_NAME_LEN: usize = 128;

/// The Synapse a subnet's tasks travel as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynapseSpec {
    /// The synapse class name (the route, `POST /{name}`).
    pub name: String,
    /// The fields the body hash covers, in the synapse's order.
    pub required_hash_fields: Vec<String>,
    /// The field a non-object payload travels in.
    pub payload_field: String,
    /// The field the miner's answer to such a payload comes back in.
    pub response_field: String,
}

impl SynapseSpec {
    /// A synapse `name` with the default fields and no required hash fields.
    pub fn new(name: impl Into<String>) -> Self {
        SynapseSpec {
            name: name.into(),
            required_hash_fields: Vec::new(),
            payload_field: DEFAULT_PAYLOAD_FIELD.into(),
            response_field: DEFAULT_RESPONSE_FIELD.into(),
        }
    }

    /// `POST` path of the synapse.
    pub fn path(&self) -> String {
        format!("/{}", self.name)
    }

    /// The required hash fields as `&str`s.
    pub fn hash_fields(&self) -> Vec<&str> {
        self.required_hash_fields.iter().map(String::as_str).collect()
    }
}

/// A subnet's wire protocol (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum WireProtocol {
    /// `btauth/1` on `POST /v1/task`.
    #[default]
    Btauth,
    /// The bittensor Axon/Dendrite Synapse protocol.
    Axon(SynapseSpec),
    /// Epistula v2 on `POST {path}`.
    Epistula {
        /// The path tasks are sent to and served at.
        path: String,
    },
}

/// Why a protocol setting cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not one of the protocol names.
    #[error("unknown protocol `{0}`: expected btauth, axon or epistula")]
    Unknown(String),
    /// `axon` without a synapse name.
    #[error("protocol `axon` needs the synapse's class name (synapse = \"TextTask\")")]
    MissingSynapse,
    /// A synapse name that is not one path segment of letters, digits and `_`.
    #[error("synapse name `{0}` must be 1 to 128 ASCII letters, digits or `_`")]
    BadSynapse(String),
    /// A field name that is empty or a Synapse base field.
    #[error("field `{0}` cannot carry a task: empty or one of the Synapse base fields")]
    BadField(String),
    /// An Epistula path that is not an absolute path.
    #[error("epistula path `{0}` must start with `/` and be printable ASCII")]
    BadPath(String),
    /// Synapse settings given for another protocol.
    #[error("synapse settings are for protocol `axon` only (this subnet speaks `{0}`)")]
    NotAxon(&'static str),
}

/// The settings as written in a config file or on a command line.
#[derive(Debug, Clone, Default)]
pub struct WireSettings {
    /// `btauth`, `axon` or `epistula` (default `btauth`).
    pub protocol: Option<String>,
    /// The synapse class name (`axon`).
    pub synapse: Option<String>,
    /// Its required hash fields (`axon`).
    pub required_hash_fields: Vec<String>,
    /// [`SynapseSpec::payload_field`] (`axon`).
    pub payload_field: Option<String>,
    /// [`SynapseSpec::response_field`] (`axon`).
    pub response_field: Option<String>,
    /// The path (`epistula`; default `/v1/task`).
    pub path: Option<String>,
}

fn field(name: Option<String>, default: &str) -> Result<String, WireError> {
    let f = name.unwrap_or_else(|| default.to_owned());
    if f.is_empty() || BASE_FIELDS.contains(&f.as_str()) {
        return Err(WireError::BadField(f));
    }
    Ok(f)
}

impl WireSettings {
    /// The protocol these settings describe, checked.
    pub fn resolve(self) -> Result<WireProtocol, WireError> {
        let name = self.protocol.as_deref().unwrap_or("btauth").to_owned();
        let synapse_set = self.synapse.is_some()
            || !self.required_hash_fields.is_empty()
            || self.payload_field.is_some()
            || self.response_field.is_some();
        match name.as_str() {
            "btauth" | "epistula" if synapse_set => {
                Err(WireError::NotAxon(if name == "btauth" { "btauth" } else { "epistula" }))
            }
            "btauth" => Ok(WireProtocol::Btauth),
            "epistula" => {
                let path = self.path.unwrap_or_else(|| super::TASK_PATH.to_owned());
                if !path.starts_with('/') || path.len() > 256 || !path.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(WireError::BadPath(path));
                }
                Ok(WireProtocol::Epistula { path })
            }
            "axon" => {
                let synapse = self.synapse.ok_or(WireError::MissingSynapse)?;
                let ok = !synapse.is_empty()
                    && synapse.len() <= MAX_NAME_LEN
                    && synapse.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !ok {
                    return Err(WireError::BadSynapse(synapse));
                }
                for f in &self.required_hash_fields {
                    field(Some(f.clone()), "")?;
                }
                Ok(WireProtocol::Axon(SynapseSpec {
                    name: synapse,
                    required_hash_fields: self.required_hash_fields,
                    payload_field: field(self.payload_field, DEFAULT_PAYLOAD_FIELD)?,
                    response_field: field(self.response_field, DEFAULT_RESPONSE_FIELD)?,
                }))
            }
            _ => Err(WireError::Unknown(name)),
        }
    }
}

impl WireProtocol {
    /// The protocol's name as configured.
    pub fn name(&self) -> &'static str {
        match self {
            WireProtocol::Btauth => "btauth",
            WireProtocol::Axon(_) => "axon",
            WireProtocol::Epistula { .. } => "epistula",
        }
    }
}

/// Why a payload or an answer cannot be mapped to or from a synapse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// The payload is neither JSON nor UTF-8 text.
    #[error("the payload is neither JSON nor UTF-8 text, so it cannot travel in a synapse field")]
    NotText,
    /// The body is not a JSON object.
    #[error("the synapse body is not a JSON object")]
    NotObject,
    /// The response field is absent or `null`.
    #[error("the synapse's `{0}` field is empty")]
    NoAnswer(String),
}

fn json_or_text(bytes: &[u8]) -> Result<Value, MappingError> {
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return Ok(v);
    }
    std::str::from_utf8(bytes).map(|s| Value::String(s.to_owned())).map_err(|_| MappingError::NotText)
}

/// The request body for `payload` and whether it travels in the payload field (see the module
/// docs).
pub fn synapse_request_body(spec: &SynapseSpec, payload: &[u8]) -> Result<(Vec<u8>, bool), MappingError> {
    let (object, wrapped) = match json_or_text(payload)? {
        Value::Object(m) => (m, false),
        other => {
            let mut m = Map::new();
            m.insert(spec.payload_field.clone(), other);
            (m, true)
        }
    };
    // Serialising a map of JSON values cannot fail.
    Ok((serde_json::to_vec(&Value::Object(object)).unwrap_or_default(), wrapped))
}

/// The answer payload in a miner's synapse JSON (see the module docs).
pub fn synapse_answer(spec: &SynapseSpec, wrapped: bool, body: &[u8]) -> Result<Payload, MappingError> {
    let Ok(Value::Object(mut m)) = serde_json::from_slice::<Value>(body) else { return Err(MappingError::NotObject) };
    let answer = if wrapped {
        match m.remove(&spec.response_field) {
            None | Some(Value::Null) => return Err(MappingError::NoAnswer(spec.response_field.clone())),
            Some(v) => v,
        }
    } else {
        for f in BASE_FIELDS {
            m.remove(f);
        }
        Value::Object(m)
    };
    Ok(Payload { content_type: "application/json".into(), body: serde_json::to_vec(&answer).unwrap_or_default() })
}

/// The Axon's status as the contract's `response-status` (see the module docs).
pub fn synapse_status(code: u16) -> ResponseStatus {
    match code {
        200 => ResponseStatus::Ok,
        408 | 504 => ResponseStatus::Timeout,
        400..=499 | 503 => ResponseStatus::Refused,
        500..=599 => ResponseStatus::Failed,
        _ => ResponseStatus::Malformed,
    }
}

/// Miner side: a synapse request body as the module's payload, and whether it came in the
/// payload field. Returns the parsed body too, to answer into.
pub fn synapse_task_payload(
    spec: &SynapseSpec,
    body: &[u8],
) -> Result<(Payload, bool, Map<String, Value>), MappingError> {
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else { return Err(MappingError::NotObject) };
    let mut fields = request.clone();
    for f in BASE_FIELDS {
        fields.remove(f);
    }
    if fields.get(&spec.response_field).is_some_and(Value::is_null) {
        fields.remove(&spec.response_field);
    }
    let (value, wrapped) = match fields.remove(&spec.payload_field) {
        Some(v) if fields.is_empty() => (v, true),
        Some(v) => {
            fields.insert(spec.payload_field.clone(), v);
            (Value::Object(fields), false)
        }
        None => (Value::Object(fields), false),
    };
    let payload =
        Payload { content_type: "application/json".into(), body: serde_json::to_vec(&value).unwrap_or_default() };
    Ok((payload, wrapped, request))
}

/// Miner side: the response synapse for the module's `answer` to `request` (see the module
/// docs); `process_time` in seconds.
pub fn synapse_response_body(
    spec: &SynapseSpec,
    mut request: Map<String, Value>,
    wrapped: bool,
    answer: &[u8],
    process_time: f64,
) -> Result<Vec<u8>, MappingError> {
    match json_or_text(answer)? {
        Value::Object(m) if !wrapped => request.extend(m),
        other => {
            request.insert(spec.response_field.clone(), other);
        }
    }
    let mut axon = match request.remove("axon") {
        Some(Value::Object(a)) => a,
        _ => Map::new(),
    };
    axon.insert("status_code".into(), 200.into());
    axon.insert("status_message".into(), "Success".into());
    axon.insert("process_time".into(), serde_json::Number::from_f64(process_time).map_or(Value::Null, Value::Number));
    request.insert("axon".into(), Value::Object(axon));
    Ok(serde_json::to_vec(&Value::Object(request)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SynapseSpec {
        SynapseSpec::new("TextTask")
    }

    #[test]
    fn settings_resolve_and_refuse_what_cannot_work() {
        assert_eq!(WireSettings::default().resolve(), Ok(WireProtocol::Btauth));
        let axon =
            WireSettings { protocol: Some("axon".into()), synapse: Some("TextTask".into()), ..Default::default() };
        assert_eq!(axon.clone().resolve(), Ok(WireProtocol::Axon(spec())));
        let no_name = WireSettings { synapse: None, ..axon.clone() };
        assert_eq!(no_name.resolve(), Err(WireError::MissingSynapse));
        let bad = WireSettings { synapse: Some("../x".into()), ..axon.clone() };
        assert!(matches!(bad.resolve(), Err(WireError::BadSynapse(_))));
        let base = WireSettings { payload_field: Some("axon".into()), ..axon };
        assert!(matches!(base.resolve(), Err(WireError::BadField(_))));
        let mixed = WireSettings { synapse: Some("T".into()), ..Default::default() };
        assert_eq!(mixed.resolve(), Err(WireError::NotAxon("btauth")));
        let ep = WireSettings { protocol: Some("epistula".into()), ..Default::default() };
        assert_eq!(ep.resolve(), Ok(WireProtocol::Epistula { path: "/v1/task".into() }));
        assert!(matches!(
            WireSettings { protocol: Some("grpc".into()), ..Default::default() }.resolve(),
            Err(WireError::Unknown(_))
        ));
    }

    #[test]
    fn payloads_round_trip_through_a_synapse() {
        let s = spec();
        // A JSON number travels in the payload field and comes back from the response field.
        let (body, wrapped) = synapse_request_body(&s, b"21").unwrap();
        assert!(wrapped);
        assert_eq!(body, br#"{"payload":21}"#);
        let (task, w, req) =
            synapse_task_payload(&s, br#"{"payload":21,"response":null,"name":"TextTask","axon":{}}"#).unwrap();
        assert!(w);
        assert_eq!(task.body, b"21");
        let resp = synapse_response_body(&s, req, w, b"42", 0.5).unwrap();
        let answer = synapse_answer(&s, true, &resp).unwrap();
        assert_eq!(answer.body, b"42");
        let v: Value = serde_json::from_slice(&resp).unwrap();
        assert_eq!(v["axon"]["status_code"], 200);
        // An object is the synapse's fields; the answer is the synapse minus its base fields.
        let (body, wrapped) = synapse_request_body(&s, br#"{"prompt":"hi","n":2}"#).unwrap();
        assert!(!wrapped);
        let (task, w, req) = synapse_task_payload(&s, &body).unwrap();
        assert!(!w);
        assert_eq!(task.body, br#"{"n":2,"prompt":"hi"}"#);
        let resp = synapse_response_body(&s, req, w, br#"{"completion":"yo"}"#, 0.1).unwrap();
        assert_eq!(synapse_answer(&s, false, &resp).unwrap().body, br#"{"completion":"yo","n":2,"prompt":"hi"}"#);
        // Text travels as a string; bytes cannot travel.
        assert_eq!(synapse_request_body(&s, b"hello").unwrap().0, br#"{"payload":"hello"}"#);
        assert_eq!(synapse_request_body(&s, &[0xff, 0xfe]), Err(MappingError::NotText));
        assert_eq!(
            synapse_answer(&s, true, br#"{"response":null}"#).err(),
            Some(MappingError::NoAnswer("response".into()))
        );
        assert_eq!(synapse_answer(&s, true, b"[1]").err(), Some(MappingError::NotObject));
    }

    #[test]
    fn axon_statuses_map_onto_the_contract() {
        assert_eq!(synapse_status(200), ResponseStatus::Ok);
        assert_eq!(synapse_status(408), ResponseStatus::Timeout);
        for c in [400, 401, 403, 404, 429, 503] {
            assert_eq!(synapse_status(c), ResponseStatus::Refused, "{c}");
        }
        assert_eq!(synapse_status(500), ResponseStatus::Failed);
        assert_eq!(synapse_status(302), ResponseStatus::Malformed);
    }
}
