//! `subnetd miner`: serve a miner module over HTTP (being written).

use anyhow::{Result, bail};
use clap::Args;

/// Arguments of `subnetd miner`.
#[derive(Args)]
pub struct MinerArgs {}

/// Runs `subnetd miner`.
pub async fn run(_args: MinerArgs) -> Result<()> {
    bail!("`subnetd miner` is not available yet")
}
