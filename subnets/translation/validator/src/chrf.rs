//! chrF: the character n-gram F-score of Popović (2015), computed exactly as sacreBLEU 2.x
//! computes its default `CHRF()` sentence score (chrF2: character order 6, no word n-grams,
//! beta 2, whitespace removed, case kept, no epsilon smoothing), but on a 0..=1 scale instead
//! of sacreBLEU's 0..=100.
//!
//! The rule, per sacreBLEU: remove all whitespace (Python's `str.split()` notion of it) from
//! both strings; for n = 1..=6 count the character n-grams of each (Unicode scalar values);
//! matches are the clipped counts (`min` of the two counts per n-gram). Orders at which both
//! strings have n-grams contribute precision `matches / hyp_ngrams` and recall
//! `matches / ref_ngrams`; both are averaged over those "effective" orders, and the score is
//! `(1 + β²)·P·R / (β²·P + R)`, 0 when `P + R` is 0 or no order is effective.
use std::collections::HashMap;

/// Highest character n-gram order (sacreBLEU's `CHRF.CHAR_ORDER`).
pub const CHAR_ORDER: usize = 6;
/// Weight of recall against precision (sacreBLEU's `CHRF.BETA`).
pub const BETA: f64 = 2.0;

/// Whitespace as Python's `str.isspace` has it: Rust's `White_Space` plus the four ASCII
/// separators U+001C..U+001F, which `str.split()` also splits on.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn ngram_counts(chars: &[char], n: usize) -> HashMap<&[char], u32> {
    let mut counts = HashMap::new();
    if chars.len() >= n {
        for gram in chars.windows(n) {
            *counts.entry(gram).or_insert(0) += 1;
        }
    }
    counts
}

/// chrF2 of `hypothesis` against `reference`, in [0, 1].
pub fn chrf(hypothesis: &str, reference: &str) -> f64 {
    let hyp: Vec<char> = hypothesis.chars().filter(|c| !is_python_space(*c)).collect();
    let reference: Vec<char> = reference.chars().filter(|c| !is_python_space(*c)).collect();
    let (mut precision, mut recall, mut effective) = (0.0f64, 0.0f64, 0u32);
    for n in 1..=CHAR_ORDER {
        let hyp_counts = ngram_counts(&hyp, n);
        let ref_counts = ngram_counts(&reference, n);
        let hyp_total: u32 = hyp_counts.values().sum();
        let ref_total: u32 = ref_counts.values().sum();
        if hyp_total == 0 || ref_total == 0 {
            continue;
        }
        let matches: u32 =
            hyp_counts.iter().map(|(gram, count)| ref_counts.get(gram).map_or(0, |r| (*count).min(*r))).sum();
        precision += f64::from(matches) / f64::from(hyp_total);
        recall += f64::from(matches) / f64::from(ref_total);
        effective += 1;
    }
    if effective == 0 {
        return 0.0;
    }
    precision /= f64::from(effective);
    recall /= f64::from(effective);
    if precision + recall == 0.0 {
        return 0.0;
    }
    let factor = BETA * BETA;
    (1.0 + factor) * precision * recall / (factor * precision + recall)
}
