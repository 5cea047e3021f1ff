//! The embedded chain against subtensor's rules (`opentensor/subtensor` @ 14bc6f9f,
//! spec 425): every `set_weights` rule with the runtime's error name and no state change,
//! registration and pruning, validator permits, commit-reveal v2, the epoch schedule,
//! emission accounting, and persistence across a killed process.
//!
//! Tests named `port_*` replay `pallets/subtensor/src/tests/weights.rs` tests with their
//! numbers. Where the pallet test sets storage directly (a validator permit), the port gets
//! the same state the way a client can (the owner hotkey, which the pallet always permits).

use subnet_chain::local::{LocalChain, LocalChainConfig, block_emission_split};
use subnet_chain::{
    AccountId, AxonInfo, ChainError, ChainEvent, ExtrinsicOutcome, NetUid, SUBTENSOR_PALLET, SubtensorError as E,
    commit_hash,
};

fn key(tag: u8, i: u16) -> AccountId {
    let mut k = [0u8; 32];
    k[0] = tag;
    k[1..3].copy_from_slice(&i.to_le_bytes());
    AccountId(k)
}

const TAO: u64 = 1_000_000_000;

/// A subnet with an owner hotkey (uid 0), `v` staked validators (uids 1..=v) and `m` miners,
/// tempo 10, after one epoch so that the validators hold permits.
struct Net {
    chain: LocalChain,
    netuid: NetUid,
    owner_hk: AccountId,
    validators: Vec<AccountId>,
    miners: Vec<AccountId>,
}

impl Net {
    fn new(v: u16, m: u16) -> Self {
        Self::with(LocalChain::in_memory(), v, m)
    }

    fn with(chain: LocalChain, v: u16, m: u16) -> Self {
        let (netuid, owner_hk, validators, miners) = setup(&chain, v, m);
        Self { chain, netuid, owner_hk, validators, miners }
    }

    fn uid(&self, hk: &AccountId) -> u16 {
        self.chain.metagraph_now(self.netuid).expect("metagraph").uid_of(hk).expect("registered")
    }

    fn miner_uids(&self) -> Vec<u16> {
        self.miners.iter().map(|m| self.uid(m)).collect()
    }
}

/// Creates the subnet of [`Net`] on `chain`; returns `(netuid, owner hotkey, validators, miners)`.
fn setup(chain: &LocalChain, v: u16, m: u16) -> (NetUid, AccountId, Vec<AccountId>, Vec<AccountId>) {
    let owner_ck = key(0xf0, 0);
    let owner_hk = key(0xf1, 0);
    let netuid = chain.create_subnet(&owner_ck, Some(&owner_hk)).expect("subnet");
    chain
        .update_hyperparams(netuid, |h| {
            h.tempo = 10;
            h.weights_rate_limit = 0;
        })
        .expect("hyperparams");
    let validators: Vec<AccountId> = (0..v).map(|i| key(1, i)).collect();
    let miners: Vec<AccountId> = (0..m).map(|i| key(3, i)).collect();
    for (i, hk) in validators.iter().enumerate() {
        chain.register_now(hk, &key(2, i as u16), netuid).expect("register validator");
        chain.add_stake(&key(2, i as u16), hk, netuid, (100 + 10 * i as u64) * TAO).expect("stake");
    }
    for (i, hk) in miners.iter().enumerate() {
        chain.register_now(hk, &key(4, i as u16), netuid).expect("register miner");
    }
    chain.advance_to_next_epoch(netuid).expect("epoch");
    (netuid, owner_hk, validators, miners)
}

/// Runs `f`, expects the subtensor error `want`, and checks that the chain did not change.
fn rejected(chain: &LocalChain, want: E, f: impl FnOnce(&LocalChain) -> Result<ExtrinsicOutcome, ChainError>) {
    let before = chain.snapshot();
    let got = f(chain).expect_err("the call should fail");
    assert_eq!(got, ChainError::Module { pallet: SUBTENSOR_PALLET.into(), name: want.name().into() }, "wrong error");
    assert!(chain.same_state_as(&before), "a failed {} changed the chain", want.name());
}

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
    let netuid = chain.create_subnet(&key(66, 0), Some(&owner_hk)).unwrap();
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
    let n0 = chain.create_subnet(&key(70, 0), None).unwrap();
    let n1 = chain.create_subnet(&key(70, 1), None).unwrap();
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
    let netuid = chain.create_subnet(&key(0xf0, 0), Some(&owner_hk)).unwrap();
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
    let other = c.create_subnet(&key(0xf0, 1), None).unwrap();
    rejected(c, E::NonAssociatedColdKey, |c| c.register_now(&net.miners[0], &key(9, 9), other));
    c.update_hyperparams(net.netuid, |h| h.registration_allowed = false).unwrap();
    rejected(c, E::SubNetRegistrationDisabled, |c| c.register_now(&key(8, 0), &key(8, 1), net.netuid));
}

#[test]
fn registration_fills_to_max_then_prunes_lowest_emission_respecting_immunity() {
    let chain = LocalChain::in_memory();
    let owner_hk = key(0xf1, 0);
    let netuid = chain.create_subnet(&key(0xf0, 0), Some(&owner_hk)).unwrap();
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
    let netuid = chain.create_subnet(&key(0xf0, 0), Some(&owner_hk)).unwrap();
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
    let netuid = chain.create_subnet(&key(0xf0, 0), None).unwrap();
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
    let other = c.create_subnet(&key(0xf0, 5), None).unwrap();
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
    let a = chain.create_subnet(&key(0xf0, 0), None).unwrap();
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
    let b = chain.create_subnet(&key(0xf0, 1), None).unwrap();
    assert_eq!(b, 2);
    assert_eq!(chain.next_epoch_block(b).unwrap(), 55 - 2 + 360);

    // Three subnets due in the same block, at most two epochs per block: one moves on.
    let chain = LocalChain::in_memory();
    let subnets: Vec<NetUid> = (0..3).map(|i| chain.create_subnet(&key(0xf0, i), None).unwrap()).collect();
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
    let cr = c.create_subnet(&key(0xe0, 0), Some(&key(0xe1, 0))).unwrap();
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
