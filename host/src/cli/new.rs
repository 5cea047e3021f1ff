//! `subnetd new`: scaffold a subnet project (being written).

use anyhow::{Result, bail};
use clap::Args;

/// Arguments of `subnetd new`.
#[derive(Args)]
pub struct NewArgs {}

/// Runs `subnetd new`.
pub async fn run(_args: NewArgs) -> Result<()> {
    bail!("`subnetd new` is not available yet")
}
