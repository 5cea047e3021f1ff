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
//! - [`validator`] drives one validator round: generate tasks, query miners, score, reward,
//!   and turns the module's weights into what `set_weights` takes.
//! - [`sandbox`] runs whole epochs of a subnet on the embedded chain with simulated miners and
//!   validators, and reports who earns what.
//! - [`bundle`] reads `subnet.toml` bundles; [`guest_build`] builds guest sources of every
//!   language into components.
//!
//! Invariant across the crate: nothing a guest module, a miner or a file says can panic the
//! host. Such input yields an error that names the module and the call, and the host carries on.
#![deny(missing_docs)]

pub mod addr;
pub mod bindings;
pub mod bundle;
pub mod caps;
pub mod daemon;
pub mod guest_build;
pub mod models;
pub mod net;
pub mod node;
pub mod runtime;
pub mod sandbox;
pub mod scaffold;
pub mod sim;
pub mod units;
pub mod util;
pub mod validator;
pub mod weights;
