//! The multimodal subnet (subnets/multimodal) with its real modules and the real
//! all-MiniLM-L6-v2 model: the sandbox acceptance run, the honest miner's vision pipeline on
//! pictures drawn here (not by the subnet's renderer), and the scoring rules (caption order,
//! exact answers, bad answers).

use crate::common;

use std::sync::Arc;

use subnet_host::bindings::types::{
    EpochContext, MinerRequest, MinerResponse, Payload, ResponseStatus, Task, UidScore,
};
use subnet_host::caps::kv::{KvStore, MemoryKv};
use subnet_host::runtime::CallEnv;
use subnet_host::runtime::{MinerModule, ValidatorModule};
use subnet_host::sandbox::SandboxConfig;

const MINILM: &str = "all-minilm-l6-v2";
const BUNDLE: &str = "subnets/multimodal";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_pays_miners_that_look_and_not_the_adversaries() {
    let bundle = common::bundle(BUNDLE);
    assert_eq!(bundle.compute_models, vec![MINILM.to_string()]);
    let config = SandboxConfig { miners: 8, epochs: 3, seed: 0, ..Default::default() };
    let report = common::sandbox(&bundle, config.clone()).await;
    let last = report.epochs.last().unwrap();
    let miners: Vec<_> = last.neurons.iter().filter(|n| n.kind == "miner").collect();
    let roles: Vec<&str> = miners.iter().map(|n| n.role.as_str()).collect();
    for role in ["honest", "lazy", "random", "echo", "generic"] {
        assert!(roles.contains(&role), "no {role} miner in {roles:?}");
    }
    let weakest_honest = miners.iter().filter(|n| n.role == "honest").map(|n| n.weight).fold(1.0, f64::min);
    assert!(weakest_honest > 0.2, "{miners:?}");
    for n in miners.iter().filter(|n| n.role != "honest") {
        assert!(n.weight < 0.1 * weakest_honest, "{} uid {} earns {}: {miners:?}", n.role, n.uid, n.weight);
    }
    assert!(report.honest_miner_share() > 0.95, "{}", report.honest_miner_share());
}

// ---- focused checks, calling the modules directly ----

struct Subnet {
    validator: ValidatorModule,
    honest: MinerModule,
    echo: MinerModule,
    generic: MinerModule,
    env: CallEnv,
    kv: Arc<MemoryKv>,
}

fn subnet() -> Subnet {
    let modules = common::modules(BUNDLE);
    let (env, kv) = common::module_env(BUNDLE);
    Subnet {
        honest: modules.miner("honest"),
        echo: modules.miner("echo"),
        generic: modules.miner("generic"),
        validator: modules.validator,
        env,
        kv,
    }
}

fn ctx(miners: u16) -> EpochContext {
    common::context(miners)
}

fn text(s: &str) -> Payload {
    common::text(s)
}

fn ok(uid: u16, answer: &str) -> MinerResponse {
    MinerResponse { uid, status: ResponseStatus::Ok, latency_ms: 10, payload: Some(text(answer)) }
}

fn question_of(task: &Task) -> String {
    let v: serde_json::Value = serde_json::from_slice(&task.payload.body).unwrap();
    v["question"].as_str().unwrap().to_string()
}

async fn ask(miner: &MinerModule, env: &CallEnv, payload: &Payload) -> String {
    let request = MinerRequest {
        task_id: "t".into(),
        netuid: 1,
        validator: "v".into(),
        payload: payload.clone(),
        timeout_ms: 8000,
    };
    String::from_utf8(miner.handle(env, &request).await.expect("miner answers").body).unwrap()
}

fn metric(score: &UidScore, name: &str) -> Option<f64> {
    score.metrics.iter().find(|m| m.name == name).map(|m| m.value)
}

/// Tasks of a few rounds (several seeds), with their question texts.
async fn tasks(s: &Subnet, rounds: u64) -> Vec<(Task, String)> {
    let mut out = Vec::new();
    for seed in 0..rounds {
        for task in s.validator.generate_tasks(&s.env.with_seed(seed), &ctx(8)).await.unwrap() {
            let q = question_of(&task);
            out.push((task, q));
        }
    }
    out
}

async fn score(s: &Subnet, task: &Task, answers: &[&str]) -> Vec<UidScore> {
    let responses: Vec<MinerResponse> = answers.iter().enumerate().map(|(i, a)| ok(i as u16 + 1, a)).collect();
    let aimed = Task { miners: (1..=answers.len() as u16).collect(), ..task.clone() };
    s.validator.score(&s.env, &ctx(8), &aimed, &responses).await.unwrap()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A picture drawn here with its own geometry (not the subnet's renderer): on grey, two
/// orange squares, a green disc and a purple triangle in the top half; two yellow 2:1 bars in
/// the bottom half; slightly off-palette colours, as a different painter would use.
fn picture() -> Vec<u8> {
    let (w, h) = (240u32, 200u32);
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    let mut put = |x: u32, y: u32, c: [u8; 3]| {
        let i = ((y * w + x) * 3) as usize;
        rgb[i..i + 3].copy_from_slice(&c);
    };
    let (orange, green, purple, yellow) = ([250, 135, 40], [50, 160, 80], [135, 65, 170], [235, 210, 50]);
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
            let c = if (20..60).contains(&x) && (20..60).contains(&y) || (70..110).contains(&x) && (30..70).contains(&y)
            {
                orange
            } else if (fx - 150.0).powi(2) + (fy - 45.0).powi(2) <= 22.0f64.powi(2) {
                green
            } else if (25.0..85.0).contains(&fy) && (fx - 205.0).abs() <= (fy - 25.0) / 60.0 * 25.0 {
                purple
            } else if (40..100).contains(&x) && (130..160).contains(&y)
                || (140..200).contains(&x) && (125..155).contains(&y)
            {
                yellow
            } else {
                [125, 128, 131]
            };
            put(x, y, c);
        }
    }
    common::encode_png(w, h, &rgb)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_honest_miner_reads_shapes_counts_and_colours_from_pixels() {
    let s = subnet();
    let image = base64(&picture());
    let payload = |question: &str| Payload {
        content_type: "application/json".into(),
        body: serde_json::json!({"ticket": 1, "question": question, "image_type": "image/png", "image": image})
            .to_string()
            .into_bytes(),
    };
    let expect = [
        ("How many squares are there?", "There are two squares."),
        ("How many shapes are there in total?", "There are six shapes."),
        ("How many yellow shapes are there?", "There are two yellow shapes."),
        ("How many circles are there?", "There is one circle."),
        ("How many red shapes are there?", "There are no red shapes."),
        ("What colour is the circle?", "The circle is green."),
        ("What colour is the triangle?", "The triangle is purple."),
        ("What shape is the orange object?", "The orange object is a square."),
        ("What shape is the yellow object?", "The yellow object is a rectangle."),
    ];
    for (question, answer) in expect {
        assert_eq!(ask(&s.honest, &s.env, &payload(question)).await, answer, "{question}");
    }
    // Four kinds of object: not a scene of the grammar, so the caption lists what it found.
    let caption = ask(&s.honest, &s.env, &payload("Describe the image in one sentence.")).await;
    for part in [
        "two large orange squares",
        "one large green circle",
        "one large purple triangle",
        "two large yellow rectangles",
        "grey background",
    ] {
        assert!(caption.to_lowercase().contains(part), "`{part}` missing from: {caption}");
    }
    // Garbage in, a refusal out (not a trap).
    let err = s
        .honest
        .handle(
            &s.env,
            &MinerRequest { task_id: "t".into(), netuid: 1, validator: "v".into(), payload: Payload { content_type: "application/json".into(), body: br#"{"ticket":1,"question":"How many circles are there?","image_type":"image/png","image":"iVBORw0KGgo="}"#.to_vec() }, timeout_ms: 8000 },
        )
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("panicked"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captions_score_right_above_partly_right_above_wrong() {
    let s = subnet();
    let all = tasks(&s, 4).await;
    let captions: Vec<&(Task, String)> = all.iter().filter(|(_, q)| q.starts_with("Describe")).collect();
    assert!(captions.len() >= 3, "{} caption tasks", captions.len());
    let mut honest_captions = Vec::new();
    for (task, _) in &captions {
        honest_captions.push(ask(&s.honest, &s.env, &task.payload).await);
    }
    const COLOURS: [&str; 6] = ["red", "orange", "yellow", "green", "blue", "purple"];
    for (i, (task, _)) in captions.iter().enumerate() {
        let right = &honest_captions[i];
        let lower = right.to_lowercase();
        // One detail wrong: the first colour swapped for one the caption does not use.
        let used = COLOURS.iter().find(|c| lower.contains(*c)).unwrap();
        let unused = COLOURS.iter().find(|c| !lower.contains(*c)).unwrap();
        let partly = right.replacen(used, unused, 1);
        // Another picture's caption: the one sharing the fewest words with this one.
        let words = |t: &str| {
            t.to_lowercase()
                .split(|c: char| !c.is_alphanumeric())
                .map(str::to_owned)
                .collect::<std::collections::BTreeSet<_>>()
        };
        let wrong = honest_captions
            .iter()
            .filter(|c| *c != right)
            .min_by_key(|c| words(c).intersection(&words(right)).count())
            .unwrap();
        let echo = ask(&s.echo, &s.env, &task.payload).await;
        let generic = ask(&s.generic, &s.env, &task.payload).await;
        let scores = score(&s, task, &[right, &partly, wrong, &echo, &generic]).await;
        let v: Vec<f64> = scores.iter().map(|s| s.score).collect();
        assert!(v[0] > 0.99, "right `{right}`: {v:?}");
        assert!(
            v[0] > v[1] + 0.2 && v[1] > v[2],
            "right > partly > wrong fails for `{right}` / `{partly}` / `{wrong}`: {v:?}"
        );
        assert!(v[3] < 0.05 && v[4] < 0.05, "echo and generic: {v:?}");
        assert_eq!(metric(&scores[0], "agreement").map(|a| (a * 1000.0).round()), Some(1000.0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_and_colour_answers_are_checked_exactly() {
    let s = subnet();
    let all = tasks(&s, 3).await;
    let mut counts = 0;
    let mut colours = 0;
    for (task, question) in &all {
        let right = ask(&s.honest, &s.env, &task.payload).await;
        if question.starts_with("How many") {
            counts += 1;
            let words: Vec<&str> = right.split_whitespace().collect();
            // "There are two circles." / "There is one circle." / "There are no circles."
            let number = words[2];
            let other = if number == "three" { "four" } else { "three" };
            let wrong = right.replacen(number, other, 1);
            let hedge = "one, two or three".to_string();
            let digit = match number {
                "no" => "0",
                "one" => "1",
                "two" => "2",
                "three" => "3",
                "four" => "4",
                "five" => "5",
                "six" => "6",
                _ => "7",
            };
            let echo = ask(&s.echo, &s.env, &task.payload).await;
            let scores = score(&s, task, &[&right, digit, &wrong, &hedge, &echo]).await;
            let exact: Vec<Option<f64>> = scores.iter().map(|s| metric(s, "exact")).collect();
            assert_eq!(exact, vec![Some(1.0), Some(1.0), Some(0.0), Some(0.0), Some(0.0)], "{question} / {right}");
            assert!(scores[0].score > 0.99, "{question}: {scores:?}");
            assert!(scores[1].score >= 0.5, "a bare right number keeps the exact half: {scores:?}");
            for s in &scores[2..] {
                assert!(s.score < 0.25, "{question}: uid {} {s:?}", s.uid);
            }
        } else if question.starts_with("What colour") {
            colours += 1;
            let colour = right.trim_end_matches('.').rsplit(' ').next().unwrap().to_string();
            let other = if colour == "blue" { "red" } else { "blue" };
            let wrong = right.replace(&colour, other);
            let both = format!("{colour} or {other}");
            let scores = score(&s, task, &[&right, &colour, &wrong, &both]).await;
            let exact: Vec<Option<f64>> = scores.iter().map(|s| metric(s, "exact")).collect();
            assert_eq!(exact, vec![Some(1.0), Some(1.0), Some(0.0), Some(0.0)], "{question} / {right}");
            assert!(scores[0].score > 0.99 && scores[1].score >= 0.5, "{scores:?}");
            assert!(scores[2].score < 0.5 && scores[3].score < 0.5, "{scores:?}");
            assert!(scores[2].score < scores[1].score, "{scores:?}");
        }
    }
    assert!(counts >= 3 && colours >= 1, "{counts} count and {colours} colour questions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_answers_score_zero_and_unknown_tasks_are_errors() {
    let s = subnet();
    let all = tasks(&s, 1).await;
    let (task, _) = &all[0];
    let long = "red ".repeat(200);
    let responses = vec![
        ok(1, ""),
        ok(2, "   "),
        ok(3, &long),
        MinerResponse {
            uid: 4,
            status: ResponseStatus::Ok,
            latency_ms: 10,
            payload: Some(Payload { content_type: "text/plain".into(), body: vec![0xFF, 0xFE, 0x80] }),
        },
        MinerResponse { uid: 5, status: ResponseStatus::Timeout, latency_ms: 8000, payload: None },
    ];
    let aimed = Task { miners: (1..=5).collect(), ..task.clone() };
    let scores = s.validator.score(&s.env, &ctx(8), &aimed, &responses).await.unwrap();
    assert_eq!(scores.iter().map(|s| s.score).collect::<Vec<_>>(), vec![0.0; 5], "{scores:?}");

    // The reward clears the round's task records; a task scored after that is unknown.
    assert!(!s.kv.keys("task/", 100).unwrap().is_empty());
    s.validator.reward(&s.env, &ctx(8), &[], &[]).await.unwrap();
    assert!(s.kv.keys("task/", 100).unwrap().is_empty());
    let err = s.validator.score(&s.env, &ctx(8), &aimed, &responses).await.unwrap_err();
    assert!(err.to_string().contains("no record of task"), "{err}");

    // Without a kv store the validator says why it cannot make tasks.
    let no_store = s.env.with_subnet(|s| s.caps.kv = None);
    let err = s.validator.generate_tasks(&no_store, &ctx(8)).await.unwrap_err();
    assert!(err.to_string().contains("kv store"), "{err}");
}
