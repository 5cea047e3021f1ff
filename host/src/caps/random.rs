//! The `random` capability: deterministic randomness, seeded by the host for each call.
//!
//! The same seed gives the same stream, so a sandbox run replays exactly. WASI's own random
//! sources are seeded from the same call seed (see [`crate::runtime`]), so a guest using its
//! language's standard RNG is just as reproducible. Not for secrets: the seed is known.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha12Rng;
use wasmtime::component::{HasSelf, Linker};

use super::{CallContext, CapConfigError, Capability, HostResources};
use crate::bindings::validator::subnet::plugin::random as wit;

/// Largest `fill` request, in bytes; a larger one traps the guest.
pub const MAX_FILL: u32 = 1 << 20;

/// Per-instance state: the seeded generator.
pub struct RandomState {
    pub(crate) rng: ChaCha12Rng,
}

impl RandomState {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self { rng: ChaCha12Rng::seed_from_u64(seed) }
    }
}

/// Mixes several values into one seed (SplitMix64 finalizer over each part), so seeds for
/// different calls, epochs and miners are unrelated even when their inputs are close.
pub fn derive_seed(parts: &[u64]) -> u64 {
    let mut acc: u64 = 0x9E37_79B9_7F4A_7C15;
    for &part in parts {
        let mut z = acc ^ part.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        acc = z ^ (z >> 31);
    }
    acc
}

/// A seed part for a string (FNV-1a), for use with [`derive_seed`].
pub fn seed_part(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

impl wit::Host for RandomState {
    async fn next_u64(&mut self) -> wasmtime::Result<u64> {
        Ok(self.rng.next_u64())
    }

    async fn fill(&mut self, len: u32) -> wasmtime::Result<Vec<u8>> {
        if len > MAX_FILL {
            wasmtime::bail!("random.fill: {len} bytes asked, at most {MAX_FILL} per call");
        }
        let mut bytes = vec![0u8; len as usize];
        self.rng.fill_bytes(&mut bytes);
        Ok(bytes)
    }
}

/// The capability: always granted, no settings; each call's stream comes from its seed.
pub struct Random;

impl Capability for Random {
    const KEYS: &'static [&'static str] = &[];
    type Config = ();
    type Subnet = ();
    type Instance = RandomState;

    fn subnet(_: &(), _: &HostResources<'_>) -> Result<(), CapConfigError> {
        Ok(())
    }

    fn instance(_: &(), call: &CallContext<'_>) -> RandomState {
        RandomState::new(call.seed)
    }

    fn add_to_linker<T: Send + 'static>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut RandomState,
    ) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<RandomState>>(linker, get)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_seeds_differ_by_each_part_and_repeat() {
        let base = derive_seed(&[7, 1, 2]);
        assert_eq!(base, derive_seed(&[7, 1, 2]));
        assert_ne!(base, derive_seed(&[7, 1, 3]));
        assert_ne!(base, derive_seed(&[8, 1, 2]));
        assert_ne!(derive_seed(&[1, 2]), derive_seed(&[2, 1]));
    }
}
