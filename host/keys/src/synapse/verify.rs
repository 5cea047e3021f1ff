//! Signing and verifying Synapse requests (the Dendrite's and the Axon's side) and the Axon's
//! signed response headers.

use std::sync::Mutex;

use super::headers::{SynapseHeaders, TerminalInfo};
use super::nonces::{NonceRules, NonceStore};
use super::{PyValue, SynapseError, VERSION_AS_INT, body_hash_of_json};
use crate::{AccountId, CryptoType, Keypair};

/// The message a dendrite signs: `"{nonce}.{dendrite_hotkey}.{axon_hotkey}.{uuid}.{body_hash}"`.
pub fn request_message(nonce: u64, dendrite_hotkey: &str, axon_hotkey: &str, uuid: &str, body_hash: &str) -> String {
    format!("{nonce}.{dendrite_hotkey}.{axon_hotkey}.{uuid}.{body_hash}")
}

/// The message an axon signs into its response: `"{axon_nonce}.{dendrite_hotkey}.{axon_hotkey}.
/// {axon_uuid}"`, where `axon_hotkey` is the one the request named (`bt_header_axon_hotkey`).
pub fn response_message(axon_nonce: u64, dendrite_hotkey: &str, axon_hotkey: &str, axon_uuid: &str) -> String {
    format!("{axon_nonce}.{dendrite_hotkey}.{axon_hotkey}.{axon_uuid}")
}

/// Signs `message` as the SDK's `Keypair.sign(str)` and writes it as the SDK does (`0x` + hex).
pub fn sign_message(keypair: &Keypair, message: &str) -> Result<String, SynapseError> {
    if keypair.crypto_type() != CryptoType::Sr25519 {
        return Err(SynapseError::UnsupportedKey { crypto: keypair.crypto_type().name() });
    }
    Ok(format!("0x{}", hex::encode(keypair.sign(message.as_bytes()))))
}

/// Reads a signature as bittensor-wallet's `Keypair.verify` does for text: `0x` then 128 hex
/// digits of either case, nothing else.
pub fn parse_signature(text: &str) -> Result<[u8; 64], SynapseError> {
    let hex_part = text.strip_prefix("0x").ok_or(SynapseError::MalformedSignature)?;
    let mut out = [0u8; 64];
    hex::decode_to_slice(hex_part, &mut out).map_err(|_| SynapseError::MalformedSignature)?;
    Ok(out)
}

/// Verifies an sr25519 signature over `message` as the SDK's `Keypair.verify` does: over the
/// bytes, or else over `<Bytes>` + bytes + `</Bytes>` (the wrapping polkadot.js signers add).
pub fn verify_message(signer: &AccountId, message: &str, signature: &[u8; 64]) -> bool {
    if matches!(crate::verify(CryptoType::Sr25519, signer, message.as_bytes(), signature), Ok(true)) {
        return true;
    }
    let wrapped = [b"<Bytes>".as_slice(), message.as_bytes(), b"</Bytes>"].concat();
    matches!(crate::verify(CryptoType::Sr25519, signer, &wrapped, signature), Ok(true))
}

/// What a dendrite puts into a request besides its key.
#[derive(Debug, Clone)]
pub struct RequestSpec<'a> {
    /// The synapse class name (also the route, `POST /{name}`).
    pub name: &'a str,
    /// The timeout, seconds (the SDK's default is 12.0).
    pub timeout: f64,
    /// The dendrite's external IP text.
    pub dendrite_ip: &'a str,
    /// The dendrite's uuid (one per dendrite in the SDK: `uuid.uuid1()`).
    pub uuid: &'a str,
    /// The nonce, ns since the Unix epoch (`time.time_ns()`).
    pub nonce: u64,
    /// The target axon's IP text, port and SS58 hotkey.
    pub axon_ip: &'a str,
    /// The target axon's port.
    pub axon_port: u64,
    /// The target axon's hotkey, as the SS58 text the metagraph gives.
    pub axon_hotkey: &'a str,
    /// The body hash ([`body_hash`](super::body_hash) of the required hash fields).
    pub body_hash: &'a str,
    /// `(field, value)` of the synapse's required (default-less) fields, for `input_obj`.
    pub required_fields: &'a [(&'a str, &'a PyValue)],
    /// The body's length, for the informational `total_size`.
    pub body_len: u64,
}

/// Builds and signs a request's headers as `Dendrite.preprocess_synapse_for_request` followed by
/// `Synapse.to_headers()` do. Send them with the JSON body whose hash is `spec.body_hash`.
pub fn sign_request(keypair: &Keypair, spec: &RequestSpec<'_>) -> Result<SynapseHeaders, SynapseError> {
    let hotkey = keypair.ss58_address();
    let message = request_message(spec.nonce, &hotkey, spec.axon_hotkey, spec.uuid, spec.body_hash);
    let signature = sign_message(keypair, &message)?;
    let mut h = SynapseHeaders {
        name: Some(spec.name.to_string()),
        timeout: Some(spec.timeout),
        computed_body_hash: Some(spec.body_hash.to_string()),
        dendrite: TerminalInfo {
            ip: Some(spec.dendrite_ip.to_string()),
            version: Some(VERSION_AS_INT),
            nonce: Some(spec.nonce),
            uuid: Some(spec.uuid.to_string()),
            hotkey: Some(hotkey),
            signature: Some(signature),
            ..TerminalInfo::default()
        },
        axon: TerminalInfo {
            ip: Some(spec.axon_ip.to_string()),
            port: Some(spec.axon_port),
            hotkey: Some(spec.axon_hotkey.to_string()),
            ..TerminalInfo::default()
        },
        total_size: Some(spec.body_len),
        ..SynapseHeaders::default()
    };
    h.input_obj = spec
        .required_fields
        .iter()
        .filter_map(|(f, v)| super::headers::input_obj_for(v).map(|b| (f.to_string(), b)))
        .collect();
    let size: usize = h.to_headers().iter().map(|(k, v)| k.len() + v.len()).sum();
    h.header_size = Some(size as u64);
    Ok(h)
}

/// A request whose headers passed every check that needs neither the signature nor the body
/// ([`AxonVerifier::check_headers`]). Run the blacklist on [`claimed_hotkey`](Self::claimed_hotkey)
/// (the Axon runs it before verifying), then [`AxonVerifier::complete`].
#[derive(Debug, Clone)]
pub struct PendingSynapse {
    headers: SynapseHeaders,
    hotkey: AccountId,
    hotkey_text: String,
    uuid: String,
    nonce: u64,
    signature: [u8; 64],
}

impl PendingSynapse {
    /// The hotkey the request claims (not yet authenticated).
    pub fn claimed_hotkey(&self) -> &AccountId {
        &self.hotkey
    }

    /// The parsed headers.
    pub fn headers(&self) -> &SynapseHeaders {
        &self.headers
    }
}

/// A request whose signature verified and whose nonce was recorded.
#[derive(Debug, Clone)]
pub struct VerifiedSynapse {
    /// The parsed headers.
    pub headers: SynapseHeaders,
    /// The authenticated dendrite hotkey.
    pub hotkey: AccountId,
}

impl VerifiedSynapse {
    /// The Axon's body integrity check: the body's hash over `required_hash_fields` (in the
    /// synapse's order) must equal the signed `computed_body_hash`. Returns the parsed body.
    pub fn check_body(&self, body: &[u8], required_hash_fields: &[&str]) -> Result<PyValue, SynapseError> {
        let (hash, value) = body_hash_of_json(body, required_hash_fields)?;
        if Some(hash.as_str()) != self.headers.computed_body_hash.as_deref().or(Some("")) {
            return Err(SynapseError::BodyHashMismatch);
        }
        Ok(value)
    }
}

/// Verifies Synapse requests for one axon hotkey, as `Axon.default_verify` does, with a bounded
/// nonce store. Share one per server (`Send + Sync`, all methods take `&self`).
#[derive(Debug)]
pub struct AxonVerifier {
    me: String,
    nonces: Mutex<NonceStore>,
}

impl AxonVerifier {
    /// A verifier for the axon whose hotkey is `axon_hotkey` (the SDK signs over the axon
    /// wallet's own SS58 text, prefix 42).
    pub fn new(axon_hotkey: &AccountId, rules: NonceRules) -> Self {
        AxonVerifier { me: axon_hotkey.to_ss58(), nonces: Mutex::new(NonceStore::new(rules)) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, NonceStore> {
        // Plain data left consistent by every operation: a poisoned lock is still usable.
        self.nonces.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Parses the headers and runs the checks that need neither the signature nor the body, in
    /// the SDK's order: hotkey, nonce present and acceptable (read-only), signature present and
    /// well-formed. A request naming another axon hotkey is refused here too (the SDK would find
    /// the signature wrong).
    pub fn check_headers<H: crate::btauth::HeaderPair>(
        &self,
        headers: impl IntoIterator<Item = H>,
        now_ns: u64,
    ) -> Result<PendingSynapse, SynapseError> {
        let headers = SynapseHeaders::parse(headers)?;
        let d = &headers.dendrite;
        let hotkey_text =
            d.hotkey.clone().ok_or(SynapseError::MissingHeader { header: "bt_header_dendrite_hotkey" })?;
        let hotkey = AccountId::from_ss58(&hotkey_text).map_err(|_| SynapseError::MalformedHotkey)?;
        if headers.axon.hotkey.as_deref().is_some_and(|a| a != self.me) {
            return Err(SynapseError::WrongAxon);
        }
        let uuid = d.uuid.clone().ok_or(SynapseError::MissingHeader { header: "bt_header_dendrite_uuid" })?;
        let nonce = d.nonce.ok_or(SynapseError::MissingHeader { header: "bt_header_dendrite_nonce" })?;
        self.lock().check(&hotkey.0, &uuid, nonce, d.version, headers.timeout, now_ns)?;
        let signature = match d.signature.as_deref() {
            None | Some("") => return Err(SynapseError::MissingHeader { header: "bt_header_dendrite_signature" }),
            Some(s) => parse_signature(s)?,
        };
        Ok(PendingSynapse { headers, hotkey, hotkey_text, uuid, nonce, signature })
    }

    /// Verifies the signature and records the nonce (only after it verified).
    pub fn complete(&self, pending: &PendingSynapse, now_ns: u64) -> Result<VerifiedSynapse, SynapseError> {
        let body_hash = pending.headers.computed_body_hash.as_deref().unwrap_or("");
        let message = request_message(pending.nonce, &pending.hotkey_text, &self.me, &pending.uuid, body_hash);
        if !verify_message(&pending.hotkey, &message, &pending.signature) {
            return Err(SynapseError::BadSignature);
        }
        let d = &pending.headers.dendrite;
        self.lock().accept(
            &pending.hotkey.0,
            &pending.uuid,
            pending.nonce,
            d.version,
            pending.headers.timeout,
            now_ns,
        )?;
        Ok(VerifiedSynapse { headers: pending.headers.clone(), hotkey: pending.hotkey })
    }

    /// [`check_headers`](Self::check_headers) then [`complete`](Self::complete).
    pub fn verify<H: crate::btauth::HeaderPair>(
        &self,
        headers: impl IntoIterator<Item = H>,
        now_ns: u64,
    ) -> Result<VerifiedSynapse, SynapseError> {
        let pending = self.check_headers(headers, now_ns)?;
        self.complete(&pending, now_ns)
    }

    /// `hotkey:uuid` keys remembered now.
    pub fn nonce_keys(&self) -> usize {
        self.lock().len()
    }
}

/// What an axon reports in its response headers.
#[derive(Debug, Clone)]
pub struct ResponseSpec<'a> {
    /// The HTTP status (200 on success).
    pub status_code: i64,
    /// The status message (`"Success"` on success).
    pub status_message: &'a str,
    /// Seconds spent.
    pub process_time: f64,
    /// The axon's nonce (`time.time_ns()` when the request arrived).
    pub axon_nonce: u64,
    /// The axon's uuid.
    pub axon_uuid: &'a str,
    /// The dendrite's IP and port as the axon saw them.
    pub dendrite_ip: &'a str,
    /// The dendrite's port.
    pub dendrite_port: u64,
    /// The body hash of the response synapse's required hash fields.
    pub body_hash: &'a str,
}

/// The headers an Axon returns: the request's headers with the axon's fields filled in and
/// signed over [`response_message`] with the axon's key, as `AxonMiddleware.preprocess` does
/// (bittensor 10.5 sends the signed fields only with refusals; see the module docs).
pub fn sign_response(
    axon: &Keypair,
    request: &SynapseHeaders,
    spec: &ResponseSpec<'_>,
) -> Result<SynapseHeaders, SynapseError> {
    let mut h = request.clone();
    let dendrite_hotkey = request.dendrite.hotkey.clone().unwrap_or_else(|| "None".into());
    let axon_hotkey = request.axon.hotkey.clone().unwrap_or_else(|| "None".into());
    let message = response_message(spec.axon_nonce, &dendrite_hotkey, &axon_hotkey, spec.axon_uuid);
    h.axon.signature = Some(sign_message(axon, &message)?);
    h.axon.status_code = Some(spec.status_code);
    h.axon.status_message = Some(spec.status_message.to_string());
    h.axon.process_time = Some(spec.process_time);
    h.axon.version = Some(VERSION_AS_INT);
    h.axon.nonce = Some(spec.axon_nonce);
    h.axon.uuid = Some(spec.axon_uuid.to_string());
    h.dendrite.ip = Some(spec.dendrite_ip.to_string());
    h.dendrite.port = Some(spec.dendrite_port);
    h.computed_body_hash = Some(spec.body_hash.to_string());
    Ok(h)
}

/// Checks an axon's response signature (the SDK's dendrite does not; this is for callers that
/// want to): the response must carry the axon's nonce, uuid, hotkey and signature, and the
/// signature must verify for `expected_axon` over [`response_message`].
pub fn verify_response(response: &SynapseHeaders, expected_axon: &AccountId) -> Result<(), SynapseError> {
    let a = &response.axon;
    let nonce = a.nonce.ok_or(SynapseError::MissingHeader { header: "bt_header_axon_nonce" })?;
    let uuid = a.uuid.as_deref().ok_or(SynapseError::MissingHeader { header: "bt_header_axon_uuid" })?;
    let hotkey = a.hotkey.as_deref().ok_or(SynapseError::MissingHeader { header: "bt_header_axon_hotkey" })?;
    let sig = a.signature.as_deref().ok_or(SynapseError::MissingHeader { header: "bt_header_axon_signature" })?;
    let dendrite = response.dendrite.hotkey.as_deref().unwrap_or("None");
    if AccountId::from_ss58(hotkey).ok().as_ref() != Some(expected_axon) {
        return Err(SynapseError::WrongAxon);
    }
    let sig = parse_signature(sig)?;
    if verify_message(expected_axon, &response_message(nonce, dendrite, hotkey, uuid), &sig) {
        Ok(())
    } else {
        Err(SynapseError::BadSignature)
    }
}
