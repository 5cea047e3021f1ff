//! Rust bindings for the `subnet:plugin` WIT package, generated once for the host.
//!
//! Both worlds import the same interfaces; the `miner` world reuses the `validator` world's
//! generated import traits and types through `with`, so a capability is implemented once and
//! the host's `Linker` serves both worlds. Imports are async (capabilities may await storage or
//! a model) and trappable (a host-side failure traps the guest instead of lying to it).
#![allow(missing_docs)]

/// Bindings of the `validator` world: the import interfaces, the shared types and the
/// `validator-api` export.
pub mod validator {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "validator",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

/// Bindings of the `miner` world: the `miner-api` export; imports are shared with `validator`.
pub mod miner {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "miner",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "subnet:plugin/types": super::validator::subnet::plugin::types,
            "subnet:plugin/log": super::validator::subnet::plugin::log,
            "subnet:plugin/random": super::validator::subnet::plugin::random,
            "subnet:plugin/kv": super::validator::subnet::plugin::kv,
            "subnet:plugin/metagraph": super::validator::subnet::plugin::metagraph,
            "subnet:plugin/compute": super::validator::subnet::plugin::compute,
        },
    });
}

/// The contract's data types, shared by both worlds.
pub use validator::subnet::plugin::types;

/// Fully qualified name of the validator world's export, as it appears in a component.
pub const VALIDATOR_EXPORT: &str = "subnet:plugin/validator-api@0.1.0";
/// Fully qualified name of the miner world's export, as it appears in a component.
pub const MINER_EXPORT: &str = "subnet:plugin/miner-api@0.1.0";
/// The WIT package and version this host implements.
pub const PACKAGE: &str = "subnet:plugin@0.1.0";
