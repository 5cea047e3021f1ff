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
mod roles;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::join_all;
use subnet_chain::local::{LocalChain, LocalChainConfig, RAO_PER_TAO};
use subnet_chain::{AccountId, Chain, ChainError, Metagraph};
use subnet_keys::Keypair;

use crate::bindings::types::Weight;
use crate::bundle::BuiltBundle;
use crate::caps::compute::ComputeBackend;
use crate::caps::kv::{KvStore, MemoryKv};
use crate::caps::metagraph::MetagraphView;
use crate::runtime::{LoadError, Runtime, SubnetEnv, ValidatorModule};
use crate::sim::local::{SimNeuron, ensure_local_subnet};
use crate::sim::{InProcessMiners, SimMiner, serve_sim_miners, sim_key};
use crate::validator::MinerTransport;
use crate::validator::state::ScoreState;
use crate::validator::{RoundInput, RoundLimits, round_seed, run_round};
use crate::weights::{CommitStore, MemoryCommits, Submission, WeightPolicy, WeightSetter};
pub use report::{EpochReport, NeuronReport, RoleTotal, SandboxReport, TaskScoreReport, ValidatorWeightsReport};

/// How the error of a validator round that failed as a whole begins (every task unscored, a
/// `score` that trapped: [`crate::validator::RoundOutcome::failure`]); see
/// [`SandboxReport::failed_rounds`].
pub const ROUND_FAILED: &str = "round failed: ";

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
    /// Commit-reveal of weights on the subnet, as on today's network (the chain's default).
    pub commit_reveal: bool,
    /// Serve every miner over HTTP on loopback and query it with signed requests (the real
    /// path); latencies are then real, so reports are no longer byte-identical across runs.
    pub network: bool,
    /// With `network`, the wire protocol miners serve and validators speak (default `btauth/1`).
    pub protocol: crate::net::WireProtocol,
    /// Outbound HTTP for the validators (never the miners): the policy a daemon builds from
    /// `outbound_hosts`; none refuses every request.
    pub outbound: Option<Arc<crate::caps::http::OutboundPolicy>>,
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
            commit_reveal: true,
            network: false,
            protocol: crate::net::WireProtocol::Btauth,
            outbound: None,
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

/// A validator taking part in the run.
struct SimValidator {
    spec: ValidatorSpec,
    key: Keypair,
    state: ScoreState,
    /// Its calls' shared environment: its own store, the run's models.
    subnet: Arc<SubnetEnv>,
    /// Its pending commit, with commit-reveal on.
    commits: MemoryCommits,
}

/// What one validator did in one epoch.
struct ValidatorTurn {
    /// Normalised weights it sent (set or committed), by uid.
    weights: BTreeMap<u16, f64>,
    error: Option<String>,
    /// Whether `error` is a round that failed as a whole ([`RoundOutcome::failure`]).
    ///
    /// [`RoundOutcome::failure`]: crate::validator::RoundOutcome::failure
    round_failed: bool,
    /// How they went out.
    report: ValidatorWeightsReport,
    /// The block an earlier commit was revealed in by this turn (v2 reveals).
    revealed: Option<u64>,
    /// What the round's tasks scored (honest validators), metrics included.
    task_scores: Vec<report::TaskScoreReport>,
}

/// Advances to the next epoch of `netuid`. While some of `waiting` have a timelocked commit
/// pending it goes block by block and returns the block each one's commit was revealed in (the
/// chain's `TimelockedWeightsRevealed` event): under commit-reveal the chain's `last_update`
/// stays at the commit block, so the events are the only record of the reveal's block.
fn advance_epoch_watching_reveals(
    chain: &LocalChain,
    netuid: subnet_chain::NetUid,
    waiting: &[AccountId],
) -> Result<BTreeMap<AccountId, u64>, ChainError> {
    let mut revealed = BTreeMap::new();
    if waiting.is_empty() {
        chain.advance_to_next_epoch(netuid)?;
        return Ok(revealed);
    }
    // An epoch runs within `tempo` blocks of the last, plus a few deferred by the per-block cap.
    let bound = chain.next_epoch_block(netuid)?.saturating_sub(chain.block()) + 64;
    for _ in 0..bound {
        let events = chain.advance_blocks(1)?;
        let block = chain.block();
        for event in &events {
            if let subnet_chain::ChainEvent::TimelockedWeightsRevealed { who, .. } = event
                && waiting.contains(who)
            {
                revealed.insert(*who, block);
            }
        }
        if events.iter().any(|e| matches!(e, subnet_chain::ChainEvent::EpochRun { netuid: n, .. } if *n == netuid)) {
            return Ok(revealed);
        }
        if revealed.len() == waiting.len() {
            chain.advance_to_next_epoch(netuid)?;
            return Ok(revealed);
        }
    }
    Err(ChainError::InvalidInput(format!("subnet {netuid} did not run its epoch within {bound} blocks")))
}

fn submission_report(uid: u16, submission: &Submission) -> ValidatorWeightsReport {
    let mut r = ValidatorWeightsReport { uid, ..Default::default() };
    r.submitted = match submission {
        Submission::Set(_) => "set",
        Submission::Committed { block, reveal_round, .. } => {
            r.commit_block = Some(*block);
            r.reveal_round = *reveal_round;
            "committed"
        }
        Submission::Waiting { .. } => "waiting",
        Submission::Revealed(_) => "revealed",
        Submission::NotDue { .. } => "none",
        _ => "failed",
    }
    .to_owned();
    r
}

/// Submitted u16 weights as fractions of their sum, by uid.
fn normalised(uids: &[u16], values: &[u16]) -> BTreeMap<u16, f64> {
    let sum: f64 = values.iter().map(|v| f64::from(*v)).sum();
    if sum <= 0.0 {
        return BTreeMap::new();
    }
    uids.iter().zip(values).map(|(u, v)| (*u, f64::from(*v) / sum)).collect()
}

/// Budget of each simulated miner's own key-value store.
const MINER_KV_BUDGET: usize = 16 << 20;

/// The environment shared by the calls of one simulated identity: `kv` as its store, the run's
/// models.
fn sim_subnet(label: String, config: &SandboxConfig, kv: Option<Arc<MemoryKv>>) -> SubnetEnv {
    let mut subnet = SubnetEnv::new(label);
    subnet.caps.kv = kv.map(|kv| kv as Arc<dyn KvStore>);
    subnet.caps.compute = config.compute.clone();
    subnet
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
    let roles = roles::miner_roles(runtime, bundle, config)?;

    let chain_config = LocalChainConfig { allow_loopback_axons: true, ..LocalChainConfig::default() };
    let chain = Arc::new(match &config.state_dir {
        Some(dir) => LocalChain::open_with(dir, chain_config)?,
        None => LocalChain::in_memory_with(chain_config),
    });
    let seed = config.seed;
    let owner = sim_key(seed, "owner", 0).account_id();
    let mut validators: Vec<SimValidator> = config
        .validators
        .iter()
        .enumerate()
        .map(|(i, spec)| SimValidator {
            spec: spec.clone(),
            key: sim_key(seed, "validator", i as u64),
            state: ScoreState::new(),
            subnet: Arc::new({
                let mut subnet = sim_subnet(format!("{} v{i}", bundle.name), config, Some(MemoryKv::new(64 << 20)));
                subnet.caps.http = config.outbound.clone();
                subnet
            }),
            commits: MemoryCommits::default(),
        })
        .collect();
    if let Some(dir) = &config.state_dir {
        for (v, state) in validators.iter_mut().zip(load_validator_states(dir, config.validators.len())?) {
            v.state = state;
        }
    }
    let miner_keys: Vec<AccountId> =
        (0..config.miners).map(|i| sim_key(seed, "miner", i as u64).account_id()).collect();

    // Every neuron has its own coldkey. A resumed run finds its subnet and neurons already on
    // the chain, and registers nothing (a run with other options fails the check below).
    let resumed = !chain.subnets().await?.is_empty();
    let mut neurons: Vec<SimNeuron> = Vec::new();
    if !resumed {
        for (i, v) in validators.iter().enumerate() {
            neurons.push(SimNeuron {
                hotkey: v.key.account_id(),
                coldkey: sim_key(seed, "validator-coldkey", i as u64).account_id(),
                stake_rao: (v.spec.stake * RAO_PER_TAO as f64).round() as u64,
            });
        }
        for (i, hotkey) in miner_keys.iter().enumerate() {
            let coldkey = sim_key(seed, "miner-coldkey", i as u64).account_id();
            neurons.push(SimNeuron { hotkey: *hotkey, coldkey, stake_rao: 0 });
        }
    }
    let configure = |h: &mut subnet_chain::Hyperparams, created: bool| {
        if created {
            h.commit_reveal_enabled = config.commit_reveal;
            h.tempo = config.tempo;
            h.weights_rate_limit = h.weights_rate_limit.min(u64::from(config.tempo));
            h.yuma3_enabled = config.yuma3;
            h.immunity_period = u16::MAX;
        }
    };
    let netuid = ensure_local_subnet(&chain, None, &owner, configure, &neurons).await?.netuid;
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
    // Each simulated miner has its own key-value store for the whole run, as a real miner
    // started with `subnetd miner --kv DIR` has.
    let miner_uids: Vec<u16> = miner_keys.iter().map(uid_of).collect();
    let miner_envs: BTreeMap<u16, Arc<SubnetEnv>> = miner_uids
        .iter()
        .map(|&uid| {
            let label = format!("{} miner uid {uid}", bundle.name);
            (uid, Arc::new(sim_subnet(label, config, Some(MemoryKv::new(MINER_KV_BUDGET)))))
        })
        .collect();
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
    let miners_subnet = Arc::new(sim_subnet(format!("{} miners", bundle.name), config, None));
    let mut _servers = Vec::new();
    if config.network {
        // One server per miner, each with its own module environment (its own kv store).
        for (i, ((_, _, m), uid)) in roles.iter().zip(&miner_uids).enumerate() {
            let env = miner_envs.get(uid).cloned().unwrap_or_else(|| miners_subnet.clone());
            let key = sim_key(seed, "miner", i as u64);
            let served = serve_sim_miners(
                chain.clone() as Arc<dyn Chain>,
                netuid,
                vec![(key, m.clone())],
                env,
                &config.protocol,
            )
            .await
            .map_err(|e| SandboxError::Config(format!("serving the simulated miners: {e}")))?;
            _servers.extend(served);
        }
    }
    let http: Vec<crate::net::HttpTransport> = if config.network {
        validators
            .iter()
            .map(|v| {
                let config = crate::net::HttpTransportConfig {
                    allow_private_targets: true,
                    protocol: config.protocol.clone(),
                    ..Default::default()
                };
                crate::net::HttpTransport::new(v.key.clone(), config)
            })
            .collect()
    } else {
        Vec::new()
    };

    for e in 0..config.epochs {
        progress(e, config.epochs);
        let schedule = chain.epoch_schedule_now(netuid)?;
        let epoch = schedule.epoch();
        let beacon = chain.drand_beacon().await?;
        let metagraph = chain.metagraph_now(netuid)?;
        let hyper = chain.hyperparams_now(netuid)?;
        let view = MetagraphView::from(&metagraph);
        let in_process = InProcessMiners::new(miners_by_uid.clone(), miners_subnet.clone(), Arc::new(view))
            .with_own_envs(miner_envs.clone());
        let turns = join_all(validators.iter_mut().enumerate().map(|(i, v)| {
            let metagraph = &metagraph;
            let previous = &previous;
            let chain = chain.clone();
            let module = &module;
            let hyper = &hyper;
            let schedule = &schedule;
            let beacon = &beacon;
            let transport: &dyn MinerTransport = match http.get(i) {
                Some(http) => http,
                None => &in_process,
            };
            let limits = &config.limits;
            async move {
                let hotkey = v.key.account_id();
                let my_uid = metagraph.uid_of(&hotkey);
                // The honest round's per-task scores (with the module's metrics), and whether
                // the round failed as a whole.
                let mut task_scores = Vec::new();
                let mut round_failed = false;
                let wanted: Result<Vec<(u16, f64)>, String> = match v.spec.kind {
                    ValidatorKind::Honest => {
                        let round_seed = round_seed(seed, &hotkey, netuid, metagraph.block, e as u64);
                        let outcome = run_round(
                            RoundInput {
                                module,
                                subnet: &v.subnet,
                                metagraph,
                                validator: &hotkey,
                                epoch,
                                seed: round_seed,
                                transport,
                                limits,
                            },
                            &mut v.state,
                        )
                        .await;
                        match outcome {
                            Err(e) => Err(e.to_string()),
                            Ok(o) => {
                                task_scores = report::TaskScoreReport::of_round(my_uid.unwrap_or(u16::MAX), &o);
                                match o.failure() {
                                    // As in the daemon: such a round sets no weights.
                                    Some(failure) => {
                                        round_failed = true;
                                        Err(format!("{ROUND_FAILED}{failure}"))
                                    }
                                    None => Ok(o.weights.iter().map(|w| (w.uid, w.value)).collect()),
                                }
                            }
                        }
                    }
                    ValidatorKind::Copier => {
                        Ok(previous.neurons.iter().map(|n| (n.uid, f64::from(n.consensus))).collect())
                    }
                    ValidatorKind::Lazy => {
                        Ok(metagraph.neurons.iter().filter(|n| Some(n.uid) != my_uid).map(|n| (n.uid, 1.0)).collect())
                    }
                };
                let uid = my_uid.unwrap_or(u16::MAX);
                let quiet =
                    |submitted: &str| ValidatorWeightsReport { uid, submitted: submitted.into(), ..Default::default() };
                match wanted {
                    Err(error) => ValidatorTurn {
                        weights: BTreeMap::new(),
                        error: Some(error),
                        round_failed,
                        report: quiet("failed"),
                        revealed: None,
                        task_scores,
                    },
                    // A copier has nothing to copy before the first consensus exists.
                    Ok(wanted) if v.spec.kind == ValidatorKind::Copier && wanted.iter().all(|(_, w)| *w <= 0.0) => {
                        ValidatorTurn {
                            weights: BTreeMap::new(),
                            error: None,
                            round_failed,
                            report: quiet("none"),
                            revealed: None,
                            task_scores,
                        }
                    }
                    Ok(wanted) => {
                        let wanted: Vec<Weight> =
                            wanted.into_iter().map(|(uid, value)| Weight { uid, value }).collect();
                        let setter = WeightSetter {
                            chain: &*chain,
                            hotkey,
                            netuid,
                            mecid: 0,
                            policy: WeightPolicy { every_blocks: 0, ..WeightPolicy::default() },
                            commits: &v.commits,
                            beacon: beacon.as_ref(),
                        };
                        let submission =
                            setter.submit(&wanted, metagraph, hyper, schedule, module.info().hash.as_str()).await;
                        // A validator whose commit waits for its reveal stands by the committed weights.
                        let pending = match &submission {
                            Submission::Waiting { .. } => v.commits.load().ok().flatten(),
                            _ => None,
                        };
                        let weights = submission
                            .sent()
                            .or(pending.as_ref().map(|c| (c.uids.as_slice(), c.weights.as_slice())))
                            .map(|(uids, values)| normalised(uids, values))
                            .unwrap_or_default();
                        let error = submission.is_failure().then(|| submission.describe());
                        let revealed = match &submission {
                            Submission::Revealed(record) => Some(record.block),
                            _ => None,
                        };
                        ValidatorTurn {
                            weights,
                            error,
                            round_failed,
                            report: submission_report(uid, &submission),
                            revealed,
                            task_scores,
                        }
                    }
                }
            }
        }))
        .await;

        let before: BTreeMap<AccountId, u64> = metagraph.neurons.iter().map(|n| (n.hotkey, n.stake)).collect();
        let block_before = metagraph.block;
        // Validators whose timelocked commit the chain reveals while it advances.
        let waiting: Vec<AccountId> = validators
            .iter()
            .filter(|v| v.commits.load().ok().flatten().is_some_and(|c| c.reveal_round.is_some()))
            .map(|v| v.key.account_id())
            .collect();
        let reveals = advance_epoch_watching_reveals(&chain, netuid, &waiting)?;
        let after = chain.metagraph_now(netuid)?;
        let blocks = after.block - block_before;
        report.push_epoch(
            epoch,
            &after,
            &before,
            blocks.saturating_mul(block_emission),
            &validators.iter().map(|v| (v.spec.kind, &v.state)).collect::<Vec<_>>(),
            &turns,
        );
        // Reveals the chain made while it advanced (timelocked commits), and v2 reveals.
        let schedule = chain.epoch_schedule_now(netuid)?;
        for (v, turn) in validators.iter().zip(&turns) {
            if let Some(block) = turn.revealed.or_else(|| reveals.get(&v.key.account_id()).copied()) {
                report.revealed(turn.report.uid, block);
            }
            let setter = WeightSetter {
                chain: &*chain,
                hotkey: v.key.account_id(),
                netuid,
                mecid: 0,
                policy: WeightPolicy::default(),
                commits: &v.commits,
                beacon: beacon.as_ref(),
            };
            // Clears a commit the chain has revealed or dropped (the block came from the events).
            let _ = setter.settle(&after, &schedule).await;
        }
        previous = after;
        if let Some(dir) = &config.state_dir {
            save_validator_states(dir, &validators)?;
        }
    }
    progress(config.epochs, config.epochs);
    report.finish();
    Ok(report)
}
