//! `subnetd miner`: serve a miner module over HTTP at the miner's axon.
//!
//! Loads the module (a `.wasm` component, a miner guest directory, or a bundle directory with
//! `subnet.toml`, whose first honest miner is served unless `--miner-name` says otherwise),
//! loads the hotkey from a bittensor wallet, connects to a chain node, starts the server
//! ([`subnet_host::net::spawn_miner_server`]) and announces the axon on chain (`serve_axon`,
//! signed by the hotkey). Prints the listening address as its first stdout line; logs each
//! verified request (with `-v`). Stops gracefully on Ctrl-C or SIGTERM.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use subnet_chain::{AccountId, AxonInfo, NetUid, SubtensorError};
use subnet_host::bundle::{Bundle, MANIFEST, ModuleSource};
use subnet_host::guest_build::{self, GuestSource, Toolchain};
use subnet_host::net::admission::CallerPolicy;
use subnet_host::net::{MinerServerConfig, spawn_miner_server};
use subnet_host::node::ChainTarget;
use subnet_host::runtime::{MinerModule, World};

use super::wallet::{self, WalletsDir};

/// Arguments of `subnetd miner`.
#[derive(Args)]
pub struct MinerArgs {
    /// The miner: a component (.wasm), a miner guest directory, or a bundle directory (its
    /// component built before, or built now with --build).
    #[arg(long)]
    module: PathBuf,
    /// Build the miner from its sources first (only that miner; a lock keeps concurrent builds
    /// of one directory apart).
    #[arg(long)]
    build: bool,
    /// In a bundle, the miner to serve (default: the first honest one).
    #[arg(long)]
    miner_name: Option<String>,
    /// Wallet name.
    #[arg(long)]
    wallet: String,
    /// Hotkey name.
    #[arg(long, default_value = "default")]
    hotkey: String,
    #[command(flatten)]
    dir: WalletsDir,
    /// Subnet served.
    #[arg(long)]
    netuid: NetUid,
    /// Port to listen on (0 picks a free one; the address is printed).
    #[arg(long, default_value_t = 8091)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    listen_ip: IpAddr,
    /// Address announced on chain (default: the listening address).
    #[arg(long)]
    external_ip: Option<IpAddr>,
    /// The chain: a subtensor endpoint (local, test, finney, ws://HOST:PORT) or a
    /// `subnetd chain serve` node (http://HOST:PORT).
    #[arg(long)]
    chain: ChainTarget,
    /// Largest task body (bytes; suffixes KiB, MiB).
    #[arg(long, default_value = "8MiB", value_parser = super::parse_size_arg)]
    max_body: usize,
    /// Module calls at once; more wait, highest stake first.
    #[arg(long, default_value_t = 16)]
    max_concurrency: usize,
    /// Requests waiting for a module slot before `overloaded`.
    #[arg(long, default_value_t = 256)]
    max_queue: usize,
    /// Cap on the timeout a validator may give (e.g. 60s).
    #[arg(long, default_value = "60s", value_parser = super::parse_duration_arg)]
    max_timeout: Duration,
    /// Hotkeys (SS58) to refuse, comma-separated.
    #[arg(long, value_delimiter = ',')]
    blacklist: Vec<AccountId>,
    /// Least stake (TAO) a caller needs.
    #[arg(long, default_value_t = 0.0)]
    min_stake: f64,
    /// Do not announce the axon on chain.
    #[arg(long)]
    no_serve_axon: bool,
    /// Who may query: `staked` (validator-permitted or staked hotkeys, the default: a
    /// zero-stake registration gets nothing), `permitted` (validator permit only) or
    /// `registered` (any registered hotkey).
    #[arg(long, default_value = "staked", value_parser = parse_callers)]
    callers: CallerPolicy,
    /// The wire protocol served (`--protocol axon --synapse TextTask` serves bittensor
    /// Dendrites at `POST /TextTask`).
    #[command(flatten)]
    protocol: super::protocol::ProtocolArgs,
    /// Give the miner module a durable key-value store in DIR (`DIR/state.redb`, created if
    /// missing; one process at a time). Without it the module's `kv` answers `denied`.
    #[arg(long, value_name = "DIR")]
    kv: Option<PathBuf>,
    /// Size budget of the `--kv` store (suffixes KiB, MiB, GiB).
    #[arg(long, default_value = "64MiB", value_parser = super::parse_size_arg)]
    kv_budget: usize,
}

fn parse_callers(s: &str) -> std::result::Result<CallerPolicy, String> {
    match s {
        "staked" => Ok(CallerPolicy::PermittedOrStaked),
        "permitted" => Ok(CallerPolicy::Permitted),
        "registered" => Ok(CallerPolicy::Registered),
        other => Err(format!("`{other}`: expected staked, permitted or registered")),
    }
}

/// The component to serve. A `.wasm` is used as it is. A bundle or guest directory is built
/// only with `--build` (just the chosen miner, never the validator), under an exclusive lock on
/// its build directory so miners started together cannot race on the same files; without
/// `--build` the component built before (`<dir>/build/miner[-<name>].wasm`) is used, and its
/// absence is an error that says how to build it.
fn resolve_module(path: &Path, miner_name: Option<&str>, build: bool) -> Result<PathBuf> {
    if !path.exists() {
        bail!("{}: no such file or directory", path.display());
    }
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    let (source, out, label) = if path.join(MANIFEST).is_file() {
        let bundle = Bundle::resolve(path)?;
        let chosen = match miner_name {
            Some(name) => bundle.miners.iter().find(|m| m.name == name),
            None => bundle.miners.iter().find(|m| m.honest),
        };
        let Some(miner) = chosen else {
            bail!(match miner_name {
                Some(n) => format!("{}: the bundle has no miner named `{n}`", path.display()),
                None => format!("{}: the bundle has no honest miner", path.display()),
            });
        };
        let out = bundle.build_dir.join(format!("miner-{}.wasm", miner.name));
        match &miner.source {
            ModuleSource::Wasm(p) => return Ok(p.clone()),
            ModuleSource::Guest { dir, language } => (
                GuestSource { dir: dir.clone(), world: World::Miner, language: *language },
                out,
                format!("miner `{}` of {}", miner.name, path.display()),
            ),
        }
    } else {
        let out = path.join("build").join("miner.wasm");
        (GuestSource { dir: path.to_path_buf(), world: World::Miner, language: None }, out, path.display().to_string())
    };
    if !build {
        if out.is_file() {
            eprintln!("serving {} (built before; pass --build to rebuild)", out.display());
            return Ok(out);
        }
        bail!("{label} is not built ({} is missing): pass --build to build it, or --module a .wasm", out.display());
    }
    let dir = out.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let _lock = BuildLock::acquire(&dir.join(".build.lock"))?;
    let started = std::time::Instant::now();
    eprintln!("building {label} ...");
    guest_build::build(&Toolchain::locate(), &source, &out).with_context(|| format!("building {label}"))?;
    eprintln!("built {} in {:.1}s", out.display(), started.elapsed().as_secs_f64());
    Ok(out)
}

/// An exclusive `flock` on a file, held while a build writes its outputs; released on drop
/// (and by the kernel if the process dies).
struct BuildLock {
    _file: std::fs::File,
}

impl BuildLock {
    fn acquire(path: &Path) -> Result<Self> {
        use std::os::fd::AsRawFd;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        // SAFETY: `flock` on a descriptor this function owns; no memory is shared with it.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            eprintln!("waiting for another build of {} ...", path.parent().unwrap_or(path).display());
            // SAFETY: as above; blocking until the other holder releases it.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
                bail!("locking {}: {}", path.display(), std::io::Error::last_os_error());
            }
        }
        Ok(Self { _file: file })
    }
}

fn load_module(path: &Path) -> Result<MinerModule> {
    let runtime = super::new_runtime()?;
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("miner").to_owned();
    runtime.load_miner(&name, &bytes).with_context(|| format!("{}", path.display()))
}

/// Runs `subnetd miner`.
pub async fn run(args: MinerArgs) -> Result<()> {
    let shutdown = super::shutdown_signal()?;
    if !args.min_stake.is_finite() || args.min_stake < 0.0 {
        bail!("--min-stake must be a non-negative number of TAO");
    }
    if args.listen_ip.is_unspecified() && args.external_ip.is_none() && !args.no_serve_axon {
        bail!("listening on {} announces no reachable address: pass --external-ip", args.listen_ip);
    }
    let protocol = args.protocol.resolve(None)?;
    let root = args.dir.root()?;
    let hotkey = wallet::load_hotkey(&root, &args.wallet, &args.hotkey)?;
    let me = hotkey.account_id();
    let module_path = resolve_module(&args.module, args.miner_name.as_deref(), args.build)?;
    let module = load_module(&module_path)?;

    let signing_key = hotkey.clone();
    let chain = args.chain.connect([hotkey]).await.with_context(|| format!("chain {}", args.chain))?;
    let metagraph = chain.metagraph(args.netuid).await.with_context(|| format!("subnet {}", args.netuid))?;
    let Some(uid) = metagraph.uid_of(&me) else {
        bail!(
            "hotkey {me} is not registered on subnet {}: register it first (subnetd chain register --netuid {} --wallet {} --hotkey {})",
            args.netuid,
            args.netuid,
            args.wallet,
            args.hotkey
        );
    };

    let mut config = MinerServerConfig::new(args.netuid, me);
    config.listen = SocketAddr::new(args.listen_ip, args.port);
    config.max_body_bytes = args.max_body;
    config.max_concurrency = args.max_concurrency;
    config.max_queue = args.max_queue;
    config.max_timeout = args.max_timeout;
    config.blacklist = args.blacklist.iter().copied().collect::<HashSet<_>>();
    config.min_stake_rao = (args.min_stake * 1e9).round() as u64;
    config.admission.callers = args.callers;
    config.protocol = protocol;
    config.signing_key = Some(signing_key);
    let handle_protocol = config.protocol.name();
    if let Some(dir) = &args.kv {
        use subnet_host::caps::kv::KvProvider;
        let db = subnet_host::daemon::store::StateDb::open(dir).with_context(|| format!("--kv {}", dir.display()))?;
        let store = db.open(args.netuid, args.kv_budget as u64).map_err(|e| anyhow!("--kv {}: {e}", dir.display()))?;
        tracing::info!(dir = %dir.display(), budget = args.kv_budget, "miner key-value store granted");
        config.kv = Some(store);
    }
    let handle = spawn_miner_server(config, module, chain.clone()).await?;
    let addr = handle.local_addr();

    if !args.no_serve_axon {
        let announced = SocketAddr::new(args.external_ip.unwrap_or(addr.ip()), addr.port());
        // Protocol 4: HTTP, by the convention of subnets that serve plain HTTP axons.
        let axon = AxonInfo::from_socket_addr(announced, 1, 4);
        match chain.serve_axon(&me, args.netuid, axon).await {
            Ok(_) => tracing::info!(%announced, uid, "axon served on chain"),
            Err(e) if e.is(SubtensorError::ServingRateLimitExceeded) => {
                let current =
                    metagraph.neurons.get(usize::from(uid)).and_then(|n| n.axon).and_then(|a| a.socket_addr());
                if current == Some(announced) {
                    tracing::info!(%announced, "axon already served at this address");
                } else {
                    eprintln!(
                        "warning: the chain refused serve_axon ({e}); validators still see {current:?}, not {announced}"
                    );
                }
            }
            Err(e) => bail!("serve_axon for {announced} failed: {e}"),
        }
    }
    println!("{addr}");
    eprintln!(
        "miner uid {uid} ({me}) serving {} on subnet {} at {addr} ({})",
        module_path.display(),
        args.netuid,
        handle_protocol
    );
    shutdown.await;
    handle.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_is_built_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("v")).unwrap();
        std::fs::create_dir_all(dir.path().join("m")).unwrap();
        std::fs::write(
            dir.path().join(MANIFEST),
            "name = \"t\"\n[validator]\npath = \"v\"\n[[miner]]\nname = \"honest\"\npath = \"m\"\n",
        )
        .unwrap();
        let e = resolve_module(dir.path(), None, false).unwrap_err().to_string();
        assert!(e.contains("not built") && e.contains("pass --build"), "{e}");
        let e = resolve_module(dir.path(), Some("nope"), false).unwrap_err().to_string();
        assert!(e.contains("no miner named `nope`"), "{e}");
        // Built before: served as it is, nothing rebuilt (the validator is never touched).
        let built = dir.path().join("build").join("miner-honest.wasm");
        std::fs::create_dir_all(built.parent().unwrap()).unwrap();
        std::fs::write(&built, b"\0asm").unwrap();
        assert_eq!(resolve_module(dir.path(), None, false).unwrap(), built);
        assert!(!dir.path().join("build").join("validator.wasm").exists());
    }

    #[test]
    fn the_build_lock_is_exclusive() {
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".build.lock");
        let held = BuildLock::acquire(&path).unwrap();
        let other = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        // SAFETY: flock on a descriptor this test owns.
        assert_ne!(unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0);
        drop(held);
        // SAFETY: as above.
        assert_eq!(unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0);
    }
}
