//! One validator round over in-process miners: statuses, scores, the running state, and how
//! malformed scores from a module are contained. Real guests from `examples/`.

use crate::common;

use std::collections::BTreeMap;
use std::sync::Arc;

use subnet_chain::{AccountId, Metagraph, NeuronInfo};
use subnet_host::bindings::types::ResponseStatus;
use subnet_host::caps::kv::{KvStore, MemoryKv};
use subnet_host::caps::metagraph::MetagraphView;
use subnet_host::runtime::SubnetEnv;
use subnet_host::sim::{InProcessMiners, SimMiner};
use subnet_host::validator::state::ScoreState;
use subnet_host::validator::{RoundInput, RoundLimits, run_round};
use subnet_host::weights::chain_weights;

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

fn miners(runtime: &subnet_host::runtime::Runtime) -> InProcessMiners {
    let built = common::bundle("examples/hello-subnet");
    let (_, _, path) = &built.miners[0];
    let honest = runtime.load_miner("honest", &common::read(path)).expect("miner");
    let mut by_uid = BTreeMap::new();
    by_uid.insert(1, SimMiner::Module(honest.clone()));
    by_uid.insert(2, SimMiner::Module(honest));
    by_uid.insert(3, SimMiner::Lazy);
    by_uid.insert(4, SimMiner::Random);
    // uid 5 is registered but serves nothing.
    InProcessMiners::new(by_uid, Arc::new(SubnetEnv::new("miners")), Arc::new(MetagraphView::default()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_miners_score_and_the_rest_do_not() {
    let runtime = common::runtime();
    let built = common::bundle("examples/hello-subnet");
    let module = runtime.load_validator("hello", &common::read(&built.validator)).unwrap();
    let transport = miners(&runtime);
    let metagraph = metagraph(6);
    let subnet = Arc::new(SubnetEnv::new("hello"));
    let limits = RoundLimits::default();
    let mut state = ScoreState::new();
    let validator = metagraph.neurons[0].hotkey;
    let mut last = None;
    for epoch in 0..3 {
        let outcome = run_round(
            RoundInput {
                module: &module,
                subnet: &subnet,
                metagraph: &metagraph,
                validator: &validator,
                epoch,
                seed: 42 + epoch,
                transport: &transport,
                limits: &limits,
            },
            &mut state,
        )
        .await
        .expect("round");
        assert_eq!(outcome.tasks.len(), 5, "one task per non-validator uid");
        let status_of =
            |uid: u16| outcome.tasks.iter().flat_map(|t| &t.responses).find(|r| r.uid == uid).map(|r| r.status);
        assert_eq!(status_of(1), Some(ResponseStatus::Ok));
        assert_eq!(status_of(3), Some(ResponseStatus::Timeout));
        assert_eq!(status_of(4), Some(ResponseStatus::Ok));
        assert_eq!(status_of(5), Some(ResponseStatus::Refused));
        let score_of = |uid: u16| outcome.round_scores.iter().find(|s| s.uid == uid).map(|s| s.score);
        assert_eq!(score_of(1), Some(1.0));
        assert_eq!(score_of(2), Some(1.0));
        assert_eq!(score_of(3), Some(0.0));
        assert_eq!(score_of(4), Some(0.0), "a random number is not the double");
        assert_eq!(score_of(5), Some(0.0));
        last = Some(outcome);
    }
    // EMA with alpha 0.1 over three perfect rounds: 1 - 0.9^3.
    let entry = state.get(1).expect("state for uid 1");
    assert!((entry.score - 0.271).abs() < 1e-12, "{}", entry.score);
    assert_eq!(entry.rounds, 3);
    assert_eq!(entry.hotkey, metagraph.neurons[1].hotkey.to_ss58());
    let (uids, weights) = chain_weights(&last.unwrap().weights, 6, &subnet_chain::Hyperparams::default(), 0).unwrap();
    assert_eq!(uids, vec![1, 2]);
    assert_eq!(weights, vec![65535, 65535]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_scores_lose_the_task_not_the_round() {
    let runtime = common::runtime();
    let built = common::bundle("examples/faulty-subnet");
    let module = runtime.load_validator("faulty-subnet", &common::read(&built.validator)).unwrap();
    let transport = miners(&runtime);
    let metagraph = metagraph(3);
    let limits = RoundLimits::default();
    let validator = metagraph.neurons[0].hotkey;
    for mode in ["bad-uid", "nan", "error"] {
        let kv = MemoryKv::new(1 << 20);
        kv.set("faulty/mode", mode.as_bytes()).unwrap();
        let mut faulty = SubnetEnv::new("faulty");
        faulty.caps.kv = Some(kv);
        let subnet = Arc::new(faulty);
        let mut state = ScoreState::new();
        let outcome = run_round(
            RoundInput {
                module: &module,
                subnet: &subnet,
                metagraph: &metagraph,
                validator: &validator,
                epoch: 1,
                seed: 1,
                transport: &transport,
                limits: &limits,
            },
            &mut state,
        )
        .await
        .expect("the round survives a bad scorer");
        assert_eq!(outcome.tasks.len(), 2);
        for task in &outcome.tasks {
            let error = task.error.as_deref().expect("the task's scores are refused");
            assert!(error.contains("faulty-subnet") && error.contains("score"), "{error}");
            if mode != "error" {
                assert!(error.contains("malformed"), "{error}");
            }
        }
        assert!(outcome.round_scores.is_empty());
    }
}
