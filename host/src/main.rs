//! `subnetd`: the command line of the subnet host.
//!
//! Errors are printed as one line (with the chain of causes) and exit with status 1; usage
//! errors exit with 2 (clap's convention). Each subcommand lives in its own module of [`cli`].

mod cli;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "subnetd", version, about = "Run Bittensor subnets as WebAssembly components")]
struct Cli {
    /// More logging. Default: warnings and errors; `run` and `miner` also log at info (rounds,
    /// weights, reloads). -v: info for every command; -vv: debug for subnetd's own modules
    /// (per-miner failures, module call errors with backtraces); -vvv: debug for everything,
    /// libraries included. RUST_LOG overrides all of it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Log format on stderr: `text` (colours only on a terminal, never with NO_COLOR set) or
    /// `json` (one object per line: timestamp, level, target, fields, spans).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a component against the subnet worlds and show what it imports and exports.
    Check(cli::check::CheckArgs),
    /// Build a subnet bundle (a directory with subnet.toml) or one guest directory.
    Build(cli::build::BuildArgs),
    /// Run a subnet locally for a few epochs with simulated miners and validators.
    Sandbox(cli::sandbox::SandboxArgs),
    /// Serve a miner module over HTTP, authenticating validators with their hotkeys.
    Miner(cli::miner::MinerArgs),
    /// Run a local chain node other processes can share, and administer it.
    Chain(cli::chain::ChainArgs),
    /// Create and inspect hotkeys in bittensor wallet directories.
    Wallet(cli::wallet::WalletArgs),
    /// Run the hosted validator daemon for the subnets of a config file.
    Run(cli::run::RunArgs),
    /// Ask a running daemon to reload its modules now, or its config file (--apply-config).
    Reload(cli::run::ReloadArgs),
    /// Sign a module with a subnet owner's ed25519 key (writes a detached `.sig`).
    Sign(cli::sign::SignArgs),
    /// Verify a module's detached signature.
    Verify(cli::sign::VerifyArgs),
    /// Scaffold a new subnet (validator and miner) in Rust, Python, JavaScript or C.
    New(cli::new::NewArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Long-running services log what they do by default; one-shot commands stay quiet.
    let service = matches!(cli.command, Command::Run(_) | Command::Miner(_));
    // -vv is subnetd's own debug lines, not hyper's and wasmtime's: those need -vvv.
    let default = match (cli.verbose, service) {
        (0, false) => "warn",
        (0, true) | (1, _) => "info",
        (2, _) => "info,subnetd=debug,subnet_host=debug,subnet_chain=debug,subnet_subtensor=debug,subnet_compute=debug",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).init(),
        LogFormat::Text => {
            // Colours are for people at a terminal: files and journald get plain text.
            use std::io::IsTerminal as _;
            let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            builder.with_ansi(colour).init()
        }
    }

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
        Command::Check(args) => cli::check::run(args),
        Command::Build(args) => cli::build::run(args),
        Command::Sandbox(args) => cli::sandbox::run(args).await,
        Command::Miner(args) => cli::miner::run(args).await,
        Command::Chain(args) => cli::chain::run(args).await,
        Command::Wallet(args) => cli::wallet::run(args).await,
        Command::Run(args) => cli::run::run(args).await,
        Command::Reload(args) => cli::run::run_reload(args).await,
        Command::Sign(args) => cli::sign::run(args).await,
        Command::Verify(args) => cli::sign::run_verify(args).await,
        Command::New(args) => cli::new::run(args).await,
    }
}
