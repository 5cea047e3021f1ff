//! Host capabilities: one module per interface the contract imports.
//!
//! Each capability has per-instance state (a field of [`crate::runtime::HostState`]), a
//! `Host` trait implementation from [`crate::bindings`], and its own `add_to_linker`.
//! What a capability may reach is decided per call by the [`CallEnv`] the caller builds:
//! a subnet that was not granted the key-value store or compute gets a `denied` or
//! `not-available` error from those interfaces, never another subnet's data.

pub mod compute;
pub mod kv;
pub mod log;
pub mod metagraph;
pub mod random;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Linker;

use crate::runtime::{CallError, HostState, ModuleInfo};

/// A host directory a call sees as a WASI preopened directory (sandboxed by cap-std: the
/// module reaches nothing outside it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    /// The directory on the host; it must exist.
    pub host: PathBuf,
    /// The path the module sees it at (e.g. `/data`).
    pub guest: String,
    /// Whether the module may create, write and delete files in it.
    pub writable: bool,
}

/// Told about every call a runtime makes under a [`CallEnv`] that carries it: for metrics.
/// Called once per call, after it ended, from the task that made the call; must not block.
pub trait CallObserver: Send + Sync {
    /// `call` of `module` ended after `elapsed` (waiting for a pool slot included), with
    /// `error` when it failed.
    fn call_finished(&self, module: &ModuleInfo, call: &'static str, elapsed: Duration, error: Option<&CallError>);
}

/// Everything the host hands to one call besides its arguments.
#[derive(Clone)]
pub struct CallEnv {
    /// Subnet label for logs (e.g. `netuid 1` or the subnet's name).
    pub subnet: Arc<str>,
    /// Seed of the call's randomness (the `random` interface and WASI's random sources).
    pub seed: u64,
    /// The metagraph the module sees.
    pub metagraph: Arc<metagraph::MetagraphView>,
    /// The subnet's key-value store, when granted.
    pub kv: Option<Arc<dyn kv::KvStore>>,
    /// Model calls, when granted and available.
    pub compute: Option<Arc<dyn compute::ComputeBackend>>,
    /// Wall-clock limit of this call; `None` uses the runtime's default.
    pub timeout: Option<Duration>,
    /// Memory limit of this call's instance, at most the runtime's; `None` uses the runtime's.
    pub memory_limit: Option<usize>,
    /// Fuel of this call; `None` uses the runtime's. Ignored when the runtime meters no fuel
    /// ([`crate::runtime::RuntimeConfig::fuel`] is `None`).
    pub fuel: Option<u64>,
    /// A directory the module may use, when granted; none by default.
    pub preopen: Option<Preopen>,
    /// Told about each call's outcome and duration, when set.
    pub observer: Option<Arc<dyn CallObserver>>,
}

impl CallEnv {
    /// An environment with no store, no compute, the given metagraph and seed.
    pub fn new(subnet: impl Into<Arc<str>>, seed: u64, metagraph: Arc<metagraph::MetagraphView>) -> Self {
        Self {
            subnet: subnet.into(),
            seed,
            metagraph,
            kv: None,
            compute: None,
            timeout: None,
            memory_limit: None,
            fuel: None,
            preopen: None,
            observer: None,
        }
    }

    /// The same environment with another seed.
    pub fn with_seed(&self, seed: u64) -> Self {
        Self { seed, ..self.clone() }
    }

    /// The same environment with another time limit.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self { timeout: Some(timeout), ..self.clone() }
    }
}

/// Registers WASI (preview 2) and every capability with `linker`.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    log::add_to_linker(linker)?;
    random::add_to_linker(linker)?;
    kv::add_to_linker(linker)?;
    metagraph::add_to_linker(linker)?;
    compute::add_to_linker(linker)?;
    Ok(())
}
