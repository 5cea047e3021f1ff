//! Compute-subnet adversary: answers from a cache instead of computing, with the product it
//! holds for the task's size, which was computed once for another seed (here: seed 0, as if it
//! had been an earlier task). The answer is a real product of the right size and form, only not
//! of this task's matrices; Freivalds' check rejects it, so it earns 0. (A module instance keeps
//! nothing between calls and the sandbox gives miners no store, so this module recomputes the
//! stale product each time; a real cheater would keep it, which changes nothing for the check.)
use compute_subnet_matmul::{CONTENT_TYPE, MAX_N, MatmulTask, encode, product};
use subnet_sdk::prelude::*;

/// The seed the cached products were computed for.
const CACHED_SEED: u64 = 0;

struct Stale;

impl Miner for Stale {
    type Task = Json<MatmulTask>;
    type Answer = Payload;

    fn answer(_request: &MinerRequest, task: Json<MatmulTask>) -> Result<Payload, String> {
        let n = task.0.n.min(MAX_N) as usize;
        Ok(Payload { content_type: CONTENT_TYPE.into(), body: encode(&product(CACHED_SEED, n)) })
    }
}

export_miner!(Stale);
