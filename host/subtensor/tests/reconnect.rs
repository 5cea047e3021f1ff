//! The node goes away and comes back: calls fail fast with a transport error meanwhile, the
//! chain reconnects by itself, the devnet resumes its state from its database, and a
//! `set_weights` whose answer was lost is not submitted twice.

mod common;

use std::time::{Duration, Instant};

use common::*;
use subnet_chain::{Chain, ChainError, ChainEvent};
use subnet_subtensor::devnet::{DevnetOptions, setup_subnet};

async fn wait_connected(chain: &subnet_subtensor::SubtensorChain) -> Duration {
    let t = Instant::now();
    while !chain.is_connected() {
        assert!(t.elapsed() < Duration::from_secs(60), "no reconnection within 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    t.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_and_resumes_after_the_node_is_killed() {
    let db = tempfile::tempdir().unwrap();
    let options = DevnetOptions { db: Some(db.path().join("chain.sqlite")), port: None };
    let Some(mut node) = devnet(options).await else { return };
    let chain = connect(&node).await;
    let subnet = setup_subnet(&node, &chain, &[account("//Bob"), account("//Charlie")], 0).await.unwrap();
    let alice = account("//Alice");
    let set = chain.set_weights(&alice, subnet.netuid, 0, &[1, 2], &[3, 1], 0).await.unwrap();
    let before = chain.metagraph(subnet.netuid).await.unwrap();

    node.kill();
    let t = Instant::now();
    while chain.is_connected() {
        assert!(t.elapsed() < Duration::from_secs(30), "the loss of the node went unnoticed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let down = chain.metagraph(subnet.netuid).await.unwrap_err();
    assert!(matches!(&down, ChainError::Transport(m) if m.contains("not connected")), "{down:?}");
    let refused = chain.set_weights(&alice, subnet.netuid, 0, &[1], &[1], 0).await.unwrap_err();
    assert!(matches!(refused, ChainError::Transport(_)), "{refused:?}");

    node.restart().await.unwrap_or_else(|e| panic!("{e}"));
    let took = wait_connected(&chain).await;
    eprintln!("reconnected {took:?} after the node answered again");
    let after = chain.metagraph(subnet.netuid).await.unwrap();
    assert!(after.block >= before.block, "the chain went back from {} to {}", before.block, after.block);
    assert_eq!(
        after.neurons.iter().map(|n| n.hotkey).collect::<Vec<_>>(),
        before.neurons.iter().map(|n| n.hotkey).collect::<Vec<_>>()
    );
    assert_eq!(after.neurons[0].last_update, set.block, "the weights set before the crash are kept");
    let again = chain.set_weights(&alice, subnet.netuid, 0, &[1, 2], &[1, 3], 0).await.unwrap();
    assert_eq!(again.events, [ChainEvent::WeightsSet { netuid: subnet.netuid, uid: 0 }]);
    assert!(again.block > set.block);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_whose_answer_was_lost_are_not_submitted_twice() {
    let Some(Net { node, chain: _, subnet }) = net(0).await else { return };
    let netuid = subnet.netuid;
    let alice = account("//Alice");
    // A chain that gives up waiting quickly, and a node that only builds blocks when told.
    let options =
        subnet_subtensor::SubtensorOptions { extrinsic_timeout: Duration::from_secs(2), ..Default::default() };
    let chain = subnet_subtensor::SubtensorChain::connect(subnet_subtensor::Endpoint::Url(node.url()), keys(), options)
        .await
        .unwrap();
    let _: serde_json::Value = node.rpc("dev_setBlockBuildMode", subxt::rpcs::rpc_params!["Manual"]).await.unwrap();
    let lost = chain.set_weights(&alice, netuid, 0, &[1, 2], &[3, 1], 0).await.unwrap_err();
    assert!(matches!(&lost, ChainError::Transport(m) if m.contains("not finalized")), "{lost:?}");
    node.new_blocks(1).await.unwrap();
    let landed = chain.metagraph(netuid).await.unwrap().neurons[0].last_update;

    // The same weights again: the chain already has them, so nothing is sent.
    let again = chain.set_weights(&alice, netuid, 0, &[1, 2], &[3, 1], 0).await.unwrap();
    assert_eq!(again.block, landed);
    assert_eq!(again.events, [ChainEvent::WeightsSet { netuid, uid: 0 }]);
    let pending: Vec<serde_json::Value> =
        node.rpc("author_pendingExtrinsics", subxt::rpcs::rpc_params![]).await.unwrap();
    assert!(pending.is_empty(), "a second set_weights reached the pool: {pending:?}");
    let _: serde_json::Value = node.rpc("dev_setBlockBuildMode", subxt::rpcs::rpc_params!["Instant"]).await.unwrap();
    // Different weights are new weights, and are sent.
    let next = chain.set_weights(&alice, netuid, 0, &[1, 2], &[1, 3], 0).await.unwrap();
    assert!(next.block > landed);
}
