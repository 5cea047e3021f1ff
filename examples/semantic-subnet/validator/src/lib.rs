//! Semantic-subnet validator: each miner gets a sentence to restate in other words. All the
//! answers to a task are embedded in one compute call together with the sentence; the score
//! is the cosine similarity of answer and sentence (clamped to [0, 1]), and 0 for an answer
//! that repeats the sentence word for word, so copying cannot win.
use subnet_sdk::prelude::*;

/// The model the host must grant (see subnet.toml).
const MODEL: &str = "all-minilm-l6-v2";

const SENTENCES: &[&str] = &[
    "The cat is sleeping on the warm sofa.",
    "A strong wind knocked over the old tree.",
    "She bought fresh bread at the small bakery.",
    "The children are playing football in the park.",
    "He quickly fixed the broken bicycle.",
    "The train to the city leaves early in the morning.",
    "Heavy rain flooded the narrow streets.",
    "They cooked a large dinner for their friends.",
    "The old man walks his dog every evening.",
    "A bright moon lit up the quiet lake.",
    "The students finished the difficult exam.",
    "My brother repaired the leaking roof.",
];

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

struct Semantic;

impl Validator for Semantic {
    type Task = String;
    type Answer = String;

    fn generate_tasks(ctx: &EpochContext) -> Result<Vec<TaskSpec<String>>, String> {
        Ok(ctx
            .miners()
            .map(|uid| {
                let sentence = SENTENCES[random::below(SENTENCES.len() as u64) as usize];
                TaskSpec::new(format!("restate-{uid}"), vec![uid], sentence.to_string()).timeout_ms(5_000)
            })
            .collect())
    }

    fn score(_ctx: &EpochContext, task: &String, answers: &[Answer<String>]) -> Result<Vec<Score>, String> {
        let given: Vec<&Answer<String>> =
            answers.iter().filter(|a| a.value().is_some_and(|t| !t.trim().is_empty())).collect();
        let mut texts = vec![task.clone()];
        texts.extend(given.iter().filter_map(|a| a.value().cloned()));
        let vectors = if given.is_empty() {
            Vec::new()
        } else {
            compute::embed_text(MODEL, &texts).map_err(|e| format!("embedding failed: {e:?}"))?
        };
        let task_words = words(task);
        Ok(answers
            .iter()
            .map(|a| {
                let Some(i) = given.iter().position(|g| g.uid == a.uid) else {
                    return Score::new(a.uid, 0.0);
                };
                let text = a.value().map(String::as_str).unwrap_or_default();
                let similarity = compute::cosine(&vectors[0], &vectors[i + 1]).clamp(0.0, 1.0);
                let copied = words(text) == task_words;
                Score::new(a.uid, if copied { 0.0 } else { similarity }).metric("similarity", similarity)
            })
            .collect())
    }
}

export_validator!(Semantic);
