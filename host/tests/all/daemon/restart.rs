//! Durability with a real `subnetd run` process: SIGKILL it right after it committed a round,
//! several times, and check that the database holds exactly what the daemon reported before
//! the kill (score state and last weights), that the embedded chain agrees on the weights, and
//! that the restarted daemon resumes from that state and carries on.

use crate::common;

use std::time::Duration;

use super::support::*;
use subnet_chain::local::LocalChain;
use subnet_host::daemon::StateDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_nothing_committed_and_restart_resumes() {
    let bundle = common::bundle("examples/hello-subnet");
    let fx = Fixture::new();
    std::fs::copy(&bundle.validator, fx.path("modules/validator.wasm")).unwrap();
    let config = fx.write_config(
        "20ms",
        &format!(
            r#"
[[subnet]]
netuid = 3
module = "modules/validator.wasm"
[subnet.tasks]
interval = "300ms"
[subnet.weights]
every_blocks = 10
[subnet.local]
tempo = 20
weights_rate_limit = 5
[subnet.local.miners]
module = "{miner}"
honest = 3
lazy = 1
random = 1
"#,
            miner = bundle.miners[0].2.display()
        ),
    );
    let state_dir = fx.state_dir();
    let log = |n: usize| fx.path(&format!("daemon-{n}.log"));
    let mut daemon = DaemonProcess::start(&config, &state_dir, &log(0)).await;
    daemon
        .wait_for(3, "rounds and weights", Duration::from_secs(90), |s| {
            s["state"]["rounds"].as_u64() >= Some(3) && !s["last_weights"].is_null()
        })
        .await;

    let mut exact = 0;
    for kill in 1..=3 {
        // Kill just after a fresh commit, so the status read and the kill see the same commit.
        let before = daemon.subnet(3).await;
        let seen = before["state"]["rounds"].as_u64().unwrap();
        let observed = daemon
            .wait_for(3, "the next committed round", Duration::from_secs(30), |s| {
                s["state"]["rounds"].as_u64() > Some(seen)
            })
            .await;
        daemon.kill9();

        let db = StateDb::open(&state_dir).expect("the database opens after kill -9");
        let record = db.validator(3).unwrap();
        let weights = db.weights(3).unwrap().expect("weights were recorded");
        drop(db);
        let observed_rounds = observed["state"]["rounds"].as_u64().unwrap();
        assert!(
            record.rounds == observed_rounds || record.rounds == observed_rounds + 1,
            "kill {kill}: the database has round {} after the daemon reported {observed_rounds}",
            record.rounds
        );
        let observed_weights: subnet_host::daemon::WeightsRecord =
            serde_json::from_value(observed["last_weights"].clone()).unwrap();
        assert!(weights.block >= observed_weights.block, "kill {kill}: weights went back in time");
        if record.rounds == observed_rounds {
            exact += 1;
            assert_eq!(serde_json::to_value(&record).unwrap(), observed["state"], "kill {kill}: score state");
            if weights.block == observed_weights.block {
                assert_eq!(weights, observed_weights, "kill {kill}: last weights");
            }
        }
        assert!(record.scores.entries().count() >= 3, "kill {kill}: scores per uid: {record:?}");

        // The chain (its own database, in the same state directory) holds the recorded weights.
        {
            let chain = LocalChain::open(state_dir.join("chain")).expect("the chain opens after kill -9");
            let metagraph = chain.metagraph_now(3).unwrap();
            let uid = metagraph.uid_of(&validator_key().account_id()).unwrap();
            let row = chain.weights(3, uid);
            if metagraph.neurons[usize::from(uid)].last_update == weights.block {
                let recorded: Vec<(u16, u16)> =
                    weights.uids.iter().copied().zip(weights.weights.iter().copied()).collect();
                assert_eq!(row, recorded, "kill {kill}: chain weights");
            } else {
                // Killed between set_weights and the daemon's own commit: the chain is ahead.
                assert!(metagraph.neurons[usize::from(uid)].last_update > weights.block);
            }
        }

        daemon = DaemonProcess::start(&config, &state_dir, &log(kill)).await;
        let resumed = daemon.subnet(3).await;
        assert_eq!(resumed["resumed"], serde_json::to_value(&record).unwrap(), "kill {kill}: resumed state");
        assert_eq!(resumed["resumed_weights"], serde_json::to_value(&weights).unwrap(), "kill {kill}: resumed weights");
        let carried_on = daemon
            .wait_for(3, "rounds after the restart", Duration::from_secs(60), |s| {
                s["state"]["rounds"].as_u64() > Some(record.rounds)
            })
            .await;
        assert_eq!(carried_on["rounds_failed"], 0, "kill {kill}: {carried_on:#}");
        assert!(daemon.log_text().contains("resuming from committed state"));
    }
    assert!(exact >= 1, "at least one kill landed between commits");

    // Kills at arbitrary moments (mid-round, mid-weights): whatever the database holds is
    // never older than what the daemon reported, and is exactly what the next start resumes.
    for (kill, delay_ms) in [(4usize, 0u64), (5, 137), (6, 251)] {
        let reported = daemon.subnet(3).await["state"]["rounds"].as_u64().unwrap();
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        daemon.kill9();
        let db = StateDb::open(&state_dir).expect("the database opens after kill -9");
        let record = db.validator(3).unwrap();
        let weights = db.weights(3).unwrap();
        drop(db);
        assert!(record.rounds >= reported, "kill {kill}: {} < {reported}", record.rounds);
        daemon = DaemonProcess::start(&config, &state_dir, &log(kill)).await;
        let resumed = daemon.subnet(3).await;
        assert_eq!(resumed["resumed"], serde_json::to_value(&record).unwrap(), "kill {kill}");
        assert_eq!(resumed["resumed_weights"], serde_json::to_value(&weights).unwrap(), "kill {kill}");
        daemon
            .wait_for(3, "rounds after the restart", Duration::from_secs(60), |s| {
                s["state"]["rounds"].as_u64() > Some(record.rounds)
            })
            .await;
    }

    let last = daemon.subnet(3).await;
    let honest: Vec<f64> =
        (1..=3).filter_map(|uid| last["state"]["scores"]["entries"][uid.to_string()]["score"].as_f64()).collect();
    assert_eq!(honest.len(), 3, "{last:#}");
    assert!(honest.iter().all(|s| *s > 0.0), "honest miners keep their running scores across restarts: {last:#}");
    assert_eq!(daemon.terminate(Duration::from_secs(60)), Some(0));
}
