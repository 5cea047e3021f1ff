//! Real drand quicknet pulses recorded in public sources, for offline tests: a commit encrypted
//! to one of these rounds decrypts without the network.
//!
//! Invariant: each verifies under [`crate::BeaconInfo::quicknet`] (checked by the crate's tests).

use crate::Pulse;

fn pulse(round: u64, signature_hex: &str) -> Pulse {
    // The constants are valid hex (the tests verify every pulse); a typo would give an empty,
    // unverifiable signature rather than a panic.
    Pulse { round, signature: hex::decode(signature_hex).unwrap_or_default() }
}

/// Round 123, from noislabs/drand-verify (`src/verify.rs`, the `G2PubkeyRfc` example).
pub fn quicknet_round_123() -> Pulse {
    pulse(123, "b75c69d0b72a5d906e854e808ba7e2accb1542ac355ae486d591aa9d43765482e26cd02df835d3546d23c4b13e0dfc92")
}

/// Round 1000, from subtensor `pallets/drand/src/tests.rs` (`DRAND_PULSE`); its randomness is
/// `fe290beca10872ef2fb164d2aa4442de4566183ec51c56ff3cd603d930e54fdd`.
pub fn quicknet_round_1000() -> Pulse {
    pulse(1000, "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39")
}

/// Round 2000, from subtensor `pallets/commitments/src/mock.rs` (`DRAND_QUICKNET_SIG_2000_HEX`).
pub fn quicknet_round_2000() -> Pulse {
    pulse(2000, "b6cb8f482a0b15d45936a4c4ea08e98a087e71787caee3f4d07a8a9843b1bc5423c6b3c22f446488b3137eaca799c77e")
}

/// Every recorded quicknet pulse, in round order.
pub fn quicknet() -> Vec<Pulse> {
    vec![quicknet_round_123(), quicknet_round_1000(), quicknet_round_2000()]
}
