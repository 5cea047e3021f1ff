//! Translation-subnet reference miner: German, French and Spanish to English with a small
//! bundled phrase table (`data/*.tsv`) and a handful of word-order rules.
//!
//! It is deliberately a weak translator: word by word, with phrases matched first (longest
//! first), then these rules:
//! - French and Spanish adjectives after a noun move in front of it (`chat noir` → `black cat`);
//! - Spanish verb forms without a subject get their pronoun (`tengo` → `I have`) when no noun or
//!   pronoun came before them in the sentence;
//! - French `ne … pas` and Spanish `no` before a verb become English negation with do-support
//!   (`il ne boit pas` → `he does not drink`);
//! - a German separable-verb particle at the end of a sentence is dropped (`kommt … an`).
//!
//! Words the table lacks are kept as they are (names, numbers). The result is readable English
//! that scores well against the references, but not perfectly: tense, articles and German word
//! order stay literal. The table never holds a whole corpus sentence or its reference.
//!
//! Failure modes: a task in another language, or bigger than [`MAX_SENTENCES`] sentences of
//! [`MAX_CHARS`] characters, is refused with an error (the validator sees `refused`).
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use subnet_sdk::prelude::*;

/// Most sentences this miner translates in one task.
const MAX_SENTENCES: usize = 64;
/// Longest sentence it accepts, in characters.
const MAX_CHARS: usize = 2_000;
/// Longest phrase in the tables, in tokens.
const MAX_PHRASE: usize = 4;

#[derive(Serialize, Deserialize)]
struct TranslationTask {
    source_lang: String,
    #[allow(dead_code)]
    target_lang: String,
    sentences: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct TranslationAnswer {
    translations: Vec<String>,
}

/// What a gloss says about its word, beyond the English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    None,
    Noun,
    Adjective,
    /// A subject pronoun.
    Pronoun,
    /// A Spanish verb form whose subject is left out; the English pronoun to add.
    Subject(&'static str),
    /// French `ne`/`n'`: dropped, but marks the verb after it as negated.
    Neg,
    /// French `pas`: the `not` of `ne … pas`.
    Not,
    /// Spanish `no` before a verb.
    NegBefore,
    Punct,
}

struct Gloss {
    english: String,
    tag: Tag,
}

struct Table {
    words: HashMap<String, Gloss>,
    phrases: HashMap<String, Gloss>,
}

fn parse_tag(tag: &str) -> Tag {
    match tag {
        "N" => Tag::Noun,
        "A" => Tag::Adjective,
        "PRO" => Tag::Pronoun,
        "NEG" => Tag::Neg,
        "@I" => Tag::Subject("I"),
        "@we" => Tag::Subject("we"),
        _ => Tag::None,
    }
}

fn load_table(lang: &str, text: &str) -> Table {
    let mut table = Table { words: HashMap::new(), phrases: HashMap::new() };
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split('\t');
        let (Some(source), Some(english)) = (fields.next(), fields.next()) else {
            continue;
        };
        let mut tag = parse_tag(fields.next().unwrap_or(""));
        let english = if english == "-" { String::new() } else { english.to_string() };
        // The negators that are plain words in the table act on the verb next to them.
        match (lang, source) {
            ("fr", "pas") => tag = Tag::Not,
            ("es", "no") => tag = Tag::NegBefore,
            _ => {}
        }
        let gloss = Gloss { english, tag };
        if source.contains(' ') {
            table.phrases.insert(source.to_string(), gloss);
        } else {
            table.words.insert(source.to_string(), gloss);
        }
    }
    table
}

fn table_for(lang: &str) -> Option<Table> {
    let text = match lang {
        "de" => include_str!("../data/de.tsv"),
        "fr" => include_str!("../data/fr.tsv"),
        "es" => include_str!("../data/es.tsv"),
        _ => return None,
    };
    Some(load_table(lang, text))
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Punct(char),
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '\'' || c == '-'
}

/// Splits a sentence into words and punctuation; French elisions (`l'eau`) become two words
/// (`l'`, `eau`) unless the table knows the whole word (`aujourd'hui`).
fn tokenize(sentence: &str, table: &Table) -> Vec<Token> {
    let normalised = sentence.replace('’', "'");
    let mut tokens = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, tokens: &mut Vec<Token>| {
        let w = std::mem::take(word);
        let w = w.trim_matches(|c| c == '\'' || c == '-').to_string();
        if w.is_empty() {
            return;
        }
        let lower = w.to_lowercase();
        if !table.words.contains_key(&lower)
            && let Some(at) = lower.find('\'')
            && at > 0
            && at <= 3
            && at + 1 < w.len()
        {
            tokens.push(Token::Word(w[..=at].to_string()));
            tokens.push(Token::Word(w[at + 1..].to_string()));
            return;
        }
        tokens.push(Token::Word(w));
    };
    for c in normalised.chars() {
        if is_word_char(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut tokens);
            if !c.is_whitespace() {
                tokens.push(Token::Punct(c));
            }
        }
    }
    flush(&mut word, &mut tokens);
    tokens
}

/// One output item: the English, its tag, and the source word it came from.
#[derive(Debug, Clone)]
struct Item {
    english: String,
    tag: Tag,
    source: String,
}

fn gloss_tokens(tokens: &[Token], table: &Table) -> Vec<Item> {
    let mut items = Vec::new();
    let mut i = 0;
    'outer: while i < tokens.len() {
        let word = match &tokens[i] {
            Token::Punct(c) => {
                items.push(Item { english: c.to_string(), tag: Tag::Punct, source: c.to_string() });
                i += 1;
                continue;
            }
            Token::Word(w) => w,
        };
        for len in (2..=MAX_PHRASE).rev() {
            let Some(span) = tokens.get(i..i + len) else { continue };
            let words: Option<Vec<String>> = span
                .iter()
                .map(|t| match t {
                    Token::Word(w) => Some(w.to_lowercase()),
                    Token::Punct(_) => None,
                })
                .collect();
            let Some(words) = words else { continue };
            if let Some(g) = table.phrases.get(&words.join(" ")) {
                items.push(Item { english: g.english.clone(), tag: g.tag, source: words.join(" ") });
                i += len;
                continue 'outer;
            }
        }
        // A capitalised entry (German nouns) matches only that spelling; then any case.
        let lower = word.to_lowercase();
        let gloss = if word.starts_with(char::is_uppercase) { table.words.get(word.as_str()) } else { None }
            .or_else(|| table.words.get(&lower));
        match gloss {
            Some(g) => items.push(Item { english: g.english.clone(), tag: g.tag, source: lower }),
            None => items.push(Item { english: word.clone(), tag: Tag::None, source: lower }),
        }
        i += 1;
    }
    items
}

/// English negation of a verb gloss, with do-support: `drinks` → `does not drink`,
/// `is` → `is not`, `understand` → `do not understand`.
fn negate(verb: &str) -> String {
    let (head, rest) = match verb.split_once(' ') {
        Some((h, r)) => (h, format!(" {r}")),
        None => (verb, String::new()),
    };
    match head {
        "am" | "is" | "are" | "was" | "were" | "can" | "would" | "will" => format!("{head} not{rest}"),
        "has" => format!("does not have{rest}"),
        h if h.ends_with("ies") => format!("does not {}y{rest}", &h[..h.len() - 3]),
        h if ["ches", "shes", "sses", "xes"].iter().any(|s| h.ends_with(s)) => {
            format!("does not {}{rest}", &h[..h.len() - 2])
        }
        h if h.ends_with('s') && !h.ends_with("ss") && h.len() > 2 => {
            format!("does not {}{rest}", &h[..h.len() - 1])
        }
        _ => format!("do not {verb}"),
    }
}

/// Words a German separable verb leaves at the end of its clause.
const SEPARABLE_PARTICLES: &[&str] = &["an", "auf", "aus", "ein", "mit", "ab", "vor", "zu", "zurück", "los"];

fn apply_rules(lang: &str, mut items: Vec<Item>) -> Vec<Item> {
    // Spanish pronoun drop: a verb form with no subject before it in its sentence gets one.
    if lang == "es" {
        let mut out: Vec<Item> = Vec::new();
        let mut has_subject = false;
        for item in items {
            match item.tag {
                Tag::Punct if matches!(item.english.as_str(), "." | "?" | "!" | ";") => has_subject = false,
                Tag::Noun | Tag::Pronoun => has_subject = true,
                Tag::Subject(pronoun) if !has_subject => {
                    // Before a `no` that negates this verb, so `no tengo` → `I do not have`.
                    let at =
                        if out.last().is_some_and(|i| i.tag == Tag::NegBefore) { out.len() - 1 } else { out.len() };
                    out.insert(at, Item { english: pronoun.to_string(), tag: Tag::Pronoun, source: String::new() });
                    has_subject = true;
                }
                _ => {}
            }
            out.push(item);
        }
        items = out;
    }

    // Negation: French `ne V pas`, Spanish `no V`.
    let mut out: Vec<Item> = Vec::new();
    let mut i = 0;
    while i < items.len() {
        let item = &items[i];
        match item.tag {
            Tag::Neg => {
                if let (Some(verb), Some(not)) = (items.get(i + 1), items.get(i + 2))
                    && not.tag == Tag::Not
                    && verb.tag != Tag::Punct
                {
                    out.push(Item { english: negate(&verb.english), ..verb.clone() });
                    i += 3;
                    continue;
                }
                // A lone `ne`: nothing to say.
                i += 1;
            }
            Tag::NegBefore => {
                if let Some(verb) = items.get(i + 1)
                    && matches!(verb.tag, Tag::None | Tag::Subject(_))
                {
                    out.push(Item { english: negate(&verb.english), ..verb.clone() });
                    i += 2;
                    continue;
                }
                out.push(item.clone());
                i += 1;
            }
            _ => {
                out.push(item.clone());
                i += 1;
            }
        }
    }
    items = out;

    // Romance adjective order: noun + adjective → adjective + noun.
    if lang == "fr" || lang == "es" {
        let mut i = 0;
        while i + 1 < items.len() {
            if items[i].tag == Tag::Noun && items[i + 1].tag == Tag::Adjective {
                items.swap(i, i + 1);
                i += 2;
            } else {
                i += 1;
            }
        }
    }

    // German separable verbs: `Der Zug kommt um acht Uhr an.` loses the final `an`.
    if lang == "de" {
        let last_word = items.iter().rposition(|i| i.tag != Tag::Punct);
        let words = items.iter().filter(|i| i.tag != Tag::Punct).count();
        if let Some(at) = last_word
            && words >= 4
            && SEPARABLE_PARTICLES.contains(&items[at].source.as_str())
        {
            items.remove(at);
        }
    }
    items
}

fn render(items: &[Item]) -> String {
    let mut text = String::new();
    for item in items {
        if item.english.is_empty() {
            continue;
        }
        match item.tag {
            Tag::Punct if matches!(item.english.as_str(), "¿" | "¡") => {}
            Tag::Punct => text.push_str(&item.english),
            _ => {
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(&item.english);
            }
        }
    }
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

fn translate(lang: &str, table: &Table, sentence: &str) -> String {
    let tokens = tokenize(sentence, table);
    let items = gloss_tokens(&tokens, table);
    render(&apply_rules(lang, items))
}

struct PhraseTableMiner;

impl Miner for PhraseTableMiner {
    type Task = Json<TranslationTask>;
    type Answer = Json<TranslationAnswer>;

    fn answer(_request: &MinerRequest, task: Json<TranslationTask>) -> Result<Json<TranslationAnswer>, String> {
        let task = task.0;
        if task.sentences.len() > MAX_SENTENCES {
            return Err(format!("{} sentences; this miner takes at most {MAX_SENTENCES}", task.sentences.len()));
        }
        if task.sentences.iter().any(|s| s.chars().count() > MAX_CHARS) {
            return Err(format!("a sentence is longer than {MAX_CHARS} characters"));
        }
        let table = table_for(&task.source_lang)
            .ok_or_else(|| format!("source language `{}` is not one of de, fr, es", task.source_lang))?;
        let translations = task.sentences.iter().map(|s| translate(&task.source_lang, &table, s)).collect();
        Ok(Json(TranslationAnswer { translations }))
    }
}

export_miner!(PhraseTableMiner);
