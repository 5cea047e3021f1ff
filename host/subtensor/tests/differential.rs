//! The same subnet on the real subtensor runtime and on the embedded chain: the same
//! registrations, stake and weights, advanced through an epoch; Incentive, Dividends and
//! Emission compared per uid.
//!
//! They differ, and the differences are pinned here because the runtime version explains them
//! (see `host/subtensor/README.md`, "Differential test"): the shared spec's runtime (spec 218,
//! subtensor 1629c559b, January 2025, a `raonet` test build) does not run Yuma Consensus at all.
//! Its coinbase calls `epoch_mock` for every subnet on every block: Incentive, Dividends,
//! Consensus and ValidatorTrust are written as zeros, weights are stored but never read, and
//! Emission is each uid's share of stake times the block's alpha emission after the owner cut.
//! The embedded chain follows spec 425 (Yuma, once per tempo). What both runtimes share, and
//! what is therefore compared for equality, is everything before the epoch: the subnet layout
//! (uids, owner, hotkeys), how `set_weights` checks and stores rows (max-upscaled to u16), and
//! its error names.

mod common;

use common::*;
use subnet_chain::local::LocalChain;
use subnet_chain::{AccountId, Chain, Hyperparams, Metagraph};

/// Alpha one block emits to a fresh subnet in spec 218 (1 TAO of issuance; the subnet's pool
/// starts at 1 rao, so all of it is `alpha_out`).
const ALPHA_OUT_PER_BLOCK: u64 = 1_000_000_000;
/// `SubnetOwnerCut` of the spec-218 `raonet` build (9 %), paid to the owner hotkey outside
/// Emission. Spec 425 (the embedded chain) uses 11796 (18 %).
const OWNER_CUT_218: u64 = 5898;

fn column(m: &Metagraph, f: impl Fn(&subnet_chain::NeuronInfo) -> u64) -> Vec<u64> {
    m.neurons.iter().map(f).collect()
}

fn incentive(m: &Metagraph) -> Vec<u64> {
    column(m, |n| u64::from(n.incentive))
}

fn dividends(m: &Metagraph) -> Vec<u64> {
    column(m, |n| u64::from(n.dividends))
}

fn emission(m: &Metagraph) -> Vec<u64> {
    column(m, |n| n.emission)
}

/// The embedded chain with the same subnet: owner //Alice as uid 0, //Bob, //Charlie; the
/// tempo and rate limit the real one has; `stake` on Alice.
fn embedded(hyper_from_real: &Hyperparams, stake: u64) -> (LocalChain, u16) {
    let chain = LocalChain::in_memory();
    let (alice, bob, charlie) = (account("//Alice"), account("//Bob"), account("//Charlie"));
    let netuid = chain.create_subnet(&alice, Some(&alice)).unwrap();
    chain.register_now(&bob, &bob, netuid).unwrap();
    chain.register_now(&charlie, &charlie, netuid).unwrap();
    chain
        .update_hyperparams(netuid, |h| {
            h.tempo = hyper_from_real.tempo;
            h.weights_rate_limit = hyper_from_real.weights_rate_limit;
            h.commit_reveal_enabled = hyper_from_real.commit_reveal_enabled;
        })
        .unwrap();
    chain.add_stake(&alice, &alice, netuid, stake.max(1)).unwrap();
    // The first epoch hands out the validator permit, as the real chain's first block does.
    chain.advance_to_next_epoch(netuid).unwrap();
    (chain, netuid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_runtime_and_embedded_chain_through_an_epoch() {
    let Some(Net { node, chain, subnet }) = net(0).await else { return };
    let netuid = subnet.netuid;
    let alice = account("//Alice");
    let (uids, values) = ([0u16, 1, 2], [65535u16, 30000, 20000]);

    // --- the real runtime ---
    chain.set_weights(&alice, netuid, 0, &uids, &values, 0).await.unwrap();
    node.new_blocks(1).await.unwrap();
    let real = chain.subnet_state(netuid).await.unwrap();
    assert_eq!(real.spec_version, 218, "the pinned differences below are those of spec 218");
    let hyper = chain.hyperparams(netuid).await.unwrap();

    // --- the embedded chain, same subnet ---
    let alice_stake = real.metagraph.neurons[0].stake;
    let (local, local_netuid) = embedded(&hyper, alice_stake);
    local.set_weights_now(&alice, local_netuid, &uids, &values, 0).unwrap();
    local.advance_to_next_epoch(local_netuid).unwrap();
    let mine = local.metagraph_now(local_netuid).unwrap();

    eprintln!(
        "spec 218 (real): incentive {:?} dividends {:?} emission {:?}",
        incentive(&real.metagraph),
        dividends(&real.metagraph),
        emission(&real.metagraph)
    );
    eprintln!(
        "embedded (425):  incentive {:?} dividends {:?} emission {:?}",
        incentive(&mine),
        dividends(&mine),
        emission(&mine)
    );
    // What both share: the layout, and the stored weight rows.
    let hotkeys = |m: &Metagraph| m.neurons.iter().map(|n| n.hotkey).collect::<Vec<AccountId>>();
    assert_eq!(hotkeys(&real.metagraph), hotkeys(&mine));
    assert_eq!(real.metagraph.owner_hotkey, mine.owner_hotkey);
    assert_eq!(real.weights[0], local.weights(local_netuid, 0));

    // Spec 218: no Yuma. Zeros for Incentive and Dividends; Emission by stake share.
    assert_eq!(incentive(&real.metagraph), [0, 0, 0]);
    assert_eq!(dividends(&real.metagraph), [0, 0, 0]);
    let cut = ALPHA_OUT_PER_BLOCK * OWNER_CUT_218 / 65535;
    let total_stake: u64 = real.metagraph.neurons.iter().map(|n| n.stake).sum();
    assert!(total_stake > 0 && alice_stake == total_stake, "only the owner holds alpha on a fresh spec-218 subnet");
    assert_eq!(emission(&real.metagraph), [ALPHA_OUT_PER_BLOCK - cut, 0, 0]);
    assert_eq!(ALPHA_OUT_PER_BLOCK - cut, 910_002_289);

    // Spec 425 (embedded): Yuma. Alice is the only validator, so consensus follows her weights:
    // incentive is her normalised row, she takes all dividends.
    let sum: u64 = values.iter().map(|&v| u64::from(v)).sum();
    let expected: Vec<u64> = values.iter().map(|&v| u64::from(v) * 65535 / sum).collect();
    for (got, want) in incentive(&mine).iter().zip(&expected) {
        assert!(got.abs_diff(*want) <= 1, "incentive {:?} vs normalised weights {expected:?}", incentive(&mine));
    }
    assert_eq!(dividends(&mine), [65535, 0, 0]);
    let e = emission(&mine);
    assert!(e[1] > 0 && e[2] > 0, "miners earn on the embedded chain: {e:?}");
    assert!((e[1] * 2).abs_diff(e[2] * 3) <= 3, "miner emission follows the 3:2 weights: {e:?}");

    // On spec 218 weights do not move emission: other weights, same vectors.
    chain.set_weights(&alice, netuid, 0, &[1, 2], &[1, 1], 0).await.unwrap();
    node.new_blocks(1).await.unwrap();
    let later = chain.metagraph(netuid).await.unwrap();
    assert_eq!(incentive(&later), [0, 0, 0]);
    assert_eq!(emission(&later), emission(&real.metagraph));

    // And the rules before the epoch agree: the same bad weights, the same error names.
    let cases: [(&[u16], &[u16]); 3] = [(&[1, 1], &[1, 2]), (&[1, 2], &[1]), (&[1, 9], &[1, 2])];
    for (uids, values) in cases {
        let on_real = chain.set_weights(&alice, netuid, 0, uids, values, 0).await.unwrap_err();
        let on_mine = local.set_weights_now(&alice, local_netuid, uids, values, 0).unwrap_err();
        assert_eq!(on_real.module_name(), on_mine.module_name(), "{uids:?} {values:?}");
    }
}
