//! What today's calls do on a runtime from before them (spec 218 under Chopsticks): the epoch
//! schedule in the legacy model, hyperparameters of features it lacks at their defaults,
//! mechanisms and timelocked commits refused by name, the lists they would fill empty.

mod common;

use common::*;
use subnet_chain::epoch::DEFAULT_BLOCK_TIME_MS;
use subnet_chain::{Chain, ChainError, SubtensorError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_218_falls_back_cleanly() {
    let Some(Net { node: _node, chain, subnet }) = net(0).await else { return };
    let netuid = subnet.netuid;
    let alice = account("//Alice");
    assert_eq!(chain.spec_version().await.unwrap(), 218);

    // The schedule: no SubnetEpochIndex / LastEpochBlock, so the legacy formula.
    let s = chain.epoch_schedule(netuid).await.unwrap();
    let head = chain.current_block().await.unwrap();
    assert_eq!(s.block, head, "Chopsticks finalizes every block: best == finalized");
    assert_eq!(s.extrinsic_block, s.block + 1);
    assert_eq!((s.epoch_index, s.last_epoch_block, s.pending_epoch_at), (None, None, 0));
    assert_eq!((s.tempo, s.reveal_period_epochs), (30, 1), "spec 218's new-subnet tempo and reveal period");
    // The raonet test build runs 3 s slots (`Aura::SlotDuration` 3000 in its metadata), not
    // finney's 12 s default: the schedule takes the runtime's word.
    assert_eq!(s.block_time_ms, 3000, "Aura::SlotDuration of the spec");
    assert_ne!(s.block_time_ms, DEFAULT_BLOCK_TIME_MS);
    assert!(s.timestamp_ms.is_some_and(|t| t > 1_600_000_000_000), "Timestamp::Now: {:?}", s.timestamp_ms);
    let legacy = (s.block + 1 + u64::from(netuid) + 1) / 31;
    assert_eq!(s.epoch(), legacy);
    assert_eq!(s.first_block_of_epoch(legacy + 1), (legacy + 1) * 31 - (u64::from(netuid) + 1));

    // Hyperparameters it does not store read as the defaults; one mechanism.
    let h = chain.hyperparams(netuid).await.unwrap();
    assert_eq!((h.mechanism_count, h.mechanism_emission_split.clone(), h.commit_reveal_version), (1, None, 4));
    assert_eq!(chain.mechanism_metagraph(netuid, 0).await.unwrap(), chain.metagraph(netuid).await.unwrap());
    let e = chain.mechanism_metagraph(netuid, 1).await.unwrap_err();
    assert!(e.is(SubtensorError::MechanismDoesNotExist), "{e:?}");

    // Calls it lacks are refused before anything is sent, naming what is missing.
    let e = chain.set_weights(&alice, netuid, 1, &[1], &[1], 0).await.unwrap_err();
    assert!(matches!(&e, ChainError::InvalidInput(m) if m.contains("set_mechanism_weights")), "{e:?}");
    let e = chain.commit_weights(&alice, netuid, 1, [0; 32]).await.unwrap_err();
    assert!(matches!(&e, ChainError::InvalidInput(m) if m.contains("commit_mechanism_weights")), "{e:?}");
    let e = chain.commit_timelocked_weights(&alice, netuid, 0, &[1, 2, 3], 1000, 4).await.unwrap_err();
    assert!(
        matches!(&e, ChainError::InvalidInput(m) if m.contains("commit_timelocked_mechanism_weights")
            && m.contains("commit_crv3_weights") && m.contains("spec 218")),
        "{e:?}"
    );

    assert_eq!(chain.last_stored_round().await.unwrap(), None, "no drand pallet");
    // Reads it cannot serve are empty; the main mechanism's rows are the plain ones.
    assert!(chain.timelocked_commits(netuid, 0, &alice).await.unwrap().is_empty());
    chain.set_weights(&alice, netuid, 0, &[1, 2], &[1, 3], 0).await.unwrap();
    assert_eq!(chain.weights_row(netuid, 0, 0).await.unwrap(), [(1, 21845), (2, 65535)]);
    assert!(chain.weights_row(netuid, 1, 0).await.unwrap_err().is(SubtensorError::MechanismDoesNotExist));
}
