//! `subnetd build`: build a bundle or one guest directory into components.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Args;
use subnet_host::bundle::Bundle;
use subnet_host::guest_build::{self, GuestSource, Toolchain};
use subnet_host::runtime::World;

/// Arguments of `subnetd build`.
#[derive(Args)]
pub struct BuildArgs {
    /// The bundle or guest directory.
    dir: PathBuf,
    /// For a single guest directory: the world it implements.
    #[arg(long, default_value = "validator", value_parser = super::parse_world)]
    world: World,
    /// For a single guest directory: where to write the component.
    #[arg(long, short)]
    out: Option<PathBuf>,
}

/// Runs `subnetd build`.
pub fn run(args: BuildArgs) -> Result<()> {
    build(&args.dir, args.world, args.out)
}

fn build(dir: &Path, world: World, out: Option<PathBuf>) -> Result<()> {
    let toolchain = Toolchain::locate();
    if dir.join(subnet_host::bundle::MANIFEST).is_file() {
        let built = Bundle::resolve(dir)?.build(&toolchain)?;
        println!("validator  {}", built.validator.display());
        for (name, _, path) in &built.miners {
            println!("miner {name:<8} {}", path.display());
        }
        return Ok(());
    }
    if !dir.is_dir() {
        bail!("{}: not a directory", dir.display());
    }
    let out = out.unwrap_or_else(|| dir.join("build").join(format!("{world}.wasm")));
    let language =
        guest_build::build(&toolchain, &GuestSource { dir: dir.to_path_buf(), world, language: None }, &out)?;
    println!("{} ({language} {world}) -> {}", dir.display(), out.display());
    Ok(())
}
