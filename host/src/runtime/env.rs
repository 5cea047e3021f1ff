//! What the host hands to a call besides its arguments, in two parts: [`SubnetEnv`], built once
//! per subnet (its label, the capabilities' per-subnet states, its WASI directory, its limits,
//! its observer), and [`CallEnv`], built per call (the seed, the metagraph it sees, a shorter
//! deadline or other fuel for this call).
//!
//! Invariants: a call's limits never exceed its subnet's (the call's own timeout only
//! shortens the subnet's, and the memory limit is the subnet's, capped by the runtime's); a
//! call reaches only the capability states of its own [`SubnetEnv`].

use std::sync::Arc;
use std::time::Duration;

use super::errors::CallError;
use super::load::ModuleInfo;
use crate::caps::kv::{BufferedKv, KvError};
use crate::caps::metagraph::MetagraphView;
use crate::caps::{Preopen, SubnetCaps};

/// Told about every call a runtime makes under a [`SubnetEnv`] that carries it: for metrics.
/// Called once per call, after it ended, from the task that made the call; must not block.
pub trait CallObserver: Send + Sync {
    /// `call` of `module` ended after `elapsed` (waiting for a pool slot included), with
    /// `error` when it failed.
    fn call_finished(&self, module: &ModuleInfo, call: &'static str, elapsed: Duration, error: Option<&CallError>);
}

/// A subnet's limits on each call of its modules; `None` uses the runtime's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallLimits {
    /// Wall-clock limit of one call.
    pub timeout: Option<Duration>,
    /// Memory limit of one call's instance (all its memories together), at most the runtime's.
    pub memory: Option<usize>,
    /// Fuel of one call. Ignored when the runtime meters no fuel
    /// ([`super::RuntimeConfig::fuel`] is `None`).
    pub fuel: Option<u64>,
}

/// What every call of one subnet's modules shares. Cheap to clone; calls hold it in an `Arc`.
#[derive(Clone)]
pub struct SubnetEnv {
    /// Subnet label for logs (e.g. `netuid 1` or the subnet's name).
    pub label: Arc<str>,
    /// The capabilities' per-subnet states (the store, granted models).
    pub caps: SubnetCaps,
    /// A directory the module may use, when granted; none by default.
    pub preopen: Option<Preopen>,
    /// Limits of each call.
    pub limits: CallLimits,
    /// Told about each call's outcome and duration, when set.
    pub observer: Option<Arc<dyn CallObserver>>,
}

impl SubnetEnv {
    /// A subnet with no store, no compute, no directory, the runtime's limits.
    pub fn new(label: impl Into<Arc<str>>) -> Self {
        Self {
            label: label.into(),
            caps: SubnetCaps::default(),
            preopen: None,
            limits: CallLimits::default(),
            observer: None,
        }
    }

    /// A call of this subnet's modules with `seed`, seeing `metagraph`.
    pub fn call(self: &Arc<Self>, seed: u64, metagraph: Arc<MetagraphView>) -> CallEnv {
        CallEnv { subnet: self.clone(), seed, metagraph, timeout: None, fuel: None, epoch: None }
    }
}

/// One call's environment: its subnet's shared part and what is its own.
#[derive(Clone)]
pub struct CallEnv {
    /// The subnet's shared part.
    pub subnet: Arc<SubnetEnv>,
    /// Seed of the call's randomness (the `random` interface and WASI's random sources).
    pub seed: u64,
    /// The metagraph the module sees.
    pub metagraph: Arc<MetagraphView>,
    /// A time limit for this call only (a miner's time left); it can only shorten the subnet's.
    pub timeout: Option<Duration>,
    /// Fuel for this call only, instead of the subnet's.
    pub fuel: Option<u64>,
    /// The netuid and epoch of the call's `epoch-context`: set by the validator calls
    /// themselves from the context they pass, and what `shared-random` is derived from.
    pub epoch: Option<(u16, u64)>,
}

impl CallEnv {
    /// A call of a subnet with no grants and the runtime's limits, labelled `label`: for tests
    /// and tools.
    pub fn new(label: impl Into<Arc<str>>, seed: u64, metagraph: Arc<MetagraphView>) -> Self {
        Arc::new(SubnetEnv::new(label)).call(seed, metagraph)
    }

    /// The same call in a copy of its subnet's environment changed by `change` (another store,
    /// other models, other limits).
    pub fn with_subnet(&self, change: impl FnOnce(&mut SubnetEnv)) -> Self {
        let mut subnet = (*self.subnet).clone();
        change(&mut subnet);
        Self { subnet: Arc::new(subnet), ..self.clone() }
    }

    /// The same environment for a call made with `ctx`: `shared-random` follows its netuid and
    /// epoch.
    pub fn with_epoch(&self, ctx: &crate::bindings::types::EpochContext) -> Self {
        Self { epoch: Some((ctx.netuid, ctx.epoch)), ..self.clone() }
    }

    /// The same environment with another seed.
    pub fn with_seed(&self, seed: u64) -> Self {
        Self { seed, ..self.clone() }
    }

    /// The same environment with a time limit of at most `timeout`.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self { timeout: Some(timeout), ..self.clone() }
    }

    /// The same environment seeing another metagraph.
    pub fn with_metagraph(&self, metagraph: Arc<MetagraphView>) -> Self {
        Self { metagraph, ..self.clone() }
    }

    /// The call's time limit: its own, the subnet's, or `default`, whichever is shortest of
    /// those set.
    pub fn time_limit(&self, default: Duration) -> Duration {
        let subnet = self.subnet.limits.timeout.unwrap_or(default);
        self.timeout.map_or(subnet, |t| t.min(subnet))
    }

    /// The call's fuel: its own, else the subnet's, else `default`.
    pub fn fuel_or(&self, default: u64) -> u64 {
        self.fuel.or(self.subnet.limits.fuel).unwrap_or(default)
    }
}

impl SubnetEnv {
    /// This subnet for one validator round: capabilities with per-round bounds (outbound HTTP)
    /// get a fresh budget that every call of the round shares. `run_round` calls it.
    pub fn for_round(self: &Arc<Self>) -> Arc<Self> {
        let Some(policy) = &self.caps.http else {
            return self.clone();
        };
        let mut round = (**self).clone();
        round.caps.http = Some(policy.for_round());
        Arc::new(round)
    }

    /// This subnet for one round: the same, with its key-value store (if granted) behind a
    /// fresh [`BufferedKv`], returned too so the round's writes can be committed with its
    /// scores (a failed round commits neither).
    pub fn buffer_round(self: &Arc<Self>) -> Result<(Arc<Self>, Option<Arc<BufferedKv>>), KvError> {
        let Some(store) = &self.caps.kv else {
            return Ok((self.clone(), None));
        };
        let buffer = BufferedKv::over(store.clone())?;
        let mut round = (**self).clone();
        round.caps.kv = Some(buffer.clone());
        Ok((Arc::new(round), Some(buffer)))
    }
}
