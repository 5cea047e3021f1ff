//! Every call of the `Chain` interface through subxt against the real subtensor runtime (spec
//! 218 under Chopsticks): metagraph and hyperparameter reads, set_weights with its events and
//! error names, commit-reveal v2 with the hash computed here, serve_axon, burned_register,
//! add_stake, following finalized blocks.

mod common;

use common::*;
use subnet_chain::{AxonInfo, Chain, ChainError, ChainEvent, SubtensorError, commit_hash};
use subnet_subtensor::CallArg;
use subnet_subtensor::devnet::accounts;

fn module(e: &ChainError) -> &str {
    e.module_name().unwrap_or_else(|| panic!("expected a module error, got {e:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_writes_and_errors_on_the_real_runtime() {
    let Some(Net { node, chain, subnet }) = net(0).await else { return };
    let netuid = subnet.netuid;
    let (alice, bob, charlie) = (account("//Alice"), account("//Bob"), account("//Charlie"));
    assert_eq!(chain.spec_version().await.unwrap(), 218);
    assert!(chain.subnets().await.unwrap().contains(&netuid));

    // Metagraph: the owner as uid 0, then the two registrations, in order.
    let mg = chain.metagraph(netuid).await.unwrap();
    assert_eq!(mg.netuid, netuid);
    let hotkeys: Vec<_> = mg.neurons.iter().map(|n| n.hotkey).collect();
    assert_eq!(hotkeys, [alice, bob, charlie]);
    assert_eq!(mg.owner_coldkey, alice);
    assert_eq!(mg.owner_hotkey, Some(alice));
    assert!(mg.neurons.iter().all(|n| n.coldkey == n.hotkey));
    assert!(mg.neurons.iter().enumerate().all(|(i, n)| usize::from(n.uid) == i && n.block_at_registration > 0));
    assert_eq!(mg.uid_of(&charlie), Some(2));

    let hyper = chain.hyperparams(netuid).await.unwrap();
    assert_eq!(hyper.weights_rate_limit, 0, "set by sudo in the setup");
    assert_eq!(hyper.tempo, 30, "spec 218 gives new subnets tempo 30");
    assert_eq!((hyper.max_allowed_uids, hyper.max_allowed_validators, hyper.kappa), (256, 64, 32_767));
    assert!(!hyper.commit_reveal_enabled);

    // serve_axon: a public address is stored; loopback is refused by name.
    let axon = AxonInfo {
        block: 0,
        version: 7,
        ip: u128::from(u32::from_be_bytes([203, 0, 113, 5])),
        port: 8091,
        ip_type: 4,
        protocol: 4,
    };
    let served = chain.serve_axon(&bob, netuid, axon).await.unwrap();
    assert_eq!(served.events, [ChainEvent::AxonServed { netuid, hotkey: bob }]);
    let stored = chain.metagraph(netuid).await.unwrap().neurons[1].axon.expect("axon stored");
    assert_eq!((stored.ip, stored.port, stored.version, stored.block), (axon.ip, 8091, 7, served.block));
    let loopback = AxonInfo { ip: u128::from(u32::from_be_bytes([127, 0, 0, 1])), ..axon };
    let e = chain.serve_axon(&charlie, netuid, loopback).await.unwrap_err();
    assert_eq!(module(&e), "InvalidIpAddress");

    // add_stake and burned_register through the same submission path.
    let staked = chain.add_stake(&alice, &alice, netuid, 10_000_000_000).await.unwrap();
    assert!(matches!(staked.events[..], [ChainEvent::StakeAdded { netuid: n, .. }] if n == netuid), "{staked:?}");
    let e = chain.register(&bob, &bob, netuid).await.unwrap_err();
    assert!(e.is(SubtensorError::HotKeyAlreadyRegisteredInSubNet), "{e:?}");

    // set_weights lands, with its event, the max-upscaled row and LastUpdate.
    let set = chain.set_weights(&alice, netuid, 0, &[0, 1, 2], &[65535, 30000, 20000], 0).await.unwrap();
    assert_eq!(set.events, [ChainEvent::WeightsSet { netuid, uid: 0 }]);
    let state = chain.subnet_state(netuid).await.unwrap();
    assert_eq!(state.weights[0], [(0, 65535), (1, 30000), (2, 20000)]);
    assert_eq!(state.metagraph.neurons[0].last_update, set.block);
    let set = chain.set_weights(&alice, netuid, 0, &[1, 2], &[30000, 20000], 0).await.unwrap();
    assert_eq!(chain.subnet_state(netuid).await.unwrap().weights[0], [(1, 65535), (2, 43690)], "at {}", set.block);

    // Rule-breaking weights come back with the pallet's error names, and change nothing.
    let cases: [(&[u16], &[u16], u64, &str); 3] = [
        (&[1, 1], &[1, 2], 0, "DuplicateUids"),
        (&[1, 2], &[1], 0, "WeightVecNotEqualSize"),
        (&[1, 9], &[1, 2], 0, "UidVecContainInvalidOne"),
    ];
    for (uids, values, version, name) in cases {
        let e = chain.set_weights(&alice, netuid, 0, uids, values, version).await.unwrap_err();
        assert_eq!(module(&e), name, "{uids:?} {values:?}");
    }
    let dave = account("//Dave");
    subnet_subtensor::devnet::fund(&node, &[dave]).await.unwrap();
    let e = chain.set_weights(&dave, netuid, 0, &[0], &[1], 0).await.unwrap_err();
    assert_eq!(module(&e), "HotKeyNotRegisteredInSubNet");
    chain
        .sudo_admin(&alice, "sudo_set_weights_version_key", vec![CallArg::U16(netuid), CallArg::U64(5)])
        .await
        .unwrap();
    let e = chain.set_weights(&alice, netuid, 0, &[1], &[1], 4).await.unwrap_err();
    assert_eq!(module(&e), "IncorrectWeightVersionKey");
    chain
        .sudo_admin(&alice, "sudo_set_weights_set_rate_limit", vec![CallArg::U16(netuid), CallArg::U64(100)])
        .await
        .unwrap();
    let e = chain.set_weights(&alice, netuid, 0, &[1], &[1], 5).await.unwrap_err();
    assert_eq!(module(&e), "SettingWeightsTooFast");
    assert_eq!(chain.subnet_state(netuid).await.unwrap().weights[0], [(1, 65535), (2, 43690)]);
    assert_eq!(chain.hyperparams(netuid).await.unwrap().weights_version_key, 5);

    // A failed sudo reports the inner error; a signer without a key is refused before sending.
    let e = chain.sudo_admin(&bob, "sudo_set_tempo", vec![CallArg::U16(netuid), CallArg::U16(10)]).await.unwrap_err();
    assert!(e.module_name().is_some(), "{e:?}");
    let eve = accounts::dev("//Eve").account_id();
    assert!(matches!(chain.set_weights(&eve, netuid, 0, &[0], &[1], 5).await, Err(ChainError::InvalidInput(_))));
    assert!(matches!(
        chain.submit(&alice, "SubtensorModule", "no_such_call", vec![]).await,
        Err(ChainError::InvalidInput(m)) if m.contains("does not exist")
    ));

    // The transaction pool's refusals are named too: spec 218 admits 3 registrations per
    // interval (3 x its target of 1); //Dave is the third, //Ferdie one too many.
    let ferdie = account("//Ferdie");
    subnet_subtensor::devnet::fund(&node, &[ferdie]).await.unwrap();
    chain.register(&dave, &dave, netuid).await.unwrap();
    let e = chain.register(&ferdie, &ferdie, netuid).await.unwrap_err();
    assert_eq!(
        e,
        ChainError::Module { pallet: "TransactionPool".into(), name: "TooManyRegistrationsThisInterval".into() }
    );

    // Finalized blocks are followed as the node makes them.
    let before = chain.current_block().await.unwrap();
    node.new_blocks(3).await.unwrap();
    assert!(wait_for_block(&chain, before + 3).await >= before + 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_reveal_v2_with_the_hash_the_chain_computes() {
    let Some(Net { node, chain, subnet }) = net(0).await else { return };
    let netuid = subnet.netuid;
    let alice = account("//Alice");
    let sudo = |call: &'static str, v: CallArg| {
        let chain = &chain;
        async move { chain.sudo_admin(&alice, call, vec![CallArg::U16(netuid), v]).await.unwrap() }
    };
    let e = chain.commit_weights(&alice, netuid, 0, [1; 32]).await.unwrap_err();
    assert_eq!(module(&e), "CommitRevealDisabled");
    sudo("sudo_set_commit_reveal_weights_enabled", CallArg::Bool(true)).await;
    sudo("sudo_set_tempo", CallArg::U16(4)).await;
    let hyper = chain.hyperparams(netuid).await.unwrap();
    assert!(hyper.commit_reveal_enabled);
    assert_eq!(hyper.tempo, 4);
    let e = chain.set_weights(&alice, netuid, 0, &[1], &[1], 0).await.unwrap_err();
    assert_eq!(module(&e), "CommitRevealEnabled");

    let (uids, values, salt) = ([1u16, 2], [40000u16, 20000], [7u16, 8, 9]);
    let hash = commit_hash(&alice, netuid, &uids, &values, &salt, 0);
    // Spec 218 has no stateful epoch: the legacy formula names the commit's epoch.
    let schedule = chain.epoch_schedule(netuid).await.unwrap();
    assert_eq!((schedule.epoch_index, schedule.last_epoch_block), (None, None));
    let commit_epoch = schedule.epoch();
    let committed = chain.commit_weights(&alice, netuid, 0, hash).await.unwrap();
    assert_eq!(committed.block, schedule.extrinsic_block, "Chopsticks puts the commit in the next block");
    assert_eq!(committed.events, [ChainEvent::WeightsCommitted { who: alice, netuid, hash }]);
    let e = chain.reveal_weights(&alice, netuid, 0, &uids, &values, &salt, 0).await.unwrap_err();
    assert_eq!(module(&e), "RevealTooEarly");

    // The reveal window opens in the next epoch: try once per block until it does. Each try
    // is accepted exactly when the schedule's epoch is the commit's plus the reveal period.
    let mut revealed = None;
    for _ in 0..2 * (u32::from(hyper.tempo) + 1) {
        node.new_blocks(1).await.unwrap();
        let in_window =
            chain.epoch_schedule(netuid).await.unwrap().epoch() == commit_epoch + hyper.commit_reveal_period;
        match chain.reveal_weights(&alice, netuid, 0, &uids, &values, &salt, 0).await {
            Ok(outcome) => {
                assert!(in_window, "revealed outside the window the schedule names");
                revealed = Some(outcome);
                break;
            }
            Err(e) => {
                assert_eq!(module(&e), "RevealTooEarly");
                assert!(!in_window, "refused inside the window the schedule names");
            }
        }
    }
    let revealed = revealed.expect("the reveal window never opened");
    assert_eq!(
        revealed
            .events
            .iter()
            .filter(|e| matches!(e, ChainEvent::WeightsRevealed { hash: h, .. } if *h == hash))
            .count(),
        1
    );
    // Stored max-upscaled exactly as the embedded chain's `max_upscale_u16` computes it.
    let upscaled = subnet_chain::max_upscale_u16(&values);
    assert_eq!(upscaled, [65535, 32767]);
    assert_eq!(chain.subnet_state(netuid).await.unwrap().weights[0], [(1, upscaled[0]), (2, upscaled[1])]);

    // A reveal that does not match its commit is refused by name.
    let second = commit_hash(&alice, netuid, &uids, &values, &[1], 0);
    chain.commit_weights(&alice, netuid, 0, second).await.unwrap();
    let mut refused = None;
    for _ in 0..2 * (u32::from(hyper.tempo) + 1) {
        node.new_blocks(1).await.unwrap();
        match chain.reveal_weights(&alice, netuid, 0, &uids, &values, &[2], 0).await {
            Err(e) if module(&e) == "RevealTooEarly" => continue,
            other => {
                refused = Some(other);
                break;
            }
        }
    }
    let e = refused.expect("the reveal window never opened").unwrap_err();
    assert_eq!(module(&e), "InvalidRevealCommitHashNotMatch");
}
