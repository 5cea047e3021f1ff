//! Translation-subnet validator: German, French and Spanish sentences from the bundled corpus
//! (`../data/*.tsv`, 100 pairs per language with English references) go to miners, four per
//! task, one task per miner and round, each miner drawing its own sentences, so miners cannot
//! copy each other. Answers are scored per sentence:
//!
//! - with the reference: `chrf` (chrF2, as sacreBLEU, see [`chrf`]) and `similarity`, the
//!   cosine of all-MiniLM-L6-v2 embeddings of hypothesis and reference (clamped to [0, 1]);
//!   `adequacy = ramp(0.5·chrf + 0.5·similarity, 0.35, 0.85)`, where
//!   `ramp(x, lo, hi) = clamp((x − lo) / (hi − lo), 0, 1)`: fluent English about something
//!   else lands near 0.35 on the raw scale, a close translation near 0.85 or above;
//! - reference-free: `copy`, the share of the hypothesis's word bigrams found in the source (1
//!   for a verbatim copy), costs `copy_factor = clamp((0.8 − copy) / 0.3, 0, 1)`; an answer
//!   that [`langid`] does not identify as English gets `english = 0` and quality 0;
//! - sentence quality `= adequacy · copy_factor · english`; a missing, empty or over-long
//!   (more than [`MAX_ANSWER_CHARS`]) translation scores 0.
//!
//! The task's `quality` is the mean over its sentences; `speed = clamp(1 − latency / timeout,
//! 0, 1)`. The score is `0.9·quality + 0.1·speed` when quality reaches [`QUALITY_FLOOR`], else
//! `0.9·quality`: a fast miner cannot earn with fast garbage. Every answer of a task is embedded
//! in one compute call together with the references.
//!
//! Failure modes: an embedding call that fails fails the score call (the round is lost, and the
//! host reports it), since scoring without the model would disagree with other validators. A
//! task whose sentences are not in the corpus (it was not made by this validator) is an error.
//! Anything a miner sends is bounded and never trusted: undecodable answers arrive as
//! `malformed` and score 0.
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use subnet_sdk::prelude::*;

pub mod chrf;
pub mod langid;

/// The embedding model the host must grant (see subnet.toml).
const MODEL: &str = "all-minilm-l6-v2";
/// Sentences per task.
const SENTENCES_PER_TASK: usize = 4;
/// Time a miner has for one task.
const TIMEOUT_MS: u32 = 3_000;
/// Longest translation scored, in characters; the corpus sentences are under 60.
pub const MAX_ANSWER_CHARS: usize = 400;
/// Quality from which speed counts.
pub const QUALITY_FLOOR: f64 = 0.3;
/// Weight of quality in the score; speed has the rest.
const QUALITY_WEIGHT: f64 = 0.9;
/// Texts per embedding call (the host allows 256).
const EMBED_BATCH: usize = 128;

/// What a miner receives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TranslationTask {
    /// ISO 639-1 code of the sentences: `de`, `fr` or `es`.
    pub source_lang: String,
    /// Always `en`.
    pub target_lang: String,
    /// The sentences to translate.
    pub sentences: Vec<String>,
}

/// What a miner answers: one translation per sentence, in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TranslationAnswer {
    /// The translations.
    pub translations: Vec<String>,
}

/// One sentence pair of the corpus.
struct Pair {
    lang: &'static str,
    source: &'static str,
    reference: &'static str,
}

const LANGUAGES: [&str; 3] = ["de", "fr", "es"];

fn corpus() -> Vec<Pair> {
    let files = [
        ("de", include_str!("../../data/de-en.tsv")),
        ("fr", include_str!("../../data/fr-en.tsv")),
        ("es", include_str!("../../data/es-en.tsv")),
    ];
    let mut pairs = Vec::new();
    for (lang, text) in files {
        for line in text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
            let mut fields = line.split('\t');
            if let (Some(_id), Some(source), Some(reference)) = (fields.next(), fields.next(), fields.next()) {
                pairs.push(Pair { lang, source, reference });
            }
        }
    }
    pairs
}

/// Function words per language (`../data/stopwords.tsv`), as `(language, words)`.
fn stopwords() -> Vec<(&'static str, &'static str)> {
    include_str!("../../data/stopwords.tsv")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .filter_map(|(lang, words)| ["en", "de", "fr", "es"].into_iter().find(|c| *c == lang).map(|c| (c, words)))
        .collect()
}

/// The language identifier, trained on the corpus (English references, foreign sources) and
/// the function-word lists.
fn language_id(pairs: &[Pair]) -> langid::LanguageId {
    langid::LanguageId::train(
        pairs.iter().map(|p| ("en", p.reference)).chain(pairs.iter().map(|p| (p.lang, p.source))).chain(stopwords()),
    )
}

fn ramp(x: f64, lo: f64, hi: f64) -> f64 {
    ((x - lo) / (hi - lo)).clamp(0.0, 1.0)
}

fn word_tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// Share of the hypothesis's word bigrams (lower-cased, punctuation ignored) that also occur in
/// the source, with clipped counts; 1 for a verbatim copy, and for a one-word hypothesis, 1 when
/// that word is in the source. Names and numbers alone share single words, rarely bigrams.
pub fn copy_overlap(hypothesis: &str, source: &str) -> f64 {
    let hyp = word_tokens(hypothesis);
    let src = word_tokens(source);
    if hyp.is_empty() {
        return 0.0;
    }
    if hyp == src {
        return 1.0;
    }
    if hyp.len() == 1 {
        return if src.contains(&hyp[0]) { 1.0 } else { 0.0 };
    }
    let mut available: HashMap<(&str, &str), u32> = HashMap::new();
    for pair in src.windows(2) {
        *available.entry((pair[0].as_str(), pair[1].as_str())).or_insert(0) += 1;
    }
    let mut shared = 0u32;
    for pair in hyp.windows(2) {
        if let Some(left) = available.get_mut(&(pair[0].as_str(), pair[1].as_str()))
            && *left > 0
        {
            *left -= 1;
            shared += 1;
        }
    }
    f64::from(shared) / (hyp.len() - 1) as f64
}

/// The factor the copy overlap leaves of a sentence's quality.
fn copy_factor(copy: f64) -> f64 {
    ramp(0.8 - copy, 0.0, 0.3)
}

/// Per-sentence measurements, before they are averaged over the task.
#[derive(Default, Clone, Copy)]
struct Sentence {
    chrf: f64,
    similarity: f64,
    copy: f64,
    english: f64,
    quality: f64,
}

struct Translation;

impl Validator for Translation {
    type Task = Json<TranslationTask>;
    type Answer = Json<TranslationAnswer>;

    fn generate_tasks(ctx: &EpochContext) -> Result<Vec<TaskSpec<Self::Task>>, String> {
        let pairs = corpus();
        // Each language's sentences in a fresh random order per round; miners take them in turn,
        // so no two miners share a sentence while the language has sentences left.
        let mut pools: HashMap<&str, (Vec<&Pair>, usize)> = LANGUAGES
            .iter()
            .map(|lang| {
                let mut pool: Vec<&Pair> = pairs.iter().filter(|p| p.lang == *lang).collect();
                random::shuffle(&mut pool);
                (*lang, (pool, 0))
            })
            .collect();
        let mut tasks = Vec::new();
        for uid in ctx.miners() {
            let lang = LANGUAGES[random::below(LANGUAGES.len() as u64) as usize];
            let (pool, next) = pools.get_mut(lang).ok_or("language without a pool")?;
            if pool.len() < SENTENCES_PER_TASK {
                return Err(format!("the {lang} corpus has fewer than {SENTENCES_PER_TASK} sentences"));
            }
            let mut sentences = Vec::with_capacity(SENTENCES_PER_TASK);
            for _ in 0..SENTENCES_PER_TASK {
                if *next == pool.len() {
                    random::shuffle(pool);
                    *next = 0;
                }
                sentences.push(pool[*next].source.to_string());
                *next += 1;
            }
            let task = TranslationTask { source_lang: lang.into(), target_lang: "en".into(), sentences };
            tasks.push(TaskSpec::new(format!("translate-{lang}-{uid}"), vec![uid], Json(task)).timeout_ms(TIMEOUT_MS));
        }
        Ok(tasks)
    }

    fn score(
        _ctx: &EpochContext,
        task: &Json<TranslationTask>,
        answers: &[Answer<Json<TranslationAnswer>>],
    ) -> Result<Vec<Score>, String> {
        let pairs = corpus();
        let references: Vec<&'static str> = task
            .sentences
            .iter()
            .map(|s| {
                pairs
                    .iter()
                    .find(|p| p.lang == task.source_lang && p.source == s)
                    .map(|p| p.reference)
                    .ok_or_else(|| format!("`{s}` is not a {} sentence of the corpus", task.source_lang))
            })
            .collect::<Result<_, _>>()?;
        let languages = language_id(&pairs);

        // The hypotheses worth embedding: present, non-empty, bounded.
        let hypothesis = |a: &Answer<Json<TranslationAnswer>>, k: usize| -> Option<String> {
            let text = a.value()?.translations.get(k)?.trim();
            (!text.is_empty() && text.chars().count() <= MAX_ANSWER_CHARS).then(|| text.to_string())
        };
        let mut texts: Vec<String> = references.iter().map(|r| r.to_string()).collect();
        let mut slot: HashMap<(u16, usize), usize> = HashMap::new();
        for a in answers {
            for k in 0..task.sentences.len() {
                if let Some(text) = hypothesis(a, k) {
                    slot.insert((a.uid, k), texts.len());
                    texts.push(text);
                }
            }
        }
        let vectors = if slot.is_empty() {
            Vec::new()
        } else {
            let mut vectors = Vec::with_capacity(texts.len());
            for batch in texts.chunks(EMBED_BATCH) {
                vectors.extend(compute::embed_text(MODEL, batch).map_err(|e| format!("embedding failed: {e:?}"))?);
            }
            if vectors.len() != texts.len() {
                return Err(format!("the model returned {} vectors for {} texts", vectors.len(), texts.len()));
            }
            vectors
        };

        let mut scores = Vec::with_capacity(answers.len());
        for a in answers {
            let mut sentences = vec![Sentence::default(); task.sentences.len()];
            for (k, sentence) in sentences.iter_mut().enumerate() {
                let Some(&at) = slot.get(&(a.uid, k)) else { continue };
                let hyp = &texts[at];
                let chrf = chrf::chrf(hyp, references[k]);
                let similarity = compute::cosine(&vectors[k], &vectors[at]).clamp(0.0, 1.0);
                let copy = copy_overlap(hyp, &task.sentences[k]);
                let english = if languages.identify(hyp) == Some("en") { 1.0 } else { 0.0 };
                let adequacy = ramp(0.5 * chrf + 0.5 * similarity, 0.35, 0.85);
                let quality = adequacy * copy_factor(copy) * english;
                *sentence = Sentence { chrf, similarity, copy, english, quality };
            }
            let n = sentences.len().max(1) as f64;
            let mean = |f: fn(&Sentence) -> f64| sentences.iter().map(f).sum::<f64>() / n;
            let quality = mean(|s| s.quality);
            let speed = if a.status == ResponseStatus::Ok && a.value().is_some() {
                (1.0 - f64::from(a.latency_ms) / f64::from(TIMEOUT_MS)).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let score =
                QUALITY_WEIGHT * quality + if quality >= QUALITY_FLOOR { (1.0 - QUALITY_WEIGHT) * speed } else { 0.0 };
            scores.push(
                Score::new(a.uid, score.clamp(0.0, 1.0))
                    .metric("quality", quality)
                    .metric("speed", speed)
                    .metric("chrf", mean(|s| s.chrf))
                    .metric("similarity", mean(|s| s.similarity))
                    .metric("copy", mean(|s| s.copy))
                    .metric("english", mean(|s| s.english)),
            );
        }
        Ok(scores)
    }
}

export_validator!(Translation);
