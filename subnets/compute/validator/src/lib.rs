//! Compute-subnet validator: proof of work priced against the market.
//!
//! Each round, every miner gets its own seed (so no miner can copy another's answer) and all
//! get the same matrix side `n`, drawn from [`SIDES`]. A miner answers with `C = A·B mod p` for
//! the matrices the seed generates (specification in `compute-subnet-matmul`). Scoring:
//!
//! 1. Form: the answer must be `application/octet-stream`, exactly `4·n²` bytes, every entry
//!    below p. Anything else is `verified = 0`.
//! 2. Freivalds' check `C·r = A·(B·r)` with a challenge vector `r` that exists only once the
//!    answer does: `r` comes from the SHA-256 of the task, a nonce the validator draws when it
//!    scores, and the answer's bytes (`compute-subnet-matmul::challenge`), so no miner can
//!    fit a wrong answer to it, even one that predicts the host's (publicly seeded) randomness.
//!    A wrong `C`, even one wrong entry, passes with probability at most `1/p ≈ 4.66·10⁻¹⁰`;
//!    the check costs O(n²) against the miner's O(n³). A failed check scores 0.
//! 3. Price: verified work `W = n³` multiply-adds, delivered in the answer's latency, is a
//!    throughput `T = W / latency` (latency at least 1 ms). The score is `min(1, T / R)` with
//!    [`MARKET_RATE`] `R`: the validator pays for compute at most the market rate, so a miner
//!    earns in proportion to the throughput it delivers up to that rate. Metrics:
//!    `verified`, `throughput` (multiply-adds per second), `market_ratio` (`T / R`, uncapped).
//!
//! Failure modes: nothing a miner sends can fail the call; a task that does not decode (it was
//! not made by this validator) is an error.
use compute_subnet_matmul::{CONTENT_TYPE, MODULUS, MatmulTask, challenge, decode, freivalds, work};
use subnet_sdk::prelude::*;

/// Matrix sides a round may use (one per round, for all miners).
pub const SIDES: [u32; 3] = [64, 96, 128];
/// The market rate R, in verified multiply-adds mod p per second: roughly what one rented CPU
/// core sustains on 64-bit modular multiply-adds. A miner at or above it earns a full score.
pub const MARKET_RATE: f64 = 1.0e8;
/// Time a miner has to answer.
const TIMEOUT_MS: u32 = 2_000;

struct ComputeMarket;

impl Validator for ComputeMarket {
    type Task = Json<MatmulTask>;
    type Answer = Payload;

    fn generate_tasks(ctx: &EpochContext) -> Result<Vec<TaskSpec<Json<MatmulTask>>>, String> {
        let n = SIDES[random::below(SIDES.len() as u64) as usize];
        Ok(ctx
            .miners()
            .map(|uid| {
                let task = MatmulTask { seed: random::next_u64(), n, modulus: MODULUS };
                TaskSpec::new(format!("matmul-{n}-{uid}"), vec![uid], Json(task)).timeout_ms(TIMEOUT_MS)
            })
            .collect())
    }

    fn score(_ctx: &EpochContext, task: &Json<MatmulTask>, answers: &[Answer<Payload>]) -> Result<Vec<Score>, String> {
        let task = task.0;
        let n = task.n as usize;
        Ok(answers
            .iter()
            .map(|a| {
                let verified = a.value().filter(|p| p.content_type == CONTENT_TYPE).is_some_and(|p| {
                    decode(&p.body, n).is_ok_and(|c| {
                        let r = challenge(&task, random::next_u64(), &p.body);
                        freivalds(task.seed, n, &c, &r)
                    })
                });
                if !verified {
                    return Score::new(a.uid, 0.0)
                        .metric("verified", 0.0)
                        .metric("throughput", 0.0)
                        .metric("market_ratio", 0.0);
                }
                let seconds = f64::from(a.latency_ms.max(1)) / 1000.0;
                let throughput = work(n) / seconds;
                let ratio = throughput / MARKET_RATE;
                Score::new(a.uid, ratio.min(1.0))
                    .metric("verified", 1.0)
                    .metric("throughput", throughput)
                    .metric("market_ratio", ratio)
            })
            .collect())
    }
}

export_validator!(ComputeMarket);
