//! The compute subnet (subnets/compute) with its real modules: the sandbox acceptance (honest
//! multipliers earn, guessers and stale caches earn nothing), the miner against an independent
//! implementation of the published specification, Freivalds' check catching a single wrong
//! entry, bad answers, and the market-rate score.

use crate::common;

use std::sync::Arc;

use subnet_host::bindings::types::{
    EpochContext, MinerRequest, MinerResponse, Payload, ResponseStatus, Task, UidScore,
};
use subnet_host::caps::metagraph::MetagraphView;
use subnet_host::runtime::CallEnv;
use subnet_host::runtime::{MinerModule, ValidatorModule};
use subnet_host::sandbox::SandboxConfig;

const BUNDLE: &str = "subnets/compute";

/// The specification in subnets/compute/README.md, written again here from the text, so the
/// modules are checked against the document and not against their own code.
mod spec {
    pub const P: u64 = (1 << 31) - 1;
    const GAMMA: u64 = 0x9e3779b97f4a7c15;

    /// Output `k` (1-based) of SplitMix64 seeded with `seed`.
    pub fn splitmix(seed: u64, k: u64) -> u64 {
        let mut z = seed.wrapping_add(GAMMA.wrapping_mul(k));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }

    /// `C = A·B mod p`, row-major, summed in u128.
    pub fn product(seed: u64, n: usize) -> Vec<u32> {
        let a = |i: usize, j: usize| u128::from(splitmix(seed, 2 * (i * n + j) as u64 + 1) % P);
        let b = |i: usize, j: usize| u128::from(splitmix(seed, 2 * (i * n + j) as u64 + 2) % P);
        let (a, b): (Vec<u128>, Vec<u128>) = (0..n * n).map(|x| (a(x / n, x % n), b(x / n, x % n))).unzip();
        let mut c = Vec::with_capacity(n * n);
        for i in 0..n {
            for j in 0..n {
                let sum: u128 = (0..n).map(|k| a[i * n + k] * b[k * n + j]).sum();
                c.push((sum % u128::from(P)) as u32);
            }
        }
        c
    }

    pub fn encode(c: &[u32]) -> Vec<u8> {
        c.iter().flat_map(|x| x.to_le_bytes()).collect()
    }
}

fn ctx() -> EpochContext {
    common::context(3)
}

/// A call environment whose random stream (the validator's challenge vectors) is `seed`'s.
fn env(seed: u64) -> CallEnv {
    CallEnv::new("compute", seed, Arc::new(MetagraphView::default()))
}

fn modules() -> (ValidatorModule, Vec<(String, MinerModule)>) {
    let runtime = common::runtime();
    let bundle = common::bundle(BUNDLE);
    let validator = runtime.load_validator("compute", &common::read(&bundle.validator)).unwrap();
    let miners = bundle
        .miners
        .iter()
        .map(|(name, _, path)| (name.clone(), runtime.load_miner(name, &common::read(path)).unwrap()))
        .collect();
    (validator, miners)
}

fn task(seed: u64, n: u32, miners: u16) -> Task {
    let body = serde_json::to_vec(&serde_json::json!({"seed": seed, "n": n, "modulus": spec::P})).unwrap();
    Task {
        id: "t".into(),
        miners: (1..=miners).collect(),
        payload: Payload { content_type: "application/json".into(), body },
        timeout_ms: 2_000,
    }
}

fn answer(uid: u16, latency_ms: u32, body: Vec<u8>) -> MinerResponse {
    MinerResponse {
        uid,
        status: ResponseStatus::Ok,
        latency_ms,
        payload: Some(Payload { content_type: "application/octet-stream".into(), body }),
    }
}

fn metric(score: &UidScore, name: &str) -> f64 {
    score.metrics.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("no {name}: {score:?}")).value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_pays_verified_work_and_nothing_else() {
    let bundle = common::bundle(BUNDLE);
    let config = SandboxConfig { miners: 8, epochs: 3, seed: 0, ..Default::default() };
    let report = common::sandbox(&bundle, config.clone()).await;
    let last = report.epochs.last().unwrap();
    let mut roles: Vec<&str> = last.neurons.iter().filter(|n| n.kind == "miner").map(|n| n.role.as_str()).collect();
    roles.sort();
    assert_eq!(roles, ["guesser", "honest", "honest", "honest", "honest", "lazy", "random", "stale"]);
    for n in last.neurons.iter().filter(|n| n.kind == "miner") {
        if n.role == "honest" {
            // Paid by throughput, so by (simulated) latency: unequal, but every one is paid.
            assert!(n.weight > 0.02 && n.incentive > 0.02, "uid {}: {n:?}", n.uid);
        } else {
            assert_eq!((n.weight, n.incentive, n.emission), (0.0, 0.0, 0.0), "{} uid {}", n.role, n.uid);
        }
    }
    assert!(report.honest_miner_share() > 0.999, "{}", report.honest_miner_share());
    let again = common::sandbox(&bundle, config.clone()).await;
    assert_eq!(report.render(), again.render());
}

#[test]
fn the_spec_stream_is_splitmix64() {
    // Vigna's splitmix64.c seeded with 0.
    assert_eq!(spec::splitmix(0, 1), 0xe220a8397b1dcdaf);
    assert_eq!(spec::splitmix(0, 2), 0x6e789e6aa1b965f4);
    assert_eq!(spec::splitmix(0, 3), 0x06c45d188009454f);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_honest_miner_computes_the_specified_product() {
    let (_, miners) = modules();
    let honest = &miners.iter().find(|(n, _)| n == "honest").unwrap().1;
    for (seed, n) in [(0u64, 1u32), (7, 5), (u64::MAX, 64), (0x5eed, 128)] {
        let t = task(seed, n, 1);
        let request = MinerRequest {
            task_id: t.id.clone(),
            netuid: 1,
            validator: "v".into(),
            payload: t.payload,
            timeout_ms: 2_000,
        };
        let payload = honest.handle(&env(1), &request).await.unwrap();
        assert_eq!(payload.content_type, "application/octet-stream");
        assert_eq!(payload.body, spec::encode(&spec::product(seed, n as usize)), "seed {seed} n {n}");
    }
    // Tasks it cannot do are refused, not answered wrongly.
    for body in [
        serde_json::json!({"seed": 1, "n": 4, "modulus": 97}),
        serde_json::json!({"seed": 1, "n": 0, "modulus": spec::P}),
        serde_json::json!({"seed": 1, "n": 100_000, "modulus": spec::P}),
    ] {
        let payload = Payload { content_type: "application/json".into(), body: serde_json::to_vec(&body).unwrap() };
        let request =
            MinerRequest { task_id: "t".into(), netuid: 1, validator: "v".into(), payload, timeout_ms: 2_000 };
        assert!(honest.handle(&env(1), &request).await.is_err(), "{body}");
    }
}

/// One wrong entry anywhere: Freivalds' check fails with probability at least `1 − 1/p` per
/// check (README), so over 64 independent challenges (64 validator seeds) none may pass; the
/// chance that this test fails for an honest reason is below 64/p ≈ 3·10⁻⁸.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freivalds_catches_a_single_wrong_entry() {
    let (validator, _) = modules();
    let (seed, n) = (42u64, 96usize);
    let good = spec::product(seed, n);
    let positions = [0, 1, n - 1, n * n / 2 + 7, n * n - 1];
    for challenge_seed in 0..64u64 {
        let mut responses = vec![answer(1, 10, spec::encode(&good))];
        for (k, &at) in positions.iter().enumerate() {
            let mut wrong = good.clone();
            // Off by one, or off by a multiple of 2^16: small and "round" errors alike.
            wrong[at] = ((u64::from(wrong[at]) + if k % 2 == 0 { 1 } else { 1 << 16 }) % spec::P) as u32;
            responses.push(answer(k as u16 + 2, 10, spec::encode(&wrong)));
        }
        let scores = validator
            .score(&env(challenge_seed), &ctx(), &task(seed, n as u32, responses.len() as u16), &responses)
            .await
            .unwrap();
        assert_eq!(metric(&scores[0], "verified"), 1.0, "challenge {challenge_seed}");
        assert!(scores[0].score > 0.0);
        for s in &scores[1..] {
            assert_eq!((metric(s, "verified"), s.score), (0.0, 0.0), "challenge {challenge_seed}: uid {}", s.uid);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adversaries_answers_are_rejected() {
    let (validator, miners) = modules();
    let t = task(99, 64, 2);
    let mut responses = Vec::new();
    for (uid, name) in [(1u16, "guesser"), (2, "stale")] {
        let miner = &miners.iter().find(|(n, _)| n == name).unwrap().1;
        let request = MinerRequest {
            task_id: t.id.clone(),
            netuid: 1,
            validator: "v".into(),
            payload: t.payload.clone(),
            timeout_ms: 2_000,
        };
        let payload = miner.handle(&env(uid.into()), &request).await.unwrap();
        // Well-formed answers of the right size: only the check can tell.
        assert_eq!(payload.body.len(), 4 * 64 * 64, "{name}");
        responses.push(MinerResponse { uid, status: ResponseStatus::Ok, latency_ms: 5, payload: Some(payload) });
    }
    let stale = &responses[1].payload.as_ref().unwrap().body;
    assert_eq!(stale, &spec::encode(&spec::product(0, 64)), "the stale miner replays seed 0's product");
    let scores = validator.score(&env(3), &ctx(), &t, &responses).await.unwrap();
    for s in &scores {
        assert_eq!((s.score, metric(s, "verified")), (0.0, 0.0), "{s:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_answers_score_zero_without_failing_the_call() {
    let (validator, _) = modules();
    let n = 8usize;
    let good = spec::encode(&spec::product(5, n));
    let mut unreduced = good.clone();
    // Entry 3 replaced by itself plus p: the same residue, but not the canonical form.
    let entry = u32::from_le_bytes(good[12..16].try_into().unwrap());
    unreduced[12..16].copy_from_slice(&(entry + spec::P as u32).to_le_bytes());
    let responses = vec![
        answer(1, 10, good[..good.len() - 4].to_vec()),
        answer(2, 10, [good.clone(), vec![0; 4]].concat()),
        answer(3, 10, unreduced),
        MinerResponse {
            uid: 4,
            status: ResponseStatus::Ok,
            latency_ms: 10,
            payload: Some(Payload { content_type: "application/json".into(), body: b"12345".to_vec() }),
        },
        MinerResponse { uid: 5, status: ResponseStatus::Timeout, latency_ms: 2_000, payload: None },
        MinerResponse { uid: 6, status: ResponseStatus::Malformed, latency_ms: 10, payload: None },
        answer(7, 10, Vec::new()),
        answer(8, 10, good),
    ];
    let scores = validator.score(&env(1), &ctx(), &task(5, n as u32, 8), &responses).await.unwrap();
    assert_eq!(scores.len(), 8);
    for s in &scores[..7] {
        assert_eq!((s.score, metric(s, "verified")), (0.0, 0.0), "{s:?}");
    }
    assert_eq!(metric(&scores[7], "verified"), 1.0);
}

/// Score = min(1, (n³ / latency) / R) with R = 10⁸ multiply-adds per second (README).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_score_is_verified_throughput_against_the_market_rate() {
    let (validator, _) = modules();
    let (seed, n) = (3u64, 64u32);
    let body = spec::encode(&spec::product(seed, n as usize));
    let latencies = [0u32, 1, 2, 3, 10, 100, 1_000];
    let responses: Vec<MinerResponse> =
        latencies.iter().enumerate().map(|(i, &l)| answer(i as u16 + 1, l, body.clone())).collect();
    let scores = validator.score(&env(9), &ctx(), &task(seed, n, responses.len() as u16), &responses).await.unwrap();
    let work = f64::from(n).powi(3);
    for (latency, s) in latencies.iter().zip(&scores) {
        let seconds = f64::from((*latency).max(1)) / 1000.0;
        let ratio = work / seconds / 1e8;
        assert!((metric(s, "throughput") - work / seconds).abs() < 1e-6, "{s:?}");
        assert!((metric(s, "market_ratio") - ratio).abs() < 1e-12, "{s:?}");
        assert!((s.score - ratio.min(1.0)).abs() < 1e-12, "latency {latency}: {s:?}");
    }
    // 64³ = 262 144 multiply-adds: at 1 ms that is 2.6·10⁸/s, above the market rate (capped);
    // at 10 ms, 2.6·10⁷/s, a quarter of it.
    assert_eq!(scores[1].score, 1.0);
    assert!((scores[4].score - 0.262_144).abs() < 1e-12);
}
