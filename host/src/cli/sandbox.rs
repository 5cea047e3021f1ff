//! `subnetd sandbox`: run a subnet locally with simulated miners and validators.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use subnet_host::bundle::Bundle;
use subnet_host::guest_build::Toolchain;
use subnet_host::sandbox::{self, SandboxConfig, ValidatorKind, ValidatorSpec};

/// Arguments of `subnetd sandbox`.
#[derive(Args)]
pub struct SandboxArgs {
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
    /// Commit-reveal of weights: `on` (the default, as on today's network: timelocked commits
    /// revealed by the chain with its drand beacon) or `off` (plain set_weights).
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set)]
    commit_reveal: bool,
    /// Keep the local chain in this directory (resume a stopped run by passing it again).
    #[arg(long)]
    state: Option<PathBuf>,
    /// The model registry (models.toml) for subnets that use the compute capability;
    /// default: the file $SUBNETD_MODELS names (which must exist), else
    /// ~/.config/subnetd/models.toml, else <source tree>/.venv/share/subnetd/models.toml (which
    /// scripts/setup.sh writes for the test models). The log says which was loaded.
    #[arg(long)]
    models: Option<PathBuf>,
    /// Serve each miner over HTTP on loopback and query it with signed requests (the real
    /// network path; latencies are real, so reports vary slightly between runs).
    #[arg(long)]
    network: bool,
    /// Exit 0 even when validator rounds failed as a whole (every task unscored, or a `score`
    /// that trapped); by default such a run prints its report and exits non-zero.
    #[arg(long)]
    allow_failures: bool,
    /// With `--network`, the wire protocol (`axon` uses the synapse `SandboxTask` unless
    /// `--synapse` names another).
    #[command(flatten)]
    protocol: super::protocol::ProtocolArgs,
    /// Let the validators make outbound HTTP requests to this target (`scheme://host[:port]`,
    /// as `outbound_hosts` in a daemon's config; loopback by IP literal); repeatable.
    #[arg(long = "outbound-host", value_name = "RULE")]
    outbound_hosts: Vec<String>,
    /// Print the report as JSON (per epoch, every task's score of every uid with the module's
    /// metrics).
    #[arg(long)]
    json: bool,
    /// After the earnings, a table of the metrics the validator module returned with its
    /// scores (quality, speed, ...), each uid's mean over the run.
    #[arg(long)]
    metrics: bool,
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

/// Runs `subnetd sandbox`.
fn parse_on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("`{other}`: use on or off")),
    }
}

pub async fn run(args: SandboxArgs) -> Result<()> {
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
        commit_reveal: args.commit_reveal,
        state_dir: args.state.clone(),
        network: args.network,
        protocol: args.protocol.resolve(Some("SandboxTask"))?,
        outbound: if args.outbound_hosts.is_empty() {
            None
        } else {
            let rules: Vec<&str> = args.outbound_hosts.iter().map(String::as_str).collect();
            let policy = subnet_host::caps::http::OutboundPolicy::new(&rules, Default::default())
                .map_err(|e| anyhow::anyhow!("--outbound-host {e}"))?;
            Some(policy)
        },
        ..SandboxConfig::default()
    };
    let compute = super::start_compute(&toolchain, args.models.as_deref(), &built.compute_models).await?;
    let config = SandboxConfig { compute, ..config };
    let runtime = super::new_runtime()?;
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
        print!("{}", report.render_with(args.metrics));
    }
    let failed = report.failed_rounds();
    if let Some(first) = failed.first().filter(|_| !args.allow_failures) {
        bail!(
            "{} validator round(s) failed as a whole, so the table above measures the module's failure, not the \
             subnet; the first: {first}\n(--allow-failures exits 0 anyway)",
            failed.len()
        );
    }
    Ok(())
}
