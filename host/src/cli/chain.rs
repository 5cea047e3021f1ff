//! `subnetd chain`: run and administer a local chain node (being written).

use anyhow::{Result, bail};
use clap::Args;

/// Arguments of `subnetd chain`.
#[derive(Args)]
pub struct ChainArgs {}

/// Runs `subnetd chain`.
pub async fn run(_args: ChainArgs) -> Result<()> {
    bail!("`subnetd chain` is not available yet")
}
