//! A real subtensor runtime on this machine, for tests and local experiments: Chopsticks
//! (`@acala-network/chopsticks`, installed by `npm ci` in `host/subtensor/chopsticks/`) running a
//! raw subtensor chain spec offline, with //Alice as sudo.
//!
//! Invariants and failure modes:
//! - The chain spec is read where it lies (`SUBNETD_SUBTENSOR_CHAIN_DIR`, else `../shared/chain`
//!   beside the workspace); it is never copied. [`Devnet::locate`] says exactly what is missing
//!   when the spec or Chopsticks is absent, so callers can skip with a reason.
//! - The node listens on a free loopback port, logs to a file in its own temporary directory
//!   (the tail of which is in every start error) and is killed when the [`Devnet`] is dropped.
//! - With a database ([`DevnetOptions::db`]) the chain survives [`Devnet::kill`]:
//!   [`Devnet::restart`] resumes from the last stored block on the same port.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use subnet_chain::{AccountId, Chain, ChainError, NetUid};
use subxt::rpcs::{RpcClient, rpc_params};

use crate::{CallArg, SubtensorChain};

/// Environment variable naming the directory that holds the chain spec and Chopsticks config.
pub const CHAIN_DIR_ENV: &str = "SUBNETD_SUBTENSOR_CHAIN_DIR";
/// Environment variable naming Chopsticks' entry script (`chopsticks.cjs`).
pub const CHOPSTICKS_ENV: &str = "SUBNETD_CHOPSTICKS";
/// The chain spec file in the chain directory.
pub const SPEC_FILE: &str = "raonet.json";
/// The Chopsticks config in the chain directory (its `genesis:` is rewritten to an absolute path).
pub const CONFIG_FILE: &str = "subtensor-local.yml";

/// Why the devnet could not run.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// A file the devnet needs is absent.
    #[error("{0}")]
    Missing(String),
    /// Chopsticks did not start or answer.
    #[error("chopsticks: {message}\n--- log tail ---\n{log_tail}")]
    Start {
        /// What went wrong.
        message: String,
        /// The end of its log.
        log_tail: String,
    },
    /// A dev RPC failed.
    #[error("dev rpc {method}: {message}")]
    Rpc {
        /// The method called.
        method: String,
        /// The error.
        message: String,
    },
    /// Local I/O failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Where the devnet's parts are.
#[derive(Debug, Clone)]
pub struct DevnetParts {
    /// Directory with [`SPEC_FILE`] and [`CONFIG_FILE`].
    pub chain_dir: PathBuf,
    /// Chopsticks' `chopsticks.cjs`.
    pub chopsticks: PathBuf,
}

/// How to run the devnet.
#[derive(Debug, Clone, Default)]
pub struct DevnetOptions {
    /// Keep blocks in this SQLite file so a restart resumes the chain.
    pub db: Option<PathBuf>,
    /// Port to listen on; default a free one.
    pub port: Option<u16>,
}

/// A running Chopsticks node.
pub struct Devnet {
    parts: DevnetParts,
    options: DevnetOptions,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    started: u32,
}

fn workspace_root() -> PathBuf {
    // host/subtensor -> the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl Devnet {
    /// Finds the chain spec and Chopsticks, or says what is missing and how to get it.
    pub fn locate() -> Result<DevnetParts, DevnetError> {
        let chain_dir = std::env::var_os(CHAIN_DIR_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("../shared/chain"));
        for file in [SPEC_FILE, CONFIG_FILE] {
            if !chain_dir.join(file).is_file() {
                return Err(DevnetError::Missing(format!(
                    "no {} in {} (set {CHAIN_DIR_ENV} to the directory holding the subtensor chain spec)",
                    file,
                    chain_dir.display()
                )));
            }
        }
        let chopsticks = std::env::var_os(CHOPSTICKS_ENV).map(PathBuf::from).unwrap_or_else(|| {
            workspace_root().join("host/subtensor/chopsticks/node_modules/@acala-network/chopsticks/chopsticks.cjs")
        });
        if !chopsticks.is_file() {
            return Err(DevnetError::Missing(format!(
                "Chopsticks is not installed at {} (run `npm ci` in host/subtensor/chopsticks, or set {CHOPSTICKS_ENV})",
                chopsticks.display()
            )));
        }
        Ok(DevnetParts { chain_dir: std::fs::canonicalize(&chain_dir)?, chopsticks })
    }

    /// Starts Chopsticks and waits until it answers RPC.
    pub async fn start(parts: DevnetParts, options: DevnetOptions) -> Result<Self, DevnetError> {
        let port = match options.port {
            Some(p) => p,
            None => TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port(),
        };
        let dir = tempfile::Builder::new().prefix("subnetd-devnet-").tempdir()?;
        let mut devnet = Self { parts, options, port, dir, child: None, started: 0 };
        devnet.spawn().await?;
        Ok(devnet)
    }

    fn config_text(&self) -> Result<String, DevnetError> {
        let original = std::fs::read_to_string(self.parts.chain_dir.join(CONFIG_FILE))?;
        let spec = self.parts.chain_dir.join(SPEC_FILE);
        let mut out = String::new();
        for line in original.lines() {
            let key = line.split(':').next().unwrap_or_default();
            match key {
                "genesis" => out.push_str(&format!("genesis: {}\n", spec.display())),
                "port" | "host" | "db" | "resume" => {}
                _ => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out.push_str(&format!("port: {}\nhost: 127.0.0.1\n", self.port));
        if let Some(db) = &self.options.db {
            out.push_str(&format!("db: {}\n", db.display()));
            if self.started > 0 {
                out.push_str("resume: true\n");
            }
        }
        Ok(out)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("chopsticks.log")
    }

    /// The last lines of the node's log.
    pub fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(self.log_path()) {
            let _ = f.read_to_string(&mut text);
        }
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    async fn spawn(&mut self) -> Result<(), DevnetError> {
        let config = self.dir.path().join("chopsticks.yml");
        std::fs::write(&config, self.config_text()?)?;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path())?;
        let child = Command::new("node")
            .arg(&self.parts.chopsticks)
            .arg("--config")
            .arg(&config)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| DevnetError::Start { message: format!("running node: {e}"), log_tail: String::new() })?;
        self.child = Some(child);
        self.started += 1;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(DevnetError::Start { message: format!("exited with {status}"), log_tail: self.log_tail() });
            }
            if self.rpc::<serde_json::Value>("chain_getHeader", rpc_params![]).await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(DevnetError::Start {
                    message: "no RPC answer within 120 s".into(),
                    log_tail: self.log_tail(),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `ws://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// The loopback port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the node at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the node again on the same port; with a database it resumes the chain.
    pub async fn restart(&mut self) -> Result<(), DevnetError> {
        self.kill();
        self.spawn().await
    }

    /// One JSON-RPC call on a fresh connection.
    pub async fn rpc<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        params: subxt::rpcs::client::RpcParams,
    ) -> Result<T, DevnetError> {
        let err = |message: String| DevnetError::Rpc { method: method.to_owned(), message };
        let client = RpcClient::from_insecure_url(self.url()).await.map_err(|e| err(e.to_string()))?;
        client.request(method, params).await.map_err(|e| err(e.to_string()))
    }

    /// Builds `count` blocks (`dev_newBlock`); returns the new head's hash.
    pub async fn new_blocks(&self, count: u32) -> Result<String, DevnetError> {
        self.rpc("dev_newBlock", rpc_params![serde_json::json!({ "count": count })]).await
    }

    /// Overwrites storage (`dev_setStorage`), e.g. `{"SubtensorModule": {"NetworkRateLimit": 0}}`.
    pub async fn set_storage(&self, storage: serde_json::Value) -> Result<(), DevnetError> {
        let _: serde_json::Value = self.rpc("dev_setStorage", rpc_params![storage]).await?;
        Ok(())
    }
}

/// A subnet set up on a devnet by [`setup_subnet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevSubnet {
    /// Its netuid.
    pub netuid: NetUid,
    /// Block after the setup.
    pub block: u64,
}

/// Creates a subnet owned by //Alice (coldkey and hotkey, uid 0), registers each of `neurons`
/// with itself as coldkey (uids 1, 2, ... in order), funds them first, and sets the weights rate
/// limit to `weights_rate_limit` with sudo. `chain` must hold //Alice's key and the neurons'.
pub async fn setup_subnet(
    node: &Devnet,
    chain: &SubtensorChain,
    neurons: &[AccountId],
    weights_rate_limit: u64,
) -> Result<DevSubnet, SetupError> {
    let alice = accounts::alice().account_id();
    // 0 would equal the item's absence, which Chopsticks writes as "use the default" (10 blocks).
    node.set_storage(serde_json::json!({ "SubtensorModule": { "NetworkRateLimit": 1 } })).await?;
    fund(node, neurons).await?;
    let netuid = chain.register_network(&alice, &alice).await?;
    for hotkey in neurons {
        chain.register(hotkey, hotkey, netuid).await?;
    }
    chain
        .sudo_admin(
            &alice,
            "sudo_set_weights_set_rate_limit",
            vec![CallArg::U16(netuid), CallArg::U64(weights_rate_limit)],
        )
        .await?;
    let block = chain.current_block().await?;
    Ok(DevSubnet { netuid, block })
}

/// Gives each account 1,000,000 TAO free balance (`dev_setStorage` on `System::Account`).
pub async fn fund(node: &Devnet, accounts: &[AccountId]) -> Result<(), DevnetError> {
    if accounts.is_empty() {
        return Ok(());
    }
    let entries: Vec<serde_json::Value> = accounts
        .iter()
        .map(|a| serde_json::json!([[a.to_ss58()], { "providers": 1, "data": { "free": "1000000000000000" } }]))
        .collect();
    node.set_storage(serde_json::json!({ "System": { "Account": entries } })).await
}

/// Why [`setup_subnet`] failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The node's dev RPCs failed.
    #[error(transparent)]
    Devnet(#[from] DevnetError),
    /// An extrinsic failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

/// Says on the real stderr (not the test harness's captured one, so it shows in a passing run)
/// that `test` is skipped and why.
pub fn report_skip(test: &str, reason: &dyn std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: the real subtensor runtime is not available here: {reason}");
}

/// `dev_newBlock` on the node at `url` (a task producing blocks without holding the [`Devnet`]).
pub async fn new_block_at(url: &str) -> Result<(), DevnetError> {
    let err = |message: String| DevnetError::Rpc { method: "dev_newBlock".into(), message };
    let client = RpcClient::from_insecure_url(url).await.map_err(|e| err(e.to_string()))?;
    let _: serde_json::Value = client.request("dev_newBlock", rpc_params![]).await.map_err(|e| err(e.to_string()))?;
    Ok(())
}

impl Drop for Devnet {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The development accounts the shared config funds, //Alice being sudo.
pub mod accounts {
    use subnet_keys::{CryptoType, Keypair};

    /// //Alice (sudo, funded).
    pub fn alice() -> Keypair {
        dev("//Alice")
    }

    /// //Bob (funded).
    pub fn bob() -> Keypair {
        dev("//Bob")
    }

    /// //Charlie (funded).
    pub fn charlie() -> Keypair {
        dev("//Charlie")
    }

    /// Any development URI as an sr25519 key.
    pub fn dev(uri: &str) -> Keypair {
        match Keypair::from_uri(CryptoType::Sr25519, uri) {
            Ok(k) => k,
            Err(e) => panic!("development URI {uri}: {e}"),
        }
    }
}
