//! Host capabilities: one module per interface the contract imports.
//!
//! A capability is one [`Capability`] implementation in one module under `caps/`, listed once
//! in the [`capabilities!`] table at the bottom of this file. The trait gathers everything
//! about it, as Spin's factors do (kept small):
//! - its **config**: the keys it owns in a subnet's `[subnet.capabilities]` table
//!   ([`Capability::KEYS`]), parsed into [`Capability::Config`] and checked by
//!   [`Capability::check`], with errors that name the key;
//! - its **per-subnet state** ([`Capability::Subnet`]), built once for a subnet from its config
//!   and what the host process offers ([`HostResources`]): a store, granted models;
//! - its **per-instance state** ([`Capability::Instance`]), built for every store from the
//!   subnet state and the call ([`CallContext`]);
//! - its **linker registration** ([`Capability::add_to_linker`]), generic over the store's data
//!   type, so a capability can be linked and tested on a `Linker<T>` of the test's own `T`.
//!
//! The table generates [`CapabilitiesConfig`], [`SubnetCaps`], [`InstanceCaps`] and
//! [`add_to_linker`]; the runtime's store data holds an [`InstanceCaps`] and implements
//! [`HasCaps`]. Nothing here depends on the runtime: the layering is bindings ← caps ← runtime.
//!
//! Invariant: what a capability may reach is decided by its per-subnet state, which the host
//! builds from that subnet's grants only. A subnet that was not granted the key-value store or
//! compute gets `denied` or `not-available` from those interfaces, never another subnet's data.

pub mod compute;
pub mod http;
pub mod kv;
pub mod log;
pub mod metagraph;
pub mod random;
pub mod scoring;
pub mod shared_random;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use wasmtime::component::{Linker, ResourceTable};

/// What the host process offers capabilities when it builds a subnet's state: the durable
/// stores and the model service. The sandbox and tests build [`SubnetCaps`] directly instead.
#[derive(Default)]
pub struct HostResources<'a> {
    /// The subnet.
    pub netuid: u16,
    /// Opens the subnet's key-value store, when the host has durable storage.
    pub kv: Option<&'a dyn kv::KvProvider>,
    /// Grants models to the subnet, when the host serves any.
    pub models: Option<&'a dyn compute::ModelProvider>,
}

/// What a capability knows about the call its instance state is made for.
pub struct CallContext<'a> {
    /// The subnet's label for logs.
    pub subnet: &'a Arc<str>,
    /// The module's name for logs.
    pub module: &'a str,
    /// The call's seed.
    pub seed: u64,
    /// The metagraph the call sees.
    pub metagraph: &'a Arc<metagraph::MetagraphView>,
    /// The netuid and epoch of the call's `epoch-context` (validator calls), for `shared-random`.
    pub epoch: Option<(u16, u64)>,
}

/// A capability config error: the key (a path inside `[subnet.capabilities]`, such as
/// `compute[1]`) and what is wrong. The daemon's config prefixes it with the subnet's path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CapConfigError {
    /// The key, as a path inside the capabilities table.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl CapConfigError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// One host capability. See the module docs.
pub trait Capability: 'static {
    /// The keys of `[subnet.capabilities]` this capability owns (none for one that is always
    /// granted and has no settings).
    const KEYS: &'static [&'static str];
    /// Its settings, parsed from its keys; `Default` is what a subnet without them gets.
    type Config: DeserializeOwned + Default + Clone + fmt::Debug + Send + Sync;
    /// Its per-subnet state, shared by every instance of the subnet's modules.
    type Subnet: Default + Clone + Send + Sync;
    /// Its per-instance state, one per store.
    type Instance: Send;

    /// Checks settings that parsed; errors name the key.
    fn check(_config: &Self::Config) -> Result<(), CapConfigError> {
        Ok(())
    }

    /// Builds the subnet's state from its checked settings.
    fn subnet(config: &Self::Config, host: &HostResources<'_>) -> Result<Self::Subnet, CapConfigError>;

    /// Builds one instance's state.
    fn instance(subnet: &Self::Subnet, call: &CallContext<'_>) -> Self::Instance;

    /// Registers the interface's host functions; `get` reaches the instance state in `T`.
    fn add_to_linker<T: Send + 'static>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut Self::Instance,
    ) -> wasmtime::Result<()>;
}

/// Store data that holds every capability's instance state.
pub trait HasCaps {
    /// The capabilities' instance states.
    fn caps(&mut self) -> &mut InstanceCaps;
    /// The capabilities' states and the store's WASI resource table together: for a capability
    /// whose resources are WASI's (`wasi:http` bodies are `wasi:io` streams in that table).
    fn caps_and_table(&mut self) -> (&mut InstanceCaps, &mut ResourceTable);
}

/// A host directory a call sees as a WASI preopened directory (sandboxed by cap-std: the
/// module reaches nothing outside it). Configured as `preopen` in `[subnet.capabilities]`; it is
/// WASI's, not the contract's, so the runtime's WASI setup applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    /// The directory on the host; it must exist.
    pub host: PathBuf,
    /// The path the module sees it at (e.g. `/data`).
    pub guest: String,
    /// Whether the module may create, write and delete files in it.
    pub writable: bool,
}

/// `[subnet.capabilities.preopen]`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreopenConfig {
    /// The host directory (created if missing).
    pub dir: PathBuf,
    /// Where the module sees it; default `/data`.
    #[serde(default = "default_guest_dir")]
    pub guest: String,
    /// Whether the module may write in it; default false.
    #[serde(default)]
    pub writable: bool,
}

fn default_guest_dir() -> String {
    "/data".into()
}

impl PreopenConfig {
    fn check(&self) -> Result<(), CapConfigError> {
        if !self.guest.starts_with('/') || self.guest.contains("..") {
            return Err(CapConfigError::new(
                "preopen.guest",
                format!("`{}` must be an absolute guest path without `..`", self.guest),
            ));
        }
        Ok(())
    }
}

/// Deserializes one capability's keys (taken out of `table`) into its config, with the path
/// of a bad value inside the table.
fn take_config<C: Capability>(table: &mut toml::Table) -> Result<C::Config, CapConfigError> {
    if C::KEYS.is_empty() {
        return Ok(C::Config::default());
    }
    let mut own = toml::Table::new();
    for key in C::KEYS {
        if let Some(value) = table.remove(*key) {
            own.insert((*key).to_owned(), value);
        }
    }
    serde_path_to_error::deserialize(toml::Value::Table(own)).map_err(|e| {
        let field = e.path().to_string();
        CapConfigError::new(if field == "." { String::new() } else { field }, e.into_inner().to_string())
    })
}

macro_rules! capabilities {
    ($($(#[$doc:meta])* $field:ident: $cap:ty),* $(,)?) => {
        /// A subnet's `[subnet.capabilities]`: each capability's settings, and WASI's preopened
        /// directory.
        #[derive(Debug, Clone, Default)]
        pub struct CapabilitiesConfig {
            $($(#[$doc])* pub $field: <$cap as Capability>::Config,)*
            /// A directory the module sees as a WASI preopen.
            pub preopen: Option<PreopenConfig>,
        }

        /// Every capability's per-subnet state.
        #[derive(Clone, Default)]
        pub struct SubnetCaps {
            $($(#[$doc])* pub $field: <$cap as Capability>::Subnet,)*
        }

        /// Every capability's per-instance state.
        pub struct InstanceCaps {
            $($(#[$doc])* pub $field: <$cap as Capability>::Instance,)*
        }

        /// Every key some capability owns, and `preopen`, for error messages.
        pub fn capability_keys() -> Vec<&'static str> {
            let mut keys: Vec<&'static str> = Vec::new();
            $(keys.extend_from_slice(<$cap as Capability>::KEYS);)*
            keys.push("preopen");
            keys
        }

        impl CapabilitiesConfig {
            /// Parses and checks a `[subnet.capabilities]` table; an unknown key is an error.
            pub fn from_table(table: &toml::Table) -> Result<Self, CapConfigError> {
                let mut table = table.clone();
                let preopen = match table.remove("preopen") {
                    None => None,
                    Some(value) => Some(
                        serde_path_to_error::deserialize::<_, PreopenConfig>(value).map_err(|e| {
                            let inner = e.path().to_string();
                            let field = if inner == "." { "preopen".to_owned() } else { format!("preopen.{inner}") };
                            CapConfigError::new(field, e.into_inner().to_string())
                        })?,
                    ),
                };
                let config = Self { $($field: take_config::<$cap>(&mut table)?,)* preopen };
                if let Some(key) = table.keys().next() {
                    return Err(CapConfigError::new(
                        key.clone(),
                        format!("unknown capability key `{key}`; known keys: {}", capability_keys().join(", ")),
                    ));
                }
                $(<$cap as Capability>::check(&config.$field)?;)*
                if let Some(p) = &config.preopen {
                    p.check()?;
                }
                Ok(config)
            }
        }

        impl SubnetCaps {
            /// Builds every capability's state for a subnet from its checked settings.
            pub fn build(config: &CapabilitiesConfig, host: &HostResources<'_>) -> Result<Self, CapConfigError> {
                Ok(Self { $($field: <$cap as Capability>::subnet(&config.$field, host)?,)* })
            }
        }

        impl InstanceCaps {
            /// Every capability's state for one call.
            pub fn new(subnet: &SubnetCaps, call: &CallContext<'_>) -> Self {
                Self { $($field: <$cap as Capability>::instance(&subnet.$field, call),)* }
            }
        }

        /// Registers every capability with `linker` (WASI is the runtime's to add).
        pub fn add_to_linker<T: HasCaps + Send + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
            $(<$cap as Capability>::add_to_linker(linker, |t: &mut T| &mut t.caps().$field)?;)*
            http::link(linker)
        }
    };
}

capabilities! {
    /// `log`: guest log lines.
    log: log::Log,
    /// `random`: the call's seeded randomness.
    random: random::Random,
    /// `shared-random`: the epoch's public randomness, alike for every validator of the subnet.
    shared_random: shared_random::SharedRandom,
    /// `kv`: the subnet's key-value store.
    kv: kv::Kv,
    /// `scoring`: abstentions and deferred tasks asked by `score`.
    scoring: scoring::Scoring,
    /// `metagraph`: the subnet's neurons.
    metagraph: metagraph::Metagraph,
    /// `compute`: granted models.
    compute: compute::Compute,
    /// `wasi:http` outgoing requests: to the hosts the operator allowed (`outbound_hosts`).
    http: http::Http,
}
