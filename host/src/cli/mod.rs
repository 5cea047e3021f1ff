//! The subcommands of `subnetd`, one module each. `main.rs` only parses and dispatches.

pub mod build;
pub mod chain;
pub mod check;
pub mod miner;
pub mod new;
pub mod preflight;
pub mod protocol;
pub mod run;
pub mod sandbox;
pub mod sign;
pub mod wallet;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

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

/// Installs the SIGTERM and SIGINT (Ctrl-C) handlers now, so a signal that arrives while the
/// caller is still starting is not lost; the future resolves at the first of them.
pub fn shutdown_signal() -> Result<impl Future<Output = ()>> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    Ok(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// A duration on the command line (`500ms`, `12s`, `2m`, `1h`: the config file's grammar);
/// zero is refused, as every duration flag is an interval or a limit.
pub fn parse_duration_arg(text: &str) -> Result<Duration, String> {
    let d = subnet_host::units::parse_duration(text)?;
    if d.is_zero() {
        return Err(format!("`{text}` must be above zero"));
    }
    Ok(d)
}

/// A size on the command line (`8MiB`, `512KiB`, `1048576`: the config file's grammar); zero is
/// refused.
pub fn parse_size_arg(text: &str) -> Result<usize, String> {
    let n = subnet_host::units::parse_size(text)?;
    match usize::try_from(n) {
        Ok(0) => Err(format!("`{text}` must be above zero")),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{text}` is too large for this machine")),
    }
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
