//! Translation-subnet adversary: "translates" by sending the source sentences back unchanged,
//! hoping that character overlap with names and cognates earns something. The validator's
//! copy penalty (word-bigram overlap with the source) and its language identification both
//! give these answers 0 quality.
use serde::{Deserialize, Serialize};
use subnet_sdk::prelude::*;

#[derive(Serialize, Deserialize)]
struct TranslationTask {
    sentences: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct TranslationAnswer {
    translations: Vec<String>,
}

struct Copier;

impl Miner for Copier {
    type Task = Json<TranslationTask>;
    type Answer = Json<TranslationAnswer>;

    fn answer(_request: &MinerRequest, task: Json<TranslationTask>) -> Result<Json<TranslationAnswer>, String> {
        Ok(Json(TranslationAnswer { translations: task.0.sentences }))
    }
}

export_miner!(Copier);
