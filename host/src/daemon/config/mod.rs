//! The daemon's configuration file (`subnetd.toml`): its format, defaults and checks.
//!
//! - this module: the file as a whole, `[wallet]`, `[chain]`, `[admin]`, `[runtime]`, loading;
//! - [`subnet`]: one `[[subnet]]` and its tables;
//! - `checks`: what is checked after parsing.
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

mod checks;
pub mod subnet;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use subnet_chain::AccountId;

use crate::caps::CapabilitiesConfig;
pub use crate::units::{Bytes, Dur, parse_duration, parse_size};
pub use subnet::{
    LimitsConfig, LocalSubnetConfig, ReloadConfig, ResetScoresOn, ServeMode, SimMinersConfig, SimModuleConfig,
    SubnetConfig, TasksConfig, WeightsConfig,
};

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
    /// What `/healthz` holds the daemon to.
    #[serde(default)]
    pub health: HealthConfig,
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
    /// Where the hotkey locks go (see [`crate::daemon::lock`]); default
    /// `<wallets>/<name>/locks`, beside the wallet, so every daemon using it sees them.
    pub lock_dir: Option<PathBuf>,
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

/// `[health]`: the windows behind `/healthz` (see [`crate::daemon::health`]). Applied by a
/// config reload.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// How often the chain is asked for its block (default 6 s).
    #[serde(default = "default_follow_interval")]
    pub follow_interval: Dur,
    /// The chain is disconnected when its block has not advanced for this long (default 60 s).
    #[serde(default = "default_stale_after")]
    pub stale_after: Dur,
    /// A subnet is unhealthy when its last good round is older than this, or 5 tasks
    /// intervals, whichever is longer (default 5 min).
    #[serde(default = "default_round_window")]
    pub round_window: Dur,
    /// Weights are late after this many times `weights.every_blocks` blocks (default 3).
    #[serde(default = "default_late_factor")]
    pub weights_late_factor: u64,
}

fn default_follow_interval() -> Dur {
    Dur(Duration::from_secs(6))
}
fn default_stale_after() -> Dur {
    Dur(Duration::from_secs(60))
}
fn default_round_window() -> Dur {
    Dur(Duration::from_secs(300))
}
fn default_late_factor() -> u64 {
    3
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            follow_interval: default_follow_interval(),
            stale_after: default_stale_after(),
            round_window: default_round_window(),
            weights_late_factor: default_late_factor(),
        }
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
            let (field, message) = crate::util::toml_error(text, e);
            field_err(field, message)
        })?;
        for (i, s) in config.subnets.iter_mut().enumerate() {
            s.capabilities = CapabilitiesConfig::from_table(&s.capabilities_table)
                .map_err(|e| field_err(format!("subnet[{i}].capabilities.{}", e.field), e.message))?;
            s.wire =
                s.wire_settings().resolve().map_err(|e| field_err(format!("subnet[{i}].protocol"), e.to_string()))?;
        }
        config.resolve_paths(base);
        config.check()?;
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path) {
        self.state_dir = expand(base, &self.state_dir);
        if let Some(p) = &self.wallet.path {
            self.wallet.path = Some(expand(base, p));
        }
        if let Some(p) = &self.wallet.lock_dir {
            self.wallet.lock_dir = Some(expand(base, p));
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
            if let Some(m) = s.local.as_mut().and_then(|l| l.miners.as_mut()) {
                if let Some(module) = &m.module {
                    m.module = Some(expand(base, module));
                }
                for entry in &mut m.modules {
                    entry.module = expand(base, &entry.module);
                }
            }
        }
    }

    /// The subnets to run (`enabled`, the default).
    pub fn enabled_subnets(&self) -> impl Iterator<Item = &SubnetConfig> {
        self.subnets.iter().filter(|s| s.enabled)
    }

    /// The wallets directory.
    pub fn wallets_root(&self) -> Option<PathBuf> {
        self.wallet.path.clone().or_else(subnet_keys::default_wallets_root)
    }

    /// The directory of the hotkey locks.
    pub fn lock_dir(&self) -> Option<PathBuf> {
        self.wallet.lock_dir.clone().or_else(|| Some(self.wallets_root()?.join(&self.wallet.name).join("locks")))
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
        assert!(c.subnets[0].capabilities.kv.kv);
        assert_eq!(c.admin.listen, default_admin());
        assert!(matches!(c.chain, ChainConfig::Local { block_time: Dur(t) } if t == Duration::from_millis(100)));
    }

    #[test]
    fn the_wire_protocol_is_a_per_subnet_choice() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.subnets[0].wire, crate::net::WireProtocol::Btauth);
        let axon = GOOD.replacen(
            "netuid = 2\n",
            "netuid = 2\nprotocol = \"axon\"\nsynapse = \"TextTask\"\nrequired_hash_fields = [\"payload\"]\n",
            1,
        );
        let c = parse(&axon).unwrap();
        let crate::net::WireProtocol::Axon(spec) = &c.subnets[1].wire else { panic!("{:?}", c.subnets[1].wire) };
        assert_eq!(
            (spec.name.as_str(), spec.required_hash_fields.as_slice()),
            ("TextTask", &["payload".to_owned()][..])
        );
        assert_eq!(c.subnets[1].transport().protocol, c.subnets[1].wire);
        let no_synapse = GOOD.replacen("netuid = 2\n", "netuid = 2\nprotocol = \"axon\"\n", 1);
        let e = parse(&no_synapse).unwrap_err().to_string();
        assert!(e.contains("subnet[1].protocol") && e.contains("synapse"), "{e}");
        let unknown = GOOD.replacen("netuid = 2\n", "netuid = 2\nprotocol = \"grpc\"\n", 1);
        assert!(parse(&unknown).unwrap_err().to_string().contains("unknown protocol"));
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

        // A rule must name its scheme; a good list parses.
        let bad = format!("{GOOD}[subnet.capabilities]\noutbound_hosts = [\"api.example.com\"]\n");
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.field, "subnet[1].capabilities.outbound_hosts[0]");
        assert!(e.message.contains("expected scheme://host[:port]"), "{e}");
        let good = format!("{GOOD}[subnet.capabilities]\noutbound_hosts = [\"https://api.example.com\"]\n");
        parse(&good).unwrap();

        let good = format!("{GOOD}[subnet.reload]\nreset_scores_on = \"version\"\n");
        let config = parse(&good).unwrap();
        assert_eq!(config.subnets[1].reload.reset_scores_on, ResetScoresOn::Version);
        assert_eq!(config.subnets[0].reload.reset_scores_on, ResetScoresOn::Never);
        let bad = format!("{GOOD}[subnet.reload]\nreset_scores_on = \"sometimes\"\n");
        let e = parse(&bad).unwrap_err();
        assert!(e.field.starts_with("subnet[1].reload"), "{e}");

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
