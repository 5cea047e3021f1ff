//! `subnetd wallet`: create and inspect hotkeys (being written).

use anyhow::{Result, bail};
use clap::Args;

/// Arguments of `subnetd wallet`.
#[derive(Args)]
pub struct WalletArgs {}

/// Runs `subnetd wallet`.
pub async fn run(_args: WalletArgs) -> Result<()> {
    bail!("`subnetd wallet` is not available yet")
}
