//! The runtime core: turns component bytes into validated modules and runs guarded calls.
//!
//! - [`config`] owns the Engine configuration and its documented defaults.
//! - [`cache`] keeps precompiled `.cwasm` artifacts.
//! - [`module`] loads and validates components against the worlds and calls them.
//!
//! One [`Runtime`] serves every module of a process. Each call gets a fresh `Store` and a
//! fresh instance from a pre-linked `InstancePre`, so calls share nothing but what the host
//! capabilities share on purpose (a subnet's key-value store).

pub mod cache;
pub mod config;
pub mod module;
mod state;

pub use cache::{CacheOutcome, CompileCache, content_hash};
pub use config::RuntimeConfig;
pub use module::{CallError, LoadError, LoadedModule, MinerModule, ModuleInfo, Runtime, ValidatorModule, World};
pub use state::{DeadlineExceeded, HostState, MemoryLimitExceeded};
