//! drand beacons and timelock encryption in subtensor's exact commit-reveal v4 format.
//!
//! A validator on a subnet with commit-reveal on does not send weights; it sends
//! `commit_timelocked_mechanism_weights(.., commit, reveal_round, 4)`, where `commit` is
//! SCALE([`WeightsTlockPayload`]) timelock-encrypted to the drand quicknet round `reveal_round`.
//! Once the chain has stored that round's pulse it decrypts the commit itself and applies the
//! weights. This crate is both sides of that exchange:
//!
//! - [`encrypt`] makes the commit (the daemon), [`decrypt`] opens it with the round's pulse
//!   signature (the embedded chain), [`WeightsTlockPayload`] is the plaintext;
//! - [`verify_pulse`] checks a pulse against a beacon's public key, as subtensor's `Drand` pallet
//!   does before storing it; [`BeaconInfo`] describes a beacon and maps time to rounds;
//! - [`LocalBeacon`] is a beacon with a key of our own, for the sandbox's chain: the same scheme
//!   as quicknet, so its ciphertexts are the same bytes a real chain would decrypt with its pulses;
//! - [`recorded`] holds real quicknet pulses copied from public sources, for offline tests.
//!
//! # Scheme
//! drand quicknet is `bls-unchained-g1-rfc9380`: BLS12-381 with public keys in G2 (96 bytes
//! compressed) and signatures in G1 (48 bytes); round `r`'s signature is
//! `sk · H(sha256(r as u64 big-endian))`, `H` the RFC 9380 hash to G1 with DST [`QUICKNET_DST`].
//! Timelock encryption is Boneh–Franklin IBE (FullIdent) with identity `sha256(round_be)` — the
//! round's signature *is* the identity's private key — wrapping a random AES-256-GCM key; the
//! byte layout is on [`encrypt`].
//!
//! # Invariants
//! - [`encrypt`]'s output is byte-for-byte the `TLECiphertext<TinyBLS381>` that subtensor's
//!   `tle::tlock::tld` decrypts (ark `serialize_compressed`), [`OVERHEAD`] bytes over the plaintext.
//! - [`decrypt`] accepts exactly the byte strings that subtensor's reveal decrypts, and yields the
//!   same plaintext; inputs on which the chain's code would panic are typed errors here.
//! - No function panics on any input bytes; every failure is a [`DrandError`].
//!
//! # Failure modes
//! Malformed keys, signatures and ciphertexts are [`DrandError`]s naming what was wrong. A
//! ciphertext opened with the signature of another round (or of another beacon) fails with
//! [`DrandError::WrongSignature`], never with garbage plaintext: the IBE layer checks itself
//! (Fujisaki–Okamoto) and the body is authenticated (AES-GCM).
#![deny(missing_docs)]

mod beacon;
mod error;
mod payload;
pub mod recorded;
mod tlock;

pub use beacon::{
    BeaconInfo, LocalBeacon, Pulse, QUICKNET_CHAIN_HASH, QUICKNET_DST, QUICKNET_GENESIS, QUICKNET_PERIOD,
    QUICKNET_PUBLIC_KEY, round_identity, verify_pulse,
};
pub use error::DrandError;
pub use payload::WeightsTlockPayload;
pub use tlock::{CIPHER_SUITE, OVERHEAD, ciphertext_len, decrypt, encrypt};
