//! Beacons, rounds and pulses: quicknet's parameters, time ↔ round, BLS pulse verification, and
//! a local beacon that signs its own pulses.
//!
//! Invariants: a [`Pulse`] verifies under a [`BeaconInfo`] iff its signature is the compressed G1
//! point `sk · H(round_identity(round))` for the beacon's `sk` (checked with one two-pairing
//! product, `e(sig, −g2) · e(H(m), pk) = 1`). Round `r ≥ 1` is published at
//! `genesis + (r − 1) · period` (drand's `TimeOfRound`).
//!
//! Failure modes: malformed keys or signatures are [`DrandError::InvalidPublicKey`] /
//! [`DrandError::MalformedSignature`]; a well-formed signature for another round or key is
//! [`DrandError::BadSignature`]. Nothing here panics on input bytes.

use ark_bls12_381::{Bls12_381, Fr, G1Affine, G1Projective, G2Affine, G2Projective, g1};
use ark_ec::hashing::HashToCurve;
use ark_ec::hashing::curve_maps::wb::WBMap;
use ark_ec::hashing::map_to_curve_hasher::MapToCurveBasedHasher;
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup};
use ark_ff::field_hashers::DefaultFieldHasher;
use ark_ff::{UniformRand, Zero};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sha2::{Digest, Sha256};

use crate::DrandError;

/// quicknet's public key (96-byte compressed G2), from drand's `/info` and subtensor's tests.
pub const QUICKNET_PUBLIC_KEY: &str = "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a";
/// quicknet's chain hash: the id in drand's HTTP API paths (`/<hash>/public/<round>`). It is
/// sha256(period u32 BE ‖ genesis i64 BE ‖ public key ‖ group hash ‖ "quicknet"), checked in the tests.
pub const QUICKNET_CHAIN_HASH: &str = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971";
/// quicknet's genesis (unix seconds): round 1's time.
pub const QUICKNET_GENESIS: u64 = 1_692_803_367;
/// quicknet's period (seconds between rounds).
pub const QUICKNET_PERIOD: u64 = 3;
/// The RFC 9380 hash-to-G1 domain separation tag of `bls-unchained-g1-rfc9380`.
pub const QUICKNET_DST: &[u8] = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_";

/// The message drand signs for `round` in unchained mode, which is also the timelock identity:
/// `sha256(round as u64 big-endian)`.
pub fn round_identity(round: u64) -> [u8; 32] {
    Sha256::digest(round.to_be_bytes()).into()
}

type G1Hasher = MapToCurveBasedHasher<G1Projective, DefaultFieldHasher<Sha256, 128>, WBMap<g1::Config>>;

/// `H(round_identity(round))`, the point drand's key signs (and the IBE identity's public point).
pub(crate) fn round_point(round: u64) -> Result<G1Affine, DrandError> {
    let hasher = G1Hasher::new(QUICKNET_DST).map_err(|_| DrandError::HashToCurve)?;
    hasher.hash(&round_identity(round)).map_err(|_| DrandError::HashToCurve)
}

/// Parses a beacon public key: 96 bytes, compressed, on the curve, in the subgroup, not the identity.
pub(crate) fn parse_public_key(bytes: &[u8]) -> Result<G2Affine, DrandError> {
    let err = |reason| DrandError::InvalidPublicKey { len: bytes.len(), reason };
    if bytes.len() != 96 {
        return Err(err("expected 96 bytes"));
    }
    let point = G2Affine::deserialize_compressed(bytes).map_err(|_| err("not a compressed G2 subgroup point"))?;
    if point.is_zero() {
        return Err(err("the identity point"));
    }
    Ok(point)
}

/// Parses a pulse signature: 48 bytes, compressed, on the curve, in the subgroup, not the identity.
pub(crate) fn parse_signature(bytes: &[u8]) -> Result<G1Affine, DrandError> {
    let err = |reason| DrandError::MalformedSignature { len: bytes.len(), reason };
    if bytes.len() != 48 {
        return Err(err("expected 48 bytes"));
    }
    let point = G1Affine::deserialize_compressed(bytes).map_err(|_| err("not a compressed G1 subgroup point"))?;
    if point.is_zero() {
        return Err(err("the identity point"));
    }
    Ok(point)
}

/// A drand beacon as a verifier and an encryptor see it: its key and its clock.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BeaconInfo {
    /// The group public key, a 96-byte compressed G2 point (hex in JSON, as drand's `/info`).
    #[serde(with = "hex")]
    pub public_key: Vec<u8>,
    /// Unix seconds of round 1.
    pub genesis_unix: u64,
    /// Seconds between rounds; 0 is not a beacon (the clock functions then treat it as 1).
    pub period_secs: u64,
}

impl BeaconInfo {
    /// drand quicknet (`bls-unchained-g1-rfc9380`), the beacon subtensor's `Drand` pallet follows.
    pub fn quicknet() -> Self {
        BeaconInfo {
            public_key: hex::decode(QUICKNET_PUBLIC_KEY).unwrap_or_default(),
            genesis_unix: QUICKNET_GENESIS,
            period_secs: QUICKNET_PERIOD,
        }
    }

    fn period(&self) -> u64 {
        self.period_secs.max(1)
    }

    /// The reveal round bittensor computes for a target time: `max(1, ⌊(t − genesis) / period⌋)`
    /// (bittensor-drand 2.0 `generate_commit_v2` and bittensor-core, which SDK 11.3 uses). Use
    /// this to pick `reveal_round` exactly as the SDK does.
    ///
    /// Note it is one less than drand's newest round at `t` ([`BeaconInfo::latest_round`]): the
    /// round it names was published at least one period before `t`, so a chain that ingests
    /// pulses with a few seconds' lag already has it by `t`.
    pub fn round_at(&self, unix_secs: u64) -> u64 {
        (unix_secs.saturating_sub(self.genesis_unix) / self.period()).max(1)
    }

    /// Unix seconds at which `round` is published: `genesis + (round − 1) · period` (drand's
    /// `TimeOfRound`; round 0, which drand never publishes, maps to genesis). Saturates at `u64::MAX`.
    pub fn round_time(&self, round: u64) -> u64 {
        self.genesis_unix.saturating_add(round.saturating_sub(1).saturating_mul(self.period()))
    }

    /// The newest round drand has published at `unix_secs`: `⌊(t − genesis) / period⌋ + 1`, or 0
    /// before genesis (no pulse exists yet). `round_time(latest_round(t)) ≤ t` for `t ≥ genesis`.
    pub fn latest_round(&self, unix_secs: u64) -> u64 {
        match unix_secs.checked_sub(self.genesis_unix) {
            Some(since) => since / self.period() + 1,
            None => 0,
        }
    }
}

/// One beacon output: a round and the beacon's BLS signature of it.
///
/// Serialized as drand's HTTP API does (`{"round": 1000, "signature": "<hex>"}`), so a response of
/// `/<chain hash>/public/<round>` deserializes into it (its `randomness` field is ignored: it is
/// [`Pulse::randomness`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pulse {
    /// The round number (≥ 1 for real beacons).
    pub round: u64,
    /// The 48-byte compressed G1 signature (hex in JSON).
    #[serde(with = "hex")]
    pub signature: Vec<u8>,
}

impl Pulse {
    /// The round's randomness as drand publishes it and subtensor stores it: `sha256(signature)`.
    pub fn randomness(&self) -> [u8; 32] {
        Sha256::digest(&self.signature).into()
    }
}

/// Checks that `pulse.signature` is `beacon`'s BLS signature of `pulse.round`, as subtensor's
/// `QuicknetVerifier` does before storing a pulse.
///
/// Stricter than the pallet in one way: the signature must be exactly 48 bytes (the pallet reads
/// the first 48 of up to 144 and ignores the rest).
pub fn verify_pulse(beacon: &BeaconInfo, pulse: &Pulse) -> Result<(), DrandError> {
    let public_key = parse_public_key(&beacon.public_key)?;
    let signature = parse_signature(&pulse.signature)?;
    let message = round_point(pulse.round)?;
    let minus_g2 = -G2Affine::generator();
    let product = Bls12_381::multi_pairing([signature, message], [minus_g2, public_key]);
    if product.is_zero() { Ok(()) } else { Err(DrandError::BadSignature { round: pulse.round }) }
}

/// A beacon with a key of our own, for the sandbox's embedded chain: the quicknet scheme
/// (`bls-unchained-g1-rfc9380`, same DST, same identity), so [`crate::encrypt`] to its
/// [`LocalBeacon::info`] and [`crate::decrypt`] with its pulses behave exactly as with quicknet.
///
/// The key is derived from the seed alone (ChaCha20 seeded with it, a uniform non-zero scalar):
/// the same seed is the same beacon. `Debug` does not print the key.
#[derive(Clone)]
pub struct LocalBeacon {
    secret: Fr,
    info: BeaconInfo,
}

impl LocalBeacon {
    /// The beacon whose secret key is derived from `seed`, publishing round 1 at `genesis_unix`
    /// and one round every `period_secs` (0 is taken as 1).
    pub fn from_seed(seed: [u8; 32], genesis_unix: u64, period_secs: u64) -> Self {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let mut secret = Fr::rand(&mut rng);
        while secret.is_zero() {
            secret = Fr::rand(&mut rng);
        }
        let public = (G2Projective::generator() * secret).into_affine();
        let mut public_key = Vec::with_capacity(96);
        // Writing a point to a Vec cannot fail; an empty key would be refused by every user.
        let _ = public.serialize_compressed(&mut public_key);
        LocalBeacon { secret, info: BeaconInfo { public_key, genesis_unix, period_secs: period_secs.max(1) } }
    }

    /// The beacon's public description: what a verifier or an encryptor needs.
    pub fn info(&self) -> BeaconInfo {
        self.info.clone()
    }

    /// The beacon's pulse for `round`; it verifies under [`LocalBeacon::info`] with [`verify_pulse`].
    pub fn pulse(&self, round: u64) -> Pulse {
        // The WB map to G1 returns Ok on every path for BLS12-381 (ark-ec 0.5); the fallback
        // (an unverifiable identity signature) is unreachable and still never a panic.
        let point = round_point(round).unwrap_or_default();
        let signature_point = (point * self.secret).into_affine();
        let mut signature = Vec::with_capacity(48);
        let _ = signature_point.serialize_compressed(&mut signature);
        Pulse { round, signature }
    }
}

impl std::fmt::Debug for LocalBeacon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBeacon").field("info", &self.info).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_matches_drand_and_bittensor() {
        let q = BeaconInfo::quicknet();
        // drand: round 1 at genesis, round r at genesis + (r-1)*period.
        assert_eq!(q.round_time(1), QUICKNET_GENESIS);
        assert_eq!(q.round_time(1000), QUICKNET_GENESIS + 999 * 3);
        assert_eq!(q.latest_round(QUICKNET_GENESIS - 1), 0);
        assert_eq!(q.latest_round(QUICKNET_GENESIS), 1);
        assert_eq!(q.latest_round(QUICKNET_GENESIS + 2), 1);
        assert_eq!(q.latest_round(QUICKNET_GENESIS + 3), 2);
        // bittensor-drand: max(1, floor((t - genesis) / period)).
        assert_eq!(q.round_at(0), 1);
        assert_eq!(q.round_at(QUICKNET_GENESIS + 5), 1);
        assert_eq!(q.round_at(QUICKNET_GENESIS + 3000), 1000);
        assert_eq!(q.round_at(QUICKNET_GENESIS + 3002), 1000);
        for t in [QUICKNET_GENESIS + 6, QUICKNET_GENESIS + 3001, 1_800_000_000, 1_800_000_001, 1_800_000_002] {
            let latest = q.latest_round(t);
            assert!(q.round_time(latest) <= t && t < q.round_time(latest + 1), "t={t}");
            assert_eq!(q.round_at(t), latest - 1);
            assert!(q.round_time(q.round_at(t)) + q.period_secs <= t);
        }
        assert_eq!(q.round_time(u64::MAX), u64::MAX);
        let broken = BeaconInfo { period_secs: 0, ..q };
        assert_eq!(broken.round_at(QUICKNET_GENESIS + 10), 10);
    }

    #[test]
    fn identity_is_sha256_of_big_endian_round() {
        let mut be = [0u8; 8];
        be[6] = 0x03;
        be[7] = 0xe8;
        assert_eq!(round_identity(1000), <[u8; 32]>::from(Sha256::digest(be)));
    }

    #[test]
    fn local_beacon_is_deterministic_and_keyed_by_seed() {
        let a = LocalBeacon::from_seed([7; 32], 100, 3);
        let b = LocalBeacon::from_seed([7; 32], 100, 3);
        let c = LocalBeacon::from_seed([8; 32], 100, 3);
        assert_eq!(a.info(), b.info());
        assert_eq!(a.pulse(5), b.pulse(5));
        assert_ne!(a.info().public_key, c.info().public_key);
        assert_eq!(a.info().public_key.len(), 96);
        assert_eq!(a.pulse(5).signature.len(), 48);
        assert!(!format!("{a:?}").contains("secret"));
    }

    #[test]
    fn parse_refuses_identity_points() {
        let mut id_g1 = [0u8; 48];
        id_g1[0] = 0xc0; // compressed + infinity
        assert!(matches!(parse_signature(&id_g1), Err(DrandError::MalformedSignature { .. })));
        let mut id_g2 = [0u8; 96];
        id_g2[0] = 0xc0;
        assert!(matches!(parse_public_key(&id_g2), Err(DrandError::InvalidPublicKey { .. })));
    }
}
