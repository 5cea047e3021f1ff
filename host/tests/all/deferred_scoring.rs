//! Deferred scoring and abstentions (contract 0.1.2) through real guests
//! (`guests/deferred-probe` with the Rust SDK, `guests/py-deferred` with the Python SDK) over hello-subnet's miners in-process: a deferred task
//! scores nothing in its round and is scored the next; miners abstained from get no score (not
//! 0), so the EMA leaves them as they were; the kept task survives in the state between rounds
//! (and through its serialisation, as the daemon saves it).

use crate::common;

use std::collections::BTreeMap;
use std::sync::Arc;

use subnet_chain::{AccountId, Metagraph, NeuronInfo};
use subnet_host::caps::metagraph::MetagraphView;
use subnet_host::runtime::SubnetEnv;
use subnet_host::sim::{InProcessMiners, SimMiner};
use subnet_host::validator::state::ScoreState;
use subnet_host::validator::{RoundInput, RoundLimits, RoundOutcome, run_round};

fn metagraph(n: u16) -> Metagraph {
    let neuron = |uid: u16| NeuronInfo {
        stake: if uid == 0 { 10_000_000_000_000 } else { 0 },
        validator_permit: uid == 0,
        ..NeuronInfo::new(uid, AccountId([uid as u8 + 1; 32]), AccountId([200; 32]))
    };
    Metagraph {
        netuid: 1,
        block: 1000,
        owner_coldkey: AccountId([200; 32]),
        owner_hotkey: None,
        neurons: (0..n).map(neuron).collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_tasks_score_a_round_later_and_abstentions_leave_the_ema_alone() {
    three_rounds("host/tests/all/guests/deferred-probe").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_defers_and_abstains_alike() {
    three_rounds("host/tests/all/guests/py-deferred").await;
}

/// Three rounds of the probe at `guest` (the same logic in each SDK).
async fn three_rounds(guest: &str) {
    let runtime = common::runtime();
    let module = runtime.load_validator(guest, &common::read(&common::bundle(guest).validator)).unwrap();
    assert!(module.can_defer(), "{guest} exports deferred-scorer");
    let hello = common::bundle("examples/hello-subnet");
    let honest = runtime.load_miner("honest", &common::read(&hello.miners[0].2)).unwrap();
    let mut by_uid = BTreeMap::new();
    by_uid.insert(1, SimMiner::Module(honest.clone()));
    by_uid.insert(2, SimMiner::Module(honest));
    by_uid.insert(3, SimMiner::Lazy);
    by_uid.insert(4, SimMiner::Random);
    let transport =
        InProcessMiners::new(by_uid, Arc::new(SubnetEnv::new("miners")), Arc::new(MetagraphView::default()));
    let metagraph = metagraph(5);
    let subnet = Arc::new(SubnetEnv::new("deferred"));
    let limits = RoundLimits::default();
    let validator = metagraph.neurons[0].hotkey;
    let mut state = ScoreState::new();
    let round = async |epoch: u64, state: &mut ScoreState| -> RoundOutcome {
        let input = RoundInput {
            module: &module,
            subnet: &subnet,
            metagraph: &metagraph,
            validator: &validator,
            epoch,
            seed: 7 + epoch,
            transport: &transport,
            limits: &limits,
        };
        run_round(input, state).await.expect("round")
    };
    let score_of = |o: &RoundOutcome, uid: u16| o.round_scores.iter().find(|s| s.uid == uid).map(|s| s.score);

    // Epoch 0: the task is kept, nobody is scored.
    let first = round(0, &mut state).await;
    assert!(first.round_scores.is_empty(), "{:?}", first.round_scores);
    assert_eq!(first.tasks[0].deferred.as_deref(), Some("predict-0"), "{:?}", first.tasks[0].error);
    assert_eq!(first.tasks[0].abstained, vec![1, 2, 3, 4]);
    assert_eq!(state.deferred.len(), 1);
    // The daemon saves the state as JSON between rounds: the kept task goes with it.
    let mut state: ScoreState = serde_json::from_slice(&serde_json::to_vec(&state).unwrap()).unwrap();
    assert_eq!(state.deferred.len(), 1);

    // Epoch 1: epoch 0's task is scored (age 1) alongside epoch 1's own.
    let second = round(1, &mut state).await;
    assert_eq!(state.deferred.len(), 0);
    let from_store = second.tasks.iter().find(|t| t.deferred.as_deref() == Some("predict-0")).expect("scored");
    assert_eq!(from_store.abstained, vec![3], "the lazy miner is abstained from");
    assert_eq!(score_of(&second, 1), Some(1.0));
    assert_eq!(score_of(&second, 2), Some(1.0));
    assert_eq!(score_of(&second, 4), Some(0.0), "a wrong answer scores 0");
    assert_eq!(score_of(&second, 3), None, "an abstention is not a 0");
    assert!(state.get(3).is_none(), "no running score for a uid only ever abstained from");
    let after = state.get(1).unwrap().score;
    assert!((after - 0.1).abs() < 1e-12, "{after}");

    // Epoch 2: deferred again; an empty round leaves every running score where it was.
    let third = round(2, &mut state).await;
    assert!(third.round_scores.is_empty());
    assert_eq!(state.get(1).unwrap().score, after);
    assert_eq!(state.deferred.len(), 1);
}

#[test]
fn kept_tasks_expire_after_their_rounds() {
    use subnet_host::bindings::types::{Payload, Task};
    use subnet_host::validator::deferred::DeferredQueue;
    let task = Task {
        id: "t".into(),
        miners: vec![1],
        payload: Payload { content_type: "text/plain".into(), body: b"x".to_vec() },
        timeout_ms: 1,
    };
    let mut q = DeferredQueue::default();
    q.keep("a".into(), 1, &task, &[]).unwrap();
    q.keep("b".into(), 2, &task, &[]).unwrap();
    q.keep("b".into(), 2, &task, &[]).unwrap();
    assert_eq!(q.len(), 2, "a key holds one task");
    assert!(q.age().is_empty());
    assert_eq!(q.age(), vec!["a".to_owned()]);
    assert_eq!(q.age(), vec!["b".to_owned()]);
    assert!(q.is_empty());
}
