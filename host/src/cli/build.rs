//! `subnetd build`: build a bundle or one guest directory into components.
//!
//! Each module is printed with its SHA-256 and the directory it was built from, so what gets
//! signed is visibly what was built. The bundle's modules build in parallel (a spinner per
//! module on a terminal), then each is compiled into the compile cache the daemon and the
//! sandbox read (`--no-warm` skips it), so the first load after a build or a hot reload is a
//! cache hit instead of seconds of Cranelift.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use subnet_host::bundle::{Bundle, ModuleBuild};
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
    /// Do not compile the built components into the compile cache.
    #[arg(long)]
    no_warm: bool,
}

/// Runs `subnetd build`.
pub fn run(args: BuildArgs) -> Result<()> {
    let toolchain = Toolchain::locate();
    let dir = args.dir.as_path();
    let builds = if dir.join(subnet_host::bundle::MANIFEST).is_file() {
        build_bundle(&toolchain, dir)?
    } else {
        if !dir.is_dir() {
            bail!("{}: not a directory", dir.display());
        }
        let out = args.out.unwrap_or_else(|| dir.join("build").join(format!("{}.wasm", args.world)));
        let started = Instant::now();
        let source = GuestSource { dir: dir.to_path_buf(), world: args.world, language: None };
        let language = guest_build::build(&toolchain, &source, &out)?;
        vec![ModuleBuild::of(
            args.world.to_string(),
            args.world,
            out,
            Some(dir.to_path_buf()),
            Some(language),
            started.elapsed(),
        )?]
    };
    for b in &builds {
        println!("{}", describe(b));
    }
    if !args.no_warm {
        warm(&builds)?;
    }
    Ok(())
}

/// `validator  build/validator.wasm  sha256 1f2e…  12.3 MB  (js, from examples/x/validator, 8.1 s)`.
fn describe(b: &ModuleBuild) -> String {
    let from = match (&b.source, b.language) {
        (Some(dir), Some(language)) => format!("{language}, from {}", dir.display()),
        _ => "prebuilt".to_owned(),
    };
    format!(
        "{:<16} {}  sha256 {}  {:.1} MB  ({from}, {:.1} s)",
        b.role,
        b.path.display(),
        b.sha256,
        b.bytes as f64 / 1e6,
        b.elapsed.as_secs_f64()
    )
}

fn build_bundle(toolchain: &Toolchain, dir: &Path) -> Result<Vec<ModuleBuild>> {
    let bundle = Bundle::resolve(dir)?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(1 + bundle.miners.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} building {pos}/{len} modules {wide_bar} {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    });
    let result = bundle.build_reporting(toolchain, &|_| {
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(result?.1)
}

/// Compiles each component into the compile cache (a cache hit costs a file read).
fn warm(builds: &[ModuleBuild]) -> Result<()> {
    let runtime = super::new_runtime()?;
    for b in builds {
        let started = Instant::now();
        let bytes = std::fs::read(&b.path).with_context(|| format!("reading {}", b.path.display()))?;
        let loaded = match b.world {
            World::Validator => runtime.load_validator(&b.role, &bytes).map(|_| ()),
            World::Miner => runtime.load_miner(&b.role, &bytes).map(|_| ()),
        };
        loaded.map_err(|e| anyhow::anyhow!("{e}")).with_context(|| format!("loading {}", b.path.display()))?;
        tracing::info!(module = %b.role, elapsed = ?started.elapsed(), "compile cache warm");
    }
    Ok(())
}
