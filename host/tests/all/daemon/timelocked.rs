//! Timelocked commit-reveal (v4) in a real `subnetd run` process on the embedded chain, as
//! today's network runs it: the subnet has two mechanisms and the daemon validates mechanism 1.
//! The daemon encrypts its weights to a drand round of the chain's beacon and commits them; the
//! chain decrypts and applies them in the reveal epoch. A SIGKILL between commit and reveal
//! loses nothing: the restarted daemon does not commit the same window again, and the reveal
//! (the chain's, not the daemon's) still happens.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use super::support::*;
use subnet_chain::Chain;
use subnet_chain::local::LocalChain;
use subnet_host::daemon::StateDb;

const NETUID: u16 = 2;

/// Commits per epoch of the validator, on mechanism `mecid`, in the chain at `state_dir`.
async fn stored_commits(state_dir: &std::path::Path, mecid: u8) -> (BTreeMap<u64, usize>, LocalChain) {
    let chain = LocalChain::open(state_dir.join("chain")).expect("the chain opens after the daemon stopped");
    let mut per_epoch = BTreeMap::new();
    for c in chain.timelocked_commits_now(NETUID, mecid, &validator_key().account_id()) {
        *per_epoch.entry(c.epoch).or_insert(0) += 1;
    }
    (per_epoch, chain)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mechanism_1_commits_timelocked_and_the_chain_reveals_across_a_kill_9() {
    let bundle = common::bundle("examples/hello-subnet");
    let fx = Fixture::new();
    std::fs::copy(&bundle.validator, fx.path("modules/validator.wasm")).unwrap();
    let config = fx.write_config(
        "60ms",
        &format!(
            r#"
[[subnet]]
netuid = {NETUID}
module = "modules/validator.wasm"
mechanism = 1
[subnet.tasks]
interval = "150ms"
[subnet.weights]
every_blocks = 4
[subnet.local]
tempo = 36
weights_rate_limit = 4
commit_reveal = true
mechanisms = 2
[subnet.local.miners]
module = "{miner}"
honest = 2
lazy = 1
"#,
            miner = bundle.miners[0].2.display()
        ),
    );
    let state_dir = fx.state_dir();
    let log = |n: usize| fx.path(&format!("daemon-{n}.log"));
    let mut daemon = DaemonProcess::start(&config, &state_dir, &log(0)).await;
    let committed = daemon
        .wait_for(NETUID.into(), "a timelocked commit", Duration::from_secs(120), |s| {
            s["weights_note"].as_str().is_some_and(|n| n.contains("timelocked to drand round"))
        })
        .await;
    daemon.kill9();

    // The commit is in the daemon's database and on the chain, once.
    let pending = StateDb::open(&state_dir)
        .unwrap()
        .commit(NETUID)
        .unwrap()
        .unwrap_or_else(|| panic!("a pending commit after the kill: {committed:#}"));
    let round = pending.reveal_round.expect("a timelocked commit names its drand round");
    assert_eq!(pending.uids.len(), 2, "the two honest miners: {pending:?}");
    let (per_epoch, chain) = stored_commits(&state_dir, 1).await;
    assert_eq!(per_epoch.values().copied().max(), Some(1), "one commit per epoch on chain: {per_epoch:?}");
    assert!(per_epoch.contains_key(&pending.epoch), "the recorded commit is stored: {per_epoch:?} {pending:?}");
    assert!(stored_commits_of(&chain, 0).is_empty(), "nothing committed for mechanism 0");
    let uid = chain.metagraph_now(NETUID).unwrap().uid_of(&validator_key().account_id()).unwrap();
    assert!(chain.weights_row(NETUID, 1, uid).await.unwrap().is_empty(), "not revealed before the restart");
    drop(chain);

    // Restarted, the daemon follows its commit; the chain reveals it in the reveal epoch.
    daemon = DaemonProcess::start(&config, &state_dir, &log(1)).await;
    let revealed =
        daemon.wait_for(NETUID.into(), "the reveal", Duration::from_secs(120), |s| !s["last_weights"].is_null()).await;
    assert!(
        daemon.metric("subnetd_weights_set_total", &[("subnet", "2"), ("outcome", "revealed")]).await >= 1.0,
        "{revealed:#}"
    );
    assert_eq!(daemon.metric("subnetd_weights_set_total", &[("subnet", "2"), ("outcome", "dropped")]).await, 0.0);
    assert_eq!(revealed["last_weights"]["uids"], serde_json::json!(pending.uids));
    daemon.terminate(Duration::from_secs(30));

    let (per_epoch, chain) = stored_commits(&state_dir, 1).await;
    assert!(per_epoch.values().all(|&n| n == 1), "never two commits for one epoch: {per_epoch:?}");
    assert!(!per_epoch.contains_key(&pending.epoch), "the revealed commit is gone from storage");
    let row = chain.weights_row(NETUID, 1, uid).await.unwrap();
    let expected: Vec<(u16, u16)> = pending.uids.iter().copied().zip(pending.weights.iter().copied()).collect();
    assert_eq!(row, expected, "mechanism 1's Weights row is the commit (drand round {round})");
    assert!(chain.weights_row(NETUID, 0, uid).await.unwrap().is_empty(), "mechanism 0's row is unchanged");
    assert!(stored_commits_of(&chain, 0).is_empty());
}

fn stored_commits_of(chain: &LocalChain, mecid: u8) -> Vec<subnet_chain::TimelockedCommit> {
    chain.timelocked_commits_now(NETUID, mecid, &validator_key().account_id())
}
