//! Translation-subnet adversary: answers from a cache of fluent English sentences instead of
//! translating, picking the cached line by a hash of the source (so the same source always
//! gets the same stale answer). Some cached lines translate other sentences of the corpus, so
//! they share words and structure with many references. The answers are English and copy
//! nothing, so only the reference-based signals (chrF and embedding similarity against the
//! reference) can catch them; they score near 0 there.
use serde::{Deserialize, Serialize};
use subnet_sdk::prelude::*;

/// The cache: answers given before, to other questions.
const CACHE: &[&str] = &[
    "The weather is very nice today.",
    "The children are playing in the park.",
    "I would like a glass of water.",
    "Thank you for your help.",
    "The meeting has been moved to next week.",
    "Please close the door when you leave.",
    "I will call you back in ten minutes.",
    "The museum opens at nine o'clock.",
    "My sister lives in a small house near the sea.",
    "We are going to the cinema on Saturday.",
    "The train to the airport is delayed again.",
    "Could you send me the report by Friday?",
];

/// FNV-1a, so the choice is stable across builds and platforms.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[derive(Serialize, Deserialize)]
struct TranslationTask {
    sentences: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct TranslationAnswer {
    translations: Vec<String>,
}

struct Cached;

impl Miner for Cached {
    type Task = Json<TranslationTask>;
    type Answer = Json<TranslationAnswer>;

    fn answer(_request: &MinerRequest, task: Json<TranslationTask>) -> Result<Json<TranslationAnswer>, String> {
        let translations =
            task.0.sentences.iter().map(|s| CACHE[(fnv1a(s) % CACHE.len() as u64) as usize].to_string()).collect();
        Ok(Json(TranslationAnswer { translations }))
    }
}

export_miner!(Cached);
