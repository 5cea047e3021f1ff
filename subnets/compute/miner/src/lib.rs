//! Compute-subnet reference miner: generates the task's matrices from its seed, multiplies them
//! mod p (see `compute-subnet-matmul` for the specification) and sends the whole product.
//!
//! Failure modes: a task with another modulus or a side above `MAX_N` is refused with an error.
use compute_subnet_matmul::{CONTENT_TYPE, MAX_N, MODULUS, MatmulTask, encode, product};
use subnet_sdk::prelude::*;

struct Multiplier;

impl Miner for Multiplier {
    type Task = Json<MatmulTask>;
    type Answer = Payload;

    fn answer(_request: &MinerRequest, task: Json<MatmulTask>) -> Result<Payload, String> {
        let task = task.0;
        if task.modulus != MODULUS {
            return Err(format!("modulus {} is not {MODULUS}", task.modulus));
        }
        if task.n == 0 || task.n > MAX_N {
            return Err(format!("matrix side {} is not in 1..={MAX_N}", task.n));
        }
        let c = product(task.seed, task.n as usize);
        Ok(Payload { content_type: CONTENT_TYPE.into(), body: encode(&c) })
    }
}

export_miner!(Multiplier);
