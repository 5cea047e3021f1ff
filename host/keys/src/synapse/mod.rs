//! The bittensor Axon/Dendrite ("Synapse") protocol of bittensor <= 10.5, read from the SDK's
//! source (`bittensor/core/{axon,dendrite,synapse}.py`, `utils/axon_utils.py`, version 10.5.0).
//!
//! # Wire format
//! A request is `POST /{SynapseName}` with the synapse's fields as a JSON body
//! (`json.dumps(synapse.model_dump())`) and these headers ([`SynapseHeaders`]): `name`,
//! `timeout` (seconds, a float), `bt_header_dendrite_{ip,version,nonce,uuid,hotkey,signature}`,
//! `bt_header_axon_{ip,port,hotkey}`, `bt_header_input_obj_<field>` for each required field
//! (base64 of the JSON of an *empty* value of its type), `header_size`, `total_size` (Python
//! object sizes, informational) and `computed_body_hash`.
//!
//! - Versions are ints: `major·10⁶ + minor·10³ + patch` ([`version_as_int`]).
//! - The body hash ([`body_hash`]) is `sha3_256_hex(concat(sha3_256_hex(str(v)) for v in the
//!   required hash fields))`, Python `str()` of each field's value ([`PyValue::python_str`]),
//!   UTF-8; no fields hash the empty string ([`EMPTY_BODY_HASH`]).
//! - The dendrite signs ([`request_message`]) `"{nonce}.{dendrite_hotkey}.{axon_hotkey}.{uuid}.
//!   {body_hash}"` with sr25519 (context `substrate`), sent as `0x` + hex; a verifier also
//!   accepts a signature over the `<Bytes>…</Bytes>`-wrapped message ([`verify_message`]).
//! - The axon keeps the last nonce per `hotkey:uuid` ([`NonceStore`], rules there).
//! - The axon answers with the response synapse as JSON and the same header set. Its middleware
//!   signs `"{axon_nonce}.{dendrite_hotkey}.{axon_hotkey}.{axon_uuid}"` (the axon hotkey *the
//!   request named*) into `bt_header_axon_{version,nonce,uuid,signature}` with
//!   `status_code`/`status_message`; in bittensor 10.5 only refusals carry those, because a
//!   success is answered from the handler's synapse, rebuilt from the request body, which has
//!   only `status_code`, `status_message` and `process_time` (checked against a real Axon).
//!   [`sign_response`] always signs; [`verify_response`] checks a signed response for callers
//!   who want to (the SDK's dendrite never checks it).
//!
//! # Server order (the Axon's)
//! 404 unknown synapse, then [`AxonVerifier::check_headers`] (headers that cannot be read: the
//! Axon answers 500; the read-only nonce check), the server's blacklist (403) on
//! [`PendingSynapse::claimed_hotkey`], [`AxonVerifier::complete`] (401: signature, then the
//! nonce is recorded), priority (503/408), then the body integrity check
//! [`VerifiedSynapse::check_body`] and the handler. [`SynapseError::status`] gives each refusal
//! the Axon's status. The signature covers the header's body hash, so all of this runs before
//! the body is read. (The Axon blacklists before *any* nonce check; a server that wants the
//! exact status for a blacklisted replay runs its blacklist on [`SynapseHeaders::parse`]'s
//! dendrite hotkey before [`AxonVerifier::check_headers`].)
//!
//! # Failure modes
//! Every refusal is a [`SynapseError`]; nothing here panics on network input. Header values are
//! bounded ([`MAX_VALUE_LEN`], [`MAX_INPUT_OBJS`]), JSON nesting by [`MAX_DEPTH`], and the nonce
//! store in hotkeys and uuids.

mod error;
mod headers;
mod nonces;
mod printable;
mod pyvalue;
#[cfg(test)]
mod tests;
mod verify;

use sha3::{Digest as _, Sha3_256};

pub use error::SynapseError;
pub use headers::{MAX_INPUT_OBJS, MAX_VALUE_LEN, SynapseHeaders, TerminalInfo, input_obj_for};
pub use nonces::{NonceRules, NonceStore};
pub use printable::UNICODE_VERSION;
pub use pyvalue::{MAX_DEPTH, MAX_INT_DIGITS, PyInt, PyValue, float_repr, is_printable};
pub use verify::{
    AxonVerifier, PendingSynapse, RequestSpec, ResponseSpec, VerifiedSynapse, parse_signature, request_message,
    response_message, sign_message, sign_request, sign_response, verify_message, verify_response,
};

/// `name` header.
pub const HEADER_NAME: &str = "name";
/// `timeout` header.
pub const HEADER_TIMEOUT: &str = "timeout";
/// `header_size` header.
pub const HEADER_HEADER_SIZE: &str = "header_size";
/// `total_size` header.
pub const HEADER_TOTAL_SIZE: &str = "total_size";
/// `computed_body_hash` header.
pub const HEADER_COMPUTED_BODY_HASH: &str = "computed_body_hash";
/// Prefix of the axon terminal's headers.
pub const PREFIX_AXON: &str = "bt_header_axon_";
/// Prefix of the dendrite terminal's headers.
pub const PREFIX_DENDRITE: &str = "bt_header_dendrite_";
/// Prefix of the required fields' placeholder headers.
pub const PREFIX_INPUT_OBJ: &str = "bt_header_input_obj_";

/// The slack the Axon allows a first nonce, in ns (`ALLOWED_DELTA`, 4 s), on top of the timeout.
pub const ALLOWED_DELTA_NS: u64 = 4_000_000_000;
/// The first version with the current nonce rules (7.2.0).
pub const V_7_2_0: i64 = 7_002_000;
/// The version this crate speaks and reports: 10.5.0.
pub const VERSION_AS_INT: i64 = version_as_int(10, 5, 0);
/// [`body_hash`] of no fields: sha3-256 of the empty string.
pub const EMPTY_BODY_HASH: &str = "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a";

/// A version as the SDK writes it: `major·10⁶ + minor·10³ + patch`.
pub const fn version_as_int(major: i64, minor: i64, patch: i64) -> i64 {
    major * 1_000_000 + minor * 1_000 + patch
}

fn sha3_hex(text: &str) -> String {
    hex::encode(Sha3_256::digest(text.as_bytes()))
}

/// The body hash of the required hash fields' values, in the synapse's order (see the module
/// docs). Rust strings are always UTF-8, so this cannot fail.
pub fn body_hash<'a>(values: impl IntoIterator<Item = &'a PyValue>) -> String {
    let concat: String = values.into_iter().map(|v| sha3_hex(&v.python_str())).collect();
    sha3_hex(&concat)
}

/// The body hash of a JSON request body, as the Axon recomputes it: the body is read as
/// Python's `json.loads` reads it, and the named top-level fields are hashed in the order given.
/// Returns the hash and the parsed body.
pub fn body_hash_of_json(body: &[u8], required_hash_fields: &[&str]) -> Result<(String, PyValue), SynapseError> {
    let value = PyValue::from_json(body)?;
    let PyValue::Dict(pairs) = &value else {
        return Err(SynapseError::MalformedBody { reason: "not a JSON object" });
    };
    let mut fields = Vec::with_capacity(required_hash_fields.len());
    for name in required_hash_fields {
        let v = pairs
            .iter()
            .find(|(k, _)| matches!(k, PyValue::Str(s) if s == name))
            .map(|(_, v)| v)
            .ok_or_else(|| SynapseError::MissingHashField { field: error::clip(name) })?;
        fields.push(v);
    }
    let hash = body_hash(fields);
    Ok((hash, value))
}
