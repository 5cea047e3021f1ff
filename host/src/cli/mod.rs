//! The subcommands of `subnetd`, one module each. `main.rs` only parses and dispatches.

pub mod build;
pub mod chain;
pub mod check;
pub mod miner;
pub mod new;
pub mod run;
pub mod sandbox;
pub mod sign;
pub mod wallet;

use anyhow::{Context, Result};
use subnet_host::runtime::{Runtime, RuntimeConfig, World};

/// A runtime with the default configuration (compile cache under `~/.cache/subnetd` or
/// `$SUBNETD_CACHE_DIR`).
pub fn new_runtime() -> Result<Runtime> {
    Runtime::new(RuntimeConfig::default()).map_err(|e| anyhow::anyhow!("{e:#}")).context("starting wasmtime")
}

/// Parses `validator` or `miner`.
pub fn parse_world(text: &str) -> Result<World, String> {
    match text {
        "validator" => Ok(World::Validator),
        "miner" => Ok(World::Miner),
        _ => Err(format!("`{text}` is not a world: use validator or miner")),
    }
}

