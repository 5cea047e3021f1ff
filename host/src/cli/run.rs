//! `subnetd run`: the hosted validator daemon (being written).

use anyhow::{Result, bail};
use clap::Args;

/// Arguments of `subnetd run`.
#[derive(Args)]
pub struct RunArgs {}

/// Runs `subnetd run`.
pub async fn run(_args: RunArgs) -> Result<()> {
    bail!("`subnetd run` is not available yet")
}

/// Arguments of `subnetd reload`.
#[derive(Args)]
pub struct ReloadArgs {}

/// Runs `subnetd reload`.
pub async fn run_reload(_args: ReloadArgs) -> Result<()> {
    bail!("`subnetd reload` is not available yet")
}
