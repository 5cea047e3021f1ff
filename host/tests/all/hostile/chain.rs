//! A chain node that sends a metagraph whose uids are not `0..n` in order (issue 14 item 11):
//! the client refuses it on receipt with a typed error instead of handing a subnet loop data
//! whose indexing by uid would panic.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use subnet_chain::local::LocalChain;
use subnet_chain::{AccountId, Chain, ChainError, Metagraph};
use subnet_host::node::RemoteChain;

fn key(b: u8) -> AccountId {
    AccountId([b; 32])
}

/// A real metagraph of three neurons from the embedded chain.
fn metagraph() -> Metagraph {
    let chain = LocalChain::in_memory();
    let netuid = chain.create_subnet(&key(9), None).unwrap();
    for i in 1..=3 {
        chain.register_now(&key(i), &key(i + 10), netuid).unwrap();
    }
    chain.metagraph_now(netuid).unwrap()
}

/// Serves `/v1/chain/info` and `/v1/chain/block` honestly and `metagraph` for subnet 1.
async fn hostile_node(metagraph: Metagraph) -> String {
    let info =
        serde_json::json!({ "node": key(7), "block": metagraph.block, "block_time_ms": null, "dev_advance": false });
    let block = serde_json::json!({ "block": metagraph.block });
    let metagraph = Arc::new(metagraph);
    let app = Router::new()
        .route("/v1/chain/info", get(move || async move { axum::Json(info) }))
        .route("/v1/chain/block", get(move || async move { axum::Json(block) }))
        .route(
            "/v1/chain/subnets/1/metagraph",
            get(move || {
                let m = metagraph.clone();
                async move { axum::Json((*m).clone()) }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metagraph_with_holes_or_shuffled_uids_is_refused_on_receipt() {
    let honest = metagraph();
    assert!(honest.check_dense().is_ok());
    let url = hostile_node(honest.clone()).await;
    let chain = RemoteChain::connect(&url, []).await.unwrap();
    assert_eq!(chain.metagraph(1).await.unwrap().neurons.len(), 3, "an honest metagraph passes");

    let mut shuffled = honest.clone();
    shuffled.neurons.swap(0, 2);
    let mut holes = honest.clone();
    holes.neurons[1].uid = 40_000;
    for (what, bad) in [("shuffled", shuffled), ("holes", holes)] {
        let url = hostile_node(bad).await;
        let chain = RemoteChain::connect(&url, []).await.unwrap();
        match chain.metagraph(1).await {
            Err(ChainError::Malformed(message)) => assert!(message.contains("not dense"), "{what}: {message}"),
            other => panic!("{what}: a non-dense metagraph must be refused, got {other:?}"),
        }
    }
}
