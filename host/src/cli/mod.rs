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

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use subnet_host::caps::compute::{ComputeBackend, GrantedModels};
use subnet_host::guest_build::Toolchain;
use subnet_host::models::ModelRegistry;
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

/// Starts the model service with `models` (from `registry`, or the discovered registry) and
/// grants them; `None` when no model is needed.
pub async fn start_compute(
    toolchain: &Toolchain,
    registry: Option<&Path>,
    models: &[String],
) -> Result<Option<Arc<dyn ComputeBackend>>> {
    if models.is_empty() {
        return Ok(None);
    }
    let registry = match registry {
        Some(path) => ModelRegistry::load(path)?,
        None => ModelRegistry::discover(&toolchain.root)?,
    };
    let specs = registry.select(models)?;
    let config = subnet_compute::ComputeConfig { models: specs, ..Default::default() };
    let service = tokio::task::spawn_blocking(move || subnet_compute::ComputeService::start(config))
        .await
        .context("starting the model service")?
        .context("loading models")?;
    tracing::info!(device = %service.device(), models = ?models, "compute capability ready");
    Ok(Some(Arc::new(GrantedModels::new(service, models.iter().cloned())) as Arc<dyn ComputeBackend>))
}
