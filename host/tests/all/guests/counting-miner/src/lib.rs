//! Test guest for miner state: each answer is one more than the last, counted in the miner's
//! key-value store under `count` (so a restart with the same store continues). Without a store
//! it answers `{"error": "denied"}` (or the store's other error).
use subnet_sdk::prelude::*;

struct Counter;

impl Miner for Counter {
    type Task = Json<serde_json::Value>;
    type Answer = Json<serde_json::Value>;

    fn answer(_request: &MinerRequest, _task: Self::Task) -> Result<Self::Answer, String> {
        let count = match kv::get_json::<u64>("count") {
            Ok(n) => n.unwrap_or(0) + 1,
            Err(kv::KvError::Denied) => return Ok(Json(serde_json::json!({ "error": "denied" }))),
            Err(e) => return Ok(Json(serde_json::json!({ "error": format!("{e:?}") }))),
        };
        kv::set_json("count", &count).map_err(|e| format!("{e:?}"))?;
        Ok(Json(serde_json::json!({ "count": count })))
    }
}

export_miner!(Counter);
