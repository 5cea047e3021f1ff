//! One weight-setting path: the sandbox and the daemon submit the same u16 weights for the same
//! module, seed and metagraph (both run `run_round` with the same round seed, then
//! `weights::WeightSetter`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use subnet_chain::Chain;
use subnet_chain::local::LocalChain;
use subnet_host::caps::metagraph::MetagraphView;
use subnet_host::daemon::metrics::Metrics;
use subnet_host::daemon::reload::SmokeSetup;
use subnet_host::daemon::{DaemonConfig, ModuleSlot, StateDb, SubnetRunner, Trigger};
use subnet_host::runtime::SubnetEnv;
use subnet_host::sandbox::{SandboxConfig, ValidatorKind};
use subnet_host::sim::{InProcessMiners, SimMiner, sim_key};

use crate::common;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_and_the_daemon_submit_the_same_weights() {
    let built = common::bundle("examples/hello-subnet");
    let runtime = common::runtime();
    let dir = tempfile::tempdir().unwrap();
    let sandbox_state = dir.path().join("sandbox");
    let seed = 5;
    let config = |epochs| SandboxConfig {
        miners: 4,
        epochs,
        seed,
        state_dir: Some(sandbox_state.clone()),
        // Weights set directly, so both sides' rows can be compared after one epoch.
        commit_reveal: false,
        ..SandboxConfig::default()
    };
    assert_eq!(config(0).validators[0].kind, ValidatorKind::Honest);
    // The subnet, set up by the sandbox (warm-up epoch only); the daemon gets a copy of it.
    subnet_host::sandbox::run(&runtime, &built, &config(0), |_, _| {}).await.unwrap();
    let daemon_chain_dir = dir.path().join("daemon-chain");
    copy_dir(&sandbox_state, &daemon_chain_dir);

    // The sandbox's first epoch.
    subnet_host::sandbox::run(&runtime, &built, &config(1), |_, _| {}).await.unwrap();
    let validator = sim_key(seed, "validator", 0).account_id();
    let sandbox_chain = LocalChain::open(&sandbox_state).unwrap();
    let netuid = sandbox_chain.subnets().await.unwrap()[0];
    let uid = sandbox_chain.metagraph_now(netuid).unwrap().uid_of(&validator).unwrap();
    let sandbox_weights = sandbox_chain.weights(netuid, uid);
    assert!(!sandbox_weights.is_empty(), "the sandbox set weights");

    // One daemon round on the copy: the same hotkey, round secret, miners and module.
    let chain = Arc::new(LocalChain::open(&daemon_chain_dir).unwrap());
    let metagraph = chain.metagraph_now(netuid).unwrap();
    let honest = runtime.load_miner("honest", &common::read(&built.miners[0].2)).unwrap();
    // The sandbox's default mix for 4 miners: two honest, then lazy, then random, in uid order
    // after the validator.
    let roles = [SimMiner::Module(honest.clone()), SimMiner::Module(honest), SimMiner::Lazy, SimMiner::Random];
    let by_uid: BTreeMap<u16, SimMiner> = roles.into_iter().enumerate().map(|(i, m)| (i as u16 + 1, m)).collect();
    let transport = Arc::new(InProcessMiners::new(
        by_uid,
        Arc::new(SubnetEnv::new("miners")),
        Arc::new(MetagraphView::from(&metagraph)),
    ));
    let text = format!(
        "state_dir = \"s\"\n[wallet]\nname = \"w\"\nhotkey = \"h\"\n[chain]\nbackend = \"local\"\n\
         [[subnet]]\nnetuid = {netuid}\nmodule = \"{}\"\n",
        built.validator.display()
    );
    let subnet_config = DaemonConfig::from_toml(&text, dir.path()).unwrap().subnets.remove(0);
    let metrics = Arc::new(Metrics::new());
    let (events, _) = tokio::sync::broadcast::channel(16);
    let smoke =
        SmokeSetup { validator, subnet: SubnetEnv::new("smoke"), scratch: None, limits: subnet_config.round_limits() };
    let slot = Arc::new(ModuleSlot::new(
        netuid,
        "hello".into(),
        built.validator.clone(),
        Vec::new(),
        runtime.clone(),
        metrics.clone(),
        smoke,
        events,
    ));
    slot.reload(Trigger::Start).await;
    let db = StateDb::open(&dir.path().join("daemon-state")).unwrap();
    let runner = SubnetRunner::new(
        subnet_config,
        slot,
        chain.clone(),
        transport,
        db,
        validator,
        Arc::new(SubnetEnv::new("hello")),
        metrics,
        Arc::new(AtomicU64::new(0)),
        seed,
    )
    .unwrap();
    runner.step().await;
    let status = runner.status();
    assert!(status.last_round.as_ref().is_some_and(|r| r.error.is_none()), "{:?}", status.last_round);
    assert_eq!(chain.weights(netuid, uid), sandbox_weights, "{:?}", status.weights_note);
}
