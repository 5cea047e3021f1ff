//! The `scoring` capability (contract 0.1.2): what a `score` call asks the host besides its
//! scores: uids it abstains from, and whether to keep the task for a later round.
//!
//! The instance state only records the requests; the round ([`crate::validator`]) applies them
//! after the call: abstained uids get no score from the task, a deferred task is kept in the
//! validator's state ([`crate::validator::deferred`]) within its bounds. Calls outside `score`
//! record into a state nobody reads, which is harmless.
//!
//! Failure modes: `defer` with an empty or over-long key, or `max-rounds` of 0, returns an
//! error naming the bound; a second `defer` in one call replaces the first.

use std::collections::BTreeSet;

use wasmtime::component::{HasSelf, Linker};

use super::{CallContext, CapConfigError, Capability, HostResources};
use crate::bindings::validator::subnet::plugin::scoring as wit;

/// Longest `defer` key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Most rounds a task may wait; a larger `max-rounds` is lowered to it.
pub const MAX_ROUNDS: u32 = 1024;

/// What one `score` call asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScoringRequests {
    /// Uids the call abstained from.
    pub abstained: BTreeSet<u16>,
    /// `(key, max_rounds)` when the call asked to keep its task.
    pub deferred: Option<(String, u32)>,
}

impl wit::Host for ScoringRequests {
    async fn abstain(&mut self, uid: u16) -> wasmtime::Result<()> {
        self.abstained.insert(uid);
        Ok(())
    }

    async fn defer(&mut self, key: String, max_rounds: u32) -> wasmtime::Result<Result<(), String>> {
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Ok(Err(format!("scoring.defer: the key must be 1..={MAX_KEY_BYTES} bytes, got {}", key.len())));
        }
        if max_rounds == 0 {
            return Ok(Err("scoring.defer: max-rounds must be at least 1".into()));
        }
        self.deferred = Some((key, max_rounds.min(MAX_ROUNDS)));
        Ok(Ok(()))
    }
}

/// The capability: always granted (what it asks is bounded where the round applies it).
pub struct Scoring;

impl Capability for Scoring {
    const KEYS: &'static [&'static str] = &[];
    type Config = ();
    type Subnet = ();
    type Instance = ScoringRequests;

    fn subnet(_: &(), _: &HostResources<'_>) -> Result<(), CapConfigError> {
        Ok(())
    }

    fn instance(_: &(), _: &CallContext<'_>) -> ScoringRequests {
        ScoringRequests::default()
    }

    fn add_to_linker<T: Send + 'static>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut ScoringRequests,
    ) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<ScoringRequests>>(linker, get)
    }
}
