//! Commit-reveal v2 in the daemon, on the embedded chain: on a chain whose
//! `CommitRevealWeightsVersion` is not 4 (a runtime without timelocked commits) the daemon
//! commits its weights as a hash (the salt kept in its database), reveals them in the next
//! epoch, and keeps doing so; the chain accepts every reveal (a wrong hash or window would be
//! refused by name). Timelocked (v4) commits are in `timelocked.rs`.

use crate::common;

use std::time::{Duration, Instant};

use super::support::*;
use subnet_host::daemon::client::metric_value;
use subnet_host::daemon::store::StateDb;
use subnet_host::daemon::{Daemon, DaemonConfig, DaemonOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_then_reveals_in_the_next_epoch() {
    let hello = common::bundle("examples/hello-subnet");
    let fx = Fixture::new();
    std::fs::copy(&hello.validator, fx.path("modules/hello.wasm")).unwrap();
    let miner = hello.miners[0].2.display().to_string();
    let subnets = format!(
        r#"
[[subnet]]
netuid = 1
module = "modules/hello.wasm"
[subnet.tasks]
interval = "100ms"
[subnet.weights]
every_blocks = 4
[subnet.local]
tempo = 9
weights_rate_limit = 4
commit_reveal = true
commit_reveal_version = 3
[subnet.local.miners]
module = "{miner}"
honest = 2
"#
    );
    let path = fx.write_config("50ms", &subnets);
    let daemon = Daemon::start(
        DaemonConfig::load(&path).unwrap(),
        DaemonOptions { hotkey: Some(validator_key()), ..Default::default() },
    )
    .await
    .expect("daemon starts");
    let count = |outcome: &str| {
        metric_value(&daemon.metrics().encode(), "subnetd_weights_set_total", &[("subnet", "1"), ("outcome", outcome)])
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    let started = Instant::now();
    let mut last_note = None;
    while count("revealed") < 2.0 {
        let s = daemon.subnet(1).unwrap().status();
        if s.weights_note != last_note {
            eprintln!(
                "{:?} block {:?}: {:?}",
                started.elapsed(),
                s.last_round.as_ref().map(|r| r.block),
                s.weights_note
            );
            last_note = s.weights_note.clone();
        }
        assert!(Instant::now() < deadline, "no two reveals: {:?} {:#?}", s.weights_note, s.last_round);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = daemon.subnet(1).unwrap().status();
    assert_eq!(count("rejected"), 0.0, "every commit and reveal was accepted: {:?}", status.weights_note);
    assert!(count("committed") >= 2.0);
    let revealed = status.last_weights.expect("revealed weights are the last weights");
    assert_eq!(revealed.uids.len(), 2, "both honest miners weighted");
    assert!(revealed.weights.iter().all(|&w| w == 65535), "{revealed:?}");
    // Revealed weights moved the chain: the miners earn incentive.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = daemon.subnet(1).unwrap().chain.metagraph(1).await.unwrap();
        if revealed.uids.iter().all(|&u| m.neurons[usize::from(u)].incentive > 0) {
            break;
        }
        assert!(Instant::now() < deadline, "no incentive from revealed weights");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    daemon.shutdown().await;
    // Whatever commit was pending at shutdown is in the database, ready for the next start.
    let db = StateDb::open(&fx.state_dir()).unwrap();
    if let Some(pending) = db.commit(1).unwrap() {
        assert_eq!(pending.salt.len(), 8);
        assert_eq!(
            pending.hash,
            subnet_chain::commit_hash(
                &validator_key().account_id(),
                1,
                &pending.uids,
                &pending.weights,
                &pending.salt,
                pending.version_key
            )
        );
    }
}
