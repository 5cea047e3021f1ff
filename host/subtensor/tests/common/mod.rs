//! Shared set-up of the tests against the real subtensor runtime: a Chopsticks devnet running
//! the shared chain spec, a [`SubtensorChain`] on it, and a subnet owned by //Alice with //Bob
//! and //Charlie registered. When the spec or Chopsticks is absent the tests say so and pass.

#![allow(dead_code)]

use std::time::Duration;

use subnet_chain::{AccountId, Chain};
use subnet_keys::Keypair;
use subnet_subtensor::devnet::{DevSubnet, Devnet, DevnetOptions, accounts, setup_subnet};
use subnet_subtensor::{Endpoint, SubtensorChain, SubtensorOptions};

/// A devnet, the chain on it and a set-up subnet.
pub struct Net {
    pub node: Devnet,
    pub chain: SubtensorChain,
    pub subnet: DevSubnet,
}

/// The devnet, or `None` (after saying why) when its files are absent.
pub async fn devnet(options: DevnetOptions) -> Option<Devnet> {
    let parts = match Devnet::locate() {
        Ok(p) => p,
        Err(e) => {
            let test = std::thread::current().name().unwrap_or("test").to_owned();
            subnet_subtensor::devnet::report_skip(&test, &e);
            return None;
        }
    };
    Some(Devnet::start(parts, options).await.unwrap_or_else(|e| panic!("starting the devnet: {e}")))
}

pub fn keys() -> Vec<Keypair> {
    vec![accounts::alice(), accounts::bob(), accounts::charlie(), accounts::dev("//Dave"), accounts::dev("//Ferdie")]
}

pub fn account(uri: &str) -> AccountId {
    accounts::dev(uri).account_id()
}

pub async fn connect(node: &Devnet) -> SubtensorChain {
    let options = SubtensorOptions { extrinsic_timeout: Duration::from_secs(60), ..SubtensorOptions::default() };
    SubtensorChain::connect(Endpoint::Url(node.url()), keys(), options).await.expect("connecting to the devnet")
}

/// A devnet with a subnet of three neurons (Alice uid 0, Bob uid 1, Charlie uid 2) and the
/// given weights rate limit.
pub async fn net(weights_rate_limit: u64) -> Option<Net> {
    let node = devnet(DevnetOptions::default()).await?;
    let chain = connect(&node).await;
    let subnet = setup_subnet(&node, &chain, &[account("//Bob"), account("//Charlie")], weights_rate_limit)
        .await
        .unwrap_or_else(|e| panic!("setting up the subnet: {e}\n{}", node.log_tail()));
    Some(Net { node, chain, subnet })
}

/// Waits until `chain` follows a finalized block at or past `block`.
pub async fn wait_for_block(chain: &SubtensorChain, block: u64) -> u64 {
    let mut rx = chain.subscribe_blocks();
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let now = *rx.borrow_and_update();
            if now >= block {
                return now;
            }
            rx.changed().await.expect("the block follower stopped");
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no finalized block {block} within 30 s"))
}
