//! Figures of the subtensor backend against the real runtime under Chopsticks (loopback):
//! metagraph and hyperparameter reads as the subnet grows, `set_weights` to finality, and the
//! time to reconnect after the node restarts. Prints a table; skips (saying why) without the
//! chain spec or Chopsticks. `cargo bench -p subnet-subtensor --bench devnet`.

use std::time::{Duration, Instant};

use subnet_chain::Chain;
use subnet_subtensor::devnet::{Devnet, DevnetOptions, accounts, fund, setup_subnet};
use subnet_subtensor::{Endpoint, SubtensorChain, SubtensorOptions};

async fn time<T, F: std::future::Future<Output = T>>(runs: u32, mut f: impl FnMut() -> F) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        f().await;
        best = best.min(t.elapsed());
    }
    best
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let parts = match Devnet::locate() {
        Ok(p) => p,
        Err(e) => return eprintln!("SKIPPED: {e}"),
    };
    let db = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let mut node = Devnet::start(parts, DevnetOptions { db: Some(db.path().join("c.sqlite")), port: None })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    println!("devnet start                          {:>9.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let extra: Vec<_> = (0..29).map(|i| accounts::dev(&format!("//Neuron{i}"))).collect();
    let mut keys = vec![accounts::alice(), accounts::bob(), accounts::charlie()];
    keys.extend(extra.iter().cloned());
    let t = Instant::now();
    let chain = SubtensorChain::connect(Endpoint::Url(node.url()), keys, SubtensorOptions::default()).await.unwrap();
    println!("connect                               {:>9.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let subnet = setup_subnet(&node, &chain, &[accounts::bob().account_id(), accounts::charlie().account_id()], 0)
        .await
        .unwrap();
    let netuid = subnet.netuid;
    let alice = accounts::alice().account_id();

    let n3 = time(5, || chain.metagraph(netuid)).await;
    println!("metagraph, 3 neurons                  {:>9.1} ms", n3.as_secs_f64() * 1e3);
    let ids: Vec<_> = extra.iter().map(|k| k.account_id()).collect();
    let args = vec![subnet_subtensor::CallArg::U16(netuid), subnet_subtensor::CallArg::U16(100)];
    chain.sudo_admin(&alice, "sudo_set_target_registrations_per_interval", args).await.unwrap();
    fund(&node, &ids).await.unwrap();
    let t = Instant::now();
    for id in &ids {
        chain.register(id, id, netuid).await.unwrap();
    }
    println!("burned_register to finality (each)    {:>9.1} ms", t.elapsed().as_secs_f64() * 1e3 / ids.len() as f64);
    let n32 = time(5, || chain.metagraph(netuid)).await;
    println!("metagraph, 32 neurons                 {:>9.1} ms", n32.as_secs_f64() * 1e3);
    let hp = time(5, || chain.hyperparams(netuid)).await;
    println!("hyperparams                           {:>9.1} ms", hp.as_secs_f64() * 1e3);
    let st = time(3, || chain.subnet_state(netuid)).await;
    println!("subnet_state (metagraph + rows), 32   {:>9.1} ms", st.as_secs_f64() * 1e3);
    let uids: Vec<u16> = (1..32).collect();
    let mut k = 0u16;
    let sw = time(5, || {
        k += 1;
        let values: Vec<u16> = uids.iter().map(|u| u.wrapping_mul(k) % 1000 + 1).collect();
        let uids = uids.clone();
        let chain = &chain;
        async move { chain.set_weights(&alice, netuid, 0, &uids, &values, 0).await.unwrap() }
    })
    .await;
    println!("set_weights 31 uids, to finality      {:>9.1} ms", sw.as_secs_f64() * 1e3);
    let e = chain.set_weights(&alice, netuid, 0, &[1, 1], &[1, 1], 0).await.unwrap_err();
    let bad = time(5, || chain.set_weights(&alice, netuid, 0, &[1, 1], &[1, 1], 0)).await;
    println!("set_weights refused ({})    {:>9.1} ms", e.module_name().unwrap_or("?"), bad.as_secs_f64() * 1e3);

    node.kill();
    while chain.is_connected() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    node.restart().await.unwrap();
    let t = Instant::now();
    while !chain.is_connected() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("reconnect after the node answers      {:>9.1} ms", t.elapsed().as_secs_f64() * 1e3);
}
