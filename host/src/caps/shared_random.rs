//! The `shared-random` capability (contract 0.1.2): the randomness every validator of a subnet
//! draws alike within one epoch, for challenges that must be common to all of them.
//!
//! Invariant: the stream is a pure function of `(netuid, epoch)` as the call's `epoch-context`
//! gives them, specified in the WIT (SHA-256 based) so any language, miners included, can
//! reproduce it. It is therefore **public**: nothing secret may be drawn from it (that is what
//! `random`, secret-seeded in `subnetd run`, is for). The stream is offset-addressed, so the same
//! bytes come back whatever order calls ask in.
//!
//! Failure modes: a `bytes` request over [`MAX_BYTES`] traps the guest (as `random.fill` does); a
//! call the host made without an epoch (none of the validator world's calls) traps with a reason.

use sha2::{Digest, Sha256};
use wasmtime::component::{HasSelf, Linker};

use super::{CallContext, CapConfigError, Capability, HostResources};
use crate::bindings::validator::subnet::plugin::shared_random as wit;

/// Largest `bytes` request, in bytes.
pub const MAX_BYTES: u32 = 1 << 20;

/// Domain separator of the seed's hash.
const DOMAIN: &[u8] = b"subnet:plugin/shared-random";

/// The shared seed of `netuid` in `epoch`, as the WIT specifies it.
pub fn shared_seed(netuid: u16, epoch: u64) -> u64 {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(netuid.to_le_bytes());
    h.update(epoch.to_le_bytes());
    let digest = h.finalize();
    u64::from_le_bytes(digest[..8].try_into().expect("32-byte digest"))
}

/// `len` bytes of the stream of `seed` from byte `offset`.
pub fn shared_bytes(seed: u64, offset: u64, len: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(len as usize);
    let mut pos = offset;
    let end = offset.saturating_add(u64::from(len));
    while pos < end {
        let block = pos / 32;
        let mut h = Sha256::new();
        h.update(seed.to_le_bytes());
        h.update(block.to_le_bytes());
        let digest = h.finalize();
        let from = (pos % 32) as usize;
        let take = (32 - from).min((end - pos) as usize);
        out.extend_from_slice(&digest[from..from + take]);
        pos += take as u64;
    }
    out
}

/// Per-instance state: the epoch's seed, when the call has an epoch.
pub struct SharedRandomState {
    seed: Option<u64>,
}

impl wit::Host for SharedRandomState {
    async fn seed(&mut self) -> wasmtime::Result<u64> {
        self.seed.ok_or_else(|| wasmtime::format_err!("shared-random: this call has no epoch"))
    }

    async fn bytes(&mut self, offset: u64, len: u32) -> wasmtime::Result<Vec<u8>> {
        if len > MAX_BYTES {
            wasmtime::bail!("shared-random.bytes: {len} bytes asked, at most {MAX_BYTES} per call");
        }
        let seed = self.seed.ok_or_else(|| wasmtime::format_err!("shared-random: this call has no epoch"))?;
        Ok(shared_bytes(seed, offset, len))
    }
}

/// The capability: always granted (it is public), no settings.
pub struct SharedRandom;

impl Capability for SharedRandom {
    const KEYS: &'static [&'static str] = &[];
    type Config = ();
    type Subnet = ();
    type Instance = SharedRandomState;

    fn subnet(_: &(), _: &HostResources<'_>) -> Result<(), CapConfigError> {
        Ok(())
    }

    fn instance(_: &(), call: &CallContext<'_>) -> SharedRandomState {
        SharedRandomState { seed: call.epoch.map(|(netuid, epoch)| shared_seed(netuid, epoch)) }
    }

    fn add_to_linker<T: Send + 'static>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut SharedRandomState,
    ) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<SharedRandomState>>(linker, get)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_offset_addressed_and_epoch_specific() {
        let seed = shared_seed(7, 100);
        assert_eq!(seed, shared_seed(7, 100));
        assert_ne!(seed, shared_seed(7, 101));
        assert_ne!(seed, shared_seed(8, 100));
        let whole = shared_bytes(seed, 0, 100);
        assert_eq!(whole.len(), 100);
        assert_eq!(&whole[13..77], shared_bytes(seed, 13, 64).as_slice());
        assert_eq!(&whole[32..40], shared_bytes(seed, 32, 8).as_slice());
    }
}
