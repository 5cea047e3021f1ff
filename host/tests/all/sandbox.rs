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
        // Weights land in the epoch they are set, so every epoch pays (commit-reveal delays
        // them by the reveal period: `commit_reveal_v4_is_the_default` covers that).
        commit_reveal: false,
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

fn honest_incentive(epoch: &subnet_host::sandbox::EpochReport) -> f64 {
    epoch.neurons.iter().filter(|n| n.kind == "miner" && n.role == "honest").map(|n| n.incentive).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_reveal_v4_is_the_default() {
    // As today's network: weights are timelocked to a drand round of the chain's beacon, and the
    // chain reveals them in the epoch after the commit (RevealPeriodEpochs = 1).
    let base = SandboxConfig {
        miners: 8,
        epochs: 4,
        seed: 5,
        validators: validators(&[(ValidatorKind::Honest, 10_000.0); 3]),
        ..SandboxConfig::default()
    };
    let report = run(&base).await;
    let json = serde_json::to_value(&report).unwrap();
    for (e, epoch) in report.epochs.iter().enumerate() {
        assert!(epoch.errors.is_empty(), "epoch {e}: {:?}", epoch.errors);
        assert_eq!(epoch.weights.len(), 3);
        for (v, w) in json["epochs"][e]["weights"].as_array().unwrap().iter().enumerate() {
            for field in ["commit_block", "reveal_round", "reveal_block"] {
                assert!(w.get(field).is_some(), "epoch {e} validator {v}: no {field} in {w}");
            }
        }
    }
    let commits: Vec<_> =
        report.epochs.iter().flat_map(|e| &e.weights).filter(|w| w.submitted == "committed").collect();
    assert!(commits.len() >= 6, "each validator commits in epochs 0 and 2: {commits:?}");
    for w in &commits {
        let (block, round) = (w.commit_block.unwrap(), w.reveal_round.expect("timelocked, so a drand round"));
        assert!(round > 0);
        if let Some(revealed) = w.reveal_block {
            assert!(revealed > block, "revealed after the commit: {w:?}");
        }
    }
    // The first epoch's commits are revealed (by the chain) in the next epoch.
    assert!(report.epochs[0].weights.iter().all(|w| w.reveal_block.is_some()), "{:?}", report.epochs[0].weights);
    assert_eq!(honest_incentive(&report.epochs[0]), 0.0, "nothing revealed before the first epoch ran");
    for epoch in &report.epochs[1..] {
        assert!(honest_incentive(epoch) >= 0.9, "epoch {}: {}", epoch.epoch, honest_incentive(epoch));
    }

    // `--commit-reveal off`: weights are set at once and pay from the first epoch.
    let off = run(&SandboxConfig { commit_reveal: false, ..base }).await;
    for epoch in &off.epochs {
        assert!(epoch.weights.iter().all(|w| w.submitted == "set" && w.reveal_round.is_none()), "{:?}", epoch.weights);
    }
    assert!(honest_incentive(&off.epochs[0]) >= 0.9);
}
