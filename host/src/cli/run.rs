//! `subnetd run`: the hosted validator daemon; `subnetd reload`: ask a running one to reload.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use subnet_host::daemon::client::AdminClient;
use subnet_host::daemon::{Daemon, DaemonConfig, DaemonOptions};

/// Arguments of `subnetd run`.
#[derive(Args)]
pub struct RunArgs {
    /// The daemon's config file (see examples/daemon/subnetd.toml).
    #[arg(long, short, default_value = "subnetd.toml")]
    config: PathBuf,
    /// Check the config file and exit.
    #[arg(long)]
    check: bool,
}

/// Runs `subnetd run`: starts the daemon and serves until SIGTERM or SIGINT, then shuts down
/// gracefully (rounds in flight finish and commit).
pub async fn run(args: RunArgs) -> Result<()> {
    let config = DaemonConfig::load(&args.config)?;
    if args.check {
        println!("{}: ok ({} subnets)", args.config.display(), config.subnets.len());
        return Ok(());
    }
    let shutdown = super::shutdown_signal()?;
    let daemon = Daemon::start(config, DaemonOptions::default()).await?;
    println!("subnetd: running; admin API on http://{}", daemon.admin_addr());
    shutdown.await;
    println!("subnetd: shutting down");
    daemon.shutdown().await;
    Ok(())
}

/// Arguments of `subnetd reload`.
#[derive(Args)]
pub struct ReloadArgs {
    /// The daemon's admin address (host:port).
    #[arg(long, conflicts_with = "config")]
    admin: Option<SocketAddr>,
    /// The daemon's config file: the admin address is read from its state directory
    /// (`admin.addr`), else from `[admin] listen`.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Reload only this subnet.
    #[arg(long)]
    netuid: Option<u16>,
    /// Print the reload records as JSON.
    #[arg(long)]
    json: bool,
}

fn client_for(args: &ReloadArgs) -> Result<AdminClient> {
    if let Some(addr) = args.admin {
        return Ok(AdminClient::new(addr));
    }
    let path = args.config.clone().unwrap_or_else(|| PathBuf::from("subnetd.toml"));
    let config = DaemonConfig::load(&path)?;
    Ok(AdminClient::from_state_dir(&config.state_dir).unwrap_or_else(|_| AdminClient::new(config.admin.listen)))
}

/// Runs `subnetd reload`: exits non-zero when a reload was refused.
pub async fn run_reload(args: ReloadArgs) -> Result<()> {
    let client = client_for(&args)?;
    let records = client.reload(args.netuid).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&records)?);
    }
    let mut refused = 0;
    for r in &records {
        let field = |k: &str| r.get(k).and_then(|v| v.as_str()).unwrap_or("-").to_owned();
        let netuid = r.get("netuid").and_then(|v| v.as_u64()).unwrap_or(0);
        let hash: String = field("hash").chars().take(12).collect();
        let outcome = field("outcome");
        let ms = r.get("duration_ms").and_then(|v| v.as_f64()).unwrap_or(0.0);
        if !args.json {
            match outcome.as_str() {
                "refused" => println!("subnet {netuid}: refused {hash}: {}", field("reason")),
                _ => println!(
                    "subnet {netuid}: {outcome} {hash} (version {}, generation {}) in {ms:.0} ms",
                    field("version"),
                    r.get("generation").and_then(|v| v.as_u64()).map_or("-".into(), |g| g.to_string())
                ),
            }
        }
        if outcome == "refused" {
            refused += 1;
        }
    }
    if refused > 0 {
        bail!("{refused} of {} reloads refused; the previous versions keep serving", records.len());
    }
    Ok(())
}
