//! Test guest for deferred scoring. Each round sends every miner the number `epoch + 1`; the
//! right answer is its double. Tasks of even epochs are deferred (`scoring.defer`, key
//! `predict-<epoch>`) and scored in the next round by `score-deferred`; tasks of odd epochs are
//! scored at once. Either way a miner that did not answer is abstained from, not scored 0.
use subnet_sdk::prelude::*;

struct Predict;

fn judge(task: &Json<u64>, answers: &[Answer<Json<u64>>], abstain: impl Fn(u16)) -> Vec<Score> {
    answers
        .iter()
        .filter_map(|a| match a.status {
            ResponseStatus::Ok | ResponseStatus::Malformed => {
                Some(Score::new(a.uid, if a.value().is_some_and(|v| v.0 == task.0 * 2) { 1.0 } else { 0.0 }))
            }
            _ => {
                abstain(a.uid);
                None
            }
        })
        .collect()
}

impl Validator for Predict {
    type Task = Json<u64>;
    type Answer = Json<u64>;

    fn generate_tasks(ctx: &EpochContext) -> Result<Vec<TaskSpec<Json<u64>>>, String> {
        let miners: Vec<u16> = ctx.miners().collect();
        Ok(vec![TaskSpec::new(format!("predict-{}", ctx.epoch), miners, Json(ctx.epoch + 1)).timeout_ms(1_000)])
    }

    fn score(ctx: &EpochContext, task: &Json<u64>, answers: &[Answer<Json<u64>>]) -> Result<Vec<Score>, String> {
        if ctx.epoch.is_multiple_of(2) {
            scoring::defer(&format!("predict-{}", ctx.epoch), 3)?;
            return Ok(Vec::new());
        }
        Ok(judge(task, answers, scoring::abstain))
    }

    fn score_deferred(
        _ctx: &EpochContext,
        _key: &str,
        task: &Json<u64>,
        answers: &[Answer<Json<u64>>],
        age: u32,
    ) -> Result<Option<Vec<Score>>, String> {
        // Leaving a miner out of deferred scores abstains from it.
        Ok((age >= 1).then(|| judge(task, answers, |_| {})))
    }
}

export_validator!(Predict);
