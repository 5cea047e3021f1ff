//! The honest hello-subnet miner: answers each number with its double.
use subnet_sdk::prelude::*;

struct Doubler;

impl Miner for Doubler {
    type Task = Json<u64>;
    type Answer = Json<u64>;

    fn answer(_request: &MinerRequest, task: Json<u64>) -> Result<Json<u64>, String> {
        task.0.checked_mul(2).map(Json).ok_or_else(|| "number too large".to_string())
    }
}

export_miner!(Doubler);
