//! The smallest validator, as the subnet template's dummy: each miner gets a number and
//! must answer with its double. Right answers score 1, anything else 0.
use subnet_sdk::prelude::*;

struct Hello;

impl Validator for Hello {
    type Task = Json<u64>;
    type Answer = Json<u64>;

    fn generate_tasks(ctx: &EpochContext) -> Result<Vec<TaskSpec<Json<u64>>>, String> {
        // One task per miner, each with its own number, so miners cannot copy each other.
        Ok(ctx
            .miners()
            .map(|uid| {
                TaskSpec::new(format!("double-{uid}"), vec![uid], Json(random::below(1_000_000))).timeout_ms(2_000)
            })
            .collect())
    }

    fn score(_ctx: &EpochContext, task: &Json<u64>, answers: &[Answer<Json<u64>>]) -> Result<Vec<Score>, String> {
        Ok(answers
            .iter()
            .map(|a| {
                let right = a.value().is_some_and(|v| v.0 == task.0 * 2);
                Score::new(a.uid, if right { 1.0 } else { 0.0 })
            })
            .collect())
    }
}

export_validator!(Hello);
