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

/// Bindings of the `validator-deferred` world (0.1.2): the validator world plus the optional
/// `deferred-scorer` export; every import and type is the `validator` world's.
pub mod validator_deferred {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "validator-deferred",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "subnet:plugin/types": super::validator::subnet::plugin::types,
            "subnet:plugin/log": super::validator::subnet::plugin::log,
            "subnet:plugin/random": super::validator::subnet::plugin::random,
            "subnet:plugin/kv": super::validator::subnet::plugin::kv,
            "subnet:plugin/metagraph": super::validator::subnet::plugin::metagraph,
            "subnet:plugin/compute": super::validator::subnet::plugin::compute,
            "subnet:plugin/shared-random": super::validator::subnet::plugin::shared_random,
            "subnet:plugin/scoring": super::validator::subnet::plugin::scoring,
            "subnet:plugin/validator-api": super::validator::exports::subnet::plugin::validator_api,
        },
    });
}

/// The contract's data types, shared by both worlds.
pub use validator::subnet::plugin::types;

/// The contract's package name.
pub const PACKAGE_NAME: &str = "subnet:plugin";
/// The contract version these bindings are generated from: the newest this host implements.
pub const VERSION: ContractVersion = ContractVersion { major: 0, minor: 1, patch: 2 };
/// The package and version this host implements.
pub const PACKAGE: &str = "subnet:plugin@0.1.2";
/// Fully qualified name of the validator world's export, as these bindings name it.
pub const VALIDATOR_EXPORT: &str = "subnet:plugin/validator-api@0.1.2";
/// Fully qualified name of the optional `deferred-scorer` export (0.1.2).
pub const DEFERRED_EXPORT: &str = "subnet:plugin/deferred-scorer@0.1.2";
/// Fully qualified name of the miner world's export, as these bindings name it.
pub const MINER_EXPORT: &str = "subnet:plugin/miner-api@0.1.2";

/// A version of the contract package, as a component's import and export names carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct ContractVersion {
    /// Major version.
    pub major: u64,
    /// Minor version.
    pub minor: u64,
    /// Patch version.
    pub patch: u64,
}

impl ContractVersion {
    /// Parses `major.minor.patch` (a pre-release or build suffix is refused: published versions
    /// have none).
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('.').map(|p| p.parse::<u64>().ok());
        let (major, minor, patch) = (parts.next()??, parts.next()??, parts.next()??);
        parts.next().is_none().then_some(Self { major, minor, patch })
    }

    /// Whether this host loads modules built against `self`: the same semver track as
    /// [`VERSION`] (for a 0.x package the track is `0.x`), where versions differ only by
    /// additions. A newer patch than the host's loads as long as it uses nothing the host lacks
    /// (the linker names any such import).
    pub fn is_supported(self) -> bool {
        self.track() == VERSION.track()
    }

    fn track(self) -> (u64, u64) {
        if self.major == 0 { (0, self.minor) } else { (self.major, 0) }
    }

    /// The versions this host loads, for messages: `0.1.x (built against 0.1.0)`.
    pub fn supported_range() -> String {
        let (major, minor) = VERSION.track();
        if major == 0 {
            format!("0.{minor}.x (this host implements {VERSION})")
        } else {
            format!("{major}.x (this host implements {VERSION})")
        }
    }
}

impl std::fmt::Display for ContractVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Splits a contract interface name: `subnet:plugin/validator-api@0.1.3` gives
/// `("validator-api", Some(0.1.3))`; names of other packages give `None`.
pub fn contract_interface(name: &str) -> Option<(&str, Option<ContractVersion>)> {
    let rest = name.strip_prefix(PACKAGE_NAME)?.strip_prefix('/')?;
    Some(match rest.split_once('@') {
        Some((interface, version)) => (interface, ContractVersion::parse(version)),
        None => (rest, None),
    })
}
