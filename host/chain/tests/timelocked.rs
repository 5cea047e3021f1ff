//! Timelocked (v4) commits on the embedded chain: the checks of
//! `commit_timelocked_mechanism_weights` in the pallet's order with its error names, what is
//! stored and listed, the lookup of `LastStoredRound`, and expiry.

mod local_common;

use local_common::*;
use subnet_chain::local::LocalChain;
use subnet_chain::{Chain, ChainEvent, SubtensorError as E, TimelockedCommit, blake2_256};

/// A subnet with commit-reveal on (the default), tempo 10, rate limit 0.
fn net() -> Net {
    let net = Net::new(2, 2);
    net.chain.update_hyperparams(net.netuid, |h| h.commit_reveal_enabled = true).unwrap();
    net
}

#[test]
fn commit_is_stored_under_its_epoch_with_the_pallets_event() {
    let net = net();
    let (c, netuid) = (&net.chain, net.netuid);
    let v = &net.validators[0];
    let uid = net.uid(v);
    let round = c.last_stored_round() + 100;
    let epoch = c.epoch_schedule_now(netuid).unwrap().epoch();
    let out = c.commit_timelocked_weights_now(v, netuid, 0, b"ciphertext", round, 4).unwrap();
    assert_eq!(
        out.events,
        vec![ChainEvent::TimelockedWeightsCommitted {
            who: *v,
            netuid_index: netuid,
            commit_hash: blake2_256(b"ciphertext"),
            reveal_round: round
        }]
    );
    assert_eq!(
        c.timelocked_commits_now(netuid, 0, v),
        vec![TimelockedCommit { epoch, commit_block: c.block(), reveal_round: round }]
    );
    assert!(c.timelocked_commits_now(netuid, 0, &net.validators[1]).is_empty());
    assert_eq!(c.metagraph_now(netuid).unwrap().neurons[usize::from(uid)].last_update, c.block());
}

#[test]
fn commit_checks_in_the_pallets_order() {
    let net = net();
    let (c, netuid) = (&net.chain, net.netuid);
    let v = &net.validators[0];
    let ok_round = c.last_stored_round();
    // CheckWeights first: the stake threshold, then the reveal round against LastStoredRound.
    c.update_hyperparams(netuid, |h| h.stake_threshold = 1_000 * TAO).unwrap();
    rejected(c, E::NotEnoughStakeToSetWeights, |c| c.commit_timelocked_weights_now(v, netuid, 0, b"x", 0, 3));
    c.update_hyperparams(netuid, |h| h.stake_threshold = 0).unwrap();
    assert!(ok_round > 1, "the local beacon has published rounds by now");
    rejected(c, E::InvalidRevealRound, |c| c.commit_timelocked_weights_now(v, netuid, 0, b"x", ok_round - 1, 3));
    // Then the dispatchable.
    rejected(c, E::IncorrectCommitRevealVersion, |c| c.commit_timelocked_weights_now(v, netuid, 0, b"x", ok_round, 3));
    let stranger = key(0x77, 0);
    rejected(c, E::HotKeyNotRegisteredInSubNet, |c| {
        c.commit_timelocked_weights_now(&stranger, netuid, 0, b"x", ok_round, 4)
    });
    c.update_hyperparams(netuid, |h| h.weights_rate_limit = 50).unwrap();
    c.commit_timelocked_weights_now(v, netuid, 0, b"x", ok_round, 4).unwrap();
    rejected(c, E::CommittingWeightsTooFast, |c| c.commit_timelocked_weights_now(v, netuid, 0, b"x", ok_round, 4));
    c.update_hyperparams(netuid, |h| h.weights_rate_limit = 0).unwrap();
    // At most 10 unrevealed commits per hotkey and epoch.
    for _ in 1..10 {
        c.commit_timelocked_weights_now(v, netuid, 0, b"x", ok_round, 4).unwrap();
    }
    rejected(c, E::TooManyUnrevealedCommits, |c| c.commit_timelocked_weights_now(v, netuid, 0, b"x", ok_round, 4));
    c.commit_timelocked_weights_now(&net.validators[1], netuid, 0, b"x", ok_round, 4).expect("per hotkey");
    c.update_hyperparams(netuid, |h| h.commit_reveal_enabled = false).unwrap();
    rejected(c, E::CommitRevealDisabled, |c| c.commit_timelocked_weights_now(v, netuid, 0, b"x", ok_round, 4));
    let too_big = vec![0u8; 5001];
    assert!(c.commit_timelocked_weights_now(v, netuid, 0, &too_big, ok_round, 4).is_err());
}

#[test]
fn last_stored_round_follows_block_time() {
    let c = LocalChain::in_memory();
    let start = c.last_stored_round();
    c.advance_blocks(10).unwrap();
    // 10 blocks of 12 s are 40 rounds of 3 s.
    assert_eq!(c.last_stored_round(), start + 40);
}

#[tokio::test]
async fn an_undecryptable_commit_is_dropped_and_one_without_its_pulse_expires() {
    let net = net();
    let (c, netuid) = (&net.chain, net.netuid);
    let v = &net.validators[0];
    let uid = net.uid(v);
    let before = c.weights(netuid, uid);
    let soon = c.last_stored_round();
    let never = soon + 1_000_000;
    c.commit_timelocked_weights_now(v, netuid, 0, b"garbage", soon, 4).unwrap();
    c.commit_timelocked_weights_now(v, netuid, 0, b"later", never, 4).unwrap();
    assert_eq!(c.timelocked_commits(netuid, 0, v).await.unwrap().len(), 2);
    // Through the reveal epoch and past it: nothing is revealed, both are gone.
    let mut events = c.advance_to_next_epoch(netuid).unwrap();
    events.extend(c.advance_to_next_epoch(netuid).unwrap());
    events.extend(c.advance_blocks(1).unwrap());
    assert!(!events.iter().any(|e| matches!(e, ChainEvent::TimelockedWeightsRevealed { .. })), "{events:?}");
    assert!(c.timelocked_commits(netuid, 0, v).await.unwrap().is_empty());
    assert_eq!(c.weights(netuid, uid), before);
}

/// The SCALE `WeightsTlockPayload` of `who` on every miner, encrypted to `round` of `beacon`.
fn sealed(
    net: &Net,
    who: &subnet_chain::AccountId,
    beacon: &subnet_drand::BeaconInfo,
    round: u64,
) -> (Vec<u8>, Vec<(u16, u16)>) {
    let uids: Vec<u16> = net.miners.iter().map(|m| net.uid(m)).collect();
    let values: Vec<u16> = (0..uids.len()).map(|i| 65535 - i as u16 * 1000).collect();
    let payload = subnet_drand::WeightsTlockPayload {
        hotkey: who.0.to_vec(),
        uids: uids.clone(),
        values: values.clone(),
        version_key: 0,
    };
    let commit = subnet_drand::encrypt(beacon, round, &payload.encode(), [3; 32]).unwrap();
    (commit, uids.into_iter().zip(values).collect())
}

#[tokio::test]
async fn the_local_beacon_reveals_a_commit_in_its_reveal_epoch_through_set_weights() {
    let net = net();
    let (c, netuid) = (&net.chain, net.netuid);
    let v = &net.validators[0];
    let uid = net.uid(v);
    let schedule = c.epoch_schedule_now(netuid).unwrap();
    let beacon = c.beacon();
    let round = schedule.reveal_round_at(beacon.genesis_unix, beacon.period_secs, schedule.timestamp_secs().unwrap());
    let (commit, expected) = sealed(&net, v, &beacon, round);
    c.commit_timelocked_weights_now(v, netuid, 0, &commit, round, 4).unwrap();
    // A commit naming another hotkey than its signer is dropped at reveal.
    let other = &net.validators[1];
    let (forged, _) = sealed(&net, v, &beacon, round);
    c.commit_timelocked_weights_now(other, netuid, 0, &forged, round, 4).unwrap();
    assert!(c.weights(netuid, uid).is_empty(), "nothing before the reveal");
    let mut events = c.advance_to_next_epoch(netuid).unwrap();
    events.extend(c.advance_to_next_epoch(netuid).unwrap());
    let revealed: Vec<_> =
        events.iter().filter(|e| matches!(e, ChainEvent::TimelockedWeightsRevealed { .. })).collect();
    assert_eq!(revealed.len(), 1, "only the honest commit is revealed: {events:?}");
    assert_eq!(c.weights(netuid, uid), expected, "the Weights row is the committed payload");
    assert!(c.weights(netuid, net.uid(other)).is_empty(), "the forged commit changed nothing");
    assert!(c.timelocked_commits(netuid, 0, v).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_quicknet_chain_reveals_with_a_recorded_real_pulse() {
    use subnet_chain::local::{BeaconSource, LocalChainConfig};
    let config = LocalChainConfig { beacon: BeaconSource::Quicknet, ..LocalChainConfig::default() };
    let net = Net::with(LocalChain::in_memory_with(config), 2, 2);
    net.chain.update_hyperparams(net.netuid, |h| h.commit_reveal_enabled = true).unwrap();
    let (c, netuid) = (&net.chain, net.netuid);
    let v = &net.validators[0];
    let uid = net.uid(v);
    // Round 1000's real signature is recorded; commits to it are valid while it is not stored.
    let (commit, expected) = sealed(&net, v, &subnet_drand::BeaconInfo::quicknet(), 1000);
    c.commit_timelocked_weights_now(v, netuid, 0, &commit, 1000, 4).unwrap();
    // A forged pulse is refused; the real one is stored and the reveal epoch opens the commit.
    let mut forged = subnet_drand::recorded::quicknet_round_1000();
    forged.signature = subnet_drand::recorded::quicknet_round_2000().signature;
    assert!(c.store_pulse(&forged).is_err());
    c.store_pulse(&subnet_drand::recorded::quicknet_round_1000()).unwrap();
    c.advance_to_next_epoch(netuid).unwrap();
    c.advance_to_next_epoch(netuid).unwrap();
    assert_eq!(c.weights(netuid, uid), expected);
}
