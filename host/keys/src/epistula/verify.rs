//! The receiving side of Epistula: [`Verifier`] (order and rules in the module docs above).

use std::sync::Mutex;

use sha2::{Digest as _, Sha256};

use super::{
    DEFAULT_MAX_AGE_MS, DEFAULT_MAX_FUTURE_MS, EpistulaError, HEADER_SIGNATURE, HEADER_SIGNED_BY, HEADER_SIGNED_FOR,
    HEADER_TIMESTAMP, HEADER_UUID, HEADER_VERSION, VERSION, body_sha256_hex, message,
};
use crate::btauth::HeaderPair;
use crate::pytext::{PyIntText, parse_int};
use crate::replay::{Refusal, ReplayStore};
use crate::{AccountId, CryptoType};

/// The headers read, in this order.
const NAMES: [&str; 6] =
    [HEADER_VERSION, HEADER_TIMESTAMP, HEADER_UUID, HEADER_SIGNED_BY, HEADER_SIGNED_FOR, HEADER_SIGNATURE];
/// Longer values are not ones a sender produces (the longest is the 130-character signature).
const MAX_VALUE_LEN: usize = 512;

/// Verifier settings; the window is SN1's.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// How old a timestamp may be, ms (default [`DEFAULT_MAX_AGE_MS`]).
    pub max_age_ms: u64,
    /// How far ahead a timestamp may be, ms (default [`DEFAULT_MAX_FUTURE_MS`]).
    pub max_future_ms: u64,
    /// Refuse requests without `Epistula-Signed-For` (default true; SN1's miner refuses them).
    pub require_receiver: bool,
    /// The most senders remembered for replay (default 4096).
    pub replay_max_senders: usize,
    /// The most requests remembered per sender (default 512).
    pub replay_per_sender: usize,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        VerifierConfig {
            max_age_ms: DEFAULT_MAX_AGE_MS,
            max_future_ms: DEFAULT_MAX_FUTURE_MS,
            require_receiver: true,
            replay_max_senders: 4096,
            replay_per_sender: 512,
        }
    }
}

/// The authenticated sender of a verified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The sender's hotkey.
    pub hotkey: AccountId,
    /// The signed timestamp, ms.
    pub timestamp_ms: u64,
    /// The request's uuid.
    pub uuid: String,
}

/// Headers that passed [`Verifier::check_headers`]; finish with [`Verifier::complete`].
#[derive(Debug, Clone)]
pub struct PendingEpistula {
    hotkey: AccountId,
    uuid: String,
    timestamp_ms: u64,
    signed_for: String,
    signature: [u8; 64],
}

impl PendingEpistula {
    /// The hotkey the request claims (not yet authenticated).
    pub fn claimed_hotkey(&self) -> &AccountId {
        &self.hotkey
    }

    /// The signed timestamp, ms (not yet authenticated).
    pub fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }
}

/// Verifies Epistula requests and remembers accepted ones. Share one per server.
#[derive(Debug)]
pub struct Verifier {
    config: VerifierConfig,
    replay: Mutex<ReplayStore<[u8; 16]>>,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier::new(VerifierConfig::default())
    }
}

fn uuid_id(uuid: &str) -> [u8; 16] {
    let d = Sha256::digest(uuid.as_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&d[..16]);
    id
}

fn refusal(r: Refusal) -> EpistulaError {
    match r {
        Refusal::Replayed => EpistulaError::Replayed,
        Refusal::BelowHorizon => EpistulaError::BelowReplayHorizon,
    }
}

impl Verifier {
    /// A verifier with `config`.
    pub fn new(config: VerifierConfig) -> Self {
        let replay = ReplayStore::new(config.max_age_ms, config.replay_max_senders, config.replay_per_sender);
        Verifier { config, replay: Mutex::new(replay) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReplayStore<[u8; 16]>> {
        // Plain data left consistent by every operation: a poisoned lock is still usable.
        self.replay.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Everything before the body: header shape, receiver, freshness, read-only replay lookup.
    pub fn check_headers<H: HeaderPair>(
        &self,
        headers: impl IntoIterator<Item = H>,
        self_hotkey: &AccountId,
        now_ms: u64,
    ) -> Result<PendingEpistula, EpistulaError> {
        let mut values: [Option<String>; 6] = Default::default();
        for h in headers {
            let Some(i) = NAMES.iter().position(|n| n.eq_ignore_ascii_case(h.name())) else { continue };
            let header = NAMES[i];
            if values[i].is_some() {
                return Err(EpistulaError::DuplicateHeader { header });
            }
            let raw = h.value();
            if raw.len() > MAX_VALUE_LEN {
                return Err(EpistulaError::InvalidHeader { header });
            }
            values[i] =
                Some(std::str::from_utf8(raw).map_err(|_| EpistulaError::InvalidHeader { header })?.to_string());
        }
        let [version, timestamp, uuid, signed_by, signed_for, signature] = values;
        if version.is_some_and(|v| v.trim() != VERSION) {
            return Err(EpistulaError::UnsupportedVersion);
        }
        let signed_by = signed_by.ok_or(EpistulaError::MissingHeader { header: HEADER_SIGNED_BY })?;
        let timestamp = timestamp.ok_or(EpistulaError::MissingHeader { header: HEADER_TIMESTAMP })?;
        let uuid = uuid.ok_or(EpistulaError::MissingHeader { header: HEADER_UUID })?;
        let signature = signature.ok_or(EpistulaError::MissingHeader { header: HEADER_SIGNATURE })?;
        let signed_for = match signed_for {
            Some(r) if r != self_hotkey.to_ss58() => return Err(EpistulaError::WrongReceiver),
            Some(r) => r,
            None if self.config.require_receiver => return Err(EpistulaError::MissingReceiver),
            None => String::new(),
        };
        let hotkey = AccountId::from_ss58(&signed_by).map_err(|_| EpistulaError::MalformedSender)?;
        let stale = EpistulaError::StaleTimestamp { max_age_ms: self.config.max_age_ms };
        let future = EpistulaError::FutureTimestamp { max_future_ms: self.config.max_future_ms };
        let timestamp_ms = match parse_int(&timestamp).ok_or(EpistulaError::MalformedTimestamp)? {
            PyIntText::Value(v) if v < 0 => return Err(stale),
            PyIntText::Value(v) => u64::try_from(v).map_err(|_| future.clone())?,
            PyIntText::Overflow(true) => return Err(stale),
            PyIntText::Overflow(false) => return Err(future),
        };
        let signature =
            crate::btauth::headers::parse_signature(&signature).map_err(|_| EpistulaError::MalformedSignature)?;
        let pending = PendingEpistula { hotkey, uuid, timestamp_ms, signed_for, signature };
        self.check_fresh(&pending, now_ms)?;
        self.lock().check(&pending.hotkey.0, timestamp_ms, uuid_id(&pending.uuid)).map_err(refusal)?;
        Ok(pending)
    }

    fn check_fresh(&self, p: &PendingEpistula, now_ms: u64) -> Result<(), EpistulaError> {
        // SN1: stale when `timestamp + ALLOWED_DELTA_MS < now`.
        if p.timestamp_ms.saturating_add(self.config.max_age_ms) < now_ms {
            return Err(EpistulaError::StaleTimestamp { max_age_ms: self.config.max_age_ms });
        }
        if p.timestamp_ms.saturating_sub(now_ms) > self.config.max_future_ms {
            return Err(EpistulaError::FutureTimestamp { max_future_ms: self.config.max_future_ms });
        }
        Ok(())
    }

    /// Verifies the signature over the body and records the request; re-checks freshness.
    pub fn complete(&self, p: &PendingEpistula, body: &[u8], now_ms: u64) -> Result<Caller, EpistulaError> {
        self.check_fresh(p, now_ms)?;
        let msg = message(&body_sha256_hex(body), &p.uuid, p.timestamp_ms, &p.signed_for);
        let ok = |m: &[u8]| matches!(crate::verify(CryptoType::Sr25519, &p.hotkey, m, &p.signature), Ok(true));
        if !ok(msg.as_bytes()) && !ok(format!("<Bytes>{msg}</Bytes>").as_bytes()) {
            return Err(EpistulaError::BadSignature);
        }
        self.lock().insert(&p.hotkey.0, p.timestamp_ms, uuid_id(&p.uuid), now_ms).map_err(refusal)?;
        Ok(Caller { hotkey: p.hotkey, timestamp_ms: p.timestamp_ms, uuid: p.uuid.clone() })
    }

    /// [`check_headers`](Self::check_headers) then [`complete`](Self::complete).
    pub fn verify<H: HeaderPair>(
        &self,
        headers: impl IntoIterator<Item = H>,
        body: &[u8],
        self_hotkey: &AccountId,
        now_ms: u64,
    ) -> Result<Caller, EpistulaError> {
        let p = self.check_headers(headers, self_hotkey, now_ms)?;
        self.complete(&p, body, now_ms)
    }

    /// Requests remembered now, over all senders.
    pub fn replay_len(&self) -> usize {
        self.lock().len()
    }
}
