//! `subnetd new`: scaffold a subnet project (validator and miner) in Rust, Python, JavaScript or C.

use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::Args;
use subnet_host::guest_build::{Language, Toolchain};
use subnet_host::scaffold;

/// Arguments of `subnetd new`.
#[derive(Args)]
pub struct NewArgs {
    /// The subnet's name; also the directory created, unless --dir says otherwise.
    name: String,
    /// The guest language: rust, python, js or c.
    #[arg(long, default_value = "rust", value_parser = parse_language)]
    lang: Language,
    /// Where to create the project (default: ./<name>).
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn parse_language(text: &str) -> Result<Language, String> {
    Language::parse(text).ok_or_else(|| format!("`{text}` is not a guest language: use rust, python, js or c"))
}

/// Runs `subnetd new`.
pub async fn run(args: NewArgs) -> Result<()> {
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    let files = scaffold::create(&Toolchain::locate(), &dir, &args.name, args.lang).map_err(|e| anyhow!(e))?;
    println!("created {} ({}, {} files)", dir.display(), args.lang, files.len());
    println!("next:  subnetd build {0}  &&  subnetd sandbox {0} --miners 4 --epochs 2", dir.display());
    Ok(())
}
