//! A validator that misbehaves when a task asks it to, so tests (and curious authors) can
//! see how subnetd contains a faulty module. The task text picks the fault in `score`:
//! `loop` spins forever, `alloc` allocates without bound, `trap` panics, `bad-uid` scores a
//! miner the task never went to, `nan` returns a non-finite score, `error` returns an error;
//! `kv-flood` tries 100 `kv::set`s of 4 MiB (the host bounds writes per call) and scores
//! every answer 0.5 with the number of writes that succeeded as metric `writes`;
//! anything else scores every answer 0.5. `generate_tasks` makes one task per miner whose
//! text is the `faulty/mode` key of the store, or `ok`, except in two modes: `all` makes one
//! task sent to every miner, `wide` one task to every miner whose text is 8 MiB long.
//!
//! `chaos:<seed>` makes every value the module returns random, drawn from a PRNG seeded by
//! `<seed>` (so a failing seed replays): task ids, miner lists (empty, duplicated, unknown
//! uids), texts and timeouts; scores (any uid, NaN, infinities, negatives, huge values) with
//! random metrics; and `reward`'s state and weights; sometimes an error instead. The host
//! must turn each into a clean round or a typed error, never a panic.
use subnet_sdk::prelude::*;

mod chaos;

struct Faulty;

impl Validator for Faulty {
    type Task = String;
    type Answer = Payload;

    fn generate_tasks(ctx: &EpochContext) -> Result<Vec<TaskSpec<String>>, String> {
        let mode = kv::get("faulty/mode")
            .ok()
            .flatten()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_else(|| "ok".into());
        if let Some(seed) = chaos::seed(&mode) {
            return chaos::Chaos::new(seed, 1).tasks();
        }
        match mode.as_str() {
            "all" => Ok(vec![TaskSpec::new("all", ctx.miners().collect(), mode)]),
            "wide" => Ok(vec![TaskSpec::new("wide", ctx.miners().collect(), "w".repeat(8 << 20))]),
            _ => Ok(ctx.miners().map(|uid| TaskSpec::new(format!("{mode}-{uid}"), vec![uid], mode.clone())).collect()),
        }
    }

    fn score(_ctx: &EpochContext, task: &String, answers: &[Answer<Payload>]) -> Result<Vec<Score>, String> {
        if let Some(seed) = chaos::current_seed() {
            return chaos::Chaos::new(seed, 2 + task.len() as u64).scores(answers);
        }
        match task.as_str() {
            "loop" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "trap" => panic!("faulty-subnet was asked to trap"),
            "error" => Err("faulty-subnet was asked to fail".into()),
            "bad-uid" => Ok(vec![Score::new(60_000, 1.0)]),
            "nan" => Ok(answers.iter().map(|a| Score::new(a.uid, f64::NAN)).collect()),
            "kv-flood" => {
                let value = vec![7u8; 4 << 20];
                let writes = (0..100).filter(|i| kv::set(&format!("flood/{i}"), &value).is_ok()).count();
                Ok(answers.iter().map(|a| Score::new(a.uid, 0.5).metric("writes", writes as f64)).collect())
            }
            _ => Ok(answers.iter().map(|a| Score::new(a.uid, 0.5)).collect()),
        }
    }

    fn reward(_ctx: &EpochContext, state: Vec<UidState>, round: Vec<UidScore>) -> Result<RewardResult, String> {
        match chaos::current_seed() {
            Some(seed) => chaos::Chaos::new(seed, 3).reward(),
            None => Ok(ema_reward(state, &round, subnet_sdk::DEFAULT_ALPHA)),
        }
    }
}

export_validator!(Faulty);
