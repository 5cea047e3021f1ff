//! `subnetd check`: validate a component and show what it imports and exports.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use subnet_host::runtime::LoadedModule;

/// Arguments of `subnetd check`.
#[derive(Args)]
pub struct CheckArgs {
    /// The component (.wasm).
    module: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `subnetd check`.
pub fn run(args: CheckArgs) -> Result<()> {
    check(&args.module, args.json)
}

fn check(path: &Path, json: bool) -> Result<()> {
    let runtime = super::new_runtime()?;
    let module = runtime.load_file(path).with_context(|| format!("{}", path.display()))?;
    let info = match &module {
        LoadedModule::Validator(m) => m.info(),
        LoadedModule::Miner(m) => m.info(),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(info)?);
        return Ok(());
    }
    println!("{}: a valid `{}` component of {}", path.display(), info.world, subnet_host::bindings::PACKAGE);
    println!("  size     {} bytes, sha256 {}", info.size, info.hash);
    println!("  compiled in {:?} ({:?})", info.load_time, info.cache);
    println!("  exports  {}", info.exports.join(", "));
    println!("  imports  {}", info.imports.join(", "));
    Ok(())
}
