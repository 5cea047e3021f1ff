//! `subnetd`: the command line of the subnet host.
//!
//! Errors are printed as one line (with the chain of causes) and exit with status 1; usage
//! errors exit with 2 (clap's convention).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use subnet_host::bundle::Bundle;
use subnet_host::guest_build::{self, GuestSource, Toolchain};
use subnet_host::runtime::{LoadedModule, Runtime, RuntimeConfig, World};
use subnet_host::sandbox::{self, SandboxConfig, ValidatorKind, ValidatorSpec};

#[derive(Parser)]
#[command(name = "subnetd", version, about = "Run Bittensor subnets as WebAssembly components")]
struct Cli {
    /// More logging (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a component against the subnet worlds and show what it imports and exports.
    Check {
        /// The component (.wasm).
        module: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Build a subnet bundle (a directory with subnet.toml) or one guest directory.
    Build {
        /// The bundle or guest directory.
        dir: PathBuf,
        /// For a single guest directory: the world it implements.
        #[arg(long, default_value = "validator", value_parser = parse_world)]
        world: World,
        /// For a single guest directory: where to write the component.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Run a subnet locally for a few epochs with simulated miners and validators.
    Sandbox(SandboxArgs),
}

#[derive(Args)]
struct SandboxArgs {
    /// A bundle directory (with subnet.toml), a validator guest directory, or a validator .wasm.
    path: PathBuf,
    /// Number of simulated miners.
    #[arg(long, default_value_t = 8)]
    miners: usize,
    /// Epochs to run after the warm-up epoch.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Seed of everything random: same seed, same report.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Honest validators (they run the subnet's validator module).
    #[arg(long, default_value_t = 1)]
    validators: usize,
    /// Weight-copying validators (they set the previous epoch's consensus).
    #[arg(long, default_value_t = 0)]
    copiers: usize,
    /// Lazy validators (they set uniform weights).
    #[arg(long, default_value_t = 0)]
    lazy_validators: usize,
    /// Validator stakes in alpha, comma-separated, in uid order (honest, copiers, lazy);
    /// missing ones are 10000.
    #[arg(long, value_delimiter = ',')]
    stakes: Vec<f64>,
    /// Miner mix, e.g. `honest=5,lazy=1,random=1,copycat=1` (names from the bundle).
    #[arg(long)]
    mix: Option<String>,
    /// Extra honest miner module (a .wasm or guest directory); may be repeated.
    #[arg(long = "miner")]
    miner_modules: Vec<PathBuf>,
    /// Blocks per epoch (subtensor's Tempo).
    #[arg(long, default_value_t = 360)]
    tempo: u16,
    /// Classic bonds instead of Yuma3.
    #[arg(long)]
    classic: bool,
    /// Keep the local chain in this directory (resume a stopped run by passing it again).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_world(text: &str) -> Result<World, String> {
    match text {
        "validator" => Ok(World::Validator),
        "miner" => Ok(World::Miner),
        _ => Err(format!("`{text}` is not a world: use validator or miner")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<()> {
    match command {
        Command::Check { module, json } => check(&module, json),
        Command::Build { dir, world, out } => build(&dir, world, out),
        Command::Sandbox(args) => run_sandbox(args).await,
    }
}

fn new_runtime() -> Result<Runtime> {
    Runtime::new(RuntimeConfig::default()).map_err(|e| anyhow::anyhow!("{e:#}")).context("starting wasmtime")
}

fn check(path: &Path, json: bool) -> Result<()> {
    let runtime = new_runtime()?;
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
    let language = guest_build::build(&toolchain, &GuestSource { dir: dir.to_path_buf(), world, language: None }, &out)?;
    println!("{} ({language} {world}) -> {}", dir.display(), out.display());
    Ok(())
}

fn parse_mix(text: &str) -> Result<Vec<(String, usize)>> {
    text.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let (name, count) = part.split_once('=').unwrap_or((part, "1"));
            let count: usize = count.trim().parse().with_context(|| format!("--mix: `{part}` needs name=count"))?;
            Ok((name.trim().to_owned(), count))
        })
        .collect()
}

async fn run_sandbox(args: SandboxArgs) -> Result<()> {
    let toolchain = Toolchain::locate();
    let mut bundle = Bundle::resolve(&args.path)?;
    for (i, path) in args.miner_modules.iter().enumerate() {
        let source = Bundle::resolve(path)?.validator;
        bundle.miners.push(subnet_host::bundle::MinerSource { name: format!("miner{i}"), honest: true, source });
    }
    let built = bundle.build(&toolchain).context("building the subnet's modules")?;

    let mut validators = Vec::new();
    let kinds = std::iter::repeat_n(ValidatorKind::Honest, args.validators)
        .chain(std::iter::repeat_n(ValidatorKind::Copier, args.copiers))
        .chain(std::iter::repeat_n(ValidatorKind::Lazy, args.lazy_validators));
    for (i, kind) in kinds.enumerate() {
        let stake = args.stakes.get(i).copied().unwrap_or(sandbox::DEFAULT_VALIDATOR_STAKE);
        if !stake.is_finite() || stake < 0.0 {
            bail!("--stakes: stake {stake} of validator {i} must be a non-negative number");
        }
        validators.push(ValidatorSpec { kind, stake });
    }
    if args.stakes.len() > validators.len() {
        bail!("--stakes lists {} stakes for {} validators", args.stakes.len(), validators.len());
    }
    let config = SandboxConfig {
        miners: args.miners,
        epochs: args.epochs,
        seed: args.seed,
        validators,
        mix: args.mix.as_deref().map(parse_mix).transpose()?,
        tempo: args.tempo,
        yuma3: !args.classic,
        state_dir: args.state.clone(),
        ..SandboxConfig::default()
    };
    let runtime = new_runtime()?;
    let bar = (!args.json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(args.epochs as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} epoch {pos}/{len} {wide_bar} {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let report = sandbox::run(&runtime, &built, &config, |done, _| {
        if let Some(bar) = &bar {
            bar.set_position(done as u64);
        }
    })
    .await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render());
    }
    Ok(())
}
