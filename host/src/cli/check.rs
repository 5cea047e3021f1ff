//! `subnetd check`: validate a component and show what it imports and exports.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use subnet_host::bindings::{ContractVersion, PACKAGE_NAME, VERSION};
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
    let supported = ContractVersion::supported_range();
    if json {
        let mut value = serde_json::to_value(info)?;
        value["host_contract"] = serde_json::json!({ "implements": VERSION.to_string(), "loads": supported });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let targets = info.contract.map_or_else(|| "an unversioned".to_owned(), |v| v.to_string());
    println!("{}: a valid `{}` component", path.display(), info.world);
    println!("  contract {PACKAGE_NAME}@{targets}; this host loads {supported}");
    println!("  size     {} bytes, sha256 {}", info.size, info.hash);
    println!("  compiled in {:?} ({:?})", info.load_time, info.cache);
    println!("  exports  {}", info.exports.join(", "));
    println!("  imports  {}", info.imports.join(", "));
    Ok(())
}
