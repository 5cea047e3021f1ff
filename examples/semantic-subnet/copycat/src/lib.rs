//! Semantic-subnet adversary: answers with the sentence it was given, hoping for a perfect
//! similarity. The validator scores verbatim copies 0.
use subnet_sdk::prelude::*;

struct Copycat;

impl Miner for Copycat {
    type Task = String;
    type Answer = String;

    fn answer(_request: &MinerRequest, sentence: String) -> Result<String, String> {
        Ok(sentence)
    }
}

export_miner!(Copycat);
