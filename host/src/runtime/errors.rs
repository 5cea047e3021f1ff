//! The errors of loading and calling modules, and the two worlds a module may implement.
//!
//! Every [`CallError`] names the module and the call, so a log line or a report says which
//! version of which subnet's module failed where; none carries host internals.

use std::fmt;
use std::time::Duration;

use crate::bindings::{MINER_EXPORT, VALIDATOR_EXPORT};

/// The world a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum World {
    /// Exports `validator-api`.
    Validator,
    /// Exports `miner-api`.
    Miner,
}

impl World {
    /// The interface a component of this world exports, at the host's own contract version.
    pub fn export_name(self) -> &'static str {
        match self {
            World::Validator => VALIDATOR_EXPORT,
            World::Miner => MINER_EXPORT,
        }
    }

    /// The functions that interface must contain.
    pub fn functions(self) -> &'static [&'static str] {
        match self {
            World::Validator => &["generate-tasks", "score", "reward"],
            World::Miner => &["handle"],
        }
    }
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            World::Validator => "validator",
            World::Miner => "miner",
        })
    }
}

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// What the OS said.
        error: std::io::Error,
    },
    /// Not WebAssembly at all.
    #[error("not a WebAssembly file: {0}")]
    NotWasm(String),
    /// A core module where a component was expected.
    #[error(
        "this is a core WebAssembly module, not a component: build the guest for \
         `wasm32-wasip2` (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule,
    /// The component does not parse or compile.
    #[error("invalid component: {0}")]
    Invalid(String),
    /// The component imports something the host does not provide.
    #[error(
        "imports `{0}`, which subnetd does not provide (a module may import subnet:plugin/* \
         and WASI 0.2 interfaces)"
    )]
    UnknownImport(String),
    /// The component exports neither world's interface, or not the one asked for.
    #[error("does not implement world `{expected}`: it lacks the export `{missing}`; it exports [{found}]")]
    WrongWorld {
        /// The world asked for, or `validator or miner`.
        expected: String,
        /// The export that is missing.
        missing: String,
        /// What it does export.
        found: String,
    },
    /// The module targets a version of the contract on another semver track.
    #[error(
        "targets contract subnet:plugin@{found}, which this host does not implement: it loads {supported}; \
         rebuild the module against a supported version"
    )]
    UnsupportedContract {
        /// The version the module's export names.
        found: String,
        /// What the host loads.
        supported: String,
    },
    /// The export exists but lacks a function of the world.
    #[error("does not implement world `{world}`: its `{export}` export lacks the function `{function}`")]
    MissingFunction {
        /// The export.
        export: String,
        /// The function it lacks.
        function: String,
        /// The world.
        world: World,
    },
    /// The export exists but its functions do not match the world.
    #[error("its `{export}` export does not match world `{world}`: {detail}")]
    ExportMismatch {
        /// The export.
        export: String,
        /// The world.
        world: World,
        /// What wasmtime found wrong (a missing function, a wrong type).
        detail: String,
    },
}

/// Why a call into a module failed. Every variant names the module and the call.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The call ran past its time limit and was stopped.
    #[error("module `{module}`: `{call}` exceeded its time limit of {limit:?} and was stopped")]
    Timeout {
        /// The module.
        module: String,
        /// The exported function.
        call: &'static str,
        /// The limit.
        limit: Duration,
    },
    /// The call tried to grow memory past its limit and was stopped.
    #[error("module `{module}`: `{call}` exceeded its memory limit of {limit} bytes and was stopped")]
    MemoryLimit {
        /// The module.
        module: String,
        /// The exported function.
        call: &'static str,
        /// The limit.
        limit: usize,
    },
    /// The call used all its fuel.
    #[error("module `{module}`: `{call}` ran out of fuel")]
    OutOfFuel {
        /// The module.
        module: String,
        /// The exported function.
        call: &'static str,
    },
    /// The guest trapped (a panic, an `unreachable`, an uncaught exception).
    #[error("module `{module}`: `{call}` trapped: {message}{}", stderr_suffix(guest_output))]
    Trap {
        /// The module.
        module: String,
        /// The exported function.
        call: &'static str,
        /// The trap and its wasm backtrace.
        message: String,
        /// The tail of what the guest wrote to stderr (a panic message, a Python traceback).
        guest_output: String,
    },
    /// The guest returned its own error.
    #[error("module `{module}`: `{call}` returned an error: {message}{}", stderr_suffix(guest_output))]
    Guest {
        /// The module.
        module: String,
        /// The exported function.
        call: &'static str,
        /// The guest's error text.
        message: String,
        /// The tail of what the guest wrote to stderr.
        guest_output: String,
    },
    /// The guest returned data that breaks the contract.
    #[error("module `{module}`: `{call}` returned malformed data: {reason}")]
    Malformed {
        /// The module.
        module: String,
        /// The exported function.
        call: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// No instance could be made (the pool is full, a start function failed).
    #[error("module `{module}`: could not instantiate for `{call}`: {message}")]
    Instantiate {
        /// The module.
        module: String,
        /// The exported function.
        call: &'static str,
        /// Why.
        message: String,
    },
}

fn stderr_suffix(output: &str) -> String {
    if output.trim().is_empty() { String::new() } else { format!("\n--- guest stderr ---\n{}", output.trim_end()) }
}

impl CallError {
    /// A short label of the failure class, for metrics and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Timeout { .. } => "timeout",
            CallError::MemoryLimit { .. } => "memory",
            CallError::OutOfFuel { .. } => "fuel",
            CallError::Trap { .. } => "trap",
            CallError::Guest { .. } => "guest-error",
            CallError::Malformed { .. } => "malformed",
            CallError::Instantiate { .. } => "instantiate",
        }
    }

    /// A malformed-data error for `module`'s `call`.
    pub fn malformed(module: &str, call: &'static str, reason: impl Into<String>) -> Self {
        CallError::Malformed { module: module.to_owned(), call, reason: reason.into() }
    }
}
