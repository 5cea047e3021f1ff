//! subnet-host: the library behind `subnetd`, the daemon that runs Bittensor subnets as
//! WebAssembly components.
//!
//! A subnet author writes a `validator` component (task generation, scoring, reward) and a
//! `miner` component against the WIT contract in `wit/`. This crate does the rest:
//!
//! - [`runtime`] owns the wasmtime `Engine` and `Store` configuration (pooling allocator,
//!   epoch deadlines, memory limits, fuel, the `.cwasm` compile cache) and turns component
//!   bytes into validated, callable [`runtime::ValidatorModule`]s and [`runtime::MinerModule`]s.
//! - [`caps`] holds one module per host capability the contract imports (log, random,
//!   key-value store, metagraph, compute), each with its own linker registration and
//!   per-instance state.
//! - [`bindings`] runs `bindgen!` once for both worlds.
//! - [`round`] drives one validator round: generate tasks, query miners, score, reward.
//! - [`sandbox`] runs whole epochs of a subnet locally with simulated miners.
//! - [`guest_build`] builds guest crates into components.
//! - [`weights`] turns a module's weights into what the chain stores.
//!
//! Invariant across the crate: nothing a guest module, a miner or a file says can panic the
//! host. Such input yields an error that names the module and the call, and the host carries on.
#![deny(missing_docs)]

pub mod bindings;
pub mod caps;
pub mod guest_build;
pub mod runtime;
