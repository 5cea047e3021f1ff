//! Compute-subnet adversary: skips the work and sends a well-formed guess, `n²` random entries
//! below p. Freivalds' check rejects it (it passes with probability at most 1/p), so it earns 0.
use compute_subnet_matmul::{CONTENT_TYPE, MAX_N, MODULUS, MatmulTask, encode};
use subnet_sdk::prelude::*;

struct Guesser;

impl Miner for Guesser {
    type Task = Json<MatmulTask>;
    type Answer = Payload;

    fn answer(_request: &MinerRequest, task: Json<MatmulTask>) -> Result<Payload, String> {
        let n = task.0.n.min(MAX_N) as usize;
        let c: Vec<u32> = (0..n * n).map(|_| random::below(MODULUS) as u32).collect();
        Ok(Payload { content_type: CONTENT_TYPE.into(), body: encode(&c) })
    }
}

export_miner!(Guesser);
