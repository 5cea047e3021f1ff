//! Whole sandbox runs on the embedded chain with the real hello-subnet modules: several
//! validators (honest, copier, lazy), emission accounting, and stop-and-resume.

use crate::common;

use subnet_chain::local::RAO_PER_TAO;
use subnet_chain::yuma::{DEFAULT_OWNER_CUT, owner_cut};
use subnet_host::sandbox::{self, SandboxConfig, SandboxReport, ValidatorKind, ValidatorSpec};

async fn run(config: &SandboxConfig) -> SandboxReport {
    let runtime = common::runtime();
    let bundle = common::bundle("examples/hello-subnet");
    sandbox::run(&runtime, &bundle, config, |_, _| {}).await.expect("sandbox run")
}

fn validators(kinds: &[(ValidatorKind, f64)]) -> Vec<ValidatorSpec> {
    kinds.iter().map(|(kind, stake)| ValidatorSpec { kind: *kind, stake: *stake }).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_miners_take_the_incentive_and_emission_adds_up() {
    let config = SandboxConfig {
        miners: 16,
        epochs: 5,
        seed: 3,
        validators: validators(&[
            (ValidatorKind::Honest, 10_000.0),
            (ValidatorKind::Honest, 8_000.0),
            (ValidatorKind::Honest, 6_000.0),
            (ValidatorKind::Copier, 6_000.0),
            (ValidatorKind::Lazy, 6_000.0),
        ]),
        ..SandboxConfig::default()
    };
    let report = run(&config).await;
    assert_eq!(report.epochs.len(), 5);
    for epoch in &report.epochs {
        assert!(epoch.errors.is_empty(), "{:?}", epoch.errors);
        // Block emission times the epoch's blocks, less the owner cut, reaches the neurons.
        let total_rao = (epoch.block_emission_total * RAO_PER_TAO as f64).round() as u64;
        let blocks = total_rao / RAO_PER_TAO;
        let (cut, _) = owner_cut(RAO_PER_TAO, DEFAULT_OWNER_CUT);
        let expected = (total_rao - cut * blocks) as f64 / 1e9;
        let paid = epoch.neurons.iter().map(|n| n.emission).sum::<f64>();
        // Yuma hands out shares as I32F32 fractions: each uid's payout may be off by two ulps
        // of its share (2^-31 of what the epoch distributes) plus the rao truncation.
        let uids = epoch.neurons.len() as f64;
        let bound = uids * (expected * 1e9 * 2f64.powi(-31) + 1.0) / 1e9;
        assert!((expected - paid).abs() <= bound, "epoch {}: paid {paid}, expected {expected} ± {bound}", epoch.epoch);
        assert!((paid - epoch.emitted_to_neurons).abs() < 1e-6);
        // Honest miners share the incentive; adversarial miners have none.
        for n in epoch.neurons.iter().filter(|n| n.kind == "miner") {
            if n.role == "honest" {
                assert!(n.incentive > 0.05, "uid {} incentive {}", n.uid, n.incentive);
            } else {
                assert_eq!(n.incentive, 0.0, "{} uid {}", n.role, n.uid);
                assert_eq!(n.emission, 0.0);
            }
        }
    }
    assert!(report.honest_miner_share() > 0.999, "{}", report.honest_miner_share());
    // Per validator, over the run, honest work pays better than copying or laziness.
    let per_head = |role: &str| {
        let t = report.totals.iter().find(|t| t.kind == "validator" && t.role == role).unwrap();
        t.earned / t.count as f64
    };
    assert!(per_head("honest") > per_head("copier"), "{:?}", report.totals);
    assert!(per_head("honest") > per_head("lazy"), "{:?}", report.totals);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_run_resumes_where_it_left_off() {
    let dir = tempfile::tempdir().unwrap();
    let base = SandboxConfig { miners: 4, seed: 11, tempo: 50, ..SandboxConfig::default() };
    let straight = run(&SandboxConfig { epochs: 4, ..base.clone() }).await;
    let resumable = SandboxConfig { state_dir: Some(dir.path().to_path_buf()), ..base };
    let first = run(&SandboxConfig { epochs: 2, ..resumable.clone() }).await;
    let second = run(&SandboxConfig { epochs: 2, ..resumable }).await;
    assert_eq!(first.epochs[0].block, straight.epochs[0].block);
    let resumed: Vec<_> = first.epochs.iter().chain(&second.epochs).collect();
    assert_eq!(resumed.len(), straight.epochs.len());
    for (a, b) in resumed.iter().zip(&straight.epochs) {
        assert_eq!(a.block, b.block);
        assert_eq!(serde_json::to_value(&a.neurons).unwrap(), serde_json::to_value(&b.neurons).unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_network_the_same_subnet_pays_the_same_miners() {
    // Every miner a real HTTP server on loopback with its axon on chain; validators sign each
    // query. Hello-subnet's scores do not depend on latency, so the weights match in-process.
    let base = SandboxConfig { miners: 6, epochs: 2, seed: 5, tempo: 30, ..SandboxConfig::default() };
    let in_process = run(&base).await;
    let networked = run(&SandboxConfig { network: true, ..base }).await;
    assert!(networked.network);
    for epoch in &networked.epochs {
        assert!(epoch.errors.is_empty(), "{:?}", epoch.errors);
    }
    assert_eq!(networked.final_weights, in_process.final_weights);
    assert!(networked.honest_miner_share() > 0.999, "{:?}", networked.totals);
}
