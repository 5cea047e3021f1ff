//! Mechanisms (sub-subnets) on the embedded chain, as `subnets/mechanism.rs`: per-mechanism
//! weights, `LastUpdate`, incentive and bonds; the emission split; the admin rules.

use subnet_chain::local::LocalChain;
use subnet_chain::{AccountId, Chain, ChainError, ChainEvent, NetUid, SubtensorError as E, netuid_index};

fn key(tag: u8, i: u16) -> AccountId {
    let mut k = [0u8; 32];
    k[0] = tag;
    k[1..3].copy_from_slice(&i.to_le_bytes());
    AccountId(k)
}

const TAO: u64 = 1_000_000_000;

/// Owner hotkey uid 0, one staked validator (uid 1), two miners (uids 2, 3); two mechanisms,
/// plain set_weights; after one epoch, so the validator has its permit.
fn two_mechanisms() -> (LocalChain, NetUid, AccountId) {
    let chain = LocalChain::in_memory();
    let netuid = chain.create_subnet(&key(0xf0, 0), Some(&key(0xf1, 0))).unwrap();
    chain
        .update_hyperparams(netuid, |h| {
            h.tempo = 10;
            h.weights_rate_limit = 0;
            h.commit_reveal_enabled = false;
            h.max_allowed_uids = 128;
            h.mechanism_count = 2;
        })
        .unwrap();
    let v = key(1, 0);
    chain.register_now(&v, &key(2, 0), netuid).unwrap();
    chain.add_stake(&key(2, 0), &v, netuid, 100 * TAO).unwrap();
    for i in 0..2 {
        chain.register_now(&key(3, i), &key(4, i), netuid).unwrap();
    }
    chain.advance_to_next_epoch(netuid).unwrap();
    (chain, netuid, v)
}

#[test]
fn each_mechanism_has_its_own_weights_and_incentive_and_the_split_pays_them() {
    let (chain, netuid, v) = two_mechanisms();
    // Mechanism 0 pays miner uid 2, mechanism 1 miner uid 3; 3:1 split.
    chain.set_mechanism_emission_split(netuid, Some(vec![49151, 16384])).unwrap();
    let out = chain.set_mechanism_weights_now(&v, netuid, 0, &[2], &[1], 0).unwrap();
    assert_eq!(out.events, vec![ChainEvent::WeightsSet { netuid, uid: 1 }]);
    let row0 = chain.mechanism_weights(netuid, 0, 1);
    let out = chain.set_mechanism_weights_now(&v, netuid, 1, &[3], &[1], 0).unwrap();
    assert_eq!(out.events, vec![ChainEvent::WeightsSet { netuid: netuid_index(netuid, 1), uid: 1 }]);
    assert_eq!(netuid_index(netuid, 1), 4096 + netuid);
    assert_eq!(chain.mechanism_weights(netuid, 0, 1), row0, "mechanism 1's weights leave mechanism 0's row");
    assert_eq!(row0, vec![(2, 65535)]);
    assert_eq!(chain.mechanism_weights(netuid, 1, 1), vec![(3, 65535)]);
    let set_at = chain.block();

    let stake_before: Vec<u64> = (2..4).map(|i| chain.stake(&key(3, i - 2), netuid)).collect();
    chain.advance_to_next_epoch(netuid).unwrap();
    let m0 = chain.mechanism_metagraph_now(netuid, 0).unwrap();
    let m1 = chain.mechanism_metagraph_now(netuid, 1).unwrap();
    assert_eq!(chain.metagraph_now(netuid).unwrap(), m0, "metagraph() is mechanism 0's view");
    assert_eq!((m0.neurons[2].incentive, m0.neurons[3].incentive), (65535, 0));
    assert_eq!((m1.neurons[2].incentive, m1.neurons[3].incentive), (0, 65535));
    assert_eq!(m0.neurons[1].last_update, set_at);
    assert_eq!(m1.neurons[1].last_update, set_at);
    // Shared fields are the same in both views.
    assert_eq!(m0.neurons[1].dividends, m1.neurons[1].dividends);
    assert!(m0.neurons[1].validator_permit);

    // Miners earn 3:1 (the miners' half of each mechanism's share, rao truncation aside).
    let earned: Vec<u64> = (2..4).map(|i| chain.stake(&key(3, i - 2), netuid) - stake_before[i as usize - 2]).collect();
    assert!(earned[0] > 0 && earned[1] > 0, "{earned:?}");
    let ratio = earned[0] as f64 / earned[1] as f64;
    assert!((ratio - 3.0).abs() < 1e-3, "split 3:1, got {earned:?}");
}

#[test]
fn an_even_split_and_one_mechanism_bonds_apart() {
    let (chain, netuid, v) = two_mechanisms();
    chain.set_mechanism_weights_now(&v, netuid, 0, &[2, 3], &[1, 1], 0).unwrap();
    chain.set_mechanism_weights_now(&v, netuid, 1, &[3], &[1], 0).unwrap();
    chain.advance_to_next_epoch(netuid).unwrap();
    chain.advance_to_next_epoch(netuid).unwrap();
    let b0 = chain.mechanism_bonds(netuid, 0, 1);
    let b1 = chain.mechanism_bonds(netuid, 1, 1);
    assert_eq!(b0.iter().map(|b| b.0).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(b1.iter().map(|b| b.0).collect::<Vec<_>>(), vec![3]);
    // Even split: mechanism 1 pays uid 3 half of all incentive; mechanism 0 splits the other
    // half between uids 2 and 3 -> 1:3.
    let s = [chain.stake(&key(3, 0), netuid), chain.stake(&key(3, 1), netuid)];
    let ratio = s[1] as f64 / s[0] as f64;
    assert!((ratio - 3.0).abs() < 0.01, "{s:?}");
}

#[test]
fn mechanism_rules_and_errors() {
    let (chain, netuid, v) = two_mechanisms();
    let e = chain.set_mechanism_weights_now(&v, netuid, 2, &[2], &[1], 0).unwrap_err();
    // The rate-limit extension never passes a mechanism that does not exist.
    assert!(e.is(E::SettingWeightsTooFast), "{e}");
    chain.update_hyperparams(netuid, |h| h.commit_reveal_enabled = true).unwrap();
    let e = chain.commit_mechanism_weights_now(&v, netuid, 2, [0; 32]).unwrap_err();
    assert!(e.is(E::CommittingWeightsTooFast), "{e}");
    let e = chain.commit_timelocked_weights_now(&v, netuid, 2, &[1, 2, 3], u64::MAX, 4).unwrap_err();
    assert!(e.is(E::MechanismDoesNotExist), "{e}");
    assert!(chain.mechanism_metagraph_now(netuid, 2).unwrap_err().is(E::MechanismDoesNotExist));

    // Count: 1..=MaxMechanismCount (2), and max_allowed_uids * count <= 256.
    assert!(chain.set_mechanism_count(netuid, 0).unwrap_err().is(E::InvalidValue));
    assert!(chain.set_mechanism_count(netuid, 3).unwrap_err().is(E::InvalidValue));
    let e = chain.update_hyperparams(netuid, |h| h.max_allowed_uids = 200).unwrap_err();
    assert!(e.is(E::TooManyUIDsPerMechanism), "{e}");
    // Split: sums to 65535, at most `count` entries.
    assert!(chain.set_mechanism_emission_split(netuid, Some(vec![1, 2])).unwrap_err().is(E::InvalidValue));
    assert!(chain.set_mechanism_emission_split(netuid, Some(vec![65535, 0, 0])).unwrap_err().is(E::InvalidValue));
    chain.set_mechanism_emission_split(netuid, Some(vec![65535])).unwrap();
    assert_eq!(chain.hyperparams_now(netuid).unwrap().mechanism_emission_split, Some(vec![65535]));

    // Lowering the count clears mechanism 1 and resets the split.
    chain.update_hyperparams(netuid, |h| h.commit_reveal_enabled = false).unwrap();
    chain.set_mechanism_weights_now(&v, netuid, 1, &[3], &[1], 0).unwrap();
    chain.set_mechanism_count(netuid, 1).unwrap();
    let h = chain.hyperparams_now(netuid).unwrap();
    assert_eq!((h.mechanism_count, h.mechanism_emission_split), (1, None));
    chain.set_mechanism_count(netuid, 2).unwrap();
    assert!(chain.mechanism_weights(netuid, 1, 1).is_empty(), "mechanism 1 starts empty again");
    assert_eq!(chain.mechanism_metagraph_now(netuid, 1).unwrap().neurons[1].last_update, 0);
}

#[tokio::test]
async fn the_trait_takes_the_mechanism() {
    let (chain, netuid, v) = two_mechanisms();
    let c: &dyn Chain = &chain;
    c.set_weights(&v, netuid, 1, &[2, 3], &[1, 2], 0).await.unwrap();
    assert_eq!(c.weights_row(netuid, 1, 1).await.unwrap(), vec![(2, 32768), (3, 65535)]);
    assert!(c.weights_row(netuid, 0, 1).await.unwrap().is_empty());
    assert!(matches!(
        c.weights_row(netuid, 5, 1).await,
        Err(ChainError::Module { name, .. }) if name == "MechanismDoesNotExist"
    ));
    assert_eq!(c.mechanism_metagraph(netuid, 1).await.unwrap().neurons[1].last_update, chain.block());
}
