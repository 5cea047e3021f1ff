//! Hostile input to a validator round (issue 14, items 6, 7 and 12), with real guests
//! (`examples/faulty-subnet`'s validator) on real wasmtime instances.
//!
//! Peak memory is measured in a child process running one test alone (this binary, `--exact`,
//! the `_child` test marked `#[ignore]` so a normal run skips it): VmHWM is per process, and
//! the parent shares its process with every other test running at the same time.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use subnet_chain::{AccountId, Metagraph, NeuronInfo};
use subnet_host::bindings::types::{MinerResponse, Payload, ResponseStatus};
use subnet_host::caps::kv::{BufferedKv, KvStore, MAX_WRITE_BYTES_PER_CALL, MemoryKv};
use subnet_host::caps::metagraph::MetagraphView;
use subnet_host::daemon::store::{StateDb, ValidatorRecord};
use subnet_host::runtime::{SubnetEnv, ValidatorModule};
use subnet_host::sim::{InProcessMiners, SimMiner};
use subnet_host::validator::state::ScoreState;
use subnet_host::validator::{MinerQuery, MinerTransport, RoundInput, RoundLimits, RoundOutcome, run_round};

const CHILD: &str = "SUBNETD_HOSTILE_CHILD";

fn metagraph(n: u16) -> Metagraph {
    let neuron = |uid: u16| NeuronInfo {
        stake: if uid == 0 { 10_000_000_000_000 } else { 0 },
        validator_permit: uid == 0,
        ..NeuronInfo::new(uid, hotkey(uid), AccountId([200; 32]))
    };
    Metagraph {
        netuid: 1,
        block: 1000,
        owner_coldkey: AccountId([200; 32]),
        owner_hotkey: None,
        neurons: (0..n).map(neuron).collect(),
    }
}

fn hotkey(uid: u16) -> AccountId {
    let mut key = [7u8; 32];
    key[..2].copy_from_slice(&uid.to_le_bytes());
    AccountId(key)
}

fn faulty(runtime: &subnet_host::runtime::Runtime) -> ValidatorModule {
    let built = common::bundle("examples/faulty-subnet");
    runtime.load_validator("faulty-subnet", &common::read(&built.validator)).expect("faulty validator")
}

/// The faulty validator's subnet in `mode`, its store `kv`.
fn subnet(mode: &str, kv: Arc<dyn KvStore>) -> Arc<SubnetEnv> {
    kv.set("faulty/mode", mode.as_bytes()).unwrap();
    let mut env = SubnetEnv::new("faulty");
    env.caps.kv = Some(kv);
    Arc::new(env)
}

async fn round(
    module: &ValidatorModule,
    subnet: &Arc<SubnetEnv>,
    metagraph: &Metagraph,
    transport: &dyn MinerTransport,
    limits: &RoundLimits,
) -> RoundOutcome {
    run_round(
        RoundInput {
            module,
            subnet,
            metagraph,
            validator: &metagraph.neurons[0].hotkey,
            epoch: 1,
            seed: 7,
            transport,
            limits,
        },
        &mut ScoreState::new(),
    )
    .await
    .expect("the round holds")
}

/// Peak resident memory of this process, KiB.
fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

/// Runs the ignored test `name` alone in a child process; returns the VmHWM it reported.
fn in_child(name: &str) -> u64 {
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([name, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("run the child test");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{name} failed:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    text.lines()
        .find_map(|l| l.split("VmHWM-KiB ").nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} reported no VmHWM:\n{text}"))
}

fn report_peak() {
    println!("VmHWM-KiB {}", vm_hwm_kib());
}

/// Miners over `inner`, except the `hostile` uids, which answer 16 MiB each (what the HTTP
/// transport accepts from a miner).
struct Oversized {
    inner: InProcessMiners,
    hostile: BTreeSet<u16>,
}

#[async_trait]
impl MinerTransport for Oversized {
    async fn query(&self, query: MinerQuery) -> MinerResponse {
        if !self.hostile.contains(&query.uid) {
            return self.inner.query(query).await;
        }
        MinerResponse {
            uid: query.uid,
            status: ResponseStatus::Ok,
            latency_ms: 1,
            payload: Some(Payload { content_type: "application/octet-stream".into(), body: vec![0x5a; 16 << 20] }),
        }
    }
}

fn random_miners(uids: impl Iterator<Item = u16>) -> InProcessMiners {
    let by_uid: BTreeMap<u16, SimMiner> = uids.map(|uid| (uid, SimMiner::Random)).collect();
    InProcessMiners::new(by_uid, Arc::new(SubnetEnv::new("miners")), Arc::new(MetagraphView::default()))
}

/// Item 6: 20 of 40 miners of one task answer 16 MiB each (320 MiB, more than the scorer's
/// 256 MiB). Each answer is capped at 64 MiB / 40 = 1.6 MiB: the 20 are `malformed`, the task
/// is scored and the 20 honest miners get their 0.5. Bound: the round's process peaks under
/// 1 GiB (8 queries in flight x 16 MiB, plus the runtime).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_answers_are_malformed_not_fatal() {
    common::bundle("examples/faulty-subnet");
    let peak = in_child("hostile::round::oversized_answers_child");
    assert!(peak < 1 << 20, "peak {peak} KiB, bound 1 GiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by oversized_answers_are_malformed_not_fatal in its own process"]
async fn oversized_answers_child() {
    let runtime = common::runtime();
    let module = faulty(&runtime);
    let metagraph = metagraph(41);
    let transport = Oversized { inner: random_miners(1..=40), hostile: (1..=20).collect() };
    let limits = RoundLimits { query_concurrency: 8, ..RoundLimits::default() };
    let outcome = round(&module, &subnet("all", MemoryKv::new(1 << 20)), &metagraph, &transport, &limits).await;
    let task = &outcome.tasks[0];
    assert_eq!(task.error, None, "the task is scored");
    for r in &task.responses {
        let expected = if r.uid <= 20 { ResponseStatus::Malformed } else { ResponseStatus::Ok };
        assert_eq!(r.status, expected, "uid {}", r.uid);
        assert!(r.uid > 20 || r.payload.is_none(), "an oversized answer is dropped");
    }
    for s in &task.scores {
        assert_eq!(s.score, 0.5, "uid {}: every answer the scorer saw scores 0.5", s.uid);
    }
    assert!(task.scores.iter().all(|s| s.uid <= 40));
    report_peak();
}

/// Item 7: one 8 MiB payload to 256 miners. Shared, the host holds it once; cloned per miner,
/// it held 2 GiB. Bound: the process peaks under 768 MiB. And a module asking for more than a
/// round's bounds (here 4 MiB x 256 > a 512 MiB send cap) is refused with `malformed` before
/// anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wide_payload_is_held_once() {
    common::bundle("examples/faulty-subnet");
    let peak = in_child("hostile::round::wide_payload_child");
    assert!(peak < 768 << 10, "peak {peak} KiB, bound 768 MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by a_wide_payload_is_held_once in its own process"]
async fn wide_payload_child() {
    let runtime = common::runtime();
    let module = faulty(&runtime);
    let metagraph = metagraph(257);
    let transport = random_miners(1..=256);
    let limits = RoundLimits::default();
    let outcome = round(&module, &subnet("wide", MemoryKv::new(1 << 20)), &metagraph, &transport, &limits).await;
    let task = &outcome.tasks[0];
    assert_eq!(task.responses.len(), 256);
    let statuses: BTreeSet<String> = task.responses.iter().map(|r| format!("{:?}", r.status)).collect();
    assert!(task.responses.iter().all(|r| r.status == ResponseStatus::Ok), "{statuses:?}");
    assert!(task.task.payload.body.len() >= 8 << 20, "the payload is back in the task after the fan-out");
    report_peak();

    let tight = RoundLimits { max_round_send_bytes: 512 << 20, ..RoundLimits::default() };
    let refused = run_round(
        RoundInput {
            module: &module,
            subnet: &subnet("wide", MemoryKv::new(1 << 20)),
            metagraph: &metagraph,
            validator: &metagraph.neurons[0].hotkey,
            epoch: 1,
            seed: 7,
            transport: &transport,
            limits: &tight,
        },
        &mut ScoreState::new(),
    )
    .await
    .expect_err("over the send cap");
    let text = refused.to_string();
    assert!(text.contains("generate-tasks") && text.contains("per round"), "{text}");
}

/// Item 12: a scorer looping `set(4 MiB)` 100 times gets at most 16 MiB written (the rest
/// `too-large`), its writes wait in the round's buffer, reach the daemon's database only with
/// the round's record, and a round that is not committed leaves the store as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_writes_are_bounded_and_wait_for_the_round() {
    let runtime = common::runtime();
    let module = faulty(&runtime);
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::open(dir.path()).unwrap();
    let store: Arc<dyn KvStore> = db.kv(1, 256 << 20);
    let base = subnet("kv-flood", store.clone());
    let metagraph = metagraph(3);
    let transport = random_miners(1..=2);
    let limits = RoundLimits::default();

    let (round_env, buffer) = base.buffer_round().unwrap();
    let buffer: Arc<BufferedKv> = buffer.expect("the store is granted");
    let started = std::time::Instant::now();
    let outcome = round(&module, &round_env, &metagraph, &transport, &limits).await;
    assert!(started.elapsed() < Duration::from_secs(60));
    let per_call = (MAX_WRITE_BYTES_PER_CALL / ((4 << 20) + 8)) as f64;
    for task in &outcome.tasks {
        assert_eq!(task.error, None);
        let writes = task.scores[0].metrics.iter().find(|m| m.name == "writes").expect("writes metric").value;
        assert!(writes >= 1.0 && writes <= per_call, "{writes} writes in one call, at most {per_call}");
    }
    assert_eq!(store.keys("flood/", 10).unwrap(), Vec::<String>::new(), "nothing reached the store yet");
    assert!(!buffer.keys("flood/", 10).unwrap().is_empty(), "the round's calls see their writes");

    // Not committed (a failed round): the buffer is dropped, the store is unchanged.
    drop(buffer);
    drop(round_env);
    assert_eq!(store.keys("flood/", 10).unwrap(), Vec::<String>::new());
    assert_eq!(db.validator(1).unwrap().rounds, 0);

    // Committed: record and writes land together.
    let (round_env, buffer) = base.buffer_round().unwrap();
    let buffer = buffer.unwrap();
    round(&module, &round_env, &metagraph, &transport, &limits).await;
    let record = ValidatorRecord { rounds: 1, ..Default::default() };
    db.commit_round(1, &record, &buffer.take_writes(), buffer.budget()).unwrap();
    assert_eq!(db.validator(1).unwrap().rounds, 1);
    assert!(!store.keys("flood/", 10).unwrap().is_empty());
}

/// Module outputs as untrusted input: the faulty validator in `chaos:<seed>` mode returns
/// seeded random values of every type the validator world returns (task ids, miner lists with
/// unknown and repeated uids, texts up to 64 KiB, any timeout; scores that are NaN, infinite,
/// negative or huge, for uids the task never went to, with random metrics; a random reward
/// state and weights; sometimes an error). Over 48 seeds, each round is a clean outcome or a
/// typed [`subnet_host::runtime::CallError`], never a panic, and what reaches the state and the
/// weights is clean: finite weights on known uids, finite running scores for known uids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_module_outputs_of_every_type_never_break_a_round() {
    let runtime = common::runtime();
    let module = faulty(&runtime);
    let metagraph = metagraph(9);
    let transport = random_miners(1..=8);
    let limits = RoundLimits::default();
    let (mut clean, mut refused) = (0, 0);
    for seed in 0..48u64 {
        let subnet = subnet(&format!("chaos:{seed}"), MemoryKv::new(1 << 20));
        let mut state = ScoreState::new();
        let input = RoundInput {
            module: &module,
            subnet: &subnet,
            metagraph: &metagraph,
            validator: &metagraph.neurons[0].hotkey,
            epoch: 1,
            seed,
            transport: &transport,
            limits: &limits,
        };
        match run_round(input, &mut state).await {
            Ok(outcome) => {
                clean += 1;
                for w in &outcome.weights {
                    assert!(w.value.is_finite() && w.value >= 0.0, "seed {seed}: weight {w:?}");
                    assert!(usize::from(w.uid) < metagraph.neurons.len(), "seed {seed}: weight on unknown uid {w:?}");
                }
                for s in &outcome.round_scores {
                    assert!(s.score.is_finite(), "seed {seed}: round score {s:?}");
                }
            }
            Err(e) => {
                refused += 1;
                assert!(!e.to_string().is_empty(), "seed {seed}: an error says why");
            }
        }
        for entry in state.entries() {
            assert!(entry.score.is_finite(), "seed {seed}: running score {entry:?}");
            assert!(usize::from(entry.uid) < metagraph.neurons.len(), "seed {seed}: state for unknown uid {entry:?}");
        }
    }
    eprintln!("chaos: {clean} rounds clean, {refused} refused with a typed error");
    assert!(clean > 0 && refused > 0, "the seeds reach both outcomes: {clean} clean, {refused} refused");
}
