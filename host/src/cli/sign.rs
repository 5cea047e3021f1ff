//! `subnetd sign`: sign and verify modules (being written).

use anyhow::{Result, bail};
use clap::Args;

/// Arguments of `subnetd sign`.
#[derive(Args)]
pub struct SignArgs {}

/// Runs `subnetd sign`.
pub async fn run(_args: SignArgs) -> Result<()> {
    bail!("`subnetd sign` is not available yet")
}

/// Arguments of `subnetd verify`.
#[derive(Args)]
pub struct VerifyArgs {}

/// Runs `subnetd verify`.
pub async fn run_verify(_args: VerifyArgs) -> Result<()> {
    bail!("`subnetd verify` is not available yet")
}
