//! The embedded chain against subtensor's rules (`opentensor/subtensor` @ 14bc6f9f,
//! spec 425): every `set_weights` rule with the runtime's error name and no state change,
//! registration and pruning, validator permits (commit-reveal, epochs, emission and
//! persistence are in `local_chain_blocks.rs`).
//!
//! Tests named `port_*` replay `pallets/subtensor/src/tests/weights.rs` tests with their
//! numbers. Where the pallet test sets storage directly (a validator permit), the port gets
//! the same state the way a client can (the owner hotkey, which the pallet always permits).

mod local_common;

use local_common::*;
use subnet_chain::local::LocalChain;
use subnet_chain::{ChainEvent, SubtensorError as E};

// ---------------------------------------------------------------------------------------------
// set_weights: every rule, the error name, no state change.

#[test]
fn set_weights_ok_stores_max_upscaled_row_and_last_update() {
    let net = Net::new(2, 3);
    let v = &net.validators[0];
    let uids = net.miner_uids();
    let out = net.chain.set_weights_now(v, net.netuid, &uids, &[1, 2, 4], 0).expect("set");
    let uid = net.uid(v);
    assert_eq!(out.events, vec![ChainEvent::WeightsSet { netuid: net.netuid, uid }]);
    assert_eq!(net.chain.weights(net.netuid, uid), vec![(uids[0], 16384), (uids[1], 32768), (uids[2], 65535)]);
    let mg = net.chain.metagraph_now(net.netuid).unwrap();
    assert_eq!(mg.neurons[usize::from(uid)].last_update, net.chain.block());
}

#[test]
fn set_weights_rule_length_mismatch() {
    let net = Net::new(1, 3);
    let uids = net.miner_uids();
    rejected(&net.chain, E::WeightVecNotEqualSize, |c| {
        c.set_weights_now(&net.validators[0], net.netuid, &uids, &[1, 2], 0)
    });
}

#[test]
fn set_weights_rule_too_many_uids() {
    let net = Net::new(1, 2);
    // 4 neurons; five uids exceed the subnet size.
    rejected(&net.chain, E::UidsLengthExceedUidsInSubNet, |c| {
        c.set_weights_now(&net.validators[0], net.netuid, &[0, 1, 2, 3, 4], &[1; 5], 0)
    });
}

#[test]
fn set_weights_rule_not_registered() {
    let net = Net::new(1, 2);
    rejected(&net.chain, E::HotKeyNotRegisteredInSubNet, |c| c.set_weights_now(&key(9, 9), net.netuid, &[0], &[1], 0));
}

#[test]
fn set_weights_rule_version_key() {
    let net = Net::new(1, 3);
    net.chain.update_hyperparams(net.netuid, |h| h.weights_version_key = 7).unwrap();
    let uids = net.miner_uids();
    rejected(&net.chain, E::IncorrectWeightVersionKey, |c| {
        c.set_weights_now(&net.validators[0], net.netuid, &uids, &[1, 1, 1], 6)
    });
    net.chain.set_weights_now(&net.validators[0], net.netuid, &uids, &[1, 1, 1], 7).expect("equal key");
    net.chain.set_weights_now(&net.validators[0], net.netuid, &uids, &[1, 1, 1], 8).expect("newer key");
}

#[test]
fn set_weights_rule_rate_limit() {
    let net = Net::new(1, 3);
    net.chain.update_hyperparams(net.netuid, |h| h.weights_rate_limit = 5).unwrap();
    let uids = net.miner_uids();
    let v = &net.validators[0];
    net.chain.set_weights_now(v, net.netuid, &uids, &[1, 1, 1], 0).expect("first");
    net.chain.advance_blocks(4).unwrap();
    rejected(&net.chain, E::SettingWeightsTooFast, |c| c.set_weights_now(v, net.netuid, &uids, &[1, 2, 3], 0));
    // The runtime's CheckRateLimits extension runs before the dispatchable's checks.
    net.chain.update_hyperparams(net.netuid, |h| h.weights_version_key = 100).unwrap();
    rejected(&net.chain, E::SettingWeightsTooFast, |c| c.set_weights_now(v, net.netuid, &uids, &[1, 2, 3], 0));
    net.chain.advance_blocks(1).unwrap();
    rejected(&net.chain, E::IncorrectWeightVersionKey, |c| c.set_weights_now(v, net.netuid, &uids, &[1, 2, 3], 0));
    net.chain.set_weights_now(v, net.netuid, &uids, &[1, 2, 3], 100).expect("after the limit");
}

#[test]
fn set_weights_rule_no_permit_but_self_weight_allowed() {
    let net = Net::new(1, 3);
    let miner = &net.miners[0];
    let me = net.uid(miner);
    let other = net.uid(&net.miners[1]);
    rejected(&net.chain, E::NeuronNoValidatorPermit, |c| c.set_weights_now(miner, net.netuid, &[other], &[1], 0));
    net.chain.set_weights_now(miner, net.netuid, &[me], &[5], 0).expect("self weight");
    assert_eq!(net.chain.weights(net.netuid, me), vec![(me, 65535)]);
}

#[test]
fn set_weights_rule_duplicate_uids() {
    let net = Net::new(1, 3);
    let uids = net.miner_uids();
    rejected(&net.chain, E::DuplicateUids, |c| {
        c.set_weights_now(&net.validators[0], net.netuid, &[uids[0], uids[1], uids[0]], &[1, 1, 1], 0)
    });
    // Duplicates are checked over the whole list before uid validity.
    rejected(&net.chain, E::DuplicateUids, |c| {
        c.set_weights_now(&net.validators[0], net.netuid, &[300, 300], &[1, 1], 0)
    });
}

#[test]
fn set_weights_rule_invalid_uid() {
    let net = Net::new(1, 3);
    rejected(&net.chain, E::UidVecContainInvalidOne, |c| {
        c.set_weights_now(&net.validators[0], net.netuid, &[1, 300], &[1, 1], 0)
    });
}

#[test]
fn set_weights_rule_min_allowed_weights() {
    let net = Net::new(1, 3);
    net.chain.update_hyperparams(net.netuid, |h| h.min_allowed_weights = 3).unwrap();
    let uids = net.miner_uids();
    rejected(&net.chain, E::WeightVecLengthIsLow, |c| {
        c.set_weights_now(&net.validators[0], net.netuid, &uids[..2], &[1, 1], 0)
    });
    net.chain.set_weights_now(&net.validators[0], net.netuid, &uids, &[1, 1, 1], 0).expect("three");
    // Capped by the subnet size: a min of 1000 on 5 neurons needs all 5.
    net.chain.update_hyperparams(net.netuid, |h| h.min_allowed_weights = 1000).unwrap();
    net.chain.set_weights_now(&net.validators[0], net.netuid, &[0, 1, 2, 3, 4], &[1; 5], 0).expect("all");
}

#[test]
fn set_weights_rule_max_weight_limit() {
    let net = Net::new(1, 3);
    net.chain.update_hyperparams(net.netuid, |h| h.max_weight_limit = 32768).unwrap();
    let uids = net.miner_uids();
    rejected(&net.chain, E::MaxWeightExceeded, |c| {
        c.set_weights_now(&net.validators[0], net.netuid, &uids, &[65535, 100, 100], 0)
    });
    net.chain.set_weights_now(&net.validators[0], net.netuid, &uids, &[1, 1, 1], 0).expect("within");
    // A self weight may exceed the limit.
    let me = net.uid(&net.validators[0]);
    net.chain.set_weights_now(&net.validators[0], net.netuid, &[me], &[1], 0).expect("self");
}

#[test]
fn set_weights_rule_root_netuid() {
    let net = Net::new(1, 1);
    rejected(&net.chain, E::CanNotSetRootNetworkWeights, |c| c.set_weights_now(&net.validators[0], 0, &[0], &[1], 0));
}

#[test]
fn set_weights_rule_commit_reveal_enabled() {
    let net = Net::new(1, 3);
    net.chain.update_hyperparams(net.netuid, |h| h.commit_reveal_enabled = true).unwrap();
    let uids = net.miner_uids();
    rejected(&net.chain, E::CommitRevealEnabled, |c| {
        c.set_weights_now(&net.validators[0], net.netuid, &uids, &[1, 1, 1], 0)
    });
}

#[test]
fn set_weights_rule_unknown_subnet_answers_like_the_runtime() {
    // `CommitRevealWeightsEnabled` defaults to true for a netuid that was never created, so
    // the dispatchable rejects before it looks the subnet up.
    let net = Net::new(1, 1);
    rejected(&net.chain, E::CommitRevealEnabled, |c| c.set_weights_now(&net.validators[0], 42, &[0], &[1], 0));
}

#[test]
fn set_weights_rule_stake_threshold_and_owner_exemption() {
    let net = Net::new(2, 3);
    net.chain.update_hyperparams(net.netuid, |h| h.stake_threshold = 105 * TAO).unwrap();
    let uids = net.miner_uids();
    // Validator 0 holds 100 TAO, validator 1 holds 110 TAO.
    rejected(&net.chain, E::NotEnoughStakeToSetWeights, |c| {
        c.set_weights_now(&net.validators[0], net.netuid, &uids, &[1, 1, 1], 0)
    });
    net.chain.set_weights_now(&net.validators[1], net.netuid, &uids, &[1, 1, 1], 0).expect("enough");
    // The owner hotkey sets weights with no stake and no permit.
    net.chain.set_weights_now(&net.owner_hk, net.netuid, &uids, &[1, 1, 1], 0).expect("owner");
    // The CheckWeights extension runs first: an unregistered, unstaked hotkey gets the stake
    // error, not HotKeyNotRegisteredInSubNet.
    rejected(&net.chain, E::NotEnoughStakeToSetWeights, |c| {
        c.set_weights_now(&key(9, 9), net.netuid, &uids, &[1, 1, 1], 0)
    });
}

// Ports of pallets/subtensor/src/tests/weights.rs.

#[test]
fn port_test_weights_err_setting_weights_too_fast() {
    let chain = LocalChain::in_memory();
    let owner_hk = key(55, 0);
    let netuid = plain_subnet(&chain, &key(66, 0), Some(&owner_hk)).unwrap();
    chain
        .update_hyperparams(netuid, |h| {
            h.tempo = 13;
            h.min_allowed_weights = 0;
            h.max_allowed_uids = 3;
            h.weights_rate_limit = 10;
        })
        .unwrap();
    chain.register_now(&key(1, 0), &key(1, 0), netuid).unwrap();
    chain.register_now(&key(2, 0), &key(2, 0), netuid).unwrap();
    let (keys, values) = ([1u16, 2], [1u16, 2]);
    // LastUpdate 0 (registered at block 0) never rate-limits.
    chain.set_weights_now(&owner_hk, netuid, &keys, &values, 0).expect("block 0");
    chain.advance_blocks(1).unwrap();
    for i in 1..100u64 {
        let r = chain.set_weights_now(&owner_hk, netuid, &keys, &values, 0);
        if i % 10 == 1 {
            assert!(r.is_ok(), "block {}: {r:?}", chain.block());
        } else {
            assert!(r.expect_err("too fast").is(E::SettingWeightsTooFast));
        }
        chain.advance_blocks(1).unwrap();
    }
}

#[test]
fn port_test_weights_version_key() {
    let chain = LocalChain::in_memory();
    let (hotkey, coldkey) = (key(55, 0), key(66, 0));
    let n0 = plain_subnet(&chain, &key(70, 0), None).unwrap();
    let n1 = plain_subnet(&chain, &key(70, 1), None).unwrap();
    for n in [n0, n1] {
        chain.update_hyperparams(n, |h| h.tempo = 1).unwrap();
        chain.register_now(&hotkey, &coldkey, n).unwrap();
    }
    chain.set_weights_now(&hotkey, n0, &[0], &[1], 0).unwrap();
    chain.set_weights_now(&hotkey, n1, &[0], &[1], 0).unwrap();
    let (key0, key1) = (12312u64, 20313u64);
    chain.update_hyperparams(n0, |h| h.weights_version_key = key0).unwrap();
    chain.update_hyperparams(n1, |h| h.weights_version_key = key1).unwrap();
    chain.update_hyperparams(n0, |h| h.weights_rate_limit = 0).unwrap();
    chain.update_hyperparams(n1, |h| h.weights_rate_limit = 0).unwrap();
    chain.set_weights_now(&hotkey, n0, &[0], &[1], key0).unwrap();
    chain.set_weights_now(&hotkey, n1, &[0], &[1], key1).unwrap();
    chain.set_weights_now(&hotkey, n0, &[0], &[1], key1).unwrap();
    rejected(&chain, E::IncorrectWeightVersionKey, |c| c.set_weights_now(&hotkey, n1, &[0], &[1], key0));
}

#[test]
fn port_test_set_weights_sum_larger_than_u16_max() {
    let net = Net::new(0, 1);
    net.chain.update_hyperparams(net.netuid, |h| h.min_allowed_weights = 2).unwrap();
    net.chain.set_weights_now(&net.owner_hk, net.netuid, &[0, 1], &[u16::MAX, u16::MAX], 0).unwrap();
    assert_eq!(net.chain.weights(net.netuid, 0), vec![(0, u16::MAX), (1, u16::MAX)]);
}

#[test]
fn port_test_set_weight_not_enough_values() {
    let net = Net::new(0, 1);
    net.chain.update_hyperparams(net.netuid, |h| h.min_allowed_weights = 2).unwrap();
    rejected(&net.chain, E::WeightVecLengthIsLow, |c| c.set_weights_now(&net.owner_hk, net.netuid, &[1], &[88], 0));
    net.chain.set_weights_now(&net.owner_hk, net.netuid, &[0], &[88], 0).expect("self weight");
    net.chain.update_hyperparams(net.netuid, |h| h.min_allowed_weights = 1).unwrap();
    net.chain.set_weights_now(&net.owner_hk, net.netuid, &[0, 1], &[10, 10], 0).expect("enough");
}

#[test]
fn port_test_set_stake_threshold_failed() {
    let net = Net::new(0, 0);
    let hk = key(7, 0);
    net.chain.register_now(&hk, &hk, net.netuid).unwrap();
    net.chain.update_hyperparams(net.netuid, |h| h.stake_threshold = 20_000_000_000_000).unwrap();
    let uid = net.uid(&hk);
    net.chain.add_stake(&hk, &hk, net.netuid, 19_000_000_000_000).unwrap();
    rejected(&net.chain, E::NotEnoughStakeToSetWeights, |c| c.set_weights_now(&hk, net.netuid, &[uid], &[1], 0));
    net.chain.add_stake(&hk, &hk, net.netuid, 20_000_000_000_000).unwrap();
    net.chain.update_hyperparams(net.netuid, |h| h.stake_threshold = 100_000_000_000_000).unwrap();
    rejected(&net.chain, E::NotEnoughStakeToSetWeights, |c| c.set_weights_now(&hk, net.netuid, &[uid], &[1], 0));
    net.chain.add_stake(&hk, &hk, net.netuid, 100_000_000_000_000).unwrap();
    net.chain.set_weights_now(&hk, net.netuid, &[uid], &[1], 0).expect("now passes");
}

#[test]
fn port_test_subnet_owner_can_validate_without_stake_or_manual_permit() {
    let chain = LocalChain::in_memory();
    let owner_hk = key(0xf1, 0);
    let netuid = plain_subnet(&chain, &key(0xf0, 0), Some(&owner_hk)).unwrap();
    chain.register_now(&key(1, 0), &key(2, 0), netuid).unwrap();
    chain.register_now(&key(1, 1), &key(2, 1), netuid).unwrap();
    chain.update_hyperparams(netuid, |h| h.stake_threshold = TAO).unwrap();
    let mg = chain.metagraph_now(netuid).unwrap();
    assert_eq!((mg.neurons[0].stake, mg.neurons[0].validator_permit), (0, false));
    chain.set_weights_now(&owner_hk, netuid, &[1, 2], &[1, 1], 0).expect("owner validates");
}

// ---------------------------------------------------------------------------------------------
// Registration, pruning, permits.

#[test]
fn registration_errors_leave_state_unchanged() {
    let net = Net::new(1, 1);
    let c = &net.chain;
    rejected(c, E::RegistrationNotPermittedOnRootSubnet, |c| c.register_now(&key(8, 0), &key(8, 1), 0));
    rejected(c, E::SubnetNotExists, |c| c.register_now(&key(8, 0), &key(8, 1), 77));
    rejected(c, E::HotKeyAlreadyRegisteredInSubNet, |c| c.register_now(&net.miners[0], &key(4, 0), net.netuid));
    // A hotkey belongs to the coldkey that first registered it.
    let other = plain_subnet(c, &key(0xf0, 1), None).unwrap();
    rejected(c, E::NonAssociatedColdKey, |c| c.register_now(&net.miners[0], &key(9, 9), other));
    c.update_hyperparams(net.netuid, |h| h.registration_allowed = false).unwrap();
    rejected(c, E::SubNetRegistrationDisabled, |c| c.register_now(&key(8, 0), &key(8, 1), net.netuid));
}

#[test]
fn registration_fills_to_max_then_prunes_lowest_emission_respecting_immunity() {
    let chain = LocalChain::in_memory();
    let owner_hk = key(0xf1, 0);
    let netuid = plain_subnet(&chain, &key(0xf0, 0), Some(&owner_hk)).unwrap();
    chain
        .update_hyperparams(netuid, |h| {
            h.tempo = 10;
            h.weights_rate_limit = 0;
            h.max_allowed_uids = 6;
            h.immunity_period = 5;
            h.min_non_immune_uids = 0;
        })
        .unwrap();
    let validators = [key(1, 0), key(1, 1)];
    let miners = [key(3, 0), key(3, 1), key(3, 2)];
    for (i, v) in validators.iter().enumerate() {
        chain.register_now(v, &key(2, i as u16), netuid).unwrap();
        chain.add_stake(&key(2, i as u16), v, netuid, 100 * TAO).unwrap();
    }
    for (i, m) in miners.iter().enumerate() {
        chain.register_now(m, &key(4, i as u16), netuid).unwrap();
    }
    assert_eq!(chain.metagraph_now(netuid).unwrap().neurons.len(), 6);
    chain.advance_to_next_epoch(netuid).unwrap();
    // Miners 3, 4, 5 weighted 3:2:1, so miner 5 earns least.
    for v in &validators {
        chain.set_weights_now(v, netuid, &[3, 4, 5], &[3, 2, 1], 0).unwrap();
    }
    chain.advance_to_next_epoch(netuid).unwrap();
    let mg = chain.metagraph_now(netuid).unwrap();
    let emission: Vec<u64> = mg.neurons.iter().map(|n| n.emission).collect();
    assert!(emission[5] > 0 && emission[5] < emission[4] && emission[4] < emission[3], "{emission:?}");
    assert!(emission[1..3].iter().all(|&e| e > emission[4]), "validators earn more: {emission:?}");

    // Full: the newcomer replaces the lowest-emission non-immune, non-owner uid (5).
    let newcomer = key(5, 0);
    let out = chain.register_now(&newcomer, &key(6, 0), netuid).unwrap();
    assert_eq!(out.events, vec![ChainEvent::NeuronRegistered { netuid, uid: 5, hotkey: newcomer }]);
    let mg = chain.metagraph_now(netuid).unwrap();
    assert_eq!(mg.neurons.len(), 6);
    assert_eq!(mg.neurons[5].hotkey, newcomer);
    assert_eq!(mg.neurons[5].block_at_registration, chain.block());
    assert_eq!(mg.neurons[5].emission, 0);
    assert!(chain.weights(netuid, 1).contains(&(5, 0)), "weights to the pruned uid are zeroed");

    // The newcomer (emission 0) is immune: the next registration prunes uid 4 instead.
    let out = chain.register_now(&key(5, 1), &key(6, 1), netuid).unwrap();
    assert_eq!(out.events, vec![ChainEvent::NeuronRegistered { netuid, uid: 4, hotkey: key(5, 1) }]);

    // Once everyone is immune, the lowest emission among the immune goes: uids 4 and 5 both
    // have 0 and the same registration block, so the lower uid.
    chain.update_hyperparams(netuid, |h| h.immunity_period = 10_000).unwrap();
    let out = chain.register_now(&key(5, 2), &key(6, 2), netuid).unwrap();
    assert_eq!(out.events, vec![ChainEvent::NeuronRegistered { netuid, uid: 4, hotkey: key(5, 2) }]);
    // The owner hotkey is never pruned, even with the lowest emission.
    assert_eq!(chain.metagraph_now(netuid).unwrap().neurons[0].hotkey, owner_hk);
}

#[test]
fn min_non_immune_floor_and_no_uid_available() {
    let chain = LocalChain::in_memory();
    let owner_hk = key(0xf1, 0);
    let netuid = plain_subnet(&chain, &key(0xf0, 0), Some(&owner_hk)).unwrap();
    chain.update_hyperparams(netuid, |h| h.max_allowed_uids = 1).unwrap();
    // Only the owner hotkey, which is immortal: nothing can be pruned.
    rejected(&chain, E::NoNeuronIdAvailable, |c| c.register_now(&key(1, 0), &key(2, 0), netuid));

    chain
        .update_hyperparams(netuid, |h| {
            h.max_allowed_uids = 3;
            h.immunity_period = 0;
            h.min_non_immune_uids = 2;
        })
        .unwrap();
    chain.register_now(&key(1, 0), &key(2, 0), netuid).unwrap();
    chain.register_now(&key(1, 1), &key(2, 1), netuid).unwrap();
    // Two non-immune uids is not more than the floor of 2: nothing non-immune is pruned and
    // there is no immune candidate.
    rejected(&chain, E::NoNeuronIdAvailable, |c| c.register_now(&key(1, 2), &key(2, 2), netuid));
    chain.update_hyperparams(netuid, |h| h.min_non_immune_uids = 1).unwrap();
    let out = chain.register_now(&key(1, 2), &key(2, 2), netuid).unwrap();
    // Equal emission (0): earliest registration, then lowest uid.
    assert_eq!(out.events, vec![ChainEvent::NeuronRegistered { netuid, uid: 1, hotkey: key(1, 2) }]);
}

#[test]
fn validator_permits_go_to_top_k_stake_after_an_epoch() {
    let chain = LocalChain::in_memory();
    let netuid = plain_subnet(&chain, &key(0xf0, 0), None).unwrap();
    chain
        .update_hyperparams(netuid, |h| {
            h.tempo = 10;
            h.max_allowed_validators = 3;
        })
        .unwrap();
    let stakes = [10u64, 60, 30, 0, 50, 20, 0];
    for (i, &s) in stakes.iter().enumerate() {
        let (hk, ck) = (key(1, i as u16), key(2, i as u16));
        chain.register_now(&hk, &ck, netuid).unwrap();
        if s > 0 {
            chain.add_stake(&ck, &hk, netuid, s * TAO).unwrap();
        }
    }
    let permits = |c: &LocalChain| -> Vec<bool> {
        c.metagraph_now(netuid).unwrap().neurons.iter().map(|n| n.validator_permit).collect()
    };
    assert!(permits(&chain).iter().all(|p| !p), "no permits before an epoch");
    chain.advance_to_next_epoch(netuid).unwrap();
    // Stakes 60, 50, 30 win.
    assert_eq!(permits(&chain), vec![false, true, true, false, true, false, false]);
    // uid 0 overtakes everyone; uid 2 (30) drops out.
    chain.add_stake(&key(2, 0), &key(1, 0), netuid, 100 * TAO).unwrap();
    chain.advance_to_next_epoch(netuid).unwrap();
    assert_eq!(permits(&chain), vec![true, true, false, false, true, false, false]);
    // Without stake no permit, whatever the limit.
    chain.update_hyperparams(netuid, |h| h.max_allowed_validators = 64).unwrap();
    chain.advance_to_next_epoch(netuid).unwrap();
    let p = permits(&chain);
    assert!(!p[3] && !p[6] && p[5] && p[2], "{p:?}");
}
