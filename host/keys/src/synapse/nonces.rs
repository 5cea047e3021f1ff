//! The Axon's nonce rules (bittensor 10.5 `Axon.default_verify`) as a bounded store.
//!
//! # Rules (the SDK's)
//! The key is `"{dendrite_hotkey}:{dendrite_uuid}"`; the store remembers the last nonce accepted
//! per key. For a key with a stored nonce, a new nonce must be strictly greater. For a key
//! without one, and a dendrite version >= 7.2.0 (`7_002_000`), the nonce must be strictly newer
//! than `now - 4 s - timeout` (ns; `ALLOWED_DELTA = 4_000_000_000`, the timeout in seconds ×
//! 10⁹, computed in floating point exactly as Python does it); for older or absent versions any
//! first nonce is accepted. A missing nonce is refused.
//!
//! # Bounds and deliberate differences
//! The SDK's store is an unbounded dict. Here it is bounded per hotkey and in hotkeys (a dendrite
//! picks its own uuid, so one hotkey could otherwise fill the store with keys):
//! - at most `uuids_per_hotkey` uuids per hotkey; when a hotkey exceeds it, its uuid with the
//!   oldest last nonce is forgotten and *that hotkey's* floor rises past it: first nonces of that
//!   hotkey's unknown uuids must then exceed the floor. Other hotkeys are not affected.
//! - at most `max_hotkeys` hotkeys; a new hotkey with the table full forgets the hotkey whose
//!   newest nonce is oldest, folding its floor into one of 1024 keyed-hash buckets that unknown
//!   hotkeys start from (as the btauth replay memory does).
//! - The timeout that widens the first-nonce window is not signed, so a replayer could send a huge
//!   one; it is capped at `max_timeout` (NaN and infinities count as the cap).
//! - Versions before 7.2.0 get the SDK's rule (any first nonce) unless `legacy_versions` is false,
//!   in which case they are refused with [`SynapseError::LegacyVersion`].

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, RandomState};

use super::{ALLOWED_DELTA_NS, SynapseError, V_7_2_0};

const FLOOR_BUCKETS: usize = 1024;

#[derive(Debug, Default)]
struct HotkeyLog {
    last: HashMap<String, u64>,
    floor: u64,
    newest: u64,
}

/// Settings of a [`NonceStore`].
#[derive(Debug, Clone)]
pub struct NonceRules {
    /// The most hotkeys remembered at once (default 4096).
    pub max_hotkeys: usize,
    /// The most uuids remembered per hotkey (default 16; a dendrite keeps one uuid for its life).
    pub uuids_per_hotkey: usize,
    /// The largest timeout, in seconds, allowed to widen the first-nonce window (default 60).
    pub max_timeout: f64,
    /// Accept dendrites older than 7.2.0 with the SDK's rule for them (default true).
    pub legacy_versions: bool,
}

impl Default for NonceRules {
    fn default() -> Self {
        NonceRules { max_hotkeys: 4096, uuids_per_hotkey: 16, max_timeout: 60.0, legacy_versions: true }
    }
}

/// The last nonce per `hotkey:uuid`, bounded (see the module docs). Not synchronised.
#[derive(Debug)]
pub struct NonceStore {
    rules: NonceRules,
    hotkeys: HashMap<[u8; 32], HotkeyLog>,
    by_newest: BTreeSet<(u64, [u8; 32])>,
    floors: Box<[u64]>,
    hasher: RandomState,
}

/// Whether `nonce <= window`, where the window is `now - 4 s - timeout` computed as Python does:
/// integer arithmetic when the timeout is absent or zero, else the integer converted to a float
/// minus `timeout × 1e9`, compared exactly with the integer nonce.
fn at_or_before_window(nonce: u64, now_ns: u64, timeout: Option<f64>) -> bool {
    let base = i128::from(now_ns) - i128::from(ALLOWED_DELTA_NS);
    let n = i128::from(nonce);
    match timeout {
        // Python's `timeout or 0`: an absent or zero (also -0.0) timeout keeps integer arithmetic.
        None | Some(0.0) => n <= base,
        Some(t) => {
            let w = base as f64 - t * 1e9;
            if w.is_nan() {
                false
            } else if w >= 1.7e38 {
                true
            } else if w <= -1.7e38 {
                false
            } else {
                // Exact int-vs-float comparison: n <= w  <=>  n <= floor(w).
                n <= w.floor() as i128
            }
        }
    }
}

impl NonceStore {
    /// An empty store.
    pub fn new(rules: NonceRules) -> Self {
        NonceStore {
            rules: NonceRules {
                max_hotkeys: rules.max_hotkeys.max(1),
                uuids_per_hotkey: rules.uuids_per_hotkey.max(1),
                ..rules
            },
            hotkeys: HashMap::new(),
            by_newest: BTreeSet::new(),
            floors: vec![0; FLOOR_BUCKETS].into_boxed_slice(),
            hasher: RandomState::new(),
        }
    }

    fn bucket(&self, hotkey: &[u8; 32]) -> usize {
        (self.hasher.hash_one(hotkey) % FLOOR_BUCKETS as u64) as usize
    }

    /// Would this nonce be refused? Read-only, safe before the signature is checked (the SDK
    /// checks nonces before the signature too).
    pub fn check(
        &self,
        hotkey: &[u8; 32],
        uuid: &str,
        nonce: u64,
        version: Option<i64>,
        timeout: Option<f64>,
        now_ns: u64,
    ) -> Result<(), SynapseError> {
        let log = self.hotkeys.get(hotkey);
        if let Some(&last) = log.and_then(|l| l.last.get(uuid)) {
            return if nonce <= last { Err(SynapseError::NonceNotNewer) } else { Ok(()) };
        }
        let floor = log.map_or_else(|| self.floors[self.bucket(hotkey)], |l| l.floor);
        match version {
            Some(v) if v >= V_7_2_0 => {
                let cap = self.rules.max_timeout;
                let t = timeout.map(|t| if t.is_finite() { t.min(cap) } else { cap });
                if at_or_before_window(nonce, now_ns, t) {
                    let allowed = ALLOWED_DELTA_NS as f64 + t.unwrap_or(0.0) * 1e9;
                    return Err(SynapseError::StaleNonce { allowed_ms: (allowed / 1e6).max(0.0) as u64 });
                }
            }
            Some(v) if !self.rules.legacy_versions => return Err(SynapseError::LegacyVersion { version: v }),
            None if !self.rules.legacy_versions => return Err(SynapseError::LegacyVersion { version: 0 }),
            _ => {}
        }
        if nonce < floor {
            return Err(SynapseError::BelowNonceHorizon);
        }
        Ok(())
    }

    /// Checks again and records the nonce as the last for `hotkey:uuid`. Call only after the
    /// signature verified.
    pub fn accept(
        &mut self,
        hotkey: &[u8; 32],
        uuid: &str,
        nonce: u64,
        version: Option<i64>,
        timeout: Option<f64>,
        now_ns: u64,
    ) -> Result<(), SynapseError> {
        self.check(hotkey, uuid, nonce, version, timeout, now_ns)?;
        if !self.hotkeys.contains_key(hotkey) {
            while self.hotkeys.len() >= self.rules.max_hotkeys {
                let Some((newest, victim)) = self.by_newest.pop_first() else { break };
                if let Some(log) = self.hotkeys.remove(&victim) {
                    let b = self.bucket(&victim);
                    self.floors[b] = self.floors[b].max(log.floor).max(newest.saturating_add(1));
                }
            }
            let floor = self.floors[self.bucket(hotkey)];
            self.hotkeys.insert(*hotkey, HotkeyLog { floor, ..HotkeyLog::default() });
            self.by_newest.insert((0, *hotkey));
        }
        let per_hotkey = self.rules.uuids_per_hotkey;
        let Some(log) = self.hotkeys.get_mut(hotkey) else { return Err(SynapseError::BelowNonceHorizon) };
        if !log.last.contains_key(uuid) && log.last.len() >= per_hotkey {
            let oldest = log.last.iter().min_by_key(|(_, n)| **n).map(|(u, n)| (u.clone(), *n));
            if let Some((u, n)) = oldest {
                log.last.remove(&u);
                log.floor = log.floor.max(n.saturating_add(1));
                if nonce < log.floor {
                    return Err(SynapseError::BelowNonceHorizon);
                }
            }
        }
        log.last.insert(uuid.to_string(), nonce);
        if nonce > log.newest {
            let old = log.newest;
            log.newest = nonce;
            self.by_newest.remove(&(old, *hotkey));
            self.by_newest.insert((nonce, *hotkey));
        }
        Ok(())
    }

    /// Keys (`hotkey:uuid`) remembered now.
    pub fn len(&self) -> usize {
        self.hotkeys.values().map(|l| l.last.len()).sum()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.hotkeys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_752_076_800_000_000_000;
    const S: u64 = 1_000_000_000;
    const V: Option<i64> = Some(10_005_000);

    #[test]
    fn first_nonce_window_is_four_seconds_plus_timeout_exclusive() {
        let s = NonceStore::new(NonceRules::default());
        let k = [1u8; 32];
        // Without a timeout the window is exactly 4 s, and a nonce at its edge is refused.
        assert!(s.check(&k, "u", NOW - 4 * S + 1, V, None, NOW).is_ok());
        assert!(matches!(s.check(&k, "u", NOW - 4 * S, V, None, NOW), Err(SynapseError::StaleNonce { .. })));
        assert!(s.check(&k, "u", NOW - 15 * S, V, Some(12.0), NOW).is_ok());
        assert!(s.check(&k, "u", NOW - 16 * S - 1024, V, Some(12.0), NOW).is_err());
        // The timeout widens the window only up to the cap.
        assert!(s.check(&k, "u", NOW - 3600 * S, V, Some(1e12), NOW).is_err());
        assert!(s.check(&k, "u", NOW - 3600 * S, V, Some(f64::NAN), NOW).is_err());
        // Older dendrites: any first nonce (the SDK's rule), or refused when configured.
        assert!(s.check(&k, "u", 1, Some(7_001_999), Some(12.0), NOW).is_ok());
        assert!(s.check(&k, "u", 1, None, None, NOW).is_ok());
        let strict = NonceStore::new(NonceRules { legacy_versions: false, ..Default::default() });
        assert_eq!(
            strict.check(&k, "u", NOW, Some(7_001_999), None, NOW),
            Err(SynapseError::LegacyVersion { version: 7_001_999 })
        );
    }

    #[test]
    fn later_nonces_strictly_increase_per_hotkey_and_uuid() {
        let mut s = NonceStore::new(NonceRules::default());
        let (a, b) = ([1u8; 32], [2u8; 32]);
        s.accept(&a, "u1", NOW, V, Some(12.0), NOW).unwrap();
        assert_eq!(s.accept(&a, "u1", NOW, V, Some(12.0), NOW), Err(SynapseError::NonceNotNewer));
        assert_eq!(s.check(&a, "u1", NOW - 1, V, Some(12.0), NOW), Err(SynapseError::NonceNotNewer));
        // No freshness check once a nonce is stored (the SDK's rule): only "newer than last".
        s.accept(&a, "u1", NOW + 1, V, Some(12.0), NOW + 3600 * S).unwrap();
        // Other uuids and hotkeys have their own sequences.
        s.accept(&a, "u2", NOW - S, V, Some(12.0), NOW).unwrap();
        s.accept(&b, "u1", NOW - S, V, Some(12.0), NOW).unwrap();
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn a_hotkey_cycling_uuids_only_raises_its_own_floor() {
        let mut s = NonceStore::new(NonceRules { uuids_per_hotkey: 4, ..Default::default() });
        let (flooder, honest) = ([1u8; 32], [2u8; 32]);
        for i in 0..100u64 {
            s.accept(&flooder, &format!("u{i}"), NOW + i, None, None, NOW).unwrap();
        }
        assert_eq!(s.len(), 4);
        // A forgotten uuid's old nonce cannot come back even with the legacy rule.
        assert_eq!(s.check(&flooder, "u0", NOW, None, None, NOW), Err(SynapseError::BelowNonceHorizon));
        assert!(s.check(&honest, "u0", NOW, None, None, NOW).is_ok());
        s.accept(&honest, "x", NOW, V, Some(12.0), NOW).unwrap();
    }

    #[test]
    fn hotkey_table_is_bounded_and_never_readmits() {
        let mut s = NonceStore::new(NonceRules { max_hotkeys: 3, ..Default::default() });
        for i in 0..10u8 {
            s.accept(&[i; 32], "u", NOW + u64::from(i), None, None, NOW).unwrap();
            assert!(s.hotkeys.len() <= 3);
        }
        for i in 0..10u8 {
            assert!(s.check(&[i; 32], "u", NOW + u64::from(i), None, None, NOW).is_err(), "{i}");
        }
    }
}
