//! Language identification for English, German, French and Spanish: a multinomial naive Bayes
//! classifier over character trigrams of space-padded words plus whole words (which carry the
//! stop words: `the`, `der`, `le`, `el`, ...). The validator trains it at start-up on the
//! bundled corpus (the English references for `en`, the source sentences for `de`, `fr` and
//! `es`) plus a hand-written list of each language's function words (`data/stopwords.tsv`),
//! which keeps English words outside the corpus from looking French.
//!
//! Text is lower-cased and split into runs of letters (digits, punctuation and apostrophes
//! separate words); each word `w` gives the trigrams of ` w `. A language's score is the sum of
//! the log-probabilities of the text's features under add-½ smoothing over the union of all
//! languages' features, so unseen features cost every language alike. The best score wins.
//!
//! Failure modes: a text without letters has no language ([`LanguageId::identify`] gives
//! `None`). Very short texts (one short word) are identified, but weakly; callers decide what a
//! wrong language costs.
use std::collections::{HashMap, HashSet};

/// Smoothing added to every feature count.
const ALPHA: f64 = 0.5;

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

fn trigrams(word: &str) -> impl Iterator<Item = String> + '_ {
    let padded: Vec<char> = std::iter::once(' ').chain(word.chars()).chain(std::iter::once(' ')).collect();
    (0..padded.len().saturating_sub(2)).map(move |i| padded[i..i + 3].iter().collect())
}

/// Counts of one kind of feature in one language.
#[derive(Default)]
struct Counts {
    counts: HashMap<String, u32>,
    total: u64,
}

impl Counts {
    fn add(&mut self, feature: String) {
        *self.counts.entry(feature).or_insert(0) += 1;
        self.total += 1;
    }

    fn log_prob(&self, feature: &str, vocabulary: usize) -> f64 {
        let count = f64::from(self.counts.get(feature).copied().unwrap_or(0));
        ((count + ALPHA) / (self.total as f64 + ALPHA * vocabulary as f64)).ln()
    }
}

struct Profile {
    code: &'static str,
    trigrams: Counts,
    words: Counts,
}

/// A trained identifier.
pub struct LanguageId {
    profiles: Vec<Profile>,
    trigram_vocabulary: usize,
    word_vocabulary: usize,
}

impl LanguageId {
    /// Trains on `(language code, text)` samples.
    pub fn train<'a>(samples: impl IntoIterator<Item = (&'static str, &'a str)>) -> Self {
        let mut profiles: Vec<Profile> = Vec::new();
        let mut all_trigrams = HashSet::new();
        let mut all_words = HashSet::new();
        for (code, text) in samples {
            let at = match profiles.iter().position(|p| p.code == code) {
                Some(at) => at,
                None => {
                    profiles.push(Profile { code, trigrams: Counts::default(), words: Counts::default() });
                    profiles.len() - 1
                }
            };
            for word in words(text) {
                for gram in trigrams(&word) {
                    all_trigrams.insert(gram.clone());
                    profiles[at].trigrams.add(gram);
                }
                all_words.insert(word.clone());
                profiles[at].words.add(word);
            }
        }
        // One more slot for "never seen in any language".
        Self { profiles, trigram_vocabulary: all_trigrams.len() + 1, word_vocabulary: all_words.len() + 1 }
    }

    /// Log-likelihood of `text` under each language, best first.
    pub fn scores(&self, text: &str) -> Vec<(&'static str, f64)> {
        let words = words(text);
        let mut scores: Vec<(&'static str, f64)> = self
            .profiles
            .iter()
            .map(|p| {
                let mut score = 0.0;
                for word in &words {
                    for gram in trigrams(word) {
                        score += p.trigrams.log_prob(&gram, self.trigram_vocabulary);
                    }
                    score += p.words.log_prob(word, self.word_vocabulary);
                }
                (p.code, score)
            })
            .collect();
        scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        scores
    }

    /// The most likely language of `text`, or `None` when it has no letters.
    pub fn identify(&self, text: &str) -> Option<&'static str> {
        if !text.chars().any(char::is_alphabetic) {
            return None;
        }
        self.scores(text).first().map(|(code, _)| *code)
    }
}
