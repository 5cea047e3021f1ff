//! The daemon's configuration file (`subnetd.toml`): its format, defaults and checks.
//!
//! The format is documented with an example in `examples/daemon/subnetd.toml`. Parsing is
//! strict: unknown keys are errors (a typo never silently falls back to a default), and every
//! error names the field it is about as a path (`subnet[1].limits.memory: ...`), whether it
//! comes from parsing (types, unknown keys) or from the checks that follow (ranges, files that
//! must exist, capabilities this build cannot grant).
//!
//! Relative paths in the file are relative to the directory the file is in, so a config and
//! its modules can move together; `~/` expands to `$HOME`.
//!
//! Invariants after [`DaemonConfig::load`] / [`DaemonConfig::from_toml`] succeed: netuids are
//! unique and non-zero, every module source exists, limits are within the bounds below,
//! preopened directories are distinct per subnet, required signers are valid public keys, and
//! `[subnet.local]` appears only with the `local` chain backend.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use subnet_chain::AccountId;

/// Smallest per-call memory limit a subnet may set.
pub const MIN_MEMORY: u64 = 1 << 20;
/// Largest per-call memory limit a subnet may set (the engine's pool reserves this per slot).
pub const MAX_MEMORY: u64 = 4 << 30;
/// Default per-call memory limit.
pub const DEFAULT_MEMORY: u64 = 256 << 20;
/// Default wall-clock limit of one call.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Default key-value budget of a subnet.
pub const DEFAULT_KV_BUDGET: u64 = 64 << 20;

/// A configuration error: the file, the field (a path such as `subnet[1].limits.memory`, empty
/// for syntax errors) and what is wrong.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// The config file, when the text came from one.
    pub file: Option<PathBuf>,
    /// The field, as a path.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

fn field_err(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError { file: None, field: field.into(), message: message.into() }
}

/// A duration written as `"500ms"`, `"2s"`, `"5m"` or `"1h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Other(serde::de::IgnoredAny),
        }
        match Raw::deserialize(d)? {
            Raw::Text(text) => parse_duration(&text).map(Dur).map_err(serde::de::Error::custom),
            Raw::Other(_) => Err(serde::de::Error::custom(
                "expected a duration string with a unit, like \"500ms\", \"2s\" or \"5m\"",
            )),
        }
    }
}

/// Parses `"<number><unit>"` with unit `ms`, `s`, `m` or `h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: use a number and a unit, like \"500ms\", \"2s\" or \"5m\""))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        "" => return Err(format!("invalid duration {text:?}: the unit is missing (ms, s, m or h)")),
        other => return Err(format!("invalid duration {text:?}: unknown unit `{other}` (use ms, s, m or h)")),
    };
    if !seconds.is_finite() || seconds > 1e9 {
        return Err(format!("invalid duration {text:?}: too long"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// A size in bytes, written as an integer or as `"64MiB"`, `"512KiB"`, `"1GiB"`, `"10MB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
        }
        match Raw::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected a number of bytes or a string like \"256MiB\""))?
        {
            Raw::Int(n) => Ok(Bytes(n)),
            Raw::Text(t) => parse_size(&t).map(Bytes).map_err(serde::de::Error::custom),
        }
    }
}

/// Parses `"<number><unit>"` with unit `B`, `KiB`, `MiB`, `GiB`, `KB`, `MB` or `GB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("invalid size {text:?}: use a number of bytes or a string like \"256MiB\""))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!("invalid size {text:?}: unknown unit `{other}` (use B, KiB, MiB, GiB, KB, MB or GB)"));
        }
    };
    value.checked_mul(factor).ok_or_else(|| format!("invalid size {text:?}: too large"))
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// Directory of the daemon's database (`state.redb`), the local chain and scratch space.
    pub state_dir: PathBuf,
    /// The validator's hotkey.
    pub wallet: WalletConfig,
    /// Which chain the daemon follows.
    pub chain: ChainConfig,
    /// The admin HTTP API (status, reload, metrics).
    #[serde(default)]
    pub admin: AdminConfig,
    /// Engine-wide settings.
    #[serde(default)]
    pub runtime: RuntimeSection,
    /// The model registry (`models.toml`) for subnets granted `compute`; default: the
    /// discovered one (`$SUBNETD_MODELS`, `~/.config/subnetd/models.toml`).
    pub models: Option<PathBuf>,
    /// How long a SIGTERM waits for rounds in flight before the daemon exits anyway.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace: Dur,
    /// The subnets this daemon validates.
    #[serde(rename = "subnet", default)]
    pub subnets: Vec<SubnetConfig>,
    /// Where the file was read from (set by [`DaemonConfig::load`]).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

fn default_shutdown_grace() -> Dur {
    Dur(Duration::from_secs(60))
}

/// `[wallet]`: the hotkey the daemon validates (and sets weights) as.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalletConfig {
    /// The wallets directory; default `~/.bittensor/wallets`.
    pub path: Option<PathBuf>,
    /// The wallet's name.
    pub name: String,
    /// The hotkey's name inside the wallet.
    pub hotkey: String,
    /// Name of an environment variable holding the hotkey's password, for encrypted hotkeys.
    pub password_env: Option<String>,
}

/// `[chain]`: the chain backend. Also accepted as a string, `chain = "<endpoint>"`, meaning
/// a subtensor node at that endpoint (`local`, `test`, `finney` or a `ws://`/`wss://` URL).
#[derive(Debug, Clone)]
pub enum ChainConfig {
    /// An embedded chain persisted in `<state_dir>/chain`, producing a block every
    /// `block_time`; subnets with a `[subnet.local]` table are created on it.
    Local {
        /// Time between blocks (12 s on subtensor).
        block_time: Dur,
    },
    /// A chain node reached over HTTP (`subnetd chain serve`).
    Node {
        /// The node's base URL, e.g. `http://127.0.0.1:9944`.
        url: String,
    },
    /// A real subtensor node over websockets ([`subnet_subtensor::SubtensorChain`]).
    Subtensor {
        /// Where the node is.
        endpoint: subnet_subtensor::Endpoint,
        /// Longest wait for an extrinsic to be finalized (default 120 s).
        extrinsic_timeout: Dur,
    },
}

/// The table form of `[chain]`.
#[derive(Deserialize)]
#[serde(tag = "backend", rename_all = "lowercase", deny_unknown_fields)]
enum ChainTable {
    Local {
        #[serde(default = "default_block_time")]
        block_time: Dur,
    },
    Node {
        url: String,
    },
    Subtensor {
        #[serde(deserialize_with = "endpoint")]
        endpoint: subnet_subtensor::Endpoint,
        #[serde(default = "default_extrinsic_timeout")]
        extrinsic_timeout: Dur,
    },
}

fn default_extrinsic_timeout() -> Dur {
    Dur(Duration::from_secs(120))
}

fn endpoint<'de, D: serde::Deserializer<'de>>(d: D) -> Result<subnet_subtensor::Endpoint, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

impl<'de> Deserialize<'de> for ChainConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ChainConfig;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a subtensor endpoint (local, test, finney, ws://...) or a [chain] table")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ChainConfig, E> {
                let endpoint = v.parse().map_err(E::custom)?;
                Ok(ChainConfig::Subtensor { endpoint, extrinsic_timeout: default_extrinsic_timeout() })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<ChainConfig, A::Error> {
                let table = ChainTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(match table {
                    ChainTable::Local { block_time } => ChainConfig::Local { block_time },
                    ChainTable::Node { url } => ChainConfig::Node { url },
                    ChainTable::Subtensor { endpoint, extrinsic_timeout } => {
                        ChainConfig::Subtensor { endpoint, extrinsic_timeout }
                    }
                })
            }
        }
        d.deserialize_any(Visitor)
    }
}

fn default_block_time() -> Dur {
    Dur(Duration::from_secs(12))
}

/// `[admin]`: where the admin API listens.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Socket address; port 0 picks a free port (written to `<state_dir>/admin.addr`).
    #[serde(default = "default_admin")]
    pub listen: SocketAddr,
}

fn default_admin() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9180))
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self { listen: default_admin() }
    }
}

/// `[runtime]`: settings of the one engine all subnets share.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeSection {
    /// Directory of precompiled `.cwasm` files; default `$SUBNETD_CACHE_DIR` or
    /// `~/.cache/subnetd`. `cache = false` turns the compile cache off.
    pub cache_dir: Option<PathBuf>,
    /// Whether to use the compile cache at all (default true).
    pub cache: Option<bool>,
    /// Instances alive at once across all subnets (pool slots); default 256.
    pub max_instances: Option<u32>,
}

/// One `[[subnet]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetConfig {
    /// The subnet's netuid on the chain.
    pub netuid: u16,
    /// A label for logs and status; default `subnet-<netuid>`.
    pub name: Option<String>,
    /// The validator module: a `.wasm` file, or a directory holding one (`validator.wasm`, or
    /// its only `.wasm` file). Both are watched for changes.
    pub module: PathBuf,
    /// When non-empty, a module must carry a valid signature (`<module>.sig`) by one of these
    /// ed25519 keys (SS58 or 0x-hex public keys), or it is refused.
    #[serde(default)]
    pub require_signers: Vec<String>,
    /// Resource limits of each call into the module.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Task cadence.
    #[serde(default)]
    pub tasks: TasksConfig,
    /// Weight-setting cadence.
    #[serde(default)]
    pub weights: WeightsConfig,
    /// Capabilities granted to the module.
    #[serde(default)]
    pub capabilities: CapabilitiesConfig,
    /// Hot reload settings.
    #[serde(default)]
    pub reload: ReloadConfig,
    /// With the local chain backend: create this subnet, register the validator and simulated
    /// miners.
    pub local: Option<LocalSubnetConfig>,
}

/// `[subnet.limits]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest linear memory of one instance; default 256 MiB.
    pub memory: Option<Bytes>,
    /// Wall-clock limit of one call; default 30 s.
    pub call_timeout: Option<Dur>,
    /// Fuel (wasm instructions, roughly) per call; unset = no fuel metering for this subnet.
    pub fuel: Option<u64>,
}

/// `[subnet.tasks]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TasksConfig {
    /// Time between the starts of two rounds (a round that takes longer delays the next).
    #[serde(default = "default_interval")]
    pub interval: Dur,
    /// Most tasks a module may make per round.
    #[serde(default = "default_max_tasks")]
    pub max_tasks: usize,
    /// Longest timeout a task may give its miners.
    #[serde(default = "default_max_task_timeout")]
    pub max_task_timeout: Dur,
}

fn default_interval() -> Dur {
    Dur(Duration::from_secs(12))
}
fn default_max_tasks() -> usize {
    4096
}
fn default_max_task_timeout() -> Dur {
    Dur(Duration::from_secs(120))
}

impl Default for TasksConfig {
    fn default() -> Self {
        Self {
            interval: default_interval(),
            max_tasks: default_max_tasks(),
            max_task_timeout: default_max_task_timeout(),
        }
    }
}

/// `[subnet.weights]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightsConfig {
    /// Set weights when at least this many blocks passed since this validator last did (on
    /// chain); never faster than the subnet's `weights_rate_limit`.
    #[serde(default = "default_every_blocks")]
    pub every_blocks: u64,
    /// `version_key` of `set_weights`; the subnet's `WeightsVersionKey` when that is higher.
    #[serde(default)]
    pub version_key: u64,
    /// The SDK's exclude quantile (u16 proportion) of `process_weights_for_netuid`; default 0.
    #[serde(default)]
    pub exclude_quantile: u16,
}

fn default_every_blocks() -> u64 {
    100
}

impl Default for WeightsConfig {
    fn default() -> Self {
        Self { every_blocks: default_every_blocks(), version_key: 0, exclude_quantile: 0 }
    }
}

/// `[subnet.capabilities]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilitiesConfig {
    /// The key-value store (durable, in the daemon's database).
    #[serde(default = "yes")]
    pub kv: bool,
    /// Bytes of keys and values the store may hold.
    #[serde(default = "default_kv_budget")]
    pub kv_budget: Bytes,
    /// Models the module may call through the `compute` capability, by name in the host's
    /// model registry (`models` at the top of the file, else the discovered registry). Empty:
    /// compute calls answer `not-available`.
    #[serde(default)]
    pub compute: Vec<String>,
    /// A directory the module sees as a WASI preopen.
    pub preopen: Option<PreopenConfig>,
    /// Hosts the module may reach. Not supported yet: must be empty.
    #[serde(default)]
    pub outbound_hosts: Vec<String>,
}

fn yes() -> bool {
    true
}
fn default_kv_budget() -> Bytes {
    Bytes(DEFAULT_KV_BUDGET)
}

impl Default for CapabilitiesConfig {
    fn default() -> Self {
        Self {
            kv: true,
            kv_budget: default_kv_budget(),
            compute: Vec::new(),
            preopen: None,
            outbound_hosts: Vec::new(),
        }
    }
}

/// `[subnet.capabilities.preopen]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreopenConfig {
    /// The host directory (created if missing).
    pub dir: PathBuf,
    /// Where the module sees it; default `/data`.
    #[serde(default = "default_guest_dir")]
    pub guest: String,
    /// Whether the module may write in it; default false.
    #[serde(default)]
    pub writable: bool,
}

fn default_guest_dir() -> String {
    "/data".into()
}

/// `[subnet.reload]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReloadConfig {
    /// Watch the module's file (and its signature) for changes.
    #[serde(default = "yes")]
    pub watch: bool,
    /// Quiet time after the last file event before a reload starts, so a file written in
    /// several steps (or a module and its signature) is read once, complete.
    #[serde(default = "default_debounce")]
    pub debounce: Dur,
}

fn default_debounce() -> Dur {
    Dur(Duration::from_millis(300))
}

impl Default for ReloadConfig {
    fn default() -> Self {
        Self { watch: true, debounce: default_debounce() }
    }
}

/// `[subnet.local]`: what the local chain backend sets up for this subnet.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalSubnetConfig {
    /// Blocks per epoch.
    #[serde(default = "default_tempo")]
    pub tempo: u16,
    /// `WeightsSetRateLimit` in blocks; default 100 (subtensor's).
    #[serde(default = "default_rate_limit")]
    pub weights_rate_limit: u64,
    /// Stake given to the validator's hotkey, in alpha (enough for a validator permit).
    #[serde(default = "default_stake")]
    pub validator_stake: f64,
    /// Commit-reveal of weights (v2, reveal one epoch after the commit); default off.
    #[serde(default)]
    pub commit_reveal: bool,
    /// Simulated miners registered on the subnet and served by the daemon.
    pub miners: Option<SimMinersConfig>,
}

fn default_tempo() -> u16 {
    360
}
fn default_rate_limit() -> u64 {
    100
}
fn default_stake() -> f64 {
    10_000.0
}

/// `[subnet.local.miners]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimMinersConfig {
    /// The honest miners' module (a miner `.wasm`).
    pub module: Option<PathBuf>,
    /// Miners running `module`.
    #[serde(default)]
    pub honest: usize,
    /// Miners that never answer.
    #[serde(default)]
    pub lazy: usize,
    /// Miners that answer noise.
    #[serde(default)]
    pub random: usize,
    /// How the daemon serves them: `in-process` (no sockets) or `http` (each miner a real
    /// HTTP server on loopback, queried with btauth-signed requests).
    #[serde(default)]
    pub serve: ServeMode,
}

/// How simulated miners are served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServeMode {
    /// Calls in this process.
    #[default]
    InProcess,
    /// HTTP servers on loopback.
    Http,
}

fn expand(base: &Path, path: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix("~")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    if path.is_absolute() { path.to_path_buf() } else { base.join(path) }
}

/// Parses an SS58 address or a `0x`-hex 32-byte public key.
pub fn parse_public_key(text: &str) -> Result<AccountId, String> {
    let text = text.trim();
    if let Some(hex_text) = text.strip_prefix("0x") {
        let bytes = hex::decode(hex_text).map_err(|e| format!("`{text}` is not hex: {e}"))?;
        let array: [u8; 32] = bytes.try_into().map_err(|_| format!("`{text}` is not a 32-byte public key"))?;
        return Ok(AccountId(array));
    }
    AccountId::from_ss58(text).map_err(|e| format!("`{text}` is not an SS58 address or 0x-hex public key: {e}"))
}

impl DaemonConfig {
    /// Reads, parses and checks a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: Some(path.to_path_buf()),
            field: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let mut config = Self::from_toml(&text, base).map_err(|mut e| {
            e.file = Some(path.to_path_buf());
            e
        })?;
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses and checks config text; relative paths are resolved against `base`.
    pub fn from_toml(text: &str, base: &Path) -> Result<Self, ConfigError> {
        let de = toml::Deserializer::new(text);
        let mut config: DaemonConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.message().trim().replace('\n', ", ");
            // Syntax errors have no field: say where they are instead.
            let message = match (field.as_str(), inner.span()) {
                ("." | "", Some(span)) => {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    format!("line {line}, column {column}: {message}")
                }
                _ => message,
            };
            field_err(if field == "." { String::new() } else { field }, message)
        })?;
        config.resolve_paths(base);
        config.check()?;
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path) {
        self.state_dir = expand(base, &self.state_dir);
        if let Some(p) = &self.wallet.path {
            self.wallet.path = Some(expand(base, p));
        }
        if let Some(p) = &self.models {
            self.models = Some(expand(base, p));
        }
        if let Some(p) = &self.runtime.cache_dir {
            self.runtime.cache_dir = Some(expand(base, p));
        }
        for s in &mut self.subnets {
            s.module = expand(base, &s.module);
            if let Some(p) = &mut s.capabilities.preopen {
                p.dir = expand(base, &p.dir);
            }
            if let Some(m) = s.local.as_mut().and_then(|l| l.miners.as_mut())
                && let Some(module) = &m.module
            {
                m.module = Some(expand(base, module));
            }
        }
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.subnets.is_empty() {
            return Err(field_err("subnet", "no [[subnet]]: the daemon needs at least one subnet to validate"));
        }
        if let Some(models) = &self.models
            && !models.is_file()
        {
            return Err(field_err("models", format!("{}: no such file", models.display())));
        }
        if let ChainConfig::Node { url } = &self.chain
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(field_err("chain.url", format!("`{url}` is not an http:// URL")));
        }
        if let ChainConfig::Local { block_time } = &self.chain
            && block_time.0 < Duration::from_millis(1)
        {
            return Err(field_err("chain.block_time", "must be at least 1ms"));
        }
        let local = matches!(self.chain, ChainConfig::Local { .. });
        let mut netuids = BTreeSet::new();
        let mut preopens: Vec<(usize, PathBuf)> = Vec::new();
        for (i, s) in self.subnets.iter().enumerate() {
            let f = |name: &str| format!("subnet[{i}].{name}");
            if s.netuid == 0 {
                return Err(field_err(f("netuid"), "netuid 0 is the root network, which has no validator modules"));
            }
            if !netuids.insert(s.netuid) {
                return Err(field_err(f("netuid"), format!("netuid {} is configured twice", s.netuid)));
            }
            if !s.module.exists() {
                return Err(field_err(f("module"), format!("{}: no such file or directory", s.module.display())));
            }
            for (j, signer) in s.require_signers.iter().enumerate() {
                parse_public_key(signer).map_err(|e| field_err(format!("subnet[{i}].require_signers[{j}]"), e))?;
            }
            if let Some(Bytes(memory)) = s.limits.memory
                && !(MIN_MEMORY..=MAX_MEMORY).contains(&memory)
            {
                return Err(field_err(f("limits.memory"), format!("{memory} bytes is outside 1MiB..=4GiB")));
            }
            if let Some(Dur(t)) = s.limits.call_timeout
                && (t < Duration::from_millis(1) || t > Duration::from_secs(3600))
            {
                return Err(field_err(f("limits.call_timeout"), "must be between 1ms and 1h"));
            }
            if s.limits.fuel == Some(0) {
                return Err(field_err(f("limits.fuel"), "0 fuel cannot run anything; leave it out for no fuel limit"));
            }
            if s.tasks.interval.0 < Duration::from_millis(10) {
                return Err(field_err(f("tasks.interval"), "must be at least 10ms"));
            }
            if s.tasks.max_tasks == 0 {
                return Err(field_err(f("tasks.max_tasks"), "must be at least 1"));
            }
            if s.weights.every_blocks == 0 {
                return Err(field_err(f("weights.every_blocks"), "must be at least 1"));
            }
            if let Some(host) = s.capabilities.outbound_hosts.first() {
                return Err(field_err(
                    f("capabilities.outbound_hosts"),
                    format!(
                        "not supported yet: modules cannot open network connections in this version of \
                         subnetd (the contract has no outbound interface), so `{host}` cannot be granted; \
                         remove the key"
                    ),
                ));
            }
            let mut seen = BTreeSet::new();
            for (j, model) in s.capabilities.compute.iter().enumerate() {
                if model.is_empty() || !seen.insert(model) {
                    return Err(field_err(
                        format!("subnet[{i}].capabilities.compute[{j}]"),
                        format!("`{model}` is empty or listed twice"),
                    ));
                }
            }
            if s.capabilities.kv_budget.0 == 0 && s.capabilities.kv {
                return Err(field_err(f("capabilities.kv_budget"), "must be above 0 when kv is granted"));
            }
            if let Some(p) = &s.capabilities.preopen {
                if !p.guest.starts_with('/') || p.guest.contains("..") {
                    return Err(field_err(
                        f("capabilities.preopen.guest"),
                        format!("`{}` must be an absolute guest path without `..`", p.guest),
                    ));
                }
                if let Some((other, _)) = preopens.iter().find(|(_, d)| *d == p.dir) {
                    return Err(field_err(
                        f("capabilities.preopen.dir"),
                        format!("{} is already subnet[{other}]'s directory: subnets never share one", p.dir.display()),
                    ));
                }
                preopens.push((i, p.dir.clone()));
            }
            if let Some(l) = &s.local {
                if !local {
                    return Err(field_err(
                        f("local"),
                        "only the `local` chain backend creates subnets; remove this table",
                    ));
                }
                if l.tempo < 2 {
                    return Err(field_err(f("local.tempo"), "must be at least 2 blocks"));
                }
                if !(l.validator_stake.is_finite() && l.validator_stake >= 0.0) {
                    return Err(field_err(f("local.validator_stake"), "must be a non-negative number"));
                }
                if let Some(m) = &l.miners {
                    if m.honest > 0 {
                        match &m.module {
                            None => {
                                return Err(field_err(f("local.miners.module"), "honest miners need a miner module"));
                            }
                            Some(p) if !p.is_file() => {
                                return Err(field_err(
                                    f("local.miners.module"),
                                    format!("{}: no such file", p.display()),
                                ));
                            }
                            Some(_) => {}
                        }
                    }
                    if m.honest + m.lazy + m.random > 250 {
                        return Err(field_err(f("local.miners"), "at most 250 simulated miners per subnet"));
                    }
                }
            }
        }
        Ok(())
    }

    /// The wallets directory.
    pub fn wallets_root(&self) -> Option<PathBuf> {
        self.wallet.path.clone().or_else(subnet_keys::default_wallets_root)
    }
}

impl SubnetConfig {
    /// The label used in logs, metrics and status.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| format!("subnet-{}", self.netuid))
    }

    /// The required signers, parsed (checked by [`DaemonConfig::from_toml`]).
    pub fn signers(&self) -> Vec<AccountId> {
        self.require_signers.iter().filter_map(|s| parse_public_key(s).ok()).collect()
    }

    /// The per-call memory limit.
    pub fn memory(&self) -> u64 {
        self.limits.memory.map_or(DEFAULT_MEMORY, |b| b.0)
    }

    /// The per-call time limit.
    pub fn call_timeout(&self) -> Duration {
        self.limits.call_timeout.map_or(DEFAULT_CALL_TIMEOUT, |d| d.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
state_dir = "state"
[wallet]
name = "v"
hotkey = "h"
[chain]
backend = "local"
block_time = "100ms"
[[subnet]]
netuid = 1
module = "."
[[subnet]]
netuid = 2
module = "."
[subnet.limits]
memory = "64MiB"
call_timeout = "2s"
"#;

    fn parse(text: &str) -> Result<DaemonConfig, ConfigError> {
        DaemonConfig::from_toml(text, Path::new("."))
    }

    #[test]
    fn a_good_config_parses_with_defaults() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.subnets.len(), 2);
        assert_eq!(c.subnets[1].memory(), 64 << 20);
        assert_eq!(c.subnets[1].call_timeout(), Duration::from_secs(2));
        assert_eq!(c.subnets[0].memory(), DEFAULT_MEMORY);
        assert!(c.subnets[0].capabilities.kv);
        assert_eq!(c.admin.listen, default_admin());
        assert!(matches!(c.chain, ChainConfig::Local { block_time: Dur(t) } if t == Duration::from_millis(100)));
    }

    #[test]
    fn the_chain_may_be_a_subtensor_endpoint() {
        let short =
            GOOD.replace("[chain]\nbackend = \"local\"\nblock_time = \"100ms\"", "chain = \"ws://127.0.0.1:9955\"");
        assert_ne!(short, GOOD);
        // A top-level key must come before the tables.
        let short =
            format!("chain = \"ws://127.0.0.1:9955\"\n{}", short.replace("chain = \"ws://127.0.0.1:9955\"\n", ""));
        let c = parse(&short).unwrap();
        assert!(matches!(&c.chain, ChainConfig::Subtensor { endpoint, .. } if endpoint.url() == "ws://127.0.0.1:9955"));
        let named = GOOD.replace(
            "backend = \"local\"\nblock_time = \"100ms\"",
            "backend = \"subtensor\"\nendpoint = \"finney\"\nextrinsic_timeout = \"30s\"",
        );
        let c = parse(&named).unwrap();
        assert!(
            matches!(&c.chain, ChainConfig::Subtensor { endpoint: subnet_subtensor::Endpoint::Finney, extrinsic_timeout }
            if extrinsic_timeout.0 == Duration::from_secs(30))
        );
        let bad = GOOD.replace(
            "backend = \"local\"\nblock_time = \"100ms\"",
            "backend = \"subtensor\"\nendpoint = \"http://x:1\"",
        );
        let e = parse(&bad).unwrap_err();
        assert!(e.to_string().contains("websockets"), "{e}");
    }

    #[test]
    fn errors_name_the_field() {
        let bad = GOOD.replace("\"64MiB\"", "\"12XB\"");
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.field, "subnet[1].limits.memory", "{e}");
        assert!(e.message.contains("unknown unit `XB`"), "{e}");

        let bad = GOOD.replace("call_timeout = \"2s\"", "call_timeout = \"2s\"\nmemroy = 1");
        let e = parse(&bad).unwrap_err();
        assert!(e.to_string().starts_with("subnet[1].limits"), "{e}");
        assert!(e.message.contains("unknown field `memroy`"), "{e}");

        let bad = GOOD.replace("\"64MiB\"", "\"512KiB\"");
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.field, "subnet[1].limits.memory", "{e}");

        let bad = GOOD.replace("netuid = 2", "netuid = 1");
        assert_eq!(parse(&bad).unwrap_err().field, "subnet[1].netuid");

        let bad = GOOD.replace("backend = \"local\"", "backend = \"carrier-pigeon\"");
        assert!(parse(&bad).unwrap_err().field.starts_with("chain"));

        let bad = format!("{GOOD}[subnet.capabilities]\noutbound_hosts = [\"api.example.com\"]\n");
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.field, "subnet[1].capabilities.outbound_hosts");
        assert!(e.message.contains("not supported yet"), "{e}");

        let bad = GOOD.replace("netuid = 2\n", "netuid = 2\nrequire_signers = [\"5Nope\"]\n");
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.field, "subnet[1].require_signers[0]", "{e}");

        let bad = GOOD.replace("module = \".\"\n[subnet.limits]", "module = \"no/such/file.wasm\"\n[subnet.limits]");
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.field, "subnet[1].module", "{e}");

        let e = parse("state_dir = [").unwrap_err();
        assert!(e.message.contains("line 1"), "{e}");
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("fast").is_err());
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("10MB").unwrap(), 10_000_000);
        assert_eq!(parse_size("123").unwrap(), 123);
        assert!(parse_size("99999999999999GiB").is_err());
    }
}
