//! `subnetd check`: validate a component and show what it imports and exports, or validate a
//! bundle's `subnet.toml` (every error names the key) and show what it declares.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use subnet_host::bindings::{ContractVersion, PACKAGE_NAME, VERSION};
use subnet_host::runtime::LoadedModule;

/// Arguments of `subnetd check`.
#[derive(Args)]
pub struct CheckArgs {
    /// The component (.wasm), or a bundle (a directory with a subnet.toml, or the file).
    module: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `subnetd check`.
pub fn run(args: CheckArgs) -> Result<()> {
    let manifest = if args.module.is_dir() { args.module.join("subnet.toml") } else { args.module.clone() };
    if manifest.file_name().is_some_and(|n| n == "subnet.toml") {
        return check_bundle(&manifest, args.json);
    }
    check(&args.module, args.json)
}

/// A guest directory's language, or what the file is.
fn describe_source(source: &subnet_host::bundle::ModuleSource) -> String {
    use subnet_host::bundle::ModuleSource;
    use subnet_host::guest_build::Language;
    match source {
        ModuleSource::Wasm(path) => format!("{} (a component)", path.display()),
        ModuleSource::Guest { dir, language } => {
            let language = language.or_else(|| Language::detect(dir));
            let language = language.map_or_else(|| "no language detected".to_owned(), |l| l.to_string());
            format!("{} ({language})", dir.display())
        }
    }
}

fn check_bundle(manifest: &Path, json: bool) -> Result<()> {
    let dir = manifest.parent().unwrap_or(Path::new("."));
    if !manifest.is_file() {
        anyhow::bail!("{}: not a component or a bundle (no subnet.toml)", dir.display());
    }
    let bundle = subnet_host::bundle::Bundle::resolve(dir)?;
    if json {
        let miners: Vec<_> = bundle
            .miners
            .iter()
            .map(|m| serde_json::json!({ "name": m.name, "honest": m.honest, "source": describe_source(&m.source) }))
            .collect();
        let value = serde_json::json!({
            "name": bundle.name,
            "validator": describe_source(&bundle.validator),
            "miners": miners,
            "compute_models": bundle.compute_models,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!("{}: a valid bundle `{}`", manifest.display(), bundle.name);
    println!("  validator  {}", describe_source(&bundle.validator));
    for m in &bundle.miners {
        let role = if m.honest { "honest" } else { "adversary" };
        println!("  miner      {} ({role}): {}", m.name, describe_source(&m.source));
    }
    if !bundle.compute_models.is_empty() {
        println!("  compute    {}", bundle.compute_models.join(", "));
    }
    Ok(())
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
