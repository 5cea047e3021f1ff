//! The local chain node over HTTP: [`RemoteChain`] sees what the node's `LocalChain` holds,
//! extrinsics are applied only when signed by their signer (and bound to this node, fresh, not
//! replayed), chain errors keep their pallet names, blocks are followed by long poll.

use super::support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use subnet_chain::local::{LocalChain, LocalChainConfig};
use subnet_chain::{AxonInfo, Chain, ChainError, Hyperparams, SubtensorError, commit_hash};
use subnet_host::node::api::{ServeAxonCall, SetWeightsCall};
use subnet_host::node::{ChainNodeConfig, RemoteChain, spawn_chain_node};
use subnet_keys::btauth::{fresh_nonce, sign_request};
use subnet_keys::{CryptoType, Keypair};

fn key() -> Keypair {
    Keypair::generate(CryptoType::Sr25519)
}

async fn node(chain: Arc<LocalChain>, block_time: Option<Duration>) -> (subnet_host::node::ChainNodeHandle, Keypair) {
    let node_key = key();
    let mut config = ChainNodeConfig::new(node_key.clone());
    config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.block_time = block_time;
    (spawn_chain_node(chain, config).await.unwrap(), node_key)
}

fn signed_json(signer: &Keypair, path: &str, body: &[u8], receiver: &Keypair) -> Vec<(String, String)> {
    let mut h = vec![("Content-Type".to_string(), "application/json".to_string())];
    h.extend(sign_request(signer, "POST", path, body, Some(&receiver.account_id()), fresh_nonce()));
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_chain_is_the_node_chain_and_only_signers_act() {
    let dir = tempfile::tempdir().unwrap();
    let local = Arc::new(
        LocalChain::open_with(dir.path(), LocalChainConfig { allow_loopback_axons: true, ..Default::default() })
            .unwrap(),
    );
    let (node, node_key) = node(local.clone(), None).await;
    let url = node.url();
    let (owner, vcold, vhot, mcold, mhot) = (key(), key(), key(), key(), key());

    // Subnet administration, signed by coldkeys.
    let admin = RemoteChain::connect(&url, [owner.clone(), vcold.clone(), mcold.clone()]).await.unwrap();
    assert_eq!(admin.node_key(), node_key.account_id());
    let hyper =
        Hyperparams { tempo: 10, weights_rate_limit: 5, commit_reveal_enabled: false, ..Hyperparams::default() };
    let netuid = admin.create_subnet(&owner.account_id(), None, Some(hyper.clone())).await.unwrap();
    assert_eq!(admin.hyperparams(netuid).await.unwrap(), hyper);
    admin.register(&vhot.account_id(), &vcold.account_id(), netuid).await.unwrap();
    admin.register(&mhot.account_id(), &mcold.account_id(), netuid).await.unwrap();
    admin.add_stake(&vcold.account_id(), &vhot.account_id(), netuid, 1_000_000_000_000).await.unwrap();
    assert_eq!(admin.metagraph(netuid).await.unwrap(), local.metagraph_now(netuid).unwrap());
    assert_eq!(admin.subnets().await.unwrap(), local.subnets().await.unwrap());
    assert_eq!(admin.current_block().await.unwrap(), local.block());
    // Errors keep the pallet's names.
    assert_eq!(admin.metagraph(99).await.unwrap_err(), ChainError::subtensor(SubtensorError::SubnetNotExists));
    assert_eq!(
        admin.register(&vhot.account_id(), &vcold.account_id(), netuid).await.unwrap_err(),
        ChainError::subtensor(SubtensorError::HotKeyAlreadyRegisteredInSubNet)
    );

    // An epoch or two gives the staked validator its permit.
    let events = admin.advance_blocks(20).await.unwrap();
    assert!(events.iter().any(|e| matches!(e, subnet_chain::ChainEvent::EpochRun { .. })));

    // The validator's process holds its hotkey only.
    let validator = RemoteChain::connect(&url, [vhot.clone()]).await.unwrap();
    let (vuid, muid) = {
        let m = local.metagraph_now(netuid).unwrap();
        (m.uid_of(&vhot.account_id()).unwrap(), m.uid_of(&mhot.account_id()).unwrap())
    };
    validator.set_weights(&vhot.account_id(), netuid, 0, &[muid], &[65535], 0).await.unwrap();
    assert_eq!(local.weights(netuid, vuid), vec![(muid, 65535)]);
    assert_eq!(
        validator.set_weights(&vhot.account_id(), netuid, 0, &[muid], &[65535], 0).await.unwrap_err(),
        ChainError::Module { pallet: "SubtensorModule".into(), name: "SettingWeightsTooFast".into() }
    );
    // Nobody can act for another hotkey: not through the client...
    let e = validator.set_weights(&mhot.account_id(), netuid, 0, &[vuid], &[1], 0).await.unwrap_err();
    assert!(
        matches!(&e, ChainError::InvalidInput(m) if m.contains("no key for signer") && m.contains(&mhot.ss58_address())),
        "{e}"
    );
    // ...nor by signing a call that names someone else.
    let path = "/v1/chain/extrinsics/set_weights";
    let forged = serde_json::to_vec(&SetWeightsCall {
        mecid: 0,
        signer: mhot.account_id(),
        netuid,
        uids: vec![vuid],
        weights: vec![1],
        version_key: 0,
    })
    .unwrap();
    let a =
        support::raw_request(node.local_addr(), "POST", path, &signed_json(&vhot, path, &forged, &node_key), &forged)
            .await;
    assert_eq!((a.status, a.reason()), (403, "signer_mismatch"), "{a:?}");
    let a = support::raw_request(node.local_addr(), "POST", path, &[], &forged).await;
    assert_eq!((a.status, a.reason()), (401, "missing_header"));
    // Bound to another node: refused here.
    let a =
        support::raw_request(node.local_addr(), "POST", path, &signed_json(&mhot, path, &forged, &vhot), &forged).await;
    assert_eq!((a.status, a.reason()), (401, "wrong_receiver"));
    assert!(local.weights(netuid, muid).is_empty(), "no forged weights landed");

    // A captured, genuinely signed extrinsic cannot be replayed.
    let path = "/v1/chain/extrinsics/serve_axon";
    let axon = AxonInfo::from_socket_addr("127.0.0.1:8091".parse().unwrap(), 1, 4);
    let call = serde_json::to_vec(&ServeAxonCall { signer: mhot.account_id(), netuid, axon }).unwrap();
    let headers = signed_json(&mhot, path, &call, &node_key);
    let a = support::raw_request(node.local_addr(), "POST", path, &headers, &call).await;
    assert_eq!(a.status, 200, "{a:?}");
    let a = support::raw_request(node.local_addr(), "POST", path, &headers, &call).await;
    assert_eq!((a.status, a.reason()), (401, "replayed_nonce"));
    let served = validator.metagraph(netuid).await.unwrap().neurons[usize::from(muid)].axon.unwrap();
    assert_eq!(served.socket_addr(), Some("127.0.0.1:8091".parse().unwrap()));

    // Hyperparameters: the owner only.
    let other = RemoteChain::connect(&url, [vcold.clone()]).await.unwrap();
    let e = other.set_hyperparams(&vcold.account_id(), netuid, hyper.clone()).await.unwrap_err();
    assert!(matches!(&e, ChainError::InvalidInput(m) if m.contains("not_owner")), "{e}");
    let cr = Hyperparams { commit_reveal_enabled: true, commit_reveal_period: 1, ..hyper };
    admin.set_hyperparams(&owner.account_id(), netuid, cr).await.unwrap();

    // Commit-reveal through the node (past the rate limit of the last set_weights).
    admin.advance_blocks(5).await.unwrap();
    let salt = [7u16, 8];
    let hash = commit_hash(&vhot.account_id(), netuid, &[muid], &[100], &salt, 0);
    validator.commit_weights(&vhot.account_id(), netuid, 0, hash).await.unwrap();
    assert_eq!(
        validator.reveal_weights(&vhot.account_id(), netuid, 0, &[muid], &[100], &salt, 0).await.unwrap_err(),
        ChainError::subtensor(SubtensorError::RevealTooEarly)
    );
    let mut revealed = false;
    for _ in 0..40 {
        admin.advance_blocks(1).await.unwrap();
        match validator.reveal_weights(&vhot.account_id(), netuid, 0, &[muid], &[100], &salt, 0).await {
            Ok(_) => {
                revealed = true;
                break;
            }
            Err(e) => assert!(e.is(SubtensorError::RevealTooEarly), "{e}"),
        }
    }
    assert!(revealed, "the reveal went through in the next epoch");
    assert_eq!(local.weights(netuid, vuid), vec![(muid, 65535)]);

    // Blocks are followed by long poll.
    let mut blocks = validator.subscribe_blocks();
    let target = local.block() + 3;
    admin.advance_blocks(3).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), blocks.wait_for(|b| *b >= target)).await.unwrap().unwrap();

    drop((admin, validator, other));
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_node_produces_blocks_and_refuses_fast_forward() {
    let local = Arc::new(LocalChain::in_memory());
    let (node, _) = node(local.clone(), Some(Duration::from_millis(50))).await;
    let chain = RemoteChain::connect(&node.url(), []).await.unwrap();
    let info = chain.info().await.unwrap();
    assert_eq!((info.block_time_ms, info.dev_advance), (Some(50), false));
    let mut blocks = chain.subscribe_blocks();
    tokio::time::timeout(Duration::from_secs(10), blocks.wait_for(|b| *b >= 3)).await.unwrap().unwrap();
    let e = chain.advance_blocks(100).await.unwrap_err();
    assert!(matches!(&e, ChainError::InvalidInput(m) if m.contains("timed_blocks")), "{e}");
    // A client with no keys is read-only.
    let e = chain.register(&key().account_id(), &key().account_id(), 1).await.unwrap_err();
    assert!(matches!(&e, ChainError::InvalidInput(m) if m.contains("read-only")), "{e}");
}
