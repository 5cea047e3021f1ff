//! The embedded chain against subtensor's rules, over blocks: commit-reveal v2, `serve_axon`,
//! the epoch schedule, emission accounting, and persistence across a killed process.

mod local_common;

use local_common::*;
use subnet_chain::local::{LocalChain, LocalChainConfig, block_emission_split};
use subnet_chain::{AxonInfo, ChainEvent, NetUid, SubtensorError as E, commit_hash};

// ---------------------------------------------------------------------------------------------
// Commit-reveal v2.

fn cr_net() -> Net {
    let net = Net::new(2, 3);
    net.chain.update_hyperparams(net.netuid, |h| h.commit_reveal_enabled = true).unwrap();
    net
}

#[test]
fn commit_reveal_too_early_wrong_hash_ok_expired() {
    let net = cr_net();
    let (c, netuid) = (&net.chain, net.netuid);
    let v = &net.validators[0];
    let vuid = net.uid(v);
    let uids = net.miner_uids();
    let (values, salt) = ([1u16, 0, 3], [7u16, 8, 9]);
    let hash = commit_hash(v, netuid, &uids, &values, &salt, 0);

    // The other validator (the stake majority) commits the same weights with its own hash.
    let v1 = &net.validators[1];
    c.commit_weights_now(v1, netuid, commit_hash(v1, netuid, &uids, &values, &salt, 0)).unwrap();
    let out = c.commit_weights_now(v, netuid, hash).expect("commit");
    assert_eq!(out.events, vec![ChainEvent::WeightsCommitted { who: *v, netuid, hash }]);
    assert_eq!(c.pending_commits(netuid, v), 1);
    assert_eq!(c.metagraph_now(netuid).unwrap().neurons[usize::from(vuid)].last_update, c.block());

    rejected(c, E::RevealTooEarly, |c| c.reveal_weights_now(v, netuid, &uids, &values, &salt, 0));
    c.advance_to_next_epoch(netuid).unwrap();
    rejected(c, E::NoWeightsCommitFound, |c| c.reveal_weights_now(v, netuid, &uids, &values, &[1, 2, 3], 0));
    rejected(c, E::NoWeightsCommitFound, |c| c.reveal_weights_now(v, netuid, &uids, &values, &salt, 1));
    let out = c.reveal_weights_now(v, netuid, &uids, &values, &salt, 0).expect("reveal");
    assert_eq!(
        out.events,
        vec![ChainEvent::WeightsSet { netuid, uid: vuid }, ChainEvent::WeightsRevealed { who: *v, netuid, hash }]
    );
    assert_eq!(c.weights(netuid, vuid), vec![(uids[0], 21845), (uids[1], 0), (uids[2], 65535)]);
    assert_eq!(c.pending_commits(netuid, v), 0);
    rejected(c, E::NoWeightsCommitFound, |c| c.reveal_weights_now(v, netuid, &uids, &values, &salt, 0));

    c.reveal_weights_now(v1, netuid, &uids, &values, &salt, 0).expect("reveal v1");

    // The revealed weights count at the next epoch: miner uids[2] earns most.
    c.advance_to_next_epoch(netuid).unwrap();
    let mg = c.metagraph_now(netuid).unwrap();
    assert!(mg.neurons[usize::from(uids[2])].incentive > mg.neurons[usize::from(uids[0])].incentive);

    // Expired: two epochs later the reveal window (commit epoch + 1) has passed. The
    // runtime's CheckWeights finds the stale commit and answers RevealTooEarly.
    let salt2 = [4u16];
    let hash2 = commit_hash(v, netuid, &uids, &values, &salt2, 0);
    c.commit_weights_now(v, netuid, hash2).unwrap();
    c.advance_to_next_epoch(netuid).unwrap();
    c.advance_to_next_epoch(netuid).unwrap();
    rejected(c, E::RevealTooEarly, |c| c.reveal_weights_now(v, netuid, &uids, &values, &salt2, 0));
    assert_eq!(c.pending_commits(netuid, v), 1);
    // A new commit drops the expired one from the queue; then it is simply not found.
    let hash3 = commit_hash(v, netuid, &uids, &values, &[5], 0);
    c.commit_weights_now(v, netuid, hash3).unwrap();
    assert_eq!(c.pending_commits(netuid, v), 1);
    rejected(c, E::NoWeightsCommitFound, |c| c.reveal_weights_now(v, netuid, &uids, &values, &salt2, 0));
}

#[test]
fn commit_reveal_errors() {
    let net = cr_net();
    let (c, netuid) = (&net.chain, net.netuid);
    let v = &net.validators[0];
    let hash = [1u8; 32];
    rejected(c, E::HotKeyNotRegisteredInSubNet, |c| c.commit_weights_now(&key(9, 9), netuid, hash));
    rejected(c, E::MechanismDoesNotExist, |c| c.commit_weights_now(v, 99, hash));
    let other = plain_subnet(c, &key(0xf0, 5), None).unwrap();
    c.register_now(v, &key(2, 0), other).unwrap();
    // Registered this block, so within the default rate limit of 100: the runtime's
    // CheckRateLimits extension answers before the dispatchable sees commit-reveal is off.
    rejected(c, E::CommittingWeightsTooFast, |c| c.commit_weights_now(v, other, hash));
    c.update_hyperparams(other, |h| h.weights_rate_limit = 0).unwrap();
    rejected(c, E::CommitRevealDisabled, |c| c.commit_weights_now(v, other, hash));
    // Without any commit the CheckWeights extension answers before CommitRevealDisabled.
    rejected(c, E::NoWeightsCommitFound, |c| c.reveal_weights_now(v, other, &[0], &[1], &[1], 0));

    c.update_hyperparams(netuid, |h| h.weights_rate_limit = 5).unwrap();
    c.commit_weights_now(v, netuid, hash).unwrap();
    c.advance_blocks(1).unwrap();
    rejected(c, E::CommittingWeightsTooFast, |c| c.commit_weights_now(v, netuid, [2; 32]));
}

#[test]
fn port_test_commit_reveal_multiple_commits_limit() {
    let net = cr_net();
    let (c, netuid) = (&net.chain, net.netuid);
    let v = &net.validators[1];
    let (uids, values) = ([0u16, 1], [10u16, 10]);
    for i in 0..10u16 {
        let h = commit_hash(v, netuid, &uids, &values, &[i; 8], 0);
        c.commit_weights_now(v, netuid, h).expect("commit within the limit");
    }
    let h11 = commit_hash(v, netuid, &uids, &values, &[11; 8], 0);
    rejected(c, E::TooManyUnrevealedCommits, |c| c.commit_weights_now(v, netuid, h11));
    // Revealing commit 4 (in its window) drops commits 0..=4, as the pallet does.
    c.advance_to_next_epoch(netuid).unwrap();
    c.reveal_weights_now(v, netuid, &uids, &values, &[4; 8], 0).expect("reveal");
    assert_eq!(c.pending_commits(netuid, v), 5);
    rejected(c, E::NoWeightsCommitFound, |c| c.reveal_weights_now(v, netuid, &uids, &values, &[2; 8], 0));
}

// ---------------------------------------------------------------------------------------------
// serve_axon.

#[test]
fn serve_axon_checks() {
    let net = Net::new(1, 1);
    let (c, netuid) = (&net.chain, net.netuid);
    let m = &net.miners[0];
    let good = AxonInfo {
        block: 0,
        version: 1,
        ip: u128::from(u32::from_be_bytes([10, 0, 0, 1])),
        port: 8091,
        ip_type: 4,
        protocol: 4,
    };
    rejected(c, E::HotKeyNotRegisteredInNetwork, |c| c.serve_axon_now(&key(9, 9), netuid, good));
    rejected(c, E::HotKeyNotRegisteredInNetwork, |c| c.serve_axon_now(m, 99, good));
    rejected(c, E::InvalidIpType, |c| c.serve_axon_now(m, netuid, AxonInfo { ip_type: 5, ..good }));
    rejected(c, E::InvalidIpAddress, |c| c.serve_axon_now(m, netuid, AxonInfo { ip: 0x7f00_0001, ..good }));
    rejected(c, E::InvalidPort, |c| c.serve_axon_now(m, netuid, AxonInfo { port: 0, ..good }));
    c.serve_axon_now(m, netuid, good).expect("serve");
    let uid = net.uid(m);
    assert_eq!(
        c.metagraph_now(netuid).unwrap().neurons[usize::from(uid)].axon,
        Some(AxonInfo { block: c.block(), ..good })
    );
    c.advance_blocks(1).unwrap();
    rejected(c, E::ServingRateLimitExceeded, |c| c.serve_axon_now(m, netuid, AxonInfo { port: 9000, ..good }));
    c.advance_blocks(50).unwrap();
    c.serve_axon_now(m, netuid, AxonInfo { port: 9000, ..good }).expect("after the serving rate limit");

    let local =
        LocalChain::in_memory_with(LocalChainConfig { allow_loopback_axons: true, ..LocalChainConfig::default() });
    let n = local.create_subnet(&key(0xf0, 0), Some(&key(0xf1, 0))).unwrap();
    local.serve_axon_now(&key(0xf1, 0), n, AxonInfo { ip: 0x7f00_0001, ..good }).expect("loopback allowed");
}

// ---------------------------------------------------------------------------------------------
// Epoch schedule and emission.

fn epoch_blocks(events: &[ChainEvent], netuid: NetUid) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            ChainEvent::EpochRun { netuid: n, block, .. } if *n == netuid => Some(*block),
            _ => None,
        })
        .collect()
}

#[test]
fn epochs_every_tempo_blocks_stagger_cycle_reset_and_per_block_cap() {
    let chain = LocalChain::in_memory();
    let a = plain_subnet(&chain, &key(0xf0, 0), None).unwrap();
    // Default tempo 360, created at block 0: LastEpochBlock = 0 - 1 % 360 (saturating) = 0.
    assert_eq!(chain.next_epoch_block(a).unwrap(), 360);
    chain.update_hyperparams(a, |h| h.tempo = 10).unwrap();
    let ev = chain.advance_blocks(35).unwrap();
    assert_eq!(epoch_blocks(&ev, a), vec![10, 20, 30]);
    assert_eq!(chain.epoch_index(a).unwrap(), 3);
    // New tempo at block 35: the cycle restarts there.
    chain.update_hyperparams(a, |h| h.tempo = 7).unwrap();
    let ev = chain.advance_blocks(20).unwrap();
    assert_eq!(epoch_blocks(&ev, a), vec![42, 49]);

    // A subnet created at block 55 with tempo 360 staggers by netuid: 55 - 2 % 360.
    let b = plain_subnet(&chain, &key(0xf0, 1), None).unwrap();
    assert_eq!(b, 2);
    assert_eq!(chain.next_epoch_block(b).unwrap(), 55 - 2 + 360);

    // Three subnets due in the same block, at most two epochs per block: one moves on.
    let chain = LocalChain::in_memory();
    let subnets: Vec<NetUid> = (0..3).map(|i| plain_subnet(&chain, &key(0xf0, i), None).unwrap()).collect();
    for &n in &subnets {
        chain.update_hyperparams(n, |h| h.tempo = 5).unwrap();
    }
    let ev = chain.advance_blocks(6).unwrap();
    assert_eq!(epoch_blocks(&ev, subnets[0]), vec![5]);
    assert_eq!(epoch_blocks(&ev, subnets[1]), vec![5]);
    assert_eq!(epoch_blocks(&ev, subnets[2]), vec![6]);
    // Its schedule is anchored at the block it actually ran.
    assert_eq!(chain.next_epoch_block(subnets[2]).unwrap(), 11);
}

#[test]
fn emission_per_epoch_is_block_emission_times_blocks_within_rounding() {
    let net = Net::new(3, 8);
    let (c, netuid) = (&net.chain, net.netuid);
    let config = c.config();
    let e = config.block_emission_rao;
    let split = block_emission_split(e, config.owner_cut);
    let split_dust = e - (split.owner + split.server + split.validator);
    let n_neurons = 12u64;
    // Validators weight the miners unevenly and the owner hotkey a little, so that some
    // incentive is burned.
    let mut targets = net.miner_uids();
    targets.push(0);
    let mut last_epoch = c.block();
    let mut total_burned = 0;
    for round in 0..6u64 {
        for (i, v) in net.validators.iter().enumerate() {
            let w: Vec<u16> =
                (0..targets.len() as u64).map(|j| (1 + (j * 7 + i as u64 * 3 + round) % 11) as u16).collect();
            c.set_weights_now(v, netuid, &targets, &w, 0).unwrap();
        }
        let stake_before = c.total_stake(netuid);
        let ev = c.advance_to_next_epoch(netuid).unwrap();
        let (block, emitted, burned) = ev
            .iter()
            .find_map(|x| match x {
                ChainEvent::EpochRun { netuid: n, block, emitted, burned } if *n == netuid => {
                    Some((*block, *emitted, *burned))
                }
                _ => None,
            })
            .expect("epoch event");
        let blocks = block - last_epoch;
        assert_eq!(blocks, 10, "an epoch every tempo blocks");
        last_epoch = block;
        let minted = blocks * e;
        let delivered = emitted + burned;
        // Truncation only: per block the three-way split, per neuron the incentive, the
        // dividend take and rest, and the `U96F32` share (< 2^-32 of the pending alpha).
        let pending_validator = blocks * (split.validator + split.server);
        let bound = blocks * split_dust + n_neurons * (3 + (pending_validator >> 32) + 1);
        assert!(delivered <= minted, "round {round}: paid {delivered} > minted {minted}");
        assert!(minted - delivered <= bound, "round {round}: lost {} > bound {bound}", minted - delivered);
        assert_eq!(c.total_stake(netuid) - stake_before, emitted, "stake grows by what was paid");
        assert_eq!(c.pending_emission(netuid), Default::default(), "pending drained");
        total_burned += burned;
    }
    assert!(total_burned > 0, "the owner hotkey's incentive is burned");
    assert_eq!(c.burned_emission(netuid), total_burned);
    // Miners with weight take incentive.
    let mg = c.metagraph_now(netuid).unwrap();
    assert!(net.miner_uids().iter().all(|&u| mg.neurons[usize::from(u)].incentive > 0));
    assert!(net.validators.iter().all(|v| mg.neurons[usize::from(net.uid(v))].dividends > 0));
}

// ---------------------------------------------------------------------------------------------
// Persistence.

/// A deterministic history: registrations, stake, weights, a failed call, axons, commits and
/// several epochs on two subnets.
fn scenario(chain: &LocalChain) {
    let (netuid, _, validators, miners) = setup(chain, 3, 5);
    let c = chain;
    let targets: Vec<u16> = (4..9).collect();
    for round in 0..3u16 {
        for (i, v) in validators.iter().enumerate() {
            let w: Vec<u16> = (0..targets.len() as u16).map(|j| 1 + (j * 5 + i as u16 + round) % 9).collect();
            c.set_weights_now(v, netuid, &targets, &w, 0).unwrap();
        }
        assert!(c.set_weights_now(&validators[0], netuid, &[4, 4], &[1, 1], 0).is_err());
        c.advance_to_next_epoch(netuid).unwrap();
    }
    let axon = AxonInfo {
        block: 0,
        version: 2,
        ip: u128::from(u32::from_be_bytes([10, 1, 2, 3])),
        port: 8091,
        ip_type: 4,
        protocol: 4,
    };
    c.serve_axon_now(&miners[1], netuid, axon).unwrap();
    let cr = plain_subnet(c, &key(0xe0, 0), Some(&key(0xe1, 0))).unwrap();
    c.update_hyperparams(cr, |h| {
        h.tempo = 7;
        h.weights_rate_limit = 0;
        h.commit_reveal_enabled = true;
    })
    .unwrap();
    c.register_now(&validators[0], &key(2, 0), cr).unwrap();
    c.commit_weights_now(&key(0xe1, 0), cr, commit_hash(&key(0xe1, 0), cr, &[0, 1], &[1, 2], &[3], 0)).unwrap();
    c.advance_blocks(23).unwrap();
}

#[test]
fn persistence_reopen_after_drop_is_identical() {
    let dir = tempfile::tempdir().unwrap();
    let expected = LocalChain::in_memory();
    scenario(&expected);
    {
        let chain = LocalChain::open(dir.path()).unwrap();
        scenario(&chain);
        assert!(chain.same_state_as(&expected), "a persistent chain behaves like an in-memory one");
    }
    let reopened = LocalChain::open(dir.path()).unwrap();
    assert!(reopened.same_state_as(&expected), "reopened state differs");
    // And it carries on identically.
    for c in [&reopened, &expected] {
        c.advance_blocks(15).unwrap();
        c.set_weights_now(&key(0xf1, 0), 1, &[4, 5], &[1, 2], 0).unwrap();
    }
    assert!(reopened.same_state_as(&expected));
    // A failed extrinsic writes nothing.
    assert!(reopened.register_now(&key(3, 0), &key(9, 9), 1).is_err());
    drop(reopened);
    assert!(LocalChain::open(dir.path()).unwrap().same_state_as(&expected));
}

const CHILD_ENV: &str = "SUBNET_CHAIN_ABORT_CHILD_DIR";

#[test]
fn persistence_survives_a_killed_process() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        // Child: write the history, then die without unwinding, dropping or flushing.
        let chain = LocalChain::open(&dir).expect("open in child");
        scenario(&chain);
        std::process::abort();
    }
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["persistence_survives_a_killed_process", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child aborts");
    let reopened = LocalChain::open(dir.path()).expect("reopen after abort");
    let expected = LocalChain::in_memory();
    scenario(&expected);
    assert!(reopened.same_state_as(&expected), "state after a killed process differs");
}

#[test]
fn database_of_another_chain_config_keeps_its_settings() {
    let dir = tempfile::tempdir().unwrap();
    let custom = LocalChainConfig { block_emission_rao: 5, ..LocalChainConfig::default() };
    drop(LocalChain::open_with(dir.path(), custom.clone()).unwrap());
    assert_eq!(LocalChain::open(dir.path()).unwrap().config(), custom);
}
