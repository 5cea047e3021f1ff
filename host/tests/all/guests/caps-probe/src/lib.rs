//! Test guest for host capabilities. `generate-tasks` fetches every URL listed (as a JSON array)
//! in kv key `urls`, in order, and returns one task per URL whose payload says what came back:
//! `{"status": 200, "body": "..."}` or `{"error": "..."}`; then one task `randomness` with
//! `{"shared_seed", "shared_word_3", "private"}`: the epoch's shared seed, word 3 of its shared
//! stream, and the first 64 bits of its private `random` stream.
use subnet_sdk::prelude::*;

struct Probe;

impl Validator for Probe {
    type Task = Json<serde_json::Value>;
    type Answer = Json<serde_json::Value>;

    fn generate_tasks(_ctx: &EpochContext) -> Result<Vec<TaskSpec<Self::Task>>, String> {
        let urls: Vec<String> = kv::get_json("urls").map_err(|e| format!("{e:?}"))?.unwrap_or_default();
        Ok(urls
            .iter()
            .enumerate()
            .map(|(i, url)| {
                let outcome = match subnet_sdk::http::get(url) {
                    Ok(r) => serde_json::json!({ "status": r.status, "body": r.text(), "len": r.body.len() }),
                    Err(e) => serde_json::json!({ "error": e }),
                };
                TaskSpec::new(format!("fetch-{i}"), vec![1], Json(outcome))
            })
            .chain(std::iter::once(TaskSpec::new(
                "randomness",
                vec![1],
                Json(serde_json::json!({
                    "shared_seed": subnet_sdk::shared_random::seed(),
                    "shared_word_3": subnet_sdk::shared_random::u64_at(3),
                    "private": random::next_u64(),
                })),
            )))
            .collect())
    }

    fn score(_: &EpochContext, _: &Self::Task, answers: &[Answer<Self::Answer>]) -> Result<Vec<Score>, String> {
        Ok(answers.iter().map(|a| Score::new(a.uid, 0.0)).collect())
    }
}

export_validator!(Probe);
