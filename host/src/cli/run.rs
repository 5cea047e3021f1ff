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
    /// Check the config against the world and exit: wallet and password, modules, chain
    /// reachable, netuids on chain, hotkey registered, stake and permit.
    #[arg(long)]
    check: bool,
    /// With --check: check only the file and its modules (no wallet, no chain).
    #[arg(long, requires = "check")]
    offline: bool,
    /// Start even when another daemon holds this hotkey for a subnet (its lock file beside
    /// the wallet, or weights on chain newer than this daemon's): for a planned migration only,
    /// as two validators on one hotkey overwrite each other's weights.
    #[arg(long)]
    allow_shared_hotkey: bool,
}

/// Runs `subnetd run`: starts the daemon and serves until SIGTERM or SIGINT, then shuts down
/// gracefully (rounds in flight finish and commit). SIGHUP re-reads the config file and
/// applies it per subnet (see `subnet_host::daemon::reconfig`); a refused one keeps the
/// running config.
pub async fn run(args: RunArgs) -> Result<()> {
    let config = DaemonConfig::load(&args.config)?;
    if args.check {
        return super::preflight::check(&config, args.offline).await;
    }
    let shutdown = super::shutdown_signal()?;
    // Installed before the start, so an early SIGHUP is not the default action (exit).
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let options = DaemonOptions { allow_shared_hotkey: args.allow_shared_hotkey, ..DaemonOptions::default() };
    let daemon = Daemon::start(config, options).await?;
    println!("subnetd: running; admin API on http://{}", daemon.admin_addr());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = hangup.recv() => {
                let record = daemon.reload_config().await;
                tracing::info!(outcome = record.outcome, errors = ?record.errors, "SIGHUP: config reload");
            }
        }
    }
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
    #[arg(long, conflicts_with = "apply_config")]
    netuid: Option<u16>,
    /// Re-read the daemon's config file and apply it per subnet (as SIGHUP does) instead of
    /// reloading modules; fails when the new config is refused.
    #[arg(long)]
    apply_config: bool,
    /// Print the reload records as JSON.
    #[arg(long)]
    json: bool,
    /// Apply a module signed before the serving one (a rollback; refused otherwise, so an old
    /// signed module cannot be replayed).
    #[arg(long, conflicts_with = "apply_config")]
    allow_rollback: bool,
    /// The admin token, for `--admin` (the daemon writes it to `<state_dir>/admin.token`;
    /// `--config` reads it from there).
    #[arg(long, env = "SUBNETD_ADMIN_TOKEN", hide_env_values = true, requires = "admin")]
    token: Option<String>,
}

fn client_for(args: &ReloadArgs) -> Result<AdminClient> {
    if let Some(addr) = args.admin {
        let client = AdminClient::new(addr);
        return Ok(match &args.token {
            Some(token) => client.with_token(token.trim()),
            None => client,
        });
    }
    let path = args.config.clone().unwrap_or_else(|| PathBuf::from("subnetd.toml"));
    let config = DaemonConfig::load(&path)?;
    Ok(AdminClient::from_state_dir(&config.state_dir).unwrap_or_else(|_| AdminClient::new(config.admin.listen)))
}

/// Runs `subnetd reload`: exits non-zero when a reload was refused.
pub async fn run_reload(args: ReloadArgs) -> Result<()> {
    let client = client_for(&args)?;
    if args.apply_config {
        let (status, body) = client.request("POST", "/config/reload").await?;
        let record: serde_json::Value = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
        if args.json {
            println!("{}", serde_json::to_string_pretty(&record)?);
        } else {
            println!(
                "config reload: {} (added {}, removed {}, changed {})",
                record["outcome"].as_str().unwrap_or("?"),
                record["added"],
                record["removed"],
                record["changed"]
            );
        }
        if status != 200 {
            bail!("config reload {}: {}", record["outcome"].as_str().unwrap_or("failed"), record["errors"]);
        }
        return Ok(());
    }
    let records = client.reload_with(args.netuid, args.allow_rollback).await?;
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
