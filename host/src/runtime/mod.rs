//! The runtime core: turns component bytes into validated modules and runs guarded calls.
//!
//! - [`config`] owns the Engine configuration and its documented defaults.
//! - [`cache`] keeps precompiled `.cwasm` artifacts.
//! - [`env`] is what a call runs with: its subnet's shared part and its own.
//! - [`module`] loads and validates components against the worlds and calls them.
//!
//! One [`Runtime`] serves every module of a process. Each call gets a fresh `Store` and a
//! fresh instance from a pre-linked `InstancePre`, so calls share nothing but what the host
//! capabilities share on purpose (a subnet's key-value store).

pub mod cache;
mod call;
pub mod config;
pub mod env;
mod errors;
mod load;
mod state;

pub use cache::{CacheOutcome, CompileCache, content_hash};
pub use config::RuntimeConfig;
pub use env::{CallEnv, CallLimits, CallObserver, SubnetEnv, buffer_round};
pub use errors::{CallError, LoadError, World};
pub use load::{LoadedModule, MinerModule, ModuleInfo, Runtime, ValidatorModule};
pub use state::{DeadlineExceeded, HostState, MemoryLimitExceeded};
