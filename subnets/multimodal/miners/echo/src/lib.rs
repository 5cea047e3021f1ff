//! Multimodal-subnet adversary: answers with the question itself (copy the prompt), which
//! shares many words with the right answer but names no count, colour or shape.
use subnet_scenes::protocol::VisualQuestion;
use subnet_sdk::prelude::*;

struct Echo;

impl Miner for Echo {
    type Task = Json<VisualQuestion>;
    type Answer = String;

    fn answer(_request: &MinerRequest, task: Json<VisualQuestion>) -> Result<String, String> {
        Ok(task.0.question)
    }
}

export_miner!(Echo);
