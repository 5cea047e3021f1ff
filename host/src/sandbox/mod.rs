//! The local sandbox: a subnet's modules run for whole epochs against the embedded chain,
//! with simulated miners and validators, and a report of who earns what.
//!
//! One run: create a subnet on a [`LocalChain`], register `V` validators (stakes as given)
//! and `N` miners, run one warm-up epoch so the chain hands out validator permits, then for
//! each epoch let every validator run a round and set weights, advance the chain to its next
//! epoch (Yuma Consensus runs there) and record per uid: running score, weight, consensus,
//! incentive, dividends and the alpha it earned.
//!
//! Validators are honest (they run the subnet's validator module), weight copiers (they set the
//! consensus of the previous epoch as their weights) or lazy (uniform weights). Miners are the
//! bundle's miner modules (honest ones and the bundle's own adversaries) plus two built-in
//! adversaries: `lazy` never answers, `random` answers noise.
//!
//! Reproducibility: keys, tasks, miner randomness and simulated latencies all derive from the
//! seed, and nothing in the report depends on timing, so the same seed gives the same report.
//!
//! Failure modes: a module that fails a call costs that validator its round (its weights stay
//! as they were) and is listed in the epoch's `errors`; chain rejections of `set_weights` are
//! listed the same way with the subtensor error name. The run itself only fails on bad
//! configuration or a chain storage error.

pub mod report;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::join_all;
use subnet_chain::local::{LocalChain, LocalChainConfig, RAO_PER_TAO};
use subnet_chain::{AccountId, Chain, ChainError, Metagraph, NetUid};
use subnet_keys::{CryptoType, Keypair};

use crate::bundle::BuiltBundle;
use crate::caps::CallEnv;
use crate::caps::compute::ComputeBackend;
use crate::caps::kv::MemoryKv;
use crate::caps::metagraph::MetagraphView;
use crate::caps::random::{derive_seed, seed_part};
use crate::runtime::{LoadError, Runtime, ValidatorModule};
use crate::validator::state::ScoreState;
use crate::validator::transport::{InProcessMiners, MinerTransport, SimMiner};
use crate::validator::{RoundInput, RoundLimits, run_round, weights_for_chain};
pub use report::{EpochReport, NeuronReport, RoleTotal, SandboxReport};

/// How a simulated validator sets its weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidatorKind {
    /// Runs the subnet's validator module.
    Honest,
    /// Sets the previous epoch's consensus as its weights, without querying anyone.
    Copier,
    /// Sets uniform weights on every other uid.
    Lazy,
}

impl ValidatorKind {
    /// Parses `honest`, `copier` or `lazy`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "honest" => Some(Self::Honest),
            "copier" | "copy" => Some(Self::Copier),
            "lazy" => Some(Self::Lazy),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Honest => "honest",
            Self::Copier => "copier",
            Self::Lazy => "lazy",
        }
    }
}

/// Stake of a simulated validator unless told otherwise, in alpha: above the subnet template's
/// 4096 permit limit, so validator modules treat it as a validator and not as a miner.
pub const DEFAULT_VALIDATOR_STAKE: f64 = 10_000.0;

/// One simulated validator.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatorSpec {
    /// How it behaves.
    pub kind: ValidatorKind,
    /// Its stake, in alpha.
    pub stake: f64,
}

/// What a sandbox run looks like.
#[derive(Clone)]
pub struct SandboxConfig {
    /// Number of miners.
    pub miners: usize,
    /// Epochs to run (after the warm-up epoch).
    pub epochs: usize,
    /// Seed of everything random.
    pub seed: u64,
    /// The validators, in uid order.
    pub validators: Vec<ValidatorSpec>,
    /// Miner roles by name and count (`honest`, `lazy`, `random`, or a bundle miner's name);
    /// `None` picks a default mix.
    pub mix: Option<Vec<(String, usize)>>,
    /// Blocks per epoch (`Tempo`).
    pub tempo: u16,
    /// Yuma3 bonds (the chain default) or classic bonds.
    pub yuma3: bool,
    /// Persist the chain here, so a run can stop and resume; `None` keeps it in memory.
    pub state_dir: Option<PathBuf>,
    /// Bounds on the validator module's rounds.
    pub limits: RoundLimits,
    /// Model calls for the validators (and miners) of subnets that use the compute capability.
    pub compute: Option<Arc<dyn ComputeBackend>>,
    /// Serve every miner over HTTP on loopback and query it with signed requests (the real
    /// path); latencies are then real, so reports are no longer byte-identical across runs.
    pub network: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            miners: 8,
            epochs: 3,
            seed: 0,
            validators: vec![ValidatorSpec { kind: ValidatorKind::Honest, stake: DEFAULT_VALIDATOR_STAKE }],
            mix: None,
            tempo: 360,
            yuma3: true,
            state_dir: None,
            limits: RoundLimits::default(),
            compute: None,
            network: false,
        }
    }
}

/// Why a sandbox run could not happen.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A module failed to load.
    #[error("{path}: {source}")]
    Load {
        /// The component file.
        path: PathBuf,
        /// Why.
        source: LoadError,
    },
    /// The configuration cannot run.
    #[error("{0}")]
    Config(String),
    /// The chain failed.
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
}

/// A deterministic keypair for a sandbox role.
fn sandbox_key(seed: u64, role: &str, index: u64) -> Keypair {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&derive_seed(&[seed, seed_part(role), index, i as u64]).to_le_bytes());
    }
    Keypair::from_seed(CryptoType::Sr25519, &bytes)
}

/// The role of each miner slot: `(role name, simulated miner)`.
fn miner_roles(
    runtime: &Runtime,
    bundle: &BuiltBundle,
    config: &SandboxConfig,
) -> Result<Vec<(String, bool, SimMiner)>, SandboxError> {
    let load = |path: &PathBuf| {
        let bytes = std::fs::read(path).map_err(|e| SandboxError::Config(format!("{}: {e}", path.display())))?;
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("miner");
        runtime.load_miner(name, &bytes).map_err(|source| SandboxError::Load { path: path.clone(), source })
    };
    let mut modules: BTreeMap<String, (bool, SimMiner)> = BTreeMap::new();
    for (name, honest, path) in &bundle.miners {
        modules.insert(name.clone(), (*honest, SimMiner::Module(load(path)?)));
    }
    let honest_names: Vec<String> = bundle.miners.iter().filter(|m| m.1).map(|m| m.0.clone()).collect();
    let mix: Vec<(String, usize)> = match &config.mix {
        Some(mix) => mix.clone(),
        None => {
            if honest_names.is_empty() {
                return Err(SandboxError::Config(
                    "no honest miner module: give the bundle a [[miner]] or pass --miner".into(),
                ));
            }
            // Adversaries: the two built-ins, then the bundle's own; at least half the miners
            // stay honest so the report shows what honest work earns against them.
            let mut adversaries: Vec<String> = vec!["lazy".into(), "random".into()];
            adversaries.extend(bundle.miners.iter().filter(|m| !m.1).map(|m| m.0.clone()));
            let slots = config.miners / 2;
            adversaries.truncate(slots);
            let honest = config.miners - adversaries.len();
            let mut mix: Vec<(String, usize)> = Vec::new();
            for i in 0..honest {
                let name = &honest_names[i % honest_names.len()];
                match mix.iter_mut().find(|(n, _)| n == name) {
                    Some(entry) => entry.1 += 1,
                    None => mix.push((name.clone(), 1)),
                }
            }
            mix.extend(adversaries.into_iter().map(|a| (a, 1)));
            mix
        }
    };
    let mut roles = Vec::new();
    for (name, count) in mix {
        let (honest, miner) = match name.as_str() {
            "lazy" => (false, SimMiner::Lazy),
            "random" => (false, SimMiner::Random),
            "honest" if !honest_names.is_empty() => modules[&honest_names[0]].clone(),
            other => modules.get(other).cloned().ok_or_else(|| {
                SandboxError::Config(format!(
                    "unknown miner role `{other}`: use honest, lazy, random or one of [{}]",
                    modules.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
            })?,
        };
        roles.extend(std::iter::repeat_n((name, honest, miner), count));
    }
    if roles.len() != config.miners {
        return Err(SandboxError::Config(format!(
            "the miner mix has {} miners, --miners says {}",
            roles.len(),
            config.miners
        )));
    }
    Ok(roles)
}

/// A validator taking part in the run.
struct SimValidator {
    spec: ValidatorSpec,
    key: Keypair,
    state: ScoreState,
    kv: Arc<MemoryKv>,
}

/// What one validator did in one epoch.
struct ValidatorTurn {
    /// Normalised weights it asked for, by uid.
    weights: BTreeMap<u16, f64>,
    error: Option<String>,
}

fn normalised(weights: impl IntoIterator<Item = (u16, f64)>) -> BTreeMap<u16, f64> {
    let map: BTreeMap<u16, f64> = weights.into_iter().filter(|(_, w)| *w > 0.0).collect();
    let sum: f64 = map.values().sum();
    if sum <= 0.0 {
        return BTreeMap::new();
    }
    map.into_iter().map(|(u, w)| (u, w / sum)).collect()
}

/// Where a resumable run keeps its validators' running scores, next to the chain database.
const VALIDATOR_STATE_FILE: &str = "sandbox-validators.json";

fn load_validator_states(dir: &std::path::Path, count: usize) -> Result<Vec<ScoreState>, SandboxError> {
    let path = dir.join(VALIDATOR_STATE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![ScoreState::new(); count]),
        Err(e) => return Err(SandboxError::Config(format!("{}: {e}", path.display()))),
    };
    let states: Vec<ScoreState> =
        serde_json::from_str(&text).map_err(|e| SandboxError::Config(format!("{}: {e}", path.display())))?;
    if states.len() != count {
        return Err(SandboxError::Config(format!(
            "{} holds {} validators, this run has {count}: use the same validator options as the run that created it",
            path.display(),
            states.len()
        )));
    }
    Ok(states)
}

/// Written to a temporary file and renamed, so a killed run leaves the previous epoch's states.
fn save_validator_states(dir: &std::path::Path, validators: &[SimValidator]) -> Result<(), SandboxError> {
    let states: Vec<&ScoreState> = validators.iter().map(|v| &v.state).collect();
    let path = dir.join(VALIDATOR_STATE_FILE);
    let tmp = dir.join(format!("{VALIDATOR_STATE_FILE}.tmp"));
    let text = serde_json::to_string(&states).map_err(|e| SandboxError::Config(e.to_string()))?;
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| SandboxError::Config(format!("{}: {e}", path.display())))
}

/// Runs the sandbox. See the module docs.
pub async fn run(
    runtime: &Runtime,
    bundle: &BuiltBundle,
    config: &SandboxConfig,
    mut progress: impl FnMut(usize, usize),
) -> Result<SandboxReport, SandboxError> {
    if config.validators.is_empty() {
        return Err(SandboxError::Config("at least one validator is needed".into()));
    }
    if config.miners == 0 {
        return Err(SandboxError::Config("at least one miner is needed".into()));
    }
    let n = config.validators.len() + config.miners;
    if n > 256 {
        return Err(SandboxError::Config(format!("{n} neurons; a subnet holds at most 256")));
    }
    if config.tempo < 2 {
        return Err(SandboxError::Config("tempo must be at least 2 blocks".into()));
    }
    let validator_bytes = std::fs::read(&bundle.validator)
        .map_err(|e| SandboxError::Config(format!("{}: {e}", bundle.validator.display())))?;
    let module: ValidatorModule = runtime
        .load_validator(&bundle.name, &validator_bytes)
        .map_err(|source| SandboxError::Load { path: bundle.validator.clone(), source })?;
    let roles = miner_roles(runtime, bundle, config)?;

    let chain_config = LocalChainConfig { allow_loopback_axons: true, ..LocalChainConfig::default() };
    let chain = Arc::new(match &config.state_dir {
        Some(dir) => LocalChain::open_with(dir, chain_config)?,
        None => LocalChain::in_memory_with(chain_config),
    });
    let seed = config.seed;
    let owner = sandbox_key(seed, "owner", 0).account_id();
    let mut validators: Vec<SimValidator> = config
        .validators
        .iter()
        .enumerate()
        .map(|(i, spec)| SimValidator {
            spec: spec.clone(),
            key: sandbox_key(seed, "validator", i as u64),
            state: ScoreState::new(),
            kv: MemoryKv::new(64 << 20),
        })
        .collect();
    if let Some(dir) = &config.state_dir {
        for (v, state) in validators.iter_mut().zip(load_validator_states(dir, config.validators.len())?) {
            v.state = state;
        }
    }
    let miner_keys: Vec<AccountId> =
        (0..config.miners).map(|i| sandbox_key(seed, "miner", i as u64).account_id()).collect();

    // A resumed run finds its subnet and neurons already on the chain.
    let netuid: NetUid = match chain.subnets().await?.first() {
        Some(netuid) => *netuid,
        None => {
            let netuid = chain.create_subnet(&owner, None)?;
            chain.update_hyperparams(netuid, |h| {
                h.tempo = config.tempo;
                h.weights_rate_limit = h.weights_rate_limit.min(u64::from(config.tempo));
                h.yuma3_enabled = config.yuma3;
                h.immunity_period = u16::MAX;
            })?;
            // Every neuron has its own coldkey: the chain burns the incentive of hotkeys the
            // subnet owner's coldkey owns, as subtensor does.
            for (i, v) in validators.iter().enumerate() {
                let hotkey = v.key.account_id();
                let coldkey = sandbox_key(seed, "validator-coldkey", i as u64).account_id();
                chain.register_now(&hotkey, &coldkey, netuid)?;
                let stake = (v.spec.stake * RAO_PER_TAO as f64).round() as u64;
                if stake > 0 {
                    chain.add_stake(&coldkey, &hotkey, netuid, stake)?;
                }
            }
            for (i, hotkey) in miner_keys.iter().enumerate() {
                let coldkey = sandbox_key(seed, "miner-coldkey", i as u64).account_id();
                chain.register_now(hotkey, &coldkey, netuid)?;
            }
            // Warm-up: the first epoch hands out validator permits by stake.
            chain.advance_to_next_epoch(netuid)?;
            netuid
        }
    };
    let first = chain.metagraph_now(netuid)?;
    if first.neurons.len() != n {
        return Err(SandboxError::Config(format!(
            "the chain in the state directory holds {} neurons, this run needs {n}: use the same \
             --validators and --miners as the run that created it",
            first.neurons.len()
        )));
    }

    let uid_of = |key: &AccountId| first.uid_of(key).unwrap_or(u16::MAX);
    let miners_by_uid: BTreeMap<u16, SimMiner> =
        miner_keys.iter().zip(&roles).map(|(k, (_, _, m))| (uid_of(k), m.clone())).collect();
    let mut role_of: BTreeMap<u16, (String, String, bool)> = BTreeMap::new();
    for v in &validators {
        let honest = v.spec.kind == ValidatorKind::Honest;
        role_of.insert(uid_of(&v.key.account_id()), ("validator".into(), v.spec.kind.name().into(), honest));
    }
    for (k, (name, honest, _)) in miner_keys.iter().zip(&roles) {
        role_of.insert(uid_of(k), ("miner".into(), name.clone(), *honest));
    }

    let block_emission = chain.config().block_emission_rao;
    let mut report = SandboxReport::new(&bundle.name, config, netuid, &role_of, &first);
    let mut previous: Metagraph = first;

    // With `network`, every simulated miner is a real HTTP server on loopback with its axon on
    // chain, and validators query them with signed requests, as on a real subnet.
    let served_env = CallEnv {
        compute: config.compute.clone(),
        ..CallEnv::new(format!("{} miners", bundle.name), 0, Arc::new(MetagraphView::default()))
    };
    let _servers = if config.network {
        let miners = miner_keys.iter().copied().zip(roles.iter().map(|(_, _, m)| m.clone())).collect();
        crate::net::sim::serve_sim_miners(chain.clone() as Arc<dyn Chain>, netuid, miners, served_env)
            .await
            .map_err(|e| SandboxError::Config(format!("serving the simulated miners: {e}")))?
    } else {
        Vec::new()
    };
    let http: Vec<crate::net::HttpTransport> = if config.network {
        validators.iter().map(|v| crate::net::HttpTransport::new(v.key.clone(), Default::default())).collect()
    } else {
        Vec::new()
    };

    for e in 0..config.epochs {
        progress(e, config.epochs);
        let epoch = chain.epoch_index(netuid)?;
        let metagraph = chain.metagraph_now(netuid)?;
        let miner_env = CallEnv {
            compute: config.compute.clone(),
            ..CallEnv::new(
                format!("{} miners", bundle.name),
                0,
                Arc::new(MetagraphView {
                    netuid,
                    block: metagraph.block,
                    neurons: crate::validator::neurons_of(&metagraph),
                }),
            )
        };
        let in_process = InProcessMiners::new(miners_by_uid.clone(), miner_env);
        let turns = join_all(validators.iter_mut().enumerate().map(|(i, v)| {
            let metagraph = &metagraph;
            let previous = &previous;
            let chain = chain.clone();
            let module = &module;
            let transport: &dyn MinerTransport = match http.get(i) {
                Some(http) => http,
                None => &in_process,
            };
            let limits = &config.limits;
            let subnet = bundle.name.clone();
            async move {
                let hotkey = v.key.account_id();
                let my_uid = metagraph.uid_of(&hotkey);
                let wanted: Result<Vec<(u16, f64)>, String> = match v.spec.kind {
                    ValidatorKind::Honest => {
                        let env = CallEnv {
                            kv: Some(v.kv.clone() as Arc<dyn crate::caps::kv::KvStore>),
                            compute: config.compute.clone(),
                            ..CallEnv::new(format!("{subnet} v{i}"), 0, Arc::new(MetagraphView::default()))
                        };
                        let round_seed = derive_seed(&[seed, u64::from(netuid), epoch, i as u64]);
                        run_round(
                            RoundInput {
                                module,
                                env: &env,
                                metagraph,
                                validator: &hotkey,
                                epoch,
                                seed: round_seed,
                                transport,
                                limits,
                            },
                            &mut v.state,
                        )
                        .await
                        .map(|o| o.weights.iter().map(|w| (w.uid, w.value)).collect())
                        .map_err(|e| e.to_string())
                    }
                    ValidatorKind::Copier => {
                        Ok(previous.neurons.iter().map(|n| (n.uid, f64::from(n.consensus))).collect())
                    }
                    ValidatorKind::Lazy => {
                        Ok(metagraph.neurons.iter().filter(|n| Some(n.uid) != my_uid).map(|n| (n.uid, 1.0)).collect())
                    }
                };
                match wanted {
                    Err(error) => ValidatorTurn { weights: BTreeMap::new(), error: Some(error) },
                    Ok(wanted) => {
                        let weights = normalised(wanted);
                        let as_wit: Vec<crate::bindings::types::Weight> = weights
                            .iter()
                            .map(|(uid, value)| crate::bindings::types::Weight { uid: *uid, value: *value })
                            .collect();
                        let (uids, values) = weights_for_chain(&as_wit, metagraph.neurons.len());
                        let error = if uids.is_empty() {
                            // A copier has nothing to copy before the first consensus exists.
                            (v.spec.kind != ValidatorKind::Copier).then(|| "no non-zero weights to set".to_owned())
                        } else {
                            chain
                                .set_weights(&hotkey, netuid, &uids, &values, 0)
                                .await
                                .err()
                                .map(|e| format!("set_weights: {e}"))
                        };
                        ValidatorTurn { weights, error }
                    }
                }
            }
        }))
        .await;

        let before: BTreeMap<AccountId, u64> = metagraph.neurons.iter().map(|n| (n.hotkey, n.stake)).collect();
        let block_before = metagraph.block;
        chain.advance_to_next_epoch(netuid)?;
        let after = chain.metagraph_now(netuid)?;
        let blocks = after.block - block_before;
        report.push_epoch(
            epoch,
            &after,
            &before,
            blocks.saturating_mul(block_emission),
            &validators.iter().map(|v| (v.spec.kind, &v.state)).collect::<Vec<_>>(),
            &turns.iter().map(|t| (&t.weights, t.error.as_deref())).collect::<Vec<_>>(),
        );
        previous = after;
        if let Some(dir) = &config.state_dir {
            save_validator_states(dir, &validators)?;
        }
    }
    progress(config.epochs, config.epochs);
    report.finish();
    Ok(report)
}
