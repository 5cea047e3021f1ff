//! One `[[subnet]]` of `subnetd.toml`: its module, limits, cadences, capabilities, reload and
//! local-chain settings, with their defaults.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use subnet_chain::AccountId;

use super::{DEFAULT_CALL_TIMEOUT, DEFAULT_MEMORY, parse_public_key};
use crate::caps::CapabilitiesConfig;
use crate::units::{Bytes, Dur};

fn yes() -> bool {
    true
}

/// One `[[subnet]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetConfig {
    /// The subnet's netuid on the chain.
    pub netuid: u16,
    /// Whether the daemon runs this subnet (default true). A disabled subnet is checked like
    /// the others but not set up; a config reload turning it on or off touches it alone.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// A label for logs and status; default `subnet-<netuid>`.
    pub name: Option<String>,
    /// The mechanism (sub-subnet) this entry validates and sets weights for; default 0, the
    /// subnet's main one. One daemon validates one mechanism of a netuid (its state, store and
    /// metrics are keyed by netuid); validate another mechanism with another daemon.
    #[serde(default)]
    pub mechanism: u8,
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
    /// Capabilities granted to the module, as written (`[subnet.capabilities]`); each
    /// capability parses and checks its own keys into [`SubnetConfig::capabilities`].
    #[serde(default, rename = "capabilities")]
    pub capabilities_table: toml::Table,
    /// The parsed capabilities (set by [`super::DaemonConfig::from_toml`]).
    #[serde(skip)]
    pub capabilities: CapabilitiesConfig,
    /// Hot reload settings.
    #[serde(default)]
    pub reload: ReloadConfig,
    /// How the subnet's validator reaches miners (`[subnet.network]`).
    #[serde(default)]
    pub network: NetworkConfig,
    /// The wire protocol the subnet's validators and miners speak: `btauth` (the default),
    /// `axon` (bittensor <= 10.5 Synapse; needs `synapse`) or `epistula` (SN1's Epistula v2).
    /// See [`crate::net::wire`].
    pub protocol: Option<String>,
    /// `axon`: the synapse's class name (`synapse = "TextTask"`), its route `POST /TextTask`.
    pub synapse: Option<String>,
    /// `axon`: the synapse's `required_hash_fields`, in its order.
    #[serde(default)]
    pub required_hash_fields: Vec<String>,
    /// `axon`: the field a payload that is not a JSON object travels in (default `payload`).
    pub payload_field: Option<String>,
    /// `axon`: the field the answer to such a payload comes back in (default `response`).
    pub response_field: Option<String>,
    /// `epistula`: the path tasks are sent to (default `/v1/task`).
    pub epistula_path: Option<String>,
    /// The parsed protocol (set by [`super::DaemonConfig::from_toml`]).
    #[serde(skip)]
    pub wire: crate::net::WireProtocol,
    /// With the local chain backend: create this subnet, register the validator and simulated
    /// miners.
    pub local: Option<LocalSubnetConfig>,
}

/// `[subnet.network]`: the validator's queries to miners (distinct from the outbound HTTP
/// capability's allow-list, which governs the module's own requests).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Query miners whose axons announce loopback, private, link-local or other non-global
    /// addresses (default false: a miner chooses its address, and would otherwise point the
    /// validator's signed requests at the validator's own network or a cloud metadata service;
    /// see [`crate::net::target`]). Turn it on for a local test net.
    #[serde(default)]
    pub allow_private_targets: bool,
}

impl SubnetConfig {
    /// The protocol settings as written.
    pub fn wire_settings(&self) -> crate::net::WireSettings {
        crate::net::WireSettings {
            protocol: self.protocol.clone(),
            synapse: self.synapse.clone(),
            required_hash_fields: self.required_hash_fields.clone(),
            payload_field: self.payload_field.clone(),
            response_field: self.response_field.clone(),
            path: self.epistula_path.clone(),
        }
    }

    /// The transport settings for this subnet's queries: its protocol and target policy.
    pub fn transport(&self) -> crate::net::HttpTransportConfig {
        crate::net::HttpTransportConfig {
            allow_private_targets: self.network.allow_private_targets,
            protocol: self.wire.clone(),
            ..crate::net::HttpTransportConfig::default()
        }
    }
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
    /// When the running scores start again from nothing: `never` (the default: scores carry
    /// across reloads) or `version` (the first round of a module version other than the one
    /// that ran the last round starts from empty scores and no kept deferred tasks, for a
    /// reload that changed the scoring rule).
    #[serde(default)]
    pub reset_scores_on: ResetScoresOn,
}

/// `[subnet.reload] reset_scores_on`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResetScoresOn {
    /// Scores carry across reloads.
    #[default]
    Never,
    /// A new module version starts from empty scores.
    Version,
}

fn default_debounce() -> Dur {
    Dur(Duration::from_millis(300))
}

impl Default for ReloadConfig {
    fn default() -> Self {
        Self { watch: true, debounce: default_debounce(), reset_scores_on: ResetScoresOn::Never }
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
    /// Commit-reveal of weights; default off. With the default `commit_reveal_version` the
    /// daemon makes timelocked (v4) commits that the chain reveals itself, as on today's network.
    #[serde(default)]
    pub commit_reveal: bool,
    /// The chain's `CommitRevealWeightsVersion`: 4 (today's) takes timelocked commits; any other
    /// value refuses them, so the daemon falls back to v2 hash commits it reveals itself (as on
    /// a runtime without drand).
    #[serde(default = "default_commit_reveal_version")]
    pub commit_reveal_version: u16,
    /// Mechanisms (sub-subnets) of the subnet (`MechanismCountCurrent`), 1..=8; default 1.
    /// Emission is split evenly between them.
    #[serde(default = "default_mechanisms")]
    pub mechanisms: u8,
    /// Simulated miners registered on the subnet and served by the daemon.
    pub miners: Option<SimMinersConfig>,
}

fn default_commit_reveal_version() -> u16 {
    subnet_chain::DEFAULT_COMMIT_REVEAL_VERSION
}
fn default_mechanisms() -> u8 {
    1
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
    /// The honest miners' module (a miner `.wasm`). One path: several modules go in `modules`.
    #[serde(default, deserialize_with = "one_path")]
    pub module: Option<PathBuf>,
    /// More miner modules, each run by `count` miners (as the sandbox's `--mix`):
    /// `modules = [{ module = "copier.wasm", count = 2 }, ...]`.
    #[serde(default)]
    pub modules: Vec<SimModuleConfig>,
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
    /// HTTP server on loopback, queried in the subnet's `protocol`).
    #[serde(default)]
    pub serve: ServeMode,
}

/// One entry of `[subnet.local.miners] modules`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimModuleConfig {
    /// A miner `.wasm`.
    pub module: PathBuf,
    /// How many simulated miners run it (at least 1).
    pub count: usize,
}

/// `module` as one path, with an error that says where a list of modules goes.
fn one_path<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(PathBuf),
        Many(Vec<serde::de::IgnoredAny>),
        Other(toml::Value),
    }
    match OneOrMany::deserialize(d)? {
        OneOrMany::One(p) => Ok(Some(p)),
        OneOrMany::Many(list) => Err(serde::de::Error::custom(format!(
            "`module` is the honest miners' one module (a path), not a list of {}; for several miner \
             modules use `modules = [{{ module = \"a.wasm\", count = 2 }}, ...]`",
            list.len()
        ))),
        OneOrMany::Other(v) => Err(serde::de::Error::custom(format!(
            "expected the path of a miner .wasm (a string), found a {}",
            v.type_str()
        ))),
    }
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

impl WeightsConfig {
    /// The shared weight-setting path's policy.
    pub fn policy(&self) -> crate::weights::WeightPolicy {
        crate::weights::WeightPolicy {
            every_blocks: self.every_blocks,
            version_key: self.version_key,
            exclude_quantile: self.exclude_quantile,
        }
    }
}

impl SubnetConfig {
    /// The bounds of this subnet's rounds.
    pub fn round_limits(&self) -> crate::validator::RoundLimits {
        crate::validator::RoundLimits {
            max_tasks: self.tasks.max_tasks,
            max_task_timeout: self.tasks.max_task_timeout.0,
            ..crate::validator::RoundLimits::default()
        }
    }

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
