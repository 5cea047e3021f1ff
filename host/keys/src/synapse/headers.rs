//! The Synapse headers (`Synapse.to_headers()` / `Synapse.from_headers()` in bittensor 10.5),
//! built and parsed. Requests and responses use the same set.
//!
//! Parsing follows the SDK where it is safe: names are case-insensitive (Starlette lowercases
//! them), `bt_header_axon_*` / `bt_header_dendrite_*` fill the two terminals and unknown fields
//! of them are ignored, as pydantic ignores them; ints and floats are read as Python's `int()` and
//! `float()` read text; an `input_obj` that does not decode is skipped, as the SDK logs and skips
//! it. Deliberately stricter: a repeated Synapse header is refused (the SDK keeps the last); a
//! negative or beyond-`u64` nonce, port or size is malformed; values longer than
//! [`MAX_VALUE_LEN`] and more than [`MAX_INPUT_OBJS`] `input_obj` headers are refused.

use base64::Engine as _;

use super::error::clip;
use super::pyvalue::float_repr;
use super::{
    HEADER_COMPUTED_BODY_HASH, HEADER_HEADER_SIZE, HEADER_NAME, HEADER_TIMEOUT, HEADER_TOTAL_SIZE, PREFIX_AXON,
    PREFIX_DENDRITE, PREFIX_INPUT_OBJ, PyValue, SynapseError,
};
use crate::btauth::HeaderPair;
use crate::pytext::{PyIntText, parse_float, parse_int};

/// The longest header value accepted (a status message is the longest a peer sends).
pub const MAX_VALUE_LEN: usize = 8192;
/// The most `bt_header_input_obj_*` headers accepted.
pub const MAX_INPUT_OBJS: usize = 256;

/// One end of a call (the SDK's `TerminalInfo`); every field is optional, as there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TerminalInfo {
    /// HTTP status code.
    pub status_code: Option<i64>,
    /// Status message.
    pub status_message: Option<String>,
    /// Processing time, seconds.
    pub process_time: Option<f64>,
    /// IP address text.
    pub ip: Option<String>,
    /// Port.
    pub port: Option<u64>,
    /// Bittensor version as an int ([`version_as_int`](super::version_as_int)).
    pub version: Option<i64>,
    /// Nonce (ns since the Unix epoch).
    pub nonce: Option<u64>,
    /// The terminal's uuid.
    pub uuid: Option<String>,
    /// SS58 hotkey text.
    pub hotkey: Option<String>,
    /// `0x`-hex signature.
    pub signature: Option<String>,
}

impl TerminalInfo {
    fn pairs(&self, prefix: &str, out: &mut Vec<(String, String)>) {
        let mut put = |field: &str, v: Option<String>| {
            if let Some(v) = v {
                out.push((format!("{prefix}{field}"), v));
            }
        };
        put("status_code", self.status_code.map(|v| v.to_string()));
        put("status_message", self.status_message.clone());
        put("process_time", self.process_time.map(float_repr));
        put("ip", self.ip.clone());
        put("port", self.port.map(|v| v.to_string()));
        put("version", self.version.map(|v| v.to_string()));
        put("nonce", self.nonce.map(|v| v.to_string()));
        put("uuid", self.uuid.clone());
        put("hotkey", self.hotkey.clone());
        put("signature", self.signature.clone());
    }

    fn set(&mut self, name: &str, field: &str, value: &str) -> Result<(), SynapseError> {
        let bad = |reason| SynapseError::MalformedHeader { header: clip(name), reason };
        match field {
            "status_code" => self.status_code = Some(int_i64(value).ok_or(bad("not an integer"))?),
            "status_message" => self.status_message = Some(value.to_string()),
            "process_time" => self.process_time = Some(parse_float(value).ok_or(bad("not a number"))?),
            "ip" => self.ip = Some(value.to_string()),
            "port" => self.port = Some(int_u64(value).ok_or(bad("not a non-negative integer"))?),
            "version" => self.version = Some(int_i64(value).ok_or(bad("not an integer"))?),
            "nonce" => self.nonce = Some(int_u64(value).ok_or(bad("not a non-negative integer"))?),
            "uuid" => self.uuid = Some(value.to_string()),
            "hotkey" => self.hotkey = Some(value.to_string()),
            "signature" => self.signature = Some(value.to_string()),
            _ => {}
        }
        Ok(())
    }
}

fn int_i64(text: &str) -> Option<i64> {
    match parse_int(text)? {
        PyIntText::Value(v) => i64::try_from(v).ok(),
        PyIntText::Overflow(_) => None,
    }
}

fn int_u64(text: &str) -> Option<u64> {
    match parse_int(text)? {
        PyIntText::Value(v) => u64::try_from(v).ok(),
        PyIntText::Overflow(_) => None,
    }
}

/// The Synapse headers of a request or a response.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SynapseHeaders {
    /// `name`: the synapse class name (the route).
    pub name: Option<String>,
    /// `timeout`: seconds.
    pub timeout: Option<f64>,
    /// `header_size` (informational; the SDK writes a Python object size no peer checks).
    pub header_size: Option<u64>,
    /// `total_size` (informational, as `header_size`).
    pub total_size: Option<u64>,
    /// `computed_body_hash`: the body hash the dendrite signed.
    pub computed_body_hash: Option<String>,
    /// `bt_header_dendrite_*`.
    pub dendrite: TerminalInfo,
    /// `bt_header_axon_*`.
    pub axon: TerminalInfo,
    /// `bt_header_input_obj_<field>`: the field name and the raw (base64) value, in order.
    pub input_obj: Vec<(String, String)>,
}

impl SynapseHeaders {
    /// Reads the Synapse headers out of a request's or response's headers; other headers are
    /// ignored. Errors are typed and nothing panics on any input.
    pub fn parse<H: HeaderPair>(headers: impl IntoIterator<Item = H>) -> Result<SynapseHeaders, SynapseError> {
        let mut out = SynapseHeaders::default();
        let mut seen: Vec<String> = Vec::new();
        for h in headers {
            let name = h.name().to_ascii_lowercase();
            let known = [HEADER_NAME, HEADER_TIMEOUT, HEADER_HEADER_SIZE, HEADER_TOTAL_SIZE, HEADER_COMPUTED_BODY_HASH]
                .contains(&name.as_str())
                || name.starts_with(PREFIX_AXON)
                || name.starts_with(PREFIX_DENDRITE)
                || name.starts_with(PREFIX_INPUT_OBJ);
            if !known {
                continue;
            }
            if seen.len() >= MAX_INPUT_OBJS + 32 {
                return Err(SynapseError::HeadersTooLarge { reason: "too many synapse headers" });
            }
            if seen.contains(&name) {
                return Err(SynapseError::DuplicateHeader { header: clip(&name) });
            }
            let raw = h.value();
            if raw.len() > MAX_VALUE_LEN {
                return Err(SynapseError::HeadersTooLarge { reason: "a header value is too long" });
            }
            let value = std::str::from_utf8(raw)
                .map_err(|_| SynapseError::MalformedHeader { header: clip(&name), reason: "not valid text" })?;
            let bad = |reason| SynapseError::MalformedHeader { header: clip(&name), reason };
            match name.as_str() {
                HEADER_NAME => out.name = Some(value.to_string()),
                HEADER_TIMEOUT => out.timeout = Some(parse_float(value).ok_or(bad("not a number"))?),
                HEADER_HEADER_SIZE => out.header_size = Some(int_u64(value).ok_or(bad("not a size"))?),
                HEADER_TOTAL_SIZE => out.total_size = Some(int_u64(value).ok_or(bad("not a size"))?),
                HEADER_COMPUTED_BODY_HASH => out.computed_body_hash = Some(value.to_string()),
                n => {
                    if let Some(field) = n.strip_prefix(PREFIX_AXON) {
                        out.axon.set(&name, field, value)?;
                    } else if let Some(field) = n.strip_prefix(PREFIX_DENDRITE) {
                        out.dendrite.set(&name, field, value)?;
                    } else if let Some(field) = n.strip_prefix(PREFIX_INPUT_OBJ) {
                        if out.input_obj.len() >= MAX_INPUT_OBJS {
                            return Err(SynapseError::HeadersTooLarge { reason: "too many input_obj headers" });
                        }
                        out.input_obj.push((field.to_string(), value.to_string()));
                    }
                }
            }
            seen.push(name);
        }
        Ok(out)
    }

    /// The headers in `Synapse.to_headers()`'s order: `name`, `timeout`, the axon's fields, the
    /// dendrite's, the `input_obj`s, `header_size`, `total_size`, `computed_body_hash`. Absent
    /// fields are left out, as the SDK leaves out `None`s.
    pub fn to_headers(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(n) = &self.name {
            out.push((HEADER_NAME.to_string(), n.clone()));
        }
        if let Some(t) = self.timeout {
            out.push((HEADER_TIMEOUT.to_string(), float_repr(t)));
        }
        self.axon.pairs(PREFIX_AXON, &mut out);
        self.dendrite.pairs(PREFIX_DENDRITE, &mut out);
        for (field, value) in &self.input_obj {
            out.push((format!("{PREFIX_INPUT_OBJ}{field}"), value.clone()));
        }
        for (name, v) in [(HEADER_HEADER_SIZE, self.header_size), (HEADER_TOTAL_SIZE, self.total_size)] {
            if let Some(v) = v {
                out.push((name.to_string(), v.to_string()));
            }
        }
        if let Some(h) = &self.computed_body_hash {
            out.push((HEADER_COMPUTED_BODY_HASH.to_string(), h.clone()));
        }
        out
    }

    /// Decodes one `input_obj` header as the SDK does (`json.loads(b64decode(value))`); `None`
    /// when absent or undecodable (the SDK logs and skips those).
    pub fn input_obj_value(&self, field: &str) -> Option<PyValue> {
        let (_, raw) = self.input_obj.iter().find(|(f, _)| f == field)?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(raw.trim()).ok()?;
        PyValue::from_json(&bytes).ok()
    }
}

/// The `input_obj` header value the SDK sends for a required field holding `value`: base64 of
/// `json.dumps(type(value)())`, the type's empty instance (`""`, `0`, `0.0`, `false`, `[]`,
/// `{}`). `None` for `None` values, which the SDK never sends this way.
pub fn input_obj_for(value: &PyValue) -> Option<String> {
    let empty = match value {
        PyValue::None => return None,
        PyValue::Bool(_) => "false",
        PyValue::Int(_) => "0",
        PyValue::Float(_) => "0.0",
        PyValue::Str(_) => "\"\"",
        PyValue::List(_) | PyValue::Tuple(_) => "[]",
        PyValue::Dict(_) => "{}",
    };
    Some(base64::engine::general_purpose::STANDARD.encode(empty))
}
