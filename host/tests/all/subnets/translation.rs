//! The translation subnet (subnets/translation) with its real modules: the sandbox acceptance
//! (translators earn, the copier, the cache and the built-in adversaries do not), and its
//! scoring rules through the validator module's `score`, with crafted answers: chrF against
//! sacreBLEU's values, language identification on sentences outside the corpus, the copy
//! penalty, the speed rule and bad input.

use crate::common;

use std::sync::Arc;

use subnet_host::bindings::types::{
    EpochContext, MinerRequest, MinerResponse, Payload, ResponseStatus, Task, UidScore,
};
use subnet_host::caps::metagraph::MetagraphView;
use subnet_host::runtime::CallEnv;
use subnet_host::runtime::ValidatorModule;
use subnet_host::sandbox::SandboxConfig;

const MINILM: &str = "all-minilm-l6-v2";
const BUNDLE: &str = "subnets/translation";
/// The validator's task timeout, which its speed metric is relative to.
const TIMEOUT_MS: u32 = 3_000;

fn json(value: &serde_json::Value) -> Payload {
    common::json(value)
}

fn ctx() -> EpochContext {
    common::context(39)
}

fn env() -> CallEnv {
    CallEnv::new("translation", 1, Arc::new(MetagraphView::default()))
        .with_subnet(|s| s.caps.compute = Some(common::compute(&[MINILM])))
}

fn validator() -> ValidatorModule {
    let bundle = common::bundle(BUNDLE);
    common::runtime().load_validator("translation", &common::read(&bundle.validator)).unwrap()
}

fn task(lang: &str, sentences: &[&str], miners: usize) -> Task {
    let payload = json(&serde_json::json!({"source_lang": lang, "target_lang": "en", "sentences": sentences}));
    Task { id: "t".into(), miners: (1..=miners as u16).collect(), payload, timeout_ms: TIMEOUT_MS }
}

fn ok(uid: u16, latency_ms: u32, translations: &[&str]) -> MinerResponse {
    MinerResponse {
        uid,
        status: ResponseStatus::Ok,
        latency_ms,
        payload: Some(json(&serde_json::json!({ "translations": translations }))),
    }
}

fn metric(score: &UidScore, name: &str) -> f64 {
    score.metrics.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("no metric {name}: {score:?}")).value
}

/// Scores one hypothesis per uid (uids 1, 2, ...) for one corpus sentence.
async fn score_each(module: &ValidatorModule, lang: &str, source: &str, hypotheses: &[&str]) -> Vec<UidScore> {
    let responses: Vec<MinerResponse> =
        hypotheses.iter().enumerate().map(|(i, h)| ok(i as u16 + 1, 100, &[h])).collect();
    let scores = module.score(&env(), &ctx(), &task(lang, &[source], hypotheses.len()), &responses).await.unwrap();
    assert_eq!(scores.len(), hypotheses.len());
    scores
}

fn corpus(lang: &str) -> Vec<(String, String)> {
    let path = common::root().join(format!("{BUNDLE}/data/{lang}-en.tsv"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            assert_eq!(fields.len(), 3, "{l}");
            (fields[1].to_string(), fields[2].to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_pays_translators_and_not_copiers_or_caches() {
    let bundle = common::bundle(BUNDLE);
    assert_eq!(bundle.compute_models, vec![MINILM.to_string()]);
    let config = SandboxConfig { miners: 8, epochs: 3, seed: 0, ..Default::default() };
    let report = common::sandbox(&bundle, config.clone()).await;
    let last = report.epochs.last().unwrap();
    let mut roles: Vec<&str> = last.neurons.iter().filter(|n| n.kind == "miner").map(|n| n.role.as_str()).collect();
    roles.sort();
    assert_eq!(roles, ["cached", "copier", "honest", "honest", "honest", "honest", "lazy", "random"]);
    for n in last.neurons.iter().filter(|n| n.kind == "miner") {
        match n.role.as_str() {
            "honest" => assert!(n.weight > 0.15 && n.incentive > 0.15, "uid {}: {n:?}", n.uid),
            // A cached line can happen to translate the sentence asked; that is all it earns.
            "cached" => assert!(n.weight < 0.05, "cached uid {}: {n:?}", n.uid),
            _ => assert_eq!(n.weight, 0.0, "{} uid {}", n.role, n.uid),
        }
    }
    assert!(report.honest_miner_share() > 0.95, "{}", report.honest_miner_share());

    // Same seed, same report: nothing in the scores depends on timing or hash order.
    let again = common::sandbox(&bundle, config.clone()).await;
    assert_eq!(report.render(), again.render());
}

/// chrF2 values computed once with sacreBLEU 2.6.0 (`CHRF().sentence_score(hyp, [ref]).score`,
/// signature `nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no`), divided by 100.
/// A case: language, corpus source, its reference (for the record), `(hypothesis, chrF)`s.
type ChrfCase = (&'static str, &'static str, &'static str, &'static [(&'static str, f64)]);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chrf_matches_sacrebleu() {
    let module = validator();
    let cases: &[ChrfCase] = &[
        (
            "de",
            "Der Hund schläft im Garten.",
            "The dog is sleeping in the garden.",
            &[("The dog sleeps in the garden.", 62.22335748284483)],
        ),
        (
            "de",
            "Ich trinke jeden Morgen einen Kaffee.",
            "I drink a coffee every morning.",
            &[("I drink every tomorrow a coffee.", 47.52002812638984)],
        ),
        (
            "fr",
            "Peux-tu m'aider, s'il te plaît ?",
            "Can you help me, please?",
            &[("Can you me help, please?", 61.33083935328517)],
        ),
        ("es", "Me duele la cabeza.", "I have a headache.", &[("Hurts me the head.", 17.603785103785103)]),
        (
            "de",
            "Der Himmel ist blau.",
            "The sky is blue.",
            &[
                // Shorter than 4 characters: only orders 1 to 3 are effective.
                ("The", 19.552029864675692),
                // Whitespace of any kind, Python's U+001C..U+001F separators included, is removed.
                ("  The\tsky   is\u{a0}blue. ", 100.0),
                ("The\u{1c}sky is blue.", 100.0),
                ("xyz", 3.0303030303030307),
            ],
        ),
        (
            "es",
            "¿Cuánto cuesta esta camisa?",
            "How much does this shirt cost?",
            &[("How much costs this shirt?", 62.434411660468825)],
        ),
        (
            "de",
            "Ich danke dir für deine Hilfe.",
            "Thank you for your help.",
            &[("Ich danke dir für deine Hilfe.", 10.480454413703855)],
        ),
        ("fr", "Le repas est délicieux.", "The meal is delicious.", &[("Le repas est délicieux.", 16.998787398260493)]),
    ];
    for (lang, source, reference, hypotheses) in cases {
        assert!(corpus(lang).iter().any(|(s, r)| s == source && r == reference), "{source} is not in the corpus");
        let texts: Vec<&str> = hypotheses.iter().map(|(h, _)| *h).collect();
        let scores = score_each(&module, lang, source, &texts).await;
        for ((hypothesis, expected), score) in hypotheses.iter().zip(&scores) {
            let got = metric(score, "chrf");
            assert!((got - expected / 100.0).abs() < 1e-12, "{hypothesis:?} vs {reference:?}: {got} != {expected}/100");
        }
    }
}

/// Sentences written for this test, none of them in the corpus the identifier is trained on.
const HELD_OUT: &[(&str, &str)] = &[
    ("en", "My cousin works at the airport."),
    ("en", "Can I pay by card?"),
    ("en", "The soup needs more salt."),
    ("en", "They moved to Canada in 2019."),
    ("en", "Turn left at the traffic lights."),
    ("en", "Is this seat taken?"),
    ("en", "He never eats breakfast."),
    ("en", "Our neighbours bought a new television last week."),
    ("en", "Please remember to lock the back door."),
    ("en", "Good night."),
    ("de", "Mein Cousin arbeitet am Flughafen."),
    ("de", "Kann ich mit Karte bezahlen?"),
    ("de", "Die Suppe braucht mehr Salz."),
    ("de", "Sie sind 2019 nach Kanada gezogen."),
    ("de", "Biegen Sie an der Ampel links ab."),
    ("de", "Ist dieser Platz frei?"),
    ("de", "Gute Nacht."),
    ("fr", "Mon cousin travaille à l'aéroport."),
    ("fr", "Je peux payer par carte ?"),
    ("fr", "La soupe manque de sel."),
    ("fr", "Ils ont déménagé au Canada en 2019."),
    ("fr", "Tournez à gauche au feu rouge."),
    ("fr", "Cette place est-elle libre ?"),
    ("fr", "Bonne nuit."),
    ("es", "Mi primo trabaja en el aeropuerto."),
    ("es", "¿Puedo pagar con tarjeta?"),
    ("es", "A la sopa le falta sal."),
    ("es", "Se mudaron a Canadá en 2019."),
    ("es", "Gira a la izquierda en el semáforo."),
    ("es", "¿Está ocupado este asiento?"),
    ("es", "Buenas noches."),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn language_identification_tells_english_from_the_source_languages() {
    let module = validator();
    for lang in ["de", "fr", "es"] {
        for (source, reference) in corpus(lang) {
            assert!(!HELD_OUT.iter().any(|(_, s)| *s == source || *s == reference), "{source} is in the corpus");
        }
    }
    let texts: Vec<&str> = HELD_OUT.iter().map(|(_, s)| *s).collect();
    let scores = score_each(&module, "de", "Der Himmel ist blau.", &texts).await;
    for ((lang, text), score) in HELD_OUT.iter().zip(&scores) {
        let english = metric(score, "english");
        assert_eq!(english, if *lang == "en" { 1.0 } else { 0.0 }, "{lang}: {text}");
        if *lang != "en" {
            // An answer in the wrong language has no quality, whatever else it shares.
            assert_eq!(metric(score, "quality"), 0.0, "{text}");
        }
    }
}

fn ramp(x: f64, lo: f64, hi: f64) -> f64 {
    ((x - lo) / (hi - lo)).clamp(0.0, 1.0)
}

/// The documented quality rule of one sentence, from the metrics the validator reports.
fn expected_quality(score: &UidScore) -> f64 {
    let adequacy = ramp(0.5 * metric(score, "chrf") + 0.5 * metric(score, "similarity"), 0.35, 0.85);
    let copy_factor = ramp(0.8 - metric(score, "copy"), 0.0, 0.3);
    adequacy * copy_factor * metric(score, "english")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copying_the_source_costs_the_quality() {
    let module = validator();
    let source = "Meine Schwester wohnt in Berlin.";
    let hypotheses = [
        // Verbatim.
        source,
        // Half translated: 2 of its 4 word bigrams (`wohnt in`, `in berlin`) are the source's.
        "My sister wohnt in Berlin.",
        // The reference itself shares only the name's bigram, `in berlin`: 1 of 4.
        "My sister lives in Berlin.",
        // The source and one more word: 4 of 5 bigrams.
        "Meine Schwester wohnt in Berlin today.",
        // The source's words reordered: 3 of 4 bigrams.
        "In Berlin meine Schwester wohnt.",
        // A one-word answer taken from the source.
        "Berlin",
    ];
    let scores = score_each(&module, "de", source, &hypotheses).await;
    let copy: Vec<f64> = scores.iter().map(|s| metric(s, "copy")).collect();
    assert_eq!(copy, [1.0, 0.5, 0.25, 0.8, 0.75, 1.0]);
    for (hypothesis, score) in hypotheses.iter().zip(&scores) {
        let quality = metric(score, "quality");
        assert!((quality - expected_quality(score)).abs() < 1e-12, "{hypothesis}: {score:?}");
    }
    assert_eq!(metric(&scores[0], "quality"), 0.0);
    assert_eq!(metric(&scores[3], "quality"), 0.0);
    assert!(metric(&scores[2], "quality") > 0.99, "{:?}", scores[2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speed_counts_only_above_the_quality_floor() {
    let module = validator();
    let source = "Der Himmel ist blau.";
    let good = "The sky is blue.";
    let poor = "The meeting has been moved to next week.";
    let responses = [
        ok(1, 300, &[good]),
        ok(2, 2_700, &[good]),
        ok(3, 10_000, &[good]),
        ok(4, 300, &[poor]),
        ok(5, 2_700, &[poor]),
    ];
    let scores = module.score(&env(), &ctx(), &task("de", &[source], 5), &responses).await.unwrap();
    let score = |uid: u16| scores.iter().find(|s| s.uid == uid).unwrap();
    // The reference itself: quality 1; score = 0.9·quality + 0.1·(1 − latency / timeout).
    assert!((metric(score(1), "quality") - 1.0).abs() < 1e-6);
    assert!((score(1).score - (0.9 + 0.1 * 0.9)).abs() < 1e-6, "{:?}", score(1));
    assert!((score(2).score - (0.9 + 0.1 * 0.1)).abs() < 1e-6, "{:?}", score(2));
    assert_eq!(metric(score(3), "speed"), 0.0);
    assert!((score(3).score - 0.9).abs() < 1e-6);
    // Below the floor (0.3), speed earns nothing: fast garbage is still garbage.
    let poor_quality = metric(score(4), "quality");
    assert!(poor_quality < 0.3, "{:?}", score(4));
    assert!(metric(score(4), "speed") > metric(score(5), "speed"));
    assert_eq!(score(4).score, score(5).score);
    assert!((score(4).score - 0.9 * poor_quality).abs() < 1e-12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_answers_score_zero_without_failing_the_call() {
    let module = validator();
    let pairs = corpus("fr");
    let sources: Vec<&str> = pairs[..4].iter().map(|(s, _)| s.as_str()).collect();
    let refs: Vec<&str> = pairs[..4].iter().map(|(_, r)| r.as_str()).collect();
    let huge = "word ".repeat(2_000);
    let raw = |uid: u16, content_type: &str, body: &[u8]| MinerResponse {
        uid,
        status: ResponseStatus::Ok,
        latency_ms: 100,
        payload: Some(Payload { content_type: content_type.into(), body: body.to_vec() }),
    };
    let responses = vec![
        ok(1, 100, &refs[..2]),
        ok(2, 100, &[refs[0], refs[1], refs[2], refs[3], "extra", "extra"]),
        ok(3, 100, &[&huge, refs[1], refs[2], refs[3]]),
        ok(4, 100, &["", " ", "\n", ""]),
        MinerResponse { uid: 5, status: ResponseStatus::Timeout, latency_ms: TIMEOUT_MS, payload: None },
        raw(6, "application/json", b"12345"),
        raw(7, "text/plain", b"The cat is sleeping."),
        raw(8, "application/json", br#"{"translations": [1, 2, 3, 4]}"#),
        raw(9, "application/json", &[0xff, 0xfe, 0x00]),
    ];
    let scores = module.score(&env(), &ctx(), &task("fr", &sources, 9), &responses).await.unwrap();
    let quality = |uid: u16| metric(scores.iter().find(|s| s.uid == uid).unwrap(), "quality");
    assert!((quality(1) - 0.5).abs() < 1e-6, "two of four translated: {}", quality(1));
    assert!((quality(2) - 1.0).abs() < 1e-6, "extra translations are ignored: {}", quality(2));
    assert!((quality(3) - 0.75).abs() < 1e-6, "an over-long translation scores 0: {}", quality(3));
    for uid in 4..=9 {
        let s = scores.iter().find(|s| s.uid == uid).unwrap();
        assert_eq!((s.score, quality(uid)), (0.0, 0.0), "uid {uid}: {s:?}");
    }

    // A task the validator did not make is an error, not a guess.
    let foreign = task("fr", &["Ceci n'est pas une phrase du corpus."], 1);
    let err =
        module.score(&env(), &ctx(), &foreign, &[ok(1, 100, &["This is not a corpus sentence."])]).await.unwrap_err();
    assert!(err.to_string().contains("not a fr sentence of the corpus"), "{err}");
}

/// The bundle's miners over the whole corpus, four sentences a task, scored by the validator.
async fn corpus_metrics(miner: &str) -> Vec<UidScore> {
    let runtime = common::runtime();
    let bundle = common::bundle(BUNDLE);
    let (_, _, path) = bundle.miners.iter().find(|m| m.0 == miner).unwrap();
    let module = runtime.load_miner(miner, &common::read(path)).unwrap();
    let validator = validator();
    let mut scores = Vec::new();
    for lang in ["de", "fr", "es"] {
        for chunk in corpus(lang).chunks(4) {
            let sources: Vec<&str> = chunk.iter().map(|(s, _)| s.as_str()).collect();
            let task = task(lang, &sources, 1);
            let request = MinerRequest {
                task_id: task.id.clone(),
                netuid: 1,
                validator: "v".into(),
                payload: task.payload.clone(),
                timeout_ms: TIMEOUT_MS,
            };
            let payload = module.handle(&env(), &request).await.unwrap();
            let response =
                MinerResponse { uid: 1, status: ResponseStatus::Ok, latency_ms: 100, payload: Some(payload) };
            scores.extend(validator.score(&env(), &ctx(), &task, &[response]).await.unwrap());
        }
    }
    scores
}

fn mean(scores: &[UidScore], name: &str) -> f64 {
    scores.iter().map(|s| metric(s, name)).sum::<f64>() / scores.len() as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_miner_translates_well_but_not_perfectly() {
    let honest = corpus_metrics("honest").await;
    assert_eq!(honest.len(), 75);
    let (quality, chrf, similarity) = (mean(&honest, "quality"), mean(&honest, "chrf"), mean(&honest, "similarity"));
    eprintln!("reference miner on the corpus: quality {quality:.3}, chrF {chrf:.3}, similarity {similarity:.3}");
    assert!(quality > 0.7 && quality < 0.97, "quality {quality}");
    assert!(chrf > 0.55 && chrf < 0.9, "chrF {chrf}");
    assert!(similarity > 0.85, "similarity {similarity}");
    assert_eq!(mean(&honest, "english"), 1.0);
    assert!(mean(&honest, "copy") < 0.1);

    // The adversaries, on the same tasks: copies are worth nothing, cached lines next to nothing.
    let copier = corpus_metrics("copier").await;
    assert_eq!(mean(&copier, "quality"), 0.0);
    assert_eq!(mean(&copier, "copy"), 1.0);
    let cached = corpus_metrics("cached").await;
    eprintln!("cached miner on the corpus: quality {:.3}, chrF {:.3}", mean(&cached, "quality"), mean(&cached, "chrf"));
    assert_eq!(mean(&cached, "english"), 1.0);
    assert!(mean(&cached, "quality") < 0.05, "cached quality {}", mean(&cached, "quality"));
}
